"""Reading released Blox files (facts §5) of all three formats; :mod:`blox_space.legacy`
imports them into a benchmark store and exports stores back.

Every file is a YAML header (``---`` ... ``---``, both markers in the first 1024 bytes) and a
payload in the header's ``format``: ``csv`` (excel dialect, lists as Python list text),
``pickle`` (a list of rows; read with an unpickler that admits only plain containers and
numbers: no classes, no callables) or ``custom`` (the bit-packed ``.blox`` codec,
:mod:`blox_space._bloxcodec`). Families: ``blox-base-SEED``, ``blox-ext-SEED``, ``blox-info``,
``blox-env-SEED`` and ``blox-bench-DEVICE``.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..blocks import OPS
from ..errors import LegacyFormatError
from ._codec import decode_blox_payload

__all__ = [
    "LegacyFile",
    "read_legacy_file",
    "read_legacy_header",
    "find_legacy_files",
    "FAMILY_COLUMNS",
    "TO_ARRAY",
    "DEFAULT_EXT",
]

#: Required leading columns of each file family, in order.
FAMILY_COLUMNS: dict[str, tuple[str, ...]] = {
    "base": ("model_hash", "val_top1", "test_top1", "train_time_s"),
    "ext": (
        "model_hash",
        "train_top1",
        "train_loss",
        "train_top5",
        "val_loss",
        "val_top5",
        "test_loss",
        "test_top5",
    ),
    "info": ("model_hash", "params", "flops", "arch_vec"),
    "env": ("model_hash",),
    "bench": ("model_hash", "latency"),
}
_DATASET_TYPES = {
    "base": "training",
    "ext": "training",
    "info": "static",
    "env": "env",
    "bench": "benchmarking",
}
#: Legacy column -> benchmark array.
TO_ARRAY = {
    "val_top1": "val_acc",
    "test_top1": "test_acc",
    "train_top1": "train_acc",
    "train_loss": "train_loss",
    "train_top5": "train_top5",
    "val_loss": "val_loss",
    "val_top5": "val_top5",
    "test_loss": "test_loss",
    "test_top5": "test_top5",
}
DEFAULT_EXT = (".blox", ".pickle", ".csv")
_FILE_RE = re.compile(r"blox-(?:(base|ext|env)-(\d+)|(info)|(bench)-([A-Za-z0-9-]+))(\.[A-Za-z]+)")
_FORMAT_EXT = {"csv": ".csv", "pickle": ".pickle", "custom": ".blox"}


@dataclass(frozen=True)
class LegacyFile:
    """One released file: its family, header and columns.

    ``columns`` maps column names to arrays: hashes ``(N,)`` U32, lists ``(N, L)`` float64
    padded with NaN (``lengths[col]`` gives each row's length), scalars ``(N,)``, ``arch_vec``
    ``(N, 15)`` int, strings ``(N,)`` unicode.
    """

    path: Path
    family: str
    header: dict[str, Any]
    columns: dict[str, np.ndarray]
    lengths: dict[str, np.ndarray]

    @property
    def num_rows(self) -> int:
        return len(self.columns["model_hash"])


# ---------------------------------------------------------------------------------------
# framing
# ---------------------------------------------------------------------------------------
def _split_header(data: bytes, path: Path) -> tuple[dict[str, Any], bytes]:
    if not data.startswith(b"---\n"):
        raise LegacyFormatError(f"{path.name}: not a Blox file (it must start with a '---' YAML header line)")
    end = data.find(b"\n---\n", 3, 1024 + 5)
    if end < 0 or end + 5 > 1024:
        raise LegacyFormatError(
            f"{path.name}: the header's closing '---' line is not within the first 1024 bytes"
        )
    try:
        header = yaml.safe_load(data[: end + 1].decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise LegacyFormatError(f"{path.name}: unreadable YAML header ({err})") from None
    if not isinstance(header, dict):
        raise LegacyFormatError(f"{path.name}: the header is not a mapping")
    for key in ("version", "search_space", "dataset_type", "columns", "format"):
        if key not in header:
            raise LegacyFormatError(f"{path.name}: the header lacks {key!r}")
    if header["version"] != 1:
        raise LegacyFormatError(f"{path.name}: header version {header['version']!r}; only version 1 is known")
    ops = (header.get("search_space") or {}).get("ops")
    if list(ops or []) != list(OPS):
        raise LegacyFormatError(f"{path.name}: search space ops {ops!r}, expected {list(OPS)}")
    if header["format"] not in _FORMAT_EXT:
        raise LegacyFormatError(
            f"{path.name}: unknown format {header['format']!r}; formats are pickle, csv, custom"
        )
    return header, data[end + 5 :]


# ---------------------------------------------------------------------------------------
# payloads
# ---------------------------------------------------------------------------------------
class _PlainUnpickler(pickle.Unpickler):
    """Admits only what needs no import: lists, tuples, dicts, str, bytes, numbers, bools, None."""

    def find_class(self, module: str, name: str) -> Any:
        raise LegacyFormatError(
            f"the pickle payload refers to {module}.{name}; only plain containers and numbers are allowed"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise LegacyFormatError(
            "the pickle payload uses persistent ids; only plain containers and numbers are allowed"
        )


def _load_plain_pickle(payload: bytes, path: Path) -> list[list[Any]]:
    try:
        rows = _PlainUnpickler(io.BytesIO(payload)).load()
    except LegacyFormatError as err:
        raise LegacyFormatError(f"{path.name}: {err}") from None
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a malformed file
        raise LegacyFormatError(
            f"{path.name}: unreadable pickle payload ({type(err).__name__}: {err})"
        ) from None
    if not isinstance(rows, list) or not all(isinstance(r, (list, tuple)) for r in rows):
        raise LegacyFormatError(f"{path.name}: the pickle payload is not a list of rows")
    return rows


def _split_csv(text: str, num_columns: int) -> list[list[str]] | None:
    """Rows of an excel-dialect CSV whose quoted fields hold no quotes, split with str.split
    (many times faster than the csv module on the release's long list fields); None when the
    text is anything else (escaped quotes, bare newlines, a row of the wrong length)."""
    if '""' in text or "\r" not in text:
        return None
    rows: list[list[str]] = []
    lines = text.split("\r\n")
    for i, line in enumerate(lines):
        lines[i] = ""  # release each line once split: keeps the peak near one copy of the text
        if not line:
            continue
        if "\n" in line or "\r" in line:
            return None
        parts = line.split('"')
        if len(parts) % 2 == 0:
            return None
        row: list[str] = []
        last = len(parts) - 1
        for k, part in enumerate(parts):
            if k % 2:
                row.append(part)
                continue
            pieces = part.split(",")
            if k > 0:
                if pieces[0]:
                    return None
                pieces = pieces[1:]
            if k < last:
                if pieces[-1]:
                    return None
                pieces = pieces[:-1]
            row.extend(pieces)
        if len(row) != num_columns:
            return None
        rows.append(row)
    return rows


def _float_lists(cells: list[str], name: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse CSV cells like ``"[51.28, 22.58]"`` into a NaN-padded table and lengths."""
    bodies = []
    for cell in cells:
        text = cell.strip()
        if not (text.startswith("[") and text.endswith("]")):
            raise LegacyFormatError(
                f"{path.name}: column {name!r} holds {cell[:30]!r}, expected a list like [1.0, 2.0]"
            )
        bodies.append(text[1:-1])
    lengths = np.array([b.count(",") + 1 if b.strip() else 0 for b in bodies])
    if lengths.size > 1000 and lengths.min() == lengths.max() > 0:
        table = _parse_table(bodies, int(lengths[0]))  # the bulk path: equal-length curves
        if table is not None:
            return table, lengths
    joined = ",".join(b for b in bodies if b.strip())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            flat = np.fromstring(joined, sep=",") if joined else np.empty(0)  # noqa: NPY201 - text mode
        except (ValueError, DeprecationWarning):
            raise LegacyFormatError(f"{path.name}: column {name!r} holds a list with a non-number") from None
    if flat.size != lengths.sum():
        raise LegacyFormatError(f"{path.name}: column {name!r} holds a malformed list")
    return _pad(flat, lengths), lengths


def _parse_table(bodies: list[str], width: int) -> np.ndarray | None:
    """Equal-length number lists as one ``(N, width)`` float64 table via pandas' C parser
    (exact for the short decimals of the release); None when a cell is not all numbers."""
    import pandas as pd

    try:
        frame = pd.read_csv(io.StringIO("\n".join(bodies)), header=None, names=range(width), dtype=np.float64)
    except (ValueError, pd.errors.ParserError):
        return None
    return frame.to_numpy() if frame.shape == (len(bodies), width) else None


def _pad(flat: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    width = int(lengths.max(initial=0))
    if lengths.size and np.all(lengths == width):
        return flat.reshape(len(lengths), width).astype(np.float64)
    table = np.full((len(lengths), width), np.nan)
    mask = np.arange(width) < lengths[:, None]
    table[mask] = flat
    return table


def _column_kind(name: str) -> str:
    if name == "model_hash":
        return "hash"
    if "top" in name or "loss" in name:
        return "float" if "test" in name else "list"
    if name in ("train_time_s", "params", "flops"):
        return "int"
    if name == "latency":
        return "float"
    if name == "arch_vec":
        return "arch"
    return "str"


def _columns_from_cells(columns: list[str], cells: list[list[Any]], path: Path, *, text: bool):
    """Columnar arrays from row cells (csv strings when ``text``, else pickled values)."""
    out: dict[str, np.ndarray] = {}
    lengths: dict[str, np.ndarray] = {}
    for j, name in enumerate(columns):
        col = [row[j] for row in cells]
        kind = _column_kind(name)
        try:
            if kind == "list":
                if text:
                    out[name], lengths[name] = _float_lists(col, name, path)
                else:
                    lens = np.array([len(v) for v in col])
                    flat = np.array([x for v in col for x in v], dtype=np.float64)
                    out[name], lengths[name] = _pad(flat, lens), lens
            elif kind in ("float", "int"):
                out[name] = np.array([float(v) for v in col], dtype=np.float64)
                if kind == "int":
                    if not np.all(np.isfinite(out[name])) or np.any(out[name] != np.round(out[name])):
                        raise ValueError("not an integer")
                    if np.any(np.abs(out[name]) >= 2.0**63):
                        raise ValueError("an integer beyond the int64 range")
                    out[name] = out[name].astype(np.int64)
            elif kind == "arch":
                if text:  # "[[[0], [1, 1, 0, 0]], ...]": 15 ints once the brackets are gone
                    flat = ",".join(str(v).translate(_NO_BRACKETS) for v in col).split(",")
                    out[name] = np.array(flat, dtype=np.int64).reshape(len(col), -1)
                else:
                    out[name] = np.array(
                        [np.ravel(np.array(sum(sum(v, []), []), dtype=np.int64)) for v in col]
                    )
                if out[name].ndim != 2 or out[name].shape[1] != 15:
                    raise ValueError("an arch_vec must hold 15 ints")
            elif kind == "hash":
                out[name] = np.array([str(v).lower() for v in col], dtype="U32")
            else:
                out[name] = np.array([str(v) for v in col])
        except (TypeError, ValueError, json.JSONDecodeError) as err:
            raise LegacyFormatError(f"{path.name}: column {name!r} has a malformed value ({err})") from None
    return out, lengths


_NO_BRACKETS = str.maketrans("", "", "[] ")


def _arch_bytes_to_vec(raw: np.ndarray) -> np.ndarray:
    """``(N, 3)`` .blox arch bytes -> ``(N, 15)`` arch-vector fields."""
    code = raw >> 3
    fields = np.stack([code // 3, code % 3, (raw >> 2) & 1, (raw >> 1) & 1, raw & 1], axis=-1)
    return fields.reshape(len(raw), 15)


def family_of(path: Path) -> tuple[str, str | None]:
    match = _FILE_RE.fullmatch(path.name)
    if not match:
        raise LegacyFormatError(
            f"{path.name} is not a released Blox file; names are blox-base-SEED, blox-ext-SEED, "
            "blox-info, blox-env-SEED, blox-bench-DEVICE with .csv, .pickle or .blox"
        )
    if match.group(1):
        return match.group(1), match.group(2)
    if match.group(3):
        return "info", None
    return "bench", match.group(5)


def read_legacy_file(path: str | Path) -> LegacyFile:
    """Read one released file of any format and check its framing and columns.

    Raises:
        LegacyFormatError: a bad name, header or payload, a column missing or out of order,
            a pickle carrying anything but plain containers and numbers, a row of the wrong
            length. The message names the file.
    """
    path = Path(path)
    family, _ = family_of(path)
    raw = path.read_bytes()
    header, payload = _split_header(raw, path)
    del raw  # the payload is a copy; release the file bytes early (the release's ext files are ~0.7 GB)
    columns = [str(c) for c in header["columns"]]
    expected = FAMILY_COLUMNS[family]
    if tuple(columns[: len(expected)]) != expected:
        raise LegacyFormatError(
            f"{path.name}: columns {columns[: len(expected)]} are not the {family} columns {list(expected)} in that order"
        )
    if header["dataset_type"] != _DATASET_TYPES[family]:
        raise LegacyFormatError(
            f"{path.name}: dataset_type {header['dataset_type']!r}, expected {_DATASET_TYPES[family]!r}"
        )
    fmt = header["format"]
    if fmt == "custom":
        types = header.get("column_types")
        if not isinstance(types, dict):
            raise LegacyFormatError(f"{path.name}: a custom-format header needs column_types")
        try:
            decoded = decode_blox_payload(payload, columns, {str(k): str(v) for k, v in types.items()})
        except LegacyFormatError as err:
            raise LegacyFormatError(f"{path.name}: {err}") from None
        lengths = decoded.pop("__lengths__")
        out: dict[str, np.ndarray] = {}
        for name in columns:
            values = decoded[name]
            if name == "arch_vec":
                values = _arch_bytes_to_vec(values)
            out[name] = values
        return LegacyFile(path, family, header, out, lengths)
    if fmt == "pickle":
        cells = _load_plain_pickle(payload, path)
        text = False
    else:
        try:
            text_payload = payload.decode("utf-8")
            del payload
            cells = _split_csv(text_payload, len(columns))
            if cells is None:  # anything unusual: the csv module decides
                cells = list(csv.reader(io.StringIO(text_payload, newline="")))
            del text_payload
        except (UnicodeDecodeError, csv.Error) as err:
            raise LegacyFormatError(f"{path.name}: unreadable CSV payload ({err})") from None
        text = True
    bad = next((i for i, row in enumerate(cells) if len(row) != len(columns)), None)
    if bad is not None:
        raise LegacyFormatError(
            f"{path.name}: row {bad} has {len(cells[bad])} values for {len(columns)} columns (truncated or malformed)"
        )
    out, lengths = _columns_from_cells(columns, cells, path, text=text)
    return LegacyFile(path, family, header, out, lengths)


def read_legacy_header(path: str | Path) -> dict[str, Any]:
    """The YAML header of a released file (reads only its first 1024 bytes).

    Raises:
        LegacyFormatError: a bad name or header.
    """
    path = Path(path)
    family_of(path)
    with path.open("rb") as fh:
        head = fh.read(1024 + 5)
    return _split_header(head, path)[0]


def find_legacy_files(
    folder: str | Path, *, preferred_ext: tuple[str, ...] | list[str] | str = DEFAULT_EXT
) -> list[Path]:
    """The released files of a folder, one format per file family.

    Like the original's ``preferred_ext``: extensions (leading dot optional) are tried in
    order for each file name stem; the first present wins; an extension not listed is never
    used. Unlike the original, the static-info file may come in any format.

    Raises:
        LegacyFormatError: the folder does not exist.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise LegacyFormatError(f"{folder} is not a folder of released Blox files")
    exts = [preferred_ext] if isinstance(preferred_ext, str) else list(preferred_ext)
    exts = [e if e.startswith(".") else f".{e}" for e in exts]
    stems: dict[str, dict[str, Path]] = {}
    for path in sorted(folder.iterdir()):
        if _FILE_RE.fullmatch(path.name):
            stems.setdefault(path.name[: -len(path.suffix)], {})[path.suffix] = path
    chosen = []
    for _, by_ext in sorted(stems.items()):
        for ext in exts:
            if ext in by_ext:
                chosen.append(by_ext[ext])
                break
    return chosen
