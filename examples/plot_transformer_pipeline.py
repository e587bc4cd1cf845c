"""
Sequences into features: the transformer in a Pipeline
======================================================

:class:`~skhidden.HiddenStateTransformer` turns each sequence into a fixed
vector, the aggregated hidden states, so any scikit-learn model can use them.
BasicMotions (aeon's bundled copy, official split): 6 channels of
accelerometer and gyroscope, 100 steps, four activities (standing, walking,
running, badminton).
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skhidden import HiddenStateTransformer, SequenceScaler
from skhidden.datasets import load_dataset

EPOCHS = int(os.environ.get("SKHIDDEN_EXAMPLE_EPOCHS", "20"))

X_train, y_train = load_dataset("BasicMotions", "train")   # (40, 100, 6)
X_test, y_test = load_dataset("BasicMotions", "test")
print("train", X_train.shape, "test", X_test.shape)

# %%
# Supervised features, then a linear model
# ----------------------------------------
# In a pipeline the transformer receives ``y`` and is trained supervised (a
# classification head on the aggregated states, dropped at ``transform``).
# Its output is the mean and the max of the 16 hidden units: 32 features.
features = make_pipeline(
    SequenceScaler(),
    HiddenStateTransformer(
        aggregation=("mean", "max"), hidden_size=16, max_epochs=EPOCHS, random_state=0
    ),
)
model = make_pipeline(features, LogisticRegression(max_iter=1000)).fit(X_train, y_train)
print(f"test accuracy: {model.score(X_test, y_test):.3f}")

names = features.get_feature_names_out()
print(len(names), "features:", ", ".join(names[:3]), "...", ", ".join(names[-2:]))

# %%
# Self-supervised features
# ------------------------
# Fitted without ``y``, the transformer learns to predict each sequence's next
# step from its states; the labels are used only by the linear model.
unsupervised = make_pipeline(
    SequenceScaler(),
    HiddenStateTransformer(
        aggregation=("mean", "max"), hidden_size=16, max_epochs=EPOCHS, random_state=0
    ),
).fit(X_train)
clf = LogisticRegression(max_iter=1000).fit(unsupervised.transform(X_train), y_train)
print(f"test accuracy, self-supervised features: "
      f"{clf.score(unsupervised.transform(X_test), y_test):.3f}")

# %%
# What the features look like
# ---------------------------
# The test sequences' features projected on their first two principal
# components (the projection is fitted on the training features).
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
for ax, transformer, title in [
    (axes[0], features, "supervised"),
    (axes[1], unsupervised, "self-supervised"),
]:
    pca = PCA(2).fit(transformer.transform(X_train))
    points = pca.transform(transformer.transform(X_test))
    for label in np.unique(y_test):
        chosen = y_test == label
        ax.scatter(points[chosen, 0], points[chosen, 1], label=label, s=20)
    ax.set_title(f"{title} features, test split")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
axes[0].legend(fontsize="small")
fig.tight_layout()
plt.show()
