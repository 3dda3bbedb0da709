"""The live evaluator: models trained for real through blox-train (the ``ci`` recipe on the
offline digits data, 2 epochs, batch 256: about a second per model on one thread), recorded in
a benchmark shard store, charged their recorded seconds, and read back instead of retrained."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

blox_train = pytest.importorskip("blox_train")

from blox_search import CostModel, Evaluator, NotACandidateError, TabularEvaluator, get_algorithm, run_search  # noqa: E402
from blox_search.errors import MissingExtraError  # noqa: E402
from blox_search.evaluators import LiveEvaluator  # noqa: E402
from blox_space import open_benchmark  # noqa: E402
from blox_space.errors import ConfigError  # noqa: E402

RECIPE = "ci"
OVERRIDES = {"epochs": 2, "batch_size": 256}
MODELS = "0:8"  # small models: the cheapest to train
COST = CostModel(fte_seconds=1.0)


def _live(out, **kw):
    kw = {"recipe": RECIPE, "models": MODELS, "overrides": OVERRIDES, "threads": 1, **kw}
    return LiveEvaluator(out, **kw)


def _search(ev, out=None):
    return run_search(
        get_algorithm("random"), ev, budget_fte=1e6, seeds=[0], cost=COST, out=out, max_evaluations=3
    )[0]


def _no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a model was trained again")

    monkeypatch.setattr(blox_train, "train", refuse)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """One random search of 3 evaluations over a new live store."""
    root = tmp_path_factory.mktemp("live")
    ev = _live(root / "live.zarr")
    trajectory = _search(ev, root / "search.zarr")
    return {"root": root, "store": root / "live.zarr", "ev": ev, "trajectory": trajectory}


def test_is_an_evaluator_offering_the_full_training_only(searched):
    ev = searched["ev"]
    assert isinstance(ev, Evaluator)
    assert ev.candidates.tolist() == list(range(8))
    assert ev.fidelities == (2,)
    assert ev.training_seed == 0
    with pytest.raises(NotACandidateError, match="fidelities are 2"):
        ev.evaluate(0, fidelity=1)
    with pytest.raises(NotACandidateError, match="not a candidate"):
        ev.evaluate(8)


def test_every_run_is_recorded_and_charged_its_recorded_seconds(searched):
    tr, ev = searched["trajectory"], searched["ev"]
    paid = ~tr.is_repeat
    models = sorted(set(tr.model.tolist()))
    assert len(tr.model) == 3 and ev.num_trained == len(models) == int(paid.sum())
    bench = open_benchmark(searched["store"], latency=[])
    assert bench.recipe_id == blox_train.get_recipe(RECIPE, OVERRIDES).id and bench.epochs == 2
    assert bench.models.tolist() == list(range(8))
    for m in range(8):
        assert bench.status(m) == ("done" if m in models else "pending")
    for m, cost, search, reported in zip(
        tr.model[paid], tr.cost_s[paid], tr.search_metric[paid], tr.reported_metric[paid], strict=True
    ):
        assert cost > 0
        assert cost == pytest.approx(bench.train_time(int(m), epoch=2), rel=1e-6)
        assert search == pytest.approx(bench.val_acc(int(m), epoch=2, best=True))
        assert reported == pytest.approx(bench.test_acc(int(m)))
    assert tr.cum_cost_s[-1] == pytest.approx(tr.cost_s.sum())
    assert not (searched["root"] / "live.zarr.ckpt").exists()  # checkpoints go once a run is written


def test_a_tabular_evaluator_over_the_store_answers_the_same(searched):
    tr = searched["trajectory"]
    tab = TabularEvaluator(searched["store"], latency=[])
    assert tab.candidates.tolist() == sorted(set(tr.model.tolist()))
    for m in tab.candidates:
        live, table = searched["ev"].fresh(5).evaluate(int(m)), tab.evaluate(int(m))
        assert (live.search_metric, live.reported_metric, live.cost_s) == (
            table.search_metric,
            table.reported_metric,
            table.cost_s,
        )


def test_a_second_search_over_the_store_retrains_nothing(searched, monkeypatch):
    _no_training(monkeypatch)
    before = open_benchmark(searched["store"], latency=[]).to_dataframe()
    ev = _live(searched["store"])  # a new evaluator, as a later process would make
    again = _search(ev)
    first = searched["trajectory"]
    for name in ("model", "search_metric", "reported_metric", "cost_s", "cum_cost_s", "is_repeat"):
        assert np.array_equal(getattr(again, name), getattr(first, name)), name
    assert ev.num_trained == 0
    after = open_benchmark(searched["store"], latency=[]).to_dataframe()
    assert after.equals(before)  # the recorded runs are untouched


def test_resuming_the_search_store_replays_without_training(searched, monkeypatch):
    _no_training(monkeypatch)
    again = _search(_live(searched["store"]), searched["root"] / "search.zarr")
    assert np.array_equal(again.model, searched["trajectory"].model)
    assert np.array_equal(again.cost_s, searched["trajectory"].cost_s)


def test_repeats_are_free_and_fresh_ledgers_share_the_runs(searched, monkeypatch):
    _no_training(monkeypatch)
    ev = searched["ev"].fresh(1)
    model = int(searched["trajectory"].model[0])
    first = ev.evaluate(model)
    assert not first.is_repeat and first.cost_s == pytest.approx(ev.run(model).seconds)
    repeat = ev.evaluate(model)
    assert repeat.is_repeat and repeat.cost_s == 0
    assert (repeat.search_metric, repeat.reported_metric) == (first.search_metric, first.reported_metric)
    assert ev.fresh(2).evaluate(model).cost_s == first.cost_s  # a new ledger pays again
    assert ev.search_seed == 1 and ev.store == searched["store"]


def test_describe(searched):
    d = searched["ev"].describe()
    recipe = blox_train.get_recipe(RECIPE, OVERRIDES)
    assert d["kind"] == "live" and d["store"] == str(searched["store"])
    assert (d["recipe"], d["recipe_id"], d["overrides"]) == (RECIPE, recipe.id, OVERRIDES)
    assert (d["device"], d["training_seed"], d["num_candidates"], d["fidelities"]) == ("cpu", 0, 8, [2, 2])
    assert d == searched["ev"].fresh(3).describe()
    assert _live(searched["store"], overrides=["epochs=2", "batch_size=256"]).describe() == d


def test_a_crashed_run_is_recorded_failed_and_charged_its_wall_seconds(tmp_path, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(blox_train, "train", crash)
    ev = _live(tmp_path / "live.zarr", models=[5, 6])
    got = ev.evaluate(5)
    assert math.isnan(got.search_metric) and got.cost_s >= 0 and not got.is_repeat
    bench = open_benchmark(tmp_path / "live.zarr", latency=[])
    assert bench.status(5) == "failed" and "out of memory" in bench.fail_reason(5)
    _no_training(monkeypatch)
    assert _live(tmp_path / "live.zarr", models=[5, 6]).evaluate(5).cost_s == got.cost_s  # read back


def test_a_store_of_another_recipe_or_other_models_is_refused(searched):
    with pytest.raises(ConfigError, match="recipe id"):
        _live(searched["store"], overrides={"epochs": 3, "batch_size": 256})
    with pytest.raises(ConfigError, match="not 1 of the 9 candidates"):
        _live(searched["store"], models="0:9")
    assert _live(searched["store"], models=[1, 3]).candidates.tolist() == [1, 3]  # a subset is fine


def test_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="threads"):
        _live(tmp_path / "x.zarr", threads=0)
    with pytest.raises(ConfigError, match="unknown recipe setting"):
        _live(tmp_path / "x.zarr", overrides={"epoch": 2})
    with pytest.raises(ConfigError, match="overrides must be"):
        _live(tmp_path / "x.zarr", overrides=3)
    assert not (tmp_path / "x.zarr").exists()  # the store is created on the first training


def test_all_models_by_default(tmp_path):
    ev = LiveEvaluator(tmp_path / "all.zarr", recipe=RECIPE, overrides=OVERRIDES)
    assert len(ev.candidates) == 91125 and not (tmp_path / "all.zarr").exists()


def test_missing_blox_train_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "blox_train", None)  # import blox_train now raises ImportError
    with pytest.raises(MissingExtraError, match=r'pip install "blox-search\[live\]"'):
        _live(tmp_path / "x.zarr")


def test_importing_the_evaluators_imports_no_torch():
    code = (
        "import sys, blox_search, blox_search.evaluators as e; e.LiveEvaluator; "
        "assert 'torch' not in sys.modules and 'blox_train' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
