"""Model lists and model building shared by the measuring modules.

The model list spec is shared with blox-train's command line: ``all``, ``START:STOP``,
``i,j,k`` or ``sample:N:SEED`` (N distinct models drawn with ``numpy.random.default_rng(SEED)``)."""

from __future__ import annotations

import numpy as np
import torch
from blox_space import NUM_MODELS
from blox_space._typing import ArchLike
from blox_train import build_model
from torch import nn

from .errors import ModelSpecError

_ALLOWED = "use all, START:STOP (e.g. 0:64), a comma list of model indices, or sample:N:SEED"


def parse_models(spec: str) -> np.ndarray:
    """Sorted, unique model indices named by a model spec.

    Example:
        >>> parse_models("0:3").tolist()
        [0, 1, 2]

    Raises:
        ModelSpecError: a malformed spec or an index outside 0..91,124.
    """
    text = str(spec).strip()
    try:
        if text == "all":
            return np.arange(NUM_MODELS, dtype=np.int64)
        if text.startswith("sample:"):
            parts = text.split(":")
            if len(parts) != 3:
                raise ValueError
            num, seed = int(parts[1]), int(parts[2])
            if not 1 <= num <= NUM_MODELS or seed < 0:
                raise ModelSpecError(f"model spec {text!r}: need 1 <= N <= {NUM_MODELS} and SEED >= 0")
            rng = np.random.default_rng(seed)
            return np.sort(rng.choice(NUM_MODELS, size=num, replace=False)).astype(np.int64)
        if ":" in text:
            start_text, stop_text = text.split(":")
            start, stop = int(start_text), int(stop_text)
            if not 0 <= start < stop <= NUM_MODELS:
                raise ModelSpecError(f"model spec {text!r}: need 0 <= START < STOP <= {NUM_MODELS}")
            return np.arange(start, stop, dtype=np.int64)
        values = np.array([int(v) for v in text.split(",")], dtype=np.int64)
    except ValueError as err:
        if isinstance(err, ModelSpecError):
            raise
        raise ModelSpecError(f"cannot parse model spec {text!r}; {_ALLOWED}") from None
    if values.size == 0 or values.min() < 0 or values.max() >= NUM_MODELS:
        raise ModelSpecError(f"model spec {text!r}: indices must lie in 0..{NUM_MODELS - 1}")
    return np.unique(values)


def build_seeded(arch: ArchLike, *, width: int, resolution: int, num_classes: int, seed: int) -> nn.Module:
    # Weights do not change latency, but fixed ones keep runs reproducible; the caller's
    # global RNG is left untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(arch, num_classes=num_classes, width=width, resolution=resolution)


def tqdm_disable(progress: bool | None) -> bool | None:
    """tqdm's ``disable``: None switches the bar off when stderr is not a terminal."""
    return None if progress is None else not progress
