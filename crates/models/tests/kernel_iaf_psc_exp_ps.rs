//! `iaf_psc_exp_ps` population kernel: NEST 3.10 parity (`data/reference/nest/iaf_psc_exp_ps.json`)
//! and checks against closed-form solutions.

use laminar_models::iaf_psc_exp_ps::{
    IafPscExpPs, IafPscExpPsInitialState, IafPscExpPsParams, PreciseInput, RECORDABLES,
};
use laminar_models::params::Validate;
use serde_json::Value;

const CASE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/reference/nest/iaf_psc_exp_ps.json");

/// The case's times are decimal numbers with 6 digits after the point. In integer units of
/// 1e-6 ms they are exact, so grid arithmetic (which step, on the grid or not) has no round-off.
const UNITS_PER_MS: f64 = 1e6;

/// NEST's clock: 1000 tics per ms (`Time::get_ms()` is `tics · (1/1000)`).
const NEST_TICS_PER_MS: i64 = 1000;

fn to_units(ms: f64) -> i64 {
    let units = (ms * UNITS_PER_MS).round();
    assert!((ms * UNITS_PER_MS - units).abs() < 1e-3, "{ms} ms has more than 6 decimals");
    units as i64
}

/// The grid time of step boundary `stamp` in ms, computed as NEST's `Time::step(stamp).get_ms()`.
fn nest_grid_ms(stamp: i64, h_units: i64) -> f64 {
    let tics_per_step = h_units * NEST_TICS_PER_MS / UNITS_PER_MS as i64;
    (stamp * tics_per_step) as f64 * (1.0 / NEST_TICS_PER_MS as f64)
}

/// Step index and offset at which an input spike emitted at `t_ms` with delay `delay_ms` arrives.
///
/// NEST's precise `spike_generator` gives the spike the stamp `s = ⌈t/h⌉` (the end of the step
/// containing t; an on-grid t is its own stamp) and the offset `s·h − t`, computed in double from
/// the grid time and t. The delay adds whole steps and keeps the offset. The spike arrives at
/// `t + d = (s + d/h)·h − offset`, in step `k = s + d/h − 1` (equivalently
/// `k = ⌈(t + d)/h⌉ − 1`), with `0 ≤ offset < h`; an arrival exactly on a grid point
/// `(k+1)·h` has offset 0 and belongs to step k. The ceiling is taken on integers (units of
/// 1e-6 ms), so no ε is needed.
fn arrival(t_ms: f64, delay_ms: f64, h_units: i64) -> (usize, f64) {
    let t_units = to_units(t_ms);
    let delay_units = to_units(delay_ms);
    assert!(t_units >= 0);
    assert_eq!(delay_units % h_units, 0, "delays are whole steps");
    let stamp = (t_units + h_units - 1) / h_units; // ⌈t/h⌉ on non-negative integers
    let offset = if t_units % h_units == 0 { 0.0 } else { nest_grid_ms(stamp, h_units) - t_ms };
    let step = stamp + delay_units / h_units - 1;
    (step as usize, offset)
}

/// Input events per step, each step's list sorted by decreasing offset (increasing time).
fn schedule(inputs: &[Value], h_units: i64, steps: usize) -> Vec<Vec<PreciseInput>> {
    let mut per_step = vec![Vec::new(); steps];
    for input in inputs {
        assert_eq!(input["kind"], "spike_train", "the case only has spike trains");
        let weight = input["weight"].as_f64().unwrap();
        let delay = input["delay_ms"].as_f64().unwrap();
        for t in input["times_ms"].as_array().unwrap() {
            let (step, offset) = arrival(t.as_f64().unwrap(), delay, h_units);
            if step < steps {
                per_step[step].push(PreciseInput { offset, weight });
            }
        }
    }
    for events in &mut per_step {
        events.sort_by(|a, b| b.offset.total_cmp(&a.offset));
    }
    per_step
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 { xs[n / 2] } else { 0.5 * (xs[n / 2 - 1] + xs[n / 2]) }
}

#[test]
fn nest_parity() {
    // Python's json writes V_min = -inf as the non-standard `-Infinity`, which serde_json
    // rejects; `null` is how JSON (and this crate) spells "no lower bound".
    let text = std::fs::read_to_string(CASE).expect("reference case");
    let case: Value = serde_json::from_str(&text.replace("-Infinity", "null")).unwrap();
    let setup = &case["setup"];
    assert_eq!(setup["neuron"]["model"], "iaf_psc_exp_ps");

    // NEST's status dictionary mixes parameters and initial state; split it.
    let mut params_json = setup["neuron"]["params"].as_object().unwrap().clone();
    let mut initial_json = serde_json::Map::new();
    for name in ["V_m", "I_syn_ex", "I_syn_in"] {
        if let Some(value) = params_json.remove(name) {
            initial_json.insert(name.to_string(), value);
        }
    }
    let params: IafPscExpPsParams = serde_json::from_value(Value::Object(params_json)).unwrap();
    let initial: IafPscExpPsInitialState = serde_json::from_value(Value::Object(initial_json)).unwrap();
    assert_eq!(params.v_min, f64::NEG_INFINITY);

    let h = setup["resolution_ms"].as_f64().unwrap();
    let h_units = to_units(h);
    let duration_units = to_units(setup["duration_ms"].as_f64().unwrap());
    assert_eq!(duration_units % h_units, 0);
    let steps = (duration_units / h_units) as usize;
    let events = schedule(setup["inputs"].as_array().unwrap(), h_units, steps);

    let mut neuron = IafPscExpPs::new(params, 1, h).unwrap();
    neuron.set_initial_state(0, &initial).unwrap();

    let mut v_m = Vec::with_capacity(steps);
    let mut spike_times = Vec::new();
    let mut spikes = Vec::new();
    for (k, step_events) in events.iter().enumerate() {
        spikes.clear();
        neuron.update(0, step_events, 0.0, &mut spikes);
        for offset in &spikes {
            // NEST's spike time: Time::step(k+1).get_ms() − offset.
            spike_times.push(nest_grid_ms(k as i64 + 1, h_units) - offset);
        }
        v_m.push(neuron.v_m(0)); // state at (k+1)·h
    }
    assert_eq!(neuron.threshold_search_failures(), 0);

    // Spike times: the README's tolerance for precise models.
    let expected_spikes = f64s(&case["expected"]["spike_times_ms"]);
    assert_eq!(spike_times.len(), expected_spikes.len(), "spike count: got {spike_times:?}, NEST {expected_spikes:?}");
    let spike_errors: Vec<f64> = spike_times.iter().zip(&expected_spikes).map(|(a, b)| (a - b).abs()).collect();
    let max_spike_error = spike_errors.iter().copied().fold(0.0, f64::max);
    eprintln!("spike times: max |error| = {max_spike_error:.3e} ms over {} spikes", spike_times.len());
    assert!(
        max_spike_error <= 1e-6,
        "spike times differ by up to {max_spike_error:e} ms: got {spike_times:?}, NEST {expected_spikes:?}"
    );

    // V_m: NEST's multimeter gets each min-delay slice's samples at the start of the next slice,
    // so the last slice is never recorded. With min_delay = 1 ms (all delays are 1 ms) that drops
    // the last 10 samples: 2990 samples at 0.1 … 299.0 ms. Sample j is the state at (j+1)·h, the
    // end of step j.
    let times = f64s(&case["expected"]["times_ms"]);
    let expected_v = f64s(&case["expected"]["V_m"]);
    assert_eq!(times.len(), expected_v.len());
    assert!(expected_v.len() <= steps);
    for (j, t) in times.iter().enumerate() {
        assert_eq!(to_units(*t), (j as i64 + 1) * h_units, "sample {j} is not at (j+1)·h");
    }
    let errors: Vec<f64> = v_m.iter().zip(&expected_v).map(|(a, b)| (a - b).abs()).collect();
    let (worst, max_error) =
        errors.iter().copied().enumerate().fold((0, 0.0), |best, (j, e)| if e > best.1 { (j, e) } else { best });
    // "Away from spikes": samples more than 1 ms from any spike.
    let away: Vec<f64> = errors
        .iter()
        .enumerate()
        .filter(|(j, _)| {
            let t = times[*j];
            expected_spikes.iter().all(|s| (t - s).abs() > 1.0)
        })
        .map(|(_, e)| *e)
        .collect();
    let max_away = away.iter().copied().fold(0.0, f64::max);
    eprintln!(
        "V_m: {} samples, max |error| = {max_error:.3e} mV (at {} ms), median = {:.3e} mV; \
         {} samples > 1 ms from spikes: max = {max_away:.3e} mV",
        errors.len(),
        times[worst],
        median(errors.clone()),
        away.len(),
    );
    // A double-precision implementation of NEST's arithmetic: the README's bound for the exact
    // (propagator) models, which this one is between events.
    assert!(max_error <= 1e-9, "V_m differs by {max_error:e} mV at {} ms", times[worst]);
}

// ------------------------------------------------------------------------------------------------
// Closed-form checks, independent of NEST's numbers.

const H: f64 = 0.1;

fn run_steps(
    neuron: &mut IafPscExpPs,
    steps: usize,
    mut events_of: impl FnMut(usize) -> Vec<PreciseInput>,
    i_stim: f64,
) -> Vec<f64> {
    let mut times = Vec::new();
    let mut spikes = Vec::new();
    for k in 0..steps {
        spikes.clear();
        neuron.update(0, &events_of(k), i_stim, &mut spikes);
        times.extend(spikes.iter().map(|o| (k + 1) as f64 * H - o));
    }
    times
}

/// Constant drive from rest: V(t) = E_L + I·τ/C·(1 − e^(−t/τ)) crosses V_th at
/// t* = −τ·ln(1 − (V_th − E_L)·C/(I·τ)); after each spike the neuron restarts at V_reset = E_L
/// exactly n_ref·h later, so spikes are periodic with period n_ref·h + t*.
#[test]
fn dc_driven_spike_times_are_exact() {
    let params = IafPscExpPsParams { i_e: 500.0, ..Default::default() };
    let p = params;
    let mut neuron = IafPscExpPs::new(params, 1, H).unwrap();
    assert_eq!(neuron.refractory_steps(), 20);
    let times = run_steps(&mut neuron, 1000, |_| Vec::new(), 0.0);

    let first = -p.tau_m * (1.0 - (p.v_th - p.e_l) * p.c_m / (p.i_e * p.tau_m)).ln();
    let period = 20.0 * H + first;
    assert!(times.len() >= 5);
    for (n, t) in times.iter().enumerate() {
        let exact = first + n as f64 * period;
        assert!((t - exact).abs() < 1e-11, "spike {n}: {t} vs {exact}");
    }
    assert_eq!(neuron.threshold_search_failures(), 0);
}

/// The same drive given as injected current instead of I_e.
#[test]
fn injected_current_acts_like_bias_current() {
    let mut by_bias = IafPscExpPs::new(IafPscExpPsParams { i_e: 500.0, ..Default::default() }, 1, H).unwrap();
    let mut by_stim = IafPscExpPs::new(IafPscExpPsParams::default(), 1, H).unwrap();
    let a = run_steps(&mut by_bias, 300, |_| Vec::new(), 0.0);
    let b = run_steps(&mut by_stim, 300, |_| Vec::new(), 500.0);
    assert_eq!(a, b);
}

/// One excitatory input of weight w at time s, tau_syn = tau_m = τ (the singular propagator):
/// V(t) = E_L + w·(t − s)/C·e^(−(t−s)/τ). With tau_syn ≠ tau_m:
/// V(t) = E_L + w·τs·τm/(C·(τm − τs))·(e^(−(t−s)/τm) − e^(−(t−s)/τs)).
#[test]
fn single_input_response_matches_closed_form() {
    for tau_syn in [10.0, 2.0] {
        let params = IafPscExpPsParams { tau_syn_ex: tau_syn, ..Default::default() };
        let p = params;
        let mut neuron = IafPscExpPs::new(params, 1, H).unwrap();
        let w = 100.0;
        let (arrival_step, offset) = (12, 0.037); // s = 1.3 − 0.037 ms
        let s = 1.3 - offset;
        let mut spikes = Vec::new();
        for k in 0..400 {
            let events = if k == arrival_step { vec![PreciseInput { offset, weight: w }] } else { Vec::new() };
            neuron.update(0, &events, 0.0, &mut spikes);
            let t = (k + 1) as f64 * H;
            let expected = if t < s {
                p.e_l
            } else if tau_syn == p.tau_m {
                p.e_l + w * (t - s) / p.c_m * (-(t - s) / p.tau_m).exp()
            } else {
                p.e_l
                    + w * tau_syn * p.tau_m / (p.c_m * (p.tau_m - tau_syn))
                        * ((-(t - s) / p.tau_m).exp() - (-(t - s) / tau_syn).exp())
            };
            assert!(
                (neuron.v_m(0) - expected).abs() < 1e-12,
                "tau_syn {tau_syn}, t {t}: {} vs {expected}",
                neuron.v_m(0)
            );
            let current = if t < s { 0.0 } else { w * (-(t - s) / tau_syn).exp() };
            assert!((neuron.i_syn_ex(0) - current).abs() < 1e-10);
        }
        assert!(spikes.is_empty());
    }
}

/// An input at offset 0 arrives at the end of its step: it shows in the end-of-step state as a
/// current jump, with no effect on V_m yet.
#[test]
fn input_at_offset_zero_shows_at_end_of_step() {
    let mut neuron = IafPscExpPs::new(IafPscExpPsParams::default(), 1, H).unwrap();
    let mut spikes = Vec::new();
    neuron.update(
        0,
        &[PreciseInput { offset: 0.0, weight: 50.0 }, PreciseInput { offset: 0.0, weight: -20.0 }],
        0.0,
        &mut spikes,
    );
    assert_eq!(neuron.i_syn_ex(0), 50.0);
    assert_eq!(neuron.i_syn_in(0), -20.0);
    assert_eq!(neuron.v_m(0), -70.0);
}

/// V_m clamped at V_reset for exactly n_ref·h of continuous time after the spike; an input that
/// arrives at the very instant of release acts on a released neuron (release comes first), and
/// inputs during refractoriness still charge the synaptic current.
#[test]
fn refractoriness_lasts_t_ref_in_continuous_time() {
    let params = IafPscExpPsParams { e_l: 0.0, v_th: 10.0, v_reset: 0.0, t_ref: 1.0, ..Default::default() };
    let mut neuron = IafPscExpPs::new(params, 1, H).unwrap();
    neuron.set_v_m(0, 20.0).unwrap(); // superthreshold: spikes at the start of its next step
    let mut spikes = Vec::new();
    neuron.update(0, &[], 0.0, &mut spikes);
    assert_eq!(spikes, vec![H * (1.0 - f64::EPSILON)]);
    assert!(neuron.is_refractory(0));
    assert_eq!(neuron.v_m(0), 0.0);

    // Input during refractoriness: current grows, V_m stays at reset.
    spikes.clear();
    neuron.update(0, &[PreciseInput { offset: 0.05, weight: 100.0 }], 0.0, &mut spikes);
    assert_eq!(neuron.v_m(0), 0.0);
    assert!(neuron.i_syn_ex(0) > 0.0);
    for _ in 2..10 {
        neuron.update(0, &[], 0.0, &mut spikes);
        assert_eq!(neuron.v_m(0), 0.0);
        assert!(neuron.is_refractory(0));
    }
    // Step 10 holds the release, at the spike's offset h·(1 − ε), i.e. 1 ms after the spike
    // at ε·h past 0 ms: V_m integrates the synaptic current over the rest of that step.
    neuron.update(0, &[], 0.0, &mut spikes);
    assert!(!neuron.is_refractory(0));
    assert!(neuron.v_m(0) > 0.0);
    assert!(spikes.is_empty());
}

/// NEST bounds V_m by V_min in event-free steps only (`iaf_psc_exp_ps::update` clamps in that
/// branch, `propagate_` does not): a step with an input lets V_m go below V_min.
#[test]
fn v_min_bounds_the_membrane_potential_in_event_free_steps() {
    let params = IafPscExpPsParams { v_min: -72.0, ..Default::default() };
    let mut neuron = IafPscExpPs::new(params, 1, H).unwrap();
    neuron.set_i_syn_in(0, -5000.0).unwrap();
    let mut spikes = Vec::new();
    let mut lowest = f64::INFINITY;
    for _ in 0..100 {
        neuron.update(0, &[], 0.0, &mut spikes);
        lowest = lowest.min(neuron.v_m(0));
    }
    assert_eq!(lowest, -72.0);

    neuron.set_v_m(0, -71.9).unwrap();
    neuron.set_i_syn_in(0, -5000.0).unwrap();
    let no_op_input = PreciseInput { offset: 0.05, weight: 0.0 };
    neuron.update(0, &[no_op_input], 0.0, &mut spikes);
    assert!(neuron.v_m(0) < -72.0, "{}", neuron.v_m(0));
}

// ------------------------------------------------------------------------------------------------
// Parameters, initial state, construction.

#[test]
fn defaults_are_nests() {
    let p = IafPscExpPsParams::default();
    assert_eq!((p.c_m, p.tau_m, p.tau_syn_ex, p.tau_syn_in, p.t_ref), (250.0, 10.0, 2.0, 2.0, 2.0));
    assert_eq!((p.e_l, p.i_e, p.v_th, p.v_reset, p.v_min), (-70.0, 0.0, -55.0, -70.0, f64::NEG_INFINITY));
    p.validate().unwrap();
    let s = IafPscExpPsInitialState::default();
    assert_eq!((s.v_m, s.i_syn_ex, s.i_syn_in), (-70.0, 0.0, 0.0));
    let neuron = IafPscExpPs::new(p, 3, H).unwrap();
    assert_eq!(neuron.len(), 3);
    assert_eq!(neuron.v_m(2), -70.0);
}

#[test]
fn params_use_nest_names_and_reject_unknown_fields() {
    let p: IafPscExpPsParams = serde_json::from_str(r#"{"C_m": 200.0, "E_L": -65.0, "V_min": null}"#).unwrap();
    assert_eq!((p.c_m, p.e_l, p.v_min), (200.0, -65.0, f64::NEG_INFINITY));
    assert_eq!(p.tau_m, 10.0);
    let p: IafPscExpPsParams = serde_json::from_str(r#"{"V_min": -80.0}"#).unwrap();
    assert_eq!(p.v_min, -80.0);

    assert!(serde_json::from_str::<IafPscExpPsParams>(r#"{"c_m": 200.0}"#).is_err());
    assert!(serde_json::from_str::<IafPscExpPsParams>(r#"{"V_m": -70.0}"#).is_err());
    assert!(serde_json::from_str::<IafPscExpPsInitialState>(r#"{"V_m": -60.0, "x": 1}"#).is_err());

    // -inf goes out as null and comes back.
    let json = serde_json::to_string(&IafPscExpPsParams::default()).unwrap();
    assert!(json.contains(r#""V_min":null"#) && json.contains(r#""tau_syn_ex":2.0"#));
    let back: IafPscExpPsParams = serde_json::from_str(&json).unwrap();
    assert_eq!(back, IafPscExpPsParams::default());
}

#[test]
fn invalid_parameters_name_the_field() {
    let field_of = |p: IafPscExpPsParams| p.validate().unwrap_err().field;
    let d = IafPscExpPsParams::default();
    assert_eq!(field_of(IafPscExpPsParams { c_m: 0.0, ..d }), "C_m");
    assert_eq!(field_of(IafPscExpPsParams { tau_m: -1.0, ..d }), "tau_m");
    assert_eq!(field_of(IafPscExpPsParams { tau_syn_in: f64::NAN, ..d }), "tau_syn_in");
    assert_eq!(field_of(IafPscExpPsParams { v_reset: -55.0, ..d }), "V_reset");
    assert_eq!(field_of(IafPscExpPsParams { v_min: -60.0, ..d }), "V_min");
    assert_eq!(field_of(IafPscExpPsParams { v_min: f64::NAN, ..d }), "V_min");
    assert_eq!(field_of(IafPscExpPsParams { i_e: f64::INFINITY, ..d }), "I_e");

    let t_ref_error = IafPscExpPs::new(IafPscExpPsParams { t_ref: 1e-12, ..d }, 1, H).unwrap_err();
    assert_eq!(t_ref_error.field, "t_ref");
    assert!(IafPscExpPs::new(d, 1, 0.0).is_err());

    let mut neuron = IafPscExpPs::new(d, 1, H).unwrap();
    assert_eq!(neuron.set_v_m(0, f64::NAN).unwrap_err().field, "V_m");
}

#[test]
fn refractory_steps_round_up_like_nest() {
    let steps = |t_ref: f64| {
        IafPscExpPs::new(IafPscExpPsParams { t_ref, ..Default::default() }, 1, H).unwrap().refractory_steps()
    };
    assert_eq!(steps(2.0), 20);
    assert_eq!(steps(0.3), 3); // 0.3/0.1 = 2.9999999999999996
    assert_eq!(steps(0.7), 7); // 0.7/0.1 = 6.999999999999999
    assert_eq!(steps(2.05), 21);
    assert_eq!(steps(0.05), 1);
}

#[test]
fn recordables_are_listed_and_resolvable() {
    let mut neuron = IafPscExpPs::new(IafPscExpPsParams::default(), 2, H).unwrap();
    neuron.set_initial_state(1, &IafPscExpPsInitialState { v_m: -60.0, i_syn_ex: 3.0, i_syn_in: -4.0 }).unwrap();
    let expected = [-60.0, 3.0, -4.0];
    for ((name, unit), value) in RECORDABLES.iter().zip(expected) {
        let get = IafPscExpPs::recordable(name).expect(name);
        assert_eq!(get(&neuron, 1), value, "{name} ({unit})");
    }
    assert!(IafPscExpPs::recordable("g_ex").is_none());
}
