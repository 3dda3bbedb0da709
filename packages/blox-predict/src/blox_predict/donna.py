"""DONNA's accuracy predictor (Moons et al., ICCV 2021): ridge regression on the block
signatures of a model's three stages (SPEC §6; related-work §B).

A block signature is the block's distillation loss -- the validation NSR after blockwise
distillation from a teacher, lower is better -- looked up per (stage, block) in a ``(3, 45)``
table. A model's features are its three signatures (first order), plus their squares and
pairwise products (second order, 9 features). The regression learns the sign, so predictions
are still "higher = better model".

Also the shared pieces of the signature predictors (:mod:`blox_predict.lana`) and the ridge
fit the proxy predictor uses: :func:`resolve_signatures`, :func:`model_signatures`,
:func:`ridge_fit`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
from blox_space.arch import indices_to_blocks
from blox_space.blocks import NUM_BLOCKS, NUM_STAGES
from blox_space.errors import ConfigError

from .base import BasePredictor, check_is_fitted, check_targets, register_predictor, to_indices
from .errors import TooFewPointsError

__all__ = ["DonnaPredictor", "resolve_signatures", "model_signatures", "ridge_fit", "signature_features"]

_KINDS = {"donna": ("DONNA", "donna", "epoch"), "lana": ("LANA", "lana", "snapshot")}


def resolve_signatures(signatures: Any, *, kind: str, at: int | None, owner: str) -> np.ndarray:
    """The ``(3, 45)`` float64 signature table ``[stage, block]`` of a predictor's
    ``signatures`` hyperparameter.

    Args:
        signatures: a ``(3, 45)`` array, or the path of a blockwise store (read with
            :func:`blox_space.open_blockwise`: ``.donna(at)`` / ``.lana(at)``).
        kind: ``"donna"`` (NSR at distillation epoch ``at``) or ``"lana"`` (Δacc at snapshot ``at``).
        at: the epoch / snapshot (``None``: the store's last).
        owner: the predictor's class name, for messages.

    Raises:
        ConfigError: no signatures, a wrong shape, or infinite values (NaN = not distilled is allowed).
        StoreError / SchemaError / QueryError: the store cannot be read or lacks that epoch.
    """
    label, method, what = _KINDS[kind]
    if signatures is None:
        raise ConfigError(
            f"{owner} needs {label} signatures: pass signatures=<a (3, 45) array [stage, block]> or "
            f"signatures=<path of a blockwise store> (e.g. results/blockwise/M1.zarr), and {what}=... to "
            f"choose the {what} (default: the last)"
        )
    if isinstance(signatures, (str, Path)):
        from blox_space import open_blockwise

        table = getattr(open_blockwise(signatures), method)(at)
    else:
        try:
            table = np.asarray(signatures, dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{owner}: signatures must be a (3, 45) array of numbers or a store path"
            ) from None
        if table.shape != (NUM_STAGES, NUM_BLOCKS):
            raise ConfigError(
                f"{owner}: signatures must have shape ({NUM_STAGES}, {NUM_BLOCKS}) [stage, block], got {table.shape}"
            )
        if at is not None:
            raise ConfigError(
                f"{owner}: {what}={at!r} applies to a blockwise store path, not to a signature array"
            )
    if np.isinf(table).any():
        stage, block = np.argwhere(np.isinf(table))[0]
        raise ConfigError(f"{owner}: the signature of stage {stage} block {block} is infinite")
    return np.array(table, dtype=np.float64)


def model_signatures(table: np.ndarray, models: np.ndarray, *, owner: str, kind: str) -> np.ndarray:
    """``(N, 3)`` signatures of the models' blocks; a block without one is a ConfigError naming it."""
    blocks = indices_to_blocks(models)
    values = table[np.arange(NUM_STAGES)[None, :], blocks]
    missing = np.isnan(values)
    if missing.any():
        row, stage = np.argwhere(missing)[0]
        count = int(np.unique(np.argwhere(missing)[:, 0]).size)
        raise ConfigError(
            f"{owner}: model {int(models[row])} has no {_KINDS[kind][0]} signature for stage {stage} "
            f"block {int(blocks[row, stage])} (not distilled, pending or failed in the blockwise store); "
            f"{count} of {len(models)} models are affected"
        )
    return values


def signature_features(values: np.ndarray, order: int) -> np.ndarray:
    """Features of ``(N, 3)`` signatures: order 1 the 3 signatures; order 2 also their 3 squares
    and 3 pairwise products (s0 s1, s0 s2, s1 s2), 9 columns."""
    if order == 1:
        return values
    s0, s1, s2 = values.T
    return np.column_stack([values, values**2, s0 * s1, s0 * s2, s1 * s2])


def ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Closed-form ridge regression on standardised features, with an unpenalised intercept.

    Minimises ``sum((y - b - z @ w)**2) + alpha * sum(w**2)`` with ``z = (x - mean) / scale``
    (scikit-learn's ``Ridge`` convention); a constant feature gets scale 1 (and weight 0).

    Returns:
        ``(w, b, mean, scale)``; predict with ``b + ((x - mean) / scale) @ w``.
    """
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-12 * np.maximum(1.0, np.abs(mean)), scale, 1.0)
    z = (x - mean) / scale
    b = float(y.mean())
    gram = z.T @ z + float(alpha) * np.eye(z.shape[1])
    w = scipy.linalg.solve(gram, z.T @ (y - b), assume_a="sym")
    return w, b, mean, scale


def check_alpha(alpha: Any, owner: str) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{owner}: alpha must be a number > 0, got {alpha!r}")
    if not np.isfinite(alpha) or alpha <= 0:
        raise ConfigError(f"{owner}: alpha must be a finite number > 0 (ridge penalty), got {alpha!r}")
    return float(alpha)


@register_predictor("donna")
class DonnaPredictor(BasePredictor):
    """DONNA: ridge regression on the three blocks' distillation-loss signatures.

    Features of a model with blocks ``(b0, b1, b2)``: ``s = (S[0, b0], S[1, b1], S[2, b2])``
    from the signature table ``S`` (DONNA NSR: lower = closer to the teacher); order 1 uses
    ``s`` (3 features), order 2 adds ``s**2`` and the pairwise products (9 features; the
    second-order model the Blox paper describes for DONNA). Features are standardised on the
    training set; the fit is closed-form ridge with an unpenalised intercept
    (:func:`ridge_fit`). The regression handles the sign of NSR, so higher predictions mean
    better models.

    Args:
        order: 1 or 2.
        alpha: ridge penalty on the standardised coefficients (> 0).
        signatures: a ``(3, 45)`` array ``[stage, block]`` of DONNA signatures, or the path of
            a blockwise store (its validation NSR at ``epoch``).
        epoch: distillation epoch of the store's NSR (counted from 1; ``None`` = the last).
            Only with a store path.
        random_state: accepted for the common interface; the closed-form fit uses no randomness.

    Minimum training set: one point more than coefficients, i.e. order 1 needs 4 models and
    order 2 needs 10 (fewer raise :class:`~blox_predict.errors.TooFewPointsError`; the penalty
    would make a fit possible, but with fewer points than coefficients plus intercept the
    regression is decided by the penalty, not by the data).

    Fitted attributes: ``signatures_`` (the ``(3, 45)`` table used, kept so a saved predictor
    needs no store), ``coef_``, ``intercept_``, ``mean_``, ``scale_``, ``train_``.

    Raises (in ``fit``):
        ConfigError: no signatures (says how to give them), a model whose block has a NaN
            signature (names the stage and block), order not 1 or 2, alpha not > 0.
        TooFewPointsError: fewer training models than the order needs.
    """

    def __init__(
        self,
        *,
        order: int = 1,
        alpha: float = 1.0,
        signatures: np.ndarray | str | None = None,
        epoch: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.order = order
        self.alpha = alpha
        self.signatures = signatures
        self.epoch = epoch
        self.random_state = random_state

    @property
    def min_points(self) -> int:
        """Fewest training models ``fit`` accepts: 4 at order 1, 10 at order 2."""
        return (3 if self.order == 1 else 9) + 1

    def fit(self, archs: Sequence[Any], y: Any) -> DonnaPredictor:
        owner = type(self).__name__
        models = to_indices(archs)
        target = check_targets(y, len(models))
        if self.order not in (1, 2) or isinstance(self.order, bool):
            raise ConfigError(f"{owner}: order must be 1 or 2, got {self.order!r}")
        alpha = check_alpha(self.alpha, owner)
        if len(models) < self.min_points:
            raise TooFewPointsError(
                f"{owner}(order={self.order}) needs at least {self.min_points} training models "
                f"({self.min_points - 1} coefficients + intercept), got {len(models)}"
            )
        table = resolve_signatures(self.signatures, kind="donna", at=self.epoch, owner=owner)
        x = signature_features(model_signatures(table, models, owner=owner, kind="donna"), self.order)
        self.coef_, self.intercept_, self.mean_, self.scale_ = ridge_fit(x, target, alpha)
        self.signatures_ = table
        self.train_ = {"n": int(len(models)), "features": int(x.shape[1])}
        self.is_fitted_ = True
        return self

    def predict(self, archs: Sequence[Any]) -> np.ndarray:
        check_is_fitted(self)
        models = to_indices(archs)
        x = signature_features(
            model_signatures(self.signatures_, models, owner=type(self).__name__, kind="donna"), self.order
        )
        return np.asarray(self.intercept_ + ((x - self.mean_) / self.scale_) @ self.coef_, dtype=np.float64)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        meta = {"intercept": float(self.intercept_)}
        tensors = {
            "coef": self.coef_,
            "mean": self.mean_,
            "scale": self.scale_,
            "signatures": self.signatures_,
        }
        return meta, tensors

    def _set_state(self, meta: Mapping[str, Any], tensors: Mapping[str, Any]) -> None:
        self.intercept_ = float(meta["intercept"])
        for key in ("coef", "mean", "scale", "signatures"):
            setattr(self, f"{key}_", np.asarray(tensors[key].numpy(), dtype=np.float64))
        self.is_fitted_ = True
