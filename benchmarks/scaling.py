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
- ``n_jobs=2, warm workers``: the same again, on the workers the previous
  search left running (as a second search in a session does);
- with ``--dask``, the same search through ``joblib.parallel_backend("dask")``
  on a ``LocalCluster`` of 2 single-threaded worker processes (started
  before the timing).

It reports the wall times, the CPU time all processes of a configuration
used (the main process, loky's or Dask's workers), the medians of the
per-repeat speed-ups, and whether the cross-validation scores of each
configuration equal those of ``n_jobs=2`` exactly. ``refit=False``: only
the parallel part is timed. The machine may be shared: before each repeat
it also records the load average and how much faster two processes finish
pure-Python work than one (``machine_parallelism``), the ceiling for any
speed-up at that moment. CPU times need psutil (installed with Dask).

Usage::

    python benchmarks/scaling.py [--repeats 3] [--epochs 120] [--dask]
                                 [--quiet 1.8] [--output benchmarks/results/scaling.md]
"""

import argparse
import os
import platform
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

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
    stop_loky_workers()  # start them inside the timing
    return run_search(X, y, 2, epochs)


def _spin(n):
    for _ in range(n):
        pass


def machine_parallelism(n=10_000_000):
    """How much faster 2 processes finish 2 units of pure-Python work than 1.

    2.0 on two idle cores; less when other programs use them. Under Linux's
    autogroup scheduling, another session's busy processes take their share
    whatever the number of processes here, which caps any n_jobs speed-up.
    """
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_spin, [1, 1]))
        start = time.perf_counter()
        list(pool.map(_spin, [n]))
        one = time.perf_counter() - start
        start = time.perf_counter()
        list(pool.map(_spin, [n, n]))
        two = time.perf_counter() - start
    return 2 * one / two


def cpu_seconds():
    """CPU time used so far by this process and its children, live or finished.

    The children are loky's workers and the processes of a local Dask cluster.
    """
    import psutil

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):  # finished ones
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:  # just ended: counted once reaped
            continue
        total += times.user + times.system
    return total


def wait_until_quiet(threshold, timeout=3600, pause=30):
    """Wait until ``machine_parallelism()`` reaches ``threshold`` (or time out)."""
    deadline = time.monotonic() + timeout
    while (
        ceiling := machine_parallelism()
    ) < threshold and time.monotonic() < deadline:
        print(f"waiting for a quiet machine: parallelism {ceiling:.2f}x", flush=True)
        time.sleep(pause)
    return ceiling


def measure(X, y, *, repeats, epochs, dask_client=None, quiet=None):
    """Time every configuration ``repeats`` times, interleaved.

    With ``quiet``, each repeat waits until ``machine_parallelism()``
    reaches it. Returns ``(times, cpu, scores, machine)``: wall and CPU
    seconds per configuration and run, fold scores per configuration, and
    what the other users of the machine left (load average,
    ``machine_parallelism`` before and after each run).
    """
    configs = {
        "n_jobs=1": lambda: run_search(X, y, 1, epochs),
        "n_jobs=1, 1 thread": lambda: single_thread(X, y, epochs),
        "n_jobs=2": lambda: two_workers(X, y, epochs),
        "n_jobs=2, warm workers": lambda: run_search(X, y, 2, epochs),
    }
    if dask_client is not None:

        def on_dask():
            with joblib.parallel_backend("dask"):
                return run_search(X, y, -1, epochs)

        configs["dask, 2 workers"] = on_dask
    times = {name: [] for name in configs}
    cpu = {name: [] for name in configs}
    machine = {"load": [], "parallelism": [], "parallelism after": []}
    scores = {}
    for repeat in range(repeats):
        machine["load"].append(os.getloadavg()[0])
        machine["parallelism"].append(
            wait_until_quiet(quiet) if quiet else machine_parallelism()
        )
        for name, run in configs.items():
            start = cpu_seconds()
            seconds, fold_scores = run()
            cpu[name].append(cpu_seconds() - start)
            times[name].append(seconds)
            scores.setdefault(name, fold_scores)
            if not np.array_equal(scores[name], fold_scores):
                raise AssertionError(f"{name}: scores changed between repeats")
            print(
                f"repeat {repeat + 1}: {name:22s} {seconds:7.1f} s,"
                f" CPU {cpu[name][-1]:7.1f} s",
                flush=True,
            )
        machine["parallelism after"].append(machine_parallelism())
    stop_loky_workers()
    return times, cpu, scores, machine


def report(times, cpu, scores, machine, *, n_samples, epochs, repeats):
    """The results as markdown."""
    names = list(times)
    speedups = {
        "n_jobs=2 vs n_jobs=1": [
            a / b for a, b in zip(times["n_jobs=1"], times["n_jobs=2"], strict=True)
        ],
        "n_jobs=2 vs n_jobs=1, 1 thread": [
            a / b
            for a, b in zip(times["n_jobs=1, 1 thread"], times["n_jobs=2"], strict=True)
        ],
        "n_jobs=2, warm workers vs n_jobs=1, 1 thread": [
            a / b
            for a, b in zip(
                times["n_jobs=1, 1 thread"],
                times["n_jobs=2, warm workers"],
                strict=True,
            )
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
        "- `n_jobs=2` includes starting the 2 loky workers, `n_jobs=2, warm"
        " workers` reuses them; the Dask cluster, when present, is started"
        " before the first run (its workers import skhidden during it).",
        "- Before each run, load average (1 min): "
        + ", ".join(f"{value:.1f}" for value in machine["load"])
        + "; speed-up of 2 processes over 1 on pure-Python work, the ceiling"
        " for any n_jobs=2 speed-up then, before / after each run: "
        + ", ".join(
            f"{before:.2f}x / {after:.2f}x"
            for before, after in zip(
                machine["parallelism"], machine["parallelism after"], strict=True
            )
        )
        + ".",
        "",
        "| configuration | "
        + " | ".join(f"run {i + 1} (s)" for i in range(repeats))
        + " | median (s) | median CPU time (s) |",
        "|---|" + "---|" * (repeats + 2),
    ]
    for name in names:
        cells = " | ".join(f"{t:.1f}" for t in times[name])
        lines.append(
            f"| {name} | {cells} | {statistics.median(times[name]):.1f}"
            f" | {statistics.median(cpu[name]):.1f} |"
        )
    lines += [
        "",
        "CPU time: all processes of the configuration; the same work at the same"
        " CPU time means that wall time only depends on the cores left free.",
        "",
        "| speed-up | per run | median |",
        "|---|---|---|",
    ]
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
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--dask", action="store_true", help="also time a Dask cluster")
    parser.add_argument("--output", default=None, help="write the markdown here")
    parser.add_argument(
        "--quiet",
        type=float,
        default=None,
        help="before each repeat, wait until 2 processes run this much faster than 1",
    )
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
        times, cpu, scores, machine = measure(
            X,
            y,
            repeats=args.repeats,
            epochs=args.epochs,
            dask_client=client,
            quiet=args.quiet,
        )
    finally:
        if client is not None:
            client.close()
            cluster.close()
    text = report(
        times,
        cpu,
        scores,
        machine,
        n_samples=len(X),
        epochs=args.epochs,
        repeats=args.repeats,
    )
    print(text)
    if args.output:
        os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
        with open(args.output, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
