"""Shared settings of the blox-predict tests."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import numpy as np


def synthetic_proxies_store(path: str | Path, models: np.ndarray | None = None, *, seed: int = 0) -> str:
    """A proxies store of generated values (a positive per-(stage, block) score summed over the
    stages, per proxy) for ``models`` (default: all 91,125), for tests that need proxies of any model."""
    from blox_space.arch import indices_to_blocks
    from blox_space.store.proxies import PROXY_NAMES, write_proxies_shard

    models = np.arange(91125) if models is None else np.asarray(models)
    blocks = indices_to_blocks(models)
    rng = np.random.default_rng(seed)
    values = {}
    for name in PROXY_NAMES:
        table = rng.normal(size=(3, 45))
        score = table[0, blocks[:, 0]] + table[1, blocks[:, 1]] + table[2, blocks[:, 2]]
        values[name] = -score if name == "jacob_cov" else np.exp(score + 3.0)
    write_proxies_shard(
        path, models, values, seconds=np.zeros(len(models)), recipe_id="synthetic", recipe={"name": "synthetic"},
        dataset="synthetic", seed=seed, batch_size=8, geometry={"width": 4, "resolution": 8, "num_classes": 10},
    )  # fmt: skip
    return str(path)


_TMP = tempfile.mkdtemp(prefix="blox-predict-tests-")
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)

#: Small hyperparameters per registered predictor, so the contract check (test_contract.py) is quick.
#: Every registered predictor has an entry; each predictor's owner keeps its own line.
FAST_PARAMS: dict[str, dict] = {
    "gcn": {"num_layers": 2, "hidden": 32, "epochs": 5, "batch_size": 16, "random_state": 0},
    "brp": {"num_layers": 2, "hidden": 32, "epochs": 3, "batch_size": 64, "random_state": 0},
    "donna": {"order": 2, "signatures": np.random.default_rng(0).random((3, 45))},
    "lana": {"signatures": np.random.default_rng(1).normal(size=(3, 45))},
    "proxy": {"proxies": synthetic_proxies_store(Path(_TMP) / "proxies.zarr"), "proxy": None},
}
