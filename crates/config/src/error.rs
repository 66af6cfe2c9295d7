//! [`ConfigError`]: what is wrong with a model file and where.

use std::path::PathBuf;

use laminar_models::registry;

/// A problem with a model file: where it is and what is allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// The line (1-based) of the offending key or value, when it is in the file.
    pub line: Option<usize>,
    /// The `--set` argument the offending value came from, if it came from one.
    pub set: Option<String>,
    /// Dotted path of the field, e.g. `populations.exc.params.tau_m` (empty for syntax errors).
    pub field: String,
    /// The offending value as written, when there is one.
    pub value: Option<String>,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn with_value(mut self, value: impl Into<String>) -> Self {
        self.value = Some(value.into());
        self
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        match (&self.line, &self.set) {
            (_, Some(set)) => write!(f, " (--set {set}): ")?,
            (Some(line), None) => write!(f, ":{line}: ")?,
            (None, None) => write!(f, ": ")?,
        }
        if !self.field.is_empty() {
            write!(f, "{}", self.field)?;
            if let Some(v) = &self.value {
                write!(f, " = {v}")?;
            }
            write!(f, ": ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ConfigError {}

// Errors are built once, on the way out of a failed load; their size does not matter, and the
// public type keeps the plain fields the CLI and tests read.
pub(crate) type Res<T> = Result<T, Box<ConfigError>>;

/// " (did you mean `x`?)" for the candidate closest to `word`, or nothing.
pub(crate) fn suggestion(word: &str, candidates: &[&str]) -> String {
    registry::closest(word, candidates).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default()
}
