//! laminar's discrete-event spike engine.
//!
//! - [`time`]: integer-step time; milliseconds only at the edges.
//! - [`buffer`]: per-target, per-receptor ring buffers (the calendar queue of synaptic events).
//! - [`queue`]: the indexed next-event queue of event-driven neurons and devices.
//! - [`population`]: the model interface (struct-of-arrays shards, dispatch per shard).
//! - [`stimulus`]: the device interface (Poisson trains, injected currents).
//! - [`connect`]: connection rules and weight/delay distributions.
//! - [`csr`]: a shard's incoming synapses by source (compressed sparse rows).
//! - [`network`]: describing a network and building it into per-thread partitions.
//! - [`footprint`]: the memory a network will take, estimated before anything is allocated.
//! - [`sim`]: the run loop, the spike exchange and the observer (recorder) interface.
//! - [`rng`]: deterministic random streams per (seed, purpose, id).
//! - [`ranks`]: runs over several processes (ranks), exchanging spikes once per interval.
//! - [`checkpoint`]: a simulation's state in a file, and [`checkpoint::StateIo`], the visitor
//!   through which every component saves and restores its state.
//!
//! The engine knows no model by name: models live in `laminar-models` and plug in through
//! [`population::PopulationFactory`] and [`stimulus::StimulusFactory`].

pub mod barrier;
pub mod buffer;
pub mod checkpoint;
pub mod connect;
pub mod csr;
mod exchange;
pub mod footprint;
pub mod network;
pub mod population;
mod prefetch;
pub mod queue;
pub mod ranks;
pub mod rng;
pub mod sim;
mod snapshot;
pub mod stimulus;
pub mod synapse;
pub mod time;

pub use buffer::{InputKind, PreciseEvent, StepInput};
pub use checkpoint::{CheckpointError, CheckpointHeader, StateColumns, StateError, StateIo};
pub use connect::{Dist, ExplicitEdge, Rule};
pub use footprint::Footprint;
pub use network::{
    BuildError, DeviceEntry, Initial, MAX_DELAY_STEPS, NetworkBuilder, Projection, RecordingSpec, SynapseModel,
    SynapseView,
};
pub use population::{
    BuildContext, DefaultReceptor, GradedValue, LocalSpike, ModelError, ModelFailure, ModelInfo, Population,
    PopulationFactory, Recordable, Update,
};
pub use queue::NextEventQueue;
pub use ranks::{InProcessRanks, Ranks, SingleRank};
pub use sim::{
    BuildTimes, ExchangeStats, NullObserver, Observer, PhaseTimes, PopulationMeta, RunError, RunReport, Simulation,
    SpikeRecord,
};
pub use stimulus::{ChannelTarget, Stimulus, StimulusFactory, StimulusSink};
pub use synapse::{
    PlasticGroup, PostHistory, PostSpike, STDP_EPS_MS, SynapseDynamics, SynapseFactory, Transmission, WeightEvent,
};
pub use time::{MAX_STEPS, Resolution, Step, TimeError};
