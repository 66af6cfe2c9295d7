//! Checking a recording with the real clients of the format: `tests/python/readback.py` opens
//! an output directory with h5py and libsonata and compares both with the manifest.
//!
//! `tests/python/circuit_readback.py` (beside it, sharing its checks) does the same for a circuit export
//! (`nodes.h5`, `edges.h5` and their type CSV files, see [`run_circuit`]).
//!
//! The interpreter is `$LAMINAR_PYTHON` when set (the setup script points it at a project venv
//! on systems whose Python is externally managed), else `python3`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The Python interpreter used for readback checks.
pub fn python() -> String {
    std::env::var("LAMINAR_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// The readback script in the source tree.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/readback.py")
}

/// Runs the readback script on `dir`. Errors say how to install the readers when they are
/// missing.
pub fn run(dir: &Path) -> Result<Output, String> {
    check_readers()?;
    Command::new(python()).arg(script()).arg(dir).output().map_err(|e| format!("running {}: {e}", script().display()))
}

/// Fails, saying how to install them, when h5py, libsonata or numpy cannot be imported.
fn check_readers() -> Result<(), String> {
    let py = python();
    match Command::new(&py).args(["-c", "import h5py, libsonata, numpy"]).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Err(format!(
                "{py} lacks h5py, libsonata or numpy: pip install h5py libsonata numpy (or run scripts/setup.sh --python)\n{}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Err(e) => return Err(format!("cannot run {py} ({e}); install python3 with h5py, libsonata and numpy")),
    }
    Ok(())
}

/// The circuit readback script in the source tree.
pub fn circuit_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/circuit_readback.py")
}

/// Exit status of the circuit readback script when `--bmtk` was asked for and bmtk is not
/// importable.
pub const BMTK_MISSING: i32 = 4;

/// Runs the circuit readback script on `dir` (which must also hold the `expected.json` it
/// compares with), with `--bmtk` when `bmtk` is set. Errors say how to install h5py, libsonata
/// and numpy when they are missing; a missing bmtk is the script's exit status [`BMTK_MISSING`].
pub fn run_circuit(dir: &Path, bmtk: bool) -> Result<Output, String> {
    check_readers()?;
    let mut command = Command::new(python());
    command.arg(circuit_script()).arg(dir);
    if bmtk {
        command.arg("--bmtk");
    }
    command.output().map_err(|e| format!("running {}: {e}", circuit_script().display()))
}
