"""
Saving and loading a model
==========================

Two ways to keep a fitted estimator: ``joblib`` (a pickle: for files you keep
yourself; loading one can run code) and skhidden's safe format (safetensors
weights and a JSON description; loading runs no code from the file). Both
give back the same predictions. Data: ItalyPowerDemand (aeon's bundled copy,
official split), 24 hourly values of electricity demand per day, winter or
summer.
"""

# %%
import os
import tempfile

import joblib
import matplotlib.pyplot as plt
import numpy as np

import skhidden
from skhidden import HiddenStateClassifier
from skhidden.datasets import load_dataset

EPOCHS = int(os.environ.get("SKHIDDEN_EXAMPLE_EPOCHS", "20"))

X_train, y_train = load_dataset("ItalyPowerDemand", "train")   # (67, 24, 1)
X_test, y_test = load_dataset("ItalyPowerDemand", "test")
clf = HiddenStateClassifier(
    hidden_size=16, aggregation="mean", max_epochs=EPOCHS, random_state=0
).fit(X_train, y_train)
print(f"test accuracy: {clf.score(X_test, y_test):.3f}")

# %%
# Save both ways, load both ways
# ------------------------------
folder = tempfile.mkdtemp()
joblib_path = os.path.join(folder, "model.joblib")
safe_path = os.path.join(folder, "model.skhidden")

joblib.dump(clf, joblib_path)
clf.save(safe_path)               # needs the safetensors extra
for path in (joblib_path, safe_path):
    print(f"{os.path.basename(path):14s} {os.path.getsize(path) / 1024:.1f} KiB")

from_joblib = joblib.load(joblib_path)
from_safe = skhidden.load(safe_path)   # device="cpu" to choose where it lands

proba = clf.predict_proba(X_test)
for name, loaded in [("joblib", from_joblib), ("safe format", from_safe)]:
    same = np.array_equal(loaded.predict_proba(X_test), proba)
    print(f"{name:12s} identical probabilities: {same}; classes {loaded.classes_}")

# %%
# A damaged file is refused
# -------------------------
# The safe format carries a checksum; a truncated or edited file gets a
# ``ValueError`` naming the problem instead of a model.
damaged = os.path.join(folder, "damaged.skhidden")
with open(safe_path, "rb") as f:
    data = f.read()
with open(damaged, "wb") as f:
    f.write(data[: len(data) // 2])
try:
    skhidden.load(damaged)
except ValueError as error:
    print("refused:", error)

# %%
# The loaded model carries its training history
# ---------------------------------------------
# The safe format stores the skorch history, so the loss curve of the
# training run can be drawn from the loaded file.
losses = from_safe.history_[:, "train_loss"]
plt.plot(np.arange(1, len(losses) + 1), losses, marker="o")
plt.xlabel("epoch")
plt.ylabel("training loss")
plt.title("Training loss, read back from model.skhidden")
plt.tight_layout()
plt.show()
