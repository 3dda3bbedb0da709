from __future__ import annotations

import blox_hw as bh
import numpy as np
import pytest
import xarray as xr
from blox_space import BloxError
from blox_space.schema import LATENCY, LATENCY_LUT, STATUS_DONE, STATUS_FAILED, STORE_KINDS
from blox_space.store import open_store

ATTRS = {
    "device": "cpu-test-fp32", "device_kind": "cpu", "precision": "fp32",
    "protocol": bh.get_protocol("quick").to_dict(), "environment": {"threads": 1, "cpu_model": "test"},
    "width": 32, "resolution": 32, "num_classes": 100,
}  # fmt: skip


def _latencies() -> bh.ModelLatencies:
    return bh.ModelLatencies(
        models=np.array([91124, 3, 17]),
        latency_s=np.array([0.02, 0.01, np.nan]),
        spread=np.array([0.05, 0.02, np.nan]),
        status=np.array([STATUS_DONE, STATUS_DONE, STATUS_FAILED], dtype=np.int8),
        attrs=ATTRS,
    )


def test_latency_kinds_are_registered():
    assert STORE_KINDS["latency"] is LATENCY and STORE_KINDS["latency_lut"] is LATENCY_LUT
    assert LATENCY["latency_s"].dims == ("model",) and LATENCY["latency_s"].units == "s"
    assert LATENCY["latency_s"].dtype == "float64"
    assert LATENCY_LUT["block_latency_s"].dims == ("stage", "block")
    for spec in (LATENCY, LATENCY_LUT):
        assert {"device", "protocol", "environment"} <= set(spec.required_attrs)


def test_latency_store_round_trip_and_schema(tmp_path):
    path = bh.write_latencies(tmp_path / "lat.zarr", _latencies())
    group = open_store(path, "latency")
    assert group.attrs["producer"] == "blox-hw" and group.attrs["device"] == "cpu-test-fp32"
    assert group.attrs["protocol"]["version"] == bh.PROTOCOL_VERSION
    back = bh.read_latencies(path)
    assert back.models.tolist() == [3, 17, 91124]  # sorted by model index
    np.testing.assert_array_equal(back.latency_s, [0.01, np.nan, 0.02])
    assert back.status.tolist() == [STATUS_DONE, STATUS_FAILED, STATUS_DONE]
    ds = xr.open_zarr(path)
    assert ds["latency_s"].attrs["units"] == "s" and ds["done"].values.tolist() == [True, False, True]
    assert ds["status"].attrs["flag_meanings"] == "pending done failed"
    assert ds["model"].values.tolist() == [3, 17, 91124]
    with pytest.raises(BloxError, match="exists"):
        bh.write_latencies(path, _latencies())


def test_duplicate_models_are_refused(tmp_path):
    lat = _latencies()
    dup = bh.ModelLatencies(np.array([1, 1, 2]), lat.latency_s, lat.spread, lat.status, ATTRS)
    with pytest.raises(BloxError, match="duplicates"):
        bh.write_latencies(tmp_path / "dup.zarr", dup)
    assert not (tmp_path / "dup.zarr").exists()


def test_lut_store_round_trip_and_schema(tmp_path):
    rng = np.random.default_rng(0)
    block = rng.uniform(0.001, 0.01, (3, 45))
    table = bh.LatencyTable(
        block,
        np.array([1e-4, 2e-5, 3e-6]),
        block * 0.01,
        np.array([0.1, 0.2, 0.3]),
        np.full((3, 45), STATUS_DONE, np.int8),
        np.full(3, STATUS_DONE, np.int8),
        ATTRS,
    )
    path = bh.write_lut(tmp_path / "lut.zarr", table)
    back = bh.read_lut(path)
    np.testing.assert_array_equal(back.block_latency_s, block)
    np.testing.assert_array_equal(back.fixed_latency_s, [1e-4, 2e-5, 3e-6])
    np.testing.assert_allclose(back.predict(np.arange(50)), table.predict(np.arange(50)))
    ds = xr.open_zarr(path)
    assert ds["part"].values.tolist() == ["stem", "head", "glue"]
    assert ds["block_latency_s"].dims == ("stage", "block") and ds["block_latency_s"].attrs["units"] == "s"
    assert ds.attrs["store_kind"] == "latency_lut"
    with pytest.raises(BloxError, match="latency_lut"):
        bh.read_lut(bh.write_latencies(tmp_path / "lat.zarr", _latencies()))


def test_merge_latency_shards(tmp_path):
    lat = _latencies()
    a = bh.write_latencies(tmp_path / "a.zarr", lat)
    other = bh.ModelLatencies(
        np.array([5, 6]), np.array([0.1, 0.2]), np.zeros(2), np.full(2, STATUS_DONE, np.int8), ATTRS
    )
    b = bh.write_latencies(tmp_path / "b.zarr", other)
    merged = bh.read_latencies(bh.merge_latencies([b, a], tmp_path / "m.zarr"))
    assert merged.models.tolist() == [3, 5, 6, 17, 91124]
    np.testing.assert_array_equal(merged.latency_s, [0.01, 0.1, 0.2, np.nan, 0.02])
    with pytest.raises(BloxError, match="more than one shard"):
        bh.merge_latencies([a, a], tmp_path / "dup.zarr")
    full = bh.merge_latencies([a, b], tmp_path / "e.zarr", expect=np.array([3, 5, 6, 17, 91124]))
    assert bh.read_latencies(full).models.tolist() == [3, 5, 6, 17, 91124]
    with pytest.raises(BloxError, match=r"1 expected model\(s\) are in no shard \(e.g. \[4\]\)"):
        bh.merge_latencies([a, b], tmp_path / "gap.zarr", expect=np.array([3, 4, 5]))
    assert not (tmp_path / "gap.zarr").exists()
    gpu = bh.write_latencies(
        tmp_path / "g.zarr",
        bh.ModelLatencies(
            other.models, other.latency_s, other.spread, other.status, {**ATTRS, "device": "cuda-x-fp32"}
        ),
    )
    with pytest.raises(BloxError, match="device"):
        bh.merge_latencies([a, gpu], tmp_path / "mixed.zarr")


def test_query_api_reads_a_latency_store(tmp_path):
    import blox_space as bs
    from blox_space.schema import BENCHMARK
    from blox_space.store import consolidate, create_store

    bench = tmp_path / "bench.zarr"
    create_store(
        bench, BENCHMARK, sizes={"model": 2, "seed": 1, "epoch": 1}, coords={"model": np.array([3, 17]), "epoch": [1]},
        attrs={"recipe_id": "r", "recipe": {"name": "r"}, "dataset": "d", "epochs": 1, "is_partial": True,
               "environments": []},
    )  # fmt: skip
    consolidate(bench)
    lat = bh.write_latencies(tmp_path / "lat.zarr", _latencies())
    b = bs.open_benchmark(bench, latency=[lat])
    assert b.devices == ["cpu-test-fp32"]
    assert b.latency(3, "cpu-test-fp32") == 0.01
    np.testing.assert_array_equal(
        b.latency(np.array([91124, 17, 5]), "cpu-test-fp32"), [0.02, np.nan, np.nan]
    )
