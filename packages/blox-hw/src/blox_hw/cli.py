"""The ``blox-hw`` command: devices, protocols, profile, blocks, validate, merge, show.

stdout carries results (a readable table or ``--json``); logs, the time estimate and
progress bars go to stderr. A user mistake exits 2 with one ``blox-hw: error: ...`` line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from blox_space import NUM_BLOCKS, NUM_STAGES
from blox_space.cli.options import (
    MODELS_HELP,
    add_geometry_options,
    bounded_int,
    model_spec,
    non_empty,
    thread_count,
)
from blox_space.cli.runner import CommandLine
from blox_space.schema import STATUS_DONE
from blox_space.store import check_output_path

from . import __version__
from .devices import Device, default_threads, get_device, list_devices
from .errors import DeviceUnavailableError
from .protocol import CLOCKS, Protocol, get_protocol, list_protocols

if TYPE_CHECKING:
    from .measure import Setup

# Measuring, the lookup table and the stores need torch and blox-train: each command imports
# them where it runs, so `devices --no-probe`, `protocols` and `--help` answer without them.

logger = logging.getLogger("blox_hw")

PROG = "blox-hw"
_MODELS_HELP = MODELS_HELP


def _add_device(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("device")
    g.add_argument(
        "--device",
        default="cpu",
        help=f"device kind, optionally kind:index ({', '.join(list_devices())}; default cpu)",
    )
    g.add_argument("--precision", default=None, help="fp32 (default), bf16 (cpu, cuda), fp16 (cuda)")
    g.add_argument(
        "--device-name",
        type=non_empty,
        default=None,
        help="override the derived {kind}-{model}-{precision} name",
    )
    g.add_argument(
        "--threads",
        type=thread_count,
        default=None,
        help="CPU threads while measuring (default: cores available)",
    )
    g.add_argument(
        "--skip-unavailable",
        action="store_true",
        help="exit 0 with a message (and write nothing) if the device is absent",
    )


def _add_protocol(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("protocol")
    g.add_argument(
        "--protocol",
        default="quick",
        help=f"measurement protocol ({', '.join(list_protocols())}; default quick)",
    )
    g.add_argument(
        "--batch-size", type=int, default=None, help="images per forward pass (protocol default 1)"
    )
    g.add_argument("--warmup-runs", type=int, default=None, help="untimed warm-up calls")
    g.add_argument("--num-runs", type=int, default=None, help="runs N, each with a fresh random input")
    g.add_argument("--num-reps", type=int, default=None, help="timed repetitions M per run")
    g.add_argument("--pause-s", type=float, default=None, help="pause between runs, seconds")
    g.add_argument(
        "--clock", choices=CLOCKS, default=None,
        help="wall (default) or thread: the measuring thread's CPU time, stable on a shared CPU (needs --threads 1)",
    )  # fmt: skip


def _add_geometry(p: argparse.ArgumentParser) -> None:
    add_geometry_options(p, group_title="network")
    p.add_argument(
        "--seed", type=bounded_int(0, 2**32 - 1, what="a seed"), default=0,
        help="seed of weights and random inputs (default 0)",
    )  # fmt: skip


def build_cli() -> CommandLine:
    """The ``blox-hw`` command line with every subcommand."""
    cli = CommandLine(
        PROG,
        description="Latency of Blox models per device: profile, block table, validation.",
        version=__version__,
    )

    p = cli.command("devices", _cmd_devices, help="list device kinds, their derived names and availability")
    p.add_argument("--json", action="store_true", help="JSON on stdout")
    p.add_argument(
        "--no-probe",
        action="store_true",
        help="only the registered kinds and their precisions, without probing the hardware (no torch import: fast)",
    )

    p = cli.command("protocols", _cmd_protocols, help="list measurement protocols and their settings")
    p.add_argument("--json", action="store_true", help="JSON on stdout")

    p = cli.command("profile", _cmd_profile, help="measure end-to-end latency of models into a latency store")
    p.add_argument("--models", required=True, help=_MODELS_HELP)
    p.add_argument("--out", required=True, type=Path, help="latency store to write (Zarr folder)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--json", action="store_true", help="summary as JSON on stdout")
    _add_device(p)
    _add_protocol(p)
    _add_geometry(p)

    p = cli.command(
        "blocks", _cmd_blocks, help="measure the per-block lookup table (135 stage blocks + stem and head)"
    )
    p.add_argument("--out", required=True, type=Path, help="lookup-table store to write (Zarr folder)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--json", action="store_true", help="summary as JSON on stdout")
    _add_device(p)
    _add_protocol(p)
    _add_geometry(p)

    p = cli.command(
        "validate",
        _cmd_validate,
        help="compare the table's additive prediction with measured end-to-end latency",
    )
    p.add_argument("store", type=Path, help="lookup-table store written by `blox-hw blocks`")
    p.add_argument("--models", required=True, help=_MODELS_HELP)
    p.add_argument("--measured", type=Path, default=None, help="use this latency store instead of measuring")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="also write the measured latencies and metrics as a latency store",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument(
        "--json",
        action="store_true",
        help="JSON on stdout: spearman, kendall, mape (%%), n and per-model values",
    )
    p.add_argument(
        "--seed", type=bounded_int(0, 2**32 - 1, what="a seed"), default=0,
        help="seed of weights and random inputs (default 0)",
    )  # fmt: skip
    p.add_argument(
        "--threads", type=thread_count, default=None, help="CPU threads (default: the table's thread count)"
    )

    p = cli.command("merge", _cmd_merge, help="merge latency shard stores of one device into one store")
    p.add_argument("shards", nargs="+", type=Path, help="latency stores written by `blox-hw profile`")
    p.add_argument("--out", required=True, type=Path, help="merged latency store to write")
    p.add_argument(
        "--expect", default=None, type=model_spec,
        help="models the merged store must hold (model spec); a gap is an error",
    )  # fmt: skip
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="accept gaps; the merged store is marked is_partial and lists them",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")

    p = cli.command("show", _cmd_show, help="summarise a latency or lookup-table store")
    p.add_argument("store", type=Path, help="a store written by blox-hw")
    p.add_argument("--json", action="store_true", help="JSON on stdout")
    return cli


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``blox-hw`` (for documentation tools and tests)."""
    return build_cli().parser


def _device(args: argparse.Namespace) -> Device:
    return get_device(args.device, precision=args.precision, name=args.device_name, threads=args.threads)


def _protocol(args: argparse.Namespace) -> Protocol:
    return get_protocol(
        args.protocol,
        batch_size=args.batch_size,
        warmup_runs=args.warmup_runs,
        num_runs=args.num_runs,
        num_reps=args.num_reps,
        pause_s=args.pause_s,
        clock=args.clock,
    )


def _setup(args: argparse.Namespace) -> Setup:
    from .measure import Setup

    return Setup(_device(args), _protocol(args), args.width, args.resolution, args.num_classes)


def _emit(payload: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(lines) + "\n")


def _estimate(setup: Setup, *, model_equivalents: float, num_modules: int, what: str) -> None:
    from .measure import calibrate_call_s, estimate_seconds, format_seconds

    load = _load_average()
    if (
        setup.device.torch_device == "cpu"
        and setup.protocol.clock == "wall"
        and load is not None
        and load > default_threads()
    ):
        logger.warning(
            "this machine is busy (load average %.1f on %d cores): CPU latencies will be slow and noisy%s",
            load, default_threads(), "; --threads 1 --clock thread is stable",
        )  # fmt: skip
    call_s = calibrate_call_s(setup)
    total = estimate_seconds(
        setup, model_equivalents=model_equivalents, num_modules=num_modules, call_s=call_s
    )
    p = setup.protocol
    logger.info(
        "%s on %s (%d thread%s), protocol %s (%d warm-up + %d runs x %d reps, batch %d): about %s"
        " (one full model ~%.1f ms)",
        what, setup.device.name, setup.device.threads, "" if setup.device.threads == 1 else "s", p.name, p.warmup_runs, p.num_runs, p.num_reps,
        p.batch_size, format_seconds(total), call_s * 1e3,
    )  # fmt: skip


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not on Linux/macOS
        return None


def _device_absent(args: argparse.Namespace, device: Device) -> bool:
    reason = device.unavailable_reason()
    if reason is None:
        return False
    if args.skip_unavailable:
        logger.warning("skipping device %s: %s", device.kind, reason)
        return True
    raise DeviceUnavailableError(f"device {device.kind} is not available here: {reason}")


def _cmd_devices(args: argparse.Namespace) -> int:
    if args.no_probe:
        kinds = [{"kind": kind, "precisions": list(get_device(kind).precisions)} for kind in list_devices()]
        lines = [f"{'kind':<12} precisions"] + [f"{r['kind']:<12} {','.join(r['precisions'])}" for r in kinds]
        _emit({"devices": kinds}, args.json, lines)
        return 0
    rows = []
    for kind in list_devices():
        device = get_device(kind)
        reason = device.unavailable_reason()
        rows.append(
            {
                "kind": kind,
                "name": device.name,
                "precisions": list(device.precisions),
                "available": reason is None,
                "reason": reason,
            }
        )
    lines = [f"{'kind':<12} {'available':<9} {'name':<40} precisions"]
    lines += [
        f"{r['kind']:<12} {'yes' if r['available'] else 'no':<9} {r['name']:<40} {','.join(r['precisions'])}"
        + ("" if r["available"] else f"  ({r['reason']})")
        for r in rows
    ]
    _emit({"devices": rows}, args.json, lines)
    return 0


def _cmd_protocols(args: argparse.Namespace) -> int:
    rows = [get_protocol(name).to_dict() for name in list_protocols()]
    lines = [f"{'name':<8} batch warm-up runs reps pause_s  calls"]
    lines += [
        f"{r['name']:<8} {r['batch_size']:>5} {r['warmup_runs']:>7} {r['num_runs']:>4} {r['num_reps']:>4} {r['pause_s']:>7}"
        f"  {get_protocol(r['name']).num_calls}"
        for r in rows
    ]
    _emit({"protocols": rows}, args.json, lines)
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    from ._models import parse_models
    from .measure import measure_models
    from .store import write_latencies

    models = parse_models(args.models)
    setup = _setup(args)
    if _device_absent(args, setup.device):
        return 0
    _check_out(args.out, args.overwrite)
    _estimate(setup, model_equivalents=len(models), num_modules=len(models), what=f"{len(models)} models")
    start = time.perf_counter()
    result = measure_models(
        models, device=setup.device, protocol=setup.protocol, width=args.width, resolution=args.resolution,
        num_classes=args.num_classes, seed=args.seed, progress=None,
    )  # fmt: skip
    write_latencies(args.out, result, overwrite=args.overwrite)
    done = result.status == STATUS_DONE
    payload = {
        "store": str(args.out), "device": result.device, "n": int(done.sum()), "failed": int((~done).sum()),
        "median_latency_s": _nan_stat(np.median, result.latency_s[done]),
        "median_spread": _nan_stat(np.median, result.spread[done]), "seconds": time.perf_counter() - start,
    }  # fmt: skip
    _emit(payload, args.json, [f"{k}: {v}" for k, v in payload.items()])
    return 0


def _cmd_blocks(args: argparse.Namespace) -> int:
    from .lut import FIXED_PARTS, build_lut, noise_warning
    from .store import write_lut

    setup = _setup(args)
    if _device_absent(args, setup.device):
        return 0
    _check_out(args.out, args.overwrite)
    num_parts = NUM_STAGES * NUM_BLOCKS + len(FIXED_PARTS)  # the glue's module is the reference model
    # The 135 stage blocks together cost about 45 full models; stem and head are small.
    _estimate(
        setup, model_equivalents=NUM_BLOCKS, num_modules=num_parts, what=f"block table of {num_parts} parts"
    )
    start = time.perf_counter()
    table = build_lut(
        device=setup.device, protocol=setup.protocol, width=args.width, resolution=args.resolution,
        num_classes=args.num_classes, seed=args.seed, progress=None,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    warning = noise_warning(table)
    if warning:
        logger.warning("%s", warning)
    write_lut(args.out, table, overwrite=args.overwrite)
    payload = {
        "store": str(args.out), "device": table.device, "seconds": seconds,
        "entries": int((table.block_status == STATUS_DONE).sum()), "fixed_parts": int((table.fixed_status == STATUS_DONE).sum()),
        "fixed_latency_s": dict(zip(FIXED_PARTS, table.fixed_latency_s.tolist())),
        "median_block_spread": _nan_stat(np.median, table.block_spread),
    }  # fmt: skip
    _emit(payload, args.json, [f"{k}: {v}" for k, v in payload.items()])
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from ._models import parse_models
    from .lut import validate_lut
    from .measure import Setup, measure_models
    from .store import read_latencies, read_lut, write_latencies

    table = read_lut(args.store)
    models = parse_models(args.models)
    attrs = table.attrs
    measured = None
    if args.measured is not None:
        measured = read_latencies(args.measured)
        if measured.device != table.device:
            logger.warning("comparing a table of %s with latencies of %s", table.device, measured.device)
    else:
        device = get_device(
            attrs["device_kind"], precision=attrs["precision"], name=attrs["device"],
            threads=args.threads or attrs["environment"].get("threads"),
        )  # fmt: skip
        here = device.environment().get("cpu_model")
        if here != attrs["environment"].get("cpu_model"):
            logger.warning(
                "the table was measured on %s, this machine is %s",
                attrs["environment"].get("cpu_model"),
                here,
            )
        if device.unavailable_reason() is not None:
            device.check_available()
        setup = Setup(
            device,
            Protocol.from_dict(attrs["protocol"]),
            attrs["width"],
            attrs["resolution"],
            attrs["num_classes"],
        )
        _check_out(args.out, args.overwrite)
        _estimate(
            setup,
            model_equivalents=len(models),
            num_modules=len(models),
            what=f"validation over {len(models)} models",
        )
        measured = measure_models(
            models, device=setup.device, protocol=setup.protocol, width=setup.width, resolution=setup.resolution,
            num_classes=setup.num_classes, seed=args.seed, progress=None,
        )  # fmt: skip
    result = validate_lut(table, models, measured=measured)
    payload = {"store": str(args.store), "models": args.models, **result.to_dict()}
    if args.out is not None:
        if args.measured is not None:
            _check_out(args.out, args.overwrite)
        metrics = {k: payload[k] for k in ("store", "models", "n", "spearman", "kendall", "mape")}
        write_latencies(args.out, measured, attrs={"validation": metrics}, overwrite=args.overwrite)
    lines = [
        f"device:   {result.device}",
        f"models:   {result.n} ({args.models})",
        f"spearman: {result.spearman:.4f}",
        f"kendall:  {result.kendall:.4f}",
        f"mape:     {result.mape:.2f} %",
    ]
    _emit(payload, args.json, lines)
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from .store import merge_latencies, read_latencies

    _check_out(args.out, args.overwrite)
    merge_latencies(
        args.shards, args.out, expect=args.expect, allow_partial=args.allow_partial, overwrite=args.overwrite
    )
    merged = read_latencies(args.out)
    sys.stdout.write(
        f"{args.out}: {len(merged.models)} models from {len(args.shards)} shards ({merged.device})\n"
    )
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from .lut import FIXED_PARTS
    from .store import read_attrs, read_latencies, read_lut

    attrs = read_attrs(args.store)
    payload: dict[str, Any] = {
        k: attrs.get(k) for k in ("store_kind", "device", "precision", "protocol", "environment")
    }
    if attrs["store_kind"] == "latency":
        lat = read_latencies(args.store)
        done = lat.status == STATUS_DONE
        payload.update(n=int(done.sum()), median_latency_s=_nan_stat(np.median, lat.latency_s[done]))
        if "validation" in attrs:
            payload["validation"] = attrs["validation"]
    else:
        table = read_lut(args.store)
        payload.update(
            entries=int((table.block_status == STATUS_DONE).sum()),
            fixed_latency_s=dict(zip(FIXED_PARTS, table.fixed_latency_s.tolist())),
            stage_median_latency_s=[_nan_stat(np.median, row) for row in table.block_latency_s],
        )
    lines = [f"{k}: {v}" for k, v in payload.items() if k not in ("environment", "protocol")]
    lines.append(f"protocol: {payload['protocol']['name']} v{payload['protocol']['version']}")
    _emit(payload, args.json, lines)
    return 0


def _nan_stat(fn: Any, values: np.ndarray) -> float | None:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(fn(values)) if values.size else None


def _check_out(path: Path | None, overwrite: bool) -> None:
    if path is not None:
        check_output_path(path, overwrite=overwrite)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: exit 0 on success, 2 with one stderr line on a user mistake."""
    return build_cli().main(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
