"""HiddenStateAnomalyDetector: per-step scores, thresholds, outlier API, persistence."""

import copy

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone, is_outlier_detector
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV

import skhidden
from skhidden import HiddenStateAnomalyDetector
from skhidden.anomaly import _segments

TINY = dict(
    hidden_size=8, max_epochs=2, segment_length=50, random_state=0, device="cpu"
)
FRONTENDS = ["none", "patch", "conv", "resnet"]
SCORES = ["forecast", "distance", "nearest"]


def sine(n_steps=600, period=25, noise=0.05, seed=0):
    """A noisy sine, ``(n_steps, 1)`` float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)
    values = np.sin(2 * np.pi * t / period) + noise * rng.normal(size=n_steps)
    return values.astype(np.float32)[:, None]


def ragged(seed=0):
    """Short and long sequences of 2 features, some shorter than a window."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, 2)).astype(np.float32) for n in (1, 3, 9, 40, 17)]


@pytest.fixture(scope="module")
def fitted():
    """One detector per score, a state per input step, trained on ragged sequences."""
    return {
        score: HiddenStateAnomalyDetector(
            anomaly_score=score, frontend="none", **TINY
        ).fit(ragged())
        for score in SCORES
    }


@pytest.mark.parametrize("score", SCORES)
@pytest.mark.parametrize("frontend", FRONTENDS)
def test_one_finite_score_per_input_step_for_every_layout(score, frontend):
    detector = HiddenStateAnomalyDetector(
        anomaly_score=score, frontend=frontend, **TINY
    )
    X = ragged()
    detector.fit(X)
    rng = np.random.default_rng(1)
    layouts = {
        "ragged": X,
        "3-D": rng.normal(size=(4, 12, 2)).astype(np.float32),
        "one long series": [rng.normal(size=(300, 2))],
    }
    for name, data in layouts.items():
        scores = detector.score_steps(data)
        assert len(scores) == len(data), name
        for sequence, values in zip(data, scores, strict=True):
            assert values.shape == (len(sequence),), name
            assert np.isfinite(values).all(), name
            assert (values >= 0).all(), name


def test_two_dimensional_input_is_univariate_sequences():
    X = np.random.default_rng(0).normal(size=(6, 20))
    detector = HiddenStateAnomalyDetector(**TINY).fit(X)
    assert detector.n_features_in_ == 1
    assert [len(s) for s in detector.score_steps(X)] == [20] * 6


@pytest.mark.parametrize(
    "frontend, score",
    [
        ("none", "forecast"),
        ("resnet", "forecast"),
        ("none", "distance"),
        ("none", "nearest"),
    ],
)
@pytest.mark.parametrize("span", [1, 32])
def test_a_short_spike_gets_the_peak_score(frontend, score, span):
    detector = HiddenStateAnomalyDetector(
        anomaly_score=score,
        frontend=frontend,
        score_span=span,
        hidden_size=16,
        max_epochs=15,
        segment_length=100,
        lr=0.01,
        random_state=0,
        device="cpu",
    )
    detector.fit([sine(1000)])
    test = sine(1000, seed=1)
    test[600:603] += 2.0
    scores = detector.score_steps([test])[0]
    # Raw scores peak at the spike or just after it; pooled over the span
    # ahead, the peak reaches back from there, onto the spike's first step.
    peak = np.flatnonzero(scores == scores.max())
    assert 600 - span < peak.min() and peak.max() <= 606
    if span > 6:  # the raw peak (600 to 606) lies in step 600's span
        assert scores[600] == scores.max()
    labels = detector.predict_steps([test])[0]
    assert labels[600:606].any()


def test_steps_that_no_state_forecasts_take_the_first_forecast_score():
    X = ragged()
    forecast = dict(TINY, anomaly_score="forecast")
    scores = HiddenStateAnomalyDetector(**forecast).fit(X).score_steps(X)
    assert scores[0].tolist() == [0.0]  # one step: nothing forecasts anything
    for values in scores[1:]:
        assert values[0] == values[1]
    patch = HiddenStateAnomalyDetector(frontend="patch", frontend_window=4, **forecast)
    values = patch.fit(X).score_steps(X)[3]  # 40 steps: 10 windows of 4
    np.testing.assert_array_equal(values[:4], values[4])
    assert (
        HiddenStateAnomalyDetector(frontend="patch", **forecast)
        .fit(X)
        .score_steps(X)[1]
        .tolist()
        == [0.0] * 3
    )  # a single window: no forecast


def _ahead(values, span):
    """By hand: each step's highest score over it and the span - 1 after it."""
    return np.array([values[i : i + span].max() for i in range(len(values))])


def test_the_default_scores_windows_by_their_state_and_features_nearest_distance():
    # The default (benchmarks/results/anomaly.md): windows of 8 steps every 4
    # through the residual front-end, each window's recurrent state with its
    # convolutional features, its distance to the nearest training state,
    # a step's score the mean over its windows pooled over the 32 from it.
    X = [sine(300, seed=s) for s in range(2)]
    detector = HiddenStateAnomalyDetector(
        hidden_size=8, max_epochs=2, random_state=0, device="cpu"
    ).fit(X)
    states = detector.hidden_states(X[:1])[0]
    assert states.shape[1] > 8  # the window's features beside the state
    z = (states - detector.state_mean_) / detector.state_scale_
    bank = detector.state_bank_
    distances = np.linalg.norm(bank[None] - z[:, None], axis=2).min(axis=1)
    sums, counts = np.zeros(300), np.zeros(300)
    for window, distance in enumerate(distances):
        sums[4 * window : 4 * window + 8] += distance
        counts[4 * window : 4 * window + 8] += 1
    expected = _ahead(sums / counts, 32)
    np.testing.assert_allclose(
        detector.score_steps(X[:1])[0], expected, rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("score", SCORES)
def test_a_sequence_scores_the_same_alone_and_in_a_batch(fitted, score):
    detector = fitted[score]
    X = ragged(seed=3)
    together = detector.score_steps(X)
    for sequence, values in zip(X, together, strict=True):
        # rtol too: a distance of about 10 in float32 is a matrix product
        # whose rounding follows the batch's shape (a few ulp at 1e-6).
        np.testing.assert_allclose(
            detector.score_steps([sequence])[0], values, rtol=1e-5, atol=1e-5
        )


def test_padding_invariance_with_an_overlapping_frontend():
    detector = HiddenStateAnomalyDetector(frontend="conv", **TINY).fit(ragged())
    X = ragged(seed=4)
    for sequence, values in zip(X, detector.score_steps(X), strict=True):
        # rtol too: a distance of about 10 in float32 is a matrix product
        # whose rounding follows the batch's shape (a few ulp at 1e-6).
        np.testing.assert_allclose(
            detector.score_steps([sequence])[0], values, rtol=1e-5, atol=1e-5
        )


@pytest.mark.parametrize("frontend", ["none", "conv"])
@pytest.mark.parametrize("score", SCORES)
def test_a_step_takes_the_highest_score_of_the_span_from_it(frontend, score):
    import skhidden.anomaly

    X = ragged(seed=2)
    detector = HiddenStateAnomalyDetector(
        anomaly_score=score, frontend=frontend, frontend_window=4, score_span=5,
        context_span=None, **TINY,
    ).fit(ragged())
    raw = copy.deepcopy(detector).set_params(score_span=1)
    for pooled, values in zip(detector.score_steps(X), raw.score_steps(X), strict=True):
        np.testing.assert_allclose(pooled, _ahead(values, 5), rtol=1e-5, atol=1e-6)
    # The training scores that set threshold_ are pooled alike.
    lengths = np.array([len(x) for x in ragged()])
    raw_held_out = skhidden.anomaly._training_scores(detector, ragged(), lengths)
    held_out, scales = skhidden.anomaly._pooled_training_scores(detector, raw_held_out)
    assert scales is None and detector.score_scales_ is None
    for pooled, values in zip(held_out, raw_held_out, strict=True):
        np.testing.assert_allclose(pooled, _ahead(values, 5), rtol=1e-5, atol=1e-6)
    assert detector.threshold_ == pytest.approx(
        np.quantile(np.concatenate(held_out), 1 - detector.contamination)
    )


def _ahead_mean(values, span):
    """By hand: each step's mean score over it and the span - 1 after it."""
    return np.array([values[i : i + span].mean() for i in range(len(values))])


@pytest.mark.parametrize("score", SCORES)
def test_a_context_adds_the_capped_mean_of_the_steps_ahead(score):
    import skhidden.anomaly

    X = ragged(seed=2)
    detector = HiddenStateAnomalyDetector(
        anomaly_score=score, frontend="conv", frontend_window=4, score_span=5,
        context_span=12, **TINY,
    ).fit(ragged())
    # The scales: the training steps' 99th percentiles of both pooled scores.
    lengths = np.array([len(x) for x in ragged()])
    raw_held_out = skhidden.anomaly._training_scores(detector, ragged(), lengths)
    highest = np.concatenate([_ahead(v, 5) for v in raw_held_out])
    mean = np.concatenate([_ahead_mean(v, 12) for v in raw_held_out])
    scales = detector.score_scales_
    np.testing.assert_allclose(
        scales, [np.quantile(highest, 0.99), np.quantile(mean, 0.99)], rtol=1e-5
    )
    raw = copy.deepcopy(detector).set_params(score_span=1, context_span=None)
    for pooled, values in zip(detector.score_steps(X), raw.score_steps(X), strict=True):
        expected = np.maximum(
            _ahead(values, 5) / scales[0],
            np.minimum(_ahead_mean(values, 12) / scales[1], 1.0),
        )
        np.testing.assert_allclose(pooled, expected, rtol=1e-5, atol=1e-6)
    # The training scores that set threshold_ are pooled alike.
    held_out, _ = skhidden.anomaly._pooled_training_scores(detector, raw_held_out)
    assert detector.threshold_ == pytest.approx(
        np.quantile(np.concatenate(held_out), 1 - detector.contamination)
    )


def test_a_long_mild_anomaly_ranks_high_but_never_above_a_short_peak():
    from skhidden.nn.scoring import pool_steps

    raw = torch.zeros(1, 400)
    raw[0, 50:53] = 10.0  # short and strong
    raw[0, 200:330] = 2.0  # long and mild
    lengths = torch.tensor([400])
    # Uncapped, the mean would score the long one 4, above the short one's 2.
    pooled = pool_steps(raw, lengths, 5, (12, torch.tensor([5.0, 0.5])))[0]
    assert 46 <= int(pooled.argmax()) <= 52 and float(pooled.max()) == 2.0
    assert (pooled[200:320] == 1.0).all()  # above every normal step
    assert (pooled[:30] == 0).all() and (pooled[360:] == 0).all()


@pytest.mark.parametrize("score", ["forecast", "distance"])
def test_threshold_is_the_training_quantile_of_step_scores(score):
    X = [sine(400, seed=s) for s in range(3)]
    detector = HiddenStateAnomalyDetector(
        anomaly_score=score, contamination=0.05, score_span=1, **TINY
    ).fit(X)
    steps = np.concatenate(detector.score_steps(X))
    assert detector.threshold_ == pytest.approx(np.quantile(steps, 0.95))
    # Unpooled only: pooled scores tie over runs of steps, so fewer would lie
    # strictly above.
    assert np.mean(steps > detector.threshold_) == pytest.approx(0.05, abs=0.01)
    pooled = clone(detector).set_params(score_span=16).fit(X)
    steps = np.concatenate(pooled.score_steps(X))
    assert pooled.threshold_ == pytest.approx(np.quantile(steps, 0.95))
    labels = detector.predict_steps(X)
    for values, flags in zip(detector.score_steps(X), labels, strict=True):
        assert flags.dtype == np.int64
        np.testing.assert_array_equal(flags, (values > detector.threshold_).astype(int))
    strict = clone(detector).set_params(contamination=0.2).fit(X)
    assert strict.threshold_ < detector.threshold_


def test_nearest_sets_the_threshold_from_states_away_from_their_own(monkeypatch):
    import skhidden.anomaly

    X = [sine(400, seed=s) for s in range(3)]
    detector = HiddenStateAnomalyDetector(
        anomaly_score="nearest", contamination=0.05, frontend="none", score_span=1,
        context_span=None, **TINY,
    ).fit(X)  # a state per input step, unpooled: the check by hand reads them
    own = detector.score_steps(X)
    held_out = skhidden.anomaly._training_scores(detector, X, np.array([400] * 3))
    steps = np.concatenate(held_out)
    assert detector.threshold_ == pytest.approx(np.quantile(steps, 0.95))
    normality = [-values.max() for values in held_out]
    assert detector.offset_ == pytest.approx(np.quantile(normality, 0.05))
    # A training state is in the bank: its own distance is about 0, which
    # would make nearly every new step an anomaly.
    assert np.concatenate(own).max() < 1e-3 < detector.threshold_
    # By hand: the nearest bank state of another sequence, or of the same
    # sequence at least a quarter of segment_length (50) steps away.
    states = detector.hidden_states(X)
    bank = detector.state_bank_
    step = 120
    z = (states[1][step] - detector.state_mean_) / detector.state_scale_
    owner, position = np.repeat([0, 1, 2], 400), np.tile(np.arange(400), 3)
    allowed = (owner != 1) | (np.abs(position - step) >= 50 / 4)
    expected = np.linalg.norm(bank[allowed] - z, axis=1).min()
    assert held_out[1][step] == pytest.approx(expected, rel=1e-4)
    # One sequence alone: the states of its own a period (25) away count,
    # those closer than a quarter of segment_length do not.
    single = clone(detector).fit(X[:1])
    held_out = skhidden.anomaly._training_scores(single, X[:1], np.array([400]))
    z = (single.hidden_states(X[:1])[0] - single.state_mean_) / single.state_scale_
    distances = np.linalg.norm(single.state_bank_[None] - z[:, None], axis=2)
    away = np.abs(np.arange(400)[:, None] - np.arange(400)) >= 50 / 4
    expected = np.where(away, distances, np.inf).min(axis=1)
    np.testing.assert_allclose(held_out[0], expected, rtol=1e-4, atol=1e-6)
    # With segment_length=None only other sequences count.
    whole = clone(detector).set_params(segment_length=None).fit(X)
    alone = clone(detector).set_params(segment_length=None).fit(X[:1])
    assert whole.threshold_ > 1e-3
    # One sequence and nothing outside it: its nearest of all is taken.
    assert alone.threshold_ < 1e-3


@pytest.mark.parametrize("score", ["forecast", "nearest"])
def test_outlier_api_signs_and_contamination(score):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 15, 1)).astype(np.float32)
    detector = HiddenStateAnomalyDetector(
        anomaly_score=score, contamination=0.1, **TINY
    ).fit(X)
    assert is_outlier_detector(detector)
    scores = detector.score_samples(X)
    np.testing.assert_allclose(scores, [-s.max() for s in detector.score_steps(X)])
    decision = detector.decision_function(X)
    np.testing.assert_allclose(decision, scores - detector.offset_)
    predicted = detector.predict(X)
    np.testing.assert_array_equal(predicted, np.where(decision < 0, -1, 1))
    if score == "forecast":
        assert np.sum(predicted == -1) == 6  # 10 % of the training sequences
    else:  # from held-out scores: the training sequences themselves score lower
        assert np.sum(predicted == -1) < 6
    # fit_predict labels the training sequences from the scores that set
    # offset_: 10 % of them are outliers whichever the score.
    labels = clone(detector).fit_predict(X)
    assert np.sum(labels == -1) == 6
    if score == "forecast":
        np.testing.assert_array_equal(labels, predicted)
    odd = X[:1].copy()
    odd[0, 7] += 25.0
    assert detector.score_samples(odd)[0] < scores[0]
    assert detector.predict(odd)[0] == -1


@pytest.mark.parametrize("score", SCORES)
def test_one_long_training_series_is_an_inlier(score):
    series = [sine(500)]
    detector = HiddenStateAnomalyDetector(anomaly_score=score, **TINY).fit(series)
    assert detector.predict(series).tolist() == [1]
    decision = detector.decision_function(series)[0]
    if score == "nearest":  # its own states are nearer than held-out ones
        assert decision >= 0.0
    else:
        assert decision == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("score", SCORES)
def test_a_constant_series_is_fine(score):
    constant = [np.full((200, 2), 3.0)]
    detector = HiddenStateAnomalyDetector(anomaly_score=score, **TINY).fit(constant)
    scores = detector.score_steps(constant)[0]
    assert np.isfinite(scores).all()
    assert np.isfinite(detector.threshold_) and np.isfinite(detector.offset_)
    assert detector.predict(constant).tolist() == [1]


def test_bad_input_is_refused(fitted):
    detector = fitted["forecast"]
    with pytest.raises(ValueError, match="features per step"):
        detector.score_steps(np.zeros((2, 5, 3)))
    bad = np.zeros((2, 5, 2))
    bad[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN inside sequence 1"):
        detector.score_samples(bad)
    with pytest.raises(ValueError):
        HiddenStateAnomalyDetector(**TINY).fit([])
    with pytest.raises(ValueError):
        HiddenStateAnomalyDetector(**TINY).fit(np.zeros((2, 3, 4, 5)))
    with pytest.raises(NotFittedError):
        HiddenStateAnomalyDetector().score_steps(np.zeros((2, 5, 2)))
    with pytest.raises(ValueError, match="anomaly_score"):
        HiddenStateAnomalyDetector(anomaly_score="both").fit(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="contamination"):
        HiddenStateAnomalyDetector(contamination=0.7).fit(np.zeros((2, 5)))
    for span in (0, 2.5, "32", None):
        with pytest.raises(ValueError, match="score_span"):
            HiddenStateAnomalyDetector(score_span=span).fit(np.zeros((2, 5)))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"bidirectional": True}, "bidirectional=True reads every sequence backwards"),
        ({"scaling": "sequence"}, "standardises each sequence"),
        ({"scaling": "feature_sequence"}, "standardises each sequence"),
    ],
)
def test_non_causal_models_are_refused_before_any_work(monkeypatch, params, match):
    detector = HiddenStateAnomalyDetector(**{**TINY, **params})

    def no_training(*args):
        raise AssertionError("training started")

    monkeypatch.setattr(detector, "_fit", no_training)
    with pytest.raises(ValueError, match=match):
        detector.fit(ragged())


def test_the_pooling_parameters_are_not_offered():
    params = HiddenStateAnomalyDetector().get_params()
    assert not {"aggregation", "timesteps", "n_networks"} & set(params)


@pytest.mark.parametrize("score", SCORES)
def test_save_and_load_give_identical_scores(fitted, tmp_path, score):
    detector = fitted[score]
    X = ragged(seed=5)
    expected = detector.score_steps(X)
    joblib.dump(detector, tmp_path / "model.joblib")
    detector.save(tmp_path / "model.skhidden")
    for loaded in (
        joblib.load(tmp_path / "model.joblib"),
        skhidden.load(tmp_path / "model.skhidden"),
    ):
        assert type(loaded) is HiddenStateAnomalyDetector
        assert loaded.threshold_ == detector.threshold_
        assert loaded.offset_ == detector.offset_
        for a, b in zip(loaded.score_steps(X), expected, strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(loaded.predict(X), detector.predict(X))


def test_refitting_with_another_score_drops_the_state_statistics():
    detector = HiddenStateAnomalyDetector(
        anomaly_score="distance", frontend="none", states="recurrent", **TINY
    )
    detector.fit(ragged())
    assert detector.state_precision_.shape == (8, 8)
    detector.set_params(anomaly_score="nearest").fit(ragged())
    assert not hasattr(detector, "state_precision_")
    assert detector.state_bank_.shape == (70, 8)  # 1 + 3 + 9 + 40 + 17 states
    detector.set_params(anomaly_score="forecast").fit(ragged())
    for name in ("state_mean_", "state_scale_", "state_bank_"):
        assert not hasattr(detector, name)


def test_training_segments_cover_each_sequence():
    padded = np.arange(2 * 7, dtype=np.float32).reshape(2, 7, 1)
    pieces = _segments(padded, np.array([7, 1]), 3)
    # 7 steps: two segments of 3; the 1-step rest forecasts nothing and goes.
    assert [len(p) for p in pieces] == [3, 3, 1]
    assert pieces[2][0, 0] == 7.0  # a 1-step sequence is kept whole
    assert [len(p) for p in _segments(padded, np.array([7, 5]), 3)] == [3, 3, 3, 2]
    assert [len(p) for p in _segments(padded, np.array([7, 5]), None)] == [7, 5]


def test_clone_and_grid_search_over_the_score():
    X = np.random.default_rng(0).normal(size=(12, 10, 1)).astype(np.float32)
    detector = HiddenStateAnomalyDetector(**TINY)
    assert clone(detector).get_params() == detector.get_params()

    def mean_normality(estimator, X, y=None):
        return float(np.mean(estimator.score_samples(X)))

    search = GridSearchCV(
        detector, {"anomaly_score": SCORES}, scoring=mean_normality, cv=2
    ).fit(X)
    assert search.best_params_["anomaly_score"] in SCORES
    assert len(search.best_estimator_.score_steps(X)) == 12


def test_distance_statistics_are_those_of_the_training_states(fitted):
    # The span is read when scoring only: unpooled, the same fitted model.
    detector = copy.deepcopy(fitted["distance"]).set_params(
        score_span=1, context_span=None
    )
    states = np.concatenate(detector.hidden_states(ragged())).astype(np.float64)
    np.testing.assert_allclose(detector.state_mean_, states.mean(axis=0), atol=1e-5)
    covariance = np.cov(states.T, bias=True)
    ridge = 1e-3 * np.trace(covariance) / len(covariance) + 1e-6
    np.testing.assert_allclose(
        detector.state_precision_,
        np.linalg.inv(covariance + ridge * np.eye(len(covariance))),
        rtol=1e-3,
        atol=1e-3,
    )
    last = detector.hidden_states(ragged())[4][:5].astype(np.float64)
    centred = last - states.mean(axis=0)
    expected = np.einsum("ti,ij,tj->t", centred, detector.state_precision_, centred)
    np.testing.assert_allclose(
        detector.score_steps(ragged())[4][:5], expected / states.shape[1], rtol=1e-4
    )


@pytest.mark.parametrize("bank_size", [4096, 16])
def test_nearest_measures_each_state_against_every_kth_training_state(
    monkeypatch, bank_size
):
    import skhidden.anomaly

    monkeypatch.setattr(skhidden.anomaly, "_BANK_SIZE", bank_size)
    detector = HiddenStateAnomalyDetector(
        anomaly_score="nearest", frontend="none", score_span=1, context_span=None,
        **TINY
    )
    detector.fit(ragged())
    states = np.concatenate(detector.hidden_states(ragged())).astype(np.float64)
    every = -(-len(states) // bank_size)  # 70 states: all, or every 5th (14)
    kept = states[::every]
    assert len(detector.state_bank_) == len(kept) <= bank_size
    variance = kept.var(axis=0)
    scale = np.sqrt(variance + 1e-3 * variance.mean() + 1e-12)
    np.testing.assert_allclose(detector.state_mean_, kept.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(detector.state_scale_, scale, rtol=1e-4)
    bank = (kept - kept.mean(axis=0)) / scale
    np.testing.assert_allclose(detector.state_bank_, bank, rtol=1e-4, atol=1e-4)
    test = ragged(seed=6)
    standardised = (detector.hidden_states(test)[3] - kept.mean(axis=0)) / scale
    nearest = np.linalg.norm(standardised[:, None] - bank[None], axis=-1).min(axis=1)
    np.testing.assert_allclose(
        detector.score_steps(test)[3], nearest, rtol=1e-4, atol=1e-4
    )
    if bank_size == 4096:
        # A training state is its own nearest neighbour.
        assert np.allclose(detector.score_steps(ragged())[3], 0.0, atol=1e-3)


def test_the_bank_does_not_depend_on_the_inference_batches(monkeypatch):
    import skhidden.anomaly

    monkeypatch.setattr(skhidden.anomaly, "_BANK_SIZE", 16)
    banks = [
        HiddenStateAnomalyDetector(
            anomaly_score="nearest", inference_batch_size=size, **TINY
        ).fit(ragged()).state_bank_
        for size in (1, 2, "auto")
    ]
    for bank in banks[1:]:
        np.testing.assert_allclose(bank, banks[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("frontend", ["none", "resnet"])
@pytest.mark.parametrize("score", SCORES)
def test_a_series_too_long_for_one_batch_is_scored_in_chunks(
    monkeypatch, frontend, score
):
    import skhidden._inference

    detector = HiddenStateAnomalyDetector(
        anomaly_score=score, frontend=frontend, frontend_window=4, **TINY
    ).fit([sine(300)])
    series = [sine(700, seed=1), sine(40, seed=2)]
    whole = detector.score_steps(series)
    calls = []
    original = type(detector)._long_scores

    def spy(self, module, X, chunk, **kwargs):
        calls.append(chunk)
        return original(self, module, X, chunk, **kwargs)

    monkeypatch.setattr(type(detector), "_long_scores", spy)
    # A batch may now hold 100 steps: the long series is streamed, 25 at a time.
    values = skhidden._inference.step_values(detector.net_.module_)
    monkeypatch.setattr(skhidden._inference, "MAX_BATCH_VALUES", 100 * values)
    chunked = detector.score_steps(series)
    assert calls == [25]
    # The distance's precision matrix amplifies the float32 rounding by
    # which a GRU run in parts differs from one run whole (~1e-4 relative).
    rtol = 1e-5 if score == "forecast" else 3e-4
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=1e-5)
