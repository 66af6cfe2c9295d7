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

pub mod params;
pub mod registry;

mod lazy;

pub mod adapters;
pub mod aeif_cond_alpha;
pub mod aeif_cond_alpha_astro;
pub mod astrocyte_lr_1994;
pub mod cm_default;
pub mod devices;
pub mod glia_synapses;
pub mod iaf_cond_exp;
pub mod iaf_psc_delta;
pub mod iaf_psc_exp;
pub mod iaf_psc_exp_ps;
pub mod odeint;
pub mod parrot_neuron;
pub mod pyramidal_bac;
pub mod spike_generator;
pub mod synapses;
