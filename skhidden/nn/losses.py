"""Losses over the network's outputs.

- ``HeadAveragedLoss``: any torch loss averaged over the output heads (views),
  which is how ``"timesteps"`` trains one head per selected step.
- ``NextStepLoss``: masked mean squared error of next/previous-step
  predictions, for self-supervised training.
"""

import torch
from torch import nn

from .encoder import valid_mask

__all__ = ["HeadAveragedLoss", "NextStepLoss"]


class HeadAveragedLoss(nn.Module):
    """Apply ``loss`` to every head's output against the same target.

    Parameters
    ----------
    loss : nn.Module
        A loss taking ``(input, target)`` with the batch as first dimension,
        e.g. ``nn.CrossEntropyLoss()`` or ``nn.MSELoss()``, with mean reduction.
    """

    def __init__(self, loss):
        super().__init__()
        self.loss = loss

    def forward(self, outputs, target):
        batch, n_views = outputs.shape[:2]
        target = target.unsqueeze(1).expand(batch, n_views, *target.shape[1:])
        return self.loss(outputs.flatten(0, 1), target.flatten(0, 1))


class NextStepLoss(nn.Module):
    """Mean squared error of predicted neighbouring steps, valid steps only.

    Called as ``loss(predictions, target)`` with the network's
    ``(next, previous, lengths, steps)``; the steps to predict travel with the
    predictions (they may be windows made by a front-end), so ``target`` is
    not read.
    """

    def forward(self, predictions, target=None):
        following, preceding, lengths, X = predictions
        n_steps = X.shape[1]
        # Step t predicts step t + 1, which must itself be valid.
        has_next = valid_mask(lengths - 1, n_steps - 1)
        errors = ((following[:, :-1] - X[:, 1:]) ** 2).mean(-1)[has_next]
        if preceding is not None:
            backward_errors = ((preceding[:, 1:] - X[:, :-1]) ** 2).mean(-1)[has_next]
            errors = torch.cat([errors, backward_errors])
        if errors.numel() == 0:
            return following.sum() * 0.0
        return errors.mean()
