"""Thread budget (``skhidden._threads``) and parallel grid search on one machine.

Fits record the torch thread count they trained with and their process id
(``probes.ThreadProbe``), so the tests see what happened inside loky's
worker processes.
"""

import multiprocessing
import os
import threading

import numpy as np
import pytest
import torch
from joblib import cpu_count
from joblib.externals.loky import get_reusable_executor
from probes import ThreadProbe, trained_in, trained_threads
from sklearn.model_selection import GridSearchCV, cross_validate
from threadpoolctl import threadpool_limits

from conftest import make_sequences
from skhidden import HiddenStateClassifier, _threads
from skhidden._threads import step_work, thread_budget, torch_threads


@pytest.fixture
def restore_torch_threads():
    previous = torch.get_num_threads()
    yield previous
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def five_classes():
    # Five classes: the head's weight gradient is a 5-row GEMM, whose MKL
    # kernels round differently with a different thread count.
    X, _ = make_sequences(n=60, n_steps=10, n_features=3, ragged=True, seed=1)
    y = np.array([int(np.clip((x[:, 0].mean() + 0.5) * 5, 0, 4)) for x in X])
    return X, y


@pytest.fixture(scope="module")
def no_loky_workers_left():
    """Shut loky's reusable workers down after the module, and check they are gone."""
    before = set(multiprocessing.active_children())
    yield
    get_reusable_executor().shutdown(wait=True)
    assert set(multiprocessing.active_children()) - before == set()


# ------------------------------------------------------------------ budget
def test_budget_is_at_most_the_cpus(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert 1 <= thread_budget() <= cpu_count()
    monkeypatch.setattr(_threads, "_cpus", lambda: 1)  # e.g. a cgroup quota
    assert thread_budget() == 1


@pytest.mark.parametrize(
    "value, limit", [("1", 1), ("3,1", 3), ("", None), ("x", None), ("0", None)]
)
def test_budget_reads_omp_num_threads(monkeypatch, value, limit):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    monkeypatch.setattr(_threads, "_cpus", lambda: 64)
    monkeypatch.setattr(_threads, "_openmp_limits", lambda: [32])
    assert thread_budget() == (limit or 32)


def test_budget_follows_threadpool_limits(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with threadpool_limits(1):
        assert thread_budget() == 1


def test_torch_threads_lowers_then_restores(monkeypatch, restore_torch_threads):
    torch.set_num_threads(2)
    monkeypatch.setattr(_threads, "thread_budget", lambda: 1)
    with torch_threads():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


def test_torch_threads_restores_after_an_error(monkeypatch, restore_torch_threads):
    torch.set_num_threads(2)
    monkeypatch.setattr(_threads, "thread_budget", lambda: 1)
    with pytest.raises(KeyError), torch_threads():
        raise KeyError
    assert torch.get_num_threads() == 2


def test_torch_threads_never_raises_a_users_count(monkeypatch, restore_torch_threads):
    torch.set_num_threads(1)
    monkeypatch.setattr(_threads, "thread_budget", lambda: 8)
    with torch_threads():
        assert torch.get_num_threads() == 1


# ------------------------------------------------------------ in estimators
def test_fit_and_predict_honour_a_limit_set_after_torch_was_imported(
    monkeypatch, restore_torch_threads, sequences
):
    # torch read its count at import; OMP_NUM_THREADS set later is ignored by it.
    torch.set_num_threads(2)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    X, y = sequences
    est = HiddenStateClassifier(
        hidden_size=4, max_epochs=2, random_state=0, callbacks=[ThreadProbe()]
    ).fit(X, y)
    assert trained_threads(est) == {1}
    seen = est._stream(
        X, lambda module, Xb, lengths: torch.full((len(Xb),), torch.get_num_threads())
    )
    assert set(seen) == {1}
    assert torch.get_num_threads() == 2


def test_fit_follows_threadpool_limits_in_any_thread(restore_torch_threads, sequences):
    # A count once set with torch.set_num_threads is re-applied by torch the
    # first time a thread runs an op, over the thread's threadpoolctl limit:
    # worker threads (Dask's, joblib's threading backend) meet this.
    torch.set_num_threads(2)
    X, y = sequences
    est = HiddenStateClassifier(hidden_size=4, max_epochs=1, callbacks=[ThreadProbe()])

    def fit():
        with threadpool_limits(1):
            est.fit(X, y)

    thread = threading.Thread(target=fit)
    thread.start()
    thread.join()
    assert trained_threads(est) == {1}


def test_a_small_model_trains_and_predicts_on_one_thread(
    restore_torch_threads, sequences
):
    torch.set_num_threads(2)
    X, y = sequences
    est = HiddenStateClassifier(hidden_size=4, max_epochs=1, callbacks=[ThreadProbe()])
    assert trained_threads(est.fit(X, y)) == {1}
    seen = est._stream(
        X, lambda module, Xb, lengths: torch.full((len(Xb),), torch.get_num_threads())
    )
    assert set(seen) == {1}
    assert torch.get_num_threads() == 2


def test_a_large_model_keeps_torchs_threads_within_the_budget(
    restore_torch_threads, sequences
):
    torch.set_num_threads(2)
    X, y = sequences
    est = HiddenStateClassifier(
        hidden_size=256, batch_size=64, max_epochs=1, callbacks=[ThreadProbe()]
    )
    assert step_work(est) >= _threads.SMALL_WORK
    assert trained_threads(est.fit(X, y)) == {min(2, thread_budget())}


@pytest.mark.parametrize(
    "params, work",
    [
        # The defaults: a GRU of 64 units each way, batches of 32.
        ({}, 32 * 3 * 64**2 * 2),
        ({"cell": "lstm", "hidden_size": 16, "batch_size": 8, "bidirectional": False},
         8 * 4 * 16**2),
        ({"cell": "rnn", "num_layers": 2, "bidirectional": True}, 32 * 64**2 * 4),
    ],
)
def test_step_work_counts_the_recurrent_product(params, work):
    assert step_work(HiddenStateClassifier(**params)) == work
    assert step_work(HiddenStateClassifier()) < _threads.SMALL_WORK


def test_torch_threads_uses_one_thread_for_small_work_only(
    monkeypatch, restore_torch_threads
):
    torch.set_num_threads(2)
    monkeypatch.setattr(_threads, "thread_budget", lambda: 2)
    with torch_threads(HiddenStateClassifier()):
        assert torch.get_num_threads() == 1
    with torch_threads(HiddenStateClassifier(hidden_size=512)):
        assert torch.get_num_threads() == 2
    monkeypatch.setattr(_threads, "thread_budget", lambda: 1)
    with torch_threads(HiddenStateClassifier(hidden_size=512)):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


def test_granted_threads_is_the_budget_torch_was_lowered_from(
    monkeypatch, restore_torch_threads
):
    torch.set_num_threads(2)
    monkeypatch.setattr(_threads, "thread_budget", lambda: 2)
    assert _threads.granted_threads() == 2
    with torch_threads(HiddenStateClassifier()):
        # torch runs on one thread; the other is free for the caller's own.
        assert torch.get_num_threads() == 1
        monkeypatch.setattr(_threads, "thread_budget", lambda: 1)
        assert _threads.granted_threads() == 2
        with torch_threads():
            assert _threads.granted_threads() == 1
        assert _threads.granted_threads() == 2
    assert _threads.granted_threads() == 1


# ------------------------------------------------------ loky, n_jobs=2
def test_loky_workers_train_within_their_share(five_classes, no_loky_workers_left):
    X, y = five_classes
    est = HiddenStateClassifier(
        hidden_size=8, max_epochs=2, random_state=0, callbacks=[ThreadProbe()]
    )
    result = cross_validate(est, X, y, cv=2, n_jobs=2, return_estimator=True)
    share = max(1, cpu_count() // 2)
    for fitted in result["estimator"]:
        assert trained_in(fitted) != os.getpid()
        assert max(trained_threads(fitted)) <= share


def test_n_jobs_gives_identical_results(five_classes, no_loky_workers_left):
    # Equal per-fit thread budgets give bit-identical fits: n_jobs=1 is run
    # with the share each of the two workers gets.
    X, y = five_classes
    est = HiddenStateClassifier(hidden_size=8, max_epochs=3, random_state=0)
    grid = {"cell": ["gru", "lstm"], "aggregation": ["mean", "attention"]}
    with threadpool_limits(max(1, cpu_count() // 2)):
        serial = GridSearchCV(est, grid, cv=2, n_jobs=1).fit(X, y)
    parallel = GridSearchCV(est, grid, cv=2, n_jobs=2).fit(X, y)
    for key in ["split0_test_score", "split1_test_score", "mean_test_score", "params"]:
        assert list(serial.cv_results_[key]) == list(parallel.cv_results_[key])

    with threadpool_limits(max(1, cpu_count() // 2)):
        serial_fits = cross_validate(est, X, y, cv=2, n_jobs=1, return_estimator=True)
    parallel_fits = cross_validate(est, X, y, cv=2, n_jobs=2, return_estimator=True)
    for a, b in zip(serial_fits["estimator"], parallel_fits["estimator"], strict=True):
        np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
