"""Searches in two phases (SPEC §7, §7a; paper Q5, Q6, Figures 12-13, Table 2): search with a
short fine-tuning (FT10) until a phase-one budget, rank what was found, then fine-tune the
ranked models for long (FT200) -- with the same teacher, another one (:class:`TwoPhaseSearch`),
or teachers picked iteratively from the models found (:class:`IterativeTeacherSearch`).

Phase one runs any registered single-fidelity algorithm (``inner``, regularized evolution by
default) against a :class:`_PhaseView` of the problem: the view offers one fidelity, the short
FT length, answers every evaluation with the phase-one teacher and ends the inner search with
:class:`_PhaseOver` once the phase-one budget is spent. The real :class:`~blox_search.Problem`
still records (and charges) every step, so the trajectory is one continuous search: one-time
costs, phase one, phase two, one cumulative cost. The phase-one budget counts the cumulative
cost, one-time costs included, as the paper's "the search is conducted until cost=30" does;
the evaluation that crosses it is recorded (it was paid), and phase two starts with the next.

**Ranking.** The distinct models evaluated in phase one, by their phase-one search metric
(validation accuracy after the short fine-tuning), best first; ties (and NaN, last) keep the
order in which the models were first evaluated.

Every evaluation goes through :meth:`Problem.evaluate`, so everything paid is charged exactly
once (a repeat of a (model, source, FT length) already paid is free) and a killed search
resumes to the identical trajectory (nothing here draws randomness except the inner search,
from the seed's generator).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from blox_space.errors import ConfigError

from ..algorithm import ALGORITHMS, Algorithm, check_float, check_int, get_algorithm, register_algorithm
from ..errors import BudgetExhausted, NotACandidateError
from ..evaluators.base import Evaluation, Mode
from ..problem import Problem

__all__ = ["TwoPhaseSearch", "IterativeTeacherSearch"]

logger = logging.getLogger(__name__)

#: The source name of normal training in a blockwise evaluator.
NORMAL = "normal"


class _PhaseOver(BudgetExhausted):  # noqa: N818 - a control-flow signal, like BudgetExhausted
    """Raised by the phase-one view once the phase-one budget is spent: it ends the inner
    search, not the whole search (a real :class:`BudgetExhausted` does)."""


class _PhaseView:
    """What the inner algorithm sees in phase one: the problem, at one fidelity and one source,
    with the phase-one budget.

    Everything an algorithm may read of a :class:`~blox_search.Problem` is delegated
    (candidates, space, budget and spending, incumbent, blockwise views); :meth:`evaluate`
    evaluates at ``fidelity`` with ``source`` through the real problem (which records and
    charges it) and remembers each model's first answer for the ranking.
    """

    def __init__(self, problem: Problem, *, fidelity: int, source: str | None, budget_s: float) -> None:
        self._problem = problem
        self._fidelity = int(fidelity)
        self._source = source
        self.budget_s = min(float(budget_s), problem.budget_s)
        self.fidelities: tuple[int, ...] = (self._fidelity,)
        self.max_fidelity = self._fidelity
        self.sources: tuple[str, ...] = (problem.sources[0] if source is None else source,)
        #: ``{model: phase-one search metric}`` in the order the models were first evaluated.
        self.found: dict[int, float] = {}

    # ---------------------------------------------------------------- delegated state
    @property
    def candidates(self) -> np.ndarray:
        return self._problem.candidates

    @property
    def space(self) -> Any:
        return self._problem.space

    @property
    def fte_seconds(self) -> float:
        return self._problem.fte_seconds

    @property
    def one_time_s(self) -> float:
        return self._problem.one_time_s

    @property
    def spent_s(self) -> float:
        return self._problem.spent_s

    @property
    def remaining_s(self) -> float:
        return max(self.budget_s - self._problem.spent_s, 0.0)

    @property
    def num_evaluations(self) -> int:
        return self._problem.num_evaluations

    @property
    def incumbent(self) -> tuple[int, float, float]:
        return self._problem.incumbent

    @property
    def stop_reason(self) -> str:
        return self._problem.stop_reason

    @property
    def wall_seconds(self) -> float:
        return self._problem.wall_seconds

    def is_exhausted(self) -> bool:
        return self._problem.is_exhausted() or self._problem.spent_s >= self.budget_s

    def blockwise(self, teacher: str | None = None) -> Any:
        """The blockwise view of ``teacher`` (None: the phase-one teacher)."""
        return self._problem.blockwise(self._source if teacher is None else teacher)

    # ---------------------------------------------------------------- the one call
    def evaluate(
        self, model: int, *, fidelity: int | None = None, mode: Mode = "continue", source: str | None = None
    ) -> Evaluation:
        """Evaluate ``model`` at the phase-one fidelity with the phase-one teacher.

        Raises:
            _PhaseOver: the phase-one budget is spent.
            BudgetExhausted: the whole budget is spent (or the search stalled / hit its cap).
            NotACandidateError: another fidelity or source was asked for.
        """
        if fidelity is not None and int(fidelity) != self._fidelity:
            raise NotACandidateError(
                f"phase one evaluates at fidelity {self._fidelity} only, got {fidelity!r}"
            )
        if source is not None and source != self.sources[0]:
            raise NotACandidateError(f"phase one evaluates with {self.sources[0]!r} only, got {source!r}")
        if self._problem.spent_s >= self.budget_s and not self._problem.is_exhausted():
            raise _PhaseOver("phase one")
        ev = self._problem.evaluate(model, fidelity=self._fidelity, mode=mode, source=self._source)
        self.found.setdefault(ev.model, ev.search_metric)
        return ev

    def ranking(self) -> list[int]:
        """The models found, best phase-one search metric first (first found on ties, NaN last)."""
        found = list(self.found.items())
        order = sorted(range(len(found)), key=lambda i: -_key(found[i][1]))  # stable
        return [found[i][0] for i in order]


class _Phased(Algorithm):
    """What the two-phase searches share: the inner algorithm, phase one and the checks."""

    multi_fidelity = True

    inner: str
    inner_params: Mapping[str, Any] | None
    phase_one_fte: float
    short_ft: int | None
    long_ft: int | None
    teacher: str | None
    target: float | None

    def check_params(self) -> None:
        """Check the hyperparameters (those that depend on the evaluator when the search starts).

        Raises:
            ConfigError: an unknown ``inner`` algorithm or parameter, an inner algorithm that is
                multi-fidelity or multi-objective, ``inner_params`` setting ``fidelity``,
                ``phase_one_fte`` not a number > 0, an FT length not None or an int >= 1,
                ``short_ft`` above ``long_ft``, ``target`` not None or a finite number.
        """
        if not isinstance(self.inner, str):
            raise ConfigError(f"inner must be the name of a registered algorithm, got {self.inner!r}")
        cls = ALGORITHMS.get(self.inner)
        if cls.multi_fidelity or cls.needs_latency:
            raise ConfigError(
                f"inner must be a single-fidelity, single-objective algorithm (phase one fixes the fidelity "
                f"and ranks by accuracy); {self.inner!r} is {'multi-fidelity' if cls.multi_fidelity else 'multi-objective'}"
            )
        params = self.inner_params
        if params is not None:
            if not isinstance(params, Mapping) or not all(isinstance(k, str) for k in params):
                raise ConfigError(
                    f"inner_params must be a mapping of {self.inner} parameters, got {params!r}"
                )
            if params.get("fidelity") is not None:
                raise ConfigError(
                    "inner_params may not set fidelity: phase one evaluates at short_ft (set short_ft instead)"
                )
        self.make_inner()  # unknown or bad inner parameters
        check_float("phase_one_fte", self.phase_one_fte, 0.0, math.inf, low_open=True)
        for name in ("short_ft", "long_ft"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name))
        if self.short_ft is not None and self.long_ft is not None and self.short_ft > self.long_ft:
            raise ConfigError(f"short_ft ({self.short_ft}) must be <= long_ft ({self.long_ft})")
        if self.teacher is not None and not isinstance(self.teacher, str):
            raise ConfigError(f"teacher must be None or a teacher name, got {self.teacher!r}")
        if self.target is not None:
            ok = isinstance(self.target, (int, float, np.integer, np.floating)) and not isinstance(
                self.target, bool
            )
            if not ok or not math.isfinite(float(self.target)):
                raise ConfigError(f"target must be None or a finite accuracy in %, got {self.target!r}")

    def check_available(self) -> None:
        """The inner algorithm's packages too (e.g. blox-predict for ``inner="brp"``)."""
        super().check_available()
        self.make_inner().check_available()

    def make_inner(self) -> Algorithm:
        """A new instance of the configured inner algorithm."""
        params = {
            k: v for k, v in dict(self.inner_params or {}).items() if not (k == "fidelity" and v is None)
        }
        return get_algorithm(self.inner, **params)

    # ---------------------------------------------------------------- shared steps
    def _lengths(self, problem: Problem) -> tuple[int, int]:
        """``(short_ft, long_ft)`` resolved against the problem's fidelities."""
        offered = problem.fidelities
        short = offered[0] if self.short_ft is None else int(self.short_ft)
        long = offered[-1] if self.long_ft is None else int(self.long_ft)
        for name, value in (("short_ft", short), ("long_ft", long)):
            if value not in offered:
                raise ConfigError(
                    f"{name} {value} is not offered by the evaluator; its FT lengths are {', '.join(map(str, offered))}"
                )
        if short > long:
            raise ConfigError(f"short_ft ({short}) must be <= long_ft ({long})")
        return short, long

    def _check_source(self, problem: Problem, name: str, source: str | None, *, normal: bool = False) -> None:
        if source is None:
            return
        allowed = [s for s in problem.sources if s and (normal or s != NORMAL)]
        if source not in allowed:
            raise ConfigError(
                f"{name} {source!r} is not a source of this evaluator; "
                + (
                    f"it offers {', '.join(map(repr, allowed))}"
                    if allowed
                    else "it has one source only (give None)"
                )
            )

    def _phase_one(self, problem: Problem, rng: np.random.Generator, short: int) -> list[int]:
        """Run the inner search at ``short`` with :attr:`teacher` until the phase-one budget;
        return the ranking of the models it found."""
        view = _PhaseView(
            problem,
            fidelity=short,
            source=self.teacher,
            budget_s=float(self.phase_one_fte) * problem.fte_seconds,
        )
        try:
            self.make_inner().search(view, rng)  # type: ignore[arg-type]
            logger.info("phase one: the inner search finished after %d models", len(view.found))
        except _PhaseOver:
            logger.info("phase one: budget reached after %d models", len(view.found))
        return view.ranking()

    def _reached(self, problem: Problem) -> bool:
        """Whether the incumbent's search metric reaches :attr:`target`."""
        return self.target is not None and problem.incumbent[1] >= float(self.target)

    def _retrain(self, problem: Problem, models: list[int], long: int, source: str | None) -> None:
        """Phase two: fine-tune ``models`` in order for ``long`` epochs with ``source`` until the
        budget (:class:`BudgetExhausted` propagates), the target or the list's end."""
        for model in models:
            if self._reached(problem):
                return
            problem.evaluate(model, fidelity=long, mode="restart", source=source)


@register_algorithm("two_phase")
class TwoPhaseSearch(_Phased):
    """Two-phase blockwise search, FT10 then FT200 (paper Q5, Figure 12, Table 2's
    "FT10 + FT200" rows; SPEC §7a).

    Phase one: ``inner`` searches with fine-tuning for ``short_ft`` epochs under ``teacher``
    until the cumulative cost (one-time costs included) reaches ``phase_one_fte`` (module
    docstring); if the inner search ends earlier (every candidate evaluated) phase two starts at
    once. Phase two: the models found, ranked by their phase-one validation accuracy (best
    first; first found on ties), are fine-tuned for ``long_ft`` epochs with ``retrain_teacher``
    in rank order, paid for, until the total budget is spent, the incumbent's search metric
    (validation accuracy -- never the test accuracy) reaches ``target``, or the ranking runs
    out (then the search returns).

    Table 2's rows: ``teacher="M1"`` (good teacher), ``teacher="M5"`` (bad teacher), and
    ``teacher="M5", retrain_teacher="M1"`` ("FT10 + FT200 M1"): the first evaluation with
    another teacher pays its setup (block library, and its training unless given).

    **Cost mode.** Phase one passes the inner algorithm's mode on; phase two uses ``restart``
    (a fine-tuning of another length is its own run; the blockwise evaluator charges every
    (model, teacher, FT length) once whatever the mode). On an evaluator with epochs as
    fidelities (a benchmark store) the same scheme is "train for a few epochs, then fully".

    Args:
        inner: the phase-one algorithm, any registered single-fidelity, single-objective one
            (default ``"re"``, regularized evolution as in the paper's blockwise searches).
        inner_params: its hyperparameters (None: its defaults); ``fidelity`` is set by phase one.
        phase_one_fte: the phase-one budget in FTE, one-time costs included (default 30: the
            paper's switch, Figure 12 and Table 2).
        short_ft: the phase-one FT length (None: the smallest offered, e.g. FT10).
        long_ft: the phase-two FT length (None: the largest offered, e.g. FT200).
        retrain_teacher: the phase-two teacher (None: the phase-one teacher); any source of the
            evaluator (``"normal"``: train the ranked models normally).
        target: stop phase two once the incumbent's validation accuracy (%) reaches it (None:
            spend the budget).
        teacher: the phase-one teacher (None: the evaluator's default).
    """

    def __init__(
        self,
        *,
        inner: str = "re",
        inner_params: Mapping[str, Any] | None = None,
        phase_one_fte: float = 30.0,
        short_ft: int | None = None,
        long_ft: int | None = None,
        retrain_teacher: str | None = None,
        target: float | None = None,
        teacher: str | None = None,
    ) -> None:
        self.inner = inner
        self.inner_params = inner_params
        self.phase_one_fte = phase_one_fte
        self.short_ft = short_ft
        self.long_ft = long_ft
        self.retrain_teacher = retrain_teacher
        self.target = target
        self.teacher = teacher

    def check_params(self) -> None:
        """See :meth:`_Phased.check_params`; also ``retrain_teacher`` not None or a name."""
        super().check_params()
        if self.retrain_teacher is not None and not isinstance(self.retrain_teacher, str):
            raise ConfigError(f"retrain_teacher must be None or a teacher name, got {self.retrain_teacher!r}")

    def search(self, problem: Problem, rng: np.random.Generator) -> None:
        short, long = self._lengths(problem)
        self._check_source(problem, "teacher", self.teacher)
        self._check_source(problem, "retrain_teacher", self.retrain_teacher, normal=True)
        retrain = self.teacher if self.retrain_teacher is None else self.retrain_teacher
        if short == long and (retrain or problem.sources[0]) == (self.teacher or problem.sources[0]):
            raise ConfigError(
                f"short_ft and long_ft are both {short} with one teacher: phase two would repeat phase one"
            )
        ranking = self._phase_one(problem, rng, short)
        self._retrain(problem, ranking, long, retrain)


@register_algorithm("iterative_teacher")
class IterativeTeacherSearch(_Phased):
    """Two-phase search that finds its own teacher (paper Q6, Figure 13, Table 2's
    "FT10 + FT200 iter." row).

    The paper's steps: "1) Start NAS and fine-tune models using any teacher. 2) Stop the search
    and obtain a list of candidate models. 3) Train the candidate models from scratch and pick
    the best model as the teacher. 4) Fine-tune the candidate models using the teacher selected,
    and pick the best model as the next teacher. 5) Repeat step 4 until we see no further
    improvement." Here:

    1. phase one as in :class:`TwoPhaseSearch`, with ``teacher`` (e.g. the bad teacher M5);
    2. the candidates: the ``top_k`` best of its ranking;
    3. each is trained normally (source ``"normal"``, paid: a normal training each); the
       best by normal validation accuracy becomes the teacher;
    4. the candidates are fine-tuned for ``long_ft`` epochs with that teacher (paid); the best
       by fine-tuned validation accuracy becomes the next teacher;
    5. step 4 repeats until no improvement, ``max_iterations`` executions of step 4, the
       target or the budget.

    **Improvement** is measured on what the search delivers: the best fine-tuned validation
    accuracy of the candidates in one execution of step 4. Step 4 is repeated while it grows
    strictly over the previous execution's and the next teacher is one not used yet (a teacher
    used before would answer the same fine-tunings again, for free: nothing new to learn). A
    teacher's own normal accuracy is not the criterion: the paper picks the next teacher by its
    fine-tuned accuracy, so "improvement" is read on that scale too.

    **Which models can teach.** With tabular stores a teacher needs fine-tuning results of its
    students, known only for the teachers that have finetune stores: the workflow precomputes
    finetune stores for every teacher the strategy may pick (the configured teachers); a
    candidate without one is still trained and can be the incumbent, but cannot teach. So each
    pick takes the best *available* candidate (one that is a teacher of the evaluator,
    ``evaluator.teacher_of``). When none of the candidates can teach at step 3, step 4 runs
    once with the phase-one teacher (the two-phase scheme on the candidates); when none can at
    step 4, the iterations stop. A live evaluator that distils and fine-tunes from any model has
    no such restriction.

    **After the iterations** (``retrain_rest``): the rest of the ranking (beyond the
    candidates) is fine-tuned for ``long_ft`` epochs, in rank order, with the teacher whose
    step 4 gave the best accuracy, until the budget or the target -- as phase two of
    :class:`TwoPhaseSearch` does -- so the budget a Table 2 comparison gives every method is
    spent.

    The target (validation accuracy, %) is checked before every evaluation after phase one.
    The incumbent is the best validation accuracy of every evaluation, normal trainings
    included (a normally trained candidate is a model found, as good as a fine-tuned one).

    Args:
        inner, inner_params, phase_one_fte, short_ft, long_ft, target, teacher: as in
            :class:`TwoPhaseSearch` (``teacher``: the start teacher).
        top_k: candidates carried from phase one into the iterations (default 5: five normal
            trainings cost about 5 FTE, leaving room for fine-tuning within Table 2's 40 FTE).
        max_iterations: executions of step 4 at most (default 5).
        retrain_rest: fine-tune the rest of the ranking with the best teacher found once the
            iterations stop (default True).

    Raises (from :meth:`search`):
        ConfigError: the evaluator has no ``"normal"`` source or no ``teacher_of`` (it is not a
            blockwise evaluator), or a bad teacher name or FT length.
    """

    #: It runs only against a blockwise evaluator (normal training and teachers as sources).
    needs_blockwise = True

    def __init__(
        self,
        *,
        inner: str = "re",
        inner_params: Mapping[str, Any] | None = None,
        phase_one_fte: float = 30.0,
        short_ft: int | None = None,
        long_ft: int | None = None,
        top_k: int = 5,
        max_iterations: int = 5,
        teacher: str | None = None,
        target: float | None = None,
        retrain_rest: bool = True,
    ) -> None:
        self.inner = inner
        self.inner_params = inner_params
        self.phase_one_fte = phase_one_fte
        self.short_ft = short_ft
        self.long_ft = long_ft
        self.top_k = top_k
        self.max_iterations = max_iterations
        self.teacher = teacher
        self.target = target
        self.retrain_rest = retrain_rest

    def check_params(self) -> None:
        """See :meth:`_Phased.check_params`; also ``top_k`` and ``max_iterations`` ints >= 1 and
        ``retrain_rest`` a bool."""
        super().check_params()
        check_int("top_k", self.top_k)
        check_int("max_iterations", self.max_iterations)
        if not isinstance(self.retrain_rest, bool):
            raise ConfigError(f"retrain_rest must be true or false, got {self.retrain_rest!r}")

    def search(self, problem: Problem, rng: np.random.Generator) -> None:
        short, long = self._lengths(problem)
        self._check_source(problem, "teacher", self.teacher)
        teacher_of = getattr(problem.evaluator, "teacher_of", None)
        if NORMAL not in problem.sources or teacher_of is None:
            offers = ", ".join(repr(s) for s in problem.sources if s) or "one source (it is not blockwise)"
            raise ConfigError(
                "iterative_teacher trains candidates normally and picks teachers among them: it needs a "
                f"blockwise evaluator (sources with {NORMAL!r} and teachers); this one offers {offers}"
            )
        ranking = self._phase_one(problem, rng, short)
        candidates = ranking[: int(self.top_k)]

        # step 3: normal training of the candidates; the best available one teaches
        normal = {}
        for model in candidates:
            if self._reached(problem):
                return
            normal[model] = problem.evaluate(model, mode="restart", source=NORMAL).search_metric
        start = self.teacher or problem.sources[0]
        teacher = _best_teacher(normal, teacher_of)
        if teacher is None:
            logger.info("iterative: no candidate can teach (no finetune stores); fine-tuning with %s", start)
            teacher = start

        # steps 4-5: fine-tune the candidates with the teacher, the best available one teaches next
        used: list[str] = []
        best_of: dict[str, float] = {}
        while teacher is not None and len(used) < int(self.max_iterations):
            used.append(teacher)
            tuned = {}
            for model in candidates:
                if self._reached(problem):
                    return
                tuned[model] = problem.evaluate(
                    model, fidelity=long, mode="restart", source=teacher
                ).search_metric
            best_of[teacher] = max((_key(v) for v in tuned.values()), default=-math.inf)
            logger.info("iterative: teacher %s, best fine-tuned %.3f", teacher, best_of[teacher])
            if len(used) > 1 and best_of[teacher] <= best_of[used[-2]]:
                break  # no further improvement
            teacher = _best_teacher(tuned, teacher_of)
            if teacher in used:
                break  # it answered already: nothing new
        if self.retrain_rest and used:
            final = max(used, key=lambda name: best_of.get(name, -math.inf))  # first used on ties
            self._retrain(problem, ranking[len(candidates) :], long, final)


def _best_teacher(metrics: Mapping[int, float], teacher_of: Any) -> str | None:
    """The teacher name of the best model in ``metrics`` that can teach (the first on ties;
    None when none can)."""
    order = sorted(metrics, key=lambda m: -_key(metrics[m]))  # stable: insertion order on ties
    for model in order:
        name = teacher_of(model)
        if name is not None:
            return str(name)
    return None


def _key(value: float) -> float:
    """A search metric as a sort key (NaN: below every number)."""
    return -math.inf if math.isnan(value) else float(value)
