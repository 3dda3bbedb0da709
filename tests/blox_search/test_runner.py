"""run_search and the search store: budget, one-time costs, stopping rules, the store's
contents (readable with xarray), and refusing to resume a different search."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from blox_search import (
    Algorithm,
    CostModel,
    ResumeError,
    TabularEvaluator,
    get_algorithm,
    open_search,
    run_search,
)
from blox_search.trajectory import TRAJECTORY_COLUMNS
from blox_space.errors import ConfigError


@pytest.fixture(scope="module")
def evaluator(partial_store):
    return TabularEvaluator(partial_store)


@pytest.fixture(scope="module")
def cost(partial_store):
    return CostModel.from_benchmark(partial_store)


def test_budget_and_one_time_costs(evaluator, cost):
    with_library = cost.with_one_time(library=cost.to_seconds(2.0))
    (plain,) = run_search(get_algorithm("random"), evaluator, budget_fte=10, seeds=[3], cost=cost)
    (charged,) = run_search(get_algorithm("random"), evaluator, budget_fte=10, seeds=[3], cost=with_library)
    assert charged.cum_fte[0] == pytest.approx(2.0 + charged.cost_s[0] / cost.fte_seconds)
    assert np.allclose(charged.cum_cost_s, with_library.one_time_s + np.cumsum(charged.cost_s))
    assert len(charged) < len(plain)  # the library ate 2 of the 10 FTE
    for traj in (plain, charged):
        assert traj.cum_fte[-1] >= 10 > traj.cum_fte[-2]  # the last step crosses the budget
        assert traj.stop_reason == "budget"


def test_incumbent_is_the_best_search_metric_so_far(evaluator, cost):
    (traj,) = run_search(get_algorithm("random"), evaluator, budget_fte=20, seeds=[0], cost=cost)
    best = np.maximum.accumulate(traj.search_metric)
    assert np.array_equal(traj.incumbent_search, best)
    for i in range(len(traj)):
        j = int(np.argmax(traj.search_metric[: i + 1]))  # earliest on ties
        assert traj.incumbent[i] == traj.model[j] and traj.incumbent_reported[i] == traj.reported_metric[j]


def test_finished_when_every_candidate_is_evaluated(evaluator, cost):
    (traj,) = run_search(get_algorithm("random"), evaluator, budget_fte=1e6, seeds=[0], cost=cost)
    assert traj.stop_reason == "finished" and len(traj) == 500 and len(set(traj.model)) == 500


def test_max_evaluations_and_stalling(evaluator, cost):
    (capped,) = run_search(
        get_algorithm("random"), evaluator, budget_fte=1e6, seeds=[0], cost=cost, max_evaluations=7
    )
    assert len(capped) == 7 and capped.stop_reason == "max_evaluations"

    class Stubborn(Algorithm):
        name = "stubborn"

        def search(self, problem, rng):
            while True:
                problem.evaluate(int(problem.candidates[0]))

    (stalled,) = run_search(Stubborn(), evaluator, budget_fte=1e6, seeds=[0], cost=cost, max_repeats=50)
    assert stalled.stop_reason == "stalled" and len(stalled) == 51 and stalled.is_repeat[1:].all()


def test_store_round_trip_and_xarray(evaluator, cost, tmp_path):
    out = tmp_path / "run.zarr"
    trajs = run_search(get_algorithm("random"), evaluator, budget_fte=15, seeds=[0, 4], cost=cost, out=out)
    run = open_search(out)
    assert run.algorithm == "random" and run.seeds == [0, 4] and run.is_done and run.budget_fte == 15
    assert run.evaluator["kind"] == "tabular" and run.cost["fte_seconds"] == cost.fte_seconds
    for traj in trajs:
        back = run.trajectory(traj.seed)
        for name in ("model", "fidelity", "search_metric", "cum_cost_s", "is_repeat", "incumbent_reported"):
            assert np.array_equal(getattr(back, name), getattr(traj, name))
    frame = run.to_frame()
    assert list(frame.columns[: len(TRAJECTORY_COLUMNS)]) == list(TRAJECTORY_COLUMNS)
    assert len(frame) == sum(len(t) for t in trajs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xr.open_zarr(out, consolidated=False)
    assert ds["cum_fte"].dims == ("seed", "step") and ds["cum_fte"].attrs["units"] == "1"


def test_long_searches_grow_the_store(full_store, tmp_path):
    ev = TabularEvaluator(full_store)
    cost = CostModel.from_benchmark(full_store)
    out = tmp_path / "long.zarr"
    (traj,) = run_search(
        get_algorithm("random"), ev, budget_fte=1e9, seeds=[1], cost=cost, out=out, max_evaluations=2500
    )
    assert len(traj) == 2500
    back = open_search(out).trajectory(1)
    assert np.array_equal(back.model, traj.model)


def test_a_finished_store_is_read_back_and_a_different_search_refused(evaluator, cost, tmp_path):
    out = tmp_path / "run.zarr"
    first = run_search(get_algorithm("random"), evaluator, budget_fte=5, seeds=[0], cost=cost, out=out)
    again = run_search(get_algorithm("random"), evaluator, budget_fte=5, seeds=[0], cost=cost, out=out)
    assert np.array_equal(first[0].model, again[0].model)
    with pytest.raises(ResumeError, match="budget_fte differs"):
        run_search(get_algorithm("random"), evaluator, budget_fte=6, seeds=[0], cost=cost, out=out)
    with pytest.raises(ResumeError, match="algorithm_params differs"):
        run_search(
            get_algorithm("random", fidelity=3), evaluator, budget_fte=5, seeds=[0], cost=cost, out=out
        )
    with pytest.raises(ResumeError, match="seeds"):
        run_search(get_algorithm("random"), evaluator, budget_fte=5, seeds=[0, 1], cost=cost, out=out)
    replaced = run_search(
        get_algorithm("random"), evaluator, budget_fte=6, seeds=[0], cost=cost, out=out, overwrite=True
    )
    assert open_search(out).budget_fte == 6 and len(replaced[0]) >= len(first[0])


def test_resume_that_diverges_is_refused(evaluator, cost, tmp_path):
    import zarr

    out = tmp_path / "run.zarr"
    run_search(get_algorithm("random"), evaluator, budget_fte=5, seeds=[0], cost=cost, out=out)
    group = zarr.open_group(out, mode="r+")
    group["status"][0] = 0  # as if killed
    group["model"][0, 1] = int(group["model"][0, 2])  # and the record no longer matches
    with pytest.raises(ResumeError, match="diverged at step 1"):
        run_search(get_algorithm("random"), evaluator, budget_fte=5, seeds=[0], cost=cost, out=out)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"budget_fte": 0}, "budget"),
        ({"budget_fte": float("nan")}, "budget"),
        ({"budget_fte": 5, "seeds": []}, "seeds"),
        ({"budget_fte": 5, "seeds": [1, 1]}, "seeds"),
        ({"budget_fte": 5, "seeds": [-1]}, "seeds"),
    ],
)
def test_bad_arguments(evaluator, cost, kwargs, match):
    kwargs = {"seeds": [0], **kwargs}
    with pytest.raises(ConfigError, match=match):
        run_search(get_algorithm("random"), evaluator, cost=cost, **kwargs)


def test_one_time_costs_beyond_the_budget(evaluator, cost):
    with pytest.raises(ConfigError, match="use up the whole budget"):
        run_search(
            get_algorithm("random"),
            evaluator,
            budget_fte=1,
            seeds=[0],
            cost=cost.with_one_time(x=cost.fte_seconds * 2),
        )


def test_unknown_algorithm_and_parameter():
    from blox_search import UnknownAlgorithmError

    with pytest.raises(UnknownAlgorithmError, match="known algorithms"):
        get_algorithm("randon")
    with pytest.raises(ConfigError, match="parameters are fidelity"):
        get_algorithm("random", population=3)
