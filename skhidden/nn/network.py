"""The whole network: encoder, aggregation and output heads.

``HiddenStateNetwork`` is what the estimators train. Its ``forward`` returns
one output per view, ``(batch, n_views, n_outputs)``, and the loss averages
over views (see ``losses``). Besides ``forward`` it exposes what the
estimators stream to users: ``features`` (the aggregated states),
``hidden_states``, ``staged`` (every head's output after each step, for
early classification) and ``attention_weights``. ``mean_over_views`` combines
the heads' outputs, optionally only those that count.

A front-end (``skhidden.nn.frontend``) may first read the input as a shorter
sequence of windows; every "step" of the states is then a window.

With ``objective="next_step"`` the network is trained without labels: each
forward state predicts the next input step (or window) and each backward
state the previous one, so no direction ever sees its own target.
"""

import torch
from torch import nn

from .aggregation import AttentionPool, Concatenation, build_aggregation
from .encoder import RecurrentEncoder, valid_mask
from .frontend import build_frontend
from .scaling import PER_SEQUENCE, InputScaling

__all__ = ["HiddenStateNetwork", "check_causal", "mean_over_views"]


def mean_over_views(values, mask=None):
    """Mean over the views (heads) axis, optionally over some views only.

    Parameters
    ----------
    values : torch.Tensor of shape (..., n_views, n_outputs)
        One output per view.
    mask : torch.Tensor of shape (..., n_views), bool, optional
        The views that count; every entry needs at least one. None counts all.

    Returns
    -------
    mean : torch.Tensor of shape (..., n_outputs)
    """
    if mask is None:
        return values.mean(dim=-2)
    weights = mask.to(values.dtype).unsqueeze(-1)
    return (values * weights).sum(dim=-2) / weights.sum(dim=-2)


def check_causal(network, what="Per-step predictions"):
    """Raise ValueError unless every output of ``network`` reads past steps only.

    Parameters
    ----------
    network : HiddenStateNetwork
    what : str, default="Per-step predictions"
        What needs the causal model, for the message.
    """
    if network.encoder.bidirectional:
        raise ValueError(
            f"{what} need a causal model, but this one is "
            "bidirectional: its backward direction reads every step of the "
            "sequence. Refit with bidirectional=False."
        )
    if network.scaling.mode in PER_SEQUENCE:
        raise ValueError(
            f"{what} need a causal model, but this one scales "
            f"each sequence with statistics of all its steps "
            f"(scaling={network.scaling.mode!r}). Refit with scaling='feature', "
            "'feature_running' or 'none'."
        )


class HiddenStateNetwork(nn.Module):
    """Recurrent encoder + aggregation of its states + one linear head per view.

    Parameters
    ----------
    n_features : int
        Features per input step.
    n_outputs : int
        Outputs per head: classes for classification, targets for regression.
        Ignored when ``objective="next_step"``.
    cell : {"rnn", "lstm", "gru"}, default="gru"
        Recurrent cell type.
    hidden_size : int, default=64
        Hidden units per direction.
    num_layers : int, default=1
        Stacked recurrent layers.
    bidirectional : bool, default=False
        Read sequences in both directions.
    dropout : float, default=0.0
        Dropout between layers and before the heads.
    aggregation : str or tuple of str, default="mean"
        Strategy, see ``skhidden.nn.aggregation.AGGREGATIONS``.
    timesteps : sequence of int or float, optional
        Selected steps for ``aggregation="timesteps"``.
    layers : {"last", "all"}, default="last"
        Aggregate the top layer's states or all layers' states concatenated.
    objective : {"supervised", "next_step"}, default="supervised"
        What ``forward`` returns: head outputs, or next/previous-step
        predictions for self-supervised training.
    frontend : {"none", "patch", "conv"}, default="none"
        How input steps become encoder steps, see ``skhidden.nn.frontend``.
    frontend_window : int, default=8
        Window (patch) or kernel (conv, resnet) size of the front-end, in steps.
    frontend_blocks : int, default=2
        Residual blocks of the ``"resnet"`` front-end.
    frontend_kernel : int, default=5
        Windows each causal convolution of a ``"resnet"`` block reads.
    frontend_scales : tuple of int, default=(1,)
        Kernels, in windows, of the ``"resnet"`` stem's first convolution:
        ``(1, 2, 4)`` adds kernels of 2 and 4 windows ending where each
        window ends (``skhidden.nn.frontend.ResidualFrontEnd``).
    scaling : {"none", "feature", "sequence", "sequence_level"}, default="none"
        Input standardisation, see ``skhidden.nn.scaling``.
    states : {"recurrent", "both"}, default="recurrent"
        What the aggregation reads at each step: the recurrent states, or the
        recurrent states with the front-end's features of the same window
        concatenated after them (as LSTM-FCN joins its two branches).
    input_mean, input_scale : sequence of float, optional
        Training statistics for ``scaling="feature"``.
    differences : bool, default=False
        Read each step beside its first difference (``InputScaling``).
    """

    def __init__(
        self,
        n_features,
        n_outputs=1,
        cell="gru",
        hidden_size=64,
        num_layers=1,
        bidirectional=False,
        dropout=0.0,
        aggregation="mean",
        timesteps=None,
        layers="last",
        objective="supervised",
        frontend="none",
        frontend_window=8,
        frontend_blocks=2,
        frontend_kernel=5,
        frontend_scales=(1,),
        scaling="none",
        states="recurrent",
        input_mean=None,
        input_scale=None,
        differences=False,
    ):
        super().__init__()
        scaling_options = (input_mean, input_scale, differences)
        self.scaling = InputScaling(n_features, scaling, *scaling_options)
        self.frontend = build_frontend(
            frontend,
            self.scaling.output_size,
            window=frontend_window,
            channels=hidden_size,
            blocks=frontend_blocks,
            kernel_size=frontend_kernel,
            scales=frontend_scales,
        )
        recurrent = (cell, hidden_size, num_layers, bidirectional, dropout)
        self.encoder = RecurrentEncoder(self.frontend.output_size, *recurrent)
        self.all_layers = layers == "all"
        self.with_frontend = states == "both"
        backward = self.encoder.backward_features(num_layers if self.all_layers else 1)
        if self.with_frontend:
            frontend = torch.zeros(self.frontend.output_size, dtype=torch.bool)
            backward = torch.cat([backward, frontend])
        self.aggregation = build_aggregation(
            aggregation, len(backward), backward_features=backward, timesteps=timesteps
        )
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleList(
            nn.Linear(self.aggregation.output_size, n_outputs)
            for _ in range(self.aggregation.n_views)
        )
        self.objective = objective
        if objective == "next_step":
            step_size = self.scaling.output_size * self.frontend.window
            self.next_step = nn.Linear(hidden_size, step_size)
            if bidirectional:
                self.previous_step = nn.Linear(hidden_size, step_size)

    def encode(self, X, lengths):
        """Front-end and encoder: the states the aggregation reads.

        Returns
        -------
        states : torch.Tensor of shape (batch, n_windows, state_size)
            Top layer's states, or all layers' concatenated, then the
            front-end's features if ``states="both"``; zero at padding.
        lengths : torch.Tensor of shape (batch,)
            Valid encoder steps (windows) per sequence.
        """
        X, lengths = self.frontend(self.scaling(X, lengths), lengths)
        layers = self.encoder(X, lengths)
        if self.with_frontend:
            X = X * valid_mask(lengths, X.shape[1]).unsqueeze(-1).to(X.dtype)
        return self.join_states(layers, X), lengths

    def join_states(self, layers, windows):
        """What the aggregation reads, ``(batch, n_windows, aggregated size)``.

        From every layer's states (a list of ``(batch, n_windows,
        state_size)``) and the front-end's features ``windows``, zero at
        padding.
        """
        states = torch.cat(layers, dim=-1) if self.all_layers else layers[-1]
        if self.with_frontend:
            states = torch.cat([states, windows], dim=-1)
        return states

    def hidden_states(self, X, lengths):
        """States that the aggregation reads, ``(batch, n_windows, state_size)``."""
        return self.encode(X, lengths)[0]

    def features(self, X, lengths):
        """Aggregated states, ``(batch, n_views * output_size)``."""
        views = self.aggregation(*self.encode(X, lengths))
        return views.flatten(start_dim=1)

    def _heads(self, views):
        """Each view through its own head.

        ``(..., n_views, output_size) -> (..., n_views, n_outputs)``.
        """
        views = self.dropout(views)
        return torch.stack(
            [head(views[..., i, :]) for i, head in enumerate(self.heads)], dim=-2
        )

    def staged(self, X, lengths):
        """Every head's output after each step, from the steps read so far.

        One pass over the sequences (see ``Aggregation.prefix``). After a
        sequence's end its outputs stay the final ones, so the last step
        equals ``forward``.

        Returns
        -------
        outputs : torch.Tensor of shape (batch, n_steps, n_views, n_outputs)
            Each head's raw output after each step.
        mask : torch.Tensor of shape (batch, n_steps, n_views), bool
            The heads that count after each step (see ``mean_over_views``).

        Raises
        ------
        ValueError
            For a bidirectional encoder, whose backward direction reads the
            future, or a per-sequence input scaling, whose statistics come from
            every step: either way no output depends on the first steps only.
        """
        check_causal(self)
        states, lengths = self.encode(X, lengths)
        outputs = self._heads(self.aggregation.prefix(states, lengths))
        return outputs, self.aggregation.prefix_mask(lengths, states.shape[1])

    def prefix_outputs(self, X, lengths, whole_lengths=None):
        """Head outputs ``(batch, n_views, n_outputs)`` on prefixes, each read alone.

        What ``staged`` gives after a prefix's last step, for a model whose
        outputs read the future (see ``Aggregation.on_prefix``);
        ``whole_lengths``: input steps of each whole series, None if unknown.
        """
        states, lengths = self.encode(X, lengths)
        if whole_lengths is not None:
            whole_lengths = self.frontend.output_lengths(whole_lengths)
        return self._heads(self.aggregation.on_prefix(states, lengths, whole_lengths))

    def attention_pool(self):
        """The aggregation's ``AttentionPool`` (alone or inside a tuple).

        Raises
        ------
        ValueError
            If the aggregation has no attention.
        """
        parts = [self.aggregation]
        if isinstance(self.aggregation, Concatenation):
            parts = list(self.aggregation.strategies)
        for part in parts:
            if isinstance(part, AttentionPool):
                return part
        raise ValueError(
            "This model has no attention weights: its aggregation "
            f"({type(self.aggregation).__name__}) has no 'attention' part. Fit "
            "with aggregation='attention' or a tuple containing it, e.g. "
            "('attention', 'mean')."
        )

    def attention_weights(self, X, lengths):
        """Attention weights ``(batch, n_steps)``: zero on padding, rows sum to 1."""
        return self.attention_pool().weights(*self.encode(X, lengths))

    def forward(self, X, lengths):
        """Outputs for training.

        Returns
        -------
        outputs : torch.Tensor of shape (batch, n_views, n_outputs)
            With ``objective="supervised"``: each head's raw output (logits
            for classification).
        predictions : tuple
            With ``objective="next_step"``: ``(next, previous, lengths,
            targets)``: the predicted next step from each forward state, the
            predicted previous step from each backward state (None if
            unidirectional), the valid steps, and the steps to predict (the
            input, or the raw input each front-end window covers), each
            ``(batch, n_steps, step_size)``.
        """
        if self.objective == "next_step":
            X = self.scaling(X, lengths)
            targets = self.frontend.windows(X, lengths)
            X, lengths = self.frontend(X, lengths)
            top = self.encoder(X, lengths)[-1]
            hidden = self.encoder.hidden_size
            previous = None
            if self.encoder.bidirectional:
                previous = self.previous_step(top[..., hidden:])
            return self.next_step(top[..., :hidden]), previous, lengths, targets
        return self._heads(self.aggregation(*self.encode(X, lengths)))
