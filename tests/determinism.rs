//! The same seed gives bit-identical spikes and traces for 1, 2 or 4 threads: connectivity,
//! initial values and device draws come from per-(seed, purpose, gid) streams, and spikes are
//! delivered in a canonical order, so the partitioning cannot show in the results.

use std::sync::atomic::AtomicBool;

use laminar_cli::{scenarios, verify::Collect};
use laminar_engine::{RecordingSpec, SpikeRecord, Step};
use laminar_models::Scheduling;

type Run = (Vec<(usize, u64, u64)>, Vec<Vec<(Step, Vec<u64>)>>, u64);

fn run(builder: &laminar_engine::NetworkBuilder, threads: usize, steps: Step) -> Run {
    run_in_calls(builder, threads, &[steps])
}

/// As [`run`], in one engine call per entry of `ends` (each the step that call stops at).
fn run_in_calls(builder: &laminar_engine::NetworkBuilder, threads: usize, ends: &[Step]) -> Run {
    let mut sim = builder.build(threads).expect("build");
    let mut collect = Collect::new(None);
    for &end in ends {
        sim.run(end, &mut collect, &AtomicBool::new(false)).expect("run");
    }
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
    let chunked = run_in_calls(&b, 2, &[1, 7, 500, 1333, 2000]);
    assert_eq!(whole.0, chunked.0);
}

/// A `[[projections]]` table of a model file.
fn projection(source: &str, target: &str, rule: &str, weight: f64, delay_ms: f64) -> String {
    format!(
        "\n[[projections]]\nsource = \"{source}\"\ntarget = \"{target}\"\nrule = {rule}\nweight = {weight:?}\n\
         delay_ms = {delay_ms:?}\n"
    )
}

/// A small CUBA-like network: clock-driven excitatory and event-driven inhibitory `iaf_psc_exp`,
/// 0.1-ms synaptic delays, optionally a Poisson drive with a 2-ms device delay through parrot
/// relays, and optionally a 20-ms projection onto a population of its own.
fn ring_buffer_model(poisson_drive: bool, long_delay: bool) -> String {
    let cuba = "params = { E_L = -49.0, V_th = -50.0, V_reset = -60.0, tau_m = 20.0, tau_syn_ex = 5.0, \
                tau_syn_in = 10.0, t_ref = 5.0 }\ninitial = { V_m = { uniform = [-60.0, -50.0] } }";
    let mut m = format!(
        "[simulation]\nresolution_ms = 0.1\nduration_ms = 400.0\nseed = 11\n\n\
         [populations.exc]\nmodel = \"iaf_psc_exp\"\nupdate = \"clock-driven\"\nsize = 200\n{cuba}\n\n\
         [populations.inh]\nmodel = \"iaf_psc_exp\"\nsize = 50\n{cuba}\n\n\
         [populations.relay]\nmodel = \"parrot_neuron\"\nsize = 20\n\n\
         [populations.sink]\nmodel = \"parrot_neuron\"\nsize = 5\n"
    );
    let bernoulli = "{ pairwise_bernoulli = { p = 0.1 } }";
    m += &projection("exc", "exc", bernoulli, 20.25, 0.1);
    m += &projection("exc", "inh", bernoulli, 20.25, 0.1);
    m += &projection("inh", "exc", bernoulli, -112.5, 0.1);
    m += &projection("relay", "exc", "{ fixed_indegree = { k = 2 } }", 30.0, 0.1);
    if poisson_drive {
        m += "\n[[stimuli]]\nmodel = \"poisson_generator\"\nparams = { rate = 200.0 }\ntarget = \"relay\"\n\
              weight = 1.0\ndelay_ms = 2.0\n";
    }
    if long_delay {
        m += &projection("exc", "sink", "{ fixed_indegree = { k = 3 } }", 1.0, 20.0);
    }
    m
}

/// Spikes of every population but `sink` (population 3), as (population, node, time bits).
fn spikes_outside_the_sink(model: &str, label: &str, threads: usize) -> Vec<(usize, u64, u64)> {
    let builder = builder_from_text(model, &format!("ring-{label}-{threads}"), 11);
    run(&builder, threads, 4000).0.into_iter().filter(|s| s.0 != 3).collect()
}

/// The ring buffers hold the fewest slots that never reuse an unread one: one slot with
/// one-step delays and no devices, more with a device delay (a device writes ahead of the step
/// it fires in) or a longer synaptic delay. A 20-ms projection onto a population of its own
/// enlarges every buffer and must change no other spike, with or without the 2-ms device delay.
#[test]
fn the_ring_buffer_size_does_not_change_results() {
    for poisson_drive in [false, true] {
        let label = if poisson_drive { "poisson" } else { "plain" };
        let fewest = spikes_outside_the_sink(&ring_buffer_model(poisson_drive, false), label, 2);
        assert!(fewest.len() > 300, "{label}: the network must be active ({} spikes)", fewest.len());
        let relayed = fewest.iter().filter(|s| s.0 == 2).count();
        assert_eq!(relayed > 0, poisson_drive, "{label}: the relays fire only when driven ({relayed} spikes)");
        for threads in [1, 2] {
            let roomy =
                spikes_outside_the_sink(&ring_buffer_model(poisson_drive, true), &format!("{label}-long"), threads);
            assert_eq!(fewest, roomy, "{label}: a longer delay elsewhere changed the spikes ({threads} threads)");
        }
    }
}

/// A recurrent `aeif_cond_alpha` network with the vectorised integration (`rk4_vector`: every
/// shard in one loop per sub-step, so a shard's size and split change the loop's vector and
/// remainder parts) under Poisson drive: the same spikes for 1, 2 and 4 threads.
#[test]
fn vectorised_adex_network_is_bit_identical_for_1_2_4_threads() {
    let model = "[simulation]\nresolution_ms = 0.1\nduration_ms = 300.0\nseed = 5\n\n\
                 [populations.adex]\nmodel = \"aeif_cond_alpha\"\nsize = 203\n\
                 params = { I_e = 600.0, integration = \"rk4_vector\", t_ref = 2.0 }\n\
                 initial = { V_m = { uniform = [-70.0, -55.0] } }\n\n\
                 [[stimuli]]\nmodel = \"poisson_generator\"\nparams = { rate = 800.0 }\ntarget = \"adex\"\n\
                 weight = 4.0\ndelay_ms = 0.1\n"
        .to_string()
        + &projection("adex", "adex", "{ fixed_indegree = { k = 20 } }", -2.0, 1.0);
    let mut b = builder_from_text(&model, "adex", 5);
    b.add_recording(RecordingSpec { population: 0, variable: 0, nodes: vec![0, 101, 202], interval: 1 });
    assert_same_for_1_2_4_threads(&b, 3000, 200);
}

/// Runs `b` for `steps` on 1, 2 and 4 threads: at least `min_spikes` spikes, and the same spikes
/// and traces bit for bit.
fn assert_same_for_1_2_4_threads(b: &laminar_engine::NetworkBuilder, steps: Step, min_spikes: usize) {
    let reference = run(b, 1, steps);
    assert!(reference.0.len() > min_spikes, "the network must be active ({} spikes)", reference.0.len());
    for threads in [2, 4] {
        let other = run(b, threads, steps);
        assert_eq!(reference.0, other.0, "spikes differ with {threads} threads");
        assert_eq!(reference.1, other.1, "traces differ with {threads} threads");
    }
}

/// `models/coba.toml` with `iaf_cond_exp`'s vectorised integration (`rk4_vector`): the same
/// spikes and traces for 1, 2 and 4 threads.
#[test]
fn vectorised_coba_is_bit_identical_for_1_2_4_threads() {
    let overrides: Vec<String> =
        ["exc", "inh"].iter().map(|p| format!("populations.{p}.params.integration=\"rk4_vector\"")).collect();
    let coba = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/coba.toml");
    let file = laminar_config::load(&coba, &overrides).unwrap_or_else(|e| panic!("{e}"));
    let mut b = file.network_builder(12345).unwrap_or_else(|e| panic!("{e}"));
    b.add_recording(RecordingSpec { population: 0, variable: 0, nodes: vec![0, 1599, 3199], interval: 1 });
    assert_same_for_1_2_4_threads(&b, 2000, 1000);
}

/// A background drawn as one Poisson count per neuron and step (16 kHz at 0.1 ms: 1.6 per step,
/// PD14's kind), whose uniforms come two gids per Philox call: the driven population starts at
/// an odd gid and has an odd size, so shards and blocks begin and end inside a pair. The same
/// spikes and traces for 1, 2 and 4 threads, on 2 × 2 and 3 × 1 in-process ranks, and for a run
/// in several engine calls that stop off the grid of exchange intervals.
#[test]
fn dense_poisson_background_is_the_same_for_any_threads_and_ranks() {
    let model = "[simulation]\nresolution_ms = 0.1\nduration_ms = 200.0\nseed = 9\n\n\
                 [populations.first]\nmodel = \"iaf_psc_exp\"\nsize = 37\n\n\
                 [populations.driven]\nmodel = \"iaf_psc_exp\"\nsize = 611\nupdate = \"clock-driven\"\n\
                 params = { I_e = 100.0 }\n\n\
                 [[stimuli]]\nmodel = \"poisson_generator\"\nparams = { rate = 16000.0 }\ntarget = \"driven\"\n\
                 weight = 9.13\ndelay_ms = 0.1\n"
        .to_string()
        + &projection("driven", "driven", "{ fixed_indegree = { k = 200 } }", -3.7, 1.0)
        + &projection("driven", "first", "{ fixed_indegree = { k = 30 } }", 30.0, 1.0);
    let mut b = builder_from_text(&model, "dense", 9);
    b.add_recording(RecordingSpec { population: 1, variable: 0, nodes: vec![0, 305, 610], interval: 1 });
    assert_same_for_1_2_4_threads(&b, 2000, 300);
    let reference = run(&b, 1, 2000);
    for (ranks, threads) in [(2, 2), (3, 1)] {
        let other = run_on_ranks(&b, ranks, threads, 2000);
        assert_eq!(reference.0, other.0, "spikes differ on {ranks} ranks x {threads} threads");
        assert_eq!(reference.1, other.1, "traces differ on {ranks} ranks x {threads} threads");
    }
    // Engine calls that stop off the grid of exchange intervals (10 steps here): the same bits as
    // one call (`tests/checkpoint.rs` resumes such a stop where the order of additions shows).
    let chunked = run_in_calls(&b, 2, &[3, 10, 517, 1004, 1005, 1999, 2000]);
    let whole = run(&b, 2, 2000);
    assert_eq!(whole.0, chunked.0, "spikes differ when run in chunks");
    assert_eq!(whole.1, chunked.1, "traces differ when run in chunks");
}

/// The network builder of a model file's `text` (written to a temporary file named after `name`
/// and loaded as `laminar run` loads it), with seed `seed`.
fn builder_from_text(text: &str, name: &str, seed: u64) -> laminar_engine::NetworkBuilder {
    let dir = std::env::temp_dir().join(format!("laminar-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("model.toml");
    std::fs::write(&path, text).expect("write model");
    let file = laminar_config::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_dir_all(&dir).ok();
    file.network_builder(seed).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `builder` on `ranks` in-process ranks of `threads` threads each (every rank a thread of
/// this process, exchanging through `InProcessRanks` exactly as MPI ranks do through
/// `laminar-mpi`); returns what rank 0's observer saw.
fn run_on_ranks(builder: &laminar_engine::NetworkBuilder, ranks: usize, threads: usize, steps: Step) -> Run {
    let group = laminar_engine::InProcessRanks::group(ranks);
    let results: Vec<Option<Run>> = std::thread::scope(|s| {
        let handles: Vec<_> = group
            .into_iter()
            .map(|r| {
                s.spawn(move || {
                    let rank = laminar_engine::Ranks::rank(&r);
                    let mut sim = builder.build_on(threads, std::sync::Arc::new(r)).expect("build");
                    let stop = AtomicBool::new(false);
                    if rank == 0 {
                        let mut collect = Collect::new(None);
                        sim.run(steps, &mut collect, &stop).expect("run");
                        let spikes =
                            collect.spikes.iter().map(|s| (s.population, s.node, s.time_ms.to_bits())).collect();
                        let frames = collect
                            .frames
                            .into_iter()
                            .map(|r| r.into_iter().map(|(s, v)| (s, v.iter().map(|x| x.to_bits()).collect())).collect())
                            .collect();
                        Some((spikes, frames, 0))
                    } else {
                        sim.run(steps, &mut laminar_engine::NullObserver, &stop).expect("run");
                        None
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("rank thread")).collect()
    });
    results.into_iter().next().flatten().expect("rank 0's result")
}

#[test]
fn ranks_times_threads_give_the_same_spikes_and_traces_as_one_process() {
    let mut b = scenarios::cuba(2000, 80.0, 7, false, Scheduling::EventDriven).expect("cuba");
    b.add_recording(RecordingSpec { population: 0, variable: 0, nodes: (0..1600).step_by(97).collect(), interval: 1 });
    b.add_recording(RecordingSpec { population: 1, variable: 1, nodes: vec![0, 399], interval: 5 });
    let (spikes, frames, _) = run(&b, 1, 2000);
    assert!(spikes.len() > 500, "the network must be active");
    for (ranks, threads) in [(2, 1), (2, 2), (4, 1), (3, 2)] {
        let (s, f, _) = run_on_ranks(&b, ranks, threads, 2000);
        assert_eq!(spikes, s, "spikes differ on {ranks} ranks x {threads} threads");
        assert_eq!(frames, f, "traces differ on {ranks} ranks x {threads} threads");
    }
    // Poisson devices and a clock-driven population.
    let b = scenarios::sparse(3000, 0.1, 3, Scheduling::ClockDriven).expect("sparse");
    let reference = run(&b, 2, 3000);
    assert_eq!(reference.0, run_on_ranks(&b, 2, 2, 3000).0, "sparse: spikes differ on 2 x 2");
}

/// Plastic synapses (weights, their recorded events) and astrocytes over ranks: the shipped
/// Hebbian write/read model (weights recorded) and the tripartite synapse (astrocyte-gated
/// release) on 2 and 3 in-process ranks against one process.
#[test]
fn plastic_models_on_ranks_give_the_same_spikes_and_weights_as_one_process() {
    for model in ["models/hebbian_write_read.toml", "models/tripartite_synapse.toml"] {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(model);
        let file = laminar_config::load(&path, &["simulation.duration_ms=600".to_string()]).expect("load");
        let seed = file.simulation().seed;
        let steps = (600.0 / file.simulation().resolution_ms).round() as Step;
        let observe = |collect: Collect<'_>| {
            let spikes: Vec<(usize, u64, u64)> =
                collect.spikes.iter().map(|s| (s.population, s.node, s.time_ms.to_bits())).collect();
            let weights: Vec<(usize, u64, u64, u64, u64)> = collect
                .weights
                .iter()
                .map(|w| (w.projection, w.t_ms.to_bits(), w.source, w.target, w.weight.to_bits()))
                .collect();
            (spikes, weights)
        };
        let mut sim = file.build(seed, 1).expect("build").simulation;
        let mut collect = Collect::new(None);
        sim.run(steps, &mut collect, &AtomicBool::new(false)).expect("run");
        let reference = observe(collect);
        assert!(!reference.0.is_empty(), "{model}: needs spikes");
        assert!(!reference.1.is_empty() || model.contains("tripartite"), "{model}: needs weight events");
        for (ranks, threads) in [(2, 1), (3, 2)] {
            let group = laminar_engine::InProcessRanks::group(ranks);
            let file = &file;
            let results: Vec<_> = std::thread::scope(|s| {
                let handles: Vec<_> = group
                    .into_iter()
                    .map(|r| {
                        s.spawn(move || {
                            let rank = laminar_engine::Ranks::rank(&r);
                            let mut sim =
                                file.build_on(seed, threads, std::sync::Arc::new(r)).expect("build").simulation;
                            let mut collect = Collect::new(None);
                            sim.run(steps, &mut collect, &AtomicBool::new(false)).expect("run");
                            (rank == 0).then(|| observe(collect))
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("rank")).collect()
            });
            let on_ranks = results.into_iter().next().flatten().expect("rank 0");
            assert_eq!(reference.0, on_ranks.0, "{model}: spikes differ on {ranks} x {threads}");
            assert_eq!(reference.1, on_ranks.1, "{model}: weight events differ on {ranks} x {threads}");
        }
    }
}
