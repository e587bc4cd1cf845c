"""Shared fixtures: fixed seeds and small synthetic sequence data."""

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def fixed_seeds():
    """Every test starts from the same global RNG state."""
    np.random.seed(0)  # noqa: NPY002
    torch.manual_seed(0)


def make_sequences(n=48, n_steps=12, n_features=2, ragged=False, seed=0):
    """Labelled toy sequences: the class is the sign of feature 0's mean.

    Returns ``(X, y)``; with ``ragged`` X is a list of arrays of lengths
    between ``n_steps // 2`` and ``n_steps``.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_steps, n_features)).astype(np.float32)
    y = (X[:, :, 0].mean(axis=1) > 0).astype(int)
    if ragged:
        lengths = rng.integers(n_steps // 2, n_steps + 1, size=n)
        X = [x[:length] for x, length in zip(X, lengths, strict=True)]
        y = np.array([int(x[:, 0].mean() > 0) for x in X])
    return X, y


@pytest.fixture(scope="module")
def sequences():
    return make_sequences()


@pytest.fixture(scope="module")
def ragged_sequences():
    return make_sequences(ragged=True)


@pytest.fixture
def forbid_unpickling(monkeypatch):
    """Make every unpickling entry point (pickle, torch, joblib) fail the test."""
    import pickle

    import joblib

    def forbidden(*args, **kwargs):
        raise AssertionError("loading must not unpickle")

    for module, name in [
        (pickle, "load"),
        (pickle, "loads"),
        (torch, "load"),
        (joblib, "load"),
    ]:
        monkeypatch.setattr(module, name, forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
