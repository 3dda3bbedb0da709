"""Choosing models from a benchmark by their results: teachers by rank (SPEC §5a) and students
among the trained models (SPEC §5c).

Teacher **selectors** (one grammar for the Python API, ``blox-space select``, ``blox-train
teacher`` and the workflow config):

* ``rank:K`` -- the K-th best model (``rank:1`` the best, ``rank:-1`` the worst, ``rank:-2``
  the second worst); K is a non-zero integer within the number of ranked models;
* ``median`` -- rank ``(n + 1) // 2`` of the ``n`` ranked models;
* ``quantile:Q`` -- Q in [0, 1], 1 = the best, 0 = the worst: rank
  ``1 + round((1 - Q) * (n - 1))``, halves rounded to the better rank (so ``quantile:0.5`` is the
  median);
* ``M1`` .. ``M5`` -- the paper's teachers, :data:`PAPER_TEACHERS`;
* anything else is an architecture in any form :func:`blox_space.parse_arch` reads (model
  index, block-id triple, arch vector, hash, readable name), selected as is.

Models are ranked by their best validation top-1 (the mean over the seeds whose run is done);
only models with at least one done run are ranked; ties go to the lower model index.

Example:
    >>> parse_selector("rank:-2")
    Selector(kind='rank', value=-2)
    >>> parse_selector("quantile:0.25"), parse_selector("M3")
    (Selector(kind='quantile', value=0.25), Selector(kind='median', value=None))
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..arch import parse_arch, to_index
from ..errors import BloxError, ModelSpecError, QueryError
from ..selection import parse_models

if TYPE_CHECKING:
    from .benchmark import Benchmark

__all__ = [
    "PAPER_TEACHERS",
    "SELECTOR_HELP",
    "Selector",
    "parse_selector",
    "ranked_models",
    "trained_models",
    "select_model",
    "select_models",
]

#: The paper's teachers M1..M5 (2 top performers, 1 average, 2 bad ones), in this order.
PAPER_TEACHERS = {"M1": "rank:1", "M2": "rank:2", "M3": "median", "M4": "rank:-2", "M5": "rank:-1"}
#: One-line help text for selector arguments.
SELECTOR_HELP = (
    "rank:K (1 = best, -1 = worst), median, quantile:Q (Q in 0..1, 1 = best), M1..M5 (the paper's "
    "teachers) or an architecture (index, hash, name, block ids)"
)
_RANK = re.compile(r"rank:([+-]?[0-9]{1,12})")
_QUANTILE = re.compile(
    r"quantile:([+-]?(?:[0-9]{1,12}(?:\.[0-9]{0,12})?|\.[0-9]{1,12})(?:[eE][+-]?[0-9]{1,3})?)"
)
_MAX_SHOWN = 60


def _shown(text: object) -> str:
    shown = repr(text)
    return shown if len(shown) <= _MAX_SHOWN else f"{shown[:_MAX_SHOWN]}...'"


@dataclass(frozen=True)
class Selector:
    """A parsed selector: ``kind`` is ``"rank"`` (``value`` = K), ``"median"`` (None),
    ``"quantile"`` (Q) or ``"model"`` (a model index)."""

    kind: str
    value: int | float | None = None


def parse_selector(selector: str | int | Sequence[int] | Selector) -> Selector:
    """Read a selector (see the module docstring); an int or a sequence is an architecture.

    Raises:
        QueryError: text that is none of the forms (the message lists them), a rank of 0 or a
            quantile outside 0..1.

    Example:
        >>> parse_selector("median"), parse_selector(24519)
        (Selector(kind='median', value=None), Selector(kind='model', value=24519))
    """
    if isinstance(selector, Selector):
        return selector
    if not isinstance(selector, str):
        try:
            return Selector("model", to_index(selector))  # type: ignore[arg-type]
        except BloxError as err:
            raise QueryError(f"selector {_shown(selector)} is not a model: {err}") from None
    text = selector.strip()
    if text in PAPER_TEACHERS:
        return parse_selector(PAPER_TEACHERS[text])
    if text == "median":
        return Selector("median")
    if text.startswith("rank:"):
        match = _RANK.fullmatch(text)
        if match is None or int(match.group(1)) == 0:
            raise QueryError(
                f"cannot read selector {_shown(selector)}: a rank is rank:K with K a non-zero integer "
                "(1 = best, 2 = second best, -1 = worst)"
            )
        return Selector("rank", int(match.group(1)))
    if text.startswith("quantile:"):
        match = _QUANTILE.fullmatch(text)
        value = float(match.group(1)) if match else math.nan
        if not 0.0 <= value <= 1.0:
            raise QueryError(
                f"cannot read selector {_shown(selector)}: a quantile is quantile:Q with Q in 0..1 "
                "(1 = the best model, 0 = the worst)"
            )
        return Selector("quantile", value)
    try:
        return Selector("model", to_index(parse_arch(text)))
    except BloxError as err:
        raise QueryError(f"cannot read selector {_shown(selector)}; use {SELECTOR_HELP} ({err})") from None


def _bench(bench: Benchmark | str | Path) -> Benchmark:
    if isinstance(bench, (str, Path)):
        from .benchmark import open_benchmark

        return open_benchmark(bench, latency=[])
    return bench


def trained_models(bench: Benchmark | str | Path) -> np.ndarray:
    """Model indices with at least one done run and a measured validation accuracy, ascending."""
    bench = _bench(bench)
    models = bench.models
    acc = np.asarray(bench.val_acc(models, seed="mean"), dtype=np.float64)
    return models[~np.isnan(acc)]


def ranked_models(bench: Benchmark | str | Path) -> np.ndarray:
    """The trained models, best first: by best validation top-1 (mean over done seeds),
    descending; ties by model index, ascending.

    Shapes:
        ``(n,)`` int64, ``n`` = the number of trained models.
    """
    bench = _bench(bench)
    models = bench.models
    acc = np.asarray(bench.val_acc(models, seed="mean"), dtype=np.float64)
    keep = ~np.isnan(acc)
    models, acc = models[keep], acc[keep]
    return models[np.lexsort((models, -acc))]


def _rank_of(selector: Selector, n: int, text: object) -> int:
    """1-based rank (1 = best) a rank / median / quantile selector picks among n models."""
    if selector.kind == "median":
        return (n + 1) // 2
    if selector.kind == "quantile":
        position = (1.0 - float(selector.value)) * (n - 1)  # type: ignore[arg-type]
        return 1 + math.ceil(round(position, 9) - 0.5)
    k = int(selector.value)  # type: ignore[arg-type]
    if not (1 <= k <= n or -n <= k <= -1):
        raise QueryError(
            f"selector {_shown(text)} is out of range: the benchmark ranks {n} trained models, "
            f"so K must be in 1..{n} or -{n}..-1"
        )
    return k if k > 0 else n + 1 + k


def select_model(bench: Benchmark | str | Path, selector: str | int | Sequence[int] | Selector) -> int:
    """The model index a selector picks in a benchmark (or finetune) store.

    Args:
        bench: an opened benchmark (:func:`blox_space.open_benchmark`) or its path.
        selector: ``rank:K``, ``median``, ``quantile:Q``, ``M1``..``M5`` or an architecture
            (see the module docstring).

    Returns:
        The model index.

    Raises:
        QueryError: an unreadable selector, a rank beyond the number of trained models, or a
            benchmark without any trained model.

    Example:
        >>> bench = open_benchmark("results/benchmark/paper.zarr")  # doctest: +SKIP
        >>> [select_model(bench, s) for s in PAPER_TEACHERS.values()]  # M1..M5  # doctest: +SKIP
    """
    parsed = parse_selector(selector)
    if parsed.kind == "model":
        return int(parsed.value)  # type: ignore[arg-type]
    ranked = ranked_models(bench)
    if ranked.size == 0:
        raise QueryError(
            f"the benchmark has no trained model (no done run) to select {_shown(selector)} from"
        )
    return int(ranked[_rank_of(parsed, len(ranked), selector) - 1])


def select_models(bench: Benchmark | str | Path, spec: str | Sequence[int] | np.ndarray) -> np.ndarray:
    """Models a spec selects among a benchmark's trained models (students, SPEC §5c).

    Args:
        bench: an opened benchmark or its path.
        spec: ``sample:N:SEED`` -- N of the trained models (all of them when fewer) drawn with
            ``numpy.random.default_rng(SEED)``; ``all`` or ``trained`` -- every trained model;
            any other :func:`blox_space.parse_models` spec (a range, a comma list, indices) --
            the trained models among those.

    Returns:
        Sorted, unique int64 model indices.

    Raises:
        ModelSpecError: a malformed spec, or one that leaves no trained model.

    Example:
        >>> select_models(open_benchmark("results/benchmark/paper.zarr"), "sample:1000:0")  # doctest: +SKIP
    """
    trained = trained_models(bench)
    text = spec.strip() if isinstance(spec, str) else None
    if text in ("all", "trained"):
        chosen = trained
    elif text is not None and text.startswith("sample:"):
        parse_models(text)  # the typed error of a malformed sample spec
        _, count, seed = text.split(":")
        size = min(int(count), len(trained))
        chosen = (
            np.random.default_rng(int(seed)).choice(trained, size=size, replace=False) if size else trained
        )
    else:
        chosen = np.intersect1d(parse_models(spec), trained)
    if len(chosen) == 0:
        raise ModelSpecError(
            f"model spec {_shown(spec)} selects none of the benchmark's {len(trained)} trained models"
        )
    return np.unique(np.asarray(chosen, dtype=np.int64))
