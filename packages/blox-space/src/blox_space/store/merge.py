"""Merging shard stores into one store of the same kind: the one merge every package uses
(``blox-space merge`` for benchmarks, ``blox-hw merge`` for latencies, and the coming kinds).

The store spec drives it (:class:`~blox_space.store.spec.StoreSpec`): shards are split along
``spec.merge_dim`` (``model`` for benchmarks and latencies; ``(stage, block)`` for blockwise stores,
whose shards tile that grid and whose merge always covers ``spec.merge_expected``); every other
coordinate and the ``spec.match_attrs`` must agree; an ``environments`` list indexed by
``spec.env_index`` is de-duplicated and re-indexed. The merge validates the shards (no duplicates, no gaps unless a
partial store is asked for), writes the result into a temporary path, consolidates its metadata
once and moves it into place. It never writes over one of its inputs.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from ..errors import MergeError
from .benchmark import BENCHMARK_MODEL_CHUNK
from .environments import Environments, canonical_json
from .group import atomic_store, consolidate, create_store, open_store, read_array
from .spec import STATUS_FAILED, STATUS_PENDING, StoreSpec, get_store_spec

__all__ = ["merge_stores", "merge_shards", "merged_chunk"]

logger = logging.getLogger(__name__)


def merged_chunk(shard_sizes: Sequence[int], *, target: int = BENCHMARK_MODEL_CHUNK) -> int:
    """Chunk length along the merge dimension of the merged store.

    With ``g`` the gcd of the shard sizes (the bucket size when buckets are equal): a multiple
    of ``g`` near ``target`` when ``g <= target``, so every chunk boundary is a bucket boundary;
    otherwise the largest divisor of ``g`` that is at most ``target``, so every bucket is whole
    chunks. Falls back to ``target`` when that divisor is tiny.
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


def _check_inputs(paths: list[Path], out: Path) -> None:
    if not paths:
        raise MergeError("no shard stores given; pass at least one SHARD")
    resolved = [p.resolve() for p in paths]
    for i, r in enumerate(resolved):
        if r in resolved[:i]:
            raise MergeError(
                f"shard {paths[i].name} is given twice: its entries would be in more than one shard; "
                "pass each shard once"
            )
    if out.resolve() in resolved:
        raise MergeError(f"--out {out} is one of the shards being merged; write the merged store elsewhere")


def _check_shared(spec: StoreSpec, paths: list[Path], groups: list[zarr.Group]) -> None:
    attrs = [dict(g.attrs) for g in groups]
    for key in spec.match_attrs:
        values = [canonical_json(a.get(key)) for a in attrs]
        if len(set(values)) > 1:
            odd = [i for i, v in enumerate(values) if v != values[0]]
            raise MergeError(
                f"shards have mixed {key}: {paths[0].name} has {json.loads(values[0])!r} but "
                f"{_describe(paths, odd)} {'has' if len(odd) == 1 else 'have'} "
                f"{json.loads(values[odd[0]])!r}; merge shards of one {spec.kind} only"
            )
    for coord in spec.coords:
        if coord.name in spec.merge_dims:
            continue
        first = groups[0][coord.name][:]
        for path, group in zip(paths[1:], groups[1:]):
            values = group[coord.name][:]
            if not np.array_equal(values, first):
                raise MergeError(
                    f"shards have different {coord.name}s: {paths[0].name} has {first.tolist()[:10]}, "
                    f"{path.name} has {values.tolist()[:10]}"
                )


def _check_buckets(paths: list[Path], groups: list[zarr.Group]) -> list[str]:
    """Problems with the shards' bucket labels: duplicates raise, missing buckets are returned."""
    buckets = [g.attrs.get("bucket") for g in groups]
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


def merge_stores(
    shards: Sequence[str | Path],
    out: str | Path,
    *,
    kind: str | None = None,
    allow_partial: bool = False,
    expected_models: Sequence[int] | np.ndarray | None = None,
    overwrite: bool = False,
    producer: str = "blox-space",
) -> Path:
    """Build one store from shard stores of one kind.

    Args:
        shards: shard store paths (any order).
        out: the merged store (written to a temporary sibling, then moved into place); never
            one of ``shards``.
        kind: the store kind every shard must be (default: the first shard's).
        allow_partial: accept gaps (missing buckets, missing expected models, pending runs);
            the result is marked ``is_partial`` and its provenance lists the gaps.
        expected_models: model indices the merged store must cover (e.g. all 91,125).
        overwrite: replace an existing ``out``.
        producer: distribution recorded as the merged store's producer.

    Returns:
        ``out`` as a Path.

    Example:
        >>> merge_stores(sorted(Path("results/train/paper").glob("bucket-*.zarr")),  # doctest: +SKIP
        ...              "results/benchmark/paper.zarr", expected_models=range(91125))

    Raises:
        MergeError: no shards, a shard given twice or as ``out``, a kind that does not merge,
            mixed kinds / recipes / devices / seeds, an entry or bucket in two shards, or gaps
            while ``allow_partial`` is False. The message names the shards involved.
        StoreError / SchemaError / DamagedStoreError: a shard is not a valid store.
    """
    paths, out = [Path(p) for p in shards], Path(out)
    _check_inputs(paths, out)
    groups = [open_store(p, kind) for p in paths]
    kinds = [str(g.attrs["store_kind"]) for g in groups]
    odd = [i for i, k in enumerate(kinds) if k != kinds[0]]
    if odd:
        raise MergeError(
            f"shards of different kinds: {paths[0].name} is {kinds[0]!r}, {paths[odd[0]].name} is {kinds[odd[0]]!r}"
        )
    spec = get_store_spec(kinds[0])
    dims = spec.merge_dims
    if not dims:
        raise MergeError(f"{spec.kind} stores are not merged from shards")
    if expected_models is not None and dims != ("model",):
        raise MergeError(
            f"expected models apply to stores merged along model; {spec.kind} shards tile {dims}"
        )
    _check_shared(spec, paths, groups)
    gaps = _check_buckets(paths, groups)

    labels = [{d: read_array(g, d) for d in dims} for g in groups]
    union = {d: np.unique(np.concatenate([lab[d] for lab in labels])) for d in dims}
    for d, full in spec.merge_expected.items():  # e.g. every stage and block, held or not
        union[d] = np.union1d(union[d], np.asarray(full, dtype=union[d].dtype))
    positions = [{d: np.searchsorted(union[d], lab[d]) for d in dims} for lab in labels]
    cover = np.zeros(tuple(len(union[d]) for d in dims), dtype=np.int32)
    for pos in positions:
        cover[np.ix_(*(pos[d] for d in dims))] += 1
    _check_cover(spec, paths, labels, union, cover, gaps)
    merged = union[dims[0]]
    if expected_models is not None:
        expected = np.unique(np.asarray(expected_models, dtype=np.int64))
        missing = np.setdiff1d(expected, merged)
        if missing.size:
            gaps.append(f"{missing.size} expected model(s) are in no shard (e.g. {missing[:5].tolist()})")
    status_name = "status" if "status" in spec else None
    statuses = [read_array(g, status_name) for g in groups] if status_name else []
    pending = [int((s == STATUS_PENDING).sum()) for s in statuses]
    if sum(pending):
        worst = [i for i, n in enumerate(pending) if n]
        gaps.append(
            f"{sum(pending)} run(s) are still pending in {_describe(paths, worst)} (unfinished shards; rerun their jobs)"
        )
    if gaps and not allow_partial:
        raise MergeError("; ".join(gaps) + "; pass --allow-partial to build a partial store")
    num_failed = int(sum((s == STATUS_FAILED).sum() for s in statuses))
    if num_failed:
        logger.warning("%d run(s) failed; they are kept, marked failed, with their reasons", num_failed)

    environments = Environments()
    env_maps = [environments.remap(g.attrs.get("environments", [])) for g in groups] if spec.env_index else []
    attrs = _merged_attrs(spec, paths, groups, gaps=gaps, num_failed=num_failed)
    if spec.env_index:
        attrs["environments"] = environments.records
    first = groups[0]
    sizes = {d: n for a in spec.all_arrays for d, n in zip(a.dims, first[a.name].shape)}
    sizes.update({d: len(union[d]) for d in dims})
    coords = {c.name: first[c.name][:] for c in spec.coords if c.name not in dims}
    coords.update(union)
    chunks = {dims[0]: merged_chunk([len(lab[dims[0]]) for lab in labels])} if len(dims) == 1 else {}
    with atomic_store(out, overwrite=overwrite) as tmp:
        store = create_store(
            tmp, spec, sizes=sizes, coords=coords, chunks=chunks, attrs=attrs, producer=producer
        )  # fmt: skip
        for array in spec.arrays:
            if not set(array.dims) & set(dims):
                store[array.name][:] = read_array(first, array.name)
                continue
            shape = store[array.name].shape
            buffer = np.full(shape, array.fill, dtype=array.dtype)
            for i, group in enumerate(groups):
                values = read_array(group, array.name)
                if array.name == spec.env_index:
                    values = env_maps[i][values]
                index = np.ix_(
                    *(positions[i][d] if d in dims else np.arange(n) for d, n in zip(array.dims, shape))
                )
                buffer[index] = values
            store[array.name][:] = buffer
        consolidate(tmp)
    logger.info("merged %d %s shards (%d %ss) into %s", len(paths), spec.kind, len(merged), dims[0], out)
    return out


def _check_cover(
    spec: StoreSpec,
    paths: list[Path],
    labels: list[dict[str, np.ndarray]],
    union: dict[str, np.ndarray],
    cover: np.ndarray,
    gaps: list[str],
) -> None:
    """Every entry of the merge grid (a model; a (stage, block) pair ...) in exactly one shard:
    an entry in two shards raises; entries in none are gaps (only possible with several merge
    dimensions, e.g. a stage whose block chunks are not all there)."""
    dims = spec.merge_dims
    name = dims[0] if len(dims) == 1 else f"({', '.join(dims)})"
    twice = np.argwhere(cover > 1)
    if twice.size:
        cell = tuple(union[d][k] for d, k in zip(dims, twice[0]))
        where = [i for i, lab in enumerate(labels) if all(np.isin(v, lab[d]) for d, v in zip(dims, cell))]
        shown = cell[0] if len(dims) == 1 else "(" + ", ".join(str(v) for v in cell) + ")"
        raise MergeError(
            f"{len(twice)} {name}(s) appear in more than one shard, e.g. {name} {shown} in "
            f"{_describe(paths, where)}; each {name} belongs to exactly one shard"
        )
    none = np.argwhere(cover == 0)
    if none.size:
        cell = ", ".join(str(union[d][k]) for d, k in zip(dims, none[0]))
        gaps.append(f"{len(none)} of {cover.size} {name} entries are in no shard (e.g. ({cell}))")


def _merged_attrs(
    spec: StoreSpec, paths: list[Path], groups: list[zarr.Group], *, gaps: list[str], num_failed: int
) -> dict[str, Any]:
    """Group attributes of the merged store: the first shard's required attributes (the
    matched ones are equal in all), the carried optional ones, partiality and provenance."""
    first = dict(groups[0].attrs)
    attrs = {key: first[key] for key in spec.required_attrs if key in first}
    for key in spec.carry_attrs:
        values = [g.attrs[key] for g in groups if key in g.attrs]
        if values:
            attrs[key] = any(values) if all(isinstance(v, bool) for v in values) else values[0]
    attrs["is_partial"] = bool(gaps)
    attrs["provenance"] = {"merged_from": [p.name for p in paths], "num_failed": num_failed, "gaps": gaps}
    return attrs


def merge_shards(
    shards: Sequence[str | Path],
    out: str | Path,
    *,
    allow_partial: bool = False,
    expected_models: Sequence[int] | np.ndarray | None = None,
    overwrite: bool = False,
) -> Path:
    """Build the final benchmark store from benchmark shard stores: :func:`merge_stores` with
    ``kind="benchmark"`` (see it for arguments and errors).

    Example:
        >>> merge_shards(sorted(Path("results/train/paper").glob("bucket-*.zarr")),  # doctest: +SKIP
        ...              "results/benchmark/paper.zarr", expected_models=range(91125))
    """
    return merge_stores(
        shards,
        out,
        kind="benchmark",
        allow_partial=allow_partial,
        expected_models=expected_models,
        overwrite=overwrite,
    )
