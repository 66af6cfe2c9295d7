//! The same seed gives bit-identical spikes and traces for 1, 2 or 4 threads: connectivity,
//! initial values and device draws come from per-(seed, purpose, gid) streams, and spikes are
//! delivered in a canonical order, so the partitioning cannot show in the results.

use std::sync::atomic::AtomicBool;

use laminar_cli::{scenarios, verify::Collect};
use laminar_engine::{RecordingSpec, SpikeRecord, Step};
use laminar_models::Scheduling;

type Run = (Vec<(usize, u64, u64)>, Vec<Vec<(Step, Vec<u64>)>>, u64);

fn run(builder: &laminar_engine::NetworkBuilder, threads: usize, steps: Step) -> Run {
    let mut sim = builder.build(threads).expect("build");
    let mut collect = Collect::new(None);
    sim.run(steps, &mut collect, &AtomicBool::new(false)).expect("run");
    let spikes = collect.spikes.iter().map(|s: &SpikeRecord| (s.population, s.node, s.time_ms.to_bits())).collect();
    // Compare traces bit for bit.
    let frames = collect
        .frames
        .into_iter()
        .map(|r| r.into_iter().map(|(s, v)| (s, v.iter().map(|x| x.to_bits()).collect())).collect())
        .collect();
    (spikes, frames, sim.synaptic_events())
}

/// CUBA with `scheduling`, with spikes, V_m of excitatory neurons and variable `inh_variable` of
/// two inhibitory ones recorded, compared for 1, 2 and 4 threads.
fn assert_cuba_bit_identical_for_1_2_4_threads(scheduling: Scheduling, inh_variable: usize) {
    let mut b = scenarios::cuba(2000, 80.0, 7, false, scheduling).expect("cuba");
    b.add_recording(RecordingSpec { population: 0, variable: 0, nodes: (0..1600).step_by(97).collect(), interval: 1 });
    b.add_recording(RecordingSpec { population: 1, variable: inh_variable, nodes: vec![0, 399], interval: 5 });
    let reference = run(&b, 1, 3000);
    assert!(reference.0.len() > 1000, "the network must be active ({} spikes)", reference.0.len());
    for threads in [2, 4] {
        let other = run(&b, threads, 3000);
        assert_eq!(reference.0, other.0, "spikes differ with {threads} threads");
        assert_eq!(reference.1, other.1, "traces differ with {threads} threads");
        assert_eq!(reference.2, other.2);
    }
}

#[test]
fn cuba_is_bit_identical_for_1_2_4_threads() {
    assert_cuba_bit_identical_for_1_2_4_threads(Scheduling::EventDriven, 1); // I_syn_ex
}

#[test]
fn clock_driven_cuba_is_bit_identical_for_1_2_4_threads() {
    assert_cuba_bit_identical_for_1_2_4_threads(Scheduling::ClockDriven, 2); // I_syn_in
}

/// CUBA is chaotic, so a rounding difference between the schemes could grow into different
/// spike trains; the rates must agree in any case (measured: the same spikes, 5.68 Hz).
#[test]
fn clock_driven_and_event_driven_cuba_fire_at_the_same_rate() {
    let steps = 10_000;
    let count = |scheduling| {
        let b = scenarios::cuba(4000, 80.0, 1, false, scheduling).expect("cuba");
        run(&b, 2, steps).0.len() as f64
    };
    let (event, clock) = (count(Scheduling::EventDriven), count(Scheduling::ClockDriven));
    let rate = event / 4000.0;
    assert!((4.0..8.0).contains(&rate), "CUBA fires at about 5.5 Hz, got {rate} Hz");
    assert!((clock - event).abs() <= 0.02 * event, "clock-driven {clock} spikes, event-driven {event}");
}

#[test]
fn poisson_driven_network_is_bit_identical_for_1_2_4_threads() {
    let b = scenarios::sparse(3000, 0.1, 3, Scheduling::EventDriven).expect("sparse");
    let reference = run(&b, 1, 5000);
    assert!(!reference.0.is_empty(), "driven neurons must fire");
    for threads in [2, 4] {
        assert_eq!(reference.0, run(&b, threads, 5000).0, "spikes differ with {threads} threads");
    }
}

#[test]
fn a_different_seed_gives_a_different_network() {
    let a = scenarios::cuba(1000, 80.0, 1, false, Scheduling::EventDriven).expect("cuba");
    let b = scenarios::cuba(1000, 80.0, 2, false, Scheduling::EventDriven).expect("cuba");
    assert_ne!(run(&a, 1, 1000).0, run(&b, 1, 1000).0);
}

#[test]
fn running_in_chunks_equals_one_run() {
    let b = scenarios::cuba(1000, 80.0, 5, false, Scheduling::EventDriven).expect("cuba");
    let whole = run(&b, 2, 2000);
    let mut sim = b.build(2).expect("build");
    let mut collect = Collect::new(None);
    let stop = AtomicBool::new(false);
    for end in [1, 7, 500, 1333, 2000] {
        sim.run(end, &mut collect, &stop).expect("run");
    }
    let chunked: Vec<(usize, u64, u64)> =
        collect.spikes.iter().map(|s| (s.population, s.node, s.time_ms.to_bits())).collect();
    assert_eq!(whole.0, chunked);
}
