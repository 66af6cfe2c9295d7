//! The column description: the serde types of the `[column]` table and its parsing.

use std::collections::BTreeMap;

use laminar_engine::Dist;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{ColumnError, err};

// ---------------------------------------------------------------- the description

/// The `[column]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Description {
    /// Column instances; `None` or one name: one column whose populations are named by type.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    pub layers: Vec<Layer>,
    #[serde(default)]
    pub cell_defaults: CellDefaults,
    pub cell_types: BTreeMap<String, CellType>,
    #[serde(default)]
    pub connections: Vec<ConnectionEntry>,
    #[serde(default)]
    pub background: Option<Background>,
    #[serde(default = "yes")]
    pub dc_compensation: bool,
    /// Areas of columns of this template; empty: one area (unnamed) of `columns`.
    #[serde(default)]
    pub areas: Vec<AreaSpec>,
    /// Horizontal connections between the columns of an area, by distance.
    #[serde(default)]
    pub tangential: Vec<TangentialEntry>,
    /// Feedforward and feedback projections between areas.
    #[serde(default)]
    pub interareal: Vec<CircuitEntry>,
    /// Thalamic relay nuclei and their loops with the cortex.
    #[serde(default)]
    pub thalamus: Option<Thalamus>,
    /// Inputs addressed by area and column index (the values, queries and keys of experiments).
    #[serde(default)]
    pub inputs: Vec<InputEntry>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub name: String,
    /// `[top, bottom]` in µm below the pia.
    #[serde(default)]
    pub depth_um: Option<[f64; 2]>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellDefaults {
    #[serde(default)]
    pub model: Option<String>,
    /// How the neurons are updated (`event-driven` or `clock-driven`), for models that offer a
    /// choice, as a population's `update`; a cell type's own `update` wins.
    #[serde(default)]
    pub update: Option<String>,
    #[serde(default)]
    pub params: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellType {
    pub layer: String,
    /// Neurons per column at full scale (an integer >= 1; read as a number so that a wrong
    /// value is reported against this field).
    pub count: f64,
    #[serde(default)]
    pub model: Option<String>,
    /// How the neurons are updated (as a population's `update`).
    #[serde(default)]
    pub update: Option<String>,
    #[serde(default)]
    pub params: Map<String, Value>,
    #[serde(default)]
    pub initial: BTreeMap<String, DistSpec>,
    /// Background (external) in-degree at full scale.
    #[serde(default)]
    pub k_ext: Option<f64>,
    /// The full-scale firing rate (Hz), for the DC compensation of scaled networks.
    #[serde(default)]
    pub full_rate_hz: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackgroundMode {
    Poisson,
    Dc,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Background {
    pub rate_hz: f64,
    pub weight: f64,
    #[serde(default = "one_ms")]
    pub delay_ms: f64,
    #[serde(default = "poisson")]
    pub mode: BackgroundMode,
}

fn one_ms() -> f64 {
    1.0
}
fn poisson() -> BackgroundMode {
    BackgroundMode::Poisson
}

/// One type name, a list of names, or `"all"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TypeSet {
    One(String),
    Many(Vec<String>),
}

/// One number for every pair of a block, or a `[target][source]` matrix.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Table {
    Scalar(f64),
    Matrix(Vec<Vec<f64>>),
}

/// A connection rule of the column language.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleSpec {
    Probability(Table),
    Indegree(Table),
    TotalNumber(Table),
    ConnectionProbabilityTotal(Table),
}

impl RuleSpec {
    pub(crate) fn parts(&self) -> (&'static str, &Table) {
        match self {
            RuleSpec::Probability(t) => ("probability", t),
            RuleSpec::Indegree(t) => ("indegree", t),
            RuleSpec::TotalNumber(t) => ("total_number", t),
            RuleSpec::ConnectionProbabilityTotal(t) => ("connection_probability_total", t),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionEntry {
    pub source: TypeSet,
    pub target: TypeSet,
    #[serde(default)]
    pub rule: Option<RuleSpec>,
    #[serde(default)]
    pub weight: Option<DistSpec>,
    #[serde(default)]
    pub weight_factor: Option<f64>,
    #[serde(default)]
    pub delay_ms: Option<DistSpec>,
    #[serde(default)]
    pub receptor: Option<String>,
    /// The target compartment (`soma`, `basal`, `apical`, a cm_default compartment name).
    #[serde(default)]
    pub compartment: Option<String>,
    #[serde(default)]
    pub autapses: Option<bool>,
    #[serde(default)]
    pub multapses: Option<bool>,
}

/// How an area's columns are placed: a number of columns (named `c0`, `c1`, …) or their names.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ColumnsSpec {
    Count(f64),
    Names(Vec<String>),
}

/// One `[[column.areas]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaSpec {
    pub name: String,
    pub columns: ColumnsSpec,
    /// Distance between neighbouring column centres on the default line layout (µm).
    #[serde(default)]
    pub spacing_um: Option<f64>,
    /// Explicit column centres `[x, y]` (µm), one per column.
    #[serde(default)]
    pub positions_um: Option<Vec<[f64; 2]>>,
    /// Where the area's first column sits (µm); areas are separate sheets, so this only places
    /// the nodes for plots and exports.
    #[serde(default)]
    pub origin_um: Option<[f64; 2]>,
    /// Radius of a column (µm): cells are placed uniformly in a disc of this radius.
    #[serde(default)]
    pub column_radius_um: Option<f64>,
}

/// The distance dependence of tangential connections.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Profile {
    /// `p(d) = p0 · exp(−d² / (2 σ²))`.
    Gaussian { sigma_um: f64 },
    /// `p(d) = p0 · exp(−d / λ)`.
    Exponential { lambda_um: f64 },
}

impl Profile {
    /// The factor multiplying the peak probability at distance `d` (µm).
    pub fn factor(&self, d: f64) -> f64 {
        match *self {
            Profile::Gaussian { sigma_um } => (-d * d / (2.0 * sigma_um * sigma_um)).exp(),
            Profile::Exponential { lambda_um } => (-d / lambda_um).exp(),
        }
    }
}

/// One `[[column.tangential]]` entry: connections between distinct columns of an area.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TangentialEntry {
    pub source: TypeSet,
    pub target: TypeSet,
    /// Connection probability of a (source cell, target cell) pair of two columns at distance 0
    /// (full scale); one number or a `[target][source]` matrix.
    pub probability: Table,
    pub profile: Profile,
    /// Column pairs farther apart get no connection (µm; default: no cut-off).
    #[serde(default)]
    pub max_distance_um: Option<f64>,
    pub weight: DistSpec,
    #[serde(default)]
    pub delay_ms: Option<DistSpec>,
    /// Conduction velocity (µm/ms): adds distance / velocity to every delay.
    #[serde(default)]
    pub velocity_um_per_ms: Option<f64>,
    #[serde(default)]
    pub receptor: Option<String>,
    #[serde(default)]
    pub compartment: Option<String>,
    /// Areas this entry applies to (default: every area).
    #[serde(default)]
    pub areas: Option<Vec<String>>,
}

/// Which columns of two instances connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mapping {
    /// Column i to column i (both areas need the same number of columns).
    #[default]
    Topographic,
    /// Every column of the source area to every column of the target area.
    All,
}

/// A connection between instances: `[[column.interareal]]` and `[[column.thalamus.connections]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitEntry {
    pub source: TypeSet,
    pub target: TypeSet,
    /// Source area (default: each area, or the target's area when only that is given).
    #[serde(default)]
    pub source_area: Option<String>,
    #[serde(default)]
    pub target_area: Option<String>,
    /// A label for tables and exports: "feedforward", "feedback", "driver", "modulator" …
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub mapping: Mapping,
    pub rule: RuleSpec,
    pub weight: DistSpec,
    #[serde(default)]
    pub delay_ms: Option<DistSpec>,
    #[serde(default)]
    pub receptor: Option<String>,
    #[serde(default)]
    pub compartment: Option<String>,
    #[serde(default)]
    pub autapses: Option<bool>,
    #[serde(default)]
    pub multapses: Option<bool>,
}

/// Whether a thalamic nucleus has one population per column or per area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    Column,
    Area,
}

/// One `[column.thalamus.nuclei.<name>]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nucleus {
    pub per: Per,
    pub count: f64,
    #[serde(default)]
    pub model: Option<String>,
    /// How the neurons are updated (as a population's `update`).
    #[serde(default)]
    pub update: Option<String>,
    #[serde(default)]
    pub params: Map<String, Value>,
    #[serde(default)]
    pub initial: BTreeMap<String, DistSpec>,
    #[serde(default)]
    pub full_rate_hz: Option<f64>,
}

/// The `[column.thalamus]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thalamus {
    /// `false` leaves the thalamus out: no nuclei, no thalamic connections, and no inputs into
    /// nuclei (NEST's Potjans_2014 `thalamic_input` switch; `--set column.thalamus.enabled=true`).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    pub nuclei: BTreeMap<String, Nucleus>,
    #[serde(default)]
    pub connections: Vec<CircuitEntry>,
}

fn enabled_by_default() -> bool {
    true
}

/// A value per addressed column: one number for all, or one per column.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PerColumn {
    All(f64),
    Each(Vec<f64>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoissonInput {
    /// Rate of the independent train each target cell receives (Hz).
    pub rate_hz: PerColumn,
    #[serde(default)]
    pub start_ms: Option<f64>,
    #[serde(default)]
    pub stop_ms: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcInput {
    #[serde(rename = "amplitude_pA")]
    pub amplitude_pa: PerColumn,
    #[serde(default)]
    pub start_ms: Option<f64>,
    #[serde(default)]
    pub stop_ms: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeInput {
    /// One spike train per addressed column (ms), sent to every cell of the target.
    pub times_ms: Vec<Vec<f64>>,
}

/// One `[[column.inputs]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputEntry {
    pub name: String,
    /// A cell type or a thalamic nucleus.
    pub target: String,
    /// Areas addressed (default: every area).
    #[serde(default)]
    pub areas: Option<Vec<String>>,
    /// Column indices addressed (default: every column).
    #[serde(default)]
    pub columns: Option<Vec<f64>>,
    #[serde(default)]
    pub poisson: Option<PoissonInput>,
    #[serde(default, rename = "dc")]
    pub dc: Option<DcInput>,
    #[serde(default)]
    pub spikes: Option<SpikeInput>,
    /// Synaptic weight of Poisson and spike inputs.
    #[serde(default)]
    pub weight: Option<f64>,
    #[serde(default)]
    pub delay_ms: Option<f64>,
    #[serde(default)]
    pub receptor: Option<String>,
    #[serde(default)]
    pub compartment: Option<String>,
}

/// A value: a number or a distribution.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DistSpec {
    Constant(f64),
    Drawn(DrawnSpec),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DrawnSpec {
    Normal(NormalSpec),
    Uniform { low: f64, high: f64 },
    Lognormal { mu: f64, sigma: f64 },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalSpec {
    pub mean: f64,
    #[serde(default)]
    pub std: Option<f64>,
    /// Standard deviation as a fraction of |mean|.
    #[serde(default)]
    pub rel_std: Option<f64>,
}

impl DistSpec {
    pub(crate) fn to_dist(&self, field: &str) -> Result<Dist, ColumnError> {
        let finite = |v: f64, what: &str| {
            if v.is_finite() { Ok(v) } else { Err(err(field, format!("{what} must be a finite number"))) }
        };
        Ok(match self {
            DistSpec::Constant(v) => Dist::Constant(finite(*v, "the value")?),
            DistSpec::Drawn(DrawnSpec::Normal(n)) => {
                let mean = finite(n.mean, "mean")?;
                let std = match (n.std, n.rel_std) {
                    (Some(s), None) => s,
                    (None, Some(r)) => r * mean.abs(),
                    (None, None) => return Err(err(field, "normal needs `std` or `rel_std`")),
                    (Some(_), Some(_)) => return Err(err(field, "give `std` or `rel_std`, not both")),
                };
                if !(std.is_finite() && std >= 0.0) {
                    return Err(err(field, "std must be a finite number >= 0"));
                }
                Dist::Normal { mean, std }
            }
            DistSpec::Drawn(DrawnSpec::Uniform { low, high }) => {
                if !(low.is_finite() && high.is_finite() && low <= high) {
                    return Err(err(field, "uniform needs finite low <= high"));
                }
                Dist::Uniform { low: *low, high: *high }
            }
            DistSpec::Drawn(DrawnSpec::Lognormal { mu, sigma }) => {
                if !(mu.is_finite() && sigma.is_finite() && *sigma >= 0.0) {
                    return Err(err(field, "lognormal needs a finite mu and sigma >= 0"));
                }
                Dist::LogNormal { mu: *mu, sigma: *sigma }
            }
        })
    }
}

pub(crate) fn scale_dist(d: Dist, factor: f64) -> Dist {
    match d {
        Dist::Constant(v) => Dist::Constant(v * factor),
        Dist::Normal { mean, std } => Dist::Normal { mean: mean * factor, std: std * factor.abs() },
        Dist::Uniform { low, high } => {
            let (a, b) = (low * factor, high * factor);
            Dist::Uniform { low: a.min(b), high: a.max(b) }
        }
        // exp(N(mu, sigma)) · f = exp(N(mu + ln f, sigma)) for f > 0.
        Dist::LogNormal { mu, sigma } if factor > 0.0 => Dist::LogNormal { mu: mu + factor.ln(), sigma },
        other => other,
    }
}

/// Parses a JSON value (the `[column]` table) into a [`Description`]; errors name the element.
pub fn from_json(value: &Value) -> Result<Description, ColumnError> {
    let Value::Object(map) = value else {
        return Err(err("column", "must be a table"));
    };
    // Per element first, so that a type error names the cell type or connection it is in.
    if let Some(Value::Object(types)) = map.get("cell_types") {
        for (name, v) in types {
            serde_json::from_value::<CellType>(v.clone())
                .map_err(|e| err(format!("column.cell_types.{name}"), friendly(&e.to_string())))?;
        }
    }
    fn check<T: serde::de::DeserializeOwned>(v: &Value, field: String, what: &str) -> Result<(), ColumnError> {
        serde_json::from_value::<T>(v.clone())
            .map(|_| ())
            .map_err(|e| err(field, format!("{what}: {}", friendly(&e.to_string()))))
    }
    for (key, what) in [
        ("connections", "connection"),
        ("layers", "layer"),
        ("areas", "area"),
        ("tangential", "tangential connection"),
        ("interareal", "interareal projection"),
        ("inputs", "input"),
    ] {
        if let Some(Value::Array(items)) = map.get(key) {
            for (i, v) in items.iter().enumerate() {
                let field = format!("column.{key}.{i}");
                match key {
                    "connections" => check::<ConnectionEntry>(v, field, what)?,
                    "layers" => check::<Layer>(v, field, what)?,
                    "areas" => check::<AreaSpec>(v, field, what)?,
                    "tangential" => check::<TangentialEntry>(v, field, what)?,
                    "interareal" => check::<CircuitEntry>(v, field, what)?,
                    _ => check::<InputEntry>(v, field, what)?,
                }
            }
        }
    }
    if let Some(Value::Object(thalamus)) = map.get("thalamus") {
        if let Some(Value::Object(nuclei)) = thalamus.get("nuclei") {
            for (name, v) in nuclei {
                check::<Nucleus>(v, format!("column.thalamus.nuclei.{name}"), "nucleus")?;
            }
        }
        if let Some(Value::Array(items)) = thalamus.get("connections") {
            for (i, v) in items.iter().enumerate() {
                check::<CircuitEntry>(v, format!("column.thalamus.connections.{i}"), "thalamic connection")?;
            }
        }
        check::<Thalamus>(&Value::Object(thalamus.clone()), "column.thalamus".into(), "thalamus")?;
    }
    for key in ["background", "cell_defaults"] {
        if let Some(v) = map.get(key) {
            let r = if key == "background" {
                serde_json::from_value::<Background>(v.clone()).map(|_| ())
            } else {
                serde_json::from_value::<CellDefaults>(v.clone()).map(|_| ())
            };
            r.map_err(|e| err(format!("column.{key}"), friendly(&e.to_string())))?;
        }
    }
    serde_json::from_value(value.clone()).map_err(|e| err("column", friendly(&e.to_string())))
}

/// Parses the `[column]` table of a TOML document and its top-level `n_scaling`, `k_scaling`.
pub fn from_toml_document(text: &str) -> Result<(Description, f64, f64), ColumnError> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| err("", format!("TOML: {e}")))?;
    let json = serde_json::to_value(&doc).map_err(|e| err("", e.to_string()))?;
    let column = json.get("column").ok_or_else(|| err("column", "missing: the [column] table"))?;
    let number = |key: &str| -> Result<f64, ColumnError> {
        match json.get(key) {
            None => Ok(1.0),
            Some(v) => v.as_f64().ok_or_else(|| err(key, "must be a number")),
        }
    };
    Ok((from_json(column)?, number("n_scaling")?, number("k_scaling")?))
}

fn friendly(message: &str) -> String {
    message
        .replace("data did not match any variant of untagged enum DistSpec", "must be a number or { normal = { mean, std | rel_std } }, { uniform = { low, high } }, { lognormal = { mu, sigma } }")
        .replace("data did not match any variant of untagged enum TypeSet", "must be a cell-type name, a list of names, or \"all\"")
        .replace("data did not match any variant of untagged enum Table", "must be a number or a [target][source] matrix of numbers")
        .replace("data did not match any variant of untagged enum ColumnsSpec", "must be a number of columns or a list of column names")
        .replace("data did not match any variant of untagged enum PerColumn", "must be a number or a list with one number per addressed column")
}
