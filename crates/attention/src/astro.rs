//! The neuron–astrocyte transformer (`circuit = "astro"`, Kozachkov, Kastanenka & Krotov 2023).
//!
//! The network is the circuit's model file (`models/attention/astro.toml`): feature cells F
//! (`features` × a pool of parrot neurons), teacher cells T and output cells O (one group of
//! `readout_pool` cells per value channel and sign), the plastic `memory` projection F → O
//! (`hebbian_astro_synapse`) and the `teach` projection T → O. This module adds what depends on
//! the inputs:
//!
//! - **Encoding.** Positive random features φ(x) (`prf_exp`, [`crate::encoding`]); F pool j fires
//!   at `rate_max_hz·φ_j`.
//! - **Channels.** The d_v value channels, three anchor channels held at −1, 0 and +1 for every
//!   token, and one probe channel per token (v = e_t), each as an ON/OFF pair of O groups; T and
//!   O are sized to them. The probes are part of every run (output groups do not interact, so
//!   they change nothing else, and a run with and without `--probe-weights` is one simulation);
//!   the flag adds the implied weights they read to the report.
//! - **Write phase** (token t in its window): F at φ(k_t); T(c, ±) at `teacher_rate_hz·relu(±v_tc)`
//!   drives O(c, ±) one spike for one (the `teach` weight reaches O's threshold). The memory
//!   synapses learn inside the write phase (their learning window) with transmission off
//!   (`learning_transmission = 0`): the weights store Σ_t φ(k_t) relu(±v_t) and each astrocyte
//!   process the presynaptic spike count Σ_t φ(k_t).
//! - **Read phase** (per query: settle, then count): F at φ(q), T silent, synapses frozen: O(c, ±)
//!   is driven by Σ_j w_j r_j / (ε + A), A ≈ τ_astro Σ_j g_j r_j, which is Σ_t α_t relu(±v_tc)
//!   with α_t = φ(q)·φ(k_t) / Σ_t' φ(q)·φ(k_t'): kernel attention, its denominator the astrocyte's.
//! - **Decoding** (`rate_diff`): spikes of O(c, +) minus O(c, −) in the count window; one gain
//!   and offset from the anchors. Implied weights: the probe channels through the same decoder.
//!
//! Baselines: `no_astrocyte` holds the denominator at one constant for the run (the expected
//! domain state averaged over the queries, from the circuit's parameters: it scales the output
//! like the astrocyte does on average, so only the query-dependent division is missing);
//! `shuffled_memory` permutes the feature indices between the write and the read phase.

use crate::circuit::{Prepared, ReadoutRow, RowKind};
use crate::decoding::ANCHOR_VALUES as ANCHORS;
use crate::encoding::{FeatureMap, RandomFeatures};
use crate::matrix::Matrix;
use crate::protocol::{RateSchedule, Timing, push_generator};
use crate::{Baseline, Error};

use laminar_engine::rng::stream_for;
use rand::seq::SliceRandom;

/// The `[attention]` parameters of the astro circuit.
#[derive(Debug, Clone, PartialEq)]
pub struct AstroParams {
    pub features: usize,
    pub clip_quantile: f64,
    pub feature_population: String,
    pub feature_pool: usize,
    pub teacher_population: String,
    pub readout_population: String,
    pub readout_pool: usize,
    pub memory_projection: String,
    pub rate_max_hz: f64,
    pub teacher_rate_hz: f64,
    pub write_ms: f64,
    pub settle_ms: f64,
    pub count_ms: f64,
    pub input_delay_ms: f64,
    /// Seed of the random features when it must differ from the run's (the noise ceiling: the
    /// same features, other spike trains); default the run's seed.
    pub feature_seed: Option<u64>,
    /// The memory synapse's parameters that set the baseline's constant denominator.
    pub tau_astro: f64,
    pub eta_g: f64,
    pub g0: f64,
}

impl AstroParams {
    pub fn prepare(
        &self,
        inputs: &crate::inputs::Inputs,
        seed: u64,
        resolution_ms: f64,
        baseline: Baseline,
    ) -> Result<Prepared, Error> {
        if inputs.heads.len() != 1 {
            return Err(Error::Invalid(format!(
                "the astro circuit is one head; the inputs have H = {}",
                inputs.heads.len()
            )));
        }
        let head = &inputs.heads[0];
        let (n, n_q, d_v) = (head.k.rows(), head.q.rows(), head.v.cols());
        let feature_seed = self.feature_seed.unwrap_or(seed);
        let features =
            RandomFeatures::draw(self.features, head.q.cols(), inputs.beta, self.clip_quantile, feature_seed);
        let (phi_q, phi_k) = (features.apply(&head.q), features.apply(&head.k));
        let clip_fraction = features.clip_fraction(&[&head.q, &head.k]);

        // Channels: values, anchors, probes; each an ON/OFF pair of readout groups.
        let mut channel_values: Vec<Vec<f64>> = (0..d_v).map(|c| (0..n).map(|t| head.v.get(t, c)).collect()).collect();
        channel_values.extend(ANCHORS.iter().map(|&a| vec![a; n]));
        channel_values.extend((0..n).map(|p| (0..n).map(|t| if t == p { 1.0 } else { 0.0 }).collect()));
        let channels = channel_values.len();
        let pool_o = self.readout_pool;
        let timing = Timing::new(n, n_q, self.write_ms, self.settle_ms, self.count_ms);
        let h = resolution_ms;

        let permutation: Vec<usize> = match baseline {
            Baseline::ShuffledMemory => {
                let mut p: Vec<usize> = (0..self.features).collect();
                p.shuffle(&mut stream_for(seed, "attention:shuffled_memory", 0));
                p
            }
            _ => (0..self.features).collect(),
        };
        let mut stimuli = String::new();
        for j in 0..self.features {
            let mut s = RateSchedule::default();
            for (t, &(a, b)) in timing.write_windows_ms.iter().enumerate() {
                s.window(a, b, self.rate_max_hz * phi_k.get(t, j), h);
            }
            for i in 0..n_q {
                let (a, b) = timing.query_window_ms(i);
                s.window(a, b, self.rate_max_hz * phi_q.get(i, permutation[j]), h);
            }
            let pool = self.feature_pool;
            push_generator(
                &mut stimuli,
                &format!("feature_{j}"),
                &self.feature_population,
                j * pool,
                pool,
                &s,
                self.input_delay_ms,
            );
        }
        let mut readout = Vec::new();
        for (c, values) in channel_values.iter().enumerate() {
            let kind = if c < d_v {
                RowKind::Value
            } else if c < d_v + ANCHORS.len() {
                RowKind::Anchor
            } else {
                RowKind::Probe
            };
            for (s, sign) in [(0usize, 1.0f64), (1, -1.0)] {
                let column = 2 * c + s;
                let mut schedule = RateSchedule::default();
                for (t, &(a, b)) in timing.write_windows_ms.iter().enumerate() {
                    schedule.window(a, b, self.teacher_rate_hz * (sign * values[t]).max(0.0), h);
                }
                if !schedule.is_silent() {
                    push_generator(
                        &mut stimuli,
                        &format!("teacher_{c}_{}", if s == 0 { "on" } else { "off" }),
                        &self.teacher_population,
                        column * pool_o,
                        pool_o,
                        &schedule,
                        self.input_delay_ms,
                    );
                }
                readout.push(ReadoutRow {
                    population: self.readout_population.clone(),
                    node_first: column * pool_o,
                    node_count: pool_o,
                    column,
                    query: -1,
                    channel: c,
                    sign: sign as i8,
                    kind,
                    head: 0,
                    token: if kind == RowKind::Probe { (c - d_v - ANCHORS.len()) as i64 } else { -1 },
                });
            }
        }
        let size = 2 * channels * pool_o;
        let memory = &self.memory_projection;
        let mut overrides = vec![
            format!("populations.{}.size={size}", self.teacher_population),
            format!("populations.{}.size={size}", self.readout_population),
            format!("simulation.duration_ms={:?}", timing.duration_ms),
            format!("projections.{memory}.learning_windows_ms=[[0.0, {:?}]]", timing.write_end_ms()),
        ];
        if baseline == Baseline::NoAstrocyte {
            overrides
                .push(format!("projections.{memory}.synapse.A_clamp={:?}", self.mean_domain_state(&phi_q, &phi_k)));
        }
        Ok(Prepared {
            stimuli,
            overrides,
            readout,
            timing,
            feature_map: FeatureMap::PrfExp(features),
            clip_fraction,
            rate_max_hz: self.rate_max_hz,
            phi_q,
            phi_k,
            n_columns: 2 * channels,
            anchor_mass: Vec::new(),
        })
    }

    /// The expected domain state A over the read phase, averaged over the queries: with g_j
    /// the process weight after the write phase (g₀ + η_g × the cell's expected spikes),
    /// A(q) = τ_astro Σ_cells g_j r_j(q).
    fn mean_domain_state(&self, phi_q: &Matrix, phi_k: &Matrix) -> f64 {
        let rate_per_ms = self.rate_max_hz / 1000.0;
        let mut total = 0.0;
        for i in 0..phi_q.rows() {
            let mut a = 0.0;
            for j in 0..self.features {
                let write_spikes: f64 = (0..phi_k.rows()).map(|t| rate_per_ms * phi_k.get(t, j) * self.write_ms).sum();
                let g = self.g0 + self.eta_g * write_spikes;
                a += self.feature_pool as f64 * g * rate_per_ms * phi_q.get(i, j);
            }
            total += self.tau_astro * a;
        }
        total / phi_q.rows().max(1) as f64
    }
}
