"""Store subcommands of ``blox-space``: merge, query, info, import-legacy, export-csv.

Thin: each parses its arguments, calls a public function and formats the result (a table,
or ``--json``) on stdout. :func:`add_store_commands` registers them on the main parser.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from typing import Any

from ..bench.benchmark import METRICS, open_benchmark
from ..blocks import NUM_MODELS
from .options import MODELS_HELP, bounded_int, model_spec, non_empty
from .runner import CommandLine
from .space import ARCH_HELP

__all__ = ["add_store_commands"]

logger = logging.getLogger(__name__)

_DEFAULT_METRICS = ("val_acc", "test_acc", "train_seconds")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _cmd_merge(args: argparse.Namespace) -> int:
    from ..store.merge import merge_stores

    start = time.perf_counter()
    out = merge_stores(  # the kind is the first shard's: benchmark, finetune, blockwise ...
        args.shards,
        args.out,
        allow_partial=args.allow_partial,
        expected_models=args.expect,
        overwrite=args.overwrite,
    )
    logger.info("merged %d shards in %.1f s", len(args.shards), time.perf_counter() - start)
    sys.stdout.write(f"{out}\n")
    return 0


def _cmd_query(args: argparse.Namespace) -> int:
    from ..arch import parse_arch, to_index

    bench = open_benchmark(args.store, space=args.space, latency=args.latency)
    index = to_index(parse_arch(args.arch))
    seed: int | str | None = args.seed
    result: dict[str, Any] = {"model": index}
    if args.full:
        result.update(bench.full_info(index, seed=None if isinstance(seed, str) else seed))
    else:
        for metric in args.metric or _DEFAULT_METRICS:
            if METRICS[metric].per_epoch:
                result[metric] = bench.query(index, metric, epoch=args.epoch, best=args.best, seed=seed)
            elif metric == "train_seconds" and args.epoch is not None:
                result[metric] = bench.train_time(index, args.epoch, seed=seed)
            else:
                result[metric] = bench.query(index, metric, seed=seed)
        if bench.devices:
            result["latency_s"] = bench.latency(index)
    if args.json:
        sys.stdout.write(json.dumps(_jsonable(result)) + "\n")
    else:
        for key, value in result.items():
            text = json.dumps(_jsonable(value)) if isinstance(value, (dict, list)) else value
            sys.stdout.write(f"{key:<14}  {text}\n")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from ..store.group import open_store

    kind = open_store(args.store).attrs["store_kind"]
    if kind == "blockwise":
        return _info_blockwise(args)
    if kind not in ("benchmark", "finetune", "surrogate"):
        return _info_generic(args)
    bench = open_benchmark(args.store, latency=args.latency)
    info = bench.summary()
    if args.verify:
        from ..store.group import open_store, verify_store

        info["verified_arrays"] = verify_store(open_store(args.store))
    runs = ", ".join(
        f"seed {s}: {r['done']} done, {r['failed']} failed, {r['pending']} pending"
        for s, r in info["runs"].items()
    )
    rows = [
        ("store", info["path"]),
        ("recipe_id", info["recipe_id"]),
        ("recipe", json.dumps(info["recipe"], sort_keys=True)),
        ("dataset", info["dataset"]),
        ("epochs", f"{info['epochs']} (counted from 1)"),
        ("seeds", " ".join(map(str, info["seeds"]))),
        ("models", f"{info['num_models']:,} of {NUM_MODELS:,}"),
        ("runs", runs),
        ("is_partial", info["is_partial"]),
        ("devices", " ".join(info["devices"]) or "none attached"),
        ("environments", info["num_environments"]),
        (
            "val_epoch1",
            "aliased to the best epoch (released data)" if info["val_epoch1_aliased"] else "as measured",
        ),
    ]
    if bench.kind == "finetune":
        attrs = bench.attrs
        info["finetune"] = {key: attrs[key] for key in _FINETUNE_KEYS}
        rows[1:1] = [("kind", "finetune (students fine-tuned from a teacher's block library)")]
        rows += [(key, _text(attrs[key])) for key in _FINETUNE_KEYS]
    if args.verify:
        rows.append(("verified", f"{info['verified_arrays']} arrays read in full, no damage"))
    if args.json:
        sys.stdout.write(json.dumps(info) + "\n")
        return 0
    _write_rows(rows)
    return 0


def _info_generic(args: argparse.Namespace) -> int:
    """Kinds without a query object of their own here (space, latency, proxies, search ...):
    the kind, the sizes of its dimensions and its attributes."""
    from ..store.group import open_store, verify_store

    group = open_store(args.store)
    attrs = dict(group.attrs)
    sizes: dict[str, int] = {}
    for name in sorted(group.array_keys()):
        array = group[name]
        for dim, n in zip(array.metadata.dimension_names or (), array.shape):
            sizes.setdefault(str(dim), int(n))
    info = {"path": str(args.store), "kind": attrs["store_kind"], "sizes": sizes, "attrs": attrs}
    if args.verify:
        info["verified_arrays"] = verify_store(group)
    if args.json:
        sys.stdout.write(json.dumps(info, default=str) + "\n")
        return 0
    rows: list[tuple[str, Any]] = [
        ("store", info["path"]),
        ("kind", info["kind"]),
        ("sizes", ", ".join(f"{dim} {n:,}" for dim, n in sizes.items())),
    ]
    skip = {"store_kind", "schema_version", "producer", "producer_version"}
    for key, value in attrs.items():
        if key not in skip:
            text = _text(value)
            rows.append((key, text if len(text) <= 200 else text[:197] + "..."))
    if args.verify:
        rows.append(("verified", f"{info['verified_arrays']} arrays read in full, no damage"))
    _write_rows(rows)
    return 0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _write_rows(rows: list[tuple[str, Any]]) -> None:
    width = max(12, *(len(key) for key, _ in rows))
    sys.stdout.write("\n".join(f"{key:<{width}}  {value}" for key, value in rows) + "\n")


_FINETUNE_KEYS = ("teacher", "library_id", "distill_epoch", "ft_epochs", "alpha", "temperature")


def _info_blockwise(args: argparse.Namespace) -> int:
    from ..bench.blockwise import open_blockwise

    results = open_blockwise(args.store)
    info = results.summary()
    if args.verify:
        from ..store.group import open_store, verify_store

        info["verified_arrays"] = verify_store(open_store(args.store))
    if args.json:
        sys.stdout.write(json.dumps(_jsonable(info)) + "\n")
        return 0
    teacher = info["teacher"]
    blocks = info["blocks"]
    rows = [
        ("store", info["path"]),
        ("kind", "blockwise (one teacher's distilled block library and signatures)"),
        ("teacher", f"{teacher.get('name') or '-'}: model {teacher.get('model')} {teacher.get('block_ids')}, "
                    f"val_acc {teacher.get('val_acc')} %, recipe {teacher.get('recipe_id')}"),
        ("distill_id", info["distill_id"]),
        ("distill", json.dumps(info["distill"], sort_keys=True)),
        ("dataset", info["dataset"]),
        ("library", info["library"]),
        ("epochs", f"{info['epochs']} (counted from 1)"),
        ("snapshots", " ".join(map(str, info["snapshots"]))),
        ("blocks", f"{blocks['done']} done, {blocks['failed']} failed, {blocks['pending']} pending of 135"),
        ("dead_channels", ", ".join(f"stage {s}: {n}" for s, n in enumerate(info["dead_channels"]))),
        ("seconds", f"{info['seconds']:.1f} s (all blocks, distillation + signatures)"),
        ("is_partial", info["is_partial"]),
    ]  # fmt: skip
    if args.verify:
        rows.append(("verified", f"{info['verified_arrays']} arrays read in full, no damage"))
    _write_rows(rows)
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from ..legacy import import_legacy

    start = time.perf_counter()
    prefer = [e.strip() for e in args.prefer.split(",") if e.strip()]
    out = import_legacy(
        args.folder,
        args.out,
        preferred_ext=prefer,
        mask_aliased_epoch1=args.mask_aliased_epoch1,
        latency_out=args.latency_out,
        overwrite=args.overwrite,
    )
    logger.info("imported %s in %.1f s", args.folder, time.perf_counter() - start)
    sys.stdout.write(f"{out}\n")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from ..legacy import export_csv

    for path in export_csv(args.store, args.out, overwrite=args.overwrite):
        sys.stdout.write(f"{path}\n")
    return 0


_FUNCS = {
    "merge": _cmd_merge,
    "query": _cmd_query,
    "info": _cmd_info,
    "import-legacy": _cmd_import,
    "export-csv": _cmd_export,
}


def _seed(text: str) -> int | str:
    """``--seed``: a seed of the store or ``mean``."""
    if text == "mean":
        return text
    return bounded_int(0, 2**63 - 1, what="a seed (or 'mean')")(text)


def _add_latency_and_json(p: Any) -> None:
    p.add_argument(
        "--latency", action="append", metavar="STORE",
        help="latency store to attach (repeatable; default: the stores recorded with the benchmark)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one JSON object")


def add_store_commands(cli: CommandLine) -> None:
    """Register ``merge``, ``query``, ``info``, ``import-legacy`` and ``export-csv``."""
    p = cli.command(
        "merge",
        _FUNCS["merge"],
        help="merge shard stores (benchmark, finetune, blockwise ...) into the final store",
        description=(
            "Build the final store from shard stores of one kind (the first shard's: benchmark, finetune, "
            "blockwise ...): refuses mixed recipes or teachers, models / (stage, block) pairs / buckets in "
            "two shards, and gaps (missing buckets, blocks or expected models, pending runs) unless "
            "--allow-partial; consolidates metadata once at the end."
        ),
    )
    p.add_argument("shards", metavar="SHARD", nargs="+", help="shard store paths")
    p.add_argument("--out", required=True, type=non_empty, help="final store path to write")
    p.add_argument("--allow-partial", action="store_true", help="accept gaps; the store is marked is_partial")
    p.add_argument(
        "--expect",
        metavar="MODELS",
        type=model_spec,
        help="models a benchmark or finetune store must cover; " + MODELS_HELP,
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing store")

    p = cli.command(
        "query",
        _FUNCS["query"],
        help="query one model in a benchmark store",
        description="Print metrics of one model (epochs count from 1; accuracies in %%, times in s).",
    )
    p.add_argument("store", metavar="STORE", help="benchmark store")
    p.add_argument("arch", metavar="ARCH", help=ARCH_HELP)
    p.add_argument(
        "--metric",
        action="append",
        choices=list(METRICS),
        help=f"metric (repeatable; default {' '.join(_DEFAULT_METRICS)})",
    )
    p.add_argument(
        "--epoch",
        type=bounded_int(1, None, what="an epoch (from 1)"),
        default=None,
        help="epoch 1..E for per-epoch metrics (default: all)",
    )
    best = p.add_mutually_exclusive_group()
    best.add_argument(
        "--best", dest="best", action="store_true", default=None, help="best value up to --epoch"
    )
    best.add_argument(
        "--at-epoch", dest="best", action="store_false", help="value at --epoch, not the best so far"
    )
    p.add_argument("--seed", type=_seed, default=None, help="seed, or 'mean' (default: the lowest seed)")
    p.add_argument("--full", action="store_true", help="print everything about the run (full_info)")
    p.add_argument("--space", default=None, help="space store for params/flops the benchmark did not record")
    _add_latency_and_json(p)

    p = cli.command(
        "info",
        _FUNCS["info"],
        help="what a benchmark, finetune or blockwise store holds",
        description=(
            "Summarise a benchmark or finetune store (recipe, dataset, epochs, seeds, models done, devices; "
            "a finetune store's teacher and fine-tuning settings) or a blockwise store (teacher, distillation "
            "settings, blocks done, dead channels, seconds)."
        ),
    )
    p.add_argument("store", metavar="STORE", help="benchmark, finetune or blockwise store")
    _add_latency_and_json(p)
    p.add_argument(
        "--verify",
        action="store_true",
        help="read every chunk of every array, so damage is found now (exit 2)",
    )

    p = cli.command(
        "import-legacy",
        _FUNCS["import-legacy"],
        help="import the released Blox files into a benchmark store",
        description=(
            "Import blox-base-SEED, blox-ext-SEED, blox-info, blox-env-SEED and blox-bench-DEVICE files "
            "(.csv, .pickle or .blox; one format per file family, by --prefer) into a benchmark store. "
            "The store records provenance and flags the original's epoch-1 validation aliasing."
        ),
    )
    p.add_argument("folder", metavar="FOLDER", help="folder of released files")
    p.add_argument("--out", required=True, type=non_empty, help="benchmark store path to write")
    p.add_argument(
        "--prefer",
        default="blox,pickle,csv",
        help="extension order per file family (default blox,pickle,csv)",
    )
    p.add_argument(
        "--mask-aliased-epoch1",
        action="store_true",
        help="store NaN for the aliased epoch-1 validation metrics",
    )
    p.add_argument(
        "--latency-out",
        type=non_empty,
        default=None,
        help="folder for latency stores of blox-bench files (default: OUT-latency/ beside --out, e.g. release-latency/)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing stores")

    p = cli.command(
        "export-csv",
        _FUNCS["export-csv"],
        help="export a benchmark store as released-style .csv files",
        description="Write blox-base-SEED.csv, blox-ext-SEED.csv, blox-env-SEED.csv and blox-info.csv.",
    )
    p.add_argument("store", metavar="STORE", help="benchmark store")
    p.add_argument("--out", required=True, type=non_empty, help="folder to write the files into")
    p.add_argument("--overwrite", action="store_true", help="replace released-style files already in --out")
