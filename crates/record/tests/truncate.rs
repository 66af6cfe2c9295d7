//! Cutting a recording back to a mark: what the recorder does after a failed write, so that every
//! file ends at the same step boundary. The cut must reach data already appended to the file,
//! data still buffered, and leave `tstop` and the extents consistent.

mod common;

use common::TempDir;
use laminar_record::{
    FrameReportWriter, SpikeWriter, WeightProjection, WeightWriter, condensed_hdf5_message, read_report, read_spikes,
    read_weights,
};

#[test]
fn spikes_are_cut_back_to_a_mark_in_the_file_and_in_the_buffers() {
    let dir = TempDir::new("truncate-spikes");
    let path = dir.join("spikes.h5");
    let populations = [("exc".to_owned(), 100), ("inh".to_owned(), 100)];
    let mut writer = SpikeWriter::create(&path, &populations, 4).unwrap();
    for node in 0..6 {
        writer.push(0, node, node as f64).unwrap(); // 4 appended to the file, 2 buffered
    }
    writer.push(1, 7, 1.5).unwrap();
    let mut mark = Vec::new();
    writer.pushed_counts(&mut mark);
    assert_eq!(mark, vec![6, 1]);
    // After the mark: exc grows into a second appended chunk, inh gets buffered spikes.
    for node in 6..12 {
        writer.push(0, node, node as f64).unwrap();
    }
    writer.push(1, 8, 7.0).unwrap();
    writer.truncate(&mark).unwrap();
    writer.finish().unwrap();

    let read = read_spikes(&path).unwrap();
    assert_eq!(read[0].node_ids, (0..6).collect::<Vec<u64>>());
    assert_eq!(read[0].timestamps, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(read[1].node_ids, vec![7]);

    // A mark below what is in the file cuts the file itself.
    let path = dir.join("spikes2.h5");
    let mut writer = SpikeWriter::create(&path, &populations, 2).unwrap();
    for node in 0..5 {
        writer.push(0, node, node as f64).unwrap();
    }
    writer.truncate(&[1, 0]).unwrap();
    writer.finish().unwrap();
    assert_eq!(read_spikes(&path).unwrap()[0].node_ids, vec![0]);
}

#[test]
fn a_report_is_cut_back_with_its_tstop() {
    let dir = TempDir::new("truncate-report");
    let path = dir.join("V_m.h5");
    let mut writer = FrameReportWriter::create(&path, "exc", &[0, 1], &[1, 1], 0.0, 0.1, "mV", 3).unwrap();
    for k in 0..8 {
        writer.push_frame(&[k as f32, -(k as f32)]).unwrap(); // 6 in the file, 2 buffered
    }
    writer.truncate(4).unwrap();
    assert_eq!(writer.frames_pushed(), 4);
    writer.finish().unwrap();
    let report = read_report(&path).unwrap();
    assert_eq!(report.n_frames, 4);
    assert_eq!(report.data, vec![0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0]);
    assert!((report.tstop - 0.4).abs() < 1e-9, "tstop {} for 4 frames of 0.1 ms", report.tstop);

    // Cutting inside the buffer keeps what is before the mark.
    let path = dir.join("V_m2.h5");
    let mut writer = FrameReportWriter::create(&path, "exc", &[0], &[1], 0.0, 0.1, "mV", 3).unwrap();
    for k in 0..5 {
        writer.push_frame(&[k as f32]).unwrap();
    }
    writer.truncate(4).unwrap();
    writer.finish().unwrap();
    assert_eq!(read_report(&path).unwrap().data, vec![0.0, 1.0, 2.0, 3.0]);
}

#[test]
fn weight_events_are_cut_back_to_a_mark() {
    let dir = TempDir::new("truncate-weights");
    let path = dir.join("weights.h5");
    let projections = [WeightProjection { name: "ee".into(), units: "pA".into() }];
    let mut writer = WeightWriter::create(&path, &projections, 2).unwrap();
    for k in 0..3 {
        writer.push(0, k as f64, k, k + 1, 10.0 + k as f64).unwrap();
    }
    let mut mark = Vec::new();
    writer.pushed_counts(&mut mark);
    for k in 3..7 {
        writer.push(0, k as f64, k, k + 1, 10.0 + k as f64).unwrap();
    }
    writer.truncate(&mark).unwrap();
    writer.finish().unwrap();
    let read = read_weights(&path).unwrap();
    assert_eq!(read[0].weights, vec![10.0, 11.0, 12.0]);
    assert_eq!(read[0].source_ids, vec![0, 1, 2]);
}

#[test]
fn hdf5_errors_read_as_one_line_with_the_operating_system_s_reason() {
    let dir = TempDir::new("condensed");
    // A file cannot be created inside a path whose parent is a regular file.
    let blocker = dir.join("a_file");
    std::fs::write(&blocker, b"").unwrap();
    let error = SpikeWriter::create(&blocker.join("spikes.h5"), &[("exc".to_owned(), 1)], 4).err().unwrap();
    let message = error.to_string();
    assert!(message.contains("Not a directory (os error 20)"), "{message}");
    assert!(message.contains(&blocker.join("spikes.h5").display().to_string()), "{message}");
    assert!(!message.contains('\n') && !message.contains("H5F"), "one line, no HDF5 stack: {message}");
    assert!(std::error::Error::source(&error).is_none(), "the cause is in the message, not repeated");
    if let laminar_record::RecordError::Hdf5 { cause, .. } = &error {
        assert_eq!(condensed_hdf5_message(cause), "Not a directory (os error 20)");
    } else {
        panic!("expected an HDF5 error: {error:?}");
    }
}
