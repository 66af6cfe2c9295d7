//! `laminar plot` through the binary: a short CUBA run is plotted; both PNGs exist, are complete
//! and have the documented sizes; the printed rates agree with rates computed here from
//! spikes.h5; populations with a layer placement are grouped; bad directories and windows are
//! refused with a clear message and a non-zero exit status — never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;
use support::png_size;

use laminar_record::{Manifest, Placement};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn temp_dir(label: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("laminar-plot-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn laminar(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_laminar")).args(args).current_dir(root()).output().expect("run laminar")
}

fn ok(args: &[&str]) -> String {
    let out = laminar(args);
    assert!(
        out.status.success(),
        "laminar {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Fails with a message containing `expected`, without panicking.
fn refused(args: &[&str], expected: &str) {
    let out = laminar(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "laminar {args:?} should fail");
    assert!(!stderr.contains("panicked"), "laminar {args:?} panicked:\n{stderr}");
    assert!(stderr.contains(expected), "laminar {args:?}: expected '{expected}' in:\n{stderr}");
}

/// The rate table printed by `laminar plot`: (population, neurons, spikes, rate in Hz).
fn printed_rates(stdout: &str) -> Vec<(String, u64, u64, f64)> {
    let mut lines = stdout.lines().skip_while(|l| !l.starts_with("population"));
    assert!(lines.next().is_some(), "no rate table in:\n{stdout}");
    lines
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 4, "bad row '{l}'");
            (f[0].to_owned(), f[1].parse().unwrap(), f[2].parse().unwrap(), f[3].parse().unwrap())
        })
        .collect()
}

/// Rates from spikes.h5 over [from, to), or [from, to] when `to` is the end of the run.
fn expected_rates(dir: &Path, from: f64, to: f64) -> Vec<(String, u64, u64, f64)> {
    let m = Manifest::read(dir).expect("manifest");
    let spikes = laminar_record::read_spikes(&dir.join("spikes.h5")).expect("spikes");
    let closed = to >= m.simulated_ms;
    m.populations
        .iter()
        .map(|p| {
            let n = spikes
                .iter()
                .find(|s| s.name == p.name)
                .map_or(0, |s| s.timestamps.iter().filter(|&&t| t >= from && (t < to || closed && t <= to)).count());
            (p.name.clone(), p.size, n as u64, n as f64 / (p.size as f64 * (to - from) / 1000.0))
        })
        .collect()
}

fn assert_rates_agree(stdout: &str, expected: &[(String, u64, u64, f64)]) {
    let printed = printed_rates(stdout);
    assert_eq!(printed.len(), expected.len(), "{stdout}");
    for (p, e) in printed.iter().zip(expected) {
        assert_eq!((&p.0, p.1, p.2), (&e.0, e.1, e.2), "{stdout}");
        assert!((p.3 - e.3).abs() <= 5e-5 + 1e-6 * e.3, "{}: printed {} Hz, computed {} Hz", p.0, p.3, e.3);
    }
    assert!(expected.iter().any(|e| e.2 > 0), "no spikes at all: the test shows nothing");
}

#[test]
fn plots_a_cuba_run() {
    let dir = temp_dir("cuba");
    let d = dir.to_str().unwrap();
    ok(&["run", "models/cuba.toml", "--duration", "200", "--out", d, "--quiet"]);

    // Whole run, subsampled.
    let stdout = ok(&["plot", d, "--max-neurons", "500"]);
    assert!(stdout.contains("500 of 4000 neurons"), "{stdout}");
    assert_eq!(png_size(&dir.join("raster.png")), (1400, 900));
    assert_eq!(png_size(&dir.join("rates.png")), (1000, 440));
    assert!(stdout.contains(&dir.join("raster.png").display().to_string()), "{stdout}");
    assert_rates_agree(&stdout, &expected_rates(&dir, 0.0, 200.0));

    // A window, written under a prefix.
    let prefix = dir.join("figs").join("cuba");
    let stdout = ok(&["plot", d, "--from", "50", "--to", "150.5", "--out", prefix.to_str().unwrap()]);
    assert!(stdout.contains("all 4000 neurons") || stdout.contains("2000 of 4000 neurons"), "{stdout}");
    assert_eq!(png_size(&dir.join("figs/cuba_raster.png")), (1400, 900));
    assert_eq!(png_size(&dir.join("figs/cuba_rates.png")), (1000, 440));
    assert_rates_agree(&stdout, &expected_rates(&dir, 50.0, 150.5));

    // Populations placed in layers are grouped under them.
    let mut m = Manifest::read(&dir).unwrap();
    for (p, layer) in m.populations.iter_mut().zip(["L23", "L4"]) {
        p.placement = Some(Placement { layer: Some(layer.into()), ..Placement::default() });
    }
    m.write(&dir).unwrap();
    let stdout = ok(&["plot", d, "--out", dir.join("layers/").to_str().unwrap()]);
    assert_eq!(png_size(&dir.join("layers/raster.png")), (1400, 900));
    assert_rates_agree(&stdout, &expected_rates(&dir, 0.0, 200.0));

    // Bad windows.
    refused(&["plot", d, "--from", "150", "--to", "100"], "bad window");
    refused(&["plot", d, "--to", "500"], "past the end of the recording");
    refused(&["plot", d, "--from=-5"], "bad window");
    refused(&["plot", d, "--max-neurons", "0"], "--max-neurons");

    // A directory with a manifest but no spikes.h5.
    std::fs::remove_file(dir.join("spikes.h5")).unwrap();
    refused(&["plot", d], "spikes.h5 is missing");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn refuses_what_is_not_a_recording() {
    let missing = temp_dir("missing");
    refused(&["plot", missing.to_str().unwrap()], "no such directory");
    let empty = temp_dir("empty");
    std::fs::create_dir_all(&empty).unwrap();
    refused(&["plot", empty.to_str().unwrap()], "no manifest.json");
    std::fs::remove_dir_all(&empty).ok();
}
