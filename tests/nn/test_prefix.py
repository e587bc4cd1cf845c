"""Per-step values of the aggregations and the network (``prefix``, ``staged``).

The defining property: the value after step ``t`` is what the strategy
returns for the first ``t + 1`` steps alone, and nothing after ``t`` moves it.
"""

import pytest
import torch

from skhidden.nn.aggregation import build_aggregation, timestep_indices
from skhidden.nn.encoder import valid_mask
from skhidden.nn.network import HiddenStateNetwork, mean_over_views

POOLED = ["last", "mean", "max", "attention", ("mean", "max", "attention", "last")]
LENGTHS = torch.tensor([9, 4, 1, 6])


@pytest.fixture
def states():
    """Padded states ``(4, 9, 3)``, zero after each sequence's end (as encoded)."""
    values = torch.randn(len(LENGTHS), 9, 3)
    return values * valid_mask(LENGTHS, 9).unsqueeze(-1)


def _truncate(states, lengths, n_steps):
    """The batch as it would be if only its first ``n_steps`` steps existed."""
    return states[:, :n_steps], lengths.clamp(max=n_steps)


@pytest.mark.parametrize("strategy", POOLED)
def test_prefix_at_each_step_equals_the_strategy_on_the_steps_so_far(states, strategy):
    aggregation = build_aggregation(strategy, 3)
    prefix = aggregation.prefix(states, LENGTHS)
    assert prefix.shape == (4, 9, 1, aggregation.output_size)
    for t in range(9):
        expected = aggregation(*_truncate(states, LENGTHS, t + 1))
        torch.testing.assert_close(prefix[:, t], expected)


@pytest.mark.parametrize("strategy", POOLED + ["timesteps"])
def test_prefix_at_the_last_step_equals_forward(states, strategy):
    aggregation = build_aggregation(strategy, 3, timesteps=(0, 0.5, -1))
    torch.testing.assert_close(
        aggregation.prefix(states, LENGTHS)[:, -1], aggregation(states, LENGTHS)
    )


@pytest.mark.parametrize("strategy", POOLED + ["timesteps"])
def test_ended_sequences_keep_their_final_value(states, strategy):
    aggregation = build_aggregation(strategy, 3, timesteps=(0.5, 1.0))
    prefix = aggregation.prefix(states, LENGTHS)
    for b, length in enumerate(LENGTHS.tolist()):
        final = prefix[b, length - 1]
        assert torch.equal(prefix[b, length:], final.expand_as(prefix[b, length:]))


def test_attention_prefix_is_exact_for_scores_thousands_apart(states):
    attention = build_aggregation("attention", 3)
    with torch.no_grad():
        # score = 2000 * tanh(feature 0): about -2000 early, +2000 later on, so a
        # plain exp overflows and a softmax shifted by each sequence's largest
        # score underflows to 0 / 0 in the early prefixes.
        attention.score[0].weight.copy_(torch.eye(3))
        attention.score[0].bias.zero_()
        attention.score[2].weight.copy_(torch.tensor([[2000.0, 0.0, 0.0]]))
    states = states.clone()
    states[:, :3, 0] = -5.0
    states[:, 3:, 0] = 5.0
    states = states * valid_mask(LENGTHS, 9).unsqueeze(-1)
    prefix = attention.prefix(states, LENGTHS)
    assert torch.isfinite(prefix).all()
    for t in range(9):
        torch.testing.assert_close(
            prefix[:, t], attention(*_truncate(states, LENGTHS, t + 1))
        )


def test_timesteps_views_hold_their_step_once_reached(states):
    timesteps = (2, -1)
    aggregation = build_aggregation("timesteps", 3, timesteps=timesteps)
    prefix = aggregation.prefix(states, torch.tensor([9, 9, 9, 9]))
    mask = aggregation.prefix_mask(torch.tensor([9, 9, 9, 9]), 9)
    for t in range(9):
        # view 0 (step 2): the current state until step 2, then step 2's state
        torch.testing.assert_close(prefix[:, t, 0], states[:, min(t, 2)])
        torch.testing.assert_close(prefix[:, t, 1], states[:, t])
    # Before step 2 no view is reached: the earliest one stands in alone.
    assert mask[:, :2].tolist() == [[[True, False]] * 2] * 4
    assert mask[:, 2:8].tolist() == [[[True, False]] * 6] * 4
    assert mask[:, 8].tolist() == [[True, True]] * 4


def test_timesteps_mask_follows_each_sequence_length():
    lengths = torch.tensor([8, 4])
    aggregation = build_aggregation("timesteps", 3, timesteps=(0.5, 1.0))
    mask = aggregation.prefix_mask(lengths, 8)
    index = timestep_indices((0.5, 1.0), lengths)  # [[3, 7], [1, 3]]
    for b in range(2):
        for t in range(8):
            expected = [t >= index[b, 0].item(), t >= index[b, 1].item()]
            if not any(expected):
                expected = [True, False]
            assert mask[b, t].tolist() == expected


def test_mean_over_views_counts_masked_views_only():
    values = torch.tensor([[[1.0, 10.0], [3.0, 30.0], [100.0, 100.0]]])
    mask = torch.tensor([[True, True, False]])
    torch.testing.assert_close(
        mean_over_views(values, mask), torch.tensor([[2.0, 20.0]])
    )
    torch.testing.assert_close(mean_over_views(values), values.mean(dim=1))


def _network(aggregation, **kwargs):
    torch.manual_seed(0)
    return HiddenStateNetwork(
        2,
        3,
        hidden_size=5,
        aggregation=aggregation,
        timesteps=(0.25, 0.5, 1.0),
        **kwargs,
    ).eval()


@pytest.mark.parametrize("aggregation", POOLED + ["timesteps"])
@pytest.mark.parametrize("num_layers, layers", [(1, "last"), (2, "all")])
def test_staged_outputs_do_not_depend_on_later_steps(aggregation, num_layers, layers):
    network = _network(aggregation, num_layers=num_layers, layers=layers, cell="lstm")
    X = torch.randn(4, 9, 2)
    later = X.clone()
    later[:, 5:] = torch.randn(4, 4, 2) * 10
    with torch.no_grad():
        outputs, mask = network.staged(X, LENGTHS)
        changed, changed_mask = network.staged(later, LENGTHS)
        final = network(X, LENGTHS)
    assert outputs.shape == (4, 9, network.aggregation.n_views, 3)
    torch.testing.assert_close(outputs[:, :5], changed[:, :5])
    assert torch.equal(mask, changed_mask)
    torch.testing.assert_close(outputs[:, -1], final)


def test_staged_refuses_a_bidirectional_network():
    network = _network("mean", bidirectional=True)
    with pytest.raises(ValueError, match="bidirectional"):
        network.staged(torch.randn(2, 5, 2), torch.tensor([5, 3]))


@pytest.mark.parametrize("aggregation", ["attention", ("mean", "attention")])
def test_attention_weights_are_a_distribution_zero_on_padding(aggregation):
    network = _network(aggregation)
    with torch.no_grad():
        weights = network.attention_weights(torch.randn(4, 9, 2), LENGTHS)
    mask = valid_mask(LENGTHS, 9)
    assert (weights >= 0).all()
    assert torch.equal(weights[~mask], torch.zeros_like(weights[~mask]))
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(4))


@pytest.mark.parametrize("aggregation", ["mean", "timesteps", ("mean", "max")])
def test_attention_weights_need_attention(aggregation):
    with pytest.raises(ValueError, match="no attention weights"):
        _network(aggregation).attention_weights(
            torch.randn(2, 5, 2), torch.tensor([5, 3])
        )
