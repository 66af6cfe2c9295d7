//! `laminar attention CIRCUIT --inputs qkv.h5 --out DIR`: one attention run, end to end.
//!
//! 1. Read and validate the inputs ([`Inputs::read`]).
//! 2. Load the circuit's model file with the user's `--set` arguments and read its
//!    `[attention]` table ([`Circuit::from_model`]).
//! 3. Prepare the inputs for the circuit ([`Circuit::prepare`]): the generators that present
//!    them (appended to the file), the sizes, duration and learning windows (as overrides), the
//!    readout rows and the windows.
//! 4. Load the completed file (written to `DIR/circuit.toml`: with the overrides the manifest
//!    lists, `laminar run` repeats the run), build it and run it into DIR like `laminar run`
//!    (manifest, spikes.h5).
//! 5. Read the spikes back from `spikes.h5` and count every readout row in every read window:
//!    the counts are a recount of the recording, by construction.
//! 6. Decode with the anchors ([`crate::decoding`]), compute the references and metrics, and
//!    write `attention.h5` ([`crate::output`]).

use std::path::{Path, PathBuf};

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use laminar_record::{Recorder, ReportPlan, RunInfo, WeightPlan};

use crate::circuit::{Circuit, Prepared};
use crate::decoding::{AnchorFit, CountKind, count_in, countable_times, decode};
use crate::inputs::Inputs;
use crate::matrix::Matrix;
use crate::metrics::{OutputMetrics, WeightMetrics, output_metrics, weight_metrics};
use crate::reference::{References, fit_beta_eff, fit_beta_eff_weights, softmax_output, softmax_weights};
use crate::{Baseline, Error};

/// What to run.
#[derive(Debug, Clone)]
pub struct AttentionOptions {
    /// The circuit: a short name (`astro`) or a model file.
    pub circuit: String,
    pub inputs: PathBuf,
    pub out: PathBuf,
    pub seed: u64,
    pub threads: usize,
    pub baseline: Baseline,
    pub probe_weights: bool,
    pub overrides: Vec<String>,
    pub force: bool,
}

/// The result of a run, as written to attention.h5.
#[derive(Debug, Clone)]
pub struct AttentionRun {
    pub circuit: &'static str,
    pub inputs: Inputs,
    pub prepared: Prepared,
    pub counts: Matrix,
    pub fit: Option<AnchorFit>,
    /// [n_q, d_out]
    pub y_hat: Matrix,
    pub references: References,
    pub beta_eff: f64,
    pub softmax_beta_eff: Matrix,
    /// (reference name, metrics) in the order written.
    pub metrics: Vec<(&'static str, OutputMetrics)>,
    /// [n_q, n] per head (NaN without probes).
    pub implied_weights: Vec<Matrix>,
    pub weight_metrics: Vec<(&'static str, WeightMetrics)>,
    /// Per head, the head's own output before the heads are combined ([n_q, d_v]; multihead).
    pub y_hat_heads: Vec<Matrix>,
    /// Per head, its `linear_unnormalized` reference ([n_q, d_v]; multihead).
    pub head_references: Vec<Matrix>,
    /// Per head, `y_hat_heads` against `head_references`.
    pub head_metrics: Vec<OutputMetrics>,
    pub primary: &'static str,
    pub decoder: &'static str,
    pub wall_s: f64,
    pub simulated_ms: f64,
    pub seed: u64,
    pub threads: usize,
    pub baseline: Baseline,
}

impl AttentionRun {
    /// The primary metric (r_c against the circuit's reference).
    pub fn primary_r_c(&self) -> f64 {
        self.metric(self.primary).map_or(f64::NAN, |m| m.r_c)
    }

    /// The metrics against the reference `name` (`softmax`, `kernel`, …).
    pub fn metric(&self, name: &str) -> Option<&OutputMetrics> {
        self.metrics.iter().find(|(n, _)| *n == name).map(|(_, m)| m)
    }

    /// The reference output `name` ([n_q, d_out]): `softmax`, `kernel`, `linear_unnormalized`,
    /// `uniform` or `softmax_beta_eff`.
    pub fn reference_output(&self, name: &str) -> Option<&Matrix> {
        let r = &self.references;
        match name {
            "softmax" => Some(&r.softmax),
            "kernel" => Some(&r.kernel),
            "linear_unnormalized" => Some(&r.linear_unnormalized),
            "uniform" => Some(&r.uniform),
            "softmax_beta_eff" => Some(&self.softmax_beta_eff),
            _ => None,
        }
    }

    /// The reference weights `name` per head ([n_q, n] each): `softmax` or `kernel`.
    pub fn reference_weights(&self, name: &str) -> Option<&[Matrix]> {
        match name {
            "softmax" => Some(&self.references.softmax_weights),
            "kernel" => Some(&self.references.kernel_weights),
            _ => None,
        }
    }

    /// Whether the implied weights were measured (`--probe-weights`): all finite.
    pub fn implied_measured(&self) -> bool {
        self.implied_weights.first().is_some_and(|w| w.data().iter().all(|x| x.is_finite()))
    }
}

/// A circuit's model file completed for one run: the file as loaded from its text, the
/// overrides and the inputs' stimuli added, ready to build.
#[derive(Debug)]
pub struct PreparedModel {
    pub circuit: Circuit,
    pub inputs: Inputs,
    pub prepared: Prepared,
    /// Where the circuit's model file came from (for messages and relative paths).
    pub circuit_path: PathBuf,
    /// The circuit's text with the generated `[[stimuli]]` appended (`DIR/circuit.toml`).
    pub text: String,
    /// The user's overrides, the preparation's, the seed and the thread count.
    pub overrides: Vec<String>,
    pub file: laminar_config::ModelFile,
}

/// Steps 1–3 of a run (see the module documentation): reads the inputs, loads the circuit,
/// prepares its stimuli and overrides, and loads the completed file.
pub fn prepare_model(options: &AttentionOptions) -> Result<PreparedModel, Error> {
    let inputs = Inputs::read(&options.inputs)?;
    let (circuit_path, text) = crate::circuit::circuit_source(&options.circuit)?;
    let file = laminar_config::load_str(&text, &circuit_path, &options.overrides)?;
    let circuit = Circuit::from_model(&file)?;
    if options.baseline != Baseline::None && !circuit.baselines().contains(&options.baseline) {
        let known: Vec<&str> = circuit.baselines().iter().map(|b| b.name()).collect();
        return Err(Error::Invalid(format!(
            "--baseline {}: the {} circuit offers {}",
            options.baseline.name(),
            circuit.name(),
            known.join(", ")
        )));
    }
    let resolution_ms = file.simulation().resolution_ms;
    let prepared = circuit.prepare(&inputs, options.seed, resolution_ms, options.baseline)?;

    let full_text =
        format!("{text}\n# ---- added by `laminar attention` for {}\n{}", options.inputs.display(), prepared.stimuli);
    let mut overrides = options.overrides.clone();
    overrides.extend(prepared.overrides.iter().cloned());
    overrides.push(format!("simulation.seed={}", options.seed));
    overrides.push(format!("simulation.threads={}", options.threads));
    let file = laminar_config::load_str(&full_text, &circuit_path, &overrides)?;
    Ok(PreparedModel { circuit, inputs, prepared, circuit_path, text: full_text, overrides, file })
}

/// Runs one attention experiment; see the module documentation.
pub fn run_attention(options: &AttentionOptions, stop: &AtomicBool) -> Result<AttentionRun, Error> {
    let started = Instant::now();
    let PreparedModel { circuit, inputs, prepared, circuit_path, text: full_text, overrides, file } =
        prepare_model(options)?;
    let readout_populations: Vec<&str> = {
        let mut names: Vec<&str> = prepared.readout.iter().map(|r| r.population.as_str()).collect();
        names.dedup();
        names
    };
    laminar_record::check_output_dir(&options.out, options.force)?;
    let sim_cfg = file.simulation().clone();
    let built = file.build(sim_cfg.seed, sim_cfg.threads)?;
    let mut sim = built.simulation;
    let populations = sim.populations().to_vec();
    for name in &readout_populations {
        let recorded = populations.iter().zip(&built.record_spikes).any(|(p, &r)| p.name == *name && r);
        if !recorded {
            return Err(Error::File {
                path: circuit_path.clone(),
                message: format!("[recording] spikes must include the readout population `{name}`"),
            });
        }
    }
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
        model_path: circuit_path.display().to_string(),
        model_text: full_text.clone(),
        seed: sim_cfg.seed,
        resolution_ms: sim_cfg.resolution_ms,
        duration_ms: sim_cfg.duration_ms,
        threads: sim_cfg.threads,
        overrides: overrides.clone(),
        placements: Vec::new(),
    };
    laminar_record::prepare_output_dir(&options.out, options.force)?;
    std::fs::write(options.out.join("circuit.toml"), &full_text)
        .map_err(|source| Error::Read { path: options.out.join("circuit.toml"), source })?;
    let mut recorder = Recorder::create(&options.out, &info, &populations, &built.record_spikes, &reports, &weights)?;
    let until = sim.resolution().exact_steps(sim_cfg.duration_ms)?;
    let run_error = sim.run(until, &mut recorder, stop).err();
    let stopped = run_error
        .as_ref()
        .map(|e| format!("error: {e}"))
        .or_else(|| (sim.now() < until).then(|| "interrupted".to_string()));
    let closed = recorder.finish(sim.resolution().ms(sim.now()), stopped.clone())?;
    if let Some(e) = run_error {
        return Err(e.into());
    }
    if let Some(reason) = closed.stopped_early {
        return Err(Error::Invalid(format!(
            "the run stopped early ({reason}) at {} ms; the recording in {} is valid up to then, attention.h5 was not written",
            closed.simulated_ms,
            options.out.display()
        )));
    }

    let counts = count_readout(&options.out.join("spikes.h5"), &prepared, circuit.count_kind())?;
    let wall_s = started.elapsed().as_secs_f64();
    Ok(analyse(&circuit, inputs, prepared, counts, options, wall_s, closed.simulated_ms))
}

/// Counts every readout row in every read window from the recording.
pub fn count_readout(spikes_h5: &Path, prepared: &Prepared, kind: CountKind) -> Result<Matrix, Error> {
    let recorded = laminar_record::read_spikes(spikes_h5)?;
    let windows = &prepared.timing.read_windows_ms;
    let mut counts = Matrix::zeros(windows.len(), prepared.n_columns);
    for row in &prepared.readout {
        let Some(pop) = recorded.iter().find(|p| p.name == row.population) else { continue };
        let mut per_node: Vec<Vec<f64>> = vec![Vec::new(); row.node_count];
        for (&node, &t) in pop.node_ids.iter().zip(&pop.timestamps) {
            let node = node as usize;
            if (row.node_first..row.node_first + row.node_count).contains(&node) {
                per_node[node - row.node_first].push(t);
            }
        }
        for times in &mut per_node {
            times.sort_by(f64::total_cmp);
            let events = countable_times(times, kind);
            for (q, &(start, stop)) in windows.iter().enumerate() {
                if row.query < 0 || row.query == q as i64 {
                    let c = counts.get(q, row.column) + count_in(&events, start, stop) as f64;
                    counts.set(q, row.column, c);
                }
            }
        }
    }
    Ok(counts)
}

/// Decoding, references and metrics of a finished run.
fn analyse(
    circuit: &Circuit,
    inputs: Inputs,
    prepared: Prepared,
    counts: Matrix,
    options: &AttentionOptions,
    wall_s: f64,
    simulated_ms: f64,
) -> AttentionRun {
    let (fit, y_hat, implied, y_hat_heads) = if let Circuit::Multihead(_) = circuit {
        let decoded = crate::multihead::decode(&prepared, &counts, inputs.dim_out(), inputs.dim_v());
        let nan = Matrix::from_fn(inputs.n_queries(), inputs.n_tokens(), |_, _| f64::NAN);
        (decoded.fit, decoded.y_hat, nan, decoded.y_hat_heads)
    } else {
        let decoded = decode(circuit.decoder(), &prepared, &counts, inputs.n_tokens(), options.probe_weights);
        (decoded.fit, decoded.y_hat, decoded.implied, Vec::new())
    };
    let head_references: Vec<Matrix> = if y_hat_heads.is_empty() {
        Vec::new()
    } else {
        inputs.heads.iter().map(|h| crate::reference::linear_unnormalized_weights(&h.q, &h.k).matmul(&h.v)).collect()
    };
    let head_metrics = y_hat_heads.iter().zip(&head_references).map(|(y, r)| output_metrics(y, r)).collect();

    let references = References::compute(&inputs.heads, inputs.beta, &prepared.feature_map, inputs.w_o.as_ref());
    let (beta_eff, _) = if y_hat.data().iter().all(|x| x.is_finite()) {
        fit_beta_eff(&y_hat, &inputs.heads, inputs.w_o.as_ref())
    } else {
        // Nothing decoded (`spike_share`): the temperature whose softmax weights the implied
        // weights follow best.
        fit_beta_eff_weights(&implied, &inputs.heads[0])
    };
    let softmax_beta_eff = softmax_output(&inputs.heads, beta_eff, inputs.w_o.as_ref());
    let metrics = vec![
        ("softmax", output_metrics(&y_hat, &references.softmax)),
        ("kernel", output_metrics(&y_hat, &references.kernel)),
        ("linear_unnormalized", output_metrics(&y_hat, &references.linear_unnormalized)),
        ("uniform", output_metrics(&y_hat, &references.uniform)),
        ("softmax_beta_eff", output_metrics(&y_hat, &softmax_beta_eff)),
    ];
    let weight_metrics = if implied.data().iter().all(|x| x.is_finite()) {
        vec![
            ("softmax", weight_metrics(&implied, &references.softmax_weights[0])),
            ("kernel", weight_metrics(&implied, &references.kernel_weights[0])),
            (
                "softmax_beta_eff",
                weight_metrics(&implied, &softmax_weights(&inputs.heads[0].q, &inputs.heads[0].k, beta_eff)),
            ),
        ]
    } else {
        Vec::new()
    };
    AttentionRun {
        circuit: circuit.name(),
        inputs,
        prepared,
        counts,
        fit,
        y_hat,
        references,
        beta_eff,
        softmax_beta_eff,
        metrics,
        implied_weights: vec![implied],
        weight_metrics,
        y_hat_heads,
        head_references,
        head_metrics,
        primary: circuit.primary(),
        decoder: circuit.decoder(),
        wall_s,
        simulated_ms,
        seed: options.seed,
        threads: options.threads,
        baseline: options.baseline,
    }
}
