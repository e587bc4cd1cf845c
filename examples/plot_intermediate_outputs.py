"""
Looking inside: hidden states, attention weights, staged predictions
====================================================================

Every fitted estimator shows what it computed along the way:
``hidden_states`` (the states the aggregation reads), ``attention_weights``
(for attention models) and ``staged_predict_proba`` (the prediction after
every step). The models here read raw steps (``frontend="none"``), so each
state belongs to one input step. Data: JapaneseVowels, official split.
"""

# %%
import os

import matplotlib.pyplot as plt
from sklearn.pipeline import make_pipeline

from skhidden import HiddenStateClassifier, SequenceScaler
from skhidden.datasets import load_dataset
from skhidden.plotting import (
    early_scores,
    plot_attention,
    plot_early_classification,
    plot_hidden_states,
)

EPOCHS = int(os.environ.get("SKHIDDEN_EXAMPLE_EPOCHS", "20"))

X_train, y_train = load_dataset("JapaneseVowels", "train")
X_test, y_test = load_dataset("JapaneseVowels", "test")


def model(aggregation):
    """A small GRU over raw steps, features standardised first."""
    return make_pipeline(
        SequenceScaler(),
        HiddenStateClassifier(
            aggregation=aggregation,
            frontend="none",
            hidden_size=16,
            max_epochs=EPOCHS,
            random_state=0,
        ),
    ).fit(X_train, y_train)


models = {name: model(name) for name in ["last", "mean", "attention"]}
for name, fitted in models.items():
    print(f"{name:9s} test accuracy {fitted.score(X_test, y_test):.3f}")

# %%
# Attention weights over one test sequence
# ----------------------------------------
# The weights are non-negative, sum to one over the sequence's own steps, and
# are drawn under its 12 features. The plotting functions accept a pipeline
# ending in a skhidden estimator: the scaler is applied first.
ax = plot_attention(models["attention"], X_test[0])
ax.figure.tight_layout()
plt.show()

weights = models["attention"][-1].attention_weights(
    models["attention"][:-1].transform(X_test[:2])
)
print([w.shape for w in weights], [round(float(w.sum()), 4) for w in weights])

# %%
# Hidden states of the same sequence
# ----------------------------------
ax = plot_hidden_states(models["attention"], X_test[0])
ax.figure.tight_layout()
plt.show()

# %%
# How early does each strategy know the speaker?
# ----------------------------------------------
# Accuracy of the prediction made after reading only the first part of each
# test sequence, from one staged pass per model.
ax = plot_early_classification(models, X_test, y_test)
ax.figure.tight_layout()
plt.show()

for name, fitted in models.items():
    scores = early_scores(fitted, X_test, y_test, fractions=[0.25, 0.5, 1.0])
    print(f"{name:9s} after 25% / 50% / 100%: "
          + " / ".join(f"{s:.3f}" for s in scores))
