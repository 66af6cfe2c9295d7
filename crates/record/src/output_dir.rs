//! The output directory as a whole: whether a run may write into it (an earlier recording is
//! replaced only when asked), and a summary of what a recording holds (`laminar inspect`).

use std::path::{Path, PathBuf};

use crate::error::OutputError;
use crate::{Manifest, Result};

/// Names laminar writes into an output directory, besides those a manifest lists: what a
/// replaced recording may have left (an export, plots, the reserve, a manifest's temporary copy).
const KNOWN_FILE_NAMES: &[&str] = &[
    crate::MANIFEST_FILE_NAME,
    "spikes.h5",
    "weights.h5",
    "nodes.h5",
    "node_types.csv",
    "edges.h5",
    "edge_types.csv",
    "raster.png",
    "rates.png",
    // `laminar attention`: its result, picture and the circuit as run.
    "attention.h5",
    "attention.png",
    "circuit.toml",
    // `laminar attention scaling`: the sweep's table and figure.
    "scaling.csv",
    "scaling.png",
    // `laminar run --checkpoint-every` and `--checkpoint-at-exit`: the checkpoint and the
    // temporary file it is written through.
    "checkpoint.bin",
    "checkpoint.tmp",
    crate::RESERVE_FILE_NAME,
];

/// Whether `name` is one of laminar's own files: a known name, or the manifest's temporary copy
/// (`.manifest.json.<pid>.tmp`) that a killed run can leave.
fn is_laminar_file(name: &str) -> bool {
    KNOWN_FILE_NAMES.contains(&name)
        || (name.starts_with(&format!(".{}.", crate::MANIFEST_FILE_NAME)) && name.ends_with(".tmp"))
}

/// Checks that a run may write into `dir`, and returns the files of an earlier recording that
/// must go first (empty unless `force`). Nothing is changed.
///
/// * A missing or empty directory is fine.
/// * A directory holding a laminar recording (a readable `manifest.json`) is replaced only with
///   `force`: the files its manifest lists and laminar's known names go; any other file stays.
/// * Anything else is refused, naming what is there: a run never mixes its files with others.
pub fn check_output_dir(dir: &Path, force: bool) -> Result<Vec<PathBuf>, OutputError> {
    let reading = || format!("reading output directory {}", dir.display());
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(cause) if dir.exists() && !dir.is_dir() => {
            return Err(OutputError::NotADirectory { path: dir.to_path_buf(), cause });
        }
        Err(source) => return Err(OutputError::Io { action: reading(), source }),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| OutputError::Io { action: reading(), source })?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let listing = |names: &[String]| {
        const SHOWN: usize = 8;
        let mut text = names.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
        if names.len() > SHOWN {
            text.push_str(&format!(" and {} more", names.len() - SHOWN));
        }
        text
    };
    let manifest = match Manifest::read(dir) {
        Ok(m) => m,
        Err(_) => return Err(OutputError::NotARecording { path: dir.to_path_buf(), contents: listing(&names) }),
    };
    if !force {
        return Err(OutputError::EarlierRecording {
            path: dir.to_path_buf(),
            model: manifest.model_path,
            simulated_ms: manifest.simulated_ms,
            duration_ms: manifest.duration_ms,
        });
    }
    // Only plain names inside `dir`: a hand-edited manifest must not make laminar delete
    // anything elsewhere.
    let listed = manifest_files(&manifest);
    Ok(names
        .into_iter()
        .filter(|name| is_laminar_file(name) || listed.iter().any(|l| l == name))
        .map(|name| dir.join(name))
        .filter(|path| path.is_file())
        .collect())
}

/// The file names a manifest lists (relative to its directory).
fn manifest_files(m: &Manifest) -> Vec<String> {
    let mut files: Vec<String> = m.files.spikes.iter().chain(&m.files.weights).chain(&m.files.nodes).cloned().collect();
    files.extend(m.files.reports.iter().map(|r| r.file.clone()));
    files
}

/// Makes `dir` ready for a run: checks it ([`check_output_dir`]), removes an earlier recording
/// when `force` allows it, and creates the directory.
pub fn prepare_output_dir(dir: &Path, force: bool) -> Result<(), OutputError> {
    for file in check_output_dir(dir, force)? {
        std::fs::remove_file(&file).map_err(|source| OutputError::Io {
            action: format!("removing {} of the earlier recording", file.display()),
            source,
        })?;
    }
    std::fs::create_dir_all(dir)
        .map_err(|source| OutputError::Io { action: format!("creating output directory {}", dir.display()), source })
}

/// A human-readable summary of an output directory (`laminar inspect`).
pub fn inspect(dir: &Path) -> Result<String> {
    let m = Manifest::read(dir)?;
    let mut s = format!(
        "{}: laminar {} — model {}, seed {}, h = {} ms, threads {}\n",
        dir.display(),
        m.laminar_version,
        m.model_path,
        m.seed,
        m.resolution_ms,
        m.threads
    );
    s.push_str(&format!(
        "simulated {} of {} ms{}\n",
        m.simulated_ms,
        m.duration_ms,
        match (&m.completed, &m.stopped_early_reason) {
            (true, _) => " (completed)".to_string(),
            (false, Some(r)) => format!(" (stopped early: {r})"),
            (false, None) => " (incomplete: the run did not finish writing)".to_string(),
        }
    ));
    s.push_str("populations:\n");
    for p in &m.populations {
        s.push_str(&format!(
            "  {:<16} {:<20} {:>9} neurons  gids {}..{}\n",
            p.name,
            p.model,
            p.size,
            p.first_gid,
            p.first_gid + p.size
        ));
    }
    if let Some(file) = &m.files.spikes {
        s.push_str(&format!("spikes ({file}):\n"));
        let secs = m.simulated_ms / 1000.0;
        for pop in crate::read_spikes(&dir.join(file))? {
            let size = m.populations.iter().find(|p| p.name == pop.name).map(|p| p.size).unwrap_or(0);
            let rate = if size > 0 && secs > 0.0 { pop.timestamps.len() as f64 / size as f64 / secs } else { 0.0 };
            // Rounded to 1e-9 ms for display: step times like 999.9 are stored as
            // 999.9000000000001 (`(k+1)·h` in binary floating point).
            let shown = |t: Option<&f64>| t.map_or(f64::NAN, |t| (t * 1e9).round() / 1e9);
            let (first, last) = (shown(pop.timestamps.first()), shown(pop.timestamps.last()));
            s.push_str(&format!(
                "  {:<16} {:>10} spikes  {:>8.3} Hz mean  t in [{first}, {last}] ms  sorting {}\n",
                pop.name,
                pop.timestamps.len(),
                rate,
                pop.sorting
            ));
        }
    }
    for r in &m.files.reports {
        let rep = crate::read_report(&dir.join(&r.file))?;
        let (lo, hi) = rep.data.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        s.push_str(&format!(
            "report {} ({}): {} of {}, {} nodes, {} frames every {} ms from {} ms, range [{lo}, {hi}] {}\n",
            r.variable,
            r.file,
            r.variable,
            r.population,
            rep.node_ids.len(),
            rep.n_frames,
            rep.dt,
            rep.tstart,
            rep.units
        ));
    }
    if let Some(file) = &m.files.weights {
        for p in crate::read_weights(&dir.join(file))? {
            let (lo, hi) = p.weights.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &w| (a.min(w), b.max(w)));
            s.push_str(&format!(
                "weights {} ({file}): {} transmissions, weight range [{lo}, {hi}] {}\n",
                p.projection,
                p.weights.len(),
                p.units
            ));
        }
    }
    Ok(s)
}
