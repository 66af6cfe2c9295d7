//! Checkpoints and resuming: a recording checkpointed, stopped (killed, interrupted, dropped) and
//! resumed from the checkpoint's position must end up holding exactly what one uninterrupted
//! recording of the same data holds, whatever the stopped process wrote past the checkpoint. A
//! resume that does not match the recording is refused, naming the file and what differs.

mod common;

use std::path::Path;

use common::run::{self, H_MS, STEPS, assert_same_recording, feed};
use common::{TempDir, child_target, die, run_child_that_dies, serial};
use laminar_engine::Observer;
use laminar_record::{
    Manifest, RESERVE_FILE_NAME, RecordError, Recorder, RecorderPosition, ReportPlan, read_report, read_spikes,
};

/// The uninterrupted recording of the whole run.
fn reference(dir: &Path) {
    let mut recorder = run::create(dir, 2);
    feed(&mut recorder, 0..STEPS, 0);
    recorder.finish(STEPS as f64 * H_MS, None).unwrap();
}

fn ms(step: u64) -> f64 {
    step as f64 * H_MS
}

fn segments(dir: &Path) -> Vec<(f64, Option<f64>, usize, Option<String>)> {
    Manifest::read(dir).unwrap().segments.into_iter().map(|s| (s.from_ms, s.to_ms, s.threads, s.outcome)).collect()
}

/// The SIGKILL case: the killed process flushed data past the checkpoint it left (a later
/// checkpoint whose engine state never reached the disk), different from what the resumed run
/// produces and with spikes out of time order. All of it must go, also from `@sorting`.
#[test]
fn resume_after_a_kill_cuts_what_the_killed_process_flushed_past_its_checkpoint() {
    if let Some(dir) = child_target() {
        let mut recorder = run::create(&dir, 2);
        feed(&mut recorder, 0..700, 0);
        let position = recorder.checkpoint(700).unwrap();
        std::fs::write(dir.join("position.json"), serde_json::to_string(&position).unwrap()).unwrap();
        feed(&mut recorder, 700..1300, 1);
        recorder.checkpoint(1300).unwrap(); // everything up to here reaches the files
        feed(&mut recorder, 1300..1400, 1); // buffered, lost
        die();
    }

    let _serial = serial();
    let expected = TempDir::new("resume-kill-expected");
    reference(expected.path());

    let dir = TempDir::new("resume-kill");
    run_child_that_dies("resume_after_a_kill_cuts_what_the_killed_process_flushed_past_its_checkpoint", dir.path());
    // What the killed process left: more than the checkpoint, with `inh` no longer in time order.
    let killed = read_spikes(&dir.join("spikes.h5")).unwrap();
    assert_eq!(killed[1].name, "inh");
    assert_eq!(killed[1].sorting, "none", "the junk past the checkpoint was to unsort inh");
    assert_eq!(read_report(&dir.join("V_m_exc.h5")).unwrap().n_frames, 1300);
    assert_eq!(segments(dir.path()), vec![(0.0, Some(ms(1300)), 2, Some("checkpointed".to_owned()))]);

    let position: RecorderPosition =
        serde_json::from_str(&std::fs::read_to_string(dir.join("position.json")).unwrap()).unwrap();
    std::fs::remove_file(dir.join("position.json")).unwrap();
    assert_eq!(position.step, 700);
    assert_eq!(position.frames, vec![700, 700, 700]);
    let mut recorder = run::resume(dir.path(), 1, &position);
    // The files are cut as soon as the recording is resumed.
    assert_eq!(read_report(&dir.join("v_comp.h5")).unwrap().n_frames, 700);
    assert_eq!(read_spikes(&dir.join("spikes.h5")).unwrap()[1].sorting, "by_time");
    feed(&mut recorder, 700..STEPS, 0);
    let closed = recorder.finish(ms(STEPS), None).unwrap();
    assert_eq!(closed.stopped_early, None);

    assert_same_recording(expected.path(), dir.path());
    let spikes = read_spikes(&dir.join("spikes.h5")).unwrap();
    assert_eq!((spikes[0].sorting.as_str(), spikes[1].sorting.as_str()), ("none", "by_time"));
    assert_eq!(
        segments(dir.path()),
        vec![
            (0.0, Some(ms(1300)), 2, Some("checkpointed".to_owned())),
            (ms(700), Some(ms(STEPS)), 1, Some("completed".to_owned())),
        ]
    );
    assert!(!dir.join(RESERVE_FILE_NAME).exists());
}

/// A run stopped by a signal closes its files at a later step than its last checkpoint; the
/// resumed run starts again from the checkpoint.
#[test]
fn resume_after_an_interrupt_cuts_what_the_stopped_run_wrote_past_its_checkpoint() {
    let expected = TempDir::new("resume-interrupt-expected");
    reference(expected.path());

    let dir = TempDir::new("resume-interrupt");
    let mut recorder = run::create(dir.path(), 2);
    feed(&mut recorder, 0..500, 0);
    let position = recorder.checkpoint(500).unwrap();
    feed(&mut recorder, 500..900, 0);
    let closed = recorder.finish(ms(900), Some("interrupted by SIGTERM".to_owned())).unwrap();
    assert_eq!(closed.simulated_ms, ms(900));
    let manifest = Manifest::read(dir.path()).unwrap();
    assert_eq!((manifest.simulated_ms, manifest.completed), (ms(900), false));

    let mut recorder = run::resume(dir.path(), 2, &position);
    let manifest = Manifest::read(dir.path()).unwrap();
    assert_eq!((manifest.simulated_ms, manifest.completed, manifest.stopped_early_reason), (ms(500), false, None));
    feed(&mut recorder, 500..STEPS, 0);
    recorder.finish(ms(STEPS), None).unwrap();

    assert_same_recording(expected.path(), dir.path());
    assert_eq!(
        segments(dir.path()),
        vec![
            (0.0, Some(ms(900)), 2, Some("interrupted by SIGTERM".to_owned())),
            (ms(500), Some(ms(STEPS)), 2, Some("completed".to_owned())),
        ]
    );
}

/// Resumed again and again: from the very start (empty files), from a segment dropped without
/// `finish` (its writers close the files best-effort, with everything buffered), and from a
/// segment that ended before its first checkpoint (resumed from an earlier segment's).
#[test]
fn a_recording_resumed_several_times_equals_the_uninterrupted_one() {
    let expected = TempDir::new("resume-chain-expected");
    reference(expected.path());

    let dir = TempDir::new("resume-chain");
    let mut recorder = run::create(dir.path(), 2);
    let at_start = recorder.checkpoint(0).unwrap();
    assert_eq!(at_start, RecorderPosition { step: 0, spikes: vec![0, 0], frames: vec![0; 3], weights: vec![0, 0] });
    feed(&mut recorder, 0..300, 1);
    drop(recorder);

    let mut recorder = run::resume(dir.path(), 4, &at_start);
    feed(&mut recorder, 0..1000, 0);
    let at_1000 = recorder.checkpoint(1000).unwrap();
    feed(&mut recorder, 1000..1100, 1);
    drop(recorder);

    // Dropped before its first checkpoint: the next segment resumes from the same position.
    let mut recorder = run::resume(dir.path(), 3, &at_1000);
    feed(&mut recorder, 1000..1400, 1);
    drop(recorder);

    let mut recorder = run::resume(dir.path(), 1, &at_1000);
    feed(&mut recorder, 1000..1600, 0);
    let at_1600 = recorder.checkpoint(1600).unwrap();
    assert_eq!(at_1600.step, 1600);
    feed(&mut recorder, 1600..STEPS, 0);
    recorder.finish(ms(STEPS), None).unwrap();

    assert_same_recording(expected.path(), dir.path());
    let unclosed = "ended without closing the recording (killed or crashed)".to_owned();
    assert_eq!(
        segments(dir.path()),
        vec![
            (0.0, Some(0.0), 2, Some("checkpointed".to_owned())),
            (0.0, Some(ms(1000)), 4, Some("checkpointed".to_owned())),
            (ms(1000), None, 3, Some(unclosed)),
            (ms(1000), Some(ms(STEPS)), 1, Some("completed".to_owned())),
        ]
    );
}

/// Positions, manifests and files that do not belong to the run are refused, naming the file
/// and what differs; a refused resume leaves the recording resumable.
#[test]
fn a_resume_that_does_not_match_the_recording_is_refused() {
    let expected = TempDir::new("resume-refused-expected");
    reference(expected.path());

    let dir = TempDir::new("resume-refused");
    let mut recorder = run::create(dir.path(), 2);
    feed(&mut recorder, 0..800, 0);
    let position = recorder.checkpoint(800).unwrap();
    feed(&mut recorder, 800..900, 0);
    drop(recorder);

    let info = run::info(2);
    let populations = run::populations();
    let reports = run::reports();
    let weights = run::weight_plans();
    let refused = |info: &laminar_record::RunInfo,
                   populations: &[laminar_engine::PopulationMeta],
                   reports: &[ReportPlan],
                   position: &RecorderPosition| {
        let error = Recorder::resume(dir.path(), info, populations, &run::RECORD_SPIKES, reports, &weights, position)
            .expect_err("the resume should be refused");
        error.to_string()
    };
    let assert_names = |message: String, parts: &[&str]| {
        for part in parts {
            assert!(message.contains(part), "{part:?} is not in: {message}");
        }
    };

    // The manifest is checked before any file is touched.
    let mut other_seed = info.clone();
    other_seed.seed = 8;
    assert_names(refused(&other_seed, &populations, &reports, &position), &["manifest.json", "seed 7", "seed 8"]);
    let mut other_text = info.clone();
    other_text.model_text.push_str("[extra]\n");
    assert_names(refused(&other_text, &populations, &reports, &position), &["manifest.json", "model text"]);
    let mut bigger = populations.clone();
    bigger[1].size = 11;
    assert_names(refused(&info, &bigger, &reports, &position), &["manifest.json", "\"inh\"", "11 cells"]);
    let mut fewer_reports = reports.clone();
    fewer_reports.pop();
    let mut fewer_position = position.clone();
    fewer_position.frames.pop();
    assert_names(refused(&info, &populations, &fewer_reports, &fewer_position), &["manifest.json", "reports"]);
    let mut short_position = position.clone();
    short_position.weights.pop();
    assert_names(refused(&info, &populations, &reports, &short_position), &["1 weight projections", "records 2"]);

    // Then the files.
    let mut more_spikes = position.clone();
    more_spikes.spikes[0] += 10_000;
    assert_names(
        refused(&info, &populations, &reports, &more_spikes),
        &["spikes.h5", "/spikes/exc holds", "checkpoint was taken after"],
    );
    let mut other_nodes = reports.clone();
    other_nodes[0].nodes[2] = 8;
    assert_names(
        refused(&info, &populations, &other_nodes, &position),
        &["V_m_exc.h5", "mapping/node_ids", "value 2 is 7 in the file and 8 in the run"],
    );
    let mut other_units = reports.clone();
    other_units[2].units = "pA".to_owned();
    // (The manifest lists the units too.)
    assert_names(refused(&info, &populations, &other_units, &position), &["manifest.json", "pA"]);
    let mut more_frames = position.clone();
    more_frames.frames[1] = 5000;
    assert_names(refused(&info, &populations, &reports, &more_frames), &["v_comp.h5", "holds 900 frames", "5000"]);
    std::fs::rename(dir.join("weights.h5"), dir.join("weights.moved")).unwrap();
    assert_names(refused(&info, &populations, &reports, &position), &["weights.h5"]);
    std::fs::rename(dir.join("weights.moved"), dir.join("weights.h5")).unwrap();

    // The refusals changed nothing that matters: the recording resumes as if they had not been.
    let mut recorder = run::resume(dir.path(), 2, &position);
    feed(&mut recorder, 800..STEPS, 0);
    recorder.finish(ms(STEPS), None).unwrap();
    assert_same_recording(expected.path(), dir.path());
}

#[test]
fn a_checkpoint_needs_complete_frames_and_a_recording_that_has_not_failed() {
    let dir = TempDir::new("checkpoint-refused");
    let mut recorder = run::create(dir.path(), 1);
    feed(&mut recorder, 0..10, 0);
    // Recording 1 is element 0 of v_comp's two: its frame waits for element 1.
    recorder.frame(1, 10, &[1.0, 2.0]).unwrap();
    let error = recorder.checkpoint(11).unwrap_err();
    assert!(matches!(error, RecordError::InvalidInput { .. }));
    let message = error.to_string();
    assert!(message.contains("v_comp.h5") && message.contains("step 10"), "{message}");
    recorder.frame(2, 10, &[3.0, 4.0]).unwrap();
    let position = recorder.checkpoint(11).unwrap();
    assert_eq!(position.frames, vec![10, 11, 10]);

    // After a failed write (a spike of a node the population lacks) no checkpoint is taken.
    let spike = laminar_engine::SpikeRecord { population: 0, node: 40, time_ms: 1.2 };
    let failure = recorder.spikes(&[spike]).unwrap_err();
    let message = recorder.checkpoint(12).unwrap_err().to_string();
    assert!(message.contains("failed earlier") && message.contains(&failure), "{message}");
    recorder.finish(1.2, None).unwrap();
}
