"""Inference batching: ``inference_batch_size``, the step cap, the fast paths.

Every public output is compared across batch sizes (one sequence per batch,
an odd size, the default) and under a step cap small enough to split the
data into many batches: the batching may change floats by rounding only.
"""

import numpy as np
import pytest
import torch

import skhidden._inference as inference
from conftest import make_sequences
from skhidden import (
    HiddenStateAnomalyDetector,
    HiddenStateClassifier,
    HiddenStateRegressor,
    HiddenStateTransformer,
)
from skhidden._threads import step_work
from skhidden.sequences import check_sequences, plan_batches

TINY = dict(hidden_size=6, max_epochs=1, random_state=0, device="cpu")
ESTIMATORS = [
    HiddenStateClassifier,
    HiddenStateRegressor,
    HiddenStateTransformer,
    HiddenStateAnomalyDetector,
]


@pytest.fixture(scope="module")
def ragged():
    return make_sequences(n=30, n_steps=20, n_features=2, ragged=True, seed=4)


def _outputs(est, X):
    """Every public output of a fitted estimator, by name."""
    if isinstance(est, HiddenStateAnomalyDetector):
        return {
            "score_steps": est.score_steps(X),
            "score_samples": est.score_samples(X),
            "hidden_states": est.hidden_states(X),
        }
    out = {"hidden_states": est.hidden_states(X)}
    if isinstance(est, HiddenStateClassifier):
        out["predict_proba"] = est.predict_proba(X)
        out["predict"] = est.predict(X)
        out["staged_predict_proba"] = np.stack(list(est.staged_predict_proba(X)))
        out["attention_weights"] = est.attention_weights(X)
    elif isinstance(est, HiddenStateRegressor):
        out["predict"] = est.predict(X)
        out["staged_predict"] = np.stack(list(est.staged_predict(X)))
    else:
        out["transform"] = est.transform(X)
    return out


# The detector scores its own training sequences here: each state's distance
# to the nearest training state is about 0, a difference of float32 states
# whose convolutional front-end rounds by the batch's shape (about 1e-6).
# test_anomaly.py checks scores of new sequences across batches to 1e-5 too.
_ATOL = {"score_steps": 1e-5, "score_samples": 1e-5}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        left, right = a[name], b[name]
        if isinstance(left, list):
            assert [x.shape for x in left] == [x.shape for x in right], name
            left, right = np.concatenate(left), np.concatenate(right)
        if left.dtype.kind in "iub":
            np.testing.assert_array_equal(left, right, err_msg=name)
        else:
            atol = _ATOL.get(name, 1e-6)
            np.testing.assert_allclose(left, right, rtol=1e-5, atol=atol, err_msg=name)


@pytest.fixture(scope="module")
def fitted(ragged):
    X, y = ragged
    params = {
        HiddenStateClassifier: dict(aggregation=("attention", "max")),
        HiddenStateRegressor: dict(aggregation="timesteps", timesteps=[2, -1]),
        HiddenStateTransformer: dict(aggregation="mean"),
        HiddenStateAnomalyDetector: dict(segment_length=None),
    }
    targets = {HiddenStateRegressor: y.astype(float), HiddenStateAnomalyDetector: None}
    return {
        cls: cls(**TINY, **params[cls]).fit(X, targets.get(cls, y))
        for cls in ESTIMATORS
    }


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_outputs_do_not_depend_on_inference_batch_size(fitted, ragged, cls):
    est, X = fitted[cls], ragged[0]
    assert est.inference_batch_size == "auto"
    reference = _outputs(est, X)
    for size in (1, 7):
        est.set_params(inference_batch_size=size)
        try:
            _assert_same(_outputs(est, X), reference)
        finally:
            est.set_params(inference_batch_size="auto")


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_outputs_do_not_depend_on_the_step_cap(fitted, ragged, cls, monkeypatch):
    est, X = fitted[cls], ragged[0]
    reference = _outputs(est, X)
    # About three of the longest sequences per batch.
    width = inference.step_values(est.net_.module_)
    monkeypatch.setattr(inference, "MAX_BATCH_VALUES", 3 * 20 * width)
    assert est._inference_batching()[1] == 60
    _assert_same(_outputs(est, X), reference)


def test_a_long_sequence_is_read_alone_with_the_same_result(
    fitted, ragged, monkeypatch
):
    clf, X = fitted[HiddenStateClassifier], list(ragged[0])
    X[3] = np.concatenate([X[3]] * 10)  # 60 to 200 steps
    reference = clf.predict_proba(X)
    seen = []
    monkeypatch.setattr(
        inference, "MAX_BATCH_VALUES", 40 * inference.step_values(clf.net_.module_)
    )

    def record(module, Xb, lengths):
        seen.append(tuple(Xb.shape[:2]))
        return module(Xb, lengths)

    proba = torch.softmax(
        torch.from_numpy(clf._stream(X, record)).double(), dim=-1
    ).mean(dim=1)
    np.testing.assert_allclose(proba.numpy(), reference, rtol=1e-5, atol=1e-6)
    assert max(n * steps for n, steps in seen if n > 1) <= 40
    assert (1, len(X[3])) in seen


def test_batches_in_length_order_keep_each_result_with_its_sequence(fitted):
    # Sorted by length, [0, 2, 1, 3] spans indices 0..3 without being them in
    # order: a batch may only be a view of the input when it is.
    clf = fitted[HiddenStateClassifier]
    rng = np.random.default_rng(1)
    X = [rng.normal(size=(n, 2)).astype(np.float32) for n in (13, 17, 15, 17)]
    alone = np.concatenate([clf.predict_proba([x]) for x in X])
    np.testing.assert_allclose(clf.predict_proba(X), alone, rtol=1e-5, atol=1e-6)
    states = clf.hidden_states(X)
    for x, state in zip(X, states, strict=True):
        np.testing.assert_allclose(
            clf.hidden_states([x])[0], state, rtol=1e-5, atol=1e-6
        )


@pytest.mark.parametrize(
    "value, message",
    [
        (0, "range"),
        (-3, "range"),
        (2.5, "int"),
        ("big", "auto"),
        (None, "inference_batch_size"),
    ],
)
def test_bad_inference_batch_size_is_refused_before_any_work(
    fitted, ragged, value, message, monkeypatch
):
    clf, X = fitted[HiddenStateClassifier], ragged[0]
    calls = []
    monkeypatch.setattr(clf.net_.module_, "forward", lambda *a: calls.append(1))
    monkeypatch.setattr(inference, "check_sequences", lambda *a, **k: calls.append(2))
    clf.set_params(inference_batch_size=value)
    try:
        for method in (clf.predict, clf.hidden_states, clf.staged_predict_proba):
            with pytest.raises(ValueError, match="inference_batch_size") as error:
                method(X)
            assert message in str(error.value)
    finally:
        clf.set_params(inference_batch_size="auto")
    assert calls == []


def test_bad_inference_batch_size_is_refused_at_fit_before_training(ragged):
    X, y = ragged
    with pytest.raises(ValueError, match="inference_batch_size"):
        HiddenStateClassifier(inference_batch_size=0, **TINY).fit(X, y)
    with pytest.raises(ValueError, match="inference_batch_size"):
        HiddenStateAnomalyDetector(inference_batch_size="x", **TINY).fit(X)


def test_every_estimator_has_the_parameter():
    for cls in ESTIMATORS:
        est = cls(inference_batch_size=64)
        assert est.get_params()["inference_batch_size"] == 64
        assert "inference_batch_size : int or \"auto\", default=\"auto\"" in cls.__doc__


def test_an_ensembles_step_values_count_what_its_members_hold_at_once():
    from skhidden.nn.ensemble import NetworkEnsemble
    from skhidden.nn.network import HiddenStateNetwork

    shape = dict(n_features=2, n_outputs=3, hidden_size=64)
    one, two = HiddenStateNetwork(**shape), NetworkEnsemble(2, **shape)
    # Gate pre-activations (3 x 64) are the widest, one member at a time.
    assert inference.step_values(two) == inference.step_values(one) == 3 * 64 + 4
    deep = dict(shape, hidden_size=4, num_layers=3, layers="all")
    one, two = HiddenStateNetwork(**deep), NetworkEnsemble(2, **deep)
    # Every layer's states (3 x 4) with the input (2), for every member.
    assert inference.step_values(one) == 14 + 4
    assert inference.step_values(two) == 2 * 14 + 4


def test_the_default_batch_is_not_capped_for_the_common_case():
    # Two GRUs of 64 units each way (the default ensemble), one after the
    # other, over 150 steps (3 features, each beside its difference: 6 input
    # values) read in windows of 4 steps by the default front-end: the 256
    # sequences "auto" means fit under the step cap.
    X, y = make_sequences(n=8, n_steps=150, n_features=3)
    params = {**TINY, "hidden_size": 64}
    clf = HiddenStateClassifier(scaling="none", aggregation="last", **params).fit(
        X, y
    )
    assert inference.step_values(clf.net_.module_) == -(-2 * 3 * 64 // 4) + 2 * 6
    size, max_steps = clf._inference_batching()
    assert size == inference.auto_batch_size(clf.net_.module_) == 256
    assert max_steps >= 256 * 150


@pytest.mark.parametrize(
    "hidden_size, bidirectional, expected",
    [(16, False, 1024), (32, False, 512), (64, True, 256), (64, False, 256),
     (100, False, 128), (128, True, 128),
     (1, False, 4096), (2048, False, 16)],
)
def test_auto_batches_hold_about_the_same_state_values(
    hidden_size, bidirectional, expected
):
    from skhidden.nn import HiddenStateNetwork

    network = HiddenStateNetwork(
        2, 2, hidden_size=hidden_size, bidirectional=bidirectional
    )
    assert inference.auto_batch_size(network) == expected


def test_auto_batches_of_a_small_model_are_larger(sequences):
    X, y = sequences
    clf = HiddenStateClassifier(**{**TINY, "hidden_size": 16}).fit(X, y)
    assert clf._inference_batching()[0] == 1024  # 16 units, each way in turn
    clf.set_params(inference_batch_size=7)
    assert clf._inference_batching()[0] == 7


def test_inference_threads_follow_the_inference_batch(fitted, ragged, monkeypatch):
    clf, X = fitted[HiddenStateClassifier], ragged[0]
    sizes = []
    real = inference.torch_threads

    def record(estimator=None, batch_size=None):
        sizes.append(batch_size)
        return real(estimator, batch_size)

    monkeypatch.setattr(inference, "torch_threads", record)
    clf.set_params(inference_batch_size=7)
    try:
        clf.predict(X)
    finally:
        clf.set_params(inference_batch_size="auto")
    assert sizes == [7]
    clf.predict(X)
    assert sizes == [7, len(X)]
    assert step_work(clf, batch_size=256) == 256 * 3 * 6**2 * 2  # both ways


# --------------------------------------------------------------- batch plans
@pytest.mark.parametrize("seed", range(3))
def test_plan_batches_bounds_sequences_and_padded_steps(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 300, size=200)
    lengths[:3] = 1000  # longer than the cap: alone
    batches = plan_batches(lengths, 16, max_steps=900)
    covered = np.concatenate(batches)
    assert sorted(covered.tolist()) == list(range(200))
    assert np.all(np.diff(lengths[covered]) >= 0)  # sorted by length
    for batch in batches:
        assert len(batch) <= 16
        assert len(batch) == 1 or len(batch) * lengths[batch].max() <= 900
    assert [len(b) for b in batches if lengths[b].max() == 1000] == [1, 1, 1]
    # Greedy: a batch stops only when the next sequence would not fit.
    for batch, following in zip(batches, batches[1:], strict=False):
        grown = len(batch) + 1
        assert grown > 16 or grown * lengths[following[0]] > 900


def test_plan_batches_never_builds_a_huge_batch_of_long_sequences():
    lengths = np.full(256, 100_000)
    batches = plan_batches(lengths, 256, max_steps=2**23 // 195)
    assert [len(b) for b in batches] == [1] * 256
    assert plan_batches(np.full(10, 5), 4, max_steps=10**9)[0].tolist() == [0, 1, 2, 3]


def test_plan_batches_without_a_cap_is_unchanged():
    lengths = np.array([5, 1, 3, 2, 4])
    assert [b.tolist() for b in plan_batches(lengths, 2)] == [[1, 3], [2, 4], [0]]
    shuffled = plan_batches(lengths, 2, shuffle=True, random_state=0)
    capped = plan_batches(lengths, 2, shuffle=True, random_state=0, max_steps=10**6)
    assert [b.tolist() for b in shuffled] == [b.tolist() for b in capped]


# ------------------------------------------------------------ input fast path
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(4, 6, 2), (4, 6)])
def test_finite_float_input_reads_as_before(dtype, shape):
    X = np.random.default_rng(0).normal(size=shape).astype(dtype)
    original = X.copy()
    padded, lengths = check_sequences(X)
    # The general path (a list of arrays) is the reference.
    reference, reference_lengths = check_sequences(list(X))
    np.testing.assert_array_equal(padded, reference)
    np.testing.assert_array_equal(lengths, reference_lengths)
    assert padded.dtype == np.float32 and padded.flags.c_contiguous
    assert not np.shares_memory(padded, X)
    np.testing.assert_array_equal(X, original)


def test_float_input_that_the_fast_path_cannot_take_is_still_checked():
    X = np.zeros((3, 5, 1))
    X[1, 3:] = np.nan
    assert check_sequences(X)[1].tolist() == [5, 3, 5]
    X[2, 1, 0] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        check_sequences(X)
    with pytest.raises(ValueError, match="too large for float32"):
        check_sequences(np.full((2, 3, 1), 1e300))


@pytest.mark.parametrize(
    "params",
    [
        dict(frontend="resnet", aggregation=("mean", "max")),
        dict(frontend="none", aggregation="attention", n_networks=2),
        dict(frontend="conv", aggregation="last", scaling="feature_running"),
    ],
)
def test_a_sequence_too_long_for_one_batch_is_read_in_chunks(monkeypatch, params):
    import skhidden._inference
    from skhidden import HiddenStateTransformer

    rng = np.random.default_rng(0)
    X = [rng.normal(size=(n, 2)).astype(np.float32) for n in (700, 40, 333, 9)]
    y = np.array([0, 1, 0, 1])
    # Causal: a model reading both ways reads a sequence whole.
    tiny = dict(hidden_size=6, max_epochs=2, random_state=0, frontend_window=4,
                bidirectional=False)
    clf = HiddenStateClassifier(**tiny, **params).fit(X, y)
    features = HiddenStateTransformer(**tiny, **params).fit(X, y)
    whole = clf.predict_proba(X), features.transform(X)
    read = []
    original = skhidden._inference.final_outputs

    def spy(module, Xb, chunk, heads=True):
        read.append((Xb.shape[1], chunk))
        return original(module, Xb, chunk, heads=heads)

    monkeypatch.setattr(skhidden._inference, "final_outputs", spy)
    # Now a batch holds about 100 steps: the sequences of 700 and 333 are streamed.
    values = skhidden._inference.step_values(clf.net_.module_)
    monkeypatch.setattr(skhidden._inference, "MAX_BATCH_VALUES", 100 * values)
    chunked = clf.predict_proba(X), features.transform(X)
    assert sorted(n for n, _ in read) == [333, 333, 700, 700]
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)


def test_a_long_sequence_of_a_bidirectional_model_is_read_whole(monkeypatch):
    import skhidden._inference

    rng = np.random.default_rng(0)
    X = [rng.normal(size=(n, 1)).astype(np.float32) for n in (300, 20)]
    clf = HiddenStateClassifier(
        hidden_size=4, max_epochs=1, random_state=0, bidirectional=True
    ).fit(X, [0, 1])
    expected = clf.predict_proba(X)
    values = skhidden._inference.step_values(clf.net_.module_)
    monkeypatch.setattr(skhidden._inference, "MAX_BATCH_VALUES", 50 * values)
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-5, atol=1e-6)


def test_each_sequence_gets_its_own_per_step_rows():
    # The per-step results are gathered in one buffer; writing into one
    # sequence's array must leave every other sequence's as it was.
    X = [np.random.default_rng(i).normal(size=(n, 2)).astype(np.float32)
         for i, n in enumerate((5, 9, 9, 3))]
    y = [0, 1, 0, 1]
    clf = HiddenStateClassifier(hidden_size=4, max_epochs=1, frontend="none",
                                random_state=0, device="cpu").fit(X, y)
    states = clf.hidden_states(X)
    assert [len(s) for s in states] == [5, 9, 9, 3]
    before = [s.copy() for s in states]
    states[1][:] = np.nan
    for i in (0, 2, 3):
        np.testing.assert_array_equal(states[i], before[i])
    alone = [clf.hidden_states([x])[0] for x in X]
    for i in (0, 2, 3):
        np.testing.assert_allclose(states[i], alone[i], rtol=1e-5, atol=1e-6)


def test_step_rows_keep_each_row_of_a_time_major_batch():
    # A batch-first GRU's states lie time-major in memory; the whole-batch
    # copy must put every sequence's steps in order all the same.
    values = np.arange(3 * 2 * 4, dtype=np.float32).reshape(3, 2, 4).transpose(1, 0, 2)
    assert not values.flags.c_contiguous
    step_rows = inference._StepRows(np.array([3, 3]))
    step_rows.collect(np.array([0, 1]), values, np.array([3, 3]))
    rows = step_rows.rows()
    for i in range(2):
        np.testing.assert_array_equal(rows[i], values[i])


@pytest.mark.parametrize("bidirectional", [False, True])
def test_equal_length_states_of_a_batch_are_each_sequence_alone(bidirectional):
    X = np.random.default_rng(0).normal(size=(6, 7, 2)).astype(np.float32)
    clf = HiddenStateClassifier(hidden_size=4, max_epochs=1, frontend="none",
                                bidirectional=bidirectional, random_state=0,
                                device="cpu").fit(X, [0, 1] * 3)
    states = clf.hidden_states(X)
    for x, s in zip(X, states, strict=True):
        np.testing.assert_allclose(s, clf.hidden_states(x[None])[0],
                                   rtol=1e-5, atol=1e-6)
