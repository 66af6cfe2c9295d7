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
