"""Front-ends: window counts, values, and padding invariance."""

import pytest
import torch

from skhidden.nn.frontend import FRONTENDS, build_frontend


@pytest.mark.parametrize("name", sorted(FRONTENDS))
@pytest.mark.parametrize("window", [1, 3, 8])
def test_windows_are_the_same_alone_or_batched(name, window):
    torch.manual_seed(0)
    # In evaluation mode: batch normalisation (the "resnet" stem) then uses
    # its running statistics, a per-window map.
    frontend = build_frontend(name, 2, window=window, channels=5).eval()
    lengths = torch.tensor([21, 5, 1, 8])
    X = torch.randn(4, 21, 2)  # garbage after each sequence's end
    batched, new_lengths = frontend(X, lengths)
    for i, length in enumerate(lengths.tolist()):
        alone, alone_length = frontend(X[i : i + 1, :length], lengths[i : i + 1])
        assert alone_length.item() == new_lengths[i].item()
        torch.testing.assert_close(alone[0], batched[i, : new_lengths[i]])


def test_patch_flattens_consecutive_steps():
    frontend = build_frontend("patch", 2, window=3)
    X = torch.arange(14.0).reshape(1, 7, 2)
    out, lengths = frontend(X, torch.tensor([7]))
    assert lengths.tolist() == [3]
    torch.testing.assert_close(out[0, 0], torch.arange(6.0))
    torch.testing.assert_close(out[0, 2], torch.tensor([12.0, 13.0, 0, 0, 0, 0]))


@pytest.mark.parametrize(
    "name, window, expected",
    [
        ("none", 8, [100, 7, 1]),
        ("patch", 8, [13, 1, 1]),
        ("conv", 8, [25, 2, 1]),
        ("conv", 1, [100, 7, 1]),
        ("resnet", 8, [25, 2, 1]),
    ],
)
def test_output_lengths(name, window, expected):
    frontend = build_frontend(name, 1, window=window, channels=3)
    lengths = torch.tensor([100, 7, 1])
    _, new_lengths = frontend(torch.randn(3, 100, 1), lengths)
    assert new_lengths.tolist() == expected
    assert frontend.output_lengths(lengths).tolist() == expected


@pytest.mark.parametrize("frontend", ["patch", "conv", "resnet"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize(
    "aggregation", ["last", "mean", "max", "attention", "timesteps"]
)
@pytest.mark.parametrize("states", ["recurrent", "both"])
def test_network_with_frontend_is_padding_invariant(
    frontend, bidirectional, aggregation, states
):
    from skhidden.nn import HiddenStateNetwork

    torch.manual_seed(0)
    network = HiddenStateNetwork(
        2, 3, cell="lstm", hidden_size=5, bidirectional=bidirectional,
        aggregation=aggregation, timesteps=(0, -1, 0.5), frontend=frontend,
        frontend_window=4, states=states,
    ).eval()
    lengths = torch.tensor([30, 7, 1, 12])
    X = torch.randn(4, 30, 2)
    with torch.no_grad():
        batched = network(X, lengths)
        for i, length in enumerate(lengths.tolist()):
            alone = network(X[i : i + 1, :length], lengths[i : i + 1])
            torch.testing.assert_close(alone, batched[i : i + 1], atol=1e-5, rtol=1e-4)


def test_patch_frontend_next_step_targets_are_windows():
    from skhidden.nn import HiddenStateNetwork, NextStepLoss

    network = HiddenStateNetwork(
        2, frontend="patch", frontend_window=3, objective="next_step"
    )
    X, lengths = torch.randn(2, 9, 2), torch.tensor([9, 4])
    following, previous, window_lengths, targets = network(X, lengths)
    assert previous is None
    assert following.shape == targets.shape == (2, 3, 6)
    assert window_lengths.tolist() == [3, 2]
    assert torch.isfinite(
        NextStepLoss()((following, previous, window_lengths, targets))
    )


def test_conv_windows_are_the_raw_input_each_window_reads():
    frontend = build_frontend("conv", 1, window=4)
    X = torch.arange(1.0, 11.0).reshape(1, 10, 1)
    windows = frontend.windows(X, torch.tensor([10]))
    assert windows.shape == (1, 5, 4)  # stride 2: windows start at 0, 2, 4, 6, 8
    torch.testing.assert_close(windows[0, 1], torch.tensor([3.0, 4.0, 5.0, 6.0]))
    torch.testing.assert_close(windows[0, 4], torch.tensor([9.0, 10.0, 0.0, 0.0]))


@pytest.mark.parametrize("frontend", ["none", "conv", "resnet"])
def test_both_states_are_the_recurrent_states_then_the_frontend_features(frontend):
    from skhidden.nn import HiddenStateNetwork

    torch.manual_seed(0)
    network = HiddenStateNetwork(
        2, 3, hidden_size=5, bidirectional=True, frontend=frontend, frontend_window=4,
        states="both", aggregation="last",
    ).eval()
    lengths = torch.tensor([30, 7])
    X = torch.randn(2, 30, 2)
    with torch.no_grad():
        states, windows = network.encode(X, lengths)
        features, _ = network.frontend(network.scaling(X, lengths), lengths)
        recurrent = network.encoder(features, windows)[-1]
    width = network.frontend.output_size
    assert states.shape[-1] == 10 + width
    torch.testing.assert_close(states[..., :10], recurrent)
    torch.testing.assert_close(states[1, : windows[1], 10:], features[1, : windows[1]])
    assert (states[1, windows[1] :] == 0).all()
    # "last" reads the front-end features at the last valid window, as forward states.
    assert not network.aggregation.backward_features[10:].any()
