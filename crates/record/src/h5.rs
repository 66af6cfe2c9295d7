//! HDF5 building blocks shared by the writers and readers: root attributes, the `sorting` enum,
//! variable-length UTF-8 string attributes and append-only one-dimensional columns.

use std::path::Path;
use std::str::FromStr;

use hdf5::types::{VarLenAscii, VarLenUnicode};
use hdf5::{Dataset, File, Group, H5Type, Location};

use crate::error::{Hdf5Context, RecordError, Result};

/// Value of the root attribute `@magic` of every file laminar writes.
pub const MAGIC: u32 = 0x0A7A;

/// Value of the root attribute `@version` (`[major, minor]`) of every file laminar writes.
pub const VERSION: [u32; 2] = [0, 1];

/// Order of the spikes of one population, stored as the scalar `@sorting` attribute.
///
/// SONATA requires an HDF5 *enumeration* over `u8` with exactly these member names: libsonata
/// refuses a plain integer or a string, and trusts the claimed order when it selects spikes by
/// time, so [`Sorting::ByTime`] must only be written when it is true.
#[derive(H5Type, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Sorting {
    #[hdf5(rename = "none")]
    Unsorted = 0,
    #[hdf5(rename = "by_id")]
    ById = 1,
    #[hdf5(rename = "by_time")]
    ByTime = 2,
}

impl Sorting {
    /// The SONATA name of this order (`"none"`, `"by_id"` or `"by_time"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unsorted => "none",
            Self::ById => "by_id",
            Self::ByTime => "by_time",
        }
    }
}

impl std::fmt::Display for Sorting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Creates (truncating) an HDF5 file and writes the root attributes `@magic` and `@version`.
///
/// HDF5's advisory file locks are turned off: the C library opens files without close-on-exec,
/// so any process laminar starts (a test's Python reader, a second run) inherits the descriptor
/// and with it the lock, and later opens of the same file fail with "unable to lock file". Only
/// laminar writes its output files, so the lock protects nothing.
pub(crate) fn create_file(path: &Path) -> Result<File> {
    let file = File::with_options()
        .with_fapl(|p| p.file_locking(false))
        .create(path)
        .context(path, || "create the HDF5 file".to_owned())?;
    file.new_attr::<u32>()
        .create("magic")
        .and_then(|attr| attr.write_scalar(&MAGIC))
        .context(path, || "write the root attribute @magic".to_owned())?;
    file.new_attr_builder()
        .with_data(&VERSION[..])
        .create("version")
        .context(path, || "write the root attribute @version".to_owned())?;
    Ok(file)
}

/// Opens an existing file read-only.
pub(crate) fn open_file(path: &Path) -> Result<File> {
    File::with_options()
        .with_fapl(|p| p.file_locking(false))
        .open(path)
        .context(path, || "open the HDF5 file".to_owned())
}

/// Opens an existing file for reading and writing (to append to a recording being resumed),
/// without HDF5's file lock (see [`create_file`]), and checks that it is a laminar file: the root
/// `@magic` and `@version` this version writes.
pub(crate) fn open_file_rw(path: &Path) -> Result<File> {
    let file = File::with_options()
        .with_fapl(|p| p.file_locking(false))
        .open_rw(path)
        .context(path, || "open the HDF5 file for appending".to_owned())?;
    let names = file.attr_names().context(path, || "list the root attributes".to_owned())?;
    let root_attr = |name: &str| names.iter().any(|n| n == name);
    let magic = if root_attr("magic") { file.attr("magic").and_then(|a| a.read_scalar::<u32>()).ok() } else { None };
    let version = if root_attr("version") { file.attr("version").and_then(|a| a.read_raw::<u32>()).ok() } else { None };
    if magic != Some(MAGIC) || version.as_deref() != Some(&VERSION[..]) {
        return Err(RecordError::mismatch(
            path,
            format!(
                "the root attributes @magic = {magic:?} and @version = {version:?} are not laminar's \
                 ({MAGIC:#06x} and {VERSION:?}): this is not a file laminar wrote"
            ),
        ));
    }
    Ok(file)
}

/// Validates a population or projection name: it becomes an HDF5 group name, so it must be a
/// single, non-empty path component.
pub(crate) fn check_group_name(path: &Path, kind: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name.contains('\0') {
        return Err(RecordError::invalid_input(
            path,
            format!("{kind} name {name:?} cannot be an HDF5 group name (empty, '.', '/' or NUL)"),
        ));
    }
    Ok(())
}

/// Writes a scalar variable-length UTF-8 string attribute (libsonata reads `@units` only in
/// this representation).
pub(crate) fn write_string_attr(path: &Path, location: &Location, name: &str, value: &str) -> Result<()> {
    let value = VarLenUnicode::from_str(value).map_err(|_| {
        RecordError::invalid_input(path, format!("attribute @{name} value {value:?} contains a NUL byte"))
    })?;
    location
        .new_attr::<VarLenUnicode>()
        .create(name)
        .and_then(|attr| attr.write_scalar(&value))
        .context(path, || format!("write attribute {}/@{name}", location.name()))
}

/// Reads a scalar string attribute written as variable-length UTF-8 (or, from other tools,
/// variable-length ASCII).
pub(crate) fn read_string_attr(path: &Path, location: &Location, name: &str) -> Result<String> {
    let attr = location.attr(name).context(path, || format!("open attribute {}/@{name}", location.name()))?;
    if let Ok(value) = attr.read_scalar::<VarLenUnicode>() {
        return Ok(value.as_str().to_owned());
    }
    attr.read_scalar::<VarLenAscii>()
        .map(|value| value.as_str().to_owned())
        .context(path, || format!("read attribute {}/@{name} as a variable-length string", location.name()))
}

/// Reads the scalar enum attribute `@sorting` of a spike population (`none` when absent, as
/// SONATA specifies).
pub(crate) fn read_sorting(path: &Path, group: &Group) -> Result<Sorting> {
    if !group
        .attr_names()
        .context(path, || format!("list the attributes of {}", group.name()))?
        .iter()
        .any(|n| n == "sorting")
    {
        return Ok(Sorting::Unsorted);
    }
    group
        .attr("sorting")
        .and_then(|attr| attr.read_scalar::<Sorting>())
        .context(path, || format!("read {}/@sorting as the SONATA sorting enum", group.name()))
}

/// Writes the scalar enum attribute `@sorting`, replacing an earlier value.
pub(crate) fn write_sorting(path: &Path, group: &Group, sorting: Sorting) -> Result<()> {
    let attr = match group.attr("sorting") {
        Ok(attr) => attr,
        Err(_) => group
            .new_attr::<Sorting>()
            .create("sorting")
            .context(path, || format!("create attribute {}/@sorting", group.name()))?,
    };
    attr.write_scalar(&sorting).context(path, || format!("write attribute {}/@sorting = {sorting}", group.name()))
}

/// A one-dimensional dataset of unlimited length that only grows at its end.
#[derive(Debug)]
pub(crate) struct AppendableColumn {
    dataset: Dataset,
    len: usize,
}

impl AppendableColumn {
    /// Creates an empty, chunked dataset `name` with maxshape unlimited and no filters.
    pub(crate) fn create<T: H5Type>(path: &Path, group: &Group, name: &str, chunk: usize) -> Result<Self> {
        let dataset = group
            .new_dataset::<T>()
            .chunk(chunk)
            .shape(0..)
            .create(name)
            .context(path, || format!("create dataset {}/{name}", group.name()))?;
        Ok(Self { dataset, len: 0 })
    }

    /// Opens the existing dataset `name` to append to it: it must be one-dimensional, resizable
    /// and of element type `T`, as [`create`](Self::create) makes it. Its length is its extent.
    pub(crate) fn open<T: H5Type>(path: &Path, group: &Group, name: &str) -> Result<Self> {
        let dataset = group.dataset(name).context(path, || format!("open dataset {}/{name}", group.name()))?;
        let shape = dataset.shape();
        let &[len] = shape.as_slice() else {
            return Err(RecordError::mismatch(
                path,
                format!("{} has shape {shape:?}, expected one dimension", dataset.name()),
            ));
        };
        if !dataset.is_resizable() {
            return Err(RecordError::mismatch(path, format!("{} has a fixed size and cannot grow", dataset.name())));
        }
        let dtype = dataset.dtype().context(path, || format!("read the type of {}", dataset.name()))?;
        if !dtype.is::<T>() {
            let found = dtype.to_descriptor().map_or_else(|_| "an unknown type".to_owned(), |d| d.to_string());
            let expected = T::type_descriptor();
            return Err(RecordError::mismatch(path, format!("{} holds {found}, expected {expected}", dataset.name())));
        }
        Ok(Self { dataset, len })
    }

    /// The dataset, for attributes.
    pub(crate) fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    /// Number of values in the file.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Grows the dataset by `values.len()` and writes them at the end.
    pub(crate) fn append<T: H5Type>(&mut self, path: &Path, values: &[T]) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let new_len = self.len + values.len();
        self.dataset
            .resize(new_len)
            .and_then(|()| self.dataset.write_slice(values, self.len..new_len))
            .context(path, || format!("append {} values to {}", values.len(), self.dataset.name()))?;
        self.len = new_len;
        Ok(())
    }

    /// Cuts the column to at most `len` values. The dataset's extent is set to exactly the
    /// values kept, also when an earlier [`append`](Self::append) grew it and then failed to
    /// write, so no unwritten (zero) values remain past the end.
    pub(crate) fn truncate(&mut self, path: &Path, len: usize) -> Result<()> {
        let kept = self.len.min(len);
        self.dataset.resize(kept).context(path, || format!("cut {} to {kept} values", self.dataset.name()))?;
        self.len = kept;
        Ok(())
    }
}

/// Reads a whole one-dimensional dataset `group/name`.
pub(crate) fn read_column<T: H5Type>(path: &Path, group: &Group, name: &str) -> Result<Vec<T>> {
    group
        .dataset(name)
        .and_then(|dataset| dataset.read_raw::<T>())
        .context(path, || format!("read dataset {}/{name}", group.name()))
}

/// Opens `group/name` as a group.
pub(crate) fn open_group(path: &Path, parent: &Group, name: &str) -> Result<Group> {
    parent.group(name).context(path, || {
        let parent = parent.name();
        let separator = if parent.ends_with('/') { "" } else { "/" };
        format!("open group {parent}{separator}{name}")
    })
}

/// Names of the members of a group, in HDF5's (alphabetical) order.
pub(crate) fn member_names(path: &Path, group: &Group) -> Result<Vec<String>> {
    group.member_names().context(path, || format!("list the members of {}", group.name()))
}

/// Checks that `group` holds exactly the members `planned` (in any order), else a mismatch
/// that names both lists: "it holds the {what} [..] but the run records [..]".
pub(crate) fn check_members(
    path: &Path,
    group: &Group,
    planned: impl Iterator<Item = String>,
    what: &str,
) -> Result<()> {
    let mut in_file = member_names(path, group)?;
    let mut planned: Vec<String> = planned.collect();
    in_file.sort();
    planned.sort();
    if in_file != planned {
        return Err(RecordError::mismatch(
            path,
            format!("it holds the {what} {in_file:?} but the run records {planned:?}"),
        ));
    }
    Ok(())
}
