//! Devices that drive neurons from outside the network: Poisson spike trains, injected currents.
//!
//! A device is connected to targets through *channels*, one per (device, target) connection,
//! each with its own weight, delay and receptor. The engine gives each thread the channels whose
//! targets it owns and keeps their next-due steps in the thread's device `NextEventQueue`, so a
//! device that has nothing to do costs nothing (a `dc_generator` fires twice: at onset and
//! offset; a Poisson channel fires at its next spike).

use crate::buffer::PreciseEvent;
use crate::checkpoint::{StateError, StateIo};
use crate::population::{BuildContext, ModelError};
use crate::time::Step;

/// Where a channel delivers: a shard of the owning thread, a neuron in it, and the synapse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelTarget {
    /// Index of the target population.
    pub population: usize,
    /// Global id of the target.
    pub gid: u64,
    /// Index of the target neuron within its shard.
    pub local: u32,
    pub weight: f64,
    pub delay: Step,
    pub receptor: u8,
    /// Steps by which an injected current must arrive early: 1 for models that use a current in
    /// the step it arrives ([`crate::ModelInfo::current_on_arrival`]), else 0.
    pub current_lead: Step,
}

/// Writes device output into the owning thread's input buffers.
#[derive(Debug)]
pub struct StimulusSink<'a> {
    pub(crate) shards: crate::sim::ShardBuffers<'a>,
    /// Maps population index → this thread's shard (buffer) index.
    pub(crate) shard_of_population: &'a [usize],
}

impl StimulusSink<'_> {
    /// Delivers `count` spikes through `target`'s synapse, emitted in step `step` (they arrive in
    /// step `step + delay`).
    #[inline]
    pub fn spikes(&mut self, target: &ChannelTarget, step: Step, count: u32) {
        let shard = self.shard_of_population[target.population];
        let event = PreciseEvent {
            target: target.local,
            receptor: target.receptor,
            offset: 0.0,
            weight: target.weight * f64::from(count),
        };
        self.shards.buffer(shard).add_precise(step + target.delay, event);
    }

    /// Delivers `count` spikes to each `(neuron, count)` of `counts` (neurons within the shard of
    /// `like`'s population) through synapses that are `like`'s but for the neuron, emitted in
    /// step `step`: as [`StimulusSink::spikes`] for each in turn, with the buffer looked up once.
    #[inline]
    pub fn spike_counts(&mut self, like: &ChannelTarget, step: Step, counts: impl Iterator<Item = (u32, u32)>) {
        let shard = self.shard_of_population[like.population];
        self.shards.buffer(shard).add_counts(step + like.delay, like.receptor, like.weight, counts);
    }

    /// Changes the current injected through `target`'s connection by `delta` pA (times the
    /// connection weight) from step `step` on.
    #[inline]
    pub fn current_change(&mut self, target: &ChannelTarget, step: Step, delta: f64) {
        let shard = self.shard_of_population[target.population];
        self.shards.buffer(shard).add_current(step, target.local as usize, delta * target.weight);
    }
}

/// One device's channels on one thread.
pub trait Stimulus: Send {
    /// The step at which channel `channel` first fires, if ever (called once at start).
    fn first_due(&mut self, channel: usize) -> Option<Step>;

    /// Fires channel `channel` at step `step` (it was due): writes into `sink` and returns the
    /// channel's next due step, if any. Must return a step > `step`.
    fn fire(&mut self, channel: usize, step: Step, sink: &mut StimulusSink<'_>) -> Option<Step>;

    fn channels(&self) -> usize;

    /// `Some((start, stop))` when every channel fires in each step of `start..stop` and in no
    /// other (dense Poisson drive). The engine then calls [`Stimulus::fire_all`] in those steps
    /// instead of keeping one calendar entry per channel and step; [`Stimulus::first_due`] and
    /// [`Stimulus::fire`] must agree with the window.
    fn every_step(&self) -> Option<(Step, Step)> {
        None
    }

    /// Fires every channel in channel order at `step` (for devices with an
    /// [`every_step`](Stimulus::every_step) window), as `fire` would one by one.
    fn fire_all(&mut self, step: Step, sink: &mut StimulusSink<'_>) {
        for c in 0..self.channels() {
            self.fire(c, step, sink);
        }
    }

    /// Saves or restores the channels' state (random streams, schedule positions) with
    /// [`StateIo::channels`]; the engine keeps each channel's next due step itself.
    fn state(&mut self, _io: &mut StateIo) -> Result<(), StateError> {
        Err(StateError("the device does not support checkpoints".into()))
    }
}

/// Builds a device's channels for one thread.
pub trait StimulusFactory: Send + Sync {
    /// The device model's name, e.g. `poisson_generator`.
    fn name(&self) -> &'static str;

    /// Whether the device injects current (its channels need no receptor) or spikes.
    fn injects_current(&self) -> bool;

    /// The channels of targets owned by one thread. `device_id` identifies the device for random
    /// streams (draws for a channel must depend only on the device and the target gid).
    fn build(
        &self,
        device_id: u64,
        targets: Vec<ChannelTarget>,
        ctx: &BuildContext,
    ) -> Result<Box<dyn Stimulus>, ModelError>;
}
