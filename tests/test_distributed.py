"""Grid search on a Dask cluster through joblib (the ``distributed`` extra).

A real ``LocalCluster`` of 2 single-threaded worker processes on loopback is
started once for the module; closing it checks that no worker process is
left. Results are compared with a local run under the same thread budget
(Dask's nanny gives each worker ``OMP_NUM_THREADS=1``), where fits are
bit-identical.
"""

import os
import time

import joblib
import numpy as np
import pytest
from probes import ThreadProbe, trained_in, trained_threads
from sklearn.model_selection import GridSearchCV, cross_validate
from threadpoolctl import threadpool_limits

from conftest import make_sequences
from skhidden import HiddenStateClassifier, HiddenStateRegressor
from skhidden._device import resolve_device

distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

# Loopback only; the scheduler's HTTP server takes a free port, not 8787.
CLUSTER = dict(host="127.0.0.1", dashboard_address="127.0.0.1:0")


def _new_processes(before):
    """Child processes started since ``before``, other than resource trackers.

    multiprocessing's resource tracker lives as long as this process does.
    """
    alive = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.pid not in before and "resource_tracker" not in " ".join(
                child.cmdline()
            ):
                alive.append(child)
        except psutil.NoSuchProcess:
            pass
    return alive


def _assert_all_stopped(before, timeout=30):
    deadline = time.monotonic() + timeout
    while _new_processes(before) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _new_processes(before) == []


def _children():
    return {child.pid for child in psutil.Process().children(recursive=True)}


@pytest.fixture(scope="module")
def client():
    before = _children()
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, **CLUSTER
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
    _assert_all_stopped(before)


@pytest.fixture(scope="module")
def ragged():
    return make_sequences(n=40, n_steps=10, n_features=2, ragged=True, seed=3)


def test_workers_are_separate_single_threaded_processes(client):
    pids = client.run(os.getpid)
    assert len(set(pids.values())) == 2
    assert os.getpid() not in pids.values()
    assert set(client.run(lambda: os.environ.get("OMP_NUM_THREADS")).values()) == {"1"}


def test_search_on_dask_equals_the_local_search(client, ragged):
    X, y = ragged
    grid = {"aggregation": ["mean", "attention"], "cell": ["gru", "lstm"]}
    est = HiddenStateClassifier(hidden_size=8, max_epochs=2, random_state=0)
    # One thread per fit, as on the workers; the refit runs here in both.
    with threadpool_limits(1):
        local = GridSearchCV(est, grid, cv=2).fit(X, y)
        with joblib.parallel_backend("dask"):
            remote = GridSearchCV(est, grid, cv=2).fit(X, y)
    for key in ["params", "split0_test_score", "split1_test_score", "rank_test_score"]:
        assert list(remote.cv_results_[key]) == list(local.cv_results_[key])
    with threadpool_limits(1):
        np.testing.assert_array_equal(remote.predict_proba(X), local.predict_proba(X))


@pytest.mark.parametrize("Estimator", [HiddenStateClassifier, HiddenStateRegressor])
def test_fitted_estimators_travel_between_processes(client, ragged, Estimator):
    X, y = ragged
    est = Estimator(
        hidden_size=8, max_epochs=2, random_state=0, callbacks=[ThreadProbe()]
    )
    with joblib.parallel_backend("dask"):
        remote = cross_validate(est, X, y, cv=2, return_estimator=True)["estimator"]
    with threadpool_limits(1):
        local = cross_validate(est, X, y, cv=2, return_estimator=True)["estimator"]
    workers = set(client.run(os.getpid).values())
    for fitted, reference in zip(remote, local, strict=True):
        assert trained_in(fitted) in workers
        assert trained_threads(fitted) == {1}
        with threadpool_limits(1):
            np.testing.assert_array_equal(fitted.predict(X), reference.predict(X))

    # ... and back: a fitted model sent to a worker predicts there as here.
    model = remote[0]
    with threadpool_limits(1):
        expected = model.predict(X)
    np.testing.assert_array_equal(client.submit(model.predict, X).result(), expected)


def test_one_worker_per_gpu_setup():
    # The README's set-up for several GPUs: each worker process sees one
    # device through CUDA_VISIBLE_DEVICES. Without GPUs, "auto" is the CPU.
    from distributed import Client, Nanny, Scheduler, SpecCluster

    before = _children()
    workers = {
        f"gpu-{i}": {
            "cls": Nanny,
            "options": {
                "nthreads": 1,
                "host": "127.0.0.1",
                "env": {"CUDA_VISIBLE_DEVICES": str(i)},
            },
        }
        for i in range(2)
    }
    scheduler = {"cls": Scheduler, "options": CLUSTER}
    with (
        SpecCluster(workers=workers, scheduler=scheduler) as cluster,
        Client(cluster) as c,
    ):
        seen = c.run(
            lambda: (os.environ["CUDA_VISIBLE_DEVICES"], resolve_device("auto"))
        )
    assert sorted(seen.values()) == [("0", "cpu"), ("1", "cpu")]
    _assert_all_stopped(before)
