"""Plain-value and table views of a :class:`~blox_space.benchmark.Benchmark`: its summary,
one run's full record, a pandas DataFrame and a lazy xarray Dataset."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._lazyarray import to_python
from .arch import all_hashes, indices_to_blocks, to_arch_vec, to_index
from .benchmark import _STATUS_NAMES, METRICS, Benchmark
from .blocks import BLOCKS
from .errors import StoreError

__all__ = ["summary", "full_info", "to_dataframe", "to_xarray"]


def summary(bench: Benchmark) -> dict[str, Any]:
    status = bench._group["status"][:]
    runs = {
        int(seed): {name: int((status[:, s] == flag).sum()) for flag, name in _STATUS_NAMES.items()}
        for s, seed in enumerate(bench._seeds)
    }
    return {
        "path": str(bench._path),
        "recipe_id": bench.recipe_id,
        "recipe": bench.recipe,
        "dataset": bench.dataset,
        "epochs": bench.epochs,
        "seeds": bench.seeds,
        "num_models": len(bench),
        "runs": runs,
        "is_partial": bench.is_partial,
        "devices": bench.devices,
        "num_environments": len(bench._attrs.get("environments", [])),
        "val_epoch1_aliased": bool(bench._attrs.get("val_epoch1_aliased", False)),
        "provenance": bench._attrs.get("provenance", {}),
    }


def full_info(bench: Benchmark, arch: Any, seed: int | None) -> dict[str, Any]:
    index = to_index(arch)
    pos = int(bench._positions(np.int64(index)))
    s = bench._seed_position(seed)
    info: dict[str, Any] = {
        "model": index,
        "hash": str(all_hashes()[index]),
        "name": " | ".join(BLOCKS[b].name for b in indices_to_blocks([index])[0]),
        "arch_vec": to_arch_vec(index),
        "seed": int(bench._seeds[s]),
        "status": _STATUS_NAMES[int(bench._array("status").row(pos)[s])],
        "fail_reason": str(bench._array("fail_reason").row(pos)[s]),
    }
    for metric, (name, per_epoch, _) in METRICS.items():
        row = bench._array(name).row(pos)[s]
        info[metric] = [to_python(v) for v in row] if per_epoch else to_python(row)
    for key, name in (("params", "params"), ("flops", "macs")):
        try:
            info[key] = bench._static(index, name, name)
        except StoreError:
            info[key] = None
    info["env"] = bench.env(index, seed=int(bench._seeds[s]))
    info["latency"] = bench.latency(index) if bench.devices else {}
    return info


def to_dataframe(bench: Benchmark, epoch: int | None, seed: int | str | None) -> Any:
    import pandas as pd

    models = bench._models
    cols: dict[str, Any] = {"hash": all_hashes()[models]}
    seed_int = None if isinstance(seed, str) else seed
    cols["status"] = bench._run_values("status", models, bench._seed_position(seed_int))
    for metric in ("val_acc", "val_loss", "val_top5", "train_acc", "train_loss"):
        cols[metric] = bench.query(models, metric, epoch=epoch, seed=seed)
    for metric in ("test_acc", "test_loss", "test_top5"):
        cols[metric] = bench.query(models, metric, seed=seed)
    cols["train_seconds"] = bench.train_time(models, epoch, seed=seed)
    cols["best_epoch"] = bench._run_values("best_epoch", models, bench._seed_position(seed_int))
    for key in ("params", "flops"):
        try:
            cols[key] = getattr(bench, key)(models)
        except StoreError:
            pass
    for device, values in (bench.latency(models) if bench.devices else {}).items():
        cols[f"latency_{device}"] = values
    return pd.DataFrame(cols, index=pd.Index(models, name="model"))


def to_xarray(bench: Benchmark) -> Any:
    import xarray as xr

    consolidated = (bench._path / "zarr.json").exists() and "consolidated_metadata" in (
        (bench._path / "zarr.json").read_text()
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Consolidated metadata.*")
        warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
        return xr.open_zarr(bench._path, consolidated=consolidated, chunks=None)
