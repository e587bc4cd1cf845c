"""Aggregation strategies: how a sequence of hidden states becomes a summary.

Every strategy is a small module called as ``strategy(states, lengths)`` on the
encoder's padded states ``(batch, n_steps, state_size)`` and returns
``(batch, n_views, output_size)``: one view for pooled strategies, one per
selected step for ``"timesteps"`` (each view gets its own output head). Every
strategy reads only each sequence's valid steps.

Every strategy also has ``prefix(states, lengths)``: the value it would
return after each step from the steps read so far, ``(batch, n_steps, n_views,
output_size)``, computed in one pass over the states (not one pass per step).
After a sequence's last valid step its value stays the final one, so the
prefix at the last padded step equals ``forward``. ``prefix_mask`` says which
views count after each step (all of them except for ``"timesteps"``, whose
heads only count once their step has been read). Prefixes read the states as
causal: they assume forward-only states, since a backward direction has read
the future.

``AGGREGATIONS`` maps names to classes; adding a strategy is adding a
subclass of ``Aggregation`` (``forward`` and ``_prefix``) there.
``build_aggregation`` turns a name or a tuple of names into a module.
"""

import inspect

import torch
from torch import nn

from .encoder import valid_mask

__all__ = [
    "AGGREGATIONS",
    "Aggregation",
    "AttentionPool",
    "Concatenation",
    "LastState",
    "MaxPool",
    "MeanPool",
    "TimestepSelect",
    "build_aggregation",
    "hold_final",
    "timestep_indices",
]


def _gather_steps(states, index):
    """Pick ``states[b, index[b, v]]`` -> ``(batch, n_views, state_size)``."""
    index = index.unsqueeze(-1).expand(-1, -1, states.shape[-1])
    return states.gather(1, index)


def hold_final(values, lengths):
    """Repeat each sequence's value at its last valid step over its padding.

    Parameters
    ----------
    values : torch.Tensor of shape (batch, n_steps, ...)
        A value per step.
    lengths : torch.Tensor of shape (batch,)
        Valid steps per sequence.

    Returns
    -------
    held : torch.Tensor of the same shape
        ``values[b, min(t, lengths[b] - 1)]``.
    """
    steps = torch.arange(values.shape[1], device=lengths.device)
    index = torch.minimum(steps[None, :], (lengths - 1)[:, None])
    index = index.view(*index.shape, *([1] * (values.dim() - 2))).expand_as(values)
    return values.gather(1, index)


class Aggregation(nn.Module):
    """Base of the strategies: one view, every view counts at every step.

    Subclasses implement ``forward`` and ``_prefix`` (the per-step value,
    ``(batch, n_steps, n_views, output_size)``, which may hold anything after
    a sequence's end).

    Parameters
    ----------
    state_size : int
        Features per step of the aggregated states; a pooled vector has as
        many unless a subclass sets ``output_size`` otherwise.
    """

    n_views = 1

    def __init__(self, state_size):
        super().__init__()
        self.output_size = state_size

    def prefix(self, states, lengths):
        """Value after each step, from that step and the ones before it only.

        Parameters
        ----------
        states : torch.Tensor of shape (batch, n_steps, state_size)
            Forward-only states, zero at padded steps.
        lengths : torch.Tensor of shape (batch,)
            Valid steps per sequence.

        Returns
        -------
        values : torch.Tensor of shape (batch, n_steps, n_views, output_size)
            ``values[:, t]`` is what ``forward`` returns for the first
            ``t + 1`` steps; after a sequence's end, its final value.
        """
        return hold_final(self._prefix(states, lengths), lengths)

    def prefix_mask(self, lengths, n_steps):
        """Which views count after each step, ``(batch, n_steps, n_views)`` bool."""
        return torch.ones(
            len(lengths), n_steps, self.n_views, dtype=torch.bool, device=lengths.device
        )


class LastState(Aggregation):
    """State at each sequence's last valid step.

    For features computed by a backward direction the "last" state is the one
    at step 0, where that direction has read the whole sequence.

    Parameters
    ----------
    state_size : int
        Features per step of the aggregated states.
    backward_features : torch.Tensor of shape (state_size,), bool, optional
        True for features produced by a backward direction.
    """

    def __init__(self, state_size, backward_features=None):
        super().__init__(state_size)
        if backward_features is None:
            backward_features = torch.zeros(state_size, dtype=torch.bool)
        self.register_buffer("backward_features", backward_features, persistent=False)

    def forward(self, states, lengths):
        last = _gather_steps(states, (lengths - 1).unsqueeze(1))
        return torch.where(self.backward_features, states[:, :1], last)

    def _prefix(self, states, lengths):
        return states.unsqueeze(2)


class MeanPool(Aggregation):
    """Mean of the states over each sequence's valid steps.

    Parameters
    ----------
    state_size : int
        Features per step of the aggregated states.
    """

    def forward(self, states, lengths):
        # Padded steps hold zeros, so a plain sum counts valid steps only.
        total = states.sum(dim=1, keepdim=True)
        return total / lengths.view(-1, 1, 1).to(states.dtype)

    def _prefix(self, states, lengths):
        counts = torch.arange(1, states.shape[1] + 1, device=states.device)
        return (
            states.cumsum(dim=1) / counts.view(1, -1, 1).to(states.dtype)
        ).unsqueeze(2)


class MaxPool(Aggregation):
    """Element-wise maximum of the states over each sequence's valid steps.

    Parameters
    ----------
    state_size : int
        Features per step of the aggregated states.
    """

    def forward(self, states, lengths):
        mask = valid_mask(lengths, states.shape[1]).unsqueeze(-1)
        masked = states.masked_fill(~mask, -torch.inf)
        return masked.amax(dim=1, keepdim=True)

    def _prefix(self, states, lengths):
        return torch.cummax(states, dim=1).values.unsqueeze(2)


class AttentionPool(Aggregation):
    """Attention-weighted sum of the states, weights learned and masked.

    A score ``v' tanh(W h_t)`` is computed for every valid step; the weights
    are the softmax of the scores over the valid steps only.

    Parameters
    ----------
    state_size : int
        Features per step of the aggregated states.
    """

    def __init__(self, state_size):
        super().__init__(state_size)
        self.score = nn.Sequential(
            nn.Linear(state_size, state_size),
            nn.Tanh(),
            nn.Linear(state_size, 1, bias=False),
        )

    def _masked_scores(self, states, lengths):
        scores = self.score(states).squeeze(-1)
        mask = valid_mask(lengths, states.shape[1])
        return scores.masked_fill(~mask, -torch.inf)

    def weights(self, states, lengths):
        """Attention weights ``(batch, n_steps)``: zero on padding, rows sum to 1."""
        return torch.softmax(self._masked_scores(states, lengths), dim=1)

    def forward(self, states, lengths):
        weights = self.weights(states, lengths)
        return torch.bmm(weights.unsqueeze(1), states)

    def _prefix(self, states, lengths):
        # The softmax-weighted mean over steps <= t for every t, as ratios of
        # running log-sum-exps: exact for scores of any size, O(n_steps) memory.
        # Logarithms need positive values, so positive and negative parts of
        # the states are summed apart.
        scores = self._masked_scores(states, lengths).double().unsqueeze(-1)
        log_total = torch.logcumsumexp(scores, dim=1)

        def running_mean(part):
            return torch.exp(
                torch.logcumsumexp(scores + torch.log(part), dim=1) - log_total
            )

        values = states.double()
        mean = running_mean(values.clamp(min=0)) - running_mean((-values).clamp(min=0))
        return mean.to(states.dtype).unsqueeze(2)


def timestep_indices(timesteps, lengths):
    """Step index of each selected step in each sequence.

    Parameters
    ----------
    timesteps : sequence of int or float
        An int ``t >= 0`` is step ``t``, a negative int counts from each
        sequence's own end (-1 is the last step), a float ``f`` in (0, 1] is
        step ``ceil(f * length) - 1``, i.e. the step that ends the first
        fraction ``f`` of the sequence.
    lengths : torch.Tensor of shape (batch,)
        Valid steps per sequence.

    Returns
    -------
    index : torch.Tensor of shape (batch, len(timesteps)), int64
    """
    columns = []
    for step in timesteps:
        if isinstance(step, float):
            # The small offset keeps f * length exact when it is a whole number
            # (0.1 * 30 is 3.0000000000000004 in floating point).
            position = torch.ceil(lengths.double() * step - 1e-9).long() - 1
        elif step < 0:
            position = lengths + step
        else:
            position = torch.full_like(lengths, step)
        columns.append(position)
    return torch.stack(columns, dim=1)


class TimestepSelect(Aggregation):
    """States at selected steps, one view (and so one output head) per step.

    This is direct access to intermediate states: each selected step's state
    is fed to its own head, and the heads' outputs are combined.

    After step ``t`` a view holds the state at its own step once that step
    has been read (``t >= step``), and the current state ``h_t`` before. Only
    the views whose step has been read count (``prefix_mask``); before the
    earliest selected step, the earliest view counts alone, so the prediction
    there is the earliest head applied to the current state. Fractions and
    negative steps refer to each sequence's full length.

    Parameters
    ----------
    state_size : int
        Features per step of the aggregated states.
    timesteps : sequence of int or float
        The selected steps, see :func:`timestep_indices`.
    """

    def __init__(self, state_size, timesteps):
        super().__init__(state_size)
        self.timesteps = tuple(timesteps)
        self.n_views = len(self.timesteps)

    def forward(self, states, lengths):
        return _gather_steps(states, timestep_indices(self.timesteps, lengths))

    def _prefix(self, states, lengths):
        steps = torch.arange(states.shape[1], device=states.device)
        index = torch.minimum(
            steps[None, :, None], timestep_indices(self.timesteps, lengths)[:, None, :]
        )
        batch, n_steps, n_views = index.shape
        picked = _gather_steps(states, index.flatten(start_dim=1))
        return picked.view(batch, n_steps, n_views, -1)

    def prefix_mask(self, lengths, n_steps):
        index = timestep_indices(self.timesteps, lengths)
        steps = torch.arange(n_steps, device=lengths.device)
        reached = steps[None, :, None] >= index[:, None, :]
        earliest = index == index.amin(dim=1, keepdim=True)
        # Before any selected step is read, the earliest view stands in.
        return reached | (earliest[:, None, :] & ~reached.any(dim=2, keepdim=True))


class Concatenation(Aggregation):
    """Several pooled strategies side by side, their vectors concatenated.

    Parameters
    ----------
    strategies : list of nn.Module
        Single-view strategies.
    """

    def __init__(self, strategies):
        super().__init__(sum(s.output_size for s in strategies))
        self.strategies = nn.ModuleList(strategies)

    def forward(self, states, lengths):
        return torch.cat([s(states, lengths) for s in self.strategies], dim=-1)

    def _prefix(self, states, lengths):
        return torch.cat([s.prefix(states, lengths) for s in self.strategies], dim=-1)


AGGREGATIONS = {
    "last": LastState,
    "mean": MeanPool,
    "max": MaxPool,
    "attention": AttentionPool,
    "timesteps": TimestepSelect,
}


def build_aggregation(strategy, state_size, *, backward_features=None, timesteps=None):
    """Build the module for a strategy name or a tuple of names.

    Parameters
    ----------
    strategy : str or tuple of str
        A key of ``AGGREGATIONS``, or a tuple of pooled strategies whose
        vectors are concatenated.
    state_size : int
        Features per step of the aggregated states.
    backward_features : torch.Tensor of shape (state_size,), bool, optional
        Features produced by a backward direction (used by ``"last"``).
    timesteps : sequence of int or float, optional
        Selected steps (used by ``"timesteps"``).

    Returns
    -------
    module : nn.Module
    """
    if isinstance(strategy, tuple):
        return Concatenation(
            [
                build_aggregation(
                    s,
                    state_size,
                    backward_features=backward_features,
                    timesteps=timesteps,
                )
                for s in strategy
            ]
        )
    cls = AGGREGATIONS[strategy]
    options = {
        "state_size": state_size,
        "backward_features": backward_features,
        "timesteps": timesteps,
    }
    accepted = inspect.signature(cls).parameters
    return cls(**{k: v for k, v in options.items() if k in accepted})
