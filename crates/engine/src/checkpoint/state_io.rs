//! [`StateIo`]: one visitor that saves and restores a component's state with the same code.
//!
//! A component (a population shard, a device's channels on one thread, a plastic group) writes
//! one function, `state(&mut self, io: &mut StateIo)`, that names each of its state arrays once:
//! `io.neurons("V_m", &mut self.v_m)?`. When the checkpoint is written the call copies the array
//! out; when it is read the same call fills the array in. Save and load cannot drift apart.
//!
//! # Why a checkpoint does not depend on the thread count
//! Arrays are stored as *columns* named by the engine's scope (the population, projection or
//! device) and the component's name, in a canonical order that is the same for any partition:
//! - per-neuron arrays ([`StateIo::neurons`]) in gid order: shards are gid-contiguous chunks and
//!   the engine visits them in gid order, so each shard appends (and, when loading, takes) the
//!   next `len` items;
//! - per-synapse arrays of a plastic group ([`StateIo::synapses`]) in (target, source, stored
//!   order) order: the engine hands the visitor the permutation from a group's row-by-source
//!   storage to that order, which concatenates across shards because shards split targets;
//! - per-channel arrays of a device ([`StateIo::channels`]) keyed by the target gid and sorted
//!   by it (stably) when the checkpoint is finished, because a thread's channels are the targets
//!   it owns in connection order.
//!
//! A checkpoint written with 4 threads therefore loads into 1 or 3. Items are encoded one by one
//! ([`super::codec`]), so an item may be a struct, a list (a neuron's spike history) or a random
//! generator's state.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::codec;
use crate::time::Step;

/// A component's state could not be saved or restored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct StateError(pub String);

/// What a column holds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ColumnKind {
    /// Items in canonical order (neurons by gid, synapses by target and source).
    #[default]
    Ordered,
    /// Items keyed by a target gid (device channels), sorted by key.
    Keyed,
    /// One value every shard holds identically.
    Shared,
}

/// One named array of a checkpoint.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Column {
    kind: ColumnKind,
    items: u64,
    data: Vec<u8>,
    /// The encoded size of each item (so that a rank can skip the items of the ranks before it,
    /// and keyed items can be found).
    sizes: Vec<u32>,
    /// Keyed columns: each item's key.
    keys: Vec<u64>,
}

impl Column {
    fn push_item(&mut self, before: usize) {
        self.sizes.push((self.data.len() - before) as u32);
        self.items += 1;
    }

    /// Byte offsets of the items' starts (one more than items: the end).
    fn starts(&self) -> Vec<usize> {
        let mut at = 0usize;
        let mut out = Vec::with_capacity(self.sizes.len() + 1);
        out.push(0);
        for &n in &self.sizes {
            at += n as usize;
            out.push(at);
        }
        out
    }

    /// Sorts a keyed column's items stably by key.
    fn sort_by_key(&mut self) {
        let mut order: Vec<usize> = (0..self.keys.len()).collect();
        order.sort_by_key(|&i| self.keys[i]);
        if order.iter().enumerate().all(|(k, &i)| k == i) {
            return;
        }
        let starts = self.starts();
        let mut data = Vec::with_capacity(self.data.len());
        let mut keys = Vec::with_capacity(self.keys.len());
        let mut sizes = Vec::with_capacity(self.sizes.len());
        for &i in &order {
            data.extend_from_slice(&self.data[starts[i]..starts[i + 1]]);
            keys.push(self.keys[i]);
            sizes.push(self.sizes[i]);
        }
        (self.data, self.keys, self.sizes) = (data, keys, sizes);
    }

    /// Appends `other` (the same column of the next rank).
    fn append(&mut self, other: Column) {
        self.items += other.items;
        self.data.extend_from_slice(&other.data);
        self.sizes.extend_from_slice(&other.sizes);
        self.keys.extend_from_slice(&other.keys);
    }
}

/// The state of a whole simulation as named columns (what [`StateIo`] collects or hands out).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct StateColumns {
    pub(crate) columns: BTreeMap<String, Column>,
}

impl StateColumns {
    /// The state of a run over several ranks as one: each rank's columns, in rank order, joined
    /// column by column — ordered columns concatenate (ranks hold consecutive chunks of every
    /// population), keyed ones are re-sorted by key, shared ones must agree. The result is what
    /// one process would have saved.
    pub(crate) fn merge(parts: Vec<StateColumns>) -> Result<StateColumns, StateError> {
        let mut merged: BTreeMap<String, Column> = BTreeMap::new();
        for part in parts {
            for (name, column) in part.columns {
                match merged.get_mut(&name) {
                    None => {
                        merged.insert(name, column);
                    }
                    Some(into) if into.kind != column.kind => {
                        return Err(StateError(format!("internal: `{name}` is saved as two kinds of column")));
                    }
                    Some(into) if into.kind == ColumnKind::Shared => {
                        if into.data != column.data {
                            return Err(StateError(format!("`{name}` differs between ranks; it cannot be saved")));
                        }
                    }
                    Some(into) => into.append(column),
                }
            }
        }
        for column in merged.values_mut().filter(|c| c.kind == ColumnKind::Keyed) {
            column.sort_by_key();
        }
        Ok(StateColumns { columns: merged })
    }

    /// The columns' names, item counts and bytes, for reports.
    pub fn summary(&self) -> Vec<(String, u64, usize)> {
        self.columns.iter().map(|(n, c)| (n.clone(), c.items, c.data.len())).collect()
    }
}

/// What the engine tells a component about the items it may save.
#[derive(Debug, Clone)]
enum Scope {
    /// Outside any component.
    None,
    /// A shard's neurons (`neurons` per-neuron arrays); inside a plastic group also its synapses,
    /// given as the permutation from canonical position to stored index.
    Shard { neurons: usize, synapse_order: Option<Vec<u32>> },
    /// A device's channels on one thread, by target gid.
    Channels { keys: Vec<u64> },
}

/// A load cursor into one column.
#[derive(Debug, Default)]
struct Cursor {
    byte: usize,
    /// Items taken (ordered columns: including the ones skipped for the ranks before this one).
    items: u64,
    /// Keyed columns: the items of each key not yet taken, in order, and where each item starts.
    by_key: Option<HashMap<u64, VecDeque<usize>>>,
    starts: Vec<usize>,
}

/// What a visit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Save,
    Load,
    /// Only counts the ordered items each column would take (a rank's share, to know how many
    /// items of each column belong to the ranks before it).
    Count,
}

/// Saves or restores components' state; see the module's documentation.
#[derive(Debug)]
pub struct StateIo {
    mode: Mode,
    /// Count mode: ordered items per column.
    counts: BTreeMap<String, u64>,
    /// Load mode in a run over several ranks: the items of each ordered column this rank takes
    /// (checked at the end instead of the whole column).
    share: Option<BTreeMap<String, u64>>,
    /// ... and the items of the ranks before it.
    skips: BTreeMap<String, u64>,
    now: Step,
    columns: BTreeMap<String, Column>,
    cursors: HashMap<String, Cursor>,
    prefix: String,
    scope: Scope,
}

impl StateIo {
    /// A visitor that collects state at step `now`.
    pub(crate) fn saver(now: Step) -> Self {
        Self {
            mode: Mode::Save,
            counts: BTreeMap::new(),
            share: None,
            skips: BTreeMap::new(),
            now,
            columns: BTreeMap::new(),
            cursors: HashMap::new(),
            prefix: String::new(),
            scope: Scope::None,
        }
    }

    /// A visitor that hands out `state`, saved at step `now`.
    pub(crate) fn loader(now: Step, state: StateColumns) -> Self {
        Self {
            mode: Mode::Load,
            counts: BTreeMap::new(),
            share: None,
            skips: BTreeMap::new(),
            now,
            columns: state.columns,
            cursors: HashMap::new(),
            prefix: String::new(),
            scope: Scope::None,
        }
    }

    /// A visitor that only counts the ordered items of each column a rank's components take.
    pub(crate) fn counter(now: Step) -> Self {
        Self { mode: Mode::Count, ..Self::saver(now) }
    }

    /// The counts of a counting visit.
    pub(crate) fn into_counts(self) -> BTreeMap<String, u64> {
        self.counts
    }

    /// Loading one rank's share: `skip[c]` items of ordered column `c` belong to the ranks before
    /// this one, `share[c]` to this one.
    pub(crate) fn set_share(&mut self, skip: &BTreeMap<String, u64>, share: BTreeMap<String, u64>) {
        for (name, &n) in skip {
            if let Some(col) = self.columns.get(name)
                && col.kind == ColumnKind::Ordered
            {
                let byte = col.sizes.iter().take(n as usize).map(|&s| s as usize).sum();
                self.cursors.insert(name.clone(), Cursor { byte, items: n, ..Cursor::default() });
            }
        }
        self.skips = skip.clone();
        self.share = Some(share);
    }

    /// Checks that the ranks' shares of every ordered column add up to the column, and that no
    /// ordered column is left to no rank (a checkpoint of another network).
    pub(crate) fn check_totals(&self, total: &BTreeMap<String, u64>) -> Result<(), StateError> {
        for (name, col) in self.columns.iter().filter(|(_, c)| c.kind == ColumnKind::Ordered) {
            let taken = total.get(name).copied().unwrap_or(0);
            if taken != col.items {
                return Err(StateError(format!(
                    "the checkpoint's `{name}` holds {} items and this network's ranks take {taken}: it was written \
                     for another network",
                    col.items
                )));
            }
        }
        if let Some(name) = total.keys().find(|n| !self.columns.contains_key(*n)) {
            return Err(self.missing(name));
        }
        Ok(())
    }

    fn skipped(&self, column: &str) -> u64 {
        self.skips.get(column).copied().unwrap_or(0)
    }

    /// Whether state is being saved (the engine then collects what it owns; a counting visit
    /// needs none of it).
    pub(crate) fn saving(&self) -> bool {
        self.mode == Mode::Save
    }

    /// Whether state is being restored (else saved, or counted: either way, nothing changes).
    pub fn loading(&self) -> bool {
        self.mode == Mode::Load
    }

    /// The step at which the state is taken: every step before it has been computed.
    pub fn now(&self) -> Step {
        self.now
    }

    pub(crate) fn enter_shard(&mut self, prefix: String, neurons: usize) {
        self.prefix = prefix;
        self.scope = Scope::Shard { neurons, synapse_order: None };
    }

    pub(crate) fn enter_group(&mut self, prefix: String, neurons: usize, synapse_order: Vec<u32>) {
        self.prefix = prefix;
        self.scope = Scope::Shard { neurons, synapse_order: Some(synapse_order) };
    }

    pub(crate) fn enter_channels(&mut self, prefix: String, keys: Vec<u64>) {
        self.prefix = prefix;
        self.scope = Scope::Channels { keys };
    }

    pub(crate) fn enter_global(&mut self) {
        self.prefix = "simulation".into();
        self.scope = Scope::None;
    }

    fn column_name(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }

    /// A per-neuron array of the current shard (`values.len()` must be the shard's size).
    pub fn neurons<T: Serialize + DeserializeOwned>(&mut self, name: &str, values: &mut [T]) -> Result<(), StateError> {
        let expected = match &self.scope {
            Scope::Shard { neurons, .. } => *neurons,
            _ => return Err(self.misuse(name, "per-neuron state outside a population shard")),
        };
        self.check_len(name, values.len(), expected, "neurons")?;
        let column = self.column_name(name);
        match self.mode {
            Mode::Count => {
                *self.counts.entry(column).or_default() += values.len() as u64;
                Ok(())
            }
            Mode::Load => {
                for v in values.iter_mut() {
                    *v = self.take(&column)?;
                }
                Ok(())
            }
            Mode::Save => self.append(&column, values.iter()),
        }
    }

    /// A per-synapse array of the current plastic group, in its stored (row-by-source) order.
    pub fn synapses<T: Serialize + DeserializeOwned>(
        &mut self,
        name: &str,
        values: &mut [T],
    ) -> Result<(), StateError> {
        let order = match &self.scope {
            Scope::Shard { synapse_order: Some(order), .. } => order.clone(),
            _ => return Err(self.misuse(name, "per-synapse state outside a plastic group")),
        };
        self.check_len(name, values.len(), order.len(), "synapses")?;
        let column = self.column_name(name);
        match self.mode {
            Mode::Count => {
                *self.counts.entry(column).or_default() += values.len() as u64;
                Ok(())
            }
            Mode::Load => {
                for &j in &order {
                    values[j as usize] = self.take(&column)?;
                }
                Ok(())
            }
            Mode::Save => self.append(&column, order.iter().map(|&j| &values[j as usize])),
        }
    }

    /// A per-channel array of the current device on this thread.
    pub fn channels<T: Serialize + DeserializeOwned>(
        &mut self,
        name: &str,
        values: &mut [T],
    ) -> Result<(), StateError> {
        let keys = match &self.scope {
            Scope::Channels { keys } => keys.clone(),
            _ => return Err(self.misuse(name, "per-channel state outside a device")),
        };
        self.check_len(name, values.len(), keys.len(), "channels")?;
        let column = self.column_name(name);
        match self.mode {
            Mode::Count => Ok(()),
            Mode::Load => {
                for (v, &key) in values.iter_mut().zip(&keys) {
                    *v = self.take_keyed(&column, key)?;
                }
                Ok(())
            }
            Mode::Save => {
                let col = self
                    .columns
                    .entry(column.clone())
                    .or_insert_with(|| Column { kind: ColumnKind::Keyed, ..Column::default() });
                for (v, &key) in values.iter().zip(&keys) {
                    let before = col.data.len();
                    codec::encode_into(v, &mut col.data).map_err(|e| StateError(format!("{column}: {e}")))?;
                    col.keys.push(key);
                    col.push_item(before);
                }
                Ok(())
            }
        }
    }

    /// A value that every shard of the scope holds identically (a population's tick counter):
    /// saved once, checked equal on the other shards, handed to each on load.
    pub fn shared<T>(&mut self, name: &str, value: &mut T) -> Result<(), StateError>
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let column = self.column_name(name);
        if self.mode == Mode::Count {
            return Ok(());
        }
        if self.loading() {
            let col = self.columns.get(&column).ok_or_else(|| self.missing(&column))?;
            *value = codec::decode(&col.data).map_err(|e| StateError(format!("{column}: {e}")))?;
            self.cursors.entry(column).or_default().items = 1;
            Ok(())
        } else {
            match self.columns.get(&column) {
                Some(col) => {
                    let stored: T = codec::decode(&col.data).map_err(|e| StateError(format!("{column}: {e}")))?;
                    if stored != *value {
                        return Err(StateError(format!(
                            "{column}: shards disagree ({stored:?} and {value:?}); it cannot be saved as shared"
                        )));
                    }
                    Ok(())
                }
                None => {
                    let data = codec::encode(value).map_err(|e| StateError(format!("{column}: {e}")))?;
                    let sizes = vec![data.len() as u32];
                    self.columns
                        .insert(column, Column { kind: ColumnKind::Shared, items: 1, data, sizes, keys: Vec::new() });
                    Ok(())
                }
            }
        }
    }

    fn check_len(&self, name: &str, got: usize, expected: usize, what: &str) -> Result<(), StateError> {
        if got == expected { Ok(()) } else { Err(self.misuse(name, &format!("{got} values for {expected} {what}"))) }
    }

    fn misuse(&self, name: &str, what: &str) -> StateError {
        StateError(format!("internal: {} : {what}", self.column_name(name)))
    }

    fn missing(&self, column: &str) -> StateError {
        StateError(format!(
            "the checkpoint has no `{column}`: it was written for another model or another version of it"
        ))
    }

    fn append<'a, T: Serialize + 'a>(
        &mut self,
        column: &str,
        values: impl Iterator<Item = &'a T>,
    ) -> Result<(), StateError> {
        let col = self.columns.entry(column.to_string()).or_default();
        for v in values {
            let before = col.data.len();
            codec::encode_into(v, &mut col.data).map_err(|e| StateError(format!("{column}: {e}")))?;
            col.push_item(before);
        }
        Ok(())
    }

    fn take<T: DeserializeOwned>(&mut self, column: &str) -> Result<T, StateError> {
        let col = self.columns.get(column).ok_or_else(|| self.missing(column))?;
        let cursor = self.cursors.entry(column.to_string()).or_default();
        if cursor.items >= col.items {
            return Err(StateError(format!(
                "the checkpoint's `{column}` holds {} items, fewer than this network needs: it was written for \
                 another network",
                col.items
            )));
        }
        let (value, used) = codec::decode_prefix(&col.data[cursor.byte..])
            .map_err(|e| StateError(format!("`{column}`, item {}: {e}", cursor.items)))?;
        cursor.byte += used;
        cursor.items += 1;
        Ok(value)
    }

    fn take_keyed<T: DeserializeOwned>(&mut self, column: &str, key: u64) -> Result<T, StateError> {
        let col = self.columns.get(column).ok_or_else(|| self.missing(column))?;
        if col.kind != ColumnKind::Keyed && col.items > 0 {
            return Err(StateError(format!("the checkpoint's `{column}` is not a per-channel column")));
        }
        let cursor = self.cursors.entry(column.to_string()).or_default();
        if cursor.by_key.is_none() {
            cursor.starts = col.starts();
        }
        let by_key = cursor.by_key.get_or_insert_with(|| {
            let mut map: HashMap<u64, VecDeque<usize>> = HashMap::new();
            for (i, &k) in col.keys.iter().enumerate() {
                map.entry(k).or_default().push_back(i);
            }
            map
        });
        let i = by_key.get_mut(&key).and_then(VecDeque::pop_front).ok_or_else(|| {
            StateError(format!(
                "the checkpoint's `{column}` has no channel to gid {key}: it was written for another network"
            ))
        })?;
        let value = codec::decode(&col.data[cursor.starts[i]..cursor.starts[i + 1]])
            .map_err(|e| StateError(format!("`{column}`, channel to gid {key}: {e}")))?;
        cursor.items += 1;
        Ok(value)
    }

    /// The collected state (saving), with keyed columns in key order.
    pub(crate) fn into_columns(self) -> StateColumns {
        let mut columns = self.columns;
        for col in columns.values_mut() {
            if col.kind == ColumnKind::Keyed {
                col.sort_by_key();
            }
        }
        StateColumns { columns }
    }

    /// Checks that loading used every item of every column: anything left over means the
    /// checkpoint describes a larger or different network.
    pub(crate) fn finish_loading(self) -> Result<(), StateError> {
        if let Some(share) = &self.share {
            // One rank of several: it must have taken exactly its share of each ordered column
            // (the restore checked that the shares add up to the columns).
            for (name, &n) in share {
                let start = self.skipped(name);
                let used = self.cursors.get(name).map_or(0, |c| c.items) - start;
                if used != n {
                    return Err(StateError(format!(
                        "internal: this rank took {used} items of `{name}`, its share is {n}"
                    )));
                }
            }
            return Ok(());
        }
        for (name, col) in &self.columns {
            let used = self.cursors.get(name).map_or(0, |c| c.items);
            if used != col.items {
                return Err(StateError(format!(
                    "the checkpoint's `{name}` holds {} items and this network used {used}: it was written for \
                     another network",
                    col.items
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neurons_round_trip_across_a_different_split() {
        let mut io = StateIo::saver(7);
        let mut a = vec![1.0f64, 2.0];
        let mut b = vec![3.0f64, 4.0, 5.0];
        io.enter_shard("pop".into(), 2);
        io.neurons("V", &mut a).unwrap();
        io.enter_shard("pop".into(), 3);
        io.neurons("V", &mut b).unwrap();
        let cols = io.into_columns();
        let mut io = StateIo::loader(7, cols);
        let mut c = vec![0.0f64; 4];
        let mut d = vec![0.0f64; 1];
        io.enter_shard("pop".into(), 4);
        io.neurons("V", &mut c).unwrap();
        io.enter_shard("pop".into(), 1);
        io.neurons("V", &mut d).unwrap();
        io.finish_loading().unwrap();
        assert_eq!((c, d), (vec![1.0, 2.0, 3.0, 4.0], vec![5.0]));
    }

    #[test]
    fn synapses_follow_the_canonical_order_and_channels_their_keys() {
        let mut io = StateIo::saver(0);
        io.enter_group("proj".into(), 1, vec![2, 0, 1]);
        let mut w = vec![10u32, 11, 12];
        io.synapses("w", &mut w).unwrap();
        io.enter_channels("dev".into(), vec![9, 3]);
        let mut rng = vec![(1u8, 2.5f64), (3u8, 4.5f64)];
        io.channels("rng", &mut rng).unwrap();
        let cols = io.into_columns();
        let mut io = StateIo::loader(0, cols);
        io.enter_group("proj".into(), 1, vec![1, 2, 0]);
        let mut w2 = vec![0u32; 3];
        io.synapses("w", &mut w2).unwrap();
        assert_eq!(w2, vec![11, 12, 10]);
        io.enter_channels("dev".into(), vec![3]);
        let mut one = vec![(0u8, 0.0f64)];
        io.channels("rng", &mut one).unwrap();
        assert_eq!(one, vec![(3, 4.5)]);
        assert!(io.finish_loading().is_err(), "the channel to gid 9 was not taken");
    }

    #[test]
    fn a_short_column_is_refused() {
        let mut io = StateIo::saver(0);
        io.enter_shard("pop".into(), 1);
        io.neurons("V", &mut [1.0f64]).unwrap();
        let mut io = StateIo::loader(0, io.into_columns());
        io.enter_shard("pop".into(), 2);
        let err = io.neurons("V", &mut [0.0f64; 2]).unwrap_err();
        assert!(err.0.contains("fewer than this network needs"), "{err}");
        io.enter_shard("other".into(), 1);
        let err = io.neurons("V", &mut [0.0f64]).unwrap_err();
        assert!(err.0.contains("has no `other/V`"), "{err}");
    }
}
