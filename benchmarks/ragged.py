"""Ragged data: length-aware batching against padding to the global maximum
(issue 3, item 2).

Candidate: what ``HiddenStateClassifier.fit`` does, ``SequenceBatches`` with
shuffling: sequences sorted by length (ties at random), cut into batches,
batches in random order, each batch trimmed to its own longest sequence.
Baseline: what a plain ``DataLoader(shuffle=True)`` over a padded array
does: random batches, every one padded to the longest sequence of the data
set. Same data, model, batch size, epochs and seed; only the iterator
differs (swapped in through skorch's ``iterator_train``).

Reported per length distribution:

- epoch-time speed-up: median over repeats of (baseline epoch time /
  candidate epoch time), epochs timed by a callback, fits interleaved;
- padding fraction: padded steps / steps processed in one epoch, for both;
- the ideal speed-up if time were proportional to steps processed (the
  ratio of steps processed), which bounds what batching alone can give;
- padding invariance: predictions of the trained model per sequence are
  equal (allclose) through ``predict_proba`` (length-sorted batches trimmed
  to their own length), through the module on batches padded to the global
  maximum in input order, and for a sample of sequences alone (no padding).

Run ``python benchmarks/ragged.py [--quick]``.
"""

import argparse
import contextlib
import os
import statistics
import sys
import time

import numpy as np
import torch
from skorch.callbacks import Callback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import environment, machine_line, markdown_table, set_threads  # noqa: E402

from skhidden import HiddenStateClassifier  # noqa: E402
from skhidden._training import SequenceBatches  # noqa: E402
from skhidden.sequences import check_sequences  # noqa: E402

DISTRIBUTIONS = {
    "uniform 100..1300": lambda rng, n: rng.integers(100, 1301, size=n),
    # Right-skewed like most real collections (many short recordings, a few
    # long ones); PLAID's 100..1344 is of this kind.
    "log-normal, median 300, clipped to 100..1300": lambda rng, n: np.clip(
        np.round(np.exp(rng.normal(np.log(300), 0.6, size=n))), 100, 1300
    ).astype(np.int64),
}


class GlobalMaxBatches(SequenceBatches):
    """Baseline iterator: random batches, all padded to the longest sequence."""

    def batch_indices(self):
        if not self.shuffle:
            return super().batch_indices()
        rng = np.random.default_rng(self.random_state)
        order = self.indices[rng.permutation(len(self.indices))]
        return [order[i : i + self.batch_size]
                for i in range(0, len(order), self.batch_size)]

    def __iter__(self):
        n_steps = self.padded.shape[1]
        for batch in self.batch_indices():
            Xb = {
                "X": torch.from_numpy(self.padded[batch]),
                "lengths": torch.from_numpy(self.lengths[batch]),
            }
            yield Xb, self._targets(batch, n_steps)


class EpochClock(Callback):
    """Record each epoch's wall and process CPU seconds in the history."""

    def on_epoch_begin(self, net, **kwargs):
        self._start = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, net, **kwargs):
        net.history.record("epoch_wall", time.perf_counter() - self._start[0])
        net.history.record("epoch_cpu", time.process_time() - self._start[1])


@contextlib.contextmanager
def train_iterator(iterator):
    """Make the estimators' skorch nets train with ``iterator``."""
    import skhidden._fitting as base

    original = base.SequenceNet

    class Net(original):
        def __init__(self, *args, **kwargs):
            kwargs["iterator_train"] = iterator
            super().__init__(*args, **kwargs)

    base.SequenceNet = Net
    try:
        yield
    finally:
        base.SequenceNet = original


def make_data(lengths, n_features=2, seed=0):
    rng = np.random.default_rng(seed)
    X = [rng.normal(size=(int(t), n_features)).astype(np.float32) for t in lengths]
    y = np.array([int(x[:, 0].mean() > 0) for x in X])
    return X, y


def padding_fraction(iterator_cls, lengths, batch_size, seed=0):
    """Padded steps / steps processed over one training epoch of ``iterator_cls``."""
    from skorch.dataset import Dataset

    padded = np.zeros((len(lengths), 1, 1), np.float32)  # only lengths matter here
    it = iterator_cls(Dataset({"X": padded, "lengths": lengths}, None), batch_size,
                      shuffle=True, random_state=np.random.default_rng(seed))
    global_max = lengths.max()
    processed = 0
    for batch in it.batch_indices():
        n_steps = (global_max if iterator_cls is GlobalMaxBatches
                   else lengths[batch].max())
        processed += len(batch) * int(n_steps)
    return 1.0 - lengths.sum() / processed, processed


def run(quick=False, repeats=None, log=print):
    set_threads(1)
    env = environment()
    machine = machine_line(env)
    n = 128 if quick else 1024
    epochs = 1 if quick else 2
    repeats = repeats or (1 if quick else 3)
    hidden, batch_size = (32, 32) if quick else (64, 32)  # the shipped defaults
    # No front-end: the recurrent layer reads every input step, so padding
    # costs what it costs a plain RNN (a conv front-end divides all lengths,
    # padded or not, by its stride).
    params = dict(hidden_size=hidden, batch_size=batch_size, max_epochs=epochs,
                  cell="gru", aggregation="mean", frontend="none", device="cpu",
                  random_state=0)
    rows, checks = [], []
    for dist_name, draw in DISTRIBUTIONS.items():
        lengths = draw(np.random.default_rng(0), n)
        X, y = make_data(lengths)
        settings = (f"n={n} d=2 lengths {lengths.min()}..{lengths.max()} "
                    f"(mean {lengths.mean():.0f}), GRU hidden={hidden} mean, "
                    f"no front-end, batch={batch_size}, {epochs} epoch(s) x "
                    f"{repeats} repeat(s)")

        def fit(iterator, X=X, y=y):
            with train_iterator(iterator):
                clf = HiddenStateClassifier(callbacks=[("clock", EpochClock())],
                                            **params)
                return clf.fit(X, y)

        with train_iterator(GlobalMaxBatches):  # warm-up, untimed
            HiddenStateClassifier(**dict(params, max_epochs=1)).fit(X[:64], y[:64])
        HiddenStateClassifier(**dict(params, max_epochs=1)).fit(X[:64], y[:64])
        (base_cpu, cand_cpu, base_wall, cand_wall,
         ratios_cpu, ratios_wall) = ([] for _ in range(6))
        model = None
        for i in range(repeats):
            order = [("b", GlobalMaxBatches), ("c", SequenceBatches)]
            if i % 2:
                order.reverse()
            epoch = {}
            for key, iterator in order:
                clf = fit(iterator)
                epoch[key] = (statistics.median(clf.history_[:, "epoch_cpu"]),
                              statistics.median(clf.history_[:, "epoch_wall"]))
                if key == "c":
                    model = clf
            base_cpu.append(epoch["b"][0])
            cand_cpu.append(epoch["c"][0])
            base_wall.append(epoch["b"][1])
            cand_wall.append(epoch["c"][1])
            ratios_cpu.append(epoch["b"][0] / epoch["c"][0])
            ratios_wall.append(epoch["b"][1] / epoch["c"][1])
        pad_base, steps_base = padding_fraction(GlobalMaxBatches, lengths, batch_size)
        pad_cand, steps_cand = padding_fraction(SequenceBatches, lengths, batch_size)
        speedup_cpu = statistics.median(ratios_cpu)
        speedup_wall = statistics.median(ratios_wall)
        log(f"[ragged] {dist_name}: speed-up cpu {speedup_cpu:.2f} "
            f"wall {speedup_wall:.2f}, padding {pad_base:.1%} -> {pad_cand:.1%}, "
            f"ideal {steps_base / steps_cand:.2f}")
        rows.append({
            "lengths": dist_name,
            "epoch speed-up (CPU time)": speedup_cpu,
            "epoch speed-up (wall)": speedup_wall,
            "ideal (steps ratio)": steps_base / steps_cand,
            "padding, global max": f"{pad_base:.1%}",
            "padding, length-aware": f"{pad_cand:.1%}",
            "target": ">= 2",
            "baseline epoch s (wall)": statistics.median(base_wall),
            "length-aware epoch s (wall)": statistics.median(cand_wall),
            "settings": settings,
            "machine": machine,
        })
        checks.append(_invariance(model, X, lengths, dist_name, log))
    return {"rows": rows, "checks": checks, "markdown": _markdown(rows, checks, env)}


def _invariance(clf, X, lengths, name, log):
    """Largest difference in probabilities between the three inference paths."""
    proba = clf.predict_proba(X)
    padded, lens = check_sequences(X)
    module = clf.net_.module_
    module.eval()
    with torch.inference_mode():
        padded_out = []
        for i in range(0, len(X), clf.batch_size):  # input order: global-max padding
            logits = module(torch.from_numpy(padded[i : i + clf.batch_size]),
                            torch.from_numpy(lens[i : i + clf.batch_size]))
            padded_out.append(torch.softmax(logits.double(), -1).mean(1))
        global_max = torch.cat(padded_out).numpy()
        sample = np.random.default_rng(0).choice(len(X), size=min(32, len(X)),
                                                 replace=False)
        alone = np.stack([
            torch.softmax(module(torch.from_numpy(X[i][None]),
                                 torch.tensor([len(X[i])])).double(),
                          -1).mean(1)[0].numpy()
            for i in sample
        ])
    diff_pad = float(np.abs(proba - global_max).max())
    diff_alone = float(np.abs(proba[sample] - alone).max())
    ok = np.allclose(proba, global_max, atol=1e-5) and np.allclose(proba[sample], alone,
                                                                   atol=1e-5)
    log(f"[ragged] {name}: invariance max |diff| padded {diff_pad:.2e}, "
        f"alone {diff_alone:.2e}")
    return {
        "lengths": name,
        "max abs diff vs global-max padding": f"{diff_pad:.1e}",
        "max abs diff vs alone (32 sequences)": f"{diff_alone:.1e}",
        "allclose (atol 1e-5)": "yes" if ok else "NO",
    }


def _markdown(rows, checks, env):
    return "\n".join([
        "## 2. Ragged data: length-aware batching\n",
        "Epoch time of training with length-aware batches (sorted by length, "
        "shuffled batches, each trimmed to its own longest sequence) against "
        "random batches all padded to the longest sequence. Speed-up = baseline "
        "epoch time / length-aware epoch time, median over interleaved repeats "
        "(CPU time headline, torch on one thread). *Ideal* is the ratio of "
        "steps processed: the speed-up if time were proportional to padded "
        "steps, hence the most that batching alone can give. Padding fraction "
        "= padded steps / steps processed in one epoch.\n",
        markdown_table(rows),
        "Padding invariance of the trained (length-aware) model: probabilities "
        "from `predict_proba` against the same module on batches padded to the "
        "global maximum in input order, and on single sequences without any "
        "padding.\n",
        markdown_table(checks),
    ])


def main(argv=None):
    # The summary, the docstring's first paragraph, as one line.
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    print(run(quick=args.quick, repeats=args.repeats)["markdown"])


if __name__ == "__main__":
    main()
