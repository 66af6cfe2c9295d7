//! `aeif_cond_alpha_astro`: NEST's AdEx neuron with alpha conductances
//! ([`crate::aeif_cond_alpha`]) that also receives the slow inward current (SIC) of astrocytes
//! ([`crate::astrocyte_lr_1994`]).
//!
//! # Equations (units: mV, ms, pF, nS, pA)
//! Those of `aeif_cond_alpha`, with one more current on the membrane:
//! ```text
//! C_m dV_m/dt = −g_L (V − E_L) + g_L Δ_T exp((V − V_th) / Δ_T)
//!               − g_ex (V − E_ex) − g_in (V − E_in) − w + I_e + I_stim + I_SIC
//! ```
//! `I_SIC` is the summed SIC of all astrocytes connected through `sic_connection`s, each times
//! its connection weight. Parameters, defaults, checks and the integration scheme are those of
//! `aeif_cond_alpha` (NEST's two models differ only in this term), and this module runs the same
//! kernel, [`AeifCondAlpha`], with the SIC as its extra current.
//!
//! # Timing of the SIC (NEST's `handle(SICEvent&)` and `update`)
//! The SIC delivered for step k (the astrocytes' values emitted in step k − d, times the
//! weights) is read at the end of step k, after the integration, and stored as `I_SIC`; it acts
//! during step k + 1 and is what a recording of step k shows. Until the first delivery
//! `I_SIC = 0`. Spike input and injected current enter as in `aeif_cond_alpha`.
//!
//! # References
//! - NEST 3.10, `models/aeif_cond_alpha_astro.{h,cpp}`, `models/sic_connection.h`.
//! - Nadkarni S & Jung P (2003), Spontaneous oscillations of dressed neurons: a new mechanism for
//!   epilepsy?, Phys Rev Lett 91:268101, doi:10.1103/PhysRevLett.91.268101.

use laminar_engine::{StateError, StateIo};

use crate::aeif_cond_alpha::{self as aeif, AeifCondAlpha, AeifCondAlphaParams, NumericalInstability, ShardInput};
use crate::params::ParamError;

/// The parameters are `aeif_cond_alpha`'s, with the same NEST names, defaults and checks.
pub type AeifCondAlphaAstroParams = AeifCondAlphaParams;

/// A recordable variable of `aeif_cond_alpha_astro`: the AdEx state, plus `I_SIC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recordable {
    /// A state variable of the AdEx neuron.
    Neuron(aeif::Recordable),
    /// The SIC acting during the next step, `I_SIC` (pA).
    ISic,
}

impl Recordable {
    /// Every recordable: `aeif_cond_alpha`'s in their order, then `I_SIC`.
    pub const ALL: [Recordable; 7] = [
        Recordable::Neuron(aeif::Recordable::Vm),
        Recordable::Neuron(aeif::Recordable::W),
        Recordable::Neuron(aeif::Recordable::GEx),
        Recordable::Neuron(aeif::Recordable::GIn),
        Recordable::Neuron(aeif::Recordable::DgEx),
        Recordable::Neuron(aeif::Recordable::DgIn),
        Recordable::ISic,
    ];

    /// NEST's name of the variable.
    pub fn name(self) -> &'static str {
        match self {
            Recordable::Neuron(var) => var.name(),
            Recordable::ISic => "I_SIC",
        }
    }

    /// Units of the variable.
    pub fn units(self) -> &'static str {
        match self {
            Recordable::Neuron(var) => var.units(),
            Recordable::ISic => "pA",
        }
    }

    /// The variable with NEST's name `name`, if it is recordable.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// A population of `aeif_cond_alpha_astro` neurons sharing one parameter set.
#[derive(Debug, Clone)]
pub struct AeifCondAlphaAstro {
    neuron: AeifCondAlpha,
    /// SIC acting during the next step (NEST's `B_.I_sic_`, pA).
    i_sic: Vec<f64>,
}

impl AeifCondAlphaAstro {
    /// `n` neurons in the initial state of `params`, simulated with step `h_ms`.
    pub fn new(params: AeifCondAlphaAstroParams, n: usize, h_ms: f64) -> Result<Self, ParamError> {
        Ok(Self { neuron: AeifCondAlpha::new(params, n, h_ms)?.named("aeif_cond_alpha_astro"), i_sic: vec![0.0; n] })
    }

    /// Advances neuron `i` by one step and returns the number of spikes emitted in it. The
    /// arguments are those of [`AeifCondAlpha::update_counting_spikes`], plus `sic`: the summed,
    /// weighted SIC delivered in this step (pA), which acts from the next step on.
    pub fn update_counting_spikes(&mut self, i: usize, spike_ex: f64, spike_in: f64, i_stim: f64, sic: f64) -> u32 {
        let spikes = self.neuron.advance(i, spike_ex, spike_in, i_stim, self.i_sic[i]);
        self.i_sic[i] = sic;
        spikes
    }

    /// One step of every neuron with `integration = "rk4_vector"`
    /// ([`AeifCondAlpha::step_shard`]): `sic[i]` is neuron i's SIC delivered in this step, which
    /// acts from the next step on; `emit(i)` once per spike of neuron `i`.
    pub(crate) fn step_shard(&mut self, input: ShardInput<'_>, sic: &[f64], emit: impl FnMut(usize)) {
        let input = ShardInput { i_extra: Some(&self.i_sic), ..input };
        self.neuron.step_shard(input, emit);
        let n = self.i_sic.len();
        self.i_sic.copy_from_slice(&sic[..n]);
    }

    /// The first numerical failure since the last call, if any
    /// ([`AeifCondAlpha::take_instability`]).
    pub fn take_instability(&mut self) -> Option<NumericalInstability> {
        self.neuron.take_instability()
    }

    /// Saves or restores the neurons' state for a checkpoint: the AdEx state
    /// ([`AeifCondAlpha::state`]) and the SIC delivered last, which acts during the next step.
    pub fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        self.neuron.state(io)?;
        io.neurons("i_sic", &mut self.i_sic)
    }

    /// The AdEx kernel (parameters, refractoriness, state).
    pub fn neuron(&self) -> &AeifCondAlpha {
        &self.neuron
    }

    /// Number of neurons.
    pub fn len(&self) -> usize {
        self.i_sic.len()
    }

    pub fn is_empty(&self) -> bool {
        self.i_sic.is_empty()
    }

    /// Value of `var` for neuron `i`.
    pub fn get(&self, var: Recordable, i: usize) -> f64 {
        match var {
            Recordable::Neuron(var) => self.neuron.get(var, i),
            Recordable::ISic => self.i_sic[i],
        }
    }

    /// Sets `var` of neuron `i` (`I_SIC`: the SIC acting during the next step).
    pub fn set(&mut self, var: Recordable, i: usize, value: f64) {
        match var {
            Recordable::Neuron(var) => self.neuron.set(var, i, value),
            Recordable::ISic => self.i_sic[i] = value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SIC delivered in one step acts from the next one on, as a constant current would.
    #[test]
    fn sic_acts_from_the_step_after_delivery() {
        let mut astro = AeifCondAlphaAstro::new(AeifCondAlphaParams::default(), 1, 0.1).unwrap();
        let mut plain = AeifCondAlpha::new(AeifCondAlphaParams::default(), 1, 0.1).unwrap();
        astro.update_counting_spikes(0, 0.0, 0.0, 0.0, 50.0);
        plain.update_counting_spikes(0, 0.0, 0.0, 0.0);
        assert_eq!(astro.get(Recordable::Neuron(aeif::Recordable::Vm), 0), plain.get(aeif::Recordable::Vm, 0));
        assert_eq!(astro.get(Recordable::ISic, 0), 50.0);
        for _ in 0..20 {
            astro.update_counting_spikes(0, 0.0, 0.0, 0.0, 50.0);
            plain.update_counting_spikes(0, 0.0, 0.0, 50.0);
            assert_eq!(astro.get(Recordable::Neuron(aeif::Recordable::Vm), 0), plain.get(aeif::Recordable::Vm, 0));
        }
    }

    #[test]
    fn recordables_round_trip_by_name() {
        for var in Recordable::ALL {
            assert_eq!(Recordable::from_name(var.name()), Some(var));
        }
        assert_eq!(Recordable::ISic.units(), "pA");
    }

    #[test]
    fn instability_names_the_model() {
        let mut pop = AeifCondAlphaAstro::new(AeifCondAlphaParams::default(), 1, 0.1).unwrap();
        pop.set(Recordable::Neuron(aeif::Recordable::W), 0, 2e6);
        pop.update_counting_spikes(0, 0.0, 0.0, 0.0, 0.0);
        assert_eq!(pop.take_instability().map(|e| e.model), Some("aeif_cond_alpha_astro"));
    }
}
