"""DONNA's search: the exact predicted front, the exhaustive argmax under budgets (against brute
force, hypothesis), the NSGA-II evolution, and the ``donna`` algorithm on a generated blockwise
experiment (every evaluation paid once; the final models are the predictor's top picks)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from blox_search import TabularEvaluator, get_algorithm, list_algorithms, run_search
from blox_search.blockwise.donna import (
    DonnaSearch,
    donna_evolution,
    donna_exhaustive,
    model_costs,
    predictable_models,
    predicted_front,
)
from blox_search.cost import CostModel
from blox_space.arch import indices_to_blocks
from blox_space.blocks import NUM_MODELS
from blox_space.errors import ConfigError
from hypothesis import given, settings
from hypothesis import strategies as st

needs_predict = pytest.mark.skipif(
    importlib.util.find_spec("blox_predict") is None, reason="needs blox-predict (the DONNA predictor)"
)
STAGES = np.arange(3)


def _latency(table: np.ndarray, models: np.ndarray) -> np.ndarray:
    return table[STAGES, indices_to_blocks(models)].sum(axis=1)


def _brute_top(pred, models, cost, budget, k):
    """Sorting every feasible model by (-prediction, model index) in Python."""
    rows = sorted((-p, int(m)) for p, m, c in zip(pred, models, cost) if c <= budget and not np.isnan(p))
    return [m for _, m in rows[:k]]


def _dominated_brute(pred, lat):
    """O(n^2) definition: some other point at least as good in both and better in one."""
    p, q = pred[:, None], pred[None, :]
    a, b = lat[:, None], lat[None, :]
    dom = (q >= p) & (b <= a) & ((q > p) | (b < a))
    return dom.any(axis=1)


# ----------------------------------------------------------------------------- predicted_front
@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(1, 120),
    levels=st.integers(1, 6),
    nan_share=st.sampled_from([0.0, 0.1]),
    seed=st.integers(0, 2**31 - 1),
)
def test_predicted_front_is_the_set_of_non_dominated_models(n, levels, nan_share, seed):
    rng = np.random.default_rng(seed)
    pred = rng.integers(levels, size=n).astype(float)  # few levels: many ties
    lat = rng.integers(levels, size=n).astype(float)
    pred[rng.random(n) < nan_share] = np.nan
    models = rng.choice(NUM_MODELS, size=n, replace=False)
    front = predicted_front(pred, lat, models=models)
    valid = ~np.isnan(pred)
    expected = models[valid][~_dominated_brute(pred[valid], lat[valid])]
    assert sorted(front.tolist()) == sorted(expected.tolist())
    # by latency, then model index; the prediction never decreases along it
    pos = {int(m): i for i, m in enumerate(models)}
    rows = [(lat[pos[m]], m) for m in front.tolist()]
    assert rows == sorted(rows)
    assert np.all(np.diff([pred[pos[m]] for m in front.tolist()]) >= 0)


def test_predicted_front_over_the_whole_space_matches_a_sorted_sweep():
    rng = np.random.default_rng(3)
    pred = np.round(rng.normal(size=NUM_MODELS), 2)  # rounded: ties in both objectives
    lat = np.round(_latency(rng.random((3, 45)), np.arange(NUM_MODELS)), 2)
    front = predicted_front(pred, lat)
    on, best, i = [], -np.inf, 0
    order = sorted(range(NUM_MODELS), key=lambda m: (lat[m], -pred[m], m))
    while i < NUM_MODELS:  # one latency group at a time, fastest first
        j = i
        while j < NUM_MODELS and lat[order[j]] == lat[order[i]]:
            j += 1
        top = pred[order[i]]
        if top > best:
            on += [m for m in order[i:j] if pred[m] == top]
            best = top
        i = j
    assert front.tolist() == on


def test_predicted_front_checks_its_arrays():
    with pytest.raises(ConfigError, match="one value per model"):
        predicted_front([1.0, 2.0], [1.0])
    with pytest.raises(ConfigError, match="distinct"):
        predicted_front([1.0, 2.0], [1.0, 2.0], models=[3, 3])


# ----------------------------------------------------------------------------- exhaustive
def _signature_table(rng, num_blocks, quantised):
    table = np.full((3, 45), np.nan)
    for s in range(3):
        blocks = rng.choice(45, size=num_blocks, replace=False)
        values = rng.integers(4, size=num_blocks) if quantised else rng.random(num_blocks)
        table[s, blocks] = values
    return table


@needs_predict
@settings(max_examples=40, deadline=None)
@given(
    num_blocks=st.sampled_from([4, 7, 12, 45]),
    quantised=st.booleans(),
    order=st.sampled_from([1, 2]),
    quantile=st.floats(0.0, 1.0),
    k=st.integers(1, 6),
    seed=st.integers(0, 2**31 - 1),
)
def test_exhaustive_is_the_brute_force_argmax_of_the_fitted_predictor(
    num_blocks, quantised, order, quantile, k, seed
):
    from blox_predict import DonnaPredictor

    rng = np.random.default_rng(seed)
    table = _signature_table(rng, num_blocks, quantised)
    models = predictable_models(table)
    assert len(models) == num_blocks**3
    lat_table = np.round(rng.random((3, 45)), 1) + 0.1  # rounded: latency ties
    lat = _latency(lat_table, models)
    train = rng.choice(models, size=min(len(models), 30), replace=False)
    predictor = DonnaPredictor(order=order, alpha=1.0, signatures=table).fit(
        train, rng.normal(size=len(train))
    )
    pred = predictor.predict(models)
    budget = float(np.quantile(lat, quantile))
    got = donna_exhaustive(pred, models=models, latency=lat, latency_budget=budget, k=k)
    assert got.tolist() == _brute_top(pred, models, lat, budget, k)
    # below the fastest model: the error names the smallest feasible budget
    with pytest.raises(ConfigError, match=f"smallest feasible latency_budget is {lat.min():.6g} s"):
        donna_exhaustive(pred, models=models, latency=lat, latency_budget=lat.min() * 0.99, k=k)


def test_exhaustive_budgets_together_and_their_errors():
    models = np.array([10, 11, 12, 13])
    pred = np.array([0.5, 0.9, 0.7, np.nan])
    lat = np.array([1.0, 3.0, 2.0, 0.1])
    params = np.array([5.0, 1.0, 9.0, 1.0])
    assert donna_exhaustive(pred, models=models, k=9).tolist() == [11, 12, 10]  # NaN never chosen
    got = donna_exhaustive(
        pred, models=models, latency=lat, latency_budget=3.0, params=params, params_budget=6, k=3
    )
    assert got.tolist() == [11, 10]
    with pytest.raises(ConfigError, match="needs params="):
        donna_exhaustive(pred, models=models, params_budget=6)
    with pytest.raises(ConfigError, match="latency_budget must be a finite number > 0"):
        donna_exhaustive(pred, models=models, latency=lat, latency_budget=0)
    msg = "smallest feasible latency_budget is 3 s; the smallest feasible params_budget is 5 parameters"
    with pytest.raises(ConfigError, match=msg):
        donna_exhaustive(pred, models=models, latency=lat, latency_budget=1.5, params=params, params_budget=2)
    # model 13 is within both but has no prediction
    with pytest.raises(ConfigError, match="is 3 s; no params_budget is feasible under the other budgets"):
        donna_exhaustive(pred, models=models, latency=lat, latency_budget=0.5, params=params, params_budget=2)
    with pytest.raises(ConfigError, match="k must be an int >= 1"):
        donna_exhaustive(pred, models=models, k=0)


def test_exhaustive_breaks_ties_by_the_lower_model_index():
    models = np.array([40, 7, 12, 3])
    assert donna_exhaustive([1.0, 2.0, 2.0, 1.0], models=models, k=4).tolist() == [7, 12, 3, 40]


# ----------------------------------------------------------------------------- evolution
@pytest.fixture(scope="module")
def landscape():
    """Predictions and latencies of every model: additive, so a GA can climb it."""
    rng = np.random.default_rng(5)
    models = np.arange(NUM_MODELS)
    pred = _latency(rng.normal(size=(3, 45)), models) + 0.01 * rng.normal(size=NUM_MODELS)
    lat = _latency(rng.random((3, 45)), models)
    return models, pred, lat, float(np.quantile(lat, 0.3))


def test_evolution_is_deterministic_and_feasible(landscape):
    models, pred, lat, budget = landscape
    run = [donna_evolution(pred, rng=np.random.default_rng(1), models=models, latency=lat, latency_budget=budget)
           for _ in range(2)]  # fmt: skip
    a, b = run
    for field in ("front", "population", "visited", "predicted"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    other = donna_evolution(
        pred, rng=np.random.default_rng(2), models=models, latency=lat, latency_budget=budget
    )
    assert not np.array_equal(a.visited, other.visited)
    assert len(np.unique(a.population)) == len(a.population) == 50
    assert len(np.unique(a.visited)) == len(a.visited) <= 50 * 41
    assert np.array_equal(a.predicted, pred[a.visited])
    assert np.all(lat[a.front] <= budget)
    # the front is the exact front of what it visited within the budget
    seen = a.visited[lat[a.visited] <= budget]
    assert a.front.tolist() == predicted_front(pred[seen], lat[seen], models=seen).tolist()
    # it climbs: its best feasible model is among the top 0.1% of the feasible space
    feasible = pred[lat <= budget]
    assert pred[a.front].max() >= np.quantile(feasible, 0.999)


def test_evolution_with_a_prediction_function_equals_the_table(landscape):
    models, pred, lat, budget = landscape
    calls = []

    def predict(m):
        calls.append(len(m))
        return pred[m]

    table = donna_evolution(pred, rng=np.random.default_rng(4), models=models, latency=lat, latency_budget=budget,
                            generations=5)  # fmt: skip
    func = donna_evolution(predict, rng=np.random.default_rng(4), models=models, latency=lat, latency_budget=budget,
                           generations=5)  # fmt: skip
    assert np.array_equal(table.visited, func.visited) and np.array_equal(table.front, func.front)
    assert len(calls) <= 6 and sum(calls) == len(func.visited)


def test_single_objective_evolution_on_a_subset_finds_the_constrained_best():
    rng = np.random.default_rng(0)
    models = np.sort(rng.choice(NUM_MODELS, size=300, replace=False))  # not a product: repairs happen
    pred = rng.normal(size=300)
    params = rng.random(300)
    got = donna_evolution(pred, rng=np.random.default_rng(0), models=models, params=params, params_budget=0.5)
    assert set(got.visited.tolist()) <= set(models.tolist())
    best = donna_exhaustive(pred, models=models, params=params, params_budget=0.5)
    assert got.front.tolist() == best.tolist()  # 300 models: it sees them all
    with pytest.raises(ConfigError, match="smallest feasible params_budget"):
        donna_evolution(pred, rng=np.random.default_rng(0), models=models, params=params, params_budget=1e-9)
    with pytest.raises(ConfigError, match="population_size must be an int >= 2"):
        donna_evolution(pred, rng=rng, models=models, population_size=1)


# ----------------------------------------------------------------------------- the algorithm
def test_donna_is_registered_with_checked_params():
    assert "donna" in list_algorithms()
    algorithm = get_algorithm("donna")
    assert isinstance(algorithm, DonnaSearch) and algorithm.requires == ("blox_predict",)
    assert callable(algorithm.search)
    for bad in ({"order": 3}, {"strategy": "random"}, {"pick": "all"}, {"latency_budget": 0}, {"alpha": 0},
                {"num_samples": 0}, {"crossover_prob": 2.0}):  # fmt: skip
        with pytest.raises(ConfigError):
            get_algorithm("donna", **bad)


@pytest.fixture(scope="module")
def cost(blockwise_stores):
    return CostModel.from_benchmark(blockwise_stores["benchmark"])


def _run(evaluator, cost, seeds=(0,), **params):
    return run_search(
        get_algorithm("donna", **params), evaluator, budget_fte=1e4, seeds=list(seeds), cost=cost
    )


def _refit(evaluator, trajectory, num_samples, **params):
    """The predictor the search fitted, refitted from its first ``num_samples`` steps."""
    from blox_predict import DonnaPredictor

    view = evaluator.blockwise_view(params.get("teacher"))
    table = view.signatures("donna")
    students = trajectory.model[:num_samples]
    predictor = DonnaPredictor(order=params.get("order", 1), signatures=table)
    predictor.fit(students, trajectory.search_metric[:num_samples])
    pool = np.intersect1d(predictable_models(table), evaluator.candidates)
    return view, students, pool, predictor.predict(pool)


@needs_predict
@pytest.mark.parametrize("strategy", ["exhaustive", "evolution"])
def test_donna_pays_each_evaluation_once_and_fine_tunes_the_top_picks(blockwise_evaluator, cost, strategy):
    ev = blockwise_evaluator
    one_time = sum(ev.one_time_costs().values())
    (t,) = _run(ev, cost, num_samples=12, num_final=5, strategy=strategy)
    assert t.stop_reason == "finished" and not t.is_repeat.any()
    assert len(np.unique(t.model)) == len(t)
    assert np.isclose(t.cost_s.sum(), t.cum_cost_s[-1] - one_time)
    assert np.all(t.cost_s > 0)
    view, students, pool, pred = _refit(ev, t, 12)
    top = donna_exhaustive(pred, models=pool, k=5)
    assert t.model[12:].tolist() == [m for m in top.tolist() if m not in set(students.tolist())]
    again = _run(ev, cost, num_samples=12, num_final=5, strategy=strategy)[0]
    assert np.array_equal(again.model, t.model)


@needs_predict
def test_donna_under_a_latency_budget_and_along_the_front(blockwise_evaluator, cost):
    ev = blockwise_evaluator
    view = ev.blockwise_view()
    lat = model_costs(view, ev.candidates)["latency"]
    budget = float(np.quantile(lat, 0.4))
    (t,) = _run(ev, cost, num_samples=10, num_final=4, latency_budget=budget)
    _, students, pool, pred = _refit(ev, t, 10)
    pool_lat = model_costs(view, pool)["latency"]
    top = donna_exhaustive(pred, models=pool, latency=pool_lat, latency_budget=budget, k=4).tolist()
    assert t.model[10:].tolist() == [m for m in top if m not in set(students.tolist())]
    (f,) = _run(ev, cost, num_samples=10, num_final=4, pick="front")
    _, students, pool, pred = _refit(ev, f, 10)
    front = set(predicted_front(pred, model_costs(view, pool)["latency"], models=pool).tolist())
    finals = f.model[10:].tolist()
    assert finals and set(finals) <= front
    with pytest.raises(ConfigError, match="smallest feasible latency_budget"):
        _run(ev, cost, latency_budget=float(lat.min()) * 0.5)


@needs_predict
def test_donna_with_another_teacher_pays_its_setup_once(blockwise_evaluator, cost):
    ev = blockwise_evaluator
    (t,) = _run(ev, cost, num_samples=6, num_final=3, teacher="M5", fidelity=2)
    assert np.all(t.source == ev.sources.index("M5"))
    assert np.isclose(t.cost_s.sum(), t.cum_cost_s[-1] - sum(ev.one_time_costs().values()))
    assert t.fidelity[:6].tolist() == [2] * 6 and set(t.fidelity[6:].tolist()) == {4}
    assert t.cost_s[0] > t.cost_s[1]  # M5's library and training ride on its first evaluation


@needs_predict
def test_donna_refuses_bad_sample_counts_and_non_blockwise_evaluators(
    blockwise_evaluator, cost, partial_store
):
    ev = blockwise_evaluator
    with pytest.raises(ConfigError, match=r"predictor's minimum \(10 at order 2\)"):
        _run(ev, cost, num_samples=6, order=2)
    with pytest.raises(ConfigError, match=f"got {len(ev.candidates) + 1}"):
        _run(ev, cost, num_samples=len(ev.candidates) + 1)
    with pytest.raises(ConfigError, match="needs a blockwise evaluator"):
        run_search(get_algorithm("donna"), TabularEvaluator(partial_store), budget_fte=10, seeds=[0],
                   cost=CostModel.from_benchmark(partial_store))  # fmt: skip


def test_pick_front_spreads_along_the_front_from_its_best_end():
    rng = np.random.default_rng(8)
    models = np.sort(rng.choice(NUM_MODELS, size=400, replace=False))
    pred, lat = rng.normal(size=400), rng.random(400)
    costs = {"latency": lat, "params": None, "macs": None}
    front = predicted_front(pred, lat, models=models)
    one = get_algorithm("donna", pick="front", num_final=1).choose(pred, models, costs, rng)
    assert one.tolist() == donna_exhaustive(pred, models=models).tolist() == front[-1:].tolist()
    three = get_algorithm("donna", pick="front", num_final=3).choose(pred, models, costs, rng)
    assert len(front) > 3
    spread = front[[len(front) - 1, round((len(front) - 1) / 2), 0]]  # even positions, both ends
    assert three.tolist() == spread.tolist()  # along the front the prediction grows: best first
