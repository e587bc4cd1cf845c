"""Inspection: what the fitted network computes inside, per sequence.

``InspectionMixin`` gives every estimator ``hidden_states`` and
``attention_weights``, both streamed like predictions.
"""

from sklearn.utils.validation import check_is_fitted

__all__ = ["InspectionMixin"]


class InspectionMixin:
    """Hidden states and attention weights of the skhidden estimators.

    Not meant to be used directly: mixed into ``BaseHiddenState``, whose
    ``_stream`` it uses.
    """

    def hidden_states(self, X):
        """Hidden state sequence of each input sequence.

        The states the aggregation reads: the top layer's (``layers="last"``)
        or every layer's concatenated (``layers="all"``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or list
            Sequences, in any layout ``fit`` accepts.

        Returns
        -------
        states : list of ndarray of shape (n_timesteps_i, state_size)
            One float32 array per sequence, covering its valid steps only
            (its windows, ``ceil(n_timesteps_i / stride)``, with a front-end).
        """
        return self._stream(
            X, lambda m, Xb, lengths: m.hidden_states(Xb, lengths), per_step=True
        )

    def attention_weights(self, X):
        """Attention weights of each sequence over its own valid steps.

        For a tuple aggregation, the weights of its ``"attention"`` part.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or list
            Sequences, in any layout ``fit`` accepts.

        Returns
        -------
        weights : list of ndarray of shape (n_timesteps_i,)
            One float32 array per sequence: non-negative, summing to 1 (one
            weight per window with a front-end).

        Raises
        ------
        ValueError
            If the aggregation has no ``"attention"``.
        """
        check_is_fitted(self, "net_")
        self.net_.module_.attention_pool()
        return self._stream(
            X, lambda m, Xb, lengths: m.attention_weights(Xb, lengths), per_step=True
        )
