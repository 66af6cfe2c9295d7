//! `parrot_neuron`: repeats every spike it receives, in the step it arrives (NEST semantics).
//!
//! Incoming spikes are counted regardless of their weight (NEST counts multiplicities); a step
//! with `n` arrivals emits `n` spikes. Used to turn device spike trains into network spikes
//! (e.g. the pre/post trains of plasticity experiments). Event-driven: only touched parrots run.
//!
//! Receptors: `spikes` (NEST's port 0) is repeated; `silent` (NEST's port 1) is not. Plasticity
//! experiments connect the presynaptic parrot to the postsynaptic one on `silent`, so the synapse
//! is plastic but the postsynaptic parrot fires only with its own train.
//!
//! Reference: NEST `models/parrot_neuron.{h,cpp}`.

use laminar_engine::{
    BuildContext, DefaultReceptor, InputKind, LocalSpike, ModelError, ModelInfo, NextEventQueue, Population,
    PopulationFactory, StateError, StateIo, Step, Update,
};
use serde::Deserialize;

/// `parrot_neuron` has no parameters.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParrotParams {}

pub static INFO: ModelInfo = ModelInfo {
    name: "parrot_neuron",
    receptors: laminar_engine::receptor_names!["spikes", "silent"],
    default_receptor: DefaultReceptor::First,
    recordables: std::borrow::Cow::Borrowed(&[]),
    input: InputKind::SummedTouched,
    weight_units: "1",
    counts_spikes: true,
    source_only: false,
    graded_output: None,
    current_on_arrival: false,
};

#[derive(Debug, Clone, Default)]
pub struct ParrotFactory;

impl PopulationFactory for ParrotFactory {
    fn info(&self) -> &ModelInfo {
        &INFO
    }

    fn build(&self, _: usize, _: u64, len: usize, _: &BuildContext) -> Result<Box<dyn Population>, ModelError> {
        Ok(Box::new(Parrots { len }))
    }
}

#[derive(Debug)]
struct Parrots {
    len: usize,
}

impl Population for Parrots {
    fn len(&self) -> usize {
        self.len
    }

    fn update(&mut self, u: &mut Update<'_>) {
        let counts = u.input.receptor(0);
        for &i in u.input.touched() {
            let n = counts[i as usize].round().max(0.0) as u64;
            for _ in 0..n {
                u.spikes.push(LocalSpike { local: i, offset: 0.0 });
            }
        }
    }

    /// Nothing: a parrot repeats the input of the step it computes, and input not yet computed
    /// is in the engine's ring buffer, which the engine saves.
    fn state(&mut self, _io: &mut StateIo, _queue: &mut NextEventQueue) -> Result<(), StateError> {
        Ok(())
    }

    fn sample(&self, _: usize, _: usize, _: Step) -> f64 {
        f64::NAN
    }

    fn set_state(&mut self, _: usize, _: usize, _: f64) -> Result<(), String> {
        Err("parrot_neuron has no state".into())
    }
}
