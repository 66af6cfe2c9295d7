//! The run loop: per-thread partitions, spike exchange, recording.
//!
//! # How a spike travels
//! 1. **Threshold.** During step `k`, a shard's model finds that neuron `i` crossed threshold and
//!    pushes `LocalSpike { local: i, offset }` into the shard's spike list.
//! 2. **Outbox.** The partition sorts the step's spikes by local index, turns them into
//!    `Spike { step: k, gid, offset }` and appends them to its outbox for the current exchange
//!    interval (the interval is the minimum delay, so no spike can be due before it ends).
//! 3. **Exchange.** At the end of the interval all threads meet at a spinning barrier. Each thread
//!    then reads every outbox and orders the spikes by `(step, gid)`; this canonical order, not
//!    the thread that produced a spike, fixes the order in which weights are summed, which is why
//!    results are bit-identical for any thread count.
//! 4. **Fan-out.** For each spike, each of the thread's shards looks up the source's row in its
//!    incoming CSR (synapses stored by target partition, indexed by source gid) and, for each
//!    synapse, adds the weight to the target's ring-buffer slot for step `k + delay` on the
//!    synapse's receptor. Only the owning thread writes its targets' buffers: no locks, no atomics.
//! 5. **Arrival.** In step `k + delay` the target's shard reads that slot: stepped models read all
//!    neurons; event-driven models visit just the touched neurons and those due in their queue.
//!
//! Thread 0 is the calling thread; between barriers it also hands finished spikes and samples to
//! the [`Observer`] (the recorder), so observers need not be `Send`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::barrier::SpinBarrier;
use crate::buffer::{InputBuffer, InputKind, PreciseEvent};
pub use crate::csr::IncomingCsr;
use crate::network::RecordingSpec;
use crate::population::{GradedValue, LocalSpike, Population, Recordable, Update};
use crate::queue::{Calendar, NextEventQueue};
use crate::ranks::Ranks;
use crate::stimulus::{Stimulus, StimulusSink};
use crate::synapse::{PlasticGroup, PostHistory, Transmission, WeightEvent};
use crate::time::{Resolution, Step};

/// A spike on its way through the exchange.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Spike {
    /// The step in which it was emitted; its time is `(step+1)·h − offset`.
    pub step: Step,
    pub gid: u64,
    pub offset: f64,
}

/// A spike as observers see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeRecord {
    pub population: usize,
    /// Index within the population.
    pub node: u64,
    /// Spike time in ms.
    pub time_ms: f64,
}

/// Receives what a run produces, on the calling thread, in time order.
pub trait Observer {
    /// The spikes of one exchange interval, ordered by (time step, gid).
    fn spikes(&mut self, spikes: &[SpikeRecord]) -> Result<(), String>;
    /// One sample of recording `recording` at the end of step `step` (time `(step+1)·h`), one
    /// value per recorded node.
    fn frame(&mut self, recording: usize, step: Step, values: &[f64]) -> Result<(), String>;
    /// Weights transmitted through recorded plastic projections, ordered by (time, projection,
    /// source, target).
    fn weights(&mut self, _events: &[WeightEvent]) -> Result<(), String> {
        Ok(())
    }
    /// The run has reached step `now` (time `now·h`): called after every exchange interval, once
    /// its spikes, weights and frames have been handed over. For progress displays; a run is
    /// best made with a single [`Simulation::run`] call, because each call starts its worker
    /// threads afresh and a short call can end before the scheduler has spread them over cores.
    fn progress(&mut self, _now: Step) {}
}

/// An observer that keeps nothing.
#[derive(Debug, Default)]
pub struct NullObserver;

impl Observer for NullObserver {
    fn spikes(&mut self, _: &[SpikeRecord]) -> Result<(), String> {
        Ok(())
    }
    fn frame(&mut self, _: usize, _: Step, _: &[f64]) -> Result<(), String> {
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum RunError {
    #[error("recording failed at {} ms: {message}", (time_ms * 1e6).round() / 1e6)]
    Observer { time_ms: f64, message: String },
    /// A neuron's dynamics failed ([`crate::ModelFailure`]); the run ended after the exchange
    /// interval in which it happened (the earliest failure, then the lowest gid, for any
    /// number of threads or ranks).
    #[error(
        "population `{population}` ({model}), neuron {neuron}, in the step ending at {} ms: {message}",
        (time_ms * 1e6).round() / 1e6
    )]
    Model { population: String, model: String, neuron: u64, time_ms: f64, message: String },
}

/// What a population is, as the run reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationMeta {
    pub name: String,
    pub model: String,
    pub size: usize,
    pub first_gid: u64,
    pub recordables: Vec<Recordable>,
}

/// The outcome of [`Simulation::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// The step the simulation has reached (time `now·h`).
    pub now: Step,
    /// Whether the run stopped before `until` because it was asked to.
    pub interrupted: bool,
    pub wall: Duration,
}

/// The neurons of one population owned by one thread.
pub(crate) struct Shard {
    pub first_gid: u64,
    /// The model counts incoming spikes (parrot): a plastic synapse delivers 1, not its weight.
    pub counts_spikes: bool,
    pub model: Box<dyn Population>,
    pub buffer: InputBuffer,
    pub queue: NextEventQueue,
    pub csr: IncomingCsr,
    /// Couplings from sources with a graded output (e.g. astrocytes' slow inward current).
    pub graded_csr: IncomingCsr,
    /// Synapses with a synapse model, one group per projection.
    pub plastic: Vec<PlasticGroup>,
    /// The neurons' spike history, kept when a plastic group reads it.
    pub history: Option<PostHistory>,
    pub spikes: Vec<LocalSpike>,
    pub graded: Vec<GradedValue>,
}

/// A graded value on its way through the exchange.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GradedEvent {
    pub step: Step,
    pub gid: u64,
    pub value: f64,
}

/// The part of a recording a thread samples.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecordingPart {
    pub shard: usize,
    pub locals: Vec<u32>,
}

/// What a thread produced in one exchange interval.
#[derive(Debug, Default)]
pub(crate) struct IntervalOutput {
    pub(crate) spikes: Vec<Spike>,
    pub(crate) graded: Vec<GradedEvent>,
    /// Weights used by recorded plastic projections in the *previous* interval's delivery.
    pub(crate) weights: Vec<WeightEvent>,
    /// Per recording: the steps sampled and the values of this thread's part.
    pub(crate) samples: Vec<Samples>,
    /// The thread's earliest model failure of the interval (by step, then gid), if any.
    pub(crate) failure: Option<Failure>,
}

/// A [`crate::ModelFailure`] on its way through the exchange, with its neuron's gid.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub(crate) step: Step,
    pub(crate) gid: u64,
    pub(crate) message: String,
}

/// The samples of one recording that one thread took in an interval: at `steps[j]`, the values
/// `values[j·width .. (j+1)·width]` of the thread's part of the recording's nodes. Flat, so that
/// sampling every step allocates nothing (a vector per sample cost CUBA about 3 % of its run).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Samples {
    pub(crate) steps: Vec<Step>,
    /// Values per sample: the number of the recording's nodes the thread holds.
    pub(crate) width: usize,
    pub(crate) values: Vec<f64>,
}

impl Samples {
    fn clear(&mut self) {
        self.steps.clear();
        self.values.clear();
    }

    /// The values of sample `j`.
    pub(crate) fn at(&self, j: usize) -> &[f64] {
        &self.values[j * self.width..(j + 1) * self.width]
    }
}

/// Where a run's time went, summed over this process's threads (thread-seconds), when profiling
/// is on ([`Simulation::set_profiling`]). The phases of one exchange interval, in order.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PhaseTimes {
    /// Devices firing into the ring buffers (Poisson background, currents).
    pub devices: f64,
    /// Neuron updates (reading the step's input, integrating, threshold), and sampling.
    pub update: f64,
    /// Waiting at the interval's barrier for the slowest thread (and, over ranks, the exchange).
    pub barrier: f64,
    /// Gathering every thread's spikes and sorting them canonically.
    pub merge: f64,
    /// Fan-out: each spike's CSR rows, weights added into the ring buffers, synapse models.
    pub deliver: f64,
    /// Handing spikes, samples and weights to the observer (thread 0: the recorder).
    pub record: f64,
}

impl PhaseTimes {
    fn add(&mut self, o: &PhaseTimes) {
        self.devices += o.devices;
        self.update += o.update;
        self.barrier += o.barrier;
        self.merge += o.merge;
        self.deliver += o.deliver;
        self.record += o.record;
    }
}

/// Where the build's time went: drawing the synapses and packing them into CSR rows (both summed
/// over threads: thread-seconds), then building the partitions (models, buffers, devices; wall).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BuildTimes {
    pub draw: f64,
    pub pack: f64,
    pub partitions: f64,
}

/// A clock that reads the time only when profiling.
#[derive(Debug, Clone, Copy)]
struct Lap(Option<Instant>);

impl Lap {
    #[inline]
    fn start(on: bool) -> Self {
        Self(on.then(Instant::now))
    }
    /// Adds the time since the last lap to `into` and starts the next lap.
    #[inline]
    fn lap(&mut self, into: &mut f64) {
        if let Some(t) = self.0 {
            let now = Instant::now();
            *into += (now - t).as_secs_f64();
            self.0 = Some(now);
        }
    }
}

/// What the exchange between ranks cost this rank (thread 0's part, see [`crate::ranks`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExchangeStats {
    /// Exchange intervals (all-gathers).
    pub intervals: u64,
    /// Bytes this rank sent, and received from the others.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Wall time in the exchange: encoding, the all-gather (including waiting for the slowest
    /// rank) and decoding.
    pub seconds: f64,
}

/// The other ranks' outputs of the current interval, in global partition order: the ranks before
/// this one, then those after it (see [`crate::ranks`]).
#[derive(Debug, Default)]
struct RemoteOutputs {
    before: Vec<IntervalOutput>,
    after: Vec<IntervalOutput>,
    /// Scratch: this rank's message.
    message: Vec<u8>,
    stats: ExchangeStats,
}

/// One thread's share of the network.
pub struct Partition {
    pub(crate) thread: usize,
    /// The resolution in ms (spike times for the histories).
    pub(crate) h: f64,
    pub(crate) shards: Vec<Shard>,
    pub(crate) shard_of_population: Vec<usize>,
    pub(crate) stimuli: Vec<Box<dyn Stimulus>>,
    pub(crate) stimulus_offsets: Vec<u32>,
    /// Per device: the target gid of each of this thread's channels (checkpoints key channel
    /// state by it).
    pub(crate) stimulus_gids: Vec<Vec<u64>>,
    pub(crate) stimulus_queue: Calendar,
    /// Devices that fire all their channels in every step of a window, outside the calendar:
    /// `(device, start, stop)` in device order.
    pub(crate) every_step: Vec<(usize, Step, Step)>,
    pub(crate) due_channels: Vec<u32>,
    pub(crate) recording_parts: Vec<RecordingPart>,
    pub(crate) merged: Vec<Spike>,
    pub(crate) merged_graded: Vec<GradedEvent>,
    /// Spikes and graded values of an interval that ended off the grid of exchange intervals
    /// (a run's last, cut short by its stop): recorded, but delivered only at the next grid
    /// point, together with that interval's, as one uninterrupted run delivers them (the same
    /// on every thread and rank; saved in checkpoints).
    pub(crate) held: Vec<Spike>,
    pub(crate) held_graded: Vec<GradedEvent>,
    /// Weight events of the last delivery, handed out with the next interval's output.
    pub(crate) pending_weights: Vec<WeightEvent>,
    /// Scratch: the weights a plastic row transmits.
    pub(crate) row_weights: Vec<f64>,
    pub(crate) synaptic_events: u64,
    /// The step at which the spike histories are next pruned.
    pub(crate) next_prune: Step,
    /// Time per phase, when profiling.
    pub(crate) phases: PhaseTimes,
    pub(crate) profiling: bool,
}

impl std::fmt::Debug for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partition").field("thread", &self.thread).field("shards", &self.shards.len()).finish()
    }
}

impl Partition {
    pub(crate) fn new(
        thread: usize,
        h: f64,
        shards: Vec<Shard>,
        shard_of_population: Vec<usize>,
        stimuli: Vec<Box<dyn Stimulus>>,
        stimulus_offsets: Vec<u32>,
        stimulus_gids: Vec<Vec<u64>>,
        recording_parts: Vec<RecordingPart>,
    ) -> Self {
        Self {
            thread,
            h,
            shards,
            shard_of_population,
            stimuli,
            stimulus_offsets,
            stimulus_gids,
            stimulus_queue: Calendar::new(),
            every_step: Vec::new(),
            due_channels: Vec::new(),
            recording_parts,
            merged: Vec::new(),
            merged_graded: Vec::new(),
            held: Vec::new(),
            held_graded: Vec::new(),
            pending_weights: Vec::new(),
            row_weights: Vec::new(),
            synaptic_events: 0,
            next_prune: 0,
            phases: PhaseTimes::default(),
            profiling: false,
        }
    }

    pub(crate) fn start(&mut self, now: Step) {
        for shard in &mut self.shards {
            shard.model.start(now, &mut shard.queue);
        }
        self.collect_every_step();
        for (si, stim) in self.stimuli.iter_mut().enumerate() {
            if stim.every_step().is_some() {
                continue;
            }
            for c in 0..stim.channels() {
                if let Some(due) = stim.first_due(c) {
                    self.stimulus_queue.schedule(self.stimulus_offsets[si] + c as u32, due.max(now), now);
                }
            }
        }
    }

    /// Computes steps `from..to`, writing spikes and samples into `out`.
    fn compute(&mut self, from: Step, to: Step, recordings: &[RecordingSpec], out: &mut IntervalOutput) {
        out.spikes.clear();
        out.graded.clear();
        out.weights.clear();
        std::mem::swap(&mut out.weights, &mut self.pending_weights);
        out.samples.resize_with(recordings.len(), Samples::default);
        for s in &mut out.samples {
            s.clear();
        }
        let mut lap = Lap::start(self.profiling);
        let mut phases = PhaseTimes::default();
        for step in from..to {
            // Devices first: a current change due now acts in this very step.
            let mut due = std::mem::take(&mut self.due_channels);
            due.clear();
            self.stimulus_queue.take_due(step, &mut due);
            // Channels fire in key order (device, channel), which fixes the order in which their
            // inputs are summed; every-step devices take their place in that order.
            let mut dense = 0;
            for &key in &due {
                let si = self.stimulus_offsets.partition_point(|&o| o <= key) - 1;
                while dense < self.every_step.len() && self.every_step[dense].0 < si {
                    self.fire_every_step(dense, step);
                    dense += 1;
                }
                let channel = (key - self.stimulus_offsets[si]) as usize;
                let next = {
                    let mut sink = StimulusSink {
                        shards: ShardBuffers(&mut self.shards),
                        shard_of_population: &self.shard_of_population,
                    };
                    self.stimuli[si].fire(channel, step, &mut sink)
                };
                if let Some(next) = next {
                    debug_assert!(next > step);
                    self.stimulus_queue.schedule(key, next.max(step + 1), step);
                }
            }
            for d in dense..self.every_step.len() {
                self.fire_every_step(d, step);
            }
            self.due_channels = due;
            lap.lap(&mut phases.devices);
            let h = self.h;
            for shard in &mut self.shards {
                shard.spikes.clear();
                shard.graded.clear();
                {
                    let input = shard.buffer.take_step(step);
                    let mut update = Update {
                        step,
                        input,
                        queue: &mut shard.queue,
                        spikes: &mut shard.spikes,
                        graded: &mut shard.graded,
                    };
                    shard.model.update(&mut update);
                }
                shard.buffer.clear_step(step);
                if !shard.graded.is_empty() {
                    shard.graded.sort_by_key(|g| g.local);
                    out.graded.extend(shard.graded.iter().map(|g| GradedEvent {
                        step,
                        gid: shard.first_gid + u64::from(g.local),
                        value: g.value,
                    }));
                }
                if !shard.spikes.is_empty() {
                    shard.spikes.sort_by_key(|s| s.local);
                    if let Some(history) = &mut shard.history {
                        for s in &shard.spikes {
                            history.record(s.local as usize, (step + 1) as f64 * h - s.offset);
                        }
                    }
                    out.spikes.extend(shard.spikes.iter().map(|s| Spike {
                        step,
                        gid: shard.first_gid + u64::from(s.local),
                        offset: s.offset,
                    }));
                }
            }
            for (ri, rec) in recordings.iter().enumerate() {
                if (step + 1) % rec.interval != 0 {
                    continue;
                }
                let part = &self.recording_parts[ri];
                let samples = &mut out.samples[ri];
                samples.steps.push(step);
                samples.width = part.locals.len();
                if !part.locals.is_empty() {
                    let model = &self.shards[part.shard].model;
                    samples.values.extend(part.locals.iter().map(|&l| model.sample(rec.variable, l as usize, step)));
                }
            }
            lap.lap(&mut phases.update);
        }
        // Once per interval, not per step: a failure ends the run at the interval's end.
        out.failure = None;
        for shard in &mut self.shards {
            if let Some(f) = shard.model.take_failure() {
                let failure = Failure { step: f.step, gid: shard.first_gid + u64::from(f.local), message: f.message };
                if out.failure.as_ref().is_none_or(|o| (failure.step, failure.gid) < (o.step, o.gid)) {
                    out.failure = Some(failure);
                }
            }
        }
        self.phases.add(&phases);
    }

    /// Lists the devices that fire in every step of a window, outside the calendar (at the start
    /// of a run, and when a checkpoint is restored).
    pub(crate) fn collect_every_step(&mut self) {
        self.every_step = self
            .stimuli
            .iter()
            .enumerate()
            .filter_map(|(si, s)| s.every_step().map(|(start, stop)| (si, start, stop)))
            .collect();
    }

    /// Fires the channels of every-step device `self.every_step[d]` if `step` is in its window.
    fn fire_every_step(&mut self, d: usize, step: Step) {
        let (si, start, stop) = self.every_step[d];
        if (start..stop).contains(&step) {
            let mut sink =
                StimulusSink { shards: ShardBuffers(&mut self.shards), shard_of_population: &self.shard_of_population };
            self.stimuli[si].fire_all(step, &mut sink);
        }
    }

    /// Delivers the (already merged and ordered) spikes and graded values into this thread's
    /// buffers, running the synapse models of plastic projections on the way.
    fn deliver(&mut self) {
        let mut events = 0u64;
        // The first spikes' rows are requested together (a step often has only a few dozen
        // spikes); then each spike requests the row of the one `PREFETCH_SPIKES_AHEAD` later.
        for spike in self.merged.iter().take(2 * PREFETCH_SPIKES_AHEAD) {
            for shard in &self.shards {
                shard.csr.prefetch_row_start(spike.gid);
            }
        }
        for spike in self.merged.iter().take(PREFETCH_SPIKES_AHEAD) {
            for shard in &self.shards {
                shard.csr.prefetch_row(spike.gid);
            }
        }
        for (k, spike) in self.merged.iter().enumerate() {
            if let Some(ahead) = self.merged.get(k + 2 * PREFETCH_SPIKES_AHEAD) {
                for shard in &self.shards {
                    shard.csr.prefetch_row_start(ahead.gid);
                }
            }
            if let Some(ahead) = self.merged.get(k + PREFETCH_SPIKES_AHEAD) {
                for shard in &self.shards {
                    shard.csr.prefetch_row(ahead.gid);
                }
            }
            for shard in &mut self.shards {
                let synapses = if shard.buffer.kind() == InputKind::Precise {
                    shard.csr.for_each_in_row(spike.gid, |target, weight, delay, receptor| {
                        let event = PreciseEvent { target, receptor, offset: spike.offset, weight };
                        shard.buffer.add_precise(spike.step + u64::from(delay), event);
                    })
                } else {
                    shard.csr.add_row_to(spike.gid, spike.step, &mut shard.buffer)
                };
                events += synapses as u64;
                for group in &mut shard.plastic {
                    if spike.gid < group.source_first_gid {
                        continue;
                    }
                    let range = group.row(spike.gid - group.source_first_gid);
                    if range.is_empty() {
                        continue;
                    }
                    events += range.len() as u64;
                    let t_spike = (spike.step + 1) as f64 * self.h - spike.offset;
                    let weights = &mut self.row_weights;
                    weights.clear();
                    weights.resize(range.len(), 0.0);
                    let tx = Transmission {
                        t_spike,
                        source: spike.gid - group.source_first_gid,
                        synapses: range.clone(),
                        targets: &group.target,
                        delays_ms: &group.delay_ms,
                        history: shard.history.as_ref(),
                        learning: group.learning_at(t_spike),
                    };
                    group.dynamics.transmit(&tx, weights);
                    if shard.counts_spikes {
                        weights.fill(1.0);
                    }
                    for (k, j) in range.enumerate() {
                        let step = spike.step + u64::from(group.delay[j]);
                        let (target, receptor) = (group.target[j], group.receptor[j]);
                        if shard.buffer.kind() == InputKind::Precise {
                            let event = PreciseEvent { target, receptor, offset: spike.offset, weight: weights[k] };
                            shard.buffer.add_precise(step, event);
                        } else {
                            shard.buffer.add(step, usize::from(receptor), target as usize, weights[k]);
                        }
                        if group.record_weights {
                            // The synapse's own weight, not what a counting target received.
                            self.pending_weights.push(WeightEvent {
                                projection: group.projection,
                                t_ms: t_spike,
                                source: tx.source,
                                target: group.target_first_index + u64::from(target),
                                weight: group.dynamics.weight(j),
                            });
                        }
                    }
                }
            }
        }
        for value in &self.merged_graded {
            for shard in &mut self.shards {
                shard.graded_csr.for_each_in_row(value.gid, |target, weight, delay, receptor| {
                    shard.buffer.add(
                        value.step + u64::from(delay),
                        usize::from(receptor),
                        target as usize,
                        weight * value.value,
                    );
                });
            }
        }
        self.synaptic_events += events;
    }

    /// Drops spike-history entries no synapse can read again (every 1024 steps).
    fn prune_histories(&mut self, now: Step) {
        if now < self.next_prune {
            return;
        }
        self.next_prune = now + 1024;
        for shard in &mut self.shards {
            if let Some(history) = &mut shard.history {
                let oldest =
                    shard.plastic.iter().map(|g| g.dynamics.oldest_needed(&g.delay_ms)).fold(f64::INFINITY, f64::min);
                history.prune(oldest);
            }
        }
    }
}

/// How many spikes ahead [`Partition::deliver`] prefetches connectivity rows: far enough for the
/// loads to arrive, near enough that they are still cached when used.
const PREFETCH_SPIKES_AHEAD: usize = 6;

/// Gives a stimulus sink mutable access to the shards' buffers.
pub(crate) struct ShardBuffers<'a>(&'a mut [Shard]);

impl std::fmt::Debug for ShardBuffers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShardBuffers")
    }
}

impl ShardBuffers<'_> {
    #[inline]
    pub(crate) fn buffer(&mut self, shard: usize) -> &mut InputBuffer {
        &mut self.0[shard].buffer
    }
}

/// A built network, ready to run.
pub struct Simulation {
    pub(crate) resolution: Resolution,
    pub(crate) seed: u64,
    pub(crate) populations: Vec<PopulationMeta>,
    pub(crate) partitions: Vec<Partition>,
    pub(crate) min_delay: Step,
    pub(crate) recordings: Vec<RecordingSpec>,
    pub(crate) projection_names: Vec<String>,
    /// The devices' names, in device order.
    pub(crate) device_names: Vec<String>,
    /// The processes of the run (one, unless built with [`crate::NetworkBuilder::build_on`]).
    pub(crate) ranks: Arc<dyn Ranks>,
    pub(crate) exchange: ExchangeStats,
    pub(crate) build_times: BuildTimes,
    /// Synapses built per projection (file order).
    pub(crate) projection_synapses: Vec<u64>,
    pub(crate) now: Step,
    pub(crate) started: bool,
    pub(crate) spike_counts: Vec<u64>,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation").field("populations", &self.populations).field("now", &self.now).finish()
    }
}

impl Simulation {
    pub(crate) fn new(
        resolution: Resolution,
        seed: u64,
        populations: Vec<PopulationMeta>,
        partitions: Vec<Partition>,
        min_delay: Step,
        recordings: Vec<RecordingSpec>,
        projection_names: Vec<String>,
        device_names: Vec<String>,
        ranks: Arc<dyn Ranks>,
    ) -> Self {
        let n = populations.len();
        Self {
            resolution,
            seed,
            populations,
            partitions,
            min_delay,
            recordings,
            projection_synapses: vec![0; 0],
            projection_names,
            device_names,
            ranks,
            exchange: ExchangeStats::default(),
            build_times: BuildTimes::default(),
            now: 0,
            started: false,
            spike_counts: vec![0; n],
        }
    }

    pub fn resolution(&self) -> Resolution {
        self.resolution
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn populations(&self) -> &[PopulationMeta] {
        &self.populations
    }

    pub fn recordings(&self) -> &[RecordingSpec] {
        &self.recordings
    }

    pub fn projection_names(&self) -> &[String] {
        &self.projection_names
    }

    /// The number of synapses each projection built (in projection order).
    pub fn projection_synapses(&self) -> &[u64] {
        &self.projection_synapses
    }

    /// Threads of this process.
    pub fn threads(&self) -> usize {
        self.partitions.len()
    }

    /// The processes of the run.
    pub fn ranks(&self) -> &dyn Ranks {
        &*self.ranks
    }

    /// Where the build's time went.
    pub fn build_times(&self) -> BuildTimes {
        self.build_times
    }

    /// Turns the per-phase timing on or off (a few clock reads per step and interval).
    pub fn set_profiling(&mut self, on: bool) {
        for p in &mut self.partitions {
            p.profiling = on;
        }
    }

    /// Where the run's time went so far, summed over this process's threads (zero unless
    /// profiling was on).
    pub fn phase_times(&self) -> PhaseTimes {
        let mut total = PhaseTimes::default();
        for p in &self.partitions {
            total.add(&p.phases);
        }
        total
    }

    /// What exchanging with the other ranks has cost this rank so far (zero for one process).
    pub fn exchange_stats(&self) -> ExchangeStats {
        self.exchange
    }

    /// The exchange interval (minimum delay) in steps.
    pub fn min_delay(&self) -> Step {
        self.min_delay
    }

    /// The weights of a projection's plastic synapses as `(source, target, weight)` (indices
    /// within the populations), ordered by source then stored order; empty for static projections.
    pub fn synapse_weights(&self, projection: usize) -> Vec<(u64, u64, f64)> {
        let mut out = Vec::new();
        for p in &self.partitions {
            for shard in &p.shards {
                for g in shard.plastic.iter().filter(|g| g.projection == projection) {
                    for source in 0..g.row_start.len().saturating_sub(1) {
                        for j in g.row(source as u64) {
                            let target = g.target_first_index + u64::from(g.target[j]);
                            out.push((source as u64, target, g.dynamics.weight(j)));
                        }
                    }
                }
            }
        }
        out.sort_by_key(|&(s, t, _)| (s, t));
        out
    }

    /// The current step (time `now·h`).
    pub fn now(&self) -> Step {
        self.now
    }

    /// Spikes emitted so far, per population.
    pub fn spike_counts(&self) -> &[u64] {
        &self.spike_counts
    }

    /// Synaptic events delivered so far (one per synapse a spike traversed).
    pub fn synaptic_events(&self) -> u64 {
        self.partitions.iter().map(|p| p.synaptic_events).sum()
    }

    /// Synaptic events delivered so far on every rank (collective in a run over several ranks:
    /// every rank must call it, at the same point).
    pub fn synaptic_events_all_ranks(&self) -> u64 {
        let local = self.synaptic_events();
        if self.ranks.size() == 1 {
            return local;
        }
        self.ranks
            .all_gather(&local.to_le_bytes())
            .iter()
            .map(|m| m.get(..8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes))
            .sum()
    }

    /// Synapses stored, and bytes of connectivity and buffers.
    pub fn memory(&self) -> (usize, usize) {
        let mut synapses = 0;
        let mut bytes = 0;
        for p in &self.partitions {
            for s in &p.shards {
                synapses += s.csr.synapses() + s.graded_csr.synapses();
                bytes += s.csr.bytes() + s.graded_csr.bytes() + s.buffer.bytes();
                for g in &s.plastic {
                    synapses += g.synapses();
                    bytes += g.bytes();
                }
                bytes += s.history.as_ref().map_or(0, |h| h.len() * std::mem::size_of::<crate::synapse::PostSpike>());
            }
        }
        (synapses, bytes)
    }

    fn population_of_gid(&self, gid: u64) -> usize {
        self.populations.partition_point(|p| p.first_gid <= gid) - 1
    }

    /// Runs until step `until` or until `stop` is set (checked once per exchange interval; the
    /// run then ends at that interval's step boundary with every buffer consistent). A failing
    /// observer also ends the run at the next boundary and is reported as an error.
    pub fn run(&mut self, until: Step, observer: &mut dyn Observer, stop: &AtomicBool) -> Result<RunReport, RunError> {
        let started_at = Instant::now();
        if !self.started {
            let now = self.now;
            for p in &mut self.partitions {
                p.start(now);
            }
            self.started = true;
        }
        if until <= self.now {
            return Ok(RunReport { now: self.now, interrupted: false, wall: started_at.elapsed() });
        }
        let threads = self.partitions.len();
        let outputs: Vec<[RwLock<IntervalOutput>; 2]> =
            (0..threads).map(|_| [RwLock::default(), RwLock::default()]).collect();
        let barrier = SpinBarrier::new(threads);
        let remote = RwLock::new(RemoteOutputs::default());
        let ctx = RunContext {
            start: self.now,
            until,
            min_delay: self.min_delay,
            recordings: &self.recordings,
            outputs: &outputs,
            barrier: &barrier,
            stop,
            ranks: &*self.ranks,
            remote: &remote,
        };
        let populations = &self.populations;
        let h = self.resolution.h();
        let mut spike_counts = vec![0u64; populations.len()];
        let mut failure: Option<RunError> = None;
        let mut records: Vec<SpikeRecord> = Vec::new();
        let mut frame: Vec<f64> = Vec::new();
        let mut weights: Vec<WeightEvent> = Vec::new();
        let mut observe = |reached: Step, merged: &[Spike], parts: &[&IntervalOutput]| -> bool {
            records.clear();
            records.extend(merged.iter().map(|s| {
                let population = populations.partition_point(|p| p.first_gid <= s.gid) - 1;
                spike_counts[population] += 1;
                SpikeRecord {
                    population,
                    node: s.gid - populations[population].first_gid,
                    time_ms: (s.step + 1) as f64 * h - s.offset,
                }
            }));
            if failure.is_some() {
                return false;
            }
            let mut result = observer.spikes(&records).map_err(|m| (merged.first().map(|s| s.step), m));
            if result.is_ok() {
                weights.clear();
                for part in parts {
                    weights.extend_from_slice(&part.weights);
                }
                if !weights.is_empty() {
                    sort_weight_events(&mut weights);
                    result = observer.weights(&weights).map_err(|m| (merged.first().map(|s| s.step), m));
                }
            }
            if result.is_ok() {
                'recordings: for ri in 0..ctx.recordings.len() {
                    for (j, &step) in parts[0].samples[ri].steps.iter().enumerate() {
                        frame.clear();
                        for part in parts {
                            frame.extend_from_slice(part.samples[ri].at(j));
                        }
                        if let Err(m) = observer.frame(ri, step, &frame) {
                            result = Err((Some(step), m));
                            break 'recordings;
                        }
                    }
                }
            }
            // The interval is recorded whole, the failing step included; then the run ends.
            let failed = parts.iter().filter_map(|p| p.failure.as_ref()).min_by_key(|f| (f.step, f.gid));
            if let (Ok(()), Some(f)) = (&result, failed) {
                let population = populations.partition_point(|p| p.first_gid <= f.gid) - 1;
                let meta = &populations[population];
                failure = Some(RunError::Model {
                    population: meta.name.clone(),
                    model: meta.model.clone(),
                    neuron: f.gid - meta.first_gid,
                    time_ms: (f.step + 1) as f64 * h,
                    message: f.message.clone(),
                });
                observer.progress(reached);
                return false;
            }
            match result {
                Ok(()) => {
                    observer.progress(reached);
                    true
                }
                Err((step, message)) => {
                    failure = Some(RunError::Observer { time_ms: step.unwrap_or(0) as f64 * h, message });
                    false
                }
            }
        };
        let (first, rest) = self.partitions.split_at_mut(1);
        let end = std::thread::scope(|s| {
            for partition in rest.iter_mut() {
                let ctx = &ctx;
                s.spawn(move || run_partition(partition, ctx, None));
            }
            run_partition(&mut first[0], &ctx, Some(&mut observe))
        });
        {
            let stats = remote.into_inner().map(|r| r.stats).unwrap_or_default();
            self.exchange.intervals += stats.intervals;
            self.exchange.bytes_sent += stats.bytes_sent;
            self.exchange.bytes_received += stats.bytes_received;
            self.exchange.seconds += stats.seconds;
        }
        for (total, new) in self.spike_counts.iter_mut().zip(&spike_counts) {
            *total += new;
        }
        // The last interval's weight events have no next interval to travel with.
        let mut last_weights: Vec<WeightEvent> =
            self.partitions.iter_mut().flat_map(|p| std::mem::take(&mut p.pending_weights)).collect();
        if self.ranks.size() > 1 {
            // Every rank's, for the observer (collective: every rank gets here at the same step).
            let mut all = Vec::new();
            for message in self.ranks.all_gather(&crate::exchange::encode_weights(&last_weights)) {
                let mut outputs = Vec::new();
                crate::exchange::decode(&message, &mut outputs);
                all.extend(outputs.into_iter().flat_map(|o| o.weights));
            }
            last_weights = all;
        }
        if !last_weights.is_empty() && failure.is_none() {
            sort_weight_events(&mut last_weights);
            if let Err(message) = observer.weights(&last_weights) {
                failure = Some(RunError::Observer { time_ms: end as f64 * h, message });
            }
        }
        self.now = end;
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(RunReport { now: end, interrupted: end < until, wall: started_at.elapsed() })
    }

    /// The population a gid belongs to.
    pub fn population_of(&self, gid: u64) -> usize {
        self.population_of_gid(gid)
    }
}

/// Thread 0's part of the exchange between ranks: sends this rank's outputs of `parity` and its
/// stop vote, stores the other ranks' outputs in `ctx.remote`; returns whether any rank votes to
/// stop.
fn exchange_with_ranks(ctx: &RunContext<'_>, parity: usize, halt: bool) -> bool {
    let started = Instant::now();
    let mut remote = ctx.remote.write().expect("remote outputs poisoned");
    let RemoteOutputs { before, after, message, stats } = &mut *remote;
    {
        let guards: Vec<_> = ctx.outputs.iter().map(|o| o[parity].read().expect("interval output poisoned")).collect();
        let local: Vec<&IntervalOutput> = guards.iter().map(|g| &**g).collect();
        crate::exchange::encode(halt, &local, message);
    }
    before.clear();
    after.clear();
    let me = ctx.ranks.rank();
    let mut any = false;
    stats.intervals += 1;
    stats.bytes_sent += message.len() as u64;
    for (rank, bytes) in ctx.ranks.all_gather(message).iter().enumerate() {
        let target = if rank < me { &mut *before } else { &mut *after };
        if rank == me {
            any |= halt;
            continue;
        }
        stats.bytes_received += bytes.len() as u64;
        any |= crate::exchange::decode(bytes, target);
    }
    stats.seconds += started.elapsed().as_secs_f64();
    any
}

/// Orders weight events canonically: by time, projection, source and target; a stable sort keeps
/// multapses of one pair in their stored order (they are delivered by one thread).
fn sort_weight_events(events: &mut [WeightEvent]) {
    events.sort_by(|a, b| {
        a.t_ms
            .total_cmp(&b.t_ms)
            .then(a.projection.cmp(&b.projection))
            .then(a.source.cmp(&b.source))
            .then(a.target.cmp(&b.target))
    });
}

/// Shared, read-only state of one `run` call.
struct RunContext<'a> {
    start: Step,
    until: Step,
    min_delay: Step,
    recordings: &'a [RecordingSpec],
    outputs: &'a [[RwLock<IntervalOutput>; 2]],
    barrier: &'a SpinBarrier,
    stop: &'a AtomicBool,
    ranks: &'a dyn Ranks,
    /// The other ranks' outputs of the interval (written by thread 0 between two barriers).
    remote: &'a RwLock<RemoteOutputs>,
}

/// Called on thread 0 after each exchange with the merged spikes and every thread's output of
/// the interval; returns false when the run must stop (the observer failed).
type IntervalHook<'h> = &'h mut dyn FnMut(Step, &[Spike], &[&IntervalOutput]) -> bool;

/// One thread's loop over exchange intervals; returns the step reached. All threads walk the
/// same intervals and leave together: the barrier's vote carries thread 0's decision to stop.
fn run_partition(partition: &mut Partition, ctx: &RunContext<'_>, mut hook: Option<IntervalHook<'_>>) -> Step {
    let mut from = ctx.start;
    let mut parity = 0usize;
    let mut hook_failed = false;
    loop {
        // Intervals end on the grid of multiples of the minimum delay, wherever the run starts,
        // so that a run resumed from any step walks the intervals an uninterrupted run walks:
        // where a device's input and a synaptic input meet in one cell, the order in which they
        // are summed depends on which side of a delivery the device fired.
        let to = (from / ctx.min_delay + 1).saturating_mul(ctx.min_delay).min(ctx.until);
        let model_failed = {
            let mut out = ctx.outputs[partition.thread][parity].write().expect("interval output poisoned");
            partition.compute(from, to, ctx.recordings, &mut out);
            out.failure.is_some()
        };
        // Any thread's model failure stops every thread after this interval; thread 0 (the one
        // with the hook) also votes for a stop request or a failed observer.
        let vote = model_failed || (hook.is_some() && (hook_failed || ctx.stop.load(Ordering::Relaxed)));
        let mut lap = Lap::start(partition.profiling);
        let mut phases = PhaseTimes::default();
        let mut halt = ctx.barrier.wait(partition.thread, vote);
        if ctx.ranks.size() > 1 {
            // Thread 0 exchanges this rank's outputs with the other ranks' (every thread's
            // output of this parity is complete: all have passed the barrier), then a second
            // barrier hands every thread the others' outputs and the global stop vote.
            let mut global_halt = false;
            if partition.thread == 0 {
                global_halt = exchange_with_ranks(ctx, parity, halt);
            }
            halt = ctx.barrier.wait(partition.thread, global_halt);
        }
        lap.lap(&mut phases.barrier);
        partition.merged.clear();
        partition.merged_graded.clear();
        // Read-locked once per interval and held until the observer has seen them: each lock
        // operation moves a cache line between cores, at every step when the delay is one step.
        // (A thread rewrites this parity's output only after the next barrier, which no thread
        // reaches before dropping these guards.)
        let guards: Vec<_> = ctx.outputs.iter().map(|o| o[parity].read().expect("interval output poisoned")).collect();
        // Only a multi-rank run has remote outputs (and pays for the lock).
        let remote = (ctx.ranks.size() > 1).then(|| ctx.remote.read().expect("remote outputs poisoned"));
        let (before, after): (&[IntervalOutput], &[IntervalOutput]) =
            remote.as_ref().map_or((&[], &[]), |r| (&r.before, &r.after));
        let parts: Vec<&IntervalOutput> =
            before.iter().chain(guards.iter().map(|g| &**g)).chain(after.iter()).collect();
        for out in &parts {
            partition.merged.extend_from_slice(&out.spikes);
            partition.merged_graded.extend_from_slice(&out.graded);
        }
        // Stable sorts: the events of one gid in one step keep their emission order.
        partition.merged.sort_by_key(|s| (s.step, s.gid));
        partition.merged_graded.sort_by_key(|g| (g.step, g.gid));
        // Events held from a cut interval come first (they are of earlier steps).
        let held = partition.held.len();
        if held > 0 || !partition.held_graded.is_empty() {
            partition.held.append(&mut partition.merged);
            std::mem::swap(&mut partition.held, &mut partition.merged);
            partition.held_graded.append(&mut partition.merged_graded);
            std::mem::swap(&mut partition.held_graded, &mut partition.merged_graded);
        }
        lap.lap(&mut phases.merge);
        let on_grid = to.is_multiple_of(ctx.min_delay);
        if on_grid {
            partition.deliver();
            partition.prune_histories(to);
        }
        lap.lap(&mut phases.deliver);
        if let Some(hook) = hook.as_mut()
            && !hook(to, &partition.merged[held..], &parts)
        {
            hook_failed = true;
        }
        if !on_grid {
            // Their targets' steps are at least a minimum delay later, at or past the next grid
            // point, where they are delivered.
            std::mem::swap(&mut partition.held, &mut partition.merged);
            std::mem::swap(&mut partition.held_graded, &mut partition.merged_graded);
        }
        drop(parts);
        drop(remote);
        drop(guards);
        lap.lap(&mut phases.record);
        partition.phases.add(&phases);
        from = to;
        parity ^= 1;
        if halt || from >= ctx.until {
            return from;
        }
    }
}
