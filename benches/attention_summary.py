#!/usr/bin/env python3
"""Summarises the runs of benches/attention.sh as Markdown tables (h5py, numpy)."""
import sys

import h5py
import numpy as np

out, seeds, scaling_seeds = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
baselines = sys.argv[4].split() if len(sys.argv) > 4 else []
scaling_ns = [int(n) for n in sys.argv[5].split()] if len(sys.argv) > 5 else [8, 16, 32, 64]


def read(path):
    with h5py.File(f"{path}/attention.h5") as a:
        m = {name: dict(a[f"metrics/{name}"].attrs) for name in a["metrics"] if name not in ("weights", "heads")}
        heads = [float(a[f"metrics/heads/{h}"].attrs["r_c"]) for h in sorted(a["metrics/heads"], key=int)] \
            if "metrics/heads" in a else []
        w = {name: dict(a[f"metrics/weights/{name}"].attrs) for name in a["metrics/weights"]} if "metrics/weights" in a else {}
        # The spread of the normaliser across queries: how much dividing by it can matter.
        K = a["encoding/phi_q"][:] @ a["encoding/phi_k"][:].T if "encoding/phi_q" in a else None
        z_cv = float(K.sum(1).std() / K.sum(1).mean()) if K is not None else float("nan")
        return dict(attrs=dict(a.attrs), m=m, w=w, y=a["output/y_hat"][:], counts=a["output/counts"][:], z_cv=z_cv, heads=heads)


def r_c(y, ref):
    a, b = (y - y.mean(0)).ravel(), (ref - ref.mean(0)).ravel()
    return float(np.corrcoef(a, b)[0, 1])


rows, full = [], []
for s in seeds:
    f = read(f"{out}/full_{s}")
    primary = f["attrs"]["primary"]
    ceiling = r_c(f["y"], read(f"{out}/ceiling_{s}")["y"])
    one = read(f"{out}/one_thread_{s}")
    same = np.array_equal(one["counts"], f["counts"]) and np.array_equal(one["y"], f["y"])
    b = {name: read(f"{out}/{name}_{s}")["m"][primary]["r_c"] for name in baselines}
    full.append(dict(f=f, ceiling=ceiling, same=same, b=b))
print(f"\n### {full[0]['f']['attrs']['circuit']}: n = 8, n_q = 8, d = 8, d_v = 4 (seeds {','.join(seeds)})\n")
head = "| seed | r_c primary | r_raw | r_c softmax | r_c softmax(beta_eff) | beta_eff | weights r | noise ceiling | " + \
    " | ".join(f"{b} r_c" for b in baselines) + " | heads' r_c | CV of Σ_t K | wall s | 1 = 2 threads |"
print(head)
print("|" + " --- |" * (head.count("|") - 1))
for s, x in zip(seeds, full):
    f = x["f"]; m = f["m"]; p = f["attrs"]["primary"]
    wr = f["w"].get(p, {}).get("r", float("nan"))
    print(f"| {s} | {m[p]['r_c']:.3f} | {m[p]['r_raw']:.3f} | {m['softmax']['r_c']:.3f} | {m['softmax_beta_eff']['r_c']:.3f} | "
          f"{f['attrs']['beta_eff']:.2f} | {wr:.3f} | {x['ceiling']:.3f} | " +
          " | ".join(f"{x['b'][b]:.3f}" for b in baselines) + f" | {', '.join(f'{h:.3f}' for h in f['heads'])} | "
          f"{f['z_cv']:.2f} | {f['attrs']['wall_s']:.1f} | {'yes' if x['same'] else 'NO'} |")
mean = lambda key: np.mean([key(x) for x in full])
p = full[0]["f"]["attrs"]["primary"]
print(f"| mean | {mean(lambda x: x['f']['m'][p]['r_c']):.3f} | {mean(lambda x: x['f']['m'][p]['r_raw']):.3f} | "
      f"{mean(lambda x: x['f']['m']['softmax']['r_c']):.3f} | {mean(lambda x: x['f']['m']['softmax_beta_eff']['r_c']):.3f} | | "
      f"{mean(lambda x: x['f']['w'].get(p, {}).get('r', np.nan)):.3f} | {mean(lambda x: x['ceiling']):.3f} | " +
      " | ".join(f"{mean(lambda x: x['b'][b]):.3f}" for b in baselines) + " | " +
      ", ".join(f"{np.mean([x['f']['heads'][h] for x in full]):.3f}" for h in range(len(full[0]['f']['heads']))) +
      f" | | {mean(lambda x: x['f']['attrs']['wall_s']):.1f} | |")

print("\n| n | r_c primary (mean) | r_c min | wall s (mean) | simulated s |")
print("| --- | --- | --- | --- | --- |")
for n in scaling_ns:
    rs = [read(f"{out}/scaling_n{n}_{s}") for s in scaling_seeds]
    r = [x["m"][x["attrs"]["primary"]]["r_c"] for x in rs]
    print(f"| {n} | {np.mean(r):.3f} | {np.min(r):.3f} | {np.mean([x['attrs']['wall_s'] for x in rs]):.1f} | "
          f"{np.mean([x['attrs']['simulated_ms'] for x in rs]) / 1000:.1f} |")
