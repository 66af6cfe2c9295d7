"""Generates data/reference/nest/inhomogeneous_poisson_generator.json with NEST 3.10.

usage: python3 inhomogeneous_poisson_generator.py ../inhomogeneous_poisson_generator.json
(needs `pip install nest-simulator==3.10`; one thread, resolution 0.1 ms, seed 12345.)

Two inhomogeneous_poisson_generators each drive their own parrot neurons (one independent train
per parrot, as in NEST) through connections of weight 1 and delay 1 ms; the parrots' spikes are
recorded.
- `timing`: windows at a rate so high (2e5 spikes/s, 20 expected arrivals per step, P(empty
  step) = e^-20) that the set of steps holding spikes is deterministic. It shows when a rate
  begins (rate_times, one of them off the grid with allow_offgrid_times), and when the device is
  active (start, stop).
- `counts`: moderate rates whose spike counts per window a re-implementation must match in
  distribution (Poisson, mean rate * window * parrots).
"""
import json
import sys

import nest

RESOLUTION = 0.1
DURATION = 100.0
DELAY = 1.0
GENERATORS = {
    "timing": {
        "n": 3,
        "params": {
            "rate_times": [10.04, 20.0, 60.0, 80.0],
            "rate_values": [2e5, 0.0, 2e5, 0.0],
            "allow_offgrid_times": True,
            "start": 5.0,
            "stop": 70.0,
        },
    },
    "counts": {
        "n": 400,
        "params": {"rate_times": [10.0, 40.0, 60.0, 80.0], "rate_values": [500.0, 0.0, 2000.0, 0.0]},
    },
}

nest.ResetKernel()
nest.SetKernelStatus({"resolution": RESOLUTION, "rng_seed": 12345, "local_num_threads": 1})
recorded = {}
for name, g in GENERATORS.items():
    gen = nest.Create("inhomogeneous_poisson_generator", params=g["params"])
    parrots = nest.Create("parrot_neuron", g["n"])
    rec = nest.Create("spike_recorder")
    nest.Connect(gen, parrots, syn_spec={"weight": 1.0, "delay": DELAY})
    nest.Connect(parrots, rec)
    recorded[name] = (parrots.tolist()[0], rec)
nest.Simulate(DURATION)
expected = {}
for name, (first, rec) in recorded.items():
    ev = rec.get("events")
    spikes = [(int(s) - first, round(float(t), 10)) for s, t in zip(ev["senders"], ev["times"])]
    expected[name] = sorted(spikes, key=lambda p: (p[1], p[0]))

conventions = (
    "NEST 3.10 semantics. Units: ms, spikes/s. Resolution h = 0.1 ms. The generator emits in "
    "step k (from k*h to (k+1)*h) a Poisson count of mean rate*h per target, stamped (k+1)*h; "
    "rate_values[i] is the rate of the steps stamped from rate_times[i] on (NEST switches 'one "
    "step ahead', in the step that ends at rate_times[i]); an off-grid rate time with "
    "allow_offgrid_times is moved to the end of its step; before the first rate time the rate "
    "is 0. The device is active in the steps k with start/h < k <= stop/h, i.e. stamps in "
    "(start + h, stop + h]. A parrot_neuron repeats each arriving spike at its arrival time, "
    "stamp + delay; the spike_recorder logs one entry per spike (a count of n arriving in one "
    "step gives n entries). Counts are random (NEST's own stream); the set of steps with spikes "
    "in the 2e5 spikes/s windows of `timing` is deterministic up to P = e^-20 per step."
)
setup = {
    "resolution_ms": RESOLUTION,
    "duration_ms": DURATION,
    "generators": {
        name: {
            "model": "inhomogeneous_poisson_generator",
            "params": g["params"],
            "targets": {"model": "parrot_neuron", "n": g["n"], "weight": 1.0, "delay_ms": DELAY},
        }
        for name, g in GENERATORS.items()
    },
    "recorded": "per generator, the spikes of its parrots: [parrot index from 0, time ms]",
}
case = {
    "name": "inhomogeneous_poisson_generator",
    "generated_by": f"NEST {nest.__version__}",
    "conventions": conventions,
    "setup": setup,
    "expected": expected,
}
with open(sys.argv[1], "w") as out:
    json.dump(case, out)
