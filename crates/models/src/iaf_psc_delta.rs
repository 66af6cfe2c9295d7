//! `iaf_psc_delta`: leaky integrate-and-fire neuron with delta-shaped synaptic input (each spike
//! makes the membrane potential jump by its weight), integrated exactly and updated
//! **event-driven**.
//!
//! # Equations (NEST 3.10 `iaf_psc_delta`; units ms, mV, pF, pA)
//! With `u = V_m − E_L`: `du/dt = −u/tau_m + (I_e + I_stim)/C_m + Σ w·δ(t − t_spike)` (w in mV).
//! Spike when `V_m ≥ V_th`; then `V_m ← V_reset` and the membrane is clamped for `t_ref`. Input
//! arriving while refractory is discarded (NEST's default `refractory_input = false`).
//! `V_m` is bounded below by `V_min`.
//!
//! # Integration and update order
//! Per step (not refractory): `u ← P30·(I_e + I_stim) + P33·u + w_step`, with `P33 = e^{−h/τ_m}`,
//! `P30 = τ_m/C_m·(1 − P33)`, then `u ← max(u, V_min)`, then the threshold check. While refractory the
//! step's input is dropped and the counter decremented.
//!
//! # Event-driven update
//! Quiet steps are one closed-form relaxation towards `c = (I_e + I_stim)·τ_m/C_m`, clamped at
//! `V_min` (the relaxation is monotonic, so clamping the end point equals clamping every step).
//! The next threshold crossing is exact: if `c > θ`, `u` reaches `θ` after
//! `τ_m·ln((c − u)/(c − θ))`; the neuron is checked at the step that ends at or just before it.
//!
//! References: NEST `models/iaf_psc_delta.{h,cpp}`; Rotter & Diesmann (1999) Biol Cybern 81:381.

use laminar_engine::{
    BuildContext, DefaultReceptor, InputKind, ModelError, ModelInfo, NextEventQueue, Population, PopulationFactory,
    Recordable, StateError, StateIo, Step, StepInput, Update,
};
use serde::Deserialize;

use crate::lazy::{LazyClock, LazyModel, start_lazily, update_lazily};
use crate::params::{ParamError, Validate, finite, less_than, non_negative, positive};

/// Parameters (NEST names and defaults). `V_m` is the initial membrane potential.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IafPscDeltaParams {
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
    /// Lower bound of V_m (mV); `null`/absent for none.
    #[serde(rename = "V_min", deserialize_with = "crate::params::f64_or_neg_inf")]
    pub v_min: f64,
    #[serde(rename = "I_e")]
    pub i_e: f64,
    #[serde(rename = "V_m")]
    pub v_m: f64,
    /// NEST's `refractory_input`: only `false` (discard input while refractory) is implemented.
    pub refractory_input: bool,
}

impl Default for IafPscDeltaParams {
    fn default() -> Self {
        Self {
            e_l: -70.0,
            c_m: 250.0,
            tau_m: 10.0,
            t_ref: 2.0,
            v_th: -55.0,
            v_reset: -70.0,
            v_min: f64::NEG_INFINITY,
            i_e: 0.0,
            v_m: -70.0,
            refractory_input: false,
        }
    }
}

impl Validate for IafPscDeltaParams {
    fn validate(&self) -> Result<(), ParamError> {
        positive("C_m", self.c_m, "pF")?;
        positive("tau_m", self.tau_m, "ms")?;
        non_negative("t_ref", self.t_ref, "ms")?;
        for (f, v, u) in [
            ("E_L", self.e_l, "mV"),
            ("V_th", self.v_th, "mV"),
            ("V_reset", self.v_reset, "mV"),
            ("I_e", self.i_e, "pA"),
            ("V_m", self.v_m, "mV"),
        ] {
            finite(f, v, u)?;
        }
        if self.v_min.is_nan() || self.v_min > self.v_reset {
            return Err(ParamError::new("V_min", self.v_min, "must be <= V_reset (or -inf for no bound)"));
        }
        if self.refractory_input {
            return Err(ParamError::new("refractory_input", true, "only false is supported"));
        }
        less_than("V_reset", self.v_reset, "V_th", self.v_th)
    }
}

pub static INFO: ModelInfo = ModelInfo {
    name: "iaf_psc_delta",
    receptors: laminar_engine::receptor_names!["delta"],
    default_receptor: DefaultReceptor::First,
    recordables: std::borrow::Cow::Borrowed(&[Recordable::new("V_m", "mV")]),
    input: InputKind::SummedTouched,
    weight_units: "mV",
    counts_spikes: false,
    source_only: false,
    graded_output: None,
    current_on_arrival: false,
};

#[derive(Debug, Clone)]
pub struct IafPscDeltaFactory {
    pub params: IafPscDeltaParams,
}

impl PopulationFactory for IafPscDeltaFactory {
    fn info(&self) -> &ModelInfo {
        &INFO
    }

    fn build(&self, _: usize, _: u64, len: usize, ctx: &BuildContext) -> Result<Box<dyn Population>, ModelError> {
        self.params.validate().map_err(|e| ModelError(e.to_string()))?;
        let h = ctx.resolution.h();
        let p = &self.params;
        let refractory_steps =
            crate::iaf_cond_exp::nest_steps_rounded_up("t_ref", p.t_ref, h).map_err(|e| ModelError(e.to_string()))?;
        Ok(Box::new(IafPscDelta {
            clock: LazyClock::new(len, Neuron { u: p.v_m - p.e_l, i_stim: 0.0, refractory: 0 }),
            e_l: p.e_l,
            i_e: p.i_e,
            theta: p.v_th - p.e_l,
            u_reset: p.v_reset - p.e_l,
            u_min: p.v_min - p.e_l,
            r_m: p.tau_m / p.c_m,
            tau_m: p.tau_m,
            h,
            p33: (-h / p.tau_m).exp(),
            p30: (1.0 - (-h / p.tau_m).exp()) * p.tau_m / p.c_m,
            refractory_steps,
        }))
    }
}

/// The state of one `iaf_psc_delta` neuron (kept with its clock, see
/// `LazyNeuron`).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Neuron {
    /// Membrane potential relative to E_L (mV).
    u: f64,
    /// Injected current from devices (pA).
    i_stim: f64,
    /// Remaining refractory steps.
    refractory: u32,
}

/// A shard of `iaf_psc_delta` neurons.
#[derive(Debug, Clone)]
pub struct IafPscDelta {
    clock: LazyClock<Neuron>,
    e_l: f64,
    i_e: f64,
    theta: f64,
    u_reset: f64,
    u_min: f64,
    r_m: f64,
    tau_m: f64,
    h: f64,
    p33: f64,
    p30: f64,
    refractory_steps: u32,
}

impl IafPscDelta {
    /// State of a neuron in state `s` after `n` quiet steps.
    #[inline]
    fn propagate(&self, s: &Neuron, n: u64) -> (f64, u32) {
        let (u, r) = (s.u, s.refractory);
        let clamped = u64::from(r).min(n);
        let free = n - clamped;
        if free == 0 {
            return (u, r - clamped as u32);
        }
        let decay = (-(free as f64) * self.h / self.tau_m).exp();
        let drive = self.i_e + s.i_stim;
        let u = (u * decay + drive * self.r_m * (1.0 - decay)).max(self.u_min);
        (u, 0)
    }

    #[inline]
    fn step(&mut self, i: usize, step: Step, w: f64, current_change: f64) -> bool {
        let n = &self.clock.neurons[i];
        let mut s = n.s;
        let gap = step - n.synced;
        if gap > 0 {
            (s.u, s.refractory) = self.propagate(&s, gap);
        }
        s.i_stim += current_change;
        if s.refractory == 0 {
            let u = self.p30 * (self.i_e + s.i_stim) + self.p33 * s.u + w;
            s.u = u.max(self.u_min);
        } else {
            s.refractory -= 1;
        }
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

impl LazyModel for IafPscDelta {
    type State = Neuron;

    fn clock(&mut self) -> &mut LazyClock<Neuron> {
        &mut self.clock
    }

    #[inline]
    fn step_neuron(&mut self, i: usize, t: Step, input: Option<&StepInput<'_>>) -> bool {
        match input {
            Some(input) => {
                let current = input.current_change_of(i);
                self.step(i, t, input.receptor(0)[i], current)
            }
            None => self.step(i, t, 0.0, 0.0),
        }
    }

    /// The step at the end of which neuron `i` first reaches threshold (or one step earlier).
    #[inline]
    fn earliest_crossing(&self, i: usize) -> Option<Step> {
        let n = &self.clock.neurons[i];
        let base = n.synced + u64::from(n.s.refractory);
        let c = (self.i_e + n.s.i_stim) * self.r_m;
        if c <= self.theta {
            return None;
        }
        let t = self.tau_m * ((c - n.s.u) / (c - self.theta)).ln();
        let m = (t / self.h).floor();
        if m.is_finite() && m < 1e15 { Some(base + (m.max(0.0) as Step).saturating_sub(1)) } else { None }
    }
}

impl Population for IafPscDelta {
    fn len(&self) -> usize {
        self.clock.len()
    }

    fn start(&mut self, step: Step, queue: &mut NextEventQueue) {
        start_lazily(self, step, queue);
    }

    fn update(&mut self, u: &mut Update<'_>) {
        update_lazily(self, u);
    }

    /// The neurons (membrane, injected current, refractory count) with their `synced` and `due`
    /// steps, as they are (`LazyClock::state`).
    fn state(&mut self, io: &mut StateIo, queue: &mut NextEventQueue) -> Result<(), StateError> {
        self.clock.state(io, queue)
    }

    fn sample(&self, _variable: usize, i: usize, step: Step) -> f64 {
        let n = &self.clock.neurons[i];
        self.propagate(&n.s, (step + 1).saturating_sub(n.synced)).0 + self.e_l
    }

    fn set_state(&mut self, variable: usize, i: usize, value: f64) -> Result<(), String> {
        if variable != 0 || !value.is_finite() {
            return Err(format!("{value}: V_m must be a finite number"));
        }
        self.clock.neurons[i].s.u = value - self.e_l;
        Ok(())
    }
}
