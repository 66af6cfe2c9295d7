//! Model files: the TOML language laminar networks are written in, and its validation.
//!
//! [`load`] reads a model file, applies `--set key.path=value` overrides and checks every field
//! against the engine and the models *before anything is built or run*;
//! [`ModelFile::build`] then turns the validated description into a
//! [`Simulation`]. Every problem is a [`ConfigError`] that names the file, the line (or the
//! `--set` argument the value came from), the dotted path of the field, and what is allowed:
//!
//! ```text
//! models/x.toml:12: populations.exc.params.tau_m = -5: must be a finite number > 0 ms
//! models/x.toml:14: populations.exc.params.tau_mm: unknown field `tau_mm` in populations.exc.params (did you mean `tau_m`?); iaf_psc_exp takes: E_L, C_m, tau_m, ...
//! models/x.toml (--set projections.0.delay_ms=0.05): projections.exc->exc.delay_ms = 0.05: must be >= the resolution (0.1 ms)
//! ```
//!
//! # The model-file language
//!
//! A model file is TOML. Units and parameter names are NEST's (ms, mV, pF, pA, nS, Hz; `V_m`,
//! `E_L`, `C_m`, `tau_m`, `V_th`, `V_reset`, `t_ref`, `tau_syn_ex`, `I_e`, …). Every table
//! accepts only the keys listed here; anything else is an error with a suggestion. Only
//! `[simulation]` and `[populations]` are required. An optional top-level `description = "…"`
//! says what the model is.
//!
//! ```toml
//! [simulation]
//! resolution_ms = 0.1      # the step h (ms), > 0; default 0.1
//! duration_ms = 1000.0     # required, > 0, a multiple of resolution_ms
//! seed = 12345             # integer >= 0; default 1
//! threads = 1              # >= 1; default 1 (results do not depend on it)
//!
//! [populations.exc]        # one table per population; the name is the table key
//! model = "iaf_psc_exp"    # a neuron model (list below)
//! size = 3200              # >= 1
//! params = { E_L = -49.0, V_th = -50.0, V_reset = -60.0, tau_m = 20.0 }
//! initial = { V_m = { uniform = { low = -60.0, high = -50.0 } } }
//!
//! [[projections]]
//! name = "exc_to_all"      # optional; default "<source>-><target>"
//! source = "exc"
//! target = "exc"
//! rule = { pairwise_bernoulli = { p = 0.02 } }
//! autapses = true          # default true (NEST's default)
//! multapses = true         # default true
//! weight = 20.25           # a value (see below), in the target model's weight unit
//! delay_ms = 0.1           # a value; default 1.0 ms (NEST's default)
//! receptor = "ex"          # optional; default: by the weight's sign
//!
//! [[stimuli]]
//! name = "drive"           # optional; default "<model>-><target>"
//! model = "poisson_generator"
//! params = { rate = 8000.0 }
//! target = "exc"
//! nodes = "all"            # default "all"
//! weight = 20.0
//! delay_ms = 0.1
//!
//! [recording]
//! spikes = ["exc"]         # or "all" (the default) or [] for none
//! [[recording.variables]]
//! population = "exc"
//! variable = "V_m"
//! interval_ms = 1.0        # default: the resolution
//! nodes = [0, 1, 2]        # default "all"
//! ```
//!
//! ## `[simulation]`
//! `resolution_ms` (default 0.1), `duration_ms` (required; a whole number of steps), `seed`
//! (default 1) and `threads` (default 1). The same seed gives the same network, the same
//! spikes and the same traces for any number of threads.
//!
//! ## `[populations.NAME]`
//! NAME uses letters, digits, `_` and `-` and starts with a letter or `_`. Populations receive
//! their global ids in the order they appear in the file.
//! - `model` (required): a neuron model of `registry::NEURON_MODELS` (`iaf_psc_exp`,
//!   `iaf_psc_delta`, `iaf_cond_exp`, `aeif_cond_alpha`, `iaf_psc_exp_ps`, `cm_default`,
//!   `pyramidal_bac`, `astrocyte_lr_1994`, `aeif_cond_alpha_astro`, `parrot_neuron`,
//!   `spike_generator`).
//!   Structured parameters (a `cm_default` tree: `compartments`, `receptors`) are nested tables.
//! - `size` (required): the number of neurons, >= 1.
//! - `update`: how the neurons are updated, for models that offer a choice (`iaf_psc_exp`):
//!   `"event-driven"` (the default: a neuron is advanced in closed form only when input arrives
//!   or its predicted threshold crossing is due; quiet neurons cost nothing) or `"clock-driven"`
//!   (every neuron every step, NEST's arithmetic step for step, vectorised; faster when most
//!   neurons receive input every few steps, as in CUBA). Other models accept only their own
//!   scheme (`iaf_psc_delta`, `parrot_neuron`, `spike_generator`: event-driven; the rest:
//!   clock-driven).
//! - `params`: the model's parameters by their NEST names; parameters left out keep NEST's
//!   defaults. Unknown names are errors that list the model's parameters. Numbers must be
//!   finite, except `-inf`, which is allowed where a parameter is a lower bound that may be
//!   absent (`V_min` of `iaf_psc_delta`).
//! - `initial`: initial values of state variables (the model's recordables, e.g. `V_m`), each a
//!   *value* (see below, drawn per neuron) or a list of one number per neuron. They replace
//!   the initial values given in `params`.
//!
//! A `spike_generator` population is a set of spike sources (NEST's semantics): `params =
//! { spike_times = [...] }` (every generator the same times), `spike_times_per_node = [[...],
//! ...]` (one list per generator) and `precise_times = true|false`. Connect it with a projection.
//!
//! ## Values
//! Where the reference says *value* (`weight`, `delay_ms`, `initial`), write a number or a
//! distribution drawn independently per synapse (or per neuron) from the seed:
//! `{ normal = { mean = m, std = s } }`, `{ uniform = { low = a, high = b } }`,
//! `{ lognormal = { mu = m, sigma = s } }` (`mu`, `sigma` of the underlying normal, as in NEST).
//! The short forms `{ normal = [m, s] }`, `{ uniform = [a, b] }`, `{ lognormal = [m, s] }` are
//! the same. Normally distributed weights and initial values are redrawn until they have the
//! sign of the mean (NEST's convention for weights). Delays are in ms: a constant delay must be a
//! multiple of the resolution and at least one step; drawn delays are rounded to whole steps and
//! raised to one step if below it (a normal delay is redrawn instead), and a distribution must
//! lie (uniform) or be centred (normal) at or above the resolution.
//!
//! ## `[[projections]]`
//! - `source`, `target` (required): population names. The target must accept input (a
//!   `spike_generator` does not).
//! - `rule` (required): `"all_to_all"`, `"one_to_one"` (equal sizes),
//!   `{ pairwise_bernoulli = { p = P } }` (0 <= P <= 1), `{ fixed_indegree = { k = K } }`,
//!   `{ fixed_outdegree = { k = K } }`, `{ fixed_total_number = { n = N } }`, or
//!   `{ file = "edges.csv" }`: explicit synapses from a CSV file (path relative to the model
//!   file) with the header `source,target,weight,delay_ms` (any column order; `#` starts a comment
//!   line), indices within the two populations. With a file, `weight` and `delay_ms` come from it.
//! - `autapses`, `multapses` (default `true`, NEST's defaults): whether a neuron may connect to
//!   itself, and whether a pair may be connected more than once. Without multapses, K (or N) may
//!   not exceed the number of distinct pairs available.
//! - `weight` (required unless the rule is a file): a value in the target model's weight unit
//!   (pA for `iaf_psc_*`, nS for `*_cond_*`, mV for `iaf_psc_delta`).
//! - `delay_ms`: a value, default 1.0 ms.
//! - `receptor`: a receptor name of the target model (e.g. `"ex"`, `"in"`) or its index.
//!   Without it a synapse with weight > 0 goes to the excitatory receptor and one with weight
//!   <= 0 to the inhibitory one (NEST's convention). Conductance-based models take inhibitory
//!   weights as negative numbers (NEST's convention: `-67.0` is a 67-nS inhibitory conductance).
//! - `name`: unique among projections; default `"<source>-><target>"`, with `#2`, `#3`, … for
//!   repeated pairs. The name seeds the projection's random streams, so renaming a projection
//!   draws a different (equally valid) network.
//! - `synapse`: `{ model = "<synapse model>", <parameters> }` (`registry::SYNAPSE_MODELS`;
//!   default static). `record_weights = true` writes each transmission's weight to `weights.h5`;
//!   `learning_windows_ms = [[start, stop], …]` limits weight changes to those windows.
//! - A projection from a population with a graded output (an astrocyte's SIC) carries that
//!   signal instead of spikes, to the target's receptor of the same name.
//!
//! ## `[[stimuli]]`
//! Devices driving neurons from outside the network.
//! - `model` (required): `poisson_generator` (`rate` Hz, `start`, `stop` ms; every target gets
//!   its own train), `dc_generator` (`amplitude` pA, `start`, `stop` ms) or
//!   `step_current_generator` (`amplitude_times` ms, `amplitude_values` pA). (Spike trains at
//!   given times are a *population* with `model = "spike_generator"`.)
//! - `params`: the device's parameters, NEST names.
//! - `target` (required): a population; `nodes`: `"all"` (default), a list of indices, or
//!   `{ first = i, count = n }`.
//! - `weight`: one number; required for `poisson_generator`; for current generators a factor on
//!   the current (default 1.0). `delay_ms`: one number, a multiple of the resolution, default
//!   1.0. `receptor`: as for projections (not for current generators).
//! - `name`: unique among stimuli; default `"<model>-><target>"`.
//!
//! ## `[recording]`
//! - `spikes`: `"all"` (default) or a list of population names whose spikes are recorded (`[]`
//!   for none).
//! - `[[recording.variables]]`: `population`, `variable` (a recordable of the model, e.g. `V_m`,
//!   `I_syn_ex`, `g_ex`), `interval_ms` (a multiple of the resolution, default the resolution),
//!   `nodes` (as for stimuli, default `"all"`). A compartmental variable given by its stem
//!   (`v_comp`) records every compartment: one report element per (cell, compartment).
//!
//! ## `[column]`, `n_scaling`, `k_scaling`
//! A cortical column described by layers, cell types and a connection table (the language of
//! the `laminar_column` crate, which documents it; `models/potjans_diesmann.toml` is an example).
//! Its cell types become populations (named after the types, before the file's own
//! `[populations]`, which may then be left out), its connection table projections and its
//! background stimuli; `[[projections]]`, `[[stimuli]]` and `[recording]` may refer to them by
//! name. The top-level `n_scaling` and `k_scaling` (default 1.0, > 0) scale the column's neuron
//! counts and in-degrees with the weight and DC compensation of NEST's microcircuit example.
//! Errors name the field of the description (`column.cell_types.L23E.count`) and its line.
//!
//! ## Overrides: `--set key.path=value`
//! Each override replaces (or adds) one value before validation, so it is checked exactly like
//! the file. The path is dotted: `simulation.duration_ms=500`,
//! `populations.exc.params.tau_m=15`, `projections.0.weight=10` (arrays of tables by index) or
//! `projections.exc_to_all.weight=10` (by name, including default names such as `exc->inh`;
//! quote such arguments in a shell). The value is a TOML value: a number, `true`, `"text"`, an
//! array `[1, 2]` or an inline table `{ uniform = [1, 2] }`; a bare word such as `iaf_psc_delta`
//! is taken as a string. A new key may be added to an existing table (a parameter the file does
//! not set), also to a `params` or `initial` table the file leaves out; any other path that does
//! not exist is an error. Errors in overridden values name the `--set` argument instead of a
//! line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use laminar_engine::{
    BuildContext, BuildError, DeviceEntry, Dist, ExplicitEdge, Footprint, Initial, MAX_DELAY_STEPS, ModelInfo,
    NetworkBuilder, PopulationFactory, Projection, RecordingSpec, Resolution, Rule, Simulation, Step, StimulusFactory,
    SynapseModel, TimeError,
};
use laminar_models::params::compact;

use crate::machine::{self, MemoryLimit as MachineLimit};
use laminar_models::{Scheduling, registry};
use serde_json::{Map, Value as Json};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

// ---------------------------------------------------------------- errors

/// A problem with a model file: where it is and what is allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// The line (1-based) of the offending key or value, when it is in the file.
    pub line: Option<usize>,
    /// The `--set` argument the offending value came from, if it came from one.
    pub set: Option<String>,
    /// Dotted path of the field, e.g. `populations.exc.params.tau_m` (empty for syntax errors).
    pub field: String,
    /// The offending value as written, when there is one.
    pub value: Option<String>,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl ConfigError {
    fn with_value(mut self, value: impl Into<String>) -> Self {
        self.value = Some(value.into());
        self
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        match (&self.line, &self.set) {
            (_, Some(set)) => write!(f, " (--set {set}): ")?,
            (Some(line), None) => write!(f, ":{line}: ")?,
            (None, None) => write!(f, ": ")?,
        }
        if !self.field.is_empty() {
            write!(f, "{}", self.field)?;
            if let Some(v) = &self.value {
                write!(f, " = {v}")?;
            }
            write!(f, ": ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ConfigError {}

// Errors are built once, on the way out of a failed load; their size does not matter, and the
// public type keeps the plain fields the CLI and tests read.
type Res<T> = Result<T, Box<ConfigError>>;

// ---------------------------------------------------------------- public API

/// The `[simulation]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationSection {
    pub resolution_ms: f64,
    pub duration_ms: f64,
    pub seed: u64,
    pub threads: usize,
    resolution: Resolution,
    duration_steps: Step,
}

impl SimulationSection {
    pub fn resolution(&self) -> Resolution {
        self.resolution
    }

    /// The duration as a whole number of steps.
    pub fn duration_steps(&self) -> Step {
        self.duration_steps
    }
}

/// One recorded state variable: what the engine's recording with the same index samples.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingPlan {
    pub population: String,
    pub population_index: usize,
    pub variable: String,
    pub units: String,
    pub interval_ms: f64,
    /// Neuron indices within the population, ascending: the columns of each sample.
    pub nodes: Vec<u64>,
    /// Elements per node: 1, or the number of compartments when a compartmental variable is
    /// recorded by its stem (`v_comp` for `v_comp0`, `v_comp1`, …). Such a plan is fed by one
    /// engine recording per compartment, in compartment order.
    pub elements: usize,
}

/// A network built from a model file, ready to run.
#[derive(Debug)]
pub struct BuiltModel {
    pub simulation: Simulation,
    /// The recorded variables; a plan with `elements` > 1 is fed by that many consecutive
    /// engine recordings.
    pub recordings: Vec<RecordingPlan>,
    /// Per population (in gid order): whether its spikes are recorded.
    pub record_spikes: Vec<bool>,
    /// Projections whose weights are recorded (`record_weights = true`).
    pub weight_recordings: Vec<WeightRecording>,
}

/// A plastic projection whose transmitted weights are recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightRecording {
    /// Index of the projection in the network (file order).
    pub projection: usize,
    pub name: String,
    /// The target model's weight unit.
    pub units: String,
}

/// A loaded and validated model file.
pub struct ModelFile {
    pub path: PathBuf,
    /// The file as read (before overrides), for provenance.
    pub text: String,
    /// The `--set` arguments that were applied, in order.
    pub overrides: Vec<String>,
    description: Option<String>,
    simulation: SimulationSection,
    populations: Vec<PopulationSpec>,
    projections: Vec<ProjectionSpec>,
    stimuli: Vec<StimulusSpec>,
    recordings: Vec<(RecordingPlan, Vec<RecordingSpec>)>,
    record_spikes: Vec<bool>,
    circuit: Option<laminar_column::Expanded>,
    /// The top-level sections the file has, in file order (a `[column]` with its tables).
    sections: Vec<String>,
}

impl std::fmt::Debug for ModelFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelFile")
            .field("path", &self.path)
            .field("simulation", &self.simulation)
            .field("populations", &self.populations.iter().map(|p| (&p.name, p.size)).collect::<Vec<_>>())
            .field("projections", &self.projections.iter().map(|p| &p.projection.name).collect::<Vec<_>>())
            .field("stimuli", &self.stimuli.iter().map(|s| &s.device.name).collect::<Vec<_>>())
            .finish()
    }
}

/// Reads `path`, applies `overrides` (`key.path=value`) and validates the result.
#[allow(
    clippy::result_large_err,
    reason = "a failed load ends the command; the error's plain fields are the API callers read"
)]
pub fn load(path: &Path, overrides: &[String]) -> Result<ModelFile, ConfigError> {
    let loader = Loader { file: path };
    let text = std::fs::read_to_string(path)
        .map_err(|e| *loader.error(&Origin::Unknown, "", format!("cannot read the model file: {e}")))?;
    // A problem that no single line holds (a missing table, a whole-file limit) is reported at
    // the file's last line: where the missing part would go, and where a truncated file ends.
    let last_line = text.lines().count().max(1);
    loader.load(text, overrides).map_err(|e| {
        let mut e = *e;
        if e.line.is_none() && e.set.is_none() {
            e.line = Some(last_line);
        }
        // A line of the file can be wrong only because of an override (a delay that no longer
        // fits a finer `--set` resolution): say which overrides were in effect.
        if e.set.is_none() && !overrides.is_empty() {
            let sets: Vec<String> = overrides.iter().map(|s| format!("--set {s}")).collect();
            e.message = format!("{} (with {})", e.message, sets.join(", "));
        }
        e
    })
}

impl ModelFile {
    pub fn simulation(&self) -> &SimulationSection {
        &self.simulation
    }

    /// The top-level sections read, in file order, e.g. `[simulation]`, `[column] (layers,
    /// areas, cell_types, connections, thalamus, inputs)`, `[recording]`: what a run was built
    /// from, so that a file cut short shows what it lacks.
    pub fn sections(&self) -> &[String] {
        &self.sections
    }

    /// The file's `description`, if it has one.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// A one-line summary, e.g. "2 populations (4000 neurons), 2 projections, 0 stimuli,
    /// 1000 ms at 0.1 ms".
    pub fn describe(&self) -> String {
        let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let neurons: usize = self.populations.iter().map(|p| p.size).sum();
        format!(
            "{} ({}), {}, {}, {} ms at {} ms",
            plural(self.populations.len(), "population", "populations"),
            plural(neurons, "neuron", "neurons"),
            plural(self.projections.len(), "projection", "projections"),
            plural(self.stimuli.len(), "stimulus", "stimuli"),
            self.simulation.duration_ms,
            self.simulation.resolution_ms
        )
    }

    /// Builds the network with `seed` and `threads` (pass `simulation().seed` and
    /// `simulation().threads` for the file's own).
    #[allow(clippy::result_large_err, reason = "as for `load`")]
    pub fn build(&self, seed: u64, threads: usize) -> Result<BuiltModel, ConfigError> {
        self.build_inner(seed, threads).map_err(|e| *e)
    }

    /// Projection `i` (file order: the column's, then the file's own).
    pub fn projection(&self, i: usize) -> &Projection {
        &self.projections[i].projection
    }

    /// Every population in gid order: name, size and model description.
    pub fn populations(&self) -> impl Iterator<Item = (&str, usize, &ModelInfo)> {
        self.populations.iter().map(|p| (p.name.as_str(), p.size, p.factory.info()))
    }

    /// The circuit a `[column]` description expanded to (placements, streams), if the file has one.
    pub fn circuit(&self) -> Option<&laminar_column::Expanded> {
        self.circuit.as_ref()
    }

    /// The memory the network will take with the file's thread count, estimated from the
    /// description (see `laminar_engine::footprint`); `load` refuses files whose estimate
    /// exceeds the machine's limit (`machine::memory_limit`).
    #[allow(clippy::result_large_err, reason = "as for `load`")]
    pub fn footprint(&self) -> Result<Footprint, ConfigError> {
        self.footprint_inner().map_err(|e| *e)
    }

    fn footprint_inner(&self) -> Res<Footprint> {
        Ok(self.network_builder_inner(self.simulation.seed)?.footprint(self.simulation.threads))
    }

    /// The network as an engine builder with `seed`, before it is built: for tables and exports.
    #[allow(clippy::result_large_err, reason = "as for `load`")]
    pub fn network_builder(&self, seed: u64) -> Result<NetworkBuilder, ConfigError> {
        self.network_builder_inner(seed).map_err(|e| *e)
    }

    fn network_builder_inner(&self, seed: u64) -> Res<NetworkBuilder> {
        let mut builder = NetworkBuilder::new(self.simulation.resolution, seed);
        for p in &self.populations {
            let index = builder.add_population(&p.name, p.size, p.factory.clone());
            for (variable, value) in &p.initial {
                builder.set_initial(index, variable, value.clone()).map_err(|e| self.build_error(e))?;
            }
        }
        for p in &self.projections {
            builder.add_projection(p.projection.clone());
        }
        for s in &self.stimuli {
            builder.add_device(s.device.clone());
        }
        for spec in self.recordings.iter().flat_map(|(_, specs)| specs) {
            builder.add_recording(spec.clone());
        }
        Ok(builder)
    }

    fn build_inner(&self, seed: u64, threads: usize) -> Res<BuiltModel> {
        let loader = Loader { file: &self.path };
        if threads == 0 {
            return Err(loader.error(&Origin::Unknown, "simulation.threads", "must be >= 1").with_value("0").into());
        }
        let builder = self.network_builder_inner(seed)?;
        let simulation = builder.build(threads).map_err(|e| self.build_error(e))?;
        let weight_recordings = self
            .projections
            .iter()
            .enumerate()
            .filter(|(_, p)| p.projection.record_weights)
            .map(|(i, p)| WeightRecording {
                projection: i,
                name: p.projection.name.clone(),
                units: self.populations[p.projection.target].factory.info().weight_units.to_string(),
            })
            .collect();
        Ok(BuiltModel {
            simulation,
            weight_recordings,
            recordings: self.recordings.iter().map(|(plan, _)| plan.clone()).collect(),
            record_spikes: self.record_spikes.clone(),
        })
    }

    /// Points an engine build error at the part of the file it concerns.
    fn build_error(&self, e: BuildError) -> Box<ConfigError> {
        let loader = Loader { file: &self.path };
        let (origin, field, message) = match e {
            BuildError::Population { population, message } => {
                let origin = self.populations.iter().find(|p| p.name == population).map(|p| p.origin.clone());
                (origin, format!("populations.{population}"), message)
            }
            BuildError::Projection { projection, message } => {
                let p = self.projections.iter().find(|p| p.projection.name == projection);
                (p.map(|p| p.origin.clone()), p.map(|p| p.field.clone()).unwrap_or_default(), message)
            }
            BuildError::Device { device, message } => {
                let s = self.stimuli.iter().find(|s| s.device.name == device);
                (s.map(|s| s.origin.clone()), s.map(|s| s.field.clone()).unwrap_or_default(), message)
            }
            BuildError::Recording { population, message } => {
                (None, "recording.variables".to_string(), format!("recording of '{population}': {message}"))
            }
            BuildError::Other(message) => (None, String::new(), message),
        };
        loader.error(&origin.unwrap_or(Origin::Unknown), field, message)
    }
}

// ---------------------------------------------------------------- the validated description

struct PopulationSpec {
    name: String,
    size: usize,
    factory: Arc<dyn PopulationFactory>,
    initial: Vec<(String, Initial)>,
    origin: Origin,
}

struct ProjectionSpec {
    projection: Projection,
    origin: Origin,
    field: String,
}

struct StimulusSpec {
    device: DeviceEntry,
    origin: Origin,
    field: String,
}

/// What a `[column]` description adds: populations (validated) and projections and devices
/// still by population name, each with where in the file it comes from.
#[derive(Default)]
struct ColumnParts {
    /// The expansion itself: placements and streams for tables, manifests and exports.
    expanded: Option<laminar_column::Expanded>,
    populations: Vec<PopulationSpec>,
    projections: Vec<(Origin, laminar_column::ProjectionOut)>,
    devices: Vec<(Origin, laminar_column::DeviceOut)>,
}

// ---------------------------------------------------------------- the document tree

/// Where a value came from, for error messages.
#[derive(Debug, Clone, PartialEq)]
enum Origin {
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
struct Item {
    node: Node,
    origin: Origin,
}

#[derive(Debug, Clone)]
enum Node {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime(String),
    Array(Vec<Item>),
    Table(Vec<Entry>),
}

#[derive(Debug, Clone)]
struct Entry {
    key: String,
    key_origin: Origin,
    item: Item,
}

impl Node {
    /// "a string", "an integer", … for type errors.
    fn kind(&self) -> &'static str {
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
    fn render(&self) -> String {
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
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    /// The 1-based line containing byte `offset`.
    fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset).max(1)
    }

    fn line_start(&self, line: usize) -> usize {
        self.starts.get(line.saturating_sub(1)).copied().unwrap_or(0)
    }
}

/// A table being read, with its dotted path (empty for the top level).
struct TableRef<'a> {
    entries: &'a [Entry],
    path: String,
    origin: &'a Origin,
}

impl<'a> TableRef<'a> {
    fn get(&self, key: &str) -> Option<&'a Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    fn field(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_string() } else { format!("{}.{key}", self.path) }
    }

    /// How the table is named in messages.
    fn describe(&self) -> String {
        if self.path.is_empty() { "the model file".to_string() } else { self.path.clone() }
    }
}

fn suggestion(word: &str, candidates: &[&str]) -> String {
    registry::closest(word, candidates).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default()
}

/// Population names must be usable as bare TOML keys and as `--set` path segments.
fn valid_population_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The names of the elements of an array of tables: an explicit `name`, else (for
/// `[[projections]]` and `[[stimuli]]`) the default `<a>-><b>` from the two `default_keys`,
/// numbered `#2`, `#3`, … when a default repeats.
fn element_names(items: &[Item], default_keys: Option<(&str, &str)>) -> Vec<Option<String>> {
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

fn default_name_keys(array_key: &str) -> Option<(&'static str, &'static str)> {
    match array_key {
        "projections" => Some(("source", "target")),
        "stimuli" => Some(("model", "target")),
        _ => None,
    }
}

// ---------------------------------------------------------------- the loader

/// Reads and validates one model file; every error it builds names `file`.
struct Loader<'f> {
    file: &'f Path,
}

/// Which registry a model comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ModelKind {
    Neuron,
    Device,
}

enum Factory {
    Neuron(Arc<dyn PopulationFactory>),
    Device(Arc<dyn StimulusFactory>),
}

fn make_factory(
    kind: ModelKind,
    model: &str,
    params: &Map<String, Json>,
    size: usize,
    scheduling: Option<Scheduling>,
) -> Result<Factory, String> {
    match kind {
        ModelKind::Neuron => {
            registry::population_factory_scheduled(model, params, size, scheduling).map(Factory::Neuron)
        }
        ModelKind::Device => registry::stimulus_factory(model, params).map(Factory::Device),
    }
}

/// The name in serde's "unknown field `x`, expected …" message.
fn unknown_field_name(message: &str) -> Option<&str> {
    message.strip_prefix("unknown field `")?.split('`').next()
}

/// The parameter names a model accepts. Serde lists them when it meets an unknown field, so a
/// probe with a name no model has reveals them; models that take initial state next to their
/// parameters (`iaf_psc_exp_ps`) accept their recordables as well, which a second probe checks.
fn allowed_params(kind: ModelKind, model: &str, info: Option<&ModelInfo>) -> Vec<String> {
    let probe = |key: &str| {
        let mut m = Map::new();
        m.insert(key.to_string(), Json::from(0.0));
        make_factory(kind, model, &m, 1, None).err()
    };
    let mut names: Vec<String> = match probe("\u{1}") {
        Some(message) if unknown_field_name(&message).is_some() => {
            // "unknown field `\u{1}`, expected one of `a`, `b`": the names are every other
            // backtick-delimited piece after the probe's own.
            message.split('`').skip(3).step_by(2).map(str::to_string).collect()
        }
        _ => Vec::new(),
    };
    for r in info.map(|i| &i.recordables[..]).unwrap_or_default() {
        if !names.iter().any(|n| *n == r.name) && probe(&r.name).is_none_or(|m| unknown_field_name(&m).is_none()) {
            names.push(r.name.to_string());
        }
    }
    names
}

/// `"tau_m = -5: must be > 0 ms"` (a model's `ParamError`) as (field, value, allowed).
fn split_param_error(message: &str) -> Option<(&str, &str, &str)> {
    let (field, rest) = message.split_once(" = ")?;
    let (value, allowed) = rest.split_once(": ")?;
    (!field.contains(' ')).then_some((field, value, allowed))
}

/// Serde's "invalid type: string \"a\", expected f64" in the words of a model file.
fn friendly_serde(message: &str) -> String {
    let Some(rest) = message.strip_prefix("invalid type: ") else {
        return message.to_string();
    };
    let Some((found, expected)) = rest.rsplit_once(", expected ") else {
        return message.to_string();
    };
    let expected = match expected {
        "f64" | "f32" => "a number",
        "u64" | "usize" | "u32" => "a non-negative integer",
        "a boolean" => "true or false",
        "a sequence" => "a list",
        other => other,
    };
    format!("must be {expected} (found {found})")
}

impl<'f> Loader<'f> {
    fn error(&self, origin: &Origin, field: impl Into<String>, message: impl Into<String>) -> Box<ConfigError> {
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
    fn bad_value(&self, item: &Item, field: &str, message: impl Into<String>) -> Box<ConfigError> {
        Box::new(self.error(&item.origin, field, message).with_value(item.node.render()))
    }

    fn wrong_type(&self, item: &Item, field: &str, expected: &str) -> Box<ConfigError> {
        self.bad_value(item, field, format!("must be {expected}, not {}", item.node.kind()))
    }

    fn missing(&self, table: &TableRef, key: &str, what: &str) -> Box<ConfigError> {
        self.error(table.origin, table.field(key), format!("missing: {what}"))
    }

    fn load(&self, text: String, overrides: &[String]) -> Res<ModelFile> {
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
            ],
        )?;
        let description = match top.get("description") {
            Some(e) => Some(self.as_str(&e.item, "description")?.to_string()),
            None => None,
        };
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
        let limit = machine::memory_limit().map_err(|m| self.error(&Origin::Unknown, "", m))?;
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
        };
        self.check_footprint_fits(&file, limit.as_ref())?;
        Ok(file)
    }

    /// Refuses populations whose neurons alone exceed the memory limit, naming the largest one,
    /// before node lists of that size are allocated.
    fn check_neurons_fit(&self, populations: &[PopulationSpec], limit: Option<&MachineLimit>) -> Res<()> {
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
    fn check_footprint_fits(&self, file: &ModelFile, limit: Option<&MachineLimit>) -> Res<()> {
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

    // ------------------------------------------------------------ parsing

    fn parse_document(&self, text: &str, lines: &LineIndex) -> Res<Vec<Entry>> {
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

    fn convert_table(&self, table: &DeTable<'_>, origin_of: &dyn Fn(usize) -> Origin, path: &str) -> Res<Vec<Entry>> {
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

    fn convert_value(
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

    fn apply_override(&self, root: &mut Vec<Entry>, arg: &str) -> Res<()> {
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

    // ------------------------------------------------------------ typed access

    fn check_keys(&self, table: &TableRef, allowed: &[&str]) -> Res<()> {
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

    fn as_number(&self, item: &Item, field: &str) -> Res<f64> {
        match item.node {
            Node::Int(i) => Ok(i as f64),
            Node::Float(f) if f.is_finite() => Ok(f),
            Node::Float(_) => Err(self.bad_value(item, field, "must be a finite number")),
            _ => Err(self.wrong_type(item, field, "a number")),
        }
    }

    fn as_integer(&self, item: &Item, field: &str) -> Res<i64> {
        match item.node {
            Node::Int(i) => Ok(i),
            _ => Err(self.wrong_type(item, field, "an integer")),
        }
    }

    /// An integer in `min..=max`.
    fn as_count(&self, item: &Item, field: &str, min: u64, max: u64) -> Res<u64> {
        let i = self.as_integer(item, field)?;
        match u64::try_from(i) {
            Ok(v) if (min..=max).contains(&v) => Ok(v),
            _ if max == u64::MAX => Err(self.bad_value(item, field, format!("must be an integer >= {min}"))),
            _ => Err(self.bad_value(item, field, format!("must be an integer from {min} to {max}"))),
        }
    }

    fn as_str<'i>(&self, item: &'i Item, field: &str) -> Res<&'i str> {
        match &item.node {
            Node::Str(s) => Ok(s),
            _ => Err(self.wrong_type(item, field, "a string")),
        }
    }

    fn as_bool(&self, item: &Item, field: &str) -> Res<bool> {
        match item.node {
            Node::Bool(b) => Ok(b),
            _ => Err(self.wrong_type(item, field, "true or false")),
        }
    }

    fn as_table<'i>(&self, item: &'i Item, field: &str) -> Res<TableRef<'i>> {
        match &item.node {
            Node::Table(entries) => Ok(TableRef { entries, path: field.to_string(), origin: &item.origin }),
            _ => Err(self.wrong_type(item, field, "a table")),
        }
    }

    fn as_array<'i>(&self, item: &'i Item, field: &str, expected: &str) -> Res<&'i [Item]> {
        match &item.node {
            Node::Array(items) => Ok(items),
            _ => Err(self.wrong_type(item, field, expected)),
        }
    }

    /// A time in ms that must be a positive whole number of steps.
    fn steps(&self, item: &Item, field: &str, ms: f64, resolution: Resolution) -> Res<Step> {
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
    fn population_index(&self, item: &Item, field: &str, populations: &[PopulationSpec]) -> Res<usize> {
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
    fn dist(&self, item: &Item, field: &str) -> Res<Dist> {
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
    fn delay(&self, item: &Item, field: &str, resolution: Resolution) -> Res<Dist> {
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
    fn nodes(&self, item: Option<&Item>, field: &str, size: usize) -> Res<Vec<u64>> {
        let n = size as u64;
        let Some(item) = item else {
            return Ok((0..n).collect());
        };
        let forms = "\"all\", a list of node indices, or { first = i, count = n }";
        match &item.node {
            Node::Str(s) if s == "all" => Ok((0..n).collect()),
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
    fn params_json(&self, table: Option<&TableRef>) -> Res<Map<String, Json>> {
        let mut map = Map::new();
        let Some(table) = table else { return Ok(map) };
        for e in table.entries {
            map.insert(e.key.clone(), self.to_json(&e.item, &table.field(&e.key))?);
        }
        Ok(map)
    }

    fn to_json(&self, item: &Item, field: &str) -> Res<Json> {
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

    /// Builds a model's factory from its `params`, pointing any error at the parameter.
    fn factory(
        &self,
        kind: ModelKind,
        model: &str,
        info: Option<&ModelInfo>,
        size: usize,
        params: Option<&TableRef>,
        params_path: &str,
        owner_origin: &Origin,
        scheduling: Option<Scheduling>,
    ) -> Res<Factory> {
        let json = self.params_json(params)?;
        let message = match make_factory(kind, model, &json, size, scheduling) {
            Ok(f) => return Ok(f),
            Err(m) => m,
        };
        let params_origin = params.map(|p| p.origin).unwrap_or(owner_origin);
        let entry = |name: &str| params.and_then(|p| p.get(name));
        let allowed = allowed_params(kind, model, info);
        let allowed_refs: Vec<&str> = allowed.iter().map(String::as_str).collect();

        if let Some(name) = unknown_field_name(&message) {
            let origin = entry(name).map(|e| &e.key_origin).unwrap_or(params_origin);
            let takes = if allowed.is_empty() {
                format!("{model} takes no parameters")
            } else {
                format!("{model} takes: {}", allowed.join(", "))
            };
            return Err(self.error(
                origin,
                format!("{params_path}.{name}"),
                format!("unknown field `{name}` in {params_path}{}; {takes}", suggestion(name, &allowed_refs)),
            ));
        }
        if let Some((name, value, what)) = split_param_error(&message)
            && (allowed.iter().any(|a| a == name) || json.contains_key(name))
        {
            return Err(match entry(name) {
                    Some(e) => self.error(&e.item.origin, format!("{params_path}.{name}"), what).with_value(value).into(),
                    None => self
                        .error(
                            params_origin,
                            format!("{params_path}.{name}"),
                            format!("{what} ({name} is not set here: this is {model}'s default, which the values set conflict with)"),
                        )
                        .with_value(value)
                        .into(),
                });
        }
        // A type error names no field: find the parameter that fails on its own.
        for (key, value) in &json {
            let mut one = Map::new();
            one.insert(key.clone(), value.clone());
            if make_factory(kind, model, &one, size, None).err().as_deref() == Some(message.as_str())
                && let Some(e) = entry(key)
            {
                let what = if value.is_null() {
                    format!("-inf is allowed only for lower bounds (such as V_min); {key} must be a finite number")
                } else {
                    friendly_serde(&message)
                };
                return Err(self.bad_value(&e.item, &format!("{params_path}.{key}"), what));
            }
        }
        Err(self.error(params_origin, params_path, message))
    }

    /// Points a model's build-time error (e.g. a time off the grid) at the parameter it names.
    fn model_build_error(
        &self,
        message: &str,
        params: Option<&TableRef>,
        params_path: &str,
        owner: &Origin,
    ) -> Box<ConfigError> {
        let params_origin = params.map(|p| p.origin).unwrap_or(owner);
        if let Some((name, value, what)) = split_param_error(message)
            && let Some(e) = params.and_then(|p| p.get(name))
        {
            return self.error(&e.item.origin, format!("{params_path}.{name}"), what).with_value(value).into();
        }
        // Device messages start with the parameter: "start: 0.15 ms is not a multiple …".
        let lead: String = message.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if let Some(e) = params.and_then(|p| p.get(&lead)) {
            return self.error(&e.item.origin, format!("{params_path}.{lead}"), message);
        }
        self.error(params_origin, params_path, message)
    }

    // ------------------------------------------------------------ sections

    fn simulation(&self, top: &TableRef) -> Res<SimulationSection> {
        let Some(entry) = top.get("simulation") else {
            return Err(self.error(
                &Origin::Unknown,
                "simulation",
                "missing [simulation] table (it needs at least duration_ms)",
            ));
        };
        let t = self.as_table(&entry.item, "simulation")?;
        self.check_keys(&t, &["resolution_ms", "duration_ms", "seed", "threads"])?;
        let (resolution_ms, resolution) = match t.get("resolution_ms") {
            Some(e) => {
                let f = t.field("resolution_ms");
                let h = self.as_number(&e.item, &f)?;
                let r =
                    Resolution::new(h).map_err(|_| self.bad_value(&e.item, &f, "must be a finite number > 0 ms"))?;
                (h, r)
            }
            None => (
                0.1,
                Resolution::new(0.1).map_err(|e| self.error(t.origin, "simulation.resolution_ms", e.to_string()))?,
            ),
        };
        let d = t.get("duration_ms").ok_or_else(|| self.missing(&t, "duration_ms", "the simulated time in ms, > 0"))?;
        let f = t.field("duration_ms");
        let duration_ms = self.as_number(&d.item, &f)?;
        if duration_ms <= 0.0 {
            return Err(self.bad_value(&d.item, &f, "must be a finite number > 0 ms"));
        }
        let duration_steps = self.steps(&d.item, &f, duration_ms, resolution)?;
        let seed = match t.get("seed") {
            Some(e) => self.as_count(&e.item, &t.field("seed"), 0, u64::MAX)?,
            None => 1,
        };
        let threads = match t.get("threads") {
            Some(e) => self.as_count(&e.item, &t.field("threads"), 1, 4096)? as usize,
            None => 1,
        };
        Ok(SimulationSection { resolution_ms, duration_ms, seed, threads, resolution, duration_steps })
    }

    fn populations(&self, top: &TableRef, sim: &SimulationSection, have_column: bool) -> Res<Vec<PopulationSpec>> {
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
            let limit = machine::memory_limit().map_err(|m| self.error(&Origin::Unknown, "", m))?;
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
                    let offered = registry::schedulings(model);
                    let allowed = format!("{model} allows: {}", Scheduling::names(offered));
                    let name = self.as_str(&u.item, &field)?;
                    match Scheduling::from_name(name) {
                        Some(s) if offered.contains(&s) => Some(s),
                        Some(_) => return Err(self.bad_value(&u.item, &field, allowed)),
                        None => {
                            let all = Scheduling::ALL.map(Scheduling::name);
                            let message =
                                format!("'{name}' is not an update scheme{}; {allowed}", suggestion(name, &all));
                            return Err(self.bad_value(&u.item, &field, message));
                        }
                    }
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

    // ------------------------------------------------------------ the column builder

    /// The `[column]` table (see `laminar_column`), expanded at the file's `n_scaling` and
    /// `k_scaling`; errors point at the field of the description they concern.
    fn column(&self, top: &TableRef, root: &[Entry], sim: &SimulationSection) -> Res<ColumnParts> {
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
            let params_field = format!("{}.params", p.field);
            let factory = registry::population_factory(&p.model, &p.params, p.size)
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

    fn column_projections(
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
    fn column_receptor(
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

    fn column_devices(
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

    fn initial(&self, t: &TableRef, info: &ModelInfo, size: usize) -> Res<Vec<(String, Initial)>> {
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

    /// The receptor index a projection or device names, checked against the target model.
    fn receptor(&self, item: &Item, field: &str, info: &ModelInfo) -> Res<usize> {
        let list = if info.receptors.is_empty() { "none".to_string() } else { info.receptors.join(", ") };
        match &item.node {
            Node::Str(name) => info.receptor_index(name).ok_or_else(|| {
                self.bad_value(
                    item,
                    field,
                    format!(
                        "{} has no receptor `{name}`{}; receptors: {list}",
                        info.name,
                        suggestion(name, &info.receptors.iter().map(|r| r.as_ref()).collect::<Vec<_>>())
                    ),
                )
            }),
            Node::Int(i) => match usize::try_from(*i) {
                Ok(r) if r < info.receptors.len() => Ok(r),
                _ => Err(self.bad_value(
                    item,
                    field,
                    format!(
                        "{} has {} receptors ({list}): indices 0..{}",
                        info.name,
                        info.receptors.len(),
                        info.receptors.len().saturating_sub(1)
                    ),
                )),
            },
            _ => Err(self.wrong_type(item, field, "a receptor name or index")),
        }
    }

    /// Conductance models add an excitatory weight and subtract an inhibitory one (NEST): an
    /// explicit receptor with a weight of the wrong sign would make a negative conductance.
    fn check_conductance_sign(
        &self,
        item: &Item,
        field: &str,
        info: &ModelInfo,
        receptor: Option<usize>,
        weight: &Dist,
    ) -> Res<()> {
        if info.weight_units != "nS" {
            return Ok(());
        }
        let (low, high) = match *weight {
            Dist::Constant(v) => (v, v),
            Dist::Normal { mean, .. } if mean > 0.0 => (0.0, f64::INFINITY),
            Dist::Normal { mean, .. } if mean < 0.0 => (f64::NEG_INFINITY, 0.0),
            Dist::Normal { .. } => (f64::NEG_INFINITY, f64::INFINITY),
            Dist::Uniform { low, high } => (low, high),
            Dist::LogNormal { .. } => (0.0, f64::INFINITY),
        };
        match receptor.and_then(|r| info.receptors.get(r)).map(|r| r.as_ref()) {
            Some("ex") if low < 0.0 => Err(self.bad_value(
                item,
                field,
                "weights onto the excitatory receptor of a conductance model must be >= 0 nS",
            )),
            Some("in") if high > 0.0 => Err(self.bad_value(
                item,
                field,
                "weights onto the inhibitory receptor of a conductance model must be <= 0 nS \
                 (NEST's convention: -67 is a 67-nS inhibitory conductance)",
            )),
            _ => Ok(()),
        }
    }

    fn projections(
        &self,
        top: &TableRef,
        sim: &SimulationSection,
        pops: &[PopulationSpec],
    ) -> Res<Vec<ProjectionSpec>> {
        let Some(entry) = top.get("projections") else {
            return Ok(Vec::new());
        };
        let items = self.as_array(&entry.item, "projections", "an array of tables ([[projections]])")?;
        let names = element_names(items, default_name_keys("projections"));
        let mut out: Vec<ProjectionSpec> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let path = format!("projections.{}", names[index].clone().unwrap_or_else(|| index.to_string()));
            let t = self.as_table(item, &path)?;
            self.check_keys(
                &t,
                &[
                    "name",
                    "source",
                    "target",
                    "rule",
                    "autapses",
                    "multapses",
                    "weight",
                    "delay_ms",
                    "receptor",
                    "synapse",
                    "record_weights",
                    "learning_windows_ms",
                ],
            )?;
            let get = |key: &str, what: &str| t.get(key).ok_or_else(|| self.missing(&t, key, what));
            let source_e = get("source", "the source population")?;
            let target_e = get("target", "the target population")?;
            let source = self.population_index(&source_e.item, &t.field("source"), pops)?;
            let target = self.population_index(&target_e.item, &t.field("target"), pops)?;
            let name = self.element_name(&t, &names[index], out.iter().map(|p| p.projection.name.as_str()))?;
            let info = pops[target].factory.info();
            if info.source_only {
                return Err(self.bad_value(
                    &target_e.item,
                    &t.field("target"),
                    format!("{} accepts no connections ({}); it can only be a source", pops[target].name, info.name),
                ));
            }
            let flag = |key: &str| -> Res<bool> {
                match t.get(key) {
                    Some(e) => self.as_bool(&e.item, &t.field(key)),
                    None => Ok(true),
                }
            };
            let autapses = flag("autapses")?;
            let multapses = flag("multapses")?;
            let rule_e = get("rule", "a connection rule, e.g. { pairwise_bernoulli = { p = 0.1 } }")?;
            let (rule, rule_field) =
                self.rule(&rule_e.item, &t.field("rule"), sim.resolution, &pops[source], &pops[target])?;
            let explicit = matches!(rule, Rule::Explicit(_));
            let receptor = match t.get("receptor") {
                Some(e) => Some(self.receptor(&e.item, &t.field("receptor"), info)?),
                None => None,
            };
            let (weight, delay) = if explicit {
                for key in ["weight", "delay_ms"] {
                    if let Some(e) = t.get(key) {
                        return Err(self.bad_value(&e.item, &t.field(key), "comes from the edge file: remove it here"));
                    }
                }
                (Dist::Constant(0.0), Dist::Constant(sim.resolution.h()))
            } else {
                let w = get(
                    "weight",
                    &format!("the synaptic weight in {} (a number or a distribution)", info.weight_units),
                )?;
                let weight = self.dist(&w.item, &t.field("weight"))?;
                self.check_conductance_sign(&w.item, &t.field("weight"), info, receptor, &weight)?;
                let delay = match t.get("delay_ms") {
                    Some(e) => self.delay(&e.item, &t.field("delay_ms"), sim.resolution)?,
                    None => self.delay(&default_delay_item(t.origin), &t.field("delay_ms"), sim.resolution)?,
                };
                (weight, delay)
            };
            if let Rule::Explicit(edges) = &rule
                && receptor.is_some()
            {
                // The weights' range decides whether any has the wrong sign for the receptor.
                let low = edges.iter().map(|e| e.weight).fold(f64::INFINITY, f64::min);
                let high = edges.iter().map(|e| e.weight).fold(f64::NEG_INFINITY, f64::max);
                if low <= high {
                    let range = Dist::Uniform { low, high };
                    self.check_conductance_sign(&rule_e.item, &rule_field, info, receptor, &range)?;
                }
            }
            self.check_rule(
                &rule,
                &rule_e.item,
                &rule_field,
                &pops[source],
                &pops[target],
                source == target,
                autapses,
                multapses,
            )?;
            let synapse = match t.get("synapse") {
                Some(e) => self.synapse(&e.item, &t.field("synapse"))?,
                None => None,
            };
            if let Some(model) = &synapse {
                // The synapse model's own checks of its initial weights (stdp_synapse: between 0
                // and Wmax) on the ends of the weight's range, now rather than mid-build.
                let weights = match (&rule, &weight) {
                    (Rule::Explicit(edges), _) => edges.iter().map(|e| e.weight).collect(),
                    (_, Dist::Uniform { low, high }) => vec![*low, *high],
                    (_, d) => vec![d.mean()],
                };
                let n = weights.len();
                if let Err(message) = model.0.build(weights, &vec![0; n], 1) {
                    let (item, field) = match t.get("weight") {
                        Some(e) => (&e.item, t.field("weight")),
                        None => (&rule_e.item, rule_field.clone()),
                    };
                    return Err(self.bad_value(item, &field, message));
                }
            }
            let record_weights = match t.get("record_weights") {
                Some(e) => {
                    let on = self.as_bool(&e.item, &t.field("record_weights"))?;
                    if on && synapse.is_none() {
                        return Err(self.bad_value(
                            &e.item,
                            &t.field("record_weights"),
                            "static synapses do not change: record weights of a projection with a synapse model",
                        ));
                    }
                    on
                }
                None => false,
            };
            let learning_windows = match t.get("learning_windows_ms") {
                Some(e) => self.windows(&e.item, &t.field("learning_windows_ms"))?,
                None => Vec::new(),
            };
            out.push(ProjectionSpec {
                projection: Projection {
                    name,
                    source,
                    target,
                    rule,
                    weight,
                    delay,
                    receptor,
                    autapses,
                    multapses,
                    synapse,
                    record_weights,
                    learning_windows,
                },
                origin: item.origin.clone(),
                field: path,
            });
        }
        Ok(out)
    }

    /// `synapse = { model = "stdp_synapse", tau_plus = 20.0, … }`: a synapse model and its
    /// parameters (`static_synapse`, the default, has none).
    fn synapse(&self, item: &Item, field: &str) -> Res<Option<SynapseModel>> {
        let t = self.as_table(item, field)?;
        let model_e = t.get("model").ok_or_else(|| {
            self.missing(&t, "model", &format!("a synapse model: {}", registry::SYNAPSE_MODELS.join(", ")))
        })?;
        let model = self.as_str(&model_e.item, &t.field("model"))?;
        if !registry::SYNAPSE_MODELS.contains(&model) {
            return Err(self.bad_value(
                &model_e.item,
                &t.field("model"),
                format!(
                    "unknown synapse model{}; known: {}",
                    suggestion(model, registry::SYNAPSE_MODELS),
                    registry::SYNAPSE_MODELS.join(", ")
                ),
            ));
        }
        let mut params = Map::new();
        for e in t.entries.iter().filter(|e| e.key != "model") {
            params.insert(e.key.clone(), self.to_json(&e.item, &t.field(&e.key))?);
        }
        match registry::synapse_factory(model, &params) {
            Ok(f) => Ok(f.map(SynapseModel)),
            Err(message) => {
                if let Some(name) = unknown_field_name(&message)
                    && let Some(e) = t.get(name)
                {
                    let known: Vec<String> = message.split('`').skip(3).step_by(2).map(str::to_string).collect();
                    let known: Vec<&str> = known.iter().map(String::as_str).collect();
                    return Err(self.error(
                        &e.key_origin,
                        t.field(name),
                        format!(
                            "unknown parameter of {model}{}; known: model, {}",
                            suggestion(name, &known),
                            known.join(", ")
                        ),
                    ));
                }
                Err(self.model_build_error(&message, Some(&t), field, t.origin))
            }
        }
    }

    /// `[[start, stop], …]` in ms: half-open time windows, non-overlapping and in order.
    fn windows(&self, item: &Item, field: &str) -> Res<Vec<(f64, f64)>> {
        let items = self.as_array(item, field, "a list of [start, stop] pairs in ms, e.g. [[0, 500]]")?;
        let mut out: Vec<(f64, f64)> = Vec::new();
        for (k, w) in items.iter().enumerate() {
            let f = format!("{field}.{k}");
            let pair = self.as_array(w, &f, "a [start, stop] pair in ms")?;
            if pair.len() != 2 {
                return Err(self.bad_value(w, &f, "a window is a [start, stop] pair in ms"));
            }
            let (start, stop) = (self.as_number(&pair[0], &f)?, self.as_number(&pair[1], &f)?);
            if !(start.is_finite() && stop.is_finite() && start >= 0.0 && start < stop) {
                return Err(self.bad_value(w, &f, "needs 0 <= start < stop (ms)"));
            }
            if out.last().is_some_and(|&(_, prev_stop)| start < prev_stop) {
                return Err(self.bad_value(w, &f, "windows must be in time order and must not overlap"));
            }
            out.push((start, stop));
        }
        Ok(out)
    }

    /// The element's name (explicit or default), checked for uniqueness among `taken`.
    fn element_name<'n>(
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

    /// The rule and the dotted path of the part that carries its parameter.
    fn rule(
        &self,
        item: &Item,
        field: &str,
        resolution: Resolution,
        source: &PopulationSpec,
        target: &PopulationSpec,
    ) -> Res<(Rule, String)> {
        const RULES: &[&str] = &[
            "all_to_all",
            "one_to_one",
            "pairwise_bernoulli",
            "fixed_indegree",
            "fixed_outdegree",
            "fixed_total_number",
            "file",
        ];
        let forms = "\"all_to_all\", \"one_to_one\", { pairwise_bernoulli = { p } }, { fixed_indegree = { k } }, \
                     { fixed_outdegree = { k } }, { fixed_total_number = { n } } or { file = \"edges.csv\" }";
        let (kind, arg, key_origin) = match &item.node {
            Node::Str(s) => (s.as_str(), None, &item.origin),
            Node::Table(entries) => match entries.as_slice() {
                [e] => (e.key.as_str(), Some(&e.item), &e.key_origin),
                _ => return Err(self.bad_value(item, field, format!("must be one of {forms}"))),
            },
            _ => return Err(self.wrong_type(item, field, forms)),
        };
        let sub = format!("{field}.{kind}");
        // The single numeric parameter of a rule, e.g. `{ p = 0.1 }`.
        let param = |name: &str| -> Res<(&Item, String)> {
            let Some(arg) = arg else {
                return Err(self.bad_value(
                    item,
                    field,
                    format!("{kind} needs a parameter: {{ {kind} = {{ {name} = .. }} }}"),
                ));
            };
            let t = self.as_table(arg, &sub)?;
            self.check_keys(&t, &[name])?;
            let e = t.get(name).ok_or_else(|| self.missing(&t, name, "a number"))?;
            Ok((&e.item, t.field(name)))
        };
        let count = |name: &str| -> Res<(u64, String)> {
            let (i, f) = param(name)?;
            Ok((self.as_count(i, &f, 0, u64::MAX)?, f))
        };
        let rule = match kind {
            "all_to_all" | "one_to_one" => {
                if let Some(a) = arg
                    && !matches!(&a.node, Node::Table(e) if e.is_empty())
                {
                    return Err(self.bad_value(
                        a,
                        &sub,
                        format!("{kind} takes no parameters: write rule = \"{kind}\""),
                    ));
                }
                (if kind == "all_to_all" { Rule::AllToAll } else { Rule::OneToOne }, field.to_string())
            }
            "pairwise_bernoulli" => {
                let (i, f) = param("p")?;
                let p = self.as_number(i, &f)?;
                if !(0.0..=1.0).contains(&p) {
                    return Err(self.bad_value(i, &f, "a probability: must be in [0, 1]"));
                }
                (Rule::PairwiseBernoulli { p }, f)
            }
            "fixed_indegree" => {
                let (k, f) = count("k")?;
                (Rule::FixedIndegree { k }, f)
            }
            "fixed_outdegree" => {
                let (k, f) = count("k")?;
                (Rule::FixedOutdegree { k }, f)
            }
            "fixed_total_number" => {
                let (n, f) = count("n")?;
                (Rule::FixedTotalNumber { n }, f)
            }
            "file" => {
                let Some(arg) = arg else {
                    return Err(self.bad_value(item, field, "a file rule is written { file = \"edges.csv\" }"));
                };
                let rel = self.as_str(arg, &sub)?;
                (Rule::Explicit(self.edges_file(rel, arg, &sub, resolution, source, target)?), sub)
            }
            other => {
                return Err(self.error(
                    key_origin,
                    field,
                    format!("unknown rule `{other}`{}; allowed: {forms}", suggestion(other, RULES)),
                ));
            }
        };
        Ok(rule)
    }

    /// Checks that a rule can be satisfied by the populations (NEST's rules and errors).
    fn check_rule(
        &self,
        rule: &Rule,
        item: &Item,
        field: &str,
        source: &PopulationSpec,
        target: &PopulationSpec,
        same: bool,
        autapses: bool,
        multapses: bool,
    ) -> Res<()> {
        let ns = source.size as u64;
        let nt = target.size as u64;
        let no_self = u64::from(same && !autapses);
        let how = if same && !autapses { " without multapses or autapses" } else { " without multapses" };
        let fail = |m: String| Err(self.error(&item.origin, field, m));
        match *rule {
            Rule::OneToOne if ns != nt => fail(format!(
                "one_to_one needs populations of equal size ({} has {ns}, {} has {nt})",
                source.name, target.name
            )),
            Rule::FixedIndegree { k } if !multapses && k > ns - no_self => fail(format!(
                "k = {k} is more than the {} distinct sources available{how} (allow multapses or lower k)",
                ns - no_self
            )),
            Rule::FixedOutdegree { k } if !multapses && k > nt - no_self => fail(format!(
                "k = {k} is more than the {} distinct targets available{how} (allow multapses or lower k)",
                nt - no_self
            )),
            Rule::FixedTotalNumber { n } if !multapses && u128::from(n) > u128::from(ns - no_self) * u128::from(nt) => {
                fail(format!(
                    "n = {n} is more than the {} distinct pairs available{how} (allow multapses or lower n)",
                    u128::from(ns - no_self) * u128::from(nt)
                ))
            }
            _ => Ok(()),
        }
    }

    /// Reads explicit synapses from a CSV file next to the model file.
    fn edges_file(
        &self,
        rel: &str,
        item: &Item,
        field: &str,
        resolution: Resolution,
        source: &PopulationSpec,
        target: &PopulationSpec,
    ) -> Res<Vec<ExplicitEdge>> {
        let path = self.file.parent().unwrap_or(Path::new("")).join(rel);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| self.bad_value(item, field, format!("cannot read {}: {e}", path.display())))?;
        let at = |line: usize, m: String| self.bad_value(item, field, format!("{} line {line}: {m}", path.display()));
        let mut rows = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
        let Some((header_line, header)) = rows.next() else {
            return Err(self.bad_value(
                item,
                field,
                format!("{} is empty: it needs the header source,target,weight,delay_ms", path.display()),
            ));
        };
        let columns: Vec<&str> = header.split(',').map(str::trim).collect();
        let wanted = ["source", "target", "weight", "delay_ms"];
        let mut index = [0usize; 4];
        for (slot, name) in index.iter_mut().zip(wanted) {
            *slot = columns.iter().position(|c| *c == name).ok_or_else(|| {
                at(
                    header_line,
                    format!("the header must name the columns source,target,weight,delay_ms (found: {header})"),
                )
            })?;
        }
        if columns.len() != wanted.len() {
            return Err(at(
                header_line,
                format!("expected exactly the columns source,target,weight,delay_ms (found: {header})"),
            ));
        }
        let (ns, nt) = (source.size as u64, target.size as u64);
        let mut edges = Vec::new();
        for (line, row) in rows {
            let cells: Vec<&str> = row.split(',').map(str::trim).collect();
            if cells.len() != columns.len() {
                return Err(at(
                    line,
                    format!("expected {} comma-separated values, found {}", columns.len(), cells.len()),
                ));
            }
            let index_in = |col: usize, n: u64, pop: &str| -> Res<u64> {
                let cell = cells[index[col]];
                match cell.parse::<u64>() {
                    Ok(v) if v < n => Ok(v),
                    _ => {
                        Err(at(line, format!("{} = {cell}: must be a node index of {pop} (0..{})", wanted[col], n - 1)))
                    }
                }
            };
            let number = |col: usize| -> Res<f64> {
                let cell = cells[index[col]];
                match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(v),
                    _ => Err(at(line, format!("{} = {cell}: must be a finite number", wanted[col]))),
                }
            };
            let edge = ExplicitEdge {
                source: index_in(0, ns, &source.name)?,
                target: index_in(1, nt, &target.name)?,
                weight: number(2)?,
                delay_ms: number(3)?,
            };
            if let Some(message) = delay_beyond_limit(&Dist::Constant(edge.delay_ms), resolution) {
                return Err(at(line, format!("delay_ms: {message}")));
            }
            match resolution.exact_steps(edge.delay_ms) {
                Ok(s) if s >= 1 => {}
                _ => {
                    return Err(at(
                        line,
                        format!(
                            "delay_ms = {}: must be a multiple of the resolution ({} ms), at least one step",
                            edge.delay_ms,
                            resolution.h()
                        ),
                    ));
                }
            }
            edges.push(edge);
        }
        Ok(edges)
    }

    fn stimuli(&self, top: &TableRef, sim: &SimulationSection, pops: &[PopulationSpec]) -> Res<Vec<StimulusSpec>> {
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

    #[allow(clippy::type_complexity)]
    fn recording(
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

/// Why a delay (a constant or a distribution, in ms) cannot be stored, or `None`: delays are
/// whole steps up to [`MAX_DELAY_STEPS`], and a distribution must not draw beyond that (its
/// [`Dist::practical_max`]), or the build would fail after the file was accepted.
fn delay_beyond_limit(delay: &Dist, resolution: Resolution) -> Option<String> {
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
fn default_delay_item(origin: &Origin) -> Item {
    Item { node: Node::Float(1.0), origin: origin.clone() }
}

/// Where the field at dotted `path` (table keys, array indices) is written: the deepest part of
/// the path that exists.
fn origin_of_path(root: &[Entry], path: &str) -> Option<Origin> {
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
const OPTIONAL_TABLES: &[&str] = &["params", "initial"];

/// Sets `path[depth..]` inside a table to `item`. Errors carry the depth of the failing part.
fn set_in_table(entries: &mut Vec<Entry>, path: &[&str], depth: usize, item: Item) -> Result<(), (usize, String)> {
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

fn set_in_item(target: &mut Item, path: &[&str], depth: usize, item: Item) -> Result<(), (usize, String)> {
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
