#!/usr/bin/env python3
"""The multihead circuit's `shuffled_memory` control over many wirings: is its r_c the spikes'
doing or the wiring's?

    python3 benches/shuffled_control.py [--inputs 4,5] [--wirings 8] [--threads 1] [--out DIR]

For each input seed (`laminar attention inputs`, the standard multihead sizes: n = 8, 8 queries,
d = 8, d_v = 4, H = 2, d_out = 4) it runs `laminar attention multihead --baseline
shuffled_memory` with run seeds 1..W (each seed draws another permutation of the memory groups,
and other spike trains) and compares, per run:

- `spiking`: r_c of the decoded output (`/output/y_hat`) against `linear_unnormalized`, what
  the control reports;
- `ideal`: r_c of what a noiseless rate circuit with the *same* wiring would output, computed
  from the permutation the run used (read back from the `tuft` blocks in its manifest):
  y = W_O concat_h( phi(q) C_h ), where the query cells of group (a', s', f') receive the
  memory relu(s w_net[a, f]) of the group (a, s, f) wired to them and count with sign s';
- `r(spiking, ideal)` over the run's outputs.

If `spiking` follows `ideal` run by run, the control's r_c is the chance alignment of its
wiring, not answer the spikes carry past the shuffle. Prints one line per run and a summary.
Needs numpy and h5py (scripts/setup.sh --python).
"""
import argparse, json, os, re, subprocess, sys, tempfile
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAMINAR = os.path.join(ROOT, "target", "release", "laminar")
H, D, DV, DOUT = 2, 8, 4, 4
F = 2 * D                      # features phi = [relu(x), relu(-x)]
CH = 2 * (DV + 2)              # value and anchor channels, two signs each


def relu_onoff(x):
    return np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], -1)


def r_c(y, ref):
    a, b = (y - y.mean(0)).ravel(), (ref - ref.mean(0)).ravel()
    return float(np.corrcoef(a, b)[0, 1])


def pools(circuit):
    """The memory and query pool sizes of the run's circuit (its `[attention]` table)."""
    with open(circuit) as fh:
        text = fh.read()
    size = lambda name: int(re.search(rf"^{name}\s*=\s*(\d+)", text, re.M).group(1))
    return size("memory_pool"), size("query_pool")


def wiring(run_dir):
    """(head, ch, f) of each memory group -> (ch, f) of the query group its tuft block drives."""
    memory_pool, query_pool = pools(os.path.join(run_dir, "circuit.toml"))
    with open(os.path.join(run_dir, "manifest.json")) as fh:
        overrides = json.load(fh)["extra"]["overrides"]
    rule = next(o for o in overrides if o.startswith("projections.tuft.rule="))
    out = {}
    for s0, _, t0, _ in re.findall(r"source = \[(\d+), (\d+)\], target = \[(\d+), (\d+)\]", rule):
        head, rest = divmod(int(s0) // memory_pool, CH * F)
        ch, f = divmod(rest, F)
        _, rest = divmod(int(t0) // query_pool, F * CH)
        f_to, ch_to = divmod(rest, CH)
        out[(head, ch, f)] = (ch_to, f_to)
    return out


def ideal(q, k, v, w_o, perm):
    outs = []
    for h in range(H):
        net = (relu_onoff(k[h]).T @ v[h]).T              # d_v x F: the memory w(+) - w(-)
        coef = np.zeros((DV, F))
        for a in range(DV):
            for si, s in enumerate((1, -1)):
                for f in range(F):
                    ch_to, f_to = perm[(h, 2 * a + si, f)]
                    a_to, s_to = divmod(ch_to, 2)
                    if a_to < DV:
                        coef[a_to, f_to] += (1 if s_to == 0 else -1) * max(s * net[a, f], 0.0)
        outs.append(relu_onoff(q[h]) @ coef.T)
    return np.concatenate(outs, 1) @ w_o.T


def run(out_dir, input_seed, run_seed, threads):
    qkv = os.path.join(out_dir, f"qkv_{input_seed}.h5")
    out = os.path.join(out_dir, f"shuffled_{input_seed}_{run_seed}")
    subprocess.run([LAMINAR, "attention", "multihead", "--inputs", qkv, "--out", out, "--seed", str(run_seed),
                    "--threads", str(threads), "--baseline", "shuffled_memory", "--force"],
                   check=True, capture_output=True)
    with h5py.File(qkv) as f:
        q, k, v, w_o = (f[x][:] for x in ("q", "k", "v", "W_O"))
    with h5py.File(os.path.join(out, "attention.h5")) as a:
        y = a["output/y_hat"][:]
    ref = np.concatenate([(relu_onoff(q[h]) @ relu_onoff(k[h]).T) @ v[h] for h in range(H)], 1) @ w_o.T
    y_ideal = ideal(q, k, v, w_o, wiring(out))
    return r_c(y, ref), r_c(y_ideal, ref), r_c(y, y_ideal)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inputs", default="4,5")
    p.add_argument("--wirings", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out")
    args = p.parse_args()
    out_dir = args.out or tempfile.mkdtemp(prefix="laminar-shuffled-")
    os.makedirs(out_dir, exist_ok=True)
    inputs = [int(s) for s in args.inputs.split(",")]
    for seed in inputs:
        subprocess.run([LAMINAR, "attention", "inputs", "--tokens", "8", "--queries", "8", "--dim", str(D),
                        "--dim-v", str(DV), "--heads", str(H), "--dim-out", str(DOUT), "--seed", str(seed),
                        "--out", os.path.join(out_dir, f"qkv_{seed}.h5")], check=True, capture_output=True)
    jobs = [(i, r) for i in inputs for r in range(1, args.wirings + 1)]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda j: run(out_dir, j[0], j[1], args.threads), jobs))
    print(f"outputs in {out_dir}")
    print("| inputs | run seed | spiking r_c | ideal r_c (same wiring) | r(spiking, ideal) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for (i, r), (s, ideal_rc, agree) in zip(jobs, results):
        print(f"| {i} | {r} | {s:+.3f} | {ideal_rc:+.3f} | {agree:.2f} |")
    s, ideal_rc, agree = (np.array(x) for x in zip(*results))
    print(f"\n{len(results)} wirings: spiking r_c mean {s.mean():+.3f} (sd {s.std():.3f}), above 0.3 in "
          f"{(s > 0.3).mean():.0%}; ideal mean {ideal_rc.mean():+.3f} (sd {ideal_rc.std():.3f}), above 0.3 in "
          f"{(ideal_rc > 0.3).mean():.0%}; spiking - ideal mean {np.mean(s - ideal_rc):+.3f}; "
          f"r(spiking, ideal) median {np.median(agree):.2f}; r between the two r_c columns "
          f"{np.corrcoef(s, ideal_rc)[0, 1]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
