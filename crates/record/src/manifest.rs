//! `manifest.json`: what ran and which file of the output directory holds what.
//!
//! The manifest makes an output directory self-describing: the model file is stored verbatim,
//! together with the seed, resolution and thread count needed to rerun it, whether the run
//! completed (and why not), and for every HDF5 file its role. File names are relative to the
//! directory. Fields not known yet belong in `extra`, so that later versions can add information
//! without breaking older readers.
//!
//! # Segments
//!
//! A run stopped and resumed from a checkpoint (`laminar resume`) is recorded by more than one
//! process; `segments` lists them in order, one per process that wrote the directory:
//!
//! ```json
//! "segments": [
//!   { "from_ms": 0.0, "to_ms": 500.0, "threads": 4, "started": 1718000000, "ended": 1718000042,
//!     "outcome": "interrupted by SIGTERM" },
//!   { "from_ms": 400.0, "to_ms": 1000.0, "threads": 2, "started": 1718000100, "ended": 1718000160,
//!     "outcome": "completed" }
//! ]
//! ```
//!
//! `from_ms` is where the segment's recording starts (0, or the checkpoint it resumed from:
//! whatever the files held beyond that was cut), `to_ms` how far it got, `started` and `ended`
//! wall-clock times in seconds since the Unix epoch (UTC), `outcome` [`COMPLETED`], why it stopped
//! early (as `stopped_early_reason` says it), or [`CHECKPOINTED`]: the segment's last word was a
//! checkpoint at `to_ms`, after which it was still running or was killed. `to_ms`, `ended` and
//! `outcome` are `null` for a segment that has written no checkpoint and not finished; when a
//! later segment resumes, such a segment's outcome becomes [`ENDED_UNCLOSED`]. Segments overlap
//! where a segment got further than the checkpoint the next one resumed from. The top-level
//! `threads` is the first segment's.
//!
//! `segments` is an addition to format 0.1: it is left out when empty, and a manifest without it
//! (written before it existed) reads as having none.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{RecordError, Result};

/// File name of the manifest inside an output directory.
pub const MANIFEST_FILE_NAME: &str = "manifest.json";

/// Contents of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Version of the recording format, `[major, minor]` (the HDF5 files' `@version`).
    pub format_version: [u32; 2],
    /// Version of laminar that wrote the directory.
    pub laminar_version: String,
    /// Path of the model file as given on the command line.
    pub model_path: String,
    /// The model file, verbatim.
    pub model_text: String,
    /// Master seed of the run.
    pub seed: u64,
    /// Simulation resolution (time step), in ms.
    pub resolution_ms: f64,
    /// Duration requested, in ms.
    pub duration_ms: f64,
    /// Biological time actually simulated, in ms (less than `duration_ms` if stopped early).
    pub simulated_ms: f64,
    /// Whether the run simulated the whole requested duration.
    pub completed: bool,
    /// Why the run stopped before `duration_ms` (interrupt, error …), when it did.
    pub stopped_early_reason: Option<String>,
    /// Worker threads used.
    pub threads: usize,
    /// The model's populations, in gid order.
    pub populations: Vec<PopulationEntry>,
    /// Which file holds what.
    pub files: OutputFiles,
    /// The processes that wrote the recording, in order (see the module docs); empty in
    /// manifests written before segments existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<Segment>,
    /// Further information, keyed by topic, for additions that have no field yet.
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The outcome of a segment that simulated everything asked.
pub const COMPLETED: &str = "completed";

/// The outcome of a segment that has written a checkpoint and not (yet) finished.
pub const CHECKPOINTED: &str = "checkpointed";

/// The outcome given to a segment that ended without closing the recording (killed, crashed)
/// and without a checkpoint, when a later segment resumes the run.
pub const ENDED_UNCLOSED: &str = "ended without closing the recording (killed or crashed)";

/// One process's part of a run (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Simulated time at which the segment's recording starts, in ms.
    pub from_ms: f64,
    /// Simulated time the segment reached (its last checkpoint, or where it finished), in ms.
    pub to_ms: Option<f64>,
    /// Worker threads of the segment.
    pub threads: usize,
    /// When the segment started, in seconds since the Unix epoch (UTC).
    pub started: u64,
    /// When the segment last wrote the manifest (its last checkpoint or its end), in seconds
    /// since the Unix epoch (UTC).
    pub ended: Option<u64>,
    /// [`COMPLETED`], [`CHECKPOINTED`], why it stopped early, or [`ENDED_UNCLOSED`].
    pub outcome: Option<String>,
}

impl Segment {
    /// A segment starting now at `from_ms`.
    pub fn starting(from_ms: f64, threads: usize) -> Self {
        Self { from_ms, to_ms: None, threads, started: unix_seconds(), ended: None, outcome: None }
    }

    /// Notes that the segment reached `to_ms` now, with `outcome`.
    pub fn reached(&mut self, to_ms: f64, outcome: &str) {
        self.to_ms = Some(to_ms);
        self.ended = Some(unix_seconds());
        self.outcome = Some(outcome.to_owned());
    }
}

/// Seconds since the Unix epoch (0 if the clock is set before it).
fn unix_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// One population of the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PopulationEntry {
    /// Population name; also the SONATA population name in the HDF5 files.
    pub name: String,
    /// Neuron (or astrocyte) model.
    pub model: String,
    /// Number of cells; node ids in the files run from 0 to `size − 1`.
    pub size: u64,
    /// Global id of node 0, so that gid = `first_gid` + node id.
    pub first_gid: u64,
    /// Where the population sits in a circuit built by the column builder (layer, cell type,
    /// column, area); absent for populations declared one by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
}

/// The place of a population in a laminar circuit: what spikes are grouped by in analyses.
/// Every field is optional: a thalamic nucleus has no layer, a single column no area.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Cortical layer (`"L23"`), as named in the description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Cell type (`"L23E"`, a thalamic nucleus `"core"` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell_type: Option<String>,
    /// Area (`"V1"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// Column name within the area (`"c3"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Column index within the area, 0-based (what per-column inputs address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_index: Option<u32>,
}

/// The HDF5 files of the directory. Names are relative to the directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputFiles {
    /// `spikes.h5`, when spikes were recorded.
    pub spikes: Option<String>,
    /// Frame reports, one per recorded variable and population.
    #[serde(default)]
    pub reports: Vec<ReportEntry>,
    /// `weights.h5`, when weights of plastic projections were recorded.
    pub weights: Option<String>,
    /// `nodes.h5` (with `node_types.csv`): the circuit's nodes with their layer, cell type,
    /// area, column and position, when the model was built by the column builder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<String>,
}

/// One frame report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportEntry {
    /// Recorded variable (`"V_m"`, `"Ca_astro"` …).
    pub variable: String,
    /// File name, e.g. `"V_m.h5"`.
    pub file: String,
    /// SONATA population inside the file (`/report/<population>`).
    pub population: String,
    /// Unit of the values (the `data/@units` attribute).
    pub units: String,
    /// Sampling interval, in ms (the `dt` of `mapping/time`).
    pub interval_ms: f64,
}

impl Manifest {
    /// Writes `dir/manifest.json` atomically: the JSON goes to a temporary file in the same
    /// directory, is synced, then renamed over the old manifest, so a reader (or a crash) sees
    /// either the old or the new manifest, never a truncated one.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let target = dir.join(MANIFEST_FILE_NAME);
        let mut json = serde_json::to_vec_pretty(self).map_err(|cause| RecordError::Json {
            path: target.clone(),
            action: "serialise".to_owned(),
            cause,
        })?;
        json.push(b'\n');

        let temporary = dir.join(format!(".{MANIFEST_FILE_NAME}.{}.tmp", std::process::id()));
        let io_error = |path: &PathBuf, action: &str| {
            let path = path.clone();
            let action = action.to_owned();
            move |cause| RecordError::Io { path, action, cause }
        };
        let written = fs::File::create(&temporary)
            .and_then(|mut file| {
                file.write_all(&json)?;
                file.sync_all()
            })
            .map_err(io_error(&temporary, "write"));
        if let Err(error) = written.and_then(|()| fs::rename(&temporary, &target).map_err(io_error(&target, "replace")))
        {
            // Do not leave a stray temporary file behind; the original error is what matters.
            let _ = fs::remove_file(&temporary);
            return Err(error);
        }
        Ok(())
    }

    /// Reads `dir/manifest.json`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE_NAME);
        let text = fs::read(&path).map_err(|cause| RecordError::Io {
            path: path.clone(),
            action: "read".to_owned(),
            cause,
        })?;
        serde_json::from_slice(&text).map_err(|cause| RecordError::Json { path, action: "parse".to_owned(), cause })
    }
}
