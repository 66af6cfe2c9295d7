//! Recording for laminar: writers and readers of the output directory of a run.
//!
//! A run writes one directory:
//!
//! ```text
//! <out>/
//!   manifest.json   what ran (model file verbatim, seed, resolution, duration, threads,
//!                   populations) and which file holds what            — [`manifest`]
//!   spikes.h5       all spikes, one SONATA population per model population — [`spikes`]
//!   <variable>.h5   one SONATA frame report per recorded variable         — [`report`]
//!   weights.h5      weight events of plastic projections (laminar extension) — [`weights`]
//!   nodes.h5        the circuit's neurons, one SONATA node population per model
//!   node_types.csv  population, so spikes can be grouped by layer/column/area — [`nodes`]
//! ```
//!
//! A circuit export (`laminar build MODEL.toml --export DIR`) writes `nodes.h5` +
//! `node_types.csv` and `edges.h5` + `edge_types.csv` ([`edges`]: one SONATA edge population per
//! projection, streamed, with the `indices` libsonata and bmtk use for afferent/efferent
//! queries).
//!
//! The HDF5 files follow the SONATA data format (AllenInstitute/sonata, with Blue Brain's
//! clarifications) so that h5py, libsonata and bmtk read them without conversion. The details
//! those readers depend on, each explained where it is written:
//!
//! * root attributes `@magic` = `0x0A7A` (u32) and `@version` = `[0, 1]` (u32\[2\]);
//! * `spikes/<population>/@sorting` is an HDF5 *enum* over u8, claiming `by_time` only when true;
//! * every `@units` is a variable-length UTF-8 string;
//! * reports have `index_pointers` with N+1 entries plus a hard link `index_pointer`,
//!   `element_pos`, float32 uncompressed `data`, and a `tstop` for which libsonata and bmtk
//!   count the same number of frames.
//!
//! Data are streamed: events and frames are buffered in memory and appended a chunk at a time
//! (`resize` + `write_slice`), and the file is flushed after every append. Memory stays bounded
//! however long the run, and a process that dies leaves files that are valid and hold
//! everything appended so far. The writers' `finish` methods write what is buffered and close;
//! dropping a writer does the same on a best-effort basis.
//!
//! For a failed write (a full disk) the writers can be cut back to a mark (`pushed_counts` /
//! `truncate`, [`FrameReportWriter::truncate`]), so that all files of a run end at the same step
//! boundary, and a [`SpaceReserve`] holds back the space their closing needs.
//!
//! A run's recording is driven by [`Recorder`] ([`recorder`]), the engine's `Observer`: it
//! creates the files and the manifest, hands each exchange interval's spikes, samples and weights
//! to the writers, and closes them (cut back to a common step boundary after a failed write).
//! At a checkpoint it flushes everything and returns the position of every file; a later process
//! resumes the recording from that position ([`Recorder::resume`]: the writers' `open_append`
//! reopen the files, cut what lies beyond it and append from there), and the manifest lists the
//! segments that wrote it.
//! [`output_dir`] checks whether a run may write into a directory, and summarises a recording.
//! The writers and readers themselves know nothing of the engine: they are given names, ids,
//! times and values; only [`recorder`] uses the engine's types.

pub mod arrays;
pub mod edges;
mod error;
mod events;
mod h5;
pub mod manifest;
pub mod nodes;
pub mod output_dir;
pub mod read;
pub mod recorder;
pub mod report;
pub mod reserve;
pub mod spikes;
pub mod weights;

pub mod readback;

pub use arrays::{ArrayFileReader, ArrayFileWriter, AttrValue, F64Array};
pub use edges::{EdgePopulationSpec, EdgeWriter};
pub use error::{OutputError, RecordError, Result, condensed_hdf5_message};
pub use h5::{MAGIC, Sorting, VERSION};
pub use manifest::{MANIFEST_FILE_NAME, Manifest, OutputFiles, Placement, PopulationEntry, ReportEntry, Segment};
pub use nodes::{NodeAttribute, NodePopulation, NodeValues, write_nodes};
pub use output_dir::{check_output_dir, inspect, prepare_output_dir};
pub use read::{Report, SpikePopulation, WeightEvents, read_report, read_spikes, read_weights};
pub use recorder::{Closed, Recorder, RecorderPosition, ReportPlan, RunInfo, WeightPlan, is_run_length_override};
pub use report::{FrameReportSummary, FrameReportWriter};
pub use reserve::{RESERVE_FILE_NAME, SpaceReserve};
pub use spikes::SpikeWriter;
pub use weights::{WeightProjection, WeightWriter};

// The writers are handed to whatever thread does the recording: keep them `Send`.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<SpikeWriter>();
    assert_send::<FrameReportWriter>();
    assert_send::<WeightWriter>();
    assert_send::<EdgeWriter>();
};
