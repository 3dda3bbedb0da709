"""The shard runner: train a bucket of models under one recipe into one benchmark shard store.

The shard is written through blox-space's shard API (the benchmark schema), one row per
(model, seed), each row's ``status`` last. Re-running the same command skips finished rows
(done or failed) and resumes the interrupted one from its per-epoch checkpoint, which lives in
``<out>.ckpt/`` next to the store and is removed when its run is recorded. The shard records
the recipe id and its version (``recipe_id_version``, :data:`blox_train.recipes.RECIPE_ID_VERSION`).

:func:`open_or_create_shard` and :func:`train_pending` are its two halves, shared with the
fine-tuning runner (:func:`blox_train.finetune.run_finetune`), whose shards have the same rows.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import zarr
from blox_space import parse_models
from blox_space.schema import STATUS_FAILED, STATUS_PENDING
from blox_space.store import (
    canonical_json,
    check_output_path,
    create_benchmark_shard,
    open_store,
    write_model_result,
)
from torch import nn
from tqdm.auto import tqdm

from .data import DataSplits, load_dataset
from .errors import ConfigError
from .recipes import RECIPE_ID_VERSION, Recipe, get_recipe
from .train import TrainResult, train

__all__ = [
    "ShardSummary",
    "checkpoint_dir_for",
    "open_or_create_shard",
    "parse_models",
    "run_shard",
    "train_pending",
]

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


def open_or_create_shard(
    out: Path,
    models: np.ndarray,
    recipe: Recipe,
    *,
    create: Callable[[], zarr.Group],
    kind: str = "benchmark",
    settings: Mapping[str, Any] | None = None,
) -> zarr.Group:
    """The shard at ``out``: opened if it holds this recipe, models, seeds and ``settings``,
    else created by ``create()``.

    Args:
        out: the shard store.
        models: sorted model indices the shard must hold.
        recipe: its id and seeds must match an existing shard's.
        create: makes the new shard (called only when ``out`` does not exist).
        kind: the store kind (``benchmark``, ``finetune``).
        settings: further group attributes an existing shard must hold with these values
            (JSON-compared), e.g. a finetune shard's teacher, alpha and temperature.

    Raises:
        ConfigError: ``out`` holds another recipe, other models, seeds or settings.
    """
    if out.exists():
        group = open_store(out, kind, mode="r+")
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
        for key, value in (settings or {}).items():
            have, want = group.attrs.get(key), json.loads(canonical_json(value))
            if have != want:
                raise ConfigError(
                    f"{out} holds {key} {_short(have)}, not {_short(want)}; use another --out or delete it"
                )
        return group
    check_output_path(out)  # before any model is trained
    return create()


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 120 else text[:117] + "..."


def train_pending(
    group: zarr.Group,
    out: Path,
    recipe: Recipe,
    train_one: Callable[[int, int, DataSplits, Path], TrainResult],
    *,
    data_root: str | Path | None = None,
    download: bool = False,
    progress: bool = False,
    checkpoint_tag: str = "",
    start: float | None = None,
) -> ShardSummary:
    """Train every pending (model, seed) row of an open shard and write each result.

    The recipe's dataset is loaded once, only when a row is pending. Each run checkpoints to
    ``<out>.ckpt/model-{m}-seed-{s}{checkpoint_tag}.pt`` (removed when its row is written); a
    ``RuntimeError`` (e.g. out of memory) is recorded as a failed row and the shard carries on.

    Args:
        group: the writable shard (benchmark-schema arrays).
        out: its path (for the checkpoint folder and the summary).
        recipe: supplies the dataset to load.
        train_one: ``train_one(model, seed, data, checkpoint)`` -> the run's :class:`TrainResult`.
        data_root, download: where the dataset lives and whether it may be downloaded.
        progress: a tqdm bar over the runs on stderr.
        checkpoint_tag: added to checkpoint names, so runs of other settings that share the
            model, seed and recipe id never resume each other.
        start: ``time.perf_counter()`` when the caller started (default now), for the summary.

    Returns:
        A :class:`ShardSummary`.
    """
    start = time.perf_counter() if start is None else start
    models = group["model"][:].tolist()
    seeds = group["seed"][:].tolist()
    status = group["status"][:]
    todo = [
        (int(m), int(s))
        for i, m in enumerate(models)
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
            ckpt = ckpt_dir / f"model-{model}-seed-{seed}{checkpoint_tag}.pt"
            try:
                result = train_one(model, seed, data, ckpt)
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
    group = open_or_create_shard(
        out,
        indices,
        recipe,
        create=lambda: create_benchmark_shard(
            out,
            indices,
            seeds=recipe.seeds,
            epochs=recipe.epochs,
            recipe_id=recipe.id,
            recipe=recipe.to_dict(),
            dataset=recipe.dataset,
            bucket=bucket,
            attrs={"recipe_id_version": RECIPE_ID_VERSION},
            producer=PRODUCER,
        ),
    )

    def train_one(model: int, seed: int, data: DataSplits, ckpt: Path) -> TrainResult:
        return train(
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

    return train_pending(
        group, out, recipe, train_one, data_root=data_root, download=download, progress=progress, start=start
    )
