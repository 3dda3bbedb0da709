"""Normal training of one model (SPEC §5): per-epoch metrics, best-validation test metrics,
per-epoch checkpoints with exact resume, and divergence recorded rather than raised.

Epochs count from 1. Per epoch: a training pass (running averages with BN in train mode, as
in the original), a validation pass, best tracking (higher val top-1; ties go to the later
epoch when its val loss is not higher), a checkpoint, then the next epoch's learning rate.
The training pass, optimizer and schedule are :func:`blox_train.fit.fit`'s; this module adds
the rest of each epoch in its ``after_epoch`` hook. Accuracies are percentages. Unlike the original, the recorded epoch-1 validation metrics are
epoch 1's own (the original aliased them to the best epoch, facts §4.6).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import blox_space as bs
import numpy as np
import torch
from blox_space import ArchLike, Status
from blox_space.schema import BENCHMARK_EPOCH_ARRAYS, TEST_KEYS
from torch import nn
from tqdm.auto import tqdm

from .batches import split_batches
from .checkpoint import TrainState, load_checkpoint, save_checkpoint
from .complexity import count_macs, count_params
from .data import DataSplits, load_dataset
from .environment import environment, resolve_device
from .errors import ConfigError, DivergenceError
from .fit import KD_ALPHA, KD_TEMPERATURE, EpochEnd, Meter, autocast, fit, kd_loss, make_optimizer
from .network import build_model
from .recipes import Recipe, get_recipe

__all__ = ["TrainResult", "train", "METRICS", "TEST_METRICS", "STATUS_DONE", "STATUS_FAILED"]

logger = logging.getLogger(__name__)

#: Per-epoch metric names (the benchmark schema's arrays): train loss/top-1/top-5, val
#: loss/top-1/top-5, epoch seconds, in this order.
METRICS = tuple(spec.name for spec in BENCHMARK_EPOCH_ARRAYS)
#: Metrics measured once with the best-validation weights: loss, top-1, top-5.
TEST_METRICS = TEST_KEYS
#: A run's status as a word: the schema's flag meanings (:class:`blox_space.Status`), one vocabulary
#: for records, stores and queries.
STATUS_DONE, STATUS_FAILED = Status.DONE.label, Status.FAILED.label


@dataclass(frozen=True)
class TrainResult:
    """Everything one training run records.

    Attributes:
        model: model index.
        seed: model seed.
        recipe_id: id of the recipe used.
        status: ``"done"`` or ``"failed"`` (:attr:`blox_space.Status.label`).
        reason: why a failed run failed; empty when done.
        metrics: per-epoch arrays of shape ``(epochs,)`` named by :data:`METRICS`; NaN for
            epochs never run. Losses per sample, accuracies in %, seconds wall clock.
        test: ``{test_loss, test_acc, test_top5}`` with the best-validation weights (NaN if
            no epoch finished).
        best_epoch: epoch (1-based) of the best validation top-1; 0 if none.
        train_seconds: wall-clock seconds of all train and validation passes.
        params, macs: of the trained model (MACs in ptflops semantics, batch 1).
        env: environment record (device, versions).
        best_state: the best-validation weights (CPU tensors; the ones the test metrics were
            measured with), empty if no epoch finished. What :func:`blox_train.make_teacher`
            saves; not compared or shown.
    """

    model: int
    seed: int
    recipe_id: str
    status: str
    reason: str
    metrics: dict[str, np.ndarray]
    test: dict[str, float]
    best_epoch: int
    train_seconds: float
    params: int
    macs: int
    env: dict[str, str] = field(default_factory=dict)
    best_state: dict[str, torch.Tensor] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_done(self) -> bool:
        return self.status == STATUS_DONE

    @property
    def status_flag(self) -> Status:
        """The status as the store's flag (:class:`blox_space.Status`)."""
        return Status[self.status.upper()]


def _evaluate(
    model: nn.Module,
    loader: Iterable,
    recipe: Recipe,
    device: torch.device,
    memory_format: torch.memory_format,
    criterion: nn.Module,
) -> tuple[float, float, float]:
    """Loss (per sample), top-1 and top-5 (%) of ``model`` in eval mode over ``loader``."""
    model.eval()
    meter = Meter(device)
    with torch.no_grad():
        for images, target in loader:
            images = images.to(device, non_blocking=True, memory_format=memory_format)
            target = target.to(device, non_blocking=True)
            with autocast(recipe.precision, device):
                logits = model(images)
            meter.update(criterion(logits.float(), target), logits, target)
    return meter.result()


def _check_finite(epoch: int, recipe: Recipe, train_loss: float, val_loss: float) -> None:
    for what, value in (("training", train_loss), ("validation", val_loss)):
        if not math.isfinite(value):
            raise DivergenceError(f"{what} loss became {value} in epoch {epoch}")
    if train_loss > recipe.max_loss:
        raise DivergenceError(
            f"training loss {train_loss:.4g} exceeded max_loss={recipe.max_loss:g} in epoch {epoch}"
        )


def _build(
    factory: Callable[..., nn.Module], index: int, recipe: Recipe, num_classes: int, seed: int
) -> nn.Module:
    """The model with initial weights drawn from ``seed`` (the caller's RNG is left untouched)."""
    state = torch.default_generator.get_state()
    try:
        torch.default_generator.manual_seed(seed)
        return factory(index, num_classes=num_classes, width=recipe.width, resolution=recipe.resolution)
    finally:
        torch.default_generator.set_state(state)


def check_kd_settings(alpha: float, temperature: float) -> None:
    """Raise ConfigError unless ``0 <= alpha <= 1`` and ``temperature`` is a finite number > 0."""
    if not (math.isfinite(alpha) and 0.0 <= alpha <= 1.0):
        raise ConfigError(f"alpha {alpha!r} is not allowed; the distillation weight must be in [0, 1]")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ConfigError(f"temperature {temperature!r} is not allowed; it must be a finite number > 0")


def train(
    arch: ArchLike,
    recipe: Recipe | str = "quick",
    *,
    seed: int | None = None,
    data: DataSplits | None = None,
    data_root: str | Path | None = None,
    download: bool = False,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
    checkpoint: str | Path | None = None,
    progress: bool = False,
    build: Callable[..., nn.Module] | None = None,
    teacher: nn.Module | None = None,
    alpha: float = KD_ALPHA,
    temperature: float = KD_TEMPERATURE,
) -> TrainResult:
    """Train one model under a recipe and return its record.

    With a ``teacher`` this is fine-tuning with knowledge distillation (SPEC §5c): the same
    loop, data, schedule, validation and records, but each step minimises :func:`kd_loss`
    ``(1-alpha)·CE + alpha·KL(T)`` against the teacher's logits (the recorded ``train_loss`` is
    that loss; validation and test losses stay the cross-entropy). The teacher runs in eval
    mode without gradients and is never changed.

    Args:
        arch: any architecture form blox-space accepts.
        recipe: a :class:`Recipe` or a registered name.
        seed: model seed (weights and data order); defaults to the recipe's first seed.
        data: preloaded splits of the recipe's dataset (the shard runner loads them once).
        data_root: where the dataset lives (CIFAR, imagefolder).
        download: allow downloading the dataset.
        device: torch device to train on.
        num_workers: data-loading workers; results do not depend on it.
        checkpoint: file to checkpoint to after every epoch and to resume from if present.
        progress: show a tqdm progress bar (epochs, with ETA) on stderr.
        build: model factory ``(arch, *, num_classes, width, resolution)`` (default
            :func:`build_model`), e.g. for tests, wrapped models or fine-tuning students
            (assembled from a teacher and a block library).
        teacher: a frozen model whose logits the student learns from (moved to ``device``);
            None for normal training.
        alpha: weight of the distillation term in [0, 1] (used with a teacher; SPEC 0.9).
        temperature: softmax temperature > 0 (used with a teacher; SPEC 1).

    Returns:
        A :class:`TrainResult`; a diverging run is returned with ``status="failed"``.

    Raises:
        blox_space.InvalidArchitectureError, UnknownRecipeError, DatasetNotFoundError,
        CheckpointError, ConfigError (data of another dataset, alpha outside [0, 1] or a
        temperature <= 0 with a teacher): user mistakes, raised before training starts.

    Example:
        >>> result = train(0, "ci")
        >>> result.status, result.metrics["val_acc"].shape
        ('done', (3,))
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    seed = recipe.seeds[0] if seed is None else int(seed)
    index = bs.to_index(arch)
    device = resolve_device(device)
    if teacher is not None:
        check_kd_settings(alpha, temperature)
    if data is None:
        data = load_dataset(
            recipe.dataset,
            root=data_root,
            resolution=recipe.resolution,
            split_seed=recipe.split_seed,
            download=download,
        )
    elif data.name != recipe.dataset:
        raise ConfigError(
            f"recipe {recipe.name!r} trains on {recipe.dataset!r} but data of {data.name!r} was given"
        )
    model = _build(build or build_model, index, recipe, data.num_classes, seed)
    params, macs = (
        count_params(model),
        count_macs(model, input_shape=(3, recipe.resolution, recipe.resolution)),
    )
    memory_format = torch.channels_last if recipe.channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format)
    if teacher is not None:
        teacher = teacher.to(device, memory_format=memory_format).eval()
    optimizer = make_optimizer(model.parameters(), recipe)
    criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    loader = split_batches(
        data, recipe, resolution=recipe.resolution, seed=seed, device=device, num_workers=num_workers
    )

    state = TrainState(model=index, seed=seed, recipe_id=recipe.id, history={m: [] for m in METRICS})
    if checkpoint is not None:
        resumed = load_checkpoint(checkpoint, model=index, seed=seed, recipe_id=recipe.id)
        if resumed is not None:
            state = resumed
            model.load_state_dict(state.model_state)
            optimizer.load_state_dict(state.optimizer_state)
            logger.info("model %d seed %d: resuming after epoch %d", index, seed, state.epoch)

    bar = tqdm(
        total=recipe.epochs,
        initial=state.epoch,
        desc=f"model {index}",
        unit="epoch",
        disable=not progress,
        leave=False,
    )

    def after_epoch(end: EpochEnd) -> dict[int, str]:
        """Validate, record, track the best epoch and checkpoint; report divergence."""
        start = time.perf_counter()
        epoch, stats = end.epoch, end.stats[0]
        val_metrics = _evaluate(model, loader("val", epoch), recipe, device, memory_format, criterion)
        seconds = end.seconds + time.perf_counter() - start
        values = (stats.loss, stats.top1, stats.top5, *val_metrics, seconds)
        for name, value in zip(METRICS, values, strict=True):
            state.history[name].append(float(value))
        try:
            _check_finite(epoch, recipe, stats.loss, val_metrics[0])
        except DivergenceError as err:
            return {0: str(err)}
        val_loss, val_top1 = val_metrics[0], val_metrics[1]
        if val_top1 > state.best_top1 or (val_top1 == state.best_top1 and val_loss <= state.best_loss):
            state.best_epoch, state.best_top1, state.best_loss = epoch, val_top1, val_loss
            state.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        state.epoch = epoch
        if checkpoint is not None:
            state.model_state = model.state_dict()
            state.optimizer_state = optimizer.state_dict()
            save_checkpoint(state, checkpoint)
        bar.set_postfix(val_acc=f"{val_top1:.2f}", loss=f"{stats.loss:.3f}")
        bar.update(1)
        return {}

    def step_loss(logits: torch.Tensor, target: torch.Tensor, teacher_logits: object) -> torch.Tensor:
        if teacher_logits is None:
            return criterion(logits.float(), target)
        return kd_loss(logits.float(), teacher_logits.float(), target, alpha=alpha, temperature=temperature)

    try:
        run = fit(
            [model],
            recipe,
            lambda epoch: loader("train", epoch),
            loss=step_loss,
            after_epoch=after_epoch,
            teacher=teacher,
            optimizers=[optimizer],
            start_epoch=state.epoch,
            device=device,
            memory_format=memory_format,
        )
    finally:
        bar.close()
    status, reason = (STATUS_FAILED, run.diverged[0]) if run.diverged else (STATUS_DONE, "")
    if run.diverged:
        logger.warning("model %d seed %d failed: %s", index, seed, reason)

    test = dict.fromkeys(TEST_METRICS, float("nan"))
    if state.best_epoch:
        model.load_state_dict(state.best_state)
        test = dict(
            zip(
                TEST_METRICS,
                _evaluate(model, loader("test", 0), recipe, device, memory_format, criterion),
                strict=True,
            )
        )
    metrics = {}
    for name in METRICS:
        values = np.full(recipe.epochs, np.nan, dtype=np.float64)
        values[: len(state.history[name])] = state.history[name]
        metrics[name] = values
    return TrainResult(
        model=index,
        seed=seed,
        recipe_id=recipe.id,
        status=status,
        reason=reason,
        metrics=metrics,
        test=test,
        best_epoch=state.best_epoch,
        train_seconds=float(np.nansum(metrics["epoch_seconds"])),
        params=params,
        macs=macs,
        env=environment(device),
        best_state=state.best_state if state.best_epoch else {},
    )
