//! `<variable>.h5`: a SONATA frame-oriented report of one variable of one population
//! (`V_m.h5`, `v_comp1.h5`, `Ca_astro.h5` …).
//!
//! ```text
//! /  @magic u32 = 0x0A7A   @version u32[2] = [0, 1]
//! /report/<population>/
//!     data                   f32 [T, E], chunked (Tc, E), maxshape (unlimited, E), no compression
//!                            @units = variable-length UTF-8 ("mV", "pA", "nS", "uM")
//!     mapping/node_ids       u64 [N]      @sorted = u8 1 when strictly ascending, else 0
//!     mapping/index_pointers u64 [N+1]    index_pointers[0] = 0, index_pointers[N] = E
//!     mapping/index_pointer  hard link to index_pointers (bmtk reads only this name)
//!     mapping/element_ids    u32 [E]      compartment index within the cell (0 = soma)
//!     mapping/element_pos    f32 [E]      0.5 (position along the section; bmtk needs it)
//!     mapping/time           f64 [3] = [tstart, tstop, dt]   @units = "ms"
//! ```
//!
//! One element per (cell, compartment): row `t` of `data` holds the values of all `E` elements
//! at time `tstart + t·dt`, cell after cell, in the order of `node_ids`.
//!
//! # How `tstop` is chosen
//!
//! SONATA stores no frame count: readers derive it from `time`, and they do not agree on how.
//!
//! * libsonata (checked with 0.2.2 and its source) walks `t = tstart; t < tstop − 1e-6;
//!   t += dt`, one frame per iteration, accumulating `dt` in `f64`. Its count is therefore
//!   the *ceiling* of `(tstop − tstart)/dt` (not the rounding): a `tstop` even 0.1·dt past the
//!   last frame makes it read one row beyond the dataset and fail.
//! * bmtk 1.2.0 computes `int((tstop − tstart) / dt)`, the *truncation*: a `tstop` one ulp short
//!   of `tstart + T·dt` loses the last frame.
//!
//! Both give `T` only when `tstop − tstart` is `T·dt` up to libsonata's 1e-6 ms tolerance, so the
//! writer replays both computations exactly ([`libsonata_frame_count`], [`bmtk_frame_count`])
//! and picks the `tstop` near `tstart + T·dt` for which both return `T`. Over millions of frames
//! libsonata's accumulated times can drift from `tstart + k·dt` by more than its tolerance; if
//! no `tstop` then satisfies both, the writer keeps libsonata correct (bmtk would miss the last
//! frame, libsonata would fail outright) and says so in [`FrameReportSummary::readers_agree`].
//!
//! `tstop` is rewritten after every append, *after* the rows are in the file, so that at any
//! moment the file claims no frame it does not contain: a run killed mid-way leaves a valid
//! report of what was flushed.
//!
//! # Resuming
//!
//! A recording resumed from a checkpoint reopens the report ([`FrameReportWriter::open_append`]):
//! the mapping, times and units must be the ones the run would write, the rows beyond the
//! checkpoint's frame count are cut (with `tstop` lowered first, as in
//! [`FrameReportWriter::truncate`]), and the libsonata clock is replayed up to that count, so the
//! `tstop`s written from then on are those of the uninterrupted writer.

use std::path::{Path, PathBuf};

use hdf5::{Dataset, File};

use crate::error::{Hdf5Context, RecordError, Result};
use crate::events::flush_file;
use crate::h5::{
    check_group_name, create_file, member_names, open_file_rw, open_group, read_column, read_string_attr,
    write_string_attr,
};

/// libsonata's tolerance, in ms, when it compares frame times.
pub const LIBSONATA_TIME_EPSILON_MS: f64 = 1e-6;

/// HDF5 refuses chunks of 4 GiB or more.
const MAX_CHUNK_BYTES: usize = (1 << 32) - 1;

/// Streams the frames of one variable of one population into a SONATA report file.
///
/// Frames are buffered and appended `chunk_frames` at a time; `mapping/time` and the file are
/// updated at every append. Call [`FrameReportWriter::finish`] to write the remaining frames and
/// close the file; dropping the writer does the same on a best-effort basis.
pub struct FrameReportWriter {
    path: PathBuf,
    n_elements: usize,
    chunk_frames: usize,
    /// Up to `chunk_frames` frames, row after row.
    pending: Vec<f32>,
    clock: FrameClock,
    /// `None` once closed.
    open: Option<OpenReport>,
}

struct OpenReport {
    file: File,
    data: Dataset,
    time: Dataset,
}

/// What a finished report contains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameReportSummary {
    /// Rows of `data`.
    pub frames: u64,
    /// The `tstop` written in `mapping/time`.
    pub tstop_ms: f64,
    /// Whether bmtk counts `frames` frames too (libsonata always does); see the module docs.
    pub readers_agree: bool,
}

impl FrameReportWriter {
    /// Creates (or truncates) `path` for a report of `population`.
    ///
    /// `node_ids` are 0-based within the population, in the order of the columns of each frame;
    /// `elements_per_node[i]` is the number of compartments of `node_ids[i]` (1 for a point
    /// neuron). Frame `k` is the state at `tstart_ms + k·dt_ms`; `units` is the variable's unit.
    /// `chunk_frames` frames are buffered before each append, which is also the HDF5 chunk
    /// length.
    pub fn create(
        path: &Path,
        population: &str,
        node_ids: &[u64],
        elements_per_node: &[u32],
        tstart_ms: f64,
        dt_ms: f64,
        units: &str,
        chunk_frames: usize,
    ) -> Result<Self> {
        let layout = check_arguments(path, population, node_ids, elements_per_node, tstart_ms, dt_ms, chunk_frames)?;
        let n_elements = layout.element_ids.len();
        let file = create_file(path)?;
        let report = file
            .create_group("report")
            .and_then(|report| report.create_group(population))
            .context(path, || format!("create group /report/{population}"))?;
        let mapping =
            report.create_group("mapping").context(path, || format!("create group /report/{population}/mapping"))?;

        let write_column = |name: &str, result: hdf5::Result<Dataset>| {
            result.context(path, || format!("write dataset /report/{population}/mapping/{name}"))
        };
        let node_ids_ds =
            write_column("node_ids", mapping.new_dataset_builder().with_data(node_ids).create("node_ids"))?;
        let ascending = node_ids.windows(2).all(|pair| pair[0] < pair[1]);
        node_ids_ds
            .new_attr::<u8>()
            .create("sorted")
            .and_then(|attr| attr.write_scalar(&u8::from(ascending)))
            .context(path, || format!("write attribute /report/{population}/mapping/node_ids/@sorted"))?;
        write_column(
            "index_pointers",
            mapping.new_dataset_builder().with_data(&layout.index_pointers).create("index_pointers"),
        )?;
        mapping
            .link_hard("index_pointers", "index_pointer")
            .context(path, || format!("link /report/{population}/mapping/index_pointer to index_pointers"))?;
        write_column(
            "element_ids",
            mapping.new_dataset_builder().with_data(&layout.element_ids).create("element_ids"),
        )?;
        let element_pos = vec![0.5_f32; n_elements];
        write_column("element_pos", mapping.new_dataset_builder().with_data(&element_pos).create("element_pos"))?;

        let clock = FrameClock::new(tstart_ms, dt_ms);
        let time = write_column("time", mapping.new_dataset_builder().with_data(&clock.time_dataset()).create("time"))?;
        write_string_attr(path, &time, "units", "ms")?;

        let data = report
            .new_dataset::<f32>()
            .chunk((chunk_frames, n_elements))
            .shape((0.., n_elements))
            .create("data")
            .context(path, || format!("create dataset /report/{population}/data"))?;
        write_string_attr(path, &data, "units", units)?;
        drop((report, mapping, node_ids_ds));
        flush_file(path, &file)?;

        Ok(Self {
            path: path.to_path_buf(),
            n_elements,
            chunk_frames,
            pending: Vec::with_capacity(chunk_frames * n_elements),
            clock,
            open: Some(OpenReport { file, data, time }),
        })
    }

    /// Reopens `path`, written by [`FrameReportWriter::create`] with the same arguments, to
    /// continue it from a checkpoint taken after `frames` frames (from
    /// [`FrameReportWriter::frames_pushed`] after a flush). The file must hold exactly this
    /// population, the same mapping (node ids, elements), `tstart`, `dt` and units, and at least
    /// `frames` rows; rows beyond are cut (a killed process may have appended more after the
    /// checkpoint), and pushing continues as from the writer that counted them. A file that does
    /// not match is left as it is and the error says what differs.
    pub fn open_append(
        path: &Path,
        population: &str,
        node_ids: &[u64],
        elements_per_node: &[u32],
        tstart_ms: f64,
        dt_ms: f64,
        units: &str,
        chunk_frames: usize,
        frames: u64,
    ) -> Result<Self> {
        let layout = check_arguments(path, population, node_ids, elements_per_node, tstart_ms, dt_ms, chunk_frames)?;
        let n_elements = layout.element_ids.len();
        let file = open_file_rw(path)?;
        let report = open_group(path, &file, "report")?;
        let populations = member_names(path, &report)?;
        if populations != [population] {
            return Err(RecordError::mismatch(
                path,
                format!("it holds the report populations {populations:?} but the run records [{population:?}]"),
            ));
        }
        let group = open_group(path, &report, population)?;
        let mapping = open_group(path, &group, "mapping")?;
        let differs = |what: &str, found: String, expected: String| {
            RecordError::mismatch(
                path,
                format!("/report/{population}/mapping/{what} is {found} but the run records {expected}"),
            )
        };
        let compare = |what: &str, found: &[u64], expected: &[u64]| match first_difference(found, expected) {
            None => Ok(()),
            Some(difference) => Err(RecordError::mismatch(
                path,
                format!("/report/{population}/mapping/{what} differs from the run's: {difference}"),
            )),
        };
        compare("node_ids", &read_column::<u64>(path, &mapping, "node_ids")?, node_ids)?;
        compare("index_pointers", &read_column::<u64>(path, &mapping, "index_pointers")?, &layout.index_pointers)?;
        let wide = |ids: &[u32]| ids.iter().map(|&id| u64::from(id)).collect::<Vec<_>>();
        compare("element_ids", &wide(&read_column::<u32>(path, &mapping, "element_ids")?), &wide(&layout.element_ids))?;
        let in_file = read_column::<f64>(path, &mapping, "time")?;
        let &[tstart_in_file, _, dt_in_file] = in_file.as_slice() else {
            return Err(differs(
                "time",
                format!("{in_file:?}"),
                format!("[tstart, tstop, dt] = [{tstart_ms}, …, {dt_ms}]"),
            ));
        };
        // The same numbers, bit for bit: the frame times are accumulated from them.
        if tstart_in_file.to_bits() != tstart_ms.to_bits() || dt_in_file.to_bits() != dt_ms.to_bits() {
            return Err(differs(
                "time",
                format!("tstart {tstart_in_file} ms, dt {dt_in_file} ms"),
                format!("tstart {tstart_ms} ms, dt {dt_ms} ms"),
            ));
        }
        let time = mapping.dataset("time").context(path, || format!("open /report/{population}/mapping/time"))?;
        let data = group.dataset("data").context(path, || format!("open /report/{population}/data"))?;
        let shape = data.shape();
        let rows = match shape.as_slice() {
            &[rows, columns] if columns == n_elements => rows,
            _ => {
                return Err(RecordError::mismatch(
                    path,
                    format!("/report/{population}/data has shape {shape:?}, expected [frames, {n_elements}]"),
                ));
            }
        };
        let is_f32 = data.dtype().is_ok_and(|dtype| dtype.is::<f32>());
        if !is_f32 || !data.is_resizable() {
            return Err(RecordError::mismatch(
                path,
                format!("/report/{population}/data is not a resizable float32 dataset"),
            ));
        }
        let units_in_file = read_string_attr(path, &data, "units")?;
        if units_in_file != units {
            return Err(RecordError::mismatch(
                path,
                format!("/report/{population}/data is in {units_in_file:?} but the run records {units:?}"),
            ));
        }
        if (rows as u64) < frames {
            return Err(RecordError::mismatch(
                path,
                format!(
                    "/report/{population}/data holds {rows} frames but the checkpoint was taken after {frames}: the \
                     file lost frames it had then"
                ),
            ));
        }
        drop((report, group, mapping));

        // `tstop` first, then the rows, as `truncate` does; `flush` writes both to disk.
        let mut clock = FrameClock::new(tstart_ms, dt_ms);
        clock.advance(frames);
        time.write(&clock.time_dataset()).context(path, || format!("update tstop in {}", time.name()))?;
        let keep = usize::try_from(frames).map_err(|_| {
            RecordError::invalid_input(path, "the report has more frames than this platform can address")
        })?;
        data.resize((keep, n_elements)).context(path, || format!("cut {} to {keep} frames", data.name()))?;
        let mut writer = Self {
            path: path.to_path_buf(),
            n_elements,
            chunk_frames,
            pending: Vec::with_capacity(chunk_frames * n_elements),
            clock,
            open: Some(OpenReport { file, data, time }),
        };
        writer.flush()?;
        Ok(writer)
    }

    /// Records the next frame: one value per element, in the order of the mapping.
    pub fn push_frame(&mut self, values: &[f32]) -> Result<()> {
        if values.len() != self.n_elements {
            return Err(RecordError::invalid_input(
                &self.path,
                format!("a frame has {} values but the report has {} elements", values.len(), self.n_elements),
            ));
        }
        if self.open.is_none() {
            return Err(RecordError::invalid_input(&self.path, "the file is already closed"));
        }
        self.pending.extend_from_slice(values);
        if self.pending.len() >= self.chunk_frames * self.n_elements {
            self.append_pending()?;
        }
        Ok(())
    }

    /// Appends the buffered frames, updates `tstop` and flushes the file to disk.
    pub fn flush(&mut self) -> Result<()> {
        self.append_pending()
    }

    /// Keeps only the first `frames` frames pushed (see [`frames_pushed`](Self::frames_pushed)):
    /// drops buffered frames beyond them and cuts the file's rows, also rows that a failed
    /// append had added without writing. `tstop` is lowered before the rows go, so the file
    /// never claims a frame it lacks.
    pub fn truncate(&mut self, frames: u64) -> Result<()> {
        let path = &self.path;
        let open = self.open.as_ref().ok_or_else(|| RecordError::invalid_input(path, "the file is already closed"))?;
        let in_file = self.clock.frames;
        if frames >= in_file {
            let keep = usize::try_from(frames - in_file).unwrap_or(usize::MAX).saturating_mul(self.n_elements);
            self.pending.truncate(keep);
        } else {
            self.pending.clear();
            let mut clock = FrameClock::new(self.clock.tstart, self.clock.dt);
            clock.advance(frames);
            self.clock = clock;
            open.time
                .write(&self.clock.time_dataset())
                .context(path, || format!("update tstop in {}", open.time.name()))?;
        }
        let rows = usize::try_from(self.clock.frames).map_err(|_| {
            RecordError::invalid_input(path, "the report has more frames than this platform can address")
        })?;
        open.data.resize((rows, self.n_elements)).context(path, || format!("cut {} to {rows} frames", open.data.name()))
    }

    /// Appends the buffered frames and closes the file.
    pub fn finish(mut self) -> Result<FrameReportSummary> {
        self.close()?;
        Ok(self.summary())
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of elements (values per frame).
    pub fn n_elements(&self) -> usize {
        self.n_elements
    }

    /// Frames pushed so far, in the file or buffered.
    pub fn frames_pushed(&self) -> u64 {
        self.clock.frames + (self.pending.len() / self.n_elements) as u64
    }

    /// What the file contains now (buffered frames are not counted).
    pub fn summary(&self) -> FrameReportSummary {
        let (tstop_ms, readers_agree) = self.clock.tstop();
        FrameReportSummary { frames: self.clock.frames, tstop_ms, readers_agree }
    }

    fn append_pending(&mut self) -> Result<()> {
        let path = &self.path;
        let open = self.open.as_ref().ok_or_else(|| RecordError::invalid_input(path, "the file is already closed"))?;
        let new_frames = self.pending.len() / self.n_elements;
        if new_frames == 0 {
            return flush_file(path, &open.file);
        }
        let first_row = usize::try_from(self.clock.frames).map_err(|_| {
            RecordError::invalid_input(path, "the report has more frames than this platform can address")
        })?;
        let rows = first_row..first_row + new_frames;
        open.data
            .resize((rows.end, self.n_elements))
            .context(path, || format!("grow {} to {} frames", open.data.name(), rows.end))?;
        // One write for the whole block: a write per row costs a hyperslab selection and a
        // library round trip per frame, which dominated runs that sample every step.
        let block = ndarray::ArrayView2::from_shape((new_frames, self.n_elements), &self.pending)
            .map_err(|e| RecordError::invalid_input(path, format!("frame block shape: {e}")))?;
        open.data
            .write_slice(block, (rows.clone(), ..))
            .context(path, || format!("write frames {}..{} of {}", rows.start, rows.end, open.data.name()))?;
        self.pending.clear();
        // Only now that the rows are in place may `time` claim them.
        self.clock.advance(new_frames as u64);
        open.time
            .write(&self.clock.time_dataset())
            .context(path, || format!("update tstop in {}", open.time.name()))?;
        flush_file(path, &open.file)
    }

    fn close(&mut self) -> Result<()> {
        if self.open.is_none() {
            return Ok(());
        }
        let appended = self.append_pending();
        let Some(OpenReport { file, data, time }) = self.open.take() else {
            return appended;
        };
        // Dataset handles must be released before the file, or HDF5 keeps the file open.
        drop((data, time));
        let closed = file.close().context(&self.path, || "close the file".to_owned());
        appended.and(closed)
    }
}

impl Drop for FrameReportWriter {
    /// Best effort for a writer dropped without `finish`: save the buffered frames and close.
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// The element mapping of a report, validated.
struct ElementLayout {
    index_pointers: Vec<u64>,
    element_ids: Vec<u32>,
}

impl ElementLayout {
    fn new(path: &Path, node_ids: &[u64], elements_per_node: &[u32]) -> Result<Self> {
        if node_ids.len() != elements_per_node.len() {
            return Err(RecordError::invalid_input(
                path,
                format!(
                    "{} node ids but {} element counts; give one count per node",
                    node_ids.len(),
                    elements_per_node.len()
                ),
            ));
        }
        if node_ids.is_empty() {
            return Err(RecordError::invalid_input(path, "a report needs at least one node"));
        }
        let mut sorted = node_ids.to_vec();
        sorted.sort_unstable();
        if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(RecordError::invalid_input(path, format!("node id {} is listed twice", pair[0])));
        }

        let mut index_pointers = Vec::with_capacity(node_ids.len() + 1);
        let mut element_ids = Vec::new();
        index_pointers.push(0);
        for (&node_id, &count) in node_ids.iter().zip(elements_per_node) {
            if count == 0 {
                return Err(RecordError::invalid_input(path, format!("node {node_id} has no element to record")));
            }
            element_ids.extend(0..count);
            index_pointers.push(element_ids.len() as u64);
        }
        Ok(Self { index_pointers, element_ids })
    }
}

/// Checks the arguments shared by [`FrameReportWriter::create`] and
/// [`FrameReportWriter::open_append`], and returns the element mapping.
fn check_arguments(
    path: &Path,
    population: &str,
    node_ids: &[u64],
    elements_per_node: &[u32],
    tstart_ms: f64,
    dt_ms: f64,
    chunk_frames: usize,
) -> Result<ElementLayout> {
    let layout = ElementLayout::new(path, node_ids, elements_per_node)?;
    check_group_name(path, "population", population)?;
    check_times(path, tstart_ms, dt_ms)?;
    let n_elements = layout.element_ids.len();
    if chunk_frames == 0 {
        return Err(RecordError::invalid_input(path, "chunk_frames must be at least 1"));
    }
    if chunk_frames.saturating_mul(n_elements).saturating_mul(size_of::<f32>()) > MAX_CHUNK_BYTES {
        return Err(RecordError::invalid_input(
            path,
            format!(
                "a chunk of {chunk_frames} frames of {n_elements} elements exceeds HDF5's 4 GiB \
                 chunk limit; use fewer frames per chunk"
            ),
        ));
    }
    Ok(layout)
}

/// Where two id lists differ, for a message (`None`: they are equal).
fn first_difference(found: &[u64], expected: &[u64]) -> Option<String> {
    if found == expected {
        return None;
    }
    let lengths = format!("the file has {} values, the run {}", found.len(), expected.len());
    Some(match found.iter().zip(expected).position(|(a, b)| a != b) {
        Some(i) => format!("{lengths}; value {i} is {} in the file and {} in the run", found[i], expected[i]),
        None => lengths,
    })
}

fn check_times(path: &Path, tstart_ms: f64, dt_ms: f64) -> Result<()> {
    if !(tstart_ms.is_finite() && tstart_ms >= 0.0) {
        return Err(RecordError::invalid_input(
            path,
            format!("tstart {tstart_ms} ms must be finite and non-negative (libsonata rejects negative times)"),
        ));
    }
    // libsonata matches frame times with a 1e-6 ms tolerance: a step close to it would make
    // neighbouring frames indistinguishable.
    let min_dt = 1000.0 * LIBSONATA_TIME_EPSILON_MS;
    if !(dt_ms.is_finite() && dt_ms >= min_dt) {
        return Err(RecordError::invalid_input(
            path,
            format!("the sampling interval {dt_ms} ms must be finite and at least {min_dt} ms"),
        ));
    }
    Ok(())
}

/// Number of frames libsonata reads from a report with `time = [tstart, tstop, dt]`: a replay
/// of its loop `for (t = tstart; t < tstop - 1e-6; t += dt) ++frames;` in the same `f64`
/// arithmetic.
pub fn libsonata_frame_count(tstart: f64, tstop: f64, dt: f64) -> u64 {
    if !(dt > 0.0 && tstart.is_finite() && tstop.is_finite()) {
        return 0;
    }
    let mut frames = 0;
    let mut t = tstart;
    while t < tstop - LIBSONATA_TIME_EPSILON_MS {
        frames += 1;
        t += dt;
    }
    frames
}

/// Number of frames bmtk reads from a report with `time = [tstart, tstop, dt]`: its
/// `int((tstop - tstart) / dt)` (negative results, impossible for a valid file, give 0).
pub fn bmtk_frame_count(tstart: f64, tstop: f64, dt: f64) -> u64 {
    // `as` truncates toward zero like Python's int() and saturates negatives and NaN to 0.
    ((tstop - tstart) / dt) as u64
}

/// The time axis of a report as libsonata sees it, advanced as frames are appended, so that
/// `tstop` can be chosen without replaying the whole loop each time.
#[derive(Debug, Clone, Copy)]
struct FrameClock {
    tstart: f64,
    dt: f64,
    /// Frames in the file.
    frames: u64,
    /// libsonata's time of the last frame in the file (`t` after `frames − 1` additions).
    last_frame_time: f64,
    /// libsonata's time of the next frame (`t` after `frames` additions).
    next_frame_time: f64,
}

impl FrameClock {
    fn new(tstart: f64, dt: f64) -> Self {
        Self { tstart, dt, frames: 0, last_frame_time: f64::NEG_INFINITY, next_frame_time: tstart }
    }

    fn advance(&mut self, frames: u64) {
        for _ in 0..frames {
            self.last_frame_time = self.next_frame_time;
            self.next_frame_time += self.dt;
        }
        self.frames += frames;
    }

    /// The contents of `mapping/time`.
    fn time_dataset(&self) -> [f64; 3] {
        [self.tstart, self.tstop().0, self.dt]
    }

    /// The `tstop` for the frames in the file, and whether bmtk counts them right too.
    fn tstop(&self) -> (f64, bool) {
        let frames = self.frames;
        if frames == 0 {
            return (self.tstart, true);
        }
        // libsonata includes frame k while `t_k < tstop - 1e-6`: it must include the last frame
        // in the file and stop at the next. (Every value here is finite, so `>=` is the exact
        // negation of its `<`.)
        let libsonata_ok = |tstop: f64| {
            self.last_frame_time < tstop - LIBSONATA_TIME_EPSILON_MS
                && self.next_frame_time >= tstop - LIBSONATA_TIME_EPSILON_MS
        };
        let bmtk_count = |tstop: f64| bmtk_frame_count(self.tstart, tstop, self.dt);

        // The exact end time, moved by a few ulps until bmtk's division lands on `frames`.
        let mut tstop = self.tstart + frames as f64 * self.dt;
        for _ in 0..64 {
            match bmtk_count(tstop).cmp(&frames) {
                std::cmp::Ordering::Less => tstop = tstop.next_up(),
                std::cmp::Ordering::Greater => tstop = tstop.next_down(),
                std::cmp::Ordering::Equal => break,
            }
        }
        if bmtk_count(tstop) == frames && libsonata_ok(tstop) {
            return (tstop, true);
        }

        // libsonata's accumulated time has drifted out of reach. Take the largest tstop that
        // libsonata still accepts (the closest to what bmtk wants, as the drift is downwards
        // whenever the first choice failed) …
        let mut tstop = self.next_frame_time + LIBSONATA_TIME_EPSILON_MS;
        while !libsonata_ok(tstop) && tstop > self.next_frame_time {
            tstop = tstop.next_down();
        }
        // … which always exists: `next_frame_time` itself qualifies, as dt exceeds the tolerance.
        if !libsonata_ok(tstop) {
            tstop = self.next_frame_time;
        }
        (tstop, bmtk_count(tstop) == frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chosen tstop must give every frame count to libsonata, and to bmtk whenever the
    /// clock says the readers agree, for typical sampling intervals and long recordings.
    #[test]
    fn tstop_is_counted_right_by_both_readers() {
        for &(tstart, dt) in &[(0.0, 0.1), (0.0, 0.025), (0.0, 0.01), (2.5, 0.3), (0.0, 1.0), (100.0, 0.2)] {
            let mut clock = FrameClock::new(tstart, dt);
            // Step through counts that grow geometrically so that long runs are covered cheaply
            // (the libsonata replay is linear in the number of frames).
            let mut target = 1_u64;
            while target <= 3_000_000 {
                clock.advance(target - clock.frames);
                let (tstop, agree) = clock.tstop();
                assert_eq!(
                    libsonata_frame_count(tstart, tstop, dt),
                    target,
                    "libsonata count for tstart {tstart} dt {dt} tstop {tstop}"
                );
                if agree {
                    assert_eq!(bmtk_frame_count(tstart, tstop, dt), target, "bmtk count for dt {dt}");
                } else {
                    // Only possible once libsonata's accumulated time has drifted by more than
                    // its 1e-6 ms tolerance, which takes hundreds of thousands of frames.
                    assert!(target > 100_000, "dt {dt}: readers disagree after only {target} frames");
                }
                target = target + 1 + target / 7;
            }
        }
    }

    #[test]
    fn every_small_frame_count_agrees() {
        for &(tstart, dt) in &[(0.0, 0.1), (0.0, 0.05), (1.0, 0.3), (0.0, 0.7), (3.3, 0.01)] {
            let mut clock = FrameClock::new(tstart, dt);
            for frames in 1..=5_000_u64 {
                clock.advance(1);
                let (tstop, agree) = clock.tstop();
                assert!(agree, "tstart {tstart} dt {dt} frames {frames}");
                assert_eq!(libsonata_frame_count(tstart, tstop, dt), frames);
                assert_eq!(bmtk_frame_count(tstart, tstop, dt), frames);
            }
        }
    }

    #[test]
    fn empty_report_has_tstop_equal_to_tstart() {
        let clock = FrameClock::new(5.0, 0.1);
        assert_eq!(clock.tstop(), (5.0, true));
        assert_eq!(libsonata_frame_count(5.0, 5.0, 0.1), 0);
        assert_eq!(bmtk_frame_count(5.0, 5.0, 0.1), 0);
    }
}
