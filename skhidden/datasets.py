"""Real datasets in skhidden's layout, through aeon (the ``examples`` extra).

aeon and sktime store sequences as ``(n_cases, n_channels, n_timepoints)``;
skhidden reads ``(n_samples, n_timesteps, n_features)``. ``load_dataset``
does that transpose (and the same for unequal-length lists), so nothing else
in the package ever has to guess a layout.
"""

import os

import numpy as np

__all__ = ["from_channels_first", "load_dataset"]


def from_channels_first(X):
    """Turn aeon/sktime ``(n, channels, T)`` data into skhidden's ``(n, T, channels)``.

    Parameters
    ----------
    X : ndarray of shape (n_cases, n_channels, n_timepoints) or list of \
            ndarray of shape (n_channels, n_timepoints_i)
        Channels-first sequences.

    Returns
    -------
    X : ndarray of shape (n_cases, n_timepoints, n_channels) or list of \
            ndarray of shape (n_timepoints_i, n_channels)
    """
    if isinstance(X, np.ndarray) and X.ndim == 3:
        return np.ascontiguousarray(X.transpose(0, 2, 1))
    return [np.ascontiguousarray(np.asarray(x).T) for x in X]


def load_dataset(name, split="train"):
    """Load a UCR/UEA dataset bundled with aeon, or a ``.ts`` file, offline.

    Parameters
    ----------
    name : str
        A dataset aeon ships (e.g. ``"JapaneseVowels"``, ``"GunPoint"``,
        ``"BasicMotions"``, ``"ItalyPowerDemand"``) or the path of a ``.ts``
        file.
    split : {"train", "test"}, default="train"
        Which official split to load (ignored for a file path).

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, n_features) or list of ndarray
        Sequences in skhidden's layout; a list when lengths differ.
    y : ndarray of shape (n_samples,)
        Class labels.

    Raises
    ------
    ImportError
        If aeon is not installed (``pip install "skhidden[examples]"``).
    """
    try:
        from aeon.datasets import load_classification, load_from_ts_file
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'Loading datasets needs aeon: pip install "skhidden[examples]"'
        ) from exc
    if os.path.splitext(str(name))[1] == ".ts":
        if not os.path.exists(name):
            raise FileNotFoundError(f"No .ts file at {name!r}.")
        X, y = load_from_ts_file(name)
    else:
        if split not in ("train", "test"):
            raise ValueError(f"split={split!r}; use 'train' or 'test'.")
        X, y = load_classification(name, split=split)
    return from_channels_first(X), np.asarray(y)
