//! `pyramidal_bac`: a two-compartment pyramidal neuron with an active apical dendrite —
//! back-propagation-activated calcium-spike (BAC) firing. laminar's own model (not NEST's),
//! following Naud & Sprekeler (2018).
//!
//! A somatic compartment (soma with the basal/perisomatic tree) is an adaptive leaky
//! integrate-and-fire unit; an apical compartment (the distal tuft and its calcium/NMDA zone) has a
//! sigmoidal regenerative current, the *plateau*. The compartments are coupled both ways: the
//! plateau drives the soma, and every somatic spike sends a brief depolarising back-propagating
//! action potential (bAP) into the dendrite. Apical input alone barely reaches the soma; somatic
//! input alone gives single spikes; when the two coincide, the bAP lifts the already depolarised
//! dendrite over the plateau threshold and the plateau turns the single spike into a burst
//! (Larkum, Zhu & Sakmann 1999; Larkum 2013). This is the mechanism by which an apical
//! ("query", top-down) input gates a somatic ("value", bottom-up) drive: see
//! `laminar gating` for the measured criterion.
//!
//! # Equations (units: mV, ms, pF, pA, nS)
//! The equations and default values are those of Naud & Sprekeler (2018), *Methods*, two-
//! compartment pyramidal-neuron model and its parameter table, written with `R·I = τ·I/C`:
//! ```text
//! dV_m/dt = −(V_m − E_L)/tau_m + (g_s·f(V_d) + w_s + I_syn_soma + I_syn_basal + I_e + I_stim)/C_m
//! dw_s/dt = −w_s/tau_w_s                          (+ b_s at every somatic spike)
//! dV_d/dt = −(V_d − E_L)/tau_d + (g_d·f(V_d) + w_d + bAP_amplitude·K(t − t̂) + I_syn_apical + I_e_apical)/C_d
//! dw_d/dt = (−w_d + a_d·(V_d − E_L))/tau_w_d
//! f(V)    = 1/(1 + exp(−(V − E_d)/D_d))           (the plateau activation, 0…1)
//! K(s)    = 1 for bAP_delay ≤ s < bAP_delay + bAP_duration, else 0   (t̂: the last somatic spike)
//! dI_syn_x/dt = −I_syn_x/tau_syn_x                (+ w at every spike arriving on receptor x)
//! ```
//! A somatic spike is emitted when `V_m ≥ V_th`; then `V_m ← V_reset`, `w_s ← w_s + b_s`, and
//! `V_m` is held at `V_reset` for `t_ref` (the dendrite keeps evolving). Adaptation signs follow
//! the paper: `b_s < 0` and `a_d < 0` are *hyperpolarising* (they enter the voltage equations
//! with a plus sign). Note the paper's coupling is through the plateau only (`g_s·f(V_d)`): there
//! is no passive `(V_d − V_m)` term, so subthreshold apical input reaches the soma only through
//! the foot of the sigmoid (`f(−70 mV) ≈ 0.5 %`, ≈ 6 pA).
//!
//! | parameter | default | unit | symbol in the model's literature, meaning |
//! |---|---|---|---|
//! | `E_L` | −70 | mV | E_L, resting potential of both compartments |
//! | `C_m`, `tau_m` | 370, 16 | pF, ms | C_s, τ_s: somatic capacitance, time constant |
//! | `V_th`, `V_reset`, `t_ref` | −50, −70, 3 | mV, mV, ms | threshold, reset (E_L), refractory period |
//! | `b_s`, `tau_w_s` | −200, 100 | pA, ms | b_ws, τ_ws: spike-triggered somatic adaptation |
//! | `g_s` | 1300 | pA | g_s: plateau → soma coupling |
//! | `C_d`, `tau_d` | 170, 7 | pF, ms | C_d, τ_d: dendritic capacitance, time constant |
//! | `a_d`, `tau_w_d` | −13, 30 | nS, ms | a_wd, τ_wd: subthreshold dendritic adaptation |
//! | `g_d` | 1200 | pA | g_d: regenerative (Ca²⁺/NMDA) plateau current |
//! | `E_d`, `D_d` | −38, 6 | mV, mV | E_d, D_d: half-activation and slope of the plateau |
//! | `bAP_amplitude` | 2600 | pA | c_d: back-propagating AP current into the dendrite |
//! | `bAP_delay`, `bAP_duration` | 0.5, 2 | ms | onset after the spike and length of the kernel K |
//! | `tau_syn_soma`, `tau_syn_basal`, `tau_syn_apical` | 5, 5, 5 | ms | synaptic decay (laminar's; see below) |
//! | `I_e`, `I_e_apical` | 0, 0 | pA | constant currents into soma and dendrite (laminar's) |
//! | `V_m`, `V_d`, `w_s`, `w_d` | −70, −70, 0, 0 | mV, mV, pA, pA | initial state |
//! | `integration` | `"rk4"` | | `"rk4"` (reference) or `"rk4_vector"` (faster; see *Integration scheme*) |
//!
//! Parameter source: Naud R & Sprekeler H (2018), PNAS 115(27):E6329–E6338, Methods
//! (two-compartment pyramidal-neuron model: the equations above and its parameter table). The
//! table and equation numbers of the paper could not be checked against its text here; the
//! values were cross-checked against independent implementations of the model, which agree on
//! every value above (Auryn's `NaudGroup`, several Brian 2 and Julia reimplementations) except
//! the refractory period: 3 ms here, as in the reimplementation that follows the paper's Methods
//! most closely, where one other uses 2 ms and Auryn replaces it by a moving threshold. The
//! paper drives its cells with currents (Ornstein–Uhlenbeck background plus injected steps); the
//! current-based exponential synapses (5 ms, the AMPA-like time constant of Auryn's
//! implementation), their receptors and the constant currents `I_e`, `I_e_apical` are laminar's
//! additions, which leave the cell's equations unchanged.
//!
//! # Receptors, inputs, outputs
//! - Receptors `soma` (0) and `basal` (1) feed the somatic compartment (each with its own synaptic
//!   time constant), `apical` (2) the dendrite; weights in pA, positive = excitatory, negative =
//!   inhibitory. A projection without a receptor targets `soma` ([`DefaultReceptor::First`]).
//! - Device currents (`dc_generator`, `step_current_generator`) are injected into the soma; a
//!   constant current into the dendrite is the parameter `I_e_apical` (the engine has one current
//!   channel per neuron). Time-varying apical drive is spike input on `apical`.
//! - Spikes come from the soma. Recordables: `V_m`, `V_d`, `w_s`, `w_d`, `I_syn_soma`,
//!   `I_syn_basal`, `I_syn_apical`, and `I_bAP` (the bAP current acting at that time; not settable).
//!
//! # Integration scheme and accuracy
//! Stepped model (every neuron every step). Per simulation step of length h, the nonlinear part
//! `(V_m, V_d, w_d)` is advanced by the classical fourth-order Runge–Kutta method with `n`
//! equal sub-steps, `n = ceil(h / 0.1 ms)` (one sub-step at the default h = 0.1 ms). The
//! exponentially decaying inputs (the three synaptic currents and `w_s`) are not integrated
//! numerically: RK4 evaluates them in closed form at its stage times. Device current, constant
//! currents and the bAP kernel are constant within a step. Threshold crossings are detected at
//! the end of a step (spike time `(k+1)·h`, as in NEST's grid models), and `t_ref`, `bAP_delay`
//! and `bAP_duration` are whole numbers of steps: `t_ref` is rounded up (NEST's rule), the kernel
//! times to the nearest step. Stiffness is no issue at these time constants (h/τ ≤ 0.1/7 at the
//! defaults; RK4's local error is far below the spike-timing quantisation), so the scheme's error
//! is dominated by the grid: `kernel_pyramidal_bac.rs` checks that halving h (0.1 → 0.05 ms)
//! changes the firing rate of Poisson-driven cells by less than 2 % and the fraction of their
//! spikes in bursts by less than 0.02 (measured: 0.13 % and 0.001).
//!
//! `integration = "rk4"` (the default) is the reference: one neuron at a time, the sigmoid's
//! `exp` from the C library. `integration = "rk4_vector"` is the same RK4 with the same
//! arithmetic in the same order, with two differences that make it several times faster: the
//! sigmoid's `exp` is [`crate::vector_exp::exp`] (within 2 ulp of the library's, plain
//! arithmetic), and the integration runs over all neurons in one branch-free loop that compiles to
//! vector instructions (AVX-512 or AVX2 where the CPU has them; the same bits on every path, as
//! no fused multiply-adds are used), with threshold, reset and refractory bookkeeping in a
//! second, scalar pass. Its trajectories differ from the reference's by rounding only (tested on
//! 37 cells driven for 1 s through rest, single spikes and bursts: the same spike steps, voltages
//! within 10⁻¹² mV; measured 7·10⁻¹⁵), but a recurrent network amplifies any last-bit difference,
//! so a network's spike trains are statistically, not bitwise, those of `rk4`: choose one per
//! study. Measured (`benches/micro.rs`, one thread, AVX-512): 4.3× faster than `rk4`.
//!
//! # Update order within step k (from k·h to (k+1)·h)
//! 1. Add the step's device current change to `I_stim`.
//! 2. Set `K` for this step from the number of steps since the last spike.
//! 3. Integrate `(V_m, V_d, w_d)` over the step (RK4, with `w_s` and the synaptic currents in
//!    closed form); while refractory, `dV_m/dt = 0` (V_m stays at V_reset) and one refractory step
//!    is counted down instead.
//! 4. Decay `w_s` and the synaptic currents exactly over h, then add the spike weights delivered
//!    in this step (they first show at (k+1)·h, laminar's and NEST's convention).
//! 5. If not refractory and `V_m ≥ V_th`: spike, `V_m ← V_reset`, `w_s ← w_s + b_s`, refractory
//!    for `ceil(t_ref/h)` steps, and the bAP kernel restarts (only the last spike's kernel acts; at
//!    the defaults t_ref = 3 ms > bAP_delay + bAP_duration, so kernels never overlap anyway).
//!
//! # References
//! - Naud R, Sprekeler H (2018) Sparse bursts optimize information transmission in a multiplexed
//!   neural code. PNAS 115:E6329–E6338, doi:10.1073/pnas.1720995115.
//! - Larkum ME, Zhu JJ, Sakmann B (1999) A new cellular mechanism for coupling inputs arriving at
//!   different cortical layers. Nature 398:338–341.
//! - Larkum M (2013) A cellular mechanism for cortical associations: an organizing principle for
//!   the cerebral cortex. Trends Neurosci 36:141–151.

use laminar_engine::{
    BuildContext, DefaultReceptor, InputKind, LocalSpike, ModelError, ModelInfo, NextEventQueue, Population,
    PopulationFactory, Recordable, StateError, StateIo, Step, Update,
};
use serde::{Deserialize, Serialize};

use crate::iaf_cond_exp::nest_steps_rounded_up;
use crate::params::{ParamError, Validate, finite, less_than, non_negative, positive};
use crate::vector_exp;
use crate::vector_level::{VectorLevel, vector_level};

/// The longest RK4 sub-step (ms); coarser resolutions are split into equal sub-steps.
pub const MAX_SUBSTEP_MS: f64 = 0.1;

/// Parameters of a `pyramidal_bac` population (see the module documentation for the table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PyramidalBacParams {
    /// Resting potential of both compartments (mV).
    #[serde(rename = "E_L")]
    pub e_l: f64,
    /// Somatic capacitance (pF).
    #[serde(rename = "C_m")]
    pub c_m: f64,
    /// Somatic membrane time constant (ms).
    pub tau_m: f64,
    /// Spike threshold (mV).
    #[serde(rename = "V_th")]
    pub v_th: f64,
    /// Reset potential, held during the refractory period (mV).
    #[serde(rename = "V_reset")]
    pub v_reset: f64,
    /// Absolute refractory period (ms).
    pub t_ref: f64,
    /// Spike-triggered somatic adaptation increment (pA; negative hyperpolarises).
    pub b_s: f64,
    /// Somatic adaptation time constant (ms).
    pub tau_w_s: f64,
    /// Coupling of the dendritic plateau into the soma (pA at full activation).
    pub g_s: f64,
    /// Constant current into the soma (pA).
    #[serde(rename = "I_e")]
    pub i_e: f64,
    /// Dendritic capacitance (pF).
    #[serde(rename = "C_d")]
    pub c_d: f64,
    /// Dendritic membrane time constant (ms).
    pub tau_d: f64,
    /// Subthreshold dendritic adaptation (nS; negative hyperpolarises).
    pub a_d: f64,
    /// Dendritic adaptation time constant (ms).
    pub tau_w_d: f64,
    /// Regenerative plateau current into the dendrite (pA at full activation).
    pub g_d: f64,
    /// Half-activation voltage of the plateau (mV).
    #[serde(rename = "E_d")]
    pub e_d: f64,
    /// Slope factor of the plateau sigmoid (mV).
    #[serde(rename = "D_d")]
    pub d_d: f64,
    /// Amplitude of the back-propagating AP current (pA; the paper's c_d).
    #[serde(rename = "bAP_amplitude")]
    pub bap_amplitude: f64,
    /// Onset of the bAP current after a somatic spike (ms).
    #[serde(rename = "bAP_delay")]
    pub bap_delay: f64,
    /// Duration of the bAP current (ms).
    #[serde(rename = "bAP_duration")]
    pub bap_duration: f64,
    /// Constant current into the dendrite (pA).
    #[serde(rename = "I_e_apical")]
    pub i_e_apical: f64,
    /// Decay time constant of synaptic currents on receptor `soma` (ms).
    pub tau_syn_soma: f64,
    /// Decay time constant of synaptic currents on receptor `basal` (ms).
    pub tau_syn_basal: f64,
    /// Decay time constant of synaptic currents on receptor `apical` (ms).
    pub tau_syn_apical: f64,
    /// Initial somatic potential (mV).
    #[serde(rename = "V_m")]
    pub v_m: f64,
    /// Initial dendritic potential (mV).
    #[serde(rename = "V_d")]
    pub v_d: f64,
    /// Initial somatic adaptation current (pA).
    pub w_s: f64,
    /// Initial dendritic adaptation current (pA).
    pub w_d: f64,
    /// How the step is computed (see the module documentation).
    pub integration: Integration,
}

/// How a `pyramidal_bac` step is computed: both are the same RK4 scheme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Integration {
    /// One neuron at a time, the plateau sigmoid's `exp` from the C library: the reference.
    #[default]
    Rk4,
    /// All neurons in one vectorised loop, with [`crate::vector_exp::exp`].
    Rk4Vector,
}

impl Default for PyramidalBacParams {
    fn default() -> Self {
        Self {
            e_l: -70.0,
            c_m: 370.0,
            tau_m: 16.0,
            v_th: -50.0,
            v_reset: -70.0,
            t_ref: 3.0,
            b_s: -200.0,
            tau_w_s: 100.0,
            g_s: 1300.0,
            i_e: 0.0,
            c_d: 170.0,
            tau_d: 7.0,
            a_d: -13.0,
            tau_w_d: 30.0,
            g_d: 1200.0,
            e_d: -38.0,
            d_d: 6.0,
            bap_amplitude: 2600.0,
            bap_delay: 0.5,
            bap_duration: 2.0,
            i_e_apical: 0.0,
            tau_syn_soma: 5.0,
            tau_syn_basal: 5.0,
            tau_syn_apical: 5.0,
            v_m: -70.0,
            v_d: -70.0,
            w_s: 0.0,
            w_d: 0.0,
            integration: Integration::Rk4,
        }
    }
}

impl Validate for PyramidalBacParams {
    fn validate(&self) -> Result<(), ParamError> {
        for (f, v, u) in [
            ("C_m", self.c_m, "pF"),
            ("tau_m", self.tau_m, "ms"),
            ("tau_w_s", self.tau_w_s, "ms"),
            ("C_d", self.c_d, "pF"),
            ("tau_d", self.tau_d, "ms"),
            ("tau_w_d", self.tau_w_d, "ms"),
            ("D_d", self.d_d, "mV"),
            ("tau_syn_soma", self.tau_syn_soma, "ms"),
            ("tau_syn_basal", self.tau_syn_basal, "ms"),
            ("tau_syn_apical", self.tau_syn_apical, "ms"),
        ] {
            positive(f, v, u)?;
        }
        for (f, v, u) in [
            ("t_ref", self.t_ref, "ms"),
            ("bAP_delay", self.bap_delay, "ms"),
            ("bAP_duration", self.bap_duration, "ms"),
        ] {
            non_negative(f, v, u)?;
        }
        for (f, v, u) in [
            ("E_L", self.e_l, "mV"),
            ("V_th", self.v_th, "mV"),
            ("V_reset", self.v_reset, "mV"),
            ("b_s", self.b_s, "pA"),
            ("g_s", self.g_s, "pA"),
            ("I_e", self.i_e, "pA"),
            ("a_d", self.a_d, "nS"),
            ("g_d", self.g_d, "pA"),
            ("E_d", self.e_d, "mV"),
            ("bAP_amplitude", self.bap_amplitude, "pA"),
            ("I_e_apical", self.i_e_apical, "pA"),
            ("V_m", self.v_m, "mV"),
            ("V_d", self.v_d, "mV"),
            ("w_s", self.w_s, "pA"),
            ("w_d", self.w_d, "pA"),
        ] {
            finite(f, v, u)?;
        }
        less_than("V_reset", self.v_reset, "V_th", self.v_th)
    }
}

pub static INFO: ModelInfo = ModelInfo {
    name: "pyramidal_bac",
    receptors: laminar_engine::receptor_names!["soma", "basal", "apical"],
    default_receptor: DefaultReceptor::First,
    recordables: std::borrow::Cow::Borrowed(&[
        Recordable::new("V_m", "mV"),
        Recordable::new("V_d", "mV"),
        Recordable::new("w_s", "pA"),
        Recordable::new("w_d", "pA"),
        Recordable::new("I_syn_soma", "pA"),
        Recordable::new("I_syn_basal", "pA"),
        Recordable::new("I_syn_apical", "pA"),
        Recordable::new("I_bAP", "pA"),
    ]),
    input: InputKind::Summed,
    weight_units: "pA",
    counts_spikes: false,
    source_only: false,
    graded_output: None,
    current_on_arrival: false,
};

/// Receptor indices.
pub const SOMA: usize = 0;
pub const BASAL: usize = 1;
pub const APICAL: usize = 2;

/// Recordable indices.
const V_M: usize = 0;
const V_D: usize = 1;
const W_S: usize = 2;
const W_D: usize = 3;
const I_SOMA: usize = 4;
const I_BASAL: usize = 5;
const I_APICAL: usize = 6;
const I_BAP: usize = 7;

/// Builds `pyramidal_bac` shards.
#[derive(Debug, Clone)]
pub struct PyramidalBacFactory {
    pub params: PyramidalBacParams,
}

impl PopulationFactory for PyramidalBacFactory {
    fn info(&self) -> &ModelInfo {
        &INFO
    }

    fn build(&self, _: usize, _: u64, len: usize, ctx: &BuildContext) -> Result<Box<dyn Population>, ModelError> {
        Ok(Box::new(PyramidalBac::new(self.params.clone(), len, ctx.resolution.h()).map_err(ModelError)?))
    }
}

/// Decay factors of an exponential with time constant τ over a sub-step's stage times.
#[derive(Debug, Clone, Copy)]
struct Decay {
    /// e^{−(h_sub/2)/τ}
    half: f64,
    /// e^{−h_sub/τ}
    full: f64,
    /// e^{−h/τ} (the whole simulation step)
    step: f64,
}

impl Decay {
    fn new(tau: f64, h_sub: f64, h: f64) -> Self {
        Self { half: (-0.5 * h_sub / tau).exp(), full: (-h_sub / tau).exp(), step: (-h / tau).exp() }
    }
}

/// Everything one step of the integration needs besides the state: the parameters of the
/// equations, the constant currents, the bAP kernel in steps, the sub-steps and the decay
/// factors of the exponentially decaying inputs.
#[derive(Debug, Clone, Copy)]
struct Stepper {
    e_l: f64,
    tau_m: f64,
    c_m: f64,
    g_s: f64,
    i_e: f64,
    tau_d: f64,
    c_d: f64,
    g_d: f64,
    a_d: f64,
    tau_w_d: f64,
    e_d: f64,
    d_d: f64,
    i_e_apical: f64,
    bap_amplitude: f64,
    /// The bAP kernel acts in the steps that start `bap_first..bap_end` steps after a spike.
    bap_first: u32,
    bap_end: u32,
    substeps: u32,
    h_sub: f64,
    d_soma: Decay,
    d_basal: Decay,
    d_apical: Decay,
    d_ws: Decay,
}

/// One neuron's state and input over one step, as the integration reads and writes it.
struct Neuron {
    /// (V_m, V_d, w_d): integrated by RK4.
    y: [f64; 3],
    /// (I_syn_soma, I_syn_basal, I_syn_apical, w_s) at the step's start: decaying in closed form.
    decaying: [f64; 4],
    /// Device and constant current into the soma, constant over the step (pA).
    const_som: f64,
    /// Constant current and the bAP kernel's current into the dendrite (pA).
    const_den: f64,
    /// Refractory: V_m is held.
    clamped: bool,
}

impl Stepper {
    /// The bAP kernel value (0 or 1) for a step that starts `since` steps after the last spike.
    #[inline(always)]
    fn kernel(&self, since: u32) -> f64 {
        // `&`, not `&&`: no branch, so that the loop over neurons vectorises.
        if (since >= self.bap_first) & (since < self.bap_end) { 1.0 } else { 0.0 }
    }

    /// Derivatives of (V_m, V_d, w_d) given the somatic input current `i_som` (everything but
    /// the plateau and the leak) and the dendritic input `i_den`; `exp` computes the plateau.
    #[inline(always)]
    fn rhs(&self, y: [f64; 3], i_som: f64, i_den: f64, clamped: bool, exp: impl Fn(f64) -> f64) -> [f64; 3] {
        let f = 1.0 / (1.0 + exp(-(y[1] - self.e_d) / self.d_d));
        let dv_m = if clamped { 0.0 } else { -(y[0] - self.e_l) / self.tau_m + (self.g_s * f + i_som) / self.c_m };
        let dv_d = -(y[1] - self.e_l) / self.tau_d + (self.g_d * f + y[2] + i_den) / self.c_d;
        let dw_d = (-y[2] + self.a_d * (y[1] - self.e_l)) / self.tau_w_d;
        [dv_m, dv_d, dw_d]
    }

    /// (V_m, V_d, w_d) after one simulation step of `substeps` RK4 sub-steps (`substeps` is a
    /// parameter so that the common case 1 compiles without the loop).
    #[inline(always)]
    fn integrate(&self, substeps: u32, n: &Neuron, exp: impl Fn(f64) -> f64 + Copy) -> [f64; 3] {
        let [mut is, mut ib, mut ia, mut ws] = n.decaying;
        let (const_som, const_den, clamped) = (n.const_som, n.const_den, n.clamped);
        let mut y = n.y;
        let hs = self.h_sub;
        for _ in 0..substeps {
            // The exponentially decaying inputs at the stage times 0, h/2, h.
            let som0 = is + ib + ws + const_som;
            let som1 = is * self.d_soma.half + ib * self.d_basal.half + ws * self.d_ws.half + const_som;
            let som2 = is * self.d_soma.full + ib * self.d_basal.full + ws * self.d_ws.full + const_som;
            let den0 = ia + const_den;
            let den1 = ia * self.d_apical.half + const_den;
            let den2 = ia * self.d_apical.full + const_den;
            let k1 = self.rhs(y, som0, den0, clamped, exp);
            let y2 = [y[0] + 0.5 * hs * k1[0], y[1] + 0.5 * hs * k1[1], y[2] + 0.5 * hs * k1[2]];
            let k2 = self.rhs(y2, som1, den1, clamped, exp);
            let y3 = [y[0] + 0.5 * hs * k2[0], y[1] + 0.5 * hs * k2[1], y[2] + 0.5 * hs * k2[2]];
            let k3 = self.rhs(y3, som1, den1, clamped, exp);
            let y4 = [y[0] + hs * k3[0], y[1] + hs * k3[1], y[2] + hs * k3[2]];
            let k4 = self.rhs(y4, som2, den2, clamped, exp);
            for j in 0..3 {
                y[j] += hs / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]);
            }
            is *= self.d_soma.full;
            ib *= self.d_basal.full;
            ia *= self.d_apical.full;
            ws *= self.d_ws.full;
        }
        y
    }
}

/// The spike input and device current of one step, per neuron (pA).
#[derive(Clone, Copy)]
struct StepInput<'a> {
    soma: &'a [f64],
    basal: &'a [f64],
    apical: &'a [f64],
    current_change: &'a [f64],
}

/// The first pass of a step over neurons `0..v_m.len()`: steps 1–4 of the update order (no
/// thresholds, so no branches; the second pass, [`PyramidalBac::fire_or_count`], does step 5).
/// One slice per state variable, as separate arguments: that is what tells the compiler they do
/// not overlap, which it needs to vectorise the loop when `exp` is [`vector_exp::exp`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn integrate_all(
    st: &Stepper,
    substeps: u32,
    exp: impl Fn(f64) -> f64 + Copy,
    input: StepInput<'_>,
    v_m: &mut [f64],
    v_d: &mut [f64],
    w_d: &mut [f64],
    w_s: &mut [f64],
    i_soma: &mut [f64],
    i_basal: &mut [f64],
    i_apical: &mut [f64],
    i_stim: &mut [f64],
    refractory: &[u32],
    since_spike: &[u32],
) {
    let n = v_m.len();
    let (v_d, w_d, w_s, i_soma, i_basal, i_apical, i_stim) = (
        &mut v_d[..n],
        &mut w_d[..n],
        &mut w_s[..n],
        &mut i_soma[..n],
        &mut i_basal[..n],
        &mut i_apical[..n],
        &mut i_stim[..n],
    );
    let (refractory, since_spike) = (&refractory[..n], &since_spike[..n]);
    let (soma, basal, apical, current) =
        (&input.soma[..n], &input.basal[..n], &input.apical[..n], &input.current_change[..n]);
    for i in 0..n {
        i_stim[i] += current[i];
        let neuron = Neuron {
            y: [v_m[i], v_d[i], w_d[i]],
            decaying: [i_soma[i], i_basal[i], i_apical[i], w_s[i]],
            const_som: st.i_e + i_stim[i],
            const_den: st.i_e_apical + st.bap_amplitude * st.kernel(since_spike[i]),
            clamped: refractory[i] > 0,
        };
        [v_m[i], v_d[i], w_d[i]] = st.integrate(substeps, &neuron, exp);
        // Exact decay over the whole step (the sub-step products differ in the last bits).
        i_soma[i] = i_soma[i] * st.d_soma.step + soma[i];
        i_basal[i] = i_basal[i] * st.d_basal.step + basal[i];
        i_apical[i] = i_apical[i] * st.d_apical.step + apical[i];
        w_s[i] *= st.d_ws.step;
    }
}

/// A shard of `pyramidal_bac` neurons (struct of arrays).
#[derive(Debug, Clone)]
pub struct PyramidalBac {
    v_m: Vec<f64>,
    v_d: Vec<f64>,
    w_s: Vec<f64>,
    w_d: Vec<f64>,
    i_soma: Vec<f64>,
    i_basal: Vec<f64>,
    i_apical: Vec<f64>,
    /// Injected device current (pA), constant between changes.
    i_stim: Vec<f64>,
    /// Remaining refractory steps.
    refractory: Vec<u32>,
    /// Steps from the last spike's time to the start of the next step (saturating; `u32::MAX`
    /// before the first spike).
    since_spike: Vec<u32>,
    p: PyramidalBacParams,
    refractory_steps: u32,
    stepper: Stepper,
}

impl PyramidalBac {
    /// `n` neurons at resolution `h` ms; fails on invalid parameters or resolution.
    pub fn new(p: PyramidalBacParams, n: usize, h: f64) -> Result<Self, String> {
        p.validate().map_err(|e| e.to_string())?;
        if !(h.is_finite() && h > 0.0) {
            return Err(format!("resolution {h} ms: must be > 0"));
        }
        let steps = |ms: f64, what: &str| -> Result<u32, String> {
            let s = (ms / h).round();
            if s > f64::from(u32::MAX / 2) {
                return Err(format!(
                    "{what} = {}: must be at most {} steps of {h} ms",
                    crate::params::compact(ms),
                    u32::MAX / 2
                ));
            }
            Ok(s as u32)
        };
        let bap_first = steps(p.bap_delay, "bAP_delay")?;
        let bap_len = steps(p.bap_duration, "bAP_duration")?;
        let refractory_steps = nest_steps_rounded_up("t_ref", p.t_ref, h).map_err(|e| e.to_string())?;
        let substeps = (h / MAX_SUBSTEP_MS - 1e-9).ceil().max(1.0) as u32;
        let h_sub = h / f64::from(substeps);
        let stepper = Stepper {
            e_l: p.e_l,
            tau_m: p.tau_m,
            c_m: p.c_m,
            g_s: p.g_s,
            i_e: p.i_e,
            tau_d: p.tau_d,
            c_d: p.c_d,
            g_d: p.g_d,
            a_d: p.a_d,
            tau_w_d: p.tau_w_d,
            e_d: p.e_d,
            d_d: p.d_d,
            i_e_apical: p.i_e_apical,
            bap_amplitude: p.bap_amplitude,
            bap_first,
            bap_end: bap_first + bap_len,
            substeps,
            h_sub,
            d_soma: Decay::new(p.tau_syn_soma, h_sub, h),
            d_basal: Decay::new(p.tau_syn_basal, h_sub, h),
            d_apical: Decay::new(p.tau_syn_apical, h_sub, h),
            d_ws: Decay::new(p.tau_w_s, h_sub, h),
        };
        Ok(Self {
            v_m: vec![p.v_m; n],
            v_d: vec![p.v_d; n],
            w_s: vec![p.w_s; n],
            w_d: vec![p.w_d; n],
            i_soma: vec![0.0; n],
            i_basal: vec![0.0; n],
            i_apical: vec![0.0; n],
            i_stim: vec![0.0; n],
            refractory: vec![0; n],
            since_spike: vec![u32::MAX; n],
            refractory_steps,
            stepper,
            p,
        })
    }

    pub fn len(&self) -> usize {
        self.v_m.len()
    }

    pub fn is_empty(&self) -> bool {
        self.v_m.is_empty()
    }

    /// Steps 1–4 of the update order for neurons `range` with the step's `input` (indexed from
    /// the range's start), with the integration the parameters chose.
    fn integrate(&mut self, range: std::ops::Range<usize>, input: StepInput<'_>) {
        match self.p.integration {
            Integration::Rk4 => self.integrate_with(range, input, f64::exp),
            Integration::Rk4Vector => self.integrate_vectorised(range, input),
        }
    }

    #[inline(always)]
    fn integrate_with(&mut self, r: std::ops::Range<usize>, input: StepInput<'_>, exp: impl Fn(f64) -> f64 + Copy) {
        // The two calls differ only in `substeps` being the constant 1 in the first: that copy
        // compiles without the sub-step loop, which is what lets the loop over cells vectorise
        // (as one call it stayed scalar: 17 ms against 2.6 ms in the micro-benchmark).
        let substeps = self.stepper.substeps;
        if substeps == 1 {
            self.integrate_substeps(r, input, 1, exp);
        } else {
            self.integrate_substeps(r, input, substeps, exp);
        }
    }

    #[inline(always)]
    fn integrate_substeps(
        &mut self,
        r: std::ops::Range<usize>,
        input: StepInput<'_>,
        substeps: u32,
        exp: impl Fn(f64) -> f64 + Copy,
    ) {
        integrate_all(
            &self.stepper,
            substeps,
            exp,
            input,
            &mut self.v_m[r.clone()],
            &mut self.v_d[r.clone()],
            &mut self.w_d[r.clone()],
            &mut self.w_s[r.clone()],
            &mut self.i_soma[r.clone()],
            &mut self.i_basal[r.clone()],
            &mut self.i_apical[r.clone()],
            &mut self.i_stim[r.clone()],
            &self.refractory[r.clone()],
            &self.since_spike[r],
        );
    }

    /// [`Self::integrate_with`] with [`vector_exp::exp`], compiled for the best vector
    /// instructions the CPU has (the same arithmetic, so the same bits, on every path).
    // Calling a function compiled for CPU features is unsafe unless the caller has them, which
    // `vector_level` established.
    #[allow(unsafe_code)]
    fn integrate_vectorised(&mut self, range: std::ops::Range<usize>, input: StepInput<'_>) {
        match vector_level() {
            // SAFETY: the CPU supports every feature the function is compiled for.
            #[cfg(target_arch = "x86_64")]
            VectorLevel::Avx512 => unsafe { self.integrate_avx512(range, input) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            VectorLevel::Avx2 => unsafe { self.integrate_avx2(range, input) },
            _ => self.integrate_with(range, input, vector_exp::exp),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2")]
    fn integrate_avx512(&mut self, range: std::ops::Range<usize>, input: StepInput<'_>) {
        self.integrate_with(range, input, vector_exp::exp);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn integrate_avx2(&mut self, range: std::ops::Range<usize>, input: StepInput<'_>) {
        self.integrate_with(range, input, vector_exp::exp);
    }

    /// Step 5 of the update order for neuron `i` (its integration done): spikes if not refractory
    /// and above threshold (returns true), else counts down the refractory period.
    #[inline]
    fn fire_or_count(&mut self, i: usize) -> bool {
        if self.refractory[i] > 0 {
            self.refractory[i] -= 1;
        } else if self.v_m[i] >= self.p.v_th {
            self.v_m[i] = self.p.v_reset;
            self.w_s[i] += self.p.b_s;
            self.refractory[i] = self.refractory_steps;
            self.since_spike[i] = 0;
            return true;
        }
        self.since_spike[i] = self.since_spike[i].saturating_add(1);
        false
    }

    /// Computes one step of neuron `i` alone with the step's spike input (pA per receptor) and
    /// device current change; returns whether it spiked.
    pub fn step(&mut self, i: usize, w_soma: f64, w_basal: f64, w_apical: f64, current_change: f64) -> bool {
        let input =
            StepInput { soma: &[w_soma], basal: &[w_basal], apical: &[w_apical], current_change: &[current_change] };
        self.integrate(i..i + 1, input);
        self.fire_or_count(i)
    }

    /// The value of recordable `variable` (an index into [`INFO`]'s recordables) of neuron `i`.
    pub fn get(&self, variable: usize, i: usize) -> f64 {
        match variable {
            V_M => self.v_m[i],
            V_D => self.v_d[i],
            W_S => self.w_s[i],
            W_D => self.w_d[i],
            I_SOMA => self.i_soma[i],
            I_BASAL => self.i_basal[i],
            I_APICAL => self.i_apical[i],
            I_BAP => self.p.bap_amplitude * self.stepper.kernel(self.since_spike[i]),
            _ => f64::NAN,
        }
    }

    /// Sets state variable `variable` of neuron `i`.
    pub fn set(&mut self, variable: usize, i: usize, value: f64) -> Result<(), String> {
        if !value.is_finite() {
            return Err(format!("{value} is not a finite number"));
        }
        let slot = match variable {
            V_M => &mut self.v_m,
            V_D => &mut self.v_d,
            W_S => &mut self.w_s,
            W_D => &mut self.w_d,
            I_SOMA => &mut self.i_soma,
            I_BASAL => &mut self.i_basal,
            I_APICAL => &mut self.i_apical,
            _ => return Err("not a state variable (I_bAP follows the spikes)".into()),
        };
        slot[i] = value;
        Ok(())
    }
}

impl Population for PyramidalBac {
    fn len(&self) -> usize {
        self.v_m.len()
    }

    fn update(&mut self, u: &mut Update<'_>) {
        let input = StepInput {
            soma: u.input.receptor(SOMA),
            basal: u.input.receptor(BASAL),
            apical: u.input.receptor(APICAL),
            current_change: u.input.current_change(),
        };
        self.integrate(0..self.v_m.len(), input);
        for i in 0..self.v_m.len() {
            if self.fire_or_count(i) {
                u.spikes.push(LocalSpike { local: i as u32, offset: 0.0 });
            }
        }
    }

    /// Both compartments' voltages and adaptation currents, the three synaptic currents, the
    /// injected current, the refractory count and the steps since the last spike (which place
    /// the bAP kernel).
    fn state(&mut self, io: &mut StateIo, _queue: &mut NextEventQueue) -> Result<(), StateError> {
        io.neurons("v_m", &mut self.v_m)?;
        io.neurons("v_d", &mut self.v_d)?;
        io.neurons("w_s", &mut self.w_s)?;
        io.neurons("w_d", &mut self.w_d)?;
        io.neurons("i_soma", &mut self.i_soma)?;
        io.neurons("i_basal", &mut self.i_basal)?;
        io.neurons("i_apical", &mut self.i_apical)?;
        io.neurons("i_stim", &mut self.i_stim)?;
        io.neurons("refractory", &mut self.refractory)?;
        io.neurons("since_spike", &mut self.since_spike)
    }

    fn sample(&self, variable: usize, i: usize, _: Step) -> f64 {
        self.get(variable, i)
    }

    fn set_state(&mut self, variable: usize, i: usize, value: f64) -> Result<(), String> {
        self.set(variable, i, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 37 cells (not a multiple of any vector width, so the loop's remainder runs too) with
    /// different somatic and apical drives, some silent, some firing single spikes, some bursting.
    fn cells(integration: Integration) -> PyramidalBac {
        let p = PyramidalBacParams { i_e_apical: 150.0, integration, ..PyramidalBacParams::default() };
        PyramidalBac::new(p, 37, 0.1).unwrap()
    }

    /// Runs `cells` for `steps` steps of a deterministic drive through the update's two passes:
    /// a constant somatic current of 300–660 pA by cell and apical spike input every 7th step on
    /// every 3rd cell. Returns the spike steps of every cell and the voltage traces.
    fn drive(mut cells: PyramidalBac, steps: usize) -> (Vec<Vec<usize>>, Vec<[f64; 2]>) {
        let n = cells.len();
        let zeros = vec![0.0; n];
        let first: Vec<f64> = (0..n).map(|i| 300.0 + 10.0 * i as f64).collect();
        let (mut spikes, mut trace) = (vec![Vec::new(); n], Vec::new());
        for k in 0..steps {
            let apical: Vec<f64> = (0..n).map(|i| if i % 3 == 0 && k % 7 == 0 { 120.0 } else { 0.0 }).collect();
            let current = if k == 0 { &first } else { &zeros };
            let input = StepInput { soma: &zeros, basal: &zeros, apical: &apical, current_change: current };
            cells.integrate(0..n, input);
            for (i, s) in spikes.iter_mut().enumerate() {
                if cells.fire_or_count(i) {
                    s.push(k);
                }
                trace.push([cells.v_m[i], cells.v_d[i]]);
            }
        }
        (spikes, trace)
    }

    #[test]
    fn every_vector_path_computes_the_same_bits() {
        let n = 37;
        let mut reference = cells(Integration::Rk4Vector);
        let mut dispatched = reference.clone();
        let apical: Vec<f64> = (0..n).map(|i| 40.0 * (i % 5) as f64).collect();
        let current: Vec<f64> = (0..n).map(|i| 350.0 + 9.0 * i as f64).collect();
        let zeros = vec![0.0; n];
        let input = StepInput { soma: &current, basal: &zeros, apical: &apical, current_change: &current };
        for _ in 0..500 {
            // The portable loop against whatever the CPU dispatches to (AVX-512, AVX2).
            reference.integrate_with(0..n, input, vector_exp::exp);
            dispatched.integrate_vectorised(0..n, input);
            for i in 0..n {
                reference.fire_or_count(i);
                dispatched.fire_or_count(i);
            }
        }
        for (a, b) in
            [(&reference.v_m, &dispatched.v_m), (&reference.v_d, &dispatched.v_d), (&reference.w_d, &dispatched.w_d)]
        {
            assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
        }
        assert!(reference.since_spike.iter().any(|&s| s < 500), "the drive should make cells fire");
    }

    #[test]
    fn rk4_vector_follows_rk4_to_rounding() {
        let steps = 10_000; // 1 s
        let (spikes_ref, trace_ref) = drive(cells(Integration::Rk4), steps);
        let (spikes_vec, trace_vec) = drive(cells(Integration::Rk4Vector), steps);
        let worst = trace_ref
            .iter()
            .zip(&trace_vec)
            .map(|(a, b)| (a[0] - b[0]).abs().max((a[1] - b[1]).abs()))
            .fold(0.0, f64::max);
        let total: usize = spikes_ref.iter().map(Vec::len).sum();
        let bursting = spikes_ref.iter().filter(|s| s.windows(2).any(|w| w[1] - w[0] < 160)).count();
        println!("{total} spikes, {bursting} bursting cells, largest voltage difference {worst:e} mV");
        assert_eq!(spikes_ref, spikes_vec);
        assert!(worst < 1e-12, "largest voltage difference {worst} mV");
        assert!(total > 100 && bursting > 0, "the drive should give spikes and bursts");
    }

    #[test]
    fn integration_is_a_named_choice() {
        let parse = |v: &str| serde_json::from_value::<Integration>(serde_json::Value::from(v));
        assert_eq!(parse("rk4").unwrap(), Integration::Rk4);
        assert_eq!(parse("rk4_vector").unwrap(), Integration::Rk4Vector);
        let err = parse("euler").unwrap_err().to_string();
        assert!(err.contains("rk4") && err.contains("rk4_vector"), "{err}");
    }
}
