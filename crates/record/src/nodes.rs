//! `nodes.h5` + `node_types.csv`: the circuit's neurons as SONATA node populations, so that
//! spikes (whose `node_ids` are 0-based within a population of the same name) can be grouped by
//! layer, column or area, and so that SONATA tools (libsonata, bmtk) can load the circuit.
//!
//! ```text
//! nodes.h5
//! /  @magic u32 = 0x0A7A   @version u32[2] = [0, 1]
//! /nodes/<population>/            one group per population, named like its spikes.h5 group
//!     node_type_id      i64 [N]   the population's one node type (a row of node_types.csv)
//!     node_id           u64 [N]   0, 1, …, N−1 (implicit in SONATA; bmtk reads it)
//!     node_group_id     i64 [N]   0: every node is in group "0"
//!     node_group_index  u64 [N]   0, 1, …, N−1: row of the node in group "0"
//!     0/                          the one node group (libsonata reads attributes only from "0"
//!                                 and refuses populations that also have a group "1")
//!       <attribute>     [N]       one dataset per per-node attribute: f64, f32, i64, u64 or
//!                                 variable-length UTF-8 strings (x, y, z in µm, column, layer …)
//! ```
//!
//! Every dataset is one-dimensional, chunked (at most 65 536 values per chunk), with unlimited
//! maxshape and no filters (the libsonata wheel reads no compressed data); strings are
//! variable-length UTF-8, which libsonata returns as `str`. libsonata takes a population's size
//! from the length of `node_type_id`, so it is written even though it is constant.
//!
//! `node_types.csv` holds one row per population, in the order given, space-separated with a
//! header line (SONATA's CSV dialect: a field with a space or a `"` is quoted with `"`, a `"`
//! inside is doubled; UNIX line ends):
//!
//! ```text
//! node_type_id model_type model_template population pop_name <type attributes…>
//! ```
//!
//! * `node_type_id`, `model_type` and `model_template` are SONATA's required node attributes
//!   (`model_type` is `point_neuron` or `virtual`; `model_template` is `nest:<model>`, or `NULL`
//!   when empty, as SONATA writes it for virtual nodes);
//! * `population` is the column SONATA requires to tell apart the node types of different
//!   populations sharing one CSV file; `pop_name` is the same name under the column bmtk's
//!   builder writes and its analyses group by;
//! * then the union of the populations' type attributes (layer, cell_type, area, model …), in
//!   order of first appearance; a population without one of them has `NULL` there.
//!
//! Node type ids must be unique across the file, since the CSV is shared by its populations.

use std::path::Path;
use std::str::FromStr;

use hdf5::types::VarLenUnicode;
use hdf5::{Group, H5Type};

use crate::error::{Hdf5Context, RecordError, Result};
use crate::h5::{AppendableColumn, check_group_name, create_file};

/// Longest chunk of the node datasets.
const MAX_NODE_CHUNK: usize = 1 << 16;

/// Values of one per-node attribute, one per node of the population.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValues {
    F64(Vec<f64>),
    F32(Vec<f32>),
    I64(Vec<i64>),
    U64(Vec<u64>),
    /// Written as variable-length UTF-8 strings.
    Str(Vec<String>),
}

impl NodeValues {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Self::F64(v) => v.len(),
            Self::F32(v) => v.len(),
            Self::I64(v) => v.len(),
            Self::U64(v) => v.len(),
            Self::Str(v) => v.len(),
        }
    }

    /// Whether there is no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A per-node attribute, written as `/nodes/<population>/0/<name>`.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeAttribute {
    pub name: String,
    pub values: NodeValues,
}

/// One SONATA node population: one model population of laminar.
#[derive(Debug, Clone, PartialEq)]
pub struct NodePopulation {
    /// SONATA population name (the same as the population's group in `spikes.h5`).
    pub name: String,
    /// The population's one node type; unique across the populations of a file.
    pub node_type_id: i64,
    /// `"point_neuron"` for simulated neurons, `"virtual"` for input-only nodes (parrots).
    pub model_type: String,
    /// `"nest:iaf_psc_exp"` …; empty is written as `NULL`.
    pub model_template: String,
    /// Number of nodes.
    pub size: u64,
    /// Constant attributes of the node type, written as columns of `node_types.csv` (layer,
    /// cell_type, area, model …).
    pub type_attributes: Vec<(String, String)>,
    /// Per-node attributes, written under `/nodes/<name>/0/` (x, y, z in µm, column …).
    pub attributes: Vec<NodeAttribute>,
}

/// Columns of `node_types.csv` that come before the type attributes.
pub const NODE_TYPES_COLUMNS: [&str; 5] = ["node_type_id", "model_type", "model_template", "population", "pop_name"];

/// Writes `nodes.h5` at `h5_path` and `node_types.csv` at `csv_path` (both truncated).
///
/// Everything is validated before anything is written: population names must be distinct HDF5
/// group names, node type ids distinct, every per-node attribute must have `size` values and a
/// name that is a valid, distinct HDF5 name other than SONATA's reserved `dynamics_params` and
/// `@library`; type attribute names must be distinct, must not repeat a fixed column and may
/// contain no space, quote or line break; no CSV value may contain a line break.
pub fn write_nodes(h5_path: &Path, csv_path: &Path, populations: &[NodePopulation]) -> Result<()> {
    validate(h5_path, csv_path, populations)?;
    write_types_csv(
        csv_path,
        &NODE_TYPES_COLUMNS,
        populations.iter().map(|population| {
            let fixed = vec![
                population.node_type_id.to_string(),
                population.model_type.clone(),
                null_if_empty(&population.model_template),
                population.name.clone(),
                population.name.clone(),
            ];
            (fixed, population.type_attributes.as_slice())
        }),
    )?;

    let file = create_file(h5_path)?;
    let nodes = file.create_group("nodes").context(h5_path, || "create group /nodes".to_owned())?;
    for population in populations {
        write_population(h5_path, &nodes, population)?;
    }
    drop(nodes);
    file.close().context(h5_path, || "close the file".to_owned())
}

fn validate(h5_path: &Path, csv_path: &Path, populations: &[NodePopulation]) -> Result<()> {
    for (index, population) in populations.iter().enumerate() {
        let name = &population.name;
        check_group_name(h5_path, "population", name)?;
        let earlier = &populations[..index];
        if earlier.iter().any(|p| &p.name == name) {
            return Err(RecordError::invalid_input(h5_path, format!("population {name:?} is listed twice")));
        }
        if let Some(p) = earlier.iter().find(|p| p.node_type_id == population.node_type_id) {
            return Err(RecordError::invalid_input(
                csv_path,
                format!("populations {:?} and {name:?} share node_type_id {}", p.name, population.node_type_id),
            ));
        }
        for (attr_index, attribute) in population.attributes.iter().enumerate() {
            check_group_name(h5_path, "node attribute", &attribute.name)?;
            if attribute.name == "dynamics_params" || attribute.name == "@library" {
                return Err(RecordError::invalid_input(
                    h5_path,
                    format!("node attribute name {:?} of {name:?} is reserved by SONATA", attribute.name),
                ));
            }
            if population.attributes[..attr_index].iter().any(|a| a.name == attribute.name) {
                return Err(RecordError::invalid_input(
                    h5_path,
                    format!("node attribute {:?} of {name:?} is given twice", attribute.name),
                ));
            }
            if attribute.values.len() as u64 != population.size {
                return Err(RecordError::invalid_input(
                    h5_path,
                    format!(
                        "node attribute {:?} of {name:?} has {} values for {} nodes",
                        attribute.name,
                        attribute.values.len(),
                        population.size
                    ),
                ));
            }
            if let NodeValues::Str(values) = &attribute.values
                && let Some(value) = values.iter().find(|v| v.contains('\0'))
            {
                return Err(RecordError::invalid_input(
                    h5_path,
                    format!("node attribute {:?} of {name:?} has a value with a NUL byte: {value:?}", attribute.name),
                ));
            }
        }
        let fixed = [population.model_type.as_str(), population.model_template.as_str(), population.name.as_str()];
        check_type_attributes(csv_path, name, &NODE_TYPES_COLUMNS, &population.type_attributes, &fixed)?;
    }
    Ok(())
}

fn write_population(path: &Path, nodes: &Group, population: &NodePopulation) -> Result<()> {
    let name = &population.name;
    let group = nodes.create_group(name).context(path, || format!("create group /nodes/{name}"))?;
    let size = usize::try_from(population.size)
        .map_err(|_| RecordError::invalid_input(path, format!("population {name:?} is too large")))?;
    let chunk = size.clamp(1, MAX_NODE_CHUNK);
    let ids: Vec<u64> = (0..population.size).collect();
    write_column(path, &group, "node_type_id", chunk, &vec![population.node_type_id; size])?;
    write_column(path, &group, "node_id", chunk, &ids)?;
    write_column(path, &group, "node_group_id", chunk, &vec![0_i64; size])?;
    write_column(path, &group, "node_group_index", chunk, &ids)?;
    drop(ids);

    let attributes = group.create_group("0").context(path, || format!("create group /nodes/{name}/0"))?;
    for attribute in &population.attributes {
        let at = attribute.name.as_str();
        match &attribute.values {
            NodeValues::F64(values) => write_column(path, &attributes, at, chunk, values)?,
            NodeValues::F32(values) => write_column(path, &attributes, at, chunk, values)?,
            NodeValues::I64(values) => write_column(path, &attributes, at, chunk, values)?,
            NodeValues::U64(values) => write_column(path, &attributes, at, chunk, values)?,
            NodeValues::Str(values) => {
                let strings = values
                    .iter()
                    .map(|value| {
                        VarLenUnicode::from_str(value).map_err(|_| {
                            RecordError::invalid_input(path, format!("{at} value {value:?} contains a NUL byte"))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                write_column(path, &attributes, at, chunk, &strings)?;
            }
        }
    }
    Ok(())
}

/// Writes a whole one-dimensional column (chunked, unlimited, unfiltered like every other column
/// of this crate).
fn write_column<T: H5Type>(path: &Path, group: &Group, name: &str, chunk: usize, values: &[T]) -> Result<()> {
    let mut column = AppendableColumn::create::<T>(path, group, name, chunk)?;
    column.append(path, values)
}

fn null_if_empty(value: &str) -> String {
    if value.is_empty() { "NULL".to_owned() } else { value.to_owned() }
}

/// Checks the type attributes of one row of a types CSV file: names distinct, not a fixed
/// column, free of spaces, quotes and line breaks; no value (nor fixed value) with a line break.
pub(crate) fn check_type_attributes(
    csv_path: &Path,
    owner: &str,
    fixed_columns: &[&str],
    attributes: &[(String, String)],
    fixed_values: &[&str],
) -> Result<()> {
    for (index, (key, value)) in attributes.iter().enumerate() {
        if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c == '"' || c.is_control()) {
            return Err(RecordError::invalid_input(
                csv_path,
                format!("type attribute name {key:?} of {owner:?} is empty or has a space, quote or control character"),
            ));
        }
        if fixed_columns.contains(&key.as_str()) {
            return Err(RecordError::invalid_input(
                csv_path,
                format!("type attribute {key:?} of {owner:?} repeats a column laminar writes itself"),
            ));
        }
        if attributes[..index].iter().any(|(k, _)| k == key) {
            return Err(RecordError::invalid_input(
                csv_path,
                format!("type attribute {key:?} of {owner:?} is given twice"),
            ));
        }
        check_csv_value(csv_path, owner, value)?;
    }
    for value in fixed_values {
        check_csv_value(csv_path, owner, value)?;
    }
    Ok(())
}

fn check_csv_value(csv_path: &Path, owner: &str, value: &str) -> Result<()> {
    if value.contains(['\n', '\r']) {
        return Err(RecordError::invalid_input(csv_path, format!("value {value:?} of {owner:?} has a line break")));
    }
    Ok(())
}

/// One CSV field in SONATA's dialect: quoted with `"` when it is empty or contains a space, tab
/// or `"` (doubled inside the quotes).
pub(crate) fn csv_field(value: &str) -> String {
    if value.is_empty() || value.contains([' ', '\t', '"']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// Writes a types CSV file: the fixed columns, then the union of the rows' type attributes in
/// order of first appearance (`NULL` where a row lacks one). Fields are separated by exactly one
/// space: the SONATA dialect allows several, but bmtk reads the file with pandas' `sep=' '`,
/// for which two spaces make an empty column.
pub(crate) fn write_types_csv<'a>(
    csv_path: &Path,
    fixed_columns: &[&str],
    rows: impl Iterator<Item = (Vec<String>, &'a [(String, String)])> + Clone,
) -> Result<()> {
    let mut extra: Vec<&str> = Vec::new();
    for (_, attributes) in rows.clone() {
        for (key, _) in attributes {
            if !extra.contains(&key.as_str()) {
                extra.push(key);
            }
        }
    }
    let mut text = String::new();
    let header: Vec<String> = fixed_columns.iter().copied().chain(extra.iter().copied()).map(csv_field).collect();
    text.push_str(&header.join(" "));
    text.push('\n');
    for (fixed, attributes) in rows {
        let mut fields: Vec<String> = fixed.iter().map(|v| csv_field(v)).collect();
        for key in &extra {
            let value = attributes.iter().find(|(k, _)| k == key).map_or("NULL", |(_, v)| v.as_str());
            fields.push(csv_field(value));
        }
        text.push_str(&fields.join(" "));
        text.push('\n');
    }
    std::fs::write(csv_path, text).map_err(|cause| RecordError::Io {
        path: csv_path.to_path_buf(),
        action: "write".to_owned(),
        cause,
    })
}
