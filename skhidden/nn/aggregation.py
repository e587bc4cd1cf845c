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

``running(states, carry)`` is the same prefix over a series read in parts:
the values after each of the next steps, given what the steps before left
(``carry``, None at the start), and the carry for the steps after; a
strategy's ``_prefix`` is its ``running`` on the whole batch, so both paths
are one piece of code. Memory stays one state per series (a running sum,
maximum or log-sum-exp), whatever the series' length. ``running_mask``
gives ``prefix_mask``'s views for those steps.

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

    Subclasses implement ``forward`` and ``running`` (the per-step value over
    a series read in parts), or ``_prefix`` (the per-step value,
    ``(batch, n_steps, n_views, output_size)``, which may hold anything after
    a sequence's end) where the prefix depends on the lengths.

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

    def _prefix(self, states, lengths):
        # Values after a sequence's end are replaced by hold_final.
        return self.running(states)[0]

    def running(self, states, carry=None):
        """Values after each of the next steps of series read in parts.

        Parameters
        ----------
        states : torch.Tensor of shape (batch, n_steps, state_size)
            Forward-only states of the next steps, all valid.
        carry : object, optional
            What the call on the steps before returned; None at the start.

        Returns
        -------
        values : torch.Tensor of shape (batch, n_steps, n_views, output_size)
            Equal to ``prefix`` on the whole series at these steps.
        carry : object
            For the call on the steps that follow.
        """
        raise NotImplementedError

    def check_running(self):
        """Raise ValueError if ``running`` cannot read series in parts."""

    def on_prefix(self, states, lengths, whole_lengths=None):
        """Views of sequences that are prefixes of longer series.

        What ``prefix`` gives after each sequence's last step, for states
        that read the future (a bidirectional encoder): each prefix has been
        read as a sequence of its own. A pooled view is ``forward``'s.

        Parameters
        ----------
        states : torch.Tensor of shape (batch, n_steps, state_size)
            States of the prefixes, zero at padding.
        lengths : torch.Tensor of shape (batch,)
            Valid steps per prefix.
        whole_lengths : torch.Tensor of shape (batch,), optional
            Valid steps of the whole series; None while it is not known.

        Returns
        -------
        views : torch.Tensor of shape (batch, n_views, output_size)
        """
        return self(states, lengths)

    def prefix_mask(self, lengths, n_steps):
        """Which views count after each step, ``(batch, n_steps, n_views)`` bool."""
        return self.running_mask(0, n_steps, len(lengths), lengths.device)

    def running_mask(self, start, n_steps, batch, device=None):
        """``prefix_mask`` at steps ``start`` to ``start + n_steps - 1``.

        For series read in parts, whose lengths are not known yet.
        """
        return torch.ones(batch, n_steps, self.n_views, dtype=torch.bool, device=device)


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

    def running(self, states, carry=None):
        return states.unsqueeze(2), None


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

    def running(self, states, carry=None):
        total, count = (0.0, 0) if carry is None else carry
        # float64 sums: a float32 running sum stops growing on long series.
        sums = states.double().cumsum(dim=1) + total
        counts = torch.arange(
            count + 1, count + states.shape[1] + 1, device=states.device
        ).view(1, -1, 1)
        mean = (sums / counts).to(states.dtype).unsqueeze(2)
        return mean, (sums[:, -1:], count + states.shape[1])


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

    def running(self, states, carry=None):
        values = torch.cummax(states, dim=1).values
        if carry is not None:
            values = torch.maximum(values, carry)
        return values.unsqueeze(2), values[:, -1:]


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

    def running(self, states, carry=None):
        # The softmax-weighted mean over steps <= t for every t, as ratios of
        # running log-sum-exps: exact for scores of any size, O(n_steps) memory.
        # Logarithms need positive values, so positive and negative parts of
        # the states are summed apart; the carry is the three log-sums so far.
        scores = self.score(states).double()
        values = states.double()
        logs = [
            torch.logcumsumexp(x, dim=1)
            for x in (
                scores,
                scores + torch.log(values.clamp(min=0)),
                scores + torch.log((-values).clamp(min=0)),
            )
        ]
        if carry is not None:
            logs = [torch.logaddexp(x, c) for x, c in zip(logs, carry, strict=True)]
        log_total, positive, negative = logs
        mean = torch.exp(positive - log_total) - torch.exp(negative - log_total)
        return mean.to(states.dtype).unsqueeze(2), [x[:, -1:] for x in logs]


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


def _reached(steps, index):
    """Which views count after each of ``steps``, ``(batch, n_steps, n_views)``.

    A view counts once its step (``index``, ``(batch, n_views)``) is read.
    """
    reached = steps[None, :, None] >= index[:, None, :]
    earliest = index == index.amin(dim=1, keepdim=True)
    # Before any selected step is read, the earliest view stands in.
    return reached | (earliest[:, None, :] & ~reached.any(dim=2, keepdim=True))


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
        return _reached(torch.arange(n_steps, device=lengths.device), index)

    def check_running(self):
        self._fixed_steps()

    def on_prefix(self, states, lengths, whole_lengths=None):
        """Each view's state at its step once the prefix reaches it, the last before.

        Fractions and steps counted from the end are resolved on
        ``whole_lengths``; without it (a series read in parts) only fixed
        steps are allowed. See ``Aggregation.on_prefix``.
        """
        if whole_lengths is None:
            index = self._fixed_steps().to(states.device).expand(len(states), -1)
        else:
            index = timestep_indices(self.timesteps, whole_lengths)
        return _gather_steps(states, torch.minimum(index, (lengths - 1)[:, None]))

    def _fixed_steps(self):
        """The selected steps as a tensor; ValueError unless they are fixed steps."""
        if any(isinstance(step, float) or step < 0 for step in self.timesteps):
            raise ValueError(
                f"timesteps={list(self.timesteps)} holds fractions of the length "
                "or steps counted from the end, which a series read in parts "
                "does not know yet. Refit with steps counted from the start "
                "(ints >= 0) to stream."
            )
        return torch.tensor(self.timesteps)

    def running(self, states, carry=None):
        """Each view's state once its step is read, the current state before.

        Fixed steps only (ints >= 0): fractions and negative steps depend on
        the length of the whole series.
        """
        start, held = (0, None) if carry is None else carry
        batch, n_steps, _ = states.shape
        index = self._fixed_steps().to(states.device)
        steps = torch.arange(start, start + n_steps, device=states.device)
        local = (torch.minimum(steps[:, None], index[None, :]) - start).clamp_min(0)
        picked = _gather_steps(states, local.flatten()[None].expand(batch, -1))
        picked = picked.view(batch, n_steps, self.n_views, -1)
        if held is not None:  # views whose step was read before this part
            before = (index < start).view(1, 1, -1, 1)
            picked = torch.where(before, held[:, None], picked)
        return picked, (start + n_steps, picked[:, -1])

    def running_mask(self, start, n_steps, batch, device=None):
        index = self._fixed_steps().to(device)
        steps = torch.arange(start, start + n_steps, device=device)
        return _reached(steps, index.expand(batch, -1))


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

    def check_running(self):
        for strategy in self.strategies:
            strategy.check_running()

    def running(self, states, carry=None):
        if carry is None:
            carry = [None] * len(self.strategies)
        parts = [
            s.running(states, c) for s, c in zip(self.strategies, carry, strict=True)
        ]
        return torch.cat([p[0] for p in parts], dim=-1), [p[1] for p in parts]


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
