"""Metrics for per-step anomaly scores, and scorers for ``GridSearchCV``.

numpy and scikit-learn only. Defining pieces:

- ``vus_pr``: the volume under the range-based precision-recall surface
  (VUS-PR, Paparrizos et al., 2022), the main measure of TSB-UAD / TSB-AD;
  computed as aeon 1.6.0's ``range_pr_vus_score`` computes it (see its
  docstring for where TSB-AD's own code differs), vectorised over the
  thresholds.
- ``ucr_score``: 1 if the highest score falls within ``tolerance`` steps of
  a labelled anomaly, the UCR anomaly archive's measure.
- ``StepScorer`` (``make_step_scorer``, ``make_vus_pr_scorer``,
  ``vus_pr_scorer``, ``ucr_scorer``): a scorer that calls
  ``score_steps(X)`` of a fitted detector and averages a per-series metric
  over the series, with ``y`` one 0/1 label array per series.

Why not ``sklearn.metrics.make_scorer``: its scorers call ``predict``,
``predict_proba`` or ``decision_function``, which give one value per
sequence, and pass the result with ``y`` to the metric in one call. A
per-step metric needs ``score_steps`` (one array per sequence, each as long
as its sequence) and one call per series.
"""

import numbers
import warnings

import numpy as np
from sklearn.pipeline import Pipeline

__all__ = [
    "StepScorer",
    "make_step_scorer",
    "make_vus_pr_scorer",
    "ucr_score",
    "ucr_scorer",
    "vus_pr",
    "vus_pr_scorer",
]

# Thresholds sampled from the sorted scores, as TSB-UAD and aeon sample them.
N_THRESHOLDS = 250


def _check_series(y_true, scores, name):
    """``(labels, scores)`` of one series as int64 / float64 copies, checked."""
    labels = np.asarray(y_true)
    values = np.asarray(scores)
    if labels.dtype == object:  # a row of an object array of label arrays
        try:
            labels = labels.astype(np.float64)
        except (TypeError, ValueError):
            pass  # refused below, with the values shown
    if labels.ndim != 1 or values.ndim != 1:
        raise ValueError(
            f"{name} takes one series: y_true and scores must be 1-D, one value "
            f"per step; got shapes {labels.shape} and {values.shape}. For several "
            "series call it once per series, or use a scorer of skhidden.metrics."
        )
    if len(labels) != len(values):
        raise ValueError(
            f"{name}: y_true has {len(labels)} steps but scores has {len(values)}; "
            "give one label and one score per step of the same series."
        )
    if len(labels) == 0:
        raise ValueError(f"{name}: the series is empty.")
    if values.dtype.kind not in "biuf":
        raise ValueError(
            f"{name}: scores must be numbers; got an array of dtype {values.dtype}."
        )
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(
            f"{name}: scores must be finite; step {bad} is {values[bad]}. Replace "
            "NaN or inf (e.g. with the highest finite score) before scoring."
        )
    if labels.dtype.kind not in "biuf" or not np.isin(labels, (0, 1)).all():
        raise ValueError(
            f"{name}: y_true must hold 0 (normal) and 1 (anomalous) only; got "
            f"values {np.unique(labels)[:5].tolist()}."
        )
    return labels.astype(np.int64), values


def _anomaly_ranges(labels):
    """``(starts, stops)`` of the runs of 1 in ``labels``; ``stops`` exclusive."""
    edges = np.diff(np.concatenate([[0], labels, [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _check_count(value, name, what):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} must be an int >= 0; got {name}={value!r}.")
    return int(value)


def _buffered_labels(labels, positions, starts, last, buffer_size):
    """The labels at ``positions`` with each anomaly's slopes of ``buffer_size``.

    As TSB-UAD's ``extend_postive_range`` and aeon: for ``buffer_size >= 2``,
    ``h = buffer_size // 2`` steps before each anomaly's first step rise as
    ``sqrt(1 - j / buffer_size)`` (``j`` steps before it) and the steps from
    its last one on fall the same way for ``h`` steps (the first of them is
    the anomaly's own last step, which stays 1); overlapping slopes add up
    and everything is clipped to 1.
    """
    values = labels[positions].astype(np.float64)
    if buffer_size < 2:
        return values
    half, n_steps = buffer_size // 2, len(labels)
    after = np.arange(half)
    before = np.arange(1, half + 1)
    steps = np.concatenate(
        [(last[:, None] + after).ravel(), (starts[:, None] - before).ravel()]
    )
    slope = np.sqrt(1 - np.concatenate([after, before]) / buffer_size)
    slope = np.concatenate(
        [np.tile(slope[:half], len(last)), np.tile(slope[half:], len(starts))]
    )
    inside = (steps >= 0) & (steps < n_steps)
    np.add.at(values, np.searchsorted(positions, steps[inside]), slope[inside])
    return np.minimum(values, 1.0)


def _range_pr_auc(labels, weights, positions, first_threshold, n_predicted):
    """Area under the range-based PR curve for one buffer size.

    ``weights`` are the buffered labels at ``positions`` (every step where
    they can be non-zero); ``first_threshold[i]`` is the index of the first
    (highest) threshold at which step ``positions[i]`` is predicted.
    """
    n_thresholds = len(n_predicted)
    positive = weights > 0
    where, weight = positions[positive], weights[positive]
    first = first_threshold[positive]
    # True positives per threshold: the buffered labels of the steps predicted.
    hits = np.bincount(first, weights=weight, minlength=n_thresholds + 1)
    true_positives = np.cumsum(hits[:n_thresholds])
    # Existence reward: the share of buffered ranges with a predicted step.
    range_starts = np.concatenate([[0], np.flatnonzero(np.diff(where) > 1) + 1])
    range_first = np.sort(np.minimum.reduceat(first, range_starts))
    found = np.searchsorted(range_first, np.arange(n_thresholds), side="right")
    existence = found / len(range_starts)
    positives = (labels.sum() + weights.sum()) / 2
    recall = np.minimum(true_positives / positives, 1.0) * existence
    precision = true_positives / n_predicted
    widths = np.diff(np.concatenate([[0.0], recall]))
    heights = (precision + np.concatenate([[1.0], precision[:-1]])) / 2
    return float(np.dot(widths, heights))


def vus_pr(y_true, scores, *, window=100):
    """Volume under the range-based precision-recall surface (VUS-PR).

    The range-based PR curve (Paparrizos et al., 2022) credits a score for
    landing near a labelled anomaly, not only on it: each anomaly gets
    slopes of ``b // 2`` steps on both sides whose labels fall from 1 as
    ``sqrt(1 - d / b)`` at distance ``d``; recall is the (buffered) share of
    anomaly found times the share of anomalies touched at all. For each
    buffer size ``b`` in ``0, 1, ..., window`` the area under that curve is
    taken over 250 thresholds sampled evenly from the sorted scores (with a
    trapezoid from the point recall 0, precision 1); VUS-PR is the mean of
    the ``window + 1`` areas. 1 is perfect; a random score gets about the
    share of anomalous steps.

    This is aeon 1.6.0's ``range_pr_vus_score(y_true, scores,
    max_buffer_size=window)``, to float rounding (checked by the tests).
    TSB-AD 1.5's own ``VUS_PR`` (``RangeAUC_volume_opt``) differs in three
    details: it adds the falling slope after an anomaly's last step (one
    step longer), counts the buffer of an anomaly in the positives only
    where it is predicted, and sums precision steps instead of trapezoids.

    Parameters
    ----------
    y_true : array-like of shape (n_timesteps,)
        1 for a labelled anomalous step, 0 for a normal one; at least one 1.
    scores : array-like of shape (n_timesteps,)
        Anomaly score of every step, higher = more anomalous; finite.
    window : int, default=100
        The largest buffer size (TSB-AD's ``slidingWindow``, whose default
        is 100; aeon's ``max_buffer_size``, whose default is 500). A
        dataset's period is a common choice.

    Returns
    -------
    score : float
        In [0, 1]. A constant ``scores`` ranks nothing: it gets 0.0, with a
        warning, as in aeon.

    Raises
    ------
    ValueError
        If the lengths differ, a label is not 0 or 1, a score is not finite,
        ``window`` is not an int >= 0, or no step is labelled anomalous (the
        recall is then undefined; aeon returns NaN).

    See Also
    --------
    ucr_score : Whether the single highest score hits an anomaly.
    make_vus_pr_scorer : VUS-PR as a scorer for ``GridSearchCV``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhidden.metrics import vus_pr
    >>> labels = np.zeros(200, dtype=int)
    >>> labels[100:110] = 1
    >>> vus_pr(labels, labels.astype(float), window=0)
    1.0
    >>> late = np.roll(labels, 20).astype(float)  # 20 steps late
    >>> [round(vus_pr(labels, late, window=w), 3) for w in (0, 50)]
    [0.025, 0.257]
    """
    labels, values = _check_series(y_true, scores, "vus_pr")
    window = _check_count(window, "window", "vus_pr's window")
    starts, stops = _anomaly_ranges(labels)
    if len(starts) == 0:
        raise ValueError(
            "vus_pr needs at least one anomalous step in y_true: with none, "
            "recall (and so VUS-PR) is undefined."
        )
    if values.min() == values.max():
        warnings.warn(
            "vus_pr: the scores are constant, so they rank no step above another; "
            "returning 0.0 (as aeon does).",
            UserWarning,
            stacklevel=2,
        )
        return 0.0
    n_steps = len(values)
    ascending = np.sort(values)
    picks = np.linspace(0, n_steps - 1, N_THRESHOLDS).astype(np.int64)
    thresholds = ascending[::-1][picks]  # from the highest score down
    n_predicted = n_steps - np.searchsorted(ascending, thresholds, side="left")
    # Every step the widest buffer can reach; the others have label 0.
    half = window // 2
    near = np.zeros(n_steps + 1, dtype=np.int64)
    np.add.at(near, np.maximum(starts - half, 0), 1)
    np.add.at(near, np.minimum(stops + max(half - 1, 0), n_steps), -1)
    positions = np.flatnonzero(np.cumsum(near[:-1]) > 0)
    # Step i is predicted at threshold k (scores >= thresholds[k]) from the
    # first k whose threshold is at most its score.
    first_threshold = N_THRESHOLDS - np.searchsorted(
        thresholds[::-1], values[positions], side="right"
    )
    areas = [
        _range_pr_auc(
            labels,
            _buffered_labels(labels, positions, starts, stops - 1, buffer_size),
            positions,
            first_threshold,
            n_predicted,
        )
        for buffer_size in range(window + 1)
    ]
    return float(np.mean(areas))


def ucr_score(y_true, scores, tolerance=100):
    """1 if the highest score lies within ``tolerance`` steps of an anomaly, else 0.

    The measure of the UCR time-series anomaly archive (Wu and Keogh, 2021),
    whose series hold one anomaly each: a detector answers with the single
    step it finds most anomalous. With several labelled anomalies, any of
    them counts. Ties go to the first of the highest scores.

    Parameters
    ----------
    y_true : array-like of shape (n_timesteps,)
        1 for a labelled anomalous step, 0 for a normal one; at least one 1.
    scores : array-like of shape (n_timesteps,)
        Anomaly score of every step, higher = more anomalous; finite.
    tolerance : int, default=100
        Steps allowed before an anomaly's first step and after its last (the
        archive's convention is 100).

    Returns
    -------
    score : int
        1 if ``argmax(scores)`` is in ``[start - tolerance, stop + tolerance]``
        for a labelled anomaly running from ``start`` to ``stop`` (its last
        step), else 0.

    Raises
    ------
    ValueError
        As :func:`vus_pr`, and if ``tolerance`` is not an int >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> from skhidden.metrics import ucr_score
    >>> labels = np.zeros(1000, dtype=int)
    >>> labels[500:510] = 1
    >>> scores = np.zeros(1000)
    >>> scores[600] = 1.0
    >>> ucr_score(labels, scores), ucr_score(labels, scores, tolerance=50)
    (1, 0)
    """
    labels, values = _check_series(y_true, scores, "ucr_score")
    tolerance = _check_count(tolerance, "tolerance", "ucr_score's tolerance")
    starts, stops = _anomaly_ranges(labels)
    if len(starts) == 0:
        raise ValueError(
            "ucr_score needs at least one anomalous step in y_true: with none, "
            "no detection can be right."
        )
    top = int(np.argmax(values))
    return int(np.any((starts - tolerance <= top) & (top <= stops - 1 + tolerance)))


def _step_scores(estimator, X):
    """``score_steps(X)`` of a detector or of a pipeline ending in one."""
    if isinstance(estimator, Pipeline):
        estimator, X = estimator[-1], estimator[:-1].transform(X)
    if not hasattr(estimator, "score_steps"):
        raise TypeError(
            f"A step scorer needs an estimator with score_steps(X) (such as "
            f"HiddenStateAnomalyDetector); {type(estimator).__name__} has none."
        )
    return estimator.score_steps(X)


class StepScorer:
    """A scorer from a per-step metric: the metric's mean over the series.

    ``scorer(estimator, X, y)`` calls ``estimator.score_steps(X)`` (the last
    step's, for a ``Pipeline``) and returns the mean over the series of
    ``metric(y[i], scores[i], **kwargs)``, so it is a ``scoring`` for
    ``GridSearchCV``, ``cross_val_score`` and the like: their ``y`` is one
    0/1 label array per series of ``X`` (a list or an object array), which
    they split together with ``X``. Each series of a fold must hold an
    anomaly for the metrics here.

    Make one with :func:`make_step_scorer`; :func:`make_vus_pr_scorer`,
    ``vus_pr_scorer`` and ``ucr_scorer`` are ready-made.

    Parameters
    ----------
    metric : callable
        ``metric(labels, scores, **kwargs) -> float`` for one series, higher
        = better.
    **kwargs
        Passed to ``metric``.
    """

    def __init__(self, metric, **kwargs):
        if not callable(metric):
            raise TypeError(f"metric must be callable; got {metric!r}.")
        self.metric = metric
        self.kwargs = kwargs

    def __call__(self, estimator, X, y):
        """Mean of the metric over the series of ``X``.

        Parameters
        ----------
        estimator : fitted estimator or Pipeline
            Has ``score_steps`` (or ends in a step that has).
        X : sequences
            As the estimator takes them.
        y : list or object array of array-like
            One 0/1 label array per series of ``X``, as long as its series.

        Returns
        -------
        score : float
        """
        if y is None or isinstance(y, str) or not hasattr(y, "__len__"):
            raise ValueError(
                "A step scorer needs y: one 0/1 label array per series of X."
            )
        labels = list(y)
        scores = _step_scores(estimator, X)
        if len(labels) != len(scores):
            raise ValueError(
                f"y holds {len(labels)} label arrays but X has {len(scores)} "
                "series; give one label array per series."
            )
        values = []
        for i, (series_labels, series_scores) in enumerate(
            zip(labels, scores, strict=True)
        ):
            if np.ndim(series_labels) != 1 or len(series_labels) != len(series_scores):
                raise ValueError(
                    f"The labels of series {i} have shape "
                    f"{np.shape(series_labels)}, but the series has "
                    f"{len(series_scores)} steps: give one label per step."
                )
            values.append(self.metric(series_labels, series_scores, **self.kwargs))
        return float(np.mean(values))

    def __repr__(self):
        name = getattr(self.metric, "__name__", repr(self.metric))
        arguments = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"make_step_scorer({name}{arguments})"


def make_step_scorer(metric, **kwargs):
    """A ``GridSearchCV`` scorer from a per-series metric of per-step scores.

    Parameters
    ----------
    metric : callable
        ``metric(labels, scores, **kwargs) -> float`` for one series, higher
        = better, e.g. :func:`vus_pr` or :func:`ucr_score`.
    **kwargs
        Passed to ``metric``.

    Returns
    -------
    scorer : StepScorer
        ``scorer(estimator, X, y)``: the metric's mean over the series.

    Examples
    --------
    >>> from skhidden.metrics import make_step_scorer, vus_pr
    >>> make_step_scorer(vus_pr, window=50)
    make_step_scorer(vus_pr, window=50)
    """
    return StepScorer(metric, **kwargs)


def make_vus_pr_scorer(window=100):
    """VUS-PR (:func:`vus_pr`) as a scorer: its mean over the series.

    Parameters
    ----------
    window : int, default=100
        The largest buffer size, see :func:`vus_pr`.

    Returns
    -------
    scorer : StepScorer

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skhidden import HiddenStateAnomalyDetector
    >>> from skhidden.metrics import make_vus_pr_scorer
    >>> rng = np.random.default_rng(0)
    >>> X = [np.sin(np.arange(300) / 4)[:, None] + 0.05 * rng.normal(size=(300, 1))
    ...      for _ in range(4)]
    >>> y = [np.zeros(300, dtype=int) for _ in X]
    >>> for series, labels in zip(X, y):
    ...     series[150:155] += 2.0
    ...     labels[150:155] = 1
    >>> search = GridSearchCV(
    ...     HiddenStateAnomalyDetector(hidden_size=4, max_epochs=1, random_state=0),
    ...     {"anomaly_score": ["forecast", "distance"]},
    ...     scoring=make_vus_pr_scorer(window=20),
    ...     cv=2,
    ... ).fit(X, y)
    >>> search.best_params_["anomaly_score"] in ("forecast", "distance")
    True
    """
    _check_count(window, "window", "vus_pr's window")
    return StepScorer(vus_pr, window=window)


vus_pr_scorer = make_vus_pr_scorer()
ucr_scorer = StepScorer(ucr_score)
