//! The `[column]` section: a `laminar_column` description expanded into populations,
//! projections and devices, with errors pointed at the description's fields.

use laminar_engine::{BuildContext, DeviceEntry, Dist, Initial, ModelInfo, Projection};
use laminar_models::params::compact;
use laminar_models::registry;

use super::values::delay_beyond_limit;
use super::{Loader, PopulationSpec, ProjectionSpec, StimulusSpec};
use crate::SimulationSection;
use crate::document::{Entry, Origin, TableRef, origin_of_path};
use crate::error::{Res, suggestion};

/// What a `[column]` description adds: populations (validated) and projections and devices
/// still by population name, each with where in the file it comes from.
#[derive(Default)]
pub(crate) struct ColumnParts {
    /// The expansion itself: placements and streams for tables, manifests and exports.
    pub(crate) expanded: Option<laminar_column::Expanded>,
    pub(crate) populations: Vec<PopulationSpec>,
    pub(crate) projections: Vec<(Origin, laminar_column::ProjectionOut)>,
    pub(crate) devices: Vec<(Origin, laminar_column::DeviceOut)>,
}

impl Loader<'_> {
    // ------------------------------------------------------------ the column builder

    /// The `[column]` table (see `laminar_column`), expanded at the file's `n_scaling` and
    /// `k_scaling`; errors point at the field of the description they concern.
    pub(crate) fn column(&self, top: &TableRef, root: &[Entry], sim: &SimulationSection) -> Res<ColumnParts> {
        let scaling = |key: &str| -> Res<f64> {
            match top.get(key) {
                Some(e) => {
                    let v = self.as_number(&e.item, key)?;
                    if v > 0.0 { Ok(v) } else { Err(self.bad_value(&e.item, key, "must be a finite number > 0")) }
                }
                None => Ok(1.0),
            }
        };
        let (n, k) = (scaling("n_scaling")?, scaling("k_scaling")?);
        let Some(entry) = top.get("column") else {
            if let Some(e) = top.get("n_scaling").or_else(|| top.get("k_scaling")) {
                return Err(self.error(&e.key_origin, &e.key, "scales a [column] description; this file has none"));
            }
            return Ok(ColumnParts::default());
        };
        let origin = |field: &str| origin_of_path(root, field).unwrap_or_else(|| entry.item.origin.clone());
        let column_error = |e: laminar_column::ColumnError| self.error(&origin(&e.field), e.field, e.message);
        let json = self.to_json(&entry.item, "column")?;
        let description = laminar_column::from_json(&json).map_err(column_error)?;
        let expanded = laminar_column::expand(&description, n, k).map_err(column_error)?;
        let ctx = BuildContext { resolution: sim.resolution, seed: sim.seed };
        let mut populations = Vec::new();
        for p in &expanded.populations {
            let o = origin(&p.field);
            let Some(info) = registry::model_info(&p.model) else {
                return Err(self.error(
                    &origin(&format!("{}.model", p.field)),
                    format!("{}.model", p.field),
                    format!(
                        "unknown neuron model `{}`{}; known: {}",
                        p.model,
                        suggestion(&p.model, registry::NEURON_MODELS),
                        registry::NEURON_MODELS.join(", ")
                    ),
                ));
            };
            if info.source_only {
                return Err(self.error(
                    &o,
                    &p.field,
                    format!("{} cannot be a cell type: it accepts no input", p.model),
                ));
            }
            let scheduling = match &p.update {
                None => None,
                Some((name, field)) => Some(super::populations::update_scheme(&p.model, name).map_err(|message| {
                    Box::new(self.error(&origin(field), field, message).with_value(format!("\"{name}\"")))
                })?),
            };
            let params_field = format!("{}.params", p.field);
            let factory = registry::population_factory_scheduled(&p.model, &p.params, p.size, scheduling)
                .map_err(|m| self.error(&origin(&params_field), &params_field, m))?;
            if let Err(e) = factory.build(0, 0, 1, &ctx) {
                return Err(self.error(&origin(&params_field), &params_field, e.0));
            }
            let info = factory.info();
            let mut initial = Vec::new();
            for (var, dist) in &p.initial {
                let field = format!("{}.initial.{var}", p.field);
                if info.recordable_index(var).is_none() {
                    let names: Vec<&str> = info.recordables.iter().map(|r| r.name.as_ref()).collect();
                    return Err(self.error(
                        &origin(&field),
                        field,
                        format!(
                            "unknown variable `{var}`{}; state variables of {}: {}",
                            suggestion(var, &names),
                            info.name,
                            names.join(", ")
                        ),
                    ));
                }
                initial.push((var.clone(), Initial::Dist(*dist)));
            }
            populations.push(PopulationSpec { name: p.name.clone(), size: p.size, factory, initial, origin: o });
        }
        // A delay beyond the engine's limit is reported at the connection's `delay_ms`, not at
        // the expanded projection's rule field.
        for p in &expanded.projections {
            if let Some(message) = delay_beyond_limit(&p.delay, sim.resolution) {
                let base = p.field.split(".rule").next().unwrap_or(&p.field);
                let field = format!("{base}.delay_ms");
                let at = origin_of_path(root, &field).unwrap_or_else(|| origin(&p.field));
                return Err(self.error(&at, field, message));
            }
        }
        let projections = expanded.projections.iter().map(|p| (origin(&p.field), p.clone())).collect();
        let devices = expanded.devices.iter().map(|d| (origin(&d.field), d.clone())).collect();
        Ok(ColumnParts { expanded: Some(expanded), populations, projections, devices })
    }

    pub(crate) fn column_projections(
        &self,
        specs: Vec<(Origin, laminar_column::ProjectionOut)>,
        sim: &SimulationSection,
        pops: &[PopulationSpec],
    ) -> Res<Vec<ProjectionSpec>> {
        let h = sim.resolution.h();
        let mut out = Vec::with_capacity(specs.len());
        for (origin, p) in specs {
            let index = |name: &str| {
                pops.iter()
                    .position(|q| q.name == name)
                    .ok_or_else(|| self.error(&origin, &p.field, format!("internal: no population `{name}`")))
            };
            let (source, target) = (index(&p.source)?, index(&p.target)?);
            let info = pops[target].factory.info();
            if p.delay.mean() < h * (1.0 - 1e-9) {
                return Err(self.error(&origin, &p.field, format!("the delay must be >= the resolution ({h} ms)")));
            }
            if let Some(message) = delay_beyond_limit(&p.delay, sim.resolution) {
                return Err(self.error(&origin, format!("{}.delay_ms", p.field), message));
            }
            let mut projection = Projection::new(&p.name, source, target, p.rule, p.weight, p.delay);
            projection.autapses = p.autapses;
            projection.multapses = p.multapses;
            projection.receptor = self.column_receptor(&origin, &p.field, info, p.receptor.as_deref())?;
            out.push(ProjectionSpec { projection, origin, field: p.field });
        }
        Ok(out)
    }

    /// The receptor a column projection or input names (by name), checked against the target.
    pub(crate) fn column_receptor(
        &self,
        origin: &Origin,
        field: &str,
        info: &ModelInfo,
        name: Option<&str>,
    ) -> Res<Option<usize>> {
        let Some(r) = name else { return Ok(None) };
        info.receptor_index(r).map(Some).ok_or_else(|| {
            self.error(
                origin,
                field,
                format!("{} has no receptor `{r}`; receptors: {}", info.name, info.receptors.join(", ")),
            )
        })
    }

    pub(crate) fn column_devices(
        &self,
        specs: Vec<(Origin, laminar_column::DeviceOut)>,
        sim: &SimulationSection,
        pops: &[PopulationSpec],
    ) -> Res<Vec<StimulusSpec>> {
        let mut out = Vec::with_capacity(specs.len());
        for (origin, d) in specs {
            let population = pops
                .iter()
                .position(|q| q.name == d.target)
                .ok_or_else(|| self.error(&origin, &d.field, format!("internal: no population `{}`", d.target)))?;
            let beyond = delay_beyond_limit(&Dist::Constant(d.delay_ms), sim.resolution);
            match sim.resolution.exact_steps(d.delay_ms) {
                Ok(s) if s >= 1 && beyond.is_none() => {}
                _ => {
                    let field = if d.name.starts_with("background->") {
                        "column.background.delay_ms".to_string()
                    } else {
                        format!("{}.delay_ms", d.field)
                    };
                    let message = beyond.unwrap_or_else(|| "must be a positive multiple of the resolution".to_string());
                    return Err(self.error(&origin, field, message).with_value(compact(d.delay_ms)).into());
                }
            }
            let factory =
                registry::stimulus_factory(&d.model, &d.params).map_err(|m| self.error(&origin, &d.field, m))?;
            // As for [[stimuli]]: building with no targets runs the device's own checks (a rate
            // a channel cannot carry, e.g. from an extreme k_ext) now, not mid-build.
            let ctx = BuildContext { resolution: sim.resolution, seed: sim.seed };
            if let Err(e) = factory.build(out.len() as u64, Vec::new(), &ctx) {
                return Err(self.error(&origin, &d.field, format!("{} ({}): {}", d.name, d.model, e.0)));
            }
            let receptor =
                self.column_receptor(&origin, &d.field, pops[population].factory.info(), d.receptor.as_deref())?;
            let targets = (0..pops[population].size as u64).collect();
            let device = DeviceEntry {
                name: d.name,
                factory,
                population,
                targets,
                weight: d.weight,
                delay_ms: d.delay_ms,
                receptor,
            };
            out.push(StimulusSpec { device, origin, field: d.field });
        }
        Ok(out)
    }
}
