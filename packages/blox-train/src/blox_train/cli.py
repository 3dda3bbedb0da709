"""The ``blox-train`` command: ``benchmark`` (a shard of models), ``train`` (one model),
``recipes`` (list them). Thin: parse, call the public API, format. User mistakes exit 2 with
one line on stderr."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import numpy as np
from blox_space.cli.options import MODELS_HELP, bounded_int, non_empty, thread_count, worker_count
from blox_space.cli.runner import CommandLine

from . import __version__
from .recipes import get_recipe, list_recipes, parse_overrides
from .shard import run_shard
from .train import METRICS, train

PROG = "blox-train"


def _add_recipe_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--recipe", default="quick", help="registered recipe name (see `blox-train recipes`; default quick)"
    )
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a recipe setting, e.g. --set epochs=5 --set seeds=0,1 (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--data-root",
        type=non_empty,
        default=None,
        help="dataset folder (CIFAR: torchvision layout; default ./data)",
    )
    p.add_argument(
        "--download", action="store_true", help="let torchvision download a missing dataset (needs network)"
    )
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:N or mps (default cpu)")
    p.add_argument(
        "--workers", type=worker_count, default=0,
        help="data-loading workers; results do not depend on it (default 0)",
    )  # fmt: skip
    p.add_argument(
        "--threads", type=thread_count, default=None, help="torch CPU threads (default: torch's choice)"
    )
    bar = p.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress", dest="progress", action="store_true", default=None, help="always show progress bars"
    )
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="never show progress bars")


def build_cli() -> CommandLine:
    """The ``blox-train`` command line with every subcommand."""
    cli = CommandLine(PROG, description="Train Blox models and write benchmark shards.", version=__version__)
    bench = cli.command(
        "benchmark", _cmd_benchmark, help="train a bucket of models into one shard store",
        description="Train every model of a bucket under one recipe and write one benchmark "
        "shard store. Re-running skips finished models and resumes the interrupted one.",
    )  # fmt: skip
    bench.add_argument("--models", required=True, metavar="SPEC", help=MODELS_HELP)
    bench.add_argument(
        "--out", required=True, type=non_empty, metavar="SHARD.zarr", help="shard store to create or resume"
    )
    bench.add_argument(
        "--bucket",
        type=_bucket,
        default=None,
        metavar="I/N",
        help="record this shard as bucket I of N for the merge",
    )
    _add_recipe_args(bench)

    one = cli.command(
        "train", _cmd_train, help="train one model and print its per-epoch metrics",
        description="Train one model (any architecture form) and print its record.",
    )  # fmt: skip
    one.add_argument("arch", help="model index, block ids, arch vector, hash or readable name")
    one.add_argument(
        "--seed", type=bounded_int(0, 2**32 - 1, what="a seed"), default=None,
        help="model seed (default: the recipe's first seed)",
    )  # fmt: skip
    one.add_argument(
        "--checkpoint", type=non_empty, default=None, metavar="PATH",
        help="checkpoint file to save to and resume from",
    )  # fmt: skip
    one.add_argument("--json", action="store_true", help="print the record as JSON")
    _add_recipe_args(one)

    rec = cli.command(
        "recipes",
        _cmd_recipes,
        help="list the registered recipes",
        description="List recipes with their ids.",
    )
    rec.add_argument("pattern", nargs="?", default="*", help="shell-style name pattern (default *)")
    rec.add_argument("--json", action="store_true", help="print every setting as JSON")
    return cli


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``blox-train`` (for documentation tools and tests)."""
    return build_cli().parser


def _progress(args: argparse.Namespace) -> bool:
    return sys.stderr.isatty() if args.progress is None else bool(args.progress)


def _bucket(text: str) -> tuple[int, int]:
    """``--bucket I/N``: bucket I (0-based) of N."""
    index, sep, count = text.partition("/")
    parse = bounded_int(0, 10**6, what="a bucket number")
    if not sep:
        raise argparse.ArgumentTypeError(f"must look like I/N (e.g. 3/16), got {text[:40]!r}")
    i, n = parse(index), parse(count)
    if not i < n:
        raise argparse.ArgumentTypeError(f"bucket {i} of {n}: I must be in 0..N-1")
    return i, n


def _recipe(args: argparse.Namespace):
    return get_recipe(args.recipe, parse_overrides(args.overrides))


def _threads(args: argparse.Namespace) -> None:
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def _cmd_benchmark(args: argparse.Namespace) -> int:
    _threads(args)
    summary = run_shard(
        args.models,
        _recipe(args),
        args.out,
        bucket=args.bucket,
        data_root=args.data_root,
        download=args.download,
        device=args.device,
        num_workers=args.workers,
        progress=_progress(args),
    )
    print(
        f"{summary.path}: {summary.num_runs} runs, {summary.num_trained} trained ({summary.num_failed} failed), "
        f"{summary.num_skipped} already finished, {summary.seconds:.1f} s"
    )
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    _threads(args)
    result = train(
        args.arch,
        _recipe(args),
        seed=args.seed,
        data_root=args.data_root,
        download=args.download,
        device=args.device,
        num_workers=args.workers,
        checkpoint=args.checkpoint,
        progress=_progress(args),
    )
    if args.json:
        record = {
            "model": result.model,
            "seed": result.seed,
            "recipe_id": result.recipe_id,
            "status": result.status,
            "reason": result.reason,
            "best_epoch": result.best_epoch,
            "train_seconds": result.train_seconds,
            "params": result.params,
            "macs": result.macs,
            "test": result.test,
            "metrics": {k: [None if np.isnan(v) else float(v) for v in a] for k, a in result.metrics.items()},
            "env": result.env,
        }
        print(json.dumps(record, indent=2))
        return 0
    print(
        f"model {result.model} seed {result.seed} recipe {result.recipe_id}: {result.status} {result.reason}".rstrip()
    )
    print(f"{'epoch':>5} " + " ".join(f"{m:>13}" for m in METRICS))
    for e in range(len(result.metrics[METRICS[0]])):
        print(f"{e + 1:>5} " + " ".join(f"{result.metrics[m][e]:>13.4f}" for m in METRICS))
    print(
        f"test (best epoch {result.best_epoch}): " + ", ".join(f"{k} {v:.4f}" for k, v in result.test.items())
    )
    print(f"params {result.params}, MACs {result.macs}, train seconds {result.train_seconds:.1f}")
    return 0


def _cmd_recipes(args: argparse.Namespace) -> int:
    names = list_recipes(args.pattern)
    recipes = [get_recipe(n) for n in names]
    if args.json:
        print(json.dumps([{**r.to_dict(), "id": r.id} for r in recipes], indent=2))
        return 0
    print(
        f"{'name':<8} {'id':<32} {'dataset':<10} {'epochs':>6} {'width':>5} {'res':>4} {'batch':>5} {'lr':>6}"
    )
    for r in recipes:
        print(
            f"{r.name:<8} {r.id:<32} {r.dataset:<10} {r.epochs:>6} {r.width:>5} {r.resolution:>4} {r.batch_size:>5} {r.lr:>6g}"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: exit 0 on success, 2 with one stderr line on a user mistake."""
    return build_cli().main(argv)


if __name__ == "__main__":
    sys.exit(main())
