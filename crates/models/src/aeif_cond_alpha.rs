//! `aeif_cond_alpha`: NEST's adaptive exponential integrate-and-fire neuron (AdEx, Brette &
//! Gerstner 2005) with alpha-shaped synaptic conductances.
//!
//! # Equations (units: mV, ms, pF, nS, pA)
//! ```text
//! C_m dV_m/dt = −g_L (V − E_L) + g_L Δ_T exp((V − V_th) / Δ_T)
//!               − g_ex (V − E_ex) − g_in (V − E_in) − w + I_e + I_stim
//! tau_w dw/dt = a (V − E_L) − w
//! d(dg_ex)/dt = −dg_ex / tau_syn_ex,    dg_ex/dt = dg_ex − g_ex / tau_syn_ex
//! d(dg_in)/dt = −dg_in / tau_syn_in,    dg_in/dt = dg_in − g_in / tau_syn_in
//! ```
//! (`dg_ex`, `dg_in` in nS/ms; the exponential term is absent when Δ_T = 0). On the right-hand
//! side V is `min(V_m, V_peak)`, NEST's guard against the exponential blowing up within a
//! sub-step; while refractory, `V = V_reset` and `dV_m/dt = 0` (w and the conductances keep
//! evolving, w relaxing towards a·(V_reset − E_L)). A spike of weight w (nS) adds
//! `|w|·e/tau_syn` to `dg_ex` or `dg_in`, so that a single event's conductance
//! `|w|·(t/tau_syn)·e^(1 − t/tau_syn)` peaks at |w| nS at t = tau_syn.
//!
//! # Integration scheme
//! GSL's adaptive Runge–Kutta–Fehlberg 4(5) with the standard control
//! `gsl_odeiv_control_yp_new(gsl_error_tol, gsl_error_tol)` (errors weighed against
//! `|h·dy/dt|`, absolute and relative tolerance both `gsl_error_tol`), one evolve call after
//! the other until the simulation step is covered; the sub-step suggestion is carried over
//! from step to step per neuron ([`crate::odeint`]).
//!
//! That is the default (`integration = "rkf45"`) and what NEST parity needs. laminar also offers
//! `integration = "rk4"`: classic fourth-order Runge–Kutta with `rk4_substeps` equal sub-steps
//! per step (default 2; 1–100), the same right-hand side, the same checks, clamp and spike
//! detection after each sub-step. No error control: near a spike's exponential upswing the
//! adaptive scheme takes many short sub-steps where RK4 takes its fixed ones, so a spike can fall
//! one step later or earlier (an irregularly driven neuron over 2 s: the same 21 spikes, 13, 5 and
//! 2 of them one step off with 1, 2 and 4 sub-steps; membrane potentials away from spikes within
//! 0.5 mV; a test). It costs 4 right-hand sides per sub-step against RKF45's 6 per sub-step, of
//! which it takes several per step: about 4× cheaper with 2 sub-steps (the micro-benchmarks).
//!
//! `integration = "rk4_vector"` is the same RK4 (and `rk4_substeps`) for a whole shard at once:
//! one loop over the neurons per sub-step, branch-free, compiled for AVX-512 or AVX2, with the
//! exponential term's `exp` in plain arithmetic ([`crate::vector_exp::exp`], within 1 ulp of the
//! C library's). Over 1 s of 37 irregularly driven neurons it gives `rk4`'s spikes exactly and
//! membrane potentials within 10⁻⁹ mV (a test); 40 against 190 ns per neuron-step for `rk4` and
//! 650 for `rkf45` (`benches/stepped.py`, where NEST 3.10 takes 790 ns: 20× NEST). See
//! `aeif_cond_alpha/vector.rs`.
//!
//! # Update order within step k (from k·h to (k+1)·h), as in NEST's `aeif_cond_alpha::update`
//! 1. Sub-step by sub-step until the step is covered (each an adaptive evolve call, with the
//!    injected current `i_stim` given for this step):
//!    - stop if `V_m < −1000 mV` or `|w| > 10⁶ pA` (NEST's `NumericalInstability`, see
//!      [`AeifCondAlpha::take_instability`]);
//!    - if refractory, set `V_m = V_reset`;
//!    - otherwise, if `V_m ≥ V_peak` (`V_th` when Δ_T = 0): spike (time (k+1)·h),
//!      `V_m = V_reset`, `w += b`, and become refractory for `ceil(t_ref / h)` steps counted
//!      from the next one; the remaining sub-steps of this step already integrate the
//!      refractory dynamics. With t_ref = 0 the neuron can spike several times in one step.
//! 2. Count one refractory step down.
//! 3. Add the spike input delivered in this step: `dg_ex += spike_ex·e/tau_syn_ex`,
//!    `dg_in += spike_in·e/tau_syn_in`.
//!
//! The same kernel runs [`crate::aeif_cond_alpha_astro`], which adds the astrocytes' slow inward
//! current after `I_e + I_stim` (zero here, leaving every sum bit for bit unchanged).
//!
//! # References
//! - NEST 3.10, `models/aeif_cond_alpha.{h,cpp}` (the authority on equations, defaults, order).
//! - Brette R & Gerstner W (2005), Adaptive exponential integrate-and-fire model as an effective
//!   description of neuronal activity, J Neurophysiol 94:3637–3642, doi:10.1152/jn.00686.2005.
//! - GSL, `ode-initval/rkf45.c`, `cstd.c`, `evolve.c` (the integrator).

use laminar_engine::{StateError, StateIo};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::iaf_cond_exp::nest_steps_rounded_up;
use crate::odeint::{Integration, Rhs, Rkf45, StandardControl, rk4_step};
use crate::params::{ParamError, Validate, finite, less_than, non_negative, positive};
use crate::vector_exp;

mod vector;
pub(crate) use vector::ShardInput;

/// Indices into the integrated state vector (NEST's `State_::StateVecElems` order).
const V_M: usize = 0;
const DG_EX: usize = 1;
const G_EX: usize = 2;
const DG_IN: usize = 3;
const G_IN: usize = 4;
const W: usize = 5;
const STATE_SIZE: usize = 6;

/// NEST treats a membrane potential below this as a numerical failure (mV).
const V_M_FLOOR: f64 = -1e3;
/// NEST treats an adaptation current beyond ±this as a numerical failure (pA).
const W_BOUND: f64 = 1e6;

/// Parameters of an `aeif_cond_alpha` population, with NEST's names, units and defaults.
///
/// The last six fields are the initial state, which NEST accepts in the same dictionary as
/// the parameters (`V_m`, `w`, `g_ex`, `dg_ex`, `g_in`, `dg_in`); they set every neuron's state
/// when the population is built. As in NEST, the initial `V_m` defaults to −70.6 mV (the
/// default `E_L`) and does not follow a changed `E_L`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AeifCondAlphaParams {
    /// Membrane capacitance (pF).
    #[serde(rename = "C_m")]
    pub c_m: f64,
    /// Leak reversal potential (mV).
    #[serde(rename = "E_L")]
    pub e_l: f64,
    /// Leak conductance (nS).
    #[serde(rename = "g_L")]
    pub g_l: f64,
    /// Spike initiation threshold of the exponential term (mV).
    #[serde(rename = "V_th")]
    pub v_th: f64,
    /// Spike detection threshold (mV); with Δ_T = 0, `V_th` is used instead.
    #[serde(rename = "V_peak")]
    pub v_peak: f64,
    /// Reset potential, also the clamp value while refractory (mV).
    #[serde(rename = "V_reset")]
    pub v_reset: f64,
    /// Refractory period (ms).
    #[serde(rename = "t_ref")]
    pub t_ref: f64,
    /// Slope factor Δ_T of the exponential term (mV); 0 gives a hard threshold at `V_th`.
    #[serde(rename = "Delta_T")]
    pub delta_t: f64,
    /// Subthreshold adaptation (nS).
    #[serde(rename = "a")]
    pub a: f64,
    /// Spike-triggered adaptation increment (pA).
    #[serde(rename = "b")]
    pub b: f64,
    /// Adaptation time constant (ms).
    #[serde(rename = "tau_w")]
    pub tau_w: f64,
    /// Excitatory reversal potential (mV).
    #[serde(rename = "E_ex")]
    pub e_ex: f64,
    /// Inhibitory reversal potential (mV).
    #[serde(rename = "E_in")]
    pub e_in: f64,
    /// Rise time (time to peak) of the excitatory alpha conductance (ms).
    #[serde(rename = "tau_syn_ex")]
    pub tau_syn_ex: f64,
    /// Rise time (time to peak) of the inhibitory alpha conductance (ms).
    #[serde(rename = "tau_syn_in")]
    pub tau_syn_in: f64,
    /// Constant injected current (pA).
    #[serde(rename = "I_e")]
    pub i_e: f64,
    /// Absolute and relative tolerance of the adaptive integrator.
    #[serde(rename = "gsl_error_tol")]
    pub gsl_error_tol: f64,
    /// How a step is integrated (laminar's choice; NEST has only `"rkf45"`).
    pub integration: AeifIntegration,
    /// Sub-steps per simulation step with `integration = "rk4"` (laminar's).
    pub rk4_substeps: u32,
    /// Initial membrane potential (mV).
    #[serde(rename = "V_m")]
    pub initial_v_m: f64,
    /// Initial adaptation current (pA).
    #[serde(rename = "w")]
    pub initial_w: f64,
    /// Initial excitatory conductance (nS).
    #[serde(rename = "g_ex")]
    pub initial_g_ex: f64,
    /// Initial derivative of the excitatory conductance (nS/ms).
    #[serde(rename = "dg_ex")]
    pub initial_dg_ex: f64,
    /// Initial inhibitory conductance (nS).
    #[serde(rename = "g_in")]
    pub initial_g_in: f64,
    /// Initial derivative of the inhibitory conductance (nS/ms).
    #[serde(rename = "dg_in")]
    pub initial_dg_in: f64,
}

impl Default for AeifCondAlphaParams {
    /// NEST 3.10's defaults (`aeif_cond_alpha::Parameters_()` and `State_(Parameters_)`).
    fn default() -> Self {
        Self {
            c_m: 281.0,
            e_l: -70.6,
            g_l: 30.0,
            v_th: -50.4,
            v_peak: 0.0,
            v_reset: -60.0,
            t_ref: 0.0,
            delta_t: 2.0,
            a: 4.0,
            b: 80.5,
            tau_w: 144.0,
            e_ex: 0.0,
            e_in: -85.0,
            tau_syn_ex: 0.2,
            tau_syn_in: 2.0,
            i_e: 0.0,
            gsl_error_tol: 1e-6,
            integration: AeifIntegration::Rkf45,
            rk4_substeps: 2,
            initial_v_m: -70.6,
            initial_w: 0.0,
            initial_g_ex: 0.0,
            initial_dg_ex: 0.0,
            initial_g_in: 0.0,
            initial_dg_in: 0.0,
        }
    }
}

impl Validate for AeifCondAlphaParams {
    /// NEST's checks (`V_reset < V_peak`, `V_peak ≥ V_th`, `Δ_T ≥ 0`, no overflow of the
    /// exponential at `V_peak`, `C_m > 0`, `t_ref ≥ 0`, positive time constants and
    /// `gsl_error_tol`, initial conductances ≥ 0), plus finiteness everywhere and `g_L ≥ 0`,
    /// which NEST leaves unchecked.
    fn validate(&self) -> Result<(), ParamError> {
        positive("C_m", self.c_m, "pF")?;
        finite("E_L", self.e_l, "mV")?;
        non_negative("g_L", self.g_l, "nS")?;
        finite("V_th", self.v_th, "mV")?;
        finite("V_peak", self.v_peak, "mV")?;
        finite("V_reset", self.v_reset, "mV")?;
        less_than("V_reset", self.v_reset, "V_peak", self.v_peak)?;
        if self.v_peak < self.v_th {
            return Err(ParamError::new("V_peak", self.v_peak, &format!("must be >= V_th ({})", self.v_th)));
        }
        non_negative("t_ref", self.t_ref, "ms")?;
        non_negative("Delta_T", self.delta_t, "mV")?;
        if self.delta_t > 0.0 {
            // NEST keeps a margin of 1e20 below the largest double for the terms that follow
            // the exponential at spike time.
            let max_exponent = (f64::MAX / 1e20).ln();
            if (self.v_peak - self.v_th) / self.delta_t >= max_exponent {
                return Err(ParamError::new(
                    "Delta_T",
                    self.delta_t,
                    &format!(
                        "(V_peak - V_th) / Delta_T must be < {max_exponent:.1} so that the \
                         exponential term stays finite at V_peak: increase Delta_T or lower V_peak"
                    ),
                ));
            }
        }
        finite("a", self.a, "nS")?;
        finite("b", self.b, "pA")?;
        positive("tau_w", self.tau_w, "ms")?;
        finite("E_ex", self.e_ex, "mV")?;
        finite("E_in", self.e_in, "mV")?;
        positive("tau_syn_ex", self.tau_syn_ex, "ms")?;
        positive("tau_syn_in", self.tau_syn_in, "ms")?;
        finite("I_e", self.i_e, "pA")?;
        positive("gsl_error_tol", self.gsl_error_tol, "")?;
        if !(1..=100).contains(&self.rk4_substeps) {
            return Err(ParamError::new("rk4_substeps", self.rk4_substeps, "must be an integer in 1..=100"));
        }
        finite("V_m", self.initial_v_m, "mV")?;
        finite("w", self.initial_w, "pA")?;
        non_negative("g_ex", self.initial_g_ex, "nS")?;
        finite("dg_ex", self.initial_dg_ex, "nS/ms")?;
        non_negative("g_in", self.initial_g_in, "nS")?;
        finite("dg_in", self.initial_dg_in, "nS/ms")?;
        Ok(())
    }
}

// NEST's multimeter offers the first four; `dg_ex` and `dg_in` are state it exposes in the
// status dictionary.
recordables! {
    "aeif_cond_alpha":
    /// Membrane potential `V_m` (mV).
    Vm = ("V_m", "mV"),
    /// Adaptation current `w` (pA).
    W = ("w", "pA"),
    /// Excitatory conductance `g_ex` (nS).
    GEx = ("g_ex", "nS"),
    /// Inhibitory conductance `g_in` (nS).
    GIn = ("g_in", "nS"),
    /// Derivative of the excitatory conductance `dg_ex` (nS/ms).
    DgEx = ("dg_ex", "nS/ms"),
    /// Derivative of the inhibitory conductance `dg_in` (nS/ms).
    DgIn = ("dg_in", "nS/ms"),
}

/// How an `aeif_cond_alpha` step is integrated (shared with `iaf_cond_exp`).
pub type AeifIntegration = Integration;

/// The integration of a neuron left the range NEST accepts (`V_m < −1000 mV` or
/// `|w| > 10⁶ pA`); NEST stops the simulation with `NumericalInstability`, and so does a
/// network run (the shard reports it to the engine, which ends the run with the neuron's name).
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{model} neuron {neuron}: {}", self.what())]
pub struct NumericalInstability {
    /// NEST's name of the model (`aeif_cond_alpha` or `aeif_cond_alpha_astro`).
    pub model: &'static str,
    /// Index of the neuron in the kernel (in a network, within its shard).
    pub neuron: usize,
    pub v_m: f64,
    pub w: f64,
    /// The integration that failed, for the advice.
    pub integration: AeifIntegration,
}

impl NumericalInstability {
    /// What failed and what to change, without the model and neuron.
    pub fn what(&self) -> String {
        let advice = match self.integration {
            AeifIntegration::Rkf45 => "reduce gsl_error_tol or check the parameters",
            AeifIntegration::Rk4 | AeifIntegration::Rk4Vector => {
                "raise rk4_substeps, use integration = \"rkf45\" or check the parameters"
            }
        };
        format!(
            "numerical instability (V_m = {} mV, w = {} pA; NEST stops at V_m < -1000 mV or |w| > 1e6 pA): {advice}",
            self.v_m, self.w
        )
    }
}

/// A population of `aeif_cond_alpha` neurons sharing one parameter set (struct of arrays).
#[derive(Debug, Clone)]
pub struct AeifCondAlpha {
    /// NEST's name of the model this kernel runs, for error messages.
    model: &'static str,
    params: AeifCondAlphaParams,
    solver: Rkf45,
    /// Simulation step h (ms).
    h_ms: f64,
    /// Membrane potential that counts as a spike: `V_peak`, or `V_th` when Δ_T = 0.
    spike_detection_v: f64,
    /// Jump of `dg_ex` per nS of excitatory weight, e/tau_syn_ex (1/ms).
    dg_ex_per_weight: f64,
    /// Jump of `dg_in` per nS of inhibitory weight, e/tau_syn_in (1/ms).
    dg_in_per_weight: f64,
    /// Steps a neuron stays refractory after the step in which it spiked.
    refractory_steps: u32,
    v_m: Vec<f64>,
    dg_ex: Vec<f64>,
    g_ex: Vec<f64>,
    dg_in: Vec<f64>,
    g_in: Vec<f64>,
    w: Vec<f64>,
    /// Refractory counter (NEST's `r_`); > 0 means refractory.
    refractory_left: Vec<u32>,
    /// Sub-step size the integrator suggested last (NEST's `B_.IntegrationStep_`, ms).
    integration_step: Vec<f64>,
    /// First numerical failure since the last [`AeifCondAlpha::take_instability`].
    instability: Option<NumericalInstability>,
    /// Scratch of `integration = "rk4_vector"`'s shard step.
    vector_scratch: vector::Scratch,
}

impl AeifCondAlpha {
    /// `n` neurons in the initial state of `params`, simulated with step `h_ms`.
    pub fn new(params: AeifCondAlphaParams, n: usize, h_ms: f64) -> Result<Self, ParamError> {
        params.validate()?;
        positive("resolution", h_ms, "ms")?;
        let e = std::f64::consts::E;
        Ok(Self {
            model: "aeif_cond_alpha",
            solver: Rkf45::new(StandardControl::yp(params.gsl_error_tol, params.gsl_error_tol)),
            h_ms,
            spike_detection_v: if params.delta_t > 0.0 { params.v_peak } else { params.v_th },
            dg_ex_per_weight: e / params.tau_syn_ex,
            dg_in_per_weight: e / params.tau_syn_in,
            refractory_steps: nest_steps_rounded_up("t_ref", params.t_ref, h_ms)?,
            v_m: vec![params.initial_v_m; n],
            dg_ex: vec![params.initial_dg_ex; n],
            g_ex: vec![params.initial_g_ex; n],
            dg_in: vec![params.initial_dg_in; n],
            g_in: vec![params.initial_g_in; n],
            w: vec![params.initial_w; n],
            refractory_left: vec![0; n],
            // NEST starts the integrator's suggestion at the simulation step.
            integration_step: vec![h_ms; n],
            instability: None,
            vector_scratch: vector::Scratch::default(),
            params,
        })
    }

    /// The same kernel reporting errors under NEST's model name `model` (models that extend it).
    pub(crate) fn named(mut self, model: &'static str) -> Self {
        self.model = model;
        self
    }

    /// Advances neuron `i` by one step (see the module documentation for the order) and tells
    /// whether it spiked in this step.
    ///
    /// - `spike_ex`: summed weights of the excitatory spikes delivered in this step (nS, ≥ 0);
    /// - `spike_in`: summed *magnitudes* of the inhibitory weights delivered in this step, as a
    ///   positive conductance (nS, ≥ 0): NEST adds −w for an inhibitory weight w < 0;
    /// - `i_stim`: injected current acting during this step (pA), besides `I_e`.
    ///
    /// With t_ref = 0 a neuron can spike more than once in a step, and NEST then sends one
    /// spike per crossing: use [`AeifCondAlpha::update_counting_spikes`] to get them all.
    pub fn update(&mut self, i: usize, spike_ex: f64, spike_in: f64, i_stim: f64) -> bool {
        self.update_counting_spikes(i, spike_ex, spike_in, i_stim) > 0
    }

    /// [`AeifCondAlpha::update`], returning the number of spikes emitted in this step.
    pub fn update_counting_spikes(&mut self, i: usize, spike_ex: f64, spike_in: f64, i_stim: f64) -> u32 {
        self.advance(i, spike_ex, spike_in, i_stim, 0.0)
    }

    /// One step of neuron `i` with an extra current `i_extra` (pA) acting during the step, added
    /// after `I_e + i_stim` as NEST's `aeif_cond_alpha_astro` adds its slow inward current.
    /// `aeif_cond_alpha` passes 0, which leaves every sum bit for bit as without the term.
    pub(crate) fn advance(&mut self, i: usize, spike_ex: f64, spike_in: f64, i_stim: f64, i_extra: f64) -> u32 {
        debug_assert!(spike_ex >= 0.0 && spike_in >= 0.0, "spike input is a conductance");
        let p = &self.params;
        let mut y = [0.0; STATE_SIZE];
        y[V_M] = self.v_m[i];
        y[DG_EX] = self.dg_ex[i];
        y[G_EX] = self.g_ex[i];
        y[DG_IN] = self.dg_in[i];
        y[G_IN] = self.g_in[i];
        y[W] = self.w[i];
        let mut refractory_left = self.refractory_left[i];
        let mut step_size = self.integration_step[i];

        let mut spikes = 0;
        match p.integration {
            AeifIntegration::Rkf45 => {
                let mut t = 0.0;
                while t < self.h_ms {
                    // A spike earlier in this step makes the remaining sub-steps refractory.
                    let refractory = refractory_left > 0;
                    let mut rhs = |_t: f64, y: &[f64; STATE_SIZE], dydt: &mut [f64; STATE_SIZE]| {
                        derivatives(p, i_stim, i_extra, refractory, y, dydt, f64::exp)
                    };
                    self.solver.evolve_apply(&mut rhs, &mut t, self.h_ms, &mut step_size, &mut y);
                    if let Err(e) = self.after_substep(i, &mut y, &mut refractory_left, &mut spikes) {
                        self.instability.get_or_insert(e);
                        break;
                    }
                }
            }
            AeifIntegration::Rk4 => {
                self.rk4(i, &mut y, &mut refractory_left, &mut spikes, i_stim, i_extra, f64::exp);
            }
            // One neuron alone takes the vectorised loop's arithmetic (`vector::step_shard`),
            // so that it computes the same bits.
            AeifIntegration::Rk4Vector => {
                self.rk4(i, &mut y, &mut refractory_left, &mut spikes, i_stim, i_extra, vector_exp::exp);
            }
        }

        refractory_left = refractory_left.saturating_sub(1);

        y[DG_EX] += spike_ex * self.dg_ex_per_weight;
        y[DG_IN] += spike_in * self.dg_in_per_weight;

        self.v_m[i] = y[V_M];
        self.dg_ex[i] = y[DG_EX];
        self.g_ex[i] = y[G_EX];
        self.dg_in[i] = y[DG_IN];
        self.g_in[i] = y[G_IN];
        self.w[i] = y[W];
        self.refractory_left[i] = refractory_left;
        self.integration_step[i] = step_size;
        spikes
    }

    /// The fixed RK4 sub-steps of neuron `i`'s step, each followed by [`Self::after_substep`].
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn rk4(
        &mut self,
        i: usize,
        y: &mut [f64; STATE_SIZE],
        refractory_left: &mut u32,
        spikes: &mut u32,
        i_stim: f64,
        i_extra: f64,
        exp: impl Fn(f64) -> f64 + Copy,
    ) {
        let p = &self.params;
        let dt = self.h_ms / f64::from(p.rk4_substeps);
        for _ in 0..p.rk4_substeps {
            let refractory = *refractory_left > 0;
            rk4_step(y, dt, &AeifRhs { p, i_stim, i_extra, refractory, exp });
            if let Err(e) = self.after_substep(i, y, refractory_left, spikes) {
                self.instability.get_or_insert(e);
                break;
            }
        }
    }

    /// What follows each sub-step of neuron `i`: NEST's instability check (an error ends the
    /// step), the clamp while refractory, and spike detection with reset, adaptation jump and
    /// the refractory count.
    fn after_substep(
        &self,
        i: usize,
        y: &mut [f64; STATE_SIZE],
        refractory_left: &mut u32,
        spikes: &mut u32,
    ) -> Result<(), NumericalInstability> {
        if beyond_nest_bounds(y) {
            return Err(NumericalInstability {
                model: self.model,
                neuron: i,
                v_m: y[V_M],
                w: y[W],
                integration: self.params.integration,
            });
        }
        if *refractory_left > 0 {
            y[V_M] = self.params.v_reset;
        } else if y[V_M] >= self.spike_detection_v {
            y[V_M] = self.params.v_reset;
            y[W] += self.params.b;
            *spikes += 1;
            *refractory_left = self.refractory_after_spike();
        }
        Ok(())
    }

    /// The refractory count a spike sets: one more than t_ref in steps, because the count-down
    /// at the end of the step already takes one off; 0 (t_ref = 0) keeps the neuron free within
    /// this step.
    fn refractory_after_spike(&self) -> u32 {
        if self.refractory_steps > 0 { self.refractory_steps + 1 } else { 0 }
    }

    /// The first numerical failure since the last call, if any (NEST would have stopped the
    /// simulation with `NumericalInstability`). The failed neuron's step was cut short; the
    /// caller should stop and report the error.
    pub fn take_instability(&mut self) -> Option<NumericalInstability> {
        self.instability.take()
    }

    /// Saves or restores the neurons' state for a checkpoint: `V_m`, the alpha conductances and
    /// their derivatives, `w`, the refractory count and the integrator's suggested sub-step
    /// (NEST keeps it from step to step). A pending [`NumericalInstability`] is not state: it is
    /// an error report for the caller, and the dynamics never read it.
    pub fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        io.neurons("v_m", &mut self.v_m)?;
        io.neurons("dg_ex", &mut self.dg_ex)?;
        io.neurons("g_ex", &mut self.g_ex)?;
        io.neurons("dg_in", &mut self.dg_in)?;
        io.neurons("g_in", &mut self.g_in)?;
        io.neurons("w", &mut self.w)?;
        io.neurons("refractory_left", &mut self.refractory_left)?;
        io.neurons("integration_step", &mut self.integration_step)
    }

    /// Number of neurons.
    pub fn len(&self) -> usize {
        self.v_m.len()
    }

    pub fn is_empty(&self) -> bool {
        self.v_m.is_empty()
    }

    pub fn params(&self) -> &AeifCondAlphaParams {
        &self.params
    }

    /// Simulation step h (ms).
    pub fn h_ms(&self) -> f64 {
        self.h_ms
    }

    /// Steps a neuron stays refractory after the step in which it spiked: t_ref rounded up to
    /// whole steps, as NEST's `Time::get_steps()` does.
    pub fn refractory_steps(&self) -> u32 {
        self.refractory_steps
    }

    /// Value of `var` for neuron `i`.
    pub fn get(&self, var: Recordable, i: usize) -> f64 {
        self.values(var)[i]
    }

    /// Values of `var` for all neurons.
    pub fn values(&self, var: Recordable) -> &[f64] {
        match var {
            Recordable::Vm => &self.v_m,
            Recordable::W => &self.w,
            Recordable::GEx => &self.g_ex,
            Recordable::GIn => &self.g_in,
            Recordable::DgEx => &self.dg_ex,
            Recordable::DgIn => &self.dg_in,
        }
    }

    /// Sets the state variable `var` of neuron `i` (e.g. a per-neuron initial value).
    pub fn set(&mut self, var: Recordable, i: usize, value: f64) {
        let values = match var {
            Recordable::Vm => &mut self.v_m,
            Recordable::W => &mut self.w,
            Recordable::GEx => &mut self.g_ex,
            Recordable::GIn => &mut self.g_in,
            Recordable::DgEx => &mut self.dg_ex,
            Recordable::DgIn => &mut self.dg_in,
        };
        values[i] = value;
    }

    /// Whether neuron `i` is refractory during the next step.
    pub fn is_refractory(&self, i: usize) -> bool {
        self.refractory_left[i] > 0
    }
}

/// Whether the state left the range NEST accepts (its `NumericalInstability`): `V_m` below
/// −1000 mV or `|w|` above 10⁶ pA. NEST lets V_m explode upwards (the reset catches it).
#[inline(always)]
fn beyond_nest_bounds(y: &[f64; STATE_SIZE]) -> bool {
    y[V_M] < V_M_FLOOR || y[W] < -W_BOUND || y[W] > W_BOUND
}

/// [`derivatives`] with its arguments, for [`rk4_step`].
struct AeifRhs<'a, E> {
    p: &'a AeifCondAlphaParams,
    i_stim: f64,
    i_extra: f64,
    refractory: bool,
    exp: E,
}

impl<E: Fn(f64) -> f64> Rhs<STATE_SIZE> for AeifRhs<'_, E> {
    #[inline(always)]
    fn eval(&self, y: &[f64; STATE_SIZE], dydt: &mut [f64; STATE_SIZE]) {
        derivatives(self.p, self.i_stim, self.i_extra, self.refractory, y, dydt, &self.exp);
    }
}

/// The right-hand side, term for term and in NEST's order of operations
/// (`aeif_cond_alpha_dynamics`): the last bits steer the adaptive step size, so divisions stay
/// divisions rather than products with precomputed reciprocals.
///
/// `exp` is the C library's for the reference integrations and [`vector_exp::exp`] for
/// `rk4_vector`, whose loop the library call would keep from vectorising.
#[inline(always)]
fn derivatives(
    p: &AeifCondAlphaParams,
    i_stim: f64,
    i_extra: f64,
    refractory: bool,
    y: &[f64; STATE_SIZE],
    dydt: &mut [f64; STATE_SIZE],
    exp: impl Fn(f64) -> f64,
) {
    // Clamped while refractory; otherwise bounded by V_peak (not the Δ_T = 0 detection value)
    // so that the exponential stays finite within a sub-step that overshoots.
    let v = if refractory {
        p.v_reset
    } else if p.v_peak < y[V_M] {
        p.v_peak
    } else {
        y[V_M]
    };
    let (dg_ex, g_ex, dg_in, g_in, w) = (y[DG_EX], y[G_EX], y[DG_IN], y[G_IN], y[W]);

    let i_syn_ex = g_ex * (v - p.e_ex);
    let i_syn_in = g_in * (v - p.e_in);
    let i_spike = if p.delta_t == 0.0 { 0.0 } else { p.g_l * p.delta_t * exp((v - p.v_th) / p.delta_t) };

    dydt[V_M] = if refractory {
        0.0
    } else {
        (-p.g_l * (v - p.e_l) + i_spike - i_syn_ex - i_syn_in - w + p.i_e + i_stim + i_extra) / p.c_m
    };
    dydt[DG_EX] = -dg_ex / p.tau_syn_ex;
    dydt[G_EX] = dg_ex - g_ex / p.tau_syn_ex;
    dydt[DG_IN] = -dg_in / p.tau_syn_in;
    dydt[G_IN] = dg_in - g_in / p.tau_syn_in;
    dydt[W] = (p.a * (v - p.e_l) - w) / p.tau_w;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_invalid_parameters() {
        let bad = AeifCondAlphaParams { v_peak: -55.0, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().field, "V_peak");
        let bad = AeifCondAlphaParams { delta_t: 0.01, v_peak: 100.0, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().field, "Delta_T");
        let bad = AeifCondAlphaParams { initial_g_in: -1.0, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().field, "g_in");
        assert!(AeifCondAlpha::new(AeifCondAlphaParams::default(), 1, -0.1).is_err());
    }

    #[test]
    fn reads_nest_names_and_rejects_unknown_ones() {
        let p: AeifCondAlphaParams =
            serde_json::from_str(r#"{"Delta_T": 1.0, "w": 5.0, "gsl_error_tol": 1e-8}"#).unwrap();
        assert_eq!((p.delta_t, p.initial_w, p.gsl_error_tol), (1.0, 5.0, 1e-8));
        assert_eq!(p.b, 80.5);
        assert!(serde_json::from_str::<AeifCondAlphaParams>(r#"{"tau_m": 10.0}"#).is_err());
    }

    /// A single excitatory event of weight 1 nS peaks at 1 nS, tau_syn_ex after it arrives.
    #[test]
    fn alpha_conductance_peaks_at_the_weight() {
        let params = AeifCondAlphaParams { tau_syn_ex: 1.0, ..Default::default() };
        let mut pop = AeifCondAlpha::new(params, 1, 0.1).unwrap();
        pop.update(0, 1.0, 0.0, 0.0);
        let mut peak = (0, 0.0);
        for k in 1..=30 {
            pop.update(0, 0.0, 0.0, 0.0);
            if pop.get(Recordable::GEx, 0) > peak.1 {
                peak = (k, pop.get(Recordable::GEx, 0));
            }
        }
        assert_eq!(peak.0, 10);
        assert!((peak.1 - 1.0).abs() < 1e-6, "peak g_ex = {}", peak.1);
    }

    /// Strong drive makes the neuron spike, reset to V_reset and jump w by b; with t_ref it
    /// stays clamped for t_ref afterwards.
    #[test]
    fn spikes_reset_and_adapt() {
        let params = AeifCondAlphaParams { t_ref: 1.0, ..Default::default() };
        let mut pop = AeifCondAlpha::new(params, 1, 0.1).unwrap();
        let first = (0..2000).position(|_| pop.update(0, 0.0, 0.0, 2000.0)).unwrap();
        assert!(first > 0);
        assert!(pop.get(Recordable::W, 0) > 80.5);
        for _ in 0..10 {
            assert!(pop.is_refractory(0));
            assert!(!pop.update(0, 0.0, 0.0, 2000.0));
            assert_eq!(pop.get(Recordable::Vm, 0), -60.0);
        }
        assert!(!pop.is_refractory(0));
        pop.update(0, 0.0, 0.0, 2000.0);
        assert!(pop.get(Recordable::Vm, 0) > -60.0);
        assert!(pop.take_instability().is_none());
    }

    /// Runs one neuron for `steps` steps of 0.1 ms under a fixed, irregular drive (excitatory and
    /// inhibitory conductance kicks and a slowly varying current), returning its spike steps and
    /// its V_m after every step.
    fn driven(params: AeifCondAlphaParams, steps: usize) -> (Vec<usize>, Vec<f64>) {
        let mut pop = AeifCondAlpha::new(params, 1, 0.1).unwrap();
        let (mut spikes, mut v) = (Vec::new(), Vec::new());
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for k in 0..steps {
            // A fixed pseudo-random sequence (xorshift), so both integrations see the same input.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (ex, inh) = if x.is_multiple_of(7) {
                (2.0 + (x >> 40) as f64 / 2e6, 0.0)
            } else if x.is_multiple_of(11) {
                (0.0, 6.0)
            } else {
                (0.0, 0.0)
            };
            let current = 900.0 + 500.0 * (k as f64 * 0.1 / 40.0).sin();
            if pop.update(0, ex, inh, current) {
                spikes.push(k);
            }
            v.push(pop.get(Recordable::Vm, 0));
        }
        assert!(pop.take_instability().is_none());
        (spikes, v)
    }

    #[test]
    fn rk4_substeps_follow_the_adaptive_reference() {
        // 2 s of an irregularly driven neuron (21 spikes): the fixed-step RK4 gives the same
        // spikes, each in the step of the adaptive reference's or the next; more sub-steps move
        // fewer of them (measured: 13, 5 and 2 of 21 with 1, 2 and 4 sub-steps), and away from
        // spikes the membrane potentials agree within a fraction of a millivolt (what is left
        // there is the reset's time within the step, which a moved spike shifts).
        let steps = 20_000;
        let (reference, v_ref) = driven(AeifCondAlphaParams { t_ref: 2.0, ..Default::default() }, steps);
        assert_eq!(reference.len(), 21);
        for (n, most_moved) in [(1u32, 14), (2, 6), (4, 3)] {
            let params = AeifCondAlphaParams {
                t_ref: 2.0,
                integration: AeifIntegration::Rk4,
                rk4_substeps: n,
                ..Default::default()
            };
            let (spikes, v) = driven(params, steps);
            assert_eq!(spikes.len(), reference.len(), "{n} sub-steps");
            assert!(spikes.iter().zip(&reference).all(|(a, b)| a.abs_diff(*b) <= 1), "{n} sub-steps");
            let moved = spikes.iter().zip(&reference).filter(|(a, b)| a != b).count();
            assert!(moved <= most_moved, "{n} sub-steps: {moved} spikes moved");
            let near_spike = |k: usize| reference.iter().chain(&spikes).any(|&s| s.abs_diff(k) <= 30);
            let away = (0..steps).filter(|&k| !near_spike(k)).map(|k| (v[k] - v_ref[k]).abs()).fold(0.0, f64::max);
            assert!(away < 0.5, "{n} sub-steps: |ΔV| {away} mV away from spikes");
        }
    }

    #[test]
    fn rk4_is_a_named_choice_with_a_bounded_substep_count() {
        let p: AeifCondAlphaParams = serde_json::from_str(r#"{"integration": "rk4", "rk4_substeps": 3}"#).unwrap();
        assert_eq!((p.integration, p.rk4_substeps), (AeifIntegration::Rk4, 3));
        assert!(serde_json::from_str::<AeifCondAlphaParams>(r#"{"integration": "euler"}"#).is_err());
        let zero = AeifCondAlphaParams { rk4_substeps: 0, ..Default::default() };
        assert!(zero.validate().unwrap_err().to_string().contains("rk4_substeps"));
    }

    #[test]
    fn reports_numerical_instability() {
        let mut pop = AeifCondAlpha::new(AeifCondAlphaParams::default(), 2, 0.1).unwrap();
        pop.set(Recordable::W, 1, 2e6);
        pop.update(0, 0.0, 0.0, 0.0);
        assert!(pop.take_instability().is_none());
        pop.update(1, 0.0, 0.0, 0.0);
        assert_eq!(pop.take_instability().map(|e| e.neuron), Some(1));
    }

    #[test]
    fn recordables_round_trip_by_name() {
        for var in Recordable::ALL {
            assert_eq!(Recordable::from_name(var.name()), Some(var));
        }
        assert_eq!(Recordable::W.units(), "pA");
        let mut pop = AeifCondAlpha::new(AeifCondAlphaParams::default(), 1, 0.1).unwrap();
        for (k, var) in Recordable::ALL.into_iter().enumerate() {
            pop.set(var, 0, k as f64);
        }
        for (k, var) in Recordable::ALL.into_iter().enumerate() {
            assert_eq!(pop.get(var, 0), k as f64);
        }
    }
}
