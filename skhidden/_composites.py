"""Pipelines and feature unions in the safe format: the scikit-learn skeleton.

A composite is stored in two parts: each skhidden estimator in it as in a
single-model file (JSON description and safetensors weights, see
:mod:`skhidden.persistence`), and what is left, the *skeleton*, through
``skops.io``. In the skeleton every skhidden estimator is replaced by a
placeholder string naming its position in the file's list of estimators.

Defining pieces:

- ``split(composite)``: the skeleton and the skhidden estimators, in order.
- ``join(skeleton, estimators)``: the inverse, for a loaded skeleton.
- ``dump_skeleton`` / ``load_skeleton``: skeleton <-> base64 skops bytes.
- ``TRUSTED_TYPES``: the only types a skeleton may hold.

skops already refuses unknown types, but trusts every scikit-learn estimator
by default; skhidden trusts a shorter, explicit list: types whose fitted state
is plain arrays that scikit-learn's numpy code checks as it reads them. Tree
ensembles, nearest neighbours and SVMs are left out: their fitted state holds
index arrays that compiled code reads without bounds checks, so a crafted
file could crash the process at predict time (skops leaves
``sklearn.tree._tree.Tree`` untrusted for the same reason). Keep those with
``skops.io`` or joblib yourself.
"""

import base64
import binascii
import copy
import io
import json
import re
import zipfile

import numpy as np
from sklearn import decomposition, impute, linear_model, preprocessing, svm
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.feature_selection import VarianceThreshold
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import FeatureUnion, Pipeline

from ._registry import registered_estimator
from .preprocessing import SequenceScaler

__all__ = ["TRUSTED_TYPES", "dump_skeleton", "join", "load_skeleton", "split"]

_ESTIMATOR_TYPES = (
    Pipeline,
    FeatureUnion,
    SequenceScaler,
    # transformers
    preprocessing.StandardScaler,
    preprocessing.MinMaxScaler,
    preprocessing.MaxAbsScaler,
    preprocessing.RobustScaler,
    preprocessing.Normalizer,
    preprocessing.PolynomialFeatures,
    decomposition.PCA,
    impute.SimpleImputer,
    VarianceThreshold,
    # final estimators
    linear_model.LogisticRegression,
    linear_model.LinearRegression,
    linear_model.Ridge,
    linear_model.RidgeCV,
    linear_model.RidgeClassifier,
    linear_model.RidgeClassifierCV,
    linear_model.Lasso,
    linear_model.ElasticNet,
    svm.LinearSVC,
    svm.LinearSVR,
    LinearDiscriminantAnalysis,
    GaussianNB,
)
_VALUE_TYPES = (
    "builtins.bool",
    "builtins.dict",
    "builtins.float",
    "builtins.int",
    "builtins.list",
    "builtins.str",
    "builtins.tuple",
    "numpy.dtype",
    "numpy.ndarray",
    *sorted(
        {
            f"numpy.{t.__name__}"
            for t in (np.bool_, np.str_, np.float16, np.float32, np.float64)
        }
        | {
            f"numpy.{np.dtype(f'{k}{n}').type.__name__}"
            for k in "iu"
            for n in (1, 2, 4, 8)
        }
    ),
)
# Held inside the estimators above (RidgeClassifier's label binarizer).
_INNER_TYPES = (preprocessing.LabelBinarizer,)
TRUSTED_TYPES = tuple(
    f"{t.__module__}.{t.__name__}" for t in _ESTIMATOR_TYPES + _INNER_TYPES
) + (_VALUE_TYPES)
_PLACEHOLDER = re.compile(r"skhidden-estimator-([0-9]{1,6})")


def _skops():
    try:
        import skops.io
    except ImportError as exc:
        raise ImportError(
            "Saving a Pipeline or FeatureUnion in skhidden's safe format needs the "
            "skops package: pip install 'skhidden[safetensors]'."
        ) from exc
    return skops.io


def _type_name(obj):
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _children(composite):
    """The attribute listing a composite's ``(name, step)`` pairs."""
    return "steps" if isinstance(composite, Pipeline) else "transformer_list"


def split(composite, estimators=None):
    """Replace each skhidden estimator in ``composite`` by a placeholder.

    Parameters
    ----------
    composite : Pipeline or FeatureUnion
        Possibly nested; it is not modified.
    estimators : list, optional
        Where the skhidden estimators are appended; a new list by default.

    Returns
    -------
    skeleton : Pipeline or FeatureUnion
        A shallow copy of ``composite`` (and of the composites inside it)
        with the placeholders.
    estimators : list
        The skhidden estimators, in placeholder order.

    Raises
    ------
    TypeError
        If a step is of a type outside ``TRUSTED_TYPES``, naming it.
    """
    estimators = [] if estimators is None else estimators
    skeleton = copy.copy(composite)
    steps = []
    for name, step in getattr(composite, _children(composite)):
        if registered_estimator(step):
            steps.append((name, f"skhidden-estimator-{len(estimators)}"))
            estimators.append(step)
        elif isinstance(step, (Pipeline, FeatureUnion)):
            steps.append((name, split(step, estimators)[0]))
        elif step is None or step in ("passthrough", "drop"):
            steps.append((name, step))
        elif _type_name(step) not in TRUSTED_TYPES:
            raise TypeError(
                f"The step {name!r} is a {_type_name(step)}, which skhidden's safe "
                "format does not store; it stores skhidden estimators, "
                "SequenceScaler and these scikit-learn types: "
                f"{sorted(t.__name__ for t in _ESTIMATOR_TYPES[3:])}. "
                "Use joblib to keep it."
            )
        else:
            steps.append((name, step))
    setattr(skeleton, _children(composite), steps)
    return skeleton, estimators


def join(skeleton, estimators):
    """Put the estimators back in place of the placeholders of ``skeleton``.

    Parameters
    ----------
    skeleton : Pipeline or FeatureUnion
        As loaded by :func:`load_skeleton`; filled in place.
    estimators : list
        The rebuilt skhidden estimators, in placeholder order.

    Returns
    -------
    composite : Pipeline or FeatureUnion

    Raises
    ------
    ValueError
        If the placeholders do not name each estimator exactly once.
    """
    used = []

    def fill(composite):
        steps = []
        for name, step in getattr(composite, _children(composite)):
            if isinstance(step, (Pipeline, FeatureUnion)):
                fill(step)
            elif isinstance(step, str) and _PLACEHOLDER.fullmatch(step):
                index = int(_PLACEHOLDER.fullmatch(step).group(1))
                if index >= len(estimators) or index in used:
                    raise ValueError(f"the step {name!r} names no stored estimator")
                used.append(index)
                step = estimators[index]
            steps.append((name, step))
        setattr(composite, _children(composite), steps)

    if not isinstance(skeleton, (Pipeline, FeatureUnion)):
        raise ValueError(
            f"the stored composite is a {_type_name(skeleton)}, not a Pipeline or "
            "FeatureUnion"
        )
    fill(skeleton)
    if sorted(used) != list(range(len(estimators))):
        raise ValueError("the composite does not use every stored estimator once")
    return skeleton


def _schema_types(data):
    """Every ``module.class`` a skops file names, read from its schema only."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ValueError(
            f"the composite's skeleton is not a skops file: {exc}"
        ) from exc
    found, todo = set(), [schema]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            if "__class__" in node:
                found.add(f"{node.get('__module__')}.{node['__class__']}")
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return found


def _refuse_untrusted(data):
    untrusted = sorted(_schema_types(data) - set(TRUSTED_TYPES))
    if untrusted:
        raise TypeError(
            f"the composite holds types skhidden's safe format does not trust: "
            f"{untrusted}."
        )


def dump_skeleton(skeleton):
    """The skeleton as skops bytes in base64, for a JSON description.

    Parameters
    ----------
    skeleton : Pipeline or FeatureUnion
        From :func:`split`.

    Returns
    -------
    text : str

    Raises
    ------
    TypeError
        If anything inside it is of a type outside ``TRUSTED_TYPES``.
    """
    data = _skops().dumps(skeleton)
    _refuse_untrusted(data)
    return base64.b64encode(data).decode("ascii")


def load_skeleton(text):
    """Inverse of :func:`dump_skeleton`; loads nothing outside ``TRUSTED_TYPES``.

    The types a file names are checked against the list before skops builds
    anything, and skops checks them again as it loads.

    Parameters
    ----------
    text : str
        Base64 skops bytes.

    Returns
    -------
    skeleton : object
        What the file holds; :func:`join` checks it is a composite.

    Raises
    ------
    ValueError
        If the text is not base64 skops data, or names an untrusted type.
    """
    skops_io = _skops()
    if not isinstance(text, str):
        raise ValueError("the composite's skeleton is not a string")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"the composite's skeleton is not base64: {exc}") from exc
    try:
        _refuse_untrusted(data)
    except TypeError as exc:
        raise ValueError(str(exc)) from exc
    try:
        return skops_io.loads(data, trusted=list(TRUSTED_TYPES))
    except Exception as exc:  # skops raises many kinds for malformed data
        raise ValueError(f"the composite's skeleton cannot be loaded: {exc}") from exc
