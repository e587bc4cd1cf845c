"""skhidden.metrics: VUS-PR against aeon, the UCR score, and the step scorers."""

import warnings

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline

from skhidden import HiddenStateAnomalyDetector, SequenceScaler
from skhidden.metrics import (
    StepScorer,
    make_step_scorer,
    make_vus_pr_scorer,
    ucr_score,
    ucr_scorer,
    vus_pr,
    vus_pr_scorer,
)

aeon_metrics = pytest.importorskip("aeon.benchmarking.metrics.anomaly_detection")


def aeon_vus_pr(labels, scores, window):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return aeon_metrics.range_pr_vus_score(
            np.asarray(labels), np.asarray(scores, dtype=np.float64), window
        )


def random_case(rng):
    n_steps = int(rng.integers(5, 500))
    labels = np.zeros(n_steps, dtype=np.int64)
    for _ in range(int(rng.integers(1, 5))):
        start = int(rng.integers(0, n_steps))
        labels[start : start + int(rng.integers(1, 40))] = 1
    return labels


@pytest.mark.parametrize("seed", range(12))
def test_vus_pr_equals_aeon_on_random_cases(seed):
    rng = np.random.default_rng(seed)
    labels = random_case(rng)
    n_steps = len(labels)
    candidates = [
        rng.normal(size=n_steps),  # uninformative
        labels + 0.7 * rng.normal(size=n_steps),  # informative
        np.round(rng.normal(size=n_steps), 1),  # many ties
        rng.integers(0, 3, size=n_steps).astype(np.float64),  # few levels
    ]
    for scores in candidates:
        for window in (0, 1, 2, 3, int(rng.integers(4, 120))):
            assert vus_pr(labels, scores, window=window) == pytest.approx(
                aeon_vus_pr(labels, scores, window), abs=1e-6
            )


@pytest.mark.parametrize(
    "case",
    [
        "anomaly at the start",
        "anomaly at the end",
        "whole series anomalous but one step",
        "adjacent anomalies whose buffers merge",
        "single-step anomalies",
        "shorter than 250 steps",
        "long series",
    ],
)
def test_vus_pr_equals_aeon_on_structured_cases(case):
    rng = np.random.default_rng(0)
    n_steps = 3000 if case == "long series" else 120
    labels = np.zeros(n_steps, dtype=np.int64)
    if case == "anomaly at the start":
        labels[:7] = 1
    elif case == "anomaly at the end":
        labels[-5:] = 1
    elif case == "whole series anomalous but one step":
        labels[1:] = 1
    elif case == "adjacent anomalies whose buffers merge":
        labels[40:45] = labels[50:60] = 1
    elif case == "single-step anomalies":
        labels[[10, 30, 31, 90]] = 1
    else:
        labels[n_steps // 2 : n_steps // 2 + 15] = 1
    scores = np.convolve(labels, np.ones(9) / 9, mode="same") + 0.2 * rng.normal(
        size=n_steps
    )
    for window in (0, 5, 30, 100):
        assert vus_pr(labels, scores, window=window) == pytest.approx(
            aeon_vus_pr(labels, scores, window), abs=1e-6
        )


def test_vus_pr_of_a_perfect_and_a_hand_computed_score():
    labels = np.array([0, 0, 1, 1, 0, 0, 0, 0])
    assert vus_pr(labels, labels.astype(float), window=0) == 1.0
    # Window 0, one anomaly {2, 3}; scores rank step 2 first, then step 5,
    # then everything else tied. Thresholds (250 picks of 8 steps) are 1.0,
    # 0.5 and 0.0. At 1.0: TP 1, predicted 1 -> recall 1/2, precision 1.
    # At 0.5: TP 1 of 2 predicted -> recall 1/2, precision 1/2. At 0.0: all
    # 8 predicted, TP 2 -> recall 1, precision 1/4. Trapezoids from (0, 1):
    # 1/2 * (1 + 1) / 2 + 0 + 1/2 * (1/2 + 1/4) / 2 = 0.5 + 0.1875.
    scores = np.array([0, 0, 1.0, 0, 0, 0.5, 0, 0])
    assert vus_pr(labels, scores, window=0) == pytest.approx(0.6875)
    # Window 1 is the same curve (a buffer of 1 adds no slope): the mean of
    # the two areas is unchanged.
    assert vus_pr(labels, scores, window=1) == pytest.approx(0.6875)


def test_a_score_near_the_anomaly_earns_credit_through_the_buffer():
    labels = np.zeros(400, dtype=np.int64)
    labels[200:205] = 1
    near = np.zeros(400)
    near[208] = 1.0  # 3 steps after the anomaly's end
    assert vus_pr(labels, near, window=0) < vus_pr(labels, near, window=40)
    far = np.zeros(400)
    far[350] = 1.0
    assert vus_pr(labels, far, window=40) < vus_pr(labels, near, window=40)


def test_vus_pr_reads_its_inputs_without_changing_them():
    labels = np.array([0, 1, 1, 0, 0, 0])
    scores = np.array([0.1, 0.9, 0.8, 0.2, 0.1, 0.3], dtype=np.float32)
    kept = labels.copy(), scores.copy()
    vus_pr(labels, scores, window=4)
    np.testing.assert_array_equal(labels, kept[0])
    np.testing.assert_array_equal(scores, kept[1])
    assert vus_pr(list(labels), list(scores), window=4) == vus_pr(
        labels.astype(bool), scores.astype(np.float64), window=4
    )


def test_constant_scores_get_zero_with_a_warning():
    labels = np.array([0, 1, 0, 0])
    with pytest.warns(UserWarning, match="constant"):
        assert vus_pr(labels, np.ones(4)) == 0.0


@pytest.mark.parametrize(
    "labels, scores, kwargs, match",
    [
        ([0, 1, 0], [0.1, 0.2], {}, "y_true has 3 steps but scores has 2"),
        ([0, 2, 0], [0.1, 0.2, 0.3], {}, "0 .normal. and 1 .anomalous. only"),
        ([0, 0, 0], [0.1, 0.2, 0.3], {}, "at least one anomalous step"),
        ([0, 1, 0], [0.1, np.nan, 0.3], {}, "step 1 is nan"),
        ([0, 1, 0], [0.1, np.inf, 0.3], {}, "must be finite"),
        ([0, 1, 0], ["a", "b", "c"], {}, "must be numbers"),
        ([[0, 1]], [[0.1, 0.2]], {}, "must be 1-D"),
        ([], [], {}, "empty"),
        ([0, 1, 0], [0.1, 0.2, 0.3], {"window": -1}, "window must be an int >= 0"),
        ([0, 1, 0], [0.1, 0.2, 0.3], {"window": 2.5}, "window must be an int >= 0"),
    ],
)
def test_vus_pr_refuses_bad_input(labels, scores, kwargs, match):
    with pytest.raises(ValueError, match=match):
        vus_pr(labels, scores, **kwargs)


def test_ucr_score_within_and_outside_the_tolerance():
    labels = np.zeros(1000, dtype=np.int64)
    labels[500:510] = 1
    for top, tolerance, expected in [
        (505, 0, 1),
        (509, 0, 1),
        (510, 0, 0),
        (499, 0, 0),
        (400, 100, 1),
        (399, 100, 0),
        (609, 100, 1),
        (610, 100, 0),
    ]:
        scores = np.zeros(1000)
        scores[top] = 1.0
        assert ucr_score(labels, scores, tolerance=tolerance) == expected, top


def test_ucr_score_with_several_anomalies_ties_and_bad_input():
    labels = np.zeros(300, dtype=np.int64)
    labels[[20, 250]] = 1
    scores = np.zeros(300)
    scores[255] = 1.0
    assert ucr_score(labels, scores, tolerance=10) == 1
    assert ucr_score(labels, np.ones(300), tolerance=10) == 0  # ties: step 0
    assert ucr_score(labels, np.ones(300), tolerance=20) == 1
    with pytest.raises(ValueError, match="at least one anomalous step"):
        ucr_score(np.zeros(5), np.arange(5.0))
    with pytest.raises(ValueError, match="tolerance must be an int >= 0"):
        ucr_score(labels, scores, tolerance=-3)


def spiked_series(n_series=4, n_steps=300, seed=0):
    """Noisy sines, each with a 5-step spike, and their step labels."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for i in range(n_series):
        t = np.arange(n_steps)
        series = np.sin(2 * np.pi * t / 25) + 0.05 * rng.normal(size=n_steps)
        labels = np.zeros(n_steps, dtype=np.int64)
        start = 100 + 30 * i
        series[start : start + 5] += 2.5
        labels[start : start + 5] = 1
        X.append(series.astype(np.float32)[:, None])
        y.append(labels)
    return X, y


TINY = dict(hidden_size=4, max_epochs=2, segment_length=100, random_state=0)


@pytest.fixture(scope="module")
def detector_and_data():
    X, y = spiked_series()
    return HiddenStateAnomalyDetector(**TINY, device="cpu").fit(X), X, y


def test_scorers_average_the_metric_over_the_series(detector_and_data):
    detector, X, y = detector_and_data
    scores = detector.score_steps(X)
    pairs = list(zip(y, scores, strict=True))
    expected = np.mean([vus_pr(a, b, window=20) for a, b in pairs])
    assert make_vus_pr_scorer(window=20)(detector, X, y) == pytest.approx(expected)
    assert vus_pr_scorer(detector, X, y) == pytest.approx(
        np.mean([vus_pr(a, b) for a, b in zip(y, scores, strict=True)])
    )
    assert ucr_scorer(detector, X, np.array(y, dtype=object)) == pytest.approx(
        np.mean([ucr_score(a, b) for a, b in zip(y, scores, strict=True)])
    )
    scorer = make_step_scorer(ucr_score, tolerance=3)
    assert isinstance(scorer, StepScorer)
    assert repr(scorer) == "make_step_scorer(ucr_score, tolerance=3)"
    assert 0.0 <= scorer(detector, X, y) <= 1.0


def test_scorers_refuse_mismatched_labels(detector_and_data):
    detector, X, y = detector_and_data
    with pytest.raises(ValueError, match="y holds 3 label arrays but X has 4"):
        vus_pr_scorer(detector, X, y[:3])
    with pytest.raises(ValueError, match="labels of series 1 have shape"):
        vus_pr_scorer(detector, X, [y[0], y[1][:-1], y[2], y[3]])
    with pytest.raises(ValueError, match="needs y"):
        vus_pr_scorer(detector, X, None)
    with pytest.raises(TypeError, match="has no"):
        vus_pr_scorer(SequenceScaler().fit(X), X, y)
    with pytest.raises(TypeError, match="callable"):
        make_step_scorer("vus_pr")
    with pytest.raises(ValueError, match="window must be an int"):
        make_vus_pr_scorer(window=-5)


def test_grid_search_and_cross_validation_with_the_vus_pr_scorer():
    X, y = spiked_series(n_series=4)
    search = GridSearchCV(
        HiddenStateAnomalyDetector(**TINY, device="cpu"),
        {"anomaly_score": ["forecast", "distance"]},
        scoring={"vus_pr": make_vus_pr_scorer(window=20), "ucr": ucr_scorer},
        refit="vus_pr",
        cv=2,
        error_score="raise",
    ).fit(X, y)
    assert search.best_params_["anomaly_score"] in ("forecast", "distance")
    results = search.cv_results_
    means = results["mean_test_vus_pr"]
    assert np.all((means >= 0) & (means <= 1))
    assert set(np.unique(results["split0_test_ucr"])) <= {0.0, 0.5, 1.0}
    pipeline = make_pipeline(
        SequenceScaler(), HiddenStateAnomalyDetector(**TINY, device="cpu")
    )
    scores = cross_val_score(
        pipeline, X, y, scoring=make_vus_pr_scorer(window=20), cv=2,
        error_score="raise",
    )
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
