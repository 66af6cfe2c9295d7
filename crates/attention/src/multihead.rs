//! Multihead self-attention in cortico-thalamic circuits (`circuit = "multihead"`, Granier &
//! Senn 2025, arXiv:2504.06354): areas as heads, the higher-order thalamus combines them.
//!
//! The network is the circuit's model file (`models/attention/multihead.toml`): key-feature
//! cells X (L4), teachers T, memory cells S (L2/3), query cells D (L5, `pyramidal_bac`), burst
//! units B (the L5 → higher-order thalamus driver synapses) and relays HO, with the projections
//! `memory` (X → S, Hebbian), `teach` (T → S), `tuft` (S → D apical), `opponent` (S → D apical,
//! inhibitory; optional), `burst` (D → B) and `combine` (B → HO). This module sizes them to the
//! inputs and wires the pools:
//!
//! - **Features.** φ(x) = [relu(x), relu(−x)] (2d features, [`FeatureMap::ReluOnOff`]), as the
//!   reference `linear_unnormalized`.
//! - **Channels.** Per head: the d_v value channels and two anchor channels (v = −1 and +1 for
//!   every token, [`ANCHORS`]), each as a pair of signs s = ±1 (relu(±v)).
//! - **Layout** (node index, inner last): X (h, f, i); T and S (h, ch, f, i) with
//!   ch = 2·channel + (s = −1); D and B (h, f, ch, i); HO (o, s) for the d_out outputs, then the
//!   anchor relays (h, anchor, s).
//! - **Write phase** (token t in its window): X(h, f) at `feature_rate_hz`·φ_f(k_t^h), T(h, ch) at
//!   `teacher_rate_hz`·relu(s·v_t,a); `memory` learns there with transmission off, so
//!   w(h, ch, f) ∝ Σ_t φ_f(k_t) relu(s·v_t,a) (the key–value memory). With `memory_tokens = m`
//!   the learning rate is η·m/n, so w is m times the mean over the tokens instead of the sum and
//!   its range does not grow with n.
//! - **Read phase** (per query: settle, then count): X tonic at `key_read_rate_hz`, so S(h, ch, f)
//!   fires ∝ w(h, ch, f); D(h, f, ch) basal at the affine rate of φ_f(q^h) (`query_rate_hz`),
//!   apical from S(h, ch, f) (`tuft` blocks) and, inhibitory, from the same channel's opposite
//!   sign S(h, ch ⊕ 1, f) (`opponent` blocks), so the tuft sees the net memory w(+) − w(−) and
//!   not the common part Σ_t φ_f(k_t)|v_t,a|, which grows like n where the net memory grows like
//!   √n (its burst noise buried the signal at n = 64). Bursts of D ~ g(φ_f(q))·f(w): summed
//!   over f and taken as + minus −, the query-only terms cancel and the memory-only ones do not vary with
//!   the query, leaving Σ_f φ_f(q)·w(a, f) = Σ_j (φ(q)·φ(k_j)) v_j,a per head.
//! - **Combination.** `combine` blocks B(h, f, a, s) → HO(o, s·sign W_O[o, h·d_v + a]) with
//!   weight |W_O[o, h·d_v + a]| × the projection's weight; the anchors' B → their own relays
//!   with weight 1 × the projection's weight.
//! - **Decoding** (`relay_diff`): raw_o = spikes of HO(o, +) − HO(o, −) in the count window; one
//!   gain and offset per run, least squares over every query of the anchor relays' raw outputs
//!   against their values c·m_h(q), where m_h(q) = Σ_j φ(q^h)·φ(k_j^h) is what an anchor
//!   channel's memory (v = c for every token) returns for the presented features. The heads'
//!   outputs ṽ^h (`/output/y_hat_heads`) are the B spikes summed over f (+ minus −), decoded
//!   the same way from the heads' anchor channels.
//!
//! Baselines: `passive_apical` makes the D tufts passive (no plateau current, no back-propagating
//! action potential); `shuffled_memory` wires each memory group S(h, ch, f) of the value
//! channels to the query cells D(h, π_h(ch, f)) of another, π_h a random permutation of the
//! head's (channel-sign, feature) groups (from the run's seed; the anchors keep their wiring so
//! the decoder stays calibrated). The memory is intact, its wiring is not. A permutation of the
//! features alone would not do: each channel would keep its memory mass, and unnormalised
//! attention's output follows the query's norm whatever the keys, so at rate level such a
//! control still reaches r_c 0.08–0.64 (mean 0.33) on the checker's five input seeds, where the
//! permutation of every group gives 0.00 (mean of 200 permutations per seed).

use laminar_engine::rng::stream_for;
use rand::seq::SliceRandom;

use crate::circuit::{Prepared, ReadoutRow, RowKind};
use crate::decoding::AnchorFit;
use crate::encoding::{FeatureMap, relu_onoff};
use crate::inputs::Inputs;
use crate::matrix::Matrix;
use crate::protocol::{GeneratorTarget, RateSchedule, Timing, push_generator, push_generator_to};
use crate::{Baseline, Error};

/// The anchor channels' values (v for every token). Two suffice for one gain and offset; a zero
/// anchor would store no memory and cost a sixth of the query cells.
pub const ANCHORS: [f64; 2] = [-1.0, 1.0];

/// The most heads the circuit takes.
pub const MAX_HEADS: usize = 4;

/// The `[attention]` parameters of the multihead circuit.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiheadParams {
    pub key_population: String,
    pub teacher_population: String,
    pub memory_population: String,
    pub query_population: String,
    pub burst_population: String,
    pub relay_population: String,
    pub memory_projection: String,
    pub tuft_projection: String,
    pub combine_projection: String,
    /// The `combine` projection's weight per unit of |W_O|.
    pub combine_weight: f64,
    pub combine_delay_ms: f64,
    pub tuft_weight: f64,
    pub tuft_delay_ms: f64,
    /// The opponent projection (S(a, −s, f) → D(f, a, s) apical, inhibitory), with its weight
    /// and delay; `None` when the file has none.
    pub opponent: Option<(String, f64, f64)>,
    pub memory_delay_ms: f64,
    /// The memory synapses' learning rate η as the file has it.
    pub memory_eta: f64,
    /// With `Some(m)`, η is scaled by m / n, so the stored weights are m times the mean over the
    /// tokens rather than their sum and their range does not grow with n.
    pub memory_tokens: Option<usize>,
    pub key_pool: usize,
    pub memory_pool: usize,
    pub query_pool: usize,
    pub relay_pool: usize,
    pub feature_rate_hz: f64,
    pub key_read_rate_hz: f64,
    pub teacher_rate_hz: f64,
    /// D's basal rate at φ = 0 and φ = 1.
    pub query_rate_hz: (f64, f64),
    pub input_weight_pa: f64,
    pub write_ms: f64,
    pub settle_ms: f64,
    pub count_ms: f64,
    pub input_delay_ms: f64,
}

/// The shape of one run: heads, features, channels (value + anchor, per sign) and outputs.
#[derive(Debug, Clone, Copy)]
struct Shape {
    heads: usize,
    features: usize,
    d_v: usize,
    /// Channel-sign pairs per head: 2·(d_v + anchors).
    ch: usize,
    d_out: usize,
}

impl Shape {
    fn channel(&self, ch: usize) -> (usize, i8) {
        (ch / 2, if ch.is_multiple_of(2) { 1 } else { -1 })
    }
}

impl MultiheadParams {
    pub fn prepare(
        &self,
        inputs: &Inputs,
        seed: u64,
        resolution_ms: f64,
        baseline: Baseline,
    ) -> Result<Prepared, Error> {
        let heads = inputs.heads.len();
        if heads > MAX_HEADS {
            return Err(Error::Invalid(format!(
                "the multihead circuit takes up to {MAX_HEADS} heads; the inputs have H = {heads}"
            )));
        }
        let (n, n_q, d, d_v) = (inputs.n_tokens(), inputs.n_queries(), inputs.dim(), inputs.dim_v());
        let sh = Shape { heads, features: 2 * d, d_v, ch: 2 * (d_v + ANCHORS.len()), d_out: inputs.dim_out() };
        let timing = Timing::new(n, n_q, self.write_ms, self.settle_ms, self.count_ms);
        let phi_q: Vec<Matrix> = inputs.heads.iter().map(|hd| relu_onoff(&hd.q)).collect();
        let phi_k: Vec<Matrix> = inputs.heads.iter().map(|hd| relu_onoff(&hd.k)).collect();
        let stimuli = self.stimuli(inputs, &sh, &timing, &phi_q, &phi_k, resolution_ms);
        let wiring = self.wiring(inputs, &sh, seed, baseline);

        let (px, ps, pd, ph) = (self.key_pool, self.memory_pool, self.query_pool, self.relay_pool);
        let cells = |pool: usize| sh.heads * sh.ch * sh.features * pool;
        let rule = |blocks: &[String]| format!("{{ blocks = [{}] }}", blocks.join(", "));
        let mut overrides = vec![
            format!("populations.{}.size={}", self.key_population, heads * sh.features * px),
            format!("populations.{}.size={}", self.teacher_population, cells(ps)),
            format!("populations.{}.size={}", self.memory_population, cells(ps)),
            format!("populations.{}.size={}", self.query_population, cells(pd)),
            format!("populations.{}.size={}", self.burst_population, cells(pd)),
            format!("populations.{}.size={}", self.relay_population, (2 * sh.d_out + 2 * heads * ANCHORS.len()) * ph),
            format!("projections.{}.rule={}", self.memory_projection, rule(&wiring.memory)),
            format!("projections.{}.rule={}", self.tuft_projection, rule(&wiring.tuft)),
            format!("projections.{}.rule={}", self.combine_projection, rule(&wiring.combine)),
            format!("projections.{}.learning_windows_ms=[[0.0, {:?}]]", self.memory_projection, timing.write_end_ms()),
            format!("simulation.duration_ms={:?}", timing.duration_ms),
        ];
        if let Some((name, ..)) = &self.opponent {
            overrides.push(format!("projections.{name}.rule={}", rule(&wiring.opponent)));
        }
        if let Some(m) = self.memory_tokens {
            let eta = self.memory_eta * m as f64 / n as f64;
            overrides.push(format!("projections.{}.synapse.eta={eta:?}", self.memory_projection));
        }
        if baseline == Baseline::PassiveApical {
            overrides.push(format!("populations.{}.params.g_d=0.0", self.query_population));
            overrides.push(format!("populations.{}.params.bAP_amplitude=0.0", self.query_population));
        }
        let anchor_mass = phi_q
            .iter()
            .zip(&phi_k)
            .map(|(q, k)| (0..n_q).map(|i| (0..n).map(|j| dot(q.row(i), k.row(j))).sum()).collect())
            .collect();
        Ok(Prepared {
            stimuli,
            overrides,
            n_columns: wiring.readout.len(),
            readout: wiring.readout,
            timing,
            feature_map: FeatureMap::ReluOnOff,
            clip_fraction: 0.0,
            rate_max_hz: self.feature_rate_hz,
            phi_q: phi_q[0].clone(),
            phi_k: phi_k[0].clone(),
            anchor_mass,
        })
    }

    /// The generators: key features and teachers in the write phase, tonic key features and the
    /// query features in the read phase.
    fn stimuli(
        &self,
        inputs: &Inputs,
        sh: &Shape,
        timing: &Timing,
        phi_q: &[Matrix],
        phi_k: &[Matrix],
        h: f64,
    ) -> String {
        let (px, ps, pd) = (self.key_pool, self.memory_pool, self.query_pool);
        // Presented features are clipped to [0, 1] (a rate cannot exceed the top of its range);
        // inputs in [−1, 1] never are.
        let clip = |x: f64| x.clamp(0.0, 1.0);
        let value = |head: usize, t: usize, channel: usize| {
            if channel < sh.d_v { inputs.heads[head].v.get(t, channel) } else { ANCHORS[channel - sh.d_v] }
        };
        let mut stimuli = String::new();
        let read_start = timing.write_end_ms();
        for (head, phi) in phi_k.iter().enumerate() {
            for f in 0..sh.features {
                let mut key = RateSchedule::default();
                for (t, &(a, b)) in timing.write_windows_ms.iter().enumerate() {
                    key.window(a, b, self.feature_rate_hz * clip(phi.get(t, f)), h);
                }
                key.window(read_start, timing.duration_ms, self.key_read_rate_hz, h);
                let first = (head * sh.features + f) * px;
                let name = format!("key_h{head}_f{f}");
                push_generator(&mut stimuli, &name, &self.key_population, first, px, &key, self.input_delay_ms);
            }
            for ch in 0..sh.ch {
                let (channel, sign) = sh.channel(ch);
                let mut teach = RateSchedule::default();
                for (t, &(a, b)) in timing.write_windows_ms.iter().enumerate() {
                    teach.window(a, b, self.teacher_rate_hz * (f64::from(sign) * value(head, t, channel)).max(0.0), h);
                }
                if !teach.is_silent() {
                    let first = (head * sh.ch + ch) * sh.features * ps;
                    let name = format!("teacher_h{head}_c{channel}{}", if sign > 0 { "on" } else { "off" });
                    let (population, count) = (&self.teacher_population, sh.features * ps);
                    push_generator(&mut stimuli, &name, population, first, count, &teach, self.input_delay_ms);
                }
            }
            for f in 0..sh.features {
                let mut query = RateSchedule::default();
                for q in 0..timing.read_windows_ms.len() {
                    let (a, b) = timing.query_window_ms(q);
                    let (lo, hi) = self.query_rate_hz;
                    query.window(a, b, lo + (hi - lo) * clip(phi_q[head].get(q, f)), h);
                }
                let target = GeneratorTarget {
                    population: &self.query_population,
                    first: (head * sh.features + f) * sh.ch * pd,
                    count: sh.ch * pd,
                    weight: self.input_weight_pa,
                    receptor: Some("basal"),
                };
                push_generator_to(&mut stimuli, &format!("query_h{head}_f{f}"), &target, &query, self.input_delay_ms);
            }
        }
        stimuli
    }

    /// The blocks of the `memory`, `tuft`, `opponent` and `combine` projections and the readout rows.
    fn wiring(&self, inputs: &Inputs, sh: &Shape, seed: u64, baseline: Baseline) -> Wiring {
        let (px, ps, pd, ph) = (self.key_pool, self.memory_pool, self.query_pool, self.relay_pool);
        let block = |s0: usize, ns: usize, t0: usize, nt: usize, w: f64, delay: f64| {
            format!("{{ source = [{s0}, {ns}], target = [{t0}, {nt}], weight = {w:?}, delay_ms = {delay:?} }}")
        };
        let mut wiring = Wiring::default();
        let relay_first = |o: usize, sign: i8| (2 * o + usize::from(sign < 0)) * ph;
        let anchor_relay_first = |head: usize, anchor: usize, sign: i8| {
            (2 * sh.d_out + (head * ANCHORS.len() + anchor) * 2 + usize::from(sign < 0)) * ph
        };
        // The D group (channel-sign, feature) each memory group (ch, f) of a head drives: itself,
        // or for `shuffled_memory` a random other group among the value channels' (the anchors
        // keep theirs, so the decoder stays calibrated).
        let value_groups = 2 * sh.d_v * sh.features;
        for head in 0..sh.heads {
            let mut order: Vec<usize> = (0..value_groups).collect();
            if baseline == Baseline::ShuffledMemory {
                let mut rng = stream_for(seed, "attention-shuffled-memory", head as u64);
                while order.iter().enumerate().all(|(i, &p)| i == p) {
                    order.shuffle(&mut rng);
                }
            }
            let s_first = |ch: usize, f: usize| ((head * sh.ch + ch) * sh.features + f) * ps;
            let d_first = |ch: usize, f: usize| ((head * sh.features + f) * sh.ch + ch) * pd;
            for ch in 0..sh.ch {
                let (channel, sign) = sh.channel(ch);
                for f in 0..sh.features {
                    wiring.memory.push(block(
                        (head * sh.features + f) * px,
                        px,
                        s_first(ch, f),
                        ps,
                        0.0,
                        self.memory_delay_ms,
                    ));
                    let (ch_to, f_to) = match order.get(ch * sh.features + f) {
                        Some(&g) => (g / sh.features, g % sh.features),
                        None => (ch, f),
                    };
                    let d_to = d_first(ch_to, f_to);
                    wiring.tuft.push(block(s_first(ch, f), ps, d_to, pd, self.tuft_weight, self.tuft_delay_ms));
                    if let Some((_, weight, delay)) = &self.opponent {
                        // The same channel's opposite sign: ch ^ 1 (signs alternate + −).
                        wiring.opponent.push(block(s_first(ch ^ 1, f), ps, d_to, pd, *weight, *delay));
                    }
                    let b_first = d_first(ch, f);
                    if channel < sh.d_v {
                        for o in 0..sh.d_out {
                            let w = inputs
                                .w_o
                                .as_ref()
                                .map_or(if o == channel { 1.0 } else { 0.0 }, |m| m.get(o, head * sh.d_v + channel));
                            if w != 0.0 {
                                let relay = relay_first(o, if w > 0.0 { sign } else { -sign });
                                let weight = w.abs() * self.combine_weight;
                                wiring.combine.push(block(b_first, pd, relay, ph, weight, self.combine_delay_ms));
                            }
                        }
                    } else {
                        let relay = anchor_relay_first(head, channel - sh.d_v, sign);
                        wiring.combine.push(block(b_first, pd, relay, ph, self.combine_weight, self.combine_delay_ms));
                    }
                    let kind = if channel < sh.d_v { RowKind::HeadValue } else { RowKind::HeadAnchor };
                    wiring.readout.push(ReadoutRow {
                        population: self.burst_population.clone(),
                        node_first: b_first,
                        node_count: pd,
                        column: 0,
                        query: -1,
                        channel,
                        sign,
                        kind,
                        head,
                        token: -1,
                    });
                }
            }
        }
        let relays = &self.relay_population;
        for o in 0..sh.d_out {
            for sign in [1i8, -1] {
                wiring.readout.push(relay_row(relays, relay_first(o, sign), ph, o, sign, RowKind::Value, 0));
            }
        }
        for head in 0..sh.heads {
            for anchor in 0..ANCHORS.len() {
                for sign in [1i8, -1] {
                    let first = anchor_relay_first(head, anchor, sign);
                    wiring.readout.push(relay_row(relays, first, ph, anchor, sign, RowKind::Anchor, head));
                }
            }
        }
        for (i, row) in wiring.readout.iter_mut().enumerate() {
            row.column = i;
        }
        wiring
    }
}

/// What [`MultiheadParams::wiring`] returns: the blocks of each projection (TOML inline tables)
/// and the readout rows.
#[derive(Debug, Default)]
struct Wiring {
    memory: Vec<String>,
    tuft: Vec<String>,
    opponent: Vec<String>,
    combine: Vec<String>,
    readout: Vec<ReadoutRow>,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn relay_row(
    population: &str,
    first: usize,
    count: usize,
    channel: usize,
    sign: i8,
    kind: RowKind,
    head: usize,
) -> ReadoutRow {
    ReadoutRow {
        population: population.to_string(),
        node_first: first,
        node_count: count,
        column: 0,
        query: -1,
        channel,
        sign,
        kind,
        head,
        token: -1,
    }
}

/// The decoded multihead run: the combined output and every head's.
#[derive(Debug, Clone)]
pub struct MultiheadDecoded {
    pub fit: Option<AnchorFit>,
    /// [n_q, d_out]
    pub y_hat: Matrix,
    pub head_fit: Option<AnchorFit>,
    /// Per head, [n_q, d_v].
    pub y_hat_heads: Vec<Matrix>,
}

/// `relay_diff`: signed spike sums of the relays (and of each head's burst units), one gain and
/// offset per run from the anchors at their values c·m_h(q) (see the module documentation).
pub fn decode(prepared: &Prepared, counts: &Matrix, d_out: usize, d_v: usize) -> MultiheadDecoded {
    let n_q = counts.rows();
    let heads = prepared.anchor_mass.len();
    let mut out = Matrix::zeros(n_q, d_out);
    let mut per_head = vec![Matrix::zeros(n_q, d_v); heads];
    // raw anchor outputs [stage][head][anchor][query]; stage 0 relays, 1 burst units.
    let mut anchors = vec![vec![vec![vec![0.0; n_q]; ANCHORS.len()]; heads]; 2];
    for row in &prepared.readout {
        for q in 0..n_q {
            let c = f64::from(row.sign) * counts.get(q, row.column);
            match row.kind {
                RowKind::Value => out.set(q, row.channel, out.get(q, row.channel) + c),
                RowKind::HeadValue => {
                    let m = &mut per_head[row.head];
                    m.set(q, row.channel, m.get(q, row.channel) + c);
                }
                RowKind::Anchor => anchors[0][row.head][row.channel][q] += c,
                RowKind::HeadAnchor => anchors[1][row.head][row.channel - d_v][q] += c,
                RowKind::Probe => {}
            }
        }
    }
    let fit_stage = |stage: usize| {
        let mut pairs = Vec::new();
        for (head, per_anchor) in anchors[stage].iter().enumerate() {
            for (a, raw) in per_anchor.iter().enumerate() {
                for (q, &x) in raw.iter().enumerate() {
                    pairs.push((x, ANCHORS[a] * prepared.anchor_mass[head][q]));
                }
            }
        }
        AnchorFit::fit(&pairs)
    };
    // A silent readout (a control without bursts) decodes to the anchors' mean value, 0.
    let apply = |fit: Option<AnchorFit>, raw: &Matrix| {
        fit.map_or_else(|| Matrix::zeros(raw.rows(), raw.cols()), |f| f.apply(raw))
    };
    let (fit, head_fit) = (fit_stage(0), fit_stage(1));
    MultiheadDecoded {
        fit,
        y_hat: apply(fit, &out),
        head_fit,
        y_hat_heads: per_head.iter().map(|m| apply(head_fit, m)).collect(),
    }
}
