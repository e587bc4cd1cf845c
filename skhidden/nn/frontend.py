"""Front-ends: read a long series as a shorter sequence of local features.

A front-end runs before the recurrent encoder and maps a padded batch
``(batch, n_steps, n_features)`` with lengths to a shorter one
``(batch, n_windows, output_size)`` with new lengths. Every window covers a
known span of input steps (``window_span``), so per-window states, attention
weights and staged predictions can be read back in input steps.

- ``"none"``: the raw steps.
- ``"patch"``: non-overlapping windows of ``window`` steps, each flattened
  into one vector (the trick that helped "last" most on long series).
- ``"conv"``: a strided 1-D convolution (kernel ``window``, stride
  ``window // 2``) followed by a ReLU: overlapping learned local features.
- ``"resnet"``: the same strided convolution with batch normalisation, then
  residual blocks of causal convolutions over the windows (``skhidden.nn.stem``):
  a deeper stem whose window t still reads nothing after window t's span.

A sequence of length L gives ``ceil(L / stride)`` windows. Windows that run
past a sequence's end read zeros, exactly as when the sequence is alone, so
padding never changes a window's value.

Every front-end also gives ``windows(X, lengths)``: the raw input each window
covers, flattened, which self-supervised training predicts, and
``window_steps(flat)``, which unflattens such windows to ``(..., window,
n_features)`` so that a value per window position is a value per input step.

Streaming (``skhidden.nn.streaming``) reads a series in parts through the
same layers: ``read(X, mask, context)`` maps input steps that exactly cover
whole windows (``(n - 1) * stride + window`` steps for ``n`` windows) to the
windows' features, carrying what the causal convolutions of ``"resnet"``
need from earlier windows, and ``window_values(X)`` gives the raw input of
those windows. ``forward`` and ``windows`` are these two on the padded batch.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from .encoder import valid_mask
from .stem import MaskedBatchNorm1d, ResidualBlock

__all__ = [
    "FRONTENDS",
    "ConvFrontEnd",
    "PatchFrontEnd",
    "RawSteps",
    "ResidualFrontEnd",
    "build_frontend",
    "frontend_stride",
]


def frontend_stride(name, window):
    """Input steps between the starts of consecutive windows.

    A sequence of length L becomes ``ceil(L / stride)`` encoder steps.
    """
    conv = max(1, window // 2)
    return {"none": 1, "patch": window, "conv": conv, "resnet": conv}[name]


def _pad_steps(X, lengths, n_steps):
    """Zero every padded step of ``X`` and pad the step dimension to ``n_steps``."""
    X = X * valid_mask(lengths, X.shape[1]).unsqueeze(-1).to(X.dtype)
    missing = n_steps - X.shape[1]
    return F.pad(X, (0, 0, 0, missing)) if missing > 0 else X[:, :n_steps]


class RawSteps(nn.Module):
    """No front-end: each input step is one encoder step."""

    def __init__(self, n_features):
        super().__init__()
        self.output_size = n_features
        self.stride = 1
        self.window = 1

    def output_lengths(self, lengths):
        return lengths

    def forward(self, X, lengths):
        return X, lengths

    def read(self, X, mask=None, context=None):
        return X, None

    def windows(self, X, lengths):
        return X

    def window_values(self, X):
        return X

    def window_steps(self, flat):
        return flat.unsqueeze(-2)


class PatchFrontEnd(nn.Module):
    """Non-overlapping windows of ``window`` steps, flattened.

    Parameters
    ----------
    n_features : int
        Features per input step.
    window : int
        Steps per window.
    """

    def __init__(self, n_features, window):
        super().__init__()
        self.window = self.stride = window
        self.output_size = n_features * window

    def output_lengths(self, lengths):
        return torch.div(lengths + self.stride - 1, self.stride, rounding_mode="floor")

    def forward(self, X, lengths):
        return self.windows(X, lengths), self.output_lengths(lengths)

    def read(self, X, mask=None, context=None):
        return self.window_values(X), None

    def windows(self, X, lengths):
        n_windows = math.ceil(X.shape[1] / self.window)
        return self.window_values(_pad_steps(X, lengths, n_windows * self.window))

    def window_values(self, X):
        return X.reshape(X.shape[0], -1, self.output_size)

    def window_steps(self, flat):
        # Flattened step by step: (window, n_features).
        return flat.unflatten(-1, (self.window, -1))


class ConvFrontEnd(nn.Module):
    """Strided 1-D convolution (kernel ``window``, stride ``window // 2``) + ReLU.

    Parameters
    ----------
    n_features : int
        Features per input step.
    window : int
        Kernel size in steps.
    channels : int
        Output features per window.
    """

    def __init__(self, n_features, window, channels):
        super().__init__()
        self.window = window
        self.stride = frontend_stride("conv", window)
        self.conv = nn.Conv1d(
            n_features, channels, kernel_size=window, stride=self.stride
        )
        self.output_size = channels

    def output_lengths(self, lengths):
        return torch.div(lengths + self.stride - 1, self.stride, rounding_mode="floor")

    def _padded(self, X, lengths):
        n_windows = math.ceil(X.shape[1] / self.stride)
        return _pad_steps(X, lengths, (n_windows - 1) * self.stride + self.window)

    def forward(self, X, lengths):
        X = self._padded(X, lengths)
        lengths = self.output_lengths(lengths)
        n_windows = (X.shape[1] - self.window) // self.stride + 1
        # None where no window is padding: the stem then skips its masking.
        mask = None
        if bool((lengths < n_windows).any()):
            mask = valid_mask(lengths, n_windows)
        return self.read(X, mask)[0], lengths

    def read(self, X, mask=None, context=None):
        """Features of the windows that ``X`` covers exactly.

        Parameters
        ----------
        X : torch.Tensor of shape (batch, (n - 1) * stride + window, n_features)
            Input steps of ``n`` consecutive windows.
        mask : torch.Tensor of shape (batch, n), bool, optional
            Valid windows; None: all.
        context : object, optional
            What the call on the windows before returned; None at the start.

        Returns
        -------
        features : torch.Tensor of shape (batch, n, output_size)
        context : object
            For the call on the windows that follow.
        """
        return torch.relu(self.conv(X.transpose(1, 2))).transpose(1, 2), None

    def windows(self, X, lengths):
        return self.window_values(self._padded(X, lengths))

    def window_values(self, X):
        # (batch, n_windows, n_features, window) -> one vector per window.
        return X.unfold(1, self.window, self.stride).flatten(start_dim=2)

    def window_steps(self, flat):
        # Flattened feature by feature (unfold's layout): (n_features, window).
        return flat.unflatten(-1, (-1, self.window)).transpose(-1, -2)


def kernel_channels(channels, n_kernels):
    """Channels of each kernel of a multi-scale convolution.

    Half go to the first kernel (all of them if it is the only one) and the
    rest are shared by the others as evenly as they divide.

    Raises
    ------
    ValueError
        If some kernel would get no channel.
    """
    if n_kernels == 1:
        return [channels]
    first, others = channels // 2, n_kernels - 1
    rest = channels - first
    widths = [first] + [rest // others + (i < rest % others) for i in range(others)]
    if min(widths) == 0:
        raise ValueError(
            f"{channels} channels cannot be shared by {n_kernels} kernels: "
            f"give at least {max(2, 2 * others - 1)} channels (hidden_size) or "
            "fewer scales."
        )
    return widths


class ResidualFrontEnd(ConvFrontEnd):
    """Strided window convolution with batch norm, then residual causal blocks.

    Parameters
    ----------
    n_features : int
        Features per input step.
    window : int
        Kernel of the first, strided convolution (stride ``window // 2``).
    channels : int
        Features per window.
    blocks : int, default=2
        Residual blocks after the first convolution, each of two causal
        convolutions reading ``kernel_size`` windows.
    kernel_size : int, default=5
        Windows each convolution of a block reads (the current and earlier ones).
    scales : tuple of int, default=(1,)
        The first convolution's kernels, in windows: ``(1, 2, 4)`` reads 8, 16
        and 32 steps with a window of 8, each kernel ending where the window
        ends (so window t still reads nothing after its span), half the
        channels on the first kernel and the rest shared by the others.
    """

    def __init__(
        self, n_features, window, channels, blocks=2, kernel_size=5, scales=(1,)
    ):
        super().__init__(n_features, window, channels)
        if scales[0] != 1:
            raise ValueError(f"scales must start with 1, got {scales}.")
        self.scales = tuple(scales)
        widths = kernel_channels(channels, len(scales))
        convs = [
            nn.Conv1d(n_features, c, window * k, stride=self.stride, bias=False)
            for c, k in zip(widths, scales, strict=True)
        ]
        # The first keeps its name, so a one-scale stem's weights load as before.
        self.conv, self.wider = convs[0], nn.ModuleList(convs[1:])
        # Input steps before a window that its longest kernel reads.
        self.reach = window * (self.scales[-1] - 1)
        self.norm = MaskedBatchNorm1d(channels)
        self.blocks = nn.ModuleList(
            ResidualBlock(channels, kernel_size) for _ in range(blocks)
        )

    def read(self, X, mask=None, context=None):
        before, contexts = context or (None, None)
        steps, before = self._after_earlier_steps(X, before)
        steps = steps.transpose(1, 2)
        h = torch.cat(
            [
                conv(steps[..., self.reach - self.window * (k - 1) :])
                for conv, k in zip([self.conv, *self.wider], self.scales, strict=True)
            ],
            dim=1,
        )
        if mask is not None:
            mask = mask.unsqueeze(1).to(h.dtype)
        h = torch.relu(self.norm(h, mask))
        contexts = [None] * len(self.blocks) if contexts is None else list(contexts)
        for i, block in enumerate(self.blocks):
            h, contexts[i] = block(h, mask, contexts[i])
        return h.transpose(1, 2), (before, contexts)

    def _after_earlier_steps(self, X, before):
        """``X`` after the ``reach`` input steps before it, and those of the next part.

        ``before`` holds the steps before ``X`` (None: zeros, a series' start);
        the next part starts at the window after the last one ``X`` fills. A
        one-scale stem reads no earlier step and gets ``X`` itself, uncopied.
        """
        if not self.reach:
            return X, None
        if before is None:
            before = X.new_zeros(X.shape[0], self.reach, X.shape[2])
        steps = torch.cat([before, X], dim=1)
        n_windows = (X.shape[1] - self.window) // self.stride + 1
        following = self.reach + n_windows * self.stride
        return steps, steps[:, following - self.reach : following]


FRONTENDS = {
    "none": RawSteps,
    "patch": PatchFrontEnd,
    "conv": ConvFrontEnd,
    "resnet": ResidualFrontEnd,
}


def build_frontend(
    name, n_features, *, window=8, channels=64, blocks=2, kernel_size=5, scales=(1,)
):
    """Build the front-end called ``name`` (a key of ``FRONTENDS``).

    Parameters
    ----------
    name : {"none", "patch", "conv"}
        Front-end.
    n_features : int
        Features per input step.
    window : int, default=8
        Steps per window (patch) or kernel size (conv).
    channels : int, default=64
        Output features per window of the convolution.
    blocks : int, default=2
        Residual blocks of the ``"resnet"`` stem.
    kernel_size : int, default=5
        Kernel, in windows, of the ``"resnet"`` stem's causal convolutions.
    scales : tuple of int, default=(1,)
        Kernels, in windows, of the ``"resnet"`` stem's first convolution.

    Returns
    -------
    frontend : nn.Module
        With ``output_size``, ``stride``, ``window`` and ``output_lengths``.
    """
    if name == "none":
        return RawSteps(n_features)
    if name == "patch":
        return PatchFrontEnd(n_features, window)
    if name == "resnet":
        return ResidualFrontEnd(
            n_features, window, channels, blocks, kernel_size, scales
        )
    return ConvFrontEnd(n_features, window, channels)
