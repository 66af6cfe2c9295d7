//! Checkpoints: a run stopped at a step (drawn from a seeded stream), written to a checkpoint
//! file, read back into a freshly built network (also with another thread count) and resumed
//! gives the same spikes, traces, weight events and final weights as the uninterrupted run, bit
//! for bit — for every shipped model file. Corrupted and foreign checkpoints are refused with
//! messages that say what differs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use laminar_cli::verify::Collect;
use laminar_engine::checkpoint::{self, CheckpointHeader};
use laminar_engine::{Simulation, Step};
use rand::RngExt;

mod common;
use common::{root, shipped_models, temp_dir};

/// Everything a run produced, as bits.
#[derive(Debug, PartialEq)]
struct Outcome {
    spikes: Vec<(usize, u64, u64)>,
    frames: Vec<Vec<(Step, Vec<u64>)>>,
    weight_events: Vec<(usize, u64, u64, u64, u64)>,
    final_weights: Vec<Vec<(u64, u64, u64)>>,
    spike_counts: Vec<u64>,
    synaptic_events: u64,
}

fn outcome(collect: Collect<'_>, sim: &Simulation) -> Outcome {
    let frames: Vec<Vec<(Step, Vec<u64>)>> = collect
        .frames
        .into_iter()
        .map(|r| r.into_iter().map(|(s, v)| (s, v.iter().map(|x| x.to_bits()).collect())).collect())
        .collect();
    Outcome {
        spikes: collect.spikes.iter().map(|s| (s.population, s.node, s.time_ms.to_bits())).collect(),
        // Drop trailing empty recordings so that a resumed run (which may not have seen a
        // frame of a recording before the stop) compares equal.
        frames,
        weight_events: collect
            .weights
            .iter()
            .map(|w| (w.projection, w.t_ms.to_bits(), w.source, w.target, w.weight.to_bits()))
            .collect(),
        final_weights: (0..sim.projection_names().len())
            .map(|p| sim.synapse_weights(p).into_iter().map(|(s, t, w)| (s, t, w.to_bits())).collect())
            .collect(),
        spike_counts: sim.spike_counts().to_vec(),
        synaptic_events: sim.synaptic_events(),
    }
}

/// A model file with the overrides that make it small and short enough for a test.
struct Case {
    path: PathBuf,
    overrides: Vec<String>,
    steps: Step,
}

fn load(case: &Case) -> laminar_config::ModelFile {
    laminar_config::load(&case.path, &case.overrides).unwrap_or_else(|e| panic!("{}: {e}", case.path.display()))
}

fn build(file: &laminar_config::ModelFile, threads: usize) -> Simulation {
    let seed = file.simulation().seed;
    file.build(seed, threads).unwrap_or_else(|e| panic!("build: {e}")).simulation
}

fn header(sim: &Simulation, name: &str) -> CheckpointHeader {
    sim.checkpoint_header("test", name, "hash", BTreeMap::new())
}

/// Runs `case` uninterrupted with `threads_before` threads, then again stopped at a random step,
/// checkpointed to a file, restored into a network built with `threads_after` threads and
/// resumed; the two outcomes must be identical.
fn assert_resumes_bit_identically(case: &Case, threads_before: usize, threads_after: usize, draw: u64) {
    let stop = AtomicBool::new(false);
    let file = load(case);
    let name = case.path.file_stem().and_then(|s| s.to_str()).unwrap_or("model").to_string();

    let mut whole = build(&file, threads_before);
    let mut collect = Collect::new(None);
    whole.run(case.steps, &mut collect, &stop).expect("uninterrupted run");
    let reference = outcome(collect, &whole);
    drop(whole);

    let mut rng = laminar_engine::rng::stream_for(draw, &format!("checkpoint-test:{name}"), 0);
    let at: Step = rng.random_range(1..case.steps);
    let mut first = build(&file, threads_before);
    let mut collect = Collect::new(None);
    first.run(at, &mut collect, &stop).expect("first segment");
    let state = first.save_state().unwrap_or_else(|e| panic!("{name}: saving at step {at}: {e}"));
    let dir = temp_dir(&format!("ckpt-{name}-{draw}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("checkpoint.bin");
    checkpoint::write(&path, &header(&first, &name), &state).expect("write");
    drop(first);

    let (read_header, state) = checkpoint::read(&path).expect("read");
    let mut second = build(&file, threads_after);
    assert_eq!(checkpoint::difference(&header(&second, &name), &read_header), None);
    second.restore_state(read_header.step, state).unwrap_or_else(|e| panic!("{name}: restoring step {at}: {e}"));
    second.run(case.steps, &mut collect, &stop).expect("second segment");
    let resumed = outcome(collect, &second);
    std::fs::remove_dir_all(&dir).ok();

    assert!(!reference.spikes.is_empty(), "{name}: the test needs spikes");
    let what = format!("{name}, stopped at step {at} of {}, {threads_before} -> {threads_after} threads", case.steps);
    assert_eq!(reference.spikes.len(), resumed.spikes.len(), "{what}: spike count");
    assert_eq!(reference.spikes, resumed.spikes, "{what}: spikes");
    assert_eq!(reference.frames, resumed.frames, "{what}: traces");
    assert_eq!(reference.weight_events, resumed.weight_events, "{what}: weight events");
    assert_eq!(reference.final_weights, resumed.final_weights, "{what}: final weights");
    assert_eq!(reference.spike_counts, resumed.spike_counts, "{what}: spike counts");
    assert_eq!(reference.synaptic_events, resumed.synaptic_events, "{what}: synaptic events");
}

/// The shipped model files (attention circuits apart: they need the harness's inputs, and are
/// covered through the files the harness writes), each made small and short.
fn cases() -> Vec<Case> {
    shipped_models()
        .into_iter()
        .filter(|p| !p.parent().is_some_and(|d| d.ends_with("attention")))
        .map(|path| {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let mut overrides = Vec::new();
            let mut ms = 300.0;
            match stem.as_str() {
                "potjans_diesmann" => {
                    overrides.extend(["n_scaling=0.02".to_string(), "k_scaling=0.05".to_string()]);
                    ms = 150.0;
                }
                "cuba" | "coba" => ms = 200.0,
                "laminar_column" => ms = 150.0,
                "hebbian_write_read" | "tripartite_synapse" | "normalising_astrocyte" | "astrocyte_sic" => ms = 600.0,
                _ => {}
            }
            overrides.push(format!("simulation.duration_ms={ms}"));
            let file = laminar_config::load(&path, &overrides).expect("load");
            let steps = file.simulation().resolution_ms;
            let steps = (ms / steps).round() as Step;
            Case { path, overrides, steps }
        })
        .collect()
}

fn case(stem: &str) -> Case {
    cases()
        .into_iter()
        .find(|c| c.path.file_stem().is_some_and(|s| s == stem))
        .unwrap_or_else(|| panic!("no shipped model {stem}"))
}

macro_rules! resume_tests {
    ($($test:ident: $stem:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            let c = case($stem);
            assert_resumes_bit_identically(&c, 2, 2, 1);
            assert_resumes_bit_identically(&c, 2, 1, 2);
            assert_resumes_bit_identically(&c, 1, 3, 3);
        }
    )*};
}

resume_tests! {
    cuba_resumes_bit_identically: "cuba",
    coba_resumes_bit_identically: "coba",
    demo_resumes_bit_identically: "demo",
    potjans_diesmann_resumes_bit_identically: "potjans_diesmann",
    bac_pyramidal_resumes_bit_identically: "bac_pyramidal",
    two_compartment_cm_resumes_bit_identically: "two_compartment_cm",
    astrocyte_sic_resumes_bit_identically: "astrocyte_sic",
    hebbian_write_read_resumes_bit_identically: "hebbian_write_read",
    normalising_astrocyte_resumes_bit_identically: "normalising_astrocyte",
    tripartite_synapse_resumes_bit_identically: "tripartite_synapse",
    laminar_column_resumes_bit_identically: "laminar_column",
}

#[test]
fn every_shipped_model_has_a_resume_test() {
    let tested = [
        "cuba",
        "coba",
        "demo",
        "potjans_diesmann",
        "bac_pyramidal",
        "two_compartment_cm",
        "astrocyte_sic",
        "hebbian_write_read",
        "normalising_astrocyte",
        "tripartite_synapse",
        "laminar_column",
    ];
    for c in cases() {
        let stem = c.path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        assert!(tested.contains(&stem.as_str()), "models/{stem}.toml has no resume test in tests/checkpoint.rs");
    }
}

fn checkpoint_of(stem: &str, dir: &Path) -> (PathBuf, Case) {
    let c = case(stem);
    let file = load(&c);
    let mut sim = build(&file, 2);
    sim.run(c.steps / 2, &mut Collect::new(None), &AtomicBool::new(false)).expect("run");
    let state = sim.save_state().expect("save");
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("checkpoint.bin");
    checkpoint::write(&path, &header(&sim, stem), &state).expect("write");
    (path, c)
}

#[test]
fn a_corrupted_checkpoint_is_refused() {
    let dir = temp_dir("ckpt-corrupt");
    let (path, _) = checkpoint_of("demo", &dir);
    let mut bytes = std::fs::read(&path).unwrap();
    let k = bytes.len() * 2 / 3;
    bytes[k] = bytes[k].wrapping_add(1);
    std::fs::write(&path, &bytes).unwrap();
    let err = checkpoint::read(&path).unwrap_err().to_string();
    assert!(err.contains("corrupted") && err.contains("checksum"), "{err}");
    std::fs::write(&path, &bytes[..40]).unwrap();
    let err = checkpoint::read(&path).unwrap_err().to_string();
    assert!(err.contains("corrupted"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_foreign_checkpoint_is_refused() {
    let dir = temp_dir("ckpt-foreign");
    let (path, _) = checkpoint_of("demo", &dir);
    let (found, state) = checkpoint::read(&path).expect("read");
    // Another model: its network has other populations, and its header says so.
    let cuba = case("cuba");
    let other = build(&load(&cuba), 2);
    // Same name and hash (a caller that hashed carelessly): the network itself still differs.
    let diff = checkpoint::difference(&header(&other, "demo"), &found).expect("must differ");
    assert!(diff.contains("seed") || diff.contains("populations"), "{diff}");
    let expected = other.checkpoint_header("test", "cuba", "other-hash", BTreeMap::new());
    let diff = checkpoint::difference(&expected, &found).expect("must differ");
    assert!(diff.contains("`demo`") && diff.contains("`cuba`"), "{diff}");
    // Restoring anyway (a caller that skipped the header check) fails cleanly, naming a column.
    let mut other = build(&load(&cuba), 2);
    let err = other.restore_state(found.step, state).unwrap_err().to_string();
    assert!(err.contains("another"), "{err}");
    let _ = root();
    std::fs::remove_dir_all(&dir).ok();
}

/// The devices and synapse models no shipped file (outside the attention circuits) uses —
/// `stdp_synapse`, `tsodyks_synapse`, `contrastive_hebbian_synapse`, `inhomogeneous_poisson_generator`,
/// `step_current_generator`, `dc_generator`, and `poisson_generator` in all three of its regimes
/// (sparse intervals, dense per-step counts, high-rate draws) — and the astrocyte synapses with
/// the parts of their state the shipped files leave still (gliotransmission, growing process
/// weights) resume bit for bit.
#[test]
fn unshipped_devices_and_synapse_models_resume_bit_identically() {
    let text = r#"
description = "checkpoint test: devices and synapse models"

[simulation]
resolution_ms = 0.1
duration_ms = 400.0
seed = 3

[populations.src]
model = "iaf_psc_exp"
size = 40

[populations.a]
model = "iaf_psc_exp"
size = 12

[populations.b]
model = "iaf_psc_exp"
size = 12

[populations.c]
model = "iaf_psc_exp"
size = 8

[[projections]]
name = "stdp"
source = "src"
target = "a"
rule = { fixed_indegree = { k = 20 } }
weight = 40.0
delay_ms = 1.0
synapse = { model = "stdp_synapse", Wmax = 200.0, lambda = 0.05 }
record_weights = true

[[projections]]
name = "tsodyks"
source = "src"
target = "b"
rule = { fixed_indegree = { k = 20 } }
weight = 300.0
delay_ms = 1.0
synapse = { model = "tsodyks_synapse", U = 0.3, tau_fac = 100.0, tau_psc = 2.0 }
record_weights = true

[[projections]]
name = "contrastive"
source = "src"
target = "c"
rule = { fixed_indegree = { k = 20 } }
weight = 40.0
delay_ms = 1.0
synapse = { model = "contrastive_hebbian_synapse", eta = 0.05, Wmax = 200.0, period_ms = 100.0, clamped_ms = 50.0 }
record_weights = true

[populations.d]
model = "iaf_psc_exp"
size = 8

[populations.e]
model = "iaf_psc_exp"
size = 8

[populations.f]
model = "iaf_psc_exp"
size = 8

[[projections]]
name = "tsodyks_astro"
source = "src"
target = "d"
rule = { fixed_indegree = { k = 20 } }
weight = 300.0
delay_ms = 1.0
synapse = { model = "tsodyks_astro_synapse", U = 0.3, tau_fac = 100.0, tau_psc = 2.0, alpha = 0.9, Ca_per_release = 0.5, tau_Ca = 200.0, C_Theta = 0.3, tau_G = 2000.0 }
record_weights = true

[[projections]]
name = "astro_normalized"
source = "src"
target = "e"
rule = { fixed_indegree = { k = 20 } }
weight = 100.0
delay_ms = 1.0
synapse = { model = "astro_normalized_synapse", tau_astro = 100.0, epsilon = 0.5, g = 0.002, g_mode = "weight", eta_g = 0.01 }
learning_windows_ms = [[0.0, 250.0]]

[[projections]]
name = "hebbian_astro"
source = "src"
target = "f"
rule = { fixed_indegree = { k = 20 } }
weight = 40.0
delay_ms = 1.0
synapse = { model = "hebbian_astro_synapse", eta = 0.05, Wmax = 200.0, tau_astro = 100.0, epsilon = 0.5, g = 0.05, eta_g = 0.01, learning_transmission = 0.5 }
record_weights = true
learning_windows_ms = [[0.0, 250.0]]

[[stimuli]]
name = "drive_def"
model = "poisson_generator"
params = { rate = 5000.0 }
target = "d"
weight = 30.0
delay_ms = 0.1

[[stimuli]]
name = "drive_e"
model = "poisson_generator"
params = { rate = 5000.0 }
target = "e"
weight = 30.0
delay_ms = 0.1

[[stimuli]]
name = "drive_f"
model = "poisson_generator"
params = { rate = 5000.0 }
target = "f"
weight = 30.0
delay_ms = 0.1

[[stimuli]]
name = "sparse"
model = "poisson_generator"
params = { rate = 6000.0 }
target = "src"
weight = 30.0
delay_ms = 0.1

[[stimuli]]
name = "dense"
model = "poisson_generator"
params = { rate = 12000.0, start = 50.0, stop = 300.0 }
target = "src"
weight = 10.0
delay_ms = 0.1

[[stimuli]]
name = "high_rate"
model = "poisson_generator"
params = { rate = 400000.0, start = 20.35, stop = 350.0 }
target = "a"
weight = 0.5
delay_ms = 0.1

[[stimuli]]
name = "inhomogeneous"
model = "inhomogeneous_poisson_generator"
params = { rate_times = [10.0, 100.0, 200.0], rate_values = [8000.0, 400000.0, 3000.0] }
target = "b"
weight = 20.0
delay_ms = 0.1

[[stimuli]]
name = "dc"
model = "dc_generator"
params = { amplitude = 400.0, start = 50.0, stop = 250.0 }
target = "c"
weight = 1.0
delay_ms = 0.1

[[stimuli]]
name = "steps"
model = "step_current_generator"
params = { amplitude_times = [30.0, 120.0, 260.0], amplitude_values = [150.0, 300.0, 0.0] }
target = "a"
weight = 1.0
delay_ms = 0.2

[recording]
spikes = "all"

[[recording.variables]]
population = "a"
variable = "V_m"
interval_ms = 0.5
nodes = { first = 0, count = 3 }

[[recording.variables]]
population = "b"
variable = "I_syn_ex"
interval_ms = 0.5
nodes = { first = 0, count = 3 }
"#;
    let dir = temp_dir("ckpt-unshipped-models");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("devices_and_synapses.toml");
    std::fs::write(&path, text).unwrap();
    let c = Case { path, overrides: Vec::new(), steps: 4000 };
    let file = load(&c);
    let mut sim = build(&file, 1);
    let mut collect = Collect::new(None);
    sim.run(c.steps, &mut collect, &AtomicBool::new(false)).expect("run");
    let per_population: Vec<usize> =
        (0..7).map(|p| collect.spikes.iter().filter(|s| s.population == p).count()).collect();
    assert!(per_population.iter().all(|&n| n > 0), "every population must fire: {per_population:?}");
    assert!(!collect.weights.is_empty(), "the plastic projections must transmit");
    assert_resumes_bit_identically(&c, 2, 2, 1);
    assert_resumes_bit_identically(&c, 2, 1, 2);
    assert_resumes_bit_identically(&c, 1, 3, 3);
    std::fs::remove_dir_all(&dir).ok();
}

/// The attention circuits as `laminar attention` completes them (small inputs: 3 tokens, 2
/// queries, 2 dimensions; the multihead circuit 2 heads), run for two thirds of their protocol so
/// that the stop falls in the write or the read phase with the memory half learned.
fn attention_case(circuit: &str, dir: &Path) -> Case {
    use laminar_attention::inputs::Inputs;
    use laminar_attention::{AttentionOptions, Baseline};
    std::fs::create_dir_all(dir).unwrap();
    let heads = if circuit == "multihead" { 2 } else { 1 };
    let d_out = (circuit == "multihead").then_some(2);
    let inputs = dir.join("qkv.h5");
    Inputs::draw(3, 2, 2, 2, heads, d_out, 4).write(&inputs).expect("qkv.h5");
    let options = AttentionOptions {
        circuit: circuit.to_string(),
        inputs,
        out: dir.join("unused"),
        seed: 4,
        threads: 2,
        baseline: Baseline::None,
        probe_weights: false,
        overrides: Vec::new(),
        force: false,
    };
    let prepared = laminar_attention::harness::prepare_model(&options).expect("prepare");
    let path = dir.join("circuit.toml");
    std::fs::write(&path, &prepared.text).unwrap();
    let sim = prepared.file.simulation();
    let steps = (sim.duration_ms / sim.resolution_ms * 2.0 / 3.0).round() as Step;
    Case { path, overrides: prepared.overrides, steps }
}

#[test]
fn attention_circuits_resume_bit_identically() {
    for circuit in ["astro", "column", "multihead"] {
        let dir = temp_dir(&format!("ckpt-attention-{circuit}"));
        let c = attention_case(circuit, &dir);
        assert_resumes_bit_identically(&c, 2, 1, 5);
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// Runs `f` on `ranks` in-process ranks (threads standing in for MPI ranks); returns rank 0's
/// result.
fn on_ranks<T: Send>(ranks: usize, f: impl Fn(std::sync::Arc<dyn laminar_engine::Ranks>) -> T + Sync) -> T {
    let group = laminar_engine::InProcessRanks::group(ranks);
    let f = &f;
    let results: Vec<T> = std::thread::scope(|s| {
        let handles: Vec<_> = group.into_iter().map(|r| s.spawn(move || f(std::sync::Arc::new(r)))).collect();
        handles.into_iter().map(|h| h.join().expect("rank")).collect()
    });
    results.into_iter().next().expect("rank 0")
}

#[test]
fn a_checkpoint_of_several_ranks_resumes_on_any_rank_count() {
    for stem in ["hebbian_write_read", "demo", "laminar_column"] {
        let c = case(stem);
        let file = load(&c);
        let seed = file.simulation().seed;
        let stop = AtomicBool::new(false);
        let mut whole = build(&file, 1);
        let mut collect = Collect::new(None);
        whole.run(c.steps, &mut collect, &stop).expect("uninterrupted");
        let reference = outcome(collect, &whole);
        let at = c.steps * 2 / 5;
        // Two ranks of two threads run to `at` and save (every rank gets the joined state).
        let (state, first_part) = on_ranks(2, |ranks| {
            let rank = ranks.rank();
            let mut sim = file.build_on(seed, 2, ranks).expect("build").simulation;
            let mut collect = Collect::new(None);
            sim.run(at, &mut collect, &AtomicBool::new(false)).expect("run");
            let state = sim.save_state().expect("save on ranks");
            (state, (rank == 0).then_some((collect.spikes, collect.frames, collect.weights)))
        });
        let dir = temp_dir(&format!("ckpt-ranks-{stem}"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("checkpoint.bin");
        checkpoint::write(&path, &header(&whole, stem), &state).expect("write");
        // Resumed on three ranks of one thread, and on one process of two threads.
        for ranks in [3, 1] {
            let mut collect = Collect::new(None);
            let first = first_part.as_ref().expect("rank 0's recording");
            collect.spikes = first.0.clone();
            collect.frames = first.1.clone();
            collect.weights = first.2.clone();
            let (_, state) = checkpoint::read(&path).expect("read");
            let resumed = on_ranks(ranks, |r| {
                let rank = r.rank();
                let threads = if ranks == 1 { 2 } else { 1 };
                let mut sim = file.build_on(seed, threads, r).expect("build").simulation;
                sim.restore_state(at, state.clone())
                    .unwrap_or_else(|e| panic!("{stem}: restore on {ranks} ranks: {e}"));
                let mut mine = Collect::new(None);
                sim.run(c.steps, &mut mine, &AtomicBool::new(false)).expect("run");
                (rank == 0).then(|| (mine.spikes, mine.frames, mine.weights, sim.spike_counts().to_vec()))
            });
            let (spikes, frames, weights, counts) = resumed.expect("rank 0");
            collect.spikes.extend(spikes);
            for (i, f) in frames.into_iter().enumerate() {
                if collect.frames.len() <= i {
                    collect.frames.resize_with(i + 1, Vec::new);
                }
                collect.frames[i].extend(f);
            }
            collect.weights.extend(weights);
            let got = outcome(collect, &whole);
            assert_eq!(reference.spikes, got.spikes, "{stem}: spikes, 2 ranks -> {ranks}");
            assert_eq!(reference.frames, got.frames, "{stem}: traces, 2 ranks -> {ranks}");
            assert_eq!(reference.weight_events, got.weight_events, "{stem}: weight events, 2 ranks -> {ranks}");
            assert_eq!(reference.spike_counts, counts, "{stem}: spike counts, 2 ranks -> {ranks}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
