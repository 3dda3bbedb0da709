"""The ``blox-search`` command (STYLE §5): ``run`` (a search, several seeds, into a resumable
search store), ``summary`` (Table 2's numbers), ``trajectories`` (every evaluation as CSV),
``list`` (the algorithms) and ``pareto`` (accuracy x latency fronts). Thin: parse, call the
package, format. User mistakes exit 2 with one ``blox-search: error: ...`` line on stderr."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from blox_space.cli.options import (
    MODELS_HELP,
    bounded_int,
    key_value,
    model_spec,
    non_empty,
    thread_count,
    write_text_atomic,
)
from blox_space.cli.runner import CommandLine
from blox_space.errors import ConfigError
from blox_space.store import check_output_path

from . import __version__
from .algorithm import ALGORITHMS, get_algorithm, list_algorithms
from .cost import CostModel
from .errors import MissingExtraError
from .evaluators.tabular import SEED_POLICIES, TabularEvaluator
from .metrics import summarize
from .runner import run_search
from .trajectory import TRAJECTORY_COLUMNS, open_search

__all__ = ["build_cli", "main", "parse_seeds", "parse_key_value", "MAX_SEEDS"]

PROG = "blox-search"
logger = logging.getLogger(__name__)

#: The most search seeds one ``--seeds`` spec may name.
MAX_SEEDS = 100_000
_MAX_SEED = 2**63 - 1
_SEED = bounded_int(0, _MAX_SEED, what="a seed")
_SEEDS_FORMS = "START:STOP (end exclusive, e.g. 0:10), a comma list (e.g. 0,3,7) or one seed"
#: The options only the blockwise evaluator reads (dest -> flag), refused with the others.
_BLOCKWISE_ONLY = {
    "finetune": "--finetune",
    "blockwise": "--blockwise",
    "teacher": "--teacher",
    "ft_epochs": "--ft-epochs",
    "teacher_given": "--teacher-given",
}
#: The options only the live evaluator reads (dest -> flag), refused with --evaluator tabular.
_LIVE_ONLY = {
    "recipe": "--recipe",
    "models": "--models",
    "train_set": "--train-set",
    "device": "--device",
    "data_root": "--data-root",
    "threads": "--threads",
    "reuse": "--reuse",
}


# ---------------------------------------------------------------------------------------
# argument types
# ---------------------------------------------------------------------------------------
def parse_seeds(text: str) -> list[int]:
    """A ``--seeds`` spec: ``START:STOP`` (``range(START, STOP)``, end exclusive), a comma
    list ``0,3,7`` or one seed; seeds are distinct ints >= 0, at most :data:`MAX_SEEDS`.

    Raises:
        ConfigError: anything else (the message shows the allowed forms).

    Example:
        >>> parse_seeds("0:3"), parse_seeds("0,3,7"), parse_seeds("5")
        ([0, 1, 2], [0, 3, 7], [5])
    """
    shown = repr(text) if len(text) <= 40 else repr(text[:40] + "...")
    stripped = text.strip()

    def one(part: str) -> int:
        try:
            return _SEED(part)
        except argparse.ArgumentTypeError as err:
            raise ConfigError(f"seeds {shown}: {err}; use {_SEEDS_FORMS}") from None

    if ":" in stripped:
        parts = stripped.split(":")
        if len(parts) != 2:
            raise ConfigError(f"seeds {shown}: use {_SEEDS_FORMS}")
        start, stop = one(parts[0]), one(parts[1])
        if stop <= start:
            raise ConfigError(f"seeds {shown}: STOP must be greater than START (end exclusive, e.g. 0:10)")
        if stop - start > MAX_SEEDS:
            raise ConfigError(f"seeds {shown}: {stop - start} seeds; at most {MAX_SEEDS}")
        return list(range(start, stop))
    parts = stripped.split(",")
    if len(parts) > MAX_SEEDS:
        raise ConfigError(f"seeds {shown}: {len(parts)} seeds; at most {MAX_SEEDS}")
    if any(not p.strip() for p in parts):
        raise ConfigError(f"seeds {shown}: an empty item; use {_SEEDS_FORMS}")
    seeds = [one(p) for p in parts]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds {shown}: a seed is repeated; each seed once")
    return seeds


def _seeds_type(text: str) -> list[int]:
    try:
        return parse_seeds(text)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


#: ``KEY=VALUE`` of ``--set`` / ``--train-set`` (values read as JSON when they parse).
parse_key_value = key_value


def _one_time(text: str) -> tuple[str, float]:
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"must look like NAME=SECONDS, e.g. library=3600, got {text[:40]!r}")
    value = _number(raw, what="seconds")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{name}: seconds must be >= 0, got {raw[:40]!r}")
    return name, value


def _named_path(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(
            f"expected NAME=PATH (e.g. M1=results/blockwise/M1.zarr), got {text!r}"
        )
    return name.strip(), path.strip()


def _number(raw: str, *, what: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw[:40]!r} is not a number of {what}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{raw[:40]!r} is not a finite number of {what}")
    return value


def _positive(what: str) -> Any:
    def parse(text: str) -> float:
        value = _number(text, what=what)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0 {what}, got {text[:40]!r}")
        return value

    parse.__name__ = what
    return parse


def _accuracy(text: str) -> float:
    return _number(text, what="percent")


def _seed_policy(text: str) -> str | int:
    if text in SEED_POLICIES:
        return text
    try:
        return bounded_int(0, _MAX_SEED, what="a store seed")(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be {' or '.join(SEED_POLICIES)} or one of the store's seeds (an int), got {text[:40]!r}"
        ) from None


# ---------------------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------------------
def build_cli() -> CommandLine:
    """The ``blox-search`` command line with every subcommand."""
    cli = CommandLine(PROG, description="Search the Blox space under one cost model.", version=__version__)

    run = cli.command(
        "run", _cmd_run, help="run a search algorithm for several seeds into a search store",
        description="Run ALGO once per search seed against an evaluator of STORE until each seed has "
        "spent the budget (FTE: one FTE is the median train_seconds of a normal-training benchmark), "
        "recording every evaluation in a search store. An existing store of the same search is resumed "
        "(finished seeds are read back, a killed one is replayed to the identical trajectory).",
    )  # fmt: skip
    run.add_argument(
        "algorithm", type=non_empty, metavar="ALGO", help="registered algorithm (see `blox-search list`)"
    )
    run.add_argument(
        "store", type=non_empty, metavar="STORE",
        help="tabular: a benchmark, finetune or surrogate store; live: the shard store the runs are recorded in",
    )  # fmt: skip
    run.add_argument(
        "--budget-fte", required=True, type=_positive("FTE"), metavar="B",
        help="budget per seed in FTE, one-time costs included",
    )  # fmt: skip
    run.add_argument(
        "--seeds", required=True, type=_seeds_type, metavar="SPEC", help=f"search seeds: {_SEEDS_FORMS}"
    )
    run.add_argument(
        "--out", required=True, type=non_empty, metavar="RUN.zarr", help="search store to write or resume"
    )
    run.add_argument(
        "--set", dest="params", action="append", type=parse_key_value, default=[], metavar="K=V",
        help="an algorithm parameter, e.g. --set sample_size=10 (repeatable; JSON values, else strings)",
    )  # fmt: skip
    run.add_argument(
        "--evaluator", choices=("tabular", "blockwise", "live"), default="tabular",
        help="tabular: answers from STORE (default); blockwise: students fine-tuned from teachers' block "
        "libraries (--finetune, --blockwise; STORE is the normal-training benchmark); live: trains for real "
        "with blox-train",
    )  # fmt: skip
    run.add_argument(
        "--seed-policy", type=_seed_policy, default=None, metavar="cycle|mean|INT",
        help="tabular: which store seed a search seed reads: cycle (default: search seed k reads store seed "
        "k mod S), mean (the mean over seeds), or one store seed",
    )  # fmt: skip
    cost = run.add_argument_group("cost")
    cost.add_argument(
        "--fte-store", type=non_empty, default=None, metavar="PATH",
        help="normal-training benchmark store whose median train_seconds is one FTE (and whose best "
        "accuracy is the default target of `summary`); default: STORE for tabular",
    )  # fmt: skip
    cost.add_argument(
        "--fte-seconds",
        type=_positive("seconds"),
        default=None,
        metavar="S",
        help="seconds of one FTE (overrides the store's median)",
    )
    cost.add_argument(
        "--one-time", action="append", type=_one_time, default=[], metavar="NAME=SECONDS",
        help="a one-time cost charged before the first evaluation, e.g. library=3600 (repeatable)",
    )  # fmt: skip
    cost.add_argument(
        "--max-evaluations",
        type=bounded_int(1, None, what="an evaluation count"),
        default=None,
        metavar="N",
        help="stop a seed after N evaluations",
    )
    lat = run.add_argument_group("latency (multi-objective algorithms)")
    lat.add_argument(
        "--latency-device",
        type=non_empty,
        default=None,
        metavar="D",
        help="device whose latency each evaluation reports",
    )
    lat.add_argument(
        "--latency", action="extend", nargs="+", type=non_empty, default=None, metavar="PATH",
        help="latency stores to attach (default: those recorded with the benchmark store)",
    )  # fmt: skip
    bw = run.add_argument_group("blockwise evaluator (--evaluator blockwise; SPEC §7)")
    bw.add_argument(
        "--finetune", action="extend", nargs="+", type=non_empty, default=None, metavar="FT.zarr",
        help="finetune stores (each names its teacher and FT length; repeatable)",
    )  # fmt: skip
    bw.add_argument(
        "--blockwise", action="extend", nargs="+", type=_named_path, default=None, metavar="NAME=BW.zarr",
        help="a teacher's blockwise store: its block library's seconds are charged, its signatures read "
        "(one per teacher; repeatable)",
    )  # fmt: skip
    bw.add_argument(
        "--teacher", type=non_empty, default=None, metavar="NAME",
        help="the default teacher (default: the first finetune store's); its setup is a one-time cost",
    )  # fmt: skip
    bw.add_argument(
        "--ft-epochs", action="extend", nargs="+", type=bounded_int(1, None, what="an FT length"), default=None,
        metavar="N", help="FT lengths offered as fidelities (default: every length of the default teacher)",
    )  # fmt: skip
    bw.add_argument(
        "--teacher-given", action="store_true", default=None,
        help="the teachers exist already: their normal training is not charged",
    )  # fmt: skip
    live = run.add_argument_group("live evaluator (--evaluator live; needs blox-train)")
    live.add_argument(
        "--recipe", type=non_empty, default=None, metavar="R", help="blox-train recipe (default quick)"
    )
    live.add_argument(
        "--models",
        type=model_spec,
        default=None,
        metavar="SPEC",
        help=f"candidates, {MODELS_HELP} (default all)",
    )
    live.add_argument(
        "--train-set", action="append", type=non_empty, default=None, metavar="K=V",
        help="override a recipe setting as blox-train's --set does, e.g. --train-set epochs=5 (repeatable)",
    )  # fmt: skip
    live.add_argument(
        "--device",
        type=non_empty,
        default=None,
        metavar="D",
        help="torch device: cpu, cuda, cuda:N (default cpu)",
    )
    live.add_argument("--data-root", type=non_empty, default=None, metavar="DIR", help="dataset folder")
    live.add_argument("--threads", type=thread_count, default=None, metavar="N", help="torch CPU threads")
    live.add_argument(
        "--reuse", action="extend", nargs="+", type=non_empty, default=None, metavar="BENCH.zarr",
        help="normal-training benchmark stores of the same recipe whose runs answer for their models "
        "instead of a new training (e.g. the trained benchmark; repeatable)",
    )  # fmt: skip
    run.add_argument(
        "--overwrite", action="store_true", help="replace an existing search store instead of resuming it"
    )
    run.add_argument("--json", action="store_true", help="print the per-seed results as JSON")
    bar = run.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="a progress bar on stderr (default: when stderr is a terminal)",
    )
    bar.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")

    summary = cli.command(
        "summary", _cmd_summary, help="Table 2's numbers: accuracy at a budget, cost to reach a target",
        description="Per search store: the reported (test) accuracy of the incumbent (best validation so far) "
        "at the budget, mean and std over seeds, and the cost in FTE at which the incumbent's reported "
        "accuracy first reaches the target (x when never within the budget) with the number of seeds that did.",
    )  # fmt: skip
    summary.add_argument("runs", nargs="+", type=non_empty, metavar="RUN", help="search stores")
    summary.add_argument(
        "--budget-fte",
        type=_positive("FTE"),
        default=None,
        metavar="B",
        help="budget in FTE (default: each run's own)",
    )
    summary.add_argument(
        "--target", type=_accuracy, default=None, metavar="T",
        help="accuracy to reach in %% (default: the best normal-training accuracy of the run's FTE store)",
    )  # fmt: skip
    summary.add_argument("--json", action="store_true", help="print a JSON list, one object per run")

    traj = cli.command(
        "trajectories", _cmd_trajectories, help="every evaluation of search stores as CSV",
        description=f"One row per evaluation with the columns {', '.join(TRAJECTORY_COLUMNS)}.",
    )  # fmt: skip
    traj.add_argument("runs", nargs="+", type=non_empty, metavar="RUN", help="search stores")
    traj.add_argument("--csv", action="store_true", required=True, help="write CSV (the one format)")
    traj.add_argument(
        "--out",
        type=non_empty,
        default=None,
        metavar="FILE",
        help="write to FILE (atomically) instead of stdout",
    )

    lst = cli.command("list", _cmd_list, help="the registered search algorithms and their parameters")
    lst.add_argument("--json", action="store_true", help="print JSON instead of a table")

    par = cli.command(
        "pareto", _cmd_pareto, help="accuracy x latency fronts of search stores and their hypervolume",
        description="Per search store: the Pareto front (reported accuracy up, latency down) each seed found, "
        "its hypervolume against the stored reference point, normalised by the true front's.",
    )  # fmt: skip
    par.add_argument(
        "runs",
        nargs="+",
        type=non_empty,
        metavar="RUN",
        help="search stores (searched with a latency device)",
    )
    par.add_argument(
        "--latency", action="extend", nargs="+", type=non_empty, default=None, metavar="PATH",
        help="latency stores to attach when rebuilding the evaluator (default: those the run or its benchmark recorded)",
    )  # fmt: skip
    par.add_argument("--json", action="store_true", help="print a JSON list, one object per run")
    return cli


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``blox-search`` (for documentation tools and tests)."""
    return build_cli().parser


# ---------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------
def _cmd_run(args: argparse.Namespace) -> int:
    algorithm = get_algorithm(args.algorithm, **_unique(args.params, "--set"))
    algorithm.check_available()
    check_output_path(args.out, overwrite=True)  # writable; an existing store is resumed
    if args.evaluator != "blockwise":
        given = [flag for dest, flag in _BLOCKWISE_ONLY.items() if getattr(args, dest) is not None]
        if given:
            raise ConfigError(f"{', '.join(given)}: only for --evaluator blockwise")
    evaluator = {"live": _live_evaluator, "blockwise": _blockwise_evaluator}.get(
        args.evaluator, _tabular_evaluator
    )(args)
    cost = _cost_model(args)
    describe = evaluator.describe()
    # debug, not info: run_search still refuses a store of another search with one line
    logger.debug(
        "%s on %s (%s candidates): %g FTE (= %.4g s) per seed, seeds %s -> %s",
        algorithm.name, args.store, describe.get("num_candidates", len(evaluator.candidates)), args.budget_fte,
        cost.to_seconds(args.budget_fte), _seeds_text(args.seeds), args.out,
    )  # fmt: skip
    trajectories = run_search(
        algorithm, evaluator, budget_fte=args.budget_fte, seeds=args.seeds, cost=cost, out=args.out,
        overwrite=args.overwrite, max_evaluations=args.max_evaluations, progress=args.progress,
    )  # fmt: skip
    rows = [_seed_row(t) for t in trajectories]
    if args.json:
        print(json.dumps(_jsonable(rows), indent=2))
    else:
        for row in rows:
            print(
                f"{row['algorithm']} seed {row['seed']}: {row['num_evaluations']} evaluations "
                f"({row['num_repeats']} repeats), {_fmt(row['cum_fte'], '.4g')} FTE, incumbent model "
                f"{row['incumbent']} (search {_fmt(row['incumbent_search'])}, reported "
                f"{_fmt(row['incumbent_reported'])}), stopped: {row['stop_reason']}"
            )
    logger.info("wrote %s (%d seeds)", args.out, len(rows))
    return 0


def _unique(pairs: list[tuple[str, Any]], flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ConfigError(f"{flag} {key} is given twice; give each key once")
        out[key] = value
    return out


def _seeds_text(seeds: list[int]) -> str:
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}:{seeds[-1] + 1}"
    return ",".join(map(str, seeds))


def _tabular_evaluator(args: argparse.Namespace) -> TabularEvaluator:
    given = [flag for dest, flag in _LIVE_ONLY.items() if getattr(args, dest) is not None]
    if given:
        raise ConfigError(f"{', '.join(given)}: only for --evaluator live")
    if not Path(args.store).exists():
        raise ConfigError(f"no store at {args.store} (STORE: a benchmark, finetune or surrogate store)")
    policy = "cycle" if args.seed_policy is None else args.seed_policy
    return TabularEvaluator(args.store, seed=policy, latency_device=args.latency_device, latency=args.latency)


def _blockwise_evaluator(args: argparse.Namespace) -> Any:
    given = [flag for dest, flag in _LIVE_ONLY.items() if getattr(args, dest) is not None]
    if given:
        raise ConfigError(f"{', '.join(given)}: only for --evaluator live")
    if not args.finetune:
        raise ConfigError("--evaluator blockwise needs --finetune FT.zarr (one or more finetune stores)")
    for path in [args.store, *args.finetune, *[p for _, p in args.blockwise or []]]:
        if not Path(path).exists():
            raise ConfigError(f"no store at {path}")
    from .evaluators.blockwise import BlockwiseEvaluator

    policy = "cycle" if args.seed_policy is None else args.seed_policy
    return BlockwiseEvaluator(
        args.store,
        finetune=args.finetune,
        blockwise=_unique(args.blockwise or [], "--blockwise"),
        teacher=args.teacher,
        ft_epochs=args.ft_epochs,
        teacher_given=bool(args.teacher_given),
        seed=policy,
        latency_device=args.latency_device,
        latency=args.latency,
    )


def _live_evaluator(args: argparse.Namespace) -> Any:
    if args.seed_policy is not None:
        raise ConfigError("--seed-policy: only for --evaluator tabular (a live evaluator trains each model)")
    if args.fte_store is None and args.fte_seconds is None:
        raise ConfigError(
            "--evaluator live needs --fte-store (a normal-training benchmark store) or --fte-seconds to define one FTE"
        )
    if args.latency_device is not None or args.latency is not None:
        raise ConfigError("--latency-device, --latency: only for --evaluator tabular")
    try:
        from .evaluators.live import LiveEvaluator
    except ModuleNotFoundError as err:
        name = err.name or ""
        if name.startswith("blox_search"):
            raise ConfigError(
                "this blox-search has no live evaluator (blox_search.evaluators.live)"
            ) from None
        raise MissingExtraError(
            f"--evaluator live needs blox-train ({name} is missing); install it with pip install 'blox-search[live]'"
        ) from None
    return LiveEvaluator(
        args.store,
        recipe=args.recipe or "quick",
        models=args.models,
        overrides=args.train_set,  # KEY=VALUE strings, typed by blox-train's recipe rules
        device=args.device or "cpu",
        data_root=args.data_root,
        threads=args.threads,
        reuse=args.reuse,
    )


def _cost_model(args: argparse.Namespace) -> CostModel:
    fte_store = (
        args.fte_store
        if args.fte_store is not None
        else (args.store if args.evaluator in ("tabular", "blockwise") else None)
    )
    if args.fte_seconds is not None:
        reference: dict[str, Any] = {"statistic": "given with --fte-seconds"}
        if args.fte_store is not None:
            if not Path(args.fte_store).exists():
                raise ConfigError(f"no store at {args.fte_store} (--fte-store)")
            reference["store"] = str(args.fte_store)
        cost = CostModel(float(args.fte_seconds), reference=reference)
    else:
        if not Path(fte_store).exists():
            raise ConfigError(f"no store at {fte_store} (--fte-store: a normal-training benchmark store)")
        cost = CostModel.from_benchmark(fte_store)
        if cost.reference.get("store_kind") == "finetune":
            logger.warning(
                "one FTE is the median train_seconds of %s, a finetune store; pass --fte-store with the "
                "normal-training benchmark store of the reference recipe (SPEC §0)",
                fte_store,
            )
    if args.one_time:
        cost = cost.with_one_time(**_unique(args.one_time, "--one-time"))
    return cost


def _seed_row(traj: Any) -> dict[str, Any]:
    n = len(traj)
    last = n - 1
    return {
        "algorithm": traj.algorithm,
        "seed": traj.seed,
        "num_evaluations": n,
        "num_repeats": int(np.count_nonzero(traj.is_repeat)),
        "cum_cost_s": float(traj.cum_cost_s[last]) if n else 0.0,
        "cum_fte": float(traj.cum_fte[last]) if n else 0.0,
        "incumbent": int(traj.incumbent[last]) if n else -1,
        "incumbent_search": float(traj.incumbent_search[last]) if n else math.nan,
        "incumbent_reported": float(traj.incumbent_reported[last]) if n else math.nan,
        "stop_reason": traj.stop_reason,
    }


# ---------------------------------------------------------------------------------------
# summary, trajectories, list, pareto
# ---------------------------------------------------------------------------------------
def _cmd_summary(args: argparse.Namespace) -> int:
    rows = summarize(_runs(args.runs), budget_fte=args.budget_fte, target=args.target)
    if args.json:
        print(json.dumps(_jsonable(rows), indent=2))
        return 0
    table = [
        ("algorithm", "evaluator", "seeds", "budget FTE", "acc at budget %", "target %", "cost at target FTE")
    ]
    for row in rows:
        acc = (
            f"{_fmt(row['acc_at_budget_mean'])} ± {_fmt(row['acc_at_budget_std'])}"
            if row["num_at_budget"]
            else "n/a"
        )
        if row["cost_at_target_mean"] is None:
            cost = f"× (0/{row['num_seeds']})"
        else:
            cost = (
                f"{_fmt(row['cost_at_target_mean'], '.3g')} ± {_fmt(row['cost_at_target_std'], '.2g')} "
                f"({row['num_reached']}/{row['num_seeds']})"
            )
        table.append(
            (
                row["algorithm"], row["evaluator"], str(row["num_seeds"]), _fmt(row["budget_fte"], "g"), acc,
                _fmt(row["target"]), cost,
            )
        )  # fmt: skip
    _print_table(table)
    return 0


def _cmd_trajectories(args: argparse.Namespace) -> int:
    import pandas as pd

    frames = [run.to_frame()[list(TRAJECTORY_COLUMNS)] for run in _runs(args.runs)]
    frame = pd.concat(frames, ignore_index=True)
    text = frame.to_csv(index=False, lineterminator="\n")
    if args.out:
        write_text_atomic(args.out, text)
        logger.info("wrote %d rows to %s", len(frame), args.out)
    else:
        sys.stdout.write(text)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    rows = []
    for name in list_algorithms():
        cls = ALGORITHMS.get(name)
        algorithm = cls()
        rows.append({"algorithm": name, "requires": list(cls.requires), "params": algorithm.get_params()})
    if args.json:
        print(json.dumps(_jsonable(rows), indent=2))
    else:
        for row in rows:
            params = ", ".join(f"{k}={v}" for k, v in row["params"].items())
            extra = f"  (needs {', '.join(row['requires'])})" if row["requires"] else ""
            print(f"{row['algorithm']:<20} {params}{extra}")
    return 0


def _cmd_pareto(args: argparse.Namespace) -> int:
    try:
        from .pareto import pareto_summary
    except ModuleNotFoundError as err:
        if (err.name or "").startswith("blox_search"):
            raise ConfigError("this blox-search has no Pareto analysis (blox_search.pareto)") from None
        raise
    extra = {} if args.latency is None else {"latency": args.latency}
    rows = [pareto_summary(run, **extra) for run in _runs(args.runs)]
    if args.json:
        print(json.dumps(_jsonable(rows), indent=2))
        return 0
    for row in rows:
        ref = row.get("reference_point") or {}
        print(
            f"{row['algorithm']} ({row['evaluator']}, latency on {row['latency_device']}): normalised hypervolume "
            f"{_fmt(row['normalized_hypervolume_mean'], '.3f')} ± {_fmt(row['normalized_hypervolume_std'], '.3f')} "
            f"over {len(row['seeds'])} seeds (true front {_fmt(row['true_hypervolume'], '.4g')}; reference point "
            f"{_fmt(ref.get('reported_metric'))} %, {_fmt(ref.get('latency_s'), '.4g')} s)"
        )
    return 0


def _runs(paths: Sequence[str]) -> list[Any]:
    runs = []
    for path in paths:
        if not Path(path).exists():
            raise ConfigError(f"no search store at {path}")
        runs.append(open_search(path))
    return runs


# ---------------------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------------------
def _fmt(value: Any, spec: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return format(value, spec)


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _jsonable(value: Any) -> Any:
    """NaN / inf to None and numpy scalars to Python, so the output is strict JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: exit 0 on success, 2 with one stderr line on a user mistake."""
    return build_cli().main(argv)


if __name__ == "__main__":
    sys.exit(main())
