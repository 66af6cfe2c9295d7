//! The `[populations.NAME]` tables: models, sizes, update schemes, parameters, initial values.

use laminar_engine::{BuildContext, Initial, ModelInfo};
use laminar_models::{Scheduling, registry};

use super::models::{Factory, ModelKind};
use super::{Loader, PopulationSpec};
use crate::SimulationSection;
use crate::document::{Node, Origin, TableRef};
use crate::error::{Res, suggestion};
use crate::machine;

/// Population names must be usable as bare TOML keys and as `--set` path segments.
pub(crate) fn valid_population_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Loader<'_> {
    pub(crate) fn populations(
        &self,
        top: &TableRef,
        sim: &SimulationSection,
        have_column: bool,
    ) -> Res<Vec<PopulationSpec>> {
        let Some(entry) = top.get("populations") else {
            if have_column {
                return Ok(Vec::new());
            }
            return Err(self.error(
                &Origin::Unknown,
                "populations",
                "missing: at least one [populations.NAME] table with model and size",
            ));
        };
        let all = self.as_table(&entry.item, "populations")?;
        if all.entries.is_empty() && !have_column {
            return Err(self.error(&entry.item.origin, "populations", "needs at least one population"));
        }
        let ctx = BuildContext { resolution: sim.resolution, seed: sim.seed };
        let mut out = Vec::with_capacity(all.entries.len());
        for e in all.entries {
            let name = e.key.as_str();
            let path = all.field(name);
            if !valid_population_name(name) {
                return Err(self.error(
                    &e.key_origin,
                    &path,
                    "a population name uses letters, digits, `_` and `-`, and starts with a letter or `_`",
                ));
            }
            let t = self.as_table(&e.item, &path)?;
            self.check_keys(&t, &["model", "size", "update", "params", "initial"])?;

            let model_e = t.get("model").ok_or_else(|| {
                self.missing(&t, "model", &format!("a neuron model: {}", registry::NEURON_MODELS.join(", ")))
            })?;
            let model_field = t.field("model");
            let model = self.as_str(&model_e.item, &model_field)?;
            let Some(info) = registry::model_info(model) else {
                let message = if registry::DEVICE_MODELS.contains(&model) {
                    format!("{model} is a device: declare it in [[stimuli]]")
                } else {
                    format!(
                        "unknown neuron model{}; known: {}",
                        suggestion(model, registry::NEURON_MODELS),
                        registry::NEURON_MODELS.join(", ")
                    )
                };
                return Err(self.bad_value(&model_e.item, &model_field, message));
            };

            let size_e = t.get("size").ok_or_else(|| self.missing(&t, "size", "the number of neurons, >= 1"))?;
            let size = self.as_count(&size_e.item, &t.field("size"), 1, u64::from(u32::MAX))? as usize;
            // Before the probe below builds a source population at full size.
            let limit = machine::memory_limit().map_err(|m| self.error(&Origin::Unknown, "", m.to_string()))?;
            let bytes = size as f64 * laminar_engine::footprint::BYTES_PER_NEURON;
            if let Some(limit) = limit.filter(|l| bytes > l.bytes as f64) {
                return Err(self.bad_value(
                    &size_e.item,
                    &t.field("size"),
                    format!(
                        "{size} neurons need at least {}, more than the {} allowed by {}",
                        machine::human_bytes(bytes),
                        machine::human_bytes(limit.bytes as f64),
                        limit.source
                    ),
                ));
            }

            let params_path = t.field("params");
            let params = match t.get("params") {
                Some(p) => Some(self.as_table(&p.item, &params_path)?),
                None => None,
            };
            if let Some(per_node) = params.as_ref().and_then(|p| p.get("spike_times_per_node"))
                && let Node::Array(lists) = &per_node.item.node
                && model == "spike_generator"
                && lists.len() != size
            {
                return Err(self.bad_value(
                    &per_node.item,
                    &format!("{params_path}.spike_times_per_node"),
                    format!("has {} lists for {size} generators: give one list per generator", lists.len()),
                ));
            }
            let scheduling = match t.get("update") {
                None => None,
                Some(u) => {
                    let field = t.field("update");
                    let name = self.as_str(&u.item, &field)?;
                    Some(update_scheme(model, name).map_err(|message| self.bad_value(&u.item, &field, message))?)
                }
            };
            let Factory::Neuron(factory) = self.factory(
                ModelKind::Neuron,
                model,
                Some(info),
                size,
                params.as_ref(),
                &params_path,
                t.origin,
                scheduling,
            )?
            else {
                return Err(self.error(t.origin, &path, "internal: the registry returned a device for a neuron model"));
            };
            // Build one neuron (all generators of a spike_generator: they are cheap and each has
            // its own times) so that resolution-dependent checks fail here, not mid-build.
            let probe_len = if info.source_only { size } else { 1 };
            if let Err(e) = factory.build(0, 0, probe_len, &ctx) {
                return Err(self.model_build_error(&e.0, params.as_ref(), &params_path, t.origin));
            }

            let initial = match t.get("initial") {
                // The factory's description: compartmental models name their state per compartment.
                Some(i) => self.initial(&self.as_table(&i.item, &t.field("initial"))?, factory.info(), size)?,
                None => Vec::new(),
            };
            out.push(PopulationSpec { name: name.to_string(), size, factory, initial, origin: e.key_origin.clone() });
        }
        Ok(out)
    }

    pub(crate) fn initial(&self, t: &TableRef, info: &ModelInfo, size: usize) -> Res<Vec<(String, Initial)>> {
        let names: Vec<&str> = info.recordables.iter().map(|r| r.name.as_ref()).collect();
        let mut out = Vec::new();
        for e in t.entries {
            let field = t.field(&e.key);
            if !names.contains(&e.key.as_str()) {
                let allowed = if names.is_empty() {
                    format!("{} has no state variables", info.name)
                } else {
                    format!("state variables of {}: {}", info.name, names.join(", "))
                };
                return Err(self.error(
                    &e.key_origin,
                    field,
                    format!("unknown variable `{}`{}; {allowed}", e.key, suggestion(&e.key, &names)),
                ));
            }
            let value = match &e.item.node {
                Node::Array(items) => {
                    if items.len() != size {
                        return Err(self.bad_value(
                            &e.item,
                            &field,
                            format!("has {} values for {size} neurons: give one per neuron, or one value", items.len()),
                        ));
                    }
                    let values = items
                        .iter()
                        .enumerate()
                        .map(|(k, i)| self.as_number(i, &format!("{field}.{k}")))
                        .collect::<Res<Vec<f64>>>()?;
                    Initial::PerNeuron(values)
                }
                _ => Initial::Dist(self.dist(&e.item, &field)?),
            };
            out.push((e.key.clone(), value));
        }
        Ok(out)
    }
}

/// The update scheme `name` (a population's or a column cell type's `update`) if `model` offers
/// it; else the message: what the model allows, and the closest scheme for a misspelt one.
pub(crate) fn update_scheme(model: &str, name: &str) -> Result<Scheduling, String> {
    let offered = registry::schedulings(model);
    let allowed = format!("{model} allows: {}", Scheduling::names(offered));
    match Scheduling::from_name(name) {
        Some(s) if offered.contains(&s) => Ok(s),
        Some(_) => Err(allowed),
        None => {
            let all = Scheduling::ALL.map(Scheduling::name);
            Err(format!("'{name}' is not an update scheme{}; {allowed}", suggestion(name, &all)))
        }
    }
}
