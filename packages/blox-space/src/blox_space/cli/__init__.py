"""The ``blox-space`` command (enumerate, show, convert, merge, query, info, import-legacy,
export-csv, select) and the shared runner and options every Blox console script is built on
(:mod:`blox_space.cli.runner`, :mod:`blox_space.cli.options`)."""

from __future__ import annotations

from collections.abc import Sequence

from .runner import CommandLine
from .select import add_select_command
from .space import add_space_commands
from .store import add_store_commands

__all__ = ["PROG", "build_cli", "build_parser", "main"]

PROG = "blox-space"


def build_cli() -> CommandLine:
    """The ``blox-space`` command line with every subcommand."""
    from .. import __version__

    cli = CommandLine(
        PROG,
        description="The Blox search space: 45 blocks x 3 stages = 91,125 models. Encodings, costs and stores.",
        version=__version__,
    )
    add_space_commands(cli)
    add_store_commands(cli)
    add_select_command(cli)
    return cli


def build_parser():  # noqa: ANN201 - argparse.ArgumentParser
    """The argparse parser of ``blox-space`` (for documentation tools and tests)."""
    return build_cli().parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: exit 0 on success, 2 with one stderr line on a user mistake."""
    return build_cli().main(argv)
