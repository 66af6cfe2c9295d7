//! Ranks: the processes of a distributed run, and the one operation the engine asks of the layer
//! that connects them.
//!
//! A run on `R` ranks × `T` threads splits every population into `R·T` contiguous chunks, as a
//! one-process run on `R·T` threads would; rank `r` owns chunks `r·T … r·T + T − 1` and builds
//! only their incoming connectivity (the network is drawn per target from the seed, so no rank
//! needs another's synapses). Threads of one rank share their interval outputs in memory; between
//! ranks, once per exchange interval (the minimum delay), thread 0 of every rank takes part in one
//! collective, [`Ranks::all_gather`]: each rank contributes its threads' spikes, graded values,
//! recorded samples and weight events and its stop vote, and receives every other rank's. Every
//! rank then orders the spikes canonically by `(step, gid)` exactly as threads do, so the result
//! is the same for any number of ranks and threads. That all-gather is the only communication in
//! the simulation loop (NEST and Arbor exchange spikes the same way, once per minimum delay).
//!
//! The engine knows no MPI: `laminar-mpi` implements [`Ranks`] over MPI (`MPI_Allgatherv`);
//! [`SingleRank`] is the one-process case, and [`InProcessRanks`] runs several "ranks" as
//! threads of one process, which the determinism tests use to check the partitioning and the
//! exchange without an MPI installation.

use std::fmt::Debug;
use std::sync::{Arc, Barrier, Mutex};

/// The processes of a run.
pub trait Ranks: Send + Sync + Debug {
    /// This process's rank, `0..size()`.
    fn rank(&self) -> usize;
    /// The number of ranks.
    fn size(&self) -> usize;
    /// Every rank's `local` bytes, in rank order (this rank's own included). Collective: every
    /// rank calls it the same number of times, in the same order.
    fn all_gather(&self, local: &[u8]) -> Vec<Vec<u8>>;
}

/// One process: nothing to exchange.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleRank;

impl Ranks for SingleRank {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_gather(&self, local: &[u8]) -> Vec<Vec<u8>> {
        vec![local.to_vec()]
    }
}

/// The rendezvous shared by the ranks of an [`InProcessRanks`] group.
#[derive(Debug)]
struct Rendezvous {
    slots: Mutex<Vec<Vec<u8>>>,
    /// Two barriers: everyone has written; everyone has read.
    written: Barrier,
    read: Barrier,
}

/// Ranks as threads of one process (for tests): [`InProcessRanks::group`] makes `size` handles,
/// one per rank, to be moved to `size` threads.
#[derive(Debug, Clone)]
pub struct InProcessRanks {
    rank: usize,
    size: usize,
    shared: Arc<Rendezvous>,
}

impl InProcessRanks {
    /// Handles for ranks `0..size`.
    pub fn group(size: usize) -> Vec<Self> {
        let size = size.max(1);
        let shared = Arc::new(Rendezvous {
            slots: Mutex::new(vec![Vec::new(); size]),
            written: Barrier::new(size),
            read: Barrier::new(size),
        });
        (0..size).map(|rank| Self { rank, size, shared: Arc::clone(&shared) }).collect()
    }
}

impl Ranks for InProcessRanks {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn all_gather(&self, local: &[u8]) -> Vec<Vec<u8>> {
        self.shared.slots.lock().unwrap_or_else(|e| e.into_inner())[self.rank] = local.to_vec();
        self.shared.written.wait();
        let all = self.shared.slots.lock().unwrap_or_else(|e| e.into_inner()).clone();
        self.shared.read.wait();
        all
    }
}

/// Little-endian encoding of the exchange's records (fixed-size fields, no external encoder:
/// this is the hot path of a distributed run, once per interval).
pub(crate) mod wire {
    /// Appends `v`.
    #[inline]
    pub fn put_u64(out: &mut Vec<u8>, v: u64) {
        out.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends `v` bit for bit.
    #[inline]
    pub fn put_f64(out: &mut Vec<u8>, v: f64) {
        put_u64(out, v.to_bits());
    }

    /// Appends `bytes`: their length, then the bytes padded with zeros to a multiple of 8.
    pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
        put_u64(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
        out.resize(out.len() + (8 - bytes.len() % 8) % 8, 0);
    }

    /// Reads the encoding back; every read checks the length (a short message is a bug of the
    /// distributed layer, reported as such).
    #[derive(Debug)]
    pub struct Reader<'a> {
        bytes: &'a [u8],
    }

    impl<'a> Reader<'a> {
        pub fn new(bytes: &'a [u8]) -> Self {
            Self { bytes }
        }

        pub fn u64(&mut self) -> u64 {
            let (head, rest) = self.bytes.split_at_checked(8).expect("internal: a rank's exchange message is short");
            self.bytes = rest;
            u64::from_le_bytes(head.try_into().expect("8 bytes"))
        }

        pub fn f64(&mut self) -> f64 {
            f64::from_bits(self.u64())
        }

        pub fn usize(&mut self) -> usize {
            self.u64() as usize
        }

        /// Bytes written by [`put_bytes`].
        pub fn bytes(&mut self) -> &'a [u8] {
            let n = self.usize();
            let padded = n.div_ceil(8) * 8;
            let (head, rest) =
                self.bytes.split_at_checked(padded).expect("internal: a rank's exchange message is short");
            self.bytes = rest;
            &head[..n]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_process_ranks_gather_in_rank_order() {
        let group = InProcessRanks::group(3);
        let results: Vec<Vec<Vec<u8>>> = std::thread::scope(|s| {
            let handles: Vec<_> = group
                .iter()
                .map(|r| s.spawn(move || (0..2).map(|k| r.all_gather(&[r.rank() as u8, k])).next_back().unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in results {
            assert_eq!(r, vec![vec![0, 1], vec![1, 1], vec![2, 1]]);
        }
    }
}
