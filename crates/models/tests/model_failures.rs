//! A neuron whose numerics fail in a network run stops the run, as NEST stops with
//! `NumericalInstability`: the engine ends it after the exchange interval of the failing step and
//! names the population, the neuron and the time, the same for any number of threads.

use std::sync::atomic::AtomicBool;

use laminar_engine::{Dist, Initial, NetworkBuilder, NullObserver, Projection, Resolution, Rule, RunError};
use laminar_models::registry;
use serde_json::{Map, json};

/// 10 `aeif_cond_alpha` neurons driven above threshold whose first spike raises `w` beyond NEST's
/// bound (b = 3·10⁶ pA); neurons 6 and 3 start closest to threshold, so 6 spikes (and fails) first.
/// A projection with 1-ms delays makes the exchange interval ten steps long.
fn network() -> NetworkBuilder {
    let mut b = NetworkBuilder::new(Resolution::new(0.1).unwrap(), 3);
    let params: Map<String, serde_json::Value> = json!({ "I_e": 800.0, "b": 3e6 }).as_object().unwrap().clone();
    let adex = b.add_population("adex", 10, registry::population_factory("aeif_cond_alpha", &params, 10).unwrap());
    let mut v_m = vec![-70.0; 10];
    v_m[6] = -51.0;
    v_m[3] = -53.0;
    b.set_initial(adex, "V_m", Initial::PerNeuron(v_m)).unwrap();
    let quiet = b.add_population("quiet", 4, registry::population_factory("iaf_psc_exp", &Map::new(), 4).unwrap());
    b.add_projection(Projection::new(
        "adex_to_quiet",
        adex,
        quiet,
        Rule::AllToAll,
        Dist::Constant(1.0),
        Dist::Constant(1.0),
    ));
    b
}

#[test]
fn a_numerical_instability_ends_the_run_naming_the_neuron_for_any_thread_count() {
    let mut seen = None;
    for threads in [1, 2, 3] {
        let mut sim = network().build(threads).unwrap();
        let until = 10_000; // 1 s: far beyond the failure
        let error = sim.run(until, &mut NullObserver, &AtomicBool::new(false)).unwrap_err();
        let RunError::Model { population, model, neuron, time_ms, message } = &error else {
            panic!("{threads} threads: expected a model failure, got {error}");
        };
        assert_eq!((population.as_str(), model.as_str(), *neuron), ("adex", "aeif_cond_alpha", 6), "{error}");
        assert!(message.contains("numerical instability") && message.contains("gsl_error_tol"), "{message}");
        // The run ended at the end of the ten-step exchange interval holding the failing step.
        let failed_step = (time_ms / 0.1).round() as u64 - 1;
        assert!(failed_step < sim.now() && sim.now() <= failed_step + 10, "{threads} threads: now {}", sim.now());
        assert_eq!(sim.now() % 10, 0);
        match &seen {
            None => seen = Some((error.to_string(), sim.now())),
            Some(first) => assert_eq!(first, &(error.to_string(), sim.now()), "{threads} threads"),
        }
    }
    let (text, _) = seen.unwrap();
    assert!(text.starts_with("population `adex` (aeif_cond_alpha), neuron 6, in the step ending at "), "{text}");
}

#[test]
fn a_run_without_failure_is_unaffected() {
    // Below NEST's bound (b = 80.5 pA, the default) the same network runs to the end.
    let mut b = NetworkBuilder::new(Resolution::new(0.1).unwrap(), 3);
    let params: Map<String, serde_json::Value> = json!({ "I_e": 800.0 }).as_object().unwrap().clone();
    b.add_population("adex", 10, registry::population_factory("aeif_cond_alpha", &params, 10).unwrap());
    let mut sim = b.build(2).unwrap();
    let report = sim.run(2_000, &mut NullObserver, &AtomicBool::new(false)).unwrap();
    assert_eq!((report.now, report.interrupted), (2_000, false));
    assert!(sim.spike_counts()[0] > 0);
}
