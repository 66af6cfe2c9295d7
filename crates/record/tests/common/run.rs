//! A synthetic run for the recorder: three populations (spikes of two recorded), three reports
//! (one of two elements per node, one variable recorded from two populations), two plastic
//! projections, and data for every step drawn from a hash of the step, so that any stretch of
//! steps can be fed again and gives the same data.
//!
//! `variant` 0 is the run's true data. Other variants give different values and, in `inh`, spikes
//! out of time order: what a killed process may have flushed past its checkpoint, which a resumed
//! recording must cut without a trace (not even in `@sorting`).

use std::ops::Range;
use std::path::Path;

use laminar_engine::{Observer, PopulationMeta, SpikeRecord, Step, WeightEvent};
use laminar_record::{
    Recorder, RecorderPosition, ReportPlan, RunInfo, WeightPlan, read_report, read_spikes, read_weights,
};

pub const H_MS: f64 = 0.1;
/// Steps of the whole run.
pub const STEPS: Step = 2000;

pub fn info(threads: usize) -> RunInfo {
    RunInfo {
        model_path: "models/synthetic.toml".to_owned(),
        model_text: "[simulation]\nduration_ms = 200.0\n".to_owned(),
        seed: 7,
        resolution_ms: H_MS,
        duration_ms: STEPS as f64 * H_MS,
        threads,
        overrides: vec!["simulation.seed=7".to_owned()],
        placements: Vec::new(),
    }
}

pub fn populations() -> Vec<PopulationMeta> {
    let population = |name: &str, model: &str, size: usize, first_gid: u64| PopulationMeta {
        name: name.to_owned(),
        model: model.to_owned(),
        size,
        first_gid,
        recordables: Vec::new(),
    };
    vec![
        population("exc", "iaf_psc_exp_ps", 40, 0),
        population("inh", "iaf_psc_exp", 10, 40),
        population("astro", "astrocyte_lr_1994", 5, 50),
    ]
}

pub const RECORD_SPIKES: [bool; 3] = [true, true, false];

pub fn reports() -> Vec<ReportPlan> {
    let plan = |population: &str, variable: &str, units: &str, nodes: Vec<u64>, elements: usize| ReportPlan {
        population: population.to_owned(),
        variable: variable.to_owned(),
        units: units.to_owned(),
        interval_ms: H_MS,
        nodes,
        elements,
    };
    vec![
        plan("exc", "V_m", "mV", vec![0, 3, 7, 11], 1),
        plan("inh", "v_comp", "mV", vec![1, 2], 2),
        plan("inh", "V_m", "mV", vec![0], 1),
    ]
}

/// The report files, in the order of [`reports`].
pub const REPORT_FILES: [&str; 3] = ["V_m_exc.h5", "v_comp.h5", "V_m_inh.h5"];

/// Engine recordings: (report, values per frame); `v_comp`'s two elements are two recordings.
const RECORDINGS: [usize; 4] = [4, 2, 2, 1];

pub fn weight_plans() -> Vec<WeightPlan> {
    vec![
        WeightPlan { projection: 2, name: "exc_to_inh".to_owned(), units: "pA".to_owned() },
        WeightPlan { projection: 0, name: "inh_to_exc".to_owned(), units: "nS".to_owned() },
    ]
}

pub fn create(dir: &Path, threads: usize) -> Recorder {
    Recorder::create(dir, &info(threads), &populations(), &RECORD_SPIKES, &reports(), &weight_plans())
        .expect("create the recording")
}

pub fn resume(dir: &Path, threads: usize, position: &RecorderPosition) -> Recorder {
    Recorder::resume(dir, &info(threads), &populations(), &RECORD_SPIKES, &reports(), &weight_plans(), position)
        .expect("resume the recording")
}

fn hash(values: &[u64]) -> u64 {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for &v in values {
        state ^= v.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_add(state << 6).wrapping_add(state >> 2);
        state = state.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        state ^= state >> 31;
    }
    state
}

/// A value in [0, 1).
fn unit(values: &[u64]) -> f64 {
    (hash(values) >> 11) as f64 / (1u64 << 53) as f64
}

/// Hands the data of `steps` to `observer` as the engine would: per step the spikes, the
/// weights, every recording's frame, then the progress.
pub fn feed(observer: &mut impl Observer, steps: Range<Step>, variant: u64) {
    for k in steps {
        let t_end = (k + 1) as f64 * H_MS;
        let mut spikes = Vec::new();
        // exc: precise times within the step, in node order: not in time order.
        for node in 0..40 {
            if unit(&[variant, 1, k, node]) < 0.25 {
                let offset = unit(&[variant, 2, k, node]) * H_MS;
                spikes.push(SpikeRecord { population: 0, node, time_ms: t_end - offset });
            }
        }
        // inh: at the step's end, in time order; other variants go back in time now and then.
        for node in 0..10 {
            if unit(&[variant, 3, k, node]) < 0.05 {
                let back = if variant != 0 && node % 3 == 0 { 5.0 } else { 0.0 };
                spikes.push(SpikeRecord { population: 1, node, time_ms: (t_end - back).max(0.0) });
            }
        }
        // astro: not recorded.
        spikes.push(SpikeRecord { population: 2, node: k % 5, time_ms: t_end });
        observer.spikes(&spikes).expect("spikes");

        if k % 3 == 0 {
            let events: Vec<WeightEvent> = (0..4)
                .map(|i| WeightEvent {
                    projection: [0, 2, 1][i as usize % 3],
                    t_ms: t_end,
                    source: i,
                    target: hash(&[variant, 4, k, i]) % 10,
                    weight: unit(&[variant, 5, k, i]) * 10.0 - 5.0,
                })
                .collect();
            observer.weights(&events).expect("weights");
        }

        for (recording, &n) in RECORDINGS.iter().enumerate() {
            let values: Vec<f64> =
                (0..n as u64).map(|i| -70.0 + 20.0 * unit(&[variant, 6, k, recording as u64, i])).collect();
            observer.frame(recording, k, &values).expect("frame");
        }
        observer.progress(k + 1);
    }
}

/// Asserts that two recordings hold the same datasets with the same values, bit for bit, and
/// that their manifests say the same about the outcome.
pub fn assert_same_recording(expected: &Path, actual: &Path) {
    let bits = |values: &[f64]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();

    let (a, b) = (read_spikes(&expected.join("spikes.h5")).unwrap(), read_spikes(&actual.join("spikes.h5")).unwrap());
    assert_eq!(a.len(), b.len());
    for (a, b) in a.iter().zip(&b) {
        assert_eq!((&a.name, &a.sorting), (&b.name, &b.sorting), "spikes.h5: population and its @sorting");
        assert_eq!(a.node_ids, b.node_ids, "spikes.h5: /spikes/{}/node_ids", a.name);
        assert!(bits(&a.timestamps) == bits(&b.timestamps), "spikes.h5: /spikes/{}/timestamps differ", a.name);
    }

    for file in REPORT_FILES {
        let (a, b) = (read_report(&expected.join(file)).unwrap(), read_report(&actual.join(file)).unwrap());
        assert_eq!((a.n_frames, a.n_elements), (b.n_frames, b.n_elements), "{file}: shape");
        assert_eq!(bits(&[a.tstart, a.tstop, a.dt]), bits(&[b.tstart, b.tstop, b.dt]), "{file}: mapping/time");
        assert_eq!((&a.node_ids, &a.index_pointers, &a.element_ids), (&b.node_ids, &b.index_pointers, &b.element_ids));
        assert_eq!(a.units, b.units);
        let bits32 = |values: &[f32]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert!(bits32(&a.data) == bits32(&b.data), "{file}: data differ");
    }

    let (a, b) =
        (read_weights(&expected.join("weights.h5")).unwrap(), read_weights(&actual.join("weights.h5")).unwrap());
    assert_eq!(a.len(), b.len());
    for (a, b) in a.iter().zip(&b) {
        assert_eq!((&a.projection, &a.units), (&b.projection, &b.units));
        assert_eq!((&a.source_ids, &a.target_ids), (&b.source_ids, &b.target_ids), "weights.h5: {}", a.projection);
        assert!(bits(&a.timestamps) == bits(&b.timestamps), "weights.h5: {} timestamps differ", a.projection);
        assert!(bits(&a.weights) == bits(&b.weights), "weights.h5: {} weights differ", a.projection);
    }

    let (a, b) = (laminar_record::Manifest::read(expected).unwrap(), laminar_record::Manifest::read(actual).unwrap());
    assert_eq!(
        (a.simulated_ms, a.completed, &a.stopped_early_reason, &a.files, &a.populations),
        (b.simulated_ms, b.completed, &b.stopped_early_reason, &b.files, &b.populations)
    );
}
