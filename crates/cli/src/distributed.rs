//! `mpirun -n R laminar run …`: whether this process is one rank of an MPI job, and ending the
//! whole job when one rank fails.
//!
//! Built with the `mpi` feature, a process started by an MPI launcher (it finds the launcher's
//! environment: Open MPI's `OMPI_COMM_WORLD_SIZE`, PMI's `PMI_SIZE`, PMIx's `PMIX_RANK`)
//! initialises MPI and runs as one rank; anything else is a one-process run. Without the feature,
//! a process started by a launcher with more than one rank is refused, so `mpirun -n 4` of a
//! build without MPI does not silently run the model four times.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;

/// The launcher's world size, if this process was started by an MPI launcher.
fn launcher_size() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"]
        .iter()
        .find_map(|v| std::env::var(v).ok())
        .and_then(|v| v.trim().parse().ok())
        .or_else(|| std::env::var("PMIX_RANK").ok().map(|_| 2))
}

#[cfg(feature = "mpi")]
pub type RankHandle = laminar_mpi::MpiRanks;

#[cfg(not(feature = "mpi"))]
#[derive(Debug)]
pub enum RankHandle {}

#[cfg(not(feature = "mpi"))]
impl laminar_engine::Ranks for RankHandle {
    fn rank(&self) -> usize {
        match *self {}
    }
    fn size(&self) -> usize {
        match *self {}
    }
    fn all_gather(&self, _: &[u8]) -> Vec<Vec<u8>> {
        match *self {}
    }
}

/// This process's rank in an MPI job, or `None` for a one-process run.
pub fn ranks() -> Result<Option<Arc<RankHandle>>> {
    let Some(size) = launcher_size() else { return Ok(None) };
    #[cfg(feature = "mpi")]
    {
        let _ = size;
        let ranks = laminar_mpi::MpiRanks::init()
            .ok_or_else(|| anyhow::anyhow!("MPI could not be initialised with MPI_THREAD_SERIALIZED"))?;
        Ok(if laminar_engine::Ranks::size(&ranks) > 1 { Some(Arc::new(ranks)) } else { None })
    }
    #[cfg(not(feature = "mpi"))]
    {
        if size > 1 {
            anyhow::bail!(
                "started by an MPI launcher with {size} ranks, but this laminar was built without MPI: build it with \
                 `cargo build --release --features mpi` (scripts/setup.sh --mpi installs Open MPI)"
            );
        }
        Ok(None)
    }
}

/// Passes a rank's outcome through; when it is an error in a job of several ranks, prints it and
/// ends every rank (`MPI_Abort`), so that none waits forever for the failed one.
pub fn end_all_ranks_on_error(ranks: Option<&RankHandle>, result: Result<ExitCode>) -> Result<ExitCode> {
    match (ranks, result) {
        #[cfg(feature = "mpi")]
        (Some(ranks), Err(e)) => {
            eprintln!("laminar (rank {}): error: {e:#}", laminar_engine::Ranks::rank(ranks));
            ranks.abort(2)
        }
        (_, result) => result,
    }
}
