"""blox_space.bench.analysis: the Pareto front against a brute-force definition, the per-model table of a
small generated benchmark, and latency per device (measured first, lookup table for the rest)."""

from __future__ import annotations

import math

import blox_space as bs
import numpy as np
import pytest
from blox_space.schema import EPOCH_KEYS, LATENCY, LATENCY_LUT, STATUS_FAILED
from blox_space.store import create_store
from hypothesis import given
from hypothesis import strategies as st

# ---------------------------------------------------------------------------------------
# pareto_front
# ---------------------------------------------------------------------------------------
# Few distinct values, so that equal costs, equal accuracies and exact duplicates are common.
values = st.one_of(st.sampled_from([0.0, 1.0, 2.0, 2.5, 10.0, -3.0]), st.just(math.nan))
points = st.integers(0, 30).flatmap(
    lambda n: st.tuples(st.lists(values, min_size=n, max_size=n), st.lists(values, min_size=n, max_size=n))
)


def dominates(cost: np.ndarray, acc: np.ndarray, q: int, p: int) -> bool:
    """q is at most as costly and at least as accurate as p, and strictly better in one."""
    return cost[q] <= cost[p] and acc[q] >= acc[p] and (cost[q] < cost[p] or acc[q] > acc[p])


def brute_force_front(cost: np.ndarray, acc: np.ndarray) -> set[int]:
    """The documented front: non-dominated points without NaN, the first of exact duplicates."""
    valid = [i for i in range(len(cost)) if not (np.isnan(cost[i]) or np.isnan(acc[i]))]
    front = set()
    for p in valid:
        if any(dominates(cost, acc, q, p) for q in valid):
            continue
        if any(q < p and cost[q] == cost[p] and acc[q] == acc[p] for q in valid):
            continue
        front.add(p)
    return front


@given(points)
def test_front_is_exactly_the_non_dominated_points(data) -> None:
    cost, acc = (np.array(v, dtype=float) for v in data)
    front = bs.pareto_front(cost, acc)
    assert front.dtype == np.int64
    assert set(front.tolist()) == brute_force_front(cost, acc)
    assert len(set(front.tolist())) == len(front)
    for p in front:  # no point on the front is dominated
        assert not any(dominates(cost, acc, q, p) for q in range(len(cost)) if not np.isnan(cost[q] + acc[q]))
    off = set(range(len(cost))) - set(front.tolist())
    for p in off:  # every point off the front is NaN, dominated, or a later duplicate of a front point
        assert (
            np.isnan(cost[p] + acc[p])
            or any(dominates(cost, acc, int(q), p) for q in front)
            or any(cost[q] == cost[p] and acc[q] == acc[p] and q < p for q in front)
        )


@given(points)
def test_front_is_ordered_by_cost_and_strictly_improving(data) -> None:
    cost, acc = (np.array(v, dtype=float) for v in data)
    front = bs.pareto_front(cost, acc)
    assert np.all(np.diff(cost[front]) > 0)
    assert np.all(np.diff(acc[front]) > 0)


def test_front_known_values_and_ties() -> None:
    cost = np.array([3.0, 1.0, 2.0, 4.0, 2.0])
    acc = np.array([50.0, 10.0, 40.0, 45.0, 30.0])
    assert bs.pareto_front(cost, acc).tolist() == [1, 2, 0]
    # exact duplicates: the first is kept; same cost, less accurate: off; same accuracy, dearer: off
    assert bs.pareto_front([1.0, 1.0, 1.0, 2.0], [5.0, 5.0, 4.0, 5.0]).tolist() == [0]
    assert bs.pareto_front([], []).tolist() == []
    assert bs.pareto_front([np.nan, 1.0], [99.0, 1.0]).tolist() == [1]
    assert bs.pareto_front([1.0], [-np.inf]).tolist() == [0]
    assert bs.pareto_front([2, 1, 3], [1, 1, 7]).tolist() == [1, 2]  # ints are fine


@pytest.mark.parametrize(("cost", "acc"), [([1.0, 2.0], [1.0]), ([[1.0]], [[1.0]])])
def test_front_rejects_mismatched_shapes(cost, acc) -> None:
    with pytest.raises(ValueError, match="1-D of one length"):
        bs.pareto_front(cost, acc)


# ---------------------------------------------------------------------------------------
# model_table
# ---------------------------------------------------------------------------------------
EPOCHS = 3
MODELS = np.array([0, 5, 2071, 4000, 91124])  # 0 and 2071 are uniform-block models


def _curves(offset: float) -> dict[str, np.ndarray]:
    return {key: np.array([10.0, 30.0, 20.0]) + offset for key in EPOCH_KEYS}


@pytest.fixture(scope="module")
def bench_path(tmp_path_factory):
    """Seeds 0 and 1: model 0 done twice, 5 done on seed 1 only, 2071 done on seed 0 and
    failed on seed 1, 4000 failed, 91124 pending."""
    path = tmp_path_factory.mktemp("analysis") / "bench.zarr"
    group = bs.create_benchmark_shard(
        path, MODELS, seeds=(0, 1), epochs=EPOCHS, recipe_id="r", recipe={"name": "t"}, dataset="digits"
    )
    runs = {(0, 0): 0.0, (0, 1): 10.0, (5, 1): 4.0, (2071, 0): 2.0}
    for (model, seed), offset in runs.items():
        bs.write_model_result(
            group,
            model,
            seed,
            per_epoch=_curves(offset),
            test={"test_acc": 50.0 + offset},
            train_seconds=100.0 + offset,
            params=1000 + model,
            macs=2000 + model,
        )
    for model, seed in ((2071, 1), (4000, 0), (4000, 1)):
        bs.write_model_result(
            group,
            model,
            seed,
            per_epoch={"val_acc": [99.0]},
            test={},
            train_seconds=1.0,
            status=STATUS_FAILED,
            fail_reason="diverged",
        )
    return path


def test_model_table_means_finished_runs_only(bench_path, space_store) -> None:
    table = bs.model_table(bs.open_benchmark(bench_path, space=space_store))
    assert table.index.name == "model"
    assert table.index.tolist() == [0, 5, 2071]  # 4000 failed, 91124 pending: left out
    assert table["num_done"].tolist() == [2, 1, 1]
    assert table["is_uniform"].tolist() == [True, False, True]
    # best validation top-1 (30 + offset), test top-1 and seconds: means over the done runs
    np.testing.assert_allclose(table["val_acc"], [35.0, 34.0, 32.0])
    np.testing.assert_allclose(table["test_acc"], [55.0, 54.0, 52.0])
    np.testing.assert_allclose(table["train_seconds"], [105.0, 104.0, 102.0])
    # recorded costs (the space store only fills the models that recorded none)
    assert table["params"].tolist() == [1000, 1005, 3071]
    assert table["flops"].tolist() == [2000, 2005, 4071]


def test_model_table_at_an_epoch(bench_path) -> None:
    table = bs.model_table(bs.open_benchmark(bench_path), epoch=1)
    np.testing.assert_allclose(table["val_acc"], [15.0, 14.0, 12.0])  # the best up to epoch 1


# ---------------------------------------------------------------------------------------
# latency_by_device
# ---------------------------------------------------------------------------------------
def _lut(path, device: str, seconds: float):
    spec = LATENCY_LUT
    attrs = {name: "x" for name in spec.required_attrs} | {"device": device}
    group = create_store(
        path,
        spec,
        sizes={"stage": 3, "block": 45, "part": 2},
        attrs=attrs,
        coords={"part": np.array(["a", "b"])},
    )
    group["block_latency_s"][:] = np.full((3, 45), seconds)
    group["fixed_latency_s"][:] = [0.0, 0.0]
    return bs.open_latency(path)


def _measured(path, device: str, models: list[int], seconds: list[float]):
    attrs = {name: "x" for name in LATENCY.required_attrs} | {"device": device}
    group = create_store(
        path, LATENCY, sizes={"model": len(models)}, coords={"model": np.array(models)}, attrs=attrs
    )
    group["latency_s"][:] = seconds
    return bs.open_latency(path)


def test_latency_by_device_measured_first(tmp_path) -> None:
    sources = [
        _lut(tmp_path / "cpu-lut.zarr", "cpu", 1.0),  # every model: 3 s
        _measured(tmp_path / "cpu.zarr", "cpu", [0, 7, 9], [0.5, np.nan, 0.25]),
        _measured(tmp_path / "gpu.zarr", "gpu", [7], [0.125]),  # no table: the rest is missing
    ]
    frame = bs.latency_by_device(sources, [9, 7, 0, 100])
    assert frame.columns.tolist() == ["device", "model", "latency_s", "source"]
    cpu = frame[frame["device"] == "cpu"]
    assert cpu["model"].tolist() == [9, 7, 0, 100]
    np.testing.assert_allclose(cpu["latency_s"], [0.25, 3.0, 0.5, 3.0])
    assert cpu["source"].tolist() == ["measured", "lut", "measured", "lut"]
    gpu = frame[frame["device"] == "gpu"]
    np.testing.assert_allclose(gpu["latency_s"], [np.nan, 0.125, np.nan, np.nan])
    assert gpu["source"].tolist() == ["missing", "measured", "missing", "missing"]
    assert frame["device"].tolist() == ["cpu"] * 4 + ["gpu"] * 4


def test_latency_by_device_edges(tmp_path) -> None:
    empty = bs.latency_by_device([], [1, 2])
    assert empty.columns.tolist() == ["device", "model", "latency_s", "source"] and empty.empty
    lut = _lut(tmp_path / "a.zarr", "cpu", 1.0)
    with pytest.raises(bs.StoreError, match="two lut latency stores for device 'cpu'"):
        bs.latency_by_device([lut, _lut(tmp_path / "b.zarr", "cpu", 2.0)], [1])
