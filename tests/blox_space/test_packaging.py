"""blox-space installs alone (no torch), its console script answers, and its tests pass there."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve()


@pytest.mark.slow
def test_blox_space_installs_alone_without_torch_and_its_tests_pass(package_env):
    env = package_env("blox-space")
    assert "torch" not in env.distributions(), "installing blox-space pulled torch"
    assert env.run(["blox-space", "--help"], check=True).stdout.startswith("usage: blox-space")
    proc = env.pytest("blox_space", "-x", "--deselect", f"tests/blox_space/{HERE.name}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
