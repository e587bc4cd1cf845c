"""Scaling benchmark: one grid search run with n_jobs=1 and with n_jobs=2.

The search: ``HiddenStateClassifier`` over 4 aggregations x 2 cells
(8 candidates) with 3-fold CV, that is 24 fits, on JapaneseVowels' training
split (270 sequences of 7-29 steps, 12 features, 9 classes; bundled with
aeon, loaded offline). Each repeat times, in turn:

- ``n_jobs=1``: one process; torch uses its default thread count
  (every core), which is what a user gets without doing anything;
- ``n_jobs=1, 1 thread``: the same under ``threadpool_limits(1)``, i.e. one
  worker on one core: the fair unit to compare process parallelism with;
- ``n_jobs=2``: two loky workers, each given ``cores // 2`` threads; the
  workers are started inside the timing (nothing is warm);
- with ``--dask``, the same search through ``joblib.parallel_backend("dask")``
  on a ``LocalCluster`` of 2 single-threaded worker processes (started
  before the timing).

It reports the times, the medians of the per-repeat speed-ups, and whether
the cross-validation scores of each configuration equal those of
``n_jobs=2`` exactly. ``refit=False``: only the parallel part is timed.

Usage::

    python benchmarks/scaling.py [--repeats 3] [--epochs 30] [--dask]
                                 [--output benchmarks/results/scaling.md]
"""

import argparse
import os
import platform
import statistics
import time

import joblib
import numpy as np
import torch
from joblib.externals.loky import get_reusable_executor
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

from skhidden import HiddenStateClassifier
from skhidden.datasets import load_dataset

GRID = {"aggregation": ["last", "mean", "max", "attention"], "cell": ["gru", "lstm"]}
CV = 3
SCORE_KEYS = [f"split{i}_test_score" for i in range(CV)]


def make_search(n_jobs, epochs):
    estimator = HiddenStateClassifier(hidden_size=32, max_epochs=epochs, random_state=0)
    return GridSearchCV(estimator, GRID, cv=CV, n_jobs=n_jobs, refit=False)


def run_search(X, y, n_jobs, epochs):
    """Fit the search; return ``(seconds, fold scores (n_candidates, cv))``."""
    start = time.perf_counter()
    search = make_search(n_jobs, epochs).fit(X, y)
    seconds = time.perf_counter() - start
    scores = np.column_stack([search.cv_results_[key] for key in SCORE_KEYS])
    return seconds, scores


def stop_loky_workers():
    """Shut joblib's reusable worker pool, so that the next timing starts it."""
    get_reusable_executor().shutdown(wait=True)


def single_thread(X, y, epochs):
    with threadpool_limits(1):
        return run_search(X, y, 1, epochs)


def two_workers(X, y, epochs):
    stop_loky_workers()
    return run_search(X, y, 2, epochs)


def measure(X, y, *, repeats, epochs, dask_client=None):
    """Time every configuration ``repeats`` times, interleaved."""
    configs = {
        "n_jobs=1": lambda: run_search(X, y, 1, epochs),
        "n_jobs=1, 1 thread": lambda: single_thread(X, y, epochs),
        "n_jobs=2": lambda: two_workers(X, y, epochs),
    }
    if dask_client is not None:

        def on_dask():
            with joblib.parallel_backend("dask"):
                return run_search(X, y, -1, epochs)

        configs["dask, 2 workers"] = on_dask
    times = {name: [] for name in configs}
    times["load"] = []  # other users of the machine, for the reader
    scores = {}
    for repeat in range(repeats):
        times["load"].append(os.getloadavg()[0])
        for name, run in configs.items():
            seconds, fold_scores = run()
            times[name].append(seconds)
            scores.setdefault(name, fold_scores)
            if not np.array_equal(scores[name], fold_scores):
                raise AssertionError(f"{name}: scores changed between repeats")
            print(f"repeat {repeat + 1}: {name:20s} {seconds:7.1f} s", flush=True)
    stop_loky_workers()
    return times, scores


def report(times, scores, *, n_samples, epochs, repeats):
    """The results as markdown."""
    load = times.pop("load")
    names = list(times)
    speedups = {
        "n_jobs=2 vs n_jobs=1": [
            a / b for a, b in zip(times["n_jobs=1"], times["n_jobs=2"], strict=True)
        ],
        "n_jobs=2 vs n_jobs=1, 1 thread": [
            a / b
            for a, b in zip(times["n_jobs=1, 1 thread"], times["n_jobs=2"], strict=True)
        ],
    }
    reference = scores["n_jobs=2"]
    n_candidates = reference.shape[0]
    lines = [
        "# Scaling: grid search with n_jobs=2 against n_jobs=1",
        "",
        "Written by `python benchmarks/scaling.py` "
        f"(repeats={repeats}, epochs={epochs}).",
        "",
        f"- Machine: {os.cpu_count()} CPUs ({platform.machine()}),"
        f" torch {torch.__version__} (default {torch.get_num_threads()} threads),"
        f" joblib {joblib.__version__}. No GPU.",
        f"- Search: {n_candidates} candidates ({GRID}) x {CV}-fold CV ="
        f" {n_candidates * CV} fits, `HiddenStateClassifier(hidden_size=32,"
        f" max_epochs={epochs}, random_state=0)`, `refit=False`.",
        f"- Data: JapaneseVowels train split, {n_samples} ragged sequences"
        " (7-29 steps, 12 features, 9 classes).",
        "- `n_jobs=2` includes starting the 2 loky workers;"
        " the Dask cluster, when present, is started before its timing.",
        "- Load average (1 min) before each run: "
        + ", ".join(f"{value:.1f}" for value in load)
        + " (the machine was shared; ratios are taken within a run).",
        "",
        "| configuration | "
        + " | ".join(f"run {i + 1} (s)" for i in range(repeats))
        + " | median (s) |",
        "|---|" + "---|" * (repeats + 1),
    ]
    for name in names:
        cells = " | ".join(f"{t:.1f}" for t in times[name])
        lines.append(f"| {name} | {cells} | {statistics.median(times[name]):.1f} |")
    lines += ["", "| speed-up | per run | median |", "|---|---|---|"]
    for name, values in speedups.items():
        cells = ", ".join(f"{v:.2f}x" for v in values)
        lines.append(f"| {name} | {cells} | {statistics.median(values):.2f}x |")
    lines += ["", "Fold scores (accuracy) compared with `n_jobs=2`, exactly:", ""]
    for name in names:
        differing = int((scores[name] != reference).sum())
        verdict = (
            "identical"
            if differing == 0
            else (
                f"{differing} of {reference.size} differ "
                f"(largest gap {np.abs(scores[name] - reference).max():.3f})"
            )
        )
        lines.append(f"- {name}: {verdict}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--dask", action="store_true", help="also time a Dask cluster")
    parser.add_argument("--output", default=None, help="write the markdown here")
    args = parser.parse_args(argv)

    X, y = load_dataset("JapaneseVowels", "train")
    client = cluster = None
    if args.dask:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = Client(cluster)
    try:
        times, scores = measure(
            X, y, repeats=args.repeats, epochs=args.epochs, dask_client=client
        )
    finally:
        if client is not None:
            client.close()
            cluster.close()
    text = report(
        times, scores, n_samples=len(X), epochs=args.epochs, repeats=args.repeats
    )
    print(text)
    if args.output:
        os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
        with open(args.output, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
