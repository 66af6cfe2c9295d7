//! Model files: the TOML language laminar networks are written in, and its validation.
//!
//! [`load`] reads a model file ([`load_str`] takes its text from memory), applies
//! `--set key.path=value` overrides and checks every field against the engine and the models
//! *before anything is built or run*;
//! [`ModelFile::build`] then turns the validated description into a
//! [`Simulation`]. Every problem is a [`ConfigError`] that names the file, the line (or the
//! `--set` argument the value came from), the dotted path of the field, and what is allowed
//! (a network too big for the memory limit that [`machine`] reads is refused the same way):
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
//! spikes and the same traces for any number of threads. `weight_precision` (`"double"`, the
//! default, or `"single"`): `"single"` rounds the weights of static synapses to single
//! precision as they are drawn, so each takes 4 bytes instead of 8 (input is still summed in
//! double precision); for large networks whose weights are drawn from distributions (PD14),
//! whose spread dwarfs the rounding (2⁻²⁴ of a weight). It is a different network from the
//! double-precision one, so its spikes differ.
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
//! ## `[attention]`
//! The harness settings of an attention circuit (`laminar attention`; `models/attention/`):
//! which populations and projections the harness drives and reads, and the protocol's numbers.
//! The language checks only that it is a table and passes it through ([`ModelFile::section`]);
//! `laminar_attention::circuit` documents and validates its keys, with the same file:line
//! errors. `laminar run` ignores it, so a circuit file also runs (without inputs) as a model.
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
    BuildError, Footprint, ModelInfo, NetworkBuilder, Projection, RecordingSpec, Resolution, Simulation, Step,
};

mod document;
mod error;
mod loader;
pub mod machine;
mod section;

pub use error::ConfigError;
pub use section::Section;

use document::Origin;
use error::Res;
use loader::{Loader, PopulationSpec, ProjectionSpec, StimulusSpec};

/// The `[simulation]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationSection {
    pub resolution_ms: f64,
    pub duration_ms: f64,
    pub seed: u64,
    pub threads: usize,
    /// `weight_precision = "single"`: static synapses' weights are rounded to single precision.
    pub single_precision_weights: bool,
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
    /// The document after overrides, for the passed-through sections and path lookups.
    document: Vec<document::Entry>,
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
    load_text(text, path, overrides)
}

/// As [`load`], for a model file's text already in memory (generated, say): `path` names the
/// file in messages, and relative paths in it (an edge file) are read next to it.
#[allow(clippy::result_large_err, reason = "as for `load`")]
pub fn load_str(text: &str, path: &Path, overrides: &[String]) -> Result<ModelFile, ConfigError> {
    load_text(text.to_string(), path, overrides)
}

#[allow(clippy::result_large_err, reason = "as for `load`")]
fn load_text(text: String, path: &Path, overrides: &[String]) -> Result<ModelFile, ConfigError> {
    let loader = Loader { file: path };
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
    /// A passed-through top-level table (`"attention"`), if the file has it.
    pub fn section<'a>(&'a self, name: &'a str) -> Option<Section<'a>> {
        debug_assert!(section::PASSED_THROUGH.contains(&name));
        let entry = self.document.iter().find(|e| e.key == name)?;
        match &entry.item.node {
            document::Node::Table(entries) => {
                Some(Section { file: &self.path, name, entries, origin: &entry.item.origin })
            }
            _ => None,
        }
    }

    /// The number at a dotted path of the document after overrides, e.g.
    /// `projections.memory.synapse.tau_astro` (arrays of tables by index or element name).
    pub fn number_at(&self, path: &str) -> Option<f64> {
        section::number_at(&self.document, path)
    }

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
        self.build_inner(seed, threads, Arc::new(laminar_engine::SingleRank)).map_err(|e| *e)
    }

    /// Builds this rank's part of the network of a run over several processes (see
    /// [`laminar_engine::ranks`]); collective: every rank calls it.
    #[allow(clippy::result_large_err, reason = "as for `load`")]
    pub fn build_on(
        &self,
        seed: u64,
        threads: usize,
        ranks: Arc<dyn laminar_engine::Ranks>,
    ) -> Result<BuiltModel, ConfigError> {
        self.build_inner(seed, threads, ranks).map_err(|e| *e)
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
        builder.set_single_precision_weights(self.simulation.single_precision_weights);
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

    fn build_inner(&self, seed: u64, threads: usize, ranks: Arc<dyn laminar_engine::Ranks>) -> Res<BuiltModel> {
        let loader = Loader { file: &self.path };
        if threads == 0 {
            return Err(loader.error(&Origin::Unknown, "simulation.threads", "must be >= 1").with_value("0").into());
        }
        let builder = self.network_builder_inner(seed)?;
        let simulation = builder.build_on(threads, ranks).map_err(|e| self.build_error(e))?;
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
