from __future__ import annotations

import json
import subprocess
import sys

import blox_hw as bh
import numpy as np
import pytest
from blox_hw.cli import build_parser, main
from blox_space.schema import STATUS_DONE

TINY_ARGS = ["--width", "2", "--resolution", "8", "--num-classes", "3", "--threads", "1",
             "--warmup-runs", "0", "--num-runs", "2", "--num-reps", "1", "--pause-s", "0"]  # fmt: skip


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "command", [None, "devices", "protocols", "profile", "blocks", "validate", "merge", "show"]
)
def test_help_at_every_level(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"] if command else ["--help"])
    assert exc.value.code == 0
    assert "usage: blox-hw" in capsys.readouterr().out


def test_devices_and_protocols_json(capsys):
    code, out, _ = _run(capsys, "devices", "--json")
    rows = json.loads(out)["devices"]
    assert code == 0 and [r["kind"] for r in rows] == bh.list_devices()
    assert next(r for r in rows if r["kind"] == "cpu")["available"]
    code, out, _ = _run(capsys, "protocols", "--json")
    assert code == 0 and {p["name"] for p in json.loads(out)["protocols"]} == set(bh.list_protocols())


def test_devices_without_probe_lists_kinds_and_imports_no_torch():
    # What the workflow's start check asks: fast because neither blox-hw's CLI nor the
    # registries import torch or blox-train until a command measures.
    code = (
        "import sys; from blox_hw.cli import main; main(['-q', 'devices', '--no-probe', '--json']);"
        " import blox_hw; blox_hw.list_protocols();"
        " assert 'torch' not in sys.modules and 'blox_train' not in sys.modules, 'torch imported'"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["devices"]
    assert [r["kind"] for r in rows] == bh.list_devices()
    assert next(r for r in rows if r["kind"] == "cpu")["precisions"] == ["fp32", "bf16"]
    assert "available" not in rows[0]


def test_lazy_names_resolve():
    assert bh.read_lut.__module__ == "blox_hw.store" and bh.FIXED_PARTS
    assert set(bh.__all__) <= set(dir(bh))
    with pytest.raises(AttributeError):
        bh.no_such_name  # noqa: B018


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["profile", "--models", "0:0", "--out", "x.zarr"], "model spec '0:0'"),
        (["profile", "--models", "1", "--out", "x.zarr", "--device", "tpu"], "unknown device 'tpu'"),
        (["profile", "--models", "1", "--out", "x.zarr", "--protocol", "slow"], "unknown protocol 'slow'"),
        (["profile", "--models", "1", "--out", "x.zarr", "--precision", "int8"], "precisions fp32, bf16"),
        (["profile", "--models", "1", "--out", "x.zarr", "--num-reps", "0"], "num_reps"),
        (
            ["profile", "--models", "1", "--out", "x.zarr", "--device", "cuda", "--threads", "1"],
            "cuda is not available",
        ),
        (["validate", "missing.zarr", "--models", "0"], "no store at missing.zarr"),
        (["profile", "--models", "1", "--out", "x.zarr", "--clock", "thread", "--threads", "2"], "threads=1"),
        (["blocks"], "--out"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if "cuda" in argv and bh.get_device("cuda").unavailable_reason() is None:
        pytest.skip("a GPU is present")
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse mistakes
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("blox-hw: error: ") and message in err


def test_skip_unavailable_device_exits_0(capsys, tmp_path):
    if bh.get_device("onnxruntime").unavailable_reason() is None:
        pytest.skip("onnxruntime is installed")
    code, out, err = _run(
        capsys, "blocks", "--device", "onnxruntime", "--skip-unavailable", "--out", str(tmp_path / "o.zarr")
    )
    assert code == 0 and "skipping device onnxruntime" in err and not (tmp_path / "o.zarr").exists()


def test_blocks_validate_profile_show_end_to_end(capsys, tmp_path):
    lut = tmp_path / "lut.zarr"
    code, out, err = _run(capsys, "blocks", "--out", str(lut), "--json", *TINY_ARGS)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["entries"] == 135 and summary["fixed_parts"] == 3
    assert "about" in err  # the time estimate comes before the work
    table = bh.read_lut(lut)
    assert table.attrs["protocol"]["num_runs"] == 2 and table.attrs["environment"]["threads"] == 1

    code, out, err = _run(capsys, "blocks", "--out", str(lut), *TINY_ARGS)
    assert code == 2 and "already exists" in err

    val = tmp_path / "val.zarr"
    code, out, err = _run(capsys, "validate", str(lut), "--models", "sample:5:0", "--json", "--out", str(val))
    assert code == 0, err
    result = json.loads(out)
    assert {"spearman", "kendall", "mape", "n"} <= set(result) and result["n"] == 5
    assert result["models"] == bh.read_latencies(val).models.tolist()
    assert bh.read_latencies(val).attrs["validation"]["n"] == 5

    lat = tmp_path / "lat.zarr"
    code, out, err = _run(
        capsys, "profile", "--models", "0,91124", "--out", str(lat), "--json", "--clock", "thread", *TINY_ARGS
    )
    assert code == 0, err
    back = bh.read_latencies(lat)
    assert back.models.tolist() == [0, 91124] and np.all(back.status == STATUS_DONE)
    assert back.attrs["protocol"]["clock"] == "thread"

    code, out, err = _run(capsys, "validate", str(lut), "--models", "0,91124", "--measured", str(lat))
    assert code == 0 and "spearman" in out and "mape" in out

    merged = tmp_path / "merged.zarr"
    code, out, err = _run(capsys, "merge", str(lat), str(lat), "--out", str(merged))
    assert code == 2 and "more than one shard" in err
    code, out, err = _run(capsys, "merge", str(lat), str(val), "--out", str(merged))
    assert code == 2 and "protocol" in err  # thread clock vs wall clock
    val2 = tmp_path / "val2.zarr"
    code, out, err = _run(
        capsys, "profile", "--models", "5,6", "--out", str(val2), "--clock", "thread", *TINY_ARGS
    )
    code, out, err = _run(capsys, "merge", str(lat), str(val2), "--out", str(merged))
    assert code == 0 and "4 models from 2 shards" in out
    code, out, err = _run(
        capsys, "merge", str(lat), str(val2), "--expect", "0:7", "--out", str(tmp_path / "gap.zarr")
    )
    assert code == 2 and "4 expected model(s) are in no shard (e.g. [1, 2, 3, 4])" in err
    code, out, err = _run(
        capsys, "merge", str(lat), "--expect", "nonsense", "--out", str(tmp_path / "bad.zarr")
    )
    assert code == 2 and "error" in err and "Traceback" not in err

    code, out, _ = _run(capsys, "show", str(lut), "--json")
    assert code == 0 and json.loads(out)["entries"] == 135
    code, out, _ = _run(capsys, "show", str(lat))
    assert code == 0 and "n: 2" in out


def test_console_script_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "blox_hw.cli", "devices"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and "cpu" in proc.stdout


def test_parser_lists_every_subcommand():
    text = build_parser().format_help()
    for command in ("devices", "protocols", "profile", "blocks", "validate", "show"):
        assert command in text
