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

__all__ = [
    "synthetic_benchmark",
    "synthetic_accuracy",
    "synthetic_latency",
    "synthetic_blockwise",
    "SYNTHETIC_TEACHERS",
]


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


#: The teachers :func:`synthetic_blockwise` makes: the best and the worst model of its students.
SYNTHETIC_TEACHERS = ("M1", "M5")


def synthetic_blockwise(
    folder: str | Path,
    *,
    num_students: int = 60,
    ft_epochs: Sequence[int] = (2, 4),
    distill_epochs: int = 2,
    seed: int = 0,
    seconds_per_epoch: float = 10.0,
    normal_epochs: int = 12,
    latency: bool = True,
) -> dict[str, object]:
    """Write the stores of a small blockwise experiment and return their paths.

    The normal-training benchmark (:func:`synthetic_benchmark`) holds ``num_students`` models
    drawn from the blocks 0..7 of every stage (so the signatures of those blocks cover them);
    M1 / M5 are its best / worst model by ``best_val_acc``. For each teacher: a blockwise
    store (all 8 x 3 blocks done, DONNA NSR falling with a block's accuracy effect -- the good
    teacher's signatures are less noisy -- and LANA deltas rising with it; 2 s of distillation
    and 0.5 s of signatures per block) and one finetune store per FT length, whose accuracy
    follows the normal one (a better teacher adds more; a longer FT adds more) with
    ``seconds_per_epoch`` per FT epoch. With ``latency`` a lookup-table store of device
    ``synthetic-cpu`` is attached to the benchmark.

    Returns:
        ``{"benchmark": path, "finetune": [paths], "blockwise": {name: path}, "teachers":
        {name: model}, "latency": path or None, "students": models}``.
    """
    from blox_space.arch import blocks_to_indices
    from blox_space.store.blockwise import create_blockwise_shard, write_block_result
    from blox_space.store.finetune import create_finetune_shard

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 10)
    grid = np.array(np.meshgrid(range(8), range(8), range(8), indexing="ij")).reshape(3, -1).T
    students = np.sort(rng.choice(blocks_to_indices(grid), size=num_students, replace=False))
    bench = synthetic_benchmark(
        folder / "benchmark.zarr", models=students, epochs=normal_epochs, seed=seed,
        seconds_per_epoch=seconds_per_epoch,
    )  # fmt: skip
    lat = synthetic_latency(folder / "lut.zarr", seed=seed, benchmark=bench) if latency else None
    group = open_store(bench)
    best = np.asarray(group[BEST_VAL_ACC.name][:, 0], dtype=np.float64)
    test = np.asarray(group[TEST_ACC.name][:, 0], dtype=np.float64)
    seconds = np.asarray(group[TRAIN_SECONDS.name][:, 0], dtype=np.float64)
    order = np.argsort(-best, kind="stable")
    effects = np.random.default_rng(seed).normal(size=(3, 45))  # synthetic_accuracy's first draw
    out: dict[str, object] = {"benchmark": bench, "finetune": [], "blockwise": {}, "teachers": {}}
    out["latency"], out["students"] = lat, students
    for name, row, quality, bonus in (("M1", order[0], 0.1, 2.0), ("M5", order[-1], 0.6, 0.5)):
        model = int(students[row])
        record = {
            "name": name, "model": model, "block_ids": [model % 45, (model // 45) % 45, model // 2025],
            "recipe_id": f"synthetic-{seed}", "val_acc": float(best[row]), "test_acc": float(test[row]),
            "train_seconds": float(seconds[row]), "width": 32, "resolution": 32, "num_classes": 100,
        }  # fmt: skip
        out["teachers"][name] = model  # type: ignore[index]
        noise = np.random.default_rng(seed + (1 if name == "M1" else 5))
        path = folder / f"blockwise-{name}.zarr"
        snapshots = list(range(1, distill_epochs + 1))
        shard = create_blockwise_shard(
            path, stages=[0, 1, 2], blocks=list(range(8)), epochs=distill_epochs, snapshots=snapshots,
            teacher=record, distill={"epochs": distill_epochs, "snapshots": snapshots, "recipe_id": "synthetic",
                                     "lr": 0.01, "seed": seed, "dead_channel_ratio": 1e-6},
            dataset="synthetic", library=str(folder / f"library-{name}"),
        )  # fmt: skip
        for s in range(3):
            for b in range(8):
                z = noise.normal(scale=quality)
                nsr = [float(np.exp(-effects[s, b] + z) / e) for e in range(1, distill_epochs + 1)]
                delta = [float(effects[s, b] - z - 1.0 / e) for e in snapshots]
                write_block_result(
                    shard, s, b, train_nsr=nsr, val_nsr=nsr, lana_val_acc=[record["val_acc"] + d for d in delta],
                    lana_delta_acc=delta, distill_seconds=2.0, signature_seconds=0.5, dead_channels=0,
                    library_file=[f"s{s}/b{b}/e{e}.pt" for e in snapshots], library_sha256=["0" * 64] * len(snapshots),
                    status=STATUS_DONE,
                )  # fmt: skip
        consolidate(path)
        out["blockwise"][name] = str(path)  # type: ignore[index]
        for ft in ft_epochs:
            path = folder / f"finetune-{name}-ft{ft}.zarr"
            shard = create_finetune_shard(
                path, students, epochs=int(ft), recipe_id=f"ft-synthetic-{ft}", recipe={"epochs": int(ft)},
                dataset="synthetic", teacher=record, library_id="synthetic", distill_epoch=distill_epochs,
                alpha=0.9, temperature=1.0,
            )  # fmt: skip
            gain = bonus * (1 - np.exp(-ft / 4.0))
            final = best - 6.0 + 2 * gain + noise.normal(scale=0.4, size=len(students))
            e = np.arange(1, int(ft) + 1)
            val = (final[:, None] * (1 - 0.3 * np.exp(-e))[None, :]).astype(np.float32)[:, None, :]
            with quiet_zarr():  # bulk writes (write_model_result is one model at a time)
                shard[VAL_ACC.name][:] = val
                shard[EPOCH_SECONDS.name][:] = np.float32(seconds_per_epoch)
                shard[BEST_VAL_ACC.name][:] = val.max(axis=2)
                shard[BEST_EPOCH.name][:] = val.argmax(axis=2) + 1
                test_ft = val.max(axis=2) + noise.normal(scale=0.3, size=(len(students), 1))
                shard[TEST_ACC.name][:] = test_ft.astype(np.float32)
                shard[TRAIN_SECONDS.name][:] = seconds_per_epoch * int(ft)
                shard[RUN_STATUS.name][:] = STATUS_DONE
            consolidate(path)
            out["finetune"].append(str(path))  # type: ignore[union-attr]
    return out
