//! Deterministic random streams.
//!
//! Every random draw in laminar comes from a stream that is a pure function of
//! `(seed, purpose, id)`: the run's seed, a purpose string (e.g. `"connect:exc->inh"`,
//! `"init:V_m"`, `"poisson:drive"`) and an id (usually the gid of the neuron the draws are for).
//! Streams are PCG-XSL-RR 128/64 generators (`rand_pcg::Pcg64`) whose 128-bit state and stream
//! selector are derived with SplitMix64 finalisers. Because no stream is shared between neurons,
//! the draws do not depend on the order in which threads create or use them: the same seed gives
//! the same network and the same spikes for any thread count.

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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

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
