"""Exporting a benchmark store back to the released ``.csv`` form (``blox-space export-csv``),
byte-identical to the original's files for the same values."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..arch import all_hashes, to_arch_vec
from ..blocks import OPS
from ..errors import StoreError
from ..store.group import check_output_path, open_store, read_array
from ..store.spec import STATUS_DONE
from ._files import FAMILY_COLUMNS, TO_ARRAY

__all__ = ["export_csv"]


def _header(dataset_type: str, columns: list[str], extras: dict[str, Any], fmt: str) -> str:
    stage = [1, 4]  # shape of one stage's arch vector entry; aliased like the original's
    header = {
        "version": 1,
        "search_space": {"shape": [stage, stage, stage], "nodes": 2, "stages": 3, "ops": list(OPS)},
        "dataset_type": dataset_type,
        "columns": columns,
        **extras,
        "format": fmt,
    }
    return yaml.dump(header, explicit_start=True, sort_keys=False) + "---\n"


def _formatted(values: np.ndarray, column: str) -> list[str]:
    """Cells of one column as the original wrote them: ``str`` of Python floats rounded to 3
    decimals ('top' columns) or 6 ('loss' columns); lists drop unmeasured (NaN) epochs.

    Shapes:
        values: ``(N,)`` for test columns, ``(N, E)`` for per-epoch lists -> N cells
    """
    digits = 3 if "top" in column else 6
    # float32 holds each 3- (or 6-) decimal value within far less than half a unit of the
    # last decimal, so numpy's rounding gives the same doubles as Python's round()
    rounded = np.round(values.astype(np.float64), digits)
    if rounded.ndim == 1:
        return [str(v) for v in rounded.tolist()]
    nan_rows = np.isnan(rounded).any(axis=1)
    cells = [str(row) for row in rounded.tolist()]
    for r in np.flatnonzero(nan_rows):
        cells[r] = str([v for v in rounded[r].tolist() if v == v])
    return cells


def export_csv(store: str | Path, folder: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Write a benchmark store back as released-style ``.csv`` files.

    Writes ``blox-base-SEED.csv`` and ``blox-ext-SEED.csv`` per seed (rows of done runs),
    ``blox-info.csv`` when the store recorded params and MACs, and ``blox-env-SEED.csv``
    when it recorded environments. Accuracies are rounded to 3 decimals and losses to 6,
    like the original. Each file is written atomically (a temporary file, then renamed).

    Args:
        store: the benchmark store.
        folder: where the files go (created if needed).
        overwrite: replace released-style files already in ``folder``; without it, any
            ``blox-{base,ext,env}-SEED.csv`` of the store's seeds or ``blox-info.csv`` already
            there is an error and nothing is written.

    Raises:
        StoreError / SchemaError: ``store`` is not a benchmark store, or ``folder`` already
            holds such files and ``overwrite`` is False, or cannot be written.
    """
    group = open_store(store, "benchmark")
    folder = Path(folder)
    models, seeds = group["model"][:], group["seed"][:]
    targets = [
        folder / f"blox-{part}-{seed}.csv" for seed in seeds.tolist() for part in ("base", "ext", "env")
    ]
    existing = [p for p in [*targets, folder / "blox-info.csv"] if p.exists()]
    if existing and not overwrite:
        raise StoreError(
            f"{existing[0]} already exists{f' (and {len(existing) - 1} more)' if len(existing) > 1 else ''}; "
            "pass --overwrite to replace the files or choose another --out folder"
        )
    check_output_path(folder, overwrite=True)
    folder.mkdir(parents=True, exist_ok=True)
    attrs = dict(group.attrs)
    hashes = all_hashes()[models]
    arrays = {
        name: read_array(group, name) for name in (*TO_ARRAY.values(), "train_seconds", "status", "env_id")
    }
    written = []
    for s, seed in enumerate(seeds.tolist()):
        done = np.flatnonzero(arrays["status"][:, s] == STATUS_DONE)
        has_ext = bool(done.size) and not np.isnan(arrays["train_acc"][done, s]).all()
        for part in ("base", "ext") if has_ext else ("base",):
            columns = list(FAMILY_COLUMNS[part])
            extras = {"seed": seed, "epochs": int(attrs["epochs"]), "dataset": attrs["dataset"], "part": part}
            cells: list[Any] = [hashes[done]]
            for column in columns[1:]:
                if column == "train_time_s":
                    cells.append([str(int(round(v))) for v in arrays["train_seconds"][done, s].tolist()])
                else:
                    cells.append(_formatted(arrays[TO_ARRAY[column]][done, s], column))
            rows = [list(row) for row in zip(*cells)]
            written.append(
                _write_csv(
                    folder / f"blox-{part}-{seed}.csv", _header("training", columns, extras, "csv"), rows
                )
            )
        envs = attrs.get("environments", [])
        env_ids = arrays["env_id"][:, s]
        if envs and np.any(env_ids[done] >= 0):
            keys = sorted({k for e in envs for k in e})
            rows = [
                [hashes[m], *(str(envs[env_ids[m]].get(k, "")) for k in keys)]
                for m in done
                if env_ids[m] >= 0
            ]
            written.append(
                _write_csv(
                    folder / f"blox-env-{seed}.csv",
                    _header("env", ["model_hash", *keys], {"seed": seed}, "csv"),
                    rows,
                )
            )
    params, macs = read_array(group, "params"), read_array(group, "macs")
    known = np.flatnonzero((params >= 0) & (macs >= 0))
    if known.size:
        rows = [[hashes[m], int(params[m]), int(macs[m]), to_arch_vec(int(models[m]))] for m in known]
        written.append(
            _write_csv(
                folder / "blox-info.csv", _header("static", list(FAMILY_COLUMNS["info"]), {}, "csv"), rows
            )
        )
    return written


def _write_csv(path: Path, header: str, rows: list[list[Any]]) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([str(v) for v in row])
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(header.encode("utf-8") + buffer.getvalue().encode("utf-8"))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
