"""The three estimators: fitting, predicting, options, errors, reproducibility."""

import joblib
import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils import compute_class_weight
from skorch.callbacks import Callback

from conftest import make_sequences
from skhidden import (
    HiddenStateClassifier,
    HiddenStateRegressor,
    HiddenStateTransformer,
    NonFiniteLossError,
    SequenceScaler,
)

TINY = dict(hidden_size=8, max_epochs=3, random_state=0, device="cpu")
STRATEGIES = ["last", "mean", "max", "attention", "timesteps", ("mean", "max")]


# ------------------------------------------------------------------ classifier
def test_classifier_learns_a_sequence_task(sequences):
    X, y = sequences
    clf = HiddenStateClassifier(
        hidden_size=16, max_epochs=40, random_state=0, device="cpu"
    )
    assert clf.fit(X, y).score(X, y) > 0.9
    losses = clf.history_[:, "train_loss"]
    assert len(losses) == 40
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("labels", [["cat", "dog", "emu"], [10, -3, 7]])
def test_classifier_keeps_label_values(sequences, labels):
    X, _ = sequences
    y = np.array(labels)[np.arange(len(X)) % 3]
    clf = HiddenStateClassifier(**TINY).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(clf.predict(X)) <= set(labels)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])


@pytest.mark.parametrize("aggregation", STRATEGIES)
def test_every_strategy_fits_ragged_input(ragged_sequences, aggregation):
    X, y = ragged_sequences
    clf = HiddenStateClassifier(aggregation=aggregation, **TINY).fit(X, y)
    assert clf.predict_proba(X).shape == (len(X), 2)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 5.0}])
def test_class_weight_reaches_the_loss(sequences, class_weight):
    X, y = sequences
    clf = HiddenStateClassifier(class_weight=class_weight, **TINY).fit(X, y)
    expected = compute_class_weight(class_weight, classes=np.array([0, 1]), y=y)
    np.testing.assert_allclose(
        clf.net_.criterion_.loss.weight.numpy(), expected, rtol=1e-6
    )


def test_class_weight_shifts_predictions_to_the_weighted_class(sequences):
    X, y = sequences
    counts, shares = [], []
    for weight in (1.0, 50.0):
        clf = HiddenStateClassifier(class_weight={0: 1.0, 1: weight}, **TINY).fit(X, y)
        counts.append((clf.predict(X) == 1).sum())
        shares.append(clf.predict_proba(X)[:, 1].mean())
    # Three epochs may not carry a prediction across 0.5: the probabilities
    # must move, the labels must not move the other way.
    assert shares[1] > shares[0] + 0.01
    assert counts[1] >= counts[0]


def test_single_class_is_a_clear_error(sequences):
    X, _ = sequences
    with pytest.raises(ValueError, match="single class"):
        HiddenStateClassifier(**TINY).fit(X, np.zeros(len(X)))


def test_continuous_labels_are_rejected_by_the_classifier(sequences):
    X, _ = sequences
    with pytest.raises(ValueError, match="Unknown label type"):
        HiddenStateClassifier(**TINY).fit(X, np.linspace(0, 1, len(X)))


# ------------------------------------------------------------------- regressor
def test_regressor_learns_and_keeps_target_shape(sequences):
    X, _ = sequences
    y = X[:, :, 0].mean(axis=1)
    reg = HiddenStateRegressor(
        hidden_size=16, max_epochs=40, random_state=0, device="cpu"
    )
    pred = reg.fit(X, y).predict(X)
    assert pred.shape == (len(X),)
    assert reg.score(X, y) > 0.5


def test_regressor_multi_output(ragged_sequences):
    X, _ = ragged_sequences
    Y = np.stack([[x[:, 0].mean(), x[:, 1].max()] for x in X])
    reg = HiddenStateRegressor(aggregation="timesteps", **TINY).fit(X, Y)
    assert reg.n_outputs_ == 2
    assert reg.predict(X).shape == (len(X), 2)


# ----------------------------------------------------------------- transformer
def test_transformer_features_and_names(sequences):
    X, y = sequences
    tr = HiddenStateTransformer(aggregation=("mean", "last"), **TINY).fit(X, y)
    features = tr.transform(X)
    names = tr.get_feature_names_out()
    assert features.shape == (len(X), 16)
    assert features.dtype == np.float32
    assert list(names[:2]) == ["mean_0", "mean_1"] and names[-1] == "last_7"
    assert tr.objective_ == "classification"


def test_transformer_timesteps_features_are_the_selected_states(sequences):
    X, y = sequences
    tr = HiddenStateTransformer(aggregation="timesteps", timesteps=[0, -1], **TINY)
    features = tr.fit(X, y).transform(X)
    states = tr.hidden_states(X)
    np.testing.assert_allclose(
        features[:, :8], np.stack([s[0] for s in states]), atol=1e-6
    )
    np.testing.assert_allclose(
        features[:, 8:], np.stack([s[-1] for s in states]), atol=1e-6
    )
    assert tr.get_feature_names_out()[8] == "timestep-1_0"


def test_transformer_regression_objective(sequences):
    X, _ = sequences
    tr = HiddenStateTransformer(**TINY).fit(X, X[:, 0, 0] * 2.0)
    assert tr.objective_ == "regression"


@pytest.mark.parametrize("bidirectional", [False, True])
def test_transformer_self_supervised_learns_next_steps(bidirectional):
    t = np.linspace(0, 6 * np.pi, 40)
    phases = np.random.default_rng(0).uniform(0, 2 * np.pi, size=32)
    X = np.sin(t[None, :] + phases[:, None])[:, :, None].astype(np.float32)
    tr = HiddenStateTransformer(
        hidden_size=16, max_epochs=40, lr=0.01, batch_size=8,
        bidirectional=bidirectional, random_state=0, device="cpu",
    ).fit(X)
    assert tr.objective_ == "next_step"
    losses = tr.history_[:, "train_loss"]
    assert losses[-1] < 0.05 * losses[0]
    assert tr.transform(X).shape == (32, 32 if bidirectional else 16)


def test_transformer_in_a_pipeline_feeds_a_linear_model(sequences):
    X, y = sequences
    pipe = make_pipeline(
        SequenceScaler(),
        HiddenStateTransformer(aggregation="mean", hidden_size=16, max_epochs=30,
                               random_state=0, device="cpu"),
        LogisticRegression(),
    )
    assert pipe.fit(X, y).score(X, y) > 0.85


# ------------------------------------------------------------- sklearn tooling
def test_grid_search_over_strategies_and_cells(ragged_sequences):
    X, y = ragged_sequences
    search = GridSearchCV(
        HiddenStateClassifier(**TINY),
        {
            "aggregation": ["last", "mean", ("mean", "max")],
            "cell": ["rnn", "lstm", "gru"],
        },
        cv=2,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 9
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.predict(X).shape == (len(X),)


def test_pipeline_with_scaler(ragged_sequences):
    X, y = ragged_sequences
    pipe = make_pipeline(SequenceScaler(), HiddenStateClassifier(**TINY)).fit(X, y)
    assert pipe.predict(X).shape == (len(X),)


def test_joblib_round_trip_keeps_predictions(tmp_path, ragged_sequences):
    X, y = ragged_sequences
    clf = HiddenStateClassifier(aggregation="attention", **TINY).fit(X, y)
    joblib.dump(clf, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


# ------------------------------------------------------------ reproducibility
def test_random_state_makes_fits_identical(ragged_sequences):
    X, y = ragged_sequences
    params = dict(TINY, dropout=0.3, num_layers=2)
    first = HiddenStateClassifier(**params).fit(X, y).predict_proba(X)
    second = HiddenStateClassifier(**params).fit(X, y).predict_proba(X)
    other = (
        HiddenStateClassifier(**dict(params, random_state=1)).fit(X, y).predict_proba(X)
    )
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, other)


def test_fit_leaves_the_global_torch_rng_alone(sequences):
    X, y = sequences
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    HiddenStateClassifier(**TINY).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


@pytest.mark.parametrize("aggregation", STRATEGIES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_prediction_is_the_same_alone_or_batched(
    ragged_sequences, aggregation, bidirectional
):
    X, y = ragged_sequences
    clf = HiddenStateClassifier(
        aggregation=aggregation, bidirectional=bidirectional, cell="lstm", **TINY
    ).fit(X, y)
    batched = clf.predict_proba(X)
    alone = np.concatenate([clf.predict_proba([x]) for x in X[:8]])
    np.testing.assert_allclose(alone, batched[:8], atol=1e-5)


def test_inference_batch_size_does_not_change_predictions(ragged_sequences):
    X, y = ragged_sequences
    clf = HiddenStateClassifier(**TINY).fit(X, y)
    reference = clf.predict_proba(X)
    clf.set_params(inference_batch_size=5)
    np.testing.assert_allclose(clf.predict_proba(X), reference, atol=1e-5)


# ------------------------------------------------------------ training options
def test_early_stopping_holds_out_data_and_stops(sequences):
    X, y = sequences
    clf = HiddenStateClassifier(
        hidden_size=8, max_epochs=200, lr=1e-7, early_stopping=True, patience=3,
        random_state=0, device="cpu",
    ).fit(X, y)
    assert len(clf.history_) < 200
    assert all(np.isfinite(clf.history_[:, "valid_loss"]))


def test_verbose_prints_one_line_per_epoch(sequences, capsys):
    X, y = sequences
    HiddenStateClassifier(**dict(TINY, verbose=1)).fit(X, y)
    lines = [
        line
        for line in capsys.readouterr().out.splitlines()
        if line.strip()[:1].isdigit()
    ]
    assert len(lines) == 3


def test_user_callbacks_are_called(sequences):
    class CountEpochs(Callback):
        def initialize(self):
            self.epochs = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs += 1

    X, y = sequences
    clf = HiddenStateClassifier(callbacks=[("count", CountEpochs())], **TINY).fit(X, y)
    assert dict(clf.net_.callbacks_)["count"].epochs == 3


@pytest.mark.parametrize(
    "optimizer",
    ["adam", "sgd", "adamw", "rmsprop", torch.optim.Adagrad, torch.optim.Adam],
)
def test_optimizer_choices(sequences, optimizer):
    from skhidden._base import OPTIMIZERS

    X, y = sequences
    clf = HiddenStateClassifier(
        optimizer=optimizer, weight_decay=1e-3, **TINY
    ).fit(X, y)
    expected = OPTIMIZERS.get(optimizer, optimizer)
    assert type(clf.net_.optimizer_) is expected
    group = clf.net_.optimizer_.param_groups[0]
    assert group["weight_decay"] == 1e-3
    # Adam and AdamW by name take torch's fused kernel; a class is used as given.
    assert bool(group.get("fused")) == (optimizer in ("adam", "adamw"))


def test_gradient_clipping_is_on_by_default(sequences):
    X, y = sequences
    clf = HiddenStateClassifier(**TINY).fit(X, y)
    clip = dict(clf.net_.callbacks_)["clip"]
    assert clip.gradient_clip_value == 1.0


def test_a_nan_loss_stops_training_with_a_clear_error(sequences):
    class Poison(torch.optim.SGD):
        def step(self, closure=None):
            loss = closure()
            for group in self.param_groups:
                for p in group["params"]:
                    p.data.fill_(float("nan"))
            return loss

    X, y = sequences
    with pytest.raises(NonFiniteLossError, match="loss became nan"):
        HiddenStateClassifier(optimizer=Poison, **TINY).fit(X, y)


def test_fit_does_not_modify_the_input():
    X, y = make_sequences(n=20, ragged=False)
    X = X.astype(np.float64)
    X[0, 8:] = np.nan
    before = X.copy()
    HiddenStateClassifier(**TINY).fit(X, y).predict(X)
    np.testing.assert_array_equal(X, before)


# ---------------------------------------------------------------------- errors
def test_predict_before_fit_raises_not_fitted(sequences):
    X, _ = sequences
    for estimator, method in [
        (HiddenStateClassifier(), "predict"),
        (HiddenStateClassifier(), "predict_proba"),
        (HiddenStateRegressor(), "predict"),
        (HiddenStateTransformer(), "transform"),
        (HiddenStateTransformer(), "hidden_states"),
    ]:
        with pytest.raises(NotFittedError):
            getattr(estimator, method)(X)


def test_feature_count_must_match_fit(sequences):
    X, y = sequences
    clf = HiddenStateClassifier(**TINY).fit(X, y)
    with pytest.raises(ValueError, match="3 features per step.*fitted with 2"):
        clf.predict(np.ones((2, 5, 3)))


def test_other_lengths_at_predict_are_fine(sequences):
    X, y = sequences
    clf = HiddenStateClassifier(**TINY).fit(X, y)
    assert clf.predict(np.ones((2, 30, 2))).shape == (2,)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"aggregation": "median"}, "'aggregation' parameter"),
        ({"aggregation": ("mean", "median")}, "'median' cannot be part of a tuple"),
        ({"aggregation": ("mean", "timesteps")}, "cannot be part of a tuple"),
        ({"aggregation": ()}, "empty"),
        ({"aggregation": "timesteps", "timesteps": [0.0]}, "timesteps has 0.0"),
        ({"aggregation": "timesteps", "timesteps": [1.5]}, "timesteps has 1.5"),
        ({"aggregation": "timesteps", "timesteps": [True]}, "boolean"),
        ({"aggregation": "timesteps", "timesteps": [40]}, "selects step 40"),
        ({"aggregation": "timesteps", "timesteps": [-13]}, "selects step -13"),
        ({"cell": "transformer"}, "cell"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"dropout": 1.0}, "dropout"),
        ({"optimizer": "adamax"}, "optimizer"),
        ({"device": "tpu"}, "not a device name|not supported"),
        ({"callbacks": [object()]}, "skorch callbacks"),
    ],
)
def test_bad_parameters_fail_before_training(sequences, params, match):
    X, y = sequences
    clf = HiddenStateClassifier(**dict(TINY, **params))
    with pytest.raises((ValueError, TypeError), match=match):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


def test_timesteps_longer_than_a_predict_sequence(sequences):
    X, y = sequences
    clf = HiddenStateClassifier(
        aggregation="timesteps", timesteps=[5, -1], frontend="none", **TINY
    ).fit(X, y)
    with pytest.raises(ValueError, match="selects step 5"):
        clf.predict([np.ones((3, 2))])


def test_wrong_number_of_labels(sequences):
    X, y = sequences
    with pytest.raises(ValueError, match="labels but X has"):
        HiddenStateClassifier(**TINY).fit(X, y[:-1])
    with pytest.raises(ValueError, match="rows but X has"):
        HiddenStateRegressor(**TINY).fit(X, y[:-1])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_absent_cuda_device_is_a_clear_error(sequences):
    X, y = sequences
    with pytest.raises(ValueError, match="CUDA device"):
        HiddenStateClassifier(**dict(TINY, device="cuda:1")).fit(X, y)


def test_auto_device_uses_cpu_without_gpu(sequences):
    X, y = sequences
    clf = HiddenStateClassifier(**dict(TINY, device="auto")).fit(X, y)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert clf.device_.startswith(expected) or clf.device_ == "mps"
