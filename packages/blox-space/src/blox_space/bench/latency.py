"""Latency stores as queries read them (torch-free; blox-hw measures and writes the stores).

Two kinds of store give a model's latency on a device (schema: ``LATENCY`` and ``LATENCY_LUT``):

* a **measured** store (``latency``): end-to-end seconds per model, NaN for models it lacks;
* a **lookup table** (``latency_lut``): seconds per (stage, block) and of the fixed parts,
  from which :func:`additive_latency` predicts any model::

      latency(model) ~= sum(fixed_latency_s) + sum_s block_latency_s[s, block_ids[s]]

:func:`open_latency` opens either kind as an object with ``values(indices)``; the additive
predictor is defined here once and used by blox-hw, the query API and the workflow's report.

Example:
    >>> import numpy as np
    >>> table = np.arange(3 * 45, dtype=float).reshape(3, 45)
    >>> additive_latency(table, np.array([1.0, 2.0]), np.array([[0, 1, 2]]))
    array([141.])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from ..arch import indices_to_blocks
from ..blocks import NUM_BLOCKS, NUM_STAGES
from ..errors import SchemaError
from ..store.group import open_store, read_array
from ..store.latency import LATENCY, LATENCY_LUT, LATENCY_S
from ._lazy import LazyArray

__all__ = ["additive_latency", "open_latency", "MeasuredLatency", "TableLatency", "LATENCY_KINDS"]

#: Store kinds that hold a latency, and what :attr:`source` each gives.
LATENCY_KINDS: dict[str, str] = {LATENCY.kind: "measured", LATENCY_LUT.kind: "lut"}


def additive_latency(
    block_latency_s: np.ndarray, fixed_latency_s: np.ndarray, block_ids: np.ndarray
) -> np.ndarray:
    """The lookup table's additive prediction: fixed parts plus each stage's block.

    Args:
        block_latency_s: (3, 45) seconds of stage ``s`` with block ``b``.
        fixed_latency_s: (p,) seconds of the fixed parts (summed).
        block_ids: (n, 3) block id of each stage of each model.

    Returns:
        (n,) seconds. NaN where a needed entry is NaN (e.g. a failed measurement).
    """
    block_ids = np.asarray(block_ids, dtype=np.int64).reshape(-1, NUM_STAGES)
    table = np.asarray(block_latency_s, dtype=np.float64)
    if table.shape != (NUM_STAGES, NUM_BLOCKS):
        raise ValueError(f"block_latency_s must be ({NUM_STAGES}, {NUM_BLOCKS}), got {table.shape}")
    fixed = float(np.sum(np.asarray(fixed_latency_s, dtype=np.float64)))
    return fixed + table[np.arange(NUM_STAGES), block_ids].sum(axis=1)


@dataclass
class MeasuredLatency:
    """A per-model latency store of one device (``source == "measured"``).

    Attributes:
        device: the device name.
        attrs: the store's group attributes (protocol, environment, geometry ...).
    """

    device: str
    attrs: dict[str, Any]
    group: zarr.Group = field(repr=False)
    source: str = "measured"

    def __post_init__(self) -> None:
        self._models = read_array(self.group, "model")
        self._latency = LazyArray(self.group[LATENCY_S.name])

    @property
    def models(self) -> np.ndarray:
        """Indices of the models the store holds (sorted)."""
        return self._models.copy()

    def values(self, indices: np.ndarray) -> np.ndarray:
        """Seconds per model index, NaN where the store has no measured value."""
        indices = np.asarray(indices, dtype=np.int64)
        if not len(self._models):
            return np.full(indices.shape, np.nan)
        pos = np.minimum(np.searchsorted(self._models, indices), len(self._models) - 1)
        values = self._latency.rows(np.ravel(pos))[pos].astype(np.float64)
        return np.where(self._models[pos] == indices, values, np.nan)


@dataclass
class TableLatency:
    """A per-block lookup table of one device, read as the additive prediction of any model
    (``source == "lut"``).

    Attributes:
        device: the device name.
        attrs: the store's group attributes.
        block_latency_s: (3, 45) seconds; fixed_latency_s: (p,) seconds; parts: their names.
    """

    device: str
    attrs: dict[str, Any]
    block_latency_s: np.ndarray
    fixed_latency_s: np.ndarray
    parts: tuple[str, ...] = ()
    source: str = "lut"

    def values(self, indices: np.ndarray) -> np.ndarray:
        """Predicted seconds per model index (same shape as ``indices``)."""
        indices = np.asarray(indices, dtype=np.int64)
        blocks = indices_to_blocks(np.ravel(indices))
        return additive_latency(self.block_latency_s, self.fixed_latency_s, blocks).reshape(indices.shape)


def open_latency(path: str | Path) -> MeasuredLatency | TableLatency:
    """Open a measured latency store or a lookup-table store (validated against the schema).

    Raises:
        StoreError: missing or not a Zarr store.
        SchemaError: not a latency kind, or the schema does not match.
    """
    group = open_store(path)
    kind = str(group.attrs.get("store_kind"))
    if kind not in LATENCY_KINDS:
        raise SchemaError(
            f"{path} is a {kind!r} store, expected one of {sorted(LATENCY_KINDS)} (written by blox-hw)"
        )
    attrs = dict(group.attrs)
    device = str(attrs["device"])
    if kind == LATENCY.kind:
        return MeasuredLatency(device, attrs, group)
    return TableLatency(
        device,
        attrs,
        np.asarray(read_array(group, LATENCY_LUT["block_latency_s"].name), dtype=np.float64),
        np.asarray(read_array(group, LATENCY_LUT["fixed_latency_s"].name), dtype=np.float64),
        tuple(str(p) for p in read_array(group, LATENCY_LUT["part"].name)),
    )
