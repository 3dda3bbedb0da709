"""THE store schema: every Zarr store Blox writes is described here, once.

Writers and readers take these specs (never raw array names); see :mod:`blox_space.store`
for creating, opening and validating stores. Conventions (STYLE §9):

* Zarr v3; every array carries ``dimension_names`` (so ``xarray.open_zarr`` reads it) and
  ``units`` / ``long_name`` attributes; coordinates are 1-D arrays named like their dim.
* Unmeasured values are NaN (float) and an explicit ``status`` / ``done`` says why.
* Arrays are chunked along ``model`` so a shard is whole chunks.
* Epochs count **from 1**: the ``epoch`` coordinate of an E-epoch run is ``1..E``.
* Group attributes: ``schema_version``, ``store_kind``, ``producer``, ``producer_version``
  and the kind's required attributes (e.g. ``recipe_id``, ``dataset``).
* Strings (hashes, names) are fixed-width unicode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "SCHEMA_VERSION",
    "ArraySpec",
    "StoreSpec",
    "STATUS_FLAGS",
    "STATUS_PENDING",
    "STATUS_DONE",
    "STATUS_FAILED",
    "SPACE",
    "STORE_KINDS",
    "get_store_spec",
]

#: Bumped whenever an array is added, removed or changes meaning.
SCHEMA_VERSION = 1

STATUS_PENDING, STATUS_DONE, STATUS_FAILED = 0, 1, 2
#: ``flag_values`` / ``flag_meanings`` of every ``status`` array.
STATUS_FLAGS = {"flag_values": [STATUS_PENDING, STATUS_DONE, STATUS_FAILED], "flag_meanings": "pending done failed"}


@dataclass(frozen=True)
class ArraySpec:
    """One array of a store.

    Args:
        name: array name in the store (snake_case).
        dims: dimension names, in order.
        dtype: numpy dtype string (``"float32"``, ``"int64"``, ``"<U32"`` ...).
        units: UDUNITS-style units (``"1"`` for dimensionless, ``"%"``, ``"s"``).
        long_name: one-line meaning.
        fill_value: value of unwritten elements; NaN for floats by default.
        attrs: extra attributes (e.g. ``flag_values``).
    """

    name: str
    dims: tuple[str, ...]
    dtype: str
    units: str
    long_name: str
    fill_value: Any = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def fill(self) -> Any:
        if self.fill_value is not None:
            return self.fill_value
        kind = np.dtype(self.dtype).kind
        if kind == "f":
            return np.nan
        if kind == "U":
            return ""
        if kind == "b":
            return False
        return 0

    def attributes(self) -> dict[str, Any]:
        return {"units": self.units, "long_name": self.long_name, **self.attrs}


@dataclass(frozen=True)
class StoreSpec:
    """A store kind: its coordinates, data arrays, chunking and required group attributes.

    Args:
        kind: store kind (``"space"``, ``"benchmark"``, ...), written as ``store_kind``.
        coords: 1-D coordinate arrays, one per dimension that has labels.
        arrays: data arrays.
        chunks: chunk length per dimension; dimensions not listed are one chunk.
        required_attrs: group attributes every store of this kind must have.
    """

    kind: str
    coords: tuple[ArraySpec, ...]
    arrays: tuple[ArraySpec, ...]
    chunks: dict[str, int] = field(default_factory=dict)
    required_attrs: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> ArraySpec:
        for spec in self.coords + self.arrays:
            if spec.name == name:
                return spec
        raise KeyError(f"store kind {self.kind!r} has no array {name!r}")

    def __contains__(self, name: object) -> bool:
        return any(spec.name == name for spec in self.coords + self.arrays)

    @property
    def all_arrays(self) -> tuple[ArraySpec, ...]:
        return self.coords + self.arrays

    @property
    def dims(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for spec in self.all_arrays:
            for dim in spec.dims:
                seen.setdefault(dim)
        return tuple(seen)


# ---------------------------------------------------------------------------------------
# coordinates shared by store kinds
# ---------------------------------------------------------------------------------------
MODEL = ArraySpec("model", ("model",), "int64", "1", "model index b0 + 45*b1 + 2025*b2")
STAGE = ArraySpec("stage", ("stage",), "int64", "1", "stage index 0..2")
BLOCK = ArraySpec("block", ("block",), "int64", "1", "block id 0..44")

# ---------------------------------------------------------------------------------------
# space store: the search space at one (width, resolution, num_classes)
# ---------------------------------------------------------------------------------------
SPACE = StoreSpec(
    kind="space",
    coords=(
        MODEL,
        STAGE,
        BLOCK,
        ArraySpec("cell_field", ("cell_field",), "<U8", "1", "raw cell fields: op0 op1 prev input sc"),
    ),
    arrays=(
        ArraySpec("block_name", ("block",), "<U24", "1", "readable block name"),
        ArraySpec("block_scheme", ("block",), "<U12", "1", "connectivity scheme of the block"),
        ArraySpec("block_cell", ("block", "cell_field"), "int8", "1", "canonical raw cell of the block"),
        ArraySpec("block_depth", ("block",), "int64", "1", "conv layers on the longest path of the cell"),
        ArraySpec("block_params", ("stage", "block"), "int64", "1", "trainable parameters of the cell at this stage"),
        ArraySpec("block_macs", ("stage", "block"), "int64", "1", "multiply-accumulates of the cell at this stage, batch 1"),
        ArraySpec("block_ids", ("model", "stage"), "int8", "1", "block id per stage"),
        ArraySpec("hash", ("model",), "<U32", "1", "original md5 model hash"),
        ArraySpec("name", ("model",), "<U80", "1", "readable model name"),
        ArraySpec("params", ("model",), "int64", "1", "trainable parameters of the model"),
        ArraySpec("macs", ("model",), "int64", "1", "multiply-accumulates per image (ptflops semantics)"),
        ArraySpec("depth", ("model",), "int64", "1", "conv/linear layers on the longest path"),
        ArraySpec("is_uniform", ("model",), "bool", "1", "same block in every stage"),
    ),
    chunks={"model": 91125 // 5},
    required_attrs=("width", "resolution", "num_classes", "fixed_params", "fixed_macs"),
)

#: Every store kind, by name; later packages' kinds are registered here too.
STORE_KINDS: dict[str, StoreSpec] = {"space": SPACE}


def get_store_spec(kind: str) -> StoreSpec:
    """The spec of a store kind.

    Raises:
        KeyError: unknown kind (the message lists the known ones).
    """
    try:
        return STORE_KINDS[kind]
    except KeyError:
        raise KeyError(f"unknown store kind {kind!r}; known kinds: {', '.join(sorted(STORE_KINDS))}") from None


