//! `laminar`: run model files, inspect recordings, verify against NEST, benchmark.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use laminar_cli::{config, normalization, output, run, scenarios, verify};

#[derive(Parser)]
#[command(name = "laminar", version, about = "Event-driven spiking network simulator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a model file and write the recording to a directory.
    Run {
        /// The model file (TOML).
        model: PathBuf,
        /// Output directory (created; files of an earlier run are replaced).
        #[arg(long)]
        out: PathBuf,
        /// Override simulation.duration_ms.
        #[arg(long)]
        duration: Option<f64>,
        /// Override simulation.seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override simulation.threads.
        #[arg(long)]
        threads: Option<usize>,
        /// Override any key of the model file by its dotted path, e.g. populations.exc.size=100.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Check a model file without running it.
    Validate {
        model: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Summarise a recording directory.
    Inspect { dir: PathBuf },
    /// Run a NEST reference case and compare with NEST's output (exit 0 only if all pass).
    Verify {
        /// Case files in the format of shared/reference/nest/*.json.
        #[arg(required = true)]
        cases: Vec<PathBuf>,
        /// Write the run in the standard output layout (one subdirectory per case if several).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// Measure the divisive normalisation of astro_normalized_synapse: Poisson inputs at random
    /// rates onto targets; prints the drive against the normalised and unnormalised predictions.
    Normalization {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Number of random rate vectors (at least 3).
        #[arg(long, default_value_t = 50)]
        vectors: usize,
        /// Poisson inputs per rate vector (K).
        #[arg(long, default_value_t = 10)]
        inputs: usize,
        /// Measurement time after the warm-up (ms).
        #[arg(long, default_value_t = 10000.0)]
        measure_ms: f64,
    },
    /// Run a macro benchmark scenario (cuba | sparse) and print timings.
    Bench {
        scenario: String,
        #[arg(long, default_value_t = 4000)]
        n: usize,
        /// In-degree (cuba).
        #[arg(long, default_value_t = 80.0)]
        k: f64,
        /// Fraction of neurons driven (sparse).
        #[arg(long, default_value_t = 0.01)]
        driven: f64,
        #[arg(long, default_value_t = 10000.0)]
        duration: f64,
        #[arg(long, default_value_t = 1)]
        threads: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { model, out, duration, seed, threads, set, quiet } => {
            let stop = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&stop);
            ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))?;
            let options = run::RunOptions { duration_ms: duration, seed, threads, overrides: set, quiet };
            let summary = run::run(&model, &out, &options, stop)?;
            print!("{}", summary.text);
            Ok(if summary.completed { ExitCode::SUCCESS } else { ExitCode::from(130) })
        }
        Command::Validate { model, set } => {
            let file = config::load(&model, &set)?;
            println!("{}: valid ({})", model.display(), file.describe());
            Ok(ExitCode::SUCCESS)
        }
        Command::Inspect { dir } => {
            print!("{}", output::inspect(&dir)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { cases, out, threads } => {
            let mut all = true;
            for case in &cases {
                let dir = match (&out, cases.len()) {
                    (Some(o), 1) => Some(o.clone()),
                    (Some(o), _) => Some(o.join(case.file_stem().unwrap_or_default())),
                    (None, _) => None,
                };
                let r = verify::verify_file(case, threads, dir.as_deref())?;
                print!("{}", r.report());
                all &= r.pass();
            }
            Ok(if all { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Normalization { seed, vectors, inputs, measure_ms } => {
            let report = normalization::run(&normalization::Options { seed, vectors, inputs, measure_ms })?;
            print!("{}", report.text());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { scenario, n, k, driven, duration, threads, seed } => {
            let t0 = std::time::Instant::now();
            let b = match scenario.as_str() {
                "cuba" => scenarios::cuba(n, k, seed, false)?,
                "sparse" => scenarios::sparse(n, driven, seed)?,
                other => bail!("unknown scenario '{other}' (cuba or sparse)"),
            };
            let mut sim = b.build(threads)?;
            let built = t0.elapsed();
            let steps = sim.resolution().exact_steps(duration)?;
            let stop = AtomicBool::new(false);
            let r = sim.run(steps, &mut laminar_engine::NullObserver, &stop)?;
            let total: u64 = sim.spike_counts().iter().sum();
            let (synapses, bytes) = sim.memory();
            println!(
                "scenario {scenario} n={n} threads={threads}: build {:.3} s, simulate {:.3} s, rate {:.3} Hz, synapses {synapses}, {:.1} MB, synaptic events {}",
                built.as_secs_f64(),
                r.wall.as_secs_f64(),
                total as f64 / n as f64 / (duration / 1000.0),
                bytes as f64 / 1e6,
                sim.synaptic_events()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
