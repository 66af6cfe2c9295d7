//! The machinery shared by the two event files, `spikes.h5` and `weights.h5`: one HDF5 group per
//! population (or projection) holding parallel append-only columns, with events buffered in
//! memory and appended a chunk at a time.
//!
//! The buffer of a group is appended (and the file flushed) as soon as it holds `chunk` events, so
//! memory stays bounded by `groups × chunk` events however long the run, and a process that dies
//! loses at most the events buffered since the last append.
//!
//! A file can also be reopened to continue a recording from a checkpoint
//! ([`EventFile::reopen`]): every group is cut back to the number of events the checkpoint
//! counted, which also removes what a process killed after the checkpoint had appended, and
//! appending goes on from there as if the writer had never stopped.

use std::path::{Path, PathBuf};

use hdf5::File;

use crate::error::{Hdf5Context, RecordError, Result};

/// One group of parallel columns with its in-memory buffer.
pub(crate) trait EventGroup {
    /// Number of events buffered in memory and not yet in the file.
    fn pending(&self) -> usize;

    /// Appends the buffered events to the file and empties the buffer. On error the buffer is
    /// kept, so a later call can retry.
    fn append_pending(&mut self, path: &Path) -> Result<()>;

    /// Number of events pushed so far, in the file or buffered.
    fn pushed(&self) -> usize;

    /// Keeps only the first `len` events pushed: cuts the columns in the file (also undoing
    /// what a failed append left behind) and drops buffered events beyond `len`.
    fn truncate(&mut self, path: &Path, len: usize) -> Result<()>;

    /// The group's HDF5 path (`/spikes/exc`), for messages.
    fn location(&self) -> String;

    /// The length of the group's shortest column in the file: the events a reopened file holds
    /// completely (a killed append can leave the columns written first longer).
    fn complete_in_file(&self) -> usize;

    /// Restores what the writer keeps besides the columns (the time order of spikes) from the
    /// file, after a reopened group has been cut to its checkpoint.
    fn restore_after_cut(&mut self, _path: &Path) -> Result<()> {
        Ok(())
    }
}

/// An open event file: the HDF5 file and its groups.
pub(crate) struct EventFile<G: EventGroup> {
    path: PathBuf,
    chunk: usize,
    /// `None` once closed.
    open: Option<OpenEventFile<G>>,
}

struct OpenEventFile<G> {
    file: File,
    groups: Vec<G>,
}

impl<G: EventGroup> EventFile<G> {
    pub(crate) fn new(path: PathBuf, chunk: usize, file: File, groups: Vec<G>) -> Self {
        Self { path, chunk, open: Some(OpenEventFile { file, groups }) }
    }

    /// Continues the recording in an existing file: `groups` were opened from it (no buffered
    /// events), `counts` are the events per group at the checkpoint to continue from (see
    /// [`pushed_counts`](Self::pushed_counts)). Every group must hold at least that many
    /// complete events; if one does not, nothing is changed and the error names the group.
    /// Otherwise each group is cut to its count, restores its state, and the file is flushed.
    /// `kind` names the events in messages ("spikes", "weight events").
    pub(crate) fn reopen(
        path: PathBuf,
        chunk: usize,
        kind: &str,
        file: File,
        mut groups: Vec<G>,
        counts: &[usize],
    ) -> Result<Self> {
        if counts.len() != groups.len() {
            return Err(RecordError::mismatch(
                &path,
                format!("the checkpoint counts {kind} of {} groups but the file has {}", counts.len(), groups.len()),
            ));
        }
        for (group, &count) in groups.iter().zip(counts) {
            let held = group.complete_in_file();
            if held < count {
                return Err(RecordError::mismatch(
                    &path,
                    format!(
                        "{} holds {held} {kind} but the checkpoint was taken after {count}: the file lost data \
                         it had then",
                        group.location()
                    ),
                ));
            }
        }
        for (group, &count) in groups.iter_mut().zip(counts) {
            group.truncate(&path, count)?;
            group.restore_after_cut(&path)?;
        }
        let mut events = Self::new(path, chunk, file, groups);
        events.flush()?;
        Ok(events)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Applies `buffer` (which validates and buffers one event) to group `index`, then appends
    /// that group's buffer if it has reached the chunk size.
    pub(crate) fn push_with(
        &mut self,
        index: usize,
        kind: &str,
        buffer: impl FnOnce(&Path, &mut G) -> Result<()>,
    ) -> Result<()> {
        let path = &self.path;
        let open = self.open.as_mut().ok_or_else(|| RecordError::invalid_input(path, "the file is already closed"))?;
        let group_count = open.groups.len();
        let group = open.groups.get_mut(index).ok_or_else(|| {
            RecordError::invalid_input(
                path,
                format!("{kind} index {index} is out of range (the file has {group_count} {kind}s)"),
            )
        })?;
        buffer(path, group)?;
        if group.pending() >= self.chunk {
            group.append_pending(path)?;
            flush_file(path, &open.file)?;
        }
        Ok(())
    }

    /// Events pushed so far per group (in the file or buffered), in group order: a mark to
    /// return to with [`truncate`](Self::truncate).
    pub(crate) fn pushed_counts(&self, counts: &mut Vec<usize>) {
        counts.clear();
        if let Some(open) = &self.open {
            counts.extend(open.groups.iter().map(G::pushed));
        }
    }

    /// Returns every group to the count of events given for it (see
    /// [`pushed_counts`](Self::pushed_counts)): events pushed after that point are removed from
    /// the file and the buffers.
    pub(crate) fn truncate(&mut self, counts: &[usize]) -> Result<()> {
        let path = &self.path;
        let open = self.open.as_mut().ok_or_else(|| RecordError::invalid_input(path, "the file is already closed"))?;
        if counts.len() != open.groups.len() {
            return Err(RecordError::invalid_input(
                path,
                format!("{} counts given for {} groups", counts.len(), open.groups.len()),
            ));
        }
        for (group, &len) in open.groups.iter_mut().zip(counts) {
            group.truncate(path, len)?;
        }
        Ok(())
    }

    /// Appends every buffer and flushes the file to disk.
    pub(crate) fn flush(&mut self) -> Result<()> {
        let path = &self.path;
        let open = self.open.as_mut().ok_or_else(|| RecordError::invalid_input(path, "the file is already closed"))?;
        for group in &mut open.groups {
            group.append_pending(path)?;
        }
        flush_file(path, &open.file)
    }

    /// Appends every buffer and closes the file. Closing twice is a no-op.
    pub(crate) fn close(&mut self) -> Result<()> {
        let Some(mut open) = self.open.take() else {
            return Ok(());
        };
        let mut first_error = None;
        for group in &mut open.groups {
            // Keep going after a failure: the other groups' events are still worth saving.
            if let Err(error) = group.append_pending(&self.path) {
                first_error.get_or_insert(error);
            }
        }
        // Group and dataset handles must be released before the file, or HDF5 would keep the
        // file open until they are.
        let OpenEventFile { file, groups } = open;
        drop(groups);
        let closed = file.close().context(&self.path, || "close the file".to_owned());
        match first_error {
            Some(error) => Err(error),
            None => closed,
        }
    }
}

impl<G: EventGroup> Drop for EventFile<G> {
    /// Best effort for a writer dropped without `finish` (early return, panic unwinding): save
    /// the buffered events and close the file. Errors cannot be reported from here.
    fn drop(&mut self) {
        let _ = self.close();
    }
}

pub(crate) fn flush_file(path: &Path, file: &File) -> Result<()> {
    file.flush().context(path, || "flush the file to disk".to_owned())
}

/// Checks that an event time can be stored: finite and not negative (libsonata rejects negative
/// times when it selects by time).
pub(crate) fn check_event_time(path: &Path, group: &str, time_ms: f64) -> Result<()> {
    if time_ms.is_finite() && time_ms >= 0.0 {
        Ok(())
    } else {
        Err(RecordError::invalid_input(
            path,
            format!("event time {time_ms} ms in {group} is not a finite, non-negative number"),
        ))
    }
}
