"""The evaluator protocol every search algorithm talks to (SPEC §7), the :class:`Evaluation` it
returns, and :class:`PaidEvaluator`, the base that keeps the ledger of what a search has paid.

Cost rules (SPEC §7a), the same for every evaluator:

* the first evaluation of ``(model, fidelity)`` costs the seconds of training ``model`` up to
  epoch ``fidelity``;
* ``mode="continue"`` (the default): a model trained up to epoch ``e1`` continues, so asking
  for ``e2 > e1`` costs only epochs ``e1+1..e2``, and asking for ``e <= e1`` is free (epoch
  ``e`` was seen on the way) and marked as a repeat;
* ``mode="restart"``: the model is trained afresh, so ``(model, e)`` costs all ``e`` epochs
  unless exactly that ``(model, e)`` was paid already (then it is a free repeat);
* repeating anything already paid is free and ``is_repeat`` is True.

Each algorithm says in its docstring which mode it uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from blox_space.blocks import NUM_MODELS

from ..errors import NotACandidateError

__all__ = ["Evaluation", "Evaluator", "PaidEvaluator", "Mode", "MODES"]

Mode = Literal["continue", "restart"]
#: The cost modes of :meth:`Evaluator.evaluate`.
MODES: tuple[str, ...] = ("continue", "restart")


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The answer to one evaluation.

    Attributes:
        model: the model index.
        fidelity: the epoch it was evaluated at (epochs count from 1).
        search_metric: what the search may optimise: validation top-1 accuracy in % (the best
            epoch up to ``fidelity``, i.e. what early stopping at ``fidelity`` keeps).
        reported_metric: what a paper reports for the model: test top-1 accuracy in % of its
            run (see the evaluator for what stands in where a store has no test accuracy).
        cost_s: device seconds this evaluation cost (0 for a repeat).
        is_repeat: nothing new was paid: ``(model, fidelity)`` or more was paid before.
        latency_s: the model's latency in seconds on the evaluator's latency device, NaN when
            the evaluator has none (a free, known-in-advance objective for multi-objective
            search).
        source: what answered, one of the evaluator's ``sources`` (a blockwise evaluator: the
            teacher name, or ``"normal"`` for normal training); ``""`` for a one-source evaluator.
    """

    model: int
    fidelity: int
    search_metric: float
    reported_metric: float
    cost_s: float
    is_repeat: bool
    latency_s: float = float("nan")
    source: str = ""


@runtime_checkable
class Evaluator(Protocol):
    """What every algorithm sees of a benchmark (tabular) or of real training (live).

    An evaluator is one search's ledger: :meth:`fresh` gives a new one (nothing paid) for
    another search seed, sharing the loaded data.
    """

    @property
    def candidates(self) -> np.ndarray:
        """The models it can evaluate: sorted unique int64 model indices (read-only)."""
        ...

    @property
    def fidelities(self) -> tuple[int, ...]:
        """The epochs it can evaluate at, ascending; the last is the full training."""
        ...

    def evaluate(self, model: int, *, fidelity: int | None = None, mode: Mode = "continue") -> Evaluation:
        """Evaluate ``model`` at epoch ``fidelity`` (None = the last) and charge it."""
        ...

    def fresh(self, seed: int) -> Evaluator:
        """A new evaluator with nothing paid, for search seed ``seed``."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON description (kind, store, recipe id, seed policy, ...) recorded in search stores."""
        ...


class PaidEvaluator:
    """Base of the evaluators: candidate lookup, argument checks and the ledger of paid work.

    Subclasses set ``self._candidates`` (sorted int64) and ``self._fidelities`` in ``__init__``
    and implement :meth:`_observe` (the metrics of one run at one epoch) and :meth:`_seconds`
    (seconds to train a model from scratch to an epoch); everything in the module docstring
    is done here.
    """

    _candidates: np.ndarray
    _fidelities: tuple[int, ...]

    def _init_ledger(self) -> None:
        lookup = np.full(NUM_MODELS, False)
        lookup[self._candidates] = True
        self._is_candidate = lookup
        self._candidates.setflags(write=False)
        self._fidelity_set = frozenset(self._fidelities)
        self._max_fidelity = self._fidelities[-1]
        self._trained_to: dict[int, int] = {}  # continue mode: model -> highest epoch paid
        self._paid: set[tuple[int, int]] = set()  # (model, epoch) pairs paid exactly

    @property
    def candidates(self) -> np.ndarray:
        return self._candidates

    @property
    def fidelities(self) -> tuple[int, ...]:
        return self._fidelities

    def is_candidate(self, model: int) -> bool:
        """Whether ``model`` can be evaluated."""
        return 0 <= model < NUM_MODELS and bool(self._is_candidate[model])

    def evaluate(self, model: int, *, fidelity: int | None = None, mode: Mode = "continue") -> Evaluation:
        """See :class:`Evaluator`; the cost rules are in the module docstring.

        Raises:
            NotACandidateError: ``model`` is not in :attr:`candidates`, or ``fidelity`` is not
                one of :attr:`fidelities`, or ``mode`` is unknown.
        """
        model = int(model)
        if not (0 <= model < NUM_MODELS and self._is_candidate[model]):
            raise NotACandidateError(f"model {model} is not a candidate of this evaluator")
        epoch = self._max_fidelity if fidelity is None else int(fidelity)
        if epoch not in self._fidelity_set:
            raise NotACandidateError(
                f"fidelity {fidelity!r} is not offered; fidelities are {_span(self._fidelities)}"
            )
        key = (model, epoch)
        if mode == "continue":
            reached = self._trained_to.get(model, 0)
            if key in self._paid or epoch <= reached:
                cost, repeat = 0.0, True
            else:
                cost, repeat = (
                    self._seconds(model, epoch) - (self._seconds(model, reached) if reached else 0.0),
                    False,
                )
                self._trained_to[model] = epoch
        elif mode == "restart":
            if key in self._paid:
                cost, repeat = 0.0, True
            else:
                cost, repeat = self._seconds(model, epoch), False
                if epoch > self._trained_to.get(model, 0):
                    self._trained_to[model] = epoch
        else:
            raise NotACandidateError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self._paid.add(key)
        search, reported, latency = self._observe(model, epoch)
        return Evaluation(model, epoch, search, reported, max(float(cost), 0.0), repeat, latency)

    # ---------------------------------------------------------------- subclass hooks
    def _observe(self, model: int, epoch: int) -> tuple[float, float, float]:
        """``(search_metric, reported_metric, latency_s)`` of ``model`` at ``epoch``."""
        raise NotImplementedError

    def _seconds(self, model: int, epoch: int) -> float:
        """Seconds to train ``model`` from scratch up to ``epoch``."""
        raise NotImplementedError


def _span(values: tuple[int, ...]) -> str:
    if len(values) > 4 and values == tuple(range(values[0], values[-1] + 1)):
        return f"{values[0]}..{values[-1]}"
    return ", ".join(str(v) for v in values)


def describe_mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-ready copy of a description (numpy scalars to Python)."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, np.generic):
            item = item.item()
        out[str(key)] = item
    return out
