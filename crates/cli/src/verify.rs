//! `laminar verify CASE.json`: rebuilds a NEST reference case with laminar's own models, runs it
//! through the engine and compares every recorded quantity and the spikes with NEST's output.
//!
//! The case format is that of `data/reference/nest/*.json` (`setup` + `expected`); the timing
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
    Simulation, SpikeRecord, Step, SynapseModel, WeightEvent,
};
use laminar_models::{Scheduling, registry};
use serde_json::{Map, Value};

/// How close a quantity must be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    /// Every sample within `max` (absolute, in the quantity's unit).
    MaxAbs(f64),
    /// Median and 99th percentile of the absolute error (AdEx: NEST's adaptive sub-steps).
    Distribution { median: f64, p99: f64 },
    /// Every sample within this fraction of the trace's range (NEST's adaptive RK45 traces).
    OfRange(f64),
    /// Every sample within this fraction of the largest magnitude (weights).
    Relative(f64),
}

/// How spike lists must agree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SpikeTolerance {
    /// The same steps (grid models): identical times.
    Identical,
    /// Precise models: each time within this many ms.
    Within(f64),
}

/// The per-case tolerances of `data/reference/README.md`.
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
        "tsodyks_synapse" => (vec![("V_m", MaxAbs(exact)), ("I_syn_ex", MaxAbs(exact))], SpikeTolerance::Identical),
        "stdp_synapse" => (vec![], SpikeTolerance::Identical),
        "cm_default_two_compartment" => {
            (vec![("v_comp0", MaxAbs(1e-6)), ("v_comp1", MaxAbs(1e-6))], SpikeTolerance::Identical)
        }
        "astrocyte_lr_1994_sic" => (
            ["Ca_astro", "IP3", "h_IP3R", "I_SIC", "V_m"].map(|q| (q, OfRange(1e-3))).to_vec(),
            SpikeTolerance::Identical,
        ),
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
            "  {:<24} {:>8} {:>12} {:>12} {:>12}  {:<28} {}\n",
            "quantity", "samples", "max|err|", "median", "p99", "tolerance", "result"
        ));
        for q in &self.quantities {
            let tol = match q.tolerance {
                Tolerance::MaxAbs(m) => format!("max <= {m:e}"),
                Tolerance::Distribution { median, p99 } => format!("median <= {median}, p99 <= {p99}"),
                Tolerance::OfRange(f) => format!("max <= {f:e} x range"),
                Tolerance::Relative(r) => format!("max <= {r:e} x |value|"),
            };
            s.push_str(&format!(
                "  {:<24} {:>8} {:>12.3e} {:>12.3e} {:>12.3e}  {:<28} {}\n",
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

/// A recorded trace compared with NEST's.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRecording {
    /// The population name in the output (`neuron`, `network`, `astrocyte`).
    pub population: String,
    pub variable: String,
    pub units: String,
    pub interval_ms: f64,
    pub nodes: Vec<u64>,
    expected_times: Vec<f64>,
    expected: Vec<f64>,
    tolerance: Tolerance,
}

/// NEST's weight_recorder log of one plastic projection, to compare.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedWeights {
    /// Index of the projection in the network.
    pub projection: usize,
    pub name: String,
    pub units: String,
    times: Vec<f64>,
    weights: Vec<f64>,
    final_weight: Option<f64>,
}

/// A built case: the network, what it records and what NEST recorded.
pub struct BuiltCase {
    pub name: String,
    pub simulation: Simulation,
    pub duration: Step,
    /// Recorded traces in recording order.
    pub recordings: Vec<CaseRecording>,
    /// The population whose spikes are compared (and written with `--out`).
    pub spike_population: String,
    expected_spikes: Vec<(u64, f64)>,
    spike_tolerance: SpikeTolerance,
    pub weights: Option<ExpectedWeights>,
}

/// Collects a case's network and expectations while it is being built.
struct CaseBuilder<'a> {
    name: String,
    setup: &'a Value,
    expected: &'a Value,
    resolution: Resolution,
    b: NetworkBuilder,
    recordings: Vec<CaseRecording>,
    quantity_tols: Vec<(&'static str, Tolerance)>,
    /// The update scheme asked for, used where a model offers it.
    scheduling: Option<Scheduling>,
}

impl CaseBuilder<'_> {
    fn h(&self) -> f64 {
        self.resolution.h()
    }

    fn population(&mut self, name: &str, model: &str, params: &Map<String, Value>, n: usize) -> Result<usize> {
        let scheduling = self.scheduling.filter(|s| registry::schedulings(model).contains(s));
        let f = registry::population_factory_scheduled(model, params, n, scheduling)
            .map_err(|e| anyhow!("{name} ({model}): {e}"))?;
        Ok(self.b.add_population(name, n, f))
    }

    /// A spike_generator population with one train per node (precise times for `_ps` targets).
    fn spike_source(&mut self, label: &str, per_node: Vec<Vec<f64>>, precise: bool) -> Result<usize> {
        let mut p = Map::new();
        p.insert("spike_times_per_node".into(), serde_json::to_value(&per_node)?);
        p.insert("precise_times".into(), Value::Bool(precise));
        self.population(label, "spike_generator", &p, per_node.len())
    }

    /// Input `k` of a case: a spike_generator with `times`, connected to `target` through a
    /// static synapse with the input's `weight` and `delay_ms`.
    fn spike_train(
        &mut self,
        k: usize,
        input: &Value,
        times: Vec<f64>,
        target: usize,
        precise: bool,
    ) -> Result<Projection> {
        let src = self.spike_source(&format!("input{k}"), vec![times], precise)?;
        Ok(Projection::new(
            &format!("input{k}"),
            src,
            target,
            Rule::AllToAll,
            Dist::Constant(num(input, "weight")?),
            Dist::Constant(num(input, "delay_ms")?),
        ))
    }

    /// A parrot relay fed by `times` through a static synapse of `delay_ms`.
    fn parrot_relay(&mut self, label: &str, times: Vec<f64>, delay_ms: f64) -> Result<usize> {
        let src = self.spike_source(&format!("{label}_times"), vec![times], false)?;
        let parrot = self.population(label, "parrot_neuron", &Map::new(), 1)?;
        self.b.add_projection(Projection::new(
            &format!("{label}_relay"),
            src,
            parrot,
            Rule::OneToOne,
            Dist::Constant(1.0),
            Dist::Constant(delay_ms),
        ));
        Ok(parrot)
    }

    /// Records `variables` of population `population` (named `label`) and takes NEST's traces
    /// from `expected` (an object with `times_ms` and one list per variable).
    fn record(
        &mut self,
        population: usize,
        label: &str,
        variables: &[String],
        interval_ms: f64,
        expected: &Value,
    ) -> Result<()> {
        let interval = self.resolution.exact_steps(interval_ms)?;
        let info = self.b.population_factory(population).info().clone();
        let times = f64_list(&expected["times_ms"], "expected.times_ms")?;
        for v in variables {
            let variable =
                info.recordable_index(v).with_context(|| format!("{} has no recordable '{v}'", info.name))?;
            let n = self.b.population_size(population) as u64;
            self.b.add_recording(RecordingSpec { population, variable, nodes: (0..n).collect(), interval });
            let tolerance = self
                .quantity_tols
                .iter()
                .find(|(q, _)| q == v)
                .map(|(_, t)| *t)
                .with_context(|| format!("case {}: no stated tolerance for {v}", self.name))?;
            self.recordings.push(CaseRecording {
                population: label.to_string(),
                variable: v.clone(),
                units: info.recordables[variable].units.to_string(),
                interval_ms,
                nodes: (0..n).collect(),
                expected_times: times.clone(),
                expected: f64_list(&expected[v.as_str()], v)?,
                tolerance,
            });
        }
        Ok(())
    }
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

fn str_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(|s| s.as_str().map(str::to_string)).collect()
}

/// Reads and builds a case file.
pub fn build_case(path: &Path, threads: usize) -> Result<BuiltCase> {
    build_case_with(path, threads, None)
}

/// As [`build_case`], with the case's neurons updated with `scheduling` where their model offers
/// it (e.g. `iaf_psc_exp` clock-driven); other models keep their own scheme.
pub fn build_case_with(path: &Path, threads: usize, scheduling: Option<Scheduling>) -> Result<BuiltCase> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let case: Value = serde_json::from_str(&nest_json_literals(&text))
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    let name = case.get("name").and_then(Value::as_str).context("case has no 'name'")?.to_string();
    let setup = case.get("setup").context("case has no 'setup'")?;
    let expected = case.get("expected").context("case has no 'expected'")?;
    let Some((quantity_tols, spike_tolerance)) = tolerances(&name) else {
        bail!("case '{name}' is not supported by this version of laminar (its models arrive with a later release)");
    };
    let h = num(setup, "resolution_ms")?;
    let resolution = Resolution::new(h)?;
    let duration = resolution.exact_steps(num(setup, "duration_ms")?)?;
    let mut cb = CaseBuilder {
        name: name.clone(),
        setup,
        expected,
        resolution,
        b: NetworkBuilder::new(resolution, 1),
        recordings: Vec::new(),
        quantity_tols,
        scheduling,
    };
    let (spike_population, expected_spikes, weights) = if setup.get("synapse").is_some() {
        build_stdp(&mut cb)?
    } else if setup.get("astrocyte").is_some() {
        build_astrocyte(&mut cb)?
    } else {
        build_point_neuron(&mut cb)?
    };
    let simulation = cb.b.build(threads)?;
    Ok(BuiltCase {
        name,
        simulation,
        duration,
        recordings: cb.recordings,
        spike_population,
        expected_spikes,
        spike_tolerance,
        weights,
    })
}

type Built = (String, Vec<(u64, f64)>, Option<ExpectedWeights>);

/// One neuron (or the 60-neuron network) driven by spike trains, parrot-relayed trains through a
/// synapse model, and DC steps.
fn build_point_neuron(cb: &mut CaseBuilder<'_>) -> Result<Built> {
    let (setup, h) = (cb.setup, cb.h());
    let (model, params) = if let Some(compartments) = setup.get("compartments") {
        // A compartmental cell: the tree and its receptors are the model's parameters.
        let mut p = Map::new();
        p.insert("compartments".into(), compartments.clone());
        p.insert("receptors".into(), setup.get("receptors").cloned().unwrap_or(Value::Array(Vec::new())));
        ("cm_default", p)
    } else {
        let neuron = setup.get("neuron").context("setup has no 'neuron'")?;
        let model = neuron.get("model").and_then(Value::as_str).context("neuron has no 'model'")?;
        (model, neuron.get("params").and_then(Value::as_object).cloned().unwrap_or_default())
    };
    let precise = model.ends_with("_ps");

    let network = setup.get("connections").is_some();
    let (population, n) =
        if network { ("network".to_string(), num(setup, "n")? as usize) } else { ("neuron".to_string(), 1) };
    let target = cb.population(&population, model, &params, n)?;

    if network {
        let init = f64_list(setup.get("initial_V_m").context("network case has no initial_V_m")?, "initial_V_m")?;
        cb.b.set_initial(target, "V_m", Initial::PerNeuron(init))?;
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
        cb.b.add_projection(Projection::new(
            "recurrent",
            target,
            target,
            Rule::Explicit(edges),
            Dist::Constant(0.0),
            Dist::Constant(h),
        ));
        let drive = setup.get("drive").context("network case has no drive")?;
        let trains = drive["times_ms"]
            .as_array()
            .context("drive.times_ms: expected a list of lists")?
            .iter()
            .map(|t| f64_list(t, "drive.times_ms"))
            .collect::<Result<Vec<_>>>()?;
        let src = cb.spike_source("drive", trains, precise)?;
        cb.b.add_projection(Projection::new(
            "drive",
            src,
            target,
            Rule::OneToOne,
            Dist::Constant(num(drive, "weight")?),
            Dist::Constant(num(drive, "delay_ms")?),
        ));
    }

    for (k, input) in setup.get("inputs").and_then(Value::as_array).into_iter().flatten().enumerate() {
        match input.get("kind").and_then(Value::as_str) {
            Some("spike_train") => {
                let times = f64_list(&input["times_ms"], "times_ms")?;
                let receptor = input.get("receptor").and_then(Value::as_u64).map(|r| r as usize);
                let projection = if let Some(via) = input.get("via") {
                    if via.as_str() != Some("parrot_neuron") {
                        bail!("input {k}: relay {via} is not supported (parrot_neuron is)");
                    }
                    let parrot = cb.parrot_relay(&format!("input{k}_parrot"), times, num(input, "parrot_delay_ms")?)?;
                    let synapse = input.get("synapse").context("relayed input without a synapse")?;
                    let (model, mut params) = synapse_spec(synapse)?;
                    let weight = params.remove("weight").and_then(|w| w.as_f64()).context("synapse has no weight")?;
                    let delay = params.remove("delay").and_then(|d| d.as_f64()).context("synapse has no delay")?;
                    let mut p = Projection::new(
                        &format!("input{k}"),
                        parrot,
                        target,
                        Rule::AllToAll,
                        Dist::Constant(weight),
                        Dist::Constant(delay),
                    );
                    p.synapse = registry::synapse_factory(&model, &params)
                        .map_err(|e| anyhow!("input {k}: {e}"))?
                        .map(SynapseModel);
                    p
                } else {
                    cb.spike_train(k, input, times, target, precise)?
                };
                cb.b.add_projection(Projection { receptor, ..projection });
            }
            Some("dc") => {
                let mut p = Map::new();
                p.insert("amplitude".into(), input["amplitude_pA"].clone());
                p.insert("start".into(), input["start_ms"].clone());
                p.insert("stop".into(), input["stop_ms"].clone());
                let f = registry::stimulus_factory("dc_generator", &p).map_err(|e| anyhow!("input {k}: {e}"))?;
                cb.b.add_device(DeviceEntry {
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

    if let Some(record) = setup.get("record") {
        let variables = str_list(record.get("variables"));
        cb.record(target, &population, &variables, num(record, "interval_ms")?, cb.expected)?;
    }
    Ok((population.clone(), expected_spike_list(cb.expected)?, None))
}

/// Pair-based STDP between two parrot neurons; NEST's weight_recorder log is compared.
fn build_stdp(cb: &mut CaseBuilder<'_>) -> Result<Built> {
    let setup = cb.setup;
    let delay = num(setup, "parrot_delay_ms")?;
    let pre = cb.parrot_relay("pre", f64_list(&setup["pre_times_ms"], "pre_times_ms")?, delay)?;
    let post = cb.parrot_relay("post", f64_list(&setup["post_times_ms"], "post_times_ms")?, delay)?;
    let (model, mut params) = synapse_spec(&setup["synapse"])?;
    let weight = params.remove("weight").and_then(|w| w.as_f64()).context("synapse has no weight")?;
    let syn_delay = params.remove("delay").and_then(|d| d.as_f64()).context("synapse has no delay")?;
    params.insert("tau_minus".into(), Value::from(num(setup, "tau_minus")?));
    let mut p = Projection::new("stdp", pre, post, Rule::AllToAll, Dist::Constant(weight), Dist::Constant(syn_delay));
    p.synapse = registry::synapse_factory(&model, &params).map_err(|e| anyhow!("synapse: {e}"))?.map(SynapseModel);
    // The case connects to the parrot's port 0: the post parrot also repeats every pre spike that
    // reaches it, and those spikes take part in the plasticity.
    p.record_weights = true;
    cb.b.add_projection(p);
    let projection = cb.b.projection_count() - 1;
    let e = cb.expected;
    let weights = ExpectedWeights {
        projection,
        name: "stdp".into(),
        units: "pA".into(),
        times: f64_list(&e["weight_times_ms"], "weight_times_ms")?,
        weights: f64_list(&e["weights"], "weights")?,
        final_weight: e.get("final_weight").and_then(Value::as_f64),
    };
    Ok(("post".into(), Vec::new(), Some(weights)))
}

/// An astrocyte driven by a spike train, sending its slow inward current to an AdEx neuron.
fn build_astrocyte(cb: &mut CaseBuilder<'_>) -> Result<Built> {
    let setup = cb.setup;
    let part = |key: &str| -> Result<(String, Map<String, Value>)> {
        let v = setup.get(key).with_context(|| format!("setup has no '{key}'"))?;
        let model = v.get("model").and_then(Value::as_str).with_context(|| format!("{key} has no model"))?;
        Ok((model.to_string(), v.get("params").and_then(Value::as_object).cloned().unwrap_or_default()))
    };
    let (astro_model, astro_params) = part("astrocyte")?;
    let (neuron_model, neuron_params) = part("neuron")?;
    let astrocyte = cb.population("astrocyte", &astro_model, &astro_params, 1)?;
    let neuron = cb.population("neuron", &neuron_model, &neuron_params, 1)?;
    for (k, input) in setup.get("inputs").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if input.get("kind").and_then(Value::as_str) != Some("spike_train") {
            bail!("input {k}: only spike trains drive the astrocyte");
        }
        let target = match input.get("target").and_then(Value::as_str) {
            Some("astrocyte") | None => astrocyte,
            Some("neuron") => neuron,
            Some(other) => bail!("input {k}: unknown target '{other}'"),
        };
        let projection = cb.spike_train(k, input, f64_list(&input["times_ms"], "times_ms")?, target, false)?;
        cb.b.add_projection(projection);
    }
    let sic = setup.get("sic").context("setup has no 'sic' connection")?;
    cb.b.add_projection(Projection::new(
        "sic",
        astrocyte,
        neuron,
        Rule::AllToAll,
        Dist::Constant(num(sic, "weight")?),
        Dist::Constant(num(sic, "delay_ms")?),
    ));
    let record = setup.get("record").context("setup has no 'record'")?;
    let interval = num(record, "interval_ms")?;
    let e = cb.expected;
    cb.record(astrocyte, "astrocyte", &str_list(record.get("astrocyte")), interval, &e["astrocyte"])?;
    cb.record(neuron, "neuron", &str_list(record.get("neuron")), interval, &e["neuron"])?;
    Ok(("neuron".into(), expected_spike_list(&e["neuron"])?, None))
}

/// A synapse object of a case: its model name and the remaining parameters.
fn synapse_spec(v: &Value) -> Result<(String, Map<String, Value>)> {
    let mut params = v.as_object().cloned().context("synapse: expected an object")?;
    let model = params.remove("model").and_then(|m| m.as_str().map(str::to_string)).context("synapse has no model")?;
    Ok((model, params))
}

/// `expected.spikes` (`[neuron, time]` pairs) or `expected.spike_times_ms` (one neuron).
fn expected_spike_list(expected: &Value) -> Result<Vec<(u64, f64)>> {
    if let Some(list) = expected.get("spikes") {
        list.as_array()
            .context("expected.spikes")?
            .iter()
            .map(|p| {
                let p = f64_list(p, "spike")?;
                Ok((p[0] as u64, p[1]))
            })
            .collect()
    } else if let Some(times) = expected.get("spike_times_ms") {
        Ok(f64_list(times, "spike_times_ms")?.into_iter().map(|t| (0, t)).collect())
    } else {
        Ok(Vec::new())
    }
}

/// Keeps everything in memory (for comparison), optionally forwarding to another observer.
pub struct Collect<'a> {
    pub spikes: Vec<SpikeRecord>,
    /// Per recording: (step, values).
    pub frames: Vec<Vec<(Step, Vec<f64>)>>,
    pub weights: Vec<WeightEvent>,
    pub forward: Option<&'a mut dyn Observer>,
}

impl<'a> Collect<'a> {
    pub fn new(forward: Option<&'a mut dyn Observer>) -> Self {
        Self { spikes: Vec::new(), frames: Vec::new(), weights: Vec::new(), forward }
    }
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

    fn weights(&mut self, events: &[WeightEvent]) -> Result<(), String> {
        self.weights.extend_from_slice(events);
        match self.forward.as_mut() {
            Some(f) => f.weights(events),
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

/// Compares one trace sample by sample (at NEST's recording times).
fn compare_trace(rec: &CaseRecording, frames: &[(Step, Vec<f64>)], h: f64) -> Result<QuantityResult> {
    let by_step: BTreeMap<Step, f64> = frames.iter().map(|(s, v)| (*s, v[0])).collect();
    let mut errors = Vec::with_capacity(rec.expected_times.len());
    for (t, w) in rec.expected_times.iter().zip(&rec.expected) {
        let step = (t / h).round() as Step - 1;
        let got = by_step.get(&step).with_context(|| format!("{}: no sample at {t} ms", rec.variable))?;
        errors.push((got - w).abs());
    }
    let range = rec.expected.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        - rec.expected.iter().cloned().fold(f64::INFINITY, f64::min);
    let max_abs = errors.iter().cloned().fold(0.0, f64::max);
    errors.sort_by(f64::total_cmp);
    let median_abs = percentile(&errors, 0.5);
    let p99_abs = percentile(&errors, 0.99);
    let pass = !errors.is_empty()
        && errors.iter().all(|e| e.is_finite())
        && match rec.tolerance {
            Tolerance::MaxAbs(m) => max_abs <= m,
            Tolerance::Distribution { median, p99 } => median_abs <= median && p99_abs <= p99,
            Tolerance::OfRange(f) => max_abs <= f * range,
            Tolerance::Relative(r) => max_abs <= r * rec.expected.iter().map(|v| v.abs()).fold(0.0, f64::max),
        };
    Ok(QuantityResult {
        name: if rec.population == "neuron" || rec.population == "network" {
            rec.variable.clone()
        } else {
            format!("{}.{}", rec.population, rec.variable)
        },
        samples: errors.len(),
        max_abs,
        median_abs,
        p99_abs,
        tolerance: rec.tolerance,
        pass,
    })
}

/// Compares the logged weights (each transmission's weight, at its time) and the final weight.
fn compare_weights(want: &ExpectedWeights, got: &[WeightEvent], sim: &Simulation) -> Vec<QuantityResult> {
    let tol = Tolerance::Relative(1e-9);
    let got: Vec<&WeightEvent> = got.iter().filter(|e| e.projection == want.projection).collect();
    let scale = want.weights.iter().map(|w| w.abs()).fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    let mut errors = Vec::new();
    let mut pass = got.len() == want.weights.len();
    for (g, (t, w)) in got.iter().zip(want.times.iter().zip(&want.weights)) {
        pass &= (g.t_ms - t).abs() < 1e-9;
        errors.push((g.weight - w).abs());
    }
    let max_abs = errors.iter().cloned().fold(0.0, f64::max);
    errors.sort_by(f64::total_cmp);
    pass &= errors.iter().all(|e| e.is_finite()) && max_abs <= 1e-9 * scale;
    let mut out = vec![QuantityResult {
        name: format!("{} weights ({} of {})", want.name, got.len(), want.weights.len()),
        samples: errors.len(),
        max_abs,
        median_abs: percentile(&errors, 0.5),
        p99_abs: percentile(&errors, 0.99),
        tolerance: tol,
        pass,
    }];
    if let Some(final_weight) = want.final_weight {
        let last = sim.synapse_weights(want.projection).first().map(|&(_, _, w)| w).unwrap_or(f64::NAN);
        let err = (last - final_weight).abs();
        out.push(QuantityResult {
            name: format!("{} final weight", want.name),
            samples: 1,
            max_abs: err,
            median_abs: err,
            p99_abs: err,
            tolerance: tol,
            pass: err <= 1e-9 * final_weight.abs(),
        });
    }
    out
}

/// Runs a built case and compares it with NEST's output.
pub fn run_case(case: &mut BuiltCase, forward: Option<&mut dyn Observer>) -> Result<CaseResult> {
    let mut collect = Collect::new(forward);
    let stop = AtomicBool::new(false);
    case.simulation.run(case.duration, &mut collect, &stop)?;
    let h = case.simulation.resolution().h();
    let mut quantities = Vec::new();
    for (ri, rec) in case.recordings.iter().enumerate() {
        let frames = collect.frames.get(ri).map(Vec::as_slice).unwrap_or_default();
        quantities.push(compare_trace(rec, frames, h)?);
    }
    if let Some(w) = &case.weights {
        quantities.extend(compare_weights(w, &collect.weights, &case.simulation));
    }
    let target_pop = case
        .simulation
        .populations()
        .iter()
        .position(|p| p.name == case.spike_population)
        .context("spike population missing")?;
    // Spikes of the compared population: (node, time), NEST's order (time, then node).
    let got: Vec<(u64, f64)> =
        collect.spikes.iter().filter(|s| s.population == target_pop).map(|s| (s.node, s.time_ms)).collect();
    let spikes = if case.weights.is_some() {
        // The STDP case compares weights; its parrots' spikes are inputs, not results.
        SpikeResult { expected: 0, got: 0, unmatched: Vec::new(), max_time_error: 0.0, pass: true }
    } else {
        compare_spikes(&case.expected_spikes, &got, case.spike_tolerance, h)
    };
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
/// standard output layout: spikes of the compared population, one report per recorded variable
/// under its population (`neuron`, `network`, `astrocyte`), and `weights.h5` for plastic cases.
pub fn verify_file(path: &Path, threads: usize, out: Option<&Path>) -> Result<CaseResult> {
    verify_file_with(path, threads, out, None)
}

/// As [`verify_file`], with the update scheme `scheduling` where the case's models offer it.
pub fn verify_file_with(
    path: &Path,
    threads: usize,
    out: Option<&Path>,
    scheduling: Option<Scheduling>,
) -> Result<CaseResult> {
    let mut case = build_case_with(path, threads, scheduling)?;
    let Some(dir) = out else { return run_case(&mut case, None) };
    let sim = &case.simulation;
    let populations = sim.populations().to_vec();
    let record_spikes: Vec<bool> = populations.iter().map(|p| p.name == case.spike_population).collect();
    let reports: Vec<laminar_record::ReportPlan> = case
        .recordings
        .iter()
        .map(|r| laminar_record::ReportPlan {
            population: r.population.clone(),
            variable: r.variable.clone(),
            units: r.units.clone(),
            interval_ms: r.interval_ms,
            nodes: r.nodes.clone(),
            elements: 1,
        })
        .collect();
    let weights: Vec<laminar_record::WeightPlan> = case
        .weights
        .iter()
        .map(|w| laminar_record::WeightPlan { projection: w.projection, name: w.name.clone(), units: w.units.clone() })
        .collect();
    let info = laminar_record::RunInfo {
        model_path: path.display().to_string(),
        model_text: std::fs::read_to_string(path)?,
        seed: sim.seed(),
        resolution_ms: sim.resolution().h(),
        duration_ms: sim.resolution().ms(case.duration),
        threads: sim.threads(),
        overrides: Vec::new(),
        placements: Vec::new(),
    };
    let mut recorder = laminar_record::Recorder::create(dir, &info, &populations, &record_spikes, &reports, &weights)?;
    let result = run_case(&mut case, Some(&mut recorder))?;
    recorder.finish(case.simulation.resolution().ms(case.simulation.now()), None)?;
    Ok(result)
}

/// The NEST cases this release verifies.
pub fn supported_cases() -> Vec<&'static str> {
    [
        "iaf_psc_exp",
        "iaf_psc_delta",
        "iaf_cond_exp",
        "aeif_cond_alpha",
        "iaf_psc_exp_ps",
        "iaf_psc_exp_network",
        "tsodyks_synapse",
        "stdp_synapse",
        "cm_default_two_compartment",
        "astrocyte_lr_1994_sic",
    ]
    .to_vec()
}
