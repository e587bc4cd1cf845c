"""The main job, ``python -m skhidden``: compare aggregation strategies on real data.

Steps: load a bundled real dataset (official train/test split), grid-search
the aggregation strategy with cross-validation on the training split, refit
every strategy on the whole training split and score it on the test split,
print a table, write it as markdown and save the best model with joblib.
With matplotlib installed, ``save_figures`` also saves PNG pictures beside the
table: the strategies' CV scores, how early each refitted strategy knows the
class on the test split, and a test sequence with its attention weights.
"""

import argparse
import importlib.util
import os
import sys
import time

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline

from .classifier import HiddenStateClassifier
from .datasets import load_dataset
from .preprocessing import SequenceScaler

__all__ = ["STRATEGIES", "main", "run_comparison", "save_figures", "save_png"]

STRATEGIES = ["last", "mean", "max", "attention", "timesteps", ("mean", "max")]


def _label(strategy):
    return "+".join(strategy) if isinstance(strategy, tuple) else strategy


def run_comparison(
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    strategies=STRATEGIES,
    cv=3,
    max_epochs=60,
    hidden_size=32,
    random_state=0,
    log=print,
    return_models=False,
    **estimator_params,
):
    """Grid-search the aggregation strategy and score every strategy on a test set.

    Parameters
    ----------
    X_train, y_train : sequences and labels
        Training split, searched with cross-validation.
    X_test, y_test : sequences and labels
        Held-out split.
    strategies : list of str or tuple, default=STRATEGIES
        Aggregation strategies to compare.
    cv : int, default=3
        Cross-validation folds (stratified, shuffled with ``random_state``).
    max_epochs : int, default=60
        Training epochs of every fit.
    hidden_size : int, default=32
        Hidden units of the GRU.
    random_state : int, default=0
        Seed of every fit and of the folds.
    log : callable, default=print
        Receives progress lines.
    return_models : bool, default=False
        Also return the refitted models.
    **estimator_params
        Further :class:`HiddenStateClassifier` parameters of every model
        (e.g. ``frontend="none"`` to read raw steps).

    Returns
    -------
    rows : list of dict
        One per strategy: ``strategy``, ``cv_mean``, ``cv_std``,
        ``test_accuracy``, ``fit_seconds``, ``rank``.
    search : GridSearchCV
        The fitted search; ``best_estimator_`` is a scaler + classifier pipeline.
    models : dict of str -> Pipeline
        Only with ``return_models``: each strategy's label -> its model
        refitted on the whole training split.
    """
    pipeline = make_pipeline(
        SequenceScaler(),
        HiddenStateClassifier(
            hidden_size=hidden_size,
            max_epochs=max_epochs,
            random_state=random_state,
            **estimator_params,
        ),
    )
    grid = {"hiddenstateclassifier__aggregation": list(strategies)}
    folds = StratifiedKFold(cv, shuffle=True, random_state=random_state)
    search = GridSearchCV(pipeline, grid, cv=folds, verbose=2)
    log(
        f"Grid search: {len(strategies)} strategies x {cv} folds, "
        f"{max_epochs} epochs each"
    )
    search.fit(X_train, y_train)

    results = search.cv_results_
    rows = []
    models = {}
    for i, params in enumerate(results["params"]):
        strategy = params["hiddenstateclassifier__aggregation"]
        log(
            f"[{i + 1}/{len(strategies)}] refit {_label(strategy)!r} "
            "on the whole training split"
        )
        model = clone(pipeline).set_params(**params)
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        models[_label(strategy)] = model
        rows.append(
            {
                "strategy": _label(strategy),
                "cv_mean": float(results["mean_test_score"][i]),
                "cv_std": float(results["std_test_score"][i]),
                "test_accuracy": float(model.score(X_test, y_test)),
                "fit_seconds": seconds,
                "rank": int(results["rank_test_score"][i]),
            }
        )
    if return_models:
        return rows, search, models
    return rows, search


def save_figures(search, models, X_test, y_test, folder):
    """Save the comparison's pictures as PNG files in ``folder``.

    Parameters
    ----------
    search : GridSearchCV
        The fitted search of :func:`run_comparison`.
    models : dict of str -> Pipeline
        The refitted models of :func:`run_comparison`.
    X_test, y_test : sequences and labels
        Held-out split for the early-classification curve and the attention
        picture (its first sequence).

    Returns
    -------
    paths : list of str
        The files written: ``strategy_comparison.png``,
        ``early_classification.png`` and, when a strategy has attention,
        ``attention.png``.
    """
    from .plotting import (
        plot_attention,
        plot_early_classification,
        plot_strategy_comparison,
    )

    attention = [m for label, m in models.items() if "attention" in label.split("+")]
    drawings = {
        "strategy_comparison.png": lambda ax: plot_strategy_comparison(
            search.cv_results_, ax=ax
        ),
        "early_classification.png": lambda ax: plot_early_classification(
            models, X_test, y_test, ax=ax
        ),
    }
    if attention:
        drawings["attention.png"] = lambda ax: plot_attention(
            attention[0], X_test[0], ax=ax
        )
    paths = [os.path.join(folder, name) for name in drawings]
    for path, draw in zip(paths, drawings.values(), strict=True):
        save_png(draw, path)
    return paths


def save_png(draw, path, size=(6.4, 4.0)):
    """Call ``draw(ax)`` on a new figure and save it as a PNG at ``path``.

    The figure is made without pyplot: no GUI backend, no global state.

    Parameters
    ----------
    draw : callable
        Receives the matplotlib Axes to draw on.
    path : str
        Where the PNG goes.
    size : tuple of float, default=(6.4, 4.0)
        Figure size in inches (drawn at 100 dpi).
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    draw(figure.subplots())
    figure.savefig(path, dpi=100)


def format_table(rows):
    """Render comparison rows as a markdown table, best CV score first."""
    lines = [
        "| rank | aggregation | CV accuracy (mean ± std) | test accuracy "
        "| fit time (s) |",
        "|---:|---|---:|---:|---:|",
    ]
    for row in sorted(rows, key=lambda r: r["rank"]):
        lines.append(
            f"| {row['rank']} | {row['strategy']} | {row['cv_mean']:.3f} ± "
            f"{row['cv_std']:.3f} | {row['test_accuracy']:.3f} | "
            f"{row['fit_seconds']:.1f} |"
        )
    return "\n".join(lines)


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog="python -m skhidden",
        description=(
            "Compare RNN hidden-state aggregation strategies with GridSearchCV "
            "on a real dataset bundled with aeon (official train/test split)."
        ),
    )
    parser.add_argument(
        "--dataset",
        default="JapaneseVowels",
        help="an aeon-bundled dataset name or a .ts file path "
        "(default: JapaneseVowels)",
    )
    parser.add_argument(
        "--test-dataset",
        default=None,
        help="a .ts file with the test split, when --dataset is a .ts file",
    )
    parser.add_argument(
        "--epochs", type=int, default=60, help="epochs per fit (default: 60)"
    )
    parser.add_argument(
        "--hidden-size", type=int, default=32, help="GRU units (default: 32)"
    )
    parser.add_argument(
        "--cv", type=int, default=3, help="cross-validation folds (default: 3)"
    )
    parser.add_argument(
        "--strategies",
        nargs="+",
        default=None,
        help="strategies to compare; join pooled ones with '+', e.g. mean+max",
    )
    parser.add_argument(
        "--output", default="skhidden-output", help="folder for the table and the model"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the comparison from the command line; returns the exit status."""
    args = _parse(argv)
    strategies = STRATEGIES
    if args.strategies:
        strategies = [tuple(s.split("+")) if "+" in s else s for s in args.strategies]

    print(f"Loading {args.dataset} (offline, through aeon) ...", flush=True)
    X_train, y_train = load_dataset(args.dataset, "train")
    if args.dataset.endswith(".ts"):
        if args.test_dataset is None:
            print("error: a .ts --dataset needs --test-dataset too", file=sys.stderr)
            return 2
        X_test, y_test = load_dataset(args.test_dataset)
    else:
        X_test, y_test = load_dataset(args.dataset, "test")
    lengths = [len(x) for x in X_train]
    print(
        f"{len(X_train)} training / {len(X_test)} test sequences, lengths "
        f"{min(lengths)}-{max(lengths)}, {np.shape(X_train[0])[1]} feature(s), "
        f"{len(np.unique(y_train))} classes",
        flush=True,
    )

    start = time.perf_counter()
    rows, search, models = run_comparison(
        X_train,
        y_train,
        X_test,
        y_test,
        strategies=strategies,
        cv=args.cv,
        max_epochs=args.epochs,
        hidden_size=args.hidden_size,
        random_state=args.seed,
        log=lambda line: print(line, flush=True),
        return_models=True,
    )
    table = format_table(rows)
    best = search.best_params_["hiddenstateclassifier__aggregation"]
    summary = (
        f"# {args.dataset}: GRU hidden-state aggregation strategies\n\n"
        f"{args.cv}-fold CV on the training split, then each strategy refit on it "
        f"and scored on the official test split; {args.epochs} epochs, hidden size "
        f"{args.hidden_size}, seed {args.seed}. Total time "
        f"{time.perf_counter() - start:.0f} s.\n\n{table}\n\n"
        f"Best by CV: {_label(best)!r}.\n"
    )
    print("\n" + summary)

    os.makedirs(args.output, exist_ok=True)
    table_path = os.path.join(args.output, "results.md")
    with open(table_path, "w") as fh:
        fh.write(summary)
    model_path = os.path.join(args.output, "best_model.joblib")
    joblib.dump(search.best_estimator_, model_path)
    print(f"Wrote {table_path} and {model_path} (load with joblib.load).")
    _report_figures(search, models, X_test, y_test, args.output)
    return 0


def _report_figures(search, models, X_test, y_test, folder):
    """Save the figures and say where, or say in one line why there are none."""
    if importlib.util.find_spec("matplotlib") is None:
        print(
            "No figures: matplotlib is not installed (pip install 'skhidden[plots]')."
        )
        return
    paths = save_figures(search, models, X_test, y_test, folder)
    print(f"Wrote {', '.join(paths)}.")
