"""Inference: apply the fitted network to sequences, streaming.

Defining pieces:

- ``InferenceMixin``: ``_check_input`` (validate ``X`` for the fitted
  model), ``_stream`` (apply a computation batch by batch over
  length-sorted batches, a large input part by part), ``_head_outputs``
  (what predictions are made of) and ``_staged`` (outputs after each step).
- ``auto_batch_size``, ``MAX_BATCH_VALUES`` and ``step_values``: how
  big an inference batch is (``inference_batch_size``).
- ``_encoder_lengths``: recurrent steps per sequence behind a front-end.

Inference does not go through skorch's ``predict``: batches are sliced
straight from the validated array (a view when the sequences are already in
order), handed to the module under ``torch.inference_mode`` and checked
once per batch, so a call costs what a hand-written loop over the same
batches costs (``benchmarks/overhead.py``).
"""

import numpy as np
import torch
from sklearn.utils._param_validation import validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted

from ._threads import torch_threads
from .nn.ensemble import member_networks
from .nn.network import check_causal
from .nn.prefixes import outputs_after_windows, reads_prefixes_once
from .nn.streaming import final_outputs, no_outputs
from .sequences import (
    check_differences,
    check_sequences,
    check_timesteps,
    iter_chunks,
    plan_batches,
    resample,
)

__all__ = [
    "AUTO_BATCH_STATE_VALUES",
    "MAX_BATCH_VALUES",
    "InferenceMixin",
    "auto_batch_size",
    "step_values",
]

#: ``inference_batch_size="auto"``: sequences per batch such that one step's
#: states (sequences x hidden units x directions) hold about this many
#: values. On a CPU (one thread, ``transform``) a GRU of 16 units over 24
#: steps ran fastest with 1024 sequences (25 ms for 4096 against 32 ms with
#: 256), one of 32 units with 512, of 64 units with 256 to 512 and of 128
#: units with 128: smaller batches pay the per-step overhead more often,
#: larger ones leave the cache. The default network (two bidirectional GRUs
#: of 64 units over windows of 8 steps) read 1000 sequences of 150 steps in
#: ``predict_proba`` in 0.499 s with 256 sequences a batch against 0.528 s
#: with 128 and 0.504 s with 512: directions count once.
AUTO_BATCH_STATE_VALUES = 2**14

#: Values (padded input steps x ``step_values``) of the widest tensor one
#: inference batch may hold: 32 MB of float32. A batch holds a few tensors of
#: about this size at once, so this bounds inference memory whatever the
#: lengths; 256 sequences of 150 steps fit for a GRU of 64 units.
MAX_BATCH_VALUES = 2**23

_GATES = {"LSTM": 4, "GRU": 3}


def _is_causal(module):
    """Whether every output of ``module`` reads past steps only."""
    try:
        for member in member_networks(module):
            check_causal(member)
    except ValueError:
        return False
    return True


def _window_spans(frontend, n_steps):
    """``(starts, stops)``: the input steps each encoder step reads.

    Encoder step ``t`` reads input steps ``[t * stride, t * stride + window)``,
    cut at the sequence's end (``stops`` exclusive); see
    ``plotting.window_spans``.
    """
    starts = np.arange(0, n_steps, frontend.stride)
    return starts, np.minimum(starts + frontend.window, n_steps)


def _encoder_lengths(lengths, stride):
    """Encoder steps per sequence: input steps, or windows of a front-end."""
    return -(-lengths // stride)


def step_values(module):
    """Values per padded input step of the widest tensors of one forward pass.

    The widest of: one recurrent layer's gate pre-activations (of one member:
    an ensemble's members run one after another, so theirs never coexist),
    every layer's states with the front-end's features, the staged prefixes
    of the aggregation (these two for every member, since the estimators
    concatenate the members'), all per window, so divided by the front-end's
    stride; plus the scaled input, counted twice for the float64 statistics
    of the per-sequence scalings. An estimate of the order of the memory a
    batch needs per step, not an exact account.

    Parameters
    ----------
    module : HiddenStateNetwork or NetworkEnsemble
        The fitted network.

    Returns
    -------
    values : int
    """
    encoder, frontend, aggregation = module.encoder, module.frontend, module.aggregation
    members = len(member_networks(module))
    gates = _GATES.get(encoder.layers[0].mode, 1)
    per_window = max(
        gates * encoder.hidden_size * encoder.num_directions,
        members * (len(encoder.layers) * encoder.state_size + frontend.output_size),
        members * aggregation.n_views * aggregation.output_size,
    )
    return -(-per_window // frontend.stride) + 2 * module.scaling.output_size


def auto_batch_size(module):
    """Sequences per inference batch under ``inference_batch_size="auto"``.

    ``AUTO_BATCH_STATE_VALUES`` over the hidden units of one direction, a
    power of two from 16 to 4096: 256 for the default GRU of 64 units, one
    way or both (torch reads a bidirectional layer's two directions one
    after the other, so one direction's states are what a step holds).

    Parameters
    ----------
    module : HiddenStateNetwork or NetworkEnsemble
        The fitted network.

    Returns
    -------
    size : int
    """
    width = module.encoder.hidden_size
    size = 2 ** int(np.log2(max(1, AUTO_BATCH_STATE_VALUES // width)))
    return int(min(4096, max(16, size)))


def _require_finite(values, indices, step_lengths=None):
    """Refuse results that are not finite: input too large for float32 math.

    ``values`` has one row per sequence, ``indices`` their positions in
    ``X``; with ``step_lengths`` only each row's first steps count (the rest
    is padding). One pass over the batch; rows are told apart only on error.
    """
    finite = np.isfinite(values)
    if finite.all():
        return
    if step_lengths is not None:
        padding = np.arange(values.shape[1]) >= step_lengths[:, None]
        finite |= padding.reshape(padding.shape + (1,) * (values.ndim - 2))
    finite = finite.reshape(len(values), -1).all(axis=1)
    if not finite.all():
        raise ValueError(
            f"X[{indices[int(np.argmin(finite))]}] overflows float32 inside the "
            "network (its result is not finite): its values are too large. "
            "Rescale the input, e.g. with skhidden.SequenceScaler."
        )


class _StepRows:
    """Each sequence's step rows gathered into one buffer, returned as views.

    Views of each batch's output would keep every batch alive, padding
    included, as many small blocks between the batches' temporaries on
    glibc's heap, which then cannot shrink. One buffer holds only the valid
    steps, in one block (``score_steps`` of 100k sequences: 63-112 MB above
    input and output over three runs, against 54-202 MB over four with
    views; the rest of the spread is the allocator's).

    Parameters
    ----------
    counts : ndarray of shape (n_samples,)
        The rows (valid steps) of each sequence.
    """

    def __init__(self, counts):
        self.offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.buffer = None

    def collect(self, index, values, step_lengths):
        """Copy a batch's valid rows to their sequences' places."""
        if self.buffer is None:
            size = (int(self.offsets[-1]),) + values.shape[2:]
            self.buffer = np.empty(size, values.dtype)
        if _is_range(index) and (step_lengths == values.shape[1]).all():
            start = self.offsets[index[0]]
            stop = start + values.shape[0] * values.shape[1]
            # A view of the buffer takes the batch's shape: one copy, where
            # flattening the batch first copies it once more whenever it is
            # not contiguous (a batch-first GRU's states are time-major).
            self.buffer[start:stop].reshape(values.shape)[...] = values
            return
        starts = self.offsets[index].tolist()
        for start, row, n in zip(starts, values, step_lengths.tolist(), strict=True):
            self.buffer[start : start + n] = row[:n]

    def rows(self):
        """The result: one view of the buffer per sequence."""
        ends = self.offsets.tolist()
        return [self.buffer[a:b] for a, b in zip(ends[:-1], ends[1:], strict=True)]


def _is_range(index):
    """Whether ``index`` is ``start, start + 1, ..., stop - 1``."""
    return index[-1] - index[0] == len(index) - 1 and bool((np.diff(index) > 0).all())


def _batches(padded, lengths, plan, device):
    """``(index, X, lengths)`` of each planned batch, tensors on ``device``.

    Each batch is trimmed to its own longest sequence. When the input is
    already in length order (equal lengths included) the plan keeps it, and
    a batch of full-length sequences is a view of ``padded``, not a copy.
    """
    on_cpu = torch.device(device).type == "cpu"
    in_order = bool((lengths[1:] >= lengths[:-1]).all())
    for index in plan:
        n_steps = int(lengths[index[-1]])  # the plan sorts by length
        first, stop = int(index[0]), int(index[0]) + len(index)
        if in_order and n_steps == padded.shape[1]:
            Xb, Lb = padded[first:stop], lengths[first:stop]
        else:
            Xb, Lb = padded[index, :n_steps], lengths[index]
        Xb, Lb = torch.from_numpy(Xb), torch.from_numpy(Lb)
        if not on_cpu:
            Xb, Lb = Xb.to(device), Lb.to(device)
        yield index, Xb, Lb


class InferenceMixin:
    """Streaming inference of the skhidden estimators.

    Not meant to be used directly: mixed into ``BaseHiddenState``; the
    estimators build their predictions and features on ``_stream``.
    """

    def _check_input(self, X, name="X"):
        """Validate ``X`` for a fitted model and return ``(padded, lengths)``."""
        check_is_fitted(self, "net_")
        padded, lengths = check_sequences(X, name=name)
        if padded.shape[2] != self.n_features_in_:
            raise ValueError(
                f"{name} has {padded.shape[2]} features per step, but "
                f"{type(self).__name__} was fitted with {self.n_features_in_}."
            )
        padded, lengths = self._resampled(padded, lengths)
        module = self.net_.module_
        if module.scaling.differences:
            check_differences(padded, name=name)
        timesteps = getattr(module.aggregation, "timesteps", None)
        if timesteps is not None:
            steps = _encoder_lengths(lengths, module.frontend.stride)
            check_timesteps(timesteps, steps)
        return padded, lengths

    def _resampled(self, padded, lengths):
        """The sequences at the length the model reads (``resample_length_``)."""
        length = getattr(self, "resample_length_", None)
        if length is None:
            return padded, lengths
        return resample(padded, lengths, length)

    def _check_stepwise(self, what):
        """Refuse per-step outputs where a step's position needs the whole length."""
        length = getattr(self, "resample_length_", None)
        if length is not None:
            raise ValueError(
                f"{what} read each sequence step by step, but this model "
                f"stretches every whole sequence to {length} steps first "
                f"(resample={self.resample!r}), so no step is known before its "
                "sequence ends. Refit with resample='none' to read sequences as "
                "they are."
            )

    def _inference_batching(self):
        """``(sequences, padded steps)`` one inference batch may hold.

        Validates ``inference_batch_size``, which may have been set after
        ``fit``, before any work.
        """
        check_is_fitted(self, "net_")
        name = "inference_batch_size"
        size = getattr(self, name, "auto")
        validate_parameter_constraints(
            {name: self._parameter_constraints[name]},
            {name: size},
            caller_name=type(self).__name__,
        )
        module = self.net_.module_
        size = auto_batch_size(module) if size == "auto" else int(size)
        return size, max(1, MAX_BATCH_VALUES // step_values(module))

    def _validated(self, X):
        """``(lengths, parts)``: ``X`` validated whole, then its parts.

        ``lengths``: every sequence's length, in input order. ``parts``
        yields ``(start, padded, lengths)``; a large input is checked part by
        part first, so bad input is refused before any work, then each part
        is converted again as it is reached (``iter_chunks``).
        """
        check_is_fitted(self, "net_")
        length = getattr(self, "resample_length_", None)
        parts = list(iter_chunks(X, read_length=length))
        if len(parts) == 1:
            padded, lengths = self._check_input(X)
            return lengths, [(0, padded, lengths)]
        lengths = np.concatenate(
            [self._check_input(part, name)[1] for _, part, name in parts]
        )
        return lengths, (
            (start, *self._check_input(part, name)) for start, part, name in parts
        )

    def _run(
        self, batching, parts, compute, collect, per_step=False, long_sequence=None
    ):
        """Apply ``compute`` batch by batch and hand each result to ``collect``.

        ``batching`` is ``_inference_batching()``, validated by the caller
        before any work. ``collect(index, values, step_lengths)`` receives
        the batch's sample indices in ``X``, its result as an array (batch
        first) and, with ``per_step``, each sequence's valid steps in it (a
        per-step result is checked finite here, batch by batch; any other is
        the caller's to check, once). A sequence too long for one batch goes
        to ``long_sequence(module, X, chunk)`` where one is given (to be read
        ``chunk`` steps at a time). See ``_stream``.
        """
        batch_size, max_steps = batching
        module = self.net_.module_
        if module.training:  # the recursive switch costs more than the check
            module.eval()
        stride, device = module.frontend.stride, self.net_.device
        with torch.inference_mode():
            for start, padded, lengths in parts:
                plan = plan_batches(lengths, batch_size, max_steps=max_steps)
                largest = max(len(index) for index in plan)
                with torch_threads(self, batch_size=largest):
                    for index, Xb, Lb in _batches(padded, lengths, plan, device):
                        too_long = lengths[index[-1]] > max_steps  # numpy: no sync
                        if long_sequence is not None and too_long:
                            # A chunk keeps several tensors of its size alive at
                            # once (each block's, the gates', the views): a quarter
                            # of a batch's steps keeps them all within the cap.
                            values = long_sequence(module, Xb, max(1, max_steps // 4))
                        else:
                            values = compute(module, Xb, Lb).cpu().numpy()
                        step_lengths = None
                        if per_step:
                            step_lengths = lengths[index]
                            if per_step != "input":
                                step_lengths = _encoder_lengths(step_lengths, stride)
                            _require_finite(values, start + index, step_lengths)
                        collect(start + index, values, step_lengths)

    def _stream(self, X, compute, *, per_step=False, long_sequence=None):
        """Apply ``compute(module, X, lengths)`` batch by batch, in input order.

        Batches group sequences of similar length (sorted by length, at most
        ``inference_batch_size`` sequences and ``MAX_BATCH_VALUES`` values
        each); only one batch's states exist at a time. A large input is
        validated whole first, then converted part by part (``iter_chunks``),
        so the memory used beyond the input and the result stays bounded
        whatever the number of sequences.

        Parameters
        ----------
        X : sequences
            Input, validated here.
        compute : callable
            ``(module, X_batch, lengths_batch) -> torch.Tensor`` with the
            batch as first dimension.
        per_step : bool or "input", default=False
            The result has a step dimension (second): return a list with each
            sequence's valid steps instead of one array. True: one row per
            encoder step (a window with a front-end); ``"input"``: one per
            input step.
        long_sequence : callable, optional
            ``(module, X_one, chunk) -> ndarray``: what ``compute`` gives on
            one sequence ``(1, n_steps, n_features)``, read ``chunk`` steps
            at a time; used for a sequence longer than a batch may hold, so
            its memory stays bounded too.

        Returns
        -------
        result : ndarray or list of ndarray
        """
        batching = self._inference_batching()  # a bad value: before any work
        lengths, parts = self._validated(X)
        n_samples = len(lengths)
        if per_step:
            counts = lengths
            if per_step != "input":
                counts = _encoder_lengths(lengths, self.net_.module_.frontend.stride)
            step_rows = _StepRows(counts)
            collect = step_rows.collect
        else:
            result = None

            def collect(index, values, step_lengths):
                nonlocal result
                if result is None:
                    result = np.empty((n_samples,) + values.shape[1:], values.dtype)
                result[index] = values

        self._run(batching, parts, compute, collect, per_step, long_sequence)
        if per_step:
            return step_rows.rows()
        # One pass over the whole result, not one call per batch.
        _require_finite(result, np.arange(n_samples))
        return result

    def _long_sequence(self, heads=True):
        """How ``_stream`` reads one sequence too long for a batch.

        Through a stream, chunk by chunk (``nn.streaming.final_outputs``),
        where the model can read series in parts; None (read it whole)
        where it cannot (bidirectional, per-sequence scaling, ``timesteps``
        that depend on the length).
        """
        check_is_fitted(self, "net_")
        module = self.net_.module_
        if not _is_causal(module):
            return None
        try:
            for member in member_networks(module):
                member.aggregation.check_running()
        except ValueError:
            return None

        def read(module, X, chunk):
            return final_outputs(module, X, chunk, heads=heads).cpu().numpy()

        return read

    def _head_outputs(self, X):
        """Every head's output ``(n_samples, n_views, n_outputs)``."""
        return self._stream(
            X,
            lambda module, Xb, lengths: module(Xb, lengths),
            long_sequence=self._long_sequence(),
        )

    def _staged(self, X, combine):
        """Combined head outputs after each step, one array per step.

        ``combine(outputs, mask)`` turns the network's ``staged`` result into
        ``(batch, n_steps, ...)``; everything is computed up front (one pass
        per batch, so errors surface at the call), then yielded step by step.
        A sequence that has ended keeps its final value up to the longest
        sequence's length.
        """
        check_is_fitted(self, "net_")
        self._check_stepwise("Staged outputs")
        batching = self._inference_batching()  # a bad value: before any work
        if not _is_causal(self.net_.module_):
            return _staged_by_prefixes(self, X, combine)

        def compute(module, Xb, lengths):
            return combine(*module.staged(Xb, lengths))

        lengths, parts = self._validated(X)
        batches = []
        self._run(batching, parts, compute, lambda *b: batches.append(b), per_step=True)
        return _held_steps(batches, len(lengths))


def _held_steps(batches, n_samples):
    """Per-step results of every sequence, one array per step, in input order.

    ``batches`` holds ``(index, values, step_lengths)``: sample indices,
    values ``(batch, steps, ...)`` and each sequence's valid steps. A
    sequence that has ended keeps its final value up to the longest
    sequence's length.
    """
    n_steps = max(int(step_lengths.max()) for _, _, step_lengths in batches)
    first = batches[0][1]
    staged = np.empty((n_samples, n_steps) + first.shape[2:], first.dtype)
    steps = np.arange(n_steps)
    for index, values, step_lengths in batches:
        if step_lengths.min() == n_steps:
            staged[index] = values[:, :n_steps]  # no sequence ended early
            continue
        # Each sequence's own last valid step, held to the longest length.
        held = np.minimum(steps, step_lengths[:, None] - 1)
        staged[index] = values[np.arange(len(values))[:, None], held]
    return (staged[:, t] for t in steps)


def _staged_by_prefixes(estimator, X, combine):
    """``InferenceMixin._staged`` for a model whose outputs read the future.

    Every window's prefix of every sequence is read as a sequence of its
    own (see ``PrefixStream``; the windows past a sequence's end all read
    it whole, once). Sequences of one length are read together, since
    their windows and selected steps fall alike. Where the network allows
    (``nn.prefixes.reads_prefixes_once``: the default network does), the
    work its prefixes share is done once per sequence; otherwise each
    prefix is read from scratch.
    """
    all_lengths, parts = estimator._validated(X)
    n_samples = len(all_lengths)
    module = estimator.net_.module_
    frontend, members = module.frontend, member_networks(module)
    batches = []
    shared = reads_prefixes_once(module)
    for start, padded, lengths in parts:
        if shared:
            after = _read_after_windows(estimator, padded, lengths)
        for length in np.unique(lengths).tolist():
            rows = np.flatnonzero(lengths == length)
            starts, stops = _window_spans(frontend, length)
            complete = int((starts + frontend.window <= length).sum())
            ends, repeats = np.unique(stops, return_counts=True)
            mask = torch.cat([
                _views_counted(members, frontend, length, 0, complete),
                _views_counted(members, frontend, length, complete,
                               len(starts) - complete, every=True),
            ], dim=1)
            if shared:
                reads = [(rows, np.stack([after[i][: len(ends)] for i in rows]))]
            else:
                reads = _read_each_prefix(estimator, padded, rows, ends)
            for chunk, read in reads:
                outputs = torch.from_numpy(np.repeat(read, repeats, axis=1))
                values = combine(outputs, mask.expand(len(chunk), -1, -1)).numpy()
                _require_finite(values, start + chunk)
                n_steps = np.full(len(chunk), len(starts))
                batches.append((start + chunk, values, n_steps))
    return _held_steps(batches, n_samples)


def _read_each_prefix(estimator, padded, rows, ends):
    """``(rows, outputs)`` of ``_staged_by_prefixes``, each prefix read alone.

    ``rows`` of ``padded`` are all ``ends[-1]`` long; ``outputs``
    ``(len(rows), len(ends), n_views, n_outputs)`` are read on their prefixes
    up to ``ends``, in groups of at most ``MAX_BATCH_VALUES`` input values.
    """
    length = int(ends[-1])
    kept = np.arange(length) < ends[:, None]  # each prefix's steps
    size = padded.shape[2] * length * len(ends)
    n_chunks = min(len(rows), -(-len(rows) * size // MAX_BATCH_VALUES))
    for chunk in np.array_split(rows, n_chunks):
        prefixes = padded[chunk, None, :length] * kept[None, :, :, None]
        read = _read_prefixes(
            estimator, prefixes.reshape(-1, length, padded.shape[2]),
            np.tile(ends, len(chunk)), length,
        )
        yield chunk, read.reshape((len(chunk), len(ends)) + read.shape[1:])


def _read_after_windows(estimator, padded, lengths):
    """Each sequence's ``outputs_after_windows``, one array per sequence.

    Read in inference batches of similar lengths, as ``_stream`` reads.
    """
    after = [None] * len(lengths)

    def collect(index, values, step_lengths):
        for i, row in zip(index.tolist(), values, strict=True):
            after[i] = row

    batching, parts = estimator._inference_batching(), [(0, padded, lengths)]
    estimator._run(batching, parts, outputs_after_windows, collect)
    return after


def _read_prefixes(estimator, prefixes, ends, length=None):
    """``prefix_outputs`` of each of ``prefixes``, ``(n, n_views, n_outputs)``.

    ``prefixes`` ``(n, n_steps, n_features)`` hold prefixes already checked
    (a prefix may be shorter than a selected step), zero past their
    ``ends``; ``length``: input steps of their whole series, None if unknown.
    """

    def compute(module, Xb, lengths):
        whole = None if length is None else torch.full_like(lengths, length)
        return module.prefix_outputs(Xb, lengths, whole)

    outputs = [None] * len(ends)

    def collect(index, values, step_lengths):
        for i, row in zip(index.tolist(), values, strict=True):
            outputs[i] = row

    parts = [(0, prefixes, ends)]
    estimator._run(estimator._inference_batching(), parts, compute, collect)
    return np.stack(outputs)


def _views_counted(members, frontend, length, start, n_windows, every=False):
    """Which heads count after windows ``start .. start + n_windows - 1``.

    ``(1, n_windows, n_views)`` bool: every head with ``every`` (windows past
    the series' end, which have read it whole), else those whose step has
    been read, as in the staged outputs of a causal model; ``length``, the
    series' input steps, is None while it is not known.
    """
    masks = []
    for member in members:
        views = member.aggregation
        if every:
            masks.append(torch.ones(1, n_windows, views.n_views, dtype=torch.bool))
        elif length is None:
            masks.append(views.running_mask(start, n_windows, 1))
        else:
            whole = frontend.output_lengths(torch.tensor([length]))
            masks.append(views.prefix_mask(whole, start + n_windows)[:, start:])
    return torch.cat(masks, dim=-1)


class PrefixStream:
    """Outputs after each window, for a model whose outputs read the future.

    A bidirectional model, or one scaling each sequence by all its steps,
    has no output that depends on the first steps only. After each encoder
    step this reads the input steps that step has read (up to the end of
    its window) as a sequence of its own, so the output is what ``predict``
    gives on that prefix; heads at selected steps count once the window
    reaches their step, as in the staged outputs of a causal model (see
    ``HiddenStateNetwork.prefix_outputs``). The ``stream()`` of such models,
    with ``StagedStream``'s interface: it keeps every step read and each
    window costs one read of its prefix, so time and memory grow with the
    series. Their staged outputs read the same prefixes, of many sequences
    at once (``_staged_by_prefixes``).

    Parameters
    ----------
    estimator : fitted skhidden estimator with heads

    Raises
    ------
    ValueError
        For selected steps given as fractions or counted from the end, which
        need the length of the whole series.
    """

    def __init__(self, estimator):
        module = estimator.net_.module_
        self._members = member_networks(module)
        for member in self._members:
            member.aggregation.check_running()
        self.estimator = estimator
        self._frontend = module.frontend
        self._parts = []
        self.n_steps = self._n_windows = 0

    def update(self, X):
        """Read the next steps; outputs after each window they complete.

        Parameters
        ----------
        X : torch.Tensor of shape (1, n_steps, n_features)

        Returns
        -------
        outputs : torch.Tensor of shape (1, n_new_windows, n_views, n_outputs)
        mask : torch.Tensor of shape (1, n_new_windows, n_views), bool
            The heads that count after each window (see ``mean_over_views``).
        """
        self._parts.append(X[0].cpu().numpy())
        self.n_steps += X.shape[1]
        starts, _ = _window_spans(self._frontend, self.n_steps)
        complete = starts + self._frontend.window <= self.n_steps
        return self._read((starts + self._frontend.window)[complete][self._n_windows :])

    def finish(self):
        """Outputs after the last windows, which run past the series' end.

        Each of them has read the whole series: ``predict``'s output, read
        once and repeated, every head counting.
        """
        starts, _ = _window_spans(self._frontend, self.n_steps)
        ends = np.full(len(starts) - self._n_windows, self.n_steps)
        return self._read(ends, last=True)

    def _read(self, ends, last=False):
        if len(ends) == 0:
            outputs, mask = no_outputs(self._members, 1)
            return outputs.cpu(), mask.cpu()
        series = np.concatenate(self._parts) if len(self._parts) > 1 else self._parts[0]
        self._parts = [series]
        ends, repeats = np.unique(ends, return_counts=True)
        # Prefixes in groups of at most MAX_BATCH_VALUES input values, so a
        # long series' prefixes are never all held at once.
        group = max(1, MAX_BATCH_VALUES // max(1, series.size))
        outputs = [self._outputs(series, ends[i : i + group])
                   for i in range(0, len(ends), group)]
        outputs = torch.from_numpy(np.repeat(np.concatenate(outputs), repeats, axis=0))
        mask = _views_counted(
            self._members, self._frontend, None, self._n_windows, len(outputs), last
        )
        self._n_windows += len(outputs)
        return outputs[None], mask

    def _outputs(self, series, ends):
        """``prefix_outputs`` of ``series[:end]`` for each of the sorted ``ends``."""
        prefixes = np.zeros((len(ends), ends[-1], series.shape[1]), series.dtype)
        for row, end in enumerate(ends):
            prefixes[row, :end] = series[:end]
        return _read_prefixes(self.estimator, prefixes, ends)
