//! `astro_normalized_synapse`, `tsodyks_astro_synapse` and `hebbian_synapse`
//! (`laminar_models::glia_synapses`): exact event updates against hand computations, the
//! measured effects the models exist for (release-probability and paired-pulse shifts by
//! gliotransmission, the mean Hebbian drift η·τ₊·τ₋·r_pre·r_post with Poisson trains), learning
//! windows, bounds and parameter validation, and one run through the engine.
//!
//! The synapse groups are driven as the engine drives them (`laminar_engine::synapse`): one
//! `transmit` call per presynaptic spike and row, in time order, with the postsynaptic history
//! holding every postsynaptic spike up to `t_spike − d` (later entries are never read: the
//! history's queries are bounded by `t_spike − d`, so a test may archive a whole train first).
//! The divisive-normalisation criterion with Poisson inputs through the engine is
//! `crates/cli/tests/normalization.rs`.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use laminar_engine::rng::stream_for;
use laminar_engine::{
    Dist, ExplicitEdge, NetworkBuilder, NullObserver, PostHistory, Projection, Resolution, Rule, SynapseDynamics,
    SynapseFactory, SynapseModel, Transmission,
};
use laminar_models::glia_synapses::{AstroNormalizedFactory, AstroNormalizedParams, TsodyksAstroFactory};
use laminar_models::registry;
use rand::RngExt;
use serde_json::{Map, Value, json};

fn params(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn factory(model: &str, p: Value) -> Arc<dyn SynapseFactory> {
    registry::synapse_factory(model, &params(p)).unwrap_or_else(|e| panic!("{model}: {e}")).expect("a synapse model")
}

fn factory_error(model: &str, p: Value) -> String {
    match registry::synapse_factory(model, &params(p)) {
        Ok(_) => panic!("{model}: accepted invalid parameters"),
        Err(e) => e,
    }
}

/// Every parameter set is refused with a message containing its text.
fn assert_refused(model: &str, cases: &[(Value, &str)]) {
    for (p, text) in cases {
        let e = factory_error(model, p.clone());
        assert!(e.contains(text), "{model} {p}: {e}");
    }
}

/// The synapses of a group: per synapse its target and dendritic delay; rows are given per call.
struct Group {
    targets: Vec<u32>,
    delays_ms: Vec<f64>,
}

impl Group {
    fn new(targets: Vec<u32>, delay_ms: f64) -> Self {
        let n = targets.len();
        Self { targets, delays_ms: vec![delay_ms; n] }
    }

    /// One transmission of the row `synapses` at `t`; returns the transmitted weights.
    fn transmit(
        &self,
        d: &mut dyn SynapseDynamics,
        t: f64,
        synapses: Range<usize>,
        history: Option<&PostHistory>,
        learning: bool,
    ) -> Vec<f64> {
        let mut w = vec![0.0; synapses.len()];
        let tx = Transmission {
            t_spike: t,
            source: synapses.start as u64,
            synapses,
            targets: &self.targets,
            delays_ms: &self.delays_ms,
            history,
            learning,
        };
        d.transmit(&tx, &mut w);
        w
    }
}

/// A Poisson train of `rate_hz` on [0, t_max) ms on the grid of 0.1 ms (as the engine stamps).
fn poisson(rate_hz: f64, t_max: f64, seed: u64, id: u64) -> Vec<f64> {
    let mut rng = stream_for(seed, "test:poisson", id);
    let mut t = 0.0;
    let mut out = Vec::new();
    loop {
        t += -(1.0 - rng.random::<f64>()).ln() / (rate_hz / 1000.0);
        if t >= t_max {
            return out;
        }
        let stamped = ((t / 0.1).floor() + 1.0) * 0.1;
        out.push(stamped);
    }
}

// ---------------------------------------------------------------- astro_normalized_synapse

#[test]
fn normalized_synapse_divides_by_the_domain_state_after_the_jump() {
    let (tau, eps, g) = (200.0, 2.0, 0.5);
    let f = AstroNormalizedFactory {
        params: AstroNormalizedParams { tau_astro: tau, epsilon: eps, g, ..Default::default() },
    };
    // Synapses 0 and 1 onto target 0 (one domain), synapse 2 onto target 1 (another domain).
    let group = Group::new(vec![0, 0, 1], 1.0);
    let mut d = f.build_group(vec![10.0, 20.0, 30.0], 2).expect("build");
    let (mut a0, mut last) = (0.0, 0.0);
    for (t, j, w) in [(5.0, 0, 10.0), (5.0, 1, 20.0), (30.0, 0, 10.0), (250.0, 1, 20.0)] {
        a0 = a0 * (-(t - last) / tau).exp() + g;
        last = t;
        let got = group.transmit(&mut d, t, j..j + 1, None, true);
        assert!((got[0] - w / (eps + a0)).abs() < 1e-14, "t = {t}: {} vs {}", got[0], w / (eps + a0));
        assert!((d.domain_state(0) - a0).abs() < 1e-14);
    }
    // The other domain never saw these spikes.
    assert_eq!(d.domain_state(1), 0.0);
    let got = group.transmit(&mut d, 300.0, 2..3, None, true);
    assert!((got[0] - 30.0 / (eps + g)).abs() < 1e-14);
    // Weights are never changed; the process weights stay constant without eta_g.
    assert_eq!((d.weight(0), d.weight(1), d.weight(2)), (10.0, 20.0, 30.0));
    assert_eq!(d.process_weight(0), g);
}

#[test]
fn process_weights_grow_only_in_learning_windows_and_are_bounded() {
    let f = AstroNormalizedFactory {
        params: AstroNormalizedParams {
            eta_g: 0.25,
            g_max: 2.0,
            g: 0.5,
            g_mode: laminar_models::glia_synapses::ProcessWeight::Weight,
            ..Default::default()
        },
    };
    let group = Group::new(vec![0, 0], 1.0);
    let mut d = f.build_group(vec![2.0, -1.0], 1).expect("build");
    // g_mode = "weight": g_j = g·|w_j|.
    assert_eq!((d.process_weight(0), d.process_weight(1)), (1.0, 0.5));
    group.transmit(&mut d, 1.0, 0..1, None, false);
    assert_eq!(d.process_weight(0), 1.0, "frozen outside learning windows");
    // The jump uses g_j before this spike's growth.
    let a_before = d.domain_state(0);
    group.transmit(&mut d, 1.0, 0..1, None, true);
    assert!((d.domain_state(0) - a_before - 1.0).abs() < 1e-14);
    assert_eq!(d.process_weight(0), 1.25);
    for k in 0..10 {
        group.transmit(&mut d, 2.0 + k as f64, 0..1, None, true);
    }
    assert_eq!(d.process_weight(0), 2.0, "bounded by g_max");
    assert_eq!(d.process_weight(1), 0.5, "only the spiking synapse's process grows");
    // A process weight above g_max is refused.
    let e = f.build_group(vec![10.0], 1).expect_err("g·|w| > g_max");
    assert!(e.contains("g_max"), "{e}");
}

#[test]
fn normalized_synapse_validation_names_the_field() {
    assert_refused(
        "astro_normalized_synapse",
        &[
            (json!({ "epsilon": 0.0 }), "epsilon"),
            (json!({ "tau_astro": -1.0 }), "tau_astro"),
            (json!({ "g": 20.0 }), "g = 20"),
            (json!({ "eta_g": -0.1 }), "eta_g"),
            (json!({ "A": -1.0 }), "A = -1"),
            (json!({ "g_mode": "drawn" }), "unknown variant"),
            (json!({ "tau": 1.0 }), "unknown field `tau`"),
        ],
    );
}

// ---------------------------------------------------------------- tsodyks_astro_synapse

#[test]
fn without_gliotransmission_the_tripartite_synapse_is_tsodyks_synapse() {
    let release = json!({ "U": 0.3, "tau_rec": 400.0, "tau_fac": 200.0, "tau_psc": 3.0 });
    let plain = factory("tsodyks_synapse", release.clone());
    let mut astro_params = release.clone();
    astro_params["Ca_per_release"] = json!(0.0);
    let astro = factory("tsodyks_astro_synapse", astro_params);
    let group = Group::new(vec![0, 0], 1.0);
    let mut a = plain.build(vec![50.0, 80.0], &group.targets, 1).expect("build");
    let mut b = astro.build(vec![50.0, 80.0], &group.targets, 1).expect("build");
    for (k, t) in poisson(40.0, 2000.0, 3, 0).into_iter().enumerate() {
        let row = (k % 2)..(k % 2 + 1);
        let (x, y) =
            (group.transmit(a.as_mut(), t, row.clone(), None, true), group.transmit(b.as_mut(), t, row, None, true));
        assert_eq!(x, y, "t = {t}");
    }
}

/// Release of a probe synapse (full resources, silent so far) to a pair of spikes 50 ms apart,
/// 500 ms after `drivers` other synapses of its domain fired at 20 Hz for one second.
struct PairedPulse {
    first: f64,
    ppr: f64,
    gamma: f64,
    releases: u64,
}

fn paired_pulse(release: &Value, alpha: f64, ca_per_release: f64, drivers: usize) -> PairedPulse {
    let mut p = release.clone();
    p["alpha"] = json!(alpha);
    p["Ca_per_release"] = json!(ca_per_release);
    let f = TsodyksAstroFactory::from_json(&params(p)).expect("parameters");
    let group = Group::new(vec![0; drivers + 1], 1.0);
    let mut d = f.build_group(vec![1.0; drivers + 1], 1);
    for step in 0..20 {
        for s in 1..=drivers {
            let t = 1.0 + 50.0 * step as f64 + 50.0 * s as f64 / drivers as f64;
            group.transmit(&mut d, t, s..s + 1, None, true);
        }
    }
    let first = group.transmit(&mut d, 1500.0, 0..1, None, true)[0];
    let gamma = d.domain(0).gamma;
    let second = group.transmit(&mut d, 1550.0, 0..1, None, true)[0];
    PairedPulse { first, ppr: second / first, gamma, releases: d.domain(0).releases }
}

#[test]
fn gliotransmission_shifts_release_and_paired_pulse_ratio_as_alpha_dictates() {
    let synapses = [
        ("depressing", json!({ "U": 0.5, "tau_rec": 800.0, "tau_fac": 0.0, "tau_psc": 3.0 }), 0.5),
        ("facilitating", json!({ "U": 0.15, "tau_rec": 100.0, "tau_fac": 1000.0, "tau_psc": 3.0 }), 0.15),
    ];
    for (kind, release, u) in synapses {
        let control = paired_pulse(&release, 0.0, 0.0, 10);
        assert_eq!(control.releases, 0);
        assert!((control.first - u).abs() < 1e-12, "{kind}: without the astrocyte the first release is U");
        for alpha in [0.0, 1.0] {
            let glia = paired_pulse(&release, alpha, 0.05, 10);
            eprintln!(
                "{kind}, alpha = {alpha}: gliotransmitter releases {}, Gamma {:.3}, first release {:.4} (control {:.4}), \
                 PPR {:.4} (control {:.4})",
                glia.releases, glia.gamma, glia.first, control.first, glia.ppr, control.ppr
            );
            assert!(glia.releases >= 1, "{kind}: C crosses C_Theta while the drivers fire");
            // One release with full resources binds 1 − exp(−O_G·ρ_e·G_T·U_A·τ_e) of the receptors
            // (less the unbinding over ~1 s, τ_G = 2 min); a second one binds more.
            let one = 1.0 - (-1.5e-3 * 6.5e-4 * 200_000.0 * 0.6 * (1000.0 / 60.0_f64)).exp();
            assert!(glia.gamma > 0.98 * one && glia.gamma < 1.0, "{kind}: Gamma = {}", glia.gamma);
            // The first release of a rested synapse is U₀* = (1 − Γ)·U + α·Γ.
            let u0 = (1.0 - glia.gamma) * u + alpha * glia.gamma;
            assert!((glia.first - u0).abs() < 1e-12, "{kind}: {} vs U0* = {u0}", glia.first);
            if alpha > u {
                assert!(
                    glia.first > control.first && glia.ppr < control.ppr,
                    "{kind}: alpha > U must facilitate release"
                );
            } else {
                assert!(glia.first < control.first && glia.ppr > control.ppr, "{kind}: alpha < U must depress release");
            }
        }
        // Drive too weak to reach C_Theta: no gliotransmission, no shift.
        let weak = paired_pulse(&release, 1.0, 0.05, 1);
        assert_eq!(weak.releases, 0, "{kind}: one driver stays below threshold");
        assert_eq!((weak.first, weak.ppr), (control.first, control.ppr));
    }
}

#[test]
fn tripartite_synapse_validation_names_the_field() {
    assert_refused(
        "tsodyks_astro_synapse",
        &[
            (json!({ "alpha": 1.5 }), "alpha = 1.5"),
            (json!({ "U": -0.1 }), "U = -0.1"),
            (json!({ "tau_Ca": 0.0 }), "tau_Ca"),
            (json!({ "C_Theta": -1.0 }), "C_Theta"),
            (json!({ "Gamma": 2.0 }), "Gamma"),
            (json!({ "tau_psc": 800.0 }), "tau_psc"),
        ],
    );
    // An unknown name lists every accepted one, the release parameters included (model files
    // turn this into "known: ..." with a suggestion).
    let e = factory_error("tsodyks_astro_synapse", json!({ "U": 0.5, "C_theta": 0.4 }));
    assert!(e.starts_with("unknown field `C_theta`, expected one of `U`,"), "{e}");
    assert!(e.contains("`tau_rec`") && e.contains("`C_Theta`") && e.contains("`alpha`"), "{e}");
}

// ---------------------------------------------------------------- hebbian_synapse

#[test]
fn hebbian_pairs_follow_the_product_rule() {
    let (eta, tp, tm, d) = (0.5, 10.0, 30.0, 1.0);
    let f = factory("hebbian_synapse", json!({ "eta": eta, "tau_plus": tp, "tau_minus": tm, "Wmax": 1000.0 }));
    assert_eq!(f.post_history(), Some(tm));
    let group = Group::new(vec![0], d);
    let mut syn = f.build(vec![5.0], &group.targets, 1).expect("build");
    let mut history = PostHistory::new(1, tm);
    for t in [12.0, 15.0] {
        history.record(0, t);
    }
    let tau_c = tp * tm / (tp + tm);
    // Pre at 10: the post spikes at 12 and 15 (seen at 13 and 16 through d) come after it.
    let w = group.transmit(syn.as_mut(), 10.0, 0..1, Some(&history), true)[0];
    assert_eq!(w, 5.0, "no pair yet");
    // Pre at 40: pre-before-post pairs (10 → 13, 10 → 16), then post-before-pre (13, 16 → 40).
    let w = group.transmit(syn.as_mut(), 40.0, 0..1, Some(&history), true)[0];
    let pre_post = (-3.0 / tp).exp() + (-6.0 / tp).exp();
    let post_pre = (-27.0 / tm).exp() + (-24.0 / tm).exp();
    let expected = 5.0 + eta * tau_c * (pre_post + post_pre);
    assert!((w - expected).abs() < 1e-12, "{w} vs {expected}");
    assert_eq!(syn.weight(0), w);
}

#[test]
fn hebbian_mean_drift_is_eta_tau_plus_tau_minus_r_pre_r_post() {
    let t_max = 4_000_000.0;
    let eta = 1e-3;
    for (case, (r_pre, r_post, tp, tm)) in
        [(20.0, 10.0, 20.0, 20.0), (5.0, 40.0, 10.0, 30.0), (30.0, 30.0, 40.0, 15.0)].into_iter().enumerate()
    {
        let f = factory(
            "hebbian_synapse",
            json!({ "eta": eta, "tau_plus": tp, "tau_minus": tm, "Wmin": -1.0, "Wmax": 1.0e9 }),
        );
        let group = Group::new(vec![0], 1.5);
        let mut syn = f.build(vec![0.0], &group.targets, 1).expect("build");
        let mut history = PostHistory::new(1, tm);
        let (post, pre) = (poisson(r_post, t_max, 11, case as u64), poisson(r_pre, t_max, 12, case as u64));
        for &t in &post {
            history.record(0, t);
        }
        for &t in &pre {
            group.transmit(syn.as_mut(), t, 0..1, Some(&history), true);
        }
        // The trains' own rates (their counts fluctuate by ~0.5 % around the nominal rates).
        let (r_pre_ms, r_post_ms) = (pre.len() as f64 / t_max, post.len() as f64 / t_max);
        let expected = eta * tp * tm * r_pre_ms * r_post_ms * t_max;
        let got = syn.weight(0);
        eprintln!(
            "r_pre {:.3} Hz, r_post {:.3} Hz, tau+ {tp}, tau- {tm}: drift {got:.2} over {} s, \
             eta*tau+*tau-*r_pre*r_post*T = {expected:.2} ({:+.2}%)",
            1000.0 * r_pre_ms,
            1000.0 * r_post_ms,
            t_max / 1000.0,
            100.0 * (got / expected - 1.0)
        );
        assert!((got / expected - 1.0).abs() < 0.02, "case {case}: drift {got} vs {expected}");
    }
}

#[test]
fn hebbian_weights_freeze_outside_learning_windows_and_respect_bounds() {
    let f = factory("hebbian_synapse", json!({ "eta": 1.0, "Wmin": 1.0, "Wmax": 3.0 }));
    let group = Group::new(vec![0], 1.0);
    let mut syn = f.build(vec![2.0], &group.targets, 1).expect("build");
    let mut history = PostHistory::new(1, 20.0);
    for t in [5.0, 8.0, 20.0, 25.0] {
        history.record(0, t);
    }
    assert_eq!(group.transmit(syn.as_mut(), 10.0, 0..1, Some(&history), false)[0], 2.0);
    assert_eq!(group.transmit(syn.as_mut(), 12.0, 0..1, Some(&history), false)[0], 2.0);
    assert_eq!(syn.weight(0), 2.0);
    // With learning on, the pairs push the weight to Wmax (η·τ_c = 10 per pair), not beyond.
    assert_eq!(group.transmit(syn.as_mut(), 30.0, 0..1, Some(&history), true)[0], 3.0);
    let anti = factory("hebbian_synapse", json!({ "eta": -1.0, "Wmin": 1.0, "Wmax": 3.0 }));
    let mut syn = anti.build(vec![2.0], &group.targets, 1).expect("build");
    assert_eq!(group.transmit(syn.as_mut(), 30.0, 0..1, Some(&history), true)[0], 1.0, "anti-Hebbian to Wmin");
    let e = f.build(vec![5.0], &group.targets, 1).err().expect("weight above Wmax");
    assert!(e.contains("Wmax"), "{e}");
    assert_refused(
        "hebbian_synapse",
        &[
            (json!({ "tau_plus": 0.0 }), "tau_plus"),
            (json!({ "Wmin": 5.0, "Wmax": 1.0 }), "Wmin = 5"),
            (json!({ "tau_minus": -5.0 }), "tau_minus"),
        ],
    );
}

/// Through the engine: a write phase (learning on) changes the weights, a read phase (learning
/// off) leaves them as they were.
#[test]
fn hebbian_write_then_read_through_the_engine() {
    let mut b = NetworkBuilder::new(Resolution::new(0.1).unwrap(), 5);
    let parrot = registry::population_factory("parrot_neuron", &Map::new(), 4).unwrap();
    let pre = b.add_population("pre", 4, Arc::clone(&parrot));
    let post = b.add_population("post", 4, parrot);
    let poisson = registry::stimulus_factory("poisson_generator", &params(json!({ "rate": 50.0 }))).unwrap();
    for (name, pop) in [("pre_drive", pre), ("post_drive", post)] {
        b.add_device(laminar_engine::DeviceEntry {
            name: name.into(),
            factory: Arc::clone(&poisson),
            population: pop,
            targets: (0..4).collect(),
            weight: 1.0,
            delay_ms: 0.1,
            receptor: None,
        });
    }
    let edges: Vec<ExplicitEdge> =
        (0..4).map(|i| ExplicitEdge { source: i, target: i, weight: 1.0, delay_ms: 1.0 }).collect();
    let mut p =
        Projection::new("pre->post", pre, post, Rule::Explicit(edges), Dist::Constant(1.0), Dist::Constant(1.0));
    p.receptor = Some(1); // the parrot's silent port: post fires with its own train only
    p.synapse = Some(SynapseModel(factory("hebbian_synapse", json!({ "eta": 0.01, "Wmax": 1000.0 }))));
    p.learning_windows = vec![(0.0, 1000.0)];
    b.add_projection(p);
    let mut sim = b.build(2).expect("build");
    let stop = AtomicBool::new(false);
    sim.run(10_000, &mut NullObserver, &stop).expect("write phase");
    let written: Vec<f64> = sim.synapse_weights(0).iter().map(|w| w.2).collect();
    assert!(written.iter().all(|&w| w > 1.0), "the write phase potentiates: {written:?}");
    sim.run(20_000, &mut NullObserver, &stop).expect("read phase");
    let read: Vec<f64> = sim.synapse_weights(0).iter().map(|w| w.2).collect();
    // The last transmissions of the write phase may be delivered just after 1000 ms, but with
    // the spike's own time stamp, which lies inside the window.
    assert_eq!(written, read, "the read phase leaves the weights unchanged");
}

// ---------------------------------------------------------------- hebbian_astro_synapse

/// `hebbian_astro_synapse` is `hebbian_synapse`'s weight divided by `astro_normalized_synapse`'s
/// domain, spike for spike: three presynaptic Poisson trains onto two targets (one domain each),
/// through a learning window, with the transmission factor inside it and the clamp as a control.
#[test]
fn hebbian_astro_is_the_hebbian_weight_over_the_astrocyte_domain() {
    let (tau_minus, d) = (20.0, 1.0);
    let hebb = json!({ "eta": 0.05, "tau_plus": 15.0, "tau_minus": tau_minus, "Wmax": 50.0 });
    let astro = json!({ "tau_astro": 150.0, "epsilon": 0.5, "g": 0.2, "eta_g": 0.01, "g_max": 3.0 });
    let mut both = hebb.as_object().unwrap().clone();
    both.extend(astro.as_object().unwrap().clone());
    both.insert("learning_transmission".into(), json!(0.25));
    let combined = factory("hebbian_astro_synapse", Value::Object(both.clone()));
    assert_eq!(combined.post_history(), Some(tau_minus));
    // Synapse j = source·2 + target: every source reaches both targets.
    let group = Group { targets: vec![0, 1, 0, 1, 0, 1], delays_ms: vec![d; 6] };
    let weights = vec![1.0, 2.0, 1.5, 0.5, 3.0, 1.0];
    let build = |f: &Arc<dyn SynapseFactory>| f.build(weights.clone(), &group.targets, 2).expect("build");
    let (mut h, mut a, mut c) = (
        build(&factory("hebbian_synapse", hebb)),
        build(&factory("astro_normalized_synapse", astro)),
        build(&combined),
    );
    both.insert("A_clamp".into(), json!(2.0));
    let mut clamped = build(&factory("hebbian_astro_synapse", Value::Object(both)));
    let mut history = PostHistory::new(2, tau_minus);
    for target in 0..2 {
        for t in poisson(40.0, 2000.0, 3, target) {
            history.record(target as usize, t);
        }
    }
    let mut spikes: Vec<(f64, usize)> =
        (0..3).flat_map(|s| poisson(30.0, 2000.0, 4, s).into_iter().map(move |t| (t, s as usize))).collect();
    spikes.sort_by(|x, y| x.partial_cmp(y).unwrap());
    let (mut grew, mut learned) = (false, false);
    for (t, source) in spikes {
        let learning = (200.0..1200.0).contains(&t);
        let row = 2 * source..2 * source + 2;
        let wh = group.transmit(h.as_mut(), t, row.clone(), Some(&history), learning);
        let wa = group.transmit(a.as_mut(), t, row.clone(), None, learning);
        let wc = group.transmit(c.as_mut(), t, row.clone(), Some(&history), learning);
        let wk = group.transmit(clamped.as_mut(), t, row.clone(), Some(&history), learning);
        let factor = if learning { 0.25 } else { 1.0 };
        for k in 0..2 {
            let j = row.start + k;
            // astro_normalized transmits w_j / (ε + A): recover the domain's denominator.
            let denominator = weights[j] / wa[k];
            let expected = factor * wh[k] / denominator;
            assert!(
                (wc[k] - expected).abs() <= 1e-12 * expected.abs(),
                "t = {t}, synapse {j}: {} vs {expected}",
                wc[k]
            );
            assert!((wk[k] - factor * wh[k] / 2.5).abs() <= 1e-12 * wh[k], "clamped: t = {t}, synapse {j}");
            assert_eq!(c.weight(j), h.weight(j));
            learned |= h.weight(j) != weights[j];
            grew |= denominator > 0.5 + 0.2 * 3.0;
        }
    }
    assert!(learned && grew, "the window changed weights ({learned}) and grew processes ({grew})");
}

#[test]
fn hebbian_astro_validation_names_the_field() {
    assert_refused(
        "hebbian_astro_synapse",
        &[
            (json!({ "learning_transmission": 1.5 }), "learning_transmission"),
            (json!({ "A_clamp": -1.0 }), "A_clamp"),
            (json!({ "tau_astro": 0.0 }), "tau_astro"),
            (json!({ "Wmin": 5.0, "Wmax": 1.0 }), "Wmin"),
            (json!({ "epsilon": 0.0 }), "epsilon"),
        ],
    );
}
