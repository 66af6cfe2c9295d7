//! Engine shards for the stepped models (`iaf_cond_exp`, `aeif_cond_alpha`,
//! `aeif_cond_alpha_astro`, `astrocyte_lr_1994`) and the precise model (`iaf_psc_exp_ps`): they
//! read the step's input from the engine's ring buffer, keep the injected current (devices send
//! changes), and call the model kernels neuron by neuron.
//!
//! Receptors follow NEST's sign convention: a synapse with weight w > 0 targets `ex`, w ≤ 0 `in`.
//! Conductance models receive the inhibitory conductance as −w (a positive conductance), as NEST
//! adds it; the inhibitory receptor therefore expects non-positive weights.
//!
//! Astrocytes emit their slow inward current as a graded value every step
//! ([`ModelInfo::graded_output`] `"SIC"`); `aeif_cond_alpha_astro` receives it, summed and
//! weighted, on its `SIC` receptor (see [`crate::astrocyte_lr_1994`] for the timing).

use laminar_engine::{
    BuildContext, DefaultReceptor, GradedValue, InputKind, LocalSpike, ModelError, ModelFailure, ModelInfo,
    NextEventQueue, Population, PopulationFactory, Recordable, StateError, StateIo, Step, Update,
};

use crate::aeif_cond_alpha::{self as aeif, AeifCondAlpha, AeifCondAlphaParams, NumericalInstability, ShardInput};
use crate::aeif_cond_alpha_astro::{self as aeif_astro, AeifCondAlphaAstro, AeifCondAlphaAstroParams};
use crate::astrocyte_lr_1994::{self as astro, AstrocyteLr1994, AstrocyteLr1994Params};
use crate::iaf_cond_exp::{self as cond, IafCondExp, IafCondExpParams};
use crate::iaf_psc_exp_ps::{IafPscExpPs, IafPscExpPsInitialState, IafPscExpPsParams, PreciseInput};
use crate::odeint::Integration;

fn finite_or_err(value: f64) -> Result<(), String> {
    if value.is_finite() { Ok(()) } else { Err(format!("{value} is not a finite number")) }
}

// ---------------------------------------------------------------- iaf_cond_exp

pub static IAF_COND_EXP: ModelInfo = ModelInfo {
    name: "iaf_cond_exp",
    receptors: laminar_engine::receptor_names!["ex", "in"],
    default_receptor: DefaultReceptor::BySign,
    recordables: std::borrow::Cow::Borrowed(cond::ENGINE_RECORDABLES),
    input: InputKind::Summed,
    weight_units: "nS",
    counts_spikes: false,
    source_only: false,
    graded_output: None,
    current_on_arrival: false,
};

/// Builds `iaf_cond_exp` shards.
pub type IafCondExpFactory = ConductanceFactory<IafCondExp>;

// ---------------------------------------------------------------- aeif_cond_alpha

pub static AEIF_COND_ALPHA: ModelInfo = ModelInfo {
    name: "aeif_cond_alpha",
    receptors: laminar_engine::receptor_names!["ex", "in"],
    default_receptor: DefaultReceptor::BySign,
    recordables: std::borrow::Cow::Borrowed(aeif::ENGINE_RECORDABLES),
    input: InputKind::Summed,
    weight_units: "nS",
    counts_spikes: false,
    source_only: false,
    graded_output: None,
    current_on_arrival: false,
};

/// Builds `aeif_cond_alpha` shards.
pub type AeifCondAlphaFactory = ConductanceFactory<AeifCondAlpha>;

// ---------------------------------------------------------------- aeif_cond_alpha_astro

pub static AEIF_COND_ALPHA_ASTRO: ModelInfo = ModelInfo {
    name: "aeif_cond_alpha_astro",
    receptors: laminar_engine::receptor_names!["ex", "in", "SIC"],
    default_receptor: DefaultReceptor::BySign,
    recordables: std::borrow::Cow::Borrowed(&[
        Recordable::new("V_m", "mV"),
        Recordable::new("w", "pA"),
        Recordable::new("g_ex", "nS"),
        Recordable::new("g_in", "nS"),
        Recordable::new("dg_ex", "nS/ms"),
        Recordable::new("dg_in", "nS/ms"),
        Recordable::new("I_SIC", "pA"),
    ]),
    input: InputKind::Summed,
    weight_units: "nS",
    counts_spikes: false,
    source_only: false,
    graded_output: None,
    current_on_arrival: false,
};

/// Builds `aeif_cond_alpha_astro` shards.
pub type AeifCondAlphaAstroFactory = ConductanceFactory<AeifCondAlphaAstro>;

/// Receptor index of the slow inward current in [`AEIF_COND_ALPHA_ASTRO`].
const SIC_RECEPTOR: usize = 2;

/// The stepped conductance-based kernels, as `ConductanceShard` drives them.
pub trait ConductanceKernel: Send + Sized + 'static {
    /// The model's parameter set (NEST's names).
    type Params: Clone + std::fmt::Debug + Send + Sync;
    /// The model's static description.
    const INFO: &'static ModelInfo;
    /// Whether the kernel takes a slow inward current on receptor `SIC_RECEPTOR`.
    const TAKES_SIC: bool = false;

    /// `len` neurons with `params` at resolution `h_ms`.
    fn create(params: Self::Params, len: usize, h_ms: f64) -> Result<Self, String>;

    /// One step of neuron `i` with the step's input (`sic` is 0 unless [`Self::TAKES_SIC`]);
    /// returns the number of spikes emitted in it.
    fn step(&mut self, i: usize, g_ex: f64, g_in: f64, i_stim: f64, sic: f64) -> u32;
    /// One step of every neuron: `ex`, `inh` (negative, as the buffer holds inhibitory weights),
    /// `i_stim` and `sic` per neuron; `emit(i)` once per spike of neuron `i`, in neuron order.
    /// By default one neuron at a time; a kernel with a vectorised integration overrides it.
    fn step_all(&mut self, ex: &[f64], inh: &[f64], i_stim: &[f64], sic: Option<&[f64]>, emit: impl FnMut(usize)) {
        step_each(self, ex, inh, i_stim, sic, emit);
    }
    fn get(&self, variable: usize, i: usize) -> f64;
    fn set(&mut self, variable: usize, i: usize, value: f64);
    /// Saves or restores the kernel's per-neuron state for a checkpoint (see
    /// [`Population::state`]).
    fn state(&mut self, io: &mut StateIo) -> Result<(), StateError>;
    /// The kernel's first numerical failure since the last call (NEST's `NumericalInstability`);
    /// kernels that cannot fail keep the default.
    fn take_instability(&mut self) -> Option<NumericalInstability> {
        None
    }
}

/// [`ConductanceKernel::step_all`] one neuron at a time.
fn step_each<K: ConductanceKernel>(
    kernel: &mut K,
    ex: &[f64],
    inh: &[f64],
    i_stim: &[f64],
    sic: Option<&[f64]>,
    mut emit: impl FnMut(usize),
) {
    for i in 0..i_stim.len() {
        for _ in 0..kernel.step(i, ex[i], -inh[i], i_stim[i], sic.map_or(0.0, |s| s[i])) {
            emit(i);
        }
    }
}

/// Builds shards of a stepped conductance-based model from its parameters.
#[derive(Debug, Clone)]
pub struct ConductanceFactory<K: ConductanceKernel> {
    pub params: K::Params,
}

impl<K: ConductanceKernel> PopulationFactory for ConductanceFactory<K> {
    fn info(&self) -> &ModelInfo {
        K::INFO
    }

    fn build(&self, _: usize, _: u64, len: usize, ctx: &BuildContext) -> Result<Box<dyn Population>, ModelError> {
        let kernel = K::create(self.params.clone(), len, ctx.resolution.h()).map_err(ModelError)?;
        Ok(Box::new(ConductanceShard { kernel, i_stim: vec![0.0; len], failure: None }))
    }
}

impl ConductanceKernel for IafCondExp {
    type Params = IafCondExpParams;
    const INFO: &'static ModelInfo = &IAF_COND_EXP;
    fn create(params: Self::Params, len: usize, h_ms: f64) -> Result<Self, String> {
        IafCondExp::new(params, len, h_ms).map_err(|e| e.to_string())
    }
    fn step(&mut self, i: usize, g_ex: f64, g_in: f64, i_stim: f64, _sic: f64) -> u32 {
        u32::from(self.update(i, g_ex, g_in, i_stim))
    }
    fn get(&self, variable: usize, i: usize) -> f64 {
        IafCondExp::get(self, cond::Recordable::ALL[variable], i)
    }
    fn set(&mut self, variable: usize, i: usize, value: f64) {
        IafCondExp::set(self, cond::Recordable::ALL[variable], i, value)
    }
    fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        IafCondExp::state(self, io)
    }
    fn step_all(&mut self, ex: &[f64], inh: &[f64], i_stim: &[f64], _sic: Option<&[f64]>, emit: impl FnMut(usize)) {
        if self.params().integration == Integration::Rk4Vector {
            self.step_shard(ex, inh, i_stim, emit);
        } else {
            step_each(self, ex, inh, i_stim, None, emit);
        }
    }
}

impl ConductanceKernel for AeifCondAlpha {
    type Params = AeifCondAlphaParams;
    const INFO: &'static ModelInfo = &AEIF_COND_ALPHA;
    fn create(params: Self::Params, len: usize, h_ms: f64) -> Result<Self, String> {
        AeifCondAlpha::new(params, len, h_ms).map_err(|e| e.to_string())
    }
    fn step(&mut self, i: usize, g_ex: f64, g_in: f64, i_stim: f64, _sic: f64) -> u32 {
        // With t_ref = 0 a neuron may cross V_peak more than once per step (NEST sends each).
        self.update_counting_spikes(i, g_ex, g_in, i_stim)
    }
    fn get(&self, variable: usize, i: usize) -> f64 {
        AeifCondAlpha::get(self, aeif::Recordable::ALL[variable], i)
    }
    fn set(&mut self, variable: usize, i: usize, value: f64) {
        AeifCondAlpha::set(self, aeif::Recordable::ALL[variable], i, value)
    }
    fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        AeifCondAlpha::state(self, io)
    }
    fn take_instability(&mut self) -> Option<NumericalInstability> {
        AeifCondAlpha::take_instability(self)
    }
    fn step_all(&mut self, ex: &[f64], inh: &[f64], i_stim: &[f64], _sic: Option<&[f64]>, emit: impl FnMut(usize)) {
        if self.params().integration == Integration::Rk4Vector {
            self.step_shard(ShardInput { ex, inh, i_stim, i_extra: None }, emit);
        } else {
            step_each(self, ex, inh, i_stim, None, emit);
        }
    }
}

impl ConductanceKernel for AeifCondAlphaAstro {
    type Params = AeifCondAlphaAstroParams;
    const INFO: &'static ModelInfo = &AEIF_COND_ALPHA_ASTRO;
    const TAKES_SIC: bool = true;
    fn create(params: Self::Params, len: usize, h_ms: f64) -> Result<Self, String> {
        AeifCondAlphaAstro::new(params, len, h_ms).map_err(|e| e.to_string())
    }

    fn step(&mut self, i: usize, g_ex: f64, g_in: f64, i_stim: f64, sic: f64) -> u32 {
        self.update_counting_spikes(i, g_ex, g_in, i_stim, sic)
    }
    fn get(&self, variable: usize, i: usize) -> f64 {
        AeifCondAlphaAstro::get(self, aeif_astro::Recordable::ALL[variable], i)
    }
    fn set(&mut self, variable: usize, i: usize, value: f64) {
        AeifCondAlphaAstro::set(self, aeif_astro::Recordable::ALL[variable], i, value)
    }
    fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        AeifCondAlphaAstro::state(self, io)
    }
    fn take_instability(&mut self) -> Option<NumericalInstability> {
        AeifCondAlphaAstro::take_instability(self)
    }
    fn step_all(&mut self, ex: &[f64], inh: &[f64], i_stim: &[f64], sic: Option<&[f64]>, emit: impl FnMut(usize)) {
        match sic {
            Some(sic) if self.neuron().params().integration == Integration::Rk4Vector => {
                self.step_shard(ShardInput { ex, inh, i_stim, i_extra: None }, sic, emit);
            }
            _ => step_each(self, ex, inh, i_stim, sic, emit),
        }
    }
}

/// A shard of a stepped conductance-based model: every neuron every step.
struct ConductanceShard<K> {
    kernel: K,
    i_stim: Vec<f64>,
    /// The first numerical failure not yet taken by the engine.
    failure: Option<ModelFailure>,
}

impl<K: ConductanceKernel> Population for ConductanceShard<K> {
    fn len(&self) -> usize {
        self.i_stim.len()
    }

    fn update(&mut self, u: &mut Update<'_>) {
        let (ex, inh, cur) = (u.input.receptor(0), u.input.receptor(1), u.input.current_change());
        let sic = if K::TAKES_SIC { Some(u.input.receptor(SIC_RECEPTOR)) } else { None };
        for (i_stim, change) in self.i_stim.iter_mut().zip(cur) {
            *i_stim += change;
        }
        let spikes = &mut *u.spikes;
        self.kernel.step_all(ex, inh, &self.i_stim, sic, |i| spikes.push(LocalSpike { local: i as u32, offset: 0.0 }));
        if let Some(e) = self.kernel.take_instability() {
            // The first since the engine last asked: later ones are of the same failed run.
            self.failure.get_or_insert(ModelFailure { local: e.neuron as u32, step: u.step, message: e.what() });
        }
    }

    fn take_failure(&mut self) -> Option<ModelFailure> {
        self.failure.take()
    }

    /// The kernel's neurons ([`ConductanceKernel::state`]) and the injected current.
    fn state(&mut self, io: &mut StateIo, _queue: &mut NextEventQueue) -> Result<(), StateError> {
        self.kernel.state(io)?;
        io.neurons("i_stim", &mut self.i_stim)
    }

    fn sample(&self, variable: usize, i: usize, _: Step) -> f64 {
        self.kernel.get(variable, i)
    }

    fn set_state(&mut self, variable: usize, i: usize, value: f64) -> Result<(), String> {
        finite_or_err(value)?;
        self.kernel.set(variable, i, value);
        Ok(())
    }
}

// ---------------------------------------------------------------- astrocyte_lr_1994

pub static ASTROCYTE_LR_1994: ModelInfo = ModelInfo {
    name: "astrocyte_lr_1994",
    receptors: laminar_engine::receptor_names!["ip3"],
    default_receptor: DefaultReceptor::First,
    recordables: std::borrow::Cow::Borrowed(astro::ENGINE_RECORDABLES),
    input: InputKind::Summed,
    // Spike weights scale delta_IP3: dimensionless, and non-negative in NEST.
    weight_units: "1",
    counts_spikes: false,
    source_only: false,
    graded_output: Some("SIC"),
    current_on_arrival: false,
};

#[derive(Debug, Clone)]
pub struct AstrocyteLr1994Factory {
    pub params: AstrocyteLr1994Params,
}

impl PopulationFactory for AstrocyteLr1994Factory {
    fn info(&self) -> &ModelInfo {
        &ASTROCYTE_LR_1994
    }

    fn build(&self, _: usize, _: u64, len: usize, ctx: &BuildContext) -> Result<Box<dyn Population>, ModelError> {
        let kernel = AstrocyteLr1994::new(self.params.clone(), len, ctx.resolution.h())
            .map_err(|e| ModelError(e.to_string()))?;
        Ok(Box::new(AstrocyteShard { kernel, j_noise: vec![0.0; len] }))
    }
}

/// A shard of astrocytes: every astrocyte every step (integrating when its clock ticks), each
/// emitting its SIC as a graded value.
struct AstrocyteShard {
    kernel: AstrocyteLr1994,
    /// Injected current (the calcium flux `J_noise`, µM/ms) acting in the current step.
    j_noise: Vec<f64>,
}

impl Population for AstrocyteShard {
    fn len(&self) -> usize {
        self.j_noise.len()
    }

    fn update(&mut self, u: &mut Update<'_>) {
        let (ip3, cur) = (u.input.receptor(0), u.input.current_change());
        for i in 0..self.j_noise.len() {
            self.j_noise[i] += cur[i];
            let sic = self.kernel.update(i, u.step, ip3[i], self.j_noise[i]);
            if sic != 0.0 {
                u.graded.push(GradedValue { local: i as u32, value: sic });
            }
        }
    }

    /// The astrocytes ([`AstrocyteLr1994::state`]) and the injected calcium flux.
    fn state(&mut self, io: &mut StateIo, _queue: &mut NextEventQueue) -> Result<(), StateError> {
        self.kernel.state(io)?;
        io.neurons("j_noise", &mut self.j_noise)
    }

    fn sample(&self, variable: usize, i: usize, _: Step) -> f64 {
        self.kernel.get(astro::Recordable::ALL[variable], i)
    }

    fn set_state(&mut self, variable: usize, i: usize, value: f64) -> Result<(), String> {
        self.kernel.set(astro::Recordable::ALL[variable], i, value).map_err(|e| e.to_string())
    }
}

// ---------------------------------------------------------------- iaf_psc_exp_ps

pub static IAF_PSC_EXP_PS: ModelInfo = ModelInfo {
    name: "iaf_psc_exp_ps",
    receptors: laminar_engine::receptor_names!["ex", "in"],
    default_receptor: DefaultReceptor::BySign,
    recordables: std::borrow::Cow::Borrowed(&[
        Recordable::new("V_m", "mV"),
        Recordable::new("I_syn_ex", "pA"),
        Recordable::new("I_syn_in", "pA"),
    ]),
    input: InputKind::Precise,
    weight_units: "pA",
    counts_spikes: false,
    source_only: false,
    graded_output: None,
    current_on_arrival: false,
};

#[derive(Debug, Clone)]
pub struct IafPscExpPsFactory {
    pub params: IafPscExpPsParams,
    pub initial: IafPscExpPsInitialState,
}

impl PopulationFactory for IafPscExpPsFactory {
    fn info(&self) -> &ModelInfo {
        &IAF_PSC_EXP_PS
    }

    fn build(&self, _: usize, _: u64, len: usize, ctx: &BuildContext) -> Result<Box<dyn Population>, ModelError> {
        let mut kernel =
            IafPscExpPs::new(self.params, len, ctx.resolution.h()).map_err(|e| ModelError(e.to_string()))?;
        for i in 0..len {
            kernel.set_initial_state(i, &self.initial).map_err(|e| ModelError(e.to_string()))?;
        }
        Ok(Box::new(PscExpPsShard { kernel, i_stim: vec![0.0; len], events: Vec::new(), offsets: Vec::new() }))
    }
}

struct PscExpPsShard {
    kernel: IafPscExpPs,
    i_stim: Vec<f64>,
    events: Vec<PreciseInput>,
    offsets: Vec<f64>,
}

impl Population for PscExpPsShard {
    fn len(&self) -> usize {
        self.i_stim.len()
    }

    fn update(&mut self, u: &mut Update<'_>) {
        let cur = u.input.current_change();
        let precise = u.input.precise();
        let mut cursor = 0;
        for i in 0..self.i_stim.len() {
            self.i_stim[i] += cur[i];
            self.events.clear();
            while let Some(e) = precise.get(cursor).filter(|e| e.target as usize == i) {
                self.events.push(PreciseInput { offset: e.offset, weight: e.weight });
                cursor += 1;
            }
            self.offsets.clear();
            self.kernel.update(i, &self.events, self.i_stim[i], &mut self.offsets);
            for &offset in &self.offsets {
                u.spikes.push(LocalSpike { local: i as u32, offset });
            }
        }
    }

    /// The neurons ([`IafPscExpPs::state`]) and the injected current; `events` and `offsets`
    /// are scratch, refilled for every neuron.
    fn state(&mut self, io: &mut StateIo, _queue: &mut NextEventQueue) -> Result<(), StateError> {
        self.kernel.state(io)?;
        io.neurons("i_stim", &mut self.i_stim)
    }

    fn sample(&self, variable: usize, i: usize, _: Step) -> f64 {
        match variable {
            0 => self.kernel.v_m(i),
            1 => self.kernel.i_syn_ex(i),
            _ => self.kernel.i_syn_in(i),
        }
    }

    fn set_state(&mut self, variable: usize, i: usize, value: f64) -> Result<(), String> {
        let r = match variable {
            0 => self.kernel.set_v_m(i, value),
            1 => self.kernel.set_i_syn_ex(i, value),
            _ => self.kernel.set_i_syn_in(i, value),
        };
        r.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use laminar_engine::{DeviceEntry, Dist, NetworkBuilder, Observer, Projection, RecordingSpec, Resolution, Rule};
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::registry;

    /// Spikes `(population, node, time bits)` and frames `(recording, step, value bits)`.
    #[derive(Default)]
    struct Collect {
        spikes: Vec<(usize, u64, u64)>,
        frames: Vec<(usize, Step, Vec<u64>)>,
    }

    impl Observer for Collect {
        fn spikes(&mut self, spikes: &[laminar_engine::SpikeRecord]) -> Result<(), String> {
            self.spikes.extend(spikes.iter().map(|s| (s.population, s.node, s.time_ms.to_bits())));
            Ok(())
        }
        fn frame(&mut self, recording: usize, step: Step, values: &[f64]) -> Result<(), String> {
            self.frames.push((recording, step, values.iter().map(|v| v.to_bits()).collect()));
            Ok(())
        }
    }

    const N: usize = 7;
    const MODELS: [&str; 4] = ["iaf_psc_delta", "iaf_psc_exp_ps", "iaf_cond_exp", "aeif_cond_alpha"];

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    /// Precise spike trains into the models no shipped model file runs (and `iaf_psc_delta`),
    /// each near threshold by `I_e`, with a step current that changes before and after the stops.
    fn network(threads: usize) -> laminar_engine::Simulation {
        let mut b = NetworkBuilder::new(Resolution::new(0.1).unwrap(), 7);
        let mut x = 12345u64;
        let times: Vec<Vec<f64>> = (0..N)
            .map(|_| {
                let mut t = 0.0;
                (0..60)
                    .map(|_| {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        t += 0.05 + (x >> 11) as f64 / (1u64 << 53) as f64 * 6.0;
                        t
                    })
                    .collect()
            })
            .collect();
        let source = json!({ "spike_times_per_node": times, "precise_times": true });
        let f = registry::population_factory("spike_generator", &obj(source), N).unwrap();
        let src = b.add_population("src", N, f);
        let params = [
            json!({ "I_e": 370.0, "V_min": -75.0 }),
            json!({ "I_e": 370.0 }),
            json!({ "I_e": 240.0 }),
            json!({ "I_e": 560.0 }),
        ];
        // iaf_cond_exp's conductance jumps are large enough to make the integrator shrink its
        // sub-step, so that a lost sub-step suggestion shows in the traces.
        let weights = [(-1.5, 3.0), (-300.0, 500.0), (-60.0, 90.0), (-8.0, 12.0)];
        for (m, model) in MODELS.iter().enumerate() {
            let f = registry::population_factory(model, &obj(params[m].clone()), N).unwrap();
            let pop = b.add_population(model, N, f);
            let (low, high) = weights[m];
            b.add_projection(Projection::new(
                &format!("src->{model}"),
                src,
                pop,
                Rule::FixedIndegree { k: 3 },
                Dist::Uniform { low, high },
                Dist::Constant(1.0),
            ));
            let steps = json!({ "amplitude_times": [40.0, 95.0, 150.0], "amplitude_values": [60.0, -90.0, 30.0] });
            b.add_device(DeviceEntry {
                name: format!("current->{model}"),
                factory: registry::stimulus_factory("step_current_generator", &obj(steps)).unwrap(),
                population: pop,
                targets: (0..N as u64).step_by(2).collect(),
                weight: 1.0,
                delay_ms: 1.0,
                receptor: None,
            });
            b.add_recording(RecordingSpec {
                population: pop,
                variable: 0,
                nodes: (0..N as u64).collect(),
                interval: 1,
            });
        }
        b.build(threads).unwrap()
    }

    /// Each model resumes from a checkpoint taken at any step, into any thread count, with the
    /// spikes and traces of the uninterrupted run, bit for bit (the shipped model files' resume
    /// tests, `tests/checkpoint.rs`, cover the other models).
    #[test]
    fn models_without_a_shipped_file_resume_bit_identically() {
        let (end, stop) = (2000, AtomicBool::new(false));
        let mut whole = Collect::default();
        network(2).run(end, &mut whole, &stop).unwrap();
        whole.frames.sort_by_key(|f| (f.0, f.1));
        for m in 0..MODELS.len() {
            let spikes = whole.spikes.iter().filter(|s| s.0 == m + 1).count();
            assert!(spikes > 10, "{}: {spikes} spikes", MODELS[m]);
        }
        for (before, after, at) in [(1, 3, 1), (2, 1, 777), (3, 2, 1503), (2, 2, 1999)] {
            let mut parts = Collect::default();
            let mut first = network(before);
            first.run(at, &mut parts, &stop).unwrap();
            let state = first.save_state().unwrap();
            let mut second = network(after);
            second.restore_state(at, state).unwrap();
            second.run(end, &mut parts, &stop).unwrap();
            // Frames come in blocks per recording; a stop splits a block.
            parts.frames.sort_by_key(|f| (f.0, f.1));
            assert_eq!(whole.spikes, parts.spikes, "stopped at step {at}, {before} -> {after} threads: spikes");
            assert!(whole.frames == parts.frames, "stopped at step {at}, {before} -> {after} threads: traces");
        }
    }
}
