"""Intermediate outputs of the estimators: staged predictions, attention
weights, hidden states and the ``layers`` parameter.

Each test checks a property that defines the output: the last staged step is
the final prediction, a prefix's output ignores later steps, attention weights
are a distribution over valid steps, a sequence's states do not depend on its
batch neighbours.
"""

import copy

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

import skhidden._inference
from conftest import make_sequences
from skhidden import HiddenStateClassifier, HiddenStateRegressor, HiddenStateTransformer
from skhidden.nn.aggregation import timestep_indices

TINY = dict(
    hidden_size=4, max_epochs=3, lr=0.02, random_state=0, device="cpu", frontend="none"
)
STRATEGIES = ["last", "mean", "max", "attention", "timesteps", ("mean", "attention")]
POOLED = [s for s in STRATEGIES if s != "timesteps"]


@pytest.fixture(scope="module")
def ragged():
    return make_sequences(n=24, n_steps=10, ragged=True, seed=1)


@pytest.fixture(scope="module")
def classifiers(ragged):
    X, y = ragged
    return {
        strategy: HiddenStateClassifier(aggregation=strategy, **TINY).fit(X, y)
        for strategy in STRATEGIES
    }


def _first_steps(X, n_steps):
    return [x[:n_steps] for x in X]


def _staged_proba(clf, X):
    return np.stack(list(clf.staged_predict_proba(X)))


# ------------------------------------------------------------ staged outputs
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_last_staged_step_is_the_final_prediction(classifiers, ragged, strategy):
    clf, X = classifiers[strategy], ragged[0]
    staged = _staged_proba(clf, X)
    assert staged.shape == (max(map(len, X)), len(X), 2)
    np.testing.assert_allclose(staged[-1], clf.predict_proba(X), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(list(clf.staged_predict(X))[-1], clf.predict(X))


@pytest.mark.parametrize("strategy", POOLED)
def test_staged_step_t_is_the_prediction_from_the_first_t_steps(
    classifiers, ragged, strategy
):
    clf, X = classifiers[strategy], ragged[0]
    staged = _staged_proba(clf, X)
    for t in (0, 2, 6):
        expected = clf.predict_proba(_first_steps(X, t + 1))
        np.testing.assert_allclose(staged[t], expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_staged_outputs_ignore_later_steps(classifiers, ragged, strategy):
    clf, X = classifiers[strategy], ragged[0]
    rng = np.random.default_rng(0)
    changed = [np.concatenate([x[:4], rng.normal(size=x[4:].shape) * 5]) for x in X]
    np.testing.assert_allclose(
        _staged_proba(clf, X)[:4], _staged_proba(clf, changed)[:4], rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_ended_sequences_keep_their_final_prediction(classifiers, ragged, strategy):
    clf, X = classifiers[strategy], ragged[0]
    staged = _staged_proba(clf, X)
    for i, x in enumerate(X):
        assert (staged[len(x) - 1 :, i] == staged[len(x) - 1, i]).all()


def test_staged_predictions_do_not_depend_on_batching(classifiers, ragged):
    clf, X = classifiers["attention"], ragged[0]
    in_fives = copy.deepcopy(clf).set_params(inference_batch_size=5)
    small_batches = _staged_proba(in_fives, X)
    np.testing.assert_allclose(
        small_batches, _staged_proba(clf, X), rtol=1e-6, atol=1e-7
    )


def test_timesteps_staged_counts_each_head_once_its_step_is_read():
    X, y = make_sequences(n=16, n_steps=8, seed=2)
    # Causal (one-way, causal scaling): a head's state is final once its step
    # is read.
    clf = HiddenStateClassifier(
        aggregation="timesteps", timesteps=[3, 7], bidirectional=False,
        scaling="feature_running", **TINY
    ).fit(X, y)
    staged = _staged_proba(clf, X)
    # Before step 3 the first head reads the current state, so its output moves.
    assert not np.allclose(staged[1], staged[2])
    # From step 3 it holds step 3's state, alone until the second head's step.
    for t in (4, 5, 6):
        np.testing.assert_array_equal(staged[t], staged[3])
    assert not np.allclose(staged[7], staged[6])
    np.testing.assert_allclose(staged[7], clf.predict_proba(X), rtol=1e-6, atol=1e-7)


def test_staged_regression_matches_predict_for_one_and_several_targets(ragged):
    X, y = ragged
    targets = y.astype(float)
    for y_fit in (targets, np.column_stack([targets, -targets])):
        reg = HiddenStateRegressor(aggregation="timesteps", **TINY).fit(X, y_fit)
        staged = list(reg.staged_predict(X))
        assert len(staged) == max(map(len, X))
        assert staged[0].shape == reg.predict(X).shape
        np.testing.assert_allclose(staged[-1], reg.predict(X), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "params",
    [
        {"bidirectional": True},
        {"bidirectional": True, "frontend": "resnet", "n_networks": 2},
        {"bidirectional": True, "cell": "lstm", "frontend": "resnet"},
        # Each prefix read from scratch (no shared work: see nn.prefixes).
        {"bidirectional": True, "num_layers": 2, "frontend": "resnet"},
        {"scaling": "sequence_level", "aggregation": ("mean", "attention")},
    ],
)
def test_staged_outputs_of_a_model_reading_the_future_come_from_prefixes(
    ragged, params
):
    # Such a model has no output that depends on the first steps only: step t
    # is predict_proba on the input steps it has read (to its window's end).
    X, y = ragged
    clf = HiddenStateClassifier(**{**TINY, **params}).fit(X, y)
    frontend = clf.net_.module_.frontend
    staged = list(clf.staged_predict_proba(X))
    assert len(staged) == max(-(-len(x) // frontend.stride) for x in X)
    for t in range(len(staged)):
        ends = [min(t * frontend.stride + frontend.window, len(x)) for x in X]
        expected = clf.predict_proba([x[:end] for x, end in zip(X, ends, strict=True)])
        np.testing.assert_allclose(staged[t], expected, rtol=1e-6, atol=1e-6)
    labels = list(clf.staged_predict(X))
    np.testing.assert_array_equal(labels[1], clf.classes_[staged[1].argmax(axis=1)])


def test_staged_regression_of_a_bidirectional_model_comes_from_prefixes(
    ragged, monkeypatch
):
    X, y = ragged
    reg = HiddenStateRegressor(bidirectional=True, **TINY).fit(X, y.astype(float))
    staged = list(reg.staged_predict(X))
    np.testing.assert_allclose(staged[2], reg.predict([x[:3] for x in X]), rtol=1e-6)
    np.testing.assert_allclose(staged[-1], reg.predict(X), rtol=1e-6)
    # Under a small memory cap the prefixes are read a few at a time.
    monkeypatch.setattr(skhidden._inference, "MAX_BATCH_VALUES", 30)
    for capped, whole in zip(reg.staged_predict(X), staged, strict=True):
        np.testing.assert_allclose(capped, whole, rtol=1e-6)


def test_reading_every_prefix_equals_the_one_pass_on_a_causal_model(ragged):
    # The prefix path that non-causal models take, run on a causal model,
    # gives the one-pass staged outputs.
    from skhidden._inference import _staged_by_prefixes
    from skhidden.classifier import _mean_proba

    X, y = ragged
    for strategy in ("max", "attention"):
        clf = HiddenStateClassifier(aggregation=strategy, **TINY).fit(X, y)
        one_pass = list(clf.staged_predict_proba(X))
        by_prefixes = list(_staged_by_prefixes(clf, X, _mean_proba))
        assert len(by_prefixes) == len(one_pass)
        for a, b in zip(one_pass, by_prefixes, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("timesteps", [[1, 3], [0.5, 1.0], [-3, -1]])
def test_heads_at_steps_of_a_model_reading_the_future_count_once_reached(
    ragged, timesteps
):
    # After step t each prefix is read alone: a head reads the prefix's state
    # at its step once t reaches it (the earliest head the current state
    # before); fractions and steps from the end count on the whole sequence.
    X, y = ragged
    clf = HiddenStateClassifier(
        aggregation="timesteps", timesteps=timesteps, n_networks=1, **TINY
    ).fit(X, y)
    assert clf.bidirectional
    staged = _staged_proba(clf, X)
    np.testing.assert_allclose(staged[-1], clf.predict_proba(X), rtol=1e-6, atol=1e-7)
    module = clf.net_.module_.eval()
    for i in (0, int(np.argmin([len(x) for x in X]))):
        x = torch.from_numpy(X[i])[None]
        index = timestep_indices(timesteps, torch.tensor([len(X[i])]))[0].tolist()
        for t in range(len(X[i])):
            with torch.no_grad():
                states = module.hidden_states(x[:, : t + 1], torch.tensor([t + 1]))[0]
                reached = [j for j, step in enumerate(index) if step <= t] or [0]
                heads = [module.heads[j](states[min(index[j], t)]) for j in reached]
                expected = torch.stack([torch.softmax(h, -1) for h in heads]).mean(0)
            np.testing.assert_allclose(staged[t][i], expected, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------- attention weights
@pytest.mark.parametrize("strategy", ["attention", ("mean", "attention")])
def test_attention_weights_are_a_distribution_over_valid_steps(
    classifiers, ragged, strategy
):
    X = ragged[0]
    weights = classifiers[strategy].attention_weights(X)
    assert [len(w) for w in weights] == [len(x) for x in X]
    for w in weights:
        assert (w >= 0).all()
        assert w.sum() == pytest.approx(1.0, abs=1e-5)


def test_attention_weights_of_a_sequence_ignore_its_batch(classifiers, ragged):
    clf, X = classifiers["attention"], ragged[0]
    shortest = int(np.argmin([len(x) for x in X]))
    alone = clf.attention_weights([X[shortest]])[0]
    np.testing.assert_allclose(
        alone, clf.attention_weights(X)[shortest], rtol=1e-5, atol=1e-7
    )


@pytest.mark.parametrize("strategy", ["mean", "timesteps"])
def test_attention_weights_without_attention_is_a_clear_error(
    classifiers, ragged, strategy
):
    with pytest.raises(
        ValueError, match="no attention weights.*aggregation='attention'"
    ):
        classifiers[strategy].attention_weights(ragged[0])


def test_attention_weights_on_a_transformer(ragged):
    X, y = ragged
    weights = (
        HiddenStateTransformer(aggregation="attention", **TINY)
        .fit(X, y)
        .attention_weights(X)
    )
    assert len(weights) == len(X)
    assert all(abs(w.sum() - 1) < 1e-5 for w in weights)


# ------------------------------------------------------------- hidden states
@pytest.mark.parametrize(
    "params, state_size",
    [
        ({"bidirectional": False}, 4),
        ({"bidirectional": True}, 8),
        ({"num_layers": 3, "layers": "all", "bidirectional": False}, 12),
        ({"num_layers": 2, "layers": "all", "bidirectional": True, "cell": "lstm"}, 16),
    ],
)
@pytest.mark.parametrize(
    "Estimator", [HiddenStateClassifier, HiddenStateRegressor, HiddenStateTransformer]
)
def test_hidden_states_are_per_sequence_and_independent_of_the_batch(
    ragged, params, state_size, Estimator
):
    X, y = ragged
    est = Estimator(**{**TINY, "max_epochs": 1, **params}).fit(X, y)
    states = est.hidden_states(X)
    # An ensemble (the classifier's default) concatenates its members' states.
    width = state_size * est.n_networks
    assert [s.shape for s in states] == [(len(x), width) for x in X]
    assert all(s.dtype == np.float32 for s in states)
    shortest = int(np.argmin([len(x) for x in X]))
    alone = est.hidden_states([X[shortest]])[0]
    np.testing.assert_allclose(alone, states[shortest], rtol=1e-5, atol=1e-6)
    in_small_batches = est.set_params(inference_batch_size=3).hidden_states(X)
    for a, b in zip(in_small_batches, states, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# -------------------------------------------------------------------- layers
@pytest.mark.parametrize("aggregation, blocks", [("mean", 1), (("mean", "max"), 2)])
def test_all_layers_transform_width_is_layers_times_state_size(
    ragged, aggregation, blocks
):
    X, y = ragged
    params = {**TINY, "max_epochs": 1, "num_layers": 3, "aggregation": aggregation}
    last = HiddenStateTransformer(layers="last", **params).fit(X, y)
    every = HiddenStateTransformer(layers="all", **params).fit(X, y)
    assert last.transform(X).shape == (len(X), blocks * 4)
    assert every.transform(X).shape == (len(X), blocks * 3 * 4)
    assert len(every.get_feature_names_out()) == blocks * 3 * 4


def test_layers_is_searchable(ragged):
    X, y = ragged
    search = GridSearchCV(
        HiddenStateClassifier(**{**TINY, "max_epochs": 1, "num_layers": 2}),
        {"layers": ["last", "all"]},
        cv=2,
    ).fit(X, y)
    assert list(search.cv_results_["param_layers"]) == ["last", "all"]
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.layers in ("last", "all")


# ---------------------------------------------------------------- real data
def test_staged_and_attention_on_japanese_vowels():
    pytest.importorskip("aeon")
    from skhidden.datasets import load_dataset

    X, y = load_dataset("JapaneseVowels", "train")
    X, y = X[::3], y[::3]
    clf = HiddenStateClassifier(aggregation=("attention", "mean"), **TINY).fit(X, y)
    staged = _staged_proba(clf, X)
    assert staged.shape == (max(map(len, X)), len(X), len(clf.classes_))
    np.testing.assert_allclose(staged[-1], clf.predict_proba(X), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        staged[6], clf.predict_proba(_first_steps(X, 7)), rtol=1e-6, atol=1e-7
    )
    weights = clf.attention_weights(X)
    assert [len(w) for w in weights] == [len(x) for x in X]
    np.testing.assert_allclose([w.sum() for w in weights], 1.0, rtol=1e-5)
