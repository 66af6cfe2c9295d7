//! A fixed, irregular drive for the kernels' tests, so that every integration path a test
//! compares sees the same input sequence.

/// Per step and neuron: an excitatory kick of `ex_weight + U·ex_spread` (U in [0, 8.4)) with
/// probability about 1/`ex_every`, an inhibitory kick of `inh_weight` (negative, as the ring
/// buffer holds it) with probability about 1/`inh_every`, and an injected current of
/// `stim_base + stim_per_neuron·i + stim_swing·sin(t / 40 ms)`.
pub(crate) struct Drive {
    pub n: usize,
    pub ex_every: u64,
    pub ex_weight: f64,
    pub ex_spread: f64,
    pub inh_every: u64,
    pub inh_weight: f64,
    pub stim_base: f64,
    pub stim_per_neuron: f64,
    pub stim_swing: f64,
}

impl Drive {
    /// Step `k`'s `(excitatory, inhibitory, current)` for every neuron (0.1-ms steps): a xorshift
    /// sequence seeded by `k`.
    pub fn step(&self, k: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (k as u64).wrapping_mul(0x2545_f491_4f6c_dd1d);
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let n = self.n;
        let ex = (0..n)
            .map(|_| {
                if next().is_multiple_of(self.ex_every) {
                    self.ex_weight + (next() >> 40) as f64 / 2e6 * self.ex_spread
                } else {
                    0.0
                }
            })
            .collect();
        let inh = (0..n).map(|_| if next().is_multiple_of(self.inh_every) { self.inh_weight } else { 0.0 }).collect();
        let swing = (k as f64 * 0.1 / 40.0).sin();
        let stim = (0..n).map(|i| self.stim_base + self.stim_per_neuron * i as f64 + self.stim_swing * swing).collect();
        (ex, inh, stim)
    }
}
