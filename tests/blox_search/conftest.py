"""Shared generated stores of the blox-search tests (built once per session)."""

from __future__ import annotations

import numpy as np
import pytest
from blox_search.testing import synthetic_benchmark


@pytest.fixture(scope="session")
def full_store(tmp_path_factory) -> str:
    """All 91,125 models, 12 epochs, one seed, a structured landscape."""
    return synthetic_benchmark(tmp_path_factory.mktemp("full") / "full.zarr", epochs=12)


@pytest.fixture(scope="session")
def partial_store(tmp_path_factory) -> str:
    """500 random models (a partial store), 12 epochs, two seeds."""
    models = np.random.default_rng(7).choice(91125, size=500, replace=False)
    return synthetic_benchmark(
        tmp_path_factory.mktemp("partial") / "partial.zarr", models=models, seeds=(0, 1)
    )


@pytest.fixture(scope="session")
def flat_store(tmp_path_factory) -> str:
    """All models, an unstructured landscape (nothing to exploit)."""
    return synthetic_benchmark(tmp_path_factory.mktemp("flat") / "flat.zarr", epochs=6, structure=0.0)


@pytest.fixture(scope="session")
def blockwise_stores(tmp_path_factory) -> dict:
    """A small blockwise experiment (:func:`blox_search.testing.synthetic_blockwise`): 60
    students, teachers M1 (best) and M5 (worst), FT2 and FT4 stores each, a latency table."""
    from blox_search.testing import synthetic_blockwise

    return synthetic_blockwise(tmp_path_factory.mktemp("blockwise"))


@pytest.fixture(scope="session")
def blockwise_evaluator(blockwise_stores):
    """A :class:`~blox_search.BlockwiseEvaluator` over :func:`blockwise_stores` (default teacher
    M1, latency device synthetic-cpu); call ``.fresh(seed)`` for a clean ledger."""
    from blox_search import BlockwiseEvaluator

    s = blockwise_stores
    return BlockwiseEvaluator(
        s["benchmark"], finetune=s["finetune"], blockwise=s["blockwise"], latency_device="synthetic-cpu"
    )
