//! Helpers shared by the workspace-level integration tests: the repository root, scratch
//! directories, the Python readback of a recording, the shipped model files, and running the
//! `laminar` binary.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A scratch directory for this test process, removed first if it exists.
pub fn temp_dir(label: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("laminar-e2e-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Reads a recording back with h5py and libsonata (`tests/python/readback.py`); panics with its output on failure.
pub fn readback(dir: &Path) {
    let out = laminar_record::readback::run(dir).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "readback of {} failed:\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every model file under `models/` (and its subdirectories, such as `models/columns/`).
pub fn shipped_models() -> Vec<PathBuf> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for path in std::fs::read_dir(dir).expect("models/").filter_map(|e| e.ok().map(|e| e.path())) {
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|x| x == "toml") {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("models"), &mut files);
    files.sort();
    files
}

/// Runs `laminar ARGS` from the repository root; returns the exit code and stdout + stderr, and
/// fails the test if the binary panicked.
pub fn laminar(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_laminar")).args(args).current_dir(root()).output().expect("laminar");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("panicked"), "laminar panicked: {text}");
    (out.status.code().unwrap_or(-1), text)
}
