"""What an algorithm sees of a search: :class:`Problem` wraps one evaluator (one search seed's
ledger), enforces the budget and records every evaluation as a step of the trajectory.

Algorithms only call :meth:`Problem.evaluate` (and read ``candidates``, ``fidelities`` and the
:class:`~blox_search.space.CandidateSpace` helpers): they never see the table (SPEC §7, "no
peeking"). :meth:`Problem.evaluate` raises :class:`~blox_search.errors.BudgetExhausted` once
the cumulative cost (one-time costs included) has reached the budget; the evaluation that
crosses the budget is still recorded (it was paid).

A one-shot algorithm (DARTS-PT) pays for its search outside evaluations -- a supernet's training
and projection -- with :meth:`Problem.charge_one_shot`: those seconds count in the cumulative
cost of every later step but not against the budget (the paper's †: a cost budget does not apply
to it), so its final evaluation is always made.

A search also stops when it keeps asking for things it already paid for (``max_repeats`` free
repeats in a row: it is ``stalled``) or at ``max_evaluations``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from blox_space.errors import ConfigError
from blox_space.store.search import STEP_ARRAYS

from .errors import BudgetExhausted, NotACandidateError, ResumeError
from .evaluators.base import Evaluation, Evaluator, Mode
from .space import CandidateSpace

__all__ = ["Problem", "Steps", "STEP_FIELDS"]

#: The recorded fields of one step, in the search store's order (the schema's step arrays);
#: :meth:`Problem.evaluate` builds its rows in this order.
STEP_FIELDS = tuple(spec.name for spec in STEP_ARRAYS)


class Steps:
    """The growing columns of one seed's trajectory (plain lists: appending is the hot path)."""

    def __init__(self) -> None:
        for name in STEP_FIELDS:
            setattr(self, name, [])

    def __len__(self) -> int:
        return len(self.model)  # type: ignore[attr-defined]

    def row(self, i: int) -> tuple[Any, ...]:
        return tuple(getattr(self, name)[i] for name in STEP_FIELDS)

    def columns(self, start: int = 0) -> dict[str, np.ndarray]:
        """Columns from ``start`` on, as arrays."""
        return {name: np.asarray(getattr(self, name)[start:]) for name in STEP_FIELDS}


class Problem:
    """One search seed: the evaluator, the budget, the recorded steps.

    Args:
        evaluator: a fresh evaluator (nothing paid) for this seed.
        budget_s: the budget in seconds (one-time costs count against it).
        fte_seconds: seconds of one FTE (for ``cum_fte``).
        one_time_s: seconds charged before the first evaluation.
        max_evaluations: stop after this many evaluations (None: no cap).
        max_repeats: stop after this many free repeats in a row.
        replay: steps recorded by an earlier, killed run of the same search: the first
            evaluations must reproduce them exactly (else :class:`ResumeError`), and are not
            recorded again.
        on_step: called after every recorded step with the problem (the runner flushes).
    """

    def __init__(
        self,
        evaluator: Evaluator,
        *,
        budget_s: float,
        fte_seconds: float,
        one_time_s: float = 0.0,
        max_evaluations: int | None = None,
        max_repeats: int = 10_000,
        replay: Steps | None = None,
        on_step: Callable[[Problem], None] | None = None,
    ) -> None:
        self.evaluator = evaluator
        self.space = CandidateSpace(evaluator.candidates)
        self.candidates = self.space.candidates
        self.fidelities: tuple[int, ...] = tuple(evaluator.fidelities)
        self.max_fidelity = self.fidelities[-1]
        #: What can answer an evaluation (``evaluate(source=...)``): a blockwise evaluator's
        #: teachers and ``"normal"``; ``("",)`` for a one-source evaluator.
        self.sources: tuple[str, ...] = tuple(getattr(evaluator, "sources", ("",)))
        self._source_index = {name: i for i, name in enumerate(self.sources)}
        self.budget_s = float(budget_s)
        self.fte_seconds = float(fte_seconds)
        self.one_time_s = float(one_time_s)
        self.max_evaluations = max_evaluations
        self.max_repeats = int(max_repeats)
        self.steps = Steps()
        self.stop_reason = "running"
        self._spent = self.one_time_s
        self._one_shot = 0.0
        #: What the algorithm reports beside its evaluations (JSON-ready; recorded per seed in
        #: the search store's ``seed_info`` attribute), e.g. DARTS-PT's projection.
        self.info: dict[str, Any] = {}
        self._repeats = 0
        self._best = -math.inf
        self._incumbent: tuple[int, float, float] = (-1, math.nan, math.nan)
        self._replay = replay
        self._on_step = on_step
        self._started = time.perf_counter()

    # ---------------------------------------------------------------- state
    @property
    def spent_s(self) -> float:
        """Seconds spent so far, one-time costs included."""
        return self._spent

    @property
    def one_shot_s(self) -> float:
        """Seconds charged by :meth:`charge_one_shot` (outside the budget)."""
        return self._one_shot

    @property
    def remaining_s(self) -> float:
        return max(self.budget_s - self._budgeted, 0.0)

    @property
    def _budgeted(self) -> float:
        return self._spent - self._one_shot

    def charge_one_shot(self, seconds: float, what: str) -> None:
        """Charge a one-shot search's own work (not an evaluation): ``seconds`` are added to the
        cumulative cost of the steps that follow but not counted against the budget.

        Raises:
            ConfigError: ``seconds`` is not a finite number >= 0.
        """
        seconds = float(seconds)
        if not math.isfinite(seconds) or seconds < 0:
            raise ConfigError(f"{what}: a one-shot cost must be finite seconds >= 0, got {seconds!r}")
        self._one_shot += seconds
        self._spent += seconds
        charged = self.info.setdefault("one_shot_s", {})
        charged[what] = charged.get(what, 0.0) + seconds

    @property
    def num_evaluations(self) -> int:
        return len(self.steps)

    @property
    def incumbent(self) -> tuple[int, float, float]:
        """``(model, search_metric, reported_metric)`` of the best evaluation so far."""
        return self._incumbent

    def is_exhausted(self) -> bool:
        """Whether the next :meth:`evaluate` would raise :class:`BudgetExhausted`."""
        return self.stop_reason != "running" or self._budgeted >= self.budget_s

    # ---------------------------------------------------------------- the one call
    def evaluate(
        self, model: int, *, fidelity: int | None = None, mode: Mode = "continue", source: str | None = None
    ) -> Evaluation:
        """Evaluate ``model`` at ``fidelity`` (None: full training), charge and record it.

        ``source`` picks what answers, one of :attr:`sources` (None: the evaluator's default);
        only a multi-source evaluator (blockwise) takes it.

        Raises:
            BudgetExhausted: the budget is spent (or the search stalled / hit its cap).
            NotACandidateError: ``model`` or ``fidelity`` is not offered (an algorithm bug).
            ResumeError: resuming, and the evaluation differs from the recorded one.
        """
        if self.stop_reason != "running":
            raise BudgetExhausted(self.stop_reason)
        if self._budgeted >= self.budget_s:
            self.stop_reason = "budget"
            raise BudgetExhausted("budget")
        if self.max_evaluations is not None and len(self.steps) >= self.max_evaluations:
            self.stop_reason = "max_evaluations"
            raise BudgetExhausted("max_evaluations")
        if source is None:
            ev = self.evaluator.evaluate(model, fidelity=fidelity, mode=mode)
        elif source not in self._source_index:
            raise NotACandidateError(
                f"source {source!r} is not offered; sources are {', '.join(map(repr, self.sources))}"
            )
        else:
            ev = self.evaluator.evaluate(model, fidelity=fidelity, mode=mode, source=source)  # type: ignore[call-arg]
        self._spent += ev.cost_s
        search = ev.search_metric
        if search > self._best:  # NaN never becomes the incumbent
            self._best = search
            self._incumbent = (ev.model, search, ev.reported_metric)
        self._repeats = self._repeats + 1 if ev.is_repeat else 0
        steps = self.steps
        i = len(steps.model)
        inc = self._incumbent
        row = (
            ev.model,
            ev.fidelity,
            search,
            ev.reported_metric,
            ev.cost_s,
            self._spent,
            self._spent / self.fte_seconds,
            ev.is_repeat,
            inc[0],
            inc[1],
            inc[2],
            ev.latency_s,
            self._source_index.get(ev.source, 0),
        )
        replay = self._replay
        if replay is not None and i < len(replay):
            if not _same_row(replay.row(i), row):
                raise ResumeError(
                    f"resuming diverged at step {i}: recorded {replay.row(i)[:4]}, got {row[:4]}; the evaluator's "
                    "data or the algorithm changed since the store was written (rerun with --overwrite)"
                )
        for name, value in zip(STEP_FIELDS, row):
            getattr(steps, name).append(value)
        if self._repeats >= self.max_repeats:
            self.stop_reason = "stalled"
        if self._on_step is not None:
            self._on_step(self)
        return ev

    def blockwise(self, teacher: str | None = None) -> Any:
        """What a blockwise algorithm may know besides evaluations: the
        :class:`~blox_search.evaluators.blockwise.BlockwiseView` of ``teacher`` (None: the
        evaluator's default) -- signatures of its paid-for block library, the latency lookup
        table of the latency device, analytic params and MACs per block.

        Raises:
            ConfigError: the evaluator is not a blockwise one, or ``teacher`` is not one of its
                teachers.
        """
        view = getattr(self.evaluator, "blockwise_view", None)
        if view is None:
            raise ConfigError(
                "this algorithm needs a blockwise evaluator (finetune stores of a teacher and its blockwise "
                "store: blox-search run ... --evaluator blockwise --finetune FT.zarr --blockwise NAME=BW.zarr)"
            )
        return view(teacher)

    @property
    def wall_seconds(self) -> float:
        return time.perf_counter() - self._started


def _same_row(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    for x, y in zip(a, b):
        if isinstance(x, float) or isinstance(y, float):
            fx, fy = float(x), float(y)
            if not (fx == fy or (math.isnan(fx) and math.isnan(fy))):
                return False
        elif x != y:
            return False
    return True
