//! `mpirun -n R laminar run …`: whether this process is one rank of an MPI job, and ending the
//! whole job when one rank fails.
//!
//! Built with the `mpi` feature, a process started by an MPI launcher (it finds the launcher's
//! environment: Open MPI's `OMPI_COMM_WORLD_SIZE`, PMI's `PMI_SIZE` or `PMI_RANK`, PMIx's
//! `PMIX_RANK`, as `mpirun` and `srun` set them) initialises MPI and runs as one rank; anything
//! else is a one-process run. Without the feature, a process that a launcher says is one of
//! several is refused, so `mpirun -n 4` of a build without MPI does not silently run the model
//! four times. (A batch script's own environment, such as `SLURM_NTASKS`, is not a launcher's:
//! `laminar run` called directly in an allocation of several tasks runs as one process.)

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;

/// Whether this process was started by an MPI launcher.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
fn under_launcher() -> bool {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK"].iter().any(|v| std::env::var_os(v).is_some())
}

/// The world size the launcher states, where it states one.
#[cfg_attr(feature = "mpi", allow(dead_code))]
fn launcher_size() -> Option<usize> {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"].iter().find_map(|v| std::env::var(v).ok()).and_then(|v| v.trim().parse().ok())
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
    #[cfg(feature = "mpi")]
    {
        if !under_launcher() {
            return Ok(None);
        }
        let ranks = laminar_mpi::MpiRanks::init()
            .ok_or_else(|| anyhow::anyhow!("MPI could not be initialised with MPI_THREAD_SERIALIZED"))?;
        Ok(if laminar_engine::Ranks::size(&ranks) > 1 { Some(Arc::new(ranks)) } else { None })
    }
    #[cfg(not(feature = "mpi"))]
    {
        let size = launcher_size().unwrap_or(1);
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
