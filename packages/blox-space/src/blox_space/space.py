"""The whole space at once: all 91,125 models, their hashes and the raw-configuration census."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ._hash import model_hash
from .arch import indices_to_blocks
from .blocks import NUM_MODELS, NUM_RAW_CELLS, NUM_STAGES, RAW_CELL_TO_BLOCK

__all__ = ["all_block_ids", "compute_hashes", "raw_configuration_census", "write_hash_table"]


def all_block_ids() -> np.ndarray:
    """``(91125, 3)`` block ids of every model, by model index."""
    return indices_to_blocks(np.arange(NUM_MODELS))


def compute_hashes(indices: np.ndarray | None = None, *, workers: int | None = None) -> np.ndarray:
    """Compute model hashes from scratch (no bundled table), in parallel processes.

    Args:
        indices: model indices (contiguous ranges are fastest); all models when None.
        workers: processes to use; defaults to the CPUs available to this process.

    Returns:
        ``(N,)`` array of 32-char hex strings.
    """
    if indices is None:
        indices = np.arange(NUM_MODELS)
    indices = np.asarray(indices, dtype=np.int64)
    workers = workers or len(os.sched_getaffinity(0))
    if workers <= 1 or len(indices) < 2000:
        return _hash_positions((indices,))
    order = np.argsort(indices)
    sorted_idx = indices[order]
    # Chunks of consecutive positions; each worker gets a few so the load evens out.
    edges = np.linspace(0, len(indices), 4 * workers + 1).astype(int)
    pieces = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(_hash_positions, [(sorted_idx[a:b],) for a, b in pieces]))
    out = np.empty(len(indices), dtype="U32")
    out[order] = np.concatenate(parts)
    return out


def _hash_positions(args: tuple[np.ndarray]) -> np.ndarray:
    (idx,) = args
    return np.array([model_hash(tuple(b)) for b in indices_to_blocks(idx).tolist()], dtype="U32")


def raw_configuration_census() -> tuple[int, int]:
    """Enumerate all 72**3 = 373,248 raw configurations and count the distinct valid models.

    Returns:
        ``(raw, unique)``: the number of raw configurations and of distinct valid models
        (by block-id triple, each of which has one hash).
    """
    per_cell = RAW_CELL_TO_BLOCK.astype(np.int64)
    grids = np.meshgrid(*([per_cell] * NUM_STAGES), indexing="ij")
    blocks = np.stack([g.ravel() for g in grids], axis=-1)
    valid = (blocks >= 0).all(axis=1)
    unique = np.unique(blocks[valid], axis=0)
    return NUM_RAW_CELLS**NUM_STAGES, len(unique)


def write_hash_table(path: str | Path, *, workers: int | None = None) -> None:
    """Recompute every hash and write the bundled table (raw 16-byte digests by index)."""
    hashes = compute_hashes(workers=workers)
    Path(path).write_bytes(bytes.fromhex("".join(hashes.tolist())))


def build_space_store(
    out: str | Path,
    *,
    width: int = 32,
    resolution: int = 32,
    num_classes: int = 100,
    workers: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the space store: every block and every model with its block ids, index, hash,
    name, params, MACs, depth and uniform flag, at one network geometry.

    Hashes are recomputed from scratch (in ``workers`` processes), not read from the
    bundled table, so the store is an independent check of it. The store is written to a
    temporary path and moved into place when complete.

    Raises:
        StoreError: ``out`` exists and ``overwrite`` is False.
        InvalidGeometryError: an impossible width, resolution or class count.
    """
    from .blocks import BLOCKS, NUM_BLOCKS
    from .cost import block_costs, fixed_costs, space_costs
    from .schema import SPACE
    from .store import atomic_store, consolidate, create_store

    out = Path(out)
    fixed = fixed_costs(width=width, resolution=resolution, num_classes=num_classes)
    costs = space_costs(width=width, resolution=resolution, num_classes=num_classes)
    block_params, block_macs, block_depth = block_costs(width=width, resolution=resolution)
    blocks = all_block_ids()
    hashes = compute_hashes(workers=workers)
    block_names = np.array([b.name for b in BLOCKS])
    names = np.char.add(
        np.char.add(
            np.char.add(block_names[blocks[:, 0]], " | "), np.char.add(block_names[blocks[:, 1]], " | ")
        ),
        block_names[blocks[:, 2]],
    )
    with atomic_store(out, overwrite=overwrite) as tmp:
        group = create_store(
            tmp,
            SPACE,
            sizes={"model": NUM_MODELS, "stage": NUM_STAGES, "block": NUM_BLOCKS, "cell_field": 5},
            coords={"cell_field": np.array(["op0", "op1", "prev", "input", "sc"])},
            attrs={
                "width": width,
                "resolution": resolution,
                "num_classes": num_classes,
                "fixed_params": {k: v[0] for k, v in fixed.items()},
                "fixed_macs": {k: v[1] for k, v in fixed.items()},
            },
        )
        group["block_name"][:] = block_names
        group["block_scheme"][:] = np.array([b.scheme for b in BLOCKS])
        group["block_cell"][:] = np.array([[b.cell[0][0], *b.cell[1]] for b in BLOCKS], dtype=np.int8)
        group["block_depth"][:] = block_depth
        group["block_params"][:] = block_params
        group["block_macs"][:] = block_macs
        group["block_ids"][:] = blocks.astype(np.int8)
        group["hash"][:] = hashes
        group["name"][:] = names
        group["params"][:] = costs["params"]
        group["macs"][:] = costs["macs"]
        group["depth"][:] = costs["depth"]
        group["is_uniform"][:] = (blocks[:, 0] == blocks[:, 1]) & (blocks[:, 1] == blocks[:, 2])
        consolidate(tmp)
    return out
