//! NEST 3.10 parity: every shared reference case of laminar's NEST models passes
//! `laminar verify` (the tolerances are those of `data/reference/README.md`), and the network
//! case gives NEST's identical spike list for any thread count.

use std::path::PathBuf;

use laminar_cli::verify;
use laminar_models::Scheduling;

fn case(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/reference/nest").join(format!("{name}.json"))
}

fn check(name: &str, threads: usize) {
    check_scheduled(name, threads, None);
}

fn check_scheduled(name: &str, threads: usize, scheduling: Option<Scheduling>) {
    let result =
        verify::verify_file_with(&case(name), threads, None, scheduling).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    println!("{}", result.report());
    assert!(result.pass(), "{}", result.report());
    // These cases have no spikes in NEST's output (V_th out of reach, or weights compared).
    let compares_spikes = !["tsodyks_synapse", "stdp_synapse", "astrocyte_lr_1994_sic"].contains(&name);
    assert!(result.spikes.expected > 0 || !compares_spikes, "{name}: the case has spikes to compare");
    assert_eq!(result.spikes.expected, result.spikes.got);
}

#[test]
fn iaf_psc_exp() {
    check("iaf_psc_exp", 1);
}

/// The clock-driven `iaf_psc_exp` (NEST's own step, vectorised) passes the same cases: spike
/// trains, DC steps and refractoriness, and the network's identical spike list.
#[test]
fn iaf_psc_exp_clock_driven() {
    check_scheduled("iaf_psc_exp", 1, Some(Scheduling::ClockDriven));
    for threads in [1, 2, 4] {
        check_scheduled("iaf_psc_exp_network", threads, Some(Scheduling::ClockDriven));
    }
}

#[test]
fn iaf_psc_delta() {
    check("iaf_psc_delta", 1);
}

#[test]
fn iaf_cond_exp() {
    check("iaf_cond_exp", 1);
}

#[test]
fn aeif_cond_alpha() {
    check("aeif_cond_alpha", 1);
}

#[test]
fn iaf_psc_exp_ps() {
    check("iaf_psc_exp_ps", 1);
}

#[test]
fn iaf_psc_exp_network_any_thread_count() {
    for threads in [1, 2, 4] {
        check("iaf_psc_exp_network", threads);
    }
}

#[test]
fn tsodyks_synapse() {
    check("tsodyks_synapse", 1);
}

#[test]
fn stdp_synapse_any_thread_count() {
    for threads in [1, 2] {
        check("stdp_synapse", threads);
    }
}

#[test]
fn cm_default_two_compartment() {
    check("cm_default_two_compartment", 1);
}

#[test]
fn astrocyte_lr_1994_sic_any_thread_count() {
    for threads in [1, 2] {
        check("astrocyte_lr_1994_sic", threads);
    }
}

/// `--out` of the compartmental and astrocyte cases: one report per compartment voltage, and the
/// astrocyte's and the neuron's traces under their own populations.
#[test]
fn verify_out_names_reports_per_population() {
    let dir = std::env::temp_dir().join(format!("laminar-verify-glia-{}", std::process::id()));
    for (name, reports) in [
        ("cm_default_two_compartment", vec![("v_comp0.h5", "neuron"), ("v_comp1.h5", "neuron")]),
        (
            "astrocyte_lr_1994_sic",
            vec![
                ("Ca_astro.h5", "astrocyte"),
                ("IP3.h5", "astrocyte"),
                ("h_IP3R.h5", "astrocyte"),
                ("I_SIC.h5", "neuron"),
                ("V_m.h5", "neuron"),
            ],
        ),
    ] {
        let _ = std::fs::remove_dir_all(&dir);
        let r = verify::verify_file(&case(name), 1, Some(&dir)).expect("verify");
        assert!(r.pass(), "{}", r.report());
        for (file, population) in reports {
            let report = laminar_record::read_report(&dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(report.population, population, "{name}: {file}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_supported_case_exists() {
    for name in verify::supported_cases() {
        assert!(case(name).exists(), "missing shared case {name}");
    }
}

#[test]
fn unsupported_cases_are_refused_with_a_reason() {
    let path = std::env::temp_dir().join(format!("laminar-unsupported-{}.json", std::process::id()));
    let text = std::fs::read_to_string(case("iaf_psc_exp")).expect("case");
    std::fs::write(&path, text.replacen("\"iaf_psc_exp\"", "\"hh_psc_alpha\"", 1)).expect("write");
    let err = verify::verify_file(&path, 1, None).expect_err("must be refused");
    std::fs::remove_file(&path).ok();
    assert!(format!("{err:#}").contains("not supported"), "{err:#}");
}

#[test]
fn verify_out_writes_stdp_weights() {
    let dir = std::env::temp_dir().join(format!("laminar-verify-stdp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = verify::verify_file(&case("stdp_synapse"), 1, Some(&dir)).expect("verify");
    assert!(r.pass(), "{}", r.report());
    let weights = laminar_record::read_weights(&dir.join("weights.h5")).expect("weights.h5");
    assert_eq!(weights.len(), 1);
    assert_eq!(weights[0].projection, "stdp");
    assert_eq!(weights[0].weights.len(), 33);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn verify_out_writes_the_standard_layout() {
    let dir = std::env::temp_dir().join(format!("laminar-verify-out-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = verify::verify_file(&case("iaf_psc_exp"), 1, Some(&dir)).expect("verify");
    assert!(r.pass());
    for f in ["manifest.json", "spikes.h5", "V_m.h5", "I_syn_ex.h5", "I_syn_in.h5"] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let spikes = laminar_record::read_spikes(&dir.join("spikes.h5")).expect("spikes");
    assert_eq!(spikes.len(), 1);
    assert_eq!(spikes[0].name, "neuron");
    assert_eq!(spikes[0].timestamps.len(), r.spikes.expected);
    let vm = laminar_record::read_report(&dir.join("V_m.h5")).expect("V_m");
    assert_eq!(vm.population, "neuron");
    assert_eq!(vm.n_frames, 3000);
    assert!((vm.tstart - 0.1).abs() < 1e-12 && (vm.dt - 0.1).abs() < 1e-12);
    std::fs::remove_dir_all(&dir).ok();
}
