//! `attention.h5` (format `laminar-attention/1`): everything a run compared, for offline
//! analysis. The layout (every dataset float64 unless said):
//!
//! - root attributes: `format`, `circuit`, `baseline` ("" for none), `version`, `seed`,
//!   `threads`, `beta`, `beta_eff`, `decoder`, `wall_s`, `simulated_ms`, `primary`, `passed`
//!   (the primary r_c met the circuit's target);
//! - `/inputs/{q,k,v,W_O}`: the inputs verbatim (a leading `[H]` with several heads);
//! - `/encoding`: attributes `feature_map`, `c`, `rate_max_hz`, `clip_fraction`; `omega` [m, d]
//!   (random features); `phi_q`, `phi_k` as presented;
//! - `/timing`: `write_windows_ms` [n, 2], `read_windows_ms` [n_q, 2], attribute `settle_ms`;
//! - `/readout`: one row per decoded cell group: `population` (strings), `node_first`,
//!   `node_count`, `column`, `query`, `channel`, `sign`, `head`, `token` (int64), `kind`
//!   (strings: value, anchor, probe, head_value, head_anchor);
//! - `/output`: `counts` [n_q, n_columns] (int64), `rates_hz`, `y_hat` [n_q, d_out];
//!   attributes `decoder_gain`, `decoder_offset`;
//! - `/reference/{softmax, kernel, linear_unnormalized, uniform, softmax_beta_eff}` [n_q, d_out];
//! - multihead: `/output/y_hat_heads` [H, n_q, d_v] (each head's output before the heads are
//!   combined, decoded from the heads' anchors), `/reference/linear_unnormalized_heads` [H, n_q, d_v] (each head's
//!   Σ_j (φ(q)·φ(k_j)) v_j) and `/metrics/heads/<h>` attributes as `/metrics/<reference>`;
//! - `/weights/{implied, softmax, kernel}` [(H,) n_q, n] (NaN where not measured);
//! - `/metrics/<reference>` attributes `r_c`, `r_raw`, `R2`, `rel_err`;
//!   `/metrics/weights/<reference>` attributes `r`, `r_c` (the query-dependent part: each
//!   token's weights centred across queries), `kl`, `top1`.

use std::path::Path;

use laminar_record::{ArrayFileWriter, AttrValue};

use crate::Error;
use crate::circuit::ReadoutRow;
use crate::encoding::FeatureMap;
use crate::harness::AttentionRun;
use crate::matrix::Matrix;

pub const FORMAT: &str = "laminar-attention/1";

/// The r_c the circuit's primary metric must reach for `passed` (the issue's per-seed floor).
pub fn target_r_c(circuit: &str) -> f64 {
    match circuit {
        "astro" => 0.90,
        "column" => 0.70,
        "multihead" => 0.85,
        _ => f64::NAN,
    }
}

fn stacked(mats: &[&Matrix]) -> (Vec<usize>, Vec<f64>) {
    let [rows, cols] = mats[0].shape();
    let data: Vec<f64> = mats.iter().flat_map(|m| m.data().iter().copied()).collect();
    if mats.len() > 1 { (vec![mats.len(), rows, cols], data) } else { (vec![rows, cols], data) }
}

/// Writes `dir/attention.h5`.
pub fn write_attention(dir: &Path, run: &AttentionRun) -> Result<(), Error> {
    let w = ArrayFileWriter::create(&dir.join("attention.h5"))?;
    let s = |v: &str| AttrValue::Str(v.to_string());
    let primary_r_c = run.primary_r_c();
    let root: Vec<(&str, AttrValue)> = vec![
        ("format", s(FORMAT)),
        ("circuit", s(run.circuit)),
        ("baseline", s(run.baseline.name_or_empty())),
        ("version", s(env!("CARGO_PKG_VERSION"))),
        ("seed", AttrValue::I64(run.seed as i64)),
        ("threads", AttrValue::I64(run.threads as i64)),
        ("beta", AttrValue::F64(run.inputs.beta)),
        ("beta_eff", AttrValue::F64(run.beta_eff)),
        ("decoder", s(run.decoder)),
        ("wall_s", AttrValue::F64(run.wall_s)),
        ("simulated_ms", AttrValue::F64(run.simulated_ms)),
        ("primary", s(run.primary)),
        ("passed", AttrValue::Bool(primary_r_c >= target_r_c(run.circuit))),
    ];
    for (name, value) in &root {
        w.attr("", name, value)?;
    }

    let heads = &run.inputs.heads;
    for (name, pick) in [("q", 0usize), ("k", 1), ("v", 2)] {
        let mats: Vec<&Matrix> = heads.iter().map(|h| [&h.q, &h.k, &h.v][pick]).collect();
        let (shape, data) = stacked(&mats);
        w.write_f64(&format!("inputs/{name}"), &shape, &data)?;
    }
    if let Some(wo) = &run.inputs.w_o {
        w.write_f64("inputs/W_O", &wo.shape(), wo.data())?;
    }

    let p = &run.prepared;
    w.group("encoding")?;
    w.attr("encoding", "feature_map", &s(p.feature_map.name()))?;
    w.attr("encoding", "rate_max_hz", &AttrValue::F64(p.rate_max_hz))?;
    w.attr("encoding", "clip_fraction", &AttrValue::F64(p.clip_fraction))?;
    if let FeatureMap::PrfExp(f) = &p.feature_map {
        w.attr("encoding", "c", &AttrValue::F64(f.c))?;
        w.write_f64("encoding/omega", &f.omega.shape(), f.omega.data())?;
    }
    w.write_f64("encoding/phi_q", &p.phi_q.shape(), p.phi_q.data())?;
    w.write_f64("encoding/phi_k", &p.phi_k.shape(), p.phi_k.data())?;

    let windows = |ws: &[(f64, f64)]| -> Vec<f64> { ws.iter().flat_map(|&(a, b)| [a, b]).collect() };
    let t = &p.timing;
    w.write_f64("timing/write_windows_ms", &[t.write_windows_ms.len(), 2], &windows(&t.write_windows_ms))?;
    w.write_f64("timing/read_windows_ms", &[t.read_windows_ms.len(), 2], &windows(&t.read_windows_ms))?;
    w.attr("timing", "settle_ms", &AttrValue::F64(t.settle_ms))?;

    let rows = &p.readout;
    w.write_strings("readout/population", &rows.iter().map(|r| r.population.clone()).collect::<Vec<_>>())?;
    w.write_strings("readout/kind", &rows.iter().map(|r| r.kind.name().to_string()).collect::<Vec<_>>())?;
    type Column = fn(&ReadoutRow) -> i64;
    let ints: [(&str, Column); 8] = [
        ("node_first", |r| r.node_first as i64),
        ("node_count", |r| r.node_count as i64),
        ("column", |r| r.column as i64),
        ("query", |r| r.query),
        ("channel", |r| r.channel as i64),
        ("sign", |r| i64::from(r.sign)),
        ("head", |r| r.head as i64),
        ("token", |r| r.token),
    ];
    for (name, get) in ints {
        w.write_i64(&format!("readout/{name}"), &[rows.len()], &rows.iter().map(get).collect::<Vec<_>>())?;
    }

    let counts: Vec<i64> = run.counts.data().iter().map(|&c| c as i64).collect();
    w.write_i64("output/counts", &run.counts.shape(), &counts)?;
    let count_s: Vec<f64> = t.read_windows_ms.iter().map(|&(a, b)| (b - a) / 1000.0).collect();
    let rates = Matrix::from_fn(run.counts.rows(), run.counts.cols(), |q, c| {
        let cells = rows.iter().find(|r| r.column == c).map_or(1, |r| r.node_count) as f64;
        run.counts.get(q, c) / cells / count_s[q]
    });
    w.write_f64("output/rates_hz", &rates.shape(), rates.data())?;
    w.write_f64("output/y_hat", &run.y_hat.shape(), run.y_hat.data())?;
    let (gain, offset) = run.fit.map_or((f64::NAN, f64::NAN), |f| (f.gain, f.offset));
    w.attr("output", "decoder_gain", &AttrValue::F64(gain))?;
    w.attr("output", "decoder_offset", &AttrValue::F64(offset))?;

    let r = &run.references;
    for (name, m) in [
        ("softmax", &r.softmax),
        ("kernel", &r.kernel),
        ("linear_unnormalized", &r.linear_unnormalized),
        ("uniform", &r.uniform),
        ("softmax_beta_eff", &run.softmax_beta_eff),
    ] {
        w.write_f64(&format!("reference/{name}"), &m.shape(), m.data())?;
    }
    for (name, mats) in [
        ("implied", run.implied_weights.iter().collect::<Vec<_>>()),
        ("softmax", r.softmax_weights.iter().collect()),
        ("kernel", r.kernel_weights.iter().collect()),
    ] {
        let (shape, data) = stacked(&mats);
        w.write_f64(&format!("weights/{name}"), &shape, &data)?;
    }
    for (name, m) in &run.metrics {
        let g = format!("metrics/{name}");
        w.group(&g)?;
        for (attr, v) in [("r_c", m.r_c), ("r_raw", m.r_raw), ("R2", m.r2), ("rel_err", m.rel_err)] {
            w.attr(&g, attr, &AttrValue::F64(v))?;
        }
    }
    if !run.y_hat_heads.is_empty() {
        let (shape, data) = stacked(&run.y_hat_heads.iter().collect::<Vec<_>>());
        let mut shape3 = shape.clone();
        if shape3.len() == 2 {
            shape3.insert(0, 1);
        }
        w.write_f64("output/y_hat_heads", &shape3, &data)?;
        let (_, refs) = stacked(&run.head_references.iter().collect::<Vec<_>>());
        w.write_f64("reference/linear_unnormalized_heads", &shape3, &refs)?;
        for (h, m) in run.head_metrics.iter().enumerate() {
            let g = format!("metrics/heads/{h}");
            w.group(&g)?;
            for (attr, v) in [("r_c", m.r_c), ("r_raw", m.r_raw), ("R2", m.r2), ("rel_err", m.rel_err)] {
                w.attr(&g, attr, &AttrValue::F64(v))?;
            }
        }
    }
    for (name, m) in &run.weight_metrics {
        let g = format!("metrics/weights/{name}");
        w.group(&g)?;
        for (attr, v) in [("r", m.r), ("r_c", m.r_c), ("kl", m.kl), ("top1", m.top1)] {
            w.attr(&g, attr, &AttrValue::F64(v))?;
        }
    }
    w.finish()?;
    Ok(())
}

/// The metrics table the command prints.
pub fn metrics_table(run: &AttentionRun) -> String {
    let mut text = format!(
        "{} circuit{}: n = {}, n_q = {}, d = {}, d_v = {}, seed {}, {} thread{}, {:.0} ms simulated in {:.1} s\n",
        run.circuit,
        if run.baseline.name_or_empty().is_empty() {
            String::new()
        } else {
            format!(" (baseline {})", run.baseline.name())
        },
        run.inputs.n_tokens(),
        run.inputs.n_queries(),
        run.inputs.dim(),
        run.inputs.dim_v(),
        run.seed,
        run.threads,
        if run.threads == 1 { "" } else { "s" },
        run.simulated_ms,
        run.wall_s,
    );
    text.push_str(&format!("  {:<22} {:>7} {:>7} {:>7} {:>8}\n", "reference", "r_c", "r_raw", "R2", "rel_err"));
    for (name, m) in &run.metrics {
        let mark = if *name == run.primary { " (primary)" } else { "" };
        text.push_str(&format!(
            "  {:<22} {:>7.3} {:>7.3} {:>7.3} {:>8.3}{mark}\n",
            name, m.r_c, m.r_raw, m.r2, m.rel_err
        ));
    }
    for (name, m) in &run.weight_metrics {
        text.push_str(&format!(
            "  weights vs {:<16} r {:.3} (r_c {:.3}), KL {:.3}, top-1 {:.2}\n",
            name, m.r, m.r_c, m.kl, m.top1
        ));
    }
    for (h, m) in run.head_metrics.iter().enumerate() {
        text.push_str(&format!(
            "  head {h} vs its own linear_unnormalized: r_c {:.3}, r_raw {:.3}, R2 {:.3}\n",
            m.r_c, m.r_raw, m.r2
        ));
    }
    text.push_str(&format!(
        "  beta_eff {:.3} (beta {:.3}); decoder {}: gain {:.5}, offset {:.4}; clip fraction {:.4}\n",
        run.beta_eff,
        run.inputs.beta,
        run.decoder,
        run.fit.map_or(f64::NAN, |f| f.gain),
        run.fit.map_or(f64::NAN, |f| f.offset),
        run.prepared.clip_fraction
    ));
    text
}
