"""Model lists and model building shared by the measuring modules and the command line.

Model list specs (``all``, ``START:STOP``, ``i,j,k``, ``sample:N:SEED``) are blox-space's
:func:`blox_space.parse_models`, so every command line selects the same models."""

from __future__ import annotations

import torch
from blox_space import ArchLike, parse_models
from blox_train import build_model
from torch import nn

__all__ = ["parse_models", "build_seeded", "tqdm_disable"]


def build_seeded(arch: ArchLike, *, width: int, resolution: int, num_classes: int, seed: int) -> nn.Module:
    # Weights do not change latency, but fixed ones keep runs reproducible; the caller's
    # global RNG is left untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(arch, num_classes=num_classes, width=width, resolution=resolution)


def tqdm_disable(progress: bool | None) -> bool | None:
    """tqdm's ``disable``: None switches the bar off when stderr is not a terminal."""
    return None if progress is None else not progress
