#!/usr/bin/env bash
# The targets of the attention circuits, measured: `laminar attention` on the standard inputs
# (n = 8 tokens, 8 queries, d = 8, d_v = 4, drawn by `laminar attention inputs`) for seeds 1-5.
#
#   benches/attention.sh [--circuit astro] [--heads H] [--seeds 1,2,3,4,5] [--threads T] [--out DIR] [--no-build]
#
# Per seed: the full circuit (--probe-weights), each baseline, a rerun on other spike trains with
# the same features (the noise ceiling), and the full circuit on one thread (bit-identical
# results); then the scaling in n (astro: 8-64; column: 8-32 at d = 4, d_v = 2) for the first
# three seeds (multihead: H heads, default 2, d_out = 4, n = 8-64). Prints Markdown
# tables (r_c against each reference, weights, baselines, wall times) for the README.
# Needs h5py and numpy (scripts/setup.sh --python); PYTHON selects the interpreter.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-${LAMINAR_PYTHON:-python3}}"
CIRCUIT=astro
HEADS=2
SEEDS=1,2,3,4,5
THREADS=2
OUT=""
BUILD=1
while [ $# -gt 0 ]; do
    case "$1" in
        --circuit) CIRCUIT="$2"; shift ;;
        --heads) HEADS="$2"; shift ;;
        --seeds) SEEDS="$2"; shift ;;
        --threads) THREADS="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        --no-build) BUILD=0 ;;
        *) echo "usage: $0 [--circuit NAME] [--heads H] [--seeds 1,2,...] [--threads T] [--out DIR] [--no-build]" >&2; exit 2 ;;
    esac
    shift
done
[ "$BUILD" -eq 1 ] && (cd "$ROOT" && cargo build --release --locked -p laminar-cli)
LAMINAR="$ROOT/target/release/laminar"
OUT="${OUT:-$(mktemp -d /tmp/laminar-attention-XXXX)}"
mkdir -p "$OUT"
echo "outputs in $OUT"

case "$CIRCUIT" in
    astro) BASELINES="no_astrocyte shuffled_memory"; SCALING_NS="8 16 32 64"; SCALING_DIMS="--dim 8 --dim-v 4" ;;
    # The column circuit grows with n (a column per token): scaled to n = 32 at d = 4, d_v = 2.
    column) BASELINES="passive_apical apical_to_basal"; SCALING_NS="8 16 32"; SCALING_DIMS="--dim 4 --dim-v 2" ;;
    # Areas as heads: H heads and W_O (d_out = 4); the memory does not grow with n.
    multihead) BASELINES="passive_apical shuffled_memory"; SCALING_NS="8 16 32 64"; SCALING_DIMS="--dim 8 --dim-v 4 --heads $HEADS --dim-out 4" ;;
    *) BASELINES=""; SCALING_NS="8 16 32 64"; SCALING_DIMS="--dim 8 --dim-v 4" ;;
esac
HEAD_ARGS=()
[ "$CIRCUIT" = multihead ] && HEAD_ARGS=(--heads "$HEADS" --dim-out 4)

for seed in ${SEEDS//,/ }; do
    qkv="$OUT/qkv_$seed.h5"
    "$LAMINAR" attention inputs --tokens 8 --queries 8 --dim 8 --dim-v 4 "${HEAD_ARGS[@]}" --seed "$seed" --out "$qkv" >/dev/null
    "$LAMINAR" attention "$CIRCUIT" --inputs "$qkv" --out "$OUT/full_$seed" --seed "$seed" --threads "$THREADS" --probe-weights --force >/dev/null
    for b in $BASELINES; do
        "$LAMINAR" attention "$CIRCUIT" --inputs "$qkv" --out "$OUT/${b}_$seed" --seed "$seed" --threads "$THREADS" --baseline "$b" --force >/dev/null
    done
    # Other spike trains, the same circuit (astro: the same random features).
    same_features=()
    [ "$CIRCUIT" = astro ] && same_features=(--set "attention.feature_seed=$seed")
    "$LAMINAR" attention "$CIRCUIT" --inputs "$qkv" --out "$OUT/ceiling_$seed" --seed "$((seed + 1000))" "${same_features[@]}" --threads "$THREADS" --force >/dev/null
    "$LAMINAR" attention "$CIRCUIT" --inputs "$qkv" --out "$OUT/one_thread_$seed" --seed "$seed" --threads 1 --force >/dev/null
done

scaling_seeds=$(echo "$SEEDS" | cut -d, -f1-3)
for n in $SCALING_NS; do
    for seed in ${scaling_seeds//,/ }; do
        qkv="$OUT/qkv_n${n}_$seed.h5"
        "$LAMINAR" attention inputs --tokens "$n" --queries 8 $SCALING_DIMS --seed "$seed" --out "$qkv" >/dev/null
        "$LAMINAR" attention "$CIRCUIT" --inputs "$qkv" --out "$OUT/scaling_n${n}_$seed" --seed "$seed" --threads "$THREADS" --force >/dev/null
    done
done

"$PY" "$ROOT/benches/attention_summary.py" "$OUT" "$SEEDS" "$scaling_seeds" "$BASELINES" "$SCALING_NS"
