"""Kill a running workflow with SIGKILL mid-training, re-run it, and find every model exactly once."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import xarray as xr

from .conftest import BIN, snakemake, snakemake_env

pytestmark = pytest.mark.slow

OVERRIDE = "train: {models: 'sample:8:3', bucket_size: 2, include_uniform: false}\n"
NUM_BUCKETS = 4
TARGET = "results/benchmark/ci.zarr"


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (snakemake and the jobs it started)."""
    try:
        parent = psutil.Process(pid)
        family = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        return
    for proc in family:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=30)


def test_kill_and_rerun_loses_and_duplicates_nothing(workdir: Path) -> None:
    (workdir / "override.yaml").write_text(OVERRIDE)
    args = ["--cores", "2", "--configfile", "config/ci.yaml", "override.yaml"]
    run = subprocess.Popen(
        [str(BIN / "snakemake"), TARGET, *args],
        cwd=workdir,
        env=snakemake_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    shards = workdir / "results/train/ci"
    # A job's benchmark file is written when the job ends: wait for the first finished bucket,
    # give Snakemake a moment to record it, then kill everything while other buckets train.
    finished = workdir / "benchmarks/train/ci"
    deadline = time.monotonic() + 240
    try:
        while not list(finished.glob("bucket-*.tsv")):
            assert run.poll() is None, "snakemake ended before any bucket finished"
            assert time.monotonic() < deadline, "no bucket finished after 240 s"
            time.sleep(0.2)
        time.sleep(2)
    finally:
        kill_tree(run.pid)
    finished_before = sorted(path.stem for path in finished.glob("bucket-*.tsv"))
    assert len(finished_before) < NUM_BUCKETS, "the run finished before it could be killed"
    assert list(shards.glob("bucket-*.zarr")), "no shard on disk at the kill"
    assert not (workdir / TARGET).exists()

    # SIGKILL leaves Snakemake's lock behind (SIGTERM or Ctrl-C would not): unlock, then re-run.
    snakemake(workdir, *args, "--unlock", timeout=60)
    proc = snakemake(workdir, TARGET, *args, timeout=300)
    rerun = set(re.findall(r"bucket=(\d{5})", proc.stdout + proc.stderr))
    assert rerun, "the re-run trained nothing"
    assert len(rerun) < NUM_BUCKETS, "finished buckets were trained again"

    from blox_space import parse_models

    bench = xr.open_zarr(workdir / TARGET)
    models = bench["model"].values
    assert len(models) == len(np.unique(models))
    assert models.tolist() == parse_models("sample:8:3").tolist()
    assert (bench["status"].values == 1).all()
    assert np.isfinite(bench["best_val_acc"].values).all()
    assert len(list(shards.glob("bucket-*.zarr"))) == NUM_BUCKETS
    assert not [p for p in shards.iterdir() if p.name.startswith(".")], "temporary stores left behind"
    again = snakemake(workdir, TARGET, "-n", *args, timeout=120)
    assert "Nothing to be done" in again.stdout + again.stderr
