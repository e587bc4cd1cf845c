"""A skorch callback that shows where and how a fit ran (for the scaling tests)."""

import os

import torch
from skorch.callbacks import Callback


class ThreadProbe(Callback):
    """Record torch's thread count and the process id in the history."""

    def on_epoch_end(self, net, **kwargs):
        net.history.record("torch_threads", torch.get_num_threads())
        net.history.record("pid", os.getpid())


def trained_threads(estimator):
    """The torch thread counts ``estimator`` trained with, as a set."""
    return set(estimator.history_[:, "torch_threads"])


def trained_in(estimator):
    """The process id ``estimator`` was trained in."""
    return estimator.history_[-1, "pid"]
