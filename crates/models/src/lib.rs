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
