//! How much memory a network will take, estimated from its description before anything is
//! allocated, so that a model too big for the machine is refused with the estimate instead of
//! aborting halfway through the build.
//!
//! The estimate adds up what [`NetworkBuilder::build`](crate::NetworkBuilder::build) allocates,
//! per part, from the description alone (no synapse is drawn):
//!
//! - **synapses**: the expected count of each projection's rule (`p·n_s·n_t` for
//!   `pairwise_bernoulli`, `k·n_t` for `fixed_indegree`, …) times
//!   [`BYTES_PER_STATIC_SYNAPSE`] (target, weight, delay, receptor in the CSR) or
//!   [`BYTES_PER_PLASTIC_SYNAPSE`] (plus the synapse model's state);
//! - **build scratch**: a thread holds one shard's unpacked edges at a time
//!   ([`BYTES_PER_UNPACKED_EDGE`] each), so the largest shard's in-degree sum per thread; where
//!   a shard's synapses are gathered by source in buckets, its records and drawn sources
//!   ([`BYTES_PER_BUCKET_RECORD`], 4 bytes less with single-precision weights), which exist
//!   beside the CSR they are packed into until it is done;
//! - **row index**: every shard indexes its rows by source gid, `threads · populations ·
//!   (neurons + 1)` offsets;
//! - **ring buffers**: one slot per step of the longest delay (rounded up to a power of two),
//!   per receptor and neuron, 8 bytes each;
//! - **neuron state**: [`BYTES_PER_NEURON`] plus 8 bytes per recordable state variable;
//! - **device channels** ([`BYTES_PER_DEVICE_CHANNEL`]) and recorded nodes.
//!
//! It is an estimate of the engine's own allocations, counting the build scratch on top of the
//! packed synapses (an upper bound: the largest shard is usually drawn before the others are
//! packed), not of the process: the allocator, the recorder's buffers and the program itself
//! come on top.

use crate::connect::Rule;
use crate::network::{MAX_DELAY_STEPS, NetworkBuilder};
use crate::time::Step;

/// A static synapse in a shard's CSR: 4-byte target, 8-byte weight, 2-byte delay, 1-byte receptor.
pub const BYTES_PER_STATIC_SYNAPSE: f64 = 15.0;
/// A synapse with a synapse model: the CSR entry plus the model's per-synapse state (weights,
/// traces; 32 bytes covers the shipped models).
pub const BYTES_PER_PLASTIC_SYNAPSE: f64 = 15.0 + 32.0;
/// An edge as drawn, before it is packed into the CSR.
pub const BYTES_PER_UNPACKED_EDGE: f64 = 32.0;
/// A synapse gathered in its source's bucket before packing: its record with a double-precision
/// weight (16 bytes; 12 with a single-precision one) and its source as drawn (4 bytes).
pub const BYTES_PER_BUCKET_RECORD: f64 = 16.0 + 4.0;
/// A neuron's bookkeeping besides its state variables (clock, queue entry, flags).
pub const BYTES_PER_NEURON: f64 = 48.0;
/// A device channel (one per device → target connection): target, random stream, next due time.
pub const BYTES_PER_DEVICE_CHANNEL: f64 = 64.0;

/// The estimated memory of a network, by part (bytes; expected values, so fractional).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Footprint {
    pub neurons: u64,
    /// The expected number of synapses.
    pub synapses: f64,
    pub synapse_bytes: f64,
    pub build_scratch_bytes: f64,
    pub row_index_bytes: f64,
    pub buffer_bytes: f64,
    pub neuron_bytes: f64,
    pub device_bytes: f64,
    pub recording_bytes: f64,
    /// The projection with the most expected synapses (index, count), to point the user at.
    pub largest_projection: Option<(usize, f64)>,
    /// The ring-buffer slots per receptor and neuron.
    pub buffer_slots: u64,
}

impl Footprint {
    /// All parts together.
    pub fn total_bytes(&self) -> f64 {
        self.synapse_bytes
            + self.build_scratch_bytes
            + self.row_index_bytes
            + self.buffer_bytes
            + self.neuron_bytes
            + self.device_bytes
            + self.recording_bytes
    }

    /// The parts as `(name, bytes)`, largest first, for messages.
    pub fn parts(&self) -> Vec<(&'static str, f64)> {
        let mut parts = vec![
            ("synapses", self.synapse_bytes),
            ("build scratch", self.build_scratch_bytes),
            ("row index", self.row_index_bytes),
            ("ring buffers", self.buffer_bytes),
            ("neuron state", self.neuron_bytes),
            ("device channels", self.device_bytes),
            ("recorded nodes", self.recording_bytes),
        ];
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        parts
    }
}

/// The expected number of synapses a rule draws between `ns` sources and `nt` targets.
pub fn expected_synapses(rule: &Rule, ns: u64, nt: u64) -> f64 {
    let (ns, nt) = (ns as f64, nt as f64);
    match rule {
        Rule::AllToAll => ns * nt,
        Rule::OneToOne => ns.min(nt),
        Rule::PairwiseBernoulli { p } => p * ns * nt,
        Rule::FixedIndegree { k } => *k as f64 * nt,
        Rule::FixedOutdegree { k } => *k as f64 * ns,
        Rule::FixedTotalNumber { n } => *n as f64,
        Rule::Explicit(edges) => edges.len() as f64,
    }
}

impl NetworkBuilder {
    /// The memory [`build`](Self::build) will take for `threads` threads, estimated without
    /// drawing a synapse (see the module docs for what is counted).
    pub fn footprint(&self, threads: usize) -> Footprint {
        let threads = threads.max(1) as f64;
        let h = self.resolution.h();
        let mut f = Footprint::default();
        let in_synapses = self.expected_incoming();
        let mut longest_delay: Step = 1;
        for (i, p) in self.projections.iter().enumerate() {
            let (ns, nt) = (self.populations[p.source].size as u64, self.populations[p.target].size as u64);
            let n = expected_synapses(&p.rule, ns, nt);
            f.synapses += n;
            let per_synapse = if p.synapse.is_some() { BYTES_PER_PLASTIC_SYNAPSE } else { BYTES_PER_STATIC_SYNAPSE };
            f.synapse_bytes += n * per_synapse;
            if f.largest_projection.is_none_or(|(_, m)| n > m) {
                f.largest_projection = Some((i, n));
            }
            let top = match &p.rule {
                Rule::Explicit(edges) => edges.iter().map(|e| e.delay_ms).fold(h, f64::max),
                _ => p.delay.practical_max(),
            };
            longest_delay = longest_delay.max(steps_capped(top, h));
        }
        for d in &self.devices {
            longest_delay = longest_delay.max(steps_capped(d.delay_ms, h) + 1);
            f.device_bytes += d.targets.len() as f64 * (BYTES_PER_DEVICE_CHANNEL + 8.0);
        }
        f.buffer_slots = longest_delay.next_power_of_two();
        // Each thread draws one shard (its share of a population's incoming synapses) at a time,
        // and the threads work on the same population together: as edges, or as bucket records.
        f.build_scratch_bytes = in_synapses
            .iter()
            .enumerate()
            .map(|(pi, &n)| {
                if self.bucketable(pi) {
                    let single = self.stores_single_weights(pi);
                    n * if single { BYTES_PER_BUCKET_RECORD - 4.0 } else { BYTES_PER_BUCKET_RECORD }
                } else {
                    n * BYTES_PER_UNPACKED_EDGE
                }
            })
            .fold(0.0, f64::max);
        let total_neurons: u64 = self.populations.iter().map(|p| p.size as u64).sum();
        f.neurons = total_neurons;
        let offset_bytes = if f.synapses / threads < u32::MAX as f64 { 4.0 } else { 8.0 };
        f.row_index_bytes = threads * self.populations.len() as f64 * (total_neurons as f64 + 1.0) * offset_bytes;
        for p in &self.populations {
            let info = p.factory.info();
            let n = p.size as f64;
            f.neuron_bytes += n * (BYTES_PER_NEURON + 8.0 * info.recordables.len() as f64);
            f.buffer_bytes += n * f.buffer_slots as f64 * info.receptors.len().max(1) as f64 * 8.0;
        }
        f.recording_bytes = self.recordings.iter().map(|r| r.nodes.len() as f64 * 16.0).sum();
        f
    }
}

impl NetworkBuilder {
    /// The expected number of synapses onto each population: its projections' expected counts
    /// ([`expected_synapses`]), summed.
    pub(crate) fn expected_incoming(&self) -> Vec<f64> {
        let mut incoming = vec![0.0f64; self.populations.len()];
        for p in &self.projections {
            let (ns, nt) = (self.populations[p.source].size as u64, self.populations[p.target].size as u64);
            incoming[p.target] += expected_synapses(&p.rule, ns, nt);
        }
        incoming
    }
}

/// `ms` in whole steps, capped at the longest delay the engine stores (longer delays are refused
/// by validation; the cap keeps the estimate finite for them).
fn steps_capped(ms: f64, h: f64) -> Step {
    let steps = (ms / h).round();
    if steps.is_finite() && steps >= 1.0 { (steps as Step).min(MAX_DELAY_STEPS) } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_counts_follow_the_rules() {
        assert_eq!(expected_synapses(&Rule::PairwiseBernoulli { p: 0.1 }, 100, 200), 2000.0);
        assert_eq!(expected_synapses(&Rule::FixedIndegree { k: 80 }, 4000, 3200), 256_000.0);
        assert_eq!(expected_synapses(&Rule::FixedOutdegree { k: 5 }, 10, 7), 50.0);
        assert_eq!(expected_synapses(&Rule::FixedTotalNumber { n: 9 }, 10, 7), 9.0);
        assert_eq!(expected_synapses(&Rule::AllToAll, 10, 7), 70.0);
        assert_eq!(expected_synapses(&Rule::OneToOne, 10, 10), 10.0);
    }
}
