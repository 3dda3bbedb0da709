"""Plain-value and table views of a :class:`~blox_space.bench.benchmark.Benchmark`: its
summary, one run's full record, a pandas DataFrame and a lazy xarray Dataset. Built on the
object's public query methods only."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ..arch import all_hashes, to_arch_vec, to_index, to_name
from ..errors import StoreError
from ..store.benchmark import METRICS
from ..store.spec import Status

if TYPE_CHECKING:  # the Benchmark imports this module, not the other way round
    from .benchmark import Benchmark

__all__ = ["summary", "full_info", "to_dataframe", "to_xarray"]


def summary(bench: Benchmark) -> dict[str, Any]:
    """What :meth:`Benchmark.summary` returns."""
    models = bench.models
    runs = {}
    for seed in bench.seeds:
        status = bench.status(models, seed=seed)
        runs[seed] = {s.label: int((status == s).sum()) for s in Status}
    attrs = bench.attrs
    return {
        "path": str(bench.path),
        "recipe_id": bench.recipe_id,
        "recipe": bench.recipe,
        "dataset": bench.dataset,
        "epochs": bench.epochs,
        "seeds": bench.seeds,
        "num_models": len(bench),
        "runs": runs,
        "is_partial": bench.is_partial,
        "devices": bench.devices,
        "num_environments": len(attrs.get("environments", [])),
        "val_epoch1_aliased": bool(attrs.get("val_epoch1_aliased", False)),
        "provenance": attrs.get("provenance", {}),
    }


def _recorded(bench: Benchmark, key: str, arch: Any) -> Any:
    try:
        return getattr(bench, key)(arch)
    except StoreError:  # not recorded and no space store attached
        return None


def full_info(bench: Benchmark, arch: Any, seed: int | None) -> dict[str, Any]:
    """What :meth:`Benchmark.full_info` returns."""
    index = to_index(arch)
    seed = bench.seeds[0] if seed is None else seed
    info: dict[str, Any] = {
        "model": index,
        "hash": str(all_hashes()[index]),
        "name": to_name(index),
        "arch_vec": to_arch_vec(index),
        "seed": int(seed),
        "status": bench.status(index, seed=seed),
        "fail_reason": bench.fail_reason(index, seed=seed),
    }
    for name, metric in METRICS.items():
        info[name] = (
            bench.curve(index, name, seed=seed) if metric.per_epoch else bench.query(index, name, seed=seed)
        )
    info["params"] = _recorded(bench, "params", index)
    info["flops"] = _recorded(bench, "flops", index)
    info["env"] = bench.env(index, seed=seed)
    info["latency"] = bench.latency(index) if bench.devices else {}
    return info


def to_dataframe(bench: Benchmark, epoch: int | None, seed: int | str | None) -> Any:
    """What :meth:`Benchmark.to_dataframe` returns."""
    import pandas as pd

    models = bench.models
    one_seed = (
        None if isinstance(seed, str) else seed
    )  # status and best epoch of a seed mean: the lowest seed's
    cols: dict[str, Any] = {"hash": all_hashes()[models], "status": bench.status(models, seed=one_seed)}
    for metric in ("val_acc", "val_loss", "val_top5", "train_acc", "train_loss"):
        cols[metric] = bench.query(models, metric, epoch=epoch, seed=seed)
    for metric in ("test_acc", "test_loss", "test_top5"):
        cols[metric] = bench.query(models, metric, seed=seed)
    cols["train_seconds"] = bench.train_time(models, epoch, seed=seed)
    cols["best_epoch"] = bench.query(models, "best_epoch", seed=one_seed)
    for key in ("params", "flops"):
        values = _recorded(bench, key, models)
        if values is not None:
            cols[key] = values
    for device, values in (bench.latency(models) if bench.devices else {}).items():
        cols[f"latency_{device}"] = values
    return pd.DataFrame(cols, index=pd.Index(models, name="model"))


def to_xarray(bench: Benchmark) -> Any:
    """What :meth:`Benchmark.to_xarray` returns."""
    import xarray as xr

    meta = bench.path / "zarr.json"
    consolidated = meta.exists() and "consolidated_metadata" in meta.read_text()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Consolidated metadata.*")
        warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
        return xr.open_zarr(bench.path, consolidated=consolidated, chunks=None)
