"""The ``blox-train`` command: ``benchmark`` (a shard of models), ``train`` (one model),
``teacher`` (train and save a teacher), ``finetune`` (students from a block library),
``distill`` (a teacher stage into a blockwise shard and a block library), ``library`` (what a
library holds), ``supernet`` (DARTS-PT: one model from the trained supernet), ``recipes`` (list them). Thin: parse, call the public API, format. User mistakes
exit 2 with one line on stderr."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import blox_space as bs
import numpy as np
from blox_space.cli.options import MODELS_HELP, bounded_int, bucket_of, non_empty, thread_count, worker_count
from blox_space.cli.runner import CommandLine

from . import __version__
from .blockwise import run_distill
from .distill import DEFAULT_DISTILL_EPOCHS, parse_blocks
from .errors import ConfigError
from .finetune import read_models_file, run_finetune
from .library import open_library
from .recipes import get_recipe, list_recipes, parse_overrides
from .shard import run_shard
from .teacher import RECORD_FILE, load_teacher, make_teacher
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
    _add_run_args(p)


def _add_run_args(p: argparse.ArgumentParser) -> None:
    """Where and how a run happens (none changes a result): data, device, workers, threads, bars."""
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
        type=bucket_of,
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

    _add_teacher_command(cli)
    _add_finetune_command(cli)
    _add_distill_commands(cli)
    _add_supernet_command(cli)

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


def _add_teacher_command(cli: CommandLine) -> None:
    cmd = cli.command(
        "teacher", _cmd_teacher, help="train a teacher and save its weights and record",
        description="Train one model with the normal-training path and save it as a teacher folder "
        "(weights.pt + teacher.json). With --benchmark, ARCH may be a selector resolved among the "
        "store's trained models (rank:1 best, rank:-1 worst, median, quantile:Q), and the store's "
        "recipe must be this recipe, so the teacher's metrics are the store's row. A rerun into a "
        "folder holding the same teacher skips it.",
    )  # fmt: skip
    cmd.add_argument("arch", help="architecture (any form), or with --benchmark a selector such as rank:1")
    cmd.add_argument(
        "--benchmark", type=non_empty, default=None, metavar="STORE",
        help="benchmark store to resolve a selector in (its recipe must be --recipe with --set)",
    )  # fmt: skip
    cmd.add_argument(
        "--name", type=non_empty, default=None, metavar="NAME", help="the teacher's name, e.g. M1 (recorded)"
    )
    cmd.add_argument(
        "--seed", type=bounded_int(0, 2**32 - 1, what="a seed"), default=None,
        help="model seed (default: the recipe's first seed)",
    )  # fmt: skip
    cmd.add_argument(
        "--out",
        required=True,
        type=non_empty,
        metavar="DIR",
        help="teacher folder to create (missing or empty)",
    )
    _add_recipe_args(cmd)


def _cmd_teacher(args: argparse.Namespace) -> int:
    _threads(args)
    recipe = _recipe(args)
    arch, selector = args.arch, None
    if args.benchmark is not None:
        bench = bs.open_benchmark(args.benchmark, latency=[])
        if bench.recipe_id != recipe.id:
            raise ConfigError(
                f"{args.benchmark} was trained with recipe id {bench.recipe_id}, not {recipe.id} "
                f"({recipe.name} with the --set overrides); the teacher must use the store's recipe"
            )
        arch, selector = bs.select_model(bench, args.arch), args.arch
    elif bs.parse_selector(args.arch).kind != "model":
        raise ConfigError(
            f"{args.arch!r} is a selector; give --benchmark STORE to resolve it among trained models"
        )
    existed = (Path(args.out) / RECORD_FILE).exists()
    teacher = make_teacher(
        arch,
        recipe,
        out=args.out,
        seed=args.seed,
        name=args.name,
        selector=selector,
        data_root=args.data_root,
        download=args.download,
        device=args.device,
        num_workers=args.workers,
        progress=_progress(args),
    )
    r = teacher.record
    what = "already holds teacher" if existed else "saved teacher"
    name = f" {r['name']}" if r["name"] else ""
    print(
        f"{teacher.path}: {what}{name} model {r['model']} ({r['arch']}) seed {r['seed']} recipe {r['recipe_id']}:"
        f" val_acc {r['val_acc']:.2f} test_acc {r['test']['test_acc']:.2f} (best epoch {r['best_epoch']}),"
        f" {r['train_seconds']:.1f} s"
    )
    return 0


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number; alpha must be in [0, 1]") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value:g} is out of range; alpha must be in [0, 1]")
    return value


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not a number; the temperature must be > 0"
        ) from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(
            f"{value:g} is not allowed; the temperature must be a finite number > 0"
        )
    return value


def _add_finetune_command(cli: CommandLine) -> None:
    cmd = cli.command(
        "finetune", _cmd_finetune, help="fine-tune students from a teacher's block library into a shard",
        description="Assemble each student from the teacher's stem and classifier and the library's "
        "blocks, train it EPOCHS epochs with (1-alpha)*CE + alpha*KL(T) under the teacher's recipe "
        "(its schedule over EPOCHS), and write one finetune shard store. Re-running skips finished "
        "students and resumes the interrupted one.",
    )  # fmt: skip
    cmd.add_argument("--teacher", required=True, type=non_empty, metavar="DIR", help="teacher folder")
    cmd.add_argument(
        "--library", required=True, type=non_empty, metavar="DIR", help="block library folder of that teacher"
    )
    models = cmd.add_mutually_exclusive_group(required=True)
    models.add_argument("--models", metavar="SPEC", help=MODELS_HELP)
    models.add_argument(
        "--models-from", type=non_empty, metavar="FILE.json",
        help="JSON file with the students: its 'models' list (as blox-space select writes) or a plain list",
    )  # fmt: skip
    buckets = cmd.add_mutually_exclusive_group()
    buckets.add_argument(
        "--bucket", type=bucket_of, default=None, metavar="I/N", help="record this shard as bucket I of N"
    )
    buckets.add_argument(
        "--bucket-of", type=bucket_of, default=None, metavar="I/N",
        help="keep slice I of N of the students (contiguous, sorted) and record it as bucket I of N",
    )  # fmt: skip
    cmd.add_argument(
        "--epochs", required=True, type=bounded_int(1, 100_000, what="an FT length"), metavar="N",
        help="fine-tuning epochs (the FT length)",
    )  # fmt: skip
    cmd.add_argument(
        "--distill-epoch", type=bounded_int(1, 999, what="a snapshot epoch"), default=None, metavar="E",
        help="library snapshot epoch of the students' blocks (default: the library's last)",
    )  # fmt: skip
    cmd.add_argument(
        "--alpha", type=_alpha, default=0.9, help="weight of the KL term in [0, 1] (default 0.9)"
    )
    cmd.add_argument(
        "--temperature", type=_temperature, default=1.0, help="distillation temperature T > 0 (default 1)"
    )
    cmd.add_argument(
        "--out",
        required=True,
        type=non_empty,
        metavar="SHARD.zarr",
        help="finetune shard store to create or resume",
    )
    _add_run_args(cmd)


def _cmd_finetune(args: argparse.Namespace) -> int:
    _threads(args)
    models = read_models_file(args.models_from) if args.models_from else bs.parse_models(args.models)
    bucket = args.bucket
    if args.bucket_of is not None:
        index, count = bucket = args.bucket_of
        if count > len(models):
            raise ConfigError(f"--bucket-of {index}/{count}: there are only {len(models)} students to split")
        models = np.array_split(models, count)[index]
    summary = run_finetune(
        args.teacher,
        args.library,
        models,
        epochs=args.epochs,
        out=args.out,
        distill_epoch=args.distill_epoch,
        alpha=args.alpha,
        temperature=args.temperature,
        bucket=bucket,
        data_root=args.data_root,
        download=args.download,
        device=args.device,
        num_workers=args.workers,
        progress=_progress(args),
    )
    print(
        f"{summary.path}: {summary.num_runs} students, {summary.num_trained} fine-tuned ({summary.num_failed} failed), "
        f"{summary.num_skipped} already finished, {summary.seconds:.1f} s"
    )
    return 0


def _block_spec(text: str) -> tuple[int, ...]:
    """``--blocks``: a block spec (:func:`blox_train.parse_blocks`), keeping its message."""
    try:
        return parse_blocks(text)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _add_distill_commands(cli: CommandLine) -> None:
    cmd = cli.command(
        "distill", _cmd_distill, help="distill a teacher stage's candidate blocks into a shard and a block library",
        description="Distill the candidate blocks of one stage of a teacher (one teacher forward per batch "
        "for all of them) with the NSR loss, save every block's weights into the library folder at each "
        "snapshot epoch, measure its LANA signature there, and write one blockwise shard store. "
        "Re-running resumes an interrupted shard from its per-epoch checkpoint and skips a finished one.",
    )  # fmt: skip
    cmd.add_argument("--teacher", required=True, type=non_empty, metavar="DIR", help="teacher folder")
    cmd.add_argument(
        "--stage", required=True, type=bounded_int(0, 2, what="a stage"), metavar="S", help="stage 0..2"
    )
    which = cmd.add_mutually_exclusive_group()
    which.add_argument(
        "--blocks", type=_block_spec, default="all", metavar="SPEC",
        help="candidate block ids: all (default), or ids and ranges A:B (B excluded) separated by commas, "
        "e.g. 0,3,10:20",
    )  # fmt: skip
    which.add_argument(
        "--blocks-of", type=non_empty, default=None, metavar="FILE.json",
        help="distill only the blocks that the models of this file use at the stage (the 'models' list "
        "`blox-space select` writes, or a plain list): the students' blocks, nothing more",
    )  # fmt: skip
    cmd.add_argument(
        "--epochs", type=bounded_int(1, 999, what="a distillation epoch count"), default=DEFAULT_DISTILL_EPOCHS,
        metavar="E", help=f"distillation epochs (default {DEFAULT_DISTILL_EPOCHS})",
    )  # fmt: skip
    cmd.add_argument(
        "--snapshots", type=non_empty, default=None, metavar="LIST",
        help="epochs in 1..E at which weights are saved and LANA measured, e.g. 1,5,10 (default: E)",
    )  # fmt: skip
    cmd.add_argument(
        "--recipe", default=None, help="recipe driving distillation (default: the teacher's recipe)"
    )
    cmd.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a setting of that recipe, e.g. --set lr=0.05 (repeatable)",
    )  # fmt: skip
    cmd.add_argument(
        "--seed", type=bounded_int(0, 2**32 - 1, what="a seed"), default=0,
        help="seed of the candidates' initial weights and the data order (default 0)",
    )  # fmt: skip
    cmd.add_argument(
        "--out",
        required=True,
        type=non_empty,
        metavar="SHARD.zarr",
        help="blockwise shard store to create or resume",
    )
    cmd.add_argument(
        "--library", required=True, type=non_empty, metavar="DIR",
        help="block library folder of the teacher (shared by its shards)",
    )  # fmt: skip
    _add_run_args(cmd)

    lib = cli.command(
        "library", _cmd_library, help="show what a block library folder holds",
        description="Show a block library folder's teacher, distillation id and blocks per stage; with "
        "--verify, read every weights file and check its sha256.",
    )  # fmt: skip
    lib.add_argument("library", type=non_empty, metavar="DIR", help="block library folder")
    lib.add_argument("--verify", action="store_true", help="check every file's sha256")


def _cmd_distill(args: argparse.Namespace) -> int:
    _threads(args)
    teacher = load_teacher(args.teacher)
    overrides = parse_overrides(args.overrides)
    base = teacher.recipe if args.recipe is None else get_recipe(args.recipe)
    blocks = args.blocks
    if args.blocks_of is not None:  # the blocks the students use at this stage
        used = bs.indices_to_blocks(read_models_file(args.blocks_of)).reshape(-1, bs.NUM_STAGES)
        blocks = sorted(int(b) for b in np.unique(used[:, args.stage]))
    summary = run_distill(
        teacher, args.stage, blocks=blocks, epochs=args.epochs, snapshots=args.snapshots,
        recipe=base.replace(**overrides) if overrides else base, out=args.out, library=args.library,
        seed=args.seed, data_root=args.data_root, download=args.download, device=args.device,
        num_workers=args.workers, progress=_progress(args),
    )  # fmt: skip
    what = "already finished" if summary.is_skipped else "distilled"
    print(
        f"{summary.path}: stage {summary.stage}, {len(summary.block_ids)} blocks {what}: {summary.num_done} done, "
        f"{summary.num_failed} failed; {summary.dead_channels} dead teacher channels; library {summary.library}; "
        f"{summary.seconds:.1f} s"
    )
    return 0


def _cmd_library(args: argparse.Namespace) -> int:
    library = open_library(args.library)
    t = library.teacher
    print(
        f"{library.path}: teacher model {t['model']} (blocks {tuple(t['block_ids'])}, width {t['width']}, "
        f"resolution {t['resolution']}, {t['num_classes']} classes, recipe {t['recipe_id']}), "
        f"distill id {library.distill_id}"
    )
    for stage in library.stages():
        blocks = library.blocks(stage)
        epochs = sorted({e for b in blocks for e in library.epochs(stage, b)})
        print(f"stage {stage}: {len(blocks)} blocks, snapshot epochs {epochs}")
    if args.verify:
        print(f"verified {library.verify()} files (sha256)")
    return 0


def _add_supernet_command(cli: CommandLine) -> None:
    cmd = cli.command(
        "supernet", _cmd_supernet, help="DARTS-PT: train the Blox supernet, project it to one model",
        description="Train the Blox supernet (SPEC 7b) on the recipe's dataset with first-order DARTS, "
        "then pick one model by perturbation-based projection (DARTS-PT). With --workdir the run is "
        "checkpointed every epoch and resumed; a finished work folder is read back.",
    )  # fmt: skip
    cmd.add_argument(
        "--seed", type=bounded_int(0, 2**32 - 1, what="a seed"), default=0, help="search seed (default 0)"
    )
    cmd.add_argument(
        "--epochs", type=bounded_int(0, None, what="an epoch count"), default=None,
        help="supernet training epochs (default: the recipe's epochs)",
    )  # fmt: skip
    cmd.add_argument(
        "--proj-intv", type=bounded_int(0, None, what="an epoch count"), default=5, metavar="N",
        help="tuning epochs between two projections (default 5, as DARTS-PT)",
    )  # fmt: skip
    cmd.add_argument(
        "--no-tune-alpha", dest="tune_alpha", action="store_false",
        help="tune only the weights between projections (default: weights and alpha)",
    )  # fmt: skip
    cmd.add_argument("--lr", type=float, default=0.025, help="weights' learning rate (default 0.025)")
    cmd.add_argument("--arch-lr", type=float, default=3e-4, help="alpha's learning rate (default 3e-4)")
    cmd.add_argument(
        "--workdir",
        type=non_empty,
        default=None,
        metavar="DIR",
        help="work folder to checkpoint and resume in",
    )
    cmd.add_argument("--json", action="store_true", help="print the whole result as JSON")
    _add_recipe_args(cmd)


def _cmd_supernet(args: argparse.Namespace) -> int:
    from .oneshot import run_darts_pt

    _threads(args)
    result = run_darts_pt(
        _recipe(args), seed=args.seed, epochs=args.epochs, proj_intv=args.proj_intv, tune_alpha=args.tune_alpha,
        lr=args.lr, arch_lr=args.arch_lr, data_root=args.data_root, download=args.download, device=args.device,
        workdir=args.workdir,
    )  # fmt: skip
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    argmax = result.argmax_block_ids
    print(
        f"DARTS-PT model {result.model} (blocks {tuple(result.block_ids)}); plain DARTS argmax: "
        f"{argmax if isinstance(argmax, str) else f'model {result.argmax_model} (blocks {tuple(argmax)})'}"
    )
    print(
        f"{result.train_seconds:.1f} s supernet training + {result.projection_seconds:.1f} s projection "
        f"({result.tune_epochs} tuning epochs) = {result.seconds:.1f} s"
    )
    for line in result.resolutions:
        print(f"resolved: {line}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: exit 0 on success, 2 with one stderr line on a user mistake."""
    return build_cli().main(argv)


if __name__ == "__main__":
    sys.exit(main())
