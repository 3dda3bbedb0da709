"""Running a search: one algorithm, one evaluator, a budget in FTE, several seeds, every step
recorded in a search store that a killed run resumes from (SPEC §7, §7a).

Resuming: a seed that finished is read back; a seed that was running is run again from
scratch, its recorded steps replayed and checked one by one (the evaluator answers them again
-- free for a tabular evaluator, read back from its shard store for a live one) before new
steps are recorded, so the resumed trajectory is bit for bit the one an uninterrupted run
gives. A store written by a different search (algorithm, parameters, evaluator, budget, cost
model, seeds) is refused.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from blox_space.errors import ConfigError

from .algorithm import Algorithm
from .cost import CostModel
from .errors import BudgetExhausted, ResumeError
from .evaluators.base import Evaluator
from .problem import Problem
from .trajectory import SearchStore, Trajectory

__all__ = ["run_search", "search_attrs", "FLUSH_SECONDS"]

logger = logging.getLogger(__name__)

#: A running seed's new rows are written at least this often (and at its end).
FLUSH_SECONDS = 2.0


def search_attrs(
    algorithm: Algorithm,
    evaluator: Evaluator,
    *,
    budget_fte: float,
    cost: CostModel,
    max_evaluations: int | None,
) -> dict[str, Any]:
    """The group attributes of a search store (what a resume must match)."""
    one_shot = {"one_shot": True} if getattr(algorithm, "one_shot", False) else {}
    return json.loads(
        json.dumps(
            {
                **one_shot,  # only when set: stores of other algorithms keep their attributes
                "algorithm": algorithm.name,
                "algorithm_params": algorithm.get_params(),
                "evaluator": evaluator.describe(),
                "budget_fte": float(budget_fte),
                "budget_s": float(cost.to_seconds(budget_fte)),
                "cost": cost.to_attrs(),
                "max_evaluations": max_evaluations,
            },
            default=str,
        )
    )


def run_search(
    algorithm: Algorithm,
    evaluator: Evaluator,
    *,
    budget_fte: float,
    seeds: Sequence[int],
    cost: CostModel,
    out: str | Path | None = None,
    overwrite: bool = False,
    max_evaluations: int | None = None,
    max_repeats: int = 10_000,
    progress: bool | None = None,
) -> list[Trajectory]:
    """Run ``algorithm`` once per seed against fresh copies of ``evaluator``.

    Args:
        algorithm: a configured algorithm (:func:`~blox_search.get_algorithm`).
        evaluator: any :class:`~blox_search.Evaluator`; seed ``s`` uses ``evaluator.fresh(s)``.
        budget_fte: the budget in FTE (one-time costs of ``cost`` count against it).
        seeds: search seeds (each seeds ``numpy.random.default_rng(seed)``).
        cost: the cost model (FTE seconds, one-time costs); an evaluator with
            ``one_time_costs()`` (blockwise: the default teacher's setup) adds its own.
        out: the search store; an existing one of the same search is resumed.
        overwrite: replace an existing store instead of resuming it.
        max_evaluations: stop a seed after this many evaluations (None: no cap).
        max_repeats: stop a seed after this many free repeats in a row (it is ``stalled``).
        progress: a progress bar on stderr (None: when stderr is a terminal).

    Returns:
        One :class:`~blox_search.Trajectory` per seed, in ``seeds`` order.

    Raises:
        ConfigError: a bad budget or seed list, a missing optional package, an algorithm that
            needs latency from an evaluator without it.
        ResumeError: ``out`` holds a different search, or replaying it diverged.
    """
    if (
        isinstance(budget_fte, bool)
        or not isinstance(budget_fte, (int, float))
        or not math.isfinite(budget_fte)
    ):
        raise ConfigError(f"the budget must be a finite number of FTE > 0, got {budget_fte!r}")
    if budget_fte <= 0:
        raise ConfigError(f"the budget must be > 0 FTE, got {budget_fte!r}")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ConfigError(f"seeds must be distinct ints >= 0, at least one; got {seeds}")
    algorithm.check_params()
    algorithm.check_available()
    setup = getattr(evaluator, "one_time_costs", None)
    if setup is not None:  # e.g. a blockwise evaluator's teacher and block library
        cost = cost.with_one_time(**setup())
    if cost.one_time_s >= cost.to_seconds(budget_fte):
        raise ConfigError(
            f"the one-time costs ({cost.to_fte(cost.one_time_s):.3g} FTE) use up the whole budget of {budget_fte} FTE"
        )
    if algorithm.needs_live and evaluator.describe().get("kind") != "live":
        raise ConfigError(
            f"algorithm {algorithm.name!r} trains on the evaluator's recipe and data: give it a live evaluator "
            "(blox-search run --evaluator live; --reuse BENCHMARK.zarr answers models trained there)"
        )
    if algorithm.needs_latency and not evaluator.describe().get("latency_device"):
        raise ConfigError(
            f"algorithm {algorithm.name!r} searches accuracy x latency: give the evaluator a latency device"
        )
    attrs = search_attrs(
        algorithm, evaluator, budget_fte=budget_fte, cost=cost, max_evaluations=max_evaluations
    )
    store = _open_store(out, seeds, attrs, overwrite) if out is not None else None
    budget_s = cost.to_seconds(budget_fte)
    results: list[Trajectory] = []
    bar = _progress(len(seeds), algorithm.name, progress)
    try:
        for seed in seeds:
            replay = None
            if store is not None:
                status, recorded = store.recorded(seed)
                if not store.is_pending(seed) and recorded is not None:
                    results.append(_read_back(out, seed))
                    bar.update(1)
                    continue
                replay = recorded
            results.append(
                _run_seed(
                    algorithm, evaluator, seed, store, replay, budget_s, cost, max_evaluations, max_repeats
                )
            )
            bar.update(1)
    finally:
        bar.close()
    return results


def _run_seed(
    algorithm, evaluator, seed, store, replay, budget_s, cost, max_evaluations, max_repeats
) -> Trajectory:
    last_flush = [time.perf_counter()]

    def on_step(problem: Problem) -> None:
        if store is None:
            return
        now = time.perf_counter()
        if now - last_flush[0] >= FLUSH_SECONDS and len(problem.steps) > (len(replay) if replay else 0):
            store.flush(seed, problem.steps)
            last_flush[0] = now

    problem = Problem(
        evaluator.fresh(seed),
        budget_s=budget_s,
        fte_seconds=cost.fte_seconds,
        one_time_s=cost.one_time_s,
        max_evaluations=max_evaluations,
        max_repeats=max_repeats,
        replay=replay,
        on_step=on_step,
    )
    rng = np.random.default_rng(seed)
    try:
        algorithm.search(problem, rng)
        if problem.stop_reason == "running":
            problem.stop_reason = "finished"
    except BudgetExhausted:
        pass
    if replay is not None and len(problem.steps) < len(replay):
        raise ResumeError(
            f"resuming seed {seed} diverged: the store recorded {len(replay)} steps, the rerun stopped after "
            f"{len(problem.steps)} (rerun with --overwrite)"
        )
    logger.debug("seed %d: %d evaluations, %s", seed, len(problem.steps), problem.stop_reason)
    if store is not None:
        store.finish(
            seed, problem.steps, stop_reason=problem.stop_reason, wall_seconds=problem.wall_seconds,
            info=problem.info,
        )  # fmt: skip
    return Trajectory.from_steps(algorithm.name, seed, problem.stop_reason, problem.steps)


def _open_store(out: str | Path, seeds: list[int], attrs: dict[str, Any], overwrite: bool) -> SearchStore:
    path = Path(out)
    if path.exists() and not overwrite:
        store = SearchStore.open(path)
        old = store.attrs
        for key, value in attrs.items():
            if key == "evaluator":  # paths may be given differently; compare the rest
                value = {k: v for k, v in value.items() if k != "store"}
                old_value = {k: v for k, v in dict(old.get(key, {})).items() if k != "store"}
            else:
                old_value = old.get(key)
            if json.dumps(old_value, sort_keys=True) != json.dumps(value, sort_keys=True):
                raise ResumeError(
                    f"{path} holds another search ({key} differs: {json.dumps(old_value)[:120]} vs "
                    f"{json.dumps(value)[:120]}); pass --overwrite or choose another --out"
                )
        if store.seeds != seeds:
            raise ResumeError(
                f"{path} holds seeds {store.seeds}, not {seeds}; pass --overwrite or choose another --out"
            )
        return store
    return SearchStore.create(path, seeds=seeds, attrs=attrs, overwrite=overwrite)


def _read_back(out: Any, seed: int) -> Trajectory:
    from .trajectory import open_search

    return open_search(out).trajectory(seed)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, name: str, enabled: bool | None) -> Any:
    import sys

    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=f"search {name}", unit="seed", file=sys.stderr)
