"""skhidden: intermediate hidden states of recurrent networks as scikit-learn models.

An RNN's final state is not the only useful summary of a sequence. skhidden's
estimators make the way the whole sequence of hidden states is used (last,
mean, max, attention, selected steps, or several concatenated) an ordinary,
searchable hyperparameter.

Layers, top to bottom: estimators (this package's classes, sklearn API) ->
skorch training (``_training``) -> torch modules (``skhidden.nn``) ->
sequence data (``skhidden.sequences``, numpy only).
"""

from ._streaming import SeriesStream
from ._training import NonFiniteLossError
from ._version import __version__
from .anomaly import HiddenStateAnomalyDetector
from .classifier import HiddenStateClassifier
from .persistence import load, save
from .preprocessing import SequenceScaler
from .regressor import HiddenStateRegressor
from .transformer import HiddenStateTransformer

__all__ = [
    "HiddenStateAnomalyDetector",
    "HiddenStateClassifier",
    "HiddenStateRegressor",
    "HiddenStateTransformer",
    "NonFiniteLossError",
    "SequenceScaler",
    "SeriesStream",
    "__version__",
    "load",
    "save",
]
