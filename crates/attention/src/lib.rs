//! Attention experiments on laminar networks: the protocols that drive a network, the analysis
//! of what it did, and the results, as a library (the `laminar` binary only parses arguments
//! and prints).
//!
//! - [`gating`]: does the apical input of a `pyramidal_bac` cell gate its somatic drive
//!   multiplicatively? (`laminar gating`)
//! - [`normalization`]: does `astro_normalized_synapse` normalise divisively, as derived?
//!   (`laminar normalization`)
//! - [`stats`]: the fit and statistics helpers both use (least-squares fits, R², Pearson r,
//!   mean and standard deviation).
//! - `laminar attention`: the inputs ([`inputs`]), feature maps ([`encoding`]), the circuits
//!   ([`circuit`]: [`astro`], [`column`](mod@column), [`multihead`], [`reference_column`]), their phases
//!   ([`protocol`]), the run ([`harness`]), counts and decoders ([`decoding`]), rate-based
//!   references ([`reference`](mod@reference)), metrics ([`metrics`]) and `attention.h5` ([`output`]).
//! - [`scaling`]: a circuit's r_c and wall time against the number of tokens, over seeds
//!   (`laminar attention scaling`); [`compare`]: the three hypotheses on one set of inputs
//!   (`laminar attention compare`).
//! - [`Error`]: what can go wrong, typed.
//!
//! Model files are loaded with `laminar_config`, recordings written with `laminar_record`.

mod error;
pub mod gating;
pub mod normalization;
pub mod stats;

pub mod astro;
pub mod circuit;
pub mod column;
pub mod compare;
pub mod decoding;
pub mod encoding;
pub mod harness;
pub mod inputs;
pub mod matrix;
pub mod metrics;
pub mod multihead;
pub mod output;
pub mod protocol;
pub mod reference;
pub mod reference_column;
pub mod scaling;

pub use error::{Error, Result};
pub use harness::{AttentionOptions, AttentionRun, run_attention};

/// A control circuit: the same network with one mechanism removed (`--baseline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    None,
    /// The astrocyte's denominator held at one constant for the run.
    NoAstrocyte,
    /// Feature indices permuted between the write and the read phase (astro), or between the
    /// memory cells and the query cells they gate (multihead).
    ShuffledMemory,
    /// Passive apical tufts: no plateau current, no back-propagating action potential.
    PassiveApical,
    /// The query trains delivered to the basal receptor instead of the apical one.
    ApicalToBasal,
}

impl Baseline {
    pub const ALL: [Baseline; 4] =
        [Baseline::NoAstrocyte, Baseline::ShuffledMemory, Baseline::PassiveApical, Baseline::ApicalToBasal];

    pub fn name(self) -> &'static str {
        match self {
            Baseline::None => "none",
            Baseline::NoAstrocyte => "no_astrocyte",
            Baseline::ShuffledMemory => "shuffled_memory",
            Baseline::PassiveApical => "passive_apical",
            Baseline::ApicalToBasal => "apical_to_basal",
        }
    }

    /// The name written to attention.h5 ("" for the full circuit).
    pub fn name_or_empty(self) -> &'static str {
        if self == Baseline::None { "" } else { self.name() }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }
}
