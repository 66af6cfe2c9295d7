//! Frame reports: mapping, data round trip, chunk boundaries, `tstop` and interrupted writers.

mod common;

use common::TempDir;
use laminar_record::read::read_magic_and_version;
use laminar_record::report::{bmtk_frame_count, libsonata_frame_count};
use laminar_record::{FrameReportWriter, MAGIC, RecordError, Report, VERSION, read_report};

/// Three cells, the second with two compartments: four elements.
const NODE_IDS: [u64; 3] = [5, 2, 9];
const ELEMENTS: [u32; 3] = [1, 2, 1];

fn frame_values(frame: usize) -> Vec<f32> {
    (0..4).map(|element| -70.0 + frame as f32 + 0.25 * element as f32).collect()
}

fn create(path: &std::path::Path, tstart: f64, dt: f64, chunk_frames: usize) -> FrameReportWriter {
    FrameReportWriter::create(path, "exc", &NODE_IDS, &ELEMENTS, tstart, dt, "mV", chunk_frames).unwrap()
}

/// Checks what every valid report must satisfy with `frames` rows.
fn assert_consistent(report: &Report, frames: usize) {
    assert_eq!(report.n_frames, frames);
    assert_eq!(report.n_elements, 4);
    assert_eq!(report.data.len(), frames * 4);
    assert_eq!(libsonata_frame_count(report.tstart, report.tstop, report.dt), frames as u64);
    assert_eq!(bmtk_frame_count(report.tstart, report.tstop, report.dt), frames as u64);
    for frame in 0..frames {
        assert_eq!(report.frame(frame).unwrap(), frame_values(frame).as_slice(), "frame {frame}");
    }
}

#[test]
fn report_round_trip_with_a_partial_last_chunk() {
    let dir = TempDir::new("report-round-trip");
    let path = dir.join("V_m.h5");
    let mut writer = create(&path, 0.0, 0.1, 4);
    for frame in 0..10 {
        writer.push_frame(&frame_values(frame)).unwrap();
    }
    assert_eq!(writer.frames_pushed(), 10);
    let summary = writer.finish().unwrap();
    assert_eq!(summary.frames, 10);
    assert!(summary.readers_agree);

    let report = read_report(&path).unwrap();
    assert_eq!(report.population, "exc");
    assert_eq!(report.node_ids, NODE_IDS);
    assert_eq!(report.index_pointers, vec![0, 1, 3, 4]);
    assert_eq!(report.element_ids, vec![0, 0, 1, 0]);
    assert_eq!((report.tstart, report.dt), (0.0, 0.1));
    assert_eq!(report.tstop, summary.tstop_ms);
    assert_eq!(report.units, "mV");
    assert_consistent(&report, 10);
    assert_eq!(read_magic_and_version(&path).unwrap(), Some((MAGIC, VERSION)));
}

/// The details libsonata and bmtk depend on, checked on the HDF5 objects themselves.
#[test]
fn layout_matches_the_sonata_details() {
    let dir = TempDir::new("report-layout");
    let path = dir.join("V_m.h5");
    let mut writer = create(&path, 2.0, 0.25, 3);
    for frame in 0..4 {
        writer.push_frame(&frame_values(frame)).unwrap();
    }
    writer.finish().unwrap();

    let file = hdf5::File::open(&path).unwrap();
    let mapping = file.group("report/exc/mapping").unwrap();
    // `index_pointer` is a second name of the same object, not a copy.
    let pointers = mapping.loc_info_by_name("index_pointers").unwrap();
    let pointer = mapping.loc_info_by_name("index_pointer").unwrap();
    assert_eq!(pointers.token, pointer.token);
    assert_eq!(mapping.dataset("element_pos").unwrap().read_raw::<f32>().unwrap(), vec![0.5; 4]);
    // The node ids are not ascending here, so libsonata must not assume they are.
    let sorted: u8 = mapping.dataset("node_ids").unwrap().attr("sorted").unwrap().read_scalar().unwrap();
    assert_eq!(sorted, 0);
    let time = mapping.dataset("time").unwrap();
    assert_eq!(time.read_raw::<f64>().unwrap()[0], 2.0);

    let data = file.dataset("report/exc/data").unwrap();
    assert_eq!(data.shape(), vec![4, 4]);
    assert_eq!(data.chunk(), Some(vec![3, 4]));
    assert!(data.filters().is_empty(), "libsonata's wheel cannot read compressed data");
    assert_eq!(data.dtype().unwrap().size(), 4);
    assert!(data.dtype().unwrap().is::<f32>());
    assert_eq!(data.space().unwrap().maxdims(), vec![None, Some(4)]);
    for (location, name) in [(data.attr("units").unwrap(), "data"), (time.attr("units").unwrap(), "time")] {
        let units: hdf5::types::VarLenUnicode = location
            .read_scalar()
            .unwrap_or_else(|error| panic!("{name}/@units is not a variable-length UTF-8 string: {error}"));
        assert_eq!(units.as_str(), if name == "data" { "mV" } else { "ms" });
    }
}

#[test]
fn ascending_node_ids_are_marked_sorted() {
    let dir = TempDir::new("report-sorted");
    let path = dir.join("I_syn.h5");
    let writer = FrameReportWriter::create(&path, "inh", &[0, 1, 4], &[1, 1, 1], 0.0, 1.0, "pA", 8).unwrap();
    let summary = writer.finish().unwrap();
    assert_eq!(summary.frames, 0);

    {
        // HDF5 refuses a second open of a file with other locking flags than an open handle's,
        // so this handle is closed before `read_report` (which opens without locking) runs.
        let file = hdf5::File::open(&path).unwrap();
        let sorted: u8 =
            file.dataset("report/inh/mapping/node_ids").unwrap().attr("sorted").unwrap().read_scalar().unwrap();
        assert_eq!(sorted, 1);
    }
    // An empty report is still valid: tstop = tstart, no rows.
    let report = read_report(&path).unwrap();
    assert_eq!((report.n_frames, report.tstop), (0, 0.0));
}

#[test]
fn tstop_and_rows_agree_at_every_append_and_flush() {
    let dir = TempDir::new("report-appends");
    let path = dir.join("V_m.h5");
    let mut writer = create(&path, 0.0, 0.1, 4);
    for frame in 0..6 {
        writer.push_frame(&frame_values(frame)).unwrap();
    }
    // One chunk appended, two frames buffered.
    assert_consistent(&read_report(&path).unwrap(), 4);
    writer.flush().unwrap();
    assert_consistent(&read_report(&path).unwrap(), 6);
    for frame in 6..13 {
        writer.push_frame(&frame_values(frame)).unwrap();
    }
    // Rows 6..10 were appended as a full buffer; 11 and 12 are buffered.
    assert_consistent(&read_report(&path).unwrap(), 10);
    writer.finish().unwrap();
    assert_consistent(&read_report(&path).unwrap(), 13);
}

#[test]
fn many_frames_with_a_step_that_is_not_a_binary_fraction() {
    let dir = TempDir::new("report-many");
    let path = dir.join("V_m.h5");
    let mut writer = create(&path, 0.0, 0.1, 64);
    for frame in 0..1000 {
        writer.push_frame(&frame_values(frame)).unwrap();
    }
    let summary = writer.finish().unwrap();
    assert!(summary.readers_agree);
    assert_consistent(&read_report(&path).unwrap(), 1000);
}

#[test]
fn dropping_without_finish_saves_buffered_frames() {
    let dir = TempDir::new("report-drop");
    let path = dir.join("V_m.h5");
    {
        let mut writer = create(&path, 0.0, 0.5, 4);
        for frame in 0..5 {
            writer.push_frame(&frame_values(frame)).unwrap();
        }
    }
    assert_consistent(&read_report(&path).unwrap(), 5);
}

#[test]
fn frames_of_the_wrong_length_are_rejected() {
    let dir = TempDir::new("report-wrong-frame");
    let path = dir.join("V_m.h5");
    let mut writer = create(&path, 0.0, 0.1, 2);
    writer.push_frame(&frame_values(0)).unwrap();
    let error = writer.push_frame(&[1.0, 2.0, 3.0]).unwrap_err();
    assert!(matches!(error, RecordError::InvalidInput { .. }));
    assert!(error.to_string().contains("3 values but the report has 4 elements"), "{error}");
    writer.push_frame(&frame_values(1)).unwrap();
    writer.finish().unwrap();
    assert_consistent(&read_report(&path).unwrap(), 2);
}

/// Arguments of `FrameReportWriter::create` that must be refused, and the message expected.
struct InvalidLayout {
    node_ids: &'static [u64],
    elements: &'static [u32],
    tstart: f64,
    dt: f64,
    chunk_frames: usize,
    expected: &'static str,
}

const VALID: InvalidLayout =
    InvalidLayout { node_ids: &[0], elements: &[1], tstart: 0.0, dt: 0.1, chunk_frames: 4, expected: "" };

#[test]
fn invalid_layouts_are_rejected() {
    let dir = TempDir::new("report-invalid");
    let path = dir.join("V_m.h5");
    let cases = [
        InvalidLayout { node_ids: &[0, 1], expected: "2 node ids but 1 element counts", ..VALID },
        InvalidLayout { node_ids: &[], elements: &[], expected: "at least one node", ..VALID },
        InvalidLayout { node_ids: &[3, 1, 3], elements: &[1, 1, 1], expected: "node id 3 is listed twice", ..VALID },
        InvalidLayout { node_ids: &[0, 1], elements: &[1, 0], expected: "node 1 has no element", ..VALID },
        InvalidLayout { tstart: -1.0, expected: "tstart -1 ms", ..VALID },
        InvalidLayout { dt: 0.0, expected: "sampling interval 0 ms", ..VALID },
        InvalidLayout { dt: f64::NAN, expected: "sampling interval NaN ms", ..VALID },
        InvalidLayout { chunk_frames: 0, expected: "chunk_frames must be at least 1", ..VALID },
    ];
    for case in cases {
        let expected = case.expected;
        let created = FrameReportWriter::create(
            &path,
            "exc",
            case.node_ids,
            case.elements,
            case.tstart,
            case.dt,
            "mV",
            case.chunk_frames,
        );
        match created {
            Err(error @ RecordError::InvalidInput { .. }) => {
                let message = error.to_string();
                assert!(message.contains(expected), "{message:?} does not mention {expected:?}");
                assert!(message.contains("V_m.h5"), "{message:?} does not name the file");
            }
            Err(other) => panic!("expected invalid input ({expected}), got {other}"),
            Ok(_) => panic!("accepted an invalid layout ({expected})"),
        }
    }
    assert!(!path.exists(), "a refused report must not create its file");
}

#[test]
fn reading_a_missing_file_names_it() {
    let dir = TempDir::new("report-missing");
    let path = dir.join("absent.h5");
    let error = read_report(&path).unwrap_err();
    assert!(matches!(error, RecordError::Hdf5 { .. }));
    assert!(error.to_string().contains("absent.h5"), "{error}");
}
