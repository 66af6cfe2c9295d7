use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "laminar", version, about = "Event-driven spiking network simulator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a macro benchmark scenario (cuba | sparse) and print timings.
    Bench {
        scenario: String,
        #[arg(long, default_value_t = 4000)]
        n: usize,
        #[arg(long, default_value_t = 80.0)]
        k: f64,
        #[arg(long, default_value_t = 0.01)]
        driven: f64,
        #[arg(long, default_value_t = 10000.0)]
        duration: f64,
        #[arg(long, default_value_t = 1)]
        threads: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Run a NEST reference case and compare with NEST's output.
    Verify {
        case: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Bench { scenario, n, k, driven, duration, threads, seed } => {
            let t0 = std::time::Instant::now();
            let b = match scenario.as_str() {
                "cuba" => laminar_cli::scenarios::cuba(n, k, seed, false)?,
                "sparse" => laminar_cli::scenarios::sparse(n, driven, seed)?,
                other => anyhow::bail!("unknown scenario {other}"),
            };
            let mut sim = b.build(threads)?;
            let built = t0.elapsed();
            let steps = sim.resolution().exact_steps(duration)?;
            let stop = std::sync::atomic::AtomicBool::new(false);
            let r = sim.run(steps, &mut laminar_engine::NullObserver, &stop)?;
            let total: u64 = sim.spike_counts().iter().sum();
            let (syn, bytes) = sim.memory();
            println!(
                "scenario {scenario} n={n} threads={threads}: build {:.3} s, simulate {:.3} s, rate {:.3} Hz, synapses {syn}, {:.1} MB, synaptic events {}",
                built.as_secs_f64(),
                r.wall.as_secs_f64(),
                total as f64 / n as f64 / (duration / 1000.0),
                bytes as f64 / 1e6,
                sim.synaptic_events()
            );
        }
        Command::Verify { case, out: _, threads } => {
            let r = laminar_cli::verify::verify_file(&case, threads, None)?;
            print!("{}", r.report());
            if !r.pass() {
                std::process::exit(1);
            }
        }
    }
    Ok(())
}
