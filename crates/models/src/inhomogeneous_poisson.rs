//! `inhomogeneous_poisson_generator`: Poisson spike trains whose rate is piecewise constant in
//! time, with NEST's parameters and timing.
//!
//! # Parameters
//! - `rate_times` (ms) and `rate_values` (spikes/s), of equal length: the rate becomes
//!   `rate_values[i]` at `rate_times[i]`; before the first time it is 0. Times must be strictly
//!   increasing, later than 0, and on the simulation grid, unless `allow_offgrid_times = true`,
//!   which moves an off-grid time to the end of the step it falls in (NEST's `Time::ms_stamp`).
//!   Rates must be finite and ≥ 0.
//! - `start`, `stop` (ms, default 0 and ∞): the device is active in between (on the grid).
//!
//! # Timing (NEST 3.10, `models/inhomogeneous_poisson_generator.cpp`)
//! A spike emitted in step k (the step from k·h to (k+1)·h) carries the time stamp (k+1)·h and
//! reaches its target after the connection delay, like a neuron's spike. NEST switches to
//! `rate_values[i]` "one step ahead": in the step k with (k+1)·h = `rate_times[i]`, so the new rate
//! governs the spikes *stamped* from `rate_times[i]` on. The device is active in the steps k with
//! `start/h < k ≤ stop/h` (NEST's `StimulationDevice::is_active` for spike generators): spikes
//! stamped in (start + h, stop + h].
//!
//! # Sampling
//! NEST draws every step's count from Poisson(rate·h), independently per target. A Poisson
//! process whose rate is constant over each step has exactly those counts, so laminar draws the
//! process in continuous time instead: exponential inter-arrival times at the current rate, an
//! arrival in [k·h, (k+1)·h) belonging to step k. At a rate change the pending interval is redrawn
//! (exponential intervals are memoryless, so this is the same process), and a channel costs one
//! event per arrival instead of one per step. Above `DENSE_MAX_MEAN` arrivals per step, each
//! step's count is one Poisson draw (O(1) at any rate). Each target has its own stream
//! `(seed, "inhomogeneous_poisson:<device>", target gid)`; the counts match NEST's statistically,
//! not bitwise.
//!
//! Reference: NEST `models/inhomogeneous_poisson_generator.{h,cpp}` and
//! `nestkernel/stimulation_device.cpp`; the NEST 3.10 case
//! `data/reference/nest/inhomogeneous_poisson_generator.json`.

use laminar_engine::rng::{Stream, stream_for};
use laminar_engine::{
    BuildContext, ChannelTarget, ModelError, Resolution, StateError, StateIo, Step, Stimulus, StimulusFactory,
    StimulusSink,
};
use rand::RngExt;
use rand_distr::Distribution;
use serde::Deserialize;

use crate::devices::MAX_ARRIVALS_PER_STEP;
use crate::params::{ParamError, Validate, compact, non_negative};

/// Mean arrivals per step above which each step's count is drawn directly.
const DENSE_MAX_MEAN: f64 = 30.0;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InhomogeneousPoissonParams {
    /// Times (ms) at which the rate changes.
    pub rate_times: Vec<f64>,
    /// The rate (spikes/s) from each of `rate_times` on.
    pub rate_values: Vec<f64>,
    /// Whether off-grid `rate_times` are moved to the end of their step (else refused).
    pub allow_offgrid_times: bool,
    pub start: f64,
    pub stop: f64,
}

impl Default for InhomogeneousPoissonParams {
    fn default() -> Self {
        Self {
            rate_times: Vec::new(),
            rate_values: Vec::new(),
            allow_offgrid_times: false,
            start: 0.0,
            stop: f64::INFINITY,
        }
    }
}

impl Validate for InhomogeneousPoissonParams {
    fn validate(&self) -> Result<(), ParamError> {
        if self.rate_times.len() != self.rate_values.len() {
            return Err(ParamError::new(
                "rate_values",
                self.rate_values.len() as f64,
                &format!("entries: must have as many as rate_times ({})", self.rate_times.len()),
            ));
        }
        for (i, &t) in self.rate_times.iter().enumerate() {
            if !t.is_finite() || t <= 0.0 {
                return Err(ParamError::new("rate_times", t, "must be later than 0 ms (and finite)"));
            }
            if i > 0 && t <= self.rate_times[i - 1] {
                return Err(ParamError::new("rate_times", t, "must be strictly increasing"));
            }
        }
        for &r in &self.rate_values {
            non_negative("rate_values", r, "spikes/s")?;
        }
        non_negative("start", self.start, "ms")?;
        if self.stop.is_nan() || self.stop < self.start {
            return Err(ParamError::new("stop", self.stop, "must be >= start"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct InhomogeneousPoissonFactory {
    pub params: InhomogeneousPoissonParams,
}

/// A stretch of steps `[first, end)` at one rate.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    first: Step,
    end: Step,
    rate_per_ms: f64,
}

impl InhomogeneousPoissonFactory {
    /// The device's active steps at one rate each, in order, rate-0 stretches left out.
    fn segments(&self, resolution: Resolution) -> Result<Vec<Segment>, ModelError> {
        let p = &self.params;
        p.validate().map_err(|e| ModelError(e.to_string()))?;
        let grid = |ms: f64, what: &str| {
            resolution.exact_steps(ms).map_err(|e| ModelError(format!("{what} = {}: {e}", compact(ms))))
        };
        // The step in which each rate begins: the one that ends at its (grid) time.
        let mut changes: Vec<(Step, f64)> = Vec::with_capacity(p.rate_times.len());
        for (&t, &rate) in p.rate_times.iter().zip(&p.rate_values) {
            let stamp = match grid(t, "rate_times") {
                Ok(s) => s,
                Err(_) if p.allow_offgrid_times && t.is_finite() => (t / resolution.h()).ceil() as Step,
                Err(e) => {
                    return Err(ModelError(format!(
                        "{} (or set allow_offgrid_times = true to move it to the end of its step)",
                        e.0
                    )));
                }
            };
            if changes.last().is_some_and(|&(prev, _)| stamp - 1 <= prev) {
                return Err(ModelError(format!(
                    "rate_times: {} ms falls in the same step as the time before it at this resolution",
                    compact(t)
                )));
            }
            let mean = rate / 1000.0 * resolution.h();
            if mean > MAX_ARRIVALS_PER_STEP {
                return Err(ModelError(format!(
                    "rate_values = {}: {} arrivals per step of {} ms; a channel carries at most {} per step",
                    compact(rate),
                    compact(mean),
                    compact(resolution.h()),
                    compact(MAX_ARRIVALS_PER_STEP)
                )));
            }
            changes.push((stamp - 1, rate / 1000.0));
        }
        // Active steps: start/h < k <= stop/h.
        let lo = grid(p.start, "start")? + 1;
        let hi = if p.stop.is_finite() { grid(p.stop, "stop")? + 1 } else { Step::MAX };
        let mut segments = Vec::new();
        for (i, &(first, rate)) in changes.iter().enumerate() {
            let end = changes.get(i + 1).map_or(Step::MAX, |&(s, _)| s);
            let (first, end) = (first.max(lo), end.min(hi));
            if rate > 0.0 && first < end {
                segments.push(Segment { first, end, rate_per_ms: rate });
            }
        }
        Ok(segments)
    }
}

impl StimulusFactory for InhomogeneousPoissonFactory {
    fn name(&self) -> &'static str {
        "inhomogeneous_poisson_generator"
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
        let segments = self.segments(ctx.resolution)?;
        let purpose = format!("inhomogeneous_poisson:{device}");
        let rngs = targets.iter().map(|t| stream_for(ctx.seed, &purpose, t.gid)).collect();
        let n = targets.len();
        Ok(Box::new(InhomogeneousPoisson {
            segments,
            h: ctx.resolution.h(),
            targets,
            rngs,
            segment: vec![0; n],
            next_arrival: vec![f64::NAN; n],
        }))
    }
}

struct InhomogeneousPoisson {
    segments: Vec<Segment>,
    h: f64,
    targets: Vec<ChannelTarget>,
    rngs: Vec<Stream>,
    /// Per channel: the segment its next event lies in (`segments.len()` when done).
    segment: Vec<usize>,
    /// Per channel: the time (ms, step k spans [k·h, (k+1)·h)) of the next arrival in a sparse
    /// segment; unused in dense ones.
    next_arrival: Vec<f64>,
}

impl InhomogeneousPoisson {
    fn dense(&self, s: usize) -> bool {
        self.segments[s].rate_per_ms * self.h > DENSE_MAX_MEAN
    }

    /// The step of an arrival at `t` in segment `s`, kept inside the segment against rounding.
    fn step_of(&self, s: usize, t: f64) -> Step {
        let seg = self.segments[s];
        ((t / self.h).floor() as Step).clamp(seg.first, seg.end - 1)
    }

    /// Finds channel `c`'s next event from time `from` (ms) in segment `s` or later: its step,
    /// with the channel's segment and next arrival set.
    fn schedule(&mut self, c: usize, mut s: usize, mut from: f64) -> Option<Step> {
        while s < self.segments.len() {
            let seg = self.segments[s];
            from = from.max(seg.first as f64 * self.h);
            self.segment[c] = s;
            if self.dense(s) {
                return Some(self.step_of(s, from));
            }
            let u: f64 = 1.0 - self.rngs[c].random::<f64>(); // (0, 1]
            let t = from - u.ln() / seg.rate_per_ms;
            if seg.end == Step::MAX || t < seg.end as f64 * self.h {
                self.next_arrival[c] = t;
                return Some(self.step_of(s, t));
            }
            // No arrival before the rate changes: start afresh in the next segment (the
            // exponential interval is memoryless).
            s += 1;
        }
        self.segment[c] = self.segments.len();
        None
    }
}

impl Stimulus for InhomogeneousPoisson {
    fn channels(&self) -> usize {
        self.targets.len()
    }

    fn first_due(&mut self, c: usize) -> Option<Step> {
        self.schedule(c, 0, 0.0)
    }

    fn fire(&mut self, c: usize, step: Step, sink: &mut StimulusSink<'_>) -> Option<Step> {
        let s = self.segment[c];
        let seg = self.segments[s];
        let step_end = (step + 1) as f64 * self.h;
        let count = if self.dense(s) {
            let mean = seg.rate_per_ms * self.h;
            match rand_distr::Poisson::new(mean) {
                // The mean is at most MAX_ARRIVALS_PER_STEP (checked at build).
                Ok(poisson) => poisson.sample(&mut self.rngs[c]).min(f64::from(u32::MAX)) as u32,
                Err(_) => 0,
            }
        } else {
            let seg_end = if seg.end == Step::MAX { f64::INFINITY } else { seg.end as f64 * self.h };
            // The channel is due because its next arrival falls in this step.
            let mut count = 0u32;
            let mut t = self.next_arrival[c];
            loop {
                count += 1;
                let u: f64 = 1.0 - self.rngs[c].random::<f64>();
                t -= u.ln() / seg.rate_per_ms;
                if t >= seg_end || self.step_of(s, t) > step {
                    break;
                }
            }
            self.next_arrival[c] = t;
            if count > 0 {
                sink.spikes(&self.targets[c], step, count);
            }
            return if t < seg_end { Some(self.step_of(s, t).max(step + 1)) } else { self.schedule(c, s + 1, seg_end) };
        };
        if count > 0 {
            sink.spikes(&self.targets[c], step, count);
        }
        if step + 1 < seg.end { Some(step + 1) } else { self.schedule(c, s + 1, step_end) }
    }

    /// Saves each channel's random stream, the segment its next event lies in and its pending
    /// arrival time (sparse segments; dense ones draw per step and ignore it).
    fn state(&mut self, io: &mut StateIo) -> Result<(), StateError> {
        io.channels("rng", &mut self.rngs)?;
        io.channels("segment", &mut self.segment)?;
        io.channels("next_arrival", &mut self.next_arrival)?;
        let segments = self.segments.len();
        match self.segment.iter().find(|&&s| s > segments) {
            Some(s) => Err(StateError(format!("segment {s} is beyond the schedule's {segments}"))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factory(times: &[f64], values: &[f64]) -> InhomogeneousPoissonFactory {
        InhomogeneousPoissonFactory {
            params: InhomogeneousPoissonParams {
                rate_times: times.to_vec(),
                rate_values: values.to_vec(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn rates_begin_in_the_step_that_ends_at_their_time() {
        let r = Resolution::new(0.1).unwrap();
        let segs = factory(&[10.0, 20.0, 30.0], &[100.0, 0.0, 5e5]).segments(r).unwrap();
        assert_eq!(
            segs,
            vec![
                Segment { first: 99, end: 199, rate_per_ms: 0.1 },
                Segment { first: 299, end: Step::MAX, rate_per_ms: 500.0 },
            ]
        );
    }

    #[test]
    fn start_and_stop_bound_the_active_steps() {
        let r = Resolution::new(0.1).unwrap();
        let mut f = factory(&[10.0], &[100.0]);
        f.params.start = 15.0;
        f.params.stop = 25.0;
        assert_eq!(f.segments(r).unwrap(), vec![Segment { first: 151, end: 251, rate_per_ms: 0.1 }]);
    }

    #[test]
    fn bad_schedules_are_refused() {
        let r = Resolution::new(0.1).unwrap();
        let msg = |f: InhomogeneousPoissonFactory| f.segments(r).unwrap_err().0;
        assert!(msg(factory(&[1.0, 2.0], &[1.0])).contains("as many as rate_times"));
        assert!(msg(factory(&[2.0, 1.0], &[1.0, 1.0])).contains("strictly increasing"));
        assert!(msg(factory(&[0.0], &[1.0])).contains("later than 0"));
        assert!(msg(factory(&[1.0], &[-1.0])).contains("rate_values"));
        assert!(msg(factory(&[1.05], &[1.0])).contains("allow_offgrid_times"));
        let mut f = factory(&[1.05, 1.08], &[1.0, 2.0]);
        f.params.allow_offgrid_times = true;
        assert!(msg(f).contains("same step"));
        let mut f = factory(&[1.05], &[1.0]);
        f.params.allow_offgrid_times = true;
        assert_eq!(f.segments(r).unwrap()[0].first, 10);
    }
}
