//! Deterministic random streams.
//!
//! Every random draw in laminar comes from a stream that is a pure function of
//! `(seed, purpose, id)`: the run's seed, a purpose string (e.g. `"connect:exc->inh"`,
//! `"init:V_m"`, `"poisson:drive"`) and an id (usually the gid of the neuron the draws are for).
//! Streams are PCG-XSL-RR 128/64 generators (`rand_pcg::Pcg64`) whose 128-bit state and stream
//! selector are derived with SplitMix64 finalisers. Because no stream is shared between neurons,
//! the draws do not depend on the order in which threads create or use them: the same seed gives
//! the same network and the same spikes for any thread count.
//!
//! Draws that are needed for every neuron in every step (a dense Poisson background) come instead
//! from a *counter-based* generator, [`CounterStreams`]: Philox4x32-10 (Salmon, Moraes, Dror &
//! Shaw 2011, "Parallel random numbers: as easy as 1, 2, 3", SC'11,
//! doi:10.1145/2063384.2063405; the generator of Random123 and cuRAND), keyed by
//! `(seed, purpose)` and applied to the counter `(step, id / 2)`, whose 128 bits are the uniforms
//! of the even id and the odd one after it. It is as much a pure function of
//! `(seed, purpose, id)` and the step as a stream is, but it keeps no state: a stream per neuron
//! would move its 32 bytes of state through memory every step, and the draws of many neurons can
//! be computed together in vector registers.

use rand_pcg::Pcg64;

/// The generator type of every stream.
pub type Stream = Pcg64;

/// SplitMix64's finaliser: a bijective 64-bit mixer with good avalanche.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a purpose string: stable across Rust versions and platforms (unlike `std::hash`).
pub fn purpose_hash(purpose: &str) -> u64 {
    purpose_hash_parts(&[purpose])
}

/// [`purpose_hash`] of the concatenation of `parts`, without writing it out.
pub fn purpose_hash_parts(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The stream for `(seed, purpose, id)`; `purpose` is a [`purpose_hash`].
pub fn stream(seed: u64, purpose: u64, id: u64) -> Stream {
    let a = mix(seed ^ mix(purpose));
    let b = mix(a ^ mix(id.wrapping_add(0x632B_E59B_D9B4_E019)));
    let c = mix(b ^ 0xD1B5_4A32_D192_ED03);
    let d = mix(c ^ purpose.rotate_left(17));
    let state = (u128::from(a ^ d) << 64) | u128::from(b);
    let selector = (u128::from(c) << 64) | u128::from(d ^ id);
    Pcg64::new(state, selector)
}

/// Convenience: the stream for a purpose given as a string.
pub fn stream_for(seed: u64, purpose: &str, id: u64) -> Stream {
    stream(seed, purpose_hash(purpose), id)
}

/// Philox4x32-10: ten rounds of the Philox bijection of `ctr` under `key` (Random123's
/// `philox4x32_R` with R = 10, checked against its known-answer vectors).
#[inline(always)]
pub fn philox4x32_10(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    const M0: u64 = 0xD251_1F53;
    const M1: u64 = 0xCD9E_8D57;
    const W0: u32 = 0x9E37_79B9;
    const W1: u32 = 0xBB67_AE85;
    let [mut c0, mut c1, mut c2, mut c3] = ctr;
    let [mut k0, mut k1] = key;
    for round in 0..10 {
        if round > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        let p0 = M0 * u64::from(c0);
        let p1 = M1 * u64::from(c2);
        let (hi0, lo0, hi1, lo1) = ((p0 >> 32) as u32, p0 as u32, (p1 >> 32) as u32, p1 as u32);
        (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0);
    }
    [c0, c1, c2, c3]
}

/// Counter-based uniform draws for one `(seed, purpose)`. One Philox4x32-10 call gives 128 bits,
/// two uniforms: the call for the counter `[step, id / 2]` (each as two 32-bit words, low first)
/// under a key derived from the seed and the purpose gives the uniform of an even `id` from its
/// first 64 bits and of `id + 1` from its last 64, so that neighbours are drawn together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterStreams {
    key: [u32; 2],
}

impl CounterStreams {
    /// The draws for `(seed, purpose)`; `purpose` is a [`purpose_hash`].
    pub fn new(seed: u64, purpose: u64) -> Self {
        let k = mix(seed ^ mix(purpose ^ 0x5851_F42D_4C95_7F2D));
        Self { key: [k as u32, (k >> 32) as u32] }
    }

    /// The uniform in [0, 1) for neuron (or channel) `id` in step `step`.
    #[inline(always)]
    pub fn uniform(&self, id: u64, step: u64) -> f64 {
        let [even, odd] = self.pair(id / 2, step);
        if id.is_multiple_of(2) { even } else { odd }
    }

    /// The uniforms of ids `2·pair` and `2·pair + 1` in step `step`: one Philox call.
    #[inline(always)]
    pub fn pair(&self, pair: u64, step: u64) -> [f64; 2] {
        let [a, b, c, d] =
            philox4x32_10([step as u32, (step >> 32) as u32, pair as u32, (pair >> 32) as u32], self.key);
        [unit_interval((u64::from(b) << 32) | u64::from(a)), unit_interval((u64::from(d) << 32) | u64::from(c))]
    }
}

/// A uniform in [0, 1) from the top 52 bits of `bits`: those bits as the mantissa of a number in
/// [1, 2), minus 1 (exact; every multiple of 2⁻⁵² in [0, 1) equally likely). Unlike a conversion
/// of a 64-bit integer, this has a vector form on every x86-64 level.
#[inline(always)]
fn unit_interval(bits: u64) -> f64 {
    f64::from_bits(0x3FF0_0000_0000_0000 | (bits >> 12)) - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// Random123's `tests/kat_vectors`, the three `philox4x32 10` lines (counter, key, result).
    #[test]
    fn philox_matches_the_known_answers() {
        assert_eq!(philox4x32_10([0; 4], [0; 2]), [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]);
        assert_eq!(philox4x32_10([u32::MAX; 4], [u32::MAX; 2]), [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]);
        assert_eq!(
            philox4x32_10([0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344], [0xa409_3822, 0x299f_31d0]),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn counter_draws_are_uniform_and_depend_on_every_input() {
        let draws = CounterStreams::new(3, purpose_hash("poisson:0"));
        let n = 200_000u64;
        let (mut sum, mut sum_sq, mut below_tenth) = (0.0, 0.0, 0u64);
        for k in 0..n {
            let u = draws.uniform(k % 1000, k / 1000);
            assert!((0.0..1.0).contains(&u));
            sum += u;
            sum_sq += u * u;
            below_tenth += u64::from(u < 0.1);
        }
        let mean = sum / n as f64;
        let var = sum_sq / n as f64 - mean * mean;
        // Standard errors: 6.5e-4 for the mean, 2.9e-4 for the variance, 6.7e-4 for the fraction.
        assert!((mean - 0.5).abs() < 4e-3, "mean {mean}");
        assert!((var - 1.0 / 12.0).abs() < 2e-3, "variance {var}");
        assert!((below_tenth as f64 / n as f64 - 0.1).abs() < 4e-3);
        let u = draws.uniform(7, 11);
        assert_eq!(u, CounterStreams::new(3, purpose_hash("poisson:0")).uniform(7, 11));
        assert_eq!(draws.pair(3, 11), [draws.uniform(6, 11), u]);
        for other in [
            draws.uniform(6, 11),
            draws.uniform(8, 11),
            draws.uniform(7, 12),
            draws.uniform(7 + (1 << 32), 11),
            draws.uniform(7, 11 + (1 << 32)),
            CounterStreams::new(4, purpose_hash("poisson:0")).uniform(7, 11),
            CounterStreams::new(3, purpose_hash("poisson:1")).uniform(7, 11),
        ] {
            assert_ne!(u, other);
        }
    }

    #[test]
    fn a_purpose_in_parts_hashes_as_written_out() {
        assert_eq!(purpose_hash_parts(&["connect:", "L23E->L4I"]), purpose_hash("connect:L23E->L4I"));
        assert_eq!(purpose_hash_parts(&[]), purpose_hash(""));
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let mut a = stream_for(1, "x", 7);
        let mut b = stream_for(1, "x", 7);
        assert_eq!(a.next_u64(), b.next_u64());
        let first: Vec<u64> =
            [stream_for(1, "x", 8).next_u64(), stream_for(2, "x", 7).next_u64(), stream_for(1, "y", 7).next_u64()]
                .to_vec();
        let mut c = stream_for(1, "x", 7);
        let base = c.next_u64();
        assert!(first.iter().all(|&v| v != base));
    }
}
