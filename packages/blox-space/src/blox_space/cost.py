"""Analytic cost model: params, MACs (ptflops semantics) and depth, exact against the network.

Counting rules (facts §4.9, ptflops' module-hook backend): a conv costs
``out_elems * k*k*Cin/groups`` plus ``Cout * out_HW`` for its bias; BatchNorm ``2*numel``;
ReLU ``numel``; adaptive average pooling ``numel(input)``; linear ``in*out + out``; sigmoid,
flatten and tensor additions/multiplications are free. Params count every trainable tensor,
conv biases included (every conv of the network keeps its bias before BatchNorm).

Geometry: ``width`` is the stem's channel count ``C``; stage ``s`` runs at ``C * 2**s``
channels. ``resolution`` is the input side; every stage ends with a stride-2 reduction.
Depth counts the conv/linear layers on the longest path (SE 1x1 convs excluded).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._typing import ArchLike
from .arch import indices_to_blocks, to_blocks
from .blocks import BLOCKS, NUM_BLOCKS, NUM_MODELS, NUM_STAGES, OPS
from .geometry import Geometry, reduction_sides

__all__ = [
    "op_params",
    "op_macs",
    "block_costs",
    "fixed_costs",
    "model_params",
    "model_macs",
    "model_depth",
    "space_costs",
]


def _geometry(width: int, resolution: int, num_classes: int = 100) -> Geometry:
    return Geometry(width=width, resolution=resolution, num_classes=num_classes)


def _bconv_widths(c: int) -> tuple[int, ...]:
    # bottleneck ratios (2, 1, 0.5) -> int(C // r), twice over
    return (c // 2, c, int(c // 0.5)) * 2


def op_params(op: int, c: int) -> int:
    """Params of one op at ``c`` channels."""
    name = OPS[op]
    if name == "conv":
        return 36 * c * c + 12 * c
    if name == "mbconv":
        return 56 * c * c + 26 * c
    return sum(2 * c * w + 31 * w + 3 * c for w in _bconv_widths(c))


def op_macs(op: int, c: int, side: int) -> int:
    """MACs of one op at ``c`` channels on a ``side x side`` feature map."""
    p = side * side
    name = OPS[op]
    if name == "conv":
        return 36 * c * c * p + 16 * c * p
    if name == "mbconv":
        return 40 * c * c * p + 28 * c * p + 16 * c * c + 12 * c
    return sum(2 * c * w * p + 33 * w * p + 4 * c * p for w in _bconv_widths(c))


def _reduction_cost(cin: int, side: int) -> tuple[int, int]:
    cout = 2 * cin
    main, short = reduction_sides(side)
    pm, ps = main * main, short * short
    params = 13 * cin * cout + 9 * cout * cout + 9 * cout
    macs = (
        (9 * cin * cout + 4 * cout) * pm
        + (9 * cout * cout + 4 * cout) * pm
        + (4 * cin * cout + 4 * cout) * ps
    )
    return params, macs


@lru_cache(maxsize=64)
def _fixed(width: int, resolution: int, num_classes: int) -> dict[str, tuple[int, int]]:
    geo = _geometry(width, resolution, num_classes)
    parts = {"stem": (30 * width, 31 * width * resolution * resolution)}
    for stage in range(NUM_STAGES):
        parts[f"reduction{stage}"] = _reduction_cost(geo.channels[stage], geo.sides[stage])
    features = 2 * geo.channels[-1]
    parts["head"] = (
        features * num_classes + num_classes,
        features * geo.final_side**2 + features * num_classes + num_classes,
    )
    return parts


def fixed_costs(
    *, width: int = 32, resolution: int = 32, num_classes: int = 100
) -> dict[str, tuple[int, int]]:
    """``{part: (params, macs)}`` for the stem, the three reductions and the head (pool + linear)."""
    geo = _geometry(width, resolution, num_classes)  # validates
    return dict(_fixed(geo.width, geo.resolution, geo.num_classes))


@lru_cache(maxsize=64)
def _block_costs(width: int, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    geo = _geometry(width, resolution)
    params = np.zeros((NUM_STAGES, NUM_BLOCKS), dtype=np.int64)
    macs = np.zeros((NUM_STAGES, NUM_BLOCKS), dtype=np.int64)
    for stage in range(NUM_STAGES):
        c, side = geo.channels[stage], geo.sides[stage]
        for block in BLOCKS:
            params[stage, block.id] = sum(op_params(op, c) for op in block.ops)
            macs[stage, block.id] = sum(op_macs(op, c, side) for op in block.ops)
    depth = np.array([b.depth for b in BLOCKS], dtype=np.int64)
    for arr in (params, macs, depth):
        arr.setflags(write=False)
    return params, macs, depth


def block_costs(*, width: int = 32, resolution: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (stage, block) cell costs.

    Returns:
        ``(params, macs, depth)``: two ``(3, 45)`` int64 arrays and a ``(45,)`` depth array.
        A block's cost is the sum over its surviving ops; reductions are in :func:`fixed_costs`.
    """
    geo = _geometry(width, resolution)  # validates
    return _block_costs(geo.width, geo.resolution)


def _fixed_totals(width: int, resolution: int, num_classes: int) -> tuple[int, int]:
    parts = fixed_costs(width=width, resolution=resolution, num_classes=num_classes)
    return sum(p for p, _ in parts.values()), sum(m for _, m in parts.values())


def model_params(arch: ArchLike, *, width: int = 32, resolution: int = 32, num_classes: int = 100) -> int:
    """Trainable parameters of the built model.

    Example:
        >>> model_params(0)
        2917604
    """
    blocks = to_blocks(arch)
    params, _, _ = block_costs(width=width, resolution=resolution)
    fixed, _ = _fixed_totals(width, resolution, num_classes)
    return fixed + int(sum(params[s, b] for s, b in enumerate(blocks)))


def model_macs(arch: ArchLike, *, width: int = 32, resolution: int = 32, num_classes: int = 100) -> int:
    """Multiply-accumulates of one forward pass at batch 1 (ptflops semantics).

    Example:
        >>> model_macs(0)
        278475876
    """
    blocks = to_blocks(arch)
    _, macs, _ = block_costs(width=width, resolution=resolution)
    _, fixed = _fixed_totals(width, resolution, num_classes)
    return fixed + int(sum(macs[s, b] for s, b in enumerate(blocks)))


def model_depth(arch: ArchLike) -> int:
    """Conv/linear layers on the longest path: stem + per stage (cell + 2 reduction convs) + linear."""
    return 2 + sum(BLOCKS[b].depth + 2 for b in to_blocks(arch))


def space_costs(
    indices: np.ndarray | None = None, *, width: int = 32, resolution: int = 32, num_classes: int = 100
) -> dict[str, np.ndarray]:
    """Vectorised costs of many models (all 91,125 by default).

    Returns:
        ``{"params", "macs", "depth"}``, each an ``(N,)`` int64 array aligned with ``indices``.
    """
    idx = np.arange(NUM_MODELS) if indices is None else np.asarray(indices)
    blocks = indices_to_blocks(idx)
    params, macs, depth = block_costs(width=width, resolution=resolution)
    fixed_p, fixed_m = _fixed_totals(width, resolution, num_classes)
    stages = np.arange(NUM_STAGES)
    return {
        "params": fixed_p + params[stages, blocks].sum(axis=-1),
        "macs": fixed_m + macs[stages, blocks].sum(axis=-1),
        "depth": 2 + (depth[blocks] + 2).sum(axis=-1),
    }
