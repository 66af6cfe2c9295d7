#!/usr/bin/env python3
"""The sparse-drive scenario in PyNEST (3.10), matching laminar's `scenarios::sparse`.

N `iaf_psc_exp` neurons at NEST's defaults except E_L -70, V_th -55, V_reset -70 mV,
tau_syn_ex = tau_syn_in = 2 ms; recurrent fixed_indegree 10 at 5 pA, delay 1 ms, no autapses,
no multapses; round(N * driven) neurons (every (N // n_driven)-th one, from neuron 0) each get
an independent 1-kHz Poisson train at 200 pA, delay 0.1 ms (one poisson_generator connected to
several targets gives each its own train in NEST). Resolution 0.1 ms.

Usage: nest_sparse.py [--n N] [--driven F] [--duration MS] [--threads T] [--seed S]

Prints one line in the same shape as `laminar bench`:
    nest sparse n=100000 threads=2: build 0.9 s, simulate 4.2 s, rate 3.1 Hz, synapses 1000000
"""

import argparse
import os
import sys
import time


def quiet_nest():
    os.environ.setdefault("PYNEST_QUIET", "1")
    import nest

    try:
        nest.verbosity = nest.VerbosityLevel.ERROR
    except AttributeError:  # NEST < 3.10
        nest.set_verbosity("M_ERROR")
    return nest


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--driven", type=float, default=0.01, help="fraction of neurons with Poisson drive")
    ap.add_argument("--duration", type=float, default=1000.0, help="simulated time in ms")
    ap.add_argument("--threads", type=int, default=1, help="local_num_threads")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    nest = quiet_nest()
    t0 = time.perf_counter()
    nest.ResetKernel()
    nest.SetKernelStatus(
        {"resolution": 0.1, "local_num_threads": args.threads, "rng_seed": args.seed, "print_time": False}
    )
    params = {"E_L": -70.0, "V_th": -55.0, "V_reset": -70.0, "tau_syn_ex": 2.0, "tau_syn_in": 2.0}
    neurons = nest.Create("iaf_psc_exp", args.n, params=params)
    nest.Connect(
        neurons,
        neurons,
        {"rule": "fixed_indegree", "indegree": 10, "allow_autapses": False, "allow_multapses": False},
        {"synapse_model": "static_synapse", "weight": 5.0, "delay": 1.0},
    )
    n_driven = round(args.n * args.driven)
    if n_driven > 0:
        stride = args.n // n_driven
        driven = neurons[[i * stride for i in range(n_driven)]]
        poisson = nest.Create("poisson_generator", params={"rate": 1000.0})
        nest.Connect(poisson, driven, "all_to_all", {"synapse_model": "static_synapse", "weight": 200.0, "delay": 0.1})
    recorder = nest.Create("spike_recorder")
    nest.Connect(neurons, recorder)
    build = time.perf_counter() - t0

    t1 = time.perf_counter()
    nest.Simulate(args.duration)
    simulate = time.perf_counter() - t1

    rate = recorder.n_events / args.n / (args.duration / 1000.0)
    print(
        f"nest sparse n={args.n} threads={args.threads}: build {build:.3f} s, simulate {simulate:.3f} s, "
        f"rate {rate:.3f} Hz, synapses {args.n * 10}, driven {n_driven}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
