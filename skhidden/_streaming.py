"""Streaming: score or predict one series chunk by chunk, state carried over.

Defining pieces:

- ``SeriesStream``: what the estimators' ``stream()`` returns.
  ``update(chunk)`` reads the next steps of the series and returns the
  outputs they complete; ``finish()`` returns the rest once the series
  has ended. Together they equal the batch method on the whole series.
- ``StagedStreamMixin``: ``stream()`` of the classifier and the regressor,
  whose outputs are those of ``staged_predict_proba`` / ``staged_predict``.
- ``ScoreStreamMixin``: ``stream()`` of the anomaly detector, whose outputs
  are those of ``score_steps``.

The torch side, which carries the scaling, front-end, recurrent,
aggregation and scoring states, is :mod:`skhidden.nn.streaming`.
"""

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._inference import PrefixStream, _is_causal
from ._threads import torch_threads
from .nn.streaming import ScoreStream, StagedStream
from .sequences import check_differences, check_steps, check_timesteps

__all__ = ["ScoreStreamMixin", "SeriesStream", "StagedStreamMixin"]


class SeriesStream:
    """One series read chunk by chunk, every state of the model carried over.

    Made by ``stream()`` of :class:`HiddenStateClassifier`,
    :class:`HiddenStateRegressor` and :class:`HiddenStateAnomalyDetector`,
    not directly. Each chunk costs time in proportion to its length, and the
    memory kept between chunks does not grow with the series (a window of
    steps, the recurrent and convolutional states and one running value per
    pooling), so a series of any length can be read as it arrives. The
    exception is a classifier or regressor whose outputs read the future
    (bidirectional, per-sequence ``scaling``): its stream keeps the steps
    read and re-reads them up to each new window's end, as its staged
    outputs do.

    The outputs come in order, each once it is final: a step's (or
    window's) output depends on the steps up to it only, so
    concatenating what ``update`` returns with what ``finish`` returns
    gives the batch method's result on the whole series (to float
    rounding, about 1e-6).

    - Classifier, regressor: one row per encoder step, as
      ``staged_predict_proba`` / ``staged_predict`` yield them. Without a
      front-end, a row per input step. With a front-end, a row per window
      (``window`` input steps every ``stride``), returned as soon as the
      window's last input step arrives; chunks that complete no window
      return zero rows. The last windows of a series run past its end and
      read zeros there; ``finish`` returns them.
    - Anomaly detector: one score per input step, as ``score_steps``. A
      step's score is returned once the ``score_span - 1`` steps after it
      (``context_span - 1`` if that is more) are read and, with
      overlapping windows, every window covering it (a stride or two of
      steps more); with ``anomaly_score="forecast"``
      the first steps, which no state forecasts, wait for the first
      forecast step's score. ``finish`` returns the remaining steps.

    After ``finish`` the stream is closed; a new series needs a new
    ``stream()``. A stream can be pickled (with its estimator) between
    chunks and resumed.

    Attributes
    ----------
    n_steps_ : int
        Input steps read so far.
    n_outputs_ : int
        Rows returned so far.
    finished_ : bool
        Whether ``finish`` was called.
    """

    def __init__(self, estimator, torch_stream, combine):
        self.estimator = estimator
        self._stream = torch_stream
        self._combine = combine
        self.n_steps_ = self.n_outputs_ = 0
        self.finished_ = False
        self._last_step = None  # what the next chunk's first difference reads

    def update(self, chunk):
        """Read the next steps of the series; return the outputs they complete.

        Parameters
        ----------
        chunk : array-like of shape (n_steps, n_features) or (n_steps,)
            The steps that follow the ones read before, in order; 1-D for a
            model with one feature. Any number of steps, zero included. It
            is not modified.

        Returns
        -------
        outputs : ndarray
            The rows that became final, in order: ``(n_rows, n_classes)``
            probabilities (classifier), ``(n_rows,)`` or ``(n_rows,
            n_targets)`` predictions (regressor), ``(n_rows,)`` scores
            (anomaly detector). ``n_rows`` may be zero.

        Raises
        ------
        ValueError
            If the stream is finished, or the chunk has the wrong number of
            features or non-finite values, or (``differences=True``) a step
            that differs from the one before by more than float32 holds
            (nothing is read then).
        """
        self._check_open()
        steps = check_steps(chunk, name="chunk")
        n_features = self.estimator.n_features_in_
        if steps.shape[1] != n_features:
            raise ValueError(
                f"chunk has {steps.shape[1]} features per step, but "
                f"{type(self.estimator).__name__} was fitted with {n_features}."
            )
        if len(steps) == 0:
            return self._run(self._empty)
        if self.estimator.net_.module_.scaling.differences:
            joined, first = steps, self.n_steps_
            if self._last_step is not None:
                joined, first = np.concatenate([self._last_step, steps]), first - 1
            check_differences(joined[None], name="chunk", first_step=first)
        X = torch.from_numpy(steps[None]).to(self.estimator.net_.device)
        outputs = self._run(lambda: self._stream.update(X))
        self.n_steps_ += len(steps)
        self._last_step = steps[-1:]
        return outputs

    def finish(self):
        """End the series: return the outputs not returned yet.

        Returns
        -------
        outputs : ndarray
            As ``update``: the last windows' rows (classifier, regressor),
            which read zeros past the series' end as the batch methods do,
            or the last steps' scores (anomaly detector).

        Raises
        ------
        ValueError
            If the stream is finished already or read no step, or (for
            ``aggregation="timesteps"``) the series ended before a selected
            step.
        """
        self._check_open()
        if self.n_steps_ == 0:
            raise ValueError("This stream read no step: update it with a chunk first.")
        module = self.estimator.net_.module_
        timesteps = getattr(module.aggregation, "timesteps", None)
        if timesteps is not None and isinstance(self._stream, StagedStream):
            n_windows = -(-self.n_steps_ // module.frontend.stride)
            check_timesteps(timesteps, np.array([n_windows]))
        outputs = self._run(self._stream.finish)
        self.finished_ = True
        return outputs

    def _check_open(self):
        if self.finished_:
            raise ValueError(
                "This stream is finished: start a new series with stream()."
            )

    def _empty(self):
        return self._stream.update(torch.zeros(1, 0, self.estimator.n_features_in_))

    def _run(self, compute):
        """``compute()`` under inference mode, its result combined to numpy."""
        with torch.inference_mode(), torch_threads(self.estimator):
            result = compute()
            if isinstance(result, tuple):
                outputs = self._combine(*(part.cpu() for part in result))
            else:
                outputs = self._combine(result.cpu())
        if not np.isfinite(outputs).all():
            raise ValueError(
                "The series overflows float32 inside the network (a result is "
                "not finite): its values are too large. Rescale the input, e.g. "
                "with skhidden.SequenceScaler."
            )
        self.n_outputs_ += len(outputs)
        return outputs


def _eval_module(estimator):
    check_is_fitted(estimator, "net_")
    module = estimator.net_.module_
    module.eval()
    return module


class StagedStreamMixin:
    """``stream()`` for estimators with staged outputs.

    The estimator implements ``_combine_stream(outputs, mask)``: the heads'
    outputs of one series ``(1, n_rows, n_views, n_outputs)`` -> its rows.
    """

    def stream(self):
        """Read one series chunk by chunk, with per-step outputs as it arrives.

        ``update(chunk)`` on the returned stream gives the outputs after each
        new encoder step, equal to what :meth:`staged_predict_proba`
        (classifier) or :meth:`staged_predict` (regressor) yields for those
        steps on the whole series; ``finish()`` gives the last windows'. See
        :class:`~skhidden.SeriesStream`.

        A model whose outputs read the future (bidirectional, per-sequence
        ``scaling``) is streamed as its staged outputs are computed: each
        window's row is the prediction on the steps read up to that window's
        end, re-read whole, so the stream keeps the series and each update
        costs time in proportion to the steps read so far.

        Returns
        -------
        stream : SeriesStream

        Raises
        ------
        ValueError
            For a model whose outputs need the whole length (``timesteps``
            with fractions or negative steps; any ``timesteps`` on a model
            reading the future; a resampled model), before any chunk is read.
        """
        module = _eval_module(self)
        self._check_stepwise("Streamed outputs")
        if not _is_causal(module):
            return SeriesStream(self, PrefixStream(self), self._combine_stream)
        return SeriesStream(self, StagedStream(module), self._combine_stream)


class ScoreStreamMixin:
    """``stream()`` for the anomaly detector.

    The estimator implements ``_score_options(raw=False)``: ``(score,
    reference, span, context)`` as ``skhidden.nn.scoring.step_scores``
    takes them (``raw``: unpooled, ``span=1`` and no context).
    """

    def stream(self):
        """Score one series chunk by chunk, as it arrives.

        ``update(chunk)`` on the returned stream gives the scores of the
        input steps that became final, equal to :meth:`score_steps` on the
        whole series; ``finish()`` gives the remaining steps'. Compare them
        with ``threshold_`` to label steps. See :class:`~skhidden.SeriesStream`.

        Returns
        -------
        stream : SeriesStream
        """
        module = _eval_module(self)
        scores = ScoreStream(module, *self._score_options())
        return SeriesStream(self, scores, _one_series)

    def _long_scores(self, module, X, chunk, raw=False):
        """``score_steps`` of one long series ``X`` ``(1, n_steps, n_features)``.

        Read ``chunk`` steps at a time through a ``ScoreStream``, which
        equals the batch computation, so the memory used does not grow with
        the series' length. ``raw``: the scores before pooling.
        """
        scores = ScoreStream(module, *self._score_options(raw=raw))
        parts = [
            scores.update(X[:, i : i + chunk]) for i in range(0, X.shape[1], chunk)
        ]
        return torch.cat([*parts, scores.finish()], dim=1).cpu().numpy()


def _one_series(scores):
    """The scores of the stream's only series, as numpy."""
    return scores[0].numpy()
