"""Peak memory of streaming inference: many sequences, long sequences, one long series.

Each measurement runs in a fresh process: fit a small model, build the
input, note the resident memory, run the method, and report the process's
peak resident memory above that point minus the output's size. That is the
memory the method needs beyond its input and output; the target (issues 3
and 14) is under 200 MB whatever the number of sequences or their length.

Rows:

- many sequences, ``(n, 100, 3)`` for n = 10k and 100k: ``transform``,
  ``predict_proba`` (the default network) and the detector's
  ``score_steps``; the ``(n, T, hidden)`` state tensor (n=100k: 2.4 GB at
  hidden 64) is never built;
- long sequences, ``(256, 20000, 3)``: a batch of 256 of them would hold
  ~4 GB of gate activations; the step cap reads them a few at a time;
- one long series, a list holding one ``(T, 3)`` array, T = 100k and 1M:
  the batch methods read a sequence whole, so its memory grows with T;
  these rows show where that stops meeting the target (``stream()`` reads
  such a series chunk by chunk: ``benchmarks/streaming.py``).

Run ``python benchmarks/memory.py [--quick]``; the table goes to
``benchmarks/results/memory.md``.
"""

import argparse
import json
import os
import subprocess
import sys

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
TARGET_MB = 200

_CHILD = r"""
import json, resource, sys
import numpy as np
import psutil
from skhidden import (HiddenStateAnomalyDetector, HiddenStateClassifier,
                      HiddenStateTransformer)

method, layout = sys.argv[1], sys.argv[4]
n, n_steps = int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
small = rng.normal(size=(256, 100, 3)).astype(np.float32)
labels = (small[:, :, 0].mean(1) > 0).astype(int)
params = dict(hidden_size=64, max_epochs=1, batch_size=256, random_state=0,
              device="cpu")
if method == "score_steps":
    model = HiddenStateAnomalyDetector(segment_length=None, **params).fit(small)
else:
    cls = HiddenStateTransformer if method == "transform" else HiddenStateClassifier
    model = cls(**params).fit(small, labels)
X = rng.standard_normal((n, n_steps, 3), dtype=np.float32)  # no float64 transient
if layout == "list":
    X = list(X)
def high_water():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM"))
try:  # reset the peak to the current size, so fitting's peak cannot hide ours
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    reset = True
except OSError:
    reset = False
before = psutil.Process().memory_info().rss
def peak_rss():
    if reset:
        return high_water()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
peak_before = peak_rss()
out = getattr(model, method)(X)
peak = peak_rss()
out_bytes = sum(o.nbytes for o in out) if isinstance(out, list) else out.nbytes
extra = max(peak, peak_before) - max(before, peak_before)
input_bytes = sum(x.nbytes for x in X) if isinstance(X, list) else X.nbytes
print(json.dumps({"method": method, "n": n, "n_steps": n_steps, "layout": layout,
                  "peak_reset": reset,
                  "input_mb": input_bytes / 2**20, "output_mb": out_bytes / 2**20,
                  "extra_mb": max(0, extra - out_bytes) / 2**20,
                  "state_tensor_mb": n * n_steps * 64 * 4 / 2**20}))
"""

# (label, method, n, n_steps, layout)
METHODS = ("transform", "predict_proba", "score_steps")
CASES = [
    *[("many sequences", method, n, 100, "array")
      for n in (10_000, 100_000) for method in METHODS],
    *[("long sequences", method, 256, 20_000, "array")
      for method in ("predict_proba", "score_steps")],
    *[("one long series", method, 1, n_steps, "list")
      for n_steps in (100_000, 1_000_000) for method in ("transform", "score_steps")],
]
QUICK = [
    ("many sequences", "transform", 5_000, 100, "array"),
    ("many sequences", "score_steps", 5_000, 100, "array"),
    ("long sequences", "predict_proba", 32, 5_000, "array"),
    ("one long series", "score_steps", 1, 20_000, "list"),
]


def measure(method, n, n_steps, layout):
    """Run one measurement in a fresh interpreter and return its record."""
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, method, str(n), str(n_steps), layout],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, small sizes")
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args(argv)
    rows = []
    for label, *case in QUICK if args.quick else CASES:
        rows.append({"case": label, **measure(*case)})
        assert rows[-1]["peak_reset"] or args.quick, "needs Linux's clear_refs"
        print(rows[-1], flush=True)
    lines = [
        "# Streaming inference memory",
        "",
        "Peak resident memory above input + output, fresh process per row "
        f"(target < {TARGET_MB} MB). Models: hidden 64, `inference_batch_size="
        "\"auto\"` (256 sequences, capped in padded steps); the classifier and "
        "transformer with the default network, the detector with its defaults "
        "(residual front-end, each window's state against the nearest of up to "
        "4096 training states).",
        "",
        "| case | method | n | steps | input (MB) | output (MB) | "
        "peak beyond both (MB) | (n, T, hidden) states would be (MB) | target met |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    if args.quick:
        lines[2:2] = ["**QUICK RUN: small sizes; not the measurement.**", ""]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['method']} | {r['n']:,} | {r['n_steps']:,} | "
            f"{r['input_mb']:.0f} | {r['output_mb']:.1f} | {r['extra_mb']:.0f} | "
            f"{r['state_tensor_mb']:.0f} | "
            f"{'yes' if r['extra_mb'] < TARGET_MB else 'no'} |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "memory.md"), "w") as fh:
        fh.write(report)
    return rows


if __name__ == "__main__":
    main()
    sys.exit(0)
