//! `integration = "rk4_vector"`: one step of every neuron of a shard, sub-step by sub-step, in
//! loops that compile to vector instructions.
//!
//! The scalar `rk4` runs one neuron's sub-steps one after the other, each followed by the
//! instability check, the refractory clamp and spike detection (`AeifCondAlpha::after_substep`),
//! and calls the C library's `exp`, which no compiler vectorises. Here the loops are swapped: for
//! each sub-step, one loop over all neurons does the RK4 stages (the same [`rk4_step`] and
//! right-hand side, with [`vector_exp::exp`]) and the after-sub-step logic written as selects
//! instead of branches, so the loop body has no branch and runs eight neurons per AVX-512
//! instruction (four with AVX2). Every neuron meets the same operations in the same order as in
//! the scalar path with the same `exp`, so [`AeifCondAlpha::advance`] with `rk4_vector` (one
//! neuron alone) gives the same bits as this loop; that is tested, as is the agreement of every
//! vector width.
//!
//! A neuron that fails NEST's bounds (`V_m < −1000 mV`, `|w| > 10⁶ pA`) is reported after the step
//! with its state then, instead of the scalar path's cut-short step: the run stops there either
//! way.

use super::{
    AeifCondAlpha, AeifCondAlphaParams, AeifRhs, DG_EX, DG_IN, G_EX, G_IN, NumericalInstability, STATE_SIZE, V_M, W,
    beyond_nest_bounds,
};
use crate::odeint::rk4_step;
use crate::vector_exp;
use crate::vector_level::{VectorLevel, vector_level};

/// Per-shard scratch of the vectorised step: per neuron, the spikes of this step and whether it
/// left NEST's bounds.
#[derive(Debug, Clone, Default)]
pub(super) struct Scratch {
    spikes: Vec<u32>,
    failed: Vec<u8>,
}

/// The step's inputs for every neuron of the shard (indexed like the state).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShardInput<'a> {
    /// Summed excitatory weights delivered in this step (nS, ≥ 0).
    pub ex: &'a [f64],
    /// Summed inhibitory weights delivered in this step, *negative* as the ring buffer holds
    /// them (nS, ≤ 0): NEST adds −w.
    pub inh: &'a [f64],
    /// Injected current acting during this step (pA), besides `I_e`.
    pub i_stim: &'a [f64],
    /// A current added after `I_e + i_stim` (pA; `aeif_cond_alpha_astro`'s SIC), if any.
    pub i_extra: Option<&'a [f64]>,
}

/// What one sub-step needs besides the state: the constants of `after_substep`.
#[derive(Debug, Clone, Copy)]
struct Substep {
    dt: f64,
    spike_detection_v: f64,
    v_reset: f64,
    b: f64,
    /// `AeifCondAlpha::refractory_after_spike`.
    refractory_after_spike: u32,
}

impl AeifCondAlpha {
    /// One step of every neuron (the module documentation), calling `emit(i)` once per spike of
    /// neuron `i`, in neuron order.
    pub(crate) fn step_shard(&mut self, input: ShardInput<'_>, emit: impl FnMut(usize)) {
        self.step_shard_at(vector_level(), input, emit);
    }

    /// [`Self::step_shard`] with the sub-steps compiled for `level` (tests compare the levels).
    fn step_shard_at(&mut self, level: VectorLevel, input: ShardInput<'_>, mut emit: impl FnMut(usize)) {
        let n = self.v_m.len();
        let scratch = &mut self.vector_scratch;
        scratch.spikes.clear();
        scratch.spikes.resize(n, 0);
        scratch.failed.clear();
        scratch.failed.resize(n, 0);
        let c = Substep {
            dt: self.h_ms / f64::from(self.params.rk4_substeps),
            spike_detection_v: self.spike_detection_v,
            v_reset: self.params.v_reset,
            b: self.params.b,
            refractory_after_spike: self.refractory_after_spike(),
        };
        for _ in 0..self.params.rk4_substeps {
            self.substep_at(level, &c, &input);
        }
        let (ex, inh) = (&input.ex[..n], &input.inh[..n]);
        for i in 0..n {
            self.refractory_left[i] = self.refractory_left[i].saturating_sub(1);
            self.dg_ex[i] += ex[i] * self.dg_ex_per_weight;
            self.dg_in[i] += -inh[i] * self.dg_in_per_weight;
        }
        if let Some(i) = self.vector_scratch.failed.iter().position(|&f| f != 0) {
            let e = NumericalInstability {
                model: self.model,
                neuron: i,
                v_m: self.v_m[i],
                w: self.w[i],
                integration: self.params.integration,
            };
            self.instability.get_or_insert(e);
        }
        for (i, &count) in self.vector_scratch.spikes.iter().enumerate() {
            for _ in 0..count {
                emit(i);
            }
        }
    }

    /// One sub-step of every neuron, compiled for `level`, at most the best vector instructions
    /// the CPU has (the same arithmetic, so the same bits, on every path).
    // Calling a function compiled for CPU features is unsafe unless the caller has them, which
    // `vector_level` established.
    #[allow(unsafe_code)]
    fn substep_at(&mut self, level: VectorLevel, c: &Substep, input: &ShardInput<'_>) {
        debug_assert!(level == VectorLevel::Portable || level == vector_level());
        match level {
            // SAFETY: the CPU supports every feature the function is compiled for.
            #[cfg(target_arch = "x86_64")]
            VectorLevel::Avx512 => unsafe { self.substep_avx512(c, input) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            VectorLevel::Avx2 => unsafe { self.substep_avx2(c, input) },
            _ => self.substep(c, input),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2")]
    fn substep_avx512(&mut self, c: &Substep, input: &ShardInput<'_>) {
        self.substep(c, input);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn substep_avx2(&mut self, c: &Substep, input: &ShardInput<'_>) {
        self.substep(c, input);
    }

    /// [`substep_all`] on this shard's arrays, with or without the extra current (two copies,
    /// so neither loop reads a slice it does not need).
    #[inline(always)]
    fn substep(&mut self, c: &Substep, input: &ShardInput<'_>) {
        let s = &mut self.vector_scratch;
        let state = State {
            v_m: &mut self.v_m,
            dg_ex: &mut self.dg_ex,
            g_ex: &mut self.g_ex,
            dg_in: &mut self.dg_in,
            g_in: &mut self.g_in,
            w: &mut self.w,
            refractory_left: &mut self.refractory_left,
            spikes: &mut s.spikes,
            failed: &mut s.failed,
        };
        match input.i_extra {
            None => substep_all(&self.params, c, input.i_stim, |_| 0.0, state),
            Some(extra) => {
                let extra = &extra[..input.i_stim.len()];
                substep_all(&self.params, c, input.i_stim, |i| extra[i], state)
            }
        }
    }
}

/// The shard's arrays one sub-step reads and writes, one slice each: separate slices are what
/// tell the compiler they do not overlap, which it needs to vectorise the loop.
struct State<'a> {
    v_m: &'a mut [f64],
    dg_ex: &'a mut [f64],
    g_ex: &'a mut [f64],
    dg_in: &'a mut [f64],
    g_in: &'a mut [f64],
    w: &'a mut [f64],
    refractory_left: &'a mut [u32],
    spikes: &'a mut [u32],
    failed: &'a mut [u8],
}

/// One RK4 sub-step of every neuron, then `after_substep`'s checks as selects: instability
/// flagged, clamp while refractory, spike with reset, adaptation jump and refractory count.
#[inline(always)]
fn substep_all(p: &AeifCondAlphaParams, c: &Substep, i_stim: &[f64], i_extra: impl Fn(usize) -> f64, s: State<'_>) {
    let n = s.v_m.len();
    let (dg_ex, g_ex, dg_in, g_in, w) =
        (&mut s.dg_ex[..n], &mut s.g_ex[..n], &mut s.dg_in[..n], &mut s.g_in[..n], &mut s.w[..n]);
    let (refractory_left, spikes, failed, i_stim) =
        (&mut s.refractory_left[..n], &mut s.spikes[..n], &mut s.failed[..n], &i_stim[..n]);
    let v_m = s.v_m;
    // Copies in locals: read through references, the parameters would be loaded again in every
    // iteration (the compiler cannot tell that the stores below leave them alone), and the
    // loop would not vectorise.
    let (p, c) = (p.clone(), *c);
    let p = &p;
    for i in 0..n {
        let refractory = refractory_left[i] > 0;
        let mut y = [0.0; STATE_SIZE];
        y[V_M] = v_m[i];
        y[DG_EX] = dg_ex[i];
        y[G_EX] = g_ex[i];
        y[DG_IN] = dg_in[i];
        y[G_IN] = g_in[i];
        y[W] = w[i];
        let rhs = AeifRhs { p, i_stim: i_stim[i], i_extra: i_extra(i), refractory, exp: vector_exp::exp };
        rk4_step(&mut y, c.dt, &rhs);
        let unstable = beyond_nest_bounds(&y);
        let fires = !refractory & (y[V_M] >= c.spike_detection_v);
        v_m[i] = if refractory | fires { c.v_reset } else { y[V_M] };
        w[i] = if fires { y[W] + c.b } else { y[W] };
        dg_ex[i] = y[DG_EX];
        g_ex[i] = y[G_EX];
        dg_in[i] = y[DG_IN];
        g_in[i] = y[G_IN];
        refractory_left[i] = if fires { c.refractory_after_spike } else { refractory_left[i] };
        spikes[i] += u32::from(fires);
        failed[i] |= u8::from(unstable);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aeif_cond_alpha::{AeifIntegration, Recordable};
    use crate::aeif_cond_alpha_astro::{AeifCondAlphaAstro, AeifCondAlphaAstroParams};
    use crate::test_drive::Drive;

    const N: usize = 37;

    fn params(integration: AeifIntegration) -> AeifCondAlphaParams {
        AeifCondAlphaParams { t_ref: 2.0, integration, rk4_substeps: 2, ..Default::default() }
    }

    /// `N` neurons starting at different membrane potentials.
    fn shard(integration: AeifIntegration) -> AeifCondAlpha {
        let mut shard = AeifCondAlpha::new(params(integration), N, 0.1).unwrap();
        for i in 0..N {
            shard.set(Recordable::Vm, i, -70.0 + 0.5 * i as f64);
        }
        shard
    }

    /// Step `k`'s input to every neuron, the same fixed sequence for every path.
    fn input(k: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let drive = Drive {
            n: N,
            ex_every: 7,
            ex_weight: 2.0,
            ex_spread: 1.0,
            inh_every: 11,
            inh_weight: -6.0,
            stim_base: 600.0,
            stim_per_neuron: 20.0,
            stim_swing: 500.0,
        };
        drive.step(k)
    }

    fn state_bits(shard: &AeifCondAlpha) -> Vec<u64> {
        Recordable::ALL.iter().flat_map(|&var| shard.values(var).iter().map(|v| v.to_bits())).collect()
    }

    /// Runs `steps` steps of the shard through `step`, returning every (step, neuron) spike.
    fn run(
        mut shard: AeifCondAlpha,
        steps: usize,
        mut step: impl FnMut(&mut AeifCondAlpha, ShardInput<'_>, &mut Vec<usize>),
    ) -> (AeifCondAlpha, Vec<(usize, usize)>) {
        let mut spikes = Vec::new();
        for k in 0..steps {
            let (ex, inh, stim) = input(k);
            let mut emitted = Vec::new();
            step(&mut shard, ShardInput { ex: &ex, inh: &inh, i_stim: &stim, i_extra: None }, &mut emitted);
            spikes.extend(emitted.into_iter().map(|i| (k, i)));
        }
        (shard, spikes)
    }

    fn one_at_a_time(shard: &mut AeifCondAlpha, input: ShardInput<'_>, emitted: &mut Vec<usize>) {
        for i in 0..N {
            for _ in 0..shard.update_counting_spikes(i, input.ex[i], -input.inh[i], input.i_stim[i]) {
                emitted.push(i);
            }
        }
    }

    #[test]
    fn the_shard_loop_computes_what_one_neuron_at_a_time_does_bit_for_bit() {
        let steps = 5_000;
        let (vector, spikes) = run(shard(AeifIntegration::Rk4Vector), steps, |s, input, out| {
            s.step_shard(input, |i| out.push(i));
        });
        let (single, reference) = run(shard(AeifIntegration::Rk4Vector), steps, one_at_a_time);
        assert!(spikes.len() > 50, "the drive should make the neurons fire: {} spikes", spikes.len());
        assert_eq!(spikes, reference);
        assert_eq!(state_bits(&vector), state_bits(&single));
        assert_eq!(vector.refractory_left, single.refractory_left);
    }

    #[test]
    fn every_vector_path_computes_the_same_bits() {
        // The portable loop against whatever the CPU dispatches to (AVX-512, AVX2).
        let steps = 2_000;
        let (portable, a) = run(shard(AeifIntegration::Rk4Vector), steps, |s, input, out| {
            s.step_shard_at(VectorLevel::Portable, input, |i| out.push(i));
        });
        let (dispatched, b) = run(shard(AeifIntegration::Rk4Vector), steps, |s, input, out| {
            s.step_shard_at(vector_level(), input, |i| out.push(i));
        });
        assert_eq!(a, b);
        assert_eq!(state_bits(&portable), state_bits(&dispatched));
    }

    #[test]
    fn rk4_vector_follows_rk4_to_rounding() {
        // 1 s of 37 irregularly driven neurons: the exponential term's `exp` within 1 ulp of the
        // C library's changes no spike, and the membrane potentials agree to rounding.
        let steps = 10_000;
        let (vector, spikes) = run(shard(AeifIntegration::Rk4Vector), steps, |s, input, out| {
            s.step_shard(input, |i| out.push(i));
        });
        let (scalar, reference) = run(shard(AeifIntegration::Rk4), steps, one_at_a_time);
        assert!(reference.len() > 100, "{} spikes", reference.len());
        assert_eq!(spikes, reference);
        let worst = vector.values(Recordable::Vm).iter().zip(scalar.values(Recordable::Vm)).map(|(a, b)| (a - b).abs());
        let worst = worst.fold(0.0, f64::max);
        assert!(worst < 1e-9, "largest V_m difference {worst} mV");
    }

    #[test]
    fn the_astrocyte_variant_takes_its_slow_inward_current_in_the_shard_loop() {
        let astro = |integration| {
            let p: AeifCondAlphaAstroParams = params(integration);
            AeifCondAlphaAstro::new(p, N, 0.1).unwrap()
        };
        let (mut vector, mut single) = (astro(AeifIntegration::Rk4Vector), astro(AeifIntegration::Rk4Vector));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for k in 0..3_000 {
            let (ex, inh, _) = input(k);
            let stim = vec![600.0; N];
            let sic: Vec<f64> = (0..N).map(|i| if (k / 500 + i) % 3 == 0 { 450.0 } else { 0.0 }).collect();
            vector
                .step_shard(ShardInput { ex: &ex, inh: &inh, i_stim: &stim, i_extra: None }, &sic, |i| a.push((k, i)));
            for i in 0..N {
                for _ in 0..single.update_counting_spikes(i, ex[i], -inh[i], stim[i], sic[i]) {
                    b.push((k, i));
                }
            }
        }
        assert!(!a.is_empty(), "the SIC should make the neurons fire");
        assert_eq!(a, b);
        assert_eq!(state_bits(vector.neuron()), state_bits(single.neuron()));
    }

    #[test]
    fn a_neuron_beyond_nest_s_bounds_is_reported() {
        let mut s = shard(AeifIntegration::Rk4Vector);
        s.set(Recordable::W, 23, 2e6);
        let zeros = vec![0.0; N];
        s.step_shard(ShardInput { ex: &zeros, inh: &zeros, i_stim: &zeros, i_extra: None }, |_| {});
        let e = s.take_instability().expect("an instability");
        assert_eq!((e.neuron, e.integration), (23, AeifIntegration::Rk4Vector));
        assert!(e.to_string().contains("rk4_substeps"), "{e}");
    }
}
