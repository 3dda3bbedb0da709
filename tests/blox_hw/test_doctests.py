"""Every docstring example of blox-hw and blox-train runs and prints what it shows."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import blox_hw
import blox_train
import pytest

MODULES = sorted(
    m.name
    for package in (blox_hw, blox_train)
    for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
