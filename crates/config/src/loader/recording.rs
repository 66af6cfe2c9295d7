//! The `[recording]` table: which spikes and which state variables are recorded.

use laminar_engine::RecordingSpec;

use super::{Loader, PopulationSpec};
use crate::document::{Node, TableRef};
use crate::error::{Res, suggestion};
use crate::{RecordingPlan, SimulationSection};

impl Loader<'_> {
    #[allow(clippy::type_complexity)]
    pub(crate) fn recording(
        &self,
        top: &TableRef,
        sim: &SimulationSection,
        pops: &[PopulationSpec],
    ) -> Res<(Vec<(RecordingPlan, Vec<RecordingSpec>)>, Vec<bool>)> {
        let Some(entry) = top.get("recording") else {
            return Ok((Vec::new(), vec![true; pops.len()]));
        };
        let t = self.as_table(&entry.item, "recording")?;
        self.check_keys(&t, &["spikes", "variables"])?;
        let record_spikes = match t.get("spikes") {
            None => vec![true; pops.len()],
            Some(e) => match &e.item.node {
                Node::Str(s) if s == "all" => vec![true; pops.len()],
                Node::Array(items) => {
                    let mut flags = vec![false; pops.len()];
                    for (k, i) in items.iter().enumerate() {
                        flags[self.population_index(i, &format!("recording.spikes.{k}"), pops)?] = true;
                    }
                    flags
                }
                _ => {
                    return Err(self.wrong_type(&e.item, "recording.spikes", "\"all\" or a list of population names"));
                }
            },
        };
        let mut recordings = Vec::new();
        if let Some(e) = t.get("variables") {
            let items =
                self.as_array(&e.item, "recording.variables", "an array of tables ([[recording.variables]])")?;
            for (k, item) in items.iter().enumerate() {
                let v = self.as_table(item, &format!("recording.variables.{k}"))?;
                self.check_keys(&v, &["population", "variable", "interval_ms", "nodes"])?;
                let pop_e = v.get("population").ok_or_else(|| self.missing(&v, "population", "a population name"))?;
                let population = self.population_index(&pop_e.item, &v.field("population"), pops)?;
                let info = pops[population].factory.info();
                let names: Vec<&str> = info.recordables.iter().map(|r| r.name.as_ref()).collect();
                let var_e = v.get("variable").ok_or_else(|| {
                    self.missing(&v, "variable", &format!("a state variable of {}: {}", info.name, names.join(", ")))
                })?;
                let var_field = v.field("variable");
                let variable_name = self.as_str(&var_e.item, &var_field)?;
                // A compartmental variable by its stem: `v_comp` records v_comp0, v_comp1, ….
                let per_element: Vec<usize> = match info.recordable_index(variable_name) {
                    Some(i) => vec![i],
                    None => (0..).map_while(|c| info.recordable_index(&format!("{variable_name}{c}"))).collect(),
                };
                let Some(&variable) = per_element.first() else {
                    let allowed = if names.is_empty() {
                        format!("{} has no state variables to record", info.name)
                    } else {
                        format!("{} records: {}", info.name, names.join(", "))
                    };
                    return Err(self.bad_value(
                        &var_e.item,
                        &var_field,
                        format!("unknown variable{}; {allowed}", suggestion(variable_name, &names)),
                    ));
                };
                // One recording, and one file (`{variable}_{population}.h5`), per variable and
                // population.
                if let Some(earlier) = recordings.iter().position(|(plan, _): &(RecordingPlan, _)| {
                    plan.population_index == population && plan.variable == variable_name
                }) {
                    return Err(self.bad_value(
                        &var_e.item,
                        &var_field,
                        format!(
                            "`{variable_name}` of `{}` is already recorded by recording.variables.{earlier}: \
                             record each variable of a population once (list all its nodes there)",
                            pops[population].name
                        ),
                    ));
                }
                let (interval_ms, interval) = match v.get("interval_ms") {
                    Some(e) => {
                        let f = v.field("interval_ms");
                        let ms = self.as_number(&e.item, &f)?;
                        (ms, self.steps(&e.item, &f, ms, sim.resolution)?)
                    }
                    None => (sim.resolution.h(), 1),
                };
                let nodes = self.nodes(v.get("nodes").map(|e| &e.item), &v.field("nodes"), pops[population].size)?;
                recordings.push((
                    RecordingPlan {
                        population: pops[population].name.clone(),
                        population_index: population,
                        variable: variable_name.to_string(),
                        units: info.recordables[variable].units.to_string(),
                        interval_ms,
                        nodes: nodes.clone(),
                        elements: per_element.len(),
                    },
                    per_element
                        .iter()
                        .map(|&variable| RecordingSpec { population, variable, nodes: nodes.clone(), interval })
                        .collect(),
                ));
            }
        }
        Ok((recordings, record_spikes))
    }
}
