"""Inference streams over parts of a large input with the same results."""

import functools

import numpy as np
import pytest

import skhidden._inference
from conftest import make_sequences
from skhidden import HiddenStateClassifier, HiddenStateTransformer
from skhidden.sequences import iter_chunks


@pytest.fixture
def small_parts(monkeypatch):
    """Make every input of more than a few sequences stream in parts."""
    monkeypatch.setattr(
        skhidden._inference,
        "iter_chunks",
        functools.partial(iter_chunks, max_values=100),
    )


def test_iter_chunks_covers_the_input_with_exact_names():
    X = np.zeros((10, 5, 2))
    parts = list(iter_chunks(X, max_values=30))
    assert [start for start, _, _ in parts] == [0, 3, 6, 9]
    assert parts[1][2] == "X[3:6]" and parts[1][1].base is X
    assert list(iter_chunks(X))[0][2] == "X"
    ragged = [np.zeros(4), np.zeros(9), np.zeros(2)]
    assert [len(part) for _, part, _ in iter_chunks(ragged, max_values=9)] == [1, 1, 1]


@pytest.mark.parametrize("ragged", [False, True])
def test_streamed_outputs_equal_whole_outputs(small_parts, ragged):
    X, y = make_sequences(n=40, ragged=ragged)
    clf = HiddenStateClassifier(
        hidden_size=6, max_epochs=2, random_state=0, device="cpu"
    )
    clf.fit(X, y)
    tr = HiddenStateTransformer(
        hidden_size=6, max_epochs=2, random_state=0, device="cpu"
    )
    tr.fit(X, y)
    proba, features, states = clf.predict_proba(X), tr.transform(X), tr.hidden_states(X)
    # The reference: the same input in one part.
    skhidden._inference.iter_chunks = iter_chunks
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(features, tr.transform(X), atol=1e-6)
    for a, b in zip(states, tr.hidden_states(X), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_bad_part_is_refused_before_any_work_with_exact_indices(
    small_parts, monkeypatch
):
    X, y = make_sequences(n=40)
    clf = HiddenStateClassifier(hidden_size=6, max_epochs=1, device="cpu").fit(X, y)
    calls = []
    module = clf.net_.module_
    monkeypatch.setattr(module, "forward", lambda *a: calls.append(1))
    X = X.copy()
    X[37, 2, 0] = np.nan
    with pytest.raises(
        ValueError, match=r"X\[36:40\] has NaN inside sequence 1 at step 2"
    ):
        clf.predict(X)
    assert calls == []
