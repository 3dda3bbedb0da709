"""blox-space's public surface: what other packages may import, and what they may not."""

from __future__ import annotations

import re
from pathlib import Path

import blox_space as bs
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {p.name: p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists()}
PRIVATE_IMPORT = re.compile(r"^\s*(?:from|import)\s+(blox_\w+)((?:\.\w+)*)", re.M)


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "egg-info" not in p.parts)


def _private_imports(path: Path, own: str | None) -> list[str]:
    found = []
    for match in PRIVATE_IMPORT.finditer(path.read_text()):
        package, dotted = match.group(1), match.group(2)
        if package != own and any(part.startswith("_") for part in dotted.split(".") if part):
            found.append(f"{path.relative_to(ROOT)}: {match.group(0).strip()}")
    return found


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_no_package_imports_another_packages_private_module(name):
    own = name.replace("-", "_")
    found = [hit for path in _python_files(PACKAGES[name] / "src") for hit in _private_imports(path, own)]
    assert not found, "private modules of another package imported:\n" + "\n".join(found)


def test_workflow_and_other_packages_tests_use_public_modules_only():
    found = [hit for path in _python_files(ROOT / "workflow") for hit in _private_imports(path, None)]
    smk = [p for p in (ROOT / "workflow").rglob("*.smk")] + [ROOT / "workflow" / "Snakefile"]
    found += [hit for path in smk for hit in _private_imports(path, None)]
    for tests in (ROOT / "tests").iterdir():
        if tests.is_dir() and tests.name != "blox_space":
            own = tests.name if tests.name.startswith("blox_") else None
            found += [
                hit
                for path in _python_files(tests)
                for hit in _private_imports(path, own)
                if "blox_space" in hit
            ]
    assert not found, "private blox-space modules imported:\n" + "\n".join(found)


def test_every_public_name_is_importable_and_typed_aliases_are_exported():
    for name in bs.__all__:
        assert hasattr(bs, name), name
    assert bs.ArchLike is not None and "ArchLike" in bs.__all__
    for name in ("Registry", "Geometry", "QueryError", "ConfigError", "merge_stores", "open_store", "Status"):
        assert name in bs.__all__, name


def test_every_error_class_lives_in_errors_and_is_exported():
    import inspect

    import blox_space.errors as errors

    for module_name in ("arch", "cost", "selection", "geometry", "registry", "bench.benchmark", "store.spec"):
        module = __import__(f"blox_space.{module_name}", fromlist=["_"])
        for attr, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, Exception):
                assert value.__module__ == "blox_space.errors", (
                    f"{module_name}.{attr} is defined outside errors.py"
                )
    for attr, value in vars(errors).items():
        if inspect.isclass(value) and issubclass(value, errors.BloxError):
            assert attr in bs.__all__ and getattr(bs, attr) is value, attr
