//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses its own subset

pub mod run;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// A fresh directory under the system temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let unique =
            format!("laminar-record-{label}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(unique);
        // A leftover from a crashed earlier run with the same pid would otherwise leak into this one.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where a test writes its output directory: a temporary directory removed on drop, or, when
/// `LAMINAR_RECORD_KEEP_DIR` is set, a kept directory under it (to inspect the files by hand).
pub struct OutputDir {
    pub path: PathBuf,
    _temporary: Option<TempDir>,
}

impl OutputDir {
    pub fn new(label: &str) -> Self {
        match std::env::var_os("LAMINAR_RECORD_KEEP_DIR") {
            Some(root) => {
                let path = PathBuf::from(root).join(label);
                let _ = std::fs::remove_dir_all(&path);
                std::fs::create_dir_all(&path).expect("create the kept output directory");
                Self { path, _temporary: None }
            }
            None => {
                let temporary = TempDir::new(label);
                Self { path: temporary.path().to_path_buf(), _temporary: Some(temporary) }
            }
        }
    }
}

/// Serialises the tests of a binary that starts child processes.
///
/// HDF5 opens files without `O_CLOEXEC` and locks them with `flock`, so a child process started
/// while another test thread has an HDF5 file open inherits that descriptor, and with it the
/// lock: the other test then fails to reopen its own file until the child exits. Every test of
/// such a binary holds this guard for its whole duration.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    // A failed test poisons the lock; the tests after it are still meaningful.
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Environment variable through which a test re-runs itself as a child process that writes a
/// file and then dies without closing it (see [`run_child_that_dies`]).
pub const CHILD_TARGET_ENV: &str = "LAMINAR_RECORD_TEST_CHILD_TARGET";

/// The target path when this process is the child started by [`run_child_that_dies`].
pub fn child_target() -> Option<PathBuf> {
    std::env::var_os(CHILD_TARGET_ENV).map(PathBuf::from)
}

/// Runs test `test_name` of the current test binary in a child process with
/// [`CHILD_TARGET_ENV`] set to `target`; the test is expected to write there and abort. Returns
/// the child's exit status. Hold [`serial`] while calling it.
pub fn run_child_that_dies(test_name: &str, target: &Path) -> ExitStatus {
    let exe = std::env::current_exe().expect("path of the test binary");
    let output = Command::new(exe)
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(CHILD_TARGET_ENV, target)
        .output()
        .expect("start the child test process");
    assert!(
        !output.status.success(),
        "the child was supposed to abort; stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output.status
}

/// Ends the child process the way a crash or `kill -9` would: no destructor runs, no file is
/// closed.
pub fn die() -> ! {
    std::process::abort()
}
