"""LANA (Molchanov et al., ECCV 2022; related-work §C) on the Blox space: one block per stage
chosen by an integer linear program that maximises the summed block scores (LANA signatures:
the change of the teacher's validation top-1 when its stage is replaced by the distilled
block) subject to the summed block latency (and optionally parameters / MACs) staying within a
budget; solved with PuLP's bundled CBC.

**The program** (compact form, 135 binaries): ``x[s, b] = 1`` when stage ``s`` takes block
``b``; ``sum_b x[s, b] = 1`` per stage; ``fixed + sum x[s, b] * latency[s, b] <= budget``
(likewise params, MACs); maximise ``sum x[s, b] * score[s, b]``. A block with a NaN score (not
distilled) is never chosen. With ``allowed`` (the models a tabular evaluator can fine-tune) the
choice is restricted exactly: one binary per allowed model, ``sum y = 1``, the same objective
and budgets over each model's three blocks.

**k diverse solutions**: after each solution, a no-good constraint excludes it (``x`` of its
three blocks sum to at most 2; ``y = 0`` in the allowed form) and the program is solved again,
until ``k`` are found or none is feasible.

**Exactness** (what the tests check against :func:`brute_force_select` over all 91,125
models): CBC works with tolerances (a budget met within 1e-7, an optimum within its gap), so
every solution is checked in floating point the way the brute force computes it (``fixed + l0
+ l1 + l2 <= budget``; a violator is excluded and the program re-solved), and ties are settled
explicitly: a second solve minimises the model index subject to the score reaching the best
exact score minus ``TIE_TOL`` (relative to the larger of that score, the largest block score
and 1), so the **lowest model index** among the ties wins. CBC solves with a zero optimality
gap, but its tolerances are absolute (about 1e-7): the objective is scaled so the largest
block score is 1e4, which puts the tie width far above them (unscaled, scores 1e-7 apart were
taken for ties and the order of near-ties differed from the brute force). The brute force applies the same rule, one
pick at a time, so the i-th solution of both is the same model.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pulp
from blox_space.arch import blocks_to_indices, indices_to_blocks
from blox_space.blocks import NUM_BLOCKS, NUM_MODELS, NUM_STAGES
from blox_space.errors import ConfigError

from ..algorithm import Algorithm, check_float, check_int, register_algorithm
from ..problem import Problem

__all__ = ["lana_select", "brute_force_select", "LanaSearch", "TIE_TOL", "smallest_budget"]

#: Relative tolerance within which two summed scores are a tie (settled by the lower model index).
TIE_TOL = 1e-9
# CBC's tolerances are absolute (about 1e-7 on rows, optimality and integrality): the objective
# is scaled so its largest block score is _OBJECTIVE_SCALE, which puts the tie width (TIE_TOL
# relative to max(1, |top|, largest block score): >= 1e-5 in scaled units) 100x above them, so
# CBC tells apart every pair of scores the brute force tells apart.
_OBJECTIVE_SCALE = 1e4
#: Most solves one pick may take (budget violators and tie candidates CBC's tolerance lets in).
_MAX_SOLVES = 500

_SHAPE = (NUM_STAGES, NUM_BLOCKS)
F = TypeVar("F", bound=Callable[..., Any])


def _quiet_pulp(func: F) -> F:
    """PuLP 3.3 deprecates what PuLP 4 will change (``PULP_CBC_CMD``, which is the bundled CBC
    we rely on, and the constraints mapping); its warnings are noise for our users."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulp(\.|$)")
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _table(name: str, value: Any, *, allow_nan: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a ({NUM_STAGES}, {NUM_BLOCKS}) array of numbers") from None
    if arr.shape != _SHAPE:
        raise ConfigError(f"{name} must have shape {_SHAPE} [stage, block], got {arr.shape}")
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if bad.any():
        s, b = np.argwhere(bad)[0]
        raise ConfigError(f"{name}[{s}, {b}] is {arr[s, b]} (must be finite)")
    return arr


def _resources(
    block_latency, budget, fixed_latency, params, params_budget, fixed_params, macs, macs_budget, fixed_macs
) -> list[tuple[str, np.ndarray, float, float]]:
    """``(name, (3, 45) table, fixed, budget)`` of every constraint given."""
    out = []
    for name, table, fixed, limit in (
        ("latency", block_latency, fixed_latency, budget),
        ("params", params, fixed_params, params_budget),
        ("macs", macs, fixed_macs, macs_budget),
    ):
        if limit is None:
            continue
        if table is None:
            raise ConfigError(f"a {name} budget needs the per-block {name} table")
        arr = _table(f"block {name}", table)
        if (arr < 0).any():
            raise ConfigError(f"block {name} must be >= 0")
        if isinstance(limit, bool) or not isinstance(limit, (int, float, np.integer, np.floating)):
            raise ConfigError(f"the {name} budget must be a number, got {limit!r}")
        if not math.isfinite(float(fixed)):
            raise ConfigError(f"the fixed {name} must be finite, got {fixed!r}")
        out.append((name, arr, float(fixed), float(limit)))
    return out


def _ordered_sum(table: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    return table[0, blocks[..., 0]] + table[1, blocks[..., 1]] + table[2, blocks[..., 2]]


def _feasible(resources, blocks: np.ndarray) -> np.ndarray:
    ok = np.ones(blocks.shape[:-1], dtype=bool)
    for _, table, fixed, limit in resources:
        ok &= fixed + _ordered_sum(table, blocks) <= limit
    return ok


def smallest_budget(resources, usable: np.ndarray) -> dict[str, float]:
    """The smallest budget of each resource any usable model meets (the others ignored)."""
    blocks = indices_to_blocks(usable)
    return {name: float((fixed + _ordered_sum(table, blocks)).min()) for name, table, fixed, _ in resources}


def _check(scores, k, allowed) -> tuple[np.ndarray, np.ndarray]:
    table = _table("scores", scores, allow_nan=True)
    check_int("k", k)
    if allowed is None:
        usable = np.arange(NUM_MODELS, dtype=np.int64)
    else:
        usable = np.unique(np.asarray(allowed, dtype=np.int64).ravel())
        if usable.size and (usable[0] < 0 or usable[-1] >= NUM_MODELS):
            raise ConfigError(f"allowed models must be indices in 0..{NUM_MODELS - 1}")
    blocks = indices_to_blocks(usable)
    usable = usable[np.isfinite(_ordered_sum(table, blocks))]
    if not usable.size:
        raise ConfigError("no model has a score for all three of its blocks (NaN = not distilled)")
    return table, usable


def _infeasible(resources, usable) -> ConfigError:
    least = smallest_budget(resources, usable)
    parts = [f"{name} budget {limit:.6g} is below the smallest feasible {least[name]:.6g}"
             for name, _, _, limit in resources]  # fmt: skip
    return ConfigError(
        "no model meets the budgets (" + "; ".join(parts) + "); with several budgets the smallest "
        "feasible of each is given with the others ignored"
    )


def _tie(table: np.ndarray, top: float) -> float:
    """How far below the best score a tie reaches: ``TIE_TOL`` relative to the larger of the
    best score and the largest block score (at least 1)."""
    finite = np.abs(table[np.isfinite(table)])
    return TIE_TOL * max(1.0, abs(top), float(finite.max()) if finite.size else 0.0)


# ---------------------------------------------------------------------------------------
# the oracle
# ---------------------------------------------------------------------------------------
def brute_force_select(
    scores: Any,
    block_latency: Any,
    budget: float | None,
    *,
    fixed_latency: float = 0.0,
    k: int = 1,
    allowed: Any = None,
    params: Any = None,
    params_budget: float | None = None,
    macs: Any = None,
    macs_budget: float | None = None,
    fixed_params: float = 0.0,
    fixed_macs: float = 0.0,
) -> np.ndarray:
    """:func:`lana_select` by enumerating every model (vectorised numpy over all 91,125): the
    test oracle, and the same tie rule (module docstring)."""
    table, usable = _check(scores, k, allowed)
    resources = _resources(block_latency, budget, fixed_latency, params, params_budget, fixed_params,
                           macs, macs_budget, fixed_macs)  # fmt: skip
    blocks = indices_to_blocks(usable)
    feasible = _feasible(resources, blocks)
    if not feasible.any():
        raise _infeasible(resources, usable)
    models, values = usable[feasible], _ordered_sum(table, blocks[feasible])
    chosen: list[int] = []
    alive = np.ones(len(models), dtype=bool)
    for _ in range(min(int(k), len(models))):
        best = values[alive].max()
        tied = alive & (values >= best - _tie(table, best))
        pick = int(np.flatnonzero(tied)[0])  # models are sorted: the lowest index
        chosen.append(int(models[pick]))
        alive[pick] = False
    return indices_to_blocks(np.asarray(chosen, dtype=np.int64)).reshape(-1, NUM_STAGES)


# ---------------------------------------------------------------------------------------
# the integer program
# ---------------------------------------------------------------------------------------
class _Program:
    """The PuLP model of one :func:`lana_select` call, re-solved with growing exclusions."""

    def __init__(self, table: np.ndarray, resources, usable: np.ndarray, compact: bool) -> None:
        self.table, self.resources, self.compact = table, resources, compact
        self.prob = pulp.LpProblem("lana", pulp.LpMaximize)
        self.solver = pulp.PULP_CBC_CMD(msg=False, gapRel=0, gapAbs=0)
        finite = np.abs(table[np.isfinite(table)])
        self.scale = _OBJECTIVE_SCALE / max(float(finite.max()) if finite.size else 1.0, 1e-300)
        self.solves = 0
        if compact:
            ok = np.isfinite(table)
            self.x = {
                (s, b): pulp.LpVariable(f"x_{s}_{b}", cat="Binary")
                for s in range(NUM_STAGES) for b in range(NUM_BLOCKS) if ok[s, b]
            }  # fmt: skip
            for s in range(NUM_STAGES):
                self.prob += pulp.lpSum(v for (t, _), v in self.x.items() if t == s) == 1, f"one_{s}"
            self.objective = pulp.lpSum(float(table[s, b] * self.scale) * v for (s, b), v in self.x.items())
            for name, res, fixed, limit in resources:
                scale = max(abs(limit), float(res.max()), 1e-300)  # rows of order 1 for CBC's tolerances
                self.prob += (
                    (
                        pulp.lpSum(float(res[s, b] / scale) * v for (s, b), v in self.x.items())
                        <= (limit - fixed) / scale
                    ),
                    f"budget_{name}",
                )
        else:
            self.models = usable
            blocks = indices_to_blocks(usable)
            values = _ordered_sum(table, blocks)
            self.y = [pulp.LpVariable(f"y_{int(m)}", cat="Binary") for m in usable]
            self.prob += pulp.lpSum(self.y) == 1, "one_model"
            self.objective = pulp.lpSum(float(v * self.scale) * y for v, y in zip(values, self.y))
            for name, res, fixed, limit in resources:
                totals = fixed + _ordered_sum(res, blocks)
                scale = max(abs(limit), float(np.abs(totals).max()), 1e-300)
                self.prob += (
                    (pulp.lpSum(float(t / scale) * y for t, y in zip(totals, self.y)) <= limit / scale),
                    f"budget_{name}",
                )
        self.prob += self.objective
        self._cuts = 0
        if compact:
            weight = {0: 1, 1: NUM_BLOCKS, 2: NUM_BLOCKS * NUM_BLOCKS}  # blox_space.arch's model index
            self.index = pulp.lpSum(float(b * weight[s]) * v for (s, b), v in self.x.items())
        else:
            self.index = pulp.lpSum(float(m) * y for m, y in zip(usable, self.y))

    def exclude(self, model: int) -> None:
        self._cuts += 1
        if self.compact:
            b = indices_to_blocks(np.asarray([model]))[0]
            self.prob += (
                pulp.lpSum(self.x[(s, int(b[s]))] for s in range(NUM_STAGES)) <= 2,
                f"cut_{self._cuts}",
            )
        else:
            i = int(np.searchsorted(self.models, model))
            self.prob += self.y[i] == 0, f"cut_{self._cuts}"

    def solve(self) -> int | None:
        """The model of an optimal solution, None when infeasible."""
        self.solves += 1
        if self.solves > _MAX_SOLVES:
            raise RuntimeError("LANA: too many solves for one pick (degenerate scores?)")
        status = self.prob.solve(self.solver)
        if pulp.LpStatus[status] != "Optimal":
            return None
        if self.compact:
            blocks = [max(range(NUM_BLOCKS), key=lambda b, s=s: (self.x[(s, b)].value() or 0) if (s, b) in self.x else -1)
                      for s in range(NUM_STAGES)]  # fmt: skip
            return int(blocks_to_indices(np.asarray([blocks]))[0])
        return int(self.models[int(np.argmax([y.value() or 0 for y in self.y]))])

    def solve_lowest_index(self, floor: float) -> int | None:
        """The lowest model index whose (CBC-tolerant) score is at least ``floor``."""
        self.prob += self.objective >= floor * self.scale, "score_floor"
        self.prob.sense = pulp.LpMinimize
        self.prob.setObjective(self.index)
        try:
            return self.solve()
        finally:
            del self.prob.constraints["score_floor"]
            self.prob.sense = pulp.LpMaximize
            self.prob.setObjective(self.objective)

    def value(self, model: int) -> float:
        return float(_ordered_sum(self.table, indices_to_blocks(np.asarray([model])))[0])

    def feasible(self, model: int) -> bool:
        return bool(_feasible(self.resources, indices_to_blocks(np.asarray([model])))[0])


def _pick(program: _Program) -> int | None:
    """The next solution by the module's rule, or None when nothing feasible is left."""
    program.solves = 0
    while True:  # the best score (a budget violator within CBC's tolerance is excluded for good)
        best = program.solve()
        if best is None:
            return None
        if program.feasible(best):
            break
        program.exclude(best)
    top = program.value(best)
    floor = top - _tie(program.table, top)
    # ties: the lowest model index with a score >= floor, checked exactly (a model CBC lets in
    # within its tolerance is excluded for this pick only)
    temporary = 0
    chosen = best
    while True:
        model = program.solve_lowest_index(floor)
        if model is None or model == best:
            break
        if program.feasible(model) and program.value(model) >= floor:
            chosen = min(chosen, model)
            break
        program.exclude(model)
        temporary += 1
    for i in range(temporary):
        del program.prob.constraints[f"cut_{program._cuts - i}"]
    program._cuts -= temporary
    return min(chosen, best)


@_quiet_pulp
def lana_select(
    scores: Any,
    block_latency: Any,
    budget: float | None,
    *,
    fixed_latency: float = 0.0,
    k: int = 1,
    allowed: Any = None,
    params: Any = None,
    params_budget: float | None = None,
    macs: Any = None,
    macs_budget: float | None = None,
    fixed_params: float = 0.0,
    fixed_macs: float = 0.0,
) -> np.ndarray:
    """Choose one block per stage maximising the summed score under the budgets (LANA's ILP).

    Args:
        scores: ``(3, 45)`` score per (stage, block), higher is better (the LANA signature;
            any score table works); NaN = the block is not available.
        block_latency: ``(3, 45)`` latency per (stage, block) in seconds (the lookup table of a
            device); may be None when ``budget`` is None.
        budget: the latency budget in seconds, the fixed parts included (None: no latency
            constraint).
        fixed_latency: seconds of the parts every model has (stem, head, glue).
        k: how many solutions, best first (diverse: each excludes the previous ones).
        allowed: model indices the choice is restricted to (None: the whole space).
        params, params_budget, fixed_params: a parameter budget over ``(3, 45)`` per-block
            parameters plus the fixed part (likewise ``macs``).

    Returns:
        ``(k', 3)`` int64 block ids, best first; ``k' < k`` when fewer models are feasible.

    Raises:
        ConfigError: a bad table or value; no feasible model (the message states the smallest
            feasible budget).

    Example:
        >>> import numpy as np
        >>> s = np.zeros((3, 45)); s[:, 7] = 1.0
        >>> lana_select(s, np.ones((3, 45)), 3.0).tolist()
        [[7, 7, 7]]
    """
    table, usable = _check(scores, k, allowed)
    resources = _resources(block_latency, budget, fixed_latency, params, params_budget, fixed_params,
                           macs, macs_budget, fixed_macs)  # fmt: skip
    if not _feasible(resources, indices_to_blocks(usable)).any():
        raise _infeasible(resources, usable)
    program = _Program(table, resources, usable, compact=allowed is None or len(usable) == NUM_MODELS)
    chosen: list[int] = []
    for _ in range(int(k)):
        model = _pick(program)
        if model is None:
            break
        chosen.append(model)
        program.exclude(model)
    return indices_to_blocks(np.asarray(chosen, dtype=np.int64)).reshape(-1, NUM_STAGES)


# ---------------------------------------------------------------------------------------
# the algorithm
# ---------------------------------------------------------------------------------------
@register_algorithm("lana")
class LanaSearch(Algorithm):
    """LANA (related-work §C): the integer program over the teacher's LANA signatures picks
    ``k`` diverse models under the budgets; they are fine-tuned (paid) best first.

    One search seed: the teacher's :class:`~blox_search.BlockwiseView` gives the LANA table
    (``lana_delta_acc`` at ``snapshot``: the change of the teacher's validation top-1 with the
    stage replaced by the distilled block, in points; the block library is already paid), the
    latency lookup table of the evaluator's latency device and the analytic params / MACs;
    :func:`lana_select` chooses among the candidates (a tabular evaluator knows its fine-tuned
    students only; the whole space when every model is a candidate); each chosen model is
    fine-tuned at ``fidelity`` with the teacher. The choice uses no randomness.

    ``front > 0`` traces LANA's accuracy x latency front instead: ``front`` latency budgets
    evenly spaced from the smallest feasible to the largest candidate latency, one solution
    each (duplicates skipped), so :func:`blox_search.pareto_summary` can score the front LANA
    finds against the true one.

    Args:
        k: solutions fine-tuned (default 5, our choice: LANA's paper picks one per budget).
        latency_budget: seconds on the latency device (None: none).
        latency_fraction: the budget as a fraction of the teacher's latency (alternative).
        params_budget, macs_budget: parameters / MACs (None: none).
        snapshot: the LANA snapshot (None: the last).
        teacher: the teacher (None: the evaluator's default).
        fidelity: the FT length of the fine-tuning (None: the longest).
        front: budgets of the front mode (0: off).
    """

    needs_blockwise = True

    def __init__(
        self,
        *,
        k: int = 5,
        latency_budget: float | None = None,
        latency_fraction: float | None = None,
        params_budget: float | None = None,
        macs_budget: float | None = None,
        snapshot: int | None = None,
        teacher: str | None = None,
        fidelity: int | None = None,
        front: int = 0,
    ) -> None:
        self.k = k
        self.latency_budget = latency_budget
        self.latency_fraction = latency_fraction
        self.params_budget = params_budget
        self.macs_budget = macs_budget
        self.snapshot = snapshot
        self.teacher = teacher
        self.fidelity = fidelity
        self.front = front

    def check_params(self) -> None:
        check_int("k", self.k)
        check_int("front", self.front, low=0)
        for name in ("latency_budget", "latency_fraction", "params_budget", "macs_budget"):
            if getattr(self, name) is not None:
                check_float(name, getattr(self, name), 0.0, math.inf, low_open=True)
        if self.latency_budget is not None and self.latency_fraction is not None:
            raise ConfigError("give latency_budget or latency_fraction, not both")
        for name in ("snapshot", "fidelity"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name))
        if self.teacher is not None and not isinstance(self.teacher, str):
            raise ConfigError(f"teacher must be a teacher's name or None, got {self.teacher!r}")

    def _latency_budget(self, view: Any) -> float | None:
        if self.latency_budget is None and self.latency_fraction is None and not self.front:
            return None
        if view.block_latency_s is None:
            raise ConfigError(
                "LANA's latency budget needs a latency lookup table: give the evaluator a latency device"
            )
        if self.latency_fraction is None:
            return self.latency_budget
        blocks = indices_to_blocks(np.asarray([view.teacher_model]))[0]
        teacher = view.fixed_latency_s + sum(
            float(view.block_latency_s[s, blocks[s]]) for s in range(NUM_STAGES)
        )
        return float(self.latency_fraction) * teacher

    def search(self, problem: Problem, rng: np.random.Generator) -> None:
        view = problem.blockwise(self.teacher)
        scores = view.signatures("lana", self.snapshot)
        allowed = None if len(problem.candidates) == NUM_MODELS else problem.candidates
        budget = self._latency_budget(view)
        common = dict(
            fixed_latency=view.fixed_latency_s, allowed=allowed,
            params=view.block_params, params_budget=self.params_budget, fixed_params=view.fixed_params,
            macs=view.block_macs, macs_budget=self.macs_budget, fixed_macs=view.fixed_macs,
        )  # fmt: skip
        if self.front:
            chosen = self._front(scores, view, common, problem)
        else:
            chosen = lana_select(scores, view.block_latency_s, budget, k=self.k, **common)
        source = self.teacher
        for model in blocks_to_indices(chosen):
            problem.evaluate(int(model), fidelity=self.fidelity, source=source)

    def _front(self, scores, view, common, problem) -> np.ndarray:
        table, usable = _check(scores, 1, common["allowed"])
        lat = view.fixed_latency_s + _ordered_sum(view.block_latency_s, indices_to_blocks(usable))
        budgets = np.linspace(float(lat.min()), float(lat.max()), int(self.front))
        seen: list[np.ndarray] = []
        keys: set[tuple[int, ...]] = set()
        for budget in budgets:
            try:
                (row,) = lana_select(scores, view.block_latency_s, float(budget), k=1, **common)
            except ConfigError:
                continue  # the other budgets (params / MACs) leave nothing at this latency
            if tuple(row) not in keys:
                keys.add(tuple(row))
                seen.append(row)
        if not seen:
            raise ConfigError("LANA's front: no model meets the params / MACs budgets at any latency")
        return np.asarray(seen, dtype=np.int64)
