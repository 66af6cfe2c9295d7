//! Columns as tokens (`circuit = "column"`, König & Negrello 2026): dendritic gating in laminar
//! columns against softmax attention.
//!
//! The network is the circuit's model file (`models/attention/column.toml`), written in the
//! column language: one column per token, two `pyramidal_bac` cell types per column — match
//! cells M (L5) and value cells V (L2/3) — and the intra-column stream M → V onto the value
//! cells' apical tufts. This module adds what depends on the inputs:
//!
//! - **Columns and sizes.** `column.columns` = one name per token (`t0`, `t1`, …); M holds
//!   `match_cells` per column, split evenly over the 2d key channels (dimension i, sign s = ±1:
//!   `match_cells / 2d` cells each, so the mean drive of the value cells' tufts does not depend
//!   on d; `match_cells` must be a multiple of 2d), V holds
//!   `value_pool` cells per value channel and sign (d_v value channels and three anchor
//!   channels held at −1, 0, +1 for every token).
//! - **Push–pull encoding.** A signed input x ∈ [−1, 1] on the channel of sign s is the rate
//!   `lo + (hi − lo)·(1 + s·x)/2` ([`affine_rate`]): both signs are always active and their sum
//!   does not depend on x. Keys drive M(t, i, s) on `basal` at `key_rate_hz`; queries drive the
//!   same cells on `apical` at `query_rate_hz` (every column receives the same query: the L1
//!   feedback); values drive V(t, a, s) on `basal` at `value_rate_hz`.
//! - **Why it computes q·k.** Where the apical input gates the soma multiplicatively, the
//!   output of M(t, i, s) is g(key rate)·f(query rate) with g and f affine in the operating
//!   range, so summed over s the terms linear in k or q cancel and the column's match output is
//!   C + c·q·k_t. It drives the column's value-cell tufts; their BAC-burst probability rises
//!   convexly with the tuft's drive, so column t's value bursts are its value × a gate that
//!   grows like exp(β_eff·q·k_t) over the operating range.
//! - **Protocol.** No write phase: per query, `settle_ms` then `count_ms` counted; keys and
//!   values are presented throughout.
//! - **Decoding** (`burst_ratio`): bursts B (the `gating` definition: runs of spikes with
//!   ISI < 16 ms, counted at the second spike) per V pool and count window;
//!   `raw_qa = Σ_t (B_{t,a+} − B_{t,a−}) / Σ_{t,b,±} B_{t,b±}`, the sum in the denominator over
//!   every value and anchor pool of every column — the normaliser is the decoder's (declared:
//!   nothing in the circuit computes it); then one gain and offset from the anchor channels
//!   pooled over the queries. Implied weights: α̂_qt = column t's share of the bursts.
//!
//! Baselines: `passive_apical` makes every pyramidal cell's tuft passive (no plateau current,
//! `g_d = 0`, and no back-propagating action potential, `bAP_amplitude = 0`);
//! `apical_to_basal` sends the same query trains to the match cells' basal receptor instead.

use crate::circuit::{Prepared, ReadoutRow, RowKind};
use crate::decoding::ANCHOR_VALUES as ANCHORS;
use crate::encoding::FeatureMap;
use crate::inputs::Inputs;
use crate::protocol::{GeneratorTarget, RateSchedule, Timing, push_generator_to};
use crate::{Baseline, Error};

/// The `[attention]` parameters of the column circuit.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnParams {
    pub match_type: String,
    pub value_type: String,
    /// Match cells per column (split over the 2d key channels).
    pub match_cells: usize,
    pub value_pool: usize,
    pub input_weight_pa: f64,
    /// (rate at s·x = −1, rate at s·x = +1), spikes/s per cell.
    pub key_rate_hz: (f64, f64),
    pub query_rate_hz: (f64, f64),
    pub value_rate_hz: (f64, f64),
    pub settle_ms: f64,
    pub count_ms: f64,
    pub input_delay_ms: f64,
}

/// The push–pull rate of a channel of sign `sign` for the value `x` ∈ [−1, 1].
pub fn affine_rate((lo, hi): (f64, f64), sign: f64, x: f64) -> f64 {
    lo + (hi - lo) * 0.5 * (1.0 + sign * x)
}

/// The `passive_apical` control: the tufts of `pyramidal_bac` cell types made passive (no plateau
/// current, `g_d = 0`, and no back-propagating action potential, `bAP_amplitude = 0`).
pub fn passive_apical_overrides<'a>(cell_types: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    cell_types
        .into_iter()
        .flat_map(|t| {
            [format!("column.cell_types.{t}.params.g_d=0.0"), format!("column.cell_types.{t}.params.bAP_amplitude=0.0")]
        })
        .collect()
}

/// The population of cell type `cell_type` in column `t` of `n` (the column builder's names).
pub fn population_name(n: usize, t: usize, cell_type: &str) -> String {
    if n == 1 { cell_type.to_string() } else { format!("t{t}_{cell_type}") }
}

impl ColumnParams {
    pub fn prepare(&self, inputs: &Inputs, resolution_ms: f64, baseline: Baseline) -> Result<Prepared, Error> {
        if inputs.heads.len() != 1 {
            return Err(Error::Invalid(format!(
                "the column circuit is one head; the inputs have H = {}",
                inputs.heads.len()
            )));
        }
        let head = &inputs.heads[0];
        let (n, n_q, d, d_v) = (head.k.rows(), head.q.rows(), head.q.cols(), head.v.cols());
        if !self.match_cells.is_multiple_of(2 * d) {
            return Err(Error::Invalid(format!(
                "attention.match_cells = {} must be a multiple of 2d = {} (one pool per key dimension and sign)",
                self.match_cells,
                2 * d
            )));
        }
        let match_pool = self.match_cells / (2 * d);
        let timing = Timing::new(n, n_q, 0.0, self.settle_ms, self.count_ms);
        let h = resolution_ms;
        let whole_run = |rate: f64| RateSchedule::constant(timing.duration_ms, rate, h);
        let query_receptor = if baseline == Baseline::ApicalToBasal { "basal" } else { "apical" };
        let mut stimuli = String::new();
        for t in 0..n {
            let m_pop = population_name(n, t, &self.match_type);
            for i in 0..d {
                for (si, sign) in [(0usize, 1.0f64), (1, -1.0)] {
                    let first = (2 * i + si) * match_pool;
                    let label = format!("t{t}_k{i}{}", if si == 0 { "on" } else { "off" });
                    let mut target = GeneratorTarget {
                        population: &m_pop,
                        first,
                        count: match_pool,
                        weight: self.input_weight_pa,
                        receptor: Some("basal"),
                    };
                    let key = whole_run(affine_rate(self.key_rate_hz, sign, head.k.get(t, i)));
                    push_generator_to(&mut stimuli, &format!("key_{label}"), &target, &key, self.input_delay_ms);
                    let mut query = RateSchedule::default();
                    for q in 0..n_q {
                        let (a, b) = timing.query_window_ms(q);
                        query.window(a, b, affine_rate(self.query_rate_hz, sign, head.q.get(q, i)), h);
                    }
                    target.receptor = Some(query_receptor);
                    if !query.is_silent() {
                        push_generator_to(
                            &mut stimuli,
                            &format!("query_{label}"),
                            &target,
                            &query,
                            self.input_delay_ms,
                        );
                    }
                }
            }
        }

        let channels = d_v + ANCHORS.len();
        let mut readout = Vec::new();
        for t in 0..n {
            let v_pop = population_name(n, t, &self.value_type);
            for c in 0..channels {
                let value = if c < d_v { head.v.get(t, c) } else { ANCHORS[c - d_v] };
                for (si, sign) in [(0usize, 1.0f64), (1, -1.0)] {
                    let first = (2 * c + si) * self.value_pool;
                    let target = GeneratorTarget {
                        population: &v_pop,
                        first,
                        count: self.value_pool,
                        weight: self.input_weight_pa,
                        receptor: Some("basal"),
                    };
                    let schedule = whole_run(affine_rate(self.value_rate_hz, sign, value));
                    let name = format!("value_t{t}_c{c}{}", if si == 0 { "on" } else { "off" });
                    push_generator_to(&mut stimuli, &name, &target, &schedule, self.input_delay_ms);
                    readout.push(ReadoutRow {
                        population: v_pop.clone(),
                        node_first: first,
                        node_count: self.value_pool,
                        column: (t * channels + c) * 2 + si,
                        query: -1,
                        channel: c,
                        sign: sign as i8,
                        kind: if c < d_v { RowKind::Value } else { RowKind::Anchor },
                        head: 0,
                        token: t as i64,
                    });
                }
            }
        }

        let names: Vec<String> = (0..n).map(|t| format!("\"t{t}\"")).collect();
        let mut overrides = vec![
            format!("column.columns=[{}]", names.join(", ")),
            format!("column.cell_types.{}.count={}", self.match_type, self.match_cells),
            format!("column.cell_types.{}.count={}", self.value_type, 2 * channels * self.value_pool),
            format!("simulation.duration_ms={:?}", timing.duration_ms),
        ];
        if baseline == Baseline::PassiveApical {
            overrides.extend(passive_apical_overrides([&self.match_type, &self.value_type]));
        }
        // The features the rates carry: the push-pull rate of channel (i, s) is
        // lo + (hi − lo)·(1 + s·x_i)/2, affine in the ON/OFF features [relu(x), relu(−x)].
        let presented = crate::encoding::relu_onoff;
        Ok(Prepared {
            stimuli,
            overrides,
            readout,
            timing,
            feature_map: FeatureMap::ReluOnOff,
            clip_fraction: 0.0,
            rate_max_hz: self.query_rate_hz.1,
            phi_q: presented(&head.q),
            phi_k: presented(&head.k),
            n_columns: n * channels * 2,
            anchor_mass: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pull_rates_sum_to_a_constant() {
        let range = (1500.0, 3500.0);
        for x in [-1.0, -0.3, 0.0, 0.7, 1.0] {
            let sum = affine_rate(range, 1.0, x) + affine_rate(range, -1.0, x);
            assert!((sum - 5000.0).abs() < 1e-9);
        }
        assert_eq!(affine_rate(range, 1.0, 1.0), 3500.0);
        assert_eq!(affine_rate(range, -1.0, 1.0), 1500.0);
    }
}
