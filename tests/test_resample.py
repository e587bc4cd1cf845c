"""``resample``: every sequence read at one length, chosen at fit."""

import joblib
import numpy as np
import pytest

from conftest import make_sequences
from skhidden import (
    HiddenStateAnomalyDetector,
    HiddenStateClassifier,
    HiddenStateRegressor,
    HiddenStateTransformer,
    load,
)
from skhidden.sequences import check_sequences, resample

TINY = dict(hidden_size=8, max_epochs=3, random_state=0, device="cpu")


def _interp(sequence, length):
    """``np.interp`` per feature: the reference for ``resample``."""
    source = np.linspace(0, 1, len(sequence)) if len(sequence) > 1 else np.zeros(1)
    target = np.linspace(0, 1, length) if length > 1 else np.zeros(1)
    return np.stack(
        [np.interp(target, source, sequence[:, f]) for f in range(sequence.shape[1])],
        axis=1,
    )


# ------------------------------------------------------------- data layer
@pytest.mark.parametrize("length", [1, 2, 7, 40, 55])
def test_resample_matches_linear_interpolation_per_sequence(length):
    rng = np.random.default_rng(0)
    sequences = [rng.normal(size=(n, 3)) for n in (1, 2, 5, 17, 40)]
    padded, lengths = check_sequences(sequences, dtype=np.float64)
    before = padded.copy()
    resampled, new_lengths = resample(padded, lengths, length)
    assert resampled.shape == (5, length, 3)
    assert resampled.dtype == padded.dtype
    np.testing.assert_array_equal(new_lengths, length)
    for row, sequence in zip(resampled, sequences, strict=True):
        np.testing.assert_allclose(
            row, _interp(sequence, length), rtol=1e-12, atol=1e-12
        )
    np.testing.assert_array_equal(padded, before)  # the input is left as it was


def test_resample_works_through_long_outputs_in_row_blocks():
    # 2**20 values per block: at 300000 steps of 4 features, one row a block.
    rng = np.random.default_rng(0)
    sequences = [rng.normal(size=(n, 4)).astype(np.float32) for n in (3, 50, 7)]
    resampled, _ = resample(*check_sequences(sequences), 300_000)
    for row, sequence in zip(resampled, sequences, strict=True):
        np.testing.assert_allclose(
            row, _interp(sequence, 300_000), rtol=1e-5, atol=1e-6
        )


def test_inference_parts_count_the_read_length():
    from skhidden.sequences import iter_chunks

    X = [np.zeros((10, 2))] * 100  # 20 values each, 2000 read at 1000 steps
    assert len(list(iter_chunks(X, max_values=4000))) == 1
    assert len(list(iter_chunks(X, max_values=4000, read_length=1000))) == 50
    array = np.zeros((100, 10, 2))
    assert len(list(iter_chunks(array, max_values=4000, read_length=1000))) == 50


def test_resample_keeps_sequences_already_at_the_length():
    padded = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    resampled, lengths = resample(padded, np.array([4, 4]), 4)
    np.testing.assert_array_equal(resampled, padded)
    np.testing.assert_array_equal(lengths, [4, 4])


# -------------------------------------------------------------- estimators
@pytest.mark.parametrize(
    "Estimator", [HiddenStateClassifier, HiddenStateRegressor, HiddenStateTransformer]
)
def test_the_default_reads_ragged_sequences_as_they_are(Estimator, ragged_sequences):
    X, y = ragged_sequences
    model = Estimator(**TINY).fit(X, y)
    assert model.resample == "none" and model.resample_length_ is None
    assert [len(s) for s in model.hidden_states(X[:3])] == [
        -(-len(x) // 4) for x in X[:3]
    ]


def test_auto_reads_equal_lengths_as_they_are(sequences):
    X, y = sequences
    auto = HiddenStateClassifier(resample="auto", **TINY).fit(X, y)
    none = HiddenStateClassifier(**TINY).fit(X, y)
    assert auto.resample_length_ is None and none.resample_length_ is None
    np.testing.assert_array_equal(auto.predict_proba(X), none.predict_proba(X))


@pytest.mark.parametrize("Estimator", [HiddenStateClassifier, HiddenStateRegressor])
def test_auto_fits_ragged_sequences_as_if_given_resampled(Estimator):
    X, y = make_sequences(n=40, n_steps=16, ragged=True)
    padded, lengths = check_sequences(X)
    longest = int(lengths.max())
    equal, _ = resample(padded, lengths, longest)

    auto = Estimator(resample="auto", **TINY).fit(X, y)
    given = Estimator(**TINY).fit(equal, y)
    assert auto.resample_length_ == longest
    assert given.resample_length_ is None
    np.testing.assert_allclose(auto.predict(X), given.predict(equal), rtol=1e-6)
    # A new sequence of another length is read at the training length too.
    other = [np.random.default_rng(1).normal(size=(5, 2)).astype(np.float32)]
    other_resampled = resample(*check_sequences(other), longest)[0]
    np.testing.assert_allclose(
        auto.predict(other), given.predict(other_resampled), rtol=1e-6
    )


def test_an_int_reads_every_sequence_at_that_length(ragged_sequences):
    X, y = ragged_sequences
    model = HiddenStateTransformer(
        resample=20, frontend="none", aggregation="attention", **TINY
    ).fit(X, y)
    assert model.resample_length_ == 20
    assert [len(s) for s in model.hidden_states(X[:4])] == [20] * 4
    assert [len(w) for w in model.attention_weights(X[:4])] == [20] * 4
    # Equal-length input of another length is stretched as well.
    assert len(model.hidden_states(np.zeros((1, 7, 2), np.float32))[0]) == 20


def test_step_by_step_outputs_refuse_a_resampled_model(ragged_sequences):
    X, y = ragged_sequences
    model = HiddenStateClassifier(resample="auto", **TINY).fit(X, y)
    with pytest.raises(ValueError, match="resample='none'"):
        model.staged_predict_proba(X[:2])
    with pytest.raises(ValueError, match="stretches every whole sequence to 12"):
        model.stream()
    as_they_are = HiddenStateClassifier(frontend="none", **TINY).fit(X, y)
    staged = list(as_they_are.staged_predict_proba(X[:2]))
    assert len(staged) == max(len(x) for x in X[:2])


@pytest.mark.parametrize("bad", [0, -3, "longest", 2.5])
def test_bad_resample_values_are_refused_before_training(bad, ragged_sequences):
    X, y = ragged_sequences
    with pytest.raises(ValueError, match="resample"):
        HiddenStateClassifier(resample=bad, **TINY).fit(X, y)


def test_saved_models_keep_their_length(tmp_path, ragged_sequences):
    pytest.importorskip("safetensors")
    X, y = ragged_sequences
    model = HiddenStateClassifier(resample="auto", **TINY).fit(X, y)
    expected = model.predict_proba(X)

    joblib.dump(model, tmp_path / "model.joblib")
    pickled = joblib.load(tmp_path / "model.joblib")
    model.save(tmp_path / "model.skhidden")
    safe = load(tmp_path / "model.skhidden")
    for loaded in (pickled, safe):
        assert loaded.resample_length_ == model.resample_length_ == 12
        np.testing.assert_array_equal(loaded.predict_proba(X), expected)


def test_the_detector_scores_every_input_step_and_has_no_resample():
    assert "resample" not in HiddenStateAnomalyDetector().get_params()
    X, _ = make_sequences(n=8, n_steps=20, ragged=True)
    detector = HiddenStateAnomalyDetector(hidden_size=4, max_epochs=1, random_state=0)
    scores = detector.fit(X).score_steps(X)
    assert [len(s) for s in scores] == [len(x) for x in X]


def test_window_spans_of_a_resampled_model_are_input_steps(ragged_sequences):
    from skhidden.plotting import window_spans

    X, y = ragged_sequences
    model = HiddenStateClassifier(resample="auto", frontend_window=4, **TINY)
    model.fit(X, y)
    assert model.resample_length_ == 12
    # 12 read steps in windows of 4 every 2: 6 windows, mapped onto 6 input steps
    # (read step j sits at input position j * 5 / 11).
    starts, stops = window_spans(model, 6)
    np.testing.assert_array_equal(starts, [0, 0, 1, 2, 3, 4])
    np.testing.assert_array_equal(stops, [3, 4, 5, 6, 6, 6])
    # Stretched onto 23 input steps every window covers 2 input steps per read step.
    starts, stops = window_spans(model, 23)
    np.testing.assert_array_equal(starts, [0, 4, 8, 12, 16, 20])
    np.testing.assert_array_equal(stops, [7, 11, 15, 19, 23, 23])


def test_resample_gives_each_sequence_its_own_length():
    rng = np.random.default_rng(0)
    sequences = [rng.normal(size=(n, 2)) for n in (4, 9, 1)]
    padded, lengths = check_sequences(sequences, dtype=np.float64)
    resampled, new_lengths = resample(padded, lengths, np.array([6, 3, 2]))
    assert resampled.shape == (3, 6, 2)
    np.testing.assert_array_equal(new_lengths, [6, 3, 2])
    for row, sequence, n in zip(resampled, sequences, (6, 3, 2), strict=True):
        np.testing.assert_allclose(row[:n], _interp(sequence, n), rtol=1e-12)
        assert not row[n:].any()  # zero after its new length


def test_the_readme_vote_of_a_network_as_read_and_one_resampled(ragged_sequences):
    # The README's recipe for ragged sets: scikit-learn's soft vote of a
    # model reading the sequences as they are and one reading them stretched.
    from sklearn.ensemble import VotingClassifier

    X, y = ragged_sequences
    params = {**TINY, "n_networks": 1}
    members = [
        ("as_they_are", HiddenStateClassifier(scaling="feature_running", **params)),
        (
            "resampled",
            HiddenStateClassifier(
                scaling="feature_sequence", resample="auto", **params
            ),
        ),
    ]
    vote = VotingClassifier(members, voting="soft").fit(X, y)
    as_read, stretched = vote.estimators_
    assert as_read.resample_length_ is None
    assert stretched.resample_length_ == max(len(x) for x in X)
    expected = (as_read.predict_proba(X) + stretched.predict_proba(X)) / 2
    np.testing.assert_allclose(vote.predict_proba(X), expected, rtol=1e-6)
    assert set(vote.predict(X)) <= set(y)
