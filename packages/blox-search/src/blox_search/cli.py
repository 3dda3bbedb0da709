"""The ``blox-search`` command (STYLE §5): ``run``, ``summary``, ``trajectories``, ``list``,
``pareto``. Thin: parse, call the package, format."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from blox_space.cli.runner import CommandLine

from . import __version__
from .algorithm import ALGORITHMS, list_algorithms

__all__ = ["build_cli", "main"]


def build_cli() -> CommandLine:
    cli = CommandLine("blox-search", description="Search the Blox space under one cost model.", version=__version__)
    p = cli.command("list", _cmd_list, help="the registered search algorithms and their parameters")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return cli


def _cmd_list(args: argparse.Namespace) -> int:
    rows = []
    for name in list_algorithms():
        cls = ALGORITHMS.get(name)
        algorithm = cls()
        rows.append({"algorithm": name, "requires": list(cls.requires), "params": algorithm.get_params()})
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        for row in rows:
            params = ", ".join(f"{k}={v}" for k, v in row["params"].items())
            extra = f"  (needs {', '.join(row['requires'])})" if row["requires"] else ""
            sys.stdout.write(f"{row['algorithm']:<20} {params}{extra}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return build_cli().main(argv)
