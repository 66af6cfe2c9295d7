//! The expansion of a description into populations, projections and devices (see the crate
//! docs for the language and the scaling rules).

use std::collections::BTreeMap;

use laminar_engine::{Dist, Rule};
use laminar_models::registry;
use serde_json::{Map, Value};

use crate::description::*;
use crate::{ColumnError, err};

// ---------------------------------------------------------------- outputs

/// Where a population sits in the circuit (what recordings and exports group nodes by).
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// The cortical layer; `None` for thalamic nuclei and inputs.
    pub layer: Option<String>,
    /// The cell type, nucleus or input name.
    pub cell_type: String,
    pub area: Option<String>,
    pub column: Option<String>,
    pub column_index: Option<u32>,
    /// The centre of the column (or of the area, for per-area nuclei), µm.
    pub centre_um: [f64; 2],
    /// Cells are placed uniformly in a disc of this radius around the centre (µm).
    pub radius_um: f64,
    /// `[top, bottom]` depth range of the layer, µm below the pia (when the layer declares it).
    pub depth_um: Option<[f64; 2]>,
    /// What the population is: `"cortex"`, `"thalamus"` or `"input"`.
    pub role: &'static str,
}

/// A population to create.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationOut {
    pub name: String,
    /// The column's name, when the circuit has several columns.
    pub column: Option<String>,
    pub cell_type: String,
    pub model: String,
    /// The update scheme asked for (`event-driven`, `clock-driven`) and the field that asked
    /// for it (the cell type's or the cell defaults'); `None`: the model's default.
    pub update: Option<(String, String)>,
    pub size: usize,
    /// The model's parameters (defaults merged, DC compensation added to `I_e`).
    pub params: Map<String, Value>,
    pub initial: Vec<(String, Dist)>,
    pub placement: Placement,
    /// The description's field the population comes from.
    pub field: String,
}

/// What kind of stream a projection belongs to (for tables and exports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stream {
    /// The column template's connection table.
    Intra,
    /// Horizontal connections between columns of an area.
    Tangential,
    /// Between areas.
    Interareal,
    /// To, from or within the thalamus.
    Thalamic,
    /// From a spike-train input.
    Input,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Intra => "intra",
            Stream::Tangential => "tangential",
            Stream::Interareal => "interareal",
            Stream::Thalamic => "thalamic",
            Stream::Input => "input",
        }
    }
}

/// A projection to create (populations by name).
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionOut {
    pub name: String,
    pub source: String,
    pub target: String,
    pub rule: Rule,
    pub weight: Dist,
    pub delay: Dist,
    /// The receptor by name (`compartment_receptor` when both are given).
    pub receptor: Option<String>,
    pub autapses: bool,
    pub multapses: bool,
    /// Full-scale number of synapses of the pair (for reports and the DC compensation).
    pub full_synapses: f64,
    pub stream: Stream,
    /// The entry's `kind` label (`feedback` …), when it has one.
    pub label: Option<String>,
    /// Distance between the column centres, for tangential projections (µm).
    pub distance_um: Option<f64>,
    pub field: String,
}

/// A device to create (a Poisson background, a per-column input).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceOut {
    pub name: String,
    pub model: String,
    pub params: Map<String, Value>,
    pub target: String,
    pub weight: f64,
    pub delay_ms: f64,
    pub receptor: Option<String>,
    pub field: String,
}

/// What a description expands to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expanded {
    pub populations: Vec<PopulationOut>,
    pub projections: Vec<ProjectionOut>,
    pub devices: Vec<DeviceOut>,
}

// ---------------------------------------------------------------- helpers

/// numpy's `round` (half to even), so that scaled counts match the PyNEST example.
fn round_count(x: f64) -> u64 {
    x.round_ties_even().max(0.0) as u64
}

/// The number of synapses drawn with replacement among `n_pre·n_post` pairs that leaves each
/// pair connected with probability `c` (Potjans & Diesmann 2014, eq. 1).
pub fn total_from_probability(c: f64, n_pre: f64, n_post: f64) -> f64 {
    if c <= 0.0 {
        return 0.0;
    }
    let pairs = n_pre * n_post;
    (1.0 - c).ln() / ((pairs - 1.0) / pairs).ln()
}

/// The default distance between neighbouring column centres (µm): about the width of a
/// cortical (macro)column (Mountcastle 1997, Brain 120:701).
const DEFAULT_SPACING_UM: f64 = 300.0;
/// The default distance between areas on the (plotting) sheet, µm.
const AREA_OFFSET_UM: f64 = 5000.0;

fn check_scaling(n: f64, k: f64) -> Result<(), ColumnError> {
    for (name, v) in [("n_scaling", n), ("k_scaling", k)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(err(name, format!("= {v}: must be a finite number > 0")));
        }
    }
    Ok(())
}

fn suggest(word: &str, candidates: &[&str]) -> String {
    registry::closest(word, candidates).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default()
}

/// A receptor name from `receptor` and `compartment` (`<compartment>_<receptor>` when both).
fn receptor_name(receptor: &Option<String>, compartment: &Option<String>) -> Option<String> {
    match (compartment, receptor) {
        (Some(c), Some(r)) => Some(format!("{c}_{r}")),
        (Some(c), None) => Some(c.clone()),
        (None, r) => r.clone(),
    }
}

fn resolve(set: &TypeSet, names: &[&str], field: &str, what: &str) -> Result<Vec<String>, ColumnError> {
    let listed: Vec<&str> = match set {
        TypeSet::One(s) if s == "all" => return Ok(names.iter().map(|s| s.to_string()).collect()),
        TypeSet::One(s) => vec![s.as_str()],
        TypeSet::Many(v) => v.iter().map(String::as_str).collect(),
    };
    if listed.is_empty() {
        return Err(err(field, format!("lists no {what}")));
    }
    for n in &listed {
        if !names.contains(n) {
            return Err(err(field, format!("no {what} `{n}`{}; known: {}", suggest(n, names), names.join(", "))));
        }
    }
    Ok(listed.iter().map(|s| s.to_string()).collect())
}

// ---------------------------------------------------------------- connection blocks

/// One (source type, target type) entry of a connection table, at full scale.
#[derive(Debug, Clone)]
struct Pair {
    source: String,
    target: String,
    kind: &'static str,
    value: f64,
    weight: Dist,
    delay: Dist,
    receptor: Option<String>,
    autapses: bool,
    multapses: bool,
    field: String,
    /// The entry the pair comes from (its index in its list).
    entry: usize,
}

/// A connection-table entry, whatever list it comes from.
struct Block<'a> {
    source: &'a TypeSet,
    target: &'a TypeSet,
    rule: Option<(&'static str, &'a Table)>,
    weight: Option<&'a DistSpec>,
    weight_factor: Option<f64>,
    delay: Option<&'a DistSpec>,
    receptor: Option<String>,
    autapses: Option<bool>,
    multapses: Option<bool>,
}

/// The pairs of a list of blocks; a block without a rule refines the pairs defined before it.
fn pairs(blocks: &[Block], names: &[&str], base: &str, what: &str) -> Result<Vec<Pair>, ColumnError> {
    let mut out: Vec<Pair> = Vec::new();
    for (i, c) in blocks.iter().enumerate() {
        let base = format!("{base}.{i}");
        let sources = resolve(c.source, names, &format!("{base}.source"), what)?;
        let targets = resolve(c.target, names, &format!("{base}.target"), what)?;
        let factor = match c.weight_factor {
            Some(f) if !f.is_finite() => return Err(err(format!("{base}.weight_factor"), "must be a finite number")),
            Some(f) => f,
            None => 1.0,
        };
        let weight = c.weight.map(|w| w.to_dist(&format!("{base}.weight"))).transpose()?;
        let delay = c.delay.map(|w| w.to_dist(&format!("{base}.delay_ms"))).transpose()?;
        if let Some(d) = delay
            && d.mean() <= 0.0
        {
            return Err(err(format!("{base}.delay_ms"), "must be > 0 ms"));
        }
        let Some((kind, table)) = c.rule else {
            let mut hit = false;
            for p in out.iter_mut().filter(|p| sources.contains(&p.source) && targets.contains(&p.target)) {
                hit = true;
                if let Some(w) = weight {
                    p.weight = w;
                }
                p.weight = scale_dist(p.weight, factor);
                if let Some(dl) = delay {
                    p.delay = dl;
                }
                if c.receptor.is_some() {
                    p.receptor = c.receptor.clone();
                }
                p.autapses = c.autapses.unwrap_or(p.autapses);
                p.multapses = c.multapses.unwrap_or(p.multapses);
            }
            if !hit {
                return Err(err(
                    &base,
                    "has no `rule` (so it refines earlier entries), but no earlier entry connects these types",
                ));
            }
            continue;
        };
        let weight = weight.ok_or_else(|| err(format!("{base}.weight"), "missing: the weight of the synapses"))?;
        let weight = scale_dist(weight, factor);
        let delay = delay.unwrap_or(Dist::Constant(1.0));
        let rfield = if kind == "tangential" { format!("{base}.probability") } else { format!("{base}.rule.{kind}") };
        let kind = if kind == "tangential" { "probability" } else { kind };
        if let Table::Matrix(rows) = table {
            if rows.len() != targets.len() {
                return Err(err(
                    &rfield,
                    format!("has {} rows: give one row per target ({})", rows.len(), targets.len()),
                ));
            }
            if let Some((r, row)) = rows.iter().enumerate().find(|(_, row)| row.len() != sources.len()) {
                return Err(err(
                    format!("{rfield}.{r}"),
                    format!("has {} values: give one per source ({})", row.len(), sources.len()),
                ));
            }
        }
        for (ti, target) in targets.iter().enumerate() {
            for (si, source) in sources.iter().enumerate() {
                let (value, vfield) = match table {
                    Table::Scalar(v) => (*v, rfield.clone()),
                    Table::Matrix(rows) => (rows[ti][si], format!("{rfield}.{ti}.{si}")),
                };
                let ok = match kind {
                    "probability" => (0.0..=1.0).contains(&value),
                    "connection_probability_total" => (0.0..1.0).contains(&value),
                    _ => value.is_finite() && value >= 0.0 && value.fract() == 0.0,
                };
                if !ok {
                    let allowed = match kind {
                        "probability" => "a probability in [0, 1]",
                        "connection_probability_total" => "a connection probability in [0, 1)",
                        _ => "an integer >= 0",
                    };
                    return Err(err(vfield, format!("= {value}: must be {allowed} ({source} -> {target})")));
                }
                if value == 0.0 {
                    continue;
                }
                out.push(Pair {
                    source: source.clone(),
                    target: target.clone(),
                    kind,
                    value,
                    weight,
                    delay,
                    receptor: c.receptor.clone(),
                    autapses: c.autapses.unwrap_or(true),
                    multapses: c.multapses.unwrap_or(true),
                    field: vfield,
                    entry: i,
                });
            }
        }
    }
    Ok(out)
}

fn circuit_blocks(entries: &[CircuitEntry]) -> Vec<Block<'_>> {
    entries
        .iter()
        .map(|c| Block {
            source: &c.source,
            target: &c.target,
            rule: Some(c.rule.parts()),
            weight: Some(&c.weight),
            weight_factor: None,
            delay: c.delay_ms.as_ref(),
            receptor: receptor_name(&c.receptor, &c.compartment),
            autapses: c.autapses,
            multapses: c.multapses,
        })
        .collect()
}

// ---------------------------------------------------------------- instances

#[derive(Debug, Clone)]
struct Column {
    name: Option<String>,
    centre: [f64; 2],
}

#[derive(Debug, Clone)]
struct Area {
    name: Option<String>,
    columns: Vec<Column>,
    radius: f64,
}

impl Area {
    fn centroid(&self) -> [f64; 2] {
        let n = self.columns.len() as f64;
        let sum = self.columns.iter().fold([0.0, 0.0], |a, c| [a[0] + c.centre[0], a[1] + c.centre[1]]);
        [sum[0] / n, sum[1] / n]
    }
}

fn areas(d: &Description) -> Result<Vec<Area>, ColumnError> {
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

/// Names become parts of population names: they must be usable as TOML keys and path segments.
fn check_name(name: &str, field: &str) -> Result<(), ColumnError> {
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.parse::<f64>().is_err();
    if ok { Ok(()) } else { Err(err(field, format!("= {name:?}: use letters, digits, `_` or `-` (not a number)"))) }
}

fn prefixed(parts: &[Option<&str>], name: &str) -> String {
    let mut s = String::new();
    for p in parts.iter().flatten() {
        s.push_str(p);
        s.push('_');
    }
    s.push_str(name);
    s
}

/// Where one instance of a cell type or nucleus lives: an area and, unless per-area, a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Slot {
    area: usize,
    column: Option<usize>,
}

// ---------------------------------------------------------------- the expansion

/// Which populations a cell type or nucleus has, by slot.
struct Instances {
    by_unit: BTreeMap<(String, Slot), usize>,
}

impl Instances {
    fn get(&self, unit: &str, slot: Slot) -> usize {
        self.by_unit[&(unit.to_string(), slot)]
    }
}

/// Cell-type names in population order: by layer (file order), then by name.
fn ordered_types(d: &Description) -> Result<Vec<&str>, ColumnError> {
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
struct Unit<'a> {
    name: &'a str,
    count: f64,
    model: Option<&'a String>,
    update: Option<&'a String>,
    params: &'a Map<String, Value>,
    initial: &'a BTreeMap<String, DistSpec>,
    full_rate_hz: Option<f64>,
    per: Per,
    layer: Option<&'a str>,
    field: String,
}

/// Expands a description at `n_scaling`, `k_scaling` (see the crate docs for the rules).
pub fn expand(d: &Description, n_scaling: f64, k_scaling: f64) -> Result<Expanded, ColumnError> {
    check_scaling(n_scaling, k_scaling)?;
    let types = ordered_types(d)?;
    let areas = areas(d)?;
    let sqrt_k = k_scaling.sqrt();
    let no_nuclei = BTreeMap::new();
    let thalamus = d.thalamus.as_ref().filter(|t| t.enabled);
    let nuclei = thalamus.map_or(&no_nuclei, |t| &t.nuclei);

    // Every cell type and nucleus, in population order within a column.
    let mut units: Vec<Unit> = Vec::new();
    for t in &types {
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
    for (name, n) in nuclei {
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
    let unit = |name: &str| units.iter().find(|u| u.name == name).expect("resolved unit");
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
    for t in &types {
        if let Some(k) = d.cell_types[*t].k_ext
            && !(k.is_finite() && k >= 0.0)
        {
            return Err(err(format!("column.cell_types.{t}.k_ext"), "must be a finite number >= 0"));
        }
    }
    if let Some(bg) = &d.background {
        if !(bg.rate_hz.is_finite() && bg.rate_hz >= 0.0) {
            return Err(err("column.background.rate_hz", "must be a finite number >= 0 Hz"));
        }
        if !bg.weight.is_finite() {
            return Err(err("column.background.weight", "must be a finite number"));
        }
        if !(bg.delay_ms.is_finite() && bg.delay_ms > 0.0) {
            return Err(err("column.background.delay_ms", "must be a finite number > 0 ms"));
        }
    }

    // ---- populations: area by area, column by column (cell types by layer, then per-column
    // nuclei), then the area's per-area nuclei.
    let mut out = Expanded::default();
    let mut instances = Instances { by_unit: BTreeMap::new() };
    for (ai, area) in areas.iter().enumerate() {
        let mut add = |u: &Unit, slot: Slot, out: &mut Expanded| -> Result<(), ColumnError> {
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
            // The default parameters belong to the default model: a type with another model
            // starts from that model's own defaults.
            let mut params = if Some(&model) == d.cell_defaults.model.as_ref() {
                d.cell_defaults.params.clone()
            } else {
                Map::new()
            };
            for (k, v) in u.params {
                params.insert(k.clone(), v.clone());
            }
            let initial = u
                .initial
                .iter()
                .map(|(k, v)| Ok((k.clone(), v.to_dist(&format!("{}.initial.{k}", u.field))?)))
                .collect::<Result<Vec<_>, ColumnError>>()?;
            let layer = u.layer.map(str::to_string);
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
            out.populations.push(PopulationOut {
                name,
                column: col_name.map(str::to_string),
                cell_type: u.name.to_string(),
                model,
                update,
                size: size as usize,
                params,
                initial,
                placement: Placement {
                    layer,
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
            });
            instances.by_unit.insert((u.name.to_string(), slot), out.populations.len() - 1);
            Ok(())
        };
        for ci in 0..area.columns.len() {
            for u in units.iter().filter(|u| u.per == Per::Column) {
                add(u, Slot { area: ai, column: Some(ci) }, &mut out)?;
            }
        }
        for u in units.iter().filter(|u| u.per == Per::Area) {
            add(u, Slot { area: ai, column: None }, &mut out)?;
        }
    }

    // ---- projections
    let mut used_names: BTreeMap<String, usize> = BTreeMap::new();
    // The full-scale mean weight of each projection, for the DC compensation.
    let mut full_weight_means: Vec<f64> = Vec::new();
    let mut source_units: Vec<String> = Vec::new();
    let mut push = |out: &mut Expanded,
                    p: &Pair,
                    (src, tgt): (usize, usize),
                    value: f64,
                    extra_delay: f64,
                    stream: Stream,
                    label: Option<String>,
                    distance: Option<f64>|
     -> Result<(), ColumnError> {
        let (npre, npost) = (unit(&p.source).count, unit(&p.target).count);
        let full_total = match p.kind {
            "probability" => value * npre * npost,
            "indegree" => value * npost,
            "total_number" => value,
            _ => total_from_probability(value, npre, npost),
        };
        let rule = match p.kind {
            "probability" => Rule::PairwiseBernoulli { p: (value * k_scaling / n_scaling).min(1.0) },
            "indegree" => Rule::FixedIndegree { k: round_count(value * k_scaling) },
            _ => Rule::FixedTotalNumber { n: round_count(full_total * n_scaling * k_scaling) },
        };
        let (source, target) = (out.populations[src].name.clone(), out.populations[tgt].name.clone());
        let base = format!("{source}->{target}");
        let repeats = used_names.entry(base.clone()).or_insert(0);
        *repeats += 1;
        let name = if *repeats == 1 { base } else { format!("{base}#{repeats}") };
        full_weight_means.push(p.weight.mean());
        source_units.push(p.source.clone());
        out.projections.push(ProjectionOut {
            name,
            source,
            target,
            rule,
            weight: scale_dist(p.weight, 1.0 / sqrt_k),
            delay: shift_dist(p.delay, extra_delay),
            receptor: p.receptor.clone(),
            autapses: p.autapses,
            multapses: p.multapses,
            full_synapses: full_total,
            stream,
            label,
            distance_um: distance,
            field: p.field.clone(),
        });
        Ok(())
    };

    // The column template's table, in every column.
    let intra_blocks: Vec<Block> = d
        .connections
        .iter()
        .map(|c| Block {
            source: &c.source,
            target: &c.target,
            rule: c.rule.as_ref().map(RuleSpec::parts),
            weight: c.weight.as_ref(),
            weight_factor: c.weight_factor,
            delay: c.delay_ms.as_ref(),
            receptor: receptor_name(&c.receptor, &c.compartment),
            autapses: c.autapses,
            multapses: c.multapses,
        })
        .collect();
    let intra = pairs(&intra_blocks, &types, "column.connections", "cell type")?;
    for (ai, area) in areas.iter().enumerate() {
        for ci in 0..area.columns.len() {
            let slot = Slot { area: ai, column: Some(ci) };
            for p in &intra {
                let pops = (instances.get(&p.source, slot), instances.get(&p.target, slot));
                push(&mut out, p, pops, p.value, 0.0, Stream::Intra, None, None)?;
            }
        }
    }

    // Tangential connections: every ordered pair of distinct columns of an area.
    let area_names: Vec<&str> = areas.iter().filter_map(|a| a.name.as_deref()).collect();
    let tangential_blocks: Vec<Block> = d
        .tangential
        .iter()
        .map(|c| Block {
            source: &c.source,
            target: &c.target,
            rule: Some(("tangential", &c.probability)),
            weight: Some(&c.weight),
            weight_factor: None,
            delay: c.delay_ms.as_ref(),
            receptor: receptor_name(&c.receptor, &c.compartment),
            autapses: None,
            multapses: None,
        })
        .collect();
    let tangential = pairs(&tangential_blocks, &types, "column.tangential", "cell type")?;
    for (i, t) in d.tangential.iter().enumerate() {
        let f = format!("column.tangential.{i}");
        match t.profile {
            Profile::Gaussian { sigma_um: l } | Profile::Exponential { lambda_um: l }
                if !(l.is_finite() && l > 0.0) =>
            {
                return Err(err(format!("{f}.profile"), "the length constant must be a finite number > 0 µm"));
            }
            _ => {}
        }
        if let Some(m) = t.max_distance_um
            && (m.is_nan() || m < 0.0)
        {
            return Err(err(format!("{f}.max_distance_um"), "must be a number >= 0 µm"));
        }
        if let Some(v) = t.velocity_um_per_ms
            && !(v.is_finite() && v > 0.0)
        {
            return Err(err(format!("{f}.velocity_um_per_ms"), "must be a finite number > 0 µm/ms"));
        }
        if let Some(list) = &t.areas {
            for (j, a) in list.iter().enumerate() {
                area_index(&areas, a, &format!("{f}.areas.{j}"), &area_names)?;
            }
        }
    }
    for (ai, area) in areas.iter().enumerate() {
        for (si, sc) in area.columns.iter().enumerate() {
            for (ti, tc) in area.columns.iter().enumerate() {
                if si == ti {
                    continue;
                }
                let distance = (sc.centre[0] - tc.centre[0]).hypot(sc.centre[1] - tc.centre[1]);
                for p in &tangential {
                    let entry = &d.tangential[p.entry];
                    if let Some(list) = &entry.areas
                        && !list.iter().any(|a| area.name.as_deref() == Some(a.as_str()))
                    {
                        continue;
                    }
                    if entry.max_distance_um.is_some_and(|m| distance > m) {
                        continue;
                    }
                    let prob = p.value * entry.profile.factor(distance);
                    if prob <= 0.0 {
                        continue;
                    }
                    let extra = entry.velocity_um_per_ms.map_or(0.0, |v| distance / v);
                    let pops = (
                        instances.get(&p.source, Slot { area: ai, column: Some(si) }),
                        instances.get(&p.target, Slot { area: ai, column: Some(ti) }),
                    );
                    push(&mut out, p, pops, prob, extra, Stream::Tangential, None, Some(distance))?;
                }
            }
        }
    }

    // Interareal projections and thalamic connections: instance pairs by area and mapping.
    let circuit = |entries: &[CircuitEntry], base: &str, names: &[&str], what: &str, interareal: bool| {
        let blocks = circuit_blocks(entries);
        let ps = pairs(&blocks, names, base, what)?;
        let mut links = Vec::new();
        for p in &ps {
            let e = &entries[p.entry];
            let f = format!("{base}.{}", p.entry);
            let area_of = |a: &Option<String>, key: &str| {
                a.as_ref().map(|a| area_index(&areas, a, &format!("{f}.{key}"), &area_names)).transpose()
            };
            let (sa, ta) = (area_of(&e.source_area, "source_area")?, area_of(&e.target_area, "target_area")?);
            if interareal && (sa.is_none() || ta.is_none()) {
                let key = if sa.is_none() { "source_area" } else { "target_area" };
                return Err(err(format!("{f}.{key}"), "missing: an interareal projection names both areas"));
            }
            let area_pairs: Vec<(usize, usize)> = match (sa, ta) {
                (Some(s), Some(t)) => vec![(s, t)],
                (Some(s), None) => vec![(s, s)],
                (None, Some(t)) => vec![(t, t)],
                (None, None) => (0..areas.len()).map(|a| (a, a)).collect(),
            };
            let (sper, tper) = (unit(&p.source).per, unit(&p.target).per);
            for (sa, ta) in area_pairs {
                let (ns, nt) = (areas[sa].columns.len(), areas[ta].columns.len());
                let slots: Vec<(Slot, Slot)> = match (sper, tper) {
                    (Per::Column, Per::Column) => match e.mapping {
                        Mapping::Topographic => {
                            if ns != nt {
                                return Err(err(
                                    format!("{f}.mapping"),
                                    format!(
                                        "topographic mapping needs as many source as target columns ({ns} vs {nt}); \
                                         use mapping = \"all\""
                                    ),
                                ));
                            }
                            (0..ns)
                                .map(|c| (Slot { area: sa, column: Some(c) }, Slot { area: ta, column: Some(c) }))
                                .collect()
                        }
                        Mapping::All => (0..ns)
                            .flat_map(|s| {
                                (0..nt).map(move |t| {
                                    (Slot { area: sa, column: Some(s) }, Slot { area: ta, column: Some(t) })
                                })
                            })
                            .collect(),
                    },
                    (Per::Column, Per::Area) => {
                        (0..ns).map(|c| (Slot { area: sa, column: Some(c) }, Slot { area: ta, column: None })).collect()
                    }
                    (Per::Area, Per::Column) => {
                        (0..nt).map(|c| (Slot { area: sa, column: None }, Slot { area: ta, column: Some(c) })).collect()
                    }
                    (Per::Area, Per::Area) => vec![(Slot { area: sa, column: None }, Slot { area: ta, column: None })],
                };
                for (s, t) in slots {
                    links.push((p.clone(), s, t, e.kind.clone()));
                }
            }
        }
        Ok::<_, ColumnError>(links)
    };
    for (p, s, t, label) in circuit(&d.interareal, "column.interareal", &types, "cell type", true)? {
        let pops = (instances.get(&p.source, s), instances.get(&p.target, t));
        push(&mut out, &p, pops, p.value, 0.0, Stream::Interareal, label, None)?;
    }
    if let Some(th) = thalamus {
        let all: Vec<&str> = units.iter().map(|u| u.name).collect();
        for (p, s, t, label) in
            circuit(&th.connections, "column.thalamus.connections", &all, "cell type or nucleus", false)?
        {
            let pops = (instances.get(&p.source, s), instances.get(&p.target, t));
            push(&mut out, &p, pops, p.value, 0.0, Stream::Thalamic, label, None)?;
        }
    }

    // ---- DC terms per population: the "dc" background and the compensation of scaled
    // in-degrees (van Albada et al. 2015), over every recurrent stream onto the population.
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
    let k_exts: Vec<Option<f64>> = out
        .populations
        .iter()
        .map(|p| d.cell_types.get(&p.cell_type).filter(|_| p.placement.role == "cortex").and_then(|c| c.k_ext))
        .collect();
    let k_ext = |pi: usize| k_exts[pi];
    let mut dc = vec![0.0; out.populations.len()];
    if let Some(bg) = &d.background
        && bg.mode == BackgroundMode::Dc
    {
        for pi in 0..out.populations.len() {
            if let Some(k_ext) = k_ext(pi) {
                dc[pi] += 0.001 * tau_syn(pi)? * bg.weight * k_ext * bg.rate_hz;
            }
        }
    }
    if k_scaling != 1.0 && d.dc_compensation {
        let index: BTreeMap<&str, usize> =
            out.populations.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
        let mut input = vec![0.0; out.populations.len()];
        for (j, p) in out.projections.iter().enumerate() {
            let source = unit(&source_units[j]);
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
            let full_indegree = p.full_synapses / unit(&out.populations[target].cell_type).count;
            input[target] += full_weight_means[j] * full_indegree * rate;
        }
        for pi in 0..out.populations.len() {
            if let Some(bg) = &d.background
                && bg.mode == BackgroundMode::Poisson
                && let Some(k_ext) = k_ext(pi)
            {
                input[pi] += bg.weight * k_ext * bg.rate_hz;
            }
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

    // ---- devices: the background of every cortical population, then the inputs.
    if let Some(bg) = &d.background
        && bg.mode == BackgroundMode::Poisson
    {
        for pi in 0..out.populations.len() {
            let Some(k_ext) = k_ext(pi) else { continue };
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
                weight: bg.weight / sqrt_k,
                delay_ms: bg.delay_ms,
                receptor: None,
                field: format!("column.cell_types.{}.k_ext", p.cell_type),
            });
        }
    }
    inputs(d, &areas, &area_names, &units.iter().map(|u| (u.name, u.per)).collect::<Vec<_>>(), &instances, &mut out)?;
    Ok(out)
}

/// Every value a per-column table holds (for checks that need not know the column count).
fn per_column_values(v: &PerColumn) -> Vec<f64> {
    match v {
        PerColumn::All(x) => vec![*x],
        PerColumn::Each(list) => list.clone(),
    }
}

fn area_index(areas: &[Area], name: &str, field: &str, names: &[&str]) -> Result<usize, ColumnError> {
    areas.iter().position(|a| a.name.as_deref() == Some(name)).ok_or_else(|| {
        if names.is_empty() {
            err(field, format!("no area `{name}`: the description declares no [[column.areas]]"))
        } else {
            err(field, format!("no area `{name}`{}; areas: {}", suggest(name, names), names.join(", ")))
        }
    })
}

fn shift_dist(d: Dist, by: f64) -> Dist {
    if by == 0.0 {
        return d;
    }
    match d {
        Dist::Constant(v) => Dist::Constant(v + by),
        Dist::Normal { mean, std } => Dist::Normal { mean: mean + by, std },
        Dist::Uniform { low, high } => Dist::Uniform { low: low + by, high: high + by },
        // A lognormal has no location parameter: shift its median instead (exp(mu) + by).
        Dist::LogNormal { mu, sigma } => Dist::LogNormal { mu: (mu.exp() + by).ln(), sigma },
    }
}

/// The `[[column.inputs]]`: one device (or spike-train population and projection) per
/// addressed (area, column).
fn inputs(
    d: &Description,
    areas: &[Area],
    area_names: &[&str],
    units: &[(&str, Per)],
    instances: &Instances,
    out: &mut Expanded,
) -> Result<(), ColumnError> {
    let unit_names: Vec<&str> = units.iter().map(|u| u.0).collect();
    for (i, input) in d.inputs.iter().enumerate() {
        let f = format!("column.inputs.{i}");
        check_name(&input.name, &format!("{f}.name"))?;
        if d.inputs[..i].iter().any(|o| o.name == input.name) {
            return Err(err(format!("{f}.name"), format!("input `{}` is declared twice", input.name)));
        }
        let Some(&(_, per)) = units.iter().find(|u| u.0 == input.target) else {
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
                .map(|(j, a)| area_index(areas, a, &format!("{f}.areas.{j}"), area_names))
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
        // The kind of input, checked once: a generator with one value per column and a window,
        // or one spike train per column.
        let window = |start: Option<f64>, stop: Option<f64>, key: &str| -> Result<(f64, f64), ColumnError> {
            let (a, b) = (start.unwrap_or(0.0), stop.unwrap_or(f64::INFINITY));
            if !(a.is_finite() && a >= 0.0 && b >= a) {
                return Err(err(format!("{f}.{key}"), "needs 0 <= start_ms <= stop_ms"));
            }
            Ok((a, b))
        };
        // (model, parameter, its per-column values, their field, window)
        let generator = if let Some(p) = &input.poisson {
            if per_column_values(&p.rate_hz).iter().any(|r| !(r.is_finite() && *r >= 0.0)) {
                return Err(err(format!("{f}.poisson.rate_hz"), "rates must be finite numbers >= 0 Hz"));
            }
            Some((
                "poisson_generator",
                "rate",
                &p.rate_hz,
                "poisson.rate_hz",
                window(p.start_ms, p.stop_ms, "poisson")?,
            ))
        } else if let Some(p) = &input.dc {
            if per_column_values(&p.amplitude_pa).iter().any(|a| !a.is_finite()) {
                return Err(err(format!("{f}.dc.amplitude_pA"), "amplitudes must be finite numbers (pA)"));
            }
            Some((
                "dc_generator",
                "amplitude",
                &p.amplitude_pa,
                "dc.amplitude_pA",
                window(p.start_ms, p.stop_ms, "dc")?,
            ))
        } else {
            None
        };
        for &ai in &area_list {
            let area = &areas[ai];
            let columns: Vec<Option<usize>> = match (per, &input.columns) {
                (Per::Area, Some(_)) => {
                    return Err(err(
                        format!("{f}.columns"),
                        format!("`{}` is one population per area: it has no columns to address", input.target),
                    ));
                }
                (Per::Area, None) => vec![None],
                (Per::Column, None) => (0..area.columns.len()).map(Some).collect(),
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
                    .collect::<Result<_, _>>()?,
            };
            // One value per addressed column of this area.
            let values: Option<Vec<f64>> = match generator {
                Some((_, _, v, key, _)) => Some(match v {
                    PerColumn::All(x) => vec![*x; columns.len()],
                    PerColumn::Each(list) if list.len() == columns.len() => list.clone(),
                    PerColumn::Each(list) => {
                        return Err(err(
                            format!("{f}.{key}"),
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
                    format!(
                        "has {} trains: give one list of times per addressed column ({})",
                        s.times_ms.len(),
                        columns.len()
                    ),
                ));
            }
            for (k, col) in columns.iter().enumerate() {
                let target_index = instances.get(&input.target, Slot { area: ai, column: *col });
                let target = out.populations[target_index].name.clone();
                if let (Some((model, key, _, _, (start, stop))), Some(values)) = (generator, &values) {
                    let mut params = Map::new();
                    params.insert(key.into(), Value::from(values[k]));
                    params.insert("start".into(), Value::from(start));
                    if stop.is_finite() {
                        params.insert("stop".into(), Value::from(stop));
                    }
                    out.devices.push(DeviceOut {
                        name: format!("input:{}->{target}", input.name),
                        model: model.into(),
                        params,
                        target,
                        weight,
                        delay_ms: delay,
                        receptor: receptor.clone(),
                        field: f.clone(),
                    });
                } else {
                    let trains = &input.spikes.as_ref().expect("one kind").times_ms;
                    let area_name = area.name.as_deref();
                    let col_name = col.and_then(|c| area.columns[c].name.as_deref());
                    let name = prefixed(&[area_name, col_name], &format!("input_{}", input.name));
                    let mut gp = Map::new();
                    gp.insert("spike_times".into(), Value::from(trains[k].clone()));
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
                        weight: Dist::Constant(weight),
                        delay: Dist::Constant(delay),
                        receptor: receptor.clone(),
                        autapses: true,
                        multapses: true,
                        full_synapses: out.populations[target_index].size as f64,
                        stream: Stream::Input,
                        label: None,
                        distance_um: None,
                        field: format!("{f}.spikes"),
                    });
                }
            }
        }
    }
    Ok(())
}
