"""Importing the released Blox files (facts §5) into a benchmark store
(``blox-space import-legacy``).

Files are read by :mod:`blox_space.legacy._files` (YAML-framed ``.csv``, ``.pickle`` through a
restricted unpickler, and bit-packed ``.blox``). Families: ``blox-base-SEED``,
``blox-ext-SEED``, ``blox-info``, ``blox-env-SEED`` and ``blox-bench-DEVICE``.

The released data carry the original's epoch-1 validation aliasing (facts §4.6): the epoch-1
validation metrics hold the best epoch's values. An imported store says so in its
``val_epoch1_aliased`` attribute; ``mask_aliased_epoch1=True`` replaces those values by NaN.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..arch import blocks_to_indices, hashes_to_indices, to_index
from ..blocks import NUM_MODELS, OPS, RAW_CELL_TO_BLOCK
from ..errors import InvalidArchitectureError, LegacyFormatError
from ..store.benchmark import BENCHMARK, TRAIN_SECONDS
from ..store.environments import Environments, canonical_json
from ..store.group import atomic_store, check_output_path, consolidate, create_store
from ..store.latency import LATENCY, LATENCY_S
from ..store.shard import best_epochs
from ..store.spec import STATUS_DONE, ArraySpec
from ._files import (
    DEFAULT_EXT,
    TO_ARRAY,
    LegacyFile,
    family_of,
    find_legacy_files,
    read_legacy_file,
    read_legacy_header,
)

__all__ = ["import_legacy", "default_latency_folder", "LEGACY_CONFIG_ID"]

logger = logging.getLogger(__name__)

#: Id of the original training configuration the release was made with (facts §4.1).
LEGACY_CONFIG_ID = "ecb4eb2f2af07c0853e1bbe8041d616d"


# ---------------------------------------------------------------------------------------
# import
# ---------------------------------------------------------------------------------------
_COMPARED_HEADER = ("version", "search_space", "epochs", "dataset")


def _check_headers(headers: list[tuple[Path, dict[str, Any]]]) -> None:
    first_path, first = headers[0]
    for path, header in headers[1:]:
        for key in _COMPARED_HEADER:
            if key in header and key in first and canonical_json(header[key]) != canonical_json(first[key]):
                raise LegacyFormatError(
                    f"{path.name} has {key} {header[key]!r} but {first_path.name} has {first[key]!r}"
                )


def _indices(f: LegacyFile) -> np.ndarray:
    try:
        idx = hashes_to_indices(f.columns["model_hash"])
    except InvalidArchitectureError as err:
        raise LegacyFormatError(f"{f.path.name}: {err}") from None
    if len(np.unique(idx)) != len(idx):
        raise LegacyFormatError(f"{f.path.name}: a model hash appears twice")
    return idx


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def import_legacy(
    folder: str | Path,
    out: str | Path,
    *,
    preferred_ext: tuple[str, ...] | list[str] | str = DEFAULT_EXT,
    mask_aliased_epoch1: bool = False,
    latency_out: str | Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Import the released files of a folder into a benchmark store.

    Args:
        folder: folder holding ``blox-base-SEED`` (required) and optionally
            ``blox-ext-SEED``, ``blox-info``, ``blox-env-SEED``, ``blox-bench-DEVICE``.
        out: the benchmark store to write (atomically).
        preferred_ext: format preference per file family (see :func:`find_legacy_files`).
        mask_aliased_epoch1: replace the epoch-1 validation metrics, which the original
            overwrote with the best epoch's (facts §4.6), by NaN. Either way the store's
            ``val_epoch1_aliased`` attribute records the quirk.
        latency_out: folder for one latency store per ``blox-bench-DEVICE`` file
            (``latency-DEVICE.zarr``; the original recorded no units, seconds are assumed);
            defaults to :func:`default_latency_folder` (``release.zarr`` ->
            ``release-latency/``), so two imports never write over each other's stores. The
            benchmark records them (``latency_stores``) and :func:`~blox_space.open_benchmark`
            attaches them by default.
        overwrite: replace existing stores.

    Returns:
        ``out`` as a Path.

    Example:
        >>> import_legacy("downloads/blox", "results/benchmark/release.zarr")  # doctest: +SKIP
        >>> open_benchmark("results/benchmark/release.zarr").attrs["val_epoch1_aliased"]  # doctest: +SKIP
        True

    Raises:
        LegacyFormatError: no base file, a malformed file, mismatched headers, an unknown
            hash, an info arch vector that disagrees with its hash, ext rows without base rows.
    """
    folder, out = Path(folder), Path(out)
    paths = find_legacy_files(folder, preferred_ext=preferred_ext)
    headers = {p: read_legacy_header(p) for p in paths}  # cheap; files are read one at a time below
    by_family: dict[str, list[Path]] = {}
    for p in paths:
        by_family.setdefault(family_of(p)[0], []).append(p)
    if "base" not in by_family:
        raise LegacyFormatError(
            f"{folder} holds no blox-base-SEED file (with extensions {list(preferred_ext)})"
        )
    per_seed = by_family["base"] + by_family.get("ext", []) + by_family.get("env", [])
    _check_headers([(p, headers[p]) for p in per_seed])
    seed_of = {p: int(headers[p].get("seed", family_of(p)[1])) for p in per_seed}
    seeds = np.array(sorted({seed_of[p] for p in by_family["base"]}))
    if len(seeds) != len(by_family["base"]):
        raise LegacyFormatError("two base files share a seed")
    for p in per_seed:
        if seed_of[p] not in seeds:
            raise LegacyFormatError(f"{p.name}: seed {seed_of[p]} has no base file")
    base = {seed_of[p]: read_legacy_file(p) for p in by_family["base"]}
    first = base[int(seeds[0])]
    epochs = int(first.header.get("epochs", first.columns["val_top1"].shape[1]))
    dataset = str(first.header.get("dataset", "cifar100"))
    base_idx = {seed: _indices(f) for seed, f in base.items()}
    models = np.unique(np.concatenate(list(base_idx.values())))
    n, num_seeds = len(models), len(seeds)
    data: dict[str, np.ndarray] = {
        spec.name: np.full(
            tuple({"model": n, "seed": num_seeds, "epoch": epochs}[d] for d in spec.dims),
            spec.fill,
            spec.dtype,
        )
        for spec in BENCHMARK.arrays
    }

    def fill(f: LegacyFile) -> None:
        seed = seed_of[f.path]
        s = int(np.searchsorted(seeds, seed))
        idx = base_idx[seed] if f.family == "base" else _indices(f)
        if f.family == "ext" and not np.isin(idx, base_idx[seed]).all():
            raise LegacyFormatError(f"{f.path.name}: rows for models that the base file of seed {seed} lacks")
        pos = np.searchsorted(models, idx)
        for column, values in f.columns.items():
            name = TO_ARRAY.get(column)
            if name is None:
                continue
            if values.ndim == 2:
                lengths = f.lengths.get(column, np.full(len(values), values.shape[1]))
                if values.shape[1] > epochs or np.any(lengths != epochs):
                    row = int(np.flatnonzero(lengths != epochs)[0]) if np.any(lengths != epochs) else 0
                    raise LegacyFormatError(
                        f"{f.path.name}: column {column!r} of model {f.columns['model_hash'][row]} has "
                        f"{int(lengths[row])} epochs, the header says {epochs}; every run lists every epoch"
                    )
                _check_values(f, column, BENCHMARK[name], values)
                data[name][pos, s, : values.shape[1]] = values
            else:
                _check_values(f, column, BENCHMARK[name], values)
                data[name][pos, s] = values
        if f.family == "base":
            _check_values(f, "train_time_s", TRAIN_SECONDS, f.columns["train_time_s"])
            data["train_seconds"][pos, s] = f.columns["train_time_s"]
            data["status"][pos, s] = STATUS_DONE

    for f in base.values():
        fill(f)
    del base, first
    for p in by_family.get("ext", []):
        fill(read_legacy_file(p))
    aliased = data["val_acc"][..., 0] == np.fmax.reduce(data["val_acc"], axis=-1)
    done = data["status"] == STATUS_DONE
    data["best_epoch"] = best_epochs(data["val_acc"], data["val_loss"])
    data["best_val_acc"] = np.where(
        data["best_epoch"] > 0,
        np.take_along_axis(data["val_acc"], np.maximum(data["best_epoch"] - 1, 0)[..., None], -1)[..., 0],
        np.nan,
    ).astype(np.float32)
    if mask_aliased_epoch1:
        for name in ("val_acc", "val_loss", "val_top5"):
            data[name][..., 0] = np.nan
    environments = Environments()
    for p in by_family.get("env", []):
        f = read_legacy_file(p)
        s = int(np.searchsorted(seeds, seed_of[f.path]))
        keys = [c for c in f.columns if c != "model_hash"]
        pos = np.searchsorted(models, _indices(f))
        for r in range(f.num_rows):
            data["env_id"][pos[r], s] = environments.add({k: str(f.columns[k][r]) for k in keys})
    for p in by_family.get("info", []):
        f = read_legacy_file(p)
        idx = _indices(f)
        inside = np.isin(idx, models)
        vec_index = _arch_fields_to_indices(f)
        wrong = np.flatnonzero(vec_index != idx)
        if wrong.size:
            raise LegacyFormatError(
                f"{f.path.name}: the arch_vec of model {f.columns['model_hash'][wrong[0]]} is model {vec_index[wrong[0]]}, "
                f"its hash says model {idx[wrong[0]]}"
            )
        pos = np.searchsorted(models, idx[inside])
        data["params"][pos] = f.columns["params"][inside]
        data["macs"][pos] = np.asarray(f.columns["flops"][inside], dtype=np.int64)
    provenance = {
        "source": "original Blox release files",
        "files": [{"name": p.name, "format": headers[p]["format"], "sha256": _sha256(p)} for p in paths],
        "epoch1_val_aliased_runs": int((aliased & done).sum()),
        "epoch1_val_masked": bool(mask_aliased_epoch1),
    }
    attrs = {
        "recipe_id": f"blox-release-{LEGACY_CONFIG_ID}",
        "recipe": {
            "name": "blox-release",
            "config_id": LEGACY_CONFIG_ID,
            "epochs": epochs,
            "dataset": dataset,
        },
        "dataset": dataset,
        "epochs": epochs,
        "is_partial": bool(n < NUM_MODELS or not done.all()),
        "environments": environments.records,
        "provenance": provenance,
        "val_epoch1_aliased": True,
    }
    check_output_path(out, overwrite=overwrite)
    latency_folder = Path(latency_out) if latency_out else default_latency_folder(out)
    latency_paths = [
        _write_latency(read_legacy_file(p), latency_folder, overwrite=overwrite)
        for p in by_family.get("bench", [])
    ]  # written first: the benchmark only ever names stores that exist
    attrs["latency_stores"] = [os.path.relpath(p, out.parent) for p in latency_paths]
    with atomic_store(out, overwrite=overwrite) as tmp:
        group = create_store(
            tmp,
            BENCHMARK,
            sizes={"model": n, "seed": num_seeds, "epoch": epochs},
            coords={"model": models, "seed": seeds, "epoch": np.arange(1, epochs + 1)},
            attrs=attrs,
        )
        for name, values in data.items():
            group[name][:] = values
        consolidate(tmp)
    logger.info(
        "imported %d released files (%d models, seeds %s) into %s", len(paths), n, seeds.tolist(), out
    )
    return out


def default_latency_folder(out: str | Path) -> Path:
    """Where an import puts the latency stores of a benchmark written to ``out``: a folder
    named after it beside it (``results/release.zarr`` -> ``results/release-latency``)."""
    out = Path(out)
    stem = out.name[: -len(".zarr")] if out.name.endswith(".zarr") else out.name
    return out.with_name(f"{stem}-latency")


def _check_values(
    f: LegacyFile, column: str, spec: ArraySpec, values: np.ndarray, *, allow_nan: bool = False
) -> None:
    """Refuse values the schema does not allow (e.g. an accuracy of 250 %, negative seconds)."""
    bad = spec.invalid(values)
    if not allow_nan and np.asarray(values).dtype.kind == "f":
        bad = bad | np.isnan(values)
    if np.any(bad):
        row = int(np.argwhere(bad)[0][0])
        value = np.asarray(values)[bad].ravel()[0]
        low, high = spec.valid_range or (-np.inf, np.inf)
        raise LegacyFormatError(
            f"{f.path.name}: column {column!r} of model {f.columns['model_hash'][row]} holds {float(value)!r}; "
            f"{spec.long_name} must be a finite number in {low:g}..{high:g} {spec.units if spec.units != '1' else ''}".rstrip()
        )


def _arch_fields_to_indices(f: LegacyFile) -> np.ndarray:
    """Model indices of the info file's arch vectors (vectorised through the raw-cell table)."""
    fields = np.asarray(f.columns["arch_vec"], dtype=np.int64).reshape(-1, 3, 5)
    ops_ok = ((fields[..., :2] >= 0) & (fields[..., :2] < len(OPS))).all(axis=(1, 2))
    flags_ok = ((fields[..., 2:] == 0) | (fields[..., 2:] == 1)).all(axis=(1, 2))
    if ops_ok.all() and flags_ok.all():
        pos = (
            fields[..., 0]
            + 3 * fields[..., 1]
            + 9 * fields[..., 2]
            + 18 * fields[..., 3]
            + 36 * fields[..., 4]
        )
        blocks = RAW_CELL_TO_BLOCK[pos]
        if (blocks >= 0).all():
            return blocks_to_indices(blocks)
    try:  # an invalid vector: the per-model conversion names what is wrong
        return np.array(
            [to_index([[[c[0]], c[1:]] for c in v]) for v in _fields_to_vecs(f.columns["arch_vec"])]
        )
    except InvalidArchitectureError as err:
        raise LegacyFormatError(f"{f.path.name}: an arch_vec is invalid ({err})") from None


def _fields_to_vecs(fields: np.ndarray) -> list[list[list[int]]]:
    """``(N, 15)`` arch fields -> ``(N, 3, 5)`` (op0, op1, prev, input, sc per stage)."""
    return np.asarray(fields).reshape(-1, 3, 5).tolist()


def _write_latency(f: LegacyFile, folder: Path, *, overwrite: bool) -> Path:
    device = str(f.header.get("device", family_of(f.path)[1]))
    idx = _indices(f)
    order = np.argsort(idx)
    _check_values(f, "latency", LATENCY_S, np.asarray(f.columns["latency"], dtype=np.float64), allow_nan=True)
    path = folder / f"latency-{device}.zarr"
    with atomic_store(path, overwrite=overwrite) as tmp:
        attrs = {
            "device": device,
            "device_kind": "legacy",
            "precision": "unknown",
            "protocol": {
                "name": "blox-release",
                "note": "the original recorded no protocol or units; seconds assumed",
            },
            "environment": {},
            "width": 32,
            "resolution": 32,
            "num_classes": 100,
        }
        group = create_store(
            tmp, LATENCY, sizes={"model": len(idx)}, coords={"model": idx[order]}, attrs=attrs
        )
        values = np.asarray(f.columns["latency"], dtype=np.float64)[order]
        group["latency_s"][:] = values
        if "done" in group:
            group["done"][:] = ~np.isnan(values)
        if "status" in group:
            group["status"][:] = np.where(np.isnan(values), 0, STATUS_DONE)
        consolidate(tmp)
    return path
