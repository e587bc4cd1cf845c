"""Pieces of the residual convolutional stem (the ``"resnet"`` front-end).

The stem reads the input as windows, like the ``"conv"`` front-end (a strided
convolution, kernel ``window``, stride ``window // 2``), then refines the
window features with residual blocks of causal convolutions, each followed
by batch normalisation, as the strongest published time-series classifiers
(FCN, ResNet, InceptionTime) do. The front-end itself is
``skhidden.nn.frontend.ResidualFrontEnd``; this module holds its layers.

Two properties of the rest of the package are kept:

- **Padding never reaches a valid window.** The convolutions after the first
  are causal (each window reads itself and earlier windows only), so the
  padding after a sequence's end cannot reach its valid windows, and
  ``MaskedBatchNorm1d`` takes its training statistics over valid windows
  only. A sequence gets the same output alone or in any batch.
- **Window t depends on the input up to window t's end only**, so staged
  (early) predictions, per-window states and attention weights keep their
  meaning: after window t the model has read ``window_span(t)`` and nothing
  later.
"""

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["MaskedBatchNorm1d", "ResidualBlock"]


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """Batch normalisation whose statistics come from valid steps only.

    In training the mean and variance of each channel are taken over the
    valid steps of the batch (padding excluded) and the running statistics
    are updated from them; in evaluation the running statistics are used,
    which makes the layer a per-step affine map. Padded steps come out zero.

    Parameters
    ----------
    num_features : int
        Channels.
    """

    def forward(self, x, mask=None):
        """Normalise ``x`` ``(batch, channels, n_steps)`` with ``mask``
        ``(batch, 1, n_steps)``; None: every step is valid."""
        if mask is None:
            # Without padding the statistics are the plain batch norm's, and
            # its fused kernel is several times faster than the ops below;
            # it refuses a single value per channel, which the ops below take.
            if not self.training or x.shape[0] * x.shape[2] > 1:
                return super().forward(x)
            mask = x.new_ones(x.shape[0], 1, x.shape[2])
        if not self.training:
            return super().forward(x) * mask
        count = mask.sum()
        mean = (x * mask).sum(dim=(0, 2)) / count
        centred = (x - mean[:, None]) * mask
        var = (centred**2).sum(dim=(0, 2)) / count
        with torch.no_grad():
            self.num_batches_tracked += 1
            unbiased = var * count / (count - 1) if count > 1 else var
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(unbiased, self.momentum)
        scale = self.weight * torch.rsqrt(var + self.eps)
        return (centred * scale[:, None] + self.bias[:, None] * mask)


class ResidualBlock(nn.Module):
    """Two causal convolutions with batch norm, added to the block's input.

    ``relu(x + bn(conv(relu(bn(conv(x))))))``, zero at padded steps.

    Parameters
    ----------
    channels : int
        Channels in and out.
    kernel_size : int
        Steps each convolution reads: the current one and ``kernel_size - 1``
        before it.
    """

    def __init__(self, channels, kernel_size):
        super().__init__()
        self.kernel_size = kernel_size
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, bias=False)
        self.norm1 = MaskedBatchNorm1d(channels)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, bias=False)
        self.norm2 = MaskedBatchNorm1d(channels)

    def forward(self, x, mask, context=None):
        """Apply the block to windows ``x`` ``(batch, channels, n_steps)``.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, channels, n_steps)
            Zero at padding.
        mask : torch.Tensor of shape (batch, 1, n_steps), optional
            One at valid steps; None: every step is valid.
        context : tuple of torch.Tensor, optional
            What a previous call returned: each convolution's input at the
            ``kernel_size - 1`` steps before ``x``, so a series can be read
            in parts. None: zeros, the start of a series.

        Returns
        -------
        out : torch.Tensor of shape (batch, channels, n_steps)
            Zero at padded steps.
        context : tuple of torch.Tensor
            For a call on the steps that follow ``x``.
        """
        if context is None:
            context = (None, None)
        x_context, h = self._causal(self.conv1, x, context[0])
        h = torch.relu(self.norm1(h, mask))
        h_context, h = self._causal(self.conv2, h, context[1])
        h = torch.relu(x + self.norm2(h, mask))
        return (h if mask is None else h * mask), (x_context, h_context)

    def _causal(self, conv, x, context):
        """``conv`` over ``x`` after the steps of ``context`` (zeros if None)."""
        if context is None:
            x = F.pad(x, (self.kernel_size - 1, 0))
        else:
            x = torch.cat([context, x], dim=2)
        return x[..., x.shape[2] - (self.kernel_size - 1) :], conv(x)
