"""``blox-space`` commands about the space itself: enumerate, show, convert."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any

from ..arch import parse_arch, to_arch_vec, to_hash, to_index, to_name
from ..describe import describe
from .options import add_geometry_options, geometry_of, non_empty, worker_count
from .runner import CommandLine

__all__ = ["add_space_commands", "ARCH_HELP"]

logger = logging.getLogger(__name__)

ARCH_HELP = (
    "architecture: model index (0..91124), 32-hex hash, readable name "
    "('conv>mbconv+res | bconv | mbconv||conv'), or JSON arch vector / block-id triple"
)


def _cmd_enumerate(args: argparse.Namespace) -> int:
    from ..space import build_space_store
    from ..store.group import check_output_path

    check_output_path(args.out, overwrite=args.overwrite)
    start = time.perf_counter()
    geometry = geometry_of(args)
    out = build_space_store(args.out, workers=args.workers, overwrite=args.overwrite, **geometry.to_dict())
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
    info = describe(parse_arch(args.arch), **geometry_of(args).to_dict())
    sys.stdout.write(json.dumps(info) + "\n" if args.json else _format_show(info))
    return 0


_CONVERT = {
    "blocks": lambda b: " ".join(str(x) for x in b),
    "arch-vec": lambda b: json.dumps(to_arch_vec(b)),
    "index": to_index,
    "hash": to_hash,
    "name": to_name,
}


def _cmd_convert(args: argparse.Namespace) -> int:
    texts = list(args.arch)
    if texts == ["-"]:
        texts = [line.strip() for line in sys.stdin if line.strip()]
    convert = _CONVERT[args.to]
    for text in texts:
        sys.stdout.write(f"{convert(parse_arch(text))}\n")
    return 0


def add_space_commands(cli: CommandLine) -> None:
    """Register ``enumerate``, ``show`` and ``convert``."""
    p = cli.command(
        "enumerate", _cmd_enumerate, help="write the space store (every block and model)",
        description="Enumerate all 91,125 models with block ids, index, hash, name, params, MACs, depth and "
        "uniform flag into a Zarr v3 space store.",
    )  # fmt: skip
    p.add_argument(
        "--out", required=True, type=non_empty, help="store path to write, e.g. results/space.zarr"
    )
    add_geometry_options(p)
    p.add_argument(
        "--workers", type=worker_count, default=None, help="processes for hashing (default: all CPUs)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing store")

    p = cli.command(
        "show", _cmd_show, help="describe one architecture", description="Describe one architecture."
    )
    p.add_argument("arch", metavar="ARCH", help=ARCH_HELP)
    p.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    add_geometry_options(p)

    p = cli.command(
        "convert", _cmd_convert, help="convert architectures between forms",
        description="Convert architectures to one form, one result per line. ARCH '-' reads one per line from stdin.",
    )  # fmt: skip
    p.add_argument("arch", metavar="ARCH", nargs="+", help=ARCH_HELP)
    p.add_argument("--to", required=True, choices=list(_CONVERT), help="target form")
