"""Device selection (``skhidden._device.resolve_device``) with mocked accelerators.

No GPU is needed: torch's CUDA and MPS availability are replaced with
monkeypatch, so the choices a GPU worker relies on are tested on any machine.
"""

import pytest
import torch

from skhidden import _device
from skhidden._device import resolve_device


@pytest.fixture
def machine(monkeypatch):
    """Pretend this process sees ``cuda`` CUDA devices and, or not, Apple MPS."""

    def pretend(cuda=0, mps=False):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(_device, "_mps_available", lambda: mps)

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return pretend


@pytest.mark.parametrize(
    "cuda, mps, expected",
    [(2, True, "cuda"), (1, False, "cuda"), (0, True, "mps"), (0, False, "cpu")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(machine, cuda, mps, expected):
    machine(cuda=cuda, mps=mps)
    assert resolve_device("auto") == expected


@pytest.mark.parametrize(
    "device", ["cuda", "cuda:0", "cuda:1", torch.device("cuda", 1)]
)
def test_cuda_devices_in_range_are_honoured(machine, device):
    machine(cuda=2)
    assert resolve_device(device) == str(torch.device(device))


def test_cuda_index_out_of_range_is_a_clear_error(machine):
    machine(cuda=2)
    with pytest.raises(ValueError, match=r"'cuda:2'.*sees 2 CUDA device\(s\).*'auto'"):
        resolve_device("cuda:2")


def test_cuda_without_a_gpu_is_a_clear_error(machine):
    machine(cuda=0, mps=True)
    with pytest.raises(ValueError, match=r"sees 0 CUDA device\(s\)"):
        resolve_device("cuda")


def test_error_explains_cuda_visible_devices_numbering(machine, monkeypatch):
    # A worker pinned to physical GPU 3 sees it as cuda:0; "cuda:3" is not there.
    machine(cuda=1)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda:0") == "cuda:0"
    with pytest.raises(ValueError, match=r"CUDA_VISIBLE_DEVICES='3'.*from cuda:0"):
        resolve_device("cuda:3")


def test_hidden_gpus_fall_back_to_cpu(machine, monkeypatch):
    # CUDA_VISIBLE_DEVICES="" hides every GPU: torch then reports none.
    machine(cuda=0)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ValueError, match="CUDA_VISIBLE_DEVICES=''"):
        resolve_device("cuda")


def test_mps_requested_without_mps_is_a_clear_error(machine):
    machine(cuda=1, mps=False)
    with pytest.raises(ValueError, match="MPS is not available"):
        resolve_device("mps")
    machine(mps=True)
    assert resolve_device("mps") == "mps"


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
def test_cpu_is_always_available(machine, device):
    machine(cuda=0)
    assert resolve_device(device) == "cpu"


@pytest.mark.parametrize("device", ["gpu", "CUDA", "cuda:-1", "", "cuda:x"])
def test_unparsable_names_are_rejected(machine, device):
    machine(cuda=1)
    with pytest.raises(ValueError, match="is not a device name"):
        resolve_device(device)


@pytest.mark.parametrize("device", ["xla", "meta", "xpu"])
def test_unsupported_device_types_are_rejected(machine, device):
    machine(cuda=1)
    with pytest.raises(ValueError, match="is not supported"):
        resolve_device(device)


def test_estimator_records_the_resolved_device(machine, sequences):
    # The resolved name, not "auto", is what a fitted estimator reports.
    from skhidden import HiddenStateClassifier

    machine(cuda=0, mps=False)
    X, y = sequences
    est = HiddenStateClassifier(hidden_size=4, max_epochs=1, random_state=0).fit(X, y)
    assert est.device_ == "cpu"
    assert est.net_.device == "cpu"
