//! `laminar attention scaling`: how a circuit's accuracy and cost change with the number of
//! tokens.
//!
//! A circuit that stores n tokens in its memory synapses and normalises by an astrocyte domain
//! may follow its reference well for a few tokens and drift as n grows (more overlap between
//! stored keys, a larger denominator to integrate), while its wall time grows with the size of
//! the network and the length of the write phase. The sweep measures both on inputs drawn the
//! same way for every n, over several seeds so that the spread of r_c is seen beside its mean.
//!
//! For every n of `--tokens` and every seed of `--seeds` (in that order):
//! 1. inputs are drawn as `laminar attention inputs` draws them ([`Inputs::draw`]: n tokens, n_q
//!    queries, d, d_v, H heads and d_out (`--heads`, `--dim-out`; default one head), the seed) into `DIR/inputs/n{n}_seed{s}.h5`;
//! 2. the circuit runs on them with the same seed into `DIR/n{n}_seed{s}/` (the recording and
//!    attention.h5, as `laminar attention` writes them), and the caller's `after_run` follows
//!    (the binary draws attention.png and prints a progress line);
//! 3. a row is added to `DIR/scaling.csv`, rewritten after every run so that a sweep stopped
//!    midway keeps the rows of its finished runs.
//!
//! `scaling.csv` columns: `n`, `seed`, `r_c` (against the circuit's primary reference, as the
//! run's attention.h5 has it), `r_c_softmax`, `r_raw` (primary reference), `wall_s` (the run,
//! from reading its inputs to counting its spikes), `simulated_ms`. Numbers are written in
//! Rust's shortest round-trip form, so they parse back to the values in attention.h5.
//!
//! [`Scaling::summary`] gives the mean and standard deviation (population, over seeds) per n,
//! which the final table and `scaling.png` show.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::inputs::{Inputs, MAX_DIM, MAX_DIM_V, MAX_QUERIES, MAX_TOKENS};
use crate::output::write_attention;
use crate::stats::{mean, std_dev};
use crate::{AttentionOptions, AttentionRun, Baseline, Error, run_attention};

/// The sweep's table.
pub const CSV_FILE_NAME: &str = "scaling.csv";
/// The header of [`CSV_FILE_NAME`].
pub const CSV_HEADER: &str = "n,seed,r_c,r_c_softmax,r_raw,wall_s,simulated_ms";

/// What to sweep.
#[derive(Debug, Clone)]
pub struct ScalingOptions {
    /// The circuit: a short name (`astro`) or a model file.
    pub circuit: String,
    /// The numbers of tokens n, in the order run.
    pub tokens: Vec<usize>,
    pub queries: usize,
    pub dim: usize,
    pub dim_v: usize,
    /// Heads H (W_O is drawn when H > 1; the multihead circuit).
    pub heads: usize,
    /// The output dimension of W_O (default d_v).
    pub dim_out: Option<usize>,
    /// The seeds of the inputs and of the runs.
    pub seeds: Vec<u64>,
    pub out: PathBuf,
    pub threads: usize,
    /// `--set` arguments of every run.
    pub overrides: Vec<String>,
    /// Replace an earlier sweep in `out`.
    pub force: bool,
}

impl ScalingOptions {
    /// The (n, seed) of every run, in the order run.
    pub fn points(&self) -> Vec<(usize, u64)> {
        self.tokens.iter().flat_map(|&n| self.seeds.iter().map(move |&s| (n, s))).collect()
    }

    /// The output directory of the run (n, seed).
    pub fn run_dir(&self, n: usize, seed: u64) -> PathBuf {
        self.out.join(format!("n{n}_seed{seed}"))
    }

    /// The inputs file of the run (n, seed).
    pub fn inputs_path(&self, n: usize, seed: u64) -> PathBuf {
        self.out.join("inputs").join(format!("n{n}_seed{seed}.h5"))
    }

    /// Checks the settings, the circuit with the `--set` arguments, and that every run may
    /// write where it will, before anything runs.
    pub fn check(&self) -> Result<(), Error> {
        for (option, list) in [("--tokens", self.tokens.len()), ("--seeds", self.seeds.len())] {
            if list == 0 {
                return Err(Error::EmptyList { option });
            }
        }
        for (i, &n) in self.tokens.iter().enumerate() {
            if n == 0 || n > MAX_TOKENS {
                return Err(Error::OutOfRange { option: "--tokens", value: n, max: MAX_TOKENS });
            }
            if self.tokens[..i].contains(&n) {
                return Err(Error::Repeated { option: "--tokens", value: n as u64 });
            }
        }
        for (i, seed) in self.seeds.iter().enumerate() {
            if self.seeds[..i].contains(seed) {
                return Err(Error::Repeated { option: "--seeds", value: *seed });
            }
        }
        for (option, value, max) in [
            ("--queries", self.queries, MAX_QUERIES),
            ("--dim", self.dim, MAX_DIM),
            ("--dim-v", self.dim_v, MAX_DIM_V),
            ("--heads", self.heads, crate::inputs::MAX_HEADS),
            ("--dim-out", self.dim_out.unwrap_or(self.dim_v), MAX_DIM_V),
        ] {
            if value == 0 || value > max {
                return Err(Error::OutOfRange { option, value, max });
            }
        }
        // The circuit and the `--set` arguments, as every run will load them.
        let (path, text) = crate::circuit::circuit_source(&self.circuit)?;
        crate::circuit::Circuit::from_model(&laminar_config::load_str(&text, &path, &self.overrides)?)?;
        if self.out.exists() && !self.out.is_dir() {
            return Err(Error::File { path: self.out.clone(), message: "not a directory (--out DIR)".into() });
        }
        let csv = self.out.join(CSV_FILE_NAME);
        if csv.exists() && !self.force {
            return Err(Error::EarlierSweep { path: csv });
        }
        for (n, seed) in self.points() {
            laminar_record::check_output_dir(&self.run_dir(n, seed), self.force)?;
        }
        Ok(())
    }
}

/// One run of the sweep: a row of `scaling.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingRow {
    pub n: usize,
    pub seed: u64,
    /// r_c against the circuit's primary reference.
    pub r_c: f64,
    pub r_c_softmax: f64,
    /// r_raw against the primary reference.
    pub r_raw: f64,
    pub wall_s: f64,
    pub simulated_ms: f64,
    /// Where the run was written.
    pub dir: PathBuf,
}

impl ScalingRow {
    /// The row of a finished run.
    pub fn new(n: usize, seed: u64, dir: &Path, run: &AttentionRun) -> Self {
        let r_raw = run.metric(run.primary).map_or(f64::NAN, |m| m.r_raw);
        Self {
            n,
            seed,
            r_c: run.primary_r_c(),
            r_c_softmax: run.metric("softmax").map_or(f64::NAN, |m| m.r_c),
            r_raw,
            wall_s: run.wall_s,
            simulated_ms: run.simulated_ms,
            dir: dir.to_path_buf(),
        }
    }

    /// The line printed when the run is done: `[i/total] n = …, seed …: r_c …`.
    pub fn progress_line(&self, index: usize, total: usize, primary: &str) -> String {
        format!(
            "[{}/{total}] n = {}, seed {}: r_c {:.3} ({primary}), r_c softmax {:.3}; {:.0} ms simulated in {:.1} s; {}\n",
            index + 1,
            self.n,
            self.seed,
            self.r_c,
            self.r_c_softmax,
            self.simulated_ms,
            self.wall_s,
            self.dir.display()
        )
    }
}

/// The mean and standard deviation over seeds of one n.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingPoint {
    pub n: usize,
    /// The seeds run for this n.
    pub runs: usize,
    pub r_c_mean: f64,
    pub r_c_sd: f64,
    pub r_c_softmax_mean: f64,
    pub r_c_softmax_sd: f64,
    pub wall_mean: f64,
    pub wall_sd: f64,
}

/// A sweep's rows and settings.
#[derive(Debug, Clone)]
pub struct Scaling {
    pub options: ScalingOptions,
    /// The circuit's name and primary reference, as its runs report them.
    pub circuit: &'static str,
    pub primary: &'static str,
    pub rows: Vec<ScalingRow>,
}

impl Scaling {
    /// Mean and standard deviation over seeds per n, in the order of `--tokens`.
    pub fn summary(&self) -> Vec<ScalingPoint> {
        self.options
            .tokens
            .iter()
            .filter_map(|&n| {
                let rows: Vec<&ScalingRow> = self.rows.iter().filter(|r| r.n == n).collect();
                if rows.is_empty() {
                    return None;
                }
                let of = |f: fn(&ScalingRow) -> f64| rows.iter().map(|r| f(r)).collect::<Vec<f64>>();
                let (r_c, softmax, wall) = (of(|r| r.r_c), of(|r| r.r_c_softmax), of(|r| r.wall_s));
                Some(ScalingPoint {
                    n,
                    runs: rows.len(),
                    r_c_mean: mean(&r_c),
                    r_c_sd: std_dev(&r_c),
                    r_c_softmax_mean: mean(&softmax),
                    r_c_softmax_sd: std_dev(&softmax),
                    wall_mean: mean(&wall),
                    wall_sd: std_dev(&wall),
                })
            })
            .collect()
    }

    /// The text of `scaling.csv`: [`CSV_HEADER`], then one line per run.
    pub fn csv(&self) -> String {
        let mut text = format!("{CSV_HEADER}\n");
        for r in &self.rows {
            text.push_str(&format!(
                "{},{},{},{},{},{},{}\n",
                r.n, r.seed, r.r_c, r.r_c_softmax, r.r_raw, r.wall_s, r.simulated_ms
            ));
        }
        text
    }

    /// Writes `scaling.csv` into the sweep's directory.
    pub fn write_csv(&self) -> Result<PathBuf, Error> {
        let path = self.options.out.join(CSV_FILE_NAME);
        std::fs::write(&path, self.csv()).map_err(|source| Error::Write { path: path.clone(), source })?;
        Ok(path)
    }

    /// One line of settings: primary reference, sizes, seeds.
    pub fn describe(&self) -> String {
        let o = &self.options;
        let seeds: Vec<String> = o.seeds.iter().map(u64::to_string).collect();
        format!(
            "r_c against {}; n_q = {}, d = {}, d_v = {}{}, seeds {}",
            self.primary,
            o.queries,
            o.dim,
            o.dim_v,
            if o.heads > 1 {
                format!(", H = {}, d_out = {}", o.heads, o.dim_out.unwrap_or(o.dim_v))
            } else {
                String::new()
            },
            seeds.join(", ")
        )
    }

    /// The final table: per n, the runs, r_c (primary and softmax) and wall time, mean ± sd.
    pub fn table(&self) -> String {
        let mut text = format!("attention scaling, {} circuit: {}\n", self.circuit, self.describe());
        text.push_str(&format!("  {:>5} {:>5} {:>15} {:>15} {:>15}\n", "n", "runs", "r_c", "r_c softmax", "wall_s"));
        for p in self.summary() {
            let r_c = format!("{:.3} ± {:.3}", p.r_c_mean, p.r_c_sd);
            let softmax = format!("{:.3} ± {:.3}", p.r_c_softmax_mean, p.r_c_softmax_sd);
            let wall = format!("{:.1} ± {:.1}", p.wall_mean, p.wall_sd);
            text.push_str(&format!("  {:>5} {:>5} {r_c:>15} {softmax:>15} {wall:>15}\n", p.n, p.runs));
        }
        text
    }
}

/// Draws the inputs of run (n, seed), runs the circuit on them and writes its attention.h5.
fn run_point(options: &ScalingOptions, n: usize, seed: u64, stop: &AtomicBool) -> Result<AttentionRun, Error> {
    let inputs_path = options.inputs_path(n, seed);
    Inputs::draw(n, options.queries, options.dim, options.dim_v, options.heads, options.dim_out, seed)
        .write(&inputs_path)?;
    let dir = options.run_dir(n, seed);
    let run = run_attention(
        &AttentionOptions {
            circuit: options.circuit.clone(),
            inputs: inputs_path,
            out: dir.clone(),
            seed,
            threads: options.threads.max(1),
            baseline: Baseline::None,
            probe_weights: false,
            overrides: options.overrides.clone(),
            force: options.force,
        },
        stop,
    )?;
    write_attention(&dir, &run)?;
    Ok(run)
}

/// What the caller does after each run (given its row and result); its error ends the sweep.
pub type AfterRun<'a> =
    dyn FnMut(&ScalingRow, &AttentionRun) -> Result<(), Box<dyn std::error::Error + Send + Sync>> + 'a;

/// Runs the sweep; see the module documentation. Every setting and run directory is checked
/// before the first run; a failed run ends the sweep with its (n, seed) named, and the rows
/// written so far stay in `scaling.csv`.
pub fn run_scaling(options: &ScalingOptions, stop: &AtomicBool, after_run: &mut AfterRun) -> Result<Scaling, Error> {
    options.check()?;
    let inputs_dir = options.out.join("inputs");
    std::fs::create_dir_all(&inputs_dir).map_err(|source| Error::Write { path: inputs_dir, source })?;
    let mut scaling = Scaling { options: options.clone(), circuit: "", primary: "", rows: Vec::new() };
    for (n, seed) in options.points() {
        let dir = options.run_dir(n, seed);
        let run = run_point(options, n, seed, stop).map_err(|e| Error::SweepRun {
            n,
            seed,
            dir: dir.clone(),
            source: Box::new(e),
        })?;
        let row = ScalingRow::new(n, seed, &dir, &run);
        scaling.circuit = run.circuit;
        scaling.primary = run.primary;
        scaling.rows.push(row.clone());
        scaling.write_csv()?;
        after_run(&row, &run).map_err(|source| Error::AfterRun { n, seed, dir, source })?;
    }
    Ok(scaling)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ScalingOptions {
        ScalingOptions {
            circuit: "astro".into(),
            tokens: vec![4, 8],
            queries: 4,
            dim: 4,
            dim_v: 2,
            heads: 1,
            dim_out: None,
            seeds: vec![1, 2],
            out: std::env::temp_dir().join(format!("laminar-scaling-unit-{}", std::process::id())),
            threads: 1,
            overrides: Vec::new(),
            force: false,
        }
    }

    fn row(n: usize, seed: u64, r_c: f64, wall_s: f64) -> ScalingRow {
        ScalingRow {
            n,
            seed,
            r_c,
            r_c_softmax: r_c / 2.0,
            r_raw: 0.5,
            wall_s,
            simulated_ms: 1000.0,
            dir: PathBuf::from(format!("n{n}_seed{seed}")),
        }
    }

    #[test]
    fn settings_are_checked_before_anything_runs() {
        let o = options();
        assert_eq!(o.points(), [(4, 1), (4, 2), (8, 1), (8, 2)]);
        assert!(o.check().is_ok());
        let bad = |f: fn(&mut ScalingOptions), needle: &str| {
            let mut o = options();
            f(&mut o);
            let e = o.check().expect_err(needle).to_string();
            assert!(e.contains(needle), "{e}");
        };
        bad(|o| o.tokens.clear(), "--tokens: give at least one value");
        bad(|o| o.seeds = vec![3, 3], "--seeds: 3 is given twice");
        bad(|o| o.tokens = vec![4, 300], "--tokens 300: must be 1 to 256");
        bad(|o| o.dim_v = 0, "--dim-v 0: must be 1 to 16");
    }

    #[test]
    fn rows_make_the_table_and_the_summary() {
        let mut s = Scaling { options: options(), circuit: "astro", primary: "kernel", rows: Vec::new() };
        s.rows = vec![row(4, 1, 0.9, 2.0), row(4, 2, 0.8, 4.0), row(8, 1, 0.7, 8.0)];
        let csv = s.csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(lines[1], "4,1,0.9,0.45,0.5,2,1000");
        assert_eq!(lines.len(), 4);
        let summary = s.summary();
        assert_eq!(summary.len(), 2);
        assert_eq!((summary[0].n, summary[0].runs), (4, 2));
        assert!((summary[0].r_c_mean - 0.85).abs() < 1e-12 && (summary[0].r_c_sd - 0.05).abs() < 1e-12);
        assert_eq!((summary[1].wall_mean, summary[1].wall_sd), (8.0, 0.0));
        assert!(s.table().contains("r_c against kernel"), "{}", s.table());
    }
}
