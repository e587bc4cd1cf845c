"""Parallel grid search: ``n_jobs=2`` against ``n_jobs=1`` on the same data (issue 14).

The search: ``GridSearchCV(HiddenStateClassifier(small model), {"aggregation":
["last", "mean", "max", "attention"]}, cv=3)``, 12 fits, on synthetic
sequences (300 x 60 steps x 3 features, 3 classes; no download). Each repeat
runs it with ``n_jobs=1`` and with ``n_jobs=2`` in alternating order (ABBA),
records ``os.getloadavg()`` just before each run, and asserts that the
cross-validation scores of the two are identical. ``n_jobs=2`` starts its
loky workers inside the timing (they are shut down before each such run),
as a user's first search does. ``refit=False``: only the search is timed.

Thread check: one ``cross_validate(..., n_jobs=2)`` with a callback that
records, in each fit, the process, ``OMP_NUM_THREADS``, skhidden's thread
budget and torch's thread count while training. On ``c`` cores loky gives
each of ``n_jobs`` workers ``c // n_jobs`` threads (``OMP_NUM_THREADS``);
skhidden's ``torch_threads`` keeps torch within it (and on one thread for a
model this small), so two workers on two cores use one thread each.

Run ``python benchmarks/parallel_search.py [--quick] [--repeats 5]``; the
report goes to ``benchmarks/results/parallel_search.md``.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch
from joblib import cpu_count
from joblib.externals.loky import get_reusable_executor
from sklearn.model_selection import GridSearchCV, cross_validate
from skorch.callbacks import Callback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import RESULTS, environment, machine_line, markdown_table  # noqa: E402

from skhidden import HiddenStateClassifier  # noqa: E402
from skhidden._threads import thread_budget  # noqa: E402

GRID = {"aggregation": ["last", "mean", "max", "attention"]}
CV = 3
SCORE_KEYS = [f"split{i}_test_score" for i in range(CV)]


class ThreadRecord(Callback):
    """Record where and with how many threads each epoch of a fit ran."""

    def on_epoch_end(self, net, **kwargs):
        net.history.record("pid", os.getpid())
        net.history.record("torch_threads", torch.get_num_threads())
        net.history.record("budget", thread_budget())
        net.history.record("omp", os.environ.get("OMP_NUM_THREADS", "unset"))


def make_data(n=300, n_steps=60, n_features=3, seed=0):
    """Three classes told apart by the level of feature 0 in the second half."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    X = rng.normal(size=(n, n_steps, n_features)).astype(np.float32)
    X[:, n_steps // 2 :, 0] += (y[:, None] - 1) * 0.8
    return X, y


def small_model(epochs, **params):
    params = {"hidden_size": 16, **params}
    return HiddenStateClassifier(max_epochs=epochs, random_state=0, device="cpu",
                                 **params)


def run_search(X, y, n_jobs, epochs, warm=False):
    """``(wall seconds, load before, fold scores)`` of one search."""
    if n_jobs > 1 and not warm:
        get_reusable_executor().shutdown(wait=True)  # workers start inside the timing
    load = os.getloadavg()
    search = GridSearchCV(small_model(epochs), GRID, cv=CV, n_jobs=n_jobs, refit=False)
    start = time.perf_counter()
    search.fit(X, y)
    seconds = time.perf_counter() - start
    scores = np.column_stack([search.cv_results_[key] for key in SCORE_KEYS])
    return seconds, load, scores


def thread_check(X, y, epochs):
    """One row per fit of a ``cross_validate(n_jobs=2)``: process and threads.

    For the benchmark's small model, and for one whose recurrent step is
    large enough (``step_work >= SMALL_WORK``) to use every thread it is
    given: both must stay within the worker's share.
    """
    models = {
        "small (hidden 16)": small_model(min(epochs, 2)),
        "large (hidden 256, batch 64)": small_model(1, hidden_size=256, batch_size=64),
    }
    rows = []
    for name, est in models.items():
        est.set_params(callbacks=[ThreadRecord()])
        fitted = cross_validate(est, X, y, cv=CV, n_jobs=2, return_estimator=True)
        for i, model in enumerate(fitted["estimator"]):
            history = model.history_
            pid = history[-1, "pid"]
            rows.append({
                "model": name,
                "fit": i,
                "process": "parent" if pid == os.getpid() else f"worker {pid}",
                "OMP_NUM_THREADS": history[-1, "omp"],
                "thread budget": history[-1, "budget"],
                "torch threads while training": sorted(
                    set(history[:, "torch_threads"])
                ),
            })
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, small sizes")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--warm", action="store_true",
                        help="reuse loky's workers (not started in the timing)")
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    epochs = args.epochs or (3 if args.quick else 60)
    X, y = make_data(n=90 if args.quick else 300)
    env = environment()

    checks = thread_check(X, y, epochs)
    for row in checks:
        print(row, flush=True)
    share = max(1, cpu_count() // 2)
    key = "torch threads while training"
    oversubscribed = [r for r in checks if max(r[key]) > share]

    runs = []
    for i in range(repeats):
        order = (1, 2) if i % 2 == 0 else (2, 1)
        result = {}
        for n_jobs in order:
            result[n_jobs] = run_search(X, y, n_jobs, epochs, warm=args.warm)
        np.testing.assert_array_equal(result[1][2], result[2][2])
        load = {n: "/".join(f"{v:.2f}" for v in result[n][1]) for n in (1, 2)}
        runs.append({
            "repeat": i,
            "order": f"n_jobs={order[0]} first",
            "load before n_jobs=1 (1/5/15 min)": load[1],
            "load before n_jobs=2 (1/5/15 min)": load[2],
            "n_jobs=1 s": result[1][0],
            "n_jobs=2 s": result[2][0],
            "speed-up": result[1][0] / result[2][0],
            "scores identical": "yes",
        })
        print(runs[-1], flush=True)
    get_reusable_executor().shutdown(wait=True)

    speedup = statistics.median(r["speed-up"] for r in runs)
    workers = ("loky's workers are reused between runs (`--warm`)" if args.warm
               else "loky's workers are started inside each `n_jobs=2` timing")
    lines = [
        "# Parallel grid search: n_jobs=2 vs n_jobs=1",
        "",
        f"`GridSearchCV(HiddenStateClassifier(hidden_size=16, max_epochs={epochs}), "
        f"{GRID}, cv={CV}, refit=False)` on synthetic data ({len(X)} x "
        f"{X.shape[1]} x {X.shape[2]}, 3 classes), {repeats} repeats in ABBA "
        f"order; {workers}. Fold scores of the two are asserted identical in "
        "every repeat.",
        "",
    ]
    if args.quick:
        lines += ["**QUICK RUN: tiny sizes; not the measurement.**", ""]
    lines += [
        f"**Median speed-up (n_jobs=1 time / n_jobs=2 time): {speedup:.2f}x** on "
        f"{env['cpus']} CPUs ({env['cpu_model']}). The load averages show what "
        "else ran: a speed-up measured beside other work says little about "
        "skhidden.",
        "",
        markdown_table(runs),
        "## Threads per worker",
        "",
        f"Each fit of one `cross_validate(n_jobs=2)`: loky gives each worker "
        f"`{cpu_count()} // 2 = {share}` thread(s); torch must stay within it. "
        + ("No fit exceeded it." if not oversubscribed else
           f"**{len(oversubscribed)} fit(s) exceeded it.**"),
        "",
        markdown_table(checks),
        f"Machine: {machine_line(env)}.",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "parallel_search.md"), "w") as fh:
        fh.write(report)
    if oversubscribed:
        sys.exit(1)


if __name__ == "__main__":
    main()
