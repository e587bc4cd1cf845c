"""``HiddenStateTransformer``: aggregated hidden states as features."""

import numpy as np
from sklearn.base import TransformerMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from ._base import BaseHiddenState
from ._docstrings import fill_parameters
from ._registry import register_estimator
from ._targets import encode_labels, prepare_regression_targets
from .nn.losses import NextStepLoss

__all__ = ["HiddenStateTransformer"]


@register_estimator
@fill_parameters(
    {
        "timesteps": """
            Steps read by ``aggregation="timesteps"``; their states are
            concatenated. None means ``(0.25, 0.5, 0.75, 1.0)``.
        """
    }
)
class HiddenStateTransformer(TransformerMixin, BaseHiddenState):
    """Turn sequences into fixed-size features: their aggregated hidden states.

    ``fit(X, y)`` trains the network supervised (a classifier for class
    labels, a regressor for continuous targets); ``fit(X)`` without ``y``
    trains it self-supervised, each forward state predicting the next input
    step or, with a front-end, the raw input of the next window (and each
    backward state the previous one). ``transform`` returns
    the aggregated states, ready for any scikit-learn estimator.

    Without labels only the encoder learns: an ``"attention"`` scorer keeps
    its initial weights, so prefer pooled strategies for ``fit(X)``.

    Parameters
    ----------
    %(shared_parameters)s

    Attributes
    ----------
    n_features_in_ : int
        Features per step seen in ``fit``.
    scaling_ : str or tuple of str
        The input scaling used: ``scaling``, or what ``"auto"`` chose (a
        tuple: one per network in turn).
    resample_length_ : int or None
        The length every sequence is read at: ``resample``, or what
        ``"auto"`` chose; None for as they are.
    max_epochs_ : int
        The training epochs: ``max_epochs``, or what ``"auto"`` chose.
    objective_ : {"classification", "regression", "next_step"}
        What the network was trained to do.
    net_ : skorch.NeuralNet
        The trained net.
    history_ : skorch.callbacks.History
        Per-epoch training record.
    device_ : str
        The device the weights are on: where the model was trained, until
        ``set_params(device=...)`` moves it or it is unpickled on a machine
        without that device (then ``"cpu"``).

    See Also
    --------
    HiddenStateClassifier : Classify with the same network end to end.

    Examples
    --------
    >>> import numpy as np
    >>> from skhidden import HiddenStateTransformer
    >>> X = np.random.default_rng(0).normal(size=(20, 10, 3)).astype("float32")
    >>> features = HiddenStateTransformer(
    ...     hidden_size=4, aggregation=("mean", "max"), max_epochs=2, random_state=0
    ... ).fit_transform(X)
    >>> features.shape
    (20, 8)
    """

    def _prepare_targets(self, y, padded):
        if y is None:
            self.objective_ = "next_step"
            return padded, padded.shape[2], NextStepLoss(), False
        if type_of_target(y) in ("binary", "multiclass"):
            self.objective_ = "classification"
            self.classes_, codes, criterion = encode_labels(y, len(padded))
            return codes, len(self.classes_), criterion, True
        self.objective_ = "regression"
        targets, criterion, _ = prepare_regression_targets(y, len(padded))
        return targets, targets.shape[1], criterion, False

    def _network_params(self):
        objective = "next_step" if self.objective_ == "next_step" else "supervised"
        return {"objective": objective}

    def fit(self, X, y=None):
        """Train the network that produces the features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or \
                (n_samples, n_timesteps), or list of array-like
            Sequences, as for :meth:`HiddenStateClassifier.fit`.
        y : array-like of shape (n_samples,) or (n_samples, n_targets), \
                default=None
            Labels or targets for supervised training; None trains on
            next-step prediction.

        Returns
        -------
        self : HiddenStateTransformer
        """
        return self._fit(X, y)

    def transform(self, X):
        """Aggregated hidden states of each sequence.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any layout ``fit`` accepts.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features_out), float32
            See :meth:`get_feature_names_out` for what each column is.
        """
        return self._stream(
            X,
            lambda module, Xb, lengths: module.features(Xb, lengths),
            long_sequence=self._long_sequence(heads=False),
        )

    def get_feature_names_out(self, input_features=None):
        """Names of the columns of :meth:`transform`.

        ``"{strategy}_{i}"`` for pooled strategies and
        ``"timestep{step}_{i}"`` for selected steps, ``i`` indexing the state.

        Parameters
        ----------
        input_features : None
            Ignored; present for API consistency.

        Returns
        -------
        names : ndarray of str
        """
        check_is_fitted(self, "net_")
        aggregation = self.net_.module_.aggregation
        if self.aggregation == "timesteps":
            blocks = [f"timestep{step}" for step in aggregation.timesteps]
        elif isinstance(self.aggregation, str):
            blocks = [self.aggregation]
        else:
            blocks = list(self.aggregation)
        # Each pooled block (or timestep view) has one entry per state feature.
        size = aggregation.output_size
        if not isinstance(self.aggregation, str):
            size //= len(blocks)
        names = [f"{block}_{i}" for block in blocks for i in range(size)]
        if self.n_networks > 1:
            names = [f"net{k}_{name}" for k in range(self.n_networks) for name in names]
        return np.array(names, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
