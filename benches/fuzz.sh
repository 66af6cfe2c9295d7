#!/usr/bin/env bash
# The model-file fuzz harness (tests/fuzz_models.rs) at benchmark scale: by default 1,000,000
# cases instead of the CI test's 10,000, in release mode, with progress every 30 s and the
# summary (accepted / rejected / built and run / skipped / failures by class, time per case).
#
#   benches/fuzz.sh [CASES] [SEED]
#
#   CASES  number of cases (default 1000000; about 5 ms each on average on 2 cores once no case hangs)
#   SEED   LAMINAR_FUZZ_SEED, decimal or 0x hex (default: the harness's fixed seed)
#
# Each failure class is written as a replayable case under target/tmp/fuzz-failures/; re-run one
# with LAMINAR_FUZZ_REPLAY=target/tmp/fuzz-failures/<class>-<n>.toml cargo test --release \
#   -p laminar-cli --test fuzz_models -- --nocapture
# Exits non-zero when any case failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CASES="${1:-1000000}"
export LAMINAR_FUZZ_CASES="$CASES"
if [ $# -ge 2 ]; then
    export LAMINAR_FUZZ_SEED="$2"
fi

cd "$ROOT"
echo "fuzzing $CASES model-file cases (release build of laminar-cli's fuzz_models test)" >&2
exec cargo test --release -p laminar-cli --test fuzz_models -- --nocapture --test-threads=1
