from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def space_store(tmp_path_factory):
    """The full space store, built once per test session through the CLI entry point."""
    from blox_space.cli import main

    out = tmp_path_factory.mktemp("space") / "space.zarr"
    assert main(["-q", "enumerate", "--out", str(out)]) == 0
    return out
