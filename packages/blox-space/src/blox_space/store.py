"""Creating, opening and validating Zarr v3 stores from the specs in :mod:`blox_space.schema`."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from .errors import SchemaError, StoreError
from .schema import SCHEMA_VERSION, StoreSpec, get_store_spec

__all__ = ["create_store", "open_store", "atomic_store", "consolidate", "producer_attrs"]


@contextlib.contextmanager
def _quiet_zarr() -> Iterator[None]:
    # Fixed-width strings (as STYLE asks) have no Zarr v3 extension spec yet and consolidated
    # metadata is not in the v3 core spec; zarr-python reads both fine, so silence the notes.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
        warnings.filterwarnings("ignore", message=".*Consolidated metadata is currently not part.*")
        yield


def producer_attrs(producer: str) -> dict[str, str]:
    """``producer`` / ``producer_version`` attributes for a store written by a Blox package."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version(producer)
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        ver = "unknown"
    return {"producer": producer, "producer_version": ver}


def create_store(
    path: str | Path,
    spec: StoreSpec,
    *,
    sizes: Mapping[str, int],
    attrs: Mapping[str, Any],
    coords: Mapping[str, np.ndarray] | None = None,
    chunks: Mapping[str, int] | None = None,
    producer: str = "blox-space",
    overwrite: bool = False,
) -> zarr.Group:
    """Create an empty store of ``spec`` with every array allocated and filled with its fill value.

    Args:
        path: the store folder.
        spec: the store kind.
        sizes: length of every dimension of the spec.
        attrs: group attributes; must include the kind's ``required_attrs``.
        coords: values of coordinate arrays (a coordinate not given gets ``arange``).
        chunks: per-dimension chunk lengths overriding the spec's.
        producer: distribution name recorded as producer.
        overwrite: replace an existing store (otherwise an existing path is an error).

    Raises:
        SchemaError: a dimension size or a required attribute is missing.
        StoreError: the path exists and ``overwrite`` is False.
    """
    path = Path(path)
    missing_dims = [d for d in spec.dims if d not in sizes]
    if missing_dims:
        raise SchemaError(f"{spec.kind} store needs sizes for dimensions {missing_dims}")
    missing_attrs = [a for a in spec.required_attrs if a not in attrs]
    if missing_attrs:
        raise SchemaError(f"{spec.kind} store needs attributes {missing_attrs}")
    if path.exists() and not overwrite:
        raise StoreError(f"{path} already exists; remove it or choose another --out")
    chunk_len = {**spec.chunks, **(chunks or {})}
    coords = dict(coords or {})
    with _quiet_zarr():
        group = zarr.open_group(str(path), mode="w", zarr_format=3)
        group.attrs.update(
            {
                "schema_version": SCHEMA_VERSION,
                "store_kind": spec.kind,
                **producer_attrs(producer),
                **dict(attrs),
            }
        )
        for array in spec.all_arrays:
            shape = tuple(int(sizes[d]) for d in array.dims)
            chunk = tuple(
                max(1, min(int(chunk_len.get(d, n)), n)) if n else 1 for d, n in zip(array.dims, shape)
            )
            zarr_array = group.create_array(
                array.name,
                shape=shape,
                dtype=array.dtype,
                chunks=chunk,
                fill_value=array.fill,
                dimension_names=array.dims,
                attributes=array.attributes(),
            )
            if array in spec.coords:
                values = coords.get(array.name)
                if values is None and np.dtype(array.dtype).kind in "iu":
                    values = np.arange(shape[0])
                if values is not None:
                    zarr_array[:] = np.asarray(values, dtype=array.dtype)
    return group


def open_store(path: str | Path, kind: str | None = None, *, mode: str = "r") -> zarr.Group:
    """Open a store and validate it against the schema.

    Checks: it is a Zarr v3 group; its ``schema_version`` is this package's; its
    ``store_kind`` is ``kind`` (when given); every array of the kind exists with the
    schema's dimension names and sizes consistent across arrays; required attributes exist.

    Raises:
        StoreError: missing or unreadable path.
        SchemaError: any schema mismatch, naming what differs.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(f"no store at {path}")
    try:
        with _quiet_zarr():
            try:
                group = zarr.open_consolidated(str(path), mode=mode, zarr_format=3) if mode == "r" else None
            except Exception:  # noqa: BLE001 - not consolidated: fall back to plain open
                group = None
            if group is None:
                group = zarr.open_group(str(path), mode=mode, zarr_format=3)
    except Exception as err:  # noqa: BLE001 - zarr raises many types for a non-store
        raise StoreError(f"{path} is not a Zarr v3 store: {err}") from None
    attrs = dict(group.attrs)
    version = attrs.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SchemaError(
            f"{path} has schema version {version!r}; this blox-space reads version {SCHEMA_VERSION}"
        )
    store_kind = attrs.get("store_kind")
    if kind is not None and store_kind != kind:
        raise SchemaError(f"{path} is a {store_kind!r} store, expected a {kind!r} store")
    try:
        spec = get_store_spec(str(store_kind))
    except KeyError as err:
        raise SchemaError(f"{path}: {err.args[0]}") from None
    missing = [a for a in spec.required_attrs if a not in attrs]
    if missing:
        raise SchemaError(f"{path} lacks attributes {missing} required for a {spec.kind} store")
    sizes: dict[str, int] = {}
    for array in spec.all_arrays:
        if array.name not in group:
            raise SchemaError(f"{path} lacks array {array.name!r} of a {spec.kind} store")
        stored = group[array.name]
        dims = tuple(stored.metadata.dimension_names or ())
        if dims != array.dims:
            raise SchemaError(f"{path}: array {array.name!r} has dims {dims}, schema says {array.dims}")
        for dim, n in zip(dims, stored.shape):
            if sizes.setdefault(dim, n) != n:
                raise SchemaError(
                    f"{path}: dimension {dim!r} is {sizes[dim]} long in one array and {n} in {array.name!r}"
                )
    return group


def consolidate(path: str | Path) -> None:
    """Consolidate a finished store's metadata (once, at the end of writing)."""
    with _quiet_zarr():
        zarr.consolidate_metadata(str(path))


@contextlib.contextmanager
def atomic_store(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path to write a store into; move it to ``path`` on success.

    On an exception the temporary store is removed and ``path`` is untouched, so a killed
    or failed job never leaves a half-written output behind.

    Raises:
        StoreError: ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise StoreError(f"{path} already exists; remove it or choose another --out")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
