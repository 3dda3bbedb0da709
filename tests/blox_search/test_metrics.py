"""Table 2 metrics: accuracy of the incumbent at a budget, cost to reach a target, the default
target of a benchmark store, and summarize's rows (keys, means, ddof=1 std, seeds left out)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from blox_search import CostModel, TabularEvaluator, Trajectory, get_algorithm, open_search, run_search
from blox_search.metrics import (
    SUMMARY_KEYS,
    acc_at_budget,
    cost_at_target,
    default_target,
    evaluator_label,
    summarize,
)
from blox_search.testing import synthetic_benchmark
from blox_space import open_benchmark
from blox_space.errors import ConfigError, StoreError
from blox_space.schema import RUN_STATUS, TEST_ACC
from blox_space.store import open_store, write_surrogate_store
from blox_space.store.spec import STATUS_FAILED, STATUS_PENDING
from hypothesis import given, settings
from hypothesis import strategies as st


def _traj(cum_fte, incumbent_reported, seed=0) -> Trajectory:
    cum = np.asarray(cum_fte, dtype=np.float64)
    n = len(cum)
    inc = np.asarray(incumbent_reported, dtype=np.float64)
    cost = np.diff(np.concatenate([[0.0], cum]))
    return Trajectory(
        "demo", seed, "budget",
        model=np.arange(n, dtype=np.int64), fidelity=np.ones(n, dtype=np.int32),
        search_metric=inc.copy(), reported_metric=inc.copy(), cost_s=cost, cum_cost_s=cum.copy(),
        cum_fte=cum, is_repeat=np.zeros(n, dtype=bool), incumbent=np.arange(n, dtype=np.int64),
        incumbent_search=inc.copy(), incumbent_reported=inc, latency_s=np.full(n, np.nan),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------
# per-seed numbers
# ---------------------------------------------------------------------------------------
def test_acc_at_budget_is_the_incumbent_at_the_last_step_within_the_budget():
    t = _traj([1.0, 2.0, 3.5, 5.0], [60.0, 70.0, 65.0, 80.0])
    assert acc_at_budget(t, 0.5) != acc_at_budget(t, 0.5)  # NaN: nothing within 0.5 FTE
    assert acc_at_budget(t, 1.0) == 60.0  # a step exactly at the budget counts
    assert acc_at_budget(t, 3.4) == 70.0
    assert acc_at_budget(t, 3.5) == 65.0  # the incumbent (by search metric) may report less
    assert acc_at_budget(t, 4.99) == 65.0  # the step that crosses the budget does not count
    assert acc_at_budget(t, 100.0) == 80.0


def test_a_step_that_spent_exactly_the_budget_counts_despite_rounding():
    fte_s = 3.0
    cum = 0.1 * 3 * fte_s / fte_s  # 0.30000000000000004
    t = _traj([cum], [50.0])
    assert cum > 0.3 and acc_at_budget(t, 0.3) == 50.0


def test_cost_at_target_is_the_first_step_reaching_it_within_the_budget():
    t = _traj([1.0, 2.0, 3.5, 5.0], [60.0, 70.0, 65.0, 80.0])
    assert cost_at_target(t, 70.0, 10.0) == 2.0  # >= target, the first such step
    assert cost_at_target(t, 66.0, 10.0) == 2.0
    assert cost_at_target(t, 75.0, 10.0) == 5.0
    assert cost_at_target(t, 75.0, 4.0) is None  # reached only past the budget: x
    assert cost_at_target(t, 90.0, 10.0) is None
    assert cost_at_target(_traj([], []), 1.0, 1.0) is None
    assert cost_at_target(_traj([1.0, 2.0], [np.nan, 71.0]), 70.0, 5.0) == 2.0


@pytest.mark.parametrize("budget", [0, -1.0, math.nan, math.inf, "5", True])
def test_bad_budgets_are_config_errors(budget):
    t = _traj([1.0], [50.0])
    with pytest.raises(ConfigError, match="budget"):
        acc_at_budget(t, budget)
    with pytest.raises(ConfigError, match="budget"):
        cost_at_target(t, 40.0, budget)


def test_a_non_finite_target_is_a_config_error():
    with pytest.raises(ConfigError, match="target"):
        cost_at_target(_traj([1.0], [50.0]), math.nan, 5.0)


_costs = st.lists(st.floats(0.0, 5.0, allow_nan=False), min_size=0, max_size=30)


@settings(max_examples=200, deadline=None)
@given(costs=_costs, data=st.data())
def test_both_numbers_match_their_definition(costs, data):
    cum = np.cumsum(costs) if costs else np.zeros(0)
    inc = data.draw(st.lists(st.floats(0, 100), min_size=len(cum), max_size=len(cum)))
    budget = data.draw(st.floats(0.01, 200.0))
    target = data.draw(st.floats(0.0, 100.0))
    t = _traj(cum, inc)
    slack = budget * (1 + 1e-9)  # the documented slack for a cost that spent exactly the budget
    within = [i for i in range(len(cum)) if cum[i] <= slack]
    expected_acc = inc[within[-1]] if within else math.nan
    got = acc_at_budget(t, budget)
    assert got == expected_acc or (math.isnan(got) and math.isnan(expected_acc))
    reach = [i for i in range(len(cum)) if inc[i] >= target]
    expected_cost = float(cum[reach[0]]) if reach and cum[reach[0]] <= slack else None
    assert cost_at_target(t, target, budget) == expected_cost


# ---------------------------------------------------------------------------------------
# default target
# ---------------------------------------------------------------------------------------
def test_default_target_is_the_best_seed_mean_test_accuracy(tmp_path):
    path = synthetic_benchmark(tmp_path / "b.zarr", models=np.arange(200), epochs=3, seeds=(0, 1))
    bench = open_benchmark(path, latency=[])
    test = np.stack([bench.test_acc(bench.models, seed=s) for s in (0, 1)], axis=1).astype(np.float64)
    assert default_target(path) == pytest.approx(test.mean(axis=1).max())
    # the best model's run of seed 1 failed: its value is its seed-0 run alone
    best = int(np.argmax(test.mean(axis=1)))
    group = open_store(path, mode="r+")
    status = group[RUN_STATUS.name][:]
    status[best, 1] = STATUS_FAILED
    group[RUN_STATUS.name][:] = status
    means = test.mean(axis=1)
    means[best] = test[best, 0]
    assert default_target(path) == pytest.approx(means.max())
    # a NaN test accuracy is not a finished measurement either
    values = group[TEST_ACC.name][:]
    values[best, 0] = np.nan
    group[TEST_ACC.name][:] = values
    means[best] = -np.inf
    assert default_target(path) == pytest.approx(means.max())


def test_default_target_of_a_surrogate_store_ignores_predicted_models(tmp_path):
    source = synthetic_benchmark(tmp_path / "src.zarr", models=np.arange(40), epochs=3)
    is_predicted = np.ones(91125, dtype=bool)
    is_predicted[:40] = False
    path = tmp_path / "sur.zarr"
    write_surrogate_store(
        path, source, metric="test_acc", values=np.full(91125, 99.0), std=np.zeros(91125),
        is_predicted=is_predicted, predictor={"name": "gcn", "params": {}, "train": {}}, ensemble_size=1,
    )  # fmt: skip
    assert default_target(path) == pytest.approx(default_target(source))
    assert default_target(path) < 99.0


def test_default_target_of_a_store_without_finished_runs_is_a_config_error(tmp_path):
    path = synthetic_benchmark(tmp_path / "b.zarr", models=np.arange(10), epochs=2)
    group = open_store(path, mode="r+")
    group[RUN_STATUS.name][:] = STATUS_PENDING
    with pytest.raises(ConfigError, match="no finished"):
        default_target(path)


def test_default_target_of_a_missing_store_is_a_store_error(tmp_path):
    with pytest.raises(StoreError):
        default_target(tmp_path / "nope.zarr")


# ---------------------------------------------------------------------------------------
# summarize
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def random_run(partial_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("metrics") / "random.zarr"
    run_search(
        get_algorithm("random"), TabularEvaluator(partial_store), budget_fte=30, seeds=[0, 1, 2, 3],
        cost=CostModel.from_benchmark(partial_store), out=out,
    )  # fmt: skip
    return out


def test_summarize_rows_start_with_the_contract_keys_and_match_the_definitions(random_run, partial_store):
    (row,) = summarize([random_run])
    assert tuple(row)[: len(SUMMARY_KEYS)] == SUMMARY_KEYS
    run = open_search(random_run)
    target = default_target(partial_store)
    accs = [acc_at_budget(t, 30.0) for t in run.trajectories()]
    costs = [c for c in (cost_at_target(t, target, 30.0) for t in run.trajectories()) if c is not None]
    assert row["algorithm"] == "random" and row["evaluator"] == "tabular:benchmark"
    assert row["num_seeds"] == 4 and row["budget_fte"] == 30.0 and row["target"] == target
    assert row["acc_at_budget_mean"] == pytest.approx(np.mean(accs))
    assert row["acc_at_budget_std"] == pytest.approx(np.std(accs, ddof=1))
    assert row["num_reached"] == len(costs)
    assert row["cost_at_target_mean"] == (pytest.approx(np.mean(costs)) if costs else None)
    assert row["target_store"] == str(partial_store) and row["seeds"] == [0, 1, 2, 3]
    assert row["num_pending"] == 0 and row["path"] == str(random_run)


def test_summarize_at_another_budget_and_target(random_run):
    run = open_search(random_run)
    (row,) = summarize([run], budget_fte=10.0, target=50.0)
    costs = [cost_at_target(t, 50.0, 10.0) for t in run.trajectories()]
    assert row["budget_fte"] == 10.0 and row["target"] == 50.0 and row["target_store"] is None
    assert row["num_reached"] == 4 and row["cost_at_target_mean"] == pytest.approx(np.mean(costs))
    assert row["cost_at_target_std"] == pytest.approx(np.std(costs, ddof=1))
    assert row["acc_at_budget_mean"] == pytest.approx(
        np.mean([acc_at_budget(t, 10.0) for t in run.trajectories()])
    )
    (never,) = summarize([run], target=100.0)
    assert never["cost_at_target_mean"] is None and never["num_reached"] == 0


def test_one_seed_has_std_zero_and_a_tiny_budget_gives_nan(partial_store, tmp_path):
    out = tmp_path / "one.zarr"
    run_search(
        get_algorithm("random"), TabularEvaluator(partial_store), budget_fte=3, seeds=[5],
        cost=CostModel.from_benchmark(partial_store), out=out,
    )  # fmt: skip
    (row,) = summarize([out], target=0.0)
    assert row["acc_at_budget_std"] == 0.0 and row["num_reached"] == 1 and row["cost_at_target_std"] == 0.0
    (tiny,) = summarize([out], budget_fte=1e-6)
    assert math.isnan(tiny["acc_at_budget_mean"]) and math.isnan(tiny["acc_at_budget_std"])
    assert tiny["num_at_budget"] == 0 and tiny["num_seeds"] == 1


def test_the_target_comes_from_the_fte_store_else_from_the_evaluators(partial_store, tmp_path):
    other = synthetic_benchmark(tmp_path / "normal.zarr", models=np.arange(300), epochs=12, seed=3)
    ev = TabularEvaluator(partial_store)
    out = tmp_path / "ref.zarr"
    run_search(
        get_algorithm("random"), ev, budget_fte=5, seeds=[0], cost=CostModel.from_benchmark(other), out=out
    )
    (row,) = summarize([out])
    assert row["target"] == pytest.approx(default_target(other)) and row["target_store"] == str(other)
    given = tmp_path / "given.zarr"
    run_search(get_algorithm("random"), ev, budget_fte=5, seeds=[0], cost=CostModel(500.0), out=given)
    (row,) = summarize([given])
    assert row["target"] == pytest.approx(default_target(partial_store)) and row["target_store"] == str(
        partial_store
    )


def test_a_gone_target_store_asks_for_a_target(partial_store, tmp_path):
    import shutil

    copy = tmp_path / "copy.zarr"
    shutil.copytree(partial_store, copy)
    out = tmp_path / "gone.zarr"
    run_search(
        get_algorithm("random"), TabularEvaluator(partial_store), budget_fte=5, seeds=[0],
        cost=CostModel.from_benchmark(copy), out=out,
    )  # fmt: skip
    shutil.rmtree(copy)
    with pytest.raises(StoreError, match="pass a target"):
        summarize([out])
    assert summarize([out], target=60.0)[0]["target"] == 60.0


def test_unfinished_seeds_are_left_out_and_counted(random_run, tmp_path):
    import shutil

    copy = tmp_path / "killed.zarr"
    shutil.copytree(random_run, copy)
    group = open_store(copy, mode="r+")
    status = group["status"][:]
    status[1] = STATUS_PENDING
    group["status"][:] = status
    (row,) = summarize([copy], target=50.0)
    assert row["num_seeds"] == 3 and row["num_pending"] == 1 and row["seeds"] == [0, 2, 3]


def test_summarize_checks_budget_and_target():
    with pytest.raises(ConfigError, match="budget"):
        summarize([], budget_fte=0)
    with pytest.raises(ConfigError, match="target"):
        summarize([], target=math.inf)
    assert summarize([]) == []


def test_evaluator_labels():
    assert evaluator_label({"kind": "tabular", "store_kind": "surrogate"}) == "tabular:surrogate"
    assert evaluator_label({"kind": "live", "store_kind": "benchmark"}) == "live"
    assert evaluator_label({}) == "unknown"
