//! `laminar verify CASE.json`: rebuilds a NEST reference case with laminar's own models, runs it
//! through the engine and compares every recorded quantity and the spikes with NEST's output.
//!
//! The case format is that of `shared/reference/nest/*.json` (`setup` + `expected`); the timing
//! conventions it states are the engine's own (input at t with delay d first shows at t + d;
//! sample j holds the state at the end of the step ending at (j+1)·h; a `dc` input is a
//! `dc_generator` connected with delay h). Tolerances are those the reference README states for
//! faithful double-precision implementations; they are never loosened to make a case pass.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, anyhow, bail};
use laminar_engine::{
    DeviceEntry, Dist, ExplicitEdge, Initial, NetworkBuilder, Observer, Projection, RecordingSpec, Resolution, Rule,
    Simulation, SpikeRecord, Step,
};
use laminar_models::registry;
use serde_json::{Map, Value};

/// How close a quantity must be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    /// Every sample within `max` (absolute, in the quantity's unit).
    MaxAbs(f64),
    /// Median and 99th percentile of the absolute error (AdEx: NEST's adaptive sub-steps).
    Distribution { median: f64, p99: f64 },
}

/// How spike lists must agree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SpikeTolerance {
    /// The same steps (grid models): identical times.
    Identical,
    /// Precise models: each time within this many ms.
    Within(f64),
}

/// The per-case tolerances of `shared/reference/README.md`.
fn tolerances(case: &str) -> Option<(Vec<(&'static str, Tolerance)>, SpikeTolerance)> {
    use Tolerance::*;
    let exact = 1e-9;
    Some(match case {
        "iaf_psc_exp" => (
            vec![("V_m", MaxAbs(exact)), ("I_syn_ex", MaxAbs(exact)), ("I_syn_in", MaxAbs(exact))],
            SpikeTolerance::Identical,
        ),
        "iaf_psc_delta" => (vec![("V_m", MaxAbs(exact))], SpikeTolerance::Identical),
        "iaf_cond_exp" => {
            (vec![("V_m", MaxAbs(1e-6)), ("g_ex", MaxAbs(1e-6)), ("g_in", MaxAbs(1e-6))], SpikeTolerance::Identical)
        }
        "aeif_cond_alpha" => (
            vec![("V_m", Distribution { median: 0.01, p99: 0.2 }), ("w", Distribution { median: 0.01, p99: 0.2 })],
            SpikeTolerance::Identical,
        ),
        "iaf_psc_exp_ps" => (vec![("V_m", MaxAbs(exact))], SpikeTolerance::Within(1e-6)),
        "iaf_psc_exp_network" => (vec![], SpikeTolerance::Identical),
        _ => return None,
    })
}

/// One compared quantity.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantityResult {
    pub name: String,
    pub samples: usize,
    pub max_abs: f64,
    pub median_abs: f64,
    pub p99_abs: f64,
    pub tolerance: Tolerance,
    pub pass: bool,
}

/// The spike comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeResult {
    pub expected: usize,
    pub got: usize,
    /// Spikes present in one list but not matched in the other.
    pub unmatched: Vec<String>,
    pub max_time_error: f64,
    pub pass: bool,
}

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    pub name: String,
    pub quantities: Vec<QuantityResult>,
    pub spikes: SpikeResult,
}

impl CaseResult {
    pub fn pass(&self) -> bool {
        self.spikes.pass && self.quantities.iter().all(|q| q.pass)
    }

    /// A human-readable report.
    pub fn report(&self) -> String {
        let mut s = format!("case {}\n", self.name);
        s.push_str(&format!(
            "  {:<10} {:>8} {:>12} {:>12} {:>12}  {:<28} {}\n",
            "quantity", "samples", "max|err|", "median", "p99", "tolerance", "result"
        ));
        for q in &self.quantities {
            let tol = match q.tolerance {
                Tolerance::MaxAbs(m) => format!("max <= {m:e}"),
                Tolerance::Distribution { median, p99 } => format!("median <= {median}, p99 <= {p99}"),
            };
            s.push_str(&format!(
                "  {:<10} {:>8} {:>12.3e} {:>12.3e} {:>12.3e}  {:<28} {}\n",
                q.name,
                q.samples,
                q.max_abs,
                q.median_abs,
                q.p99_abs,
                tol,
                if q.pass { "pass" } else { "FAIL" }
            ));
        }
        let sp = &self.spikes;
        s.push_str(&format!(
            "  spikes: expected {}, got {}, max time error {:.3e} ms, unmatched {}  {}\n",
            sp.expected,
            sp.got,
            sp.max_time_error,
            sp.unmatched.len(),
            if sp.pass { "pass" } else { "FAIL" }
        ));
        for u in sp.unmatched.iter().take(10) {
            s.push_str(&format!("    {u}\n"));
        }
        s.push_str(if self.pass() { "PASS\n" } else { "FAIL\n" });
        s
    }
}

/// A built case: the network, the name of its neuron population, and the recorded variables.
pub struct BuiltCase {
    pub name: String,
    pub simulation: Simulation,
    pub duration: Step,
    /// Recorded variables in recording order, with units.
    pub variables: Vec<(String, String)>,
    /// The population name used in recordings (`neuron`, or `network`).
    pub population: String,
    pub record_interval_ms: f64,
    pub expected: Value,
}

/// NEST's exporter writes `-Infinity` (Python's JSON extension) for unbounded parameters such as
/// `V_min`; JSON has no such literal, and laminar's models read `null` as "no bound".
fn nest_json_literals(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if !in_string && let Some(r) = rest.strip_prefix("-Infinity") {
            out.push_str("null");
            rest = r;
            continue;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn f64_list(v: &Value, what: &str) -> Result<Vec<f64>> {
    v.as_array()
        .with_context(|| format!("{what}: expected a list of numbers"))?
        .iter()
        .map(|x| x.as_f64().with_context(|| format!("{what}: {x} is not a number")))
        .collect()
}

fn num(v: &Value, key: &str) -> Result<f64> {
    v.get(key).and_then(Value::as_f64).with_context(|| format!("missing number '{key}'"))
}

/// Reads and builds a case file.
pub fn build_case(path: &Path, threads: usize) -> Result<BuiltCase> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let case: Value = serde_json::from_str(&nest_json_literals(&text))
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    let name = case.get("name").and_then(Value::as_str).context("case has no 'name'")?.to_string();
    let setup = case.get("setup").context("case has no 'setup'")?;
    let expected = case.get("expected").cloned().context("case has no 'expected'")?;
    if tolerances(&name).is_none() {
        bail!("case '{name}' is not supported by this version of laminar (its models arrive with a later release)");
    }
    let h = num(setup, "resolution_ms")?;
    let resolution = Resolution::new(h)?;
    let duration = resolution.exact_steps(num(setup, "duration_ms")?)?;
    let mut b = NetworkBuilder::new(resolution, 1);
    let neuron = setup.get("neuron").context("setup has no 'neuron'")?;
    let model = neuron.get("model").and_then(Value::as_str).context("neuron has no 'model'")?;
    let params: Map<String, Value> = neuron.get("params").and_then(Value::as_object).cloned().unwrap_or_default();
    let precise = model.ends_with("_ps");

    let network = setup.get("connections").is_some();
    let (population, n) =
        if network { ("network".to_string(), num(setup, "n")? as usize) } else { ("neuron".to_string(), 1) };
    let factory = registry::population_factory(model, &params, n).map_err(|e| anyhow!("neuron params: {e}"))?;
    let target = b.add_population(&population, n, factory);

    let spike_source = |b: &mut NetworkBuilder, label: &str, per_node: Vec<Vec<f64>>| -> Result<usize> {
        let mut p = Map::new();
        p.insert("spike_times_per_node".into(), serde_json::to_value(&per_node)?);
        p.insert("precise_times".into(), Value::Bool(precise));
        let f =
            registry::population_factory("spike_generator", &p, per_node.len()).map_err(|e| anyhow!("{label}: {e}"))?;
        Ok(b.add_population(label, per_node.len(), f))
    };

    if network {
        let init = f64_list(setup.get("initial_V_m").context("network case has no initial_V_m")?, "initial_V_m")?;
        b.set_initial(target, "V_m", Initial::PerNeuron(init))?;
        let edges = setup["connections"]
            .as_array()
            .context("connections: expected a list")?
            .iter()
            .map(|c| {
                let c = f64_list(c, "connection")?;
                if c.len() != 4 {
                    bail!("connection {c:?}: expected [pre, post, weight, delay]");
                }
                Ok(ExplicitEdge { source: c[0] as u64, target: c[1] as u64, weight: c[2], delay_ms: c[3] })
            })
            .collect::<Result<Vec<_>>>()?;
        b.add_projection(Projection {
            name: "recurrent".into(),
            source: target,
            target,
            rule: Rule::Explicit(edges),
            weight: Dist::Constant(0.0),
            delay: Dist::Constant(h),
            receptor: None,
            autapses: true,
            multapses: true,
        });
        let drive = setup.get("drive").context("network case has no drive")?;
        let trains = drive["times_ms"]
            .as_array()
            .context("drive.times_ms: expected a list of lists")?
            .iter()
            .map(|t| f64_list(t, "drive.times_ms"))
            .collect::<Result<Vec<_>>>()?;
        let src = spike_source(&mut b, "drive", trains)?;
        b.add_projection(Projection {
            name: "drive".into(),
            source: src,
            target,
            rule: Rule::OneToOne,
            weight: Dist::Constant(num(drive, "weight")?),
            delay: Dist::Constant(num(drive, "delay_ms")?),
            receptor: None,
            autapses: true,
            multapses: true,
        });
    }

    for (k, input) in setup.get("inputs").and_then(Value::as_array).into_iter().flatten().enumerate() {
        match input.get("kind").and_then(Value::as_str) {
            Some("spike_train") => {
                if input.get("via").is_some() || input.get("synapse").is_some() {
                    bail!("input {k}: plastic synapses and parrot relays arrive with a later release");
                }
                let times = f64_list(&input["times_ms"], "times_ms")?;
                let src = spike_source(&mut b, &format!("input{k}"), vec![times])?;
                let receptor = input.get("receptor").and_then(Value::as_u64).map(|r| r as usize);
                b.add_projection(Projection {
                    name: format!("input{k}"),
                    source: src,
                    target,
                    rule: Rule::AllToAll,
                    weight: Dist::Constant(num(input, "weight")?),
                    delay: Dist::Constant(num(input, "delay_ms")?),
                    receptor,
                    autapses: true,
                    multapses: true,
                });
            }
            Some("dc") => {
                let mut p = Map::new();
                p.insert("amplitude".into(), input["amplitude_pA"].clone());
                p.insert("start".into(), input["start_ms"].clone());
                p.insert("stop".into(), input["stop_ms"].clone());
                let f = registry::stimulus_factory("dc_generator", &p).map_err(|e| anyhow!("input {k}: {e}"))?;
                b.add_device(DeviceEntry {
                    name: format!("dc{k}"),
                    factory: f,
                    population: target,
                    targets: (0..n as u64).collect(),
                    weight: 1.0,
                    delay_ms: h,
                    receptor: None,
                });
            }
            other => bail!("input {k}: unsupported kind {other:?}"),
        }
    }

    let info = registry::model_info(model).context("unknown model")?;
    let mut variables = Vec::new();
    let mut record_interval_ms = h;
    if let Some(record) = setup.get("record") {
        record_interval_ms = num(record, "interval_ms")?;
        let interval = resolution.exact_steps(record_interval_ms)?;
        for v in record.get("variables").and_then(Value::as_array).into_iter().flatten() {
            let v = v.as_str().context("record.variables: expected names")?;
            let variable = info.recordable_index(v).with_context(|| format!("{model} has no recordable '{v}'"))?;
            b.add_recording(RecordingSpec { population: target, variable, nodes: (0..n as u64).collect(), interval });
            variables.push((v.to_string(), info.recordables[variable].units.to_string()));
        }
    }
    let simulation = b.build(threads)?;
    Ok(BuiltCase { name, simulation, duration, variables, population, record_interval_ms, expected })
}

/// Keeps everything in memory (for comparison), optionally forwarding to another observer.
pub struct Collect<'a> {
    pub spikes: Vec<SpikeRecord>,
    /// Per recording: (step, values).
    pub frames: Vec<Vec<(Step, Vec<f64>)>>,
    pub forward: Option<&'a mut dyn Observer>,
}

impl Observer for Collect<'_> {
    fn spikes(&mut self, spikes: &[SpikeRecord]) -> Result<(), String> {
        self.spikes.extend_from_slice(spikes);
        match self.forward.as_mut() {
            Some(f) => f.spikes(spikes),
            None => Ok(()),
        }
    }

    fn frame(&mut self, recording: usize, step: Step, values: &[f64]) -> Result<(), String> {
        if self.frames.len() <= recording {
            self.frames.resize_with(recording + 1, Vec::new);
        }
        self.frames[recording].push((step, values.to_vec()));
        match self.forward.as_mut() {
            Some(f) => f.frame(recording, step, values),
            None => Ok(()),
        }
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[idx]
}

/// Runs a built case and compares it with NEST's output.
pub fn run_case(case: &mut BuiltCase, forward: Option<&mut dyn Observer>) -> Result<CaseResult> {
    let mut collect = Collect { spikes: Vec::new(), frames: Vec::new(), forward };
    let stop = AtomicBool::new(false);
    case.simulation.run(case.duration, &mut collect, &stop)?;
    let (quantity_tols, spike_tol) = tolerances(&case.name).context("unsupported case")?;
    let h = case.simulation.resolution().h();
    let target_pop = 0usize;

    let mut quantities = Vec::new();
    if !case.variables.is_empty() {
        let times = f64_list(&case.expected["times_ms"], "expected.times_ms")?;
        for (ri, (var, _)) in case.variables.iter().enumerate() {
            let tol = quantity_tols.iter().find(|(n, _)| n == var).map(|(_, t)| *t).unwrap_or(Tolerance::MaxAbs(1e-9));
            let want = f64_list(&case.expected[var.as_str()], var)?;
            let frames: BTreeMap<Step, f64> =
                collect.frames.get(ri).into_iter().flatten().map(|(s, v)| (*s, v[0])).collect();
            let mut errors = Vec::with_capacity(times.len());
            for (t, w) in times.iter().zip(&want) {
                let step = (t / h).round() as Step - 1;
                let got = frames.get(&step).with_context(|| format!("{var}: no sample at {t} ms"))?;
                errors.push((got - w).abs());
            }
            let max_abs = errors.iter().cloned().fold(0.0, f64::max);
            errors.sort_by(f64::total_cmp);
            let median_abs = percentile(&errors, 0.5);
            let p99_abs = percentile(&errors, 0.99);
            let pass = errors.iter().all(|e| e.is_finite())
                && match tol {
                    Tolerance::MaxAbs(m) => max_abs <= m,
                    Tolerance::Distribution { median, p99 } => median_abs <= median && p99_abs <= p99,
                };
            quantities.push(QuantityResult {
                name: var.clone(),
                samples: errors.len(),
                max_abs,
                median_abs,
                p99_abs,
                tolerance: tol,
                pass,
            });
        }
    }

    // Spikes of the target population: (node, time), NEST's order (time, then node).
    let got: Vec<(u64, f64)> =
        collect.spikes.iter().filter(|s| s.population == target_pop).map(|s| (s.node, s.time_ms)).collect();
    let want: Vec<(u64, f64)> = if let Some(list) = case.expected.get("spikes") {
        list.as_array()
            .context("expected.spikes")?
            .iter()
            .map(|p| {
                let p = f64_list(p, "spike")?;
                Ok((p[0] as u64, p[1]))
            })
            .collect::<Result<_>>()?
    } else {
        f64_list(&case.expected["spike_times_ms"], "spike_times_ms")?.into_iter().map(|t| (0, t)).collect()
    };
    let spikes = compare_spikes(&want, &got, spike_tol, h);
    Ok(CaseResult { name: case.name.clone(), quantities, spikes })
}

/// Matches spike lists in order: grid spikes must fall in the same step (identical times up to
/// the decimal spelling of the reference); precise spikes within the tolerance.
fn compare_spikes(want: &[(u64, f64)], got: &[(u64, f64)], tol: SpikeTolerance, h: f64) -> SpikeResult {
    let key = |&(n, t): &(u64, f64)| (((t / h) * 1e6).round() as i64, n);
    let mut want_sorted = want.to_vec();
    want_sorted.sort_by_key(key);
    let mut got_sorted = got.to_vec();
    got_sorted.sort_by_key(key);
    let mut unmatched = Vec::new();
    let mut max_err: f64 = 0.0;
    let (mut i, mut j) = (0, 0);
    let close = |a: &(u64, f64), b: &(u64, f64)| {
        a.0 == b.0
            && match tol {
                SpikeTolerance::Identical => ((a.1 / h).round() - (b.1 / h).round()).abs() < 0.5,
                SpikeTolerance::Within(ms) => (a.1 - b.1).abs() <= ms,
            }
    };
    while i < want_sorted.len() || j < got_sorted.len() {
        match (want_sorted.get(i), got_sorted.get(j)) {
            (Some(w), Some(g)) if close(w, g) => {
                max_err = max_err.max((w.1 - g.1).abs());
                i += 1;
                j += 1;
            }
            (Some(w), Some(g)) => {
                if key(w) <= key(g) {
                    unmatched.push(format!("NEST only: neuron {} at {} ms", w.0, w.1));
                    i += 1;
                } else {
                    unmatched.push(format!("laminar only: neuron {} at {} ms", g.0, g.1));
                    j += 1;
                }
            }
            (Some(w), None) => {
                unmatched.push(format!("NEST only: neuron {} at {} ms", w.0, w.1));
                i += 1;
            }
            (None, Some(g)) => {
                unmatched.push(format!("laminar only: neuron {} at {} ms", g.0, g.1));
                j += 1;
            }
            (None, None) => break,
        }
    }
    SpikeResult { expected: want.len(), got: got.len(), pass: unmatched.is_empty(), unmatched, max_time_error: max_err }
}

/// Builds and runs a case file, comparing with NEST; with `out`, also writes the run in the
/// standard output layout (spikes and one report per recorded variable of the case's neuron
/// population: `neuron`, or `network` for the network case).
pub fn verify_file(path: &Path, threads: usize, out: Option<&Path>) -> Result<CaseResult> {
    let mut case = build_case(path, threads)?;
    let Some(dir) = out else { return run_case(&mut case, None) };
    let sim = &case.simulation;
    let populations = sim.populations().to_vec();
    let record_spikes: Vec<bool> = populations.iter().map(|p| p.name == case.population).collect();
    let reports: Vec<crate::output::ReportPlan> = case
        .variables
        .iter()
        .map(|(variable, units)| crate::output::ReportPlan {
            population: case.population.clone(),
            variable: variable.clone(),
            units: units.clone(),
            interval_ms: case.record_interval_ms,
            nodes: (0..populations[0].size as u64).collect(),
        })
        .collect();
    let info = crate::output::RunInfo {
        model_path: path.display().to_string(),
        model_text: std::fs::read_to_string(path)?,
        seed: sim.seed(),
        resolution_ms: sim.resolution().h(),
        duration_ms: sim.resolution().ms(case.duration),
        threads: sim.threads(),
        overrides: Vec::new(),
    };
    let mut recorder = crate::output::Recorder::create(dir, &info, &populations, &record_spikes, &reports)?;
    let result = run_case(&mut case, Some(&mut recorder))?;
    recorder.finish(case.simulation.resolution().ms(case.simulation.now()), None)?;
    Ok(result)
}

/// Models whose parity cases this release verifies.
pub fn supported_cases() -> Vec<&'static str> {
    ["iaf_psc_exp", "iaf_psc_delta", "iaf_cond_exp", "aeif_cond_alpha", "iaf_psc_exp_ps", "iaf_psc_exp_network"]
        .to_vec()
}
