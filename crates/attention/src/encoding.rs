//! Feature maps: how queries and keys become firing rates.
//!
//! - **`prf_exp`**, positive random features (Choromanski et al. 2021, as in Kozachkov et al.
//!   2023): for m random directions ω_j ~ N(0, I_d) drawn from the run's seed,
//!   ```text
//!   φ_j(x) = min(exp(ω_j·x̃ − |x̃|²/2) / c, 1),     x̃ = √β·x
//!   ```
//!   Unclipped, E_ω[exp(ω·x̃ − |x̃|²/2)·exp(ω·ỹ − |ỹ|²/2)] = exp(β x·y), so φ(q)·φ(k) approaches the
//!   softmax kernel as m grows. Presented as rates `rate_max_hz·φ_j`, a feature must stay ≤ 1:
//!   c is the `clip_quantile` quantile of the unclipped features over inputs drawn uniformly
//!   from [−1, 1]^d (the input domain, not the run's inputs), so inputs rarely clip; the
//!   fraction that did is reported (`clip_fraction`). The references use φ as presented (clipped).
//! - **`relu_onoff`**: ϕ(x) = [relu(x), relu(−x)] (2d features): signed quantities as ON/OFF
//!   channel pairs.
//!
//! Reference: Choromanski K et al. (2021) Rethinking attention with Performers. ICLR.
//! Kozachkov L, Kastanenka KV, Krotov D (2023) PNAS 120:e2219150120.

use laminar_engine::rng::stream_for;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};

use crate::matrix::Matrix;

/// Inputs drawn from the input domain to set c.
const CALIBRATION_SAMPLES: usize = 4000;

/// A feature map as presented to the circuit.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureMap {
    PrfExp(RandomFeatures),
    ReluOnOff,
}

impl FeatureMap {
    /// The name written to `/encoding` (`feature_map`).
    pub fn name(&self) -> &'static str {
        match self {
            FeatureMap::PrfExp(_) => "prf_exp",
            FeatureMap::ReluOnOff => "relu_onoff",
        }
    }

    /// The features of every row of `x` ([rows, d] → [rows, m]).
    pub fn apply(&self, x: &Matrix) -> Matrix {
        match self {
            FeatureMap::PrfExp(f) => f.apply(x),
            FeatureMap::ReluOnOff => relu_onoff(x),
        }
    }
}

/// [relu(x), relu(−x)] per row.
pub fn relu_onoff(x: &Matrix) -> Matrix {
    let d = x.cols();
    Matrix::from_fn(x.rows(), 2 * d, |r, c| if c < d { x.get(r, c).max(0.0) } else { (-x.get(r, c - d)).max(0.0) })
}

/// Positive random features: the directions, the scale c and β.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomFeatures {
    /// [m, d]
    pub omega: Matrix,
    pub c: f64,
    pub beta: f64,
}

impl RandomFeatures {
    /// m directions for inputs of dimension d from `seed`, with c at `clip_quantile` (in (0, 1]).
    pub fn draw(m: usize, d: usize, beta: f64, clip_quantile: f64, seed: u64) -> Self {
        let mut rng = stream_for(seed, "attention:omega", 0);
        let omega = Matrix::from_fn(m, d, |_, _| StandardNormal.sample(&mut rng));
        let mut rng = stream_for(seed, "attention:calibration", 0);
        let samples = Matrix::from_fn(CALIBRATION_SAMPLES, d, |_, _| rng.random_range(-1.0..=1.0));
        let mut features = Self { omega, c: 1.0, beta };
        let mut raw = features.unclipped(&samples).into_data();
        raw.sort_by(f64::total_cmp);
        let index = ((raw.len() - 1) as f64 * clip_quantile.clamp(0.0, 1.0)).round() as usize;
        features.c = raw[index].max(f64::MIN_POSITIVE);
        features
    }

    /// exp(ω_j·x̃ − |x̃|²/2)/c for every row and direction, without the clip.
    fn unclipped(&self, x: &Matrix) -> Matrix {
        let s = self.beta.sqrt();
        let (m, rows) = (self.omega.rows(), x.rows());
        let mut out = Matrix::zeros(rows, m);
        for r in 0..rows {
            let xr: Vec<f64> = x.row(r).iter().map(|v| v * s).collect();
            let half_norm = 0.5 * xr.iter().map(|v| v * v).sum::<f64>();
            for j in 0..m {
                let proj = crate::matrix::dot(self.omega.row(j), &xr);
                out.set(r, j, (proj - half_norm).exp() / self.c);
            }
        }
        out
    }

    /// φ(x) as presented: clipped at 1.
    pub fn apply(&self, x: &Matrix) -> Matrix {
        let f = self.unclipped(x);
        Matrix::from_fn(f.rows(), f.cols(), |r, c| f.get(r, c).min(1.0))
    }

    /// The fraction of the entries of `φ(x)` for all `inputs` that were clipped.
    pub fn clip_fraction(&self, inputs: &[&Matrix]) -> f64 {
        let (mut clipped, mut total) = (0usize, 0usize);
        for x in inputs {
            let f = self.unclipped(x);
            clipped += f.data().iter().filter(|&&v| v > 1.0).count();
            total += f.data().len();
        }
        if total == 0 { 0.0 } else { clipped as f64 / total as f64 }
    }
}
