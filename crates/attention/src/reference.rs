//! The rate-based attention a circuit is compared with, computed from the inputs alone.
//!
//! Per head h (queries q [n_q, d], keys k [n, d], values v [n, d_v]):
//! - `softmax`: W = softmax_rows(β q kᵀ), y = W v (a transformer's attention);
//! - `kernel`: K = φ(q) φ(k)ᵀ with the circuit's feature map φ (`prf_exp` or `relu_onoff`),
//!   W = K / Σ_t K (per query), y = W v — kernelised attention, what a circuit with that
//!   feature map and an exact normaliser computes;
//! - `linear_unnormalized`: K = ϕ(q) ϕ(k)ᵀ with ϕ = relu_onoff, y = K v;
//! - `uniform`: y = mean_t v_t for every query;
//! - `softmax_beta_eff`: softmax with the circuit's fitted temperature (see [`fit_beta_eff`]).
//!
//! With several heads, the per-head outputs are concatenated ([n_q, H·d_v]) and `W_O`
//! [d_out, H·d_v] is applied: y = concat_h(y_h) W_Oᵀ.

use crate::encoding::{FeatureMap, relu_onoff};
use crate::matrix::Matrix;
use crate::metrics::r_c;

/// One head's inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub q: Matrix,
    pub k: Matrix,
    pub v: Matrix,
}

/// softmax(β q kᵀ) per row, computed stably.
pub fn softmax_weights(q: &Matrix, k: &Matrix, beta: f64) -> Matrix {
    let logits = q.matmul_t(k);
    let mut w = Matrix::from_fn(logits.rows(), logits.cols(), |r, c| beta * logits.get(r, c));
    for r in 0..w.rows() {
        let row = w.row_mut(r);
        let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for x in row.iter_mut() {
            *x = (*x - max).exp();
            sum += *x;
        }
        row.iter_mut().for_each(|x| *x /= sum);
    }
    w
}

/// Kernel attention weights K / Σ_t K with K = φ(q) φ(k)ᵀ.
pub fn kernel_weights(q: &Matrix, k: &Matrix, map: &FeatureMap) -> Matrix {
    map.apply(q).matmul_t(&map.apply(k)).normalize_rows()
}

/// Unnormalised linear attention's K = ϕ(q) ϕ(k)ᵀ (relu_onoff features).
pub fn linear_unnormalized_weights(q: &Matrix, k: &Matrix) -> Matrix {
    relu_onoff(q).matmul_t(&relu_onoff(k))
}

/// The mean of v for every query.
pub fn uniform_output(n_queries: usize, v: &Matrix) -> Matrix {
    let n = v.rows().max(1) as f64;
    let mean: Vec<f64> = (0..v.cols()).map(|c| (0..v.rows()).map(|r| v.get(r, c)).sum::<f64>() / n).collect();
    Matrix::from_fn(n_queries, v.cols(), |_, c| mean[c])
}

/// Concatenates per-head outputs and applies W_O (when given).
pub fn combine_heads(per_head: &[Matrix], w_o: Option<&Matrix>) -> Matrix {
    let parts: Vec<&Matrix> = per_head.iter().collect();
    let y = Matrix::hstack(&parts);
    match w_o {
        Some(w) => y.matmul_t(w),
        None => y,
    }
}

/// Every reference output ([n_q, d_out]) and the per-head weights of `softmax` and `kernel`.
#[derive(Debug, Clone, PartialEq)]
pub struct References {
    pub softmax: Matrix,
    pub kernel: Matrix,
    pub linear_unnormalized: Matrix,
    pub uniform: Matrix,
    /// Per head, [n_q, n].
    pub softmax_weights: Vec<Matrix>,
    pub kernel_weights: Vec<Matrix>,
}

impl References {
    pub fn compute(heads: &[Head], beta: f64, map: &FeatureMap, w_o: Option<&Matrix>) -> Self {
        let softmax_weights: Vec<Matrix> = heads.iter().map(|h| softmax_weights(&h.q, &h.k, beta)).collect();
        let kernel_weights: Vec<Matrix> = heads.iter().map(|h| kernel_weights(&h.q, &h.k, map)).collect();
        let apply = |weights: &[Matrix]| -> Matrix {
            let ys: Vec<Matrix> = weights.iter().zip(heads).map(|(w, h)| w.matmul(&h.v)).collect();
            combine_heads(&ys, w_o)
        };
        let linear: Vec<Matrix> = heads.iter().map(|h| linear_unnormalized_weights(&h.q, &h.k)).collect();
        let uniform: Vec<Matrix> = heads.iter().map(|h| uniform_output(h.q.rows(), &h.v)).collect();
        Self {
            softmax: apply(&softmax_weights),
            kernel: apply(&kernel_weights),
            linear_unnormalized: apply(&linear),
            uniform: combine_heads(&uniform, w_o),
            softmax_weights,
            kernel_weights,
        }
    }
}

/// The softmax output at temperature β (all heads, W_O applied).
pub fn softmax_output(heads: &[Head], beta: f64, w_o: Option<&Matrix>) -> Matrix {
    let ys: Vec<Matrix> = heads.iter().map(|h| softmax_weights(&h.q, &h.k, beta).matmul(&h.v)).collect();
    combine_heads(&ys, w_o)
}

/// The search range of β_eff: below 0.25 the weights are near uniform (linear attention).
pub const BETA_EFF_RANGE: (f64, f64) = (0.25, 8.0);

/// The circuit's intrinsic temperature: the β in [`BETA_EFF_RANGE`] whose softmax output has
/// the largest r_c with `y`. A grid of 64 log-spaced points, then a golden-section search
/// between the best point's neighbours. Returns (β_eff, r_c at β_eff).
pub fn fit_beta_eff(y: &Matrix, heads: &[Head], w_o: Option<&Matrix>) -> (f64, f64) {
    golden_search(|b| r_c(y, &softmax_output(heads, b, w_o)))
}

/// The β in [`BETA_EFF_RANGE`] whose softmax weights the implied weights follow best (Pearson r
/// over every query and token), for circuits that decode weights but no output.
pub fn fit_beta_eff_weights(implied: &Matrix, head: &Head) -> (f64, f64) {
    if !implied.data().iter().all(|x| x.is_finite()) {
        return (f64::NAN, f64::NAN);
    }
    golden_search(|b| {
        crate::stats::pearson_r(implied.data(), softmax_weights(&head.q, &head.k, b).data())
            .unwrap_or(f64::NEG_INFINITY)
    })
}

/// A grid over [`BETA_EFF_RANGE`] (log-spaced), then a golden-section refinement around the best
/// point: (β, score).
fn golden_search(score: impl Fn(f64) -> f64) -> (f64, f64) {
    let (lo, hi) = (BETA_EFF_RANGE.0.ln(), BETA_EFF_RANGE.1.ln());
    let grid: Vec<f64> = (0..64).map(|i| (lo + (hi - lo) * i as f64 / 63.0).exp()).collect();
    let scores: Vec<f64> = grid.iter().map(|&b| score(b)).collect();
    let best = (0..grid.len()).fold(0, |b, i| if scores[i] > scores[b] { i } else { b });
    let (mut a, mut b) = (grid[best.saturating_sub(1)].ln(), grid[(best + 1).min(grid.len() - 1)].ln());
    let phi = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..40 {
        let (c, d) = (b - phi * (b - a), a + phi * (b - a));
        if score(c.exp()) >= score(d.exp()) {
            b = d;
        } else {
            a = c;
        }
    }
    let refined = (0.5 * (a + b)).exp();
    let (r_refined, r_grid) = (score(refined), scores[best]);
    if r_refined >= r_grid { (refined, r_refined) } else { (grid[best], r_grid) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_rows_sum_to_one_and_favour_the_matching_key() {
        let k = Matrix::from_vec(3, 2, vec![1.0, 0.0, 0.0, 1.0, -1.0, 0.0]).unwrap();
        let q = Matrix::from_vec(1, 2, vec![1.0, 0.0]).unwrap();
        let w = softmax_weights(&q, &k, 2.0);
        assert!((w.row(0).iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let e = [2f64.exp(), 1.0, (-2f64).exp()];
        let total: f64 = e.iter().sum();
        for (a, b) in w.row(0).iter().zip(e) {
            assert!((a - b / total).abs() < 1e-12);
        }
    }

    #[test]
    fn beta_eff_recovers_the_temperature_of_a_softmax_output() {
        let k = Matrix::from_fn(6, 3, |r, c| ((r * 7 + c * 3) % 5) as f64 / 2.5 - 1.0);
        let q = Matrix::from_fn(5, 3, |r, c| ((r * 3 + c * 5) % 7) as f64 / 3.5 - 1.0);
        let v = Matrix::from_fn(6, 2, |r, c| ((r + 2 * c) % 4) as f64 / 2.0 - 0.75);
        let heads = [Head { q, k, v }];
        let y = softmax_output(&heads, 2.0, None);
        let (beta, r) = fit_beta_eff(&y, &heads, None);
        assert!((beta / 2.0).ln().abs() < 0.02 && r > 0.9999, "beta_eff {beta}, r_c {r}");
    }
}
