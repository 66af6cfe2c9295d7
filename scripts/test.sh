#!/usr/bin/env bash
# Quick start (2): set up, then run every check CI runs: formatting, clippy (warnings are
# errors), and all tests — NEST parity, determinism, end to end, and the Python readback of
# recordings with h5py and libsonata.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --python
if [ -x .venv/bin/python ]; then export LAMINAR_PYTHON="$PWD/.venv/bin/python"; fi
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo test --locked --workspace --release
