"""Where a training run happens: the torch device it asks for, checked against this machine
(:func:`resolve_device`), and the environment record of the run (device and software versions,
facts §4.8)."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

import torch

from .errors import DeviceError

__all__ = ["environment", "resolve_device", "ENV_KEYS"]

#: Keys of :func:`environment`, in a fixed order (the store keeps one string per key).
ENV_KEYS = (
    "device",
    "device_name",
    "num_threads",
    "platform",
    "python",
    "torch",
    "torch_commit",
    "torch_cuda",
    "torchvision",
    "blox_space",
    "blox_train",
)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def resolve_device(device: str | torch.device) -> torch.device:
    """The torch device ``device`` names, if this machine has it.

    Raises:
        DeviceError: a malformed name (``foo``), or a device this machine does not have
            (``cuda`` without a GPU, ``cuda:7`` with fewer GPUs, ``mps`` off macOS).

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, torch.device):
        parsed = device
    else:
        text = str(device).strip()
        shown = text if len(text) <= 40 else f"{text[:40]}..."
        try:
            parsed = torch.device(text)
        except (RuntimeError, ValueError, TypeError):
            raise DeviceError(f"{shown!r} is not a torch device; use cpu, cuda, cuda:N or mps") from None
    if parsed.type == "cpu":
        return parsed
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DeviceError(
                f"device {parsed} is not available: torch sees no CUDA GPU here; use --device cpu"
            )
        if parsed.index is not None and parsed.index >= count:
            raise DeviceError(f"device {parsed} is not available: this machine has cuda:0..cuda:{count - 1}")
        return parsed
    if parsed.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise DeviceError("device mps is not available here (Apple silicon only); use --device cpu")
        return parsed
    raise DeviceError(
        f"device type {parsed.type!r} is not supported for training; use cpu, cuda, cuda:N or mps"
    )


def environment(device: str | torch.device = "cpu") -> dict[str, str]:
    """``{key: str}`` for every key of :data:`ENV_KEYS` describing where a run happened."""
    device = torch.device(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = _cpu_name()
    return {
        "device": str(device),
        "device_name": name,
        "num_threads": str(torch.get_num_threads()),
        "platform": platform.platform(),
        "python": ".".join(map(str, sys.version_info[:3])),
        "torch": torch.__version__,
        "torch_commit": str(getattr(torch.version, "git_version", "")),
        "torch_cuda": str(torch.version.cuda or ""),
        "torchvision": _version("torchvision"),
        "blox_space": _version("blox-space"),
        "blox_train": _version("blox-train"),
    }
