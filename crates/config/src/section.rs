//! Sections of a model file that the model-file language carries but does not interpret: today
//! `[attention]`, the harness settings of an attention circuit (`laminar_attention` reads them).
//!
//! A [`Section`] gives typed access to its keys with the same errors as the rest of the file:
//! the file, the line (or the `--set` argument), the dotted field and what is allowed. The
//! model file also answers numeric lookups anywhere in the document by dotted path
//! ([`ModelFile::number_at`](crate::ModelFile::number_at)), so a harness can read a synapse
//! parameter it depends on without a second parser.

use std::path::Path;

use crate::document::{Entry, Item, Node, Origin, TableRef};
use crate::error::ConfigError;
use crate::loader::Loader;

/// Top-level tables the language passes through to their users.
pub(crate) const PASSED_THROUGH: &[&str] = &["attention"];

/// One passed-through table.
#[derive(Debug, Clone, Copy)]
pub struct Section<'a> {
    pub(crate) file: &'a Path,
    pub(crate) name: &'a str,
    pub(crate) entries: &'a [Entry],
    pub(crate) origin: &'a Origin,
}

impl<'a> Section<'a> {
    fn loader(&self) -> Loader<'a> {
        Loader { file: self.file }
    }

    fn table(&self) -> TableRef<'a> {
        TableRef { entries: self.entries, path: self.name.to_string(), origin: self.origin }
    }

    fn field(&self, key: &str) -> String {
        format!("{}.{key}", self.name)
    }

    fn item(&self, key: &str) -> Option<&'a Item> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.item)
    }

    /// The keys, in file order.
    pub fn keys(&self) -> Vec<&'a str> {
        self.entries.iter().map(|e| e.key.as_str()).collect()
    }

    /// Refuses keys outside `allowed`, naming the closest allowed one.
    pub fn check_keys(&self, allowed: &[&str]) -> Result<(), Box<ConfigError>> {
        self.loader().check_keys(&self.table(), allowed)
    }

    /// A finite number, if the key is present.
    pub fn number(&self, key: &str) -> Result<Option<f64>, Box<ConfigError>> {
        self.item(key).map(|i| self.loader().as_number(i, &self.field(key))).transpose()
    }

    /// A number in `[min, max]`, or `default` when absent.
    pub fn number_in(&self, key: &str, min: f64, max: f64, default: f64) -> Result<f64, Box<ConfigError>> {
        match self.number(key)? {
            None => Ok(default),
            Some(v) if (min..=max).contains(&v) => Ok(v),
            Some(_) => Err(self.error(key, format!("must be a number from {min} to {max}"))),
        }
    }

    /// An integer in `[min, max]`, or `default` when absent.
    pub fn count(&self, key: &str, min: u64, max: u64, default: u64) -> Result<u64, Box<ConfigError>> {
        match self.item(key) {
            None => Ok(default),
            Some(i) => self.loader().as_count(i, &self.field(key), min, max),
        }
    }

    /// A range `[low, high]` of numbers in `[min, max]` with `low <= high`, or `default` when
    /// absent.
    pub fn range_in(&self, key: &str, min: f64, max: f64, default: (f64, f64)) -> Result<(f64, f64), Box<ConfigError>> {
        let Some(item) = self.item(key) else { return Ok(default) };
        let allowed = format!("a pair [low, high] of numbers from {min} to {max}, low <= high");
        let Node::Array(items) = &item.node else {
            return Err(self.error(key, format!("must be {allowed}")));
        };
        if items.len() != 2 {
            return Err(self.error(key, format!("must be {allowed}; it has {} entries", items.len())));
        }
        let field = self.field(key);
        let low = self.loader().as_number(&items[0], &format!("{field}.0"))?;
        let high = self.loader().as_number(&items[1], &format!("{field}.1"))?;
        if !(min..=max).contains(&low) || !(min..=max).contains(&high) || low > high {
            return Err(self.error(key, format!("must be {allowed}")));
        }
        Ok((low, high))
    }

    /// A list of strings, if the key is present.
    pub fn strings(&self, key: &str) -> Result<Option<Vec<&'a str>>, Box<ConfigError>> {
        let Some(item) = self.item(key) else { return Ok(None) };
        let Node::Array(items) = &item.node else {
            return Err(self.error(key, "must be a list of strings"));
        };
        let field = self.field(key);
        items
            .iter()
            .enumerate()
            .map(|(k, i)| self.loader().as_str(i, &format!("{field}.{k}")))
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// A string, if the key is present.
    pub fn string(&self, key: &str) -> Result<Option<&'a str>, Box<ConfigError>> {
        self.item(key).map(|i| self.loader().as_str(i, &self.field(key))).transpose()
    }

    /// A string that must be present.
    pub fn required_string(&self, key: &str, what: &str) -> Result<&'a str, Box<ConfigError>> {
        self.string(key)?.ok_or_else(|| self.loader().missing(&self.table(), key, what))
    }

    /// An error at `key` (or at the section when the key is absent).
    pub fn error(&self, key: &str, message: impl Into<String>) -> Box<ConfigError> {
        let loader = self.loader();
        match self.item(key) {
            Some(item) => loader.bad_value(item, &self.field(key), message),
            None => loader.error(self.origin, self.field(key), message),
        }
    }
}

/// The number at a dotted path of the document (`projections.memory.synapse.tau_astro`): tables
/// by key, arrays of tables by index or by their elements' `name`.
pub(crate) fn number_at(root: &[Entry], path: &str) -> Option<f64> {
    let mut parts = path.split('.');
    let first = parts.next()?;
    let mut item = &root.iter().find(|e| e.key == first)?.item;
    for part in parts {
        item = match &item.node {
            Node::Table(entries) => &entries.iter().find(|e| e.key == part)?.item,
            Node::Array(items) => match part.parse::<usize>() {
                Ok(i) => items.get(i)?,
                Err(_) => items.iter().find(|i| match &i.node {
                    Node::Table(entries) => {
                        entries.iter().any(|e| e.key == "name" && matches!(&e.item.node, Node::Str(s) if s == part))
                    }
                    _ => false,
                })?,
            },
            _ => return None,
        };
    }
    match item.node {
        Node::Int(i) => Some(i as f64),
        Node::Float(f) => Some(f),
        _ => None,
    }
}
