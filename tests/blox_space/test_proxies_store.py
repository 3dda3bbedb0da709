"""The proxies store kind: written whole per shard, validated on open, merged along model."""

from __future__ import annotations

import blox_space as bs
import numpy as np
import pytest
from blox_space.errors import MergeError, SchemaError, StoreError
from blox_space.schema import PROXIES, PROXY_NAMES
from blox_space.store import merge_stores, open_store, write_proxies_shard

GEOMETRY = {"width": 4, "resolution": 8, "num_classes": 10}
COMMON = dict(
    recipe_id="r0", recipe={"name": "ci"}, dataset="digits", seed=0, batch_size=8, geometry=GEOMETRY
)


def _shard(path, models, *, bucket=None, **changes):
    models = np.asarray(models)
    values = {name: models * 1.0 + i for i, name in enumerate(PROXY_NAMES)}
    settings = {**COMMON, **changes}
    return write_proxies_shard(
        path, models, values, seconds=np.full(len(models), 0.5), bucket=bucket, **settings
    )


def test_a_shard_round_trips_sorted_with_the_schema_attributes(tmp_path):
    path = write_proxies_shard(
        tmp_path / "p.zarr", [9, 2, 5], {"synflow": [9.0, 2.0, np.inf], "snip": [1, 2, 3]},
        seconds=[0.9, 0.2, 0.5], status=[1, 2, 1], fail_reason=["", "RuntimeError: x", ""], **COMMON,
    )  # fmt: skip
    group = open_store(path, "proxies")
    assert group["model"][:].tolist() == [2, 5, 9]
    assert np.isnan(group["synflow"][:]).tolist() == [True, True, False]  # failed row, non-finite value
    assert group["snip"][:].tolist()[1:] == [3.0, 1.0] and np.isnan(group["grasp"][:]).all()
    assert group["status"][:].tolist() == [2, 1, 1] and group["fail_reason"][0] == "RuntimeError: x"
    assert group["seconds"][:].tolist() == [0.2, 0.5, 0.9]
    attrs = dict(group.attrs)
    assert attrs["store_kind"] == "proxies" and attrs["geometry"] == GEOMETRY and attrs["batch_size"] == 8
    assert group["synflow"].metadata.dimension_names == ("model",)
    assert PROXIES.merge_dim == "model" and "status" in PROXIES


def test_the_store_opens_with_xarray(tmp_path):
    xr = pytest.importorskip("xarray")
    path = _shard(tmp_path / "p.zarr", [1, 2, 3])
    ds = xr.open_zarr(path, consolidated=False)
    assert ds["synflow"].dims == ("model",) and ds["model"].values.tolist() == [1, 2, 3]


def test_buckets_merge_and_the_merge_refuses_mixed_or_overlapping_shards(tmp_path, capsys):
    from blox_space.cli import main

    a = _shard(tmp_path / "b0.zarr", [0, 1], bucket=(0, 2))
    b = _shard(tmp_path / "b1.zarr", [91124, 7], bucket=(1, 2))
    assert main(["merge", str(a), str(b), "--out", str(tmp_path / "m.zarr")]) == 0
    merged = open_store(tmp_path / "m.zarr", "proxies")
    assert merged["model"][:].tolist() == [0, 1, 7, 91124]
    assert merged["grad_norm"][:].tolist() == [0.0, 1.0, 7.0, 91124.0]
    assert merged.attrs["is_partial"] is False and merged.attrs["seed"] == 0
    odd = _shard(tmp_path / "odd.zarr", [5], bucket=(1, 2), seed=1)
    with pytest.raises(MergeError, match="mixed seed"):
        merge_stores([a, odd], tmp_path / "x.zarr")
    twice = _shard(tmp_path / "twice.zarr", [1], bucket=(1, 2))
    with pytest.raises(MergeError, match="more than one shard"):
        merge_stores([a, twice], tmp_path / "y.zarr")
    with pytest.raises(MergeError, match="buckets are missing"):
        merge_stores([a], tmp_path / "z.zarr")
    assert merge_stores([a], tmp_path / "z.zarr", allow_partial=True).exists()


@pytest.mark.parametrize(
    ("models", "values", "says"),
    [
        ([], {}, "at least one model"),
        ([1, 1], {}, "unique"),
        ([91125], {}, "0..91124"),
        ([1], {"flops": [1.0]}, "unknown proxies"),
        ([1, 2], {"snip": [1.0]}, "1 values for 2 models"),
    ],
)
def test_bad_shards_are_refused(tmp_path, models, values, says):
    with pytest.raises(SchemaError, match=says):
        write_proxies_shard(tmp_path / "p.zarr", models, values, seconds=[0.0] * len(models), **COMMON)
    assert not (tmp_path / "p.zarr").exists()


def test_an_existing_shard_is_kept_unless_overwrite(tmp_path):
    path = _shard(tmp_path / "p.zarr", [1])
    with pytest.raises(StoreError, match="already exists"):
        _shard(path, [2])
    _shard(path, [2], overwrite=True)
    assert open_store(path, "proxies")["model"][:].tolist() == [2]
    with pytest.raises(bs.SchemaError, match="expected a 'benchmark'"):
        open_store(path, "benchmark")
