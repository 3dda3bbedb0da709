"""The shard runner: train a bucket of models under one recipe into one benchmark shard store.

The shard is written through blox-space's shard API (the benchmark schema), one row per
(model, seed), each row's ``status`` last. Re-running the same command skips finished rows
(done or failed) and resumes the interrupted one from its per-epoch checkpoint, which lives in
``<out>.ckpt/`` next to the store and is removed when its run is recorded. The shard records
the recipe id and its version (``recipe_id_version``, :data:`blox_train.recipes.RECIPE_ID_VERSION`).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from blox_space import parse_models
from blox_space.schema import STATUS_FAILED, STATUS_PENDING
from blox_space.store import check_output_path, create_benchmark_shard, open_store, write_model_result
from torch import nn
from tqdm.auto import tqdm

from .data import load_dataset
from .errors import ConfigError
from .recipes import RECIPE_ID_VERSION, Recipe, get_recipe
from .train import train

__all__ = ["ShardSummary", "parse_models", "run_shard", "checkpoint_dir_for"]

logger = logging.getLogger(__name__)

PRODUCER = "blox-train"


@dataclass(frozen=True)
class ShardSummary:
    """What one call of :func:`run_shard` did.

    Attributes:
        path: the shard store.
        num_runs: (model, seed) runs in the shard.
        num_trained: runs trained (or resumed) by this call.
        num_skipped: runs already finished before this call.
        num_failed: runs recorded as failed by this call.
        seconds: wall-clock seconds of this call.
    """

    path: Path
    num_runs: int
    num_trained: int
    num_skipped: int
    num_failed: int
    seconds: float


def checkpoint_dir_for(out: str | Path) -> Path:
    """Where the shard at ``out`` keeps per-run checkpoints: ``<out>.ckpt/``."""
    out = Path(out)
    return out.with_name(out.name + ".ckpt")


def _open_or_create(out: Path, models: np.ndarray, recipe: Recipe, bucket: tuple[int, int] | None):
    """The shard at ``out``: opened if it holds this recipe, models and seeds, else created."""
    if out.exists():
        group = open_store(out, "benchmark", mode="r+")
        if group.attrs.get("recipe_id") != recipe.id:
            raise ConfigError(
                f"{out} holds recipe id {group.attrs.get('recipe_id')}, not {recipe.id} ({recipe.name}); "
                "use another --out or delete it"
            )
        if not np.array_equal(group["model"][:], models):
            raise ConfigError(
                f"{out} holds other models than the ones asked for; use another --out or delete it"
            )
        held, wanted = group["seed"][:].tolist(), sorted(recipe.seeds)
        if held != wanted:  # seeds are not part of the recipe id, so the id check lets them through
            raise ConfigError(
                f"{out} holds seeds {held}, not {wanted} (of the same recipe id {recipe.id}); "
                "use another --out for these seeds or delete it"
            )
        return group
    check_output_path(out)  # before any model is trained
    return create_benchmark_shard(
        out,
        models,
        seeds=recipe.seeds,
        epochs=recipe.epochs,
        recipe_id=recipe.id,
        recipe=recipe.to_dict(),
        dataset=recipe.dataset,
        bucket=bucket,
        attrs={"recipe_id_version": RECIPE_ID_VERSION},
        producer=PRODUCER,
    )


def run_shard(
    models: str | Sequence[int],
    recipe: Recipe | str,
    out: str | Path,
    *,
    bucket: tuple[int, int] | None = None,
    data_root: str | Path | None = None,
    download: bool = False,
    device: str | torch.device = "cpu",
    num_workers: int = 0,
    progress: bool = False,
    build: Callable[..., nn.Module] | None = None,
) -> ShardSummary:
    """Train every (model, seed) of a bucket and record it in the shard store ``out``.

    Args:
        models: a model spec (see :func:`parse_models`) or indices.
        recipe: a :class:`Recipe` or registered name; its ``seeds`` are the shard's seeds.
        out: the shard store (``.zarr`` folder); created if missing, resumed if present.
        bucket: ``(index, count)`` recorded for the merge's completeness check.
        data_root, download, device, num_workers: passed to :func:`blox_train.train`.
        progress: a tqdm bar over the runs (with ETA) and one per run, on stderr.
        build: model factory passed to :func:`blox_train.train` (tests, wrapped models).

    Returns:
        A :class:`ShardSummary`.

    Raises:
        ConfigError: a bad model spec, or ``out`` holding another recipe, other models or
            other seeds.
        UnknownRecipeError, DatasetNotFoundError: as for :func:`blox_train.train`.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     summary = run_shard("0:2", get_recipe("ci", {"epochs": 1}), f"{tmp}/bucket-0.zarr")
        ...     again = run_shard("0:2", get_recipe("ci", {"epochs": 1}), f"{tmp}/bucket-0.zarr")
        >>> summary.num_runs, summary.num_trained, summary.num_failed, again.num_skipped
        (2, 2, 0, 2)
    """
    start = time.perf_counter()
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    indices = parse_models(models)
    out = Path(out)
    group = _open_or_create(out, indices, recipe, bucket)
    seeds = group["seed"][:].tolist()
    status = group["status"][:]
    todo = [
        (int(m), int(s))
        for i, m in enumerate(indices)
        for j, s in enumerate(seeds)
        if status[i, j] == STATUS_PENDING
    ]
    num_runs = status.size
    ckpt_dir = checkpoint_dir_for(out)
    trained = failed = 0
    if todo:
        data = load_dataset(
            recipe.dataset,
            root=data_root,
            resolution=recipe.resolution,
            split_seed=recipe.split_seed,
            download=download,
        )
        bar = tqdm(todo, desc=out.name, unit="model", disable=not progress)
        for model, seed in bar:
            ckpt = ckpt_dir / f"model-{model}-seed-{seed}.pt"
            try:
                result = train(
                    model,
                    recipe,
                    seed=seed,
                    data=data,
                    device=device,
                    num_workers=num_workers,
                    checkpoint=ckpt,
                    progress=progress,
                    build=build,
                )
            except RuntimeError as err:  # e.g. out of memory: recorded, the shard carries on
                logger.exception("model %d seed %d crashed", model, seed)
                write_model_result(
                    group,
                    model,
                    seed,
                    per_epoch={},
                    test={},
                    train_seconds=float("nan"),
                    status=STATUS_FAILED,
                    fail_reason=f"{type(err).__name__}: {err}",
                )
                failed += 1
                trained += 1
                continue
            is_done = result.is_done
            write_model_result(
                group,
                model,
                seed,
                per_epoch=result.metrics,
                test=result.test,
                train_seconds=result.train_seconds,
                status=int(result.status_flag),
                fail_reason=result.reason,
                env=result.env,
                params=result.params,
                macs=result.macs,
            )
            ckpt.unlink(missing_ok=True)
            trained += 1
            failed += not is_done
            bar.set_postfix(failed=failed)
        bar.close()
    if ckpt_dir.exists() and not any(ckpt_dir.iterdir()):
        shutil.rmtree(ckpt_dir)
    seconds = time.perf_counter() - start
    logger.info(
        "%s: %d runs, %d trained (%d failed), %d already finished, %.1f s",
        out,
        num_runs,
        trained,
        failed,
        num_runs - len(todo),
        seconds,
    )
    return ShardSummary(out, num_runs, trained, num_runs - len(todo), failed, seconds)
