"""``outputs_after_windows``: every window's prefix of a bidirectional network.

The defining property: row k equals ``prefix_outputs`` on the input steps up
to window k's end, read as a sequence of its own, and the last row the
outputs on the whole series.
"""

import pytest
import torch

from skhidden.nn import HiddenStateNetwork, NetworkEnsemble
from skhidden.nn.prefixes import (
    count_prefixes,
    outputs_after_windows,
    reads_prefixes_once,
)


def _each_prefix(network, x):
    """``prefix_outputs`` of one series ``(1, n_steps, n_features)`` on every
    prefix that ends where a window ends, then on the whole series."""
    n_steps = x.shape[1]
    frontend = network.frontend
    starts = range(0, n_steps, frontend.stride)
    ends = sorted({min(start + frontend.window, n_steps) for start in starts})
    whole = torch.tensor([n_steps])
    return torch.cat(
        [network.prefix_outputs(x[:, :end], torch.tensor([end]), whole) for end in ends]
    )


def _check_each_series(network, X, lengths):
    """Each series' rows against its prefixes read alone, then its whole held."""
    frontend = network.frontend
    with torch.no_grad():
        read = outputs_after_windows(network, X, lengths)
        counts = count_prefixes(lengths, frontend.window, frontend.stride)
        assert read.shape[1] == int(counts.max()) + 1
        for x, length, count, rows in zip(X, lengths, counts, read, strict=True):
            expected = _each_prefix(network, x[None, :length])
            assert len(expected) == count + 1
            read, held = rows[: count + 1], rows[count:]
            torch.testing.assert_close(read, expected, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(held, rows[count].expand_as(held))


@pytest.mark.parametrize(
    "frontend, window, scales",
    [("resnet", 8, (1,)), ("resnet", 5, (1,)), ("resnet", 4, (1, 2)),
     ("conv", 5, (1,)), ("patch", 4, (1,)), ("none", 1, (1,))],
)
@pytest.mark.parametrize("n_steps", [3, 8, 9, 23])
@pytest.mark.parametrize("cell", ["gru", "rnn", "lstm"])
def test_each_row_is_the_prefix_read_alone(frontend, window, scales, n_steps, cell):
    # Windows of 5 steps, 2 apart: a prefix ends inside of the two windows
    # after the last one it covers whole, read with zeros for their missing
    # steps; a stem of several scales reads steps before each window too.
    torch.manual_seed(0)
    network = NetworkEnsemble(
        2, n_features=2, n_outputs=3, cell=cell, hidden_size=6, bidirectional=True,
        aggregation=("max", "last", "attention"), frontend=frontend,
        frontend_window=window, frontend_scales=scales, states="both",
        scaling="feature_running",
    ).eval()
    X = torch.randn(4, n_steps, 2)
    _check_each_series(network, X, torch.full((4,), n_steps))


@pytest.mark.parametrize(
    "frontend, window", [("resnet", 8), ("resnet", 5), ("none", 1)]
)
def test_series_of_other_lengths_read_in_one_batch(frontend, window):
    # Whatever the padding after a series holds, it changes none of its rows;
    # the shorter ones read their whole series once their own prefixes end.
    torch.manual_seed(2)
    network = HiddenStateNetwork(
        2, 3, hidden_size=6, bidirectional=True, aggregation=("max", "attention"),
        frontend=frontend, frontend_window=window, states="both",
    ).eval()
    lengths = torch.tensor([23, 1, 9, 16, 8])
    X = torch.randn(5, 23, 2)
    _check_each_series(network, X, lengths)


def test_heads_at_steps_resolve_fractions_on_the_whole_series():
    torch.manual_seed(1)
    network = HiddenStateNetwork(
        2, 3, hidden_size=5, bidirectional=True, aggregation="timesteps",
        timesteps=(1, 0.5, -1), frontend="resnet", frontend_window=4,
    ).eval()
    lengths = torch.tensor([30, 17, 24])
    X = torch.randn(3, 30, 2)
    _check_each_series(network, X, lengths)


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, True),
        ({"cell": "rnn"}, True),
        ({"bidirectional": False}, False),
        ({"num_layers": 2}, False),
        ({"cell": "lstm"}, True),
        ({"scaling": "sequence_level"}, False),
    ],
)
def test_which_networks_share_the_prefixes_work(params, expected):
    network = HiddenStateNetwork(2, 3, **{"bidirectional": True, **params})
    assert reads_prefixes_once(network) is expected
    assert reads_prefixes_once(NetworkEnsemble(2, n_features=2, **{
        "bidirectional": True, **params})) is expected
