"""Schema of the **blockwise** store and its shard writer: one teacher's blockwise distillation
(SPEC §5, §5b, §8), written by ``blox-train distill`` shards and merged with the shared merge;
read by :func:`blox_space.open_blockwise`.

A store holds, for one teacher, every candidate block of every stage distilled to mimic that
stage of the teacher (the candidate stage = the block's cell + the stage's reduction, fed the
teacher's stage input, trained to output the teacher's stage output).

Dimensions: ``stage`` (0..2), ``block`` (block ids 0..44; a shard may hold a subset, a merged
store holds all 45 for each of the 3 stages), ``epoch`` (distillation epochs **counted from 1**:
element ``[..., e - 1]`` holds what was measured after epoch ``e``) and ``snapshot`` (the
distillation epochs at which the block weights were saved into the block library and the
LANA signature was measured; sorted, a subset of ``1..E``).

Arrays:

* ``train_nsr`` / ``val_nsr`` ``(stage, block, epoch)``, unitless, >= 0: the **NSR** (noise to
  signal ratio) of the block's output against the teacher's stage output, on the training split
  during the epoch / on the validation split after it. NSR = the mean over the teacher's *live*
  output channels ``c`` of ``MSE_c / Var_c`` (``MSE_c`` the mean squared error of channel ``c``
  over images and positions, ``Var_c`` the variance of the teacher's channel ``c``). The DONNA
  signature of a block at epoch ``e`` is its ``val_nsr`` at ``e``.
* **Dead channels**: a teacher output channel whose variance is below ``dead_channel_ratio``
  (the ``distill`` attribute; 1e-6) times the mean channel variance of that stage output carries
  no signal and would divide by (almost) zero, so it is left out of the NSR average, never
  turned into NaN or inf. ``dead_channels`` ``(stage, block)`` counts them; it is a property of
  the teacher's stage, so every block of one stage has the same count.
* ``lana_val_acc`` ``(stage, block, snapshot)`` in ``%`` [0, 100]: the teacher's validation
  top-1 with its stage replaced by the block as distilled up to the snapshot epoch;
  ``lana_delta_acc`` in percentage points (``"pp"``, [-100, 100]): that minus the teacher's own
  validation top-1 -- the LANA signature (higher is better).
* ``distill_seconds`` ``(stage, block)`` in ``s``: device seconds of the block's distillation.
  The candidates of one stage share one teacher forward pass per batch; that shared teacher
  time is split evenly over the stage's blocks (the ``teacher_seconds_split`` attribute says
  so), so the seconds of all blocks add up to the cost of the library (SPEC §5b).
  ``signature_seconds``: device seconds of the block's LANA evaluations at all snapshots.
* ``library_file`` / ``library_sha256`` ``(stage, block, snapshot)``: the block's saved weights
  at each snapshot, as a path relative to the library folder (the ``library`` attribute) and
  the sha256 hex digest of that file; empty where nothing was saved.
* ``status`` ``(stage, block)`` (:class:`~blox_space.store.spec.Status`: pending, done, failed)
  is the done mask; ``fail_reason`` says why a block failed (e.g. a diverging NSR). A failed
  block keeps the finite values measured before it stopped; queries read it as NaN.

Group attributes (:data:`BLOCKWISE_ATTRS`): ``teacher`` (``name`` e.g. ``"M1"`` or None,
``model``, ``block_ids``, ``recipe_id``, ``val_acc``, ``test_acc``, ``train_seconds``, ``width``,
``resolution``, ``num_classes``), ``distill`` (``epochs``, ``snapshots``, ``recipe_id``, ``lr``,
``seed``, ``dead_channel_ratio``) and ``distill_id`` (:func:`hash_distill` of it), ``dataset``,
``library`` (the library folder as given) and ``teacher_seconds_split``. Shards of one store
share ``teacher``, ``distill``, ``distill_id`` and ``dataset``; they tile the (stage, block)
grid and merge with :func:`blox_space.store.merge_stores`, which refuses a (stage, block) in two
shards and -- unless a partial store is asked for -- any of the 135 pairs in none.

Chunks: one (stage, block) per chunk in a shard (each block is written once, by the one process
that owns the shard, its ``status`` last); one chunk per array in a merged store.

Example:
    >>> import tempfile
    >>> teacher = {"name": "M1", "model": 24519, "block_ids": [39, 4, 12], "recipe_id": "r",
    ...            "val_acc": 60.0, "test_acc": 59.0, "train_seconds": 100.0,
    ...            "width": 16, "resolution": 32, "num_classes": 100}
    >>> distill = {"epochs": 2, "snapshots": [2], "recipe_id": "r", "lr": 0.01, "seed": 0,
    ...            "dead_channel_ratio": 1e-6}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     group = create_blockwise_shard(f"{tmp}/s0.zarr", stages=[0], blocks=range(45), epochs=2,
    ...         snapshots=[2], teacher=teacher, distill=distill, dataset="cifar100", library="lib")
    ...     write_block_result(group, 0, 3, train_nsr=[0.9, 0.5], val_nsr=[0.8, 0.6],
    ...         lana_val_acc=[55.0], lana_delta_acc=[-5.0], distill_seconds=1.5, signature_seconds=0.2,
    ...         dead_channels=0, library_file=["stage0/block03/epoch002.pt"], library_sha256=["0" * 64],
    ...         status=STATUS_DONE)
    ...     float(group["val_nsr"][0, 3, 1])
    0.6
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import zarr

from ..blocks import NUM_BLOCKS, NUM_MODELS, NUM_STAGES
from ..errors import SchemaError, StoreError
from .environments import canonical_json
from .group import create_store
from .spec import (
    BLOCK,
    STAGE,
    STATUS_DONE,
    STATUS_FAILED,
    STATUS_FLAGS,
    ArraySpec,
    StoreSpec,
    register_store_kind,
)

__all__ = [
    "DISTILL_EPOCH",
    "SNAPSHOT",
    "TRAIN_NSR",
    "VAL_NSR",
    "LANA_VAL_ACC",
    "LANA_DELTA_ACC",
    "DISTILL_SECONDS",
    "SIGNATURE_SECONDS",
    "BLOCK_STATUS",
    "BLOCK_FAIL_REASON",
    "DEAD_CHANNELS",
    "LIBRARY_FILE",
    "LIBRARY_SHA256",
    "BLOCKWISE_ATTRS",
    "TEACHER_KEYS",
    "DISTILL_KEYS",
    "TEACHER_SECONDS_SPLIT",
    "BLOCKWISE",
    "check_blockwise_store",
    "hash_distill",
    "create_blockwise_shard",
    "write_block_result",
]

_NON_NEGATIVE = (0.0, np.inf)
_PER_EPOCH = ("stage", "block", "epoch")
_PER_SNAPSHOT = ("stage", "block", "snapshot")
_PER_BLOCK = ("stage", "block")

DISTILL_EPOCH = ArraySpec(
    "epoch", ("epoch",), "int64", "1", "distillation epoch number, counted from 1", valid_range=(1, 2**31 - 1)
)
SNAPSHOT = ArraySpec(
    "snapshot", ("snapshot",), "int64", "1",
    "distillation epoch (from 1) after which block weights were saved and LANA measured",
    valid_range=(1, 2**31 - 1),
)  # fmt: skip
TRAIN_NSR = ArraySpec(
    "train_nsr", _PER_EPOCH, "float64", "1",
    "NSR (mean over live teacher channels of MSE / teacher channel variance) on the training split during the epoch",
    valid_range=_NON_NEGATIVE,
)  # fmt: skip
VAL_NSR = ArraySpec(
    "val_nsr", _PER_EPOCH, "float64", "1",
    "NSR on the validation split after the epoch (the DONNA signature)",
    valid_range=_NON_NEGATIVE,
)  # fmt: skip
LANA_VAL_ACC = ArraySpec(
    "lana_val_acc", _PER_SNAPSHOT, "float64", "%",
    "teacher validation top-1 with this stage replaced by the block distilled up to the snapshot",
    valid_range=(0.0, 100.0),
)  # fmt: skip
LANA_DELTA_ACC = ArraySpec(
    "lana_delta_acc", _PER_SNAPSHOT, "float64", "pp",
    "lana_val_acc minus the teacher's own validation top-1, in percentage points (the LANA signature)",
    valid_range=(-100.0, 100.0),
)  # fmt: skip
DISTILL_SECONDS = ArraySpec(
    "distill_seconds", _PER_BLOCK, "float64", "s",
    "device seconds of the block's distillation, with an even share of the stage's teacher forward time",
    valid_range=_NON_NEGATIVE,
)  # fmt: skip
SIGNATURE_SECONDS = ArraySpec(
    "signature_seconds", _PER_BLOCK, "float64", "s",
    "device seconds of the block's LANA evaluations at all snapshots",
    valid_range=_NON_NEGATIVE,
)  # fmt: skip
BLOCK_STATUS = ArraySpec(
    "status", _PER_BLOCK, "int8", "1", "state of the block's distillation", attrs=dict(STATUS_FLAGS)
)
BLOCK_FAIL_REASON = ArraySpec(
    "fail_reason", _PER_BLOCK, "<U160", "1", "why the block's distillation failed; empty unless failed"
)
DEAD_CHANNELS = ArraySpec(
    "dead_channels", _PER_BLOCK, "int64", "1",
    "teacher output channels of the stage left out of the NSR average (variance below "
    "dead_channel_ratio x the mean channel variance); -1 = not recorded",
    fill_value=-1, valid_range=(0, 2**31 - 1),
)  # fmt: skip
LIBRARY_FILE = ArraySpec(
    "library_file", _PER_SNAPSHOT, "<U96", "1",
    "the block's weights at the snapshot, relative to the library folder; empty = not saved",
)  # fmt: skip
LIBRARY_SHA256 = ArraySpec(
    "library_sha256", _PER_SNAPSHOT, "<U64", "1", "sha256 hex digest of library_file; empty = not saved"
)

#: Keys of the ``teacher`` attribute (blockwise and finetune stores).
TEACHER_KEYS = (
    "name",
    "model",
    "block_ids",
    "recipe_id",
    "val_acc",
    "test_acc",
    "train_seconds",
    "width",
    "resolution",
    "num_classes",
)
#: Keys of the ``distill`` attribute (what :func:`hash_distill` hashes).
DISTILL_KEYS = ("epochs", "snapshots", "recipe_id", "lr", "seed", "dead_channel_ratio")
#: Group attributes every blockwise store has.
BLOCKWISE_ATTRS = ("teacher", "distill", "distill_id", "dataset", "library", "teacher_seconds_split")
#: The ``teacher_seconds_split`` attribute: how distill_seconds accounts the shared teacher forward.
TEACHER_SECONDS_SPLIT = (
    "distill_seconds of a block = its own seconds + the stage's shared teacher forward seconds "
    "split evenly over the blocks distilled together with it"
)

_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer (a Python or numpy int, not a bool)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _sorted_unique(values: np.ndarray) -> bool:
    return values.ndim == 1 and bool(np.all(np.diff(values) > 0))


def check_blockwise_store(group: Any, path: Any) -> None:
    """Checks beyond the schema that a blockwise store must pass (run by ``open_store``):
    teacher and distill settings are mappings with a non-empty ``distill_id``; epochs count
    from 1 to E; snapshots are sorted, unique epochs of the store; stages and blocks are sorted,
    unique and in range.

    Raises:
        SchemaError: naming what is wrong.
    """
    attrs = group.attrs
    if not isinstance(attrs["teacher"], dict) or not isinstance(attrs["distill"], dict):
        raise SchemaError(f"{path}: a blockwise store needs teacher and distill attributes (mappings)")
    if not str(attrs["distill_id"]).strip() or not str(attrs["dataset"]).strip():
        raise SchemaError(f"{path}: a blockwise store needs a non-empty distill_id and dataset")
    epochs = group[DISTILL_EPOCH.name][:]
    if epochs.tolist() != list(range(1, len(epochs) + 1)):
        raise SchemaError(
            f"{path}: epoch coordinate {epochs[:3].tolist()}... must be 1..E (epochs count from 1)"
        )
    snapshots = group[SNAPSHOT.name][:]
    if not _sorted_unique(snapshots) or not np.isin(snapshots, epochs).all():
        raise SchemaError(
            f"{path}: snapshots {snapshots.tolist()[:10]} must be sorted, unique epochs in 1..{len(epochs)}"
        )
    for spec, high in ((STAGE, NUM_STAGES), (BLOCK, NUM_BLOCKS)):
        labels = group[spec.name][:]
        if not _sorted_unique(labels) or (labels.size and (labels[0] < 0 or labels[-1] >= high)):
            raise SchemaError(
                f"{path}: {spec.name}s {labels.tolist()[:10]} must be sorted, unique and in 0..{high - 1}"
            )


BLOCKWISE = register_store_kind(
    StoreSpec(
        kind="blockwise",
        coords=(STAGE, BLOCK, DISTILL_EPOCH, SNAPSHOT),
        arrays=(
            TRAIN_NSR,
            VAL_NSR,
            LANA_VAL_ACC,
            LANA_DELTA_ACC,
            DISTILL_SECONDS,
            SIGNATURE_SECONDS,
            BLOCK_STATUS,
            BLOCK_FAIL_REASON,
            DEAD_CHANNELS,
            LIBRARY_FILE,
            LIBRARY_SHA256,
        ),
        required_attrs=BLOCKWISE_ATTRS,
        merge_dim=("stage", "block"),
        match_attrs=("teacher", "distill", "distill_id", "dataset"),
        merge_expected={"stage": tuple(range(NUM_STAGES)), "block": tuple(range(NUM_BLOCKS))},
        check=check_blockwise_store,
    )
)


def hash_distill(distill: Mapping[str, Any]) -> str:
    """The ``distill_id`` of distillation settings: md5 of their canonical JSON (sorted keys),
    like a recipe id; the block library's sidecar files record the same id.

    Example:
        >>> hash_distill({"epochs": 10, "lr": 0.01}) == hash_distill({"lr": 0.01, "epochs": 10})
        True
    """
    return hashlib.md5(canonical_json(dict(distill)).encode()).hexdigest()


def _labels(values: Sequence[int] | np.ndarray, what: str, high: int) -> np.ndarray:
    try:
        arr = np.asarray(list(values), dtype=np.int64).ravel()
    except (TypeError, ValueError, OverflowError):
        raise SchemaError(f"{what}s must be integers, got {values!r}") from None
    if arr.size == 0:
        raise SchemaError(f"a blockwise shard needs at least one {what}")
    if len(np.unique(arr)) != arr.size:
        raise SchemaError(f"{what}s must be unique; got {arr.tolist()[:10]}")
    if arr.min() < 0 or arr.max() > high:
        raise SchemaError(f"{what}s must be in 0..{high}; got {arr.tolist()[:10]}")
    return np.sort(arr)


def check_teacher(teacher: Mapping[str, Any]) -> dict[str, Any]:
    """The ``teacher`` attribute as stored (JSON-ready), after checking it has every key of
    :data:`TEACHER_KEYS` and a model index in range.

    Raises:
        SchemaError: not a mapping, a missing key, or a model outside 0..91,124.
    """
    if not isinstance(teacher, Mapping):
        raise SchemaError(
            f"teacher must be a mapping with keys {list(TEACHER_KEYS)}, got {type(teacher).__name__}"
        )
    missing = [k for k in TEACHER_KEYS if k not in teacher]
    if missing:
        raise SchemaError(f"teacher lacks {missing}; a teacher record has {list(TEACHER_KEYS)}")
    model = teacher["model"]
    if not is_int(model) or not 0 <= int(model) < NUM_MODELS:
        raise SchemaError(f"teacher model must be a model index in 0..{NUM_MODELS - 1}, got {model!r}")
    return _jsonable(teacher)


def _jsonable(value: Mapping[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(canonical_json(dict(value)))


def create_blockwise_shard(
    path: str | Path,
    *,
    stages: Sequence[int],
    blocks: Sequence[int],
    epochs: int,
    snapshots: Sequence[int],
    teacher: Mapping[str, Any],
    distill: Mapping[str, Any],
    dataset: str,
    library: str | Path,
    producer: str = "blox-space",
    overwrite: bool = False,
) -> zarr.Group:
    """Create an empty blockwise shard for some (stage, block) pairs of one teacher, all ``pending``.

    Args:
        path: the shard store folder (e.g. ``results/distill/M1/stage-0.zarr``).
        stages: stages of the shard (0..2).
        blocks: block ids of the shard (0..44); the shard holds every stage x block pair.
        epochs: distillation epochs E; the epoch coordinate is ``1..E``.
        snapshots: epochs at which block weights are saved and LANA is measured (in 1..E).
        teacher: the teacher record (keys :data:`TEACHER_KEYS`).
        distill: the distillation settings (keys :data:`DISTILL_KEYS`); its ``epochs`` and
            ``snapshots`` must be ``epochs`` and ``snapshots``. Hashed into ``distill_id``.
        dataset: dataset name.
        library: the block library folder, as given (recorded, not opened).
        producer: distribution recorded as producer (e.g. ``"blox-train"``).
        overwrite: replace an existing store.

    Returns:
        The open, writable Zarr group.

    Raises:
        SchemaError: empty / duplicate / out-of-range stages, blocks or snapshots, epochs < 1,
            a teacher or distill mapping lacking keys or disagreeing with ``epochs`` / ``snapshots``.
        StoreError: ``path`` exists and ``overwrite`` is False.
    """
    stage_arr = _labels(stages, "stage", NUM_STAGES - 1)
    block_arr = _labels(blocks, "block", NUM_BLOCKS - 1)
    if not is_int(epochs) or int(epochs) < 1:
        raise SchemaError(f"epochs must be an integer >= 1, got {epochs!r}")
    epochs = int(epochs)
    snap_arr = _labels(snapshots, "snapshot", epochs)
    if snap_arr[0] < 1:
        raise SchemaError(f"snapshots are epochs, counted from 1: in 1..{epochs}; got {snap_arr.tolist()}")
    teacher_attr = check_teacher(teacher)
    if not isinstance(distill, Mapping):
        raise SchemaError(f"distill must be a mapping with keys {list(DISTILL_KEYS)}")
    missing = [k for k in DISTILL_KEYS if k not in distill]
    if missing:
        raise SchemaError(f"distill settings lack {missing}; they have {list(DISTILL_KEYS)}")
    distill_attr = _jsonable(distill)
    if distill_attr["epochs"] != epochs or sorted(distill_attr["snapshots"] or []) != snap_arr.tolist():
        raise SchemaError(
            f"distill settings say epochs {distill_attr['epochs']!r}, snapshots {distill_attr['snapshots']!r}; "
            f"the shard is created with epochs {epochs}, snapshots {snap_arr.tolist()}"
        )
    if not str(dataset).strip():
        raise SchemaError("a blockwise store needs a dataset name")
    attrs = {
        "teacher": teacher_attr,
        "distill": distill_attr,
        "distill_id": hash_distill(distill_attr),
        "dataset": str(dataset),
        "library": str(library),
        "teacher_seconds_split": TEACHER_SECONDS_SPLIT,
        "is_partial": True,
    }
    return create_store(
        path,
        BLOCKWISE,
        sizes={"stage": len(stage_arr), "block": len(block_arr), "epoch": epochs, "snapshot": len(snap_arr)},
        coords={
            "stage": stage_arr,
            "block": block_arr,
            "epoch": np.arange(1, epochs + 1),
            "snapshot": snap_arr,
        },
        chunks={"stage": 1, "block": 1},
        attrs=attrs,
        overwrite=overwrite,
        producer=producer,
    )


def _position(coord: np.ndarray, value: Any, what: str) -> int:
    if not is_int(value):
        raise StoreError(f"{what} must be an int, got {value!r}")
    hits = np.flatnonzero(coord == int(value))
    if not hits.size:
        raise StoreError(f"{what} {value} is not in this shard; it holds {what}s {coord.tolist()[:45]}")
    return int(hits[0])


def _checked(spec: ArraySpec, values: Any, length: int, status: int) -> np.ndarray:
    """``values`` as a float row of ``length`` (NaN-padded), if the schema allows them. A done
    block gives every value; a failed one may give fewer, and its non-finite values are NaN."""
    arr = np.asarray(values, dtype=np.float64)
    shape = arr.shape
    arr = arr.ravel() if arr.ndim else arr
    if arr.ndim and (arr.size > length or (status == STATUS_DONE and arr.size != length)):
        raise SchemaError(
            f"{spec.name} has {arr.size} values; this shard holds {length} {spec.dims[-1]}s"
            + (" (a done block gives all of them)" if status == STATUS_DONE else "")
        )
    if status == STATUS_FAILED:
        arr = np.where(np.isfinite(arr), arr, np.nan)
    elif np.isnan(arr).any():
        raise SchemaError(
            f"{spec.name} has NaN; a done block has every value (record a failed block instead)"
        )
    bad = spec.invalid(arr)
    if np.any(bad):
        first = float(np.asarray(arr)[bad].ravel()[0])
        low, high = spec.valid_range or (-np.inf, np.inf)
        raise SchemaError(
            f"{spec.name} = {first!r} is not allowed; {spec.long_name} must be finite and in {low:g}..{high:g}"
            + ("" if spec.units == "1" else f" {spec.units}")
        )
    if not shape:
        return arr
    row = np.full(length, np.nan)
    row[: arr.size] = arr
    return row


def _strings(spec: ArraySpec, values: Sequence[str], length: int, status: int) -> np.ndarray:
    items = [values] if isinstance(values, str) else list(values)
    if len(items) > length or (status == STATUS_DONE and len(items) != length):
        raise SchemaError(f"{spec.name} has {len(items)} entries; this shard holds {length} snapshots")
    width = np.dtype(spec.dtype).itemsize // 4
    row = np.full(length, "", dtype=spec.dtype)
    for i, item in enumerate(items):
        text = str(item)
        if len(text) > width:
            raise SchemaError(f"{spec.name} {text[:40]!r}... is longer than {width} characters")
        if spec is LIBRARY_SHA256 and text and not _SHA256.fullmatch(text):
            raise SchemaError(
                f"library_sha256 {text[:70]!r} is not a sha256 hex digest (64 lower-case hex digits)"
            )
        if spec is LIBRARY_FILE and text:
            rel = PurePosixPath(text)
            if rel.is_absolute() or ".." in rel.parts or "\\" in text:
                raise SchemaError(f"library_file {text!r} must be a path relative to the library folder")
        row[i] = text
    return row


def write_block_result(
    group: zarr.Group,
    stage: int,
    block: int,
    *,
    train_nsr: Sequence[float] | np.ndarray,
    val_nsr: Sequence[float] | np.ndarray,
    lana_val_acc: Sequence[float] | np.ndarray,
    lana_delta_acc: Sequence[float] | np.ndarray,
    distill_seconds: float,
    signature_seconds: float,
    dead_channels: int,
    library_file: Sequence[str],
    library_sha256: Sequence[str],
    status: int,
    fail_reason: str = "",
) -> None:
    """Write one distilled block (one stage, one block id) into a blockwise shard.

    Args:
        group: the shard, from :func:`create_blockwise_shard` or ``open_store(path, mode="r+")``.
        stage: the stage (must be in the shard).
        block: the block id (must be in the shard).
        train_nsr, val_nsr: NSR per epoch (element ``e-1`` for epoch ``e``), >= 0; a done
            block gives all E, a failed one may give fewer (the rest stays NaN).
        lana_val_acc: validation top-1 (%) at each snapshot, in the shard's snapshot order.
        lana_delta_acc: that minus the teacher's validation top-1, in percentage points.
        distill_seconds: device seconds of the distillation incl. its share of the teacher time.
        signature_seconds: device seconds of the LANA evaluations.
        dead_channels: teacher output channels of this stage left out of the NSR (>= 0; the
            same for every block of the stage).
        library_file: per snapshot, the weights file relative to the library folder.
        library_sha256: per snapshot, the file's sha256 hex digest.
        status: ``STATUS_DONE`` or ``STATUS_FAILED``.
        fail_reason: why the block failed (required when failed; at most 160 characters kept).

    Raises:
        SchemaError: a bad status, a missing fail reason, too many / too few values, a value
            outside its valid range (NSR < 0, accuracy outside 0..100 %, negative seconds,
            non-finite values of a done block), a dead-channel count differing from another
            block of the stage, a malformed library path or digest.
        StoreError: the stage or block is not in the shard.
    """
    if isinstance(status, bool) or status not in (STATUS_DONE, STATUS_FAILED):
        raise SchemaError(f"status must be done ({STATUS_DONE}) or failed ({STATUS_FAILED}); got {status!r}")
    if status == STATUS_FAILED and not str(fail_reason).strip():
        raise SchemaError("a failed block needs a fail_reason")
    s = _position(group[STAGE.name][:], stage, "stage")
    b = _position(group[BLOCK.name][:], block, "block")
    num_epochs = group[DISTILL_EPOCH.name].shape[0]
    num_snapshots = group[SNAPSHOT.name].shape[0]
    rows = {
        TRAIN_NSR.name: _checked(TRAIN_NSR, train_nsr, num_epochs, status),
        VAL_NSR.name: _checked(VAL_NSR, val_nsr, num_epochs, status),
        LANA_VAL_ACC.name: _checked(LANA_VAL_ACC, lana_val_acc, num_snapshots, status),
        LANA_DELTA_ACC.name: _checked(LANA_DELTA_ACC, lana_delta_acc, num_snapshots, status),
    }
    for name in rows:
        if np.ndim(rows[name]) == 0:
            raise SchemaError(
                f"{name} must be a sequence (one value per {group[name].metadata.dimension_names[-1]})"
            )
    seconds = {
        DISTILL_SECONDS.name: float(_checked(DISTILL_SECONDS, distill_seconds, 1, status)),
        SIGNATURE_SECONDS.name: float(_checked(SIGNATURE_SECONDS, signature_seconds, 1, status)),
    }
    if not is_int(dead_channels) or dead_channels < 0:
        raise SchemaError(f"dead_channels must be a count >= 0, got {dead_channels!r}")
    recorded = group[DEAD_CHANNELS.name][s, :]
    others = recorded[(recorded >= 0) & (np.arange(recorded.size) != b)]
    if others.size and int(others[0]) != int(dead_channels):
        raise SchemaError(
            f"dead_channels {dead_channels} for stage {stage}, block {block} differs from the {int(others[0])} "
            "recorded for another block of the stage; the count is the teacher stage's, the same for all blocks"
        )
    files = _strings(LIBRARY_FILE, library_file, num_snapshots, status)
    digests = _strings(LIBRARY_SHA256, library_sha256, num_snapshots, status)
    if status == STATUS_DONE and (not all(files) or not all(digests)):
        raise SchemaError("a done block has a library file and sha256 at every snapshot")
    for name, row in rows.items():
        group[name][s, b, :] = row
    for name, value in seconds.items():
        group[name][s, b] = value
    group[DEAD_CHANNELS.name][s, b] = int(dead_channels)
    group[LIBRARY_FILE.name][s, b, :] = files
    group[LIBRARY_SHA256.name][s, b, :] = digests
    group[BLOCK_FAIL_REASON.name][s, b] = str(fail_reason)[:160] if status == STATUS_FAILED else ""
    group[BLOCK_STATUS.name][s, b] = np.int8(status)  # last: marks the block complete
