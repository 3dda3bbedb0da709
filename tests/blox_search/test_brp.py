"""BRP-NAS: the optional extra, the rounds, determinism and resume, and a win over random
search on a structured landscape (small predictors, one torch thread)."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from blox_search import (
    CostModel,
    MissingExtraError,
    TabularEvaluator,
    get_algorithm,
    list_algorithms,
    run_search,
)
from blox_search.conventional.brp import PAPER_PREDICTOR
from blox_search.testing import synthetic_benchmark
from blox_space.errors import ConfigError
from blox_space.store import open_store

HAS_PREDICT = importlib.util.find_spec("blox_predict") is not None
needs_predict = pytest.mark.skipif(not HAS_PREDICT, reason="blox-predict (torch) is not installed")

#: A predictor small enough for tests (about a second per round on one thread).
SMALL = {"num_layers": 3, "hidden": 32, "epochs": 40, "lr": 1e-3, "dropout": 0.0, "pairs_per_epoch": 512}
BUDGET = 60.0  # FTE: round 0 and two predictor rounds (one evaluation costs about one FTE)
SEEDS = range(8)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The machine is shared: torch on one thread (restored afterwards)."""
    if not HAS_PREDICT:
        yield
        return
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """20,000 models of the structured landscape (3 epochs: only the full fidelity matters)."""
    models = np.random.default_rng(3).choice(91125, size=20_000, replace=False)
    return synthetic_benchmark(tmp_path_factory.mktemp("brp") / "brp.zarr", models=models, epochs=3)


@pytest.fixture(scope="module")
def brp_runs(store):
    ev = TabularEvaluator(store)
    alg = get_algorithm("brp", predictor_params=SMALL)
    return run_search(alg, ev, budget_fte=BUDGET, seeds=SEEDS, cost=CostModel.from_benchmark(store))


def test_registered_with_sourced_defaults():
    assert "brp" in list_algorithms()
    alg = get_algorithm("brp")
    assert (alg.initial, alg.num_top, alg.num_random, alg.top_fraction) == (20, 10, 10, 0.5)
    assert alg.predictor_config() == PAPER_PREDICTOR
    assert PAPER_PREDICTOR["hidden"] == 600 and PAPER_PREDICTOR["epochs"] == 250
    assert get_algorithm("brp", predictor_params={"hidden": 8}).predictor_config()["hidden"] == 8
    assert alg.requires == ("blox_predict",) and "blox-search[brp]" in alg.extra


@pytest.mark.parametrize(
    "params",
    [
        {"initial": 1},
        {"num_top": 0},
        {"num_random": -1},
        {"top_fraction": 0.0},
        {"top_fraction": 1.5},
        {"predictor_params": {"random_state": 3}},
        {"predictor_params": [1, 2]},
        {"threads": 0},
    ],
)
def test_bad_params(params):
    with pytest.raises(ConfigError):
        get_algorithm("brp", **params)


def test_importing_blox_search_imports_no_torch():
    code = "import sys, blox_search; blox_search.get_algorithm('brp'); print('torch' in sys.modules)"
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_extra_names_the_pip_command(monkeypatch, partial_store):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a, **k: None if name == "blox_predict" else real(name, *a, **k),
    )
    alg = get_algorithm("brp")  # configuring works without the extra
    ev = TabularEvaluator(partial_store)
    with pytest.raises(MissingExtraError, match=r'pip install "blox-search\[brp\]"'):
        run_search(alg, ev, budget_fte=5, seeds=[0], cost=CostModel.from_benchmark(partial_store))


@needs_predict
def test_rounds_follow_the_schedule(store, brp_runs):
    candidates = set(TabularEvaluator(store).candidates.tolist())
    for traj in brp_runs:
        assert set(traj.model.tolist()) <= candidates
        assert len(set(traj.model.tolist())) == len(traj)  # never a model twice
        assert not traj.is_repeat.any()
        assert (traj.fidelity == 3).all()
        assert len(traj) > 20 + 20  # round 0 and at least two predictor rounds began
        assert traj.stop_reason == "budget"


@needs_predict
def test_beats_random_search_at_the_same_budget(store, brp_runs):
    ev = TabularEvaluator(store)
    rand = run_search(
        get_algorithm("random"), ev, budget_fte=BUDGET, seeds=SEEDS, cost=CostModel.from_benchmark(store)
    )
    brp_final = np.mean([t.incumbent_reported[-1] for t in brp_runs])
    rand_final = np.mean([t.incumbent_reported[-1] for t in rand])
    assert brp_final > rand_final
    # the predictor-chosen models (after round 0) are better on average than random picks
    brp_picks = np.mean([t.search_metric[20:].mean() for t in brp_runs])
    rand_picks = np.mean([t.search_metric[20:].mean() for t in rand])
    assert brp_picks > rand_picks + 1.0


@needs_predict
def test_deterministic_and_resumes_bit_for_bit(store, brp_runs, tmp_path):
    ev = TabularEvaluator(store)
    cost = CostModel.from_benchmark(store)
    alg = get_algorithm("brp", predictor_params=SMALL)
    out = tmp_path / "brp.zarr"
    (again,) = run_search(alg, ev, budget_fte=BUDGET, seeds=[0], cost=cost, out=out)
    first = brp_runs[0]
    assert np.array_equal(again.model, first.model)
    assert np.array_equal(again.cum_cost_s, first.cum_cost_s)
    # kill it in its second predictor round, then resume: the same trajectory
    group = open_store(out, mode="r+")
    group["status"][0] = 0
    group["num_steps"][0] = 45
    (resumed,) = run_search(alg, ev, budget_fte=BUDGET, seeds=[0], cost=cost, out=out)
    assert np.array_equal(resumed.model, first.model)
    assert np.array_equal(resumed.incumbent_reported, first.incumbent_reported)


@needs_predict
def test_small_store_is_searched_to_the_end(partial_store):
    """On a tiny space the last round evaluates what is left, then the search returns."""
    ev = TabularEvaluator(partial_store)
    models = np.sort(ev.candidates)[:45]
    tiny = synthetic_benchmark(
        str(partial_store).replace("partial.zarr", "tiny.zarr"), models=models, epochs=2
    )
    ev = TabularEvaluator(tiny)
    alg = get_algorithm("brp", initial=5, num_top=3, num_random=3, predictor_params={**SMALL, "epochs": 5})
    (traj,) = run_search(alg, ev, budget_fte=1e9, seeds=[0], cost=CostModel.from_benchmark(tiny))
    assert traj.stop_reason == "finished"
    assert sorted(traj.model.tolist()) == sorted(ev.candidates.tolist())
