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
//! - [`Error`]: what can go wrong, typed.
//!
//! Room is left for the modules of the attention work that come next: `encoding` (stimuli into
//! spike trains), `protocol` (the trial structure of an experiment), `decoding` (spike trains
//! back into quantities), `reference` (the expected, non-spiking computation) and `metrics`
//! (how closely a network follows its reference). Model files are loaded with
//! `laminar_config`, recordings written with `laminar_record`.

mod error;
pub mod gating;
pub mod normalization;
pub mod stats;

pub use error::{Error, Result};
