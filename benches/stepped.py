#!/usr/bin/env python3
"""The stepped models' cost per neuron-step, laminar against NEST 3.10, whole simulations side by side.

    python3 benches/stepped.py [--models aeif_cond_alpha,iaf_cond_exp] [--n 1000] [--duration 1000]
                               [--repeat 3] [--python PY] [--laminar PATH]

The network: N neurons of one model (NEST's defaults; I_e = 700 pA for `aeif_cond_alpha`, 230 pA
for `iaf_cond_exp`), each receiving its own Poisson trains of 800 Hz excitatory (4 nS) and 200 Hz
inhibitory (-2 nS) input with 0.1-ms delays (1 kHz per neuron, the input of the
micro-benchmarks), one thread, 0.1-ms resolution, spikes counted. laminar runs it with each of its integrations (`rkf45`, NEST's adaptive scheme and the
default; `rk4` and `rk4_vector`, two fixed sub-steps) through `laminar run` (the model file is
written to a temporary folder); NEST through PyNEST (`--python`, an interpreter with
`nest-simulator`; skipped without it). Each program's simulate phase is divided by N x steps;
the rounds interleave the programs, and the table gives each one's fastest round, its median and
the firing rate (the integrations should agree with NEST's within a few percent).
Build laminar first (`cargo build --release`).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

I_E = {"aeif_cond_alpha": 700.0, "iaf_cond_exp": 230.0}

MODEL = """description = "stepped-model benchmark: {n} {model} neurons, 1 kHz Poisson input each"
[simulation]
resolution_ms = 0.1
duration_ms = {duration}
seed = 1
threads = 1

[populations.adex]
model = "{model}"
size = {n}
params = {{ I_e = {i_e}, integration = "{integration}" }}

[[stimuli]]
name = "excitation"
model = "poisson_generator"
params = {{ rate = 800.0 }}
target = "adex"
weight = 4.0
delay_ms = 0.1

[[stimuli]]
name = "inhibition"
model = "poisson_generator"
params = {{ rate = 200.0 }}
target = "adex"
weight = -2.0
delay_ms = 0.1

[recording]
spikes = ["adex"]
"""

NEST = """
import os, time
os.environ.setdefault("PYNEST_QUIET", "1")
import nest
try:
    nest.verbosity = nest.VerbosityLevel.ERROR
except AttributeError:
    nest.set_verbosity("M_ERROR")
nest.ResetKernel()
nest.SetKernelStatus({{"resolution": 0.1, "local_num_threads": 1, "rng_seed": 1, "print_time": False}})
adex = nest.Create("{model}", {n}, params={{"I_e": {i_e}}})
ex = nest.Create("poisson_generator", params={{"rate": 800.0}})
inh = nest.Create("poisson_generator", params={{"rate": 200.0}})
nest.Connect(ex, adex, syn_spec={{"weight": 4.0, "delay": 0.1}})
nest.Connect(inh, adex, syn_spec={{"weight": -2.0, "delay": 0.1}})
rec = nest.Create("spike_recorder")
nest.Connect(adex, rec)
t = time.perf_counter()
nest.Simulate({duration})
simulate = time.perf_counter() - t
print(f"simulate {{simulate:.4f}} s, rate {{rec.n_events / {n} / ({duration} / 1000.0):.3f}} Hz")
"""


def run_laminar(binary, folder, model_name, integration, n, duration):
    model = os.path.join(folder, f"{model_name}_{integration}.toml")
    with open(model, "w") as fh:
        fh.write(MODEL.format(n=n, duration=duration, model=model_name, i_e=I_E[model_name], integration=integration))
    out = os.path.join(folder, f"out_{model_name}_{integration}")
    text = subprocess.run(
        [binary, "run", model, "--out", out, "--force", "--quiet"], check=True, capture_output=True, text=True
    ).stdout
    simulate = float(re.search(r"simulate ([0-9.]+) s wall", text).group(1))
    spikes = int(re.search(r"^\s*adex\s+(\d+)", text, re.M).group(1))
    return simulate, spikes / n / (duration / 1000.0)


def run_nest(python, model_name, n, duration):
    script = NEST.format(n=n, duration=duration, model=model_name, i_e=I_E[model_name])
    out = subprocess.run([python, "-c", script], check=True, capture_output=True, text=True)
    m = re.search(r"simulate ([0-9.]+) s, rate ([0-9.]+) Hz", out.stdout)
    return float(m.group(1)), float(m.group(2))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="aeif_cond_alpha,iaf_cond_exp", help="comma-separated: " + ", ".join(I_E))
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=1000.0, help="simulated ms")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--python", default=os.environ.get("PYTHON", sys.executable), help="an interpreter with PyNEST")
    ap.add_argument("--laminar", default=os.path.join(ROOT, "target", "release", "laminar"))
    args = ap.parse_args()
    models = args.models.split(",")
    unknown = [m for m in models if m not in I_E]
    if unknown:
        ap.error(f"unknown model {unknown[0]!r}: choose from {', '.join(I_E)}")
    has_nest = subprocess.run([args.python, "-c", "import nest"], capture_output=True).returncode == 0
    if not has_nest:
        print(f"stepped.py: {args.python} has no PyNEST: laminar only", file=sys.stderr)
    integrations = ["rkf45", "rk4", "rk4_vector"] + (["nest"] if has_nest else [])
    cases = [(m, i) for m in models for i in integrations]
    times = {c: [] for c in cases}
    rates = {}
    with tempfile.TemporaryDirectory(prefix="laminar-stepped.") as folder:
        for round_ in range(args.repeat):
            for case in cases:
                model, integration = case
                if integration == "nest":
                    t, rate = run_nest(args.python, model, args.n, args.duration)
                else:
                    t, rate = run_laminar(args.laminar, folder, model, integration, args.n, args.duration)
                times[case].append(t)
                rates[case] = rate
                print(f"stepped.py: round {round_ + 1}, {model} {integration}: simulate {t:.3f} s, "
                      f"rate {rate:.2f} Hz", file=sys.stderr)
    neuron_steps = args.n * args.duration / 0.1
    ns = lambda t: t / neuron_steps * 1e9
    print(f"\n## Stepped models, {args.n} neurons x {args.duration:g} ms, 1 thread, {args.repeat} interleaved rounds\n")
    print("| model | program | ns per neuron-step, best | median | rate (Hz) | NEST / this (medians) |")
    print("|---|---|---:|---:|---:|---:|")
    for case in cases:
        model, integration = case
        name = "NEST 3.10 (adaptive RKF45, GSL)" if integration == "nest" else f'laminar, integration = "{integration}"'
        median = statistics.median(times[case])
        nest_median = statistics.median(times[(model, "nest")]) if has_nest else None
        ratio = f"{nest_median / median:.1f}x" if nest_median else "-"
        print(f"| {model} | {name} | {ns(min(times[case])):.0f} | {ns(median):.0f} | {rates[case]:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
