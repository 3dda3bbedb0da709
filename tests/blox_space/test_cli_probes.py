"""Bad input and damaged data against the ``blox-space`` command: every user mistake is exit 2
with exactly one stderr line and no traceback, nothing is written or changed, nonsense in
released files is refused, and damaged stores are reported as damage.

Each case runs ``main(argv)`` in a scratch folder holding a small benchmark, a shard, a
released-file folder and a plain file; the folder's bytes are compared before and after.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import blox_space as bs
import numpy as np
import pytest
import yaml
from blox_space.cli import main
from blox_space.cli.options import available_cpus
from blox_space.store import create_benchmark_shard, merge_shards, write_model_result
from hypothesis import given, settings
from hypothesis import strategies as st

EPOCHS = 3
MODELS = (0, 5, 24519)


def _shard(path: Path, models, bucket) -> Path:
    group = create_benchmark_shard(
        path, models, epochs=EPOCHS, recipe_id="r", recipe={"lr": 0.1}, dataset="digits", bucket=bucket
    )
    for m in models:
        write_model_result(
            group, m, 0, per_epoch={"val_acc": [10.0, 20.0, 30.0], "val_loss": [3.0, 2.0, 1.0]},
            test={"test_acc": 25.0}, train_seconds=3.0,
        )  # fmt: skip
    return path


def _release(folder: Path, *, val=None, time_s=7, epochs=EPOCHS) -> Path:
    """A one-file release (blox-base-0.csv) of two models; ``val`` overrides the first curve."""
    folder.mkdir(parents=True, exist_ok=True)
    header = {
        "version": 1, "search_space": {"shape": [[1, 4]] * 3, "nodes": 2, "stages": 3, "ops": list(bs.OPS)},
        "dataset_type": "training", "columns": ["model_hash", "val_top1", "test_top1", "train_time_s"],
        "seed": 0, "epochs": epochs, "dataset": "cifar100", "part": "base", "format": "csv",
    }  # fmt: skip
    curves = [val if val is not None else [10.0, 20.0, 30.0], [11.0, 21.0, 31.0]]
    rows = [f'{bs.to_hash(m)},"{c}",25.0,{time_s}' for m, c in zip((0, 5), curves)]
    text = yaml.dump(header, explicit_start=True, sort_keys=False) + "---\n" + "\n".join(rows) + "\n"
    (folder / "blox-base-0.csv").write_text(text)
    return folder


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A folder with: bench.zarr (merged), s0.zarr / s1.zarr (its shards), plain (a file),
    rel/ (a release), out/blox-base-0.csv (an earlier export)."""
    s0 = _shard(tmp_path / "s0.zarr", MODELS[:2], (0, 2))
    s1 = _shard(tmp_path / "s1.zarr", MODELS[2:], (1, 2))
    merge_shards([s0, s1], tmp_path / "bench.zarr")
    (tmp_path / "plain").write_text("not a store\n")
    _release(tmp_path / "rel")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "blox-base-0.csv").write_text("an earlier export\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snapshot(root: Path) -> dict[str, str]:
    """Every path under root (folders included) with the sha256 of each file's bytes."""
    snap = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        snap[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return snap


def _probe(capsys, root: Path, argv: list[str]) -> str:
    before = _snapshot(root)
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 2, f"exit {code} for {argv}: {err}"
    assert len(lines) == 1 and lines[0].startswith("blox-space: error: "), lines
    assert "Traceback" not in err
    assert _snapshot(root) == before, f"{argv} changed files"
    return lines[0]


HUGE = "9" * 5000
# (argv, a piece of the message that says what is wrong or allowed)
USAGE_CASES = [
    (["show", HUGE], "too long"),
    (["show", "[" * 5000], "too long"),
    (["show", "[" * 400 + "]" * 400], "an arch vector has 3 stages"),
    (["show", "12345678901234567890123"], "23-digit number"),
    (["show", "--", "-1"], "model index -1 is out of range; indices are 0..91124"),
    (["show", ""], "empty"),
    (["show", "0", "--width", "100000000000"], "2..4096"),
    (["show", "0", "--width", "1"], "2..4096"),
    (["show", "0", "--resolution", "1e20"], "resolution"),
    (["show", "0", "--num-classes", "0"], "class count"),
    (["convert", "0", "--to", "nonsense"], "invalid choice"),
    (["convert", "[[[9], [0, 0, 0, 1]]] * 3"], "--to"),
    (["enumerate", "--out", "x.zarr", "--workers", "-1"], "worker count"),
    (["enumerate", "--out", ""], "must not be empty"),
    (["enumerate", "--out", "plain/x.zarr"], "is a file, not a folder"),
    (["enumerate", "--out", "/proc/blox-probe.zarr"], "cannot write"),
    (["enumerate", "--out", "bench.zarr"], "already exists"),
    (["merge", "s0.zarr", "s1.zarr", "--out", "m.zarr", "--expect", ""], "selects no models"),
    (
        ["merge", "s0.zarr", "s1.zarr", "--out", "m.zarr", "--expect", "sample:0:1"],
        "sample size must be in 1..91125",
    ),
    (
        ["merge", "s0.zarr", "s1.zarr", "--out", "m.zarr", "--expect", "sample:91126:0"],
        "sample size must be in",
    ),
    (["merge", "s0.zarr", "s1.zarr", "--out", "m.zarr", "--expect", "0:1000000000000"], "0..91124"),
    (
        ["merge", "s0.zarr", "s1.zarr", "--out", "m.zarr", "--expect", "12345678901234567890123"],
        "not an integer",
    ),
    (["merge", "s0.zarr", "s1.zarr", "--out", "s0.zarr", "--overwrite"], "is one of the shards"),
    (["merge", "s0.zarr", "s0.zarr", "--out", "m.zarr"], "given twice"),
    (["merge", "s0.zarr", "--out", "m.zarr"], "buckets are missing"),
    (["merge", "nothere.zarr", "--out", "m.zarr"], "no store at"),
    (["merge", "plain", "--out", "m.zarr"], "not a Zarr v3 store"),
    (["query", "bench.zarr", "0", "--seed", "foo"], "a seed (or 'mean')"),
    (["query", "bench.zarr", "0", "--seed", "-1"], "out of range"),
    (["query", "bench.zarr", "0", "--seed", "3"], "seeds are [0]"),
    (["query", "bench.zarr", "0", "--epoch", "0"], "epoch"),
    (["query", "bench.zarr", "0", "--epoch", "99"], "epochs 1..3"),
    (["query", "bench.zarr", "0", "--metric", "accuracy"], "invalid choice"),
    (["query", "bench.zarr", "1"], "model 1 is not in this benchmark store"),
    (["query", "bench.zarr", "0", "--latency", "nothere.zarr"], "no store at"),
    (["info", "nothere.zarr"], "no store at"),
    (["info", ""], "empty"),
    (["import-legacy", "nothere", "--out", "x.zarr"], "nothere"),
    (["import-legacy", "rel", "--out", "bench.zarr"], "already exists"),
    (["import-legacy", "rel", "--out", ""], "must not be empty"),
    (["import-legacy", "rel", "--out", "plain/x.zarr"], "is a file, not a folder"),
    (["export-csv", "bench.zarr", "--out", "out"], "already exists"),
    (["export-csv", "bench.zarr", "--out", "plain/sub"], "is a file, not a folder"),
    (["select", "bench.zarr", "rank:0"], "K a non-zero integer"),
    (["select", "bench.zarr", "rank:4"], "ranks 3 trained models, so K must be in 1..3 or -3..-1"),
    (["select", "bench.zarr", "rank:" + "9" * 40], "rank:K"),
    (["select", "bench.zarr", "quantile:1.5"], "Q in 0..1"),
    (["select", "bench.zarr", "nonsense"], "cannot read selector 'nonsense'"),
    (["select", "bench.zarr", HUGE], "too long"),
    (["select", "bench.zarr", "rank:1", "--names", "A,B"], "2 name(s)"),
    (["select", "bench.zarr", "rank:1", "rank:2", "--names", "A,A"], "must be unique"),
    (["select", "bench.zarr", "--models", "sample:0:1"], "sample size must be in 1..91125"),
    (["select", "bench.zarr", "--models", "1:5"], "selects none of the benchmark's 3 trained models"),
    (["select", "bench.zarr", "--out", ""], "must not be empty"),
    (["select", "bench.zarr", "--out", "plain/x.json"], "is a file, not a folder"),
    (["select", "bench.zarr", "--out", "plain"], "already exists"),
    (["select", "nothere.zarr"], "no store at"),
    (["select", "plain"], "not a Zarr v3 store"),
    (["select"], "required"),
    ([], "a command is needed"),
    (["frobnicate"], "invalid choice"),
    (["show", "0", "--frobnicate"], "unrecognized arguments"),
    (["show"], "required"),
]


@pytest.mark.parametrize(
    ("argv", "says"), USAGE_CASES, ids=[" ".join(a)[:60] or "<none>" for a, _ in USAGE_CASES]
)
def test_user_mistakes_are_one_line_and_change_nothing(scratch, capsys, argv, says):
    line = _probe(capsys, scratch, argv)
    assert says in line, line


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"val": [10.0, 250.0, 30.0]}, "250.0"),
        ({"val": [10.0, -50.0, 30.0]}, "-50.0"),
        ({"val": [10.0, float("inf"), 30.0]}, "inf"),
        ({"time_s": -5}, "-5.0"),
        ({"time_s": 10**30}, "int64"),
        ({"val": [10.0, 20.0]}, "has 2 epochs, the header says 3"),
    ],
    ids=[
        "accuracy 250",
        "accuracy -50",
        "accuracy inf",
        "negative seconds",
        "seconds overflow",
        "short curve",
    ],
)
def test_nonsense_in_released_files_is_refused(scratch, capsys, kwargs, says):
    _release(scratch / "bad", **kwargs)
    line = _probe(capsys, scratch, ["import-legacy", "bad", "--out", "imported.zarr"])
    assert says in line, line


def test_a_good_release_imports(scratch, capsys):
    assert main(["import-legacy", "rel", "--out", "imported.zarr"]) == 0
    assert bs.open_benchmark(scratch / "imported.zarr").val_acc(5) == 31.0


def test_merge_never_replaces_one_of_its_inputs(scratch, capsys):
    before = (scratch / "s0.zarr" / "val_acc" / "zarr.json").read_bytes()
    _probe(capsys, scratch, ["merge", "s0.zarr", "s1.zarr", "--out", "./s0.zarr", "--overwrite"])
    assert (scratch / "s0.zarr" / "val_acc" / "zarr.json").read_bytes() == before


def test_export_csv_keeps_existing_files_unless_overwrite(scratch, capsys):
    _probe(capsys, scratch, ["export-csv", "bench.zarr", "--out", "out"])
    assert (scratch / "out" / "blox-base-0.csv").read_text() == "an earlier export\n"
    assert main(["export-csv", "bench.zarr", "--out", "out", "--overwrite"]) == 0
    assert (scratch / "out" / "blox-base-0.csv").read_text().startswith("---")


def test_a_deleted_array_is_damage_not_missing_data(scratch, capsys):
    shutil.rmtree(scratch / "bench.zarr" / "val_acc")
    for argv in (
        ["info", "bench.zarr"],
        ["query", "bench.zarr", "0"],
        ["export-csv", "bench.zarr", "--out", "e"],
    ):
        line = _probe(capsys, scratch, argv)
        assert "damaged" in line and "'val_acc'" in line and "bench.zarr" in line, line
    with pytest.raises(bs.DamagedStoreError):
        bs.open_benchmark(scratch / "bench.zarr")


def test_a_truncated_chunk_is_damage(scratch, capsys):
    chunks = sorted((scratch / "bench.zarr" / "val_acc" / "c").rglob("*"))
    chunk = next(p for p in chunks if p.is_file())
    chunk.write_bytes(chunk.read_bytes()[:3])
    line = _probe(capsys, scratch, ["query", "bench.zarr", "0", "--metric", "val_acc", "--epoch", "2"])
    assert "damaged" in line and "'val_acc'" in line, line
    line = _probe(capsys, scratch, ["merge", "bench.zarr", "--out", "again.zarr"])
    assert "damaged" in line
    assert main(["info", "bench.zarr"]) == 0  # info reads only the status array ...
    capsys.readouterr()
    line = _probe(capsys, scratch, ["info", "bench.zarr", "--verify"])  # ... and --verify reads them all
    assert "damaged" in line and "'val_acc'" in line, line


def test_info_verify_reads_a_sound_store(scratch, capsys):
    assert main(["info", "bench.zarr", "--verify"]) == 0
    assert "arrays read in full, no damage" in capsys.readouterr().out


def test_a_killed_writes_temporary_store_is_removed_by_the_next_write(scratch, capsys):
    stale = scratch / ".m.zarr.tmp-deadbeef"  # left by a writer that was killed
    stale.mkdir()
    (stale / "zarr.json").write_text("{}")
    assert main(["merge", "s0.zarr", "s1.zarr", "--out", "m.zarr"]) == 0
    assert not stale.exists() and (scratch / "m.zarr").is_dir()
    live = scratch / f".m.zarr.tmp-{os.uname().nodename.split('.')[0]}-{os.getpid()}-00000000"
    live.mkdir()  # a writer that is still running (this process) keeps its folder
    assert main(["merge", "s0.zarr", "s1.zarr", "--out", "m.zarr", "--overwrite"]) == 0
    assert live.exists()


def test_imported_latency_is_attached_and_two_imports_do_not_collide(scratch, capsys):
    for name in ("a", "b"):
        rel = _release(scratch / f"rel-{name}")
        header = {
            "version": 1, "search_space": {"shape": [[1, 4]] * 3, "nodes": 2, "stages": 3, "ops": list(bs.OPS)},
            "dataset_type": "benchmarking", "columns": ["model_hash", "latency"], "device": "cpu-test", "format": "csv",
        }  # fmt: skip
        rows = [f"{bs.to_hash(0)},0.002", f"{bs.to_hash(5)},0.003"]
        text = yaml.dump(header, explicit_start=True, sort_keys=False) + "---\n" + "\n".join(rows) + "\n"
        (rel / "blox-bench-cpu-test.csv").write_text(text)
        assert main(["import-legacy", str(rel), "--out", f"{name}.zarr"]) == 0, capsys.readouterr().err
    for name in ("a", "b"):
        bench = bs.open_benchmark(scratch / f"{name}.zarr")
        assert bench.latency(5, "cpu-test") == pytest.approx(0.003)
        assert (scratch / f"{name}-latency" / "latency-cpu-test.zarr").is_dir()
    assert bs.open_benchmark(scratch / "a.zarr", latency=[]).devices == []


def test_console_script_process_exit_code_and_interrupt(scratch):
    proc = subprocess.run(
        [sys.executable, "-m", "blox_space.cli", "show", HUGE], capture_output=True, text=True, cwd=scratch
    )
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr


def test_thread_and_worker_bounds_follow_this_machine():
    from blox_space.cli.options import thread_count, worker_count

    assert thread_count(str(available_cpus())) == available_cpus()
    with pytest.raises(Exception, match=f"1..{available_cpus()}"):
        thread_count(str(available_cpus() + 1))
    assert worker_count("0") == 0


# ---------------------------------------------------------------------------------------
# every parser: random text and huge numbers give a typed error, never another exception
# ---------------------------------------------------------------------------------------
TEXT = st.one_of(
    st.text(max_size=200),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.from_regex(r"sample:-?[0-9]{1,30}:-?[0-9]{1,30}", fullmatch=True),
    st.from_regex(r"-?[0-9]{0,30}:-?[0-9]{0,30}", fullmatch=True),
    st.from_regex(r"[\[\]\(\), 0-9-]{0,80}", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_parse_arch_gives_a_typed_error_or_a_model(text):
    try:
        blocks = bs.parse_arch(text)
    except bs.InvalidArchitectureError:
        return
    assert all(0 <= b < bs.NUM_BLOCKS for b in blocks)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_parse_models_gives_a_typed_error_or_models(text):
    try:
        models = bs.parse_models(text)
    except bs.ModelSpecError:
        return
    assert models.size and models.min() >= 0 and models.max() < bs.NUM_MODELS


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.integers(min_value=-(10**30), max_value=10**30), st.floats(), st.text(max_size=5)))
)
def test_parse_models_of_lists_gives_a_typed_error_or_models(values):
    try:
        models = bs.parse_models(values)
    except bs.ModelSpecError:
        return
    assert models.min() >= 0 and models.max() < bs.NUM_MODELS


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-(10**30), max_value=10**30), st.integers(min_value=-(10**30), max_value=10**30))
def test_geometry_gives_a_typed_error_or_a_geometry(width, resolution):
    try:
        geo = bs.Geometry(width=width, resolution=resolution)
    except bs.InvalidGeometryError:
        return
    assert bs.model_params(0, width=geo.width, resolution=geo.resolution) > 0


@settings(max_examples=100, deadline=None)
@given(TEXT)
def test_option_types_give_argparse_errors(text):
    import argparse

    from blox_space.cli.options import bounded_int, model_spec, thread_count

    for parse in (bounded_int(1, 100), thread_count, model_spec):
        try:
            parse(text)
        except argparse.ArgumentTypeError:
            pass


def test_huge_numbers_in_to_index():
    for value in (10**23, -(10**5000), 2**63, np.int64(-1)):
        with pytest.raises(bs.IndexOutOfRangeError):
            bs.to_index(value)
    with pytest.raises(bs.InvalidArchitectureError):
        bs.to_index([10**30, 0, 0])
