"""LANA block signatures (SPEC §5): the change of the teacher's validation top-1 when one of
its stages is replaced by a distilled block. (The DONNA signature, a block's final validation
NSR, is :attr:`blox_train.distilled.DistillResult.donna_signature`.)"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .distilled import DistillResult
from .distiller import Batches, _check_stage
from .errors import ConfigError
from .network import BloxNet

__all__ = ["lana_signature", "lana_signatures"]


def _top1(model: nn.Module, batches: Batches, device: torch.device) -> float:
    hits = count = 0
    with torch.no_grad():
        for images, labels in batches:
            logits = model(images.to(device, non_blocking=True))
            hits += int((logits.argmax(dim=1) == labels.to(device)).sum())
            count += labels.shape[0]
    if count == 0:
        raise ConfigError("the validation data is empty")
    return 100.0 * hits / count


def lana_signature(teacher: BloxNet, stage: int, module: nn.Module, val_batches: Batches) -> float:
    """LANA signature: validation top-1 of the teacher with stage ``stage`` replaced by
    ``module``, minus the teacher's own (percentage points; negative = worse).

    Runs on deep copies in eval mode; neither the teacher nor ``module`` is changed.

    Args:
        teacher: the teacher.
        stage: 0..2.
        module: a stage module with the stage's input and output shapes.
        val_batches: iterable of ``(images, labels)`` (normalised as for validation).

    Returns:
        The top-1 difference in percentage points.

    Raises:
        ConfigError: unknown stage or empty data.
    """
    return float(_lana(teacher, _check_stage(stage), [module], val_batches)[0])


def lana_signatures(teacher: BloxNet, result: DistillResult, val_batches: Batches) -> np.ndarray:
    """:func:`lana_signature` of every block of ``result`` (the teacher is evaluated once).

    Returns:
        ``(num_blocks,)`` top-1 differences in percentage points, in ``result.block_ids`` order.

    Raises:
        ConfigError: ``result`` was distilled from another teacher, or the data is empty.
    """
    ours = (tuple(teacher.block_ids), teacher.width, teacher.resolution, teacher.num_classes)
    theirs = (result.teacher_block_ids, result.width, result.resolution, result.num_classes)
    if ours != theirs:
        raise ConfigError(
            f"the result was distilled from teacher (blocks, width, resolution, classes) {theirs}, not {ours}"
        )
    return _lana(teacher, result.stage, [result.module(b) for b in result.block_ids], val_batches)


def _lana(teacher: BloxNet, stage: int, modules: Sequence[nn.Module], val_batches: Batches) -> np.ndarray:
    device = next(teacher.parameters()).device
    base = copy.deepcopy(teacher).eval()
    batches = list(val_batches)
    reference = _top1(base, batches, device)
    out = np.empty(len(modules))
    for i, module in enumerate(modules):
        swapped = base.replace_stage(stage, copy.deepcopy(module).to(device)).eval()
        out[i] = _top1(swapped, batches, device) - reference
    return out
