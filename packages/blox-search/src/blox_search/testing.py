"""Generated stores with a known answer, for tests, benchmarks and examples (no training).

:func:`synthetic_benchmark` writes a benchmark store whose accuracy landscape has structure a
search can exploit (a per-(stage, block) effect summed over the stages, plus a small
interaction term), saturating learning curves (so lower fidelities rank models roughly like
the full training) and per-epoch seconds that grow with the blocks' cost.

:func:`synthetic_latency` writes a lookup-table latency store (``latency_lut``, the kind
``blox-hw blocks`` writes) whose block latencies grow with the blocks' accuracy effects, so
accuracy and latency trade off and a multi-objective search has a front to find.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from blox_space.blocks import NUM_MODELS
from blox_space.schema import (
    BENCHMARK,
    BEST_EPOCH,
    BEST_VAL_ACC,
    EPOCH_SECONDS,
    LATENCY_LUT,
    RUN_STATUS,
    TEST_ACC,
    TRAIN_SECONDS,
    VAL_ACC,
)
from blox_space.store import create_store, open_store
from blox_space.store.group import consolidate, quiet_zarr
from blox_space.store.spec import STATUS_DONE

__all__ = ["synthetic_benchmark", "synthetic_accuracy", "synthetic_latency"]


def synthetic_accuracy(models: np.ndarray, *, seed: int = 0, structure: float = 1.0) -> np.ndarray:
    """The final accuracy (%) of the generated landscape: ``60 + 4 * (sum of per-stage block
    effects) * structure + interaction``; ``structure=0`` gives an unstructured landscape."""
    rng = np.random.default_rng(seed)
    effects = rng.normal(size=(3, 45))
    interaction = rng.normal(size=NUM_MODELS)
    models = np.asarray(models, dtype=np.int64)
    blocks = np.stack([models % 45, (models // 45) % 45, models // 2025], axis=-1)
    additive = effects[0, blocks[:, 0]] + effects[1, blocks[:, 1]] + effects[2, blocks[:, 2]]
    return 60.0 + 4.0 * structure * additive + 1.5 * interaction[models] * (1.0 if structure else 4.0)


def synthetic_benchmark(
    path: str | Path,
    *,
    models: Sequence[int] | np.ndarray | None = None,
    epochs: int = 12,
    seeds: Sequence[int] = (0,),
    seed: int = 0,
    structure: float = 1.0,
    noise: float = 0.3,
    seconds_per_epoch: float = 10.0,
) -> str:
    """Write a generated benchmark store (all runs done) and return its path.

    Args:
        path: the store folder (must not exist).
        models: the models it holds (default all 91,125: a full store).
        epochs: epochs per run.
        seeds: training seeds; each adds its own noise.
        seed: seed of the landscape.
        structure: weight of the additive, exploitable part (0: unstructured).
        noise: per-seed, per-epoch noise of the validation accuracy (%).
        seconds_per_epoch: mean seconds of one epoch.
    """
    models = np.arange(NUM_MODELS) if models is None else np.unique(np.asarray(models, dtype=np.int64))
    seeds = [int(s) for s in seeds]
    final = synthetic_accuracy(models, seed=seed, structure=structure)
    rng = np.random.default_rng(seed + 1)
    speed = rng.uniform(0.5, 1.5, size=(3, 45))
    blocks = np.stack([models % 45, (models // 45) % 45, models // 2025], axis=-1)
    per_epoch_s = (
        seconds_per_epoch * (speed[0, blocks[:, 0]] + speed[1, blocks[:, 1]] + speed[2, blocks[:, 2]]) / 3
    )
    e = np.arange(1, epochs + 1)
    tau = max(epochs / 4.0, 1.0)
    shape = (len(models), len(seeds), epochs)
    curve = final[:, None, None] * (1 - 0.6 * np.exp(-e / tau))[None, None, :]
    val = (curve + rng.normal(scale=noise, size=shape)).clip(0, 100).astype(np.float32)
    test = (final[:, None] + rng.normal(scale=noise, size=(len(models), len(seeds)))).clip(0, 100)
    ep_s = (per_epoch_s[:, None, None] * rng.uniform(0.95, 1.05, size=shape)).astype(np.float32)
    group = create_store(
        path,
        BENCHMARK,
        sizes={"model": len(models), "seed": len(seeds), "epoch": epochs},
        coords={"model": models, "seed": np.asarray(seeds), "epoch": e},
        chunks={"model": 8192},
        attrs={
            "recipe_id": f"synthetic-{seed}",
            "recipe": {"name": "synthetic", "epochs": epochs, "seed": seed},
            "dataset": "synthetic",
            "epochs": epochs,
            "is_partial": len(models) < NUM_MODELS,
            "environments": [{"device": "synthetic"}],
        },
    )
    group[VAL_ACC.name][:] = val
    group[EPOCH_SECONDS.name][:] = ep_s
    group[BEST_VAL_ACC.name][:] = val.max(axis=2)
    group[BEST_EPOCH.name][:] = val.argmax(axis=2) + 1
    group[TEST_ACC.name][:] = test.astype(np.float32)
    group[TRAIN_SECONDS.name][:] = ep_s.astype(np.float64).sum(axis=2)
    group[RUN_STATUS.name][:] = STATUS_DONE
    consolidate(path)
    return str(path)


def synthetic_latency(
    path: str | Path,
    *,
    device: str = "synthetic-cpu",
    seed: int = 0,
    tradeoff: float = 0.5,
    noise: float = 0.3,
    fixed_s: tuple[float, float, float] = (2e-4, 1e-4, 1e-4),
    benchmark: str | Path | None = None,
) -> str:
    """Write a generated lookup-table latency store of one device and return its path.

    Block ``b`` of stage ``s`` takes ``1e-3 * exp(tradeoff * effect[s, b] + noise * z) / 3``
    seconds, where ``effect`` is the per-(stage, block) accuracy effect of the landscape
    :func:`synthetic_accuracy` draws for the same ``seed`` and ``z`` is standard normal: with
    ``tradeoff > 0`` the blocks that make a model accurate also make it slow. A model's latency
    is the additive prediction ``sum(fixed) + sum_s block[s, b_s]`` (about 1 ms).

    Args:
        path: the store folder (must not exist).
        device: the device name the store reports (``latency_device=`` of an evaluator).
        seed: seed of the landscape whose effects the latencies follow (and of the noise).
        tradeoff: how strongly latency grows with a block's accuracy effect (0: unrelated).
        noise: log-normal noise of the block latencies.
        fixed_s: seconds of the stem, the head and the glue.
        benchmark: a benchmark store to record the latency store with (its
            ``latency_stores`` attr), so ``open_benchmark`` and evaluators attach it by default.

    Returns:
        The store path.

    Example:
        >>> synthetic_latency(tmp / "lat.zarr", benchmark=tmp / "bench.zarr")  # doctest: +SKIP
    """
    rng = np.random.default_rng(seed)
    effects = rng.normal(size=(3, 45))  # the draw synthetic_accuracy makes first for this seed
    z = np.random.default_rng(seed + 2).normal(size=(3, 45))
    block_s = 1e-3 * np.exp(tradeoff * effects + noise * z) / 3.0
    fixed = np.asarray(fixed_s, dtype=np.float64)
    group = create_store(
        path,
        LATENCY_LUT,
        sizes={"stage": 3, "block": 45, "part": len(fixed)},
        coords={"part": np.array(["stem", "head", "glue"][: len(fixed)])},
        attrs={
            "device": device,
            "device_kind": "synthetic",
            "precision": "fp32",
            "protocol": {"name": "synthetic", "version": 1, "statistic": "generated"},
            "environment": {"device": "synthetic"},
            "width": 32,
            "resolution": 32,
            "num_classes": 100,
        },
    )
    group[LATENCY_LUT["block_latency_s"].name][:] = block_s
    group[LATENCY_LUT["block_latency_spread"].name][:] = 0.0
    group[LATENCY_LUT["block_status"].name][:] = STATUS_DONE
    group[LATENCY_LUT["fixed_latency_s"].name][:] = fixed
    group[LATENCY_LUT["fixed_latency_spread"].name][:] = 0.0
    group[LATENCY_LUT["fixed_status"].name][:] = STATUS_DONE
    consolidate(path)
    if benchmark is not None:
        bench = open_store(benchmark, mode="r+")
        recorded = list(bench.attrs.get("latency_stores", []))
        rel = os.path.relpath(Path(path).resolve(), Path(benchmark).resolve().parent)
        with quiet_zarr():  # rewriting the group's metadata re-reads its string arrays
            bench.attrs["latency_stores"] = [*recorded, rel]
        consolidate(benchmark)
    return str(path)
