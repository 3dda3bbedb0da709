"""Schema of the **benchmark** store: normal-training results of one recipe (written by blox-train
shards, merged by ``blox-space merge``, or imported from the released files; read by
:func:`blox_space.open_benchmark`).

Dimensions: ``model`` (coordinate = model indices, sorted, unique), ``seed`` (coordinate = the
training seeds), ``epoch`` (coordinate = 1..E: **epochs count from 1**; element ``[..., e - 1]``
holds the metrics measured after epoch ``e``).

Units: accuracies in percent (``"%"``, 100 * correct / N, like the original, in [0, 100]),
losses dimensionless (``"1"``, >= 0), times in seconds (``"s"``, >= 0). Unmeasured values are
NaN; ``status`` (:class:`~blox_space.store.spec.Status`) is the done mask and ``fail_reason``
says why a run failed (e.g. a diverging loss).

Group attributes (:data:`BENCHMARK_ATTRS`): ``recipe_id``, ``recipe`` (canonical dict),
``dataset``, ``epochs``, ``is_partial`` (True for shards and for a merge that allowed gaps) and
``environments`` (a list of environment dicts; ``env_id`` indexes it, -1 = none recorded).
Optional attributes: ``bucket`` ({"index", "count"}) on shards, ``provenance`` (how the store
was made: merge inputs, legacy import files), ``recipe_id_version`` (how the recipe id was
computed) and ``val_epoch1_aliased`` (True for stores imported from the released files, whose
epoch-1 validation metrics hold the best epoch's values, facts §4.6).

Chunks: one model (all its seeds and epochs) per chunk in a shard (each model row is written
once, by the one process that owns the shard); in a merged store :data:`BENCHMARK_MODEL_CHUNK`
models per chunk, or a multiple of the shards' common bucket size (see
:func:`blox_space.store.merge.merged_chunk`), and :data:`BENCHMARK_EPOCH_CHUNK` epochs.

The finetune and surrogate kinds (SPEC §8) reuse these arrays, so the query API reads them
unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SchemaError
from .spec import MODEL, STATUS_FLAGS, ArraySpec, Metric, StoreSpec, register_store_kind

__all__ = [
    "SEED",
    "EPOCH",
    "TRAIN_LOSS",
    "TRAIN_ACC",
    "TRAIN_TOP5",
    "VAL_LOSS",
    "VAL_ACC",
    "VAL_TOP5",
    "EPOCH_SECONDS",
    "TEST_LOSS",
    "TEST_ACC",
    "TEST_TOP5",
    "BEST_VAL_ACC",
    "BEST_EPOCH",
    "TRAIN_SECONDS",
    "RUN_STATUS",
    "FAIL_REASON",
    "ENV_ID",
    "RECORDED_PARAMS",
    "RECORDED_MACS",
    "BENCHMARK_EPOCH_ARRAYS",
    "BENCHMARK_TEST_ARRAYS",
    "BENCHMARK_RUN_ARRAYS",
    "BENCHMARK_MODEL_ARRAYS",
    "BENCHMARK_ATTRS",
    "BENCHMARK_MODEL_CHUNK",
    "BENCHMARK_EPOCH_CHUNK",
    "BENCHMARK",
    "check_benchmark_store",
    "METRICS",
    "EPOCH_KEYS",
    "TEST_KEYS",
]

SEED = ArraySpec("seed", ("seed",), "int64", "1", "training seed", valid_range=(0, 2**63 - 1))
EPOCH = ArraySpec("epoch", ("epoch",), "int64", "1", "epoch number, counted from 1")

_PER_EPOCH = ("model", "seed", "epoch")
_PER_RUN = ("model", "seed")
_PERCENT = (0.0, 100.0)
_NON_NEGATIVE = (0.0, np.inf)

TRAIN_LOSS = ArraySpec(
    "train_loss", _PER_EPOCH, "float32", "1", "mean training cross-entropy during the epoch (train-mode BN)",
    valid_range=_NON_NEGATIVE,
)  # fmt: skip
TRAIN_ACC = ArraySpec(
    "train_acc", _PER_EPOCH, "float32", "%", "training top-1 accuracy during the epoch", valid_range=_PERCENT
)
TRAIN_TOP5 = ArraySpec(
    "train_top5", _PER_EPOCH, "float32", "%", "training top-5 accuracy during the epoch", valid_range=_PERCENT
)
VAL_LOSS = ArraySpec(
    "val_loss",
    _PER_EPOCH,
    "float32",
    "1",
    "validation cross-entropy after the epoch",
    valid_range=_NON_NEGATIVE,
)
VAL_ACC = ArraySpec(
    "val_acc", _PER_EPOCH, "float32", "%", "validation top-1 accuracy after the epoch", valid_range=_PERCENT
)
VAL_TOP5 = ArraySpec(
    "val_top5", _PER_EPOCH, "float32", "%", "validation top-5 accuracy after the epoch", valid_range=_PERCENT
)
EPOCH_SECONDS = ArraySpec(
    "epoch_seconds", _PER_EPOCH, "float32", "s", "wall-clock seconds of the epoch (train + validation)",
    valid_range=_NON_NEGATIVE,
)  # fmt: skip

TEST_LOSS = ArraySpec(
    "test_loss", _PER_RUN, "float32", "1", "test cross-entropy with the best-validation weights",
    valid_range=_NON_NEGATIVE,
)  # fmt: skip
TEST_ACC = ArraySpec(
    "test_acc",
    _PER_RUN,
    "float32",
    "%",
    "test top-1 accuracy with the best-validation weights",
    valid_range=_PERCENT,
)
TEST_TOP5 = ArraySpec(
    "test_top5",
    _PER_RUN,
    "float32",
    "%",
    "test top-5 accuracy with the best-validation weights",
    valid_range=_PERCENT,
)
BEST_VAL_ACC = ArraySpec(
    "best_val_acc", _PER_RUN, "float32", "%", "validation top-1 at the best epoch (= its maximum over all epochs)",
    valid_range=_PERCENT,
)  # fmt: skip
BEST_EPOCH = ArraySpec(
    "best_epoch", _PER_RUN, "int32", "1",
    "epoch (from 1) with the highest validation top-1, ties to the later epoch; 0 = none",
)  # fmt: skip
TRAIN_SECONDS = ArraySpec(
    "train_seconds", _PER_RUN, "float64", "s", "wall-clock seconds of all training and validation epochs",
    valid_range=_NON_NEGATIVE,
)  # fmt: skip
RUN_STATUS = ArraySpec("status", _PER_RUN, "int8", "1", "state of the training run", attrs=dict(STATUS_FLAGS))
FAIL_REASON = ArraySpec(
    "fail_reason", _PER_RUN, "<U160", "1", "why the run failed; empty unless status is failed"
)
ENV_ID = ArraySpec(
    "env_id",
    _PER_RUN,
    "int32",
    "1",
    "index into the 'environments' group attribute; -1 = none",
    fill_value=-1,
)
RECORDED_PARAMS = ArraySpec(
    "params", ("model",), "int64", "1", "trainable parameters as recorded; -1 = not recorded", fill_value=-1
)
RECORDED_MACS = ArraySpec(
    "macs", ("model",), "int64", "1",
    "multiply-accumulates per image as recorded (the original 'flops'); -1 = not recorded", fill_value=-1,
)  # fmt: skip

#: Metrics recorded after every epoch, over (model, seed, epoch).
BENCHMARK_EPOCH_ARRAYS = (TRAIN_LOSS, TRAIN_ACC, TRAIN_TOP5, VAL_LOSS, VAL_ACC, VAL_TOP5, EPOCH_SECONDS)
#: Metrics measured once with the best-validation weights, over (model, seed).
BENCHMARK_TEST_ARRAYS = (TEST_LOSS, TEST_ACC, TEST_TOP5)
#: Results measured once per training run, over (model, seed).
BENCHMARK_RUN_ARRAYS = (
    *BENCHMARK_TEST_ARRAYS,
    BEST_VAL_ACC,
    BEST_EPOCH,
    TRAIN_SECONDS,
    RUN_STATUS,
    FAIL_REASON,
    ENV_ID,
)
#: Static per-model facts recorded by the producer (the trainer or the released info file).
BENCHMARK_MODEL_ARRAYS = (RECORDED_PARAMS, RECORDED_MACS)

#: Names of the per-epoch arrays, in order (the keys of a training record's curves).
EPOCH_KEYS = tuple(spec.name for spec in BENCHMARK_EPOCH_ARRAYS)
#: Names of the test arrays: loss, top-1, top-5.
TEST_KEYS = tuple(spec.name for spec in BENCHMARK_TEST_ARRAYS)

#: Group attributes every benchmark store has.
BENCHMARK_ATTRS = ("recipe_id", "recipe", "dataset", "epochs", "is_partial", "environments")

#: Model-chunk length of a merged benchmark store (45**2: 45 chunks cover the space).
BENCHMARK_MODEL_CHUNK = 2025
#: Epoch-chunk length of a merged store: a query at one epoch reads 1/8 of a 200-epoch curve.
BENCHMARK_EPOCH_CHUNK = 25


def check_benchmark_store(group: Any, path: Any) -> None:
    """Checks beyond the schema that a benchmark-schema store must pass (run by ``open_store``):
    a recipe (a mapping) with a non-empty recipe id, a dataset name, ``epochs`` equal to the
    epoch coordinate ``1..E``, sorted unique models and unique seeds.

    Raises:
        SchemaError: naming what is wrong.
    """
    attrs = group.attrs
    if not isinstance(attrs["recipe"], dict) or not str(attrs["recipe_id"]).strip():
        raise SchemaError(f"{path}: a benchmark store needs a recipe (a mapping) and a non-empty recipe_id")
    if not str(attrs["dataset"]).strip():
        raise SchemaError(f"{path}: a benchmark store needs a dataset name")
    epochs = group["epoch"][:]
    if epochs.tolist() != list(range(1, len(epochs) + 1)) or attrs["epochs"] != len(epochs):
        raise SchemaError(
            f"{path}: epochs attribute {attrs['epochs']!r} and epoch coordinate "
            f"{epochs[:3].tolist()}... disagree; epochs count from 1 to E"
        )
    models, seeds = group["model"][:], group["seed"][:]
    if np.any(np.diff(models) <= 0) or len(np.unique(seeds)) != len(seeds):
        raise SchemaError(
            f"{path}: models must be sorted and unique, seeds unique; rebuild the store with merge"
        )


BENCHMARK = register_store_kind(
    StoreSpec(
        kind="benchmark",
        coords=(MODEL, SEED, EPOCH),
        arrays=BENCHMARK_EPOCH_ARRAYS + BENCHMARK_RUN_ARRAYS + BENCHMARK_MODEL_ARRAYS,
        chunks={"model": BENCHMARK_MODEL_CHUNK, "epoch": BENCHMARK_EPOCH_CHUNK},
        required_attrs=BENCHMARK_ATTRS,
        merge_dim="model",
        match_attrs=("recipe_id", "recipe", "dataset", "epochs"),
        carry_attrs=("val_epoch1_aliased", "recipe_id_version"),
        env_index="env_id",
        check=check_benchmark_store,
    )
)


def _metric(spec: ArraySpec, higher_is_better: bool) -> Metric:
    return Metric(spec.name, spec, per_epoch=spec.dims == _PER_EPOCH, higher_is_better=higher_is_better)


#: Queryable metrics of a benchmark-schema store, by name (``flops`` in the original API is
#: ``macs``, read through ``Benchmark.flops``). Accuracies in %, losses unitless, times in s.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        _metric(TRAIN_LOSS, False),
        _metric(TRAIN_ACC, True),
        _metric(TRAIN_TOP5, True),
        _metric(VAL_LOSS, False),
        _metric(VAL_ACC, True),
        _metric(VAL_TOP5, True),
        _metric(EPOCH_SECONDS, False),
        _metric(TEST_LOSS, False),
        _metric(TEST_ACC, True),
        _metric(TEST_TOP5, True),
        _metric(TRAIN_SECONDS, False),
        _metric(BEST_EPOCH, True),
        _metric(BEST_VAL_ACC, True),
    )
}
