"""Fit time at 1 and 2 torch threads, idle and beside a busy process.

Does a second thread help the models skhidden trains, and what does it cost
when another process holds a core? For a small model (GRU, 16 units) and the
default model (GRU, 64 units, resnet front-end), on GunPoint (aeon's bundled
copy, 50 series of 150 steps), each fit is timed with torch on 1 thread, on
2 threads, and as skhidden chooses (``auto``, from
``skhidden._threads.step_work``), with the machine otherwise idle and with a
neighbour: a process spinning on one core. The settings are interleaved
within each repeat, so a drift of the machine's load hits them alike; the
table gives medians.

Run it on a quiet machine (the 1-minute load average is recorded; above 0.5
the report says the numbers are not those of a quiet machine)::

    python benchmarks/threads.py                # about 5 minutes on 2 cores
    python benchmarks/threads.py --quick --output /tmp/threads   # smoke run

Writes ``threads.md`` (and ``threads.png`` with matplotlib) to ``--output``,
by default ``benchmarks/results/``.
"""

import argparse
import multiprocessing
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import RESULTS, environment, machine_line, markdown_table  # noqa: E402

MODELS = {
    "small (GRU 16)": {"hidden_size": 16},
    "default (GRU 64, resnet)": {},
}
SETTINGS = ["1 thread", "2 threads", "auto"]
NEIGHBOURS = ["idle", "busy neighbour"]
QUIET_LOAD = 0.5


def _spin():
    while True:
        pass


class Neighbour:
    """A process spinning on one core for the duration of a ``with`` block."""

    def __enter__(self):
        self.process = multiprocessing.Process(target=_spin, daemon=True)
        self.process.start()
        time.sleep(0.5)  # let it reach the scheduler before timing starts
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.join()


class _Idle:
    """No neighbour."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def load_data(quick):
    from skhidden.datasets import load_dataset

    X, y = load_dataset("GunPoint", "train")
    if quick:
        X, y = X[:16, :40], y[:16]
    return X, y


def fit_seconds(params, setting, X, y, epochs):
    """Wall seconds of one fit under ``setting``."""
    import torch

    from skhidden import HiddenStateClassifier, _threads

    small_work = _threads.SMALL_WORK
    if setting == "auto":
        torch.set_num_threads(2)
    else:
        # Forced counts: switch off the one-thread rule, keep the budget.
        torch.set_num_threads(int(setting.split()[0]))
        _threads.SMALL_WORK = 0
    try:
        est = HiddenStateClassifier(
            max_epochs=epochs, random_state=0, device="cpu", **params
        )
        start = time.perf_counter()
        est.fit(X, y)
        return time.perf_counter() - start
    finally:
        _threads.SMALL_WORK = small_work


def run(quick=False, epochs=None, repeats=None, log=print):
    """Time every model, setting and neighbour; return rows and the environment."""
    epochs = epochs or (2 if quick else 20)
    repeats = repeats or (1 if quick else 5)
    X, y = load_data(quick)
    env = environment()
    rows = []
    for neighbour in NEIGHBOURS:
        times = {(m, s): [] for m in MODELS for s in SETTINGS}
        context = Neighbour() if neighbour == "busy neighbour" else _Idle()
        with context:
            for model, params in MODELS.items():
                fit_seconds(params, "1 thread", X, y, 1)  # warm-up, untimed
                for repeat in range(repeats):
                    order = SETTINGS if repeat % 2 == 0 else SETTINGS[::-1]
                    for setting in order:
                        seconds = fit_seconds(params, setting, X, y, epochs)
                        times[model, setting].append(seconds)
                        log(
                            f"{neighbour:15s} {model:25s} {setting:9s} {seconds:6.2f} s"
                        )
        for (model, setting), values in times.items():
            rows.append(
                {
                    "model": model,
                    "neighbour": neighbour,
                    "torch threads": setting,
                    "fit s (median)": statistics.median(values),
                    "min s": min(values),
                    "max s": max(values),
                    "repeats": len(values),
                }
            )
    return (
        rows,
        env,
        {"epochs": epochs, "repeats": repeats, "n": len(X), "steps": np.shape(X)[1]},
    )


def _ratio_rows(rows):
    """Per model and neighbour: 2 threads / 1 thread and auto / 1 thread."""
    by = {
        (r["model"], r["neighbour"], r["torch threads"]): r["fit s (median)"]
        for r in rows
    }
    out = []
    for model in MODELS:
        for neighbour in NEIGHBOURS:
            one = by[model, neighbour, "1 thread"]
            out.append(
                {
                    "model": model,
                    "neighbour": neighbour,
                    "2 threads / 1 thread": by[model, neighbour, "2 threads"] / one,
                    "auto / 1 thread": by[model, neighbour, "auto"] / one,
                }
            )
    return out


def markdown(rows, env, settings, load_before):
    quiet = load_before < QUIET_LOAD
    text = [
        "# Fit time at 1 and 2 torch threads, idle and beside a busy process",
        "",
        "`python benchmarks/threads.py`: GunPoint train split "
        f"({settings['n']} series of {settings['steps']} steps), "
        f"{settings['epochs']} epochs per fit, "
        f"{settings['repeats']} interleaved repeats, medians. `auto` is "
        "skhidden's own choice (one thread for models whose "
        "`step_work` is below `SMALL_WORK`, both models here).",
        "",
        f"Machine: {machine_line(env)}. "
        f"1-minute load before the run: {load_before:.2f}.",
        "",
    ]
    if not quiet:
        text += [
            f"**Not a quiet machine** (load {load_before:.2f} >= {QUIET_LOAD}): other "
            "processes were running, so these numbers are not those of an idle "
            "machine. Rerun when it is quiet.",
            "",
        ]
    text += [
        markdown_table(_ratio_rows(rows)),
        "",
        markdown_table(rows),
    ]
    return "\n".join(text)


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(MODELS), figsize=(10, 4), sharey=False)
    width = 0.25
    for ax, model in zip(np.atleast_1d(axes), MODELS, strict=True):
        for i, setting in enumerate(SETTINGS):
            values = [
                next(
                    r["fit s (median)"]
                    for r in rows
                    if (r["model"], r["neighbour"], r["torch threads"])
                    == (model, neighbour, setting)
                )
                for neighbour in NEIGHBOURS
            ]
            ax.bar(
                np.arange(len(NEIGHBOURS)) + (i - 1) * width,
                values,
                width,
                label=setting,
            )
        ax.set_xticks(np.arange(len(NEIGHBOURS)), NEIGHBOURS)
        ax.set_title(model)
        ax.set_ylabel("fit time (s, median)")
        ax.grid(axis="y", alpha=0.3)
    np.atleast_1d(axes)[0].legend(fontsize="small")
    fig.suptitle("Fit time by torch threads, GunPoint")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, tiny sizes")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args(argv)
    from skhidden._threads import thread_budget

    # Under a budget of 1 (one CPU, OMP_NUM_THREADS=1) "2 threads" would be 1.
    if thread_budget() < 2:
        sys.exit(
            "threads.py needs a thread budget of 2: 2 CPUs, OMP_NUM_THREADS unset."
        )
    load_before = os.getloadavg()[0]
    rows, env, settings = run(
        quick=args.quick, epochs=args.epochs, repeats=args.repeats
    )
    os.makedirs(args.output, exist_ok=True)
    text = markdown(rows, env, settings, load_before)
    with open(os.path.join(args.output, "threads.md"), "w") as f:
        f.write(text)
    try:
        plot(rows, os.path.join(args.output, "threads.png"))
    except ImportError:
        print("matplotlib is not installed: no threads.png")
    print(text)


if __name__ == "__main__":
    main()
