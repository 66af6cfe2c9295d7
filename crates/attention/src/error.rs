//! The errors of the attention experiments.

use std::path::PathBuf;

use laminar_engine::{BuildError, RunError, TimeError};

/// What went wrong in an experiment: a setting that is not allowed, a file that does not fit, a
/// model the registry refused, or the engine's own errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting of an experiment (an option, a grid field, a `--set` argument) that is not
    /// allowed; the message names it and says what is.
    #[error("{0}")]
    Invalid(String),
    /// A file could not be read.
    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A parameter or model file whose contents do not fit the experiment.
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    /// The model registry refused a model, device or synapse model, or its parameters.
    #[error("{0}")]
    Model(String),
    /// A measurement that could not be made (no regime edge on a calibration ladder, no samples).
    #[error("{0}")]
    Measurement(String),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Inputs(#[from] crate::inputs::InputError),
    #[error(transparent)]
    Config(#[from] Box<laminar_config::ConfigError>),
    #[error(transparent)]
    Record(#[from] laminar_record::RecordError),
    #[error(transparent)]
    Output(#[from] laminar_record::OutputError),
    #[error(transparent)]
    Time(#[from] TimeError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// The result of an experiment's steps.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<laminar_config::ConfigError> for Error {
    fn from(e: laminar_config::ConfigError) -> Self {
        Error::Config(Box::new(e))
    }
}
