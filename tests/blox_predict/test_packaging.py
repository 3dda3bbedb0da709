"""blox-predict installs with only blox-space beside it (placeholder until its issue lands)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_blox_predict_installs_with_blox_space_only(package_env):
    pytest.importorskip("torch_geometric")  # the environment installs it from the registry
    env = package_env("blox-predict")
    blox = sorted(d for d in env.distributions() if d.startswith("blox-"))
    assert blox == ["blox-predict", "blox-space"]
    env.run([env.python, "-c", "import blox_predict"], check=True)
    if not (env.root / "bin" / "blox-predict").exists():
        pytest.skip("blox-predict has no console script yet (placeholder package)")
    assert env.run(["blox-predict", "--help"], check=True).stdout.startswith("usage: blox-predict")
