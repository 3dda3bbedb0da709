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

import re
from collections.abc import Sequence

import numpy as np

from .blocks import NUM_MODELS
from .errors import ModelSpecError

__all__ = ["ModelSpecError", "parse_models", "MODELS_HELP"]

#: One-line help text for ``--models`` options.
MODELS_HELP = "models: all, START:STOP (e.g. 0:64), a comma list of indices, or sample:N:SEED"
#: Longest integer text read in a spec (model indices have at most 5 digits; seeds fit int64).
_MAX_DIGITS = 19
_DIGITS = re.compile(r"[0-9]+")
_FORMS = "use all, START:STOP, a comma list of indices or sample:N:SEED"


def _int(text: str, spec: str, what: str) -> int:
    text = text.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not _DIGITS.fullmatch(digits) or len(digits) > _MAX_DIGITS:
        shown = text if len(text) <= 24 else f"{text[:24]}..."
        raise ModelSpecError(
            f"cannot read model spec {_shown(spec)}: {what} {shown!r} is not an integer; {_FORMS}"
        )
    return int(text)


def _shown(spec: object) -> str:
    text = repr(spec)
    return text if len(text) <= 60 else f"{text[:60]}...'"


def _check_range(low: int, high: int, spec: object) -> None:
    if low < 0 or high >= NUM_MODELS:
        raise ModelSpecError(
            f"model indices must be in 0..{NUM_MODELS - 1}; spec {_shown(spec)} gives {low}..{high}"
        )


def parse_models(spec: str | Sequence[int] | np.ndarray) -> np.ndarray:
    """Model indices selected by a spec (see the module docstring).

    Returns:
        Sorted, unique int64 indices.

    Raises:
        ModelSpecError: a malformed spec, an empty selection or an index outside 0..91,124;
            the message says what is wrong and which forms are allowed.

    Example:
        >>> parse_models("0:4").tolist()
        [0, 1, 2, 3]
        >>> len(parse_models("sample:10:0"))
        10
    """
    if isinstance(spec, np.ndarray) and spec.dtype.kind in "iu":
        if spec.size == 0:
            raise ModelSpecError("model spec selects no models (an empty array)")
        _check_range(int(spec.min()), int(spec.max()), "array")
        return np.unique(spec.astype(np.int64).ravel())
    if not isinstance(spec, str):
        try:
            values = list(spec)
            if any(isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) for v in values):
                raise TypeError
            models = np.asarray([int(v) for v in values], dtype=object)
        except TypeError:
            raise ModelSpecError(f"model list {_shown(spec)} must hold integer model indices") from None
        if models.size == 0:
            raise ModelSpecError(f"model spec {_shown(spec)} selects no models")
        _check_range(int(models.min()), int(models.max()), spec)
        return np.unique(models.astype(np.int64))
    text = spec.strip()
    if text == "all":
        return np.arange(NUM_MODELS)
    if text.startswith("sample:"):
        parts = text.split(":")
        if len(parts) != 3:
            raise ModelSpecError(
                f"cannot read model spec {_shown(spec)}: a sample is sample:N:SEED, e.g. sample:100:0"
            )
        count, seed = _int(parts[1], spec, "sample size"), _int(parts[2], spec, "sample seed")
        if not 1 <= count <= NUM_MODELS:
            raise ModelSpecError(f"sample size must be in 1..{NUM_MODELS}, got {count} in {_shown(spec)}")
        if seed < 0:
            raise ModelSpecError(f"sample seed must be >= 0, got {seed} in {_shown(spec)}")
        return np.unique(np.random.default_rng(seed).choice(NUM_MODELS, size=count, replace=False))
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 2:
            raise ModelSpecError(
                f"cannot read model spec {_shown(spec)}: a range is START:STOP (STOP excluded), e.g. 0:64"
            )
        start = _int(parts[0], spec, "range start") if parts[0].strip() else 0
        stop = _int(parts[1], spec, "range stop") if parts[1].strip() else NUM_MODELS
        if stop <= start:
            raise ModelSpecError(f"model spec {_shown(spec)} selects no models (STOP must be above START)")
        _check_range(start, stop - 1, spec)
        return np.arange(start, stop, dtype=np.int64)
    items = [v for v in text.replace(" ", "").split(",") if v]
    if not items:
        raise ModelSpecError(f"model spec {_shown(spec)} selects no models; {_FORMS}")
    values = [_int(v, spec, "model index") for v in items]
    _check_range(min(values), max(values), spec)
    return np.unique(np.asarray(values, dtype=np.int64))
