"""Command-line options shared by the Blox console scripts: their argparse types check each
value where it is parsed, so a bad value is one ``PROG: error: ...`` line naming the option and
what is allowed, before any work starts.

Example:
    >>> from blox_space.cli.runner import ArgumentParser
    >>> parser = ArgumentParser(prog="demo")
    >>> add_geometry_options(parser)
    >>> geometry_of(parser.parse_args(["--width", "8"]))
    Geometry(width=8, resolution=32, num_classes=100)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BloxError, ConfigError
from ..geometry import MAX_NUM_CLASSES, MAX_RESOLUTION, MAX_WIDTH, MIN_RESOLUTION, MIN_WIDTH, Geometry
from ..machine import available_cpus
from ..selection import MODELS_HELP, parse_models

__all__ = [
    "key_value",
    "write_text_atomic",
    "available_cpus",
    "bounded_int",
    "bucket_of",
    "thread_count",
    "worker_count",
    "model_spec",
    "non_empty",
    "add_geometry_options",
    "geometry_of",
    "MODELS_HELP",
]

_MAX_DIGITS = 30
_DIGITS = re.compile(r"[0-9]+")


def bounded_int(low: int, high: int | None = None, *, what: str = "an integer") -> Callable[[str], int]:
    """An argparse type: an integer in ``low..high`` (``high=None``: no upper bound)."""
    allowed = f"{low}..{high}" if high is not None else f">= {low}"

    def parse(text: str) -> int:
        stripped = text.strip()
        digits = stripped[1:] if stripped[:1] in "+-" else stripped
        if len(digits) > _MAX_DIGITS or not _DIGITS.fullmatch(digits):
            raise argparse.ArgumentTypeError(f"{_shown(text)} is not {what} ({allowed})")
        value = int(stripped)
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range; {what} must be in {allowed}")
        return value

    parse.__name__ = what
    return parse


def bucket_of(text: str) -> tuple[int, int]:
    """An argparse type for ``--bucket-of I/N`` / ``--bucket I/N``: slice ``I`` (0-based) of ``N``."""
    index, sep, count = text.partition("/")
    parse = bounded_int(0, 10**6, what="a bucket number")
    if not sep:
        raise argparse.ArgumentTypeError(f"must look like I/N (e.g. 3/16), got {text[:40]!r}")
    i, n = parse(index), parse(count)
    if not i < n:
        raise argparse.ArgumentTypeError(f"bucket {i} of {n}: I must be in 0..N-1")
    return i, n


def thread_count(text: str) -> int:
    """An argparse type: a thread count in ``1..available_cpus()`` (more threads than CPUs only
    slow a run down, and torch can crash on absurd counts)."""
    cpus = available_cpus()
    return bounded_int(1, cpus, what=f"a thread count (this machine has {cpus} CPUs for this process)")(text)


def worker_count(text: str) -> int:
    """An argparse type: a number of worker processes in ``0..4 * available_cpus()``."""
    cpus = available_cpus()
    return bounded_int(0, 4 * cpus, what=f"a worker count ({cpus} CPUs here)")(text)


def model_spec(text: str) -> np.ndarray:
    """An argparse type: a model selection (see :func:`blox_space.parse_models`), keeping the
    parser's own message (what is wrong and what is allowed)."""
    try:
        return parse_models(text)
    except BloxError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def non_empty(text: str) -> str:
    """An argparse type: a non-blank string (a path, a name)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def write_text_atomic(path: str | Path, text: str, *, overwrite: bool = True) -> Path:
    """Write a CLI's text output (``--out``) atomically: a temporary file beside the target, then
    a rename, so a killed command leaves no half-written file (STYLE §5).

    Raises:
        StoreError: the path exists and ``overwrite`` is False, or it cannot be used.
        ConfigError: the path is a folder.
    """
    from ..store.group import check_output_path

    target = check_output_path(path, overwrite=overwrite)
    if target.is_dir():
        raise ConfigError(f"cannot write {path}: it is a folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def key_value(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` (``--set``, ``--param``, ``--train-set``): the value read as JSON when it
    parses as JSON (numbers, true/false, null, lists, objects), else kept as the string (a path,
    a name).

    Raises:
        argparse.ArgumentTypeError: no ``=``, a key that is not a name, or a non-finite number.

    Example:
        >>> key_value("population_size=50"), key_value("mode=restart")
        (('population_size', 50), ('mode', 'restart'))
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(
            f"must look like KEY=VALUE with a parameter name, e.g. epochs=50, got {_shown(text)}"
        )
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        value = raw
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{key}: {raw[:40]!r} is not a finite number")
    return key, value


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:40] + "...")


def add_geometry_options(
    parser: argparse.ArgumentParser, *, default: Geometry | None = None, group_title: str | None = None
) -> None:
    """``--width``, ``--resolution``, ``--num-classes`` (read back with :func:`geometry_of`)."""
    default = default or Geometry()
    target = parser.add_argument_group(group_title) if group_title else parser
    target.add_argument(
        "--width", type=bounded_int(MIN_WIDTH, MAX_WIDTH, what="a width"), default=default.width,
        help=f"stem channels C, stage s has C*2**s ({MIN_WIDTH}..{MAX_WIDTH}; default {default.width})",
    )  # fmt: skip
    target.add_argument(
        "--resolution", type=bounded_int(MIN_RESOLUTION, MAX_RESOLUTION, what="a resolution"),
        default=default.resolution,
        help=f"input side in pixels ({MIN_RESOLUTION}..{MAX_RESOLUTION}; default {default.resolution})",
    )  # fmt: skip
    target.add_argument(
        "--num-classes", type=bounded_int(1, MAX_NUM_CLASSES, what="a class count"), default=default.num_classes,
        help=f"classifier outputs (default {default.num_classes})",
    )  # fmt: skip


def geometry_of(args: argparse.Namespace) -> Geometry:
    """The :class:`Geometry` of the options :func:`add_geometry_options` added."""
    return Geometry(width=args.width, resolution=args.resolution, num_classes=args.num_classes)
