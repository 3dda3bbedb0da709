"""Distilled stages in memory: one stage's distillation of its candidates
(:class:`DistillResult`, what :func:`blox_train.distill_stage` returns) and a teacher's results
of several stages (:class:`BlockLibrary`), saved to and loaded from one file of plain tensors.

The block library on disk, one versioned file per (stage, block, snapshot epoch) written by
``blox-train distill``, is :mod:`blox_train.library`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import ConfigError
from .network import SCALING, Stage

__all__ = ["BlockLibrary", "DistillResult", "load_block_library", "save_block_library"]

#: Format tag and version of a block library saved as one file.
LIBRARY_FORMAT, LIBRARY_VERSION = "blox-block-library", 1


@dataclass(frozen=True)
class DistillResult:
    """One stage's distillation of a set of candidate blocks.

    Attributes:
        stage: the stage 0..2.
        block_ids: candidate block ids, in the order of the array rows.
        train_nsr, val_nsr: ``(num_blocks, epochs)`` NSR per block and epoch (epochs from 1
            in column 0); NaN after a block diverged.
        seconds: ``(num_blocks,)`` wall-clock seconds each block spent training and
            validating (the shared teacher passes are in ``teacher_seconds``).
        teacher_seconds: seconds of the shared teacher forward passes.
        states: the distilled stage modules' state dicts (CPU tensors), one per block.
        teacher_block_ids: block ids of the teacher.
        width, resolution, num_classes: the teacher's geometry.
        recipe_id: id of the recipe that drove distillation (with its epochs and lr).
        seed: seed of the candidates' initial weights and the data order.
        dead_channels: teacher output channels of the stage left out of the NSR average
            (see :mod:`blox_train.nsr`).
        fail_reasons: per block, why it stopped training (empty while it trained to the end).
    """

    stage: int
    block_ids: tuple[int, ...]
    train_nsr: np.ndarray
    val_nsr: np.ndarray
    seconds: np.ndarray
    teacher_seconds: float
    states: tuple[dict[str, torch.Tensor], ...]
    teacher_block_ids: tuple[int, ...]
    width: int
    resolution: int
    num_classes: int
    recipe_id: str
    seed: int
    dead_channels: int = 0
    fail_reasons: tuple[str, ...] = ()

    @property
    def donna_signature(self) -> np.ndarray:
        """``(num_blocks,)`` final validation NSR of each block (the DONNA signature)."""
        return self.val_nsr[:, -1].copy()

    def module(self, block: int) -> Stage:
        """The distilled stage module of ``block`` (a new :class:`Stage`, eval mode).

        Raises:
            ConfigError: ``block`` was not distilled here.
        """
        row = _row(self.block_ids, block, self.stage)
        module = Stage(int(block), self.width * SCALING**self.stage)
        module.load_state_dict(self.states[row])
        return module.eval()


@dataclass(frozen=True)
class BlockLibrary:
    """Distilled stage modules of one teacher: one :class:`DistillResult` per distilled stage.

    Attributes:
        results: by stage (each stage at most once).
    """

    results: tuple[DistillResult, ...]

    def __post_init__(self) -> None:
        if not self.results:
            raise ConfigError("a block library needs at least one distilled stage")
        first = self.results[0]
        for result in self.results:
            same = (result.teacher_block_ids, result.width, result.resolution, result.num_classes)
            if same != (first.teacher_block_ids, first.width, first.resolution, first.num_classes):
                raise ConfigError(
                    "a block library holds the blocks of one teacher; results of different teachers were given"
                )
        stages = [r.stage for r in self.results]
        if len(set(stages)) != len(stages):
            raise ConfigError(f"each stage may appear once in a block library, got stages {stages}")

    def stage(self, stage: int) -> DistillResult:
        """The result of ``stage``.

        Raises:
            ConfigError: the stage was not distilled.
        """
        for result in self.results:
            if result.stage == stage:
                return result
        raise ConfigError(
            f"stage {stage} is not in the block library; it holds stages {[r.stage for r in self.results]}"
        )


def _row(block_ids: Sequence[int], block: int, stage: int) -> int:
    try:
        return list(block_ids).index(int(block))
    except ValueError:
        raise ConfigError(
            f"block {block} was not distilled at stage {stage}; distilled blocks: {list(block_ids)}"
        ) from None


def _as_library(library: BlockLibrary | DistillResult | Sequence[DistillResult]) -> BlockLibrary:
    if isinstance(library, BlockLibrary):
        return library
    if isinstance(library, DistillResult):
        return BlockLibrary((library,))
    return BlockLibrary(tuple(library))


def save_block_library(
    path: str | Path, library: BlockLibrary | DistillResult | Sequence[DistillResult]
) -> Path:
    """Save distilled stage modules and their records with ``torch.save`` (no pickled classes).

    The file holds plain state dicts, tensors of the NSR arrays and metadata (teacher block
    ids, width, resolution, num_classes, recipe id, seed, stage and block ids); it is written
    atomically (temp file, then rename). Read it with :func:`load_block_library`.

    Returns:
        The path written.
    """
    library = _as_library(library)
    first = library.results[0]
    payload = {
        "format": LIBRARY_FORMAT,
        "version": LIBRARY_VERSION,
        "teacher_block_ids": list(first.teacher_block_ids),
        "width": first.width,
        "resolution": first.resolution,
        "num_classes": first.num_classes,
        "stages": [
            {
                "stage": r.stage,
                "block_ids": list(r.block_ids),
                "recipe_id": r.recipe_id,
                "seed": r.seed,
                "train_nsr": torch.from_numpy(r.train_nsr.copy()),
                "val_nsr": torch.from_numpy(r.val_nsr.copy()),
                "seconds": torch.from_numpy(r.seconds.copy()),
                "teacher_seconds": float(r.teacher_seconds),
                "dead_channels": int(r.dead_channels),
                "fail_reasons": list(r.fail_reasons),
                "states": [dict(s) for s in r.states],
            }
            for r in library.results
        ],
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_block_library(path: str | Path) -> BlockLibrary:
    """Read a file written by :func:`save_block_library` (``weights_only=True``).

    Raises:
        ConfigError: the file is not a block library of a known version.
        FileNotFoundError: no such file.
    """
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(payload, Mapping) or payload.get("format") != LIBRARY_FORMAT:
        raise ConfigError(f"{path} is not a Blox block library")
    if payload.get("version") != LIBRARY_VERSION:
        raise ConfigError(
            f"{path}: block library version {payload.get('version')!r}; this blox-train reads {LIBRARY_VERSION}"
        )
    results = tuple(
        DistillResult(
            stage=int(s["stage"]),
            block_ids=tuple(int(b) for b in s["block_ids"]),
            train_nsr=s["train_nsr"].numpy(),
            val_nsr=s["val_nsr"].numpy(),
            seconds=s["seconds"].numpy(),
            teacher_seconds=float(s["teacher_seconds"]),
            states=tuple(s["states"]),
            teacher_block_ids=tuple(int(b) for b in payload["teacher_block_ids"]),
            width=int(payload["width"]),
            resolution=int(payload["resolution"]),
            num_classes=int(payload["num_classes"]),
            recipe_id=str(s["recipe_id"]),
            seed=int(s["seed"]),
            dead_channels=int(s.get("dead_channels", 0)),
            fail_reasons=tuple(str(r) for r in s.get("fail_reasons", ())),
        )  # fmt: skip
        for s in payload["stages"]
    )
    return BlockLibrary(results)
