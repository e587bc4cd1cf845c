"""Torch modules of skhidden: encoder, aggregation strategies, network, losses.

Pure torch: nothing here imports scikit-learn or skorch.
"""

from .aggregation import AGGREGATIONS, build_aggregation
from .encoder import CELLS, RecurrentEncoder
from .ensemble import NetworkEnsemble
from .losses import HeadAveragedLoss, NextStepLoss
from .network import HiddenStateNetwork

__all__ = [
    "AGGREGATIONS",
    "CELLS",
    "HeadAveragedLoss",
    "HiddenStateNetwork",
    "NetworkEnsemble",
    "NextStepLoss",
    "RecurrentEncoder",
    "build_aggregation",
]
