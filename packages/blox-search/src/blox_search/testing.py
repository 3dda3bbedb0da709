"""Generated stores with a known answer, for tests, benchmarks and examples (no training).

:func:`synthetic_benchmark` writes a benchmark store whose accuracy landscape has structure a
search can exploit (a per-(stage, block) effect summed over the stages, plus a small
interaction term), saturating learning curves (so lower fidelities rank models roughly like
the full training) and per-epoch seconds that grow with the blocks' cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from blox_space.blocks import NUM_MODELS
from blox_space.schema import (
    BENCHMARK,
    BEST_EPOCH,
    BEST_VAL_ACC,
    EPOCH_SECONDS,
    RUN_STATUS,
    TEST_ACC,
    TRAIN_SECONDS,
    VAL_ACC,
)
from blox_space.store import create_store
from blox_space.store.group import consolidate
from blox_space.store.spec import STATUS_DONE

__all__ = ["synthetic_benchmark", "synthetic_accuracy"]


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
