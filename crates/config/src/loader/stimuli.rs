//! The `[[stimuli]]`: devices driving neurons from outside the network.

use laminar_engine::{BuildContext, DeviceEntry, Dist};
use laminar_models::registry;

use super::models::{Factory, ModelKind};
use super::values::{default_delay_item, delay_beyond_limit};
use super::{Loader, PopulationSpec, StimulusSpec};
use crate::SimulationSection;
use crate::document::{TableRef, default_name_keys, element_names};
use crate::error::{Res, suggestion};

/// The most arrivals per step, on average, a generator may send into a model that repeats each
/// one as a spike (`parrot_neuron`): 100 per 0.1-ms step is 10⁶ spikes/s per cell, far above any
/// spike train, while a run stays bounded by what it records (a 10⁹-per-step channel would emit
/// and record 10⁹ spikes per cell and step).
pub const MAX_REPEATS_PER_STEP: f64 = 100.0;

impl Loader<'_> {
    pub(crate) fn stimuli(
        &self,
        top: &TableRef,
        sim: &SimulationSection,
        pops: &[PopulationSpec],
    ) -> Res<Vec<StimulusSpec>> {
        let Some(entry) = top.get("stimuli") else {
            return Ok(Vec::new());
        };
        let items = self.as_array(&entry.item, "stimuli", "an array of tables ([[stimuli]])")?;
        let names = element_names(items, default_name_keys("stimuli"));
        let ctx = BuildContext { resolution: sim.resolution, seed: sim.seed };
        let mut out: Vec<StimulusSpec> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let path = format!("stimuli.{}", names[index].clone().unwrap_or_else(|| index.to_string()));
            let t = self.as_table(item, &path)?;
            self.check_keys(&t, &["name", "model", "params", "target", "nodes", "weight", "delay_ms", "receptor"])?;
            let model_e = t.get("model").ok_or_else(|| {
                self.missing(&t, "model", &format!("a device model: {}", registry::DEVICE_MODELS.join(", ")))
            })?;
            let model_field = t.field("model");
            let model = self.as_str(&model_e.item, &model_field)?;
            if !registry::DEVICE_MODELS.contains(&model) {
                let message = if model == "spike_generator" {
                    "a spike_generator is a population: declare [populations.NAME] with model = \"spike_generator\" \
                     and connect it with a projection"
                        .to_string()
                } else if registry::model_info(model).is_some() {
                    format!("{model} is a neuron model: declare it under [populations.NAME]")
                } else {
                    format!(
                        "unknown device model{}; known: {}",
                        suggestion(model, registry::DEVICE_MODELS),
                        registry::DEVICE_MODELS.join(", ")
                    )
                };
                return Err(self.bad_value(&model_e.item, &model_field, message));
            }
            let target_e = t.get("target").ok_or_else(|| self.missing(&t, "target", "the population it drives"))?;
            let population = self.population_index(&target_e.item, &t.field("target"), pops)?;
            let name = self.element_name(&t, &names[index], out.iter().map(|s| s.device.name.as_str()))?;
            let info = pops[population].factory.info();
            if info.source_only {
                return Err(self.bad_value(
                    &target_e.item,
                    &t.field("target"),
                    format!("{} accepts no input ({})", pops[population].name, info.name),
                ));
            }
            let params_path = t.field("params");
            let params = match t.get("params") {
                Some(p) => Some(self.as_table(&p.item, &params_path)?),
                None => None,
            };
            let Factory::Device(factory) =
                self.factory(ModelKind::Device, model, None, 0, params.as_ref(), &params_path, t.origin, None)?
            else {
                return Err(self.error(t.origin, &path, "internal: the registry returned a neuron model for a device"));
            };
            // Building with no targets runs the device's own checks (times on the grid, lists
            // of equal length) now.
            if let Err(e) = factory.build(index as u64, Vec::new(), &ctx) {
                return Err(self.model_build_error(&e.0, params.as_ref(), &params_path, t.origin));
            }
            if info.counts_spikes
                && let Some(params) = &params
            {
                self.check_repeated_rate(params, &params_path, info.name, sim.resolution.h())?;
            }
            let injects_current = factory.injects_current();
            let targets = self.nodes(t.get("nodes").map(|e| &e.item), &t.field("nodes"), pops[population].size)?;
            let receptor = match t.get("receptor") {
                Some(e) if injects_current => {
                    return Err(self.bad_value(
                        &e.item,
                        &t.field("receptor"),
                        format!("{model} injects current: it has no receptor"),
                    ));
                }
                Some(e) => Some(self.receptor(&e.item, &t.field("receptor"), info)?),
                None => None,
            };
            let weight = match t.get("weight") {
                Some(e) => {
                    let w = self.as_number(&e.item, &t.field("weight"))?;
                    self.check_conductance_sign(&e.item, &t.field("weight"), info, receptor, &Dist::Constant(w))?;
                    w
                }
                None if injects_current => 1.0,
                None => {
                    return Err(self.missing(
                        &t,
                        "weight",
                        &format!("the weight of each spike, in {}", info.weight_units),
                    ));
                }
            };
            let delay_ms = match t.get("delay_ms") {
                Some(e) => {
                    let f = t.field("delay_ms");
                    let d = self.as_number(&e.item, &f)?;
                    self.steps(&e.item, &f, d, sim.resolution)?;
                    if let Some(message) = delay_beyond_limit(&Dist::Constant(d), sim.resolution) {
                        return Err(self.bad_value(&e.item, &f, message));
                    }
                    d
                }
                None => {
                    self.steps(&default_delay_item(t.origin), &t.field("delay_ms"), 1.0, sim.resolution)?;
                    1.0
                }
            };
            out.push(StimulusSpec {
                device: DeviceEntry { name, factory, population, targets, weight, delay_ms, receptor },
                origin: item.origin.clone(),
                field: path,
            });
        }
        Ok(out)
    }

    /// A model that repeats every arrival as a spike (`parrot_neuron`) turns a generator's
    /// arrivals into network spikes one for one, each delivered and recorded: its rate is
    /// bounded by [`MAX_REPEATS_PER_STEP`] arrivals per step, not by what a channel can count.
    fn check_repeated_rate(&self, params: &TableRef, params_path: &str, target_model: &str, h: f64) -> Res<()> {
        let per_step = |rate: f64| rate / 1000.0 * h;
        let mut peak: Option<(&crate::document::Item, String, f64)> = None;
        if let Some(e) = params.get("rate")
            && let Ok(rate) = self.as_number(&e.item, &params.field("rate"))
        {
            peak = Some((&e.item, params.field("rate"), rate));
        }
        if let Some(e) = params.get("rate_values")
            && let crate::document::Node::Array(items) = &e.item.node
        {
            for (k, item) in items.iter().enumerate() {
                let field = format!("{params_path}.rate_values.{k}");
                if let Ok(rate) = self.as_number(item, &field)
                    && peak.as_ref().is_none_or(|p| rate > p.2)
                {
                    peak = Some((item, field, rate));
                }
            }
        }
        match peak {
            Some((item, field, rate)) if per_step(rate) > MAX_REPEATS_PER_STEP => Err(self.bad_value(
                item,
                &field,
                format!(
                    "{} arrivals per step of {h} ms into {target_model}, which repeats every arrival as a spike \
                     (delivered and recorded): at most {MAX_REPEATS_PER_STEP} per step on average \
                     (rate <= {} spikes/s at this resolution)",
                    laminar_models::params::compact(per_step(rate)),
                    laminar_models::params::compact(MAX_REPEATS_PER_STEP / h * 1000.0)
                ),
            )),
            _ => Ok(()),
        }
    }
}
