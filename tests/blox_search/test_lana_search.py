"""LANA's integer program equals the brute force over all 91,125 models (ties: lowest model
index), its k solutions are the brute-force top-k, infeasible budgets name the smallest
feasible one; the lana algorithm fine-tunes what the program picks, each paid once."""

from __future__ import annotations

import numpy as np
import pytest
from blox_search import CostModel, get_algorithm, run_search
from blox_search.blockwise.lana import brute_force_select, lana_select
from blox_space.arch import blocks_to_indices, indices_to_blocks
from blox_space.errors import ConfigError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FIXED = 2e-4


def _tables(seed: int, integer: bool, missing: float, near: bool = False):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=(3, 45)).astype(float) if integer else rng.normal(size=(3, 45))
    if near:  # near-ties 1e-9 .. 1e-5 apart: below CBC's absolute tolerances unless scaled
        scores = scores + rng.uniform(0, 3e-6, size=(3, 45))
    scores[rng.random((3, 45)) < missing] = np.nan
    latency = rng.uniform(1e-4, 1e-3, size=(3, 45))
    return rng, scores, latency


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    integer=st.booleans(),
    missing=st.sampled_from([0.0, 0.3]),
    quantile=st.floats(0.05, 1.0),
    k=st.integers(1, 3),
    restrict=st.booleans(),
    near=st.booleans(),
)
def test_the_program_equals_the_brute_force(seed, integer, missing, quantile, k, restrict, near):
    rng, scores, latency = _tables(seed, integer, missing, near)
    available = np.where(np.isnan(scores), np.inf, latency)
    low = FIXED + np.nanmin(available, axis=1).sum()
    high = FIXED + np.where(np.isnan(scores), -np.inf, latency).max(axis=1).sum()
    budget = low + quantile * (high - low)
    allowed = rng.choice(91125, size=400, replace=False) if restrict else None
    kwargs = dict(fixed_latency=FIXED, k=k, allowed=allowed)
    try:
        expected = brute_force_select(scores, latency, budget, **kwargs)
    except ConfigError as err:
        with pytest.raises(ConfigError, match="smallest feasible"):
            lana_select(scores, latency, budget, **kwargs)
        assert "smallest feasible" in str(err)
        return
    got = lana_select(scores, latency, budget, **kwargs)
    assert np.array_equal(got, expected)
    assert not np.isnan(scores[np.arange(3), got]).any()
    assert (FIXED + latency[np.arange(3), got].sum(axis=1) <= budget).all()
    if allowed is not None:
        assert np.isin(blocks_to_indices(got), allowed).all()


@pytest.mark.parametrize("seed, restrict", [(21, True), (23, False), (24, False), (27, False), (39, True)])
def test_near_ties_are_ordered_like_the_brute_force(seed, restrict):
    # integer scores plus perturbations below 3e-6: the top models differ by 1e-7 .. 1e-6, which
    # CBC's absolute tolerances could not tell apart before the objective was scaled
    rng, scores, latency = _tables(seed, True, 0.0, near=True)
    budget = FIXED + np.quantile(latency, rng.uniform(0.2, 1.0), axis=1).sum()
    allowed = rng.choice(91125, size=400, replace=False) if restrict else None
    kwargs = dict(fixed_latency=FIXED, k=3, allowed=allowed)
    got = lana_select(scores, latency, budget, **kwargs)
    assert np.array_equal(got, brute_force_select(scores, latency, budget, **kwargs))


def test_k_solutions_are_the_top_k_and_a_params_budget_holds():
    rng, scores, latency = _tables(3, False, 0.0)
    params = rng.integers(100, 10_000, size=(3, 45))
    budget = FIXED + np.quantile(latency, 0.6, axis=1).sum()
    kwargs = dict(fixed_latency=FIXED, k=6, params=params, params_budget=15_000, fixed_params=500)
    got = lana_select(scores, latency, budget, **kwargs)
    assert got.shape == (6, 3) and np.array_equal(got, brute_force_select(scores, latency, budget, **kwargs))
    values = scores[np.arange(3), got].sum(axis=1)
    assert (np.diff(values) <= 1e-12).all()  # best first
    assert (500 + params[np.arange(3), got].sum(axis=1) <= 15_000).all()


def test_ties_go_to_the_lowest_model_index():
    scores = np.zeros((3, 45))
    scores[0, [3, 9]] = 1.0  # two equal best blocks in stage 0, every other stage all ties
    got = lana_select(scores, np.ones((3, 45)), None, k=2)
    assert got.tolist() == [[3, 0, 0], [9, 0, 0]]


def test_fewer_than_k_when_the_feasible_set_runs_out():
    scores = np.full((3, 45), np.nan)
    scores[:, :2] = 1.0  # 8 models have scores
    got = lana_select(scores, np.ones((3, 45)), None, k=20)
    assert len(got) == 8 and len({tuple(r) for r in got}) == 8


def test_an_infeasible_budget_states_the_smallest_feasible_one():
    latency = np.full((3, 45), 2.0)
    latency[1, 4] = 1.0
    with pytest.raises(ConfigError, match=r"latency budget 4 is below the smallest feasible 5.5"):
        lana_select(np.zeros((3, 45)), latency, 4.0, fixed_latency=0.5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(scores=np.zeros((2, 45))), r"shape \(3, 45\)"),
        (dict(block_latency=np.full((3, 45), np.inf)), "must be finite"),
        (dict(block_latency=-np.ones((3, 45))), ">= 0"),
        (dict(k=0), "k must be an int >= 1"),
        (dict(scores=np.full((3, 45), np.nan)), "no model has a score"),
        (dict(budget=None, params_budget=5.0), "needs the per-block params table"),
        (dict(allowed=[91125]), "indices in 0..91124"),
    ],
)
def test_bad_input_is_a_config_error(kwargs, match):
    args = dict(scores=np.zeros((3, 45)), block_latency=np.ones((3, 45)), budget=3.0)
    args.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        lana_select(args.pop("scores"), args.pop("block_latency"), args.pop("budget"), **args)


def test_the_algorithm_fine_tunes_the_programs_choice_once_each(blockwise_evaluator):
    view = blockwise_evaluator.blockwise_view()
    budget = float(np.median(blockwise_evaluator.oracle()["latency_s"]))
    algorithm = get_algorithm("lana", k=3, latency_budget=budget)
    (traj,) = run_search(algorithm, blockwise_evaluator, budget_fte=50, seeds=[0], cost=CostModel(100.0))
    expected = lana_select(
        view.signatures("lana"), view.block_latency_s, budget, fixed_latency=view.fixed_latency_s, k=3,
        allowed=blockwise_evaluator.candidates, params=view.block_params, fixed_params=view.fixed_params,
        macs=view.block_macs, fixed_macs=view.fixed_macs,
    )  # fmt: skip
    assert traj.model.tolist() == blocks_to_indices(expected).tolist()
    assert not traj.is_repeat.any() and traj.stop_reason == "finished"
    assert (traj.latency_s <= budget + 1e-12).all() and (traj.fidelity == 4).all()
    one_time = sum(blockwise_evaluator.one_time_costs().values())
    assert traj.cum_cost_s[-1] == pytest.approx(one_time + traj.cost_s.sum())


def test_the_front_mode_spreads_over_latency_and_needs_a_table(blockwise_evaluator, blockwise_stores):
    from blox_search import BlockwiseEvaluator

    (traj,) = run_search(get_algorithm("lana", front=6), blockwise_evaluator, budget_fte=50, seeds=[0],
                         cost=CostModel(100.0))  # fmt: skip
    assert 2 <= len(traj) <= 6 and len(set(traj.model.tolist())) == len(traj)
    assert np.ptp(traj.latency_s) > 0
    s = blockwise_stores
    plain = BlockwiseEvaluator(s["benchmark"], finetune=s["finetune"], blockwise=s["blockwise"])
    with pytest.raises(ConfigError, match="latency device"):
        run_search(get_algorithm("lana", latency_fraction=0.9), plain, budget_fte=50, seeds=[0],
                   cost=CostModel(100.0))  # fmt: skip
    assert indices_to_blocks(traj.model).shape == (len(traj), 3)
