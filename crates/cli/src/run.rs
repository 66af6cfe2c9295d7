//! `laminar run`: build a model file, simulate it while recording, and summarise.
//!
//! The simulation runs in one engine call; the progress bar moves from the observer's progress
//! callback, and the engine checks the stop flag at every exchange interval, so an interrupt
//! ends the run at the next step boundary. The recording is then closed properly and the manifest says the
//! run stopped early and how far it got.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use laminar_engine::{Observer, Resolution, SpikeRecord, Step, WeightEvent};

use crate::config;
use crate::output::{Recorder, ReportPlan, RunInfo, WeightPlan};

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
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub text: String,
    pub completed: bool,
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
    let sim_cfg = file.simulation().clone();
    let built = file.build(sim_cfg.seed, sim_cfg.threads)?;
    let build_time = started.elapsed();
    let mut sim = built.simulation;
    let populations = sim.populations().to_vec();
    let reports: Vec<ReportPlan> = built
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
    let weights: Vec<WeightPlan> = built
        .weight_recordings
        .iter()
        .map(|w| WeightPlan { projection: w.projection, name: w.name.clone(), units: w.units.clone() })
        .collect();
    let info = RunInfo {
        model_path: model.display().to_string(),
        model_text: file.text.clone(),
        seed: sim_cfg.seed,
        resolution_ms: sim_cfg.resolution_ms,
        duration_ms: sim_cfg.duration_ms,
        threads: sim_cfg.threads,
        overrides: overrides.clone(),
        placements: file.circuit().map(crate::circuit::manifest_placements).unwrap_or_default(),
    };
    let mut recorder = Recorder::create(out, &info, &populations, &built.record_spikes, &reports, &weights)?;
    if file.circuit().is_some() {
        // The circuit's nodes (layer, cell type, column, area, position) beside the spikes.
        crate::circuit::write_nodes(&file, sim_cfg.seed, out)?;
        recorder.set_nodes_file("nodes.h5");
    }

    let resolution = sim.resolution();
    let until = resolution.exact_steps(sim_cfg.duration_ms).context("simulation.duration_ms")?;
    let bar = ProgressBar::hidden();
    bar.set_length(until);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let run_started = Instant::now();
    // One engine call for the whole run: the bar moves from the observer's progress callback and
    // the engine checks `stop` (Ctrl-C) at every exchange interval. Running in chunks instead
    // restarted the worker threads per chunk, and on two cores a fresh thread often shared its
    // core with thread 0 for milliseconds: CUBA took 1.4-1.6 s instead of 0.55 s.
    let mut observer = WithProgress {
        recorder: &mut recorder,
        bar: &bar,
        show_after: (!options.quiet).then_some(run_started + Duration::from_secs(1)),
        next_check: 0,
        resolution,
        duration_ms: sim_cfg.duration_ms,
    };
    let error = sim.run(until, &mut observer, &stop).err();
    bar.finish_and_clear();
    let wall = run_started.elapsed();
    let simulated_ms = resolution.ms(sim.now());
    let stopped = if let Some(e) = &error {
        Some(format!("error: {e}"))
    } else if sim.now() < until {
        Some("interrupted (Ctrl-C)".to_string())
    } else {
        None
    };
    recorder.finish(simulated_ms, stopped.clone()).context("closing the recording")?;
    if let Some(e) = error {
        return Err(e).context(format!(
            "the run stopped at {simulated_ms} ms; the recording in {} holds everything up to then",
            out.display()
        ));
    }

    let mut text = String::new();
    let seconds = simulated_ms / 1000.0;
    text.push_str(&format!(
        "{}: {} neurons, {} threads, seed {}, {:.1} ms simulated\n",
        model.display(),
        populations.iter().map(|p| p.size).sum::<usize>(),
        sim.threads(),
        sim_cfg.seed,
        simulated_ms
    ));
    text.push_str(&format!("  {:<16} {:>10} {:>12}\n", "population", "spikes", "rate (Hz)"));
    for (p, &count) in populations.iter().zip(sim.spike_counts()) {
        let rate = if seconds > 0.0 && p.size > 0 { count as f64 / p.size as f64 / seconds } else { 0.0 };
        text.push_str(&format!("  {:<16} {:>10} {:>12.3}\n", p.name, count, rate));
    }
    let events = sim.synaptic_events();
    text.push_str(&format!(
        "  build {:.3} s, simulate {:.3} s wall, real-time factor {:.2} (simulated / wall), {:.3e} synaptic events/s\n",
        build_time.as_secs_f64(),
        wall.as_secs_f64(),
        seconds / wall.as_secs_f64().max(1e-9),
        events as f64 / wall.as_secs_f64().max(1e-9)
    ));
    match &stopped {
        Some(reason) => text.push_str(&format!(
            "  stopped early at {simulated_ms} ms ({reason}); the recording in {} is valid up to then\n",
            out.display()
        )),
        None => text.push_str(&format!("  recording: {}\n", out.display())),
    }
    Ok(RunSummary { text, completed: stopped.is_none() })
}
