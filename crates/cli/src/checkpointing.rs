//! Checkpoints of `laminar run` and `laminar resume`.
//!
//! `laminar run MODEL --out DIR --checkpoint-every MS` writes `DIR/checkpoint.bin` every `MS` of
//! simulated time (at multiples of `MS`, so a resumed run keeps the same schedule) and at the end;
//! `--checkpoint-at-exit` writes one when SIGINT or SIGTERM stops the run. A checkpoint is taken
//! between two engine calls: the recorder first flushes every file and notes how far each goes
//! (its *position*), then the engine's state is written through `checkpoint.tmp`, synced and
//! renamed, so `checkpoint.bin` is always a complete checkpoint (the previous one until the new
//! one is whole).
//!
//! In a run over several MPI ranks every rank takes part in each checkpoint (rank 0 gathers the
//! ranks' state, joins it into what one process would have saved, and writes the file), and any
//! rank count resumes it: every rank reads the file and takes its share.
//!
//! `laminar resume DIR` reads the checkpoint, rebuilds the network from the model text and
//! overrides it holds (the static connectivity is not in the checkpoint: the model and the seed
//! determine it), checks that the network is the one the checkpoint was taken from (laminar
//! version, model hash, seed, populations, projections), restores the state, cuts every
//! recording file back to the checkpoint's position (what a killed run wrote after it) and
//! continues, appending. `--duration` extends the run, `--threads` changes the thread count
//! (results do not depend on it).
//!
//! The checkpoint's header carries, as attachments: the model file's path and text, the
//! overrides, the duration, and the recorder's position (JSON).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use laminar_config as config;
use laminar_engine::checkpoint;
use laminar_engine::{Simulation, Step};
use laminar_record::{Recorder, RecorderPosition, is_run_length_override};

use crate::run::RunOptions;

/// The checkpoint's file name in the output directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.bin";

/// A hash of what determines the network and its dynamics: the model text and the overrides
/// other than the duration and thread count (FNV-1a, hex).
pub fn model_hash(text: &str, overrides: &[String]) -> String {
    let mut all = text.to_string();
    for o in overrides.iter().filter(|o| !is_run_length_override(o)) {
        all.push('\n');
        all.push_str(o);
    }
    format!("{:016x}", laminar_engine::rng::purpose_hash(&all))
}

/// A run's checkpoint settings and what its checkpoints must record.
#[derive(Debug)]
pub struct Checkpointing {
    /// Steps between checkpoints.
    pub every: Option<Step>,
    pub at_exit: bool,
    model_path: PathBuf,
    model_text: String,
    overrides: Vec<String>,
    duration_ms: f64,
}

/// A checkpoint written, and where its time went.
#[derive(Debug, Clone)]
pub struct Written {
    pub at_ms: f64,
    pub bytes: u64,
    pub seconds: f64,
    /// Flushing the recording to disk first.
    pub flush_seconds: f64,
    /// Collecting the state from the components.
    pub collect_seconds: f64,
    /// Encoding it (bincode) and checksumming.
    pub encode_seconds: f64,
    /// Writing, syncing and renaming the file.
    pub write_seconds: f64,
}

impl Checkpointing {
    /// The settings of `options` for the run of `file` (None: no checkpoints asked for).
    pub fn new(
        options: &RunOptions,
        model: &Path,
        file: &config::ModelFile,
        overrides: &[String],
    ) -> Result<Option<Self>> {
        if options.checkpoint_every_ms.is_none() && !options.checkpoint_at_exit {
            return Ok(None);
        }
        let resolution = laminar_engine::Resolution::new(file.simulation().resolution_ms)?;
        let every = match options.checkpoint_every_ms {
            Some(ms) if !(ms.is_finite() && ms > 0.0) => {
                bail!("--checkpoint-every {ms}: give a positive number of milliseconds")
            }
            Some(ms) => Some(resolution.round_steps(ms).max(1)),
            None => None,
        };
        Ok(Some(Self {
            every,
            at_exit: options.checkpoint_at_exit,
            model_path: std::fs::canonicalize(model).unwrap_or_else(|_| model.to_path_buf()),
            model_text: file.text.clone(),
            overrides: overrides.to_vec(),
            duration_ms: file.simulation().duration_ms,
        }))
    }

    /// Whether a checkpoint is due after an engine call that stopped early (`interrupted`: a
    /// signal) or reached its stop: at exit if asked, else on the interval's schedule.
    pub fn due_after(&self, interrupted: bool) -> bool {
        if interrupted { self.at_exit } else { self.every.is_some() }
    }

    /// Where the next engine call should stop: the next multiple of the interval, or `until`.
    pub fn next_stop(&self, now: Step, until: Step) -> Step {
        self.every.map_or(until, |e| ((now / e + 1) * e).min(until))
    }

    /// Flushes the recording and writes `out/checkpoint.bin` for the simulation's current step.
    pub fn write(&self, sim: &mut Simulation, recorder: &mut Recorder, out: &Path) -> Result<Written> {
        let started = Instant::now();
        let position = recorder.checkpoint(sim.now()).context("flushing the recording")?;
        let flush_seconds = started.elapsed().as_secs_f64();
        let mut attachments = BTreeMap::new();
        attachments.insert("model_path".to_string(), self.model_path.display().to_string());
        attachments.insert("model_text".to_string(), self.model_text.clone());
        attachments.insert("overrides".to_string(), serde_json::to_string(&self.overrides)?);
        attachments.insert("duration_ms".to_string(), self.duration_ms.to_string());
        attachments.insert("recorder".to_string(), serde_json::to_string(&position)?);
        let header = sim.checkpoint_header(
            env!("CARGO_PKG_VERSION"),
            &model_name(&self.model_path),
            &model_hash(&self.model_text, &self.overrides),
            attachments,
        );
        let collect_started = Instant::now();
        let state = sim.save_state()?;
        let collect_seconds = collect_started.elapsed().as_secs_f64();
        let file = checkpoint::write(&out.join(CHECKPOINT_FILE), &header, &state)?;
        Ok(Written {
            at_ms: sim.resolution().ms(sim.now()),
            bytes: file.bytes,
            seconds: started.elapsed().as_secs_f64(),
            flush_seconds,
            collect_seconds,
            encode_seconds: file.encode_seconds,
            write_seconds: file.write_seconds,
        })
    }
}

fn model_name(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into())
}

/// A network rebuilt and restored from a checkpoint, with what the resumed run needs.
#[derive(Debug)]
pub struct Restored {
    pub model: PathBuf,
    pub file: config::ModelFile,
    /// The overrides of the resumed run (the original ones, with a new duration or thread count).
    pub overrides: Vec<String>,
    pub built: config::BuiltModel,
    pub position: RecorderPosition,
    /// The checkpoint's size, and the time to read and decode it and to restore the state
    /// (the network's build is not included).
    pub bytes: u64,
    pub read_seconds: f64,
    pub restore_seconds: f64,
}

/// Reads `dir`'s checkpoint, rebuilds its network, checks it is the same, and restores it.
pub fn restore(dir: &Path, options: &RunOptions, ranks: std::sync::Arc<dyn laminar_engine::Ranks>) -> Result<Restored> {
    let path = dir.join(CHECKPOINT_FILE);
    if !path.exists() {
        bail!(
            "{}: no checkpoint to resume from (a run writes one with --checkpoint-every MS or --checkpoint-at-exit)",
            path.display()
        );
    }
    let read_started = Instant::now();
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let (header, state) = checkpoint::read(&path)?;
    let read_seconds = read_started.elapsed().as_secs_f64();
    let attachment = |key: &str| {
        header.attachments.get(key).with_context(|| format!("{}: the checkpoint has no `{key}`", path.display()))
    };
    let model = PathBuf::from(attachment("model_path")?);
    let text = attachment("model_text")?.clone();
    let stored: Vec<String> = serde_json::from_str(attachment("overrides")?)
        .with_context(|| format!("{}: the checkpoint's overrides", path.display()))?;
    let position: RecorderPosition = serde_json::from_str(attachment("recorder")?)
        .with_context(|| format!("{}: the checkpoint's recorder position", path.display()))?;
    let mut overrides: Vec<String> = stored
        .iter()
        .filter(|o| {
            let key = o.split_once('=').map(|(k, _)| k.trim());
            !(options.duration_ms.is_some() && key == Some("simulation.duration_ms")
                || options.threads.is_some() && key == Some("simulation.threads"))
        })
        .cloned()
        .collect();
    if let Some(d) = options.duration_ms {
        overrides.push(format!("simulation.duration_ms={d}"));
    }
    if let Some(t) = options.threads {
        overrides.push(format!("simulation.threads={t}"));
    }
    let file = config::load_str(&text, &model, &overrides)?;
    let sim_cfg = file.simulation().clone();
    let resolution = laminar_engine::Resolution::new(sim_cfg.resolution_ms)?;
    let until = resolution.exact_steps(sim_cfg.duration_ms).context("simulation.duration_ms")?;
    if until <= header.step {
        bail!(
            "the run in {} is already at {} ms, its duration; give a longer --duration to go on",
            dir.display(),
            resolution.ms(header.step)
        );
    }
    let mut built = file.build_on(sim_cfg.seed, sim_cfg.threads, ranks)?;
    let expected = built.simulation.checkpoint_header(
        env!("CARGO_PKG_VERSION"),
        &model_name(&model),
        &model_hash(&text, &overrides),
        BTreeMap::new(),
    );
    if let Some(difference) = checkpoint::difference(&expected, &header) {
        bail!("{}: the checkpoint does not belong to this run: {difference}", path.display());
    }
    let restore_started = Instant::now();
    built
        .simulation
        .restore_state(header.step, state)
        .with_context(|| format!("{}: restoring the checkpoint", path.display()))?;
    let restore_seconds = restore_started.elapsed().as_secs_f64();
    Ok(Restored { model, file, overrides, built, position, bytes, read_seconds, restore_seconds })
}

/// What `laminar inspect` says about a checkpoint: where it stands, what it belongs to, and its
/// bytes per neuron and per column group (the five largest).
pub fn describe(path: &Path) -> Result<String> {
    let (header, state) = checkpoint::read(path)?;
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let neurons: u64 = header.populations.iter().map(|p| p.2).sum();
    let mut text = format!(
        "checkpoint: {} at {} ms (step {}), laminar {}, model {} (hash {}), seed {}, written with {} thread{}\n  {} \
         ({:.0} bytes per neuron, {} neurons)\n",
        path.display(),
        header.step as f64 * header.h_ms,
        header.step,
        header.laminar_version,
        header.model_name,
        header.model_hash,
        header.seed,
        header.threads,
        if header.threads == 1 { "" } else { "s" },
        config::machine::human_bytes(bytes as f64),
        bytes as f64 / neurons.max(1) as f64,
        neurons
    );
    // Columns are `<scope>/<name>`; group by the name (`pending_input`, `rng`, `neurons`, …).
    let mut by_name: BTreeMap<String, (u64, usize)> = BTreeMap::new();
    for (column, items, bytes) in state.summary() {
        let name = column.rsplit('/').next().unwrap_or(&column).to_string();
        let entry = by_name.entry(name).or_default();
        entry.0 += items;
        entry.1 += bytes;
    }
    let mut largest: Vec<_> = by_name.into_iter().collect();
    largest.sort_by_key(|(_, (_, b))| std::cmp::Reverse(*b));
    for (name, (items, b)) in largest.into_iter().take(5) {
        text.push_str(&format!(
            "  {name:<16} {:>10} in {items} items ({:.1} bytes each)\n",
            config::machine::human_bytes(b as f64),
            b as f64 / items.max(1) as f64
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_ignores_duration_and_threads_only() {
        let text = "[simulation]\n";
        let base = model_hash(text, &[]);
        assert_eq!(base, model_hash(text, &["simulation.duration_ms=5".into(), "simulation.threads = 4".into()]));
        assert_ne!(base, model_hash(text, &["simulation.seed=5".into()]));
        assert_ne!(base, model_hash("[simulation]\nx=1\n", &[]));
    }
}
