"""Blockwise distillation cost (issue 12) on this machine, at the ``quick`` recipe's scale:

* seconds per distilled block (the store's ``distill_seconds``: the block's own training steps
  and validation passes plus an even share of its stage's shared teacher passes), per stage;
* the cost of a whole 135-block library in FTE: the summed ``distill_seconds`` and
  ``signature_seconds`` of all 3 x 45 blocks (SPEC §5b), divided by the median normal-training
  seconds (``train_seconds``) of models trained with the same recipe in the same process.

The teacher is a normally trained quick model (:func:`blox_train.make_teacher`); each stage is one
:func:`blox_train.run_distill` shard, as the workflow runs it, with the quick preset's
``distill_epochs`` (``BLOX_DISTILL_BENCH_EPOCHS``, default 2) and one snapshot (the last).
The FTE reference trains ``BLOX_DISTILL_BENCH_MODELS`` (default ``sample:6:0``) plus the teacher.
Nothing is asserted beyond completeness: the numbers depend on the machine and its load, so they
are recorded with the load average.

Measured on the 2-core development machine (1 thread, load 1.4-2): 1.32 s per block (0.66 s per
block-epoch; stage medians 2.20 / 1.24 / 0.99 s), 0.10 s of LANA per block, 191.5 s for the
135-block library = 20.8 FTE (10.4 FTE per distillation epoch; median normal training 9.2 s).
Before distillation followed the recipe's channels_last: 1.88 s per block, 32.4 FTE.
"""

from __future__ import annotations

import os
import statistics
import time

import blox_space as bs
import blox_train as bt
import numpy as np
import pytest
import torch
from blox_space.store import open_store

EPOCHS = int(os.environ.get("BLOX_DISTILL_BENCH_EPOCHS", "2"))
MODELS = os.environ.get("BLOX_DISTILL_BENCH_MODELS", "sample:6:0")
TEACHER = 24519  # the bench_train model
THREADS = 1


def _load() -> float:
    return round(os.getloadavg()[0], 2)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.set_num_threads(THREADS)
    recipe = bt.get_recipe("quick")
    data = bt.load_dataset(recipe.dataset, resolution=recipe.resolution)
    root = tmp_path_factory.mktemp("distill")
    teacher = bt.make_teacher(TEACHER, recipe, out=root / "teacher", data=data)
    return recipe, data, root, teacher


def test_library_cost_in_fte(setup, record):
    recipe, data, root, teacher = setup
    load_before = _load()
    train_seconds = [teacher.record["train_seconds"]]
    for model in bs.parse_models(MODELS).tolist():
        train_seconds.append(bt.train(model, recipe, data=data).train_seconds)
    fte_seconds = statistics.median(train_seconds)

    per_stage, wall = {}, {}
    for stage in range(3):
        start = time.perf_counter()
        summary = bt.run_distill(
            teacher,
            stage,
            epochs=EPOCHS,
            out=root / f"stage-{stage}.zarr",
            library=root / "library",
            data=data,
        )
        wall[stage] = time.perf_counter() - start
        assert summary.num_done == 45, f"stage {stage}: {summary.num_failed} blocks failed"
        group = open_store(summary.path, "blockwise")
        per_stage[stage] = (group["distill_seconds"][0], group["signature_seconds"][0])
    distill = np.concatenate([d for d, _ in per_stage.values()])
    signature = np.concatenate([s for _, s in per_stage.values()])
    library_seconds = float(distill.sum() + signature.sum())
    record(
        "distill_library_quick",
        recipe_id=recipe.id,
        teacher=TEACHER,
        distill_epochs=EPOCHS,
        threads=THREADS,
        blocks=int(distill.size),
        seconds_per_block=round(float(distill.mean()), 3),
        seconds_per_block_by_stage={
            s: {
                "median": round(float(np.median(d)), 3),
                "min": round(float(d.min()), 3),
                "max": round(float(d.max()), 3),
            }
            for s, (d, _) in per_stage.items()
        },
        seconds_per_block_epoch=round(float(distill.mean()) / EPOCHS, 3),
        signature_seconds_per_block=round(float(signature.mean()), 4),
        library_seconds=round(library_seconds, 1),
        wall_seconds=round(sum(wall.values()), 1),
        fte_train_seconds_median=round(fte_seconds, 2),
        fte_models=len(train_seconds),
        library_fte=round(library_seconds / fte_seconds, 2),
        library_fte_per_distill_epoch=round(library_seconds / fte_seconds / EPOCHS, 2),
        load_before=load_before,
        load_after=_load(),
    )
    assert library_seconds <= sum(wall.values())  # the recorded seconds are device time within the runs
