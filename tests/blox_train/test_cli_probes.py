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
