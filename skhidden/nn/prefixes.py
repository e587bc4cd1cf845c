"""Outputs on every window's prefix of a bidirectional network, in one pass.

The staged outputs of a model that reads the future (a bidirectional encoder)
are its outputs on each prefix of a series, read as a sequence of its own
(``HiddenStateNetwork.prefix_outputs``). Reading every prefix from scratch
costs a front-end pass and both directions per prefix. Most of that work is
shared, because everything but the backward direction is causal: the
front-end's window t and the forward state at window t are the same in
every prefix that covers window t. ``outputs_after_windows`` computes them
once per series and runs only the backward direction on each prefix, plus
the front-end on the windows a prefix ends inside of (the windows after the
last one it covers whole, read with their missing steps as zeros, as the
prefix read alone reads them).

This holds for a one-layer encoder with an input scaling that reads no later
step (``reads_prefixes_once``): a second layer would read the first layer's
backward states, which differ from prefix to prefix.
"""

import torch
from torch import nn
from torch.nn import functional as F

from .ensemble import member_networks
from .scaling import PER_SEQUENCE

__all__ = ["count_prefixes", "outputs_after_windows", "reads_prefixes_once"]


def reads_prefixes_once(module):
    """Whether ``outputs_after_windows`` can read ``module``'s prefixes.

    Parameters
    ----------
    module : HiddenStateNetwork or NetworkEnsemble

    Returns
    -------
    bool
        True for a bidirectional one-layer encoder behind an input scaling
        that reads no later step.
    """
    for network in member_networks(module):
        encoder = network.encoder
        if not encoder.bidirectional or len(encoder.layers) != 1:
            return False
        if getattr(encoder.layers[0], "proj_size", 0):
            return False
        if network.scaling.mode in PER_SEQUENCE:
            return False
    return True


def outputs_after_windows(module, X, lengths):
    """Head outputs on each prefix that ends where a window ends, then the whole.

    Parameters
    ----------
    module : HiddenStateNetwork or NetworkEnsemble
        In evaluation mode, with ``reads_prefixes_once(module)``.
    X : torch.Tensor of shape (batch, n_steps, n_features)
        Padded series.
    lengths : torch.Tensor of shape (batch,)
        Valid steps per series.

    Returns
    -------
    outputs : torch.Tensor of shape (batch, n_prefixes + 1, n_views, n_outputs)
        For a series with ``p`` windows that end before its own end
        (``count_prefixes``): rows ``k < p`` are ``prefix_outputs`` on its
        steps up to window k's end, read as a sequence of its own; row ``p``
        and the rows after it, its outputs on the whole series.
        ``n_prefixes`` is the batch's largest ``p``; views stacked as in
        ``forward``.
    """
    return torch.cat(
        [_network_outputs(n, X, lengths) for n in member_networks(module)], dim=-2
    )


def count_prefixes(lengths, window, stride):
    """Windows that end before each series' end: the prefixes read for it.

    Parameters
    ----------
    lengths : torch.Tensor or ndarray of int
        Steps per series.
    window, stride : int
        The front-end's window and stride, in steps.
    """
    return ((lengths - window - 1) // stride + 1).clip(min=0)


def _one_direction(layer, X, hidden=None, reverse=False):
    """One direction of the one-layer ``layer`` over ``X``.

    ``X`` ``(batch, n_steps, input_size)`` is read first step first (flip it
    for the backward direction, ``reverse=True``, whose weights are used);
    ``hidden`` is the state before its first step (``(h, c)`` for an LSTM,
    each ``(1, batch, hidden_size)``), zeros if None.

    Returns
    -------
    states : torch.Tensor of shape (batch, n_steps, hidden_size)
    hidden : torch.Tensor or tuple of torch.Tensor
        The state after the last step, as ``hidden`` is given.
    """
    suffix = "_reverse" if reverse else ""
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if layer.bias else [])
    weights = [getattr(layer, f"{name}_l0{suffix}") for name in names]
    lstm = isinstance(layer, nn.LSTM)
    if hidden is None:
        zeros = X.new_zeros(1, X.shape[0], layer.hidden_size)
        hidden = (zeros, zeros) if lstm else zeros
    # One layer, no dropout, evaluation, one direction, batch first.
    flags = (layer.bias, 1, 0.0, False, False, True)
    if lstm:
        states, h, c = torch.lstm(X, hidden, weights, *flags)
        return states, (h, c)
    if isinstance(layer, nn.GRU):
        run = torch.gru
    else:
        run = torch.rnn_tanh if layer.nonlinearity == "tanh" else torch.rnn_relu
    return run(X, hidden, weights, *flags)


def _network_outputs(network, X, lengths):
    """``outputs_after_windows`` of one ``HiddenStateNetwork``."""
    frontend = network.frontend
    window, stride = frontend.window, frontend.stride
    whole = network.prefix_outputs(X, lengths, lengths)
    X = network.scaling(X, lengths)
    windows, window_lengths = frontend(X, lengths)
    layer = network.encoder.layers[0]
    # Causal: each series' valid states are unaffected by the padding after them.
    ahead, _ = _one_direction(layer, windows)

    def outputs(features, states):
        behind = _one_direction(layer, features.flip(1), reverse=True)[0].flip(1)
        both = torch.cat([states, behind], dim=-1)
        joined = network.join_states([both], features)
        prefix_lengths = torch.full_like(window_lengths, features.shape[1])
        views = network.aggregation.on_prefix(joined, prefix_lengths, window_lengths)
        return network._heads(views)

    # Windows a prefix ends inside of, after the last one it covers whole.
    n_partial = -(-window // stride) - 1
    n_prefixes = count_prefixes(lengths, window, stride)
    rows, context, hidden = [], None, None
    # Rows past a series' own prefixes read its padding; they are replaced below.
    for k in range(int(n_prefixes.max())):
        start, end = k * stride, k * stride + window
        covered = windows[:, : k + 1]
        states = ahead[:, : k + 1]
        if n_partial:
            _, context = frontend.read(X[:, start:end], None, context)
            tail = X[:, start + stride : end]
            missing = (n_partial - 1) * stride + window - tail.shape[1]
            partial = frontend.read(F.pad(tail, (0, 0, 0, missing)), None, context)[0]
            # The forward state after window k; an LSTM's cell state is not
            # among its outputs, so it steps through the windows alongside.
            if isinstance(layer, nn.LSTM):
                hidden = _one_direction(layer, windows[:, k : k + 1], hidden)[1]
            else:
                hidden = ahead[:, k].unsqueeze(0).contiguous()
            covered = torch.cat([covered, partial], dim=1)
            continued = _one_direction(layer, partial, hidden)[0]
            states = torch.cat([states, continued], dim=1)
        rows.append(outputs(covered, states))
    rows.append(whole)
    read = torch.stack(rows, dim=1)
    past = torch.arange(len(rows), device=X.device) >= n_prefixes[:, None]
    return torch.where(past[:, :, None, None], whole[:, None], read)
