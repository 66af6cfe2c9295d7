//! `contrastive_hebbian_synapse`: a local, two-phase rule that learns a linear map from a teacher
//! (contrastive Hebbian learning).
//!
//! The weight follows the Hebbian product of `hebbian_synapse` (a presynaptic trace x_pre with
//! time constant τ₊ = `tau_plus`, the postsynaptic trace x_post with τ₋ = `tau_minus`), with a
//! sign set by the phase of a periodic schedule inside the projection's learning windows: each
//! period (`period_ms`, counted from 0) begins with a *clamped* phase (`clamped_ms`), in which
//! the target neuron is driven by its teacher and the synapse does not transmit (it learns
//! without driving the target, as the encode switch of `hebbian_astro_synapse`), followed by a
//! *free* phase, in which the synapse transmits its weight and the target answers with its own
//! output:
//! ```text
//! dw/dt = +η · x_pre(t) · x_post(t)   clamped phase (the target's rate is the teacher's, r*)
//! dw/dt = −η · x_pre(t) · x_post(t)   free phase    (the target's rate is its own, r̂)
//! ```
//! For Poisson trains and equal phases T, one period changes w by η·τ₊·τ₋·T·r_pre·(r* − r̂): the
//! delta rule (Widrow–Hoff), the gradient of ½(r* − r̂)² through a linear target, computed from
//! what the synapse sees — its presynaptic spikes and its target's spikes — and a phase signal
//! shared by the projection (a neuromodulatory "teacher present" signal). It is the rule of
//! contrastive Hebbian learning (Movellan 1991; Baldi & Pineda 1991), whose two-phase form
//! Scellier & Bengio (2017, equilibrium propagation) related to gradient descent. Pairs are
//! counted as in `hebbian_synapse` (at presynaptic spikes, NEST's `stdp_synapse` order); a pair
//! takes the phase of its later spike (the postsynaptic one of a pre-before-post pair, the
//! presynaptic one otherwise), so only pairs within a few τ of a phase boundary mix the phases. Outside the learning windows the
//! weight is frozen and transmitted in full.
//!
//! Parameters: `eta` (weight unit per ms, default 0.01), `tau_plus`, `tau_minus` (20 ms), `Wmin`
//! (0), `Wmax` (100), `period_ms` (> 0, default 200), `clamped_ms` (in (0, period_ms), default 100).
//!
//! References: Movellan JR (1991) Contrastive Hebbian learning in the continuous Hopfield model.
//! In: Connectionist Models, Morgan Kaufmann, 10–17. Baldi P, Pineda F (1991) Contrastive
//! learning and neural oscillations. Neural Comput 3:526. Scellier B, Bengio Y (2017)
//! Equilibrium propagation. Front Comput Neurosci 11:24. Granier A, Senn W (2025) Multihead
//! self-attention in cortico-thalamic circuits, arXiv:2504.06354 (the gradient of the block's
//! output weights W_O is this delta rule).

use laminar_engine::{StateError, StateIo, SynapseDynamics, SynapseFactory, Transmission};
use serde::Deserialize;

use crate::glia_synapses::HebbianParams;
use crate::params::{ParamError, Validate, positive};
use crate::synapses::PairTraces;

/// Parameters of `contrastive_hebbian_synapse`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContrastiveParams {
    /// Learning rate η (weight unit per ms), > 0.
    pub eta: f64,
    pub tau_plus: f64,
    pub tau_minus: f64,
    #[serde(rename = "Wmin")]
    pub w_min: f64,
    #[serde(rename = "Wmax")]
    pub w_max: f64,
    /// One clamped and one free phase (ms).
    pub period_ms: f64,
    /// The clamped phase at the start of each period (ms).
    pub clamped_ms: f64,
}

impl Default for ContrastiveParams {
    fn default() -> Self {
        let h = HebbianParams::default();
        Self {
            eta: h.eta,
            tau_plus: h.tau_plus,
            tau_minus: h.tau_minus,
            w_min: h.w_min,
            w_max: h.w_max,
            period_ms: 200.0,
            clamped_ms: 100.0,
        }
    }
}

impl Validate for ContrastiveParams {
    fn validate(&self) -> Result<(), ParamError> {
        self.hebbian().validate()?;
        positive("eta", self.eta, "weight unit per ms (the phases give the sign)")?;
        positive("period_ms", self.period_ms, "ms")?;
        if !(self.clamped_ms > 0.0 && self.clamped_ms < self.period_ms) {
            return Err(ParamError::new("clamped_ms", self.clamped_ms, "must lie strictly between 0 and period_ms"));
        }
        Ok(())
    }
}

impl ContrastiveParams {
    /// The parameters of the pair rule, as `hebbian_synapse` has them.
    fn hebbian(&self) -> HebbianParams {
        HebbianParams {
            eta: self.eta,
            tau_plus: self.tau_plus,
            tau_minus: self.tau_minus,
            w_min: self.w_min,
            w_max: self.w_max,
        }
    }

    /// Whether `t_ms` falls in a clamped phase.
    pub fn clamped_at(&self, t_ms: f64) -> bool {
        t_ms.rem_euclid(self.period_ms) < self.clamped_ms
    }
}

#[derive(Debug, Clone)]
pub struct ContrastiveFactory {
    pub params: ContrastiveParams,
}

impl SynapseFactory for ContrastiveFactory {
    fn name(&self) -> &str {
        "contrastive_hebbian_synapse"
    }

    fn post_history(&self) -> Option<f64> {
        Some(self.params.tau_minus)
    }

    fn build(&self, weights: Vec<f64>, _: &[u32], _: usize) -> Result<Box<dyn SynapseDynamics>, String> {
        let p = &self.params;
        let rule = p.hebbian();
        rule.check_weights("contrastive_hebbian_synapse", &weights)?;
        Ok(Box::new(Contrastive { params: p.clone(), pair: rule.pair_amplitude(), traces: PairTraces::new(weights) }))
    }
}

/// The state of a group of `contrastive_hebbian_synapse`s: per synapse the weight and its traces.
#[derive(Debug, Clone)]
pub struct Contrastive {
    params: ContrastiveParams,
    /// The amplitude of one spike pair, η·τ_c.
    pair: f64,
    traces: PairTraces,
}

impl SynapseDynamics for Contrastive {
    fn transmit(&mut self, tx: &Transmission<'_>, weights: &mut [f64]) {
        let (p, pair) = (&self.params, self.pair);
        let clamped = tx.learning && p.clamped_at(tx.t_spike);
        let signed = |clamped: bool| if clamped { pair } else { -pair };
        // A pre-before-post pair takes the phase of its postsynaptic spike; a post-before-pre
        // pair (the postsynaptic trace at this spike) the phase of this spike. Increments of both
        // signs may follow each other, so each is bounded in turn, as NEST bounds STDP updates.
        let potentiate =
            |w: f64, trace: f64, t_post: f64| (w + signed(p.clamped_at(t_post)) * trace).clamp(p.w_min, p.w_max);
        let depress = |w: f64, trace: f64| (w + signed(clamped) * trace).clamp(p.w_min, p.w_max);
        self.traces.transmit_timed(tx, weights, p.tau_plus, potentiate, depress, "contrastive_hebbian_synapse");
        if clamped {
            weights.iter_mut().for_each(|w| *w = 0.0);
        }
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

    /// Saves per synapse the weight, the presynaptic trace and the last spike's time; the phase
    /// is a function of the spike's time, so nothing else changes.
    fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        self.traces.state(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_repeat_every_period() {
        let p = ContrastiveParams { period_ms: 200.0, clamped_ms: 50.0, ..Default::default() };
        assert!(p.clamped_at(0.0) && p.clamped_at(49.9) && !p.clamped_at(50.0) && p.clamped_at(400.0));
        assert!(p.validate().is_ok());
        assert!(ContrastiveParams { clamped_ms: 200.0, ..p.clone() }.validate().is_err());
        assert!(ContrastiveParams { eta: -1.0, ..p }.validate().is_err());
    }
}
