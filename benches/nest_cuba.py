#!/usr/bin/env python3
"""The CUBA benchmark in PyNEST (3.10), matching laminar's `scenarios::cuba`.

Brette et al. 2007 / Brian2 `examples/CUBA.py` on `iaf_psc_exp`: N neurons, 80 % excitatory,
E_L -49, V_th -50, V_reset -60 mV, C_m 250 pF, tau_m 20, tau_syn_ex 5, tau_syn_in 10,
t_ref 5 ms, V_m uniform in [-60, -50] mV; every population pair connected pairwise_bernoulli with
p = k/N, autapses allowed, no multapses; weights 20.25 pA (excitatory) and -112.5 pA
(inhibitory), delay 0.1 ms; resolution 0.1 ms.

Usage: nest_cuba.py [--n N] [--k K] [--duration MS] [--threads T] [--seed S]

Prints one line in the same shape as `laminar bench`:
    nest cuba n=4000 threads=2: build 0.512 s, simulate 6.789 s, rate 5.321 Hz, synapses 320000
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
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--k", type=float, default=80.0, help="mean in-degree (p = k/N)")
    ap.add_argument("--duration", type=float, default=10000.0, help="simulated time in ms")
    ap.add_argument("--threads", type=int, default=1, help="local_num_threads")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    nest = quiet_nest()
    t0 = time.perf_counter()
    nest.ResetKernel()
    nest.SetKernelStatus(
        {"resolution": 0.1, "local_num_threads": args.threads, "rng_seed": args.seed, "print_time": False}
    )
    params = {
        "E_L": -49.0,
        "V_th": -50.0,
        "V_reset": -60.0,
        "C_m": 250.0,
        "tau_m": 20.0,
        "tau_syn_ex": 5.0,
        "tau_syn_in": 10.0,
        "t_ref": 5.0,
    }
    n_exc = args.n * 4 // 5
    exc = nest.Create("iaf_psc_exp", n_exc, params=params)
    inh = nest.Create("iaf_psc_exp", args.n - n_exc, params=params)
    neurons = exc + inh
    neurons.V_m = nest.random.uniform(min=-60.0, max=-50.0)
    conn = {"rule": "pairwise_bernoulli", "p": args.k / args.n, "allow_autapses": True, "allow_multapses": False}
    nest.Connect(exc, neurons, conn, {"synapse_model": "static_synapse", "weight": 20.25, "delay": 0.1})
    nest.Connect(inh, neurons, conn, {"synapse_model": "static_synapse", "weight": -112.5, "delay": 0.1})
    recorder = nest.Create("spike_recorder")
    nest.Connect(neurons, recorder)
    build = time.perf_counter() - t0

    t1 = time.perf_counter()
    nest.Simulate(args.duration)
    simulate = time.perf_counter() - t1

    spikes = recorder.n_events
    rate = spikes / args.n / (args.duration / 1000.0)
    synapses = nest.GetKernelStatus("num_connections") - args.n  # minus the recorder's
    print(
        f"nest cuba n={args.n} threads={args.threads}: build {build:.3f} s, simulate {simulate:.3f} s, "
        f"rate {rate:.3f} Hz, synapses {synapses}"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
