"""Pictures of the intermediate outputs (matplotlib, the ``plots`` extra).

Defining functions, each drawing on ``ax`` (a new figure when None) and
returning the matplotlib Axes, like scikit-learn's ``*Display`` helpers:

- ``plot_attention``: a sequence with its attention weights drawn over it.
- ``plot_hidden_states``: a sequence's hidden states as a heatmap.
- ``plot_early_classification``: score against the share of each sequence
  read, one curve per model, from staged predictions (``early_scores``
  computes the numbers without drawing).
- ``plot_strategy_comparison``: a ``GridSearchCV``'s ``cv_results_``, mean
  and spread of the cross-validated scores per candidate.
- ``plot_step_scores``: a series above its per-step anomaly scores (one
  panel per detector), with thresholds and the labelled anomalies shaded.
- ``window_spans``: the input steps each encoder step covers, which the
  per-step plots use to draw a front-end's windows over the whole sequence.

Estimators may be fitted skhidden estimators or pipelines that end in one
(e.g. ``make_pipeline(SequenceScaler(), HiddenStateClassifier())``): the
earlier steps transform the input first. matplotlib is imported only when
something is drawn, so the module imports without it.
"""

import numpy as np
import torch
from sklearn.base import is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._inference import _window_spans
from .metrics import _anomaly_ranges
from .nn.aggregation import timestep_indices
from .sequences import check_sequences

__all__ = [
    "DEFAULT_FRACTIONS",
    "early_scores",
    "plot_attention",
    "plot_early_classification",
    "plot_hidden_states",
    "plot_step_scores",
    "plot_strategy_comparison",
    "window_spans",
]

DEFAULT_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _axes(ax):
    """``ax``, or the Axes of a new figure; matplotlib imported here only."""
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "skhidden's plots need matplotlib: pip install 'skhidden[plots]'."
        ) from exc
    return plt.subplots()[1]


def _steps_axis(ax):
    """Label the x axis as steps, ticks on whole steps only."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")


def _final_step(estimator, X):
    """The skhidden estimator ending ``estimator``, and ``X`` as it receives it."""
    if isinstance(estimator, Pipeline):
        return estimator[-1], estimator[:-1].transform(X)
    return estimator, X


def _fitted_final(estimator):
    """The fitted skhidden estimator ending ``estimator`` (itself, or a pipeline's)."""
    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    check_is_fitted(final, "net_")
    return final


def _frontend(estimator):
    """The fitted front-end of the skhidden estimator ending ``estimator``."""
    return _fitted_final(estimator).net_.module_.frontend


def _spans(frontend, n_steps, length=None):
    """Spans over ``length`` read steps, mapped back to ``n_steps`` input steps.

    ``length`` is the resampled length (``resample_length_``); None: the
    input steps are read as they are.
    """
    read = n_steps if length is None else length
    starts, stops = _window_spans(frontend, read)
    if length is None:
        return starts, stops
    # Read step j lies at input position j * (n_steps - 1) / (length - 1).
    scale = (n_steps - 1) / (length - 1) if length > 1 else 0.0
    first = np.floor(starts * scale).astype(np.int64)
    last = np.ceil((stops - 1) * scale).astype(np.int64)
    return first, np.minimum(last + 1, n_steps)


def window_spans(estimator, n_steps):
    """Input steps each encoder step of a sequence of ``n_steps`` steps covers.

    With a front-end of window ``w`` and stride ``s`` (``frontend="resnet"``
    or ``"conv"``: ``s = w // 2``; ``"patch"``: ``s = w``), encoder step ``t``
    reads input steps ``[t * s, min(t * s + w, n_steps))``, and a sequence
    has ``ceil(n_steps / s)`` of them; without one (``frontend="none"``) step
    ``t`` is input step ``t``. Its state, attention weight and staged
    prediction have read the input up to the end of that span and nothing
    later. A model that resamples (``resample_length_``) reads its steps on
    the stretched sequence; their spans are mapped back to input steps.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
        A skhidden estimator, or a pipeline ending in one.
    n_steps : int
        Length of the sequence, in input steps.

    Returns
    -------
    starts : ndarray of shape (n_windows,)
        First input step of each encoder step.
    stops : ndarray of shape (n_windows,)
        One past its last input step.
    """
    final = _fitted_final(estimator)
    length = getattr(final, "resample_length_", None)
    return _spans(final.net_.module_.frontend, int(n_steps), length)


def _strategy_label(value):
    """``("mean", "max")`` -> ``"mean+max"``; anything else as text."""
    if isinstance(value, (tuple, list)):
        return "+".join(map(str, value))
    return str(value)


def plot_attention(estimator, sequence, *, feature_names=None, ax=None):
    """Draw a sequence with its attention weights shaded under it.

    Each weight is drawn as a bar over the input steps its encoder step
    covers (:func:`window_spans`): one step without a front-end, a window
    with one. The windows of ``"conv"`` and ``"resnet"`` overlap by half, so
    their bars do too. The bars together span the whole sequence.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
        A skhidden estimator whose aggregation contains ``"attention"``, or a
        pipeline ending in one.
    sequence : array-like of shape (n_timesteps, n_features) or (n_timesteps,)
        One sequence, as given to the estimator (before any pipeline step).
    feature_names : list of str, default=None
        Legend labels of the features; None labels them ``x0``, ``x1``, ...
        (the legend is drawn for up to 6 features).
    ax : matplotlib Axes, default=None
        Where to draw; None makes a new figure.

    Returns
    -------
    ax : matplotlib Axes
        The Axes of the sequence; the weights are on its twin (right) axis.
    """
    final, Xt = _final_step(estimator, [sequence])
    weights = final.attention_weights(Xt)[0]
    padded, lengths = check_sequences([sequence])
    values = padded[0, : lengths[0]]
    starts, stops = window_spans(final, lengths[0])
    ax = _axes(ax)
    names = feature_names or [f"x{i}" for i in range(values.shape[1])]
    for column, name in zip(values.T, names, strict=True):
        ax.plot(np.arange(len(values)), column, linewidth=1.2, label=name)
    _steps_axis(ax)
    ax.set_ylabel("value")
    if values.shape[1] <= 6:
        ax.legend(loc="upper left", fontsize="small")
    twin = ax.twinx()
    # A bar from step a - 0.5 to step b - 0.5 covers steps a..b-1 centred on
    # the line's points, as a width-1 bar does without a front-end.
    twin.bar(
        starts - 0.5,
        weights,
        width=stops - starts,
        align="edge",
        color="tab:red",
        alpha=0.25,
        label="attention",
    )
    twin.set_ylabel("attention weight", color="tab:red")
    twin.set_ylim(0, 1.05 * weights.max())
    ax.set_xlim(-0.5, len(values) - 0.5)
    ax.set_zorder(twin.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_title("Sequence and its attention weights")
    return ax


def plot_hidden_states(estimator, sequence, *, ax=None):
    """Draw a sequence's hidden states as a heatmap, units by input steps.

    The x axis is the sequence's input steps under every front-end: each
    state is drawn from its encoder step's first input step to the next
    one's (:func:`window_spans`), the last to the sequence's end. Without a
    front-end that is one column per step; with ``"patch"`` each column is
    the window the state read; the overlapping windows of ``"conv"`` and
    ``"resnet"`` are each drawn over the steps they add to the previous one.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
        A skhidden estimator, or a pipeline ending in one.
    sequence : array-like of shape (n_timesteps, n_features) or (n_timesteps,)
        One sequence, as given to the estimator.
    ax : matplotlib Axes, default=None
        Where to draw; None makes a new figure.

    Returns
    -------
    ax : matplotlib Axes
    """
    final, Xt = _final_step(estimator, [sequence])
    states = final.hidden_states(Xt)[0]
    n_steps = check_sequences([sequence])[1][0]
    starts, _ = window_spans(final, n_steps)
    edges = np.append(starts, n_steps) - 0.5
    ax = _axes(ax)
    limit = np.abs(states).max()
    image = ax.pcolormesh(
        edges,
        np.arange(states.shape[1] + 1) - 0.5,
        states.T,
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
    )
    ax.set_ylim(states.shape[1] - 0.5, -0.5)  # unit 0 on top, as imshow draws it
    ax.figure.colorbar(image, ax=ax, label="state value")
    _steps_axis(ax)
    ax.set_ylabel("state unit")
    ax.set_title("Hidden states")
    return ax


def _stages_read(frontend, lengths, fractions):
    """Per sequence and fraction, the last stage that has read at most that share.

    Stage ``k`` has read input steps ``[0, min(k * s + w, T))`` (see
    :func:`window_spans`); for fraction ``f`` it is the last one ending
    within the first ``ceil(f * T)`` steps, or the first stage when even it
    reads more. Returns an int array of shape ``(n_samples, len(fractions))``.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    n_read = timestep_indices(fractions, torch.as_tensor(lengths)).numpy() + 1
    last = -(-lengths[:, None] // frontend.stride) - 1
    stage = np.clip((n_read - frontend.window) // frontend.stride, 0, None)
    return np.where(n_read >= lengths[:, None], last, np.minimum(stage, last))


def early_scores(estimator, X, y, fractions=DEFAULT_FRACTIONS):
    """Score of the predictions made from the first part of each sequence.

    Computed from one ``staged_predict`` pass: the prediction for fraction
    ``f`` of a sequence of length ``T`` is the one made after its first
    ``ceil(f * T)`` input steps. With a front-end the stages are windows
    (:func:`window_spans`): it is the last window that ends within those
    steps, or the first window when a share is shorter than one window (that
    prediction has read ``frontend_window`` steps). ``f = 1`` is always the
    prediction from the whole sequence.

    Parameters
    ----------
    estimator : fitted estimator or Pipeline
        A unidirectional skhidden classifier or regressor, or a pipeline
        ending in one.
    X : sequences
        Input, as given to the estimator.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        True labels or targets.
    fractions : sequence of float in (0, 1], default=DEFAULT_FRACTIONS
        Shares of each sequence read.

    Returns
    -------
    scores : ndarray of shape (len(fractions),)
        Accuracy for a classifier, R² for a regressor.
    """
    fractions = tuple(float(f) for f in fractions)
    if not fractions or not all(0.0 < f <= 1.0 for f in fractions):
        raise ValueError(f"fractions must be shares in (0, 1]; got {fractions}.")
    final, Xt = _final_step(estimator, X)
    staged = np.stack(list(final.staged_predict(Xt)))
    stages = _stages_read(_frontend(final), check_sequences(Xt)[1], fractions)
    score = accuracy_score if is_classifier(final) else r2_score
    samples = np.arange(len(stages))
    return np.array(
        [score(y, staged[stages[:, j], samples]) for j in range(len(fractions))]
    )


def plot_early_classification(
    estimators, X, y, *, fractions=DEFAULT_FRACTIONS, ax=None
):
    """Draw score against the share of each sequence read: how early a model knows.

    Parameters
    ----------
    estimators : fitted estimator, list of them, or dict of label -> estimator
        Unidirectional skhidden classifiers or regressors, or pipelines ending
        in one; one curve each, labelled by the dict key or the aggregation.
    X : sequences
        Input, as given to the estimators.
    y : array-like
        True labels or targets.
    fractions : sequence of float in (0, 1], default=DEFAULT_FRACTIONS
        Shares of each sequence read, see :func:`early_scores`.
    ax : matplotlib Axes, default=None
        Where to draw; None makes a new figure.

    Returns
    -------
    ax : matplotlib Axes
    """
    if isinstance(estimators, dict):
        labelled = list(estimators.items())
    else:
        if not isinstance(estimators, (list, tuple)):
            estimators = [estimators]
        labelled = [
            (_strategy_label(_final_step(e, X)[0].aggregation), e) for e in estimators
        ]
    ax = _axes(ax)
    percent = 100 * np.asarray(fractions, dtype=float)
    for label, estimator in labelled:
        ax.plot(
            percent, early_scores(estimator, X, y, fractions), marker="o", label=label
        )
    is_clf = is_classifier(_final_step(labelled[0][1], X)[0])
    ax.set_xlabel("share of each sequence read (%)")
    ax.set_ylabel("accuracy" if is_clf else "R²")
    ax.set_title("Prediction from the first part of each sequence")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def _candidate_labels(cv_results, param):
    """Label each candidate by ``param``, adding other parameters only if needed."""
    labels = [_strategy_label(p[param]) for p in cv_results["params"]]
    if len(set(labels)) == len(labels):
        return labels
    return [
        ", ".join(f"{k.rsplit('__', 1)[-1]}={_strategy_label(v)}" for k, v in p.items())
        for p in cv_results["params"]
    ]


def _default_param(cv_results):
    names = sorted({name for p in cv_results["params"] for name in p})
    aggregation = [n for n in names if n.rsplit("__", 1)[-1] == "aggregation"]
    if len(aggregation) == 1:
        return aggregation[0]
    if len(names) == 1:
        return names[0]
    raise ValueError(f"Name the parameter to compare: param= one of {names}.")


def plot_strategy_comparison(cv_results, *, param=None, ax=None):
    """Draw a grid search's cross-validated scores per candidate.

    Each fold's score is a dot; the mean is a diamond with the standard
    deviation as an error bar.

    Parameters
    ----------
    cv_results : dict
        ``GridSearchCV(...).cv_results_`` (or ``RandomizedSearchCV``'s).
    param : str, default=None
        The parameter that labels the candidates, e.g.
        ``"hiddenstateclassifier__aggregation"``; None picks the one named
        ``aggregation`` (or the only parameter searched).
    ax : matplotlib Axes, default=None
        Where to draw; None makes a new figure.

    Returns
    -------
    ax : matplotlib Axes
    """
    param = param or _default_param(cv_results)
    labels = _candidate_labels(cv_results, param)
    splits = sorted(
        k for k in cv_results if k.startswith("split") and k.endswith("_test_score")
    )
    fold_scores = np.column_stack([cv_results[k] for k in splits])
    ax = _axes(ax)
    positions = np.arange(len(labels))
    offsets = np.linspace(-0.15, 0.15, fold_scores.shape[1])
    for i, (column, offset) in enumerate(zip(fold_scores.T, offsets, strict=True)):
        label = "one CV fold" if i == 0 else "_nolegend_"
        ax.scatter(
            positions + offset, column, color="tab:blue", alpha=0.6, s=16, label=label
        )
    ax.errorbar(
        positions,
        cv_results["mean_test_score"],
        yerr=cv_results["std_test_score"],
        fmt="D",
        color="black",
        capsize=5,
        label="mean ± std",
    )
    ax.set_xticks(positions, labels, rotation=20, ha="right")
    ax.set_xlabel(param.rsplit("__", 1)[-1])
    ax.set_ylabel("cross-validated score")
    ax.set_title("Grid search comparison")
    ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    return ax


def _anomaly_spans(labels):
    """``(start, stop)`` of each run of 1 in a 0/1 array, ``stop`` exclusive."""
    return list(zip(*_anomaly_ranges(labels), strict=True))


def _check_step_arrays(series, scores, labels, threshold):
    """The series as ``(T, d)``, scores as ``{name: (T,)}``, labels and thresholds."""
    values = np.asarray(series, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(
            f"series must be (n_timesteps,) or (n_timesteps, n_features); got "
            f"shape {values.shape}."
        )
    named = dict(scores) if isinstance(scores, dict) else {"score": scores}
    if not named:
        raise ValueError("scores is empty: give at least one score array.")
    named = {name: np.asarray(s, dtype=np.float64) for name, s in named.items()}
    for name, s in named.items():
        if s.shape != (len(values),):
            raise ValueError(
                f"scores {name!r} have shape {s.shape}, but the series has "
                f"{len(values)} steps: give one score per step."
            )
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(values),) or not np.isin(labels, (0, 1)).all():
            raise ValueError(
                f"labels must be one 0/1 value per step of the series "
                f"({len(values)}); got shape {labels.shape}."
            )
        labels = labels.astype(np.int64)
    if threshold is None or isinstance(threshold, dict):
        thresholds = dict(threshold or {})
        unknown = set(thresholds) - set(named)
        if unknown:
            raise ValueError(
                f"thresholds {sorted(unknown)} name no scores; scores are "
                f"{sorted(named)}."
            )
    else:
        thresholds = dict.fromkeys(named, float(threshold))
    return values, named, labels, thresholds


def plot_step_scores(series, scores, *, threshold=None, labels=None, ax=None):
    """Draw a series with its per-step anomaly scores under it.

    The series is the top panel; each score array gets its own panel below
    it on the same step axis (detectors' scores have different scales), with
    its threshold as a dashed line. Labelled anomalies are shaded on every
    panel.

    Parameters
    ----------
    series : array-like of shape (n_timesteps,) or (n_timesteps, n_features)
        One series (as given to the detector).
    scores : array-like of shape (n_timesteps,) or dict of str -> array-like
        Its scores, e.g. ``detector.score_steps([series])[0]``; a dict draws
        one panel per entry, titled by its key.
    threshold : float or dict of str -> float, default=None
        Drawn on the score panels (e.g. ``detector.threshold_``); a dict
        gives it per score name (names left out get none).
    labels : array-like of shape (n_timesteps,), default=None
        1 at labelled anomalous steps, shaded in red.
    ax : sequence of matplotlib Axes, default=None
        ``1 + len(scores)`` Axes to draw on, the series' first; None makes a
        new figure with the panels stacked, sharing the step axis.

    Returns
    -------
    axes : list of matplotlib Axes
        The series' Axes, then one per score array.
    """
    values, named, labels, thresholds = _check_step_arrays(
        series, scores, labels, threshold
    )
    if ax is None:
        _axes(None)  # the clear error when matplotlib is missing
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(
            1 + len(named), 1, sharex=True, figsize=(8, 1.6 + 1.4 * len(named))
        )
        axes = list(np.atleast_1d(axes))
    else:
        axes = list(ax)
        if len(axes) != 1 + len(named):
            raise ValueError(
                f"ax must hold {1 + len(named)} Axes (the series, then one per "
                f"score array); got {len(axes)}."
            )
    steps = np.arange(len(values))
    for column in values.T:
        axes[0].plot(steps, column, linewidth=0.8)
    axes[0].set_ylabel("value")
    for panel, (name, s) in zip(axes[1:], named.items(), strict=True):
        panel.plot(steps, s, color="black", linewidth=0.8, label=name)
        if name in thresholds:
            panel.axhline(
                thresholds[name], color="tab:orange", linestyle="--", label="threshold"
            )
        panel.set_ylabel("score")
        panel.set_title(name, fontsize="small", loc="left")
    if labels is not None:
        for i, panel in enumerate(axes):
            for j, (start, stop) in enumerate(_anomaly_spans(labels)):
                panel.axvspan(
                    start - 0.5,
                    stop - 0.5,
                    color="tab:red",
                    alpha=0.2,
                    label="labelled anomaly" if i == j == 0 else "_nolegend_",
                )
    for panel in axes:
        panel.set_xlim(-0.5, len(values) - 0.5)
    _steps_axis(axes[-1])
    return axes
