"""Target handling shared by the estimators: labels and continuous targets.

Defining pieces:

- ``encode_labels``: class labels -> codes ``0 .. n_classes - 1`` and a
  cross-entropy loss (the classifier, and the transformer given labels).
- ``prepare_regression_targets``: continuous targets -> float32 columns and a
  squared-error loss (the regressor, and the transformer given targets).

Each estimator module imports what it needs from here, so no estimator
depends on another.
"""

import numpy as np
import torch
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, column_or_1d
from torch import nn

from .nn.losses import HeadAveragedLoss

__all__ = ["MAX_TARGET", "encode_labels", "prepare_regression_targets"]

# A quarter of the largest float32 whose square is finite: the loss has margin.
MAX_TARGET = float(np.sqrt(np.finfo(np.float32).max)) / 4


def prepare_regression_targets(y, n_samples):
    """Validate continuous targets and return them as float32 ``(n, n_targets)``.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Targets.
    n_samples : int
        Number of sequences the targets must match.

    Returns
    -------
    targets : ndarray of shape (n_samples, n_targets), float32
    criterion : HeadAveragedLoss
        Mean squared error averaged over heads.
    one_dimensional : bool
        Whether ``y`` was 1-D (predictions are then returned 1-D too).
    """
    if y is None:
        raise ValueError(
            "This regressor requires y to be passed, but the target y is None: "
            "pass one target (or row of targets) per sequence."
        )
    y = check_array(y, ensure_2d=False, dtype="numeric", input_name="y")
    one_dimensional = y.ndim == 1
    if one_dimensional:
        y = y[:, None]
    if y.ndim != 2:
        raise ValueError(f"y must be 1-D or 2-D; got shape {y.shape}.")
    if len(y) != n_samples:
        raise ValueError(f"y has {len(y)} rows but X has {n_samples} sequences.")
    largest = np.abs(y).max(initial=0)
    if largest > MAX_TARGET:
        raise ValueError(
            f"y has values as large as {largest:.3g}; beyond {MAX_TARGET:.1g} their "
            "squared errors overflow float32 in training. Rescale y, e.g. with "
            "sklearn.compose.TransformedTargetRegressor."
        )
    return y.astype(np.float32), HeadAveragedLoss(nn.MSELoss()), one_dimensional


def encode_labels(y, n_samples, class_weight=None):
    """Validate class labels and encode them as ``0 .. n_classes - 1``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels of any hashable kind (ints, strings, ...).
    n_samples : int
        Number of sequences the labels must match.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        The sorted distinct labels.
    codes : ndarray of shape (n_samples,), int64
        Each label's index in ``classes``.
    criterion : HeadAveragedLoss
        Cross-entropy averaged over heads, with the class weights.
    """
    y = _as_1d_labels(y, n_samples)
    try:
        encoder = LabelEncoder().fit(y)
    except TypeError as exc:  # labels that cannot be sorted together
        kinds = sorted({type(label).__name__ for label in y})
        raise TypeError(
            f"y mixes labels of types {kinds}, which cannot be ordered ({exc}); "
            "give every label the same type, e.g. y.astype(str)."
        ) from exc
    check_classification_targets(y)
    classes = encoder.classes_
    if len(classes) < 2:
        raise ValueError(
            f"y has a single class ({classes[0]!r}); a classifier needs at least 2."
        )
    weight = None
    if class_weight is not None:
        weight = torch.as_tensor(
            compute_class_weight(class_weight, classes=classes, y=y),
            dtype=torch.float32,
        )
    codes = encoder.transform(y).astype(np.int64)
    return classes, codes, HeadAveragedLoss(nn.CrossEntropyLoss(weight=weight))


def _as_1d_labels(y, n_samples):
    if y is None:
        raise ValueError(
            "This classifier requires y to be passed, but the target y is None: "
            "pass one label per sequence."
        )
    y = column_or_1d(y, warn=True)
    if len(y) != n_samples:
        raise ValueError(f"y has {len(y)} labels but X has {n_samples} sequences.")
    if n_samples < 2:
        raise ValueError(
            f"Training a classifier needs at least 2 sequences; got {n_samples} sample."
        )
    return y
