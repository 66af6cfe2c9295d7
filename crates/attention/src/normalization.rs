//! `laminar normalization`: the measured criterion of `astro_normalized_synapse` (divisive
//! normalisation by an astrocyte domain, hypothesis 3 of the design: the astrocyte supplies the
//! softmax denominator).
//!
//! # The experiment
//! `vectors` independent circuits are simulated side by side in one network. Circuit v has
//! `inputs` = K parrot neurons, each driven by its own Poisson generator at rate r_vj, projecting
//! through `astro_normalized_synapse`s of weight w_vj onto one target neuron v, whose synapses form
//! one astrocyte domain (see `laminar_models::glia_synapses`). The target is an `iaf_psc_exp` whose
//! threshold is out of reach (it never fires); its excitatory synaptic current I_syn_ex is sampled
//! every millisecond and averaged after a warm-up of 5·τ_astro (A starts at 0 and relaxes with
//! τ_astro). That mean current is the measured *drive* of the target.
//!
//! Rate vectors: r_vj = s_v·u_vj·r_max with s_v ~ U(0.1, 1) (an overall intensity per vector) and
//! u_vj ~ U(0, 1), r_max = 100 Hz; weights w_vj ~ U(100, 500) pA; both from the seed's streams.
//! The process weights are constant (g = 1), ε = 50 and τ_astro = 500 ms, so the denominator
//! ε + τ_astro Σ g r runs from ε-dominated (quiet vectors) to activity-dominated (loud ones).
//!
//! # The predictions
//! With every spike adding w/(ε + A) to I_syn_ex (time constant τ_syn) and ⟨A⟩ = τ_astro Σ_j g r_j,
//! the mean current is predicted without any free parameter:
//! ```text
//! I_pred = τ_syn · Σ_j w_j r_j / (ε + τ_astro Σ_j g r_j)        (r in 1/ms)
//! ```
//! i.e. drive = c·Σ w r / (ε' + Σ g r) with the derived c = τ_syn/τ_astro and ε' = ε/τ_astro (in
//! Hz when r is). The report gives R² of this derived prediction, R² of the same form with c and ε'
//! fitted by least squares, and, for contrast, R² of the best *unnormalised* prediction
//! a·Σ w r + b (least squares with intercept). The rates are the generators' nominal rates, not
//! the counted spikes. R² = 1 − Σ(measured − predicted)² / Σ(measured − mean)².

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use laminar_engine::rng::stream_for;
use laminar_engine::{
    DeviceEntry, Dist, ExplicitEdge, NetworkBuilder, Observer, Projection, RecordingSpec, Resolution, Rule,
    SpikeRecord, Step, SynapseModel,
};
use laminar_models::registry;
use serde_json::{Map, Value, json};

use crate::{Error, Result, stats};

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub seed: u64,
    /// Number of random rate vectors (circuits).
    pub vectors: usize,
    /// Inputs per circuit (K).
    pub inputs: usize,
    /// Measurement time after the warm-up (ms).
    pub measure_ms: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self { seed: 1, vectors: 50, inputs: 10, measure_ms: 10_000.0 }
    }
}

/// The synapse and target parameters of the experiment.
pub const TAU_ASTRO_MS: f64 = 500.0;
pub const EPSILON: f64 = 50.0;
pub const G: f64 = 1.0;
pub const TAU_SYN_MS: f64 = 5.0;
pub const R_MAX_HZ: f64 = 100.0;
pub const W_RANGE_PA: (f64, f64) = (100.0, 500.0);
const H_MS: f64 = 0.1;
const SAMPLE_STEPS: Step = 10;
const DELAY_MS: f64 = 1.0;

/// One rate vector and what its target received.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorResult {
    pub rates_hz: Vec<f64>,
    pub weights_pa: Vec<f64>,
    /// Σ r (Hz).
    pub sum_r_hz: f64,
    /// Σ w r (pA·Hz).
    pub sum_wr: f64,
    /// The derived prediction of the mean I_syn_ex (pA).
    pub predicted_pa: f64,
    /// The measured mean I_syn_ex (pA).
    pub measured_pa: f64,
}

/// The outcome: per-vector rows and the goodness of the predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub options: Options,
    pub rows: Vec<VectorResult>,
    /// R² of the parameter-free prediction.
    pub r2_derived: f64,
    /// c and ε' (Hz) of the derived prediction, and of the least-squares fit, with its R².
    pub derived_c: f64,
    pub derived_epsilon_hz: f64,
    pub fit_c: f64,
    pub fit_epsilon_hz: f64,
    pub r2_fitted: f64,
    /// The best unnormalised prediction a·Σ w r + b and its R².
    pub unnormalized_a: f64,
    pub unnormalized_b: f64,
    pub r2_unnormalized: f64,
    pub input_spikes: u64,
    pub wall: Duration,
}

/// The warm-up before the measurement (ms): 5·τ_astro.
pub fn warmup_ms() -> f64 {
    5.0 * TAU_ASTRO_MS
}

fn params(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Sums each recorded node's samples from `from_step` on.
struct MeanCurrent {
    from_step: Step,
    sums: Vec<f64>,
    samples: u64,
}

impl Observer for MeanCurrent {
    fn spikes(&mut self, _: &[SpikeRecord]) -> Result<(), String> {
        Ok(())
    }

    fn frame(&mut self, _: usize, step: Step, values: &[f64]) -> Result<(), String> {
        if step >= self.from_step {
            for (s, v) in self.sums.iter_mut().zip(values) {
                *s += v;
            }
            self.samples += 1;
        }
        Ok(())
    }
}

/// Least-squares (c, ε) of y ≈ c·n/(ε + d): c in closed form for each ε, ε by golden-section
/// search on log ε over [1e-3, 1e6].
fn normalized_fit(num: &[f64], den: &[f64], y: &[f64]) -> (f64, f64) {
    let residual = |log_eps: f64| {
        let x: Vec<f64> = num.iter().zip(den).map(|(n, d)| n / (log_eps.exp() + d)).collect();
        let c = stats::scale_fit(&x, y);
        (x.iter().zip(y).map(|(a, b)| (c * a - b).powi(2)).sum::<f64>(), c)
    };
    let (mut lo, mut hi) = (1e-3f64.ln(), 1e6f64.ln());
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..200 {
        let (a, b) = (hi - phi * (hi - lo), lo + phi * (hi - lo));
        if residual(a).0 < residual(b).0 {
            hi = b;
        } else {
            lo = a;
        }
    }
    let log_eps = (lo + hi) / 2.0;
    (residual(log_eps).1, log_eps.exp())
}

/// Runs the experiment.
pub fn run(options: &Options) -> Result<Report> {
    let (nv, k) = (options.vectors, options.inputs);
    if nv < 3 || k == 0 {
        return Err(Error::Invalid(format!("need at least 3 vectors and 1 input (got {nv} vectors, {k} inputs)")));
    }
    if !(options.measure_ms.is_finite() && options.measure_ms > 0.0) {
        return Err(Error::Invalid(format!("measurement time must be > 0 ms (got {})", options.measure_ms)));
    }
    let t0 = Instant::now();
    let mut rates = Vec::with_capacity(nv);
    let mut weights = Vec::with_capacity(nv);
    for v in 0..nv as u64 {
        let mut rng = stream_for(options.seed, "normalization:rates", v);
        let s = Dist::Uniform { low: 0.1, high: 1.0 }.draw_weight(&mut rng);
        let rate = Dist::Uniform { low: 0.0, high: s * R_MAX_HZ };
        rates.push((0..k).map(|_| rate.draw_weight(&mut rng)).collect::<Vec<f64>>());
        let mut rng = stream_for(options.seed, "normalization:weights", v);
        let weight = Dist::Uniform { low: W_RANGE_PA.0, high: W_RANGE_PA.1 };
        weights.push((0..k).map(|_| weight.draw_weight(&mut rng)).collect::<Vec<f64>>());
    }

    let mut b = NetworkBuilder::new(Resolution::new(H_MS)?, options.seed);
    let parrot = registry::population_factory("parrot_neuron", &Map::new(), nv * k).map_err(Error::Model)?;
    let inputs = b.add_population("inputs", nv * k, parrot);
    let target_params = params(json!({ "tau_syn_ex": TAU_SYN_MS, "V_th": 1.0e9 }));
    let target_factory = registry::population_factory("iaf_psc_exp", &target_params, nv).map_err(Error::Model)?;
    let i_syn = target_factory
        .info()
        .recordables
        .iter()
        .position(|r| r.name == "I_syn_ex")
        .ok_or_else(|| Error::Model("iaf_psc_exp records no I_syn_ex".into()))?;
    let targets = b.add_population("targets", nv, target_factory);
    let synapse = registry::synapse_factory(
        "astro_normalized_synapse",
        &params(json!({ "tau_astro": TAU_ASTRO_MS, "epsilon": EPSILON, "g": G })),
    )
    .map_err(Error::Model)?
    .ok_or_else(|| Error::Model("astro_normalized_synapse has no factory".into()))?;
    let mut edges = Vec::with_capacity(nv * k);
    for v in 0..nv {
        for j in 0..k {
            let source = (v * k + j) as u64;
            edges.push(ExplicitEdge { source, target: v as u64, weight: weights[v][j], delay_ms: DELAY_MS });
            let poisson = registry::stimulus_factory("poisson_generator", &params(json!({ "rate": rates[v][j] })))
                .map_err(Error::Model)?;
            b.add_device(DeviceEntry {
                name: format!("input{source}"),
                factory: poisson,
                population: inputs,
                targets: vec![source],
                weight: 1.0,
                delay_ms: H_MS,
                receptor: None,
            });
        }
    }
    let mut projection = Projection::new(
        "inputs->targets",
        inputs,
        targets,
        Rule::Explicit(edges),
        Dist::Constant(0.0),
        Dist::Constant(DELAY_MS),
    );
    projection.synapse = Some(SynapseModel(Arc::clone(&synapse)));
    b.add_projection(projection);
    b.add_recording(RecordingSpec {
        population: targets,
        variable: i_syn,
        nodes: (0..nv as u64).collect(),
        interval: SAMPLE_STEPS,
    });

    let mut sim = b.build(1)?;
    let warmup = sim.resolution().exact_steps(warmup_ms())?;
    let total = warmup + sim.resolution().exact_steps(options.measure_ms)?;
    let mut mean = MeanCurrent { from_step: warmup, sums: vec![0.0; nv], samples: 0 };
    sim.run(total, &mut mean, &AtomicBool::new(false))?;
    if mean.samples == 0 {
        return Err(Error::Measurement("no samples recorded".into()));
    }
    let input_spikes = sim.spike_counts()[inputs];

    let rows: Vec<VectorResult> = (0..nv)
        .map(|v| {
            let sum_r_hz: f64 = rates[v].iter().sum();
            let sum_wr: f64 = rates[v].iter().zip(&weights[v]).map(|(r, w)| r * w).sum();
            // Rates in 1/ms for the prediction.
            let predicted_pa = TAU_SYN_MS * (sum_wr / 1000.0) / (EPSILON + TAU_ASTRO_MS * G * sum_r_hz / 1000.0);
            VectorResult {
                rates_hz: rates[v].clone(),
                weights_pa: weights[v].clone(),
                sum_r_hz,
                sum_wr,
                predicted_pa,
                measured_pa: mean.sums[v] / mean.samples as f64,
            }
        })
        .collect();
    let measured: Vec<f64> = rows.iter().map(|r| r.measured_pa).collect();
    let predicted: Vec<f64> = rows.iter().map(|r| r.predicted_pa).collect();
    let sum_wr: Vec<f64> = rows.iter().map(|r| r.sum_wr).collect();
    let sum_gr: Vec<f64> = rows.iter().map(|r| G * r.sum_r_hz).collect();
    let (fit_c, fit_epsilon_hz) = normalized_fit(&sum_wr, &sum_gr, &measured);
    let fitted: Vec<f64> = sum_wr.iter().zip(&sum_gr).map(|(n, d)| fit_c * n / (fit_epsilon_hz + d)).collect();
    let (unnormalized_a, unnormalized_b) = stats::linear_fit(&sum_wr, &measured);
    let linear: Vec<f64> = sum_wr.iter().map(|x| unnormalized_a * x + unnormalized_b).collect();
    // The measured drives always differ between random rate vectors; were they all equal, there
    // would be nothing to explain and no R² (NaN).
    let r_squared = |predicted: &[f64]| stats::r_squared(&measured, predicted).unwrap_or(f64::NAN);
    Ok(Report {
        options: options.clone(),
        r2_derived: r_squared(&predicted),
        derived_c: TAU_SYN_MS / TAU_ASTRO_MS,
        derived_epsilon_hz: 1000.0 * EPSILON / TAU_ASTRO_MS,
        fit_c,
        fit_epsilon_hz,
        r2_fitted: r_squared(&fitted),
        unnormalized_a,
        unnormalized_b,
        r2_unnormalized: r_squared(&linear),
        rows,
        input_spikes,
        wall: t0.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_recover_known_parameters() {
        let num: Vec<f64> = (1..20).map(|i| (i * i) as f64).collect();
        let den: Vec<f64> = (1..20).map(|i| 3.0 * i as f64).collect();
        let y: Vec<f64> = num.iter().zip(&den).map(|(n, d)| 2.5 * n / (7.0 + d)).collect();
        let (c, eps) = normalized_fit(&num, &den, &y);
        assert!((c - 2.5).abs() < 1e-6 && (eps - 7.0).abs() < 1e-5, "c = {c}, eps = {eps}");
        let (a, b) = stats::linear_fit(&den, &num.iter().map(|_| 1.0).collect::<Vec<_>>());
        assert!(a.abs() < 1e-12 && (b - 1.0).abs() < 1e-12);
        assert!((stats::r_squared(&y, &y).unwrap() - 1.0).abs() < 1e-15);
    }
}
