//! `iaf_psc_exp_ps`: leaky integrate-and-fire neuron with exponential post-synaptic currents and
//! precise (off-grid) spike timing — NEST 3.10's model of the same name.
//!
//! # Equations
//!
//! With the membrane potential `V_m` (mV), the synaptic currents `I_syn_ex ≥ 0` and
//! `I_syn_in ≤ 0` (pA), the capacitance `C_m` (pF) and time constants in ms (pA/pF = mV/ms):
//!
//! ```text
//! dV_m/dt      = −(V_m − E_L)/tau_m + (I_syn_ex + I_syn_in + I_e + I_stim)/C_m
//! dI_syn_ex/dt = −I_syn_ex/tau_syn_ex
//! dI_syn_in/dt = −I_syn_in/tau_syn_in
//! ```
//!
//! An input spike of weight `w` (pA) arriving at time `t` makes the current of its receptor jump
//! at exactly `t`: `I_syn_ex += w` if `w ≥ 0`, `I_syn_in += w` otherwise (NEST's sign rule).
//! `I_e` is a constant bias current, `I_stim` the injected current of the step (piecewise constant,
//! changes on grid points only; see [`IafPscExpPs::update`]).
//!
//! When `V_m` reaches `V_th` at time `t*`, the neuron emits a spike at `t*`, `V_m` is set to
//! `V_reset` and held there (not integrated) until `t* + n_ref·h`, where `n_ref = ⌈t_ref/h⌉`
//! (NEST's `Time::ms(t_ref).get_steps()`); the release from refractoriness happens at that
//! continuous time, inside a step, not on the grid. The synaptic currents keep decaying and keep
//! receiving input while the neuron is refractory.
//!
//! `V_min` is a lower bound on `V_m` (default −∞, i.e. none). NEST applies it only in steps
//! without any event (input spike or release from refractoriness); this module reproduces that.
//!
//! # Exact integration between events
//!
//! As NEST, the state is kept relative to rest, `y2 = V_m − E_L`, and the linear system is
//! propagated exactly (Rotter & Diesmann 1999) over any interval `Δ` between two events:
//!
//! ```text
//! y2(t+Δ)       = P20(Δ)·(I_e + I_stim) + P21_ex(Δ)·I_syn_ex + P21_in(Δ)·I_syn_in + e^(−Δ/tau_m)·y2
//! I_syn_X(t+Δ)  = e^(−Δ/tau_syn_X)·I_syn_X
//! P20(Δ)        = −(tau_m/C_m)·expm1(−Δ/tau_m)                         = tau_m/C_m·(1 − e^(−Δ/tau_m))
//! P21_X(Δ)      = gamma·e^(−Δ/tau_syn_X)·expm1(Δ/beta)                  (regular case)
//!               = tau_syn_X·tau_m/(C_m·(tau_m − tau_syn_X))·(e^(−Δ/tau_m) − e^(−Δ/tau_syn_X))
//!   with beta = tau_syn_X·tau_m/(tau_m − tau_syn_X), gamma = beta/C_m
//! P21_X(Δ)      = Δ/C_m·e^(−Δ/tau_m)                                    (singular limit)
//! ```
//!
//! The singular form is used whenever the regular one is not a normal, positive number, i.e. when
//! `tau_syn_X` equals or is numerically indistinguishable from `tau_m` (NEST's
//! `IAFPropagatorExp` stability criterion).
//!
//! A step without events uses propagators precomputed for `Δ = h`, with the leak written as
//! `y2 + expm1(−h/tau_m)·y2` (NEST found it more accurate than `e^(−h/tau_m)·y2` there); steps with
//! events evaluate the propagators for each sub-interval ("ministep").
//!
//! # Threshold crossing
//!
//! The threshold is checked at the end of every ministep, *before* the input that ends it is
//! applied, so that `V_m` is continuous over the searched interval. If `V_m ≥ V_th` there, the
//! crossing time is located inside the ministep by NEST's `regula_falsi`: the Illinois variant of
//! regula falsi on `f(τ) = y2(τ) − (V_th − E_L)`, `f` evaluated with the exact propagators from
//! the ministep's start, stopping when `|f| < 1e-14 mV` (at most 500 iterations). As in NEST, a
//! crossing whose excursion above threshold starts and ends inside one ministep is not seen.
//!
//! NEST stops the simulation with `NumericalInstability` if the search has no valid bracket (its
//! update and its search disagree by round-off right at the threshold) or meets a NaN, and
//! returns its last estimate after 500 iterations. This kernel evaluates the step's end and the
//! search with different formulas, so a last-bit disagreement at threshold that NEST cannot meet
//! can occur here: rather than stop a run on it, the kernel emits the spike at the end already at
//! threshold (or at the best bracketed estimate) and counts the occurrence in
//! [`IafPscExpPs::threshold_search_failures`], a diagnostic of the kernel (zero in the parity
//! cases, which test it) that a network run does not report.
//!
//! # Update order of one step k (from k·h to (k+1)·h), as `iaf_psc_exp_ps::update`
//!
//! 1. If `V_m ≥ V_th` at the start of the step — only possible after `V_m` was set there — the
//!    neuron spikes instantly with offset `h·(1 − ε)`, i.e. at the start of the step. (NEST checks
//!    this at the start of each min-delay slice; since `V_m < V_th` at the end of every step, the
//!    per-step check is equivalent.)
//! 2. If this is the step in which refractoriness ends, a release pseudo-event is placed at the
//!    offset of the last spike (so the release happens exactly `n_ref·h` after the spike).
//! 3. The state at the start of the step is saved for the crossing search.
//! 4. No events: propagate by `h` with the precomputed propagators (`V_m` only if not
//!    refractory, then the `V_min` bound), decay the currents, check the threshold over `(0, h]`.
//!    Events: walk them in time order (the release before an input spike at the same time, as
//!    NEST's `SliceRingBuffer` does): propagate to the event, check the threshold, apply the event
//!    (release, or the current jump), save the state as the next ministep's start; finally
//!    propagate over the rest of the step and check the threshold once more.
//!
//! A spike at offset `o` in step k happens at `t* = (k+1)·h − o`, `0 ≤ o < h` (NEST's stamp
//! `k+1` and offset `o`).
//!
//! # References
//!
//! - NEST 3.10 source: `models/iaf_psc_exp_ps.{h,cpp}`, `libnestutil/iaf_propagator.{h,cpp}`
//!   (`IAFPropagatorExp`), `libnestutil/regula_falsi.h`, `nestkernel/slice_ring_buffer.h`.
//! - Morrison A, Straube S, Plesser HE, Diesmann M (2007) Exact subthreshold integration with
//!   continuous spike times in discrete-time neural network simulations. Neural Comput 19:47–79.
//! - Hanuschkin A, Kunkel S, Helias M, Morrison A, Diesmann M (2010) A general and efficient
//!   method for incorporating precise spike times in globally time-driven simulations. Front
//!   Neuroinform 4:113.
//! - Rotter S, Diesmann M (1999) Exact digital simulation of time-invariant linear systems with
//!   applications to neuronal modeling. Biol Cybern 81:381–402.

use laminar_engine::{StateError, StateIo};
use serde::{Deserialize, Deserializer, Serialize};

use crate::params::{ParamError, Validate, finite, less_than, positive};

/// Recordable state variables and their units, in NEST's names.
pub const RECORDABLES: &[(&str, &str)] = &[("V_m", "mV"), ("I_syn_ex", "pA"), ("I_syn_in", "pA")];

/// Parameters of `iaf_psc_exp_ps`, NEST's names, units and defaults.
///
/// Missing fields take NEST's defaults. `V_min = -inf` (no bound) cannot be written in JSON;
/// there `null` stands for it (serde_json also writes `-inf` as `null`). TOML writes `-inf`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IafPscExpPsParams {
    /// Membrane capacitance (pF).
    #[serde(rename = "C_m")]
    pub c_m: f64,
    /// Membrane time constant (ms).
    pub tau_m: f64,
    /// Time constant of the excitatory synaptic current (ms).
    pub tau_syn_ex: f64,
    /// Time constant of the inhibitory synaptic current (ms).
    pub tau_syn_in: f64,
    /// Refractory period (ms), rounded up to whole steps of `h`.
    pub t_ref: f64,
    /// Resting potential (mV).
    #[serde(rename = "E_L")]
    pub e_l: f64,
    /// Constant bias current (pA).
    #[serde(rename = "I_e")]
    pub i_e: f64,
    /// Spike threshold (mV).
    #[serde(rename = "V_th")]
    pub v_th: f64,
    /// Lower bound of the membrane potential (mV); `-inf` means none.
    #[serde(rename = "V_min", deserialize_with = "number_or_null_as_neg_infinity")]
    pub v_min: f64,
    /// Membrane potential after a spike (mV).
    #[serde(rename = "V_reset")]
    pub v_reset: f64,
}

impl Default for IafPscExpPsParams {
    /// NEST 3.10's defaults.
    fn default() -> Self {
        Self {
            c_m: 250.0,
            tau_m: 10.0,
            tau_syn_ex: 2.0,
            tau_syn_in: 2.0,
            t_ref: 2.0,
            e_l: -70.0,
            i_e: 0.0,
            v_th: -55.0,
            v_min: f64::NEG_INFINITY,
            v_reset: -70.0,
        }
    }
}

/// JSON cannot spell −∞: accept `null` for it.
fn number_or_null_as_neg_infinity<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NEG_INFINITY))
}

impl Validate for IafPscExpPsParams {
    /// NEST's checks (`Parameters_::set`), plus finiteness. That `t_ref` spans at least one step
    /// depends on `h` and is checked by [`IafPscExpPs::new`].
    fn validate(&self) -> Result<(), ParamError> {
        positive("C_m", self.c_m, "pF")?;
        positive("tau_m", self.tau_m, "ms")?;
        positive("tau_syn_ex", self.tau_syn_ex, "ms")?;
        positive("tau_syn_in", self.tau_syn_in, "ms")?;
        positive("t_ref", self.t_ref, "ms")?;
        finite("E_L", self.e_l, "mV")?;
        finite("I_e", self.i_e, "pA")?;
        finite("V_th", self.v_th, "mV")?;
        finite("V_reset", self.v_reset, "mV")?;
        less_than("V_reset", self.v_reset, "V_th", self.v_th)?;
        if self.v_min.is_nan() || self.v_min > self.v_reset {
            return Err(ParamError::new(
                "V_min",
                self.v_min,
                &format!("must be -inf or a number <= V_reset ({})", self.v_reset),
            ));
        }
        Ok(())
    }
}

/// Per-neuron initial state, NEST's names and defaults.
///
/// `V_m` defaults to −70 mV, NEST's default, which NEST keeps (as an absolute value) when only
/// `E_L` is changed: set `V_m` explicitly to start at a different rest. The currents default to 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IafPscExpPsInitialState {
    /// Membrane potential (mV). A value ≥ `V_th` makes the neuron spike at the start of its next
    /// step, as in NEST.
    #[serde(rename = "V_m")]
    pub v_m: f64,
    /// Excitatory synaptic current (pA).
    #[serde(rename = "I_syn_ex")]
    pub i_syn_ex: f64,
    /// Inhibitory synaptic current (pA; NEST stores it with its negative sign).
    #[serde(rename = "I_syn_in")]
    pub i_syn_in: f64,
}

impl Default for IafPscExpPsInitialState {
    fn default() -> Self {
        Self { v_m: -70.0, i_syn_ex: 0.0, i_syn_in: 0.0 }
    }
}

impl Validate for IafPscExpPsInitialState {
    fn validate(&self) -> Result<(), ParamError> {
        finite("V_m", self.v_m, "mV")?;
        finite("I_syn_ex", self.i_syn_ex, "pA")?;
        finite("I_syn_in", self.i_syn_in, "pA")
    }
}

/// One input spike arriving inside the current step.
///
/// `offset` (ms, `0 ≤ offset < h`) counts back from the end of the step: the spike arrives at
/// `(k+1)·h − offset` in step k (NEST's convention). `weight` (pA) > 0 goes to the excitatory
/// receptor, < 0 to the inhibitory one (0 is applied to the excitatory one, with no effect).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreciseInput {
    pub offset: f64,
    pub weight: f64,
}

/// Maps a synaptic current onto the membrane potential over an interval: NEST's
/// `IAFPropagatorExp`, with its guard against `tau_syn ≈ tau_m` (see the module documentation).
#[derive(Debug, Clone, Copy)]
struct SynapseToMembrane {
    /// beta / C_m, beta = tau_syn·tau_m/(tau_m − tau_syn) (∞ if the time constants are equal).
    gamma: f64,
    /// 1/beta, written out so that it is exactly 0 when the time constants are equal.
    inv_beta: f64,
    inv_tau_syn: f64,
    inv_tau_m: f64,
    inv_c_m: f64,
}

impl SynapseToMembrane {
    fn new(tau_syn: f64, tau_m: f64, c_m: f64) -> Self {
        let beta = tau_syn * tau_m / (tau_m - tau_syn);
        Self {
            gamma: beta / c_m,
            inv_beta: (tau_m - tau_syn) / (tau_syn * tau_m),
            inv_tau_syn: 1.0 / tau_syn,
            inv_tau_m: 1.0 / tau_m,
            inv_c_m: 1.0 / c_m,
        }
    }

    /// P21(dt) (mV/pA): the potential reached after `dt` from a unit current at rest.
    fn propagator(&self, dt: f64) -> f64 {
        let regular = self.gamma * (-dt * self.inv_tau_syn).exp() * (dt * self.inv_beta).exp_m1();
        if regular.is_normal() && regular > 0.0 { regular } else { dt * self.inv_c_m * (-dt * self.inv_tau_m).exp() }
    }
}

/// Propagators for a whole step `h`, used in steps without events.
#[derive(Debug, Clone, Copy)]
struct StepPropagators {
    /// P20(h) (mV/pA).
    bias_to_membrane: f64,
    /// P21_ex(h), P21_in(h) (mV/pA).
    ex_to_membrane: f64,
    in_to_membrane: f64,
    /// expm1(−h/tau_m): the leak as an increment, for accuracy.
    leak_increment: f64,
    /// e^(−h/tau_syn_ex), e^(−h/tau_syn_in).
    ex_decay: f64,
    in_decay: f64,
}

/// The continuous state of one neuron at one instant (`v` relative to `E_L`).
#[derive(Debug, Clone, Copy)]
struct Point {
    /// y2 = V_m − E_L (mV).
    v: f64,
    i_ex: f64,
    i_in: f64,
}

/// One neuron's state while it is being updated, copied out of the arrays and back.
#[derive(Debug, Clone, Copy)]
struct Neuron {
    now: Point,
    refractory: bool,
    /// Step boundaries still to cross before the step in which refractoriness ends.
    boundaries_to_release: u64,
    last_spike_offset: f64,
}

/// A population of `iaf_psc_exp_ps` neurons sharing one parameter set, stored as struct of
/// arrays. See the module documentation for the model and the update order.
#[derive(Debug, Clone)]
pub struct IafPscExpPs {
    params: IafPscExpPsParams,
    h_ms: f64,
    /// Threshold, reset and lower bound relative to E_L (mV), as NEST stores them.
    u_th: f64,
    u_reset: f64,
    u_min: f64,
    /// −tau_m/C_m (mV/pA), the factor of P20.
    minus_tau_m_over_c_m: f64,
    ex_to_membrane: SynapseToMembrane,
    in_to_membrane: SynapseToMembrane,
    step: StepPropagators,
    refractory_steps: u64,

    /// V_m − E_L (mV).
    v_rel: Vec<f64>,
    /// I_syn_ex, I_syn_in (pA).
    i_syn_ex: Vec<f64>,
    i_syn_in: Vec<f64>,
    refractory: Vec<bool>,
    boundaries_to_release: Vec<u64>,
    /// Offset (ms) of the most recent spike inside its step.
    last_spike_offset: Vec<f64>,

    threshold_search_failures: u64,
}

/// Stopping rule of NEST's `regula_falsi`.
const CROSSING_TOLERANCE_MV: f64 = 1e-14;
const CROSSING_MAX_ITERATIONS: usize = 500;

impl IafPscExpPs {
    /// A population of `n` neurons at the default initial state ([`IafPscExpPsInitialState`]),
    /// for resolution `h_ms`.
    ///
    /// Fails if a parameter is out of range, `h_ms` is not a positive number, or `t_ref` rounds
    /// to less than one step. `t_ref/h` within 1e-9 (relative) of an integer counts as that
    /// integer, so that decimal values such as 2.0/0.1 are not rounded up by binary round-off;
    /// otherwise it is rounded up, as NEST does on its 1 µs tic grid.
    pub fn new(params: IafPscExpPsParams, n: usize, h_ms: f64) -> Result<Self, ParamError> {
        params.validate()?;
        positive("resolution", h_ms, "ms")?;
        let refractory_steps = steps_rounded_up(params.t_ref / h_ms);
        if !(1.0..=u64::MAX as f64).contains(&refractory_steps) {
            return Err(ParamError::new(
                "t_ref",
                params.t_ref,
                &format!("must be at least one step of the resolution ({h_ms} ms)"),
            ));
        }

        let p = &params;
        let ex_to_membrane = SynapseToMembrane::new(p.tau_syn_ex, p.tau_m, p.c_m);
        let in_to_membrane = SynapseToMembrane::new(p.tau_syn_in, p.tau_m, p.c_m);
        let minus_tau_m_over_c_m = -p.tau_m / p.c_m;
        let step = StepPropagators {
            bias_to_membrane: minus_tau_m_over_c_m * (-h_ms / p.tau_m).exp_m1(),
            ex_to_membrane: ex_to_membrane.propagator(h_ms),
            in_to_membrane: in_to_membrane.propagator(h_ms),
            leak_increment: (-h_ms / p.tau_m).exp_m1(),
            ex_decay: (-h_ms / p.tau_syn_ex).exp(),
            in_decay: (-h_ms / p.tau_syn_in).exp(),
        };
        let initial = IafPscExpPsInitialState::default();
        Ok(Self {
            params,
            h_ms,
            u_th: p.v_th - p.e_l,
            u_reset: p.v_reset - p.e_l,
            u_min: p.v_min - p.e_l,
            minus_tau_m_over_c_m,
            ex_to_membrane,
            in_to_membrane,
            step,
            refractory_steps: refractory_steps as u64,
            v_rel: vec![initial.v_m - p.e_l; n],
            i_syn_ex: vec![initial.i_syn_ex; n],
            i_syn_in: vec![initial.i_syn_in; n],
            refractory: vec![false; n],
            boundaries_to_release: vec![0; n],
            last_spike_offset: vec![0.0; n],
            threshold_search_failures: 0,
        })
    }

    /// Number of neurons.
    pub fn len(&self) -> usize {
        self.v_rel.len()
    }

    pub fn is_empty(&self) -> bool {
        self.v_rel.is_empty()
    }

    pub fn params(&self) -> &IafPscExpPsParams {
        &self.params
    }

    /// Resolution h (ms).
    pub fn h_ms(&self) -> f64 {
        self.h_ms
    }

    /// Length of the refractory period in steps, `⌈t_ref/h⌉`.
    pub fn refractory_steps(&self) -> u64 {
        self.refractory_steps
    }

    /// Sets neuron `i`'s membrane potential and synaptic currents. Refractoriness is not
    /// touched (as NEST's `SetStatus`).
    pub fn set_initial_state(&mut self, i: usize, state: &IafPscExpPsInitialState) -> Result<(), ParamError> {
        state.validate()?;
        self.v_rel[i] = state.v_m - self.params.e_l;
        self.i_syn_ex[i] = state.i_syn_ex;
        self.i_syn_in[i] = state.i_syn_in;
        Ok(())
    }

    /// Sets neuron `i`'s `V_m` (mV).
    pub fn set_v_m(&mut self, i: usize, v_m: f64) -> Result<(), ParamError> {
        finite("V_m", v_m, "mV")?;
        self.v_rel[i] = v_m - self.params.e_l;
        Ok(())
    }

    /// Sets neuron `i`'s `I_syn_ex` (pA).
    pub fn set_i_syn_ex(&mut self, i: usize, current: f64) -> Result<(), ParamError> {
        finite("I_syn_ex", current, "pA")?;
        self.i_syn_ex[i] = current;
        Ok(())
    }

    /// Sets neuron `i`'s `I_syn_in` (pA, ≤ 0 for inhibition).
    pub fn set_i_syn_in(&mut self, i: usize, current: f64) -> Result<(), ParamError> {
        finite("I_syn_in", current, "pA")?;
        self.i_syn_in[i] = current;
        Ok(())
    }

    /// Membrane potential of neuron `i` (mV).
    pub fn v_m(&self, i: usize) -> f64 {
        self.v_rel[i] + self.params.e_l
    }

    /// Excitatory synaptic current of neuron `i` (pA).
    pub fn i_syn_ex(&self, i: usize) -> f64 {
        self.i_syn_ex[i]
    }

    /// Inhibitory synaptic current of neuron `i` (pA, ≤ 0).
    pub fn i_syn_in(&self, i: usize) -> f64 {
        self.i_syn_in[i]
    }

    pub fn is_refractory(&self, i: usize) -> bool {
        self.refractory[i]
    }

    /// The getter of a recordable named in [`RECORDABLES`], resolved once so that a recorder
    /// samples without matching names.
    pub fn recordable(name: &str) -> Option<fn(&Self, usize) -> f64> {
        match name {
            "V_m" => Some(Self::v_m),
            "I_syn_ex" => Some(Self::i_syn_ex),
            "I_syn_in" => Some(Self::i_syn_in),
            _ => None,
        }
    }

    /// How many threshold crossings were placed at a fallback estimate because the root search
    /// had no valid bracket (where NEST stops with `NumericalInstability`) or did not converge
    /// (where NEST, too, takes its last estimate). Zero in any ordinary simulation.
    pub fn threshold_search_failures(&self) -> u64 {
        self.threshold_search_failures
    }

    /// Saves or restores the neurons' state for a checkpoint: membrane, synaptic currents,
    /// refractoriness with the step boundaries left before its release and the offset of the last
    /// spike (the release happens at that offset). [`Self::threshold_search_failures`] is not
    /// saved: it is a diagnostic count of the shard, not of a neuron, and the dynamics never
    /// read it.
    pub fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        io.neurons("v_rel", &mut self.v_rel)?;
        io.neurons("i_syn_ex", &mut self.i_syn_ex)?;
        io.neurons("i_syn_in", &mut self.i_syn_in)?;
        io.neurons("refractory", &mut self.refractory)?;
        io.neurons("boundaries_to_release", &mut self.boundaries_to_release)?;
        io.neurons("last_spike_offset", &mut self.last_spike_offset)
    }

    /// Advances neuron `i` by one step k, from k·h to (k+1)·h.
    ///
    /// - `events`: the input spikes arriving in this step, sorted by decreasing offset (increasing
    ///   time); an offset of 0 means the end of the step, so the input shows in the state at
    ///   (k+1)·h.
    /// - `i_stim` (pA): the current injected during this step, constant over it. In NEST this is
    ///   the neuron's `y0_`: the sum of the `CurrentEvent`s delivered for step k−1, which NEST
    ///   reads at the end of step k−1 (after the threshold search) — the same convention as the
    ///   grid models (`iaf_psc_exp`).
    /// - `spikes`: the offset of each spike emitted in this step is appended (the spike happens
    ///   at (k+1)·h − offset; at most one per step since `t_ref ≥ h`).
    ///
    /// Panics if `i ≥ len()`.
    pub fn update(&mut self, i: usize, events: &[PreciseInput], i_stim: f64, spikes: &mut Vec<f64>) {
        debug_assert!(
            events.windows(2).all(|pair| pair[0].offset >= pair[1].offset),
            "events must be sorted by decreasing offset"
        );
        debug_assert!(
            events.iter().all(|e| e.offset >= 0.0 && e.offset < self.h_ms),
            "event offsets must lie in [0, h)"
        );

        let h = self.h_ms;
        let bias = self.params.i_e + i_stim;
        let mut neuron = Neuron {
            now: Point { v: self.v_rel[i], i_ex: self.i_syn_ex[i], i_in: self.i_syn_in[i] },
            refractory: self.refractory[i],
            boundaries_to_release: self.boundaries_to_release[i],
            last_spike_offset: self.last_spike_offset[i],
        };

        // 1. Superthreshold at the start of the step (V_m set there): spike right away.
        if neuron.now.v >= self.u_th {
            self.fire(&mut neuron, h * (1.0 - f64::EPSILON), spikes);
        }

        // 2. Release from refractoriness inside this step, exactly n_ref·h after the spike.
        let mut release_offset =
            (neuron.refractory && neuron.boundaries_to_release == 0).then_some(neuron.last_spike_offset);

        // 3. The interval searched for a threshold crossing starts here.
        let mut ministep_start = neuron.now;

        if events.is_empty() && release_offset.is_none() {
            // 4a. No event: one whole step with the precomputed propagators.
            let s = &self.step;
            let now = &mut neuron.now;
            if !neuron.refractory {
                now.v = s.bias_to_membrane * bias
                    + s.ex_to_membrane * now.i_ex
                    + s.in_to_membrane * now.i_in
                    + s.leak_increment * now.v
                    + now.v;
                now.v = now.v.max(self.u_min);
            }
            now.i_ex *= s.ex_decay;
            now.i_in *= s.in_decay;
            if neuron.now.v >= self.u_th {
                self.fire_in_ministep(&mut neuron, &ministep_start, bias, 0.0, h, spikes);
            }
        } else {
            // 4b. Events: integrate exactly from one to the next. Time inside the step is
            // counted in offsets, h at the start and 0 at the end.
            let mut last_offset = h;
            let mut next_input = 0;
            loop {
                // The release comes before an input spike at the same time, as NEST's
                // SliceRingBuffer hands them out. (No time passes between the two, so the order
                // does not change the state; it is kept to mirror NEST.)
                let (offset, input_weight) = match (release_offset, events.get(next_input)) {
                    (Some(release), Some(input)) if release >= input.offset => {
                        release_offset = None;
                        (release, None)
                    }
                    (Some(release), None) => {
                        release_offset = None;
                        (release, None)
                    }
                    (_, Some(input)) => {
                        next_input += 1;
                        (input.offset, Some(input.weight))
                    }
                    (None, None) => break,
                };

                let ministep = last_offset - offset;
                // Simultaneous events give empty ministeps: nothing to propagate.
                if ministep > 0.0 {
                    self.propagate(&mut neuron, bias, ministep);
                    // Before the input is applied, so that V_m is continuous on the interval.
                    if neuron.now.v >= self.u_th {
                        let start = h - last_offset;
                        self.fire_in_ministep(&mut neuron, &ministep_start, bias, start, ministep, spikes);
                    }
                }

                match input_weight {
                    None => neuron.refractory = false,
                    Some(weight) if weight >= 0.0 => neuron.now.i_ex += weight,
                    Some(weight) => neuron.now.i_in += weight,
                }
                ministep_start = neuron.now;
                last_offset = offset;
            }

            if last_offset > 0.0 {
                self.propagate(&mut neuron, bias, last_offset);
                if neuron.now.v >= self.u_th {
                    let start = h - last_offset;
                    self.fire_in_ministep(&mut neuron, &ministep_start, bias, start, last_offset, spikes);
                }
            }
        }

        // Crossing into the next step.
        if neuron.refractory && neuron.boundaries_to_release > 0 {
            neuron.boundaries_to_release -= 1;
        }

        self.v_rel[i] = neuron.now.v;
        self.i_syn_ex[i] = neuron.now.i_ex;
        self.i_syn_in[i] = neuron.now.i_in;
        self.refractory[i] = neuron.refractory;
        self.boundaries_to_release[i] = neuron.boundaries_to_release;
        self.last_spike_offset[i] = neuron.last_spike_offset;
    }

    /// y2 after `dt` of free evolution from `from` (NEST's `propagate_` and `threshold_distance`,
    /// term for term, so that both give the same number).
    fn free_membrane(&self, from: &Point, bias: f64, dt: f64) -> f64 {
        let leak = (-dt / self.params.tau_m).exp();
        let bias_to_membrane = self.minus_tau_m_over_c_m * (-dt / self.params.tau_m).exp_m1();
        bias_to_membrane * bias
            + self.ex_to_membrane.propagator(dt) * from.i_ex
            + self.in_to_membrane.propagator(dt) * from.i_in
            + from.v * leak
    }

    /// Exact propagation over a ministep `dt > 0`; V_m is held while refractory.
    fn propagate(&self, neuron: &mut Neuron, bias: f64, dt: f64) {
        debug_assert!(dt > 0.0);
        if !neuron.refractory {
            neuron.now.v = self.free_membrane(&neuron.now, bias, dt);
        }
        neuron.now.i_ex *= (-dt / self.params.tau_syn_ex).exp();
        neuron.now.i_in *= (-dt / self.params.tau_syn_in).exp();
    }

    /// V_m was below threshold at `start` (ms after the step's start) and is at or above it
    /// `dt` later: find the crossing, then spike and reset.
    fn fire_in_ministep(
        &mut self,
        neuron: &mut Neuron,
        ministep_start: &Point,
        bias: f64,
        start: f64,
        dt: f64,
        spikes: &mut Vec<f64>,
    ) {
        let crossing = self.crossing_time(ministep_start, bias, dt);
        // Round-off can put start + crossing a hair past the step's end; offsets are ≥ 0.
        let offset = (self.h_ms - (start + crossing)).max(0.0);
        self.fire(neuron, offset, spikes);
    }

    /// Emits a spike at `offset` in the current step, resets V_m and starts refractoriness.
    fn fire(&self, neuron: &mut Neuron, offset: f64, spikes: &mut Vec<f64>) {
        neuron.now.v = self.u_reset;
        neuron.refractory = true;
        neuron.boundaries_to_release = self.refractory_steps;
        neuron.last_spike_offset = offset;
        spikes.push(offset);
    }

    /// Time (ms, in `[0, dt]`) at which V_m reaches threshold, counted from `from`: NEST's
    /// `regula_falsi` (Illinois variant) on the exact free solution.
    fn crossing_time(&mut self, from: &Point, bias: f64, dt: f64) -> f64 {
        let distance = |t: f64| self.free_membrane(from, bias, t) - self.u_th;

        let (mut a, mut b) = (0.0, dt);
        let (mut dist_a, mut dist_b) = (distance(a), distance(b));
        if dist_a * dist_b > 0.0 {
            // No sign change: the step's update and the root search disagree by round-off
            // right at the threshold. Take the end that is already at threshold.
            self.threshold_search_failures += 1;
            return if dist_a >= 0.0 { a } else { b };
        }

        // +1: the last estimate replaced a, −1: it replaced b. When the same end moves twice in
        // a row, the other end's value is halved to pull the next estimate towards it.
        let mut last_replaced = 0i8;
        let mut root = b;
        for _ in 0..CROSSING_MAX_ITERATIONS {
            root = (a * dist_b - b * dist_a) / (dist_b - dist_a);
            let dist_root = distance(root);
            if dist_root.abs() < CROSSING_TOLERANCE_MV {
                return root;
            }
            if dist_a * dist_root > 0.0 {
                a = root;
                dist_a = dist_root;
                if last_replaced == 1 {
                    dist_b /= 2.0;
                }
                last_replaced = 1;
            } else if dist_b * dist_root > 0.0 {
                b = root;
                dist_b = dist_root;
                if last_replaced == -1 {
                    dist_a /= 2.0;
                }
                last_replaced = -1;
            } else {
                // NaN: the bracket collapsed onto a point where both ends are at threshold.
                break;
            }
        }
        self.threshold_search_failures += 1;
        if root.is_finite() { root.clamp(0.0, dt) } else { b }
    }
}

/// `x` rounded up to a whole number, where values within 1e-9 (relative) of an integer count as
/// that integer.
fn steps_rounded_up(x: f64) -> f64 {
    let nearest = x.round();
    if (x - nearest).abs() <= 1e-9 * nearest.abs().max(1.0) { nearest } else { x.ceil() }
}
