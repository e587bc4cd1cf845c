"""Training: validate the structure, build the skorch net, fit it.

Defining pieces:

- ``TrainingMixin``: ``_fit`` (validate, build the net, train), ``_build_net``
  (the untrained skorch net, also what ``skhidden.load`` fills), the training
  callbacks, and the fitted net's ``history_``, ``device_`` and device moves.
- ``OPTIMIZERS``: optimizer name -> torch optimizer class.
- ``_seeded``: run torch seeded without disturbing the caller's RNG.

The mixin reads the constructor parameters of ``BaseHiddenState`` and calls
its ``_prepare_targets`` and ``_network_params`` hooks.
"""

import numbers
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback, EarlyStopping, LRScheduler
from skorch.dataset import ValidSplit
from torch.optim.lr_scheduler import CosineAnnealingLR

from ._device import resolve_device
from ._inference import _encoder_lengths
from ._threads import torch_threads
from ._training import FiniteLossGuard, ParameterClipping, SequenceNet
from .nn.aggregation import AGGREGATIONS
from .nn.ensemble import NetworkEnsemble
from .nn.frontend import frontend_stride, kernel_channels
from .nn.network import HiddenStateNetwork
from .nn.scaling import TRAINING_STATISTICS, scaling_modes, with_differences
from .sequences import (
    amplitude_spread,
    check_differences,
    check_sequences,
    check_timesteps,
    feature_statistics,
)

__all__ = ["OPTIMIZERS", "TrainingMixin"]

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}

DEFAULT_TIMESTEPS = (0.25, 0.5, 0.75, 1.0)

# scaling="auto" reads each step's shape scale-free as well when the
# sequences' amplitudes differ by more than this (90th/10th percentile of
# their deviations, any feature). Standardised archive sets sit at 1.0; the
# tuning-half sets with real amplitude differences at 1.9 to 1e5.
AMPLITUDE_SPREAD_LIMIT = 1.5

# ... and an ensemble's members read the shape so far and the whole
# sequence's shape in turn. On the 5 tuning sets where amplitudes differ,
# soft votes of one network of each, seeds 0-2 (PLAID 0-1), reached 0.857
# against 0.840 for two "feature_running" networks (PickupGestureWiimoteZ
# +3.3, PLAID +4.0, GestureMidAirD1 +1.8, BasicMotions -0.8); one
# "feature_sequence" network alone 0.850 there and 0.76 points below
# "feature" on the equal-length sets, hence only here and only beside the
# causal view.
MIXED_SCALINGS = ("feature_running", "feature_sequence")

# max_epochs="auto": at least this many epochs, and more for small training
# sets so that they still take this many optimizer steps. With 100 epochs the
# tuning half's sets of under 192 sequences took 100 to 500 steps and several
# ended short of fitting their training data (training accuracy Car 0.961,
# MixedShapesSmallTrain 0.943); 600 steps fitted them and gained 1.2 points on
# average over the 9 sets (Car +4.4, Lightning2 -1.1).
AUTO_EPOCHS = 100
AUTO_MIN_STEPS = 600

# Adam and AdamW by name take torch's fused kernel on these devices: one call
# per step rather than several per parameter, about 2 ms a step saved on the
# default network on CPU, where that is 3% of a step.
FUSED_OPTIMIZERS = ("adam", "adamw")
FUSED_DEVICES = ("cpu", "cuda")


def choose_scaling(scaling, padded, lengths, n_networks=1):
    """The scaling ``scaling="auto"`` stands for on these training sequences.

    Where the amplitudes differ (see ``amplitude_spread``) the training
    statistics plus each sequence's shape: so far (``"feature_running"``,
    causal) for one network; for an ensemble, that and the whole sequence's
    (``"feature_sequence"``) in turn, one per member. Elsewhere
    ``"feature"``. Any other value is returned as it is.
    """
    if scaling != "auto":
        return scaling
    if (amplitude_spread(padded, lengths) > AMPLITUDE_SPREAD_LIMIT).any():
        return MIXED_SCALINGS if n_networks > 1 else "feature_running"
    return "feature"


def choose_max_epochs(max_epochs, n_train, batch_size):
    """The epochs ``max_epochs="auto"`` stands for with ``n_train`` sequences.

    ``AUTO_EPOCHS``, raised where an epoch of ``batch_size`` batches has so
    few that training would take fewer than ``AUTO_MIN_STEPS`` optimizer
    steps. Any other value is returned as it is.
    """
    if max_epochs != "auto":
        return max_epochs
    batches = max(1, -(-int(n_train) // batch_size))
    return max(AUTO_EPOCHS, -(-AUTO_MIN_STEPS // batches))


def input_statistics(padded, lengths, differences):
    """Training mean and deviation per feature of what the input scaling reads.

    With ``differences``, each step beside its first difference, as
    ``skhidden.nn.scaling.InputScaling`` reads them; padding is left out by
    ``lengths``.
    """
    if differences:
        padded = with_differences(
            torch.from_numpy(np.ascontiguousarray(padded))
        ).numpy()
    return feature_statistics(padded, lengths)


def choose_resample_length(resample_param, lengths):
    """The length every sequence is read at: None for as they are.

    ``"auto"`` stands for the longest training length where the training
    sequences differ in length (the ``_eq`` reading of the archive's ragged
    sets: a gesture made slower or faster then lines up with its class), and
    for reading them as they are where all have one length. An int is that
    length; ``"none"`` is None.
    """
    if resample_param == "none":
        return None
    if resample_param == "auto":
        return None if lengths.min() == lengths.max() else int(lengths.max())
    return int(resample_param)


def _fused_optimizer(optimizer, device):
    """skorch's ``optimizer__fused`` where the named optimizer has a fused kernel."""
    if optimizer in FUSED_OPTIMIZERS and torch.device(device).type in FUSED_DEVICES:
        return {"optimizer__fused": True}
    return {}


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


def _check_frontend_scales(scales):
    """Return ``frontend_scales`` as a tuple of int, or raise ValueError."""
    valid = (
        len(scales) > 0
        and all(
            isinstance(k, numbers.Integral) and not isinstance(k, (bool, np.bool_))
            for k in scales
        )
        and scales[0] == 1
        and all(a < b for a, b in zip(scales[:-1], scales[1:], strict=True))
    )
    if not valid:
        raise ValueError(
            f"frontend_scales={scales!r} is not a kernel list; give increasing ints "
            "starting with 1, the first convolution's kernels in windows: (1,) "
            "is one kernel of frontend_window steps, (1, 2, 4) adds kernels of 2 "
            "and 4 windows."
        )
    return tuple(int(k) for k in scales)


def _move_net(net, device):
    """Move a skorch net's modules and losses to ``device``.

    The optimizer is rebuilt over the moved weights, so its state (e.g. Adam's
    moments) starts afresh; it only matters for further training.
    """
    net.device = device
    for name in net._modules + net._criteria:
        getattr(net, name + "_").to(device)
    net.initialize_optimizer()


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


class TrainingMixin:
    """Training and network building of the skhidden estimators.

    Not meant to be used directly: mixed into ``BaseHiddenState``.
    """

    def _check_structure(self):
        """Validate the parameters that sklearn's constraints cannot express.

        Returns ``(aggregation, timesteps, frontend_scales)`` in the forms the
        network takes.
        """
        aggregation = _check_aggregation(self.aggregation)
        scales = _check_frontend_scales(self.frontend_scales)
        if self.frontend == "resnet":
            kernel_channels(self.hidden_size, len(scales))
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
        return aggregation, timesteps, scales

    def _training_callbacks(self, max_epochs):
        callbacks = [("finite_loss", FiniteLossGuard())]
        if self.clip_grad_norm is not None:
            callbacks.append(("clip", ParameterClipping(self.clip_grad_norm)))
        if self.lr_schedule == "cosine":
            callbacks.append(
                ("lr_schedule", LRScheduler(CosineAnnealingLR, T_max=max_epochs))
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
        _, timesteps, _ = self._check_structure()
        padded, lengths = check_sequences(X)
        self.resample_length_ = choose_resample_length(self.resample, lengths)
        padded, lengths = self._resampled(padded, lengths)
        if self.differences:
            check_differences(padded)
        if timesteps is not None:
            stride = frontend_stride(self.frontend, self.frontend_window)
            check_timesteps(timesteps, _encoder_lengths(lengths, stride))
        targets, n_outputs, criterion, stratify = self._prepare_targets(y, padded)
        device = resolve_device(self.device)

        seed = None
        if self.random_state is not None:
            seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        self.scaling_ = choose_scaling(
            self.scaling, padded, lengths, getattr(self, "n_networks", 1)
        )
        n_train = len(padded)
        if self.early_stopping:  # ValidSplit holds out ceil(fraction * n)
            n_train -= int(np.ceil(self.validation_fraction * n_train))
        self.max_epochs_ = choose_max_epochs(self.max_epochs, n_train, self.batch_size)
        statistics = None
        if any(mode in TRAINING_STATISTICS for mode in scaling_modes(self.scaling_)):
            statistics = input_statistics(padded, lengths, self.differences)
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
        with _seeded(seed, device), torch_threads(self):
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
        aggregation, timesteps, scales = self._check_structure()
        train_split = None
        if self.early_stopping:
            train_split = ValidSplit(
                self.validation_fraction, stratified=stratify, random_state=seed
            )
        optimizer = OPTIMIZERS.get(self.optimizer, self.optimizer)
        scaling = getattr(self, "scaling_", self.scaling)
        max_epochs = getattr(self, "max_epochs_", self.max_epochs)
        for name, value in (("scaling", scaling), ("max_epochs", max_epochs)):
            if value == "auto":
                raise ValueError(
                    f"{name}='auto' stands for a value chosen at fit, but this "
                    f"model has no {name}_ to say which."
                )
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
            module__frontend_scales=scales,
            module__scaling=scaling,
            module__differences=self.differences,
            module__input_mean=(
                None if input_statistics is None else input_statistics[0]
            ),
            module__input_scale=(
                None if input_statistics is None else input_statistics[1]
            ),
            **{f"module__{k}": v for k, v in network_params.items()},
            criterion=criterion,
            optimizer=optimizer,
            optimizer__weight_decay=self.weight_decay,
            **_fused_optimizer(self.optimizer, device),
            lr=self.lr,
            max_epochs=max_epochs,
            batch_size=self.batch_size,
            train_split=train_split,
            callbacks=self._training_callbacks(max_epochs),
            iterator_train__random_state=np.random.default_rng(seed),
            iterator_train__crop=self.crop,
            iterator_train__warp=self.warp,
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
