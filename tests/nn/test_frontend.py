"""Front-ends: window counts, values, and padding invariance."""

import pytest
import torch

from skhidden.nn.frontend import FRONTENDS, build_frontend


@pytest.mark.parametrize("name", sorted(FRONTENDS))
@pytest.mark.parametrize("window", [1, 3, 8])
def test_windows_are_the_same_alone_or_batched(name, window):
    torch.manual_seed(0)
    frontend = build_frontend(name, 2, window=window, channels=5)
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
    [("none", 8, [100, 7, 1]), ("patch", 8, [13, 1, 1]), ("conv", 8, [25, 2, 1]), ("conv", 1, [100, 7, 1])],
)
def test_output_lengths(name, window, expected):
    frontend = build_frontend(name, 1, window=window, channels=3)
    lengths = torch.tensor([100, 7, 1])
    _, new_lengths = frontend(torch.randn(3, 100, 1), lengths)
    assert new_lengths.tolist() == expected
    assert frontend.output_lengths(lengths).tolist() == expected
