//! From spikes to the decoded output: count windows, bursts, and the anchor decoder.
//!
//! **Counts.** Each readout row (a group of cells of one population) is counted in each query's
//! read window `[start, stop)` ms: spikes (`rate_diff`) or bursts (`burst_ratio`, `burst_diff`).
//! A burst is the `gating` criterion's: spikes are grouped into events, a spike joining the
//! event of the previous spike when their interval is below [`BURST_ISI_MS`]; an event of ≥ 2
//! spikes is a burst, counted in the window that holds its second spike.
//!
//! **Anchor decoder.** Signed values travel as ON/OFF pairs, so a channel's raw output is
//! `count(+) − count(−)`. One global gain γ and offset δ per run map raw outputs to values:
//! they are the least-squares fit of `γ·raw + δ` to the anchors' known values (extra value
//! channels held at −1, 0 and +1 for every token) pooled over all queries. Nothing is fitted
//! per query: a per-query rescaling would itself perform the normalisation the circuit is meant
//! to show, and an un-normalised circuit shows as anchors that drift from query to query.

use crate::circuit::{Prepared, RowKind};
use crate::matrix::Matrix;

/// The inter-spike interval below which spikes belong to one event (ms), as in `gating`.
pub const BURST_ISI_MS: f64 = 16.0;

/// What a readout column counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountKind {
    Spikes,
    Bursts,
}

/// The events of one cell's sorted spike times that a window counts: every spike, or the
/// second spike of every burst.
pub fn countable_times(sorted: &[f64], kind: CountKind) -> Vec<f64> {
    match kind {
        CountKind::Spikes => sorted.to_vec(),
        CountKind::Bursts => {
            let mut out = Vec::new();
            for i in 1..sorted.len() {
                let continues = sorted[i] - sorted[i - 1] < BURST_ISI_MS;
                let previous_continued = i >= 2 && sorted[i - 1] - sorted[i - 2] < BURST_ISI_MS;
                if continues && !previous_continued {
                    out.push(sorted[i]);
                }
            }
            out
        }
    }
}

/// How many of `times` (sorted) lie in `[start, stop)`.
pub fn count_in(times: &[f64], start: f64, stop: f64) -> usize {
    times.partition_point(|&t| t < stop) - times.partition_point(|&t| t < start)
}

/// The anchor fit: γ and δ of `value ≈ γ·raw + δ`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnchorFit {
    pub gain: f64,
    pub offset: f64,
}

impl AnchorFit {
    /// Least squares over all (raw, value) pairs; `None` when the raw outputs do not vary (a
    /// silent circuit), in which case nothing can be decoded.
    pub fn fit(pairs: &[(f64, f64)]) -> Option<Self> {
        let (raw, values): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
        let spread = crate::stats::variance(&raw);
        if pairs.len() < 2 || spread.is_nan() || spread <= 0.0 {
            return None;
        }
        let (gain, offset) = crate::stats::linear_fit(&raw, &values);
        Some(Self { gain, offset })
    }

    pub fn apply(&self, raw: &Matrix) -> Matrix {
        Matrix::from_fn(raw.rows(), raw.cols(), |r, c| self.gain * raw.get(r, c) + self.offset)
    }
}

/// The decoder's result: the fit, the decoded output [n_q, d_v] and the implied weights
/// [n_q, n] (NaN where not measured).
#[derive(Debug, Clone)]
pub struct Decoded {
    pub fit: Option<AnchorFit>,
    pub y_hat: Matrix,
    pub implied: Matrix,
}

/// The anchor channels' values, in channel order after the value channels (both circuits).
pub const ANCHOR_VALUES: [f64; 3] = [-1.0, 0.0, 1.0];

/// Decodes a run's counts with the circuit's decoder.
///
/// - `rate_diff`: raw output of channel c = Σ of its rows' `sign·count`; implied weights from
///   the probe channels (when `probe_weights`), through the same gain and offset.
/// - `burst_ratio`: the same signed sum divided, per query, by the total count of every value
///   and anchor row (of every token; a window without any count reads 0 on every channel);
///   implied weight of token t = its rows' share of that total.
/// - `spike_share`: only the implied weights, from spike counts (as `burst_ratio` does from
///   bursts); a circuit without value channels and anchors decodes no output (`y_hat` NaN).
///
/// Then one gain and offset from the anchors, pooled over all queries ([`AnchorFit`]). When the
/// anchors carry nothing (no spread: a silent readout), every output is the anchors' mean, 0.
pub fn decode(decoder: &str, prepared: &Prepared, counts: &Matrix, n_tokens: usize, probe_weights: bool) -> Decoded {
    let n_q = counts.rows();
    let channels = prepared.readout.iter().map(|r| r.channel + 1).max().unwrap_or(0);
    let ratio = decoder == "burst_ratio" || decoder == "spike_share";
    let mut raw = Matrix::zeros(n_q, channels);
    let mut kind_of = vec![RowKind::Value; channels];
    let mut token_of = vec![-1i64; channels];
    let mut total = vec![0.0; n_q];
    let mut per_token = Matrix::zeros(n_q, n_tokens);
    for row in &prepared.readout {
        kind_of[row.channel] = row.kind;
        token_of[row.channel] = row.token;
        for q in 0..n_q {
            let c = counts.get(q, row.column);
            raw.set(q, row.channel, raw.get(q, row.channel) + f64::from(row.sign) * c);
            if ratio && row.kind != RowKind::Probe {
                total[q] += c;
                if let Ok(t) = usize::try_from(row.token) {
                    per_token.set(q, t, per_token.get(q, t) + c);
                }
            }
        }
    }
    if ratio {
        // A window without a single count carries no evidence: every channel reads 0 there.
        raw = Matrix::from_fn(n_q, channels, |q, c| if total[q] > 0.0 { raw.get(q, c) / total[q] } else { 0.0 });
    }
    let anchors: Vec<usize> = (0..channels).filter(|&c| kind_of[c] == RowKind::Anchor).collect();
    let pairs: Vec<(f64, f64)> = (0..n_q)
        .flat_map(|q| anchors.iter().enumerate().map(move |(i, &c)| (q, i, c)))
        .map(|(q, i, c)| (raw.get(q, c), ANCHOR_VALUES[i]))
        .filter(|(x, _)| x.is_finite())
        .collect();
    // `spike_share` reads weights only: without anchors nothing is decoded.
    let fit = if anchors.is_empty() { None } else { AnchorFit::fit(&pairs) };
    let decode = |x: f64| fit.map_or(f64::NAN, |f| f.gain * x + f.offset);
    let values: Vec<usize> = (0..channels).filter(|&c| kind_of[c] == RowKind::Value).collect();
    let y_hat = if fit.is_none() && !anchors.is_empty() {
        // The anchors carry nothing (a silent readout, e.g. a control without bursts): the
        // decoder knows no more than the anchors' mean, and says so for every query (r_c 0).
        let mean = ANCHOR_VALUES.iter().sum::<f64>() / ANCHOR_VALUES.len() as f64;
        Matrix::from_fn(n_q, values.len(), |_, _| mean)
    } else {
        Matrix::from_fn(n_q, values.len(), |q, i| decode(raw.get(q, values[i])))
    };
    let probes: Vec<usize> = (0..channels).filter(|&c| kind_of[c] == RowKind::Probe).collect();
    let implied = if ratio {
        Matrix::from_fn(n_q, n_tokens, |q, t| per_token.get(q, t) / total[q])
    } else if probe_weights && probes.len() == n_tokens {
        let mut w = Matrix::from_fn(n_q, n_tokens, |_, _| f64::NAN);
        for &c in &probes {
            for q in 0..n_q {
                w.set(q, token_of[c] as usize, decode(raw.get(q, c)));
            }
        }
        w
    } else {
        Matrix::from_fn(n_q, n_tokens, |_, _| f64::NAN)
    };
    Decoded { fit, y_hat, implied }
}

/// Implied attention weights from probe channels (v = e_t): each query's probe outputs,
/// floored at 0 and normalised to sum 1 (NaN for a query whose probes are all silent).
pub fn implied_weights(probe_raw: &Matrix) -> Matrix {
    let mut w = Matrix::from_fn(probe_raw.rows(), probe_raw.cols(), |r, c| probe_raw.get(r, c).max(0.0));
    for r in 0..w.rows() {
        let s: f64 = w.row(r).iter().sum();
        w.row_mut(r).iter_mut().for_each(|x| *x = if s > 0.0 { *x / s } else { f64::NAN });
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_are_counted_at_their_second_spike() {
        // A single spike, a burst of three (second spike at 52), a doublet (second at 103).
        let t = [10.0, 50.0, 52.0, 60.0, 100.0, 103.0];
        assert_eq!(countable_times(&t, CountKind::Bursts), vec![52.0, 103.0]);
        assert_eq!(count_in(&countable_times(&t, CountKind::Spikes), 50.0, 100.0), 3);
    }

    #[test]
    fn the_anchor_fit_recovers_gain_and_offset() {
        let pairs: Vec<(f64, f64)> = [-200.0, 0.0, 200.0].iter().map(|&x| (x + 4.0, x / 200.0)).collect();
        let f = AnchorFit::fit(&pairs).unwrap();
        assert!((f.gain - 1.0 / 200.0).abs() < 1e-15 && (f.offset + 0.02).abs() < 1e-15);
        assert!(AnchorFit::fit(&[(0.0, -1.0), (0.0, 1.0)]).is_none());
    }
}
