"""Per-state scores placed on input steps and pooled ahead (nn.scoring)."""

from types import SimpleNamespace

import numpy as np
import torch

from skhidden.nn.scoring import state_step_scores


def test_state_scores_spread_over_their_windows_then_pooled_ahead():
    # Windows of 4 input steps every 2: [0, 4), [2, 6), [4, 8).
    frontend = SimpleNamespace(window=4, stride=2)
    scores = torch.tensor([[1.0, 5.0, 2.0]])
    # Mean over the covering windows: 1, 1, 3, 3, 3.5, 3.5, 2, 2; the
    # sequence has 7 valid steps, so step 7 is padding and pools nothing.
    steps = state_step_scores(scores, frontend, torch.tensor([7]), 8, span=2)
    np.testing.assert_allclose(steps[0], [1, 3, 3, 3.5, 3.5, 3.5, 2, 0])
    raw = state_step_scores(scores, frontend, torch.tensor([7]), 8, span=1)
    np.testing.assert_allclose(raw[0], [1, 1, 3, 3, 3.5, 3.5, 2, 0])
