"""Bad input against the ``blox-hw`` command: exit 2, exactly one stderr line, no traceback and
nothing written; thread counts are bounded by this machine before torch sees them."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import blox_hw as bh
import pytest
from blox_hw.cli import main
from blox_space.cli.options import available_cpus
from hypothesis import given, settings
from hypothesis import strategies as st

TINY = ["--width", "4", "--resolution", "8", "--num-classes", "10", "--num-runs", "2", "--num-reps", "1"]


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    (tmp_path / "plain").write_text("not a store\n")
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
    assert len(lines) == 1 and lines[0].startswith("blox-hw: error: "), lines
    assert _snapshot(root) == before, f"{argv} changed files"
    return lines[0]


PROFILE = ["profile", "--models", "0", "--out", "p.zarr"]
CASES = [
    ([*PROFILE, "--threads", "99999"], f"1..{available_cpus()}"),
    ([*PROFILE, "--threads", "-1"], "out of range"),
    ([*PROFILE, "--threads", "0"], "out of range"),
    ([*PROFILE, "--device-name", ""], "must not be empty"),
    ([*PROFILE, "--device", "tpu"], "unknown device 'tpu'"),
    ([*PROFILE, "--device", "cpu:x"], "must be an integer"),
    ([*PROFILE, "--precision", "fp8"], "not 'fp8'"),
    ([*PROFILE, "--protocol", "slow"], "unknown protocol 'slow'"),
    ([*PROFILE, "--num-runs", "0"], "num_runs must be an integer in 1..1000000"),
    ([*PROFILE, "--pause-s", "-1"], "0..3600 seconds"),
    ([*PROFILE, "--pause-s", "nan"], "0..3600 seconds"),
    ([*PROFILE, "--width", "100000000000"], "2..4096"),
    ([*PROFILE, "--resolution", "1e20"], "resolution"),
    ([*PROFILE, "--seed", "-3"], "out of range"),
    (["profile", "--models", "sample:0:1", "--out", "p.zarr"], "sample size must be in 1..91125"),
    (["profile", "--models", "0:1000000000000", "--out", "p.zarr"], "0..91124"),
    (["profile", "--models", "", "--out", "p.zarr"], "selects no models"),
    (["profile", "--models", "0", "--out", "plain/p.zarr", *TINY], "is a file, not a folder"),
    (["profile", "--models", "0", "--out", "/proc/blox-probe.zarr", *TINY], "cannot write"),
    (["blocks", "--out", "plain/t.zarr", *TINY], "is a file, not a folder"),
    (["merge", "nothere.zarr", "--out", "m.zarr"], "no store at"),
    (["merge", "plain", "--out", "m.zarr"], "not a Zarr v3 store"),
    (["merge", "plain", "--out", "m.zarr", "--expect", ""], "selects no models"),
    (["show", "nothere.zarr"], "no store at"),
    (["validate", "nothere.zarr", "--models", "0"], "no store at"),
    ([], "a command is needed"),
    (["bogus"], "invalid choice"),
]


@pytest.mark.parametrize(("argv", "says"), CASES, ids=[" ".join(a)[:70] or "<none>" for a, _ in CASES])
def test_user_mistakes_are_one_line_and_write_nothing(scratch, capsys, argv, says):
    assert says in _probe(capsys, scratch, argv)


def test_merging_into_an_input_is_refused_and_changes_nothing(scratch, capsys):
    assert main(["profile", "--models", "0,1", "--out", "a.zarr", *TINY]) == 0
    assert main(["profile", "--models", "2", "--out", "b.zarr", *TINY]) == 0
    capsys.readouterr()
    assert "is one of the shards" in _probe(
        capsys, scratch, ["merge", "a.zarr", "b.zarr", "--out", "a.zarr", "--overwrite"]
    )
    assert main(["merge", "a.zarr", "b.zarr", "--out", "m.zarr", "--expect", "0:4", "--allow-partial"]) == 0
    merged = bh.read_latencies(scratch / "m.zarr")
    assert merged.models.tolist() == [0, 1, 2] and merged.attrs["is_partial"]


def test_thread_counts_are_checked_before_torch_in_the_library():
    with pytest.raises(bh.DeviceSettingError, match=f"1..{available_cpus()}"):
        bh.get_device("cpu", threads=99999)
    with pytest.raises(bh.DeviceSettingError):
        bh.get_device("cpu", threads=True)


def test_the_process_does_not_crash_on_absurd_thread_counts(scratch):
    proc = subprocess.run(
        [sys.executable, "-m", "blox_hw.cli", *PROFILE, "--threads", "99999"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=40), st.integers(-(10**30), 10**30).map(str)))
def test_device_names_give_a_typed_error_or_a_device(text):
    try:
        device = bh.get_device(text)
    except bh.HwError:
        return
    assert device.kind in bh.list_devices()
