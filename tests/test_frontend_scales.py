"""The resnet stem's multi-scale first convolution: causal, padding-free, streamable."""

import pytest
import torch

from skhidden.nn.frontend import ResidualFrontEnd


@pytest.fixture
def stem():
    torch.manual_seed(0)
    stem = ResidualFrontEnd(n_features=2, window=4, channels=8, scales=(1, 2, 4))
    stem.train()
    stem(torch.randn(5, 40, 2), torch.tensor([40, 33, 20, 9, 40]))  # batch-norm statistics
    return stem.eval()


def test_a_sequence_gets_the_same_windows_alone_or_batched(stem):
    X = torch.randn(3, 30, 2)
    lengths = torch.tensor([30, 17, 6])
    with torch.no_grad():
        batched, out_lengths = stem(X, lengths)
        for i, n in enumerate(lengths):
            alone, _ = stem(X[i : i + 1, :n], n[None])
            torch.testing.assert_close(alone[0], batched[i, : out_lengths[i]], atol=1e-6, rtol=0)


def test_reading_in_parts_equals_reading_whole(stem):
    X = torch.randn(2, 38, 2)  # 19 windows of stride 2 and width 4 exactly
    with torch.no_grad():
        whole, _ = stem.read(X)
        parts, context, start = [], None, 0
        for n in (3, 1, 7, 8):
            chunk = X[:, start : start + (n - 1) * stem.stride + stem.window]
            out, context = stem.read(chunk, None, context)
            parts.append(out)
            start += n * stem.stride
    torch.testing.assert_close(torch.cat(parts, dim=1), whole, atol=1e-6, rtol=0)


def test_a_window_reads_nothing_after_its_span(stem):
    X = torch.randn(1, 38, 2)
    changed = X.clone()
    changed[:, 20:] += 5.0  # window t spans steps [2t, 2t + 4): windows 0-8 end by step 20
    with torch.no_grad():
        before, _ = stem.read(X)
        after, _ = stem.read(changed)
    torch.testing.assert_close(after[:, :9], before[:, :9])
    assert not torch.allclose(after[:, 9:], before[:, 9:])


def test_scales_must_start_with_the_window():
    with pytest.raises(ValueError, match="start with 1"):
        ResidualFrontEnd(n_features=1, window=4, channels=8, scales=(2, 4))
