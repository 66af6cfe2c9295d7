//! Per-target input ring buffers: the calendar queue of synaptic events.
//!
//! A spike that reaches neuron `i` on receptor `r` in step `k` is added to
//! `values[slot(k)][r][i]` where `slot(k) = k mod S` and `S` (a power of two) is the fewest
//! slots that never reuse a slot before it has been read: `S ≥ max(D, D_dev + 1)` for the longest
//! synaptic delay `D` and device delay `D_dev` (steps). After an exchange interval `[t, t + I)`,
//! its spikes are delivered into steps `t + I ..= t + I − 1 + D` while the first unread step is
//! `t + I`: `D` steps. While step `s` is computed, the unread steps run from `s` to at most
//! `s − 1 + D` (delivered earlier) or `s + D_dev` (devices fire before the step's update). With
//! one-step delays and no devices (CUBA) that is a single slot: a clock-driven model streams
//! through every slot in turn, so each extra slot is cache its sweep evicts.
//! Adding is O(1) per synaptic event, and weights arriving in the same step on the same receptor
//! are summed, exactly as in NEST's ring buffers.
//!
//! Besides the spike receptors, every buffer has one *current channel* (the last channel), which
//! holds **changes** of injected current that take effect in that step (devices such as
//! `dc_generator` write a change at onset and offset only, so an event-driven neuron is touched
//! twice rather than every step).
//!
//! Buffers of event-driven populations also keep, per slot, the list of neurons that received
//! anything (`touched`), so that a step costs time proportional to its events, not to the
//! population size. Buffers of clock-driven populations that sweep all their neurons every step
//! (`Drained`) hand the model the slot's spike input to read and zero in that same sweep, so the
//! slot costs one pass over memory instead of a read pass and a clearing pass. Buffers of
//! precise-timing populations keep the individual events with their offsets instead of sums,
//! because such models integrate between events inside the step.

use serde::{Deserialize, Serialize};

use crate::time::Step;

/// What one neuron's buffer holds for the steps not yet computed, as a checkpoint saves it:
/// steps are relative to the checkpoint's step, so a restored buffer may have another slot count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PendingInput {
    /// `(step ahead, channel, value)` for every value that is not +0.0.
    values: Vec<(u32, u8, f64)>,
    /// Steps ahead in which the neuron is marked touched (event-driven buffers): a touch with
    /// inputs summing to zero still makes the model visit the neuron, so it is kept as such.
    touched: Vec<u32>,
    /// `(step ahead, event)` of precise buffers, in arrival order.
    precise: Vec<(u32, PreciseEvent)>,
}

/// One input event of a precise-timing population: arrives in the slot's step at time
/// `(k+1)·h − offset` (NEST's offset convention), on `receptor` of neuron `target`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PreciseEvent {
    pub target: u32,
    pub receptor: u8,
    pub offset: f64,
    pub weight: f64,
}

/// What a population wants its buffer to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Summed weights per (step, receptor, neuron); every neuron is read every step.
    Summed,
    /// Summed weights plus the list of neurons touched in each step (event-driven models).
    SummedTouched,
    /// Summed weights that the model itself reads and sets to zero for every neuron in its
    /// per-step sweep ([`StepInput::drain_receptors`]); the engine clears only the current
    /// channel. For clock-driven models whose sweep streams all their state anyway: the slot is
    /// read and cleared in that pass, and delivery keeps no list of touched neurons.
    Drained,
    /// Individual events with offsets (precise-timing models); currents are summed.
    Precise,
}

/// The ring buffer of one population shard (the neurons of one population owned by one thread).
#[derive(Debug)]
pub struct InputBuffer {
    n: usize,
    channels: usize,
    mask: usize,
    kind: InputKind,
    /// `[slot][channel][neuron]`
    values: Vec<f64>,
    /// `[slot][neuron / 64]`: bit `neuron % 64` says whether `neuron` is already in
    /// `touched[slot]`. Bits, not bytes: every synaptic event tests one, and a bitmap of a slot
    /// (n/8 bytes) stays in the first-level cache where a byte per neuron would not.
    touched_flag: Vec<u64>,
    /// Words of `touched_flag` per slot.
    flag_words: usize,
    touched: Vec<Vec<u32>>,
    /// `[slot]`: whether anything was written to the current channel (most networks have no
    /// current devices; event-driven models then neither read nor clear that channel).
    current_written: Vec<bool>,
    precise: Vec<Vec<PreciseEvent>>,
}

impl InputBuffer {
    /// A buffer for `n` neurons with `receptors` spike receptors (plus the current channel) and at
    /// least `min_slots` slots.
    pub fn new(n: usize, receptors: usize, min_slots: usize, kind: InputKind) -> Self {
        let slots = min_slots.max(1).next_power_of_two();
        let channels = receptors + 1;
        let flag_words = n.div_ceil(64);
        let touched_len = if kind == InputKind::SummedTouched { slots * flag_words } else { 0 };
        Self {
            n,
            channels,
            mask: slots - 1,
            kind,
            values: vec![0.0; slots * channels * n],
            touched_flag: vec![0; touched_len],
            flag_words,
            touched: vec![Vec::new(); if kind == InputKind::SummedTouched { slots } else { 0 }],
            current_written: vec![false; slots],
            precise: vec![Vec::new(); if kind == InputKind::Precise { slots } else { 0 }],
        }
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn kind(&self) -> InputKind {
        self.kind
    }

    /// The index of the current channel.
    pub fn current_channel(&self) -> usize {
        self.channels - 1
    }

    #[inline]
    fn slot(&self, step: Step) -> usize {
        (step as usize) & self.mask
    }

    #[inline]
    fn mark(&mut self, slot: usize, target: usize) {
        if self.kind == InputKind::SummedTouched && set_flag(&mut self.touched_flag[slot * self.flag_words..], target) {
            self.touched[slot].push(target as u32);
        }
    }

    /// Adds `value` to `channel` of neuron `target` in step `step`.
    #[inline]
    pub fn add(&mut self, step: Step, channel: usize, target: usize, value: f64) {
        let slot = self.slot(step);
        self.values[(slot * self.channels + channel) * self.n + target] += value;
        if channel == self.channels - 1 {
            self.current_written[slot] = true;
        }
        self.mark(slot, target);
    }

    /// Adds one CSR row: weight `weights[j]` to channel `receptors[j]` of neuron `targets[j]` in
    /// step `step + delays[j]`, in row order (so each cell sums in the same order as `add` one
    /// by one). The hot path of spike delivery: the buffer kind is looked at once per row.
    #[inline]
    pub fn add_row<W: Copy + Into<f64>>(
        &mut self,
        step: Step,
        targets: &[u32],
        weights: &[W],
        delays: &[u16],
        receptors: &[u8],
    ) {
        let (n, channels, mask) = (self.n, self.channels, self.mask);
        let rows = targets.iter().zip(weights).zip(delays).zip(receptors);
        if self.kind == InputKind::SummedTouched {
            for (((&target, &weight), &delay), &receptor) in rows {
                let slot = (step as usize + usize::from(delay)) & mask;
                let (target, channel) = (target as usize, usize::from(receptor));
                self.values[(slot * channels + channel) * n + target] += weight.into();
                if channel == channels - 1 {
                    self.current_written[slot] = true;
                }
                if set_flag(&mut self.touched_flag[slot * self.flag_words..], target) {
                    self.touched[slot].push(target as u32);
                }
            }
        } else if self.kind == InputKind::Precise {
            for (((&target, &weight), &delay), &receptor) in rows {
                self.add(step + u64::from(delay), usize::from(receptor), target as usize, weight.into());
            }
        } else {
            for (((&target, &weight), &delay), &receptor) in rows {
                let slot = (step as usize + usize::from(delay)) & mask;
                let channel = usize::from(receptor);
                self.values[(slot * channels + channel) * n + target as usize] += weight.into();
                if channel == channels - 1 {
                    self.current_written[slot] = true;
                }
            }
        }
    }

    /// Adds `weight` to channel `channel` of each neuron of `targets` in step `step`, in order: a
    /// CSR row whose synapses share their weight, delay and receptor (as [`InputBuffer::add_row`]
    /// would add it synapse by synapse).
    #[inline]
    pub fn add_shared_row(&mut self, step: Step, channel: usize, targets: &[u32], weight: f64) {
        self.add_to_slot(step, channel, targets.iter().map(|&target| (target, weight)));
    }

    /// Adds `weights[j]` to channel `channel` of neuron `targets[j]` in step `step`, in order: a
    /// run of a CSR row whose synapses share their delay and receptor (as
    /// [`InputBuffer::add_row`] would add it synapse by synapse).
    #[inline]
    pub fn add_run<W: Copy + Into<f64>>(&mut self, step: Step, channel: usize, targets: &[u32], weights: &[W]) {
        self.add_to_slot(step, channel, targets.iter().zip(weights).map(|(&target, &weight)| (target, weight.into())));
    }

    /// Adds each `(neuron, weight)` of `inputs`, in order, to channel `channel` of step `step`:
    /// one slot and channel for all of them, so the kind is looked at once and the adds run in a
    /// tight loop.
    #[inline(always)]
    fn add_to_slot(&mut self, step: Step, channel: usize, inputs: impl Iterator<Item = (u32, f64)>) {
        let (n, slot) = (self.n, self.slot(step));
        if channel == self.channels - 1 {
            self.current_written[slot] = true;
        }
        let cells = &mut self.values[(slot * self.channels + channel) * n..][..n];
        match self.kind {
            InputKind::SummedTouched => {
                let flags = &mut self.touched_flag[slot * self.flag_words..][..self.flag_words];
                for (target, weight) in inputs {
                    cells[target as usize] += weight;
                    if set_flag(flags, target as usize) {
                        self.touched[slot].push(target);
                    }
                }
            }
            InputKind::Summed | InputKind::Drained => {
                for (target, weight) in inputs {
                    cells[target as usize] += weight;
                }
            }
            InputKind::Precise => {
                for (target, weight) in inputs {
                    self.add(step, channel, target as usize, weight);
                }
            }
        }
    }

    /// Adds a precise event (for [`InputKind::Precise`] buffers; summed buffers add the weight).
    #[inline]
    pub fn add_precise(&mut self, step: Step, event: PreciseEvent) {
        if self.kind == InputKind::Precise {
            let slot = self.slot(step);
            self.precise[slot].push(event);
        } else {
            self.add(step, usize::from(event.receptor), event.target as usize, event.weight);
        }
    }

    /// Adds `weight · count` to receptor `receptor` of neuron `local`, in step `step`, for each
    /// `(local, count)` with a count above zero, in order: what [`InputBuffer::add_precise`] does
    /// one event at a time, with the buffer's kind and the slot looked at once (a dense Poisson
    /// background adds one count per neuron and step).
    #[inline]
    pub fn add_counts(&mut self, step: Step, receptor: u8, weight: f64, counts: impl Iterator<Item = (u32, u32)>) {
        if self.kind == InputKind::Precise {
            for (target, count) in counts.filter(|&(_, count)| count > 0) {
                let weight = weight * f64::from(count);
                self.add_precise(step, PreciseEvent { target, receptor, offset: 0.0, weight });
            }
            return;
        }
        // Written out rather than through `add_to_slot`: the device's draws run inside this loop
        // (the counts are a lazy iterator), and through `add_to_slot` PD14's background took 8 %
        // longer (2.37-2.40 against 2.17-2.21 thread-s per 0.3 s, three interleaved runs each).
        let (slot, channel) = (self.slot(step), usize::from(receptor));
        let base = (slot * self.channels + channel) * self.n;
        let mut added = false;
        if self.kind == InputKind::SummedTouched {
            for (target, count) in counts.filter(|&(_, count)| count > 0) {
                self.values[base + target as usize] += weight * f64::from(count);
                self.mark(slot, target as usize);
                added = true;
            }
        } else {
            // No branch on the count: whether a Poisson count is 0 is random (PD14's background:
            // in a fifth to a quarter of the draws), so a branch on it mispredicts that often.
            // Adding the ±0 that a zero count gives leaves every cell's bits as they were: a
            // cell only ever holds sums that started from +0, which are never −0, and x + ±0 = x
            // for every other x.
            for (target, count) in counts {
                self.values[base + target as usize] += weight * f64::from(count);
                added |= count > 0;
            }
        }
        if added && channel == self.channels - 1 {
            self.current_written[slot] = true;
        }
    }

    /// Adds a change of injected current (pA) that takes effect in step `step`.
    #[inline]
    pub fn add_current(&mut self, step: Step, target: usize, delta: f64) {
        let c = self.current_channel();
        self.add(step, c, target, delta);
    }

    /// Access to step `step`'s slot. Precise events are sorted by (target, time). For
    /// [`InputKind::Drained`] buffers the spike receptors come writable, to be zeroed by the model.
    pub fn take_step(&mut self, step: Step) -> StepInput<'_> {
        let slot = self.slot(step);
        let (n, width) = (self.n, self.channels * self.n);
        let precise: &mut [PreciseEvent] = if self.kind == InputKind::Precise {
            let events = &mut self.precise[slot];
            // Later offsets are earlier times; ties keep arrival order (stable sort).
            events.sort_by(|a, b| a.target.cmp(&b.target).then(b.offset.total_cmp(&a.offset)));
            events
        } else {
            &mut []
        };
        let touched: &[u32] = if self.kind == InputKind::SummedTouched { &self.touched[slot] } else { &[] };
        let (spike_receptors, current) = self.values[slot * width..(slot + 1) * width].split_at_mut(width - n);
        let (receptors, drained): (&[f64], &mut [f64]) =
            if self.kind == InputKind::Drained { (&[], spike_receptors) } else { (spike_receptors, &mut []) };
        StepInput { n, receptors, drained, current, touched, precise, current_written: self.current_written[slot] }
    }

    /// Clears step `step`'s slot after the population has read it.
    pub fn clear_step(&mut self, step: Step) {
        let slot = self.slot(step);
        let width = self.channels * self.n;
        let base = slot * width;
        match self.kind {
            InputKind::SummedTouched => {
                let touched = std::mem::take(&mut self.touched[slot]);
                // The current channel holds only zeros unless something was written to it.
                let channels = if self.current_written[slot] { self.channels } else { self.channels - 1 };
                for &i in &touched {
                    let i = i as usize;
                    self.touched_flag[slot * self.flag_words + i / 64] = 0;
                    for c in 0..channels {
                        self.values[base + c * self.n + i] = 0.0;
                    }
                }
                let mut touched = touched;
                touched.clear();
                self.touched[slot] = touched;
            }
            InputKind::Summed => self.values[base..base + width].fill(0.0),
            InputKind::Drained => {
                // The model zeroed the spike receptors in its sweep (the kind's contract).
                debug_assert!(self.values[base..base + width - self.n].iter().all(|&v| v == 0.0));
                if self.current_written[slot] {
                    self.values[base + width - self.n..base + width].fill(0.0);
                }
            }
            InputKind::Precise => {
                self.values[base..base + width].fill(0.0);
                self.precise[slot].clear();
            }
        }
        self.current_written[slot] = false;
    }

    /// The pending input of every neuron for steps `now..`, which must be all unread steps
    /// (between runs: every earlier step has been read and cleared).
    pub(crate) fn pending(&self, now: Step) -> Vec<PendingInput> {
        let mut out = vec![PendingInput::default(); self.n];
        let slots = self.mask + 1;
        for ahead in 0..slots {
            let slot = self.slot(now + ahead as Step);
            for c in 0..self.channels {
                let base = (slot * self.channels + c) * self.n;
                for (i, v) in self.values[base..base + self.n].iter().enumerate() {
                    if v.to_bits() != 0 {
                        out[i].values.push((ahead as u32, c as u8, *v));
                    }
                }
            }
            if self.kind == InputKind::SummedTouched {
                for &i in &self.touched[slot] {
                    out[i as usize].touched.push(ahead as u32);
                }
            }
            if self.kind == InputKind::Precise {
                for e in &self.precise[slot] {
                    out[e.target as usize].precise.push((ahead as u32, *e));
                }
            }
        }
        out
    }

    /// Restores what [`InputBuffer::pending`] saved into this (empty) buffer, at step `now`.
    pub(crate) fn restore(&mut self, now: Step, pending: &[PendingInput]) -> Result<(), String> {
        let slots = self.mask + 1;
        let check = |ahead: u32, what: &str| {
            if (ahead as usize) < slots {
                Ok(now + Step::from(ahead))
            } else {
                Err(format!("{what} {ahead} steps ahead, beyond this network's {slots}-step buffers"))
            }
        };
        for (i, p) in pending.iter().enumerate() {
            for &(ahead, c, v) in &p.values {
                let step = check(ahead, "an input")?;
                if usize::from(c) >= self.channels {
                    return Err(format!("an input on channel {c} of a buffer with {}", self.channels));
                }
                let slot = self.slot(step);
                self.values[(slot * self.channels + usize::from(c)) * self.n + i] = v;
                if usize::from(c) == self.channels - 1 {
                    self.current_written[slot] = true;
                }
            }
            for &(ahead, e) in &p.precise {
                let step = check(ahead, "a precise event")?;
                let slot = self.slot(step);
                self.precise[slot].push(PreciseEvent { target: i as u32, ..e });
            }
        }
        // Touch marks in neuron order within each step: the order of a step's visits does not
        // change any neuron's result (each is updated alone, and spikes are sorted by neuron).
        if self.kind == InputKind::SummedTouched {
            for (i, p) in pending.iter().enumerate() {
                for &ahead in &p.touched {
                    let slot = self.slot(check(ahead, "a touch")?);
                    self.mark(slot, i);
                }
            }
        }
        Ok(())
    }

    /// Bytes held (for memory reports).
    pub fn bytes(&self) -> usize {
        self.values.len() * 8 + self.touched_flag.len() * 8
    }
}

/// Sets bit `i` of the bitmap `flags`; returns whether it was clear.
#[inline(always)]
fn set_flag(flags: &mut [u64], i: usize) -> bool {
    let (word, bit) = (&mut flags[i / 64], 1u64 << (i % 64));
    let was_clear = *word & bit == 0;
    *word |= bit;
    was_clear
}

/// One step's input to a population shard.
#[derive(Debug)]
pub struct StepInput<'a> {
    n: usize,
    /// `[receptor][neuron]`: summed spike weights (empty for drained buffers).
    receptors: &'a [f64],
    /// `[receptor][neuron]`: summed spike weights of a drained buffer, zeroed by the model.
    drained: &'a mut [f64],
    /// Changes of injected current per neuron (the current channel).
    current: &'a [f64],
    touched: &'a [u32],
    precise: &'a [PreciseEvent],
    /// Whether [`StepInput::current_change`] may hold anything but zeros.
    current_written: bool,
}

impl<'a> StepInput<'a> {
    /// Summed weights on spike receptor `receptor`, one value per neuron (not for drained
    /// buffers: see [`StepInput::drain_receptors`]).
    #[inline]
    pub fn receptor(&self, receptor: usize) -> &'a [f64] {
        &self.receptors[receptor * self.n..(receptor + 1) * self.n]
    }

    /// [`InputKind::Drained`] buffers only: the summed weights of every spike receptor,
    /// `[receptor][neuron]` (receptor `r` of neuron `i` at `r·len + i`). The model must set every
    /// value to zero once it has read it (the engine does not clear them), in the same pass.
    #[inline]
    pub fn drain_receptors(&mut self) -> &mut [f64] {
        self.drained
    }

    /// Changes of injected current (pA) taking effect in this step, one value per neuron.
    #[inline]
    pub fn current_change(&self) -> &'a [f64] {
        self.current
    }

    /// Whether any current change arrives in this step (else [`StepInput::current_change`] holds
    /// only zeros).
    #[inline]
    pub fn has_current_changes(&self) -> bool {
        self.current_written
    }

    /// The current change of neuron `i` in this step (pA): 0 without reading the buffer when no
    /// change arrives at all (the buffer then holds exactly 0.0, so the value is the same).
    #[inline]
    pub fn current_change_of(&self, i: usize) -> f64 {
        if self.current_written { self.current[i] } else { 0.0 }
    }

    /// Neurons that received anything in this step (event-driven buffers only), in arrival order.
    #[inline]
    pub fn touched(&self) -> &'a [u32] {
        self.touched
    }

    /// Precise events of this step, sorted by target, then time (precise buffers only).
    #[inline]
    pub fn precise(&self) -> &'a [PreciseEvent] {
        self.precise
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device's counts added at once land where, and in the order, adding them one event at
    /// a time puts them, in every kind of buffer.
    #[test]
    fn counts_added_at_once_equal_events_added_one_by_one() {
        // Zero counts among them, with a negative weight too: a zero count adds −0 there, which
        // must leave the cells' bits (the +0 of an empty cell among them) as they were.
        let counts = [(3u32, 2u32), (0, 0), (1, 1), (3, 1), (2, 5), (1, 0)];
        for weight in [0.1, -0.3] {
            for kind in [InputKind::Summed, InputKind::SummedTouched, InputKind::Drained, InputKind::Precise] {
                let (mut at_once, mut one_by_one) = (InputBuffer::new(4, 2, 4, kind), InputBuffer::new(4, 2, 4, kind));
                at_once.add(2, 1, 0, 0.25);
                one_by_one.add(2, 1, 0, 0.25);
                at_once.add_counts(2, 1, weight, counts.iter().copied());
                for &(target, count) in counts.iter().filter(|c| c.1 > 0) {
                    let event = PreciseEvent { target, receptor: 1, offset: 0.0, weight: weight * f64::from(count) };
                    one_by_one.add_precise(2, event);
                }
                let contents = |buffer: &mut InputBuffer| {
                    let mut step = buffer.take_step(2);
                    let mut bits: Vec<u64> = match kind {
                        InputKind::Drained => step.drain_receptors().iter().map(|v| v.to_bits()).collect(),
                        InputKind::Precise => {
                            step.precise().iter().flat_map(|e| [e.target.into(), e.weight.to_bits()]).collect()
                        }
                        _ => (0..2).flat_map(|r| step.receptor(r).iter().map(|v| v.to_bits())).collect(),
                    };
                    bits.extend(step.touched().iter().map(|&t| u64::from(t)));
                    bits
                };
                let expected = contents(&mut one_by_one);
                assert!(expected.iter().any(|&b| b != 0), "{kind:?}: the test adds something");
                assert_eq!(contents(&mut at_once), expected, "{kind:?}, weight {weight}");
            }
        }
    }

    #[test]
    fn sums_tracks_and_clears() {
        let mut b = InputBuffer::new(4, 2, 3, InputKind::SummedTouched);
        b.add(5, 0, 2, 1.5);
        b.add(5, 0, 2, 2.0);
        b.add(5, 1, 1, -1.0);
        b.add_current(5, 3, 10.0);
        b.add(6, 0, 0, 9.0);
        {
            let s = b.take_step(5);
            assert_eq!(s.receptor(0), &[0.0, 0.0, 3.5, 0.0]);
            assert_eq!(s.receptor(1), &[0.0, -1.0, 0.0, 0.0]);
            assert_eq!(s.current_change(), &[0.0, 0.0, 0.0, 10.0]);
            assert_eq!(s.touched(), &[2, 1, 3]);
        }
        b.clear_step(5);
        let s = b.take_step(5);
        assert!(s.receptor(0).iter().all(|&v| v == 0.0));
        assert!(s.touched().is_empty());
        let s = b.take_step(6);
        assert_eq!(s.receptor(0)[0], 9.0);
    }

    #[test]
    fn drained_buffers_hand_out_their_receptors_and_clear_only_currents() {
        let mut b = InputBuffer::new(3, 2, 2, InputKind::Drained);
        b.add_row(4, &[2, 0, 2], &[1.5, -1.0, 2.0], &[1, 1, 1], &[0, 1, 0]);
        b.add_current(5, 1, 7.0);
        {
            let mut s = b.take_step(5);
            assert!(s.has_current_changes());
            assert_eq!(s.current_change(), &[0.0, 7.0, 0.0]);
            let w = s.drain_receptors();
            assert_eq!(w, &[0.0, 0.0, 3.5, -1.0, 0.0, 0.0]);
            w.fill(0.0);
        }
        b.clear_step(5);
        let mut s = b.take_step(5);
        assert!(!s.has_current_changes());
        assert!(s.current_change().iter().all(|&v| v == 0.0));
        assert!(s.drain_receptors().iter().all(|&v| v == 0.0));
    }

    #[test]
    fn precise_events_sorted_by_target_then_time() {
        let mut b = InputBuffer::new(2, 2, 2, InputKind::Precise);
        let ev = |target, offset| PreciseEvent { target, receptor: 0, offset, weight: 1.0 };
        b.add_precise(3, ev(1, 0.02));
        b.add_precise(3, ev(0, 0.01));
        b.add_precise(3, ev(0, 0.05));
        let s = b.take_step(3);
        let order: Vec<(u32, f64)> = s.precise().iter().map(|e| (e.target, e.offset)).collect();
        assert_eq!(order, vec![(0, 0.05), (0, 0.01), (1, 0.02)]);
    }
}
