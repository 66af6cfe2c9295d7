//! End to end through the `laminar` binary and the library: every shipped model file runs and its
//! recording reads back with h5py and libsonata; an interrupted run (a real SIGINT) leaves a
//! valid recording that says it stopped early; bad model files are refused with the file, line
//! and field, and a non-zero exit status — never a panic.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use laminar_cli::run::{RunOptions, run};
use laminar_record::Manifest;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn temp_dir(label: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("laminar-e2e-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn readback(dir: &Path) {
    let out = laminar_record::readback::run(dir).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "readback of {} failed:\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every model file under `models/` (and its subdirectories, such as `models/columns/`).
fn shipped_models() -> Vec<PathBuf> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for path in std::fs::read_dir(dir).expect("models/").filter_map(|e| e.ok().map(|e| e.path())) {
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|x| x == "toml") {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("models"), &mut files);
    files.sort();
    files
}

#[test]
fn every_shipped_model_runs_and_reads_back() {
    let models = shipped_models();
    assert!(models.len() >= 3, "models/ should ship cuba, coba and demo");
    for model in models {
        let label = model.file_stem().and_then(|s| s.to_str()).unwrap_or("model").to_string();
        if label == "laminar_column" {
            continue; // run, checked and read back by `reference_column_runs_stably`
        }
        let dir = temp_dir(&label);
        // A short run: the full durations are for users and benchmarks.
        // The full-scale Potjans-Diesmann microcircuit (3e8 synapses) is too big for a test.
        let overrides = if label == "potjans_diesmann" {
            vec!["n_scaling=0.05".to_string(), "k_scaling=0.05".to_string()]
        } else {
            Vec::new()
        };
        let options = RunOptions { duration_ms: Some(200.0), quiet: true, overrides, ..Default::default() };
        let summary = run(&model, &dir, &options, Arc::new(AtomicBool::new(false)))
            .unwrap_or_else(|e| panic!("{}: {e:#}", model.display()));
        assert!(summary.completed);
        let m = Manifest::read(&dir).expect("manifest");
        assert!(m.completed);
        assert!((m.simulated_ms - 200.0).abs() < 1e-9);
        let spikes = laminar_record::read_spikes(&dir.join(m.files.spikes.as_deref().expect("spikes recorded")))
            .expect("spikes");
        assert!(spikes.iter().map(|p| p.timestamps.len()).sum::<usize>() > 0, "{label}: no spikes in 200 ms");
        readback(&dir);
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn cuba_rate_matches_nest() {
    // NEST 3.10 gives ≈ 5.3 Hz for CUBA; laminar draws its own connectivity, so the rate over 1 s
    // must agree statistically, not exactly.
    let dir = temp_dir("cuba-rate");
    let options = RunOptions { duration_ms: Some(1000.0), quiet: true, ..Default::default() };
    run(&root().join("models/cuba.toml"), &dir, &options, Arc::new(AtomicBool::new(false))).expect("cuba");
    let spikes = laminar_record::read_spikes(&dir.join("spikes.h5")).expect("spikes");
    let total: usize = spikes.iter().map(|p| p.timestamps.len()).sum();
    let rate = total as f64 / 4000.0;
    assert!((4.0..7.0).contains(&rate), "CUBA mean rate {rate} Hz, NEST gives ≈ 5.3 Hz");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sigint_stops_at_a_step_boundary_and_leaves_a_valid_recording() {
    let dir = temp_dir("sigint");
    let mut child = Command::new(env!("CARGO_BIN_EXE_laminar"))
        .args(["run", "models/cuba.toml", "--out"])
        .arg(&dir)
        .args(["--duration", "600000", "--quiet"])
        .current_dir(root())
        .spawn()
        .expect("start laminar");
    // Wait until the run is under way (the manifest is written before the first step).
    for _ in 0..200 {
        if dir.join("manifest.json").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(700));
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let code = child.wait().expect("wait").code();
    assert_eq!(code, Some(130), "an interrupted run exits with 130");
    let m = Manifest::read(&dir).expect("manifest");
    assert!(!m.completed);
    assert!(m.stopped_early_reason.as_deref().unwrap_or("").contains("interrupted"));
    assert!(m.simulated_ms > 0.0 && m.simulated_ms < 600000.0);
    let spikes = laminar_record::read_spikes(&dir.join("spikes.h5")).expect("spikes");
    let last = spikes.iter().filter_map(|p| p.timestamps.last().copied()).fold(0.0, f64::max);
    assert!(last <= m.simulated_ms + 1e-9, "spike at {last} ms after the end {} ms", m.simulated_ms);
    readback(&dir);
    std::fs::remove_dir_all(&dir).ok();
}

fn laminar(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_laminar")).args(args).current_dir(root()).output().expect("laminar");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("panicked"), "laminar panicked: {text}");
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn bad_model_files_are_refused_with_file_line_and_field() {
    let dir = temp_dir("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read_to_string(root().join("models/demo.toml")).expect("demo.toml");
    let cases: Vec<(&str, String, &str)> = vec![
        ("syntax", "[simulation\nresolution_ms = 0.1\n".to_string(), ":1"),
        ("typo", good.replacen("[simulation]", "[simulation]\nresolutoin_ms = 0.1", 1), "resolution_ms"),
        (
            "negative tau",
            format!("{good}\n[populations.extra]\nmodel = \"iaf_psc_exp\"\nsize = 3\nparams = {{ tau_m = -5.0 }}\n"),
            "tau_m",
        ),
        ("unknown model", format!("{good}\n[populations.extra]\nmodel = \"iaf_psc_exq\"\nsize = 3\n"), "iaf_psc_exp"),
    ];
    for (label, text, needle) in cases {
        let file = dir.join(format!("{}.toml", label.replace(' ', "_")));
        std::fs::write(&file, &text).unwrap();
        let (code, out) = laminar(&["validate", file.to_str().unwrap()]);
        assert_ne!(code, 0, "{label}: accepted:\n{out}");
        assert!(out.contains(file.file_name().unwrap().to_str().unwrap()), "{label}: no file name in: {out}");
        assert!(out.contains(needle), "{label}: expected '{needle}' in: {out}");
        let line_given = out.lines().any(|l| l.contains(".toml:"));
        assert!(line_given, "{label}: no line number in: {out}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn inspect_and_verify_commands() {
    let dir = temp_dir("verify-cli");
    let case = root().join("../shared/reference/nest/iaf_psc_delta.json");
    let (code, out) = laminar(&["verify", case.to_str().unwrap(), "--out", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("PASS"));
    let (code, out) = laminar(&["inspect", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("neuron") && out.contains("V_m"), "{out}");
    readback(&dir);
    // Several cases at once, with plastic weights written: every one must pass, and the weights
    // file must read back in Python.
    std::fs::remove_dir_all(&dir).ok();
    let stdp = root().join("../shared/reference/nest/stdp_synapse.json");
    let (code, out) = laminar(&["verify", stdp.to_str().unwrap(), "--out", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    readback(&dir);
    let missing = dir.join("no_such_case.json");
    let (code, out) = laminar(&["verify", case.to_str().unwrap(), missing.to_str().unwrap()]);
    assert_ne!(code, 0, "a missing case must fail the command: {out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn reference_column_runs_stably() {
    // models/columns/laminar_column.toml states its regime: every cortical population of every
    // column at 0.5-40 Hz, every thalamic population at 1-60 Hz, no silent or runaway one.
    let model = root().join("models/columns/laminar_column.toml");
    let dir = temp_dir("laminar-column");
    let options = RunOptions { duration_ms: Some(300.0), quiet: true, ..Default::default() };
    run(&model, &dir, &options, Arc::new(AtomicBool::new(false))).expect("the reference column runs");
    let m = Manifest::read(&dir).expect("manifest");
    let spikes = laminar_record::read_spikes(&dir.join("spikes.h5")).expect("spikes");
    let window = (100.0, 300.0);
    let mut checked = 0;
    for p in &m.populations {
        let placement = p.placement.as_ref().unwrap_or_else(|| panic!("{}: no placement in the manifest", p.name));
        let Some(s) = spikes.iter().find(|s| s.name == p.name) else { panic!("{}: no spikes group", p.name) };
        let n = s.timestamps.iter().filter(|&&t| t >= window.0 && t < window.1).count();
        let rate = n as f64 / p.size as f64 / ((window.1 - window.0) / 1000.0);
        let range = match (p.model.as_str(), placement.layer.is_some()) {
            ("astrocyte_lr_1994", _) => continue,
            ("spike_generator", _) => continue,
            (_, true) => (0.5, 40.0),
            (_, false) => (1.0, 60.0),
        };
        assert!(
            (range.0..=range.1).contains(&rate),
            "{} ({:?}, {:?}): {rate:.2} Hz outside the stated {range:?} Hz",
            p.name,
            placement.layer,
            placement.cell_type
        );
        checked += 1;
    }
    // 2 areas x 8 columns x 14 spiking cell types, 16 core relays, 2 x 2 per-area nuclei.
    assert_eq!(checked, 16 * 14 + 16 + 4);
    // The node attributes needed to group spikes by column and layer, beside the spikes.
    assert_eq!(m.files.nodes.as_deref(), Some("nodes.h5"));
    let l23 = m.populations.iter().find(|p| p.name == "V2_c5_L23E").expect("V2_c5_L23E");
    let pl = l23.placement.as_ref().expect("placement");
    assert_eq!(
        (pl.layer.as_deref(), pl.area.as_deref(), pl.column.as_deref(), pl.column_index),
        (Some("L23"), Some("V2"), Some("c5"), Some(5))
    );
    readback(&dir);
    std::fs::remove_dir_all(&dir).ok();
}
