"""Fine-tuning cost (issue 12): seconds per epoch of ``blox-train finetune`` (a student trained
with the teacher's logits in the KD loss) against normal training of the same models under the
same recipe, in the same run; the ratio is the KD overhead (target: at most 2x).

Both sides go through their shard runners (:func:`blox_train.run_finetune`,
:func:`blox_train.run_shard`) with the teacher's ``quick`` recipe over the same FT length, and
both read the stores' ``epoch_seconds`` (training pass + validation pass; the fine-tuning
pass includes the teacher's forward on every batch). The students' blocks come from a library
of seeded stand-in weights: the cost of a step does not depend on the weights' values. Rounds
alternate so machine noise hits both sides alike; the median over students and rounds per side
is compared.
"""

from __future__ import annotations

import os
import statistics

import blox_space as bs
import blox_train as bt
import numpy as np
import torch
import xarray as xr
from blox_train.library import save_library_block
from blox_train.network import SCALING, Stage

ROUNDS = 2
THREADS = 1
FT_EPOCHS = 6
TEACHER = 24519
#: The KD overhead allowed: a teacher forward costs about a third of a training step of a
#: model of its size, so fine-tuning epochs should stay well under twice a normal epoch.
MAX_KD_OVERHEAD = 2.0


def _library(teacher: bt.Teacher, students: np.ndarray, path) -> None:
    blocks = bs.indices_to_blocks(students).reshape(-1, bs.NUM_STAGES)
    width = teacher.recipe.width
    for stage in range(bs.NUM_STAGES):
        for block in np.unique(blocks[:, stage]).tolist():
            torch.manual_seed(block)
            state = Stage(block, width * SCALING**stage).state_dict()
            save_library_block(path, stage, block, 1, state, teacher=teacher.record, distill_id="bench")


def _epoch_seconds(store) -> float:
    ds = xr.open_zarr(store, consolidated=False)
    return float(np.nanmedian(ds.epoch_seconds.values))


def test_finetune_seconds_per_epoch_vs_normal_training(tmp_path, record):
    torch.set_num_threads(THREADS)
    teacher = bt.make_teacher(TEACHER, "quick", out=tmp_path / "teacher")
    students = np.unique(np.concatenate([[TEACHER], bt.parse_models("sample:3:0")]))
    _library(teacher, students, tmp_path / "library")
    recipe = teacher.recipe.replace(epochs=FT_EPOCHS)
    finetune, normal = [], []
    for round_ in range(ROUNDS):
        ft_store = tmp_path / f"ft-{round_}.zarr"
        bt.run_finetune(teacher, tmp_path / "library", students, epochs=FT_EPOCHS, out=ft_store)
        finetune.append(_epoch_seconds(ft_store))
        normal_store = tmp_path / f"normal-{round_}.zarr"
        bt.run_shard(students, recipe, normal_store)
        normal.append(_epoch_seconds(normal_store))
    ft_s, normal_s = statistics.median(finetune), statistics.median(normal)
    ratio = ft_s / normal_s
    record(
        "finetune_kd_overhead",
        recipe="quick",
        recipe_id=recipe.id,
        threads=THREADS,
        ft_epochs=FT_EPOCHS,
        teacher=TEACHER,
        students=students.tolist(),
        finetune_seconds_per_epoch=ft_s,
        normal_seconds_per_epoch=normal_s,
        kd_overhead=ratio,
        rounds=ROUNDS,
        load_average=os.getloadavg()[0],
    )
    assert ratio <= MAX_KD_OVERHEAD, f"fine-tuning epochs cost {ratio:.2f}x normal ones"
