//! The MPI world as the engine's [`Ranks`].

use laminar_engine::Ranks;
use mpi::Count;
use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

/// The MPI world as the engine's ranks. Create it once per process ([`MpiRanks::init`]); MPI is
/// finalised when the last handle is dropped.
pub struct MpiRanks {
    /// Keeps MPI initialised while the world is used.
    _universe: Universe,
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
}

impl std::fmt::Debug for MpiRanks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiRanks").field("rank", &self.rank).field("size", &self.size).finish()
    }
}

// The engine calls `all_gather` from one thread at a time (thread 0 of the rank, between
// barriers), which MPI_THREAD_FUNNELED... permits only for the main thread; laminar asks for
// MPI_THREAD_SERIALIZED, under which any one thread at a time may call MPI.
#[allow(unsafe_code)]
unsafe impl Sync for MpiRanks {}
#[allow(unsafe_code)]
unsafe impl Send for MpiRanks {}

impl MpiRanks {
    /// Initialises MPI (`MPI_THREAD_SERIALIZED`); `None` if MPI is already initialised or the
    /// library does not provide that thread level.
    pub fn init() -> Option<Self> {
        let (universe, level) = mpi::initialize_with_threading(mpi::Threading::Serialized)?;
        if level < mpi::Threading::Serialized {
            return None;
        }
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        Some(Self { _universe: universe, world, rank, size })
    }

    /// Ends every rank of the job with `code` (`MPI_Abort`): for a failure on one rank.
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}

impl Ranks for MpiRanks {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_gather(&self, local: &[u8]) -> Vec<Vec<u8>> {
        let mine = local.len() as Count;
        let mut counts = vec![0 as Count; self.size];
        self.world.all_gather_into(&mine, &mut counts[..]);
        let displs: Vec<Count> = counts
            .iter()
            .scan(0 as Count, |acc, &c| {
                let at = *acc;
                *acc += c;
                Some(at)
            })
            .collect();
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let mut buffer = vec![0u8; total];
        {
            let mut partition = PartitionMut::new(&mut buffer[..], &counts[..], &displs[..]);
            self.world.all_gather_varcount_into(local, &mut partition);
        }
        counts.iter().zip(&displs).map(|(&c, &d)| buffer[d as usize..(d + c) as usize].to_vec()).collect()
    }
}
