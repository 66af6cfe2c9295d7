//! `cm_default`: NEST's compartmental neuron (Wybo et al. 2021): a user-defined tree of
//! passive compartments with optional Hodgkin–Huxley Na and K channels and double-exponential
//! AMPA, GABA, NMDA and AMPA+NMDA receptors, integrated with NEST's Crank–Nicolson step and a
//! Hines solve over the tree.
//!
//! # Units
//! Voltages mV, time ms, capacitance nF, conductances uS, currents nA (uS·mV). Synaptic weights
//! are in uS (a weight is the peak conductance of one event), injected currents in nA.
//!
//! # Parameters (a JSON object; model files write the same structure in TOML)
//! ```json
//! { "V_th": -55.0,
//!   "compartments": [
//!     { "parent": -1, "name": "soma",
//!       "params": { "C_m": 10.0, "g_C": 0.0, "g_L": 1.0, "e_L": -70.0 } },
//!     { "parent": "soma", "name": "apical",
//!       "params": { "C_m": 2.0, "g_C": 0.15, "g_L": 0.1, "e_L": -70.0, "v_comp": -70.0,
//!                   "gbar_Na": 0.0, "e_Na": 50.0, "gbar_K": 0.0, "e_K": -85.0 } } ],
//!   "receptors": [
//!     { "compartment": 0, "type": "AMPA", "name": "soma_AMPA",
//!       "params": { "e_AMPA": 0.0, "tau_r_AMPA": 0.2, "tau_d_AMPA": 3.0 } },
//!     { "compartment": "apical", "type": "AMPA_NMDA", "params": { "NMDA_ratio": 2.0 } } ] }
//! ```
//! - `V_th` (mV, default −55): spike threshold of the root compartment.
//! - `compartments` (required, in index order): `parent` is −1 for the root, which must come
//!   first, and otherwise the index or name of an *earlier* compartment; `name` defaults to
//!   `soma` for the root and `comp<i>` otherwise. `params` (all optional, NEST's names and
//!   defaults): `C_m` 1 nF, `g_C` 0.01 uS (coupling to the parent; ignored for the root), `g_L`
//!   0.1 uS, `e_L` −70 mV, `v_comp` −70 mV (initial voltage), `gbar_Na` 0 uS, `e_Na` 50 mV,
//!   `gbar_K` 0 uS, `e_K` −85 mV.
//! - `receptors` (optional, in receptor-index order = the engine's receptor channels):
//!   `compartment` (index or name), `type` (`AMPA`, `GABA`, `NMDA`, `AMPA_NMDA`), `name`
//!   (default `<compartment name>_<type>`, e.g. `soma_AMPA`, `comp1_AMPA_NMDA`; names must be
//!   unique, so a second receptor of the same type on a compartment needs an explicit name) and
//!   `params`: AMPA `e_AMPA` 0 mV, `tau_r_AMPA` 0.2 ms, `tau_d_AMPA` 3 ms; GABA `e_GABA`
//!   −80 mV, `tau_r_GABA` 0.2 ms, `tau_d_GABA` 10 ms; NMDA `e_NMDA` 0 mV, `tau_r_NMDA` 0.2 ms,
//!   `tau_d_NMDA` 43 ms; AMPA_NMDA `e_AMPA_NMDA` 0 mV, the AMPA and NMDA time constants as
//!   above and `NMDA_ratio` 2.
//!
//! NEST's own keys `parent_idx`, `comp_idx` and `receptor_type` are accepted as aliases, and a
//! single object may stand for a one-element list, so NEST's `compartments`/`receptors`
//! dictionaries can be used as they are. Unknown keys are errors.
//!
//! # Equations
//! For compartment c with parent p and children d:
//! ```text
//! C_m,c dv_c/dt = g_L,c (e_L,c − v_c) + g_C,c (v_p − v_c) + Σ_d g_C,d (v_d − v_c)
//!                 + I_Na,c + I_K,c + Σ_{receptors on c} I_syn + I_inj (root only)
//! I_Na = gbar_Na m³ h (e_Na − v),   I_K = gbar_K n (e_K − v),
//! dx/dt = (x_∞(v) − x)/τ_x(v)  for x ∈ {m, h, n}   (rates in `channels`)
//! AMPA, GABA:  I = g (e − v)
//! NMDA:        I = g σ(v) (e − v),       σ(v) = 1 / (1 + 0.3 e^{−0.1 v})   (Mg block)
//! AMPA_NMDA:   I = (g_AMPA + NMDA_ratio · g_NMDA σ(v)) (e − v)
//! g = g_r + g_d,  dg_r/dt = −g_r/τ_r,  dg_d/dt = −g_d/τ_d;
//! an event of weight w: g_r −= w·N, g_d += w·N,  N = 1/(e^{−t_p/τ_d} − e^{−t_p/τ_r}),
//! t_p = τ_r τ_d/(τ_d − τ_r) ln(τ_d/τ_r)
//! ```
//! so that one event's conductance `w N (e^{−t/τ_d} − e^{−t/τ_r})` peaks at w uS. For
//! AMPA_NMDA one weight drives both conductances, each normalised to its own peak. A spike is
//! emitted whenever the root voltage crosses `V_th` upwards within a step
//! (`v_0(t) < V_th ≤ v_0(t+h)`); there is no reset and no refractoriness.
//!
//! # Numerical scheme (NEST's)
//! Step k advances from t = k·h to t + h:
//! 1. For every compartment (index order) with the voltages v(t):
//!    - channels with `gbar > 1e-9` uS advance their gates exactly for rates frozen at v(t):
//!      `x ← x e^{−h/τ} + (1 − e^{−h/τ}) x_∞`; the channel conductance G then uses the new
//!      gates;
//!    - every receptor decays its conductances by `e^{−h/τ}` and adds the weights delivered in
//!      this step (so an event's conductance is still 0 at the end of its delivery step and
//!      first acts on the voltage one step later);
//!    - each current is linearised at v(t), `I(v) ≈ I(v(t)) + I'(v(t)) (v − v(t))`, and taken at
//!      the step's midpoint (v(t) + v(t+h))/2, like the leak and the coupling currents
//!      (Crank–Nicolson); the injected current acts with its value for this step.
//!
//!    This gives one linear equation per compartment,
//!    ```text
//!    (C/h + g_L/2 + Σ g_C/2 + G_c) v_c(t+h) − Σ_nb g_C/2 v_nb(t+h)
//!        = (C/h − g_L/2) v_c + g_L e_L − Σ_nb g_C/2 (v_c − v_nb) + F_c + I_inj
//!    ```
//!    with `G_c = Σ −I'/2`, `F_c = Σ (I(v) − I' v/2)` over the compartment's channels and
//!    receptors, summed in NEST's order (Na, K, then the receptors grouped by type AMPA, GABA,
//!    NMDA, AMPA_NMDA, each group in receptor-index order).
//! 2. The system is tridiagonal on the tree; it is solved exactly in O(compartments) (Hines):
//!    elimination from the leaves to the root, back-substitution from the root.
//! 3. Spike detection on the root.
//!
//! All neurons of a shard share the tree; every stage is a loop over neurons with the
//! per-compartment constants fixed (no per-neuron dispatch).
//!
//! # Timing and inputs in laminar
//! Weights delivered in step k (a spike sent at t with delay d is delivered in the step ending
//! at t + d) enter the conductances at the start of step k, as NEST reads its ring buffer before
//! solving. Injected current (the engine's current channel: devices send *changes* of current,
//! which the shard accumulates; units nA) goes into the root compartment, as NEST's current
//! input to compartment 0 (`receptor_type` 0 of a `CurrentEvent`), and acts with the value the
//! shard holds for the step. laminar has one current channel per neuron, so currents cannot be
//! injected into other compartments.
//!
//! NEST's point neurons use a current from the step *after* it arrives, NEST's `cm_default` in
//! the step it arrives. The model's description says so (`current_on_arrival`), and laminar's
//! current devices then deliver their changes one step earlier: a `dc_generator` with delay d acts
//! during the steps ending in (start + d − h, stop + d − h], as in NEST (the kernel itself,
//! [`CmDefault::step`], uses whatever current it is given for the step).
//!
//! # Recordables and receptors
//! Receptors are named as above, in receptor-index order. Recordables (NEST's names):
//! `v_comp<c>` (mV) for every compartment, then per compartment `m_Na_<c>`, `h_Na_<c>`,
//! `n_K_<c>` (gates, 1), then per receptor r: `g_r_AMPA_<r>`, `g_d_AMPA_<r>` (uS; likewise
//! `GABA`, `NMDA`) or `g_r_AN_AMPA_<r>`, `g_d_AN_AMPA_<r>`, `g_r_AN_NMDA_<r>`, `g_d_AN_NMDA_<r>`
//! for AMPA_NMDA. `g_r` is the (negative) rising component; the conductance is `g_r + g_d`.
//! Setting an initial `v_comp<c>` also puts that compartment's gates at their steady state for
//! it (NEST initialises the gates from the initial `v_comp`); set gates after voltages.
//!
//! # Differences from NEST 3.10
//! - The initial voltage defaults to −70 mV: NEST's documentation says −75 mV, but NEST's code
//!   (and its output) start every compartment at −70 mV unless `v_comp` is given.
//! - `e_K` is honoured whenever given; NEST reads it only when `e_Na` is given as well.
//! - Parameters are range-checked (NEST checks only the tree).
//! - NEST rejects negative weights when a spike arrives; laminar cannot check weights at
//!   connection time from the model, so a negative weight gives a negative conductance.
//!
//! # References
//! - NEST 3.10, `models/cm_default.{h,cpp}`, `cm_tree.{h,cpp}`, `cm_compartmentcurrents.{h,cpp}`
//!   and the `cm_default` model documentation (the authority on semantics and order).
//! - Wybo WAM, Jordan J, Ellenberger B, Marti Mengual U, Nevian T, Senn W (2021), Data-driven
//!   reduction of dendritic morphologies with preserved dendro-somatic responses, eLife
//!   10:e60936, doi:10.7554/eLife.60936 (NEAT).
//! - Hines M (1984), Efficient computation of branched nerve equations, Int J Biomed Comput
//!   15:69–76.
//! - Mainen ZF, Sejnowski TJ (1996), Nature 382:363–366; channel files from ModelDB 140828
//!   (Branco, Clark & Häusser 2010), `na.mod`, `kv.mod`.

use std::borrow::Cow;

use laminar_engine::{
    BuildContext, DefaultReceptor, InputKind, LocalSpike, ModelError, ModelInfo, NextEventQueue, Population,
    PopulationFactory, Recordable, StateError, StateIo, Step, Update,
};

pub mod channels;
mod kernel;
pub mod params;

pub use kernel::CmDefault;
pub use params::{CmDefaultParams, Compartment, Receptor, ReceptorKind, ReceptorType, RiseDecay};

use crate::params::ParamError;

/// The template description: the receptors and recordables depend on the parameters, so the
/// factory's [`CmDefaultFactory::info`] is the authoritative description.
pub static INFO: ModelInfo = ModelInfo {
    name: "cm_default",
    receptors: Cow::Borrowed(&[]),
    default_receptor: DefaultReceptor::First,
    recordables: Cow::Borrowed(&[]),
    input: InputKind::Summed,
    weight_units: "uS",
    counts_spikes: false,
    source_only: false,
    graded_output: None,
    current_on_arrival: true,
};

/// Receptor names in receptor-index order.
pub fn receptor_names(params: &CmDefaultParams) -> Vec<String> {
    params.receptors.iter().map(|r| r.name.clone()).collect()
}

/// Recordable names and units in the kernel's variable order (see the module documentation).
pub fn recordables(params: &CmDefaultParams) -> Vec<(String, &'static str)> {
    let nc = params.compartments.len();
    let mut out: Vec<(String, &'static str)> = (0..nc).map(|c| (format!("v_comp{c}"), "mV")).collect();
    for c in 0..nc {
        for gate in ["m_Na_", "h_Na_", "n_K_"] {
            out.push((format!("{gate}{c}"), "1"));
        }
    }
    for (r, rec) in params.receptors.iter().enumerate() {
        let parts: &[&str] = match rec.kind.receptor_type() {
            ReceptorType::Ampa => &["AMPA"],
            ReceptorType::Gaba => &["GABA"],
            ReceptorType::Nmda => &["NMDA"],
            ReceptorType::AmpaNmda => &["AN_AMPA", "AN_NMDA"],
        };
        for part in parts {
            out.push((format!("g_r_{part}_{r}"), "uS"));
            out.push((format!("g_d_{part}_{r}"), "uS"));
        }
    }
    out
}

/// The description of a `cm_default` population with `params`.
pub fn model_info(params: &CmDefaultParams) -> ModelInfo {
    ModelInfo {
        receptors: Cow::Owned(receptor_names(params).into_iter().map(Cow::Owned).collect()),
        recordables: Cow::Owned(
            recordables(params).into_iter().map(|(name, units)| Recordable { name: Cow::Owned(name), units }).collect(),
        ),
        ..INFO.clone()
    }
}

/// Builds `cm_default` shards; owns the parameter-dependent [`ModelInfo`].
#[derive(Debug, Clone)]
pub struct CmDefaultFactory {
    params: CmDefaultParams,
    info: ModelInfo,
}

impl CmDefaultFactory {
    pub fn new(params: CmDefaultParams) -> Result<Self, ParamError> {
        crate::params::Validate::validate(&params)?;
        let info = model_info(&params);
        Ok(Self { params, info })
    }

    pub fn params(&self) -> &CmDefaultParams {
        &self.params
    }
}

impl PopulationFactory for CmDefaultFactory {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn build(&self, _: usize, _: u64, len: usize, ctx: &BuildContext) -> Result<Box<dyn Population>, ModelError> {
        let kernel = CmDefault::new(&self.params, len, ctx.resolution.h()).map_err(|e| ModelError(e.to_string()))?;
        Ok(Box::new(CmDefaultShard { kernel, i_root: vec![0.0; len] }))
    }
}

/// A shard of `cm_default` neurons: every neuron every step.
#[derive(Debug)]
pub struct CmDefaultShard {
    kernel: CmDefault,
    /// Current injected into the root compartment (nA), the sum of the changes received.
    i_root: Vec<f64>,
}

impl CmDefaultShard {
    pub fn kernel(&self) -> &CmDefault {
        &self.kernel
    }
}

impl Population for CmDefaultShard {
    fn len(&self) -> usize {
        self.i_root.len()
    }

    fn update(&mut self, u: &mut Update<'_>) {
        for (i, d) in self.i_root.iter_mut().zip(u.input.current_change()) {
            *i += d;
        }
        let input = &u.input;
        let spikes = &mut *u.spikes;
        self.kernel.step(
            |r| input.receptor(r),
            &self.i_root,
            |i| spikes.push(LocalSpike { local: i as u32, offset: 0.0 }),
        );
    }

    /// The neurons ([`CmDefault::state`]) and the current injected into the root.
    fn state(&mut self, io: &mut StateIo, _queue: &mut NextEventQueue) -> Result<(), StateError> {
        self.kernel.state(io)?;
        io.neurons("i_root", &mut self.i_root)
    }

    fn sample(&self, variable: usize, i: usize, _: Step) -> f64 {
        self.kernel.get(variable, i)
    }

    fn set_state(&mut self, variable: usize, i: usize, value: f64) -> Result<(), String> {
        if !value.is_finite() {
            return Err(format!("{value} is not a finite number"));
        }
        if variable >= self.kernel.variables() {
            return Err(format!("cm_default has no state variable {variable}"));
        }
        self.kernel.set(variable, i, value);
        Ok(())
    }
}
