"""skhidden's pickle-free model format: one safetensors file per model.

Defining pieces:

- ``save(obj, path)``: a fitted skhidden estimator, or a ``Pipeline`` /
  ``FeatureUnion`` holding skhidden estimators, written to one safetensors
  file: the networks' and losses' tensors, and in the header's metadata a
  JSON description (under ``"skhidden"``) with a SHA-256 of description and
  tensors together (under ``"skhidden.sha256"``). The single-model writer is
  ``_safe_format``, which ``estimator.save(path)`` uses too; :func:`skhidden.save`
  is this function.
- ``load(path, device=None)``: reads a file back, checks it and rebuilds what
  it holds; :func:`skhidden.load` is this function.

Loading executes nothing from the file: safetensors holds raw tensors, and
the description is plain JSON checked field by field. The class must be one
of ``ESTIMATORS`` (the registry the estimator classes enter where they are
defined, see ``_registry``), parameters must be ones the class knows (then
validated as ``fit`` validates them), fitted attributes are typed scalars and
arrays, the loss is rebuilt from ``LOSSES``, and the weights must fit the
network exactly. The checksum catches a corrupted or edited file; it is not a
signature (anyone can write a valid file), so the rest of the checks never
rely on it.

A single model's description::

    {"format": "skhidden", "format_version": 1, "class": "HiddenStateClassifier",
     "params": {...}, "fitted": {"classes_": {"array": [...], "dtype": "<i8",
     "shape": [2]}, ...}, "net": {"n_outputs": 2, "loss": {...}},
     "history": [...], "versions": {"skhidden": ..., "torch": ..., ...}}

Values that JSON cannot hold are tagged objects: ``{"tuple": [...]}``,
``{"dict": [[key, value], ...]}``, ``{"array": ..., "dtype": ..., "shape":
...}``, ``{"device": name}`` and ``{"optimizer": name}``.

A composite's description holds one such description per skhidden estimator
(its tensors prefixed ``"{i}."``) and the rest of the composite as skops data
limited to ``_composites.TRUSTED_TYPES``::

    {"format": "skhidden-composite", "format_version": 1,
     "estimators": [{...}, ...], "skeleton": "<base64 skops>", "versions": {...}}
"""

import warnings

import torch
from sklearn.pipeline import FeatureUnion, Pipeline
from skorch.history import History

from . import _composites
from ._device import resolve_device
from ._fitting import _seeded
from ._registry import ESTIMATORS, registered_estimator
from ._safe_format import (
    _TOP_LEVEL,
    FORMAT_VERSION,
    LOSSES,
    _build_loss,
    _check,
    _checksum,  # noqa: F401  (part of the format's description, read by tools)
    _decode,
    _versions,
    describe_estimator,
    read,
    save_estimator,
    write,
)

__all__ = ["ESTIMATORS", "FORMAT_VERSION", "LOSSES", "load", "save"]

_COMPOSITE = "skhidden-composite"
_COMPOSITE_FIELDS = {"format", "format_version", "estimators", "skeleton", "versions"}


def save(obj, path):
    """Write a fitted skhidden estimator, or a composite of them, without pickle.

    Parameters
    ----------
    obj : skhidden estimator, Pipeline or FeatureUnion
        A fitted HiddenStateClassifier, HiddenStateRegressor or
        HiddenStateTransformer with ``callbacks=None``, or a fitted
        ``Pipeline`` / ``FeatureUnion`` (nested ones too) of such estimators,
        ``SequenceScaler`` and the scikit-learn types listed in
        ``skhidden._composites.TRUSTED_TYPES``, e.g. a ``GridSearchCV``'s
        ``best_estimator_``.
    path : str or os.PathLike
        File to write (conventionally ``*.skhidden``).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If a skhidden estimator is not fitted.
    TypeError
        If ``obj`` or a part of it is of a type the format does not store, or
        holds a value it cannot represent (callbacks, a ``RandomState``
        instance, a custom optimizer); the message names it.
    ImportError
        If safetensors (or, for a composite, skops) is not installed.
    """
    if registered_estimator(obj) or not isinstance(obj, (Pipeline, FeatureUnion)):
        save_estimator(obj, path)
        return
    skeleton, estimators = _composites.split(obj)
    text = _composites.dump_skeleton(skeleton)
    descriptions, tensors = [], {}
    for i, estimator in enumerate(estimators):
        description, weights = describe_estimator(estimator)
        descriptions.append(description)
        tensors.update({f"{i}.{k}": v for k, v in weights.items()})
    import skops

    versions = {**_versions(), "skops": skops.__version__}
    composite = {
        "format": _COMPOSITE,
        "format_version": FORMAT_VERSION,
        "estimators": descriptions,
        "skeleton": text,
        "versions": versions,
    }
    write(path, composite, tensors)


def _check_description(description):
    _check(isinstance(description, dict), "the model description is not a JSON object")
    _check(
        description.get("format") == "skhidden",
        "the file does not hold a skhidden model description",
    )
    version = description.get("format_version")
    versions = description.get("versions")
    writer = versions.get("skhidden", "?") if isinstance(versions, dict) else "?"
    _check(
        version == FORMAT_VERSION,
        f"the file has format version {version!r}, but this skhidden reads version "
        f"{FORMAT_VERSION}; it was written by skhidden {writer}.",
    )
    _check(
        set(description) == _TOP_LEVEL,
        f"the model description has fields {sorted(description)}; expected "
        f"{sorted(_TOP_LEVEL)}",
    )
    _check(
        description["class"] in ESTIMATORS,
        f"the file names class {description['class']!r}; skhidden loads only "
        f"{sorted(ESTIMATORS)}",
    )
    for field in ("params", "fitted", "net"):
        _check(isinstance(description[field], dict), f"{field} is not a JSON object")
    _check(isinstance(description["history"], list), "history is not a list")
    _check(isinstance(versions, dict), "versions is not a JSON object")


def _decode_params(cls, encoded):
    known = cls().get_params(deep=False)
    unknown = sorted(set(encoded) - set(known))
    _check(
        not unknown, f"the file sets parameters {cls.__name__} does not have: {unknown}"
    )
    return {k: _decode(v, f"parameter {k}") for k, v in encoded.items()}


def _decode_fitted(estimator, encoded):
    params = estimator.get_params(deep=False)
    fitted = {}
    for name, value in encoded.items():
        _check(
            isinstance(name, str)
            and name.isidentifier()
            and (name.endswith("_") or name.startswith("_"))
            and not name.startswith("__")
            and name not in params
            and name != "net_"
            and not hasattr(type(estimator), name),
            f"the file sets a fitted attribute that is not allowed: {name!r}",
        )
        fitted[name] = _decode(value, f"fitted attribute {name}")
    n_features = fitted.get("n_features_in_")
    _check(
        isinstance(n_features, int) and n_features > 0, "n_features_in_ is not valid"
    )
    return fitted


def _target_device(estimator, requested):
    try:
        return resolve_device(estimator.device)
    except ValueError:
        if requested is not None or not str(estimator.device).startswith(
            ("cuda", "mps")
        ):
            raise
        warnings.warn(
            f"The model was saved with device={estimator.device!r}, which this "
            "machine does not have; loading it on the CPU. "
            "set_params(device=...) moves it.",
            UserWarning,
            stacklevel=3,
        )
        return "cpu"


def _check_shapes(net, tensors):
    """The file's module tensors have exactly the shapes the description builds.

    The network is built on the meta device, which allocates nothing, so a
    description of an absurdly large network is refused before it costs memory.
    """
    try:
        with torch.device("meta"):
            module = net.module(**net.get_params_for("module"))
    except RuntimeError as exc:  # e.g. a size torch cannot even describe
        raise ValueError(f"the network it describes cannot be built: {exc}") from exc
    expected = {f"module.{k}": tuple(v.shape) for k, v in module.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in tensors.items() if k.startswith("module.")}
    differ = sorted(
        k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k)
    )
    if differ:
        name = differ[0]
        raise ValueError(
            f"the weights do not fit the network it describes: {name} should have "
            f"shape {expected.get(name)}, the file has {found.get(name)}"
        )


def _load_weights(component, tensors, prefix, path):
    state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    for name, tensor in state.items():
        _check(
            not tensor.is_floating_point() or bool(torch.isfinite(tensor).all()),
            f"{path} has non-finite weights in {prefix}{name}",
        )
    try:
        component.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"{path} holds weights that do not fit the model it describes: {exc}"
        ) from exc


def load(path, device=None):
    """Load a model written by ``save`` (``estimator.save(path)``).

    Nothing in the file is executed: see the module description for the
    checks. The loaded model predicts exactly as the saved one did.

    Parameters
    ----------
    path : str or os.PathLike
        File written by ``save``.
    device : str or torch.device, default=None
        Device to put the model on; None keeps the saved ``device``
        parameter, falling back to the CPU (with a warning) when this machine
        does not have that device.

    Returns
    -------
    estimator : HiddenStateClassifier, HiddenStateRegressor or \
            HiddenStateTransformer
        The fitted estimator.

    Raises
    ------
    ValueError
        If the file is truncated, corrupted, edited, of an unknown format
        version, or describes something skhidden would not build.
    ImportError
        If safetensors is not installed.
    """
    description, tensors = read(path)
    if isinstance(description, dict) and description.get("format") == _COMPOSITE:
        return _rebuild_composite(description, tensors, path, device)
    return _rebuild(description, tensors, path, device)


def _rebuild_composite(description, tensors, path, device):
    """The composite a checked composite description and its tensors store."""
    _check(
        set(description) == _COMPOSITE_FIELDS
        and description["format_version"] == FORMAT_VERSION,
        f"{path} has a composite description with fields {sorted(description)} "
        f"and format version {description.get('format_version')!r}; this skhidden "
        f"reads {sorted(_COMPOSITE_FIELDS)}, version {FORMAT_VERSION}",
    )
    descriptions = description["estimators"]
    _check(isinstance(descriptions, list), f"{path} has a malformed estimator list")
    prefixes = [f"{i}." for i in range(len(descriptions))]
    _check(
        all(k.startswith(tuple(prefixes)) for k in tensors),
        f"{path} holds tensors that belong to no estimator of the composite",
    )
    estimators = []
    for prefix, part in zip(prefixes, descriptions, strict=True):
        weights = {
            k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)
        }
        where = f"{path} (estimator {prefix[:-1]})"
        estimators.append(_rebuild(part, weights, where, device))
    try:
        skeleton = _composites.load_skeleton(description["skeleton"])
        return _composites.join(skeleton, estimators)
    except ValueError as exc:
        raise ValueError(f"{path} does not describe a valid composite: {exc}") from exc


def _rebuild(description, tensors, path, device):
    """The fitted estimator a checked description and its tensors store."""
    try:
        _check_description(description)
        cls = ESTIMATORS[description["class"]]
        params = _decode_params(cls, description["params"])
        if device is not None:
            params["device"] = device
        estimator = cls(**params)
        estimator._validate_params()
        fitted = _decode_fitted(estimator, description["fitted"])
        for name, value in fitted.items():
            setattr(estimator, name, value)
        n_outputs = description["net"].get("n_outputs")
        _check(isinstance(n_outputs, int) and n_outputs > 0, "n_outputs is not valid")
        loss = _build_loss(description["net"].get("loss"), tensors, "criterion.")
        target = _target_device(estimator, device)
        net = estimator._build_net(fitted["n_features_in_"], n_outputs, loss, target)
        _check_shapes(net, tensors)
        with _seeded(0, target):  # initial weights are overwritten; keep the RNG
            net.initialize()
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{path} does not describe a valid skhidden model: {exc}"
        ) from exc
    _load_weights(net.module_, tensors, "module.", path)
    _load_weights(net.criterion_, tensors, "criterion.", path)
    _check(
        all(k.startswith(("module.", "criterion.")) for k in tensors),
        f"{path} holds tensors that belong to no part of the model",
    )
    history = _decode(description["history"], "history")
    _check(
        all(isinstance(row, dict) for row in history), f"{path} has a malformed history"
    )
    net.history = History(history)
    estimator.net_ = net
    return estimator
