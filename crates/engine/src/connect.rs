//! Connection rules, weight and delay distributions.
//!
//! Rules follow NEST's names and semantics: `all_to_all`, `one_to_one`,
//! `pairwise_bernoulli(p)`, `fixed_indegree(K)`, `fixed_outdegree(K)`,
//! `fixed_total_number(N)`, with switches for autapses and multapses, and explicit lists.
//!
//! **Determinism.** Every rule except `fixed_outdegree` draws a target's incoming synapses from
//! the stream `(seed, "connect:<projection>", target gid)`, and their weights and delays from
//! `(seed, "weight:<projection>", target gid)` and `(seed, "delay:<projection>", target gid)`.
//! `fixed_outdegree` draws per source gid instead. `fixed_total_number` first splits N over the
//! targets with a multinomial drawn from one stream (`(seed, "connect-total:<projection>", 0)`).
//! A thread generates exactly the synapses of the targets it owns, so construction is parallel
//! and the network is the same for any thread count.

use rand::RngExt;
use rand_distr::{Binomial, Distribution, LogNormal, Normal};

use crate::rng::{Stream, purpose_hash_parts, stream, stream_for};

/// How sources and targets are paired.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    AllToAll,
    OneToOne,
    PairwiseBernoulli {
        p: f64,
    },
    FixedIndegree {
        k: u64,
    },
    FixedOutdegree {
        k: u64,
    },
    FixedTotalNumber {
        n: u64,
    },
    /// Explicit `(source index, target index, weight, delay ms)` within the two populations.
    Explicit(Vec<ExplicitEdge>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExplicitEdge {
    pub source: u64,
    pub target: u64,
    pub weight: f64,
    pub delay_ms: f64,
}

/// A value that is constant or drawn per synapse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dist {
    Constant(f64),
    /// Normal(mean, std); for weights redrawn until the sign matches the mean's, for delays
    /// redrawn until ≥ the resolution (NEST's `redraw`).
    Normal {
        mean: f64,
        std: f64,
    },
    Uniform {
        low: f64,
        high: f64,
    },
    /// exp(Normal(mu, sigma)) — `mu`, `sigma` of the underlying normal, as NEST's lognormal.
    LogNormal {
        mu: f64,
        sigma: f64,
    },
}

/// Redraws are bounded so a distribution that (almost) never satisfies its constraint fails
/// loudly instead of looping; validation rejects such parameter sets before this is reached.
const MAX_REDRAWS: usize = 10_000;

impl Dist {
    pub fn is_constant(&self) -> bool {
        matches!(self, Dist::Constant(_))
    }

    /// The distribution's mean (for the sign of redrawn weights and for reports).
    /// A value that draws exceed with probability below 10⁻²⁰ (the support's upper end for
    /// constants and uniforms; ten standard deviations above the mean for normals, of the
    /// underlying normal for lognormals): what validation compares with an upper limit, such as
    /// the longest delay, so that a draw cannot fail the build after the file was accepted.
    pub fn practical_max(&self) -> f64 {
        match *self {
            Dist::Constant(v) => v,
            Dist::Normal { mean, std } => mean + 10.0 * std.abs(),
            Dist::Uniform { low, high } => low.max(high),
            Dist::LogNormal { mu, sigma } => (mu + 10.0 * sigma.abs()).exp(),
        }
    }

    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Constant(v) => v,
            Dist::Normal { mean, .. } => mean,
            Dist::Uniform { low, high } => 0.5 * (low + high),
            Dist::LogNormal { mu, sigma } => (mu + 0.5 * sigma * sigma).exp(),
        }
    }

    fn draw_raw(&self, rng: &mut Stream) -> f64 {
        match *self {
            Dist::Constant(v) => v,
            Dist::Normal { mean, std } => {
                if std == 0.0 {
                    mean
                } else {
                    Normal::new(mean, std).map(|d| d.sample(rng)).unwrap_or(mean)
                }
            }
            Dist::Uniform { low, high } => low + (high - low) * rng.random::<f64>(),
            Dist::LogNormal { mu, sigma } => LogNormal::new(mu, sigma).map(|d| d.sample(rng)).unwrap_or(mu.exp()),
        }
    }

    /// A weight: normal draws are redrawn until they have the sign of the mean (0 allowed).
    pub fn draw_weight(&self, rng: &mut Stream) -> f64 {
        if let Dist::Normal { mean, .. } = *self {
            for _ in 0..MAX_REDRAWS {
                let w = self.draw_raw(rng);
                if w * mean >= 0.0 {
                    return w;
                }
            }
            return 0.0;
        }
        self.draw_raw(rng)
    }

    /// A delay in ms, redrawn until ≥ `h` (normal) and clamped to ≥ h otherwise.
    pub fn draw_delay(&self, rng: &mut Stream, h: f64) -> f64 {
        if let Dist::Normal { .. } = *self {
            for _ in 0..MAX_REDRAWS {
                let d = self.draw_raw(rng);
                if d >= h {
                    return d;
                }
            }
        }
        self.draw_raw(rng).max(h)
    }
}

/// Draws a projection's synapses onto one target: pushes source indices (within the source
/// population) in their canonical order.
pub struct TargetDraw<'a> {
    pub projection: &'a str,
    pub seed: u64,
    pub n_sources: u64,
    pub n_targets: u64,
    pub autapses: bool,
    pub multapses: bool,
    /// Source and target are the same population (autapses are meaningful).
    pub same_population: bool,
    pub source_first_gid: u64,
    pub target_first_gid: u64,
}

impl TargetDraw<'_> {
    /// The hash of the purpose `connect:<projection>` (see [`crate::rng`]), without writing the
    /// string out (this is asked for once per target).
    fn connect_purpose(&self) -> u64 {
        purpose_hash_parts(&["connect:", self.projection])
    }

    fn excluded(&self, source: u64, target: u64) -> bool {
        self.same_population && !self.autapses && source == target
    }

    /// Sources of target `target` (index within its population) for rules drawn per target.
    /// `marks` is scratch of length ≥ n_sources, all false on entry and on exit.
    pub fn sources(
        &self,
        rule: &Rule,
        target: u64,
        per_target_total: Option<u64>,
        marks: &mut [bool],
        out: &mut Vec<u64>,
    ) {
        let gid = self.target_first_gid + target;
        let mut rng = stream(self.seed, self.connect_purpose(), gid);
        match *rule {
            Rule::AllToAll => {
                out.extend((0..self.n_sources).filter(|&s| !self.excluded(s, target)));
            }
            Rule::OneToOne => {
                if target < self.n_sources && !self.excluded(target, target) {
                    out.push(target);
                }
            }
            Rule::PairwiseBernoulli { p } => {
                if p >= 1.0 {
                    out.extend((0..self.n_sources).filter(|&s| !self.excluded(s, target)));
                } else if p > 0.0 {
                    // Geometric skipping: the gap to the next success is Geometric(p), which
                    // visits each pair with probability p using O(successes) draws.
                    let log_q = (1.0 - p).ln();
                    let mut s: u64 = 0;
                    loop {
                        let u: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
                        let gap = (u.ln() / log_q).floor();
                        if !gap.is_finite() || gap >= (self.n_sources - s) as f64 {
                            break;
                        }
                        s += gap as u64;
                        if !self.excluded(s, target) {
                            out.push(s);
                        }
                        s += 1;
                        if s >= self.n_sources {
                            break;
                        }
                    }
                }
            }
            Rule::FixedIndegree { k } => self.draw_k(&mut rng, k, target, marks, out),
            Rule::FixedTotalNumber { .. } => self.draw_k(&mut rng, per_target_total.unwrap_or(0), target, marks, out),
            Rule::FixedOutdegree { .. } | Rule::Explicit(_) => {}
        }
    }

    /// `k` sources drawn uniformly (with replacement if multapses are allowed).
    fn draw_k(&self, rng: &mut Stream, k: u64, target: u64, marks: &mut [bool], out: &mut Vec<u64>) {
        let start = out.len();
        let available = self.n_sources - u64::from(self.same_population && !self.autapses && target < self.n_sources);
        if available == 0 {
            return;
        }
        let mut drawn = 0;
        while drawn < k {
            let s = rng.random_range(0..self.n_sources);
            if self.excluded(s, target) {
                continue;
            }
            if !self.multapses {
                if marks[s as usize] {
                    continue;
                }
                marks[s as usize] = true;
            }
            out.push(s);
            drawn += 1;
            if !self.multapses && drawn >= available {
                break;
            }
        }
        if !self.multapses {
            for &s in &out[start..] {
                marks[s as usize] = false;
            }
        }
    }

    /// Targets of source `source` for `fixed_outdegree`, drawn from the source's stream.
    pub fn outdegree_targets(&self, k: u64, source: u64, marks: &mut [bool], out: &mut Vec<u64>) {
        let gid = self.source_first_gid + source;
        let mut rng = stream(self.seed, self.connect_purpose(), gid);
        let start = out.len();
        let available = self.n_targets - u64::from(self.same_population && !self.autapses && source < self.n_targets);
        let mut drawn = 0;
        while drawn < k && available > 0 {
            let t = rng.random_range(0..self.n_targets);
            if self.excluded(source, t) {
                continue;
            }
            if !self.multapses {
                if marks[t as usize] {
                    continue;
                }
                marks[t as usize] = true;
            }
            out.push(t);
            drawn += 1;
            if !self.multapses && drawn >= available {
                break;
            }
        }
        if !self.multapses {
            for &t in &out[start..] {
                marks[t as usize] = false;
            }
        }
    }

    /// How many of the `n` synapses of `fixed_total_number` each target receives: a multinomial
    /// with equal cell probabilities, drawn as successive binomials from one stream.
    pub fn total_number_split(&self, n: u64) -> Vec<u64> {
        let mut rng = stream_for(self.seed, &format!("connect-total:{}", self.projection), 0);
        let mut remaining = n;
        let mut counts = Vec::with_capacity(self.n_targets as usize);
        for t in 0..self.n_targets {
            let cells_left = self.n_targets - t;
            let c = if cells_left == 1 {
                remaining
            } else if remaining == 0 {
                0
            } else {
                Binomial::new(remaining, 1.0 / cells_left as f64).map(|b| b.sample(&mut rng)).unwrap_or(0)
            };
            counts.push(c);
            remaining -= c;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(n_s: u64, n_t: u64, autapses: bool, multapses: bool) -> TargetDraw<'static> {
        TargetDraw {
            projection: "p",
            seed: 42,
            n_sources: n_s,
            n_targets: n_t,
            autapses,
            multapses,
            same_population: true,
            source_first_gid: 0,
            target_first_gid: 0,
        }
    }

    #[test]
    fn bernoulli_mean_matches_p() {
        let d = draw(2000, 500, true, false);
        let mut marks = vec![false; 2000];
        let mut total = 0usize;
        for t in 0..500 {
            let mut out = Vec::new();
            d.sources(&Rule::PairwiseBernoulli { p: 0.05 }, t, None, &mut marks, &mut out);
            assert!(out.windows(2).all(|w| w[0] < w[1]));
            total += out.len();
        }
        let expected: f64 = 0.05 * 2000.0 * 500.0;
        let sd = (expected * 0.95).sqrt();
        assert!((total as f64 - expected).abs() < 5.0 * sd, "{total} vs {expected}");
    }

    #[test]
    fn indegree_without_multapses_or_autapses() {
        let d = draw(50, 50, false, false);
        let mut marks = vec![false; 50];
        for t in 0..50 {
            let mut out = Vec::new();
            d.sources(&Rule::FixedIndegree { k: 49 }, t, None, &mut marks, &mut out);
            assert_eq!(out.len(), 49);
            assert!(!out.contains(&t));
            let mut s = out.clone();
            s.sort();
            s.dedup();
            assert_eq!(s.len(), 49);
            assert!(marks.iter().all(|m| !m));
        }
    }

    #[test]
    fn total_number_split_sums() {
        let d = draw(100, 37, true, true);
        let c = d.total_number_split(1000);
        assert_eq!(c.len(), 37);
        assert_eq!(c.iter().sum::<u64>(), 1000);
    }

    #[test]
    fn redrawn_normal_keeps_sign_and_delay_floor() {
        let mut rng = stream_for(1, "t", 0);
        let w = Dist::Normal { mean: -1.0, std: 2.0 };
        assert!((0..1000).all(|_| w.draw_weight(&mut rng) <= 0.0));
        let d = Dist::Normal { mean: 0.2, std: 1.0 };
        assert!((0..1000).all(|_| d.draw_delay(&mut rng, 0.1) >= 0.1));
    }
}
