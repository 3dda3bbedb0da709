"""Table 2's two numbers, from recorded trajectories (SPEC §7a, paper Table 2).

Per search seed:

* **accuracy at a budget** (:func:`acc_at_budget`): the reported metric (test top-1, %) of the
  incumbent -- the model with the best *search* metric (validation) seen so far -- at the last
  step whose cumulative cost is within the budget (FTE). The evaluation that crosses the
  budget was paid but is past it, so it does not count. NaN when not even the first
  evaluation fits in the budget.
* **cost to reach a target** (:func:`cost_at_target`): the cumulative cost (FTE, one-time
  costs included) of the first step at which the incumbent's reported metric is at least the
  target, or None (``×`` in tables) when that never happens within the budget. The incumbent
  is chosen by the search metric, so a model with a high reported metric that the search
  metric does not rank first does not count.

:func:`summarize` gives both over a run's seeds: mean and standard deviation (``ddof=1``, the
sample standard deviation; 0 for a single seed) of the accuracy, mean cost over the seeds that
reached the target and how many did. "Within the budget" allows a relative slack of 1e-9
(``cum_fte`` is seconds / FTE seconds, so a search that spent exactly the budget's seconds can
read a few ulps above the budget). The target defaults to :func:`default_target` of the
normal-training store the run's FTE was measured on: the paper's target 76.6 % is "roughly the
best normally trained model".

Example:
    >>> rows = summarize(["results/search/random.zarr"], budget_fte=40)  # doctest: +SKIP
    >>> rows[0]["acc_at_budget_mean"], rows[0]["cost_at_target_mean"]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from blox_space.errors import ConfigError, StoreError
from blox_space.store.spec import STATUS_DONE

from .trajectory import SearchRun, Trajectory, open_search

__all__ = [
    "acc_at_budget",
    "cost_at_target",
    "default_target",
    "summarize",
    "SUMMARY_KEYS",
    "evaluator_label",
]

logger = logging.getLogger(__name__)

#: The first keys of every :func:`summarize` row, in this order (a contract: ``blox-search
#: summary --json`` prints them and other tools read them).
SUMMARY_KEYS = (
    "algorithm",
    "evaluator",
    "num_seeds",
    "budget_fte",
    "target",
    "acc_at_budget_mean",
    "acc_at_budget_std",
    "cost_at_target_mean",
    "num_reached",
)

#: Relative slack when comparing cumulative FTE with a budget: ``cum_fte`` is seconds divided
#: by the FTE seconds, so a step that spent exactly the budget's seconds may read a few ulps
#: above it.
_BUDGET_RTOL = 1e-9


def _within(budget_fte: float) -> float:
    return float(budget_fte) * (1.0 + _BUDGET_RTOL)


def _check_budget(budget_fte: Any) -> float:
    if isinstance(budget_fte, bool) or not isinstance(budget_fte, (int, float, np.integer, np.floating)):
        raise ConfigError(f"the budget must be a finite number of FTE > 0, got {budget_fte!r}")
    value = float(budget_fte)
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"the budget must be a finite number of FTE > 0, got {budget_fte!r}")
    return value


def _check_target(target: Any) -> float:
    if isinstance(target, bool) or not isinstance(target, (int, float, np.integer, np.floating)):
        raise ConfigError(f"the target must be a finite accuracy in %, got {target!r}")
    value = float(target)
    if not math.isfinite(value):
        raise ConfigError(f"the target must be a finite accuracy in %, got {target!r}")
    return value


def acc_at_budget(traj: Trajectory, budget_fte: float) -> float:
    """The incumbent's reported metric at the last step with ``cum_fte <= budget_fte``.

    Args:
        traj: one seed's trajectory.
        budget_fte: the budget in FTE (> 0).

    Returns:
        The reported metric (%) of the best-by-search-metric model evaluated within the
        budget; NaN when no step is within it (or the incumbent has no reported metric).

    Raises:
        ConfigError: a budget that is not a finite number > 0.

    Example:
        >>> acc_at_budget(run.trajectory(0), 40.0)  # doctest: +SKIP
        76.2
    """
    budget = _check_budget(budget_fte)
    cum = np.asarray(traj.cum_fte, dtype=np.float64)
    last = int(np.searchsorted(cum, _within(budget), side="right")) - 1  # cum_fte never decreases
    if last < 0:
        return math.nan
    return float(traj.incumbent_reported[last])


def cost_at_target(traj: Trajectory, target: float, budget_fte: float) -> float | None:
    """The cumulative FTE at which the incumbent's reported metric first reaches ``target``.

    Args:
        traj: one seed's trajectory.
        target: the accuracy to reach (%, same metric as ``reported_metric``).
        budget_fte: only steps with ``cum_fte <= budget_fte`` count.

    Returns:
        ``cum_fte`` of the first step whose ``incumbent_reported >= target``, or None when no
        step within the budget gets there (``×`` in Table 2).

    Raises:
        ConfigError: a budget that is not a finite number > 0, or a target that is not finite.

    Example:
        >>> cost_at_target(run.trajectory(0), 76.6, 40.0)  # doctest: +SKIP
        12.5
    """
    budget, goal = _check_budget(budget_fte), _check_target(target)
    with np.errstate(invalid="ignore"):
        hit = np.flatnonzero(np.asarray(traj.incumbent_reported, dtype=np.float64) >= goal)
    if not len(hit):
        return None
    cost = float(traj.cum_fte[hit[0]])
    return cost if cost <= _within(budget) else None


def default_target(store: str | Path) -> float:
    """The best normal-training accuracy of a benchmark store: Table 2's default target.

    It is the highest ``test_acc`` (the reported metric of the tabular evaluator) over the
    store's models, where a model's value is the mean over the store's seeds of its finished
    runs (status done, finite test accuracy). In a surrogate store only measured models count
    (a prediction is not an accuracy anyone reached). Mean over seeds, not the best seed: the
    best single run of many is an optimistic outlier, while the paper's 76.6 % is "roughly the
    best model".

    Args:
        store: a benchmark store (normally the normal-training store one FTE is measured on;
            a finetune or surrogate store reads the same way).

    Returns:
        The target in %.

    Raises:
        StoreError / SchemaError: not a readable benchmark-kind store.
        ConfigError: no finished run with a test accuracy.
    """
    from blox_space import open_benchmark

    bench = open_benchmark(store, latency=[])
    models = bench.models
    values = np.stack(
        [np.asarray(bench.test_acc(models, seed=s), dtype=np.float64) for s in bench.seeds], axis=-1
    )
    done = np.stack([np.asarray(bench.status(models, seed=s)) == STATUS_DONE for s in bench.seeds], axis=-1)
    done &= np.isfinite(values)
    if bench.is_surrogate:
        done &= ~np.asarray(bench.is_predicted(models), dtype=bool)[:, None]
    counts = done.sum(axis=1)
    if not counts.any():
        raise ConfigError(f"{store}: no finished, measured run with a test accuracy, so it gives no target")
    means = np.where(done, values, 0.0).sum(axis=1)[counts > 0] / counts[counts > 0]
    return float(means.max())


def evaluator_label(evaluator: dict[str, Any]) -> str:
    """A short label of a recorded evaluator description: ``tabular:<store kind>`` (benchmark,
    finetune, surrogate) for a tabular evaluator, else its kind (``live``)."""
    kind = str(evaluator.get("kind", "unknown"))
    if kind == "tabular" and evaluator.get("store_kind"):
        return f"{kind}:{evaluator['store_kind']}"
    return kind


def _target_store(run: SearchRun) -> str | None:
    reference = dict(run.cost.get("reference", {}) or {})
    if reference.get("store"):
        return str(reference["store"])
    store = run.evaluator.get("store")
    return str(store) if store else None


def _mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


def summarize(
    runs: Iterable[SearchRun | str | Path],
    *,
    budget_fte: float | None = None,
    target: float | None = None,
) -> list[dict[str, Any]]:
    """Table 2's numbers, one row per search run (search store).

    Args:
        runs: search stores (paths) or open :class:`~blox_search.SearchRun` objects.
        budget_fte: the budget in FTE (None: each run's own budget).
        target: the accuracy to reach in % (None: :func:`default_target` of the store the run's
            FTE was measured on -- ``attrs["cost"]["reference"]["store"]`` -- or, when the cost
            model names none, of the evaluator's store).

    Returns:
        One dict per run whose first keys are :data:`SUMMARY_KEYS`: ``algorithm``,
        ``evaluator`` (:func:`evaluator_label`), ``num_seeds`` (seeds summarised: the finished
        ones), ``budget_fte``, ``target``, ``acc_at_budget_mean`` / ``acc_at_budget_std``
        (over the seeds with a step within the budget; std with ``ddof=1``, 0 for one seed,
        NaN for none), ``cost_at_target_mean`` (FTE, over the seeds that reached the target;
        None when none did), ``num_reached``; then ``cost_at_target_std``, ``num_at_budget``,
        ``num_pending`` (seeds of a killed, unfinished search: left out), ``target_store``
        (where the default target came from; None when given), ``store``, ``store_kind``,
        ``evaluator_kind``, ``run_budget_fte``, ``seeds``, ``path``, and ``one_shot`` with
        ``one_shot_fte_mean`` / ``one_shot_fte_std`` (a one-shot algorithm such as DARTS-PT: the
        budget does not apply -- the accuracy is the final model's and the cost to the target is
        not capped by it -- and the search's own cost in FTE, e.g. supernet training and
        projection; None for the others).

    Raises:
        StoreError / SchemaError: a path that is not a search store, or a default target
            whose store is gone (pass ``target``).
        ConfigError: a bad budget or target.
    """
    if budget_fte is not None:
        budget_fte = _check_budget(budget_fte)
    if target is not None:
        target = _check_target(target)
    targets: dict[str, float] = {}
    rows = []
    for item in runs:
        run = item if isinstance(item, SearchRun) else open_search(item)
        budget = run.budget_fte if budget_fte is None else budget_fte
        if budget > run.budget_fte * (1.0 + _BUDGET_RTOL):
            logger.warning(
                "%s: searched with a budget of %g FTE, summarised at %g FTE (past its end)",
                run.path, run.budget_fte, budget,
            )  # fmt: skip
        goal, source = target, None
        if goal is None:
            source = _target_store(run)
            if source is None:
                raise ConfigError(
                    f"{run.path} names no benchmark store to take the default target from; pass a target"
                )
            if source not in targets:
                if not Path(source).exists():
                    raise StoreError(
                        f"{run.path}: the store of its default target, {source}, is gone; pass a target (--target)"
                    )
                targets[source] = default_target(source)
            goal = targets[source]
        done = [s for s, status in zip(run.seeds, run.status) if int(status) == STATUS_DONE]
        trajectories = [run.trajectory(s) for s in done]
        if run.one_shot:  # † the budget does not apply: the final model, whatever it cost
            finals = [float(t.incumbent_reported[-1]) if len(t) else math.nan for t in trajectories]
            accs = [a for a in finals if math.isfinite(a)]
            costs = [
                c for c in (
                    cost_at_target(t, goal, max(budget, float(t.cum_fte[-1]) if len(t) else budget))
                    for t in trajectories
                ) if c is not None
            ]  # fmt: skip
            fte = float(run.cost["fte_seconds"])
            shots = [sum(run.seed_info(s).get("one_shot_s", {}).values()) / fte for s in done]
            shot_mean, shot_std = _mean_std(shots)
        else:
            accs = [a for a in (acc_at_budget(t, budget) for t in trajectories) if math.isfinite(a)]
            costs = [c for c in (cost_at_target(t, goal, budget) for t in trajectories) if c is not None]
            shot_mean = shot_std = None
        acc_mean, acc_std = _mean_std(accs)
        cost_mean, cost_std = _mean_std(costs)
        evaluator = run.evaluator
        rows.append(
            {
                "algorithm": run.algorithm,
                "evaluator": evaluator_label(evaluator),
                "num_seeds": len(done),
                "budget_fte": float(budget),
                "target": float(goal),
                "acc_at_budget_mean": acc_mean,
                "acc_at_budget_std": acc_std,
                "cost_at_target_mean": cost_mean if costs else None,
                "num_reached": len(costs),
                "cost_at_target_std": cost_std if costs else None,
                "num_at_budget": len(accs),
                "num_pending": len(run.seeds) - len(done),
                "target_store": source,
                "store": evaluator.get("store"),
                "store_kind": evaluator.get("store_kind"),
                "evaluator_kind": evaluator.get("kind"),
                "run_budget_fte": run.budget_fte,
                "seeds": done,
                "path": str(run.path),
                "one_shot": run.one_shot,
                "one_shot_fte_mean": shot_mean,
                "one_shot_fte_std": shot_std,
            }
        )
        if len(done) < len(run.seeds):
            logger.warning(
                "%s: %d of %d seeds have not finished (a killed search: resume it); they are left out",
                run.path, len(run.seeds) - len(done), len(run.seeds),
            )  # fmt: skip
    return rows
