"""The resumable distillation of one teacher stage's candidate blocks (:class:`StageDistiller`).

What it computes (NSR, dead teacher channels, divergence, seconds) is stated in
:mod:`blox_train.distill`; this module holds the machinery: the teacher cut at the stage, the
candidates and their optimizers, the epoch loop through :func:`blox_train.fit.fit`, the
validation NSR and a ``state_dict`` from which a killed run continues bit for bit.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import numpy as np
import torch
from blox_space import NUM_BLOCKS, NUM_STAGES
from torch import nn
from tqdm.auto import tqdm

from .distilled import DistillResult
from .errors import CheckpointError, ConfigError
from .fit import EpochEnd, device_seconds, fit, make_optimizer
from .loader import epoch_seed
from .network import SCALING, BloxNet, Stage
from .nsr import NSR_EPS, live_channels, nsr_loss
from .recipes import Recipe

__all__ = ["Batches", "SplitBatches", "StageDistiller"]

logger = logging.getLogger(__name__)

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
#: ``batches(split, epoch)`` -> the batches of ``"train"`` or ``"val"`` in one epoch.
SplitBatches = Callable[[str, int], Batches]


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


def _copy_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in module.state_dict().items()}


class StageDistiller:
    """The candidate blocks of one teacher stage, distilled epoch by epoch; resumable.

    Building one moves the teacher to ``device`` and puts it in eval mode (it stays so); its
    parameters are never changed. Each candidate gets its own optimizer (the recipe's, from
    :func:`blox_train.fit.make_optimizer`) and the recipe's schedule over ``recipe.epochs``.
    Training runs in fp32 whatever the recipe's precision, in the recipe's memory format
    (channels_last or not).

    Args:
        teacher: the trained teacher model.
        stage: the stage 0..2 to distill.
        blocks: candidate block ids (default: all 45).
        batches: ``batches(split, epoch)`` for ``"train"`` and ``"val"``.
        recipe: drives distillation: optimizer, schedule, and ``recipe.epochs`` epochs.
        seed: seed of the candidates' initial weights.
        device: torch device.

    Attributes:
        block_ids: the candidates, in the order of every per-block array.
        epoch: epochs finished (0 before training).
        train_nsr, val_nsr: ``(num_blocks, epochs)`` NSR per block and epoch (column e-1 is
            epoch e); NaN where not (or no longer) trained.
        step_seconds, val_seconds: ``(num_blocks,)`` seconds of each block's own training
            steps and validation passes.
        teacher_train_seconds, teacher_eval_seconds: seconds of the shared teacher passes over
            the training batches, and over the validation split (dead-channel pass included).
        fail_reasons: per block, why it stopped (empty while it trains).
        live: ``(C,)`` bool mask of the live teacher channels (None before
            :meth:`measure_teacher`).

    Raises:
        ConfigError: unknown stage, bad block ids, or a teacher that is not a :class:`BloxNet`.
    """

    def __init__(
        self,
        teacher: BloxNet,
        stage: int,
        blocks: Sequence[int] | None,
        batches: SplitBatches,
        recipe: Recipe,
        *,
        seed: int = 0,
        device: torch.device,
    ) -> None:
        if not isinstance(teacher, BloxNet):
            raise ConfigError(f"teacher must be a BloxNet (see build_model), got {type(teacher).__name__}")
        self.stage, self.block_ids = _check_stage(stage), _check_blocks(blocks)
        self.teacher, self.batches, self.recipe, self.seed, self.device = (
            teacher,
            batches,
            recipe,
            seed,
            device,
        )
        teacher.to(device).eval()
        self.features = _StageTeacher(teacher, self.stage)
        channels = teacher.width * SCALING**self.stage
        # the recipe's memory format, as in normal training (channels_last: ~1.6x faster bconv on CPUs)
        self.memory_format = torch.channels_last if recipe.channels_last else torch.contiguous_format
        self.candidates = [
            _build_candidate(b, channels, seed, self.stage).to(device, memory_format=self.memory_format)
            for b in self.block_ids
        ]
        self.optimizers = [make_optimizer(c.parameters(), recipe) for c in self.candidates]
        num = len(self.block_ids)
        self.epoch = 0
        self.train_nsr = np.full((num, recipe.epochs), np.nan)
        self.val_nsr = np.full((num, recipe.epochs), np.nan)
        self.step_seconds, self.val_seconds = np.zeros(num), np.zeros(num)
        self.teacher_train_seconds = self.teacher_eval_seconds = 0.0
        self.fail_reasons = [""] * num
        self.live: torch.Tensor | None = None
        self._val_var: torch.Tensor | None = None

    @property
    def dead_channels(self) -> int:
        """Teacher output channels left out of the NSR average (0 before :meth:`measure_teacher`)."""
        return 0 if self.live is None else int((~self.live).sum())

    @property
    def teacher_seconds(self) -> float:
        """All seconds of the shared teacher passes."""
        return self.teacher_train_seconds + self.teacher_eval_seconds

    def measure_teacher(self) -> int:
        """One teacher pass over the validation split: each channel's variance, and from it the
        live channels (see the module docstring).

        Returns:
            The number of dead channels.

        Raises:
            ConfigError: the validation data is empty, or the stage output is constant.
        """
        start = time.perf_counter()
        total = squares = 0.0
        count = 0
        with torch.no_grad():
            for images, _ in self.batches("val", 0):
                y = self.features(self._to_device(images)).output.double()
                dims = [0, *range(2, y.dim())]
                total, squares = total + y.sum(dim=dims), squares + y.pow(2).sum(dim=dims)
                count += y.numel() // y.shape[1]
        if count == 0:
            raise ConfigError("the validation data is empty")
        self._val_var = (squares / count - (total / count) ** 2).clamp_min(0)
        self.live = live_channels(self._val_var).cpu()
        self.teacher_eval_seconds += device_seconds(start, self.device)
        if not self.live.any():
            raise ConfigError(
                f"the teacher's stage {self.stage} output is constant over the validation split; nothing to distill"
            )
        return self.dead_channels

    def run(self, *, after_epoch: Callable[[int], None] | None = None, progress: bool = False) -> None:
        """Train the blocks still training for epochs ``epoch + 1 .. recipe.epochs``.

        Args:
            after_epoch: called with the epoch after each epoch's validation, when every record
                of it is in place (e.g. to save snapshots and a checkpoint).
            progress: tqdm bar over epochs on stderr.
        """
        if self.live is None:
            self.measure_teacher()
        todo = [i for i, reason in enumerate(self.fail_reasons) if not reason]
        if self.epoch >= self.recipe.epochs or not todo:
            return
        steps_before, teacher_before = self.step_seconds.copy(), self.teacher_train_seconds
        live = self.live.to(self.device)
        bar = tqdm(
            total=self.recipe.epochs, initial=self.epoch, desc=f"distill stage {self.stage}", unit="epoch",
            disable=not progress, leave=False,
        )  # fmt: skip

        def hook(end: EpochEnd) -> dict[int, str]:
            col = end.epoch - 1
            for j, i in enumerate(todo):
                self.step_seconds[i] = steps_before[i] + end.student_seconds[j]
            self.teacher_train_seconds = teacher_before + end.teacher_seconds
            training = [i for j, i in enumerate(todo) if end.alive[j]]
            for j, i in enumerate(todo):
                if end.alive[j]:
                    self.train_nsr[i, col] = end.stats[j].loss
            self._validate(training, end.epoch)
            diverged = {}
            for j, i in enumerate(todo):
                reason = self._divergence(i, end.epoch) if end.alive[j] else ""
                if reason:
                    diverged[j] = self.fail_reasons[i] = reason
                    self.train_nsr[i, col] = self.val_nsr[i, col] = np.nan
                    logger.warning("stage %d block %d: %s", self.stage, self.block_ids[i], reason)
            self.epoch = end.epoch
            left = [i for i in training if not self.fail_reasons[i]]
            bar.set_postfix(val_nsr=f"{np.min(self.val_nsr[left, col]) if left else math.nan:.3f}")
            bar.update(1)
            if after_epoch is not None:
                after_epoch(end.epoch)
            return diverged

        try:
            fit(
                [self.candidates[i] for i in todo],
                self.recipe,
                lambda epoch: self.batches("train", epoch),
                loss=lambda out, _, target: nsr_loss(out, target.output, live=live),
                after_epoch=hook,
                teacher=self.features,
                student_input=lambda _, target: target.input,
                optimizers=[self.optimizers[i] for i in todo],
                start_epoch=self.epoch,
                precision="fp32",
                device=self.device,
                memory_format=self.memory_format,
                has_logits=False,
                time_each_step=True,
            )
        finally:
            bar.close()

    def _to_device(self, images: torch.Tensor) -> torch.Tensor:
        return images.to(self.device, non_blocking=True, memory_format=self.memory_format)

    def _divergence(self, i: int, epoch: int) -> str:
        train, val = self.train_nsr[i, epoch - 1], self.val_nsr[i, epoch - 1]
        if not (np.isfinite(train) and np.isfinite(val)):
            return f"NSR became non-finite in epoch {epoch}"
        if train > self.recipe.max_loss:
            return f"training NSR {train:.4g} exceeded max_loss={self.recipe.max_loss:g} in epoch {epoch}"
        return ""

    def _validate(self, blocks: Sequence[int], epoch: int) -> None:
        """The validation NSR of ``blocks`` over the whole split, from per-channel sums (float64)."""
        for i in blocks:
            self.candidates[i].eval()
        sse: dict[int, torch.Tensor | float] = dict.fromkeys(blocks, 0.0)
        count = 0
        with torch.no_grad():
            for images, _ in self.batches("val", epoch):
                start = time.perf_counter()
                x_in, y_out = self.features(self._to_device(images))
                y = y_out.double()
                dims = [0, *range(2, y.dim())]
                count += y.numel() // y.shape[1]
                self.teacher_eval_seconds += device_seconds(start, self.device)
                for i in blocks:
                    start = time.perf_counter()
                    sse[i] = sse[i] + (self.candidates[i](x_in).double() - y).pow(2).sum(dim=dims)
                    self.val_seconds[i] += device_seconds(start, self.device)
        if count == 0:
            raise ConfigError("the validation data is empty")
        live = self.live.to(self._val_var.device)
        for i in blocks:
            ratio = (sse[i] / count) / (self._val_var + NSR_EPS)
            self.val_nsr[i, epoch - 1] = float(ratio[live].mean())

    def state_dict(self) -> dict[str, object]:
        """Everything needed to continue bit for bit: weights, optimizer states, records, seconds."""
        return {
            "stage": self.stage, "block_ids": list(self.block_ids), "seed": self.seed, "recipe_id": self.recipe.id,
            "epoch": self.epoch, "candidates": [c.state_dict() for c in self.candidates],
            "optimizers": [o.state_dict() for o in self.optimizers],
            "train_nsr": torch.from_numpy(self.train_nsr.copy()), "val_nsr": torch.from_numpy(self.val_nsr.copy()),
            "step_seconds": torch.from_numpy(self.step_seconds.copy()),
            "val_seconds": torch.from_numpy(self.val_seconds.copy()),
            "teacher_train_seconds": self.teacher_train_seconds, "teacher_eval_seconds": self.teacher_eval_seconds,
            "fail_reasons": list(self.fail_reasons), "live": self.live, "val_var": self._val_var,
        }  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict` of a distiller of the same stage, blocks, seed and recipe.

        Raises:
            CheckpointError: the state belongs to another distillation.
        """
        want = {
            "stage": self.stage,
            "block_ids": list(self.block_ids),
            "seed": self.seed,
            "recipe_id": self.recipe.id,
        }
        got = {k: state.get(k) for k in want}
        if got != want:
            raise CheckpointError(f"distillation state for {got}, not {want}")
        for module, saved in zip(self.candidates, state["candidates"], strict=True):
            module.load_state_dict(saved)
        for optimizer, saved in zip(self.optimizers, state["optimizers"], strict=True):
            optimizer.load_state_dict(saved)
        self.epoch = int(state["epoch"])
        self.train_nsr, self.val_nsr = state["train_nsr"].numpy().copy(), state["val_nsr"].numpy().copy()
        self.step_seconds = state["step_seconds"].numpy().copy()
        self.val_seconds = state["val_seconds"].numpy().copy()
        self.teacher_train_seconds = float(state["teacher_train_seconds"])
        self.teacher_eval_seconds = float(state["teacher_eval_seconds"])
        self.fail_reasons = [str(r) for r in state["fail_reasons"]]
        self.live, self._val_var = state["live"], state["val_var"].to(self.device)

    def result(self) -> DistillResult:
        """The distillation so far as a :class:`DistillResult` (weights copied to the CPU)."""
        teacher = self.teacher
        return DistillResult(
            stage=self.stage, block_ids=self.block_ids, train_nsr=self.train_nsr.copy(), val_nsr=self.val_nsr.copy(),
            seconds=self.step_seconds + self.val_seconds, teacher_seconds=self.teacher_seconds,
            states=tuple(_copy_state(c) for c in self.candidates), teacher_block_ids=tuple(teacher.block_ids),
            width=teacher.width, resolution=teacher.resolution, num_classes=teacher.num_classes,
            recipe_id=self.recipe.id, seed=self.seed, dead_channels=self.dead_channels,
            fail_reasons=tuple(self.fail_reasons),
        )  # fmt: skip
