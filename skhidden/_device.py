"""Device selection: ``"auto"`` picks CUDA, then Apple MPS, then the CPU.

``"auto"`` and ``"cuda"`` mean the process's current CUDA device, the first
one it can see. A worker process started with ``CUDA_VISIBLE_DEVICES=i``
sees only GPU ``i``, as its ``cuda:0``: that is how one worker per GPU keeps
each fit on its own GPU without a per-worker parameter.
"""

import os

import torch

__all__ = ["resolve_device"]


def _mps_available():
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def _visible_devices_note():
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return ""
    return (
        f" (CUDA_VISIBLE_DEVICES={visible!r} limits them, and numbers the ones "
        "it lists from cuda:0)"
    )


def resolve_device(device):
    """Turn a ``device`` parameter into a concrete, available torch device name.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    Returns
    -------
    device : str
        The device to train on, e.g. ``"cuda"`` or ``"cpu"``.

    Raises
    ------
    ValueError
        If the device is unknown or not present on this machine.
    """
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if _mps_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a device name; use 'auto', 'cpu', 'cuda', "
            "'cuda:N' or 'mps'."
        ) from exc
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = parsed.index or 0
        if index >= count:
            raise ValueError(
                f"device={device!r} was asked for but this process sees {count} "
                f"CUDA device(s){_visible_devices_note()}; use device='auto' to "
                "fall back to what is present."
            )
    elif parsed.type == "mps":
        if not _mps_available():
            raise ValueError(
                "device='mps' was asked for but Apple MPS is not available here; "
                "use device='auto'."
            )
    elif parsed.type != "cpu":
        raise ValueError(
            f"device={device!r} is not supported; use 'auto', 'cpu', 'cuda', "
            "'cuda:N' or 'mps'."
        )
    return str(parsed)
