//! The populations of an expansion: every cell type (per column, ordered by layer) and thalamic
//! nucleus (per column or per area), scaled by `n_scaling`, with the cell defaults merged in.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::description::*;
use crate::{ColumnError, err};

use super::areas::Area;
use super::{Expanded, Instances, Placement, PopulationOut, Slot, check_name, prefixed, round_count, suggest};

/// Cell-type names in population order: by layer (file order), then by name.
pub(super) fn ordered_types(d: &Description) -> Result<Vec<&str>, ColumnError> {
    let mut out = Vec::new();
    let layer_names: Vec<&str> = d.layers.iter().map(|l| l.name.as_str()).collect();
    for (i, l) in d.layers.iter().enumerate() {
        if layer_names[..i].contains(&l.name.as_str()) {
            return Err(err(format!("column.layers.{i}.name"), format!("layer `{}` is declared twice", l.name)));
        }
        if let Some([top, bottom]) = l.depth_um
            && !(top.is_finite() && bottom.is_finite() && top < bottom)
        {
            return Err(err(format!("column.layers.{i}.depth_um"), "must be [top, bottom] with top < bottom (µm)"));
        }
    }
    for (name, t) in &d.cell_types {
        check_name(name, &format!("column.cell_types.{name}"))?;
        if !layer_names.contains(&t.layer.as_str()) {
            return Err(err(
                format!("column.cell_types.{name}.layer"),
                format!(
                    "= {:?}: no such layer{}; layers: {}",
                    t.layer,
                    suggest(&t.layer, &layer_names),
                    layer_names.join(", ")
                ),
            ));
        }
    }
    for l in &d.layers {
        out.extend(d.cell_types.iter().filter(|(_, t)| t.layer == l.name).map(|(n, _)| n.as_str()));
    }
    Ok(out)
}

/// What every cell type and nucleus shares for the expansion.
pub(super) struct Unit<'a> {
    pub(super) name: &'a str,
    /// Neurons per instance at full scale.
    pub(super) count: f64,
    model: Option<&'a String>,
    update: Option<&'a String>,
    params: &'a Map<String, Value>,
    initial: &'a BTreeMap<String, DistSpec>,
    /// The full-scale rate (Hz), which the DC compensation of scaled in-degrees needs.
    pub(super) full_rate_hz: Option<f64>,
    /// One instance per column or per area.
    pub(super) per: Per,
    /// The cortical layer; `None` for thalamic nuclei.
    layer: Option<&'a str>,
    /// The description's field of the cell type or nucleus.
    pub(super) field: String,
}

/// The cell types (in population order) and the enabled thalamus's nuclei, checked.
pub(super) fn units<'a>(d: &'a Description, types: &[&'a str]) -> Result<Vec<Unit<'a>>, ColumnError> {
    let mut units: Vec<Unit> = Vec::new();
    for t in types {
        let ct = &d.cell_types[*t];
        units.push(Unit {
            name: t,
            count: ct.count,
            model: ct.model.as_ref(),
            update: ct.update.as_ref(),
            params: &ct.params,
            initial: &ct.initial,
            full_rate_hz: ct.full_rate_hz,
            per: Per::Column,
            layer: Some(ct.layer.as_str()),
            field: format!("column.cell_types.{t}"),
        });
    }
    let nuclei = d.thalamus.as_ref().filter(|t| t.enabled).map(|t| &t.nuclei);
    for (name, n) in nuclei.into_iter().flatten() {
        let field = format!("column.thalamus.nuclei.{name}");
        check_name(name, &field)?;
        if d.cell_types.contains_key(name) {
            return Err(err(field, format!("`{name}` is already a cell type: give the nucleus another name")));
        }
        units.push(Unit {
            name,
            count: n.count,
            model: n.model.as_ref(),
            update: n.update.as_ref(),
            params: &n.params,
            initial: &n.initial,
            full_rate_hz: n.full_rate_hz,
            per: n.per,
            layer: None,
            field,
        });
    }
    for u in &units {
        if !(u.count >= 1.0 && u.count.fract() == 0.0 && u.count < 4.3e9) {
            return Err(err(format!("{}.count", u.field), format!("= {}: must be an integer >= 1", u.count)));
        }
        if let Some(r) = u.full_rate_hz
            && !(r.is_finite() && r >= 0.0)
        {
            return Err(err(format!("{}.full_rate_hz", u.field), "must be a finite number >= 0 Hz"));
        }
    }
    for t in types {
        if let Some(k) = d.cell_types[*t].k_ext
            && !(k.is_finite() && k >= 0.0)
        {
            return Err(err(format!("column.cell_types.{t}.k_ext"), "must be a finite number >= 0"));
        }
    }
    Ok(units)
}

/// The unit called `name` (resolved earlier, so it exists).
pub(super) fn unit<'u, 'a>(units: &'u [Unit<'a>], name: &str) -> &'u Unit<'a> {
    units.iter().find(|u| u.name == name).expect("resolved unit")
}

/// Adds the populations: area by area, column by column (cell types by layer, then per-column
/// nuclei), then the area's per-area nuclei. Returns where each unit's instances are.
pub(super) fn populations(
    d: &Description,
    areas: &[Area],
    units: &[Unit],
    n_scaling: f64,
    out: &mut Expanded,
) -> Result<Instances, ColumnError> {
    let mut instances = Instances { by_unit: BTreeMap::new() };
    for (ai, area) in areas.iter().enumerate() {
        let per_column = (0..area.columns.len())
            .flat_map(|ci| units.iter().filter(|u| u.per == Per::Column).map(move |u| (u, Some(ci))));
        let per_area = units.iter().filter(|u| u.per == Per::Area).map(|u| (u, None));
        for (u, column) in per_column.chain(per_area) {
            let slot = Slot { area: ai, column };
            out.populations.push(population(d, area, u, slot, n_scaling)?);
            instances.by_unit.insert((u.name.to_string(), slot), out.populations.len() - 1);
        }
    }
    Ok(instances)
}

/// One instance of a unit: its name, model, size, parameters and placement.
fn population(
    d: &Description,
    area: &Area,
    u: &Unit,
    slot: Slot,
    n_scaling: f64,
) -> Result<PopulationOut, ColumnError> {
    let column = slot.column.map(|c| &area.columns[c]);
    let col_name = column.and_then(|c| c.name.as_deref());
    let name = prefixed(&[area.name.as_deref(), col_name], u.name);
    let model = u.model.cloned().or_else(|| d.cell_defaults.model.clone()).ok_or_else(|| {
        err(format!("{}.model", u.field), "missing: a neuron model (here or in column.cell_defaults.model)")
    })?;
    let size = round_count(u.count * n_scaling);
    if size == 0 {
        return Err(err(
            format!("{}.count", u.field),
            format!("{} × n_scaling {n_scaling} rounds to 0 neurons: raise n_scaling", u.count),
        ));
    }
    // The default parameters belong to the default model: a type with another model starts from
    // that model's own defaults.
    let mut params =
        if Some(&model) == d.cell_defaults.model.as_ref() { d.cell_defaults.params.clone() } else { Map::new() };
    for (k, v) in u.params {
        params.insert(k.clone(), v.clone());
    }
    let initial = u
        .initial
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.to_dist(&format!("{}.initial.{k}", u.field))?)))
        .collect::<Result<Vec<_>, ColumnError>>()?;
    let depth = u.layer.and_then(|l| d.layers.iter().find(|x| x.name == l)).and_then(|l| l.depth_um);
    // The default update scheme belongs to the default model, as its parameters do.
    let update = match u.update {
        Some(own) => Some((own.clone(), format!("{}.update", u.field))),
        None => d
            .cell_defaults
            .update
            .clone()
            .filter(|_| Some(&model) == d.cell_defaults.model.as_ref())
            .map(|scheme| (scheme, "column.cell_defaults.update".to_string())),
    };
    Ok(PopulationOut {
        name,
        column: col_name.map(str::to_string),
        cell_type: u.name.to_string(),
        model,
        update,
        size: size as usize,
        params,
        initial,
        placement: Placement {
            layer: u.layer.map(str::to_string),
            cell_type: u.name.to_string(),
            area: area.name.clone(),
            column: col_name.map(str::to_string),
            column_index: slot.column.filter(|_| col_name.is_some()).map(|c| c as u32),
            centre_um: column.map_or_else(|| area.centroid(), |c| c.centre),
            radius_um: if column.is_some() { area.radius } else { 0.0 },
            depth_um: depth,
            role: if u.layer.is_some() { "cortex" } else { "thalamus" },
        },
        field: u.field.clone(),
    })
}
