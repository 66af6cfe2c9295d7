//! Fit and statistics helpers shared by the experiments: means and spreads, sums of squares and
//! R², Pearson's r, and least-squares fits of a line and of a scale.
//!
//! Conventions: R² = 1 − SS_res/SS_tot with SS_tot taken around the mean of the *measured*
//! values; the standard deviation is the population one (divided by n). A measured set with no
//! spread (SS_tot = 0) has nothing to explain, so its R² is `None`; so is Pearson's r of a set
//! without spread.

/// The arithmetic mean, Σx/n (NaN for an empty slice).
pub fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// The population variance, Σ(x − x̄)²/n.
pub fn variance(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len() as f64
}

/// The population standard deviation, √(Σ(x − x̄)²/n).
pub fn std_dev(x: &[f64]) -> f64 {
    variance(x).sqrt()
}

/// (SS_res, SS_tot) of `predicted` against `measured`: Σ(y − ŷ)² and Σ(y − ȳ)².
pub fn sums_of_squares(measured: &[f64], predicted: &[f64]) -> (f64, f64) {
    let mean = mean(measured);
    let ss_tot: f64 = measured.iter().map(|y| (y - mean).powi(2)).sum();
    let ss_res: f64 = measured.iter().zip(predicted).map(|(y, p)| (y - p).powi(2)).sum();
    (ss_res, ss_tot)
}

/// R² = 1 − SS_res/SS_tot of `predicted` against `measured`; `None` when `measured` is flat
/// (nothing to explain).
pub fn r_squared(measured: &[f64], predicted: &[f64]) -> Option<f64> {
    let (ss_res, ss_tot) = sums_of_squares(measured, predicted);
    (ss_tot > 0.0).then(|| 1.0 - ss_res / ss_tot)
}

/// Pearson's correlation coefficient of `x` and `y` (paired, equal length); `None` when either
/// has no spread.
pub fn pearson_r(x: &[f64], y: &[f64]) -> Option<f64> {
    let (mx, my) = (mean(x), mean(y));
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Least-squares (a, b) of y ≈ a·x + b.
pub fn linear_fit(x: &[f64], y: &[f64]) -> (f64, f64) {
    let (mx, my) = (mean(x), mean(y));
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let a = sxy / sxx;
    (a, my - a * mx)
}

/// Least-squares c of y ≈ c·x (through the origin).
pub fn scale_fit(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>() / x.iter().map(|a| a * a).sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_and_spreads() {
        let x = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(&x), 5.0);
        assert_eq!(variance(&x), 4.0);
        assert_eq!(std_dev(&x), 2.0);
    }

    #[test]
    fn r_squared_of_perfect_and_flat_predictions() {
        let y = [1.0, 2.0, 4.0];
        assert_eq!(r_squared(&y, &y), Some(1.0));
        // Predicting the mean explains nothing.
        assert_eq!(r_squared(&y, &[7.0 / 3.0; 3]), Some(0.0));
        assert_eq!(r_squared(&[3.0; 3], &y), None);
        assert_eq!(sums_of_squares(&y, &[1.0, 2.0, 5.0]).0, 1.0);
    }

    #[test]
    fn pearson_r_of_lines_and_flat_sets() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let up: Vec<f64> = x.iter().map(|v| 3.0 * v + 1.0).collect();
        let down: Vec<f64> = x.iter().map(|v| -0.5 * v).collect();
        assert!((pearson_r(&x, &up).unwrap() - 1.0).abs() < 1e-15);
        assert!((pearson_r(&x, &down).unwrap() + 1.0).abs() < 1e-15);
        assert_eq!(pearson_r(&x, &[2.0; 4]), None);
        assert!(pearson_r(&x, &[1.0, -1.0, -1.0, 1.0]).unwrap().abs() < 1e-15);
    }

    #[test]
    fn fits_recover_lines_and_scales() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let y: Vec<f64> = x.iter().map(|v| 2.0 * v - 1.0).collect();
        let (a, b) = linear_fit(&x, &y);
        assert!((a - 2.0).abs() < 1e-12 && (b + 1.0).abs() < 1e-12);
        let z: Vec<f64> = x.iter().map(|v| 0.25 * v).collect();
        assert!((scale_fit(&x, &z) - 0.25).abs() < 1e-15);
    }
}
