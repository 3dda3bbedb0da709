"""Creating, opening, validating and reading Zarr v3 stores from the specs in
:mod:`blox_space.schema`, and writing them atomically.

Damage is reported as damage: :func:`open_store` refuses a store whose array metadata is gone
(a deleted array folder would otherwise read as all-NaN, i.e. "not measured"), and
:func:`read_array` turns an undecodable chunk into a :class:`DamagedStoreError` naming the
array and the store.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from ..errors import DamagedStoreError, SchemaError, StoreError, UnknownNameError
from .spec import SCHEMA_VERSION, StoreSpec, get_store_spec

__all__ = [
    "create_store",
    "open_store",
    "read",
    "read_array",
    "verify_store",
    "store_path",
    "atomic_store",
    "consolidate",
    "producer_attrs",
    "check_output_path",
]

#: A temporary store older than this is stale whoever made it (a job killed on another node).
STALE_TMP_SECONDS = 24 * 3600


@contextlib.contextmanager
def quiet_zarr() -> Iterator[None]:
    """Silence zarr's notes about fixed-width strings and consolidated metadata (both read fine
    with zarr-python; neither has a Zarr v3 extension spec yet)."""
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


def store_path(group: zarr.Group) -> str:
    """The folder of a store opened from disk (for messages), else the store's repr."""
    root = getattr(group.store, "root", None)
    return str(Path(root) / group.path) if root is not None else repr(group.store)


def check_output_path(path: str | Path, *, overwrite: bool = False) -> Path:
    """Refuse an output path that cannot be written, before any work is done.

    Raises:
        StoreError: an empty path, a path that exists (without ``overwrite``), a parent that
            is a plain file, or a folder that is not writable.
    """
    if not str(path).strip():
        raise StoreError("the output path is empty; give a path such as results/out.zarr")
    path = Path(path)
    if path.exists() and not overwrite:
        raise StoreError(f"{path} already exists; remove it, pass --overwrite or choose another --out")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise StoreError(f"cannot write {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"cannot write {path}: the folder {parent} is not writable")
    try:  # the permission bits do not tell everything (root, read-only mounts, /proc)
        probe = Path(tempfile.mkdtemp(prefix=f".{path.name}.probe-", dir=parent))
        probe.rmdir()
    except OSError as err:
        raise StoreError(f"cannot write {path}: {err.strerror or err} in {parent}") from None
    return path


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
    with quiet_zarr():
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


def open_store(path: str | Path, kind: str | tuple[str, ...] | None = None, *, mode: str = "r") -> zarr.Group:
    """Open a store and validate it against the schema.

    Checks: it is a Zarr v3 group; its ``schema_version`` is this package's; its ``store_kind``
    is ``kind`` (when given; a tuple: one of those kinds); every array of the kind exists (its
    metadata on disk, not only in the consolidated copy) with the schema's dimension names and sizes consistent across arrays;
    required attributes exist; and the kind's own checks (e.g. a benchmark's epoch coordinate).

    Raises:
        StoreError: missing or unreadable path.
        SchemaError: any schema mismatch, naming what differs.
        DamagedStoreError: an array of the kind is gone.
    """
    if not str(path).strip():
        raise StoreError("the store path is empty; give the path of a .zarr folder")
    path = Path(path)
    if not path.exists():
        raise StoreError(f"no store at {path}")
    try:
        with quiet_zarr():
            try:
                group = zarr.open_consolidated(str(path), mode=mode, zarr_format=3) if mode == "r" else None
            except Exception:  # noqa: BLE001 - not consolidated: fall back to plain open
                group = None
            if group is None:
                group = zarr.open_group(str(path), mode=mode, zarr_format=3)
    except Exception as err:  # noqa: BLE001 - zarr raises many types for a non-store
        raise StoreError(f"{path} is not a Zarr v3 store: {str(err)[:200]}") from None
    attrs = dict(group.attrs)
    version = attrs.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SchemaError(
            f"{path} has schema version {version!r}; this blox-space reads version {SCHEMA_VERSION}"
        )
    store_kind = attrs.get("store_kind")
    kinds = (kind,) if isinstance(kind, str) else kind
    if kinds is not None and store_kind not in kinds:
        wanted = " or ".join(repr(k) for k in kinds)
        raise SchemaError(f"{path} is a {store_kind!r} store, expected a {wanted} store")
    try:
        spec = get_store_spec(str(store_kind))
    except UnknownNameError as err:
        raise SchemaError(f"{path}: {err}") from None
    missing = [a for a in spec.required_attrs if a not in attrs]
    if missing:
        raise SchemaError(f"{path} lacks attributes {missing} required for a {spec.kind} store")
    sizes: dict[str, int] = {}
    for array in spec.all_arrays:
        if array.name not in group:
            raise SchemaError(f"{path} lacks array {array.name!r} of a {spec.kind} store")
        if path.is_dir() and not (path / array.name / "zarr.json").is_file():
            raise DamagedStoreError(
                f"{path} is damaged: array {array.name!r} is gone (its folder or metadata was deleted); "
                "rebuild the store (e.g. rerun its merge)"
            )
        stored = group[array.name]
        dims = tuple(stored.metadata.dimension_names or ())
        if dims != array.dims:
            raise SchemaError(f"{path}: array {array.name!r} has dims {dims}, schema says {array.dims}")
        for dim, n in zip(dims, stored.shape):
            if sizes.setdefault(dim, n) != n:
                raise SchemaError(
                    f"{path}: dimension {dim!r} is {sizes[dim]} long in one array and {n} in {array.name!r}"
                )
    if spec.check is not None:
        spec.check(group, path)
    return group


def read_array(group: zarr.Group, name: str, selection: Any = slice(None)) -> np.ndarray:
    """``group[name][selection]``, with a chunk that cannot be decoded (truncated, overwritten)
    reported as :class:`DamagedStoreError` naming the array and the store."""
    return read(group[name], selection)


def read(array: zarr.Array, selection: Any = slice(None)) -> np.ndarray:
    """``array[selection]``, or :class:`DamagedStoreError` when a chunk cannot be decoded."""
    try:
        return array[selection]
    except (KeyError, IndexError, TypeError):
        raise
    except Exception as err:  # noqa: BLE001 - codecs raise RuntimeError, ValueError, zstd errors ...
        root = getattr(array.store, "root", None)
        where = str(Path(root)) if root is not None else repr(array.store)
        name = array.path.rsplit("/", 1)[-1]
        raise DamagedStoreError(
            f"{where} is damaged: a chunk of array {name!r} cannot be read ({str(err)[:120]}); "
            "rebuild the store (e.g. rerun its merge)"
        ) from None


def verify_store(group: zarr.Group, *, max_bytes: int = 256 * 2**20) -> int:
    """Read every chunk of every array of a store's kind, to find damage before a query does.

    Arrays are read in slabs of whole chunks along their first dimension, at most about
    ``max_bytes`` at a time.

    Returns:
        The number of arrays read.

    Raises:
        DamagedStoreError: an array whose chunk cannot be decoded (which array, which store).
    """
    spec = get_store_spec(str(group.attrs.get("store_kind")))
    for array_spec in spec.all_arrays:
        array = group[array_spec.name]
        if array.ndim == 0 or array.shape[0] == 0:
            read(array)
            continue
        row_bytes = max(1, array.nbytes // array.shape[0])
        step = max(int(array.chunks[0]), (max_bytes // row_bytes) // array.chunks[0] * array.chunks[0])
        for start in range(0, array.shape[0], step):
            read(array, slice(start, start + step))
    return len(spec.all_arrays)


def consolidate(path: str | Path) -> None:
    """Consolidate a finished store's metadata (once, at the end of writing)."""
    with quiet_zarr():
        zarr.consolidate_metadata(str(path))


def _tmp_name(path: Path) -> Path:
    host = socket.gethostname().split(".")[0] or "host"
    return path.with_name(f".{path.name}.tmp-{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _is_stale(tmp: Path) -> bool:
    """A temporary store of a process that is gone (same host), or one older than a day."""
    try:
        if time.time() - tmp.stat().st_mtime > STALE_TMP_SECONDS:
            return True
    except OSError:
        return False
    parts = tmp.name.rsplit(".tmp-", 1)[-1].split("-")
    if len(parts) != 3 or not parts[1].isdigit():
        return True  # an older naming scheme without an owner: no live writer uses it
    host, pid = parts[0], int(parts[1])
    if host != (socket.gethostname().split(".")[0] or "host"):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def remove_stale_tmp(path: str | Path) -> list[Path]:
    """Remove the temporary siblings a killed writer of ``path`` left behind; returns them."""
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{path.name}.tmp-*"):
        if tmp.is_dir() and _is_stale(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


@contextlib.contextmanager
def atomic_store(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path to write a store into; move it to ``path`` on success.

    On an exception the temporary store is removed and ``path`` is untouched, so a failed job
    never leaves a half-written output behind; a job that was killed can leave its temporary
    store, and the next successful write of ``path`` removes it.

    Raises:
        StoreError: ``path`` exists and ``overwrite`` is False, or it cannot be written.
    """
    path = check_output_path(path, overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        yield tmp
        if path.exists():  # move the old store aside first: a kill now loses neither version
            old = _tmp_name(path)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
        remove_stale_tmp(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
