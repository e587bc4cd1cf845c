"""Edge cases that must work (or fail clearly): tiny, long and unusual data."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import KFold, cross_val_score

from conftest import make_sequences
from skhidden import HiddenStateClassifier, HiddenStateRegressor, HiddenStateTransformer

TINY = dict(hidden_size=4, max_epochs=2, random_state=0, device="cpu")
STRATEGIES = ["last", "mean", "max", "attention", "timesteps", ("mean", "max", "last")]


@pytest.mark.parametrize("aggregation", STRATEGIES, ids=str)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_sequences_of_length_one(aggregation, bidirectional):
    X = np.random.default_rng(0).normal(size=(10, 1, 2))
    y = np.arange(10) % 2
    classifier = HiddenStateClassifier(
        aggregation=aggregation, bidirectional=bidirectional, **TINY
    ).fit(X, y)
    assert classifier.predict_proba(X).shape == (10, 2)
    assert [len(s) for s in classifier.hidden_states(X)] == [1] * 10
    ragged = [x[:1] for x in X[:3]] + [np.ones((4, 2))]
    np.testing.assert_allclose(
        classifier.predict_proba(ragged)[:3], classifier.predict_proba(X[:3]), rtol=1e-6
    )


def test_a_single_class_in_a_fold_is_a_clear_error():
    X, _ = make_sequences(n=12, n_steps=5)
    # Unshuffled 3-fold split: the second fold trains on class 1 only.
    y = np.repeat([1, 0, 1], 4)
    classifier = HiddenStateClassifier(**TINY)
    with pytest.raises(ValueError, match="y has a single class"):
        cross_val_score(classifier, X, y, cv=KFold(3), error_score="raise")
    with pytest.warns(FitFailedWarning, match="y has a single class"):
        scores = cross_val_score(classifier, X, y, cv=KFold(3))
    np.testing.assert_array_equal(np.isnan(scores), [False, True, False])


def test_fewer_samples_than_batch_size():
    X, y = make_sequences(n=5, n_steps=6, ragged=True)
    y = np.r_[0, 1, 0, 1, 1]
    classifier = HiddenStateClassifier(batch_size=64, **TINY).fit(X, y)
    assert classifier.predict(X).shape == (5,)
    with pytest.raises(
        ValueError, match="test_size"
    ):  # a split with no room for both classes
        HiddenStateClassifier(batch_size=64, early_stopping=True, **TINY).fit(X, y)


@pytest.mark.parametrize("n_classes", [2, 5])
def test_one_sample_per_class(n_classes):
    X = np.random.default_rng(0).normal(size=(n_classes, 4, 1))
    labels = np.array([f"class {i}" for i in range(n_classes)])
    classifier = HiddenStateClassifier(**TINY).fit(X, labels)
    np.testing.assert_array_equal(classifier.classes_, labels)
    assert set(classifier.predict(X)) <= set(labels)


@pytest.mark.parametrize("aggregation", ["last", "attention"])
def test_ten_thousand_step_sequences(aggregation):
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(10_000, 1)).astype(np.float32), rng.normal(size=(50, 1))]
    X += [rng.normal(size=(10_000, 1)).astype(np.float32), rng.normal(size=(7, 1))]
    classifier = HiddenStateClassifier(
        aggregation=aggregation,
        hidden_size=4,
        max_epochs=1,
        random_state=0,
        device="cpu",
    ).fit(X, [0, 1, 0, 1])
    proba = classifier.predict_proba(X)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(classifier.predict_proba(X[:1]), proba[:1], rtol=1e-5)
    np.testing.assert_allclose(classifier.predict_proba(X[1:2]), proba[1:2], rtol=1e-5)


@pytest.mark.parametrize(
    "dtype", [np.float64, np.float16, np.int64, np.int8, np.uint8, bool]
)
def test_any_real_dtype_gives_the_float32_result(dtype):
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(12, 5, 2)) * 3).astype(dtype)
    y = np.arange(12) % 2
    reference = X.astype(np.float32)
    for cls in (HiddenStateClassifier, HiddenStateRegressor):
        estimator = cls(**TINY).fit(X, y)
        twin = cls(**TINY).fit(reference, y)
        np.testing.assert_array_equal(estimator.predict(X), twin.predict(reference))


def test_pandas_dataframe_as_univariate_sequences():
    rng = np.random.default_rng(0)
    array = rng.normal(size=(12, 6))
    frame = pd.DataFrame(array, columns=[f"t{i}" for i in range(6)])
    y = pd.Series(np.arange(12) % 2, name="label")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warnings either
        classifier = HiddenStateClassifier(**TINY).fit(frame, y)
        np.testing.assert_array_equal(
            classifier.predict_proba(frame), classifier.predict_proba(array)
        )
        transformer = HiddenStateTransformer(**TINY).fit(frame)
        np.testing.assert_array_equal(
            transformer.transform(frame), transformer.transform(array)
        )
    assert classifier.n_features_in_ == 1
