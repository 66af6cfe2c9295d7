//! Micro benchmarks of laminar's hot paths (criterion).
//!
//! - `ring_buffer/{summed,summed_touched}/{events}`: adding `events` random synaptic events into
//!   one step of a 4000-neuron, 2-receptor [`InputBuffer`], then reading that step (as a model
//!   would: all neurons for `Summed`, the touched list for `SummedTouched`) and clearing it.
//!   Throughput: events.
//! - `cuba_fanout/4000x80_10ms[_clock_driven]`: 10 ms (100 steps) of the CUBA network
//!   (`scenarios::cuba(4000, 80)`) on one thread through `Simulation::run`: spike exchange, CSR
//!   fan-out into the ring buffers, and the event-driven (or clock-driven) neuron updates.
//!   Throughput: synaptic events (measured on a pilot run), so the reported rate is the
//!   whole-network cost per synaptic event.
//! - `population_step/<model>`: 100 steps of a 1000-neuron shard of one model, driven by `I_e`
//!   and by random synaptic input (0.1 events per neuron per step, 80 % excitatory), with the
//!   input pre-generated so that only buffer adds, the step read/clear and the model update are
//!   timed. `I_e` is set per model so that the shard fires at roughly 10-20 Hz (each setup prints
//!   the measured rate). Throughput: neuron-steps. `iaf_psc_exp_clock_driven` is the clock-driven
//!   sweep of `iaf_psc_exp` at the same input.
//!
//!   The new models: `aeif_cond_alpha_astro`, `pyramidal_bac`, `cm_default_2comp` (the two-compartment cell of
//!   the NEST case: delivery into dendritic AMPA+NMDA and somatic GABA receptors) and
//!   `astrocyte_lr_1994` on the neurons' clock and on a 1-ms clock (`_clock_1ms`).
//!
//! Run: `cargo bench -p laminar-cli --bench micro` (about 1.5 minutes); add a filter such as
//! `-- population_step` to run a subset.

use std::hint::black_box;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use laminar_engine::buffer::InputBuffer;
use laminar_engine::{
    BuildContext, GradedValue, InputKind, LocalSpike, NextEventQueue, NullObserver, Population, PreciseEvent,
    Resolution, Step, Update,
};
use laminar_models::{Scheduling, registry};
use serde_json::{Map, Value, json};

/// splitmix64: a tiny deterministic generator (the bench has no `rand` dependency).
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }
}

// ---------------------------------------------------------------- ring buffer

const RB_NEURONS: usize = 4000;

fn ring_buffer(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring_buffer");
    // 160 events/step: CUBA 4000 at ~5 Hz; 4000: a busy step (one event per neuron on average).
    for events in [160usize, 4000] {
        let mut rng = SplitMix(42);
        let list: Vec<(usize, usize, f64)> = (0..events)
            .map(|_| {
                let channel = usize::from(rng.uniform() >= 0.8);
                let w = if channel == 0 { 20.25 } else { -112.5 };
                (channel, rng.below(RB_NEURONS), w)
            })
            .collect();
        group.throughput(Throughput::Elements(events as u64));
        for (name, kind) in [("summed", InputKind::Summed), ("summed_touched", InputKind::SummedTouched)] {
            let mut buffer = InputBuffer::new(RB_NEURONS, 2, 16, kind);
            let mut step: Step = 0;
            group.bench_function(BenchmarkId::new(name, events), |b| {
                b.iter(|| {
                    for &(channel, target, w) in &list {
                        buffer.add(step, channel, target, w);
                    }
                    let mut acc = 0.0;
                    {
                        let input = buffer.take_step(step);
                        if kind == InputKind::SummedTouched {
                            let (ex, inh) = (input.receptor(0), input.receptor(1));
                            for &i in input.touched() {
                                acc += ex[i as usize] + inh[i as usize];
                            }
                        } else {
                            acc += input.receptor(0).iter().sum::<f64>() + input.receptor(1).iter().sum::<f64>();
                        }
                    }
                    buffer.clear_step(step);
                    step += 1;
                    black_box(acc)
                })
            });
        }
    }
    group.finish();
}

// ---------------------------------------------------------------- CUBA fan-out

fn cuba_fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("cuba_fanout");
    for (name, update) in
        [("4000x80_10ms", Scheduling::EventDriven), ("4000x80_10ms_clock_driven", Scheduling::ClockDriven)]
    {
        let mut sim = laminar_cli::scenarios::cuba(4000, 80.0, 1, false, update)
            .expect("cuba scenario")
            .build(1)
            .expect("cuba build");
        let stop = AtomicBool::new(false);
        // Pilot: 100 ms of transient, then 1 s to measure the synaptic events per 10 ms.
        sim.run(1000, &mut NullObserver, &stop).expect("run");
        let (events0, spikes0) = (sim.synaptic_events(), sim.spike_counts().iter().sum::<u64>());
        sim.run(11_000, &mut NullObserver, &stop).expect("run");
        let events_per_10ms = (sim.synaptic_events() - events0) / 100;
        let rate = (sim.spike_counts().iter().sum::<u64>() - spikes0) as f64 / 4000.0;
        eprintln!("cuba_fanout/{name}: pilot rate {rate:.2} Hz, {events_per_10ms} synaptic events per 10 ms");
        group.throughput(Throughput::Elements(events_per_10ms));
        group.bench_function(name, |b| {
            b.iter(|| {
                let until = sim.now() + 100;
                black_box(sim.run(until, &mut NullObserver, &stop).expect("run"))
            })
        });
    }
    group.finish();
}

// ---------------------------------------------------------------- population step

const SHARD: usize = 1000;
const STEPS: usize = 100;
/// Input events per neuron per step (1 kHz at h = 0.1 ms).
const INPUT_PER_STEP: f64 = 0.1;
/// Length of the pre-generated input schedule (steps), replayed cyclically.
const SCHEDULE: usize = 2000;

/// One model's bench setup: NEST parameters (mostly `I_e`) and input weights (ex, in).
struct ModelCase {
    /// The bench name (the model, or the model and a variant).
    label: &'static str,
    model: &'static str,
    /// The update scheme, if not the model's default.
    scheduling: Option<Scheduling>,
    params: Value,
    w_ex: f64,
    w_in: f64,
}

fn cases() -> Vec<ModelCase> {
    vec![
        ModelCase {
            label: "iaf_psc_exp",
            model: "iaf_psc_exp",
            scheduling: None,
            params: json!({ "I_e": 350.0 }),
            w_ex: 20.0,
            w_in: -40.0,
        },
        // The clock-driven sweep (as `models/cuba.toml` runs it), at the same input.
        ModelCase {
            label: "iaf_psc_exp_clock_driven",
            model: "iaf_psc_exp",
            scheduling: Some(Scheduling::ClockDriven),
            params: json!({ "I_e": 350.0 }),
            w_ex: 20.0,
            w_in: -40.0,
        },
        ModelCase {
            label: "iaf_psc_delta",
            model: "iaf_psc_delta",
            scheduling: None,
            params: json!({ "I_e": 335.0 }),
            w_ex: 0.2,
            w_in: -0.4,
        },
        ModelCase {
            label: "iaf_cond_exp",
            model: "iaf_cond_exp",
            scheduling: None,
            params: json!({ "I_e": 230.0 }),
            w_ex: 4.0,
            w_in: -2.0,
        },
        // The fixed-step option, every neuron of the shard in one vectorised loop per sub-step.
        ModelCase {
            label: "iaf_cond_exp_rk4_vector",
            model: "iaf_cond_exp",
            scheduling: None,
            params: json!({ "I_e": 230.0, "integration": "rk4_vector", "rk4_substeps": 2 }),
            w_ex: 4.0,
            w_in: -2.0,
        },
        ModelCase {
            label: "aeif_cond_alpha",
            model: "aeif_cond_alpha",
            scheduling: None,
            params: json!({ "I_e": 700.0 }),
            w_ex: 4.0,
            w_in: -2.0,
        },
        // The same cell with the fixed-step option (`integration = "rk4"`, two sub-steps).
        ModelCase {
            label: "aeif_cond_alpha_rk4",
            model: "aeif_cond_alpha",
            scheduling: None,
            params: json!({ "I_e": 700.0, "integration": "rk4", "rk4_substeps": 2 }),
            w_ex: 4.0,
            w_in: -2.0,
        },
        // The same, every neuron of the shard in one vectorised loop per sub-step
        // (`integration = "rk4_vector"`).
        ModelCase {
            label: "aeif_cond_alpha_rk4_vector",
            model: "aeif_cond_alpha",
            scheduling: None,
            params: json!({ "I_e": 700.0, "integration": "rk4_vector", "rk4_substeps": 2 }),
            w_ex: 4.0,
            w_in: -2.0,
        },
        ModelCase {
            label: "iaf_psc_exp_ps",
            model: "iaf_psc_exp_ps",
            scheduling: None,
            params: json!({ "I_e": 350.0 }),
            w_ex: 20.0,
            w_in: -40.0,
        },
        ModelCase {
            label: "aeif_cond_alpha_astro",
            model: "aeif_cond_alpha_astro",
            scheduling: None,
            params: json!({ "I_e": 700.0 }),
            w_ex: 4.0,
            w_in: -2.0,
        },
        // The two-compartment cell of the NEST parity case: excitation on the dendrite's
        // AMPA+NMDA receptor, inhibition on a somatic GABA receptor (conductances in uS, > 0).
        ModelCase {
            label: "cm_default_2comp",
            model: "cm_default",
            scheduling: None,
            params: json!({
                "compartments": [
                    {"parent": -1, "params": {"C_m": 10.0, "g_C": 0.0, "g_L": 1.0, "e_L": -70.0}},
                    {"parent": 0, "params": {"C_m": 2.0, "g_C": 0.15, "g_L": 0.1, "e_L": -70.0}},
                ],
                "receptors": [
                    {"compartment": 1, "type": "AMPA_NMDA"},
                    {"compartment": 0, "type": "GABA"},
                ],
            }),
            w_ex: 2.0,
            w_in: 1.0,
        },
        // The two-compartment pyramidal cell (Naud & Sprekeler 2018): somatic drive by I_e,
        // synaptic input on `soma` (receptor 0) and, as negative weights, `basal` (receptor 1).
        ModelCase {
            label: "pyramidal_bac",
            model: "pyramidal_bac",
            scheduling: None,
            params: json!({ "I_e": 500.0, "I_e_apical": 100.0 }),
            w_ex: 20.0,
            w_in: -40.0,
        },
        // The same cell with the vectorised integration (`integration = "rk4_vector"`).
        ModelCase {
            label: "pyramidal_bac_rk4_vector",
            model: "pyramidal_bac",
            scheduling: None,
            params: json!({ "I_e": 500.0, "I_e_apical": 100.0, "integration": "rk4_vector" }),
            w_ex: 20.0,
            w_in: -40.0,
        },
        // Astrocytes receive spikes on one receptor (IP3); both weights are positive.
        ModelCase {
            label: "astrocyte_lr_1994",
            model: "astrocyte_lr_1994",
            scheduling: None,
            params: json!({}),
            w_ex: 1.0,
            w_in: 0.5,
        },
        ModelCase {
            label: "astrocyte_lr_1994_clock_1ms",
            model: "astrocyte_lr_1994",
            scheduling: None,
            params: json!({ "clock_ms": 1.0 }),
            w_ex: 1.0,
            w_in: 0.5,
        },
    ]
}

/// A 1000-neuron shard of one model with its buffer, queue and a cyclic input schedule.
struct ShardBench {
    model: Box<dyn Population>,
    buffer: InputBuffer,
    queue: NextEventQueue,
    spikes: Vec<LocalSpike>,
    graded: Vec<GradedValue>,
    /// Per schedule step: (receptor, target, weight, offset).
    schedule: Vec<Vec<(u8, u32, f64, f64)>>,
    step: Step,
    emitted: u64,
}

impl ShardBench {
    fn new(case: &ModelCase) -> Self {
        let params: Map<String, Value> = case.params.as_object().cloned().unwrap_or_default();
        let factory =
            registry::population_factory_scheduled(case.model, &params, SHARD, case.scheduling).expect("factory");
        let info = factory.info();
        let ctx = BuildContext { resolution: Resolution::new(0.1).expect("resolution"), seed: 1 };
        let mut model = factory.build(0, 0, SHARD, &ctx).expect("build shard");
        let mut rng = SplitMix(7);
        let receptors = info.receptors.len();
        let schedule = (0..SCHEDULE)
            .map(|_| {
                let mut events = Vec::new();
                for target in 0..SHARD as u32 {
                    if rng.uniform() < INPUT_PER_STEP {
                        let ex = rng.uniform() < 0.8;
                        let w = if ex { case.w_ex } else { case.w_in };
                        let receptor = if receptors > 1 && !ex { 1 } else { 0 };
                        let offset = (1.0 - rng.uniform()) * 0.1; // (0, h]
                        events.push((receptor, target, w, offset));
                    }
                }
                events
            })
            .collect();
        let mut queue = NextEventQueue::new();
        model.start(0, &mut queue);
        Self {
            model,
            buffer: InputBuffer::new(SHARD, receptors, 2, info.input),
            queue,
            spikes: Vec::new(),
            graded: Vec::new(),
            schedule,
            step: 0,
            emitted: 0,
        }
    }

    /// Delivers the input due next step (delay one step), then computes this step.
    #[inline]
    fn step(&mut self) {
        let step = self.step;
        let precise = self.buffer.kind() == InputKind::Precise;
        for &(receptor, target, weight, offset) in &self.schedule[(step as usize + 1) % SCHEDULE] {
            if precise {
                self.buffer.add_precise(step + 1, PreciseEvent { target, receptor, offset, weight });
            } else {
                self.buffer.add(step + 1, usize::from(receptor), target as usize, weight);
            }
        }
        self.spikes.clear();
        {
            let input = self.buffer.take_step(step);
            let mut update =
                Update { step, input, queue: &mut self.queue, spikes: &mut self.spikes, graded: &mut self.graded };
            self.model.update(&mut update);
        }
        self.buffer.clear_step(step);
        self.emitted += self.spikes.len() as u64;
        self.step += 1;
    }
}

fn population_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("population_step");
    group.throughput(Throughput::Elements((SHARD * STEPS) as u64));
    for case in cases() {
        let mut shard = ShardBench::new(&case);
        // 1 s to settle and measure the firing rate.
        for _ in 0..10_000 {
            shard.step();
        }
        let before = shard.emitted;
        for _ in 0..10_000 {
            shard.step();
        }
        let rate = (shard.emitted - before) as f64 / SHARD as f64;
        eprintln!("population_step/{}: shard firing rate {rate:.1} Hz", case.label);
        group.bench_function(case.label, |b| {
            b.iter(|| {
                for _ in 0..STEPS {
                    shard.step();
                }
            })
        });
        black_box(shard.emitted);
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .without_plots()
}

criterion_group! {
    name = micro;
    config = config();
    targets = ring_buffer, cuba_fanout, population_step
}
criterion_main!(micro);
