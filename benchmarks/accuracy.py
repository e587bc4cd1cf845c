"""Accuracy with defaults on the development panel (issue 3, item 4).

Panel: GunPoint, ItalyPowerDemand, BasicMotions, JapaneseVowels, official
train/test splits bundled with aeon (offline). Held out (never used to pick
a setting): ArrowHead and PickupGestureWiimoteZ, also bundled with aeon.

Everything runs in this one script, on one torch thread (see the threads
row: on a shared 2-core machine torch's default two threads made a small
GRU fit several times slower), one fit at a time:

- baselines: MiniRocket + RidgeClassifierCV (aeon's ``MiniRocketClassifier``;
  unequal lengths zero-padded at the end to the longest series), 1-NN DTW
  (aeon, full window), and a hand-written GRU classifying from its last
  state only (same training recipe as the estimator: standardised input,
  Adam, clipping, epochs, batch size);
- ``HiddenStateClassifier()`` as shipped (only ``random_state`` set), and
  the recommended defaults passed explicitly;
- each strategy x cell;
- ``GridSearchCV`` over the strategies (3-fold CV on the training split,
  refit, test accuracy; the time is the whole search);
- a one-factor-at-a-time study around the shipped defaults (learning rate,
  hidden size, epochs, batch size, direction, early stopping, input
  scaling), with a leave-one-dataset-out check of each choice.

aeon's numba code is compiled by an untimed warm-up fit before its timings.
Run ``python benchmarks/accuracy.py [--quick] [--seeds 3]``.
"""

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import RESULTS, environment, machine_line, markdown_table, set_threads  # noqa: E402

from skhidden import HiddenStateClassifier  # noqa: E402
from skhidden.sequences import check_sequences  # noqa: E402

PANEL = ["GunPoint", "ItalyPowerDemand", "BasicMotions", "JapaneseVowels"]
# Outside the panel. The first two were meant to stay untouched, but the
# panel is saturated (every reasonable setting scores within about a point
# of MiniRocket) and could not separate the candidates, so ArrowHead's
# training accuracy was used to diagnose under-training: their numbers are
# no longer fully out of sample. OSULeaf was looked at only in this script,
# after the recommendation was fixed (one seed: its fits are the longest).
HELD_OUT = ["ArrowHead", "PickupGestureWiimoteZ"]
UNTOUCHED = ["OSULeaf"]

# The recommended defaults, as the changes to HiddenStateClassifier()'s
# shipped defaults (whatever they are when the script runs).
RECOMMENDED = {"batch_size": 16}
RECOMMENDED_NAME = "recommended: shipped + " + ", ".join(
    f"{k}={v}" for k, v in RECOMMENDED.items())

STRATEGIES = ["last", "mean", "max", "attention", ("mean", "max")]
CELLS = ["rnn", "lstm", "gru"]

# One factor at a time around the shipped defaults.
VARIANTS = [
    ("lr=0.001", {"lr": 0.001}),
    ("lr=0.01", {"lr": 0.01}),
    ("hidden_size=32", {"hidden_size": 32}),
    ("hidden_size=128", {"hidden_size": 128}),
    ("max_epochs=50", {"max_epochs": 50}),
    ("max_epochs=200", {"max_epochs": 200}),
    ("batch_size=16", {"batch_size": 16}),
    ("bidirectional=False", {"bidirectional": False}),
    ("early_stopping=True", {"early_stopping": True}),
    ("scaling='none'", {"scaling": "none"}),
    ("scaling='sequence'", {"scaling": "sequence"}),
]


def _name(value):
    return "+".join(value) if isinstance(value, tuple) else str(value)


# ------------------------------------------------------------------ data
def load(name):
    """``(X_train, y_train, X_test, y_test)`` in skhidden's layout."""
    from skhidden.datasets import load_dataset

    return load_dataset(name, "train") + load_dataset(name, "test")


def channels_first(X, length=None):
    """skhidden layout -> aeon's ``(n, channels, T)``; zero-pad to ``length``."""
    if length is None:
        return [np.ascontiguousarray(np.asarray(x, dtype=float).T) for x in X]
    out = np.zeros((len(X), np.shape(X[0])[1], length))
    for i, x in enumerate(X):
        out[i, :, : len(x)] = np.asarray(x).T
    return out


def _equal_length(X):
    return isinstance(X, np.ndarray) and X.ndim == 3


# ------------------------------------------------------------- baselines
def minirocket(X_train, y_train, X_test, seed=0):
    from aeon.classification.convolution_based import MiniRocketClassifier

    if _equal_length(X_train) and _equal_length(X_test):
        A, B = X_train.transpose(0, 2, 1), X_test.transpose(0, 2, 1)
    else:
        length = max(len(x) for x in list(X_train) + list(X_test))
        A, B = channels_first(X_train, length), channels_first(X_test, length)
    MiniRocketClassifier(random_state=seed).fit(A, y_train)  # numba warm-up, untimed
    return _timed(lambda: MiniRocketClassifier(random_state=seed).fit(A, y_train),
                  lambda model: model.predict(B))


def dtw_1nn(X_train, y_train, X_test, seed=0):
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    if _equal_length(X_train) and _equal_length(X_test):
        A, B = X_train.transpose(0, 2, 1), X_test.transpose(0, 2, 1)
    else:
        A, B = channels_first(X_train), channels_first(X_test)
    # warm-up
    KNeighborsTimeSeriesClassifier(distance="dtw").fit(A, y_train).predict(B[:2])
    return _timed(lambda: KNeighborsTimeSeriesClassifier(distance="dtw", n_neighbors=1)
                  .fit(A, y_train), lambda model: model.predict(B))


class LastStateGRU(nn.Module):
    """A GRU whose last valid state goes through a linear layer."""

    def __init__(self, n_features, hidden_size, n_classes):
        super().__init__()
        self.gru = nn.GRU(n_features, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, n_classes)

    def forward(self, X, lengths):
        # The state at each sequence's last valid step (a forward GRU is
        # causal, so the padding after it changes nothing; packing would give
        # the same state, several times slower on a CPU).
        states, _ = self.gru(X)
        return self.head(states[torch.arange(len(X)), lengths - 1])


class HandGRU:
    """The hand-written last-state GRU, with the estimator's training recipe."""

    def __init__(self, hidden_size=64, epochs=100, batch_size=32, lr=0.005, seed=0):
        self.hidden_size, self.epochs, self.batch_size = hidden_size, epochs, batch_size
        self.lr, self.seed = lr, seed

    def _tensors(self, X):
        padded, lengths = check_sequences(X)
        padded = (padded - self.mean_) / self.scale_
        padded[np.arange(padded.shape[1])[None, :] >= lengths[:, None]] = 0.0
        return torch.from_numpy(padded.astype(np.float32)), torch.from_numpy(lengths)

    def fit(self, X, y):
        padded, lengths = check_sequences(X)
        valid = padded[np.arange(padded.shape[1])[None, :] < lengths[:, None]]
        self.mean_, self.scale_ = valid.mean(0), valid.std(0) + 1e-8
        X_t, L_t = self._tensors(X)
        self.classes_, codes = np.unique(y, return_inverse=True)
        y_t = torch.from_numpy(codes.astype(np.int64))
        torch.manual_seed(self.seed)
        self.module_ = LastStateGRU(X_t.shape[2], self.hidden_size, len(self.classes_))
        optimizer = torch.optim.Adam(self.module_.parameters(), lr=self.lr)
        loss_fn = nn.CrossEntropyLoss()
        self.module_.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(y_t))
            for start in range(0, len(y_t), self.batch_size):
                index = order[start : start + self.batch_size]
                steps = int(L_t[index].max())
                optimizer.zero_grad()
                loss = loss_fn(self.module_(X_t[index, :steps], L_t[index]), y_t[index])
                loss.backward()
                nn.utils.clip_grad_norm_(self.module_.parameters(), 1.0)
                optimizer.step()
        return self

    def predict(self, X):
        X_t, L_t = self._tensors(X)
        self.module_.eval()
        with torch.inference_mode():
            return self.classes_[self.module_(X_t, L_t).argmax(1).numpy()]


def _timed(fit, predict, warmup=None):
    """Run ``fit``; return ``(model, predictions, fit wall s, fit cpu s,
    predict wall s)``.

    torch is put back on one thread first: aeon's numba code resets the
    OpenMP thread count that torch shares. ``warmup`` runs untimed first
    (torch initialises each kind of layer on its first use).
    """
    set_threads(1)
    if warmup is not None:
        warmup()
    w, c = time.perf_counter(), time.process_time()
    model = fit()
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    w = time.perf_counter()
    pred = predict(model)
    return model, pred, wall, cpu, time.perf_counter() - w


# ------------------------------------------------------------------- runs
class Runner:
    """Fits methods on datasets, collecting one row per fit."""

    def __init__(self, datasets, quick, log):
        self.data = {name: load(name) for name in datasets}
        self.quick = quick
        self.log = log
        self.rows = []

    def record(self, group, method, dataset, seed, model_pred_wall_cpu, extra=None):
        _, pred, wall, cpu, predict_wall = model_pred_wall_cpu
        y_test = self.data[dataset][3]
        acc = float(np.mean(np.asarray(pred) == y_test))
        row = {"group": group, "method": method, "dataset": dataset, "seed": seed,
               "accuracy": acc, "fit_wall_s": wall, "fit_cpu_s": cpu,
               "predict_wall_s": predict_wall, **(extra or {})}
        self.rows.append(row)
        self.log(f"[accuracy] {group:10s} {method:38s} {dataset:22s} seed {seed}: "
                 f"{acc:.3f}  fit {wall:.1f}s wall / {cpu:.1f}s cpu")
        return row

    def estimator(self, group, method, params, datasets, seeds):
        for dataset in datasets:
            X_train, y_train, X_test, _ = self.data[dataset]
            for seed in seeds:
                p = dict(params, random_state=seed, device="cpu")
                if self.quick:
                    p["max_epochs"] = 2
                result = _timed(
                    lambda p=p, X=X_train, y=y_train: (
                        HiddenStateClassifier(**p).fit(X, y)),
                    lambda model, X=X_test: model.predict(X),
                    warmup=lambda p=p, X=X_train, y=y_train: (
                        HiddenStateClassifier(**dict(p, max_epochs=1)).fit(X, y)))
                train = float(np.mean(result[0].predict(X_train) == y_train))
                self.record(group, method, dataset, seed, result,
                            {"train_accuracy": train})

    def baselines(self, datasets, seeds):
        for dataset in datasets:
            X_train, y_train, X_test, _ = self.data[dataset]
            self.record("baseline", "MiniRocket + RidgeClassifierCV", dataset, 0,
                        minirocket(X_train, y_train, X_test))
            self.record("baseline", "1-NN DTW (full window)", dataset, 0,
                        dtw_1nn(X_train, y_train, X_test))
            for seed in seeds:
                hand = HandGRU(epochs=2 if self.quick else 100, seed=seed)
                result = _timed(
                    lambda hand=hand, X=X_train, y=y_train: hand.fit(X, y),
                    lambda model, X=X_test: model.predict(X),
                    warmup=lambda X=X_train, y=y_train: HandGRU(epochs=1).fit(X, y))
                self.record("baseline", "hand-written GRU, last state", dataset, seed,
                            result)

    def grid_search(self, datasets, seed=0):
        from sklearn.model_selection import GridSearchCV

        for dataset in datasets:
            X_train, y_train, X_test, _ = self.data[dataset]
            params = {"random_state": seed, "device": "cpu"}
            if self.quick:
                params["max_epochs"] = 2
            search = GridSearchCV(HiddenStateClassifier(**params),
                                  {"aggregation": STRATEGIES}, cv=3)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # tiny folds
                result = _timed(lambda s=search, X=X_train, y=y_train: s.fit(X, y),
                                lambda model, X=X_test: model.predict(X))
            best = _name(result[0].best_params_["aggregation"])
            self.record("search", "GridSearchCV(aggregation), cv=3", dataset, seed,
                        result, {"chosen": best})


# --------------------------------------------------------------- summaries
def _mean_over(rows, key="accuracy"):
    return statistics.mean(r[key] for r in rows)


def summary_table(rows, methods, datasets):
    """Per method: accuracy per dataset (mean over seeds), mean, mean fit time."""
    out = []
    for method in methods:
        mine = [r for r in rows if r["method"] == method and r["dataset"] in datasets]
        if not mine:
            continue
        row = {"method": method}
        per_dataset = []
        for dataset in datasets:
            cell = [r for r in mine if r["dataset"] == dataset]
            if cell:
                acc = _mean_over(cell)
                per_dataset.append(acc)
                seeds = len(cell)
                row[dataset] = f"{acc:.3f}" + (
                    f" ±{statistics.pstdev(r['accuracy'] for r in cell):.3f}"
                    if seeds > 1 else "")
            else:
                row[dataset] = "-"
        row["mean"] = statistics.mean(per_dataset) if per_dataset else float("nan")
        row["mean fit s (wall)"] = _mean_over(
            [r for r in mine if r["dataset"] in datasets], "fit_wall_s")
        row["max fit s (wall)"] = max(
            r["fit_wall_s"] for r in mine if r["dataset"] in datasets)
        row["mean fit s (CPU)"] = _mean_over(
            [r for r in mine if r["dataset"] in datasets], "fit_cpu_s")
        row["mean predict s (wall)"] = _mean_over(mine, "predict_wall_s")
        row["seeds"] = len({r["seed"] for r in mine})
        out.append(row)
    return out


def ofat_table(rows, variants, datasets):
    """Variants' mean accuracy per dataset, mean, worst regret, LODO choice."""
    table = {}
    for name in variants:
        mine = [r for r in rows if r["method"] == name]
        table[name] = {d: _mean_over([r for r in mine if r["dataset"] == d])
                       for d in datasets}
    best = {d: max(table[v][d] for v in table) for d in datasets}
    out = []
    for name, accs in table.items():
        row = {"setting": name}
        row.update({d: accs[d] for d in datasets})
        row["mean"] = statistics.mean(accs.values())
        row["worst regret"] = max(best[d] - accs[d] for d in datasets)
        row["mean fit s (wall)"] = _mean_over([r for r in rows if r["method"] == name],
                                              "fit_wall_s")
        out.append(row)
    # Leave one dataset out: pick the setting best on the other three, score it
    # on the one left out. A robust default wins this as often as the best one.
    lodo = []
    for held in datasets:
        others = [d for d in datasets if d != held]
        pick = max(table, key=lambda v: statistics.mean(table[v][d] for d in others))
        lodo.append({"held-out dataset": held, "chosen on the other three": pick,
                     "its accuracy there": table[pick][held],
                     "shipped defaults there": table[variants[0]][held],
                     "best setting there": best[held]})
    return out, lodo


# ------------------------------------------------------------------ plots
def plot(summaries, grid_rows, path):
    """Accuracy per dataset and method; the settings' accuracy against fit time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(15, 5),
                             gridspec_kw={"width_ratios": [3, 2]})
    datasets = [d for d in PANEL + HELD_OUT + UNTOUCHED
                if any(d in row for rows in summaries for row in rows)]
    methods = []
    for rows in summaries:
        methods += [r["method"] for r in rows if r["method"] not in methods]
    width = 0.8 / max(len(methods), 1)
    lowest = 1.0
    for i, method in enumerate(methods):
        values = []
        for d in datasets:
            cell = next((r.get(d) for rows in summaries for r in rows
                         if r["method"] == method and r.get(d, "-") != "-"), None)
            values.append(float(str(cell).split()[0]) if cell else np.nan)
        lowest = min([lowest] + [v for v in values if v == v])
        axes[0].bar(np.arange(len(datasets)) + i * width, values, width, label=method)
    axes[0].set_xticks(np.arange(len(datasets)) + 0.4 - width / 2)
    axes[0].set_xticklabels(datasets, fontsize=8, rotation=15)
    axes[0].axvline(len(PANEL) - 0.1 - width / 2, color="k", lw=0.6, ls=":")
    axes[0].set_ylim(max(0.0, lowest - 0.05), 1.0)
    axes[0].set_ylabel("test accuracy")
    axes[0].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
    axes[0].set_title("Panel (left of the dotted line) and outside it")
    for row in grid_rows:
        axes[1].scatter(row["mean fit s (wall)"], row["mean"], s=20)
        axes[1].annotate(row["setting"], (row["mean fit s (wall)"], row["mean"]),
                         fontsize=6)
    axes[1].set_xlabel("mean fit time per dataset, s (wall, 1 thread)")
    axes[1].set_ylabel("mean test accuracy (panel)")
    axes[1].set_title("One factor at a time: accuracy vs fit time")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -------------------------------------------------------------------- main
def thread_ratio(log, quick):
    """Paired ratio of a default fit with torch's default threads over one thread."""
    from _common import paired_ratio

    X_train, y_train, _, _ = load("GunPoint")
    threads = torch.get_num_threads()
    default_threads = os.cpu_count()
    epochs = 2 if quick else 10

    def fit_with(n):
        def fit():
            set_threads(n)
            try:
                HiddenStateClassifier(max_epochs=epochs, random_state=0,
                                      device="cpu").fit(X_train, y_train)
            finally:
                set_threads(threads)
        return fit

    r = paired_ratio(fit_with(1), fit_with(default_threads), repeats=3, warmup=1)
    log(f"[accuracy] threads: {default_threads} threads / 1 thread fit time ratio "
        f"{r['wall_ratio']:.2f} (wall)")
    return {"comparison": f"GunPoint fit, {epochs} epochs: torch at "
                          f"{default_threads} threads (its default) / 1 thread",
            "ratio (wall)": r["wall_ratio"], "ratio (CPU time)": r["cpu_ratio"],
            "1-thread fit s (wall)": r["baseline_wall_s"], "repeats": r["repeats"]}


def run(quick=False, seeds=None, log=print, plot_dir=RESULTS):
    set_threads(1)
    env = environment()
    machine = machine_line(env)
    seeds = list(range(seeds or (1 if quick else 3)))
    few = seeds[:2]
    start = time.perf_counter()
    runner = Runner(PANEL + HELD_OUT + UNTOUCHED, quick, log)
    X_warm, y_warm = runner.data["GunPoint"][:2]  # torch's one-time start-up, untimed
    HiddenStateClassifier(max_epochs=1, device="cpu").fit(X_warm, y_warm)
    shipped = {}
    shipped_name = "HiddenStateClassifier() (shipped defaults)"
    runner.baselines(PANEL + HELD_OUT, seeds)
    runner.baselines(UNTOUCHED, seeds[:1])
    for datasets, these in ((PANEL + HELD_OUT, seeds), (UNTOUCHED, seeds[:1])):
        runner.estimator("default", shipped_name, shipped, datasets, these)
        if RECOMMENDED:
            runner.estimator("default", RECOMMENDED_NAME, RECOMMENDED, datasets, these)
    for aggregation in STRATEGIES:
        for cell in CELLS:
            runner.estimator("grid", f"{cell}, {_name(aggregation)}",
                             {"aggregation": aggregation, "cell": cell}, PANEL,
                             seeds[:1])
    runner.grid_search(PANEL)
    ofat_names = ["shipped defaults"]
    for row in [r for r in runner.rows
                if r["method"] == shipped_name and r["seed"] in few]:
        runner.rows.append(dict(row, method="shipped defaults", group="ofat"))
    for name, params in VARIANTS:
        runner.estimator("ofat", name, params, PANEL, few)
        ofat_names.append(name)
    threads = thread_ratio(log, quick)
    elapsed = time.perf_counter() - start

    rows = runner.rows
    main_methods = [shipped_name] + ([RECOMMENDED_NAME] if RECOMMENDED else []) + [
        "MiniRocket + RidgeClassifierCV", "1-NN DTW (full window)",
        "hand-written GRU, last state", "GridSearchCV(aggregation), cv=3"]
    panel_summary = summary_table(rows, main_methods, PANEL)
    held_summary = summary_table(rows, main_methods, HELD_OUT + UNTOUCHED)
    grid_summary = summary_table(
        rows, [f"{c}, {_name(a)}" for a in STRATEGIES for c in CELLS], PANEL)
    ofat, lodo = ofat_table(rows, ofat_names, PANEL)
    chosen = [{"dataset": r["dataset"], "strategy chosen by CV": r["chosen"],
               "test accuracy": r["accuracy"], "search s (wall)": r["fit_wall_s"]}
              for r in rows if r["group"] == "search"]
    os.makedirs(plot_dir, exist_ok=True)
    plot_path = os.path.join(plot_dir, "accuracy.png")
    plot([panel_summary, held_summary], ofat, plot_path)
    markdown = _markdown(env, machine, seeds, few, panel_summary, held_summary,
                         grid_summary, chosen, ofat, lodo, threads, elapsed, quick,
                         rows)
    return {"rows": rows, "panel": panel_summary, "held_out": held_summary,
            "grid": grid_summary, "ofat": ofat, "lodo": lodo, "threads": threads,
            "markdown": markdown, "plots": [plot_path], "elapsed_s": elapsed}


def _recommendation(rows, panel, held, shipped):
    """The recommended defaults and the numbers behind them, as markdown."""
    if not RECOMMENDED:
        return ""

    def train_accuracy(method, dataset="ArrowHead"):
        values = [r["train_accuracy"] for r in rows
                  if r["method"] == method and r["dataset"] == dataset]
        return statistics.mean(values) if values else float("nan")

    by = {r["method"]: r for r in panel}
    out = {r["method"]: r for r in held}
    ship, rec = "HiddenStateClassifier() (shipped defaults)", RECOMMENDED_NAME
    mini = "MiniRocket + RidgeClassifierCV"
    if not all(m in by and m in out for m in (ship, rec, mini)):
        return ""
    changes = ", ".join(f"`{k}={v!r}` (shipped `{shipped.get(k)!r}`)"
                        for k, v in RECOMMENDED.items())
    keep = ", ".join(f"{k}={v!r}" for k, v in shipped.items() if k not in RECOMMENDED
                     and k in ("cell", "hidden_size", "num_layers", "bidirectional",
                               "aggregation", "frontend", "frontend_window", "scaling",
                               "max_epochs", "lr", "clip_grad_norm", "early_stopping"))
    rows = [
        {"": "panel mean accuracy", "shipped": by[ship]["mean"],
         "recommended": by[rec]["mean"], "MiniRocket": by[mini]["mean"]},
        {"": "outside the panel, mean accuracy", "shipped": out[ship]["mean"],
         "recommended": out[rec]["mean"], "MiniRocket": out[mini]["mean"]},
        {"": "panel, mean fit s (CPU)", "shipped": by[ship]["mean fit s (CPU)"],
         "recommended": by[rec]["mean fit s (CPU)"],
         "MiniRocket": by[mini]["mean fit s (CPU)"]},
        {"": "panel, max fit s (wall)", "shipped": by[ship]["max fit s (wall)"],
         "recommended": by[rec]["max fit s (wall)"],
         "MiniRocket": by[mini]["max fit s (wall)"]},
        {"": "ArrowHead, training accuracy", "shipped": train_accuracy(ship),
         "recommended": train_accuracy(rec), "MiniRocket": "-"},
    ]
    return "\n".join([
        "### Recommended defaults\n",
        f"Change {changes}; keep {keep}.\n",
        markdown_table(rows),
        "Why: on the panel every reasonable setting lands within about a point of "
        "MiniRocket (the one-factor table below), so the panel cannot separate "
        "them; the shipped defaults already meet the 2-point target there. "
        "Outside it, on small training sets with long series, the shipped "
        "defaults under-train: 100 epochs of 2 batches is 200 updates, and "
        "ArrowHead's training accuracy stays below 1 (last row). Halving the "
        "batch doubles the updates at the same epochs, for somewhat more CPU "
        "time per fit (more, smaller steps), and keeps the panel within seed "
        "noise. Rejected on this evidence: `lr=0.001` (under-trains "
        "everywhere), `early_stopping=True` (a 10% validation split of 40-270 "
        "sequences is too small to pick an epoch), `scaling='sequence'` "
        "(removes amplitude, which JapaneseVowels needs), `bidirectional=True` "
        "(within noise on the panel at about twice the fit time), "
        "`max_epochs=50` (saves time on the panel but the small sets need more "
        "updates, not fewer).\n",
    ])


def _markdown(env, machine, seeds, few, panel, held, grid, chosen, ofat, lodo, threads,
              elapsed, quick, rows):
    shipped = HiddenStateClassifier().get_params()
    shown = {k: v for k, v in shipped.items()
             if k not in ("device", "random_state", "verbose", "callbacks")}
    text = [
        "## 4. Accuracy with defaults\n",
        _recommendation(rows, panel, held, shown),
        f"Machine: {machine}; every fit on 1 torch thread, one at a time; 1-minute "
        f"load {env['load_1min']} at the start. Whole section: {elapsed / 60:.1f} min."
        + (" QUICK RUN (2 epochs): numbers are not meaningful." if quick else "")
        + "\n",
        f"Shipped defaults measured: `{shown}`. Accuracy = test accuracy on the "
        f"official split, mean over seeds {seeds} (± population std over seeds) for "
        "the estimator and the hand-written GRU; MiniRocket (seed 0) and DTW are "
        "run once. Fit time = training only (wall, s); 1-NN DTW does its work at "
        "predict time, hence the predict column.\n",
        "### Panel (used to choose the defaults)\n",
        markdown_table(panel),
        "### Outside the panel\n",
        "ArrowHead and PickupGestureWiimoteZ: not used to choose settings by their "
        "test scores, but ArrowHead's training accuracy (below 1 with the shipped "
        "defaults: under-training) motivated the recommendation, so treat them as "
        "half in-sample. OSULeaf: untouched until this script, one seed.\n",
        markdown_table(held),
        "### Strategy x cell (other parameters at the shipped defaults, seed 0)\n",
        markdown_table(grid),
        "### GridSearchCV over the strategies\n",
        markdown_table(chosen),
        f"### One factor at a time around the shipped defaults (seeds {few})\n",
        "Worst regret = the largest gap, over the panel, between this setting and the "
        "best setting on that dataset.\n",
        markdown_table(ofat),
        "Leave one dataset out: the setting with the best mean on three datasets, "
        "scored on the fourth.\n",
        markdown_table(lodo),
        "### Threads\n",
        markdown_table([threads]),
    ]
    return "\n".join(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=None)
    args = parser.parse_args(argv)
    print(run(quick=args.quick, seeds=args.seeds)["markdown"])


if __name__ == "__main__":
    main()
