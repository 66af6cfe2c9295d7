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
    /// A file or directory could not be written.
    #[error("writing {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `attention scaling`: a list option (`--tokens`, `--seeds`) with no entries.
    #[error("{option}: give at least one value")]
    EmptyList { option: &'static str },
    /// `attention scaling`: a value given twice in a list option (its runs would share a
    /// directory).
    #[error("{option}: {value} is given twice")]
    Repeated { option: &'static str, value: u64 },
    /// `attention scaling`: a size outside what the inputs allow.
    #[error("{option} {value}: must be 1 to {max}")]
    OutOfRange { option: &'static str, value: usize, max: usize },
    /// `attention scaling`: the output directory already holds a sweep's table.
    #[error("{} exists: the directory holds an earlier sweep (--force replaces it)", path.display())]
    EarlierSweep { path: PathBuf },
    /// `attention scaling`: one run of the sweep failed; the runs before it are written.
    #[error("run n = {n}, seed {seed} ({})", dir.display())]
    SweepRun {
        n: usize,
        seed: u64,
        dir: PathBuf,
        #[source]
        source: Box<Error>,
    },
    /// `attention scaling`: what the caller does after each run (its picture) failed.
    #[error("after run n = {n}, seed {seed} ({})", dir.display())]
    AfterRun {
        n: usize,
        seed: u64,
        dir: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
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
