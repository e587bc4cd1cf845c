"""``SequenceScaler``: standardise each feature over all valid steps."""

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .sequences import check_sequences, feature_statistics, unpad

__all__ = ["SequenceScaler"]


class SequenceScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standardise each feature with its mean and deviation over all valid steps.

    Statistics are taken over every valid step of every sequence, so padding
    (NaN rows, or the unequal lengths of a list) never counts. The output has
    the input's layout: a list for a list, an array of the same shape (NaN
    padding kept) for an array.

    Parameters
    ----------
    with_mean : bool, default=True
        Subtract each feature's mean.
    with_std : bool, default=True
        Divide by each feature's standard deviation (1 where it is zero).

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Mean of each feature over all valid steps.
    scale_ : ndarray of shape (n_features,)
        Standard deviation of each feature, with zeros replaced by 1.
    n_features_in_ : int
        Features per step.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : The same for tabular data.

    Examples
    --------
    >>> import numpy as np
    >>> from skhidden import SequenceScaler
    >>> X = [np.array([[1.0], [3.0]]), np.array([[5.0], [7.0], [9.0]])]
    >>> scaled = SequenceScaler().fit_transform(X)
    >>> [s.ravel().round(2).tolist() for s in scaled]
    [[-1.41, -0.71], [0.0, 0.71, 1.41]]
    """

    _parameter_constraints = {"with_mean": ["boolean"], "with_std": ["boolean"]}

    def __init__(self, *, with_mean=True, with_std=True):
        self.with_mean = with_mean
        self.with_std = with_std

    def fit(self, X, y=None):
        """Compute each feature's mean and standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or \
                (n_samples, n_timesteps), or list of array-like
            Sequences.
        y : None
            Ignored.

        Returns
        -------
        self : SequenceScaler
        """
        self._validate_params()
        padded, lengths = check_sequences(X, dtype=np.float64)
        mean, std = feature_statistics(padded, lengths)
        self.n_features_in_ = padded.shape[2]
        self.mean_ = mean if self.with_mean else np.zeros_like(mean)
        self.scale_ = std if self.with_std else np.ones_like(std)
        return self

    def _apply(self, X, function):
        check_is_fitted(self)
        padded, lengths = check_sequences(X, dtype=np.float64)
        if padded.shape[2] != self.n_features_in_:
            raise ValueError(
                f"X has {padded.shape[2]} features per step, but SequenceScaler "
                f"was fitted with {self.n_features_in_}."
            )
        values = function(padded)
        if isinstance(X, (list, tuple)):
            dtypes = [getattr(x, "dtype", None) for x in X]
            return [
                seq.reshape(np.shape(x)).astype(_float_dtype(dtype))
                for seq, x, dtype in zip(unpad(values, lengths), X, dtypes, strict=True)
            ]
        X = np.asarray(X)
        out = np.full(X.shape[:2] + (padded.shape[2],), np.nan)
        out[:, : values.shape[1]] = values
        valid = np.arange(out.shape[1])[None, :] < lengths[:, None]
        out[~valid] = np.nan
        return out.reshape(X.shape).astype(_float_dtype(X.dtype))

    def transform(self, X):
        """Standardise ``X``.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences, in any layout ``fit`` accepts.

        Returns
        -------
        X_scaled : ndarray or list of ndarray
            Same layout as ``X``; float32 stays float32, anything else is float64.
        """
        return self._apply(X, lambda values: (values - self.mean_) / self.scale_)

    def inverse_transform(self, X):
        """Undo :meth:`transform`.

        Parameters
        ----------
        X : array-like or list of array-like
            Scaled sequences.

        Returns
        -------
        X_original : ndarray or list of ndarray
            Same layout as ``X``.
        """
        return self._apply(X, lambda values: values * self.scale_ + self.mean_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _float_dtype(dtype):
    return np.float32 if dtype == np.float32 else np.float64
