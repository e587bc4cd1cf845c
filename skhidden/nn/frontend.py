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

A sequence of length L gives ``ceil(L / stride)`` windows. Windows that run
past a sequence's end read zeros, exactly as when the sequence is alone, so
padding never changes a window's value.

Every front-end also gives ``windows(X, lengths)``: the raw input each window
covers, flattened, which self-supervised training predicts.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from .encoder import valid_mask

__all__ = [
    "FRONTENDS",
    "ConvFrontEnd",
    "PatchFrontEnd",
    "RawSteps",
    "build_frontend",
    "frontend_stride",
]


def frontend_stride(name, window):
    """Input steps between the starts of consecutive windows.

    A sequence of length L becomes ``ceil(L / stride)`` encoder steps.
    """
    return {"none": 1, "patch": window, "conv": max(1, window // 2)}[name]


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

    def windows(self, X, lengths):
        return X


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

    def windows(self, X, lengths):
        n_windows = math.ceil(X.shape[1] / self.window)
        X = _pad_steps(X, lengths, n_windows * self.window)
        return X.reshape(X.shape[0], n_windows, self.output_size)


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
        self.conv = nn.Conv1d(n_features, channels, kernel_size=window, stride=self.stride)
        self.output_size = channels

    def output_lengths(self, lengths):
        return torch.div(lengths + self.stride - 1, self.stride, rounding_mode="floor")

    def _padded(self, X, lengths):
        n_windows = math.ceil(X.shape[1] / self.stride)
        return _pad_steps(X, lengths, (n_windows - 1) * self.stride + self.window)

    def forward(self, X, lengths):
        X = self._padded(X, lengths)
        out = torch.relu(self.conv(X.transpose(1, 2))).transpose(1, 2)
        return out, self.output_lengths(lengths)

    def windows(self, X, lengths):
        # (batch, n_windows, n_features, window) -> one vector per window.
        windows = self._padded(X, lengths).unfold(1, self.window, self.stride)
        return windows.flatten(start_dim=2)


FRONTENDS = {"none": RawSteps, "patch": PatchFrontEnd, "conv": ConvFrontEnd}


def build_frontend(name, n_features, *, window=8, channels=64):
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

    Returns
    -------
    frontend : nn.Module
        With ``output_size``, ``stride``, ``window`` and ``output_lengths``.
    """
    if name == "none":
        return RawSteps(n_features)
    if name == "patch":
        return PatchFrontEnd(n_features, window)
    return ConvFrontEnd(n_features, window, channels)
