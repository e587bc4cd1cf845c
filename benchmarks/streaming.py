"""Cost and memory of ``stream()``: one long series read chunk by chunk.

Does streaming cost time in proportion to the series' length, with memory
that does not grow? Each row runs in a fresh process: fit a tiny model (GRU,
8 units, one epoch on 8 short sequences), then stream a series of ``n``
steps in chunks of 100,000, each chunk drawn as it is needed (so the series
never exists whole) and its outputs dropped after reading. Reported: the
time per input step spent in ``update`` / ``finish`` (chunk generation
excluded), and the process's peak resident memory after the first chunk and
at the end (``resource.getrusage``): if the stream kept anything per step,
the second would grow with ``n``.

Configurations:

- the anomaly detector with the default ``"resnet"`` front-end (windows of
  8 steps every 4), up to 10 million steps;
- the detector reading raw steps (``frontend="none"``, one recurrent step
  per input step, so about 4 times slower), up to 1 million;
- the classifier (``"resnet"``, ``aggregation="attention"``), up to 1 million.

Run ``python benchmarks/streaming.py`` (about 2 minutes on one thread);
``--quick`` streams 100 times fewer steps. The table goes to
``benchmarks/results/streaming.md`` (``--output`` to change the folder).
"""

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import RESULTS, environment, machine_line, markdown_table  # noqa: E402

CHUNK = 100_000
CONFIGS = [
    ("detector", "resnet", (100_000, 1_000_000, 10_000_000)),
    ("detector", "none", (10_000, 100_000, 1_000_000)),
    ("classifier", "resnet", (10_000, 100_000, 1_000_000)),
]

_CHILD = r"""
import json, resource, sys, time
import numpy as np
import torch
from skhidden import HiddenStateAnomalyDetector, HiddenStateClassifier

torch.set_num_threads(1)
kind, frontend, n, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(0)
X = rng.normal(size=(8, 64, 1)).astype(np.float32)
params = dict(hidden_size=8, max_epochs=1, frontend=frontend, device="cpu",
              random_state=0)
if kind == "detector":
    model = HiddenStateAnomalyDetector(**params).fit(X)
else:
    # One-way: a bidirectional model's stream re-reads each prefix.
    model = HiddenStateClassifier(aggregation="attention", bidirectional=False,
                                  **params)
    model.fit(X, np.arange(8) % 2)
stream = model.stream()
seconds, rows, peak_first = 0.0, 0, None
for start in range(0, n, chunk):
    part = rng.standard_normal((min(chunk, n - start), 1), dtype=np.float32)
    t0 = time.perf_counter()
    rows += len(stream.update(part))
    seconds += time.perf_counter() - t0
    if peak_first is None:
        peak_first = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
rows += len(stream.finish())
seconds += time.perf_counter() - t0
peak_end = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rows": rows, "peak_first_mb": peak_first,
                  "peak_end_mb": peak_end}))
"""


def measure(kind, frontend, n, chunk=CHUNK):
    """Stream ``n`` steps in a fresh interpreter and return its record."""
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, frontend, str(n), str(min(chunk, n))],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100x fewer steps")
    parser.add_argument("--output", default=RESULTS, help="folder of streaming.md")
    args = parser.parse_args(argv)
    scale = 100 if args.quick else 1
    rows = []
    for kind, frontend, sizes in CONFIGS:
        for n in sizes:
            n //= scale
            record = measure(kind, frontend, n)
            rows.append(
                {
                    "model": kind,
                    "frontend": frontend,
                    "steps": f"{n:,}",
                    "rows returned": f"{record['rows']:,}",
                    "seconds": record["seconds"],
                    "us per step": 1e6 * record["seconds"] / n,
                    "peak RSS after 1st chunk (MB)": f"{record['peak_first_mb']:.0f}",
                    "peak RSS at end (MB)": f"{record['peak_end_mb']:.0f}",
                }
            )
            print(rows[-1], flush=True)
    env = environment()
    report = "\n".join(
        [
            "# Streaming one long series: cost and memory",
            "",
            "`python benchmarks/streaming.py`: each row a fresh process; a tiny "
            "model (GRU, 8 units, one epoch) streams a univariate series in "
            f"chunks of {CHUNK:,} steps drawn on the fly, outputs dropped. "
            "Time is spent in `update`/`finish` only; peak RSS is the "
            "process's maximum resident memory (`getrusage`), after the first "
            "chunk and at the end. Constant time per step across lengths means "
            "linear cost; an unchanged peak means the stream keeps nothing per "
            "step.",
            "",
            f"Machine: {machine_line({**env, 'torch_threads': '1'})}; "
            f"1-minute load {env['load_1min']}.",
            "",
            markdown_table(rows),
        ]
    )
    print(report)
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "streaming.md"), "w") as fh:
        fh.write(report)


if __name__ == "__main__":
    main()
