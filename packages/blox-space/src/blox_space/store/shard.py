"""Writing benchmark shard stores: one store per bucket of models, one writer process each.

A training job creates its shard with :func:`create_benchmark_shard`, writes each finished
(or failed) training run with :func:`write_model_result`, and on a restart asks
:func:`finished_models` what is left. ``blox-space merge`` then builds the final store
(:mod:`blox_space.store.merge`). Every model row of a shard is its own chunk, and a row's
``status`` is written last, so a killed job never leaves a row marked done with partial data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from ..blocks import NUM_MODELS
from ..errors import SchemaError, StoreError
from .benchmark import (
    BENCHMARK,
    BENCHMARK_EPOCH_ARRAYS,
    BENCHMARK_TEST_ARRAYS,
    BEST_EPOCH,
    BEST_VAL_ACC,
    ENV_ID,
    EPOCH,
    EPOCH_KEYS,
    FAIL_REASON,
    RECORDED_MACS,
    RECORDED_PARAMS,
    RUN_STATUS,
    SEED,
    TEST_KEYS,
    TRAIN_SECONDS,
    VAL_ACC,
    VAL_LOSS,
)
from .environments import Environments, canonical_json
from .group import create_store, open_store, read_array
from .spec import MODEL, STATUS_DONE, STATUS_FAILED, ArraySpec, StoreSpec

__all__ = [
    "create_benchmark_shard",
    "create_model_shard",
    "write_model_result",
    "finished_models",
    "best_epoch",
    "best_epochs",
    "TEST_KEYS",
    "EPOCH_KEYS",
]


def _sorted_unique(values: Sequence[int] | np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.int64).ravel()
    if arr.size == 0:
        raise SchemaError(f"a benchmark store needs at least one {what}")
    if len(np.unique(arr)) != arr.size:
        raise SchemaError(f"{what}s must be unique; got duplicates in {arr.tolist()[:10]}...")
    return np.sort(arr)


def create_benchmark_shard(
    path: str | Path,
    models: Sequence[int] | np.ndarray,
    *,
    seeds: Sequence[int] = (0,),
    epochs: int,
    recipe_id: str,
    recipe: Mapping[str, Any],
    dataset: str,
    bucket: tuple[int, int] | None = None,
    attrs: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    producer: str = "blox-space",
    model_chunk: int = 1,
) -> zarr.Group:
    """Create an empty shard store for some models, all ``pending``.

    Args:
        path: the shard store folder (``results/train/{recipe}/bucket-{i}.zarr``).
        models: model indices of the shard (any order; stored sorted).
        seeds: training seeds.
        epochs: epochs per training run; the epoch coordinate is ``1..epochs``.
        recipe_id: stable id of the recipe (hash of its canonical form).
        recipe: the recipe's canonical dict (JSON-serialisable).
        dataset: dataset name (e.g. ``"cifar100"``).
        bucket: ``(index, count)`` when the shard is bucket ``index`` of ``count``; the
            merge then refuses a missing bucket.
        attrs: further group attributes (e.g. ``recipe_id_version``; a fine-tuning store's
            teacher), kept by the merge when the kind lists them.
        overwrite: replace an existing store.
        producer: distribution recorded as producer (e.g. ``"blox-train"``).
        model_chunk: model rows per chunk. 1 (the default) makes every row its own chunk;
            a shard of many models created for a few runs (a live search over all 91,125)
            takes more, so it is not 91,125 chunk files of the model coordinate up front.
            Chunks are written atomically, so a row's ``status`` still lands last.

    Returns:
        The open, writable Zarr group.

    Raises:
        SchemaError: empty/duplicate models or seeds, a model index out of range, epochs < 1.
        StoreError: ``path`` exists and ``overwrite`` is False.
    """
    return create_model_shard(
        path, BENCHMARK, models, seeds=seeds, epochs=epochs, recipe_id=recipe_id, recipe=recipe,
        dataset=dataset, bucket=bucket, attrs=attrs, overwrite=overwrite, producer=producer,
        model_chunk=model_chunk,
    )  # fmt: skip


def create_model_shard(
    path: str | Path,
    spec: StoreSpec,
    models: Sequence[int] | np.ndarray,
    *,
    seeds: Sequence[int],
    epochs: int,
    recipe_id: str,
    recipe: Mapping[str, Any],
    dataset: str,
    bucket: tuple[int, int] | None,
    attrs: Mapping[str, Any] | None,
    overwrite: bool,
    producer: str,
    model_chunk: int = 1,
) -> zarr.Group:
    """:func:`create_benchmark_shard` for any kind with the benchmark's arrays and attributes
    (``spec``: benchmark, finetune ...); ``attrs`` adds the kind's own attributes."""
    models = _sorted_unique(models, "model")
    if models[0] < 0 or models[-1] >= NUM_MODELS:
        raise SchemaError(f"model indices must be in 0..{NUM_MODELS - 1}; got {models[0]}..{models[-1]}")
    seeds_arr = _sorted_unique(seeds, "seed")
    if int(epochs) < 1:
        raise SchemaError(f"epochs must be >= 1, got {epochs}")
    group_attrs: dict[str, Any] = {
        **dict(attrs or {}),
        "recipe_id": str(recipe_id),
        "recipe": json.loads(canonical_json(dict(recipe))),
        "dataset": str(dataset),
        "epochs": int(epochs),
        "is_partial": True,
        "environments": [],
    }
    if bucket is not None:
        index, count = (int(v) for v in bucket)
        if not 0 <= index < count:
            raise SchemaError(f"bucket index {index} is outside 0..{count - 1}")
        group_attrs["bucket"] = {"index": index, "count": count}
    return create_store(
        path,
        spec,
        sizes={"model": len(models), "seed": len(seeds_arr), "epoch": int(epochs)},
        coords={"model": models, "seed": seeds_arr, "epoch": np.arange(1, int(epochs) + 1)},
        chunks={"model": max(1, int(model_chunk)), "epoch": int(epochs)},
        attrs=group_attrs,
        overwrite=overwrite,
        producer=producer,
    )


def best_epochs(val_acc: np.ndarray, val_loss: np.ndarray | None = None) -> np.ndarray:
    """Best epoch (from 1) of each run by the original criterion, vectorised.

    The highest validation top-1 wins; among epochs tied at that value, a later one takes
    over when its validation loss is ≤ the loss of the best so far (a NaN loss always
    takes over). 0 where no epoch was measured.

    Shapes:
        val_acc, val_loss: ``(..., E)`` -> ``(...)`` int32
    """
    acc = np.asarray(val_acc, dtype=np.float64)
    loss = np.full_like(acc, np.nan) if val_loss is None else np.asarray(val_loss, dtype=np.float64)
    top = np.fmax.reduce(acc, axis=-1, initial=-np.inf)[..., None] if acc.shape[-1] else acc[..., :1]
    is_max = (acc == top) & ~np.isnan(acc)
    tied_loss = np.where(is_max & ~np.isnan(loss), loss, np.inf)
    # the best-so-far loss before each epoch = the lowest loss of the earlier tied epochs
    before = np.minimum.accumulate(
        np.concatenate([np.full_like(tied_loss[..., :1], np.inf), tied_loss[..., :-1]], -1), -1
    )
    takes_over = is_max & (np.isnan(loss) | (loss <= before))
    epochs = np.arange(1, acc.shape[-1] + 1)
    return np.max(np.where(takes_over, epochs, 0), axis=-1, initial=0).astype(np.int32)


def best_epoch(val_acc: np.ndarray, val_loss: np.ndarray | None = None) -> int:
    """Best epoch (from 1) of one run; see :func:`best_epochs`."""
    return int(best_epochs(val_acc, val_loss))


def _position(coord: np.ndarray, value: int, what: str) -> int:
    pos = int(np.searchsorted(coord, value))
    if pos >= len(coord) or coord[pos] != value:
        raise StoreError(f"{what} {value} is not in this shard; it holds {what}s {coord[:5].tolist()}...")
    return pos


def _env_id(group: zarr.Group, env: Mapping[str, Any] | None) -> int:
    envs = Environments(group.attrs.get("environments", []))
    before = len(envs)
    env_id = envs.add(env)
    if len(envs) > before:
        group.attrs["environments"] = envs.records
    return env_id


def write_model_result(
    group: zarr.Group,
    model: int,
    seed: int,
    *,
    per_epoch: Mapping[str, Sequence[float] | np.ndarray],
    test: Mapping[str, float],
    train_seconds: float,
    status: int = STATUS_DONE,
    fail_reason: str = "",
    env: Mapping[str, Any] | None = None,
    params: int | None = None,
    macs: int | None = None,
) -> None:
    """Write one training run (one model, one seed) into a shard.

    Args:
        group: the shard, from :func:`create_benchmark_shard` or ``open_store(path, mode="r+")``.
        model: model index (must be in the shard).
        seed: training seed (must be in the shard).
        per_epoch: per-epoch values by array name (:data:`EPOCH_KEYS`); each at most
            ``epochs`` long, element ``e-1`` for epoch ``e``; a shorter (diverged) run
            leaves the rest NaN. Accuracies in percent, seconds in seconds.
        test: ``test_loss``, ``test_acc``, ``test_top5`` (missing keys stay NaN).
        train_seconds: wall-clock seconds of all training and validation epochs.
        status: ``STATUS_DONE`` or ``STATUS_FAILED``.
        fail_reason: why the run failed (required when failed; at most 160 characters kept).
        env: the environment the run used (device, versions); stored once per distinct dict.
        params: trainable parameters, when the producer counted them.
        macs: multiply-accumulates per image, when the producer counted them.

    Raises:
        SchemaError: an unknown metric name, a too-long curve, a bad status, or a value the
            schema does not allow (accuracies in 0..100 %, losses and seconds >= 0 and finite;
            a failed run's non-finite values are stored as NaN).
        StoreError: the model or seed is not in the shard.
    """
    unknown = sorted(set(per_epoch) - set(EPOCH_KEYS)) + sorted(set(test) - set(TEST_KEYS))
    if unknown:
        raise SchemaError(
            f"unknown metrics {unknown}; per_epoch takes {list(EPOCH_KEYS)}, test takes {list(TEST_KEYS)}"
        )
    if status not in (STATUS_DONE, STATUS_FAILED):
        raise SchemaError(f"status must be done ({STATUS_DONE}) or failed ({STATUS_FAILED}); got {status}")
    if status == STATUS_FAILED and not fail_reason:
        raise SchemaError("a failed run needs a fail_reason")
    m = _position(group[MODEL.name][:], int(model), "model")
    s = _position(group[SEED.name][:], int(seed), "seed")
    epochs = group[EPOCH.name].shape[0]
    curves: dict[str, np.ndarray] = {}
    for spec in BENCHMARK_EPOCH_ARRAYS:
        row = np.full(epochs, np.nan, dtype=np.float32)
        values = np.asarray(per_epoch.get(spec.name, ()), dtype=np.float64).ravel()
        if values.size > epochs:
            raise SchemaError(f"{spec.name} has {values.size} epochs; this shard holds {epochs}")
        row[: values.size] = _checked(spec, values, status)
        curves[spec.name] = row
    tests = {
        spec.name: _checked(spec, np.float64(test.get(spec.name, np.nan)), status)
        for spec in BENCHMARK_TEST_ARRAYS
    }
    seconds = _checked(TRAIN_SECONDS, np.float64(train_seconds), status)
    for name, row in curves.items():
        group[name][m, s, :] = row
    for name, value in tests.items():
        group[name][m, s] = np.float32(value)
    best = best_epoch(curves[VAL_ACC.name], curves[VAL_LOSS.name])
    group[BEST_EPOCH.name][m, s] = best
    group[BEST_VAL_ACC.name][m, s] = curves[VAL_ACC.name][best - 1] if best else np.float32(np.nan)
    group[TRAIN_SECONDS.name][m, s] = float(seconds)
    group[FAIL_REASON.name][m, s] = str(fail_reason)[:160]
    group[ENV_ID.name][m, s] = _env_id(group, env)
    if params is not None:
        group[RECORDED_PARAMS.name][m] = int(params)
    if macs is not None:
        group[RECORDED_MACS.name][m] = int(macs)
    group[RUN_STATUS.name][m, s] = np.int8(status)  # last: marks the row complete


def _checked(spec: ArraySpec, values: np.ndarray, status: int) -> np.ndarray:
    """``values`` if the schema allows them. A failed run may have produced non-finite values
    before it was stopped (a diverging loss); those are stored as NaN, the reason says why.

    Raises:
        SchemaError: a value outside the array's valid range (e.g. an accuracy of 250 %).
    """
    values = np.asarray(values, dtype=np.float64)
    if status == STATUS_FAILED:
        values = np.where(np.isfinite(values), values, np.nan)
    bad = spec.invalid(values)
    if np.any(bad):
        first = float(values[bad].ravel()[0])
        low, high = spec.valid_range or (-np.inf, np.inf)
        raise SchemaError(
            f"{spec.name} = {first!r} is not allowed; {spec.long_name} must be finite and in {low:g}..{high:g} "
            f"{spec.units if spec.units != '1' else ''}".rstrip()
        )
    return values


#: Store kinds with the benchmark's arrays, whose rows :func:`write_model_result` writes.
MODEL_RESULT_KINDS = ("benchmark", "finetune")


def finished_models(path: str | Path, *, seed: int | None = None) -> np.ndarray:
    """Model indices of a shard (benchmark or finetune) whose runs are finished (done or failed) for every seed,
    or for ``seed`` when given; what a restarted job skips.

    Raises:
        StoreError / SchemaError: ``path`` is not a benchmark or finetune store.
    """
    group = open_store(path, MODEL_RESULT_KINDS)
    status = read_array(group, RUN_STATUS.name)
    seeds = group[SEED.name][:]
    if seed is not None:
        status = status[:, [_position(seeds, int(seed), "seed")]]
    finished = np.isin(status, [STATUS_DONE, STATUS_FAILED]).all(axis=1)
    return group[MODEL.name][:][finished]
