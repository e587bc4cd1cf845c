"""Input scaling inside the network."""

import numpy as np
import pytest
import torch

from conftest import make_sequences
from skhidden import HiddenStateClassifier, SequenceScaler
from skhidden.nn import HiddenStateNetwork
from skhidden.nn.scaling import SCALINGS, InputScaling


def test_feature_scaling_uses_the_given_statistics_and_zeroes_padding():
    scaling = InputScaling(2, "feature", mean=[1.0, -2.0], scale=[2.0, 4.0])
    X = torch.tensor([[[3.0, 2.0], [1.0, -2.0], [7.0, 7.0]]])
    out = scaling(X, torch.tensor([2]))
    torch.testing.assert_close(out[0, :2], torch.tensor([[1.0, 1.0], [0.0, 0.0]]))
    assert (out[0, 2] == 0).all()


def test_sequence_scaling_standardises_each_sequence_over_its_valid_steps():
    X = torch.zeros(2, 5, 1)
    X[0, :, 0] = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    X[1, :3, 0] = torch.tensor([100.0, 300.0, 500.0])
    X[1, 3:, 0] = 1e6  # garbage after the end
    out = InputScaling(1, "sequence")(X, torch.tensor([5, 3]))
    for i, length in enumerate([5, 3]):
        valid = out[i, :length, 0]
        assert valid.mean().abs() < 1e-6
        torch.testing.assert_close(valid.pow(2).mean(), torch.tensor(1.0))
    assert (out[1, 3:] == 0).all()
    constant = InputScaling(1, "sequence")(
        torch.full((1, 4, 1), 3.0), torch.tensor([4])
    )
    assert (constant == 0).all()


def test_sequence_level_scaling_adds_each_sequence_level_and_spread():
    X = torch.zeros(2, 4, 1)
    X[0, :, 0] = torch.tensor([1.0, 3.0, 1.0, 3.0])  # mean 2, std 1
    X[1, :2, 0] = torch.tensor([10.0, 30.0])  # mean 20, std 10
    X[1, 2:, 0] = 1e6  # garbage after the end
    scaling = InputScaling(1, "sequence_level", mean=[2.0], scale=[10.0])
    out = scaling(X, torch.tensor([4, 2]))
    assert scaling.output_size == 3 and out.shape == (2, 4, 3)
    torch.testing.assert_close(out[0, :, 0], torch.tensor([-1.0, 1.0, -1.0, 1.0]))
    torch.testing.assert_close(out[1, :2, 0], torch.tensor([-1.0, 1.0]))
    # level (mean - 2) / 10 and log(std / 10), constant over valid steps
    torch.testing.assert_close(out[0, :, 1], torch.zeros(4))
    torch.testing.assert_close(out[1, :2, 1], torch.full((2,), 1.8))
    torch.testing.assert_close(
        out[0, :, 2], torch.full((4,), float(np.log(0.1))), atol=1e-4, rtol=0
    )
    torch.testing.assert_close(out[1, :2, 2], torch.zeros(2), atol=1e-4, rtol=0)
    assert (out[1, 2:] == 0).all()


def test_feature_sequence_scaling_puts_both_views_side_by_side():
    X = torch.zeros(2, 4, 1)
    X[0, :, 0] = torch.tensor([1.0, 3.0, 1.0, 3.0])
    X[1, :2, 0] = torch.tensor([10.0, 30.0])
    X[1, 2:, 0] = 1e6  # garbage after the end
    lengths = torch.tensor([4, 2])
    kwargs = dict(mean=[2.0], scale=[10.0])
    scaling = InputScaling(1, "feature_sequence", **kwargs)
    out = scaling(X, lengths)
    assert scaling.output_size == 2 and out.shape == (2, 4, 2)
    torch.testing.assert_close(
        out[..., :1], InputScaling(1, "feature", **kwargs)(X, lengths)
    )
    torch.testing.assert_close(out[..., 1:], InputScaling(1, "sequence")(X, lengths))
    torch.testing.assert_close(out[1, :2, 0], torch.tensor([0.8, 2.8]))
    assert (out[1, 2:] == 0).all()


def test_feature_running_scaling_standardises_each_step_by_the_steps_so_far():
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.normal(size=(2, 12, 2)).astype(np.float32) * 5 + 40)
    X[1, 7:] = 1e6  # garbage after the end
    lengths = torch.tensor([12, 7])
    scaling = InputScaling(2, "feature_running", mean=[40.0, 38.0], scale=[5.0, 4.0])
    out = scaling(X, lengths)
    assert scaling.output_size == 4 and out.shape == (2, 12, 4)
    feature = InputScaling(
        2, "feature", mean=[40.0, 38.0], scale=[5.0, 4.0]
    )(X, lengths)
    torch.testing.assert_close(out[..., :2], feature)
    for i, length in enumerate(lengths.tolist()):
        x = X[i, :length].double().numpy()
        for t in range(length):
            seen = x[: t + 1]
            expected = (x[t] - seen.mean(0)) / seen.std(0) if t else np.zeros(2)
            np.testing.assert_allclose(
                out[i, t, 2:].numpy(), expected, rtol=1e-4, atol=1e-5
            )
    assert (out[1, 7:] == 0).all()
    # Causal: changing later steps leaves earlier ones as they were.
    changed = X.clone()
    changed[0, 6:] = -3.0
    torch.testing.assert_close(scaling(changed, lengths)[0, :6], out[0, :6])
    constant = scaling(torch.full((1, 5, 2), 7.0), torch.tensor([5]))
    assert (constant[..., 2:] == 0).all()


@pytest.mark.parametrize("mode", ["none", "feature", "feature_running"])
def test_differences_are_read_beside_each_step(mode):
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.normal(size=(2, 10, 2)).astype(np.float32) * 5 + 40)
    X[1, 6:] = 1e6  # garbage after the end
    lengths = torch.tensor([10, 6])
    mean, scale = [40.0, 38.0, 0.0, 0.5], [5.0, 4.0, 7.0, 6.0]
    scaling = InputScaling(2, mode, mean=mean, scale=scale, differences=True)
    out = scaling(X, lengths)
    width = 8 if mode == "feature_running" else 4
    assert scaling.output_size == out.shape[2] == width
    steps = torch.zeros(2, 10, 4)
    for i, length in enumerate(lengths.tolist()):
        steps[i, :length, :2] = X[i, :length]
        steps[i, 1:length, 2:] = X[i, 1:length] - X[i, : length - 1]
    plain = InputScaling(4, mode, mean=mean, scale=scale)
    torch.testing.assert_close(out, plain(steps, lengths))
    assert (out[1, 6:] == 0).all()
    # Causal, so a series read in chunks is scaled as it is whole.
    chunks, carry = [], None
    for start in range(0, 10, 3):
        chunk, carry = scaling.running(X[:1, start : start + 3], carry)
        chunks.append(chunk)
    torch.testing.assert_close(torch.cat(chunks, dim=1), out[:1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "scaling",
    ["feature", "sequence", "sequence_level", "feature_sequence", "feature_running"],
)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("differences", [False, True])
def test_scaled_network_is_padding_invariant(scaling, bidirectional, differences):
    torch.manual_seed(0)
    n = 2 if differences else 1  # statistics of the steps, then of the differences
    network = HiddenStateNetwork(
        2, 3, bidirectional=bidirectional, scaling=scaling, aggregation="attention",
        input_mean=[5.0, -1.0] * n, input_scale=[3.0, 0.5] * n,
        differences=differences,
    ).eval()
    lengths = torch.tensor([9, 4, 1])
    X = torch.randn(3, 9, 2) * 10
    with torch.no_grad():
        batched = network(X, lengths)
        for i, length in enumerate(lengths.tolist()):
            alone = network(X[i : i + 1, :length], lengths[i : i + 1])
            torch.testing.assert_close(alone, batched[i : i + 1], atol=1e-5, rtol=1e-4)


def test_feature_statistics_match_the_sequence_scaler():
    X, y = make_sequences(n=30, ragged=True)
    X = [x * 50 + 7 for x in X]
    clf = HiddenStateClassifier(
        hidden_size=4, max_epochs=1, differences=False, device="cpu"
    ).fit(X, y)
    scaler = SequenceScaler().fit(X)
    scaling = clf.net_.module_.scaling
    np.testing.assert_allclose(scaling.mean.numpy(), scaler.mean_, rtol=1e-5)
    np.testing.assert_allclose(scaling.scale.numpy(), scaler.scale_, rtol=1e-5)


def test_difference_statistics_are_those_of_the_training_differences():
    X, y = make_sequences(n=30, ragged=True)
    X = [x * 50 + 7 for x in X]
    clf = HiddenStateClassifier(
        hidden_size=4, max_epochs=1, device="cpu", differences=True, scaling="feature"
    ).fit(X, y)
    steps = [np.c_[x, np.diff(x, axis=0, prepend=x[:1])] for x in X]
    scaler = SequenceScaler().fit(steps)
    scaling = clf.net_.module_.scaling
    np.testing.assert_allclose(scaling.mean.numpy(), scaler.mean_, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(scaling.scale.numpy(), scaler.scale_, rtol=1e-4)
    assert clf.n_features_in_ == X[0].shape[1]


@pytest.mark.parametrize("scaling", ["feature", "sequence"])
def test_scaled_models_ignore_the_input_units(scaling):
    X, y = make_sequences(n=30)
    params = dict(
        hidden_size=6, max_epochs=3, random_state=0, device="cpu", scaling=scaling
    )
    small = HiddenStateClassifier(**params).fit(X, y).predict_proba(X)
    large = (
        HiddenStateClassifier(**params)
        .fit(X * 1000.0 + 5.0, y)
        .predict_proba(X * 1000.0 + 5.0)
    )
    np.testing.assert_allclose(small, large, atol=1e-4)


@pytest.mark.parametrize("mode", SCALINGS)
def test_values_near_float32s_limit_of_opposite_signs_scale_to_finite_values(mode):
    # X - mean overflows float32 here (found by tests/test_hostile_input.py).
    X = torch.tensor(
        [[-3.4e38, 1.13e38, 1.13e38, 1.13e38], [1.13e38, 1.13e38, 1.0, 1.0]]
    )
    X = X.unsqueeze(-1)
    lengths = torch.tensor([4, 2])
    scaling = InputScaling(1, mode, mean=[4.5e37], scale=[1.5e38])
    out = scaling(X, lengths)
    assert torch.isfinite(out).all()
    if mode == "feature":
        expected = (
            (X.double() - 4.5e37)
            / 1.5e38
            * torch.tensor([[1.0] * 4, [1, 1, 0, 0]]).unsqueeze(-1)
        )
        torch.testing.assert_close(out, expected.float())
