"""The block library: distilled stage modules of one teacher (:class:`DistillResult` per stage,
:class:`BlockLibrary`), saved and loaded as plain tensors, and students assembled from them
(the teacher's stem and classifier plus distilled stages). Produced by :mod:`blox_train.distill`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import blox_space as bs
import numpy as np
import torch
from blox_space import ArchLike

from .errors import ConfigError
from .network import SCALING, BloxNet, Stage, build_model

__all__ = ["BlockLibrary", "DistillResult", "assemble_student", "load_block_library", "save_block_library"]

#: Format tag and version of a saved block library.
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
        )  # fmt: skip
        for s in payload["stages"]
    )
    return BlockLibrary(results)


def assemble_student(
    teacher: BloxNet, library: BlockLibrary | DistillResult | Sequence[DistillResult], block_ids: ArchLike
) -> BloxNet:
    """A student: the teacher's stem and classifier with distilled stage modules.

    A stage whose block equals the teacher's and that the library does not hold keeps a copy
    of the teacher's stage. Nothing is shared with the teacher or the library.

    Args:
        teacher: the teacher the library was distilled from.
        library: a :class:`BlockLibrary` (or its results).
        block_ids: the student's architecture (any form blox-space accepts).

    Returns:
        A new :class:`BloxNet` (eval mode) with the student's block ids.

    Raises:
        ConfigError: the library belongs to another teacher, or lacks a needed block.
        blox_space.InvalidArchitectureError: ``block_ids`` is not an architecture.
    """
    library = _as_library(library)
    first = library.results[0]
    ours = (tuple(teacher.block_ids), teacher.width, teacher.resolution, teacher.num_classes)
    theirs = (first.teacher_block_ids, first.width, first.resolution, first.num_classes)
    if ours != theirs:
        raise ConfigError(
            f"the block library was distilled from teacher (blocks, width, resolution, classes) {theirs}, not {ours}"
        )
    ids = bs.to_blocks(block_ids)
    student = build_model(
        ids, num_classes=teacher.num_classes, width=teacher.width, resolution=teacher.resolution
    )
    student.stem.load_state_dict(teacher.stem.state_dict())
    student.classifier.load_state_dict(teacher.classifier.state_dict())
    held = {r.stage: r for r in library.results}
    for s, block in enumerate(ids):
        if s in held and block in held[s].block_ids:
            student.stages[s].load_state_dict(held[s].states[held[s].block_ids.index(block)])
        elif block == teacher.block_ids[s]:
            student.stages[s].load_state_dict(teacher.stages[s].state_dict())
        else:
            available = list(held[s].block_ids) if s in held else []
            raise ConfigError(
                f"block {block} at stage {s} is not in the block library; it holds {available} there"
            )
    return student.to(next(teacher.parameters()).device).eval()
