"""The workflow stays formatted (`snakefmt --check`) and lint-clean (`snakemake --lint`), STYLE §6."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .conftest import BIN, REPO, snakemake, snakemake_env


def test_snakefmt_check_is_clean() -> None:
    proc = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "workflow"],
        cwd=REPO,
        env=snakemake_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakemake_lint_is_clean_on_the_default_preset(workdir: Path) -> None:
    proc = snakemake(workdir, "--lint", timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr
