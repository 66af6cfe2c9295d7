//! Synapses with state: the interface between the engine and synapse models.
//!
//! A static synapse is a weight, a delay and a receptor in the shard's incoming CSR. A synapse
//! *model* (short-term plasticity, STDP, Hebbian learning, astrocyte-gated release) also has
//! state that changes when a presynaptic spike is transmitted, and may read the postsynaptic
//! neuron's spike history. Such synapses live in a [`PlasticGroup`]: the synapses of one
//! projection onto one shard, in a CSR of their own indexed by source gid, whose per-synapse state
//! the model keeps in its own struct-of-arrays ([`SynapseDynamics`]).
//!
//! # When a synapse model runs
//! As in NEST, a synapse model runs when the presynaptic spike is *delivered*, i.e. at the end of
//! the exchange interval in which it was emitted, in the canonical `(step, gid)` order of spikes
//! and, within a row, in the synapses' stored order. It sees the spike's time stamp
//! `t_spike = (step + 1)·h − offset` and returns the weight to transmit for every synapse of the
//! row; the engine then adds that weight to the target's ring buffer at `step + delay`, exactly as
//! for a static synapse. One dynamic call is made per (spike, group), never per synapse.
//!
//! # The postsynaptic spike history (NEST's `ArchivingNode`)
//! Spike-timing rules need the postsynaptic spikes. A shard with such synapses keeps a
//! [`PostHistory`]: per neuron, the times of its spikes and the trace
//! `K⁻ ← K⁻·exp(−(t − t_last)/τ⁻) + 1` just after each. When a presynaptic spike with time
//! `t_spike` is delivered through a synapse of dendritic delay `d`, every postsynaptic spike up to
//! `t_spike − d` has already been archived: delays are at least the exchange interval, and the
//! archive is filled while the interval is computed. Entries are pruned once no synapse can ask for
//! them again (older than the oldest `t_last − d` over the shard's groups, keeping the latest such
//! entry for the trace); like NEST, a synapse that never transmits keeps the history alive.

use std::collections::VecDeque;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{StateError, StateIo};

/// NEST's tolerance when comparing spike times in spike-timing rules (`stdp_eps`), in ms.
pub const STDP_EPS_MS: f64 = 1.0e-6;

/// A postsynaptic spike as archived: its time and the trace `K⁻` just after it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PostSpike {
    pub t_ms: f64,
    pub k_minus: f64,
}

/// The spike history of the neurons of one shard.
#[derive(Debug, Clone)]
pub struct PostHistory {
    tau_minus: f64,
    spikes: Vec<VecDeque<PostSpike>>,
}

impl PostHistory {
    pub fn new(neurons: usize, tau_minus_ms: f64) -> Self {
        Self { tau_minus: tau_minus_ms, spikes: vec![VecDeque::new(); neurons] }
    }

    /// The time constant of the `K⁻` trace, in ms.
    pub fn tau_minus(&self) -> f64 {
        self.tau_minus
    }

    /// Archives a spike of `neuron` at `t_ms` (non-decreasing per neuron).
    pub fn record(&mut self, neuron: usize, t_ms: f64) {
        let history = &mut self.spikes[neuron];
        let k_minus = match history.back() {
            Some(last) => last.k_minus * ((last.t_ms - t_ms) / self.tau_minus).exp() + 1.0,
            None => 1.0,
        };
        history.push_back(PostSpike { t_ms, k_minus });
    }

    /// The spikes of `neuron` with `t1 < t ≤ t2` (each bound widened by [`STDP_EPS_MS`], as
    /// NEST's `get_history`).
    pub fn between(&self, neuron: usize, t1: f64, t2: f64) -> impl Iterator<Item = &PostSpike> {
        let history = &self.spikes[neuron];
        let lo = history.partition_point(|s| s.t_ms < t1 + STDP_EPS_MS);
        let hi = history.partition_point(|s| s.t_ms < t2 + STDP_EPS_MS);
        history.range(lo..hi.max(lo))
    }

    /// The trace `K⁻` of `neuron` at time `t`, from its spikes strictly before `t` (NEST's
    /// `get_K_value`); 0 if there are none.
    pub fn k_minus(&self, neuron: usize, t: f64) -> f64 {
        let history = &self.spikes[neuron];
        let n = history.partition_point(|s| t - s.t_ms > STDP_EPS_MS);
        match n.checked_sub(1) {
            Some(i) => history[i].k_minus * ((history[i].t_ms - t) / self.tau_minus).exp(),
            None => 0.0,
        }
    }

    /// Drops entries no synapse can ask for again: those before `oldest_needed` except the latest
    /// of them (it carries the trace).
    pub fn prune(&mut self, oldest_needed: f64) {
        for history in &mut self.spikes {
            let before = history.partition_point(|s| s.t_ms < oldest_needed - STDP_EPS_MS);
            if before > 1 {
                history.drain(..before - 1);
            }
        }
    }

    /// Saves or restores the archive, one list of entries per neuron.
    pub(crate) fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        io.neurons("spike_history", &mut self.spikes)
    }

    /// Archived entries, for memory reports.
    pub fn len(&self) -> usize {
        self.spikes.iter().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A presynaptic spike being transmitted through one row of a [`PlasticGroup`].
#[derive(Debug, Clone)]
pub struct Transmission<'a> {
    /// The spike's time stamp in ms.
    pub t_spike: f64,
    /// The source's index within its population.
    pub source: u64,
    /// The row's synapses, as indices into the group's arrays.
    pub synapses: Range<usize>,
    /// Per synapse of the whole group: the target (local index within the shard).
    pub targets: &'a [u32],
    /// Per synapse of the whole group: the (dendritic) delay in ms.
    pub delays_ms: &'a [f64],
    /// The shard's postsynaptic spike history, if any group of the shard asked for it.
    pub history: Option<&'a PostHistory>,
    /// Whether long-term plasticity may change weights now (the projection's learning windows);
    /// when false, rules keep their traces but leave weights unchanged.
    pub learning: bool,
}

/// A weight as a synapse used it, for weight recordings (NEST's `weight_recorder`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightEvent {
    /// Index of the projection in the network description.
    pub projection: usize,
    pub t_ms: f64,
    /// Index within the source population.
    pub source: u64,
    /// Index within the target population.
    pub target: u64,
    pub weight: f64,
}

/// The state and update rule of the synapses of one [`PlasticGroup`], in struct-of-arrays form.
pub trait SynapseDynamics: Send {
    /// Updates the row's synapses for a spike at `tx.t_spike` and writes the weight each transmits
    /// into `weights[k]` for synapse `tx.synapses.start + k`.
    fn transmit(&mut self, tx: &Transmission<'_>, weights: &mut [f64]);

    /// The current weight of synapse `j` (what a weight recording reports).
    fn weight(&self, j: usize) -> f64;

    /// The earliest postsynaptic spike time any synapse may still ask the history for
    /// (`t_last − d` minimised over synapses); `f64::INFINITY` if the model reads no history.
    fn oldest_needed(&self, _delays_ms: &[f64]) -> f64 {
        f64::INFINITY
    }

    /// Memory held per synapse, in bytes.
    fn bytes_per_synapse(&self) -> usize;

    /// Saves or restores the synapses' state with [`StateIo::synapses`] (per synapse, indexed as
    /// stored) and [`StateIo::neurons`] (per target neuron of the shard, e.g. astrocyte domains).
    fn state(&mut self, _io: &mut StateIo) -> Result<(), StateError> {
        Err(StateError("the synapse model does not support checkpoints".into()))
    }
}

/// Builds the synapse state of a projection onto one shard.
pub trait SynapseFactory: Send + Sync {
    /// The model's name (NEST's where it has one).
    fn name(&self) -> &str;

    /// `Some(τ⁻)` if the rule reads the postsynaptic spike history with trace time constant τ⁻ (ms).
    fn post_history(&self) -> Option<f64> {
        None
    }

    /// The state for synapses with the given initial weights and targets (local indices within a
    /// shard of `shard_len` neurons), in CSR order. Rules with per-target state (a normalising
    /// astrocyte domain) size it by `shard_len`.
    fn build(&self, weights: Vec<f64>, targets: &[u32], shard_len: usize) -> Result<Box<dyn SynapseDynamics>, String>;
}

/// The synapses of one projection onto one shard that carry a synapse model.
pub struct PlasticGroup {
    /// Index of the projection in the network description.
    pub projection: usize,
    pub source_first_gid: u64,
    pub target_first_index: u64,
    pub row_start: Vec<u64>,
    pub target: Vec<u32>,
    pub delay: Vec<u16>,
    pub delay_ms: Vec<f64>,
    pub receptor: Vec<u8>,
    pub dynamics: Box<dyn SynapseDynamics>,
    /// Whether transmissions are reported as [`WeightEvent`]s.
    pub record_weights: bool,
    /// `[start, stop)` windows (ms) in which weights may change; empty: always.
    pub learning_windows: Vec<(f64, f64)>,
}

impl std::fmt::Debug for PlasticGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlasticGroup")
            .field("projection", &self.projection)
            .field("synapses", &self.target.len())
            .finish()
    }
}

impl PlasticGroup {
    #[inline]
    pub(crate) fn row(&self, gid: u64) -> Range<usize> {
        match self.row_start.get(gid as usize..gid as usize + 2) {
            Some(w) => w[0] as usize..w[1] as usize,
            None => 0..0,
        }
    }

    pub fn synapses(&self) -> usize {
        self.target.len()
    }

    /// Whether weights may change at time `t_ms`.
    pub fn learning_at(&self, t_ms: f64) -> bool {
        self.learning_windows.is_empty() || self.learning_windows.iter().any(|&(a, b)| (a..b).contains(&t_ms))
    }

    pub fn bytes(&self) -> usize {
        self.row_start.len() * 8 + self.target.len() * (4 + 2 + 8 + 1 + self.dynamics.bytes_per_synapse())
    }

    /// The stored indices of the group's synapses in canonical order: by target, then source,
    /// then stored order (multapses of one pair keep theirs). Shards split a projection by
    /// target, so this order concatenates across shards into one that no thread count changes.
    pub(crate) fn canonical_order(&self) -> Vec<u32> {
        let mut keyed: Vec<(u32, u64, u32)> = Vec::with_capacity(self.target.len());
        for source in 0..self.row_start.len().saturating_sub(1) {
            for j in self.row(source as u64) {
                keyed.push((self.target[j], source as u64, j as u32));
            }
        }
        keyed.sort_unstable();
        keyed.into_iter().map(|(_, _, j)| j).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_windows_and_trace_follow_nest() {
        let mut h = PostHistory::new(1, 20.0);
        for t in [10.0, 15.0, 30.0] {
            h.record(0, t);
        }
        let times: Vec<f64> = h.between(0, 10.0, 30.0).map(|s| s.t_ms).collect();
        assert_eq!(times, vec![15.0, 30.0]);
        // Strictly before: at t = 30 the spike at 30 does not count yet.
        let k15 = 1.0 * (-5.0f64 / 20.0).exp() + 1.0;
        assert!((h.k_minus(0, 30.0) - k15 * (-15.0f64 / 20.0).exp()).abs() < 1e-15);
        assert_eq!(h.k_minus(0, 10.0), 0.0);
        h.prune(20.0);
        assert_eq!(h.len(), 2, "keeps the latest entry before the cut for the trace");
        assert!((h.k_minus(0, 30.0) - k15 * (-15.0f64 / 20.0).exp()).abs() < 1e-15);
    }
}
