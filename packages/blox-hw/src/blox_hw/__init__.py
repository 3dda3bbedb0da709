"""blox-hw: latency of Blox models per device -- measurement protocol, per-model latency,
the per-block lookup table with its additive predictor, and their stores (PyTorch)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .devices import Device, get_device, list_devices, register_device
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .protocol import PROTOCOL_VERSION, Protocol, get_protocol, list_protocols, register_protocol

if TYPE_CHECKING:
    from .lut import FIXED_PARTS, LatencyTable, Validation, build_lut, validate_lut
    from .measure import (
        Measurement,
        ModelLatencies,
        measure_latency,
        measure_models,
        measure_module,
        measure_modules,
    )
    from .store import merge_latencies, read_latencies, read_lut, write_latencies, write_lut

#: Names imported on first use (they need torch and blox-train), so that ``import blox_hw`` and
#: the light commands (``blox-hw devices --no-probe``, ``blox-hw protocols``) start fast.
_LAZY = {
    "FIXED_PARTS": "lut",
    "LatencyTable": "lut",
    "Validation": "lut",
    "build_lut": "lut",
    "validate_lut": "lut",
    "Measurement": "measure",
    "ModelLatencies": "measure",
    "measure_latency": "measure",
    "measure_models": "measure",
    "measure_module": "measure",
    "measure_modules": "measure",
    "merge_latencies": "store",
    "read_latencies": "store",
    "read_lut": "store",
    "write_latencies": "store",
    "write_lut": "store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'blox_hw' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__version__ = "0.1.0"

__all__ = [
    "FIXED_PARTS",
    "PROTOCOL_VERSION",
    "Device",
    "LatencyTable",
    "Measurement",
    "ModelLatencies",
    "Protocol",
    "Validation",
    "build_lut",
    "get_device",
    "get_protocol",
    "list_devices",
    "list_protocols",
    "measure_latency",
    "measure_models",
    "measure_module",
    "measure_modules",
    "merge_latencies",
    "read_latencies",
    "read_lut",
    "register_device",
    "register_protocol",
    "validate_lut",
    "write_latencies",
    "write_lut",
    *_errors_all,
]
