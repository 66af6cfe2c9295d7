//! The areas and columns of a description: their names, centres and radii on the cortical
//! sheet (µm), from `[[column.areas]]` or the single-area shorthand `columns = [...]`.

use crate::description::*;
use crate::{ColumnError, err};

use super::{AREA_OFFSET_UM, DEFAULT_SPACING_UM, check_name, suggest};

/// One column: its name (none for the only column of an unnamed area) and its centre (µm).
#[derive(Debug, Clone)]
pub(super) struct Column {
    pub(super) name: Option<String>,
    pub(super) centre: [f64; 2],
}

/// One area: its columns and their radius (µm).
#[derive(Debug, Clone)]
pub(super) struct Area {
    pub(super) name: Option<String>,
    pub(super) columns: Vec<Column>,
    pub(super) radius: f64,
}

impl Area {
    /// The mean of the column centres (where per-area nuclei are placed).
    pub(super) fn centroid(&self) -> [f64; 2] {
        let n = self.columns.len() as f64;
        let sum = self.columns.iter().fold([0.0, 0.0], |a, c| [a[0] + c.centre[0], a[1] + c.centre[1]]);
        [sum[0] / n, sum[1] / n]
    }
}

/// The areas a description declares, checked (names, counts, positions, radii).
pub(super) fn areas(d: &Description) -> Result<Vec<Area>, ColumnError> {
    let line = |n: usize, spacing: f64, origin: [f64; 2]| -> Vec<[f64; 2]> {
        (0..n).map(|i| [origin[0] + spacing * i as f64, origin[1]]).collect()
    };
    if d.areas.is_empty() {
        return Ok(vec![match &d.columns {
            None => Area { name: None, columns: vec![Column { name: None, centre: [0.0, 0.0] }], radius: 150.0 },
            Some(c) if c.is_empty() => return Err(err("column.columns", "lists no column")),
            Some(c) if c.len() == 1 => {
                Area { name: None, columns: vec![Column { name: None, centre: [0.0, 0.0] }], radius: 150.0 }
            }
            Some(c) => {
                for (i, name) in c.iter().enumerate() {
                    if c[..i].contains(name) {
                        return Err(err(format!("column.columns.{i}"), format!("column `{name}` is listed twice")));
                    }
                    check_name(name, &format!("column.columns.{i}"))?;
                }
                let centres = line(c.len(), DEFAULT_SPACING_UM, [0.0, 0.0]);
                Area {
                    name: None,
                    columns: c
                        .iter()
                        .zip(centres)
                        .map(|(n, centre)| Column { name: Some(n.clone()), centre })
                        .collect(),
                    radius: DEFAULT_SPACING_UM / 2.0,
                }
            }
        }]);
    }
    if d.columns.is_some() {
        return Err(err("column.columns", "give the columns in [[column.areas]] (`columns = N` or a list of names)"));
    }
    let mut out: Vec<Area> = Vec::new();
    for (ai, a) in d.areas.iter().enumerate() {
        let f = format!("column.areas.{ai}");
        check_name(&a.name, &format!("{f}.name"))?;
        if out.iter().any(|o| o.name.as_deref() == Some(a.name.as_str())) {
            return Err(err(format!("{f}.name"), format!("area `{}` is declared twice", a.name)));
        }
        let names: Vec<String> = match &a.columns {
            ColumnsSpec::Count(n) => {
                if !(*n >= 1.0 && n.fract() == 0.0 && *n <= 100_000.0) {
                    return Err(err(format!("{f}.columns"), format!("= {n}: must be an integer >= 1")));
                }
                (0..*n as usize).map(|i| format!("c{i}")).collect()
            }
            ColumnsSpec::Names(v) => {
                if v.is_empty() {
                    return Err(err(format!("{f}.columns"), "lists no column"));
                }
                for (i, name) in v.iter().enumerate() {
                    check_name(name, &format!("{f}.columns.{i}"))?;
                    if v[..i].contains(name) {
                        return Err(err(format!("{f}.columns.{i}"), format!("column `{name}` is listed twice")));
                    }
                }
                v.clone()
            }
        };
        let spacing = a.spacing_um.unwrap_or(DEFAULT_SPACING_UM);
        if !(spacing.is_finite() && spacing > 0.0) {
            return Err(err(format!("{f}.spacing_um"), "must be a finite number > 0 µm"));
        }
        let origin = a.origin_um.unwrap_or([0.0, AREA_OFFSET_UM * ai as f64]);
        if !origin.iter().all(|v| v.is_finite()) {
            return Err(err(format!("{f}.origin_um"), "must be two finite numbers (µm)"));
        }
        let centres = match &a.positions_um {
            None => line(names.len(), spacing, origin),
            Some(p) => {
                if p.len() != names.len() {
                    return Err(err(
                        format!("{f}.positions_um"),
                        format!("has {} positions: give one [x, y] per column ({})", p.len(), names.len()),
                    ));
                }
                if !p.iter().flatten().all(|v| v.is_finite()) {
                    return Err(err(format!("{f}.positions_um"), "must be finite numbers (µm)"));
                }
                p.iter().map(|c| [c[0] + origin[0], c[1] + origin[1]]).collect()
            }
        };
        let radius = a.column_radius_um.unwrap_or(spacing / 2.0);
        if !(radius.is_finite() && radius >= 0.0) {
            return Err(err(format!("{f}.column_radius_um"), "must be a finite number >= 0 µm"));
        }
        out.push(Area {
            name: Some(a.name.clone()),
            columns: names.into_iter().zip(centres).map(|(n, centre)| Column { name: Some(n), centre }).collect(),
            radius,
        });
    }
    Ok(out)
}

/// The index of the area called `name`; an error at `field` naming the known areas otherwise.
pub(super) fn area_index(areas: &[Area], name: &str, field: &str) -> Result<usize, ColumnError> {
    areas.iter().position(|a| a.name.as_deref() == Some(name)).ok_or_else(|| {
        let names: Vec<&str> = areas.iter().filter_map(|a| a.name.as_deref()).collect();
        if names.is_empty() {
            err(field, format!("no area `{name}`: the description declares no [[column.areas]]"))
        } else {
            err(field, format!("no area `{name}`{}; areas: {}", suggest(name, &names), names.join(", ")))
        }
    })
}
