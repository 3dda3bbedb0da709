"""Shared fixtures for blox-train tests: few threads (the machine is shared) and small data."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _few_threads():
    torch.set_num_threads(1)
    yield
