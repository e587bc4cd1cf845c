"""``HiddenStateAnomalyDetector``: per-step anomaly scores from every hidden state.

Defining pieces:

- ``HiddenStateAnomalyDetector``: trained without labels to forecast each
  next input step (or window) from the state before it; scores every input
  step (``score_steps``), labels steps (``predict_steps``) and, per
  sequence, follows scikit-learn's outlier API (``score_samples``,
  ``decision_function``, ``predict``).
- ``_segments``: long training sequences cut into training segments.
- ``_state_statistics``: the training states' mean and regularised inverse
  covariance, for ``anomaly_score="distance"``.
- ``_training_state_bank``: training states kept for
  ``anomaly_score="nearest"``; ``_training_scores``: the training steps'
  raw (unpooled) scores, from which ``_pooled_training_scores`` sets the
  context's scales and the steps' pooled scores that set the thresholds.

The torch side (the scores per input step of a batch) is
:mod:`skhidden.nn.scoring`.
"""

import numbers
from functools import partial

import numpy as np
import torch
from sklearn.base import OutlierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import BaseHiddenState
from ._docstrings import fill_parameters
from ._inference import _encoder_lengths
from ._registry import register_estimator
from ._streaming import ScoreStreamMixin
from .nn.losses import NextStepLoss
from .nn.scaling import PER_SEQUENCE
from .nn.scoring import (
    SCORES,
    future_max,
    future_mean,
    nearest_distances,
    pool_steps,
    state_moments,
    state_step_scores,
    step_scores,
)
from .sequences import check_sequences

__all__ = ["HiddenStateAnomalyDetector"]

# Ridge added to the states' covariance, relative to its mean variance: keeps
# the inverse finite when states are constant or collinear.
_RIDGE = 1e-3

# context_span: the quantile of the training steps' scores that divides each
# of the two pooled scores, so the capped mean can reach the highest score's
# level of its 99th percentile and no further.
_SCALE_QUANTILE = 0.99

# Training states kept for anomaly_score="nearest": bounds its memory and the
# cost of scoring a step.
_BANK_SIZE = 4096

# A held-out training state skips the states of its own sequence closer than
# segment_length / 4, as a matrix profile skips a quarter of its subsequence
# length. A whole segment skipped the neighbouring periods of a periodic
# series, the states a new normal step finds: on kdd_tsad_135 (period 183)
# threshold_ sat above every test score.
_EXCLUSION_DENOMINATOR = 4

_NOT_A_DETECTOR_PARAMETER = (
    "aggregation", "timesteps", "n_networks", "differences", "resample", "warp"
)
_SHARED_CONSTRAINTS = {
    k: v
    for k, v in BaseHiddenState._parameter_constraints.items()
    if k not in _NOT_A_DETECTOR_PARAMETER
}


def _segments(padded, lengths, segment_length):
    """Each sequence cut into consecutive pieces of ``segment_length`` steps.

    The last piece keeps what is left (at least 2 steps, or the whole
    sequence if it is shorter): a single step has nothing to forecast.
    """
    if segment_length is None:
        return [padded[i, :length] for i, length in enumerate(lengths)]
    pieces = []
    for sequence, length in zip(padded, lengths, strict=True):
        for start in range(0, length, segment_length):
            stop = min(start + segment_length, length)
            if stop - start >= 2 or start == 0:
                pieces.append(sequence[start:stop])
    return pieces


def _state_statistics(total, n_states):
    """Mean and inverse covariance of the states from summed moments.

    ``total`` holds the sums ``nn.scoring.state_moments`` gives, over all
    training batches; ``n_states`` is the number of states they sum over.
    """
    size = int(round((np.sqrt(1 + 4 * total.size) - 1) / 2))
    mean = total[:size] / n_states
    covariance = total[size:].reshape(size, size) / n_states - np.outer(mean, mean)
    covariance = (covariance + covariance.T) / 2
    ridge = _RIDGE * max(np.trace(covariance) / size, 0.0) + 1e-6
    precision = np.linalg.inv(covariance + ridge * np.eye(size))
    return mean.astype(np.float32), precision.astype(np.float32)


def _training_state_statistics(detector, X, lengths):
    """``(state_mean_, state_precision_)`` of a fitted detector's training states.

    The moments are summed batch by batch, so memory stays bounded
    whatever the number of sequences.
    """
    totals = []

    def compute(module, Xb, lengths):
        totals.append(state_moments(module, Xb, lengths).cpu())
        return lengths[:, None].to(torch.float32)  # what _stream collects

    detector._stream(X, compute)
    total = torch.stack(totals).sum(dim=0).numpy()
    if not np.isfinite(total).all():
        raise ValueError(
            "The training states' moments overflow: the input values are too "
            "large. Rescale the input, e.g. with skhidden.SequenceScaler."
        )
    stride = detector.net_.module_.frontend.stride
    n_states = int(_encoder_lengths(np.asarray(lengths), stride).sum())
    return _state_statistics(total, n_states)


def _each_state_batch(detector, X, collect):
    """Hand each inference batch's states to ``collect``.

    It is called as ``collect(index, states, step_lengths)``.

    ``index``: the batch's sequences in ``X``; ``states``: their hidden
    states ``(batch, n_windows, state_size)``; ``step_lengths``: their valid
    encoder steps.
    """
    _, parts = detector._validated(X)
    detector._run(
        detector._inference_batching(),
        parts,
        lambda module, Xb, lengths: module.hidden_states(Xb, lengths),
        collect,
        per_step=True,
    )


def _training_state_bank(detector, X, lengths):
    """``(state_mean_, state_scale_, state_bank_)`` of a fitted detector.

    The bank keeps every k-th training state, counted over the sequences in
    order, so that at most ``_BANK_SIZE`` remain whatever the number of
    sequences and which states they are does not depend on how inference
    batches them; it is standardised per feature by its own mean and spread
    (the variance ridged as for ``"distance"``).
    """
    stride = detector.net_.module_.frontend.stride
    counts = _encoder_lengths(np.asarray(lengths), stride)
    places = np.concatenate([[0], np.cumsum(counts)[:-1]])
    every = -(-int(counts.sum()) // _BANK_SIZE)
    kept = []

    def collect(index, states, step_lengths):
        for row, i in enumerate(index):
            place = places[i] + np.arange(step_lengths[row])
            take = place % every == 0
            kept.append((place[take], states[row, : step_lengths[row]][take]))

    _each_state_batch(detector, X, collect)
    order = np.argsort(np.concatenate([place for place, _ in kept]))
    bank = np.concatenate([states for _, states in kept])[order].astype(np.float64)
    mean, variance = bank.mean(axis=0), bank.var(axis=0)
    scale = np.sqrt(variance + _RIDGE * variance.mean() + 1e-12)
    return tuple(a.astype(np.float32) for a in (mean, scale, (bank - mean) / scale))


def _training_scores(detector, X, lengths):
    """The training steps' raw scores (before pooling), one array a sequence.

    Unpooled ``score_steps`` of the training sequences, except under
    ``"nearest"``: a
    training state is in the bank or next to a state that is, so its own
    distance says nothing of how far a new normal state lies. There each
    state is measured against the bank states of other sequences and of its
    own sequence at least a quarter of ``segment_length`` input steps away
    (with None, other sequences only), and takes its nearest of all only
    where no bank state is that far.
    """
    if detector.anomaly_score != "nearest":
        return detector._scores(X, raw=True)
    frontend = detector.net_.module_.frontend
    counts = _encoder_lengths(np.asarray(lengths), frontend.stride)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    every = -(-int(counts.sum()) // _BANK_SIZE)  # as _training_state_bank keeps
    places = np.arange(len(detector.state_bank_)) * every
    owner = np.searchsorted(starts, places, side="right") - 1
    position = torch.as_tensor(places - starts[owner])
    owner = torch.as_tensor(owner)
    span = detector.segment_length
    reach = np.inf if span is None else span / _EXCLUSION_DENOMINATOR / frontend.stride
    reference = [torch.as_tensor(vars(detector)[name]) for name in _NEAREST]
    scores = [None] * len(lengths)

    def collect(index, states, step_lengths):
        n_windows = states.shape[1]
        sequence = torch.as_tensor(index).repeat_interleave(n_windows)
        step = torch.arange(n_windows).repeat(len(index))

        def excluded(start, stop):
            same = sequence[start:stop, None] == owner
            return same & ((step[start:stop, None] - position).abs() < reach)

        distances = nearest_distances(torch.as_tensor(states), *reference, excluded)
        steps = state_step_scores(
            distances, frontend, torch.as_tensor(lengths[index]),
            int(lengths[index].max()), 1,
        )
        for row, i in enumerate(index):
            scores[i] = steps[row, : lengths[i]].numpy()

    _each_state_batch(detector, X, collect)
    return scores


def _pooled_training_scores(detector, raw):
    """The training steps' pooled scores, and the context's scales.

    Parameters
    ----------
    detector : HiddenStateAnomalyDetector
    raw : list of ndarray
        ``_training_scores``.

    Returns
    -------
    scores : list of ndarray
        Each training sequence's scores, as ``score_steps`` pools them.
    scales : ndarray of shape (2,), float32, or None
        Without ``context_span``, None. Else the ``_SCALE_QUANTILE`` of the
        training steps' highest (over ``score_span``) and mean (over
        ``context_span``) scores; 1 where that is not positive (no training
        step scores above 0), so a scale never divides by 0.
    """
    raw = [torch.as_tensor(r, dtype=torch.float32)[None] for r in raw]
    lengths = [torch.tensor([r.shape[1]]) for r in raw]
    span, context_span = detector.score_span, detector.context_span
    if context_span is None:
        pooled = [pool_steps(r, n, span) for r, n in zip(raw, lengths, strict=True)]
        return [p[0].numpy() for p in pooled], None
    scales = []
    for pool, pool_span in ((future_max, span), (future_mean, context_span)):
        steps = [pool(r, n, pool_span)[0] for r, n in zip(raw, lengths, strict=True)]
        scales.append(float(np.quantile(torch.cat(steps).numpy(), _SCALE_QUANTILE)))
    scales = np.array([s if s > 0 else 1.0 for s in scales], dtype=np.float32)
    context = (context_span, torch.from_numpy(scales))
    pooled = [
        pool_steps(r, n, span, context) for r, n in zip(raw, lengths, strict=True)
    ]
    return [p[0].numpy() for p in pooled], scales


def _check_causal(detector):
    """Refuse the settings under which a step's score would read its future."""
    if detector.bidirectional:
        raise ValueError(
            "HiddenStateAnomalyDetector needs a causal model, but "
            "bidirectional=True reads every sequence backwards too: a step's "
            "score would depend on every step after it. Use bidirectional=False."
        )
    if detector.scaling in PER_SEQUENCE:
        raise ValueError(
            f"HiddenStateAnomalyDetector needs a causal model, but "
            f"scaling={detector.scaling!r} standardises each sequence with "
            "statistics of all its steps: a step's score would depend on every "
            "step after it. Use scaling='feature', 'feature_running' or 'none'."
        )


_NEAREST = ("state_mean_", "state_scale_", "state_bank_")
# The fitted attributes each state-based score reads (in the order
# nn.scoring.state_scores takes them) and what computes them at fit.
_STATE_REFERENCE = {
    "distance": (("state_mean_", "state_precision_"), _training_state_statistics),
    "nearest": (_NEAREST, _training_state_bank),
}


def _normality(step_scores):
    """Each sequence's normality: minus its highest step score."""
    return -np.array([s.max() for s in step_scores], dtype=np.float64)


def _outlier_labels(decision):
    return np.where(decision < 0, -1, 1)


class StepScoreOutlierMixin:
    """scikit-learn's outlier API per sequence, from per-step scores.

    For an estimator with ``score_steps(X)`` (one score per input step,
    higher = more anomalous): step labels against ``threshold_`` and, per
    sequence, ``score_samples`` (minus the highest step score),
    ``decision_function`` and ``predict``. ``_set_thresholds`` sets
    ``threshold_`` and ``offset_`` from the training scores and
    ``contamination``; ``_fit_training_scores(X)`` fits, sets them and
    returns those scores.
    """

    def _set_thresholds(self, scores):
        steps = np.concatenate(scores)
        self.threshold_ = float(np.quantile(steps, 1 - self.contamination))
        self.offset_ = float(np.quantile(_normality(scores), self.contamination))

    def predict_steps(self, X):
        """Label every input step: 1 if its score exceeds ``threshold_``, else 0.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any layout ``fit`` accepts.

        Returns
        -------
        labels : list of ndarray of shape (n_timesteps_i,), int64
        """
        return [(s > self.threshold_).astype(np.int64) for s in self.score_steps(X)]

    def score_samples(self, X):
        """Normality of each sequence: minus its highest step score.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any layout ``fit`` accepts.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Higher = more normal.
        """
        return _normality(self.score_steps(X))

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any layout ``fit`` accepts.

        Returns
        -------
        decision : ndarray of shape (n_samples,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Whether each sequence is an inlier (+1) or an outlier (-1).

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any layout ``fit`` accepts.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            -1 where ``decision_function`` is negative, else +1.
        """
        return _outlier_labels(self.decision_function(X))

    def fit_predict(self, X, y=None):
        """Fit, then label the training sequences: +1 inlier, -1 outlier.

        The labels come from the training scores that set ``offset_``, so
        about ``contamination`` of the sequences are outliers, as with
        scikit-learn's ``IsolationForest`` and ``LocalOutlierFactor``. Under
        ``anomaly_score="nearest"`` those scores measure each training state
        away from itself; ``fit(X).predict(X)`` would find every training
        state in the bank and call every sequence an inlier.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any layout ``fit`` accepts.
        y : None
            Ignored.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        scores = self._fit_training_scores(X)
        return _outlier_labels(_normality(scores) - self.offset_)


class StepScoresMixin:
    """``score_steps`` of a fitted detector, pooled as its parameters say.

    Batch and streamed scores (``ScoreStreamMixin``) share
    ``_score_options``; ``_scores(X, raw=True)`` gives the unpooled scores
    from which ``fit`` sets the pooling's scales.
    """

    def score_steps(self, X):
        """Anomaly score of every input step, higher = more anomalous.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any layout ``fit`` accepts.

        Returns
        -------
        scores : list of ndarray of shape (n_timesteps_i,)
            One float32 array per sequence, finite at every step (see
            ``anomaly_score`` for the first steps).
        """
        check_is_fitted(self, "net_")
        return self._scores(X)

    def _scores(self, X, raw=False):
        """``score_steps``; ``raw``: before pooling, each step's own windows'."""
        score, reference, span, context = self._score_options(raw=raw)
        steps = partial(
            step_scores, score=score, reference=reference, span=span, context=context
        )
        long_sequence = partial(self._long_scores, raw=raw)
        return self._stream(X, steps, per_step="input", long_sequence=long_sequence)

    def _score_options(self, raw=False):
        """``(score, reference, span, context)`` for ``nn.scoring.step_scores``.

        ``raw``: unpooled (``span=1``, no context).
        """
        names = _STATE_REFERENCE.get(self.anomaly_score, ((), None))[0]
        device = self.net_.device
        reference = tuple(torch.as_tensor(vars(self)[n], device=device) for n in names)
        if raw:
            return self.anomaly_score, reference or None, 1, None
        scales = getattr(self, "score_scales_", None)  # None: fitted without context
        context = None
        if scales is not None and self.context_span is not None:
            context = (self.context_span, torch.as_tensor(scales, device=device))
        return self.anomaly_score, reference or None, self.score_span, context


@register_estimator
@fill_parameters(
    {
        "dropout": """
            Dropout between layers.
        """,
        "bidirectional": """
            Must stay False: a backward state reads the future of its step.
        """,
        "layers": """
            States measured by ``anomaly_score="distance"`` or ``"nearest"`` (and
            returned by ``hidden_states``): the top layer's, or all layers'
            concatenated.
        """,
        "states": """
            States measured by ``anomaly_score="distance"`` or ``"nearest"``: the
            recurrent states, or (``"both"``) those with the front-end's features
            of the same window, so a window is matched by its own shape as well as
            by what the recurrence has read before it (mean VUS-PR 0.563 against
            0.544 with the recurrent states alone, tuning series of
            ``benchmarks/anomaly.py``, 4 seeds).
        """,
        "frontend": """
            How input steps become recurrent steps (see
            :class:`HiddenStateClassifier`); the scores are per input step whatever
            the front-end. The default reads windows of 8 steps, 4 apart, through
            the residual convolutions (mean VUS-PR 0.563 against 0.491 for the raw
            steps, ``frontend="none", states="recurrent"``, the default until
            2026-12-06, on the same series and seeds).
        """,
        "scaling": """
            Input standardisation inside the network (see
            :class:`HiddenStateClassifier`). ``"sequence"``, ``"sequence_level"``
            and ``"feature_sequence"`` read whole sequences and are refused.
        """,
        "batch_size": """
            Sequences (segments) per training batch.
        """,
        "crop": """
            Training augmentation: below 1, every epoch each training segment is
            read as a random contiguous window of ``ceil(crop * length)`` steps.
        """,
        "early_stopping": """
            Hold out ``validation_fraction`` of the segments, stop after
            ``patience`` epochs without improvement and keep the best weights.
        """,
        "validation_fraction": """
            Share of the segments held out for early stopping.
        """,
    }
)
class HiddenStateAnomalyDetector(
    ScoreStreamMixin, StepScoresMixin, StepScoreOutlierMixin, OutlierMixin,
    BaseHiddenState,
):
    """Anomaly scores at every step of a series, from the recurrent states.

    ``fit(X)`` trains the network without labels, on (mostly) normal
    sequences: the state after each window of input steps forecasts the next
    window. ``score_steps`` then gives every input step a score, higher =
    more anomalous: by default the distance of the states of the windows
    covering that step (the recurrent state with the window's convolutional
    features) to the nearest training state (a matrix profile over hidden
    states), so a short anomaly that a summary of the whole sequence would
    average away still stands out where it happens. One long series is a
    list holding one ``(n_timesteps, n_features)`` array; it is trained on in
    segments (``segment_length``) and scored whole.

    A step's score reads the steps up to its own and the
    ``max(score_span, context_span) - 1`` after it (with a front-end, to the
    end of the last window among them),
    no further (the network is causal): bidirectional models and the
    per-sequence scalings that read whole sequences are refused.

    Parameters
    ----------
    anomaly_score : {"nearest", "forecast", "distance"}, default="nearest"
        How the states make a step's score. ``"nearest"``: the Euclidean
        distance of the step's state to the nearest of up to 4096 training
        states (every k-th), each feature standardised by theirs.
        ``"forecast"``: the squared error of the forecast of the step from the
        previous state (the first step, or the first window's stride of steps
        with a front-end, is forecast by no state and takes the score of the
        first forecast step, so only those scores read a later step; a
        sequence of a single encoder step scores 0). ``"distance"``: the
        squared Mahalanobis distance of the step's state to the training
        states (their mean and covariance, with a small ridge), divided by
        the state size. With a front-end, a window's score is measured at each
        input step it covers and a step's score is the mean over the windows
        that cover it. Compared in ``benchmarks/results/anomaly.md``.
    contamination : float in (0, 0.5], default=0.01
        Expected share of anomalies in the training data: ``threshold_`` is
        the ``1 - contamination`` quantile of the training steps' scores and
        ``offset_`` the ``contamination`` quantile of the training
        sequences' ``score_samples``.
    segment_length : int or None, default=256
        Training sequences longer than this are cut into consecutive segments
        of this many input steps (the rest kept if at least 2 steps), so one
        long series gives many training sequences per epoch; the recurrent
        state starts afresh at each segment. None trains on whole sequences.
        Scoring always reads whole sequences.
    score_span : int, default=32
        A step's score is the highest raw score (``anomaly_score``'s) of it
        and the ``score_span - 1`` steps after it, the states that have read
        it: raw scores peak late in an anomaly or after it, as the recurrence
        takes it in, and pooling ahead gives the whole anomaly that peak (1:
        raw scores). ``stream()`` returns each score ``score_span - 1`` late.
    context_span : int or None, default=128
        Beside that highest score, the mean raw score of the step and the
        ``context_span - 1`` steps after it, which lifts the steps of long
        anomalies (a whole odd instance of hundreds of steps reads as many
        windows each a little off). Each of the two is divided by its
        training steps' 99th percentile (``score_scales_``), the mean is
        capped at 1, and a step scores the larger: the mean can lift a step
        above most normal steps but not above a short anomaly's peak, so
        the top-scored step stays where the highest score puts it. None:
        the highest score alone, unscaled. ``stream()`` returns each score
        ``max(score_span, context_span) - 1`` steps late.
    %(shared_parameters)s
    Attributes
    ----------
    n_features_in_ : int
        Features per step seen in ``fit``.
    scaling_ : str
        The input scaling used: ``scaling``, or what ``"auto"`` chose.
    max_epochs_ : int
        The training epochs: ``max_epochs``, or what ``"auto"`` chose.
    threshold_ : float
        Step scores above it are anomalies (``predict_steps``); under
        ``"nearest"`` from each training state measured against those of other
        sequences and of its own a quarter of ``segment_length`` or more away.
    offset_ : float
        ``decision_function = score_samples - offset_``; a sequence whose
        decision is negative is an outlier (``predict``).
    state_mean_ : ndarray of shape (state_size,)
        Mean training state; ``anomaly_score="distance"`` or ``"nearest"``.
    state_precision_ : ndarray of shape (state_size, state_size)
        Inverse training-state covariance (ridged); ``"distance"`` only.
    state_scale_, state_bank_ : ndarray of shape (state_size,), (n_bank, state_size)
        Training states' spread and the standardised states kept; ``"nearest"``.
    score_scales_ : ndarray of shape (2,) or None
        With ``context_span``: the 99th percentiles of the training steps'
        highest and mean scores that divide them (1 where not positive);
        None without.
    net_ : skorch.NeuralNet
        The trained net.
    history_ : skorch.callbacks.History
        Per-epoch training record.
    device_ : str
        The device the weights are on.

    See Also
    --------
    HiddenStateTransformer : The same self-supervised training, as features.

    Examples
    --------
    >>> import numpy as np
    >>> from skhidden import HiddenStateAnomalyDetector
    >>> t = np.arange(600, dtype="float32")
    >>> series = np.sin(2 * np.pi * t / 25)[:, None]
    >>> detector = HiddenStateAnomalyDetector(
    ...     hidden_size=8, max_epochs=2, segment_length=100, random_state=0
    ... ).fit([series])
    >>> scores = detector.score_steps([series])
    >>> len(scores), scores[0].shape
    (1, (600,))
    """

    _parameter_constraints = {
        **_SHARED_CONSTRAINTS,
        "anomaly_score": [StrOptions(set(SCORES))],
        "contamination": [Interval(numbers.Real, 0, 0.5, closed="right")],
        "segment_length": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "score_span": [Interval(numbers.Integral, 1, None, closed="left")],
        "context_span": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }
    # Fixed: structure the scores never read, the time axis, unmeasured inputs.
    aggregation, timesteps, n_networks, differences = "mean", None, 1, False
    resample, warp = "none", 0.0  # a score per input step reads each as it is

    def __init__(
        self,
        *,
        anomaly_score="nearest",
        contamination=0.01,
        segment_length=256,
        score_span=32,
        context_span=128,
        cell="gru",
        hidden_size=64,
        num_layers=1,
        bidirectional=False,
        dropout=0.0,
        layers="last",
        states="both",
        frontend="resnet",
        frontend_window=8,
        frontend_scales=(1,),
        scaling="feature",
        max_epochs=100,
        batch_size=32,
        inference_batch_size="auto",
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
        self.anomaly_score = anomaly_score
        self.contamination = contamination
        self.segment_length = segment_length
        self.score_span = score_span
        self.context_span = context_span
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.layers = layers
        self.states = states
        self.frontend = frontend
        self.frontend_window = frontend_window
        self.frontend_scales = frontend_scales
        self.scaling = scaling
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.inference_batch_size = inference_batch_size
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

    def _prepare_targets(self, y, padded):
        return padded, padded.shape[2], NextStepLoss(), False

    def _network_params(self):
        return {"objective": "next_step"}

    def fit(self, X, y=None):
        """Train on (mostly) normal sequences and set the thresholds.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or \
                (n_samples, n_timesteps), or list of array-like
            Sequences, as for :meth:`HiddenStateClassifier.fit`; one long
            series is a list holding one ``(n_timesteps, n_features)`` array.
        y : None
            Ignored: training needs no labels.

        Returns
        -------
        self : HiddenStateAnomalyDetector
        """
        self._fit_training_scores(X)
        return self

    def _fit_training_scores(self, X):
        """Train, set the thresholds and return the training steps' scores."""
        self._validate_params()
        _check_causal(self)
        padded, lengths = check_sequences(X)
        for name in {n for names, _ in _STATE_REFERENCE.values() for n in names}:
            vars(self).pop(name, None)
        self._fit(_segments(padded, lengths, self.segment_length), None)
        X = [padded[i, :length] for i, length in enumerate(lengths)]
        if self.anomaly_score in _STATE_REFERENCE:
            names, measure = _STATE_REFERENCE[self.anomaly_score]
            vars(self).update(zip(names, measure(self, X, lengths), strict=True))
        scores, self.score_scales_ = _pooled_training_scores(
            self, _training_scores(self, X, lengths)
        )
        self._set_thresholds(scores)
        return scores

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags
