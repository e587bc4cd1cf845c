"""Input scaling inside the network, so a bare estimator sees well-scaled input.

- ``"none"``: the input as given.
- ``"feature"``: each feature standardised with a mean and deviation fixed at
  fit (over all valid training steps), kept as buffers so they travel with
  the weights.
- ``"sequence"``: each sequence standardised per feature over its own valid
  steps (no statistics from other sequences, so amplitude differences
  between sequences are removed).
- ``"sequence_level"``: as ``"sequence"``, plus each sequence's own level
  and log-spread per feature (measured against the training statistics) as
  constant extra features, so the shape is read scale-free while the
  amplitude stays known. Triples the features.
- ``"feature_sequence"``: the ``"feature"`` and ``"sequence"`` views side by
  side, so the network reads both the amplitude against the training data
  and the sequence's own shape. Doubles the features.
- ``"feature_running"``: the ``"feature"`` view beside each step standardised
  with the mean and deviation of its sequence's steps so far (an expanding
  window): the shape is read scale-free, yet every step depends on earlier
  steps only, so the model stays causal (staged outputs keep their meaning).
  Doubles the features.

With ``differences=True`` every step is first read beside its first
difference (the step minus the one before it; zero at a sequence's first
step), as MultiRocket adds first differences to MiniRocket's input: the
differences are scaled as further features, with their own training
statistics, so every mode's output is twice as wide. It reads only the step
before, so the causal modes stay causal.

Padded steps come out as zeros in every mode.
"""

import torch
from torch import nn

from .encoder import valid_mask

__all__ = ["SCALINGS", "InputScaling", "with_differences"]

SCALINGS = (
    "none",
    "feature",
    "sequence",
    "sequence_level",
    "feature_sequence",
    "feature_running",
)
TRAINING_STATISTICS = (
    "feature",
    "sequence_level",
    "feature_sequence",
    "feature_running",
)
# Statistics over each sequence's own steps: every scaled step depends on the
# whole sequence, so these modes are not causal.
PER_SEQUENCE = ("sequence", "sequence_level", "feature_sequence")
_WIDTH = {"sequence_level": 3, "feature_sequence": 2, "feature_running": 2}


def scaling_modes(scaling):
    """The modes of one scaling, or of one per ensemble member, as a tuple."""
    return (scaling,) if isinstance(scaling, str) else tuple(scaling)


class InputScaling(nn.Module):
    """Standardise the input per feature, with training or per-sequence statistics.

    Parameters
    ----------
    n_features : int
        Features per input step.
    mode : {"none", "feature", "sequence", "sequence_level", "feature_sequence", \
            "feature_running"}, default="feature"
        Which statistics to use, see the module docstring.
    mean, scale : sequence of float, optional
        Training statistics for the modes in ``TRAINING_STATISTICS``; zeros
        and ones until set (a loaded model gets them from its saved buffers).
        With ``differences``, one per feature and then one per difference.
    differences : bool, default=False
        Read each step beside its first difference, see the module docstring.

    Attributes
    ----------
    output_size : int
        Features per step of the output.
    """

    def __init__(
        self, n_features, mode="feature", mean=None, scale=None, differences=False
    ):
        super().__init__()
        if mode not in SCALINGS:
            raise ValueError(f"scaling={mode!r} is not one of {list(SCALINGS)}.")
        self.mode = mode
        self.differences = bool(differences)
        n_features *= 2 if differences else 1
        self.output_size = _WIDTH.get(mode, 1) * n_features
        mean = torch.zeros(n_features) if mean is None else torch.as_tensor(mean)
        scale = torch.ones(n_features) if scale is None else torch.as_tensor(scale)
        self.register_buffer("mean", mean.to(torch.float32))
        self.register_buffer("scale", scale.to(torch.float32))

    def _standardised(self, X):
        """``(X - mean) / scale``, computed so that it cannot overflow.

        Both terms are finite however large the (float32) values are, where
        ``X - mean`` overflows for steps of opposite sign near float32's limit.
        """
        return X / self.scale - self.mean / self.scale

    def forward(self, X, lengths):
        mask = valid_mask(lengths, X.shape[1]).unsqueeze(-1).to(X.dtype)
        if self.differences:
            # The step after a sequence's end reads padding: masked to zero.
            X = with_differences(X) * mask
        if self.mode == "none":
            return X
        if self.mode == "feature":
            return self._standardised(X) * mask
        if self.mode == "feature_running":
            return self._feature_running(X, mask)[0]
        # Per-sequence sums in float64: float32 sums overflow near its limit.
        X64, mask64 = X.double(), mask.double()
        counts = lengths.view(-1, 1, 1).double()
        mean = (X64 * mask64).sum(dim=1, keepdim=True) / counts
        centred = (X64 - mean) * mask64
        std = torch.sqrt((centred**2).sum(dim=1, keepdim=True) / counts)
        # A constant sequence stays all zeros instead of dividing by zero.
        shape = (
            centred / torch.where(std > 1e-6, std, torch.ones_like(std))
        ).to(X.dtype)
        if self.mode == "sequence":
            return shape
        if self.mode == "feature_sequence":
            return torch.cat([self._standardised(X) * mask, shape], dim=-1)
        training_mean, training_scale = self.mean.double(), self.scale.double()
        level = (mean - training_mean) / training_scale
        spread = torch.log((std + 1e-6 * training_scale) / training_scale)
        constant = (
            torch.cat([level, spread], dim=-1).to(X.dtype).expand(-1, X.shape[1], -1)
        )
        return torch.cat([shape, constant * mask], dim=-1)

    def running(self, X, carry=None):
        """Scale the next steps of series whose earlier steps were scaled before.

        The causal modes only (``"none"``, ``"feature"``,
        ``"feature_running"``): a step's scaled value depends on it and the
        steps before it, which ``carry`` summarises.

        Parameters
        ----------
        X : torch.Tensor of shape (batch, n_steps, n_features)
            The next steps, all valid.
        carry : object, optional
            What the previous call returned; None at each series' first step.

        Returns
        -------
        scaled : torch.Tensor of shape (batch, n_steps, output_size)
            Equal to ``forward`` on the whole series at these steps.
        carry : object
            For the next call.
        """
        if not self.differences:
            return self._running(X, carry)
        previous, carry = (None, None) if carry is None else carry
        scaled, carry = self._running(with_differences(X, previous), carry)
        return scaled, (X[:, -1:], carry)

    def _running(self, X, carry):
        """``running`` on steps that already hold their differences, if any."""
        if self.mode == "none":
            return X, None
        if self.mode == "feature":
            return self._standardised(X), None
        if self.mode == "feature_running":
            return self._feature_running(X, torch.ones_like(X[..., :1]), carry)
        raise ValueError(
            f"scaling={self.mode!r} standardises each sequence with statistics "
            "of all its steps, so no step can be scaled before the sequence ends."
        )

    def _feature_running(self, X, mask, carry=None):
        """The feature view and the expanding-window standardised view.

        ``carry`` (first scaled step, running sums, steps read) continues a
        series read before; the new one is returned beside the result.
        """
        feature = self._standardised(X) * mask
        if carry is None:
            carry = (feature[:, :1], 0.0, 0.0, 0)
        first, total, squares, count = carry
        # Running sums in float64 of the steps' offsets from the first step:
        # E[x^2] - E[x]^2 then loses no precision to a sequence's level.
        offset = (feature - first).double() * mask.double()
        counts = torch.arange(
            count + 1, count + X.shape[1] + 1, device=X.device, dtype=torch.float64
        ).view(1, -1, 1)
        sums = offset.cumsum(dim=1) + total
        sums_of_squares = (offset**2).cumsum(dim=1) + squares
        mean = sums / counts
        var = sums_of_squares / counts - mean**2
        std = torch.sqrt(var.clamp_min(0.0))
        # The first step of a sequence (or a constant stretch) has no spread: zero.
        spread = std > 1e-6
        shape = (offset - mean) / torch.where(spread, std, 1.0)
        shape = torch.where(spread, shape, 0.0).to(X.dtype)
        carry = (first, sums[:, -1:], sums_of_squares[:, -1:], count + X.shape[1])
        return torch.cat([feature, shape * mask], dim=-1), carry


def with_differences(X, previous=None):
    """Each step beside its first difference (the step minus the one before it).

    Parameters
    ----------
    X : torch.Tensor of shape (batch, n_steps, n_features)
        Steps of a batch of series.
    previous : torch.Tensor of shape (batch, 1, n_features), optional
        The step before ``X``'s first, when ``X`` continues a series. None:
        ``X`` starts each series, and its first difference is zero.

    Returns
    -------
    steps : torch.Tensor of shape (batch, n_steps, 2 * n_features)
        The steps, then their differences.
    """
    previous = X[:, :1] if previous is None else previous
    return torch.cat([X, torch.diff(X, dim=1, prepend=previous)], dim=-1)
