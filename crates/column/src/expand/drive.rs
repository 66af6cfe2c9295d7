//! The drive of the cortical populations that the connection tables do not give: the external
//! background (`[column.background]`: K_ext Poisson sources per neuron, or its mean as a DC
//! current), and the DC compensation of scaled in-degrees (van Albada et al. 2015): when
//! in-degrees are scaled by k < 1 and weights by 1/√k, each population receives
//! `(1 − √k) · τ_syn · Σ w̄ K ν` (pA; ms·pA·Hz ÷ 1000) as extra `I_e`, over every recurrent
//! stream (at full-scale in-degrees and rates) and the Poisson background, so that the mean input
//! stays that of the full-scale network.

use serde_json::{Map, Value};

use crate::description::*;
use crate::{ColumnError, err};

use super::populations::{Unit, unit};
use super::projections::ProjectionWriter;
use super::{DeviceOut, Expanded, round_count};

/// The background's settings, checked.
pub(super) fn check_background(d: &Description) -> Result<(), ColumnError> {
    let Some(bg) = &d.background else { return Ok(()) };
    if !(bg.rate_hz.is_finite() && bg.rate_hz >= 0.0) {
        return Err(err("column.background.rate_hz", "must be a finite number >= 0 Hz"));
    }
    if !bg.weight.is_finite() {
        return Err(err("column.background.weight", "must be a finite number"));
    }
    if !(bg.delay_ms.is_finite() && bg.delay_ms > 0.0) {
        return Err(err("column.background.delay_ms", "must be a finite number > 0 ms"));
    }
    Ok(())
}

/// Each population's K_ext: its cell type's, for cortical populations; `None` otherwise.
fn k_exts(d: &Description, out: &Expanded) -> Vec<Option<f64>> {
    out.populations
        .iter()
        .map(|p| d.cell_types.get(&p.cell_type).filter(|_| p.placement.role == "cortex").and_then(|c| c.k_ext))
        .collect()
}

/// Adds the DC terms to each population's `I_e`: the `dc` background and the compensation of
/// scaled in-degrees (over the projections `writer` wrote, at full scale).
pub(super) fn add_dc_terms(
    d: &Description,
    units: &[Unit],
    writer: &ProjectionWriter,
    k_scaling: f64,
    out: &mut Expanded,
) -> Result<(), ColumnError> {
    let tau_syn = |pi: usize| -> Result<f64, ColumnError> {
        let p = &out.populations[pi];
        p.params.get("tau_syn_ex").and_then(Value::as_f64).ok_or_else(|| {
            err(
                format!("{}.params.tau_syn_ex", p.field),
                "missing: the DC terms (background mode \"dc\" or the DC compensation) need the \
                 synaptic time constant tau_syn_ex (ms)",
            )
        })
    };
    let k_ext = k_exts(d, out);
    let mut dc = vec![0.0; out.populations.len()];
    if let Some(bg) = &d.background
        && bg.mode == BackgroundMode::Dc
    {
        for pi in 0..out.populations.len() {
            if let Some(k_ext) = k_ext[pi] {
                dc[pi] += 0.001 * tau_syn(pi)? * bg.weight * k_ext * bg.rate_hz;
            }
        }
    }
    if k_scaling != 1.0 && d.dc_compensation {
        let input = full_scale_input(d, units, writer, k_scaling, out, &k_ext)?;
        let sqrt_k = k_scaling.sqrt();
        for pi in 0..out.populations.len() {
            if input[pi] != 0.0 {
                dc[pi] += 0.001 * tau_syn(pi)? * (1.0 - sqrt_k) * input[pi];
            }
        }
    }
    for (p, extra) in out.populations.iter_mut().zip(&dc) {
        if *extra != 0.0 {
            let base = p.params.get("I_e").and_then(Value::as_f64).unwrap_or(0.0);
            p.params.insert("I_e".into(), Value::from(base + extra));
        }
    }
    Ok(())
}

/// Σ w̄ K ν per population at full scale (pA·Hz): every projection's mean weight × full-scale
/// in-degree × its source's full-scale rate, plus the Poisson background's w K_ext ν.
fn full_scale_input(
    d: &Description,
    units: &[Unit],
    writer: &ProjectionWriter,
    k_scaling: f64,
    out: &Expanded,
    k_ext: &[Option<f64>],
) -> Result<Vec<f64>, ColumnError> {
    let index: std::collections::BTreeMap<&str, usize> =
        out.populations.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
    let mut input = vec![0.0; out.populations.len()];
    for (j, p) in out.projections.iter().enumerate() {
        let source = unit(units, &writer.source_units[j]);
        let rate = source.full_rate_hz.ok_or_else(|| {
            err(
                format!("{}.full_rate_hz", source.field),
                format!(
                    "missing: the DC compensation at k_scaling = {k_scaling} needs the full-scale rate of \
                     every source (or set column.dc_compensation = false)"
                ),
            )
        })?;
        let target = index[p.target.as_str()];
        let full_indegree = p.full_synapses / unit(units, &out.populations[target].cell_type).count;
        input[target] += writer.full_weight_means[j] * full_indegree * rate;
    }
    if let Some(bg) = &d.background
        && bg.mode == BackgroundMode::Poisson
    {
        for (pi, k) in k_ext.iter().enumerate() {
            if let Some(k_ext) = k {
                input[pi] += bg.weight * k_ext * bg.rate_hz;
            }
        }
    }
    Ok(input)
}

/// The Poisson background of every cortical population: one generator at K_ext·k_scaling times
/// the background rate, its weight scaled by 1/√k_scaling.
pub(super) fn add_background(d: &Description, k_scaling: f64, out: &mut Expanded) {
    let Some(bg) = d.background.as_ref().filter(|bg| bg.mode == BackgroundMode::Poisson) else { return };
    let k_ext = k_exts(d, out);
    for (pi, k_ext) in k_ext.into_iter().enumerate() {
        let Some(k_ext) = k_ext else { continue };
        let k = round_count(k_ext * k_scaling);
        if k == 0 || bg.rate_hz == 0.0 {
            continue;
        }
        let p = &out.populations[pi];
        let mut params = Map::new();
        params.insert("rate".into(), Value::from(bg.rate_hz * k as f64));
        out.devices.push(DeviceOut {
            name: format!("background->{}", p.name),
            model: "poisson_generator".into(),
            params,
            target: p.name.clone(),
            weight: bg.weight / k_scaling.sqrt(),
            delay_ms: bg.delay_ms,
            receptor: None,
            field: format!("column.cell_types.{}.k_ext", p.cell_type),
        });
    }
}
