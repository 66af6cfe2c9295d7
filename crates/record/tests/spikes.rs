//! `spikes.h5`: round trips, chunk boundaries, the `@sorting` claim and interrupted writers.

mod common;

use common::TempDir;
use laminar_record::read::read_magic_and_version;
use laminar_record::{MAGIC, RecordError, SpikeWriter, VERSION, read_spikes};

fn populations() -> Vec<(String, u64)> {
    vec![("exc".to_owned(), 10), ("inh".to_owned(), 3)]
}

#[test]
fn spikes_round_trip_across_partial_chunks() {
    let dir = TempDir::new("spikes-round-trip");
    let path = dir.join("spikes.h5");
    let mut writer = SpikeWriter::create(&path, &populations(), 4).unwrap();
    // 11 exc spikes and 6 inh spikes with chunk 4: neither is a multiple of the chunk.
    let mut expected_exc = (Vec::new(), Vec::new());
    let mut expected_inh = (Vec::new(), Vec::new());
    for step in 0..11_u64 {
        let time = 0.1 * step as f64;
        writer.push(0, (step * 7) % 10, time).unwrap();
        expected_exc.0.push((step * 7) % 10);
        expected_exc.1.push(time);
        if step % 2 == 0 {
            writer.push(1, step % 3, time).unwrap();
            expected_inh.0.push(step % 3);
            expected_inh.1.push(time);
        }
    }
    writer.finish().unwrap();

    let read = read_spikes(&path).unwrap();
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].name, "exc");
    assert_eq!((read[0].node_ids.clone(), read[0].timestamps.clone()), expected_exc);
    assert_eq!(read[0].sorting, "by_time");
    assert_eq!(read[1].name, "inh");
    assert_eq!((read[1].node_ids.clone(), read[1].timestamps.clone()), expected_inh);
    assert_eq!(read[1].sorting, "by_time");
    assert_eq!(read_magic_and_version(&path).unwrap(), Some((MAGIC, VERSION)));
}

#[test]
fn equal_times_still_count_as_sorted_and_exact_chunks_work() {
    let dir = TempDir::new("spikes-equal-times");
    let path = dir.join("spikes.h5");
    let mut writer = SpikeWriter::create(&path, &populations(), 3).unwrap();
    for node in 0..6 {
        writer.push(0, node, 2.5).unwrap();
    }
    writer.finish().unwrap();
    let read = read_spikes(&path).unwrap();
    assert_eq!(read[0].node_ids, vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(read[0].timestamps, vec![2.5; 6]);
    assert_eq!(read[0].sorting, "by_time");
    assert!(read[1].node_ids.is_empty() && read[1].timestamps.is_empty());
    assert_eq!(read[1].sorting, "by_time");
}

#[test]
fn unsorted_spikes_are_marked_none_and_others_keep_by_time() {
    let dir = TempDir::new("spikes-unsorted");
    let path = dir.join("spikes.h5");
    let mut writer = SpikeWriter::create(&path, &populations(), 100).unwrap();
    writer.push(0, 1, 1.0).unwrap();
    writer.push(0, 2, 0.5).unwrap();
    writer.push(0, 3, 2.0).unwrap();
    writer.push(1, 0, 0.25).unwrap();
    writer.finish().unwrap();

    let read = read_spikes(&path).unwrap();
    assert_eq!(read[0].sorting, "none");
    assert_eq!(read[0].timestamps, vec![1.0, 0.5, 2.0]);
    assert_eq!(read[1].sorting, "by_time");
}

#[test]
fn sorting_claim_is_withdrawn_before_unsorted_spikes_reach_the_file() {
    let dir = TempDir::new("spikes-withdraw");
    let path = dir.join("spikes.h5");
    let mut writer = SpikeWriter::create(&path, &populations(), 2).unwrap();
    writer.push(0, 0, 5.0).unwrap();
    writer.push(0, 1, 6.0).unwrap(); // full chunk: appended, still ordered
    assert_eq!(read_spikes(&path).unwrap()[0].sorting, "by_time");
    // Out of order across the chunk boundary.
    writer.push(0, 2, 4.0).unwrap();
    writer.flush().unwrap();
    let during = read_spikes(&path).unwrap();
    assert_eq!(during[0].timestamps, vec![5.0, 6.0, 4.0]);
    assert_eq!(during[0].sorting, "none");
    writer.finish().unwrap();
    assert_eq!(read_spikes(&path).unwrap()[0].sorting, "none");
}

#[test]
fn memory_stays_bounded_by_appending_full_chunks() {
    let dir = TempDir::new("spikes-bounded");
    let path = dir.join("spikes.h5");
    let mut writer = SpikeWriter::create(&path, &populations(), 8).unwrap();
    for step in 0..20 {
        writer.push(1, step % 3, f64::from(step as u32)).unwrap();
    }
    // Without flush or finish, the two full chunks are already in the file; 4 are buffered.
    assert_eq!(read_spikes(&path).unwrap()[1].timestamps.len(), 16);
    writer.finish().unwrap();
    assert_eq!(read_spikes(&path).unwrap()[1].timestamps.len(), 20);
}

#[test]
fn dropping_without_finish_saves_buffered_spikes() {
    let dir = TempDir::new("spikes-drop");
    let path = dir.join("spikes.h5");
    {
        let mut writer = SpikeWriter::create(&path, &populations(), 4).unwrap();
        for node in 0..5 {
            writer.push(0, node, 1.0 + f64::from(node as u32)).unwrap();
        }
        writer.push(1, 2, 0.5).unwrap();
    }
    let read = read_spikes(&path).unwrap();
    assert_eq!(read[0].node_ids, vec![0, 1, 2, 3, 4]);
    assert_eq!(read[1].node_ids, vec![2]);
    assert_eq!(read[0].sorting, "by_time");
}

#[test]
fn invalid_requests_are_rejected_with_the_file_named() {
    let dir = TempDir::new("spikes-invalid");
    let path = dir.join("spikes.h5");

    let duplicate = vec![("exc".to_owned(), 1), ("exc".to_owned(), 2)];
    assert_invalid(SpikeWriter::create(&path, &duplicate, 4).map(drop), "listed twice");
    assert_invalid(SpikeWriter::create(&path, &[("a/b".to_owned(), 1)], 4).map(drop), "group name");
    assert_invalid(SpikeWriter::create(&path, &populations(), 0).map(drop), "chunk");

    let mut writer = SpikeWriter::create(&path, &populations(), 4).unwrap();
    assert_invalid(writer.push(2, 0, 1.0), "population index 2 is out of range");
    assert_invalid(writer.push(1, 3, 1.0), "node id 3 is out of range");
    assert_invalid(writer.push(0, 0, f64::NAN), "not a finite, non-negative");
    assert_invalid(writer.push(0, 0, -1.0), "not a finite, non-negative");
    writer.finish().unwrap();
    // Rejected spikes were not recorded.
    assert!(read_spikes(&path).unwrap().iter().all(|population| population.node_ids.is_empty()));
}

fn assert_invalid(result: laminar_record::Result<()>, expected: &str) {
    match result {
        Err(error @ RecordError::InvalidInput { .. }) => {
            let message = error.to_string();
            assert!(message.contains(expected), "{message:?} does not mention {expected:?}");
            assert!(message.contains("spikes.h5"), "{message:?} does not name the file");
        }
        other => panic!("expected an invalid-input error mentioning {expected:?}, got {other:?}"),
    }
}
