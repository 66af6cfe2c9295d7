//! The `laminar` command line: model files, runs, recordings, NEST parity checks.
pub mod circuit;
pub mod config;
pub mod gating;
pub mod machine;
pub mod normalization;
pub mod output;
pub mod run;
pub mod scenarios;
pub mod verify;
