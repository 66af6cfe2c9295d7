//! Faults a real run meets: interruption by a signal. The recording must stay valid and say how
//! far the run got.

use std::process::Command;
use std::time::Duration;

use laminar_record::Manifest;

mod common;
use common::{readback, root, temp_dir};

#[test]
fn sigint_stops_at_a_step_boundary_and_leaves_a_valid_recording() {
    let dir = temp_dir("sigint");
    let mut child = Command::new(env!("CARGO_BIN_EXE_laminar"))
        .args(["run", "models/cuba.toml", "--out"])
        .arg(&dir)
        .args(["--duration", "600000", "--quiet"])
        .current_dir(root())
        .spawn()
        .expect("start laminar");
    // Wait until the run is under way (the manifest is written before the first step).
    for _ in 0..200 {
        if dir.join("manifest.json").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(700));
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let code = child.wait().expect("wait").code();
    assert_eq!(code, Some(130), "an interrupted run exits with 130");
    let m = Manifest::read(&dir).expect("manifest");
    assert!(!m.completed);
    assert!(m.stopped_early_reason.as_deref().unwrap_or("").contains("interrupted"));
    assert!(m.simulated_ms > 0.0 && m.simulated_ms < 600000.0);
    let spikes = laminar_record::read_spikes(&dir.join("spikes.h5")).expect("spikes");
    let last = spikes.iter().filter_map(|p| p.timestamps.last().copied()).fold(0.0, f64::max);
    assert!(last <= m.simulated_ms + 1e-9, "spike at {last} ms after the end {} ms", m.simulated_ms);
    readback(&dir);
    std::fs::remove_dir_all(&dir).ok();
}
