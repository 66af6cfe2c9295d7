//! `weights.h5`: round trip, units, chunk boundaries and rejected events.

mod common;

use common::TempDir;
use laminar_record::{RecordError, WeightProjection, WeightWriter, read_weights};

fn projections() -> Vec<WeightProjection> {
    vec![
        WeightProjection { name: "exc_to_exc".to_owned(), units: "pA".to_owned() },
        WeightProjection { name: "exc_to_inh".to_owned(), units: "nS".to_owned() },
    ]
}

#[test]
fn weight_events_round_trip_across_partial_chunks() {
    let dir = TempDir::new("weights-round-trip");
    let path = dir.join("weights.h5");
    let mut writer = WeightWriter::create(&path, &projections(), 3).unwrap();
    for event in 0..7_u64 {
        let time = 0.5 * event as f64;
        writer.push(0, time, event % 4, (event + 1) % 4, 1.0 + 0.01 * event as f64).unwrap();
    }
    writer.push(1, 0.25, 2, 0, -0.5).unwrap();
    writer.finish().unwrap();

    let read = read_weights(&path).unwrap();
    assert_eq!(read.len(), 2);
    let exc = &read[0];
    assert_eq!(exc.projection, "exc_to_exc");
    assert_eq!(exc.units, "pA");
    assert_eq!(exc.timestamps, (0..7).map(|e| 0.5 * f64::from(e)).collect::<Vec<_>>());
    assert_eq!(exc.source_ids, vec![0, 1, 2, 3, 0, 1, 2]);
    assert_eq!(exc.target_ids, vec![1, 2, 3, 0, 1, 2, 3]);
    assert_eq!(exc.weights, (0..7).map(|e| 1.0 + 0.01 * f64::from(e)).collect::<Vec<_>>());
    let inh = &read[1];
    assert_eq!((inh.projection.as_str(), inh.units.as_str()), ("exc_to_inh", "nS"));
    assert_eq!((inh.timestamps.clone(), inh.weights.clone()), (vec![0.25], vec![-0.5]));
}

#[test]
fn non_finite_weights_and_unknown_projections_are_rejected() {
    let dir = TempDir::new("weights-invalid");
    let path = dir.join("weights.h5");
    let mut writer = WeightWriter::create(&path, &projections(), 3).unwrap();
    let error = writer.push(0, 1.0, 0, 1, f64::INFINITY).unwrap_err();
    assert!(matches!(error, RecordError::InvalidInput { .. }) && error.to_string().contains("not finite"), "{error}");
    let error = writer.push(5, 1.0, 0, 1, 1.0).unwrap_err();
    assert!(error.to_string().contains("projection index 5 is out of range"), "{error}");
    writer.finish().unwrap();
    assert!(read_weights(&path).unwrap().iter().all(|projection| projection.timestamps.is_empty()));

    let twice = [projections()[0].clone(), projections()[0].clone()];
    let error = WeightWriter::create(&path, &twice, 3).map(drop).unwrap_err();
    assert!(error.to_string().contains("listed twice"), "{error}");
}
