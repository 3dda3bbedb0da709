"""Teachers: the normal-training path (metrics equal the benchmark row bit for bit), the saved
record and weights, reruns, and damaged folders as one-line errors."""

from __future__ import annotations

import hashlib
import json

import blox_space as bs
import blox_train as bt
import numpy as np
import pytest
import torch
import xarray as xr
from blox_space.schema import TEST_KEYS
from blox_train.batches import split_batches
from blox_train.train import _evaluate

RECIPE = bt.get_recipe("ci", {"epochs": 2})
MODEL = 2025 + 3  # a non-uniform architecture


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher") / "M1"
    bt.make_teacher(MODEL, RECIPE, out=out, name="M1", selector="rank:1")
    return out


def test_metrics_equal_the_benchmark_row_bit_for_bit(teacher_dir, tmp_path):
    shard = tmp_path / "bench.zarr"
    bt.run_shard([MODEL], RECIPE, shard)
    row = xr.open_zarr(shard, consolidated=False).sel(model=MODEL, seed=0)
    record = bt.load_teacher(teacher_dir).record
    for name in bt.METRICS:
        if name == "epoch_seconds":  # wall clock
            continue
        teacher = np.asarray(record["metrics"][name], dtype=np.float32)  # the store keeps float32
        assert np.array_equal(teacher, row[name].values), name
    for name in TEST_KEYS:
        assert np.float32(record["test"][name]) == row[name].values, name
    assert record["best_epoch"] == int(row.best_epoch.values)
    assert np.float32(record["val_acc"]) == row.best_val_acc.values
    assert record["params"] == int(row.params.values) and record["macs"] == int(row.macs.values)


def test_record_and_round_trip(teacher_dir):
    teacher = bt.load_teacher(teacher_dir)
    record = json.loads((teacher_dir / "teacher.json").read_text())
    assert record == teacher.record
    assert (teacher.name, teacher.index, teacher.seed, record["selector"]) == ("M1", MODEL, 0, "rank:1")
    assert record["block_ids"] == [3, 0, 1] and record["arch"] and record["dataset"] == "digits"
    assert record["recipe_id"] == RECIPE.id and teacher.recipe == RECIPE
    assert {"device", "torch"} <= set(record["environment"])
    assert len(record["metrics"]["val_acc"]) == RECIPE.epochs and record["train_seconds"] > 0
    assert not teacher.model.training
    assert teacher.attrs == {
        "name": "M1",
        "model": MODEL,
        "block_ids": [3, 0, 1],
        "recipe_id": RECIPE.id,
        "val_acc": record["val_acc"],
        "test_acc": record["test"]["test_acc"],
        "train_seconds": record["train_seconds"],
        "width": RECIPE.width,
        "resolution": RECIPE.resolution,
        "num_classes": 10,
    }


def test_weights_are_the_best_validation_ones(teacher_dir):
    teacher = bt.load_teacher(teacher_dir)
    data = bt.load_dataset("digits", resolution=RECIPE.resolution)
    loader = split_batches(data, RECIPE, resolution=RECIPE.resolution, seed=0, device=torch.device("cpu"))
    fmt = torch.channels_last if RECIPE.channels_last else torch.contiguous_format
    model = teacher.model.to(memory_format=fmt)
    test = _evaluate(model, loader("test", 0), RECIPE, torch.device("cpu"), fmt, torch.nn.CrossEntropyLoss())
    assert list(test) == [teacher.record["test"][k] for k in TEST_KEYS]


def test_rerun_skips_and_another_teacher_is_refused(teacher_dir):
    before = (teacher_dir / "weights.pt").stat().st_mtime_ns
    again = bt.make_teacher(MODEL, RECIPE, out=teacher_dir, name="M1")
    assert again.sha256 == bt.load_teacher(teacher_dir).sha256
    assert (teacher_dir / "weights.pt").stat().st_mtime_ns == before
    with pytest.raises(bt.ConfigError, match="holds another teacher: model"):
        bt.make_teacher(MODEL + 1, RECIPE, out=teacher_dir, name="M1")
    with pytest.raises(bt.ConfigError, match="name 'M1' \\(asked 'M2'\\)"):
        bt.make_teacher(MODEL, RECIPE, out=teacher_dir, name="M2")


def test_out_with_other_content_is_refused(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    with pytest.raises(bt.ConfigError, match="holds no teacher"):
        bt.make_teacher(0, RECIPE, out=tmp_path / "x")
    (tmp_path / "f").write_text("")
    with pytest.raises(bt.ConfigError, match="is a file"):
        bt.make_teacher(0, RECIPE, out=tmp_path / "f")


def _copy(src, dst):
    dst.mkdir()
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda d: (d / "weights.pt").write_bytes(b"garbage"), "sha256"),
        (lambda d: (d / "weights.pt").unlink(), "has no weights file"),
        (lambda d: (d / "teacher.json").unlink(), "has no teacher.json"),
        (lambda d: (d / "teacher.json").write_text("{"), "cannot read"),
        (lambda d: (d / "teacher.json").write_text("[]"), "not a Blox teacher record"),
    ],
    ids=["corrupt-weights", "no-weights", "no-record", "bad-json", "not-a-record"],
)
def test_damaged_folders_are_one_line_errors(teacher_dir, tmp_path, damage, says):
    folder = _copy(teacher_dir, tmp_path / "t")
    damage(folder)
    with pytest.raises(bt.ConfigError, match=says) as info:
        bt.load_teacher(folder)
    assert "\n" not in str(info.value)


def test_weights_that_match_their_sha_but_not_the_architecture(teacher_dir, tmp_path):
    folder = _copy(teacher_dir, tmp_path / "t")
    torch.save({"stem.weight": torch.zeros(1)}, folder / "weights.pt")
    record = json.loads((folder / "teacher.json").read_text())
    record["weights"]["sha256"] = hashlib.sha256((folder / "weights.pt").read_bytes()).hexdigest()
    (folder / "teacher.json").write_text(json.dumps(record))
    with pytest.raises(bt.ConfigError, match="cannot load teacher weights") as info:
        bt.load_teacher(folder)
    assert "\n" not in str(info.value)


def test_missing_folder(tmp_path):
    with pytest.raises(bt.ConfigError, match="does not exist"):
        bt.load_teacher(tmp_path / "nope")


def test_cli_teacher_by_rank_equals_its_benchmark_row(tmp_path, capsys):
    from blox_train.cli import main

    bench = tmp_path / "bench.zarr"
    bt.run_shard([0, MODEL], RECIPE, bench)
    argv = ["teacher", "rank:-1", "--benchmark", str(bench), "--recipe", "ci", "--set", "epochs=2"]
    assert main([*argv, "--name", "M5", "--out", str(tmp_path / "M5")]) == 0
    assert "saved teacher M5" in capsys.readouterr().out
    worst = bs.select_model(bs.open_benchmark(bench), "rank:-1")
    record = bt.load_teacher(tmp_path / "M5").record
    assert (record["model"], record["selector"], record["name"]) == (worst, "rank:-1", "M5")
    row = xr.open_zarr(bench, consolidated=False).sel(model=worst, seed=0)
    assert np.array_equal(np.asarray(record["metrics"]["val_acc"], dtype=np.float32), row.val_acc.values)
    assert np.float32(record["test"]["test_acc"]) == row.test_acc.values
    # a workflow rerun of the same command finds the teacher there and does not train again
    assert main([*argv, "--name", "M5", "--out", str(tmp_path / "M5")]) == 0
    assert "already holds teacher M5" in capsys.readouterr().out
