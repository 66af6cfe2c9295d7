//! `iaf_cond_exp`: NEST's leaky integrate-and-fire neuron with exponentially decaying synaptic
//! conductances, hard threshold and fixed refractory period.
//!
//! # Equations (units: mV, ms, pF, nS, pA)
//! ```text
//! C_m dV_m/dt = −g_L (V − E_L) − g_ex (V − E_ex) − g_in (V − E_in) + I_e + I_stim
//! dg_ex/dt    = −g_ex / tau_syn_ex
//! dg_in/dt    = −g_in / tau_syn_in
//! ```
//! where the V on the right-hand side is `min(V_m, V_th)` (NEST bounds it so that the
//! integrator never sees the trajectory beyond threshold), and while the neuron is refractory
//! `V = V_reset` and `dV_m/dt = 0`: the membrane is clamped while the conductances keep
//! decaying. A spike of weight w (nS) makes the conductance jump by |w| (w > 0 excitatory,
//! w < 0 inhibitory), so a single event peaks at |w| nS.
//!
//! # Integration scheme
//! GSL's adaptive Runge–Kutta–Fehlberg 4(5) with the standard control
//! `gsl_odeiv_control_y_new(eps_abs = 1e-3, eps_rel = 0)` — NEST's fixed tolerances for this
//! model — driven by evolve calls until the simulation step is covered, with the sub-step
//! suggestion carried over from step to step per neuron ([`crate::odeint`]).
//!
//! That is the default (`integration = "rkf45"`) and what NEST parity needs. laminar also offers
//! `integration = "rk4"`: classic fourth-order Runge–Kutta with `rk4_substeps` equal sub-steps
//! per step (default 2; 1–100), the same right-hand side and refractory clamp, no error control;
//! and `"rk4_vector"`, the same RK4 for every neuron of a shard in one loop per sub-step,
//! compiled for AVX-512 or AVX2 (`iaf_cond_exp/vector.rs`), which gives `rk4`'s bits exactly.
//! Over 1 s of 37 irregularly driven neurons (929 spikes) RK4 gives every neuron the adaptive
//! reference's spike count with 1–2 spikes one step off (a test).
//!
//! # Update order within step k (from k·h to (k+1)·h), as in NEST's `iaf_cond_exp::update`
//! 1. Integrate the ODEs over the step with the refractory state as it was at the start of the
//!    step and the injected current `i_stim` given for this step.
//! 2. Add the spike input delivered in this step: `g_ex += spike_ex`, `g_in += spike_in`.
//! 3. If refractory: count one refractory step down and set `V_m = V_reset`.
//!    Otherwise, if `V_m ≥ V_th`: spike (time (k+1)·h), `V_m = V_reset`, and stay refractory
//!    for the next `ceil(t_ref / h)` steps.
//!
//! # References
//! - NEST 3.10, `models/iaf_cond_exp.{h,cpp}` (the authority on equations, defaults, order).
//! - Meffin, Burkitt & Grayden (2004), J Comput Neurosci 16:159–175 (the model).
//! - GSL, `ode-initval/rkf45.c`, `cstd.c`, `evolve.c` (the integrator).

use laminar_engine::{StateError, StateIo};
use serde::{Deserialize, Serialize};

use crate::odeint::{Integration, Rhs, Rkf45, StandardControl, rk4_step};
use crate::params::{ParamError, Validate, finite, less_than, non_negative, positive};

/// NEST's fixed GSL tolerances for this model: absolute 1e-3, relative 0, weighing values only.
const CONTROL: StandardControl = StandardControl::y(1e-3, 0.0);

mod vector;

/// Parameters of an `iaf_cond_exp` population, with NEST's names, units and defaults.
///
/// The last three fields are the initial state, which NEST accepts in the same dictionary as
/// the parameters (`V_m`, `g_ex`, `g_in`); they set every neuron's state when the population is
/// built. As in NEST, the initial `V_m` defaults to −70 mV (the default `E_L`) and does not
/// follow a changed `E_L`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IafCondExpParams {
    /// Membrane capacitance (pF).
    #[serde(rename = "C_m")]
    pub c_m: f64,
    /// Leak reversal potential (mV).
    #[serde(rename = "E_L")]
    pub e_l: f64,
    /// Leak conductance (nS).
    #[serde(rename = "g_L")]
    pub g_l: f64,
    /// Spike threshold (mV).
    #[serde(rename = "V_th")]
    pub v_th: f64,
    /// Reset potential, also the clamp value while refractory (mV).
    #[serde(rename = "V_reset")]
    pub v_reset: f64,
    /// Refractory period (ms).
    #[serde(rename = "t_ref")]
    pub t_ref: f64,
    /// Excitatory reversal potential (mV).
    #[serde(rename = "E_ex")]
    pub e_ex: f64,
    /// Inhibitory reversal potential (mV).
    #[serde(rename = "E_in")]
    pub e_in: f64,
    /// Decay time constant of the excitatory conductance (ms).
    #[serde(rename = "tau_syn_ex")]
    pub tau_syn_ex: f64,
    /// Decay time constant of the inhibitory conductance (ms).
    #[serde(rename = "tau_syn_in")]
    pub tau_syn_in: f64,
    /// Constant injected current (pA).
    #[serde(rename = "I_e")]
    pub i_e: f64,
    /// How a step is integrated (laminar's choice; NEST has only `"rkf45"`).
    pub integration: Integration,
    /// Sub-steps per simulation step with `integration = "rk4"` or `"rk4_vector"` (laminar's).
    pub rk4_substeps: u32,
    /// Initial membrane potential (mV).
    #[serde(rename = "V_m")]
    pub initial_v_m: f64,
    /// Initial excitatory conductance (nS).
    #[serde(rename = "g_ex")]
    pub initial_g_ex: f64,
    /// Initial inhibitory conductance (nS).
    #[serde(rename = "g_in")]
    pub initial_g_in: f64,
}

impl Default for IafCondExpParams {
    /// NEST 3.10's defaults (`iaf_cond_exp::Parameters_()` and `State_(Parameters_)`).
    fn default() -> Self {
        Self {
            c_m: 250.0,
            e_l: -70.0,
            g_l: 16.6667,
            v_th: -55.0,
            v_reset: -60.0,
            t_ref: 2.0,
            e_ex: 0.0,
            e_in: -85.0,
            tau_syn_ex: 0.2,
            tau_syn_in: 2.0,
            i_e: 0.0,
            integration: Integration::Rkf45,
            rk4_substeps: 2,
            initial_v_m: -70.0,
            initial_g_ex: 0.0,
            initial_g_in: 0.0,
        }
    }
}

impl Validate for IafCondExpParams {
    /// NEST's checks (`V_reset < V_th`, `C_m > 0`, `t_ref ≥ 0`, time constants > 0), plus
    /// finiteness everywhere and `g_L ≥ 0`, which NEST leaves unchecked.
    fn validate(&self) -> Result<(), ParamError> {
        positive("C_m", self.c_m, "pF")?;
        finite("E_L", self.e_l, "mV")?;
        non_negative("g_L", self.g_l, "nS")?;
        finite("V_th", self.v_th, "mV")?;
        finite("V_reset", self.v_reset, "mV")?;
        less_than("V_reset", self.v_reset, "V_th", self.v_th)?;
        non_negative("t_ref", self.t_ref, "ms")?;
        finite("E_ex", self.e_ex, "mV")?;
        finite("E_in", self.e_in, "mV")?;
        positive("tau_syn_ex", self.tau_syn_ex, "ms")?;
        positive("tau_syn_in", self.tau_syn_in, "ms")?;
        finite("I_e", self.i_e, "pA")?;
        if !(1..=100).contains(&self.rk4_substeps) {
            return Err(ParamError::new("rk4_substeps", self.rk4_substeps, "must be an integer in 1..=100"));
        }
        finite("V_m", self.initial_v_m, "mV")?;
        finite("g_ex", self.initial_g_ex, "nS")?;
        finite("g_in", self.initial_g_in, "nS")?;
        Ok(())
    }
}

recordables! {
    "iaf_cond_exp":
    /// Membrane potential `V_m` (mV).
    Vm = ("V_m", "mV"),
    /// Excitatory conductance `g_ex` (nS).
    GEx = ("g_ex", "nS"),
    /// Inhibitory conductance `g_in` (nS).
    GIn = ("g_in", "nS"),
}

/// A population of `iaf_cond_exp` neurons sharing one parameter set (struct of arrays).
#[derive(Debug, Clone)]
pub struct IafCondExp {
    params: IafCondExpParams,
    solver: Rkf45,
    /// Simulation step h (ms).
    h_ms: f64,
    /// Steps a neuron stays refractory after the step in which it spiked.
    refractory_steps: u32,
    v_m: Vec<f64>,
    g_ex: Vec<f64>,
    g_in: Vec<f64>,
    /// Refractory steps left (NEST's `r_`).
    refractory_left: Vec<u32>,
    /// Sub-step size the integrator suggested last (NEST's `B_.IntegrationStep_`, ms).
    integration_step: Vec<f64>,
}

impl IafCondExp {
    /// `n` neurons in the initial state of `params`, simulated with step `h_ms`.
    pub fn new(params: IafCondExpParams, n: usize, h_ms: f64) -> Result<Self, ParamError> {
        params.validate()?;
        positive("resolution", h_ms, "ms")?;
        Ok(Self {
            refractory_steps: nest_steps_rounded_up("t_ref", params.t_ref, h_ms)?,
            solver: Rkf45::new(CONTROL),
            h_ms,
            v_m: vec![params.initial_v_m; n],
            g_ex: vec![params.initial_g_ex; n],
            g_in: vec![params.initial_g_in; n],
            refractory_left: vec![0; n],
            // NEST starts the integrator's suggestion at the simulation step.
            integration_step: vec![h_ms; n],
            params,
        })
    }

    /// Advances neuron `i` by one step (see the module documentation for the order) and tells
    /// whether it spiked in this step.
    ///
    /// - `spike_ex`: summed weights of the excitatory spikes delivered in this step (nS, ≥ 0);
    /// - `spike_in`: summed *magnitudes* of the inhibitory weights delivered in this step, as a
    ///   positive conductance (nS, ≥ 0): NEST adds −w for an inhibitory weight w < 0;
    /// - `i_stim`: injected current acting during this step (pA), besides `I_e`.
    pub fn update(&mut self, i: usize, spike_ex: f64, spike_in: f64, i_stim: f64) -> bool {
        debug_assert!(spike_ex >= 0.0 && spike_in >= 0.0, "spike input is a conductance");
        let p = &self.params;
        // NEST evaluates refractoriness from the node's counter, fixed during the step.
        let refractory = self.refractory_left[i] > 0;
        let rhs = CondRhs { p, i_stim, refractory };
        let mut y = [self.v_m[i], self.g_ex[i], self.g_in[i]];
        match p.integration {
            Integration::Rkf45 => {
                let mut f = |_t: f64, y: &[f64; 3], dydt: &mut [f64; 3]| rhs.eval(y, dydt);
                self.solver.integrate(&mut f, self.h_ms, &mut self.integration_step[i], &mut y);
            }
            // The fixed-step choices compute the same bits; `rk4_vector` only runs them for the
            // whole shard at once (`vector::step_shard`).
            Integration::Rk4 | Integration::Rk4Vector => {
                let dt = self.h_ms / f64::from(p.rk4_substeps);
                for _ in 0..p.rk4_substeps {
                    rk4_step(&mut y, dt, &rhs);
                }
            }
        }
        self.after_step(i, y, spike_ex, spike_in)
    }

    /// Steps 2 and 3 of the update order for neuron `i`, its integrated state `y` given.
    #[inline(always)]
    fn after_step(&mut self, i: usize, y: [f64; 3], spike_ex: f64, spike_in: f64) -> bool {
        let p = &self.params;
        let [mut v_m, mut g_ex, mut g_in] = y;
        g_ex += spike_ex;
        g_in += spike_in;

        let mut spiked = false;
        if self.refractory_left[i] > 0 {
            self.refractory_left[i] -= 1;
            v_m = p.v_reset;
        } else if v_m >= p.v_th {
            self.refractory_left[i] = self.refractory_steps;
            v_m = p.v_reset;
            spiked = true;
        }

        self.v_m[i] = v_m;
        self.g_ex[i] = g_ex;
        self.g_in[i] = g_in;
        spiked
    }

    /// Number of neurons.
    pub fn len(&self) -> usize {
        self.v_m.len()
    }

    pub fn is_empty(&self) -> bool {
        self.v_m.is_empty()
    }

    pub fn params(&self) -> &IafCondExpParams {
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
            Recordable::GEx => &self.g_ex,
            Recordable::GIn => &self.g_in,
        }
    }

    /// Sets the state variable `var` of neuron `i` (e.g. a per-neuron initial value).
    pub fn set(&mut self, var: Recordable, i: usize, value: f64) {
        let values = match var {
            Recordable::Vm => &mut self.v_m,
            Recordable::GEx => &mut self.g_ex,
            Recordable::GIn => &mut self.g_in,
        };
        values[i] = value;
    }

    /// Whether neuron `i` is refractory during the next step.
    pub fn is_refractory(&self, i: usize) -> bool {
        self.refractory_left[i] > 0
    }

    /// Saves or restores the neurons' state for a checkpoint: `V_m`, the conductances, the
    /// refractory count and the integrator's suggested sub-step (NEST keeps it from step to
    /// step, and it steers the next step's sub-steps).
    pub fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        io.neurons("v_m", &mut self.v_m)?;
        io.neurons("g_ex", &mut self.g_ex)?;
        io.neurons("g_in", &mut self.g_in)?;
        io.neurons("refractory_left", &mut self.refractory_left)?;
        io.neurons("integration_step", &mut self.integration_step)
    }
}

/// The right-hand side with its arguments, term for term and summed in NEST's order (the last
/// bits steer the adaptive step size): V on the right-hand side is `min(V_m, V_th)`, and while
/// refractory `V_reset` with `dV_m/dt = 0`.
struct CondRhs<'a> {
    p: &'a IafCondExpParams,
    i_stim: f64,
    refractory: bool,
}

impl Rhs<3> for CondRhs<'_> {
    #[inline(always)]
    fn eval(&self, y: &[f64; 3], dydt: &mut [f64; 3]) {
        let p = self.p;
        let [v_m, g_ex, g_in] = *y;
        let v = if self.refractory {
            p.v_reset
        } else if p.v_th < v_m {
            p.v_th
        } else {
            v_m
        };
        let i_syn_ex = g_ex * (v - p.e_ex);
        let i_syn_in = g_in * (v - p.e_in);
        let i_leak = p.g_l * (v - p.e_l);
        dydt[0] = if self.refractory { 0.0 } else { (-i_leak + self.i_stim + p.i_e - i_syn_ex - i_syn_in) / p.c_m };
        dydt[1] = -g_ex / p.tau_syn_ex;
        dydt[2] = -g_in / p.tau_syn_in;
    }
}

/// A duration in whole simulation steps as NEST computes it for refractory periods
/// (`Time(Time::ms(t)).get_steps()`): milliseconds to tics (1000 per ms, rounded half up),
/// then tics to steps rounded *up*. For example t_ref = 0.25 ms at h = 0.1 ms gives 3 steps.
/// Models count these steps in 32 bits: a longer duration (`field` names the parameter) is an
/// error that says the longest one allowed at this resolution, never a silently saturated count.
pub(crate) fn nest_steps_rounded_up(field: &str, duration_ms: f64, h_ms: f64) -> Result<u32, ParamError> {
    const TICS_PER_MS: f64 = 1000.0;
    let tics = (duration_ms * TICS_PER_MS + 0.5).floor();
    let tics_per_step = (h_ms * TICS_PER_MS).round().max(1.0);
    // NEST multiplies by the reciprocal and truncates; kept for identical rounding.
    let steps = ((tics + tics_per_step - 1.0) * (1.0 / tics_per_step)).trunc();
    if (0.0..=f64::from(u32::MAX)).contains(&steps) {
        Ok(steps as u32)
    } else {
        Err(ParamError::new(
            field,
            duration_ms,
            &format!(
                "must be at most {} steps of {h_ms} ms ({} ms at this resolution)",
                u32::MAX,
                crate::params::compact(f64::from(u32::MAX) * tics_per_step / TICS_PER_MS)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refractory_steps_round_up_like_nest() {
        assert_eq!(nest_steps_rounded_up("t_ref", 2.0, 0.1), Ok(20));
        assert_eq!(nest_steps_rounded_up("t_ref", 0.0, 0.1), Ok(0));
        assert_eq!(nest_steps_rounded_up("t_ref", 0.25, 0.1), Ok(3));
        assert_eq!(nest_steps_rounded_up("t_ref", 0.3, 0.1), Ok(3));
        assert_eq!(nest_steps_rounded_up("t_ref", 1.0, 0.25), Ok(4));
    }

    #[test]
    fn rejects_invalid_parameters() {
        let bad = IafCondExpParams { v_reset: -50.0, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().field, "V_reset");
        let bad = IafCondExpParams { tau_syn_in: 0.0, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().field, "tau_syn_in");
        assert!(IafCondExp::new(IafCondExpParams::default(), 1, 0.0).is_err());
    }

    #[test]
    fn reads_nest_names_and_rejects_unknown_ones() {
        let p: IafCondExpParams = serde_json::from_str(r#"{"C_m": 200.0, "V_m": -65.0}"#).unwrap();
        assert_eq!(p.c_m, 200.0);
        assert_eq!(p.initial_v_m, -65.0);
        assert_eq!(p.tau_syn_ex, 0.2);
        assert!(serde_json::from_str::<IafCondExpParams>(r#"{"tau_m": 10.0}"#).is_err());
    }

    #[test]
    fn rests_at_leak_reversal_and_spikes_under_strong_drive() {
        let mut pop = IafCondExp::new(IafCondExpParams::default(), 2, 0.1).unwrap();
        for _ in 0..100 {
            assert!(!pop.update(0, 0.0, 0.0, 0.0));
        }
        assert_eq!(pop.get(Recordable::Vm, 0), -70.0);

        let steps_to_spike = (0..1000).position(|_| pop.update(1, 0.0, 0.0, 1000.0)).unwrap();
        assert!(steps_to_spike > 0);
        assert_eq!(pop.get(Recordable::Vm, 1), -60.0);
        // Clamped for t_ref = 2 ms, then free again.
        for _ in 0..20 {
            assert!(pop.is_refractory(1));
            assert!(!pop.update(1, 0.0, 0.0, 1000.0));
            assert_eq!(pop.get(Recordable::Vm, 1), -60.0);
        }
        assert!(!pop.is_refractory(1));
        pop.update(1, 0.0, 0.0, 1000.0);
        assert!(pop.get(Recordable::Vm, 1) > -60.0);
    }

    #[test]
    fn recordables_round_trip_by_name() {
        for var in Recordable::ALL {
            assert_eq!(Recordable::from_name(var.name()), Some(var));
        }
        assert_eq!(Recordable::GIn.units(), "nS");
        assert_eq!(Recordable::from_name("w"), None);
    }
}
