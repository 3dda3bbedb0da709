"""Bad input against the ``blox-train`` command: exit 2, exactly one stderr line, no traceback
and nothing written, for options the library would reject late (threads, devices, workers,
checkpoints) and recipes that make no sense."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import blox_train as bt
import pytest
import torch
from blox_space.cli.options import available_cpus
from blox_train.cli import main
from blox_train.recipes import parse_overrides
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    (tmp_path / "plain").write_text("not a store\n")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def _probe(capsys, root: Path, argv: list[str]) -> str:
    before = _snapshot(root)
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 2, f"exit {code} for {argv}: {err}"
    assert len(lines) == 1 and lines[0].startswith("blox-train: error: "), lines
    assert _snapshot(root) == before, f"{argv} changed files"
    return lines[0]


TRAIN = ["train", "0", "--recipe", "ci"]
BENCH = ["benchmark", "--models", "0", "--recipe", "ci", "--out", "s.zarr"]
CASES = [
    ([*TRAIN, "--threads", "-1"], "out of range"),
    ([*TRAIN, "--threads", "99999"], f"1..{available_cpus()}"),
    ([*TRAIN, "--workers", "-3"], "out of range"),
    ([*TRAIN, "--device", "foo"], "not a torch device"),
    ([*TRAIN, "--device", "cuda:7"], "not available"),
    ([*TRAIN, "--device", "tpu"], "not a torch device"),
    ([*TRAIN, "--seed", "-1"], "out of range"),
    ([*TRAIN, "--seed", "foo"], "not a seed"),
    ([*TRAIN, "--checkpoint", "bad.pt"], "cannot read checkpoint bad.pt"),
    ([*TRAIN, "--checkpoint", ""], "must not be empty"),
    ([*TRAIN, "--set", "lr=inf"], "finite"),
    ([*TRAIN, "--set", "lr=nan"], "finite"),
    ([*TRAIN, "--set", "max_loss=inf"], "max_loss must be a finite number > 0"),
    ([*TRAIN, "--set", "resolution=1"], "resolution must be an integer in 8..4096"),
    ([*TRAIN, "--set", "width=100000000000"], "2..4096"),
    ([*TRAIN, "--set", "seeds=-1"], "seeds must be in"),
    ([*TRAIN, "--set", "epochs=" + "9" * 5000], "not a valid int"),
    ([*TRAIN, "--set", "epochs=0"], "epochs must be >= 1"),
    ([*TRAIN, "--set", "batch_size=0"], "batch sizes"),
    ([*TRAIN, "--set", "nonsense=1"], "unknown recipe setting"),
    ([*TRAIN, "--recipe", "quik"], "did you mean quick"),
    (["train", "9" * 5000, "--recipe", "ci"], "too long"),
    (["train", "--recipe", "ci", "--", "-1"], "model index -1 is out of range"),
    ([*BENCH[:-1], "plain/s.zarr"], "is a file, not a folder"),
    ([*BENCH[:-1], "/proc/blox-probe.zarr"], "cannot write"),
    ([*BENCH[:-1], ""], "must not be empty"),
    ([*BENCH, "--bucket", "3/2"], "I must be in 0..N-1"),
    ([*BENCH, "--bucket", "x"], "I/N"),
    (
        ["benchmark", "--models", "sample:0:1", "--recipe", "ci", "--out", "s.zarr"],
        "sample size must be in 1..91125",
    ),
    (["benchmark", "--models", "0:1000000000000", "--recipe", "ci", "--out", "s.zarr"], "0..91124"),
    ([], "a command is needed"),
]


@pytest.mark.parametrize(("argv", "says"), CASES, ids=[" ".join(a)[:70] or "<none>" for a, _ in CASES])
def test_user_mistakes_are_one_line_and_write_nothing(scratch, capsys, argv, says):
    assert says in _probe(capsys, scratch, argv)


def test_the_library_checks_devices_too():
    with pytest.raises(bt.DeviceError):
        bt.train(0, "ci", device="foo")
    if not torch.cuda.is_available():
        with pytest.raises(bt.DeviceError, match="no CUDA GPU"):
            bt.train(0, "ci", device="cuda")


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["epochs", "lr", "seeds", "width", "channels_last", "augment", "max_loss"]),
    st.text(max_size=30),
)
def test_overrides_give_a_typed_error_or_a_valid_recipe(key, value):
    try:
        recipe = bt.get_recipe("ci", parse_overrides([f"{key}={value}"]))
    except bt.BloxError:
        return
    assert math.isfinite(recipe.lr) and recipe.epochs >= 1 and min(recipe.seeds) >= 0


@pytest.fixture(scope="module")
def blockwise_inputs(tmp_path_factory):
    """A ci teacher, its library (its own blocks at snapshots 1 and 2), a library of another
    teacher, a damaged library, a finished finetune shard and a benchmark store, outside the
    scratch folder the probes watch."""
    from blox_train.finetune import run_finetune
    from blox_train.library import save_library_block

    root = tmp_path_factory.mktemp("blockwise-inputs")
    recipe = bt.get_recipe("ci", {"epochs": 1})
    teacher = bt.make_teacher(0, recipe, out=root / "teacher")
    other = {**teacher.record, "model": 1, "block_ids": [1, 0, 0]}
    for name, record in (
        ("library", teacher.record),
        ("other-library", other),
        ("damaged-library", teacher.record),
    ):
        for epoch in (1, 2):
            for s, stage in enumerate(teacher.model.stages):
                save_library_block(
                    root / name, s, 0, epoch, stage.state_dict(), teacher=record, distill_id="d"
                )
    (root / "damaged-library" / "stage1" / "block00" / "epoch002.pt").write_bytes(b"broken")
    run_finetune(teacher.path, root / "library", [0], epochs=1, out=root / "ft.zarr")
    bt.run_shard([0, 1], recipe, root / "bench.zarr")
    (root / "models.json").write_text('{"models": [0, 45]}')
    return root


FT = ["finetune", "--teacher", "{root}/teacher", "--library", "{root}/library", "--epochs", "1"]
FT_OUT = ["--out", "ft.zarr"]
TEACH = ["teacher", "0", "--recipe", "ci", "--set", "epochs=1"]
BLOCKWISE_CASES = [
    ([*FT, "--models", "0", *FT_OUT, "--teacher", "nope"], "teacher folder nope does not exist"),
    ([*FT, "--models", "0", *FT_OUT, "--library", "nope"], "block library nope does not exist"),
    ([*FT, "--models", "0", *FT_OUT, "--library", "{root}/other-library"], "distilled from another teacher"),
    ([*FT, "--models", "0", *FT_OUT, "--library", "{root}/damaged-library"], "is damaged: sha256"),
    ([*FT, "--models", "0", *FT_OUT, "--alpha", "1.5"], "alpha must be in [0, 1]"),
    ([*FT, "--models", "0", *FT_OUT, "--alpha", "nan"], "alpha must be in [0, 1]"),
    ([*FT, "--models", "0", *FT_OUT, "--alpha", "x"], "not a number"),
    ([*FT, "--models", "0", *FT_OUT, "--temperature", "0"], "temperature must be a finite number > 0"),
    ([*FT, "--models", "0", *FT_OUT, "--temperature", "inf"], "temperature must be a finite number > 0"),
    ([*FT, "--models", "0", *FT_OUT, "--distill-epoch", "7"], "has snapshot epochs [1, 2], not 7"),
    ([*FT, "--models", "0", *FT_OUT, "--distill-epoch", "0"], "out of range"),
    ([*FT, "--models", "3", *FT_OUT], "holds no block 3 at stage 0"),
    ([*FT, "--models", "0", "--out", "{root}/ft.zarr", "--alpha", "0.5"], "holds alpha 0.9, not 0.5"),
    (
        [*FT, "--models", "0", "--out", "{root}/ft.zarr", "--distill-epoch", "1"],
        "holds distill_epoch 2, not 1",
    ),
    ([*FT, "--models-from", "nope.json", *FT_OUT], "models file nope.json does not exist"),
    ([*FT, "--models-from", "plain", *FT_OUT], "cannot read models file plain"),
    ([*FT, "--models-from", "{root}/models.json", "--bucket-of", "2/2", *FT_OUT], "I must be in 0..N-1"),
    ([*FT, "--models-from", "{root}/models.json", "--bucket-of", "0/3", *FT_OUT], "only 2 students"),
    ([*FT, "--models", "0", "--models-from", "{root}/models.json", *FT_OUT], "not allowed with"),
    ([*FT, "--models", "0", "--bucket", "0/1", "--bucket-of", "0/1", *FT_OUT], "not allowed with"),
    ([*FT, "--models", "0", *FT_OUT, "--epochs", "0"], "out of range"),
    ([*FT, "--models", "0", "--out", ""], "must not be empty"),
    (["teacher", "rank:1", "--recipe", "ci", "--out", "t"], "is a selector; give --benchmark"),
    ([*TEACH, "--out", "plain"], "is a file, not a folder"),
    ([*TEACH, "--out", "{root}/teacher", "--name", "M1"], "holds another teacher: name None (asked 'M1')"),
    ([*TEACH, "--benchmark", "nope.zarr", "--out", "t"], "nope.zarr"),
    (
        ["teacher", "rank:1", "--recipe", "ci", "--benchmark", "{root}/bench.zarr", "--out", "t"],
        "was trained with recipe id",
    ),
    (["teacher", "rank:3", *TEACH[2:], "--benchmark", "{root}/bench.zarr", "--out", "t"], "rank"),
]


@pytest.mark.parametrize(
    ("argv", "says"), BLOCKWISE_CASES, ids=[" ".join(a[:1] + a[6:])[:70] for a, _ in BLOCKWISE_CASES]
)
def test_blockwise_mistakes_are_one_line_and_write_nothing(blockwise_inputs, scratch, capsys, argv, says):
    argv = [a.replace("{root}", str(blockwise_inputs)) for a in argv]
    assert says in _probe(capsys, scratch, argv)
