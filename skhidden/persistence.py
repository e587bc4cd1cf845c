"""skhidden's pickle-free model format: one safetensors file per model.

Defining pieces:

- ``save(estimator, path)``: writes the network's and the loss's tensors, and
  in the safetensors header's metadata a JSON description of the model
  (under ``"skhidden"``) with a SHA-256 of description and tensors together
  (under ``"skhidden.sha256"``).
- ``load(path, device=None)``: reads both back, checks them and rebuilds the
  estimator; :func:`skhidden.load` is this function.

Loading executes nothing from the file: safetensors holds raw tensors, and
the description is plain JSON checked field by field. The class must be one
of ``ESTIMATORS``, parameters must be ones the class knows (then validated as
``fit`` validates them), fitted attributes are typed scalars and arrays, the
loss is rebuilt from ``LOSSES``, and the weights must fit the network exactly.
The checksum catches a corrupted or edited file; it is not a signature
(anyone can write a valid file), so the rest of the checks never rely on it.

The description::

    {"format": "skhidden", "format_version": 1, "class": "HiddenStateClassifier",
     "params": {...}, "fitted": {"classes_": {"array": [...], "dtype": "<i8",
     "shape": [2]}, ...}, "net": {"n_outputs": 2, "loss": {...}},
     "history": [...], "versions": {"skhidden": ..., "torch": ..., ...}}

Values that JSON cannot hold are tagged objects: ``{"tuple": [...]}``,
``{"dict": [[key, value], ...]}``, ``{"array": ..., "dtype": ..., "shape":
...}``, ``{"device": name}`` and ``{"optimizer": name}``.
"""

import hashlib
import json
import numbers
import re
import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from skorch.history import History
from torch import nn

from ._base import OPTIMIZERS, BaseHiddenState, _seeded
from ._device import resolve_device
from .classifier import HiddenStateClassifier
from .nn.losses import HeadAveragedLoss, NextStepLoss
from .regressor import HiddenStateRegressor
from .transformer import HiddenStateTransformer

__all__ = ["ESTIMATORS", "FORMAT_VERSION", "LOSSES", "load", "save"]

FORMAT_VERSION = 1
ESTIMATORS = {
    cls.__name__: cls
    for cls in (HiddenStateClassifier, HiddenStateRegressor, HiddenStateTransformer)
}
# Loss name -> (class, its child losses); a loss's tensors (class weights)
# come from the file.
LOSSES = {
    "HeadAveragedLoss": (HeadAveragedLoss, ("loss",)),
    "CrossEntropyLoss": (nn.CrossEntropyLoss, ()),
    "MSELoss": (nn.MSELoss, ()),
    "NextStepLoss": (NextStepLoss, ()),
}
_DESCRIPTION_KEY = "skhidden"
_CHECKSUM_KEY = "skhidden.sha256"
_TOP_LEVEL = {
    "format",
    "format_version",
    "class",
    "params",
    "fitted",
    "net",
    "history",
    "versions",
}
_DTYPE = re.compile(r"[<>|=]?([biuf][1248]|U[0-9]{1,6})|object")
_OPTIMIZER_NAMES = {cls: name for name, cls in OPTIMIZERS.items()}


def _safetensors():
    try:
        import safetensors.torch
    except ImportError as exc:
        raise ImportError(
            "skhidden's safe model format needs the safetensors package: "
            "pip install 'skhidden[safetensors]'."
        ) from exc
    return safetensors


# ------------------------------------------------------------------ values
def _encode(value, what):
    """JSON-ready form of a parameter or fitted value, or TypeError."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (numbers.Integral, np.bool_)):
        return value.item() if isinstance(value, np.generic) else int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, torch.device):
        return {"device": str(value)}
    if isinstance(value, type) and value in _OPTIMIZER_NAMES:
        return {"optimizer": _OPTIMIZER_NAMES[value]}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, what) for v in value]
        return {"tuple": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {
            "dict": [[_encode(k, what), _encode(v, what)] for k, v in value.items()]
        }
    if isinstance(value, np.ndarray) and _DTYPE.fullmatch(_dtype_name(value.dtype)):
        values = (
            value.tolist()
            if value.dtype.kind != "O"
            else [_encode(v, what) for v in value.ravel()]
        )
        return {
            "array": values,
            "dtype": _dtype_name(value.dtype),
            "shape": list(value.shape),
        }
    raise TypeError(
        f"{what}={value!r} cannot be stored in skhidden's safe format, which "
        "holds numbers, strings, lists, dicts and numeric or string arrays only. "
        "Use joblib to keep it."
    )


def _dtype_name(dtype):
    return "object" if dtype.kind == "O" else dtype.str


def _decode(value, what):
    """Inverse of :func:`_encode`; anything unexpected is a ValueError."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v, what) for v in value]
    _check(isinstance(value, dict) and len(value) >= 1, f"{what} is not a known value")
    if "tuple" in value and len(value) == 1:
        _check(isinstance(value["tuple"], list), f"{what} is a malformed tuple")
        return tuple(_decode(v, what) for v in value["tuple"])
    if "dict" in value and len(value) == 1:
        pairs = value["dict"]
        _check(
            isinstance(pairs, list)
            and all(isinstance(p, list) and len(p) == 2 for p in pairs),
            f"{what} is a malformed dict",
        )
        return {_hashable(_decode(k, what), what): _decode(v, what) for k, v in pairs}
    if "device" in value and len(value) == 1:
        _check(isinstance(value["device"], str), f"{what} is a malformed device")
        try:
            return torch.device(value["device"])
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"{what} is not a device: {exc}") from exc
    if "optimizer" in value and len(value) == 1:
        _check(value["optimizer"] in OPTIMIZERS, f"{what} names an unknown optimizer")
        return OPTIMIZERS[value["optimizer"]]
    if set(value) == {"array", "dtype", "shape"}:
        return _decode_array(value, what)
    raise ValueError(f"{what} is not a known value: {sorted(value)}")


def _hashable(key, what):
    _check(
        not isinstance(key, (list, dict)), f"{what} has a dict key that is not a scalar"
    )
    return key


def _decode_array(value, what):
    dtype, shape, values = value["dtype"], value["shape"], value["array"]
    _check(
        isinstance(dtype, str) and _DTYPE.fullmatch(dtype),
        f"{what} has a dtype that is not allowed: {dtype!r}",
    )
    _check(
        isinstance(shape, list) and all(isinstance(n, int) and n >= 0 for n in shape),
        f"{what} has a malformed shape",
    )
    try:
        if dtype == "object":
            flat = [_decode(v, what) for v in values]
            _check(
                all(v is None or isinstance(v, (bool, int, float, str)) for v in flat),
                f"{what} holds values other than numbers and strings",
            )
            array = np.empty(len(flat), dtype=object)
            array[:] = flat
            return array.reshape(shape)
        array = np.array(values, dtype=np.dtype(dtype))
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(
            f"{what} is not a valid {dtype} array of shape {shape}: {exc}"
        ) from exc
    _check(list(array.shape) == shape, f"{what} does not have its stated shape {shape}")
    return array


def _check(condition, message):
    if not condition:
        raise ValueError(message)


# ------------------------------------------------------------------ losses
def _describe_loss(loss):
    name = type(loss).__name__
    if LOSSES.get(name, (None,))[0] is not type(loss):
        raise TypeError(
            f"The training loss {name} cannot be stored in skhidden's safe "
            f"format (known: {sorted(LOSSES)}); use joblib."
        )
    return {
        "type": name,
        **{c: _describe_loss(getattr(loss, c)) for c in LOSSES[name][1]},
    }


def _build_loss(description, tensors, prefix=""):
    _check(isinstance(description, dict), "the loss description is malformed")
    name = description.get("type")
    _check(name in LOSSES, f"the loss {name!r} is not one skhidden knows")
    cls, children = LOSSES[name]
    _check(
        set(description) == {"type", *children}, f"the {name} description is malformed"
    )
    kwargs = {
        c: _build_loss(description[c], tensors, f"{prefix}{c}.") for c in children
    }
    if name == "CrossEntropyLoss" and prefix + "weight" in tensors:
        kwargs["weight"] = torch.empty_like(tensors[prefix + "weight"])
    return cls(**kwargs)


# -------------------------------------------------------------- save/load
def _versions(safetensors):
    import sklearn
    import skorch

    from . import __version__

    return {
        "skhidden": __version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "skorch": skorch.__version__,
        "numpy": np.__version__,
        "safetensors": safetensors.__version__,
    }


def _checksum(description, tensors):
    digest = hashlib.sha256(description.encode())
    for name in sorted(tensors):
        tensor = tensors[name]
        digest.update(f"{name}:{tensor.dtype}:{list(tensor.shape)}".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def _fitted_attributes(estimator):
    """Everything ``fit`` set on the estimator, except the net."""
    params = estimator.get_params(deep=False)
    return {k: v for k, v in vars(estimator).items() if k not in params and k != "net_"}


def save(estimator, path):
    """Write a fitted skhidden estimator to ``path`` without pickle.

    Parameters
    ----------
    estimator : HiddenStateClassifier, HiddenStateRegressor or \
            HiddenStateTransformer
        A fitted estimator with ``callbacks=None``.
    path : str or os.PathLike
        File to write.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    TypeError
        If it is not a skhidden estimator, or holds a value the format cannot
        represent (callbacks, a ``RandomState`` instance, a custom optimizer).
    """
    if type(estimator).__name__ not in ESTIMATORS or not isinstance(
        estimator, BaseHiddenState
    ):
        raise TypeError(
            f"{type(estimator).__name__} cannot be saved in skhidden's safe format; "
            f"it stores {sorted(ESTIMATORS)}."
        )
    check_is_fitted(estimator, "net_")
    safetensors = _safetensors()
    net = estimator.net_
    if estimator.callbacks is not None:
        raise TypeError(
            "callbacks are arbitrary objects and cannot be stored without pickle. "
            "They only act during fit: est.set_params(callbacks=None).save(path) "
            "stores the trained model."
        )
    if estimator.random_state is not None and not isinstance(
        estimator.random_state, numbers.Integral
    ):
        raise TypeError(
            "random_state must be an int or None to be stored (it only matters "
            "for refitting): set_params(random_state=0) first."
        )
    tensors = {
        **{f"module.{k}": v for k, v in net.module_.state_dict().items()},
        **{f"criterion.{k}": v for k, v in net.criterion_.state_dict().items()},
    }
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    description = {
        "format": "skhidden",
        "format_version": FORMAT_VERSION,
        "class": type(estimator).__name__,
        "params": {
            k: _encode(v, k) for k, v in estimator.get_params(deep=False).items()
        },
        "fitted": {k: _encode(v, k) for k, v in _fitted_attributes(estimator).items()},
        "net": {
            "n_outputs": int(net.module__n_outputs),
            "loss": _describe_loss(net.criterion_),
        },
        "history": _encode(list(net.history), "history"),
        "versions": _versions(safetensors),
    }
    text = json.dumps(description)
    metadata = {_DESCRIPTION_KEY: text, _CHECKSUM_KEY: _checksum(text, tensors)}
    safetensors.torch.save_file(tensors, str(path), metadata=metadata)


def _read(path):
    """The description (parsed) and the tensors of a file, checksum verified."""
    safetensors = _safetensors()
    try:
        with safetensors.safe_open(str(path), framework="pt", device="cpu") as file:
            metadata = file.metadata() or {}
            tensors = {name: file.get_tensor(name) for name in file.keys()}
    except safetensors.SafetensorError as exc:
        raise ValueError(
            f"{path} is not a readable skhidden model file (truncated or corrupted?): "
            f"{exc}. Files written by joblib.dump are read with joblib.load."
        ) from exc
    _check(
        _DESCRIPTION_KEY in metadata and _CHECKSUM_KEY in metadata,
        f"{path} is a safetensors file without a skhidden model description.",
    )
    text = metadata[_DESCRIPTION_KEY]
    _check(
        _checksum(text, tensors) == metadata[_CHECKSUM_KEY],
        f"{path} fails its checksum: the model description or weights were "
        "changed or corrupted after saving.",
    )
    try:
        description = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path} has a model description that is not JSON: {exc}"
        ) from exc
    return description, tensors


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
    description, tensors = _read(path)
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
