"""blox-train: the Blox network, data, recipes, normal training and shard runner (PyTorch)."""

from __future__ import annotations

from .complexity import count_macs, count_params
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .network import BloxNet, build_model, stage_shapes

__version__ = "0.1.0"

__all__ = [
    "BloxNet",
    "build_model",
    "count_macs",
    "count_params",
    "stage_shapes",
    *_errors_all,
]
