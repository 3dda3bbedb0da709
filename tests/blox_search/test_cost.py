"""The cost model: seconds <-> FTE, the FTE reference of a benchmark store, one-time costs."""

from __future__ import annotations

import numpy as np
import pytest
from blox_search import CostModel, fte_seconds_of
from blox_space import open_benchmark
from blox_space.errors import ConfigError


def test_fte_is_the_median_train_seconds(partial_store):
    seconds, ref = fte_seconds_of(partial_store)
    bench = open_benchmark(partial_store, latency=[])
    every = np.concatenate([bench.train_time(bench.models, seed=s) for s in bench.seeds])
    assert seconds == pytest.approx(float(np.median(every)))
    assert (
        ref["num_runs"] == 1000 and ref["store_kind"] == "benchmark" and ref["recipe_id"] == bench.recipe_id
    )


def test_conversions_and_one_time_costs():
    cost = CostModel(100.0).with_one_time(library=250.0, teacher=50.0)
    assert cost.one_time_s == 300.0 and cost.one_time == {"library": 250.0, "teacher": 50.0}
    assert cost.to_fte(300.0) == 3.0 and cost.to_seconds(0.5) == 50.0
    assert np.allclose(cost.to_fte(np.array([100.0, 200.0])), [1, 2])
    assert CostModel.from_attrs(cost.to_attrs()) == cost


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_fte_seconds(bad):
    with pytest.raises(ConfigError, match="fte_seconds"):
        CostModel(bad)


def test_bad_one_time():
    with pytest.raises(ConfigError, match="one-time cost 'x'"):
        CostModel(1.0).with_one_time(x=-1.0)


def test_a_store_without_finished_runs_cannot_define_an_fte(tmp_path):
    import zarr
    from blox_search.testing import synthetic_benchmark

    store = synthetic_benchmark(tmp_path / "b.zarr", models=[1, 2], epochs=2)
    zarr.open_group(store, mode="r+")["status"][:] = 0
    with pytest.raises(ConfigError, match="no finished run"):
        fte_seconds_of(store)
