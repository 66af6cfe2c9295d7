//! A spinning barrier that also agrees on a vote.
//!
//! Threads meet once per exchange interval (the minimum delay, often a single 0.1-ms step), so
//! the barrier must cost well under a microsecond when every thread has a core: it is a
//! dissemination barrier whose threads spin on one another's flags, each on its own cache line.
//! When a peer is descheduled (more runnable threads than cores, e.g. a laptop doing other work),
//! spinning would burn the very core the peer needs, so after a short spin a waiter yields its
//! core for a while, then blocks on a condition variable; a signalling thread notifies only when
//! someone sleeps. Each arrival contributes a vote (e.g. "stop after this interval"); every
//! thread leaves with the OR of all votes, so all threads take the same decision at the same
//! step boundary.
//!
//! Reference: D. Hensgen, R. Finkel, U. Manber (1988) Two algorithms for barrier
//! synchronization. Int. J. Parallel Programming 17(1):1-17.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// One cache line: a waiter spins reading a flag, so nothing that another thread writes may
/// share its line (each such write would take the line from the spinner and give it back).
#[derive(Debug, Default)]
#[repr(align(64))]
struct Line<T>(T);

/// A dissemination barrier (Hensgen, Finkel & Manber 1988): in round r of ⌈log₂ n⌉, thread i
/// signals on its own flag and waits for thread i − 2^r (mod n). Each thread writes only its
/// own cache lines and reads one other thread's per round, so two threads meet in about one
/// cache-line transfer (170–220 ns a meeting of two threads on series G's Intel instance). The
/// counter every thread incremented, with the generation word they all spun on and a mutex taken
/// to publish it in the same line, took 400–560 ns: a tenth of CUBA's two-thread run, which
/// meets every 0.1-ms step.
/// The votes travel with the signals (the OR of what a thread has seen so far), so after the
/// last round every thread holds the OR of all votes.
#[derive(Debug)]
pub struct SpinBarrier {
    parties: usize,
    rounds: usize,
    /// `flags[(parity · parties + thread) · rounds + r]`: `2·generation + votes seen` that
    /// `thread` signalled in round r of its last generation of this parity. Two sets, by
    /// generation parity: a thread that has passed generation g may signal round r of g + 1
    /// before a slower one has read round r of g, never of g + 2.
    flags: Vec<Line<AtomicUsize>>,
    /// `generations[thread]`: generations the thread has passed (only it writes its line).
    generations: Vec<Line<AtomicUsize>>,
    /// Waiters blocked on `wake` (after spinning and yielding); a signalling thread notifies
    /// only when there are some.
    sleepers: Line<AtomicUsize>,
    lock: Mutex<()>,
    wake: Condvar,
}

/// Spins before yielding: about 8 µs (a `pause` takes some 30 ns on the benchmark machine),
/// more than the usual imbalance between threads in one step, so a quiet machine never yields.
/// (It was 2048 spins, ~60 µs, before blocking.)
const SPINS_BEFORE_BLOCKING: u32 = 256;
/// Then `yield_now` up to this many times (≈ 0.7 µs each, more when the core is handed over)
/// before blocking. On a loaded machine (other processes on the cores), CUBA with its one-step
/// exchange interval ran 2-5× faster than with spinning then blocking.
const YIELDS_BEFORE_BLOCKING: u32 = 1024;

impl SpinBarrier {
    pub fn new(parties: usize) -> Self {
        let parties = parties.max(1);
        let rounds = parties.next_power_of_two().trailing_zeros() as usize;
        Self {
            parties,
            rounds,
            flags: (0..2 * parties * rounds).map(|_| Line(AtomicUsize::new(0))).collect(),
            generations: (0..parties).map(|_| Line(AtomicUsize::new(0))).collect(),
            sleepers: Line(AtomicUsize::new(0)),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// Waits for all parties; returns the OR of their votes. `thread` is the caller's index
    /// (`0..parties`), each thread calling with its own.
    pub fn wait(&self, thread: usize, vote: bool) -> bool {
        let generation = self.generations[thread].0.load(Ordering::Relaxed) + 1;
        self.generations[thread].0.store(generation, Ordering::Relaxed);
        let set = (generation % 2) * self.parties;
        let mut seen = usize::from(vote);
        for r in 0..self.rounds {
            // (Also a release: the signal carries what this thread wrote before the barrier, and
            // signals chain, so every thread leaves having seen every other's writes.)
            self.flags[(set + thread) * self.rounds + r].0.store(2 * generation + seen, Ordering::SeqCst);
            self.wake_sleepers();
            let from = (thread + self.parties - (1 << r) % self.parties) % self.parties;
            let flag = &self.flags[(set + from) * self.rounds + r].0;
            seen |= self.await_generation(flag, generation) & 1;
        }
        seen == 1
    }

    /// Wakes blocked waiters after a signal, if there are any. Sequentially consistent with a
    /// waiter's registration in `await_generation`: either this thread sees the waiter, or the
    /// waiter sees the signal and never blocks. Taking the lock orders the notification after
    /// the waiter's check (made under the lock), so it is either waiting already or sees it.
    fn wake_sleepers(&self) {
        if self.sleepers.0.load(Ordering::SeqCst) > 0 {
            drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()));
            self.wake.notify_all();
        }
    }

    /// Spins, yields, then blocks until `flag` holds `generation`; returns its value.
    fn await_generation(&self, flag: &AtomicUsize, generation: usize) -> usize {
        let mut spins = 0u32;
        loop {
            let value = flag.load(Ordering::Acquire);
            if value >> 1 == generation {
                return value;
            }
            if spins < SPINS_BEFORE_BLOCKING {
                std::hint::spin_loop();
                spins += 1;
                continue;
            }
            if spins < SPINS_BEFORE_BLOCKING + YIELDS_BEFORE_BLOCKING {
                // The peer is late, most likely descheduled: offer the core instead of burning
                // it, but stay runnable (a futex wake-up costs far more than a yield).
                std::thread::yield_now();
                spins += 1;
                continue;
            }
            self.sleepers.0.fetch_add(1, Ordering::SeqCst);
            let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            while flag.load(Ordering::SeqCst) >> 1 != generation {
                // The timeout is a safety net only; wake-ups come from notify_all.
                guard = match self.wake.wait_timeout(guard, Duration::from_millis(10)) {
                    Ok((g, _)) => g,
                    Err(e) => e.into_inner().0,
                };
            }
            drop(guard);
            self.sleepers.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_threads_see_the_same_vote() {
        let b = SpinBarrier::new(3);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..3)
                .map(|t| {
                    let b = &b;
                    s.spawn(move || (0..200).map(|g| b.wait(t, t == 1 && g % 7 == 3)).collect::<Vec<_>>())
                })
                .collect();
            let results: Vec<Vec<bool>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            for g in 0..200 {
                assert_eq!(results[0][g], g % 7 == 3);
                assert_eq!(results[1][g], results[0][g]);
                assert_eq!(results[2][g], results[0][g]);
            }
        });
    }

    /// More threads than cores, so waiters yield and block and are woken: every thread leaves
    /// every generation with that generation's votes, whoever cast them, and none is left
    /// behind (the run ends).
    #[test]
    fn oversubscribed_threads_block_wake_and_agree() {
        let (parties, rounds) = (8, 400);
        let b = SpinBarrier::new(parties);
        let voted = |t: usize, g: usize| (g * 31 + t * 7).is_multiple_of(53);
        let results: Vec<Vec<bool>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..parties)
                .map(|t| {
                    let b = &b;
                    s.spawn(move || {
                        (0..rounds)
                            .map(|g| {
                                if (g + t).is_multiple_of(97) {
                                    // A late thread, so that the others get to block.
                                    std::thread::sleep(Duration::from_millis(2));
                                }
                                b.wait(t, voted(t, g))
                            })
                            .collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for g in 0..rounds {
            let expected = (0..parties).any(|t| voted(t, g));
            assert!(results.iter().all(|r| r[g] == expected), "generation {g}");
        }
        assert!((0..rounds).any(|g| (0..parties).any(|t| voted(t, g))), "some generations carry a vote");
    }
}
