//! `edges.h5` + `edge_types.csv`: the circuit's synapses as SONATA edge populations, one per
//! projection, streamed so that memory stays bounded for the 3·10⁸ synapses of the full-scale
//! Potjans–Diesmann circuit.
//!
//! ```text
//! edges.h5
//! /  @magic u32 = 0x0A7A   @version u32[2] = [0, 1]
//! /edges/<projection>/
//!     source_node_id    u64 [E]   @node_population = source population (vlen UTF-8); 0-based
//!     target_node_id    u64 [E]   @node_population = target population (vlen UTF-8); 0-based
//!     edge_type_id      i64 [E]   the projection's one edge type (a row of edge_types.csv)
//!     edge_group_id     i64 [E]   0: every edge is in group "0"
//!     edge_group_index  u64 [E]   0, 1, …, E−1: row of the edge in group "0"
//!     0/
//!       syn_weight      f64 [E]   @units = the projection's weight unit ("pA", "nS" …)
//!       delay           f64 [E]   @units = "ms"
//!       receptor        u32 [E]   receptor port of the target (0 for single-receptor models)
//!     indices/source_to_target/
//!       node_id_to_ranges  u64 [N_source, 2]   rows [first, end) of range_to_edge_id per source
//!       node_id_to_range   hard link to node_id_to_ranges (the only name bmtk 1.2 reads)
//!       range_to_edge_id   u64 [R_s, 2]        edge ranges [first, end) with one source each
//!     indices/target_to_source/
//!       node_id_to_ranges  u64 [N_target, 2]
//!       node_id_to_range   hard link to node_id_to_ranges
//!       range_to_edge_id   u64 [R_t, 2]
//! ```
//!
//! **Order.** The edges of a population are stored in the order they were pushed: edge id `i`
//! (the row in every dataset) is the population's `i`-th push. Pushes to different populations
//! may interleave freely. No order is required by SONATA or libsonata (there is no `@sorted`
//! attribute for edges); the indices make both directions searchable whatever the order.
//!
//! **Indices.** libsonata's `afferent_edges`/`efferent_edges` (and `connecting_edges`) need the
//! optional SONATA indices, which [`EdgeWriter::finish`] builds without holding the edges in
//! memory, with the layout libsonata's own `write_indices` produces: a node without edges has
//! the empty range `[k, k]`; each maximal run of consecutive edges with the same node is one row
//! of `range_to_edge_id`, and a node's rows are in edge order. One pass over the node-id column
//! counts each node's runs (memory: one counter per node), then further passes scatter the runs
//! into `range_to_edge_id` one band of rows at a time (memory: the band, 64 MiB by default, see
//! [`EdgeWriter::set_index_memory`]). The index of a column is compact when the edges are
//! pushed grouped by that column's node (the run count then equals the node count); for random
//! connectivity one of the two indices always has about one row per edge, as with any SONATA
//! index (a population with E edges needs up to 16·E bytes per index).
//!
//! **Constant columns.** `edge_type_id` and `edge_group_id` are the same for every edge of a
//! population, so they are never written: they are chunked datasets whose HDF5 fill value is
//! the constant, grown with the other columns. HDF5 allocates no chunk for them, every reader
//! sees the constant, and the file saves 16 bytes per edge.
//!
//! A projection without edges is written as an empty population (datasets of length 0, indices
//! with empty ranges). libsonata 0.2.2 reads it, except that its `select_all()` raises "Invalid
//! range: 0-0" on any empty population; pass `Selection([])` instead.
//!
//! All datasets are chunked (the edge columns `chunk` values per chunk), with unlimited first
//! dimension and no filters (the libsonata wheel reads no compressed data).
//!
//! `edge_types.csv` has one row per population, space-separated with a header line (the dialect
//! of `node_types.csv`, see [`crate::nodes`]):
//!
//! ```text
//! edge_type_id population source_population target_population weight_units <type attributes…>
//! ```
//!
//! `population` tells apart the edge types of different populations, as SONATA requires;
//! `source_population`/`target_population` are the node populations (bmtk's edge tools use
//! these names); then the union of the populations' type attributes (`model_template`,
//! `synapse_model` …) in order of first appearance, `NULL` where a population lacks one.

use std::path::{Path, PathBuf};

use hdf5::{Dataset, File, Group, H5Type};
use ndarray::ArrayView2;

use crate::error::{Hdf5Context, RecordError, Result};
use crate::h5::{AppendableColumn, check_group_name, create_file, write_string_attr};
use crate::nodes::{check_type_attributes, write_types_csv};

/// Columns of `edge_types.csv` that come before the type attributes.
pub const EDGE_TYPES_COLUMNS: [&str; 5] =
    ["edge_type_id", "population", "source_population", "target_population", "weight_units"];

/// Default memory for the band of `range_to_edge_id` rows built per pass in `finish`.
pub const DEFAULT_INDEX_MEMORY: usize = 64 << 20;

/// Values read at a time from a node-id column while building the indices.
const READ_BLOCK: usize = 1 << 20;

/// Longest chunk (in rows) of the index datasets.
const MAX_INDEX_CHUNK: usize = 1 << 15;

/// One edge population: the synapses of one projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgePopulationSpec {
    /// Group name under `/edges`.
    pub name: String,
    /// Node population of the sources (`source_node_id/@node_population`).
    pub source_population: String,
    /// Node population of the targets (`target_node_id/@node_population`).
    pub target_population: String,
    /// Number of nodes of the source population: the rows of the source index, and the bound
    /// of the source ids.
    pub source_size: u64,
    /// Number of nodes of the target population.
    pub target_size: u64,
    /// The population's one edge type; unique across the populations of a file.
    pub edge_type_id: i64,
    /// Unit of `syn_weight` (`"pA"`, `"nS"` …).
    pub weight_units: String,
    /// Constant attributes of the edge type, written as columns of `edge_types.csv`.
    pub type_attributes: Vec<(String, String)>,
}

/// Streams edges into `edges.h5` (see the module documentation for the layout).
///
/// Edges are buffered per population and appended `chunk` at a time, so the writer holds at
/// most `populations × chunk × 36` bytes of edges (64 projections with a chunk of 65 536: about
/// 150 MB), plus, in `finish`, one node counter per node and the index band. Measured (release,
/// this crate's ignored test `ten_million_edges`): 10⁷ edges of one 20 000 × 20 000 projection
/// pushed in 1.8 s, indices in 1.5 s, 100 MB resident. [`EdgeWriter::finish`]
/// appends the rest, builds the indices and closes the file; a writer dropped without `finish`
/// leaves a file without indices (readable, but without afferent/efferent queries).
pub struct EdgeWriter {
    path: PathBuf,
    chunk: usize,
    index_band_rows: usize,
    /// `None` once finished.
    open: Option<OpenEdges>,
}

struct OpenEdges {
    file: File,
    populations: Vec<EdgeColumns>,
}

struct EdgeColumns {
    name: String,
    source_size: u64,
    target_size: u64,
    group: Group,
    /// Edges completely in the file.
    count: u64,
    source: AppendableColumn,
    target: AppendableColumn,
    group_index: AppendableColumn,
    weight: AppendableColumn,
    delay: AppendableColumn,
    receptor: AppendableColumn,
    /// Fill-value datasets, only resized.
    edge_type_id: Dataset,
    edge_group_id: Dataset,
    pending_source: Vec<u64>,
    pending_target: Vec<u64>,
    pending_weight: Vec<f64>,
    pending_delay: Vec<f64>,
    pending_receptor: Vec<u32>,
}

impl EdgeWriter {
    /// Creates (truncating) `h5_path` with one empty edge population per spec and writes
    /// `csv_path`. Edges are buffered and appended `chunk` at a time, which is also the HDF5
    /// chunk length of the edge columns.
    pub fn create(h5_path: &Path, csv_path: &Path, populations: &[EdgePopulationSpec], chunk: usize) -> Result<Self> {
        if chunk == 0 {
            return Err(RecordError::invalid_input(h5_path, "the chunk length must be at least 1"));
        }
        for (index, spec) in populations.iter().enumerate() {
            let name = &spec.name;
            check_group_name(h5_path, "edge population", name)?;
            let earlier = &populations[..index];
            if earlier.iter().any(|p| &p.name == name) {
                return Err(RecordError::invalid_input(h5_path, format!("edge population {name:?} is listed twice")));
            }
            if let Some(p) = earlier.iter().find(|p| p.edge_type_id == spec.edge_type_id) {
                return Err(RecordError::invalid_input(
                    csv_path,
                    format!("edge populations {:?} and {name:?} share edge_type_id {}", p.name, spec.edge_type_id),
                ));
            }
            check_group_name(h5_path, "source population", &spec.source_population)?;
            check_group_name(h5_path, "target population", &spec.target_population)?;
            let fixed = [spec.source_population.as_str(), spec.target_population.as_str(), spec.weight_units.as_str()];
            check_type_attributes(csv_path, name, &EDGE_TYPES_COLUMNS, &spec.type_attributes, &fixed)?;
        }
        write_types_csv(
            csv_path,
            &EDGE_TYPES_COLUMNS,
            populations.iter().map(|spec| {
                let fixed = vec![
                    spec.edge_type_id.to_string(),
                    spec.name.clone(),
                    spec.source_population.clone(),
                    spec.target_population.clone(),
                    spec.weight_units.clone(),
                ];
                (fixed, spec.type_attributes.as_slice())
            }),
        )?;

        let file = create_file(h5_path)?;
        let edges = file.create_group("edges").context(h5_path, || "create group /edges".to_owned())?;
        let mut columns = Vec::with_capacity(populations.len());
        for spec in populations {
            columns.push(EdgeColumns::create(h5_path, &edges, spec, chunk)?);
        }
        Ok(Self {
            path: h5_path.to_path_buf(),
            chunk,
            index_band_rows: DEFAULT_INDEX_MEMORY / 16,
            open: Some(OpenEdges { file, populations: columns }),
        })
    }

    /// Sets the memory (bytes) `finish` may use for the band of index rows it fills per pass
    /// over a node-id column; fewer bytes mean more passes. At least one row.
    pub fn set_index_memory(&mut self, bytes: usize) {
        self.index_band_rows = (bytes / 16).max(1);
    }

    /// Appends one edge to population `p` (its index in the list given to
    /// [`EdgeWriter::create`]): `source_id` and `target_id` are 0-based within the source and
    /// target populations, `delay_ms` in ms, `weight` in the population's weight unit.
    pub fn push(
        &mut self,
        p: usize,
        source_id: u64,
        target_id: u64,
        weight: f64,
        delay_ms: f64,
        receptor: u32,
    ) -> Result<()> {
        let path = &self.path;
        let open = self.open.as_mut().ok_or_else(|| RecordError::invalid_input(path, "the file is already closed"))?;
        let count = open.populations.len();
        let population = open.populations.get_mut(p).ok_or_else(|| {
            RecordError::invalid_input(
                path,
                format!("edge population index {p} is out of range (the file has {count})"),
            )
        })?;
        let name = &population.name;
        if source_id >= population.source_size || target_id >= population.target_size {
            return Err(RecordError::invalid_input(
                path,
                format!(
                    "edge {source_id} → {target_id} of {name:?} is outside its populations ({} sources, {} targets)",
                    population.source_size, population.target_size
                ),
            ));
        }
        if !weight.is_finite() || !delay_ms.is_finite() || delay_ms < 0.0 {
            return Err(RecordError::invalid_input(
                path,
                format!("edge {source_id} → {target_id} of {name:?} has weight {weight} and delay {delay_ms} ms"),
            ));
        }
        population.pending_source.push(source_id);
        population.pending_target.push(target_id);
        population.pending_weight.push(weight);
        population.pending_delay.push(delay_ms);
        population.pending_receptor.push(receptor);
        if population.pending_source.len() >= self.chunk {
            population.append_pending(path)?;
        }
        Ok(())
    }

    /// Number of edges pushed to population `p` so far.
    pub fn len(&self, p: usize) -> u64 {
        self.open
            .as_ref()
            .and_then(|open| open.populations.get(p))
            .map_or(0, |population| population.count + population.pending_source.len() as u64)
    }

    /// Appends the buffered edges, writes both indices of every population and closes the file.
    pub fn finish(mut self) -> Result<()> {
        let Some(OpenEdges { file, mut populations }) = self.open.take() else {
            return Ok(());
        };
        for population in &mut populations {
            population.append_pending(&self.path)?;
            population.write_indices(&self.path, self.index_band_rows)?;
        }
        // Dataset and group handles must be released before the file, or HDF5 keeps it open.
        drop(populations);
        file.close().context(&self.path, || "close the file".to_owned())
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for EdgeWriter {
    fn drop(&mut self) {
        if let Some(mut open) = self.open.take() {
            for population in &mut open.populations {
                let _ = population.append_pending(&self.path);
            }
        }
    }
}

impl EdgeColumns {
    fn create(path: &Path, edges: &Group, spec: &EdgePopulationSpec, chunk: usize) -> Result<Self> {
        let name = &spec.name;
        let group = edges.create_group(name).context(path, || format!("create group /edges/{name}"))?;
        let source = AppendableColumn::create::<u64>(path, &group, "source_node_id", chunk)?;
        write_string_attr(path, source.dataset(), "node_population", &spec.source_population)?;
        let target = AppendableColumn::create::<u64>(path, &group, "target_node_id", chunk)?;
        write_string_attr(path, target.dataset(), "node_population", &spec.target_population)?;
        let edge_type_id = constant_column(path, &group, "edge_type_id", chunk, spec.edge_type_id)?;
        let edge_group_id = constant_column(path, &group, "edge_group_id", chunk, 0_i64)?;
        let group_index = AppendableColumn::create::<u64>(path, &group, "edge_group_index", chunk)?;
        let attributes = group.create_group("0").context(path, || format!("create group /edges/{name}/0"))?;
        let weight = AppendableColumn::create::<f64>(path, &attributes, "syn_weight", chunk)?;
        write_string_attr(path, weight.dataset(), "units", &spec.weight_units)?;
        let delay = AppendableColumn::create::<f64>(path, &attributes, "delay", chunk)?;
        write_string_attr(path, delay.dataset(), "units", "ms")?;
        let receptor = AppendableColumn::create::<u32>(path, &attributes, "receptor", chunk)?;
        Ok(Self {
            name: name.clone(),
            source_size: spec.source_size,
            target_size: spec.target_size,
            group,
            count: 0,
            source,
            target,
            group_index,
            weight,
            delay,
            receptor,
            edge_type_id,
            edge_group_id,
            pending_source: Vec::with_capacity(chunk),
            pending_target: Vec::with_capacity(chunk),
            pending_weight: Vec::with_capacity(chunk),
            pending_delay: Vec::with_capacity(chunk),
            pending_receptor: Vec::with_capacity(chunk),
        })
    }

    fn append_pending(&mut self, path: &Path) -> Result<()> {
        let n = self.pending_source.len();
        if n == 0 {
            return Ok(());
        }
        // Every column skips what an earlier, partly failed attempt already appended, so a retry
        // cannot duplicate edges; `count` moves (and the constant columns grow) only at the end.
        let complete = self.count as usize;
        let skip = |column: &AppendableColumn| column.len() - complete;
        let indices: Vec<u64> = (self.count..self.count + n as u64).collect();
        self.source.append(path, &self.pending_source[skip(&self.source)..])?;
        self.target.append(path, &self.pending_target[skip(&self.target)..])?;
        self.group_index.append(path, &indices[skip(&self.group_index)..])?;
        self.weight.append(path, &self.pending_weight[skip(&self.weight)..])?;
        self.delay.append(path, &self.pending_delay[skip(&self.delay)..])?;
        self.receptor.append(path, &self.pending_receptor[skip(&self.receptor)..])?;
        let new_count = complete + n;
        for dataset in [&self.edge_type_id, &self.edge_group_id] {
            dataset.resize(new_count).context(path, || format!("grow {} to {new_count}", dataset.name()))?;
        }
        self.count = new_count as u64;
        self.pending_source.clear();
        self.pending_target.clear();
        self.pending_weight.clear();
        self.pending_delay.clear();
        self.pending_receptor.clear();
        Ok(())
    }

    fn write_indices(&self, path: &Path, band_rows: usize) -> Result<()> {
        let indices = self
            .group
            .create_group("indices")
            .context(path, || format!("create group /edges/{}/indices", self.name))?;
        write_index(
            path,
            &indices,
            "source_to_target",
            self.source.dataset(),
            self.count,
            self.source_size,
            band_rows,
        )?;
        write_index(path, &indices, "target_to_source", self.target.dataset(), self.count, self.target_size, band_rows)
    }
}

/// A chunked, growable column whose every value is `value`, stored as the fill value only.
fn constant_column(path: &Path, group: &Group, name: &str, chunk: usize, value: i64) -> Result<Dataset> {
    group
        .new_dataset::<i64>()
        .chunk(chunk)
        .fill_value(value)
        .shape(0..)
        .create(name)
        .context(path, || format!("create dataset {}/{name}", group.name()))
}

/// Calls `f(node, first_edge, end_edge)` for every maximal run of equal node ids in the first
/// `len` values of `column`, in edge order, reading `READ_BLOCK` values at a time.
fn for_each_run(path: &Path, column: &Dataset, len: u64, mut f: impl FnMut(u64, u64, u64)) -> Result<()> {
    let len = len as usize;
    let mut run: Option<(u64, u64)> = None; // (node, first edge)
    let mut start = 0;
    while start < len {
        let end = (start + READ_BLOCK).min(len);
        let block = column
            .read_slice_1d::<u64, _>(start..end)
            .context(path, || format!("read {}[{start}..{end}]", column.name()))?;
        for (offset, &node) in block.iter().enumerate() {
            let edge = (start + offset) as u64;
            match run {
                Some((current, _)) if current == node => {}
                Some((current, first)) => {
                    f(current, first, edge);
                    run = Some((node, edge));
                }
                None => run = Some((node, edge)),
            }
        }
        start = end;
    }
    if let Some((node, first)) = run {
        f(node, first, len as u64);
    }
    Ok(())
}

/// Writes `indices/<name>/{node_id_to_ranges, range_to_edge_id}` for the node ids in `column`.
fn write_index(
    path: &Path,
    indices: &Group,
    name: &str,
    column: &Dataset,
    len: u64,
    node_count: u64,
    band_rows: usize,
) -> Result<()> {
    let group = indices.create_group(name).context(path, || format!("create group {}/{name}", indices.name()))?;
    let node_count = usize::try_from(node_count)
        .map_err(|_| RecordError::invalid_input(path, format!("{node_count} nodes are too many for this platform")))?;

    // Pass 1: runs per node.
    let mut runs = vec![0_u64; node_count];
    for_each_run(path, column, len, |node, _, _| runs[node as usize] += 1)?;
    let mut node_ranges = Vec::with_capacity(2 * node_count);
    let mut first_slot = Vec::with_capacity(node_count);
    let mut total = 0_u64;
    for &count in &runs {
        first_slot.push(total);
        node_ranges.push(total);
        total += count;
        node_ranges.push(total);
    }
    drop(runs);
    let node_to_ranges = pairs_dataset(path, &group, "node_id_to_ranges", node_count)?;
    write_pairs(path, &node_to_ranges, 0, &node_ranges)?;
    drop(node_ranges);
    // bmtk 1.2 looks the dataset up under the singular name.
    group
        .link_hard("node_id_to_ranges", "node_id_to_range")
        .context(path, || format!("link {}/node_id_to_range to node_id_to_ranges", group.name()))?;

    // Passes 2…: scatter the runs into their rows, one band of rows per pass.
    let total = usize::try_from(total).map_err(|_| RecordError::invalid_input(path, "too many index rows"))?;
    let range_to_edge = pairs_dataset(path, &group, "range_to_edge_id", total)?;
    let mut band_start = 0;
    while band_start < total {
        let band_end = (band_start + band_rows).min(total);
        let mut band = vec![0_u64; 2 * (band_end - band_start)];
        let mut next_slot = first_slot.clone();
        for_each_run(path, column, len, |node, first, end| {
            let slot = &mut next_slot[node as usize];
            let row = *slot as usize;
            *slot += 1;
            if (band_start..band_end).contains(&row) {
                let at = 2 * (row - band_start);
                band[at] = first;
                band[at + 1] = end;
            }
        })?;
        write_pairs(path, &range_to_edge, band_start, &band)?;
        band_start = band_end;
    }
    Ok(())
}

/// Creates a chunked u64 dataset of `rows` × 2 (first dimension growable, so that zero rows
/// are allowed).
fn pairs_dataset(path: &Path, group: &Group, name: &str, rows: usize) -> Result<Dataset> {
    let dataset = group
        .new_dataset::<u64>()
        .chunk((rows.clamp(1, MAX_INDEX_CHUNK), 2))
        .shape((0.., 2))
        .create(name)
        .context(path, || format!("create dataset {}/{name}", group.name()))?;
    dataset.resize((rows, 2)).context(path, || format!("size {} to {rows} rows", dataset.name()))?;
    Ok(dataset)
}

/// Writes `pairs` (row-major, two values per row) into rows `first_row…` of `dataset`.
fn write_pairs<T: H5Type>(path: &Path, dataset: &Dataset, first_row: usize, pairs: &[T]) -> Result<()> {
    let rows = pairs.len() / 2;
    if rows == 0 {
        return Ok(());
    }
    let view = ArrayView2::from_shape((rows, 2), pairs).expect("two values per row");
    dataset
        .write_slice(view, (first_row..first_row + rows, ..))
        .context(path, || format!("write rows {first_row}..{} of {}", first_row + rows, dataset.name()))
}
