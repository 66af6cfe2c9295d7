//! The phases of an attention run and the rate schedules that present them.
//!
//! A run is a write phase (one window per token, `write_ms` each, from 0) followed by a read
//! phase (per query: `settle_ms` for the circuit to settle on the new query, then `count_ms`
//! in which the readout is counted). Inputs are presented as piecewise-constant rates through
//! `inhomogeneous_poisson_generator`s, one per feature (or teacher channel), each driving its
//! own pool of cells.

use std::fmt::Write;

/// The windows of a run (ms, `[start, stop)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    pub write_windows_ms: Vec<(f64, f64)>,
    /// The count window of each query (its settle period precedes it).
    pub read_windows_ms: Vec<(f64, f64)>,
    pub settle_ms: f64,
    pub duration_ms: f64,
}

impl Timing {
    pub fn new(n_tokens: usize, n_queries: usize, write_ms: f64, settle_ms: f64, count_ms: f64) -> Self {
        let write_windows_ms: Vec<(f64, f64)> =
            (0..n_tokens).map(|t| (t as f64 * write_ms, (t + 1) as f64 * write_ms)).collect();
        let read_start = n_tokens as f64 * write_ms;
        let per_query = settle_ms + count_ms;
        let read_windows_ms = (0..n_queries)
            .map(|i| {
                let start = read_start + i as f64 * per_query + settle_ms;
                (start, start + count_ms)
            })
            .collect();
        let duration_ms = read_start + n_queries as f64 * per_query;
        Self { write_windows_ms, read_windows_ms, settle_ms, duration_ms }
    }

    /// The end of the write phase (ms).
    pub fn write_end_ms(&self) -> f64 {
        self.write_windows_ms.last().map_or(0.0, |w| w.1)
    }

    /// The whole presentation window of query i: its settle period and its count window.
    pub fn query_window_ms(&self, i: usize) -> (f64, f64) {
        let (start, stop) = self.read_windows_ms[i];
        (start - self.settle_ms, stop)
    }
}

/// A piecewise-constant rate (spikes/s) over consecutive windows, for an
/// `inhomogeneous_poisson_generator`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateSchedule {
    times: Vec<f64>,
    values: Vec<f64>,
}

impl RateSchedule {
    /// Sets `rate` over `[start, stop)` (windows in increasing order, not overlapping). The rate
    /// returns to 0 at `stop` unless the next window begins there. A rate time must be later
    /// than 0; the first step's spikes are stamped `h` anyway, so a window from 0 begins at `h`.
    pub fn window(&mut self, start: f64, stop: f64, rate: f64, h: f64) {
        let start = start.max(h);
        if self.times.last() == Some(&start) {
            *self.values.last_mut().expect("same length") = rate;
        } else if self.values.last().is_none_or(|&v| v != rate) {
            self.times.push(start);
            self.values.push(rate);
        }
        self.times.push(stop);
        self.values.push(0.0);
    }

    /// `rate` over the whole run, `[0, duration)`.
    pub fn constant(duration_ms: f64, rate: f64, h: f64) -> Self {
        let mut s = Self::default();
        s.window(0.0, duration_ms, rate, h);
        s
    }

    pub fn is_silent(&self) -> bool {
        self.values.iter().all(|&v| v == 0.0)
    }

    /// The generator's `params` table: `{ rate_times = [...], rate_values = [...] }`.
    pub fn params_toml(&self) -> String {
        let list = |xs: &[f64]| xs.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>().join(", ");
        format!("{{ rate_times = [{}], rate_values = [{}] }}", list(&self.times), list(&self.values))
    }
}

/// Appends one `[[stimuli]]` entry driving `count` cells of `population` from `first` (weight 1,
/// the target's default receptor: parrot cells repeat every spike).
pub fn push_generator(
    out: &mut String,
    name: &str,
    population: &str,
    first: usize,
    count: usize,
    schedule: &RateSchedule,
    delay_ms: f64,
) {
    let target = GeneratorTarget { population, first, count, weight: 1.0, receptor: None };
    push_generator_to(out, name, &target, schedule, delay_ms);
}

/// The cells a generator drives and how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneratorTarget<'a> {
    pub population: &'a str,
    pub first: usize,
    pub count: usize,
    /// Event size in the target's weight unit (pA for current-based cells).
    pub weight: f64,
    /// The receptor (`basal`, `apical`, …); `None` for the model's default.
    pub receptor: Option<&'a str>,
}

/// Appends one `[[stimuli]]` entry: an `inhomogeneous_poisson_generator` following `schedule`,
/// an independent train for every target cell.
pub fn push_generator_to(
    out: &mut String,
    name: &str,
    target: &GeneratorTarget,
    schedule: &RateSchedule,
    delay_ms: f64,
) {
    let receptor = target.receptor.map(|r| format!("receptor = \"{r}\"\n")).unwrap_or_default();
    let _ = writeln!(
        out,
        "\n[[stimuli]]\nname = \"{name}\"\nmodel = \"inhomogeneous_poisson_generator\"\ntarget = \"{}\"\n\
         nodes = {{ first = {}, count = {} }}\nweight = {:?}\n{receptor}delay_ms = {delay_ms:?}\nparams = {}",
        target.population,
        target.first,
        target.count,
        target.weight,
        schedule.params_toml()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_each_other() {
        let t = Timing::new(2, 2, 100.0, 300.0, 200.0);
        assert_eq!(t.write_windows_ms, vec![(0.0, 100.0), (100.0, 200.0)]);
        assert_eq!(t.read_windows_ms, vec![(500.0, 700.0), (1000.0, 1200.0)]);
        assert_eq!((t.duration_ms, t.query_window_ms(1)), (1200.0, (700.0, 1200.0)));
    }

    #[test]
    fn consecutive_windows_share_their_boundaries() {
        let mut s = RateSchedule::default();
        s.window(0.0, 100.0, 5.0, 0.1);
        s.window(100.0, 200.0, 7.0, 0.1);
        s.window(300.0, 400.0, 0.0, 0.1);
        assert_eq!(s.params_toml(), "{ rate_times = [0.1, 100.0, 200.0, 400.0], rate_values = [5.0, 7.0, 0.0, 0.0] }");
    }
}
