"""Blockwise distillation (SPEC §5, §5b): candidate stages learn a frozen teacher's stage mapping.

For one stage s of a teacher, every candidate block is built as :func:`build_model` would build
the stage (cell at the stage's C channels + reduction to 2C) and trained to map the teacher's
stage-s input to its stage-s output with the noise-to-signal ratio (:func:`nsr_loss`). The
teacher runs once per batch, in eval mode and without gradients, and all candidates of the
stage train on that one result (the students of one :func:`blox_train.fit.fit` loop). A
candidate's initial weights depend on (seed, stage, block) only, so its run does not depend on
which other candidates share the teacher.

**Dead teacher channels** (SPEC §5b). Before training, one teacher pass over the validation
split measures the variance of every channel of the stage-s output (population variance over
images and positions, float64). A channel whose variance is below :data:`DEAD_CHANNEL_RATIO`
(1e-6) times the mean channel variance of that output is *dead* and left out of the NSR average,
in the training loss and in the validation NSR alike; the number of dead channels is recorded
(:attr:`DistillResult.dead_channels`, the blockwise store's ``dead_channels``). So a constant
teacher channel (e.g. a BatchNorm with weight and bias 0) neither divides by ~0 nor dilutes the
average, and never yields NaN.

Per epoch each block's train NSR (running mean over the epoch's batches, weighted by batch size)
and validation NSR (over the whole validation split from per-channel sums, so it does not depend
on the batch size: the mean over live channels c of SSE_c / (n_c var_c)) are recorded. A block
whose train or validation NSR is not finite, or whose train NSR exceeds the recipe's
``max_loss``, diverged: it stops training, its later epochs are NaN, its reason is kept, and the
other blocks carry on. The weights kept are those after the last epoch; they form the *block
library*.

:class:`StageDistiller` is the resumable form (:meth:`StageDistiller.state_dict` after any
epoch, a hook after each epoch's validation) that :mod:`blox_train.blockwise` checkpoints;
:func:`distill_stage` runs it in one call.

Signatures: DONNA = a block's validation NSR (:attr:`DistillResult.donna_signature`);
LANA = change of the teacher's validation top-1 (percentage points) when its stage is replaced
by the distilled block (:func:`blox_train.lana_signature`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from blox_space import NUM_BLOCKS, NUM_STAGES

from .batches import split_batches
from .data import DataSplits
from .distilled import BlockLibrary, DistillResult
from .distiller import Batches, StageDistiller, _check_blocks, _check_stage
from .environment import resolve_device
from .errors import ConfigError
from .network import BloxNet
from .nsr import DEAD_CHANNEL_RATIO, NSR_EPS, nsr_loss
from .recipes import Recipe, get_recipe

__all__ = [
    "DEAD_CHANNEL_RATIO",
    "DEFAULT_DISTILL_EPOCHS",
    "NSR_EPS",
    "Batches",
    "StageDistiller",
    "distill",
    "distill_settings",
    "distill_stage",
    "nsr_loss",
    "parse_blocks",
    "parse_snapshots",
]

#: SPEC §5: distillation epochs unless told otherwise.
DEFAULT_DISTILL_EPOCHS = 10


def parse_blocks(spec: str | Sequence[int] | None) -> tuple[int, ...]:
    """Block ids from a spec: ``all`` (or None), or a comma list of ids and ranges ``A:B``
    (``B`` excluded, as in model specs).

    Raises:
        ConfigError: a malformed item, an id outside 0..44, a duplicate, or nothing selected.

    Example:
        >>> parse_blocks("0,3,10:13")
        (0, 3, 10, 11, 12)
        >>> len(parse_blocks("all"))
        45
    """
    if spec is None or (isinstance(spec, str) and spec.strip() == "all"):
        return tuple(range(NUM_BLOCKS))
    if not isinstance(spec, str):
        return _check_blocks(list(spec))
    ids: list[int] = []
    for item in spec.split(","):
        low, sep, high = item.strip().partition(":")
        try:
            first = int(low)
            ids.extend(range(first, int(high)) if sep else [first])
        except ValueError:
            raise ConfigError(
                f"cannot read block spec {spec[:40]!r}: use all, or ids and ranges A:B (B excluded) "
                f"separated by commas, e.g. 0,3,10:20; block ids are 0..{NUM_BLOCKS - 1}"
            ) from None
        if sep and int(high) <= first:
            raise ConfigError(f"block range {item.strip()!r} is empty; A:B selects A..B-1")
    return _check_blocks(ids)


def parse_snapshots(spec: str | Sequence[int] | None, epochs: int) -> tuple[int, ...]:
    """Snapshot epochs: a comma list (or sequence) of epochs in 1..``epochs``; None = the last.

    Raises:
        ConfigError: not integers, or an epoch outside 1..``epochs``.

    Example:
        >>> parse_snapshots("5,1,10", 10), parse_snapshots(None, 10)
        ((1, 5, 10), (10,))
    """
    if spec is None:
        return (epochs,)
    try:
        items = [int(v) for v in (spec.split(",") if isinstance(spec, str) else spec)]
    except (TypeError, ValueError):
        raise ConfigError(
            f"snapshots must be epochs separated by commas, e.g. 1,5,10; got {spec!r}"
        ) from None
    bad = [e for e in items if not 1 <= e <= epochs]
    if bad or not items:
        raise ConfigError(
            f"snapshot epoch {bad[0] if bad else 'list'} is outside the distillation epochs 1..{epochs}"
        )
    return tuple(sorted(set(items)))


def distill_settings(
    recipe: Recipe, *, epochs: int, snapshots: Sequence[int], seed: int
) -> dict[str, object]:
    """The ``distill`` attribute (hashed into ``distill_id``): epochs, snapshots, the id of the
    recipe named (before its epochs are set to the distillation's), lr, seed, dead-channel ratio.

    Example:
        >>> sorted(distill_settings(get_recipe("ci"), epochs=2, snapshots=[2], seed=0))
        ['dead_channel_ratio', 'epochs', 'lr', 'recipe_id', 'seed', 'snapshots']
    """
    return {
        "epochs": int(epochs), "snapshots": [int(e) for e in snapshots], "recipe_id": recipe.id,
        "lr": float(recipe.lr), "seed": int(seed), "dead_channel_ratio": DEAD_CHANNEL_RATIO,
    }  # fmt: skip


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
    """Distill stage ``stage`` of a frozen teacher into each candidate block (a
    :class:`StageDistiller` run in one call).

    The teacher is moved to ``device`` and put in eval mode (left so afterwards); its
    parameters are never changed. Each candidate gets its own optimizer (the recipe's) with the
    recipe's schedule stretched over ``epochs``. Training runs in fp32 whatever the recipe's
    precision. Dead teacher channels and diverging blocks are handled as the module docstring
    says.

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
            :class:`BloxNet`, data of the wrong form, or a constant teacher stage output.
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
    recipe = _distill_recipe(recipe, epochs, lr)
    device = resolve_device(device)
    if not isinstance(teacher, BloxNet):
        raise ConfigError(f"teacher must be a BloxNet (see build_model), got {type(teacher).__name__}")
    _check_stage(stage)
    _check_blocks(blocks)
    batches = _make_batches(data, recipe, teacher.resolution, seed, device, num_workers)
    distiller = StageDistiller(teacher, stage, blocks, batches, recipe, seed=seed, device=device)
    distiller.run(progress=progress)
    return distiller.result()


def _distill_recipe(recipe: Recipe | str, epochs: int, lr: float | None) -> Recipe:
    """The recipe with the distillation's epochs and lr (a new id; validated)."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"epochs must be an integer >= 1, got {epochs!r}")
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    return recipe.replace(epochs=epochs, lr=recipe.lr if lr is None else lr)


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
