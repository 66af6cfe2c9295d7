//! The `laminar` command line: model files, runs, recordings, NEST parity checks.
pub mod config;
pub mod scenarios;
pub mod verify;
