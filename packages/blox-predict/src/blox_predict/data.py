"""Training data for predictors from a store: the measured models of a benchmark or finetune
store and one metric per model.

Example:
    >>> models, y = training_data("results/finetune/M1-ft50.zarr")  # doctest: +SKIP
    >>> get_predictor("gcn").fit(models, y)  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
from blox_space import Benchmark, open_benchmark
from blox_space.errors import ConfigError, StoreError
from blox_space.schema import METRICS, STATUS_DONE

__all__ = ["TARGET_METRICS", "DEFAULT_METRIC", "MEASURED_KINDS", "training_data", "open_measurements"]

#: Metrics a predictor can learn: every queryable metric except the best epoch (an index, not a
#: quality). Per-run metrics are read as stored (``best_val_acc`` = the best validation top-1 over
#: all epochs, ``test_acc`` = test top-1 with the best-validation weights); per-epoch metrics
#: (``val_acc``, ``train_acc``, ``val_loss`` ...) are the value after the **last** epoch.
TARGET_METRICS = tuple(name for name in METRICS if name != "best_epoch")
#: The default target: best validation top-1 (%), the metric the paper's figures rank by.
DEFAULT_METRIC = "best_val_acc"
#: Store kinds holding measurements (a surrogate store's values are partly predictions).
MEASURED_KINDS = ("benchmark", "finetune")


def open_measurements(store: str | Path | Benchmark) -> Benchmark:
    """A benchmark or finetune store opened for queries (an opened one is returned as is).

    Raises:
        StoreError: missing path or not a store; a surrogate store (its predictions are not
            measurements to learn from).
        SchemaError: a store of another kind.
    """
    bench = store if isinstance(store, Benchmark) else open_benchmark(store, latency=[])
    if bench.kind not in MEASURED_KINDS:
        raise StoreError(
            f"{bench.path} is a {bench.kind} store; predictors learn from measurements: "
            f"a {' or '.join(MEASURED_KINDS)} store"
        )
    return bench


def _check_metric(metric: Any) -> str:
    if not isinstance(metric, str) or metric not in TARGET_METRICS:
        raise ConfigError(f"unknown metric {str(metric)[:40]!r}; metrics are {', '.join(TARGET_METRICS)}")
    return metric


def _check_seeds(seeds: Any, bench: Benchmark) -> str | int:
    if seeds == "mean":
        return "mean"
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or int(seeds) not in bench.seeds:
        raise ConfigError(
            f"seeds must be 'mean' or a seed of {bench.path} ({', '.join(map(str, bench.seeds))}), got {seeds!r}"
        )
    return int(seeds)


def metric_values(bench: Benchmark, models: np.ndarray, metric: str, seeds: str | int = "mean") -> np.ndarray:
    """``metric`` of ``models`` (float64): per-run metrics as stored, per-epoch metrics after the
    last epoch; ``seeds="mean"`` averages over the seeds whose run is done, an int takes one
    seed (NaN where that run is not done)."""
    spec = METRICS[_check_metric(metric)]
    kwargs = {"epoch": None, "best": False} if spec.per_epoch else {}
    if seeds == "mean":
        values = bench.query(models, metric, seed="mean", **kwargs)
    else:
        values = bench.query(models, metric, seed=int(seeds), **kwargs)
        done = bench.status(models, seed=int(seeds)) == STATUS_DONE
        values = np.where(done, values, np.nan)
    return np.asarray(values, dtype=np.float64)


def training_data(
    store: str | Path | Benchmark, *, metric: str = DEFAULT_METRIC, seeds: str | int = "mean"
) -> tuple[np.ndarray, np.ndarray]:
    """The measured models of a store and their ``metric``: what a predictor is fitted on.

    Only finished runs count: for ``seeds="mean"`` a model with at least one done run (the mean
    over its done seeds), for one seed a model whose run of that seed is done; models whose
    value is NaN (a failed or pending run, an epoch never reached) are left out.

    Args:
        store: a benchmark or finetune store (path or opened).
        metric: one of :data:`TARGET_METRICS` (default ``best_val_acc``).
        seeds: ``"mean"`` (default) or one seed of the store.

    Returns:
        ``(models, y)``: sorted int64 model indices and float64 values (accuracies in %).

    Raises:
        ConfigError: an unknown metric (lists the valid ones) or seed.
        StoreError: not a benchmark or finetune store, or no finished measurement in it.
    """
    bench = open_measurements(store)
    metric = _check_metric(metric)
    seeds = _check_seeds(seeds, bench)
    models = bench.models
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        y = metric_values(bench, models, metric, seeds)
    keep = np.isfinite(y)
    if not keep.any():
        raise StoreError(
            f"{bench.path} holds no finished measurement of {metric} (of {len(models)} models); "
            "finish training or merge the shards first"
        )
    return models[keep].astype(np.int64), y[keep]
