//! `manifest.json`: round trip, atomic replacement and errors that name the file.

mod common;

use common::TempDir;
use laminar_record::{
    MANIFEST_FILE_NAME, Manifest, OutputFiles, PopulationEntry, RecordError, ReportEntry, Segment, VERSION,
};

fn sample() -> Manifest {
    let mut extra = serde_json::Map::new();
    extra.insert("plasticity".to_owned(), serde_json::json!({ "rule": "stdp", "tau_plus_ms": 20.0 }));
    Manifest {
        format_version: VERSION,
        laminar_version: "0.1.0".to_owned(),
        model_path: "models/brunel.toml".to_owned(),
        model_text: "[network]\nname = \"brunel\" # ünïcode survives\n".to_owned(),
        seed: u64::MAX - 7,
        resolution_ms: 0.1,
        duration_ms: 1000.0,
        simulated_ms: 412.3,
        completed: false,
        stopped_early_reason: Some("interrupted (Ctrl-C)".to_owned()),
        threads: 2,
        populations: vec![
            PopulationEntry {
                name: "exc".to_owned(),
                model: "iaf_psc_alpha".to_owned(),
                size: 800,
                first_gid: 0,
                placement: None,
            },
            PopulationEntry {
                name: "inh".to_owned(),
                model: "iaf_psc_alpha".to_owned(),
                size: 200,
                first_gid: 800,
                placement: None,
            },
        ],
        files: OutputFiles {
            spikes: Some("spikes.h5".to_owned()),
            reports: vec![ReportEntry {
                variable: "V_m".to_owned(),
                file: "V_m.h5".to_owned(),
                population: "exc".to_owned(),
                units: "mV".to_owned(),
                interval_ms: 0.5,
            }],
            weights: None,
            nodes: None,
        },
        segments: vec![
            Segment {
                from_ms: 0.0,
                to_ms: Some(300.0),
                threads: 2,
                started: 1_718_000_000,
                ended: Some(1_718_000_030),
                outcome: Some("checkpointed".to_owned()),
            },
            Segment {
                from_ms: 300.0,
                to_ms: Some(412.3),
                threads: 4,
                started: 1_718_000_100,
                ended: Some(1_718_000_110),
                outcome: Some("interrupted (Ctrl-C)".to_owned()),
            },
        ],
        extra,
    }
}

#[test]
fn manifest_round_trips_and_replaces_the_old_one() {
    let dir = TempDir::new("manifest-round-trip");
    let mut manifest = sample();
    manifest.write(dir.path()).unwrap();
    assert_eq!(Manifest::read(dir.path()).unwrap(), manifest);

    manifest.completed = true;
    manifest.stopped_early_reason = None;
    manifest.simulated_ms = 1000.0;
    manifest.write(dir.path()).unwrap();
    assert_eq!(Manifest::read(dir.path()).unwrap(), manifest);
    // Only the manifest is left: the temporary file was renamed, not copied.
    let names: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, vec![MANIFEST_FILE_NAME.to_owned()]);

    // Plain JSON that any tool can read, with the model text verbatim.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(MANIFEST_FILE_NAME)).unwrap()).unwrap();
    assert_eq!(json["model_text"], manifest.model_text.as_str());
    assert_eq!(json["seed"], u64::MAX - 7);
    assert_eq!(json["files"]["reports"][0]["interval_ms"], 0.5);
    assert_eq!(json["extra"]["plasticity"]["rule"], "stdp");
    assert_eq!(json["segments"][1]["from_ms"], 300.0);
    assert_eq!(json["segments"][1]["outcome"], "interrupted (Ctrl-C)");
}

/// `segments` is an addition: manifests written before it read as having none, and a manifest
/// without segments is written as before (no key), so older readers see no change.
#[test]
fn manifests_without_segments_read_and_write_as_before() {
    let dir = TempDir::new("manifest-no-segments");
    let mut manifest = sample();
    manifest.segments.clear();
    manifest.write(dir.path()).unwrap();
    let text = std::fs::read_to_string(dir.join(MANIFEST_FILE_NAME)).unwrap();
    assert!(!text.contains("segments"), "{text}");
    assert_eq!(Manifest::read(dir.path()).unwrap(), manifest);

    // A segment that has not finished nor written a checkpoint has nulls, not missing keys.
    manifest.segments.push(Segment::starting(0.0, 2));
    manifest.write(dir.path()).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(MANIFEST_FILE_NAME)).unwrap()).unwrap();
    let segment = &json["segments"][0];
    assert!(segment["to_ms"].is_null() && segment["ended"].is_null() && segment["outcome"].is_null(), "{segment}");
    assert!(segment["started"].as_u64().unwrap() > 1_600_000_000, "{segment}");
    assert_eq!(Manifest::read(dir.path()).unwrap(), manifest);
}

#[test]
fn missing_and_malformed_manifests_are_reported_with_their_path() {
    let dir = TempDir::new("manifest-errors");
    let error = Manifest::read(dir.path()).unwrap_err();
    assert!(matches!(error, RecordError::Io { .. }));
    assert!(error.to_string().contains(MANIFEST_FILE_NAME), "{error}");

    std::fs::write(dir.join(MANIFEST_FILE_NAME), "{\"laminar_version\": 3}").unwrap();
    let error = Manifest::read(dir.path()).unwrap_err();
    assert!(matches!(error, RecordError::Json { .. }));
    assert!(error.to_string().contains(MANIFEST_FILE_NAME), "{error}");

    let error = sample().write(&dir.join("no-such-subdirectory")).unwrap_err();
    assert!(matches!(error, RecordError::Io { .. }));
    assert!(error.to_string().contains("no-such-subdirectory"), "{error}");
}
