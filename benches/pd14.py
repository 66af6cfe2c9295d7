#!/usr/bin/env python3
"""The Potjans-Diesmann microcircuit at full scale: laminar's build and run against NEST's figures.

    python3 benches/pd14.py [--threads 2] [--seed 55] [--duration 1500] [--laminar PATH] [--keep DIR]

Runs two whole processes of the release binary (build it first: `cargo build --release`):

1. `laminar run models/potjans_diesmann.toml --out DIR`: construction, 1.5 s of biological time
   and the recording, timed from start to exit, with the peak resident memory of the process
   (getrusage of the child, so nothing but Python is needed).
2. `laminar build models/potjans_diesmann.toml`: construction alone, which prints the realised
   synapse count, the all-in memory per synapse (connectivity, buffers and neuron state, as the
   engine accounts it) and the synapses built per second.

Then it prints the per-population rates over [500, 1500) ms against the reference rates of
`data/reference/pd14/pd14.json` (`reference_rates_hz_one_nest_run`; needs h5py, skipped without it) and a Markdown table of the
ratios to NEST 3.10 on this machine as the column issue states them: 126 s to build, 101 s per
simulated second, 14.5 GB peak with 2 threads (NEST's figures are not re-measured by this script:
the same network in NEST takes some five minutes and 15 GB; `benches/nest_pd14.py` builds and runs
it there, for a side-by-side measurement).

Full scale needs about 5 GB of memory and, on two cores, about 25 s for the run plus 12 s for the
separate build. Timings mean something only on a quiet machine (check `uptime`).
"""

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models", "potjans_diesmann.toml")
REFERENCE = os.path.join(ROOT, "data", "reference", "pd14", "pd14.json")

# NEST 3.10 on this machine, 2 threads (the column issue's figures).
NEST_BUILD_S = 126.0
NEST_SIMULATE_S_PER_S = 101.0
NEST_PEAK_GB = 14.5
POPULATIONS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]


def run(cmd):
    """Runs cmd as a whole process; returns (stdout, wall seconds). Exits on failure."""
    print("pd14.py: " + " ".join(cmd), file=sys.stderr)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"pd14.py: {cmd[1]} failed (exit {p.returncode}):\n{p.stderr}")
    return p.stdout, wall


def find(pattern, text, what):
    m = re.search(pattern, text)
    if not m:
        sys.exit(f"pd14.py: could not find {what} in the output:\n{text}")
    return m


def reference_rates():
    try:
        with open(REFERENCE) as f:
            ref = json.load(f)
    except OSError:
        return None
    # One full-scale NEST run (the file's note: compare within 10-20 % per population).
    return ref.get("reference_rates_hz_one_nest_run")


def measured_rates(out_dir, t0_ms, t1_ms):
    try:
        import h5py
    except ImportError:
        print("pd14.py: h5py missing: rates skipped (pip install h5py)", file=sys.stderr)
        return None
    with open(os.path.join(out_dir, "manifest.json")) as f:
        sizes = {p["name"]: p["size"] for p in json.load(f)["populations"]}
    rates = {}
    with h5py.File(os.path.join(out_dir, "spikes.h5"), "r") as f:
        for name in POPULATIONS:
            t = f["spikes"][name]["timestamps"][:]
            rates[name] = float(((t >= t0_ms) & (t < t1_ms)).sum()) / sizes[name] / ((t1_ms - t0_ms) / 1000.0)
    return rates


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=55)
    ap.add_argument("--duration", type=float, default=1500.0, help="biological time in ms")
    ap.add_argument("--laminar", default=os.path.join(ROOT, "target", "release", "laminar"))
    ap.add_argument("--keep", help="write the recording here instead of a temporary directory")
    args = ap.parse_args()
    if not os.access(args.laminar, os.X_OK):
        sys.exit(f"pd14.py: no laminar binary at {args.laminar} (cargo build --release)")

    common = ["--threads", str(args.threads), "--seed", str(args.seed)]
    # The run first: getrusage reports the largest child so far, so this is the run's own peak.
    out_dir = args.keep or tempfile.mkdtemp(prefix="laminar-pd14.")
    text, wall = run([args.laminar, "run", MODEL, "--out", out_dir, "--duration", str(args.duration)] + common)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak_gb = peak_kb * 1024 / 1e9
    times = find(r"build ([0-9.]+) s, simulate ([0-9.]+) s wall", text, "the run's build and simulate times")
    run_build_s, simulate_s = float(times.group(1)), float(times.group(2))

    text, build_wall = run([args.laminar, "build", MODEL] + common)
    total = find(r"total: (\d+) neurons, (\d+) synapses, .*?\(([0-9.]+) bytes per synapse\); "
                 r"built in ([0-9.]+) s on \d+ threads \(([0-9.e+]+) synapses/s\)", text, "the build total")
    neurons, synapses = int(total.group(1)), int(total.group(2))
    bytes_per_synapse, build_s, synapses_per_s = float(total.group(3)), float(total.group(4)), float(total.group(5))
    seconds = args.duration / 1000.0

    nest_whole = NEST_BUILD_S + NEST_SIMULATE_S_PER_S * seconds
    print()
    print(f"## Potjans-Diesmann full scale: {neurons} neurons, {synapses:.3e} synapses, "
          f"{args.threads} threads, seed {args.seed}, {args.duration:g} ms")
    print()
    print("| quantity | laminar | NEST 3.10 | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| whole process (build + {args.duration:g} ms + exit) | {wall:.1f} s | {nest_whole:.1f} s | "
          f"{nest_whole / wall:.2f}× |")
    print(f"| build (in the run) | {run_build_s:.1f} s | {NEST_BUILD_S:.0f} s | {NEST_BUILD_S / run_build_s:.1f}× |")
    print(f"| simulate, per simulated second | {simulate_s / seconds:.1f} s | {NEST_SIMULATE_S_PER_S:.0f} s | "
          f"{NEST_SIMULATE_S_PER_S * seconds / simulate_s:.2f}× |")
    print(f"| peak memory of the run | {peak_gb:.2f} GB ({peak_kb * 1024 / synapses:.1f} bytes/synapse) | "
          f"{NEST_PEAK_GB} GB ({NEST_PEAK_GB * 1e9 / synapses:.0f} bytes/synapse) | "
          f"{NEST_PEAK_GB / peak_gb:.1f}× less |")
    print(f"| synapses built per second (`laminar build`: {build_s:.1f} s to build, {build_wall:.1f} s whole process) | "
          f"{synapses_per_s:.3g} | {synapses / NEST_BUILD_S:.3g} | {synapses_per_s * NEST_BUILD_S / synapses:.1f}× |")
    print(f"| engine memory per synapse, all-in (`laminar build`) | {bytes_per_synapse:.1f} B | | |")

    if args.duration >= 1500.0:
        rates = measured_rates(out_dir, 500.0, 1500.0)
        ref = reference_rates()
        if rates:
            print()
            print("| population | rate over [500, 1500) ms (Hz) | reference (Hz) | deviation |")
            print("|---|---:|---:|---:|")
            for name in POPULATIONS:
                r = ref.get(name) if ref else None
                dev = f"{(rates[name] - r) / r * 100:+.1f} %" if r else "-"
                print(f"| {name} | {rates[name]:.3f} | {r if r else '-'} | {dev} |")
    if not args.keep:
        shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
