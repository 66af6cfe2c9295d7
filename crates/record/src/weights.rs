//! `weights.h5`: weight events of plastic projections (laminar's extension of SONATA, in the
//! style of `spikes.h5`; comparable to NEST's `weight_recorder`).
//!
//! ```text
//! /  @magic u32 = 0x0A7A   @version u32[2] = [0, 1]
//! /weights/<projection>/
//!     timestamps   f64 [N]  @units = "ms"     when the weight was used or changed
//!     source_ids   u64 [N]  0-based within the source population
//!     target_ids   u64 [N]  0-based within the target population
//!     weights      f64 [N]  @units = the projection's weight unit ("pA", "nS", …)
//! ```
//!
//! All four datasets are chunked with unlimited maxshape and grow together, a chunk of events at
//! a time. A recording resumed from a checkpoint reopens the file
//! ([`WeightWriter::open_append`]), cuts every group back to the checkpoint's count and goes on
//! appending.

use std::path::Path;

use crate::error::{Hdf5Context, RecordError, Result};
use crate::events::{EventFile, EventGroup, check_event_time};
use crate::h5::{
    AppendableColumn, check_group_name, check_members, create_file, open_file_rw, open_group, read_string_attr,
    write_string_attr,
};

/// A plastic projection whose weights are recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightProjection {
    /// Group name under `/weights`.
    pub name: String,
    /// Unit of the weights (`"pA"`, `"nS"` …), stored as `weights/@units`.
    pub units: String,
}

/// Streams weight events into `weights.h5`.
///
/// Events are buffered per projection and appended `chunk` at a time; the file is flushed at
/// every append. Call [`WeightWriter::finish`] to write the remaining events and close the file;
/// dropping the writer does the same on a best-effort basis.
pub struct WeightWriter {
    events: EventFile<ProjectionWeights>,
}

struct ProjectionWeights {
    name: String,
    timestamps: AppendableColumn,
    source_ids: AppendableColumn,
    target_ids: AppendableColumn,
    weights: AppendableColumn,
    pending_times: Vec<f64>,
    pending_sources: Vec<u64>,
    pending_targets: Vec<u64>,
    pending_weights: Vec<f64>,
}

impl WeightWriter {
    /// Creates (or truncates) `path` with one empty group per projection. Events are buffered
    /// and appended `chunk` at a time, which is also the HDF5 chunk length.
    pub fn create(path: &Path, projections: &[WeightProjection], chunk: usize) -> Result<Self> {
        check_projections(path, projections, chunk)?;
        let file = create_file(path)?;
        let weights_group = file.create_group("weights").context(path, || "create group /weights".to_owned())?;
        let mut groups = Vec::with_capacity(projections.len());
        for projection in projections {
            let name = &projection.name;
            let group = weights_group.create_group(name).context(path, || format!("create group /weights/{name}"))?;
            let timestamps = AppendableColumn::create::<f64>(path, &group, "timestamps", chunk)?;
            write_string_attr(path, timestamps.dataset(), "units", "ms")?;
            let source_ids = AppendableColumn::create::<u64>(path, &group, "source_ids", chunk)?;
            let target_ids = AppendableColumn::create::<u64>(path, &group, "target_ids", chunk)?;
            let weights = AppendableColumn::create::<f64>(path, &group, "weights", chunk)?;
            write_string_attr(path, weights.dataset(), "units", &projection.units)?;
            groups.push(ProjectionWeights {
                name: name.clone(),
                timestamps,
                source_ids,
                target_ids,
                weights,
                pending_times: Vec::with_capacity(chunk),
                pending_sources: Vec::with_capacity(chunk),
                pending_targets: Vec::with_capacity(chunk),
                pending_weights: Vec::with_capacity(chunk),
            });
        }
        drop(weights_group);
        let mut events = EventFile::new(path.to_path_buf(), chunk, file, groups);
        events.flush()?;
        Ok(Self { events })
    }

    /// Reopens `path`, written by [`WeightWriter::create`] with the same `projections`, to
    /// continue it from a checkpoint: `counts` are the events per projection at the checkpoint
    /// (from [`WeightWriter::pushed_counts`] after a flush). The file must hold exactly these
    /// projections, with the same weight units, and at least `counts` events of each; what it
    /// holds beyond is cut. A file that does not match is left as it is and the error says what
    /// differs.
    pub fn open_append(path: &Path, projections: &[WeightProjection], chunk: usize, counts: &[usize]) -> Result<Self> {
        check_projections(path, projections, chunk)?;
        if counts.len() != projections.len() {
            return Err(RecordError::invalid_input(
                path,
                format!("{} event counts given for {} projections", counts.len(), projections.len()),
            ));
        }
        let file = open_file_rw(path)?;
        let weights_group = open_group(path, &file, "weights")?;
        check_members(path, &weights_group, projections.iter().map(|p| p.name.clone()), "projections")?;
        let mut groups = Vec::with_capacity(projections.len());
        for projection in projections {
            let group = open_group(path, &weights_group, &projection.name)?;
            let weights = AppendableColumn::open::<f64>(path, &group, "weights")?;
            let units = read_string_attr(path, weights.dataset(), "units")?;
            if units != projection.units {
                return Err(RecordError::mismatch(
                    path,
                    format!(
                        "{} is in {units:?} but the run records the projection's weights in {:?}",
                        weights.dataset().name(),
                        projection.units
                    ),
                ));
            }
            groups.push(ProjectionWeights {
                name: projection.name.clone(),
                timestamps: AppendableColumn::open::<f64>(path, &group, "timestamps")?,
                source_ids: AppendableColumn::open::<u64>(path, &group, "source_ids")?,
                target_ids: AppendableColumn::open::<u64>(path, &group, "target_ids")?,
                weights,
                pending_times: Vec::with_capacity(chunk),
                pending_sources: Vec::with_capacity(chunk),
                pending_targets: Vec::with_capacity(chunk),
                pending_weights: Vec::with_capacity(chunk),
            });
        }
        drop(weights_group);
        let events = EventFile::reopen(path.to_path_buf(), chunk, "weight events", file, groups, counts)?;
        Ok(Self { events })
    }

    /// Records that the synapse `source_id → target_id` of projection number `projection` (its
    /// index in the list given to [`WeightWriter::create`]) had weight `weight` at `time_ms`.
    pub fn push(&mut self, projection: usize, time_ms: f64, source_id: u64, target_id: u64, weight: f64) -> Result<()> {
        self.events.push_with(projection, "projection", |path, events| {
            check_event_time(path, &events.name, time_ms)?;
            if !weight.is_finite() {
                return Err(RecordError::invalid_input(
                    path,
                    format!("weight {weight} of {source_id} → {target_id} in {} is not finite", events.name),
                ));
            }
            events.pending_times.push(time_ms);
            events.pending_sources.push(source_id);
            events.pending_targets.push(target_id);
            events.pending_weights.push(weight);
            Ok(())
        })
    }

    /// Events pushed so far per projection (in the file or buffered): a mark for
    /// [`WeightWriter::truncate`].
    pub fn pushed_counts(&self, counts: &mut Vec<usize>) {
        self.events.pushed_counts(counts)
    }

    /// Removes every event pushed after the mark `counts` (from
    /// [`WeightWriter::pushed_counts`]), from the buffers and from the file.
    pub fn truncate(&mut self, counts: &[usize]) -> Result<()> {
        self.events.truncate(counts)
    }

    /// Appends every buffered event and flushes the file to disk.
    pub fn flush(&mut self) -> Result<()> {
        self.events.flush()
    }

    /// Appends the buffered events and closes the file.
    pub fn finish(mut self) -> Result<()> {
        self.events.close()
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        self.events.path()
    }
}

/// Checks the arguments shared by [`WeightWriter::create`] and [`WeightWriter::open_append`].
fn check_projections(path: &Path, projections: &[WeightProjection], chunk: usize) -> Result<()> {
    if chunk == 0 {
        return Err(RecordError::invalid_input(path, "the chunk length must be at least 1"));
    }
    for (index, projection) in projections.iter().enumerate() {
        check_group_name(path, "projection", &projection.name)?;
        if projections[..index].iter().any(|earlier| earlier.name == projection.name) {
            return Err(RecordError::invalid_input(path, format!("projection {:?} is listed twice", projection.name)));
        }
    }
    Ok(())
}

impl EventGroup for ProjectionWeights {
    fn pending(&self) -> usize {
        self.pending_times.len()
    }

    fn append_pending(&mut self, path: &Path) -> Result<()> {
        // `timestamps` goes last and every column skips what an earlier, partly failed attempt
        // already appended, so a retry cannot duplicate events.
        let complete = self.timestamps.len();
        let skip = |column: &AppendableColumn| column.len() - complete;
        self.source_ids.append(path, &self.pending_sources[skip(&self.source_ids)..])?;
        self.target_ids.append(path, &self.pending_targets[skip(&self.target_ids)..])?;
        self.weights.append(path, &self.pending_weights[skip(&self.weights)..])?;
        self.timestamps.append(path, &self.pending_times)?;
        self.pending_times.clear();
        self.pending_sources.clear();
        self.pending_targets.clear();
        self.pending_weights.clear();
        Ok(())
    }

    fn pushed(&self) -> usize {
        // `timestamps` is appended last, so its length counts the complete events in the file.
        self.timestamps.len() + self.pending_times.len()
    }

    fn truncate(&mut self, path: &Path, len: usize) -> Result<()> {
        for column in [&mut self.source_ids, &mut self.target_ids, &mut self.weights, &mut self.timestamps] {
            column.truncate(path, len)?;
        }
        let keep = len.saturating_sub(self.timestamps.len());
        self.pending_times.truncate(keep);
        self.pending_sources.truncate(keep);
        self.pending_targets.truncate(keep);
        self.pending_weights.truncate(keep);
        Ok(())
    }
    fn location(&self) -> String {
        format!("/weights/{}", self.name)
    }

    fn complete_in_file(&self) -> usize {
        [&self.timestamps, &self.source_ids, &self.target_ids, &self.weights]
            .iter()
            .map(|column| column.len())
            .min()
            .unwrap_or(0)
    }
}
