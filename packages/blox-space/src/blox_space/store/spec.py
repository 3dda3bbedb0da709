"""The building blocks of the store schema: arrays (:class:`ArraySpec`), store kinds
(:class:`StoreSpec`), queryable metrics (:class:`Metric`), the status vocabulary
(:class:`Status`) and the registry of store kinds.

Each kind's specs live in a module of their own (:mod:`blox_space.store.space`,
:mod:`~blox_space.store.benchmark`, :mod:`~blox_space.store.latency`, ...) and are gathered in
:mod:`blox_space.schema`. Conventions (STYLE §9):

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

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np

from ..errors import UnknownStoreKindError
from ..registry import Registry

__all__ = [
    "SCHEMA_VERSION",
    "Status",
    "STATUS_PENDING",
    "STATUS_DONE",
    "STATUS_FAILED",
    "STATUS_FLAGS",
    "STATUS_NAMES",
    "ArraySpec",
    "StoreSpec",
    "Metric",
    "STORE_KINDS",
    "register_store_kind",
    "get_store_spec",
    "list_store_kinds",
    "MODEL",
    "STAGE",
    "BLOCK",
]

#: Bumped whenever an array is added, removed or changes meaning.
SCHEMA_VERSION = 1


class Status(IntEnum):
    """State of a run or measurement, as every ``status`` array stores it (int8). The lower-case
    name (:attr:`label`) is the word used everywhere else: query results, training records, logs."""

    PENDING = 0
    DONE = 1
    FAILED = 2

    @property
    def label(self) -> str:
        """``"pending"``, ``"done"`` or ``"failed"``."""
        return self.name.lower()


STATUS_PENDING, STATUS_DONE, STATUS_FAILED = int(Status.PENDING), int(Status.DONE), int(Status.FAILED)
#: ``flag_values`` / ``flag_meanings`` of every ``status`` array.
STATUS_FLAGS = {"flag_values": [int(s) for s in Status], "flag_meanings": " ".join(s.label for s in Status)}
#: Status value -> its word.
STATUS_NAMES: dict[int, str] = {int(s): s.label for s in Status}


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
        valid_range: ``(low, high)`` every measured value lies in (NaN = unmeasured is always
            allowed); writers and importers refuse values outside it (``None``: any finite
            value, or any value for non-floats).
    """

    name: str
    dims: tuple[str, ...]
    dtype: str
    units: str
    long_name: str
    fill_value: Any = None
    attrs: dict[str, Any] = field(default_factory=dict)
    valid_range: tuple[float, float] | None = None

    @property
    def fill(self) -> Any:
        """The value of unwritten elements."""
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
        """The array's Zarr attributes (units, long_name, extras, valid_range)."""
        attrs = {"units": self.units, "long_name": self.long_name, **self.attrs}
        if self.valid_range is not None:
            attrs["valid_range"] = list(self.valid_range)
        return attrs

    def invalid(self, values: Any) -> np.ndarray:
        """Mask of values that are not allowed in this array: outside :attr:`valid_range`, or
        infinite for a float array (NaN means unmeasured and is allowed)."""
        arr = np.asarray(values)
        if arr.dtype.kind not in "fiu":
            return np.zeros(arr.shape, dtype=bool)
        with np.errstate(invalid="ignore"):
            bad = np.isinf(arr) if arr.dtype.kind == "f" else np.zeros(arr.shape, dtype=bool)
            if self.valid_range is not None:
                low, high = self.valid_range
                bad = bad | (arr < low) | (arr > high)
        return bad


@dataclass(frozen=True)
class Metric:
    """A queryable result stored in one array (what ``bench.query(arch, metric)`` reads).

    Attributes:
        name: the metric's name in queries (usually the array's name).
        spec: the array holding it.
        per_epoch: recorded after every epoch (over ``(model, seed, epoch)``) rather than once
            per run (over ``(model, seed)``).
        higher_is_better: whether "best" means the maximum (accuracies) or the minimum.
    """

    name: str
    spec: ArraySpec
    per_epoch: bool
    higher_is_better: bool

    @property
    def array(self) -> str:
        """Name of the array holding the metric."""
        return self.spec.name

    @property
    def units(self) -> str:
        return self.spec.units


@dataclass(frozen=True)
class StoreSpec:
    """A store kind: its coordinates, data arrays, chunking, required group attributes, and how
    shard stores of the kind merge.

    Args:
        kind: store kind (``"space"``, ``"benchmark"``, ...), written as ``store_kind``.
        coords: 1-D coordinate arrays, one per dimension that has labels.
        arrays: data arrays.
        chunks: chunk length per dimension; dimensions not listed are one chunk.
        required_attrs: group attributes every store of this kind must have.
        merge_dim: the dimension(s) shards of this kind are split along: a name, or a tuple
            of names when shards tile a grid (blockwise stores: stage x block); ``None``: not
            mergeable.
        match_attrs: attributes every shard of one merge must share.
        merge_expected: labels a merged store always covers along a merge dimension (blockwise:
            the 3 stages and 45 blocks); those no shard holds are gaps, left pending in a
            partial merge.
        carry_attrs: optional attributes a merged store keeps when any shard has them.
        env_index: the array indexing the ``environments`` attribute list, which a merge
            de-duplicates and re-indexes (``None``: no such list).
        check: the kind's own checks beyond the schema, ``check(group, path)`` raising
            :class:`~blox_space.errors.SchemaError` (run by every ``open_store``).
    """

    kind: str
    coords: tuple[ArraySpec, ...]
    arrays: tuple[ArraySpec, ...]
    chunks: dict[str, int] = field(default_factory=dict)
    required_attrs: tuple[str, ...] = ()
    merge_dim: str | tuple[str, ...] | None = None
    match_attrs: tuple[str, ...] = ()
    merge_expected: dict[str, tuple[int, ...]] = field(default_factory=dict)
    carry_attrs: tuple[str, ...] = ()
    env_index: str | None = None
    check: Callable[[Any, Any], None] | None = field(default=None, compare=False, repr=False)

    def __getitem__(self, name: str) -> ArraySpec:
        for spec in self.coords + self.arrays:
            if spec.name == name:
                return spec
        raise KeyError(f"store kind {self.kind!r} has no array {name!r}")

    def __contains__(self, name: object) -> bool:
        return any(spec.name == name for spec in self.coords + self.arrays)

    @property
    def merge_dims(self) -> tuple[str, ...]:
        """The merge dimensions as a tuple (empty when the kind does not merge)."""
        if self.merge_dim is None:
            return ()
        return (self.merge_dim,) if isinstance(self.merge_dim, str) else tuple(self.merge_dim)

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
MODEL = ArraySpec(
    "model", ("model",), "int64", "1", "model index b0 + 45*b1 + 2025*b2", valid_range=(0, 91124)
)
STAGE = ArraySpec("stage", ("stage",), "int64", "1", "stage index 0..2", valid_range=(0, 2))
BLOCK = ArraySpec("block", ("block",), "int64", "1", "block id 0..44", valid_range=(0, 44))


#: Every store kind by name; each kind's module registers its spec at import.
STORE_KINDS: Registry[StoreSpec] = Registry("store kind", UnknownStoreKindError)


def register_store_kind(spec: StoreSpec) -> StoreSpec:
    """Register a store kind (later packages register theirs the same way)."""
    STORE_KINDS.add(spec.kind, spec)
    return spec


def get_store_spec(kind: str) -> StoreSpec:
    """The spec of a store kind.

    Raises:
        UnknownNameError: (a KeyError) unknown kind; the message lists the known ones.
    """
    return STORE_KINDS.get(kind)


def list_store_kinds(pattern: str = "*") -> list[str]:
    """Registered store kinds matching a shell-style pattern, sorted."""
    return STORE_KINDS.list(pattern)
