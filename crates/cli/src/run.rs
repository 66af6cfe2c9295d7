//! `laminar run`: build a model file, simulate it while recording, and summarise.
//!
//! `laminar resume` continues a run from its checkpoint ([`crate::checkpointing`]) through the
//! same loop, appending to the recording.
//!
//! The simulation runs in one engine call (one per checkpoint interval when checkpoints are
//! asked for); the progress bar moves from the observer's progress
//! callback, and the engine checks the stop flag at every exchange interval, so an interrupt
//! ends the run at the next step boundary. The recording is then closed properly and the manifest says the
//! run stopped early, why (which signal, or which write failed) and how far it got.
//!
//! A signal that comes while the model is still being built (which can take seconds) cannot stop
//! the build, but nothing has been written yet: [`Interruption`] tells the signal handler so, and
//! it ends the process at once.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use laminar_engine::{
    NullObserver, Observer, Ranks, Resolution, Simulation, SingleRank, SpikeRecord, Step, WeightEvent,
};

use laminar_config as config;
use laminar_record::{Recorder, ReportPlan, RunInfo, WeightPlan};

use crate::checkpointing::Checkpointing;

/// Forwards everything to the recorder and moves the progress bar, shown once the run has taken
/// longer than a second.
struct WithProgress<'a> {
    recorder: &'a mut Recorder,
    bar: &'a ProgressBar,
    /// When to show the bar; `None` keeps it hidden (`--quiet`).
    show_after: Option<Instant>,
    /// Reading the clock at every exchange interval (often every 0.1-ms step) would cost more
    /// than the bar is worth: look only every `PROGRESS_STRIDE` steps.
    next_check: Step,
    resolution: Resolution,
    duration_ms: f64,
}

const PROGRESS_STRIDE: Step = 256;

impl Observer for WithProgress<'_> {
    fn spikes(&mut self, spikes: &[SpikeRecord]) -> Result<(), String> {
        self.recorder.spikes(spikes)
    }
    fn frame(&mut self, recording: usize, step: Step, values: &[f64]) -> Result<(), String> {
        self.recorder.frame(recording, step, values)
    }
    fn weights(&mut self, events: &[WeightEvent]) -> Result<(), String> {
        self.recorder.weights(events)
    }
    fn progress(&mut self, now: Step) {
        self.recorder.progress(now);
        if now < self.next_check {
            return;
        }
        self.next_check = now + PROGRESS_STRIDE;
        if self.bar.is_hidden() {
            match self.show_after {
                Some(at) if Instant::now() >= at => self.bar.set_draw_target(ProgressDrawTarget::stderr()),
                _ => return,
            }
        }
        self.bar.set_position(now);
        self.bar.set_message(format!("{:.0} / {:.0} ms", self.resolution.ms(now), self.duration_ms));
    }
}

/// Command-line settings of a run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub duration_ms: Option<f64>,
    pub seed: Option<u64>,
    pub threads: Option<usize>,
    pub overrides: Vec<String>,
    pub quiet: bool,
    /// Replace an earlier laminar recording in the output directory (`--force`).
    pub force: bool,
    /// Shared with the signal handler, which records there what it received.
    pub interruption: Option<Arc<Interruption>>,
    /// Write a checkpoint every this many ms of simulated time (`--checkpoint-every`), and at
    /// the end of the run.
    pub checkpoint_every_ms: Option<f64>,
    /// Write a checkpoint when a signal stops the run (`--checkpoint-at-exit`).
    pub checkpoint_at_exit: bool,
    /// The processes of a distributed run (`mpirun`); `None`: this process alone.
    pub ranks: Option<Arc<dyn Ranks>>,
    /// Time the build's and the run's phases and print where the time went (`--profile`).
    pub profile: bool,
}

/// What a signal handler and a run tell each other.
///
/// The handler records the signal and asks [`signal_received`](Self::signal_received) whether
/// the run has begun writing: if not, nothing needs closing and it may end the process at once;
/// if so, it sets the run's stop flag and the run closes its recording at the next step
/// boundary. The run calls [`begin_writing`](Self::begin_writing) before it touches the output
/// directory; the two calls are decided atomically, so exactly one side acts.
#[derive(Debug, Default)]
pub struct Interruption {
    /// The first signal received (0: none).
    signal: AtomicI32,
    phase: AtomicU8,
}

const BUILDING: u8 = 0;
const WRITING: u8 = 1;
const ABANDONED: u8 = 2;

impl Interruption {
    /// Records `signal`; true when the run has not begun writing, so the process may end now.
    pub fn signal_received(&self, signal: i32) -> bool {
        let _ = self.signal.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
        match self.phase.compare_exchange(BUILDING, ABANDONED, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => true,
            Err(phase) => phase == ABANDONED,
        }
    }

    /// Called before the output directory is touched; false when a signal came first (the
    /// handler is ending the process).
    pub fn begin_writing(&self) -> bool {
        match self.phase.compare_exchange(BUILDING, WRITING, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => true,
            Err(phase) => phase == WRITING,
        }
    }

    /// The signal received, if any (its number).
    pub fn signal(&self) -> Option<i32> {
        Some(self.signal.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }
}

/// A signal's name (`SIGTERM`), or its number when it has none here.
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal).map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_string())
}

/// Why a run whose stop flag was set stopped, for the manifest and the summary.
pub(crate) fn interruption_reason(interruption: Option<&Interruption>) -> String {
    match interruption.and_then(Interruption::signal) {
        Some(signal) if signal == nix::sys::signal::Signal::SIGINT as i32 => "interrupted by SIGINT (Ctrl-C)".into(),
        Some(signal) => format!("interrupted by {}", signal_name(signal)),
        None => "interrupted".into(),
    }
}

/// Decimal places of `resolution_ms` (0.1 → 1, 0.025 → 3): times on the step grid are printed
/// with these, not as `9055.300000000001`.
pub fn resolution_decimals(resolution_ms: f64) -> usize {
    (0..=9)
        .find(|&d| {
            let scaled = resolution_ms * 10f64.powi(d as i32);
            (scaled - scaled.round()).abs() <= 1e-9 * scaled.abs().max(1.0)
        })
        .unwrap_or(9)
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub text: String,
    pub completed: bool,
    /// The signal that stopped the run early, if one did.
    pub signal: Option<i32>,
}

/// Runs `model` into `out`, stopping early when `stop` is set.
pub fn run(model: &Path, out: &Path, options: &RunOptions, stop: Arc<AtomicBool>) -> Result<RunSummary> {
    let mut overrides = options.overrides.clone();
    if let Some(d) = options.duration_ms {
        overrides.push(format!("simulation.duration_ms={d}"));
    }
    if let Some(s) = options.seed {
        overrides.push(format!("simulation.seed={s}"));
    }
    if let Some(t) = options.threads {
        overrides.push(format!("simulation.threads={t}"));
    }
    let started = Instant::now();
    let file = config::load(model, &overrides)?;
    let ranks: Arc<dyn Ranks> = options.ranks.clone().unwrap_or_else(|| Arc::new(SingleRank));
    if ranks.rank() != 0 {
        // Only rank 0 writes the recording; the others simulate their share and exchange.
        let sim_cfg = file.simulation();
        let sim = file.build_on(sim_cfg.seed, sim_cfg.threads, ranks)?.simulation;
        let checkpointing = Checkpointing::new(options, model, &file, &overrides)?;
        return run_worker_rank(&file, sim, checkpointing.as_ref(), &stop);
    }
    // Refuse an unsuitable output directory before a build that can take minutes.
    laminar_record::check_output_dir(out, options.force)?;
    let sim_cfg = file.simulation().clone();
    let built = file.build_on(sim_cfg.seed, sim_cfg.threads, ranks)?;
    let build_time = started.elapsed();
    let plans = Plans::of(&built);
    let sim = built.simulation;
    let info = run_info(model, &file, &overrides);
    if let Some(interruption) = &options.interruption
        && !interruption.begin_writing()
    {
        anyhow::bail!(
            "{} while the model was being built; nothing was written",
            interruption_reason(Some(interruption))
        );
    }
    laminar_record::prepare_output_dir(out, options.force)?;
    let populations = sim.populations().to_vec();
    let mut recorder =
        Recorder::create(out, &info, &populations, &built.record_spikes, &plans.reports, &plans.weights)?;
    if file.circuit().is_some() {
        // The circuit's nodes (layer, cell type, column, area, position) beside the spikes.
        crate::circuit::write_nodes(&file, sim_cfg.seed, out)?;
        recorder.set_nodes_file("nodes.h5");
    }
    let checkpointing = Checkpointing::new(options, model, &file, &overrides)?;
    simulate(Segment { model, out, file: &file, sim, recorder, build_time, checkpointing }, options, &stop)
}

/// A rank other than 0 of a distributed run: builds its share, simulates it (its spikes and
/// samples reach rank 0 through the exchange) and writes nothing.
fn run_worker_rank(
    file: &config::ModelFile,
    mut sim: Simulation,
    checkpointing: Option<&Checkpointing>,
    stop: &AtomicBool,
) -> Result<RunSummary> {
    let until = sim.resolution().exact_steps(file.simulation().duration_ms).context("simulation.duration_ms")?;
    // The same engine calls and checkpoints as rank 0's (`simulate`): each is collective.
    loop {
        let target = checkpointing.map_or(until, |c| c.next_stop(sim.now(), until));
        sim.run(target, &mut NullObserver, stop)?;
        let interrupted = sim.now() < target;
        if let Some(c) = checkpointing
            && c.due_after(interrupted)
        {
            // Rank 0 gathers every rank's state and writes the file.
            sim.save_state()?;
        }
        if interrupted || sim.now() >= until {
            break;
        }
    }
    sim.synaptic_events_all_ranks();
    Ok(RunSummary { text: String::new(), completed: sim.now() >= until, signal: None })
}

/// The plans of what a built model records, for the recorder.
struct Plans {
    reports: Vec<ReportPlan>,
    weights: Vec<WeightPlan>,
}

impl Plans {
    fn of(built: &config::BuiltModel) -> Self {
        let reports = built
            .recordings
            .iter()
            .map(|r| ReportPlan {
                population: r.population.clone(),
                variable: r.variable.clone(),
                units: r.units.clone(),
                interval_ms: r.interval_ms,
                nodes: r.nodes.clone(),
                elements: r.elements,
            })
            .collect();
        let weights = built
            .weight_recordings
            .iter()
            .map(|w| WeightPlan { projection: w.projection, name: w.name.clone(), units: w.units.clone() })
            .collect();
        Self { reports, weights }
    }
}

fn run_info(model: &Path, file: &config::ModelFile, overrides: &[String]) -> RunInfo {
    let sim_cfg = file.simulation();
    RunInfo {
        model_path: model.display().to_string(),
        model_text: file.text.clone(),
        seed: sim_cfg.seed,
        resolution_ms: sim_cfg.resolution_ms,
        duration_ms: sim_cfg.duration_ms,
        threads: sim_cfg.threads,
        overrides: overrides.to_vec(),
        placements: file.circuit().map(crate::circuit::manifest_placements).unwrap_or_default(),
    }
}

/// A built network and its open recording, ready to simulate from the network's current step.
struct Segment<'a> {
    model: &'a Path,
    out: &'a Path,
    file: &'a config::ModelFile,
    sim: Simulation,
    recorder: Recorder,
    build_time: Duration,
    checkpointing: Option<Checkpointing>,
}

/// Simulates a segment to the model's duration (writing checkpoints on the way if asked), closes
/// the recording and summarises.
fn simulate(segment: Segment<'_>, options: &RunOptions, stop: &AtomicBool) -> Result<RunSummary> {
    let Segment { model, out, file, mut sim, mut recorder, build_time, checkpointing } = segment;
    sim.set_profiling(options.profile);
    let sim_cfg = file.simulation();
    let resolution = sim.resolution();
    let until = resolution.exact_steps(sim_cfg.duration_ms).context("simulation.duration_ms")?;
    let from = sim.now();
    let events_before = sim.synaptic_events();
    let bar = ProgressBar::hidden();
    bar.set_length(until);
    bar.set_position(from);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let run_started = Instant::now();
    // One engine call for the whole run (or per checkpoint interval): the bar moves from the
    // observer's progress callback and the engine checks `stop` (Ctrl-C) at every exchange
    // interval. Running in short chunks instead restarted the worker threads per chunk, and on
    // two cores a fresh thread often shared its core with thread 0 for milliseconds: CUBA took
    // 1.4-1.6 s instead of 0.55 s.
    let mut error = None;
    let mut checkpoint_error: Option<anyhow::Error> = None;
    let mut written: Vec<crate::checkpointing::Written> = Vec::new();
    let interruption = options.interruption.as_deref();
    loop {
        let target = checkpointing.as_ref().map_or(until, |c| c.next_stop(sim.now(), until));
        let mut observer = WithProgress {
            recorder: &mut recorder,
            bar: &bar,
            show_after: (!options.quiet).then_some(run_started + Duration::from_secs(1)),
            next_check: 0,
            resolution,
            duration_ms: sim_cfg.duration_ms,
        };
        if let Err(e) = sim.run(target, &mut observer, stop) {
            error = Some(e);
            break;
        }
        let interrupted = sim.now() < target;
        if let Some(c) = &checkpointing
            && c.due_after(interrupted)
        {
            match c.write(&mut sim, &mut recorder, out) {
                Ok(w) => written.push(w),
                Err(e) => {
                    // The recording is still closed properly, up to this step.
                    checkpoint_error = Some(e.context("writing a checkpoint"));
                    break;
                }
            }
        }
        if interrupted || sim.now() >= until {
            break;
        }
    }
    bar.finish_and_clear();
    let wall = run_started.elapsed();
    let stopped = if let Some(e) = &error {
        Some(format!("error: {e}"))
    } else if let Some(e) = &checkpoint_error {
        Some(format!("error: {e:#}"))
    } else if sim.now() < until {
        Some(interruption_reason(interruption))
    } else {
        None
    };
    let decimals = resolution_decimals(sim_cfg.resolution_ms);
    let closed = recorder.finish(resolution.ms(sim.now()), stopped).context("closing the recording")?;
    let simulated_ms = closed.simulated_ms;
    let held = format!(
        "the run stopped; the recording in {} holds everything up to {simulated_ms:.decimals$} ms",
        out.display()
    );
    if let Some(e) = error {
        return Err(e).context(held);
    }
    if let Some(e) = checkpoint_error {
        return Err(e.context(held));
    }

    let mut text = String::new();
    let seconds = (simulated_ms - resolution.ms(from)) / 1000.0;
    let threads = sim.threads();
    let populations = sim.populations();
    let ranks = sim.ranks().size();
    text.push_str(&format!(
        "{}: {} neurons, {}{threads} thread{}, seed {}, {simulated_ms:.decimals$} ms simulated{}\n",
        model.display(),
        populations.iter().map(|p| p.size).sum::<usize>(),
        if ranks > 1 { format!("{ranks} ranks x ") } else { String::new() },
        if threads == 1 { "" } else { "s" },
        sim_cfg.seed,
        if from > 0 { format!(" (resumed at {:.decimals$} ms)", resolution.ms(from)) } else { String::new() },
    ));
    text.push_str(&format!("  read: {}\n", file.sections().join(", ")));
    text.push_str(&format!("  {:<16} {:>10} {:>12}\n", "population", "spikes", "rate (Hz)"));
    let total_seconds = simulated_ms / 1000.0;
    for (p, &count) in populations.iter().zip(sim.spike_counts()) {
        let rate = if total_seconds > 0.0 && p.size > 0 { count as f64 / p.size as f64 / total_seconds } else { 0.0 };
        text.push_str(&format!("  {:<16} {:>10} {:>12.3}\n", p.name, count, rate));
    }
    // Collective in a distributed run: every rank reaches it after its last interval.
    let events = sim.synaptic_events_all_ranks() - events_before;
    // The field's convention (NEST, the Potjans-Diesmann benchmarks): wall time over simulated
    // time, so below 1 is faster than real time.
    let real_time_factor =
        if seconds > 0.0 { format!("{:.3}", wall.as_secs_f64() / seconds) } else { "n/a (nothing simulated)".into() };
    text.push_str(&format!(
        "  build {:.3} s, simulate {:.3} s wall, real-time factor {real_time_factor} (wall / simulated; below 1 is \
         faster than real time), {:.3e} synaptic events/s\n",
        build_time.as_secs_f64(),
        wall.as_secs_f64(),
        events as f64 / wall.as_secs_f64().max(1e-9)
    ));
    text.push_str(&exchange_line(&sim, wall.as_secs_f64()));
    if options.profile {
        text.push_str(&profile_table(&sim, build_time.as_secs_f64(), wall.as_secs_f64(), seconds));
    }
    if let Some(last) = written.last() {
        text.push_str(&format!(
            "  checkpoints: {} written, the last at {:.decimals$} ms ({}, {:.3} s: flush the recording {:.3} s, collect \
             the state {:.3} s, encode {:.3} s, write and sync {:.3} s); `laminar resume {}` continues from it\n",
            written.len(),
            last.at_ms,
            config::machine::human_bytes(last.bytes as f64),
            last.seconds,
            last.flush_seconds,
            last.collect_seconds,
            last.encode_seconds,
            last.write_seconds,
            out.display()
        ));
    }
    match &closed.stopped_early {
        Some(reason) => text.push_str(&format!(
            "  stopped early at {simulated_ms:.decimals$} ms ({reason}); the recording in {} is valid up to then\n",
            out.display()
        )),
        None => text.push_str(&format!("  recording: {}\n", out.display())),
    }
    let signal = if closed.stopped_early.is_some() { interruption.and_then(Interruption::signal) } else { None };
    Ok(RunSummary { text, completed: closed.stopped_early.is_none(), signal })
}

/// Where the time went (`--profile`): the build's phases, then the run's, in thread-seconds and
/// per simulated second, with each phase's share of the threads' time.
pub fn profile_table(sim: &Simulation, build_s: f64, wall_s: f64, simulated_s: f64) -> String {
    let b = sim.build_times();
    let p = sim.phase_times();
    let threads = sim.threads() as f64;
    let mut text = format!(
        "  profile: build {build_s:.3} s wall = drawing synapses {:.3} s + sorting and packing them into CSR rows {:.3} s \
         (thread-seconds over {} threads) + models, buffers and devices {:.3} s wall\n",
        b.draw,
        b.pack,
        sim.threads(),
        b.partitions
    );
    let total = threads * wall_s;
    let per_s = |v: f64| if simulated_s > 0.0 { v / simulated_s } else { 0.0 };
    text.push_str(&format!(
        "  {:<52} {:>12} {:>16} {:>8}\n",
        "run phase (every thread)", "thread-s", "per simulated s", "share"
    ));
    let rows = [
        ("devices: Poisson background, currents", p.devices),
        ("neuron updates (and sampling)", p.update),
        ("barrier: waiting for the slowest thread (and ranks)", p.barrier),
        ("spike exchange: gather and sort", p.merge),
        ("delivery: CSR rows into ring buffers, synapse models", p.deliver),
        ("recording (thread 0)", p.record),
    ];
    let accounted: f64 = rows.iter().map(|r| r.1).sum();
    for (name, v) in rows.iter().chain([("other (thread start, loop)", (total - accounted).max(0.0))].iter()) {
        text.push_str(&format!(
            "  {:<52} {:>12.3} {:>16.3} {:>7.1}%\n",
            name,
            v,
            per_s(*v),
            100.0 * v / total.max(1e-12)
        ));
    }
    let events = sim.synaptic_events();
    if events > 0 && p.deliver > 0.0 {
        text.push_str(&format!(
            "  delivery: {:.2} ns per synaptic event ({:.3e} events)\n",
            1e9 * p.deliver / events as f64,
            events as f64
        ));
    }
    text
}

/// For a run over several ranks: what rank 0's exchange with the others cost (empty otherwise).
pub fn exchange_line(sim: &Simulation, wall_s: f64) -> String {
    let x = sim.exchange_stats();
    if sim.ranks().size() == 1 || x.intervals == 0 {
        return String::new();
    }
    let per = |v: f64| v / x.intervals as f64;
    format!(
        "  exchange (rank 0): {} intervals of {} steps, {:.0} bytes sent and {:.0} received per interval, {:.1} µs per \
         interval ({:.1} % of the wall time, waiting for the slowest rank included)\n",
        x.intervals,
        sim.min_delay(),
        per(x.bytes_sent as f64),
        per(x.bytes_received as f64),
        per(x.seconds) * 1e6,
        100.0 * x.seconds / wall_s.max(1e-9)
    )
}

/// Continues the run recorded in `dir` from its checkpoint (see [`crate::checkpointing`]).
pub fn resume(dir: &Path, options: &RunOptions, stop: Arc<AtomicBool>) -> Result<RunSummary> {
    let started = Instant::now();
    let ranks: Arc<dyn Ranks> = options.ranks.clone().unwrap_or_else(|| Arc::new(SingleRank));
    let restored = crate::checkpointing::restore(dir, options, Arc::clone(&ranks))?;
    let build_time = started.elapsed();
    if ranks.rank() != 0 {
        let checkpointing = Checkpointing::new(options, &restored.model, &restored.file, &restored.overrides)?;
        return run_worker_rank(&restored.file, restored.built.simulation, checkpointing.as_ref(), &stop);
    }
    if let Some(interruption) = &options.interruption
        && !interruption.begin_writing()
    {
        anyhow::bail!(
            "{} while the checkpoint was being restored; nothing was changed in {}",
            interruption_reason(Some(interruption)),
            dir.display()
        );
    }
    let crate::checkpointing::Restored {
        model,
        file,
        overrides,
        built,
        position,
        bytes,
        read_seconds,
        restore_seconds,
    } = restored;
    let restored_note = format!(
        "  resumed from {} ({}): read {read_seconds:.3} s, restored {restore_seconds:.3} s\n",
        dir.join(crate::checkpointing::CHECKPOINT_FILE).display(),
        config::machine::human_bytes(bytes as f64)
    );
    let plans = Plans::of(&built);
    let sim = built.simulation;
    let info = run_info(&model, &file, &overrides);
    let populations = sim.populations().to_vec();
    let recorder =
        Recorder::resume(dir, &info, &populations, &built.record_spikes, &plans.reports, &plans.weights, &position)
            .with_context(|| format!("reopening the recording in {}", dir.display()))?;
    let checkpointing = Checkpointing::new(options, &model, &file, &overrides)?;
    let segment = Segment { model: &model, out: dir, file: &file, sim, recorder, build_time, checkpointing };
    let mut summary = simulate(segment, options, &stop)?;
    // After the first line (what ran), say where it came from.
    let first = summary.text.find('\n').map_or(summary.text.len(), |i| i + 1);
    summary.text.insert_str(first, &restored_note);
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_with_the_resolution_s_decimals() {
        assert_eq!(resolution_decimals(0.1), 1);
        assert_eq!(resolution_decimals(0.025), 3);
        assert_eq!(resolution_decimals(1.0), 0);
        assert_eq!(resolution_decimals(0.01), 2);
        let decimals = resolution_decimals(0.1);
        assert_eq!(format!("{:.decimals$}", 90553.0 * 0.1), "9055.3");
    }

    #[test]
    fn a_signal_during_the_build_ends_the_process_and_one_during_the_run_stops_it() {
        let during_build = Interruption::default();
        assert!(during_build.signal_received(15), "nothing written yet: the handler may exit");
        assert!(!during_build.begin_writing(), "the run must not start writing after that");
        assert_eq!(interruption_reason(Some(&during_build)), "interrupted by SIGTERM");

        let during_run = Interruption::default();
        assert!(during_run.begin_writing());
        assert!(!during_run.signal_received(2), "the run closes its recording itself");
        assert_eq!(during_run.signal(), Some(2));
        assert_eq!(interruption_reason(Some(&during_run)), "interrupted by SIGINT (Ctrl-C)");
    }
}
