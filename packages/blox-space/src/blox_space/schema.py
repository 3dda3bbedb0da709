"""THE store schema: every Zarr store Blox writes is described here, once.

Writers and readers take these specs (never raw array names); see :mod:`blox_space.store`
for creating, opening and validating stores. Conventions (STYLE §9):

* Zarr v3; every array carries ``dimension_names`` (so ``xarray.open_zarr`` reads it) and
  ``units`` / ``long_name`` attributes; coordinates are 1-D arrays named like their dim.
* Unmeasured values are NaN (float) and an explicit ``status`` / ``done`` says why.
* Arrays are chunked along ``model`` so a shard is whole chunks.
* Epochs count **from 1**: the ``epoch`` coordinate of an E-epoch run is ``1..E``.
* Group attributes: ``schema_version``, ``store_kind``, ``producer``, ``producer_version``
  and the kind's required attributes (e.g. ``recipe_id``, ``dataset``).
* Strings (hashes, names) are fixed-width unicode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "SCHEMA_VERSION",
    "ArraySpec",
    "StoreSpec",
    "STATUS_FLAGS",
    "STATUS_PENDING",
    "STATUS_DONE",
    "STATUS_FAILED",
    "SPACE",
    "BENCHMARK",
    "BENCHMARK_ATTRS",
    "BENCHMARK_EPOCH_ARRAYS",
    "BENCHMARK_RUN_ARRAYS",
    "BENCHMARK_MODEL_ARRAYS",
    "BENCHMARK_MODEL_CHUNK",
    "BENCHMARK_EPOCH_CHUNK",
    "LATENCY",
    "LATENCY_ATTRS",
    "LATENCY_LUT",
    "PART",
    "STORE_KINDS",
    "get_store_spec",
]

#: Bumped whenever an array is added, removed or changes meaning.
SCHEMA_VERSION = 1

STATUS_PENDING, STATUS_DONE, STATUS_FAILED = 0, 1, 2
#: ``flag_values`` / ``flag_meanings`` of every ``status`` array.
STATUS_FLAGS = {
    "flag_values": [STATUS_PENDING, STATUS_DONE, STATUS_FAILED],
    "flag_meanings": "pending done failed",
}


@dataclass(frozen=True)
class ArraySpec:
    """One array of a store.

    Args:
        name: array name in the store (snake_case).
        dims: dimension names, in order.
        dtype: numpy dtype string (``"float32"``, ``"int64"``, ``"<U32"`` ...).
        units: UDUNITS-style units (``"1"`` for dimensionless, ``"%"``, ``"s"``).
        long_name: one-line meaning.
        fill_value: value of unwritten elements; NaN for floats by default.
        attrs: extra attributes (e.g. ``flag_values``).
    """

    name: str
    dims: tuple[str, ...]
    dtype: str
    units: str
    long_name: str
    fill_value: Any = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def fill(self) -> Any:
        if self.fill_value is not None:
            return self.fill_value
        kind = np.dtype(self.dtype).kind
        if kind == "f":
            return np.nan
        if kind == "U":
            return ""
        if kind == "b":
            return False
        return 0

    def attributes(self) -> dict[str, Any]:
        return {"units": self.units, "long_name": self.long_name, **self.attrs}


@dataclass(frozen=True)
class StoreSpec:
    """A store kind: its coordinates, data arrays, chunking and required group attributes.

    Args:
        kind: store kind (``"space"``, ``"benchmark"``, ...), written as ``store_kind``.
        coords: 1-D coordinate arrays, one per dimension that has labels.
        arrays: data arrays.
        chunks: chunk length per dimension; dimensions not listed are one chunk.
        required_attrs: group attributes every store of this kind must have.
    """

    kind: str
    coords: tuple[ArraySpec, ...]
    arrays: tuple[ArraySpec, ...]
    chunks: dict[str, int] = field(default_factory=dict)
    required_attrs: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> ArraySpec:
        for spec in self.coords + self.arrays:
            if spec.name == name:
                return spec
        raise KeyError(f"store kind {self.kind!r} has no array {name!r}")

    def __contains__(self, name: object) -> bool:
        return any(spec.name == name for spec in self.coords + self.arrays)

    @property
    def all_arrays(self) -> tuple[ArraySpec, ...]:
        return self.coords + self.arrays

    @property
    def dims(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for spec in self.all_arrays:
            for dim in spec.dims:
                seen.setdefault(dim)
        return tuple(seen)


# ---------------------------------------------------------------------------------------
# coordinates shared by store kinds
# ---------------------------------------------------------------------------------------
MODEL = ArraySpec("model", ("model",), "int64", "1", "model index b0 + 45*b1 + 2025*b2")
STAGE = ArraySpec("stage", ("stage",), "int64", "1", "stage index 0..2")
BLOCK = ArraySpec("block", ("block",), "int64", "1", "block id 0..44")

# ---------------------------------------------------------------------------------------
# space store: the search space at one (width, resolution, num_classes)
# ---------------------------------------------------------------------------------------
SPACE = StoreSpec(
    kind="space",
    coords=(
        MODEL,
        STAGE,
        BLOCK,
        ArraySpec("cell_field", ("cell_field",), "<U8", "1", "raw cell fields: op0 op1 prev input sc"),
    ),
    arrays=(
        ArraySpec("block_name", ("block",), "<U24", "1", "readable block name"),
        ArraySpec("block_scheme", ("block",), "<U12", "1", "connectivity scheme of the block"),
        ArraySpec("block_cell", ("block", "cell_field"), "int8", "1", "canonical raw cell of the block"),
        ArraySpec("block_depth", ("block",), "int64", "1", "conv layers on the longest path of the cell"),
        ArraySpec(
            "block_params", ("stage", "block"), "int64", "1", "trainable parameters of the cell at this stage"
        ),
        ArraySpec(
            "block_macs",
            ("stage", "block"),
            "int64",
            "1",
            "multiply-accumulates of the cell at this stage, batch 1",
        ),
        ArraySpec("block_ids", ("model", "stage"), "int8", "1", "block id per stage"),
        ArraySpec("hash", ("model",), "<U32", "1", "original md5 model hash"),
        ArraySpec("name", ("model",), "<U80", "1", "readable model name"),
        ArraySpec("params", ("model",), "int64", "1", "trainable parameters of the model"),
        ArraySpec("macs", ("model",), "int64", "1", "multiply-accumulates per image (ptflops semantics)"),
        ArraySpec("depth", ("model",), "int64", "1", "conv/linear layers on the longest path"),
        ArraySpec("is_uniform", ("model",), "bool", "1", "same block in every stage"),
    ),
    chunks={"model": 91125 // 5},
    required_attrs=("width", "resolution", "num_classes", "fixed_params", "fixed_macs"),
)

# ---------------------------------------------------------------------------------------
# BENCHMARK store: normal-training results of one recipe (written by blox-train shards,
# merged by ``blox-space merge``, or imported from the released files; read by
# :func:`blox_space.open_benchmark`).
#
# Dimensions: ``model`` (coordinate = model indices, sorted, unique), ``seed`` (coordinate
# = the training seeds), ``epoch`` (coordinate = 1..E: **epochs count from 1**; element
# ``[..., e - 1]`` holds the metrics measured after epoch ``e``).
# Units: accuracies in percent (``"%"``, 100 * correct / N, like the original), losses
# dimensionless (``"1"``), times in seconds (``"s"``).
# Unmeasured values are NaN; ``status`` (pending / done / failed, see STATUS_FLAGS) is
# the done mask and ``fail_reason`` says why a run failed (e.g. a diverging loss).
# Group attributes (BENCHMARK_ATTRS): ``recipe_id``, ``recipe`` (canonical dict),
# ``dataset``, ``epochs``, ``is_partial`` (True for shards and for a merge that allowed
# gaps) and ``environments`` (a list of environment dicts; ``env_id`` indexes it, -1 =
# none recorded). Optional attributes: ``bucket`` ({"index", "count"}) on shards,
# ``provenance`` (how the store was made: merge inputs, legacy import files) and
# ``val_epoch1_aliased`` (True for stores imported from the released files, whose epoch-1
# validation metrics hold the best epoch's values, facts §4.6).
# Chunks: one model (all its seeds and epochs) per chunk in a shard (each model row is
# written once, by the one process that owns the shard); in a merged store
# ``BENCHMARK_MODEL_CHUNK`` models per chunk, or a multiple of the shards' common bucket size
# (see blox_space.merge), and ``BENCHMARK_EPOCH_CHUNK`` epochs.
# ---------------------------------------------------------------------------------------
SEED = ArraySpec("seed", ("seed",), "int64", "1", "training seed")
EPOCH = ArraySpec("epoch", ("epoch",), "int64", "1", "epoch number, counted from 1")

_PER_EPOCH = ("model", "seed", "epoch")
_PER_RUN = ("model", "seed")

#: Metrics recorded after every epoch, over (model, seed, epoch).
BENCHMARK_EPOCH_ARRAYS = (
    ArraySpec(
        "train_loss",
        _PER_EPOCH,
        "float32",
        "1",
        "mean training cross-entropy during the epoch (train-mode BN)",
    ),
    ArraySpec("train_acc", _PER_EPOCH, "float32", "%", "training top-1 accuracy during the epoch"),
    ArraySpec("train_top5", _PER_EPOCH, "float32", "%", "training top-5 accuracy during the epoch"),
    ArraySpec("val_loss", _PER_EPOCH, "float32", "1", "validation cross-entropy after the epoch"),
    ArraySpec("val_acc", _PER_EPOCH, "float32", "%", "validation top-1 accuracy after the epoch"),
    ArraySpec("val_top5", _PER_EPOCH, "float32", "%", "validation top-5 accuracy after the epoch"),
    ArraySpec(
        "epoch_seconds", _PER_EPOCH, "float32", "s", "wall-clock seconds of the epoch (train + validation)"
    ),
)

#: Results measured once per training run, over (model, seed).
BENCHMARK_RUN_ARRAYS = (
    ArraySpec("test_loss", _PER_RUN, "float32", "1", "test cross-entropy with the best-validation weights"),
    ArraySpec("test_acc", _PER_RUN, "float32", "%", "test top-1 accuracy with the best-validation weights"),
    ArraySpec("test_top5", _PER_RUN, "float32", "%", "test top-5 accuracy with the best-validation weights"),
    ArraySpec(
        "best_val_acc",
        _PER_RUN,
        "float32",
        "%",
        "validation top-1 at the best epoch (= its maximum over all epochs)",
    ),
    ArraySpec(
        "best_epoch",
        _PER_RUN,
        "int32",
        "1",
        "epoch (from 1) with the highest validation top-1, ties to the later epoch; 0 = none",
    ),
    ArraySpec(
        "train_seconds", _PER_RUN, "float64", "s", "wall-clock seconds of all training and validation epochs"
    ),
    ArraySpec("status", _PER_RUN, "int8", "1", "state of the training run", attrs=dict(STATUS_FLAGS)),
    ArraySpec("fail_reason", _PER_RUN, "<U160", "1", "why the run failed; empty unless status is failed"),
    ArraySpec(
        "env_id",
        _PER_RUN,
        "int32",
        "1",
        "index into the 'environments' group attribute; -1 = none",
        fill_value=-1,
    ),
)

#: Static per-model facts recorded by the producer (the trainer or the released info file).
BENCHMARK_MODEL_ARRAYS = (
    ArraySpec(
        "params",
        ("model",),
        "int64",
        "1",
        "trainable parameters as recorded; -1 = not recorded",
        fill_value=-1,
    ),
    ArraySpec(
        "macs",
        ("model",),
        "int64",
        "1",
        "multiply-accumulates per image as recorded (the original 'flops'); -1 = not recorded",
        fill_value=-1,
    ),
)

#: Group attributes every benchmark store has.
BENCHMARK_ATTRS = ("recipe_id", "recipe", "dataset", "epochs", "is_partial", "environments")

#: Model-chunk length of a merged benchmark store (45**2: 45 chunks cover the space).
BENCHMARK_MODEL_CHUNK = 2025
#: Epoch-chunk length of a merged store: a query at one epoch reads 1/8 of a 200-epoch curve.
BENCHMARK_EPOCH_CHUNK = 25

BENCHMARK = StoreSpec(
    kind="benchmark",
    coords=(MODEL, SEED, EPOCH),
    arrays=BENCHMARK_EPOCH_ARRAYS + BENCHMARK_RUN_ARRAYS + BENCHMARK_MODEL_ARRAYS,
    chunks={"model": BENCHMARK_MODEL_CHUNK, "epoch": BENCHMARK_EPOCH_CHUNK},
    required_attrs=BENCHMARK_ATTRS,
)

# ---------------------------------------------------------------------------------------
# LATENCY stores (blox-hw): one store per device and kind; seconds per forward pass at the
# protocol's batch size, eval mode, no grad. Group attributes (LATENCY_ATTRS): ``device``
# (``{kind}-{model}-{precision}``, e.g. ``cpu-amd-epyc-fp32``), ``device_kind`` (the blox-hw
# registry name: cpu, cuda, torchscript, onnxruntime), ``precision``, ``protocol`` (dict with
# ``name``, ``version``, batch size, warm-up, runs x repetitions, pause, statistic),
# ``environment`` (CPU/GPU model, cores, threads, torch version) and the network geometry
# (``width``, ``resolution``, ``num_classes``).
#
# ``latency``: end-to-end latency per model; the ``model`` coordinate holds the measured model
# indices (sorted, unique; any subset, all 91,125 for the paper). ``done`` is the done mask,
# ``status`` says why a model is missing (pending / failed); unmeasured latencies are NaN.
# ``latency_lut``: the per-block lookup table. ``block_latency_s[s, b]`` is stage ``s``
# (block ``b``'s cell plus the stage's reduction) measured alone at the stage's input shape;
# ``fixed_latency_s`` the stem, the head (pool + linear) and the glue (the whole reference
# model minus its parts). Additive prediction (:func:`blox_space.additive_latency`):
# ``latency ~= sum(fixed_latency_s) + sum_s block_latency_s[s, block_ids[s]]``.
# ---------------------------------------------------------------------------------------
LATENCY_ATTRS = (
    "device",
    "device_kind",
    "precision",
    "protocol",
    "environment",
    "width",
    "resolution",
    "num_classes",
)
PART = ArraySpec("part", ("part",), "<U8", "1", "fixed part of the network (stem, head, glue)")

LATENCY = StoreSpec(
    kind="latency",
    coords=(MODEL,),
    arrays=(
        ArraySpec(
            "latency_s",
            ("model",),
            "float64",
            "s",
            "end-to-end latency per forward pass (IQR mean of run means)",
        ),
        ArraySpec("latency_spread", ("model",), "float64", "1", "IQR / median of the run means"),
        ArraySpec("done", ("model",), "bool", "1", "latency was measured"),
        ArraySpec(
            "status", ("model",), "int8", "1", "measurement status of the model", attrs=dict(STATUS_FLAGS)
        ),
    ),
    chunks={"model": BENCHMARK_MODEL_CHUNK},
    required_attrs=LATENCY_ATTRS,
)

LATENCY_LUT = StoreSpec(
    kind="latency_lut",
    coords=(STAGE, BLOCK, PART),
    arrays=(
        ArraySpec(
            "block_latency_s",
            ("stage", "block"),
            "float64",
            "s",
            "latency of the block's cell plus the stage's reduction",
        ),
        ArraySpec(
            "block_latency_spread", ("stage", "block"), "float64", "1", "IQR / median of the run means"
        ),
        ArraySpec(
            "block_status",
            ("stage", "block"),
            "int8",
            "1",
            "measurement status of the stage block",
            attrs=dict(STATUS_FLAGS),
        ),
        ArraySpec("fixed_latency_s", ("part",), "float64", "s", "latency of the fixed part"),
        ArraySpec("fixed_latency_spread", ("part",), "float64", "1", "IQR / median of the run means"),
        ArraySpec(
            "fixed_status",
            ("part",),
            "int8",
            "1",
            "measurement status of the fixed part",
            attrs=dict(STATUS_FLAGS),
        ),
    ),
    required_attrs=LATENCY_ATTRS,
)

#: Every store kind, by name; later packages' kinds are registered here too.
STORE_KINDS: dict[str, StoreSpec] = {
    "space": SPACE,
    "benchmark": BENCHMARK,
    "latency": LATENCY,
    "latency_lut": LATENCY_LUT,
}


def get_store_spec(kind: str) -> StoreSpec:
    """The spec of a store kind.

    Raises:
        KeyError: unknown kind (the message lists the known ones).
    """
    try:
        return STORE_KINDS[kind]
    except KeyError:
        raise KeyError(
            f"unknown store kind {kind!r}; known kinds: {', '.join(sorted(STORE_KINDS))}"
        ) from None
