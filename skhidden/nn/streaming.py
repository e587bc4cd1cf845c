"""Read series in parts with every state carried, as if each were read whole.

Pure torch: what the estimators' ``stream()`` runs. The series of a batch
advance in lockstep (the estimators stream one).

Defining pieces:

- ``EncoderStream``: the input scaling, the front-end and the recurrent
  encoder of one ``HiddenStateNetwork``. It keeps the scaling's running
  statistics, the scaled steps that do not fill a window yet, the causal
  convolutions' left context and each layer's hidden state, and encodes
  each window once its last input step has arrived.
- ``StagedStream``: the heads' outputs after each window (what
  ``HiddenStateNetwork.staged`` gives on the whole series), from the
  aggregation's running state; a ``NetworkEnsemble``'s members side by side.
- ``final_outputs``: the outputs after a long series' last window (what
  ``forward`` or ``features`` gives), read in parts; how the estimators'
  batch methods read a series too long for one batch.
- ``ScoreStream``: the anomaly score of each input step (what
  ``skhidden.nn.scoring.step_scores`` gives on the whole series), returned
  once every window covering the step has been read.

Each part costs time in proportion to its length and the memory kept
between parts does not grow with the series: a window's worth of steps, the
recurrent and convolutional states, and one running value per aggregation.
``finish()`` reads the last windows, which run past the series' end and read
zeros there, exactly as the batch path pads a sequence.
"""

import torch
from torch.nn import functional as F

from .ensemble import member_networks
from .network import check_causal
from .scoring import (
    STATE_SCORES,
    forecast_errors,
    overlap_add,
    pool_steps,
    state_scores,
)

__all__ = [
    "EncoderStream",
    "ScoreStream",
    "StagedStream",
    "final_outputs",
    "no_outputs",
]


class Encoded:
    """Windows ``start .. start + n - 1`` of a stream, as the network read them.

    Attributes
    ----------
    start : int
        Index of the first window.
    steps : torch.Tensor of shape (batch, (n - 1) * stride + window, n_scaled)
        The scaled input steps the windows cover.
    windows : torch.Tensor of shape (batch, n, frontend.output_size)
        The front-end's features.
    layers : list of torch.Tensor of shape (batch, n, state_size)
        Every layer's states.
    """

    def __init__(self, start, steps, windows, layers):
        self.start, self.steps = start, steps
        self.windows, self.layers = windows, layers


class EncoderStream:
    """Scaling, front-end and encoder of one network over series read in parts.

    Parameters
    ----------
    network : HiddenStateNetwork
        In evaluation mode; causal (see ``skhidden.nn.network.check_causal``).

    Attributes
    ----------
    n_steps : int
        Input steps read.
    n_windows : int
        Windows encoded.
    finished : bool
        Whether ``finish`` was called.
    """

    def __init__(self, network):
        check_causal(network, "Streamed outputs")
        self.network = network
        self.stride, self.window = network.frontend.stride, network.frontend.window
        self.n_steps = self.n_windows = 0
        self.finished = False
        self._scaling = self._frontend = self._hidden = self._pending = None

    def update(self, X):
        """Read the next steps; encode the windows they complete.

        Parameters
        ----------
        X : torch.Tensor of shape (batch, n_steps, n_features)
            The next steps of each series.

        Returns
        -------
        encoded : Encoded or None
            None when no window was completed.
        """
        if self.finished:
            raise ValueError("This stream is finished: start a new one with stream().")
        if X.shape[1] == 0:
            return None
        self.n_steps += X.shape[1]
        scaled, self._scaling = self.network.scaling.running(X, self._scaling)
        if self._pending is not None:
            scaled = torch.cat([self._pending, scaled], dim=1)
        n = max(0, (scaled.shape[1] - self.window) // self.stride + 1)
        self._pending = scaled[:, n * self.stride :]
        if n == 0:
            return None
        return self._encode(scaled[:, : (n - 1) * self.stride + self.window])

    def finish(self):
        """Encode the last windows, which run past the end and read zeros there.

        Returns
        -------
        encoded : Encoded or None
            None when every window is complete (or nothing was read).
        """
        self.finished = True
        n = -(-self.n_steps // self.stride) - self.n_windows
        if n <= 0:
            return None
        needed = (n - 1) * self.stride + self.window
        steps = F.pad(self._pending, (0, 0, 0, needed - self._pending.shape[1]))
        self._pending = None
        return self._encode(steps)

    def _encode(self, steps):
        network = self.network
        windows, self._frontend = network.frontend.read(steps, None, self._frontend)
        layers, self._hidden = network.encoder.running(windows, self._hidden)
        encoded = Encoded(self.n_windows, steps, windows, layers)
        self.n_windows += windows.shape[1]
        return encoded


class StagedStream:
    """Every head's output after each window of series read in parts.

    Parameters
    ----------
    module : HiddenStateNetwork or NetworkEnsemble
        A supervised, causal network in evaluation mode, or an ensemble of them.
    heads : bool, default=True
        Return the heads' outputs; False: the aggregated views they read
        (``(batch, n_new_windows, n_views, output_size)``, what
        ``features`` flattens).

    Raises
    ------
    ValueError
        For a model whose outputs read the future (bidirectional, per-sequence
        scaling) or whose aggregation depends on the series' length
        (fractions or negative ``timesteps``).
    """

    def __init__(self, module, heads=True):
        self.members = member_networks(module)
        self.heads = heads
        self._encoders = [EncoderStream(m) for m in self.members]
        for member in self.members:
            member.aggregation.check_running()
        self._carries = [None] * len(self.members)

    @property
    def n_steps(self):
        """Input steps read."""
        return self._encoders[0].n_steps

    def update(self, X):
        """Read the next steps; outputs after each window they complete.

        Parameters
        ----------
        X : torch.Tensor of shape (batch, n_steps, n_features)

        Returns
        -------
        outputs : torch.Tensor of shape (batch, n_new_windows, n_views, n_outputs)
            Each head's raw output, as ``HiddenStateNetwork.staged``; the
            members' views side by side for an ensemble.
        mask : torch.Tensor of shape (batch, n_new_windows, n_views), bool
            The heads that count (see ``mean_over_views``).
        """
        return self._outputs([e.update(X) for e in self._encoders], X)

    def finish(self):
        """Outputs after the last windows, which run past the series' end.

        Returns
        -------
        outputs, mask : torch.Tensor
            As ``update``; no windows (zero rows) when none was left.
        """
        return self._outputs([e.finish() for e in self._encoders], None)

    def _outputs(self, encoded, X):
        if encoded[0] is None:
            return self._empty(X)
        outputs, masks = [], []
        for i, (member, part) in enumerate(zip(self.members, encoded, strict=True)):
            states = member.join_states(part.layers, part.windows)
            views, self._carries[i] = member.aggregation.running(
                states, self._carries[i]
            )
            outputs.append(member._heads(views) if self.heads else views)
            batch, n = states.shape[:2]
            masks.append(
                member.aggregation.running_mask(part.start, n, batch, states.device)
            )
        return torch.cat(outputs, dim=-2), torch.cat(masks, dim=-1)

    def _empty(self, X):
        return no_outputs(self.members, 1 if X is None else X.shape[0], self.heads)


def no_outputs(members, batch, heads=True):
    """Zero windows of outputs ``(batch, 0, n_views, n_outputs)`` and their mask.

    The shapes ``StagedStream`` returns when a part completes no window, for
    the networks ``members`` (an ensemble's, or one network's).
    """
    reference = members[0].heads[0].weight
    n_views = sum(m.aggregation.n_views for m in members)
    n_outputs = reference.shape[0] if heads else reference.shape[1]
    outputs = reference.new_zeros(batch, 0, n_views, n_outputs)
    mask = torch.zeros(batch, 0, n_views, dtype=torch.bool, device=reference.device)
    return outputs, mask


def final_outputs(module, X, chunk, heads=True):
    """What ``module(X)`` (or, without heads, ``module.features(X)``) gives.

    For one long series ``X`` ``(1, n_steps, n_features)``, read ``chunk``
    steps at a time through a ``StagedStream``: the outputs after its last
    window, in memory that does not grow with the series.

    Returns
    -------
    outputs : torch.Tensor
        ``(1, n_views, n_outputs)`` with heads, else ``(1, n_views *
        output_size)``.
    """
    stream, last = StagedStream(module, heads=heads), None
    for i in [*range(0, X.shape[1], chunk), None]:  # None: the series has ended
        part = None if i is None else X[:, i : i + chunk]
        outputs, _ = stream.finish() if part is None else stream.update(part)
        if outputs.shape[1]:
            last = outputs[:, -1]
    return last if heads else last.flatten(start_dim=1)


class ScoreStream:
    """The anomaly score of every input step of series read in parts.

    A step's score is returned once every window that covers it has been
    read (with a front-end of overlapping windows, a few steps after it);
    the steps no state forecasts (``score="forecast"``: the first step, or
    the first stride of steps) wait for the first forecast step's score,
    which they take; with ``span > 1`` each step also waits for the
    ``span - 1`` steps after it (with a ``context``, for the longer of the
    two spans). ``finish`` returns the rest.

    Parameters
    ----------
    network : HiddenStateNetwork
        Causal, with ``objective="next_step"``, in evaluation mode.
    score : {"forecast", "distance", "nearest"}, default="forecast"
        See ``skhidden.nn.scoring.step_scores``.
    reference : tuple of torch.Tensor, optional
        What the training states give, for the state-based scores (see
        ``skhidden.nn.scoring.state_scores``).
    span : int, default=1
        A step's score is the highest of it and the ``span - 1`` steps
        after it (``skhidden.nn.scoring.future_max``), so it is returned
        ``span - 1`` steps later.
    context : tuple, optional
        ``(context_span, scales)``, as ``skhidden.nn.scoring.pool_steps``
        takes it: each step also waits for the ``context_span - 1`` after it.
    """

    def __init__(self, network, score="forecast", reference=None, span=1, context=None):
        self._encoder = EncoderStream(network)
        self.network, self.score, self.reference = network, score, reference
        self.span, self.context = span, context
        self._ahead = max(span, 1 if context is None else context[0]) - 1
        self._sums = self._counts = self._forecast = None
        self._held = None  # scores of steps awaiting the span after them
        self._batch = 1
        self.n_scored = 0  # input steps whose unpooled scores are known

    @property
    def n_steps(self):
        """Input steps read."""
        return self._encoder.n_steps

    def update(self, X):
        """Read the next steps; scores of the steps that became final.

        Parameters
        ----------
        X : torch.Tensor of shape (batch, n_steps, n_features)

        Returns
        -------
        scores : torch.Tensor of shape (batch, n_new_scores)
            Scores of input steps ``n_scored`` onwards, in order.
        """
        self._batch = X.shape[0]
        self._add(self._encoder.update(X))
        return self._pool(self._emit(self._encoder.n_windows * self._encoder.stride))

    def finish(self):
        """Scores of every step not returned yet, up to the series' end.

        Returns
        -------
        scores : torch.Tensor of shape (batch, n_remaining)
        """
        self._add(self._encoder.finish())
        return self._pool(self._emit(self._encoder.n_steps, final=True), final=True)

    def _pool(self, scores, final=False):
        """``pool_steps`` of the steps whose pooling spans' scores are known.

        The others are held until they are, or until ``finish`` (``final``),
        where the steps left pool what remains, as in the batch scores.
        """
        if self.span == 1 and self.context is None:
            return scores
        if self._held is not None:
            scores = torch.cat([self._held, scores], dim=1)
        n_steps = scores.shape[1]
        ready = n_steps if final else max(n_steps - self._ahead, 0)
        lengths = torch.full((len(scores),), n_steps, device=scores.device)
        self._held = scores[:, ready:]
        return pool_steps(scores, lengths, self.span, self.context)[:, :ready]

    def _add(self, encoded):
        """Add the windows' values to the sums of the steps they cover."""
        if encoded is None:
            return
        network, first = self.network, encoded.start
        if self.score in STATE_SCORES:
            states = network.join_states(encoded.layers, encoded.windows)
            distances = state_scores(states, self.score, self.reference)
            values = distances.unsqueeze(-1).expand(-1, -1, self._encoder.window)
        else:
            forecasts = network.next_step(
                encoded.layers[-1][..., : network.encoder.hidden_size]
            )
            targets = network.frontend.window_values(encoded.steps)
            if self._forecast is None:  # window 0 is forecast by no state
                previous, targets, first = forecasts[:, :-1], targets[:, 1:], first + 1
            else:
                previous = torch.cat([self._forecast, forecasts[:, :-1]], dim=1)
            self._forecast = forecasts[:, -1:]
            if targets.shape[1] == 0:
                return
            values = forecast_errors(network.frontend, previous, targets)
        sums, counts = overlap_add(values, self._encoder.stride)
        offset = first * self._encoder.stride - self.n_scored
        size = offset + sums.shape[1]
        if self._sums is None:
            self._sums, self._counts = sums.new_zeros(len(sums), 0), counts.new_zeros(0)
        grow = size - self._sums.shape[1]
        if grow > 0:
            self._sums = F.pad(self._sums, (0, grow))
            self._counts = F.pad(self._counts, (0, grow))
        self._sums[:, offset:size] += sums
        self._counts[offset:size] += counts

    def _emit(self, ready, final=False):
        """Scores of steps ``n_scored .. ready - 1``, whose windows are all read."""
        n = min(ready, self._encoder.n_steps) - self.n_scored
        if self._sums is None:
            # Nothing forecast yet, or ever (a series of one window scores 0).
            device = next(self.network.parameters()).device
            scores = torch.zeros(self._batch, n if final else 0, device=device)
            self.n_scored += scores.shape[1]
            return scores
        scores = self._sums[:, :n] / self._counts[:n].clamp_min(1)
        if self.n_scored == 0 and self.score == "forecast":
            # The first steps take the score of the first forecast one.
            first = self._encoder.stride
            if n <= first:  # that score is not known yet
                return scores[:, :0]
            scores[:, :first] = scores[:, first : first + 1]
        self._sums, self._counts = self._sums[:, n:], self._counts[n:]
        self.n_scored += n
        return scores
