"""Blockwise distillation (SPEC §5): candidate stages learn a frozen teacher's stage mapping.

For one stage s of a teacher, every candidate block is built as the stage :func:`build_model`
would build (cell at the stage's C channels + reduction to 2C) and trained to map the
teacher's stage-s input to its stage-s output with the noise-to-signal ratio (:func:`nsr_loss`).
The teacher runs once per batch, in eval mode and without gradients, and all candidates of the
stage train on that one result (the students of one :func:`blox_train.fit.fit` loop). Per epoch each block's train NSR (running mean over the
epoch's batches, weighted by batch size) and validation NSR (over the whole validation split,
with per-channel sums, so it does not depend on the batch size) are recorded; the weights kept
are those after the last epoch. The distilled weights form the *block library*.

Signatures: DONNA = a block's final validation NSR (:attr:`DistillResult.donna_signature`);
LANA = change of the teacher's validation top-1 (percentage points) when its stage is replaced
by the distilled block (:func:`lana_signature`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
import torch
from blox_space import NUM_BLOCKS, NUM_STAGES
from torch import nn
from tqdm.auto import tqdm

from .batches import split_batches
from .data import DataSplits
from .environment import resolve_device
from .errors import ConfigError
from .fit import EpochEnd, device_seconds, fit
from .library import BlockLibrary, DistillResult
from .loader import epoch_seed
from .network import SCALING, BloxNet, Stage
from .recipes import Recipe, get_recipe

__all__ = ["NSR_EPS", "DEFAULT_DISTILL_EPOCHS", "Batches", "distill", "distill_stage", "nsr_loss"]

logger = logging.getLogger(__name__)

#: Added to each teacher channel's variance so constant channels do not divide by zero.
NSR_EPS = 1e-8
#: SPEC §5: distillation epochs unless told otherwise.
DEFAULT_DISTILL_EPOCHS = 10

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


def nsr_loss(student_out: torch.Tensor, teacher_out: torch.Tensor, *, eps: float = NSR_EPS) -> torch.Tensor:
    """Noise-to-signal ratio: per-channel MSE over the teacher channel's variance, averaged.

    Mean and (population) variance run over the batch and spatial dimensions. Scaling both
    tensors by the same factor leaves the value unchanged (up to ``eps``).

    Args:
        student_out: the candidate's output.
        teacher_out: the teacher's output (the target; no gradient flows into it).
        eps: added to every channel variance.

    Returns:
        A scalar tensor.

    Raises:
        ValueError: the shapes differ or the tensors are not (N, C, ...) with N*... > 0.

    Shapes:
        student_out, teacher_out: (N, C, H, W) (any trailing dims) -> ()

    Example:
        >>> t = torch.tensor([[[[1.0, 3.0]]]])             # one channel, variance 1
        >>> round(float(nsr_loss(torch.zeros_like(t), t)), 4)   # MSE (1 + 9) / 2 = 5
        5.0
    """
    if student_out.shape != teacher_out.shape or student_out.dim() < 2 or student_out.numel() == 0:
        raise ValueError(
            f"nsr_loss: need two non-empty (N, C, ...) tensors of one shape, got {tuple(student_out.shape)} "
            f"and {tuple(teacher_out.shape)}"
        )
    dims = [0, *range(2, teacher_out.dim())]
    teacher_out = teacher_out.detach()
    mse = (student_out - teacher_out).pow(2).mean(dim=dims)
    var = teacher_out.var(dim=dims, unbiased=False)
    return (mse / (var + eps)).mean()


def _check_stage(stage: int) -> int:
    if isinstance(stage, bool) or not isinstance(stage, int | np.integer) or not 0 <= stage < NUM_STAGES:
        raise ConfigError(f"stage {stage!r} is out of range; stages are 0..{NUM_STAGES - 1}")
    return int(stage)


def _check_blocks(blocks: Sequence[int] | None) -> tuple[int, ...]:
    if blocks is None:
        return tuple(range(NUM_BLOCKS))
    ids = []
    for block in blocks:
        if isinstance(block, bool) or not isinstance(block, int | np.integer) or not 0 <= block < NUM_BLOCKS:
            raise ConfigError(f"block id {block!r} is out of range; block ids are 0..{NUM_BLOCKS - 1}")
        ids.append(int(block))
    if not ids or len(set(ids)) != len(ids):
        raise ConfigError(f"candidate blocks must be distinct and at least one, got {ids}")
    return tuple(ids)


class _Features(NamedTuple):
    """A teacher stage's input (what the candidates see) and output (their target)."""

    input: torch.Tensor
    output: torch.Tensor


class _StageTeacher(nn.Module):
    """The teacher up to stage ``stage``: ``images -> (stage input, stage output)``; later stages
    never run."""

    def __init__(self, teacher: BloxNet, stage: int) -> None:
        super().__init__()
        self.teacher, self.stage = teacher, stage

    def forward(self, images: torch.Tensor) -> _Features:
        x = self.teacher.stem(images)
        for s in range(self.stage):
            x = self.teacher.stages[s](x)
        return _Features(x, self.teacher.stages[self.stage](x))


def _build_candidate(block: int, channels: int, seed: int, stage: int) -> Stage:
    """A fresh candidate whose initial weights depend on (seed, stage, block) only."""
    state = torch.default_generator.get_state()
    try:
        torch.default_generator.manual_seed(epoch_seed(seed, stage, stream=block))
        return Stage(block, channels)
    finally:
        torch.default_generator.set_state(state)


def _make_batches(
    data: DataSplits | tuple[Batches, Batches],
    recipe: Recipe,
    resolution: int,
    seed: int,
    device: torch.device,
    num_workers: int,
):
    """``batches(split, epoch)`` for ``"train"`` / ``"val"``."""
    if not isinstance(data, DataSplits):
        if not isinstance(data, tuple | list) or len(data) != 2:
            raise ConfigError(
                "data must be DataSplits or a (train_batches, val_batches) pair of re-iterable batches"
            )
        fixed = {"train": data[0], "val": data[1]}
        return lambda split, epoch: fixed[split]
    return split_batches(
        data,
        recipe,
        resolution=resolution,
        seed=seed,
        device=device,
        num_workers=num_workers,
        splits=("train", "val"),
    )


def distill_stage(
    teacher: BloxNet,
    stage: int,
    blocks: Sequence[int] | None,
    data: DataSplits | tuple[Batches, Batches],
    *,
    recipe: Recipe | str = "quick",
    epochs: int = DEFAULT_DISTILL_EPOCHS,
    lr: float | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
    progress: bool = False,
) -> DistillResult:
    """Distill stage ``stage`` of a frozen teacher into each candidate block.

    The teacher is moved to ``device`` and put in eval mode (left so afterwards); its
    parameters are never changed. Each candidate gets its own optimizer (the recipe's, from
    :func:`blox_train.fit.make_optimizer`) with the recipe's schedule stretched over ``epochs``.
    Training runs in fp32 whatever the recipe's precision. A candidate whose train or
    validation NSR becomes non-finite stops training; its later epochs are NaN.

    Args:
        teacher: the trained teacher model.
        stage: the stage 0..2 to distill.
        blocks: candidate block ids (default: all 45).
        data: the recipe's :class:`DataSplits` (train split augmented by the recipe, val
            split normalised only), or a ``(train_batches, val_batches)`` pair of re-iterable
            iterables of ``(images, labels)`` used as given every epoch.
        recipe: a :class:`Recipe` or a registered name; supplies optimizer, schedule, batch
            sizes and augmentation.
        epochs: distillation epochs (SPEC default 10).
        lr: initial learning rate (default: the recipe's).
        seed: seed of the candidates' initial weights and of the data order.
        device: torch device.
        num_workers: data-loading workers (results do not depend on them).
        progress: tqdm bar over epochs on stderr.

    Returns:
        A :class:`DistillResult`.

    Raises:
        ConfigError: unknown stage, bad block ids, epochs < 1, lr <= 0, a teacher that is not a
            :class:`BloxNet`, or data of the wrong form.
        UnknownRecipeError: unknown recipe name.

    Example:
        >>> from blox_train import build_model
        >>> _ = torch.manual_seed(0)
        >>> teacher = build_model(0, num_classes=10, width=4, resolution=8)
        >>> for bn in [m for m in teacher.modules() if isinstance(m, torch.nn.BatchNorm2d)]:
        ...     bn.momentum = None  # untrained teacher: measure exact BatchNorm statistics first
        >>> with torch.no_grad():
        ...     _ = teacher.train()(torch.randn(256, 3, 8, 8))
        >>> batches = [(torch.randn(16, 3, 8, 8), torch.zeros(16, dtype=torch.long))] * 4
        >>> result = distill_stage(teacher, 1, [0, 5], (batches, batches[:1]), recipe="ci", epochs=2)
        >>> result.val_nsr.shape, bool((result.val_nsr[:, 1] < result.val_nsr[:, 0]).all())
        ((2, 2), True)
    """
    if not isinstance(teacher, BloxNet):
        raise ConfigError(f"teacher must be a BloxNet (see build_model), got {type(teacher).__name__}")
    stage, block_ids = _check_stage(stage), _check_blocks(blocks)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"epochs must be an integer >= 1, got {epochs!r}")
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    recipe = recipe.replace(epochs=epochs, lr=recipe.lr if lr is None else lr)  # validates lr, gives a new id
    device = resolve_device(device)
    batches = _make_batches(data, recipe, teacher.resolution, seed, device, num_workers)

    teacher.to(device).eval()
    features = _StageTeacher(teacher, stage)
    channels = teacher.width * SCALING**stage
    candidates = [_build_candidate(b, channels, seed, stage).to(device) for b in block_ids]
    num = len(block_ids)
    train_nsr = np.full((num, epochs), np.nan)
    val_nsr = np.full((num, epochs), np.nan)
    val_seconds = np.zeros(num)
    bar = tqdm(total=epochs, desc=f"distill stage {stage}", unit="epoch", disable=not progress, leave=False)

    def after_epoch(end: EpochEnd) -> dict[int, str]:
        """Validate every candidate still training; those with a non-finite NSR diverged."""
        col = end.epoch - 1
        train_nsr[:, col] = [s.loss for s in end.stats]
        val_nsr[:, col] = _validate(
            features, candidates, end.alive, batches("val", end.epoch), device, val_seconds
        )
        diverged = {}
        for i in range(num):
            if end.alive[i] and not (np.isfinite(train_nsr[i, col]) and np.isfinite(val_nsr[i, col])):
                diverged[i] = f"NSR became non-finite in epoch {end.epoch}"
                logger.warning(
                    "stage %d block %d diverged in epoch %d; later epochs are NaN",
                    stage,
                    block_ids[i],
                    end.epoch,
                )
            if not end.alive[i] or i in diverged:
                train_nsr[i, col] = val_nsr[i, col] = np.nan
        left = [i for i in range(num) if end.alive[i] and i not in diverged]
        bar.set_postfix(val_nsr=f"{np.nanmin(val_nsr[left, col]) if left else float('nan'):.3f}")
        bar.update(1)
        return diverged

    try:
        run = fit(
            candidates,
            recipe,
            lambda epoch: batches("train", epoch),
            loss=lambda out, _, target: nsr_loss(out, target.output),
            after_epoch=after_epoch,
            teacher=features,
            student_input=lambda _, target: target.input,
            precision="fp32",
            device=device,
            has_logits=False,
            time_each_step=True,
        )
    finally:
        bar.close()
    seconds, teacher_seconds = run.seconds + val_seconds, run.teacher_seconds

    states = tuple(
        {k: v.detach().to("cpu", copy=True) for k, v in c.state_dict().items()} for c in candidates
    )
    return DistillResult(
        stage=stage, block_ids=block_ids, train_nsr=train_nsr, val_nsr=val_nsr, seconds=seconds,
        teacher_seconds=teacher_seconds, states=states, teacher_block_ids=tuple(teacher.block_ids),
        width=teacher.width, resolution=teacher.resolution, num_classes=teacher.num_classes, recipe_id=recipe.id, seed=seed,
    )  # fmt: skip


def _validate(
    features: _StageTeacher,
    candidates: list[Stage],
    alive: Sequence[bool],
    batches: Batches,
    device: torch.device,
    seconds: np.ndarray,
) -> np.ndarray:
    """Each candidate's NSR over the whole split from per-channel sums (float64); the seconds
    each candidate spends are added to ``seconds``."""
    for c in candidates:
        c.eval()
    sse: list[torch.Tensor | float] = [0.0] * len(candidates)
    t_sum = t_sq = 0.0
    count = 0
    with torch.no_grad():
        for images, _ in batches:
            x_in, y_out = features(images.to(device, non_blocking=True))
            y = y_out.double()
            dims = [0, *range(2, y.dim())]
            t_sum = t_sum + y.sum(dim=dims)
            t_sq = t_sq + y.pow(2).sum(dim=dims)
            count += y.numel() // y.shape[1]
            for i, cand in enumerate(candidates):
                if alive[i]:
                    start = time.perf_counter()
                    sse[i] = sse[i] + (cand(x_in).double() - y).pow(2).sum(dim=dims)
                    seconds[i] += device_seconds(start, device)
    if count == 0:
        raise ConfigError("the validation data is empty")
    var = t_sq / count - (t_sum / count) ** 2
    out = np.full(len(candidates), np.nan)
    for i in range(len(candidates)):
        if alive[i]:
            out[i] = float(((sse[i] / count) / (var.clamp_min(0) + NSR_EPS)).mean())
    return out


def distill(
    teacher: BloxNet,
    data: DataSplits | tuple[Batches, Batches],
    *,
    stages: Sequence[int] = tuple(range(NUM_STAGES)),
    blocks: Sequence[int] | None = None,
    recipe: Recipe | str = "quick",
    epochs: int = DEFAULT_DISTILL_EPOCHS,
    lr: float | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
    progress: bool = False,
) -> BlockLibrary:
    """Distill every candidate block at each of ``stages``: the block library of a teacher.

    Arguments as :func:`distill_stage`; ``stages`` defaults to all three.

    Returns:
        A :class:`BlockLibrary` with one result per stage.
    """
    results = tuple(
        distill_stage(
            teacher,
            s,
            blocks,
            data,
            recipe=recipe,
            epochs=epochs,
            lr=lr,
            seed=seed,
            device=device,
            num_workers=num_workers,
            progress=progress,
        )  # fmt: skip
        for s in stages
    )
    return BlockLibrary(results)
