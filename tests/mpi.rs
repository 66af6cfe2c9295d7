//! Runs over several MPI ranks give the same spikes and traces as one process (built and run only
//! with `--features mpi`, where `mpirun` exists: `scripts/test.sh` installs Open MPI and runs
//! these). Each case runs `mpirun -n R laminar run … --threads T` and compares the recording with
//! a one-process run bit for bit; a failure on one rank must end the whole job with its error.
#![cfg(feature = "mpi")]

use std::path::Path;
use std::process::Command;

mod common;
use common::{root, temp_dir};

/// `mpirun -n ranks laminar ARGS`, as root where needed, oversubscribed (4 ranks on 2 cores) and
/// yielding when idle; returns the exit code and the output.
fn mpirun(ranks: usize, args: &[&str]) -> (i32, String) {
    let out = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "--mca", "mpi_yield_when_idle", "1", "-n"])
        .arg(ranks.to_string())
        .arg(env!("CARGO_BIN_EXE_laminar"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("mpirun (Open MPI: scripts/setup.sh --mpi)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("panicked"), "a rank panicked: {text}");
    (out.status.code().unwrap_or(-1), text)
}

fn one_process(model: &str, dir: &Path, ms: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_laminar"))
        .args(["run", model, "--quiet", "--duration", ms, "--out"])
        .arg(dir)
        .current_dir(root())
        .output()
        .expect("laminar");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The spikes and every report of two recordings, bit for bit.
fn assert_same(a: &Path, b: &Path) {
    let (sa, sb) = (
        laminar_record::read_spikes(&a.join("spikes.h5")).expect("spikes"),
        laminar_record::read_spikes(&b.join("spikes.h5")).expect("spikes"),
    );
    assert!(sa.iter().map(|p| p.timestamps.len()).sum::<usize>() > 0, "no spikes");
    for (pa, pb) in sa.iter().zip(&sb) {
        assert_eq!(pa.node_ids, pb.node_ids, "{}", pa.name);
        let bits = |t: &[f64]| t.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&pa.timestamps), bits(&pb.timestamps), "{}", pa.name);
    }
    let m = laminar_record::Manifest::read(a).expect("manifest");
    for r in &m.files.reports {
        let (ra, rb) = (
            laminar_record::read_report(&a.join(&r.file)).expect("report"),
            laminar_record::read_report(&b.join(&r.file)).expect("report"),
        );
        assert_eq!(ra, rb, "{}", r.file);
    }
}

fn assert_ranks_match_one_process(model: &str, ms: &str, label: &str, layouts: &[(usize, usize)]) {
    let reference = temp_dir(&format!("mpi-{label}-ref"));
    one_process(model, &reference, ms);
    for &(ranks, threads) in layouts {
        let dir = temp_dir(&format!("mpi-{label}-{ranks}x{threads}"));
        let (code, text) = mpirun(
            ranks,
            &[
                "run",
                model,
                "--quiet",
                "--duration",
                ms,
                "--threads",
                &threads.to_string(),
                "--out",
                &dir.display().to_string(),
            ],
        );
        assert_eq!(code, 0, "{ranks} x {threads}: {text}");
        assert!(text.contains(&format!("{ranks} ranks x {threads} thread")), "{text}");
        assert_same(&reference, &dir);
        std::fs::remove_dir_all(&dir).ok();
    }
    std::fs::remove_dir_all(&reference).ok();
}

#[test]
fn cuba_on_2_and_4_ranks_gives_the_same_spikes_as_one_process() {
    assert_ranks_match_one_process("models/cuba.toml", "300", "cuba", &[(2, 1), (2, 2), (4, 1)]);
}

#[test]
fn the_reference_column_on_2_ranks_gives_the_same_spikes_as_one_process() {
    assert_ranks_match_one_process("models/columns/laminar_column.toml", "60", "column", &[(2, 1), (4, 1)]);
}

#[test]
fn a_failure_on_one_rank_ends_every_rank_with_its_error() {
    // Rank 0 cannot write its output directory (a regular file is in the way) while the other
    // ranks wait for it in the build's exchange: the job must end, not hang, and say why.
    let dir = temp_dir("mpi-fail");
    std::fs::create_dir_all(&dir).unwrap();
    let blocker = dir.join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let out = blocker.join("out");
    let (code, text) = mpirun(2, &["run", "models/cuba.toml", "--quiet", "--out", &out.display().to_string()]);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("rank 0") && text.contains("file"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_checkpoint_of_two_ranks_resumes_on_two_ranks_and_on_one_process() {
    // The uninterrupted run, one process.
    let reference = temp_dir("mpi-ckpt-ref");
    one_process("models/cuba.toml", &reference, "300");
    // Two ranks run 0-200 ms with checkpoints; copies of the directory resume to 300 ms on two
    // ranks (two threads each) and on one process.
    let dir = temp_dir("mpi-ckpt");
    let (code, text) = mpirun(
        2,
        &[
            "run",
            "models/cuba.toml",
            "--quiet",
            "--duration",
            "200",
            "--checkpoint-every",
            "70",
            "--out",
            &dir.display().to_string(),
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("checkpoints: 3 written"), "{text}");
    let copy = temp_dir("mpi-ckpt-copy");
    std::fs::create_dir_all(&copy).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    let (code, text) =
        mpirun(2, &["resume", &dir.display().to_string(), "--quiet", "--duration", "300", "--threads", "2"]);
    assert_eq!(code, 0, "{text}");
    assert_same(&reference, &dir);
    let out = Command::new(env!("CARGO_BIN_EXE_laminar"))
        .args(["resume", &copy.display().to_string(), "--quiet", "--duration", "300"])
        .current_dir(root())
        .output()
        .expect("laminar");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_same(&reference, &copy);
    for d in [reference, dir, copy] {
        std::fs::remove_dir_all(&d).ok();
    }
}
