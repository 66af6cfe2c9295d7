//! How close a decoded output is to a reference, and implied attention weights to reference
//! weights.
//!
//! - **r_c** (the primary metric): Pearson r over (query, dimension) after centring each output
//!   dimension across queries, `ŷ − mean_q ŷ` against `y − mean_q y`. It keeps the
//!   query-dependent part, which is what attention computes: a constant "uniform attention"
//!   readout scores r_c = 0 however close its values are.
//! - **r_raw**: Pearson r over all entries (inflated by the mean value).
//! - **R²**: `1 − Σ(ŷ − y)² / Σ(y − ȳ)²` with ȳ the mean over all entries.
//! - **rel_err**: `‖ŷ − y‖ / ‖y‖` (Frobenius).
//! - Weights: Pearson r over all entries; **KL** `mean_q Σ_t w log(w / p)` with p the implied
//!   weights floored at 1e-6 and renormalised per query; **top1** the fraction of queries whose
//!   largest implied weight is the reference's largest.

use crate::matrix::Matrix;

/// Pearson r of two equally long samples; 0 when either has no spread (a constant readout
/// carries no query-dependent signal); NaN when either holds a non-finite value (nothing decoded).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    if !a.iter().chain(b).all(|x| x.is_finite()) {
        return f64::NAN; // nothing decoded (a silent circuit, or a readout of weights only)
    }
    crate::stats::pearson_r(a, b).unwrap_or(0.0)
}

/// Each column minus its mean over rows.
pub fn centre_columns(m: &Matrix) -> Matrix {
    let means: Vec<f64> =
        (0..m.cols()).map(|c| (0..m.rows()).map(|r| m.get(r, c)).sum::<f64>() / m.rows().max(1) as f64).collect();
    Matrix::from_fn(m.rows(), m.cols(), |r, c| m.get(r, c) - means[c])
}

/// The metrics of an output against one reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputMetrics {
    pub r_c: f64,
    pub r_raw: f64,
    pub r2: f64,
    pub rel_err: f64,
}

pub fn r_c(y: &Matrix, reference: &Matrix) -> f64 {
    pearson(centre_columns(y).data(), centre_columns(reference).data())
}

pub fn output_metrics(y: &Matrix, reference: &Matrix) -> OutputMetrics {
    assert_eq!(y.shape(), reference.shape(), "output and reference shapes differ");
    let (yd, rd) = (y.data(), reference.data());
    let mean = rd.iter().sum::<f64>() / rd.len().max(1) as f64;
    let sse: f64 = yd.iter().zip(rd).map(|(a, b)| (a - b).powi(2)).sum();
    let sst: f64 = rd.iter().map(|b| (b - mean).powi(2)).sum();
    let norm: f64 = rd.iter().map(|b| b * b).sum::<f64>().sqrt();
    OutputMetrics {
        r_c: r_c(y, reference),
        r_raw: pearson(yd, rd),
        r2: if sst > 0.0 { 1.0 - sse / sst } else { f64::NAN },
        rel_err: if norm > 0.0 { sse.sqrt() / norm } else { f64::NAN },
    }
}

/// The points r_c is computed from, for a scatter plot: per (query, output dimension), the
/// reference and the output, each centred over queries, and the least-squares line of the
/// output on the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct CentredScatter {
    /// Centred reference values, row-major over (query, dimension).
    pub reference: Vec<f64>,
    /// Centred output values, in the same order.
    pub output: Vec<f64>,
    /// The output dimension of each point.
    pub dimension: Vec<usize>,
    /// output ≈ slope · reference + intercept over the finite points; NaN when fewer than two
    /// or when the reference has no spread.
    pub slope: f64,
    pub intercept: f64,
    /// [`r_c`] of the output against the reference, as the metrics report it.
    pub r_c: f64,
}

/// The centred scatter of `y` against `reference`; `None` when their shapes differ.
pub fn centred_scatter(y: &Matrix, reference: &Matrix) -> Option<CentredScatter> {
    if y.shape() != reference.shape() {
        return None;
    }
    let (x, o) = (centre_columns(reference), centre_columns(y));
    let dimension: Vec<usize> = (0..x.rows()).flat_map(|_| 0..x.cols()).collect();
    let (fx, fy): (Vec<f64>, Vec<f64>) =
        x.data().iter().zip(o.data()).filter(|(a, b)| a.is_finite() && b.is_finite()).map(|(a, b)| (*a, *b)).unzip();
    let spread = fx.first().is_some_and(|&first| fx.iter().any(|&v| v != first));
    let (slope, intercept) =
        if fx.len() >= 2 && spread { crate::stats::linear_fit(&fx, &fy) } else { (f64::NAN, f64::NAN) };
    Some(CentredScatter {
        reference: x.into_data(),
        output: o.into_data(),
        dimension,
        slope,
        intercept,
        r_c: r_c(y, reference),
    })
}

/// The metrics of implied attention weights against reference weights ([queries, tokens]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightMetrics {
    pub r: f64,
    /// r of the query-dependent part: each token's weights centred across queries (as r_c for
    /// outputs; r alone is inflated by a prior over tokens that ignores the query).
    pub r_c: f64,
    pub kl: f64,
    pub top1: f64,
}

pub fn weight_metrics(implied: &Matrix, reference: &Matrix) -> WeightMetrics {
    assert_eq!(implied.shape(), reference.shape(), "weight shapes differ");
    let (mut kl, mut top1) = (0.0, 0.0);
    for q in 0..reference.rows() {
        let p: Vec<f64> = implied.row(q).iter().map(|&x| x.max(1e-6)).collect();
        let total: f64 = p.iter().sum();
        for (&w, &pi) in reference.row(q).iter().zip(&p) {
            if w > 0.0 {
                kl += w * (w.max(1e-12) / (pi / total)).ln();
            }
        }
        if argmax(implied.row(q)) == argmax(reference.row(q)) {
            top1 += 1.0;
        }
    }
    let nq = reference.rows().max(1) as f64;
    WeightMetrics {
        r: pearson(implied.data(), reference.data()),
        r_c: r_c(implied, reference),
        kl: kl / nq,
        top1: top1 / nq,
    }
}

fn argmax(x: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_readout_has_no_centred_correlation() {
        let reference = Matrix::from_fn(4, 2, |r, c| (r * 2 + c) as f64 * 0.1 + 0.5);
        let constant = Matrix::from_fn(4, 2, |_, c| 0.6 + c as f64 * 0.1);
        assert_eq!(r_c(&constant, &reference), 0.0);
        let m = output_metrics(&reference, &reference);
        assert!((m.r_c - 1.0).abs() < 1e-12 && (m.r_raw - 1.0).abs() < 1e-12 && m.r2 == 1.0 && m.rel_err == 0.0);
    }

    #[test]
    fn the_scatter_is_centred_and_fitted() {
        let reference = Matrix::from_fn(4, 2, |r, c| (r * r + c) as f64);
        let y = Matrix::from_fn(4, 2, |r, c| 2.0 * reference.get(r, c) + 5.0);
        let s = centred_scatter(&y, &reference).unwrap();
        assert_eq!(s.dimension, [0, 1, 0, 1, 0, 1, 0, 1]);
        assert!(s.reference.iter().step_by(2).sum::<f64>().abs() < 1e-12);
        assert!((s.slope - 2.0).abs() < 1e-12 && s.intercept.abs() < 1e-12 && (s.r_c - 1.0).abs() < 1e-12);
        let flat = centred_scatter(&y, &Matrix::zeros(4, 2)).unwrap();
        assert!(flat.slope.is_nan());
        assert!(centred_scatter(&y, &Matrix::zeros(4, 3)).is_none());
    }

    #[test]
    fn weight_metrics_of_identical_weights() {
        let w = Matrix::from_vec(2, 3, vec![0.7, 0.2, 0.1, 0.1, 0.1, 0.8]).unwrap();
        let m = weight_metrics(&w, &w);
        assert!((m.r - 1.0).abs() < 1e-12 && m.kl.abs() < 1e-12 && m.top1 == 1.0);
    }
}
