"""How many CPU threads torch may use while an estimator trains or predicts.

A parallel runner gives each worker a share of the machine: joblib's loky
sets ``OMP_NUM_THREADS`` (and threadpoolctl limits) to ``cpus // n_jobs`` in
its workers, Dask's nanny sets ``OMP_NUM_THREADS=1``, a container caps the
CPUs with a cgroup quota. torch reads ``OMP_NUM_THREADS`` only when it is
imported, ignores CPU quotas, and does not reliably follow threadpoolctl:
once a count was set with ``torch.set_num_threads``, torch re-applies it the
first time a thread runs an op, over that thread's limit. A fit could then
run more threads than it was given, and, since torch's CPU kernels round
differently with another thread count, give other floats.

- ``thread_budget``: the threads the calling process was given.
- ``torch_threads``: run torch within that budget, then restore its count.
"""

import os
from contextlib import contextmanager
from functools import lru_cache

import torch
from joblib import cpu_count
from threadpoolctl import ThreadpoolController

__all__ = ["thread_budget", "torch_threads"]


@lru_cache(maxsize=1)
def _controller():
    # Scanning the loaded libraries takes milliseconds; querying them does not.
    return ThreadpoolController()


def _openmp_limits():
    """Current thread limit of each OpenMP runtime loaded in this process."""
    return [
        info["num_threads"] for info in _controller().select(user_api="openmp").info()
    ]


def _omp_env_limit():
    """``OMP_NUM_THREADS`` as a positive int (its first level), or None."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    try:
        threads = int(value)
    except ValueError:
        return None
    return threads if threads > 0 else None


def thread_budget():
    """Number of CPU threads the calling process was given for computation.

    The smallest of: the CPUs available to the process (joblib's count,
    which honours CPU affinity and cgroup quotas), ``OMP_NUM_THREADS`` when
    set, and the current limit of every OpenMP runtime threadpoolctl sees
    (which ``threadpoolctl.threadpool_limits`` and loky's workers lower).

    Returns
    -------
    n_threads : int
        At least 1.
    """
    limits = [cpu_count(), *_openmp_limits()]
    env = _omp_env_limit()
    if env is not None:
        limits.append(env)
    return max(1, min(limits))


@contextmanager
def torch_threads():
    """Run torch with at most :func:`thread_budget` threads, then restore.

    torch's thread count is only ever lowered: a count the user set below
    the budget with ``torch.set_num_threads`` is kept. It is set explicitly
    for the duration, so that a fit runs with the same count, and gives the
    same floats, in any process or thread with the same budget.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(min(previous, thread_budget()))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
