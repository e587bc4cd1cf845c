"""Saving and loading: pickle/joblib, devices, and the pickle-free safe format."""

import io
import json
import os
import pickle
import subprocess
import sys
import warnings

import joblib
import numpy as np
import pytest
import safetensors
import safetensors.torch
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from skorch.exceptions import DeviceWarning

import skhidden
from conftest import make_sequences
from skhidden import (
    HiddenStateClassifier,
    HiddenStateRegressor,
    HiddenStateTransformer,
    SequenceScaler,
    persistence,
)

TINY = dict(hidden_size=4, max_epochs=1, batch_size=16, random_state=0, device="cpu")
STRATEGIES = ["last", "mean", "max", "attention", "timesteps", ("mean", "max", "last")]
ESTIMATORS = [HiddenStateClassifier, HiddenStateRegressor, HiddenStateTransformer]


def _outputs(estimator, X):
    """Everything a fitted estimator computes from X, by method name."""
    names = ["predict", "predict_proba", "transform", "hidden_states"]
    return {
        name: getattr(estimator, name)(X) for name in names if hasattr(estimator, name)
    }


def _assert_same_outputs(loaded, original, X):
    expected = _outputs(original, X)
    got = _outputs(loaded, X)
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        if isinstance(value, list):
            for a, b in zip(got[name], value, strict=True):
                np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_array_equal(got[name], value, err_msg=name)
            assert np.asarray(got[name]).dtype == np.asarray(value).dtype


def _assert_same_params(loaded, original):
    a, b = loaded.get_params(deep=False), original.get_params(deep=False)
    assert a.keys() == b.keys()
    for key in a:
        assert type(a[key]) is type(b[key]), key
        np.testing.assert_equal(a[key], b[key])


def _joblib_round_trip(estimator):
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


def _target(cls, y, X):
    if cls is HiddenStateRegressor:
        return (
            np.array([x[:, 0].sum() for x in X])
            if isinstance(X, list)
            else X[:, :, 0].sum(1)
        )
    return y


@pytest.fixture(scope="module", params=["equal", "ragged"])
def data(request):
    return make_sequences(n=24, n_steps=8, ragged=request.param == "ragged")


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("aggregation", STRATEGIES, ids=str)
def test_every_estimator_and_strategy_round_trips(cls, aggregation, data, tmp_path):
    X, y = data
    estimator = cls(aggregation=aggregation, **TINY).fit(X, _target(cls, y, X))

    for loaded in (
        _joblib_round_trip(estimator),
        pickle.loads(pickle.dumps(estimator)),
    ):
        _assert_same_outputs(loaded, estimator, X)

    estimator.save(tmp_path / "model.skhidden")
    loaded = skhidden.load(tmp_path / "model.skhidden")
    assert type(loaded) is cls
    _assert_same_params(loaded, estimator)
    _assert_same_outputs(loaded, estimator, X)
    assert loaded.n_features_in_ == estimator.n_features_in_
    assert loaded.history_[:, "train_loss"] == estimator.history_[:, "train_loss"]


@pytest.mark.parametrize(
    "params",
    [
        dict(cell="lstm", bidirectional=True, num_layers=2, layers="all", dropout=0.2),
        dict(cell="rnn", aggregation="timesteps", timesteps=[0, -1, 0.5]),
        dict(early_stopping=True, validation_fraction=0.25, patience=1),
        dict(
            class_weight={0: 1.0, 1: 3.0},
            optimizer=torch.optim.SGD,
            device=torch.device("cpu"),
        ),
        dict(class_weight="balanced", aggregation=["mean", "attention"], verbose=False),
        dict(frontend="patch", frontend_window=3, aggregation="timesteps"),
        dict(frontend="conv", frontend_window=2, bidirectional=True),
        dict(
            frontend="resnet",
            frontend_window=2,
            scaling="sequence_level",
            lr_schedule="cosine",
        ),
        dict(
            frontend="resnet",
            frontend_window=2,
            scaling="feature_sequence",
            states="both",
        ),
        dict(n_networks=2, aggregation="attention"),
    ],
    ids=[
        "deep-lstm",
        "rnn-timesteps",
        "early-stopping",
        "exotic-params",
        "balanced",
        "patch",
        "conv",
        "resnet",
        "resnet-both",
        "ensemble",
    ],
)
def test_structures_and_parameter_types_round_trip(params, tmp_path):
    X, y = make_sequences(n=24, n_steps=8)
    estimator = HiddenStateClassifier(**{**TINY, **params}).fit(X, y)
    estimator.save(tmp_path / "m")
    loaded = skhidden.load(tmp_path / "m")
    _assert_same_params(loaded, estimator)
    _assert_same_outputs(loaded, estimator, X)
    assert torch.equal(
        loaded.net_.criterion_.state_dict().get("loss.weight", torch.zeros(0)),
        estimator.net_.criterion_.state_dict().get("loss.weight", torch.zeros(0)),
    )


@pytest.mark.parametrize(
    "y",
    [
        np.array(["cat", "dog", "eel"] * 8),
        np.array(["cat", "dog"] * 12, dtype=object),
        np.array([-5, 7, 2**40] * 8),
        np.array([True, False] * 12),
        np.array([1.0, 2.0] * 12),
    ],
    ids=["str", "object", "int", "bool", "float"],
)
def test_class_labels_keep_their_values_and_dtype(y, tmp_path):
    X, _ = make_sequences(n=24, n_steps=6)
    for cls in (HiddenStateClassifier, HiddenStateTransformer):
        estimator = cls(**TINY).fit(X, y)
        estimator.save(tmp_path / "m")
        loaded = skhidden.load(tmp_path / "m")
        np.testing.assert_array_equal(loaded.classes_, estimator.classes_)
        assert loaded.classes_.dtype == estimator.classes_.dtype
        _assert_same_outputs(loaded, estimator, X)


def test_multi_output_regressor_and_unsupervised_transformer(tmp_path):
    X, _ = make_sequences(n=24, n_steps=6, ragged=True)
    y = np.stack([[x.sum(), x.max()] for x in X])
    for estimator in (
        HiddenStateRegressor(**TINY).fit(X, y),
        HiddenStateRegressor(**TINY).fit(X, y[:, 0]),
        HiddenStateTransformer(**TINY).fit(X),
    ):
        estimator.save(tmp_path / "m")
        loaded = skhidden.load(tmp_path / "m")
        _assert_same_outputs(loaded, estimator, X)
        for name in ("n_outputs_", "objective_"):
            assert getattr(loaded, name, None) == getattr(estimator, name, None)


@pytest.mark.parametrize("cls", [*ESTIMATORS, SequenceScaler], ids=lambda c: c.__name__)
def test_unfitted_estimators_round_trip(cls):
    estimator = cls(**TINY) if cls is not SequenceScaler else cls(with_std=False)
    method = "predict" if hasattr(estimator, "predict") else "transform"
    for loaded in (
        _joblib_round_trip(estimator),
        pickle.loads(pickle.dumps(estimator)),
    ):
        _assert_same_params(loaded, estimator)
        with pytest.raises(NotFittedError):
            getattr(loaded, method)([[1.0, 2.0]])
        assert clone(loaded).get_params() == loaded.get_params()


def test_grid_search_best_estimator_and_pipelines_round_trip(tmp_path):
    X, y = make_sequences(n=30, n_steps=6, ragged=True)
    search = GridSearchCV(
        HiddenStateClassifier(**TINY), {"aggregation": ["mean", ("max", "last")]}, cv=2
    ).fit(X, y)
    pipelines = [
        make_pipeline(SequenceScaler(), HiddenStateClassifier(**TINY)).fit(X, y),
        make_pipeline(
            SequenceScaler(),
            HiddenStateTransformer(aggregation=("mean", "max"), **TINY),
            LogisticRegression(),
        ).fit(X, y),
    ]
    for model in (search, search.best_estimator_, *pipelines):
        loaded = _joblib_round_trip(model)
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    search.best_estimator_.save(tmp_path / "best")
    loaded = skhidden.load(tmp_path / "best")
    np.testing.assert_array_equal(
        loaded.predict_proba(X), search.best_estimator_.predict_proba(X)
    )


# ------------------------------------------------------------------ devices
def test_cuda_pickle_loads_on_a_machine_without_cuda(monkeypatch):
    """skorch maps CUDA tensors to the CPU when CUDA is absent at load time.

    The net is marked as CUDA-trained here (its tensors are on the CPU, so
    this runs anywhere); ``test_cuda_model_on_cpu`` below does it for real.
    """
    X, y = make_sequences(n=20, n_steps=6)
    estimator = HiddenStateClassifier(**TINY).fit(X, y)
    expected = estimator.predict_proba(X)
    estimator.net_.device = "cuda"
    estimator.device = "cuda"
    data = pickle.dumps(estimator)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning):
        loaded = pickle.loads(data)
    assert loaded.device_ == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    with pytest.raises(ValueError, match="CUDA"):
        loaded.set_params(device="cuda")
    assert loaded.device == "cuda"  # refused before anything changed...
    assert loaded.set_params(device="cpu").device_ == "cpu"  # ...and movable


def test_safe_format_loads_a_cuda_model_on_the_cpu(monkeypatch, tmp_path):
    X, y = make_sequences(n=20, n_steps=6)
    estimator = HiddenStateClassifier(**TINY).fit(X, y)
    estimator.device = "cuda"  # as if trained there
    estimator.save(tmp_path / "m")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="loading it on the CPU"):
        loaded = skhidden.load(tmp_path / "m")
    assert loaded.device_ == "cpu" and loaded.device == "cuda"
    np.testing.assert_array_equal(loaded.predict_proba(X), estimator.predict_proba(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert skhidden.load(tmp_path / "m", device="cpu").device == "cpu"


_LOAD_WITHOUT_CUDA = """
import pickle, sys, numpy as np, torch
assert not torch.cuda.is_available()
estimator = pickle.load(open(sys.argv[1], "rb"))
X = np.load(sys.argv[2])
assert estimator.device_ == "cpu", estimator.device_
np.testing.assert_allclose(estimator.predict_proba(X), np.load(sys.argv[3]), atol=1e-4)
import skhidden
loaded = skhidden.load(sys.argv[4])
np.testing.assert_allclose(loaded.predict_proba(X), np.load(sys.argv[3]), atol=1e-4)
"""


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_model_on_cpu(tmp_path):
    X, y = make_sequences(n=40, n_steps=10)
    estimator = HiddenStateClassifier(**{**TINY, "device": "cuda"}).fit(X, y)
    assert estimator.device_.startswith("cuda")
    expected = estimator.predict_proba(X)
    joblib.dump(estimator, tmp_path / "m.joblib")
    estimator.save(tmp_path / "m.skhidden")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "p.npy", expected)
    subprocess.run(
        [
            sys.executable,
            "-c",
            _LOAD_WITHOUT_CUDA,
            str(tmp_path / "m.joblib"),
            str(tmp_path / "X.npy"),
            str(tmp_path / "p.npy"),
            str(tmp_path / "m.skhidden"),
        ],
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
        check=True,
    )
    moved = joblib.load(tmp_path / "m.joblib").set_params(device="cpu")
    assert moved.device_ == "cpu"
    assert next(moved.net_.module_.parameters()).device.type == "cpu"
    np.testing.assert_allclose(moved.predict_proba(X), expected, atol=1e-4)
    back = moved.set_params(device="cuda")
    assert next(back.net_.module_.parameters()).device.type == "cuda"
    np.testing.assert_allclose(back.predict_proba(X), expected, atol=1e-4)


# --------------------------------------------------------- the safe format
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A fitted classifier with string labels, and its safe-format file."""
    X, _ = make_sequences(n=20, n_steps=6)
    y = np.array(["no", "yes"] * 10)
    estimator = HiddenStateClassifier(**{**TINY, "class_weight": "balanced"}).fit(X, y)
    path = tmp_path_factory.mktemp("safe") / "model.skhidden"
    estimator.save(path)
    return estimator, path, X


def _read(path):
    with safetensors.safe_open(str(path), framework="pt") as file:
        metadata = file.metadata()
        tensors = {k: file.get_tensor(k) for k in file.keys()}
    return json.loads(metadata["skhidden"]), tensors


def _rewrite(path, out, edit_description=None, edit_tensors=None):
    """Write an edited copy of ``path`` with a valid checksum, as an attacker could."""
    description, tensors = _read(path)
    if edit_description:
        edit_description(description)
    if edit_tensors:
        edit_tensors(tensors)
    text = json.dumps(description)
    metadata = {
        "skhidden": text,
        "skhidden.sha256": persistence._checksum(text, tensors),
    }
    safetensors.torch.save_file(tensors, str(out), metadata=metadata)
    return out


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002], ids=oct)
def test_saved_files_get_the_mode_the_umask_gives(saved, umask, tmp_path):
    """As open() would: 0o666 & ~umask (safetensors' save_file writes 0600)."""
    estimator, _, X = saved
    pipe = make_pipeline(SequenceScaler(), HiddenStateTransformer(**TINY))
    pipe.fit(X)
    old = os.umask(umask)
    try:
        estimator.save(tmp_path / "model.skhidden")
        skhidden.save(estimator, tmp_path / "via_save.skhidden")
        skhidden.save(pipe, tmp_path / "pipe.skhidden")
    finally:
        os.umask(old)
    for name in ["model.skhidden", "via_save.skhidden", "pipe.skhidden"]:
        path = tmp_path / name
        assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~umask), name
    np.testing.assert_array_equal(
        skhidden.load(tmp_path / "model.skhidden").predict(X), estimator.predict(X)
    )
    np.testing.assert_array_equal(
        skhidden.load(tmp_path / "pipe.skhidden").transform(X), pipe.transform(X)
    )


def test_saving_over_a_file_keeps_its_mode(saved, tmp_path):
    estimator, _, X = saved
    path = tmp_path / "model.skhidden"
    path.write_bytes(b"old contents, longer than nothing")
    path.chmod(0o640)
    estimator.save(path)
    assert path.stat().st_mode & 0o777 == 0o640
    np.testing.assert_array_equal(skhidden.load(path).predict(X), estimator.predict(X))


def test_file_holds_a_readable_description_and_versions(saved):
    estimator, path, _ = saved
    description, tensors = _read(path)
    assert description["format_version"] == persistence.FORMAT_VERSION
    assert description["class"] == "HiddenStateClassifier"
    assert description["params"]["hidden_size"] == 4
    assert description["fitted"]["classes_"]["array"] == ["no", "yes"]
    assert set(description["versions"]) >= {"skhidden", "torch", "scikit-learn"}
    assert description["versions"]["skhidden"] == skhidden.__version__
    assert set(tensors) == {
        f"module.{k}" for k in estimator.net_.module_.state_dict()
    } | {"criterion.loss.weight"}


def test_loading_runs_no_pickle_and_leaves_the_random_state_alone(
    saved, forbid_unpickling
):
    estimator, path, X = saved
    state = torch.random.get_rng_state()
    loaded = skhidden.load(path)
    assert torch.equal(torch.random.get_rng_state(), state)
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))


def test_truncated_files_are_refused(saved, tmp_path):
    _, path, _ = saved
    content = path.read_bytes()
    for cut in [0, 4, 8, 20, *np.linspace(30, len(content) - 1, 12).astype(int)]:
        (tmp_path / "cut").write_bytes(content[:cut])
        with pytest.raises(ValueError, match="truncated or corrupted"):
            skhidden.load(tmp_path / "cut")


def test_any_changed_byte_is_caught(saved, tmp_path):
    _, path, _ = saved
    content = path.read_bytes()
    header_end = 8 + int.from_bytes(content[:8], "little")
    rng = np.random.default_rng(0)
    positions = [
        *rng.integers(8, header_end, 15),
        *rng.integers(header_end, len(content), 15),
    ]
    for position in positions:
        changed = bytearray(content)
        changed[position] ^= 0x01
        (tmp_path / "edit").write_bytes(bytes(changed))
        with pytest.raises(ValueError, match="checksum|truncated or corrupted|JSON"):
            skhidden.load(tmp_path / "edit")


def _set(path, value):
    def edit(description):
        target = description
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


@pytest.mark.parametrize(
    "edit, match",
    [
        (_set(["format_version"], 2), "format version 2.*reads version 1"),
        (_set(["format_version"], "1"), "format version '1'"),
        (_set(["format"], "other"), "not hold a skhidden model"),
        (_set(["class"], "subprocess.Popen"), "class 'subprocess.Popen'"),
        (_set(["class"], "SequenceScaler"), "loads only"),
        (_set(["params", "evil"], 1), r"parameters .* does not have: \['evil'\]"),
        (_set(["params", "cell"], "transformer"), "cell"),
        (_set(["params", "hidden_size"], 5), "should have shape"),
        (_set(["params", "hidden_size"], 10**5), "should have shape"),  # 10**11 weights
        (_set(["params", "hidden_size"], 10**9), "cannot be built"),
        (
            _set(["params", "optimizer"], {"optimizer": "os.system"}),
            "unknown optimizer",
        ),
        (_set(["params", "lr"], {"__reduce__": "os.system"}), "not a known value"),
        (
            _set(["fitted", "predict"], "x"),
            "fitted attribute that is not allowed: 'predict'",
        ),
        (_set(["fitted", "__class__"], "x"), "not allowed: '__class__'"),
        (_set(["fitted", "history_"], []), "not allowed: 'history_'"),
        (_set(["fitted", "_stream"], None), "not allowed: '_stream'"),
        (_set(["fitted", "n_features_in_"], 10**9), "should have shape"),
        (_set(["fitted", "n_features_in_"], -1), "n_features_in_ is not valid"),
        (
            _set(["fitted", "classes_"], {"array": [1], "dtype": "V8", "shape": [1]}),
            "dtype that is not allowed",
        ),
        (
            _set(
                ["fitted", "classes_"], {"array": [1, 2], "dtype": "<i8", "shape": [3]}
            ),
            "stated shape",
        ),
        (_set(["net", "loss"], {"type": "Module"}), "loss 'Module'"),
        (_set(["net", "n_outputs"], 3), "should have shape"),
        (_set(["history"], {"a": 1}), "history is not a list"),
        (_set(["versions"], None), "versions"),
        (_set(["extra"], 1), "has fields"),
    ],
)
def test_edited_descriptions_are_refused_by_name(saved, tmp_path, edit, match):
    _, path, _ = saved
    with pytest.raises(ValueError, match=match):
        skhidden.load(_rewrite(path, tmp_path / "m", edit_description=edit))


def _head_bias(tensors):
    """The first head's bias (of the first member, in an ensemble)."""
    return min(k for k in tensors if k.endswith("heads.0.bias"))


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda t: t.pop(_head_bias(t)), "heads.0.bias should have shape"),
        (lambda t: t.update(extra=torch.zeros(1)), "belong to no part"),
        (lambda t: t[_head_bias(t)].fill_(float("nan")), "non-finite weights"),
        (lambda t: t.update({_head_bias(t): torch.zeros(3)}), "should have shape"),
    ],
    ids=["missing", "extra", "nan", "wrong-shape"],
)
def test_edited_weights_are_refused(saved, tmp_path, edit, match):
    _, path, _ = saved
    with pytest.raises(ValueError, match=match):
        skhidden.load(_rewrite(path, tmp_path / "m", edit_tensors=edit))


def test_other_files_get_a_clear_error(saved, tmp_path):
    estimator, _, _ = saved
    joblib.dump(estimator, tmp_path / "m.joblib")
    with pytest.raises(ValueError, match="joblib.load"):
        skhidden.load(tmp_path / "m.joblib")
    safetensors.torch.save_file({"w": torch.zeros(2)}, str(tmp_path / "plain"))
    with pytest.raises(ValueError, match="without a skhidden model description"):
        skhidden.load(tmp_path / "plain")
    with pytest.raises(FileNotFoundError):
        skhidden.load(tmp_path / "missing")


def test_what_cannot_be_saved_is_refused_clearly(tmp_path):
    X, y = make_sequences(n=20, n_steps=6)
    with pytest.raises(NotFittedError):
        HiddenStateClassifier().save(tmp_path / "m")
    with pytest.raises(TypeError, match="SequenceScaler cannot be saved"):
        persistence.save(SequenceScaler().fit(X), tmp_path / "m")

    from skorch.callbacks import EpochTimer

    estimator = HiddenStateClassifier(**{**TINY, "callbacks": [EpochTimer()]}).fit(X, y)
    with pytest.raises(TypeError, match="set_params\\(callbacks=None\\)"):
        estimator.save(tmp_path / "m")
    estimator.set_params(callbacks=None).save(tmp_path / "m")
    assert skhidden.load(tmp_path / "m").callbacks is None

    estimator.set_params(random_state=np.random.RandomState(0))
    with pytest.raises(TypeError, match="random_state must be an int"):
        estimator.save(tmp_path / "m")


def test_missing_safetensors_gives_an_install_hint(saved, monkeypatch, tmp_path):
    estimator, path, _ = saved
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    with pytest.raises(ImportError, match=r"skhidden\[safetensors\]"):
        estimator.save(tmp_path / "m")
    with pytest.raises(ImportError, match=r"skhidden\[safetensors\]"):
        skhidden.load(path)
