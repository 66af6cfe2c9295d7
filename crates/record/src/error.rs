//! The one error type of this crate.
//!
//! Every variant names the file it concerns and what was being done, so that a message such as
//! `cannot append 4096 spikes to /spikes/exc in out/spikes.h5: …` can be shown to a user as is.

use std::path::{Path, PathBuf};

/// Result alias used throughout `laminar-record`.
pub type Result<T, E = RecordError> = std::result::Result<T, E>;

/// Everything that can go wrong while writing or reading a recording.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The HDF5 library refused an operation.
    #[error("cannot {action} in {}: {source}", path.display())]
    Hdf5 {
        path: PathBuf,
        action: String,
        #[source]
        source: hdf5::Error,
    },

    /// A file-system operation failed (manifest, temporary files).
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: String,
        #[source]
        source: std::io::Error,
    },

    /// `manifest.json` could not be serialised or parsed.
    #[error("cannot {action} {}: {source}", path.display())]
    Json {
        path: PathBuf,
        action: String,
        #[source]
        source: serde_json::Error,
    },

    /// The caller passed something the format cannot represent (unknown population index,
    /// frame of the wrong length, non-finite time …). Nothing was written.
    #[error("invalid request for {}: {message}", path.display())]
    InvalidInput { path: PathBuf, message: String },

    /// A file being read does not follow the recording format.
    #[error("{} is not a valid laminar/SONATA recording: {message}", path.display())]
    Format { path: PathBuf, message: String },
}

impl RecordError {
    pub(crate) fn invalid_input(path: &Path, message: impl Into<String>) -> Self {
        Self::InvalidInput { path: path.to_path_buf(), message: message.into() }
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
        self.map_err(|source| RecordError::Hdf5 { path: path.to_path_buf(), action: action(), source })
    }
}
