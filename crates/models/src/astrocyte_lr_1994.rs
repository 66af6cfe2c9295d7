//! `astrocyte_lr_1994`: NEST's astrocyte model, the Li–Rinzel (1994) reduction of the
//! De Young–Keizer IP3-receptor model of cytosolic calcium, with the synaptic input and the slow
//! inward current (SIC) output of Nadkarni & Jung (2003).
//!
//! # Equations (units: µM, ms; `h_IP3R` dimensionless)
//! ```text
//! dIP3/dt    = (IP3_0 − IP3) / tau_IP3
//! dCa/dt     = J_channel − J_pump + J_leak + J_noise
//! dh_IP3R/dt = α_h (1 − h_IP3R) − β_h h_IP3R
//!
//! c          = min(max(Ca, 0), Ca_tot)                    (calcium kept within its limits)
//! c_ER       = (Ca_tot − c) / ratio_ER_cyt                (ER calcium)
//! m_∞        = IP3 / (IP3 + Kd_IP3_1),   n_∞ = c / (c + Kd_act)
//! J_channel  = ratio_ER_cyt · rate_IP3R · m_∞³ · n_∞³ · h_IP3R³ · (c_ER − c)
//! J_pump     = rate_SERCA · c² / (Km_SERCA² + c²)
//! J_leak     = ratio_ER_cyt · rate_L · (c_ER − c)
//! α_h        = k_IP3R · Kd_inh · (IP3 + Kd_IP3_1) / (IP3 + Kd_IP3_2),   β_h = k_IP3R · c
//! ```
//! `J_noise` is the injected current (the engine's current channel; NEST's `CurrentEvent`s),
//! taken as a calcium flux in µM/ms. Every spike of weight w (dimensionless, ≥ 0) arriving on the
//! `ip3` receptor raises IP3 by `delta_IP3 · w` µM.
//!
//! The SIC the astrocyte sends (pA, before the connection weight) is
//! `SIC_scale · ln(y)` if `y = (Ca − SIC_th) · 1000 > 1` (calcium above threshold, in nM), else 0.
//!
//! # Integration scheme
//! GSL's adaptive Runge–Kutta–Fehlberg 4(5) with the standard control
//! `gsl_odeiv_control_y_new(1e-3, 0)`: absolute tolerance 10⁻³ µM on every component, no
//! relative part, errors weighed against the values (NEST hard-codes these, unlike the AdEx
//! models' `gsl_error_tol`). Evolve calls follow one another until the clock tick is covered; the
//! sub-step suggestion is carried over from tick to tick per astrocyte ([`crate::odeint`]). At the
//! default clock the tolerance is so loose that every 0.1-ms step is one RKF45 step.
//!
//! # Update order within step k, as in NEST's `astrocyte_lr_1994::update`
//! 1. Integrate the ODEs over the step with the injected current `J_noise` of this step.
//! 2. Clamp `Ca` to `[0, Ca_tot]`.
//! 3. Add the spike input delivered in this step: `IP3 += delta_IP3 · Σw`.
//! 4. Compute the SIC from the new `Ca` and emit it as this step's graded value. The engine
//!    delivers the value emitted in step k, times the `sic_connection` weight, into the target's
//!    `SIC` receptor slot for step k + d; [`crate::aeif_cond_alpha_astro`] reads it at the end of
//!    that step, so it acts on the membrane during step k + d + 1 (NEST: the astrocyte sends the
//!    SIC values of a whole min-delay slice as one secondary event, delivered at the start of the
//!    next slice into the ring-buffer position `d − min_delay + lag` of the new slice, i.e. step
//!    k + d, which the neuron reads as `B_.I_sic_` after its step k + d).
//!
//! # Coarse astrocyte clock (laminar extension, parameter `clock_ms`)
//! Calcium dynamics are slow (time constants of seconds), so astrocytes may tick on a coarser
//! clock than the neurons: `clock_ms` (default: the resolution h) must be a whole multiple n of
//! h. Ticks end with the steps k for which (k + 1) is a multiple of n (aligned to the global step
//! count, so recordings every n·h see freshly integrated states). At the end of a tick the
//! astrocyte integrates over n·h with the tick's mean injected current, then clamps `Ca`, adds
//! the spike input summed over the tick's n steps (`IP3 += delta_IP3 · Σw`) and computes the
//! SIC. Between ticks the state (as recorded) and the SIC output hold the values of the last
//! tick end; before the first tick the SIC is that of the initial state. With n = 1 this is
//! exactly NEST's model. The cost is roughly 1/n of the per-step model.
//!
//! What a coarser clock changes, measured on the NEST parity case (`tests/kernel_astrocyte.rs`:
//! 2 s, 140 input spikes, SIC through a 1-ms `sic_connection` to an `aeif_cond_alpha_astro`),
//! as max |error| / range of each trace against NEST's, recorded every 1 ms:
//!
//! | clock | Ca_astro | IP3 | h_IP3R | I_SIC | V_m |
//! | --- | --- | --- | --- | --- | --- |
//! | 0.1 ms (= h, NEST's model) | 2.1e-16 | 1.8e-16 | 0 | 2.6e-16 | 7.2e-14 |
//! | 0.5 ms (n = 5) | 2.3e-4 | 2.6e-5 | 1.7e-4 | 1.2e-2 | 7.9e-3 |
//! | 1.0 ms (n = 10) | 5.3e-4 | 5.9e-5 | 3.9e-4 | 2.9e-2 | 1.8e-2 |
//!
//! The astrocyte's own state stays within NEST's parity tolerance (1e-3 of the range). The SIC
//! path lags by about (n − 1)·h: spike input waits for the end of its tick and the output is
//! held through the next one. Its largest error (0.08 pA at 0.5 ms, 0.20 pA at 1 ms, in a range
//! of 6.7 pA) sits at the SIC onset, where `ln(Ca − SIC_th)` is steep; V_m's is 1.6e-3 and
//! 3.5e-3 mV. With the SIC weight raised 200-fold so that the neuron fires (70 spikes), every
//! spike survives and comes later by 0.3–0.4 ms (0.5-ms clock) or 0.8–0.9 ms (1-ms clock), less
//! than one tick; shortening the `sic_connection` delay by (n − 1)·h compensates the lag
//! (remaining shifts −0.1 to 0 ms at both clocks).
//!
//! # References
//! - NEST 3.10, `models/astrocyte_lr_1994.{h,cpp}`, `models/sic_connection.h` (the authority on
//!   equations, defaults and order).
//! - Li Y-X & Rinzel J (1994), Equations for InsP3 receptor-mediated [Ca2+]i oscillations derived
//!   from a detailed kinetic model: a Hodgkin–Huxley like formalism, J Theor Biol 166:461–473,
//!   doi:10.1006/jtbi.1994.1041.
//! - De Young GW & Keizer J (1992), A single-pool inositol 1,4,5-trisphosphate-receptor-based
//!   model for agonist-stimulated oscillations in Ca2+ concentration, PNAS 89:9895–9899,
//!   doi:10.1073/pnas.89.20.9895.
//! - Nadkarni S & Jung P (2003), Spontaneous oscillations of dressed neurons: a new mechanism for
//!   epilepsy?, Phys Rev Lett 91:268101, doi:10.1103/PhysRevLett.91.268101.
//! - GSL, `ode-initval/rkf45.c`, `cstd.c`, `evolve.c` (the integrator).

use laminar_engine::{StateError, StateIo};
use serde::{Deserialize, Serialize};

use crate::odeint::{Rkf45, StandardControl};
use crate::params::{ParamError, Validate, finite, non_negative, positive};

/// Indices into the integrated state vector (NEST's `State_::StateVecElems` order).
const IP3: usize = 0;
const CA: usize = 1;
const H_IP3R: usize = 2;
const STATE_SIZE: usize = 3;

/// NEST's fixed tolerances of the astrocyte's step-size control (absolute µM, relative).
const EPS_ABS: f64 = 1e-3;
const EPS_REL: f64 = 0.0;

/// Relative tolerance for `clock_ms` being a whole multiple of the resolution.
const CLOCK_GRID_TOLERANCE: f64 = 1e-9;

/// Parameters of an `astrocyte_lr_1994` population, with NEST's names, units and defaults
/// (Nadkarni & Jung 2003).
///
/// `IP3`, `Ca_astro` and `h_IP3R` are the initial state, which NEST accepts in the same
/// dictionary; as in NEST the initial `IP3` defaults to 0.16 µM (the default `IP3_0`) and does
/// not follow a changed `IP3_0`. `clock_ms` is laminar's coarse astrocyte clock (see the module
/// documentation); it is not a NEST parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AstrocyteLr1994Params {
    /// Total free calcium concentration in terms of cytosolic volume (µM).
    #[serde(rename = "Ca_tot")]
    pub ca_tot: f64,
    /// Baseline IP3 concentration (µM).
    #[serde(rename = "IP3_0")]
    pub ip3_0: f64,
    /// First IP3R dissociation constant of IP3 (µM).
    #[serde(rename = "Kd_IP3_1")]
    pub kd_ip3_1: f64,
    /// Second IP3R dissociation constant of IP3 (µM).
    #[serde(rename = "Kd_IP3_2")]
    pub kd_ip3_2: f64,
    /// IP3R dissociation constant of calcium, activation (µM).
    #[serde(rename = "Kd_act")]
    pub kd_act: f64,
    /// IP3R dissociation constant of calcium, inhibition (µM).
    #[serde(rename = "Kd_inh")]
    pub kd_inh: f64,
    /// Half-activation constant of the SERCA pump (µM).
    #[serde(rename = "Km_SERCA")]
    pub km_serca: f64,
    /// Scale of the SIC output (dimensionless; the SIC is in pA).
    #[serde(rename = "SIC_scale")]
    pub sic_scale: f64,
    /// Calcium threshold of the SIC (µM).
    #[serde(rename = "SIC_th")]
    pub sic_th: f64,
    /// IP3 increase per unit of spike weight (µM).
    #[serde(rename = "delta_IP3")]
    pub delta_ip3: f64,
    /// IP3R binding constant for calcium inhibition (1/(µM·ms)).
    #[serde(rename = "k_IP3R")]
    pub k_ip3r: f64,
    /// Maximum rate of calcium release via IP3R (1/ms).
    #[serde(rename = "rate_IP3R")]
    pub rate_ip3r: f64,
    /// Rate constant of the calcium leak from the ER (1/ms).
    #[serde(rename = "rate_L")]
    pub rate_l: f64,
    /// Maximum rate of calcium uptake by the SERCA pump (µM/ms).
    #[serde(rename = "rate_SERCA")]
    pub rate_serca: f64,
    /// Ratio of ER to cytosol volume (dimensionless).
    #[serde(rename = "ratio_ER_cyt")]
    pub ratio_er_cyt: f64,
    /// Time constant of IP3's decay to baseline (ms).
    #[serde(rename = "tau_IP3")]
    pub tau_ip3: f64,
    /// Initial IP3 concentration (µM).
    #[serde(rename = "IP3")]
    pub initial_ip3: f64,
    /// Initial cytosolic calcium concentration (µM).
    #[serde(rename = "Ca_astro")]
    pub initial_ca: f64,
    /// Initial fraction of IP3 receptors not inactivated by calcium.
    #[serde(rename = "h_IP3R")]
    pub initial_h_ip3r: f64,
    /// The astrocyte's clock tick (ms), a whole multiple of the resolution; `None` (the default)
    /// ticks every step, as NEST does.
    #[serde(rename = "clock_ms")]
    pub clock_ms: Option<f64>,
}

impl Default for AstrocyteLr1994Params {
    /// NEST 3.10's defaults (`astrocyte_lr_1994::Parameters_()` and `State_(Parameters_)`).
    fn default() -> Self {
        Self {
            ca_tot: 2.0,
            ip3_0: 0.16,
            kd_ip3_1: 0.13,
            kd_ip3_2: 0.9434,
            kd_act: 0.08234,
            kd_inh: 1.049,
            km_serca: 0.1,
            sic_scale: 1.0,
            sic_th: 0.19669,
            delta_ip3: 0.0002,
            k_ip3r: 0.0002,
            rate_ip3r: 0.006,
            rate_l: 0.00011,
            rate_serca: 0.0009,
            ratio_er_cyt: 0.185,
            tau_ip3: 7142.0,
            initial_ip3: 0.16,
            initial_ca: 0.073,
            initial_h_ip3r: 0.793,
            clock_ms: None,
        }
    }
}

impl Validate for AstrocyteLr1994Params {
    /// NEST's checks (positive `Ca_tot`, `Kd_act`, `Kd_IP3_1`, `Kd_IP3_2`, `Km_SERCA`,
    /// `ratio_ER_cyt`, `SIC_scale`, `tau_IP3`; the other parameters ≥ 0; initial `IP3`,
    /// `Ca_astro` ≥ 0 and `h_IP3R` in [0, 1]), plus finiteness everywhere and a positive
    /// `clock_ms` (whether it is a multiple of the resolution is checked when the population is
    /// built).
    fn validate(&self) -> Result<(), ParamError> {
        positive("Ca_tot", self.ca_tot, "uM")?;
        non_negative("IP3_0", self.ip3_0, "uM")?;
        positive("Kd_IP3_1", self.kd_ip3_1, "uM")?;
        positive("Kd_IP3_2", self.kd_ip3_2, "uM")?;
        positive("Kd_act", self.kd_act, "uM")?;
        non_negative("Kd_inh", self.kd_inh, "uM")?;
        positive("Km_SERCA", self.km_serca, "uM")?;
        positive("SIC_scale", self.sic_scale, "")?;
        non_negative("SIC_th", self.sic_th, "uM")?;
        non_negative("delta_IP3", self.delta_ip3, "uM")?;
        non_negative("k_IP3R", self.k_ip3r, "1/(uM*ms)")?;
        non_negative("rate_IP3R", self.rate_ip3r, "1/ms")?;
        non_negative("rate_L", self.rate_l, "1/ms")?;
        non_negative("rate_SERCA", self.rate_serca, "uM/ms")?;
        positive("ratio_ER_cyt", self.ratio_er_cyt, "")?;
        positive("tau_IP3", self.tau_ip3, "ms")?;
        non_negative("IP3", self.initial_ip3, "uM")?;
        non_negative("Ca_astro", self.initial_ca, "uM")?;
        check_h_ip3r(self.initial_h_ip3r)?;
        if let Some(clock) = self.clock_ms {
            positive("clock_ms", clock, "ms")?;
        }
        Ok(())
    }
}

fn check_h_ip3r(value: f64) -> Result<(), ParamError> {
    if (0.0..=1.0).contains(&value) { Ok(()) } else { Err(ParamError::new("h_IP3R", value, "must be between 0 and 1")) }
}

recordables! {
    "astrocyte_lr_1994":
    /// Cytosolic calcium concentration `Ca_astro` (µM).
    Ca = ("Ca_astro", "uM"),
    /// IP3 concentration `IP3` (µM).
    Ip3 = ("IP3", "uM"),
    /// Fraction of IP3 receptors not inactivated by calcium, `h_IP3R` (dimensionless).
    HIp3r = ("h_IP3R", "1"),
}

/// A population of `astrocyte_lr_1994` astrocytes sharing one parameter set (struct of arrays).
#[derive(Debug, Clone)]
pub struct AstrocyteLr1994 {
    params: AstrocyteLr1994Params,
    solver: Rkf45,
    /// Simulation step h (ms).
    h_ms: f64,
    /// Steps per clock tick, n = clock_ms / h.
    steps_per_tick: u64,
    /// Length of a tick, n·h (ms).
    tick_ms: f64,
    ip3: Vec<f64>,
    ca: Vec<f64>,
    h_ip3r: Vec<f64>,
    /// Sub-step size the integrator suggested last (NEST's `B_.IntegrationStep_`, ms).
    integration_step: Vec<f64>,
    /// Spike weights delivered since the last tick.
    pending_weight: Vec<f64>,
    /// Injected current summed over the steps since the last tick (µM/ms · steps).
    pending_current: Vec<f64>,
    /// SIC (pA, before connection weights) computed at the last tick end.
    sic: Vec<f64>,
}

impl AstrocyteLr1994 {
    /// `n` astrocytes in the initial state of `params`, simulated with step `h_ms`; an error if a
    /// parameter is invalid or `clock_ms` is not a whole multiple of `h_ms`.
    pub fn new(params: AstrocyteLr1994Params, n: usize, h_ms: f64) -> Result<Self, ParamError> {
        params.validate()?;
        positive("resolution", h_ms, "ms")?;
        let steps_per_tick = match params.clock_ms {
            None => 1,
            Some(clock) => {
                let steps = (clock / h_ms).round();
                if steps < 1.0 || (steps * h_ms - clock).abs() > CLOCK_GRID_TOLERANCE * clock {
                    return Err(ParamError::new(
                        "clock_ms",
                        clock,
                        &format!("must be a whole multiple of the resolution ({h_ms} ms)"),
                    ));
                }
                steps as u64
            }
        };
        let tick_ms = steps_per_tick as f64 * h_ms;
        let initial_sic = sic_of(&params, params.initial_ca);
        Ok(Self {
            solver: Rkf45::new(StandardControl::y(EPS_ABS, EPS_REL)),
            h_ms,
            steps_per_tick,
            tick_ms,
            ip3: vec![params.initial_ip3; n],
            ca: vec![params.initial_ca; n],
            h_ip3r: vec![params.initial_h_ip3r; n],
            // NEST starts the integrator's suggestion at the integration interval.
            integration_step: vec![tick_ms; n],
            pending_weight: vec![0.0; n],
            pending_current: vec![0.0; n],
            sic: vec![initial_sic; n],
            params,
        })
    }

    /// Whether a clock tick ends with step `step` (always, at the default clock).
    #[inline]
    pub fn tick_ends_with(&self, step: u64) -> bool {
        (step + 1).is_multiple_of(self.steps_per_tick)
    }

    /// Advances astrocyte `i` by step number `step` and returns the SIC it emits in this step
    /// (pA, before connection weights).
    ///
    /// - `spike_weight`: summed weights of the spikes delivered in this step (≥ 0; NEST rejects
    ///   negative weights onto astrocytes);
    /// - `j_noise`: injected current acting during this step, a calcium flux (µM/ms).
    ///
    /// At the default clock every step is integrated (see the module documentation for the
    /// order); on a coarse clock the input is collected and integrated when the tick ends.
    pub fn update(&mut self, i: usize, step: u64, spike_weight: f64, j_noise: f64) -> f64 {
        debug_assert!(spike_weight >= 0.0, "astrocyte input weights are non-negative");
        self.pending_weight[i] += spike_weight;
        self.pending_current[i] += j_noise;
        if self.tick_ends_with(step) {
            self.tick(i);
        }
        self.sic[i]
    }

    /// Integrates astrocyte `i` over one tick, applies the collected input and computes the SIC.
    fn tick(&mut self, i: usize) {
        let p = &self.params;
        // Exact for one step per tick: x / 1 == x.
        let j_noise = self.pending_current[i] / self.steps_per_tick as f64;
        let mut y = [0.0; STATE_SIZE];
        y[IP3] = self.ip3[i];
        y[CA] = self.ca[i];
        y[H_IP3R] = self.h_ip3r[i];
        let mut rhs = |_t: f64, y: &[f64; STATE_SIZE], dydt: &mut [f64; STATE_SIZE]| derivatives(p, j_noise, y, dydt);
        self.solver.integrate(&mut rhs, self.tick_ms, &mut self.integration_step[i], &mut y);

        y[CA] = y[CA].min(p.ca_tot).max(0.0);
        y[IP3] += p.delta_ip3 * self.pending_weight[i];

        self.ip3[i] = y[IP3];
        self.ca[i] = y[CA];
        self.h_ip3r[i] = y[H_IP3R];
        self.sic[i] = sic_of(p, y[CA]);
        self.pending_weight[i] = 0.0;
        self.pending_current[i] = 0.0;
    }

    /// Saves or restores the astrocytes' state for a checkpoint: IP3, calcium, `h_IP3R`, the
    /// integrator's suggested sub-step (kept from tick to tick, as NEST does), the spike weights
    /// and injected current collected since the last tick (a coarse clock's tick may straddle the
    /// checkpoint) and the SIC held since the last tick end. The tick phase follows from the
    /// global step, which the engine saves.
    pub fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        io.neurons("ip3", &mut self.ip3)?;
        io.neurons("ca", &mut self.ca)?;
        io.neurons("h_ip3r", &mut self.h_ip3r)?;
        io.neurons("integration_step", &mut self.integration_step)?;
        io.neurons("pending_weight", &mut self.pending_weight)?;
        io.neurons("pending_current", &mut self.pending_current)?;
        io.neurons("sic", &mut self.sic)
    }

    /// The SIC astrocyte `i` emits now (pA, before connection weights): that of its last tick.
    pub fn sic(&self, i: usize) -> f64 {
        self.sic[i]
    }

    /// Number of astrocytes.
    pub fn len(&self) -> usize {
        self.ca.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ca.is_empty()
    }

    pub fn params(&self) -> &AstrocyteLr1994Params {
        &self.params
    }

    /// Simulation step h (ms).
    pub fn h_ms(&self) -> f64 {
        self.h_ms
    }

    /// Steps per clock tick (`clock_ms / h`, 1 by default).
    pub fn steps_per_tick(&self) -> u64 {
        self.steps_per_tick
    }

    /// Value of `var` for astrocyte `i` (as of the last tick end).
    pub fn get(&self, var: Recordable, i: usize) -> f64 {
        self.values(var)[i]
    }

    /// Values of `var` for all astrocytes.
    pub fn values(&self, var: Recordable) -> &[f64] {
        match var {
            Recordable::Ca => &self.ca,
            Recordable::Ip3 => &self.ip3,
            Recordable::HIp3r => &self.h_ip3r,
        }
    }

    /// Sets the state variable `var` of astrocyte `i` (e.g. a per-astrocyte initial value),
    /// checked as NEST checks it (`IP3`, `Ca_astro` ≥ 0, `h_IP3R` in [0, 1]).
    pub fn set(&mut self, var: Recordable, i: usize, value: f64) -> Result<(), ParamError> {
        match var {
            Recordable::Ca => {
                non_negative("Ca_astro", value, "uM")?;
                self.ca[i] = value;
                self.sic[i] = sic_of(&self.params, value);
            }
            Recordable::Ip3 => {
                non_negative("IP3", value, "uM")?;
                self.ip3[i] = value;
            }
            Recordable::HIp3r => {
                finite("h_IP3R", value, "")?;
                check_h_ip3r(value)?;
                self.h_ip3r[i] = value;
            }
        }
        Ok(())
    }
}

/// The SIC for calcium `ca` (Nadkarni & Jung 2003): `SIC_scale · ln((Ca − SIC_th)/nM)` above
/// 1 nM over threshold, else 0.
#[inline]
fn sic_of(p: &AstrocyteLr1994Params, ca: f64) -> f64 {
    let above_nm = (ca - p.sic_th) * 1000.0;
    if above_nm > 1.0 { above_nm.ln() * p.sic_scale } else { 0.0 }
}

/// The right-hand side, term for term and in NEST's order of operations
/// (`astrocyte_lr_1994_dynamics`). Cubes use `powf` (the C library's `pow`, as NEST's
/// `std::pow(x, 3)`); squares are products, as compilers fold `std::pow(x, 2)`.
#[inline]
fn derivatives(p: &AstrocyteLr1994Params, j_noise: f64, y: &[f64; STATE_SIZE], dydt: &mut [f64; STATE_SIZE]) {
    let ip3 = y[IP3];
    let h = y[H_IP3R];
    let ca = y[CA].min(p.ca_tot).max(0.0);

    let alpha_h = p.k_ip3r * p.kd_inh * (ip3 + p.kd_ip3_1) / (ip3 + p.kd_ip3_2);
    let beta_h = p.k_ip3r * ca;
    let j_pump = p.rate_serca * (ca * ca) / (p.km_serca * p.km_serca + ca * ca);
    let m_inf = ip3 / (ip3 + p.kd_ip3_1);
    let n_inf = ca / (ca + p.kd_act);
    let ca_er = (p.ca_tot - ca) / p.ratio_er_cyt;
    let j_leak = p.ratio_er_cyt * p.rate_l * (ca_er - ca);
    let j_channel = p.ratio_er_cyt * p.rate_ip3r * m_inf.powf(3.0) * n_inf.powf(3.0) * h.powf(3.0) * (ca_er - ca);

    dydt[IP3] = (p.ip3_0 - ip3) / p.tau_ip3;
    dydt[CA] = j_channel - j_pump + j_leak + j_noise;
    dydt[H_IP3R] = alpha_h * (1.0 - h) - beta_h * h;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_invalid_parameters() {
        let bad = AstrocyteLr1994Params { ca_tot: 0.0, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().field, "Ca_tot");
        let bad = AstrocyteLr1994Params { initial_h_ip3r: 1.5, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().field, "h_IP3R");
        let bad = AstrocyteLr1994Params { clock_ms: Some(0.25), ..Default::default() };
        assert_eq!(AstrocyteLr1994::new(bad, 1, 0.1).unwrap_err().field, "clock_ms");
        let ok = AstrocyteLr1994Params { clock_ms: Some(1.0), ..Default::default() };
        assert_eq!(AstrocyteLr1994::new(ok, 1, 0.1).unwrap().steps_per_tick(), 10);
    }

    #[test]
    fn reads_nest_names_and_rejects_unknown_ones() {
        let p: AstrocyteLr1994Params =
            serde_json::from_str(r#"{"delta_IP3": 0.5, "Ca_astro": 0.1, "clock_ms": 1.0}"#).unwrap();
        assert_eq!((p.delta_ip3, p.initial_ca, p.clock_ms), (0.5, 0.1, Some(1.0)));
        assert_eq!(p.tau_ip3, 7142.0);
        assert!(serde_json::from_str::<AstrocyteLr1994Params>(r#"{"tau_m": 10.0}"#).is_err());
    }

    /// Without input IP3 stays at its baseline, and a spike raises it by delta_IP3 · w at the
    /// end of the step it is delivered in.
    #[test]
    fn spike_input_raises_ip3() {
        let mut a = AstrocyteLr1994::new(AstrocyteLr1994Params::default(), 1, 0.1).unwrap();
        a.update(0, 0, 0.0, 0.0);
        assert_eq!(a.get(Recordable::Ip3, 0), 0.16);
        a.update(0, 1, 2.0, 0.0);
        assert!((a.get(Recordable::Ip3, 0) - (0.16 + 0.0004)).abs() < 1e-15);
    }

    /// Calcium above SIC_th + 1 nM gives SIC_scale · ln(excess in nM); below, nothing.
    #[test]
    fn sic_follows_calcium_above_threshold() {
        let p = AstrocyteLr1994Params { sic_scale: 2.0, ..Default::default() };
        assert_eq!(sic_of(&p, 0.19669), 0.0);
        assert_eq!(sic_of(&p, 0.19669 + 0.0009), 0.0);
        assert!((sic_of(&p, 0.19669 + 0.010) - 2.0 * 10f64.ln()).abs() < 1e-9);
    }

    /// Injected current feeds calcium directly.
    #[test]
    fn injected_current_raises_calcium() {
        let mut a = AstrocyteLr1994::new(AstrocyteLr1994Params::default(), 2, 0.1).unwrap();
        for k in 0..10 {
            a.update(0, k, 0.0, 0.0);
            a.update(1, k, 0.0, 0.01);
        }
        let raised = a.get(Recordable::Ca, 1) - a.get(Recordable::Ca, 0);
        assert!((raised - 0.01).abs() < 1e-4, "Ca raised by {raised}");
    }

    /// On a coarse clock the state holds between ticks, and the input of a whole tick is
    /// applied at its end.
    #[test]
    fn coarse_clock_ticks_and_holds() {
        let params = AstrocyteLr1994Params { clock_ms: Some(0.5), ..Default::default() };
        let mut a = AstrocyteLr1994::new(params, 1, 0.1).unwrap();
        for k in 0..4 {
            a.update(0, k, if k == 1 { 1.0 } else { 0.0 }, 0.0);
            assert_eq!(a.get(Recordable::Ca, 0), 0.073);
            assert_eq!(a.get(Recordable::Ip3, 0), 0.16);
        }
        a.update(0, 4, 1.0, 0.0);
        assert!(a.get(Recordable::Ca, 0) < 0.073);
        assert!((a.get(Recordable::Ip3, 0) - (0.16 + 0.0004)).abs() < 1e-15);
    }

    #[test]
    fn recordables_round_trip_by_name() {
        for var in Recordable::ALL {
            assert_eq!(Recordable::from_name(var.name()), Some(var));
        }
        let mut a = AstrocyteLr1994::new(AstrocyteLr1994Params::default(), 1, 0.1).unwrap();
        a.set(Recordable::Ca, 0, 0.5).unwrap();
        assert!(a.sic(0) > 0.0);
        assert!(a.set(Recordable::HIp3r, 0, -0.1).is_err());
        assert!(a.set(Recordable::Ip3, 0, f64::NAN).is_err());
    }
}
