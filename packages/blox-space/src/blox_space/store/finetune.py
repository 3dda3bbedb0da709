"""Schema of the **finetune** store and its shard creation: students fine-tuned from one teacher's
block library for one FT length (SPEC §5c, §8), written by ``blox-train finetune`` shards and
merged along ``model`` with the shared merge.

The arrays, coordinates, chunks and units are exactly the benchmark store's
(:mod:`blox_space.store.benchmark`): per-epoch metrics over (model, seed, epoch) with epochs
counted from 1 (here the fine-tuning epochs, ``1..ft_epochs``), test metrics measured once with
the best-validation weights, seconds, ``status`` and ``fail_reason``. So rows are written with
:func:`blox_space.store.write_model_result`, finished rows are found with
:func:`~blox_space.store.finished_models`, and :func:`blox_space.open_benchmark` reads a
finetune store like any benchmark (its ``kind`` says which it is).

Group attributes (:data:`FINETUNE_ATTRS`): the benchmark's (``recipe_id`` and ``recipe`` of the
fine-tuning recipe, ``dataset``, ``epochs``, ``is_partial``, ``environments``) plus ``teacher``
(the teacher record, keys :data:`~blox_space.store.blockwise.TEACHER_KEYS`), ``library_id``
(the block library's distill id), ``distill_epoch`` (the library snapshot the students'
blocks were taken at), ``ft_epochs`` (the FT length, = ``epochs``), ``alpha`` (weight of the KL
term in ``(1 - alpha) * CE + alpha * KL(T)``) and ``temperature`` (T). Shards of one store
share all of them except ``is_partial`` and ``environments``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from ..errors import SchemaError
from .benchmark import BENCHMARK, BENCHMARK_ATTRS, check_benchmark_store
from .blockwise import check_teacher, is_int
from .shard import create_model_shard
from .spec import StoreSpec, register_store_kind

__all__ = ["FINETUNE_ATTRS", "FINETUNE", "check_finetune_store", "create_finetune_shard"]

#: Attributes a finetune store has beyond the benchmark's.
_FT_ATTRS = ("teacher", "library_id", "distill_epoch", "ft_epochs", "alpha", "temperature")
#: Group attributes every finetune store has.
FINETUNE_ATTRS = BENCHMARK_ATTRS + _FT_ATTRS


def check_finetune_store(group: Any, path: Any) -> None:
    """The benchmark checks (:func:`~blox_space.store.benchmark.check_benchmark_store`) plus a
    teacher record that is a mapping.

    Raises:
        SchemaError: naming what is wrong.
    """
    check_benchmark_store(group, path)
    if not isinstance(group.attrs["teacher"], dict):
        raise SchemaError(f"{path}: a finetune store needs a teacher attribute (a mapping)")


FINETUNE = register_store_kind(
    StoreSpec(
        kind="finetune",
        coords=BENCHMARK.coords,
        arrays=BENCHMARK.arrays,
        chunks=dict(BENCHMARK.chunks),
        required_attrs=FINETUNE_ATTRS,
        merge_dim="model",
        match_attrs=BENCHMARK.match_attrs + _FT_ATTRS,
        carry_attrs=BENCHMARK.carry_attrs,
        env_index=BENCHMARK.env_index,
        check=check_finetune_store,
    )
)


def _number(value: Any, what: str, low: float, high: float, *, open_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SchemaError(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not np.isfinite(number) or number < low or number > high or (open_low and number == low):
        bound = f"> {low:g}" if open_low and high == np.inf else f"in {low:g}..{high:g}"
        raise SchemaError(f"{what} must be {bound}, got {value!r}")
    return number


def create_finetune_shard(
    path: str | Path,
    models: Sequence[int] | np.ndarray,
    *,
    seeds: Sequence[int] = (0,),
    epochs: int,
    recipe_id: str,
    recipe: Mapping[str, Any],
    dataset: str,
    teacher: Mapping[str, Any],
    library_id: str,
    distill_epoch: int,
    alpha: float,
    temperature: float,
    bucket: tuple[int, int] | None = None,
    attrs: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    producer: str = "blox-space",
) -> zarr.Group:
    """Create an empty finetune shard for some students, all ``pending``; rows are then written
    with :func:`~blox_space.store.write_model_result`.

    Args:
        path: the shard store folder (e.g. ``results/finetune/M1/ft50/bucket-0.zarr``).
        models: student model indices (any order; stored sorted).
        seeds: fine-tuning seeds.
        epochs: the FT length (fine-tuning epochs); the epoch coordinate is ``1..epochs``.
        recipe_id: id of the fine-tuning recipe (its canonical form hashed).
        recipe: the recipe's canonical dict.
        dataset: dataset name.
        teacher: the teacher record (keys :data:`~blox_space.store.blockwise.TEACHER_KEYS`).
        library_id: the block library's id (its distill id).
        distill_epoch: the library snapshot epoch (from 1) the students' blocks come from.
        alpha: KL weight in ``(1 - alpha) * CE + alpha * KL``, in 0..1.
        temperature: distillation temperature T > 0.
        bucket: ``(index, count)`` when the shard is bucket ``index`` of ``count``.
        attrs: further group attributes (e.g. ``recipe_id_version``).
        overwrite: replace an existing store.
        producer: distribution recorded as producer (e.g. ``"blox-train"``).

    Returns:
        The open, writable Zarr group.

    Raises:
        SchemaError: what :func:`~blox_space.store.create_benchmark_shard` refuses, a teacher
            lacking keys, an empty library id, a distill epoch < 1, alpha outside 0..1 or a
            temperature <= 0.
        StoreError: ``path`` exists and ``overwrite`` is False.
    """
    if not str(library_id).strip():
        raise SchemaError("a finetune store needs a non-empty library_id (the block library's distill id)")
    if not is_int(distill_epoch) or distill_epoch < 1:
        raise SchemaError(
            f"distill_epoch must be a library snapshot epoch >= 1 (from 1), got {distill_epoch!r}"
        )
    ft_attrs = {
        "teacher": check_teacher(teacher),
        "library_id": str(library_id),
        "distill_epoch": int(distill_epoch),
        "ft_epochs": int(epochs),
        "alpha": _number(alpha, "alpha", 0.0, 1.0),
        "temperature": _number(temperature, "temperature", 0.0, np.inf, open_low=True),
    }
    return create_model_shard(
        path, FINETUNE, models, seeds=seeds, epochs=epochs, recipe_id=recipe_id, recipe=recipe,
        dataset=dataset, bucket=bucket, attrs={**dict(attrs or {}), **ft_attrs}, overwrite=overwrite,
        producer=producer,
    )  # fmt: skip
