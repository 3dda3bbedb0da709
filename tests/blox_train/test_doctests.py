"""Every docstring example of blox-train runs and prints what it shows (docs match the code)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import blox_train
import pytest

MODULES = sorted(m.name for m in pkgutil.walk_packages(blox_train.__path__, "blox_train."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(
        importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"


def test_the_public_functions_have_examples() -> None:
    finder = doctest.DocTestFinder()
    for name in ("complexity", "distill", "fit", "network", "recipes", "shard", "train"):
        module = importlib.import_module(f"blox_train.{name}")
        assert any(t.examples for t in finder.find(module)), f"blox_train.{name} has no examples"
