"""blox-hw installs with only blox-space and blox-train beside it, its console script answers,
and its tests pass in that environment."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve()


@pytest.mark.slow
def test_blox_hw_installs_with_its_blox_dependencies_only_and_its_tests_pass(package_env):
    env = package_env("blox-hw")
    blox = sorted(d for d in env.distributions() if d.startswith("blox-"))
    assert blox == ["blox-hw", "blox-space", "blox-train"]
    assert env.run(["blox-hw", "--help"], check=True).stdout.startswith("usage: blox-hw")
    proc = env.pytest("blox_hw", "-x", "--deselect", f"tests/blox_hw/{HERE.name}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
