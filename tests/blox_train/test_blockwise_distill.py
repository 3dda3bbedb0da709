"""Blockwise distillation into a shard and the block library (issue 12): one teacher forward per
batch for all candidates, a frozen teacher, identical stores for the same seed and after a kill,
skipping finished shards, dead teacher channels, diverging blocks, the NSR recomputed from the
library, students of the teacher's own blocks, and the distill / library commands' one-line errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import blox_space as bs
import blox_train as bt
import numpy as np
import pytest
import torch
import xarray as xr
from blox_space.schema import STATUS_DONE, STATUS_FAILED
from blox_space.store import hash_distill, open_store
from blox_train import blockwise, distiller
from blox_train.batches import split_batches
from blox_train.cli import main
from blox_train.distill import parse_snapshots
from blox_train.library import LIBRARY_TEACHER_KEYS
from blox_train.nsr import live_channels

TEACHER_BLOCKS = (3, 7, 12)
STAGE, BLOCKS = 1, (0, 5, 7)  # 7 is the teacher's own block at stage 1
EPOCHS, SNAPSHOTS = 3, (1, 3)
#: the arrays that hold measured seconds (equal runs differ only there)
TIMED = ("distill_seconds", "signature_seconds")


@pytest.fixture(scope="module")
def data() -> bt.DataSplits:
    return bt.load_dataset("digits", resolution=8)


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory, data) -> Path:
    out = tmp_path_factory.mktemp("teacher") / "t"
    bt.make_teacher(TEACHER_BLOCKS, "ci", out=out, data=data, name="M1")
    return out


def _distill(teacher, root: Path, data, *, name: str = "s", **options) -> bt.DistillSummary:
    settings = {
        "stage": STAGE,
        "blocks": BLOCKS,
        "epochs": EPOCHS,
        "snapshots": SNAPSHOTS,
        "seed": 0,
    } | options
    stage = settings.pop("stage")
    root.mkdir(parents=True, exist_ok=True)
    return bt.run_distill(
        teacher, stage, out=root / f"{name}.zarr", library=root / "lib", data=data, **settings
    )


def _arrays(path: Path) -> dict[str, np.ndarray]:
    group = open_store(path, "blockwise")
    return {name: group[name][:] for name in sorted(group.array_keys()) if name not in TIMED}


def _assert_same_store(a: Path, b: Path) -> None:
    left, right = _arrays(a), _arrays(b)
    assert left.keys() == right.keys()
    for name in left:
        np.testing.assert_array_equal(left[name], right[name], err_msg=name)
    attrs_a, attrs_b = dict(open_store(a).attrs), dict(open_store(b).attrs)
    for key in ("teacher", "distill", "distill_id", "dataset", "teacher_seconds_split"):
        assert attrs_a[key] == attrs_b[key], key


def _library_bytes(library: Path) -> dict[str, str]:
    return {
        p.relative_to(library).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(library.rglob("*.pt"))
    }


@pytest.fixture(scope="module")
def straight(tmp_path_factory, teacher_dir, data) -> bt.DistillSummary:
    return _distill(teacher_dir, tmp_path_factory.mktemp("straight"), data)


# ------------------------------------------------------------------------------ the store and the library
def test_store_and_library_contents(straight, teacher_dir):
    teacher = bt.load_teacher(teacher_dir)
    assert (straight.stage, straight.block_ids, straight.num_done, straight.num_failed) == (
        STAGE,
        BLOCKS,
        3,
        0,
    )
    group = open_store(straight.path, "blockwise")
    attrs = dict(group.attrs)
    assert attrs["teacher"] == json.loads(json.dumps(teacher.attrs)) and attrs["teacher"]["name"] == "M1"
    assert attrs["distill"] == {
        "epochs": EPOCHS, "snapshots": list(SNAPSHOTS), "recipe_id": teacher.recipe.id, "lr": teacher.recipe.lr,
        "seed": 0, "dead_channel_ratio": 1e-6,
    }  # fmt: skip
    assert attrs["distill_id"] == straight.distill_id == hash_distill(attrs["distill"])
    assert attrs["library"] == str(straight.library) and "split evenly" in attrs["teacher_seconds_split"]
    assert (group["status"][:] == STATUS_DONE).all() and (group["dead_channels"][:] == 0).all()
    for name in ("train_nsr", "val_nsr", "lana_val_acc", "lana_delta_acc", *TIMED):
        values = group[name][:]
        assert np.isfinite(values).all(), name
    assert (group["distill_seconds"][:] > 0).all() and (group["signature_seconds"][:] > 0).all()
    val_nsr = group["val_nsr"][0]
    assert (val_nsr[:, -1] < val_nsr[:, 0]).all()  # the blocks learn
    delta = group["lana_delta_acc"][0] - group["lana_val_acc"][0]
    assert np.allclose(delta, delta[0, 0])  # one teacher reference for every block and snapshot
    assert not straight.path.with_name(straight.path.name + ".ckpt").exists()

    library = bt.open_library(straight.library)
    assert library.teacher == {k: teacher.attrs[k] for k in LIBRARY_TEACHER_KEYS}
    assert library.distill_id == straight.distill_id and len(library) == len(BLOCKS) * len(SNAPSHOTS)
    files, digests = group["library_file"][0], group["library_sha256"][0]
    for row, block in enumerate(BLOCKS):
        assert library.epochs(STAGE, block) == SNAPSHOTS
        for k, epoch in enumerate(SNAPSHOTS):
            entry = library.entry(STAGE, block, epoch)
            assert files[row, k] == entry.file == f"stage1/block{block:02d}/epoch{epoch:03d}.pt"
            assert digests[row, k] == entry.sha256
            assert hashlib.sha256((straight.library / entry.file).read_bytes()).hexdigest() == entry.sha256
            record = json.loads((straight.library / entry.file).with_suffix(".json").read_text())
            assert record["distill_id"] == straight.distill_id and record["epoch"] == epoch
    assert library.verify() == len(library)


def test_xarray_and_the_query_read_the_shard(straight):
    ds = xr.open_zarr(straight.path, consolidated=False)
    assert ds["val_nsr"].dims == ("stage", "block", "epoch") and ds["epoch"].values.tolist() == [1, 2, 3]
    assert ds["snapshot"].values.tolist() == list(SNAPSHOTS)
    results = bs.open_blockwise(straight.path)
    donna, lana = results.donna(), results.lana()
    assert donna.shape == lana.shape == (3, 45)
    np.testing.assert_array_equal(donna[STAGE, list(BLOCKS)], ds["val_nsr"].values[0, :, -1])
    np.testing.assert_array_equal(lana[STAGE, list(BLOCKS)], ds["lana_delta_acc"].values[0, :, -1])
    assert np.isnan(donna[0]).all()


def test_a_rerun_of_a_finished_shard_skips(straight, teacher_dir, data):
    before = _library_bytes(straight.library)
    again = _distill(teacher_dir, straight.path.parent, data)
    assert again.is_skipped and (again.num_done, again.num_failed) == (3, 0)
    assert _library_bytes(straight.library) == before


def test_same_seed_twice_gives_identical_stores(tmp_path, straight, teacher_dir, data):
    again = _distill(teacher_dir, tmp_path, data)
    _assert_same_store(straight.path, again.path)
    assert _library_bytes(again.library) == _library_bytes(straight.library)
    other = _distill(teacher_dir, tmp_path / "other", data, blocks=BLOCKS[:1], seed=1)
    assert other.distill_id != straight.distill_id
    assert not np.array_equal(_arrays(other.path)["val_nsr"][0, 0], _arrays(straight.path)["val_nsr"][0, 0])


# ------------------------------------------------------------------------------ kill and resume
@pytest.mark.parametrize(("where", "epoch"), [("checkpoint", 2), ("snapshot", 3)])
def test_kill_and_resume_gives_the_same_store(
    tmp_path, straight, teacher_dir, data, monkeypatch, where, epoch
):
    """Killed after the checkpoint of an epoch without a snapshot, or halfway through saving a
    snapshot's blocks (before that epoch's checkpoint): the rerun continues from the last checkpoint."""
    save_checkpoint, save_block = blockwise._save_checkpoint, blockwise.save_library_block
    saved_epochs: list[int] = []

    def checkpoint_then_die(path, state):
        save_checkpoint(path, state)
        saved_epochs.append(state["distiller"]["epoch"])
        if where == "checkpoint" and state["distiller"]["epoch"] == epoch:
            raise KeyboardInterrupt("killed")

    def second_block_dies(library, stage, block, at, state, **kwargs):
        if where == "snapshot" and at == epoch and block == BLOCKS[1]:
            raise KeyboardInterrupt("killed")
        return save_block(library, stage, block, at, state, **kwargs)

    monkeypatch.setattr(blockwise, "_save_checkpoint", checkpoint_then_die)
    monkeypatch.setattr(blockwise, "save_library_block", second_block_dies)
    with pytest.raises(KeyboardInterrupt):
        _distill(teacher_dir, tmp_path, data)
    ckpt = tmp_path / "s.zarr.ckpt" / f"stage{STAGE}.pt"
    assert ckpt.exists() and (open_store(tmp_path / "s.zarr")["status"][:] == 0).all()
    last = epoch if where == "checkpoint" else epoch - 1
    assert saved_epochs[-1] == last
    monkeypatch.setattr(blockwise, "save_library_block", save_block)
    saved_epochs.clear()
    summary = _distill(teacher_dir, tmp_path, data)
    assert saved_epochs == list(range(last + 1, EPOCHS + 1))  # resumed, not started over
    assert summary.num_done == 3 and not ckpt.parent.exists()
    _assert_same_store(straight.path, summary.path)
    assert _library_bytes(summary.library) == _library_bytes(straight.library)


def test_a_foreign_checkpoint_is_refused(tmp_path, teacher_dir, data):
    ckpt = tmp_path / "s.zarr.ckpt" / f"stage{STAGE}.pt"
    ckpt.parent.mkdir()
    torch.save({"version": 1, "distill_id": "other", "teacher": "{}"}, ckpt)
    with pytest.raises(bt.CheckpointError, match="another distillation"):
        _distill(teacher_dir, tmp_path, data, blocks=BLOCKS[:1])
    ckpt.write_bytes(b"garbage")
    with pytest.raises(bt.CheckpointError, match="cannot read checkpoint"):
        _distill(teacher_dir, tmp_path, data, blocks=BLOCKS[:1])


# ------------------------------------------------------------------------------ the teacher
def test_one_teacher_forward_per_batch_for_all_candidates(tmp_path, teacher_dir, data):
    calls = {}
    for blocks in (BLOCKS[:1], BLOCKS):
        teacher = bt.load_teacher(teacher_dir)
        counts = [0, 0, 0]
        hooks = [
            teacher.model.stages[s].register_forward_hook(
                lambda *_, s=s, counts=counts: counts.__setitem__(s, counts[s] + 1)
            )
            for s in range(3)
        ]
        try:
            _distill(teacher, tmp_path / f"{len(blocks)}", data, blocks=blocks)
        finally:
            for hook in hooks:
                hook.remove()
        calls[len(blocks)] = counts
    recipe = bt.load_teacher(teacher_dir).recipe.replace(epochs=EPOCHS)
    batches = split_batches(
        data, recipe, resolution=8, seed=0, device=torch.device("cpu"), splits=("train", "val")
    )
    num_train, num_val = len(list(batches("train", 1))), len(list(batches("val", 0)))
    # per epoch one pass over the training batches and one over the validation split, plus the
    # dead-channel pass and the teacher's own LANA accuracy: never once per candidate
    expected = EPOCHS * (num_train + num_val) + num_val + num_val
    assert calls[1][STAGE] == calls[3][STAGE] == expected
    for n in (1, 3):  # the later stage runs only in LANA passes (the teacher's, each block's)
        assert calls[n][2] == num_val + n * len(SNAPSHOTS) * num_val


def test_teacher_parameters_unchanged(tmp_path, teacher_dir, data):
    teacher = bt.load_teacher(teacher_dir)
    before = {k: v.clone() for k, v in teacher.model.state_dict().items()}
    _distill(teacher, tmp_path, data, blocks=BLOCKS[:2])
    after = teacher.model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in teacher.model.parameters())
    assert not any(m.training for m in teacher.model.modules())


# ------------------------------------------------------------------------------ dead channels, divergence
def _with_dead_channel(teacher: bt.Teacher, channel: int) -> bt.Teacher:
    """The teacher with output channel ``channel`` of stage STAGE constant 0 (both reduction
    paths end in a BatchNorm whose weight and bias are zeroed, then ReLU)."""
    reduction = teacher.model.stages[STAGE].reduction
    with torch.no_grad():
        for bn in (reduction.main[1][1], reduction.shortcut[1]):
            bn.weight[channel] = 0.0
            bn.bias[channel] = 0.0
    return teacher


def test_dead_teacher_channel_is_left_out_and_counted(tmp_path, teacher_dir, data):
    teacher = _with_dead_channel(bt.load_teacher(teacher_dir), channel=2)
    summary = _distill(teacher, tmp_path, data, blocks=BLOCKS[:2])
    assert summary.dead_channels == 1 and summary.num_done == 2
    group = open_store(summary.path, "blockwise")
    assert (group["dead_channels"][:] == 1).all() and (group["status"][:] == STATUS_DONE).all()
    for name in ("train_nsr", "val_nsr", "lana_val_acc"):
        assert np.isfinite(group[name][:]).all(), name
    assert (group["val_nsr"][:] < 1e4).all()  # the constant channel (variance 0) is not divided by ~0
    # the in-memory path the same way
    result = bt.distill_stage(teacher.model, STAGE, [0], data, recipe="ci", epochs=1)
    assert result.dead_channels == 1 and np.isfinite(result.val_nsr).all()


def test_nsr_leaves_dead_channels_out():
    gen = torch.Generator().manual_seed(0)
    teacher, student = torch.randn(2, 8, 4, 3, 3, generator=gen).unbind(0)
    teacher[:, 1] = 0.7  # a constant channel
    live = live_channels(teacher.var(dim=(0, 2, 3), unbiased=False))
    assert live.tolist() == [True, False, True, True]
    assert bt.nsr_loss(student, teacher).item() > 1e6  # the constant channel dominates
    kept = bt.nsr_loss(student, teacher, live=live).item()
    assert kept == pytest.approx(bt.nsr_loss(student[:, live], teacher[:, live]).item(), rel=1e-6)
    with pytest.raises(ValueError, match="live"):
        bt.nsr_loss(student, teacher, live=torch.zeros(4, dtype=torch.bool))


def test_a_diverging_block_is_recorded_failed_and_the_stage_carries_on(
    tmp_path, teacher_dir, data, monkeypatch
):
    build = distiller._build_candidate

    def poisoned(block, channels, seed, stage):
        module = build(block, channels, seed, stage)
        if block == BLOCKS[1]:
            with torch.no_grad():
                next(module.parameters()).fill_(float("nan"))
        return module

    monkeypatch.setattr(distiller, "_build_candidate", poisoned)
    summary = _distill(teacher_dir, tmp_path, data)
    assert (summary.num_done, summary.num_failed) == (2, 1)
    group = open_store(summary.path, "blockwise")
    status, reasons = group["status"][0], group["fail_reason"][0]
    assert status.tolist() == [STATUS_DONE, STATUS_FAILED, STATUS_DONE]
    assert reasons[1] == "NSR became non-finite in epoch 1" and reasons[0] == reasons[2] == ""
    assert np.isnan(group["val_nsr"][0, 1]).all() and np.isfinite(group["val_nsr"][0, [0, 2]]).all()
    assert (group["library_file"][0, 1] == "").all()
    assert bt.open_library(summary.library).epochs(STAGE, BLOCKS[1]) == ()


# ------------------------------------------------------------------------------ recomputed from the library
def test_store_nsr_and_lana_recomputed_from_the_library(straight, teacher_dir, data):
    """An independent few lines: the whole validation split in one batch, the teacher cut by
    hand, NSR = mean over live channels of MSE / variance."""
    teacher = bt.load_teacher(teacher_dir).model
    mean, std = (torch.tensor(v, dtype=torch.float32).view(1, 3, 1, 1) for v in (data.mean, data.std))
    images = torch.stack([image for image, _ in data.val]).float() / 255.0
    labels = torch.tensor([int(label) for _, label in data.val])
    x = (images - mean) / std
    with torch.no_grad():
        stage_in = teacher.stages[0](teacher.stem(x))
        target = teacher.stages[1](stage_in).double()
        teacher_top1 = 100.0 * int((teacher(x).argmax(1) == labels).sum()) / len(labels)
    var = target.var(dim=(0, 2, 3), unbiased=False)
    live = var >= 1e-6 * var.mean()
    library, group = bt.open_library(straight.library), open_store(straight.path, "blockwise")
    for row, block in enumerate(BLOCKS[:2]):
        for k, epoch in enumerate(SNAPSHOTS):
            module = library.module(STAGE, block, epoch)
            with torch.no_grad():
                out = module(stage_in).double()
                hits = int((teacher.replace_stage(STAGE, module)(x).argmax(1) == labels).sum())
            top1 = 100.0 * hits / len(labels)
            nsr = (((out - target) ** 2).mean(dim=(0, 2, 3)) / (var + 1e-8))[live].mean()
            assert float(nsr) == pytest.approx(group["val_nsr"][0, row, epoch - 1], rel=1e-5)
            assert top1 == pytest.approx(group["lana_val_acc"][0, row, k], abs=1e-9)
            assert top1 - teacher_top1 == pytest.approx(group["lana_delta_acc"][0, row, k], abs=1e-9)


# ------------------------------------------------------------------------------ students
@pytest.fixture(scope="module")
def own_library(tmp_path_factory, teacher_dir, data) -> Path:
    """The teacher's own block at each stage, distilled (three shards, one library)."""
    root = tmp_path_factory.mktemp("own")
    for s in range(3):
        _distill(teacher_dir, root, data, name=f"s{s}", stage=s, blocks=[TEACHER_BLOCKS[s]])
    return root / "lib"


def test_student_of_the_teachers_own_blocks_keeps_stem_and_head(own_library, teacher_dir):
    teacher = bt.load_teacher(teacher_dir).model
    library = bt.open_library(own_library)
    assert library.stages() == (0, 1, 2) and library.last_epoch == EPOCHS
    student = bt.assemble_student(teacher, library, TEACHER_BLOCKS)
    assert student.block_ids == TEACHER_BLOCKS and not student.training
    for name in ("stem", "classifier"):
        ours, theirs = getattr(student, name).state_dict(), getattr(teacher, name).state_dict()
        assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in theirs)
    for s, block in enumerate(TEACHER_BLOCKS):
        saved = library.state(s, block, EPOCHS)
        assert all(torch.equal(student.stages[s].state_dict()[k], saved[k]) for k in saved)
    teacher_params = {id(p) for p in teacher.parameters()}
    assert not any(id(p) in teacher_params for p in student.parameters())
    early = bt.assemble_student(teacher, library, TEACHER_BLOCKS, epoch=1)
    early_state, last_state = early.stages[0].state_dict(), student.stages[0].state_dict()
    assert any(not torch.equal(early_state[k], last_state[k]) for k in last_state)
    with pytest.raises(bt.ConfigError, match="holds no block 0 at stage 1; it holds blocks 7 there"):
        bt.assemble_student(teacher, library, (TEACHER_BLOCKS[0], 0, TEACHER_BLOCKS[2]))
    with pytest.raises(bt.ConfigError, match=r"has snapshot epochs \[1, 3\], not 2"):
        bt.assemble_student(teacher, library, TEACHER_BLOCKS, epoch=2)
    for other in (
        bt.build_model((0, 7, 12), num_classes=10, width=4, resolution=8),
        bt.build_model(TEACHER_BLOCKS, num_classes=10, width=8, resolution=8),
    ):
        with pytest.raises(bt.ConfigError, match="was distilled from teacher blocks"):
            bt.assemble_student(other, library, TEACHER_BLOCKS)


def test_a_damaged_library_file_raises_library_error(tmp_path, own_library, teacher_dir):
    library_dir = tmp_path / "lib"
    library_dir.mkdir()
    for p in own_library.rglob("*"):
        if p.is_file():
            (library_dir / p.relative_to(own_library)).parent.mkdir(parents=True, exist_ok=True)
            (library_dir / p.relative_to(own_library)).write_bytes(p.read_bytes())
    target = library_dir / "stage1" / "block07" / "epoch003.pt"
    damaged = bytearray(target.read_bytes())
    damaged[-30] ^= 0xFF
    target.write_bytes(bytes(damaged))
    library = bt.open_library(library_dir)
    with pytest.raises(bt.LibraryError, match="stage1/block07/epoch003.pt is damaged: sha256"):
        library.state(1, 7)
    with pytest.raises(bt.LibraryError, match="is damaged"):
        bt.assemble_student(bt.load_teacher(teacher_dir).model, library, TEACHER_BLOCKS)
    assert isinstance(library.state(1, 7, 1), dict)  # the other snapshot is intact
    target.unlink()
    with pytest.raises(bt.LibraryError, match="cannot be read"):
        library.state(1, 7)


def test_open_library_refuses_mixed_and_broken_folders(tmp_path, own_library):
    with pytest.raises(bt.LibraryError, match="does not exist"):
        bt.open_library(tmp_path / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(bt.LibraryError, match="holds no block library records"):
        bt.open_library(tmp_path / "empty")
    teacher = bt.open_library(own_library).teacher
    state = bt.build_model(TEACHER_BLOCKS, num_classes=10, width=4, resolution=8).stages[0].state_dict()
    bt.save_library_block(tmp_path / "mixed", 0, 1, 1, state, teacher=teacher, distill_id="a")
    bt.save_library_block(tmp_path / "mixed", 0, 2, 1, state, teacher=teacher, distill_id="b")
    with pytest.raises(bt.ConfigError, match="mixes 2 distillation settings"):
        bt.open_library(tmp_path / "mixed")
    bt.save_library_block(tmp_path / "teachers", 0, 1, 1, state, teacher=teacher, distill_id="a")
    bt.save_library_block(
        tmp_path / "teachers", 0, 2, 1, state, teacher=teacher | {"model": 5}, distill_id="a"
    )
    with pytest.raises(bt.ConfigError, match="mixes 2 teachers"):
        bt.open_library(tmp_path / "teachers")
    record = tmp_path / "teachers" / "stage0" / "block02" / "epoch001.json"
    record.write_text("{not json")
    with pytest.raises(bt.LibraryError, match="epoch001.json cannot be read"):
        bt.open_library(tmp_path / "teachers")
    record.write_text(
        json.dumps(json.loads((record.parent.parent / "block01" / "epoch001.json").read_text()))
    )
    with pytest.raises(bt.LibraryError, match="does not match its place"):
        bt.open_library(tmp_path / "teachers")


# ------------------------------------------------------------------------------ the command line
def _probe(capsys, argv: list[str], root: Path) -> str:
    def files() -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))
        }

    before = files()
    code = main(argv)
    lines = capsys.readouterr().err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("blox-train: error: "), (code, lines)
    assert files() == before, f"{argv} changed files"
    return lines[0]


@pytest.fixture(scope="module")
def other_teachers(tmp_path_factory, data) -> dict[str, Path]:
    """A teacher of another architecture and one of another width."""
    root = tmp_path_factory.mktemp("others")
    bt.make_teacher((0, 7, 12), "ci", out=root / "arch", data=data)
    bt.make_teacher(TEACHER_BLOCKS, bt.get_recipe("ci", {"width": 8}), out=root / "width", data=data)
    return {"arch": root / "arch", "width": root / "width"}


def test_distill_command_writes_and_skips(tmp_path, teacher_dir, capsys):
    argv = [
        "distill", "--teacher", str(teacher_dir), "--stage", "2", "--blocks", "0,3:5", "--epochs", "2",
        "--snapshots", "1,2", "--out", str(tmp_path / "s2.zarr"), "--library", str(tmp_path / "lib"), "-q",
    ]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "stage 2, 3 blocks distilled: 3 done, 0 failed; 0 dead teacher channels" in out
    group = open_store(tmp_path / "s2.zarr", "blockwise")
    assert group["block"][:].tolist() == [0, 3, 4] and group["snapshot"][:].tolist() == [1, 2]
    assert group.attrs["distill"]["recipe_id"] == bt.load_teacher(teacher_dir).recipe.id
    assert main(argv) == 0 and "3 blocks already finished" in capsys.readouterr().out
    assert main(["library", str(tmp_path / "lib"), "--verify"]) == 0
    shown = capsys.readouterr().out
    assert "stage 2: 3 blocks, snapshot epochs [1, 2]" in shown and "verified 6 files" in shown


def test_distill_blocks_of_a_models_file_takes_the_students_blocks(tmp_path, teacher_dir, capsys):
    """--blocks-of FILE: exactly the blocks the file's models use at the stage (what the
    workflow's blocks: students passes), in a `blox-space select` file or a plain list."""
    students = [int(bs.to_index((1, 4, 9))), int(bs.to_index((2, 4, 11))), int(bs.to_index((1, 5, 9)))]
    (tmp_path / "sel.json").write_text(json.dumps({"teachers": {}, "models": students}))
    (tmp_path / "plain.json").write_text(json.dumps(students))
    for name, stage, expected in (("sel", 1, [4, 5]), ("plain", 2, [9, 11])):
        out = tmp_path / f"{name}.zarr"
        argv = ["distill", "--teacher", str(teacher_dir), "--stage", str(stage), "--epochs", "1",
                "--blocks-of", str(tmp_path / f"{name}.json"), "--out", str(out),
                "--library", str(tmp_path / "lib"), "-q"]  # fmt: skip
        assert main(argv) == 0
        assert open_store(out, "blockwise")["block"][:].tolist() == expected
    capsys.readouterr()
    argv = ["distill", "--teacher", str(teacher_dir), "--stage", "0", "--blocks-of", str(tmp_path / "no.json"),
            "--out", str(tmp_path / "x.zarr"), "--library", str(tmp_path / "lib")]  # fmt: skip
    assert "models file" in _probe(capsys, argv, tmp_path)
    argv = [*argv[:5], "--blocks", "1", *argv[5:]]
    assert "not allowed with argument" in _probe(capsys, argv, tmp_path)


def test_distill_command_user_mistakes(
    tmp_path, teacher_dir, own_library, other_teachers, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "teacher.json").write_text("{")
    base = ["distill", "--teacher", str(teacher_dir), "--stage", "1", "--epochs", "3", "--snapshots", "1,3"]
    own = ["--out", "s.zarr", "--library", str(own_library)]
    cases = [
        ([*base, "--stage", "3", *own], "a stage must be in 0..2"),
        ([*base, "--blocks", "0,45", *own], "block id 45 is out of range; block ids are 0..44"),
        ([*base, "--blocks", "a:b", *own], "cannot read block spec"),
        ([*base, "--blocks", "5:5", *own], "block range '5:5' is empty"),
        ([*base, "--snapshots", "4", *own], "snapshot epoch 4 is outside the distillation epochs 1..3"),
        ([*base, "--epochs", "0", *own], "a distillation epoch count must be in 1..999"),
        (["distill", "--teacher", "missing", "--stage", "0", *own], "teacher folder missing does not exist"),
        (["distill", "--teacher", "broken", "--stage", "0", *own], "cannot read broken/teacher.json"),
        ([*base, "--recipe", "paper", *own], "the teacher was trained on 'digits'"),
        ([*base, "--set", "lr=2", "--blocks", "7", *own], "holds blocks of distill id"),
        ([*base, "--out", "notes.txt", "--library", "fresh"], "notes.txt"),
    ]
    for teacher in ("arch", "width"):
        argv = ["distill", "--teacher", str(other_teachers[teacher]), "--stage", "1", "--epochs", "3",
                "--snapshots", "1,3", *own]  # fmt: skip
        cases.append((argv, "holds blocks of teacher"))
    shard_of_the_teacher = [
        "--blocks",
        "7",
        "--out",
        str(own_library.parent / "s1.zarr"),
        "--library",
        "fresh",
    ]
    argv = ["distill", "--teacher", str(other_teachers["arch"]), "--stage", "1", "--epochs", "3",
            "--snapshots", "1,3", *shard_of_the_teacher]  # fmt: skip
    cases.append((argv, "s1.zarr holds another teacher"))
    for argv, message in cases:
        line = _probe(capsys, argv, tmp_path)
        assert message in line, (argv, line)


def test_distill_command_refuses_an_out_of_another_setting(tmp_path, teacher_dir, capsys):
    def argv(blocks: str = "1", seed: str = "0", library: str = "lib") -> list[str]:
        return [
            "distill", "--teacher", str(teacher_dir), "--stage", "0", "--blocks", blocks, "--epochs", "1",
            "--seed", seed, "--out", str(tmp_path / "s.zarr"), "--library", str(tmp_path / library), "-q",
        ]  # fmt: skip

    assert main(argv()) == 0
    capsys.readouterr()
    assert "s.zarr holds another distill_id" in _probe(capsys, argv(seed="1", library="lib2"), tmp_path)
    assert "holds stages [0] and blocks [1]" in _probe(capsys, argv(blocks="2"), tmp_path)


def test_library_command_reports_a_damaged_file(tmp_path, own_library, capsys):
    library_dir = tmp_path / "lib"
    for p in own_library.rglob("*.*"):
        (library_dir / p.relative_to(own_library)).parent.mkdir(parents=True, exist_ok=True)
        (library_dir / p.relative_to(own_library)).write_bytes(p.read_bytes())
    target = library_dir / "stage2" / "block12" / "epoch001.pt"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    target.write_bytes(bytes(data))
    line = _probe(capsys, ["library", str(library_dir), "--verify"], tmp_path)
    assert "stage2/block12/epoch001.pt is damaged: sha256" in line
    line = _probe(capsys, ["library", str(tmp_path / "nowhere")], tmp_path)
    assert "does not exist" in line


def test_block_and_snapshot_specs():
    assert bt.parse_blocks("all") == tuple(range(45)) == bt.parse_blocks(None)
    assert bt.parse_blocks(" 0, 3 ,10:13") == (0, 3, 10, 11, 12)
    assert bt.parse_blocks([4, 2]) == (4, 2)
    for bad, message in [
        ("1,1", "distinct"),
        ("44:46", "block id 45"),
        ("-1", "block id -1"),
        ("", "cannot read"),
    ]:
        with pytest.raises(bt.ConfigError, match=message):
            bt.parse_blocks(bad)
    assert parse_snapshots("3,1,3", 3) == (1, 3) and parse_snapshots(None, 7) == (7,)
    for bad in ("0", "4", "x", ""):
        with pytest.raises(bt.ConfigError, match="snapshot"):
            parse_snapshots(bad, 3)
