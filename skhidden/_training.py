"""The skorch layer: how the estimators' torch network is trained.

- ``SequenceBatches``: the iterator skorch uses for batches. It slices the
  padded arrays directly (no per-sample Dataset calls), trims each batch to
  its own longest sequence, and when shuffling groups sequences of similar
  length together so ragged data pays little for padding. In training it
  can crop each sequence to a random window (window-slicing augmentation)
  and stretch or squeeze it by a random factor (time warping).
- ``FiniteLossGuard``: stops training with a clear error once a loss is NaN.
- ``ParameterClipping``: skorch's gradient-norm clipping on a parameter list
  read once per epoch instead of walked anew on every batch.
- ``SequenceNet``: skorch's ``NeuralNet`` with those defaults, and with the
  per-batch bookkeeping trimmed so that a fit costs about what a hand-written
  PyTorch loop costs (see ``benchmarks/overhead.py``). The members of an
  ensemble train on threads of their own where cores are free.
"""

import math
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, GradientNormClipping, PrintLog
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn
from torch.nn.utils import clip_grad_norm_

from ._threads import granted_threads
from .nn.ensemble import NetworkEnsemble
from .sequences import plan_batches, resample

__all__ = [
    "FiniteLossGuard",
    "NonFiniteLossError",
    "ParameterClipping",
    "SequenceBatches",
    "SequenceNet",
]


def _unwrap(dataset):
    """Arrays and sample indices behind a skorch Dataset or a Subset of one."""
    indices = None
    if isinstance(dataset, torch.utils.data.Subset):
        indices = np.asarray(dataset.indices)
        dataset = dataset.dataset
    X, y = dataset.X, dataset.y
    if indices is None:
        indices = np.arange(len(X["lengths"]))
    return X["X"], X["lengths"], y, indices


class SequenceBatches:
    """Batches of padded sequences for skorch, sliced straight from arrays.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset or torch.utils.data.Subset
        Holds ``X={"X": padded, "lengths": lengths}`` and ``y``.
    batch_size : int
        Sequences per batch.
    shuffle : bool, default=False
        Training order: batches of similar-length sequences in random order.
        Without shuffling batches keep the dataset's order, which skorch's
        scoring callbacks rely on.
    random_state : numpy.random.Generator, optional
        Randomness for shuffling.
    crop : float, default=1.0
        With shuffling below 1: each sequence of a batch is replaced by a
        random contiguous window of ``ceil(crop * length)`` of its steps,
        drawn anew every epoch (and its per-step targets with it).
    warp : float, default=0.0
        With shuffling above 0: each sequence of a batch is first stretched
        or squeezed to ``round(factor * length)`` steps, ``factor`` drawn
        uniformly from ``[1 - warp, 1 + warp]`` anew every epoch (and its
        per-step targets with it).
    """

    def __init__(
        self,
        dataset,
        batch_size,
        shuffle=False,
        random_state=None,
        crop=1.0,
        warp=0.0,
    ):
        self.padded, self.lengths, self.y, self.indices = _unwrap(dataset)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.crop = crop
        self.warp = warp

    def batch_indices(self):
        """Sample indices of each batch, in the order they are yielded."""
        if self.shuffle:
            plan = plan_batches(
                self.lengths[self.indices],
                self.batch_size,
                shuffle=self.shuffle,
                random_state=self.random_state,
            )
            return [self.indices[batch] for batch in plan]
        n = len(self.indices)
        size = self.batch_size
        return [self.indices[i : i + size] for i in range(0, n, size)]

    def __len__(self):
        return math.ceil(len(self.indices) / self.batch_size)

    def __iter__(self):
        for batch in self.batch_indices():
            lengths = self.lengths[batch]
            n_steps = lengths.max()
            X, y = self.padded[batch, :n_steps], self._targets(batch, n_steps)
            if self.shuffle and self.warp > 0:
                X, y, lengths = self._warped(X, y, lengths)
            if self.shuffle and self.crop < 1.0:
                X, y, lengths = self._cropped(X, y, lengths)
            Xb = {"X": torch.from_numpy(X), "lengths": torch.from_numpy(lengths)}
            yield Xb, None if y is None else torch.from_numpy(y)

    def _warped(self, X, y, lengths):
        """Each sequence resampled to a random ``factor`` of its length."""
        rng = np.random.default_rng(self.random_state)
        factor = rng.uniform(1 - self.warp, 1 + self.warp, size=len(lengths))
        new = np.maximum(1, np.round(factor * lengths)).astype(lengths.dtype)
        if y is not None and y.ndim == 3:
            y = resample(y, lengths, new)[0]
        X, lengths = resample(X, lengths, new)
        return X, y, lengths

    def _cropped(self, X, y, lengths):
        """A random window of ``ceil(crop * length)`` steps of each sequence."""
        rng = np.random.default_rng(self.random_state)
        new = np.maximum(1, np.ceil(self.crop * lengths)).astype(lengths.dtype)
        starts = rng.integers(0, lengths - new + 1)
        steps = np.arange(new.max())
        index = np.minimum(starts[:, None] + steps, lengths[:, None] - 1)
        keep = (steps < new[:, None])[..., None]
        rows = np.arange(len(X))[:, None]
        X = np.where(keep, X[rows, index], 0).astype(X.dtype)
        if y is not None and y.ndim == 3:
            y = np.where(keep, y[rows, index], 0).astype(y.dtype)
        return X, y, new

    def _targets(self, batch, n_steps):
        if self.y is None:
            return None
        y = self.y[batch]
        if y.ndim == 3:  # the sequences are their own targets
            y = y[:, :n_steps]
        return y


class NonFiniteLossError(FloatingPointError):
    """Training stopped because the loss became NaN or infinite."""


def _recorded_loss(net, training, loss):
    """The batch loss as a float, read where skorch has just recorded it.

    skorch stores ``loss.item()`` in the history before ``on_batch_end``;
    reading that float avoids a second tensor operation (and, on a GPU, a
    second synchronisation) per batch.
    """
    key = "train_loss" if training else "valid_loss"
    try:
        value = net.history[-1]["batches"][-1][key]
    except (IndexError, KeyError, TypeError):
        value = None
    if isinstance(value, float):
        return value
    return float(torch.as_tensor(loss).detach().float().sum())


class FiniteLossGuard(Callback):
    """Raise :class:`NonFiniteLossError` as soon as a batch loss is not finite."""

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        if loss is None:
            return
        value = _recorded_loss(net, training, loss)
        if not math.isfinite(value):
            epoch = len(net.history)
            which = "training" if training else "validation"
            raise NonFiniteLossError(
                f"The {which} loss became {value} in epoch {epoch}. "
                "Scale the inputs (e.g. with skhidden.SequenceScaler), lower `lr`, "
                "or keep gradient clipping on (`clip_grad_norm`)."
            )


class ParameterClipping(GradientNormClipping):
    """skorch's ``GradientNormClipping`` on parameters read once per epoch.

    skorch passes ``on_grad_computed`` a generator that walks every module's
    named parameters, and the stock callback walks it on every batch. The
    set of parameters a net trains does not change within an epoch, so the
    list is read at each epoch's start; the clipping itself is the same
    ``torch.nn.utils.clip_grad_norm_`` call. On a small model this is about
    1.5% of a training step (``benchmarks/overhead.py``).
    """

    def on_epoch_begin(self, net, **kwargs):
        self._parameters = [param for _, param in net.get_all_learnable_params()]

    def on_train_end(self, net, **kwargs):
        self._parameters = None  # a fitted net holds no second reference

    def on_grad_computed(self, net, named_parameters, **kwargs):
        if self.gradient_clip_value is None:
            return
        parameters = getattr(self, "_parameters", None)
        if parameters is None:  # a training step outside fit
            parameters = [param for _, param in named_parameters]
        clip_grad_norm_(
            parameters,
            max_norm=self.gradient_clip_value,
            norm_type=self.gradient_clip_norm_type,
        )


class QuietPrintLog(PrintLog):
    """skorch's ``PrintLog`` that skips formatting a table nobody sees.

    ``PrintLog`` tabulates every epoch even when ``verbose=0`` and its sink
    (``print``) then discards the line. The header is printed the first time
    a line is, so turning ``verbose`` on later still shows it.
    """

    def on_epoch_end(self, net, **kwargs):
        if self.sink is print and not net.verbose:
            return
        super().on_epoch_end(net, **kwargs)


class SequenceNet(NeuralNet):
    """skorch ``NeuralNet`` fed by :class:`SequenceBatches`.

    Two skorch defaults cost time on every batch or epoch of a small model
    and are trimmed here, with the same behaviour:

    - ``_set_training`` calls ``module.train(mode)``, which walks every
      submodule, before each batch; it is skipped when the module's own flag
      is already ``mode`` (``train``/``eval`` set that flag together with
      every submodule's, so only a submodule switched on its own by user
      code would be left as it is);
    - the default ``print_log`` callback is a :class:`QuietPrintLog`.

    The members of a ``NetworkEnsemble`` share no parameter, so on the CPU,
    when torch runs on fewer threads than the process was given (the small
    models, see ``skhidden._threads``), each batch runs the members' forward
    and backward passes on threads of their own, one member per free core.
    The loss and every gradient are those of the serial pass, bit for bit:
    the gradient of the loss with respect to each member's outputs is taken
    first, then each member's backward pass starts from it. Members that
    draw random numbers (dropout) stay serial, since threads would draw from
    torch's generator in no fixed order.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("iterator_train", SequenceBatches)
        kwargs.setdefault("iterator_valid", SequenceBatches)
        kwargs.setdefault("iterator_train__shuffle", True)
        super().__init__(*args, **kwargs)

    @property
    def _default_callbacks(self):
        return [
            (name, QuietPrintLog() if name == "print_log" else callback)
            for name, callback in super()._default_callbacks
        ]

    def _set_training(self, training=True):
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and module.training != training:
                module.train(training)

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        with self._member_threads():
            return super().fit_loop(X, y, epochs=epochs, **fit_params)

    @contextmanager
    def _member_threads(self):
        """A thread per ensemble member for this fit, where that is safe and free."""
        workers = _member_workers(self.module_, self.device)
        # A new thread runs torch's OpenMP on its initial limit (the cores),
        # not the count this fit runs on: pin it, or a member's floats depend
        # on the worker that ran it.
        pool = (
            ThreadPoolExecutor(
                workers,
                "skhidden-member",
                initializer=torch.set_num_threads,
                initargs=(torch.get_num_threads(),),
            )
            if workers > 1
            else None
        )
        self._member_pool = pool
        try:
            yield
        finally:
            del self._member_pool
            if pool is not None:
                pool.shutdown()

    def train_step_single(self, batch, **fit_params):
        pool = getattr(self, "_member_pool", None)
        if pool is None:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        x = self._merge_x_and_fit_params(to_tensor(Xi, device=self.device), fit_params)
        outputs = list(pool.map(lambda member: member(**x), self.module_.members))
        y_pred = self.module_.join(outputs)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        gradients = torch.autograd.grad(loss, outputs)
        list(pool.map(torch.autograd.backward, outputs, gradients))
        return {"loss": loss.detach(), "y_pred": y_pred.detach()}


def _member_workers(module, device):
    """Threads for ``module``'s members: 1 unless a CPU ensemble has free cores."""
    if not isinstance(module, NetworkEnsemble) or torch.device(device).type != "cpu":
        return 1
    if any(isinstance(m, nn.Dropout) and m.p > 0 for m in module.modules()):
        return 1
    free = granted_threads() // max(1, torch.get_num_threads())
    return max(1, min(len(module.members), free))
