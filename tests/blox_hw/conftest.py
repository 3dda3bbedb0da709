"""Shared fixtures for blox-hw tests: a tiny protocol and network so tests run in seconds.

Tests never assert timing thresholds (timings live in tests/benchmarks/bench_hw*.py)."""

from __future__ import annotations

import blox_hw as bh
import pytest
import torch

#: Network geometry small enough to build and time 137 parts in a few seconds.
TINY = {"width": 2, "resolution": 8, "num_classes": 3}


@pytest.fixture(autouse=True, scope="session")
def _few_threads():
    torch.set_num_threads(1)
    yield


@pytest.fixture
def tiny_protocol() -> bh.Protocol:
    return bh.get_protocol("quick", warmup_runs=1, num_runs=2, num_reps=2, pause_s=0.0)


@pytest.fixture
def cpu() -> bh.Device:
    return bh.get_device("cpu", threads=1)
