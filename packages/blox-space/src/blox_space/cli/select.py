"""The ``select`` subcommand of ``blox-space``: teachers by rank and students among the trained
models of a benchmark store, as one JSON object (what ``blox-train teacher`` / ``finetune
--models-from`` and the workflow read).

Output: ``{"teachers": {name: model index}, "selectors": {name: selector}, "models": [...]}``
where ``models`` is the student selection plus the teachers, sorted and unique.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..bench.benchmark import open_benchmark
from ..bench.select import PAPER_TEACHERS, SELECTOR_HELP, select_model, select_models
from ..errors import UsageError
from ..store.group import check_output_path
from .options import non_empty, write_text_atomic
from .runner import CommandLine

__all__ = ["add_select_command", "selection_record"]

#: Students when ``--models`` is not given: the paper's 1,000 random students (SPEC §5c).
DEFAULT_STUDENTS = "sample:1000:0"


def _names(selectors: list[str], names: str | None) -> list[str]:
    """Names of the selectors: ``--names`` when given, else a paper name (M1..M5) as itself and
    M<position> for the rest."""
    if names is None:
        chosen = [s.strip() if s.strip() in PAPER_TEACHERS else f"M{i}" for i, s in enumerate(selectors, 1)]
    else:
        chosen = [n.strip() for n in names.split(",")]
        if len(chosen) != len(selectors) or not all(chosen):
            raise UsageError(
                f"--names gives {len(chosen)} name(s) {chosen[:5]} for {len(selectors)} selector(s); "
                "give one non-empty name per selector, comma-separated"
            )
    if len(set(chosen)) != len(chosen):
        raise UsageError(f"teacher names must be unique, got {chosen}; pass --names N1,N2,...")
    return chosen


def selection_record(
    store: str | Path,
    selectors: list[str] | None = None,
    *,
    names: str | None = None,
    models: str | None = None,
) -> dict[str, Any]:
    """What ``blox-space select`` prints: the teachers picked by ``selectors`` (default: the
    paper's M1..M5), their selectors, and the students of ``models`` (default
    :data:`DEFAULT_STUDENTS`) plus the teachers.

    Raises:
        QueryError / ModelSpecError: a selector or model spec the benchmark cannot answer.
        UsageError: names that do not match the selectors.
    """
    bench = open_benchmark(store, latency=[])
    selectors = list(selectors) if selectors else list(PAPER_TEACHERS.values())
    labels = _names(selectors, names)
    teachers = {name: select_model(bench, sel) for name, sel in zip(labels, selectors)}
    students = select_models(bench, models or DEFAULT_STUDENTS)
    chosen = sorted({int(m) for m in students} | set(teachers.values()))
    return {"teachers": teachers, "selectors": dict(zip(labels, selectors)), "models": chosen}


def _cmd_select(args: argparse.Namespace) -> int:
    if args.out is not None:
        check_output_path(args.out, overwrite=args.overwrite)  # before any work
    record = selection_record(args.store, args.selectors, names=args.names, models=args.models)
    text = json.dumps(record) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return 0
    write_text_atomic(args.out, text, overwrite=args.overwrite)
    sys.stdout.write(f"{args.out}\n")
    return 0


def add_select_command(cli: CommandLine) -> None:
    """Register ``select``."""
    p = cli.command(
        "select",
        _cmd_select,
        help="pick teachers by rank and students among a benchmark's trained models",
        description=(
            "Resolve teacher selectors against a benchmark store (ranked by best validation top-1, the mean "
            "over done seeds; ties to the lower model index) and a student model spec among its trained "
            'models. Prints {"teachers": {name: index}, "selectors": {name: selector}, "models": [...]} '
            "(models = the students plus the teachers, sorted), or writes it to --out."
        ),
    )
    p.add_argument("store", metavar="STORE", help="benchmark (or finetune) store")
    p.add_argument(
        "selectors", metavar="SELECTOR", nargs="*",
        help=f"teacher selector (default: the paper's M1..M5 = {' '.join(PAPER_TEACHERS.values())}): {SELECTOR_HELP}",
    )  # fmt: skip
    p.add_argument(
        "--names", type=non_empty, default=None,
        help="teacher names, comma-separated, one per selector (default: M1..M5 for the paper's, else M<position>)",
    )  # fmt: skip
    p.add_argument(
        "--models", type=non_empty, default=None,
        help=f"students among the trained models (default {DEFAULT_STUDENTS}): sample:N:SEED, all, "
        "or a model spec (START:STOP, a comma list) intersected with the trained models",
    )  # fmt: skip
    p.add_argument("--out", type=non_empty, default=None, help="JSON file to write (default: print it)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
