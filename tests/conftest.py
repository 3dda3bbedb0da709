"""Fixtures shared by every package's tests: fresh virtual environments holding one package and
the Blox packages it depends on, to check that each package installs and works on its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Blox packages each package needs (the order they install in).
BLOX_DEPENDENCIES = {
    "blox-space": (),
    "blox-train": ("blox-space",),
    "blox-hw": ("blox-space", "blox-train"),
    "blox-predict": ("blox-space",),
    "blox-search": ("blox-space",),
}
TORCH_PACKAGES = {"blox-train", "blox-hw", "blox-predict"}


@dataclass
class PackageEnv:
    """A virtual environment with exactly the Blox packages :meth:`install` was given."""

    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env

    def run(
        self, args: Sequence[str], *, timeout: float = 900, check: bool = False
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [str(a) for a in args],
            cwd=ROOT,
            env=self.environ,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(map(str, args))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc

    def pip(self, *args: str) -> subprocess.CompletedProcess:
        return self.run(
            [self.python, "-m", "pip", "-q", "--disable-pip-version-check", *args], timeout=1200, check=True
        )

    def distributions(self) -> set[str]:
        listed = self.run([self.python, "-m", "pip", "list", "--format=freeze"], check=True).stdout
        return {line.split("==")[0].lower() for line in listed.splitlines() if line.strip()}

    def pytest(self, folder: str, *extra: str) -> subprocess.CompletedProcess:
        return self.run(
            [
                self.python,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--rootdir",
                ROOT,
                f"tests/{folder}",
                *extra,
            ]
        )


def _copy(package: str, dest: Path) -> Path:
    # build from a copy so setuptools' build/ and egg-info never land in the source tree
    target = dest / package
    if not target.exists():
        shutil.copytree(
            ROOT / "packages" / package,
            target,
            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
        )
    return target


@pytest.fixture(scope="session")
def package_env(tmp_path_factory) -> Callable[[str], PackageEnv]:
    """``package_env(name)``: a fresh environment with ``name`` and its Blox dependencies only.

    Environments are made once per session: one without torch (blox-space, blox-search) and one
    with torch (the others, torch from this machine's disk), whose Blox packages are swapped for
    each request, so the expensive torch install happens once.
    """
    root = tmp_path_factory.mktemp("package-envs")
    envs: dict[bool, PackageEnv] = {}

    def make(name: str) -> PackageEnv:
        wants_torch = name in TORCH_PACKAGES
        env = envs.get(wants_torch)
        if env is None:
            env = envs[wants_torch] = PackageEnv(root / ("torch" if wants_torch else "plain"))
            venv.create(env.root, with_pip=True)
        blox = [*BLOX_DEPENDENCIES[name], name]
        installed = sorted(d for d in env.distributions() if d.startswith("blox-") and d not in blox)
        if installed:
            env.pip("uninstall", "-y", *installed)
        sources = [str(_copy(p, root / "src")) for p in blox]
        env.pip("install", "--force-reinstall", "--no-deps", *sources)
        env.pip("install", *(f"{s}[test]" for s in sources))  # their other dependencies and test tools
        return env

    return make
