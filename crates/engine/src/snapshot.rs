//! Taking a [`Simulation`]'s state for a checkpoint and putting it back (see [`crate::checkpoint`]).
//!
//! The engine walks its components in a fixed order (partitions in thread order, each one's
//! shards, plastic groups and devices), sets the [`StateIo`] scope for each (the population,
//! projection or device, and for a plastic group the canonical order of its synapses), and lets
//! the component name its own state. The engine itself saves what it owns: the ring buffers, the
//! spike histories, the devices' next due steps and the counters.

use crate::buffer::PendingInput;
use std::collections::BTreeMap;

use crate::checkpoint::{CheckpointError, CheckpointHeader, StateColumns, StateError, StateIo, codec};
use crate::sim::{Partition, Simulation};
use crate::time::Step;

impl Simulation {
    /// The header of a checkpoint of this simulation at its current step: the caller says which
    /// laminar, model (name and a hash of its text and overrides) and attachments it belongs to.
    pub fn checkpoint_header(
        &self,
        laminar_version: &str,
        model_name: &str,
        model_hash: &str,
        attachments: std::collections::BTreeMap<String, String>,
    ) -> CheckpointHeader {
        CheckpointHeader {
            laminar_version: laminar_version.to_string(),
            model_hash: model_hash.to_string(),
            model_name: model_name.to_string(),
            seed: self.seed,
            h_ms: self.resolution.h(),
            step: self.now,
            populations: self.populations.iter().map(|p| (p.name.clone(), p.model.clone(), p.size as u64)).collect(),
            projections: self.projection_names.iter().cloned().zip(self.projection_synapses.iter().copied()).collect(),
            threads: self.partitions.len(),
            attachments,
        }
    }

    /// The state of every component at the current step, between two [`Simulation::run`] calls.
    /// Takes `&mut self` because components save and load through one visitor; nothing changes.
    pub fn save_state(&mut self) -> Result<StateColumns, CheckpointError> {
        if !self.started {
            // What `run` would do first: event-driven models schedule their initial events.
            let now = self.now;
            for p in &mut self.partitions {
                p.start(now);
            }
            self.started = true;
        }
        // Collective in a run over several ranks, as everything below.
        let events = self.synaptic_events_all_ranks();
        let mut io = StateIo::saver(self.now);
        let local = self.visit(&mut io, events).map(|()| io.into_columns());
        if self.ranks.size() == 1 {
            return local;
        }
        // Every rank's columns to every rank (a failed rank sends nothing, so all fail together),
        // joined into the state one process would have saved.
        let message = match &local {
            Ok(columns) => codec::encode(columns).map_err(|e| CheckpointError::State(StateError(e)))?,
            Err(_) => Vec::new(),
        };
        let all = self.ranks.all_gather(&message);
        let local = local?;
        if let Some(rank) = all.iter().position(Vec::is_empty) {
            return Err(CheckpointError::Mismatch(format!("rank {rank} could not save its state")));
        }
        let mut parts = Vec::with_capacity(all.len());
        for (rank, bytes) in all.iter().enumerate() {
            parts.push(if rank == self.ranks.rank() {
                local.clone()
            } else {
                codec::decode(bytes).map_err(|e| StateError(format!("rank {rank}'s state: {e}")))?
            });
        }
        Ok(StateColumns::merge(parts)?)
    }

    /// Puts back the state saved at step `step` into this freshly built simulation (built from
    /// the same model file and seed, with any thread count and, in a run over several ranks, any
    /// rank count: every rank passes the whole state and takes its own share); the next
    /// [`Simulation::run`] continues from `step` exactly as the saved run did.
    pub fn restore_state(&mut self, step: Step, state: StateColumns) -> Result<(), CheckpointError> {
        if self.started || self.now != 0 {
            return Err(CheckpointError::Mismatch("internal: state can only be restored into a new simulation".into()));
        }
        self.now = step;
        let mut io = StateIo::loader(step, state);
        if self.ranks.size() > 1 {
            self.take_share(&mut io)?;
        }
        self.visit(&mut io, 0)?;
        io.finish_loading()?;
        self.started = true;
        Ok(())
    }

    /// A rank's share of every ordered column: a counting visit says how many items this rank's
    /// components take, the ranks exchange their counts, and the items of the ranks before this
    /// one are skipped. The shares must add up to the columns.
    fn take_share(&mut self, io: &mut StateIo) -> Result<(), CheckpointError> {
        let mut counter = StateIo::counter(self.now);
        self.visit(&mut counter, 0)?;
        let mine = counter.into_counts();
        let message = codec::encode(&mine).map_err(|e| CheckpointError::State(StateError(e)))?;
        let mut skip: BTreeMap<String, u64> = BTreeMap::new();
        let mut total: BTreeMap<String, u64> = BTreeMap::new();
        for (rank, bytes) in self.ranks.all_gather(&message).iter().enumerate() {
            let counts: BTreeMap<String, u64> =
                codec::decode(bytes).map_err(|e| StateError(format!("rank {rank}'s counts: {e}")))?;
            for (name, n) in counts {
                if rank < self.ranks.rank() {
                    *skip.entry(name.clone()).or_default() += n;
                }
                *total.entry(name).or_default() += n;
            }
        }
        io.check_totals(&total)?;
        io.set_share(&skip, mine);
        Ok(())
    }

    /// Saves or loads everything, in canonical order (see [`StateIo`]). `events` is the
    /// synaptic events of every rank (when saving).
    fn visit(&mut self, io: &mut StateIo, mut events: u64) -> Result<(), CheckpointError> {
        io.enter_global();
        let mut now = self.now;
        io.shared("step", &mut now)?;
        if now != self.now {
            return Err(CheckpointError::Mismatch(format!(
                "its state is of step {now}, its header says step {}",
                self.now
            )));
        }
        io.shared("spike_counts", &mut self.spike_counts)?;
        io.shared("synaptic_events", &mut events)?;
        let mut next_prune = self.partitions.first().map_or(0, |p| p.next_prune);
        io.shared("next_prune", &mut next_prune)?;
        // The events of a cut interval, not yet delivered (the same on every partition and rank).
        let mut held = self.partitions.first().map_or_else(Vec::new, |p| p.held.clone());
        io.shared("held_spikes", &mut held)?;
        let mut held_graded = self.partitions.first().map_or_else(Vec::new, |p| p.held_graded.clone());
        io.shared("held_graded", &mut held_graded)?;
        if io.loading() {
            // The count goes to one partition of one rank (the counters are summed).
            let first = self.ranks.rank() == 0;
            for (t, p) in self.partitions.iter_mut().enumerate() {
                p.synaptic_events = if first && t == 0 { events } else { 0 };
                p.next_prune = next_prune;
                p.held.clone_from(&held);
                p.held_graded.clone_from(&held_graded);
            }
        }
        let (populations, projections, devices) = (&self.populations, &self.projection_names, &self.device_names);
        for partition in &mut self.partitions {
            visit_partition(partition, io, populations, projections, devices)?;
        }
        Ok(())
    }
}

/// Names a component's failure: `population E (iaf_psc_exp): …`.
fn context(what: String) -> impl FnOnce(StateError) -> StateError {
    move |e| StateError(format!("{what}: {}", e.0))
}

fn visit_partition(
    p: &mut Partition,
    io: &mut StateIo,
    populations: &[crate::sim::PopulationMeta],
    projections: &[String],
    devices: &[String],
) -> Result<(), StateError> {
    let now = io.now();
    for shard in &mut p.shards {
        let pi = populations.partition_point(|m| m.first_gid <= shard.first_gid) - 1;
        let meta = &populations[pi];
        let n = shard.model.len();
        let scope = format!("population {}", meta.name);
        io.enter_shard(scope.clone(), n);
        let what = format!("population {} ({})", meta.name, meta.model);
        shard.model.state(io, &mut shard.queue).map_err(context(what.clone()))?;
        let mut pending: Vec<PendingInput> =
            if io.saving() { shard.buffer.pending(now) } else { vec![PendingInput::default(); n] };
        io.neurons("pending_input", &mut pending).map_err(context(what.clone()))?;
        if io.loading() {
            shard.buffer.restore(now, &pending).map_err(|m| StateError(format!("{what}: pending input: {m}")))?;
        }
        if let Some(history) = &mut shard.history {
            history.state(io).map_err(context(what.clone()))?;
        }
        for group in &mut shard.plastic {
            let name = projections.get(group.projection).cloned().unwrap_or_default();
            io.enter_group(format!("projection {name}"), n, group.canonical_order());
            group
                .dynamics
                .state(io)
                .map_err(context(format!("projection {name} (its synapse model, onto {})", meta.name)))?;
        }
    }
    let mut dues: Vec<Option<Step>> = Vec::new();
    let pending_channels = if io.saving() { p.stimulus_queue.pending(now) } else { Vec::new() };
    for (si, stim) in p.stimuli.iter_mut().enumerate() {
        let name = devices.get(si).cloned().unwrap_or_default();
        io.enter_channels(format!("device {name}"), p.stimulus_gids[si].clone());
        stim.state(io).map_err(context(format!("device {name}")))?;
        if stim.every_step().is_some() {
            // Fired by window, outside the calendar (see `Partition::start`).
            continue;
        }
        let (first, channels) = (p.stimulus_offsets[si], stim.channels() as u32);
        dues.clear();
        dues.resize(channels as usize, None);
        if io.saving() {
            let lo = pending_channels.partition_point(|&(k, _)| k < first);
            for &(key, due) in pending_channels[lo..].iter().take_while(|&&(k, _)| k < first + channels) {
                dues[(key - first) as usize] = Some(due);
            }
        }
        io.channels("next_due", &mut dues).map_err(context(format!("device {name}")))?;
        if io.loading() {
            for (c, due) in dues.iter().enumerate() {
                if let Some(due) = *due {
                    p.stimulus_queue.schedule(first + c as u32, due.max(now), now);
                }
            }
        }
    }
    if io.loading() {
        p.collect_every_step();
    }
    Ok(())
}
