"""Schema of the **surrogate** store: a benchmark completed by a predictor (SPEC §6, §8), written in
one piece by ``blox-predict complete`` and read by :func:`blox_space.open_benchmark` like any
benchmark.

It holds the benchmark arrays (:mod:`blox_space.store.benchmark`) over **all 91,125 models**, plus
two per-model arrays saying where each value comes from:

* ``is_predicted`` (model,) bool — False: the row is the source store's measured row, copied
  unchanged; True: the model had no finished measurement of the target metric in the source
  (not trained, pending or failed) and its row holds the ensemble's prediction;
* ``prediction_std`` (model,) float32 — the spread (standard deviation over the K ensemble
  members) of the prediction, in the target metric's units (the array's ``units`` attribute is
  set to them when the store is written); NaN for measured rows.

A predicted row holds **only the target metric** (a per-run metric in its ``(model, seed)``
array for every seed; a per-epoch metric at the last epoch), its ``status`` is ``done`` (there
is a value) and everything else is unmeasured (NaN, ``env_id`` -1, params/MACs -1). Nothing is
imputed silently: ``is_predicted`` marks every such row and the query API reports it
(:meth:`blox_space.Benchmark.is_predicted`, ``full_info``).

Group attributes (:data:`SURROGATE_ATTRS`): the benchmark's (``recipe_id``, ``recipe``,
``dataset``, ``epochs`` and ``environments`` of the source store, ``is_partial`` False) plus

* ``predictor`` — ``{"name", "params", "train"}`` of the ensemble's members (their registered
  name, hyperparameters and the training-set description);
* ``target_metric`` — the metric that was learned and predicted (a key of
  :data:`~blox_space.store.benchmark.METRICS`), ``seeds`` how the source's seeds were reduced
  (``"mean"`` or a seed);
* ``ensemble_size`` — K, the number of members (seeds ``seed .. seed + K - 1``);
* ``source_store`` — ``{"path", "kind", "recipe_id"}`` and, for a finetune source, its teacher
  and fine-tuning attributes;
* ``heldout_error`` — the exact error of the ensemble mean on the measured models it did not
  train on: ``{"n", "spearman", "kendall", "mae", "rmse"}`` (None when every measured model was
  used for training);
* ``num_measured`` / ``num_predicted`` — how many rows are of each sort.

Not mergeable: one ``complete`` job writes the whole store (atomically).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..blocks import NUM_MODELS
from ..errors import SchemaError
from .benchmark import (
    BENCHMARK,
    BENCHMARK_ATTRS,
    EPOCH,
    METRICS,
    MODEL,
    RUN_STATUS,
    SEED,
    check_benchmark_store,
)
from .group import atomic_store, consolidate, create_store, open_store, read_array
from .spec import STATUS_DONE, ArraySpec, StoreSpec, register_store_kind

__all__ = [
    "IS_PREDICTED",
    "PREDICTION_STD",
    "SURROGATE_ATTRS",
    "SURROGATE",
    "SURROGATE_SOURCE_KINDS",
    "check_surrogate_store",
    "write_surrogate_store",
]

IS_PREDICTED = ArraySpec(
    "is_predicted",
    ("model",),
    "bool",
    "1",
    "True: the row holds the surrogate's prediction of the target metric; False: measured, copied from the source",
)
PREDICTION_STD = ArraySpec(
    "prediction_std",
    ("model",),
    "float32",
    "1",
    "standard deviation of the target metric over the ensemble members (its units); NaN for measured rows",
    valid_range=(0.0, np.inf),
)

#: Attributes a surrogate store has beyond the benchmark's.
_SURROGATE_ONLY = (
    "predictor",
    "target_metric",
    "seeds_mode",
    "ensemble_size",
    "source_store",
    "heldout_error",
    "num_measured",
    "num_predicted",
)
#: Group attributes every surrogate store has.
SURROGATE_ATTRS = BENCHMARK_ATTRS + _SURROGATE_ONLY


def check_surrogate_store(group: Any, path: Any) -> None:
    """The benchmark checks plus an ensemble size that is an int >= 1 (the writer,
    :func:`write_surrogate_store`, checks the target metric and the predictor description).

    Raises:
        SchemaError: naming what is wrong.
    """
    check_benchmark_store(group, path)
    size = group.attrs["ensemble_size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise SchemaError(f"{path}: ensemble_size must be an int >= 1, got {size!r}")


SURROGATE = register_store_kind(
    StoreSpec(
        kind="surrogate",
        coords=BENCHMARK.coords,
        arrays=BENCHMARK.arrays + (IS_PREDICTED, PREDICTION_STD),
        chunks=dict(BENCHMARK.chunks),
        required_attrs=SURROGATE_ATTRS,
        merge_dim=None,
        carry_attrs=BENCHMARK.carry_attrs,
        env_index=BENCHMARK.env_index,
        check=check_surrogate_store,
    )
)


#: Store kinds a surrogate can complete (those holding measurements with the benchmark's arrays).
SURROGATE_SOURCE_KINDS = ("benchmark", "finetune")
#: Attributes of a finetune source recorded in ``source_store``.
_SOURCE_KEYS = ("teacher", "library_id", "distill_epoch", "ft_epochs", "alpha", "temperature")


def write_surrogate_store(
    path: str | Path,
    source: str | Path,
    *,
    metric: str,
    values: np.ndarray,
    std: np.ndarray,
    is_predicted: np.ndarray,
    predictor: Mapping[str, Any],
    ensemble_size: int,
    seeds_mode: str | int = "mean",
    heldout_error: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    producer: str = "blox-space",
) -> Path:
    """Write a surrogate store over all 91,125 models (atomically, metadata consolidated).

    Measured rows (``is_predicted`` False) are copied from ``source`` unchanged, every array;
    predicted rows get ``values`` in the target metric's array (all seeds; a per-epoch metric
    at the last epoch), status done and ``prediction_std`` = ``std``.

    Args:
        path: the store to write.
        source: the benchmark or finetune store the predictor learned from.
        metric: the target metric (a key of :data:`~blox_space.store.benchmark.METRICS`).
        values: (91125,) predicted value per model (read only where ``is_predicted``).
        std: (91125,) ensemble spread per model (read only where ``is_predicted``).
        is_predicted: (91125,) bool; every False model must be in ``source``.
        predictor: ``{"name", "params", "train"}`` describing the ensemble's members.
        ensemble_size: K.
        seeds_mode: how the source's seeds were reduced for training (``"mean"`` or a seed).
        heldout_error: the ensemble's error on measured models it did not train on, or None.
        overwrite: replace an existing store.
        producer: distribution recorded as producer (``"blox-predict"``).

    Raises:
        SchemaError: wrong shapes, an unknown metric, a measured model the source lacks,
            a predicted value outside the metric's valid range.
        StoreError: ``path`` exists (without ``overwrite``) or ``source`` is not a store.
    """
    if metric not in METRICS:
        raise SchemaError(f"unknown target metric {metric!r}; metrics are {', '.join(METRICS)}")
    if not isinstance(predictor, Mapping) or not str(predictor.get("name", "")).strip():
        raise SchemaError("the predictor description must be a mapping with the predictor's name")
    spec = METRICS[metric].spec
    values = np.asarray(values, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    is_predicted = np.asarray(is_predicted, dtype=bool)
    for name, arr in (("values", values), ("std", std), ("is_predicted", is_predicted)):
        if arr.shape != (NUM_MODELS,):
            raise SchemaError(f"{name} must have shape ({NUM_MODELS},), got {arr.shape}")
    predicted = np.flatnonzero(is_predicted)
    if not np.isfinite(values[predicted]).all() or spec.invalid(values[predicted]).any():
        bad = predicted[~np.isfinite(values[predicted]) | spec.invalid(values[predicted])][0]
        raise SchemaError(
            f"predicted {metric} of model {bad} is {values[bad]!r}, outside {metric}'s valid range "
            f"{spec.valid_range}"
        )
    group = open_store(source, SURROGATE_SOURCE_KINDS)
    src_attrs = dict(group.attrs)
    src_models = group[MODEL.name][:]
    measured = np.flatnonzero(~is_predicted)
    pos = np.searchsorted(src_models, measured)
    pos_c = np.minimum(pos, len(src_models) - 1)
    if measured.size and np.any(src_models[pos_c] != measured):
        missing = measured[src_models[pos_c] != measured][0]
        raise SchemaError(f"model {missing} is marked measured but {source} does not hold it")
    seeds, epochs = group[SEED.name][:], group[EPOCH.name][:]
    source_store: dict[str, Any] = {
        "path": str(source),
        "kind": str(src_attrs["store_kind"]),
        "recipe_id": str(src_attrs["recipe_id"]),
    }
    source_store.update({k: src_attrs[k] for k in _SOURCE_KEYS if k in src_attrs})
    attrs = {
        **{k: src_attrs[k] for k in ("recipe_id", "recipe", "dataset", "epochs", "environments")},
        **{k: src_attrs[k] for k in BENCHMARK.carry_attrs if k in src_attrs},
        "is_partial": False,
        "predictor": dict(predictor),
        "target_metric": metric,
        "seeds_mode": seeds_mode,
        "ensemble_size": int(ensemble_size),
        "source_store": source_store,
        "heldout_error": dict(heldout_error) if heldout_error is not None else None,
        "num_measured": int(measured.size),
        "num_predicted": int(predicted.size),
    }
    with atomic_store(path, overwrite=overwrite) as tmp:
        out = create_store(
            tmp,
            SURROGATE,
            sizes={"model": NUM_MODELS, "seed": len(seeds), "epoch": len(epochs)},
            coords={"model": np.arange(NUM_MODELS), "seed": seeds, "epoch": epochs},
            attrs=attrs,
            producer=producer,
        )
        for array in BENCHMARK.arrays:  # measured rows, copied whole
            if measured.size:
                out[array.name].oindex[measured] = read_array(group, array.name)[pos_c]
        if predicted.size:
            target = out[spec.name]
            row = values[predicted].astype(spec.dtype)
            if METRICS[metric].per_epoch:
                target.oindex[predicted, :, len(epochs) - 1] = np.repeat(row[:, None], len(seeds), axis=1)
            else:
                target.oindex[predicted] = np.repeat(row[:, None], len(seeds), axis=1)
            status = np.full((predicted.size, len(seeds)), STATUS_DONE, dtype=RUN_STATUS.dtype)
            out[RUN_STATUS.name].oindex[predicted] = status  # env_id keeps its fill, -1 = none
        out[IS_PREDICTED.name][:] = is_predicted
        spread = np.where(is_predicted, std, np.nan).astype(PREDICTION_STD.dtype)
        out[PREDICTION_STD.name][:] = spread
        out[PREDICTION_STD.name].attrs["units"] = spec.units
        consolidate(tmp)
    return Path(path)
