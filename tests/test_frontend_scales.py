"""The resnet stem's multi-scale first convolution: causal, padding-free, streamable."""

import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

import skhidden
from conftest import make_sequences
from skhidden import HiddenStateClassifier, HiddenStateRegressor, HiddenStateTransformer
from skhidden.nn.frontend import ResidualFrontEnd


@pytest.fixture
def stem():
    torch.manual_seed(0)
    stem = ResidualFrontEnd(n_features=2, window=4, channels=8, scales=(1, 2, 4))
    stem.train()
    # A training pass, so the batch norms have statistics to evaluate with.
    stem(torch.randn(5, 40, 2), torch.tensor([40, 33, 20, 9, 40]))
    return stem.eval()


def test_a_sequence_gets_the_same_windows_alone_or_batched(stem):
    X = torch.randn(3, 30, 2)
    lengths = torch.tensor([30, 17, 6])
    with torch.no_grad():
        batched, out_lengths = stem(X, lengths)
        for i, n in enumerate(lengths):
            alone, _ = stem(X[i : i + 1, :n], n[None])
            torch.testing.assert_close(
                alone[0], batched[i, : out_lengths[i]], atol=1e-6, rtol=0
            )


def test_reading_in_parts_equals_reading_whole(stem):
    X = torch.randn(2, 38, 2)  # 19 windows of stride 2 and width 4 exactly
    with torch.no_grad():
        whole, _ = stem.read(X)
        parts, context, start = [], None, 0
        for n in (3, 1, 7, 8):
            chunk = X[:, start : start + (n - 1) * stem.stride + stem.window]
            out, context = stem.read(chunk, None, context)
            parts.append(out)
            start += n * stem.stride
    torch.testing.assert_close(torch.cat(parts, dim=1), whole, atol=1e-6, rtol=0)


def test_a_window_reads_nothing_after_its_span(stem):
    X = torch.randn(1, 38, 2)
    changed = X.clone()
    # Window t spans steps [2t, 2t + 4): windows 0-8 end by step 20.
    changed[:, 20:] += 5.0
    with torch.no_grad():
        before, _ = stem.read(X)
        after, _ = stem.read(changed)
    torch.testing.assert_close(after[:, :9], before[:, :9])
    assert not torch.allclose(after[:, 9:], before[:, 9:])


def test_scales_must_start_with_the_window():
    with pytest.raises(ValueError, match="start with 1"):
        ResidualFrontEnd(n_features=1, window=4, channels=8, scales=(2, 4))


# ---------------------------------------------------------------- estimators
SCALED = dict(
    frontend="resnet",
    frontend_window=4,
    frontend_scales=(1, 2, 4),
    hidden_size=8,
    max_epochs=2,
    batch_size=8,
    device="cpu",
    random_state=0,
)


@pytest.fixture(scope="module")
def ragged():
    return make_sequences(n=24, n_steps=40, n_features=2, ragged=True, seed=3)


@pytest.fixture(scope="module")
def fitted(ragged):
    X, y = ragged
    return HiddenStateClassifier(aggregation=("mean", "max", "last"), **SCALED).fit(
        X, y
    )


def test_the_estimator_builds_the_kernels_it_was_given(fitted):
    stem = fitted.net_.module_.frontend
    assert [conv.kernel_size[0] for conv in [stem.conv, *stem.wider]] == [4, 8, 16]
    assert [conv.out_channels for conv in [stem.conv, *stem.wider]] == [4, 2, 2]
    plain = HiddenStateClassifier(**{**SCALED, "frontend_scales": (1,)})
    plain.fit(*make_sequences(n=8, n_steps=12, n_features=2))
    assert not any("wider" in name for name in plain.net_.module_.state_dict())


def test_estimator_prediction_is_the_same_alone_or_batched(fitted, ragged):
    X, _ = ragged
    batched = fitted.predict_proba(X)
    alone = np.concatenate([fitted.predict_proba([x]) for x in X[:6]])
    np.testing.assert_allclose(alone, batched[:6], atol=1e-5)


def test_staged_predictions_read_nothing_after_their_windows(fitted, ragged):
    X, _ = ragged
    staged = np.stack(list(fitted.staged_predict_proba(X)))
    np.testing.assert_allclose(
        staged[-1], fitted.predict_proba(X), rtol=1e-5, atol=1e-6
    )
    rng = np.random.default_rng(0)
    changed = [np.concatenate([x[:18], rng.normal(size=x[18:].shape) * 5]) for x in X]
    later = np.stack(list(fitted.staged_predict_proba(changed)))
    np.testing.assert_allclose(staged[:8], later[:8], rtol=1e-5, atol=1e-6)
    assert not np.allclose(staged[-1], later[-1])


@pytest.mark.parametrize("sizes", [[1] * 41, [5, 0, 3, 17, 2, 14]])
def test_stream_equals_staged_predictions(fitted, sizes):
    series = np.random.default_rng(1).normal(size=(41, 2)).astype(np.float32)
    reference = np.stack([step[0] for step in fitted.staged_predict_proba([series])])
    stream, parts, start = fitted.stream(), [], 0
    for size in sizes:
        parts.append(stream.update(series[start : start + size]))
        start += size
    parts.append(stream.finish())
    np.testing.assert_allclose(np.concatenate(parts), reference, rtol=1e-5, atol=1e-5)


def test_save_and_joblib_give_identical_outputs(fitted, ragged, tmp_path):
    X, _ = ragged
    fitted.save(tmp_path / "m")
    joblib.dump(fitted, tmp_path / "m.joblib")
    for loaded in (skhidden.load(tmp_path / "m"), joblib.load(tmp_path / "m.joblib")):
        assert loaded.frontend_scales == (1, 2, 4)
        np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


def test_the_regressor_and_transformer_take_scales_too(ragged):
    X, y = ragged
    reg = HiddenStateRegressor(**SCALED).fit(X, y.astype(float))
    features = HiddenStateTransformer(**SCALED).fit(X, y).transform(X)
    assert len(reg.net_.module_.frontend.wider) == 2
    assert features.shape == (len(X), 8) and np.isfinite(features).all()


def test_grid_search_selects_among_scales(ragged):
    X, y = ragged
    search = GridSearchCV(
        HiddenStateClassifier(**{**SCALED, "max_epochs": 1}),
        {"frontend_scales": [(1,), [1, 3]]},
        cv=2,
    ).fit(X, y)
    assert search.best_params_["frontend_scales"] in [(1,), [1, 3]]
    assert len(search.best_estimator_.net_.module_.frontend.wider) == (
        search.best_params_["frontend_scales"] != (1,)
    )


@pytest.mark.parametrize("scales", [(2, 4), (1, 1), (), (1, 2.0), (True,), (1, 4, 2)])
def test_bad_scales_are_refused_before_training(ragged, scales):
    X, y = ragged
    clf = HiddenStateClassifier(**{**SCALED, "frontend_scales": scales})
    with pytest.raises(
        ValueError, match="frontend_scales=.*increasing ints starting with 1"
    ):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


def test_too_few_channels_for_the_kernels_are_refused_before_training(ragged):
    X, y = ragged
    clf = HiddenStateClassifier(**{**SCALED, "hidden_size": 2})
    with pytest.raises(
        ValueError, match="2 channels cannot be shared by 3 kernels: give at least 3"
    ):
        clf.fit(X, y)
    # Front-ends without the multi-scale convolution ignore the scales.
    HiddenStateClassifier(**{**SCALED, "hidden_size": 2, "frontend": "conv"}).fit(X, y)
