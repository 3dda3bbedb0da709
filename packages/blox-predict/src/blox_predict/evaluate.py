"""Evaluating predictors the way the Blox paper's Figure 10 does: fit on a random subset of
the models, rank the rest, repeat over seeds, and summarise with intervals over the seeds.

:func:`evaluate_predictor` gives one row per (train size, seed); :func:`summarize_evaluation`
one row per (predictor, train size) with the mean and a t-interval of every metric.

Example:
    >>> import numpy as np
    >>> from blox_predict import LanaPredictor
    >>> sig = np.random.default_rng(0).normal(size=(3, 45))
    >>> models = np.arange(0, 91125, 911)
    >>> y = sig[0, models % 45] + sig[1, (models // 45) % 45] + sig[2, models // 2025]
    >>> table = evaluate_predictor(LanaPredictor(signatures=sig), models, y, train_sizes=[10], seeds=[0, 1])
    >>> table[["train_size", "seed", "n_test", "spearman", "status"]].round(3).values.tolist()
    [[10, 0, 91, 1.0, 'ok'], [10, 1, 91, 1.0, 'ok']]
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats
from blox_space.errors import ConfigError

from .base import BasePredictor, check_targets, clone, to_indices
from .errors import PredictError

__all__ = ["evaluate_predictor", "summarize_evaluation", "EVALUATION_COLUMNS", "precision_at_k"]

logger = logging.getLogger(__name__)

#: Columns of :func:`evaluate_predictor`'s table, in order.
EVALUATION_COLUMNS = (
    "predictor", "train_size", "seed", "n_test", "spearman", "kendall", "precision_at_k", "k",
    "fit_seconds", "predict_seconds", "status", "message",
)  # fmt: skip
_METRICS = ("spearman", "kendall", "precision_at_k")


def precision_at_k(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> float:
    """``|true top-k ∩ predicted top-k| / k`` (top = highest; ties broken by position)."""
    true_top = np.argsort(-np.asarray(y_true), kind="stable")[:k]
    pred_top = np.argsort(-np.asarray(y_pred), kind="stable")[:k]
    return len(np.intersect1d(true_top, pred_top)) / k


def _train_sizes(train_sizes: Any, n: int) -> list[int]:
    sizes = [train_sizes] if isinstance(train_sizes, (int, np.integer)) else list(train_sizes)
    if not sizes:
        raise ConfigError("train_sizes is empty; give at least one number of training models")
    out = []
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ConfigError(f"train sizes must be integers >= 1, got {size!r}")
        if size > n - 2:
            raise ConfigError(
                f"train size {size} leaves {n - int(size)} of the {n} models to test; each train size must "
                f"be at most {n - 2} (at least 2 held-out models to rank)"
            )
        out.append(int(size))
    return out


def evaluate_predictor(
    est: BasePredictor,
    archs: Any,
    y: Any,
    *,
    train_sizes: Sequence[int],
    seeds: Sequence[int] = (0, 1, 2),
    top_k: int = 10,
    name: str | None = None,
) -> pd.DataFrame:
    """Fit ``est`` on random subsets of ``archs`` and score its ranking of the held-out rest.

    For every train size ``m`` and seed ``s``: the training models are
    ``np.random.default_rng(s).choice(n, m, replace=False)`` (positions into ``archs``), the
    held-out models are all the others; a fresh :func:`~blox_predict.clone` of ``est`` is fitted
    (when ``est`` has a ``random_state`` that is ``None``, the clone gets ``random_state=s`` so
    seeds also vary the predictor's own randomness) and predicts the held-out models.

    Metrics on the held-out models: Spearman's ρ (``scipy.stats.spearmanr``) and Kendall's τ-b
    (``scipy.stats.kendalltau``) between predictions and ``y`` (NaN when the predictions are
    constant); precision@k = ``|true top-k ∩ predicted top-k| / k`` with ``k = min(top_k,
    n_test)``, top = highest ``y`` / prediction; fit and predict seconds by
    ``time.perf_counter``.

    A fit or predict that raises a :class:`~blox_predict.errors.PredictError` or a
    :class:`~blox_space.errors.ConfigError` (e.g. :class:`~blox_predict.errors.TooFewPointsError`
    for second-order DONNA below 10 points) gives a row with status ``"failed"``, NaN metrics
    and the error text as ``message`` instead of stopping the evaluation.

    Args:
        est: the predictor (not modified).
        archs: the models with known targets (any :data:`~blox_space.ArchLike` sequence).
        y: their targets (e.g. accuracy; higher = better).
        train_sizes: numbers of training models, each in ``1..n - 2``.
        seeds: seeds of the training subsets.
        top_k: k of precision@k (capped at the held-out count).
        name: the ``predictor`` column (default: the registered name, e.g. ``"donna"``).

    Returns:
        One row per (train size, seed), columns :data:`EVALUATION_COLUMNS`: ``predictor,
        train_size, seed, n_test, spearman, kendall, precision_at_k, k, fit_seconds,
        predict_seconds, status, message`` (``status`` ``"ok"`` | ``"failed"``; ``message``
        empty when ok).

    Raises:
        ConfigError: bad targets, a train size >= the number of models - 1, no seeds, top_k < 1.
    """
    models = to_indices(archs)
    target = check_targets(y, len(models))
    n = len(models)
    sizes = _train_sizes(train_sizes, n)
    seed_list = [int(s) for s in seeds]
    if not seed_list:
        raise ConfigError("seeds is empty; give at least one seed")
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ConfigError(f"top_k must be an integer >= 1, got {top_k!r}")
    label = name if name is not None else (est.name or type(est).__name__)
    seeded = "random_state" in est.get_params() and est.get_params()["random_state"] is None
    rows = []
    for size in sizes:
        for seed in seed_list:
            train = np.random.default_rng(seed).choice(n, size=size, replace=False)
            test = np.setdiff1d(np.arange(n), train)
            k = min(int(top_k), len(test))
            row: dict[str, Any] = {
                "predictor": label, "train_size": size, "seed": seed, "n_test": len(test),
                "spearman": np.nan, "kendall": np.nan, "precision_at_k": np.nan, "k": k,
                "fit_seconds": np.nan, "predict_seconds": np.nan, "status": "ok", "message": "",
            }  # fmt: skip
            model = clone(est)
            if seeded:
                model.set_params(random_state=seed)
            start = time.perf_counter()
            try:
                model.fit(models[train], target[train])
                row["fit_seconds"] = time.perf_counter() - start
                start = time.perf_counter()
                pred = np.asarray(model.predict(models[test]), dtype=np.float64)
                row["predict_seconds"] = time.perf_counter() - start
            except (PredictError, ConfigError) as err:
                elapsed = time.perf_counter() - start
                row["fit_seconds" if np.isnan(row["fit_seconds"]) else "predict_seconds"] = elapsed
                row.update(status="failed", message=f"{type(err).__name__}: {err}")
                logger.info("%s, %d training models, seed %d: %s", label, size, seed, row["message"])
                rows.append(row)
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # constant predictions: NaN correlation, said so above
                row["spearman"] = float(scipy.stats.spearmanr(pred, target[test]).statistic)
                row["kendall"] = float(scipy.stats.kendalltau(pred, target[test]).statistic)
            row["precision_at_k"] = precision_at_k(target[test], pred, k)
            rows.append(row)
    return pd.DataFrame(rows, columns=list(EVALUATION_COLUMNS))


def summarize_evaluation(table: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Mean and interval of each metric over the seeds, per (predictor, train size).

    The interval is Student's t over the seeds: ``mean ± t_{(1+confidence)/2, m-1} · sd / sqrt(m)``
    (``sd`` with ``ddof=1``) over the ``m`` ok seeds whose metric is finite; NaN bounds when
    ``m < 2``. Failed rows do not count; a group whose every seed failed keeps a row with NaN
    metrics, ``n_seeds`` 0 and the first failure's message.

    Returns:
        One row per (predictor, train size), in the table's order, columns: ``predictor,
        train_size, spearman_mean, spearman_low, spearman_high, kendall_mean, kendall_low,
        kendall_high, precision_at_k_mean, precision_at_k_low, precision_at_k_high,
        fit_seconds_mean, predict_seconds_mean, n_seeds, n_failed, message``.

    Raises:
        ConfigError: confidence not in (0, 1), or a table without the evaluation columns.
    """
    if not 0 < float(confidence) < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence!r}")
    missing = [c for c in EVALUATION_COLUMNS if c not in table.columns]
    if missing:
        raise ConfigError(f"not an evaluate_predictor table: it lacks columns {missing}")
    rows = []
    for (predictor, size), group in table.groupby(["predictor", "train_size"], sort=False):
        ok = group[group["status"] == "ok"]
        failed = group[group["status"] != "ok"]
        row: dict[str, Any] = {"predictor": predictor, "train_size": int(size)}
        for metric in _METRICS:
            values = ok[metric].to_numpy(dtype=np.float64)
            values = values[np.isfinite(values)]
            mean = float(values.mean()) if values.size else np.nan
            low = high = np.nan
            if values.size >= 2:
                half = scipy.stats.t.ppf((1 + confidence) / 2, values.size - 1) * values.std(ddof=1)
                half /= np.sqrt(values.size)
                low, high = mean - half, mean + half
            row.update({f"{metric}_mean": mean, f"{metric}_low": low, f"{metric}_high": high})
        for part in ("fit_seconds", "predict_seconds"):
            row[f"{part}_mean"] = float(ok[part].mean()) if len(ok) else np.nan
        row["n_seeds"] = int(len(ok))
        row["n_failed"] = int(len(failed))
        row["message"] = str(failed["message"].iloc[0]) if len(failed) else ""
        rows.append(row)
    columns = ["predictor", "train_size"]
    for metric in _METRICS:
        columns += [f"{metric}_mean", f"{metric}_low", f"{metric}_high"]
    columns += ["fit_seconds_mean", "predict_seconds_mean", "n_seeds", "n_failed", "message"]
    return pd.DataFrame(rows, columns=columns)
