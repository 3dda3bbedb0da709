"""Helpers for the workflow tests: a fresh working directory per test and a snakemake runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def snakemake_env() -> dict[str, str]:
    """The environment a user gets after the README's setup: the venv's bin first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONHASHSEED", "0")
    return env


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working directory laid out like a fresh clone: workflow/ and config/ copied in."""
    for folder in ("workflow", "config"):
        shutil.copytree(REPO / folder, tmp_path / folder, symlinks=True)
    return tmp_path


def snakemake(
    workdir: Path, *args: str, timeout: float = 300, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run snakemake in ``workdir`` under ``timeout -k`` (a hung run never hangs the tests)."""
    cmd = ["timeout", "-k", "10", str(int(timeout)), str(BIN / "snakemake"), *args]
    proc = subprocess.run(
        cmd, cwd=workdir, env={**snakemake_env(), **(env or {})}, capture_output=True, text=True
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}"
            f"\n--- stderr\n{proc.stderr[-8000:]}"
        )
    return proc
