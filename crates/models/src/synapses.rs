//! Synapse models: NEST's `tsodyks_synapse` and `stdp_synapse`.
//!
//! Each model keeps the state of all synapses of one projection onto one shard as
//! struct-of-arrays, updated only when a presynaptic spike is transmitted (see
//! `laminar_engine::synapse` for when that happens and what the engine supplies). Times are in ms;
//! the weight has the unit of the target receptor (pA onto current synapses, nS onto conductances).
//!
//! # `tsodyks_synapse` (Tsodyks, Uziel & Markram 2000; NEST's model)
//! Resources are split into recovered `x`, active `y` and inactive `z = 1 − x − y`; `u` is the
//! utilisation. Between spikes, over the interval `Δ = t_spike − t_last`:
//! ```text
//! u ← u·exp(−Δ/τ_fac)                   (0 when τ_fac = 0)
//! x ← x + P_xy·y − expm1(−Δ/τ_rec)·z,    P_xy = (expm1(−Δ/τ_rec)·τ_rec − (exp(−Δ/τ_psc) − 1)·τ_psc) / (τ_psc − τ_rec)
//! y ← y·exp(−Δ/τ_psc)
//! ```
//! then at the spike `u ← u + U·(1 − u)`, `Δy = u·x`, `x ← x − Δy`, `y ← y + Δy`, and the synapse
//! transmits `weight·Δy`. Initial state `x = 1, y = 0, u = 0`, `t_last = 0` (NEST's; with x = 1
//! the first interval from t = 0 has no effect). `τ_psc` should equal the target's synaptic time
//! constant.
//!
//! # `stdp_synapse` (pair-based STDP, all-to-all pairing; Guetig et al. 2003; NEST's model)
//! Weights are normalised by `W_max`. A presynaptic spike at `t_spike` through a synapse of
//! dendritic delay `d` first *potentiates* once for every postsynaptic spike `t_j` in
//! `(t_last − d, t_spike − d]`:
//! ```text
//! ŵ ← min(1, ŵ + λ·(1 − ŵ)^μ₊ · K⁺·exp((t_last − (t_j + d))/τ₊))
//! ```
//! then *depresses* with the postsynaptic trace just before `t_spike − d`
//! (`K⁻`, time constant τ⁻, see `PostHistory`):
//! ```text
//! ŵ ← max(0, ŵ − α·λ·ŵ^μ₋ · K⁻(t_spike − d))
//! ```
//! transmits the new weight, and updates the presynaptic trace
//! `K⁺ ← K⁺·exp((t_last − t_spike)/τ₊) + 1`, `t_last ← t_spike`. Outside the projection's
//! learning windows the weight is transmitted unchanged while the traces go on. NEST sets τ⁻ on the
//! postsynaptic neuron; laminar takes it as the synapse parameter `tau_minus` and requires all
//! spike-timing projections onto one population to agree on it.
//!
//! References: Tsodyks M, Uziel A, Markram H (2000) J Neurosci 20:RC50; Guetig R, Aharonov R,
//! Rotter S, Sompolinsky H (2003) J Neurosci 23:3697; NEST 3.10 `tsodyks_synapse.h`,
//! `stdp_synapse.h`, `archiving_node.cpp`.

use laminar_engine::{StateError, StateIo, SynapseDynamics, SynapseFactory, Transmission};
use serde::Deserialize;

use crate::params::{ParamError, Validate, non_negative, positive};

// ---------------------------------------------------------------- tsodyks_synapse

/// Parameters of `tsodyks_synapse` (NEST names and defaults).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TsodyksParams {
    /// Increment of utilisation per spike (dimensionless, in [0, 1]).
    #[serde(rename = "U")]
    pub u_increment: f64,
    /// Recovery time constant (ms).
    pub tau_rec: f64,
    /// Facilitation time constant (ms); 0 disables facilitation.
    pub tau_fac: f64,
    /// Time constant of the active resources; should match the target's synaptic time constant (ms).
    pub tau_psc: f64,
    /// Initial state.
    pub x: f64,
    pub y: f64,
    pub u: f64,
}

impl Default for TsodyksParams {
    fn default() -> Self {
        Self { u_increment: 0.5, tau_rec: 800.0, tau_fac: 0.0, tau_psc: 3.0, x: 1.0, y: 0.0, u: 0.0 }
    }
}

impl Validate for TsodyksParams {
    fn validate(&self) -> Result<(), ParamError> {
        if !(0.0..=1.0).contains(&self.u_increment) {
            return Err(ParamError::new("U", self.u_increment, "must be in [0, 1]"));
        }
        positive("tau_rec", self.tau_rec, "ms")?;
        non_negative("tau_fac", self.tau_fac, "ms")?;
        positive("tau_psc", self.tau_psc, "ms")?;
        if self.tau_psc == self.tau_rec {
            return Err(ParamError::new("tau_psc", self.tau_psc, "must differ from tau_rec"));
        }
        for (name, v) in [("x", self.x), ("y", self.y), ("u", self.u)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(ParamError::new(name, v, "must be in [0, 1]"));
            }
        }
        if self.x + self.y > 1.0 {
            return Err(ParamError::new("y", self.y, "x + y must not exceed 1"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct TsodyksFactory {
    pub params: TsodyksParams,
}

impl SynapseFactory for TsodyksFactory {
    fn name(&self) -> &str {
        "tsodyks_synapse"
    }

    fn build(&self, weights: Vec<f64>, _: &[u32], _: usize) -> Result<Box<dyn SynapseDynamics>, String> {
        let n = weights.len();
        let p = &self.params;
        Ok(Box::new(Tsodyks {
            params: p.clone(),
            weight: weights,
            x: vec![p.x; n],
            y: vec![p.y; n],
            u: vec![p.u; n],
            t_last: vec![0.0; n],
        }))
    }
}

/// One `tsodyks_synapse` transmission `dt` ms after the synapse's previous one: advances the
/// state `(x, y, u)` over `dt`, applies the spike with utilisation increment `u_increment` (the
/// parameter `U`, or a value modulated by another process such as gliotransmission) and returns
/// the released fraction `Δy = u·x` (the synapse transmits `weight·Δy`).
#[inline]
pub(crate) fn tsodyks_release(
    p: &TsodyksParams,
    u_increment: f64,
    dt: f64,
    x: &mut f64,
    y: &mut f64,
    u: &mut f64,
) -> f64 {
    let p_uu = if p.tau_fac == 0.0 { 0.0 } else { (-dt / p.tau_fac).exp() };
    let p_yy = (-dt / p.tau_psc).exp();
    let p_zz = (-dt / p.tau_rec).exp_m1();
    let p_xy = (p_zz * p.tau_rec - (p_yy - 1.0) * p.tau_psc) / (p.tau_psc - p.tau_rec);
    let z = 1.0 - *x - *y;
    // NEST's order: u, then x (uses the old y), then y.
    *u *= p_uu;
    *x += p_xy * *y - p_zz * z;
    *y *= p_yy;
    *u += u_increment * (1.0 - *u);
    let released = *u * *x;
    *x -= released;
    *y += released;
    released
}

/// The state of a group of `tsodyks_synapse`s.
#[derive(Debug, Clone)]
pub struct Tsodyks {
    params: TsodyksParams,
    weight: Vec<f64>,
    x: Vec<f64>,
    y: Vec<f64>,
    u: Vec<f64>,
    t_last: Vec<f64>,
}

impl SynapseDynamics for Tsodyks {
    fn transmit(&mut self, tx: &Transmission<'_>, weights: &mut [f64]) {
        for (k, j) in tx.synapses.clone().enumerate() {
            let dt = tx.t_spike - self.t_last[j];
            let released = tsodyks_release(
                &self.params,
                self.params.u_increment,
                dt,
                &mut self.x[j],
                &mut self.y[j],
                &mut self.u[j],
            );
            weights[k] = released * self.weight[j];
            self.t_last[j] = tx.t_spike;
        }
    }

    fn weight(&self, j: usize) -> f64 {
        self.weight[j]
    }

    fn bytes_per_synapse(&self) -> usize {
        5 * 8
    }

    /// Saves per synapse the resources `x`, `y`, the utilisation `u` and the last spike's time;
    /// the weights never change (they are rebuilt with the connectivity).
    fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        io.synapses("x", &mut self.x)?;
        io.synapses("y", &mut self.y)?;
        io.synapses("u", &mut self.u)?;
        io.synapses("t_last", &mut self.t_last)
    }
}

// ---------------------------------------------------------------- stdp_synapse

/// Parameters of `stdp_synapse` (NEST names and defaults), plus the postsynaptic `tau_minus`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StdpParams {
    /// Time constant of the presynaptic trace K⁺ (ms).
    pub tau_plus: f64,
    /// Time constant of the postsynaptic trace K⁻ (ms); NEST's neuron parameter `tau_minus`.
    pub tau_minus: f64,
    /// Step size (dimensionless).
    pub lambda: f64,
    /// Asymmetry: depression relative to potentiation.
    pub alpha: f64,
    /// Weight dependence exponents of potentiation and depression.
    pub mu_plus: f64,
    pub mu_minus: f64,
    /// Maximum weight (the weight's unit); must have the sign of the weights.
    #[serde(rename = "Wmax")]
    pub w_max: f64,
}

impl Default for StdpParams {
    fn default() -> Self {
        Self { tau_plus: 20.0, tau_minus: 20.0, lambda: 0.01, alpha: 1.0, mu_plus: 1.0, mu_minus: 1.0, w_max: 100.0 }
    }
}

impl Validate for StdpParams {
    fn validate(&self) -> Result<(), ParamError> {
        positive("tau_plus", self.tau_plus, "ms")?;
        positive("tau_minus", self.tau_minus, "ms")?;
        non_negative("lambda", self.lambda, "")?;
        non_negative("alpha", self.alpha, "")?;
        non_negative("mu_plus", self.mu_plus, "")?;
        non_negative("mu_minus", self.mu_minus, "")?;
        if self.w_max == 0.0 || !self.w_max.is_finite() {
            return Err(ParamError::new("Wmax", self.w_max, "must be a non-zero finite number"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct StdpFactory {
    pub params: StdpParams,
}

impl SynapseFactory for StdpFactory {
    fn name(&self) -> &str {
        "stdp_synapse"
    }

    fn post_history(&self) -> Option<f64> {
        Some(self.params.tau_minus)
    }

    fn build(&self, weights: Vec<f64>, _: &[u32], _: usize) -> Result<Box<dyn SynapseDynamics>, String> {
        let w_max = self.params.w_max;
        if let Some(w) = weights.iter().find(|&&w| w / w_max < 0.0 || w / w_max > 1.0) {
            return Err(format!("stdp_synapse: weight {w} must lie between 0 and Wmax = {w_max}"));
        }
        Ok(Box::new(Stdp { params: self.params.clone(), traces: PairTraces::new(weights) }))
    }
}

/// The state of a group of `stdp_synapse`s.
#[derive(Debug, Clone)]
pub struct Stdp {
    params: StdpParams,
    traces: PairTraces,
}

impl Stdp {
    #[inline]
    fn facilitate(p: &StdpParams, w: f64, k_plus: f64) -> f64 {
        let norm = w / p.w_max + p.lambda * (1.0 - w / p.w_max).powf(p.mu_plus) * k_plus;
        norm.min(1.0) * p.w_max
    }

    #[inline]
    fn depress(p: &StdpParams, w: f64, k_minus: f64) -> f64 {
        let norm = w / p.w_max - p.alpha * p.lambda * (w / p.w_max).powf(p.mu_minus) * k_minus;
        norm.max(0.0) * p.w_max
    }
}

impl SynapseDynamics for Stdp {
    fn transmit(&mut self, tx: &Transmission<'_>, weights: &mut [f64]) {
        let p = &self.params;
        self.traces.transmit(
            tx,
            weights,
            p.tau_plus,
            |w, k| Self::facilitate(p, w, k),
            |w, k| Self::depress(p, w, k),
            "stdp_synapse",
        );
    }

    fn weight(&self, j: usize) -> f64 {
        self.traces.weight[j]
    }

    fn oldest_needed(&self, delays_ms: &[f64]) -> f64 {
        self.traces.oldest_needed(delays_ms)
    }

    fn bytes_per_synapse(&self) -> usize {
        3 * 8
    }

    /// Saves per synapse the weight, the presynaptic trace K⁺ and the last spike's time (the
    /// postsynaptic history is the engine's).
    fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        self.traces.state(io)
    }
}

// ---------------------------------------------------------------- pair-based rules

/// Weights and traces of a pair-based spike-timing rule (`stdp_synapse`, `hebbian_synapse`): per
/// synapse the weight, the presynaptic trace K⁺ just after the last presynaptic spike, and that
/// spike's time.
#[derive(Debug, Clone)]
pub(crate) struct PairTraces {
    pub(crate) weight: Vec<f64>,
    k_plus: Vec<f64>,
    t_last: Vec<f64>,
}

impl PairTraces {
    pub(crate) fn new(weights: Vec<f64>) -> Self {
        let n = weights.len();
        Self { weight: weights, k_plus: vec![0.0; n], t_last: vec![0.0; n] }
    }

    /// One transmission of the row of `tx` (the update order of NEST's `stdp_synapse`): when
    /// learning, `w ← potentiate(w, K⁺·exp((t_last − (t_j + d))/τ₊))` for every postsynaptic spike
    /// t_j in `(t_last − d, t_spike − d]`, then `w ← depress(w, K⁻(t_spike − d))`; the weight is
    /// transmitted, and `K⁺ ← K⁺·exp((t_last − t_spike)/τ₊) + 1`, `t_last ← t_spike`.
    #[inline]
    pub(crate) fn transmit(
        &mut self,
        tx: &Transmission<'_>,
        weights: &mut [f64],
        tau_plus: f64,
        potentiate: impl Fn(f64, f64) -> f64,
        depress: impl Fn(f64, f64) -> f64,
        model: &str,
    ) {
        self.transmit_timed(tx, weights, tau_plus, |w, trace, _| potentiate(w, trace), depress, model);
    }

    /// As [`Self::transmit`], with the (delay-shifted) time of the postsynaptic spike of each
    /// pre-before-post pair given to `potentiate` (rules whose sign depends on when a pair
    /// happened).
    #[inline]
    pub(crate) fn transmit_timed(
        &mut self,
        tx: &Transmission<'_>,
        weights: &mut [f64],
        tau_plus: f64,
        potentiate: impl Fn(f64, f64, f64) -> f64,
        depress: impl Fn(f64, f64) -> f64,
        model: &str,
    ) {
        let Some(history) = tx.history else { panic!("{model} needs the postsynaptic spike history") };
        for (k, j) in tx.synapses.clone().enumerate() {
            let target = tx.targets[j] as usize;
            let d = tx.delays_ms[j];
            let t_last = self.t_last[j];
            let mut w = self.weight[j];
            if tx.learning {
                for post in history.between(target, t_last - d, tx.t_spike - d) {
                    let minus_dt = t_last - (post.t_ms + d);
                    w = potentiate(w, self.k_plus[j] * (minus_dt / tau_plus).exp(), post.t_ms + d);
                }
                w = depress(w, history.k_minus(target, tx.t_spike - d));
                self.weight[j] = w;
            }
            weights[k] = w;
            self.k_plus[j] = self.k_plus[j] * ((t_last - tx.t_spike) / tau_plus).exp() + 1.0;
            self.t_last[j] = tx.t_spike;
        }
    }

    /// The earliest postsynaptic spike time a synapse may still ask for (`t_last − d`, minimised).
    pub(crate) fn oldest_needed(&self, delays_ms: &[f64]) -> f64 {
        self.t_last.iter().zip(delays_ms).map(|(t, d)| t - d).fold(f64::INFINITY, f64::min)
    }

    /// Saves or restores the weights, K⁺ and the last presynaptic spike times, per synapse.
    pub(crate) fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        io.synapses("weight", &mut self.weight)?;
        io.synapses("k_plus", &mut self.k_plus)?;
        io.synapses("t_last", &mut self.t_last)
    }
}
