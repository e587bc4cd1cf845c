"""Inference: apply the fitted network to sequences, streaming.

Defining pieces:

- ``InferenceMixin``: ``_check_input`` (validate ``X`` for the fitted
  model), ``_stream`` (apply a computation batch by batch over
  length-sorted batches, a large input part by part), ``_head_outputs``
  (what predictions are made of) and ``_staged`` (outputs after each step).
- ``_encoder_lengths``: recurrent steps per sequence behind a front-end.
"""

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from skorch.dataset import Dataset
from skorch.utils import to_tensor

from ._threads import torch_threads
from ._training import SequenceBatches
from .sequences import check_sequences, check_timesteps, iter_chunks, unpad

__all__ = ["InferenceMixin"]


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
        per_step : bool or "input", default=False
            The result has a step dimension (second): return a list with each
            sequence's valid steps instead of one array. True: one row per
            encoder step (a window with a front-end); ``"input"``: one per
            input step.

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
        with torch.inference_mode(), torch_threads(self):
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
                        step_lengths = lengths[index]
                        if per_step != "input":
                            stride = module.frontend.stride
                            step_lengths = _encoder_lengths(step_lengths, stride)
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
