//! The column builder: cortical layers, cell types and laminar connection tables, expanded into
//! populations, projections and devices of the engine.
//!
//! A *column description* (the `[column]` table of a model file) names layers, cell types (a
//! neuron model, parameters, a layer and a count per column) and an intra-column connection
//! table by (source type, target type). [`expand`] turns it, together with the model file's
//! top-level `n_scaling` and `k_scaling`, into plain [`Expanded`] specifications (populations,
//! projections, devices) that [`add_to_builder`] (or the `laminar` model-file loader) adds to a
//! [`NetworkBuilder`]. The Potjans & Diesmann (2014) microcircuit, `models/potjans_diesmann.toml`,
//! is written in this language.
//!
//! # The language
//!
//! ```toml
//! n_scaling = 1.0                 # top level: scales neuron counts (default 1.0)
//! k_scaling = 1.0                 # top level: scales in-degrees (default 1.0)
//!
//! [column]
//! columns = ["c0"]                # optional instance names (default: one unnamed column)
//! dc_compensation = true          # default true: see "Scaling" below
//!
//! [[column.layers]]               # layers, superficial first; populations follow this order
//! name = "L23"
//! depth_um = [0.0, 500.0]         # optional [top, bottom] in µm below the pia
//!
//! [column.cell_defaults]          # optional: model and params every cell type starts from
//! model = "iaf_psc_exp"
//! params = { C_m = 250.0, tau_m = 10.0 }
//!
//! [column.cell_types.L23E]        # one table per cell type; the key is its name
//! layer = "L23"                   # required: a layer name
//! count = 20683                   # required: neurons per column at full scale, >= 1
//! model = "iaf_psc_exp"           # default: cell_defaults.model
//! params = { V_th = -50.0 }       # merged over cell_defaults.params
//! initial = { V_m = { normal = { mean = -68.28, std = 5.36 } } }
//! k_ext = 1600                    # background in-degree (needs [column.background])
//! full_rate_hz = 0.943            # full-scale rate, for the DC compensation
//!
//! [column.background]             # external drive of every cell type with k_ext
//! rate_hz = 8.0                   # rate per external synapse
//! weight = 87.81                  # full-scale weight (pA for iaf_psc_*)
//! delay_ms = 1.5
//! mode = "poisson"                # or "dc": a constant current instead of spikes
//!
//! [[column.connections]]          # a block of the connection table
//! source = ["L23E", "L23I"]       # one type, a list, or "all"
//! target = "all"
//! rule = { connection_probability_total = [[0.1009, 0.1689], ...] }  # [target][source]
//! weight = { normal = { mean = 87.81, rel_std = 0.1 } }
//! delay_ms = { normal = { mean = 1.5, rel_std = 0.5 } }
//! receptor = "ex"                 # optional; default: by the weight's sign
//! autapses = true                 # defaults true (NEST's)
//! multapses = true
//!
//! [[column.connections]]          # an entry without `rule` refines the pairs defined so far
//! source = "L4E"
//! target = "L23E"
//! weight_factor = 2.0             # multiplies mean and std of the weight
//! ```
//!
//! **Rules.** Each rule's value is one number for every (target, source) pair of the block, or
//! a matrix with one row per target and one column per source (the order of `target` and
//! `source`; `"all"` is every cell type in population order). Pairs whose value is 0 get no
//! projection.
//! - `probability = p`: pairwise Bernoulli with probability p.
//! - `indegree = K`: fixed in-degree K.
//! - `total_number = N`: fixed total number N (synapses of the pair at full scale).
//! - `connection_probability_total = C`: fixed total number
//!   `K = ln(1 − C) / ln((N_pre·N_post − 1) / (N_pre·N_post))` (Potjans & Diesmann 2014, eq. 1;
//!   NEST's `helpers.num_synapses_from_conn_probs`): the number of synapses that, drawn
//!   independently with replacement among the N_pre·N_post pairs, leaves a pair connected with
//!   probability C. N are the full-scale counts.
//!
//! **Values** (`weight`, `delay_ms`, `initial`) are a number or `{ normal = { mean, std } }`
//! (or `rel_std`, a fraction of |mean|), `{ uniform = { low, high } }`,
//! `{ lognormal = { mu, sigma } }`. Normal weights are redrawn until they keep the mean's sign,
//! normal delays until they are at least one step (NEST's `redraw`).
//!
//! **Names.** With one column (no `columns`, or a single one) the populations are named after
//! the cell types (`L23E`, …). With several, `<column>_<type>` (`c0_L23E`), and every column
//! gets its own copy of the connection table (no connections between columns yet). Projections
//! are named `<source>-><target>` (`#2`, `#3` for repeated pairs), background devices
//! `background-><population>`. Populations are ordered by layer (the order of
//! `[[column.layers]]`), then by cell-type name.
//!
//! # Scaling
//!
//! As the PyNEST `Potjans_2014` example (`network.py`, `helpers.py`), with `n = n_scaling`,
//! `k = k_scaling`:
//! - neurons: `N = round(N_full · n)` (round half to even, as numpy);
//! - total numbers (`total_number`, `connection_probability_total`):
//!   `round(K_full · n · k)`, i.e. the full-scale in-degree `K_full / N_post,full` scaled by `k`,
//!   times the scaled number of targets; `indegree`: `round(K · k)`; `probability`:
//!   `min(1, p · k / n)` (keeps in-degree ∝ k);
//! - background in-degrees `round(k_ext · k)`;
//! - weights (recurrent and background): mean and std divided by `sqrt(k)`;
//! - DC compensation (when `k ≠ 1` and `dc_compensation`): every population gets
//!   `I_e += 0.001 · tau_syn · (1 − sqrt(k)) · (Σ_s w_full(s→t) · K_full(s→t)/N_t,full · ν_s`
//!   `+ w_ext · k_ext · ν_bg)` pA (the last term with a Poisson background only), with the
//!   full-scale rates ν_s
//!   (`full_rate_hz`), the full-scale mean weights and in-degrees, and `tau_syn` the target's
//!   `tau_syn_ex` (ms). This keeps the mean input of the scaled network at the full-scale
//!   value while the weights grow by `1/sqrt(k)` to keep its variance (van Albada, Helias &
//!   Diesmann 2015, PLoS Comput Biol 11:e1004490).
//! - `mode = "dc"` background: `I_e += 0.001 · tau_syn · w_ext · k_ext · ν_bg` (full-scale
//!   values: the DC replaces the mean of the Poisson input).
//!
//! # References
//! - Potjans TC, Diesmann M (2014) The cell-type specific cortical microcircuit. Cereb Cortex
//!   24(3):785–806, doi:10.1093/cercor/bhs358.
//! - NEST's PyNEST example `Potjans_2014` (network_params.py, stimulus_params.py, helpers.py).
//! - van Albada SJ, Helias M, Diesmann M (2015) Scalability of asynchronous networks is limited
//!   by one-to-one mapping between effective connectivity and correlations.

use std::collections::BTreeMap;
use std::sync::Arc;

use laminar_engine::{BuildError, DeviceEntry, Dist, Initial, NetworkBuilder, Projection, Rule};
use laminar_models::registry;
use serde::Deserialize;
use serde_json::{Map, Value};

// ---------------------------------------------------------------- errors

/// A problem with a column description: the dotted path of the field and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ColumnError {
    /// Dotted path from the document root, e.g. `column.cell_types.L23E.count`.
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> ColumnError {
    ColumnError { field: field.into(), message: message.into() }
}

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
    fn parts(&self) -> (&'static str, &Table) {
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
    #[serde(default)]
    pub autapses: Option<bool>,
    #[serde(default)]
    pub multapses: Option<bool>,
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
    fn to_dist(&self, field: &str) -> Result<Dist, ColumnError> {
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

fn scale_dist(d: Dist, factor: f64) -> Dist {
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
    for (key, what) in [("connections", "connection"), ("layers", "layer")] {
        if let Some(Value::Array(items)) = map.get(key) {
            for (i, v) in items.iter().enumerate() {
                let r = if key == "connections" {
                    serde_json::from_value::<ConnectionEntry>(v.clone()).map(|_| ())
                } else {
                    serde_json::from_value::<Layer>(v.clone()).map(|_| ())
                };
                r.map_err(|e| err(format!("column.{key}.{i}"), format!("{what}: {}", friendly(&e.to_string()))))?;
            }
        }
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
}

// ---------------------------------------------------------------- the expansion

/// A population to create.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationOut {
    pub name: String,
    pub column: Option<String>,
    pub cell_type: String,
    pub model: String,
    pub size: usize,
    /// The model's parameters (defaults merged, DC compensation added to `I_e`).
    pub params: Map<String, Value>,
    pub initial: Vec<(String, Dist)>,
    /// The description's field the population comes from.
    pub field: String,
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
    pub receptor: Option<String>,
    pub autapses: bool,
    pub multapses: bool,
    /// Full-scale number of synapses of the pair (for reports and the DC compensation).
    pub full_synapses: f64,
    pub field: String,
}

/// A device to create (a `poisson_generator` background).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceOut {
    pub name: String,
    pub model: String,
    pub params: Map<String, Value>,
    pub target: String,
    pub weight: f64,
    pub delay_ms: f64,
    pub field: String,
}

/// What a description expands to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expanded {
    pub populations: Vec<PopulationOut>,
    pub projections: Vec<ProjectionOut>,
    pub devices: Vec<DeviceOut>,
}

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

/// One (source type, target type) projection of the connection table, at full scale.
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
}

fn check_scaling(n: f64, k: f64) -> Result<(), ColumnError> {
    for (name, v) in [("n_scaling", n), ("k_scaling", k)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(err(name, format!("= {v}: must be a finite number > 0")));
        }
    }
    Ok(())
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

fn suggest(word: &str, candidates: &[&str]) -> String {
    registry::closest(word, candidates).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default()
}

fn resolve(set: &TypeSet, types: &[&str], field: &str) -> Result<Vec<String>, ColumnError> {
    let names: Vec<&str> = match set {
        TypeSet::One(s) if s == "all" => return Ok(types.iter().map(|s| s.to_string()).collect()),
        TypeSet::One(s) => vec![s.as_str()],
        TypeSet::Many(v) => v.iter().map(String::as_str).collect(),
    };
    if names.is_empty() {
        return Err(err(field, "lists no cell type"));
    }
    for n in &names {
        if !types.contains(n) {
            return Err(err(
                field,
                format!("no cell type `{n}`{}; cell types: {}", suggest(n, types), types.join(", ")),
            ));
        }
    }
    Ok(names.iter().map(|s| s.to_string()).collect())
}

/// The connection table at full scale, one [`Pair`] per nonzero entry.
fn pairs(d: &Description, types: &[&str]) -> Result<Vec<Pair>, ColumnError> {
    let mut out: Vec<Pair> = Vec::new();
    for (i, c) in d.connections.iter().enumerate() {
        let base = format!("column.connections.{i}");
        let sources = resolve(&c.source, types, &format!("{base}.source"))?;
        let targets = resolve(&c.target, types, &format!("{base}.target"))?;
        let factor = match c.weight_factor {
            Some(f) if !f.is_finite() => return Err(err(format!("{base}.weight_factor"), "must be a finite number")),
            Some(f) => f,
            None => 1.0,
        };
        let weight = c.weight.as_ref().map(|w| w.to_dist(&format!("{base}.weight"))).transpose()?;
        let delay = c.delay_ms.as_ref().map(|w| w.to_dist(&format!("{base}.delay_ms"))).transpose()?;
        if let Some(d) = delay
            && d.mean() <= 0.0
        {
            return Err(err(format!("{base}.delay_ms"), "must be > 0 ms"));
        }
        let Some(rule) = &c.rule else {
            // A refinement of the pairs defined so far.
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
        let (kind, table) = rule.parts();
        let rfield = format!("{base}.rule.{kind}");
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
                });
            }
        }
    }
    Ok(out)
}

/// Expands a description at `n_scaling`, `k_scaling` (see the module docs for the rules).
pub fn expand(d: &Description, n_scaling: f64, k_scaling: f64) -> Result<Expanded, ColumnError> {
    check_scaling(n_scaling, k_scaling)?;
    let types = ordered_types(d)?;
    let columns: Vec<Option<String>> = match &d.columns {
        None => vec![None],
        Some(c) if c.is_empty() => return Err(err("column.columns", "lists no column")),
        Some(c) if c.len() == 1 => vec![None],
        Some(c) => {
            for (i, name) in c.iter().enumerate() {
                if c[..i].contains(name) {
                    return Err(err(format!("column.columns.{i}"), format!("column `{name}` is listed twice")));
                }
            }
            c.iter().cloned().map(Some).collect()
        }
    };
    let pop_name = |col: &Option<String>, t: &str| match col {
        None => t.to_string(),
        Some(c) => format!("{c}_{t}"),
    };
    let full_n = |t: &str| d.cell_types[t].count;
    let pairs = pairs(d, &types)?;
    let sqrt_k = k_scaling.sqrt();

    // Full-scale in-degree of each pair, and its synapse count.
    let full = |p: &Pair| -> (f64, f64) {
        let (npre, npost) = (full_n(&p.source), full_n(&p.target));
        let total = match p.kind {
            "probability" => p.value * npre * npost,
            "indegree" => p.value * npost,
            "total_number" => p.value,
            _ => total_from_probability(p.value, npre, npost),
        };
        (total / npost, total)
    };

    // The current added to each cell type (same in every column).
    let mut dc: BTreeMap<&str, f64> = types.iter().map(|t| (*t, 0.0)).collect();
    let tau_syn = |t: &str| -> Result<f64, ColumnError> {
        let ct = &d.cell_types[t];
        ct.params
            .get("tau_syn_ex")
            .or_else(|| d.cell_defaults.params.get("tau_syn_ex"))
            .and_then(Value::as_f64)
            .ok_or_else(|| {
                err(
                    format!("column.cell_types.{t}.params.tau_syn_ex"),
                    "missing: the DC terms (background mode \"dc\" or the DC compensation) need the \
                     synaptic time constant tau_syn_ex (ms)",
                )
            })
    };
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
    for t in &types {
        if let Some(k) = d.cell_types[*t].k_ext
            && !(k.is_finite() && k >= 0.0)
        {
            return Err(err(format!("column.cell_types.{t}.k_ext"), "must be a finite number >= 0"));
        }
        let count = d.cell_types[*t].count;
        if !(count >= 1.0 && count.fract() == 0.0 && count < 4.3e9) {
            return Err(err(format!("column.cell_types.{t}.count"), format!("= {count}: must be an integer >= 1")));
        }
    }
    if let Some(bg) = &d.background
        && bg.mode == BackgroundMode::Dc
    {
        for t in &types {
            if let Some(k_ext) = d.cell_types[*t].k_ext {
                *dc.get_mut(t).expect("type") += 0.001 * tau_syn(t)? * bg.weight * k_ext * bg.rate_hz;
            }
        }
    }
    if k_scaling != 1.0 && d.dc_compensation {
        for t in &types {
            let mut input = 0.0;
            for p in pairs.iter().filter(|p| p.target == *t) {
                let rate = d.cell_types[p.source.as_str()].full_rate_hz.ok_or_else(|| {
                    err(
                        format!("column.cell_types.{}.full_rate_hz", p.source),
                        format!(
                            "missing: the DC compensation at k_scaling = {k_scaling} needs the full-scale rate of \
                             every source type (or set column.dc_compensation = false)"
                        ),
                    )
                })?;
                input += p.weight.mean() * full(p).0 * rate;
            }
            if let Some(bg) = &d.background
                && bg.mode == BackgroundMode::Poisson
                && let Some(k_ext) = d.cell_types[*t].k_ext
            {
                input += bg.weight * k_ext * bg.rate_hz;
            }
            if input != 0.0 {
                *dc.get_mut(t).expect("type") += 0.001 * tau_syn(t)? * (1.0 - sqrt_k) * input;
            }
        }
    }

    let mut out = Expanded::default();
    for col in &columns {
        for t in &types {
            let ct = &d.cell_types[*t];
            let field = format!("column.cell_types.{t}");
            let model = ct.model.clone().or_else(|| d.cell_defaults.model.clone()).ok_or_else(|| {
                err(format!("{field}.model"), "missing: a neuron model (here or in column.cell_defaults.model)")
            })?;
            let size = round_count(ct.count * n_scaling);
            if size == 0 {
                return Err(err(
                    format!("{field}.count"),
                    format!("{} × n_scaling {n_scaling} rounds to 0 neurons: raise n_scaling", ct.count),
                ));
            }
            let mut params = d.cell_defaults.params.clone();
            for (k, v) in &ct.params {
                params.insert(k.clone(), v.clone());
            }
            let extra = dc[*t];
            if extra != 0.0 {
                let base = params.get("I_e").and_then(Value::as_f64).unwrap_or(0.0);
                params.insert("I_e".into(), Value::from(base + extra));
            }
            let initial = ct
                .initial
                .iter()
                .map(|(k, v)| Ok((k.clone(), v.to_dist(&format!("{field}.initial.{k}"))?)))
                .collect::<Result<Vec<_>, ColumnError>>()?;
            out.populations.push(PopulationOut {
                name: pop_name(col, t),
                column: col.clone(),
                cell_type: t.to_string(),
                model,
                size: size as usize,
                params,
                initial,
                field,
            });
        }
        let mut names: Vec<String> = Vec::new();
        for p in &pairs {
            let (source, target) = (pop_name(col, &p.source), pop_name(col, &p.target));
            let base = format!("{source}->{target}");
            let repeats = names.iter().filter(|n| **n == base).count();
            names.push(base.clone());
            let name = if repeats == 0 { base } else { format!("{base}#{}", repeats + 1) };
            let (_, full_total) = full(p);
            let rule = match p.kind {
                "probability" => Rule::PairwiseBernoulli { p: (p.value * k_scaling / n_scaling).min(1.0) },
                "indegree" => Rule::FixedIndegree { k: round_count(p.value * k_scaling) },
                _ => Rule::FixedTotalNumber { n: round_count(full_total * n_scaling * k_scaling) },
            };
            out.projections.push(ProjectionOut {
                name,
                source,
                target,
                rule,
                weight: scale_dist(p.weight, 1.0 / sqrt_k),
                delay: p.delay,
                receptor: p.receptor.clone(),
                autapses: p.autapses,
                multapses: p.multapses,
                full_synapses: full_total,
                field: p.field.clone(),
            });
        }
        if let Some(bg) = &d.background
            && bg.mode == BackgroundMode::Poisson
        {
            for t in &types {
                let Some(k_ext) = d.cell_types[*t].k_ext else { continue };
                let k = round_count(k_ext * k_scaling);
                if k == 0 || bg.rate_hz == 0.0 {
                    continue;
                }
                let target = pop_name(col, t);
                let mut params = Map::new();
                params.insert("rate".into(), Value::from(bg.rate_hz * k as f64));
                out.devices.push(DeviceOut {
                    name: format!("background->{target}"),
                    model: "poisson_generator".into(),
                    params,
                    target,
                    weight: bg.weight / sqrt_k,
                    delay_ms: bg.delay_ms,
                    field: format!("column.cell_types.{t}.k_ext"),
                });
            }
        }
    }
    Ok(out)
}

/// Adds an expansion to `builder` (populations first, in order; then projections and devices).
/// Returns the index of the first population added.
pub fn add_to_builder(e: &Expanded, builder: &mut NetworkBuilder) -> Result<usize, ColumnError> {
    let mut first = None;
    for p in &e.populations {
        let factory = registry::population_factory(&p.model, &p.params, p.size)
            .map_err(|m| err(format!("{}.params", p.field), m))?;
        let index = builder.add_population(&p.name, p.size, factory);
        first.get_or_insert(index);
        for (var, dist) in &p.initial {
            builder
                .set_initial(index, var, Initial::Dist(*dist))
                .map_err(|e| err(format!("{}.initial.{var}", p.field), build_message(e)))?;
        }
    }
    let index = |name: &str, field: &str| {
        builder.population_index(name).ok_or_else(|| err(field, format!("no population `{name}`")))
    };
    let mut projections = Vec::new();
    for p in &e.projections {
        let (source, target) = (index(&p.source, &p.field)?, index(&p.target, &p.field)?);
        let mut proj = Projection::new(&p.name, source, target, p.rule.clone(), p.weight, p.delay);
        proj.autapses = p.autapses;
        proj.multapses = p.multapses;
        if let Some(r) = &p.receptor {
            let info = builder.population_factory(target).info();
            proj.receptor = Some(
                info.receptor_index(r).ok_or_else(|| err(&p.field, format!("{} has no receptor `{r}`", info.name)))?,
            );
        }
        projections.push(proj);
    }
    let mut devices = Vec::new();
    for dv in &e.devices {
        let population = index(&dv.target, &dv.field)?;
        let factory = registry::stimulus_factory(&dv.model, &dv.params).map_err(|m| err(&dv.field, m))?;
        devices.push(DeviceEntry {
            name: dv.name.clone(),
            factory: Arc::clone(&factory),
            population,
            targets: (0..builder.population_size(population) as u64).collect(),
            weight: dv.weight,
            delay_ms: dv.delay_ms,
            receptor: None,
        });
    }
    for p in projections {
        builder.add_projection(p);
    }
    for d in devices {
        builder.add_device(d);
    }
    first.ok_or_else(|| err("column.cell_types", "defines no cell type"))
}

fn build_message(e: BuildError) -> String {
    e.to_string()
}
