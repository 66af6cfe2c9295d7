//! The one error type of this crate.
//!
//! Every variant names the file it concerns and what was being done, so that a message such as
//! `cannot append 4096 spikes to /spikes/exc in out/spikes.h5: …` can be shown to a user as is.
//!
//! The cause is part of each message and deliberately *not* exposed as [`std::error::Error::source`]:
//! a caller that prints the chain (anyhow's `{:#}`) would otherwise print it twice. HDF5's causes
//! are condensed to one line ([`condensed_hdf5_message`]): its error stack names every library
//! function on the way down, where a user needs the operating system's reason.

use std::path::{Path, PathBuf};

/// Result alias used throughout `laminar-record`.
pub type Result<T, E = RecordError> = std::result::Result<T, E>;

/// Everything that can go wrong while writing or reading a recording.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The HDF5 library refused an operation.
    #[error("cannot {action} in {}: {}", path.display(), condensed_hdf5_message(cause))]
    Hdf5 { path: PathBuf, action: String, cause: hdf5::Error },

    /// A file-system operation failed (manifest, temporary files).
    #[error("cannot {action} {}: {cause}", path.display())]
    Io { path: PathBuf, action: String, cause: std::io::Error },

    /// `manifest.json` could not be serialised or parsed.
    #[error("cannot {action} {}: {cause}", path.display())]
    Json { path: PathBuf, action: String, cause: serde_json::Error },

    /// The caller passed something the format cannot represent (unknown population index,
    /// frame of the wrong length, non-finite time …). Nothing was written.
    #[error("invalid request for {}: {message}", path.display())]
    InvalidInput { path: PathBuf, message: String },

    /// A recording being resumed does not match the run that resumes it (a population, report
    /// or projection missing or different, fewer events than the checkpoint counted …). The
    /// file named was left as it was.
    #[error("{} does not match the run being resumed: {message}", path.display())]
    Mismatch { path: PathBuf, message: String },

    /// A file being read does not follow the recording format.
    #[error("{} is not a valid laminar/SONATA recording: {message}", path.display())]
    Format { path: PathBuf, message: String },
}

impl RecordError {
    pub(crate) fn invalid_input(path: &Path, message: impl Into<String>) -> Self {
        Self::InvalidInput { path: path.to_path_buf(), message: message.into() }
    }

    pub(crate) fn mismatch(path: &Path, message: impl Into<String>) -> Self {
        Self::Mismatch { path: path.to_path_buf(), message: message.into() }
    }

    pub(crate) fn format(path: &Path, message: impl Into<String>) -> Self {
        Self::Format { path: path.to_path_buf(), message: message.into() }
    }
}

/// Attaches the file path and a description of the failed action to an HDF5 result.
pub(crate) trait Hdf5Context<T> {
    fn context(self, path: &Path, action: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Hdf5Context<T> for hdf5::Result<T> {
    fn context(self, path: &Path, action: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|cause| RecordError::Hdf5 { path: path.to_path_buf(), action: action(), cause })
    }
}

/// One line for an HDF5 error: the operating system's reason when HDF5 quotes one (`error
/// message = 'No space left on device'`, with its errno), else the innermost message of the
/// stack. The full stack (file names, flags, buffer addresses) helps nobody running laminar.
pub fn condensed_hdf5_message(error: &hdf5::Error) -> String {
    let full = error.to_string();
    let quoted = |key: &str| {
        let start = full.find(key)? + key.len();
        let end = full[start..].find('\'')? + start;
        Some(full[start..end].to_owned())
    };
    let errno = full
        .find("errno = ")
        .map(|i| full[i + "errno = ".len()..].chars().take_while(char::is_ascii_digit).collect::<String>());
    match (quoted("error message = '"), errno) {
        (Some(reason), Some(errno)) if !errno.is_empty() => format!("{reason} (os error {errno})"),
        (Some(reason), _) => reason,
        // A stack reads "outer(): what: inner(): what …": keep the last, innermost part.
        _ => {
            let line = full.lines().next().unwrap_or_default();
            line.rsplit("(): ").next().unwrap_or(line).trim().to_owned()
        }
    }
}

/// What keeps a run from writing its output directory, or from creating its recording there.
///
/// Unlike [`RecordError`], a failed file-system operation ([`OutputError::Io`]) exposes its cause
/// as [`std::error::Error::source`] and leaves it out of its own message: the message says what
/// was being done ("creating output directory out"), and a caller printing the chain (anyhow's
/// `{:#}`) shows both, "creating output directory out: Permission denied (os error 13)".
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file-system operation on the output directory failed; `action` says which.
    #[error("{action}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
    /// The path exists and is something other than a directory.
    #[error("output directory {} exists and is not a directory ({cause})", path.display())]
    NotADirectory { path: PathBuf, cause: std::io::Error },
    /// The directory has files and no laminar recording (no readable manifest).
    #[error(
        "output directory {} is not empty and holds no laminar recording (it contains {contents}); \
         choose a new or empty directory",
        path.display()
    )]
    NotARecording {
        path: PathBuf,
        /// The first few names found, e.g. "a.txt, b.txt and 3 more".
        contents: String,
    },
    /// The directory holds an earlier recording, and replacing it was not asked for.
    #[error(
        "output directory {} holds an earlier recording (model {model}, {simulated_ms} of {duration_ms} ms); pass \
         --force to replace it, or choose another directory",
        path.display()
    )]
    EarlierRecording { path: PathBuf, model: String, simulated_ms: f64, duration_ms: f64 },
    /// Creating the recording's files failed.
    #[error(transparent)]
    Record(#[from] RecordError),
}
