"""Fine-tuning students from a teacher's block library: finetune shards that open_benchmark reads,
determinism, exact resume after a kill, skipping finished students, the teacher left unchanged,
and what the KD loss does (alpha=0 is exactly the CE-only run of the same student)."""

from __future__ import annotations

import blox_space as bs
import blox_train as bt
import numpy as np
import pytest
import torch
import xarray as xr
from blox_space.schema import STATUS_DONE, STATUS_PENDING
from blox_train.finetune import finetune_recipe, read_models_file, run_finetune
from blox_train.library import assemble_student, open_library, save_library_block
from blox_train.network import SCALING, Stage
from blox_train.shard import checkpoint_dir_for
from torch import nn

RECIPE = bt.get_recipe("ci", {"epochs": 2})
TEACHER = 2028  # blocks (3, 0, 1)
STUDENT = 2032  # blocks (7, 0, 1): another block at stage 0
STUDENTS = [TEACHER, STUDENT]
SNAPSHOTS = (1, 2)
COMPARED = [m for m in bt.METRICS if m != "epoch_seconds"] + [
    "test_loss",
    "test_acc",
    "test_top5",
    "best_epoch",
]


class _Killed(Exception):
    """Stands for the job being killed mid-epoch."""


class KilledAfter(nn.Module):
    """Raises after ``steps`` training forward passes; checkpoints look like the plain model's."""

    def __init__(self, model: nn.Module, steps: int) -> None:
        super().__init__()
        self.model, self.steps, self.calls = model, steps, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += self.training
        if self.calls > self.steps:
            raise _Killed
        return self.model(x)

    def state_dict(self, *args, **kwargs):
        return self.model.state_dict(*args, **kwargs)

    def load_state_dict(self, state, strict=True, assign=False):
        return self.model.load_state_dict(state, strict=strict, assign=assign)


def make_library(teacher: bt.Teacher, path, *, extra=((0, 7),), distill_id="test-distill", record=None):
    """A block library of the teacher's own stages plus seeded stand-ins for ``extra`` blocks,
    at every snapshot epoch (the stand-ins differ per epoch)."""
    record = teacher.record if record is None else record
    for epoch in SNAPSHOTS:
        for s, stage in enumerate(teacher.model.stages):
            save_library_block(path, s, teacher.model.block_ids[s], epoch, stage.state_dict(),
                               teacher=record, distill_id=distill_id)  # fmt: skip
        for s, block in extra:
            torch.manual_seed(100 * epoch + block)
            state = Stage(block, RECIPE.width * SCALING**s).state_dict()
            save_library_block(path, s, block, epoch, state, teacher=record, distill_id=distill_id)
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("finetune")
    teacher = bt.make_teacher(TEACHER, RECIPE, out=root / "teacher", name="M1")
    library = make_library(teacher, root / "library")
    reference = root / "reference.zarr"
    run_finetune(teacher.path, library, STUDENTS, epochs=2, out=reference, bucket=(0, 1))
    return root, teacher.path, library, reference


def _same_rows(a, b, names=COMPARED):
    got, want = xr.open_zarr(a, consolidated=False), xr.open_zarr(b, consolidated=False)
    for name in names:
        np.testing.assert_array_equal(got[name].values, want[name].values, err_msg=name)


def test_shard_is_a_finetune_store_open_benchmark_reads(setup):
    _, teacher_dir, library, reference = setup
    teacher = bt.load_teacher(teacher_dir)
    ds = xr.open_zarr(reference, consolidated=False)
    assert (ds.status.values == STATUS_DONE).all() and ds.model.values.tolist() == STUDENTS
    assert ds.seed.values.tolist() == [teacher.seed] and ds.epoch.values.tolist() == [1, 2]
    attrs = ds.attrs
    assert attrs["teacher"] == teacher.attrs and attrs["teacher_sha256"] == teacher.sha256
    assert attrs["library_id"] == open_library(library).distill_id == "test-distill"
    assert (attrs["distill_epoch"], attrs["ft_epochs"], attrs["alpha"], attrs["temperature"]) == (
        2,
        2,
        0.9,
        1.0,
    )
    assert attrs["recipe_id"] == finetune_recipe(teacher, 2).id and attrs["bucket"] == {
        "index": 0,
        "count": 1,
    }
    bench = bs.open_benchmark(reference)
    assert bench.kind == "finetune" and len(bench) == 2
    assert bench.val_acc(STUDENT, epoch=2) == pytest.approx(
        float(ds.val_acc.sel(model=STUDENT, seed=0, epoch=2))
    )
    assert np.isfinite(bench.test_acc(np.array(STUDENTS))).all()
    assert not checkpoint_dir_for(reference).exists()


def test_same_settings_twice_give_identical_stores_and_a_rerun_skips(setup, tmp_path):
    _, teacher_dir, library, reference = setup
    again = tmp_path / "again.zarr"
    summary = run_finetune(teacher_dir, library, STUDENTS, epochs=2, out=again, bucket=(0, 1))
    assert (summary.num_trained, summary.num_skipped) == (2, 0)
    _same_rows(again, reference)
    rerun = run_finetune(teacher_dir, library, STUDENTS, epochs=2, out=again, bucket=(0, 1))
    assert (rerun.num_trained, rerun.num_skipped) == (0, 2)


def test_kill_mid_fine_tuning_then_rerun_gives_the_same_store(setup, tmp_path, monkeypatch):
    _, teacher_dir, library, reference = setup
    out = tmp_path / "killed.zarr"

    def kill_the_second(student):  # 17 steps per epoch: dies in epoch 2
        return KilledAfter(student, 20) if student.index == STUDENT else student

    with pytest.raises(_Killed):
        run_finetune(teacher_dir, library, STUDENTS, epochs=2, out=out, bucket=(0, 1), build=kill_the_second)
    status = xr.open_zarr(out, consolidated=False).status.values[:, 0].tolist()
    assert status == [STATUS_DONE, STATUS_PENDING]
    assert [p.name.startswith(f"model-{STUDENT}-seed-0-ft-") for p in checkpoint_dir_for(out).iterdir()] == [
        True
    ]
    summary = run_finetune(teacher_dir, library, STUDENTS, epochs=2, out=out, bucket=(0, 1))
    assert (summary.num_trained, summary.num_skipped) == (1, 1)
    _same_rows(out, reference)


def test_the_teacher_stays_in_eval_mode_and_unchanged(setup, tmp_path):
    _, teacher_dir, library, _ = setup
    teacher = bt.load_teacher(teacher_dir)
    before = {k: v.clone() for k, v in teacher.model.state_dict().items()}
    modes = []
    teacher.model.register_forward_hook(lambda module, args, out: modes.append(module.training))
    run_finetune(teacher, library, [STUDENT], epochs=1, out=tmp_path / "ft.zarr")
    assert modes and not any(modes)
    after = teacher.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    saved = torch.load(teacher_dir / "weights.pt", weights_only=True)
    assert all(torch.equal(saved[k], after[k]) for k in saved)


def test_students_keep_the_teachers_stem_and_head_bit_for_bit(setup):
    _, teacher_dir, library, _ = setup
    teacher, lib = bt.load_teacher(teacher_dir), open_library(library)
    own = assemble_student(teacher.model, lib, TEACHER, epoch=1)  # from the teacher's own blocks
    want = teacher.model.state_dict()
    assert all(torch.equal(v, want[k]) for k, v in own.state_dict().items())
    other = assemble_student(teacher.model, lib, STUDENT, epoch=1)
    for part in ("stem", "classifier"):
        mine, theirs = getattr(other, part).state_dict(), getattr(teacher.model, part).state_dict()
        assert all(torch.equal(v, theirs[k]) for k, v in mine.items())


def test_alpha_zero_is_exactly_the_ce_run_of_the_same_student(setup, tmp_path):
    _, teacher_dir, library, reference = setup
    teacher, lib = bt.load_teacher(teacher_dir), open_library(library)
    out = tmp_path / "alpha0.zarr"
    run_finetune(teacher, lib, [STUDENT], epochs=2, out=out, alpha=0.0)
    plain = bt.train(
        STUDENT,
        finetune_recipe(teacher, 2),
        seed=teacher.seed,
        build=lambda index, **_: assemble_student(teacher.model, lib, index, epoch=2),
    )
    row = xr.open_zarr(out, consolidated=False).sel(model=STUDENT, seed=teacher.seed)
    for name in COMPARED[:-4]:
        np.testing.assert_array_equal(row[name].values, plain.metrics[name].astype(np.float32), err_msg=name)
    assert [float(row[k].values) for k in bt.TEST_METRICS] == [
        np.float32(plain.test[k]) for k in bt.TEST_METRICS
    ]
    # with the teacher's logits in the loss (alpha 0.9) the same student trains differently
    kd = xr.open_zarr(reference, consolidated=False).sel(model=STUDENT, seed=teacher.seed)
    assert not np.array_equal(kd.train_loss.values, row.train_loss.values)


def test_the_distill_epoch_picks_the_snapshot(setup, tmp_path):
    _, teacher_dir, library, reference = setup
    out = tmp_path / "epoch1.zarr"
    run_finetune(teacher_dir, library, [STUDENT], epochs=2, out=out, distill_epoch=1)
    ds = xr.open_zarr(out, consolidated=False)
    assert ds.attrs["distill_epoch"] == 1
    ref = xr.open_zarr(reference, consolidated=False).sel(model=[STUDENT])
    assert not np.array_equal(ds.val_loss.values, ref.val_loss.values)  # other stage-0 weights


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"alpha": 0.5}, "holds alpha 0.9, not 0.5"),
        ({"temperature": 2.0}, "holds temperature"),
        ({"distill_epoch": 1}, "holds distill_epoch 2, not 1"),
        ({"epochs": 1}, "holds recipe id"),
        ({"models": [TEACHER]}, "other models"),
    ],
)
def test_a_shard_of_other_settings_is_refused(setup, change, says):
    _, teacher_dir, library, reference = setup
    kwargs = {"models": STUDENTS, "epochs": 2, **change}
    with pytest.raises(bt.ConfigError, match=says):
        run_finetune(teacher_dir, library, kwargs.pop("models"), out=reference, **kwargs)


def test_user_mistakes(setup, tmp_path):
    root, teacher_dir, library, _ = setup
    out = tmp_path / "x.zarr"
    with pytest.raises(bt.ConfigError, match="alpha"):
        run_finetune(teacher_dir, library, [STUDENT], epochs=1, out=out, alpha=1.5)
    with pytest.raises(bt.ConfigError, match="temperature"):
        run_finetune(teacher_dir, library, [STUDENT], epochs=1, out=out, temperature=0.0)
    with pytest.raises(bt.ConfigError, match=r"has snapshot epochs \[1, 2\], not 5"):
        run_finetune(teacher_dir, library, [STUDENT], epochs=1, out=out, distill_epoch=5)
    with pytest.raises(bt.ConfigError, match="holds no block 8 at stage 0"):
        run_finetune(teacher_dir, library, [TEACHER + 5], epochs=1, out=out)
    other = bt.make_teacher(TEACHER, RECIPE.replace(lr=0.02), out=root / "other-teacher")
    with pytest.raises(bt.ConfigError, match="distilled from another teacher.*recipe_id"):
        run_finetune(other.path, library, [STUDENT], epochs=1, out=out)
    assert not out.exists()


def test_a_damaged_library_file_is_a_library_error(setup, tmp_path):
    _, teacher_dir, library, _ = setup
    teacher = bt.load_teacher(teacher_dir)
    damaged = make_library(teacher, tmp_path / "lib")
    (damaged / "stage0" / "block07" / "epoch002.pt").write_bytes(b"broken")
    with pytest.raises(bt.LibraryError, match="sha256") as info:
        run_finetune(teacher, damaged, [STUDENT], epochs=1, out=tmp_path / "x.zarr")
    assert "\n" not in str(info.value) and not (tmp_path / "x.zarr").exists()  # found before writing


def test_models_file(tmp_path):
    (tmp_path / "sel.json").write_text('{"teachers": {"M1": 5}, "models": [9, 3, 5]}')
    (tmp_path / "list.json").write_text("[4, 2]")
    assert read_models_file(tmp_path / "sel.json").tolist() == [3, 5, 9]
    assert read_models_file(tmp_path / "list.json").tolist() == [2, 4]
    for text, says in (("{", "cannot read"), ('{"models": []}', "non-empty"), ('["a"]', "integer")):
        (tmp_path / "bad.json").write_text(text)
        with pytest.raises(bt.ConfigError, match=says):
            read_models_file(tmp_path / "bad.json")
    with pytest.raises(bt.ConfigError, match="does not exist"):
        read_models_file(tmp_path / "none.json")
