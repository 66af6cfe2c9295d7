#!/usr/bin/env bash
# Macro benchmarks: laminar against NEST on this machine, whole processes, side by side.
#
#   benches/macro.sh [--quick] [--nest-sparse] [--brian2 PYTHON] [--threads T] [--repeat R] [--no-build]
#
#   --quick        skip the NEST CUBA 40,000 run (about two minutes on a laptop-class machine)
#   --nest-sparse  also run the sparse-drive scenario in NEST (slow: NEST steps every neuron)
#   --brian2 PY    also run CUBA 4000 and 40,000 in Brian 2 (C++ standalone) with the interpreter
#                  PY, which has brian2 (Brian 2.9 needs numpy < 2.3: give it its own venv,
#                  `python3 -m venv V && V/bin/pip install brian2 'numpy<2.3'`); each program is
#                  compiled once before the rounds, and only its run is timed
#   --threads T    threads for both simulators (default 2)
#   --repeat R     run every case R times, in R interleaved rounds, and report the fastest run
#                  and the median wall (default 1)
#   --no-build     use the existing release binary instead of running cargo build first
#
# Needs only the repository (cargo) and PyNEST (`pip install nest-simulator`); PYTHON selects the
# interpreter (default python3). Without NEST, the NEST rows say so and the laminar rows still run.
# Prints a Markdown table of build, simulate and whole-process wall times, firing rates, and the
# ratios the project's targets refer to. Raw outputs stay in a temporary directory (printed).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCHES="$ROOT/benches"
PY="${PYTHON:-python3}"
QUICK=0
NEST_SPARSE=0
BRIAN_PY=""
THREADS=2
REPEAT=1
BUILD=1

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --nest-sparse) NEST_SPARSE=1 ;;
        --brian2) BRIAN_PY="$2"; shift ;;
        --threads) THREADS="$2"; shift ;;
        --repeat) REPEAT="$2"; shift ;;
        --no-build) BUILD=0 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "macro.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

LOG="$(mktemp -d "${TMPDIR:-/tmp}/laminar-macro.XXXXXX")"
note() { echo "macro.sh: $*" >&2; }

if [ "$BUILD" = 1 ]; then
    note "building laminar (release)"
    (cd "$ROOT" && cargo build --release -p laminar-cli) >&2
fi
LAMINAR="${CARGO_TARGET_DIR:-$ROOT/target}/release/laminar"
[ -x "$LAMINAR" ] || { note "no binary at $LAMINAR"; exit 1; }

HAVE_NEST=0
NEST_VERSION="not installed"
if NEST_VERSION="$(PYNEST_QUIET=1 "$PY" -c 'import nest; print(nest.__version__)' 2>/dev/null | tail -n 1)"; then
    HAVE_NEST=1
else
    NEST_VERSION="not installed"
    note "PyNEST not importable with $PY: NEST rows are skipped (pip install nest-simulator)"
fi

now() {
    if [ -n "${EPOCHREALTIME:-}" ]; then echo "${EPOCHREALTIME/,/.}"; else date +%s.%N; fi
}

# Results per case: "wall build simulate rate" of the fastest run, or "-" if skipped or failed;
# WALLS: every run's whole-process wall, for the median.
declare -A RES WALLS
# Cases in the order they run: KEY and its command, kept until the rounds run them.
CASES=()
declare -A CMD

# run_case KEY command... : registers a case; every round runs each case once, in order, so
# laminar and NEST runs interleave and a drift of the machine's speed reaches both alike.
run_case() {
    local key="$1"; shift
    CASES+=("$key")
    CMD[$key]="$(printf '%q ' "$@")"
}

# run_once KEY ROUND: runs the case once, keeps the fastest run's fields and every wall.
run_once() {
    local key="$1" r="$2"
    [ "${RES[$key]:-}" = "-" ] && return 0
    local out="$LOG/$key.$r.out"
    note "$key (run $r/$REPEAT): ${CMD[$key]}"
    local t0 t1
    t0="$(now)"
    if ! eval "${CMD[$key]}" >"$out" 2>"$LOG/$key.$r.err"; then
        note "$key failed; see $LOG/$key.$r.err"
        tail -n 5 "$LOG/$key.$r.err" >&2 || true
        RES[$key]="-"
        return 0
    fi
    t1="$(now)"
    local parsed
    parsed="$(sed -n 's/.*build \([0-9.]*\) s, simulate \([0-9.]*\) s, rate \([0-9.]*\) Hz.*/\1 \2 \3/p' "$out" | tail -n 1)"
    if [ -z "$parsed" ]; then
        note "$key: could not parse output:"; cat "$out" >&2
        RES[$key]="-"
        return 0
    fi
    local wall best="${RES[$key]:-}"
    wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
    note "$key: wall $wall s; $(cat "$out")"
    WALLS[$key]="${WALLS[$key]:-} $wall"
    if [ -z "$best" ] || awk -v w="$wall" -v b="${best%% *}" 'BEGIN { exit !(w < b) }'; then
        RES[$key]="$wall $parsed"
    fi
}

# median KEY: the median whole-process wall of the case's runs, or "-".
median() {
    if [ "${RES[$1]:--}" = "-" ]; then echo "-"; return; fi
    echo "${WALLS[$1]}" | tr ' ' '\n' | sed '/^$/d' | sort -g |
        awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

skip() { RES[$1]="-"; }

# ---------------------------------------------------------------- the runs

load_before="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"

# CUBA drives every neuron every few steps: laminar runs it clock-driven (`update =
# "clock-driven"`, as models/cuba.toml does); the event-driven runs are shown for comparison.
run_case lam_cuba4k "$LAMINAR" bench cuba --n 4000 --k 80 --duration 10000 --threads "$THREADS" --update clock-driven
run_case lam_cuba4k_ev "$LAMINAR" bench cuba --n 4000 --k 80 --duration 10000 --threads "$THREADS" --update event-driven
if [ "$HAVE_NEST" = 1 ]; then
    run_case nest_cuba4k "$PY" "$BENCHES/nest_cuba.py" --n 4000 --k 80 --duration 10000 --threads "$THREADS"
else skip nest_cuba4k; fi

run_case lam_cuba40k "$LAMINAR" bench cuba --n 40000 --k 80 --duration 10000 --threads "$THREADS" --update clock-driven
run_case lam_cuba40k_ev "$LAMINAR" bench cuba --n 40000 --k 80 --duration 10000 --threads "$THREADS" --update event-driven
if [ "$HAVE_NEST" = 1 ] && [ "$QUICK" = 0 ]; then
    run_case nest_cuba40k "$PY" "$BENCHES/nest_cuba.py" --n 40000 --k 80 --duration 10000 --threads "$THREADS"
else skip nest_cuba40k; fi

# Brian 2: code generation and compilation happen here, once; the cases time the compiled binary.
BRIAN_VERSION="not run"
for n in 4000 40000; do
    key="brian_cuba$((n / 1000))k"
    if [ -n "$BRIAN_PY" ] && { [ "$n" = 4000 ] || [ "$QUICK" = 0 ]; }; then
        note "compiling Brian 2 CUBA $n (not timed)"
        if "$BRIAN_PY" "$BENCHES/brian2_cuba.py" --dir "$LOG/$key" --n "$n" --k 80 --duration 10000 \
            --threads "$THREADS" >"$LOG/$key.compile" 2>&1; then
            BRIAN_VERSION="$(sed -n 's/^brian2 \([^:]*\):.*/\1/p' "$LOG/$key.compile")"
            note "$(tail -n 1 "$LOG/$key.compile")"
            run_case "$key" bash "$LOG/$key/run.sh"
        else
            note "Brian 2 failed to compile CUBA $n; see $LOG/$key.compile"; skip "$key"
        fi
    else skip "$key"; fi
done

run_case lam_sparse1 "$LAMINAR" bench sparse --n 100000 --driven 0.01 --duration 1000 --threads "$THREADS"
run_case lam_sparse100 "$LAMINAR" bench sparse --n 100000 --driven 1.0 --duration 1000 --threads "$THREADS"
if [ "$HAVE_NEST" = 1 ] && [ "$NEST_SPARSE" = 1 ]; then
    run_case nest_sparse1 "$PY" "$BENCHES/nest_sparse.py" --n 100000 --driven 0.01 --duration 1000 --threads "$THREADS"
    run_case nest_sparse100 "$PY" "$BENCHES/nest_sparse.py" --n 100000 --driven 1.0 --duration 1000 --threads "$THREADS"
else skip nest_sparse1; skip nest_sparse100; fi

for round in $(seq 1 "$REPEAT"); do
    for key in "${CASES[@]}"; do
        run_once "$key" "$round"
    done
done

load_after="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"

# ---------------------------------------------------------------- the table

field() { # field KEY INDEX (1 wall, 2 build, 3 simulate, 4 rate)
    local v="${RES[$1]:--}"
    if [ "$v" = "-" ]; then echo "-"; else echo "$v" | awk -v i="$2" '{ print $i }'; fi
}

# ratio NUM DEN: NUM/DEN formatted "12.3×", or "-".
ratio() {
    if [ "$1" = "-" ] || [ "$2" = "-" ]; then echo "-"; return; fi
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f×", a / b; else print "-" }'
}

# check VALUE OP LIMIT: "yes"/"**no**"/"-".
check() {
    local v="${1%×}"
    if [ "$v" = "-" ]; then echo "-"; return; fi
    awk -v v="$v" -v op="$2" -v l="$3" 'BEGIN { ok = (op == ">=") ? (v >= l) : (v < l); print ok ? "yes" : "**no**" }'
}

row() { # row KEY LABEL SIMULATOR
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$2" "$3" "$(field "$1" 2)" "$(field "$1" 3)" "$(field "$1" 1)" \
        "$(median "$1")" "$(field "$1" 4)"
}

echo
echo "## laminar vs NEST: macro benchmarks"
echo
echo "$(nproc 2>/dev/null || echo '?') cores, $THREADS threads, $REPEAT rounds (every case once per round, interleaved); build,"
echo "simulate and rate are those of the fastest run; load average before: $load_before, after: $load_after;"
echo "laminar $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?'), NEST $NEST_VERSION, Brian $BRIAN_VERSION (C++ standalone, compile time excluded); raw output in $LOG"
echo
echo "| case | simulator | build (s) | simulate (s) | wall, whole process, best (s) | wall, median (s) | rate (Hz) |"
echo "|---|---|---:|---:|---:|---:|---:|"
row lam_cuba4k "CUBA 4000 × 10 s" "laminar, clock-driven"
row lam_cuba4k_ev "CUBA 4000 × 10 s" "laminar, event-driven"
row nest_cuba4k "CUBA 4000 × 10 s" NEST
[ -n "$BRIAN_PY" ] && row brian_cuba4k "CUBA 4000 × 10 s" "Brian 2, C++ standalone (the binary's run)"
row lam_cuba40k "CUBA 40,000 (k = 80) × 10 s" "laminar, clock-driven"
row lam_cuba40k_ev "CUBA 40,000 (k = 80) × 10 s" "laminar, event-driven"
row nest_cuba40k "CUBA 40,000 (k = 80) × 10 s" NEST
[ -n "$BRIAN_PY" ] && row brian_cuba40k "CUBA 40,000 (k = 80) × 10 s" "Brian 2, C++ standalone (the binary's run)"
row lam_sparse1 "sparse 100,000, 1 % driven × 1 s" "laminar, event-driven"
row lam_sparse100 "sparse 100,000, 100 % driven × 1 s" "laminar, event-driven"
if [ "$NEST_SPARSE" = 1 ]; then
    row nest_sparse1 "sparse 100,000, 1 % driven × 1 s" NEST
    row nest_sparse100 "sparse 100,000, 100 % driven × 1 s" NEST
fi

r_cuba4k="$(ratio "$(median nest_cuba4k)" "$(median lam_cuba4k)")"
r_cuba4k_best="$(ratio "$(field nest_cuba4k 1)" "$(field lam_cuba4k 1)")"
r_cuba40k="$(ratio "$(median nest_cuba40k)" "$(median lam_cuba40k)")"
r_cuba40k_best="$(ratio "$(field nest_cuba40k 1)" "$(field lam_cuba40k 1)")"
# Both sparse runs simulate 1 s, so simulate-time ratios are ratios per simulated second.
r_sparse_sim="$(ratio "$(field lam_sparse100 3)" "$(field lam_sparse1 3)")"
r_sparse_wall="$(ratio "$(field lam_sparse100 1)" "$(field lam_sparse1 1)")"

echo
echo "| ratio | value | target | met |"
echo "|---|---:|---|---|"
echo "| CUBA 4000 × 10 s: NEST wall / laminar wall, medians (bests) | $r_cuba4k ($r_cuba4k_best) | ≥ 15× | $(check "$r_cuba4k" ">=" 15) |"
echo "| CUBA 4000 × 10 s: laminar wall, median | $(median lam_cuba4k) s | < 0.5 s | $(check "$(median lam_cuba4k)" "<" 0.5) |"
echo "| CUBA 40,000 × 10 s: NEST wall / laminar wall, medians (bests) | $r_cuba40k ($r_cuba40k_best) | ≥ 52.5× (< 2 s where NEST takes 105 s) | $(check "$r_cuba40k" ">=" 52.5) |"
echo "| CUBA 40,000 × 10 s: laminar wall, median | $(median lam_cuba40k) s | < 2 s (where NEST takes 105 s) | $(check "$(median lam_cuba40k)" "<" 2) |"
echo "| sparse 100,000: 100 % / 1 % driven, simulate time per simulated second | $r_sparse_sim | ≥ 20× | $(check "$r_sparse_sim" ">=" 20) |"
echo "| sparse 100,000: 100 % / 1 % driven, whole-process wall | $r_sparse_wall | — | |"
if [ -n "$BRIAN_PY" ]; then
    echo "| CUBA 4000 × 10 s: Brian 2 binary / laminar whole process, medians (bests) | $(ratio "$(median brian_cuba4k)" "$(median lam_cuba4k)") ($(ratio "$(field brian_cuba4k 1)" "$(field lam_cuba4k 1)")) | ≥ 10× | $(check "$(ratio "$(median brian_cuba4k)" "$(median lam_cuba4k)")" ">=" 10) |"
    echo "| CUBA 40,000 × 10 s: Brian 2 binary / laminar whole process, medians (bests) | $(ratio "$(median brian_cuba40k)" "$(median lam_cuba40k)") ($(ratio "$(field brian_cuba40k 1)" "$(field lam_cuba40k 1)")) | ≥ 10× | $(check "$(ratio "$(median brian_cuba40k)" "$(median lam_cuba40k)")" ">=" 10) |"
fi
if [ "$NEST_SPARSE" = 1 ]; then
    r_nest_sparse="$(ratio "$(field nest_sparse100 3)" "$(field nest_sparse1 3)")"
    echo "| sparse 100,000 in NEST: 100 % / 1 % driven, simulate time | $r_nest_sparse | — | |"
fi
