//! The interface between the engine and neuron models.
//!
//! The engine knows no model by name. A model provides a [`PopulationFactory`] (its static
//! description, [`ModelInfo`], and a constructor) and the engine asks it for one [`Population`]
//! per *shard*: the neurons of one population that one thread owns. Dispatch is per shard, once
//! per step; inside, a model walks its struct-of-arrays state without dynamic dispatch.
//!
//! Scheduling is the model's choice, expressed through its [`InputKind`]:
//! - **stepped** models (`Summed`, `Precise`) are updated for every neuron every step;
//! - **clock-driven sweeps** (`Drained`) are stepped models that read and zero every neuron's
//!   spike input themselves, in the pass that updates the neuron;
//! - **event-driven** models (`SummedTouched`) see only the neurons that received input in the
//!   step ([`StepInput::touched`]) plus those whose own next event is due in the shard's
//!   [`NextEventQueue`]; everyone else is not touched at all. Such a model advances a neuron
//!   lazily and exactly over the steps it skipped and keeps, in the queue, a step at which the
//!   neuron must be looked at again (a conservative prediction of its next threshold crossing, or
//!   the end of its refractory period).

use std::borrow::Cow;

use crate::buffer::{InputKind, StepInput};
use crate::checkpoint::{StateError, StateIo};
use crate::queue::NextEventQueue;
use crate::time::{Resolution, Step};
use thiserror::Error;

/// A spike emitted by a shard: its local index and NEST's precise offset (0 for grid models).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalSpike {
    pub local: u32,
    pub offset: f64,
}

/// A neuron's dynamics failed in a step, where NEST stops the simulation (its
/// `NumericalInstability`): the engine ends the run after the exchange interval that contains
/// `step` and returns the failure as [`crate::RunError::Model`], naming the population and neuron.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFailure {
    /// The neuron's index within the shard.
    pub local: u32,
    /// The step in which it failed.
    pub step: Step,
    /// What failed, with the offending values and what to change; the engine adds the
    /// population, the neuron and the time.
    pub message: String,
}

/// A recordable state variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recordable {
    pub name: Cow<'static, str>,
    pub units: &'static str,
}

impl Recordable {
    /// A recordable with a fixed name, usable in a `static` [`ModelInfo`].
    pub const fn new(name: &'static str, units: &'static str) -> Self {
        Self { name: Cow::Borrowed(name), units }
    }
}

/// A fixed list of receptor names for a `static` [`ModelInfo`]: `receptor_names!["ex", "in"]`.
/// Models whose receptors depend on their parameters (compartmental cells) build the list at
/// run time instead.
#[macro_export]
macro_rules! receptor_names {
    ($($name:expr),* $(,)?) => {
        ::std::borrow::Cow::Borrowed(&[$(::std::borrow::Cow::Borrowed($name)),*])
    };
}

/// How a weight's sign picks the receptor when a projection names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultReceptor {
    /// NEST's psc/cond convention: weight > 0 → receptor 0 (excitatory), else receptor 1.
    BySign,
    /// Always receptor 0.
    First,
}

/// Static description of a model, used to build and validate networks.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// NEST's model name.
    pub name: &'static str,
    /// Spike receptors by name, in channel order (e.g. `["ex", "in"]`).
    pub receptors: Cow<'static, [Cow<'static, str>]>,
    pub default_receptor: DefaultReceptor,
    pub recordables: Cow<'static, [Recordable]>,
    pub input: InputKind,
    /// The unit of synaptic weights onto this model ("pA", "nS", "mV"; "1" for counting models).
    pub weight_units: &'static str,
    /// Incoming spikes are counted (weight ignored) as NEST's parrot_neuron does.
    pub counts_spikes: bool,
    /// A pure source (spike_generator): accepts no incoming connections.
    pub source_only: bool,
    /// The graded signal this model emits instead of spikes (e.g. `"SIC"` for an astrocyte);
    /// projections from it carry [`GradedValue`]s.
    pub graded_output: Option<&'static str>,
    /// The model uses an injected current in the step it arrives (NEST's `cm_default`), where
    /// point neurons store it for the next step; current devices then deliver one step earlier.
    pub current_on_arrival: bool,
}

impl ModelInfo {
    /// The receptor index a synapse of weight `weight` targets when the projection names none.
    pub fn receptor_for(&self, weight: f64) -> usize {
        match self.default_receptor {
            DefaultReceptor::BySign if self.receptors.len() > 1 && weight <= 0.0 => 1,
            _ => 0,
        }
    }

    pub fn receptor_index(&self, name: &str) -> Option<usize> {
        self.receptors.iter().position(|r| *r == name)
    }

    pub fn recordable_index(&self, name: &str) -> Option<usize> {
        self.recordables.iter().position(|r| r.name == name)
    }
}

/// Everything a shard sees during one step.
#[derive(Debug)]
pub struct Update<'a> {
    /// The step being computed (from `step·h` to `(step+1)·h`).
    pub step: Step,
    pub input: StepInput<'a>,
    pub queue: &'a mut NextEventQueue,
    /// Spikes emitted in this step; the engine sorts them by local index.
    pub spikes: &'a mut Vec<LocalSpike>,
    /// Graded values emitted in this step by models with a [`ModelInfo::graded_output`] (e.g. an
    /// astrocyte's slow inward current); zeros need not be pushed.
    pub graded: &'a mut Vec<GradedValue>,
}

/// A graded (non-spike) signal value a neuron emits in one step. Projections from a population
/// with a graded output carry these instead of spikes: the value emitted in step k, times the
/// synapse weight, is summed into the target's receptor slot for step k + delay, as NEST's
/// secondary events (`SICEvent`) are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradedValue {
    pub local: u32,
    pub value: f64,
}

/// A shard of a population: the neurons `first_gid .. first_gid + len` owned by one thread.
pub trait Population: Send {
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Called once before the first step of a run segment: event-driven models schedule their
    /// initial events (e.g. a neuron already driven above threshold by `I_e`).
    fn start(&mut self, _step: Step, _queue: &mut NextEventQueue) {}

    /// Computes step `u.step`.
    fn update(&mut self, u: &mut Update<'_>);

    /// The value of recordable `variable` of neuron `local` at the end of step `step`, i.e. at
    /// time `(step+1)·h`. Called after `update(step)`; event-driven models evaluate skipped steps
    /// without changing their state, so recording never perturbs the dynamics.
    fn sample(&self, variable: usize, local: usize, step: Step) -> f64;

    /// Sets the initial value of state variable `variable` (a recordable index) of `local`.
    fn set_state(&mut self, variable: usize, local: usize, value: f64) -> Result<(), String>;

    /// The shard's first [`ModelFailure`] since the last call, if any. The engine asks once per
    /// exchange interval; models whose numerics cannot fail keep the default.
    fn take_failure(&mut self) -> Option<ModelFailure> {
        None
    }

    /// Saves or restores everything about the shard that the future depends on (see
    /// [`crate::checkpoint`]): one call per state array, the same code for both directions.
    /// Event-driven models save their neurons' `synced` and `due` steps as they are and, when
    /// loading, schedule every due neuron in `queue` again (it is empty then).
    fn state(&mut self, _io: &mut StateIo, _queue: &mut NextEventQueue) -> Result<(), StateError> {
        Err(StateError("the model does not support checkpoints".into()))
    }
}

/// Construction context handed to factories.
#[derive(Debug, Clone, Copy)]
pub struct BuildContext {
    pub resolution: Resolution,
    pub seed: u64,
}

/// Builds shards of one population.
pub trait PopulationFactory: Send + Sync {
    fn info(&self) -> &ModelInfo;

    /// A shard of `len` neurons whose first neuron has index `first_local` within the population
    /// and global id `first_gid`.
    fn build(
        &self,
        first_local: usize,
        first_gid: u64,
        len: usize,
        ctx: &BuildContext,
    ) -> Result<Box<dyn Population>, ModelError>;
}

/// A model could not be built.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{0}")]
pub struct ModelError(pub String);
