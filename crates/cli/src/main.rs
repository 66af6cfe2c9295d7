//! `laminar`: run model files, inspect recordings, verify against NEST, benchmark.
//!
//! Everything printed to stdout goes through [`emit`], which turns a closed pipe (`laminar build
//! … | head -2`) into a quiet, successful exit instead of a panic. `laminar run` takes SIGINT and
//! SIGTERM itself ([`watch_signals`]) so that a scheduler's SIGTERM, like Ctrl-C, ends the run at
//! a step boundary with a valid recording; it then exits with 128 + the signal's number.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use laminar_attention::gating::Experiment;
use laminar_cli::{circuit, gating, normalization, run, scenarios, verify};
use laminar_config as config;
use laminar_models::Scheduling;

mod distributed;
mod plot;

#[derive(Parser)]
#[command(name = "laminar", version, about = "Event-driven spiking network simulator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a model file and write the recording to a directory.
    ///
    /// SIGINT (Ctrl-C) and SIGTERM end the run at the next step boundary: the recording is closed
    /// and its manifest says how far the run got and which signal stopped it; the exit status is
    /// 130 (SIGINT) or 143 (SIGTERM). A failed write (a full disk) ends the run the same way,
    /// with the files cut back to the last step boundary they all reached; the exit status is 2.
    Run {
        /// The model file (TOML).
        model: PathBuf,
        /// Output directory: created if missing. It must be empty or hold an earlier laminar
        /// recording, which is replaced only with --force.
        #[arg(long)]
        out: PathBuf,
        /// Replace the laminar recording already in --out (its files are removed; files
        /// laminar did not write are kept).
        #[arg(long)]
        force: bool,
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
        /// Write a checkpoint (DIR/checkpoint.bin) every MS of simulated time and at the end,
        /// from which `laminar resume DIR` continues the run.
        #[arg(long, value_name = "MS")]
        checkpoint_every: Option<f64>,
        /// Write a checkpoint when SIGINT or SIGTERM stops the run (a cluster job at its time
        /// limit), from which `laminar resume DIR` continues it.
        #[arg(long)]
        checkpoint_at_exit: bool,
        /// Time the build's and the run's phases (drawing, packing; devices, neuron updates,
        /// barrier, spike exchange, delivery, recording) and print where the time went.
        #[arg(long)]
        profile: bool,
    },
    /// Continue a run from the checkpoint in its output directory, appending to its recording.
    ///
    /// The network is rebuilt from the model text and overrides the checkpoint holds and checked
    /// against it (laminar version, model, seed, network); every recording file is cut back to
    /// the checkpoint (what a killed run wrote after it), and the run goes on to its duration
    /// exactly as if it had never stopped, with any thread count. The manifest lists each
    /// segment: when it ran, from and to which time, how it ended.
    Resume {
        /// The output directory of the run (holding checkpoint.bin and manifest.json).
        dir: PathBuf,
        /// A new total duration (ms), to extend the run.
        #[arg(long)]
        duration: Option<f64>,
        /// Threads to simulate on (the results do not depend on it).
        #[arg(long)]
        threads: Option<usize>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Go on writing a checkpoint every MS of simulated time and at the end.
        #[arg(long, value_name = "MS")]
        checkpoint_every: Option<f64>,
        /// Write a checkpoint when SIGINT or SIGTERM stops the run.
        #[arg(long)]
        checkpoint_at_exit: bool,
    },
    /// Check a model file without running it.
    Validate {
        /// The model file (TOML).
        model: PathBuf,
        /// Override any key of the model file by its dotted path, e.g. populations.exc.size=100.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Build a model file's network without simulating it, and print its populations (layer,
    /// cell type, area, column, size) and projections (realised synapse counts against the
    /// rule's expectation, mean in-degree, memory), with the build time and synapses per second.
    Build {
        /// The model file (TOML).
        model: PathBuf,
        /// Override any key of the model file by its dotted path, e.g. populations.exc.size=100.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Override simulation.seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override simulation.threads.
        #[arg(long)]
        threads: Option<usize>,
        /// Write the circuit as SONATA nodes to DIR (nodes.h5, node_types.csv: per node its
        /// layer, cell type, area, column, position and model).
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
        /// With --export, also write the synapses (edges.h5, edge_types.csv; one edge
        /// population per projection, with SONATA indices; about 80 bytes per synapse on disk).
        #[arg(long, requires = "export")]
        edges: bool,
    },
    /// Summarise a recording directory.
    Inspect {
        /// The output directory of a run (the one holding manifest.json).
        dir: PathBuf,
    },
    /// Draw a recording's spike raster and mean rate per population (raster.png, rates.png).
    Plot(plot::PlotArgs),
    /// Run a NEST reference case and compare with NEST's output (exit 0 only if all pass).
    Verify {
        /// Case files in the format of data/reference/nest/*.json.
        #[arg(required = true)]
        cases: Vec<PathBuf>,
        /// Write the run in the standard output layout (one subdirectory per case if several).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Threads to simulate on.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Update the case's neurons event-driven or clock-driven, where their model offers the
        /// choice (iaf_psc_exp); other models keep their own scheme.
        #[arg(long, value_parser = parse_scheduling)]
        update: Option<Scheduling>,
    },
    /// Measure whether apical input gates somatic drive multiplicatively in `pyramidal_bac`.
    ///
    /// Runs a grid of somatic drive (rows: Poisson input on `basal`) × apical drive (columns:
    /// Poisson input on `apical`), each point a population of independent cells, prints the
    /// output rate R(a, b), the fraction of spikes in bursts, and the R² of a product model
    /// R ≈ g(a)·f(b) (best rank-1 fit) and of an additive model R ≈ μ + α(a) + β(b) (two-way
    /// ANOVA), and which wins.
    ///
    /// Cell parameters: the published values of Naud & Sprekeler (2018) unless changed, by
    /// `--set NAME=VALUE` (e.g. `--set tau_d=5 --set g_s=1000`) or by PARAMS, a TOML file with a
    /// `[params]` table of pyramidal_bac parameters (and optionally a `[grid]` table), or a
    /// model file whose pyramidal_bac population lends its `params`. The parameters (units pF,
    /// ms, mV, pA, nS): C_m, tau_m, E_L, V_th, V_reset, t_ref, b_s, tau_w_s, g_s, I_e (soma);
    /// C_d, tau_d, a_d, tau_w_d, g_d, E_d, D_d, bAP_amplitude, bAP_delay, bAP_duration,
    /// I_e_apical (dendrite); tau_syn_soma, tau_syn_basal, tau_syn_apical (synapses); integration
    /// (`rk4`, the reference, or `rk4_vector`, the same scheme vectorised: see the model docs).
    ///
    /// Grid fields (in `[grid]` or as `--set grid.FIELD=VALUE`): somatic_rates (Hz; default
    /// 0, 700, … 3500), apical_rates (Hz; default 0, 320, … 1600), somatic_weight and
    /// apical_weight (pA per event; 50), cells (per point; 50), warmup_ms (300), duration_ms
    /// (2000), resolution_ms (0.1). The defaults span no drive to ≈ 22 Hz of somatic firing,
    /// and no apical input to the edge beyond which apical input alone fires the cell.
    /// `--auto-range` finds those two edges for the given parameters instead.
    #[command(verbatim_doc_comment)]
    Gating {
        /// Parameter file: `[params]` (+ `[grid]`), or a model file with a pyramidal_bac population.
        params: Option<PathBuf>,
        /// The pyramidal_bac population to take from a model file with several.
        #[arg(long)]
        population: Option<String>,
        /// A cell parameter (`NAME=VALUE`) or a grid field (`grid.FIELD=VALUE`); repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Span the grid from zero to the edges of the regime measured for this cell.
        #[arg(long)]
        auto_range: bool,
        /// Seed of the Poisson trains.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Threads (the result does not depend on them).
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// Measure the divisive normalisation of astro_normalized_synapse: Poisson inputs at random
    /// rates onto targets; prints the drive against the normalised and unnormalised predictions.
    Normalization {
        /// Seed of the random rates and Poisson trains.
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
    /// Compare a circuit's spiking attention with rate-based attention: `laminar attention
    /// CIRCUIT --inputs qkv.h5 --out DIR` runs the circuit (a short name, e.g. `astro`, or a
    /// model file with an [attention] table) on the queries, keys and values of qkv.h5 and
    /// writes the recording, attention.h5 (decoded output, references, metrics) and
    /// attention.png (attention weights, ŷ against the reference) into DIR;
    /// `laminar attention inputs …` draws a qkv.h5; `laminar attention scaling CIRCUIT
    /// --tokens 8,16,32,64 …` runs the circuit over numbers of tokens and seeds.
    #[command(verbatim_doc_comment, args_conflicts_with_subcommands = true)]
    Attention(Box<AttentionArgs>),
    /// Run a macro benchmark scenario (cuba | sparse) and print timings.
    Bench {
        /// The scenario: cuba (a CUBA-like random network) or sparse (few driven neurons).
        scenario: String,
        /// Number of neurons.
        #[arg(long, default_value_t = 4000)]
        n: usize,
        /// In-degree (cuba).
        #[arg(long, default_value_t = 80.0)]
        k: f64,
        /// Fraction of neurons driven (sparse).
        #[arg(long, default_value_t = 0.01)]
        driven: f64,
        /// Simulated time (ms).
        #[arg(long, default_value_t = 10000.0)]
        duration: f64,
        /// Threads to simulate on.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Seed of the network and its input.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Update scheme of the `iaf_psc_exp` neurons: event-driven or clock-driven.
        #[arg(long, default_value = "event-driven", value_parser = parse_scheduling)]
        update: Scheduling,
        /// Time the run's phases and print where the time went (as `laminar run --profile`).
        #[arg(long)]
        profile: bool,
    },
}

fn parse_scheduling(name: &str) -> Result<Scheduling, String> {
    Scheduling::from_name(name)
        .ok_or_else(|| format!("'{name}' is not an update scheme (allowed: {})", Scheduling::names(&Scheduling::ALL)))
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        // The reader of our stdout has gone (`| head`): nobody is left to tell anything to.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Not eprintln!, which panics when stderr is closed too.
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Writes `text` to stdout. A closed pipe comes back as an `io::Error` of kind `BrokenPipe`,
/// which `main` turns into a quiet exit (Rust ignores SIGPIPE, and `print!` would panic).
fn emit(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush())?;
    Ok(())
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Takes SIGINT and SIGTERM for `laminar run`: they are blocked in every thread (the engine's
/// workers inherit the mask) and received by `sigwait` on a thread of their own, which knows
/// which signal came, without an unsafe signal handler. While the model is still being built,
/// nothing has been written and the build cannot be stopped midway, so the process ends at once;
/// once the run writes, the stop flag ends it at the next step boundary.
/// Runs `body` (a run or a resume into `out`) with SIGINT and SIGTERM watched, prints its
/// summary and turns its outcome into the exit status: 0, or 128 + the signal that stopped it.
fn run_with_signals(
    out: &Path,
    mut options: run::RunOptions,
    body: impl FnOnce(&run::RunOptions, Arc<AtomicBool>) -> Result<run::RunSummary>,
) -> Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    let interruption = Arc::new(run::Interruption::default());
    watch_signals(Arc::clone(&stop), Arc::clone(&interruption), out)?;
    options.interruption = Some(Arc::clone(&interruption));
    let summary = match body(&options, stop) {
        Ok(summary) => summary,
        // The watcher thread is ending the process (a signal during the build).
        Err(_) if interruption.signal().is_some() && !interruption.begin_writing() => loop {
            std::thread::park();
        },
        Err(e) => return Err(e),
    };
    emit(&summary.text)?;
    Ok(match (summary.completed, summary.signal) {
        (true, _) => ExitCode::SUCCESS,
        (false, Some(signal)) => ExitCode::from(128u8.saturating_add(signal as u8)),
        (false, None) => ExitCode::from(130),
    })
}

fn watch_signals(stop: Arc<AtomicBool>, interruption: Arc<run::Interruption>, out: &Path) -> Result<()> {
    use nix::sys::signal::{SigSet, Signal};
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals.thread_block().context("blocking SIGINT and SIGTERM for their watcher thread")?;
    let out = out.display().to_string();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            loop {
                let Ok(signal) = signals.wait() else { continue };
                if interruption.signal_received(signal as i32) {
                    let _ = writeln!(
                        std::io::stderr(),
                        "laminar: {} while the model was being built; nothing was written to {out}",
                        signal.as_str()
                    );
                    std::process::exit(128 + signal as i32);
                }
                stop.store(true, Ordering::SeqCst);
            }
        })
        .context("starting the signal watcher thread")?;
    Ok(())
}

#[derive(clap::Args)]
struct AttentionArgs {
    #[command(subcommand)]
    command: Option<AttentionCommand>,
    /// The circuit: `astro`, `column`, `multihead`, `reference_column`, or a model file with an [attention] table.
    circuit: Option<String>,
    /// The inputs: an HDF5 file with q, k, v (format laminar-qkv/1; `laminar attention inputs`).
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// The output directory (recording, attention.h5, attention.png).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed of the features, the network and its spike trains.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Threads (the result does not depend on them).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// A control circuit: no_astrocyte or shuffled_memory (astro); passive_apical or apical_to_basal (column, reference_column); passive_apical or shuffled_memory (multihead).
    #[arg(long)]
    baseline: Option<String>,
    /// Report the implied attention weights, read by one-hot probe channels (v = e_t).
    #[arg(long)]
    probe_weights: bool,
    /// Override a value of the circuit's model file (`KEY=VALUE`, e.g. attention.features=256).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Replace an earlier recording in the output directory.
    #[arg(long)]
    force: bool,
}

#[derive(Subcommand)]
enum AttentionCommand {
    /// Draw inputs: k, v ~ U[-1, 1]; each query near one random key (retrieval-like); beta = 1.
    Inputs {
        /// Number of tokens n.
        #[arg(long)]
        tokens: usize,
        /// Number of queries n_q.
        #[arg(long)]
        queries: usize,
        /// Dimension d of queries and keys.
        #[arg(long)]
        dim: usize,
        /// Dimension d_v of the values.
        #[arg(long = "dim-v")]
        dim_v: usize,
        /// Number of heads H (W_O is drawn when H > 1).
        #[arg(long, default_value_t = 1)]
        heads: usize,
        /// Output dimension of W_O (default d_v).
        #[arg(long = "dim-out")]
        dim_out: Option<usize>,
        /// Seed of the draw.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run a circuit over numbers of tokens and seeds: r_c and wall time against n.
    ///
    /// For every n and seed, inputs are drawn as `attention inputs` draws them (into
    /// DIR/inputs/), the circuit runs on them into its own directory, `DIR/n<n>_seed<s>/` (e.g.
    /// DIR/n8_seed1/: recording, attention.h5, attention.png), and DIR/scaling.csv gets a row
    /// (n, seed, r_c against the primary reference, r_c softmax, r_raw, wall_s, simulated_ms);
    /// DIR/scaling.png shows r_c (mean ± sd over seeds) and wall time against n.
    Scaling {
        /// The circuit: `astro`, `column`, `reference_column`, or a model file with an [attention] table.
        circuit: String,
        /// Numbers of tokens n, comma-separated (e.g. 8,16,32,64).
        #[arg(long, value_delimiter = ',', required = true)]
        tokens: Vec<usize>,
        /// Number of queries n_q of every run.
        #[arg(long)]
        queries: usize,
        /// Dimension d of queries and keys.
        #[arg(long)]
        dim: usize,
        /// Dimension d_v of the values.
        #[arg(long = "dim-v")]
        dim_v: usize,
        /// Number of heads H (W_O is drawn when H > 1; the multihead circuit).
        #[arg(long, default_value_t = 1)]
        heads: usize,
        /// Output dimension of W_O (default d_v).
        #[arg(long = "dim-out")]
        dim_out: Option<usize>,
        /// Seeds, comma-separated: each seeds both the inputs and the run.
        #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
        seeds: Vec<u64>,
        /// The output directory (scaling.csv, scaling.png, inputs/, one directory per run).
        #[arg(long)]
        out: PathBuf,
        /// Threads of every run (the results do not depend on them).
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Override a value of the circuit's model file in every run (`KEY=VALUE`).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Replace an earlier sweep in the output directory.
        #[arg(long)]
        force: bool,
    },
    /// The three hypotheses side by side: run astro, column and multihead (and their
    /// baselines) on one qkv.h5 and tabulate r_c against each reference and the wall time.
    ///
    /// Single-head circuits run on every head's slice of the inputs (`DIR/inputs/head<h>.h5`)
    /// and report the mean over heads; multihead runs on the whole file. Every run writes its
    /// own directory (`DIR/<circuit>[_head<h>][_<baseline>]/`); DIR/compare.csv has one line per
    /// run, DIR/compare.png the summary.
    Compare {
        /// The inputs (laminar-qkv/1; `laminar attention inputs --heads 2 --dim-out 4 …`).
        #[arg(long)]
        inputs: PathBuf,
        /// The output directory.
        #[arg(long)]
        out: PathBuf,
        /// The circuits, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "astro,column,multihead")]
        circuits: Vec<String>,
        /// Seed of every run.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Threads of every run (the results do not depend on them).
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Replace an earlier comparison in the output directory.
        #[arg(long)]
        force: bool,
    },
}

fn attention(args: AttentionArgs) -> Result<ExitCode> {
    use laminar_attention::{AttentionOptions, Baseline, inputs::Inputs};
    if let Some(AttentionCommand::Compare { inputs, out, circuits, seed, threads, force }) = args.command {
        let options =
            laminar_attention::compare::CompareOptions { inputs, out, circuits, seed, threads: threads.max(1), force };
        return attention_compare(&options);
    }
    if let Some(AttentionCommand::Scaling {
        circuit,
        tokens,
        queries,
        dim,
        dim_v,
        heads,
        dim_out,
        seeds,
        out,
        threads,
        set,
        force,
    }) = args.command
    {
        let options = laminar_attention::scaling::ScalingOptions {
            circuit,
            tokens,
            queries,
            dim,
            dim_v,
            heads,
            dim_out,
            seeds,
            out,
            threads: threads.max(1),
            overrides: set,
            force,
        };
        return attention_scaling(&options);
    }
    if let Some(AttentionCommand::Inputs { tokens, queries, dim, dim_v, heads, dim_out, seed, out }) = args.command {
        use laminar_attention::inputs::{MAX_DIM, MAX_DIM_V, MAX_HEADS, MAX_QUERIES, MAX_TOKENS};
        for (name, v, max) in [
            ("--tokens", tokens, MAX_TOKENS),
            ("--queries", queries, MAX_QUERIES),
            ("--dim", dim, MAX_DIM),
            ("--dim-v", dim_v, MAX_DIM_V),
            ("--heads", heads, MAX_HEADS),
        ] {
            if v == 0 || v > max {
                bail!("{name} {v}: must be 1 to {max}");
            }
        }
        Inputs::draw(tokens, queries, dim, dim_v, heads, dim_out, seed).write(&out)?;
        emit(&format!(
            "{}: n = {tokens}, n_q = {queries}, d = {dim}, d_v = {dim_v}, H = {heads}, seed {seed}\n",
            out.display()
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let circuit = args.circuit.context("which circuit? `laminar attention astro --inputs qkv.h5 --out DIR`")?;
    let inputs = args.inputs.context("--inputs qkv.h5 is required (`laminar attention inputs` draws one)")?;
    let out = args.out.context("--out DIR is required")?;
    let baseline = match args.baseline.as_deref() {
        None => Baseline::None,
        Some(name) => Baseline::from_name(name).with_context(|| {
            let known: Vec<&str> = Baseline::ALL.iter().map(|b| b.name()).collect();
            format!("--baseline {name}: known baselines are {}", known.join(", "))
        })?,
    };
    let options = AttentionOptions {
        circuit,
        inputs,
        out: out.clone(),
        seed: args.seed,
        threads: args.threads.max(1),
        baseline,
        probe_weights: args.probe_weights,
        overrides: args.set,
        force: args.force,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let interruption = Arc::new(run::Interruption::default());
    watch_signals(Arc::clone(&stop), Arc::clone(&interruption), &out)?;
    interruption.begin_writing();
    let result = laminar_attention::run_attention(&options, &stop)?;
    laminar_attention::output::write_attention(&out, &result)?;
    let picture = out.join("attention.png");
    plot::attention::draw_attention(&picture, &result)?;
    emit(&laminar_attention::output::metrics_table(&result))?;
    emit(&format!("  written: {}, {}\n", out.join("attention.h5").display(), picture.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// `laminar attention scaling`: the sweep (`laminar_attention::scaling`), a picture and a
/// progress line after every run, then scaling.png and the table.
fn attention_scaling(options: &laminar_attention::scaling::ScalingOptions) -> Result<ExitCode> {
    use laminar_attention::AttentionRun;
    use laminar_attention::scaling::{ScalingRow, run_scaling};
    let stop = Arc::new(AtomicBool::new(false));
    let interruption = Arc::new(run::Interruption::default());
    watch_signals(Arc::clone(&stop), Arc::clone(&interruption), &options.out)?;
    interruption.begin_writing();
    let total = options.points().len();
    let mut done = 0;
    let mut after_run =
        |row: &ScalingRow, run: &AttentionRun| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            plot::attention::draw_attention(&row.dir.join("attention.png"), run)?;
            emit(&row.progress_line(done, total, run.primary))?;
            done += 1;
            Ok(())
        };
    let scaling = run_scaling(options, &stop, &mut after_run)?;
    let picture = options.out.join("scaling.png");
    plot::attention::draw_scaling(&picture, &scaling)?;
    emit(&scaling.table())?;
    emit(&format!(
        "  written: {}, {}\n",
        options.out.join(laminar_attention::scaling::CSV_FILE_NAME).display(),
        picture.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `laminar attention compare`: every circuit and baseline on one qkv.h5, a picture and a
/// progress line after every run, then compare.png and the table.
fn attention_compare(options: &laminar_attention::compare::CompareOptions) -> Result<ExitCode> {
    use laminar_attention::AttentionRun;
    use laminar_attention::compare::{CSV_FILE_NAME, CompareRow, run_compare};
    let stop = Arc::new(AtomicBool::new(false));
    let interruption = Arc::new(run::Interruption::default());
    watch_signals(Arc::clone(&stop), Arc::clone(&interruption), &options.out)?;
    interruption.begin_writing();
    let mut after_run =
        |row: &CompareRow, run: &AttentionRun| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            plot::attention::draw_attention(&row.dir.join("attention.png"), run)?;
            let head = row.head.map(|h| format!(" head {h}")).unwrap_or_default();
            let baseline = if row.baseline.name_or_empty().is_empty() {
                String::new()
            } else {
                format!(" (baseline {})", row.baseline.name())
            };
            emit(&format!(
                "  {}{head}{baseline}: r_c {:.3} against {}, {:.1} s\n",
                row.circuit, row.r_c, row.primary, row.wall_s
            ))?;
            Ok(())
        };
    let comparison = run_compare(options, &stop, &mut after_run)?;
    let picture = options.out.join("compare.png");
    plot::attention::draw_compare(&picture, &comparison)?;
    emit(&comparison.table())?;
    emit(&format!("  written: {}, {}\n", options.out.join(CSV_FILE_NAME).display(), picture.display()))?;
    Ok(ExitCode::SUCCESS)
}

fn real_main() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            model,
            out,
            force,
            duration,
            seed,
            threads,
            set,
            quiet,
            checkpoint_every,
            checkpoint_at_exit,
            profile,
        } => {
            let ranks = distributed::ranks()?;
            let options = run::RunOptions {
                duration_ms: duration,
                seed,
                threads,
                overrides: set,
                quiet: quiet || ranks.as_ref().is_some_and(|r| laminar_engine::Ranks::rank(&**r) != 0),
                force,
                interruption: None,
                checkpoint_every_ms: checkpoint_every,
                checkpoint_at_exit,
                ranks: ranks.clone().map(|r| r as Arc<dyn laminar_engine::Ranks>),
                profile,
            };
            let result = run_with_signals(&out, options, |options, stop| run::run(&model, &out, options, stop));
            distributed::end_all_ranks_on_error(ranks.as_deref(), result)
        }
        Command::Resume { dir, duration, threads, quiet, checkpoint_every, checkpoint_at_exit } => {
            let ranks = distributed::ranks()?;
            let options = run::RunOptions {
                duration_ms: duration,
                threads,
                quiet: quiet || ranks.as_ref().is_some_and(|r| laminar_engine::Ranks::rank(&**r) != 0),
                checkpoint_every_ms: checkpoint_every,
                checkpoint_at_exit,
                ranks: ranks.clone().map(|r| r as Arc<dyn laminar_engine::Ranks>),
                ..Default::default()
            };
            let result = run_with_signals(&dir, options, |options, stop| run::resume(&dir, options, stop));
            distributed::end_all_ranks_on_error(ranks.as_deref(), result)
        }
        Command::Validate { model, set } => {
            let file = config::load(&model, &set)?;
            let footprint = file.footprint()?;
            emit(&format!(
                "{}: valid ({})\n  read: {}\n  memory: about {} estimated for {} synapses\n",
                model.display(),
                file.describe(),
                file.sections().join(", "),
                config::machine::human_bytes(footprint.total_bytes()),
                laminar_models::params::compact(footprint.synapses.round())
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Build { model, set, seed, threads, export, edges } => {
            build(&model, &set, seed, threads, export.as_deref(), edges)
        }
        Command::Inspect { dir } => {
            emit(&laminar_record::inspect(&dir)?)?;
            let checkpoint = dir.join(laminar_cli::checkpointing::CHECKPOINT_FILE);
            if checkpoint.exists() {
                emit(&laminar_cli::checkpointing::describe(&checkpoint)?)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plot(args) => {
            plot::main(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify { cases, out, threads, update } => {
            let mut all = true;
            for case in &cases {
                let dir = match (&out, cases.len()) {
                    (Some(o), 1) => Some(o.clone()),
                    (Some(o), _) => Some(o.join(case.file_stem().unwrap_or_default())),
                    (None, _) => None,
                };
                let r = verify::verify_file_with(case, threads, dir.as_deref(), update)?;
                emit(&r.report())?;
                all &= r.pass();
            }
            Ok(if all { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Gating { params, population, set, auto_range, seed, threads } => {
            let mut exp = Experiment::load(params.as_deref(), &set, population.as_deref())?;
            exp.seed = seed;
            exp.threads = threads.max(1);
            emit(&gating::text(&laminar_attention::gating::gating(exp, auto_range)?))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Normalization { seed, vectors, inputs, measure_ms } => {
            let options = laminar_attention::normalization::Options { seed, vectors, inputs, measure_ms };
            let report = laminar_attention::normalization::run(&options)?;
            emit(&normalization::text(&report))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Attention(args) => attention(*args),
        Command::Bench { scenario, n, k, driven, duration, threads, seed, update, profile } => {
            bench(&scenario, n, k, driven, duration, threads, seed, update, profile)
        }
    }
}

/// `laminar build`: the circuit's table, and with `export` its nodes (and edges) as SONATA.
fn build(
    model: &Path,
    set: &[String],
    seed: Option<u64>,
    threads: Option<usize>,
    export: Option<&Path>,
    edges: bool,
) -> Result<ExitCode> {
    let file = config::load(model, set)?;
    let seed = seed.unwrap_or(file.simulation().seed);
    let threads = threads.unwrap_or(file.simulation().threads);
    emit(&circuit::build_table(&file, seed, threads)?.text)?;
    if let Some(dir) = export {
        std::fs::create_dir_all(dir).with_context(|| format!("creating the export directory {}", dir.display()))?;
        circuit::write_nodes(&file, seed, dir)?;
        emit(&format!("wrote {} and {}\n", dir.join("nodes.h5").display(), dir.join("node_types.csv").display()))?;
        if edges {
            let n = circuit::write_edges(&file, seed, dir)?;
            emit(&format!(
                "wrote {n} edges to {} and {}\n",
                dir.join("edges.h5").display(),
                dir.join("edge_types.csv").display()
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `laminar bench`: builds and runs a built-in scenario without recording; prints its build and
/// simulate times, rate, synapses and memory (and with `profile` where the time went).
fn bench(
    scenario: &str,
    n: usize,
    k: f64,
    driven: f64,
    duration: f64,
    threads: usize,
    seed: u64,
    update: Scheduling,
    profile: bool,
) -> Result<ExitCode> {
    let t0 = std::time::Instant::now();
    let b = match scenario {
        "cuba" => scenarios::cuba(n, k, seed, false, update)?,
        "sparse" => scenarios::sparse(n, driven, seed, update)?,
        other => bail!("unknown scenario '{other}' (cuba or sparse)"),
    };
    let ranks = distributed::ranks()?;
    let mut sim = match &ranks {
        Some(r) => b.build_on(threads, Arc::clone(r) as Arc<dyn laminar_engine::Ranks>)?,
        None => b.build(threads)?,
    };
    let built = t0.elapsed();
    sim.set_profiling(profile);
    let steps = sim.resolution().exact_steps(duration)?;
    let stop = AtomicBool::new(false);
    let r = sim.run(steps, &mut laminar_engine::NullObserver, &stop)?;
    let total: u64 = sim.spike_counts().iter().sum();
    let (synapses, bytes) = sim.memory();
    let events = sim.synaptic_events_all_ranks();
    if sim.ranks().rank() == 0 {
        let layout = match sim.ranks().size() {
            1 => format!("threads={threads}"),
            n => format!("ranks={n} threads={threads}"),
        };
        emit(&format!(
            "scenario {scenario} n={n} {layout}: build {:.3} s, simulate {:.3} s, rate {:.3} Hz, synapses {synapses}, {:.1} MB, synaptic events {events}\n{}",
            built.as_secs_f64(),
            r.wall.as_secs_f64(),
            total as f64 / n as f64 / (duration / 1000.0),
            bytes as f64 / 1e6,
            run::exchange_line(&sim, r.wall.as_secs_f64())
        ))?;
        if profile {
            emit(&run::profile_table(&sim, built.as_secs_f64(), r.wall.as_secs_f64(), duration / 1000.0))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn every_argument_of_every_subcommand_is_documented() {
        let cli = Cli::command();
        let mut undocumented = Vec::new();
        for sub in cli.get_subcommands() {
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    undocumented.push(format!("{} {id}", sub.get_name()));
                }
            }
        }
        assert!(undocumented.is_empty(), "arguments without help: {undocumented:?}");
    }
}
