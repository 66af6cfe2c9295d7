//! A NEST parity case from `data/reference/nest`, turned into per-step kernel inputs.
//!
//! Included by the kernel tests with `#[path = "common/nest_case.rs"] mod nest_case;`.
//!
//! Step k advances the state from k·h to (k+1)·h. The case conventions translate as follows:
//! - a spike sent at t through a synapse with delay d first shows in the state at t + d, so it
//!   is delivered in step `round((t + d)/h) − 1` (added after that step's integration); spikes
//!   delivered in the same step sum; weight > 0 goes to the excitatory receptor, weight < 0 to
//!   the inhibitory one as the positive conductance −weight;
//! - a dc generator (connected with delay h) acts during the steps that end in
//!   (start + h, stop + h], that is the steps k with k·h in (start, stop];
//! - recorded sample j (time (j+1)·h) is the state at the end of step j;
//! - a spike in step k carries the time (k+1)·h.

use serde_json::Value;

/// The inputs of every step, ready for a kernel's `update(i, spike_ex, spike_in, i_stim)`.
pub struct StepInputs {
    /// Summed excitatory weights delivered in each step (nS).
    pub spike_ex: Vec<f64>,
    /// Summed magnitudes of the inhibitory weights delivered in each step (nS).
    pub spike_in: Vec<f64>,
    /// Injected current acting during each step (pA).
    pub i_stim: Vec<f64>,
}

pub struct NestCase {
    pub h_ms: f64,
    /// Steps to simulate: duration / h.
    pub steps: usize,
    /// `setup.neuron.params`, with NEST's names.
    pub params: Value,
    pub inputs: StepInputs,
    expected: Value,
}

/// Loads `data/reference/nest/<name>.json` and builds its per-step inputs.
pub fn load(name: &str) -> NestCase {
    let path = format!("{}/../../data/reference/nest/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let case: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let setup = &case["setup"];

    let h_ms = number(&setup["resolution_ms"]);
    let steps = to_steps(number(&setup["duration_ms"]), h_ms);
    assert_eq!(number(&setup["record"]["interval_ms"]), h_ms, "recording on the step grid");

    let mut inputs = StepInputs { spike_ex: vec![0.0; steps], spike_in: vec![0.0; steps], i_stim: vec![0.0; steps] };
    for input in array(&setup["inputs"]) {
        match input["kind"].as_str() {
            Some("spike_train") => {
                let weight = number(&input["weight"]);
                let delay_steps = to_steps(number(&input["delay_ms"]), h_ms);
                for time in array(&input["times_ms"]) {
                    let step = to_steps(number(time), h_ms) + delay_steps - 1;
                    if step >= steps {
                        continue;
                    }
                    if weight > 0.0 {
                        inputs.spike_ex[step] += weight;
                    } else {
                        inputs.spike_in[step] += -weight;
                    }
                }
            }
            Some("dc") => {
                let amplitude = number(&input["amplitude_pA"]);
                let start = to_steps(number(&input["start_ms"]), h_ms);
                let stop = to_steps(number(&input["stop_ms"]), h_ms);
                for step in (start + 1)..=stop.min(steps - 1) {
                    inputs.i_stim[step] += amplitude;
                }
            }
            other => panic!("{path}: input kind {other:?} not supported"),
        }
    }

    NestCase { h_ms, steps, params: setup["neuron"]["params"].clone(), inputs, expected: case["expected"].clone() }
}

impl NestCase {
    /// NEST's recorded trace of `variable`; sample j holds the state at the end of step j.
    pub fn expected_trace(&self, variable: &str) -> Vec<f64> {
        let trace: Vec<f64> = array(&self.expected[variable]).iter().map(number).collect();
        let times = array(&self.expected["times_ms"]);
        assert_eq!(times.len(), trace.len());
        for (j, time) in times.iter().enumerate() {
            assert_eq!(to_steps(number(time), self.h_ms), j + 1, "sample {j} at (j+1)·h");
        }
        trace
    }

    /// NEST's spike times as the steps they were emitted in (time (k+1)·h ↦ k).
    pub fn expected_spike_steps(&self) -> Vec<usize> {
        array(&self.expected["spike_times_ms"]).iter().map(|t| to_steps(number(t), self.h_ms) - 1).collect()
    }

    /// The time NEST gives a spike emitted in `step`.
    pub fn spike_time(&self, step: usize) -> f64 {
        (step + 1) as f64 * self.h_ms
    }
}

/// Absolute errors of a simulated trace against the expected one (same length or longer).
#[derive(Debug, Clone, Copy)]
pub struct ErrorStats {
    pub max: f64,
    /// Step of the largest error.
    pub max_at: usize,
    pub median: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
}

pub fn error_stats(simulated: &[f64], expected: &[f64]) -> ErrorStats {
    assert!(simulated.len() >= expected.len());
    let mut errors: Vec<f64> = expected.iter().zip(simulated).map(|(e, s)| (s - e).abs()).collect();
    let (max_at, max) =
        errors.iter().copied().enumerate().fold((0, 0.0), |best, (k, e)| if e > best.1 { (k, e) } else { best });
    errors.sort_by(f64::total_cmp);
    let n = errors.len();
    let median = if n % 2 == 1 { errors[n / 2] } else { 0.5 * (errors[n / 2 - 1] + errors[n / 2]) };
    let p99 = errors[((0.99 * n as f64).ceil() as usize).max(1) - 1];
    ErrorStats { max, max_at, median, p99 }
}

/// A time in ms as a whole number of steps.
fn to_steps(ms: f64, h_ms: f64) -> usize {
    let steps = (ms / h_ms).round();
    assert!(steps >= 0.0 && ((ms / h_ms) - steps).abs() < 1e-6, "{ms} ms is off the grid");
    steps as usize
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or_else(|| panic!("expected a number, found {value}"))
}

fn array(value: &Value) -> &Vec<Value> {
    value.as_array().unwrap_or_else(|| panic!("expected an array, found {value}"))
}
