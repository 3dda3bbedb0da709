"""Model selections: which of the 91,125 models a command, a shard or a workflow works on.

One spec syntax everywhere (``blox-train benchmark --models``, ``blox-hw profile --models``,
``blox-space merge --expect``, the workflow config):

* ``"all"`` -- every model;
* ``"START:STOP"`` -- the index range, STOP excluded (either side may be empty);
* ``"3,17,99"`` or ``"42"`` -- a comma list of indices;
* ``"sample:N:SEED"`` -- N distinct models drawn with ``numpy.random.default_rng(SEED)``;
* a sequence of ints -- those indices.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .blocks import NUM_MODELS
from .errors import BloxError

__all__ = ["ModelSpecError", "parse_models", "MODELS_HELP"]

#: One-line help text for ``--models`` options.
MODELS_HELP = "models: all, START:STOP (e.g. 0:64), a comma list of indices, or sample:N:SEED"


class ModelSpecError(BloxError, ValueError):
    """A model selection spec that is malformed or selects nothing valid."""


def parse_models(spec: str | Sequence[int] | np.ndarray) -> np.ndarray:
    """Model indices selected by a spec (see the module docstring).

    Returns:
        Sorted, unique int64 indices.

    Raises:
        ModelSpecError: a malformed spec, an empty selection or an index outside 0..91,124.

    Example:
        >>> parse_models("0:4").tolist()
        [0, 1, 2, 3]
        >>> len(parse_models("sample:10:0"))
        10
    """
    if not isinstance(spec, str):
        try:
            models = np.asarray(list(spec), dtype=np.int64)
        except (TypeError, ValueError):
            raise ModelSpecError(f"model list {spec!r} must hold integer model indices") from None
    else:
        text = spec.strip()
        try:
            if text == "all":
                models = np.arange(NUM_MODELS)
            elif text.startswith("sample:"):
                _, count, seed = text.split(":")
                count_i, seed_i = int(count), int(seed)
                if not 1 <= count_i <= NUM_MODELS:
                    raise ModelSpecError(f"sample size must be in 1..{NUM_MODELS}, got {count_i}")
                models = np.random.default_rng(seed_i).choice(NUM_MODELS, size=count_i, replace=False)
            elif ":" in text:
                start, stop = text.split(":")
                models = np.arange(int(start or 0), int(stop or NUM_MODELS))
            else:
                models = np.asarray([int(v) for v in text.replace(" ", "").split(",") if v], dtype=np.int64)
        except ValueError:
            raise ModelSpecError(
                f"cannot read model spec {spec!r}; use all, START:STOP, a comma list or sample:N:SEED"
            ) from None
    if models.size == 0:
        raise ModelSpecError(f"model spec {spec!r} selects no models")
    if models.min() < 0 or models.max() >= NUM_MODELS:
        raise ModelSpecError(
            f"model indices must be in 0..{NUM_MODELS - 1}; spec {spec!r} gives {models.min()}..{models.max()}"
        )
    return np.unique(models)
