"""The base class shared by the estimators: parameters and hooks.

Defining pieces:

- ``BaseHiddenState``: the common constructor parameters and their
  constraints, the hooks a subclass fills, and ``save``. What it does is
  mixed in from one module per concern:

  - ``_fitting.TrainingMixin``: ``fit`` (validate, build the skorch net,
    train), ``history_``, ``device_`` and moving a fitted model;
  - ``_inference.InferenceMixin``: streaming inference over length-sorted
    batches (``_stream``), the heads' outputs and staged outputs;
  - ``_inspection.InspectionMixin``: ``hidden_states`` and
    ``attention_weights``.

- ``OPTIMIZERS``: optimizer name -> torch optimizer class.

Subclasses only say how targets become tensors and a loss
(``_prepare_targets``) and how the heads' outputs become predictions; they
enter the persistence registry with ``_registry.register_estimator``.
"""

import numbers

import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from ._fitting import OPTIMIZERS, TrainingMixin
from ._inference import InferenceMixin
from ._inspection import InspectionMixin
from ._safe_format import save_estimator
from .nn.aggregation import AGGREGATIONS
from .nn.encoder import CELLS
from .nn.frontend import FRONTENDS
from .nn.scaling import SCALINGS

__all__ = ["BaseHiddenState", "OPTIMIZERS"]

class BaseHiddenState(InspectionMixin, InferenceMixin, TrainingMixin, BaseEstimator):
    """Common parameters, training and inference of the skhidden estimators.

    Not meant to be used directly: see :class:`HiddenStateClassifier`,
    :class:`HiddenStateRegressor` and :class:`HiddenStateTransformer`.
    """

    _parameter_constraints = {
        "cell": [StrOptions(set(CELLS))],
        "hidden_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "num_layers": [Interval(numbers.Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "aggregation": [StrOptions(set(AGGREGATIONS)), tuple, list],
        "timesteps": [
            "array-like",
            Interval(numbers.Real, None, None, closed="neither"),
            None,
        ],
        "layers": [StrOptions({"last", "all"})],
        "states": [StrOptions({"recurrent", "both"})],
        "n_networks": [Interval(numbers.Integral, 1, None, closed="left")],
        "frontend": [StrOptions(set(FRONTENDS))],
        "frontend_window": [Interval(numbers.Integral, 1, None, closed="left")],
        "frontend_scales": [tuple, list],
        "scaling": [StrOptions({"auto", *SCALINGS})],
        "differences": ["boolean"],
        "resample": [
            StrOptions({"auto", "none"}),
            Interval(numbers.Integral, 1, None, closed="left"),
        ],
        "max_epochs": [
            Interval(numbers.Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "inference_batch_size": [
            Interval(numbers.Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "crop": [Interval(numbers.Real, 0, 1, closed="right")],
        "warp": [Interval(numbers.Real, 0, 1, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), callable],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions({"constant", "cosine"})],
        "clip_grad_norm": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "patience": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
    }

    def __init__(
        self,
        *,
        cell="gru",
        hidden_size=64,
        num_layers=1,
        bidirectional=False,
        dropout=0.0,
        aggregation="max",
        timesteps=None,
        layers="last",
        states="recurrent",
        n_networks=1,
        frontend="resnet",
        frontend_window=8,
        frontend_scales=(1,),
        scaling="auto",
        differences=False,
        resample="none",
        max_epochs="auto",
        batch_size=32,
        inference_batch_size="auto",
        crop=0.9,
        warp=0.0,
        lr=0.001,
        optimizer="adam",
        weight_decay=0.0,
        lr_schedule="constant",
        clip_grad_norm=1.0,
        early_stopping=False,
        validation_fraction=0.1,
        patience=10,
        device="auto",
        random_state=None,
        verbose=0,
        callbacks=None,
    ):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.aggregation = aggregation
        self.timesteps = timesteps
        self.layers = layers
        self.states = states
        self.n_networks = n_networks
        self.frontend = frontend
        self.frontend_window = frontend_window
        self.frontend_scales = frontend_scales
        self.scaling = scaling
        self.differences = differences
        self.resample = resample
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.inference_batch_size = inference_batch_size
        self.crop = crop
        self.warp = warp
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.clip_grad_norm = clip_grad_norm
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    # ------------------------------------------------------------------ hooks
    def _prepare_targets(self, y, padded):
        """Return ``(targets, n_outputs, criterion, stratify)`` for training.

        ``padded`` is the validated input ``(n_samples, n_steps, n_features)``.
        ``targets`` is an array aligned with the samples, ``criterion`` a
        torch loss over the network's output, ``stratify`` whether the
        validation split keeps class proportions.
        """
        raise NotImplementedError

    def _network_params(self):
        """Extra ``HiddenStateNetwork`` arguments (the objective)."""
        return {}

    def save(self, path):
        """Save the fitted model to one file without pickle, for sharing.

        The file (safetensors) holds a JSON description (class, parameters,
        fitted attributes, versions) and the weights; :func:`skhidden.load`
        reads it back without executing anything from it. Needs the
        ``safetensors`` extra. ``callbacks`` cannot be stored: set it to None
        first. Use joblib for a full copy of a model you keep yourself.

        Parameters
        ----------
        path : str or os.PathLike
            File to write (conventionally ``*.skhidden``).

        Returns
        -------
        self : estimator
        """
        save_estimator(self, path)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
