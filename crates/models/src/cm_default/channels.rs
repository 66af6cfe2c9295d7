//! Gate kinetics of the Na and K channels and the receptor conductance constants.
//!
//! The channels are Mainen's Hodgkin–Huxley-style Na and Kv channels (ModelDB 140828, Branco et
//! al. 2010, `na.mod` and `kv.mod`) with rates divided by NEST's temperature factor 3.21; the
//! voltage offsets (35.013, 50.013, 75.013 mV) and the 0/0 limits are NEST's.

/// NEST's temperature factor: time constants are multiplied by 1/3.21.
const Q10_INV: f64 = 1.0 / 3.21;

/// NEST's value for 1/9 (the `na.mod`/`kv.mod` slope factor).
const ONE_NINTH: f64 = 0.111111111111111;

/// Channels with a maximal conductance at or below this are skipped (their gates stay frozen),
/// as in NEST (uS).
pub const CHANNEL_ACTIVE_ABOVE: f64 = 1e-9;

/// Steady state and time constant (ms) of a gate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gate {
    pub inf: f64,
    pub tau: f64,
}

/// `x·k·e^{x/9}/(e^{x/9} − 1)` and `x·l/(e^{x/9} − 1)`, i.e. the rates `k·x/(1 − e^{−x/9})` and
/// `l·x/(e^{x/9} − 1)`, with their limits `9k`, `9l` for |x| ≤ 1e-5.
fn rate_pair(x: f64, k: f64, l: f64) -> (f64, f64) {
    if x.abs() > 1e-5 {
        let e = (ONE_NINTH * x).exp();
        let inv = 1.0 / (e - 1.0);
        (k * x * e * inv, l * x * inv)
    } else {
        (9.0 * k, 9.0 * l)
    }
}

/// Na activation `m`: α = 0.182·x/(1 − e^{−x/9}), β = 0.124·x/(e^{x/9} − 1), x = v + 35.013 mV;
/// m∞ = α/(α+β), τ = q/(α+β).
pub fn na_m(v: f64) -> Gate {
    let (alpha, beta) = rate_pair(v + 35.013, 0.182, 0.124);
    let inv_sum = 1.0 / (alpha + beta);
    Gate { inf: alpha * inv_sum, tau: Q10_INV * inv_sum }
}

/// Na inactivation `h`: α = 0.024·x/(1 − e^{−x/5}) with x = v + 50.013 mV (limit 0.12),
/// β = 0.0091·y/(e^{y/5} − 1) with y = v + 75.013 mV (limit 0.0455); τ = q/(α+β), and
/// h∞ = 1/(1 + e^{(v+65)/6.2}) (not α/(α+β), as in `na.mod`).
pub fn na_h(v: f64) -> Gate {
    let x = v + 50.013;
    let y = v + 75.013;
    let alpha = if x.abs() > 1e-5 { 0.024 * x / (1.0 - (-0.2 * x).exp()) } else { 0.12 };
    let beta = if y.abs() > 1e-9 { -0.0091 * y / (1.0 - (0.2 * y).exp()) } else { 0.0455 };
    Gate { inf: 1.0 / (1.0 + ((v + 65.0) / 6.2).exp()), tau: Q10_INV / (alpha + beta) }
}

/// K activation `n`: α = 0.02·x/(1 − e^{−x/9}), β = 0.002·x/(e^{x/9} − 1), x = v − 25 mV;
/// n∞ = α/(α+β), τ = q/(α+β).
pub fn k_n(v: f64) -> Gate {
    let (alpha, beta) = rate_pair(v - 25.0, 0.02, 0.002);
    let inv_sum = 1.0 / (alpha + beta);
    Gate { inf: alpha * inv_sum, tau: Q10_INV * inv_sum }
}

/// Advances gate `x` by `h` ms towards `gate.inf` with the rates frozen (exponential Euler).
#[inline]
pub fn relax(x: f64, gate: Gate, h: f64) -> f64 {
    let p = (-h / gate.tau).exp();
    x * p + (1.0 - p) * gate.inf
}

/// The factor that makes a double-exponential conductance `e^{−t/τd} − e^{−t/τr}` peak at 1.
pub fn peak_normalisation(tau_r: f64, tau_d: f64) -> f64 {
    let t_peak = (tau_r * tau_d) / (tau_d - tau_r) * (tau_d / tau_r).ln();
    1.0 / (-(-t_peak / tau_r).exp() + (-t_peak / tau_d).exp())
}

/// The NMDA Mg block σ(v) = 1/(1 + 0.3·e^{−0.1 v}) and its derivative dσ/dv.
#[inline]
pub fn mg_block(v: f64) -> (f64, f64) {
    let e = (-0.1 * v).exp();
    let denom = 1.0 + 0.3 * e;
    (1.0 / denom, 0.03 * e / (denom * denom))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_of_normalised_conductance_is_one() {
        for (r, d) in [(0.2, 3.0), (0.2, 43.0), (1.0, 10.0)] {
            let g = peak_normalisation(r, d);
            let peak = (0..200_000)
                .map(|k| k as f64 * 1e-4)
                .map(|t| g * ((-t / d).exp() - (-t / r).exp()))
                .fold(f64::MIN, f64::max);
            assert!((peak - 1.0).abs() < 1e-6, "peak {peak}");
        }
    }

    #[test]
    fn rate_limits_are_continuous() {
        for gate in [na_m as fn(f64) -> Gate, na_h, k_n] {
            for v0 in [-35.013, -50.013, -75.013, 25.0] {
                let a = gate(v0);
                let b = gate(v0 + 1e-4);
                assert!((a.inf - b.inf).abs() < 1e-3 && (a.tau - b.tau).abs() / a.tau < 1e-3, "{v0}");
            }
        }
    }

    #[test]
    fn mg_block_derivative() {
        for v in [-80.0, -40.0, 0.0, 20.0] {
            let (s1, ds) = mg_block(v);
            let (s2, _) = mg_block(v + 1e-6);
            assert!(((s2 - s1) / 1e-6 - ds).abs() < 1e-6);
        }
    }
}
