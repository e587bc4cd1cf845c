"""``HiddenStateClassifier``: sequence classification from aggregated states."""

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import StrOptions

from ._base import BaseHiddenState
from ._registry import register_estimator
from ._targets import encode_labels
from .nn.network import mean_over_views

__all__ = ["HiddenStateClassifier"]


@register_estimator
class HiddenStateClassifier(ClassifierMixin, BaseHiddenState):
    """Recurrent-network classifier whose features are the aggregated hidden states.

    The network reads each sequence with an RNN, LSTM or GRU, summarises the
    sequence of hidden states with the chosen ``aggregation`` and classifies
    the summary with a linear head (one head per selected step for
    ``"timesteps"``, their probabilities averaged). Training runs through
    skorch; the trained net is kept as ``net_``.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}, default="gru"
        Recurrent cell.
    hidden_size : int, default=64
        Hidden units per direction.
    num_layers : int, default=1
        Stacked recurrent layers.
    bidirectional : bool, default=False
        Also read each sequence backwards from its own last step.
    dropout : float, default=0.0
        Dropout between layers and before the heads.
    aggregation : str or tuple of str, default="max"
        How the states become one vector: ``"last"``, ``"mean"``, ``"max"``,
        ``"attention"``, ``"timesteps"``, or a tuple of pooled strategies whose
        vectors are concatenated, e.g. ``("mean", "max")``.
    timesteps : list of int or float, default=None
        Steps read by ``aggregation="timesteps"``: ints index steps (negative
        from each sequence's end), floats in (0, 1] are fractions of each
        sequence's length. None means ``(0.25, 0.5, 0.75, 1.0)``.
    layers : {"last", "all"}, default="last"
        Aggregate the top layer's states, or all layers' concatenated.
    states : {"recurrent", "both"}, default="recurrent"
        What the aggregation reads at each step: the recurrent states, or the
        recurrent states with the front-end's features of the same step
        concatenated after them (``"both"``, as LSTM-FCN joins its recurrent
        and convolutional branches). ``hidden_states`` returns what it reads.
    n_networks : int, default=1
        Networks trained side by side from independent initialisations, on
        the same batches, each on its own loss; predictions average their
        heads' outputs (an ensemble, as InceptionTime's five networks).
        ``hidden_states`` and features concatenate the members', attention
        weights average theirs. Fit time grows about linearly.
    frontend : {"none", "patch", "conv", "resnet"}, default="resnet"
        How input steps become recurrent steps: the raw steps, windows of
        ``frontend_window`` steps flattened (``"patch"``), or a strided 1-D
        convolution with kernel ``frontend_window`` and stride half of it
        (``"conv"``), or that convolution with batch normalisation followed
        by two residual blocks of causal convolutions over the windows
        (``"resnet"``; window t still reads only input steps up to its own
        end). With a front-end every state, ``timesteps`` index,
        staged prediction and attention weight refers to a window.
    frontend_window : int, default=8
        Window (patch) or kernel (conv, resnet) size, in input steps.
    scaling : {"none", "feature", "sequence", "sequence_level", "feature_sequence", \
            "feature_running"}, default="feature"
        Input standardisation inside the network: each feature with its mean
        and deviation over all valid training steps (``"feature"``), each
        sequence over its own valid steps (``"sequence"``, removes amplitude
        differences between sequences), that plus each sequence's level and
        log-spread per feature as two extra constant features
        (``"sequence_level"``: shape read scale-free, amplitude still
        known), the ``"feature"`` and ``"sequence"`` views side by side
        (``"feature_sequence"``), or the ``"feature"`` view beside each step
        standardised by its sequence's steps so far (``"feature_running"``:
        scale-free shape, still causal), or none. The per-sequence modes
        other than ``"feature_running"`` read whole sequences, so staged
        outputs refuse them.
    max_epochs : int, default=100
        Training epochs.
    batch_size : int, default=32
        Sequences per batch.
    crop : float in (0, 1], default=1.0
        Training augmentation (window slicing): below 1, every epoch each
        training sequence is read as a random contiguous window of
        ``ceil(crop * length)`` of its steps; prediction reads whole
        sequences.
    lr : float, default=0.005
        Learning rate.
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class, \
            default="adam"
        Optimizer.
    weight_decay : float, default=0.0
        Weight decay passed to the optimizer.
    lr_schedule : {"constant", "cosine"}, default="constant"
        Learning rate over the epochs: constant, or cosine annealing from
        ``lr`` to zero at ``max_epochs``.
    clip_grad_norm : float or None, default=1.0
        Maximum gradient norm; None turns clipping off.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified), stop when
        the validation loss has not improved for ``patience`` epochs and keep
        the best weights.
    validation_fraction : float, default=0.1
        Share of the data held out for early stopping.
    patience : int, default=10
        Epochs without improvement before early stopping.
    device : str or torch.device, default="auto"
        ``"auto"`` uses CUDA, then MPS, then the CPU; ``"cpu"``, ``"cuda"``,
        ``"cuda:N"`` and ``"mps"`` are honoured and must be present.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and dropout; an int makes two
        fits on the CPU give identical predictions.
    verbose : int, default=0
        1 prints a table with one line per epoch.
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks (or ``(name, callback)`` pairs).
    class_weight : dict, "balanced" or None, default=None
        Class weights in the loss, as in scikit-learn.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Features per step seen in ``fit``.
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
        bidirectional=False,
        dropout=0.0,
        aggregation="max",
        timesteps=None,
        layers="last",
        states="recurrent",
        n_networks=1,
        frontend="resnet",
        frontend_window=8,
        scaling="feature",
        max_epochs=100,
        batch_size=32,
        crop=1.0,
        lr=0.005,
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
            scaling=scaling,
            max_epochs=max_epochs,
            batch_size=batch_size,
            crop=crop,
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
        self.classes_, codes, criterion = encode_labels(y, len(padded), self.class_weight)
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
            For a bidirectional model or a per-sequence ``scaling``, which
            read every step at once.
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


def _mean_proba(logits, mask=None):
    """Heads' logits ``(..., n_views, n_classes)`` -> mean of their probabilities."""
    return mean_over_views(torch.softmax(logits.double(), dim=-1), mask)
