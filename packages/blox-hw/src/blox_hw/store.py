"""Writing and reading latency stores (kinds ``latency`` and ``latency_lut`` of
:mod:`blox_space.schema`). Writes are atomic: a failed or killed job leaves no output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from blox_space import StoreError
from blox_space.schema import LATENCY, LATENCY_LUT, STATUS_DONE
from blox_space.store import atomic_store, consolidate, create_store, merge_stores, open_store, read_array

from .lut import FIXED_PARTS, LatencyTable
from .measure import ModelLatencies

__all__ = [
    "PRODUCER",
    "write_latencies",
    "read_latencies",
    "merge_latencies",
    "write_lut",
    "read_lut",
    "read_attrs",
]

#: Producer recorded in every store blox-hw writes.
PRODUCER = "blox-hw"


def write_latencies(
    path: str | Path,
    latencies: ModelLatencies,
    *,
    attrs: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write per-model latencies as a ``latency`` store (models sorted by index).

    Args:
        path: the store folder.
        latencies: the measured models.
        attrs: extra group attributes (e.g. ``validation``), added to ``latencies.attrs``.
        overwrite: replace an existing store.

    Raises:
        StoreError: the path exists (without ``overwrite``) or a model appears twice.
    """
    order = np.argsort(latencies.models, kind="stable")
    models = latencies.models[order]
    if np.any(np.diff(models) == 0):
        raise StoreError("a latency store holds each model once; the model list has duplicates")
    with atomic_store(path, overwrite=overwrite) as tmp:
        group = create_store(
            tmp,
            LATENCY,
            sizes={"model": len(models)},
            attrs={**latencies.attrs, **(attrs or {})},
            coords={"model": models},
            producer=PRODUCER,
        )
        status = latencies.status[order]
        group[LATENCY["latency_s"].name][:] = latencies.latency_s[order]
        group[LATENCY["latency_spread"].name][:] = latencies.spread[order]
        group[LATENCY["status"].name][:] = status
        group[LATENCY["done"].name][:] = status == STATUS_DONE
        consolidate(tmp)
    return Path(path)


def read_latencies(path: str | Path) -> ModelLatencies:
    """Read a ``latency`` store back.

    Raises:
        StoreError: missing path or not a latency store.
    """
    group = open_store(path, LATENCY.kind)
    return ModelLatencies(
        models=np.asarray(read_array(group, LATENCY["model"].name)),
        latency_s=np.asarray(read_array(group, LATENCY["latency_s"].name)),
        spread=np.asarray(read_array(group, LATENCY["latency_spread"].name)),
        status=np.asarray(read_array(group, LATENCY["status"].name)),
        attrs=dict(group.attrs),
    )


def merge_latencies(
    paths: list[str | Path],
    out: str | Path,
    *,
    expect: np.ndarray | None = None,
    allow_partial: bool = False,
    overwrite: bool = False,
) -> Path:
    """Merge ``latency`` shard stores of one device and protocol into one store: blox-space's
    shared merge (:func:`blox_space.merge_stores`) for the latency kind.

    Group attributes come from the first shard; shards must agree on device, precision,
    protocol and geometry, while ``environment`` may differ (e.g. two nodes of one cluster
    partition; the first is kept). Failed measurements stay in the store with their status.

    Args:
        paths: the shard stores.
        out: the merged store (never one of ``paths``).
        expect: model indices the merged store must hold (a shard missing means a gap).
        allow_partial: accept gaps; the store is marked ``is_partial`` and lists them.
        overwrite: replace an existing ``out``.

    Raises:
        MergeError: no shards, mixed devices / protocols / geometry, a model in two shards,
            or an expected model in none (without ``allow_partial``).
    """
    return merge_stores(
        paths, out, kind=LATENCY.kind, expected_models=expect, allow_partial=allow_partial, overwrite=overwrite,
        producer=PRODUCER,
    )  # fmt: skip


def write_lut(path: str | Path, table: LatencyTable, *, overwrite: bool = False) -> Path:
    """Write a lookup table as a ``latency_lut`` store.

    Raises:
        StoreError: the path exists and ``overwrite`` is False.
    """
    with atomic_store(path, overwrite=overwrite) as tmp:
        group = create_store(
            tmp,
            LATENCY_LUT,
            sizes={
                "stage": table.block_latency_s.shape[0],
                "block": table.block_latency_s.shape[1],
                "part": len(FIXED_PARTS),
            },
            attrs=table.attrs,
            coords={"part": np.array(FIXED_PARTS)},
            producer=PRODUCER,
        )
        for spec, values in (
            ("block_latency_s", table.block_latency_s),
            ("block_latency_spread", table.block_spread),
            ("block_status", table.block_status),
            ("fixed_latency_s", table.fixed_latency_s),
            ("fixed_latency_spread", table.fixed_spread),
            ("fixed_status", table.fixed_status),
        ):
            group[LATENCY_LUT[spec].name][:] = values
        consolidate(tmp)
    return Path(path)


def read_lut(path: str | Path) -> LatencyTable:
    """Read a ``latency_lut`` store back.

    Raises:
        StoreError: missing path or not a lookup-table store.
    """
    group = open_store(path, LATENCY_LUT.kind)
    parts = [str(p) for p in read_array(group, LATENCY_LUT["part"].name)]
    if parts != list(FIXED_PARTS):
        raise StoreError(f"{path}: fixed parts are {parts}, this blox-hw expects {list(FIXED_PARTS)}")

    def arr(name: str) -> np.ndarray:
        return np.asarray(read_array(group, LATENCY_LUT[name].name))

    return LatencyTable(
        block_latency_s=arr("block_latency_s"),
        fixed_latency_s=arr("fixed_latency_s"),
        block_spread=arr("block_latency_spread"),
        fixed_spread=arr("fixed_latency_spread"),
        block_status=arr("block_status"),
        fixed_status=arr("fixed_status"),
        attrs=dict(group.attrs),
    )


def read_attrs(path: str | Path) -> dict[str, Any]:
    """Group attributes of any latency store (``store_kind`` says which)."""
    group = open_store(path)
    kind = group.attrs.get("store_kind")
    if kind not in (LATENCY.kind, LATENCY_LUT.kind):
        raise StoreError(f"{path} is a {kind!r} store, not a latency or latency_lut store")
    return dict(group.attrs)
