//! The `laminar` command line: runs, recordings, NEST parity checks, the attention criteria's
//! reports. Model files are `laminar_config`'s, recordings `laminar_record`'s, the attention
//! experiments `laminar_attention`'s; this crate parses arguments and prints.
pub mod checkpointing;
pub mod circuit;
pub mod gating;
pub mod normalization;
pub mod run;
pub mod scenarios;
pub mod verify;
