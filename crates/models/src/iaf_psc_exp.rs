//! `iaf_psc_exp`: leaky integrate-and-fire neuron with exponential post-synaptic currents,
//! integrated exactly and updated **event-driven**.
//!
//! # Equations (NEST 3.10 `iaf_psc_exp`; units ms, mV, pF, pA)
//! With `u = V_m − E_L`:
//! ```text
//! du/dt       = −u/tau_m + (I_syn_ex + I_syn_in + I_e + I_stim)/C_m
//! dI_syn_ex/dt = −I_syn_ex/tau_syn_ex     (+ w·δ(t − t_spike) for w > 0)
//! dI_syn_in/dt = −I_syn_in/tau_syn_in     (+ w·δ(t − t_spike) for w ≤ 0)
//! ```
//! Spike when `V_m ≥ V_th` at the end of a step; then `V_m ← V_reset` and the membrane is clamped
//! for `t_ref` (rounded to steps) while the synaptic currents keep evolving.
//!
//! # Integration and update order
//! Exact integration (Rotter & Diesmann 1999) with NEST's propagators: per step,
//! `u ← P22·u + P21ex·I_ex + P21in·I_in + P20·(I_e + I_stim)` (skipped while refractory), then
//! `I ← P11·I`, then the step's spike input is added to the currents, then the threshold is
//! checked. `P21` uses NEST's numerically stable form
//! `P21 = τ_s τ_m /(C (τ_m − τ_s)) · e^{−h/τ_s} · expm1(h (τ_m − τ_s)/(τ_s τ_m))`, falling back to
//! the singular limit `h/C · e^{−h/τ_m}` when τ_s ≈ τ_m. Injected current acts in the step it is
//! given for (NEST reads it one step earlier into `i_0`, which is the same alignment).
//!
//! # Event-driven update
//! The state is linear between inputs, so `n` quiet steps are one closed-form propagation with the
//! propagators of `n·h` (after first spending any remaining refractory steps, during which only the
//! currents decay). A neuron is touched only when input arrives or when its check step is due.
//! The check step is a conservative prediction of the next threshold crossing. The currents only
//! decay, so until the next input `du/dt ≤ −u/τ_m + J` with the constant
//! `J = (max(I_ex,0) + max(I_in,0) + I_e + I_stim)/C_m`, and by comparison `u` stays below the
//! relaxation `v(t) = u_J + (u₀ − u_J)·e^{−t/τ_m}` towards `u_J = J·τ_m`. If `u_J ≤ θ`, `u` never
//! reaches `θ`; otherwise not before `v` does, at `τ_m·ln x` with `x = (u_J − u₀)/(u_J − θ) ≥ 1`.
//! With `ln x ≥ 2(x − 1)/(x + 1)` that is not before `2τ_m(θ − u₀)/(2u_J − u₀ − θ)`: one division,
//! no logarithm (this runs for every input), and within 10 % of `τ_m·ln x` for `x ≤ 3`, where the
//! tangent bound `(θ − u₀)/(u_J − u₀)·τ_m` it replaced is up to 40 % short (CUBA: 19 % fewer
//! checks, the same spikes).
//! The neuron is checked at the first step that could cross; if it has not crossed, the bound is
//! recomputed there (a sequence that converges from below). Between checks nothing runs.
//!
//! # Clock-driven update (`update = "clock-driven"`)
//! [`IafPscExpClocked`] computes the same step for every neuron in every step, with NEST's
//! operations in NEST's order (the membrane update reads the currents before the step's input;
//! the input is added after the decay; the threshold is checked on the membrane), over
//! struct-of-arrays state in one branch-free loop that the compiler vectorises. The same loop
//! reads each neuron's spike input from the ring buffer and zeroes it ([`InputKind::Drained`]):
//! like NEST, every neuron adds its input every step, zero or not, and the slot costs one pass
//! over memory. The loop is
//! compiled for the portable baseline, AVX2 and AVX-512 and chosen at run time; no path fuses
//! multiplies and adds, so every path gives the same bits. Faster when most neurons receive
//! input every few steps (CUBA: 2× at 4000 neurons, 2.3× at 40,000), slower when most are
//! quiet (the sparse benchmark's 1 %-driven network), where the event-driven update skips them.
//!
//! References: NEST `models/iaf_psc_exp.{h,cpp}`, `libnestutil/iaf_propagator.cpp`;
//! Rotter & Diesmann (1999) Biol Cybern 81:381; Tsodyks, Uziel & Markram (2000) J Neurosci 20:RC50.

use laminar_engine::{
    BuildContext, DefaultReceptor, InputKind, LocalSpike, ModelError, ModelInfo, NextEventQueue, Population,
    PopulationFactory, Recordable, StateError, StateIo, Step, StepInput, Update,
};
use serde::Deserialize;

use crate::Scheduling;
use crate::lazy::{GAP_TABLE_LEN, GapTable, LazyClock, LazyModel, start_lazily, update_lazily};
use crate::params::{ParamError, Validate, finite, less_than, non_negative, positive};
use crate::vector_level::VectorLevel;

/// Parameters (NEST names and defaults). `V_m`, `I_syn_ex`, `I_syn_in` are initial values.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IafPscExpParams {
    #[serde(rename = "E_L")]
    pub e_l: f64,
    #[serde(rename = "C_m")]
    pub c_m: f64,
    pub tau_m: f64,
    pub t_ref: f64,
    #[serde(rename = "V_th")]
    pub v_th: f64,
    #[serde(rename = "V_reset")]
    pub v_reset: f64,
    pub tau_syn_ex: f64,
    pub tau_syn_in: f64,
    #[serde(rename = "I_e")]
    pub i_e: f64,
    /// Initial membrane potential (mV).
    #[serde(rename = "V_m")]
    pub v_m: f64,
    /// Initial excitatory synaptic current (pA).
    #[serde(rename = "I_syn_ex")]
    pub i_syn_ex: f64,
    /// Initial inhibitory synaptic current (pA).
    #[serde(rename = "I_syn_in")]
    pub i_syn_in: f64,
}

impl Default for IafPscExpParams {
    fn default() -> Self {
        Self {
            e_l: -70.0,
            c_m: 250.0,
            tau_m: 10.0,
            t_ref: 2.0,
            v_th: -55.0,
            v_reset: -70.0,
            tau_syn_ex: 2.0,
            tau_syn_in: 2.0,
            i_e: 0.0,
            v_m: -70.0,
            i_syn_ex: 0.0,
            i_syn_in: 0.0,
        }
    }
}

impl Validate for IafPscExpParams {
    fn validate(&self) -> Result<(), ParamError> {
        positive("C_m", self.c_m, "pF")?;
        positive("tau_m", self.tau_m, "ms")?;
        positive("tau_syn_ex", self.tau_syn_ex, "ms")?;
        positive("tau_syn_in", self.tau_syn_in, "ms")?;
        non_negative("t_ref", self.t_ref, "ms")?;
        for (f, v, u) in [
            ("E_L", self.e_l, "mV"),
            ("V_th", self.v_th, "mV"),
            ("V_reset", self.v_reset, "mV"),
            ("I_e", self.i_e, "pA"),
            ("V_m", self.v_m, "mV"),
            ("I_syn_ex", self.i_syn_ex, "pA"),
            ("I_syn_in", self.i_syn_in, "pA"),
        ] {
            finite(f, v, u)?;
        }
        less_than("V_reset", self.v_reset, "V_th", self.v_th)
    }
}

/// NEST's `IAFPropagatorExp`: the response of `u` to a unit synaptic current over `t` ms.
pub fn propagator_p21(tau_syn: f64, tau_m: f64, c_m: f64, t: f64) -> f64 {
    let beta = tau_syn * tau_m / (tau_m - tau_syn);
    let gamma = beta / c_m;
    let inv_beta = (tau_m - tau_syn) / (tau_syn * tau_m);
    let p = gamma * (-t / tau_syn).exp() * (t * inv_beta).exp_m1();
    if p.is_normal() && p > 0.0 { p } else { t / c_m * (-t / tau_m).exp() }
}

pub static INFO: ModelInfo = info(InputKind::SummedTouched);

/// [`INFO`] for the clock-driven update: its sweep reads and zeroes every neuron's input
/// ([`InputKind::Drained`]), so delivery keeps no list of touched neurons.
pub static INFO_CLOCK_DRIVEN: ModelInfo = info(InputKind::Drained);

const RECORDABLES: &[Recordable] =
    &[Recordable::new("V_m", "mV"), Recordable::new("I_syn_ex", "pA"), Recordable::new("I_syn_in", "pA")];

/// The model's description, fed by a buffer of kind `input`.
const fn info(input: InputKind) -> ModelInfo {
    ModelInfo {
        name: "iaf_psc_exp",
        receptors: laminar_engine::receptor_names!["ex", "in"],
        default_receptor: DefaultReceptor::BySign,
        recordables: std::borrow::Cow::Borrowed(RECORDABLES),
        input,
        weight_units: "pA",
        counts_spikes: false,
        source_only: false,
        graded_output: None,
        current_on_arrival: false,
    }
}

const V_M: usize = 0;
const I_SYN_EX: usize = 1;
const I_SYN_IN: usize = 2;

/// Propagators over a gap of n steps: `[P22ⁿ, P11exⁿ, P11inⁿ, P21ex(nh), P21in(nh), P20(nh)]`.
#[derive(Debug, Clone, Copy)]
struct Propagators {
    h: f64,
    tau_m: f64,
    tau_ex: f64,
    tau_in: f64,
    c_m: f64,
}

impl Propagators {
    fn over(&self, n: u64) -> [f64; 6] {
        let t = n as f64 * self.h;
        let p22 = (-t / self.tau_m).exp();
        [
            p22,
            (-t / self.tau_ex).exp(),
            (-t / self.tau_in).exp(),
            propagator_p21(self.tau_ex, self.tau_m, self.c_m, t),
            propagator_p21(self.tau_in, self.tau_m, self.c_m, t),
            self.tau_m / self.c_m * (1.0 - p22),
        ]
    }
}

/// Builds `iaf_psc_exp` shards.
#[derive(Debug, Clone)]
pub struct IafPscExpFactory {
    pub params: IafPscExpParams,
    /// Event-driven (the default) or clock-driven update; see the module docs.
    pub scheduling: Scheduling,
}

impl PopulationFactory for IafPscExpFactory {
    fn info(&self) -> &ModelInfo {
        match self.scheduling {
            Scheduling::EventDriven => &INFO,
            Scheduling::ClockDriven => &INFO_CLOCK_DRIVEN,
        }
    }

    fn build(&self, _: usize, _: u64, len: usize, ctx: &BuildContext) -> Result<Box<dyn Population>, ModelError> {
        self.params.validate().map_err(|e| ModelError(e.to_string()))?;
        let h = ctx.resolution.h();
        let refractory = crate::iaf_cond_exp::nest_steps_rounded_up("t_ref", self.params.t_ref, h)
            .map_err(|e| ModelError(e.to_string()))?;
        Ok(match self.scheduling {
            Scheduling::EventDriven => Box::new(IafPscExp::new(&self.params, len, h, Step::from(refractory))),
            Scheduling::ClockDriven => {
                let steps = u16::try_from(refractory).map_err(|_| {
                    ModelError(format!(
                        "t_ref = {}: {refractory} steps of {h} ms; the clock-driven update counts at most {} \
                         refractory steps (use update = \"event-driven\")",
                        crate::params::compact(self.params.t_ref),
                        u16::MAX
                    ))
                })?;
                Box::new(IafPscExpClocked::new(&self.params, len, h, steps))
            }
        })
    }
}

/// The state of one `iaf_psc_exp` neuron (kept with its clock in one cache line, see
/// `LazyNeuron`).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Neuron {
    /// Membrane potential relative to E_L (mV), at the start of step `synced`.
    u: f64,
    i_ex: f64,
    i_in: f64,
    /// Injected current from devices (pA), constant between changes.
    i_stim: f64,
    /// Remaining refractory steps.
    refractory: u32,
}

/// A shard of `iaf_psc_exp` neurons.
#[derive(Debug, Clone)]
pub struct IafPscExp {
    clock: LazyClock<Neuron>,
    // Parameters, in the units of the update.
    e_l: f64,
    i_e: f64,
    theta: f64,
    u_reset: f64,
    inv_c_m: f64,
    tau_m: f64,
    /// 2·τ_m/h: the crossing bound's factor, in steps.
    two_tau_m_steps: f64,
    refractory_steps: u32,
    prop: Propagators,
    one_step: [f64; 6],
    gaps: GapTable<6>,
}

impl IafPscExp {
    pub fn new(p: &IafPscExpParams, n: usize, h: f64, refractory_steps: Step) -> Self {
        let prop = Propagators { h, tau_m: p.tau_m, tau_ex: p.tau_syn_ex, tau_in: p.tau_syn_in, c_m: p.c_m };
        let initial = Neuron { u: p.v_m - p.e_l, i_ex: p.i_syn_ex, i_in: p.i_syn_in, i_stim: 0.0, refractory: 0 };
        Self {
            clock: LazyClock::new(n, initial),
            e_l: p.e_l,
            i_e: p.i_e,
            theta: p.v_th - p.e_l,
            u_reset: p.v_reset - p.e_l,
            inv_c_m: 1.0 / p.c_m,
            tau_m: p.tau_m,
            two_tau_m_steps: 2.0 * p.tau_m / h,
            refractory_steps: refractory_steps as u32,
            prop,
            one_step: prop.over(1),
            gaps: GapTable::new(GAP_TABLE_LEN, |n| prop.over(n)),
        }
    }

    /// State of a neuron in state `s` after `n` quiet steps (`i_stim` is unchanged).
    // Inlined into the per-input update (the compiler otherwise keeps it out of line).
    #[inline(always)]
    fn propagate(&self, s: &Neuron, n: u64) -> Neuron {
        let (mut u, mut ie, mut ii, r) = (s.u, s.i_ex, s.i_in, s.refractory);
        if n == 0 {
            return *s;
        }
        let clamped = u64::from(r).min(n);
        if clamped > 0 {
            let p = self.gaps.get(clamped, |k| self.prop.over(k));
            ie *= p[1];
            ii *= p[2];
        }
        let free = n - clamped;
        if free > 0 {
            let p = self.gaps.get(free, |k| self.prop.over(k));
            u = u * p[0] + ie * p[3] + ii * p[4] + (self.i_e + s.i_stim) * p[5];
            ie *= p[1];
            ii *= p[2];
        }
        Neuron { u, i_ex: ie, i_in: ii, i_stim: s.i_stim, refractory: r - clamped as u32 }
    }

    /// Computes step `step` for neuron `i` with its input; returns whether it spiked.
    #[inline(always)]
    fn step(&mut self, i: usize, step: Step, w_ex: f64, w_in: f64, current_change: f64) -> bool {
        let n = &self.clock.neurons[i];
        // Bring the neuron to the start of `step` (no input in between).
        let mut s = if step > n.synced { self.propagate(&n.s, step - n.synced) } else { n.s };
        s.i_stim += current_change;
        let p = &self.one_step;
        if s.refractory == 0 {
            s.u = s.u * p[0] + s.i_ex * p[3] + s.i_in * p[4] + (self.i_e + s.i_stim) * p[5];
        } else {
            s.refractory -= 1;
        }
        s.i_ex = s.i_ex * p[1] + w_ex;
        s.i_in = s.i_in * p[2] + w_in;
        let spiked = s.u >= self.theta;
        if spiked {
            s.refractory = self.refractory_steps;
            s.u = self.u_reset;
        }
        let n = &mut self.clock.neurons[i];
        n.s = s;
        n.synced = step + 1;
        spiked
    }
}

impl LazyModel for IafPscExp {
    type State = Neuron;

    fn clock(&mut self) -> &mut LazyClock<Neuron> {
        &mut self.clock
    }

    #[inline(always)]
    fn step_neuron(&mut self, i: usize, t: Step, input: Option<&StepInput<'_>>) -> bool {
        match input {
            Some(input) => {
                let current = input.current_change_of(i);
                self.step(i, t, input.receptor(0)[i], input.receptor(1)[i], current)
            }
            None => self.step(i, t, 0.0, 0.0, 0.0),
        }
    }

    /// The earliest step at which neuron `i` could cross threshold, if ever (see module docs).
    #[inline(always)]
    fn earliest_crossing(&self, i: usize) -> Option<Step> {
        let n = &self.clock.neurons[i];
        let r = n.s.refractory;
        let s = if r == 0 { n.s } else { self.propagate(&n.s, u64::from(r)) };
        let (u, ie, ii) = (s.u, s.i_ex, s.i_in);
        // First step that may update u (the refractory steps come first).
        let base = n.synced + u64::from(r);
        // Crossing bound in steps (module docs): 2·(τ_m/h)·(θ − u)/(2u_J − u − θ).
        let u_j = (ie.max(0.0) + ii.max(0.0) + self.i_e + n.s.i_stim) * self.inv_c_m * self.tau_m;
        if u >= self.theta {
            return Some(base); // above threshold already (set by hand): check at once
        }
        let denominator = 2.0 * u_j - u - self.theta;
        // u_J ≤ θ, or not finite (NaN included): never crosses. Two comparisons are cheaper than
        // `is_finite`, which this hot path paid for on every input. (With u < θ < u_J the
        // denominator is positive.)
        if !(u_j > self.theta && denominator < f64::INFINITY) {
            return None;
        }
        // The end of step base−1+m is m·h after the start of step `base`; stay one step early
        // rather than risk rounding past the crossing.
        let m = self.two_tau_m_steps * (self.theta - u) / denominator;
        // Truncation is floor for m ≥ 0; huge m means "not within any run". `max(1) − 1` on i64
        // is `saturating_sub(1)` on the u64 cast, with one conversion instruction instead of the
        // unsigned sequence.
        if m < 1e15 { Some(base + ((m as i64).max(1) - 1) as Step) } else { None }
    }
}

impl Population for IafPscExp {
    fn len(&self) -> usize {
        self.clock.len()
    }

    fn start(&mut self, step: Step, queue: &mut NextEventQueue) {
        start_lazily(self, step, queue);
    }

    fn update(&mut self, u: &mut Update<'_>) {
        update_lazily(self, u);
    }

    fn state(&mut self, io: &mut StateIo, queue: &mut NextEventQueue) -> Result<(), StateError> {
        self.clock.state(io, queue)
    }

    fn sample(&self, variable: usize, i: usize, step: Step) -> f64 {
        let n = &self.clock.neurons[i];
        let s = self.propagate(&n.s, (step + 1).saturating_sub(n.synced));
        match variable {
            V_M => s.u + self.e_l,
            I_SYN_EX => s.i_ex,
            I_SYN_IN => s.i_in,
            _ => f64::NAN,
        }
    }

    fn set_state(&mut self, variable: usize, i: usize, value: f64) -> Result<(), String> {
        if !value.is_finite() {
            return Err(format!("{value} is not a finite number"));
        }
        match variable {
            V_M => self.clock.neurons[i].s.u = value - self.e_l,
            I_SYN_EX => self.clock.neurons[i].s.i_ex = value,
            I_SYN_IN => self.clock.neurons[i].s.i_in = value,
            _ => return Err("not a state variable".into()),
        }
        Ok(())
    }
}

/// A shard of `iaf_psc_exp` neurons updated **clock-driven**: every neuron every step, in
/// NEST's own order of operations (so each step's arithmetic is NEST's, operation for
/// operation), over struct-of-arrays state that the compiler vectorises.
///
/// A step is one sweep over all neurons: membrane update or refractory count from the currents
/// before the step's input, decay of the currents, then the step's spike input added (and its
/// buffer cell zeroed, [`InputKind::Drained`]), threshold and reset. That is NEST's order: the
/// membrane update of a step reads the currents before that step's input, and the threshold
/// reads only the membrane. Like NEST, every neuron adds its input every step, 0 when none came.
/// The step's current changes (from devices; rare) are applied before the sweep.
#[derive(Debug, Clone)]
pub struct IafPscExpClocked {
    /// Membrane potential relative to E_L (mV) at the end of the last computed step.
    u: Vec<f64>,
    i_ex: Vec<f64>,
    i_in: Vec<f64>,
    /// Injected current from devices (pA), constant between changes; empty until the first
    /// change arrives (most networks have no current devices).
    i_stim: Vec<f64>,
    /// `I_e + I_stim` (pA) per neuron, the constant drive of the membrane update (the sum NEST
    /// forms every step, formed once per change); empty while `i_stim` is.
    drive: Vec<f64>,
    /// Remaining refractory steps (16 bits: the sweep streams every neuron's state every step,
    /// and this is 2 of its 42 bytes per neuron; the factory checks that `t_ref` fits).
    refractory: Vec<u16>,
    /// Scratch of the sweep: bit `k % 64` of word `k / 64` is set where neuron `k` spiked in
    /// this step.
    fired: Vec<u64>,
    e_l: f64,
    i_e: f64,
    theta: f64,
    u_reset: f64,
    refractory_steps: u16,
    /// `[P22, P11ex, P11in, P21ex, P21in, P20]` over one step.
    p: [f64; 6],
}

impl IafPscExpClocked {
    pub fn new(p: &IafPscExpParams, n: usize, h: f64, refractory_steps: u16) -> Self {
        let prop = Propagators { h, tau_m: p.tau_m, tau_ex: p.tau_syn_ex, tau_in: p.tau_syn_in, c_m: p.c_m };
        Self {
            u: vec![p.v_m - p.e_l; n],
            i_ex: vec![p.i_syn_ex; n],
            i_in: vec![p.i_syn_in; n],
            i_stim: Vec::new(),
            drive: Vec::new(),
            refractory: vec![0; n],
            fired: vec![0; n.div_ceil(SPIKE_BLOCK)],
            e_l: p.e_l,
            i_e: p.i_e,
            theta: p.v_th - p.e_l,
            u_reset: p.v_reset - p.e_l,
            refractory_steps,
            p: prop.over(1),
        }
    }

    /// The sweep over all neurons with the step's spike input `input` (`[ex; n]` then `[in; n]`,
    /// zeroed as it is read), compiled for the best vector instructions the CPU has (the
    /// arithmetic is the same on every path: no fused multiply-adds, so results are identical).
    // Calling a function compiled for CPU features is unsafe unless the caller has them, which
    // `vector_level` established.
    #[allow(unsafe_code)]
    fn sweep(&mut self, input: &mut [f64]) {
        match crate::vector_level::vector_level() {
            // SAFETY: the CPU supports every feature the function is compiled for.
            #[cfg(target_arch = "x86_64")]
            VectorLevel::Avx512 => unsafe { self.sweep_avx512(input) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            VectorLevel::Avx2 => unsafe { self.sweep_avx2(input) },
            _ => self.sweep_portable(input),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2")]
    fn sweep_avx512(&mut self, input: &mut [f64]) {
        self.sweep_portable(input);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn sweep_avx2(&mut self, input: &mut [f64]) {
        self.sweep_portable(input);
    }

    /// NEST's step for every neuron, without branches so that it vectorises.
    #[inline(always)]
    fn sweep_portable(&mut self, input: &mut [f64]) {
        let p20 = self.p[5];
        if self.drive.is_empty() {
            // No injected current: the drive term `(I_e + 0)·P20` is the same for every neuron.
            let term = (self.i_e + 0.0) * p20;
            self.sweep_with(input, |_| term);
        } else {
            let drive = std::mem::take(&mut self.drive);
            self.sweep_with(input, |k| drive[k] * p20);
            self.drive = drive;
        }
    }

    /// The sweep, with the membrane's drive term `(I_e + I_stim)·P20` of neuron `k` from `drive`.
    #[inline(always)]
    fn sweep_with(&mut self, input: &mut [f64], drive: impl Fn(usize) -> f64) {
        let [p22, p11ex, p11in, p21ex, p21in, _] = self.p;
        let (theta, u_reset, refractory_steps) = (self.theta, self.u_reset, self.refractory_steps);
        let n = self.u.len();
        let (u, i_ex, i_in) = (&mut self.u[..n], &mut self.i_ex[..n], &mut self.i_in[..n]);
        let refractory = &mut self.refractory[..n];
        let (w_ex, w_in) = input[..2 * n].split_at_mut(n);
        // Blocks of 64 neurons, each giving one word of the spike bitmap.
        for (b, fired) in self.fired.iter_mut().enumerate() {
            let lo = b * SPIKE_BLOCK;
            let hi = (lo + SPIKE_BLOCK).min(n);
            let mut bits = 0u64;
            for k in lo..hi {
                let r = refractory[k];
                // NEST's expression, in NEST's order of additions.
                let free = u[k] * p22 + i_ex[k] * p21ex + i_in[k] * p21in + drive(k);
                let v = if r == 0 { free } else { u[k] };
                // Decay, then the step's input (two roundings, as NEST's `*=` then `+=`).
                i_ex[k] = i_ex[k] * p11ex + w_ex[k];
                i_in[k] = i_in[k] * p11in + w_in[k];
                w_ex[k] = 0.0;
                w_in[k] = 0.0;
                let spike = v >= theta;
                u[k] = if spike { u_reset } else { v };
                refractory[k] = if spike { refractory_steps } else { r.saturating_sub(1) };
                bits |= u64::from(spike) << (k - lo);
            }
            *fired = bits;
        }
    }

    /// Applies the step's changes of injected current (pA) to the neurons that received one.
    fn apply_current_changes(&mut self, change: &[f64]) {
        if self.i_stim.is_empty() {
            self.i_stim = vec![0.0; self.u.len()];
            self.drive = vec![self.i_e + 0.0; self.u.len()];
        }
        for (i, &delta) in change.iter().enumerate() {
            if delta != 0.0 {
                self.i_stim[i] += delta;
                self.drive[i] = self.i_e + self.i_stim[i];
            }
        }
    }
}

/// Neurons per word of the clock-driven spike bitmap.
const SPIKE_BLOCK: usize = 64;

impl Population for IafPscExpClocked {
    fn len(&self) -> usize {
        self.u.len()
    }

    fn update(&mut self, up: &mut Update<'_>) {
        if up.input.has_current_changes() {
            self.apply_current_changes(up.input.current_change());
        }
        self.sweep(up.input.drain_receptors());
        for (b, &word) in self.fired.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let k = bits.trailing_zeros() as usize;
                up.spikes.push(LocalSpike { local: (b * SPIKE_BLOCK + k) as u32, offset: 0.0 });
                bits &= bits - 1;
            }
        }
    }

    fn state(&mut self, io: &mut StateIo, _queue: &mut NextEventQueue) -> Result<(), StateError> {
        io.neurons("u", &mut self.u)?;
        io.neurons("i_ex", &mut self.i_ex)?;
        io.neurons("i_in", &mut self.i_in)?;
        io.neurons("refractory", &mut self.refractory)?;
        // The injected current is allocated at its first change; a shard without one saves
        // zeros and `I_e`, the values the sweep uses in its place, and stays unallocated.
        let n = self.u.len();
        let mut i_stim = if self.i_stim.is_empty() { vec![0.0; n] } else { self.i_stim.clone() };
        let mut drive = if self.drive.is_empty() { vec![self.i_e + 0.0; n] } else { self.drive.clone() };
        io.neurons("i_stim", &mut i_stim)?;
        io.neurons("drive", &mut drive)?;
        if io.loading() {
            let unused = i_stim.iter().all(|v| v.to_bits() == 0)
                && drive.iter().all(|v| v.to_bits() == (self.i_e + 0.0).to_bits());
            (self.i_stim, self.drive) = if unused { (Vec::new(), Vec::new()) } else { (i_stim, drive) };
        }
        Ok(())
    }

    fn sample(&self, variable: usize, i: usize, _step: Step) -> f64 {
        match variable {
            V_M => self.u[i] + self.e_l,
            I_SYN_EX => self.i_ex[i],
            I_SYN_IN => self.i_in[i],
            _ => f64::NAN,
        }
    }

    fn set_state(&mut self, variable: usize, i: usize, value: f64) -> Result<(), String> {
        if !value.is_finite() {
            return Err(format!("{value} is not a finite number"));
        }
        match variable {
            V_M => self.u[i] = value - self.e_l,
            I_SYN_EX => self.i_ex[i] = value,
            I_SYN_IN => self.i_in[i] = value,
            _ => return Err("not a state variable".into()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Neurons in varied states: some refractory, some above threshold after the step, some with
    /// injected current.
    fn varied(n: usize) -> IafPscExpClocked {
        let p = IafPscExpParams { i_e: 180.0, ..IafPscExpParams::default() };
        let mut m = IafPscExpClocked::new(&p, n, 0.1, 20);
        m.i_stim = vec![0.0; n];
        m.drive = vec![0.0; n];
        for k in 0..n {
            let x = k as f64;
            m.u[k] = (x * 0.37).sin() * 8.0 + 12.0;
            m.i_ex[k] = (x * 0.11).cos() * 300.0;
            m.i_in[k] = -(x * 0.07).sin().abs() * 200.0;
            m.refractory[k] = (k % 7) as u16;
            m.i_stim[k] = if k % 3 == 0 { 50.0 } else { 0.0 };
            m.drive[k] = m.i_e + m.i_stim[k];
        }
        m
    }

    /// A step's spike input for `n` neurons: some excitatory, some inhibitory, most none.
    fn input(n: usize, step: usize) -> Vec<f64> {
        let mut w = vec![0.0; 2 * n];
        for k in (step % 5..n).step_by(5) {
            w[k] = 87.8;
        }
        for k in (step % 11..n).step_by(11) {
            w[n + k] = -351.2;
        }
        w
    }

    /// The sweep compiled for the CPU's vector instructions computes what the portable loop does,
    /// bit for bit, so results do not depend on the machine; it zeroes the input it read.
    #[test]
    fn the_dispatched_sweep_equals_the_portable_one() {
        let (mut fast, mut portable) = (varied(1037), varied(1037));
        let mut spikes = 0;
        for step in 0..50 {
            let (mut w_fast, mut w_portable) = (input(1037, step), input(1037, step));
            fast.sweep(&mut w_fast);
            portable.sweep_portable(&mut w_portable);
            assert!(w_fast.iter().chain(&w_portable).all(|&w| w == 0.0), "the sweep drains its input");
            assert_eq!(fast.fired, portable.fired);
            spikes += fast.fired.iter().map(|&f| f.count_ones() as usize).sum::<usize>();
        }
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&fast.u), bits(&portable.u));
        assert_eq!(bits(&fast.i_ex), bits(&portable.i_ex));
        assert_eq!(bits(&fast.i_in), bits(&portable.i_in));
        assert_eq!(fast.refractory, portable.refractory);
        assert!(spikes > 0, "the states include neurons that cross threshold");
    }

    /// The clock-driven update counts refractory steps in 16 bits: a longer `t_ref` is an error
    /// that says what to do, not a wrapped counter.
    #[test]
    fn a_refractory_period_too_long_for_the_clock_driven_counter_is_an_error() {
        let ctx = BuildContext { resolution: laminar_engine::Resolution::new(0.1).unwrap(), seed: 1 };
        let factory = |t_ref| IafPscExpFactory {
            params: IafPscExpParams { t_ref, ..IafPscExpParams::default() },
            scheduling: Scheduling::ClockDriven,
        };
        assert!(factory(6553.5).build(0, 0, 3, &ctx).is_ok());
        let Err(ModelError(message)) = factory(6553.6).build(0, 0, 3, &ctx) else { panic!("65536 steps accepted") };
        assert!(message.contains("65536 steps") && message.contains("event-driven"), "{message}");
    }

    /// One neuron, stepped clock-driven, against the event-driven update of the same neuron:
    /// the same threshold crossings, refractory periods included.
    #[test]
    fn clock_driven_neuron_follows_the_event_driven_one() {
        let p = IafPscExpParams { i_e: 400.0, ..IafPscExpParams::default() };
        let mut clocked = IafPscExpClocked::new(&p, 1, 0.1, 20);
        let mut lazy = IafPscExp::new(&p, 1, 0.1, 20);
        let (mut clock_spikes, mut lazy_spikes) = (Vec::new(), Vec::new());
        for step in 0..5000 {
            // An excitatory input every 7 steps and an inhibitory one every 13.
            let (w_ex, w_in) = (if step % 7 == 0 { 40.0 } else { 0.0 }, if step % 13 == 0 { -60.0 } else { 0.0 });
            clocked.sweep(&mut [w_ex, w_in]);
            if clocked.fired[0] & 1 != 0 {
                clock_spikes.push(step);
            }
            if lazy.step(0, step, w_ex, w_in, 0.0) {
                lazy_spikes.push(step);
            }
            assert!((clocked.u[0] - lazy.clock.neurons[0].s.u).abs() < 1e-9, "step {step}");
        }
        assert!(clock_spikes.len() > 10, "I_e = 400 pA drives the neuron ({} spikes)", clock_spikes.len());
        assert_eq!(clock_spikes, lazy_spikes);
    }
}
