"""Injected faults: Ctrl-C, a NaN loss, concurrent prediction, parallel search.

``FAULTS`` counts the faults each test injects (reported in the README).
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from conftest import make_sequences
from skhidden import (
    HiddenStateClassifier,
    HiddenStateRegressor,
    HiddenStateTransformer,
    NonFiniteLossError,
)

TINY = dict(hidden_size=4, batch_size=8, random_state=0, device="cpu")


class Interrupt(Callback):
    """Raise KeyboardInterrupt after epoch ``epoch``, or after its batch ``batch``."""

    def __init__(self, epoch, batch=None):
        self.epoch = epoch
        self.batch = batch

    def on_epoch_end(self, net, **kwargs):
        if self.batch is None and len(net.history) == self.epoch:
            raise KeyboardInterrupt

    def on_batch_end(self, net, **kwargs):
        batches = len(net.history[-1]["batches"])
        if self.batch == batches and len(net.history) == self.epoch:
            raise KeyboardInterrupt


class PoisonWeights(Callback):
    """Set every weight to NaN before batch ``batch`` of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_begin(self, net, **kwargs):
        if len(net.history) == self.epoch:
            with torch.no_grad():
                for parameter in net.module_.parameters():
                    parameter.fill_(float("nan"))


def _fit(cls, callbacks, **params):
    X, y = make_sequences(n=24, n_steps=6, ragged=True)
    target = None if cls is HiddenStateTransformer else y
    estimator = cls(**{**TINY, "max_epochs": 5, "callbacks": callbacks, **params})
    return estimator.fit(X, target), X


ESTIMATORS = [HiddenStateClassifier, HiddenStateRegressor, HiddenStateTransformer]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("epoch", [1, 3])
def test_ctrl_c_after_an_epoch_keeps_a_usable_model(cls, epoch):
    estimator, X = _fit(cls, [Interrupt(epoch)])
    assert len(estimator.history_) == epoch
    assert estimator.n_features_in_ == 2
    output = (
        estimator.transform(X)
        if cls is HiddenStateTransformer
        else estimator.predict(X)
    )
    assert len(output) == len(X) and np.isfinite(output.astype(float)).all()


def test_ctrl_c_inside_an_epoch_keeps_the_weights_trained_so_far():
    interrupted, X = _fit(HiddenStateClassifier, [Interrupt(2, batch=1)])
    assert len(interrupted.history_) == 2
    assert len(interrupted.history_[-1]["batches"]) == 1
    assert set(interrupted.predict(X)) <= set(interrupted.classes_)
    one_epoch, _ = _fit(HiddenStateClassifier, None, max_epochs=1)
    # The same run up to the interrupt, plus the one batch trained after it.
    assert interrupted.history_[0]["train_loss"] == one_epoch.history_[0]["train_loss"]
    weights = zip(
        interrupted.net_.module_.parameters(),
        one_epoch.net_.module_.parameters(),
        strict=True,
    )
    assert not all(torch.equal(a, b) for a, b in weights)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_a_nan_loss_stops_training_with_a_clear_error(cls):
    with pytest.raises(NonFiniteLossError, match="loss became nan in epoch 2"):
        _fit(cls, [PoisonWeights(epoch=2)])


def test_a_diverging_fit_stops_and_a_failed_refit_leaves_no_stale_model():
    X, y = make_sequences(n=20, n_steps=6)
    regressor = HiddenStateRegressor(max_epochs=2, **TINY).fit(X, X[:, :, 0].sum(1))
    diverging = dict(lr=100.0, optimizer="sgd", clip_grad_norm=None, max_epochs=10)
    with pytest.raises(NonFiniteLossError, match="lower `lr`"):
        regressor.set_params(**diverging).fit(
            X, np.c_[X.sum((1, 2)), X.max((1, 2))] * 1e8
        )
    assert isinstance(regressor.n_outputs_, int)
    with pytest.raises(NotFittedError):
        regressor.predict(X)


def test_predict_from_many_threads_matches_one_thread():
    X, y = make_sequences(n=60, n_steps=10, ragged=True)
    classifier = HiddenStateClassifier(
        max_epochs=2,
        dropout=0.5,
        num_layers=2,
        aggregation=("mean", "attention"),
        **TINY,
    ).fit(X, y)
    transformer = HiddenStateTransformer(max_epochs=1, bidirectional=True, **TINY).fit(
        X
    )
    chunks = [X[i::3] for i in range(3)]
    calls = (
        [(classifier.predict_proba, c) for c in chunks]
        + [(transformer.transform, c) for c in chunks]
        + [(classifier.hidden_states, chunks[0])]
    )
    expected = [method(data) for method, data in calls]
    threads_before = torch.get_num_threads()

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [
            (i, pool.submit(*calls[i])) for _ in range(10) for i in range(len(calls))
        ]
        for i, future in futures:
            result, reference = future.result(), expected[i]
            if isinstance(reference, list):
                for a, b in zip(result, reference, strict=True):
                    np.testing.assert_array_equal(a, b)
            else:
                np.testing.assert_array_equal(result, reference)
    assert torch.get_num_threads() == threads_before
    assert not classifier.net_.module_.training  # inference never trains


def test_parallel_grid_search_is_reproducible():
    X, y = make_sequences(n=24, n_steps=6, ragged=True)
    grid = {"aggregation": ["mean", "attention"], "cell": ["gru"]}

    def search():
        return GridSearchCV(
            HiddenStateClassifier(max_epochs=3, **TINY), grid, cv=2, n_jobs=2
        ).fit(X, y)

    first, second = search(), search()
    assert first.best_params_ == second.best_params_
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(first.cv_results_[key], second.cv_results_[key])
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
