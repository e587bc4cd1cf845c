"""
Grid-searching the aggregation strategy
=======================================

Which summary of the hidden states works best is an empirical question per
dataset, so skhidden makes it a hyperparameter. Here a small GRU reads the
JapaneseVowels recordings (12 cepstral features per step, 7 to 29 steps, nine
speakers; aeon's bundled copy, official split) and ``GridSearchCV`` compares
five ways of using its states.
"""

# %%
# Data: a list of sequences of different lengths
# -----------------------------------------------
# :func:`skhidden.datasets.load_dataset` returns skhidden's layout: here a list
# of ``(T_i, 12)`` arrays, because the recordings differ in length.
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline

from skhidden import HiddenStateClassifier, SequenceScaler
from skhidden.datasets import load_dataset
from skhidden.plotting import plot_strategy_comparison

EPOCHS = int(os.environ.get("SKHIDDEN_EXAMPLE_EPOCHS", "20"))

X_train, y_train = load_dataset("JapaneseVowels", "train")
X_test, y_test = load_dataset("JapaneseVowels", "test")
lengths = [len(x) for x in X_train]
print(f"{len(X_train)} training sequences, lengths {min(lengths)}-{max(lengths)}, "
      f"{X_train[0].shape[1]} features; {len(X_test)} test sequences")

# %%
# The search
# ----------
# The aggregation is searched like any other parameter, here inside a
# pipeline that standardises each feature over the valid steps first.
# The model is kept small (16 units) so the example runs in seconds.
pipeline = make_pipeline(
    SequenceScaler(),
    HiddenStateClassifier(hidden_size=16, max_epochs=EPOCHS, random_state=0),
)
grid = {
    "hiddenstateclassifier__aggregation": [
        "last", "mean", "max", "attention", ("mean", "max"),
    ],
}
folds = StratifiedKFold(3, shuffle=True, random_state=0)
search = GridSearchCV(pipeline, grid, cv=folds).fit(X_train, y_train)

for params, mean, std in zip(
    search.cv_results_["params"],
    search.cv_results_["mean_test_score"],
    search.cv_results_["std_test_score"],
    strict=True,
):
    print(f"{str(params['hiddenstateclassifier__aggregation']):20s} "
          f"CV accuracy {mean:.3f} ± {std:.3f}")
print("best:", search.best_params_)
print(f"test accuracy of the refitted best model: {search.score(X_test, y_test):.3f}")

# %%
# Every fold's score, per strategy
# --------------------------------
# :func:`~skhidden.plotting.plot_strategy_comparison` finds the
# ``aggregation`` parameter in ``cv_results_`` itself, also inside a pipeline.
# With three folds the spread is wide: a difference smaller than the error
# bars is not evidence that one strategy is better.
ax = plot_strategy_comparison(search.cv_results_)
ax.figure.tight_layout()
plt.show()

# %%
# The classes the best model confuses
# -----------------------------------
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

ConfusionMatrixDisplay.from_estimator(
    search.best_estimator_, X_test, y_test, colorbar=False
)
plt.title("Best strategy on the test split")
plt.show()
labels, counts = np.unique(y_test, return_counts=True)
print("test sequences per class:",
      {str(k): int(v) for k, v in zip(labels, counts, strict=True)})
