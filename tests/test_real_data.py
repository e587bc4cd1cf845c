"""Behaviour on real data (aeon's bundled UCR/UEA datasets, official splits)."""

import numpy as np
import pytest

pytest.importorskip("aeon")

from skhidden import HiddenStateClassifier, SequenceScaler  # noqa: E402
from skhidden.datasets import load_dataset  # noqa: E402


@pytest.fixture(scope="module")
def vowels():
    return (
        load_dataset("JapaneseVowels", "train")
        + load_dataset("JapaneseVowels", "test")
    )


def test_japanese_vowels_ragged_multivariate_is_learned(vowels):
    X_train, y_train, X_test, y_test = vowels
    scaler = SequenceScaler().fit(X_train)
    clf = HiddenStateClassifier(
        hidden_size=32, max_epochs=25, random_state=0, device="cpu"
    )
    clf.fit(scaler.transform(X_train), y_train)
    # Nine speakers: chance is about 0.11.
    assert clf.score(scaler.transform(X_test), y_test) > 0.85


def test_scaler_statistics_ignore_padding(vowels):
    X_train = vowels[0]
    scaler = SequenceScaler().fit(X_train)
    steps = np.concatenate(X_train)
    np.testing.assert_allclose(scaler.mean_, steps.mean(0), rtol=1e-6)
    np.testing.assert_allclose(scaler.scale_, steps.std(0), rtol=1e-6)
    restored = scaler.inverse_transform(scaler.transform(X_train))
    for a, b in zip(restored, X_train, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
