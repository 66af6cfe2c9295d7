//! Faults a real run meets: interruption by a signal (Ctrl-C, a scheduler's SIGTERM, also while
//! the model is still being built), a full disk, an unwritable or reused output directory, a
//! closed stdout. The recording must stay valid and say how far the run got and why it stopped;
//! every error must be one clear line naming its path; nothing may panic.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use laminar_record::Manifest;

mod common;
use common::{laminar, readback, root, temp_dir};

/// Starts `laminar run models/cuba.toml` for ten simulated minutes into `dir`.
fn start_long_cuba_run(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_laminar"))
        .args(["run", "models/cuba.toml", "--out"])
        .arg(dir)
        .args(["--duration", "600000", "--quiet"])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start laminar")
}

/// Waits until the run is under way (the manifest is written before the first step), lets it
/// run a little, and sends `signal` (`INT`, `TERM`).
fn signal_when_running(child: &Child, dir: &Path, signal: &str) {
    for _ in 0..400 {
        if dir.join("manifest.json").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(700));
    let status = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
}

/// Checks that an early-stopped recording is valid and that every file ends at the manifest's
/// `simulated_ms`: no spike after it, and every report exactly the frames up to it.
fn check_cut_at_one_boundary(dir: &Path, reason_contains: &str) -> Manifest {
    let m = Manifest::read(dir).expect("manifest");
    assert!(!m.completed);
    let reason = m.stopped_early_reason.clone().unwrap_or_default();
    assert!(reason.contains(reason_contains), "reason {reason:?} lacks {reason_contains:?}");
    assert!(m.simulated_ms > 0.0 && m.simulated_ms < m.duration_ms, "simulated {} ms", m.simulated_ms);
    let spikes = laminar_record::read_spikes(&dir.join("spikes.h5")).expect("spikes");
    for p in &spikes {
        let last = p.timestamps.iter().copied().fold(0.0, f64::max);
        assert!(last <= m.simulated_ms + 1e-9, "{}: spike at {last} ms after the end {} ms", p.name, m.simulated_ms);
        // CUBA's populations fire at ≈ 5 Hz: one with no spike in the last 50 ms was cut early.
        assert!(last > m.simulated_ms - 50.0, "{}: last spike {last} ms, run reached {} ms", p.name, m.simulated_ms);
    }
    for r in &m.files.reports {
        let report = laminar_record::read_report(&dir.join(&r.file)).expect("report");
        let expected = (m.simulated_ms / r.interval_ms).round() as usize;
        assert_eq!(
            report.n_frames, expected,
            "{}: frames for {} ms every {} ms",
            r.file, m.simulated_ms, r.interval_ms
        );
    }
    readback(dir);
    m
}

#[test]
fn sigint_stops_at_a_step_boundary_and_leaves_a_valid_recording() {
    let dir = temp_dir("sigint");
    let mut child = start_long_cuba_run(&dir);
    signal_when_running(&child, &dir, "INT");
    let code = child.wait().expect("wait").code();
    assert_eq!(code, Some(130), "an interrupted run exits with 130");
    check_cut_at_one_boundary(&dir, "interrupted by SIGINT");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sigterm_stops_like_sigint_and_exits_143() {
    let dir = temp_dir("sigterm");
    let child = start_long_cuba_run(&dir);
    signal_when_running(&child, &dir, "TERM");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(143), "SIGTERM exits with 128 + 15");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("stopped early at"), "{stdout}");
    check_cut_at_one_boundary(&dir, "interrupted by SIGTERM");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_signal_during_the_build_ends_the_command_at_once_and_writes_nothing() {
    // The Potjans-Diesmann microcircuit at a fifth of its size takes ≈ 0.6 s to build on an idle
    // machine (12 M synapses); the signal comes 150 ms after the start, during the build.
    let dir = temp_dir("sigterm-build");
    let child = Command::new(env!("CARGO_BIN_EXE_laminar"))
        .args(["run", "models/potjans_diesmann.toml", "--set", "n_scaling=0.2", "--set", "k_scaling=0.2", "--out"])
        .arg(&dir)
        .arg("--quiet")
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start laminar");
    std::thread::sleep(Duration::from_millis(150));
    let sent = Instant::now();
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let output = child.wait_with_output().expect("wait");
    let waited = sent.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("SIGTERM while the model was being built; nothing was written"), "{stderr}");
    assert!(!dir.exists(), "the output directory was created before the run began");
    assert!(waited < Duration::from_millis(400), "the command took {waited:?} to end after the signal");
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`"2m"`) with `options` at a fresh directory; `None`, with the
    /// reason printed, where mounting is not allowed (not root, no mount in a container).
    fn mount(label: &str, size: &str, options: &str) -> Option<Self> {
        let point = temp_dir(label);
        std::fs::create_dir_all(&point).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}{options}"), "tmpfs"])
            .arg(&point)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self(point)),
            Ok(o) => {
                println!("skipped: cannot mount a tmpfs (needs root): {}", String::from_utf8_lossy(&o.stderr).trim());
                std::fs::remove_dir(&point).ok();
                None
            }
            Err(e) => {
                println!("skipped: cannot run mount: {e}");
                std::fs::remove_dir(&point).ok();
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_full_disk_stops_the_run_at_a_step_boundary_with_valid_files() {
    // A 2 MB tmpfs: CUBA's recording (spikes and two voltage reports) fills it after a few
    // simulated seconds. A real ENOSPC, as a user meets it; RLIMIT_FSIZE would instead raise
    // SIGXFSZ / EFBIG per file, which is another failure.
    let Some(disk) = Tmpfs::mount("full-disk", "2m", "") else { return };
    let dir = disk.0.join("run");
    let out = dir.to_str().unwrap();
    let (code, text) = laminar(&["run", "models/cuba.toml", "--out", out, "--quiet"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("No space left on device (os error 28)"), "{text}");
    assert_eq!(text.lines().count(), 1, "one line, no HDF5 stack: {text}");
    assert!(text.contains(&format!("the recording in {out} holds everything up to")), "{text}");
    let m = check_cut_at_one_boundary(&dir, "No space left on device");
    assert!(m.simulated_ms < 10000.0);
    assert!(!dir.join(laminar_record::RESERVE_FILE_NAME).exists(), "the space reserve was left behind");
}

#[test]
fn a_numerical_instability_stops_the_run_naming_the_neuron_with_a_valid_recording() {
    // NEST stops an aeif_cond_alpha network with NumericalInstability once |w| > 10⁶ pA; the
    // first spike here jumps w by b = 3·10⁶ pA. The run must stop there, not record garbage.
    let dir = temp_dir("instability");
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("unstable.toml");
    std::fs::write(
        &model,
        "[simulation]\nresolution_ms = 0.1\nduration_ms = 200.0\nseed = 1\n\n\
         [populations.adex]\nmodel = \"aeif_cond_alpha\"\nsize = 3\nparams = { I_e = 800.0, b = 3e6 }\n\n\
         [recording]\nspikes = [\"adex\"]\n\n[[recording.variables]]\npopulation = \"adex\"\n\
         variable = \"w\"\ninterval_ms = 0.1\nnodes = [0, 1, 2]\n",
    )
    .unwrap();
    let out = dir.join("run");
    let (code, text) = laminar(&["run", model.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, 2, "{text}");
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    assert!(
        text.contains(
            "population `adex` (aeif_cond_alpha), neuron 0, in the step ending at 17.8 ms: numerical instability"
        ),
        "{text}"
    );
    let m = check_cut_at_one_boundary(&out, "numerical instability");
    assert!((m.simulated_ms - 17.8).abs() < 1e-9, "{}", m.simulated_ms);
}

#[test]
fn an_unwritable_output_directory_is_one_line_naming_the_file() {
    let Some(disk) = Tmpfs::mount("read-only", "1m", ",ro") else { return };
    let out = disk.0.to_str().unwrap();
    let (code, text) = laminar(&["run", "models/cuba.toml", "--out", out, "--duration", "10"]);
    assert_eq!(code, 2, "{text}");
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    assert!(text.contains("Read-only file system (os error 30)"), "{text}");
    assert_eq!(text.matches("spikes.h5").count(), 1, "the file named once: {text}");
}

#[test]
fn an_output_path_under_a_regular_file_is_refused_naming_it() {
    let dir = temp_dir("under-file");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a_file");
    std::fs::write(&file, b"").unwrap();
    let out = file.join("run");
    let (code, text) = laminar(&["run", "models/cuba.toml", "--out", out.to_str().unwrap(), "--duration", "10"]);
    assert_eq!(code, 2, "{text}");
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    assert!(text.contains(out.to_str().unwrap()), "{text}");
    // `build --export` onto a regular file names it too.
    let (code, text) = laminar(&["build", "models/cuba.toml", "--export", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{text}");
    let error = text.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("no error line: {text}"));
    assert!(error.contains(file.to_str().unwrap()), "{error}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_reused_output_directory_is_replaced_only_with_force_and_foreign_ones_are_refused() {
    let dir = temp_dir("reuse");
    let out = dir.to_str().unwrap();
    let (code, text) = laminar(&["run", "models/demo.toml", "--out", out, "--duration", "20", "--quiet"]);
    assert_eq!(code, 0, "{text}");
    let demo = Manifest::read(&dir).expect("demo manifest");
    let demo_reports: Vec<String> = demo.files.reports.iter().map(|r| r.file.clone()).collect();
    std::fs::write(dir.join("notes.txt"), b"mine").unwrap();

    // Without --force: refused, nothing touched.
    let (code, text) = laminar(&["run", "models/cuba.toml", "--out", out, "--duration", "20", "--quiet"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("--force") && text.contains(out), "{text}");
    assert_eq!(Manifest::read(&dir).unwrap(), demo);

    // With --force: the demo's files go, the user's file stays.
    let (code, text) = laminar(&["run", "models/cuba.toml", "--out", out, "--duration", "20", "--quiet", "--force"]);
    assert_eq!(code, 0, "{text}");
    let cuba = Manifest::read(&dir).unwrap();
    assert!(cuba.model_path.ends_with("cuba.toml"));
    let current: Vec<String> = cuba.files.reports.iter().map(|r| r.file.clone()).collect();
    for stale in demo_reports.iter().filter(|f| !current.contains(f)) {
        assert!(!dir.join(stale).exists(), "{stale} of the earlier run is still there");
    }
    assert_eq!(std::fs::read(dir.join("notes.txt")).unwrap(), b"mine");
    readback(&dir);

    // A non-empty directory that is no recording is refused even with --force, naming its files.
    std::fs::remove_file(dir.join("manifest.json")).unwrap();
    let (code, text) = laminar(&["run", "models/cuba.toml", "--out", out, "--duration", "20", "--force"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("not empty") && text.contains("notes.txt") && text.contains(out), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_closed_stdout_is_a_quiet_exit_not_a_panic() {
    // `laminar build … --export DIR | head -1`: the table is read, the pipe closed, and the
    // export's "wrote …" line then meets a closed pipe.
    let dir = temp_dir("broken-pipe");
    let mut child = Command::new(env!("CARGO_BIN_EXE_laminar"))
        .args(["build", "models/columns/laminar_column.toml", "--export"])
        .arg(&dir)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start laminar");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("read a line");
    assert!(!first.is_empty());
    // The reader is dropped here: the pipe is closed.
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_run_summary_uses_the_field_s_conventions() {
    let dir = temp_dir("summary");
    let (code, text) =
        laminar(&["run", "models/cuba.toml", "--out", dir.to_str().unwrap(), "--duration", "300", "--quiet"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(" 1 thread,"), "{text}");
    assert!(text.contains("300.0 ms simulated"), "{text}");
    let rtf_line = text.lines().find(|l| l.contains("real-time factor")).expect("real-time factor");
    assert!(rtf_line.contains("(wall / simulated"), "{rtf_line}");
    // The factor printed is wall time over simulated time.
    let number = |after: &str, line: &str| -> f64 {
        let rest = &line[line.find(after).unwrap() + after.len()..];
        rest.trim_start().split([' ', ',']).next().unwrap().parse().unwrap()
    };
    let wall = number("simulate", rtf_line);
    let rtf = number("real-time factor", rtf_line);
    assert!((rtf - wall / 0.3).abs() <= 0.002 + 0.01 * rtf, "factor {rtf} for {wall} s wall over 0.3 s: {rtf_line}");
    std::fs::remove_dir_all(&dir).ok();
}

// ---------------------------------------------------------------- checkpoints

/// Asserts that two recordings hold the same spikes, frames and weights, bit for bit.
fn assert_same_recording(a: &Path, b: &Path) {
    let (ma, mb) = (Manifest::read(a).expect("manifest a"), Manifest::read(b).expect("manifest b"));
    assert!(ma.completed && mb.completed, "both runs must be complete");
    assert_eq!(ma.simulated_ms, mb.simulated_ms);
    let (sa, sb) = (
        laminar_record::read_spikes(&a.join("spikes.h5")).expect("spikes a"),
        laminar_record::read_spikes(&b.join("spikes.h5")).expect("spikes b"),
    );
    assert_eq!(sa.len(), sb.len());
    for (pa, pb) in sa.iter().zip(&sb) {
        assert!(!pa.timestamps.is_empty(), "{}: no spikes", pa.name);
        assert_eq!(pa.node_ids, pb.node_ids, "{}: node ids", pa.name);
        let bits = |t: &[f64]| t.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&pa.timestamps), bits(&pb.timestamps), "{}: spike times", pa.name);
        assert_eq!(pa.sorting, pb.sorting);
    }
    assert_eq!(ma.files.reports.len(), mb.files.reports.len());
    for r in &ma.files.reports {
        let (ra, rb) = (
            laminar_record::read_report(&a.join(&r.file)).expect("report a"),
            laminar_record::read_report(&b.join(&r.file)).expect("report b"),
        );
        assert_eq!(ra, rb, "{}: report", r.file);
    }
}

/// Runs CUBA for `ms` into `dir`, uninterrupted.
fn cuba_reference(dir: &Path, ms: &str) {
    let (code, text) =
        laminar(&["run", "models/cuba.toml", "--out", &dir.display().to_string(), "--duration", ms, "--quiet"]);
    assert_eq!(code, 0, "{text}");
}

#[test]
fn sigterm_with_checkpoint_at_exit_then_resume_equals_the_uninterrupted_run() {
    let (reference, dir) = (temp_dir("ckpt-term-ref"), temp_dir("ckpt-term"));
    cuba_reference(&reference, "40000");
    let child = Command::new(env!("CARGO_BIN_EXE_laminar"))
        .args(["run", "models/cuba.toml", "--out"])
        .arg(&dir)
        .args(["--duration", "40000", "--quiet", "--checkpoint-at-exit"])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start laminar");
    signal_when_running(&child, &dir, "TERM");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(143), "{}", String::from_utf8_lossy(&output.stderr));
    let stopped = Manifest::read(&dir).expect("manifest");
    assert!(!stopped.completed && stopped.simulated_ms < 40000.0, "the run must have been stopped early");
    let (code, text) = laminar(&["resume", &dir.display().to_string(), "--quiet", "--threads", "1"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("resumed at"), "{text}");
    assert_same_recording(&reference, &dir);
    let m = Manifest::read(&dir).expect("manifest");
    assert_eq!(m.segments.len(), 2, "two segments: {:?}", m.segments);
    assert!(m.segments[0].outcome.as_deref().unwrap_or_default().contains("SIGTERM"), "{:?}", m.segments[0]);
    readback(&dir);
    std::fs::remove_dir_all(&reference).ok();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sigkill_then_resume_cuts_the_files_back_and_equals_the_uninterrupted_run() {
    let (reference, dir) = (temp_dir("ckpt-kill-ref"), temp_dir("ckpt-kill"));
    cuba_reference(&reference, "40000");
    let child = Command::new(env!("CARGO_BIN_EXE_laminar"))
        .args(["run", "models/cuba.toml", "--out"])
        .arg(&dir)
        .args(["--duration", "40000", "--quiet", "--checkpoint-every", "3000"])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start laminar");
    // Kill it once a checkpoint exists and the run has gone on past it.
    for _ in 0..400 {
        if dir.join("checkpoint.bin").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("kill").args(["-KILL", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let mut child = child;
    let _ = child.wait();
    assert!(dir.join("checkpoint.bin").exists(), "a checkpoint must have been written before the kill");
    let (code, text) = laminar(&["resume", &dir.display().to_string(), "--quiet"]);
    assert_eq!(code, 0, "{text}");
    assert_same_recording(&reference, &dir);
    readback(&dir);
    std::fs::remove_dir_all(&reference).ok();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn resume_refuses_what_it_cannot_continue_with_one_clear_line() {
    // No checkpoint.
    let dir = temp_dir("ckpt-none");
    cuba_reference(&dir, "100");
    let (code, text) = laminar(&["resume", &dir.display().to_string()]);
    assert_ne!(code, 0);
    assert!(text.contains("no checkpoint to resume from") && text.contains("--checkpoint-every"), "{text}");
    // A finished run resumes only with a longer duration, and then extends it.
    std::fs::remove_dir_all(&dir).ok();
    let (code, text) = laminar(&[
        "run",
        "models/cuba.toml",
        "--out",
        &dir.display().to_string(),
        "--duration",
        "200",
        "--quiet",
        "--checkpoint-every",
        "100",
    ]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = laminar(&["resume", &dir.display().to_string()]);
    assert_ne!(code, 0);
    assert!(text.contains("already at 200 ms") && text.contains("--duration"), "{text}");
    // A corrupted checkpoint is refused, naming the file.
    let path = dir.join("checkpoint.bin");
    let mut bytes = std::fs::read(&path).expect("checkpoint");
    let k = bytes.len() / 2;
    bytes[k] ^= 0xff;
    std::fs::write(&path, &bytes).expect("write");
    let (code, text) = laminar(&["resume", &dir.display().to_string(), "--duration", "300"]);
    assert_ne!(code, 0);
    assert!(text.contains("checkpoint.bin") && text.contains("corrupted"), "{text}");
    assert_eq!(text.trim().lines().count(), 1, "one line: {text}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `mpirun -n 4` of a laminar built without MPI would run the model four times into one
/// directory: a process that a launcher says is one of several is refused, naming the fix. A
/// batch script's own environment (`SLURM_NTASKS`) is not a launcher's and runs as one process.
#[cfg(not(feature = "mpi"))]
#[test]
fn a_build_without_mpi_refuses_to_be_one_of_several_ranks() {
    let dir = temp_dir("no-mpi");
    let out = Command::new(env!("CARGO_BIN_EXE_laminar"))
        .args(["run", "models/cuba.toml", "--duration", "10", "--quiet", "--out"])
        .arg(&dir)
        .env("OMPI_COMM_WORLD_SIZE", "4")
        .current_dir(root())
        .output()
        .expect("laminar");
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("4 ranks") && text.contains("--features mpi"), "{text}");
    assert!(!dir.exists(), "nothing may be written");
    let out = Command::new(env!("CARGO_BIN_EXE_laminar"))
        .args(["run", "models/cuba.toml", "--duration", "10", "--quiet", "--out"])
        .arg(&dir)
        .env("SLURM_NTASKS", "4")
        .current_dir(root())
        .output()
        .expect("laminar");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&dir).ok();
}
