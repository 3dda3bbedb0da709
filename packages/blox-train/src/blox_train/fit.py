"""The one training loop: optimizers and learning-rate schedule from a recipe, and :func:`fit`.

Normal training (:func:`blox_train.train`), blockwise distillation
(:func:`blox_train.distill_stage`) and fine-tuning with knowledge distillation all train
through :func:`fit`. It trains one or several *students* on the same batches: each has its own
optimizer, built once by :func:`make_optimizer`; at the start of every epoch each optimizer's
learning rate is set to the recipe's (:func:`set_epoch_lr`, the schedule of
:meth:`Recipe.lr_at`, stretched over ``recipe.epochs``: run a shorter or longer schedule by
passing ``recipe.replace(epochs=n)``). An optional frozen *teacher* runs once per batch, in
eval mode and without gradients, and its output feeds every student's loss (and, for
distillation, the students' input).

What happens after an epoch's training pass (validation, records, checkpoints, progress) is
the caller's, in one hook, ``after_epoch``, which also says which students diverged: those stop
training and the loop ends when none is left. :func:`kd_loss` is the fine-tuning loss of
SPEC §5c.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import ConfigError
from .recipes import Recipe

__all__ = [
    "KD_ALPHA",
    "KD_TEMPERATURE",
    "EpochEnd",
    "FitResult",
    "Meter",
    "PassStats",
    "autocast",
    "device_seconds",
    "fit",
    "kd_loss",
    "make_optimizer",
    "set_epoch_lr",
]

logger = logging.getLogger(__name__)

#: SPEC §5c: weight of the distillation term and softmax temperature of :func:`kd_loss`.
KD_ALPHA, KD_TEMPERATURE = 0.9, 1.0

Batch = tuple[torch.Tensor, torch.Tensor]
#: ``loss(output, labels, teacher_output)`` -> scalar; ``teacher_output`` is None without a teacher.
LossFn = Callable[[torch.Tensor, torch.Tensor, Any], torch.Tensor]


def make_optimizer(params: Iterable[torch.Tensor], recipe: Recipe) -> torch.optim.Optimizer:
    """The recipe's optimizer over ``params``, at the recipe's initial learning rate.

    Args:
        params: the parameters to optimise (e.g. ``model.parameters()``).
        recipe: supplies optimizer, lr, momentum, Nesterov flag and weight decay.

    Returns:
        A new optimizer (SGD for ``optimizer="sgd"``).

    Raises:
        ConfigError: an optimizer this module cannot build.

    Example:
        >>> from blox_train import get_recipe
        >>> opt = make_optimizer(nn.Linear(2, 2).parameters(), get_recipe("paper"))
        >>> type(opt).__name__, opt.defaults["lr"], opt.defaults["momentum"]
        ('SGD', 0.01, 0.9)
    """
    if recipe.optimizer != "sgd":
        raise ConfigError(f"recipe {recipe.name!r}: optimizer {recipe.optimizer!r} cannot be built; use sgd")
    return torch.optim.SGD(
        params,
        lr=recipe.lr,
        momentum=recipe.momentum,
        weight_decay=recipe.weight_decay,
        nesterov=recipe.nesterov,
    )


def set_epoch_lr(optimizer: torch.optim.Optimizer, recipe: Recipe, epoch: int) -> float:
    """Set every parameter group of ``optimizer`` to the recipe's learning rate of ``epoch``.

    Args:
        optimizer: an optimizer from :func:`make_optimizer`.
        recipe: whose schedule (:meth:`Recipe.lr_at`, over ``recipe.epochs``) to follow.
        epoch: the epoch about to be trained, counted from 1.

    Returns:
        The learning rate set.

    Example:
        >>> from blox_train import get_recipe
        >>> recipe = get_recipe("paper", {"epochs": 4})
        >>> opt = make_optimizer(nn.Linear(2, 2).parameters(), recipe)
        >>> [round(set_epoch_lr(opt, recipe, e), 6) for e in (1, 2, 3, 4)]
        [0.01, 0.008536, 0.005, 0.001464]
    """
    lr = recipe.lr_at(epoch)
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` for ``precision="bf16"``, else a no-op context."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    alpha: float = KD_ALPHA,
    temperature: float = KD_TEMPERATURE,
    scale_t2: bool = False,
) -> torch.Tensor:
    """Knowledge-distillation loss (SPEC §5c): ``(1-α)·CE + α·KL(softmax(t/T) ‖ softmax(s/T))``.

    The cross-entropy is against the labels (mean over the batch); the KL divergence from the
    teacher's to the student's softened distribution is summed over classes and divided by the
    batch size (``batchmean``). No gradient flows into the teacher's logits.

    Args:
        student_logits: the student's logits.
        teacher_logits: the teacher's logits.
        labels: class indices.
        alpha: weight of the KL term (SPEC 0.9).
        temperature: softmax temperature T (SPEC 1).
        scale_t2: multiply the KL term by T² (off unless set, as in the SPEC).

    Returns:
        A scalar tensor.

    Shapes:
        student_logits, teacher_logits: (N, K); labels: (N,) -> ()

    Example:
        >>> s, t = torch.zeros(1, 2), torch.tensor([[0.0, math.log(3.0)]])  # teacher: 1/4, 3/4
        >>> kl = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
        >>> ce = math.log(2.0)                                    # uniform student, label 0
        >>> abs(float(kd_loss(s, t, torch.tensor([0]))) - (0.1 * ce + 0.9 * kl)) < 1e-6
        True
    """
    if not 0.0 <= alpha <= 1.0 or temperature <= 0:
        raise ValueError(f"kd_loss: need 0 <= alpha <= 1 and temperature > 0, got {alpha} and {temperature}")
    ce = F.cross_entropy(student_logits, labels)
    kl = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=1),
        F.log_softmax(teacher_logits.detach() / temperature, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    if scale_t2:
        kl = kl * temperature**2
    return (1.0 - alpha) * ce + alpha * kl


class Meter:
    """Running sums of loss and, for class logits, top-1 and top-5 hits (no per-step host sync).

    Args:
        device: where the sums live.
        has_logits: outputs are class logits, so hits are counted too; otherwise the
            accuracies are NaN.
    """

    def __init__(self, device: torch.device, *, has_logits: bool = True) -> None:
        self.sums = torch.zeros(3 if has_logits else 1, dtype=torch.float64, device=device)
        self.count = 0
        self.has_logits = has_logits

    @torch.no_grad()
    def update(self, loss: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> None:
        """Add one batch: its mean ``loss``, and the hits of ``output`` against ``target``."""
        n = target.shape[0]
        if self.has_logits:
            top = output.topk(min(5, output.shape[1]), dim=1).indices
            hits = top.eq(target.unsqueeze(1))
            self.sums += torch.stack(
                [loss.detach().double() * n, hits[:, 0].sum().double(), hits.any(1).sum().double()]
            )
        else:
            self.sums += loss.detach().double() * n
        self.count += n

    def result(self) -> tuple[float, float, float]:
        """Loss per sample, top-1 and top-5 in % (NaN without logits)."""
        sums = self.sums.tolist()
        n = max(self.count, 1)
        if not self.has_logits:
            return sums[0] / n, math.nan, math.nan
        loss, top1, top5 = sums
        return loss / n, 100.0 * top1 / n, 100.0 * top5 / n


@dataclass(frozen=True)
class PassStats:
    """One student's running metrics over an epoch's training pass (weighted by batch size).

    Attributes:
        loss: loss per sample; NaN for a student that no longer trains.
        top1, top5: accuracies in % (NaN without logits or for a student that no longer trains).
    """

    loss: float
    top1: float
    top5: float


@dataclass(frozen=True)
class EpochEnd:
    """What the ``after_epoch`` hook of :func:`fit` is told after an epoch's training pass.

    Attributes:
        epoch: the epoch just trained, counted from 1.
        stats: per student, its training-pass metrics.
        alive: per student, whether it trained this epoch.
        seconds: wall-clock seconds of the training pass (all students and the teacher).
        student_seconds: per student, the seconds charged to it so far in this :func:`fit`
            call (as :attr:`FitResult.seconds`), e.g. for a checkpoint taken in the hook.
        teacher_seconds: the teacher's seconds so far in this call (as
            :attr:`FitResult.teacher_seconds`).
    """

    epoch: int
    stats: tuple[PassStats, ...]
    alive: tuple[bool, ...]
    seconds: float
    student_seconds: tuple[float, ...] = ()
    teacher_seconds: float = 0.0


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit` did.

    Attributes:
        last_epoch: the last epoch trained (the ``start_epoch`` given if none was).
        diverged: student index -> reason, for the students the hook reported as diverged.
        seconds: ``(num_students,)`` seconds of each student's training steps; with
            ``time_each_step`` each step is timed on its own (device synchronised), otherwise
            every student is charged the whole pass (teacher included).
        teacher_seconds: seconds of the teacher's forward passes with ``time_each_step``, else 0.
    """

    last_epoch: int
    diverged: dict[int, str]
    seconds: np.ndarray
    teacher_seconds: float


def device_seconds(start: float, device: torch.device) -> float:
    """Seconds since ``start``, after the device finished its queued work (so GPU time counts)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def fit(
    students: Sequence[nn.Module],
    recipe: Recipe,
    batches: Callable[[int], Iterable[Batch]],
    *,
    loss: LossFn,
    after_epoch: Callable[[EpochEnd], Mapping[int, str] | None],
    teacher: nn.Module | None = None,
    student_input: Callable[[torch.Tensor, Any], torch.Tensor] | None = None,
    optimizers: Sequence[torch.optim.Optimizer] | None = None,
    start_epoch: int = 0,
    precision: str | None = None,
    device: str | torch.device = "cpu",
    memory_format: torch.memory_format = torch.preserve_format,
    has_logits: bool = True,
    time_each_step: bool = False,
) -> FitResult:
    """Train ``students`` on the same batches for epochs ``start_epoch + 1 .. recipe.epochs``.

    Per epoch: every optimizer gets the recipe's learning rate of the epoch; students are put in
    train mode; for each batch the teacher (if any) runs once without gradients, then every
    student still training takes one step on ``loss(output, labels, teacher_output)``, with
    ``output = student(inputs)``; then ``after_epoch`` is called. Students it reports as
    diverged stop training; the loop ends early when none is left.

    Args:
        students: the models to train (already on ``device``).
        recipe: supplies the optimizers (:func:`make_optimizer`), the schedule, its length
            (``recipe.epochs``) and the precision.
        batches: ``batches(epoch)`` -> the epoch's training ``(images, labels)`` batches.
        loss: ``loss(output, labels, teacher_output)`` -> scalar (``teacher_output`` is None
            without a teacher); e.g. ``lambda s, y, t: kd_loss(s, t, y)`` for fine-tuning.
        after_epoch: called after each epoch's training pass with an :class:`EpochEnd`;
            returns ``{student index: reason}`` for students that diverged (or None).
        teacher: a frozen model, put in eval mode and run once per batch on the images
            without gradients; its parameters are never stepped.
        student_input: ``student_input(images, teacher_output)`` -> what the students see
            (default: the images), e.g. a teacher stage's input in blockwise distillation.
        optimizers: one per student, built with :func:`make_optimizer` by a caller that
            restores their state (resume); default: built here.
        start_epoch: epochs already trained (resume); the schedule continues from there.
        precision: ``fp32`` or ``bf16`` (autocast of students and teacher); default the recipe's.
        device: where batches are moved.
        memory_format: memory format of the images on the device.
        has_logits: students output class logits (running top-1/top-5 are tracked).
        time_each_step: time each student's steps and the teacher's passes on their own
            (synchronising the device), e.g. to charge students that share batches their own
            cost; otherwise each is charged the whole pass.

    Returns:
        A :class:`FitResult`.

    Raises:
        ConfigError: no students, or ``optimizers`` not one per student.

    Example:
        >>> from blox_train import get_recipe
        >>> _ = torch.manual_seed(0)
        >>> model = nn.Linear(4, 3)
        >>> data = [(torch.randn(8, 4), torch.randint(0, 3, (8,)))] * 2
        >>> seen = []
        >>> result = fit([model], get_recipe("ci"), lambda epoch: data,
        ...              loss=lambda out, y, _: F.cross_entropy(out, y),
        ...              after_epoch=lambda end: seen.append(end.stats[0].loss))
        >>> result.last_epoch, len(seen), seen[-1] < seen[0], result.diverged
        (3, 3, True, {})
    """
    if not students:
        raise ConfigError("fit needs at least one student")
    device = torch.device(device)
    precision = recipe.precision if precision is None else precision
    if optimizers is None:
        optimizers = [make_optimizer(s.parameters(), recipe) for s in students]
    elif len(optimizers) != len(students):
        raise ConfigError(f"fit: {len(optimizers)} optimizers for {len(students)} students; give one each")
    num = len(students)
    alive = [True] * num
    diverged: dict[int, str] = {}
    seconds = np.zeros(num)
    teacher_seconds = 0.0
    epoch = start_epoch
    for epoch in range(start_epoch + 1, recipe.epochs + 1):
        for opt in optimizers:
            set_epoch_lr(opt, recipe, epoch)
        for student in students:
            student.train()
        if teacher is not None:
            teacher.eval()  # every epoch: the hook may have used it otherwise
        meters = [Meter(device, has_logits=has_logits) for _ in students]
        start = time.perf_counter()
        for images, labels in batches(epoch):
            if time_each_step:
                step_start = time.perf_counter()
            images = images.to(device, non_blocking=True, memory_format=memory_format)
            labels = labels.to(device, non_blocking=True)
            teacher_out = None
            if teacher is not None:
                with torch.no_grad(), autocast(precision, device):
                    teacher_out = teacher(images)
            if time_each_step:
                teacher_seconds += device_seconds(step_start, device)
            inputs = images if student_input is None else student_input(images, teacher_out)
            for i, (student, opt) in enumerate(zip(students, optimizers, strict=True)):
                if not alive[i]:
                    continue
                if time_each_step:
                    step_start = time.perf_counter()
                with autocast(precision, device):
                    output = student(inputs)
                    value = loss(output, labels, teacher_out)
                opt.zero_grad(set_to_none=True)
                value.backward()
                opt.step()
                meters[i].update(value, output, labels)
                if time_each_step:
                    seconds[i] += device_seconds(step_start, device)
        stats = tuple(
            PassStats(*m.result()) if alive[i] else PassStats(math.nan, math.nan, math.nan)
            for i, m in enumerate(meters)
        )
        pass_seconds = time.perf_counter() - start
        if not time_each_step:
            seconds[[i for i in range(num) if alive[i]]] += pass_seconds
        end = EpochEnd(epoch, stats, tuple(alive), pass_seconds, tuple(seconds.tolist()), teacher_seconds)
        verdict = after_epoch(end) or {}
        for i, reason in verdict.items():
            if alive[i]:
                alive[i] = False
                diverged[i] = reason
                logger.debug("student %d stops after epoch %d: %s", i, epoch, reason)
        if not any(alive):
            break
    return FitResult(last_epoch=epoch, diverged=diverged, seconds=seconds, teacher_seconds=teacher_seconds)
