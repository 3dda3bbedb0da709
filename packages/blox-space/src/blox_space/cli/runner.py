"""The command-line runner every Blox console script uses (``blox-space``, ``blox-train``,
``blox-hw`` and the coming ones), so that all of them behave alike (STYLE §5):

* ``-v`` / ``-q`` mean the same everywhere, before or after the command: INFO messages by
  default, ``-v`` adds debug messages (with times and logger names), ``-q`` keeps warnings and
  errors, ``-qq`` errors only. Logging is set up once, here.
* a user mistake (any :class:`~blox_space.errors.BloxError`, a usage error, an output that
  cannot be written) exits 2 with exactly one ``PROG: error: ...`` line on stderr;
* Ctrl-C exits 130 with one ``PROG: interrupted`` line; a closed stdout pipe exits quietly;
* anything else is a bug: a traceback and exit 1.

Example:
    >>> cli = CommandLine("demo", description="A demo.", version="1.0")
    >>> def hello(args):
    ...     print(f"hello {args.name}")
    ...     return 0
    >>> cli.command("hello", hello, help="say hello").add_argument("name")
    _StoreAction(...)
    >>> cli.main(["hello", "world"])
    hello world
    0
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ..errors import BloxError, UsageError

__all__ = ["ArgumentParser", "CommandLine", "configure_logging", "error_line", "run_cli"]

#: Loggers of the Blox packages: what -v / -q control (other libraries stay at WARNING).
BLOX_LOGGERS = ("blox", "blox_space", "blox_train", "blox_hw", "blox_predict", "blox_search")
#: OSError numbers that mean "this path cannot be used" (a user's or the machine's problem,
#: reported in one line), not a bug.
PATH_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "ENOTDIR", "EISDIR", "EEXIST", "ENOENT",
        "ENAMETOOLONG", "ELOOP", "EXDEV", "EBUSY", "ENOTEMPTY", "EINVAL", "EFBIG", "EMFILE",
    )
    if hasattr(errno, name)
)  # fmt: skip
_MAX_LINE = 1000


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage mistake raises :class:`UsageError` (one line, exit 2) instead of
    printing the usage block."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _logging_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("output")
    group.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS,
        help="more messages on stderr: debug output with times and logger names",
    )  # fmt: skip
    group.add_argument(
        "-q", "--quiet", action="count", default=argparse.SUPPRESS,
        help="fewer messages on stderr: -q warnings and errors only, -qq errors only",
    )  # fmt: skip
    return parent


class _Formatter(logging.Formatter):
    def __init__(self, prog: str, debug: bool) -> None:
        super().__init__(datefmt="%H:%M:%S")
        self.prog, self.debug = prog, debug

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and self.debug:
            message += "\n" + self.formatException(record.exc_info)
        if self.debug:
            return f"{self.prog}: {self.formatTime(record, self.datefmt)} {record.name} {record.levelname.lower()}: {message}"
        if record.levelno >= logging.WARNING:
            return f"{self.prog}: {record.levelname.lower()}: {message}"
        return f"{self.prog}: {message}"


def configure_logging(prog: str, *, verbose: int = 0, quiet: int = 0) -> int:
    """Send log records to stderr as ``PROG: message`` at the level ``-v`` / ``-q`` ask for.

    Replaces the handler a previous call installed (a process may run several commands).

    Returns:
        The level set on the Blox loggers.
    """
    if verbose:
        level = logging.DEBUG
    else:
        level = {0: logging.INFO, 1: logging.WARNING}.get(int(quiet), logging.ERROR)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_blox", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._blox = True  # type: ignore[attr-defined]
    handler.setFormatter(_Formatter(prog, debug=bool(verbose)))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose > 1 else max(level, logging.WARNING))
    for name in BLOX_LOGGERS:
        logging.getLogger(name).setLevel(level)
    return level


def error_line(prog: str, err: BaseException) -> str:
    """The one stderr line a user mistake gets: ``PROG: error: message`` (newlines folded)."""
    if isinstance(err, OSError) and not isinstance(err, BloxError):
        where = f" {err.filename}" if err.filename else ""
        text = f"cannot use{where}: {err.strerror or err}"
    else:
        text = str(err)
    text = "; ".join(line.strip() for line in text.splitlines() if line.strip()) or type(err).__name__
    if len(text) > _MAX_LINE:
        text = text[: _MAX_LINE - 3] + "..."
    return f"{prog}: error: {text}\n"


def run_cli(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None = None, *, prog: str | None = None
) -> int:
    """Parse ``argv``, set up logging, run the chosen command and map errors to exit codes.

    Commands are functions ``func(args) -> int`` set with ``set_defaults(func=...)`` (what
    :meth:`CommandLine.command` does).

    Returns:
        The exit status: the command's (0 on success), 2 for a user mistake, 130 for Ctrl-C.

    Raises:
        SystemExit: ``--help`` and ``--version`` (status 0), as argparse does.
    """
    prog = prog or parser.prog
    try:
        args = parser.parse_args(argv)  # --help and --version exit 0 through SystemExit
        configure_logging(
            prog, verbose=getattr(args, "verbose", 0) or 0, quiet=getattr(args, "quiet", 0) or 0
        )
        func: Callable[[argparse.Namespace], Any] | None = getattr(args, "func", None)
        if func is None:
            names = _command_names(parser)
            raise UsageError(f"a command is needed: {', '.join(names)} (see '{prog} --help')")
        return int(func(args) or 0)
    except BloxError as err:
        sys.stderr.write(error_line(prog, err))
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"\n{prog}: interrupted\n")
        return 130
    except BrokenPipeError:  # e.g. `blox-space convert - | head`: the reader is gone
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:  # pragma: no cover
            pass
        return 141
    except OSError as err:
        if err.errno not in PATH_ERRNOS:
            raise
        sys.stderr.write(error_line(prog, err))
        return 2


def _command_names(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._actions:  # argparse keeps its subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


class CommandLine:
    """A console script: a top-level parser with ``--version``, ``-v`` / ``-q``, and verb
    subcommands added with :meth:`command`; :meth:`main` runs it with :func:`run_cli`.

    Args:
        prog: the script's name (``blox-space``).
        description: one paragraph for ``--help``.
        version: the package version shown by ``--version``.
    """

    def __init__(self, prog: str, *, description: str, version: str) -> None:
        self.prog = prog
        self.parser = ArgumentParser(prog=prog, description=description, parents=[_logging_parent()])
        self.parser.add_argument("--version", action="version", version=f"{prog} {version}")
        self._commands = self.parser.add_subparsers(dest="command", parser_class=ArgumentParser)

    def command(
        self,
        name: str,
        func: Callable[[argparse.Namespace], Any],
        *,
        help: str,
        description: str | None = None,
    ) -> ArgumentParser:
        """Add the subcommand ``name`` running ``func(args)``; returns its parser for options."""
        parser = self._commands.add_parser(
            name, help=help, description=description or help, parents=[_logging_parent()]
        )
        parser.set_defaults(func=func)
        return parser

    def main(self, argv: Sequence[str] | None = None) -> int:
        """Run the command line (see :func:`run_cli`)."""
        return run_cli(self.parser, argv, prog=self.prog)
