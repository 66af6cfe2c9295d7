//! Stimulus devices: `poisson_generator`, `dc_generator`, `step_current_generator`.
//!
//! Devices connect to neurons with a weight and a delay like synapses do, and are event-driven:
//! a channel (one per device→target connection) is due only when it has something to deliver.
//!
//! - **poisson_generator** (`rate` Hz, `start`, `stop` ms): every target receives its *own*
//!   Poisson train (as in NEST). The train is drawn as exponential inter-spike intervals in
//!   continuous time from the stream `(seed, "poisson:<device>", target gid)`; the arrivals that
//!   fall into step k (time in `[k·h, (k+1)·h)`) are emitted in step k as one event of multiplicity n
//!   (stamped (k+1)·h, like a neuron's spike of step k). As in NEST, the device is active in the
//!   steps k with start/h < k ≤ stop/h (`StimulationDevice::is_active`), spikes stamped in
//!   (start + h, stop + h]: arrival times in [start + h, stop + h). This is the same process NEST samples per step as
//!   Poisson counts with mean `rate·h`, drawn differently (so statistically, not bitwise, equal).
//!   Dense drive (1 ≤ rate·h ≤ 30 arrivals per step, with start and stop on the grid, e.g. the
//!   Potjans–Diesmann background) is drawn as NEST does, one Poisson count per step (by
//!   inversion from one uniform), which avoids a logarithm per arrival; the uniform of step k
//!   is half of Philox4x32-10 of `(k, target gid / 2)` (the other half is the neighbouring gid's)
//!   under the key of `(seed, "poisson:<device>")`
//!   ([`CounterStreams`]), so the drive keeps no state per target and the uniforms of a block of
//!   targets are computed in one vectorised loop. Above 30 arrivals per
//!   step (aggregated input of many sources) each step's count is drawn directly from
//!   Poisson(rate·|step ∩ [start, stop)|) (`rand_distr`'s PTRS sampler, O(1) whatever the rate),
//!   so a step costs the same at 10⁴ Hz as at 10¹² Hz. A channel carries at most
//!   [`MAX_ARRIVALS_PER_STEP`] arrivals per step on average (its count is a 32-bit multiplicity);
//!   a higher rate is refused when the model is loaded, with the largest rate allowed at the
//!   file's resolution.
//! - **dc_generator** (`amplitude` pA, `start`, `stop` ms): the current (times the connection
//!   weight) acts during the steps k with `k·h ∈ (start + d − h, stop + d − h]` for delay d,
//!   which for NEST's usual d = h is `(start, stop]`, the alignment NEST's parity cases show.
//! - **step_current_generator** (`amplitude_times` ms, `amplitude_values` pA): the amplitude
//!   switches to `amplitude_values[j]` from the step k with `k·h = amplitude_times[j] + d − h`.
//!
//! Reference: NEST `models/{poisson,dc,step_current}_generator.{h,cpp}`.

use laminar_engine::rng::{CounterStreams, Stream, purpose_hash, stream_for};
use laminar_engine::{
    BuildContext, ChannelTarget, ModelError, Resolution, StateError, StateIo, Step, Stimulus, StimulusFactory,
    StimulusSink,
};
use rand::RngExt;
use rand_distr::Distribution;
use serde::Deserialize;

use crate::params::{ParamError, Validate, non_negative};

fn ms_to_start_step(resolution: Resolution, ms: f64, what: &str) -> Result<Step, ModelError> {
    resolution.exact_steps(ms).map_err(|e| ModelError(format!("{what}: {e}")))
}

// ---------------------------------------------------------------- poisson_generator

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoissonParams {
    /// Rate in spikes/s.
    pub rate: f64,
    pub start: f64,
    pub stop: f64,
}

impl Default for PoissonParams {
    fn default() -> Self {
        Self { rate: 0.0, start: 0.0, stop: f64::INFINITY }
    }
}

impl Validate for PoissonParams {
    fn validate(&self) -> Result<(), ParamError> {
        non_negative("rate", self.rate, "spikes/s")?;
        non_negative("start", self.start, "ms")?;
        if self.stop.is_nan() || self.stop < self.start {
            return Err(ParamError::new("stop", self.stop, "must be >= start"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct PoissonFactory {
    pub params: PoissonParams,
}

impl StimulusFactory for PoissonFactory {
    fn name(&self) -> &'static str {
        "poisson_generator"
    }

    fn injects_current(&self) -> bool {
        false
    }

    fn build(
        &self,
        device: u64,
        targets: Vec<ChannelTarget>,
        ctx: &BuildContext,
    ) -> Result<Box<dyn Stimulus>, ModelError> {
        self.params.validate().map_err(|e| ModelError(e.to_string()))?;
        let purpose = format!("poisson:{device}");
        let h = ctx.resolution.h();
        let mean_per_step = self.params.rate / 1000.0 * h;
        if mean_per_step > MAX_ARRIVALS_PER_STEP {
            return Err(ModelError(format!(
                "rate = {}: {} arrivals per step of {h} ms; a channel carries at most {} per step \
                 (rate <= {} spikes/s at this resolution)",
                crate::params::compact(self.params.rate),
                crate::params::compact(mean_per_step),
                crate::params::compact(MAX_ARRIVALS_PER_STEP),
                crate::params::compact(MAX_ARRIVALS_PER_STEP / h * 1000.0),
            )));
        }
        // Dense drive (≥ 1 arrival per step on average, e.g. PD14's background) is drawn as one
        // Poisson count per step instead of one exponential interval per arrival; the window
        // must then cover whole steps.
        // NEST's spike generators are active in the steps k with start/h < k <= stop/h
        // (`StimulationDevice::is_active`): the arrivals of [start + h, stop + h) in step time.
        let (start, stop) = (self.params.start + h, self.params.stop + h);
        let on_grid = |ms: f64| ms.is_infinite() || ctx.resolution.exact_steps(ms).is_ok();
        let dense = (DENSE_MIN_MEAN..=DENSE_MAX_MEAN).contains(&mean_per_step)
            && on_grid(self.params.start)
            && on_grid(self.params.stop);
        let high_rate = (mean_per_step > DENSE_MAX_MEAN).then(|| HighRate {
            rate_per_ms: self.params.rate / 1000.0,
            start,
            stop,
            h,
        });
        // Per-step counts draw from counter-based streams (no state per channel); arrival
        // intervals and high-rate counts from a stream per channel.
        let rngs =
            if dense { Vec::new() } else { targets.iter().map(|t| stream_for(ctx.seed, &purpose, t.gid)).collect() };
        Ok(Box::new(Poisson {
            high_rate,
            dense: dense.then(|| {
                DenseCounts::new(
                    mean_per_step,
                    ctx.resolution.exact_steps(start).unwrap_or(0),
                    if stop.is_finite() { ctx.resolution.exact_steps(stop).unwrap_or(0) } else { Step::MAX },
                )
            }),
            rate_per_ms: self.params.rate / 1000.0,
            start,
            stop,
            h: ctx.resolution.h(),
            next_arrival: vec![f64::NAN; targets.len()],
            uniform: if dense { uniform_target(&targets) } else { None },
            gids: if dense { targets.iter().map(|t| t.gid).collect() } else { Vec::new() },
            counter: CounterStreams::new(ctx.seed, purpose_hash(&purpose)),
            targets,
            rngs,
        }))
    }
}

/// The shared target of channels that differ only in their neuron, and each channel's neuron.
fn uniform_target(targets: &[ChannelTarget]) -> Option<(ChannelTarget, Vec<u32>)> {
    let first = targets.first()?;
    let same = |t: &ChannelTarget| {
        t.population == first.population
            && t.weight.to_bits() == first.weight.to_bits()
            && t.delay == first.delay
            && t.receptor == first.receptor
    };
    targets.iter().all(same).then(|| (*first, targets.iter().map(|t| t.local).collect()))
}

/// Mean arrivals per step from which (and up to which) counts are drawn per step by inversion.
const DENSE_MIN_MEAN: f64 = 1.0;
const DENSE_MAX_MEAN: f64 = 30.0;

/// The most arrivals per step a channel may carry on average: its count is a `u32` multiplicity,
/// and 10⁹ leaves a margin of > 10⁴ standard deviations below `u32::MAX`.
pub const MAX_ARRIVALS_PER_STEP: f64 = 1e9;

/// Counts above [`DENSE_MAX_MEAN`] per step: each step's count is one Poisson draw whose mean is
/// the rate times the part of the step inside `[start, stop)`, so any start and stop (on the grid
/// or not) and any rate cost one draw per step.
#[derive(Debug, Clone, Copy)]
struct HighRate {
    rate_per_ms: f64,
    start: f64,
    stop: f64,
    h: f64,
}

impl HighRate {
    /// The first step that overlaps `[start, stop)`, if any.
    fn first_step(&self) -> Option<Step> {
        (self.start < self.stop).then(|| (self.start / self.h).floor() as Step)
    }

    /// The expected arrivals in step k: the rate times `|[k·h, (k+1)·h) ∩ [start, stop)|`.
    fn mean(&self, step: Step) -> f64 {
        let (lo, hi) = (step as f64 * self.h, (step + 1) as f64 * self.h);
        (hi.min(self.stop) - lo.max(self.start)).max(0.0) * self.rate_per_ms
    }

    /// Whether step k + 1 still overlaps the window.
    fn continues_after(&self, step: Step) -> bool {
        ((step + 1) as f64 * self.h) < self.stop
    }

    fn draw(&self, step: Step, rng: &mut Stream) -> u32 {
        let mean = self.mean(step);
        if mean <= 0.0 {
            return 0;
        }
        // The mean is at most MAX_ARRIVALS_PER_STEP (checked at build), far inside the
        // sampler's domain and u32's range.
        match rand_distr::Poisson::new(mean) {
            Ok(poisson) => poisson.sample(rng).min(f64::from(u32::MAX)) as u32,
            Err(_) => 0,
        }
    }
}

/// Per-step Poisson counts by inversion: `P(0) = exp(−λ)`, `P(k) = P(k−1)·λ/k`.
///
/// The cumulative sums are computed once, in the order and with the operations a search that
/// summed them on the fly would use, so a draw is a search over a table (two or three
/// comparisons at PD14's λ ≈ 1.6) instead of a division per count, and gives the same count for
/// the same uniform, bit for bit.
#[derive(Debug, Clone)]
struct DenseCounts {
    /// `cdf[k] = Σ_{j ≤ k} P(j)`, up to the first k where the sum stops changing (the tail is
    /// below half an ulp) or [`DENSE_MAX_COUNT`]; then +∞ up to a multiple of [`SEARCH_WIDTH`].
    cdf: Vec<f64>,
    /// The number of finite entries of `cdf`.
    terms: usize,
    /// Active steps: `start_step .. stop_step` (start and stop are on the grid).
    start_step: Step,
    stop_step: Step,
}

/// The count a draw returns if the uniform lies above the summed mass (which rounding allows).
const DENSE_MAX_COUNT: u32 = 1000;

impl DenseCounts {
    fn new(mean: f64, start_step: Step, stop_step: Step) -> Self {
        let mut p = (-mean).exp();
        let mut cdf = vec![p];
        for k in 1..=DENSE_MAX_COUNT {
            p *= mean / f64::from(k);
            let next = cdf[cdf.len() - 1] + p;
            if next == cdf[cdf.len() - 1] {
                // Every later term is smaller still: the sum no longer changes.
                break;
            }
            cdf.push(next);
        }
        let terms = cdf.len();
        cdf.resize(terms.div_ceil(SEARCH_WIDTH) * SEARCH_WIDTH, f64::INFINITY);
        Self { cdf, terms, start_step, stop_step }
    }

    /// The smallest k with `u ≤ cdf[k]` (the inversion of one uniform `u` in [0, 1)).
    ///
    /// `cdf` increases, so that k is the number of entries below `u`: counted a block of
    /// [`SEARCH_WIDTH`] at a time without a branch per entry, because the count is random and a
    /// search that stops at it mispredicts its exit at almost every draw.
    #[inline]
    fn draw(&self, u: f64) -> u32 {
        let mut k = 0;
        for block in self.cdf.chunks_exact(SEARCH_WIDTH) {
            let below = block.iter().map(|&c| usize::from(u > c)).sum::<usize>();
            k += below;
            if below < SEARCH_WIDTH {
                break;
            }
        }
        if k >= self.terms { DENSE_MAX_COUNT } else { k as u32 }
    }

    /// `counts[j] = self.draw(draws.uniform(gids[j], step))` for every j (the shorter of the two
    /// lengths; at most [`COUNTS_PER_BLOCK`] channels), compiled for the best vector instructions
    /// the CPU has: the uniforms (one Philox call per two channels where the gids are
    /// consecutive) and their counts among the table's first [`SEARCH_WIDTH`] entries in loops
    /// over the channels, then the search finished one channel at a time where the count reached
    /// the block's end (about one draw in 10⁴ at PD14's λ ≈ 1.6). Integer arithmetic and
    /// comparisons only: the same counts on every path.
    // Calling a function compiled for CPU features is unsafe unless the caller has them, which
    // `vector_level` established.
    #[allow(unsafe_code)]
    fn draw_block(&self, draws: &CounterStreams, step: Step, gids: &[u64], counts: &mut [u32]) {
        use crate::vector_level::{VectorLevel, vector_level};
        match vector_level() {
            // SAFETY: the CPU supports every feature the function is compiled for.
            #[cfg(target_arch = "x86_64")]
            VectorLevel::Avx512 => unsafe { self.draw_block_avx512(draws, step, gids, counts) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            VectorLevel::Avx2 => unsafe { self.draw_block_avx2(draws, step, gids, counts) },
            _ => self.draw_block_portable(draws, step, gids, counts),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2")]
    fn draw_block_avx512(&self, draws: &CounterStreams, step: Step, gids: &[u64], counts: &mut [u32]) {
        self.draw_block_portable(draws, step, gids, counts);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn draw_block_avx2(&self, draws: &CounterStreams, step: Step, gids: &[u64], counts: &mut [u32]) {
        self.draw_block_portable(draws, step, gids, counts);
    }

    #[inline(always)]
    fn draw_block_portable(&self, draws: &CounterStreams, step: Step, gids: &[u64], counts: &mut [u32]) {
        let first: [f64; SEARCH_WIDTH] = self.cdf[..SEARCH_WIDTH].try_into().expect("the table has a first block");
        // Only this block's channels: a shorter last block leaves the rest of `counts` as it was.
        let n = gids.len().min(counts.len()).min(COUNTS_PER_BLOCK);
        let (gids, counts) = (&gids[..n], &mut counts[..n]);
        let count_of = |u: f64| first.iter().map(|&c| u32::from(u > c)).sum::<u32>();
        let consecutive = gids.windows(2).fold(true, |all, w| all & (w[1] == w[0].wrapping_add(1)));
        if consecutive && !gids.is_empty() {
            // Neighbouring gids share their Philox call (`CounterStreams::pair`): one call per
            // two channels, the block's uniforms laid out from the pair of its first gid.
            let mut uniforms = [0.0; COUNTS_PER_BLOCK + 2];
            let skip = (gids[0] % 2) as usize;
            let pairs = (gids.len() + skip).div_ceil(2).min(uniforms.len() / 2);
            for (k, two) in uniforms.chunks_exact_mut(2).take(pairs).enumerate() {
                two.copy_from_slice(&draws.pair(gids[0] / 2 + k as u64, step));
            }
            for (count, &u) in counts.iter_mut().zip(&uniforms[skip..skip + n]) {
                *count = count_of(u);
            }
        } else {
            for (count, &gid) in counts.iter_mut().zip(gids) {
                *count = count_of(draws.uniform(gid, step));
            }
        }
        // `draw`'s answer wherever the first block did not settle it: the count reached the
        // block's end (the search continues), or the table's finite entries (its last answer).
        let settled = (SEARCH_WIDTH as u32).min(self.terms as u32);
        // Whether any is left, asked without an exit per channel so that the question vectorises
        // (the answer is almost always no).
        if !counts.iter().fold(false, |any, &count| any | (count >= settled)) {
            return;
        }
        for (count, &gid) in counts.iter_mut().zip(gids) {
            if *count >= settled {
                *count = self.draw(draws.uniform(gid, step));
            }
        }
    }
}

/// Channels whose counts are drawn together (on the stack: 1 KB).
const COUNTS_PER_BLOCK: usize = 256;

/// Entries of a Poisson table compared per block: λ ≈ 1.6 (PD14) needs more than 8 once in
/// ten thousand draws.
const SEARCH_WIDTH: usize = 8;

struct Poisson {
    /// `Some` when each step's count is drawn directly (see [`DENSE_MIN_MEAN`]).
    dense: Option<DenseCounts>,
    /// `Some` above [`DENSE_MAX_MEAN`] arrivals per step.
    high_rate: Option<HighRate>,
    rate_per_ms: f64,
    start: f64,
    stop: f64,
    h: f64,
    targets: Vec<ChannelTarget>,
    /// When every channel shares its population, weight, delay and receptor (and counts are
    /// drawn per step): the first channel's target and each channel's neuron within the shard.
    uniform: Option<(ChannelTarget, Vec<u32>)>,
    /// Per-step counts: the uniform of channel c in step k is `counter.uniform(gids[c], k)`.
    counter: CounterStreams,
    /// Each channel's target gid (per-step counts only; empty otherwise).
    gids: Vec<u64>,
    /// Each channel's stream (arrival intervals and high-rate counts; empty for per-step counts).
    rngs: Vec<Stream>,
    /// Next arrival time (ms) per channel.
    next_arrival: Vec<f64>,
}

impl Poisson {
    fn interval(&mut self, c: usize) -> f64 {
        let u: f64 = 1.0 - self.rngs[c].random::<f64>(); // (0, 1]
        -u.ln() / self.rate_per_ms
    }

    fn due_step(&self, t: f64) -> Option<Step> {
        (t < self.stop && t.is_finite()).then(|| (t / self.h).floor() as Step)
    }
}

impl Stimulus for Poisson {
    fn channels(&self) -> usize {
        self.targets.len()
    }

    fn first_due(&mut self, c: usize) -> Option<Step> {
        if self.rate_per_ms <= 0.0 {
            return None;
        }
        if let Some(d) = &self.dense {
            return (d.start_step < d.stop_step).then_some(d.start_step);
        }
        if let Some(high) = self.high_rate {
            return high.first_step();
        }
        self.next_arrival[c] = self.start + self.interval(c);
        self.due_step(self.next_arrival[c])
    }

    fn fire(&mut self, c: usize, step: Step, sink: &mut StimulusSink<'_>) -> Option<Step> {
        if let Some(dense) = &self.dense {
            let count = dense.draw(self.counter.uniform(self.gids[c], step));
            if count > 0 {
                sink.spikes(&self.targets[c], step, count);
            }
            return (step + 1 < dense.stop_step).then_some(step + 1);
        }
        if let Some(high) = self.high_rate {
            let count = high.draw(step, &mut self.rngs[c]);
            if count > 0 {
                sink.spikes(&self.targets[c], step, count);
            }
            return high.continues_after(step).then_some(step + 1);
        }
        let step_end = (step + 1) as f64 * self.h;
        let mut count = 0u32;
        let mut t = self.next_arrival[c];
        while t < step_end && t < self.stop {
            count += 1;
            t += self.interval(c);
        }
        self.next_arrival[c] = t;
        if count > 0 {
            sink.spikes(&self.targets[c], step, count);
        }
        self.due_step(t).map(|s| s.max(step + 1))
    }

    fn every_step(&self) -> Option<(Step, Step)> {
        // `first_due` gives no train at all for a rate ≤ 0.
        self.dense.as_ref().filter(|_| self.rate_per_ms > 0.0).map(|d| (d.start_step, d.stop_step))
    }

    fn fire_all(&mut self, step: Step, sink: &mut StimulusSink<'_>) {
        let Some(dense) = &self.dense else { return };
        // As `fire` for each channel in order, without a virtual call per channel: the counts of
        // a block of channels at a time, in one vectorised loop.
        let mut counts = [0u32; COUNTS_PER_BLOCK];
        if let Some((like, locals)) = &self.uniform {
            // One target population, weight, delay and receptor (PD14's background): the sweep
            // reads 12 bytes per channel (target and gid), not 48.
            for (gids, locals) in self.gids.chunks(COUNTS_PER_BLOCK).zip(locals.chunks(COUNTS_PER_BLOCK)) {
                dense.draw_block(&self.counter, step, gids, &mut counts);
                sink.spike_counts(like, step, locals.iter().copied().zip(counts.iter().copied()));
            }
            return;
        }
        for (gids, targets) in self.gids.chunks(COUNTS_PER_BLOCK).zip(self.targets.chunks(COUNTS_PER_BLOCK)) {
            dense.draw_block(&self.counter, step, gids, &mut counts);
            for (target, &count) in targets.iter().zip(&counts) {
                if count > 0 {
                    sink.spikes(target, step, count);
                }
            }
        }
    }

    /// Saves each channel's random stream and its pending arrival time (sparse trains; the
    /// arrival is unused, and saved as NaN, for high-rate counts). Per-step counts keep no
    /// state: their draws are functions of the step.
    fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        if self.dense.is_some() {
            return Ok(());
        }
        io.channels("rng", &mut self.rngs)?;
        io.channels("next_arrival", &mut self.next_arrival)
    }
}

// ---------------------------------------------------------------- current generators

/// A piecewise-constant current: (first step it acts, amplitude) in time order.
struct CurrentSchedule {
    changes: Vec<(Step, f64)>,
    targets: Vec<ChannelTarget>,
    /// Index of each channel's next change.
    next: Vec<usize>,
}

impl Stimulus for CurrentSchedule {
    fn channels(&self) -> usize {
        self.targets.len()
    }

    fn first_due(&mut self, c: usize) -> Option<Step> {
        self.next[c] = 0;
        self.changes.first().map(|&(s, _)| s)
    }

    fn fire(&mut self, c: usize, step: Step, sink: &mut StimulusSink<'_>) -> Option<Step> {
        let mut k = self.next[c];
        let before = if k == 0 { 0.0 } else { self.changes[k - 1].1 };
        let mut after = before;
        while let Some(&(s, a)) = self.changes.get(k) {
            if s > step {
                break;
            }
            after = a;
            k += 1;
        }
        self.next[c] = k;
        if after != before {
            sink.current_change(&self.targets[c], step, after - before);
        }
        self.changes.get(k).map(|&(s, _)| s)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DcParams {
    /// pA
    pub amplitude: f64,
    pub start: f64,
    pub stop: f64,
}

impl Default for DcParams {
    fn default() -> Self {
        Self { amplitude: 0.0, start: 0.0, stop: f64::INFINITY }
    }
}

#[derive(Debug, Clone)]
pub struct DcFactory {
    pub params: DcParams,
}

impl StimulusFactory for DcFactory {
    fn name(&self) -> &'static str {
        "dc_generator"
    }

    fn injects_current(&self) -> bool {
        true
    }

    fn build(&self, _: u64, targets: Vec<ChannelTarget>, ctx: &BuildContext) -> Result<Box<dyn Stimulus>, ModelError> {
        let p = &self.params;
        if !p.amplitude.is_finite() {
            return Err(ModelError(format!("amplitude = {}: must be a finite number (pA)", p.amplitude)));
        }
        let r = ctx.resolution;
        let start = ms_to_start_step(r, p.start, "start")?;
        let lag = current_lag;
        let mut changes = vec![(start + 1, p.amplitude)];
        if p.stop.is_finite() {
            let stop = ms_to_start_step(r, p.stop, "stop")?;
            if stop < start {
                return Err(ModelError(format!("stop = {} ms: must be >= start ({} ms)", p.stop, p.start)));
            }
            changes.push((stop + 1, 0.0));
        }
        Ok(delayed_schedule(changes, targets, lag))
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StepCurrentParams {
    pub amplitude_times: Vec<f64>,
    pub amplitude_values: Vec<f64>,
}

#[derive(Debug, Clone)]
pub struct StepCurrentFactory {
    pub params: StepCurrentParams,
}

impl StimulusFactory for StepCurrentFactory {
    fn name(&self) -> &'static str {
        "step_current_generator"
    }

    fn injects_current(&self) -> bool {
        true
    }

    fn build(&self, _: u64, targets: Vec<ChannelTarget>, ctx: &BuildContext) -> Result<Box<dyn Stimulus>, ModelError> {
        let p = &self.params;
        if p.amplitude_times.len() != p.amplitude_values.len() {
            return Err(ModelError(format!(
                "amplitude_times has {} entries but amplitude_values has {}",
                p.amplitude_times.len(),
                p.amplitude_values.len()
            )));
        }
        let mut changes = Vec::with_capacity(p.amplitude_times.len());
        for (&t, &a) in p.amplitude_times.iter().zip(&p.amplitude_values) {
            if !a.is_finite() {
                return Err(ModelError(format!("amplitude_values: {a} is not a finite number (pA)")));
            }
            let s = ms_to_start_step(ctx.resolution, t, "amplitude_times")?;
            if changes.last().is_some_and(|&(prev, _)| s < prev) {
                return Err(ModelError(format!("amplitude_times must be strictly increasing (at {t} ms)")));
            }
            changes.push((s + 1, a));
        }
        Ok(delayed_schedule(changes, targets, current_lag))
    }
}

/// How many steps later than with delay h a current change reaches a target: `d − h` in steps,
/// one step less for models that use a current in the step it arrives (`cm_default`).
fn current_lag(t: &ChannelTarget) -> i64 {
    t.delay as i64 - 1 - t.current_lead as i64
}

/// Shifts a schedule by each channel's lag. Channels with equal lags share a schedule. Changes
/// are scheduled at steps ≥ 1 and lags are ≥ −1, so no change moves before step 0.
fn delayed_schedule(
    changes: Vec<(Step, f64)>,
    targets: Vec<ChannelTarget>,
    lag: impl Fn(&ChannelTarget) -> i64,
) -> Box<dyn Stimulus> {
    let mut groups: Vec<(i64, Vec<ChannelTarget>)> = Vec::new();
    for t in targets {
        let l = lag(&t);
        match groups.iter_mut().find(|(g, _)| *g == l) {
            Some((_, v)) => v.push(t),
            None => groups.push((l, vec![t])),
        }
    }
    let schedules: Vec<CurrentSchedule> = groups
        .into_iter()
        .map(|(l, targets)| CurrentSchedule {
            changes: changes.iter().map(|&(s, a)| ((s as i64 + l).max(0) as Step, a)).collect(),
            next: vec![0; targets.len()],
            targets,
        })
        .collect();
    Box::new(Grouped::new(schedules))
}

/// Several schedules presented as one device (one per distinct connection delay).
struct Grouped {
    parts: Vec<CurrentSchedule>,
    offsets: Vec<usize>,
}

impl Grouped {
    fn new(parts: Vec<CurrentSchedule>) -> Self {
        let mut offsets = vec![0];
        for p in &parts {
            offsets.push(offsets.last().copied().unwrap_or(0) + p.targets.len());
        }
        Self { parts, offsets }
    }

    fn locate(&self, c: usize) -> (usize, usize) {
        let g = self.offsets.partition_point(|&o| o <= c) - 1;
        (g, c - self.offsets[g])
    }
}

impl Stimulus for Grouped {
    fn channels(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }

    fn first_due(&mut self, c: usize) -> Option<Step> {
        let (g, c) = self.locate(c);
        self.parts[g].first_due(c)
    }

    fn fire(&mut self, c: usize, step: Step, sink: &mut StimulusSink<'_>) -> Option<Step> {
        let (g, c) = self.locate(c);
        self.parts[g].fire(c, step, sink)
    }

    /// Saves each channel's position in its schedule (the index of its next change), in channel
    /// order; the amplitude it has reached follows from it.
    fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        let mut next: Vec<usize> = self.parts.iter().flat_map(|p| p.next.iter().copied()).collect();
        io.channels("next_change", &mut next)?;
        let mut saved = next.into_iter();
        for part in &mut self.parts {
            let len = part.changes.len();
            for (k, s) in part.next.iter_mut().zip(&mut saved) {
                if s > len {
                    return Err(StateError(format!("schedule position {s} is beyond its {len} changes")));
                }
                *k = s;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Per-step counts by inversion have the Poisson mean and variance λ and P(0) = exp(−λ).
    #[test]
    fn dense_counts_are_poisson() {
        for mean in [1.0f64, 2.3, 12.0] {
            let d = DenseCounts::new(mean, 0, Step::MAX);
            let mut rng = stream_for(7, "dense-test", 0);
            let n = 200_000;
            let counts: Vec<f64> = (0..n).map(|_| f64::from(d.draw(rng.random::<f64>()))).collect();
            let m = counts.iter().sum::<f64>() / n as f64;
            let var = counts.iter().map(|c| (c - m).powi(2)).sum::<f64>() / (n - 1) as f64;
            let zeros = counts.iter().filter(|&&c| c == 0.0).count() as f64 / n as f64;
            // Standard errors: sqrt(λ/n) for the mean; the bounds are 5 of them (and 3 % on var).
            assert!((m - mean).abs() < 5.0 * (mean / n as f64).sqrt(), "mean {m} for λ = {mean}");
            assert!((var / mean - 1.0).abs() < 0.03, "variance {var} for λ = {mean}");
            assert!((zeros - (-mean).exp()).abs() < 0.005, "P(0) {zeros} for λ = {mean}");
        }
    }

    /// The table gives the count the inversion that sums the terms as it goes gives (NEST's
    /// loop, and this file's before the table), for every uniform tried, including those above
    /// the summed mass.
    #[test]
    fn dense_table_counts_equal_the_running_sum() {
        let running_sum = |mean: f64, u: f64| {
            let (mut k, mut p) = (0u32, (-mean).exp());
            let mut cdf = p;
            while u > cdf && k < 1000 {
                k += 1;
                p *= mean / f64::from(k);
                cdf += p;
            }
            k
        };
        let mut rng = stream_for(11, "dense-table-test", 0);
        for mean in [1.0f64, 1.2, 1.6, 2.3, 7.5, 12.0, 29.9, 30.0] {
            let d = DenseCounts::new(mean, 0, Step::MAX);
            let mut edges: Vec<f64> = d.cdf.iter().flat_map(|&c| [c, c.next_down(), c.next_up()]).collect();
            edges.extend([0.0, 1.0f64.next_down()]);
            for u in edges.into_iter().chain((0..100_000).map(|_| rng.random::<f64>())) {
                assert_eq!(d.draw(u), running_sum(mean, u), "mean {mean}, u {u:e}");
            }
        }
    }

    /// A block's counts are each channel's `draw` of its counter-based uniform, on every vector
    /// path, for scattered gids and for consecutive ones (pairs drawn together, from an even or
    /// an odd first gid, full blocks and short ones), including counts beyond the first block of
    /// the table (λ = 12 and 29.9: most draws).
    #[test]
    fn block_counts_are_the_channels_draws() {
        let scattered: Vec<u64> = (0..COUNTS_PER_BLOCK as u64 - 3).map(|j| 1000 + 3 * j).collect();
        for gids in [
            scattered,
            (1000..1000 + COUNTS_PER_BLOCK as u64).collect(),
            (1001..1001 + COUNTS_PER_BLOCK as u64).collect(),
            (7..20).collect(),
            (8..9).collect(),
            Vec::new(),
        ] {
            block_counts_match(&gids);
        }
    }

    fn block_counts_match(gids: &[u64]) {
        use crate::vector_level::vector_level;
        let draws = CounterStreams::new(5, purpose_hash("poisson:3"));
        for mean in [1.0f64, 1.6, 12.0, 29.9] {
            let d = DenseCounts::new(mean, 0, Step::MAX);
            for step in [0, 1, 77, 1 << 40] {
                let expected: Vec<u32> = gids.iter().map(|&g| d.draw(draws.uniform(g, step))).collect();
                let mut counts = [u32::MAX; COUNTS_PER_BLOCK];
                d.draw_block_portable(&draws, step, gids, &mut counts);
                assert_eq!(&counts[..gids.len()], &expected[..]);
                assert!(counts[gids.len()..].iter().all(|&c| c == u32::MAX));
                counts.fill(u32::MAX);
                d.draw_block(&draws, step, gids, &mut counts);
                assert_eq!(&counts[..gids.len()], &expected[..], "dispatched to {:?}", vector_level());
                #[cfg(target_arch = "x86_64")]
                #[allow(unsafe_code)]
                if std::arch::is_x86_feature_detected!("avx2") {
                    counts.fill(u32::MAX);
                    // SAFETY: the CPU has AVX2.
                    unsafe { d.draw_block_avx2(&draws, step, gids, &mut counts) };
                    assert_eq!(&counts[..gids.len()], &expected[..]);
                }
                if mean > 10.0 && gids.len() > 100 {
                    assert!(expected.iter().any(|&c| c >= SEARCH_WIDTH as u32), "the fallback ran");
                }
            }
        }
    }

    /// Above 30 arrivals per step the count is one Poisson draw per step: mean and variance λ
    /// even at rates that would take 10⁸ exponential intervals per step, and a step cut by
    /// `start` or `stop` gets only the part of λ inside the window.
    #[test]
    fn high_rate_counts_are_poisson_and_respect_the_window() {
        for rate_hz in [5e5, 1e12] {
            let high = HighRate { rate_per_ms: rate_hz / 1000.0, start: 0.0, stop: f64::INFINITY, h: 0.1 };
            let lambda = high.mean(3);
            assert!((lambda - rate_hz * 1e-4).abs() <= 1e-9 * lambda);
            let mut rng = stream_for(7, "high-rate-test", 0);
            let n = 20_000;
            let counts: Vec<f64> = (0..n).map(|k| f64::from(high.draw(k, &mut rng))).collect();
            let m = counts.iter().sum::<f64>() / n as f64;
            let var = counts.iter().map(|c| (c - m).powi(2)).sum::<f64>() / (n - 1) as f64;
            assert!((m - lambda).abs() < 5.0 * (lambda / n as f64).sqrt(), "mean {m} for λ = {lambda}");
            assert!((var / lambda - 1.0).abs() < 0.1, "variance {var} for λ = {lambda}");
        }
        // A window [0.25, 0.42) ms at h = 0.1: steps 2 (0.05 ms inside), 3 (0.1), 4 (0.02).
        let high = HighRate { rate_per_ms: 1e6, start: 0.25, stop: 0.42, h: 0.1 };
        assert_eq!(high.first_step(), Some(2));
        let means: Vec<f64> = (0..6).map(|k| high.mean(k)).collect();
        for (k, expected) in [(0, 0.0), (1, 0.0), (2, 5e4), (3, 1e5), (4, 2e4), (5, 0.0)] {
            assert!((means[k] - expected).abs() < 1e-6 * 1e5, "step {k}: {} vs {expected}", means[k]);
        }
        assert!(high.continues_after(3) && !high.continues_after(4));
    }

    /// A rate whose arrivals per step exceed what a channel can count is refused at build, with
    /// the largest rate allowed at this resolution; the check is on the mean, so it is O(1).
    #[test]
    fn a_rate_beyond_the_channel_capacity_is_refused() {
        let ctx = BuildContext { resolution: Resolution::new(0.1).unwrap(), seed: 1 };
        let factory = PoissonFactory { params: PoissonParams { rate: 1e20, ..Default::default() } };
        let message = factory.build(0, Vec::new(), &ctx).err().expect("refused").0;
        assert!(message.starts_with("rate = 1e20: 1e16 arrivals per step"), "{message}");
        assert!(message.contains("rate <= 1e13 spikes/s"), "{message}");
        let ok = PoissonFactory { params: PoissonParams { rate: 1e12, ..Default::default() } };
        assert!(ok.build(0, Vec::new(), &ctx).is_ok());
    }
}
