"""Decoder of the released ``.blox`` binary payload (facts §5.3), in numpy.

Layout after ``zlib.decompress``: ``u64 LE total_bits`` (bits after this field), ``u32 LE
row_count``, then the rows, each its columns in header order, every column padded to a byte
boundary. Bits are packed LSB-first. Column types: ``hash`` (16 bytes, little-endian 128-bit
integer), ``str`` (u8 length + ASCII), ``int`` (u32), ``float`` (u24 = round(x, 6) * 1e6),
``arch`` (one byte per stage: ``((op0*3 + op1) << 3) | prev << 2 | input << 1 | sc``),
``b_{min}_{max}_{bits}`` (accuracy as ``correct - min`` in ``bits`` bits), and ``list[T]``
(u8 length, then the elements; quantised elements are bit-packed contiguously).

When every row has the same layout (the usual case: equal-length curves) all rows are
decoded at once; otherwise row by row.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import LegacyFormatError

__all__ = ["ColumnType", "parse_column_type", "decode_blox_payload", "examples_for"]

_QUANT = re.compile(r"b_(\d+)_(\d+)_(\d+)")
_FIXED_BYTES = {"hash": 16, "int": 4, "float": 3, "arch": 3}


def examples_for(column: str) -> int:
    """Denominator of a quantised accuracy column: train 45,000, val 5,000, else (test) 10,000."""
    if "train" in column:
        return 45000
    if "val" in column:
        return 5000
    return 10000


@dataclass(frozen=True)
class ColumnType:
    """A parsed ``column_types`` entry."""

    base: str  # hash | str | int | float | arch | quant
    is_list: bool = False
    minimum: int = 0
    maximum: int = 0
    bits: int = 0

    def element_bytes(self, count: int) -> int:
        """Bytes taken by ``count`` elements (quantised list elements are packed)."""
        if self.base == "quant":
            return -(-count * self.bits // 8)
        return count * _FIXED_BYTES[self.base]


def parse_column_type(column: str, text: str) -> ColumnType:
    """Parse a type string such as ``list[b_1045_2935_11]``.

    Raises:
        LegacyFormatError: an unknown type.
    """
    raw = str(text).strip()
    is_list = raw.startswith("list[") and raw.endswith("]")
    inner = raw[5:-1] if is_list else raw
    if inner in ("hash", "str", "int", "float", "arch"):
        if is_list and inner in ("hash", "str", "arch"):
            raise LegacyFormatError(f"column {column!r}: unsupported type {raw!r}")
        return ColumnType(inner, is_list)
    match = _QUANT.fullmatch(inner)
    if match:
        lo, hi, bits = (int(g) for g in match.groups())
        if bits < 1 or bits > 56 or hi < lo:
            raise LegacyFormatError(f"column {column!r}: bad quantised type {raw!r}")
        return ColumnType("quant", is_list, lo, hi, bits)
    raise LegacyFormatError(
        f"column {column!r} has unknown type {raw!r}; types are hash, str, int, float, arch, "
        "b_MIN_MAX_BITS and list[...] of float or b_..."
    )


def _unpack_bits(data: np.ndarray, count: int, bits: int) -> np.ndarray:
    """``(rows, nbytes)`` uint8 -> ``(rows, count)`` uint64 of ``bits``-bit LSB-first values."""
    rows = data.shape[0]
    span = (7 + bits + 7) // 8
    padded = np.zeros((rows, data.shape[1] + span), dtype=np.uint8)
    padded[:, : data.shape[1]] = data
    starts = np.arange(count, dtype=np.int64) * bits
    first, shift = starts // 8, (starts % 8).astype(np.uint64)
    word = np.zeros((rows, count), dtype=np.uint64)
    for k in range(span):
        word |= padded[:, first + k].astype(np.uint64) << np.uint64(8 * k)
    return (word >> shift) & np.uint64((1 << bits) - 1)


def _decode_column(name: str, ctype: ColumnType, block: np.ndarray, count: int) -> np.ndarray:
    """Decode one column of many rows; ``block`` holds its bytes (after any list length)."""
    rows = block.shape[0]
    base = ctype.base
    if base == "hash":
        text = block[:, ::-1].copy().tobytes().hex().encode()
        return np.frombuffer(text, dtype="S32").astype("U32")
    if base == "int":
        return block.copy().view("<u4").reshape(rows, -1).astype(np.int64)[:, 0]
    if base == "arch":
        return block.astype(np.int64)
    if base == "float":
        triples = block.reshape(rows, count, 3).astype(np.int64)
        values = (triples[..., 0] | (triples[..., 1] << 8) | (triples[..., 2] << 16)) / 1e6
        return values if ctype.is_list else values[:, 0]
    if base == "quant":
        values = _unpack_bits(block, count, ctype.bits).astype(np.int64)
        if np.any(values > ctype.maximum - ctype.minimum):
            raise LegacyFormatError(
                f"column {name!r} holds a value above its declared range {ctype.minimum}..{ctype.maximum}"
            )
        acc = np.round((values + ctype.minimum) / examples_for(name) * 100.0, 3)
        return acc if ctype.is_list else acc[:, 0]
    raise LegacyFormatError(f"column {name!r}: cannot decode type {base!r} in bulk")  # pragma: no cover


def _row_layout(buf: np.ndarray, start: int, types: list[ColumnType]) -> tuple[list[int], list[int], int]:
    """Offsets and list lengths of one row starting at ``start``; returns (offsets, lengths, end)."""
    offsets, lengths = [], []
    pos = start
    for ctype in types:
        offsets.append(pos)
        if ctype.base == "str" or ctype.is_list:
            if pos >= buf.size:
                raise LegacyFormatError("the .blox payload is truncated")
            n = int(buf[pos])
            lengths.append(n)
            pos += 1 + (n if ctype.base == "str" else ctype.element_bytes(n))
        else:
            lengths.append(1)
            pos += ctype.element_bytes(1) if ctype.base != "quant" else -(-ctype.bits // 8)
    if pos > buf.size:
        raise LegacyFormatError("the .blox payload is truncated")
    return offsets, lengths, pos


def decode_blox_payload(payload: bytes, columns: list[str], column_types: dict[str, str]) -> dict[str, Any]:
    """Decode a ``.blox`` payload into columns.

    Returns:
        ``{column: values}`` in header order: hashes as ``(N,)`` U32, ``str`` as ``(N,)``
        unicode, ``int`` int64, ``float`` / quantised scalars float64, lists as ``(N, L)``
        float64 padded with NaN, ``arch`` as ``(N, 3)`` raw stage bytes. The key
        ``"__lengths__"`` maps list columns to their ``(N,)`` lengths.

    Raises:
        LegacyFormatError: not zlib data, a truncated payload, trailing bytes, unknown types.
    """
    try:
        raw = zlib.decompress(payload)
    except zlib.error as err:
        raise LegacyFormatError(f"the .blox payload is not zlib-compressed data ({err})") from None
    if len(raw) < 12:
        raise LegacyFormatError("the .blox payload is truncated (no row count)")
    total_bits = int.from_bytes(raw[:8], "little")
    if total_bits > 8 * (len(raw) - 8):
        raise LegacyFormatError(
            f"the .blox payload is truncated: it declares {total_bits // 8} bytes, holds {len(raw) - 8}"
        )
    rows = int.from_bytes(raw[8:12], "little")
    missing = [c for c in columns if c not in column_types]
    if missing:
        raise LegacyFormatError(f"column_types lacks {missing}")
    types = [parse_column_type(c, column_types[c]) for c in columns]
    buf = np.frombuffer(raw, dtype=np.uint8, offset=12)
    if rows == 0:
        return {c: np.empty(0) for c in columns} | {"__lengths__": {}}
    offsets, lengths, end = _row_layout(buf, 0, types)
    width = end
    variable = [i for i, t in enumerate(types) if t.base == "str" or t.is_list]
    uniform = rows * width == buf.size and all(
        np.all(buf[offsets[i] : rows * width : width] == lengths[i]) for i in variable
    )
    if uniform:
        table = buf[: rows * width].reshape(rows, width)
        out: dict[str, Any] = {}
        list_lengths = {}
        for i, (name, ctype) in enumerate(zip(columns, types)):
            o = offsets[i]
            if ctype.base == "str":
                out[name] = np.array([bytes(r).decode("ascii") for r in table[:, o + 1 : o + 1 + lengths[i]]])
            elif ctype.is_list:
                n = lengths[i]
                out[name] = _decode_column(name, ctype, table[:, o + 1 : o + 1 + ctype.element_bytes(n)], n)
                list_lengths[name] = np.full(rows, n)
            else:
                w = _FIXED_BYTES.get(ctype.base, -(-ctype.bits // 8))
                out[name] = _decode_column(name, ctype, table[:, o : o + w], 1)
        out["__lengths__"] = list_lengths
        return out
    return _decode_rows(buf, rows, columns, types)


def _decode_rows(buf: np.ndarray, rows: int, columns: list[str], types: list[ColumnType]) -> dict[str, Any]:
    """Row-by-row decoding for payloads whose rows differ in layout (ragged lists, strings)."""
    cells: dict[str, list[Any]] = {c: [] for c in columns}
    pos = 0
    for _ in range(rows):
        offsets, lengths, end = _row_layout(buf, pos, types)
        for name, ctype, o, n in zip(columns, types, offsets, lengths):
            if ctype.base == "str":
                cells[name].append(bytes(buf[o + 1 : o + 1 + n]).decode("ascii"))
            elif ctype.is_list:
                block = buf[o + 1 : o + 1 + ctype.element_bytes(n)].reshape(1, -1)
                cells[name].append(_decode_column(name, ctype, block, n)[0] if n else np.empty(0))
            else:
                w = _FIXED_BYTES.get(ctype.base, -(-ctype.bits // 8))
                cells[name].append(_decode_column(name, ctype, buf[o : o + w].reshape(1, -1), 1)[0])
        pos = end
    if pos != buf.size:
        raise LegacyFormatError(f"the .blox payload has {buf.size - pos} bytes after its {rows} rows")
    out: dict[str, Any] = {}
    list_lengths = {}
    for name, ctype in zip(columns, types):
        if ctype.is_list:
            lens = np.array([len(v) for v in cells[name]])
            table = np.full((rows, int(lens.max(initial=0))), np.nan)
            for r, v in enumerate(cells[name]):
                table[r, : len(v)] = v
            out[name], list_lengths[name] = table, lens
        elif ctype.base == "str":
            out[name] = np.array(cells[name])
        else:
            out[name] = np.array(cells[name])
    out["__lengths__"] = list_lengths
    return out
