#!/usr/bin/env bash
# Quick start (1): set up, build, and run the default model, writing a recording to out/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# cargo's own progress is shown: a first build takes a few minutes.
cargo build --release --locked -p laminar-cli
./target/release/laminar run models/demo.toml --out out/demo --force "$@"
./target/release/laminar inspect out/demo
