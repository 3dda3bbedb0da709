"""Every docstring example of blox-space runs and prints what it shows (docs match the code)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import blox_space
import pytest

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(blox_space.__path__, "blox_space.")
    if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
