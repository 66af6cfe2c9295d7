//! Does gating emerge in the reference laminar column? (`circuit = "reference_column"`)
//!
//! The network is `models/columns/laminar_column.toml` as it is — 8 columns in each of two
//! areas, built for its own regime, not for attention — and its `[attention]` table says how the
//! harness presents one token per column of area V1 through the column's existing inputs, with
//! no retuning beyond their rates:
//!
//! - **value** v_t → the column's core thalamic relay (→ L4 → L2/3), at `value_rate_hz` for
//!   v = −1 … +1, with the weight and delay of the file's `value` input;
//! - **key** k_t → the basal drive of the column's L2/3 and L5 pyramidal cells (`key_inputs`,
//!   the cells whose axons form the horizontal streams), at `key_rate_hz`;
//! - **query** q → the area's matrix nucleus, whose cells reach every column's apical tufts in L1,
//!   at `query_rate_hz`, changing from query to query.
//!
//! In the other areas the file's own inputs keep driving the columns as before; in `area` the
//! harness's generators replace them, with the same weights and delays, at rates around the
//! file's own.
//!
//! A column has one number per stream, so the inputs are scalars: d = 1 and d_v = 1
//! (`laminar attention inputs --dim 1 --dim-v 1`), n = the area's columns. Softmax attention
//! with scalars is softmax(β q k_t): a positive query favours the columns with the largest keys.
//!
//! **Readout** (`spike_share`): spikes of the L2/3 and L5 pyramidal cells of each column of the
//! area in each query's count window; the implied weight of column t is its share of them.
//! Spikes, not bursts: at the file's operating point these cells fire a few Hz and almost never
//! burst (one burst in a whole 6.4-s run of 8 columns), so a burst readout would read nothing
//! (the attention issue's finding, README). A column's output carries its value and its gate
//! together (no value channels, no signs), so no ŷ is decoded: `y_hat` and every output metric
//! are NaN, and the circuit is judged by its implied weights against softmax(β_eff q k) weights,
//! β_eff fitted on them.
//!
//! Baselines: `passive_apical` (the pyramidal cells' tufts passive: `g_d = 0`, no bAP) and
//! `apical_to_basal` (the matrix nucleus's synapses onto the pyramidal cells moved from the
//! apical to the basal compartment).

use crate::circuit::{Prepared, ReadoutRow, RowKind};
use crate::column::{affine_rate, passive_apical_overrides};
use crate::encoding::FeatureMap;
use crate::inputs::Inputs;
use crate::protocol::{GeneratorTarget, RateSchedule, Timing, push_generator_to};
use crate::{Baseline, Error};

/// The `[attention]` parameters of the reference column.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceColumnParams {
    /// The area whose columns are the tokens, and its number of columns.
    pub area: String,
    pub columns: usize,
    /// The cell types read out (the pyramidal cells), with their counts per column.
    pub readout_types: Vec<(String, usize)>,
    /// The file's value input, the per-column nucleus it drives, its weight and delay.
    pub value_input: String,
    pub value_target: String,
    pub value_weight: f64,
    pub value_delay_ms: f64,
    /// The file's key inputs, the cell types they drive (on `key_receptor`), weights and delays.
    pub key_inputs: Vec<String>,
    pub key_targets: Vec<String>,
    pub key_receptor: String,
    pub key_weights: Vec<f64>,
    pub key_delays_ms: Vec<f64>,
    pub query_input: String,
    /// The per-area nucleus the query drives in `area` (`<area>_<nucleus>`).
    pub query_nucleus: String,
    /// Cells of the nucleus in `area`.
    pub query_nucleus_size: usize,
    /// Cells of the value nucleus per column.
    pub value_target_size: usize,
    /// The other areas, whose nuclei keep the file's own query input.
    pub other_areas: Vec<String>,
    pub query_weight: f64,
    pub query_delay_ms: f64,
    /// The index of the matrix → pyramidal-tuft connection in `[[column.thalamus.connections]]`
    /// (moved to `basal` by the `apical_to_basal` baseline).
    pub query_connection: usize,
    pub value_rate_hz: (f64, f64),
    pub key_rate_hz: (f64, f64),
    pub query_rate_hz: (f64, f64),
    pub settle_ms: f64,
    pub count_ms: f64,
}

impl ReferenceColumnParams {
    pub fn prepare(&self, inputs: &Inputs, resolution_ms: f64, baseline: Baseline) -> Result<Prepared, Error> {
        if inputs.heads.len() != 1 {
            return Err(Error::Invalid("the reference column is one head".into()));
        }
        let head = &inputs.heads[0];
        let (n, n_q, d, d_v) = (head.k.rows(), head.q.rows(), head.q.cols(), head.v.cols());
        if d != 1 || d_v != 1 || n != self.columns {
            return Err(Error::Invalid(format!(
                "the reference column carries one number per column and stream: it needs d = 1, d_v = 1 and \
                 n = {} tokens (one per column of {}); the inputs have d = {d}, d_v = {d_v}, n = {n} \
                 (`laminar attention inputs --tokens {} --dim 1 --dim-v 1 …`)",
                self.columns, self.area, self.columns
            )));
        }
        let timing = Timing::new(n, n_q, 0.0, self.settle_ms, self.count_ms);
        let h = resolution_ms;
        let constant = |rate: f64| RateSchedule::constant(timing.duration_ms, rate, h);
        // The file's value, key and query inputs keep driving the other areas; in `area` the
        // harness's generators, with the same weights and delays, carry the tokens.
        let others: Vec<String> = self.other_areas.iter().map(|a| format!("\"{a}\"")).collect();
        let mut overrides = vec![format!("simulation.duration_ms={:?}", timing.duration_ms)];
        for input in std::iter::once(&self.value_input).chain(&self.key_inputs).chain([&self.query_input]) {
            if others.is_empty() {
                overrides.push(format!("column.inputs.{input}.poisson.rate_hz=0.0"));
            } else {
                overrides.push(format!("column.inputs.{input}.areas=[{}]", others.join(", ")));
            }
        }
        match baseline {
            Baseline::PassiveApical => {
                overrides.extend(passive_apical_overrides(self.readout_types.iter().map(|(t, _)| t)));
            }
            Baseline::ApicalToBasal => {
                overrides.push(format!("column.thalamus.connections.{}.compartment=\"basal\"", self.query_connection));
            }
            _ => {}
        }
        let mut stimuli = String::new();
        let area = &self.area;
        for t in 0..n {
            let population = format!("{area}_c{t}_{}", self.value_target);
            let size = self.value_target_size;
            let target = GeneratorTarget {
                population: &population,
                first: 0,
                count: size,
                weight: self.value_weight,
                receptor: None,
            };
            let rate = constant(affine_rate(self.value_rate_hz, 1.0, head.v.get(t, 0)));
            push_generator_to(&mut stimuli, &format!("value_c{t}"), &target, &rate, self.value_delay_ms);
            for (i, cell_type) in self.key_targets.iter().enumerate() {
                let population = format!("{area}_c{t}_{cell_type}");
                let count = self.readout_types.iter().find(|r| &r.0 == cell_type).map_or(0, |r| r.1);
                let target = GeneratorTarget {
                    population: &population,
                    first: 0,
                    count,
                    weight: self.key_weights[i],
                    receptor: Some(&self.key_receptor),
                };
                let rate = constant(affine_rate(self.key_rate_hz, 1.0, head.k.get(t, 0)));
                push_generator_to(
                    &mut stimuli,
                    &format!("key_c{t}_{cell_type}"),
                    &target,
                    &rate,
                    self.key_delays_ms[i],
                );
            }
        }
        let mut query = RateSchedule::default();
        for i in 0..n_q {
            let (a, b) = timing.query_window_ms(i);
            query.window(a, b, affine_rate(self.query_rate_hz, 1.0, head.q.get(i, 0)), h);
        }
        let nucleus = format!("{area}_{}", self.query_nucleus);
        let target = GeneratorTarget {
            population: &nucleus,
            first: 0,
            count: self.query_nucleus_size,
            weight: self.query_weight,
            receptor: None,
        };
        push_generator_to(&mut stimuli, "query", &target, &query, self.query_delay_ms);

        let mut readout = Vec::new();
        for t in 0..n {
            for (cell_type, count) in &self.readout_types {
                readout.push(ReadoutRow {
                    population: format!("{}_c{t}_{cell_type}", self.area),
                    node_first: 0,
                    node_count: *count,
                    column: t,
                    query: -1,
                    channel: 0,
                    sign: 1,
                    kind: RowKind::Value,
                    head: 0,
                    token: t as i64,
                });
            }
        }
        // The rates are affine in the ON/OFF features of the scalar inputs.
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
            n_columns: n,
            anchor_mass: Vec::new(),
        })
    }
}
