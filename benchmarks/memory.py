"""Peak memory of streaming inference: ``transform`` / ``predict_proba`` of large inputs.

Each measurement runs in a fresh process: fit a small model, build the input
``(n, 100, 3)`` float32, note the resident memory, run the method, and report
the process's peak resident memory above that point minus the output array's
size. That is the memory the method needs beyond its input and output; the
target (issue 3) is under 200 MB whatever ``n`` is, and the ``(n, T, hidden)``
state tensor (n=100k: 2.4 GB at hidden 64) is never built.

Run ``python benchmarks/memory.py``; the table goes to
``benchmarks/results/memory.md``.
"""

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
from skhidden import HiddenStateClassifier, HiddenStateTransformer

n, method = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
small = rng.normal(size=(256, 100, 3)).astype(np.float32)
labels = (small[:, :, 0].mean(1) > 0).astype(int)
cls = HiddenStateTransformer if method == "transform" else HiddenStateClassifier
model = cls(hidden_size=64, max_epochs=1, batch_size=256, random_state=0).fit(small, labels)
X = rng.standard_normal((n, 100, 3), dtype=np.float32)  # no float64 transient
before = psutil.Process().memory_info().rss
peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
out = getattr(model, method)(X)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
extra = max(peak, peak_before) - max(before, peak_before)
print(json.dumps({"n": n, "method": method, "input_mb": X.nbytes / 2**20,
                  "output_mb": out.nbytes / 2**20,
                  "extra_mb": max(0, extra - out.nbytes) / 2**20,
                  "state_tensor_mb": n * 100 * 64 * 4 / 2**20}))
"""


def measure(n, method):
    """Run one measurement in a fresh interpreter and return its record."""
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(n), method],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(sizes=(10_000, 100_000)):
    rows = [measure(n, method) for n in sizes for method in ("transform", "predict_proba")]
    lines = [
        "# Streaming inference memory",
        "",
        "Peak resident memory above input + output, fresh process per row "
        f"(target < {TARGET_MB} MB). Model: GRU, hidden 64, batch 256, input "
        "(n, 100, 3) float32.",
        "",
        "| n | method | input (MB) | output (MB) | peak beyond both (MB) | "
        "(n, T, hidden) states would be (MB) | target met |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['method']} | {r['input_mb']:.0f} | {r['output_mb']:.1f} | "
            f"{r['extra_mb']:.0f} | {r['state_tensor_mb']:.0f} | "
            f"{'yes' if r['extra_mb'] < TARGET_MB else 'no'} |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "memory.md"), "w") as fh:
        fh.write(report)
    return rows


if __name__ == "__main__":
    main()
    sys.exit(0)
