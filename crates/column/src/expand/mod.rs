//! The expansion of a description into populations, projections and devices (see the crate
//! docs for the language and the scaling rules), in the order [`expand`] takes its steps: the
//! areas and their columns ([`areas`]), the populations ([`populations`]), the projections
//! ([`projections`]), the DC terms and the background ([`drive`]), then the inputs
//! ([`inputs`]). Populations, projections and devices come out in a fixed order (area by area,
//! column by column, the description's order within), which fixes the network's gids and
//! random streams.

use std::collections::BTreeMap;

use laminar_engine::{Dist, Rule};
use laminar_models::registry;
use serde_json::{Map, Value};

use crate::description::*;
use crate::{ColumnError, err};

mod areas;
mod drive;
mod inputs;
mod populations;
mod projections;

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

/// Which populations a cell type or nucleus has, by slot.
struct Instances {
    by_unit: BTreeMap<(String, Slot), usize>,
}

impl Instances {
    fn get(&self, unit: &str, slot: Slot) -> usize {
        self.by_unit[&(unit.to_string(), slot)]
    }
}

// ---------------------------------------------------------------- the expansion

/// Expands a description at `n_scaling`, `k_scaling` (see the crate docs for the rules).
pub fn expand(d: &Description, n_scaling: f64, k_scaling: f64) -> Result<Expanded, ColumnError> {
    check_scaling(n_scaling, k_scaling)?;
    let types = populations::ordered_types(d)?;
    let areas = areas::areas(d)?;
    let units = populations::units(d, &types)?;
    drive::check_background(d)?;
    let mut out = Expanded::default();
    let instances = populations::populations(d, &areas, &units, n_scaling, &mut out)?;
    let mut writer = projections::ProjectionWriter::new(&units, n_scaling, k_scaling);
    projections::intra(d, &types, &areas, &instances, &mut writer, &mut out)?;
    projections::tangential(d, &types, &areas, &instances, &mut writer, &mut out)?;
    projections::circuits(d, &types, &areas, &instances, &mut writer, &mut out)?;
    drive::add_dc_terms(d, &units, &writer, k_scaling, &mut out)?;
    drive::add_background(d, k_scaling, &mut out);
    inputs::inputs(d, &areas, &units, &instances, &mut out)?;
    Ok(out)
}
