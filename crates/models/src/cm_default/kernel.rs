//! The `cm_default` kernel: struct-of-arrays state of a shard's neurons over one shared tree.
//!
//! Every state array is compartment-major (`[compartment][neuron]`, or `[variable][neuron]` for
//! the receptors), so each stage of the step is a loop over neurons with fixed per-compartment
//! constants: assembly, elimination towards the root, back-substitution.

use laminar_engine::{StateError, StateIo};

use super::channels::{CHANNEL_ACTIVE_ABOVE, k_n, mg_block, na_h, na_m, peak_normalisation, relax};
use super::params::{CmDefaultParams, ReceptorKind, ReceptorType};
use crate::params::{ParamError, Validate, positive};

/// Per-compartment constants of the step matrix.
#[derive(Debug, Clone)]
struct CompartmentConsts {
    parent: Option<usize>,
    /// `C_m/h − g_L/2`: the coefficient of v(t) on the right-hand side.
    rhs_v: f64,
    /// `g_L·e_L`.
    gl_el: f64,
    /// `g_C/2` towards the parent (0 for the root).
    gc_half: f64,
    /// The voltage-independent diagonal: `C_m/h + g_L/2 (+ g_C/2) + Σ_children g_C/2`.
    diag: f64,
    /// `(g_C/2 of the child, child index)` for every child, in index order.
    children: Vec<(f64, usize)>,
    gbar_na: f64,
    e_na: f64,
    gbar_k: f64,
    e_k: f64,
    /// Receptors on this compartment in the order the currents are summed (by type, AMPA, GABA,
    /// NMDA, AMPA_NMDA, then by receptor index, as NEST sums them).
    receptors: Vec<usize>,
}

/// One double-exponential conductance: propagators and peak normalisation.
#[derive(Debug, Clone, Copy)]
struct Conductance {
    prop_r: f64,
    prop_d: f64,
    g_norm: f64,
}

impl Conductance {
    fn new(tau_r: f64, tau_d: f64, h: f64) -> Self {
        Self { prop_r: (-h / tau_r).exp(), prop_d: (-h / tau_d).exp(), g_norm: peak_normalisation(tau_r, tau_d) }
    }

    /// Decays `(g_r, g_d)` over one step, adds the step's summed weight `w`, and returns
    /// `g = g_r + g_d`.
    #[inline]
    fn advance(&self, g_r: &mut f64, g_d: &mut f64, w: f64) -> f64 {
        *g_r *= self.prop_r;
        *g_d *= self.prop_d;
        let s = w * self.g_norm;
        *g_r -= s;
        *g_d += s;
        *g_r + *g_d
    }
}

#[derive(Debug, Clone, Copy)]
enum ReceptorConsts {
    /// AMPA or GABA: `I = g (e − v)`.
    Linear { e_rev: f64, g: Conductance },
    /// NMDA: `I = g σ(v) (e − v)`.
    Nmda { e_rev: f64, g: Conductance },
    /// AMPA+NMDA: `I = (g_AMPA + ratio·g_NMDA σ(v)) (e − v)`.
    AmpaNmda { e_rev: f64, ampa: Conductance, nmda: Conductance, ratio: f64 },
}

/// State variables per receptor type: 2 (`g_r`, `g_d`), 4 for AMPA_NMDA.
pub(super) fn receptor_vars(kind: ReceptorType) -> usize {
    if kind == ReceptorType::AmpaNmda { 4 } else { 2 }
}

/// The state of `n` `cm_default` neurons sharing one tree.
#[derive(Debug, Clone)]
pub struct CmDefault {
    n: usize,
    /// Simulation step (ms).
    h: f64,
    v_th: f64,
    comps: Vec<CompartmentConsts>,
    receptors: Vec<ReceptorConsts>,
    /// First state variable of each receptor in `syn` (in units of `n`).
    receptor_offset: Vec<usize>,
    /// Compartment voltages `[c][i]` (mV).
    v: Vec<f64>,
    /// Na activation, Na inactivation, K activation `[c][i]`.
    m_na: Vec<f64>,
    h_na: Vec<f64>,
    n_k: Vec<f64>,
    /// Receptor conductances `[receptor variable][i]` (uS).
    syn: Vec<f64>,
    /// Number of receptor variables (rows of `syn`).
    syn_vars: usize,
    /// Scratch: matrix diagonal, right-hand side, and what the children pass to their parent
    /// during elimination `[c][i]`.
    gg: Vec<f64>,
    ff: Vec<f64>,
    xx: Vec<f64>,
    yy: Vec<f64>,
    /// Scratch: summed linearised conductance and current of one compartment's channels and
    /// receptors `[i]`.
    g_sum: Vec<f64>,
    i_sum: Vec<f64>,
}

impl CmDefault {
    /// `n` neurons in the initial state of `params` (voltages `v_comp`, gates at their steady
    /// state there, conductances 0), simulated with step `h` ms.
    pub fn new(params: &CmDefaultParams, n: usize, h: f64) -> Result<Self, ParamError> {
        params.validate()?;
        positive("resolution", h, "ms")?;
        let nc = params.compartments.len();

        let mut comps: Vec<CompartmentConsts> = params
            .compartments
            .iter()
            .map(|c| {
                let ca_dt = c.c_m / h;
                let gl_half = c.g_l / 2.0;
                let gc_half = if c.parent.is_some() { c.g_c / 2.0 } else { 0.0 };
                let mut diag = ca_dt + gl_half;
                if c.parent.is_some() {
                    diag += gc_half;
                }
                CompartmentConsts {
                    parent: c.parent,
                    rhs_v: ca_dt - gl_half,
                    gl_el: c.g_l * c.e_l,
                    gc_half,
                    diag,
                    children: Vec::new(),
                    gbar_na: c.gbar_na,
                    e_na: c.e_na,
                    gbar_k: c.gbar_k,
                    e_k: c.e_k,
                    receptors: Vec::new(),
                }
            })
            .collect();
        for c in 1..nc {
            let p = comps[c].parent.expect("validated: only the root has no parent");
            let gc_half = comps[c].gc_half;
            comps[p].children.push((gc_half, c));
            comps[p].diag += gc_half;
        }
        for kind in ReceptorType::ALL {
            for (r, rec) in params.receptors.iter().enumerate() {
                if rec.kind.receptor_type() == kind {
                    comps[rec.compartment].receptors.push(r);
                }
            }
        }

        let mut receptor_offset = Vec::with_capacity(params.receptors.len());
        let mut vars = 0;
        let receptors = params
            .receptors
            .iter()
            .map(|r| {
                receptor_offset.push(vars);
                vars += receptor_vars(r.kind.receptor_type());
                match r.kind {
                    ReceptorKind::Ampa { e_rev, kinetics } | ReceptorKind::Gaba { e_rev, kinetics } => {
                        ReceptorConsts::Linear { e_rev, g: Conductance::new(kinetics.tau_r, kinetics.tau_d, h) }
                    }
                    ReceptorKind::Nmda { e_rev, kinetics } => {
                        ReceptorConsts::Nmda { e_rev, g: Conductance::new(kinetics.tau_r, kinetics.tau_d, h) }
                    }
                    ReceptorKind::AmpaNmda { e_rev, ampa, nmda, nmda_ratio } => ReceptorConsts::AmpaNmda {
                        e_rev,
                        ampa: Conductance::new(ampa.tau_r, ampa.tau_d, h),
                        nmda: Conductance::new(nmda.tau_r, nmda.tau_d, h),
                        ratio: nmda_ratio,
                    },
                }
            })
            .collect();

        let mut kernel = Self {
            n,
            h,
            v_th: params.v_th,
            comps,
            receptors,
            receptor_offset,
            v: vec![0.0; nc * n],
            m_na: vec![0.0; nc * n],
            h_na: vec![0.0; nc * n],
            n_k: vec![0.0; nc * n],
            syn: vec![0.0; vars * n],
            syn_vars: vars,
            gg: vec![0.0; nc * n],
            ff: vec![0.0; nc * n],
            xx: vec![0.0; nc * n],
            yy: vec![0.0; nc * n],
            g_sum: vec![0.0; n],
            i_sum: vec![0.0; n],
        };
        for (c, comp) in params.compartments.iter().enumerate() {
            for i in 0..n {
                kernel.set_v_comp(c, i, comp.v_comp);
            }
        }
        Ok(kernel)
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn compartments(&self) -> usize {
        self.comps.len()
    }

    /// The number of state variables reachable through [`Self::get`] and [`Self::set`]:
    /// voltages, then three gates per compartment, then the receptor conductances.
    pub fn variables(&self) -> usize {
        4 * self.comps.len() + self.syn_vars
    }

    /// Voltage of compartment `c` of neuron `i` (mV).
    pub fn v_comp(&self, c: usize, i: usize) -> f64 {
        self.v[c * self.n + i]
    }

    /// Sets the voltage of compartment `c` of neuron `i` and, as NEST does for the initial
    /// `v_comp`, puts its channel gates at their steady state for that voltage.
    pub fn set_v_comp(&mut self, c: usize, i: usize, v: f64) {
        let k = c * self.n + i;
        self.v[k] = v;
        self.m_na[k] = na_m(v).inf;
        self.h_na[k] = na_h(v).inf;
        self.n_k[k] = k_n(v).inf;
    }

    /// State variable `variable` of neuron `i`, in the order of [`super::recordables`].
    pub fn get(&self, variable: usize, i: usize) -> f64 {
        let (array, k) = self.locate(variable);
        let a = match array {
            0 => &self.v,
            1 => &self.m_na,
            2 => &self.h_na,
            3 => &self.n_k,
            _ => &self.syn,
        };
        a[k * self.n + i]
    }

    /// Sets state variable `variable` of neuron `i`; a voltage also resets that compartment's
    /// gates to their steady state (see [`Self::set_v_comp`]), so set gates after voltages.
    pub fn set(&mut self, variable: usize, i: usize, value: f64) {
        let (array, k) = self.locate(variable);
        let a = match array {
            0 => return self.set_v_comp(k, i, value),
            1 => &mut self.m_na,
            2 => &mut self.h_na,
            3 => &mut self.n_k,
            _ => &mut self.syn,
        };
        a[k * self.n + i] = value;
    }

    /// Saves or restores the neurons' state for a checkpoint, one per-neuron array per row: the
    /// compartment voltages, the channel gates of every compartment (also where no channel is
    /// active: they are recordable and settable), and the receptor conductances. The step's
    /// matrix and sums (`gg`, `ff`, `xx`, `yy`, `g_sum`, `i_sum`) are scratch, rebuilt every step.
    pub fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        let n = self.n;
        for c in 0..self.comps.len() {
            let row = c * n..(c + 1) * n;
            io.neurons(&format!("v_comp{c}"), &mut self.v[row.clone()])?;
            io.neurons(&format!("m_Na_{c}"), &mut self.m_na[row.clone()])?;
            io.neurons(&format!("h_Na_{c}"), &mut self.h_na[row.clone()])?;
            io.neurons(&format!("n_K_{c}"), &mut self.n_k[row])?;
        }
        for k in 0..self.syn_vars {
            io.neurons(&format!("syn{k}"), &mut self.syn[k * n..(k + 1) * n])?;
        }
        Ok(())
    }

    /// `(array, row)`: 0 voltages, 1..=3 gates (row = compartment), 4 receptor variables.
    fn locate(&self, variable: usize) -> (usize, usize) {
        let nc = self.comps.len();
        if variable < nc {
            (0, variable)
        } else if variable < 4 * nc {
            let g = variable - nc;
            (1 + g % 3, g / 3)
        } else {
            (4, variable - 4 * nc)
        }
    }

    /// Advances every neuron by one step (see the module documentation for the scheme and the
    /// order) and calls `on_spike(i)` for each neuron whose root crossed `V_th` upwards.
    ///
    /// - `weights(r)`: the summed weights (uS) delivered on receptor `r` in this step, one per
    ///   neuron; they enter the conductances at the start of the step;
    /// - `i_root`: current injected into the root compartment during this step (nA), one per
    ///   neuron.
    pub fn step<'a>(&mut self, weights: impl Fn(usize) -> &'a [f64], i_root: &[f64], mut on_spike: impl FnMut(usize)) {
        let n = self.n;
        let h = self.h;
        assert_eq!(i_root.len(), n);
        let nc = self.comps.len();

        // 1. Assemble the tridiagonal-on-a-tree system, compartment by compartment, with the
        //    voltages of the previous step.
        for c in 0..nc {
            let comp = &self.comps[c];
            let row = c * n..(c + 1) * n;
            self.g_sum.fill(0.0);
            self.i_sum.fill(0.0);
            let v = &self.v[row.clone()];

            if comp.gbar_na > CHANNEL_ACTIVE_ABOVE {
                let (m, hh) = (&mut self.m_na[row.clone()], &mut self.h_na[row.clone()]);
                for i in 0..n {
                    m[i] = relax(m[i], na_m(v[i]), h);
                    hh[i] = relax(hh[i], na_h(v[i]), h);
                    let g = comp.gbar_na * (m[i] * m[i] * m[i]) * hh[i];
                    self.g_sum[i] += g / 2.0;
                    self.i_sum[i] += g * (comp.e_na - v[i] / 2.0);
                }
            }
            if comp.gbar_k > CHANNEL_ACTIVE_ABOVE {
                let nk = &mut self.n_k[row.clone()];
                for i in 0..n {
                    nk[i] = relax(nk[i], k_n(v[i]), h);
                    let g = comp.gbar_k * nk[i];
                    self.g_sum[i] += g / 2.0;
                    self.i_sum[i] += g * (comp.e_k - v[i] / 2.0);
                }
            }

            for &r in &comp.receptors {
                let w = weights(r);
                assert_eq!(w.len(), n);
                let base = self.receptor_offset[r] * n;
                let syn = &mut self.syn[base..];
                match self.receptors[r] {
                    ReceptorConsts::Linear { e_rev, g: cond } => {
                        let (gr, gd) = syn.split_at_mut(n);
                        for i in 0..n {
                            let g = cond.advance(&mut gr[i], &mut gd[i], w[i]);
                            // I = g (e − v), dI/dv = −g
                            let g_val = g / 2.0;
                            self.g_sum[i] += g_val;
                            self.i_sum[i] += g * (e_rev - v[i]) + g_val * v[i];
                        }
                    }
                    ReceptorConsts::Nmda { e_rev, g: cond } => {
                        let (gr, gd) = syn.split_at_mut(n);
                        for i in 0..n {
                            let g = cond.advance(&mut gr[i], &mut gd[i], w[i]);
                            let (sig, dsig) = mg_block(v[i]);
                            let i_tot = g * sig * (e_rev - v[i]);
                            let di_dv = g * (dsig * (e_rev - v[i]) - sig);
                            let g_val = -di_dv / 2.0;
                            self.g_sum[i] += g_val;
                            self.i_sum[i] += i_tot + g_val * v[i];
                        }
                    }
                    ReceptorConsts::AmpaNmda { e_rev, ampa, nmda, ratio } => {
                        let (gra, rest) = syn.split_at_mut(n);
                        let (gda, rest) = rest.split_at_mut(n);
                        let (grn, rest) = rest.split_at_mut(n);
                        let gdn = &mut rest[..n];
                        for i in 0..n {
                            let ga = ampa.advance(&mut gra[i], &mut gda[i], w[i]);
                            let gn = nmda.advance(&mut grn[i], &mut gdn[i], w[i]);
                            let (sig, dsig) = mg_block(v[i]);
                            let i_tot = (ga + ratio * gn * sig) * (e_rev - v[i]);
                            let di_dv = -ga + ratio * gn * (dsig * (e_rev - v[i]) - sig);
                            let g_val = -di_dv / 2.0;
                            self.g_sum[i] += g_val;
                            self.i_sum[i] += i_tot + g_val * v[i];
                        }
                    }
                }
            }

            let (gg, ff) = (&mut self.gg[row.clone()], &mut self.ff[row.clone()]);
            for i in 0..n {
                gg[i] = comp.diag;
                let mut f = comp.rhs_v * v[i] + comp.gl_el;
                if let Some(p) = comp.parent {
                    f -= comp.gc_half * (v[i] - self.v[p * n + i]);
                }
                for &(gc_half, ch) in &comp.children {
                    f -= gc_half * (v[i] - self.v[ch * n + i]);
                }
                gg[i] += self.g_sum[i];
                ff[i] = f + self.i_sum[i];
            }
            if c == 0 {
                for i in 0..n {
                    ff[i] += i_root[i];
                }
            }
        }

        // 2. Eliminate towards the root (leaves first: children have larger indices than their
        //    parents), each compartment passing hh²/gg and ff·hh/gg to its parent.
        self.xx.fill(0.0);
        self.yy.fill(0.0);
        for c in (1..nc).rev() {
            let comp = &self.comps[c];
            let p = comp.parent.expect("validated");
            let hh = -comp.gc_half;
            for i in 0..n {
                let k = c * n + i;
                self.gg[k] -= self.xx[k];
                self.ff[k] -= self.yy[k];
                self.xx[p * n + i] += hh * hh / self.gg[k];
                self.yy[p * n + i] += self.ff[k] * hh / self.gg[k];
            }
        }

        // 3. Back-substitute from the root; detect the root's upward threshold crossing.
        for i in 0..n {
            let gg = self.gg[i] - self.xx[i];
            let ff = self.ff[i] - self.yy[i];
            let v_prev = self.v[i];
            let v_new = ff / gg;
            self.v[i] = v_new;
            if v_new >= self.v_th && v_prev < self.v_th {
                on_spike(i);
            }
        }
        for c in 1..nc {
            let comp = &self.comps[c];
            let p = comp.parent.expect("validated");
            let hh = -comp.gc_half;
            for i in 0..n {
                let k = c * n + i;
                self.v[k] = (self.ff[k] - self.v[p * n + i] * hh) / self.gg[k];
            }
        }
    }
}
