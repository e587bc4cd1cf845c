"""The base class shared by the three estimators.

Defining pieces:

- ``BaseHiddenState``: the common constructor parameters and their
  constraints, ``fit`` (validate, build the skorch net, train), and streaming
  inference over length-sorted batches (``_stream``).
- ``OPTIMIZERS``: optimizer name -> torch optimizer class.

Subclasses only say how targets become tensors and a loss
(``_prepare_targets``) and how the heads' outputs become predictions.
"""

import numbers
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback, EarlyStopping, GradientNormClipping, LRScheduler
from skorch.dataset import Dataset, ValidSplit
from skorch.utils import to_tensor
from torch.optim.lr_scheduler import CosineAnnealingLR

from ._device import resolve_device
from ._threads import torch_threads
from ._training import FiniteLossGuard, SequenceBatches, SequenceNet
from .nn.aggregation import AGGREGATIONS
from .nn.encoder import CELLS
from .nn.ensemble import NetworkEnsemble
from .nn.frontend import FRONTENDS, frontend_stride
from .nn.network import HiddenStateNetwork
from .nn.scaling import SCALINGS, TRAINING_STATISTICS
from .sequences import (
    check_sequences,
    check_timesteps,
    feature_statistics,
    iter_chunks,
    unpad,
)

__all__ = ["BaseHiddenState", "OPTIMIZERS"]

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}

DEFAULT_TIMESTEPS = (0.25, 0.5, 0.75, 1.0)


def _is_optimizer_class(value):
    return isinstance(value, type) and issubclass(value, torch.optim.Optimizer)


def _check_aggregation(aggregation):
    """Return ``aggregation`` as a str or a tuple of str, or raise ValueError."""
    names = sorted(AGGREGATIONS)
    if isinstance(aggregation, str):
        if aggregation not in AGGREGATIONS:
            raise ValueError(
                f"aggregation={aggregation!r} is not a strategy; choose from "
                f"{names} or a tuple of them."
            )
        return aggregation
    strategies = tuple(aggregation)
    if not strategies:
        raise ValueError("aggregation=() is empty; name at least one strategy.")
    for name in strategies:
        if name not in AGGREGATIONS or name == "timesteps":
            raise ValueError(
                f"aggregation={aggregation!r}: {name!r} cannot be part of a tuple; "
                f"a tuple concatenates pooled strategies from "
                f"{[n for n in names if n != 'timesteps']}. 'timesteps' gives one "
                "vector per step with its own head: use it alone."
            )
    return strategies


def _check_timestep_spec(timesteps):
    """Return ``timesteps`` as a tuple of int/float, or raise ValueError."""
    if timesteps is None:
        return DEFAULT_TIMESTEPS
    if isinstance(timesteps, (numbers.Number, str)):
        timesteps = (timesteps,)
    steps = []
    for step in timesteps:
        if isinstance(step, (bool, np.bool_)):
            raise ValueError(f"timesteps has a boolean {step!r}; use ints or floats.")
        if isinstance(step, numbers.Integral):
            steps.append(int(step))
        elif isinstance(step, numbers.Real) and 0.0 < step <= 1.0:
            steps.append(float(step))
        else:
            raise ValueError(
                f"timesteps has {step!r}; each entry must be an int step index "
                "(negative counts from each sequence's end) or a float fraction "
                "of the sequence length in (0, 1]."
            )
    if not steps:
        raise ValueError("timesteps is empty; select at least one step.")
    return tuple(steps)


def _move_net(net, device):
    """Move a skorch net's modules and losses to ``device``.

    The optimizer is rebuilt over the moved weights, so its state (e.g. Adam's
    moments) starts afresh; it only matters for further training.
    """
    net.device = device
    for name in net._modules + net._criteria:
        getattr(net, name + "_").to(device)
    net.initialize_optimizer()


def _encoder_lengths(lengths, stride):
    """Encoder steps per sequence: input steps, or windows of a front-end."""
    return -(-lengths // stride)


def _require_finite(values, indices):
    """Refuse results that are not finite: input too large for float32 math.

    ``values`` has one row per sequence, ``indices`` their positions in ``X``.
    """
    finite = np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    if not finite.all():
        raise ValueError(
            f"X[{indices[int(np.argmin(finite))]}] overflows float32 inside the "
            "network (its result is not finite): its values are too large. "
            "Rescale the input, e.g. with skhidden.SequenceScaler."
        )


@contextmanager
def _seeded(seed, device):
    """Run torch with ``seed`` without disturbing the caller's global RNG."""
    if seed is None:
        yield
        return
    cuda = torch.device(device).type == "cuda"
    devices = [torch.device(device).index or 0] if cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class BaseHiddenState(BaseEstimator):
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
        "timesteps": ["array-like", Interval(numbers.Real, None, None, closed="neither"), None],
        "layers": [StrOptions({"last", "all"})],
        "states": [StrOptions({"recurrent", "both"})],
        "n_networks": [Interval(numbers.Integral, 1, None, closed="left")],
        "frontend": [StrOptions(set(FRONTENDS))],
        "frontend_window": [Interval(numbers.Integral, 1, None, closed="left")],
        "scaling": [StrOptions(set(SCALINGS))],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "crop": [Interval(numbers.Real, 0, 1, closed="right")],
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
        scaling="feature",
        max_epochs=100,
        batch_size=32,
        crop=1.0,
        lr=0.005,
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
        self.scaling = scaling
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.crop = crop
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

    # --------------------------------------------------------------- training
    def _check_structure(self):
        """Validate the parameters that sklearn's constraints cannot express."""
        aggregation = _check_aggregation(self.aggregation)
        timesteps = None
        if aggregation == "timesteps":
            timesteps = _check_timestep_spec(self.timesteps)
        if self.optimizer not in OPTIMIZERS and not _is_optimizer_class(self.optimizer):
            raise ValueError(
                f"optimizer={self.optimizer!r} is neither one of {sorted(OPTIMIZERS)} "
                "nor a torch.optim.Optimizer subclass."
            )
        for callback in self.callbacks or []:
            if isinstance(callback, tuple):
                callback = callback[-1]
            if not isinstance(callback, Callback):
                raise TypeError(
                    f"callbacks must hold skorch callbacks (or (name, callback) "
                    f"pairs); got {type(callback).__name__}."
                )
        return aggregation, timesteps

    def _training_callbacks(self):
        callbacks = [("finite_loss", FiniteLossGuard())]
        if self.clip_grad_norm is not None:
            callbacks.append(("clip", GradientNormClipping(self.clip_grad_norm)))
        if self.lr_schedule == "cosine":
            callbacks.append(
                ("lr_schedule", LRScheduler(CosineAnnealingLR, T_max=self.max_epochs))
            )
        if self.early_stopping:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(patience=self.patience, load_best=True, sink=print),
                )
            )
        return callbacks + list(self.callbacks or [])

    def _fit(self, X, y):
        self._validate_params()
        _, timesteps = self._check_structure()
        padded, lengths = check_sequences(X)
        if timesteps is not None:
            stride = frontend_stride(self.frontend, self.frontend_window)
            check_timesteps(timesteps, _encoder_lengths(lengths, stride))
        targets, n_outputs, criterion, stratify = self._prepare_targets(y, padded)
        device = resolve_device(self.device)

        seed = None
        if self.random_state is not None:
            seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        statistics = None
        if self.scaling in TRAINING_STATISTICS:
            statistics = feature_statistics(padded, lengths)
        net = self._build_net(
            padded.shape[2],
            n_outputs,
            criterion,
            device,
            seed=seed,
            stratify=stratify,
            input_statistics=statistics,
        )
        # The targets' attributes are already new: a refit that fails in
        # training must leave no old net beside them.
        vars(self).pop("net_", None)
        with _seeded(seed, device), torch_threads():
            net.fit({"X": padded, "lengths": lengths}, targets)
        self.net_ = net
        self.n_features_in_ = padded.shape[2]
        return self

    def _build_net(
        self,
        n_features,
        n_outputs,
        criterion,
        device,
        *,
        seed=None,
        stratify=False,
        input_statistics=None,
    ):
        """The untrained skorch net: what ``fit`` trains and ``skhidden.load`` fills.

        Parameters
        ----------
        n_features : int
            Features per input step.
        n_outputs : int
            Outputs per head.
        criterion : torch.nn.Module
            Training loss.
        device : str
            An available device (see ``resolve_device``).
        seed : int, optional
            Seeds shuffling and the early-stopping split.
        stratify : bool, default=False
            Keep class proportions in the early-stopping split.
        input_statistics : tuple of ndarray, optional
            ``(mean, std)`` of each feature for the scalings that use them; a
            loaded model takes them from its saved weights instead.

        Returns
        -------
        net : SequenceNet
        """
        aggregation, timesteps = self._check_structure()
        train_split = None
        if self.early_stopping:
            train_split = ValidSplit(
                self.validation_fraction, stratified=stratify, random_state=seed
            )
        optimizer = OPTIMIZERS.get(self.optimizer, self.optimizer)
        network_params = self._network_params()
        ensemble = {}
        if self.n_networks > 1:
            if network_params.get("objective", "supervised") != "supervised":
                raise ValueError(
                    f"n_networks={self.n_networks} needs labels: without y the "
                    "networks learn to predict steps, which are not averaged. "
                    "Fit with y, or with n_networks=1."
                )
            ensemble = {"module__n_networks": self.n_networks}
        return SequenceNet(
            module=NetworkEnsemble if ensemble else HiddenStateNetwork,
            **ensemble,
            module__n_features=n_features,
            module__n_outputs=n_outputs,
            module__cell=self.cell,
            module__hidden_size=self.hidden_size,
            module__num_layers=self.num_layers,
            module__bidirectional=self.bidirectional,
            module__dropout=self.dropout,
            module__aggregation=aggregation,
            module__timesteps=timesteps,
            module__layers=self.layers,
            module__states=self.states,
            module__frontend=self.frontend,
            module__frontend_window=self.frontend_window,
            module__scaling=self.scaling,
            module__input_mean=None if input_statistics is None else input_statistics[0],
            module__input_scale=None if input_statistics is None else input_statistics[1],
            **{f"module__{k}": v for k, v in network_params.items()},
            criterion=criterion,
            optimizer=optimizer,
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=train_split,
            callbacks=self._training_callbacks(),
            iterator_train__random_state=np.random.default_rng(seed),
            iterator_train__crop=self.crop,
            device=device,
            verbose=int(self.verbose),
        )

    @property
    def history_(self):
        """skorch ``History`` of training: per-epoch ``train_loss`` and more."""
        check_is_fitted(self, "net_")
        return self.net_.history

    @property
    def device_(self):
        """Device of the weights: where ``fit`` trained them, unless moved since.

        Unpickling a CUDA-trained model where CUDA is absent moves it to the
        CPU (skorch); ``set_params(device=...)`` moves it anywhere.
        """
        check_is_fitted(self, "net_")
        return str(self.net_.device)

    def set_params(self, **params):
        """Set parameters; on a fitted model, ``device`` also moves the weights.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : estimator
        """
        device = None
        if "device" in params and hasattr(self, "net_"):
            device = resolve_device(params["device"])  # refuse before changing
        super().set_params(**params)
        if device is not None:
            _move_net(self.net_, device)
        return self

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
        from .persistence import save

        save(self, path)
        return self

    # -------------------------------------------------------------- inference
    def _check_input(self, X, name="X"):
        """Validate ``X`` for a fitted model and return ``(padded, lengths)``."""
        check_is_fitted(self, "net_")
        padded, lengths = check_sequences(X, name=name)
        if padded.shape[2] != self.n_features_in_:
            raise ValueError(
                f"{name} has {padded.shape[2]} features per step, but "
                f"{type(self).__name__} was fitted with {self.n_features_in_}."
            )
        module = self.net_.module_
        timesteps = getattr(module.aggregation, "timesteps", None)
        if timesteps is not None:
            check_timesteps(timesteps, _encoder_lengths(lengths, module.frontend.stride))
        return padded, lengths

    def _stream(self, X, compute, *, per_step=False):
        """Apply ``compute(module, X, lengths)`` batch by batch, in input order.

        Batches group sequences of similar length; only one batch's states
        exist at a time. A large input is validated whole first, then
        converted part by part (``iter_chunks``), so the memory used beyond
        the input and the result stays bounded whatever the number of
        sequences.

        Parameters
        ----------
        X : sequences
            Input, validated here.
        compute : callable
            ``(module, X_batch, lengths_batch) -> torch.Tensor`` with the
            batch as first dimension.
        per_step : bool, default=False
            The result has a step dimension (second): return a list with each
            sequence's valid steps instead of one array.

        Returns
        -------
        result : ndarray or list of ndarray
        """
        check_is_fitted(self, "net_")
        parts = list(iter_chunks(X))
        if len(parts) == 1:
            inputs = [(0, *self._check_input(X))]
            n_samples = len(inputs[0][2])
        else:
            for _, part, name in parts:  # refuse bad input before any work
                self._check_input(part, name)
            inputs = ((start, *self._check_input(part, name)) for start, part, name in parts)
            n_samples = parts[-1][0] + len(parts[-1][1])
        module = self.net_.module_
        module.eval()
        result = [None] * n_samples if per_step else None
        with torch.inference_mode(), torch_threads():
            for start, padded, lengths in inputs:
                batches = SequenceBatches(
                    Dataset({"X": padded, "lengths": lengths}),
                    self.batch_size,
                    sort_by_length=True,
                )
                for index, (Xb, _) in zip(batches.batch_indices(), batches):
                    Xb = to_tensor(Xb, device=self.net_.device)
                    values = compute(module, Xb["X"], Xb["lengths"]).cpu().numpy()
                    if per_step:
                        step_lengths = _encoder_lengths(lengths[index], module.frontend.stride)
                        for i, seq in zip(start + index, unpad(values, step_lengths)):
                            _require_finite(seq[None], [i])
                            result[i] = seq
                        continue
                    _require_finite(values, start + index)
                    if result is None:
                        result = np.empty((n_samples,) + values.shape[1:], values.dtype)
                    result[start + index] = values
        return result

    def _head_outputs(self, X):
        """Every head's output ``(n_samples, n_views, n_outputs)``."""
        return self._stream(X, lambda module, Xb, lengths: module(Xb, lengths))

    def hidden_states(self, X):
        """Hidden state sequence of each input sequence.

        The states the aggregation reads: the top layer's (``layers="last"``)
        or every layer's concatenated (``layers="all"``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or list
            Sequences, in any layout ``fit`` accepts.

        Returns
        -------
        states : list of ndarray of shape (n_timesteps_i, state_size)
            One float32 array per sequence, covering its valid steps only
            (its windows, ``ceil(n_timesteps_i / stride)``, with a front-end).
        """
        return self._stream(X, lambda m, Xb, lengths: m.hidden_states(Xb, lengths), per_step=True)

    def attention_weights(self, X):
        """Attention weights of each sequence over its own valid steps.

        For a tuple aggregation, the weights of its ``"attention"`` part.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or list
            Sequences, in any layout ``fit`` accepts.

        Returns
        -------
        weights : list of ndarray of shape (n_timesteps_i,)
            One float32 array per sequence: non-negative, summing to 1 (one
            weight per window with a front-end).

        Raises
        ------
        ValueError
            If the aggregation has no ``"attention"``.
        """
        check_is_fitted(self, "net_")
        self.net_.module_.attention_pool()
        return self._stream(
            X, lambda m, Xb, lengths: m.attention_weights(Xb, lengths), per_step=True
        )

    def _staged(self, X, combine):
        """Combined head outputs after each step, one array per step.

        ``combine(outputs, mask)`` turns the network's ``staged`` result into
        ``(batch, n_steps, ...)``; everything is computed up front (one pass
        per batch, so errors surface at the call), then yielded step by step.
        A sequence that has ended keeps its final value up to the longest
        sequence's length.
        """

        def compute(module, Xb, lengths):
            return combine(*module.staged(Xb, lengths))

        per_sequence = self._stream(X, compute, per_step=True)
        steps = np.arange(max(len(values) for values in per_sequence))
        staged = np.stack(
            [values[np.minimum(steps, len(values) - 1)] for values in per_sequence]
        )
        return (staged[:, t] for t in steps)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
