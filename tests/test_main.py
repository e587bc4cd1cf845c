"""The main job, ``python -m skhidden``, and dataset loading on real data."""

import subprocess
import sys

import joblib
import numpy as np
import pytest

pytest.importorskip("aeon")

from skhidden.datasets import from_channels_first, load_dataset  # noqa: E402
from skhidden.demo import main  # noqa: E402


def test_load_dataset_returns_skhidden_layout():
    X, y = load_dataset("BasicMotions", "train")
    assert X.shape == (40, 100, 6)
    X, y = load_dataset("JapaneseVowels", "test")
    assert isinstance(X, list) and len(X) == len(y) == 370
    assert {x.shape[1] for x in X} == {12}
    assert min(len(x) for x in X) >= 7


def test_from_channels_first_transposes_arrays_and_lists():
    X = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(from_channels_first(X)[1], X[1].T)
    ragged = from_channels_first([np.ones((3, 5)), np.ones((3, 2))])
    assert [x.shape for x in ragged] == [(5, 3), (2, 3)]


def test_load_dataset_errors():
    with pytest.raises(ValueError, match="split"):
        load_dataset("GunPoint", "validation")
    with pytest.raises(FileNotFoundError):
        load_dataset("/nonexistent/file.ts")


def test_main_job_writes_table_and_model(tmp_path, capsys):
    status = main(
        ["--dataset", "JapaneseVowels", "--epochs", "2", "--hidden-size", "4",
         "--cv", "2", "--strategies", "last", "mean+max", "--output", str(tmp_path)]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert "refit 'mean+max'" in out
    table = (tmp_path / "results.md").read_text()
    assert "| last |" in table and "| mean+max |" in table
    model = joblib.load(tmp_path / "best_model.joblib")
    X_test, y_test = load_dataset("JapaneseVowels", "test")
    assert set(model.predict(X_test[:5])) <= set(y_test)


def test_module_entry_point_prints_help():
    result = subprocess.run(
        [sys.executable, "-m", "skhidden", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "GridSearchCV" in result.stdout and "--dataset" in result.stdout
