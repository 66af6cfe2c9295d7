//! The inputs of an expansion (`[[column.inputs]]`): per addressed (area, column), a Poisson or
//! DC generator with one value per column and a time window, or a spike train (a one-neuron
//! `spike_generator` population projecting to the target instance).

use laminar_engine::{Dist, Rule};
use serde_json::{Map, Value};

use crate::description::*;
use crate::{ColumnError, err};

use super::areas::{Area, area_index};
use super::populations::Unit;
use super::{
    DeviceOut, Expanded, Instances, Placement, PopulationOut, ProjectionOut, Slot, Stream, check_name, prefixed,
    receptor_name, suggest,
};

/// A generator input, checked once: its model, the parameter its per-column values set, those
/// values, their field (below the input's) and the window `[start, stop)` in ms.
#[derive(Clone, Copy)]
struct Generator<'a> {
    model: &'static str,
    parameter: &'static str,
    values: &'a PerColumn,
    key: &'static str,
    window: (f64, f64),
}

/// What every addressed instance of one input gets.
struct Common<'a> {
    input: &'a InputEntry,
    field: String,
    weight: f64,
    delay: f64,
    receptor: Option<String>,
}

/// The `[[column.inputs]]`: one device (or spike-train population and projection) per
/// addressed (area, column).
pub(super) fn inputs(
    d: &Description,
    areas: &[Area],
    units: &[Unit],
    instances: &Instances,
    out: &mut Expanded,
) -> Result<(), ColumnError> {
    let unit_names: Vec<&str> = units.iter().map(|u| u.name).collect();
    for (i, input) in d.inputs.iter().enumerate() {
        let f = format!("column.inputs.{i}");
        check_name(&input.name, &format!("{f}.name"))?;
        if d.inputs[..i].iter().any(|o| o.name == input.name) {
            return Err(err(format!("{f}.name"), format!("input `{}` is declared twice", input.name)));
        }
        let Some(per) = units.iter().find(|u| u.name == input.target).map(|u| u.per) else {
            if d.thalamus.as_ref().is_some_and(|t| !t.enabled && t.nuclei.contains_key(&input.target)) {
                continue; // an input into a nucleus of the disabled thalamus
            }
            return Err(err(
                format!("{f}.target"),
                format!(
                    "no cell type or nucleus `{}`{}; known: {}",
                    input.target,
                    suggest(&input.target, &unit_names),
                    unit_names.join(", ")
                ),
            ));
        };
        let kinds = [input.poisson.is_some(), input.dc.is_some(), input.spikes.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            return Err(err(&f, "give exactly one of `poisson`, `dc` or `spikes`"));
        }
        let area_list: Vec<usize> = match &input.areas {
            None => (0..areas.len()).collect(),
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(j, a)| area_index(areas, a, &format!("{f}.areas.{j}")))
                .collect::<Result<_, _>>()?,
        };
        let delay = input.delay_ms.unwrap_or(1.0);
        if !(delay.is_finite() && delay > 0.0) {
            return Err(err(format!("{f}.delay_ms"), "must be a finite number > 0 ms"));
        }
        let weight = match (input.weight, input.dc.is_some()) {
            (Some(w), _) if w.is_finite() => w,
            (Some(_), _) => return Err(err(format!("{f}.weight"), "must be a finite number")),
            (None, true) => 1.0,
            (None, false) => return Err(err(format!("{f}.weight"), "missing: the weight of the input's synapses")),
        };
        let receptor = receptor_name(&input.receptor, &input.compartment);
        let generator = generator(input, &f)?;
        let common = Common { input, field: f, weight, delay, receptor };
        for &ai in &area_list {
            add_to_area(&common, generator, per, ai, &areas[ai], instances, out)?;
        }
    }
    Ok(())
}

/// The input's generator (`poisson` or `dc`, values and window checked); `None` for spikes.
fn generator<'a>(input: &'a InputEntry, f: &str) -> Result<Option<Generator<'a>>, ColumnError> {
    let window = |start: Option<f64>, stop: Option<f64>, key: &str| -> Result<(f64, f64), ColumnError> {
        let (a, b) = (start.unwrap_or(0.0), stop.unwrap_or(f64::INFINITY));
        if !(a.is_finite() && a >= 0.0 && b >= a) {
            return Err(err(format!("{f}.{key}"), "needs 0 <= start_ms <= stop_ms"));
        }
        Ok((a, b))
    };
    if let Some(p) = &input.poisson {
        if per_column_values(&p.rate_hz).iter().any(|r| !(r.is_finite() && *r >= 0.0)) {
            return Err(err(format!("{f}.poisson.rate_hz"), "rates must be finite numbers >= 0 Hz"));
        }
        Ok(Some(Generator {
            model: "poisson_generator",
            parameter: "rate",
            values: &p.rate_hz,
            key: "poisson.rate_hz",
            window: window(p.start_ms, p.stop_ms, "poisson")?,
        }))
    } else if let Some(p) = &input.dc {
        if per_column_values(&p.amplitude_pa).iter().any(|a| !a.is_finite()) {
            return Err(err(format!("{f}.dc.amplitude_pA"), "amplitudes must be finite numbers (pA)"));
        }
        Ok(Some(Generator {
            model: "dc_generator",
            parameter: "amplitude",
            values: &p.amplitude_pa,
            key: "dc.amplitude_pA",
            window: window(p.start_ms, p.stop_ms, "dc")?,
        }))
    } else {
        Ok(None)
    }
}

/// Every value a per-column table holds (for checks that need not know the column count).
fn per_column_values(v: &PerColumn) -> Vec<f64> {
    match v {
        PerColumn::All(x) => vec![*x],
        PerColumn::Each(list) => list.clone(),
    }
}

/// The columns of `area` an input addresses (`None`: the one instance of a per-area nucleus).
fn addressed_columns(input: &InputEntry, per: Per, area: &Area, f: &str) -> Result<Vec<Option<usize>>, ColumnError> {
    match (per, &input.columns) {
        (Per::Area, Some(_)) => Err(err(
            format!("{f}.columns"),
            format!("`{}` is one population per area: it has no columns to address", input.target),
        )),
        (Per::Area, None) => Ok(vec![None]),
        (Per::Column, None) => Ok((0..area.columns.len()).map(Some).collect()),
        (Per::Column, Some(list)) => list
            .iter()
            .enumerate()
            .map(|(j, c)| {
                if *c >= 0.0 && c.fract() == 0.0 && (*c as usize) < area.columns.len() {
                    Ok(Some(*c as usize))
                } else {
                    Err(err(
                        format!("{f}.columns.{j}"),
                        format!("= {c}: must be a column index 0..{}", area.columns.len()),
                    ))
                }
            })
            .collect(),
    }
}

/// Adds one input's devices (or spike trains) to the addressed instances of area `ai`.
fn add_to_area(
    c: &Common,
    generator: Option<Generator>,
    per: Per,
    ai: usize,
    area: &Area,
    instances: &Instances,
    out: &mut Expanded,
) -> Result<(), ColumnError> {
    let (input, f) = (c.input, &c.field);
    let columns = addressed_columns(input, per, area, f)?;
    // One value per addressed column of this area.
    let values: Option<Vec<f64>> = match generator {
        Some(g) => Some(match g.values {
            PerColumn::All(x) => vec![*x; columns.len()],
            PerColumn::Each(list) if list.len() == columns.len() => list.clone(),
            PerColumn::Each(list) => {
                return Err(err(
                    format!("{f}.{}", g.key),
                    format!("has {} values: give one per addressed column ({})", list.len(), columns.len()),
                ));
            }
        }),
        None => None,
    };
    if let Some(s) = &input.spikes
        && s.times_ms.len() != columns.len()
    {
        return Err(err(
            format!("{f}.spikes.times_ms"),
            format!("has {} trains: give one list of times per addressed column ({})", s.times_ms.len(), columns.len()),
        ));
    }
    for (k, col) in columns.iter().enumerate() {
        let target_index = instances.get(&input.target, Slot { area: ai, column: *col });
        let target = out.populations[target_index].name.clone();
        if let (Some(g), Some(values)) = (generator, &values) {
            let mut params = Map::new();
            params.insert(g.parameter.into(), Value::from(values[k]));
            let (start, stop) = g.window;
            params.insert("start".into(), Value::from(start));
            if stop.is_finite() {
                params.insert("stop".into(), Value::from(stop));
            }
            out.devices.push(DeviceOut {
                name: format!("input:{}->{target}", input.name),
                model: g.model.into(),
                params,
                target,
                weight: c.weight,
                delay_ms: c.delay,
                receptor: c.receptor.clone(),
                field: f.clone(),
            });
        } else {
            let train = &input.spikes.as_ref().expect("one kind").times_ms[k];
            add_spike_train(c, area, *col, train, target_index, out);
        }
    }
    Ok(())
}

/// A spike-train input into one instance: a one-neuron `spike_generator` population and its
/// all-to-all projection onto the target population.
fn add_spike_train(
    c: &Common,
    area: &Area,
    col: Option<usize>,
    train: &[f64],
    target_index: usize,
    out: &mut Expanded,
) {
    let (input, f) = (c.input, &c.field);
    let target = out.populations[target_index].name.clone();
    let col_name = col.and_then(|c| area.columns[c].name.as_deref());
    let name = prefixed(&[area.name.as_deref(), col_name], &format!("input_{}", input.name));
    let mut gp = Map::new();
    gp.insert("spike_times".into(), Value::from(train.to_vec()));
    out.populations.push(PopulationOut {
        name: name.clone(),
        column: col_name.map(str::to_string),
        cell_type: format!("input_{}", input.name),
        model: "spike_generator".into(),
        update: None,
        size: 1,
        params: gp,
        initial: Vec::new(),
        placement: Placement {
            layer: None,
            cell_type: format!("input_{}", input.name),
            area: area.name.clone(),
            column: col_name.map(str::to_string),
            column_index: col.filter(|_| col_name.is_some()).map(|c| c as u32),
            centre_um: col.map_or_else(|| area.centroid(), |c| area.columns[c].centre),
            radius_um: 0.0,
            depth_um: None,
            role: "input",
        },
        field: format!("{f}.spikes"),
    });
    out.projections.push(ProjectionOut {
        name: format!("{name}->{target}"),
        source: name,
        target,
        rule: Rule::AllToAll,
        weight: Dist::Constant(c.weight),
        delay: Dist::Constant(c.delay),
        receptor: c.receptor.clone(),
        autapses: true,
        multapses: true,
        full_synapses: out.populations[target_index].size as f64,
        stream: Stream::Input,
        label: None,
        distance_um: None,
        field: format!("{f}.spikes"),
    });
}
