"""The blox-train command: subcommands, output, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys

import blox_train as bt
import pytest
import xarray as xr
from blox_train.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "blox_train.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_recipes_lists_every_recipe_with_its_id(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    for name in bt.list_recipes():
        assert name in out and bt.get_recipe(name).id in out
    assert main(["recipes", "paper", "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["id"] == bt.get_recipe("paper").id and record["epochs"] == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "0", "--recipe", "papr"], "blox-train: error: unknown recipe 'papr' (did you mean paper"),
        (
            ["benchmark", "--models", "0:x", "--out", "x.zarr"],
            "blox-train: error: cannot read model spec '0:x'",
        ),
        (["train", "0", "--set", "epochs=-1"], "blox-train: error: recipe 'quick': epochs must be >= 1"),
        (["train", "91125"], "blox-train: error: "),
        (
            ["train", "0", "--recipe", "paper", "--data-root", "/nonexistent"],
            "blox-train: error: cifar100 not found",
        ),
        (["frobnicate"], "blox-train: error: argument command: invalid choice"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err


def test_subprocess_exit_code():
    bad = run_cli("train", "0", "--recipe", "nope")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [bad.stderr.strip()]
    assert "known recipes" in bad.stderr


@pytest.mark.parametrize("args", [[], ["benchmark"], ["train"], ["recipes"]])
def test_help_everywhere(args, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--help"])
    assert exit_.value.code == 0 and "usage: blox-train" in capsys.readouterr().out


def test_train_and_benchmark_commands(tmp_path, capsys):
    assert main(["train", "5", "--recipe", "ci", "--set", "epochs=1", "--json", "--no-progress", "-q"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["model"] == 5 and record["status"] == "done" and len(record["metrics"]["val_acc"]) == 1
    out = tmp_path / "bucket-0.zarr"
    args = [
        "benchmark",
        "--models",
        "0,1",
        "--recipe",
        "ci",
        "--set",
        "epochs=1",
        "--out",
        str(out),
        "--bucket",
        "0/1",
    ]
    assert main(args) == 0
    assert "2 runs, 2 trained (0 failed)" in capsys.readouterr().out
    assert xr.open_zarr(out, consolidated=False).attrs["bucket"] == {"index": 0, "count": 1}
    assert main(args) == 0
    assert "0 trained (0 failed), 2 already finished" in capsys.readouterr().out
