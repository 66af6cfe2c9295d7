//! `spike_generator`: emits spikes at given times (NEST semantics).
//!
//! A spike at time `t` (ms) is emitted in the step that ends at `t` and so carries the time stamp
//! `t`; with `delay d` it first shows in its targets' state at `t + d`. Times must be > 0 and
//! non-decreasing. By default times must lie on the grid; with `precise_times = true` they may lie
//! anywhere and are emitted with NEST's offset `(k+1)·h − t` for precise-timing targets (grid
//! targets see them in the step containing `t`). Several spikes in one step are several spikes.
//!
//! A population of `n` generators takes either one list (`spike_times`, shared) or one list per
//! generator (`spike_times_per_node`). Event-driven: each generator is due only at its next spike.
//!
//! Reference: NEST `models/spike_generator.{h,cpp}`.

use laminar_engine::{
    BuildContext, DefaultReceptor, InputKind, LocalSpike, ModelError, ModelInfo, NextEventQueue, Population,
    PopulationFactory, Resolution, StateError, StateIo, Step, Update,
};
use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpikeGeneratorParams {
    /// Spike times (ms) of every generator of the population.
    pub spike_times: Vec<f64>,
    /// Spike times (ms) per generator (overrides `spike_times`).
    pub spike_times_per_node: Option<Vec<Vec<f64>>>,
    /// Accept off-grid times and emit them with precise offsets.
    pub precise_times: bool,
}

pub static INFO: ModelInfo = ModelInfo {
    name: "spike_generator",
    receptors: laminar_engine::receptor_names![],
    default_receptor: DefaultReceptor::First,
    recordables: std::borrow::Cow::Borrowed(&[]),
    input: InputKind::SummedTouched,
    weight_units: "",
    counts_spikes: false,
    source_only: true,
    graded_output: None,
    current_on_arrival: false,
};

/// A scheduled spike: the step it is emitted in and its precise offset.
type Emission = (Step, f64);

impl SpikeGeneratorParams {
    /// Converts a list of times into emissions, checking order and grid.
    pub fn emissions(&self, times: &[f64], resolution: Resolution) -> Result<Vec<Emission>, String> {
        let h = resolution.h();
        let mut out = Vec::with_capacity(times.len());
        let mut last = f64::NEG_INFINITY;
        for &t in times {
            if !t.is_finite() || t <= 0.0 {
                return Err(format!("spike time {t} ms: must be a finite number > 0 ms"));
            }
            if t < last {
                return Err(format!("spike times must be non-decreasing ({t} ms after {last} ms)"));
            }
            last = t;
            if self.precise_times {
                // The step whose interval (k·h, (k+1)·h] contains t; times on the grid (up to
                // rounding in their decimal spelling) have offset 0.
                let end = (t / h).round();
                let on_grid = (end * h - t).abs() <= 1e-9 * t.max(h);
                let stamp = if on_grid { end } else { (t / h).ceil() };
                let offset = if on_grid { 0.0 } else { stamp * h - t };
                out.push((stamp as Step - 1, offset));
            } else {
                let steps = resolution
                    .exact_steps(t)
                    .map_err(|_| format!("spike time {t} ms is not on the {h}-ms grid (set precise_times = true)"))?;
                out.push((steps - 1, 0.0));
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Clone)]
pub struct SpikeGeneratorFactory {
    pub params: SpikeGeneratorParams,
    pub size: usize,
}

impl PopulationFactory for SpikeGeneratorFactory {
    fn info(&self) -> &ModelInfo {
        &INFO
    }

    fn build(&self, first: usize, _: u64, len: usize, ctx: &BuildContext) -> Result<Box<dyn Population>, ModelError> {
        let mut schedules = Vec::with_capacity(len);
        for local in 0..len {
            let times = match &self.params.spike_times_per_node {
                Some(per) => per.get(first + local).ok_or_else(|| {
                    ModelError(format!("spike_times_per_node has {} lists for {} generators", per.len(), self.size))
                })?,
                None => &self.params.spike_times,
            };
            schedules.push(self.params.emissions(times, ctx.resolution).map_err(ModelError)?);
        }
        Ok(Box::new(SpikeGenerators { next: vec![0; len], schedules }))
    }
}

#[derive(Debug)]
struct SpikeGenerators {
    schedules: Vec<Vec<Emission>>,
    /// Index of each generator's next emission.
    next: Vec<usize>,
}

impl Population for SpikeGenerators {
    fn len(&self) -> usize {
        self.schedules.len()
    }

    fn start(&mut self, step: Step, queue: &mut NextEventQueue) {
        for (i, s) in self.schedules.iter().enumerate() {
            // Spikes before the start step are in the past and never emitted.
            let k = s.partition_point(|&(e, _)| e < step);
            self.next[i] = k;
            if let Some(&(e, _)) = s.get(k) {
                queue.schedule(i as u32, e);
            }
        }
    }

    fn update(&mut self, u: &mut Update<'_>) {
        while let Some((key, _)) = u.queue.pop_due(u.step) {
            let i = key as usize;
            let s = &self.schedules[i];
            let mut k = self.next[i];
            while let Some(&(e, offset)) = s.get(k) {
                if e != u.step {
                    break;
                }
                u.spikes.push(LocalSpike { local: key, offset });
                k += 1;
            }
            self.next[i] = k;
            if let Some(&(e, _)) = s.get(k) {
                u.queue.schedule(key, e);
            }
        }
    }

    /// Each generator's position in its spike list (the schedules themselves come from the model
    /// file). Loading schedules every generator with a spike left at that spike's step, as `start`
    /// and `update` keep it in `queue`.
    fn state(&mut self, io: &mut StateIo, queue: &mut NextEventQueue) -> Result<(), StateError> {
        io.neurons("next", &mut self.next)?;
        if io.loading() {
            let now = io.now();
            for (i, (s, &k)) in self.schedules.iter().zip(&self.next).enumerate() {
                if k > s.len() {
                    return Err(StateError(format!(
                        "generator {i} is at spike {k} of a list of {}: the spike times changed",
                        s.len()
                    )));
                }
                if let Some(&(e, _)) = s.get(k) {
                    if e < now {
                        return Err(StateError(format!(
                            "generator {i}'s next spike is in step {e}, before step {now}: the spike times changed"
                        )));
                    }
                    queue.schedule(i as u32, e);
                }
            }
        }
        Ok(())
    }

    fn sample(&self, _: usize, _: usize, _: Step) -> f64 {
        f64::NAN
    }

    fn set_state(&mut self, _: usize, _: usize, _: f64) -> Result<(), String> {
        Err("spike_generator has no state".into())
    }
}
