"""Per-input-step anomaly scores from a next-step network's states.

Pure torch: what ``HiddenStateAnomalyDetector`` streams over batches.

Defining pieces:

- ``SCORES``: the names of the scores, ``"forecast"``, ``"distance"`` and
  ``"nearest"``; ``STATE_SCORES`` those that measure each state.
- ``step_scores``: one score per input step of a padded batch, finite at
  every valid step.
- ``state_moments``: a batch's sums of the states and of their outer
  products, from which the detector fits the states' mean and covariance.
- ``spread_windows``: values per position of each window (encoder step) ->
  values per input step, the mean over the windows that cover the step;
  ``overlap_add`` gives the sums and counts it divides.
- ``forecast_errors`` and ``state_scores`` (``state_distances``,
  ``nearest_distances``): the scores per window, shared with the streamed
  scores (``skhidden.nn.streaming.ScoreStream``).
- ``future_max``: a step's score raised to the highest of the next
  ``span - 1`` steps', so each step is scored by the states that read it;
  ``future_mean``: the mean of a step's and the next ``span - 1`` steps'.
- ``pool_steps``: the pooled score of each step, ``future_max`` alone or
  with a context (see below).
- ``state_step_scores``: per-state scores -> pooled scores per input step
  (``spread_windows`` then ``pool_steps``), for ``step_scores`` and the
  detector's held-out training scores alike.

With a front-end an encoder step is a window of input steps (stride ``s``,
window ``w``): window ``t`` covers input steps ``[t * s, t * s + w)``. The
scores stay one per input step: a forecast error is measured at each input
step of the predicted window, and a state's distance is given to every input
step its window covers; where windows overlap (``"conv"``, ``"resnet"``), a
step's score is the mean over the windows covering it. Overlapping windows
also mean that the state forecasting window ``t + 1`` has already read its
first ``w - s`` steps, so part of that error measures a reconstruction.

Causality: a forecast error at input step ``i`` reads the input up to ``i``
(up to the end of the forecasting state's window with overlapping windows);
only the steps that no state forecasts take a later step's score. With
``span > 1`` a step's score also reads the ``span - 1`` steps after it.

Why ``span``: the state after an anomalous step departs from the training
states over the steps that follow, as the recurrence takes the anomaly in,
so raw state scores peak late in an anomaly or after it and are low at its
start. Charging each state's score to the last ``span`` steps it has read
gives every step of the anomaly the peak (and the ``span - 1`` steps before
it too).

Why a context: a long anomaly (a whole odd instance of hundreds of steps) is
many ordinary-looking windows, each scored a little high, while a short one
is a few windows scored very high. The mean over a longer span ahead lifts
the first, the highest over ``span`` keeps the second. Each is divided by
its training steps' 99th percentile and the mean is capped at 1 (the
highest's percentile): it can lift a step above most normal steps but never
above a short anomaly's peak, so the top-scored step stays where the
highest puts it.
"""

import torch
from torch.nn import functional as F

from .encoder import valid_mask

__all__ = [
    "SCORES",
    "STATE_SCORES",
    "forecast_errors",
    "future_max",
    "future_mean",
    "nearest_distances",
    "overlap_add",
    "pool_steps",
    "spread_windows",
    "state_distances",
    "state_moments",
    "state_step_scores",
    "state_scores",
    "step_scores",
]

SCORES = ("forecast", "distance", "nearest")
STATE_SCORES = ("distance", "nearest")
# Distances computed at once in nearest_distances: bounds its memory.
_DISTANCE_VALUES = 2**22


def overlap_add(values, stride):
    """Sums per input step of the values of consecutive windows, and counts.

    Parameters
    ----------
    values : torch.Tensor of shape (batch, n_windows, window)
        A value for each position of each window; ``n_windows >= 1``.
    stride : int
        Input steps between the starts of consecutive windows.

    Returns
    -------
    sums : torch.Tensor of shape (batch, (n_windows - 1) * stride + window)
        From the first window's start: the sum of the values at each step.
    counts : torch.Tensor of shape ((n_windows - 1) * stride + window,)
        How many windows cover each step.
    """
    batch, n_windows, window = values.shape
    starts = torch.arange(n_windows, device=values.device) * stride
    index = (starts[:, None] + torch.arange(window, device=values.device)).flatten()
    size = (n_windows - 1) * stride + window
    sums = values.new_zeros(batch, size)
    sums.scatter_add_(1, index.expand(batch, -1), values.flatten(1))
    counts = values.new_zeros(size).scatter_add_(0, index, values.new_ones(index.shape))
    return sums, counts


def spread_windows(values, stride, n_steps, first=0):
    """Mean, per input step, of the values of the windows covering it.

    Parameters
    ----------
    values : torch.Tensor of shape (batch, n_windows, window)
        A value for each position of each window.
    stride : int
        Input steps between the starts of consecutive windows.
    n_steps : int
        Input steps of the result.
    first : int, default=0
        Index of the first window in ``values`` (window ``first`` starts at
        input step ``first * stride``).

    Returns
    -------
    steps : torch.Tensor of shape (batch, n_steps)
        The mean over covering windows; zero where no window covers a step.
    counts : torch.Tensor of shape (batch, n_steps)
        How many windows cover each step.
    """
    batch, n_windows, _ = values.shape
    if n_windows == 0:
        zeros = values.new_zeros(batch, n_steps)
        return zeros, zeros
    sums, counts = overlap_add(values, stride)
    before, after = first * stride, n_steps - first * stride - sums.shape[1]
    sums = F.pad(sums, (before, max(after, 0)))[:, :n_steps]
    counts = F.pad(counts, (before, max(after, 0)))[:n_steps].expand(batch, -1)
    return sums / counts.clamp_min(1), counts


def forecast_errors(frontend, predicted, targets):
    """Squared error of window forecasts, per position of the window.

    Parameters
    ----------
    frontend : nn.Module
        The network's front-end (how a window's values are laid out).
    predicted, targets : torch.Tensor of shape (batch, n_windows, step_size)
        The forecast of each window and its (scaled) input.

    Returns
    -------
    errors : torch.Tensor of shape (batch, n_windows, window)
        Averaged over the features of each input step.
    """
    return frontend.window_steps((predicted - targets) ** 2).mean(-1)


def _forecast_errors(network, X, lengths):
    """Squared error of each next-window forecast, per position of the window.

    ``(batch, n_windows - 1, window)``: row ``j`` is window ``j + 1``, as
    predicted from the state of window ``j``, averaged over the features of
    each input step (in the scaled space the network reads).
    """
    following, _, _, targets = network(X, lengths)
    return forecast_errors(network.frontend, following[:, :-1], targets[:, 1:])


def state_distances(states, mean, precision):
    """Squared Mahalanobis distance of each state, divided by its size.

    Parameters
    ----------
    states : torch.Tensor of shape (batch, n_windows, state_size)
    mean : torch.Tensor of shape (state_size,)
    precision : torch.Tensor of shape (state_size, state_size)

    Returns
    -------
    distances : torch.Tensor of shape (batch, n_windows)
    """
    centred = states - mean
    return ((centred @ precision) * centred).sum(-1) / centred.shape[-1]


def nearest_distances(states, mean, scale, bank, excluded=None):
    """Euclidean distance of each standardised state to the nearest bank state.

    Parameters
    ----------
    states : torch.Tensor of shape (batch, n_windows, state_size)
    mean, scale : torch.Tensor of shape (state_size,)
        Standardise the states: ``(states - mean) / scale``.
    bank : torch.Tensor of shape (n_bank, state_size)
        Standardised training states.
    excluded : callable, optional
        ``excluded(start, stop)``: a bool tensor ``(stop - start, n_bank)``
        marking the bank states that the flattened states ``start .. stop -
        1`` (batch-major) may not take as their neighbour; a state with
        every bank state excluded takes its nearest of all.

    Returns
    -------
    distances : torch.Tensor of shape (batch, n_windows)
    """
    flat = ((states - mean) / scale).flatten(0, 1)
    rows = max(1, _DISTANCE_VALUES // len(bank))

    def nearest_of(start):
        distances = torch.cdist(flat[start : start + rows], bank)
        if excluded is not None:
            allowed = distances.masked_fill(
                excluded(start, start + len(distances)), float("inf")
            )
            anywhere = torch.isinf(allowed.amin(dim=1, keepdim=True))
            distances = torch.where(anywhere, distances, allowed)
        return distances.argmin(dim=1)

    # cdist's fast matrix-product form finds the neighbour; its distance is
    # then taken directly, which the product form's cancellation would blur
    # (a training state's own distance came out near 1e-3, not 0).
    nearest = [nearest_of(start) for start in range(0, len(flat), rows)]
    nearest = torch.cat(nearest) if nearest else flat.new_zeros(0, dtype=torch.int64)
    return (flat - bank[nearest]).norm(dim=1).view(states.shape[:2])


def state_scores(states, score, reference):
    """The state-based score (one of ``STATE_SCORES``) of every state.

    Parameters
    ----------
    states : torch.Tensor of shape (batch, n_windows, state_size)
    score : {"distance", "nearest"}
    reference : tuple of torch.Tensor
        What the training states give: ``(mean, precision)`` for
        ``"distance"`` (``state_distances``), ``(mean, scale, bank)`` for
        ``"nearest"`` (``nearest_distances``).

    Returns
    -------
    scores : torch.Tensor of shape (batch, n_windows)
    """
    measure = state_distances if score == "distance" else nearest_distances
    return measure(states, *reference)


def future_max(steps, lengths, span):
    """Per input step, the highest score of it and the ``span - 1`` after it.

    Only a sequence's valid steps count: near its end a step takes the
    highest of the steps left.

    Parameters
    ----------
    steps : torch.Tensor of shape (batch, n_steps)
        Scores per input step.
    lengths : torch.Tensor of shape (batch,)
        Valid input steps per sequence.
    span : int
        Steps pooled, at least 1 (1 only zeroes the padding).

    Returns
    -------
    pooled : torch.Tensor of shape (batch, n_steps)
        Zero at padding.
    """
    valid = valid_mask(lengths, steps.shape[1])
    if span == 1 or steps.shape[1] == 0:
        return torch.where(valid, steps, 0.0)
    padded = F.pad(steps.masked_fill(~valid, float("-inf")), (0, span - 1),
                   value=float("-inf"))
    pooled = F.max_pool1d(padded.unsqueeze(1), span, stride=1).squeeze(1)
    return torch.where(valid, pooled, 0.0)


def future_mean(steps, lengths, span):
    """Per input step, the mean score of it and the ``span - 1`` after it.

    Only a sequence's valid steps count: near its end a step takes the mean
    of the steps left. Each mean sums its own steps (no running sum), so it
    is as exact on a series of millions of steps as on a short one, and a
    stream computes it alike from the steps it holds.

    Parameters
    ----------
    steps : torch.Tensor of shape (batch, n_steps)
        Scores per input step.
    lengths : torch.Tensor of shape (batch,)
        Valid input steps per sequence.
    span : int
        Steps averaged, at least 1.

    Returns
    -------
    mean : torch.Tensor of shape (batch, n_steps)
        Zero at padding.
    """
    n_steps = steps.shape[1]
    valid = valid_mask(lengths, n_steps)
    if span == 1 or n_steps == 0:
        return torch.where(valid, steps, 0.0)
    padded = F.pad(torch.where(valid, steps, 0.0), (0, span - 1))
    sums = F.avg_pool1d(padded.unsqueeze(1), span, stride=1).squeeze(1) * span
    left = lengths[:, None] - torch.arange(n_steps, device=steps.device)
    return torch.where(valid, sums / left.clamp(1, span), 0.0)


def pool_steps(steps, lengths, span, context=None):
    """The pooled score of every input step from the raw ones.

    Parameters
    ----------
    steps : torch.Tensor of shape (batch, n_steps)
        Raw scores per input step.
    lengths : torch.Tensor of shape (batch,)
        Valid input steps per sequence.
    span : int
        As in ``future_max``.
    context : tuple, optional
        ``(context_span, scales)``: with it a step's score is
        ``max(future_max / scales[0], min(future_mean / scales[1], 1))``,
        ``future_mean`` over ``context_span`` steps and ``scales`` a tensor
        of the two training 99th percentiles (see the module docstring).
        None: ``future_max`` alone.

    Returns
    -------
    pooled : torch.Tensor of shape (batch, n_steps)
        Zero at padding.
    """
    pooled = future_max(steps, lengths, span)
    if context is None:
        return pooled
    context_span, scales = context
    mean = future_mean(steps, lengths, context_span)
    return torch.maximum(pooled / scales[0], (mean / scales[1]).clamp(max=1.0))


def state_step_scores(scores, frontend, lengths, n_steps, span, context=None):
    """Per input step, the pooled score of the states whose windows cover it.

    Parameters
    ----------
    scores : torch.Tensor of shape (batch, n_windows)
        A score per state (encoder step), e.g. from ``state_scores``.
    frontend : nn.Module
        The network's front-end: its ``window`` and ``stride`` place each
        state's window on the input steps.
    lengths : torch.Tensor of shape (batch,)
        Valid input steps per sequence.
    n_steps : int
        Input steps of the result.
    span : int
        As in ``future_max``.
    context : tuple, optional
        As in ``pool_steps``.

    Returns
    -------
    steps : torch.Tensor of shape (batch, n_steps)
        The mean over the windows covering each step, pooled ahead by
        ``pool_steps``; zero at padding.
    """
    values = scores.unsqueeze(-1).expand(-1, -1, frontend.window)
    steps, _ = spread_windows(values, frontend.stride, n_steps)
    return pool_steps(steps, lengths, span, context)


def step_scores(
    network, X, lengths, score="forecast", reference=None, span=1, context=None
):
    """Anomaly score of every input step, higher = more anomalous.

    Parameters
    ----------
    network : HiddenStateNetwork
        A unidirectional network with ``objective="next_step"``.
    X : torch.Tensor of shape (batch, n_steps, n_features)
        Padded input.
    lengths : torch.Tensor of shape (batch,)
        Valid input steps per sequence.
    score : {"forecast", "distance", "nearest"}, default="forecast"
        ``"forecast"``: the squared error of the forecast of each step made
        from the state before it (see the module docstring for windows).
        The steps that no state forecasts (the first step, or the first
        ``stride`` steps with a front-end) take the score of the first
        forecast step; a sequence with a single encoder step has no forecast
        and scores 0. ``"distance"``: the squared Mahalanobis distance of each
        state to the training states, divided by the state size.
        ``"nearest"``: the distance of each standardised state to the
        nearest training state.
    reference : tuple of torch.Tensor, optional
        For the state-based scores: see ``state_scores``.
    span : int, default=1
        Each step takes the highest score of it and the ``span - 1`` steps
        after it (``future_max``).
    context : tuple, optional
        A longer mean beside that highest score: see ``pool_steps``.

    Returns
    -------
    scores : torch.Tensor of shape (batch, n_steps)
        Finite at the valid steps, zero at padding.
    """
    frontend, n_steps = network.frontend, X.shape[1]
    if score in STATE_SCORES:
        distances = state_scores(network.hidden_states(X, lengths), score, reference)
        return state_step_scores(distances, frontend, lengths, n_steps, span, context)
    errors = _forecast_errors(network, X, lengths)
    steps, counts = spread_windows(errors, frontend.stride, n_steps, first=1)
    # Fill the unforecast first steps with the first forecast one's score.
    covered = counts > 0
    first = covered.to(torch.int64).argmax(dim=1, keepdim=True)
    has_forecast = covered.any(dim=1, keepdim=True) & (first < lengths[:, None])
    first_score = torch.where(has_forecast, steps.gather(1, first), 0.0)
    steps = torch.where(covered, steps, first_score)
    return pool_steps(steps, lengths, span, context)  # zero at padding


def state_moments(network, X, lengths):
    """A batch's sums of the states and of their outer products.

    Returns
    -------
    moments : torch.Tensor of shape (state_size * (state_size + 1),)
        The sum of the states over every valid encoder step of the batch,
        then the sum of their outer products, flattened; float64.
    """
    # Summed on the CPU in float64 (MPS has no float64); zero at padding.
    states = network.hidden_states(X, lengths).flatten(0, 1).to("cpu", torch.float64)
    return torch.cat([states.sum(dim=0), (states.T @ states).flatten()])
