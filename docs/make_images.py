"""Regenerate the README's pictures of intermediate outputs on real data.

Run from the repository root (needs the ``examples`` extra: aeon, matplotlib)::

    python docs/make_images.py

JapaneseVowels (aeon, offline; 12 features, lengths 7-29), official split.
The strategies are compared exactly as ``python -m skhidden`` does with its
defaults (3-fold grid search, each strategy refit on the training split), so
the pictures come from the package's own code path. Writes into docs/images/:

- strategy_comparison.png, early_classification.png, attention.png (the
  demo's pictures, ``skhidden.demo.save_figures``);
- hidden_states.png: a test sequence's hidden states;
- layers.png: a 2-layer GRU searched over ``layers`` ("last" vs "all");
- early_classification.md: test accuracy after 25/50/75/100% of each sequence.

A few minutes on 2 CPU cores.
"""

import os
import sys
import time

import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline

from skhidden import HiddenStateClassifier, SequenceScaler
from skhidden.datasets import load_dataset
from skhidden.demo import STRATEGIES, run_comparison, save_figures, save_png
from skhidden.plotting import early_scores, plot_hidden_states, plot_strategy_comparison

FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images")
DATASET = "JapaneseVowels"
SETTINGS = {"hidden_size": 32, "max_epochs": 60, "random_state": 0}
# The pictures show per-step quantities, so the models read raw steps (no
# front-end) with one one-way network: each step's output then reads only the
# steps before it, and the states are the GRU's own 32 units (the default's
# two bidirectional networks would give 128 per step and re-read every
# prefix). The pipelines standardise with SequenceScaler first.
RAW_STEPS = {
    "frontend": "none",
    "scaling": "none",
    "bidirectional": False,
    "n_networks": 1,
    "differences": False,
}
FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def early_table(models, X, y):
    """Markdown table of test accuracy after each fraction of the sequences."""
    header = " | ".join(f"{f:.0%}" for f in FRACTIONS)
    lines = [
        f"| aggregation | {header} |",
        "|---|" + "---:|" * len(FRACTIONS),
    ]
    for label, model in models.items():
        scores = " | ".join(f"{s:.3f}" for s in early_scores(model, X, y, FRACTIONS))
        lines.append(f"| {label} | {scores} |")
    return "\n".join(lines)


def layers_search(X, y):
    """Grid search of a 2-layer GRU over ``layers``, folds as in the demo."""
    pipeline = make_pipeline(
        SequenceScaler(), HiddenStateClassifier(num_layers=2, **SETTINGS, **RAW_STEPS)
    )
    folds = StratifiedKFold(3, shuffle=True, random_state=SETTINGS["random_state"])
    grid = {"hiddenstateclassifier__layers": ["last", "all"]}
    return GridSearchCV(pipeline, grid, cv=folds).fit(X, y)


def main():
    # Small recurrent models gain little from threads; leave cores to others.
    torch.set_num_threads(1)
    start = time.perf_counter()
    os.makedirs(FOLDER, exist_ok=True)
    X_train, y_train = load_dataset(DATASET, "train")
    X_test, y_test = load_dataset(DATASET, "test")

    _, search, models = run_comparison(
        X_train,
        y_train,
        X_test,
        y_test,
        strategies=STRATEGIES,
        cv=3,
        max_epochs=SETTINGS["max_epochs"],
        hidden_size=SETTINGS["hidden_size"],
        random_state=SETTINGS["random_state"],
        return_models=True,
        **RAW_STEPS,
    )
    save_figures(search, models, X_test, y_test, FOLDER)
    save_png(
        lambda ax: plot_hidden_states(models["attention"], X_test[0], ax=ax),
        os.path.join(FOLDER, "hidden_states.png"),
    )

    table = early_table(models, X_test, y_test)
    settings = ", ".join(f"{k}={v}" for k, v in {**SETTINGS, **RAW_STEPS}.items())
    with open(os.path.join(FOLDER, "early_classification.md"), "w") as fh:
        fh.write(
            f"{DATASET} test split ({len(X_test)} sequences), GRU {settings}, "
            "SequenceScaler first; accuracy after reading the first 25/50/75/100% "
            f"of each sequence.\n\n{table}\n"
        )
    print(table)

    layers = layers_search(X_train, y_train)
    save_png(
        lambda ax: plot_strategy_comparison(
            layers.cv_results_, param="hiddenstateclassifier__layers", ax=ax
        ),
        os.path.join(FOLDER, "layers.png"),
        size=(4.8, 3.6),
    )
    last, every = layers.cv_results_["mean_test_score"]
    print(f"CV accuracy with layers='last': {last:.3f}, layers='all': {every:.3f}")
    print(f"Wrote {FOLDER} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
