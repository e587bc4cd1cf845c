"""The residual stem: masked batch norm, causality, padding never leaking in."""

import pytest
import torch

from skhidden.nn.encoder import valid_mask
from skhidden.nn.frontend import build_frontend
from skhidden.nn.stem import MaskedBatchNorm1d, ResidualBlock


def _mask(lengths, n_steps):
    """``(batch, 1, n_steps)`` float mask, the layout the stem's layers take."""
    return valid_mask(lengths, n_steps).unsqueeze(1).float()


def test_masked_batch_norm_takes_statistics_from_valid_steps_only():
    torch.manual_seed(0)
    lengths = torch.tensor([7, 3, 5])
    x = torch.randn(3, 4, 7)
    x[1, :, 3:] = 1e3  # padding with values far from the data
    mask = _mask(lengths, 7)
    masked = MaskedBatchNorm1d(4)
    out = masked(x * mask, mask)

    valid = torch.cat([x[i, :, :n] for i, n in enumerate(lengths.tolist())], dim=1)
    reference = torch.nn.BatchNorm1d(4)
    expected = reference(valid[None])[0]
    got = torch.cat([out[i, :, :n] for i, n in enumerate(lengths.tolist())], dim=1)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(masked.running_mean, reference.running_mean)
    torch.testing.assert_close(masked.running_var, reference.running_var)
    assert (out * (1 - mask) == 0).all()


@pytest.mark.parametrize("shape", [(3, 4, 7), (1, 4, 1)])
def test_without_padding_masked_batch_norm_is_the_plain_one(shape):
    # mask=None takes torch's batch norm; a batch with one value per channel,
    # which torch's refuses in training, the masked ops.
    torch.manual_seed(0)
    x = torch.randn(*shape, requires_grad=True)
    fast, masked = MaskedBatchNorm1d(4), MaskedBatchNorm1d(4)
    with torch.no_grad():
        for norm in (fast, masked):
            norm.weight.copy_(torch.linspace(0.5, 2, 4))
            norm.bias.copy_(torch.linspace(-1, 1, 4))
    ones = torch.ones(shape[0], 1, shape[2])
    outputs = [fast(x, None), masked(x, ones)]
    grads = [torch.autograd.grad(out.square().sum(), x)[0] for out in outputs]
    torch.testing.assert_close(outputs[0], outputs[1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-4, rtol=1e-4)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(fast, name), getattr(masked, name))
    fast.eval(), masked.eval()
    torch.testing.assert_close(fast(x, None), masked(x, ones))


@pytest.mark.parametrize("training", [True, False])
def test_block_output_at_valid_steps_ignores_what_padding_holds(training):
    torch.manual_seed(0)
    block = ResidualBlock(3, kernel_size=3).train(training)
    lengths = torch.tensor([9, 4])
    mask = _mask(lengths, 9)
    x = torch.randn(2, 3, 9) * mask
    first = block(x, mask)
    changed = x + torch.randn(2, 3, 9) * 50 * (1 - mask)
    second = block(changed * mask, mask)
    torch.testing.assert_close(first, second)


def test_window_t_reads_nothing_after_its_span():
    # Causal per sequence in evaluation (the map inference, staged outputs and
    # attention weights use); in training, batch statistics mix all steps.
    torch.manual_seed(0)
    stem = build_frontend(
        "resnet", 2, window=4, channels=5, blocks=2, kernel_size=3
    ).eval()
    lengths = torch.tensor([40])
    X = torch.randn(1, 40, 2)
    later = X.clone()
    later[0, 20:] = torch.randn(20, 2) * 10
    with torch.no_grad():
        first, _ = stem(X, lengths)
        second, _ = stem(later, lengths)
    # Window w (stride 2, kernel 4) reads steps 2w .. 2w+3: windows 0-8 end
    # before step 20.
    torch.testing.assert_close(first[0, :9], second[0, :9])
    assert not torch.allclose(first[0, 9:], second[0, 9:])


def test_stem_zeroes_windows_after_each_sequence_end():
    stem = build_frontend("resnet", 1, window=2, channels=3).eval()
    out, lengths = stem(torch.randn(2, 10, 1), torch.tensor([10, 6]))
    assert out.shape == (2, 10, 3)
    assert lengths.tolist() == [10, 6]
    assert (out[1, 6:] == 0).all()
