"""Front-ends on the estimators: windows as steps, padding invariance, errors."""

import numpy as np
import pytest

from conftest import make_sequences
from skhidden import HiddenStateClassifier, HiddenStateTransformer

TINY = dict(
    hidden_size=6, max_epochs=2, random_state=0, device="cpu", frontend_window=4
)


@pytest.fixture(scope="module")
def long_ragged():
    return make_sequences(n=24, n_steps=40, ragged=True, seed=3)


@pytest.mark.parametrize("frontend", ["patch", "conv", "resnet"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_prediction_is_the_same_alone_or_batched(
    long_ragged, frontend, cell, bidirectional
):
    X, y = long_ragged
    clf = HiddenStateClassifier(
        frontend=frontend,
        cell=cell,
        bidirectional=bidirectional,
        aggregation=("mean", "last"),
        **TINY,
    ).fit(X, y)
    batched = clf.predict_proba(X)
    alone = np.concatenate([clf.predict_proba([x]) for x in X[:6]])
    np.testing.assert_allclose(alone, batched[:6], atol=1e-5)


@pytest.mark.parametrize("frontend", ["patch", "conv", "resnet"])
def test_fits_are_reproducible(long_ragged, frontend):
    X, y = long_ragged
    first = HiddenStateClassifier(
        frontend=frontend, dropout=0.2, num_layers=2, **TINY
    ).fit(X, y)
    second = HiddenStateClassifier(
        frontend=frontend, dropout=0.2, num_layers=2, **TINY
    ).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))


@pytest.mark.parametrize(
    "frontend, stride", [("none", 1), ("patch", 4), ("conv", 2), ("resnet", 2)]
)
def test_states_and_weights_are_one_per_window(long_ragged, frontend, stride):
    X, y = long_ragged
    clf = HiddenStateClassifier(
        frontend=frontend, aggregation="attention", **TINY
    ).fit(X, y)
    windows = [-(-len(x) // stride) for x in X]
    assert [len(s) for s in clf.hidden_states(X)] == windows
    weights = clf.attention_weights(X)
    assert [len(w) for w in weights] == windows
    np.testing.assert_allclose([w.sum() for w in weights], 1.0, rtol=1e-5)


def test_staged_predictions_are_per_window_and_end_at_predict_proba(long_ragged):
    X, y = long_ragged
    clf = HiddenStateClassifier(frontend="patch", aggregation="max", **TINY).fit(X, y)
    staged = list(clf.staged_predict_proba(X))
    assert len(staged) == max(-(-len(x) // 4) for x in X)
    np.testing.assert_allclose(staged[-1], clf.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(
    "aggregation", ["last", "mean", "max", "attention", ("mean", "max")]
)
@pytest.mark.parametrize(
    "states, scaling",
    [("recurrent", "feature"), ("both", "feature"), ("recurrent", "feature_running")],
)
def test_resnet_stages_read_nothing_after_their_windows(
    long_ragged, cell, aggregation, states, scaling
):
    X, y = long_ragged
    clf = HiddenStateClassifier(
        frontend="resnet", cell=cell, aggregation=aggregation, states=states,
        scaling=scaling, **TINY,
    )
    clf.fit(X, y)
    staged = np.stack(list(clf.staged_predict_proba(X)))
    np.testing.assert_allclose(staged[-1], clf.predict_proba(X), rtol=1e-5, atol=1e-6)
    # Windows of 4 steps with stride 2: window w spans steps 2w .. 2w+3, so
    # windows 0-7 end before step 18 and must not see any change from there on.
    rng = np.random.default_rng(0)
    changed = [np.concatenate([x[:18], rng.normal(size=x[18:].shape) * 5]) for x in X]
    later = np.stack(list(clf.staged_predict_proba(changed)))
    np.testing.assert_allclose(staged[:8], later[:8], rtol=1e-5, atol=1e-6)
    assert not np.allclose(staged[-1], later[-1])


def test_timesteps_count_windows(long_ragged):
    X, y = long_ragged
    assert min(len(x) for x in X) == 20  # 5 windows of 4 steps
    HiddenStateClassifier(
        frontend="patch", aggregation="timesteps", timesteps=[4], **TINY
    ).fit(X, y)
    with pytest.raises(ValueError, match="selects step 5"):
        HiddenStateClassifier(
            frontend="patch", aggregation="timesteps", timesteps=[5], **TINY
        ).fit(X, y)


@pytest.mark.parametrize("frontend", ["patch", "conv"])
def test_frontend_transformer_learns_without_labels(frontend):
    rng = np.random.default_rng(0)
    X = [np.sin(np.arange(n) / 3.0 + phase)[:, None] for n, phase in
         zip(rng.integers(30, 60, size=24), rng.uniform(0, 6, size=24), strict=True)]
    tr = HiddenStateTransformer(
        frontend=frontend, **dict(TINY, hidden_size=16, max_epochs=30, lr=0.02)
    ).fit(X)
    losses = tr.history_[:, "train_loss"]
    assert losses[-1] < 0.3 * losses[0]
    assert tr.transform(X).shape == (len(X), 16)


def test_bad_frontend_parameters(long_ragged):
    X, y = long_ragged
    with pytest.raises(ValueError, match="frontend"):
        HiddenStateClassifier(frontend="fft").fit(X, y)
    with pytest.raises(ValueError, match="frontend_window"):
        HiddenStateClassifier(frontend="patch", frontend_window=0).fit(X, y)


def _loud_and_quiet(seed=0):
    """Standardised sequences, half of them made 30 times louder."""
    X, y = make_sequences(n=24, n_steps=40, seed=seed)
    X = (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)
    return X, X * np.where(np.arange(len(X)) % 2, 30.0, 1.0)[:, None, None], y


def test_auto_scaling_reads_the_shape_only_where_amplitudes_differ(tmp_path):
    import skhidden

    standardised, loud, y = _loud_and_quiet()
    plain = HiddenStateClassifier(scaling="auto", **TINY).fit(standardised, y)
    assert plain.scaling_ == "feature"
    same = HiddenStateClassifier(scaling="feature", **TINY).fit(standardised, y)
    np.testing.assert_array_equal(
        plain.predict_proba(standardised), same.predict_proba(standardised)
    )

    one = HiddenStateClassifier(scaling="auto", n_networks=1, **TINY).fit(loud, y)
    assert one.scaling_ == "feature_running"
    assert one.get_params()["scaling"] == "auto"
    # Causal, so staged outputs still work; the choice survives saving.
    assert len(list(one.staged_predict_proba(loud[:3]))) > 1
    skhidden.save(one, tmp_path / "model.skh")
    loaded = skhidden.load(tmp_path / "model.skh")
    assert loaded.scaling_ == "feature_running"
    np.testing.assert_allclose(
        loaded.predict_proba(loud), one.predict_proba(loud), atol=1e-6
    )


def _padding_invariant_and_saved(clf, X, tmp_path):
    """Check a sequence alone == in a ragged batch; return the model reloaded.

    Saved in the safe format and with joblib, each checked to predict
    exactly as ``clf`` does.
    """
    import joblib

    import skhidden

    ragged = [X[0, :25], *X[1:4]]
    np.testing.assert_allclose(
        clf.predict_proba(ragged)[:1], clf.predict_proba([X[0, :25]]), atol=1e-5
    )
    safe, pickled = tmp_path / "model.skh", tmp_path / "model.joblib"
    skhidden.save(clf, safe)
    joblib.dump(clf, pickled)
    loaded = [skhidden.load(safe), joblib.load(pickled)]
    for model in loaded:
        np.testing.assert_array_equal(model.predict_proba(X), clf.predict_proba(X))
    return loaded


@pytest.mark.parametrize("bidirectional", [False, True])
def test_auto_scaling_gives_an_ensemble_both_shape_views_in_turn(
    tmp_path, bidirectional
):
    _, loud, y = _loud_and_quiet()
    clf = HiddenStateClassifier(
        scaling="auto", n_networks=3, bidirectional=bidirectional, **TINY
    ).fit(loud, y)
    assert clf.scaling_ == ("feature_running", "feature_sequence")
    modes = [m.scaling.mode for m in clf.net_.module_.members]
    assert modes == ["feature_running", "feature_sequence", "feature_running"]
    # Each prefix is read as a sequence of its own, whole-sequence view included.
    staged = list(clf.staged_predict_proba(loud[:4]))
    np.testing.assert_allclose(staged[-1], clf.predict_proba(loud[:4]), atol=1e-6)
    frontend = clf.net_.module_.frontend  # stage k: up to window k's end
    k = (20 - frontend.window) // frontend.stride
    np.testing.assert_allclose(staged[k], clf.predict_proba(loud[:4, :20]), atol=1e-5)
    for loaded in _padding_invariant_and_saved(clf, loud, tmp_path):
        assert loaded.scaling_ == clf.scaling_


def test_differences_keep_padding_invariance_and_survive_saving(tmp_path):
    from sklearn.utils._param_validation import InvalidParameterError

    _, loud, y = _loud_and_quiet()
    clf = HiddenStateClassifier(differences=True, **TINY).fit(loud, y)
    plain = HiddenStateClassifier(differences=False, **TINY).fit(loud, y)
    members = clf.net_.module_.members
    assert [m.scaling.output_size for m in members] == [
        2 * m.scaling.output_size for m in plain.net_.module_.members
    ]
    # Only the input is wider: one state per window, as wide as without.
    states = clf.hidden_states(loud[:2])[0]
    assert states.shape == plain.hidden_states(loud[:2])[0].shape
    for loaded in _padding_invariant_and_saved(clf, loud, tmp_path):
        assert loaded.differences
    with pytest.raises(InvalidParameterError, match="differences"):
        HiddenStateClassifier(differences="yes", **TINY).fit(loud, y)


def test_differences_too_large_for_float32_are_refused_before_any_work():
    _, loud, y = _loud_and_quiet()
    # Each value fits float32; the jump from the second step to the third does not.
    jump = np.zeros((4, loud.shape[2]), np.float32)
    jump[1], jump[2] = 3e38, -3e38
    clf = HiddenStateClassifier(differences=True, **TINY)
    message = r"X\[0\] overflows float32 in its first differences"
    with pytest.raises(ValueError, match=message):
        clf.fit([jump, *loud[1:]], y)
    assert not hasattr(clf, "net_")
    clf.fit(loud, y)
    before = jump.copy()
    with pytest.raises(ValueError, match="between steps 1 and 2.*differences=False"):
        clf.predict([jump])
    np.testing.assert_array_equal(jump, before)
    plain = HiddenStateClassifier(differences=False, **TINY).fit(loud, y)
    assert plain.predict([jump]).shape == (1,)


def test_an_ensemble_refuses_scalings_of_different_widths():
    from skhidden.nn.ensemble import NetworkEnsemble

    with pytest.raises(ValueError, match="different numbers of input features"):
        NetworkEnsemble(
            2, scaling=("feature", "feature_sequence"), n_features=2, n_outputs=2
        )
