"""Wrapper overhead: the estimators against hand-written PyTorch (issue 3, item 1).

Training. The baseline is the loop a user would write: the same module
(``skhidden.nn.HiddenStateNetwork``, GRU, mean aggregation), the same loss
(cross-entropy through ``HeadAveragedLoss``), Adam with the same learning
rate, gradient-norm clipping at 1.0, shuffled batches sliced from tensors,
``loss.item()`` per batch for the epoch loss, the same batch size and
epochs. The candidate is ``HiddenStateClassifier.fit`` with the same
settings, which also validates the input, builds the skorch net and keeps a
history. Ratio: estimator time / hand-written time (target <= 1.05).

Inference. ``predict_proba`` against the raw module under
``torch.inference_mode`` (softmax of its output, contiguous slices of the
same batch size), and ``HiddenStateTransformer.transform`` against the raw
module's ``features``. Ratio: throughput of the estimator / throughput of the
raw module, i.e. raw time / estimator time (target >= 0.95). The outputs
are checked to be equal first.

Whole fits on a shared machine are noisy, so a diagnostic also times one
training step at a time, alternating the hand-written step with skorch's
step (exactly ``run_single_epoch``'s body for one batch) batch by batch:
with ``skhidden._training.SequenceNet`` and with skorch's stock per-batch
bookkeeping (what ``SequenceNet`` trims), to show where overhead lives and
what the trimming is worth.

Run ``python benchmarks/overhead.py [--quick]``.
"""

import argparse
import contextlib
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import environment, machine_line, markdown_table, paired_ratio, set_threads  # noqa: E402

from skhidden import HiddenStateClassifier, HiddenStateTransformer  # noqa: E402
from skhidden.nn.losses import HeadAveragedLoss  # noqa: E402
from skhidden.nn.network import HiddenStateNetwork  # noqa: E402

LR = 0.005
CLIP = 1.0

CONFIGS = {
    "small": dict(n=512, n_steps=24, n_features=1, hidden_size=16, batch_size=32, epochs=10,
                  n_predict=4096),
    "medium": dict(n=256, n_steps=150, n_features=3, hidden_size=64, batch_size=64, epochs=5,
                   n_predict=1024),
}


def make_data(n, n_steps, n_features, seed=0):
    """Equal-length sequences; the class is the sign of feature 0's mean."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_steps, n_features)).astype(np.float32)
    y = (X[:, :, 0].mean(axis=1) > 0).astype(np.int64)
    return X, y


def hand_written_fit(X, y, hidden_size, batch_size, epochs, seed=0):
    """The training loop a user would write around the same module."""
    torch.manual_seed(seed)
    module = HiddenStateNetwork(X.shape[2], 2, cell="gru", hidden_size=hidden_size,
                                aggregation="mean")
    optimizer = torch.optim.Adam(module.parameters(), lr=LR)
    criterion = HeadAveragedLoss(nn.CrossEntropyLoss())
    X_t = torch.from_numpy(X)
    lengths = torch.full((len(X),), X.shape[1], dtype=torch.int64)
    y_t = torch.from_numpy(y)
    module.train()
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(X))
        total = 0.0
        for start in range(0, len(X), batch_size):
            index = order[start : start + batch_size]
            optimizer.zero_grad()
            loss = criterion(module(X_t[index], lengths[index]), y_t[index])
            loss.backward()
            nn.utils.clip_grad_norm_(module.parameters(), CLIP)
            optimizer.step()
            total += loss.item() * len(index)
        losses.append(total / len(X))
    return module, losses


def estimator(cls, hidden_size, batch_size, epochs):
    # The module exactly as the hand-written loop builds it: no input
    # standardisation, no front-end (HiddenStateNetwork's own defaults).
    return cls(cell="gru", aggregation="mean", hidden_size=hidden_size,
               batch_size=batch_size, max_epochs=epochs, lr=LR, clip_grad_norm=CLIP,
               scaling="none", frontend="none", device="cpu", random_state=0)


@contextlib.contextmanager
def stock_skorch_bookkeeping():
    """Fit with skorch's own ``_set_training`` / ``PrintLog`` and the old guard."""
    import skhidden._fitting as base
    from skorch import NeuralNet
    from skorch.callbacks import Callback

    from skhidden import _training

    class TensorGuard(Callback):  # the guard before it read skorch's history
        def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
            if loss is not None and not torch.isfinite(loss).all():
                raise _training.NonFiniteLossError("loss")

    class StockNet(_training.SequenceNet):
        _default_callbacks = NeuralNet._default_callbacks
        _set_training = NeuralNet._set_training

    saved = base.SequenceNet, base.FiniteLossGuard
    base.SequenceNet, base.FiniteLossGuard = StockNet, TensorGuard
    try:
        yield
    finally:
        base.SequenceNet, base.FiniteLossGuard = saved


def per_step_ratios(X, y, hidden_size, batch_size, steps):
    """Per-batch time of skorch's training step over a hand-written step.

    The two alternate batch by batch (hand, trimmed net, stock net, in
    rotating order) on the same batches, so the machine's load hits them
    alike: far less noisy than whole fits. The skorch side is exactly what
    ``NeuralNet.run_single_epoch`` does for one batch. Returns medians of
    per-batch times as ``{"trimmed": ratio, "stock": ratio}``.
    """
    import copy
    import statistics

    from skorch.dataset import get_len

    nets = {"trimmed": estimator(HiddenStateClassifier, hidden_size, batch_size, 1)
            .fit(X, y).net_}
    with stock_skorch_bookkeeping():
        nets["stock"] = estimator(HiddenStateClassifier, hidden_size, batch_size, 1) \
            .fit(X, y).net_
    net = nets["trimmed"]
    dataset = net.get_dataset({"X": X, "lengths": np.full(len(X), X.shape[1])}, y)
    batches = list(net.get_iterator(dataset, training=True))
    module = copy.deepcopy(net.module_)
    optimizer = torch.optim.Adam(module.parameters(), lr=LR)
    criterion = HeadAveragedLoss(nn.CrossEntropyLoss())

    def hand(batch):
        Xb, yb = batch
        optimizer.zero_grad()
        loss = criterion(module(Xb["X"], Xb["lengths"]), yb)
        loss.backward()
        nn.utils.clip_grad_norm_(module.parameters(), CLIP)
        optimizer.step()
        loss.item()

    def skorch_step(net):
        def step(batch):  # the body of NeuralNet.run_single_epoch
            net.notify("on_batch_begin", batch=batch, training=True)
            out = net.train_step(batch)
            net.history.record_batch("train_loss", out["loss"].item())
            net.history.record_batch("train_batch_size", get_len(batch[0]))
            net.notify("on_batch_end", batch=batch, training=True, **out)
        return step

    for n in nets.values():
        n.notify("on_epoch_begin", dataset_train=None, dataset_valid=None)
    fns = {"hand": hand, "trimmed": skorch_step(nets["trimmed"]),
           "stock": skorch_step(nets["stock"])}
    times = {k: [] for k in fns}
    order = list(fns)
    for i in range(steps):
        batch = batches[i % len(batches)]
        for k in order[i % 3:] + order[: i % 3]:
            t = time.process_time()
            fns[k](batch)
            times[k].append(time.process_time() - t)
    hand_median = statistics.median(times["hand"])
    return {k: statistics.median(times[k]) / hand_median for k in ("trimmed", "stock")}


def _raw_proba(module, X, batch_size):
    X_t = torch.from_numpy(X)
    lengths = torch.full((len(X),), X.shape[1], dtype=torch.int64)
    module.eval()
    with torch.inference_mode():
        out = [
            torch.softmax(module(X_t[i : i + batch_size], lengths[i : i + batch_size]).double(),
                          dim=-1).mean(dim=1)
            for i in range(0, len(X), batch_size)
        ]
    return torch.cat(out).numpy()


def _raw_features(module, X, batch_size):
    X_t = torch.from_numpy(X)
    lengths = torch.full((len(X),), X.shape[1], dtype=torch.int64)
    module.eval()
    with torch.inference_mode():
        out = [module.features(X_t[i : i + batch_size], lengths[i : i + batch_size])
               for i in range(0, len(X), batch_size)]
    return torch.cat(out).numpy()


def run(quick=False, repeats=None, log=print):
    """Measure every ratio; return ``{"rows": [...], "markdown": str}``."""
    set_threads(1)
    env = environment()
    machine = machine_line(env)
    repeats = repeats or (3 if quick else 31)
    rows = []
    for name, cfg in CONFIGS.items():
        cfg = dict(cfg)
        if quick:
            cfg.update(n=cfg["n"] // 4, epochs=2, n_predict=cfg["n_predict"] // 8)
        X, y = make_data(cfg["n"], cfg["n_steps"], cfg["n_features"])
        hs, bs, ep = cfg["hidden_size"], cfg["batch_size"], cfg["epochs"]
        settings = (f"n={cfg['n']} T={cfg['n_steps']} d={cfg['n_features']} hidden={hs} "
                    f"batch={bs} epochs={ep} GRU mean, no front-end/scaling, Adam lr={LR} "
                    f"clip={CLIP}")

        def hand():
            return hand_written_fit(X, y, hs, bs, ep)

        def fit():
            return estimator(HiddenStateClassifier, hs, bs, ep).fit(X, y)

        _, hand_losses = hand()
        est_losses = list(fit().history_[:, "train_loss"])
        log(f"[overhead] {name}: final train loss hand {hand_losses[-1]:.4f} "
            f"estimator {est_losses[-1]:.4f}")
        r = paired_ratio(hand, fit, repeats=repeats)
        log(f"[overhead] {name} fit: cpu {r['cpu_ratio']:.3f} wall {r['wall_ratio']:.3f}")
        rows.append(_row(name, "fit / hand-written loop", r, "<= 1.05", settings, machine,
                         time_ratio=True))
        steps = 150 if quick else 1500
        per_step = per_step_ratios(X, y, hs, bs, steps)
        log(f"[overhead] {name} per step: trimmed {per_step['trimmed']:.3f} "
            f"stock {per_step['stock']:.3f}")
        for key, label in (("trimmed", "one training step (skhidden's SequenceNet)"),
                           ("stock", "one training step (skorch's stock bookkeeping)")):
            rows.append({
                "model": name, "comparison": label + " / hand-written step",
                "ratio (CPU time)": per_step[key], "CPU IQR": "", "ratio (wall)": "",
                "target": "(diagnostic)", "baseline wall s": "", "repeats": f"{steps} steps",
                "settings": settings, "machine": machine,
            })

        # Inference, on a fitted model (weights do not change the work).
        Xp, yp = make_data(cfg["n_predict"], cfg["n_steps"], cfg["n_features"], seed=1)
        clf = estimator(HiddenStateClassifier, hs, bs, 1).fit(X, y)
        trf = estimator(HiddenStateTransformer, hs, bs, 1).fit(X, y)
        module_c, module_t = clf.net_.module_, trf.net_.module_
        np.testing.assert_allclose(clf.predict_proba(Xp), _raw_proba(module_c, Xp, bs),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(trf.transform(Xp), _raw_features(module_t, Xp, bs),
                                   rtol=1e-5, atol=1e-6)
        infer_settings = f"n={cfg['n_predict']} T={cfg['n_steps']} d={cfg['n_features']} " \
                         f"hidden={hs} batch={bs} GRU mean"
        for label, raw, method in (
            ("predict_proba vs raw module (inference_mode)",
             lambda: _raw_proba(module_c, Xp, bs), lambda: clf.predict_proba(Xp)),
            ("transform vs raw module features (inference_mode)",
             lambda: _raw_features(module_t, Xp, bs), lambda: trf.transform(Xp)),
        ):
            r = paired_ratio(raw, method, repeats=max(repeats, 31))
            log(f"[overhead] {name} {label}: throughput cpu {1 / r['cpu_ratio']:.3f} "
                f"wall {1 / r['wall_ratio']:.3f}")
            rows.append(_row(name, label, r, ">= 0.95", infer_settings, machine,
                             time_ratio=False))
    return {"rows": rows, "markdown": _markdown(rows, env, repeats)}


def _row(model, label, r, target, settings, machine, time_ratio):
    # For inference the figure is a throughput ratio: the inverse time ratio,
    # whose quartiles swap.
    if time_ratio:
        cpu, wall = r["cpu_ratio"], r["wall_ratio"]
        cpu_iqr = f"{r['cpu_q1']:.3f}-{r['cpu_q3']:.3f}"
    else:
        cpu, wall = 1 / r["cpu_ratio"], 1 / r["wall_ratio"]
        cpu_iqr = f"{1 / r['cpu_q3']:.3f}-{1 / r['cpu_q1']:.3f}"
    return {
        "model": model,
        "comparison": label,
        "ratio (CPU time)": cpu,
        "CPU IQR": cpu_iqr,
        "ratio (wall)": wall,
        "target": target,
        "baseline wall s": r["baseline_wall_s"],
        "repeats": r["repeats"],
        "settings": settings,
        "machine": machine,
    }


def _markdown(rows, env, repeats):
    text = [
        "## 1. Wrapper overhead\n",
        "Training rows: estimator time / hand-written PyTorch time (lower is better, "
        "target <= 1.05). Inference rows: estimator throughput / raw-module throughput "
        "(higher is better, target >= 0.95). Medians of per-repeat ratios over "
        f"{repeats} interleaved repeats (ABBA order; inference at least 31); "
        "the IQR is that of the per-repeat ratios. CPU-time ratios are the "
        "headline: torch runs on one thread, so a process's CPU time is the "
        "work it did, while wall time also counts the other users of this "
        f"shared {env['cpus']}-core machine (1-minute load {env['load_1min']} "
        "at the start). The *one training step* rows are diagnostics: the "
        "median per-batch time of skorch's step (the body of "
        "`run_single_epoch`) over the hand-written step, alternating batch by "
        "batch, with skhidden's trimmed `SequenceNet` and with skorch's stock "
        "bookkeeping; a whole fit adds per-fit set-up (validation, net "
        "construction, seeding) and per-epoch work (batch planning, history) "
        "to this.\n",
        markdown_table(rows, ["model", "comparison", "ratio (CPU time)", "CPU IQR",
                              "ratio (wall)", "target", "baseline wall s", "repeats",
                              "settings", "machine"]),
    ]
    return "\n".join(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, small sizes")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    print(run(quick=args.quick, repeats=args.repeats)["markdown"])


if __name__ == "__main__":
    main()
