//! The next-event queue of event-driven populations and devices.
//!
//! An indexed priority queue (`priority-queue` crate) keyed by a neuron's (or device channel's)
//! local index, prioritised by the step at which it is next due: a predicted threshold crossing,
//! the end of refractoriness, a device's next spike. `change_priority` moves a prediction when an
//! input changes it. Keys are small integers, so the queue hashes them with a multiplicative
//! hasher instead of SipHash.

use std::cmp::Reverse;
use std::hash::{BuildHasherDefault, Hasher};

use priority_queue::PriorityQueue;

use crate::time::Step;

/// A hasher for integer keys: one multiply (Fibonacci hashing). Not for untrusted keys.
#[derive(Debug, Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

/// Next-due steps by key; the earliest step first, ties by the smaller key (a total order, so
/// processing order never depends on insertion history).
#[derive(Debug, Default)]
pub struct NextEventQueue {
    queue: PriorityQueue<u32, Reverse<(Step, u32)>, BuildHasherDefault<IntHasher>>,
}

impl NextEventQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `key` at `step`, replacing any earlier schedule of `key`.
    #[inline]
    pub fn schedule(&mut self, key: u32, step: Step) {
        self.queue.push(key, Reverse((step, key)));
    }

    /// Schedules `key` at `step` unless it is already due earlier.
    #[inline]
    pub fn schedule_no_later_than(&mut self, key: u32, step: Step) {
        match self.queue.get_priority(&key) {
            Some(Reverse((due, _))) if *due <= step => {}
            Some(_) => {
                self.queue.change_priority(&key, Reverse((step, key)));
            }
            None => {
                self.queue.push(key, Reverse((step, key)));
            }
        }
    }

    /// Removes `key` (nothing is due for it).
    #[inline]
    pub fn cancel(&mut self, key: u32) {
        self.queue.remove(&key);
    }

    /// When `key` is due, if scheduled.
    pub fn due(&self, key: u32) -> Option<Step> {
        self.queue.get_priority(&key).map(|Reverse((s, _))| *s)
    }

    /// Pops the earliest key if it is due at or before `step`.
    #[inline]
    pub fn pop_due(&mut self, step: Step) -> Option<(u32, Step)> {
        match self.queue.peek() {
            Some((_, Reverse((due, _)))) if *due <= step => self.queue.pop().map(|(k, Reverse((s, _)))| (k, s)),
            _ => None,
        }
    }

    /// The earliest due step, if any.
    pub fn next_due(&self) -> Option<Step> {
        self.queue.peek().map(|(_, Reverse((s, _)))| *s)
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// Horizon of a [`Calendar`]'s timing wheel in steps (a power of two).
pub const WHEEL_STEPS: usize = 1024;

/// A two-level calendar of keys that each have exactly one pending due step: a timing wheel
/// (one bucket per step, O(1)) for steps within [`WHEEL_STEPS`] of now and the indexed
/// [`NextEventQueue`] beyond. Used for device channels, which reschedule at every event: a
/// Poisson channel at 10 Hz–10 kHz is almost always due within the wheel.
#[derive(Debug)]
pub struct Calendar {
    wheel: Vec<Vec<u32>>,
    far: NextEventQueue,
}

impl Default for Calendar {
    fn default() -> Self {
        Self { wheel: vec![Vec::new(); WHEEL_STEPS], far: NextEventQueue::new() }
    }
}

impl Calendar {
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `key` at `step` (≥ `now`); `key` must have no other pending step.
    #[inline]
    pub fn schedule(&mut self, key: u32, step: Step, now: Step) {
        if step - now < WHEEL_STEPS as Step {
            self.wheel[step as usize & (WHEEL_STEPS - 1)].push(key);
        } else {
            self.far.schedule(key, step);
        }
    }

    /// Every pending `(key, step)` (steps ≥ `now`, the step the calendar was last advanced to),
    /// in key order: what a checkpoint saves.
    pub fn pending(&self, now: Step) -> Vec<(u32, Step)> {
        let mut out: Vec<(u32, Step)> = Vec::new();
        for (bucket, keys) in self.wheel.iter().enumerate() {
            let ahead = (bucket as Step).wrapping_sub(now) & (WHEEL_STEPS as Step - 1);
            out.extend(keys.iter().map(|&k| (k, now + ahead)));
        }
        out.extend(self.far.queue.iter().map(|(&k, Reverse((s, _)))| (k, *s)));
        out.sort_unstable();
        out
    }

    /// Moves the keys due at `now` into `out`, in ascending key order (a canonical order, so the
    /// order devices write into a shared ring-buffer slot never depends on history).
    pub fn take_due(&mut self, now: Step, out: &mut Vec<u32>) {
        let start = out.len();
        out.append(&mut self.wheel[now as usize & (WHEEL_STEPS - 1)]);
        while let Some((key, _)) = self.far.pop_due(now) {
            out.push(key);
        }
        out[start..].sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_near_and_far_in_key_order() {
        let mut c = Calendar::new();
        c.schedule(9, 5, 0);
        c.schedule(2, 5, 0);
        c.schedule(4, 5000, 0);
        let mut out = Vec::new();
        c.take_due(4, &mut out);
        assert!(out.is_empty());
        c.take_due(5, &mut out);
        assert_eq!(out, vec![2, 9]);
        out.clear();
        c.take_due(5000, &mut out);
        assert_eq!(out, vec![4]);
    }

    #[test]
    fn earliest_first_ties_by_key_and_moves() {
        let mut q = NextEventQueue::new();
        q.schedule(7, 10);
        q.schedule(3, 10);
        q.schedule(5, 4);
        q.schedule_no_later_than(7, 2);
        q.schedule_no_later_than(3, 12);
        assert_eq!(q.pop_due(1), None);
        assert_eq!(q.pop_due(10), Some((7, 2)));
        assert_eq!(q.pop_due(10), Some((5, 4)));
        assert_eq!(q.pop_due(10), Some((3, 10)));
        assert!(q.is_empty());
    }
}
