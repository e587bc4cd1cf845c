"""Torch modules: aggregation values, masking, and padding invariance."""

import itertools

import numpy as np
import pytest
import torch

from skhidden.nn import HiddenStateNetwork, RecurrentEncoder
from skhidden.nn.aggregation import (
    AttentionPool,
    LastState,
    MaxPool,
    MeanPool,
    timestep_indices,
)
from skhidden.nn.losses import HeadAveragedLoss, NextStepLoss

STRATEGIES = ["last", "mean", "max", "attention", "timesteps", ("mean", "max", "last")]
TIMESTEPS = (0, -1, 0.5, 1.0)


def _padded_batch(rng, lengths, n_features=3):
    X = torch.zeros(len(lengths), max(lengths), n_features)
    for i, length in enumerate(lengths):
        X[i, :length] = torch.as_tensor(
            rng.normal(size=(length, n_features)), dtype=torch.float32
        )
    return X, torch.as_tensor(lengths)


@pytest.fixture
def states():
    """States of 3 sequences of lengths 4, 2, 3 with garbage at padded steps."""
    torch.manual_seed(0)
    values = torch.randn(3, 4, 5)
    values[1, 2:] = 100.0
    values[2, 3:] = 100.0
    return values, torch.tensor([4, 2, 3])


def test_mean_and_max_read_valid_steps_only(states):
    values, lengths = states
    values = values * (torch.arange(4)[None, :, None] < lengths[:, None, None])
    mean = MeanPool(5)(values, lengths)[:, 0]
    maximum = MaxPool(5)(values, lengths)[:, 0]
    for i, length in enumerate(lengths):
        torch.testing.assert_close(mean[i], values[i, :length].mean(0))
        torch.testing.assert_close(maximum[i], values[i, :length].max(0).values)


def test_max_ignores_padding_even_when_states_are_negative():
    values = -torch.ones(1, 3, 2)
    values[0, 2:] = 0.0  # padded step holding a larger value than any valid one
    out = MaxPool(2)(values, torch.tensor([2]))
    torch.testing.assert_close(out, -torch.ones(1, 1, 2))


def test_last_takes_each_sequences_own_last_step(states):
    values, lengths = states
    out = LastState(5)(values, lengths)[:, 0]
    for i, length in enumerate(lengths):
        torch.testing.assert_close(out[i], values[i, length - 1])


def test_last_of_backward_features_is_step_zero(states):
    values, lengths = states
    backward = torch.tensor([False, False, True, True, True])
    out = LastState(5, backward)(values, lengths)[:, 0]
    for i, length in enumerate(lengths):
        torch.testing.assert_close(out[i, :2], values[i, length - 1, :2])
        torch.testing.assert_close(out[i, 2:], values[i, 0, 2:])


def test_attention_weights_are_a_distribution_over_valid_steps(states):
    values, lengths = states
    weights = AttentionPool(5).weights(values, lengths)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(1), torch.ones(3))
    mask = torch.arange(4)[None, :] >= lengths[:, None]
    assert (weights[mask] == 0).all()


def test_timestep_indices_follow_each_sequence_length():
    index = timestep_indices((0, 2, -1, -2, 0.5, 1.0, 0.1), torch.tensor([4, 10, 30]))
    expected = [
        [0, 2, 3, 2, 1, 3, 0],
        [0, 2, 9, 8, 4, 9, 0],
        [0, 2, 29, 28, 14, 29, 2],  # 0.1 * 30 = 3 steps -> index 2, exactly
    ]
    np.testing.assert_array_equal(index.numpy(), expected)


def test_encoder_returns_every_layer_and_zero_padding():
    encoder = RecurrentEncoder(
        3, "lstm", hidden_size=4, num_layers=3, bidirectional=True
    )
    X, lengths = _padded_batch(np.random.default_rng(0), [5, 2])
    states = encoder(X, lengths)
    assert len(states) == 3
    assert all(s.shape == (2, 5, 8) for s in states)
    assert all((s[1, 2:] == 0).all() for s in states)


@pytest.mark.parametrize(
    "cell, bidirectional, aggregation, layers",
    [
        (cell, bidirectional, aggregation, layers)
        for (cell, bidirectional, aggregation), layers in zip(
            itertools.product(["rnn", "lstm", "gru"], [False, True], STRATEGIES),
            itertools.cycle(["last", "all", "last"]),
        )
    ],
)
def test_padding_never_changes_an_output(cell, bidirectional, aggregation, layers):
    """A sequence's outputs are the same alone or padded beside longer ones."""
    torch.manual_seed(0)
    network = HiddenStateNetwork(
        n_features=3,
        n_outputs=4,
        cell=cell,
        hidden_size=6,
        num_layers=2,
        bidirectional=bidirectional,
        aggregation=aggregation,
        timesteps=TIMESTEPS,
        layers=layers,
    ).eval()
    X, lengths = _padded_batch(np.random.default_rng(1), [3, 9, 5, 1])
    with torch.no_grad():
        batched = network(X, lengths)
        features = network.features(X, lengths)
        for i, length in enumerate(lengths.tolist()):
            alone = network(X[i : i + 1, :length], lengths[i : i + 1])
            torch.testing.assert_close(batched[i : i + 1], alone, atol=1e-5, rtol=1e-4)
            alone_features = network.features(X[i : i + 1, :length], lengths[i : i + 1])
            torch.testing.assert_close(
                features[i : i + 1], alone_features, atol=1e-5, rtol=1e-4
            )


def test_garbage_in_padding_never_reaches_an_output():
    for aggregation in ["last", "mean", "max", "attention", ("mean", "max")]:
        network = HiddenStateNetwork(
            3, 2, bidirectional=True, aggregation=aggregation
        ).eval()
        X, lengths = _padded_batch(np.random.default_rng(2), [2, 6])
        noisy = X.clone()
        noisy[0, 2:] = 1e3
        with torch.no_grad():
            torch.testing.assert_close(network(X, lengths), network(noisy, lengths))


def test_head_averaged_loss_equals_mean_of_per_head_losses():
    outputs = torch.randn(4, 3, 5)
    target = torch.tensor([0, 4, 2, 1])
    loss = HeadAveragedLoss(torch.nn.CrossEntropyLoss())(outputs, target)
    per_head = [
        torch.nn.functional.cross_entropy(outputs[:, v], target) for v in range(3)
    ]
    torch.testing.assert_close(loss, torch.stack(per_head).mean())


def test_next_step_loss_uses_only_valid_neighbours():
    X = torch.zeros(2, 4, 1)
    X[0, :, 0] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    X[1, :2, 0] = torch.tensor([5.0, 6.0])
    lengths = torch.tensor([4, 2])
    perfect = torch.zeros(2, 4, 1)
    perfect[0, :3, 0] = torch.tensor([2.0, 3.0, 4.0])
    perfect[1, 0, 0] = 6.0
    perfect[1, 1:, 0] = 999.0  # predictions past the end are never scored
    assert NextStepLoss()((perfect, None, lengths, X)).item() == 0.0
    wrong = perfect.clone()
    wrong[0, 0, 0] = 0.0
    assert NextStepLoss()((wrong, None, lengths, X)).item() == pytest.approx(4.0 / 4)
