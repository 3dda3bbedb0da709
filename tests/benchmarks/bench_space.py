"""blox-space targets (issue 2): full space store <= 10 s on 2 cores, params+MACs of all
models <= 0.5 s, one arch vector -> index <= 20 us."""

from __future__ import annotations

import time
import timeit

import blox_space as bs
from blox_space import cost
from blox_space.space import build_space_store


def test_build_full_space_store(tmp_path, record):
    start = time.perf_counter()
    build_space_store(tmp_path / "space.zarr", workers=2)
    seconds = time.perf_counter() - start
    record("space_store_build", seconds=round(seconds, 3), target_s=10, models=bs.NUM_MODELS)
    assert seconds <= 10


def test_params_and_macs_of_all_models(record):
    cost._block_costs.cache_clear()
    cost._fixed.cache_clear()
    start = time.perf_counter()
    costs = bs.space_costs(width=32, resolution=32)
    seconds = time.perf_counter() - start
    assert len(costs["macs"]) == bs.NUM_MODELS
    record("space_costs_all_models", seconds=round(seconds, 4), target_s=0.5)
    assert seconds <= 0.5


def test_arch_vec_to_index(record):
    vec = [[[0], [1, 1, 1, 1]], [[1], [1, 1, 0, 0]], [[0], [0, 1, 1, 0]]]
    n = 200_000
    per_call = min(timeit.repeat(lambda: bs.to_index(vec), number=n, repeat=3)) / n
    record("arch_vec_to_index", microseconds=round(per_call * 1e6, 3), target_us=20)
    assert per_call <= 20e-6
