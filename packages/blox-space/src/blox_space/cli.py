"""The ``blox-space`` command: thin parsing and formatting around the public API."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from .arch import parse_arch, to_arch_vec, to_hash, to_index, to_name
from .cli_store import add_store_commands
from .describe import describe
from .errors import BloxError

PROG = "blox-space"
logger = logging.getLogger(__name__)


class _UsageError(BloxError):
    """A command-line usage mistake (unknown flag, missing argument)."""


class BloxArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage mistake becomes one ``PROG: error: ...`` line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see '{self.prog} --help')")


def add_geometry_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--width", type=int, default=32, help="stem channels C (stage s has C*2**s; default 32)"
    )
    parser.add_argument("--resolution", type=int, default=32, help="input side in pixels (default 32)")
    parser.add_argument("--num-classes", type=int, default=100, help="classifier outputs (default 100)")


def _geometry(args: argparse.Namespace) -> dict[str, int]:
    return {"width": args.width, "resolution": args.resolution, "num_classes": args.num_classes}


# ---------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------
def _cmd_enumerate(args: argparse.Namespace) -> int:
    from .space import build_space_store

    start = time.perf_counter()
    out = build_space_store(args.out, workers=args.workers, overwrite=args.overwrite, **_geometry(args))
    logger.info("wrote %s in %.1f s", out, time.perf_counter() - start)
    sys.stdout.write(f"{out}\n")
    return 0


def _format_show(info: dict[str, Any]) -> str:
    rows = [
        ("index", info["index"]),
        ("hash", info["hash"]),
        ("name", info["name"]),
        ("blocks", " ".join(str(b) for b in info["blocks"])),
        ("arch_vec", json.dumps(info["arch_vec"])),
        ("schemes", " | ".join(info["schemes"])),
        ("params", f"{info['params']:,}"),
        ("macs", f"{info['macs']:,}"),
        ("depth", info["depth"]),
        ("is_uniform", info["is_uniform"]),
        (
            "geometry",
            f"width {info['width']}, resolution {info['resolution']}, {info['num_classes']} classes",
        ),
    ]
    return "\n".join(f"{key:<10}  {value}" for key, value in rows) + "\n"


def _cmd_show(args: argparse.Namespace) -> int:
    info = describe(parse_arch(args.arch), **_geometry(args))
    sys.stdout.write(json.dumps(info) + "\n" if args.json else _format_show(info))
    return 0


def _convert_one(text: str, target: str) -> Any:
    blocks = parse_arch(text)
    if target == "blocks":
        return " ".join(str(b) for b in blocks)
    if target == "arch-vec":
        return json.dumps(to_arch_vec(blocks))
    if target == "index":
        return to_index(blocks)
    if target == "hash":
        return to_hash(blocks)
    return to_name(blocks)


def _cmd_convert(args: argparse.Namespace) -> int:
    texts = list(args.arch)
    if texts == ["-"]:
        texts = [line.strip() for line in sys.stdin if line.strip()]
    for text in texts:
        sys.stdout.write(f"{_convert_one(text, args.to)}\n")
    return 0


# ---------------------------------------------------------------------------------------
# parser
# ---------------------------------------------------------------------------------------
ARCH_HELP = (
    "architecture: model index (0..91124), 32-hex hash, readable name "
    "('conv>mbconv+res | bconv | mbconv||conv'), or JSON arch vector / block-id triple"
)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = BloxArgumentParser(
        prog=PROG,
        description="The Blox search space: 45 blocks x 3 stages = 91,125 models. Encodings, costs and stores.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging on stderr")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=BloxArgumentParser)

    p = sub.add_parser(
        "enumerate",
        help="write the space store (every block and model)",
        description=(
            "Enumerate all 91,125 models with block ids, index, hash, name, params, MACs, depth and "
            "uniform flag into a Zarr v3 space store."
        ),
    )
    p.add_argument("--out", required=True, help="store path to write, e.g. results/space.zarr")
    add_geometry_options(p)
    p.add_argument("--workers", type=int, default=None, help="processes for hashing (default: all CPUs)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store")
    p.set_defaults(func=_cmd_enumerate)

    p = sub.add_parser("show", help="describe one architecture", description="Describe one architecture.")
    p.add_argument("arch", metavar="ARCH", help=ARCH_HELP)
    p.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    add_geometry_options(p)
    p.set_defaults(func=_cmd_show)

    p = sub.add_parser(
        "convert",
        help="convert architectures between forms",
        description=(
            "Convert architectures to one form, one result per line. ARCH '-' reads one per line from stdin."
        ),
    )
    p.add_argument("arch", metavar="ARCH", nargs="+", help=ARCH_HELP)
    p.add_argument(
        "--to", required=True, choices=["index", "hash", "blocks", "arch-vec", "name"], help="target form"
    )
    p.set_defaults(func=_cmd_convert)

    add_store_commands(sub)  # merge, query, info, import-legacy, export-csv
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.ERROR if args.quiet else (logging.DEBUG if args.verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format=f"{PROG}: %(message)s", stream=sys.stderr)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    return int(args.func(args))


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except BloxError as err:
        sys.stderr.write(f"{PROG}: error: {err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
