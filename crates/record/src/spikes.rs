//! `spikes.h5`: every spike of a run, one SONATA spike population per model population.
//!
//! ```text
//! /  @magic u32 = 0x0A7A   @version u32[2] = [0, 1]
//! /spikes/<population>/
//!     @sorting     HDF5 ENUM over u8 {none=0, by_id=1, by_time=2}, scalar
//!     timestamps   f64 [N], chunked, maxshape unlimited   @units = variable-length UTF-8 "ms"
//!     node_ids     u64 [N], same chunking; ids are 0-based within the population
//! ```
//!
//! `@sorting` is `by_time` only while the timestamps of the population really are non-decreasing:
//! libsonata binary-searches on the claimed order and would silently return wrong subsets
//! otherwise. The attribute is written as `by_time` when the file is created and downgraded to
//! `none` *before* the first out-of-order spike reaches the file, so the claim is true at every
//! moment, including in a file whose writer was killed.
//!
//! A recording resumed from a checkpoint reopens the file ([`SpikeWriter::open_append`]) and
//! cuts it back to the checkpoint's counts. The writer's memory of the order is rebuilt from what
//! is kept: the time of its last spike, and whether it is in time order — taken from `@sorting`
//! when that says `by_time` (the claim holds for every prefix), else read from the timestamps,
//! and `@sorting` goes back to `by_time` if the unordered spikes were all cut. The file then
//! continues exactly as the uninterrupted writer's would have.

use std::path::Path;

use hdf5::Group;

use crate::error::{Hdf5Context, RecordError, Result};
use crate::events::{EventFile, EventGroup, check_event_time};
use crate::h5::{
    AppendableColumn, Sorting, check_group_name, check_members, create_file, open_file_rw, open_group, read_sorting,
    write_sorting, write_string_attr,
};

/// Timestamps read at a time when a reopened file's order is checked.
const ORDER_CHECK_BLOCK: usize = 1 << 20;

/// Streams spikes into `spikes.h5`.
///
/// Spikes are buffered per population and appended `chunk` at a time; the file is flushed at
/// every append. Call [`SpikeWriter::finish`] to write the remaining spikes and close the file
/// and see any error; dropping the writer does the same on a best-effort basis.
pub struct SpikeWriter {
    events: EventFile<PopulationSpikes>,
}

struct PopulationSpikes {
    name: String,
    size: u64,
    group: Group,
    timestamps: AppendableColumn,
    node_ids: AppendableColumn,
    pending_times: Vec<f64>,
    pending_ids: Vec<u64>,
    /// Time of the most recent spike pushed (buffered or written).
    last_time: f64,
    /// Whether every spike so far came no earlier than the one before it.
    time_ordered: bool,
    /// The `@sorting` value currently in the file.
    sorting_in_file: Sorting,
}

impl SpikeWriter {
    /// Creates (or truncates) `path` with one empty spike population per `(name, size)`, where
    /// `size` is the number of neurons: node ids must be below it. Events are buffered and
    /// appended `chunk` at a time, which is also the HDF5 chunk length.
    pub fn create(path: &Path, populations: &[(String, u64)], chunk: usize) -> Result<Self> {
        check_populations(path, populations, chunk)?;
        let file = create_file(path)?;
        let spikes = file.create_group("spikes").context(path, || "create group /spikes".to_owned())?;
        let mut groups = Vec::with_capacity(populations.len());
        for (name, size) in populations {
            let group = spikes.create_group(name).context(path, || format!("create group /spikes/{name}"))?;
            let timestamps = AppendableColumn::create::<f64>(path, &group, "timestamps", chunk)?;
            write_string_attr(path, timestamps.dataset(), "units", "ms")?;
            let node_ids = AppendableColumn::create::<u64>(path, &group, "node_ids", chunk)?;
            // An empty population is trivially in time order; see the module documentation.
            write_sorting(path, &group, Sorting::ByTime)?;
            groups.push(PopulationSpikes {
                name: name.clone(),
                size: *size,
                group,
                timestamps,
                node_ids,
                pending_times: Vec::with_capacity(chunk),
                pending_ids: Vec::with_capacity(chunk),
                last_time: f64::NEG_INFINITY,
                time_ordered: true,
                sorting_in_file: Sorting::ByTime,
            });
        }
        drop(spikes);
        let mut events = EventFile::new(path.to_path_buf(), chunk, file, groups);
        // Make the empty but complete layout durable right away.
        events.flush()?;
        Ok(Self { events })
    }

    /// Reopens `path`, written by [`SpikeWriter::create`] with the same `populations`, to
    /// continue it from a checkpoint: `counts` are the spikes per population at the checkpoint
    /// (from [`SpikeWriter::pushed_counts`] after a flush). The file must hold exactly these
    /// populations and at least `counts` spikes of each; what it holds beyond is cut (a killed
    /// process may have appended more after the checkpoint), and pushing continues as from the
    /// writer that counted them. A file that does not match is left as it is and the error says
    /// what differs.
    pub fn open_append(path: &Path, populations: &[(String, u64)], chunk: usize, counts: &[usize]) -> Result<Self> {
        check_populations(path, populations, chunk)?;
        if counts.len() != populations.len() {
            return Err(RecordError::invalid_input(
                path,
                format!("{} spike counts given for {} populations", counts.len(), populations.len()),
            ));
        }
        let file = open_file_rw(path)?;
        let spikes = open_group(path, &file, "spikes")?;
        check_members(path, &spikes, populations.iter().map(|(name, _)| name.clone()), "spike populations")?;
        let mut groups = Vec::with_capacity(populations.len());
        for (name, size) in populations {
            let group = open_group(path, &spikes, name)?;
            let timestamps = AppendableColumn::open::<f64>(path, &group, "timestamps")?;
            let node_ids = AppendableColumn::open::<u64>(path, &group, "node_ids")?;
            let sorting_in_file = read_sorting(path, &group)?;
            groups.push(PopulationSpikes {
                name: name.clone(),
                size: *size,
                group,
                timestamps,
                node_ids,
                pending_times: Vec::with_capacity(chunk),
                pending_ids: Vec::with_capacity(chunk),
                // Both restored from the file once it is cut (`restore_after_cut`).
                last_time: f64::NEG_INFINITY,
                time_ordered: sorting_in_file == Sorting::ByTime,
                sorting_in_file,
            });
        }
        drop(spikes);
        let events = EventFile::reopen(path.to_path_buf(), chunk, "spikes", file, groups, counts)?;
        Ok(Self { events })
    }

    /// Records that neuron `node_id` (0-based within the population) of population number
    /// `population` (its index in the list given to [`SpikeWriter::create`]) spiked at `time_ms`.
    pub fn push(&mut self, population: usize, node_id: u64, time_ms: f64) -> Result<()> {
        self.events.push_with(population, "population", |path, spikes| {
            if node_id >= spikes.size {
                return Err(RecordError::invalid_input(
                    path,
                    format!(
                        "node id {node_id} is out of range for population {:?} of {} neurons",
                        spikes.name, spikes.size
                    ),
                ));
            }
            check_event_time(path, &spikes.name, time_ms)?;
            if time_ms < spikes.last_time {
                spikes.time_ordered = false;
            }
            spikes.last_time = time_ms;
            spikes.pending_times.push(time_ms);
            spikes.pending_ids.push(node_id);
            Ok(())
        })
    }

    /// Spikes pushed so far per population (in the file or buffered): a mark for
    /// [`SpikeWriter::truncate`].
    pub fn pushed_counts(&self, counts: &mut Vec<usize>) {
        self.events.pushed_counts(counts)
    }

    /// Removes every spike pushed after the mark `counts` (from [`SpikeWriter::pushed_counts`]),
    /// from the buffers and from the file.
    pub fn truncate(&mut self, counts: &[usize]) -> Result<()> {
        self.events.truncate(counts)
    }

    /// Appends every buffered spike and flushes the file to disk.
    pub fn flush(&mut self) -> Result<()> {
        self.events.flush()
    }

    /// Appends the buffered spikes, leaves `@sorting` as `by_time` only where that is true, and
    /// closes the file.
    pub fn finish(mut self) -> Result<()> {
        self.events.close()
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        self.events.path()
    }
}

/// Checks the arguments shared by [`SpikeWriter::create`] and [`SpikeWriter::open_append`].
fn check_populations(path: &Path, populations: &[(String, u64)], chunk: usize) -> Result<()> {
    if chunk == 0 {
        return Err(RecordError::invalid_input(path, "the chunk length must be at least 1"));
    }
    for (index, (name, _)) in populations.iter().enumerate() {
        check_group_name(path, "population", name)?;
        if populations[..index].iter().any(|(earlier, _)| earlier == name) {
            return Err(RecordError::invalid_input(path, format!("population {name:?} is listed twice")));
        }
    }
    Ok(())
}

impl PopulationSpikes {
    /// Reads timestamps `range` of the file.
    fn read_times(&self, path: &Path, range: std::ops::Range<usize>) -> Result<Vec<f64>> {
        let dataset = self.timestamps.dataset();
        dataset
            .read_slice_1d::<f64, _>(range.clone())
            .map(|values| values.to_vec())
            .context(path, || format!("read timestamps {}..{} of {}", range.start, range.end, dataset.name()))
    }

    /// Whether the timestamps in the file are non-decreasing, read a block at a time (memory
    /// stays bounded) up to the first one that is not.
    fn file_is_time_ordered(&self, path: &Path) -> Result<bool> {
        let len = self.timestamps.len();
        let mut previous = f64::NEG_INFINITY;
        let mut start = 0;
        while start < len {
            let end = (start + ORDER_CHECK_BLOCK).min(len);
            for t in self.read_times(path, start..end)? {
                if t < previous {
                    return Ok(false);
                }
                previous = t;
            }
            start = end;
        }
        Ok(true)
    }
}

impl EventGroup for PopulationSpikes {
    fn pending(&self) -> usize {
        self.pending_times.len()
    }

    fn append_pending(&mut self, path: &Path) -> Result<()> {
        // Withdraw the by_time claim before the first unordered spike reaches the file.
        if !self.time_ordered && self.sorting_in_file != Sorting::Unsorted {
            write_sorting(path, &self.group, Sorting::Unsorted)?;
            self.sorting_in_file = Sorting::Unsorted;
        }
        // If an earlier attempt appended node_ids but then failed on timestamps, those ids are
        // already in the file: append only the rest, so a retry cannot duplicate them.
        let ids_already_written = self.node_ids.len() - self.timestamps.len();
        self.node_ids.append(path, &self.pending_ids[ids_already_written..])?;
        self.timestamps.append(path, &self.pending_times)?;
        self.pending_ids.clear();
        self.pending_times.clear();
        Ok(())
    }

    fn pushed(&self) -> usize {
        // `timestamps` is appended last, so its length counts the complete spikes in the file.
        self.timestamps.len() + self.pending_times.len()
    }

    fn truncate(&mut self, path: &Path, len: usize) -> Result<()> {
        // The file's `@sorting` stays as it is: `none` claims nothing, and `by_time` stays true
        // of a prefix.
        self.node_ids.truncate(path, len)?;
        self.timestamps.truncate(path, len)?;
        let keep = len.saturating_sub(self.timestamps.len());
        self.pending_times.truncate(keep);
        self.pending_ids.truncate(keep);
        Ok(())
    }

    fn location(&self) -> String {
        format!("/spikes/{}", self.name)
    }

    fn complete_in_file(&self) -> usize {
        self.timestamps.len().min(self.node_ids.len())
    }

    fn restore_after_cut(&mut self, path: &Path) -> Result<()> {
        let len = self.timestamps.len();
        self.last_time = match len {
            0 => f64::NEG_INFINITY,
            _ => self.read_times(path, len - 1..len)?.first().copied().unwrap_or(f64::NEG_INFINITY),
        };
        // `by_time` is true of every prefix; `none` may have been written for spikes now cut.
        self.time_ordered = self.sorting_in_file == Sorting::ByTime || self.file_is_time_ordered(path)?;
        if self.time_ordered && self.sorting_in_file != Sorting::ByTime {
            write_sorting(path, &self.group, Sorting::ByTime)?;
            self.sorting_in_file = Sorting::ByTime;
        }
        Ok(())
    }
}
