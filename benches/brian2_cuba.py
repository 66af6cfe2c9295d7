#!/usr/bin/env python3
"""The CUBA benchmark in Brian 2 (C++ standalone), matching laminar's `scenarios::cuba` and
benches/nest_cuba.py.

Brette et al. 2007 / Brian 2's `examples/CUBA.py` written as NEST's `iaf_psc_exp`: N neurons, 80 %
excitatory, E_L -49, V_th -50, V_reset -60 mV, C_m 250 pF, tau_m 20, tau_syn_ex 5, tau_syn_in
10, t_ref 5 ms, V_m uniform in [-60, -50] mV; every pair connected with p = k/N (autapses
allowed); weights 20.25 pA and -112.5 pA as jumps of exponentially decaying currents, delay
0.1 ms; exact (linear) integration, dt 0.1 ms.

Usage: brian2_cuba.py --dir DIR [--n N] [--k K] [--duration MS] [--threads T] [--seed S]

Generates and compiles the standalone program into DIR (the compile time is printed, and is not
part of the benchmark) and writes DIR/run.sh, which runs the compiled binary and prints one line
in the shape of `laminar bench`:
    brian2 cuba n=4000 threads=2: build 0.000 s, simulate 2.150 s, rate 5.321 Hz
where `simulate` is the binary's whole run (Brian builds the synapses inside it) and the rate
comes from the spike monitor's output file (4 bytes per spike). benches/macro.sh compiles once
and times DIR/run.sh as a whole process. Brian 2.9 needs numpy < 2.3: give it its own
environment (benches/macro.sh --brian2 PYTHON).
"""

import argparse
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--k", type=float, default=80.0, help="mean in-degree (p = k/N)")
    ap.add_argument("--duration", type=float, default=10000.0, help="simulated time in ms")
    ap.add_argument("--threads", type=int, default=1, help="OpenMP threads")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    import brian2 as b

    out = os.path.abspath(args.dir)
    b.set_device("cpp_standalone", directory=out, build_on_run=False)
    b.prefs.devices.cpp_standalone.openmp_threads = args.threads
    b.defaultclock.dt = 0.1 * b.ms
    b.seed(args.seed)
    ns = {"E_L": -49 * b.mV, "V_th": -50 * b.mV, "V_reset": -60 * b.mV, "C_m": 250 * b.pF,
          "tau_m": 20 * b.ms, "tau_e": 5 * b.ms, "tau_i": 10 * b.ms}
    eqs = """
    dv/dt = (E_L - v) / tau_m + (ie + ii) / C_m : volt (unless refractory)
    die/dt = -ie / tau_e : amp
    dii/dt = -ii / tau_i : amp
    """
    neurons = b.NeuronGroup(args.n, eqs, threshold="v > V_th", reset="v = V_reset", refractory=5 * b.ms,
                            method="exact", namespace=ns)
    neurons.v = "V_reset + rand() * (V_th - V_reset)"
    n_exc = args.n * 4 // 5
    p = args.k / args.n
    exc = b.Synapses(neurons[:n_exc], neurons, on_pre="ie += 20.25*pA", delay=0.1 * b.ms)
    exc.connect(p=p)
    inh = b.Synapses(neurons[n_exc:], neurons, on_pre="ii -= 112.5*pA", delay=0.1 * b.ms)
    inh.connect(p=p)
    monitor = b.SpikeMonitor(neurons, record=True, name="spikes")  # noqa: F841 (run() collects it by name)
    b.run(args.duration * b.ms)
    t0 = time.perf_counter()
    b.device.build(directory=out, compile=True, run=False)
    compile_s = time.perf_counter() - t0
    with open(os.path.join(out, "run.sh"), "w") as f:
        f.write(f"""#!/usr/bin/env bash
# Runs the compiled Brian 2 CUBA program (benches/brian2_cuba.py) and prints its line.
set -euo pipefail
cd "$(dirname "${{BASH_SOURCE[0]}}")"
now() {{ if [ -n "${{EPOCHREALTIME:-}}" ]; then echo "${{EPOCHREALTIME/,/.}}"; else date +%s.%N; fi; }}
t0="$(now)"; ./main >/dev/null; t1="$(now)"
spikes=$(( $(stat -c %s results/_dynamic_array_spikes_i_*) / 4 ))
awk -v a="$t0" -v b="$t1" -v s="$spikes" 'BEGIN {{ printf "brian2 cuba n={args.n} threads={args.threads}: build 0.000 s, simulate %.3f s, rate %.3f Hz\\n", b - a, s / {args.n} / {args.duration / 1000.0} }}'
""")
    os.chmod(os.path.join(out, "run.sh"), 0o755)
    print(f"brian2 {b.__version__}: compiled {out} in {compile_s:.1f} s (not part of the benchmark)")


if __name__ == "__main__":
    sys.exit(main())
