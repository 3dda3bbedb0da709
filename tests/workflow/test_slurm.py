"""The ci preset through workflow/profiles/slurm on a real single-node SLURM started here.

The test installs the Debian packages (slurmctld, slurmd, slurm-client, munge) when missing,
starts the daemons with .ci/slurm/up.sh in a temporary folder and stops exactly those daemons
(by pid) at the end. It skips only where that is impossible: not root, or no apt-get and no
SLURM installed. Facts behind the settings: shared/reference/slurm-ci-notes.md.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, snakemake, snakemake_env

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

DAEMONS = ("slurmctld", "slurmd", "sbatch", "squeue", "munged")
PLUGINS = {
    "snakemake_executor_plugin_slurm": "snakemake-executor-plugin-slurm",
    "snakemake_executor_plugin_cluster_generic": "snakemake-executor-plugin-cluster-generic",
}


def skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "starting SLURM daemons needs root"
    if shutil.which("apt-get") is None and not all(shutil.which(tool) for tool in DAEMONS):
        return "SLURM is not installed and apt-get is unavailable"
    return None


def ensure_plugins() -> None:
    missing = [dist for module, dist in PLUGINS.items() if importlib.util.find_spec(module) is None]
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True, timeout=300)


# snakemake-executor-plugin-slurm 2.8.0 reads MinJobAge with `scontrol show config` before every
# status round; when that call fails once (seen here under heavy load) it switches the round to
# `sacct`, which cannot work without slurmdbd, loses its jobs and hangs. It asks `which sacct`
# first, so a `which` that denies sacct keeps every round on squeue (the profile's setting).
WHICH_WITHOUT_SACCT = """#!/bin/sh
for arg in "$@"; do [ "$arg" = sacct ] && exit 1; done
exec /usr/bin/which "$@"
"""


def profile() -> dict:
    return yaml.safe_load((REPO / "workflow/profiles/slurm/profile.yaml").read_text())


@pytest.fixture(scope="module")
def slurm():
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    ensure_plugins()
    # Not under pytest's tmp_path: the slurm user must traverse every parent of its state folder.
    folder = Path(tempfile.mkdtemp(prefix="blox-slurm-", dir="/tmp"))
    partition = profile()["default-resources"]["slurm_partition"]
    try:
        up = subprocess.run(
            [str(REPO / ".ci/slurm/up.sh"), str(folder), partition],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert up.returncode == 0, f"SLURM did not start:\n{up.stdout}\n{up.stderr}"
        shim = folder / "bin"
        shim.mkdir()
        (shim / "which").write_text(WHICH_WITHOUT_SACCT)
        (shim / "which").chmod(0o755)
        env = {
            "SLURM_CONF": str(folder / "slurm.conf"),
            "PATH": f"{shim}{os.pathsep}{snakemake_env()['PATH']}",
        }
        yield {"env": env, "partition": partition}
    finally:
        subprocess.run([str(REPO / ".ci/slurm/down.sh"), str(folder)], timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def test_ci_preset_through_slurm_profile(slurm, workdir: Path) -> None:
    start = time.perf_counter()
    proc = snakemake(
        workdir,
        "--workflow-profile",
        "workflow/profiles/slurm",
        "--configfile",
        "config/ci.yaml",
        # The CI node has no GPU partition: point the profile's GPU entry for train_bucket at the
        # CPU partition. (A --set-resources flag replaces the profile's whole set-resources block.)
        "--set-resources",
        f"train_bucket:slurm_partition={slurm['partition']}",
        "train_bucket:gpu=0",
        "--slurm-init-seconds-before-status-checks",
        "5",
        "--jobs",
        "4",
        # 68 jobs since DARTS-PT joined (49 before the blockwise search); sbatch polling adds seconds per job
        timeout=600,
        env=slurm["env"],
    )
    seconds = time.perf_counter() - start
    print(f"ci preset through SLURM: {seconds:.0f} s")
    for name in ("index.html", "summary.png", "figure4.png", "latency.png", "figure5.png", "table2.csv"):
        assert (workdir / "results/report" / name).stat().st_size > 0
    # Every non-local job went through sbatch: space, 2 train buckets, latency table, validation,
    # 2 latency-profiling buckets (latency.models: trained); and the blockwise jobs: 2 teachers,
    # 2 x 3 distill jobs, 2 teachers x 2 FT lengths x 1 fine-tuning bucket; and the predict jobs:
    # 3 evaluations (gcn, donna-e1, lana-s1), the surrogate's fit and complete, 1 proxies bucket;
    # and the search jobs: the search stage's surrogate of the benchmark (fit, complete) and one
    # search per algorithm entry (random, re, hyperband, darts_pt); and one blockwise search per
    # entry of blockwise_search.searches (7 in ci.yaml). Trajectories, summary, figures are local.
    output = proc.stdout + proc.stderr
    assert "Falling back to 'sacct'" not in output
    assert output.count("has been submitted with SLURM jobid") == 7 + 2 + 6 + 4 + 6 + 6 + 7, output[-3000:]
    # A second run finds nothing to do.
    again = snakemake(
        workdir,
        "--workflow-profile",
        "workflow/profiles/slurm",
        "--configfile",
        "config/ci.yaml",
        "-n",
        timeout=120,
        env=slurm["env"],
    )
    assert "Nothing to be done" in again.stdout + again.stderr
