"""Ensembles of networks (``n_networks``): independent members, averaged outputs."""

import numpy as np
import pytest
import torch

from conftest import make_sequences
from skhidden import (
    HiddenStateClassifier,
    HiddenStateRegressor,
    HiddenStateTransformer,
    _threads,
    _training,
)
from skhidden.nn.ensemble import NetworkEnsemble
from skhidden.nn.losses import HeadAveragedLoss
from skhidden.nn.network import HiddenStateNetwork

TINY = dict(
    hidden_size=6, max_epochs=2, random_state=0, device="cpu", frontend_window=4
)


@pytest.fixture(scope="module")
def ragged():
    return make_sequences(n=24, n_steps=40, ragged=True, seed=3)


def _members_and_ensemble(**params):
    torch.manual_seed(0)
    ensemble = NetworkEnsemble(3, n_features=2, n_outputs=3, hidden_size=5, **params)
    torch.manual_seed(0)
    alone = [HiddenStateNetwork(n_features=2, n_outputs=3, hidden_size=5, **params)
             for _ in range(3)]
    return ensemble, alone


def test_members_are_initialised_in_turn_and_their_views_stacked():
    ensemble, alone = _members_and_ensemble(
        aggregation="timesteps", timesteps=(0.5, 1.0)
    )
    for member, network in zip(ensemble.members, alone, strict=True):
        states = member.state_dict().values(), network.state_dict().values()
        for a, b in zip(*states, strict=True):
            torch.testing.assert_close(a, b)
    X, lengths = torch.randn(4, 9, 2), torch.tensor([9, 3, 1, 6])
    with torch.no_grad():
        out = ensemble.eval()(X, lengths)
        expected = torch.cat([network.eval()(X, lengths) for network in alone], dim=-2)
    assert out.shape == (4, 6, 3)
    torch.testing.assert_close(out, expected)
    first, second = (m.encoder.layers[0].weight_ih_l0 for m in ensemble.members[:2])
    assert not torch.equal(first, second)


def test_each_member_learns_from_its_own_loss_only():
    ensemble, _ = _members_and_ensemble(aggregation="mean")
    X, lengths = torch.randn(5, 7, 2), torch.tensor([7, 7, 4, 2, 1])
    y = torch.tensor([0, 1, 2, 1, 0])
    loss = HeadAveragedLoss(torch.nn.CrossEntropyLoss())
    loss(ensemble(X, lengths), y).backward()
    for member in ensemble.members:
        grads = [p.grad.clone() for p in member.parameters()]
        member.zero_grad()
        (loss(member(X, lengths), y) / 3).backward()
        for grad, p in zip(grads, member.parameters(), strict=True):
            torch.testing.assert_close(grad, p.grad)


def test_self_supervised_members_are_refused():
    with pytest.raises(ValueError, match="supervised objective"):
        NetworkEnsemble(2, n_features=2, objective="next_step")
    X = make_sequences(n=12, ragged=True)[0]
    with pytest.raises(ValueError, match="n_networks=2 needs labels"):
        HiddenStateTransformer(n_networks=2, **TINY).fit(X)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_ensemble_predictions_average_the_members(ragged, bidirectional):
    X, y = ragged
    clf = HiddenStateClassifier(
        n_networks=3, bidirectional=bidirectional, aggregation=("mean", "last"), **TINY
    ).fit(X, y)
    module = clf.net_.module_
    assert isinstance(module, NetworkEnsemble) and len(module.members) == 3
    padded = np.zeros((len(X), max(len(x) for x in X), 2), dtype=np.float32)
    for i, x in enumerate(X):
        padded[i, : len(x)] = x
    lengths = torch.tensor([len(x) for x in X])
    with torch.no_grad():
        probabilities = [torch.softmax(m.eval()(torch.from_numpy(padded), lengths), -1)
                         for m in module.members]
    expected = torch.cat(probabilities, dim=1).double().mean(dim=1).numpy()
    np.testing.assert_allclose(clf.predict_proba(X), expected, atol=1e-6)
    alone = np.concatenate([clf.predict_proba([x]) for x in X[:5]])
    np.testing.assert_allclose(alone, clf.predict_proba(X)[:5], atol=1e-6)


def test_ensemble_states_weights_and_stages_keep_their_meaning(ragged):
    X, y = ragged
    clf = HiddenStateClassifier(n_networks=2, aggregation="attention", **TINY).fit(X, y)
    states = clf.hidden_states(X)
    # Two networks of 6 units each way (the default reads both ways).
    assert [s.shape for s in states] == [((len(x) + 1) // 2, 2 * 2 * 6) for x in X]
    weights = clf.attention_weights(X)
    np.testing.assert_allclose([w.sum() for w in weights], 1.0, rtol=1e-5)
    staged = np.stack(list(clf.staged_predict_proba(X)))
    np.testing.assert_allclose(staged[-1], clf.predict_proba(X), atol=1e-6)


def test_ensemble_transformer_names_every_members_features(ragged):
    X, y = ragged
    tr = HiddenStateTransformer(n_networks=2, aggregation=("mean", "max"), **TINY)
    tr.fit(X, y)
    names = tr.get_feature_names_out()
    assert tr.transform(X).shape == (len(X), len(names)) == (len(X), 2 * 2 * 6)
    assert names[0] == "net0_mean_0" and names[-1] == "net1_max_5"


def test_ensemble_regressor_and_reproducibility(ragged):
    X, y = ragged
    target = y.astype(float)
    first = HiddenStateRegressor(n_networks=2, **TINY).fit(X, target)
    second = HiddenStateRegressor(n_networks=2, **TINY).fit(X, target)
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    single = HiddenStateRegressor(**TINY).fit(X, target)
    assert not np.allclose(first.predict(X), single.predict(X))


def _fitted_parameters(estimator, X, y):
    estimator.fit(X, y)
    return [p.detach().clone() for p in estimator.net_.module_.parameters()]


@pytest.mark.parametrize("estimator", [HiddenStateClassifier, HiddenStateRegressor])
def test_members_on_threads_train_exactly_as_in_turn(ragged, monkeypatch, estimator):
    X, y = ragged
    target = y if estimator is HiddenStateClassifier else y.astype(float)
    used = []
    original = _training.SequenceNet.train_step_single

    def spy(net, batch, **fit_params):
        used.append(net._member_pool is not None)
        return original(net, batch, **fit_params)

    monkeypatch.setattr(_training.SequenceNet, "train_step_single", spy)
    monkeypatch.setattr(_training, "granted_threads", lambda: 2)
    params = dict(TINY, n_networks=2, aggregation=("mean", "attention"))
    threaded = _fitted_parameters(estimator(**params), X, target)
    assert used and all(used)
    monkeypatch.setattr(_training, "granted_threads", lambda: 1)
    used.clear()
    in_turn = _fitted_parameters(estimator(**params), X, target)
    assert used and not any(used)
    for a, b in zip(threaded, in_turn, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_member_threads_run_torch_on_the_fits_thread_count(ragged, monkeypatch):
    # A new thread would otherwise run torch's OpenMP on its initial limit,
    # and a member's floats would depend on which worker ran it. The limits
    # are OpenMP's own in the running thread (threadpoolctl): torch's
    # get_num_threads reports the count it stored, not what a thread uses.
    X, y = ragged
    fit_limits, member_limits = set(), set()
    original = _training.SequenceNet.train_step_single

    def spy(net, batch, **fit_params):
        fit_limits.add(tuple(_threads._openmp_limits()))
        for member in net.module_.members:
            if not member._forward_pre_hooks:
                member.register_forward_pre_hook(
                    lambda *_: member_limits.add(tuple(_threads._openmp_limits()))
                )
        return original(net, batch, **fit_params)

    monkeypatch.setattr(_training.SequenceNet, "train_step_single", spy)
    monkeypatch.setattr(_training, "granted_threads", lambda: 2)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        HiddenStateClassifier(n_networks=2, **TINY).fit(X, y)
    finally:
        torch.set_num_threads(previous)
    assert len(fit_limits) == 1 and 1 in next(iter(fit_limits))  # one thread: tiny
    assert member_limits == fit_limits


def test_members_stay_on_one_thread_where_threads_cannot_help(monkeypatch):
    monkeypatch.setattr(_training, "granted_threads", lambda: 4)
    ensemble = NetworkEnsemble(3, n_features=2, n_outputs=3, hidden_size=5)
    with_dropout = NetworkEnsemble(
        2, n_features=2, n_outputs=3, num_layers=2, dropout=0.2
    )
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert _training._member_workers(ensemble, "cpu") == 3
        assert _training._member_workers(ensemble.members[0], "cpu") == 1
        assert _training._member_workers(ensemble, "cuda") == 1
        assert _training._member_workers(with_dropout, "cpu") == 1
        torch.set_num_threads(2)  # torch's own threads take the cores
        assert _training._member_workers(ensemble, "cpu") == 2
        monkeypatch.setattr(_training, "granted_threads", lambda: 1)
        assert _training._member_workers(ensemble, "cpu") == 1
    finally:
        torch.set_num_threads(previous)
