"""Fronts, 2-D hypervolume, pareto_summary and the Pareto-aware regularized evolution."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from blox_search import (
    CostModel,
    SearchError,
    TabularEvaluator,
    get_algorithm,
    hypervolume,
    list_algorithms,
    open_search,
    pareto_mask,
    pareto_summary,
    run_search,
)
from blox_search.pareto import crowding_distance, pareto_ranks
from blox_search.testing import synthetic_benchmark, synthetic_latency
from blox_space.errors import ConfigError
from hypothesis import given, settings
from hypothesis import strategies as st

DEVICE = "synthetic-cpu"


# ---------------------------------------------------------------- fronts and hypervolume
def brute_mask(acc, lat):
    n = len(acc)
    out = np.ones(n, dtype=bool)
    for i, j in itertools.product(range(n), repeat=2):
        if acc[j] >= acc[i] and lat[j] <= lat[i] and (acc[j] > acc[i] or lat[j] < lat[i]):
            out[i] = False
    return out


def test_pareto_mask_small_cases():
    acc = np.array([70.0, 75.0, 72.0, 75.0, 60.0, 80.0])
    lat = np.array([1.0, 2.0, 2.5, 2.0, 0.5, 5.0])
    # 72 @ 2.5 is dominated by 75 @ 2; the duplicated 75 @ 2 are both on the front
    assert pareto_mask(acc, lat).tolist() == [True, True, False, True, True, True]
    assert pareto_mask([], []).tolist() == []
    assert pareto_mask([np.nan, 1.0], [0.1, 1.0]).tolist() == [False, True]
    # equal latency, lower accuracy: dominated
    assert pareto_mask([1.0, 2.0], [1.0, 1.0]).tolist() == [False, True]


def test_hypervolume_hand_computed():
    ref = (60.0, 3.0)
    assert hypervolume([70.0], [1.0], ref) == pytest.approx(10.0 * 2.0)
    # staircase: 70 from latency 1 to 2, then 75 from 2 to 3
    assert hypervolume([70.0, 75.0], [1.0, 2.0], ref) == pytest.approx(10.0 * 1.0 + 15.0 * 1.0)
    # a dominated point and a point beyond the reference add nothing
    assert hypervolume([70.0, 75.0, 72.0, 90.0], [1.0, 2.0, 2.5, 3.5], ref) == pytest.approx(25.0)
    assert hypervolume([55.0], [1.0], ref) == 0.0  # worse than the reference accuracy
    assert hypervolume([], [], ref) == 0.0
    # three points: 2*(1-0) + 3*(2-1) + 5*(4-2) with reference (0, 4)
    assert hypervolume([2.0, 3.0, 5.0], [0.0, 1.0, 2.0], (0.0, 4.0)) == pytest.approx(2 + 3 + 10)


def test_hypervolume_checks_its_inputs():
    with pytest.raises(ConfigError, match="same length"):
        hypervolume([1.0, 2.0], [1.0], (0.0, 1.0))
    with pytest.raises(ConfigError, match="two finite numbers"):
        hypervolume([1.0], [1.0], (0.0, np.inf))


def _grid_area(acc, lat, ref, n=400):
    """Monte-Carlo-free check: the dominated area on a fine grid of cell centres."""
    a0, l1 = ref
    a1, l0 = max(max(acc), a0 + 1e-9), min(min(lat), l1)
    xs = a0 + (np.arange(n) + 0.5) * (a1 - a0) / n
    ys = l0 + (np.arange(n) + 0.5) * (l1 - l0) / n
    X, Y = np.meshgrid(xs, ys)
    covered = np.zeros_like(X, dtype=bool)
    for a, la in zip(acc, lat):
        covered |= (X <= a) & (Y >= la)
    return covered.mean() * (a1 - a0) * (l1 - l0)


points = st.lists(
    st.tuples(st.integers(0, 40).map(float), st.integers(0, 40).map(lambda v: v / 10)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(points)
def test_front_properties(pts):
    acc, lat = (np.array(v) for v in zip(*pts))
    mask = pareto_mask(acc, lat)
    assert mask.tolist() == brute_mask(acc, lat).tolist()
    ref = (-1.0, 5.0)
    full = hypervolume(acc, lat, ref)
    # the front carries the whole hypervolume, and any subset has no more
    assert hypervolume(acc[mask], lat[mask], ref) == pytest.approx(full)
    rng = np.random.default_rng(len(pts))
    subset = rng.random(len(acc)) < 0.5
    assert hypervolume(acc[subset], lat[subset], ref) <= full + 1e-9
    # adding a point dominated by one of the front changes nothing
    i = int(np.flatnonzero(mask)[0])
    more_acc, more_lat = np.append(acc, acc[i] - 0.5), np.append(lat, lat[i] + 0.1)
    assert hypervolume(more_acc, more_lat, ref) == pytest.approx(full)
    assert full == pytest.approx(_grid_area(acc, lat, ref), rel=0.05, abs=0.5)


def test_ranks_and_crowding():
    acc = np.array([1.0, 2.0, 3.0, 1.0, 2.0])
    lat = np.array([1.0, 2.0, 3.0, 2.0, 3.0])
    assert pareto_ranks(acc, lat).tolist() == [0, 0, 0, 1, 1]
    crowd = crowding_distance(acc[:3], lat[:3])
    assert np.isinf(crowd[[0, 2]]).all() and crowd[1] == pytest.approx(2.0)
    assert pareto_ranks([np.nan, 1.0], [1.0, 1.0]).tolist() == [1, 0]


# ---------------------------------------------------------------- searches with latency
@pytest.fixture(scope="module")
def lat_store(tmp_path_factory):
    """3,000 models of the structured landscape with a lookup-table latency recorded with it."""
    root = tmp_path_factory.mktemp("pareto")
    models = np.random.default_rng(11).choice(91125, size=3000, replace=False)
    bench = synthetic_benchmark(root / "bench.zarr", models=models, epochs=4)
    synthetic_latency(root / "lat.zarr", device=DEVICE, benchmark=bench)
    return bench


@pytest.fixture(scope="module")
def runs(lat_store, tmp_path_factory):
    """pareto_re and random search at the same budget, eight seeds each, in search stores."""
    root = tmp_path_factory.mktemp("pareto_runs")
    ev = TabularEvaluator(lat_store, latency_device=DEVICE)
    cost = CostModel.from_benchmark(lat_store)
    out = {}
    for name in ("pareto_re", "random"):
        path = root / f"{name}.zarr"
        run_search(get_algorithm(name), ev, budget_fte=150, seeds=range(8), cost=cost, out=path)
        out[name] = path
    return out


def test_synthetic_latency_is_reported(lat_store, tmp_path):
    ev = TabularEvaluator(lat_store, latency_device=DEVICE)
    model = int(ev.candidates[0])
    first = ev.evaluate(model)
    assert np.isfinite(first.latency_s) and 1e-4 < first.latency_s < 1e-2
    # attached explicitly gives the same numbers
    other = synthetic_latency(tmp_path / "again.zarr", device="other")
    ev2 = TabularEvaluator(lat_store, latency_device="other", latency=[other])
    assert ev2.evaluate(model).latency_s == pytest.approx(first.latency_s)
    assert ev.fresh(3).evaluate(model).latency_s == first.latency_s
    with pytest.raises(ConfigError, match="no latency for device"):
        TabularEvaluator(lat_store, latency_device="nope")


def test_pareto_re_is_registered_and_needs_latency(lat_store):
    assert "pareto_re" in list_algorithms()
    alg = get_algorithm("pareto_re")
    assert alg.needs_latency
    with pytest.raises(ConfigError, match="latency device"):
        run_search(
            alg,
            TabularEvaluator(lat_store),
            budget_fte=5,
            seeds=[0],
            cost=CostModel.from_benchmark(lat_store),
        )
    with pytest.raises(ConfigError, match="sample_size"):
        get_algorithm("pareto_re", population_size=3, sample_size=4)


def test_pareto_re_stays_in_candidates_and_is_deterministic(lat_store, runs):
    ev = TabularEvaluator(lat_store, latency_device=DEVICE)
    run = open_search(runs["pareto_re"])
    allowed = set(ev.candidates.tolist())
    for traj in run.trajectories():
        assert set(traj.model.tolist()) <= allowed
        assert np.isfinite(traj.latency_s).all()
    again = run_search(
        get_algorithm("pareto_re"), ev, budget_fte=150, seeds=[0, 1], cost=CostModel.from_benchmark(lat_store)
    )
    for traj in again:
        assert np.array_equal(traj.model, run.trajectory(traj.seed).model)


def test_pareto_summary_and_pareto_re_beats_random(lat_store, runs):
    ours = pareto_summary(runs["pareto_re"])
    base = pareto_summary(str(runs["random"]))
    for summary in (ours, base):
        assert set(summary) == {
            "algorithm",
            "evaluator",
            "latency_device",
            "reference_point",
            "true_hypervolume",
            "seeds",
            "normalized_hypervolume_mean",
            "normalized_hypervolume_std",
        }
        assert summary["latency_device"] == DEVICE
        assert len(summary["seeds"]) == 8
        for row in summary["seeds"]:
            assert 0.0 < row["normalized_hypervolume"] <= 1.0
            assert row["front_size"] >= 1
    # the fixed reference point is the worst of all candidates, the same for both runs
    ev = TabularEvaluator(lat_store, latency_device=DEVICE)
    table = ev.oracle()
    assert (
        ours["reference_point"]
        == base["reference_point"]
        == {
            "reported_metric": pytest.approx(float(np.nanmin(table["reported_metric"]))),
            "latency_s": pytest.approx(float(np.nanmax(table["latency_s"]))),
        }
    )
    assert ours["true_hypervolume"] == pytest.approx(base["true_hypervolume"])
    assert ours["normalized_hypervolume_mean"] > base["normalized_hypervolume_mean"]


def test_pareto_summary_of_all_candidates_is_one(lat_store, tmp_path):
    """A search that evaluated every candidate found the true front."""
    ev = TabularEvaluator(lat_store, latency_device=DEVICE)
    cost = CostModel.from_benchmark(lat_store)
    run_search(get_algorithm("random"), ev, budget_fte=1e9, seeds=[0], cost=cost, out=tmp_path / "all.zarr")
    summary = pareto_summary(tmp_path / "all.zarr")
    assert summary["seeds"][0]["normalized_hypervolume"] == pytest.approx(1.0)


def test_pareto_summary_needs_latency(lat_store, tmp_path):
    cost = CostModel.from_benchmark(lat_store)
    run_search(get_algorithm("random"), TabularEvaluator(lat_store), budget_fte=3, seeds=[0], cost=cost,
               out=tmp_path / "r.zarr")  # fmt: skip
    with pytest.raises(SearchError, match="no latency device"):
        pareto_summary(tmp_path / "r.zarr")
