//! Typed access to the document's values: numbers, integers, strings, tables, times on the
//! step grid, population names, distributions, delays, node selections, and the conversion of
//! parameter tables to the registry's JSON.

use laminar_engine::{Dist, MAX_DELAY_STEPS, Resolution, Step, TimeError};
use laminar_models::params::compact;
use serde_json::{Map, Value as Json};

use super::{Loader, PopulationSpec};
use crate::document::{Item, Node, Origin, TableRef};
use crate::error::{Res, suggestion};

impl Loader<'_> {
    // ------------------------------------------------------------ typed access

    pub(crate) fn check_keys(&self, table: &TableRef, allowed: &[&str]) -> Res<()> {
        if let Some(e) = table.entries.iter().find(|e| !allowed.contains(&e.key.as_str())) {
            return Err(self.error(
                &e.key_origin,
                table.field(&e.key),
                format!(
                    "unknown field `{}` in {}{}; allowed: {}",
                    e.key,
                    table.describe(),
                    suggestion(&e.key, allowed),
                    allowed.join(", ")
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn as_number(&self, item: &Item, field: &str) -> Res<f64> {
        match item.node {
            Node::Int(i) => Ok(i as f64),
            Node::Float(f) if f.is_finite() => Ok(f),
            Node::Float(_) => Err(self.bad_value(item, field, "must be a finite number")),
            _ => Err(self.wrong_type(item, field, "a number")),
        }
    }

    pub(crate) fn as_integer(&self, item: &Item, field: &str) -> Res<i64> {
        match item.node {
            Node::Int(i) => Ok(i),
            _ => Err(self.wrong_type(item, field, "an integer")),
        }
    }

    /// An integer in `min..=max`.
    pub(crate) fn as_count(&self, item: &Item, field: &str, min: u64, max: u64) -> Res<u64> {
        let i = self.as_integer(item, field)?;
        match u64::try_from(i) {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ if max == u64::MAX => Err(self.bad_value(item, field, format!("must be an integer >= {min}"))),
            _ => Err(self.bad_value(item, field, format!("must be an integer from {min} to {max}"))),
        }
    }

    pub(crate) fn as_str<'i>(&self, item: &'i Item, field: &str) -> Res<&'i str> {
        match &item.node {
            Node::Str(s) => Ok(s),
            _ => Err(self.wrong_type(item, field, "a string")),
        }
    }

    pub(crate) fn as_bool(&self, item: &Item, field: &str) -> Res<bool> {
        match item.node {
            Node::Bool(b) => Ok(b),
            _ => Err(self.wrong_type(item, field, "true or false")),
        }
    }

    pub(crate) fn as_table<'i>(&self, item: &'i Item, field: &str) -> Res<TableRef<'i>> {
        match &item.node {
            Node::Table(entries) => Ok(TableRef { entries, path: field.to_string(), origin: &item.origin }),
            _ => Err(self.wrong_type(item, field, "a table")),
        }
    }

    pub(crate) fn as_array<'i>(&self, item: &'i Item, field: &str, expected: &str) -> Res<&'i [Item]> {
        match &item.node {
            Node::Array(items) => Ok(items),
            _ => Err(self.wrong_type(item, field, expected)),
        }
    }

    /// A time in ms that must be a positive whole number of steps.
    pub(crate) fn steps(&self, item: &Item, field: &str, ms: f64, resolution: Resolution) -> Res<Step> {
        let h = resolution.h();
        match resolution.exact_steps(ms) {
            Ok(steps) if steps >= 1 => Ok(steps),
            Err(TimeError::TooLong { max, .. }) => Err(self.bad_value(
                item,
                field,
                format!(
                    "must be at most 2^53 steps ({} ms at the resolution {h} ms), the longest time laminar represents",
                    compact(max)
                ),
            )),
            // Below one step, "too short" is the useful message even when also off the grid.
            _ if ms < h => Err(self.bad_value(item, field, format!("must be >= the resolution ({h} ms)"))),
            _ => Err(self.bad_value(item, field, format!("must be a multiple of the resolution ({h} ms)"))),
        }
    }

    /// The index of population `name`, or an error suggesting the closest name.
    pub(crate) fn population_index(&self, item: &Item, field: &str, populations: &[PopulationSpec]) -> Res<usize> {
        let name = self.as_str(item, field)?;
        populations.iter().position(|p| p.name == name).ok_or_else(|| {
            let names: Vec<&str> = populations.iter().map(|p| p.name.as_str()).collect();
            self.bad_value(
                item,
                field,
                format!("no population named `{name}`{}; populations: {}", suggestion(name, &names), names.join(", ")),
            )
        })
    }

    // ------------------------------------------------------------ values

    /// A number or a distribution (see "Values" in the module documentation).
    pub(crate) fn dist(&self, item: &Item, field: &str) -> Res<Dist> {
        let forms = "a number or { normal = { mean, std } }, { uniform = { low, high } }, \
                     { lognormal = { mu, sigma } }";
        let table = match &item.node {
            Node::Int(_) | Node::Float(_) => {
                return Ok(Dist::Constant(self.as_number(item, field)?));
            }
            Node::Table(_) => self.as_table(item, field)?,
            _ => return Err(self.wrong_type(item, field, forms)),
        };
        let [entry] = table.entries else {
            return Err(self.bad_value(item, field, format!("must be {forms} (exactly one distribution)")));
        };
        let names: &[&str] = match entry.key.as_str() {
            "normal" => &["mean", "std"],
            "uniform" => &["low", "high"],
            "lognormal" => &["mu", "sigma"],
            other => {
                return Err(self.error(
                    &entry.key_origin,
                    table.field(other),
                    format!(
                        "unknown distribution `{other}`{}; allowed: normal, uniform, lognormal",
                        suggestion(other, &["normal", "uniform", "lognormal"])
                    ),
                ));
            }
        };
        let dfield = table.field(&entry.key);
        let (a, b) = match &entry.item.node {
            Node::Array(pair) if pair.len() == 2 => {
                (self.as_number(&pair[0], &dfield)?, self.as_number(&pair[1], &dfield)?)
            }
            Node::Table(_) => {
                let t = self.as_table(&entry.item, &dfield)?;
                self.check_keys(&t, names)?;
                let get = |key: &str| -> Res<f64> {
                    let e = t.get(key).ok_or_else(|| self.missing(&t, key, "a number"))?;
                    self.as_number(&e.item, &t.field(key))
                };
                (get(names[0])?, get(names[1])?)
            }
            _ => {
                return Err(self.bad_value(
                    &entry.item,
                    &dfield,
                    format!("must be {{ {} = .., {} = .. }} or [{}, {}]", names[0], names[1], names[0], names[1]),
                ));
            }
        };
        match entry.key.as_str() {
            "normal" if b < 0.0 => Err(self.bad_value(&entry.item, &dfield, "std must be >= 0")),
            "normal" => Ok(Dist::Normal { mean: a, std: b }),
            "uniform" if a > b => Err(self.bad_value(&entry.item, &dfield, "low must be <= high")),
            "uniform" => Ok(Dist::Uniform { low: a, high: b }),
            _ if b < 0.0 => Err(self.bad_value(&entry.item, &dfield, "sigma must be >= 0")),
            _ => Ok(Dist::LogNormal { mu: a, sigma: b }),
        }
    }

    /// A delay value: at least one step; a constant must lie on the grid.
    pub(crate) fn delay(&self, item: &Item, field: &str, resolution: Resolution) -> Res<Dist> {
        let d = self.dist(item, field)?;
        if let Some(message) = delay_beyond_limit(&d, resolution) {
            return Err(self.bad_value(item, field, message));
        }
        let h = resolution.h();
        let below = |v: f64| v < h * (1.0 - 1e-9);
        match d {
            Dist::Constant(v) => {
                self.steps(item, field, v, resolution)?;
            }
            Dist::Uniform { low, .. } if below(low) => {
                return Err(self.bad_value(item, field, format!("low must be >= the resolution ({h} ms)")));
            }
            Dist::Normal { mean, .. } if below(mean) => {
                return Err(self.bad_value(item, field, format!("mean must be >= the resolution ({h} ms)")));
            }
            _ => {}
        }
        Ok(d)
    }

    /// A node selection within a population of `size`: ascending, unique indices.
    pub(crate) fn nodes(&self, item: Option<&Item>, field: &str, size: usize) -> Res<Vec<u64>> {
        let n = size as u64;
        let Some(item) = item else {
            return Ok((0..n).collect());
        };
        let forms = "\"all\", a list of node indices, or { first = i, count = n }";
        match &item.node {
            Node::Str(s) if s == "all" => Ok((0..n).collect()),
            Node::Array(items) if items.is_empty() => {
                Err(self.bad_value(item, field, format!("the list is empty: give at least one node; {forms}")))
            }
            Node::Array(items) => {
                let mut nodes = Vec::with_capacity(items.len());
                for (k, i) in items.iter().enumerate() {
                    let f = format!("{field}.{k}");
                    let v = self.as_integer(i, &f)?;
                    match u64::try_from(v) {
                        Ok(v) if v < n => nodes.push(v),
                        _ => {
                            return Err(self.bad_value(
                                i,
                                &f,
                                format!("node index out of range: the population has {size} nodes (0..{})", n - 1),
                            ));
                        }
                    }
                }
                nodes.sort_unstable();
                if let Some(w) = nodes.windows(2).find(|w| w[0] == w[1]) {
                    return Err(self.bad_value(item, field, format!("node {} is listed twice", w[0])));
                }
                Ok(nodes)
            }
            Node::Table(_) => {
                let t = self.as_table(item, field)?;
                self.check_keys(&t, &["first", "count"])?;
                let first_e = t.get("first").ok_or_else(|| self.missing(&t, "first", "the first node index"))?;
                let count_e = t.get("count").ok_or_else(|| self.missing(&t, "count", "the number of nodes"))?;
                let first = self.as_count(&first_e.item, &t.field("first"), 0, n - 1)?;
                let count = self.as_count(&count_e.item, &t.field("count"), 1, n - first)?;
                Ok((first..first + count).collect())
            }
            _ => Err(self.wrong_type(item, field, forms)),
        }
    }

    // ------------------------------------------------------------ model parameters

    /// A `params` table as the registry's JSON object. TOML's `-inf` becomes JSON's `null`, the
    /// models' spelling of "no lower bound"; other non-finite numbers cannot be parameters.
    pub(crate) fn params_json(&self, table: Option<&TableRef>) -> Res<Map<String, Json>> {
        let mut map = Map::new();
        let Some(table) = table else { return Ok(map) };
        for e in table.entries {
            map.insert(e.key.clone(), self.to_json(&e.item, &table.field(&e.key))?);
        }
        Ok(map)
    }

    pub(crate) fn to_json(&self, item: &Item, field: &str) -> Res<Json> {
        Ok(match &item.node {
            Node::Str(s) => Json::String(s.clone()),
            Node::Int(i) => Json::from(*i),
            Node::Bool(b) => Json::Bool(*b),
            Node::Float(f) if *f == f64::NEG_INFINITY => Json::Null,
            Node::Float(f) => match serde_json::Number::from_f64(*f) {
                Some(n) => Json::Number(n),
                None => {
                    return Err(self.bad_value(
                        item,
                        field,
                        "must be a finite number (only -inf is allowed, for lower bounds such as V_min; \
                         leave a parameter out to keep its default, e.g. stop = never)",
                    ));
                }
            },
            Node::Array(items) => Json::Array(
                items.iter().enumerate().map(|(k, i)| self.to_json(i, &format!("{field}.{k}"))).collect::<Res<_>>()?,
            ),
            // Structured parameters (a compartment tree, receptor lists) are tables.
            Node::Table(entries) => Json::Object(
                entries
                    .iter()
                    .map(|e| Ok((e.key.clone(), self.to_json(&e.item, &format!("{field}.{}", e.key))?)))
                    .collect::<Res<Map<String, Json>>>()?,
            ),
            Node::Datetime(_) => {
                return Err(self.wrong_type(item, field, "a number, boolean, string or list"));
            }
        })
    }
}

/// Why a delay (a constant or a distribution, in ms) cannot be stored, or `None`: delays are
/// whole steps up to [`MAX_DELAY_STEPS`], and a distribution must not draw beyond that (its
/// [`Dist::practical_max`]), or the build would fail after the file was accepted.
pub(crate) fn delay_beyond_limit(delay: &Dist, resolution: Resolution) -> Option<String> {
    let h = resolution.h();
    let max_ms = MAX_DELAY_STEPS as f64 * h;
    let top = delay.practical_max();
    if top.is_finite() && (top / h).round() <= MAX_DELAY_STEPS as f64 {
        return None;
    }
    let what = match delay {
        Dist::Constant(v) => format!("{} ms", compact(*v)),
        _ => format!("draws up to {} ms", compact(top)),
    };
    Some(format!(
        "{what} is beyond the longest delay, {MAX_DELAY_STEPS} steps ({} ms at the resolution {} ms)",
        compact(max_ms),
        compact(h)
    ))
}

/// The default delay (NEST's 1 ms) as an item, so that it is checked like a written one.
pub(crate) fn default_delay_item(origin: &Origin) -> Item {
    Item { node: Node::Float(1.0), origin: origin.clone() }
}
