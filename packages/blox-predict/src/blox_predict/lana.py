"""LANA's network score (Molchanov et al., ECCV 2022): the sum of the three blocks' signatures
(SPEC §6; related-work §C).

A LANA block signature is the change of the teacher's validation accuracy (percentage points,
higher is better) when the teacher's stage is replaced by the distilled block. LANA scores a
network by adding its blocks' changes -- no learning at all. With ``affine=True`` the sum is
mapped to the target's scale by a least-squares line ``a * sum + b`` fitted on the training
set (an order-preserving map when ``a > 0``; Spearman/Kendall of the predictions are those
of the plain sum whenever ``a > 0``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from blox_space.errors import ConfigError

from .base import BasePredictor, check_is_fitted, check_targets, register_predictor, to_indices
from .donna import model_signatures, resolve_signatures
from .errors import TooFewPointsError

__all__ = ["LanaPredictor"]


@register_predictor("lana")
class LanaPredictor(BasePredictor):
    """LANA: predict ``S[0, b0] + S[1, b1] + S[2, b2]``, the sum of the model's three LANA
    signatures (validation-accuracy change in pp, higher = better).

    Args:
        signatures: a ``(3, 45)`` array ``[stage, block]`` of LANA signatures, or the path of a
            blockwise store (its ``lana_delta_acc`` at ``snapshot``).
        snapshot: snapshot epoch of the store (``None`` = the last). Only with a store path.
        affine: ``False`` (default): the plain sum, the training targets are only checked.
            ``True``: ``a * sum + b`` with ``(a, b)`` the least-squares line of the targets on
            the sums of the training models (``a = 0``, ``b`` = mean target when all training
            sums are equal); needs at least 2 training models.

    Fitted attributes: ``signatures_`` (the table used), ``slope_``, ``intercept_`` (1 and 0
    without ``affine``), ``train_``.

    Raises (in ``fit``):
        ConfigError: no signatures (says how to give them), a training or predicted model whose
            block has no signature (names the stage and block).
        TooFewPointsError: ``affine=True`` with fewer than 2 training models.
    """

    def __init__(self, *, signatures: np.ndarray | str | None = None, snapshot: int | None = None,
                 affine: bool = False) -> None:  # fmt: skip
        self.signatures = signatures
        self.snapshot = snapshot
        self.affine = affine

    def fit(self, archs: Sequence[Any], y: Any) -> LanaPredictor:
        owner = type(self).__name__
        models = to_indices(archs)
        target = check_targets(y, len(models))
        if not isinstance(self.affine, (bool, np.bool_)):
            raise ConfigError(f"{owner}: affine must be True or False, got {self.affine!r}")
        table = resolve_signatures(self.signatures, kind="lana", at=self.snapshot, owner=owner)
        sums = model_signatures(table, models, owner=owner, kind="lana").sum(axis=1)
        slope, intercept = 1.0, 0.0
        if self.affine:
            if len(models) < 2:
                raise TooFewPointsError(
                    f"{owner}(affine=True) needs at least 2 training models, got {len(models)}"
                )
            spread = sums - sums.mean()
            denom = float(spread @ spread)
            slope = float(spread @ (target - target.mean()) / denom) if denom > 0 else 0.0
            intercept = float(target.mean() - slope * sums.mean())
        self.signatures_, self.slope_, self.intercept_ = table, slope, intercept
        self.train_ = {"n": int(len(models))}
        self.is_fitted_ = True
        return self

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        check_is_fitted(self)
        models = to_indices(archs)
        sums = model_signatures(self.signatures_, models, owner=type(self).__name__, kind="lana").sum(axis=1)
        return np.asarray(self.slope_ * sums + self.intercept_, dtype=np.float64)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"slope": self.slope_, "intercept": self.intercept_}, {"signatures": self.signatures_}

    def _set_state(self, meta: Mapping[str, Any], tensors: Mapping[str, Any]) -> None:
        self.slope_, self.intercept_ = float(meta["slope"]), float(meta["intercept"])
        self.signatures_ = np.asarray(tensors["signatures"].numpy(), dtype=np.float64)
        self.is_fitted_ = True
