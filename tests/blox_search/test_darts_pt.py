"""DARTS-PT as a search algorithm: one supernet per seed, charged as a one-shot cost outside the
budget (Table 2's †), the chosen model evaluated once -- from a reuse benchmark store when it was
trained there, else trained live -- and a killed search that resumes to the same model without
training the supernet again."""

from __future__ import annotations

import math

import numpy as np
import pytest

blox_train = pytest.importorskip("blox_train")

import blox_space as bs  # noqa: E402
import blox_train.oneshot as oneshot  # noqa: E402
from blox_search import (  # noqa: E402
    CostModel,
    Problem,
    TabularEvaluator,
    get_algorithm,
    open_search,
    run_search,
    summarize,
)
from blox_search.evaluators import LiveEvaluator  # noqa: E402
from blox_search.testing import synthetic_benchmark  # noqa: E402
from blox_space.errors import ConfigError  # noqa: E402

#: The ci recipe on 600 generated 8x8 images; the supernet trains 1 epoch, no tuning: ~3 s a seed.
OVERRIDES = {"dataset": "synthetic", "batch_size": 120, "eval_batch_size": 120, "epochs": 2}
PARAMS = {"epochs": 1, "proj_intv": 0}
COST = CostModel(fte_seconds=1.0)
BUDGET = 0.5  # far below the supernet's cost: the budget must not apply


class Killed(Exception):
    pass


def _live(path, **kw):
    return LiveEvaluator(path, recipe="ci", overrides=OVERRIDES, threads=1, **kw)


def _search(root, seeds=(0, 1), **kw):
    return run_search(
        get_algorithm("darts-pt", **PARAMS), _live(root / "live.zarr", **kw), budget_fte=BUDGET, seeds=list(seeds),
        cost=COST, out=root / "run.zarr",
    )  # fmt: skip


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    root = tmp_path_factory.mktemp("darts")
    return {"root": root, "trajectories": _search(root)}


def test_registered_under_both_spellings():
    algorithm = get_algorithm("darts-pt")
    assert algorithm.name == "darts_pt" and algorithm.one_shot and algorithm.needs_live
    assert algorithm.get_params() == {
        "epochs": None,
        "proj_intv": 5,
        "tune_alpha": True,
        "lr": 0.025,
        "arch_lr": 3e-4,
    }
    for bad in ({"proj_intv": -1}, {"epochs": 1.5}, {"tune_alpha": 1}, {"lr": 0}):
        with pytest.raises(ConfigError):
            get_algorithm("darts_pt", **bad)


def test_needs_a_live_evaluator(tmp_path):
    store = synthetic_benchmark(tmp_path / "b.zarr", models=range(0, 91125, 997), epochs=3)
    with pytest.raises(ConfigError, match="live evaluator"):
        run_search(get_algorithm("darts_pt"), TabularEvaluator(store), budget_fte=5, seeds=[0], cost=COST)


def test_one_model_per_seed_charged_supernet_plus_its_training(searched):
    run = open_search(searched["root"] / "run.zarr")
    assert run.one_shot and run.attrs["one_shot"] is True
    for traj in searched["trajectories"]:
        info = run.seed_info(traj.seed)
        shot = info["one_shot_s"]
        darts = info["darts_pt"]
        assert len(traj) == 1 and traj.stop_reason == "finished"
        assert traj.model[0] == darts["model"] == bs.to_index(darts["block_ids"])
        assert shot["supernet_training"] == darts["train_seconds"] > 0
        assert shot["projection"] == darts["projection_seconds"] > 0
        assert traj.cost_s[0] > 0  # the chosen model's live training, paid
        assert traj.cum_cost_s[0] == pytest.approx(
            darts["train_seconds"] + darts["projection_seconds"] + traj.cost_s[0]
        )
        assert traj.cum_fte[0] > BUDGET  # the budget did not stop it (†)
        assert darts["settings"]["epochs"] == 1 and darts["settings"]["proj_intv"] == 0
        assert len(darts["decisions"]) == 15
    bench = bs.open_benchmark(searched["root"] / "live.zarr", latency=[])
    for traj in searched["trajectories"]:
        assert bench.status(int(traj.model[0])) == "done"
        assert traj.reported_metric[0] == pytest.approx(bench.test_acc(int(traj.model[0])))


def test_summary_reports_the_final_model_whatever_the_budget(searched):
    [row] = summarize([searched["root"] / "run.zarr"], budget_fte=BUDGET, target=0.0)
    finals = [float(t.reported_metric[-1]) for t in searched["trajectories"]]
    assert row["one_shot"] is True and row["num_at_budget"] == 2
    assert row["acc_at_budget_mean"] == pytest.approx(np.mean(finals))
    assert row["num_reached"] == 2  # target 0: reached at its one step, past the budget
    run = open_search(searched["root"] / "run.zarr")
    shots = [sum(run.seed_info(s)["one_shot_s"].values()) for s in (0, 1)]
    assert row["one_shot_fte_mean"] == pytest.approx(np.mean(shots))


def test_resuming_a_finished_search_trains_nothing(searched, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(oneshot, "train_supernet", refuse)
    monkeypatch.setattr(blox_train, "train", refuse)
    again = _search(searched["root"])
    for a, b in zip(again, searched["trajectories"], strict=True):
        assert np.array_equal(a.model, b.model) and np.array_equal(a.cum_cost_s, b.cum_cost_s)


def test_a_killed_search_resumes_to_the_same_model(searched, tmp_path, monkeypatch):
    real = blox_train.train

    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(blox_train, "train", killed)  # dies training the chosen model
    with pytest.raises(Killed):
        _search(tmp_path, seeds=(0,))
    assert open_search(tmp_path / "run.zarr").status.tolist() == [0]  # the seed is pending
    monkeypatch.setattr(blox_train, "train", real)

    def refuse(*args, **kwargs):
        raise AssertionError("the supernet was trained again")

    monkeypatch.setattr(oneshot, "train_supernet", refuse)  # its work folder holds the result
    [traj] = _search(tmp_path, seeds=(0,))
    first = searched["trajectories"][0]
    assert traj.model[0] == first.model[0] and traj.reported_metric[0] == first.reported_metric[0]
    run = open_search(tmp_path / "run.zarr")
    assert (
        run.seed_info(0)["darts_pt"]["decisions"]
        == open_search(searched["root"] / "run.zarr").seed_info(0)["darts_pt"]["decisions"]
    )


def test_reuse_answers_models_trained_in_a_benchmark(searched, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a reused model was trained")

    monkeypatch.setattr(blox_train, "train", refuse)
    store = searched["root"] / "live.zarr"
    ev = _live(tmp_path / "live.zarr", reuse=[store])
    model = int(searched["trajectories"][0].model[0])
    got = ev.evaluate(model)
    assert got.source == "benchmark" and ev.sources == ("live", "benchmark") and ev.num_trained == 0
    want = TabularEvaluator(store, seed=0).evaluate(model)
    assert (got.search_metric, got.reported_metric, got.cost_s) == (
        want.search_metric,
        want.reported_metric,
        want.cost_s,
    )
    assert ev.describe()["reuse"] == [str(store)]
    assert not (tmp_path / "live.zarr").exists()  # nothing trained, no store made


def test_reuse_refuses_another_recipe_or_a_missing_store(tmp_path):
    other = synthetic_benchmark(tmp_path / "b.zarr", models=range(0, 91125, 997), epochs=3)
    with pytest.raises(ConfigError, match="recipe id"):
        _live(tmp_path / "live.zarr", reuse=[other])
    with pytest.raises(ConfigError, match="no store"):
        _live(tmp_path / "live.zarr", reuse=[tmp_path / "missing.zarr"])


def test_one_shot_charges_count_in_the_cost_but_not_against_the_budget(tmp_path):
    store = synthetic_benchmark(tmp_path / "b.zarr", models=range(0, 91125, 997), epochs=3)
    tab = TabularEvaluator(store)
    problem = Problem(tab.fresh(0), budget_s=10.0, fte_seconds=10.0)
    problem.charge_one_shot(100.0, "supernet")
    assert problem.one_shot_s == 100.0 and problem.spent_s == 100.0 and not problem.is_exhausted()
    assert problem.remaining_s == 10.0
    ev = problem.evaluate(int(tab.candidates[0]))
    assert problem.steps.cum_cost_s[0] == pytest.approx(100.0 + ev.cost_s)
    assert problem.info["one_shot_s"] == {"supernet": 100.0}
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ConfigError):
            problem.charge_one_shot(bad, "supernet")
