//! `laminar run`: build a model file, simulate it while recording, and summarise.
//!
//! The simulation runs in chunks so the progress bar can move and so that Ctrl-C is noticed;
//! the engine also checks the stop flag at every exchange interval, so an interrupt ends the run
//! at the next step boundary. The recording is then closed properly and the manifest says the
//! run stopped early and how far it got.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config;
use crate::output::{Recorder, ReportPlan, RunInfo, WeightPlan};

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
    // Chunks of 1 % of the run (at least one exchange interval) keep the bar and Ctrl-C lively.
    let chunk = (until / 100).max(sim.min_delay()).max(1);
    let bar = ProgressBar::hidden();
    bar.set_length(until);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let run_started = Instant::now();
    let mut error = None;
    while sim.now() < until && !stop.load(Ordering::Relaxed) {
        let target = (sim.now() + chunk).min(until);
        match sim.run(target, &mut recorder, &stop) {
            Ok(_) => {}
            Err(e) => {
                error = Some(e);
                break;
            }
        }
        if !options.quiet && bar.is_hidden() && run_started.elapsed() > Duration::from_secs(1) {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        bar.set_position(sim.now());
        bar.set_message(format!("{:.0} / {:.0} ms", resolution.ms(sim.now()), sim_cfg.duration_ms));
    }
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
