"""The skorch layer: batches, the finite-loss guard and the trimmed bookkeeping."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, GradientNormClipping
from skorch.dataset import Dataset
from skorch.history import History

from conftest import make_sequences
from skhidden import (
    HiddenStateClassifier,
    HiddenStateRegressor,
    HiddenStateTransformer,
    NonFiniteLossError,
)
from skhidden._training import (
    FiniteLossGuard,
    ParameterClipping,
    QuietPrintLog,
    SequenceBatches,
    SequenceNet,
)
from skhidden.sequences import check_sequences

TINY = dict(hidden_size=8, max_epochs=3, random_state=0, device="cpu")


def _batches(X, batch_size=8, **kwargs):
    padded, lengths = check_sequences(X)
    y = np.arange(len(lengths))
    return SequenceBatches(
        Dataset({"X": padded, "lengths": lengths}, y), batch_size, **kwargs
    )


# --------------------------------------------------------------- the iterator
def test_batches_cover_every_sequence_once_and_trim_to_their_longest():
    X, _ = make_sequences(n=50, n_steps=30, ragged=True)
    batches = _batches(X, shuffle=True, random_state=np.random.default_rng(0))
    seen = []
    for Xb, yb in batches:
        lengths = Xb["lengths"].numpy()
        assert Xb["X"].shape[1] == lengths.max()
        for row, i in zip(Xb["X"].numpy(), yb.numpy(), strict=True):
            np.testing.assert_array_equal(row[: len(X[i])], X[i])
        seen.extend(yb.tolist())
    assert sorted(seen) == list(range(50))
    assert len(batches) == math.ceil(50 / 8)


def test_shuffled_batches_group_similar_lengths_and_change_order_each_epoch():
    rng = np.random.default_rng(0)
    X = [np.ones((int(t), 1), np.float32) for t in rng.integers(1, 200, size=256)]
    batches = _batches(
        X, batch_size=16, shuffle=True, random_state=np.random.default_rng(0)
    )
    first, second = batches.batch_indices(), batches.batch_indices()
    assert [b.tolist() for b in first] != [b.tolist() for b in second]
    lengths = np.array([len(x) for x in X])
    processed = sum(len(b) * lengths[b].max() for b in first)
    assert 1 - lengths.sum() / processed < 0.1  # padding fraction
    global_max = len(lengths) * lengths.max()
    assert processed < 0.6 * global_max


def test_cropped_training_batches_are_random_windows_of_each_sequence():
    X, _ = make_sequences(n=40, n_steps=30, ragged=True)
    batches = _batches(X, shuffle=True, random_state=np.random.default_rng(0), crop=0.6)
    starts = []
    for _ in range(2):  # a new window every epoch
        for Xb, yb in batches:
            for row, length, i in zip(
                Xb["X"].numpy(), Xb["lengths"].numpy(), yb.numpy(), strict=True
            ):
                assert length == math.ceil(0.6 * len(X[i]))
                assert (row[length:] == 0).all()
                start = next(
                    s for s in range(len(X[i]) - length + 1)
                    if np.array_equal(X[i][s : s + length], row[:length])
                )
                starts.append((i, start))
    assert len(set(starts)) > 40  # windows differ between sequences and epochs


def test_crop_leaves_unshuffled_batches_whole_and_crops_per_step_targets_alike():
    X, _ = make_sequences(n=10, n_steps=12, ragged=True)
    padded, lengths = check_sequences(X)
    whole = SequenceBatches(
        Dataset({"X": padded, "lengths": lengths}, padded), 4, crop=0.5
    )
    for (Xb, _), batch in zip(whole, whole.batch_indices(), strict=True):
        np.testing.assert_array_equal(Xb["lengths"].numpy(), lengths[batch])
    cropped = SequenceBatches(
        Dataset({"X": padded, "lengths": lengths}, padded), 4, shuffle=True,
        random_state=np.random.default_rng(1), crop=0.5,
    )
    for Xb, yb in cropped:  # the sequences are their own targets: cropped alike
        torch.testing.assert_close(Xb["X"], yb)
        assert (Xb["lengths"].numpy() < lengths.max()).all()


def test_warped_training_batches_stretch_each_sequence_by_a_random_factor():
    X, _ = make_sequences(n=40, n_steps=30, ragged=True)
    batches = _batches(X, shuffle=True, random_state=np.random.default_rng(0), warp=0.3)
    factors = []
    for _ in range(2):  # a new factor every epoch
        for Xb, yb in batches:
            for row, length, i in zip(
                Xb["X"].numpy(), Xb["lengths"].numpy(), yb.numpy(), strict=True
            ):
                original = X[i]
                assert (
                    round(0.7 * len(original)) <= length <= round(1.3 * len(original))
                )
                assert (row[length:] == 0).all()
                # Linear interpolation keeps the first and last steps.
                np.testing.assert_allclose(row[0], original[0], atol=1e-6)
                np.testing.assert_allclose(row[length - 1], original[-1], atol=1e-6)
                factors.append(length / len(original))
    assert len(set(np.round(factors, 3))) > 20


def test_warp_stretches_per_step_targets_alike_and_leaves_unshuffled_batches():
    X, _ = make_sequences(n=10, n_steps=12, ragged=True)
    padded, lengths = check_sequences(X)
    data = Dataset({"X": padded, "lengths": lengths}, padded)
    for (Xb, _), batch in zip(
        SequenceBatches(data, 4, warp=0.5),
        SequenceBatches(data, 4).batch_indices(),
        strict=True,
    ):
        np.testing.assert_array_equal(Xb["lengths"].numpy(), lengths[batch])
    warped = SequenceBatches(
        data, 4, shuffle=True, random_state=np.random.default_rng(1), warp=0.5, crop=0.8
    )
    for Xb, yb in warped:  # the sequences are their own targets: warped alike
        torch.testing.assert_close(Xb["X"], yb)


def test_warped_fits_are_reproducible_and_predict_sequences_as_they_are():
    X, y = make_sequences(n=30, n_steps=20, ragged=True)
    first = HiddenStateClassifier(warp=0.2, **TINY).fit(X, y)
    second = HiddenStateClassifier(warp=0.2, **TINY).fit(X, y)
    plain = HiddenStateClassifier(**TINY).fit(X, y)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    assert not np.allclose(first.predict_proba(X), plain.predict_proba(X))
    lengths = [len(s) for s in first.hidden_states(X)]
    assert lengths == [len(s) for s in plain.hidden_states(X)]


@pytest.mark.parametrize(
    "name, value",
    [("crop", 0.0), ("crop", 1.5), ("crop", -0.2), ("warp", 1.0), ("warp", -0.1)],
)
def test_augmentation_outside_its_range_is_refused(name, value):
    X, y = make_sequences(n=12)
    with pytest.raises(ValueError, match=name):
        HiddenStateClassifier(**{name: value}, **TINY).fit(X, y)


def test_cropped_fits_are_reproducible_and_differ_from_whole_ones():
    X, y = make_sequences(n=30, n_steps=20, ragged=True)
    first = HiddenStateClassifier(crop=0.8, **TINY).fit(X, y).predict_proba(X)
    second = HiddenStateClassifier(crop=0.8, **TINY).fit(X, y).predict_proba(X)
    whole = HiddenStateClassifier(crop=1.0, **TINY).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first, whole)


def test_classifier_and_transformer_crop_by_default_and_the_regressor_does_not():
    X, y = make_sequences(n=30, n_steps=20, ragged=True)

    def output(estimator, method, target, **params):
        return getattr(estimator(**params, **TINY).fit(X, target), method)(X)

    for estimator, method in [
        (HiddenStateClassifier, "predict_proba"),
        (HiddenStateTransformer, "transform"),
    ]:
        default = output(estimator, method, y)
        np.testing.assert_array_equal(default, output(estimator, method, y, crop=0.9))
        assert not np.allclose(default, output(estimator, method, y, crop=1.0))
    y_reg = y.astype(float)
    np.testing.assert_array_equal(
        output(HiddenStateRegressor, "predict", y_reg),
        output(HiddenStateRegressor, "predict", y_reg, crop=1.0),
    )


@pytest.mark.parametrize(
    "n_train, batch_size, expected",
    [(28, 32, 600), (100, 32, 150), (192, 32, 100), (5000, 32, 100), (100, 5, 100)],
)
def test_auto_epochs_take_at_least_100_epochs_and_600_steps(
    n_train, batch_size, expected
):
    from skhidden._fitting import choose_max_epochs

    assert choose_max_epochs("auto", n_train, batch_size) == expected
    assert choose_max_epochs(7, n_train, batch_size) == 7


def test_auto_epochs_train_that_long_count_only_training_sequences_and_persist(
    tmp_path,
):
    import skhidden

    X, y = make_sequences(n=40, n_steps=6)
    small = dict(
        hidden_size=2, frontend="none", batch_size=16, random_state=0, device="cpu"
    )
    model = HiddenStateClassifier(**small).fit(X, y)
    assert model.max_epochs == "auto"
    assert model.max_epochs_ == 200  # 3 batches an epoch
    assert len(model.history_) == 200
    # A quarter held out for early stopping leaves 30 sequences: 2 batches.
    stopped = HiddenStateClassifier(
        **small, early_stopping=True, validation_fraction=0.25, patience=1
    ).fit(X, y)
    assert stopped.max_epochs_ == 300
    assert len(stopped.history_) <= 300
    model.save(tmp_path / "model.safetensors")
    assert skhidden.load(tmp_path / "model.safetensors").max_epochs_ == 200
    assert HiddenStateClassifier(**small, max_epochs=4).fit(X, y).max_epochs_ == 4


def test_unshuffled_batches_keep_dataset_order():
    X, _ = make_sequences(n=20, ragged=True)
    order = np.concatenate([yb.numpy() for _, yb in _batches(X, batch_size=6)])
    np.testing.assert_array_equal(order, np.arange(20))


# --------------------------------------------------------------- loss guard
def _net_with_recorded(key, value):
    history = History()
    history.new_epoch()
    history.new_batch()
    history.record_batch(key, value)
    return SimpleNamespace(history=history)


@pytest.mark.parametrize("training, key", [(True, "train_loss"), (False, "valid_loss")])
def test_guard_reads_the_loss_skorch_recorded(training, key):
    guard = FiniteLossGuard()
    # The recorded float decides, not a tensor operation on the loss.
    net = _net_with_recorded(key, float("nan"))
    with pytest.raises(NonFiniteLossError, match="loss became nan in epoch 1"):
        guard.on_batch_end(net, training=training, loss=torch.tensor(0.5))
    guard.on_batch_end(
        _net_with_recorded(key, 0.5), training=training, loss=torch.tensor(0.5)
    )


def test_guard_falls_back_to_the_loss_tensor():
    guard = FiniteLossGuard()
    net = SimpleNamespace(history=History())
    with pytest.raises(NonFiniteLossError, match="inf"):
        guard.on_batch_end(net, training=True, loss=torch.tensor(float("inf")))
    guard.on_batch_end(net, training=True, loss=torch.tensor(1.0))
    guard.on_batch_end(net, training=True, loss=None)


def test_a_nan_validation_loss_stops_training():
    class PoisonValidation(Callback):
        def on_batch_begin(self, net, training=None, **kwargs):
            if not training and len(net.history) == 2:
                with torch.no_grad():
                    for name, p in net.module_.named_parameters():
                        if ".heads." in f".{name}":
                            p.fill_(float("nan"))

    X, y = make_sequences(n=40)
    clf = HiddenStateClassifier(early_stopping=True, callbacks=[PoisonValidation()],
                                clip_grad_norm=None, **TINY)
    with pytest.raises(NonFiniteLossError, match="in epoch 2"):
        clf.fit(X, y)


# ------------------------------------------------------- trimmed bookkeeping
class ModeRecorder(Callback):
    """Every module's training flag at the end of each batch."""

    def initialize(self):
        self.modes = {True: set(), False: set()}
        return self

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        modules = list(net.module_.modules()) + list(net.criterion_.modules())
        self.modes[training].update(m.training for m in modules)


def test_modules_train_in_training_batches_and_evaluate_in_validation_batches():
    recorder = ModeRecorder()
    X, y = make_sequences(n=40, ragged=True)
    HiddenStateClassifier(dropout=0.3, num_layers=2, early_stopping=True,
                          callbacks=[recorder], **TINY).fit(X, y)
    assert recorder.modes == {True: {True}, False: {False}}


def test_set_training_changes_only_what_differs():
    X, y = make_sequences(n=20)
    net = HiddenStateClassifier(**TINY).fit(X, y).net_
    net.module_.eval()
    net._set_training(True)
    assert all(m.training for m in net.module_.modules())
    net._set_training(False)
    assert not any(m.training for m in net.module_.modules())


def test_the_default_print_log_is_quiet_until_verbose(capsys):
    X, y = make_sequences(n=20)
    clf = HiddenStateClassifier(**TINY).fit(X, y)
    assert isinstance(dict(clf.net_.callbacks_)["print_log"], QuietPrintLog)
    assert capsys.readouterr().out == ""
    HiddenStateClassifier(verbose=1, **TINY).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert "train_loss" in lines[0] and len(lines) == 2 + TINY["max_epochs"]


def test_a_custom_print_log_sink_still_receives_every_epoch():
    lines = []
    net = SequenceNet(
        module=torch.nn.Linear, module__in_features=1, module__out_features=1,
        criterion=torch.nn.MSELoss, callbacks__print_log__sink=lines.append, verbose=0,
    )
    net.initialize_callbacks()
    net.history = History()
    net.history.new_epoch()
    net.history.record("epoch", 1)
    dict(net.callbacks_)["print_log"].on_epoch_end(net)
    assert lines  # the sink is not print, so skorch writes to it whatever verbose is


class GradientNorms(Callback):
    """The total gradient norm each later ``on_grad_computed`` listener sees."""

    def initialize(self):
        self.norms = []
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        grads = [p.grad for _, p in named_parameters if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(torch.stack(
            [torch.linalg.vector_norm(g) for g in grads]))))


def test_clipping_a_parameter_list_trains_exactly_as_skorchs_clipping():
    X, y = make_sequences(n=40, ragged=True)
    params = dict(lr=0.05, clip_grad_norm=0.01, early_stopping=True, **TINY)
    recorder = GradientNorms()
    ours = HiddenStateClassifier(batch_size=8, callbacks=[recorder], **params).fit(X, y)
    assert isinstance(dict(ours.net_.callbacks_)["clip"], ParameterClipping)
    # every training batch's gradients reach the later listeners clipped
    assert len(recorder.norms) == sum(ours.history_[:, "train_batch_count"]) > 3
    assert max(recorder.norms) <= 0.01 * (1 + 1e-4)

    class Stock(HiddenStateClassifier):
        def _training_callbacks(self, max_epochs):
            return [(name, GradientNormClipping(self.clip_grad_norm) if name == "clip"
                     else callback) for name, callback in super()._training_callbacks(
                         max_epochs)]

    stock = Stock(batch_size=8, **params).fit(X, y)
    assert type(dict(stock.net_.callbacks_)["clip"]) is GradientNormClipping
    pairs = zip(ours.net_.module_.parameters(), stock.net_.module_.parameters(),
                strict=True)
    for a, b in pairs:
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert dict(ours.net_.callbacks_)["clip"]._parameters is None


def test_random_state_makes_fits_identical_with_early_stopping_and_ragged_data():
    X, y = make_sequences(n=40, ragged=True)
    params = dict(early_stopping=True, dropout=0.2, num_layers=2, **TINY)
    a = HiddenStateClassifier(**params).fit(X, y).predict_proba(X)
    b = HiddenStateClassifier(**params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_cosine_schedule_anneals_the_learning_rate_to_zero_at_max_epochs():
    X, y = make_sequences(n=20)
    clf = HiddenStateClassifier(
        lr=0.01, lr_schedule="cosine", **dict(TINY, max_epochs=4)
    )
    lrs = clf.fit(X, y).history_[:, "event_lr"]
    np.testing.assert_allclose(
        lrs, [0.01 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    )
    constant = HiddenStateClassifier(lr=0.01, **TINY).fit(X, y)
    assert "event_lr" not in constant.history_[-1]
    assert constant.net_.optimizer_.param_groups[0]["lr"] == 0.01
