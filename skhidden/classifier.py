"""``HiddenStateClassifier``: sequence classification from aggregated states."""

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import StrOptions

from ._base import BaseHiddenState
from ._docstrings import fill_parameters
from ._registry import register_estimator
from ._streaming import StagedStreamMixin
from ._targets import encode_labels
from .nn.network import mean_over_views

__all__ = ["HiddenStateClassifier"]


@register_estimator
@fill_parameters()
class HiddenStateClassifier(StagedStreamMixin, ClassifierMixin, BaseHiddenState):
    """Recurrent-network classifier whose features are the aggregated hidden states.

    The network reads each sequence with an RNN, LSTM or GRU, summarises the
    sequence of hidden states with the chosen ``aggregation`` and classifies
    the summary with a linear head (one head per selected step for
    ``"timesteps"``, their probabilities averaged). Training runs through
    skorch; the trained net is kept as ``net_``.

    The default: two networks averaged, each reading every step beside its
    difference through a residual convolutional stem and a bidirectional GRU,
    so a step's state reads the steps after it too: the staged outputs and
    :meth:`stream` re-read each prefix (``bidirectional=False`` reads once).

    Parameters
    ----------
    %(shared_parameters)s
    class_weight : dict, "balanced" or None, default=None
        Class weights in the loss, as in scikit-learn.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
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
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is the torch network.
    history_ : skorch.callbacks.History
        Per-epoch training record (``train_loss``, ``valid_loss``, ...).
    device_ : str
        The device the weights are on: where the model was trained, until
        ``set_params(device=...)`` moves it or it is unpickled on a machine
        without that device (then ``"cpu"``).

    See Also
    --------
    HiddenStateRegressor : The same model for continuous targets.
    HiddenStateTransformer : The aggregated states as features.

    Examples
    --------
    >>> import numpy as np
    >>> from skhidden import HiddenStateClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 12, 2)).astype("float32")
    >>> y = (X[:, :, 0].mean(axis=1) > 0).astype(int)
    >>> clf = HiddenStateClassifier(hidden_size=8, max_epochs=5, random_state=0)
    >>> clf.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        **BaseHiddenState._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        *,
        cell="gru",
        hidden_size=64,
        num_layers=1,
        bidirectional=True,
        dropout=0.0,
        aggregation="max",
        timesteps=None,
        layers="last",
        states="recurrent",
        n_networks=2,
        frontend="resnet",
        frontend_window=8,
        frontend_scales=(1,),
        scaling="auto",
        differences=True,
        resample="none",
        max_epochs="auto",
        batch_size=32,
        inference_batch_size="auto",
        crop=0.9,
        warp=0.0,
        lr=0.001,
        optimizer="adam",
        weight_decay=0.0,
        lr_schedule="constant",
        clip_grad_norm=1.0,
        early_stopping=False,
        validation_fraction=0.1,
        patience=10,
        device="auto",
        random_state=None,
        verbose=0,
        callbacks=None,
        class_weight=None,
    ):
        super().__init__(
            cell=cell,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            aggregation=aggregation,
            timesteps=timesteps,
            layers=layers,
            states=states,
            n_networks=n_networks,
            frontend=frontend,
            frontend_window=frontend_window,
            frontend_scales=frontend_scales,
            scaling=scaling,
            differences=differences,
            resample=resample,
            max_epochs=max_epochs,
            batch_size=batch_size,
            inference_batch_size=inference_batch_size,
            crop=crop,
            warp=warp,
            lr=lr,
            optimizer=optimizer,
            weight_decay=weight_decay,
            lr_schedule=lr_schedule,
            clip_grad_norm=clip_grad_norm,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            patience=patience,
            device=device,
            random_state=random_state,
            verbose=verbose,
            callbacks=callbacks,
        )
        self.class_weight = class_weight

    def _prepare_targets(self, y, padded):
        encoded = encode_labels(y, len(padded), self.class_weight)
        self.classes_, codes, criterion = encoded
        return codes, len(self.classes_), criterion, True

    def fit(self, X, y):
        """Train on sequences ``X`` with class labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or \
                (n_samples, n_timesteps), or list of array-like
            Sequences; a list holds one ``(n_timesteps_i, n_features)`` array
            per sequence. Arrays may end shorter sequences with NaN rows.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : HiddenStateClassifier
        """
        return self._fit(X, y)

    def predict_proba(self, X):
        """Class probabilities; for several heads, the mean of theirs.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any layout ``fit`` accepts.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        return _mean_proba(torch.from_numpy(self._head_outputs(X))).numpy()

    def predict(self, X):
        """Most probable class of each sequence.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any layout ``fit`` accepts.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def staged_predict_proba(self, X):
        """Class probabilities after each step, from the steps read so far.

        Step ``t`` gives the probabilities the model computes from the first
        ``t + 1`` steps of each sequence alone (early classification,
        streaming), all computed in one pass. A sequence shorter than the
        longest keeps its final probabilities; the last step equals
        :meth:`predict_proba`. With ``aggregation="timesteps"`` only the heads
        whose step has been read are averaged; before the earliest selected
        step, the earliest head reads the current state.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any layout ``fit`` accepts.

        Yields
        ------
        proba : ndarray of shape (n_samples, n_classes)
            One array per step, up to the longest sequence's length.

        Raises
        ------
        ValueError
            For a resampled model (``resample_length_`` set), which reads
            every step at once, or ``aggregation="timesteps"`` on a model
            whose outputs read the future. Such a model (bidirectional, or
            a per-sequence ``scaling``) gets each step's output from the
            input steps that step has read, re-read as a sequence of their
            own: one read per step instead of one pass.

        See Also
        --------
        stream : The same outputs for one series read chunk by chunk.
        """
        return self._staged(X, _mean_proba)

    def staged_predict(self, X):
        """Most probable class after each step, from the steps read so far.

        See :meth:`staged_predict_proba`.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any layout ``fit`` accepts.

        Yields
        ------
        y_pred : ndarray of shape (n_samples,)
            One array per step, up to the longest sequence's length.
        """
        staged = self.staged_predict_proba(X)
        return (self.classes_[np.argmax(proba, axis=1)] for proba in staged)

    def _combine_stream(self, outputs, mask):
        return _mean_proba(outputs, mask)[0].numpy()


def _mean_proba(logits, mask=None):
    """Heads' logits ``(..., n_views, n_classes)`` -> mean of their probabilities."""
    return mean_over_views(torch.softmax(logits.double(), dim=-1), mask)
