"""DONNA's search (Moons et al., ICCV 2021; related-work §B): fit
:class:`blox_predict.DonnaPredictor` on the fine-tuned accuracy of a few sampled students,
predict every model, search the predictions under latency / params / MACs budgets, fine-tune the
chosen models.

The pure functions work on predictions aligned with an array of model indices (any subset of the
91,125 models; vectorised, no per-model Python):

* :func:`predicted_front`: the exact predicted Pareto front (max prediction, min latency);
* :func:`donna_exhaustive`: the top-k feasible models by prediction -- the brute-force argmax,
  exact because the whole space (91,125 models) is cheap to predict (related-work §B);
* :func:`donna_evolution`: an NSGA-II search over the predictor, as DONNA searches
  (related-work §B, [R]); it only reads predictions, which are free.

:class:`DonnaSearch` (registered as ``"donna"``) is the algorithm against a
:class:`~blox_search.BlockwiseEvaluator`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from blox_space.arch import indices_to_blocks
from blox_space.blocks import NUM_MODELS, NUM_STAGES
from blox_space.errors import ConfigError

from ..algorithm import Algorithm, check_float, check_int, register_algorithm
from ..pareto import crowding_distance, pareto_mask, pareto_ranks
from ..problem import Problem
from ..space import CandidateSpace

__all__ = ["DonnaSearch", "DonnaEvolution", "donna_exhaustive", "donna_evolution", "predicted_front"]

logger = logging.getLogger(__name__)

#: The budgets, by the name of their cost argument, with their unit for messages.
_BUDGETS = {"latency": "s", "params": "parameters", "macs": "MACs"}


# ----------------------------------------------------------------------------- helpers
def _aligned(name: str, values: Any, n: int) -> np.ndarray | None:
    if values is None:
        return None
    out = np.asarray(values, dtype=np.float64).ravel()
    if out.size != n:
        raise ConfigError(f"{name} must have one value per model ({n}), got {out.size}")
    return out


def _models(models: Any, n: int | None) -> np.ndarray:
    out = np.asarray(models, dtype=np.int64).ravel()
    if n is not None and out.size != n:
        raise ConfigError(f"models must have one index per prediction ({n}), got {out.size}")
    if out.size and (out.min() < 0 or out.max() >= NUM_MODELS):
        raise ConfigError(f"model indices must be in 0..{NUM_MODELS - 1}")
    if out.size and np.bincount(out, minlength=NUM_MODELS).max() > 1:  # O(n), no sort
        raise ConfigError("models must be distinct")
    return out


def _constraints(
    n: int, costs: dict[str, Any], budgets: dict[str, Any]
) -> list[tuple[str, np.ndarray, float]]:
    """``[(name, cost per model, budget)]`` of the budgets given (a budget needs its costs)."""
    out = []
    for name in _BUDGETS:
        budget = budgets[name]
        if budget is None:
            continue
        if (
            isinstance(budget, bool)
            or not isinstance(budget, (int, float, np.integer, np.floating))
            or not (math.isfinite(budget) and budget > 0)
        ):
            raise ConfigError(f"{name}_budget must be a finite number > 0, got {budget!r}")
        cost = _aligned(name, costs[name], n)
        if cost is None:
            raise ConfigError(f"{name}_budget={budget!r} needs {name}=<one {name} value per model>")
        out.append((name, cost, float(budget)))
    return out


def _feasible(constraints: list[tuple[str, np.ndarray, float]], n: int) -> np.ndarray:
    """Models within every budget (a NaN cost is never within one)."""
    ok = np.ones(n, dtype=bool)
    for _, cost, budget in constraints:
        ok &= cost <= budget
    return ok


def _violation(constraints: list[tuple[str, np.ndarray, float]], n: int) -> np.ndarray:
    """Deb's constraint violation: the summed relative excess over the budgets (0 = feasible, inf
    for a NaN cost)."""
    out = np.zeros(n, dtype=np.float64)
    for _, cost, budget in constraints:
        out += np.where(np.isnan(cost), np.inf, np.maximum(cost - budget, 0.0) / budget)
    return out


def _infeasible_message(constraints: list[tuple[str, np.ndarray, float]], usable: np.ndarray) -> str:
    """Why no model fits, with the smallest feasible value of each budget under the others."""
    given = " and ".join(f"{name}_budget={budget:.6g}" for name, _, budget in constraints)
    parts = []
    for name, cost, _ in constraints:
        others = usable.copy()
        for other, c, b in constraints:
            if other != name:
                others &= c <= b
        fits = others & ~np.isnan(cost)
        if fits.any():
            parts.append(f"the smallest feasible {name}_budget is {cost[fits].min():.6g} {_BUDGETS[name]}")
        else:
            parts.append(f"no {name}_budget is feasible under the other budgets")
    return f"no model fits {given}: " + "; ".join(parts)


def _top(predicted: np.ndarray, models: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` best predictions, best first; ties: the lower model index."""
    if k < len(predicted):  # a partition first: 91,125 values, a handful wanted
        cut = np.partition(-predicted, k - 1)[k - 1]
        keep = np.flatnonzero(-predicted <= cut)
    else:
        keep = np.arange(len(predicted))
    order = keep[np.lexsort((models[keep], -predicted[keep]))]
    return order[:k]


# ----------------------------------------------------------------------------- pure searches
def predicted_front(predicted: Any, latency: Any, *, models: Any = None) -> np.ndarray:
    """The exact Pareto front of (predicted accuracy, latency): max prediction, min latency.

    A model is on the front when no other model has a prediction at least as high and a latency
    at least as low, and is better in one (:func:`blox_search.pareto_mask`). Ties: models with
    the same prediction and latency as a front model are all on it (neither dominates the
    other); a NaN prediction or latency is never on it. ``O(n log n)``.

    Args:
        predicted: ``(n,)`` predicted accuracies (higher is better).
        latency: ``(n,)`` latencies (or any cost; lower is better).
        models: ``(n,)`` the model indices the values belong to (None: ``0..n-1``, i.e. all
            91,125 models in index order when ``n`` is 91,125).

    Returns:
        ``(m,)`` int64 model indices, by increasing latency (then increasing model index); along
        it the prediction never decreases.

    Raises:
        ConfigError: the lengths differ, or the model indices are not distinct valid indices.

    Example:
        >>> predicted_front([1.0, 3.0, 2.0, 3.0], [1.0, 2.0, 3.0, 2.0], models=[7, 9, 4, 8]).tolist()
        [7, 8, 9]
    """
    pred = np.asarray(predicted, dtype=np.float64).ravel()
    lat = _aligned("latency", latency, pred.size)
    idx = np.arange(pred.size, dtype=np.int64) if models is None else _models(models, pred.size)
    on = np.flatnonzero(pareto_mask(pred, lat))
    return idx[on[np.lexsort((idx[on], lat[on]))]]


def donna_exhaustive(
    predicted: Any,
    *,
    models: Any,
    latency: Any = None,
    latency_budget: float | None = None,
    params: Any = None,
    params_budget: float | None = None,
    macs: Any = None,
    macs_budget: float | None = None,
    k: int = 1,
) -> np.ndarray:
    """The ``k`` feasible models of highest prediction: the brute-force argmax under the budgets.

    A model is feasible when each given budget holds (``cost <= budget``; a NaN cost never fits).
    Models with a NaN prediction are never chosen.

    Args:
        predicted: ``(n,)`` predicted accuracies of ``models``.
        models: ``(n,)`` distinct model indices.
        latency, params, macs: ``(n,)`` costs of the models (seconds, parameters, MACs); each is
            needed only with its budget.
        latency_budget, params_budget, macs_budget: the budgets (None: no budget).
        k: how many models (fewer when fewer are feasible).

    Returns:
        ``(min(k, feasible),)`` int64 model indices, best first; ties: the lower model index.

    Raises:
        ConfigError: no model is feasible (the message names the smallest feasible value of each
            budget), a budget without its costs, misaligned arrays, ``k`` < 1.

    Example:
        >>> donna_exhaustive([0.5, 0.9, 0.7], models=[10, 11, 12], latency=[1.0, 3.0, 2.0],
        ...                  latency_budget=2.5, k=2).tolist()
        [12, 10]
    """
    check_int("k", k)
    pred = np.asarray(predicted, dtype=np.float64).ravel()
    idx = _models(models, pred.size)
    cons = _constraints(pred.size, {"latency": latency, "params": params, "macs": macs},
                        {"latency": latency_budget, "params": params_budget, "macs": macs_budget})  # fmt: skip
    usable = ~np.isnan(pred)
    ok = np.flatnonzero(usable & _feasible(cons, pred.size))
    if not ok.size:
        if not usable.any():
            raise ConfigError("no model has a prediction")
        raise ConfigError(_infeasible_message(cons, usable))
    return idx[ok[_top(pred[ok], idx[ok], int(k))]]


@dataclass(frozen=True)
class DonnaEvolution:
    """What :func:`donna_evolution` found.

    Attributes:
        front: the feasible non-dominated models among all it visited (:func:`predicted_front`
            of (prediction, latency); without latency, the best-predicted feasible models), by
            increasing latency.
        population: the final population, best first (rank, then crowding distance).
        visited: every distinct model whose prediction was read, in the order first seen.
        predicted: their predictions, aligned with ``visited``.
    """

    front: np.ndarray
    population: np.ndarray
    visited: np.ndarray
    predicted: np.ndarray


def donna_evolution(
    predicted: np.ndarray | Callable[[np.ndarray], np.ndarray],
    *,
    rng: np.random.Generator,
    models: Any,
    latency: Any = None,
    latency_budget: float | None = None,
    params: Any = None,
    params_budget: float | None = None,
    macs: Any = None,
    macs_budget: float | None = None,
    population_size: int = 50,
    generations: int = 40,
    crossover_prob: float = 0.9,
    swapping_prob: float = 0.5,
    mutation_prob: float | None = None,
) -> DonnaEvolution:
    """NSGA-II (Deb et al. 2002) over the predictor: maximise the prediction and, with
    ``latency``, minimise the latency, under the budgets as constraints.

    DONNA searches its predictor with an NSGA-II-style evolutionary search (related-work §B,
    [R]); its population size, generation count and operators are not published [NF]. This one
    follows Optuna's ``NSGAIISampler`` for categorical spaces (a model is three categorical
    genes, its stages' block ids):

    * the start: ``population_size`` distinct models drawn uniformly from ``models``;
    * mating: binary tournaments by crowded comparison (lower rank, then larger crowding
      distance, then the first drawn); with probability ``crossover_prob`` the child takes each
      stage's block from the second parent with probability ``swapping_prob`` (uniform
      crossover), else it copies the first parent; then each stage's block is replaced by
      another block of that stage with probability ``mutation_prob``. A child outside
      ``models`` is replaced by a closest member (:meth:`~blox_search.CandidateSpace.mutate`);
    * survival: parents and children together, duplicates removed, ranked by Deb's
      **constrained domination** (feasible models first, by non-dominated sorting; infeasible
      ones after them by increasing constraint violation, the summed relative excess over the
      budgets), then by crowding distance within a rank; the best ``population_size`` survive.

    Without ``latency`` the second objective is constant: a constrained single-objective
    elitist GA on the prediction.

    Args:
        predicted: ``(n,)`` predictions aligned with ``models``, or a function of an ``(m,)``
            int64 array of model indices returning their ``(m,)`` predictions (called once per
            generation on the models not seen yet).
        rng: all randomness comes from it: same generator state, same result.
        models: ``(n,)`` distinct model indices the search moves in.
        latency, params, macs: ``(n,)`` costs aligned with ``models`` (latency is also the second
            objective).
        latency_budget, params_budget, macs_budget: budgets (None: none).
        population_size: N (default 50, Optuna's ``NSGAIISampler``; DONNA's is [NF]).
        generations: generations after the start (default 40, our choice: at most 2,050 of the
            91,125 predictions read, and the exhaustive search is the exact reference anyway).
        crossover_prob: default 0.9 (Deb et al. 2002; Optuna).
        swapping_prob: per-stage swap probability of the uniform crossover (default 0.5, Optuna).
        mutation_prob: per-stage mutation probability (None: 1/3, one over the number of genes,
            Deb et al. 2002 and Optuna).

    Returns:
        :class:`DonnaEvolution`.

    Raises:
        ConfigError: bad parameters or arrays, a budget without its costs, no model is feasible
            among those visited (with the smallest feasible budgets among them).
    """
    check_int("population_size", population_size, low=2)
    check_int("generations", generations, low=0)
    check_float("crossover_prob", crossover_prob, 0.0, 1.0)
    check_float("swapping_prob", swapping_prob, 0.0, 1.0)
    p_mut = 1.0 / NUM_STAGES if mutation_prob is None else mutation_prob
    check_float("mutation_prob", p_mut, 0.0, 1.0)
    table = None if callable(predicted) else np.asarray(predicted, dtype=np.float64).ravel()
    idx = _models(models, None if table is None else table.size)
    n = idx.size
    if n == 0:
        raise ConfigError("models is empty: nothing to search")
    cons = _constraints(n, {"latency": latency, "params": params, "macs": macs},
                        {"latency": latency_budget, "params": params_budget, "macs": macs_budget})  # fmt: skip
    lat = _aligned("latency", latency, n)
    # the search works on positions into models; position[model index] maps back
    position = np.full(NUM_MODELS, -1, dtype=np.int64)
    position[idx] = np.arange(n)
    violation = _violation(cons, n)
    second = np.zeros(n) if lat is None else lat
    pred_of = np.full(n, np.nan)
    known = np.zeros(n, dtype=bool)
    visited: list[np.ndarray] = []

    def read(pos: np.ndarray) -> None:
        fresh = pos[~known[pos]]
        if not fresh.size:
            return
        new = fresh[np.sort(np.unique(fresh, return_index=True)[1])]  # distinct, in first-seen order
        if table is not None:
            pred_of[new] = table[new]
        else:
            values = np.asarray(predicted(idx[new].copy()), dtype=np.float64).ravel()  # type: ignore[operator]
            if values.size != new.size:
                raise ConfigError(
                    f"the prediction function returned {values.size} values for {new.size} models"
                )
            pred_of[new] = values
        known[new] = True
        visited.append(new)

    def merit(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Constrained-domination rank and crowding distance of the members ``pos``."""
        acc, cost, viol = pred_of[pos], second[pos], violation[pos]
        rank = np.zeros(pos.size, dtype=np.int64)
        crowd = np.zeros(pos.size)
        ok = viol == 0
        if ok.any():
            rank[ok] = pareto_ranks(acc[ok], cost[ok])
            for r in np.unique(rank[ok]):
                members = np.flatnonzero(ok & (rank == r))
                finite = np.isfinite(acc[members]) & np.isfinite(cost[members])
                crowd[members] = crowding_distance(acc[members], cost[members]) if finite.all() else 0.0
        worst = int(rank[ok].max()) + 1 if ok.any() else 0
        rank[~ok] = worst + np.unique(viol[~ok], return_inverse=True)[1]
        return rank, crowd

    def best_first(pos: np.ndarray) -> np.ndarray:
        rank, crowd = merit(pos)
        return pos[np.lexsort((np.arange(pos.size), -crowd, rank))]

    space = CandidateSpace(np.sort(idx))
    stage_blocks = [np.unique(indices_to_blocks(idx)[:, s]) for s in range(NUM_STAGES)]
    size = min(int(population_size), n)
    population = rng.choice(n, size=size, replace=False)
    read(population)
    population = best_first(population)
    for _ in range(int(generations)):
        rank, crowd = merit(population)
        children = np.empty(size, dtype=np.int64)
        for c in range(size):
            a, b = (_tournament(rng, rank, crowd) for _ in range(2))
            genes = indices_to_blocks(idx[population[[a, b]]])
            child = genes[0].copy()
            if rng.random() < crossover_prob:
                swap = rng.random(NUM_STAGES) < swapping_prob
                child[swap] = genes[1][swap]
            for s in np.flatnonzero(rng.random(NUM_STAGES) < p_mut):
                options = stage_blocks[s][stage_blocks[s] != child[s]]
                if options.size:
                    child[s] = options[rng.integers(options.size)]
            model = int(CandidateSpace.index(child))
            if position[model] < 0:
                model = space.mutate(model, rng)
            children[c] = position[model]
        read(children)
        both = np.concatenate([population, children])
        both = both[np.sort(np.unique(both, return_index=True)[1])]  # parents first, no duplicates
        population = best_first(both)[:size]
    seen = np.concatenate(visited)
    ok = seen[(violation[seen] == 0) & ~np.isnan(pred_of[seen])]
    if not ok.size:
        usable = np.zeros(n, dtype=bool)
        usable[seen] = ~np.isnan(pred_of[seen])
        if not usable.any():
            raise ConfigError("no model visited has a prediction")
        raise ConfigError(_infeasible_message(cons, usable) + " (among the models visited)")
    if lat is None:
        front = ok[pred_of[ok] == pred_of[ok].max()]
        front = idx[np.sort(front)]
    else:
        front = predicted_front(pred_of[ok], lat[ok], models=idx[ok])
    return DonnaEvolution(front=front, population=idx[population], visited=idx[seen], predicted=pred_of[seen])


def _tournament(rng: np.random.Generator, rank: np.ndarray, crowd: np.ndarray) -> int:
    """Binary tournament by crowded comparison (the first drawn wins ties)."""
    i, j = (int(v) for v in rng.integers(rank.size, size=2))
    if rank[j] < rank[i] or (rank[j] == rank[i] and crowd[j] > crowd[i]):
        return j
    return i


# ----------------------------------------------------------------------------- the algorithm
@register_algorithm("donna")
class DonnaSearch(Algorithm):
    """DONNA (related-work §B): a predictor fitted on a few fine-tuned students, searched under
    budgets; the chosen models are fine-tuned.

    The flow of one search seed:

    1. the teacher's :class:`~blox_search.BlockwiseView` (``problem.blockwise(teacher)``) gives
       the DONNA signature table (validation NSR at distillation ``epoch``); the models whose
       three blocks all have a signature form the **predictable space** (all 91,125 when the
       library is complete);
    2. ``num_samples`` students are drawn uniformly without replacement from the candidates in
       the predictable space and fine-tuned with the teacher (``problem.evaluate(model,
       fidelity=fidelity, source=teacher)``, **paid**); DONNA's paper used 40 [S] (MathNAS
       quoting DONNA); the default 20 is the issue's "a few tens" at the Blox budgets;
    3. :class:`blox_predict.DonnaPredictor` (``order``, ``alpha``) is fitted on their search
       metric (the fine-tuned student's validation top-1) and predicts the whole predictable
       space in one vectorised call (free: the predictor's cost is not charged, as for BRP-NAS);
    4. the search of the predictions (``strategy``): ``"exhaustive"`` takes the brute-force best
       (:func:`donna_exhaustive`, exact); ``"evolution"`` runs :func:`donna_evolution`
       (NSGA-II as in DONNA, on prediction x latency when the evaluator has a latency lookup
       table) and picks among the models it visited. Both respect ``latency_budget`` (the
       lookup table of the evaluator's latency device: the fixed parts plus the three blocks),
       ``params_budget`` and ``macs_budget`` (analytic, at the teacher's geometry);
    5. the ``num_final`` chosen models are fine-tuned (``final_fidelity``, **paid**) best
       predicted first; one already evaluated at that FT length (a student) is not asked again.

    **Where the final choice comes from.** A tabular evaluator only knows the students it has
    fine-tuning results for (``problem.candidates``), so the choice is made among the candidates
    of the predictable space; over a live evaluator the candidates are the whole space. The
    exact predicted front over the whole predictable space is :func:`predicted_front` of the
    same predictions (for reports).

    ``pick="top"`` fine-tunes the ``num_final`` best-predicted feasible candidates;
    ``pick="front"`` fine-tunes ``num_final`` models spread evenly (by position) along the
    predicted accuracy x latency front of the feasible candidates, from its best-predicted end
    (so ``num_final=1`` is the top pick; from 2 on both ends are included) -- a front for
    :func:`blox_search.pareto_summary` rather than one winner (needs a latency table).

    Determinism: the students come from ``rng``, the fit is closed-form, the evolution draws
    from the same ``rng``: a seed's trajectory is a pure function of (parameters, seed,
    evaluator).

    Args:
        num_samples: students fine-tuned to fit the predictor (at least the predictor's minimum:
            4 at order 1, 10 at order 2).
        order, alpha: :class:`~blox_predict.DonnaPredictor`'s order (1 or 2) and ridge penalty.
        epoch: the distillation epoch of the NSR signatures (None: the last).
        strategy: the search of the predictions, ``"exhaustive"`` or ``"evolution"`` (not
            ``search``: that is the algorithm's hook).
        num_final: models chosen and fine-tuned (default 5, our choice).
        pick: ``"top"`` or ``"front"`` (above).
        latency_budget: seconds on the evaluator's latency device (None: no budget).
        params_budget, macs_budget: parameters / MACs (None: no budget).
        teacher: the teacher whose library and fine-tuning are used (None: the evaluator's
            default; another teacher's setup is paid with its first evaluation).
        fidelity: FT length of the students (None: the longest).
        final_fidelity: FT length of the chosen models (None: the longest).
        population_size, generations, crossover_prob, mutation_prob: :func:`donna_evolution`'s
            (defaults there; DONNA's are [NF]).

    Raises (from :meth:`search`, before anything is paid):
        MissingExtraError: blox-predict is not installed.
        ConfigError: the evaluator is not blockwise; a budget without what it needs (no latency
            table); fewer than the predictor's minimum or more than the predictable candidates
            as ``num_samples``; no feasible candidate (with the smallest feasible budgets).
    """

    requires = ("blox_predict",)
    extra = 'pip install "blox-search[donna]" (from a checkout: pip install packages/blox-predict)'
    needs_blockwise = True

    def __init__(
        self,
        *,
        num_samples: int = 20,
        order: int = 1,
        alpha: float = 1.0,
        epoch: int | None = None,
        strategy: str = "exhaustive",
        num_final: int = 5,
        pick: str = "top",
        latency_budget: float | None = None,
        params_budget: float | None = None,
        macs_budget: float | None = None,
        teacher: str | None = None,
        fidelity: int | None = None,
        final_fidelity: int | None = None,
        population_size: int = 50,
        generations: int = 40,
        crossover_prob: float = 0.9,
        mutation_prob: float | None = None,
    ) -> None:
        self.num_samples = num_samples
        self.order = order
        self.alpha = alpha
        self.epoch = epoch
        self.strategy = strategy
        self.num_final = num_final
        self.pick = pick
        self.latency_budget = latency_budget
        self.params_budget = params_budget
        self.macs_budget = macs_budget
        self.teacher = teacher
        self.fidelity = fidelity
        self.final_fidelity = final_fidelity
        self.population_size = population_size
        self.generations = generations
        self.crossover_prob = crossover_prob
        self.mutation_prob = mutation_prob

    def check_params(self) -> None:
        """Check the hyperparameters (the predictor's minimum training set is checked when the
        search starts, by the predictor itself).

        Raises:
            ConfigError: a count below 1 (population_size below 2, generations below 0), order
                not 1 or 2, alpha not > 0, an unknown strategy or pick, a budget not > 0, an
                epoch / FT length not None or an int >= 1, a probability outside [0, 1].
        """
        check_int("num_samples", self.num_samples)
        check_int("num_final", self.num_final)
        check_int("population_size", self.population_size, low=2)
        check_int("generations", self.generations, low=0)
        if isinstance(self.order, bool) or self.order not in (1, 2):
            raise ConfigError(f"order must be 1 or 2, got {self.order!r}")
        check_float("alpha", self.alpha, 0.0, math.inf, low_open=True)
        if self.strategy not in ("exhaustive", "evolution"):
            raise ConfigError(f"strategy must be 'exhaustive' or 'evolution', got {self.strategy!r}")
        if self.pick not in ("top", "front"):
            raise ConfigError(f"pick must be 'top' or 'front', got {self.pick!r}")
        for name in ("latency_budget", "params_budget", "macs_budget"):
            if getattr(self, name) is not None:
                check_float(name, getattr(self, name), 0.0, math.inf, low_open=True)
        for name in ("epoch", "fidelity", "final_fidelity"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name))
        check_float("crossover_prob", self.crossover_prob, 0.0, 1.0)
        if self.mutation_prob is not None:
            check_float("mutation_prob", self.mutation_prob, 0.0, 1.0)
        if self.teacher is not None and not isinstance(self.teacher, str):
            raise ConfigError(f"teacher must be a teacher's name or None, got {self.teacher!r}")

    def search(self, problem: Problem, rng: np.random.Generator) -> None:
        self.check_available()
        from blox_predict import DonnaPredictor  # torch: only when a DONNA search runs

        view = problem.blockwise(self.teacher)
        table = view.signatures("donna", self.epoch)
        space = predictable_models(table)
        costs = model_costs(view, space)
        if self.latency_budget is not None and costs["latency"] is None:
            raise ConfigError(
                "latency_budget needs the latency lookup table of a latency device: give the evaluator one"
            )
        if self.pick == "front" and costs["latency"] is None:
            raise ConfigError("pick='front' needs the latency lookup table of a latency device")
        in_pool = np.isin(space, problem.candidates, assume_unique=True)
        pool = space[in_pool]
        predictor = DonnaPredictor(order=self.order, alpha=self.alpha, signatures=table)
        need = predictor.min_points
        num = int(self.num_samples)
        if not need <= num <= len(pool):
            raise ConfigError(
                f"num_samples must be between the predictor's minimum ({need} at order {self.order}) and the "
                f"candidates whose blocks all have a signature ({len(pool)} of {len(problem.candidates)}), got {num}"
            )
        budgets = {"latency_budget": self.latency_budget, "params_budget": self.params_budget,
                   "macs_budget": self.macs_budget}  # fmt: skip
        pool_costs = {k: None if v is None else v[in_pool] for k, v in costs.items()}
        # a budget no candidate fits fails before the students are paid for
        donna_exhaustive(np.zeros(len(pool)), models=pool, **pool_costs, **budgets)

        source = self.teacher
        order = rng.permutation(len(pool))
        students, targets, evaluated = [], [], set()
        for pos in order:  # the first num_samples, more only while too few had a finite metric
            if len(evaluated) >= num and len(students) >= need:
                break
            ev = problem.evaluate(int(pool[pos]), fidelity=self.fidelity, source=source)
            evaluated.add(ev.model)
            if math.isfinite(ev.search_metric):
                students.append(ev.model)
                targets.append(ev.search_metric)
        if len(students) < need:
            logger.warning("donna: only %d students with a finite metric; nothing to fit", len(students))
            return
        predictor.fit(np.asarray(students, dtype=np.int64), np.asarray(targets, dtype=np.float64))
        predicted = predictor.predict(space)  # the whole predictable space, one call
        chosen = self.choose(predicted[in_pool], pool, pool_costs, rng)
        final = problem.max_fidelity if self.final_fidelity is None else int(self.final_fidelity)
        first = problem.max_fidelity if self.fidelity is None else int(self.fidelity)
        done = evaluated if final == first else set()
        for model in chosen:
            if int(model) not in done:
                problem.evaluate(int(model), fidelity=self.final_fidelity, source=source)

    def choose(
        self,
        predicted: np.ndarray,
        models: np.ndarray,
        costs: dict[str, np.ndarray | None],
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The models to fine-tune, best predicted first, from predictions of ``models``.

        Args:
            predicted: ``(n,)`` predictions.
            models: ``(n,)`` model indices (sorted).
            costs: ``{"latency", "params", "macs"}``: ``(n,)`` costs or None.
            rng: the evolution's randomness.
        """
        budgets = {"latency_budget": self.latency_budget, "params_budget": self.params_budget,
                   "macs_budget": self.macs_budget}  # fmt: skip
        k = int(self.num_final)
        if self.strategy == "evolution":
            found = donna_evolution(
                predicted, rng=rng, models=models, **costs, **budgets,
                population_size=self.population_size, generations=self.generations,
                crossover_prob=self.crossover_prob, mutation_prob=self.mutation_prob,
            )  # fmt: skip
            keep = np.isin(models, found.visited)
            predicted, models = predicted[keep], models[keep]
            costs = {name: None if c is None else c[keep] for name, c in costs.items()}
        if self.pick == "top":
            return donna_exhaustive(predicted, models=models, **costs, **budgets, k=k)
        ok = np.isin(models, donna_exhaustive(predicted, models=models, **costs, **budgets, k=len(models)))
        front = predicted_front(predicted[ok], costs["latency"][ok], models=models[ok])  # type: ignore[index]
        if len(front) > k:
            front = front[np.unique(np.round(np.linspace(len(front) - 1, 0, k)).astype(np.int64))]
        value = dict(zip(models.tolist(), predicted.tolist()))
        return front[np.lexsort((front, -np.array([value[m] for m in front.tolist()])))]


def predictable_models(table: np.ndarray) -> np.ndarray:
    """Model indices (sorted) whose three blocks all have a finite signature in the ``(3, 45)``
    ``table`` -- the models a signature predictor can predict."""
    blocks = indices_to_blocks(np.arange(NUM_MODELS))
    ok = np.isfinite(np.asarray(table, dtype=np.float64))
    return np.flatnonzero(ok[np.arange(NUM_STAGES), blocks].all(axis=1)).astype(np.int64)


def model_costs(view: Any, models: np.ndarray) -> dict[str, np.ndarray | None]:
    """Latency (s, the lookup table: fixed parts plus the three blocks; None without one),
    params and MACs (analytic) of ``models`` from a :class:`~blox_search.BlockwiseView`."""
    blocks = indices_to_blocks(models)
    stages = np.arange(NUM_STAGES)

    def total(per_block: np.ndarray | None, fixed: float) -> np.ndarray | None:
        if per_block is None:
            return None
        return np.asarray(per_block, dtype=np.float64)[stages, blocks].sum(axis=1) + float(fixed)

    return {
        "latency": total(view.block_latency_s, view.fixed_latency_s),
        "params": total(view.block_params, view.fixed_params),
        "macs": total(view.block_macs, view.fixed_macs),
    }
