"""blox-hw: latency of Blox models per device -- measurement protocol, per-model latency,
the per-block lookup table with its additive predictor, and their stores (PyTorch)."""

from __future__ import annotations

from .devices import Device, get_device, list_devices, register_device
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .lut import FIXED_PARTS, LatencyTable, Validation, build_lut, validate_lut
from .measure import (
    Measurement,
    ModelLatencies,
    measure_latency,
    measure_models,
    measure_module,
    measure_modules,
)
from .protocol import PROTOCOL_VERSION, Protocol, get_protocol, list_protocols, register_protocol
from .store import merge_latencies, read_latencies, read_lut, write_latencies, write_lut

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
