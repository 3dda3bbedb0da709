"""The ``blox-predict`` command: ``fit`` (an ensemble of a predictor on a store), ``predict`` (with
a fitted ensemble), ``evaluate`` (Spearman / Kendall / precision@k against the number of
training models, paper Figure 10), ``complete`` (a surrogate store over all 91,125 models),
``proxies`` (zero-cost proxies of some models into a proxies store) and ``predictors`` (list
them). Thin: parse, call the public API, format. User mistakes exit 2 with one line on stderr."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import blox_space as bs
import numpy as np
from blox_space.cli.options import (
    MODELS_HELP,
    bounded_int,
    bucket_of,
    non_empty,
    thread_count,
    write_text_atomic,
)
from blox_space.cli.options import key_value as parse_param
from blox_space.cli.runner import CommandLine
from blox_space.errors import ConfigError

from . import __version__
from .base import get_predictor, list_predictors
from .data import DEFAULT_METRIC, TARGET_METRICS, open_measurements, training_data
from .surrogate import complete_benchmark, ensemble_summary, fit_ensemble, load_ensemble, predict_table

PROG = "blox-predict"


# ---------------------------------------------------------------------------------------
# argument types
# ---------------------------------------------------------------------------------------
def _int_list(what: str, low: int) -> Any:
    parse = bounded_int(low, None, what=f"a {what}")

    def parse_list(text: str) -> list[int]:
        parts = [p for p in text.split(",")]
        if not text.strip() or any(not p.strip() for p in parts):
            raise argparse.ArgumentTypeError(
                f"must be a comma list of {what}s, e.g. 10,20,50, got {text[:40]!r}"
            )
        values = [parse(p) for p in parts]
        if len(set(values)) != len(values):
            raise argparse.ArgumentTypeError(f"{text[:40]!r} repeats a value")
        return values

    parse_list.__name__ = f"a list of {what}s"
    return parse_list


def _metric(text: str) -> str:
    if text not in TARGET_METRICS:
        raise argparse.ArgumentTypeError(
            f"unknown metric {text[:40]!r}; metrics are {', '.join(TARGET_METRICS)}"
        )
    return text


def _seeds_mode(text: str) -> str | int:
    if text == "mean":
        return "mean"
    return bounded_int(0, 2**63 - 1, what="a seed (or 'mean')")(text)


SEED = bounded_int(0, 2**32 - 1, what="a seed")


def _params(args: argparse.Namespace) -> dict[str, Any]:
    params = dict(args.params)
    if getattr(args, "signatures", None) is not None:
        if "signatures" in params:
            raise ConfigError("give the signatures once: --signatures or --param signatures=..., not both")
        if not Path(args.signatures).exists():
            raise bs.StoreError(f"no blockwise store at {args.signatures} (--signatures)")
        params["signatures"] = args.signatures
    return params


def _add_predictor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--predictor", required=True, type=non_empty, metavar="NAME",
        help="registered predictor (see `blox-predict predictors`)",
    )  # fmt: skip
    p.add_argument(
        "--param", dest="params", action="append", type=parse_param, default=[], metavar="KEY=VALUE",
        help="a hyperparameter, e.g. --param epochs=50 --param hidden=64 (repeatable; JSON values)",
    )  # fmt: skip
    p.add_argument(
        "--signatures", type=non_empty, default=None, metavar="BLOCKWISE.zarr",
        help="blockwise store whose signatures DONNA / LANA read (sets the 'signatures' parameter)",
    )  # fmt: skip
    p.add_argument(
        "--metric", type=_metric, default=DEFAULT_METRIC,
        help=f"target metric (default {DEFAULT_METRIC}; per-epoch metrics are taken after the last epoch)",
    )  # fmt: skip
    p.add_argument(
        "--seeds-mode", dest="seeds_mode", type=_seeds_mode, default="mean", metavar="mean|SEED",
        help="the store's seeds: their mean over done runs (default) or one seed",
    )  # fmt: skip


def _add_threads(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threads", type=thread_count, default=None, help="torch CPU threads (default: torch's choice)"
    )


def _threads(args: argparse.Namespace) -> None:
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (np.floating, np.integer)):
        return _jsonable(value.item())
    return value


def _records(frame: Any) -> list[dict[str, Any]]:
    return [{k: _jsonable(v) for k, v in row.items()} for row in frame.to_dict("records")]


# ---------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------
def build_cli() -> CommandLine:
    """The ``blox-predict`` command line with every subcommand."""
    cli = CommandLine(
        PROG, description="Fit, evaluate and apply Blox accuracy predictors.", version=__version__
    )

    fit = cli.command(
        "fit", _cmd_fit, help="fit an ensemble of a predictor on a benchmark or finetune store",
        description="Fit K members of a registered predictor (member i with random_state SEED+i) on the "
        "measured models of a benchmark or finetune store and save them in a folder (member-<i>/ each, "
        "plus ensemble.json). With --train-size N, N measured models are drawn with SEED for training "
        "and the rest are held out, so `complete` reports the exact error on them.",
    )  # fmt: skip
    fit.add_argument("store", type=non_empty, metavar="STORE", help="benchmark or finetune store")
    _add_predictor_args(fit)
    fit.add_argument(
        "--ensemble", type=bounded_int(1, 1000, what="an ensemble size"), default=1, metavar="K",
        help="members of the ensemble (default 1)",
    )  # fmt: skip
    fit.add_argument(
        "--train-size", type=bounded_int(1, bs.NUM_MODELS, what="a train size"), default=None, metavar="N",
        help="training models drawn from the measured ones (default: all, no held-out models)",
    )  # fmt: skip
    fit.add_argument("--seed", type=SEED, default=0, help="seed of the split and of member 0 (default 0)")
    fit.add_argument(
        "--bootstrap",
        action="store_true",
        help="each member fits on a bootstrap resample of the training models",
    )
    fit.add_argument("--out", required=True, type=non_empty, metavar="DIR", help="ensemble folder to write")
    fit.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    fit.add_argument("--json", action="store_true", help="print the summary as JSON")
    _add_threads(fit)

    pred = cli.command(
        "predict", _cmd_predict, help="predict models with a fitted ensemble",
        description="Predict the target metric of models with a fitted ensemble (or one saved predictor): "
        "the members' mean and standard deviation per model.",
    )  # fmt: skip
    pred.add_argument("ensemble", type=non_empty, metavar="DIR", help="folder written by `blox-predict fit`")
    pred.add_argument("--models", required=True, type=non_empty, metavar="SPEC", help=MODELS_HELP)
    pred.add_argument("--out", type=non_empty, default=None, metavar="FILE.csv", help="also write a CSV")
    pred.add_argument("--json", action="store_true", help="print JSON records instead of a table")

    ev = cli.command(
        "evaluate", _cmd_evaluate, help="Spearman/Kendall of a predictor against the number of training models",
        description="For each train size and seed, fit the predictor on that many measured models of the "
        "store (drawn with the seed) and score it on all the others: Spearman rho, Kendall tau, precision@k, "
        "seconds (paper Figure 10). A predictor that cannot be fitted on so few models gets a 'failed' row.",
    )  # fmt: skip
    ev.add_argument("store", type=non_empty, metavar="STORE", help="benchmark or finetune store")
    _add_predictor_args(ev)
    ev.add_argument(
        "--train-sizes", required=True, type=_int_list("train size", 1), metavar="N,N,...",
        help="numbers of training models, e.g. 10,20,50",
    )  # fmt: skip
    ev.add_argument(
        "--seeds", type=_int_list("seed", 0), default=[0, 1, 2], metavar="S,S,...",
        help="seeds of the training subsets (default 0,1,2)",
    )  # fmt: skip
    ev.add_argument(
        "--top-k", type=bounded_int(1, bs.NUM_MODELS, what="a k"), default=10, metavar="K",
        help="k of precision@k (default 10)",
    )  # fmt: skip
    ev.add_argument(
        "--drop-large-sizes", action="store_true",
        help="leave out train sizes that leave fewer than 2 models to test (a warning names them) instead "
        "of refusing them; for workflows that do not know the store's size in advance",
    )  # fmt: skip
    ev.add_argument("--name", type=non_empty, default=None, help="label of the predictor in the table")
    ev.add_argument("--out", type=non_empty, default=None, metavar="FILE.csv", help="write the table as CSV")
    ev.add_argument("--json", action="store_true", help="print JSON records instead of a summary")
    _add_threads(ev)

    comp = cli.command(
        "complete", _cmd_complete, help="write a surrogate store: every model measured or predicted",
        description="Predict all 91,125 models with a fitted ensemble and write a surrogate store: measured "
        "models keep their measured rows, the others hold the ensemble mean of the target metric, marked "
        "is_predicted, with the members' standard deviation; the store records the exact error on the "
        "measured models held out of training.",
    )  # fmt: skip
    comp.add_argument("ensemble", type=non_empty, metavar="DIR", help="folder written by `blox-predict fit`")
    comp.add_argument(
        "--store", type=non_empty, default=None, metavar="STORE",
        help="source store (default: the one the ensemble was fitted on)",
    )  # fmt: skip
    comp.add_argument(
        "--out", required=True, type=non_empty, metavar="STORE.zarr", help="surrogate store to write"
    )
    comp.add_argument("--overwrite", action="store_true", help="replace an existing store")
    comp.add_argument("--json", action="store_true", help="print the summary as JSON")
    _add_threads(comp)

    prox = cli.command(
        "proxies", _cmd_proxies, help="zero-cost proxies of models into a proxies store (needs blox-train)",
        description="Compute the zero-cost proxies (grad_norm, snip, grasp, synflow, jacob_cov) and the "
        "params / MACs baselines of models at a recipe's geometry, from one seeded minibatch each, into a "
        "proxies store (shards merge with `blox-space merge`). Needs blox-train.",
    )  # fmt: skip
    which = prox.add_mutually_exclusive_group(required=True)
    which.add_argument("--models", type=non_empty, metavar="SPEC", help=MODELS_HELP)
    which.add_argument(
        "--models-from", type=non_empty, metavar="FILE.json",
        help="JSON file with the models: its 'models' list (as blox-space select writes) or a plain list",
    )  # fmt: skip
    prox.add_argument(
        "--recipe", default="quick", help="blox-train recipe giving data and geometry (default quick)"
    )
    prox.add_argument(
        "--bucket-of", type=bucket_of, default=None, metavar="I/N",
        help="keep slice I of N of the models (sorted) and record the shard as bucket I of N",
    )  # fmt: skip
    prox.add_argument("--data-root", type=non_empty, default=None, help="dataset folder (default ./data)")
    prox.add_argument(
        "--seed", type=SEED, default=0, help="seed of the minibatch and the weights (default 0)"
    )
    prox.add_argument(
        "--set", dest="overrides", action="append", type=parse_param, default=[], metavar="KEY=VALUE",
        help="override a recipe setting, e.g. --set width=4 (repeatable)",
    )  # fmt: skip
    prox.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:N (default cpu)")
    _add_threads(prox)
    prox.add_argument(
        "--out", required=True, type=non_empty, metavar="STORE.zarr", help="proxies store to write"
    )
    prox.add_argument("--overwrite", action="store_true", help="replace an existing store")
    bar = prox.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None, help="show progress")
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="never show progress")

    lst = cli.command("predictors", _cmd_predictors, help="list the registered predictors")
    lst.add_argument("pattern", nargs="?", default="*", help="shell-style name pattern (default *)")
    lst.add_argument("--json", action="store_true", help="print names and default parameters as JSON")
    return cli


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``blox-predict`` (for documentation tools and tests)."""
    return build_cli().parser


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _cmd_fit(args: argparse.Namespace) -> int:
    _threads(args)
    ens = fit_ensemble(
        args.store, predictor=args.predictor, params=_params(args), metric=args.metric, seeds=args.seeds_mode,
        ensemble=args.ensemble, train_size=args.train_size, seed=args.seed, bootstrap=args.bootstrap,
        out=args.out, overwrite=args.overwrite,
    )  # fmt: skip
    summary = ensemble_summary(ens)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(
        f"{summary['path']}: {summary['ensemble_size']} x {summary['predictor']} on {summary['metric']} of "
        f"{summary['store']}: {summary['num_train']} training models, {summary['num_heldout']} held out, "
        f"{summary['fit_seconds']:.1f} s"
    )
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    ens = load_ensemble(args.ensemble)
    table = predict_table(ens, bs.parse_models(args.models))
    table.insert(1, "hash", bs.all_hashes()[table["model"].to_numpy()])
    if args.out:
        write_text_atomic(args.out, table.to_csv(index=False))
    if args.json:
        print(json.dumps(_records(table), indent=1))
        return 0
    print(f"{'model':>6} {'hash':<32} {'prediction':>10} {'std':>8}")
    for row in table.itertuples(index=False):
        print(f"{row.model:>6} {row.hash:<32} {row.prediction:>10.3f} {row.std:>8.3f}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_predictor, summarize_evaluation

    _threads(args)
    est = get_predictor(args.predictor, **_params(args))
    models, y = training_data(open_measurements(args.store), metric=args.metric, seeds=args.seeds_mode)
    sizes = list(args.train_sizes)
    if args.drop_large_sizes:
        kept = [n for n in sizes if n <= len(models) - 2]
        if not kept:
            raise ConfigError(
                f"every train size ({', '.join(map(str, sizes))}) leaves fewer than 2 of the store's "
                f"{len(models)} measured models to test; use sizes up to {len(models) - 2}"
            )
        if len(kept) < len(sizes):
            logging.getLogger(__name__).warning(
                "train sizes %s left out: the store has %d measured models and 2 are needed to test",
                sorted(set(sizes) - set(kept)), len(models),
            )  # fmt: skip
        sizes = kept
    table = evaluate_predictor(
        est, models, y, train_sizes=sizes, seeds=args.seeds, top_k=args.top_k,
        name=args.name or args.predictor,
    )  # fmt: skip
    if args.out:
        write_text_atomic(args.out, table.to_csv(index=False))
    if args.json:
        print(json.dumps(_records(table), indent=1))
        return 0
    summary = summarize_evaluation(table)
    print(
        f"{'predictor':<16} {'train':>6} {'spearman':>9} {'low':>7} {'high':>7} {'kendall':>8} {'seeds':>5}"
    )
    for row in summary.to_dict("records"):
        print(
            f"{str(row['predictor']):<16} {row['train_size']:>6} {_fmt(row['spearman_mean']):>9} "
            f"{_fmt(row['spearman_low']):>7} {_fmt(row['spearman_high']):>7} {_fmt(row['kendall_mean']):>8} "
            f"{row['n_seeds']:>5}"
        )
    failed = table[table["status"] != "ok"]
    for row in failed.to_dict("records"):
        print(f"failed: train size {row['train_size']}, seed {row['seed']}: {row['message']}")
    return 0


def _cmd_complete(args: argparse.Namespace) -> int:
    _threads(args)
    out = complete_benchmark(args.ensemble, out=args.out, store=args.store, overwrite=args.overwrite)
    facts = bs.open_benchmark(out, latency=[]).surrogate or {}
    summary = {"path": str(out), **facts}
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    error = facts.get("heldout_error")
    said = (
        "no held-out models"
        if not error
        else f"held-out error on {error['n']} measured models: Spearman {_fmt(error['spearman'])}, "
        f"Kendall {_fmt(error['kendall'])}, MAE {_fmt(error['mae'])}, RMSE {_fmt(error['rmse'])}"
    )
    print(
        f"{out}: {facts.get('num_measured')} measured, {facts.get('num_predicted')} predicted "
        f"{facts.get('target_metric')} by {facts.get('ensemble_size')} x {facts.get('predictor', {}).get('name')}; "
        f"{said}"
    )
    return 0


def _read_models_file(path: str) -> np.ndarray:
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"no models file at {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"cannot read models file {path}: {err}") from None
    models = doc.get("models") if isinstance(doc, dict) else doc
    if models is None:
        raise ConfigError(f"{path} has no 'models' list")
    return bs.parse_models(models)


def _cmd_proxies(args: argparse.Namespace) -> int:
    from .proxies import compute_proxies

    _threads(args)
    models = _read_models_file(args.models_from) if args.models_from else bs.parse_models(args.models)
    bucket = None
    if args.bucket_of is not None:
        index, count = bucket = args.bucket_of
        if count > len(models):
            raise ConfigError(f"--bucket-of {index}/{count}: there are only {len(models)} models to split")
        models = np.array_split(models, count)[index]
    progress = sys.stderr.isatty() if args.progress is None else bool(args.progress)
    out = compute_proxies(
        models, recipe=args.recipe, out=args.out, data_root=args.data_root, seed=args.seed, bucket=bucket,
        overwrite=args.overwrite, progress=progress, device=args.device, **dict(args.overrides),
    )  # fmt: skip
    print(f"{out}: proxies of {len(models)} models (recipe {args.recipe})")
    return 0


def _cmd_predictors(args: argparse.Namespace) -> int:
    names = list_predictors(args.pattern)
    if args.json:
        rows = []
        for name in names:
            params = get_predictor(name).get_params()
            rows.append({"name": name, "params": {k: v for k, v in params.items() if _is_plain(v)}})
        print(json.dumps(rows, indent=2))
        return 0
    for name in names:
        print(f"{name:<8} {get_predictor(name)!r}")
    return 0


def _is_plain(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, list))


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: exit 0 on success, 2 with one stderr line on a user mistake."""
    return build_cli().main(argv)


if __name__ == "__main__":
    sys.exit(main())
