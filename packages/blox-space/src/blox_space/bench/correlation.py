"""Rank correlations of the blockwise experiments (paper Figures 8, 9 and 11), numpy only.

* :func:`spearman`: Spearman's rho of two score vectors over the pairs where both are finite
  (average ranks for ties), NaN when fewer than three pairs or one side is constant.
* :func:`block_oracle`: the *oracle* score of every (stage, block): the best accuracy of a
  model that contains the block at that stage (SPEC §5b; the paper ranks blocks by it), NaN for
  blocks no given model contains.
* :func:`signature_rho`: per stage, Spearman's rho between a block signature and the oracle,
  with the signature's sign chosen so that higher means better (DONNA's NSR is a loss: lower
  is better, so it is negated).

Example:
    >>> import numpy as np
    >>> round(spearman([1, 2, 3, 4], [10, 20, 40, 30]), 3)
    0.8
    >>> oracle = block_oracle([0, 1], [50.0, 60.0])   # blocks (0, 0, 0) and (1, 0, 0)
    >>> oracle[0, :2].tolist(), oracle[1, 0], bool(np.isnan(oracle[0, 2]))
    ([50.0, 60.0], np.float64(60.0), True)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..arch import indices_to_blocks
from ..blocks import NUM_BLOCKS, NUM_STAGES
from ..errors import QueryError

__all__ = ["SIGNATURE_HIGHER_IS_BETTER", "block_oracle", "signature_rho", "spearman"]

#: Whether a higher value of a signature means a better block: DONNA's NSR is a distillation
#: loss (lower = closer to the teacher); LANA's delta accuracy is a gain.
SIGNATURE_HIGHER_IS_BETTER = {"donna": False, "lana": True}


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (1..n; ties share the mean of their ranks)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1, dtype=np.float64)
    uniq, inverse = np.unique(values, return_inverse=True)
    if len(uniq) < len(values):  # average the ranks of tied values
        sums = np.bincount(inverse, weights=ranks)
        counts = np.bincount(inverse)
        ranks = (sums / counts)[inverse]
    return ranks


def spearman(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman's rank correlation of ``a`` and ``b`` over the pairs where both are finite.

    Returns:
        rho in [-1, 1], or NaN with fewer than 3 finite pairs or a constant side.

    Raises:
        QueryError: ``a`` and ``b`` differ in length.
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise QueryError(f"spearman needs two score vectors of one length, got {len(a)} and {len(b)}")
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3:
        return float("nan")
    ra, rb = _ranks(a[keep]), _ranks(b[keep])
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else float("nan")


def block_oracle(models: ArrayLike, accuracy: ArrayLike) -> np.ndarray:
    """``(3, 45)`` best accuracy among ``models`` containing each block at each stage.

    Args:
        models: model indices.
        accuracy: one score per model (NaN = not measured; ignored).

    Returns:
        float64 array, NaN where no model with a finite score holds the block.

    Raises:
        QueryError: lengths differ.
        InvalidArchitectureError: an index is out of range.
    """
    models = np.asarray(models, dtype=np.int64).ravel()
    accuracy = np.asarray(accuracy, dtype=np.float64).ravel()
    if models.shape != accuracy.shape:
        raise QueryError(f"block_oracle needs one accuracy per model, got {len(models)} and {len(accuracy)}")
    oracle = np.full((NUM_STAGES, NUM_BLOCKS), -np.inf)
    keep = np.isfinite(accuracy)
    blocks = indices_to_blocks(models[keep]).reshape(-1, NUM_STAGES)
    for stage in range(NUM_STAGES):
        np.maximum.at(oracle[stage], blocks[:, stage], accuracy[keep])
    oracle[np.isneginf(oracle)] = np.nan
    return oracle


def signature_rho(signature: ArrayLike, oracle: ArrayLike, *, kind: str) -> np.ndarray:
    """``(3,)`` Spearman rho per stage between a ``(3, 45)`` signature and the oracle.

    Args:
        signature: e.g. :meth:`blox_space.BlockwiseResults.donna` or ``.lana``.
        oracle: :func:`block_oracle`.
        kind: ``"donna"`` or ``"lana"`` (:data:`SIGNATURE_HIGHER_IS_BETTER`).

    Raises:
        QueryError: unknown kind or shapes other than (3, 45).
    """
    if kind not in SIGNATURE_HIGHER_IS_BETTER:
        raise QueryError(f"unknown signature {kind!r}; known: {', '.join(SIGNATURE_HIGHER_IS_BETTER)}")
    signature = np.asarray(signature, dtype=np.float64)
    oracle = np.asarray(oracle, dtype=np.float64)
    shape = (NUM_STAGES, NUM_BLOCKS)
    if signature.shape != shape or oracle.shape != shape:
        raise QueryError(
            f"signature and oracle must be {shape} arrays, got {signature.shape} and {oracle.shape}"
        )
    sign = 1.0 if SIGNATURE_HIGHER_IS_BETTER[kind] else -1.0
    return np.array([spearman(sign * signature[s], oracle[s]) for s in range(NUM_STAGES)])
