"""The schema module: every store kind is declared completely (dims, units, meaning, chunks) and
every kind opens with xarray."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from blox_space import schema
from blox_space.store import create_store, open_store

UNITS = {"%", "1", "s", "pp"}  # pp: percentage points (LANA accuracy deltas)


@pytest.mark.parametrize("kind", sorted(schema.STORE_KINDS))
def test_every_array_is_fully_described(kind):
    spec = schema.get_store_spec(kind)
    names = [a.name for a in spec.all_arrays]
    assert len(names) == len(set(names)), "array names are unique"
    for array in spec.all_arrays:
        assert array.units in UNITS, f"{array.name} units {array.units!r}"
        assert array.long_name and np.dtype(array.dtype)
        assert set(array.dims) <= set(spec.dims)
    for coord in spec.coords:
        assert coord.dims == (coord.name,), "coordinates are 1-D arrays named like their dim"


def test_benchmark_spec():
    spec = schema.BENCHMARK
    assert schema.STORE_KINDS["benchmark"] is spec
    assert spec.dims == ("model", "seed", "epoch")
    for name in ("train_acc", "train_top5", "val_acc", "val_top5", "test_acc", "test_top5", "best_val_acc"):
        assert spec[name].units == "%"
    for name in ("train_loss", "val_loss", "test_loss"):
        assert spec[name].units == "1"
    for name in ("epoch_seconds", "train_seconds"):
        assert spec[name].units == "s"
    assert spec["status"].attrs == schema.STATUS_FLAGS
    assert spec["epoch"].long_name.endswith("counted from 1")
    assert (
        set(schema.BENCHMARK_ATTRS)
        == set(spec.required_attrs)
        >= {"recipe_id", "recipe", "dataset", "epochs"}
    )
    assert spec.chunks["model"] == schema.BENCHMARK_MODEL_CHUNK
    assert "model" in spec and "accuracy" not in spec
    with pytest.raises(KeyError, match="no array"):
        spec["accuracy"]


def test_unknown_kind_lists_the_known_ones():
    with pytest.raises(KeyError, match="benchmark"):
        schema.get_store_spec("benchmarks")


def _attrs(spec):
    return {
        name: {}
        if name in ("recipe", "protocol", "environment", "fixed_params", "fixed_macs", "teacher", "distill")
        else ([] if name == "environments" else 1)
        for name in spec.required_attrs
    }


@pytest.mark.parametrize("kind", sorted(schema.STORE_KINDS))
def test_every_kind_opens_with_xarray(kind, tmp_path):
    spec = schema.get_store_spec(kind)
    sizes = {dim: 3 for dim in spec.dims}
    path = tmp_path / f"{kind}.zarr"
    attrs, coords = _attrs(spec), {}
    if "epoch" in spec:  # open_store runs the kind's checks: epochs count from 1 to the epochs attribute
        attrs["epochs"], coords["epoch"] = 3, [1, 2, 3]
    if kind == "search":  # its check wants a cost model
        attrs["cost"] = {"fte_seconds": 1.0}
    if "snapshot" in spec:  # blockwise: snapshots are epochs of the store
        coords["snapshot"] = [1, 2, 3]
    create_store(path, spec, sizes=sizes, attrs=attrs, coords=coords)
    open_store(path, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xr.open_zarr(path, consolidated=False)
    assert set(ds.variables) == {a.name for a in spec.all_arrays}
    for array in spec.arrays:
        assert ds[array.name].dims == array.dims
        assert ds[array.name].attrs["units"] == array.units
