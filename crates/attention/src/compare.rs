//! `laminar attention compare`: the three hypotheses side by side on one set of inputs.
//!
//! Runs every circuit of `--circuits` (default: `astro`, the neuron–astrocyte transformer;
//! `column`, columns as tokens; `multihead`, areas as heads) on one qkv.h5, each with its
//! baselines, and tabulates r_c against each circuit's own reference, r_c against softmax and
//! against unnormalised linear attention (the three references the hypotheses name), the
//! baselines' r_c and the wall time.
//!
//! A single-head circuit given inputs with H heads runs once per head on that head's slice
//! (`DIR/inputs/head{h}.h5`: q, k, v of head h, no W_O) and is judged against that head's
//! reference; its row reports the mean over heads. The multihead circuit runs on the whole
//! file. Every run writes its own directory, `DIR/<circuit>[_head<h>][_<baseline>]/`, as
//! `laminar attention` does; `DIR/compare.csv` gets one line per run, rewritten after every run
//! (columns: `circuit`, `head` (−1: all heads), `baseline` ("" for the full circuit), `primary`,
//! `r_c`, `r_c_softmax`, `r_c_linear_unnormalized`, `wall_s`).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::circuit::{Circuit, circuit_source};
use crate::inputs::Inputs;
use crate::output::write_attention;
use crate::stats::mean;
use crate::{AttentionOptions, AttentionRun, Baseline, Error, run_attention};

pub const CSV_FILE_NAME: &str = "compare.csv";
pub const CSV_HEADER: &str = "circuit,head,baseline,primary,r_c,r_c_softmax,r_c_linear_unnormalized,wall_s";
/// The circuits compared by default: one per hypothesis.
pub const DEFAULT_CIRCUITS: [&str; 3] = ["astro", "column", "multihead"];

#[derive(Debug, Clone)]
pub struct CompareOptions {
    pub inputs: PathBuf,
    pub out: PathBuf,
    pub circuits: Vec<String>,
    pub seed: u64,
    pub threads: usize,
    pub force: bool,
}

/// One run of the comparison.
#[derive(Debug, Clone)]
pub struct CompareRow {
    pub circuit: String,
    /// The head slice a single-head circuit ran on; `None`: all heads.
    pub head: Option<usize>,
    pub baseline: Baseline,
    pub primary: &'static str,
    pub r_c: f64,
    pub r_c_softmax: f64,
    pub r_c_linear: f64,
    pub wall_s: f64,
    pub dir: PathBuf,
}

impl CompareRow {
    fn csv(&self) -> String {
        format!(
            "{},{},{},{},{:?},{:?},{:?},{:?}",
            self.circuit,
            self.head.map_or(-1, |h| h as i64),
            self.baseline.name_or_empty(),
            self.primary,
            self.r_c,
            self.r_c_softmax,
            self.r_c_linear,
            self.wall_s
        )
    }
}

/// A circuit's line of the summary: the full circuit and each baseline, means over head slices.
#[derive(Debug, Clone)]
pub struct CircuitSummary {
    pub circuit: String,
    pub primary: &'static str,
    pub r_c: f64,
    pub r_c_softmax: f64,
    pub r_c_linear: f64,
    /// Wall time of one full run (mean over head slices).
    pub wall_s: f64,
    pub baselines: Vec<(Baseline, f64)>,
}

#[derive(Debug, Clone, Default)]
pub struct Comparison {
    pub rows: Vec<CompareRow>,
}

impl Comparison {
    pub fn summary(&self) -> Vec<CircuitSummary> {
        let mut names: Vec<&str> = Vec::new();
        for r in &self.rows {
            if !names.contains(&r.circuit.as_str()) {
                names.push(&r.circuit);
            }
        }
        names
            .into_iter()
            .map(|name| {
                let of =
                    |b: Baseline| self.rows.iter().filter(|r| r.circuit == name && r.baseline == b).collect::<Vec<_>>();
                let full = of(Baseline::None);
                let avg = |f: fn(&CompareRow) -> f64, rows: &[&CompareRow]| {
                    mean(&rows.iter().map(|r| f(r)).collect::<Vec<_>>())
                };
                let mut baselines: Vec<(Baseline, f64)> = Vec::new();
                for r in self.rows.iter().filter(|r| r.circuit == name && r.baseline != Baseline::None) {
                    if !baselines.iter().any(|(b, _)| *b == r.baseline) {
                        baselines.push((r.baseline, avg(|r| r.r_c, &of(r.baseline))));
                    }
                }
                CircuitSummary {
                    circuit: name.to_string(),
                    primary: full.first().map_or("", |r| r.primary),
                    r_c: avg(|r| r.r_c, &full),
                    r_c_softmax: avg(|r| r.r_c_softmax, &full),
                    r_c_linear: avg(|r| r.r_c_linear, &full),
                    wall_s: avg(|r| r.wall_s, &full),
                    baselines,
                }
            })
            .collect()
    }

    /// The table the command prints (and the README shows).
    pub fn table(&self) -> String {
        let mut text = String::from(
            "| circuit (hypothesis) | reference | r_c | r_c softmax | r_c linear | baselines (r_c) | wall (s) |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for s in self.summary() {
            let hypothesis = match s.circuit.as_str() {
                "astro" => "astro (astrocytes normalise)",
                "column" => "column (columns as tokens)",
                "multihead" => "multihead (areas as heads)",
                other => other,
            };
            let baselines: Vec<String> = s.baselines.iter().map(|(b, r)| format!("{} {r:.3}", b.name())).collect();
            text.push_str(&format!(
                "| {hypothesis} | {} | {:.3} | {:.3} | {:.3} | {} | {:.1} |\n",
                s.primary,
                s.r_c,
                s.r_c_softmax,
                s.r_c_linear,
                baselines.join(", "),
                s.wall_s
            ));
        }
        text
    }
}

fn write_csv(path: &Path, rows: &[CompareRow]) -> Result<(), Error> {
    let mut text = format!("{CSV_HEADER}\n");
    for r in rows {
        text.push_str(&r.csv());
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|source| Error::Write { path: path.to_path_buf(), source })
}

/// What the caller does after each run (given its row and result); its error ends the comparison.
pub type AfterRun<'a> =
    dyn FnMut(&CompareRow, &AttentionRun) -> Result<(), Box<dyn std::error::Error + Send + Sync>> + 'a;

/// Runs the comparison; `after_run` follows every run (the binary draws its picture and prints
/// a progress line).
pub fn run_compare(options: &CompareOptions, stop: &AtomicBool, after_run: &mut AfterRun) -> Result<Comparison, Error> {
    let inputs = Inputs::read(&options.inputs)?;
    if options.out.exists() && !options.out.is_dir() {
        return Err(Error::File { path: options.out.clone(), message: "not a directory (--out DIR)".into() });
    }
    let csv = options.out.join(CSV_FILE_NAME);
    if csv.exists() && !options.force {
        return Err(Error::EarlierSweep { path: csv });
    }
    std::fs::create_dir_all(options.out.join("inputs"))
        .map_err(|source| Error::Write { path: options.out.join("inputs"), source })?;
    // Every head's slice, for the single-head circuits.
    let slices: Vec<PathBuf> = if inputs.heads.len() == 1 {
        vec![options.inputs.clone()]
    } else {
        (0..inputs.heads.len())
            .map(|h| {
                let path = options.out.join("inputs").join(format!("head{h}.h5"));
                let slice = Inputs { heads: vec![inputs.heads[h].clone()], beta: inputs.beta, w_o: None };
                slice.write(&path).map(|_| path)
            })
            .collect::<Result<_, _>>()?
    };
    let mut comparison = Comparison::default();
    for name in &options.circuits {
        let (path, text) = circuit_source(name)?;
        let file = laminar_config::load_str(&text, &path, &[])?;
        let circuit = Circuit::from_model(&file)?;
        let multihead = matches!(circuit, Circuit::Multihead(_));
        let runs: Vec<(Option<usize>, &PathBuf)> = if multihead || slices.len() == 1 {
            vec![(None, if multihead { &options.inputs } else { &slices[0] })]
        } else {
            slices.iter().enumerate().map(|(h, p)| (Some(h), p)).collect()
        };
        for baseline in std::iter::once(Baseline::None).chain(circuit.baselines().iter().copied()) {
            for &(head, inputs_path) in &runs {
                let mut dir_name = name.replace(['/', '.'], "_");
                if let Some(h) = head {
                    dir_name.push_str(&format!("_head{h}"));
                }
                if baseline != Baseline::None {
                    dir_name.push_str(&format!("_{}", baseline.name()));
                }
                let dir = options.out.join(dir_name);
                let run = run_attention(
                    &AttentionOptions {
                        circuit: name.clone(),
                        inputs: inputs_path.clone(),
                        out: dir.clone(),
                        seed: options.seed,
                        threads: options.threads,
                        baseline,
                        probe_weights: false,
                        overrides: Vec::new(),
                        force: options.force,
                    },
                    stop,
                )?;
                write_attention(&dir, &run)?;
                let r_c = |reference: &str| run.metric(reference).map_or(f64::NAN, |m| m.r_c);
                let row = CompareRow {
                    circuit: name.clone(),
                    head,
                    baseline,
                    primary: run.primary,
                    r_c: run.primary_r_c(),
                    r_c_softmax: r_c("softmax"),
                    r_c_linear: r_c("linear_unnormalized"),
                    wall_s: run.wall_s,
                    dir,
                };
                after_run(&row, &run)
                    .map_err(|e| Error::Invalid(format!("after the run in {}: {e}", row.dir.display())))?;
                comparison.rows.push(row);
                write_csv(&options.out.join(CSV_FILE_NAME), &comparison.rows)?;
            }
        }
    }
    Ok(comparison)
}
