//! Writers killed without closing their files — abort: no destructor runs, HDF5 is not shut
//! down — must leave files that are readable and self-consistent, holding everything appended
//! before. Each test re-runs itself as a child process that writes and aborts.

mod common;

use common::{TempDir, child_target, die, run_child_that_dies, serial};
use laminar_record::report::{bmtk_frame_count, libsonata_frame_count};
use laminar_record::{FrameReportWriter, SpikeWriter, read_report, read_spikes};

#[test]
fn killed_spike_writer_leaves_a_readable_file() {
    if let Some(path) = child_target() {
        let populations = [("exc".to_owned(), 10), ("inh".to_owned(), 3)];
        let mut writer = SpikeWriter::create(&path, &populations, 4).unwrap();
        for node in 0..10 {
            // Two chunks of exc reach the file as they fill up.
            writer.push(0, node, f64::from(node as u32)).unwrap();
        }
        writer.push(1, 0, 3.0).unwrap();
        writer.push(1, 1, 2.0).unwrap();
        writer.flush().unwrap(); // all 12 spikes in the file, inh out of order
        writer.push(1, 2, 9.0).unwrap(); // buffered, lost
        die();
    }

    let _serial = serial();
    let dir = TempDir::new("spikes-killed");
    let path = dir.join("spikes.h5");
    run_child_that_dies("killed_spike_writer_leaves_a_readable_file", &path);

    let read = read_spikes(&path).unwrap();
    assert_eq!(read[0].node_ids, (0..10).collect::<Vec<u64>>());
    assert_eq!(read[0].sorting, "by_time");
    assert_eq!(read[1].node_ids, vec![0, 1]);
    assert_eq!(read[1].timestamps, vec![3.0, 2.0]);
    // The by_time claim was withdrawn before the unordered spikes were appended.
    assert_eq!(read[1].sorting, "none");
}

#[test]
fn killed_report_writer_leaves_a_readable_report() {
    let frame = |k: usize| vec![k as f32, -(k as f32), 0.5 * k as f32];
    if let Some(path) = child_target() {
        let mut writer = FrameReportWriter::create(&path, "exc", &[0, 1], &[2, 1], 0.0, 0.1, "mV", 4).unwrap();
        for k in 0..7 {
            writer.push_frame(&frame(k)).unwrap();
        }
        writer.flush().unwrap(); // 7 frames in the file
        for k in 7..10 {
            writer.push_frame(&frame(k)).unwrap(); // buffered, lost
        }
        die();
    }

    let _serial = serial();
    let dir = TempDir::new("report-killed");
    let path = dir.join("V_m.h5");
    run_child_that_dies("killed_report_writer_leaves_a_readable_report", &path);

    let report = read_report(&path).unwrap();
    assert_eq!((report.n_frames, report.n_elements), (7, 3));
    // `tstop` claims exactly the rows that are there, for both readers.
    assert_eq!(libsonata_frame_count(report.tstart, report.tstop, report.dt), 7);
    assert_eq!(bmtk_frame_count(report.tstart, report.tstop, report.dt), 7);
    for k in 0..7 {
        assert_eq!(report.frame(k).unwrap(), frame(k).as_slice());
    }
}
