//! Checkpoints: the whole state of a [`Simulation`](crate::Simulation) between two runs, in a file.
//!
//! A checkpoint is taken at a step boundary between [`Simulation::run`](crate::Simulation::run)
//! calls, where every spike of the past has been delivered and nothing is in flight between
//! threads; what determines the future is then the state of every component:
//! the neurons (and, for event-driven models, the step each was last brought up to date and the
//! step it is next due: they are saved raw, never caught up, so a resumed run splits no
//! closed-form gap the uninterrupted run did not), the ring buffers (inputs already delivered for
//! steps not yet computed, with the touched marks of event-driven buffers), the devices' channels
//! (random stream positions, schedules, next due steps), the plastic synapses (weights, traces,
//! astrocyte domains) and the spike histories they read, and the spike counters. Static
//! connectivity is not stored: it is a pure function of the model file and the seed, which the
//! header identifies, so resuming rebuilds it (as [`NetworkBuilder::build`] always draws it).
//!
//! # File layout (little-endian)
//! ```text
//! magic      12 bytes  "LAMINARCKPT\0"
//! format      u32      FORMAT_VERSION
//! header_len  u64      then the header (encoded CheckpointHeader)
//! state_len   u64      then the state (encoded StateColumns)
//! checksum    u64      over the header and state bytes
//! ```
//! The header can be read without the state ([`read_header`]) to say what a checkpoint is. A
//! checkpoint is written to `NAME.tmp`, synced, and renamed over `NAME`, so a reader sees the old
//! complete file or the new complete file, never a partial one.
//!
//! [`NetworkBuilder::build`]: crate::NetworkBuilder::build

pub(crate) mod codec;
mod state_io;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use state_io::{StateColumns, StateError, StateIo};

use crate::time::Step;

/// The checkpoint format's version: bumped whenever the layout, the encoder or the meaning of any
/// saved column changes. A checkpoint of another format version is refused. Version 2: a
/// `poisson_generator` drawing one count per step saves no per-channel streams (its draws are
/// counter-based, functions of the step).
pub const FORMAT_VERSION: u32 = 2;

const MAGIC: &[u8; 12] = b"LAMINARCKPT\0";

/// What a checkpoint belongs to; every field must match for a resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointHeader {
    /// The laminar version that wrote it.
    pub laminar_version: String,
    /// A hash of the model text and its overrides (hex), and the model's name, from the caller.
    pub model_hash: String,
    pub model_name: String,
    pub seed: u64,
    /// The resolution in ms and the step the state was taken at.
    pub h_ms: f64,
    pub step: Step,
    /// `(name, model, size)` per population.
    pub populations: Vec<(String, String, u64)>,
    /// `(name, synapses built)` per projection.
    pub projections: Vec<(String, u64)>,
    /// Threads of the run that wrote it (informational: any count can resume).
    pub threads: usize,
    /// The caller's own records (the recorder's dataset lengths, the run's settings), as text.
    pub attachments: BTreeMap<String, String>,
}

/// A checkpoint could not be written, read or used.
#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a laminar checkpoint ({detail})")]
    NotACheckpoint { path: String, detail: String },
    #[error(
        "{path}: checkpoint format {found}, this laminar reads format {FORMAT_VERSION}: resume it with the laminar \
         that wrote it"
    )]
    Format { path: String, found: u32 },
    #[error("{path}: the checkpoint is corrupted ({detail}); use an earlier checkpoint or rerun")]
    Corrupted { path: String, detail: String },
    #[error("the checkpoint does not belong to this run: {0}")]
    Mismatch(String),
    #[error("{0}")]
    State(#[from] StateError),
}

/// A 64-bit checksum of `bytes`, eight bytes at a time (corruption detection, not security).
fn checksum(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0x243F_6A88_85A3_08D3 ^ bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        h = (h ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^ (h >> 32)
}

/// What writing a checkpoint took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Written {
    /// The file's size.
    pub bytes: u64,
    /// Encoding the header and state and checksumming them (the CPU's part).
    pub encode_seconds: f64,
    /// Writing the file, syncing it and renaming it into place (the disk's part).
    pub write_seconds: f64,
}

/// Writes a checkpoint atomically to `path` (through `path.tmp`, synced, then renamed).
pub fn write(path: &Path, header: &CheckpointHeader, state: &StateColumns) -> Result<Written, CheckpointError> {
    let started = std::time::Instant::now();
    let err = |source| CheckpointError::Io { path: path.display().to_string(), source };
    let encode_err = |detail: String| CheckpointError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(format!("encoding: {detail}")),
    };
    let header_bytes = codec::encode(header).map_err(encode_err)?;
    let state_bytes = codec::encode(state).map_err(encode_err)?;
    let sum = checksum_pair(&header_bytes, &state_bytes);
    let encode_seconds = started.elapsed().as_secs_f64();
    let tmp = path.with_extension("tmp");
    {
        let mut file = std::fs::File::create(&tmp).map_err(err)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut file);
        out.write_all(MAGIC).map_err(err)?;
        out.write_all(&FORMAT_VERSION.to_le_bytes()).map_err(err)?;
        out.write_all(&(header_bytes.len() as u64).to_le_bytes()).map_err(err)?;
        out.write_all(&header_bytes).map_err(err)?;
        out.write_all(&(state_bytes.len() as u64).to_le_bytes()).map_err(err)?;
        out.write_all(&state_bytes).map_err(err)?;
        out.write_all(&sum.to_le_bytes()).map_err(err)?;
        out.flush().map_err(err)?;
        drop(out);
        file.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename itself is durable only once the directory is synced.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(Written {
        bytes: (12 + 4 + 8 + header_bytes.len() + 8 + state_bytes.len() + 8) as u64,
        encode_seconds,
        write_seconds: started.elapsed().as_secs_f64() - encode_seconds,
    })
}

fn checksum_pair(header: &[u8], state: &[u8]) -> u64 {
    checksum(header) ^ checksum(state).rotate_left(17)
}

/// A checkpoint file's blocks, as read.
struct Parts {
    header: Vec<u8>,
    /// Empty when only the header was read.
    state: Vec<u8>,
    checksum: Option<u64>,
}

/// Reads the framing and returns the header bytes, state bytes and stored checksum.
fn read_parts(path: &Path, with_state: bool) -> Result<Parts, CheckpointError> {
    let p = path.display().to_string();
    let io = |source| CheckpointError::Io { path: p.clone(), source };
    let short =
        |what: &str| CheckpointError::Corrupted { path: p.clone(), detail: format!("the file ends inside {what}") };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut magic = [0u8; 12];
    if file.read_exact(&mut magic).is_err() || &magic != MAGIC {
        return Err(CheckpointError::NotACheckpoint {
            path: p,
            detail: "its first bytes are not a checkpoint's".into(),
        });
    }
    let mut word = [0u8; 4];
    file.read_exact(&mut word).map_err(|_| short("the format version"))?;
    let found = u32::from_le_bytes(word);
    if found != FORMAT_VERSION {
        return Err(CheckpointError::Format { path: p, found });
    }
    let mut read_block = |what: &str, limit: u64| -> Result<Vec<u8>, CheckpointError> {
        let mut n = [0u8; 8];
        file.read_exact(&mut n).map_err(|_| short(what))?;
        let n = u64::from_le_bytes(n);
        if n > limit {
            return Err(short(what));
        }
        let mut bytes = vec![0u8; n as usize];
        file.read_exact(&mut bytes).map_err(|_| short(what))?;
        Ok(bytes)
    };
    let header = read_block("the header", len)?;
    if !with_state {
        return Ok(Parts { header, state: Vec::new(), checksum: None });
    }
    let state = read_block("the state", len)?;
    let mut sum = [0u8; 8];
    file.read_exact(&mut sum).map_err(|_| short("the checksum"))?;
    let mut rest = [0u8; 1];
    if file.read(&mut rest).map_err(io)? != 0 {
        return Err(CheckpointError::Corrupted { path: p, detail: "bytes after the checksum".into() });
    }
    Ok(Parts { header, state, checksum: Some(u64::from_le_bytes(sum)) })
}

/// Reads only a checkpoint's header (to say what it is, or to check it belongs to a run).
pub fn read_header(path: &Path) -> Result<CheckpointHeader, CheckpointError> {
    let header = read_parts(path, false)?.header;
    codec::decode(&header).map_err(|detail| CheckpointError::Corrupted {
        path: path.display().to_string(),
        detail: format!("header: {detail}"),
    })
}

/// Reads a whole checkpoint, verifying its checksum.
pub fn read(path: &Path) -> Result<(CheckpointHeader, StateColumns), CheckpointError> {
    let p = path.display().to_string();
    let Parts { header: header_bytes, state: state_bytes, checksum: sum } = read_parts(path, true)?;
    if sum != Some(checksum_pair(&header_bytes, &state_bytes)) {
        return Err(CheckpointError::Corrupted { path: p, detail: "the checksum does not match its contents".into() });
    }
    let header = codec::decode(&header_bytes)
        .map_err(|detail| CheckpointError::Corrupted { path: p.clone(), detail: format!("header: {detail}") })?;
    let state = codec::decode(&state_bytes)
        .map_err(|detail| CheckpointError::Corrupted { path: p, detail: format!("state: {detail}") })?;
    Ok((header, state))
}

/// Says how `found` differs from `expected` in what makes a run (version, model, seed, network),
/// or `None` if a checkpoint with header `found` can resume the run described by `expected`.
pub fn difference(expected: &CheckpointHeader, found: &CheckpointHeader) -> Option<String> {
    if found.laminar_version != expected.laminar_version {
        return Some(format!(
            "it was written by laminar {}, this is laminar {}",
            found.laminar_version, expected.laminar_version
        ));
    }
    if found.model_hash != expected.model_hash || found.model_name != expected.model_name {
        return Some(format!(
            "it is of model `{}` (hash {}), the run's model is `{}` (hash {}): the model file or its --set overrides \
             changed",
            found.model_name, found.model_hash, expected.model_name, expected.model_hash
        ));
    }
    if found.seed != expected.seed {
        return Some(format!("it was run with seed {}, this run has seed {}", found.seed, expected.seed));
    }
    if found.h_ms.to_bits() != expected.h_ms.to_bits() {
        return Some(format!("its resolution is {} ms, the run's {} ms", found.h_ms, expected.h_ms));
    }
    if found.populations != expected.populations {
        return Some("its populations (names, models, sizes) differ from the network built".into());
    }
    if found.projections != expected.projections {
        return Some("its projections (names, synapse counts) differ from the network built".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> CheckpointHeader {
        CheckpointHeader {
            laminar_version: "0.1.0".into(),
            model_hash: "abc".into(),
            model_name: "m".into(),
            seed: 1,
            h_ms: 0.1,
            step: 10,
            populations: vec![("E".into(), "iaf_psc_exp".into(), 4)],
            projections: vec![],
            threads: 2,
            attachments: BTreeMap::new(),
        }
    }

    #[test]
    fn round_trip_and_corruption_is_refused() {
        let dir = std::env::temp_dir().join(format!("laminar-ckpt-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("checkpoint.bin");
        let mut io = StateIo::saver(10);
        io.enter_shard("E".into(), 4);
        io.neurons("V", &mut [1.0f64, 2.0, 3.0, 4.0]).unwrap();
        write(&path, &header(), &io.into_columns()).unwrap();
        let (h, state) = read(&path).unwrap();
        assert_eq!(h, header());
        assert_eq!(state.columns.len(), 1);
        assert!(!path.with_extension("tmp").exists());

        let mut bytes = std::fs::read(&path).unwrap();
        let k = bytes.len() - 12;
        bytes[k] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("corrupted"), "{err}");
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("corrupted") && err.contains("ends inside"), "{err}");
        std::fs::write(&path, b"hello, this is not it").unwrap();
        assert!(matches!(read(&path), Err(CheckpointError::NotACheckpoint { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn differences_are_named() {
        let a = header();
        let mut b = header();
        assert_eq!(difference(&a, &b), None);
        b.seed = 2;
        assert!(difference(&a, &b).unwrap().contains("seed 2"));
        let mut c = header();
        c.model_hash = "def".into();
        assert!(difference(&a, &c).unwrap().contains("--set"));
        let mut d = header();
        d.laminar_version = "0.0.9".into();
        assert!(difference(&a, &d).unwrap().contains("laminar 0.0.9"));
    }
}
