from __future__ import annotations

import json
import subprocess
import sys

import blox_space as bs
import pytest
from blox_space.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "arch",
    [
        "24519",
        "c3bc16e69893c8ea08f1e89e61f4caa5",
        "conv>mbconv+inp+res | mbconv>mbconv | conv>conv+inp",
        "[[[0],[1,1,1,1]],[[1],[1,1,0,0]],[[0],[0,1,1,0]]]",
        "[39, 4, 12]",
    ],
)
def test_show_json_equals_describe(capsys, arch):
    code, out, err = run_cli(capsys, "show", arch, "--json")
    assert code == 0 and err == ""
    assert json.loads(out) == json.loads(json.dumps(bs.describe(24519)))


def test_show_table(capsys):
    code, out, _ = run_cli(capsys, "show", "0")
    assert code == 0 and "39554afd1b33a44663e653ad10137b9a" in out and "2,917,604" in out


def test_convert_every_form(capsys):
    code, out, _ = run_cli(capsys, "convert", "0", "24519", "--to", "hash")
    assert code == 0 and out.split() == [bs.to_hash(0), bs.to_hash(24519)]
    for target, expected in [
        ("index", "24519"),
        ("blocks", "39 4 12"),
        ("name", bs.to_name(24519)),
        ("arch-vec", json.dumps(bs.to_arch_vec(24519))),
    ]:
        code, out, _ = run_cli(capsys, "convert", bs.to_hash(24519), "--to", target)
        assert code == 0 and out.strip() == expected


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["show", "91125"], "out of range"),
        (["show", "[[[0],[0,1,0,5]],[[0],[0,1,0,0]],[[0],[0,1,0,0]]]"], "must be 0 or 1"),
        (["show", "[[[7],[0,1,0,0]],[[0],[0,1,0,0]],[[0],[0,1,0,0]]]"], "ops are 0=conv"),
        (["show", "[[[0],[0,0,0,0]],[[0],[0,1,0,0]],[[0],[0,1,0,0]]]"], "invalid"),
        (["show", "0123456789abcdef0123456789abcdef"], "unknown model hash"),
        (["show", "conv | conv"], "3 block names"),
        (["show", "1", "--width", "1"], "width must be"),
        (["convert", "1", "--to", "nope"], "invalid choice"),
        (["show"], "required"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(capsys, argv, fragment):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("blox-space: error: ") and fragment in err


def test_console_script_exit_code_and_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "blox_space.cli", "show", "-5"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_help_everywhere(capsys):
    for argv in (["--help"], ["enumerate", "--help"], ["show", "--help"], ["convert", "--help"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
        assert "usage" in capsys.readouterr().out


def test_info_describes_other_store_kinds(tmp_path, capsys):
    from blox_space.store.proxies import write_proxies_shard

    path = write_proxies_shard(
        tmp_path / "p.zarr", [3, 1], {"synflow": [2.0, 1.0]}, seconds=[0.1, 0.1], recipe_id="r",
        recipe={"name": "quick"}, dataset="digits", seed=0, batch_size=64,
        geometry={"width": 8, "resolution": 16, "num_classes": 10},
    )  # fmt: skip
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "kind" in out and "proxies" in out and "model 2" in out and "recipe_id" in out
    assert main(["info", str(path), "--json", "--verify"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "proxies" and info["sizes"]["model"] == 2 and info["verified_arrays"] > 0
