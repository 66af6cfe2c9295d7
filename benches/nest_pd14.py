#!/usr/bin/env python3
"""The Potjans-Diesmann microcircuit in NEST, for a side-by-side timing with `benches/pd14.py`.

    python3 benches/nest_pd14.py [--threads 2] [--seed 55] [--duration 1500] [--scale 1.0]

Builds the network that `models/potjans_diesmann.toml` describes, from the parameters of
`data/reference/pd14/pd14.json` (the PyNEST example Potjans_2014's values, as tabulated there):
8 populations of `iaf_psc_exp`, fixed-total-number connections (K = ln(1-C)/ln((N_pre N_post -
1)/(N_pre N_post)), multapses and autapses allowed), weights normal(87.81 pA, 10 %) redrawn to keep
their sign (inhibitory x -4, L4E -> L23E x 2), delays normal(1.5 / 0.75 ms, 50 %) redrawn below
the resolution (one copy of `static_synapse` per source population: NEST stores at most 2^27
connections per thread and synapse model), a Poisson background of 8 Hz x K_ext per population (all_to_all, 87.81 pA,
1.5 ms), V_m from the "optimized" normal distributions, spikes of every neuron recorded to
memory. It is written here from those parameters (NEST's example itself is not in the pip
package). `--scale` scales neuron counts and in-degrees together (no DC compensation: for a
quick check only; timings mean something at 1.0).

Prints one line: build and simulate wall times, the whole process's time so far, the synapse
count, the peak resident memory and the mean rate per population over [500, duration) ms.
Needs PyNEST (`pip install nest-simulator`) and numpy. Full scale needs about 15 GB.
"""

import argparse
import json
import os
import resource
import time

START = time.time()

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, "data", "reference", "pd14", "pd14.json")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=55)
    ap.add_argument("--duration", type=float, default=1500.0)
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()
    with open(REFERENCE) as f:
        ref = json.load(f)

    import nest

    try:
        nest.verbosity = nest.VerbosityLevel.ERROR
    except AttributeError:  # NEST before 3.10
        nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    h = ref["simulation"]["resolution_ms"]
    nest.SetKernelStatus(
        {"resolution": h, "local_num_threads": args.threads, "rng_seed": args.seed, "print_time": False}
    )
    pops = ref["populations"]
    neuron = {k: v for k, v in ref["neuron"].items() if k != "model"}
    n = {p: max(1, int(round(ref["n_neurons"][p] * args.scale))) for p in pops}
    v0 = ref["initial_V_m_optimized"]
    w = ref["weights"]
    d = ref["delays"]
    bg = ref["background"]

    t0 = time.time()
    nodes = {}
    for p in pops:
        nodes[p] = nest.Create("iaf_psc_exp", n[p], params=neuron)
        nodes[p].V_m = nest.random.normal(mean=v0["mean"][p], std=v0["std"][p])
    recorder = nest.Create("spike_recorder")
    for p in pops:
        nest.Connect(nodes[p], recorder)
        poisson = nest.Create("poisson_generator", params={"rate": bg["rate_hz_per_synapse"] * bg["K_ext"][p]})
        nest.Connect(poisson, nodes[p], "all_to_all", {"weight": bg["weight_pA"], "delay": bg["delay_ms"]})
    probs = ref["conn_probs_target_by_source"]
    # NEST stores at most 2^27 - 2 connections per thread and synapse model: one copy of
    # static_synapse per source population keeps full scale under that with 2 threads.
    for src in pops:
        nest.CopyModel("static_synapse", f"static_from_{src}")
    for tgt in pops:
        for si, src in enumerate(pops):
            c = probs[tgt][si]
            if c <= 0.0:
                continue
            prod = float(n[src]) * float(n[tgt])
            k_total = int(round(np.log(1.0 - c) / np.log((prod - 1.0) / prod)))
            if k_total <= 0:
                continue
            inhibitory = src.endswith("I")
            mean = w["PSC_mean_pA"] * (w["g_inh_relative"] if inhibitory else 1.0)
            if src == "L4E" and tgt == "L23E":
                mean *= w["L4E_to_L23E_factor"]
            sd = abs(mean) * w["weight_rel_sd"]
            weight = (
                nest.math.redraw(nest.random.normal(mean=mean, std=sd), min=-np.inf, max=0.0)
                if inhibitory
                else nest.math.redraw(nest.random.normal(mean=mean, std=sd), min=0.0, max=np.inf)
            )
            dmean = d["inh_mean_ms"] if inhibitory else d["exc_mean_ms"]
            delay = nest.math.redraw(nest.random.normal(mean=dmean, std=dmean * d["rel_sd"]), min=h, max=np.inf)
            nest.Connect(
                nodes[src],
                nodes[tgt],
                {"rule": "fixed_total_number", "N": k_total, "allow_autapses": True, "allow_multapses": True},
                {"synapse_model": f"static_from_{src}", "weight": weight, "delay": delay},
            )
    nest.Prepare()  # NEST finalises its connection infrastructure here: part of the build
    build_s = time.time() - t0
    t1 = time.time()
    nest.Run(args.duration)
    nest.Cleanup()
    sim_s = time.time() - t1

    events = recorder.get("events")
    senders, times = np.asarray(events["senders"]), np.asarray(events["times"])
    window = max(args.duration - 500.0, 1e-9) / 1000.0
    rates = []
    for p in pops:
        ids = nodes[p].tolist()
        lo, hi = min(ids), max(ids)
        mask = (senders >= lo) & (senders <= hi) & (times >= 500.0)
        rates.append(f"{p} {mask.sum() / len(ids) / window:.3f}")
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        f"nest pd14 scale={args.scale} threads={args.threads}: build {build_s:.1f} s, simulate {sim_s:.1f} s "
        f"({args.duration:.0f} ms), process so far {time.time() - START:.1f} s, synapses {nest.num_connections}, "
        f"peak {peak_gb:.2f} GB; rates (Hz, from 500 ms): {', '.join(rates)}"
    )


if __name__ == "__main__":
    main()
