"""Store helpers: creation refuses incomplete specs and existing paths; opening validates schema
version, kind, arrays, dimensions and required attributes; atomic writes leave nothing behind."""

from __future__ import annotations

import json

import pytest
import zarr
from blox_space import SchemaError, StoreError, create_benchmark_shard
from blox_space.schema import BENCHMARK
from blox_space.store import atomic_store, consolidate, open_store


def _shard(path):
    return create_benchmark_shard(path, [1, 2], epochs=3, recipe_id="r", recipe={"a": 1}, dataset="d")


def test_open_validates_version_kind_and_attrs(tmp_path):
    path = tmp_path / "s.zarr"
    _shard(path)
    assert open_store(path, "benchmark").attrs["recipe_id"] == "r"
    with pytest.raises(SchemaError, match="is a 'benchmark' store, expected a 'space' store"):
        open_store(path, "space")
    group = zarr.open_group(str(path), mode="r+")
    group.attrs["schema_version"] = 99
    with pytest.raises(SchemaError, match="schema version 99"):
        open_store(path, "benchmark")
    group.attrs["schema_version"] = 1
    del group.attrs["recipe"]
    with pytest.raises(SchemaError, match=r"lacks attributes \['recipe'\]"):
        open_store(path, "benchmark")


def test_open_validates_arrays_and_shapes(tmp_path):
    path = tmp_path / "s.zarr"
    group = _shard(path)
    del group["val_acc"]
    with pytest.raises(SchemaError, match="lacks array 'val_acc'"):
        open_store(path, "benchmark")
    group.create_array(
        "val_acc", shape=(2, 1, 5), dtype="float32", dimension_names=("model", "seed", "epoch")
    )
    with pytest.raises(SchemaError, match="dimension 'epoch' is 3 long in one array and 5 in 'val_acc'"):
        open_store(path, "benchmark")
    del group["val_acc"]
    group.create_array(
        "val_acc", shape=(2, 1, 3), dtype="float32", dimension_names=("model", "epoch", "seed")
    )
    with pytest.raises(SchemaError, match="has dims"):
        open_store(path, "benchmark")


def test_missing_and_non_stores(tmp_path):
    with pytest.raises(StoreError, match="no store at"):
        open_store(tmp_path / "nope.zarr")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "zarr.json").write_text(json.dumps({"nonsense": True}))
    with pytest.raises(StoreError):
        open_store(tmp_path / "plain")


def test_create_refuses_existing_and_incomplete(tmp_path):
    path = tmp_path / "s.zarr"
    _shard(path)
    with pytest.raises(StoreError, match="already exists"):
        _shard(path)
    from blox_space.store import create_store

    with pytest.raises(SchemaError, match="needs sizes"):
        create_store(tmp_path / "x.zarr", BENCHMARK, sizes={"model": 1}, attrs={})
    with pytest.raises(SchemaError, match="needs attributes"):
        create_store(tmp_path / "x.zarr", BENCHMARK, sizes={"model": 1, "seed": 1, "epoch": 1}, attrs={})


def test_atomic_store_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "out.zarr"
    with pytest.raises(RuntimeError), atomic_store(out) as tmp:
        _shard(tmp)
        raise RuntimeError("killed")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with atomic_store(out) as tmp:
        _shard(tmp)
        consolidate(tmp)
    assert open_store(out, "benchmark")


def test_benchmark_open_checks_recipe_and_epochs(tmp_path):
    from blox_space import open_benchmark

    path = tmp_path / "s.zarr"
    group = _shard(path)
    group.attrs["epochs"] = 4
    with pytest.raises(SchemaError, match="epochs count from 1 to E"):
        open_benchmark(path)
    group.attrs["epochs"] = 3
    group.attrs["recipe"] = "paper"
    with pytest.raises(SchemaError, match="needs a recipe"):
        open_benchmark(path)
    group.attrs["recipe"] = {"a": 1}
    group["model"][:] = [2, 1]
    with pytest.raises(SchemaError, match="sorted and unique"):
        open_benchmark(path)
