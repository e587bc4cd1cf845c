"""The safe format for Pipelines and FeatureUnions of skhidden estimators."""

import base64
import json
import os
import sys

import numpy as np
import pytest
import safetensors
import skops.io
import torch
from sklearn.base import is_classifier, is_regressor
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import skhidden
from conftest import make_sequences
from skhidden import (
    HiddenStateClassifier,
    HiddenStateRegressor,
    HiddenStateTransformer,
    SequenceScaler,
    _composites,
    _safe_format,
)

TINY = dict(hidden_size=4, max_epochs=2, batch_size=16, random_state=0, device="cpu")
SKLEARN_TYPES = _composites._ESTIMATOR_TYPES[3:]  # after the composites and ours


@pytest.fixture(scope="module")
def data():
    X, y = make_sequences(n=30, n_steps=8)
    return X, y, X[:, :, 0].sum(axis=1)


@pytest.fixture(scope="module")
def transformer(data):
    X, y, _ = data
    return HiddenStateTransformer(**TINY).fit(X, y)


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    X, y, _ = data
    pipe = make_pipeline(
        SequenceScaler(),
        HiddenStateTransformer(**TINY),
        StandardScaler(),
        LogisticRegression(),
    ).fit(X, y)
    path = tmp_path_factory.mktemp("composite") / "pipe.skhidden"
    skhidden.save(pipe, path)
    return pipe, path, X


def _round_trip(obj, path):
    skhidden.save(obj, path)
    return skhidden.load(path)


def _assert_same(
    loaded, original, X, methods=("predict", "predict_proba", "transform")
):
    assert type(loaded) is type(original)
    assert repr(loaded) == repr(original)
    compared = 0
    for name in methods:
        if hasattr(original, name):
            got, expected = getattr(loaded, name)(X), getattr(original, name)(X)
            np.testing.assert_array_equal(got, expected, err_msg=name)
            assert got.dtype == expected.dtype
            compared += 1
    assert compared


def _read(path):
    with safetensors.safe_open(str(path), framework="pt") as file:
        metadata = file.metadata()
        tensors = {k: file.get_tensor(k) for k in file.keys()}
    return json.loads(metadata["skhidden"]), tensors


def _rewrite(path, out, edit):
    """An edited copy of ``path`` with a valid checksum, as an attacker could write."""
    description, tensors = _read(path)
    edit(description)
    _safe_format.write(out, description, tensors)
    return out


@pytest.mark.parametrize(
    "cls", [HiddenStateClassifier, HiddenStateRegressor, HiddenStateTransformer]
)
def test_scaler_and_estimator_pipelines_round_trip(cls, data, tmp_path):
    X, y, target = data
    pipe = make_pipeline(SequenceScaler(), cls(**TINY))
    pipe.fit(X, target if cls is HiddenStateRegressor else y)
    loaded = _round_trip(pipe, tmp_path / "pipe.skhidden")
    _assert_same(loaded, pipe, X)
    np.testing.assert_array_equal(loaded[0].mean_, pipe[0].mean_)
    network = loaded[-1].net_.module_.state_dict()
    for name, tensor in pipe[-1].net_.module_.state_dict().items():
        assert torch.equal(network[name], tensor), name


def test_sklearn_steps_after_the_transformer_round_trip(saved, tmp_path):
    pipe, path, X = saved
    loaded = skhidden.load(path)
    _assert_same(loaded, pipe, X)
    np.testing.assert_array_equal(loaded[-1].coef_, pipe[-1].coef_)
    np.testing.assert_array_equal(loaded[-2].scale_, pipe[-2].scale_)
    # a second save of the loaded pipeline writes the same model again
    again = _round_trip(loaded, tmp_path / "again.skhidden")
    _assert_same(again, pipe, X)


@pytest.mark.parametrize("cls", SKLEARN_TYPES, ids=lambda c: c.__name__)
def test_every_trusted_scikit_learn_type_round_trips(cls, data, transformer, tmp_path):
    X, y, target = data
    features = transformer.transform(X)
    step = cls().fit(features, target if is_regressor(cls()) else y)
    pipe = Pipeline([("net", transformer), ("step", step)])
    loaded = _round_trip(pipe, tmp_path / "pipe.skhidden")
    methods = ("predict", "decision_function", "transform")
    if is_classifier(step) or is_regressor(step):
        methods = ("predict", "decision_function")
    _assert_same(loaded, pipe, X, methods)


def test_feature_union_round_trips_alone_and_nested(data, tmp_path):
    X, y, _ = data
    union = FeatureUnion(
        [
            ("mean", HiddenStateTransformer(**{**TINY, "aggregation": "mean"})),
            ("last", HiddenStateTransformer(**{**TINY, "aggregation": "last"})),
        ]
    )
    pipe = make_pipeline(SequenceScaler(), union, LogisticRegression()).fit(X, y)
    _assert_same(_round_trip(pipe, tmp_path / "nested"), pipe, X)
    union = pipe[1]
    loaded = _round_trip(union, tmp_path / "union")
    _assert_same(loaded, union, pipe[0].transform(X))
    assert loaded.transformer_list[0][1] is not loaded.transformer_list[1][1]


def test_grid_search_best_pipeline_round_trips(data, tmp_path):
    X, y, _ = data
    pipe = Pipeline(
        [("scale", SequenceScaler()), ("clf", HiddenStateClassifier(**TINY))]
    )
    search = GridSearchCV(pipe, {"clf__aggregation": ["mean", ("max", "last")]}, cv=2)
    search.fit(X, y)
    loaded = _round_trip(search.best_estimator_, tmp_path / "best")
    _assert_same(loaded, search.best_estimator_, X)
    assert loaded[-1].aggregation == search.best_params_["clf__aggregation"]


def test_a_single_estimator_still_gets_the_single_model_format(data, tmp_path):
    X, y, _ = data
    clf = HiddenStateClassifier(**TINY).fit(X, y)
    skhidden.save(clf, tmp_path / "m")
    assert _read(tmp_path / "m")[0]["format"] == "skhidden"
    _assert_same(skhidden.load(tmp_path / "m"), clf, X)


def test_the_file_holds_the_networks_beside_a_skops_skeleton(saved):
    pipe, path, _ = saved
    description, tensors = _read(path)
    assert description["format"] == "skhidden-composite"
    assert [d["class"] for d in description["estimators"]] == ["HiddenStateTransformer"]
    assert set(tensors) == {f"0.module.{k}" for k in pipe[1].net_.module_.state_dict()}
    assert "skops" in description["versions"]
    skeleton = skops.io.loads(
        base64.b64decode(description["skeleton"]),
        trusted=list(_composites.TRUSTED_TYPES),
    )
    assert skeleton.steps[1][1] == "skhidden-estimator-0"


def test_loading_runs_no_pickle(saved, forbid_unpickling):
    pipe, path, X = saved
    np.testing.assert_array_equal(skhidden.load(path).predict(X), pipe.predict(X))


def test_truncated_and_altered_files_are_refused(saved, tmp_path):
    _, path, _ = saved
    data = path.read_bytes()
    for size in (0, 8, len(data) // 2, len(data) - 1):
        (tmp_path / "cut").write_bytes(data[:size])
        with pytest.raises(ValueError, match="truncated or corrupted"):
            skhidden.load(tmp_path / "cut")
    header = 8 + int.from_bytes(data[:8], "little")
    skeleton_at = data.index(b"skeleton") + 20  # inside the base64 skops data
    for position in (skeleton_at, header + 3, len(data) - 2):
        edited = bytearray(data)
        edited[position] ^= 0x01
        (tmp_path / "edit").write_bytes(bytes(edited))
        with pytest.raises(ValueError, match="checksum|not a readable|not JSON"):
            skhidden.load(tmp_path / "edit")


@pytest.mark.parametrize(
    "step, name",
    [
        (RandomForestClassifier(n_estimators=2), "RandomForestClassifier"),
        (FunctionTransformer(np.log1p), "FunctionTransformer"),
    ],
)
def test_untrusted_steps_are_refused_at_save_by_name(
    step, name, data, transformer, tmp_path
):
    X, y, _ = data
    step.fit(transformer.transform(X), y)
    with pytest.raises(TypeError, match=f"step 'step' is a .*{name}.*joblib"):
        skhidden.save(Pipeline([("net", transformer), ("step", step)]), tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_untrusted_values_inside_a_trusted_step_are_refused_at_save(tmp_path):
    pipe = Pipeline([("scale", StandardScaler(copy=np.random.RandomState(0)))])
    with pytest.raises(TypeError, match="does not trust: .*RandomState"):
        skhidden.save(pipe, tmp_path / "m")


def test_a_crafted_file_with_an_unknown_type_is_refused_by_name(
    saved, tmp_path, monkeypatch
):
    _, path, _ = saved
    evil = Pipeline(
        [("net", "skhidden-estimator-0"), ("run", FunctionTransformer(os.system))]
    )

    def swap(description):
        description["skeleton"] = base64.b64encode(skops.io.dumps(evil)).decode()

    calls = []
    monkeypatch.setattr(skops.io, "loads", lambda *a, **k: calls.append(a))
    with pytest.raises(ValueError, match=r"does not trust: .*(posix|nt)\.system"):
        skhidden.load(_rewrite(path, tmp_path / "m", swap))
    assert not calls  # refused from the schema, before skops built anything


def _skeleton(obj):
    """``obj`` as the base64 skops text a composite description holds."""
    return base64.b64encode(skops.io.dumps(obj)).decode()


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda d: d.update(skeleton=_skeleton(Pipeline([("s", StandardScaler())]))),
            "every stored estimator",
        ),
        (
            lambda d: d.update(
                skeleton=_skeleton(Pipeline([("s", "skhidden-estimator-7")]))
            ),
            "names no stored estimator",
        ),
        (lambda d: d.update(skeleton="not base64!"), "not base64"),
        (
            lambda d: d.update(skeleton=base64.b64encode(b"zip?").decode()),
            "not a skops",
        ),
        (
            lambda d: d.update(skeleton=_skeleton(StandardScaler())),
            "not a Pipeline or FeatureUnion",
        ),
        (lambda d: d.update(format_version=99), "format version 99"),
        (lambda d: d["estimators"][0].update({"class": "Evil"}), "class 'Evil'"),
    ],
)
def test_edited_descriptions_are_refused(saved, tmp_path, edit, match):
    _, path, _ = saved
    with pytest.raises(ValueError, match=match):
        skhidden.load(_rewrite(path, tmp_path / "m", edit))


def test_what_is_not_a_composite_is_refused(data, tmp_path):
    X, y, _ = data
    with pytest.raises(TypeError, match="SequenceScaler cannot be saved"):
        skhidden.save(SequenceScaler().fit(X), tmp_path / "m")
    search = GridSearchCV(HiddenStateClassifier(**TINY), {"hidden_size": [4]}, cv=2)
    with pytest.raises(TypeError, match="GridSearchCV cannot be saved"):
        skhidden.save(search, tmp_path / "m")


def test_missing_skops_gives_an_install_hint(saved, monkeypatch, tmp_path):
    pipe, path, _ = saved
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    with pytest.raises(ImportError, match=r"skhidden\[safetensors\]"):
        skhidden.save(pipe, tmp_path / "m")
    with pytest.raises(ImportError, match=r"skhidden\[safetensors\]"):
        skhidden.load(path)
