"""blox-predict installs with only blox-space beside it (no blox-train), its console script
answers, and its tests pass in that environment (those needing blox-train skip)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve()


@pytest.mark.slow
def test_blox_predict_installs_with_blox_space_only_and_its_tests_pass(package_env):
    pytest.importorskip("torch_geometric")  # the environment installs it from the registry
    env = package_env("blox-predict")
    blox = sorted(d for d in env.distributions() if d.startswith("blox-"))
    assert blox == ["blox-predict", "blox-space"]
    assert env.run(["blox-predict", "--help"], check=True).stdout.startswith("usage: blox-predict")
    # proxies need blox-train: one line saying how to install it, exit 2
    proc = env.run(
        ["blox-predict", "proxies", "--models", "0", "--recipe", "ci", "--out", "/nonexistent/p.zarr"]
    )
    # (a fresh torch-geometric may print a torch FutureWarning at import, before the error line)
    last = proc.stderr.splitlines()[-1]
    assert proc.returncode == 2 and last.startswith("blox-predict: error: ") and "blox-train" in last
    assert "Traceback" not in proc.stderr
    proc = env.pytest("blox_predict", "-x", "--deselect", f"tests/blox_predict/{HERE.name}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
