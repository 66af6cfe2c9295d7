//! `integration = "rk4_vector"`: the RK4 sub-steps of every neuron of a shard in one loop per
//! sub-step, compiled for AVX-512 or AVX2.
//!
//! The model's right-hand side has no exponential and its refractory state is fixed for the
//! whole step (NEST evaluates it at the step's start), so a sub-step is the same arithmetic for
//! every neuron, without a branch: the loop over neurons vectorises, four or eight neurons per
//! instruction. The input, the refractory count and the threshold follow in a second, scalar
//! pass (`IafCondExp::after_step`, which `update` uses too). Every neuron meets the same
//! operations in the same order as in `rk4`, one neuron at a time, so the two give the same bits
//! (tested), on every vector path.

use super::{CondRhs, IafCondExp, IafCondExpParams};
use crate::odeint::rk4_step;
use crate::vector_level::{VectorLevel, vector_level};

impl IafCondExp {
    /// One step of every neuron: `ex` and `inh` the summed weights delivered in this step (`inh`
    /// negative, as the ring buffer holds inhibitory weights: NEST adds −w), `i_stim` the injected
    /// current; `emit(i)` for each neuron that spikes, in neuron order.
    pub(crate) fn step_shard(&mut self, ex: &[f64], inh: &[f64], i_stim: &[f64], emit: impl FnMut(usize)) {
        self.step_shard_at(vector_level(), ex, inh, i_stim, emit);
    }

    /// [`Self::step_shard`] with the sub-steps compiled for `level` (tests compare the levels).
    fn step_shard_at(
        &mut self,
        level: VectorLevel,
        ex: &[f64],
        inh: &[f64],
        i_stim: &[f64],
        mut emit: impl FnMut(usize),
    ) {
        let dt = self.h_ms / f64::from(self.params.rk4_substeps);
        for _ in 0..self.params.rk4_substeps {
            self.substep_at(level, dt, i_stim);
        }
        for i in 0..self.v_m.len() {
            let y = [self.v_m[i], self.g_ex[i], self.g_in[i]];
            if self.after_step(i, y, ex[i], -inh[i]) {
                emit(i);
            }
        }
    }

    /// One sub-step of every neuron, compiled for `level`, at most the best vector instructions
    /// the CPU has (the same arithmetic, so the same bits, on every path).
    // Calling a function compiled for CPU features is unsafe unless the caller has them, which
    // `vector_level` established.
    #[allow(unsafe_code)]
    fn substep_at(&mut self, level: VectorLevel, dt: f64, i_stim: &[f64]) {
        debug_assert!(level == VectorLevel::Portable || level == vector_level());
        match level {
            // SAFETY: the CPU supports every feature the function is compiled for.
            #[cfg(target_arch = "x86_64")]
            VectorLevel::Avx512 => unsafe { self.substep_avx512(dt, i_stim) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            VectorLevel::Avx2 => unsafe { self.substep_avx2(dt, i_stim) },
            _ => self.substep(dt, i_stim),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2")]
    fn substep_avx512(&mut self, dt: f64, i_stim: &[f64]) {
        self.substep(dt, i_stim);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn substep_avx2(&mut self, dt: f64, i_stim: &[f64]) {
        self.substep(dt, i_stim);
    }

    #[inline(always)]
    fn substep(&mut self, dt: f64, i_stim: &[f64]) {
        substep_all(&self.params, dt, i_stim, &mut self.v_m, &mut self.g_ex, &mut self.g_in, &self.refractory_left);
    }
}

/// One RK4 sub-step of every neuron. One slice per state variable, as separate arguments: that
/// is what tells the compiler they do not overlap, which it needs to vectorise the loop.
#[inline(always)]
fn substep_all(
    p: &IafCondExpParams,
    dt: f64,
    i_stim: &[f64],
    v_m: &mut [f64],
    g_ex: &mut [f64],
    g_in: &mut [f64],
    refractory_left: &[u32],
) {
    let n = v_m.len();
    let (g_ex, g_in, refractory_left, i_stim) = (&mut g_ex[..n], &mut g_in[..n], &refractory_left[..n], &i_stim[..n]);
    // A copy in a local: read through the reference, the parameters would be loaded again in
    // every iteration (the compiler cannot tell that the stores leave them alone), and the loop
    // would not vectorise.
    let p = p.clone();
    for i in 0..n {
        let rhs = CondRhs { p: &p, i_stim: i_stim[i], refractory: refractory_left[i] > 0 };
        let mut y = [v_m[i], g_ex[i], g_in[i]];
        rk4_step(&mut y, dt, &rhs);
        [v_m[i], g_ex[i], g_in[i]] = y;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iaf_cond_exp::Recordable;
    use crate::odeint::Integration;
    use crate::test_drive::Drive;

    const N: usize = 37;

    fn shard(integration: Integration) -> IafCondExp {
        let params = IafCondExpParams { integration, rk4_substeps: 2, ..Default::default() };
        let mut shard = IafCondExp::new(params, N, 0.1).unwrap();
        for i in 0..N {
            shard.set(Recordable::Vm, i, -70.0 + 0.4 * i as f64);
        }
        shard
    }

    /// Step `k`'s input to every neuron, the same fixed sequence for every path.
    fn input(k: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let drive = Drive {
            n: N,
            ex_every: 5,
            ex_weight: 3.0,
            ex_spread: 0.5,
            inh_every: 13,
            inh_weight: -4.0,
            stim_base: 200.0,
            stim_per_neuron: 4.0,
            stim_swing: 80.0,
        };
        drive.step(k)
    }

    fn run(
        mut shard: IafCondExp,
        steps: usize,
        mut step: impl FnMut(&mut IafCondExp, &[f64], &[f64], &[f64], &mut Vec<usize>),
    ) -> (IafCondExp, Vec<(usize, usize)>) {
        let mut spikes = Vec::new();
        for k in 0..steps {
            let (ex, inh, stim) = input(k);
            let mut emitted = Vec::new();
            step(&mut shard, &ex, &inh, &stim, &mut emitted);
            spikes.extend(emitted.into_iter().map(|i| (k, i)));
        }
        (shard, spikes)
    }

    fn one_at_a_time(s: &mut IafCondExp, ex: &[f64], inh: &[f64], stim: &[f64], out: &mut Vec<usize>) {
        for i in 0..N {
            if s.update(i, ex[i], -inh[i], stim[i]) {
                out.push(i);
            }
        }
    }

    fn state_bits(s: &IafCondExp) -> Vec<u64> {
        Recordable::ALL.iter().flat_map(|&var| s.values(var).iter().map(|v| v.to_bits())).collect()
    }

    #[test]
    fn the_shard_loop_computes_what_rk4_does_one_neuron_at_a_time_bit_for_bit() {
        let steps = 5_000;
        let (vector, spikes) = run(shard(Integration::Rk4Vector), steps, |s, ex, inh, stim, out| {
            s.step_shard(ex, inh, stim, |i| out.push(i))
        });
        let (scalar, reference) = run(shard(Integration::Rk4), steps, one_at_a_time);
        assert!(reference.len() > 100, "the drive should make the neurons fire: {} spikes", reference.len());
        assert_eq!(spikes, reference);
        assert_eq!(state_bits(&vector), state_bits(&scalar));
        assert_eq!(vector.refractory_left, scalar.refractory_left);
    }

    #[test]
    fn every_vector_path_computes_the_same_bits() {
        let steps = 2_000;
        let (portable, a) = run(shard(Integration::Rk4Vector), steps, |s, ex, inh, stim, out| {
            s.step_shard_at(VectorLevel::Portable, ex, inh, stim, |i| out.push(i));
        });
        let (dispatched, b) = run(shard(Integration::Rk4Vector), steps, |s, ex, inh, stim, out| {
            s.step_shard_at(vector_level(), ex, inh, stim, |i| out.push(i));
        });
        assert_eq!(a, b);
        assert_eq!(state_bits(&portable), state_bits(&dispatched));
    }

    #[test]
    fn rk4_follows_the_adaptive_reference() {
        // 1 s of 37 irregularly driven neurons against NEST's adaptive RKF45 (tolerance 1e-3 mV):
        // per neuron the same number of spikes, each in the reference's step or next to it.
        let steps = 10_000;
        let (_, reference) = run(shard(Integration::Rkf45), steps, one_at_a_time);
        for substeps in [1u32, 2, 4] {
            let mut s = shard(Integration::Rk4Vector);
            s.params.rk4_substeps = substeps;
            let (_, spikes) = run(s, steps, |s, ex, inh, stim, out| s.step_shard(ex, inh, stim, |i| out.push(i)));
            let per_neuron = |spikes: &[(usize, usize)], i: usize| -> Vec<usize> {
                spikes.iter().filter(|s| s.1 == i).map(|s| s.0).collect()
            };
            let mut moved = 0;
            for i in 0..N {
                let (a, b) = (per_neuron(&spikes, i), per_neuron(&reference, i));
                assert_eq!(a.len(), b.len(), "{substeps} sub-steps, neuron {i}");
                assert!(a.iter().zip(&b).all(|(x, y)| x.abs_diff(*y) <= 1), "{substeps} sub-steps, neuron {i}");
                moved += a.iter().zip(&b).filter(|(x, y)| x != y).count();
            }
            // Measured: 1, 2 and 2 of 929 spikes one step off with 1, 2 and 4 sub-steps.
            println!("{substeps} sub-steps: {moved} of {} spikes one step off", reference.len());
            assert!(moved <= 3, "{substeps} sub-steps: {moved} spikes moved");
        }
    }
}
