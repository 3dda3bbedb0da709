"""Merging benchmark shard stores into the final benchmark store (``blox-space merge``).

The merge is the one place where shards meet: it validates them (one recipe, no duplicate
models, no gaps unless a partial benchmark is asked for), writes the final store into a
temporary path, consolidates its metadata once and moves it into place.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .benchmark import check_benchmark_store
from .errors import MergeError
from .schema import BENCHMARK, BENCHMARK_MODEL_CHUNK, STATUS_FAILED, STATUS_PENDING
from .shard import canonical_json
from .store import atomic_store, consolidate, create_store, open_store

__all__ = ["merge_shards", "merged_chunk"]

logger = logging.getLogger(__name__)

#: Attributes every shard of one benchmark must share.
_SHARED_ATTRS = ("recipe_id", "recipe", "dataset", "epochs")


def merged_chunk(shard_sizes: Sequence[int], *, target: int = BENCHMARK_MODEL_CHUNK) -> int:
    """Model-chunk length of the merged store.

    With ``g`` the gcd of the shard sizes (the bucket size when buckets are equal): a
    multiple of ``g`` near ``target`` when ``g <= target``, so every chunk boundary is a
    bucket boundary; otherwise the largest divisor of ``g`` that is at most ``target``, so
    every bucket is whole chunks. Falls back to ``target`` when that divisor is tiny.
    """
    g = 0
    for size in shard_sizes:
        g = math.gcd(g, int(size))
    if g <= 0:
        return target
    if g <= target:
        return g * max(1, round(target / g))
    best = max(d for d in range(1, target + 1) if g % d == 0)
    return best if best * 4 >= target else target


def _describe(paths: Sequence[Path], picks: Sequence[int]) -> str:
    names = [paths[i].name for i in picks[:3]]
    return ", ".join(names) + (f" and {len(picks) - 3} more" if len(picks) > 3 else "")


def _check_shared(paths: list[Path], attrs: list[dict[str, Any]], seeds: list[np.ndarray]) -> None:
    for key in _SHARED_ATTRS:
        values = [canonical_json(a.get(key)) for a in attrs]
        if len(set(values)) > 1:
            first = values[0]
            odd = [i for i, v in enumerate(values) if v != first]
            raise MergeError(
                f"shards have mixed {key}: {paths[0].name} has {json.loads(first)!r} but "
                f"{_describe(paths, odd)} {'has' if len(odd) == 1 else 'have'} "
                f"{json.loads(values[odd[0]])!r}; merge shards of one recipe only"
            )
    for i, s in enumerate(seeds):
        if not np.array_equal(s, seeds[0]):
            raise MergeError(
                f"shards have different seeds: {paths[0].name} has {seeds[0].tolist()}, {paths[i].name} has {s.tolist()}"
            )


def _check_buckets(paths: list[Path], attrs: list[dict[str, Any]]) -> list[str]:
    """Problems with the shards' bucket labels: duplicates raise, missing buckets are returned."""
    buckets = [a.get("bucket") for a in attrs]
    if all(b is None for b in buckets):
        return []
    if any(b is None for b in buckets):
        raise MergeError("some shards carry a bucket label and some do not; merge shards of one run")
    counts = {int(b["count"]) for b in buckets}  # type: ignore[index]
    if len(counts) > 1:
        raise MergeError(f"shards come from runs with different bucket counts {sorted(counts)}")
    count = counts.pop()
    seen: dict[int, int] = {}
    for i, b in enumerate(buckets):
        index = int(b["index"])  # type: ignore[index]
        if index in seen:
            raise MergeError(f"bucket {index} appears twice: {paths[seen[index]].name} and {paths[i].name}")
        seen[index] = i
    missing = sorted(set(range(count)) - set(seen))
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        return [f"{len(missing)} of {count} buckets are missing ({shown})"]
    return []


def merge_shards(
    shards: Sequence[str | Path],
    out: str | Path,
    *,
    allow_partial: bool = False,
    expected_models: Sequence[int] | np.ndarray | None = None,
    overwrite: bool = False,
) -> Path:
    """Build the final benchmark store from shard stores.

    Args:
        shards: shard store paths (any order).
        out: the final store (written to a temporary sibling, then moved into place).
        allow_partial: accept gaps (missing buckets, missing expected models, pending
            runs); the result is marked ``is_partial`` and its provenance lists the gaps.
        expected_models: model indices the benchmark must cover (e.g. all 91,125).
        overwrite: replace an existing ``out``.

    Returns:
        ``out`` as a Path.

    Example:
        >>> merge_shards(sorted(Path("results/train/paper").glob("bucket-*.zarr")),  # doctest: +SKIP
        ...              "results/benchmark/paper.zarr", expected_models=range(91125))

    Raises:
        MergeError: no shards, mixed recipes / datasets / epochs / seeds, a model or bucket
            in two shards, or gaps while ``allow_partial`` is False. The message names the
            shards and models involved.
        StoreError / SchemaError: a shard is not a valid benchmark store.
    """
    paths = [Path(p) for p in shards]
    if not paths:
        raise MergeError("no shard stores given; pass at least one SHARD")
    if len({p.resolve() for p in paths}) != len(paths):
        raise MergeError("a shard is given twice; pass each shard once")
    groups = [open_store(p, "benchmark") for p in paths]
    for path, group in zip(paths, groups):
        check_benchmark_store(group, path)
    attrs = [dict(g.attrs) for g in groups]
    seeds = [g["seed"][:] for g in groups]
    _check_shared(paths, attrs, seeds)
    gaps = _check_buckets(paths, attrs)

    models = [g["model"][:] for g in groups]
    owner = np.concatenate([np.full(len(m), i) for i, m in enumerate(models)])
    all_models = np.concatenate(models)
    order = np.argsort(all_models, kind="stable")
    sorted_models = all_models[order]
    dup = np.flatnonzero(np.diff(sorted_models) == 0)
    if dup.size:
        model = int(sorted_models[dup[0]])
        where = sorted({int(owner[order[dup[0]]]), int(owner[order[dup[0] + 1]])})
        raise MergeError(
            f"{dup.size} model(s) appear in more than one shard, e.g. model {model} in "
            f"{_describe(paths, where)}; each model belongs to exactly one shard"
        )
    if expected_models is not None:
        expected = np.unique(np.asarray(expected_models, dtype=np.int64))
        missing = np.setdiff1d(expected, sorted_models)
        if missing.size:
            gaps.append(f"{missing.size} expected model(s) are in no shard (e.g. {missing[:5].tolist()})")
    statuses = [g["status"][:] for g in groups]
    pending = [int((s == STATUS_PENDING).sum()) for s in statuses]
    if sum(pending):
        worst = [i for i, n in enumerate(pending) if n]
        gaps.append(
            f"{sum(pending)} run(s) are still pending in {_describe(paths, worst)} "
            "(unfinished shards; rerun their jobs)"
        )
    if gaps and not allow_partial:
        raise MergeError("; ".join(gaps) + "; pass --allow-partial to build a partial benchmark")
    num_failed = int(sum((s == STATUS_FAILED).sum() for s in statuses))
    if num_failed:
        logger.warning("%d run(s) failed; they are kept, marked failed, with their reasons", num_failed)

    # environments: one list for the whole store, ids remapped per shard
    environments: list[Any] = []
    env_keys: dict[str, int] = {}
    env_maps = []
    for a in attrs:
        mapping = []
        for env in a.get("environments", []):
            key = canonical_json(env)
            if key not in env_keys:
                env_keys[key] = len(environments)
                environments.append(json.loads(key))
            mapping.append(env_keys[key])
        env_maps.append(np.array(mapping + [-1], dtype=np.int32))  # index -1 maps to -1

    n = len(sorted_models)
    positions = [np.searchsorted(sorted_models, m) for m in models]
    chunk = merged_chunk([len(m) for m in models])
    first = attrs[0]
    merged_attrs = {
        "recipe_id": first["recipe_id"],
        "recipe": first["recipe"],
        "dataset": first["dataset"],
        "epochs": int(first["epochs"]),
        "is_partial": bool(gaps),
        "environments": environments,
        "provenance": {
            "merged_from": [p.name for p in paths],
            "num_failed": num_failed,
            "gaps": gaps,
        },
    }
    if any(a.get("val_epoch1_aliased") for a in attrs):
        merged_attrs["val_epoch1_aliased"] = True
    epochs = int(first["epochs"])
    out = Path(out)
    with atomic_store(out, overwrite=overwrite) as tmp:
        merged = create_store(
            tmp,
            BENCHMARK,
            sizes={"model": n, "seed": len(seeds[0]), "epoch": epochs},
            coords={"model": sorted_models, "seed": seeds[0], "epoch": np.arange(1, epochs + 1)},
            chunks={"model": chunk},
            attrs=merged_attrs,
        )
        for spec in BENCHMARK.arrays:
            shape = tuple(merged[spec.name].shape)
            buffer = np.full(shape, spec.fill, dtype=spec.dtype)
            for i, group in enumerate(groups):
                values = group[spec.name][:]
                if spec.name == "env_id":
                    values = env_maps[i][values]
                buffer[positions[i]] = values
            merged[spec.name][:] = buffer
        consolidate(tmp)
    logger.info("merged %d shards (%d models) into %s", len(paths), n, out)
    return out
