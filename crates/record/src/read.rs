//! Reading recordings back: whole files into memory, for `laminar inspect` and for tests.
//!
//! The readers check the invariants the writers guarantee (matching column lengths, an
//! `index_pointers` of N+1 entries ending at E, …) and report a [`RecordError::Format`] naming
//! the file when one does not hold, rather than returning inconsistent data.

use std::path::Path;

use crate::error::{Hdf5Context, RecordError, Result};
use crate::h5::{member_names, open_file, open_group, read_column, read_sorting, read_string_attr};

/// The spikes of one population of a `spikes.h5`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikePopulation {
    pub name: String,
    /// Node ids, 0-based within the population, one per spike.
    pub node_ids: Vec<u64>,
    /// Spike times in ms, parallel to `node_ids`.
    pub timestamps: Vec<f64>,
    /// The `@sorting` attribute: `"none"`, `"by_id"` or `"by_time"` (`"none"` when absent, as
    /// SONATA specifies).
    pub sorting: String,
}

/// One population of a frame report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub population: String,
    pub node_ids: Vec<u64>,
    /// N+1 offsets: the elements of `node_ids[i]` are columns
    /// `index_pointers[i]..index_pointers[i + 1]`.
    pub index_pointers: Vec<u64>,
    /// Compartment index of every element within its cell.
    pub element_ids: Vec<u32>,
    pub tstart: f64,
    pub tstop: f64,
    pub dt: f64,
    /// Unit of the values (`data/@units`).
    pub units: String,
    /// `n_frames × n_elements` values, frame after frame.
    pub data: Vec<f32>,
    /// Rows of `data`.
    pub n_frames: usize,
    /// Columns of `data`.
    pub n_elements: usize,
}

impl Report {
    /// The values of frame `frame`, one per element.
    pub fn frame(&self, frame: usize) -> Option<&[f32]> {
        let start = frame.checked_mul(self.n_elements)?;
        self.data.get(start..start + self.n_elements)
    }
}

/// The weight events of one projection of a `weights.h5`.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightEvents {
    pub projection: String,
    pub timestamps: Vec<f64>,
    pub source_ids: Vec<u64>,
    pub target_ids: Vec<u64>,
    pub weights: Vec<f64>,
    /// Unit of the weights (`weights/@units`).
    pub units: String,
}

/// Reads every population of a SONATA spike file, in alphabetical order.
pub fn read_spikes(path: &Path) -> Result<Vec<SpikePopulation>> {
    let file = open_file(path)?;
    let spikes = open_group(path, &file, "spikes")?;
    member_names(path, &spikes)?
        .into_iter()
        .map(|name| {
            let group = open_group(path, &spikes, &name)?;
            let node_ids = read_column::<u64>(path, &group, "node_ids")?;
            let timestamps = read_column::<f64>(path, &group, "timestamps")?;
            if node_ids.len() != timestamps.len() {
                return Err(RecordError::format(
                    path,
                    format!("/spikes/{name} has {} node ids but {} timestamps", node_ids.len(), timestamps.len()),
                ));
            }
            let sorting = read_sorting(path, &group)?;
            Ok(SpikePopulation { name, node_ids, timestamps, sorting: sorting.as_str().to_owned() })
        })
        .collect()
}

/// Reads a frame report holding exactly one population.
pub fn read_report(path: &Path) -> Result<Report> {
    let file = open_file(path)?;
    let report = open_group(path, &file, "report")?;
    let populations = member_names(path, &report)?;
    let [population] = populations.as_slice() else {
        return Err(RecordError::format(
            path,
            format!("expected exactly one population under /report, found {populations:?}"),
        ));
    };
    let group = open_group(path, &report, population)?;
    let mapping = open_group(path, &group, "mapping")?;

    let node_ids = read_column::<u64>(path, &mapping, "node_ids")?;
    let index_pointers = read_column::<u64>(path, &mapping, "index_pointers")?;
    let element_ids = read_column::<u32>(path, &mapping, "element_ids")?;
    let time = read_column::<f64>(path, &mapping, "time")?;
    let &[tstart, tstop, dt] = time.as_slice() else {
        return Err(RecordError::format(path, format!("mapping/time has {} values instead of 3", time.len())));
    };

    let data_set = group.dataset("data").context(path, || format!("open /report/{population}/data"))?;
    let &[n_frames, n_elements] = data_set.shape().as_slice() else {
        return Err(RecordError::format(
            path,
            format!("data has shape {:?}, expected [frames, elements]", data_set.shape()),
        ));
    };
    let units = read_string_attr(path, &data_set, "units")?;
    let data = data_set.read_raw::<f32>().context(path, || format!("read /report/{population}/data"))?;

    let consistent = index_pointers.len() == node_ids.len() + 1
        && index_pointers.first() == Some(&0)
        && index_pointers.windows(2).all(|pair| pair[0] <= pair[1])
        && index_pointers.last() == Some(&(n_elements as u64))
        && element_ids.len() == n_elements;
    if !consistent {
        return Err(RecordError::format(
            path,
            format!(
                "inconsistent mapping: {} node ids, {} index pointers (first {:?}, last {:?}), \
                 {} element ids, {n_elements} data columns",
                node_ids.len(),
                index_pointers.len(),
                index_pointers.first(),
                index_pointers.last(),
                element_ids.len()
            ),
        ));
    }

    Ok(Report {
        population: population.clone(),
        node_ids,
        index_pointers,
        element_ids,
        tstart,
        tstop,
        dt,
        units,
        data,
        n_frames,
        n_elements,
    })
}

/// Reads every projection of a `weights.h5`, in alphabetical order.
pub fn read_weights(path: &Path) -> Result<Vec<WeightEvents>> {
    let file = open_file(path)?;
    let weights = open_group(path, &file, "weights")?;
    member_names(path, &weights)?
        .into_iter()
        .map(|projection| {
            let group = open_group(path, &weights, &projection)?;
            let timestamps = read_column::<f64>(path, &group, "timestamps")?;
            let source_ids = read_column::<u64>(path, &group, "source_ids")?;
            let target_ids = read_column::<u64>(path, &group, "target_ids")?;
            let weight_values = read_column::<f64>(path, &group, "weights")?;
            let lengths = [timestamps.len(), source_ids.len(), target_ids.len(), weight_values.len()];
            if lengths.iter().any(|&len| len != lengths[0]) {
                return Err(RecordError::format(
                    path,
                    format!(
                        "/weights/{projection} columns differ in length \
                         (timestamps, source_ids, target_ids, weights = {lengths:?})"
                    ),
                ));
            }
            let units = group
                .dataset("weights")
                .context(path, || format!("open /weights/{projection}/weights"))
                .and_then(|dataset| read_string_attr(path, &dataset, "units"))?;
            Ok(WeightEvents { projection, timestamps, source_ids, target_ids, weights: weight_values, units })
        })
        .collect()
}

/// The root attributes `@magic` and `@version` of a file, if it has them.
pub fn read_magic_and_version(path: &Path) -> Result<Option<(u32, [u32; 2])>> {
    let file = open_file(path)?;
    let names = file.attr_names().context(path, || "list the root attributes".to_owned())?;
    if !(names.iter().any(|n| n == "magic") && names.iter().any(|n| n == "version")) {
        return Ok(None);
    }
    let magic = file
        .attr("magic")
        .and_then(|attr| attr.read_scalar::<u32>())
        .context(path, || "read the root attribute @magic".to_owned())?;
    let version = file
        .attr("version")
        .and_then(|attr| attr.read_raw::<u32>())
        .context(path, || "read the root attribute @version".to_owned())?;
    let &[major, minor] = version.as_slice() else {
        return Err(RecordError::format(path, format!("@version has {} values instead of 2", version.len())));
    };
    Ok(Some((magic, [major, minor])))
}
