//! The loader: reads a document section by section, validating every field, into a
//! [`ModelFile`]; one submodule per section, plus the typed access to values and the model
//! parameters they share.

use std::path::Path;
use std::sync::Arc;

use laminar_engine::{DeviceEntry, Initial, PopulationFactory, Projection};
use laminar_models::params::compact;

use crate::ModelFile;
use crate::document::{Item, LineIndex, Node, Origin, TableRef};
use crate::error::{ConfigError, Res};
use crate::machine::{self, MemoryLimit as MachineLimit};

mod column;
mod models;
mod populations;
mod projections;
mod recording;
mod simulation;
mod stimuli;
mod values;

// ---------------------------------------------------------------- the validated description

pub(crate) struct PopulationSpec {
    pub(crate) name: String,
    pub(crate) size: usize,
    pub(crate) factory: Arc<dyn PopulationFactory>,
    pub(crate) initial: Vec<(String, Initial)>,
    pub(crate) origin: Origin,
}

pub(crate) struct ProjectionSpec {
    pub(crate) projection: Projection,
    pub(crate) origin: Origin,
    pub(crate) field: String,
}

pub(crate) struct StimulusSpec {
    pub(crate) device: DeviceEntry,
    pub(crate) origin: Origin,
    pub(crate) field: String,
}

/// Reads and validates one model file; every error it builds names `file`.
pub(crate) struct Loader<'f> {
    pub(crate) file: &'f Path,
}

impl<'f> Loader<'f> {
    pub(crate) fn error(
        &self,
        origin: &Origin,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Box<ConfigError> {
        let (line, set) = match origin {
            Origin::Line(l) => (Some(*l), None),
            Origin::Set(arg) => (None, Some(arg.clone())),
            Origin::Unknown => (None, None),
        };
        Box::new(ConfigError {
            file: self.file.to_path_buf(),
            line,
            set,
            field: field.into(),
            value: None,
            message: message.into(),
        })
    }

    /// An error about a value: names it and shows it.
    pub(crate) fn bad_value(&self, item: &Item, field: &str, message: impl Into<String>) -> Box<ConfigError> {
        Box::new(self.error(&item.origin, field, message).with_value(item.node.render()))
    }

    pub(crate) fn wrong_type(&self, item: &Item, field: &str, expected: &str) -> Box<ConfigError> {
        self.bad_value(item, field, format!("must be {expected}, not {}", item.node.kind()))
    }

    pub(crate) fn missing(&self, table: &TableRef, key: &str, what: &str) -> Box<ConfigError> {
        self.error(table.origin, table.field(key), format!("missing: {what}"))
    }

    pub(crate) fn load(&self, text: String, overrides: &[String]) -> Res<ModelFile> {
        let lines = LineIndex::new(&text);
        let mut root = self.parse_document(&text, &lines)?;
        for arg in overrides {
            self.apply_override(&mut root, arg)?;
        }
        let top = TableRef { entries: &root, path: String::new(), origin: &Origin::Unknown };
        self.check_keys(
            &top,
            &[
                "description",
                "n_scaling",
                "k_scaling",
                "simulation",
                "column",
                "populations",
                "projections",
                "stimuli",
                "recording",
                "attention",
            ],
        )?;
        let description = match top.get("description") {
            Some(e) => Some(self.as_str(&e.item, "description")?.to_string()),
            None => None,
        };
        // Passed through to their users (`ModelFile::section`); here only their shape.
        for name in crate::section::PASSED_THROUGH {
            if let Some(e) = top.get(name) {
                self.as_table(&e.item, name)?;
            }
        }
        let simulation = self.simulation(&top)?;
        let column = self.column(&top, &root, &simulation)?;
        let mut populations = column.populations;
        for p in self.populations(&top, &simulation, !populations.is_empty())? {
            if populations.iter().any(|q| q.name == p.name) {
                return Err(self.error(
                    &p.origin,
                    format!("populations.{}", p.name),
                    format!("the name `{}` is already a population of the [column]", p.name),
                ));
            }
            populations.push(p);
        }
        // Before anything is allocated per neuron (node lists, explicit edges): the neurons
        // alone must fit. The full estimate follows once the connectivity is known.
        let limit = machine::memory_limit().map_err(|m| self.error(&Origin::Unknown, "", m.to_string()))?;
        self.check_neurons_fit(&populations, limit.as_ref())?;
        let mut projections = self.column_projections(column.projections, &simulation, &populations)?;
        for p in self.projections(&top, &simulation, &populations)? {
            if let Some(q) = projections.iter().find(|q| q.projection.name == p.projection.name) {
                return Err(self.error(
                    &p.origin,
                    &p.field,
                    format!("the name `{}` is already used by the column's {}", p.projection.name, q.field),
                ));
            }
            projections.push(p);
        }
        let mut stimuli = self.column_devices(column.devices, &simulation, &populations)?;
        stimuli.extend(self.stimuli(&top, &simulation, &populations)?);
        let (recordings, record_spikes) = self.recording(&top, &simulation, &populations)?;
        let sections = root
            .iter()
            .map(|e| match &e.item.node {
                Node::Table(entries) if e.key == "column" => {
                    format!("[column] ({})", entries.iter().map(|c| c.key.as_str()).collect::<Vec<_>>().join(", "))
                }
                Node::Table(_) => format!("[{}]", e.key),
                Node::Array(_) => format!("[[{}]]", e.key),
                _ => e.key.clone(),
            })
            .collect();
        let file = ModelFile {
            path: self.file.to_path_buf(),
            text,
            overrides: overrides.to_vec(),
            description,
            simulation,
            populations,
            projections,
            stimuli,
            recordings,
            record_spikes,
            circuit: column.expanded,
            sections,
            document: root,
        };
        self.check_footprint_fits(&file, limit.as_ref())?;
        Ok(file)
    }

    /// Refuses populations whose neurons alone exceed the memory limit, naming the largest one,
    /// before node lists of that size are allocated.
    pub(crate) fn check_neurons_fit(&self, populations: &[PopulationSpec], limit: Option<&MachineLimit>) -> Res<()> {
        let Some(limit) = limit else { return Ok(()) };
        let neurons: f64 = populations.iter().map(|p| p.size as f64).sum();
        let bytes = neurons * laminar_engine::footprint::BYTES_PER_NEURON;
        if bytes <= limit.bytes as f64 {
            return Ok(());
        }
        let Some(largest) = populations.iter().max_by_key(|p| p.size) else { return Ok(()) };
        Err(self.error(
            &largest.origin,
            format!("populations.{}.size", largest.name),
            format!(
                "{} neurons in all need at least {} before any synapse, more than the {} allowed by {}",
                compact(neurons),
                machine::human_bytes(bytes),
                machine::human_bytes(limit.bytes as f64),
                limit.source
            ),
        ))
    }

    /// Refuses a network whose estimated memory (`laminar_engine::footprint`) exceeds the limit,
    /// with the estimate by part and the projection or population that contributes most.
    pub(crate) fn check_footprint_fits(&self, file: &ModelFile, limit: Option<&MachineLimit>) -> Res<()> {
        // The engine's own consistency checks (receptors, graded signals, rule limits), so that
        // `validate` refuses what `build` would.
        let builder = file.network_builder_inner(file.simulation.seed)?;
        builder.check().map_err(|e| file.build_error(e))?;
        let Some(limit) = limit else { return Ok(()) };
        let footprint = builder.footprint(file.simulation.threads);
        let total = footprint.total_bytes();
        if total <= limit.bytes as f64 {
            return Ok(());
        }
        let parts: Vec<String> = footprint
            .parts()
            .into_iter()
            .filter(|(_, b)| *b >= 0.01 * total)
            .map(|(name, b)| format!("{name} {}", machine::human_bytes(b)))
            .collect();
        let message = format!(
            "the network needs about {} ({}; {} neurons, {} synapses expected), more than the {} allowed by {}",
            machine::human_bytes(total),
            parts.join(", "),
            compact(footprint.neurons as f64),
            compact(footprint.synapses.round()),
            machine::human_bytes(limit.bytes as f64),
            limit.source
        );
        let synapses_dominate = footprint.synapse_bytes + footprint.build_scratch_bytes >= 0.5 * total;
        match footprint.largest_projection.filter(|_| synapses_dominate) {
            Some((i, n)) => {
                let p = &file.projections[i];
                Err(self.error(
                    &p.origin,
                    &p.field,
                    format!("{message}; the largest projection draws {} synapses", compact(n.round())),
                ))
            }
            None => {
                let largest = file.populations.iter().max_by_key(|p| p.size);
                let origin = largest.map(|p| p.origin.clone()).unwrap_or(Origin::Unknown);
                let field = largest.map(|p| format!("populations.{}", p.name)).unwrap_or_default();
                Err(self.error(&origin, field, message))
            }
        }
    }

    /// The element's name (explicit or default), checked for uniqueness among `taken`.
    pub(crate) fn element_name<'n>(
        &self,
        t: &TableRef,
        computed: &Option<String>,
        mut taken: impl Iterator<Item = &'n str>,
    ) -> Res<String> {
        if let Some(e) = t.get("name") {
            let name = self.as_str(&e.item, &t.field("name"))?;
            if name.is_empty() || name.contains('.') || name.parse::<usize>().is_ok() {
                return Err(self.bad_value(
                    &e.item,
                    &t.field("name"),
                    "a name must be non-empty, contain no `.`, and not be a number (so that --set can address it)",
                ));
            }
        }
        let name = computed.clone().unwrap_or_default();
        if taken.any(|n| n == name) {
            let origin = t.get("name").map(|e| &e.item.origin).unwrap_or(t.origin);
            return Err(self.error(
                origin,
                t.field("name"),
                format!("the name `{name}` is used twice: names must be unique"),
            ));
        }
        Ok(name)
    }
}
