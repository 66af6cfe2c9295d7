//! Shared machinery of event-driven (lazily updated) neuron models.
//!
//! A lazily updated neuron keeps its state at the start of step `synced` and is advanced over
//! skipped steps in closed form when something happens to it: an input arrives (it is *touched*)
//! or its own next event falls due. The model keeps, per neuron, the step at which it must next be
//! looked at (`due`), mirrored in the shard's [`NextEventQueue`]; a due step may be early (then
//! the neuron is advanced, found quiet, and re-scheduled) but never late, which is what makes the
//! lazy update exact.

use laminar_engine::{LocalSpike, NextEventQueue, StateError, StateIo, Step, StepInput, Update};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One lazily updated neuron: its clock and its model state, in one cache line.
///
/// A touch reads and writes the neuron's clock and state together; keeping them in one aligned
/// 64-byte record (instead of one array per variable) makes a touch cost one cache line, which
/// matters because touches go to random neurons (profile: the update was bound by the loads of
/// seven per-variable arrays).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[repr(align(64))]
pub struct LazyNeuron<S> {
    /// The state is valid at the start of step `synced`.
    pub synced: Step,
    /// The step at which the neuron is next due (`Step::MAX`: nothing due).
    pub due: Step,
    /// The model's state variables.
    pub s: S,
}

/// Per-neuron bookkeeping of a lazily updated population, holding the neurons' states `S`.
///
/// Due steps live in a two-level calendar: checks due within the next [`WHEEL_STEPS`] steps go
/// into a timing wheel (one bucket per step, O(1) insertion; a rescheduled neuron leaves a stale
/// entry behind, recognised and skipped because `due` no longer names that step), and checks
/// further out go into the shard's indexed priority queue (`change_priority` when a prediction
/// moves). Busy neurons, whose predictions move with nearly every input, thus never pay for heap
/// operations, while quiet neurons cost nothing per step.
#[derive(Debug, Clone)]
pub struct LazyClock<S> {
    pub neurons: Vec<LazyNeuron<S>>,
    wheel: Vec<Vec<u32>>,
    /// Scratch: the neurons due in the current step.
    due_now: Vec<u32>,
}

/// Horizon of the timing wheel in steps (a power of two).
pub const WHEEL_STEPS: usize = 1024;

impl<S: Clone> LazyClock<S> {
    /// `n` neurons in state `initial`, synced at step 0, nothing due.
    pub fn new(n: usize, initial: S) -> Self {
        Self {
            neurons: vec![LazyNeuron { synced: 0, due: Step::MAX, s: initial }; n],
            wheel: vec![Vec::new(); WHEEL_STEPS],
            due_now: Vec::new(),
        }
    }
}

impl<S> LazyClock<S> {
    pub fn len(&self) -> usize {
        self.neurons.len()
    }

    /// Schedules neuron `i` at `step` (> `now`) if that is earlier than its current schedule,
    /// or if its current schedule is not in the future of `now` (it is being processed now).
    #[inline]
    pub fn schedule(&mut self, queue: &mut NextEventQueue, i: usize, step: Step, now: Step) {
        let due = &mut self.neurons[i].due;
        if step < *due || *due <= now {
            *due = step;
            if step - now < WHEEL_STEPS as Step {
                self.wheel[step as usize & (WHEEL_STEPS - 1)].push(i as u32);
            } else {
                queue.schedule(i as u32, step);
            }
        }
    }

    /// Saves or restores the neurons as they are: state, `synced` and `due`, never caught up
    /// (catching up at a checkpoint would split a closed-form gap that the uninterrupted run
    /// takes in one piece, and change the bits). Loading schedules every due neuron again.
    pub fn state(&mut self, io: &mut StateIo, queue: &mut NextEventQueue) -> Result<(), StateError>
    where
        S: Serialize + DeserializeOwned,
    {
        io.neurons("neurons", &mut self.neurons)?;
        if io.loading() {
            let now = io.now();
            for (i, n) in self.neurons.iter().enumerate() {
                if n.due == Step::MAX {
                    continue;
                }
                if n.due < now || n.synced > now {
                    return Err(StateError(format!(
                        "neuron {i} is synced at step {} and due at step {}, impossible at step {now}",
                        n.synced, n.due
                    )));
                }
                if n.due - now < WHEEL_STEPS as Step {
                    self.wheel[n.due as usize & (WHEEL_STEPS - 1)].push(i as u32);
                } else {
                    queue.schedule(i as u32, n.due);
                }
            }
        }
        Ok(())
    }

    /// Collects the neurons due at `now` into `out` (each at most once) and marks them popped.
    pub fn take_due(&mut self, queue: &mut NextEventQueue, now: Step, out: &mut Vec<u32>) {
        let bucket = &mut self.wheel[now as usize & (WHEEL_STEPS - 1)];
        for &i in bucket.iter() {
            let due = &mut self.neurons[i as usize].due;
            if *due == now {
                *due = Step::MAX;
                out.push(i);
            }
        }
        bucket.clear();
        while let Some((i, step)) = queue.pop_due(now) {
            let due = &mut self.neurons[i as usize].due;
            if *due == step {
                *due = Step::MAX;
                out.push(i);
            }
        }
    }
}

/// A lazily updated model: what [`start_lazily`] and [`update_lazily`] need from it.
pub trait LazyModel {
    /// The per-neuron state kept next to the clock.
    type State;

    fn clock(&mut self) -> &mut LazyClock<Self::State>;

    /// Brings neuron `i` up to step `t` and computes step `t` with `input` (the step's input to
    /// the shard; `None` when the neuron is only due, not touched). Returns whether it spiked.
    fn step_neuron(&mut self, i: usize, t: Step, input: Option<&StepInput<'_>>) -> bool;

    /// A step at or before the first one whose end may find neuron `i` above threshold, given
    /// its current state and no further input (`None`: it cannot cross).
    fn earliest_crossing(&self, i: usize) -> Option<Step>;
}

/// Schedules neuron `i`'s next check after computing step `now`.
#[inline(always)]
fn reschedule<M: LazyModel>(model: &mut M, i: usize, queue: &mut NextEventQueue, now: Step) {
    if let Some(k) = model.earliest_crossing(i) {
        model.clock().schedule(queue, i, k.max(now + 1), now);
    }
}

/// Starts (or resumes) a run at `step`: every neuron that may cross threshold without input
/// (e.g. driven by `I_e`) gets its first check.
pub fn start_lazily<M: LazyModel>(model: &mut M, step: Step, queue: &mut NextEventQueue) {
    for i in 0..model.clock().len() {
        let synced = &mut model.clock().neurons[i].synced;
        *synced = (*synced).max(step);
        if let Some(k) = model.earliest_crossing(i) {
            model.clock().schedule(queue, i, k.max(step), step);
        }
    }
}

/// One step of an event-driven shard: the neurons touched by input in this step, then those
/// whose check is due (unless already computed as touched). Nobody else is visited.
pub fn update_lazily<M: LazyModel>(model: &mut M, u: &mut Update<'_>) {
    let t = u.step;
    for &i in u.input.touched() {
        if model.step_neuron(i as usize, t, Some(&u.input)) {
            u.spikes.push(LocalSpike { local: i, offset: 0.0 });
        }
        reschedule(model, i as usize, u.queue, t);
    }
    let mut due = std::mem::take(&mut model.clock().due_now);
    due.clear();
    model.clock().take_due(u.queue, t, &mut due);
    for &i in &due {
        if model.clock().neurons[i as usize].synced > t {
            continue; // touched in this step already
        }
        if model.step_neuron(i as usize, t, None) {
            u.spikes.push(LocalSpike { local: i, offset: 0.0 });
        }
        reschedule(model, i as usize, u.queue, t);
    }
    model.clock().due_now = due;
}

/// Powers of single-step propagators, tabulated for short gaps (the common case when a neuron
/// is touched often) and computed directly for long ones.
#[derive(Debug, Clone)]
pub struct GapTable<const K: usize> {
    values: Vec<[f64; K]>,
}

impl<const K: usize> GapTable<K> {
    /// Tabulates `f(n)` for n in 0..len.
    pub fn new(len: usize, f: impl Fn(u64) -> [f64; K]) -> Self {
        Self { values: (0..len as u64).map(f).collect() }
    }

    /// `f(n)`, from the table when `n` is short.
    #[inline]
    pub fn get(&self, n: u64, f: impl Fn(u64) -> [f64; K]) -> [f64; K] {
        match self.values.get(n as usize) {
            Some(v) => *v,
            None => compute_cold(n, f),
        }
    }
}

/// The rare long gap, kept out of line so that the table lookup inlines into the hot paths.
#[cold]
#[inline(never)]
fn compute_cold<const K: usize>(n: u64, f: impl Fn(u64) -> [f64; K]) -> [f64; K] {
    f(n)
}

/// Length of gap tables: gaps up to 409.6 ms at h = 0.1 ms.
pub const GAP_TABLE_LEN: usize = 4096;
