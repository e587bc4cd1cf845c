"""The core of skhidden's pickle-free format: encode, check, write, read.

A low-level module: it knows the format, not the estimator classes, so the
estimator base may use it (``BaseHiddenState.save``) while rebuilding
estimators from a file stays in :mod:`skhidden.persistence`, above them.

Defining pieces:

- ``save_estimator(estimator, path)``: writes the network's and the loss's
  tensors, and in the safetensors header's metadata a JSON description of
  the model (under ``"skhidden"``) with a SHA-256 of description and tensors
  together (under ``"skhidden.sha256"``).
- ``describe_estimator(estimator)``: that description and those tensors,
  for writers of files that hold several models.
- ``read(path)``: the description (parsed) and tensors of a file, with its
  checksum verified.
- ``write(path, description, tensors)``: the inverse of ``read``.
- ``_encode`` / ``_decode``: parameter and fitted values <-> tagged JSON;
  ``LOSSES``: the losses a file may name.

See :mod:`skhidden.persistence` for the description's fields and the checks
loading makes.
"""

import hashlib
import json
import numbers
import re

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._fitting import OPTIMIZERS
from ._registry import ESTIMATORS, registered_estimator
from ._version import __version__
from .nn.losses import HeadAveragedLoss, NextStepLoss

__all__ = [
    "FORMAT_VERSION",
    "LOSSES",
    "describe_estimator",
    "read",
    "save_estimator",
    "write",
]

FORMAT_VERSION = 1
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
def _versions(safetensors=None):
    """The versions of skhidden and of the libraries that wrote a file."""
    import sklearn
    import skorch

    return {
        "skhidden": __version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "skorch": skorch.__version__,
        "numpy": np.__version__,
        "safetensors": (safetensors or _safetensors()).__version__,
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


def describe_estimator(estimator):
    """The JSON description and the tensors that store a fitted estimator.

    Parameters
    ----------
    estimator : HiddenStateClassifier, HiddenStateRegressor or \
            HiddenStateTransformer
        A fitted estimator with ``callbacks=None``.

    Returns
    -------
    description : dict
        JSON-ready: class, parameters, fitted attributes, loss, history and
        versions.
    tensors : dict of str to torch.Tensor
        The network's weights (``"module."``) and the loss's (``"criterion."``),
        contiguous on the CPU.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    TypeError
        If it is not a skhidden estimator, or holds a value the format cannot
        represent (callbacks, a ``RandomState`` instance, a custom optimizer).
    ImportError
        If safetensors is not installed.
    """
    if not registered_estimator(estimator):
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
    return description, tensors


def save_estimator(estimator, path):
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
    write(path, *describe_estimator(estimator))


def write(path, description, tensors):
    """Write a description and tensors as one checksummed safetensors file.

    Parameters
    ----------
    path : str or os.PathLike
        File to write.
    description : dict
        JSON-ready description, stored in the header's metadata.
    tensors : dict of str to torch.Tensor
        Contiguous CPU tensors.
    """
    safetensors = _safetensors()
    text = json.dumps(description)
    metadata = {_DESCRIPTION_KEY: text, _CHECKSUM_KEY: _checksum(text, tensors)}
    # Serialised in memory and written through open(), not save_file: the
    # file then gets the mode the user's umask gives (0o666 & ~umask), as any
    # file a program writes does; safetensors' save_file creates it 0600
    # whatever the umask. No umask is read or changed, so no race with
    # other threads. An existing file is overwritten and keeps its mode.
    data = safetensors.torch.save(tensors, metadata=metadata)
    with open(path, "wb") as file:
        file.write(data)


def read(path):
    """The description (parsed) and the tensors of a file, checksum verified.

    Parameters
    ----------
    path : str or os.PathLike
        File written by :func:`write`.

    Returns
    -------
    description : object
        The parsed JSON, not yet checked.
    tensors : dict of str to torch.Tensor

    Raises
    ------
    ValueError
        If the file is not safetensors, has no skhidden description, or fails
        its checksum.
    """
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


