"""scikit-learn's own estimator checks, run over every skhidden estimator.

The checks feed 2-D arrays, which skhidden reads as univariate sequences
``(n_samples, n_timesteps)``. A few checks assume the second dimension is a
fixed set of features; they are listed below with the reason they cannot hold.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skhidden import (
    HiddenStateAnomalyDetector,
    HiddenStateClassifier,
    HiddenStateRegressor,
    HiddenStateTransformer,
    SequenceScaler,
)

FAST = dict(
    hidden_size=8, max_epochs=30, batch_size=64, lr=0.02, random_state=0, device="cpu"
)

ESTIMATORS = [
    HiddenStateClassifier(**FAST),
    HiddenStateRegressor(**FAST),
    HiddenStateTransformer(**FAST),
    HiddenStateAnomalyDetector(**FAST),
    # The checks' sequences have 2 steps, less than one window of the default
    # front-end: raw steps give the forecast score a step to forecast.
    HiddenStateAnomalyDetector(anomaly_score="forecast", frontend="none", **FAST),
    SequenceScaler(),
]

TIME_IS_NOT_A_FEATURE = (
    "a 2-D array holds univariate sequences: its second dimension is time, so "
    "n_features_in_ is 1 (features per step) and a different number of steps at "
    "predict time is valid input, not an error"
)

EXPECTED_FAILURES = {
    "check_n_features_in": TIME_IS_NOT_A_FEATURE,
    "check_n_features_in_after_fitting": TIME_IS_NOT_A_FEATURE,
    "check_classifiers_train": TIME_IS_NOT_A_FEATURE,
    "check_transformer_general": TIME_IS_NOT_A_FEATURE,
}

SCALER_FAILURES = {
    **EXPECTED_FAILURES,
    "check_transformer_data_not_an_array": (
        "a list of sequences is returned as a list of sequences (the input's "
        "layout, safe for unequal lengths), not as a 2-D array"
    ),
}


# Predictions are float32 network outputs returned as float64. A batch of
# another size pads and multiplies in other blocks, so a sequence's outputs
# can round a few float32 ulps apart (measured: up to 3e-7 absolute), above
# the check's float64 tolerance of 1e-7; whether a given build and thread
# count shows it is a matter of rounding (it passed for a while at one
# thread, then failed again after an unrelated change to the scaling's
# arithmetic). Batch invariance is tested to 1e-5 in test_estimators and
# test_frontends. Not strict: the check may pass.
PREDICTOR_FAILURES = {
    **EXPECTED_FAILURES,
    "check_methods_subset_invariance": (
        "float32 outputs round a few ulps apart across batch sizes (<= 3e-7), "
        "above the check's float64 rtol of 1e-7"
    ),
}


DETECTOR_FAILURES = {
    **EXPECTED_FAILURES,
    "check_outliers_train": (
        TIME_IS_NOT_A_FEATURE + "; the check expects X.T to be refused, but it is "
        "2 valid sequences of 300 steps (tests/test_anomaly.py checks the rest: "
        "signs, offset_ and the contamination share of outliers)"
    ),
    "check_methods_subset_invariance": (
        "scores are float32 forecast errors of order 1: a sequence scored in "
        "another batch can differ by a rounding of float32 matrix products "
        "(about 1e-6), above the check's 1e-7 tolerance (tests/test_anomaly.py "
        "checks batch invariance to 1e-5)"
    ),
}


NEAREST_FAILURES = {
    **DETECTOR_FAILURES,
    "check_outliers_fit_predict": (
        "under anomaly_score='nearest' a training state is its own nearest "
        "bank state, so fit(X).predict(X) labels every training sequence an "
        "inlier while fit_predict labels contamination of them outliers from "
        "held-out scores (tests/test_anomaly.py checks both; the forecast "
        "detector passes this check)"
    ),
}


def expected_failures(estimator):
    if isinstance(estimator, SequenceScaler):
        return SCALER_FAILURES
    if isinstance(estimator, HiddenStateAnomalyDetector):
        if estimator.anomaly_score == "nearest":
            return NEAREST_FAILURES
        return DETECTOR_FAILURES
    if isinstance(estimator, (HiddenStateClassifier, HiddenStateRegressor)):
        return PREDICTOR_FAILURES
    return EXPECTED_FAILURES


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)
