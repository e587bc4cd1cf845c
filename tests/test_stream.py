"""``stream()``: one series read chunk by chunk equals the batch methods on it whole.

(``test_streaming.py`` covers the other streaming: batch inference over
parts of a large input.)
"""

import itertools
import pickle

import joblib
import numpy as np
import pytest

from conftest import make_sequences
from skhidden import (
    HiddenStateAnomalyDetector,
    HiddenStateClassifier,
    HiddenStateRegressor,
    SeriesStream,
)

FRONTENDS = ["none", "conv", "resnet"]
SCALINGS = ["feature", "none", "feature_running"]
SPLITS = ["1", "3", "random"]
TINY = dict(hidden_size=8, max_epochs=1, batch_size=8, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def data():
    X, y = make_sequences(n=8, n_steps=16, n_features=2)
    series = np.random.default_rng(1).normal(size=(41, 2)).astype(np.float32)
    return X, y, series


def _sizes(split, length, seed=0):
    if split != "random":
        return [int(split)] * -(-length // int(split))
    rng = np.random.default_rng(seed)
    sizes = []
    while sum(sizes) < length:
        sizes.append(int(rng.integers(0, 9)))  # empty chunks included
    return sizes


def _streamed(estimator, series, split, seed=0):
    stream = estimator.stream()
    parts, start = [], 0
    for size in _sizes(split, len(series), seed):
        parts.append(stream.update(series[start : start + size]))
        start += size
    parts.append(stream.finish())
    assert stream.n_steps_ == len(series)
    return np.concatenate(parts)


def _staged(method, series):
    return np.stack([step[0] for step in method([series])])


def _check(estimator, series, reference, splits=SPLITS):
    for i, split in enumerate(splits):
        got = _streamed(estimator, series, split, seed=i)
        assert got.shape == reference.shape, split
        np.testing.assert_allclose(got, reference, rtol=1e-5, atol=1e-5, err_msg=split)


@pytest.mark.parametrize(
    "cell, num_layers, frontend",
    list(itertools.product(["gru", "lstm", "rnn"], [1, 2], FRONTENDS)),
)
def test_classifier_stream_equals_staged_proba(data, cell, num_layers, frontend):
    X, y, series = data
    scaling = SCALINGS[(num_layers + FRONTENDS.index(frontend)) % 3]
    clf = HiddenStateClassifier(
        cell=cell,
        num_layers=num_layers,
        frontend=frontend,
        frontend_window=5 if cell == "lstm" else 8,
        scaling=scaling,
        aggregation=("mean", "max", "last", "attention"),
        states="both",
        layers="all" if cell == "rnn" else "last",
        **TINY,
    ).fit(X, y)
    _check(clf, series, _staged(clf.staged_predict_proba, series))


@pytest.mark.parametrize("frontend", FRONTENDS)
@pytest.mark.parametrize(
    "aggregation", ["mean", "max", "last", "attention", "timesteps"]
)
def test_regressor_stream_equals_staged_predict(data, aggregation, frontend):
    X, y, series = data
    reg = HiddenStateRegressor(
        aggregation=aggregation,
        timesteps=[0, 2, 3] if aggregation == "timesteps" else None,
        frontend=frontend,
        scaling=SCALINGS[FRONTENDS.index(frontend)],
        cell=["gru", "lstm", "rnn"][FRONTENDS.index(frontend)],
        **TINY,
    ).fit(X, y.astype(float))
    reference = _staged(reg.staged_predict, series)
    assert reference.shape == (len(reference),)
    _check(reg, series, reference, splits=["1", "random"])


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_differences_stream_as_they_are_staged(data, frontend):
    X, y, series = data
    scaling = SCALINGS[FRONTENDS.index(frontend)]
    params = dict(frontend=frontend, scaling=scaling, differences=True, **TINY)
    clf = HiddenStateClassifier(aggregation="attention", **params).fit(X, y)
    assert clf.net_.module_.scaling.differences
    _check(clf, series, _staged(clf.staged_predict_proba, series))
    reg = HiddenStateRegressor(aggregation="last", **params).fit(X, y.astype(float))
    _check(reg, series, _staged(reg.staged_predict, series), splits=["random"])


def test_a_difference_too_large_for_float32_is_refused_across_chunks(data):
    X, y, series = data
    clf = HiddenStateClassifier(differences=True, **TINY).fit(X, y)
    stream = clf.stream()
    stream.update(np.full((3, X.shape[2]), 3e38, np.float32))
    with pytest.raises(ValueError, match="chunk.*between steps 2 and 3"):
        stream.update(np.full((2, X.shape[2]), -3e38, np.float32))
    assert stream.n_steps_ == 3  # nothing of the refused chunk was read
    stream.update(np.zeros((1, X.shape[2]), np.float32))
    assert stream.n_steps_ == 4


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_ensembles_and_several_targets_stream(data, frontend):
    X, y, series = data
    params = dict(n_networks=2, frontend=frontend, scaling="feature_running", **TINY)
    clf = HiddenStateClassifier(aggregation="attention", **params).fit(X, y)
    _check(clf, series, _staged(clf.staged_predict_proba, series), splits=["3"])
    targets = np.c_[y, -y].astype(float)
    reg = HiddenStateRegressor(aggregation=("mean", "max"), **params).fit(X, targets)
    reference = _staged(reg.staged_predict, series)
    assert reference.shape[1] == 2
    _check(reg, series, reference, splits=["random"])


@pytest.mark.parametrize(
    "frontend, score, scaling, cell",
    [
        ("none", "forecast", "feature", "gru"),
        ("none", "distance", "feature_running", "lstm"),
        ("conv", "forecast", "feature_running", "rnn"),
        ("conv", "distance", "none", "gru"),
        ("resnet", "forecast", "none", "lstm"),
        ("resnet", "distance", "feature", "gru"),
        ("none", "nearest", "feature", "gru"),
        ("resnet", "nearest", "feature_running", "lstm"),
    ],
)
def test_detector_stream_equals_score_steps(data, frontend, score, scaling, cell):
    X, _, series = data
    detector = HiddenStateAnomalyDetector(
        anomaly_score=score,
        frontend=frontend,
        frontend_window=5 if cell == "lstm" else 8,
        scaling=scaling,
        cell=cell,
        num_layers=1 if score == "forecast" else 2,
        layers="last" if score == "forecast" else "all",
        states="both",
        **TINY,
    ).fit(X)
    _check(detector, series, detector.score_steps([series])[0])
    for length in (1, 3, 4, 5):  # a single window, or two: the edge cases
        short = series[:length]
        _check(detector, short, detector.score_steps([short])[0], splits=["1"])


def test_outputs_come_as_soon_as_they_are_final(data):
    X, y, series = data
    clf = HiddenStateClassifier(frontend="conv", frontend_window=8, **TINY).fit(X, y)
    stream = clf.stream()
    assert isinstance(stream, SeriesStream)
    assert stream.update(series[:7]).shape == (0, 2)  # no window of 8 steps yet
    assert stream.update(series[7:8]).shape == (1, 2)  # steps 0-7: window 0
    assert stream.update(series[8:16]).shape == (2, 2)  # windows 1 and 2
    assert stream.update(np.empty((0, 2))).shape == (0, 2)
    forecast = HiddenStateAnomalyDetector(
        anomaly_score="forecast", frontend="none", score_span=1, context_span=None,
        **TINY,
    ).fit(X)
    stream = forecast.stream()
    assert stream.update(series[:1]).shape == (0,)  # waits for step 1's score
    assert stream.update(series[1:5]).shape == (5,)
    assert stream.finish().shape == (0,)
    nearest = HiddenStateAnomalyDetector(
        anomaly_score="nearest", frontend="none", score_span=1, context_span=None,
        **TINY,
    ).fit(X)
    stream = nearest.stream()
    assert stream.update(series[:1]).shape == (1,)  # a state per step: at once
    assert stream.update(series[1:5]).shape == (4,)
    # Pooled over 4 steps: a step's score waits for the 3 steps after it.
    stream = nearest.set_params(score_span=4).stream()
    assert stream.update(series[:3]).shape == (0,)
    assert stream.update(series[3:5]).shape == (2,)  # steps 0 and 1
    assert stream.update(series[5:6]).shape == (1,)
    assert stream.finish().shape == (3,)  # the last 3 pool the steps left
    # With a context of 6 steps, a step's score waits for the 5 after it.
    context = HiddenStateAnomalyDetector(
        anomaly_score="nearest", frontend="none", score_span=4, context_span=6,
        **TINY,
    ).fit(X)
    stream = context.stream()
    assert stream.update(series[:5]).shape == (0,)
    assert stream.update(series[5:7]).shape == (2,)  # steps 0 and 1
    assert stream.finish().shape == (5,)


def test_long_series_keep_a_bounded_state(data):
    X, _, _ = data
    detector = HiddenStateAnomalyDetector(frontend="resnet", **TINY).fit(X)
    stream = detector.stream()
    rng = np.random.default_rng(0)
    n_read = n_returned = 0
    for _ in range(30):
        n_returned += len(stream.update(rng.normal(size=(101, 2))))
        n_read += 101
        # Held back: the steps of an unfinished window and the pooling spans.
        ahead = max(detector.score_span, detector.context_span)
        assert n_read - n_returned < 8 + ahead
        torch_stream = stream._stream
        assert torch_stream._encoder._pending.shape[1] < 8
        assert torch_stream._sums.shape[1] <= 8
        assert torch_stream._held.shape[1] < ahead


@pytest.mark.parametrize(
    "params",
    [
        dict(bidirectional=True, frontend="none"),
        dict(bidirectional=True, frontend="resnet", frontend_window=8, n_networks=2),
        dict(scaling="sequence", frontend="conv", frontend_window=6,
             aggregation=("mean", "attention")),
        dict(scaling="feature_sequence", frontend="none"),
    ],
)
def test_models_reading_the_future_stream_their_staged_outputs(data, params):
    # Each window's row is predict on the steps up to its end, read whole.
    X, y, series = data
    clf = HiddenStateClassifier(**{**TINY, **params}).fit(X, y)
    reference = _staged(clf.staged_predict_proba, series)
    _check(clf, series, reference, splits=["1", "7", "random"])
    stride = clf.net_.module_.frontend.stride
    window = clf.net_.module_.frontend.window
    stream = clf.stream()
    first = stream.update(series[: window + stride])
    assert len(first) == 2  # the windows ending at or before the steps read
    np.testing.assert_allclose(
        first[1], clf.predict_proba([series[: window + stride]])[0], rtol=1e-5
    )
    resumed = pickle.loads(pickle.dumps(stream))
    rest = np.concatenate([resumed.update(series[window + stride :]), resumed.finish()])
    np.testing.assert_allclose(rest, reference[2:], rtol=1e-5, atol=1e-6)


def test_bidirectional_regressor_streams_prefix_predictions(data):
    X, y, series = data
    reg = HiddenStateRegressor(bidirectional=True, frontend="none", **TINY)
    reg.fit(X, y.astype(float))
    streamed = _streamed(reg, series, "random")
    np.testing.assert_allclose(streamed[4], reg.predict([series[:5]])[0], rtol=1e-5)
    np.testing.assert_allclose(streamed[-1], reg.predict([series])[0], rtol=1e-5)
    assert streamed.shape == (len(series),)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_heads_at_fixed_steps_stream_their_staged_outputs(data, bidirectional):
    # A head counts once its window is read; bidirectional: on each prefix.
    X, y, series = data
    clf = HiddenStateClassifier(
        bidirectional=bidirectional, frontend="resnet", frontend_window=4,
        aggregation="timesteps", timesteps=[1, 5], **TINY
    ).fit(X, y)
    reference = _staged(clf.staged_predict_proba, series)
    assert not np.allclose(reference[2], reference[6])  # the second head counts
    _check(clf, series, reference, splits=["1", "7", "random"])


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(timesteps=[0, -1], bidirectional=False), "counted from the end"),
        (dict(timesteps=[0.5], bidirectional=False), "fractions"),
        (dict(timesteps=[0.5], bidirectional=True), "fractions"),
    ],
)
def test_models_that_read_the_whole_series_are_refused_at_stream(data, params, match):
    X, y, _ = data
    clf = HiddenStateClassifier(
        frontend="none", aggregation="timesteps", **TINY, **params
    )
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y).stream()


def test_stream_needs_a_fitted_model():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        HiddenStateRegressor().stream()


def test_bad_chunks_get_clear_errors_and_are_left_unchanged(data):
    X, y, series = data
    clf = HiddenStateClassifier(frontend="none", **TINY).fit(X, y)
    stream = clf.stream()
    before = stream.update(series[:3])
    bad = [
        (series[:2, :1], "1 features per step, but HiddenStateClassifier was fitted"),
        (series[:2, 0], "1 features per step"),
        (series[None, :2], "3 dimension"),
        (np.array([[1.0, np.nan]]), "NaN at step 0"),
        (np.array([[1.0, 2.0], [np.inf, 0]]), "infinite value at step 1"),
        (np.array([["a", "b"]]), "strings"),
        (np.array([[1e39, 0.0]]), "too large for float32"),
        (np.zeros((2, 0)), "0 features"),
        (None, "must be an array of steps"),
    ]
    for chunk, match in bad:
        with pytest.raises((ValueError, TypeError), match=match):
            stream.update(chunk)
    # Nothing was read: the stream continues as if the bad chunks never came.
    assert stream.n_steps_ == 3
    chunk = series[3:].astype(np.float64)
    chunk.flags.writeable = False
    copy = chunk.copy()
    rest = np.concatenate([stream.update(chunk), stream.finish()])
    np.testing.assert_array_equal(chunk, copy)
    reference = _staged(clf.staged_predict_proba, series)
    np.testing.assert_allclose(np.concatenate([before, rest]), reference, atol=1e-5)
    for call in (lambda: stream.update(series[:1]), stream.finish):
        with pytest.raises(ValueError, match="finished"):
            call()
    with pytest.raises(ValueError, match="read no step"):
        clf.stream().finish()


def test_univariate_chunks_may_be_1d(data):
    X, y, series = data
    clf = HiddenStateClassifier(frontend="conv", **TINY).fit(X[:, :, :1], y)
    got = _streamed(clf, series[:, 0], "3")
    np.testing.assert_allclose(
        got, _staged(clf.staged_predict_proba, series[:, 0]), atol=1e-5
    )


def test_a_series_that_ends_before_a_selected_step_is_refused(data):
    X, y, series = data
    reg = HiddenStateRegressor(
        aggregation="timesteps", timesteps=[1, 9], frontend="none", **TINY
    ).fit(X, y)
    stream = reg.stream()
    stream.update(series[:5])
    with pytest.raises(ValueError, match="timesteps selects step 9"):
        stream.finish()


def test_streams_survive_saving_the_model_and_themselves(data, tmp_path):
    X, _, series = data
    detector = HiddenStateAnomalyDetector(frontend="resnet", **TINY).fit(X)
    reference = detector.score_steps([series])[0]
    joblib.dump(detector, tmp_path / "detector.joblib")
    loaded = joblib.load(tmp_path / "detector.joblib")
    np.testing.assert_allclose(_streamed(loaded, series, "3"), reference, atol=1e-5)
    # A stream pickled between chunks resumes where it was.
    stream = detector.stream()
    first = stream.update(series[:20])
    resumed = pickle.loads(pickle.dumps(stream))
    rest = np.concatenate([resumed.update(series[20:]), resumed.finish()])
    np.testing.assert_allclose(np.concatenate([first, rest]), reference, atol=1e-5)
