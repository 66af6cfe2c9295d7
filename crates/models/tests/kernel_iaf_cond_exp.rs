//! Parity of the `iaf_cond_exp` kernel with NEST 3.10 (`data/reference/nest/iaf_cond_exp.json`).
//!
//! What a faithful implementation reaches (`data/reference/README.md`): V_m within 1e-6 mV
//! and identical spike times.

#[path = "common/nest_case.rs"]
mod nest_case;

use laminar_models::iaf_cond_exp::{IafCondExp, IafCondExpParams, Recordable};

const V_M_TOLERANCE_MV: f64 = 1e-6;

#[test]
fn iaf_cond_exp_matches_nest() {
    let case = nest_case::load("iaf_cond_exp");
    let params: IafCondExpParams =
        serde_json::from_value(case.params.clone()).expect("the case's parameters use NEST's names");
    let mut neuron = IafCondExp::new(params, 1, case.h_ms).expect("valid parameters");

    let mut traces = [Vec::new(), Vec::new(), Vec::new()];
    let mut spike_steps = Vec::new();
    let inputs = &case.inputs;
    for k in 0..case.steps {
        if neuron.update(0, inputs.spike_ex[k], inputs.spike_in[k], inputs.i_stim[k]) {
            spike_steps.push(k);
        }
        for (trace, var) in traces.iter_mut().zip(Recordable::ALL) {
            trace.push(neuron.get(var, 0));
        }
    }

    for (trace, var) in traces.iter().zip(Recordable::ALL) {
        let stats = nest_case::error_stats(trace, &case.expected_trace(var.name()));
        println!(
            "iaf_cond_exp {:>4}: max |error| {:.3e} {} (at {:.1} ms), median {:.3e}, 99th percentile {:.3e}",
            var.name(),
            stats.max,
            var.units(),
            case.spike_time(stats.max_at),
            stats.median,
            stats.p99,
        );
        if var == Recordable::Vm {
            assert!(
                stats.max <= V_M_TOLERANCE_MV,
                "V_m differs from NEST by up to {:.3e} mV (tolerance {V_M_TOLERANCE_MV:e})",
                stats.max
            );
        }
    }

    let spike_times: Vec<String> = spike_steps.iter().map(|&k| format!("{:.1}", case.spike_time(k))).collect();
    println!("iaf_cond_exp spikes (ms): {}", spike_times.join(", "));
    assert_eq!(spike_steps, case.expected_spike_steps(), "spike steps differ from NEST's");
}
