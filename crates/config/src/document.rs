//! The TOML document with positions: every value keeps the line (or `--set` argument) it came
//! from ([`Origin`]), tables keep document order; parsing and `--set` overrides.

use laminar_models::params::compact;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::{Res, suggestion};
use crate::loader::Loader;

/// Where a value came from, for error messages.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Origin {
    /// A line of the model file (1-based).
    Line(usize),
    /// A `--set` argument.
    Set(String),
    /// Nowhere in particular (a missing table, the file as a whole).
    Unknown,
}

/// A TOML value with where it came from. Tables keep document order (the `toml` crate's maps
/// are sorted by key, so the order is recovered from the keys' byte offsets).
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) node: Node,
    pub(crate) origin: Origin,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime(String),
    Array(Vec<Item>),
    Table(Vec<Entry>),
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_origin: Origin,
    pub(crate) item: Item,
}

impl Node {
    /// "a string", "an integer", … for type errors.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Node::Str(_) => "a string",
            Node::Int(_) => "an integer",
            Node::Float(_) => "a float",
            Node::Bool(_) => "a boolean",
            Node::Datetime(_) => "a date-time",
            Node::Array(_) => "an array",
            Node::Table(_) => "a table",
        }
    }

    /// The value in TOML syntax, shortened if long.
    pub(crate) fn render(&self) -> String {
        let full = match self {
            Node::Str(s) => format!("{s:?}"),
            Node::Int(i) => i.to_string(),
            Node::Float(f) => compact(*f),
            Node::Bool(b) => b.to_string(),
            Node::Datetime(d) => d.clone(),
            Node::Array(items) => {
                format!("[{}]", items.iter().map(|i| i.node.render()).collect::<Vec<_>>().join(", "))
            }
            Node::Table(entries) => format!(
                "{{ {} }}",
                entries.iter().map(|e| format!("{} = {}", e.key, e.item.node.render())).collect::<Vec<_>>().join(", ")
            ),
        };
        const MAX: usize = 60;
        if full.chars().count() > MAX { format!("{}…", full.chars().take(MAX - 1).collect::<String>()) } else { full }
    }
}

/// Byte offsets of line starts, to turn spans into line numbers.
pub(crate) struct LineIndex {
    pub(crate) starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    /// The 1-based line containing byte `offset`.
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset).max(1)
    }

    pub(crate) fn line_start(&self, line: usize) -> usize {
        self.starts.get(line.saturating_sub(1)).copied().unwrap_or(0)
    }
}

/// A table being read, with its dotted path (empty for the top level).
pub(crate) struct TableRef<'a> {
    pub(crate) entries: &'a [Entry],
    pub(crate) path: String,
    pub(crate) origin: &'a Origin,
}

impl<'a> TableRef<'a> {
    pub(crate) fn get(&self, key: &str) -> Option<&'a Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    pub(crate) fn field(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_string() } else { format!("{}.{key}", self.path) }
    }

    /// How the table is named in messages.
    pub(crate) fn describe(&self) -> String {
        if self.path.is_empty() { "the model file".to_string() } else { self.path.clone() }
    }
}

/// The names of the elements of an array of tables: an explicit `name`, else (for
/// `[[projections]]` and `[[stimuli]]`) the default `<a>-><b>` from the two `default_keys`,
/// numbered `#2`, `#3`, … when a default repeats.
pub(crate) fn element_names(items: &[Item], default_keys: Option<(&str, &str)>) -> Vec<Option<String>> {
    let mut seen: Vec<String> = Vec::new();
    items
        .iter()
        .map(|item| {
            let Node::Table(entries) = &item.node else {
                return None;
            };
            let text = |key: &str| {
                entries.iter().find(|e| e.key == key).and_then(|e| match &e.item.node {
                    Node::Str(s) => Some(s.clone()),
                    _ => None,
                })
            };
            if let Some(name) = text("name") {
                return Some(name);
            }
            let (a, b) = default_keys?;
            let base = format!("{}->{}", text(a)?, text(b)?);
            let repeats = seen.iter().filter(|s| **s == base).count();
            seen.push(base.clone());
            Some(if repeats == 0 { base } else { format!("{base}#{}", repeats + 1) })
        })
        .collect()
}

pub(crate) fn default_name_keys(array_key: &str) -> Option<(&'static str, &'static str)> {
    match array_key {
        "projections" => Some(("source", "target")),
        "stimuli" => Some(("model", "target")),
        _ => None,
    }
}

/// Where the field at dotted `path` (table keys, array indices) is written: the deepest part of
/// the path that exists.
pub(crate) fn origin_of_path(root: &[Entry], path: &str) -> Option<Origin> {
    let mut entries = root;
    let mut found: Option<Origin> = None;
    let mut item: Option<&Item> = None;
    for segment in path.split('.') {
        let next = match item.map(|i| &i.node) {
            None => entries.iter().find(|e| e.key == segment).map(|e| (&e.key_origin, &e.item)),
            Some(Node::Table(t)) => t.iter().find(|e| e.key == segment).map(|e| (&e.key_origin, &e.item)),
            Some(Node::Array(items)) => {
                segment.parse::<usize>().ok().and_then(|i| items.get(i)).map(|i| (&i.origin, i))
            }
            Some(_) => None,
        };
        let Some((origin, next)) = next else { break };
        found = Some(if matches!(next.node, Node::Table(_)) { origin.clone() } else { next.origin.clone() });
        item = Some(next);
        entries = &[];
    }
    found
}

// ---------------------------------------------------------------- applying overrides

/// Tables a file may leave out whose keys `--set` may still add (`params.X`, `initial.X`).
pub(crate) const OPTIONAL_TABLES: &[&str] = &["params", "initial"];

/// Sets `path[depth..]` inside a table to `item`. Errors carry the depth of the failing part.
pub(crate) fn set_in_table(
    entries: &mut Vec<Entry>,
    path: &[&str],
    depth: usize,
    item: Item,
) -> Result<(), (usize, String)> {
    let Some(&segment) = path.get(depth) else {
        return Err((depth, "empty key path".into()));
    };
    let last = depth + 1 == path.len();
    match entries.iter().position(|e| e.key == segment) {
        Some(i) if last => {
            entries[i].item = item;
            Ok(())
        }
        Some(i) => set_in_item(&mut entries[i].item, path, depth + 1, item),
        None if last => {
            entries.push(Entry { key: segment.to_string(), key_origin: item.origin.clone(), item });
            Ok(())
        }
        // `--set populations.exc.params.tau_m=15` must work when the file sets no params.
        None if depth + 2 == path.len() && OPTIONAL_TABLES.contains(&segment) => {
            let mut table = Vec::new();
            set_in_table(&mut table, path, depth + 1, item.clone())?;
            entries.push(Entry {
                key: segment.to_string(),
                key_origin: item.origin.clone(),
                item: Item { node: Node::Table(table), origin: item.origin },
            });
            Ok(())
        }
        None => {
            let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
            let parent = if depth == 0 { "the model file".to_string() } else { path[..depth].join(".") };
            Err((
                depth,
                format!(
                    "`{segment}` does not exist in {parent}{} (only the last part of a path may be new)",
                    suggestion(segment, &keys)
                ),
            ))
        }
    }
}

pub(crate) fn set_in_item(target: &mut Item, path: &[&str], depth: usize, item: Item) -> Result<(), (usize, String)> {
    let Some(&segment) = path.get(depth) else {
        return Err((depth, "empty key path".into()));
    };
    match &mut target.node {
        Node::Table(entries) => set_in_table(entries, path, depth, item),
        Node::Array(items) => {
            let index = match segment.parse::<usize>() {
                Ok(i) => i,
                Err(_) => {
                    let keys = if depth == 1 { default_name_keys(path[0]) } else { None };
                    let names = element_names(items, keys);
                    names.iter().position(|n| n.as_deref() == Some(segment)).ok_or_else(|| {
                        let known: Vec<&str> = names.iter().flatten().map(String::as_str).collect();
                        (
                            depth,
                            format!(
                                "no element named `{segment}` in {}{}; use an index 0..{} or a name: {}",
                                path[..depth].join("."),
                                suggestion(segment, &known),
                                items.len().saturating_sub(1),
                                known.join(", ")
                            ),
                        )
                    })?
                }
            };
            let len = items.len();
            let Some(element) = items.get_mut(index) else {
                return Err((
                    depth,
                    format!("index {index} is out of range: {} has {len} elements", path[..depth].join(".")),
                ));
            };
            if depth + 1 == path.len() {
                *element = item;
                Ok(())
            } else {
                set_in_item(element, path, depth + 1, item)
            }
        }
        other => {
            Err((depth.saturating_sub(1), format!("is {}, not a table or array: it has no `{segment}`", other.kind())))
        }
    }
}

impl Loader<'_> {
    // ------------------------------------------------------------ parsing

    pub(crate) fn parse_document(&self, text: &str, lines: &LineIndex) -> Res<Vec<Entry>> {
        let table = DeTable::parse(text).map_err(|e| {
            let (origin, column) = match e.span() {
                Some(span) => {
                    let line = lines.line(span.start);
                    let start = lines.line_start(line);
                    let column = text.get(start..span.start).map(|s| s.chars().count() + 1).unwrap_or(1);
                    (Origin::Line(line), format!(" (column {column})"))
                }
                None => (Origin::Unknown, String::new()),
            };
            self.error(&origin, "", format!("TOML syntax error{column}: {}", e.message()))
        })?;
        let origin_of = |offset: usize| Origin::Line(lines.line(offset));
        self.convert_table(table.get_ref(), &origin_of, "")
    }

    pub(crate) fn convert_table(
        &self,
        table: &DeTable<'_>,
        origin_of: &dyn Fn(usize) -> Origin,
        path: &str,
    ) -> Res<Vec<Entry>> {
        let mut keyed: Vec<(usize, Entry)> = Vec::with_capacity(table.len());
        for (key, value) in table.iter() {
            let field = if path.is_empty() { key.get_ref().to_string() } else { format!("{path}.{}", key.get_ref()) };
            let item = self.convert_value(value, origin_of, &field)?;
            keyed.push((
                key.span().start,
                Entry { key: key.get_ref().to_string(), key_origin: origin_of(key.span().start), item },
            ));
        }
        keyed.sort_by_key(|(offset, _)| *offset);
        Ok(keyed.into_iter().map(|(_, e)| e).collect())
    }

    pub(crate) fn convert_value(
        &self,
        value: &Spanned<DeValue<'_>>,
        origin_of: &dyn Fn(usize) -> Origin,
        field: &str,
    ) -> Res<Item> {
        let origin = origin_of(value.span().start);
        let node = match value.get_ref() {
            DeValue::String(s) => Node::Str(s.to_string()),
            DeValue::Integer(i) => Node::Int(i64::from_str_radix(i.as_str(), i.radix()).map_err(|_| {
                self.error(&origin, field, format!("integer {i} is out of range (TOML integers are 64-bit)"))
            })?),
            DeValue::Float(f) => Node::Float(
                f.as_str()
                    .parse::<f64>()
                    .map_err(|_| self.error(&origin, field, format!("cannot read the number {f}")))?,
            ),
            DeValue::Boolean(b) => Node::Bool(*b),
            DeValue::Datetime(d) => Node::Datetime(d.to_string()),
            DeValue::Array(items) => Node::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(k, v)| self.convert_value(v, origin_of, &format!("{field}.{k}")))
                    .collect::<Res<_>>()?,
            ),
            DeValue::Table(t) => Node::Table(self.convert_table(t, origin_of, field)?),
        };
        Ok(Item { node, origin })
    }

    // ------------------------------------------------------------ overrides

    pub(crate) fn apply_override(&self, root: &mut Vec<Entry>, arg: &str) -> Res<()> {
        let origin = Origin::Set(arg.to_string());
        let Some((key, value_text)) = arg.split_once('=') else {
            return Err(self.error(&origin, "", "expected key.path=value, e.g. simulation.duration_ms=500"));
        };
        let path: Vec<&str> = key.trim().split('.').map(str::trim).collect();
        if path.iter().any(|s| s.is_empty()) {
            return Err(self.error(&origin, key.trim(), "the key path has an empty part"));
        }
        let value_text = value_text.trim();
        let item = match DeValue::parse(value_text) {
            Ok(v) => self.convert_value(&v, &|_| origin.clone(), key.trim())?,
            // A bare word (a model or population name) is a string without its quotes.
            Err(_)
                if !value_text.is_empty() && value_text.chars().all(|c| c.is_alphanumeric() || "_-+>#".contains(c)) =>
            {
                Item { node: Node::Str(value_text.to_string()), origin: origin.clone() }
            }
            Err(e) => {
                return Err(self.error(
                    &origin,
                    key.trim(),
                    format!("the value is not a TOML value ({}); quote strings: \"text\"", e.message()),
                ));
            }
        };
        set_in_table(root, &path, 0, item)
            .map_err(|(depth, message)| self.error(&origin, path[..=depth.min(path.len() - 1)].join("."), message))
    }
}
