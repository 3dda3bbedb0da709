"""blox-search installs with only blox-space beside it and pulls no torch; without the extras
every algorithm runs except BRP-NAS and DONNA (blox-predict's predictors) and DARTS-PT (blox-train's
supernet), which say which extra to install -- the blockwise ones against a generated blockwise experiment; its tests pass there
(those needing blox-predict or blox-train skip)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve()

SCRIPT = """
import sys, tempfile
import blox_search as b
from blox_search import testing
d = tempfile.mkdtemp()
store = testing.synthetic_benchmark(d + "/b.zarr", models=range(0, 91125, 97), epochs=9)
latency = getattr(testing, "synthetic_latency", None)
cost = b.CostModel.from_benchmark(store)
plain = b.TabularEvaluator(store)
blockwise = None
for name in b.list_algorithms():
    algorithm = b.get_algorithm(name)
    ev = plain
    if algorithm.needs_latency:
        lat = latency(d + "/lat.zarr", device="cpu-synthetic")
        ev = b.TabularEvaluator(store, latency_device="cpu-synthetic", latency=[lat])
    if getattr(algorithm, "needs_blockwise", False):
        if blockwise is None:
            s = testing.synthetic_blockwise(d + "/bw")
            blockwise = b.BlockwiseEvaluator(s["benchmark"], finetune=s["finetune"], blockwise=s["blockwise"],
                                             latency_device="synthetic-cpu")
        ev = blockwise
    try:
        (traj,) = b.run_search(algorithm, ev, budget_fte=8, seeds=[0], cost=cost)
    except b.MissingExtraError as err:
        print("MISSING", name, err)
        continue
    assert len(traj) > 0 and traj.cum_fte[-1] >= 8 or traj.stop_reason != "budget", name
    print("RAN", name, len(traj))
assert "torch" not in sys.modules, "running the algorithms imported torch"
"""


@pytest.mark.slow
def test_blox_search_installs_without_torch_and_runs_every_algorithm_but_brp(package_env):
    env = package_env("blox-search")
    assert "torch" not in env.distributions(), "installing blox-search pulled torch"
    blox = sorted(d for d in env.distributions() if d.startswith("blox-"))
    assert blox == ["blox-search", "blox-space"]
    env.run([env.python, "-c", "import blox_search, sys; assert 'torch' not in sys.modules"], check=True)
    assert env.run(["blox-search", "--help"], check=True).stdout.startswith("usage: blox-search")
    listed = env.run(["blox-search", "list"], check=True).stdout
    assert "brp" in listed and "random" in listed
    out = env.run([env.python, "-c", SCRIPT], check=True).stdout
    ran = {line.split()[1] for line in out.splitlines() if line.startswith("RAN")}
    missing = [line for line in out.splitlines() if line.startswith("MISSING")]
    assert sorted(m.split()[1] for m in missing) == ["brp", "darts_pt", "donna"], out
    needs = {"brp": "blox-predict", "donna": "blox-predict", "darts_pt": "blox-train"}
    assert all(needs[m.split()[1]] in m and "pip install" in m for m in missing), missing
    assert {
        "random",
        "re",
        "reinforce",
        "hyperband",
        "local",
        "lana",
        "two_phase",
        "iterative_teacher",
    } <= ran, out
    proc = env.pytest("blox_search", "-x", "--deselect", f"tests/blox_search/{HERE.name}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
