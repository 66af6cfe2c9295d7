//! laminar's neuron models and stimulus devices.
//!
//! Every model named after a NEST model implements NEST's equations, units, defaults and timing
//! conventions exactly; each module's documentation states the equations, the integration scheme
//! and the references. A model is a struct-of-arrays population: one parameter set per
//! population, one state vector per variable, and an update that walks the arrays.
//!
//! Timing convention shared by every model (NEST's): *step k* advances the state from time k·h to
//! (k+1)·h. Spike input delivered in step k is added at the end of that step, so it first shows in
//! the state at time (k+1)·h. Injected current given for step k acts during that step. A spike
//! emitted in step k carries the time (k+1)·h (grid models) or (k+1)·h − offset (precise models).

/// Declares a model's recordable state variables once: the enum `Recordable` (one variant per
/// variable, in the model's recording order), `RECORDABLES` (NEST's names and units in that
/// order), `ENGINE_RECORDABLES` (the same list as the model's `ModelInfo::recordables`) and
/// `Recordable::{ALL, name, units, from_name}`.
macro_rules! recordables {
    ($model:literal: $( $(#[$doc:meta])* $variant:ident = ($name:literal, $units:literal) ),+ $(,)?) => {
        #[doc = concat!("A recordable state variable of `", $model, "`.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Recordable {
            $( $(#[$doc])* $variant ),+
        }

        /// NEST's names of the state variables and their units, in [`Recordable`] order.
        pub const RECORDABLES: &[(&str, &str)] = &[$(($name, $units)),+];

        /// The state variables as the engine lists them (the model's `ModelInfo::recordables`).
        pub const ENGINE_RECORDABLES: &[laminar_engine::Recordable] =
            &[$(laminar_engine::Recordable::new($name, $units)),+];

        impl Recordable {
            pub const ALL: [Recordable; RECORDABLES.len()] = [$(Recordable::$variant),+];

            /// NEST's name of the variable.
            pub fn name(self) -> &'static str {
                RECORDABLES[self as usize].0
            }

            /// Units of the variable.
            pub fn units(self) -> &'static str {
                RECORDABLES[self as usize].1
            }

            /// The variable with NEST's name `name`, if it is recordable.
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|r| r.name() == name)
            }
        }
    };
}

/// How a population's neurons are updated, for models that offer both schemes.
///
/// - `EventDriven`: a neuron is advanced in closed form only when input arrives or its own next
///   event (a predicted threshold crossing, the end of refractoriness) is due; a neuron with
///   nothing due costs nothing. The right choice when most neurons are quiet in most steps.
/// - `ClockDriven`: every neuron every step, as NEST does, over vectorised struct-of-arrays
///   state. The right choice when most neurons receive input every few steps (e.g. CUBA), where
///   the event-driven bookkeeping costs more than the sweep it saves.
///
/// Both give the same dynamics; the rounding differs (the event-driven update propagates over
/// several steps at once), so spike trains of chaotic networks diverge after a while while their
/// statistics agree. Neither depends on the number of threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheduling {
    #[default]
    EventDriven,
    ClockDriven,
}

impl Scheduling {
    /// Every scheme, in the order model files list them.
    pub const ALL: [Scheduling; 2] = [Scheduling::EventDriven, Scheduling::ClockDriven];

    /// The name model files use.
    pub fn name(self) -> &'static str {
        match self {
            Scheduling::EventDriven => "event-driven",
            Scheduling::ClockDriven => "clock-driven",
        }
    }

    /// The scheme named `name` in a model file.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The names of `schemes`, comma-separated, for messages that say what is allowed.
    pub fn names(schemes: &[Scheduling]) -> String {
        schemes.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
    }
}

pub mod params;
pub mod registry;

mod lazy;

pub mod adapters;
pub mod aeif_cond_alpha;
pub mod aeif_cond_alpha_astro;
pub mod astrocyte_lr_1994;
pub mod cm_default;
pub mod contrastive_synapse;
pub mod devices;
pub mod glia_synapses;
pub mod iaf_cond_exp;
pub mod iaf_psc_delta;
pub mod iaf_psc_exp;
pub mod iaf_psc_exp_ps;
pub mod inhomogeneous_poisson;
pub mod odeint;
pub mod parrot_neuron;
pub mod pyramidal_bac;
pub mod spike_generator;
pub mod synapses;
#[cfg(test)]
mod test_drive;
pub mod vector_exp;
mod vector_level;
