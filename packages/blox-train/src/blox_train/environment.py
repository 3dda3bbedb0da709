"""The environment record of a training run: device and software versions (facts §4.8)."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

import torch

__all__ = ["environment", "ENV_KEYS"]

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
