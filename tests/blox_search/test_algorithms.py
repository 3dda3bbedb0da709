"""Every registered search algorithm on generated stores whose answer is known: the contract
(candidates only, exact cost accounting, the budget stop, determinism, bit-for-bit resume),
random search against the exact order statistic, the algorithms that exploit structure
against random search, and Hyperband's rungs and cost accounting."""

from __future__ import annotations

import importlib.util
import math
from dataclasses import fields

import numpy as np
import pytest
from blox_search import (
    CandidateSpace,
    CostModel,
    TabularEvaluator,
    Trajectory,
    get_algorithm,
    list_algorithms,
    run_search,
)
from blox_search.algorithm import ALGORITHMS
from blox_search.conventional.hyperband import bracket_sizes, rung_fidelities
from blox_search.conventional.reinforce import sample_policy
from blox_search.testing import synthetic_benchmark
from blox_space.errors import ConfigError
from blox_space.store import open_store, read_array

# ----------------------------------------------------------------------------- helpers


class CheckedEvaluator:
    """A tabular evaluator that fails the test when asked for a non-candidate or an unoffered
    fidelity, and counts every call."""

    def __init__(self, inner: TabularEvaluator, calls: list[tuple[int, int | None]]) -> None:
        self._inner, self.calls = inner, calls
        self._allowed = set(int(m) for m in inner.candidates)

    @property
    def candidates(self) -> np.ndarray:
        return self._inner.candidates

    @property
    def fidelities(self) -> tuple[int, ...]:
        return self._inner.fidelities

    def evaluate(self, model, *, fidelity=None, mode="continue"):
        assert int(model) in self._allowed, f"evaluated non-candidate {model}"
        assert fidelity is None or fidelity in self._inner.fidelities, f"unoffered fidelity {fidelity}"
        self.calls.append((int(model), fidelity))
        return self._inner.evaluate(model, fidelity=fidelity, mode=mode)

    def fresh(self, seed: int) -> CheckedEvaluator:
        return CheckedEvaluator(self._inner.fresh(seed), self.calls)

    def describe(self) -> dict:
        return self._inner.describe()


def _runnable(name: str) -> bool:
    cls = ALGORITHMS.get(name)
    return (
        not cls.needs_latency
        and not cls.needs_blockwise
        and not cls.needs_live  # DARTS-PT trains a supernet: tests/blox_search/test_darts_pt.py
        and all(importlib.util.find_spec(m) is not None for m in cls.requires)
    )


RUNNABLE = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            not _runnable(name), reason="needs latency, a blockwise or live evaluator, or a missing extra"
        ),
    )
    for name in list_algorithms()
]

STEP_ARRAYS = [f.name for f in fields(Trajectory) if f.name not in ("algorithm", "seed", "stop_reason")]


def _same(a, b) -> bool:
    return a.stop_reason == b.stop_reason and all(
        np.array_equal(getattr(a, n), getattr(b, n), equal_nan=getattr(a, n).dtype.kind == "f")
        for n in STEP_ARRAYS
    )


def _final_reported(name, evaluator, cost, budget_fte, seeds, **params) -> np.ndarray:
    runs = run_search(get_algorithm(name, **params), evaluator, budget_fte=budget_fte, seeds=seeds, cost=cost)
    return np.array([t.incumbent_reported[-1] for t in runs])


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def small_store(tmp_path_factory) -> str:
    """200 models, full training only matters (order-statistic test)."""
    models = np.random.default_rng(11).choice(91125, size=200, replace=False)
    return synthetic_benchmark(tmp_path_factory.mktemp("small") / "small.zarr", models=models, epochs=3)


@pytest.fixture(scope="module")
def long_store(tmp_path_factory) -> str:
    """20,000 models trained 27 epochs: Hyperband gets four rungs (1, 3, 9, 27)."""
    models = np.random.default_rng(3).choice(91125, size=20_000, replace=False)
    return synthetic_benchmark(tmp_path_factory.mktemp("long") / "long.zarr", models=models, epochs=27)


@pytest.fixture(scope="module")
def single_fidelity_store(tmp_path_factory) -> str:
    """300 models with one epoch: the evaluator offers a single fidelity (like a surrogate)."""
    models = np.random.default_rng(5).choice(91125, size=300, replace=False)
    return synthetic_benchmark(tmp_path_factory.mktemp("one") / "one.zarr", models=models, epochs=1)


# ----------------------------------------------------------------------------- contract


@pytest.mark.parametrize("name", RUNNABLE)
def test_algorithm_contract(name, partial_store, tmp_path):
    calls: list[tuple[int, int | None]] = []
    evaluator = CheckedEvaluator(TabularEvaluator(partial_store), calls)
    cost = CostModel.from_benchmark(partial_store).with_one_time(library=123.25)
    budget_fte = 10.0
    budget_s = cost.to_seconds(budget_fte)
    seeds = [0, 1]
    algorithm = get_algorithm(name)
    runs = run_search(algorithm, evaluator, budget_fte=budget_fte, seeds=seeds, cost=cost)
    candidates = set(int(m) for m in evaluator.candidates)
    assert calls, "the algorithm evaluated nothing"
    for t in runs:
        assert len(t) > 1
        assert set(t.model.tolist()) <= candidates
        # cumulative cost: the one-time cost, then every paid evaluation, summed in order
        expected = np.cumsum(np.concatenate([[cost.one_time_s], t.cost_s]))[1:]
        assert np.array_equal(t.cum_cost_s, expected)
        assert np.all(t.cost_s[t.is_repeat] == 0)
        # the budget stop: the last step crosses the budget, none comes after it
        assert t.stop_reason == "budget"
        assert t.cum_cost_s[-1] >= budget_s > t.cum_cost_s[-2]
        # incumbent: the best search metric so far
        assert np.array_equal(t.incumbent_search, np.maximum.accumulate(t.search_metric))
    # another seed, another trajectory; the same seed (run again, into a store), the same one
    assert not np.array_equal(runs[0].model[: len(runs[1])], runs[1].model[: len(runs[0])])
    out = tmp_path / "run.zarr"
    stored = run_search(algorithm, evaluator, budget_fte=budget_fte, seeds=seeds, cost=cost, out=out)
    assert all(_same(a, b) for a, b in zip(runs, stored))

    # resume: a killed search continues from its store to the identical trajectory
    group = open_store(out, mode="r+")
    killed = len(runs[1]) // 2
    group["status"][1] = 0  # pending: the run was killed while searching seed 1
    group["num_steps"][1] = killed
    assert int(read_array(group, "num_steps")[1]) == killed
    resumed = run_search(algorithm, evaluator, budget_fte=budget_fte, seeds=seeds, cost=cost, out=out)
    assert all(_same(a, b) for a, b in zip(runs, resumed))
    assert int(read_array(open_store(out), "status")[1]) != 0


@pytest.mark.parametrize("name", RUNNABLE)
def test_algorithm_defaults_are_valid(name):
    algorithm = get_algorithm(name)
    algorithm.check_params()
    assert set(algorithm.get_params()) == set(algorithm.param_names())


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("re", {"population_size": 0}),
        ("re", {"sample_size": 0}),
        ("re", {"sample_size": 11}),
        ("re", {"mutation_tries": 0}),
        ("re", {"fidelity": 0}),
        ("re", {"population_size": 2.5}),
        ("reinforce", {"learning_rate": 0}),
        ("reinforce", {"learning_rate": -0.1}),
        ("reinforce", {"momentum": 1.0}),
        ("reinforce", {"momentum": -0.1}),
        ("reinforce", {"max_tries": 0}),
        ("hyperband", {"eta": 1}),
        ("hyperband", {"eta": 0.5}),
        ("hyperband", {"eta": "3"}),
        ("hyperband", {"min_fidelity": 0}),
        ("successive_halving", {"eta": 1}),
        ("successive_halving", {"num_configs": 0}),
        ("local", {"first_improvement": "yes"}),
        ("local", {"fidelity": -1}),
    ],
)
def test_check_params_rejects_bad_values(name, params):
    with pytest.raises(ConfigError):
        get_algorithm(name, **params)


# ----------------------------------------------------------------------------- random search


def test_random_search_matches_the_exact_order_statistic(small_store):
    evaluator = TabularEvaluator(small_store)
    cost = CostModel.from_benchmark(small_store)
    probe = evaluator.fresh(0)
    values = np.sort([probe.evaluate(int(m)).search_metric for m in evaluator.candidates])
    num, n, num_seeds = len(values), 10, 300
    # P(max of n distinct uniform draws = k-th smallest) = C(k-1, n-1) / C(N, n)
    weights = np.array([math.comb(k - 1, n - 1) for k in range(1, num + 1)], dtype=float) / math.comb(num, n)
    assert math.isclose(weights.sum(), 1.0)
    mean = float(weights @ values)
    std = math.sqrt(float(weights @ values**2) - mean**2)
    runs = run_search(
        get_algorithm("random"),
        evaluator,
        budget_fte=1e6,
        seeds=range(num_seeds),
        cost=cost,
        max_evaluations=n,
    )
    assert all(len(t) == n and len(set(t.model.tolist())) == n for t in runs)
    found = np.array([t.incumbent_search[-1] for t in runs])
    assert abs(found.mean() - mean) < 4 * std / math.sqrt(num_seeds)


# ----------------------------------------------------------------------------- exploiting structure

SEEDS = range(20)


def test_regularized_evolution_beats_random_search_on_a_structured_landscape(full_store):
    evaluator, cost = TabularEvaluator(full_store), CostModel.from_benchmark(full_store)
    re = _final_reported("re", evaluator, cost, 100, SEEDS)
    rs = _final_reported("random", evaluator, cost, 100, SEEDS)
    se = math.sqrt((re.var(ddof=1) + rs.var(ddof=1)) / len(SEEDS))
    assert re.mean() - rs.mean() > max(1.0, 3 * se)


def test_local_search_beats_random_search_on_a_structured_landscape(full_store):
    evaluator, cost = TabularEvaluator(full_store), CostModel.from_benchmark(full_store)
    ls = _final_reported("local", evaluator, cost, 100, SEEDS)
    rs = _final_reported("random", evaluator, cost, 100, SEEDS)
    se = math.sqrt((ls.var(ddof=1) + rs.var(ddof=1)) / len(SEEDS))
    assert ls.mean() - rs.mean() > max(1.0, 3 * se)


def test_hyperband_beats_random_search_when_low_fidelities_rank_models(long_store):
    evaluator, cost = TabularEvaluator(long_store), CostModel.from_benchmark(long_store)
    hb = _final_reported("hyperband", evaluator, cost, 40, SEEDS)
    rs = _final_reported("random", evaluator, cost, 40, SEEDS)
    se = math.sqrt((hb.var(ddof=1) + rs.var(ddof=1)) / len(SEEDS))
    assert hb.mean() - rs.mean() > max(1.0, 3 * se)


def test_no_structure_no_clear_win(flat_store, full_store):
    """On the unstructured landscape regularized evolution has nothing to exploit: its edge
    over random search is far smaller than on the structured one (it need not win at all)."""
    margins = []
    for store in (full_store, flat_store):
        evaluator, cost = TabularEvaluator(store), CostModel.from_benchmark(store)
        re = _final_reported("re", evaluator, cost, 100, SEEDS)
        rs = _final_reported("random", evaluator, cost, 100, SEEDS)
        margins.append(re.mean() - rs.mean())
    assert margins[1] < margins[0]


# ----------------------------------------------------------------------------- algorithm mechanics


def test_regularized_evolution_mutates_a_member_of_the_living_population(full_store):
    evaluator, cost = TabularEvaluator(full_store), CostModel.from_benchmark(full_store)
    (t,) = run_search(
        get_algorithm("re", population_size=10, sample_size=3),
        evaluator,
        budget_fte=1e9,
        seeds=[3],
        cost=cost,
        max_evaluations=300,
    )
    models = t.model.tolist()
    assert len(set(models[:10])) == 10  # a random start of distinct models
    assert not t.is_repeat.any()
    space = CandidateSpace(evaluator.candidates)
    for i in range(10, len(models)):
        alive = models[i - 10 : i]  # the oldest dies each cycle
        assert any(models[i] in space.neighbours(p) for p in alive), (
            f"step {i} is no mutation of the population"
        )


def test_local_search_best_improvement_evaluates_the_whole_neighbourhood_first(full_store):
    evaluator, cost = TabularEvaluator(full_store), CostModel.from_benchmark(full_store)
    (t,) = run_search(
        get_algorithm("local", first_improvement=False),
        evaluator,
        budget_fte=1e9,
        seeds=[0],
        cost=cost,
        max_evaluations=140,
    )
    space = CandidateSpace(evaluator.candidates)
    start = int(t.model[0])
    assert sorted(t.model[1:133].tolist()) == space.neighbours(start).tolist()
    best = int(t.model[1:133][np.argmax(t.search_metric[1:133])])
    if t.search_metric[1:133].max() > t.search_metric[0]:  # it moved: the next are neighbours of the best
        assert all(int(m) in space.neighbours(best) or int(m) == start for m in t.model[133:])


def test_local_search_first_improvement_climbs(full_store):
    evaluator, cost = TabularEvaluator(full_store), CostModel.from_benchmark(full_store)
    (t,) = run_search(
        get_algorithm("local"), evaluator, budget_fte=1e9, seeds=[1], cost=cost, max_evaluations=60
    )
    space = CandidateSpace(evaluator.candidates)
    assert int(t.model[1]) in space.neighbours(int(t.model[0]))
    assert len(set(t.model.tolist())) == len(t)  # known models are never evaluated again


def test_reinforce_policy_learns_on_a_structured_landscape(full_store):
    """Over a long search the policy concentrates on good blocks: the second half of the
    evaluations is better on average than the first."""
    evaluator, cost = TabularEvaluator(full_store), CostModel.from_benchmark(full_store)
    (t,) = run_search(
        get_algorithm("reinforce", learning_rate=0.05),
        evaluator,
        budget_fte=1e9,
        seeds=[0],
        cost=cost,
        max_evaluations=600,
    )
    assert t.search_metric[300:].mean() > t.search_metric[:300].mean() + 2.0


@pytest.mark.parametrize("max_tries", [0, 1000])
def test_reinforce_samples_the_policy_conditioned_on_the_candidates(max_tries):
    """Rejection (many tries) and the direct draw (no try) both give the policy restricted to
    the candidates: here the models whose stage-0 block is 0, 1 or 2."""
    models = np.arange(91125)
    space = CandidateSpace(models[models % 45 < 3])
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(45), size=3)
    num = 5_000
    cache: dict = {}
    drawn = np.array(
        [sample_policy(space, probs, rng, max_tries=max_tries, cache=cache)[1] for _ in range(num)]
    )
    assert all(int(b @ [1, 45, 2025]) in space for b in drawn[:100])
    for stage, exact in ((0, probs[0, :3] / probs[0, :3].sum()), (2, probs[2])):
        freq = np.bincount(drawn[:, stage], minlength=len(exact))[: len(exact)] / num
        assert np.all(np.abs(freq - exact) < 4 * np.sqrt(exact * (1 - exact) / num) + 1e-12)


# ----------------------------------------------------------------------------- hyperband


def test_rung_fidelities():
    assert rung_fidelities(range(1, 201)) == (7, 22, 67, 200)  # related-work §E.2
    assert rung_fidelities(range(1, 201), min_fidelity=22) == (22, 67, 200)
    assert rung_fidelities(range(1, 109), min_fidelity=4) == (4, 12, 36, 108)  # the NB101 grid
    assert rung_fidelities(range(1, 13)) == (1, 4, 12)
    assert rung_fidelities(range(1, 28)) == (1, 3, 9, 27)
    assert rung_fidelities([200]) == (200,)
    assert rung_fidelities([10, 200]) == (10, 200)  # rungs rounding to one offered epoch merge
    assert bracket_sizes(4) == [27, 12, 6, 4]
    assert bracket_sizes(3) == [9, 5, 3]
    assert bracket_sizes(1) == [1]
    with pytest.raises(ConfigError):
        rung_fidelities(range(1, 13), min_fidelity=13)
    with pytest.raises(ConfigError):
        rung_fidelities(range(1, 13), eta=1)


@pytest.mark.parametrize("name", ["hyperband", "successive_halving"])
def test_hyperband_promotions_pay_only_the_new_epochs(name, full_store):
    evaluator, cost = TabularEvaluator(full_store), CostModel.from_benchmark(full_store)
    (t,) = run_search(get_algorithm(name), evaluator, budget_fte=30, seeds=[0], cost=cost)
    assert set(t.fidelity.tolist()) <= {1, 4, 12}
    # the seconds of training each model to each epoch, from the store itself (seed 0)
    group = open_store(full_store)
    store_models = read_array(group, "model")
    epoch_s = read_array(group, "epoch_seconds")[:, 0, :].astype(np.float64)
    reached: dict[int, int] = {}
    expected = []
    promotions = 0
    for model, fidelity in zip(t.model.tolist(), t.fidelity.tolist()):
        row = np.cumsum(epoch_s[np.searchsorted(store_models, model)])
        before = reached.get(model, 0)
        if fidelity > before:
            expected.append(row[fidelity - 1] - (row[before - 1] if before else 0.0))
            promotions += before > 0
            reached[model] = fidelity
        else:
            expected.append(0.0)
    assert promotions > 0
    np.testing.assert_allclose(t.cost_s, expected, rtol=1e-12, atol=0)
    assert np.array_equal(t.is_repeat, np.asarray(expected) == 0)


def test_hyperband_brackets_follow_the_schedule(full_store):
    """The first brackets on a 12-epoch store (rungs 1, 4, 12): 9 -> 3 -> 1, then 5 -> 1,
    then 3 at full training."""
    evaluator, cost = TabularEvaluator(full_store), CostModel.from_benchmark(full_store)
    (t,) = run_search(
        get_algorithm("hyperband"), evaluator, budget_fte=1e9, seeds=[2], cost=cost, max_evaluations=26
    )
    assert t.fidelity.tolist() == [1] * 9 + [4] * 3 + [12] + [4] * 5 + [12] + [12] * 3 + [1] * 4
    first = t.model[:9]
    promoted = set(first[np.argsort(-t.search_metric[:9], kind="stable")[:3]].tolist())
    assert set(t.model[9:12].tolist()) == promoted
    assert int(t.model[12]) == int(t.model[9:12][np.argmax(t.search_metric[9:12])])


@pytest.mark.parametrize("name", ["hyperband", "successive_halving"])
def test_hyperband_with_one_fidelity_is_random_search(name, single_fidelity_store):
    evaluator = TabularEvaluator(single_fidelity_store)
    assert evaluator.fidelities == (1,)
    cost = CostModel.from_benchmark(single_fidelity_store)
    (t,) = run_search(get_algorithm(name), evaluator, budget_fte=50, seeds=[0], cost=cost)
    assert t.stop_reason == "budget"
    assert set(t.fidelity.tolist()) == {1}
    assert len(set(t.model.tolist())) == len(t)  # distinct full evaluations, no repeats
    # it exhausts a tiny store and returns instead of spinning on repeats
    (every,) = run_search(get_algorithm(name), evaluator, budget_fte=1e9, seeds=[0], cost=cost)
    assert every.stop_reason == "finished"
    assert sorted(every.model.tolist()) == evaluator.candidates.tolist()
