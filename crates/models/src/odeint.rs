//! Adaptive embedded Runge–Kutta–Fehlberg 4(5) integration, step for step as NEST drives GSL.
//!
//! NEST's conductance-based and AdEx models integrate their ODEs with GSL's (old-style)
//! `gsl_odeiv` API: the `rkf45` stepper, the *standard* step-size control and
//! `gsl_odeiv_evolve_apply`, called in a loop until one simulation step of length h is covered.
//! Matching NEST to the last digits needs the same algorithm, including its step-size history,
//! so this module re-implements exactly that algorithm (not a generic "RK45").
//!
//! # The stepper (GSL `ode-initval/rkf45.c`)
//! Fehlberg's embedded pair with the six stages of Hairer, Nørsett & Wanner, *Solving Ordinary
//! Differential Equations I* (2nd ed., 2000), sec. II.5. The step advances with the
//! **fifth-order** weights; the error estimate is the difference between the fifth- and the
//! fourth-order solutions:
//!
//! ```text
//! k1 = f(t, y)                      (reused from the evolve call, "dydt_in")
//! k2 = f(t + h/4,     y + h/4·k1)
//! k3 = f(t + 3h/8,    y + h(3/32·k1 + 9/32·k2))
//! k4 = f(t + 12h/13,  y + h(1932/2197·k1 − 7200/2197·k2 + 7296/2197·k3))
//! k5 = f(t + h,       y + h(439/216·k1 − 8·k2 + 3680/513·k3 − 845/4104·k4))
//! k6 = f(t + h/2,     y + h(−8/27·k1 + 2·k2 − 3544/2565·k3 + 1859/4104·k4 − 11/40·k5))
//! y' = y + h(16/135·k1 + 6656/12825·k3 + 28561/56430·k4 − 9/50·k5 + 2/55·k6)
//! err = h(1/360·k1 − 128/4275·k3 − 2197/75240·k4 + 1/50·k5 + 2/55·k6)
//! ```
//! followed by one more evaluation `f(t + h, y')` ("dydt_out", used by the control when it
//! weighs derivatives). Sums are formed in the order written, as GSL forms them, because the
//! last bits of a sub-step decide the step-size history and, through it, the result.
//!
//! # The control (GSL `ode-initval/cstd.c`, `gsl_odeiv_control_standard_new`)
//! With tolerances `eps_abs`, `eps_rel` and weights `a_y`, `a_dydt`, for every component
//! `D_i = eps_rel·(a_y·|y_i| + a_dydt·|h·y'_i|) + eps_abs` and `r = max_i |err_i| / |D_i|`
//! (the maximum starts at `f64::MIN_POSITIVE`, as GSL's `DBL_MIN`). With the stepper order q = 5:
//! - `r > 1.1`: decrease, `h ← h · max(0.9 / r^(1/q), 0.2)`;
//! - `r < 0.5`: increase, `h ← h · clamp(0.9 / r^(1/(q+1)), 1, 5)`;
//! - otherwise keep h.
//!
//! `gsl_odeiv_control_y_new(eps_abs, eps_rel)` is `a_y = 1, a_dydt = 0`
//! ([`StandardControl::y`]); `gsl_odeiv_control_yp_new` is `a_y = 0, a_dydt = 1`
//! ([`StandardControl::yp`]).
//!
//! # One evolve call (GSL `ode-initval/evolve.c`, `gsl_odeiv_evolve_apply`)
//! From `t0` towards `t1` with the suggested size `h`: compute `dydt_in = f(t0, y)` once; clip
//! the trial size to the remaining `t1 − t0` (then the call ends exactly at `t1`); take one step;
//! ask the control. If it asks for a *decrease* that really is smaller and still moves time by
//! at least one ulp, undo the step and retry from `t0` with the smaller size; otherwise accept
//! the step and hand the (possibly increased) size back as the suggestion for the next call.
//! The suggestion is not reset when a step was clipped at `t1`: NEST keeps it from one
//! simulation step to the next (`B_.IntegrationStep_`), and so must the caller here.
//!
//! # How NEST drives it
//! Per simulation step of length h (`update()` in e.g. `models/iaf_cond_exp.cpp`):
//! `t = 0; while t < h { evolve_apply(&t, h, &IntegrationStep_, y) }`, with
//! `IntegrationStep_` initialised to h when the node is created. [`Rkf45::integrate`] is that
//! loop; models that act between sub-steps (AdEx: spike detection and reset inside the step)
//! write the loop themselves around [`Rkf45::evolve_apply`].
//!
//! Everything lives on the stack (`[f64; N]`); nothing is allocated per call.
//!
//! Beside it, [`rk4_step`]: one classic fourth-order Runge–Kutta step, for the fixed-step options
//! models offer where NEST parity is not asked for.

/// Stage nodes c2…c6 (fractions of the step at which k2…k6 are evaluated).
const C2: f64 = 1.0 / 4.0;
const C3: f64 = 3.0 / 8.0;
const C4: f64 = 12.0 / 13.0;
const C5: f64 = 1.0;
const C6: f64 = 1.0 / 2.0;

/// Stage coefficients a_ij (row i gives the combination of k1…k(i−1) for stage i).
const A31: f64 = 3.0 / 32.0;
const A32: f64 = 9.0 / 32.0;
const A41: f64 = 1932.0 / 2197.0;
const A42: f64 = -7200.0 / 2197.0;
const A43: f64 = 7296.0 / 2197.0;
const A51: f64 = 439.0 / 216.0;
const A52: f64 = -8.0;
const A53: f64 = 3680.0 / 513.0;
const A54: f64 = -845.0 / 4104.0;
const A61: f64 = -8.0 / 27.0;
const A62: f64 = 2.0;
const A63: f64 = -3544.0 / 2565.0;
const A64: f64 = 1859.0 / 4104.0;
const A65: f64 = -11.0 / 40.0;

/// Fifth-order weights (k2's weight is zero), used to advance the solution.
const B1: f64 = 16.0 / 135.0;
const B3: f64 = 6656.0 / 12825.0;
const B4: f64 = 28561.0 / 56430.0;
const B5: f64 = -9.0 / 50.0;
const B6: f64 = 2.0 / 55.0;

/// Fifth- minus fourth-order weights: the local error estimate.
const E1: f64 = 1.0 / 360.0;
const E3: f64 = -128.0 / 4275.0;
const E4: f64 = -2197.0 / 75240.0;
const E5: f64 = 1.0 / 50.0;
const E6: f64 = 2.0 / 55.0;

/// Order reported by GSL's rkf45 stepper to the control (that of the advancing solution).
const ORDER: f64 = 5.0;

/// GSL's standard step-size control: the tolerances and how values and derivatives are weighed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StandardControl {
    /// Absolute tolerance per component.
    pub eps_abs: f64,
    /// Relative tolerance per component.
    pub eps_rel: f64,
    /// Weight of |y_i| in the relative part.
    pub a_y: f64,
    /// Weight of |h·y'_i| in the relative part.
    pub a_dydt: f64,
}

/// What the control decided about the step size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Adjustment {
    Decrease,
    Increase,
    Keep,
}

impl StandardControl {
    /// `gsl_odeiv_control_y_new(eps_abs, eps_rel)`: errors measured against the values.
    pub const fn y(eps_abs: f64, eps_rel: f64) -> Self {
        Self { eps_abs, eps_rel, a_y: 1.0, a_dydt: 0.0 }
    }

    /// `gsl_odeiv_control_yp_new(eps_abs, eps_rel)`: errors measured against the derivatives.
    pub const fn yp(eps_abs: f64, eps_rel: f64) -> Self {
        Self { eps_abs, eps_rel, a_y: 0.0, a_dydt: 1.0 }
    }

    /// The standard control's `hadjust`: judges the step just taken (new values `y`, error
    /// estimate `yerr`, derivatives `dydt` at the new point) and rescales `h` in place.
    fn adjust<const N: usize>(&self, y: &[f64; N], yerr: &[f64; N], dydt: &[f64; N], h: &mut f64) -> Adjustment {
        const SAFETY: f64 = 0.9;
        let h_old = *h;
        // GSL starts the maximum at DBL_MIN, not 0: an exactly zero error then asks for the
        // largest increase instead of dividing by zero below.
        let mut ratio_max = f64::MIN_POSITIVE;
        for i in 0..N {
            let tolerance =
                self.eps_rel * (self.a_y * y[i].abs() + self.a_dydt * (h_old * dydt[i]).abs()) + self.eps_abs;
            let ratio = yerr[i].abs() / tolerance.abs();
            // GSL_MAX_DBL(r, rmax) is `r > rmax ? r : rmax`: a NaN ratio never wins.
            if ratio > ratio_max {
                ratio_max = ratio;
            }
        }

        if ratio_max > 1.1 {
            // Shrink, a fraction SAFETY more than the error scaling suggests, at most 5-fold.
            let factor = (SAFETY / ratio_max.powf(1.0 / ORDER)).max(0.2);
            *h = factor * h_old;
            Adjustment::Decrease
        } else if ratio_max < 0.5 {
            // Grow at most 5-fold, and never shrink merely because SAFETY < 1.
            let factor = (SAFETY / ratio_max.powf(1.0 / (ORDER + 1.0))).clamp(1.0, 5.0);
            *h = factor * h_old;
            Adjustment::Increase
        } else {
            Adjustment::Keep
        }
    }
}

/// What one [`Rkf45::evolve_apply`] call did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvolveOutcome {
    /// Length of the accepted sub-step (ms in the models).
    pub step: f64,
    /// How many trial steps the control rejected before accepting one.
    pub rejected: u32,
}

/// GSL's `rkf45` stepper + standard control + `gsl_odeiv_evolve_apply`, for any fixed-size
/// system. Holds only the control; all work arrays live on the stack of each call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rkf45 {
    pub control: StandardControl,
}

impl Rkf45 {
    pub const fn new(control: StandardControl) -> Self {
        Self { control }
    }

    /// One `gsl_odeiv_evolve_apply` call: advances `y` from `*t` by one accepted sub-step
    /// towards `t1` (ending exactly at `t1` if the suggested step reaches it), updates `*t`,
    /// and replaces `*h` by the suggested size of the next sub-step.
    ///
    /// `rhs(t, y, dydt)` writes the derivatives of `y` at time `t` into `dydt`.
    pub fn evolve_apply<const N: usize, F>(
        &self,
        rhs: &mut F,
        t: &mut f64,
        t1: f64,
        h: &mut f64,
        y: &mut [f64; N],
    ) -> EvolveOutcome
    where
        F: FnMut(f64, &[f64; N], &mut [f64; N]),
    {
        let t0 = *t;
        let mut h0 = *h;
        let remaining = t1 - t0;
        debug_assert!(
            !((remaining < 0.0 && h0 > 0.0) || (remaining > 0.0 && h0 < 0.0)),
            "step direction must match the interval direction"
        );

        let y_start = *y;
        let mut dydt_in = [0.0; N];
        rhs(t0, y, &mut dydt_in);

        let mut yerr = [0.0; N];
        let mut dydt_out = [0.0; N];
        let mut rejected = 0;
        loop {
            let final_step = (remaining >= 0.0 && h0 > remaining) || (remaining < 0.0 && h0 < remaining);
            if final_step {
                h0 = remaining;
            }

            rkf45_step(rhs, t0, h0, y, &dydt_in, &mut yerr, &mut dydt_out);

            // A clipped step ends at t1 exactly, not at t0 + (t1 − t0), which may differ by an ulp.
            *t = if final_step { t1 } else { t0 + h0 };

            let h_tried = h0;
            if self.control.adjust(y, &yerr, &dydt_out, &mut h0) == Adjustment::Decrease {
                // Retry only if the step really shrank and the new one still moves time (GSL
                // compares from the end of the rejected step, `*t`, and so does this).
                if h0.abs() < h_tried.abs() && *t + h0 != *t {
                    *y = y_start;
                    rejected += 1;
                    continue;
                }
                h0 = h_tried;
            }

            *h = h0;
            return EvolveOutcome { step: h_tried, rejected };
        }
    }

    /// Integrates `y` over `[0, duration]` as NEST's model `update()` does for one simulation
    /// step: `evolve_apply` until the interval is covered. `step_size` is the sub-step
    /// suggestion carried from call to call (NEST's `B_.IntegrationStep_`, initially the
    /// simulation step). Returns how many sub-steps were accepted.
    pub fn integrate<const N: usize, F>(&self, rhs: &mut F, duration: f64, step_size: &mut f64, y: &mut [f64; N]) -> u32
    where
        F: FnMut(f64, &[f64; N], &mut [f64; N]),
    {
        let mut t = 0.0;
        let mut substeps = 0;
        while t < duration {
            self.evolve_apply(rhs, &mut t, duration, step_size, y);
            substeps += 1;
        }
        substeps
    }
}

/// One Runge–Kutta–Fehlberg step of size `h` from `(t, y)`, with `k1 = dydt_in` given:
/// overwrites `y` with the fifth-order solution, `yerr` with the error estimate and `dydt_out`
/// with the derivatives at the new point.
fn rkf45_step<const N: usize, F>(
    rhs: &mut F,
    t: f64,
    h: f64,
    y: &mut [f64; N],
    dydt_in: &[f64; N],
    yerr: &mut [f64; N],
    dydt_out: &mut [f64; N],
) where
    F: FnMut(f64, &[f64; N], &mut [f64; N]),
{
    let k1 = dydt_in;
    let mut k2 = [0.0; N];
    let mut k3 = [0.0; N];
    let mut k4 = [0.0; N];
    let mut k5 = [0.0; N];
    let mut k6 = [0.0; N];
    let mut y_stage = [0.0; N];

    // Each stage is written as GSL writes it (`y + h * (Σ a_ij k_j)`, except the first,
    // `y + (a21 h) k1`) so that rounding, and with it the step-size history, is the same.
    for i in 0..N {
        y_stage[i] = y[i] + C2 * h * k1[i];
    }
    rhs(t + C2 * h, &y_stage, &mut k2);

    for i in 0..N {
        y_stage[i] = y[i] + h * (A31 * k1[i] + A32 * k2[i]);
    }
    rhs(t + C3 * h, &y_stage, &mut k3);

    for i in 0..N {
        y_stage[i] = y[i] + h * (A41 * k1[i] + A42 * k2[i] + A43 * k3[i]);
    }
    rhs(t + C4 * h, &y_stage, &mut k4);

    for i in 0..N {
        y_stage[i] = y[i] + h * (A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i]);
    }
    rhs(t + C5 * h, &y_stage, &mut k5);

    for i in 0..N {
        y_stage[i] = y[i] + h * (A61 * k1[i] + A62 * k2[i] + A63 * k3[i] + A64 * k4[i] + A65 * k5[i]);
    }
    rhs(t + C6 * h, &y_stage, &mut k6);

    for i in 0..N {
        let slope = B1 * k1[i] + B3 * k3[i] + B4 * k4[i] + B5 * k5[i] + B6 * k6[i];
        y[i] += h * slope;
    }

    rhs(t + h, y, dydt_out);

    for i in 0..N {
        yerr[i] = h * (E1 * k1[i] + E3 * k3[i] + E4 * k4[i] + E5 * k5[i] + E6 * k6[i]);
    }
}

/// How a stepped model with an adaptive reference integrates a step: its parameter
/// `integration` (`aeif_cond_alpha`, `iaf_cond_exp`), with `rk4_substeps` for the fixed-step
/// choices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Integration {
    /// GSL's adaptive Runge–Kutta–Fehlberg 4(5), as NEST: the reference, which parity needs.
    #[default]
    Rkf45,
    /// Classic fourth-order Runge–Kutta with `rk4_substeps` equal sub-steps per step: no error
    /// control, several times cheaper (each model's documentation says what it costs).
    Rk4,
    /// The same RK4, every neuron of a shard in one vectorised loop per sub-step (with
    /// [`crate::vector_exp::exp`] where the model has an exponential): faster again.
    Rk4Vector,
}

/// The right-hand side `y' = f(y)` of a system [`rk4_step`] integrates. A trait rather than a
/// closure because its evaluation must be inlined into a vectorised loop over neurons
/// (`aeif_cond_alpha`'s `"rk4_vector"`), and only a function, not a closure, can demand that.
pub trait Rhs<const N: usize> {
    fn eval(&self, y: &[f64; N], dydt: &mut [f64; N]);
}

/// One classic fourth-order Runge–Kutta step of size `dt` of the autonomous system `y' = f(y)`
/// (no error estimate, no step control): for models that offer a fixed-step option beside the
/// adaptive scheme above (`aeif_cond_alpha`'s `integration = "rk4"`). Always inlined: in a loop
/// over neurons (`"rk4_vector"`) a call would keep the loop from vectorising.
#[inline(always)]
pub fn rk4_step<const N: usize>(y: &mut [f64; N], dt: f64, f: &impl Rhs<N>) {
    let (mut k1, mut k2, mut k3, mut k4) = ([0.0; N], [0.0; N], [0.0; N], [0.0; N]);
    let mut stage = [0.0; N];
    let half = 0.5 * dt;
    f.eval(y, &mut k1);
    for j in 0..N {
        stage[j] = y[j] + half * k1[j];
    }
    f.eval(&stage, &mut k2);
    for j in 0..N {
        stage[j] = y[j] + half * k2[j];
    }
    f.eval(&stage, &mut k3);
    for j in 0..N {
        stage[j] = y[j] + dt * k3[j];
    }
    f.eval(&stage, &mut k4);
    for j in 0..N {
        y[j] += dt / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The weights of each stage sum to its node, and both solutions' weights sum to one.
    #[test]
    fn fehlberg_tableau_is_consistent() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-15;
        assert!(close(A31 + A32, C3));
        assert!(close(A41 + A42 + A43, C4));
        assert!(close(A51 + A52 + A53 + A54, C5));
        assert!(close(A61 + A62 + A63 + A64 + A65, C6));
        assert!(close(B1 + B3 + B4 + B5 + B6, 1.0));
        assert!(close(E1 + E3 + E4 + E5 + E6, 0.0));
    }

    /// y' = −y over 1 time unit: fifth-order accurate, error controlled to the tolerance.
    #[test]
    fn exponential_decay_meets_tolerance() {
        let solver = Rkf45::new(StandardControl::y(1e-9, 0.0));
        let mut rhs = |_t: f64, y: &[f64; 1], dydt: &mut [f64; 1]| dydt[0] = -y[0];
        let mut y = [1.0];
        let mut h = 0.1;
        let substeps = solver.integrate(&mut rhs, 1.0, &mut h, &mut y);
        assert!((y[0] - (-1.0f64).exp()).abs() < 1e-8, "y = {}", y[0]);
        assert!(substeps > 1);
    }

    /// The suggestion grows at most 5-fold after an exact step and the last step is clipped.
    #[test]
    fn step_grows_at_most_fivefold_and_clips_at_the_end() {
        let solver = Rkf45::new(StandardControl::y(1e-3, 0.0));
        // Constant derivative: the error estimate is exactly zero.
        let mut rhs = |_t: f64, _y: &[f64; 1], dydt: &mut [f64; 1]| dydt[0] = 2.0;
        let mut y = [0.0];
        let mut t = 0.0;
        let mut h = 0.01;
        let outcome = solver.evolve_apply(&mut rhs, &mut t, 1.0, &mut h, &mut y);
        assert_eq!(outcome, EvolveOutcome { step: 0.01, rejected: 0 });
        assert_eq!(h, 5.0 * 0.01);
        assert_eq!(t, 0.01);

        let mut h = 5.0;
        let outcome = solver.evolve_apply(&mut rhs, &mut t, 1.0, &mut h, &mut y);
        assert_eq!(t, 1.0);
        assert_eq!(outcome.step, 1.0 - 0.01);
        assert!((y[0] - 2.0).abs() < 1e-14);
        // The suggestion grows from the clipped step, not from the suggestion handed in.
        assert_eq!(h, 5.0 * (1.0 - 0.01));
    }

    /// A stiff decay forces rejected steps, and the result still meets the tolerance.
    #[test]
    fn rejects_steps_that_are_too_large() {
        let solver = Rkf45::new(StandardControl::yp(1e-6, 1e-6));
        let mut rhs = |_t: f64, y: &[f64; 2], dydt: &mut [f64; 2]| {
            dydt[0] = -50.0 * y[0];
            dydt[1] = y[0];
        };
        let mut y = [1.0, 0.0];
        let mut t = 0.0;
        let mut h = 0.5;
        let outcome = solver.evolve_apply(&mut rhs, &mut t, 0.5, &mut h, &mut y);
        assert!(outcome.rejected > 0);
        assert!(outcome.step < 0.5);
        assert_eq!(t, outcome.step);
        assert!((y[0] - (-50.0 * t).exp()).abs() < 1e-5);
    }
}
