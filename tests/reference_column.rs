//! The reference laminar column (`models/columns/laminar_column.toml`) stays in the regime its
//! file states.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use laminar_cli::run::{RunOptions, run};
use laminar_record::Manifest;

mod common;
use common::{readback, root, temp_dir};

#[test]
fn reference_column_runs_stably() {
    // models/columns/laminar_column.toml states its regime: every cortical population of every
    // column at 0.5-40 Hz, every thalamic population at 1-60 Hz, no silent or runaway one.
    let model = root().join("models/columns/laminar_column.toml");
    let dir = temp_dir("laminar-column");
    let options = RunOptions { duration_ms: Some(300.0), quiet: true, ..Default::default() };
    run(&model, &dir, &options, Arc::new(AtomicBool::new(false))).expect("the reference column runs");
    let m = Manifest::read(&dir).expect("manifest");
    let spikes = laminar_record::read_spikes(&dir.join("spikes.h5")).expect("spikes");
    let window = (100.0, 300.0);
    let mut checked = 0;
    for p in &m.populations {
        let placement = p.placement.as_ref().unwrap_or_else(|| panic!("{}: no placement in the manifest", p.name));
        let Some(s) = spikes.iter().find(|s| s.name == p.name) else { panic!("{}: no spikes group", p.name) };
        let n = s.timestamps.iter().filter(|&&t| t >= window.0 && t < window.1).count();
        let rate = n as f64 / p.size as f64 / ((window.1 - window.0) / 1000.0);
        let range = match (p.model.as_str(), placement.layer.is_some()) {
            ("astrocyte_lr_1994", _) => continue,
            ("spike_generator", _) => continue,
            (_, true) => (0.5, 40.0),
            (_, false) => (1.0, 60.0),
        };
        assert!(
            (range.0..=range.1).contains(&rate),
            "{} ({:?}, {:?}): {rate:.2} Hz outside the stated {range:?} Hz",
            p.name,
            placement.layer,
            placement.cell_type
        );
        checked += 1;
    }
    // 2 areas x 8 columns x 14 spiking cell types, 16 core relays, 2 x 2 per-area nuclei.
    assert_eq!(checked, 16 * 14 + 16 + 4);
    // The node attributes needed to group spikes by column and layer, beside the spikes.
    assert_eq!(m.files.nodes.as_deref(), Some("nodes.h5"));
    let l23 = m.populations.iter().find(|p| p.name == "V2_c5_L23E").expect("V2_c5_L23E");
    let pl = l23.placement.as_ref().expect("placement");
    assert_eq!(
        (pl.layer.as_deref(), pl.area.as_deref(), pl.column.as_deref(), pl.column_index),
        (Some("L23"), Some("V2"), Some("c5"), Some(5))
    );
    readback(&dir);
    std::fs::remove_dir_all(&dir).ok();
}
