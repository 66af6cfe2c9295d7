//! Macro benchmark scenarios, built programmatically so they measure the engine, not the parser:
//!
//! - `cuba`: the CUBA benchmark (Brette et al. 2007; Brian2 `examples/CUBA.py`) on
//!   `iaf_psc_exp`, 80 % excitatory, in-degree `k` (80 for the standard 4000-neuron network:
//!   p = 0.02), weights 20.25 / −112.5 pA, delay 0.1 ms, V_m uniform in [−60, −50] mV.
//! - `sparse`: the event-driven payoff. `n` `iaf_psc_exp` neurons at rest with weak sparse
//!   recurrent coupling (fixed in-degree 10, 5 pA, delay 1 ms); a fraction `driven` of them
//!   receives an independent 1-kHz Poisson train (200 pA: 400 pA mean drive, above rheobase). A clock-driven
//!   simulator pays for every neuron every step; laminar pays for events.

use std::sync::Arc;

use anyhow::{Result, anyhow};
use laminar_engine::{DeviceEntry, Dist, Initial, NetworkBuilder, Projection, RecordingSpec, Resolution, Rule};
use laminar_models::{Scheduling, registry};
use serde_json::{Map, Value, json};

fn params(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// The CUBA network with `n` neurons and in-degree `k`; V_m of neuron 0 recorded if `record`.
pub fn cuba(n: usize, k: f64, seed: u64, record: bool, update: Scheduling) -> Result<NetworkBuilder> {
    let mut b = NetworkBuilder::new(Resolution::new(0.1)?, seed);
    let p = params(json!({
        "E_L": -49.0, "V_th": -50.0, "V_reset": -60.0, "C_m": 250.0, "tau_m": 20.0,
        "tau_syn_ex": 5.0, "tau_syn_in": 10.0, "t_ref": 5.0, "V_m": -60.0
    }));
    let n_exc = n * 4 / 5;
    let exc = b.add_population(
        "exc",
        n_exc,
        registry::population_factory_scheduled("iaf_psc_exp", &p, n_exc, Some(update)).map_err(|e| anyhow!(e))?,
    );
    let inh = b.add_population(
        "inh",
        n - n_exc,
        registry::population_factory_scheduled("iaf_psc_exp", &p, n - n_exc, Some(update)).map_err(|e| anyhow!(e))?,
    );
    let prob = k / n as f64;
    for (pop, name) in [(exc, "exc"), (inh, "inh")] {
        b.set_initial(pop, "V_m", Initial::Dist(Dist::Uniform { low: -60.0, high: -50.0 }))?;
        for (target, tname) in [(exc, "exc"), (inh, "inh")] {
            b.add_projection(Projection {
                name: format!("{name}->{tname}"),
                source: pop,
                target,
                rule: Rule::PairwiseBernoulli { p: prob },
                weight: Dist::Constant(if pop == exc { 20.25 } else { -112.5 }),
                delay: Dist::Constant(0.1),
                receptor: None,
                autapses: true,
                multapses: false,
                synapse: None,
                record_weights: false,
                learning_windows: Vec::new(),
            });
        }
    }
    if record {
        b.add_recording(RecordingSpec { population: exc, variable: 0, nodes: vec![0], interval: 10 });
    }
    Ok(b)
}

/// `n` neurons, a fraction `driven` of them with Poisson input.
pub fn sparse(n: usize, driven: f64, seed: u64, update: Scheduling) -> Result<NetworkBuilder> {
    let mut b = NetworkBuilder::new(Resolution::new(0.1)?, seed);
    let p = params(json!({ "E_L": -70.0, "V_th": -55.0, "V_reset": -70.0, "tau_syn_ex": 2.0, "tau_syn_in": 2.0 }));
    let pop = b.add_population(
        "neurons",
        n,
        registry::population_factory_scheduled("iaf_psc_exp", &p, n, Some(update)).map_err(|e| anyhow!(e))?,
    );
    b.add_projection(Projection {
        name: "recurrent".into(),
        source: pop,
        target: pop,
        rule: Rule::FixedIndegree { k: 10 },
        weight: Dist::Constant(5.0),
        delay: Dist::Constant(1.0),
        receptor: None,
        autapses: false,
        multapses: false,
        synapse: None,
        record_weights: false,
        learning_windows: Vec::new(),
    });
    let n_driven = ((n as f64) * driven).round() as u64;
    let stride = (n as u64).checked_div(n_driven).unwrap_or(1);
    let poisson =
        registry::stimulus_factory("poisson_generator", &params(json!({ "rate": 1000.0 }))).map_err(|e| anyhow!(e))?;
    b.add_device(DeviceEntry {
        name: "drive".into(),
        factory: Arc::clone(&poisson),
        population: pop,
        targets: (0..n_driven).map(|i| i * stride).collect(),
        weight: 200.0,
        delay_ms: 0.1,
        receptor: None,
    });
    Ok(b)
}
