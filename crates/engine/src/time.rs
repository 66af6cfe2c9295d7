//! Simulation time as integer steps.
//!
//! Time inside the engine is a whole number of steps of the resolution `h` (ms). *Step k* is the
//! update that advances the state from `k·h` to `(k+1)·h`; a spike emitted during step k carries
//! the time stamp `(k+1)·h` (NEST's convention). Milliseconds exist only at the edges (model files,
//! recordings), and conversions from milliseconds go through [`Resolution`], which refuses values
//! that do not fall on the grid when exactness matters (delays, refractory periods).

use thiserror::Error;

/// A count of simulation steps (also used as an absolute step index).
pub type Step = u64;

/// The longest time the engine represents: 2⁵³ steps. Times in ms are computed as `step · h` in
/// double precision, which is exact to the step only below 2⁵³ steps (9·10¹⁴ ms, about 28,000
/// years, at h = 0.1 ms); a duration, start or stop beyond it is refused, not rounded.
pub const MAX_STEPS: Step = 1 << 53;

/// A millisecond value that cannot be used as a time on the simulation grid.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TimeError {
    #[error("resolution {0} ms: must be a finite number > 0 ms")]
    BadResolution(f64),
    #[error("{value} ms is not a finite number >= 0 ms")]
    NotFinite { value: f64 },
    #[error("{value} ms is not a multiple of the resolution {h} ms")]
    OffGrid { value: f64, h: f64 },
    #[error(
        "{value:e} ms is more than 2^53 steps of {h} ms, the longest time laminar represents ({max:e} ms at this resolution)"
    )]
    TooLong { value: f64, h: f64, max: f64 },
}

/// The simulation resolution `h` in milliseconds, with conversions between ms and steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolution {
    h_ms: f64,
}

/// Relative tolerance for deciding that a millisecond value lies on the grid: model files write
/// 0.1-ms multiples in decimal, which are not exact in binary.
const GRID_TOLERANCE: f64 = 1e-9;

/// 2⁵²: from here on every f64 is a whole number.
const TWO_TO_52: f64 = 4_503_599_627_370_496.0;

impl Resolution {
    pub fn new(h_ms: f64) -> Result<Self, TimeError> {
        if h_ms.is_finite() && h_ms > 0.0 { Ok(Self { h_ms }) } else { Err(TimeError::BadResolution(h_ms)) }
    }

    /// The step length in ms.
    pub fn h(&self) -> f64 {
        self.h_ms
    }

    /// The longest time the engine represents at this resolution, [`MAX_STEPS`] steps.
    pub fn max_ms(&self) -> f64 {
        MAX_STEPS as f64 * self.h_ms
    }

    /// The time in ms at the *start* of step `step` (equivalently the end of step `step − 1`).
    pub fn ms(&self, step: Step) -> f64 {
        step as f64 * self.h_ms
    }

    /// `ms` as a whole number of steps; an error if it is negative, not finite, or off the grid.
    pub fn exact_steps(&self, ms: f64) -> Result<Step, TimeError> {
        if !ms.is_finite() || ms < 0.0 {
            return Err(TimeError::NotFinite { value: ms });
        }
        let steps = (ms / self.h_ms).round();
        if steps > MAX_STEPS as f64 {
            return Err(TimeError::TooLong { value: ms, h: self.h_ms, max: self.max_ms() });
        }
        if (steps * self.h_ms - ms).abs() > GRID_TOLERANCE * ms.abs().max(self.h_ms) {
            return Err(TimeError::OffGrid { value: ms, h: self.h_ms });
        }
        Ok(steps as Step)
    }

    /// `ms` rounded to the nearest whole number of steps (NEST's `Time::ms(t).get_steps()`),
    /// for quantities such as refractory periods that NEST rounds rather than rejects.
    pub fn round_steps(&self, ms: f64) -> Step {
        let steps = ms / self.h_ms;
        // The drawing of delays calls this once per synapse (3·10⁸ times for PD14), and
        // `f64::round` is a C library call on x86-64 without SSE4.1. Below 2⁵² the integer part
        // and the fraction are exact, so rounding half away from zero is adding whether the
        // fraction reaches one half: the same result without the call, and without a branch on
        // the fraction (random for drawn delays, so a branch would mispredict half the time).
        // The conversions go through i64, which x86-64 converts in one instruction each (u64
        // takes a branchy sequence both ways); in this range both types hold the value exactly.
        if (0.0..TWO_TO_52).contains(&steps) {
            let whole = steps as i64;
            (whole + i64::from(steps - whole as f64 >= 0.5)) as Step
        } else {
            steps.round().max(0.0) as Step
        }
    }

    /// The step in which an event at time `ms` (on the grid, up to rounding) first shows in the
    /// state: the step that *ends* at `ms`, i.e. `round(ms/h) − 1`. `None` for times ≤ 0.
    pub fn step_ending_at(&self, ms: f64) -> Option<Step> {
        let end = (ms / self.h_ms).round();
        if end >= 1.0 { Some(end as Step - 1) } else { None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_steps_is_the_library_round() {
        let library = |r: &Resolution, ms: f64| (ms / r.h()).round().max(0.0) as Step;
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for h in [0.1, 0.025, 1.0, 0.3] {
            let r = Resolution::new(h).unwrap();
            let mut cases = vec![
                0.0,
                -0.0,
                0.05,
                0.5 * h,
                1.5 * h,
                2.5 * h,
                0.049_999_999_999_999_996,
                1.4999999999999998 * h,
                -0.5,
                -3.0,
                1e15,
                4.5e14,
                4.503_599_627_370_495e15 * h,
                1e300,
                f64::INFINITY,
                f64::NAN,
                f64::MIN_POSITIVE,
                1e-300,
            ];
            for _ in 0..200_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Delays as drawn (a few ms, any fraction) and values across the whole range.
                cases.push((x >> 11) as f64 / (1u64 << 53) as f64 * 20.0);
                cases.push(f64::from_bits(x >> 2));
            }
            for ms in cases {
                assert_eq!(r.round_steps(ms), library(&r, ms), "{ms:e} ms at h = {h}");
            }
        }
    }

    #[test]
    fn decimal_multiples_are_on_grid() {
        let r = Resolution::new(0.1).unwrap();
        assert_eq!(r.exact_steps(0.3).unwrap(), 3);
        assert_eq!(r.exact_steps(1500.0).unwrap(), 15000);
        assert!(matches!(r.exact_steps(0.15), Err(TimeError::OffGrid { .. })));
        assert!(r.exact_steps(-1.0).is_err());
        // Beyond 2^53 steps a time is refused, not saturated or called off the grid.
        assert!(matches!(r.exact_steps(1e300), Err(TimeError::TooLong { .. })));
        assert!(matches!(r.exact_steps(1e308), Err(TimeError::TooLong { .. })));
        assert_eq!(r.exact_steps(1e12).unwrap(), 10_000_000_000_000);
        assert_eq!(r.round_steps(2.0), 20);
        assert_eq!(r.step_ending_at(0.1), Some(0));
        assert_eq!(r.step_ending_at(10.6), Some(105));
        assert_eq!(r.step_ending_at(0.0), None);
    }
}
