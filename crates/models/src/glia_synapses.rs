//! Synapse models of the neuron–astrocyte attention circuits: `astro_normalized_synapse`,
//! `tsodyks_astro_synapse`, `hebbian_synapse` and `hebbian_astro_synapse`.
//!
//! Like the models of [`crate::synapses`], each keeps the state of the synapses of one projection
//! onto one shard as struct-of-arrays and runs only when a presynaptic spike is transmitted (see
//! `laminar_engine::synapse`). Times are in ms; weights have the unit of the target receptor.
//!
//! # Astrocyte domains
//! The two astrocyte models give every postsynaptic neuron one *astrocyte domain* per projection:
//! the domain ensheaths the synapses of that projection onto that neuron (all of them, and only
//! them), and its state is kept per target neuron. Two projections onto the same neuron have two
//! independent domains. A domain's state is brought up to date, exactly, whenever one of its
//! synapses transmits; the time it was last updated never moves backwards (spikes of one step from
//! precise-timing sources, delivered in gid order, count as simultaneous).
//!
//! # `astro_normalized_synapse`: divisive normalisation by an astrocyte domain
//! Each synapse j is a *process* of the domain with a process weight `g_j` (dimensionless, or the
//! weight's unit with `g_mode = "weight"`). The domain's slow calcium-like state `A` is the sum of
//! the processes, each a leaky integral of its presynaptic spike train:
//! ```text
//! dA/dt = −A/τ_astro + Σ_j g_j · Σ_spikes δ(t − t_j^spike)
//! ```
//! integrated event-driven: at a spike through synapse j at time t,
//! ```text
//! A ← A·exp(−(t − t_last)/τ_astro) + g_j,     t_last ← t
//! ```
//! and the synapse transmits `w_j / (ε + A)` with `A` taken *after* the spike's own jump (the
//! spike is part of the activity it is normalised by, as a softmax term is part of its
//! denominator; it also keeps the transmitted weight ≤ w_j / (ε + g_j)). For stationary Poisson
//! inputs of rates r_j, `⟨A⟩ = τ_astro Σ_j g_j r_j`, so the postsynaptic drive (summed weight per
//! unit time) follows
//! ```text
//! Σ_j w_j r_j / (ε + τ_astro Σ_j g_j r_j)
//! ```
//! up to fluctuation terms of relative order g_j/(ε + ⟨A⟩) (the own jump) and Var A / (ε + ⟨A⟩)²
//! (Jensen), both small once τ_astro Σ r ≫ 1. `laminar normalization` measures this
//! (`laminar_attention::normalization`).
//!
//! Parameters: `tau_astro` (ms, default 1000: astrocytic Ca²⁺ signals last from hundreds of ms to
//! tens of seconds, Bazargani & Attwell 2016), `epsilon` (> 0, the unit of A; default 1, so a
//! quiet domain transmits w), `g` (≥ 0, default 1) and `g_mode`: `"constant"` (g_j = g) or
//! `"weight"` (g_j = g·|w_j|, so drawn weights give drawn process weights), `A` (initial state,
//! ≥ 0). *Presynaptic neuron→astrocyte plasticity* (the write phase of Kozachkov et al. 2023):
//! with `eta_g > 0`, inside the projection's learning windows every presynaptic spike raises the
//! process weight after its transmission, `g_j ← min(g_max, g_j + η_g)`; outside them `g_j` is
//! frozen. `g_max` (> 0, default 10) bounds it. The synapse's *weight* (what a weight recording
//! reports) is w_j, which this model never changes.
//!
//! # `tsodyks_astro_synapse`: tripartite synapse with gliotransmission
//! NEST's `tsodyks_synapse` release (see [`crate::synapses`]; same code, same parameters `U`,
//! `tau_rec`, `tau_fac`, `tau_psc`, `x`, `y`, `u`) whose baseline release probability is shifted
//! by the fraction Γ of presynaptic receptors bound by gliotransmitter (De Pittà et al. 2011, as
//! in the Brian 2 neuron–glia models of Stimberg et al. 2019):
//! ```text
//! U₀*(Γ) = (1 − Γ)·U + α·Γ          (α > U: release-increasing, α < U: release-decreasing)
//! ```
//! used in place of `U` at the spike (`u ← u + U₀*·(1 − u)`, `Δy = u·x`). The domain's astrocyte:
//! ```text
//! dC/dt   = −C/τ_Ca + Ca_per_release · Σ_syn Σ_spikes Δy·δ(t − t_spike)   Ca-like state (µM above rest)
//! dx_A/dt = (1 − x_A)/τ_A                                              gliotransmitter resources
//! dG_A/dt = −G_A/τ_e                                                   extracellular gliotransmitter (µM)
//! dΓ/dt   = O_G·G_A·(1 − Γ) − Γ/τ_G                                     bound presynaptic receptors
//! ```
//! and when `C` crosses `C_Theta` upwards it releases gliotransmitter (Stimberg et al.'s
//! threshold/reset, refractory while C stays above threshold):
//! `G_A ← G_A + ρ_e·G_T·U_A·x_A`, `x_A ← x_A − U_A·x_A`. The glutamate-driven IP₃/Ca²⁺ dynamics of
//! the G-ChI astrocyte (De Pittà et al. 2009) are reduced to the leaky integrator C of the
//! released resources Δy: C rises with the synaptic release of the domain and relaxes over
//! seconds. Because C only jumps up at releases and decays in between, an upward crossing can only
//! happen at a transmission, so the event-driven update catches every one.
//!
//! At a spike through synapse j onto domain i, Δ = t − t_last(i): (1) the domain advances exactly,
//! except for the coupling of binding and unbinding, which is split (binding first):
//! `Φ = O_G·G_A·τ_e·(1 − e^{−Δ/τ_e})`, `Γ ← 1 − (1 − Γ)·e^{−Φ}`, `Γ ← Γ·e^{−Δ/τ_G}`,
//! `G_A ← G_A·e^{−Δ/τ_e}`, `x_A ← 1 − (1 − x_A)·e^{−Δ/τ_A}`, `C ← C·e^{−Δ/τ_Ca}` (the splitting
//! error is of relative order τ_e/τ_G ≈ 1.4·10⁻⁴); (2) the synapse releases with U₀*(Γ), Γ as it
//! is before this spike's effect on the astrocyte; (3) `C ← C + Ca_per_release·Δy`; (4) an upward
//! crossing of C_Theta releases gliotransmitter, which binds over the next ~τ_e.
//!
//! Parameters and defaults (Stimberg et al. 2019, the model of their Fig. 3; rates converted to
//! time constants in ms, concentrations in µM): `alpha` 0 (in [0, 1]), `O_G` 1.5 µM⁻¹s⁻¹ =
//! 1.5·10⁻³ µM⁻¹ms⁻¹, `tau_G` = 1/Ω_G = 120 000 ms, `tau_e` = 1/Ω_e = 1000/60 ms, `U_A` 0.6,
//! `tau_A` = 1/Ω_A = 1000/0.6 ms, `rho_e` 6.5·10⁻⁴, `G_T` 200 mM = 2·10⁵ µM, `C_Theta` 0.5 µM. The
//! reduced astrocyte's own: `tau_Ca` 2000 ms and `Ca_per_release` 0.05 µM per unit of released
//! resources (a domain of ten synapses at 20 Hz crosses threshold within a second), `Ca` and
//! `Gamma` (initial C and Γ, default 0). One release with full resources binds Γ = 1 − e^{−1.95}
//! = 0.86 of the receptors, which then unbind over τ_G = 2 min. The Γ of a domain is shared by
//! its synapses (all see the same G_A and start from the same Γ, as in Stimberg et al.).
//!
//! # `hebbian_synapse`: Hebbian write rule
//! The weight follows the product of a presynaptic trace x_pre (jump 1 per presynaptic spike,
//! time constant τ₊ = `tau_plus`) and the postsynaptic trace x_post (NEST's K⁻, time constant τ₋ =
//! `tau_minus`):
//! ```text
//! dw/dt = η · x_pre(t) · x_post(t),    Wmin ≤ w ≤ Wmax
//! ```
//! The integral of that product is a sum over spike pairs: a pair at distance Δ > 0 contributes
//! `η·τ_c·exp(−Δ/τ₊)` if the presynaptic spike came first and `η·τ_c·exp(−Δ/τ₋)` if the
//! postsynaptic one did, τ_c = τ₊τ₋/(τ₊ + τ₋) — a symmetric pair-based rule. Since the engine runs
//! synapse models only at presynaptic spikes, both halves are applied there (with dendritic delay
//! d, through the same code as `stdp_synapse`): first, for every postsynaptic spike t_k in
//! (t_last − d, t − d] (a pre-before-post pair completed since the last presynaptic spike)
//! `w ← clamp(w + η·τ_c·K⁺·exp((t_last − (t_k + d))/τ₊), Wmin, Wmax)`; then, for the
//! postsynaptic spikes before t − d, `w ← clamp(w + η·τ_c·K⁻(t − d), Wmin, Wmax)` (all increments
//! have the sign of η, so bounding each equals bounding their sum); the new w is transmitted and
//! `K⁺ ← K⁺·exp((t_last − t)/τ₊) + 1`. A pair at the same (delay-shifted) time is not counted,
//! as in NEST's `stdp_synapse`. For independent Poisson trains the mean drift is
//! `⟨dw/dt⟩ = η·⟨x_pre⟩⟨x_post⟩ = η·τ₊·τ₋·r_pre·r_post`. `eta` has the weight's unit per ms (it
//! may be negative: anti-Hebbian). Outside the learning windows the traces go on and w is frozen.
//! Defaults: `eta` 0.01, `tau_plus` = `tau_minus` = 20 ms, `Wmin` 0, `Wmax` 100. The initial
//! weights must lie in [Wmin, Wmax].
//!
//! # `hebbian_astro_synapse`: the tripartite memory synapse of the neuron–astrocyte transformer
//! The synapse of Kozachkov et al.'s write/read circuit in one model: its weight w_j follows the
//! Hebbian rule of `hebbian_synapse` (parameters `eta`, `tau_plus`, `tau_minus`, `Wmin`, `Wmax`),
//! and it is a process of an astrocyte domain per target neuron as in `astro_normalized_synapse`
//! (`tau_astro`, `epsilon`, `g`, `eta_g`, `g_max`, `A`; process weights start at `g` and grow
//! by `eta_g` per presynaptic spike inside the learning windows). It transmits
//! ```text
//! λ · w_j / (ε + A)        λ = learning_transmission inside learning windows, 1 outside
//! ```
//! At a presynaptic spike: the weight takes the pairs completed since the last spike (as
//! `hebbian_synapse`), the domain takes the spike (`A ← A·exp(−Δt/τ_astro) + g_j`), the synapse
//! transmits, then the process weight grows if learning. In a write phase (learning windows,
//! λ = 0: the encode/retrieve switch) the weights store Σ_t x_pre x_post and the processes Σ_t of
//! the presynaptic spikes, without the synapse driving its target, so the target's activity is
//! its teacher's; in the read phase (frozen) the target's drive is Σ_j w_j r_j / (ε + τ_astro
//! Σ_j g_j r_j), kernel attention's normalised sum (see `astro_normalized_synapse`). `A_clamp`
//! (≥ 0, unset by default) replaces A in the denominator by a constant: the control without the
//! astrocyte's division. Defaults as the two models, `learning_transmission` 1.
//!
//! References: Kozachkov L, Kastanenka KV, Krotov D (2023) Building transformers from neurons and
//! astrocytes. PNAS 120:e2219150120. Carandini M, Heeger DJ (2012) Normalization as a canonical
//! neural computation. Nat Rev Neurosci 13:51. Bazargani N, Attwell D (2016) Astrocyte calcium
//! signaling: the third wave. Nat Neurosci 19:182. De Pittà M, Volman V, Berry H, Ben-Jacob E
//! (2011) A tale of two stories: astrocyte regulation of synaptic depression and facilitation.
//! PLoS Comput Biol 7:e1002293. De Pittà M, Goldberg M, Volman V, Berry H, Ben-Jacob E (2009)
//! Glutamate regulation of calcium and IP3 oscillating and pulsating dynamics in astrocytes.
//! J Biol Phys 35:383. Stimberg M, Goodman DFM, Brette R, De Pittà M (2019) Modeling neuron–glia
//! interactions with the Brian 2 simulator. In: Computational Glioscience, Springer, 471–505
//! (bioRxiv 198366; code in Brian 2's `examples/frompapers/Stimberg_et_al_2018`).

use laminar_engine::{StateError, StateIo, SynapseDynamics, SynapseFactory, Transmission};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::params::{ParamError, Validate, finite, less_than, non_negative, positive};
use crate::synapses::{PairTraces, TsodyksParams, tsodyks_release};

/// The time each astrocyte domain (one per target neuron of the shard) was last brought up to date.
#[derive(Debug, Clone)]
struct DomainClock {
    t_last: Vec<f64>,
}

impl DomainClock {
    fn new(domains: usize) -> Self {
        Self { t_last: vec![0.0; domains] }
    }

    /// Moves domain `i` to time `t` and returns the time elapsed (≥ 0).
    #[inline]
    fn advance(&mut self, i: usize, t: f64) -> f64 {
        let dt = t - self.t_last[i];
        if dt > 0.0 {
            self.t_last[i] = t;
            dt
        } else {
            0.0
        }
    }

    /// Saves or restores each domain's last update time (per target neuron).
    fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        io.neurons("domain_t_last", &mut self.t_last)
    }
}

// ---------------------------------------------------------------- astro_normalized_synapse

/// How the process weights g_j of `astro_normalized_synapse` are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessWeight {
    /// g_j = g.
    Constant,
    /// g_j = g·|w_j|.
    Weight,
}

/// Parameters of `astro_normalized_synapse`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AstroNormalizedParams {
    /// Time constant of the domain's calcium-like state A (ms).
    pub tau_astro: f64,
    /// The constant of the denominator ε + A (the unit of A), > 0.
    pub epsilon: f64,
    /// Process weight (or its factor on |w| with `g_mode = "weight"`).
    pub g: f64,
    pub g_mode: ProcessWeight,
    /// Growth of the process weight per presynaptic spike in learning windows (0: none).
    pub eta_g: f64,
    /// Upper bound of the process weights.
    pub g_max: f64,
    /// Initial state of every domain.
    #[serde(rename = "A")]
    pub a: f64,
}

impl Default for AstroNormalizedParams {
    fn default() -> Self {
        Self {
            tau_astro: 1000.0,
            epsilon: 1.0,
            g: 1.0,
            g_mode: ProcessWeight::Constant,
            eta_g: 0.0,
            g_max: 10.0,
            a: 0.0,
        }
    }
}

impl Validate for AstroNormalizedParams {
    fn validate(&self) -> Result<(), ParamError> {
        positive("tau_astro", self.tau_astro, "ms")?;
        positive("epsilon", self.epsilon, "")?;
        non_negative("g", self.g, "")?;
        non_negative("eta_g", self.eta_g, "")?;
        positive("g_max", self.g_max, "")?;
        non_negative("A", self.a, "")?;
        if self.g_mode == ProcessWeight::Constant && self.g > self.g_max {
            return Err(ParamError::new("g", self.g, &format!("must be <= g_max ({})", self.g_max)));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct AstroNormalizedFactory {
    pub params: AstroNormalizedParams,
}

impl AstroNormalizedFactory {
    /// The state of a group (what [`SynapseFactory::build`] boxes), for direct inspection.
    pub fn build_group(&self, weights: Vec<f64>, shard_len: usize) -> Result<AstroNormalized, String> {
        let p = &self.params;
        let g: Vec<f64> = match p.g_mode {
            ProcessWeight::Constant => vec![p.g; weights.len()],
            ProcessWeight::Weight => weights.iter().map(|w| p.g * w.abs()).collect(),
        };
        if let Some(gj) = g.iter().find(|&&gj| gj > p.g_max) {
            return Err(format!("astro_normalized_synapse: process weight g·|w| = {gj} exceeds g_max = {}", p.g_max));
        }
        Ok(AstroNormalized {
            params: p.clone(),
            weight: weights,
            g,
            a: vec![p.a; shard_len],
            clock: DomainClock::new(shard_len),
        })
    }
}

impl SynapseFactory for AstroNormalizedFactory {
    fn name(&self) -> &str {
        "astro_normalized_synapse"
    }

    fn build(&self, weights: Vec<f64>, _: &[u32], shard_len: usize) -> Result<Box<dyn SynapseDynamics>, String> {
        Ok(Box::new(self.build_group(weights, shard_len)?))
    }
}

/// The state of a group of `astro_normalized_synapse`s: per synapse w_j and g_j, per target
/// neuron the domain state A.
#[derive(Debug, Clone)]
pub struct AstroNormalized {
    params: AstroNormalizedParams,
    weight: Vec<f64>,
    g: Vec<f64>,
    a: Vec<f64>,
    clock: DomainClock,
}

impl AstroNormalized {
    /// The domain state A of target `i` (local index) as of its last update.
    pub fn domain_state(&self, i: usize) -> f64 {
        self.a[i]
    }

    /// The process weight g_j of synapse `j`.
    pub fn process_weight(&self, j: usize) -> f64 {
        self.g[j]
    }
}

impl SynapseDynamics for AstroNormalized {
    fn transmit(&mut self, tx: &Transmission<'_>, weights: &mut [f64]) {
        let p = &self.params;
        let grow = tx.learning && p.eta_g > 0.0;
        for (k, j) in tx.synapses.clone().enumerate() {
            let i = tx.targets[j] as usize;
            let dt = self.clock.advance(i, tx.t_spike);
            let a = self.a[i] * (-dt / p.tau_astro).exp() + self.g[j];
            self.a[i] = a;
            weights[k] = self.weight[j] / (p.epsilon + a);
            if grow {
                self.g[j] = (self.g[j] + p.eta_g).min(p.g_max);
            }
        }
    }

    fn weight(&self, j: usize) -> f64 {
        self.weight[j]
    }

    fn bytes_per_synapse(&self) -> usize {
        2 * 8
    }

    /// Saves per synapse the process weight g_j (it grows with `eta_g`), per target neuron the
    /// domain state A and its last update time; the weights w_j never change.
    fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        io.synapses("g", &mut self.g)?;
        io.neurons("A", &mut self.a)?;
        self.clock.state(io)
    }
}

// ---------------------------------------------------------------- tsodyks_astro_synapse

/// The astrocyte and gliotransmission parameters of `tsodyks_astro_synapse` (the release
/// parameters are [`TsodyksParams`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GliotransmissionParams {
    /// Release probability with all presynaptic receptors bound (De Pittà et al.'s α), in [0, 1].
    pub alpha: f64,
    /// Decay time constant of the domain's Ca-like state (ms).
    #[serde(rename = "tau_Ca")]
    pub tau_ca: f64,
    /// Jump of the Ca-like state per unit of released resources (µM).
    #[serde(rename = "Ca_per_release")]
    pub ca_per_release: f64,
    /// Ca threshold of gliotransmitter exocytosis (µM).
    #[serde(rename = "C_Theta")]
    pub c_theta: f64,
    /// Fraction of the available gliotransmitter released per event.
    #[serde(rename = "U_A")]
    pub u_a: f64,
    /// Recovery time constant of the gliotransmitter resources (ms), 1/Ω_A.
    #[serde(rename = "tau_A")]
    pub tau_a: f64,
    /// Astrocytic vesicle-to-extracellular volume ratio.
    pub rho_e: f64,
    /// Total vesicular gliotransmitter concentration (µM).
    #[serde(rename = "G_T")]
    pub g_t: f64,
    /// Clearance time constant of extracellular gliotransmitter (ms), 1/Ω_e.
    pub tau_e: f64,
    /// Binding rate of gliotransmitter to presynaptic receptors (1/(µM·ms)).
    #[serde(rename = "O_G")]
    pub o_g: f64,
    /// Unbinding time constant of the presynaptic receptors (ms), 1/Ω_G.
    #[serde(rename = "tau_G")]
    pub tau_g: f64,
    /// Initial Ca-like state (µM) and bound fraction of every domain.
    #[serde(rename = "Ca")]
    pub ca: f64,
    #[serde(rename = "Gamma")]
    pub gamma: f64,
}

impl Default for GliotransmissionParams {
    fn default() -> Self {
        Self {
            alpha: 0.0,
            tau_ca: 2000.0,
            ca_per_release: 0.05,
            c_theta: 0.5,
            u_a: 0.6,
            tau_a: 1000.0 / 0.6,
            rho_e: 6.5e-4,
            g_t: 200_000.0,
            tau_e: 1000.0 / 60.0,
            o_g: 1.5e-3,
            tau_g: 120_000.0,
            ca: 0.0,
            gamma: 0.0,
        }
    }
}

impl Validate for GliotransmissionParams {
    fn validate(&self) -> Result<(), ParamError> {
        for (name, v) in [("alpha", self.alpha), ("U_A", self.u_a), ("Gamma", self.gamma)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(ParamError::new(name, v, "must be in [0, 1]"));
            }
        }
        positive("tau_Ca", self.tau_ca, "ms")?;
        non_negative("Ca_per_release", self.ca_per_release, "uM")?;
        positive("C_Theta", self.c_theta, "uM")?;
        positive("tau_A", self.tau_a, "ms")?;
        non_negative("rho_e", self.rho_e, "")?;
        non_negative("G_T", self.g_t, "uM")?;
        positive("tau_e", self.tau_e, "ms")?;
        non_negative("O_G", self.o_g, "1/(uM ms)")?;
        positive("tau_G", self.tau_g, "ms")?;
        non_negative("Ca", self.ca, "uM")
    }
}

/// The parameter names of `tsodyks_synapse`, which `tsodyks_astro_synapse` takes as well.
const TSODYKS_KEYS: [&str; 7] = ["U", "tau_rec", "tau_fac", "tau_psc", "x", "y", "u"];

#[derive(Debug, Clone)]
pub struct TsodyksAstroFactory {
    pub release: TsodyksParams,
    pub glia: GliotransmissionParams,
}

impl TsodyksAstroFactory {
    /// Parses and validates the parameters (the `tsodyks_synapse` ones and the astrocyte's, in
    /// one object); unknown names are reported with every accepted name, as serde does.
    pub fn from_json(params: &Map<String, Value>) -> Result<Self, String> {
        let (release, glia): (Map<String, Value>, Map<String, Value>) =
            params.clone().into_iter().partition(|(k, _)| TSODYKS_KEYS.contains(&k.as_str()));
        let release: TsodyksParams = serde_json::from_value(Value::Object(release)).map_err(|e| e.to_string())?;
        let glia: GliotransmissionParams = serde_json::from_value(Value::Object(glia)).map_err(|e| {
            let message = e.to_string();
            match message.strip_prefix("unknown field `").and_then(|m| m.split('`').next()) {
                Some(name) => {
                    let glia_keys = message.split('`').skip(3).step_by(2);
                    let all: Vec<String> =
                        TSODYKS_KEYS.iter().map(|k| k.to_string()).chain(glia_keys.map(str::to_string)).collect();
                    let listed: Vec<String> = all.iter().map(|k| format!("`{k}`")).collect();
                    format!("unknown field `{name}`, expected one of {}", listed.join(", "))
                }
                None => message,
            }
        })?;
        release.validate().map_err(|e| e.to_string())?;
        glia.validate().map_err(|e| e.to_string())?;
        Ok(Self { release, glia })
    }

    /// The state of a group (what [`SynapseFactory::build`] boxes), for direct inspection.
    pub fn build_group(&self, weights: Vec<f64>, shard_len: usize) -> TsodyksAstro {
        let n = weights.len();
        let (r, g) = (&self.release, &self.glia);
        TsodyksAstro {
            release: r.clone(),
            glia: g.clone(),
            weight: weights,
            x: vec![r.x; n],
            y: vec![r.y; n],
            u: vec![r.u; n],
            t_last: vec![0.0; n],
            ca: vec![g.ca; shard_len],
            x_a: vec![1.0; shard_len],
            g_a: vec![0.0; shard_len],
            gamma: vec![g.gamma; shard_len],
            releases: vec![0; shard_len],
            clock: DomainClock::new(shard_len),
        }
    }
}

impl SynapseFactory for TsodyksAstroFactory {
    fn name(&self) -> &str {
        "tsodyks_astro_synapse"
    }

    fn build(&self, weights: Vec<f64>, _: &[u32], shard_len: usize) -> Result<Box<dyn SynapseDynamics>, String> {
        Ok(Box::new(self.build_group(weights, shard_len)))
    }
}

/// The state of a group of `tsodyks_astro_synapse`s: Tsodyks–Markram state per synapse, the
/// astrocyte domain (C, x_A, G_A, Γ) per target neuron.
#[derive(Debug, Clone)]
pub struct TsodyksAstro {
    release: TsodyksParams,
    glia: GliotransmissionParams,
    weight: Vec<f64>,
    x: Vec<f64>,
    y: Vec<f64>,
    u: Vec<f64>,
    t_last: Vec<f64>,
    ca: Vec<f64>,
    x_a: Vec<f64>,
    g_a: Vec<f64>,
    gamma: Vec<f64>,
    releases: Vec<u64>,
    clock: DomainClock,
}

/// The state of one astrocyte domain as of its last update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DomainState {
    /// Ca-like state (µM above rest).
    pub ca: f64,
    /// Available gliotransmitter resources.
    pub x_a: f64,
    /// Extracellular gliotransmitter (µM).
    pub g_a: f64,
    /// Fraction of bound presynaptic receptors.
    pub gamma: f64,
    /// Gliotransmitter release events so far.
    pub releases: u64,
}

impl TsodyksAstro {
    /// The astrocyte domain of target `i` (local index).
    pub fn domain(&self, i: usize) -> DomainState {
        DomainState {
            ca: self.ca[i],
            x_a: self.x_a[i],
            g_a: self.g_a[i],
            gamma: self.gamma[i],
            releases: self.releases[i],
        }
    }

    /// Brings domain `i` to time `t` (step 1 of the module documentation).
    #[inline]
    fn advance_domain(&mut self, i: usize, t: f64) {
        let g = &self.glia;
        let dt = self.clock.advance(i, t);
        if dt == 0.0 {
            return;
        }
        let decay_e = (-dt / g.tau_e).exp();
        let bound = g.o_g * self.g_a[i] * g.tau_e * (1.0 - decay_e);
        self.gamma[i] = (1.0 - (1.0 - self.gamma[i]) * (-bound).exp()) * (-dt / g.tau_g).exp();
        self.g_a[i] *= decay_e;
        self.x_a[i] = 1.0 - (1.0 - self.x_a[i]) * (-dt / g.tau_a).exp();
        self.ca[i] *= (-dt / g.tau_ca).exp();
    }
}

impl SynapseDynamics for TsodyksAstro {
    fn transmit(&mut self, tx: &Transmission<'_>, weights: &mut [f64]) {
        for (k, j) in tx.synapses.clone().enumerate() {
            let i = tx.targets[j] as usize;
            self.advance_domain(i, tx.t_spike);
            let gamma = self.gamma[i];
            let u0 = (1.0 - gamma) * self.release.u_increment + self.glia.alpha * gamma;
            let dt = tx.t_spike - self.t_last[j];
            let released = tsodyks_release(&self.release, u0, dt, &mut self.x[j], &mut self.y[j], &mut self.u[j]);
            weights[k] = released * self.weight[j];
            self.t_last[j] = tx.t_spike;
            let g = &self.glia;
            let before = self.ca[i];
            self.ca[i] += g.ca_per_release * released;
            if before < g.c_theta && self.ca[i] >= g.c_theta {
                self.g_a[i] += g.rho_e * g.g_t * g.u_a * self.x_a[i];
                self.x_a[i] -= g.u_a * self.x_a[i];
                self.releases[i] += 1;
            }
        }
    }

    fn weight(&self, j: usize) -> f64 {
        self.weight[j]
    }

    fn bytes_per_synapse(&self) -> usize {
        5 * 8
    }

    /// Saves per synapse the release state `x`, `y`, `u` and the last spike's time; per target
    /// neuron the domain's C, x_A, G_A, Γ, release count and last update time. The weights never
    /// change.
    fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        io.synapses("x", &mut self.x)?;
        io.synapses("y", &mut self.y)?;
        io.synapses("u", &mut self.u)?;
        io.synapses("t_last", &mut self.t_last)?;
        io.neurons("Ca", &mut self.ca)?;
        io.neurons("x_A", &mut self.x_a)?;
        io.neurons("G_A", &mut self.g_a)?;
        io.neurons("Gamma", &mut self.gamma)?;
        io.neurons("releases", &mut self.releases)?;
        self.clock.state(io)
    }
}

// ---------------------------------------------------------------- hebbian_synapse

/// Parameters of `hebbian_synapse`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HebbianParams {
    /// Learning rate η of dw/dt = η·x_pre·x_post (the weight's unit per ms; < 0: anti-Hebbian).
    pub eta: f64,
    /// Time constant of the presynaptic trace (ms).
    pub tau_plus: f64,
    /// Time constant of the postsynaptic trace K⁻ (ms); shared by the spike-timing projections
    /// onto a population.
    pub tau_minus: f64,
    #[serde(rename = "Wmin")]
    pub w_min: f64,
    #[serde(rename = "Wmax")]
    pub w_max: f64,
}

impl Default for HebbianParams {
    fn default() -> Self {
        Self { eta: 0.01, tau_plus: 20.0, tau_minus: 20.0, w_min: 0.0, w_max: 100.0 }
    }
}

impl Validate for HebbianParams {
    fn validate(&self) -> Result<(), ParamError> {
        finite("eta", self.eta, "weight unit per ms")?;
        positive("tau_plus", self.tau_plus, "ms")?;
        positive("tau_minus", self.tau_minus, "ms")?;
        finite("Wmin", self.w_min, "weight unit")?;
        finite("Wmax", self.w_max, "weight unit")?;
        less_than("Wmin", self.w_min, "Wmax", self.w_max)
    }
}

impl HebbianParams {
    /// The amplitude of one spike pair, η·τ_c with τ_c = τ₊τ₋/(τ₊ + τ₋).
    pub(crate) fn pair_amplitude(&self) -> f64 {
        self.eta * self.tau_plus * self.tau_minus / (self.tau_plus + self.tau_minus)
    }

    /// Refuses initial weights outside [Wmin, Wmax], naming the synapse model.
    pub(crate) fn check_weights(&self, model: &str, weights: &[f64]) -> Result<(), String> {
        match weights.iter().find(|&&w| !(self.w_min..=self.w_max).contains(&w)) {
            Some(w) => {
                Err(format!("{model}: weight {w} must lie between Wmin = {} and Wmax = {}", self.w_min, self.w_max))
            }
            None => Ok(()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct HebbianFactory {
    pub params: HebbianParams,
}

impl SynapseFactory for HebbianFactory {
    fn name(&self) -> &str {
        "hebbian_synapse"
    }

    fn post_history(&self) -> Option<f64> {
        Some(self.params.tau_minus)
    }

    fn build(&self, weights: Vec<f64>, _: &[u32], _: usize) -> Result<Box<dyn SynapseDynamics>, String> {
        let p = &self.params;
        p.check_weights("hebbian_synapse", &weights)?;
        Ok(Box::new(Hebbian { params: p.clone(), pair: p.pair_amplitude(), traces: PairTraces::new(weights) }))
    }
}

/// The state of a group of `hebbian_synapse`s.
#[derive(Debug, Clone)]
pub struct Hebbian {
    params: HebbianParams,
    /// The amplitude of one spike pair, η·τ_c.
    pair: f64,
    traces: PairTraces,
}

impl SynapseDynamics for Hebbian {
    fn transmit(&mut self, tx: &Transmission<'_>, weights: &mut [f64]) {
        let (p, pair) = (&self.params, self.pair);
        // Every pair adds η·τ_c times the other side's trace; as all increments have the sign of
        // η, bounding after each one equals bounding the sum.
        let add = |w: f64, trace: f64| (w + pair * trace).clamp(p.w_min, p.w_max);
        self.traces.transmit(tx, weights, p.tau_plus, add, add, "hebbian_synapse");
    }

    fn weight(&self, j: usize) -> f64 {
        self.traces.weight[j]
    }

    fn oldest_needed(&self, delays_ms: &[f64]) -> f64 {
        self.traces.oldest_needed(delays_ms)
    }

    fn bytes_per_synapse(&self) -> usize {
        3 * 8
    }

    /// Saves per synapse the weight, the presynaptic trace K⁺ and the last spike's time (the
    /// postsynaptic history is the engine's).
    fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        self.traces.state(io)
    }
}

// ---------------------------------------------------------------- hebbian_astro_synapse

/// Parameters of `hebbian_astro_synapse`: the Hebbian weight rule of `hebbian_synapse`, the
/// astrocyte domain of `astro_normalized_synapse` with presynaptic process plasticity, and the
/// encode/retrieve switch.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HebbianAstroParams {
    /// Learning rate η of dw/dt = η·x_pre·x_post (weight unit per ms).
    pub eta: f64,
    pub tau_plus: f64,
    pub tau_minus: f64,
    #[serde(rename = "Wmin")]
    pub w_min: f64,
    #[serde(rename = "Wmax")]
    pub w_max: f64,
    /// Time constant of the domain state A (ms).
    pub tau_astro: f64,
    /// The constant of the denominator ε + A, > 0.
    pub epsilon: f64,
    /// Initial process weight of every synapse.
    pub g: f64,
    /// Growth of the process weight per presynaptic spike in learning windows.
    pub eta_g: f64,
    pub g_max: f64,
    /// Initial domain state.
    #[serde(rename = "A")]
    pub a: f64,
    /// Factor on the transmitted weight inside learning windows (0: the encode/retrieve switch
    /// of Kozachkov et al.: the synapse learns without driving its target).
    pub learning_transmission: f64,
    /// When set, the denominator uses this constant instead of the domain state (the
    /// `no_astrocyte` control: the domain still integrates, but does not divide).
    #[serde(rename = "A_clamp")]
    pub a_clamp: Option<f64>,
}

impl Default for HebbianAstroParams {
    fn default() -> Self {
        let (h, a) = (HebbianParams::default(), AstroNormalizedParams::default());
        Self {
            eta: h.eta,
            tau_plus: h.tau_plus,
            tau_minus: h.tau_minus,
            w_min: h.w_min,
            w_max: h.w_max,
            tau_astro: a.tau_astro,
            epsilon: a.epsilon,
            g: a.g,
            eta_g: a.eta_g,
            g_max: a.g_max,
            a: a.a,
            learning_transmission: 1.0,
            a_clamp: None,
        }
    }
}

impl HebbianAstroParams {
    /// The parameters of the weight's rule, as `hebbian_synapse` has them.
    fn hebbian(&self) -> HebbianParams {
        HebbianParams {
            eta: self.eta,
            tau_plus: self.tau_plus,
            tau_minus: self.tau_minus,
            w_min: self.w_min,
            w_max: self.w_max,
        }
    }
}

impl Validate for HebbianAstroParams {
    fn validate(&self) -> Result<(), ParamError> {
        self.hebbian().validate()?;
        AstroNormalizedParams {
            tau_astro: self.tau_astro,
            epsilon: self.epsilon,
            g: self.g,
            g_mode: ProcessWeight::Constant,
            eta_g: self.eta_g,
            g_max: self.g_max,
            a: self.a,
        }
        .validate()?;
        if !(0.0..=1.0).contains(&self.learning_transmission) {
            return Err(ParamError::new("learning_transmission", self.learning_transmission, "must be in [0, 1]"));
        }
        if let Some(c) = self.a_clamp {
            non_negative("A_clamp", c, "")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct HebbianAstroFactory {
    pub params: HebbianAstroParams,
}

impl SynapseFactory for HebbianAstroFactory {
    fn name(&self) -> &str {
        "hebbian_astro_synapse"
    }

    fn post_history(&self) -> Option<f64> {
        Some(self.params.tau_minus)
    }

    fn build(&self, weights: Vec<f64>, _: &[u32], shard_len: usize) -> Result<Box<dyn SynapseDynamics>, String> {
        let p = &self.params;
        let rule = p.hebbian();
        rule.check_weights("hebbian_astro_synapse", &weights)?;
        let n = weights.len();
        Ok(Box::new(HebbianAstro {
            params: p.clone(),
            pair: rule.pair_amplitude(),
            traces: PairTraces::new(weights),
            g: vec![p.g; n],
            a: vec![p.a; shard_len],
            clock: DomainClock::new(shard_len),
        }))
    }
}

/// The state of a group of `hebbian_astro_synapse`s: per synapse the weight, its traces and the
/// process weight g_j; per target neuron the domain state A.
#[derive(Debug, Clone)]
pub struct HebbianAstro {
    params: HebbianAstroParams,
    pair: f64,
    traces: PairTraces,
    g: Vec<f64>,
    a: Vec<f64>,
    clock: DomainClock,
}

impl SynapseDynamics for HebbianAstro {
    fn transmit(&mut self, tx: &Transmission<'_>, weights: &mut [f64]) {
        let (p, pair) = (&self.params, self.pair);
        // The weight first (pairs completed since the last spike, as `hebbian_synapse`), ...
        let add = |w: f64, trace: f64| (w + pair * trace).clamp(p.w_min, p.w_max);
        self.traces.transmit(tx, weights, p.tau_plus, add, add, "hebbian_astro_synapse");
        let factor = if tx.learning { p.learning_transmission } else { 1.0 };
        let grow = tx.learning && p.eta_g > 0.0;
        for (k, j) in tx.synapses.clone().enumerate() {
            // ... then the domain takes the spike, divides, and the process learns.
            let i = tx.targets[j] as usize;
            let dt = self.clock.advance(i, tx.t_spike);
            let a = self.a[i] * (-dt / p.tau_astro).exp() + self.g[j];
            self.a[i] = a;
            let denominator = p.epsilon + p.a_clamp.unwrap_or(a);
            weights[k] = factor * weights[k] / denominator;
            if grow {
                self.g[j] = (self.g[j] + p.eta_g).min(p.g_max);
            }
        }
    }

    fn weight(&self, j: usize) -> f64 {
        self.traces.weight[j]
    }

    fn oldest_needed(&self, delays_ms: &[f64]) -> f64 {
        self.traces.oldest_needed(delays_ms)
    }

    fn bytes_per_synapse(&self) -> usize {
        4 * 8
    }

    /// Saves per synapse the weight, K⁺, the last spike's time and the process weight g_j; per
    /// target neuron the domain state A and its last update time.
    fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        self.traces.state(io)?;
        io.synapses("g", &mut self.g)?;
        io.neurons("A", &mut self.a)?;
        self.clock.state(io)
    }
}
