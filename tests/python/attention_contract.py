#!/usr/bin/env python3
"""Checks one `laminar attention` output directory against its contract, independently of
laminar's Rust code (h5py and numpy only).

usage: attention_contract.py DIR [--expect-probes]

- attention.h5 has the format, root attributes and every group of the layout, with consistent
  shapes and inputs in [-1, 1] (the test compares them with its qkv.h5 verbatim);
- the references are recomputed here from the inputs (and /encoding's omega and c) and agree;
- /output/counts equals a recount of spikes.h5 with /readout and /timing, exactly;
- y_hat is the anchor decoder applied to the counts (gain and offset recomputed here), and the
  metrics are recomputed and agree;
- multihead: the references with W_O and per head, the recount, the relay_diff decoder of y_hat
  and of y_hat_heads (anchors at c * m_h(q)), and the metrics of the block and of every head.
Prints one line per check; exit status 0 iff all pass.
"""
import sys

import h5py
import numpy as np

BURST_ISI_MS = 16.0


def softmax_w(q, k, beta):
    logits = beta * q @ k.T
    logits -= logits.max(1, keepdims=True)
    w = np.exp(logits)
    return w / w.sum(1, keepdims=True)


def relu_onoff(x):
    return np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], -1)


def prf(x, omega, beta, c):
    xs = np.sqrt(beta) * x
    return np.minimum(np.exp(xs @ omega.T - 0.5 * (xs**2).sum(-1, keepdims=True)) / c, 1.0)


def r_c(y, ref):
    a, b = (y - y.mean(0)).ravel(), (ref - ref.mean(0)).ravel()
    return 0.0 if a.std() == 0 or b.std() == 0 else float(np.corrcoef(a, b)[0, 1])


def count(times, t0, t1, bursts):
    t = np.sort(times)
    if bursts:
        cont = np.diff(t) < BURST_ISI_MS
        second = np.flatnonzero(cont & np.r_[True, ~cont[:-1]]) + 1 if t.size > 1 else np.array([], int)
        t = t[second]
    return int(((t >= t0) & (t < t1)).sum())


def recount_spikes(out, ro, win, counts, bursts):
    """The counts of every readout row in every read window, recounted from spikes.h5."""
    recount = np.zeros_like(counts)
    with h5py.File(f"{out}/spikes.h5") as s:
        for row in range(len(ro["population"])):
            pop = ro["population"][row]
            pop = pop.decode() if isinstance(pop, bytes) else pop
            first, cnt = int(ro["node_first"][row]), int(ro["node_count"][row])
            col, only = int(ro["column"][row]), int(ro["query"][row])
            ts, ids = s[f"spikes/{pop}/timestamps"][:], s[f"spikes/{pop}/node_ids"][:]
            for node in range(first, first + cnt):
                tn = ts[ids == node]
                for qi, (t0, t1) in enumerate(win):
                    if only in (-1, qi):
                        recount[qi, col] += count(tn, t0, t1, bursts)
    return recount


def check_multihead(out, a, ok):
    """The multihead contract: references with W_O, counts recounted, the relay_diff decoder
    (anchors at c * m_h(q), m_h(q) = sum_j phi(q^h) . phi(k_j^h)) for y_hat and y_hat_heads."""
    q, k, v = a["inputs/q"][:], a["inputs/k"][:], a["inputs/v"][:]
    if q.ndim == 2:
        q, k, v = q[None], k[None], v[None]
    H, nq, dv = q.shape[0], q.shape[1], v.shape[2]
    WO = a["inputs/W_O"][:] if "inputs/W_O" in a else np.eye(dv)
    heads = [(relu_onoff(q[h]) @ relu_onoff(k[h]).T) @ v[h] for h in range(H)]
    ref = np.concatenate(heads, 1) @ WO.T
    ok("reference linear_unnormalized (W_O applied)", np.allclose(a["reference/linear_unnormalized"][:], ref, rtol=1e-9, atol=1e-12))
    ok("reference linear_unnormalized_heads", np.allclose(a["reference/linear_unnormalized_heads"][:], np.array(heads), rtol=1e-9, atol=1e-12))
    ro, win = a["readout"], a["timing/read_windows_ms"][:]
    counts = a["output/counts"][:]
    recount = recount_spikes(out, ro, win, counts, False)
    ok("counts = spikes.h5 recount", np.array_equal(recount, counts), int(np.abs(recount - counts).sum()))
    kind = [x.decode() if isinstance(x, bytes) else x for x in ro["kind"][:]]
    channel, sign, column, head = ro["channel"][:], ro["sign"][:], ro["column"][:], ro["head"][:]
    mass = np.array([(relu_onoff(q[h]) @ relu_onoff(k[h]).T).sum(1) for h in range(H)])   # [H, nq]
    anchor_values = [-1.0, 1.0]

    def decode(value_kind, anchor_kind, shape):
        raw = np.zeros(shape)
        anchors = np.zeros((H, len(anchor_values), nq))
        for r in range(len(kind)):
            c = sign[r] * counts[:, column[r]]
            if kind[r] == value_kind:
                if raw.ndim == 3:
                    raw[head[r], :, channel[r]] += c
                else:
                    raw[:, channel[r]] += c
            elif kind[r] == anchor_kind:
                anchors[head[r], channel[r] - (dv if anchor_kind == "head_anchor" else 0)] += c
        x = anchors.ravel()
        t = (np.array(anchor_values)[None, :, None] * mass[:, None, :]).ravel()
        gain, offset = np.polyfit(x, t, 1) if x.std() > 0 else (0.0, 0.0)
        return gain * raw + offset, gain

    y, gain = decode("value", "anchor", (nq, WO.shape[0]))
    ok("decoder gain", np.isclose(gain, a["output"].attrs["decoder_gain"], rtol=1e-9), (gain, a["output"].attrs["decoder_gain"]))
    ok("y_hat = relay_diff decoder of the counts", np.allclose(a["output/y_hat"][:], y, rtol=1e-9, atol=1e-12))
    yh, _ = decode("head_value", "head_anchor", (H, nq, dv))
    ok("y_hat_heads = the heads' decoder of the counts", np.allclose(a["output/y_hat_heads"][:], yh, rtol=1e-9, atol=1e-12))
    got = float(a["metrics/linear_unnormalized"].attrs["r_c"])
    ok("metrics/linear_unnormalized r_c recomputed", np.isclose(got, r_c(y, ref), rtol=1e-9, atol=1e-12), got)
    for h in range(H):
        got = float(a[f"metrics/heads/{h}"].attrs["r_c"])
        ok(f"metrics/heads/{h} r_c recomputed", np.isclose(got, r_c(yh[h], heads[h]), rtol=1e-9, atol=1e-12), got)


def main():
    out = sys.argv[1]
    checks = []
    ok = lambda name, cond, val="": checks.append((name, bool(cond), val))
    with h5py.File(f"{out}/attention.h5") as a:
        attrs = dict(a.attrs)
        if attrs.get("circuit") == "multihead":
            ok("format", attrs.get("format") == "laminar-attention/1", attrs.get("format"))
            check_multihead(out, a, ok)
            for name, good, val in checks:
                print(("PASS " if good else "FAIL ") + name, val)
            sys.exit(0 if all(g for _, g, _ in checks) else 1)
        ok("format", attrs.get("format") == "laminar-attention/1", attrs.get("format"))
        for key in ["circuit", "baseline", "version", "seed", "threads", "beta", "beta_eff", "decoder",
                    "wall_s", "simulated_ms", "primary", "passed"]:
            ok(f"root attribute {key}", key in attrs)
        for group in ["inputs", "encoding", "timing", "readout", "output", "reference", "weights", "metrics"]:
            ok(f"group /{group}", group in a)
        q, k, v = a["inputs/q"][:], a["inputs/k"][:], a["inputs/v"][:]
        ok("inputs in [-1, 1]", all(np.all(np.abs(x) <= 1) for x in (q, k, v)))
        n, nq, dv = k.shape[0], q.shape[0], v.shape[1]
        beta = float(attrs["beta"])
        enc = a["encoding"]
        if enc.attrs["feature_map"] == "prf_exp":
            omega, c = enc["omega"][:], float(enc.attrs["c"])
            phi = lambda x: prf(x, omega, beta, c)
        else:
            phi = relu_onoff
        ok("phi_q as presented", np.allclose(enc["phi_q"][:], phi(q), rtol=1e-9, atol=1e-12))
        ok("phi_k as presented", np.allclose(enc["phi_k"][:], phi(k), rtol=1e-9, atol=1e-12))
        K = phi(q) @ phi(k).T
        refs = {
            "softmax": softmax_w(q, k, beta) @ v,
            "kernel": (K / K.sum(1, keepdims=True)) @ v,
            "linear_unnormalized": (relu_onoff(q) @ relu_onoff(k).T) @ v,
            "uniform": np.broadcast_to(v.mean(0), (nq, dv)),
            "softmax_beta_eff": softmax_w(q, k, float(attrs["beta_eff"])) @ v,
        }
        for name, y in refs.items():
            ok(f"reference {name}", np.allclose(a[f"reference/{name}"][:], y, rtol=1e-9, atol=1e-12))
        ok("weights/softmax", np.allclose(a["weights/softmax"][:], softmax_w(q, k, beta), rtol=1e-9, atol=1e-12))
        ok("weights/kernel", np.allclose(a["weights/kernel"][:], K / K.sum(1, keepdims=True), rtol=1e-9, atol=1e-12))

        # The counts are a recount of spikes.h5.
        ro, win = a["readout"], a["timing/read_windows_ms"][:]
        ok("timing shapes", win.shape == (nq, 2) and a["timing/write_windows_ms"].shape == (n, 2))
        counts = a["output/counts"][:]
        bursts = attrs["decoder"].startswith("burst")
        recount = recount_spikes(out, ro, win, counts, bursts)
        ok("counts = spikes.h5 recount", np.array_equal(recount, counts), int(np.abs(recount - counts).sum()))

        # The decoder: ON minus OFF per channel (burst_ratio: over the query's total), one gain and
        # offset from the anchors.
        kind = [x.decode() if isinstance(x, bytes) else x for x in ro["kind"][:]]
        channel, sign, column = ro["channel"][:], ro["sign"][:], ro["column"][:]
        channels = int(channel.max()) + 1
        raw = np.zeros((nq, channels))
        for r in range(len(kind)):
            raw[:, channel[r]] += sign[r] * counts[:, column[r]]
        if attrs["decoder"] == "burst_ratio":
            # Divided, per query, by the bursts of every value and anchor group of every token.
            rows = [r for r in range(len(kind)) if kind[r] in ("value", "anchor")]
            total = counts[:, column[rows]].sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                # A window without a single count reads 0 on every channel.
                raw = np.where(total[:, None] > 0, raw / total[:, None], 0.0)
            token = ro["token"][:]
            implied = np.zeros((nq, n))
            for r in rows:
                implied[:, token[r]] += counts[:, column[r]]
            with np.errstate(invalid="ignore", divide="ignore"):
                implied /= total[:, None]
            ok("implied weights = each token's share of the bursts",
               np.allclose(a["weights/implied"][:], implied, rtol=1e-9, atol=1e-12, equal_nan=True))
        kinds = {}
        for r in range(len(kind)):
            kinds[int(channel[r])] = kind[r]
        anchors = [ch for ch in range(channels) if kinds[ch] == "anchor"]
        values = [ch for ch in range(channels) if kinds[ch] == "value"]
        ok("three anchors (-1, 0, +1)", len(anchors) == 3)
        x = raw[:, anchors].ravel()
        t = np.tile([-1.0, 0.0, 1.0], nq)
        finite = np.isfinite(x)   # a query window without any burst has no ratio
        gain, offset = np.polyfit(x[finite], t[finite], 1)
        ok("decoder gain", np.isclose(gain, a["output"].attrs["decoder_gain"], rtol=1e-9), (gain, a["output"].attrs["decoder_gain"]))
        y = gain * raw[:, values] + offset
        ok("y_hat = anchor decoder of the counts", np.allclose(a["output/y_hat"][:], y, rtol=1e-9, atol=1e-12, equal_nan=True))
        primary = attrs["primary"]
        got = float(a[f"metrics/{primary}"].attrs["r_c"])
        ok(f"metrics/{primary} r_c recomputed", np.isclose(got, r_c(y, refs[primary]), rtol=1e-9, atol=1e-12), got)
        ok("output/rates_hz shape", a["output/rates_hz"].shape == counts.shape)
        if "--expect-probes" in sys.argv:
            ok("implied weights measured", np.isfinite(a["weights/implied"][:]).all())
    for name, good, val in checks:
        print(("PASS " if good else "FAIL ") + name, val)
    sys.exit(0 if all(g for _, g, _ in checks) else 1)


if __name__ == "__main__":
    main()
