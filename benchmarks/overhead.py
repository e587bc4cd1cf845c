"""Wrapper overhead: the estimators against hand-written PyTorch (issues 3 and 14).

Every row is a time ratio, estimator / hand-written (lower is better, target
<= 1.05), the median of per-repeat ratios over interleaved repeats (ABBA
order, ``_common.paired_ratio``), torch on one thread on both sides.

Training (``fit``). The baseline is the loop a user would write: the same
module (``skhidden.nn.HiddenStateNetwork`` built with the estimator's
structure, with the training statistics for ``scaling="feature"``), the
same loss (cross-entropy through ``HeadAveragedLoss``), Adam with the same
learning rate, gradient-norm clipping at 1.0, shuffled batches sliced from
tensors, ``loss.item()`` per batch, the same batch size and epochs. The
candidate is ``HiddenStateClassifier.fit`` with the same settings, which
also validates the input, builds the skorch net and keeps a history.

Inference. Exactly the calls a user makes, on the numpy array they pass:
``predict``, ``predict_proba``, ``transform``, ``hidden_states``,
``attention_weights`` (a model with ``aggregation="attention"``),
``staged_predict_proba`` (consumed to the last step) and the anomaly
detector's ``score_steps``, each against a hand-written loop over the same
fitted module: ``torch.inference_mode``, contiguous batches of 256 sliced
from a tensor made once before timing, the same module call
(``module(X, lengths)``, ``module.features``, ``module.hidden_states``,
``module.attention_weights``, ``module.staged`` (for a model reading the
future, the module on each window's prefix),
``skhidden.nn.scoring.step_scores``), the results turned into what the
method returns (probabilities, labels, one array per sequence). Outputs are
checked equal first. Configurations:

- ``small``: GRU 16, mean of the states, no front-end or scaling, 4096
  sequences x 24 steps x 1 feature;
- ``medium`` (issue 14): GRU 64, last state, ``frontend="none"``,
  ``scaling="none"``, 1000 x 150 x 3;
- ``default``: one network of ``HiddenStateClassifier()``'s default
  ensemble (each step beside its first difference, residual front-end,
  feature scaling, max pooling, bidirectional GRU 64),
  1000 x 150 x 3; the detector with its own defaults.

Whole fits on a shared machine are noisy, so a diagnostic also times one
training step at a time, alternating the hand-written step with skorch's
step (exactly ``run_single_epoch``'s body for one batch) batch by batch:
with ``skhidden._training.SequenceNet`` and with skorch's stock per-batch
bookkeeping (what ``SequenceNet`` trims), to show where overhead lives and
what the trimming is worth.

Run ``python benchmarks/overhead.py [--quick]``: the table goes to
``benchmarks/results/overhead.md`` and the figure to ``overhead.png``
(``--output`` elsewhere).

``--device cuda`` runs both sides on the GPU (``overhead_cuda.md``): the
hand-written fit moves the data to the GPU once, the hand-written inference
loop moves each batch there and its result back, as a user's loop over a
numpy array would; the estimator gets ``device="cuda"``. The headline is then
the wall-clock ratio (every output ends on the host, so both sides wait for
the GPU), and the per-step diagnostic, which reads CPU time, is left out.
"""

import argparse
import contextlib
import os
import sys
import time
from functools import partial

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (  # noqa: E402
    RESULTS,
    environment,
    machine_line,
    markdown_table,
    paired_ratio,
    set_threads,
)

from skhidden import (  # noqa: E402
    HiddenStateAnomalyDetector,
    HiddenStateClassifier,
    HiddenStateTransformer,
)
from skhidden._fitting import choose_scaling, input_statistics  # noqa: E402
from skhidden._inference import _is_causal  # noqa: E402
from skhidden.nn.losses import HeadAveragedLoss  # noqa: E402
from skhidden.nn.network import HiddenStateNetwork, mean_over_views  # noqa: E402
from skhidden.nn.scaling import TRAINING_STATISTICS  # noqa: E402
from skhidden.nn.scoring import step_scores  # noqa: E402

LR = 0.005
DEVICE = "cpu"  # --device
CLIP = 1.0
HAND_BATCH = 256
TARGET = "<= 1.05"

# The structure of the network; {} is the estimators' own defaults.
# The small and medium configs: a one-way recurrent network on the raw steps.
NO_FRONTEND = dict(frontend="none", scaling="none", bidirectional=False)
# steps: training steps timed one at a time by the diagnostic.
TRAINING = {
    "small": dict(n=512, n_steps=24, n_features=1, batch_size=32, epochs=10,
                  steps=1500,
                  network=dict(hidden_size=16, aggregation="mean", **NO_FRONTEND)),
    "medium": dict(n=256, n_steps=150, n_features=3, batch_size=64, epochs=5,
                   steps=1500,
                   network=dict(hidden_size=64, aggregation="mean", **NO_FRONTEND)),
    "default": dict(n=256, n_steps=150, n_features=3, batch_size=32, epochs=3,
                    steps=300, network={}),
}
INFERENCE = {
    "small": dict(n=4096, n_steps=24, n_features=1,
                  network=dict(hidden_size=16, aggregation="mean", **NO_FRONTEND)),
    "medium": dict(n=1000, n_steps=150, n_features=3,
                   network=dict(hidden_size=64, aggregation="last", **NO_FRONTEND)),
    "default": dict(n=1000, n_steps=150, n_features=3, network={}),
}
# Estimator parameters that are HiddenStateNetwork arguments of the same name.
_NETWORK_ARGS = ("cell", "hidden_size", "num_layers", "bidirectional", "dropout",
                 "aggregation", "layers", "states", "frontend", "frontend_window",
                 "scaling", "differences")


def make_data(n, n_steps, n_features, seed=0):
    """Equal-length sequences; the class is the sign of feature 0's mean."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_steps, n_features)).astype(np.float32)
    y = (X[:, :, 0].mean(axis=1) > 0).astype(np.int64)
    return X, y


def estimator(cls, network, batch_size, epochs):
    """The estimator with ``network``'s structure and the loops' settings.

    ``crop=1.0``: the hand-written loop reads whole sequences, so the
    estimator must too (its default crops, which is less work per epoch).
    One network (``n_networks=1``, the classifier's default being two): the
    hand-written loop trains one.
    """
    if "n_networks" in cls().get_params():
        network = {"n_networks": 1, **network}
    return cls(**network, batch_size=batch_size, max_epochs=epochs, lr=LR,
               clip_grad_norm=CLIP, crop=1.0, device=DEVICE, random_state=0)


def hand_module(X, network):
    """The module a user would build by hand for the estimator's structure."""
    params = estimator(HiddenStateClassifier, network, 32, 1).get_params()
    kwargs = {k: params[k] for k in _NETWORK_ARGS}
    lengths = np.full(len(X), X.shape[1])
    kwargs["scaling"] = choose_scaling(params["scaling"], X, lengths)  # what fit does
    if kwargs["scaling"] in TRAINING_STATISTICS:
        kwargs["input_mean"], kwargs["input_scale"] = input_statistics(
            X, lengths, kwargs["differences"]
        )
    return HiddenStateNetwork(X.shape[2], 2, **kwargs)


def hand_written_fit(X, y, network, batch_size, epochs, seed=0):
    """The training loop a user would write around the same module."""
    torch.manual_seed(seed)
    module = hand_module(X, network).to(DEVICE)
    optimizer = torch.optim.Adam(module.parameters(), lr=LR, fused=True)  # as fit's
    criterion = HeadAveragedLoss(nn.CrossEntropyLoss())
    X_t = torch.from_numpy(X).to(DEVICE)
    lengths = torch.full((len(X),), X.shape[1], dtype=torch.int64, device=DEVICE)
    y_t = torch.from_numpy(y).to(DEVICE)
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


@contextlib.contextmanager
def stock_skorch_bookkeeping():
    """Fit with skorch's own ``_set_training``, ``PrintLog``, clipping, old guard."""
    from skorch import NeuralNet
    from skorch.callbacks import Callback, GradientNormClipping

    import skhidden._fitting as base
    from skhidden import _training

    class TensorGuard(Callback):  # the guard before it read skorch's history
        def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
            if loss is not None and not torch.isfinite(loss).all():
                raise _training.NonFiniteLossError("loss")

    class StockNet(_training.SequenceNet):
        _default_callbacks = NeuralNet._default_callbacks
        _set_training = NeuralNet._set_training

    saved = base.SequenceNet, base.FiniteLossGuard, base.ParameterClipping
    base.SequenceNet, base.FiniteLossGuard = StockNet, TensorGuard
    base.ParameterClipping = GradientNormClipping
    try:
        yield
    finally:
        base.SequenceNet, base.FiniteLossGuard, base.ParameterClipping = saved


def per_step_ratios(X, y, network, batch_size, steps):
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

    nets = {"trimmed": estimator(HiddenStateClassifier, network, batch_size, 1)
            .fit(X, y).net_}
    with stock_skorch_bookkeeping():
        nets["stock"] = estimator(HiddenStateClassifier, network, batch_size, 1) \
            .fit(X, y).net_
    net = nets["trimmed"]
    dataset = net.get_dataset({"X": X, "lengths": np.full(len(X), X.shape[1])}, y)
    batches = list(net.get_iterator(dataset, training=True))
    module = copy.deepcopy(net.module_)
    optimizer = torch.optim.Adam(module.parameters(), lr=LR, fused=True)  # as fit's
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

    module.train()
    for n in nets.values():
        n.module_.train()
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


# ----------------------------------------------------------------- inference
def _hand_loop(module, X_t, lengths, call):
    """``call`` over contiguous batches of ``HAND_BATCH``, concatenated on the host."""
    with torch.inference_mode():
        return torch.cat([
            call(module, X_t[i : i + HAND_BATCH].to(DEVICE),
                 lengths[i : i + HAND_BATCH].to(DEVICE)).cpu()
            for i in range(0, len(X_t), HAND_BATCH)
        ])


def _proba(module, X, lengths):
    return torch.softmax(module(X, lengths).double(), dim=-1).mean(dim=1)


def _staged_proba(module, X, lengths):
    outputs, mask = module.staged(X, lengths)
    return mean_over_views(torch.softmax(outputs.double(), dim=-1), mask)


def _prefix_staged_proba(module, X, lengths):
    """Staged probabilities of a model reading the future (equal lengths).

    What a user would write: each window's prefix read as a sequence of its
    own, up to the window's end.
    """
    frontend, n_steps = module.frontend, X.shape[1]
    ends = [min(start + frontend.window, n_steps)
            for start in range(0, n_steps, frontend.stride)]
    steps = [_proba(module, X[:, :end], torch.full_like(lengths, end)) for end in ends]
    return torch.stack(steps, dim=1)


def _forecast_scores(detector):
    """The detector's scores as a hand-written loop computes them.

    Its default pooling: the highest over ``score_span`` steps ahead beside
    the mean over ``context_span``, scaled by the fitted ``score_scales_``.
    """
    context = (detector.context_span, torch.as_tensor(detector.score_scales_))
    span = detector.score_span
    return partial(step_scores, score="forecast", span=span, context=context)


def _consumed(steps):
    """Read a staged output to its last step, as a user reading it would."""
    last = None
    for step in steps:
        last = step
    return last


def inference_pairs(models, X):
    """``{method: (hand-written, estimator call)}``, no-argument functions.

    The hand-written side receives a tensor made once (``torch.from_numpy``
    of the caller's array) and a lengths tensor; the estimator receives the
    numpy array itself.
    """
    clf, att, trf, det = models
    X_t = torch.from_numpy(X)
    lengths = torch.full((len(X),), X.shape[1], dtype=torch.int64)
    for model in models:
        model.net_.module_.eval()
    c, a, t, d = (model.net_.module_ for model in models)

    def hand_proba():
        return _hand_loop(c, X_t, lengths, _proba).numpy()

    def hand_staged():
        call = _staged_proba if _is_causal(c) else _prefix_staged_proba
        staged = _hand_loop(c, X_t, lengths, call).numpy()
        return _consumed(staged[:, i] for i in range(staged.shape[1]))

    def per_sequence(module, call):
        return lambda: list(_hand_loop(module, X_t, lengths, call).numpy())

    return {
        "predict": (lambda: clf.classes_[hand_proba().argmax(axis=1)],
                    lambda: clf.predict(X)),
        "predict_proba": (hand_proba, lambda: clf.predict_proba(X)),
        "transform": (lambda: _hand_loop(t, X_t, lengths, type(t).features).numpy(),
                      lambda: trf.transform(X)),
        "hidden_states": (per_sequence(c, type(c).hidden_states),
                          lambda: clf.hidden_states(X)),
        "attention_weights": (per_sequence(a, type(a).attention_weights),
                              lambda: att.attention_weights(X)),
        "staged_predict_proba": (hand_staged,
                                 lambda: _consumed(clf.staged_predict_proba(X))),
        "score_steps": (per_sequence(d, _forecast_scores(det)),
                        lambda: det.score_steps(X)),
    }


def _assert_equal(name, hand, est):
    if isinstance(hand, list):
        assert len(hand) == len(est), name
        hand, est = np.stack(hand), np.stack(est)
    if hand.dtype.kind in "iub":
        np.testing.assert_array_equal(hand, est, err_msg=name)
    else:
        # cuDNN may pick other kernels for other batch sizes: GPU sums differ
        # in the last bits, not in meaning.
        tol = 1e-5 if DEVICE == "cpu" else 1e-3
        np.testing.assert_allclose(hand, est, rtol=tol, atol=tol / 10, err_msg=name)


def fitted_models(cfg, quick):
    """Classifier, attention classifier, transformer, detector for ``cfg``."""
    X, y = make_data(64 if quick else 256, cfg["n_steps"], cfg["n_features"])
    network = cfg["network"]
    attention = {**network, "aggregation": "attention"}
    # The hand loop computes forecast errors; the detector's default is
    # "nearest", so the score is named.
    detector = {k: v for k, v in network.items() if k != "aggregation"}
    detector["anomaly_score"] = "forecast"
    return (
        estimator(HiddenStateClassifier, network, 32, 1).fit(X, y),
        estimator(HiddenStateClassifier, attention, 32, 1).fit(X, y),
        estimator(HiddenStateTransformer, network, 32, 1).fit(X, y),
        estimator(HiddenStateAnomalyDetector, {**detector, "segment_length": None},
                  32, 1).fit(X),
    )


def _settings(cfg, extra=""):
    network = cfg["network"] or {"network": "estimator defaults"}
    return (f"n={cfg['n']} T={cfg['n_steps']} d={cfg['n_features']} "
            + " ".join(f"{k}={v}" for k, v in network.items()) + extra)


def _fit_pair(X, y, network, batch_size, epochs):
    """The hand-written fit and the estimator's fit, no-argument functions."""

    def hand():
        return hand_written_fit(X, y, network, batch_size, epochs)

    def fit():
        return estimator(HiddenStateClassifier, network, batch_size, epochs).fit(X, y)

    return hand, fit


def run(quick=False, repeats=None, log=print):
    """Measure every ratio; return ``{"rows": [...], "markdown": str}``."""
    set_threads(1)
    env = environment()
    machine = machine_line(env)
    repeats = repeats or (3 if quick else 31)
    rows = []
    for name, cfg in TRAINING.items():
        cfg = dict(cfg)
        if quick:
            cfg.update(n=cfg["n"] // 4, epochs=2, steps=60)
        X, y = make_data(cfg["n"], cfg["n_steps"], cfg["n_features"])
        network, bs, ep = cfg["network"], cfg["batch_size"], cfg["epochs"]
        settings = _settings(cfg, f" batch={bs} epochs={ep} Adam lr={LR} clip={CLIP}")
        hand, fit = _fit_pair(X, y, network, bs, ep)
        _, hand_losses = hand()
        est_losses = list(fit().history_[:, "train_loss"])
        log(f"[overhead] {name}: final train loss hand {hand_losses[-1]:.4f} "
            f"estimator {est_losses[-1]:.4f}")
        r = paired_ratio(hand, fit, repeats=repeats)
        log(f"[overhead] {name} fit: cpu {r['cpu_ratio']:.3f} "
            f"wall {r['wall_ratio']:.3f}")
        rows.append(_row(name, "fit / hand-written loop", r, settings, machine))
        if DEVICE != "cpu":
            continue  # the per-step diagnostic reads CPU time
        per_step = per_step_ratios(X, y, network, bs, cfg["steps"])
        log(f"[overhead] {name} per step: trimmed {per_step['trimmed']:.3f} "
            f"stock {per_step['stock']:.3f}")
        for key, label in (("trimmed", "one training step (skhidden's SequenceNet)"),
                           ("stock", "one training step (skorch's stock bookkeeping)")):
            rows.append({
                "model": name, "comparison": label + " / hand-written step",
                "ratio (CPU time)": per_step[key], "CPU IQR": "", "ratio (wall)": "",
                "target": "(diagnostic)", "baseline wall s": "",
                "repeats": f"{cfg['steps']} steps", "settings": settings,
                "machine": machine,
            })

    for name, cfg in INFERENCE.items():
        cfg = dict(cfg)
        if quick:
            cfg.update(n=cfg["n"] // 8)
        X, _ = make_data(cfg["n"], cfg["n_steps"], cfg["n_features"], seed=1)
        pairs = inference_pairs(fitted_models(cfg, quick), X)
        settings = _settings(cfg, f"; hand-written batches of {HAND_BATCH}, "
                                  "inference_batch_size='auto'")
        for method, (hand, call) in pairs.items():
            _assert_equal(method, hand(), call())
            r = paired_ratio(hand, call, repeats=repeats)
            log(f"[overhead] {name} {method}: cpu {r['cpu_ratio']:.3f} "
                f"wall {r['wall_ratio']:.3f}")
            rows.append(_row(name, f"{method} / hand-written inference_mode loop", r,
                             settings, machine))
    return {"rows": rows, "markdown": _markdown(rows, env, repeats, quick)}


def _row(model, label, r, settings, machine):
    return {
        "model": model,
        "comparison": label,
        "ratio (CPU time)": r["cpu_ratio"],
        "CPU IQR": f"{r['cpu_q1']:.3f}-{r['cpu_q3']:.3f}",
        "ratio (wall)": r["wall_ratio"],
        "wall IQR": f"{r['wall_q1']:.3f}-{r['wall_q3']:.3f}",
        "target": TARGET,
        "baseline wall s": r["baseline_wall_s"],
        "repeats": r["repeats"],
        "settings": settings,
        "machine": machine,
    }


def _markdown(rows, env, repeats, quick=False):
    text = [
        "## 1. Wrapper overhead\n",
        "Every row: estimator time / hand-written PyTorch time for the same work "
        "(lower is better, target <= 1.05). Medians of per-repeat ratios over "
        f"{repeats} interleaved repeats (ABBA order); the IQR is that of the "
        "per-repeat ratios. Inference rows time the public method on the numpy "
        "array a user passes (validation included) against a hand-written "
        "`torch.inference_mode` loop over contiguous batches of "
        f"{HAND_BATCH} sliced from a tensor made before timing, calling the same "
        "fitted module. CPU-time ratios are the headline: torch runs on one "
        "thread on both sides, so a process's CPU time is the work it did, "
        "while wall time also counts the other users of this machine "
        f"({env['cpus']} cores, 1-minute load {env['load_1min']} at the start). "
        "The *one training step* rows are diagnostics: the median per-batch "
        "time of skorch's step (the body of `run_single_epoch`) over the "
        "hand-written step, alternating batch by batch, with skhidden's trimmed "
        "`SequenceNet` and with skorch's stock bookkeeping; a whole fit adds "
        "per-fit set-up (validation, net construction, seeding) and per-epoch "
        "work (batch planning, history) to this.\n",
    ]
    if quick:
        text.append("**QUICK RUN: sizes and repeats cut down; the numbers are not "
                    "meaningful.**\n")
    if DEVICE != "cpu":
        gpu = env.get("gpu", DEVICE)
        text.append(f"**On {DEVICE}** ({gpu}): both sides run there, "
                    "so the wall-clock ratio is the headline (each timed call ends "
                    "with its output on the host); CPU time is that of the host "
                    "thread feeding the GPU.\n")
    columns = ["model", "comparison", "ratio (CPU time)", "CPU IQR", "ratio (wall)",
               "wall IQR",
               "target", "baseline wall s", "repeats", "settings", "machine"]
    text.append(markdown_table(rows, columns))
    return "\n".join(text)


def plot(rows, path, clock="CPU"):
    """Bar chart of the ``clock`` ("CPU" or "wall") ratios, fit and inference apart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, ax = plt.subplots(figsize=(9, 0.22 * len(rows) + 1.2))
    labels = [f"{r['model']}: {r['comparison'].split(' / ')[0]}" for r in rows]
    key = "ratio (CPU time)" if clock == "CPU" else "ratio (wall)"
    values = [r[key] for r in rows]
    training = ["fit" in r["comparison"] or "training" in r["comparison"] for r in rows]
    colors = ["tab:blue" if t else "tab:orange" for t in training]
    y = range(len(rows))
    ax.barh(y, values, color=colors)
    ax.axvline(1.0, color="k", lw=0.8)
    target = ax.axvline(1.05, color="tab:red", ls="--", lw=0.8, label="target 1.05")
    ax.set_yticks(list(y))
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(min(0.8, min(values) - 0.05), max(1.25, max(values) + 0.05))
    ax.set_xlabel(
        f"estimator time / hand-written PyTorch time ({clock}, median of repeats)"
    )
    handles = [Patch(color="tab:blue", label="training"),
               Patch(color="tab:orange", label="inference"), target]
    ax.legend(handles=handles, fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, small sizes")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--output", default=RESULTS)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU")
    args = parser.parse_args(argv)
    global DEVICE
    DEVICE = args.device
    result = run(quick=args.quick, repeats=args.repeats)
    os.makedirs(args.output, exist_ok=True)
    stem = "overhead" if DEVICE == "cpu" else f"overhead_{DEVICE.split(':')[0]}"
    with open(os.path.join(args.output, f"{stem}.md"), "w") as fh:
        fh.write(result["markdown"] + f"\n![overhead]({stem}.png)\n")
    plot(result["rows"], os.path.join(args.output, f"{stem}.png"),
         "wall" if DEVICE != "cpu" else "CPU")
    print(result["markdown"])


if __name__ == "__main__":
    main()
