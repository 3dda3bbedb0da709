"""The tabular evaluator and the ledger every evaluator shares: what is charged, what is free,
which models and fidelities are offered, and how seeds and surrogate stores are read."""

from __future__ import annotations

import math

import numpy as np
import pytest
from blox_search import Evaluator, NotACandidateError, TabularEvaluator
from blox_search.testing import synthetic_benchmark
from blox_space import open_benchmark
from blox_space.errors import ConfigError, StoreError
from blox_space.store import write_surrogate_store


def _epoch_seconds(store, model, seed=0):
    bench = open_benchmark(store, latency=[])
    return [bench.train_time(model, epoch=e, seed=seed) for e in range(1, bench.epochs + 1)]


def test_is_an_evaluator(partial_store):
    ev = TabularEvaluator(partial_store)
    assert isinstance(ev, Evaluator)
    assert ev.fidelities == tuple(range(1, 13))
    assert len(ev.candidates) == 500 and np.all(np.diff(ev.candidates) > 0)
    assert not ev.candidates.flags.writeable


def test_metrics_match_the_query_api(partial_store):
    ev = TabularEvaluator(partial_store, seed=1)
    bench = open_benchmark(partial_store, latency=[])
    model = int(ev.candidates[17])
    for epoch in (1, 5, 12):
        got = ev.evaluate(model, fidelity=epoch)
        assert got.search_metric == pytest.approx(bench.val_acc(model, epoch=epoch, best=True, seed=1))
        assert got.reported_metric == pytest.approx(bench.test_acc(model, seed=1))
        assert got.fidelity == epoch and got.model == model
    assert math.isnan(got.latency_s)


def test_continue_pays_only_new_epochs_and_repeats_are_free(partial_store):
    ev = TabularEvaluator(partial_store)
    model = int(ev.candidates[3])
    cum = _epoch_seconds(partial_store, model)
    a = ev.evaluate(model, fidelity=3)
    assert a.cost_s == pytest.approx(cum[2]) and not a.is_repeat
    b = ev.evaluate(model, fidelity=9)
    assert b.cost_s == pytest.approx(cum[8] - cum[2]) and not b.is_repeat
    c = ev.evaluate(model, fidelity=5)  # seen on the way to 9
    assert c.cost_s == 0 and c.is_repeat
    d = ev.evaluate(model, fidelity=9)
    assert d.cost_s == 0 and d.is_repeat
    full = ev.evaluate(model)
    assert full.fidelity == 12 and full.cost_s == pytest.approx(cum[11] - cum[8])
    assert a.cost_s + b.cost_s + full.cost_s == pytest.approx(cum[11])


def test_restart_pays_the_whole_run_unless_that_exact_fidelity_was_paid(partial_store):
    ev = TabularEvaluator(partial_store)
    model = int(ev.candidates[4])
    cum = _epoch_seconds(partial_store, model)
    assert ev.evaluate(model, fidelity=6, mode="restart").cost_s == pytest.approx(cum[5])
    assert ev.evaluate(model, fidelity=4, mode="restart").cost_s == pytest.approx(cum[3])
    again = ev.evaluate(model, fidelity=6, mode="restart")
    assert again.cost_s == 0 and again.is_repeat
    # continuing after restarts: 6 epochs were reached, so 8 pays epochs 7..8
    assert ev.evaluate(model, fidelity=8).cost_s == pytest.approx(cum[7] - cum[5])


def test_fresh_starts_a_new_ledger_over_the_same_data(partial_store):
    ev = TabularEvaluator(partial_store)
    model = int(ev.candidates[0])
    first = ev.evaluate(model).cost_s
    assert ev.evaluate(model).is_repeat
    other = ev.fresh(0)
    assert other.evaluate(model).cost_s == first
    assert other._data is ev._data  # nothing reloaded


def test_out_of_candidates_fidelity_or_mode_is_refused(partial_store):
    ev = TabularEvaluator(partial_store)
    outside = int(np.setdiff1d(np.arange(91125), ev.candidates)[0])
    with pytest.raises(NotACandidateError, match="not a candidate"):
        ev.evaluate(outside)
    with pytest.raises(NotACandidateError, match="fidelities are 1..12"):
        ev.evaluate(int(ev.candidates[0]), fidelity=13)
    with pytest.raises(NotACandidateError, match="mode"):
        ev.evaluate(int(ev.candidates[0]), mode="resume")
    with pytest.raises(NotACandidateError):
        ev.evaluate(-1)


def test_seed_policies(partial_store):
    bench = open_benchmark(partial_store, latency=[])
    model = int(bench.models[10])
    cycle = [TabularEvaluator(partial_store, search_seed=k) for k in range(3)]
    assert [e.store_seed for e in cycle] == [0, 1, 0]
    assert cycle[1].evaluate(model).reported_metric == pytest.approx(bench.test_acc(model, seed=1))
    mean = TabularEvaluator(partial_store, seed="mean")
    assert mean.evaluate(model).reported_metric == pytest.approx(bench.test_acc(model, seed="mean"), rel=1e-6)
    assert mean.describe()["seed_policy"] == "mean"
    with pytest.raises(ConfigError, match="seeds are"):
        TabularEvaluator(partial_store, seed=5)
    with pytest.raises(ConfigError, match="'cycle', 'mean'"):
        TabularEvaluator(partial_store, seed="random")


def test_partial_runs_restrict_the_candidates(tmp_path):
    store = synthetic_benchmark(tmp_path / "b.zarr", models=np.arange(40), epochs=4)
    import zarr

    group = zarr.open_group(store, mode="r+")
    group["status"][5, 0] = 0  # pending
    group["status"][6, 0] = 2  # failed
    ev = TabularEvaluator(store)
    assert 5 not in ev.candidates and 6 not in ev.candidates and len(ev.candidates) == 38


def test_describe_is_json(partial_store):
    import json

    d = TabularEvaluator(partial_store).describe()
    json.dumps(d)
    assert d["kind"] == "tabular" and d["store_kind"] == "benchmark" and d["num_candidates"] == 500


def test_missing_store_is_a_store_error(tmp_path):
    with pytest.raises(StoreError):
        TabularEvaluator(tmp_path / "nope.zarr")


def test_surrogate_rows_use_the_prediction_and_the_median_cost(tmp_path):
    source = synthetic_benchmark(tmp_path / "src.zarr", models=np.arange(30), epochs=4)
    values = np.full(91125, 55.0)
    is_predicted = np.ones(91125, dtype=bool)
    is_predicted[:30] = False
    path = tmp_path / "sur.zarr"
    write_surrogate_store(
        path, source, metric="best_val_acc", values=values, std=np.full(91125, 0.5), is_predicted=is_predicted,
        predictor={"name": "gcn", "params": {}, "train": {}}, ensemble_size=2,
    )  # fmt: skip
    ev = TabularEvaluator(path)
    assert len(ev.candidates) == 91125 and ev.fidelities == (4,)
    predicted = ev.evaluate(1000)
    assert predicted.search_metric == predicted.reported_metric == 55.0
    bench = open_benchmark(source, latency=[])
    median = float(np.median(bench.train_time(np.arange(30), epoch=4)))
    assert predicted.cost_s == pytest.approx(median)
    measured = ev.evaluate(3)
    assert measured.reported_metric == pytest.approx(bench.test_acc(3))
    assert measured.cost_s == pytest.approx(bench.train_time(3))
    d = ev.describe()
    assert d["num_predicted"] == 91125 - 30 and "predicted rows" in d["reported_metric"]


def test_latency_by_device_kind_and_recorded_stores(partial_store, tmp_path):
    from blox_search.testing import synthetic_latency

    lat = synthetic_latency(tmp_path / "lat.zarr", device="cpu-synthetic-fp32")
    ev = TabularEvaluator(partial_store, latency_device="cpu", latency=[lat])
    model = int(ev.candidates[0])
    expected = open_benchmark(partial_store, latency=[lat]).latency(model, "cpu-synthetic-fp32")
    assert ev.evaluate(model).latency_s == pytest.approx(expected)
    d = ev.describe()
    assert d["latency_device"] == "cpu-synthetic-fp32" and d["latency_stores"] == [lat]
    with pytest.raises(ConfigError, match="no latency for device 'cuda'"):
        TabularEvaluator(partial_store, latency_device="cuda", latency=[lat])


def test_oracle_is_what_evaluating_every_candidate_returns(partial_store):
    ev = TabularEvaluator(partial_store, search_seed=1)
    oracle = ev.oracle()
    assert np.array_equal(oracle["model"], ev.candidates) and ev.store_seeds == [0, 1]
    fresh = ev.fresh(1)
    for i in (0, 250, 499):
        got = fresh.evaluate(int(oracle["model"][i]))
        assert got.search_metric == oracle["search_metric"][i]
        assert got.reported_metric == oracle["reported_metric"][i]
