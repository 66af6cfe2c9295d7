//! The Potjans & Diesmann (2014) preset: builder statistics and a reduced-scale run.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use laminar_column::{Description, Expanded, add_to_builder, expand, from_toml_document, total_from_probability};
use laminar_engine::{Dist, NetworkBuilder, Observer, Resolution, Rule, SpikeRecord, Step};
use serde_json::Map;

const TYPES: [&str; 8] = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"];

fn preset() -> (Description, f64, f64) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/potjans_diesmann.toml");
    let text = std::fs::read_to_string(&path).expect("models/potjans_diesmann.toml");
    from_toml_document(&text).expect("the preset parses")
}

fn builder(e: &Expanded, seed: u64) -> NetworkBuilder {
    let mut b = NetworkBuilder::new(Resolution::new(0.1).expect("h"), seed);
    add_to_builder(e, &mut b).expect("adds");
    b
}

#[test]
fn preset_defaults_to_full_scale_and_expands_to_the_published_network() {
    let (d, n, k) = preset();
    assert_eq!((n, k), (1.0, 1.0));
    let e = expand(&d, 1.0, 1.0).expect("expands");
    let names: Vec<&str> = e.populations.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, TYPES);
    let total_neurons: usize = e.populations.iter().map(|p| p.size).sum();
    assert_eq!(total_neurons, 77_169);
    // Every pair with C > 0 gets a projection: 64 minus the 9 zeros of the PD14 table.
    let zero_pairs = 64 - e.projections.len();
    assert_eq!(zero_pairs, 9, "pairs with C = 0 in the PD14 table");
    let total: u64 = e
        .projections
        .iter()
        .map(|p| match p.rule {
            Rule::FixedTotalNumber { n } => n,
            _ => panic!("PD14 uses fixed total numbers"),
        })
        .sum();
    // About 2.99e8 synapses at full scale (pd14.json, NEST's example).
    assert!((2.95e8..3.05e8).contains(&(total as f64)), "{total} synapses");
    // No DC at full scale; Poisson background with rate 8 Hz * K_ext.
    assert!(e.populations.iter().all(|p| !p.params.contains_key("I_e")));
    assert_eq!(e.devices.len(), 8);
    let l23e = &e.devices[0];
    assert_eq!((l23e.target.as_str(), l23e.params["rate"].as_f64()), ("L23E", Some(8.0 * 1600.0)));
    assert_eq!(l23e.weight, 87.81);
    // Weights: excitatory 87.81 pA, inhibitory -4x, L4E->L23E doubled; sd 10% of |mean|.
    let proj = |name: &str| e.projections.iter().find(|p| p.name == name).expect(name);
    assert_eq!(proj("L23E->L23E").weight, Dist::Normal { mean: 87.81, std: 8.781 });
    let w = proj("L4E->L23E").weight;
    assert!(matches!(w, Dist::Normal { mean, std } if (mean - 175.62).abs() < 1e-9 && (std - 17.562).abs() < 1e-9));
    let w = proj("L23I->L4E").weight;
    assert!(matches!(w, Dist::Normal { mean, std } if (mean + 351.24).abs() < 1e-9 && (std - 35.124).abs() < 1e-9));
    assert_eq!(proj("L23I->L4E").delay, Dist::Normal { mean: 0.75, std: 0.375 });
    assert_eq!(proj("L23E->L4E").delay, Dist::Normal { mean: 1.5, std: 0.75 });
}

#[test]
fn scaling_follows_the_pynest_example() {
    let (d, _, _) = preset();
    let e = expand(&d, 0.1, 0.1).expect("expands");
    let sizes: Vec<usize> = e.populations.iter().map(|p| p.size).collect();
    // round half to even, as numpy: 1065 * 0.1 = 106.5 -> 106.
    assert_eq!(sizes, [2068, 583, 2192, 548, 485, 106, 1440, 295]);
    let full_n = [20683.0, 5834.0, 21915.0, 5479.0, 4850.0, 1065.0, 14395.0, 2948.0];
    let p = e.projections.iter().find(|p| p.name == "L4E->L23E").expect("L4E->L23E");
    let k_full = total_from_probability(0.0437, full_n[2], full_n[0]);
    assert_eq!(p.rule, Rule::FixedTotalNumber { n: (k_full * 0.01).round_ties_even() as u64 });
    // Weights / sqrt(k_scaling).
    let Dist::Normal { mean, std } = p.weight else { panic!("normal") };
    assert!((mean - 175.62 / 0.1f64.sqrt()).abs() < 1e-9 && (std - 0.1 * mean).abs() < 1e-9);
    // Background: round(K_ext * k) in-degrees at 8 Hz, weight / sqrt(k).
    assert_eq!(e.devices[0].params["rate"].as_f64(), Some(8.0 * 160.0));
    assert!((e.devices[0].weight - 87.81 / 0.1f64.sqrt()).abs() < 1e-9);
    // DC compensation for L23E, recomputed by hand from the full-scale table.
    let rates = [0.943, 3.026, 4.368, 5.882, 7.733, 8.664, 1.096, 7.851];
    let c_l23e = [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0];
    let mut input = 87.81 * 1600.0 * 8.0;
    for s in 0..8 {
        let w = 87.81
            * if s % 2 == 1 {
                -4.0
            } else if s == 2 {
                2.0
            } else {
                1.0
            };
        input += w * total_from_probability(c_l23e[s], full_n[s], full_n[0]) / full_n[0] * rates[s];
    }
    let expected = 0.001 * 0.5 * (1.0 - 0.1f64.sqrt()) * input;
    let i_e = e.populations[0].params["I_e"].as_f64().expect("I_e");
    assert!((i_e - expected).abs() < 1e-9 * expected.abs(), "I_e {i_e} vs {expected}");
}

#[test]
fn realised_synapses_match_the_computed_totals() {
    let (d, _, _) = preset();
    let e = expand(&d, 0.1, 0.1).expect("expands");
    let expected: u64 = e
        .projections
        .iter()
        .map(|p| match p.rule {
            Rule::FixedTotalNumber { n } => n,
            _ => 0,
        })
        .sum();
    let sim = builder(&e, 7).build(2).expect("builds");
    assert_eq!(sim.memory().0 as u64, expected);
    let sizes: Vec<usize> = sim.populations().iter().map(|p| p.size).collect();
    assert_eq!(sizes, [2068, 583, 2192, 548, 485, 106, 1440, 295]);
}

#[test]
fn drawn_weights_and_counts_per_projection() {
    // Rebuild single projections with a synapse model that stores its weights (tsodyks), to read
    // back the realised synapses: their number and the weights' mean and sd.
    let (d, _, _) = preset();
    let e = expand(&d, 0.1, 0.1).expect("expands");
    let tsodyks =
        laminar_models::registry::synapse_factory("tsodyks_synapse", &Map::new()).expect("tsodyks").expect("a factory");
    for name in ["L4E->L23E", "L23E->L23E", "L6E->L4I", "L4I->L4E"] {
        let mut one = e.clone();
        one.projections.retain(|p| p.name == name);
        one.devices.clear();
        let p = &one.projections[0];
        let Rule::FixedTotalNumber { n } = p.rule else { panic!("total number") };
        let Dist::Normal { mean, std } = p.weight else { panic!("normal") };
        // The two populations without synapses, then the projection with tsodyks synapses.
        let mut b2 = NetworkBuilder::new(Resolution::new(0.1).expect("h"), 3);
        one.projections.clear();
        add_to_builder(&one, &mut b2).expect("adds");
        let p0 = &e.projections.iter().find(|x| x.name == name).expect("p");
        let mut proj = laminar_engine::Projection::new(
            name,
            b2.population_index(&p0.source).expect("source"),
            b2.population_index(&p0.target).expect("target"),
            p0.rule.clone(),
            p0.weight,
            p0.delay,
        );
        proj.synapse = Some(laminar_engine::SynapseModel(tsodyks.clone()));
        b2.add_projection(proj);
        let sim = b2.build(2).expect("builds");
        let w: Vec<f64> = sim.synapse_weights(0).into_iter().map(|(_, _, w)| w).collect();
        assert_eq!(w.len() as u64, n, "{name}: synapse count");
        let m = w.iter().sum::<f64>() / w.len() as f64;
        let sd = (w.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (w.len() - 1) as f64).sqrt();
        // Sign redraws are negligible at sd = 10% of the mean (a 10-sigma event).
        let se = std / (w.len() as f64).sqrt();
        assert!((m - mean).abs() < 5.0 * se, "{name}: mean {m} vs {mean}");
        assert!((sd - std).abs() < 0.05 * std, "{name}: sd {sd} vs {std}");
        assert!(w.iter().all(|x| x * mean > 0.0), "{name}: a weight changed sign");
    }
}

#[derive(Default)]
struct Counter {
    from_step: Step,
    h: f64,
    counts: Vec<u64>,
}

impl Observer for Counter {
    fn spikes(&mut self, spikes: &[SpikeRecord]) -> Result<(), String> {
        for s in spikes {
            if s.time_ms >= self.from_step as f64 * self.h {
                self.counts[s.population] += 1;
            }
        }
        Ok(())
    }
    fn frame(&mut self, _: usize, _: Step, _: &[f64]) -> Result<(), String> {
        Ok(())
    }
}

/// Per-population rates (Hz) in [500, 1000) ms at n_scaling = k_scaling = 0.1.
fn reduced_rates(seed: u64) -> Vec<f64> {
    let (d, _, _) = preset();
    let e = expand(&d, 0.1, 0.1).expect("expands");
    let mut sim = builder(&e, seed).build(2).expect("builds");
    let mut counter = Counter { from_step: 5000, h: 0.1, counts: vec![0; 8] };
    sim.run(10_000, &mut counter, &AtomicBool::new(false)).expect("runs");
    counter.counts.iter().zip(&e.populations).map(|(c, p)| *c as f64 / p.size as f64 / 0.5).collect()
}

#[test]
#[ignore = "measurement helper: prints the reduced-scale rates for several seeds"]
fn print_reduced_rates() {
    for seed in [1, 2, 3, 4, 5] {
        let t = std::time::Instant::now();
        println!("seed {seed}: {:?} ({:.1} s)", reduced_rates(seed), t.elapsed().as_secs_f64());
    }
}

/// Rates (Hz) in [500, 1000) ms at n_scaling = k_scaling = 0.1, 2 threads: mean and sd over
/// seeds 1..=5, measured with `print_reduced_rates` on this engine (2025, laminar 0.1).
const REDUCED_MEAN: [f64; 8] = [0.389, 1.961, 3.966, 4.918, 6.265, 7.717, 0.819, 6.923];
const REDUCED_SD: [f64; 8] = [0.023, 0.062, 0.065, 0.040, 0.606, 0.064, 0.033, 0.091];
/// One full-scale NEST run (pd14.json, `reference_rates_hz_one_nest_run`).
const FULL_SCALE_NEST: [f64; 8] = [0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829];

#[test]
fn reduced_scale_rates_match_the_established_expectation() {
    // An unseen seed: each rate within max(4 sd, 10 %) of the five-seed mean. The reduced network
    // (10 % of the neurons, 10 % of the in-degrees) with NEST's DC compensation keeps the
    // full-scale ordering of the rates but not their values: stronger weights make its
    // fluctuations and correlations different, and every population fires below its full-scale
    // rate (L23E most, at about 40 %). That is checked too, loosely: 0.3x to 1.2x of NEST's.
    let rates = reduced_rates(11);
    for (i, name) in TYPES.iter().enumerate() {
        let tol = (4.0 * REDUCED_SD[i]).max(0.1 * REDUCED_MEAN[i]);
        assert!(
            (rates[i] - REDUCED_MEAN[i]).abs() < tol,
            "{name}: {:.3} Hz, expected {:.3} ± {tol:.3} (all: {rates:?})",
            rates[i],
            REDUCED_MEAN[i]
        );
        let ratio = rates[i] / FULL_SCALE_NEST[i];
        assert!((0.3..1.2).contains(&ratio), "{name}: {:.3} Hz is {ratio:.2} of the full-scale rate", rates[i]);
    }
}

/// Spikes per population in each of a few time windows (ms, half-open).
struct Windows {
    windows: Vec<(f64, f64)>,
    counts: Vec<Vec<u64>>,
}

impl Observer for Windows {
    fn spikes(&mut self, spikes: &[SpikeRecord]) -> Result<(), String> {
        for s in spikes {
            for (w, &(from, to)) in self.windows.iter().enumerate() {
                if s.time_ms >= from && s.time_ms < to {
                    self.counts[w][s.population] += 1;
                }
            }
        }
        Ok(())
    }
    fn frame(&mut self, _: usize, _: Step, _: &[f64]) -> Result<(), String> {
        Ok(())
    }
}

#[test]
fn the_thalamic_pulse_is_off_by_default_and_drives_l4_when_on() {
    let (mut d, _, _) = preset();
    let off = expand(&d, 0.1, 0.1).expect("expands");
    assert_eq!(off.populations.len(), 8, "the default preset has no thalamus");
    assert!(off.devices.iter().all(|dev| !dev.name.contains("thalamic_pulse")));

    d.thalamus.as_mut().expect("the preset declares the thalamus").enabled = true;
    let on = expand(&d, 0.1, 0.1).expect("expands");
    let tc = on.populations.iter().position(|p| p.name == "TC").expect("a TC population");
    assert_eq!(on.populations[tc].size, 90, "902 relay cells x n_scaling 0.1");
    // The cortex is the same network with or without the pulse: same populations first, same
    // synapse counts, same I_e (the pulse's full_rate_hz is 0, outside the DC compensation).
    for (a, b) in off.populations.iter().zip(&on.populations) {
        assert_eq!((&a.name, a.size, &a.params), (&b.name, b.size, &b.params));
    }
    let targets: Vec<&str> = on.projections.iter().filter(|p| p.source == "TC").map(|p| p.target.as_str()).collect();
    assert_eq!(targets, ["L4E", "L4I", "L6E", "L6I"]);

    // 10 % scale, 800 ms: the relay cells fire only in the pulse (120 Hz, 700-710 ms, arriving
    // after the 1-ms device delay), and L4E and L4I answer within a few ms of its arrival. At this
    // scale each L4E cell gets ~9 relay synapses of 0.15/sqrt(0.1) mV, ~5 mV over the pulse (the
    // DC compensation covers the ongoing input, not a transient): seed 5 measured L4E 3.9 -> 11.7
    // Hz; at full scale the same pulse brings ~17 mV.
    let mut sim = builder(&on, 5).build(2).expect("builds");
    let mut w = Windows {
        windows: vec![(500.0, 700.0), (701.0, 713.0), (713.0, 800.0), (0.0, 700.0)],
        counts: vec![vec![0; on.populations.len()]; 4],
    };
    sim.run(8_000, &mut w, &AtomicBool::new(false)).expect("runs");
    let rate = |win: usize, pop: usize| {
        let (from, to) = w.windows[win];
        w.counts[win][pop] as f64 / on.populations[pop].size as f64 / ((to - from) / 1000.0)
    };
    assert_eq!(w.counts[3][tc], 0, "no relay spikes before the pulse");
    let tc_rate = rate(1, tc) * 12.0 / 10.0; // the 10-ms pulse inside the 12-ms window
    assert!((80.0..160.0).contains(&tc_rate), "relay cells at {tc_rate:.1} Hz during the pulse, expected ~120");
    for name in ["L4E", "L4I"] {
        let i = on.populations.iter().position(|p| p.name == name).expect("population");
        let (before, during) = (rate(0, i), rate(1, i));
        println!("{name}: {before:.2} Hz before the pulse, {during:.2} Hz during");
        assert!(during > 2.0 * before, "{name}: {during:.2} Hz during the pulse against {before:.2} Hz before");
    }
}
