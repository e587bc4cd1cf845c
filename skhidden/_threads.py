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

Within the budget, the count also follows the work at hand. A recurrent
network runs one small matrix product per step and batch; below a few
million multiply-adds a second thread saves less than it costs to wake and
synchronise, and when another process holds a core it costs far more: the
default model fitted on GunPoint for 20 epochs took 2.8 s with one thread
and 4.9 s with two on a 2-core machine with one busy core (issue 15;
``benchmarks/threads.py`` repeats the measurement).

- ``thread_budget``: the threads the calling process was given.
- ``step_work``: multiply-adds of one recurrent step of one batch.
- ``torch_threads``: run torch within the budget, on one thread for small
  work, then restore its count.
- ``granted_threads``: the budget of the work in progress, for work that
  shares the threads out itself (an ensemble's members, one thread each).
"""

import os
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

import torch
from joblib import cpu_count
from threadpoolctl import ThreadpoolController

__all__ = [
    "SMALL_WORK",
    "granted_threads",
    "step_work",
    "thread_budget",
    "torch_threads",
]

#: Work per step (``step_work``) below which torch runs on one thread. The
#: default model (GRU, 64 units, batches of 32) does about 4e5; a GRU of 256
#: units on batches of 32 about 6e6.
SMALL_WORK = 2**22

_GATES = {"rnn": 1, "gru": 3, "lstm": 4}

# The budget the innermost ``torch_threads`` measured on entry. Inside it
# ``thread_budget`` reads torch's own lowered count as an OpenMP limit.
_GRANTED = ContextVar("skhidden_granted_threads", default=None)


@lru_cache(maxsize=1)
def _controller():
    # Scanning the loaded libraries takes milliseconds; querying them does not.
    return ThreadpoolController()


@lru_cache(maxsize=1)
def _cpus():
    # joblib reads affinity and cgroup files each time (about 0.1 ms, paid at
    # every predict); a process's CPUs do not change under it.
    return cpu_count()


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
    limits = [_cpus(), *_openmp_limits()]
    env = _omp_env_limit()
    if env is not None:
        limits.append(env)
    return max(1, min(limits))


def step_work(estimator, batch_size=None):
    """Multiply-adds of one recurrent step of one batch, the size of torch's ops.

    ``batch_size * gates * hidden_size ** 2`` per layer and direction: the
    recurrent matrix product every step runs, whose size decides whether
    threads can help (the front-end's convolutions are of the same order).

    Parameters
    ----------
    estimator : skhidden estimator
        Read for ``batch_size``, ``cell``, ``hidden_size``, ``num_layers``
        and ``bidirectional``.
    batch_size : int, optional
        Sequences per batch of the work at hand (inference batches differ
        from training ones); None: the estimator's ``batch_size``.

    Returns
    -------
    work : int
    """
    # Attributes, not get_params: inspecting the signature costs about a
    # millisecond, paid at every predict.
    directions = 2 if estimator.bidirectional else 1
    if batch_size is None:
        batch_size = estimator.batch_size
    return (
        int(batch_size)
        * _GATES.get(estimator.cell, 4)
        * int(estimator.hidden_size) ** 2
        * int(estimator.num_layers)
        * directions
    )


@contextmanager
def torch_threads(estimator=None, batch_size=None):
    """Run torch with at most :func:`thread_budget` threads, then restore.

    torch's thread count is only ever lowered: a count the user set below
    the budget with ``torch.set_num_threads`` is kept. It is set explicitly
    for the duration, so that a fit runs with the same count, and gives the
    same floats, in any process or thread with the same budget.

    Parameters
    ----------
    estimator : skhidden estimator, default=None
        The model about to train or predict: when its :func:`step_work` is
        below ``SMALL_WORK``, torch runs on one thread. None: the budget.
    batch_size : int, optional
        Sequences per batch of the work at hand, for :func:`step_work`.
    """
    previous = torch.get_num_threads()
    budget = threads = thread_budget()
    if estimator is not None and step_work(estimator, batch_size) < SMALL_WORK:
        threads = 1
    torch.set_num_threads(min(previous, threads))
    token = _GRANTED.set(budget)
    try:
        yield
    finally:
        _GRANTED.reset(token)
        torch.set_num_threads(previous)


def granted_threads():
    """Threads the work in progress was given.

    Inside :func:`torch_threads`, the :func:`thread_budget` measured on
    entry: torch may run on fewer, and the rest are free for threads of the
    caller's own. Elsewhere, :func:`thread_budget`.

    Returns
    -------
    n_threads : int
        At least 1.
    """
    granted = _GRANTED.get()
    return thread_budget() if granted is None else granted
