//! The files written here must be readable by the SONATA tools people use: these tests write an
//! output directory with the writers of this crate and run `tests/python/readback.py` on it,
//! which reads everything back with h5py and libsonata (and bmtk when installed) and checks
//! that they agree with each other and with the manifest.
//!
//! The tests run one at a time (see `common::serial`), as they start child processes.
//!
//! Requires `python3` with h5py, libsonata and numpy (`pip install h5py libsonata numpy`); the
//! tests fail, saying so, when they are missing. Set `LAMINAR_RECORD_KEEP_DIR=/some/dir` to keep
//! the written directories there for inspection.

mod common;

use std::path::Path;
use std::process::Output;

use common::{OutputDir, child_target, die, run_child_that_dies, serial};
use laminar_record::{
    FrameReportWriter, Manifest, OutputFiles, PopulationEntry, ReportEntry, Segment, SpikeWriter, VERSION,
    WeightProjection, WeightWriter,
};

const SIMULATED_MS: f64 = 50.0;

/// Runs the readback script on `dir`, after making sure the Python readers are installed.
fn run_readback(dir: &Path) -> Output {
    laminar_record::readback::run(dir).unwrap_or_else(|e| panic!("{e}"))
}

fn describe(output: &Output) -> String {
    format!(
        "exit status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn manifest(files: OutputFiles, completed: bool, simulated_ms: f64, reason: Option<&str>) -> Manifest {
    Manifest {
        format_version: VERSION,
        laminar_version: env!("CARGO_PKG_VERSION").to_owned(),
        model_path: "models/two_populations.toml".to_owned(),
        model_text: "[simulation]\nduration_ms = 50.0\n".to_owned(),
        seed: 12345,
        resolution_ms: 0.1,
        duration_ms: SIMULATED_MS,
        simulated_ms,
        completed,
        stopped_early_reason: reason.map(str::to_owned),
        threads: 1,
        populations: vec![
            PopulationEntry {
                name: "exc".to_owned(),
                model: "iaf_psc_alpha".to_owned(),
                size: 8,
                first_gid: 0,
                placement: None,
            },
            PopulationEntry {
                name: "inh".to_owned(),
                model: "two_compartment".to_owned(),
                size: 4,
                first_gid: 8,
                placement: None,
            },
        ],
        files,
        // Two processes wrote the run: the readback checks the segments' shape.
        segments: vec![
            Segment {
                from_ms: 0.0,
                to_ms: Some(20.0),
                threads: 1,
                started: 1_718_000_000,
                ended: Some(1_718_000_001),
                outcome: Some("checkpointed".to_owned()),
            },
            Segment {
                from_ms: 20.0,
                to_ms: completed.then_some(simulated_ms),
                threads: 2,
                started: 1_718_000_002,
                ended: completed.then_some(1_718_000_003),
                outcome: completed.then(|| "completed".to_owned()),
            },
        ],
        extra: serde_json::Map::new(),
    }
}

fn report_entries() -> Vec<ReportEntry> {
    vec![
        ReportEntry {
            variable: "V_m".to_owned(),
            file: "V_m.h5".to_owned(),
            population: "exc".to_owned(),
            units: "mV".to_owned(),
            interval_ms: 0.5,
        },
        ReportEntry {
            variable: "v_comp".to_owned(),
            file: "v_comp.h5".to_owned(),
            population: "inh".to_owned(),
            units: "mV".to_owned(),
            interval_ms: 0.1,
        },
    ]
}

fn all_files() -> OutputFiles {
    OutputFiles {
        spikes: Some("spikes.h5".to_owned()),
        reports: report_entries(),
        weights: Some("weights.h5".to_owned()),
        nodes: None,
    }
}

/// The HDF5 writers of a small run of two populations.
struct Writers {
    spikes: SpikeWriter,
    v_m: FrameReportWriter,
    v_comp: FrameReportWriter,
    weights: WeightWriter,
}

impl Writers {
    fn create(dir: &Path) -> Self {
        let populations = [("exc".to_owned(), 8), ("inh".to_owned(), 4)];
        let spikes = SpikeWriter::create(&dir.join("spikes.h5"), &populations, 5).unwrap();
        // Point neurons, every 0.5 ms.
        let v_m = FrameReportWriter::create(
            &dir.join("V_m.h5"),
            "exc",
            &[0, 1, 2, 3, 4, 5, 6, 7],
            &[1; 8],
            0.0,
            0.5,
            "mV",
            16,
        )
        .unwrap();
        // Two-compartment cells in descending id order, so libsonata has to reorder columns.
        let v_comp =
            FrameReportWriter::create(&dir.join("v_comp.h5"), "inh", &[3, 1, 0], &[2, 1, 2], 0.0, 0.1, "mV", 64)
                .unwrap();
        let projections = [WeightProjection { name: "exc_to_inh".to_owned(), units: "nS".to_owned() }];
        let weights = WeightWriter::create(&dir.join("weights.h5"), &projections, 4).unwrap();
        Self { spikes, v_m, v_comp, weights }
    }

    /// Simulates `steps` steps of 0.1 ms from step `first_step`.
    fn simulate(&mut self, first_step: u32, steps: u32) {
        for step in first_step..first_step + steps {
            let t = 0.1 * f64::from(step);
            if step % 7 == 0 {
                self.spikes.push(0, u64::from(step % 8), t).unwrap();
            }
            if step % 11 == 0 {
                // inh spikes arrive slightly out of order, as when several threads deliver
                // them: the file must say @sorting none.
                self.spikes.push(1, u64::from(step % 4), t).unwrap();
                self.spikes.push(1, u64::from((step + 1) % 4), (t - 0.05).max(0.0)).unwrap();
            }
            if step % 5 == 0 {
                let values: Vec<f32> = (0..8).map(|cell| -65.0 + 0.01 * (step * (cell + 1)) as f32).collect();
                self.v_m.push_frame(&values).unwrap();
            }
            let values: Vec<f32> = (0..5).map(|element| -70.0 + 0.001 * (step + 100 * element) as f32).collect();
            self.v_comp.push_frame(&values).unwrap();
            if step % 13 == 0 {
                self.weights
                    .push(0, t, u64::from(step % 8), u64::from(step % 4), 0.5 + 0.001 * f64::from(step))
                    .unwrap();
            }
        }
    }

    fn flush(&mut self) {
        self.spikes.flush().unwrap();
        self.v_m.flush().unwrap();
        self.v_comp.flush().unwrap();
        self.weights.flush().unwrap();
    }

    fn finish(self) {
        self.spikes.finish().unwrap();
        assert!(self.v_m.finish().unwrap().readers_agree);
        assert!(self.v_comp.finish().unwrap().readers_agree);
        self.weights.finish().unwrap();
    }
}

fn write_complete_run(dir: &Path) {
    let mut writers = Writers::create(dir);
    writers.simulate(0, 500);
    writers.finish();
    manifest(all_files(), true, SIMULATED_MS, None).write(dir).unwrap();
}

#[test]
fn h5py_and_libsonata_read_a_complete_run() {
    let _serial = serial();
    let dir = OutputDir::new("readback-complete");
    write_complete_run(&dir.path);
    let output = run_readback(&dir.path);
    assert!(output.status.success(), "readback.py rejected the output directory:\n{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("readback OK"), "{}", describe(&output));
    assert!(stdout.contains("inh: 92 spikes, sorting none"), "{}", describe(&output));
}

/// The script must notice when the files and the manifest disagree, or it checks nothing.
#[test]
fn readback_rejects_a_manifest_that_contradicts_the_files() {
    let _serial = serial();
    let dir = OutputDir::new("readback-contradiction");
    write_complete_run(&dir.path);
    let mut wrong = manifest(all_files(), true, SIMULATED_MS, None);
    wrong.files.reports[0].units = "pA".to_owned();
    wrong.files.reports[1].interval_ms = 0.2;
    wrong.populations[0].size = 5;
    wrong.files.weights = None;
    wrong.segments[1].outcome = Some("checkpointed".to_owned());
    wrong.write(&dir.path).unwrap();

    let output = run_readback(&dir.path);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "V_m.h5:/report/exc/data/@units is 'mV', expected 'pA'",
        "dt 0.1 ms but the manifest says interval_ms 0.2",
        ">= population size 5",
        "weights.h5 is in the directory but not in the manifest",
        "the last segment's outcome 'checkpointed' is not the run's ('completed')",
    ] {
        assert!(stderr.contains(expected), "no failure mentions {expected:?}:\n{}", describe(&output));
    }
}

/// A run killed without closing its files (no destructors, no HDF5 shutdown) leaves files that
/// libsonata reads: everything flushed before is there and `tstop` claims no missing frame.
#[test]
fn h5py_and_libsonata_read_a_killed_run() {
    if let Some(dir) = child_target() {
        // The manifest a run would write when it starts, never finalised.
        manifest(all_files(), false, 0.0, None).write(&dir).unwrap();
        let mut writers = Writers::create(&dir);
        writers.simulate(0, 237);
        writers.flush();
        writers.simulate(237, 40); // buffered, lost
        die();
    }

    let _serial = serial();
    let dir = OutputDir::new("readback-killed");
    run_child_that_dies("h5py_and_libsonata_read_a_killed_run", &dir.path);
    let output = run_readback(&dir.path);
    assert!(output.status.success(), "readback.py rejected the killed run:\n{}", describe(&output));

    // The flushed steps 0..237 are all there: V_m every fifth step, v_comp every step.
    let v_m = laminar_record::read_report(&dir.path.join("V_m.h5")).unwrap();
    assert_eq!(v_m.n_frames, 48);
    let v_comp = laminar_record::read_report(&dir.path.join("v_comp.h5")).unwrap();
    assert_eq!(v_comp.n_frames, 237);
}

/// A recording may hold `nodes.h5` (the circuit's node populations): readback.py accepts it
/// without a manifest entry but checks its populations against the manifest's.
#[test]
fn readback_checks_nodes_h5_against_the_manifest() {
    use laminar_record::{NodePopulation, write_nodes};
    let node_population = |name: &str, node_type_id, size| NodePopulation {
        name: name.to_owned(),
        node_type_id,
        model_type: "point_neuron".to_owned(),
        model_template: "nest:iaf_psc_exp".to_owned(),
        size,
        type_attributes: vec![("layer".to_owned(), "L4".to_owned())],
        attributes: Vec::new(),
    };
    let _serial = serial();
    let dir = OutputDir::new("readback-nodes");
    write_complete_run(&dir.path);
    let (h5, csv) = (dir.path.join("nodes.h5"), dir.path.join("node_types.csv"));
    write_nodes(&h5, &csv, &[node_population("exc", 0, 8), node_population("inh", 1, 4)]).unwrap();
    let output = run_readback(&dir.path);
    assert!(output.status.success(), "readback.py rejected nodes.h5:\n{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("nodes.h5"), "{}", describe(&output));

    write_nodes(&h5, &csv, &[node_population("exc", 0, 8), node_population("inh", 1, 5)]).unwrap();
    let output = run_readback(&dir.path);
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("nodes.h5: inh has 5 nodes, the manifest says 4"),
        "{}",
        describe(&output)
    );
}

/// A recording checkpointed, stopped with data past its checkpoint and resumed by the
/// [`laminar_record::Recorder`] reads back like any other, segments and all.
#[test]
fn h5py_and_libsonata_read_a_resumed_run() {
    use common::run::{self, H_MS, STEPS, feed};

    let _serial = serial();
    let dir = OutputDir::new("readback-resumed");
    let mut recorder = run::create(&dir.path, 2);
    feed(&mut recorder, 0..600, 0);
    let position = recorder.checkpoint(600).unwrap();
    feed(&mut recorder, 600..800, 1);
    recorder.finish(800.0 * H_MS, Some("interrupted by SIGTERM".to_owned())).unwrap();
    let mut recorder = run::resume(&dir.path, 1, &position);
    feed(&mut recorder, 600..STEPS, 0);
    recorder.finish(STEPS as f64 * H_MS, None).unwrap();

    let output = run_readback(&dir.path);
    assert!(output.status.success(), "readback.py rejected the resumed run:\n{}", describe(&output));
    assert_eq!(Manifest::read(&dir.path).unwrap().segments.len(), 2);
}
