//! The attention circuits the harness knows, read from a model file's `[attention]` table.
//!
//! Each circuit is an ordinary model file (its network) plus an `[attention]` table naming the
//! circuit and the populations and projections the harness drives and reads, and the
//! protocol's numbers. The harness adds only what depends on the inputs (see [`Prepared`]).

use laminar_config::{ConfigError, ModelFile, Section};

use crate::astro::AstroParams;
use crate::column::ColumnParams;
use crate::encoding::FeatureMap;
use crate::inputs::Inputs;
use crate::matrix::Matrix;
use crate::multihead::MultiheadParams;
use crate::protocol::Timing;
use crate::reference_column::ReferenceColumnParams;
use crate::{Baseline, Error};

/// A circuit and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Circuit {
    Astro(AstroParams),
    Column(ColumnParams),
    ReferenceColumn(ReferenceColumnParams),
    Multihead(MultiheadParams),
}

/// The circuits' short names (`laminar attention astro`), their model files in the repository,
/// and the copies built into the binary (so a short name works from any directory).
pub const CIRCUITS: &[(&str, &str, &str)] = &[
    ("astro", "models/attention/astro.toml", include_str!("../../../models/attention/astro.toml")),
    ("column", "models/attention/column.toml", include_str!("../../../models/attention/column.toml")),
    ("multihead", "models/attention/multihead.toml", include_str!("../../../models/attention/multihead.toml")),
    (
        "reference_column",
        "models/columns/laminar_column.toml",
        include_str!("../../../models/columns/laminar_column.toml"),
    ),
];

/// The model file of `circuit`, a short name or a path: (the path messages name, its text). A
/// short name is the shipped circuit, built into the binary.
pub fn circuit_source(circuit: &str) -> Result<(std::path::PathBuf, String), Error> {
    if let Some((_, path, text)) = CIRCUITS.iter().find(|c| c.0 == circuit) {
        return Ok((std::path::PathBuf::from(path), text.to_string()));
    }
    let path = std::path::PathBuf::from(circuit);
    if !path.exists() {
        let names: Vec<&str> = CIRCUITS.iter().map(|c| c.0).collect();
        return Err(Error::Invalid(format!(
            "circuit `{circuit}`: neither a circuit name ({}) nor a model file",
            names.join(", ")
        )));
    }
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Read { path: path.clone(), source })?;
    Ok((path, text))
}

impl Circuit {
    /// The circuit the file's `[attention]` table describes.
    pub fn from_model(file: &ModelFile) -> Result<Self, Error> {
        let Some(section) = file.section("attention") else {
            return Err(Error::File {
                path: file.path.clone(),
                message: "has no [attention] table: it is not an attention circuit (see models/attention/)".into(),
            });
        };
        let name =
            section.required_string("circuit", "the circuit's name (astro, column, multihead, reference_column)")?;
        match name {
            "astro" => Ok(Circuit::Astro(astro_params(file, &section)?)),
            "column" => Ok(Circuit::Column(column_params(file, &section)?)),
            "reference_column" => Ok(Circuit::ReferenceColumn(reference_column_params(file, &section)?)),
            "multihead" => Ok(Circuit::Multihead(multihead_params(file, &section)?)),
            other => Err(section
                .error(
                    "circuit",
                    format!("unknown circuit `{other}`; known: astro, column, multihead, reference_column"),
                )
                .into()),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Circuit::Astro(_) => "astro",
            Circuit::Column(_) => "column",
            Circuit::ReferenceColumn(_) => "reference_column",
            Circuit::Multihead(_) => "multihead",
        }
    }

    /// The baselines this circuit offers.
    pub fn baselines(&self) -> &'static [Baseline] {
        match self {
            Circuit::Astro(_) => &[Baseline::NoAstrocyte, Baseline::ShuffledMemory],
            Circuit::Column(_) | Circuit::ReferenceColumn(_) => &[Baseline::PassiveApical, Baseline::ApicalToBasal],
            Circuit::Multihead(_) => &[Baseline::PassiveApical, Baseline::ShuffledMemory],
        }
    }

    /// The reference the circuit is judged against.
    pub fn primary(&self) -> &'static str {
        match self {
            Circuit::Astro(_) => "kernel",
            Circuit::Column(_) | Circuit::ReferenceColumn(_) => "softmax_beta_eff",
            Circuit::Multihead(_) => "linear_unnormalized",
        }
    }

    pub fn decoder(&self) -> &'static str {
        match self {
            Circuit::Astro(_) => "rate_diff",
            Circuit::Column(_) => "burst_ratio",
            Circuit::ReferenceColumn(_) => "spike_share",
            Circuit::Multihead(_) => "relay_diff",
        }
    }

    /// What the readout counts: spikes, or bursts for the decoders that read bursts.
    pub fn count_kind(&self) -> crate::decoding::CountKind {
        match self {
            Circuit::Astro(_) => crate::decoding::CountKind::Spikes,
            Circuit::Column(_) => crate::decoding::CountKind::Bursts,
            Circuit::ReferenceColumn(_) | Circuit::Multihead(_) => crate::decoding::CountKind::Spikes,
        }
    }

    pub fn prepare(
        &self,
        inputs: &Inputs,
        seed: u64,
        resolution_ms: f64,
        baseline: Baseline,
    ) -> Result<Prepared, Error> {
        match self {
            Circuit::Astro(p) => p.prepare(inputs, seed, resolution_ms, baseline),
            Circuit::Column(p) => p.prepare(inputs, resolution_ms, baseline),
            Circuit::ReferenceColumn(p) => p.prepare(inputs, resolution_ms, baseline),
            Circuit::Multihead(p) => p.prepare(inputs, seed, resolution_ms, baseline),
        }
    }
}

/// The population the `[attention]` key `key` names, which the file must have.
fn population_at(file: &ModelFile, s: &Section, key: &str) -> Result<String, Box<ConfigError>> {
    let name = s.required_string(key, "a population of the file")?;
    if file.populations().any(|p| p.0 == name) {
        Ok(name.to_string())
    } else {
        Err(s.error(key, format!("no population named `{name}` in the file")))
    }
}

fn astro_params(file: &ModelFile, s: &Section) -> Result<AstroParams, Box<ConfigError>> {
    s.check_keys(&[
        "circuit",
        "feature_map",
        "features",
        "clip_quantile",
        "feature_population",
        "teacher_population",
        "readout_population",
        "readout_pool",
        "memory_projection",
        "rate_max_hz",
        "teacher_rate_hz",
        "write_ms",
        "settle_ms",
        "count_ms",
        "input_delay_ms",
        "feature_seed",
    ])?;
    if let Some(map) = s.string("feature_map")?
        && map != "prf_exp"
    {
        return Err(s.error("feature_map", "the astro circuit uses \"prf_exp\" (positive random features)"));
    }
    let features = s.count("features", 1, 4096, 512)? as usize;
    let feature_population = s.required_string("feature_population", "the feature cells' population")?.to_string();
    let size = file.populations().find(|p| p.0 == feature_population).map(|p| p.1).ok_or_else(|| {
        s.error("feature_population", format!("no population named `{feature_population}` in the file"))
    })?;
    if size % features != 0 {
        return Err(s.error(
            "features",
            format!("populations.{feature_population}.size = {size} must be a multiple of the features ({features})"),
        ));
    }
    let population = |key: &str| population_at(file, s, key);
    let memory_projection = s.required_string("memory_projection", "the plastic feature -> output projection")?;
    let synapse = |name: &str, default: f64| {
        file.number_at(&format!("projections.{memory_projection}.synapse.{name}")).unwrap_or(default)
    };
    if file.number_at(&format!("projections.{memory_projection}.weight")).is_none() {
        return Err(s.error("memory_projection", format!("no projection named `{memory_projection}` with a weight")));
    }
    Ok(AstroParams {
        features,
        clip_quantile: s.number_in("clip_quantile", 0.5, 1.0, 0.99)?,
        feature_pool: size / features,
        feature_population,
        teacher_population: population("teacher_population")?,
        readout_population: population("readout_population")?,
        readout_pool: s.count("readout_pool", 1, 1024, 8)? as usize,
        memory_projection: memory_projection.to_string(),
        rate_max_hz: s.number_in("rate_max_hz", 1e-3, 1e4, 100.0)?,
        teacher_rate_hz: s.number_in("teacher_rate_hz", 1e-3, 1e4, 200.0)?,
        write_ms: s.number_in("write_ms", 1.0, 1e5, 200.0)?,
        settle_ms: s.number_in("settle_ms", 0.0, 1e5, 1000.0)?,
        count_ms: s.number_in("count_ms", 1.0, 1e5, 500.0)?,
        input_delay_ms: s.number_in("input_delay_ms", 0.0, 1e3, 1.0)?,
        feature_seed: match s.number("feature_seed")? {
            None => None,
            Some(_) => Some(s.count("feature_seed", 0, u64::MAX, 0)?),
        },
        tau_astro: synapse("tau_astro", 1000.0),
        eta_g: synapse("eta_g", 0.0),
        g0: synapse("g", 1.0),
    })
}

fn column_params(file: &ModelFile, s: &Section) -> Result<ColumnParams, Box<ConfigError>> {
    s.check_keys(&[
        "circuit",
        "match_type",
        "value_type",
        "match_cells",
        "value_pool",
        "input_weight_pA",
        "key_rate_hz",
        "query_rate_hz",
        "value_rate_hz",
        "settle_ms",
        "count_ms",
        "input_delay_ms",
    ])?;
    let cell_type = |key: &str| -> Result<String, Box<ConfigError>> {
        let name = s.required_string(key, "a cell type of the [column] table")?;
        if file.number_at(&format!("column.cell_types.{name}.count")).is_some() {
            Ok(name.to_string())
        } else {
            Err(s.error(key, format!("no cell type `{name}` with a count in [column.cell_types]")))
        }
    };
    Ok(ColumnParams {
        match_type: cell_type("match_type")?,
        value_type: cell_type("value_type")?,
        match_cells: s.count("match_cells", 2, 65_536, 256)? as usize,
        value_pool: s.count("value_pool", 1, 4096, 16)? as usize,
        input_weight_pa: s.number_in("input_weight_pA", 0.0, 1e5, 50.0)?,
        key_rate_hz: s.range_in("key_rate_hz", 0.0, 1e5, (1500.0, 3500.0))?,
        query_rate_hz: s.range_in("query_rate_hz", 0.0, 1e5, (0.0, 1600.0))?,
        value_rate_hz: s.range_in("value_rate_hz", 0.0, 1e5, (1500.0, 3500.0))?,
        settle_ms: s.number_in("settle_ms", 0.0, 1e5, 200.0)?,
        count_ms: s.number_in("count_ms", 1.0, 1e5, 800.0)?,
        input_delay_ms: s.number_in("input_delay_ms", 0.0, 1e3, 1.0)?,
    })
}

fn reference_column_params(file: &ModelFile, s: &Section) -> Result<ReferenceColumnParams, Box<ConfigError>> {
    s.check_keys(&[
        "circuit",
        "area",
        "readout_types",
        "value_input",
        "value_target",
        "key_inputs",
        "key_targets",
        "key_receptor",
        "query_input",
        "query_nucleus",
        "query_connection",
        "value_rate_hz",
        "key_rate_hz",
        "query_rate_hz",
        "settle_ms",
        "count_ms",
    ])?;
    let Some(circuit) = file.circuit() else {
        return Err(s.error("circuit", "the reference_column circuit needs a [column] description with areas"));
    };
    let area = s.required_string("area", "the area whose columns are the tokens")?.to_string();
    let in_area = |p: &&laminar_column::PopulationOut| p.placement.area.as_deref() == Some(area.as_str());
    let mut areas: Vec<String> = Vec::new();
    for a in circuit.populations.iter().filter_map(|p| p.placement.area.as_ref()) {
        if !areas.contains(a) {
            areas.push(a.clone());
        }
    }
    // The size of a cell type or per-column nucleus in the area's first column (`per_column`), or
    // of any unit of the area by that name (a per-area nucleus).
    let size_in_area = |name: &str, per_column: bool| {
        circuit
            .populations
            .iter()
            .filter(in_area)
            .find(|p| p.cell_type == name && (!per_column || p.placement.column_index == Some(0)))
            .map(|p| p.size)
    };
    if !areas.contains(&area) {
        return Err(s.error("area", format!("no area `{area}`; the file has {}", areas.join(", "))));
    }
    let types = s.strings("readout_types")?.ok_or_else(|| s.error("readout_types", "the cell types read out"))?;
    let mut readout_types = Vec::new();
    for t in types {
        match size_in_area(t, true) {
            Some(size) => readout_types.push((t.to_string(), size)),
            None => return Err(s.error("readout_types", format!("no cell type `{t}` in the columns of {area}"))),
        }
    }
    let columns = circuit.populations.iter().filter(in_area).filter(|p| p.cell_type == readout_types[0].0).count();
    let nucleus = s.required_string("query_nucleus", "the per-area nucleus the query drives")?.to_string();
    let query_nucleus_size = size_in_area(&nucleus, false)
        .ok_or_else(|| s.error("query_nucleus", format!("no per-area nucleus `{nucleus}` in {area}")))?;
    // An entry of [[column.inputs]] named at `key` (the harness copies its weight and delay).
    let input = |key: &str, name: &str| -> Result<String, Box<ConfigError>> {
        if file.number_at(&format!("column.inputs.{name}.weight")).is_none() {
            return Err(s.error(key, format!("no [[column.inputs]] entry named `{name}` with a weight")));
        }
        Ok(name.to_string())
    };
    let query_input = input("query_input", s.required_string("query_input", "a [[column.inputs]] entry")?)?;
    let value_input = input("value_input", s.required_string("value_input", "a [[column.inputs]] entry")?)?;
    let key_inputs: Vec<String> = s
        .strings("key_inputs")?
        .ok_or_else(|| s.error("key_inputs", "the inputs the keys replace in the area"))?
        .into_iter()
        .map(|k| input("key_inputs", k))
        .collect::<Result<_, _>>()?;
    let key_targets: Vec<String> = s
        .strings("key_targets")?
        .ok_or_else(|| s.error("key_targets", "the cell types the keys drive, one per key input"))?
        .iter()
        .map(|k| k.to_string())
        .collect();
    if key_targets.len() != key_inputs.len() || key_targets.iter().any(|t| !readout_types.iter().any(|r| &r.0 == t)) {
        return Err(s.error("key_targets", "one read-out cell type per key input"));
    }
    let value_target = s.required_string("value_target", "the per-column nucleus of the value input")?.to_string();
    let value_target_size = size_in_area(&value_target, true)
        .ok_or_else(|| s.error("value_target", format!("no per-column nucleus `{value_target}` in {area}")))?;
    let number = |path: String, default: f64| file.number_at(&path).unwrap_or(default);
    Ok(ReferenceColumnParams {
        other_areas: areas.iter().filter(|a| **a != area).cloned().collect(),
        columns,
        readout_types,
        value_weight: number(format!("column.inputs.{value_input}.weight"), 0.0),
        value_delay_ms: number(format!("column.inputs.{value_input}.delay_ms"), 1.0),
        value_input,
        value_target,
        value_target_size,
        key_weights: key_inputs.iter().map(|k| number(format!("column.inputs.{k}.weight"), 0.0)).collect(),
        key_delays_ms: key_inputs.iter().map(|k| number(format!("column.inputs.{k}.delay_ms"), 1.0)).collect(),
        key_inputs,
        key_targets,
        key_receptor: s.string("key_receptor")?.unwrap_or("basal").to_string(),
        query_weight: number(format!("column.inputs.{query_input}.weight"), 0.0),
        query_delay_ms: number(format!("column.inputs.{query_input}.delay_ms"), 1.0),
        query_input,
        query_nucleus: nucleus,
        query_nucleus_size,
        query_connection: s.count("query_connection", 0, 10_000, 0)? as usize,
        value_rate_hz: s.range_in("value_rate_hz", 0.0, 1e6, (7800.0, 9800.0))?,
        key_rate_hz: s.range_in("key_rate_hz", 0.0, 1e6, (1600.0, 2400.0))?,
        query_rate_hz: s.range_in("query_rate_hz", 0.0, 1e6, (7500.0, 9500.0))?,
        settle_ms: s.number_in("settle_ms", 0.0, 1e5, 300.0)?,
        count_ms: s.number_in("count_ms", 1.0, 1e5, 500.0)?,
        area,
    })
}

fn multihead_params(file: &ModelFile, s: &Section) -> Result<MultiheadParams, Box<ConfigError>> {
    s.check_keys(&[
        "circuit",
        "key_population",
        "teacher_population",
        "memory_population",
        "query_population",
        "burst_population",
        "relay_population",
        "memory_projection",
        "tuft_projection",
        "opponent_projection",
        "combine_projection",
        "memory_tokens",
        "key_pool",
        "memory_pool",
        "query_pool",
        "relay_pool",
        "feature_rate_hz",
        "key_read_rate_hz",
        "teacher_rate_hz",
        "query_rate_hz",
        "input_weight_pA",
        "write_ms",
        "settle_ms",
        "count_ms",
        "input_delay_ms",
    ])?;
    let population = |key: &str| population_at(file, s, key);
    // A projection named at `key`, with its weight and delay (the blocks the harness writes
    // carry them).
    let projection = |key: &str| -> Result<(String, f64, f64), Box<ConfigError>> {
        let name = s.required_string(key, "a projection of the file")?;
        let Some(weight) = file.number_at(&format!("projections.{name}.weight")) else {
            return Err(s.error(key, format!("no projection named `{name}` with a numeric weight")));
        };
        let delay = file.number_at(&format!("projections.{name}.delay_ms")).unwrap_or(1.0);
        Ok((name.to_string(), weight, delay))
    };
    let (memory_projection, _, memory_delay_ms) = projection("memory_projection")?;
    let (tuft_projection, tuft_weight, tuft_delay_ms) = projection("tuft_projection")?;
    let (combine_projection, combine_weight, combine_delay_ms) = projection("combine_projection")?;
    let opponent = match s.string("opponent_projection")? {
        Some(_) => Some(projection("opponent_projection")?),
        None => None,
    };
    // η·m/n replaces the file's η, so scaling needs a numeric η to scale (never a silent 0).
    let memory_tokens = match s.count("memory_tokens", 0, 1 << 20, 0)? {
        0 => None,
        m => Some(m as usize),
    };
    let memory_eta = match (memory_tokens, file.number_at(&format!("projections.{memory_projection}.synapse.eta"))) {
        (_, Some(eta)) => eta,
        (None, None) => 0.0,
        (Some(_), None) => {
            return Err(s.error(
                "memory_tokens",
                format!("scales the learning rate eta of `{memory_projection}`, whose synapse has no numeric eta"),
            ));
        }
    };
    Ok(MultiheadParams {
        key_population: population("key_population")?,
        teacher_population: population("teacher_population")?,
        memory_population: population("memory_population")?,
        query_population: population("query_population")?,
        burst_population: population("burst_population")?,
        relay_population: population("relay_population")?,
        memory_projection,
        tuft_projection,
        combine_projection,
        combine_weight,
        combine_delay_ms,
        tuft_weight,
        tuft_delay_ms,
        opponent,
        memory_delay_ms,
        memory_eta,
        memory_tokens,
        key_pool: s.count("key_pool", 1, 4096, 8)? as usize,
        memory_pool: s.count("memory_pool", 1, 4096, 4)? as usize,
        query_pool: s.count("query_pool", 1, 4096, 6)? as usize,
        relay_pool: s.count("relay_pool", 1, 4096, 8)? as usize,
        feature_rate_hz: s.number_in("feature_rate_hz", 0.0, 1e4, 200.0)?,
        key_read_rate_hz: s.number_in("key_read_rate_hz", 0.0, 1e4, 100.0)?,
        teacher_rate_hz: s.number_in("teacher_rate_hz", 0.0, 1e4, 200.0)?,
        query_rate_hz: s.range_in("query_rate_hz", 0.0, 1e5, (1400.0, 3500.0))?,
        input_weight_pa: s.number_in("input_weight_pA", 0.0, 1e5, 50.0)?,
        write_ms: s.number_in("write_ms", 1.0, 1e5, 100.0)?,
        settle_ms: s.number_in("settle_ms", 0.0, 1e5, 200.0)?,
        count_ms: s.number_in("count_ms", 1.0, 1e5, 1000.0)?,
        input_delay_ms: s.number_in("input_delay_ms", 0.0, 1e3, 1.0)?,
    })
}

/// What a circuit adds to its model file for one set of inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// `[[stimuli]]` entries appended to the model file (the input generators).
    pub stimuli: String,
    /// `--set` arguments applied after the user's (sizes, duration, learning windows).
    pub overrides: Vec<String>,
    pub readout: Vec<ReadoutRow>,
    pub timing: Timing,
    pub feature_map: FeatureMap,
    pub clip_fraction: f64,
    pub rate_max_hz: f64,
    /// Features as presented ([n_q, m], [n, m]).
    pub phi_q: Matrix,
    pub phi_k: Matrix,
    pub n_columns: usize,
    /// Per head and query, m_h(q) = Σ_j φ(q)·φ(k_j): what an anchor channel of value 1 returns in
    /// a circuit without normalisation (the multihead circuit's anchor values); empty otherwise.
    pub anchor_mass: Vec<Vec<f64>>,
}

/// What a readout row's cells carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Value,
    Anchor,
    Probe,
    /// A head's value channel before the heads are combined (multihead).
    HeadValue,
    /// A head's anchor channel before the heads are combined (multihead).
    HeadAnchor,
}

impl RowKind {
    pub fn name(self) -> &'static str {
        match self {
            RowKind::Value => "value",
            RowKind::Anchor => "anchor",
            RowKind::Probe => "probe",
            RowKind::HeadValue => "head_value",
            RowKind::HeadAnchor => "head_anchor",
        }
    }
}

/// One decoded cell group: `/readout` in attention.h5.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadoutRow {
    pub population: String,
    pub node_first: usize,
    pub node_count: usize,
    /// Index into the columns of `counts`.
    pub column: usize,
    /// The query whose window counts it; −1: every query's.
    pub query: i64,
    pub channel: usize,
    /// +1 (ON) or −1 (OFF).
    pub sign: i8,
    pub kind: RowKind,
    pub head: usize,
    /// The token of a probe channel, −1 otherwise.
    pub token: i64,
}
