"""The broad evaluation panel (issue 11): skhidden's defaults beside MiniRocket.

Every set of both halves (see ``_panel_data``) on its official train/test
split, in one run:

- MiniRocket (aeon's ``MiniRocketClassifier`` / ``MiniRocketRegressor``),
  reading unequal-length sets resampled by linear interpolation to the
  longest length, as the archive's ``_eq`` versions do; its published
  accuracy (tsml-eval 0.6.0, ``data/published_accuracy.csv``) beside it as
  a cross-check;
- ``HiddenStateClassifier()`` / ``HiddenStateRegressor()`` as shipped (only
  ``random_state`` set), reading every set as it is (unequal lengths too);
- the faster setting the README names (``FAST``);
- with ``--search``: ``GridSearchCV`` over ``aggregation`` (3-fold CV on the
  training split, refit; the time is the whole search);
- for regression, the training mean as the floor.

Rows are appended to ``results/panel_rows.jsonl`` as they finish (a rerun
skips rows already there, so a long run can be resumed; ``--fresh`` starts
over), and ``results/panel.md`` + ``results/panel.png`` are written from
them: per-set accuracy and fit time, mean accuracy, wins/ties/losses and a
scatter of skhidden against MiniRocket, for each half.

``--params '{"frontend": "conv"}' --label NAME`` runs another setting under
its own label (how the levers of the closing note were measured, on the
tuning half only); ``{"vote": [params, ...]}`` runs a soft vote
(``VotingClassifier``) of those settings. Torch uses the threads the
estimator chooses; timings are wall-clock seconds on the machine named in
the report.

Run ``python benchmarks/panel.py --half tuning`` (or ``confirmation``,
``both``); ``--quick`` is a smoke run with two epochs on two sets.
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import RESULTS, environment, machine_line, markdown_table  # noqa: E402
from _panel_data import (  # noqa: E402
    CONFIRMATION,
    HALF,
    REGRESSION,
    TUNING,
    is_equal_length,
    load_panel_set,
    resample_to,
)

from skhidden import HiddenStateClassifier, HiddenStateRegressor  # noqa: E402
from skhidden.sequences import check_sequences  # noqa: E402

ROWS = os.path.join(RESULTS, "panel_rows.jsonl")
DEFAULT = "skhidden default"
FAST = {"bidirectional": False, "n_networks": 1, "differences": False}
FAST_LABEL = "skhidden fast (bidirectional=False, n_networks=1, differences=False)"
SEARCH = "GridSearchCV(aggregation)"
SEARCH_GRID = {"aggregation": ["last", "mean", "max", "attention", ("mean", "max")]}
MINIROCKET = "MiniRocket"


def _published():
    """Published accuracy on the official split: {classifier: {dataset: accuracy}}."""
    path = os.path.join(HERE, "data", "published_accuracy.csv")
    with open(path) as f:
        lines = [line.strip().split(",") for line in f if not line.startswith("#")]
    header, body = lines[0][1:], lines[1:]
    return {name: {row[0]: float(row[1 + i]) for row in body if row[1 + i]}
            for i, name in enumerate(header)}


def _longest(*datasets):
    return int(max(check_sequences(X)[1].max() for X in datasets))


def _channels_first(X_train, X_test):
    if is_equal_length(X_train) and is_equal_length(X_test):
        return X_train.transpose(0, 2, 1), X_test.transpose(0, 2, 1)
    length = _longest(X_train, X_test)
    return resample_to(X_train, length), resample_to(X_test, length)


def _timed(fit):
    start = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - start


def _score(task, y_true, y_pred):
    if task == "classification":
        return {"accuracy": float(np.mean(np.asarray(y_pred) == y_true))}
    return {"rmse": float(np.sqrt(np.mean((np.asarray(y_pred) - y_true) ** 2)))}


_WARMED_UP = set()  # the classes ``_warm_up`` has fitted in this process


def _warm_up(cls, _done=None):
    """Fit once on a tiny random set so numba compiles before any timing."""
    if _done is None:
        _done = _WARMED_UP
    if cls in _done:
        return
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 1, 30))
    y = np.arange(10) % 2 if hasattr(cls, "predict_proba") else rng.normal(size=10)
    cls(random_state=0).fit(X, y)
    _done.add(cls)


def run_minirocket(task, data):
    from aeon.classification.convolution_based import MiniRocketClassifier
    from aeon.regression.convolution_based import MiniRocketRegressor

    X_train, y_train, X_test, y_test = data
    A, B = _channels_first(X_train, X_test)
    cls = MiniRocketClassifier if task == "classification" else MiniRocketRegressor
    _warm_up(cls)
    model, seconds = _timed(lambda: cls(random_state=0).fit(A, y_train))
    return {**_score(task, y_test, model.predict(B)), "fit_s": seconds}


def run_skhidden(task, data, params, seed, search=False):
    from sklearn.model_selection import GridSearchCV

    X_train, y_train, X_test, y_test = data
    cls = HiddenStateClassifier if task == "classification" else HiddenStateRegressor
    if "vote" in params:
        shared = {k: v for k, v in params.items() if k != "vote"}
        estimator = _vote(task, cls, [{**shared, **p} for p in params["vote"]], seed)
    else:
        estimator = cls(**{**params, "random_state": seed})
    if search:
        # Three folds, fewer where a class has fewer members (PigCVP has 2).
        folds = 3
        if task == "classification":
            folds = int(min(3, np.unique(y_train, return_counts=True)[1].min()))
        estimator = GridSearchCV(estimator, SEARCH_GRID, cv=max(2, folds))
    model, seconds = _timed(lambda: estimator.fit(X_train, y_train))
    row = {**_score(task, y_test, model.predict(X_test)), "fit_s": seconds}
    if search:
        best = model.best_params_["aggregation"]
        row["chosen"] = "+".join(best) if isinstance(best, tuple) else best
    return row


def _vote(task, cls, members, seed):
    """A soft vote (scikit-learn's ``VotingClassifier``) of skhidden settings.

    ``members``: each one's parameters; every member gets ``random_state=seed``.
    """
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    estimators = [
        (f"member{i}", cls(**{**member, "random_state": seed}))
        for i, member in enumerate(members)
    ]
    if task == "classification":
        return VotingClassifier(estimators, voting="soft")
    return VotingRegressor(estimators)


def describe(name, data):
    X_train, y_train, X_test, _ = data
    lengths = np.concatenate([check_sequences(X)[1] for X in (X_train, X_test)])
    return {
        "n_train": len(y_train),
        "n_test": len(data[3]),
        "length": f"{lengths.min()}" if lengths.min() == lengths.max()
        else f"{lengths.min()}-{lengths.max()}",
        "equal_length": bool(lengths.min() == lengths.max()),
        "channels": int(check_sequences(X_train[:1])[0].shape[2]),
    }


# ------------------------------------------------------------------ report
def _load_rows():
    if not os.path.exists(ROWS):
        return []
    with open(ROWS) as f:
        return [json.loads(line) for line in f if line.strip()]


def _mean_by(rows, key):
    """Mean of ``key`` over seeds, per (method, dataset)."""
    groups = {}
    for row in rows:
        if key in row:
            groups.setdefault((row["method"], row["dataset"]), []).append(row)
    return {
        k: {**v[0], key: statistics.mean(r[key] for r in v),
            "fit_s": statistics.mean(r["fit_s"] for r in v), "seeds": len(v)}
        for k, v in groups.items()
    }


def wins_ties_losses(ours, theirs):
    """``"W/T/L"``: the sets where ``ours`` is above, equal to, below ``theirs``."""
    pairs = list(zip(ours, theirs, strict=True))
    wins = sum(a > b + 1e-9 for a, b in pairs)
    ties = sum(abs(a - b) <= 1e-9 for a, b in pairs)
    losses = sum(a < b - 1e-9 for a, b in pairs)
    return f"{wins:d}/{ties:d}/{losses:d}"


def summarise(rows, half, methods):
    """Per-set table and the summary lines of one half (classification)."""
    table = _mean_by([r for r in rows if r["half"] == half], "accuracy")
    published = _published()
    datasets = [d for d in (TUNING if half == "tuning" else CONFIRMATION)
                if (MINIROCKET, d) in table]
    per_set, summary = [], []
    for d in datasets:
        base = table[(MINIROCKET, d)]
        row = {"dataset": d, "n_train": base["n_train"], "length": base["length"],
               **{f"published {name}": accuracy.get(d, "")
                  for name, accuracy in published.items()},
               "MiniRocket": base["accuracy"], "MiniRocket fit s": base["fit_s"]}
        for m in methods:
            if (m, d) in table:
                row[m] = table[(m, d)]["accuracy"]
                row[f"{m} fit s"] = table[(m, d)]["fit_s"]
        per_set.append(row)
    for m in methods:
        sets = [d for d in datasets if (m, d) in table]
        if not sets:
            continue
        ours = [table[(m, d)]["accuracy"] for d in sets]
        theirs = [table[(MINIROCKET, d)]["accuracy"] for d in sets]
        unequal = [i for i, d in enumerate(sets)
                   if not table[(MINIROCKET, d)]["equal_length"]]
        fits = [table[(m, d)]["fit_s"] for d in sets]
        summary.append({
            "method": m,
            "sets": len(sets),
            "seeds": max(table[(m, d)]["seeds"] for d in sets),
            "mean accuracy": statistics.mean(ours),
            "MiniRocket mean": statistics.mean(theirs),
            "default on these sets": (
                statistics.mean(table[(DEFAULT, d)]["accuracy"] for d in sets)
                if all((DEFAULT, d) in table for d in sets) else ""),
            "gap (points)": 100 * (statistics.mean(ours) - statistics.mean(theirs)),
            "wins/ties/losses": wins_ties_losses(ours, theirs),
            "unequal-length mean (ours / MiniRocket)": (
                f"{statistics.mean(ours[i] for i in unequal):.3f} / "
                f"{statistics.mean(theirs[i] for i in unequal):.3f}"
                if unequal else ""),
            "median fit s": statistics.median(fits),
            "max fit s": max(fits),
        })
    return per_set, summary


def published_table(rows, half, equal_length=True):
    """The default beside published classifiers, on the sets they were run on.

    Means over the sets of ``half`` of the one kind (equal or unequal
    length) that the bake-off published (``data/published_accuracy.csv``),
    for each classifier published on all of them: the deep networks there
    (ResNet; InceptionTime, an ensemble of five; H-InceptionTime, the only
    one with the unequal-length sets, read resampled to one length) are what
    a user would otherwise try.
    """
    table = _mean_by([r for r in rows if r["half"] == half], "accuracy")
    published = _published()
    sets = [d for d in (TUNING if half == "tuning" else CONFIRMATION)
            if (DEFAULT, d) in table
            and table[(DEFAULT, d)]["equal_length"] == equal_length
            and any(d in acc for acc in published.values())]
    published = {name: acc for name, acc in published.items()
                 if sets and all(d in acc for d in sets)}
    if not published:
        return []
    means = {DEFAULT: [table[(DEFAULT, d)]["accuracy"] for d in sets]}
    if all((MINIROCKET, d) in table for d in sets):
        means[f"{MINIROCKET} (this run)"] = [table[(MINIROCKET, d)]["accuracy"]
                                             for d in sets]
    for name, accuracy in published.items():
        means[f"{name} (published)"] = [accuracy[d] for d in sets]
    ours = means[DEFAULT]
    return [{"classifier": name, "sets": len(sets),
             "mean accuracy": statistics.mean(acc),
             "default wins/ties/losses": (
                 "" if name == DEFAULT else wins_ties_losses(ours, acc))}
            for name, acc in means.items()]


def regression_table(rows):
    table = _mean_by([r for r in rows if "rmse" in r], "rmse")
    out = []
    for d in REGRESSION:
        row = {"dataset": d}
        for (m, dd), r in sorted(table.items()):
            if dd == d:
                row[f"{m} RMSE"] = r["rmse"]
                row[f"{m} fit s"] = r["fit_s"]
        if len(row) > 1:
            out.append(row)
    return out


def plot(rows, methods, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.8), sharex=True, sharey=True)
    for ax, half in zip(axes, ("tuning", "confirmation"), strict=True):
        table = _mean_by([r for r in rows if r["half"] == half], "accuracy")
        for m, marker in zip(methods, "os^Dv", strict=False):
            points = [(table[(MINIROCKET, d)]["accuracy"], table[(m, d)]["accuracy"], d)
                      for (mm, d) in table if mm == m and (MINIROCKET, d) in table]
            if points:
                x, y, _ = zip(*points, strict=True)
                ax.scatter(x, y, marker=marker, label=m, alpha=0.8)
        ax.plot([0, 1], [0, 1], color="k", lw=0.8)
        ax.set_title(f"{half} half")
        ax.set_xlabel("MiniRocket test accuracy")
        ax.set_xlim(0.2, 1.02)
        ax.set_ylim(0.2, 1.02)
    axes[0].set_ylabel("skhidden test accuracy (above the line: skhidden better)")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(rows, env, output):
    methods = []
    for row in rows:
        if (row["method"] != MINIROCKET and "accuracy" in row
                and row["method"] not in methods):
            methods.append(row["method"])
    parts = [
        "# Evaluation panel (issue 11)\n",
        "Regenerate with `python benchmarks/panel.py --half both` (add `--search` for "
        "the grid search). Official train/test splits; MiniRocket (aeon) in the same "
        "run, unequal-length sets resampled to the longest length for it, read as "
        "they are by skhidden. Accuracy is the mean over the seeds run; fit times are "
        "wall-clock seconds on the machine below.\n",
        f"Machine: {machine_line(env)}, load {env['load_1min']} at the report.\n",
        "The default and the previous default ran at seeds 0, 1 and 2 (the seeds "
        "column says how many each setting had); single-seed differences of a few "
        "points are noise here (one set moves by up to 25 points between seeds). "
        "One torch thread per process, two panel processes at a time on the 2 "
        "cores; the experimental settings (each one row, named by what differs "
        "from the default) often ran beside a third process or the test suite, so "
        "their fit times read up to about 3x high. The default reads each sequence "
        "both ways since 2026-12-06; the settings that do not name `bidirectional` "
        "were run before then and differ from the one-way network "
        "(bidirectional=False) in what they name; likewise each step is read "
        "beside its first difference (differences=True) since 2026-12-07, and the "
        "settings that do not name `differences` were run without it. "
        "A setting stopped early covers the sets it reached: compare its means "
        "with the default's on those sets, not on the whole half.\n",
    ]
    for half in ("tuning", "confirmation"):
        per_set, summary = summarise(rows, half, methods)
        if not per_set:
            continue
        parts += [f"## {half.capitalize()} half\n", markdown_table(summary), "",
                  markdown_table(per_set), ""]
        for equal_length, kind in ((True, "equal-length"), (False, "unequal-length")):
            published = published_table(rows, half, equal_length)
            if published:
                parts += [f"Published test accuracy (tsml-eval 0.6.0's bake-off, "
                          f"official split, one run each) on the {half} half's {kind} "
                          "univariate sets, beside the default's mean over its seeds"
                          + ("" if equal_length else " (the published classifier read "
                             "them resampled to the longest length, as MiniRocket "
                             "does here)") + ":\n",
                          markdown_table(published), ""]
    regression = regression_table(rows)
    if regression:
        parts += ["## Regression (tuning half)\n", markdown_table(regression), ""]
    parts.append("![panel](panel.png)\n")
    with open(os.path.join(output, "panel.md"), "w") as f:
        f.write("\n".join(parts))
    plot(rows,
         [m for m in methods if m in (DEFAULT, SEARCH, FAST_LABEL)] or methods[:3],
         os.path.join(output, "panel.png"))


# --------------------------------------------------------------------- run
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=["tuning", "confirmation", "both"],
                        default="tuning")
    parser.add_argument("--seeds", type=int, default=1,
                        help="seeds per skhidden setting")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seed of the first run")
    parser.add_argument("--search", action="store_true",
                        help="also GridSearchCV(aggregation)")
    parser.add_argument("--no-fast", action="store_true", help="skip the fast setting")
    parser.add_argument("--params", default=None,
                        help="JSON estimator parameters to run")
    parser.add_argument("--label", default=None, help="label of --params rows")
    parser.add_argument("--only", nargs="+", default=None, help="a subset of the sets")
    parser.add_argument("--regression", action="store_true",
                        help="only the regression sets")
    parser.add_argument("--fresh", action="store_true", help="discard earlier rows")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 epochs, 2 sets")
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)

    global ROWS
    ROWS = os.path.join(args.output, "panel_rows.jsonl")
    os.makedirs(args.output, exist_ok=True)
    if args.fresh and os.path.exists(ROWS):
        os.remove(ROWS)
    halves = ["tuning", "confirmation"] if args.half == "both" else [args.half]
    names = [d for h in halves for d in (TUNING if h == "tuning" else CONFIRMATION)]
    if "tuning" in halves or args.regression:
        names += REGRESSION
    if args.regression:
        names = list(REGRESSION)
    if args.only:
        names = [d for d in names if d in args.only]
    if args.quick:
        names = names[:2]

    if args.params is not None:
        settings = [(args.label or args.params, json.loads(args.params), False)]
    else:
        settings = [(DEFAULT, {}, False)]
        if not args.no_fast:
            settings.append((FAST_LABEL, FAST, False))
        if args.search:
            settings.append((SEARCH, {}, True))
    done = {(r["method"], r["dataset"], r.get("seed")) for r in _load_rows()}
    env = environment()

    def record(row):
        with open(ROWS, "a") as f:
            f.write(json.dumps(row) + "\n")
        score = row.get("accuracy", row.get("rmse"))
        print(f"[panel] {row['half']:12s} {row['dataset']:28s} {row['method']:32s} "
              f"seed {row.get('seed')}: {score:.4f}  fit {row['fit_s']:.1f}s",
              flush=True)

    for name in names:
        task = "regression" if name in REGRESSION else "classification"
        data = load_panel_set(name)
        info = {"half": HALF[name], "dataset": name, "task": task,
                **describe(name, data)}
        if (MINIROCKET, name, 0) not in done:
            record({**info, "method": MINIROCKET, "seed": 0,
                    **run_minirocket(task, data)})
        for label, params, search in settings:
            if search and task == "regression":
                continue
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                if (label, name, seed) in done:
                    continue
                p = dict(params, max_epochs=2) if args.quick else params
                record({**info, "method": label, "seed": seed,
                        "params": json.dumps(params),
                        **run_skhidden(task, data, p, seed, search)})
        if task == "regression" and ("training mean", name, 0) not in done:
            y_train, y_test = data[1], data[3]
            record({**info, "method": "training mean", "seed": 0, "fit_s": 0.0,
                    **_score(task, y_test, np.full(len(y_test), np.mean(y_train)))})
    write_report(_load_rows(), env, args.output)
    print(f"wrote {os.path.join(args.output, 'panel.md')}")


if __name__ == "__main__":
    main()
