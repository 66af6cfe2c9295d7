//! laminar over MPI: `MpiRanks` implements the engine's `Ranks` with `MPI_Allgatherv`
//! (through rsmpi, the `mpi` crate, over the system's MPI library).
//!
//! One all-gather per exchange interval is the whole of a distributed run's communication (see
//! `laminar_engine::ranks`): every rank's message is first sized (`MPI_Allgather` of one count
//! per rank), then gathered (`MPI_Allgatherv`). A rank that fails ends the job with
//! `MPI_Abort` (`MpiRanks::abort`), so no rank waits forever in a collective its peer never
//! reaches.
//!
//! Everything here needs the `mpi` feature (and an MPI library: Debian's `libopenmpi-dev`, and
//! `libclang-dev` for the bindings); without it the crate is empty, so the workspace builds
//! without MPI.

#[cfg(feature = "mpi")]
mod world;
#[cfg(feature = "mpi")]
pub use world::MpiRanks;
