"""DARTS-PT on the Blox supernet (SPEC §7b, related-work §D.2): bi-level training, then
perturbation-based projection.

:func:`train_supernet` trains a :class:`~blox_train.supernet.SuperNet` with first-order DARTS
(:func:`~blox_train.supernet.darts_step` per train/val batch pair: α on the validation batch with
Adam, then the weights on the train batch with SGD, the weights' learning rate cosine-annealed
per epoch as in DARTS). It checkpoints after every epoch (:func:`blox_train.checkpoint.save_checkpoint`:
supernet state with α and masks, both optimizers, torch RNG state, epoch, history) and resumes
from an existing checkpoint bit-for-bit.

:func:`project` then extracts one model: while undecided edges remain it takes one at random
(seeded), measures the supernet's validation top-1 with each candidate masked out in turn
(:meth:`SuperNet.masked`) and decides the edge to the candidate whose removal hurts most (lowest
accuracy; ties: higher loss, then the lower index). Between two projections it tunes the
supernet ``proj_intv`` epochs (DARTS steps; weights only with ``tune_alpha=False``), so
``proj_intv x (edges - 1)`` tuning epochs in all, as in DARTS-PT. Given a checkpoint it writes
one after every decision and its tuning, and a killed projection continues from it bit-for-bit.

Invalid cells (:data:`INVALID_CELL_RULE`): a cell with ``prev = input = sc = 0`` is no model
(blocks.py gives -1). Projection never produces one: the zero candidate is only allowed on a
binary edge while another binary edge of the stage can still carry the signal. When the last
undecided binary edge of a stage would be decided to zero (both others already decided zero), it is
decided to ``skip`` instead; the measurement is still taken and recorded, and the override is
listed in :attr:`Projection.resolutions`. A stage already invalid before projection (all three
flags decided zero by the caller) raises :class:`~blox_train.errors.ConfigError`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import blox_space as bs
import numpy as np
import torch
import torch.nn.functional as F
from blox_space import NUM_STAGES
from torch import nn

from .batches import split_batches
from .checkpoint import TrainState, load_checkpoint, save_checkpoint
from .data import DataSplits
from .errors import CheckpointError, ConfigError, DivergenceError
from .fit import Meter, device_seconds
from .recipes import Recipe
from .supernet import EDGES, FLAG_CANDIDATES, FLAG_EDGES, RawCell, SuperNet, darts_step, make_darts_optimizers

__all__ = [
    "INVALID_CELL_RULE",
    "Batches",
    "SearchBatches",
    "SupernetTraining",
    "Decision",
    "Projection",
    "search_batches",
    "train_supernet",
    "evaluate_supernet",
    "project",
]

Batch = tuple[torch.Tensor, torch.Tensor]
#: Batches of one split: a re-iterable collection of ``(inputs, targets)`` used every epoch, or
#: ``batches(epoch)`` giving the batches of one epoch (as :func:`blox_train.batches.split_batches`).
Batches = Callable[[int], Iterable[Batch]] | Iterable[Batch]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: How :func:`project` keeps every projected cell valid (module docstring).
INVALID_CELL_RULE = (
    "zero is allowed on a binary edge (prev/input/sc) only while another binary edge of the stage can "
    "still be skip; the last undecided binary edge of a stage whose other two are decided zero is "
    "decided to skip, whatever the measurement preferred (recorded in Projection.resolutions)"
)
#: Checkpoint identity: the ``model`` field of a supernet checkpoint (not a model index).
SUPERNET_CHECKPOINT_MODEL = -1
#: The ``model`` field of a projection checkpoint (:func:`project`).
PROJECTION_CHECKPOINT_MODEL = -2
#: DARTS' final learning rate of the cosine schedule of the weights.
DARTS_LR_MIN = 0.001
_SKIP, _ZERO = FLAG_CANDIDATES.index("skip"), FLAG_CANDIDATES.index("zero")


def _epoch_batches(batches: Batches, epoch: int) -> Iterable[Batch]:
    return batches(epoch) if callable(batches) else batches


def _pairs(train: Batches, val: Batches, epoch: int) -> Iterator[tuple[Batch, Batch]]:
    """One (train, val) pair per train batch; the val batches are cycled when there are fewer."""
    return zip(_epoch_batches(train, epoch), itertools.cycle(_epoch_batches(val, epoch)), strict=False)


def _device(supernet: nn.Module) -> torch.device:
    return next(supernet.parameters()).device


class SearchBatches(NamedTuple):
    """The batches a DARTS-PT search reads, each ``batches(epoch)``.

    Attributes:
        train: train split, shuffled and augmented (weight steps).
        arch: validation split, shuffled and augmented like train (α steps).
        eval: validation split in order, unaugmented (projection's accuracy).
    """

    train: Callable[[int], Iterable[Batch]]
    arch: Callable[[int], Iterable[Batch]]
    eval: Callable[[int], Iterable[Batch]]


def search_batches(
    data: DataSplits, recipe: Recipe, *, resolution: int, seed: int, device: torch.device
) -> SearchBatches:
    """DARTS' two halves from a dataset's train and val splits, via :func:`split_batches`.

    The α batches are the validation split served the way the train split is (shuffled,
    augmented, ``recipe.batch_size``); the evaluation batches are the plain validation split.
    """
    weights = split_batches(
        data, recipe, resolution=resolution, seed=seed, device=device, splits=("train", "val")
    )
    arch = split_batches(
        dataclasses.replace(data, train=data.val), recipe, resolution=resolution, seed=seed + 1, device=device,
        splits=("train",),
    )  # fmt: skip
    return SearchBatches(
        train=lambda epoch: weights("train", epoch),
        arch=lambda epoch: arch("train", epoch),
        eval=lambda epoch: weights("val", epoch),
    )


@dataclass(frozen=True)
class SupernetTraining:
    """What :func:`train_supernet` did.

    Attributes:
        epochs: epochs trained in all (checkpointed ones included).
        resumed_from: the epoch the checkpoint had reached (0 = fresh start).
        seconds: device seconds of all training epochs, those of earlier calls included.
        history: per epoch ``train_loss``, ``val_loss`` (means over the epoch's steps) and ``seconds``.
        w_opt, a_opt: the optimizers (pass them on to :func:`project` to tune with them).
    """

    epochs: int
    resumed_from: int
    seconds: float
    history: dict[str, list[float]]
    w_opt: torch.optim.Optimizer
    a_opt: torch.optim.Optimizer


def _rng_state() -> dict[str, object]:
    """torch's RNG states, as a checkpoint keeps them (``rng``, and ``cuda_rng`` where CUDA is)."""
    state: dict[str, object] = {"rng": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(saved: dict) -> None:
    """Set torch's RNGs back to what :func:`_rng_state` saved."""
    torch.set_rng_state(saved["rng"])
    if "cuda_rng" in saved and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(saved["cuda_rng"]))


def _recipe_id(supernet: SuperNet) -> str:
    return f"darts-supernet/w{supernet.width}/r{supernet.resolution}/c{supernet.num_classes}"


def _set_cosine_lr(w_opt: torch.optim.Optimizer, epoch: int, epochs: int, lr_min: float) -> None:
    """DARTS' per-epoch cosine schedule of the weights (epoch counted from 1)."""
    for group in w_opt.param_groups:
        base = group.setdefault("initial_lr", group["lr"])
        group["lr"] = lr_min + 0.5 * (base - lr_min) * (1.0 + math.cos(math.pi * (epoch - 1) / epochs))


def train_supernet(
    supernet: SuperNet,
    train_batches: Batches,
    val_batches: Batches,
    *,
    epochs: int,
    seed: int,
    checkpoint: str | Path | None = None,
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer] | None = None,
    loss_fn: LossFn = F.cross_entropy,
    grad_clip: float | None = 5.0,
    lr_min: float | None = DARTS_LR_MIN,
) -> SupernetTraining:
    """First-order DARTS on ``supernet`` for epochs ``1..epochs``, resuming from ``checkpoint``.

    Per epoch: the weights' learning rate is set by the cosine schedule, then one
    :func:`darts_step` per train batch (val batches cycled), then the checkpoint is written.
    ``torch.manual_seed(seed)`` is set at a fresh start; a resumed run restores the RNG state, so
    an interrupted and resumed run ends with the same tensors as an uninterrupted one.

    Args:
        supernet: the supernet, on its device.
        train_batches, val_batches: weight and α batches (:data:`Batches`).
        epochs: total epochs (a checkpoint past it is left as it is).
        seed: seed of a fresh start (also checked against the checkpoint).
        checkpoint: file to resume from and write after each epoch; None = no checkpoints.
        optimizers: ``(w_opt, a_opt)`` over the supernet; default :func:`make_darts_optimizers`.
        loss_fn: ``loss_fn(logits, targets)``.
        grad_clip: max gradient norm of the weights; None for no clipping.
        lr_min: final learning rate of the cosine schedule; None keeps the learning rate constant.

    Raises:
        ConfigError: ``epochs < 0``.
        CheckpointError: the checkpoint is unreadable or belongs to another run.
        DivergenceError: a non-finite loss.
    """
    if epochs < 0:
        raise ConfigError(f"epochs must be >= 0, got {epochs}")
    w_opt, a_opt = optimizers if optimizers is not None else make_darts_optimizers(supernet)
    recipe_id = _recipe_id(supernet)
    state = None
    if checkpoint is not None:
        state = load_checkpoint(checkpoint, model=SUPERNET_CHECKPOINT_MODEL, seed=seed, recipe_id=recipe_id)
    if state is None:
        state = TrainState(model=SUPERNET_CHECKPOINT_MODEL, seed=seed, recipe_id=recipe_id)
        state.history = {"train_loss": [], "val_loss": [], "seconds": []}
        torch.manual_seed(seed)
    else:
        supernet.load_state_dict(state.model_state)
        w_opt.load_state_dict(state.optimizer_state["w"])
        a_opt.load_state_dict(state.optimizer_state["a"])
        _restore_rng(state.optimizer_state)
    resumed_from = state.epoch
    device = _device(supernet)
    for epoch in range(state.epoch + 1, epochs + 1):
        start = device_seconds(0.0, device)  # the clock after the queued device work
        if lr_min is not None:
            _set_cosine_lr(w_opt, epoch, epochs, lr_min)
        supernet.train()
        sums = {"train_loss": 0.0, "val_loss": 0.0}
        steps = 0
        for train_batch, val_batch in _pairs(train_batches, val_batches, epoch):
            losses = darts_step(supernet, train_batch, val_batch, w_opt, a_opt, loss_fn, grad_clip=grad_clip)
            for key in sums:
                sums[key] += losses[key]
            steps += 1
        seconds = device_seconds(start, device)
        for key, total in sums.items():
            state.history[key].append(total / max(steps, 1))
        state.history["seconds"].append(seconds)
        state.epoch = epoch
        if checkpoint is not None:
            state.model_state = supernet.state_dict()
            state.optimizer_state = {"w": w_opt.state_dict(), "a": a_opt.state_dict(), **_rng_state()}
            save_checkpoint(state, checkpoint)
    return SupernetTraining(
        epochs=state.epoch, resumed_from=resumed_from, seconds=float(sum(state.history["seconds"])),
        history={k: list(v) for k, v in state.history.items()}, w_opt=w_opt, a_opt=a_opt,
    )  # fmt: skip


@contextlib.contextmanager
def _kept_bn_statistics(module: nn.Module) -> Iterator[None]:
    """BatchNorm running statistics restored on exit (evaluating with batch statistics leaves none)."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [{k: v.clone() for k, v in m.state_dict().items()} for m in norms]
    try:
        yield
    finally:
        for m, s in zip(norms, saved, strict=True):
            m.load_state_dict(s)


@torch.no_grad()
def evaluate_supernet(
    supernet: SuperNet,
    batches: Iterable[Batch],
    *,
    batch_stats: bool = True,
    loss_fn: LossFn = F.cross_entropy,
) -> tuple[float, float]:
    """Loss per sample and top-1 (%) of the supernet as it is (masks and decisions applied).

    Args:
        batches: ``(inputs, targets)`` batches.
        batch_stats: normalise with each batch's statistics (train-mode BatchNorm, running
            statistics left unchanged), as a supernet whose mixture just changed needs;
            False uses the running statistics (eval mode).
    """
    device = _device(supernet)
    was_training = supernet.training
    supernet.train(batch_stats)
    meter = Meter(device)
    with _kept_bn_statistics(supernet) if batch_stats else contextlib.nullcontext():
        for x, y in batches:
            x, y = x.to(device), y.to(device)
            logits = supernet(x)
            meter.update(loss_fn(logits, y), logits, y)
    supernet.train(was_training)
    loss, top1, _ = meter.result()
    return loss, top1


@dataclass(frozen=True)
class Decision:
    """One projection step.

    Attributes:
        stage, edge: the edge decided.
        choice: the candidate it was decided to (op id, or flag value).
        scores: candidate -> ``(top1, loss)`` of the supernet with that candidate masked out.
        measured: the candidate the measurement picked (differs from ``choice`` when forced).
        forced: the measured choice would have made an invalid cell (:data:`INVALID_CELL_RULE`).
    """

    stage: int
    edge: str
    choice: int
    scores: dict[int, tuple[float, float]]
    measured: int
    forced: bool


@dataclass(frozen=True)
class Projection:
    """What :func:`project` chose.

    Attributes:
        cells: the projected raw cells ``(op0, op1, prev, input, sc)`` per stage.
        block_ids: their canonical block ids (:meth:`SuperNet.to_block_ids`).
        decisions: the projection steps in order.
        resolutions: one line per forced decision (:data:`INVALID_CELL_RULE`); empty if none.
        argmax_cells: plain DARTS argmax of α before projection.
        argmax_block_ids: their block ids, or ``"invalid"`` when a cell has no valid block.
        tune_epochs: tuning epochs run between projections.
        seconds: device seconds of the projection (measurements and tuning).
    """

    cells: tuple[RawCell, ...]
    block_ids: tuple[int, int, int]
    decisions: tuple[Decision, ...]
    resolutions: tuple[str, ...]
    argmax_cells: tuple[RawCell, ...]
    argmax_block_ids: tuple[int, int, int] | str
    tune_epochs: int
    seconds: float


def _decided_flag(supernet: SuperNet, stage: int, edge: str) -> int | None:
    cands = supernet.candidates(stage, edge)
    return cands[0] if len(cands) == 1 else None


def _zero_allowed(supernet: SuperNet, stage: int, edge: str) -> bool:
    """Whether deciding ``edge`` to zero still leaves the stage a way to be valid."""
    return any(_decided_flag(supernet, stage, other) != _ZERO for other in FLAG_EDGES if other != edge)


def _weight_step(
    supernet: SuperNet, batch: Batch, w_opt: torch.optim.Optimizer, loss_fn: LossFn, grad_clip: float | None
) -> None:
    device = _device(supernet)
    w_opt.zero_grad(set_to_none=True)
    loss = loss_fn(supernet(batch[0].to(device)), batch[1].to(device))
    if not torch.isfinite(loss):
        raise DivergenceError(f"projection tuning: train_loss is {float(loss)}")
    loss.backward()
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(supernet.weight_parameters(), grad_clip)
    w_opt.step()
    w_opt.zero_grad(set_to_none=True)
    for p in supernet.arch_parameters():
        p.grad = None


def _decision_to_state(d: Decision) -> list:
    """A decision as plain values a ``weights_only`` checkpoint holds."""
    return [d.stage, d.edge, d.choice, {k: list(v) for k, v in d.scores.items()}, d.measured, d.forced]


def _decision_from_state(row: list) -> Decision:
    stage, edge, choice, scores, measured, forced = row
    return Decision(
        int(stage), str(edge), int(choice), {int(k): (float(v[0]), float(v[1])) for k, v in scores.items()},
        int(measured), bool(forced),
    )  # fmt: skip


def _argmax_ids(supernet: SuperNet) -> tuple[int, int, int] | str:
    try:
        return supernet.argmax_block_ids()
    except bs.InvalidCellError:
        return "invalid"


def project(
    supernet: SuperNet,
    val_batches: Batches,
    train_batches: Batches,
    *,
    seed: int,
    proj_intv: int = 5,
    arch_batches: Batches | None = None,
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer] | None = None,
    tune_alpha: bool = True,
    batch_stats: bool = True,
    loss_fn: LossFn = F.cross_entropy,
    grad_clip: float | None = 5.0,
    checkpoint: str | Path | None = None,
) -> Projection:
    """Perturbation-based projection of DARTS-PT (module docstring); decides every edge in place.

    With ``checkpoint``, the state after every decision and its tuning (supernet with α and masks,
    both optimizers, torch's RNG and the edge order's generator, the decisions so far and their
    seconds) is written there, and a projection killed later continues from it: it ends with the
    same decisions and model as an uninterrupted one, charged the seconds of the checkpointed
    decisions plus those it runs (the lost partial decision is not charged).

    Args:
        supernet: a trained supernet (edges already decided are kept).
        val_batches: batches the accuracy is measured on (called with epoch 0 when callable).
        train_batches: weight batches of the tuning epochs (``batches(t)``, t = 1, 2, ...).
        seed: seed of the edge order and of torch's RNG during tuning.
        proj_intv: tuning epochs between two projections (DARTS-PT: 5); 0 = no tuning.
        arch_batches: α batches of the tuning epochs; default ``val_batches``.
        optimizers: ``(w_opt, a_opt)``, e.g. those of :class:`SupernetTraining`; default new ones.
        tune_alpha: tune with :func:`darts_step` (α and weights) or, if False, the weights only.
        batch_stats: see :func:`evaluate_supernet`.
        loss_fn: ``loss_fn(logits, targets)``.
        grad_clip: max gradient norm of the weights while tuning.
        checkpoint: file to resume from and write after each decision; None = no checkpoints.

    Raises:
        ConfigError: ``proj_intv < 0``, or a stage whose three flags are already decided to zero.
        CheckpointError: the checkpoint is unreadable, or belongs to another run or other settings.
        DivergenceError: a non-finite loss while tuning.
    """
    if proj_intv < 0:
        raise ConfigError(f"proj_intv must be >= 0, got {proj_intv}")
    for s in range(NUM_STAGES):
        if all(_decided_flag(supernet, s, e) == _ZERO for e in FLAG_EDGES):
            raise ConfigError(
                f"stage {s}: prev, input and sc are all decided to zero; no model has that cell"
            )
    device = _device(supernet)
    start = device_seconds(0.0, device)
    w_opt, a_opt = optimizers if optimizers is not None else make_darts_optimizers(supernet)
    arch = val_batches if arch_batches is None else arch_batches
    rng = np.random.default_rng(seed)
    run = {"proj_intv": proj_intv, "tune_alpha": tune_alpha, "batch_stats": batch_stats}
    state = None
    if checkpoint is not None:
        state = load_checkpoint(
            checkpoint, model=PROJECTION_CHECKPOINT_MODEL, seed=seed, recipe_id=_recipe_id(supernet)
        )
    if state is None:
        torch.manual_seed(seed)
        argmax_cells, argmax_ids = supernet.argmax_cells(), _argmax_ids(supernet)
        decisions: list[Decision] = []
        resolutions: list[str] = []
        tune_epochs, done_seconds = 0, 0.0
    else:
        saved = state.optimizer_state
        if saved["run"] != run:
            raise CheckpointError(
                f"projection checkpoint {checkpoint} was written with {saved['run']}, not {run}; "
                "delete it or use another folder"
            )
        supernet.load_state_dict(state.model_state)
        w_opt.load_state_dict(saved["w"])
        a_opt.load_state_dict(saved["a"])
        _restore_rng(saved)
        rng.bit_generator.state = saved["order_rng"]
        argmax_cells = tuple(tuple(c) for c in saved["argmax_cells"])  # type: ignore[misc]
        argmax_ids = (
            saved["argmax_ids"] if isinstance(saved["argmax_ids"], str) else tuple(saved["argmax_ids"])
        )
        decisions = [_decision_from_state(d) for d in saved["decisions"]]
        resolutions = list(saved["resolutions"])
        tune_epochs, done_seconds = int(saved["tune_epochs"]), float(saved["seconds"])
    while undecided := supernet.undecided_edges():
        stage, edge = undecided[int(rng.integers(len(undecided)))]
        scores: dict[int, tuple[float, float]] = {}
        for k in supernet.candidates(stage, edge):
            with supernet.masked(stage, edge, k):
                loss, top1 = evaluate_supernet(
                    supernet, _epoch_batches(val_batches, 0), batch_stats=batch_stats, loss_fn=loss_fn
                )
            scores[k] = (top1, loss)
        measured = min(scores, key=lambda k: (scores[k][0], -scores[k][1], k))
        choice, forced = measured, False
        if edge in FLAG_EDGES and measured == _ZERO and not _zero_allowed(supernet, stage, edge):
            choice, forced = _SKIP, True
            resolutions.append(
                f"stage {stage}, edge {edge}: measurement chose zero, but the stage's other binary edges are "
                "decided zero (prev = input = sc = 0 is no model); decided skip"
            )
        supernet.decide(stage, edge, choice)
        decisions.append(Decision(stage, edge, choice, scores, measured, forced))
        if not supernet.undecided_edges():
            break
        for _ in range(proj_intv):
            tune_epochs += 1
            supernet.train()
            if tune_alpha:
                for train_batch, val_batch in _pairs(train_batches, arch, tune_epochs):
                    darts_step(supernet, train_batch, val_batch, w_opt, a_opt, loss_fn, grad_clip=grad_clip)
            else:
                for train_batch in _epoch_batches(train_batches, tune_epochs):
                    _weight_step(supernet, train_batch, w_opt, loss_fn, grad_clip)
        if checkpoint is not None:
            state = TrainState(
                model=PROJECTION_CHECKPOINT_MODEL, seed=seed, recipe_id=_recipe_id(supernet),
                epoch=len(decisions), model_state=supernet.state_dict(),
            )  # fmt: skip
            state.optimizer_state = {
                "run": run, "w": w_opt.state_dict(), "a": a_opt.state_dict(), **_rng_state(),
                "order_rng": rng.bit_generator.state, "argmax_cells": [list(c) for c in argmax_cells],
                "argmax_ids": argmax_ids if isinstance(argmax_ids, str) else list(argmax_ids),
                "decisions": [_decision_to_state(d) for d in decisions], "resolutions": list(resolutions),
                "tune_epochs": tune_epochs, "seconds": done_seconds + device_seconds(start, device),
            }  # fmt: skip
            save_checkpoint(state, checkpoint)
    cells = tuple(
        tuple(supernet.candidates(s, e)[0] for e in EDGES)  # type: ignore[misc]
        for s in range(NUM_STAGES)
    )
    return Projection(
        cells=cells, block_ids=supernet.to_block_ids(cells), decisions=tuple(decisions),
        resolutions=tuple(resolutions), argmax_cells=argmax_cells, argmax_block_ids=argmax_ids,
        tune_epochs=tune_epochs, seconds=done_seconds + device_seconds(start, device),
    )  # fmt: skip
