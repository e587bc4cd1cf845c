"""Sequence input: validation, ragged -> padded + lengths, batch planning.

This module is the data layer of skhidden and depends on numpy alone (no torch,
no scikit-learn), so the same rules hold wherever sequences enter the package.

Accepted layouts (``n`` sequences, ``T`` steps, ``d`` features per step):

- a 3-D array ``(n, T, d)``; sequences may end in rows of NaN (tslearn style),
  which mark them as shorter than ``T``;
- a 2-D array ``(n, T)``: ``n`` univariate sequences (trailing NaN allowed too);
- a list (or tuple, or 1-D object array) of arrays ``(T_i, d)`` or 1-D
  arrays ``(T_i,)``.

Values must be real numbers: strings, dates, complex numbers, ``None`` and
masked arrays are refused rather than converted.

Everything is converted once to a new float32 array ``(n, T_max, d)`` padded
with zeros, plus an int64 array of lengths. The caller's data is never changed.
"""

import numbers

import numpy as np

__all__ = [
    "amplitude_spread",
    "check_differences",
    "check_sequences",
    "check_steps",
    "check_timesteps",
    "feature_statistics",
    "iter_chunks",
    "unpad",
    "plan_batches",
    "resample",
]


def _as_numeric_array(values, name):
    """Convert ``values`` to a new float64 numpy array with a clear error."""
    if isinstance(values, np.ma.MaskedArray):
        # np.asarray would silently drop the mask and read the hidden values.
        raise TypeError(
            f"{name} is a masked array; fill the masked values first, e.g. "
            "with X.filled(np.nan) where they are padding at sequence ends."
        )
    try:
        array = np.asarray(values)
    except ValueError as exc:
        raise ValueError(
            f"{name} could not be read as an array: {exc}. Pass a numeric array, "
            "or a list of arrays of shape (n_timesteps_i, n_features) for "
            "sequences of different lengths."
        ) from exc
    except (TypeError, RuntimeError) as exc:
        raise TypeError(f"{name} could not be converted to an array: {exc}") from exc
    if array.dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: {name} holds complex numbers; pass "
            "real-valued sequences."
        )
    if array.dtype.kind in "USV":
        raise TypeError(
            f"{name} holds strings or bytes (dtype {array.dtype}); pass numbers."
        )
    if array.dtype.kind in "mM":
        raise TypeError(
            f"{name} holds dates or durations (dtype {array.dtype}); pass numbers."
        )
    if array.dtype.kind == "O":
        _refuse_lookalike_objects(array, name)
    try:
        return array.astype(np.float64)
    except TypeError as exc:
        raise TypeError(
            f"{name} must hold numbers only: {exc}. Convert it to a numeric array."
        ) from exc
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"{name} could not be read as numbers: {exc}.") from exc


def _refuse_lookalike_objects(array, name):
    """Refuse strings, None and nested sequences inside an object array.

    numpy would turn ``"1.5"`` into 1.5 and ``None`` into NaN (padding), which
    would silently change what the caller meant. Other non-numbers fail in
    the conversion itself.
    """
    for value in array.flat:
        if value is None or isinstance(value, (str, bytes, np.ndarray, list, tuple)):
            raise TypeError(
                f"{name} holds a value of type {type(value).__name__} "
                f"({str(value)[:40]!r}); every value must be a real number."
            )


def _is_array_of_sequences(X):
    """Whether ``X`` is a 1-D object array whose elements are sequences."""
    return (
        isinstance(X, np.ndarray)
        and X.dtype.kind == "O"
        and X.ndim == 1
        and X.size > 0
        and all(isinstance(x, (np.ndarray, list, tuple)) for x in X)
    )


def _lengths_from_trailing_nan(array, name):
    """Lengths of sequences in a padded ``(n, T, d)`` array that end in NaN rows."""
    nan = np.isnan(array)
    if not nan.any():
        return np.full(array.shape[0], array.shape[1], dtype=np.int64)
    all_nan_row = nan.all(axis=2)
    # A sequence's length is one past its last row that is not all NaN.
    valid_row = ~all_nan_row
    has_valid = valid_row.any(axis=1)
    last_valid = array.shape[1] - 1 - np.argmax(valid_row[:, ::-1], axis=1)
    lengths = np.where(has_valid, last_valid + 1, 0).astype(np.int64)
    inside = np.arange(array.shape[1])[None, :] < lengths[:, None]
    bad = nan.any(axis=2) & inside
    if bad.any():
        i, t = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} has NaN inside sequence {i} at step {t}. NaN is only allowed "
            "as whole rows of padding at the end of a sequence; fill or drop "
            "missing values first."
        )
    return lengths


def _pad_ragged(sequences, name):
    """Validate a list of arrays and pad them with NaN into one 3-D array."""
    arrays = []
    n_features = None
    for i, seq in enumerate(sequences):
        arr = _as_numeric_array(seq, f"{name}[{i}]")
        if arr.ndim == 1:
            arr = arr[:, None]
        elif arr.ndim != 2:
            raise ValueError(
                f"{name}[{i}] has {arr.ndim} dimensions; each sequence must be "
                "1-D (n_timesteps,) or 2-D (n_timesteps, n_features)."
            )
        if len(arr) == 0:
            raise ValueError(
                f"{name}[{i}] is a sequence of length 0; every sequence needs at "
                "least one step."
            )
        if n_features is None:
            n_features = arr.shape[1]
        elif arr.shape[1] != n_features:
            raise ValueError(
                f"{name}[{i}] has {arr.shape[1]} features but {name}[0] has "
                f"{n_features}; every sequence must have the same number of features."
            )
        arrays.append(arr)
    # Pad with NaN so that the array path below finds every sequence's end,
    # including NaN rows the caller left at the end of a list element.
    padded = np.full((len(arrays), max(map(len, arrays)), n_features), np.nan)
    for i, arr in enumerate(arrays):
        padded[i, : len(arr)] = arr
    return padded


def _finite_as(array, dtype):
    """``array`` as a new ``dtype`` array if all its values are finite there, else None.

    None sends the array down the general path, which finds padding and
    refuses infinite or too large values with their own messages.
    """
    if not np.isfinite(array).all():
        return None
    with np.errstate(over="ignore"):
        converted = array.astype(dtype)
    narrower = converted.dtype.itemsize < array.dtype.itemsize
    if narrower and not np.isfinite(converted).all():
        return None
    return converted


def check_sequences(X, *, name="X", dtype=np.float32):
    """Validate sequences and convert them to a padded float32 array and lengths.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_timesteps, n_features) or \
            (n_samples, n_timesteps), or list of array-like
        The sequences. A list (or 1-D object array) holds one array
        ``(n_timesteps_i, n_features)`` or ``(n_timesteps_i,)`` per sequence.
        Arrays may mark the end of a shorter sequence with rows of NaN.
    name : str, default="X"
        Name used in error messages.
    dtype : numpy dtype, default=np.float32
        Floating dtype of the returned array.

    Returns
    -------
    padded : ndarray of shape (n_samples, max_length, n_features)
        A new array: each sequence followed by zeros up to the longest length.
    lengths : ndarray of shape (n_samples,), int64
        The number of valid steps of each sequence, all at least 1.

    Raises
    ------
    ValueError
        On a wrong number of dimensions, an empty dataset, a sequence of length
        zero, zero features, NaN inside a sequence, infinite values, or
        sequences with different numbers of features.
    TypeError
        On values that are not real numbers (strings, dates, ``None``, other
        objects) or a masked array.
    """
    plain_float = False
    if _is_array_of_sequences(X):
        X = list(X)
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(f"{name} is empty: pass at least one sequence.")
        padded = _pad_ragged(X, name)
    else:
        if X is None or isinstance(X, (str, bytes, numbers.Number)):
            raise TypeError(
                f"{name} must be an array of sequences, got {type(X).__name__}."
            )
        if hasattr(X, "tocsr") or hasattr(X, "toarray"):
            raise TypeError(
                f"{name} is a sparse matrix; sequences must be passed as a dense "
                "array or a list of arrays."
            )
        # A plain float array is read without its float64 copy: when every
        # value is finite (no padding to find), one pass checks it all.
        plain_float = type(X) is np.ndarray and X.dtype in (np.float32, np.float64)
        padded = X if plain_float else _as_numeric_array(X, name)
        if padded.ndim == 2:
            padded = padded[:, :, None]
        elif padded.ndim != 3:
            raise ValueError(
                f"{name} has {padded.ndim} dimension(s); expected a 3-D array "
                "(n_samples, n_timesteps, n_features), a 2-D array "
                "(n_samples, n_timesteps) of univariate sequences, or a list of "
                "arrays. Reshape your data: wrap a single sequence as X[None] or [X]."
            )
        if padded.shape[0] == 0:
            raise ValueError(f"{name} is empty: it has 0 sequences.")
        if padded.shape[1] == 0:
            raise ValueError(
                f"{name} has sequences of length 0: 0 feature(s) "
                f"(shape={np.shape(X)}) while a minimum of 1 is required. Every "
                "sequence needs at least one step."
            )

    if padded.shape[2] == 0:
        raise ValueError(f"{name} has 0 features per step; need at least one.")
    if plain_float:
        converted = _finite_as(padded, dtype)
        if converted is not None:
            return converted, np.full(len(padded), padded.shape[1], dtype=np.int64)
        padded = padded.astype(np.float64)
    if np.isinf(padded).any():
        i = np.argwhere(np.isinf(padded))[0][0]
        raise ValueError(
            f"{name} contains infinite values (first in sequence {i}); remove or "
            "clip them before fitting."
        )
    lengths = _lengths_from_trailing_nan(padded, name)
    if (lengths == 0).any():
        i = int(np.flatnonzero(lengths == 0)[0])
        raise ValueError(
            f"{name}[{i}] is a sequence of length 0; every sequence needs at least "
            "one step."
        )
    padded = padded[:, : lengths.max()]
    # Padding becomes zeros so that no NaN can reach a computation.
    valid = np.arange(padded.shape[1])[None, :, None] < lengths[:, None, None]
    padded = np.where(valid, padded, 0.0)
    with np.errstate(over="ignore"):
        converted = padded.astype(dtype)
    if np.isinf(converted).any():
        raise ValueError(
            f"{name} has values too large for {np.dtype(dtype).name}; rescale it."
        )
    return converted, lengths


def check_differences(padded, *, name="X", first_step=0):
    """Refuse sequences whose step-to-step differences overflow their dtype.

    A model that reads each step beside its first difference
    (``differences=True``) would read such a difference as infinite.

    Parameters
    ----------
    padded : ndarray of shape (n_samples, max_length, n_features)
        Padded sequences as ``check_sequences`` returns them (zero padding,
        which differs from a valid step by no more than that step's value).
    name : str, default="X"
        Name used in error messages.
    first_step : int, default=0
        The number of ``padded``'s first step in the message (a stream counts
        from the series' start).

    Raises
    ------
    ValueError
        If a difference between consecutive steps is too large for
        ``padded``'s dtype.
    """
    with np.errstate(over="ignore"):
        overflow = np.isinf(np.diff(padded, axis=1))
    if overflow.any():
        i, t, _ = np.argwhere(overflow)[0]
        t += first_step
        dtype = padded.dtype.name
        raise ValueError(
            f"{name}[{i}] overflows {dtype} in its first differences "
            f"(differences=True): it changes by more than {dtype} can hold "
            f"between steps {t} and {t + 1}; rescale it, or set "
            "differences=False."
        )


def check_steps(steps, *, name="chunk", dtype=np.float32):
    """Validate the next steps of one series and convert them to a new array.

    Parameters
    ----------
    steps : array-like of shape (n_steps, n_features) or (n_steps,)
        Consecutive steps of one series; 1-D for a single feature. May be
        empty (no steps).
    name : str, default="chunk"
        Name used in error messages.
    dtype : numpy dtype, default=np.float32
        Floating dtype of the returned array.

    Returns
    -------
    steps : ndarray of shape (n_steps, n_features)
        A new array.

    Raises
    ------
    ValueError
        On a wrong number of dimensions, zero features, NaN or infinite
        values (a series read in parts has no padding), or values too large
        for ``dtype``.
    TypeError
        On values that are not real numbers, or a masked array.
    """
    if steps is None or isinstance(steps, (str, bytes, numbers.Number)):
        raise TypeError(
            f"{name} must be an array of steps (n_steps, n_features), got "
            f"{type(steps).__name__}."
        )
    array = _as_numeric_array(steps, name)
    if array.ndim == 1:
        array = array[:, None]
    elif array.ndim != 2:
        raise ValueError(
            f"{name} has {array.ndim} dimension(s); the next steps of one series "
            "are a 2-D array (n_steps, n_features), or 1-D (n_steps,) for one "
            "feature."
        )
    if array.shape[1] == 0:
        raise ValueError(f"{name} has 0 features per step; need at least one.")
    bad = ~np.isfinite(array)
    if bad.any():
        t = int(np.argwhere(bad)[0][0])
        what = "NaN" if np.isnan(array[t]).any() else "an infinite value"
        raise ValueError(
            f"{name} has {what} at step {t}. The steps of a series read in parts "
            "must all be finite (there is no padding to mark); fill or drop "
            "missing values first."
        )
    with np.errstate(over="ignore"):
        converted = array.astype(dtype)
    if np.isinf(converted).any():
        raise ValueError(
            f"{name} has values too large for {np.dtype(dtype).name}; rescale it."
        )
    return converted


def iter_chunks(X, max_values=2**22, read_length=None):
    """Split sequences into consecutive parts small enough to convert at once.

    Used to stream inference over inputs of any size: each part is passed to
    :func:`check_sequences` on its own, so no copy of the whole input is made.

    Parameters
    ----------
    X : array-like or list of array-like
        Sequences in any layout :func:`check_sequences` accepts.
    max_values : int, default=2**22
        Largest number of values (sequences x steps x features) in one part;
        with float64 intermediates, 32 MB.
    read_length : int, optional
        Steps every sequence is read at after conversion (see
        :func:`resample`), counted where it is longer than a sequence's own.

    Yields
    ------
    start : int
        Index of the part's first sequence in ``X``.
    part : array-like or list
        ``X[start:stop]``: a view for arrays, a list slice for lists.
    name : str
        How to refer to the part in error messages, ``"X[start:stop]"`` (or
        ``"X"`` when there is a single part), so indices stay exact.
    """
    if _is_array_of_sequences(X) or isinstance(X, tuple):
        X = list(X)
    steps = read_length or 0
    if isinstance(X, list):
        try:
            values = max(
                (max(np.size(x), steps * (np.size(x) // max(1, len(x)))) for x in X),
                default=1,
            )
        except (TypeError, ValueError):  # refused with a clear message later
            values = None
    elif isinstance(X, np.ndarray) and X.dtype.kind in "biuf" and X.ndim >= 2:
        values = max(X.shape[1], steps) * int(np.prod(X.shape[2:]))
    else:  # anything else is converted whole, and refused there if it must be
        values = None
    n = len(X) if values is not None else 0
    chunk = max(1, max_values // max(1, values or 1))
    if values is None or chunk >= n:
        yield 0, X, "X"
        return
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        yield start, X[start:stop], f"X[{start}:{stop}]"


def check_timesteps(timesteps, lengths):
    """Check that every sequence has each selected step.

    Parameters
    ----------
    timesteps : sequence of int or float
        Ints are step indices (negative ones count from each sequence's end);
        floats in (0, 1] are fractions of each sequence's length and exist in
        every sequence.
    lengths : ndarray of shape (n_samples,)
        Valid steps per sequence.

    Raises
    ------
    ValueError
        If some sequence is too short for one of the selected steps.
    """
    shortest = int(np.min(lengths))
    for step in timesteps:
        if isinstance(step, float):
            continue
        needed = step + 1 if step >= 0 else -step
        if shortest < needed:
            i = int(np.argmin(lengths))
            raise ValueError(
                f"timesteps selects step {step}, but sequence {i} has only "
                f"{shortest} step(s). Select steps every sequence has, or give "
                "fractions of each sequence's length such as 0.5 or 1.0."
            )


def unpad(padded, lengths):
    """Split a padded array back into a list of its valid parts.

    Parameters
    ----------
    padded : ndarray of shape (n_samples, max_length, ...)
        Padded values, one row per sequence.
    lengths : ndarray of shape (n_samples,)
        Valid steps per sequence.

    Returns
    -------
    sequences : list of ndarray
        ``padded[i, :lengths[i]]`` for each ``i`` (views, not copies).
    """
    return [padded[i, :length] for i, length in enumerate(lengths)]


def feature_statistics(padded, lengths):
    """Mean and standard deviation of each feature over all valid steps.

    Parameters
    ----------
    padded : ndarray of shape (n_samples, max_length, n_features)
        Padded sequences.
    lengths : ndarray of shape (n_samples,)
        Valid steps per sequence.

    Returns
    -------
    mean : ndarray of shape (n_features,), float64
    std : ndarray of shape (n_features,), float64
        Zero deviations are replaced by 1, so dividing by it is always safe.
    """
    steps = np.concatenate(unpad(padded, lengths)).astype(np.float64)
    std = steps.std(axis=0)
    # Constant features are left unscaled rather than divided by zero.
    return steps.mean(axis=0), np.where(std < 10 * np.finfo(np.float64).eps, 1.0, std)


def resample(padded, lengths, length):
    """Every sequence stretched or squeezed to ``length`` steps.

    Linear interpolation between each sequence's own first and last valid
    steps, as ``np.interp(np.linspace(0, 1, length), np.linspace(0, 1,
    lengths[i]), ...)`` per feature: what the archive's equal-length
    (``_eq``) versions of its ragged sets are made with. A sequence of one
    step becomes that step repeated.

    Parameters
    ----------
    padded : ndarray of shape (n_samples, max_length, n_features)
        Padded sequences.
    lengths : ndarray of shape (n_samples,)
        Valid steps per sequence.
    length : int or ndarray of shape (n_samples,)
        Steps of every output sequence, or of each; at least 1.

    Returns
    -------
    resampled : ndarray of shape (n_samples, max(length), n_features)
        Of ``padded``'s dtype, zero after each sequence's new length: a new
        array, or ``padded`` itself where every sequence already has its
        ``length``.
    new_lengths : ndarray of shape (n_samples,)
        ``length`` of every sequence.
    """
    new_lengths = np.broadcast_to(length, lengths.shape).astype(lengths.dtype)
    width = int(new_lengths.max())
    if (lengths == new_lengths).all() and padded.shape[1] == width:
        return padded, lengths
    resampled = np.zeros((len(lengths), width, padded.shape[2]), padded.dtype)
    steps = np.arange(width)
    # Rows in blocks, so the temporaries stay small beside the result.
    block = max(1, 2**20 // (width * padded.shape[2]))
    for start in range(0, len(lengths), block):
        rows = slice(start, start + block)
        last, new = lengths[rows, None] - 1, new_lengths[rows, None]
        # Position of each output step on its sequence's own valid steps.
        fraction = np.minimum(steps / np.maximum(new - 1, 1), 1.0)
        position = fraction * last
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, last)
        weight = (position - below)[:, :, None].astype(padded.dtype)
        index = np.arange(len(last))[:, None]
        low, high = padded[rows][index, below], padded[rows][index, above]
        values = low + weight * (high - low)
        resampled[rows] = np.where((steps < new)[:, :, None], values, 0)
    return resampled, new_lengths


def amplitude_spread(padded, lengths):
    """How much the sequences' amplitudes differ, per feature.

    The ratio of the 90th to the 10th percentile, over sequences, of each
    sequence's own standard deviation of the feature: 1 for sequences that
    were each standardised (most of the UCR archive), large where some
    sequences are many times louder than others.

    Parameters
    ----------
    padded : ndarray of shape (n_samples, max_length, n_features)
        Padded sequences.
    lengths : ndarray of shape (n_samples,)
        Valid steps per sequence.

    Returns
    -------
    spread : ndarray of shape (n_features,), float64
        ``inf`` where at least a tenth of the sequences are constant in the
        feature and others are not; 1 where all are constant.
    """
    mask = (np.arange(padded.shape[1]) < lengths[:, None])[:, :, None]
    counts = lengths[:, None].astype(np.float64)
    # float64 and centring first: float32 sums of squares overflow near its limit.
    values = np.where(mask, padded, 0).astype(np.float64)
    mean = values.sum(axis=1) / counts
    centred = np.where(mask, values - mean[:, None], 0.0)
    std = np.sqrt((centred**2).sum(axis=1) / counts)
    high, low = np.percentile(std, 90, axis=0), np.percentile(std, 10, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(high > 0, high / low, 1.0)


def plan_batches(
    lengths, batch_size, *, shuffle=False, random_state=None, max_steps=None
):
    """Split sample indices into batches of sequences of similar length.

    Sequences are sorted by length (ties broken at random when shuffling) and
    cut into consecutive batches, so a batch pads only to its own longest
    sequence. With ``shuffle`` the batches are returned in random order.

    Parameters
    ----------
    lengths : ndarray of shape (n_samples,)
        Valid steps per sequence.
    batch_size : int
        Largest number of sequences in one batch.
    shuffle : bool, default=False
        Randomise the order of the batches and of equal-length sequences.
    random_state : numpy.random.Generator, optional
        Source of randomness when shuffling.
    max_steps : int, optional
        Largest number of padded steps in one batch (its sequences times its
        longest length), which bounds a batch's memory whatever the lengths.
        A sequence longer than this is a batch on its own. None: no bound.

    Returns
    -------
    batches : list of ndarray of int64
        Indices into ``lengths``; together they cover every sample once.

    Examples
    --------
    >>> from skhidden.sequences import plan_batches
    >>> [b.tolist() for b in plan_batches([5, 1, 3, 2], 2)]
    [[1, 3], [2, 0]]
    >>> [b.tolist() for b in plan_batches([5, 1, 3, 2], 3, max_steps=9)]
    [[1, 3, 2], [0]]
    """
    lengths = np.asarray(lengths)
    if shuffle:
        rng = np.random.default_rng(random_state)
        tiebreak = rng.permutation(len(lengths))
        order = tiebreak[np.argsort(lengths[tiebreak], kind="stable")]
    else:
        order = np.argsort(lengths, kind="stable")
    if max_steps is None:
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    else:
        batches = _cut_by_steps(order, lengths[order], batch_size, max_steps)
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def _cut_by_steps(order, sorted_lengths, batch_size, max_steps):
    """Consecutive batches of ``order`` within ``batch_size`` and ``max_steps``.

    ``sorted_lengths`` ascend, so the padded steps of a batch's first ``k``
    sequences, ``k * sorted_lengths[start + k - 1]``, grow with ``k``: the
    sequences that fit are a prefix, counted in one vectorised comparison per
    batch rather than one Python step per sequence.
    """
    batches, start, n = [], 0, len(order)
    counts = np.arange(1, batch_size + 1)
    while start < n:
        window = sorted_lengths[start : start + batch_size]
        fits = int(np.count_nonzero(counts[: len(window)] * window <= max_steps))
        stop = start + max(1, fits)
        batches.append(order[start:stop])
        start = stop
    return batches
