"""blox-search LANA (issue 15): the 135-binary integer program solved by PuLP's bundled CBC
(target: well under a second per solve), k = 10 diverse solutions, the restricted form over
1,000 allowed models, against the vectorised brute force over all 91,125 models (which is
faster here: the space is small; the program is what scales to LANA's O(10^100) spaces)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from blox_search.blockwise.lana import brute_force_select, lana_select


def _tables(seed: int = 0):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(3, 45))
    latency = rng.uniform(1e-4, 1e-3, size=(3, 45))
    budget = 2e-4 + np.quantile(latency, 0.5, axis=1).sum()
    return rng, scores, latency, budget


def _best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


@pytest.mark.parametrize("k", [1, 10])
def test_lana_solve_time(k, record):
    rng, scores, latency, budget = _tables()
    ilp = _best_of(lambda: lana_select(scores, latency, budget, fixed_latency=2e-4, k=k))
    brute = _best_of(lambda: brute_force_select(scores, latency, budget, fixed_latency=2e-4, k=k))
    allowed = rng.choice(91125, size=1000, replace=False)
    restricted = _best_of(
        lambda: lana_select(scores, latency, budget, fixed_latency=2e-4, k=k, allowed=allowed)
    )
    assert np.array_equal(
        lana_select(scores, latency, budget, fixed_latency=2e-4, k=k),
        brute_force_select(scores, latency, budget, fixed_latency=2e-4, k=k),
    )
    record(
        "lana_select",
        k=k,
        binaries=135,
        ilp_seconds=round(ilp, 4),
        ilp_seconds_per_solution=round(ilp / k, 4),
        restricted_1000_seconds=round(restricted, 4),
        brute_force_seconds=round(brute, 4),
    )
    assert ilp / k < 1.0
