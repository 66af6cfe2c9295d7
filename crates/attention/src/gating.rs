//! `laminar gating`: does the apical ("query") input of a pyramidal cell gate its somatic
//! ("value") drive multiplicatively?
//!
//! # The experiment
//! A grid of somatic drive `a` (rows) × apical drive `b` (columns), 6 × 6 by default. Every grid
//! point is its own population of `cells` independent [`pyramidal_bac`] cells (no recurrent
//! connections), built with [`NetworkBuilder`] and run through the engine in one simulation.
//! - Somatic drive: every cell receives its own Poisson train on the `basal` receptor,
//!   `somatic_weight` pA per event (the train stands for the summed input of many afferents).
//! - Apical drive: an independent Poisson train per cell on the `apical` receptor,
//!   `apical_weight` pA per event.
//!
//! A train of rate ν and weight w gives a mean current ν·w·τ_syn (τ_syn of the receptor) and
//! fluctuations around it, so the cells fire irregularly, as in vivo, rather than as clocks.
//! After a warm-up (the somatic adaptation has τ = 100 ms) the output rate `R[i][j]` (spikes per
//! cell per second) and the fraction of spikes in bursts (ISI < 16 ms, Naud & Sprekeler 2018) are
//! measured over `duration_ms`.
//!
//! # The criterion
//! Two models of the surface, each with 12 values for a 6 × 6 grid (11 identifiable):
//! - **product** `R ≈ g(a)·f(b)`: the best rank-1 approximation in the least-squares sense (the
//!   leading singular triplet of R, by power iteration on RᵀR), i.e. apical drive scales the
//!   somatic response by a gain f(b) (reported with f(0) = 1 when R(a, 0) is not all zero);
//! - **additive** `R ≈ μ + α(a) + β(b)`: the two-way ANOVA fit without interaction (row means +
//!   column means − grand mean), i.e. apical drive adds a fixed amount to every row.
//!
//! Each fit's quality is R² = 1 − SS_res/SS_tot (SS_tot around the grand mean); the larger wins.
//! As a diagnostic the report also gives both R² restricted to the rows in which somatic drive
//! alone makes the cell fire (R(a, 0) ≥ 1 Hz), and the gain R(a, b)/R(a, 0) of those rows.
//!
//! # The default ranges, and why
//! The question is how an apical input that *modulates* combines with a somatic input that
//! *drives*, so both ranges start at zero and stay inside the regime in which that holds:
//! - **Somatic**: 0 … 3500 Hz of 50-pA events (mean 0 … 875 pA with τ_syn_basal = 5 ms), six
//!   linear steps: from no drive, through the somatic threshold (≈ 460 pA for a constant
//!   current; with the fluctuations of this drive the cell starts to fire at ≈ 1300 Hz), to
//!   ≈ 22 Hz without apical input — a typical cortical range, far from saturation (the
//!   refractory period allows 333 Hz).
//! - **Apical**: 0 … 1600 Hz of 50-pA events (mean 0 … 400 pA with τ_syn_apical = 5 ms), six
//!   linear steps: from no input to the edge of the *modulatory* regime. At 1600 Hz apical input
//!   alone makes the cell fire at < 0.3 Hz; from ≈ 1750 Hz (≈ 440 pA) on the dendrite starts
//!   plateaus by itself and drives the soma without any somatic input (measured with 20 cells:
//!   1.3 Hz at 1800 Hz, 5.5 Hz at 2000 Hz, 36 Hz of regular firing at 4000 Hz). There the apical input is a second
//!   driver, not a gate, and an OR-like, additive component is there by construction.
//!
//! These levels were measured at the published parameters (Naud & Sprekeler 2018). For other
//! cell parameters the thresholds move: the report warns when the grid misses the regime (apical
//! drive alone fires the cell, or somatic drive never does), and `--auto-range` (see
//! [`calibrate`]) finds the same two edges for the given cell and spans the grid between zero
//! and them.
//!
//! # What the published parameters give
//! With the defaults (50 cells per point, 2 s after 300 ms, seed 1, one thread; ≈ 7 s), measured
//! in `crates/attention/tests/gating.rs`: **product R² = 0.9913, additive R² = 0.9428** — the product
//! wins. The fraction of spikes in bursts goes from ≤ 0.06 without apical drive to ≥ 0.94 at the
//! top three apical levels: the gain comes from BAC bursts.
//!
//! What the margin is made of matters, and the report shows it:
//! - **The gate.** Without somatic drive, apical drive does nothing (row 0: ≤ 0.06 Hz; the
//!   700-Hz row, below the somatic threshold, ≤ 0.33 Hz), while the same apical drive raises a
//!   firing row by up to ×2.9. No additive model can reproduce a zero row next to rows that grow
//!   by 15–20 Hz; a product can.
//! - **Within the firing regime** (the three rows with R(a, 0) ≥ 1 Hz) both models fit well and
//!   the additive one slightly better (product 0.9847, additive 0.9941): the gain falls with the
//!   somatic drive (×2.90 at 8 Hz, ×2.16 at 15 Hz, ×1.93 at 22 Hz, and ×12 in the row that is
//!   barely firing at 0.8 Hz), i.e. apical drive is there part gain, part offset. A grid of
//!   suprathreshold rows only (1500 … 4000 Hz) gives product 0.9842, additive 0.9865.
//! - **Past the modulatory edge** (apical rates to 2000 Hz, where apical input alone fires the
//!   cell at up to 6 Hz) the margin shrinks: product 0.9699, additive 0.9501.
//!
//! So at the published parameters the apical input gates the somatic drive (no value, no output;
//! value present, output multiplied by a burst-driven gain), and the product model is the better
//! description of the whole surface; the gain is not constant across the firing regime.
//!
//! [`pyramidal_bac`]: laminar_models::pyramidal_bac

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use laminar_engine::{DeviceEntry, NetworkBuilder, Observer, Resolution, SpikeRecord, Step};
use laminar_models::pyramidal_bac::{APICAL, BASAL, PyramidalBacParams};
use laminar_models::registry;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Error, Result, stats};

/// The cell model of the experiment.
pub const CELL_MODEL: &str = "pyramidal_bac";
/// Spikes closer than this belong to one burst (Naud & Sprekeler 2018).
pub const BURST_ISI_MS: f64 = 16.0;
/// A row "fires" when somatic drive alone gives at least this rate (Hz).
pub const FIRING_ROW_HZ: f64 = 1.0;
/// `--auto-range`: the somatic range ends where somatic drive alone gives this rate (Hz).
pub const SOMATIC_TARGET_HZ: f64 = 20.0;
/// `--auto-range` and the report's warning: apical drive alone must stay below this rate (Hz).
pub const APICAL_ALONE_LIMIT_HZ: f64 = 1.0;

/// `n` equally spaced values from 0 to `max`.
pub fn linspace(max: f64, n: usize) -> Vec<f64> {
    (0..n).map(|k| max * k as f64 / (n.max(2) - 1) as f64).collect()
}

/// The grid and how it is measured. Every field has a default; a `[grid]` table or
/// `--set grid.FIELD=VALUE` overrides it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Grid {
    /// Poisson rates onto `basal` (Hz), one per row, ascending.
    pub somatic_rates: Vec<f64>,
    /// Poisson rates onto `apical` (Hz), one per column, ascending.
    pub apical_rates: Vec<f64>,
    /// Weight of a somatic event (pA).
    pub somatic_weight: f64,
    /// Weight of an apical event (pA).
    pub apical_weight: f64,
    /// Cells per grid point.
    pub cells: usize,
    /// Time before the measurement (ms).
    pub warmup_ms: f64,
    /// Measured time (ms).
    pub duration_ms: f64,
    /// Simulation step (ms).
    pub resolution_ms: f64,
}

impl Default for Grid {
    fn default() -> Self {
        Self {
            somatic_rates: linspace(3500.0, 6),
            apical_rates: linspace(1600.0, 6),
            somatic_weight: 50.0,
            apical_weight: 50.0,
            cells: 50,
            warmup_ms: 300.0,
            duration_ms: 2000.0,
            resolution_ms: 0.1,
        }
    }
}

impl Grid {
    fn validate(&self) -> Result<()> {
        for (name, rates) in [("somatic_rates", &self.somatic_rates), ("apical_rates", &self.apical_rates)] {
            if rates.len() < 2 {
                return Err(Error::Invalid(format!("grid.{name}: needs at least 2 levels (has {})", rates.len())));
            }
            if let Some(r) = rates.iter().find(|r| !(r.is_finite() && **r >= 0.0)) {
                return Err(Error::Invalid(format!("grid.{name}: {r} is not a rate >= 0 Hz")));
            }
            if rates.windows(2).any(|w| w[0] >= w[1]) {
                return Err(Error::Invalid(format!("grid.{name}: levels must be strictly ascending")));
            }
        }
        for (name, w) in [("somatic_weight", self.somatic_weight), ("apical_weight", self.apical_weight)] {
            if !(w.is_finite() && w > 0.0) {
                return Err(Error::Invalid(format!(
                    "grid.{name} = {w}: must be a finite number > 0 pA (excitatory drive)"
                )));
            }
        }
        if self.cells == 0 {
            return Err(Error::Invalid("grid.cells = 0: must be >= 1".into()));
        }
        let resolution = Resolution::new(self.resolution_ms)
            .map_err(|e| Error::Invalid(format!("grid.resolution_ms = {}: {e}", self.resolution_ms)))?;
        if !(self.duration_ms.is_finite() && self.duration_ms > 0.0) {
            return Err(Error::Invalid(format!("grid.duration_ms = {}: must be > 0 ms", self.duration_ms)));
        }
        if !(self.warmup_ms.is_finite() && self.warmup_ms >= 0.0) {
            return Err(Error::Invalid(format!("grid.warmup_ms = {}: must be >= 0 ms", self.warmup_ms)));
        }
        for (name, ms) in [("warmup_ms", self.warmup_ms), ("duration_ms", self.duration_ms)] {
            resolution.exact_steps(ms).map_err(|e| {
                Error::Invalid(format!("grid.{name} = {ms}: {e} (a whole number of {} ms steps)", self.resolution_ms))
            })?;
        }
        Ok(())
    }
}

/// A gating experiment: the cell's parameters, the grid, the seed and the threads.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// `pyramidal_bac` parameters by name (unset ones keep the published defaults).
    pub params: Map<String, Value>,
    pub grid: Grid,
    pub seed: u64,
    pub threads: usize,
}

impl Default for Experiment {
    fn default() -> Self {
        Self { params: Map::new(), grid: Grid::default(), seed: 1, threads: 1 }
    }
}

/// Parses a `--set` value as TOML (a number, boolean, array, …); a bare word is a string.
fn parse_value(text: &str) -> Value {
    match toml::from_str::<toml::Table>(&format!("v = {text}")) {
        Ok(mut t) => t.remove("v").and_then(|v| serde_json::to_value(v).ok()).unwrap_or(Value::Null),
        Err(_) => Value::String(text.to_string()),
    }
}

fn toml_to_json(v: &toml::Value) -> Result<Map<String, Value>> {
    match serde_json::to_value(v)? {
        Value::Object(m) => Ok(m),
        other => Err(Error::Invalid(format!("expected a table, found {other}"))),
    }
}

impl Experiment {
    /// Reads the cell parameters (and grid) from `file`, if given, then applies `--set`
    /// overrides: `KEY=VALUE` sets a cell parameter, `grid.FIELD=VALUE` a grid field.
    ///
    /// `file` is either a parameter file (a `[params]` table of `pyramidal_bac` parameters and an
    /// optional `[grid]` table) or a laminar model file, whose `pyramidal_bac` population
    /// (`population` names it when there are several) lends its `params`.
    pub fn load(file: Option<&Path>, sets: &[String], population: Option<&str>) -> Result<Self> {
        let mut exp = Experiment::default();
        let mut grid = serde_json::to_value(&exp.grid)?.as_object().cloned().unwrap_or_default();
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
            let table: toml::Table =
                toml::from_str(&text).map_err(|e| Error::File { path: path.to_path_buf(), message: e.to_string() })?;
            let here = |message: String| Error::File { path: path.to_path_buf(), message };
            if let Some(pops) = table.get("populations") {
                let pops = pops.as_table().ok_or_else(|| here("populations must be a table".into()))?;
                let cells: Vec<(&String, &toml::Value)> =
                    pops.iter().filter(|(_, p)| p.get("model").and_then(|m| m.as_str()) == Some(CELL_MODEL)).collect();
                let names = || cells.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
                let chosen = match (population, cells.len()) {
                    (Some(name), _) => cells
                        .iter()
                        .find(|(n, _)| n.as_str() == name)
                        .ok_or_else(|| here(format!("no {CELL_MODEL} population '{name}' (it has: {})", names())))?,
                    (None, 1) => &cells[0],
                    (None, 0) => return Err(here(format!("the model file has no {CELL_MODEL} population"))),
                    (None, _) => {
                        return Err(here(format!(
                            "several {CELL_MODEL} populations ({}): choose one with --population",
                            names()
                        )));
                    }
                };
                if let Some(p) = chosen.1.get("params") {
                    exp.params = toml_to_json(p).map_err(|e| here(format!("populations.{}.params: {e}", chosen.0)))?;
                }
            } else {
                if let Some(name) = population {
                    return Err(here(format!("--population {name}: this is a parameter file, not a model file")));
                }
                for key in table.keys() {
                    if !["params", "grid", "description"].contains(&key.as_str()) {
                        return Err(here(format!(
                            "unknown table `{key}`: a gating file has [params] (cell parameters) and [grid]"
                        )));
                    }
                }
                if let Some(p) = table.get("params") {
                    exp.params = toml_to_json(p).map_err(|e| here(format!("[params]: {e}")))?;
                }
                if let Some(g) = table.get("grid") {
                    for (k, v) in toml_to_json(g).map_err(|e| here(format!("[grid]: {e}")))? {
                        grid.insert(k, v);
                    }
                }
            }
        }
        for set in sets {
            let (key, value) =
                set.split_once('=').ok_or_else(|| Error::Invalid(format!("--set {set}: expected KEY=VALUE")))?;
            let (key, value) = (key.trim(), parse_value(value.trim()));
            match key.strip_prefix("grid.") {
                Some(field) => {
                    grid.insert(field.to_string(), value);
                }
                None => {
                    let key = key.strip_prefix("params.").unwrap_or(key);
                    exp.params.insert(key.to_string(), value);
                }
            }
        }
        exp.grid = serde_json::from_value(Value::Object(grid)).map_err(|e| Error::Invalid(format!("grid: {e}")))?;
        exp.grid.validate()?;
        registry::population_factory(CELL_MODEL, &exp.params, 1)
            .map_err(|e| Error::Model(format!("{CELL_MODEL} params: {e}")))?;
        Ok(exp)
    }

    /// The cell's parameters with defaults filled in.
    pub fn cell(&self) -> Result<PyramidalBacParams> {
        serde_json::from_value(Value::Object(self.params.clone()))
            .map_err(|e| Error::Model(format!("{CELL_MODEL} params: {e}")))
    }
}

/// Counts spikes and spikes in bursts per cell after the warm-up, online.
struct Counter {
    warmup_ms: f64,
    first_node: Vec<usize>,
    last: Vec<f64>,
    last_counted: Vec<bool>,
    last_in_burst: Vec<bool>,
    spikes: Vec<u64>,
    burst_spikes: Vec<u64>,
}

impl Counter {
    fn new(warmup_ms: f64, populations: usize, cells: usize) -> Self {
        let n = populations * cells;
        Self {
            warmup_ms,
            first_node: (0..populations).map(|p| p * cells).collect(),
            last: vec![f64::NEG_INFINITY; n],
            last_counted: vec![false; n],
            last_in_burst: vec![false; n],
            spikes: vec![0; populations],
            burst_spikes: vec![0; populations],
        }
    }
}

impl Observer for Counter {
    fn spikes(&mut self, spikes: &[SpikeRecord]) -> Result<(), String> {
        for s in spikes {
            let cell = self.first_node[s.population] + s.node as usize;
            let counted = s.time_ms > self.warmup_ms;
            let burst = s.time_ms - self.last[cell] < BURST_ISI_MS;
            if counted {
                self.spikes[s.population] += 1;
                if burst {
                    let previous_too = self.last_counted[cell] && !self.last_in_burst[cell];
                    self.burst_spikes[s.population] += 1 + u64::from(previous_too);
                }
            }
            self.last[cell] = s.time_ms;
            self.last_counted[cell] = counted;
            self.last_in_burst[cell] = burst;
        }
        Ok(())
    }

    fn frame(&mut self, _: usize, _: Step, _: &[f64]) -> Result<(), String> {
        Ok(())
    }
}

/// Output rates (spikes per cell per second) and fractions of spikes in bursts of `groups` of
/// `cells` cells, each group driven by (somatic rate, apical rate) Hz.
fn simulate(exp: &Experiment, groups: &[(f64, f64)]) -> Result<(Vec<f64>, Vec<f64>)> {
    let g = &exp.grid;
    let resolution = Resolution::new(g.resolution_ms)?;
    let mut b = NetworkBuilder::new(resolution, exp.seed);
    let poisson = |rate: f64| {
        let mut p = Map::new();
        p.insert("rate".into(), Value::from(rate));
        registry::stimulus_factory("poisson_generator", &p).map_err(Error::Model)
    };
    let targets: Vec<u64> = (0..g.cells as u64).collect();
    for (k, &(somatic, apical)) in groups.iter().enumerate() {
        let factory = registry::population_factory(CELL_MODEL, &exp.params, g.cells)
            .map_err(|e| Error::Model(format!("{CELL_MODEL}: {e}")))?;
        let pop = b.add_population(&format!("point{k}"), g.cells, factory);
        for (name, rate, weight, receptor) in
            [("basal", somatic, g.somatic_weight, BASAL), ("apical", apical, g.apical_weight, APICAL)]
        {
            if rate > 0.0 {
                b.add_device(DeviceEntry {
                    name: format!("{name}{k}"),
                    factory: poisson(rate)?,
                    population: pop,
                    targets: targets.clone(),
                    weight,
                    delay_ms: g.resolution_ms,
                    receptor: Some(receptor),
                });
            }
        }
    }
    let mut sim = b.build(exp.threads)?;
    let until = resolution.exact_steps(g.warmup_ms + g.duration_ms)?;
    let mut counter = Counter::new(g.warmup_ms, groups.len(), g.cells);
    sim.run(until, &mut counter, &AtomicBool::new(false))?;
    let seconds = g.duration_ms / 1000.0;
    let rates = counter.spikes.iter().map(|&s| s as f64 / g.cells as f64 / seconds).collect();
    let bursts = counter
        .spikes
        .iter()
        .zip(&counter.burst_spikes)
        .map(|(&s, &b)| if s == 0 { 0.0 } else { b as f64 / s as f64 })
        .collect();
    Ok((rates, bursts))
}

/// A measured rate surface.
#[derive(Debug, Clone, PartialEq)]
pub struct Surface {
    /// `R[i][j]`: spikes per cell per second at somatic level i, apical level j.
    pub rates: Vec<Vec<f64>>,
    /// Fraction of spikes in bursts (ISI < 16 ms).
    pub burst_fraction: Vec<Vec<f64>>,
    /// Wall-clock time of the simulation.
    pub wall: Duration,
}

/// Runs the grid.
pub fn measure(exp: &Experiment) -> Result<Surface> {
    exp.grid.validate()?;
    let started = Instant::now();
    let (rows, cols) = (&exp.grid.somatic_rates, &exp.grid.apical_rates);
    let groups: Vec<(f64, f64)> = rows.iter().flat_map(|&a| cols.iter().map(move |&b| (a, b))).collect();
    let (rates, bursts) = simulate(exp, &groups)?;
    let n = cols.len();
    Ok(Surface {
        rates: rates.chunks(n).map(<[f64]>::to_vec).collect(),
        burst_fraction: bursts.chunks(n).map(<[f64]>::to_vec).collect(),
        wall: started.elapsed(),
    })
}

/// R² of `fitted` against `r` over all grid points; `None` when `r` is flat (nothing to explain).
fn grid_r_squared(r: &[Vec<f64>], fitted: &[Vec<f64>]) -> Option<f64> {
    stats::r_squared(&r.concat(), &fitted.concat())
}

/// The product model `R[i][j] ≈ g[i]·f[j]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductFit {
    pub g: Vec<f64>,
    pub f: Vec<f64>,
    pub r2: Option<f64>,
}

impl ProductFit {
    pub fn fitted(&self) -> Vec<Vec<f64>> {
        self.g.iter().map(|gi| self.f.iter().map(|fj| gi * fj).collect()).collect()
    }
}

/// The best rank-1 approximation of `r` (least squares): `σ₁ u₁ v₁ᵀ`, with v₁ the leading
/// eigenvector of RᵀR found by power iteration from the all-ones vector (which, for a
/// non-negative R, overlaps the non-negative Perron vector). `f` is scaled so that `f[0] = 1`
/// when the first column is not (nearly) zero, else so that `max f = 1`.
pub fn product_fit(r: &[Vec<f64>]) -> ProductFit {
    let (m, n) = (r.len(), r.first().map_or(0, Vec::len));
    let times = |v: &[f64]| -> Vec<f64> { r.iter().map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum()).collect() };
    let times_t = |u: &[f64]| -> Vec<f64> { (0..n).map(|j| (0..m).map(|i| r[i][j] * u[i]).sum()).collect() };
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let mut v = vec![1.0 / (n as f64).sqrt(); n];
    for _ in 0..100_000 {
        let w = times_t(&times(&v));
        let len = norm(&w);
        if len == 0.0 {
            break;
        }
        let w: Vec<f64> = w.iter().map(|x| x / len).collect();
        let change = w.iter().zip(&v).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        v = w;
        if change < 1e-15 {
            break;
        }
    }
    let mut g = times(&v);
    let mut f = v;
    let f_max = f.iter().copied().fold(0.0, f64::max);
    let scale = if f.first().is_some_and(|&f0| f0 > 1e-3 * f_max) { f[0] } else { f_max };
    if scale > 0.0 {
        f.iter_mut().for_each(|x| *x /= scale);
        g.iter_mut().for_each(|x| *x *= scale);
    }
    let mut fit = ProductFit { g, f, r2: None };
    fit.r2 = grid_r_squared(r, &fit.fitted());
    fit
}

/// The additive model `R[i][j] ≈ μ + α[i] + β[j]` (two-way ANOVA without interaction).
#[derive(Debug, Clone, PartialEq)]
pub struct AdditiveFit {
    pub mean: f64,
    pub row: Vec<f64>,
    pub col: Vec<f64>,
    pub r2: Option<f64>,
}

impl AdditiveFit {
    pub fn fitted(&self) -> Vec<Vec<f64>> {
        self.row.iter().map(|a| self.col.iter().map(|b| self.mean + a + b).collect()).collect()
    }
}

/// The least-squares additive fit of a complete grid: grand mean, row and column effects.
pub fn additive_fit(r: &[Vec<f64>]) -> AdditiveFit {
    let (m, n) = (r.len(), r.first().map_or(0, Vec::len));
    let mean = r.iter().flatten().sum::<f64>() / (m * n) as f64;
    let row = r.iter().map(|row| row.iter().sum::<f64>() / n as f64 - mean).collect();
    let col = (0..n).map(|j| r.iter().map(|row| row[j]).sum::<f64>() / m as f64 - mean).collect();
    let mut fit = AdditiveFit { mean, row, col, r2: None };
    fit.r2 = grid_r_squared(r, &fit.fitted());
    fit
}

/// Which model describes the surface better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Winner {
    Product,
    Additive,
    /// Equal R², or a flat surface.
    Neither,
}

pub fn winner(product: Option<f64>, additive: Option<f64>) -> Winner {
    match (product, additive) {
        (Some(p), Some(a)) if p > a => Winner::Product,
        (Some(p), Some(a)) if a > p => Winner::Additive,
        _ => Winner::Neither,
    }
}

/// The experiment's outcome.
#[derive(Debug, Clone)]
pub struct Report {
    pub experiment: Experiment,
    pub surface: Surface,
    pub product: ProductFit,
    pub additive: AdditiveFit,
    /// Both R² over the rows in which somatic drive alone fires the cell (if ≥ 2 such rows).
    pub firing_rows: Option<(usize, Option<f64>, Option<f64>)>,
    /// How the grid ranges were chosen (e.g. by `--auto-range`), for the report.
    pub range_note: Option<String>,
}

impl Report {
    pub fn winner(&self) -> Winner {
        winner(self.product.r2, self.additive.r2)
    }
}

/// Runs the experiment and fits both models.
pub fn run(exp: &Experiment) -> Result<Report> {
    let surface = measure(exp)?;
    let product = product_fit(&surface.rates);
    let additive = additive_fit(&surface.rates);
    let firing: Vec<Vec<f64>> = surface.rates.iter().filter(|row| row[0] >= FIRING_ROW_HZ).cloned().collect();
    let firing_rows = (firing.len() >= 2).then(|| (firing.len(), product_fit(&firing).r2, additive_fit(&firing).r2));
    Ok(Report { experiment: exp.clone(), surface, product, additive, firing_rows, range_note: None })
}

/// The edges found by [`calibrate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// The somatic rate (Hz) at which somatic drive alone gives [`SOMATIC_TARGET_HZ`].
    pub somatic_max: f64,
    /// The largest apical rate (Hz) at which apical drive alone gives < [`APICAL_ALONE_LIMIT_HZ`].
    pub apical_max: f64,
    /// Whether apical drive alone reached the limit within the ladder (else `apical_max` is the
    /// ladder's top: the dendrite never fires the cell by itself there).
    pub apical_edge_found: bool,
}

/// Finds the two edges of the interesting regime for the experiment's cell, with its weights:
/// somatic drive alone on a ladder of mean currents 25, 50, … 2000 pA (80 levels), apical drive
/// alone on the same ladder, `min(cells, 20)` cells per level, 1 s after the warm-up. The
/// somatic edge is interpolated linearly between the two levels around [`SOMATIC_TARGET_HZ`];
/// the apical edge is the last level before the first one at which apical drive alone gives half
/// of [`APICAL_ALONE_LIMIT_HZ`] (the margin absorbs the sampling noise of the short ladder run,
/// so that the grid's own, longer measurement stays below the limit).
pub fn calibrate(exp: &Experiment) -> Result<Calibration> {
    let cell = exp.cell()?;
    let g = &exp.grid;
    let ladder: Vec<f64> = (1..=80).map(|k| 25.0 * k as f64).collect();
    let hz = |mean_pa: f64, weight: f64, tau: f64| mean_pa * 1000.0 / (weight * tau);
    let somatic: Vec<f64> = ladder.iter().map(|&i| hz(i, g.somatic_weight, cell.tau_syn_basal)).collect();
    let apical: Vec<f64> = ladder.iter().map(|&i| hz(i, g.apical_weight, cell.tau_syn_apical)).collect();
    let mut probe = exp.clone();
    probe.grid.cells = g.cells.min(20);
    probe.grid.duration_ms = 1000.0;
    probe.grid.validate()?;
    let groups: Vec<(f64, f64)> = somatic.iter().map(|&a| (a, 0.0)).chain(apical.iter().map(|&b| (0.0, b))).collect();
    let (rates, _) = simulate(&probe, &groups)?;
    let (soma_rates, apical_rates) = rates.split_at(ladder.len());
    let k = soma_rates.iter().position(|&r| r >= SOMATIC_TARGET_HZ).ok_or_else(|| {
        Error::Measurement(format!(
            "somatic drive up to {:.0} Hz of {} pA (mean {:.0} pA) gives at most {:.1} Hz, never {SOMATIC_TARGET_HZ} Hz: \
             raise grid.somatic_weight",
            somatic[somatic.len() - 1],
            g.somatic_weight,
            ladder[ladder.len() - 1],
            soma_rates.iter().copied().fold(0.0, f64::max)
        ))
    })?;
    let somatic_max = if k == 0 {
        somatic[0]
    } else {
        let (r0, r1) = (soma_rates[k - 1], soma_rates[k]);
        somatic[k - 1] + (somatic[k] - somatic[k - 1]) * (SOMATIC_TARGET_HZ - r0) / (r1 - r0)
    };
    let (apical_max, apical_edge_found) = match apical_rates.iter().position(|&r| r >= 0.5 * APICAL_ALONE_LIMIT_HZ) {
        Some(0) => {
            return Err(Error::Measurement(format!(
                "apical drive alone fires the cell already at {:.0} Hz of {} pA (mean {:.0} pA): the dendrite is not \
                 a modulator at these parameters, or grid.apical_weight is too large",
                apical[0], g.apical_weight, ladder[0]
            )));
        }
        Some(k) => (apical[k - 1], true),
        None => (apical[apical.len() - 1], false),
    };
    Ok(Calibration { somatic_max, apical_max, apical_edge_found })
}

/// Runs `laminar gating`: optionally calibrates the ranges, runs the grid, fits both models.
pub fn gating(mut exp: Experiment, auto_range: bool) -> Result<Report> {
    let mut note = None;
    if auto_range {
        let c = calibrate(&exp)?;
        let (m, n) = (exp.grid.somatic_rates.len(), exp.grid.apical_rates.len());
        exp.grid.somatic_rates = linspace(c.somatic_max, m);
        exp.grid.apical_rates = linspace(c.apical_max, n);
        note = Some(format!(
            "--auto-range: somatic 0 … {:.0} Hz (somatic drive alone reaches {SOMATIC_TARGET_HZ} Hz), apical 0 … {:.0} Hz \
             ({})",
            c.somatic_max,
            c.apical_max,
            if c.apical_edge_found {
                format!("apical drive alone stays below {} Hz", 0.5 * APICAL_ALONE_LIMIT_HZ)
            } else {
                "the top of the calibration ladder: apical drive alone never fired the cell".to_string()
            }
        ));
    }
    let mut report = run(&exp)?;
    report.range_note = note;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_one_surface_is_fitted_exactly() {
        let g = [0.0, 1.0, 2.5, 4.0];
        let f = [1.0, 1.5, 3.0];
        let r: Vec<Vec<f64>> = g.iter().map(|a| f.iter().map(|b| a * b).collect()).collect();
        let p = product_fit(&r);
        assert!((p.r2.unwrap() - 1.0).abs() < 1e-12);
        for (x, y) in p.f.iter().zip(f) {
            assert!((x - y).abs() < 1e-9, "{:?}", p.f);
        }
        for (x, y) in p.g.iter().zip(g) {
            assert!((x - y).abs() < 1e-9, "{:?}", p.g);
        }
        assert!(additive_fit(&r).r2.unwrap() < 0.99);
    }

    #[test]
    fn additive_surface_is_fitted_exactly() {
        let r: Vec<Vec<f64>> = (0..4).map(|i| (0..5).map(|j| 3.0 + 2.0 * i as f64 + j as f64).collect()).collect();
        let a = additive_fit(&r);
        assert!((a.r2.unwrap() - 1.0).abs() < 1e-12);
        assert!(product_fit(&r).r2.unwrap() < 1.0);
        assert_eq!(winner(product_fit(&r).r2, a.r2), Winner::Additive);
    }

    #[test]
    fn rank_one_matches_the_leading_singular_triplet() {
        // R = 3·u1 v1ᵀ + 1·u2 v2ᵀ with orthonormal u, v: the best rank-1 part is the first term.
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let (u1, u2) = ([s, s, 0.0], [s, -s, 0.0]);
        let (v1, v2) = ([0.6, 0.8], [0.8, -0.6]);
        let r: Vec<Vec<f64>> = (0..3).map(|i| (0..2).map(|j| 3.0 * u1[i] * v1[j] + u2[i] * v2[j]).collect()).collect();
        let fitted = product_fit(&r).fitted();
        for i in 0..3 {
            for j in 0..2 {
                assert!((fitted[i][j] - 3.0 * u1[i] * v1[j]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn flat_surface_has_no_r2() {
        let r = vec![vec![2.0; 3]; 3];
        assert_eq!(product_fit(&r).r2, None);
        assert_eq!(additive_fit(&r).r2, None);
        assert_eq!(winner(None, None), Winner::Neither);
    }

    #[test]
    fn sets_and_grid_overrides() {
        let exp = Experiment::load(
            None,
            &["tau_d=5".into(), "grid.cells=3".into(), "grid.apical_rates=[0, 10]".into()],
            None,
        )
        .unwrap();
        assert_eq!(exp.params["tau_d"], Value::from(5));
        assert_eq!(exp.grid.cells, 3);
        assert_eq!(exp.grid.apical_rates, vec![0.0, 10.0]);
        let err = Experiment::load(None, &["tau_dd=5".into()], None).unwrap_err().to_string();
        assert!(err.contains("unknown field `tau_dd`"), "{err}");
        let err = Experiment::load(None, &["tau_d=-1".into()], None).unwrap_err().to_string();
        assert!(err.contains("tau_d = -1"), "{err}");
        let err = Experiment::load(None, &["grid.cellz=3".into()], None).unwrap_err().to_string();
        assert!(err.contains("unknown field `cellz`"), "{err}");
        let err = Experiment::load(None, &["grid.apical_rates=[5]".into()], None).unwrap_err().to_string();
        assert!(err.contains("at least 2 levels"), "{err}");
        let err = Experiment::load(None, &["tau_d".into()], None).unwrap_err().to_string();
        assert!(err.contains("KEY=VALUE"), "{err}");
    }

    #[test]
    fn burst_counting_after_the_warmup() {
        let mut c = Counter::new(100.0, 1, 1);
        let sp = |t: f64| SpikeRecord { population: 0, node: 0, time_ms: t };
        // 95 (warm-up) and 105: a burst across the boundary counts only 105.
        // 200, 210, 220: a burst of three. 300: single. 400, 450: singles.
        c.spikes(&[95.0, 105.0, 200.0, 210.0, 220.0, 300.0, 400.0, 450.0].map(sp)).unwrap();
        assert_eq!(c.spikes[0], 7);
        assert_eq!(c.burst_spikes[0], 4);
    }
}
