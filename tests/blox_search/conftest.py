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
