#!/usr/bin/env bash
# Quick start (2): set up, then run every check CI runs: formatting, clippy and the API
# documentation (warnings are errors), and all tests — NEST parity, determinism, end to end,
# checkpoints, the Python readback of recordings with h5py and libsonata — and the MPI tests
# (`mpirun -n 2` and `-n 4` give the same spikes as one process), with Open MPI installed for them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --python --mpi
if [ -x .venv/bin/python ]; then export LAMINAR_PYTHON="$PWD/.venv/bin/python"; fi
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo clippy --locked --workspace --all-targets --features laminar-cli/mpi -- -D warnings
# The API documentation builds without warnings (broken or ambiguous links, stray HTML).
RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps
cargo test --locked --workspace --release
cargo test --locked --release -p laminar-cli --features mpi --test mpi
