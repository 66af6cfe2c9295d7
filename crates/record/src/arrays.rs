//! Files of named n-dimensional arrays with attributes: the attention harness's `qkv.h5` (its
//! input) and `attention.h5` (its result), whose layouts `laminar_attention` defines.
//!
//! Arrays are float64, int64 or variable-length UTF-8 strings, stored contiguously without
//! filters so that any HDF5 reader (h5py, MATLAB, Julia) reads them; a shape is row-major (C
//! order), as h5py and numpy expect. The writer creates groups on demand from slash-separated
//! names (`output/counts`). The file is written to `<name>.partial` and renamed into place by
//! [`ArrayFileWriter::finish`], so a reader never sees a half-written file.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use hdf5::types::VarLenUnicode;
use hdf5::{File, Group, H5Type, Location};

use crate::error::{Hdf5Context, RecordError, Result};
use crate::h5::{open_file, read_string_attr, write_string_attr};

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    F64(f64),
    I64(i64),
    Bool(bool),
    Str(String),
}

/// Writes an array file; see the module documentation.
#[derive(Debug)]
pub struct ArrayFileWriter {
    file: File,
    partial: PathBuf,
    path: PathBuf,
}

impl ArrayFileWriter {
    /// Starts `path` (written as `path.partial` until [`finish`](Self::finish)).
    pub fn create(path: &Path) -> Result<Self> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = File::with_options()
            .with_fapl(|p| p.file_locking(false))
            .create(&partial)
            .context(&partial, || "create the HDF5 file".to_owned())?;
        Ok(Self { file, partial, path: path.to_path_buf() })
    }

    /// The group holding `name`'s last component, created with its parents when missing.
    fn parent(&self, name: &str) -> Result<(Group, String)> {
        let mut parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty()).collect();
        let leaf = parts.pop().ok_or_else(|| RecordError::invalid_input(&self.path, "an empty array name"))?;
        let mut group: Group = self.file.as_group().context(&self.partial, || "open the root group".to_owned())?;
        for part in parts {
            group = match group.group(part) {
                Ok(g) => g,
                Err(_) => group.create_group(part).context(&self.partial, || format!("create group {part}"))?,
            };
        }
        Ok((group, leaf.to_owned()))
    }

    fn write<T: H5Type>(&self, name: &str, shape: &[usize], data: &[T]) -> Result<()> {
        let len: usize = shape.iter().product();
        if len != data.len() {
            return Err(RecordError::invalid_input(
                &self.path,
                format!("{name}: shape {shape:?} holds {len} values, {} given", data.len()),
            ));
        }
        let (group, leaf) = self.parent(name)?;
        let array = ndarray_view(shape, data).context(&self.partial, || format!("shape {shape:?} of {name}"))?;
        group
            .new_dataset_builder()
            .with_data(&array)
            .create(leaf.as_str())
            .context(&self.partial, || format!("write dataset {name}"))?;
        Ok(())
    }

    pub fn write_f64(&self, name: &str, shape: &[usize], data: &[f64]) -> Result<()> {
        self.write(name, shape, data)
    }

    pub fn write_i64(&self, name: &str, shape: &[usize], data: &[i64]) -> Result<()> {
        self.write(name, shape, data)
    }

    pub fn write_strings(&self, name: &str, data: &[String]) -> Result<()> {
        let values = data
            .iter()
            .map(|s| {
                VarLenUnicode::from_str(s)
                    .map_err(|_| RecordError::invalid_input(&self.path, format!("{name}: {s:?} contains a NUL byte")))
            })
            .collect::<Result<Vec<_>>>()?;
        self.write(name, &[values.len()], &values)
    }

    /// Creates a group (and its parents) so that attributes can be set on it.
    pub fn group(&self, name: &str) -> Result<()> {
        let (parent, leaf) = self.parent(name)?;
        if parent.group(&leaf).is_err() {
            parent.create_group(&leaf).context(&self.partial, || format!("create group {name}"))?;
        }
        Ok(())
    }

    /// Sets attribute `attr` of the group or dataset `object` ("" or "/" for the root).
    pub fn attr(&self, object: &str, attr: &str, value: &AttrValue) -> Result<()> {
        let location = location_of(&self.file, object).context(&self.partial, || format!("open {object}"))?;
        let what = || format!("write attribute {object}/@{attr}");
        match value {
            AttrValue::F64(v) => location.new_attr::<f64>().create(attr).and_then(|a| a.write_scalar(v)),
            AttrValue::I64(v) => location.new_attr::<i64>().create(attr).and_then(|a| a.write_scalar(v)),
            AttrValue::Bool(v) => location.new_attr::<bool>().create(attr).and_then(|a| a.write_scalar(v)),
            AttrValue::Str(s) => return write_string_attr(&self.partial, &location, attr, s),
        }
        .context(&self.partial, what)
    }

    /// Closes the file and renames it into place.
    pub fn finish(self) -> Result<()> {
        let Self { file, partial, path } = self;
        file.flush().context(&partial, || "flush".to_owned())?;
        drop(file);
        std::fs::rename(&partial, &path).map_err(|cause| RecordError::Io {
            path: path.clone(),
            action: format!("rename {} to", partial.display()),
            cause,
        })
    }
}

fn ndarray_view<'a, T>(shape: &[usize], data: &'a [T]) -> hdf5::Result<ndarray::ArrayViewD<'a, T>> {
    ndarray::ArrayViewD::from_shape(ndarray::IxDyn(shape), data).map_err(|e| hdf5::Error::from(e.to_string()))
}

/// A float64 array read from a file: its shape and row-major values.
#[derive(Debug, Clone, PartialEq)]
pub struct F64Array {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Reads an array file's datasets and attributes.
#[derive(Debug)]
pub struct ArrayFileReader {
    file: File,
    path: PathBuf,
}

impl ArrayFileReader {
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Self { file: open_file(path)?, path: path.to_path_buf() })
    }

    pub fn has(&self, name: &str) -> bool {
        self.file.link_exists(name)
    }

    /// Dataset `name` as float64 (any numeric type is converted by HDF5).
    pub fn read_f64(&self, name: &str) -> Result<F64Array> {
        let ds = self.file.dataset(name).context(&self.path, || format!("open dataset {name}"))?;
        let shape = ds.shape();
        let data: Vec<f64> = ds.read_raw::<f64>().context(&self.path, || format!("read dataset {name} as float64"))?;
        Ok(F64Array { shape, data })
    }

    /// A root (`object` = "") or object attribute as a number, if present and numeric.
    pub fn attr_f64(&self, object: &str, attr: &str) -> Result<Option<f64>> {
        let location = self.location(object)?;
        match location.attr(attr) {
            Ok(a) => {
                a.read_scalar::<f64>().map(Some).context(&self.path, || format!("read {object}/@{attr} as a number"))
            }
            Err(_) => Ok(None),
        }
    }

    /// A string attribute, if present.
    pub fn attr_string(&self, object: &str, attr: &str) -> Result<Option<String>> {
        let location = self.location(object)?;
        if location.attr(attr).is_err() {
            return Ok(None);
        }
        read_string_attr(&self.path, &location, attr).map(Some)
    }

    fn location(&self, object: &str) -> Result<Location> {
        location_of(&self.file, object).context(&self.path, || format!("open {object}"))
    }
}

/// The root (`""` or `"/"`), a group or a dataset, as a location that carries attributes.
fn location_of(file: &File, object: &str) -> hdf5::Result<Location> {
    if object.is_empty() || object == "/" {
        let root: &Location = file;
        return Ok(root.clone());
    }
    if let Ok(group) = file.group(object) {
        let location: &Location = &group;
        return Ok(location.clone());
    }
    let dataset = file.dataset(object)?;
    let location: &Location = &dataset;
    Ok(location.clone())
}
