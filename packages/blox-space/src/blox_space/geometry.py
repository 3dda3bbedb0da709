"""Network geometry: the stem width, input resolution and class count of a Blox network, and
the per-stage shapes they imply. The one place these are validated (the analytic cost model,
the PyTorch network and the latency tools all take a :class:`Geometry`).

Stage ``s`` runs its cell at ``width * 2**s`` channels on a ``side_s x side_s`` map and ends
with a stride-2 reduction to twice the channels at ``side_s // 2``; the head pools the last
stage's ``8 * width`` channels.

Example:
    >>> Geometry().stage_shapes()[0]
    ((32, 32, 32), (64, 16, 16))
    >>> Geometry(width=1)
    Traceback (most recent call last):
    ...
    blox_space.errors.InvalidGeometryError: width must be an integer in 2..4096, got 1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .blocks import NUM_STAGES
from .errors import InvalidGeometryError

__all__ = [
    "Geometry",
    "SCALING",
    "MIN_WIDTH",
    "MAX_WIDTH",
    "MIN_RESOLUTION",
    "MAX_RESOLUTION",
    "MAX_NUM_CLASSES",
    "reduction_sides",
]

#: Channel multiplier of every reduction.
SCALING = 2
#: Smallest stem width: bconv's narrowest sub-block has C/2 channels.
MIN_WIDTH = 2
#: Smallest input side: three stride-2 reductions need at least 8 pixels.
MIN_RESOLUTION = 2**NUM_STAGES
#: Largest width, resolution and class count accepted (far beyond any real use; they keep
#: every analytic count inside int64 and refuse typos such as a width of 10**11).
MAX_WIDTH, MAX_RESOLUTION, MAX_NUM_CLASSES = 4096, 4096, 1_000_000


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, np.integer))
        or not low <= value <= high
    ):
        shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:40]}..."
        raise InvalidGeometryError(f"{name} must be an integer in {low}..{high}, got {shown}")
    return int(value)


def reduction_sides(side: int) -> tuple[int, int]:
    """Output sides of a reduction's main path (3x3, stride 2, pad 1) and shortcut (2x2, stride 2)."""
    return (side - 1) // 2 + 1, (side - 2) // 2 + 1


@dataclass(frozen=True)
class Geometry:
    """Width, resolution and class count of a Blox network (validated on creation).

    Args:
        width: stem channels ``C`` (paper 32); stage ``s`` has ``C * 2**s``.
        resolution: input side in pixels (paper 32).
        num_classes: classifier outputs (CIFAR-100: 100).

    Raises:
        InvalidGeometryError: a value that is not an integer in its allowed range
            (width 2..4096, resolution 8..4096, num_classes 1..1,000,000).
    """

    width: int = 32
    resolution: int = 32
    num_classes: int = 100

    def __post_init__(self) -> None:
        object.__setattr__(self, "width", _check_int("width", self.width, MIN_WIDTH, MAX_WIDTH))
        object.__setattr__(
            self, "resolution", _check_int("resolution", self.resolution, MIN_RESOLUTION, MAX_RESOLUTION)
        )
        object.__setattr__(
            self, "num_classes", _check_int("num_classes", self.num_classes, 1, MAX_NUM_CLASSES)
        )

    @property
    def channels(self) -> tuple[int, ...]:
        """Cell channels per stage: ``(C, 2C, 4C)``."""
        return tuple(self.width * SCALING**s for s in range(NUM_STAGES))

    @property
    def sides(self) -> tuple[int, ...]:
        """Cell spatial side per stage (the stage's input side)."""
        sides, side = [], self.resolution
        for _ in range(NUM_STAGES):
            sides.append(side)
            side = min(reduction_sides(side))
        return tuple(sides)

    @property
    def final_side(self) -> int:
        """Spatial side after the last reduction (what the head pools)."""
        return min(reduction_sides(self.sides[-1]))

    @property
    def head_channels(self) -> int:
        """Channels the head pools and classifies (``8C``)."""
        return self.width * SCALING**NUM_STAGES

    def stage_shapes(self) -> list[tuple[tuple[int, int, int], tuple[int, int, int]]]:
        """Per-stage ``((C, H, W) in, (C, H, W) out)`` shapes (batch dimension left out)."""
        shapes = []
        for c, side in zip(self.channels, self.sides, strict=True):
            out = min(reduction_sides(side))
            shapes.append(((c, side, side), (c * SCALING, out, out)))
        return shapes

    def to_dict(self) -> dict[str, int]:
        """``{"width", "resolution", "num_classes"}`` (what stores record as attributes)."""
        return {"width": self.width, "resolution": self.resolution, "num_classes": self.num_classes}
