"""blox-train installs with only blox-space beside it, its console script answers, and its tests
pass in that environment."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve()


@pytest.mark.slow
def test_blox_train_installs_with_blox_space_only_and_its_tests_pass(package_env):
    env = package_env("blox-train")
    blox = sorted(d for d in env.distributions() if d.startswith("blox-"))
    assert blox == ["blox-space", "blox-train"]
    assert env.run(["blox-train", "--help"], check=True).stdout.startswith("usage: blox-train")
    proc = env.pytest("blox_train", "-x", "--deselect", f"tests/blox_train/{HERE.name}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
