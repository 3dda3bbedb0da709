from __future__ import annotations

import subprocess
import sys

import blox_space as bs
import numpy as np
import xarray as xr
from blox_space.space import compute_hashes, raw_configuration_census


def test_373248_raw_configurations_collapse_to_91125_models():
    assert raw_configuration_census() == (373_248, 91_125)


def test_bundled_hash_table_equals_recomputation_and_is_collision_free():
    recomputed = compute_hashes(workers=2)
    assert (recomputed == bs.all_hashes()).all()
    assert len(np.unique(recomputed)) == bs.NUM_MODELS


def test_space_store_holds_every_model(space_store):
    ds = xr.open_zarr(space_store)
    assert ds.sizes == {"model": 91_125, "stage": 3, "block": 45, "cell_field": 5}
    assert ds.attrs["schema_version"] == bs.schema.SCHEMA_VERSION and ds.attrs["store_kind"] == "space"
    for name in ("hash", "params", "macs", "depth", "block_ids", "is_uniform", "name"):
        assert ds[name].attrs["units"] and ds[name].attrs["long_name"]
    sample = np.random.default_rng(1).integers(0, bs.NUM_MODELS, 50)
    for i in sample:
        info = bs.describe(int(i))
        assert ds.hash.values[i] == info["hash"]
        assert ds.params.values[i] == info["params"] and ds.macs.values[i] == info["macs"]
        assert ds["name"].values[i] == info["name"]
        assert list(ds.block_ids.values[i]) == info["blocks"]
    assert int(ds.is_uniform.sum()) == 45
    assert list(ds.block_name.values) == [b.name for b in bs.BLOCKS]
    assert ds.attrs["fixed_params"]["stem"] == 960


def test_space_store_is_validated_on_open(space_store):
    from blox_space.store import open_store

    group = open_store(space_store, "space")
    assert group.attrs["width"] == 32


def test_import_pulls_no_torch():
    code = (
        "import sys, blox_space; blox_space.describe(0); assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
