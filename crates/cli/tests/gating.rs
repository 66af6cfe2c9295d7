//! `laminar gating`: the command takes the cell's parameters from `--set` and from files
//! (parameter files, model files), calibrates with `--auto-range`, prints the report, and names
//! bad fields. The criterion itself is tested with the experiment, in `crates/attention/tests/gating.rs`.

use std::process::Command;

fn laminar(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_laminar"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("the laminar binary runs")
}

#[test]
fn the_command_takes_parameters_from_sets_and_files_and_names_bad_fields() {
    let quick = ["--set", "grid.cells=4", "--set", "grid.duration_ms=300", "--set", "grid.warmup_ms=100"];
    // --set of a cell parameter, and a model file's pyramidal_bac population.
    let mut args = vec!["gating", "--set", "tau_d=6.5"];
    args.extend(quick);
    let out = laminar(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("tau_d = 6.5") && text.contains("verdict:"), "{text}");
    let mut args = vec!["gating", "models/bac_pyramidal.toml", "--threads", "2", "--seed", "7"];
    args.extend(quick);
    let out = laminar(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("bAP_amplitude = 2600") && text.contains("seed 7, 2 thread(s)"), "{text}");

    // --auto-range calibrates both edges for the given cell first.
    let mut args = vec!["gating", "--auto-range", "--set", "g_d=1100"];
    args.extend(quick);
    let out = laminar(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("--auto-range: somatic 0 … ") && text.contains("verdict:"), "{text}");

    // A parameter file with [params] and [grid].
    let dir = std::env::temp_dir().join(format!("laminar-gating-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cell.toml");
    std::fs::write(
        &file,
        "[params]\ng_s = 1200.0\n[grid]\ncells = 3\nduration_ms = 200.0\napical_rates = [0.0, 800.0]\n",
    )
    .unwrap();
    let out = laminar(&["gating", file.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("g_s = 1200") && text.contains("6 × 2 points, 3 cells"), "{text}");

    // Errors name the field and exit with status 2, never a panic.
    for (args, expected) in [
        (vec!["gating", "--set", "tau_dd=5"], "unknown field `tau_dd`"),
        (vec!["gating", "--set", "tau_d=-7"], "tau_d = -7: must be a finite number > 0 ms"),
        (vec!["gating", "--set", "grid.cells=0"], "grid.cells = 0"),
        (vec!["gating", "--set", "grid.somatic_rates=[0, 100, 50]"], "strictly ascending"),
    ] {
        let out = laminar(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    std::fs::write(&file, "[parms]\ng_s = 1.0\n").unwrap();
    let out = laminar(&["gating", file.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown table `parms`"));
    std::fs::remove_dir_all(&dir).ok();
}
