"""Blockwise distillation of one teacher stage into a blockwise shard and the block library
(SPEC §5b, §8): what ``blox-train distill`` runs.

:func:`run_distill` distills a stage's candidate blocks (default all 45) from a saved teacher
(:func:`blox_train.load_teacher`) with :class:`~blox_train.distill.StageDistiller`: one teacher
forward per batch for all candidates, the NSR without dead teacher channels (see
:mod:`blox_train.distill`). At every snapshot epoch it saves each block's weights into the
library folder (:func:`blox_train.library.save_library_block`) and measures its LANA signature:
the teacher's validation top-1 with that stage replaced by the block, and the change against the
teacher's own validation top-1 (measured once, in the same pass style), in percentage points.
The results go to a blockwise shard (:func:`blox_space.store.create_blockwise_shard`), one row
per block, each written once at the end, its ``status`` last.

Seconds: ``distill_seconds`` of a block = its own training steps and validation passes + the
stage's shared teacher seconds (training batches, validation passes and the dead-channel pass)
split evenly over the blocks of the shard; ``signature_seconds`` = its own LANA passes + the
teacher's reference pass split the same way (the store's ``teacher_seconds_split`` says so).

Kill and resume: after every epoch (after the snapshot, if any) a checkpoint
``<out>.ckpt/stage{s}.pt`` holds every candidate's weights and optimizer state, the NSR history,
the seconds and the snapshot records so far; rerunning the same command continues from it and
gives the same store (bit for bit but the seconds). A rerun of a finished shard skips. The
distillation settings (``distill`` attribute: epochs, snapshots, recipe id, lr, seed, dead-channel
ratio) hash into ``distill_id``, which the shard and every library record carry; a shard or a
library folder holding another teacher or setting is refused.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from blox_space.schema import STATUS_DONE, STATUS_FAILED, STATUS_PENDING
from blox_space.store import (
    check_output_path,
    create_blockwise_shard,
    hash_distill,
    open_store,
    write_block_result,
)

from .batches import split_batches
from .data import DataSplits, load_dataset
from .distill import DEFAULT_DISTILL_EPOCHS, distill_settings, parse_blocks, parse_snapshots
from .distiller import StageDistiller, _check_stage
from .environment import resolve_device
from .errors import CheckpointError, ConfigError
from .fit import device_seconds
from .library import library_teacher, open_library, save_library_block
from .recipes import Recipe, get_recipe
from .shard import checkpoint_dir_for
from .signatures import _top1
from .teacher import Teacher, load_teacher

__all__ = ["DistillSummary", "run_distill"]

logger = logging.getLogger(__name__)

PRODUCER = "blox-train"
CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class DistillSummary:
    """What one call of :func:`run_distill` did.

    Attributes:
        path: the blockwise shard.
        library: the library folder.
        stage: the stage distilled.
        block_ids: the shard's blocks.
        distill_id: id of the distillation settings.
        num_done, num_failed: blocks recorded done / failed (by this call or before).
        is_skipped: the shard was finished before this call.
        dead_channels: teacher channels of the stage left out of the NSR.
        seconds: wall-clock seconds of this call.
    """

    path: Path
    library: Path
    stage: int
    block_ids: tuple[int, ...]
    distill_id: str
    num_done: int
    num_failed: int
    is_skipped: bool
    dead_channels: int
    seconds: float


class _Signatures:
    """The LANA records of the snapshots taken so far (checkpointed with the distiller)."""

    def __init__(self, num: int, snapshots: Sequence[int]) -> None:
        self.snapshots = tuple(snapshots)
        self.val_acc = np.full((num, len(snapshots)), np.nan)
        self.delta = np.full((num, len(snapshots)), np.nan)
        self.files = [[""] * len(snapshots) for _ in range(num)]
        self.digests = [[""] * len(snapshots) for _ in range(num)]
        self.seconds = np.zeros(num)
        self.reference: float | None = None
        self.reference_seconds = 0.0

    def state_dict(self) -> dict[str, object]:
        return {
            "val_acc": torch.from_numpy(self.val_acc.copy()), "delta": torch.from_numpy(self.delta.copy()),
            "files": self.files, "digests": self.digests, "seconds": torch.from_numpy(self.seconds.copy()),
            "reference": self.reference, "reference_seconds": self.reference_seconds,
        }  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        self.val_acc, self.delta = state["val_acc"].numpy().copy(), state["delta"].numpy().copy()
        self.files, self.digests = [list(r) for r in state["files"]], [list(r) for r in state["digests"]]
        self.seconds = state["seconds"].numpy().copy()
        self.reference, self.reference_seconds = state["reference"], float(state["reference_seconds"])


def _teacher_of(teacher: Teacher | str | Path) -> Teacher:
    return teacher if isinstance(teacher, Teacher) else load_teacher(teacher)


def _check_library(library: Path, teacher: dict, distill_id: str) -> None:
    """Refuse a library folder that holds another teacher's or setting's blocks."""
    if not library.is_dir() or not any(library.glob("stage*/block*/epoch*.json")):
        return
    held = open_library(library)
    if held.teacher != library_teacher(teacher):
        raise ConfigError(
            f"block library {library} holds blocks of teacher {held.teacher}, not {library_teacher(teacher)}; "
            "use another --library"
        )
    if held.distill_id != distill_id:
        raise ConfigError(
            f"block library {library} holds blocks of distill id {held.distill_id}, not {distill_id} "
            "(other epochs, snapshots, recipe, lr or seed); use another --library"
        )


def _open_or_create(
    out: Path, stage: int, blocks: tuple[int, ...], teacher: dict, distill: dict, dataset: str, library: Path
):
    if out.exists():
        group = open_store(out, "blockwise", mode="r+")
        attrs = dict(group.attrs)
        wanted = {
            "teacher": json.loads(json.dumps(teacher)),
            "distill_id": hash_distill(distill),
            "dataset": dataset,
        }
        for key, value in wanted.items():
            if attrs.get(key) != value:
                raise ConfigError(
                    f"{out} holds another {key} ({str(attrs.get(key))[:80]}, not {str(value)[:80]}); "
                    "use another --out or delete it"
                )
        held = (group["stage"][:].tolist(), group["block"][:].tolist())
        if held != ([stage], list(blocks)):
            raise ConfigError(
                f"{out} holds stages {held[0]} and blocks {held[1][:10]}..., not stage {stage} and the blocks "
                "asked for; use another --out or delete it"
            )
        if attrs.get("library") != str(library):
            raise ConfigError(
                f"{out} records library {attrs.get('library')}, not {library}; use the same --library"
            )
        return group
    check_output_path(out)
    return create_blockwise_shard(
        out, stages=[stage], blocks=blocks, epochs=distill["epochs"], snapshots=distill["snapshots"],
        teacher=teacher, distill=distill, dataset=dataset, library=str(library), producer=PRODUCER,
    )  # fmt: skip


def _load_checkpoint(path: Path, identity: dict) -> dict | None:
    if not path.exists():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict):
            raise TypeError(type(state).__name__)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same user-facing problem
        raise CheckpointError(
            f"cannot read checkpoint {path} ({type(err).__name__}); delete it to start the shard over"
        ) from None
    got = {k: state.get(k) for k in identity}
    if got != identity:
        raise CheckpointError(
            f"checkpoint {path} belongs to another distillation; delete it or use another --out"
        )
    return state


def _save_checkpoint(path: Path, state: dict) -> None:
    """Write the per-epoch checkpoint atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def run_distill(
    teacher: Teacher | str | Path,
    stage: int,
    *,
    blocks: str | Sequence[int] | None = None,
    epochs: int = DEFAULT_DISTILL_EPOCHS,
    snapshots: str | Sequence[int] | None = None,
    recipe: Recipe | str | None = None,
    out: str | Path,
    library: str | Path,
    seed: int = 0,
    data: DataSplits | None = None,
    data_root: str | Path | None = None,
    download: bool = False,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
    progress: bool = False,
) -> DistillSummary:
    """Distill one stage of a teacher into a blockwise shard and the block library.

    Args:
        teacher: a :class:`~blox_train.teacher.Teacher` or its folder.
        stage: the stage 0..2.
        blocks: candidate block ids or a spec (:func:`parse_blocks`); default all 45.
        epochs: distillation epochs (SPEC default 10); the recipe's schedule runs over them.
        snapshots: epochs (in 1..epochs) at which weights are saved and LANA measured, as a
            list or a comma string; default: the last epoch only.
        recipe: the recipe driving distillation (optimizer, lr, batches, augmentation); default
            the teacher's. Its dataset must be the teacher's.
        out: the blockwise shard (``.zarr``); created, resumed, or skipped when finished.
        library: the block library folder (created; shared with the teacher's other shards).
        seed: seed of the candidates' initial weights and the data order.
        data: preloaded splits of the recipe's dataset (else loaded at the teacher's resolution).
        data_root, download: where the dataset lives / allow downloading it.
        device: torch device.
        num_workers: data-loading workers; results do not depend on them.
        progress: tqdm bar over epochs on stderr.

    Returns:
        A :class:`DistillSummary`.

    Raises:
        ConfigError: an unknown stage or block, snapshots outside the epochs, a teacher folder
            that is missing or damaged, a recipe of another dataset, or ``out`` / ``library``
            holding another teacher or setting.
        CheckpointError: an unreadable or foreign checkpoint in ``<out>.ckpt/``.
        UnknownRecipeError, DatasetNotFoundError: as for :func:`blox_train.train`.

    Example:
        >>> import tempfile
        >>> from blox_train import make_teacher
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = make_teacher(0, "ci", out=f"{tmp}/t")
        ...     summary = run_distill(f"{tmp}/t", 1, blocks="0:2", epochs=1, out=f"{tmp}/s1.zarr",
        ...                           library=f"{tmp}/lib")
        ...     again = run_distill(f"{tmp}/t", 1, blocks="0:2", epochs=1, out=f"{tmp}/s1.zarr",
        ...                         library=f"{tmp}/lib")
        >>> summary.num_done, summary.is_skipped, again.is_skipped
        (2, False, True)
    """
    start = time.perf_counter()
    stage, block_ids = _check_stage(stage), parse_blocks(blocks)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"epochs must be an integer >= 1, got {epochs!r}")
    snapshot_epochs = parse_snapshots(snapshots, epochs)
    teacher = _teacher_of(teacher)
    base = teacher.recipe if recipe is None else get_recipe(recipe) if isinstance(recipe, str) else recipe
    dataset = str(teacher.record.get("dataset", base.dataset))
    if base.dataset != dataset:
        raise ConfigError(
            f"recipe {base.name!r} uses {base.dataset!r}, but the teacher was trained on {dataset!r}"
        )
    drive = base.replace(epochs=epochs)
    distill = distill_settings(base, epochs=epochs, snapshots=snapshot_epochs, seed=seed)
    distill_id, attrs = hash_distill(distill), teacher.attrs
    out, library = Path(out), Path(library)
    _check_library(library, attrs, distill_id)
    group = _open_or_create(out, stage, block_ids, attrs, distill, dataset, library)
    status = group["status"][0, :]
    if not (status == STATUS_PENDING).any():
        logger.info("%s: all %d blocks already finished", out, len(block_ids))
        return DistillSummary(
            out, library, stage, block_ids, distill_id, int((status == STATUS_DONE).sum()),
            int((status == STATUS_FAILED).sum()), True, int(group["dead_channels"][0, 0]), time.perf_counter() - start,
        )  # fmt: skip

    device = resolve_device(device)
    model = teacher.model
    if data is None:
        data = load_dataset(
            dataset,
            root=data_root,
            resolution=model.resolution,
            split_seed=base.split_seed,
            download=download,
        )
    if data.name != dataset or data.num_classes != model.num_classes:
        raise ConfigError(
            f"data of {data.name!r} ({data.num_classes} classes) given for a teacher of {dataset!r}"
        )
    batches = split_batches(
        data, drive, resolution=model.resolution, seed=seed, device=device, num_workers=num_workers, splits=("train", "val")
    )  # fmt: skip
    distiller = StageDistiller(model, stage, block_ids, batches, drive, seed=seed, device=device)
    signatures = _Signatures(len(block_ids), snapshot_epochs)
    ckpt = checkpoint_dir_for(out) / f"stage{stage}.pt"
    identity = {
        "version": CHECKPOINT_VERSION,
        "distill_id": distill_id,
        "teacher": json.dumps(attrs, sort_keys=True),
    }
    resumed = _load_checkpoint(ckpt, identity)
    if resumed is not None:
        distiller.load_state_dict(resumed["distiller"])
        signatures.load_state_dict(resumed["signatures"])
        logger.info("%s: resuming stage %d after epoch %d", out, stage, distiller.epoch)
    val_cache: list = []

    def val_batches() -> list:
        if not val_cache:
            val_cache.extend(batches("val", 0))
        return val_cache

    def snapshot(epoch: int) -> None:
        """Save every block still training into the library and measure its LANA signature."""
        k = snapshot_epochs.index(epoch)
        if signatures.reference is None:
            begin = time.perf_counter()
            signatures.reference = _top1(model.eval(), val_batches(), device)
            signatures.reference_seconds = device_seconds(begin, device)
        for i, block in enumerate(block_ids):
            if distiller.fail_reasons[i]:
                continue
            candidate = distiller.candidates[i].eval()
            signatures.files[i][k], signatures.digests[i][k] = save_library_block(
                library, stage, block, epoch, candidate.state_dict(), teacher=attrs, distill_id=distill_id
            )
            begin = time.perf_counter()
            top1 = _top1(model.replace_stage(stage, candidate).eval(), val_batches(), device)
            signatures.seconds[i] += device_seconds(begin, device)
            signatures.val_acc[i, k], signatures.delta[i, k] = top1, top1 - signatures.reference

    def after_epoch(epoch: int) -> None:
        if epoch in snapshot_epochs:
            snapshot(epoch)
        _save_checkpoint(
            ckpt, {**identity, "distiller": distiller.state_dict(), "signatures": signatures.state_dict()}
        )

    distiller.run(after_epoch=after_epoch, progress=progress)
    _write_rows(group, distiller, signatures)
    ckpt.unlink(missing_ok=True)
    if ckpt.parent.exists() and not any(ckpt.parent.iterdir()):
        shutil.rmtree(ckpt.parent)
    failed = sum(bool(r) for r in distiller.fail_reasons)
    seconds = time.perf_counter() - start
    logger.info(
        "%s: stage %d, %d blocks (%d failed), %d dead teacher channels, %.1f s",
        out, stage, len(block_ids), failed, distiller.dead_channels, seconds,
    )  # fmt: skip
    return DistillSummary(
        out, library, stage, block_ids, distill_id, len(block_ids) - failed, failed, False,
        distiller.dead_channels, seconds,
    )  # fmt: skip


def _write_rows(group, distiller: StageDistiller, signatures: _Signatures) -> None:
    """One row per block; the shared teacher seconds split evenly over the shard's blocks."""
    num = len(distiller.block_ids)
    teacher_share = distiller.teacher_seconds / num
    reference_share = signatures.reference_seconds / num
    for i, block in enumerate(distiller.block_ids):
        reason = distiller.fail_reasons[i]
        write_block_result(
            group, distiller.stage, block, train_nsr=distiller.train_nsr[i], val_nsr=distiller.val_nsr[i],
            lana_val_acc=signatures.val_acc[i], lana_delta_acc=signatures.delta[i],
            distill_seconds=float(distiller.step_seconds[i] + distiller.val_seconds[i] + teacher_share),
            signature_seconds=float(signatures.seconds[i] + reference_share), dead_channels=distiller.dead_channels,
            library_file=signatures.files[i], library_sha256=signatures.digests[i],
            status=STATUS_FAILED if reason else STATUS_DONE, fail_reason=reason,
        )  # fmt: skip
