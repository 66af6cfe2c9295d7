//! The output directory of a run (`FORMAT.md`): `manifest.json`, `spikes.h5` and one
//! frame report per recorded variable, written while the run goes.
//!
//! [`Recorder`] is the engine's [`Observer`]: the engine hands it each exchange interval's spikes
//! and samples on the calling thread; it appends them to buffered HDF5 writers (memory stays
//! bounded). The manifest is written before the run (marked incomplete) and rewritten at the end
//! with the simulated time and whether the run completed, so an interrupted run leaves a valid,
//! self-describing directory.
//!
//! # When a write fails (a full disk)
//!
//! The first failed write ends the run: the recorder returns the error to the engine, which stops
//! at the next exchange interval, and refuses everything after it. Two things make the files
//! valid afterwards:
//!
//! * A [`SpaceReserve`] taken at the start holds back the space closing needs (one HDF5 chunk per
//!   column plus metadata); it is given back before the files are closed, so HDF5 can write its
//!   metadata even on a full disk.
//! * At an exchange boundary every `MARK_STRIDE` steps the recorder notes how many events and
//!   frames each file has been given (a *mark*, a few counters, no system call). After a failure
//!   every file is cut back to the last mark, so all of them end at the same step boundary, and
//!   the manifest says that time and why the run stopped.
//!
//! # Checkpoints and resuming
//!
//! A run that writes checkpoints calls [`Recorder::checkpoint`] between engine runs: every
//! buffered event and frame goes to its file, the files are flushed to disk, the mark moves there
//! and the manifest notes the checkpoint in the current segment. It returns the
//! [`RecorderPosition`] (the step and how many events and frames each file holds), which the
//! caller stores with the engine's state.
//!
//! [`Recorder::resume`] continues such a recording in a new process, from a position: it checks
//! the manifest and every file against the plans of the run that resumes (the same model,
//! populations, reports and projections; a difference is refused naming the file and what
//! differs), cuts every file back to the position — a process killed after its checkpoint may
//! have flushed more, and a process stopped by a signal has closed its files at a later step —
//! and appends from there. The writers restore what they keep in memory from the files (the
//! spike order, the report clocks), so the finished files hold exactly what one uninterrupted
//! recording would. The manifest is kept and gains a segment ([`crate::manifest`]).
//!
//! Report files are named after the variable (`V_m.h5`); when one variable is recorded for
//! several populations, each file is named `<variable>_<population>.h5`.
//!
//! The recording plans ([`ReportPlan`], [`WeightPlan`], [`RunInfo`]) are plain data: whoever
//! runs the network (the `laminar` binary, from a model file) fills them in.

use std::path::{Path, PathBuf};

use laminar_engine::{Observer, PopulationMeta, SpikeRecord, Step, WeightEvent};
use serde::{Deserialize, Serialize};

use crate::error::{OutputError, RecordError};
use crate::manifest::{CHECKPOINTED, COMPLETED, ENDED_UNCLOSED, Segment};
use crate::{
    FrameReportWriter, MANIFEST_FILE_NAME, Manifest, OutputFiles, PopulationEntry, ReportEntry, Result, SpaceReserve,
    SpikeWriter, WeightProjection, WeightWriter,
};

/// Spikes (or weight events) buffered per population before an append; also the HDF5 chunk
/// length. Each column's chunk is part of the space reserved for closing, so it is kept modest
/// (128 KiB of f64): appends stay rare (one per 16 Ki spikes) and the reserve small.
const SPIKE_CHUNK: usize = 1 << 14;
/// Bytes of frames a report buffers before an append, which is also its HDF5 chunk: as much as
/// a spike column's chunk. Each append writes the block, updates `mapping/time` and flushes the
/// file; at a fixed 256 frames that was every 25.6 ms of simulated time for a report sampled
/// every 0.1-ms step, 7 % of CUBA's run (`perf`: the HDF5 flush alone 4 %).
const FRAME_CHUNK_BYTES: usize = SPIKE_CHUNK * size_of::<f64>();
/// The fewest frames per append, for reports of many nodes (a frame of more than 128 values).
const MIN_FRAME_CHUNK: usize = 256;

/// Frames per append (and per HDF5 chunk) of a report with `values` values per frame.
fn frame_chunk(values: usize) -> usize {
    (FRAME_CHUNK_BYTES / (values.max(1) * size_of::<f32>())).max(MIN_FRAME_CHUNK)
}

/// Space reserved for HDF5's metadata at close (B-tree nodes, object headers, the free-space
/// bookkeeping of cut datasets), beyond the data chunks, and for the manifest's temporary copy.
const METADATA_RESERVE_BYTES: u64 = 256 * 1024;

/// Steps between marks. Any exchange boundary before a failure is a valid place to cut back to;
/// noting the counts at every interval (often every 0.1-ms step) cost CUBA 7 % of its run time,
/// every 256 steps costs nothing measurable, and a failure loses at most 256 steps more.
const MARK_STRIDE: Step = 256;

/// How far every file of a recording had been given data at a step boundary: a checkpoint's
/// position ([`Recorder::checkpoint`], [`Recorder::resume`]), and internally the mark a failed
/// write cuts back to (every `MARK_STRIDE` steps).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecorderPosition {
    /// The step boundary (time `step·h`).
    pub step: Step,
    /// Per recorded spike population, in the order of the populations: spikes.
    pub spikes: Vec<usize>,
    /// Per report, in the order of the report plans: frames.
    pub frames: Vec<u64>,
    /// Per recorded projection, in the order of the weight plans: weight events.
    pub weights: Vec<usize>,
}

/// One variable recorded from one population.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportPlan {
    pub population: String,
    pub variable: String,
    pub units: String,
    pub interval_ms: f64,
    /// Node ids within the population, ascending.
    pub nodes: Vec<u64>,
    /// Elements per node (compartments); each element comes from its own engine recording, and
    /// the engine recordings of a plan are consecutive, in element order.
    pub elements: usize,
}

/// A plastic projection whose weights go to `weights.h5`.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightPlan {
    /// Index of the projection in the network.
    pub projection: usize,
    pub name: String,
    pub units: String,
}

/// What ran (for the manifest).
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub model_path: String,
    pub model_text: String,
    pub seed: u64,
    pub resolution_ms: f64,
    pub duration_ms: f64,
    pub threads: usize,
    /// `--set` overrides applied on top of `model_text` (kept for provenance).
    pub overrides: Vec<String>,
    /// Where populations built by the column builder sit (layer, cell type, area, column), by
    /// population name; written into the manifest.
    pub placements: Vec<(String, crate::Placement)>,
}

/// Writes a run's output directory.
pub struct Recorder {
    dir: PathBuf,
    manifest: Manifest,
    spikes: Option<SpikeWriter>,
    /// Engine population index → index in the spike file (None: spikes not recorded).
    spike_population: Vec<Option<usize>>,
    /// Per report plan.
    reports: Vec<FrameReportWriter>,
    /// Per engine recording: (report, element).
    report_of: Vec<(usize, usize)>,
    /// Per report: the frame being assembled from its element recordings, by step.
    pending: Vec<std::collections::BTreeMap<Step, Vec<f32>>>,
    frame: Vec<f32>,
    weights: Option<WeightWriter>,
    /// Per network projection: its group in `weights.h5`.
    weight_group: Vec<Option<usize>>,
    reserve: SpaceReserve,
    resolution_ms: f64,
    mark: RecorderPosition,
    /// The first write error; once set, every further call fails with it.
    failure: Option<String>,
}

/// How a recording was closed.
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    /// The simulated time the files cover and the manifest records, in ms.
    pub simulated_ms: f64,
    /// Why the run stopped early, as the manifest says it (`None`: completed).
    pub stopped_early: Option<String>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("dir", &self.dir).finish()
    }
}

impl Recorder {
    /// Creates `dir` (it may exist: see [`prepare_output_dir`](crate::prepare_output_dir) for what a run checks first), the
    /// files, the manifest and the space reserve.
    /// `record_spikes[p]` says whether population p's spikes are recorded; `reports[r]` matches
    /// the engine's recording r.
    pub fn create(
        dir: &Path,
        info: &RunInfo,
        populations: &[PopulationMeta],
        record_spikes: &[bool],
        reports: &[ReportPlan],
        weight_plans: &[WeightPlan],
    ) -> Result<Self, OutputError> {
        std::fs::create_dir_all(dir).map_err(|source| OutputError::Io {
            action: format!("creating output directory {}", dir.display()),
            source,
        })?;
        let layout = Layout::new(populations, record_spikes, reports, weight_plans);
        let (spikes, writers, weights) = open_writers(dir, &layout, reports, None)?;
        let manifest = Manifest {
            format_version: [0, 1],
            laminar_version: env!("CARGO_PKG_VERSION").to_string(),
            model_path: info.model_path.clone(),
            model_text: info.model_text.clone(),
            seed: info.seed,
            resolution_ms: info.resolution_ms,
            duration_ms: info.duration_ms,
            simulated_ms: 0.0,
            completed: false,
            stopped_early_reason: None,
            threads: info.threads,
            populations: population_entries(info, populations),
            files: OutputFiles {
                spikes: spikes.as_ref().map(|_| SPIKES_FILE.to_string()),
                reports: layout.entries.clone(),
                weights: weights.as_ref().map(|_| WEIGHTS_FILE.to_string()),
                nodes: None,
            },
            segments: vec![Segment::starting(0.0, info.threads)],
            extra: if info.overrides.is_empty() {
                Default::default()
            } else {
                let mut extra = serde_json::Map::new();
                extra.insert("overrides".into(), serde_json::json!(info.overrides));
                extra
            },
        };
        manifest.write(dir)?;
        Self::assemble(dir, info, manifest, layout, spikes, writers, weights, reports, weight_plans, 0)
    }

    /// Continues the recording in `dir` from `position` (returned by [`Recorder::checkpoint`] of
    /// the run being resumed), given the same plans as [`Recorder::create`] was. The manifest and
    /// the files must match the plans and `info` (model text, overrides, seed, resolution,
    /// populations, report mapping and units, projections), and hold at least the position's
    /// events and frames: if not, the error names the file and what differs. Every file is then
    /// cut back to the position (see the module docs), the manifest gains a segment starting
    /// there, and the recorder appends as the one that took the checkpoint would have. A resumed
    /// run may ask for a longer `duration_ms` than the first; the manifest records the new one.
    pub fn resume(
        dir: &Path,
        info: &RunInfo,
        populations: &[PopulationMeta],
        record_spikes: &[bool],
        reports: &[ReportPlan],
        weight_plans: &[WeightPlan],
        position: &RecorderPosition,
    ) -> Result<Self, OutputError> {
        let mut manifest = Manifest::read(dir)?;
        let layout = Layout::new(populations, record_spikes, reports, weight_plans);
        check_manifest(&dir.join(MANIFEST_FILE_NAME), &manifest, info, populations, &layout)?;
        check_position(dir, position, &layout)?;
        // Nothing has been changed so far; from here on each file is checked, then cut.
        let (spikes, writers, weights) = open_writers(dir, &layout, reports, Some(position))?;
        let from_ms = position.step as f64 * info.resolution_ms;
        for segment in &mut manifest.segments {
            if segment.outcome.is_none() {
                segment.outcome = Some(ENDED_UNCLOSED.to_owned());
            }
        }
        manifest.segments.push(Segment::starting(from_ms, info.threads));
        manifest.duration_ms = info.duration_ms;
        if !info.overrides.is_empty() {
            manifest.extra.insert("overrides".into(), serde_json::json!(info.overrides));
        }
        manifest.simulated_ms = from_ms;
        manifest.completed = false;
        manifest.stopped_early_reason = None;
        manifest.write(dir)?;
        Self::assemble(dir, info, manifest, layout, spikes, writers, weights, reports, weight_plans, position.step)
    }

    /// The recorder over opened files, with its space reserve and its mark at `step`.
    fn assemble(
        dir: &Path,
        info: &RunInfo,
        manifest: Manifest,
        layout: Layout,
        spikes: Option<SpikeWriter>,
        writers: Vec<FrameReportWriter>,
        weights: Option<WeightWriter>,
        reports: &[ReportPlan],
        weight_plans: &[WeightPlan],
        step: Step,
    ) -> Result<Self, OutputError> {
        let reserve = SpaceReserve::create(dir, reserve_bytes(&layout.spike_pops, reports, weight_plans, &manifest))?;
        let mut recorder = Self {
            dir: dir.to_path_buf(),
            manifest,
            spikes,
            spike_population: layout.spike_population,
            pending: vec![Default::default(); writers.len()],
            reports: writers,
            report_of: layout.report_of,
            frame: Vec::new(),
            weights,
            weight_group: layout.weight_group,
            reserve,
            resolution_ms: info.resolution_ms,
            mark: RecorderPosition::default(),
            failure: None,
        };
        recorder.set_mark(step);
        Ok(recorder)
    }

    /// Writes everything given so far to the files and flushes them to disk, moves the mark
    /// there and notes the checkpoint in the manifest (the current segment reached `now`, and
    /// `simulated_ms`: the files are known complete up to there). Returns where every file
    /// stands, for [`Recorder::resume`]. Call it between engine runs, after the run reached
    /// step `now`: a frame assembled from several element recordings must be complete. Fails if
    /// an earlier write failed; a failure here ends the recording as a failed write does.
    pub fn checkpoint(&mut self, now: Step) -> Result<RecorderPosition> {
        if let Some(failure) = &self.failure {
            return Err(RecordError::invalid_input(
                &self.dir,
                format!("no checkpoint can be taken: the recording failed earlier ({failure})"),
            ));
        }
        for (report, pending) in self.reports.iter().zip(&self.pending) {
            if let Some(&step) = pending.keys().next() {
                return Err(RecordError::invalid_input(
                    report.path(),
                    format!(
                        "no checkpoint can be taken at step {now}: the frame of step {step} lacks some of its \
                         elements' values (checkpoints go between engine runs)"
                    ),
                ));
            }
        }
        if let Err(error) = self.flush_all() {
            self.failure.get_or_insert_with(|| error.to_string());
            return Err(error);
        }
        self.set_mark(now);
        let to_ms = now as f64 * self.resolution_ms;
        if let Some(segment) = self.manifest.segments.last_mut() {
            segment.reached(to_ms, CHECKPOINTED);
        }
        self.manifest.simulated_ms = to_ms;
        if let Err(error) = self.manifest.write(&self.dir) {
            self.failure.get_or_insert_with(|| error.to_string());
            return Err(error);
        }
        Ok(self.mark.clone())
    }

    /// Appends every buffered event and frame and flushes every file to disk.
    fn flush_all(&mut self) -> Result<()> {
        if let Some(s) = self.spikes.as_mut() {
            s.flush()?;
        }
        for report in &mut self.reports {
            report.flush()?;
        }
        if let Some(w) = self.weights.as_mut() {
            w.flush()?;
        }
        Ok(())
    }

    /// Lists `nodes.h5` (written by the caller) in the manifest.
    pub fn set_nodes_file(&mut self, name: &str) {
        self.manifest.files.nodes = Some(name.to_string());
    }

    /// Closes the files and rewrites the manifest with the outcome: `simulated_ms` reached and,
    /// when the run stopped early, why. After a write error the files are first cut back to the
    /// last step boundary they all reached, and that is the time recorded. The manifest is
    /// written even when closing a file fails (saying so); only if it cannot be written does the
    /// previous one stay.
    pub fn finish(mut self, simulated_ms: f64, stopped_early: Option<String>) -> Result<Closed> {
        // Give back the reserved space first: closing may need it on a full disk.
        let mut first_error = self.reserve.release().err();
        let mut keep = |result: Result<()>| {
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        };
        let simulated_ms = match &self.failure {
            Some(_) => {
                keep(self.cut_to_mark());
                self.mark.step as f64 * self.resolution_ms
            }
            None => simulated_ms,
        };
        if let Some(s) = self.spikes.take() {
            keep(s.finish());
        }
        for r in std::mem::take(&mut self.reports) {
            keep(r.finish().map(drop));
        }
        if let Some(w) = self.weights.take() {
            keep(w.finish());
        }
        let stopped_early = match (&first_error, stopped_early) {
            (None, reason) => reason,
            (Some(e), reason) => Some(format!(
                "{}closing the recording failed, the files may be incomplete: {e:#}",
                reason.map(|r| format!("{r}; ")).unwrap_or_default()
            )),
        };
        if let Some(segment) = self.manifest.segments.last_mut() {
            segment.reached(simulated_ms, stopped_early.as_deref().unwrap_or(COMPLETED));
        }
        self.manifest.simulated_ms = simulated_ms;
        self.manifest.completed = stopped_early.is_none();
        self.manifest.stopped_early_reason = stopped_early.clone();
        self.manifest.write(&self.dir)?;
        match first_error {
            Some(e) => Err(e),
            None => Ok(Closed { simulated_ms, stopped_early }),
        }
    }

    /// Cuts every file back to the last mark.
    fn cut_to_mark(&mut self) -> Result<()> {
        if let Some(s) = self.spikes.as_mut() {
            s.truncate(&self.mark.spikes)?;
        }
        for (report, &frames) in self.reports.iter_mut().zip(&self.mark.frames) {
            report.truncate(frames)?;
        }
        if let Some(w) = self.weights.as_mut() {
            w.truncate(&self.mark.weights)?;
        }
        Ok(())
    }

    /// Remembers the first write error and returns it for the engine.
    fn failed(&mut self, error: crate::RecordError) -> String {
        let message = error.to_string();
        self.failure.get_or_insert(message).clone()
    }
}

/// The spike file's name in the output directory.
const SPIKES_FILE: &str = "spikes.h5";
/// The weight file's name in the output directory.
const WEIGHTS_FILE: &str = "weights.h5";

/// The files a run's plans make, and where the engine's indices go in them.
struct Layout {
    /// Recorded spike populations: (name, size).
    spike_pops: Vec<(String, u64)>,
    /// Engine population index → index in the spike file (None: spikes not recorded).
    spike_population: Vec<Option<usize>>,
    /// Per report plan: its manifest entry (with the file name).
    entries: Vec<ReportEntry>,
    /// Per engine recording: (report, element).
    report_of: Vec<(usize, usize)>,
    weight_groups: Vec<WeightProjection>,
    /// Per network projection: its group in `weights.h5`.
    weight_group: Vec<Option<usize>>,
}

impl Layout {
    fn new(
        populations: &[PopulationMeta],
        record_spikes: &[bool],
        reports: &[ReportPlan],
        weight_plans: &[WeightPlan],
    ) -> Self {
        let mut spike_population = vec![None; populations.len()];
        let mut spike_pops = Vec::new();
        for (i, p) in populations.iter().enumerate() {
            if record_spikes.get(i).copied().unwrap_or(false) {
                spike_population[i] = Some(spike_pops.len());
                spike_pops.push((p.name.clone(), p.size as u64));
            }
        }
        let mut entries = Vec::with_capacity(reports.len());
        let mut report_of = Vec::new();
        for r in reports {
            let shared = reports.iter().filter(|o| o.variable == r.variable).count() > 1;
            let file =
                if shared { format!("{}_{}.h5", r.variable, r.population) } else { format!("{}.h5", r.variable) };
            for element in 0..r.elements.max(1) {
                report_of.push((entries.len(), element));
            }
            entries.push(ReportEntry {
                variable: r.variable.clone(),
                file,
                population: r.population.clone(),
                units: r.units.clone(),
                interval_ms: r.interval_ms,
            });
        }
        let weight_groups =
            weight_plans.iter().map(|w| WeightProjection { name: w.name.clone(), units: w.units.clone() }).collect();
        let mut weight_group = vec![None; weight_plans.iter().map(|w| w.projection + 1).max().unwrap_or(0)];
        for (k, w) in weight_plans.iter().enumerate() {
            weight_group[w.projection] = Some(k);
        }
        Self { spike_pops, spike_population, entries, report_of, weight_groups, weight_group }
    }
}

/// The manifest's entries for the populations.
fn population_entries(info: &RunInfo, populations: &[PopulationMeta]) -> Vec<PopulationEntry> {
    populations
        .iter()
        .map(|p| PopulationEntry {
            name: p.name.clone(),
            model: p.model.clone(),
            size: p.size as u64,
            first_gid: p.first_gid,
            placement: info.placements.iter().find(|(n, _)| *n == p.name).map(|(_, pl)| pl.clone()),
        })
        .collect()
}

/// Whether an override only sets the run's length or thread count (`simulation.duration_ms`,
/// `simulation.threads`), which a resumed run may change.
pub fn is_run_length_override(o: &str) -> bool {
    o.split_once('=').is_some_and(|(key, _)| matches!(key.trim(), "simulation.duration_ms" | "simulation.threads"))
}

/// Checks that the manifest of a recording being resumed describes the run resuming it: the
/// same model text and overrides, seed, resolution, populations and files.
fn check_manifest(
    path: &Path,
    manifest: &Manifest,
    info: &RunInfo,
    populations: &[PopulationMeta],
    layout: &Layout,
) -> Result<()> {
    let differs = |message: String| Err(RecordError::mismatch(path, message));
    if manifest.model_text != info.model_text {
        return differs(format!(
            "it records another model text than the run's ({} bytes, the run's {}; first difference at byte {})",
            manifest.model_text.len(),
            info.model_text.len(),
            manifest.model_text.bytes().zip(info.model_text.bytes()).take_while(|(a, b)| a == b).count()
        ));
    }
    let overrides: Vec<String> = match manifest.extra.get("overrides") {
        None => Vec::new(),
        Some(value) => serde_json::from_value(value.clone()).unwrap_or_else(|_| vec![value.to_string()]),
    };
    // A resumed run may change its duration and thread count, nothing else.
    let network = |o: &[String]| -> Vec<String> { o.iter().filter(|o| !is_run_length_override(o)).cloned().collect() };
    if network(&overrides) != network(&info.overrides) {
        return differs(format!("it records the overrides {overrides:?}, the run has {:?}", info.overrides));
    }
    if manifest.seed != info.seed {
        return differs(format!("it records seed {}, the run has seed {}", manifest.seed, info.seed));
    }
    if manifest.resolution_ms.to_bits() != info.resolution_ms.to_bits() {
        return differs(format!(
            "it records a resolution of {} ms, the run has {} ms",
            manifest.resolution_ms, info.resolution_ms
        ));
    }
    let expected = population_entries(info, populations);
    if manifest.populations.len() != expected.len() {
        return differs(format!("it lists {} populations, the run has {}", manifest.populations.len(), expected.len()));
    }
    for (found, expected) in manifest.populations.iter().zip(&expected) {
        let same = (&found.name, &found.model, found.size, found.first_gid)
            == (&expected.name, &expected.model, expected.size, expected.first_gid);
        if !same {
            return differs(format!(
                "it lists population {:?} ({}, {} cells from gid {}) where the run has {:?} ({}, {} cells from gid {})",
                found.name,
                found.model,
                found.size,
                found.first_gid,
                expected.name,
                expected.model,
                expected.size,
                expected.first_gid
            ));
        }
    }
    let listed = |file: &Option<String>| file.clone().unwrap_or_else(|| "none".to_owned());
    let spikes = (!layout.spike_pops.is_empty()).then(|| SPIKES_FILE.to_owned());
    if manifest.files.spikes != spikes {
        return differs(format!("its spike file is {}, the run's {}", listed(&manifest.files.spikes), listed(&spikes)));
    }
    let weights = (!layout.weight_groups.is_empty()).then(|| WEIGHTS_FILE.to_owned());
    if manifest.files.weights != weights {
        return differs(format!(
            "its weight file is {}, the run's {}",
            listed(&manifest.files.weights),
            listed(&weights)
        ));
    }
    if manifest.files.reports != layout.entries {
        let describe = |entries: &[ReportEntry]| {
            entries
                .iter()
                .map(|r| {
                    format!(
                        "{} of {} in {} ({}, every {} ms)",
                        r.variable, r.population, r.file, r.units, r.interval_ms
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        return differs(format!(
            "it lists the reports [{}], the run records [{}]",
            describe(&manifest.files.reports),
            describe(&layout.entries)
        ));
    }
    Ok(())
}

/// Checks that a checkpoint's position counts what the plans record.
fn check_position(dir: &Path, position: &RecorderPosition, layout: &Layout) -> Result<()> {
    let counts = [
        ("spike populations", position.spikes.len(), layout.spike_pops.len()),
        ("reports", position.frames.len(), layout.entries.len()),
        ("weight projections", position.weights.len(), layout.weight_groups.len()),
    ];
    for (what, given, recorded) in counts {
        if given != recorded {
            return Err(RecordError::mismatch(
                dir,
                format!("the checkpoint's recording position counts {given} {what}, the run records {recorded}"),
            ));
        }
    }
    Ok(())
}

/// The space closing may need on a full disk: a chunk per column of every event group, a chunk
/// of every report, the metadata and a second manifest (written beside the first, then renamed).
fn reserve_bytes(
    spike_pops: &[(String, u64)],
    reports: &[ReportPlan],
    weight_plans: &[WeightPlan],
    manifest: &Manifest,
) -> u64 {
    let chunk_bytes = (SPIKE_CHUNK * size_of::<f64>()) as u64;
    let spikes = spike_pops.len() as u64 * 2 * chunk_bytes;
    let weights = weight_plans.len() as u64 * 4 * chunk_bytes;
    let frames: u64 = reports
        .iter()
        .map(|r| {
            let values = r.nodes.len() * r.elements.max(1);
            (frame_chunk(values) * values * size_of::<f32>()) as u64
        })
        .sum();
    let manifest_bytes = serde_json::to_vec_pretty(manifest).map_or(0, |json| json.len() as u64);
    spikes + weights + frames + METADATA_RESERVE_BYTES + 2 * manifest_bytes
}

impl Observer for Recorder {
    fn spikes(&mut self, spikes: &[SpikeRecord]) -> Result<(), String> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        let Some(writer) = self.spikes.as_mut() else { return Ok(()) };
        for s in spikes {
            if let Some(p) = self.spike_population[s.population]
                && let Err(e) = writer.push(p, s.node, s.time_ms)
            {
                return Err(self.failed(e));
            }
        }
        Ok(())
    }

    fn frame(&mut self, recording: usize, step: Step, values: &[f64]) -> Result<(), String> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        self.push_frame(recording, step, values).map_err(|e| self.failed(e))
    }

    fn weights(&mut self, events: &[WeightEvent]) -> Result<(), String> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        let Some(writer) = self.weights.as_mut() else { return Ok(()) };
        for e in events {
            if let Some(Some(group)) = self.weight_group.get(e.projection)
                && let Err(error) = writer.push(*group, e.t_ms, e.source, e.target, e.weight)
            {
                return Err(self.failed(error));
            }
        }
        Ok(())
    }

    /// Every file has been given the data up to `now`: note the counts (see the module docs),
    /// every `MARK_STRIDE` steps.
    #[inline]
    fn progress(&mut self, now: Step) {
        if now >= self.mark.step + MARK_STRIDE && self.failure.is_none() {
            self.set_mark(now);
        }
    }
}

impl Recorder {
    fn set_mark(&mut self, now: Step) {
        self.mark.step = now;
        if let Some(s) = &self.spikes {
            s.pushed_counts(&mut self.mark.spikes);
        }
        self.mark.frames.clear();
        self.mark.frames.extend(self.reports.iter().map(FrameReportWriter::frames_pushed));
        if let Some(w) = &self.weights {
            w.pushed_counts(&mut self.mark.weights);
        }
    }

    fn push_frame(&mut self, recording: usize, step: Step, values: &[f64]) -> Result<()> {
        let (report, element) = self.report_of[recording];
        let elements = self.report_of.iter().filter(|(r, _)| *r == report).count();
        if elements == 1 {
            self.frame.clear();
            self.frame.extend(values.iter().map(|&v| v as f32));
            return self.reports[report].push_frame(&self.frame);
        }
        // Elements are node-major: node i's compartments are columns i·C … i·C + C − 1.
        let frame = self.pending[report].entry(step).or_insert_with(|| vec![0.0; values.len() * elements]);
        for (i, &v) in values.iter().enumerate() {
            frame[i * elements + element] = v as f32;
        }
        if element + 1 == elements {
            let frame = self.pending[report].remove(&step).unwrap_or_default();
            self.reports[report].push_frame(&frame)?;
        }
        Ok(())
    }
}

/// The writers of `layout`'s files in `dir`: created empty, or, at a checkpoint's position
/// (`at`), reopened, checked and cut back to it (see [`Recorder::resume`]).
#[allow(clippy::type_complexity)]
fn open_writers(
    dir: &Path,
    layout: &Layout,
    reports: &[ReportPlan],
    at: Option<&RecorderPosition>,
) -> Result<(Option<SpikeWriter>, Vec<FrameReportWriter>, Option<WeightWriter>), OutputError> {
    let spikes = if layout.spike_pops.is_empty() {
        None
    } else {
        let path = dir.join(SPIKES_FILE);
        Some(match at {
            None => SpikeWriter::create(&path, &layout.spike_pops, SPIKE_CHUNK)?,
            Some(p) => SpikeWriter::open_append(&path, &layout.spike_pops, SPIKE_CHUNK, &p.spikes)?,
        })
    };
    let mut writers = Vec::with_capacity(reports.len());
    for (i, (r, entry)) in reports.iter().zip(&layout.entries).enumerate() {
        let (path, elements) = (dir.join(&entry.file), vec![r.elements.max(1) as u32; r.nodes.len()]);
        let (population, nodes, interval, units) = (&r.population, &r.nodes, r.interval_ms, &r.units);
        let chunk = frame_chunk(r.nodes.len() * r.elements.max(1));
        writers.push(match at {
            None => FrameReportWriter::create(&path, population, nodes, &elements, interval, interval, units, chunk)?,
            Some(p) => FrameReportWriter::open_append(
                &path,
                population,
                nodes,
                &elements,
                interval,
                interval,
                units,
                chunk,
                p.frames[i],
            )?,
        });
    }
    let weights = if layout.weight_groups.is_empty() {
        None
    } else {
        let path = dir.join(WEIGHTS_FILE);
        Some(match at {
            None => WeightWriter::create(&path, &layout.weight_groups, SPIKE_CHUNK)?,
            Some(p) => WeightWriter::open_append(&path, &layout.weight_groups, SPIKE_CHUNK, &p.weights)?,
        })
    };
    Ok((spikes, writers, weights))
}
