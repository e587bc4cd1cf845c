"""The numpy data layer: layouts, lengths, errors, and no changes to input."""

import numpy as np
import pytest

from skhidden.sequences import (
    amplitude_spread,
    check_sequences,
    check_timesteps,
    plan_batches,
    unpad,
)


def test_3d_array_is_kept_and_converted_to_float32():
    X = np.arange(24, dtype=np.float64).reshape(2, 4, 3)
    padded, lengths = check_sequences(X)
    assert padded.dtype == np.float32
    np.testing.assert_array_equal(padded, X)
    np.testing.assert_array_equal(lengths, [4, 4])


def test_2d_array_is_univariate():
    padded, lengths = check_sequences(np.ones((5, 7), dtype=np.int64))
    assert padded.shape == (5, 7, 1)
    np.testing.assert_array_equal(lengths, [7] * 5)


def test_ragged_list_is_padded_with_zeros():
    X = [np.ones((3, 2)), 2 * np.ones((5, 2))]
    padded, lengths = check_sequences(X)
    assert padded.shape == (2, 5, 2)
    np.testing.assert_array_equal(lengths, [3, 5])
    np.testing.assert_array_equal(padded[0, 3:], 0.0)
    np.testing.assert_array_equal(padded[1], 2.0)


def test_list_of_1d_arrays_is_univariate():
    padded, lengths = check_sequences([[1.0, 2.0], [3.0, 4.0, 5.0]])
    assert padded.shape == (2, 3, 1)
    np.testing.assert_array_equal(lengths, [2, 3])


def test_trailing_nan_rows_mark_shorter_sequences():
    X = np.ones((3, 5, 2))
    X[0, 3:] = np.nan
    X[2, 1:] = np.nan
    padded, lengths = check_sequences(X)
    np.testing.assert_array_equal(lengths, [3, 5, 1])
    assert not np.isnan(padded).any()


def test_nan_rows_trimmed_when_all_sequences_end_early():
    X = np.ones((2, 6, 1))
    X[:, 4:] = np.nan
    padded, lengths = check_sequences(X)
    assert padded.shape == (2, 4, 1)
    np.testing.assert_array_equal(lengths, [4, 4])


def test_input_is_never_modified():
    X = np.ones((2, 4, 1))
    X[0, 2:] = np.nan
    ragged = [np.ones((2, 1)), np.ones((3, 1))]
    before, ragged_before = X.copy(), [r.copy() for r in ragged]
    check_sequences(X)
    check_sequences(ragged)
    np.testing.assert_array_equal(X, before)
    for r, b in zip(ragged, ragged_before, strict=True):
        np.testing.assert_array_equal(r, b)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.ones(5), "Reshape your data"),
        (np.ones((2, 2, 2, 2)), "4 dimension"),
        (np.ones((0, 4, 2)), "empty"),
        ([], "empty"),
        (np.ones((3, 0)), "length 0"),
        (np.ones((3, 4, 0)), "0 features"),
        ([np.ones((2, 1)), np.ones((0, 1))], r"X\[1\] is a sequence of length 0"),
        ([np.ones((2, 1)), np.ones((2, 3))], "same number of features"),
        ([np.ones((2, 2, 2))], "3 dimensions"),
        (np.array([[1.0, np.inf]]), "infinite"),
        (np.array([[1.0, 2.0], [3.0, np.nan]]) * np.array([[1.0], [1.0]]), None),
        (np.array([[np.nan, 1.0]]), "NaN inside sequence 0 at step 0"),
        (np.array([[[1.0, np.nan], [1.0, 1.0]]]), "NaN inside sequence 0"),
        (np.array([[np.nan, np.nan]]), "length 0"),
        (np.array([[1e300, 1.0]]), "too large"),
        (np.ones((2, 3)) * 1j, "Complex data not supported"),
    ],
)
def test_bad_input_gets_a_clear_value_error(X, match):
    if match is None:  # trailing NaN in a 2-D array is valid padding
        _, lengths = check_sequences(X)
        np.testing.assert_array_equal(lengths, [2, 1])
        return
    with pytest.raises(ValueError, match=match):
        check_sequences(X)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([["a", "b"]]), "strings"),
        (
            np.array([[1.0, {"a": 1}]], dtype=object),
            "argument must be a string.* number",
        ),
        (None, "NoneType"),
        (3.0, "float"),
    ],
)
def test_non_numeric_input_gets_a_type_error(X, match):
    with pytest.raises(TypeError, match=match):
        check_sequences(X)


def test_check_timesteps_names_the_short_sequence():
    lengths = np.array([5, 2, 9])
    check_timesteps((0, 1, -2, 0.5, 1.0), lengths)
    with pytest.raises(ValueError, match="sequence 1 has only 2"):
        check_timesteps((2,), lengths)
    with pytest.raises(ValueError, match="step -3"):
        check_timesteps((-3,), lengths)


def test_unpad_returns_valid_parts():
    padded = np.arange(12.0).reshape(2, 3, 2)
    parts = unpad(padded, np.array([1, 3]))
    assert [p.shape for p in parts] == [(1, 2), (3, 2)]


def test_plan_batches_covers_every_sample_once_and_groups_lengths():
    lengths = np.random.default_rng(0).integers(1, 1000, size=103)
    batches = plan_batches(lengths, 10, shuffle=True, random_state=0)
    everything = np.sort(np.concatenate(batches))
    np.testing.assert_array_equal(everything, np.arange(103))
    assert max(len(b) for b in batches) == 10
    # Length-sorted batching: each batch spans a narrow range of lengths.
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < np.ptp(lengths) / 5


def test_plan_batches_shuffles_batch_order_between_draws():
    lengths = np.full(64, 10)
    rng = np.random.default_rng(0)
    first = plan_batches(lengths, 8, shuffle=True, random_state=rng)
    second = plan_batches(lengths, 8, shuffle=True, random_state=rng)
    assert not all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_amplitude_spread_is_one_for_standardised_sequences():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 50, 2))
    X = (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)
    padded, lengths = check_sequences(X)
    np.testing.assert_allclose(amplitude_spread(padded, lengths), [1.0, 1.0], rtol=1e-5)


def test_amplitude_spread_measures_loud_and_quiet_sequences_per_feature():
    rng = np.random.default_rng(0)
    loudness = np.where(np.arange(40) % 2 == 0, 1.0, 20.0)
    ragged = []
    for i in range(40):  # padding must not count
        x = rng.normal(size=(30 + i % 30, 2))
        ragged.append((x - x.mean(axis=0)) / x.std(axis=0) * [1.0, loudness[i]])
    padded, lengths = check_sequences(ragged)
    spread = amplitude_spread(padded, lengths)
    assert spread[0] == pytest.approx(1.0, rel=0.05)
    assert spread[1] == pytest.approx(20.0, rel=0.05)


def test_amplitude_spread_of_constant_sequences():
    padded, lengths = check_sequences(np.ones((10, 5, 1)))
    assert amplitude_spread(padded, lengths)[0] == 1.0
    X = np.ones((10, 5, 1))
    X[:5] += np.arange(5)[None, :, None]  # half the sequences vary, half are flat
    assert amplitude_spread(*check_sequences(X))[0] == np.inf
