"""BlockwiseEvaluator: teachers' finetune stores as sources, FT lengths as fidelities, every run
paid once, a teacher's setup paid once (one-time for the default teacher), clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from blox_search import BlockwiseEvaluator, CostModel, get_algorithm, run_search
from blox_search.cli import main
from blox_search.errors import NotACandidateError
from blox_search.problem import Problem
from blox_space import open_benchmark
from blox_space.errors import ConfigError


def test_sources_fidelities_and_candidates(blockwise_evaluator, blockwise_stores):
    ev = blockwise_evaluator.fresh(0)
    assert ev.sources == ("M1", "M5", "normal") and ev.fidelities == (2, 4)
    assert np.array_equal(ev.candidates, blockwise_stores["students"])
    assert ev.teachers == blockwise_stores["teachers"]
    assert ev.teacher_of(blockwise_stores["teachers"]["M5"]) == "M5" and ev.teacher_of(-3) is None


def test_each_run_is_read_from_its_store_and_paid_once(blockwise_evaluator, blockwise_stores):
    ev = blockwise_evaluator.fresh(0)
    m = int(ev.candidates[3])
    ft2 = open_benchmark(blockwise_stores["finetune"][0], latency=[])
    first = ev.evaluate(m, fidelity=2)
    assert first.search_metric == pytest.approx(float(ft2.query(m, "best_val_acc")), rel=1e-6)
    assert first.cost_s == pytest.approx(20.0) and not first.is_repeat and first.source == ""
    again = ev.evaluate(m, fidelity=2, mode="continue")
    assert again.cost_s == 0.0 and again.is_repeat
    longer = ev.evaluate(m, fidelity=4)  # FT4 is another run, not FT2 continued
    assert longer.cost_s == pytest.approx(40.0) and not longer.is_repeat
    normal = ev.evaluate(m, source="normal")
    assert normal.fidelity == 12 and normal.source == "normal" and normal.cost_s > 0


def test_another_teacher_pays_its_setup_with_its_first_evaluation(blockwise_evaluator):
    ev = blockwise_evaluator.fresh(1)
    desc = ev.describe()["teachers"]["M5"]
    a, b = (int(m) for m in ev.candidates[:2])
    first = ev.evaluate(a, source="M5", fidelity=2)
    assert first.cost_s == pytest.approx(20.0 + desc["library_s"] + desc["training_s"])
    assert first.source == "M5" and not first.is_repeat
    assert ev.evaluate(b, source="M5", fidelity=2).cost_s == pytest.approx(20.0)
    assert ev.fresh(2).evaluate(a, source="M5", fidelity=2).cost_s == pytest.approx(first.cost_s)


def test_the_default_teachers_setup_is_a_one_time_cost(blockwise_evaluator):
    costs = blockwise_evaluator.one_time_costs()
    assert costs == {"library:M1": pytest.approx(60.0), "teacher:M1": pytest.approx(costs["teacher:M1"])}
    assert costs["teacher:M1"] > 0
    cost = CostModel(100.0)
    (traj,) = run_search(get_algorithm("random"), blockwise_evaluator, budget_fte=3, seeds=[0], cost=cost)
    paid = float(np.sum(traj.cost_s))
    assert traj.cum_cost_s[-1] == pytest.approx(paid + sum(costs.values()))
    assert traj.cum_cost_s[0] == pytest.approx(traj.cost_s[0] + sum(costs.values()))


def test_given_teachers_are_not_charged_their_training(blockwise_stores):
    s = blockwise_stores
    ev = BlockwiseEvaluator(s["benchmark"], finetune=s["finetune"], blockwise=s["blockwise"], teacher="M5",
                            teacher_given=True)  # fmt: skip
    assert ev.one_time_costs() == {"library:M5": pytest.approx(60.0)}
    assert ev.sources[0] == "M5"
    first = ev.evaluate(int(ev.candidates[0]), source="M1")
    assert first.cost_s == pytest.approx(40.0 + 60.0)


def test_problem_records_the_source_index_and_refuses_unknown_sources(blockwise_evaluator):
    problem = Problem(blockwise_evaluator.fresh(0), budget_s=1e9, fte_seconds=100.0)
    m = int(problem.candidates[0])
    problem.evaluate(m, fidelity=2)
    problem.evaluate(m, source="M5")
    problem.evaluate(m, source="normal")
    assert problem.steps.source == [0, 1, 2] and problem.sources == ("M1", "M5", "normal")
    with pytest.raises(NotACandidateError, match="source 'M3' is not offered"):
        problem.evaluate(m, source="M3")
    view = problem.blockwise()
    assert view.teacher == "M1" and view.block_latency_s.shape == (3, 45)
    assert np.isfinite(view.signatures("donna")).sum() == 24 and view.signatures("lana").shape == (3, 45)
    assert view.block_params.shape == (3, 45) and view.fixed_params > 0


def test_a_tabular_problem_has_no_blockwise_view(blockwise_stores):
    from blox_search import TabularEvaluator

    problem = Problem(TabularEvaluator(blockwise_stores["benchmark"]), budget_s=1.0, fte_seconds=1.0)
    with pytest.raises(ConfigError, match="needs a blockwise evaluator"):
        problem.blockwise()


def test_bad_input_gives_clear_errors(blockwise_stores):
    s = blockwise_stores
    with pytest.raises(ConfigError, match="at least one finetune store"):
        BlockwiseEvaluator(s["benchmark"], finetune=[])
    with pytest.raises(ConfigError, match="needs its blockwise store"):
        BlockwiseEvaluator(s["benchmark"], finetune=s["finetune"], blockwise={"M1": s["blockwise"]["M1"]})
    with pytest.raises(ConfigError, match="has no FT3 store"):
        BlockwiseEvaluator(s["benchmark"], finetune=s["finetune"], blockwise=s["blockwise"], ft_epochs=[3])
    with pytest.raises(ConfigError, match="not M1's model|distilled model"):
        BlockwiseEvaluator(s["benchmark"], finetune=s["finetune"],
                           blockwise={"M1": s["blockwise"]["M5"], "M5": s["blockwise"]["M5"]})  # fmt: skip
    ev = BlockwiseEvaluator(s["benchmark"], finetune=s["finetune"], blockwise=s["blockwise"], ft_epochs=[2])
    with pytest.raises(NotACandidateError, match="no FT4"):
        ev.evaluate(int(ev.candidates[0]), fidelity=4)
    with pytest.raises(NotACandidateError, match="not a candidate"):
        ev.evaluate(0 if 0 not in ev.candidates else 91124)


def test_the_cli_runs_a_blockwise_search_and_refuses_misplaced_options(blockwise_stores, tmp_path, capsys):
    s = blockwise_stores
    common = ["--budget-fte", "4", "--seeds", "0", "--out", str(tmp_path / "run.zarr")]
    bw = ["--finetune", *s["finetune"], "--blockwise", *[f"{k}={v}" for k, v in s["blockwise"].items()]]
    assert (
        main(["run", "random", s["benchmark"], "--evaluator", "blockwise", *bw, "--ft-epochs", "2", *common])
        == 0
    )
    assert "random seed 0" in capsys.readouterr().out
    assert main(["run", "random", s["benchmark"], "--teacher", "M1", *common]) == 2
    assert "only for --evaluator blockwise" in capsys.readouterr().err
    assert main(["run", "random", s["benchmark"], "--evaluator", "blockwise", *common]) == 2
    assert "needs --finetune" in capsys.readouterr().err
    assert main(["run", "random", s["benchmark"], "--evaluator", "blockwise", *bw, "--blockwise", "M1",
                 *common]) == 2  # fmt: skip
    assert "NAME=PATH" in capsys.readouterr().err


def test_pareto_scores_a_blockwise_search_on_its_teachers_longest_ft(blockwise_evaluator, tmp_path):
    from blox_search import open_search, pareto_summary

    run_search(get_algorithm("random"), blockwise_evaluator, budget_fte=4, seeds=[0, 1], cost=CostModel(100.0),
               out=tmp_path / "r.zarr")  # fmt: skip
    summary = pareto_summary(tmp_path / "r.zarr")
    assert summary["evaluator"] == open_search(tmp_path / "r.zarr").evaluator["store"]
    assert 0 < summary["normalized_hypervolume_mean"] <= 1 + 1e-9
    rebuilt = BlockwiseEvaluator.from_description(blockwise_evaluator.describe())
    assert rebuilt.describe() == blockwise_evaluator.describe()
