"""Architecture forms and the conversions between them.

Every user-facing form of one of the 91,125 models is accepted wherever an ``ArchLike`` is:

* **model index** -- ``int`` in ``0..91_124``; ``index = b0 + 45*b1 + 2025*b2``;
* **block ids** -- a triple ``(b0, b1, b2)`` of block ids ``0..44`` (one per stage);
* **arch vector** -- the original nested form ``[[[op0], [op1, prev, input, sc]]] * 3``, in
  canonical or any non-canonical spelling of the same blocks, or flattened to 15 ints;
* **hash** -- the original's 32-hex md5 model hash (facts §1.5), bit-identical;
* **readable name** -- stage block names joined by ``" | "``, e.g.
  ``"conv>mbconv+res | bconv | mbconv||conv"`` (block names: :mod:`blox_space.blocks`);
* **text** -- any of the above as a string: digits (index), 32 hex digits (hash), JSON
  (arch vector or block ids) or a readable name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from ._hash import model_hash
from ._typing import ArchLike
from .blocks import BLOCKS, NUM_BLOCKS, NUM_MODELS, NUM_OPS, NUM_STAGES, OPS, RAW_CELL_TO_BLOCK
from .errors import (
    ArchShapeError,
    BlockIdError,
    FlagError,
    IndexOutOfRangeError,
    InvalidArchitectureError,
    InvalidCellError,
    NameParseError,
    OpOutOfRangeError,
    UnknownHashError,
)

__all__ = [
    "to_blocks",
    "to_index",
    "to_hash",
    "to_arch_vec",
    "to_name",
    "parse_arch",
    "parse_name",
    "block_name",
    "indices_to_blocks",
    "blocks_to_indices",
    "hashes_to_indices",
    "all_hashes",
]

_RAW_TO_BLOCK: tuple[int, ...] = tuple(int(b) for b in RAW_CELL_TO_BLOCK)
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_INTEGER = re.compile(r"[+-]?[0-9]+")
#: Longest architecture text read (the longest readable name or arch vector is ~120 characters).
_MAX_TEXT = 1000
_FLAG_NAMES = ("prev", "input", "sc")
_ALLOWED_OPS = ", ".join(f"{i}={name}" for i, name in enumerate(OPS))
_ARCH_VEC_FORM = "[[[op0], [op1, prev, input, sc]]] * 3"


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


# ---------------------------------------------------------------------------------------
# arch vector -> block ids
# ---------------------------------------------------------------------------------------
def _cell_to_block(cell: Any, stage: int) -> int:
    if not isinstance(cell, (list, tuple, np.ndarray)) or len(cell) != 2:
        raise ArchShapeError(
            f"stage {stage} must be a cell [[op0], [op1, prev, input, sc]], got {_short(cell)}; "
            f"an arch vector is {_ARCH_VEC_FORM}"
        )
    node0, node1 = cell
    if not isinstance(node0, (list, tuple, np.ndarray)) or len(node0) != 1:
        raise ArchShapeError(
            f"stage {stage}, node 0 must be [op0], got {_short(node0)}; an arch vector is {_ARCH_VEC_FORM}"
        )
    if not isinstance(node1, (list, tuple, np.ndarray)) or len(node1) != 4:
        raise ArchShapeError(
            f"stage {stage}, node 1 must be [op1, prev, input, sc], got {_short(node1)}; "
            f"an arch vector is {_ARCH_VEC_FORM}"
        )
    return _values_to_block((node0[0], *node1), stage)


def _values_to_block(values: Sequence[Any], stage: int) -> int:
    op0, op1, prev, inp, sc = values
    for node, op in ((0, op0), (1, op1)):
        if not _is_int(op) or not 0 <= op < NUM_OPS:
            raise OpOutOfRangeError(
                f"op {_short(op)} at stage {stage}, node {node} is out of range; ops are {_ALLOWED_OPS}"
            )
    for name, flag in zip(_FLAG_NAMES, (prev, inp, sc)):
        if not (_is_int(flag) or isinstance(flag, (bool, np.bool_))) or flag not in (0, 1):
            raise FlagError(f"flag {name}={_short(flag)} at stage {stage} must be 0 or 1")
    block = _RAW_TO_BLOCK[int(op0) + 3 * int(op1) + 9 * int(prev) + 18 * int(inp) + 36 * int(sc)]
    if block < 0:
        raise InvalidCellError(
            f"cell at stage {stage} is invalid: node 1 has flags prev=0, input=0, sc=0, so "
            "nothing reaches the cell output; at least one of prev, input, sc must be 1 "
            "(and sc alone keeps only node 0)"
        )
    return block


def _arch_vec_to_blocks(vec: Sequence[Any]) -> tuple[int, int, int]:
    if len(vec) == NUM_STAGES * 5 and all(_is_int(v) or isinstance(v, (bool, np.bool_)) for v in vec):
        flat = [int(v) for v in vec]
        return tuple(_values_to_block(flat[5 * s : 5 * s + 5], s) for s in range(NUM_STAGES))  # type: ignore[return-value]
    if len(vec) != NUM_STAGES:
        raise ArchShapeError(
            f"an arch vector has {NUM_STAGES} stages, got {len(vec)}; the form is {_ARCH_VEC_FORM} "
            "(or 15 flat ints)"
        )
    return tuple(_cell_to_block(cell, s) for s, cell in enumerate(vec))  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------------------
_NAME_TO_BLOCK: dict[str, int] = {}
for _b in BLOCKS:
    _NAME_TO_BLOCK[_b.name] = _b.id
    if _b.scheme == "parallel":  # a parallel pair is unordered: accept either spelling
        _NAME_TO_BLOCK[f"{OPS[_b.ops[1]]}||{OPS[_b.ops[0]]}"] = _b.id
_STAGE_SPLIT = re.compile(r"(?<!\|)\|(?!\|)")


def block_name(block_id: int) -> str:
    """Readable name of one block, e.g. ``block_name(21) == "conv>conv+res"``."""
    _check_block_id(block_id)
    return BLOCKS[block_id].name


def parse_name(name: str) -> tuple[int, int, int]:
    """Parse a readable model name into block ids.

    Raises:
        NameParseError: the name has not 3 stages or a stage is not a block name.

    Example:
        >>> parse_name("conv>mbconv+res | bconv | mbconv||conv")
        (24, 11, 31)
    """
    parts = [p.strip().replace(" ", "") for p in _STAGE_SPLIT.split(name)]
    if len(parts) != NUM_STAGES:
        raise NameParseError(
            f"cannot parse {_short(name)}: a readable name has {NUM_STAGES} block names separated by "
            f"' | ', e.g. 'conv>mbconv+res | bconv | mbconv||conv'"
        )
    blocks = []
    for stage, part in enumerate(parts):
        block = _NAME_TO_BLOCK.get(part.lower())
        if block is None:
            raise NameParseError(
                f"unknown block name {_short(part)} at stage {stage}; a block name is 'op', 'op||op', "
                f"'op>op', 'op>op+inp', 'op>op+res' or 'op>op+inp+res' with op in {', '.join(OPS)}"
            )
        blocks.append(block)
    return tuple(blocks)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------
# hashes
# ---------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _hash_table() -> tuple[np.ndarray, dict[str, int]]:
    """All 91,125 hashes by model index and the reverse map.

    The table is bundled as raw 16-byte digests (``data/hashes.bin``, written by
    :func:`blox_space.space.write_hash_table`); a test recomputes every hash and compares.
    """
    raw = resources.files("blox_space").joinpath("data/hashes.bin").read_bytes()
    if len(raw) != 16 * NUM_MODELS:  # pragma: no cover - packaging error
        raise RuntimeError("blox_space/data/hashes.bin is damaged; reinstall blox-space")
    text = raw.hex()
    hexes = [text[i : i + 32] for i in range(0, len(text), 32)]
    return np.array(hexes, dtype="U32"), {h: i for i, h in enumerate(hexes)}


def all_hashes() -> np.ndarray:
    """The 91,125 model hashes as a ``(91125,)`` array of 32-char strings, by model index."""
    return _hash_table()[0].copy()


def hashes_to_indices(hashes: Sequence[str] | np.ndarray) -> np.ndarray:
    """Vectorised hash -> model index (int64, same shape as the input).

    Raises:
        UnknownHashError: a string is not 32 hex digits, or names none of the 91,125 models.
    """
    lookup = _hash_table()[1]
    arr = np.asarray(hashes)
    out = np.empty(arr.shape, dtype=np.int64)
    flat = out.reshape(-1)
    for i, value in enumerate(arr.reshape(-1).tolist()):
        key = str(value).strip().lower()
        index = lookup.get(key)
        if index is None:
            if not _HEX32.fullmatch(key):
                raise UnknownHashError(f"{_short(value)} is not a model hash; a model hash is 32 hex digits")
            raise UnknownHashError(f"unknown model hash {key!r}: it names none of the {NUM_MODELS:,} models")
        flat[i] = index
    return out


def _hash_to_index(text: str) -> int:
    return int(hashes_to_indices([text.lower()])[0])


# ---------------------------------------------------------------------------------------
# the single normalising entry point
# ---------------------------------------------------------------------------------------
def _short(value: Any) -> str:
    """A value for a message, cut to a readable length (a 5,000-digit int included)."""
    if isinstance(value, (int, np.integer)) and abs(int(value)) >= 10**24:
        digits = int(abs(int(value)).bit_length() * 0.30103) + 1  # str() refuses > 4300 digits
        return f"{'-' if value < 0 else ''}<a number of about {digits} digits>"
    text = repr(value) if not isinstance(value, (int, np.integer)) else str(int(value))
    return text if len(text) <= 60 else f"{text[:57]}..."


def _check_index(index: Any) -> int:
    if not 0 <= index < NUM_MODELS:
        raise IndexOutOfRangeError(
            f"model index {_short(index)} is out of range; indices are 0..{NUM_MODELS - 1}"
        )
    return int(index)


def _check_block_id(block_id: Any) -> int:
    if not _is_int(block_id) or not 0 <= block_id < NUM_BLOCKS:
        raise BlockIdError(f"block id {_short(block_id)} is out of range; block ids are 0..{NUM_BLOCKS - 1}")
    return int(block_id)


def _index_to_blocks(index: int) -> tuple[int, int, int]:
    return index % NUM_BLOCKS, (index // NUM_BLOCKS) % NUM_BLOCKS, index // (NUM_BLOCKS * NUM_BLOCKS)


def parse_arch(text: str) -> tuple[int, int, int]:
    """Parse an architecture given as text (CLI arguments, config files) into block ids.

    Digits are a model index, 32 hex digits a hash, text starting with ``[`` or ``(`` JSON
    (an arch vector or a block-id triple), anything else a readable name.
    """
    if not isinstance(text, str):
        raise NameParseError(
            f"parse_arch takes text, got {type(text).__name__}; use to_blocks for other forms"
        )
    stripped = text.strip()
    if len(stripped) > _MAX_TEXT:
        raise NameParseError(
            f"an architecture text of {len(stripped):,} characters is too long (at most {_MAX_TEXT}); give a "
            "model index, a 32-hex hash, a readable name or a JSON arch vector"
        )
    if not stripped:
        raise NameParseError(
            "the architecture is empty; give a model index, a 32-hex hash, a readable name or a JSON arch vector"
        )
    if _HEX32.fullmatch(stripped):
        return _index_to_blocks(_hash_to_index(stripped))
    if _INTEGER.fullmatch(stripped):
        digits = stripped.lstrip("+-").lstrip("0") or "0"
        if len(digits) > 6:
            sign = "-" if stripped.startswith("-") else ""
            raise IndexOutOfRangeError(
                f"model index {sign}<a {len(digits)}-digit number> is out of range; indices are 0..{NUM_MODELS - 1}"
            )
        return _index_to_blocks(_check_index(int(stripped)))
    if stripped[:1] in "[(":
        try:
            value = json.loads(stripped.replace("(", "[").replace(")", "]"))
        except json.JSONDecodeError as err:
            raise NameParseError(
                f"cannot parse {_short(text)} as JSON ({err.msg}); give an arch vector {_ARCH_VEC_FORM} "
                "or a block-id triple [b0, b1, b2]"
            ) from None
        except RecursionError:
            raise NameParseError(
                f"{_short(text)} is nested too deeply; an arch vector is {_ARCH_VEC_FORM}"
            ) from None
        return to_blocks(value)
    return parse_name(stripped)


def to_blocks(arch: ArchLike) -> tuple[int, int, int]:
    """Normalise any architecture form to its block-id triple ``(b0, b1, b2)``.

    Raises:
        InvalidArchitectureError: (a subclass naming what was wrong) for any invalid form.

    Example:
        >>> to_blocks(24519)
        (39, 4, 12)
        >>> to_blocks([[[0], [1, 1, 1, 1]], [[1], [1, 1, 0, 0]], [[0], [0, 1, 1, 0]]])
        (39, 4, 12)
    """
    if _is_int(arch):
        return _index_to_blocks(_check_index(arch))
    if isinstance(arch, str):
        return parse_arch(arch)
    if isinstance(arch, np.ndarray):
        arch = arch.tolist()
    if isinstance(arch, (list, tuple)):
        if len(arch) == NUM_STAGES and all(_is_int(b) for b in arch):
            return tuple(_check_block_id(b) for b in arch)  # type: ignore[return-value]
        return _arch_vec_to_blocks(arch)
    raise InvalidArchitectureError(
        f"cannot read an architecture from {type(arch).__name__} {_short(arch)}; give a model index, "
        f"a block-id triple, an arch vector {_ARCH_VEC_FORM}, a 32-hex hash or a readable name"
    )


def to_index(arch: ArchLike) -> int:
    """Model index ``b0 + 45*b1 + 2025*b2`` (= the original's unique-architecture position)."""
    if _is_int(arch):
        return _check_index(arch)
    b0, b1, b2 = to_blocks(arch)
    return b0 + NUM_BLOCKS * b1 + NUM_BLOCKS * NUM_BLOCKS * b2


def to_hash(arch: ArchLike) -> str:
    """The original 32-hex model hash (bit-identical to facts §1.5)."""
    if isinstance(arch, str) and _HEX32.fullmatch(arch.strip()):
        _hash_to_index(arch.strip())  # validates
        return arch.strip().lower()
    return model_hash(to_blocks(arch))


def to_arch_vec(arch: ArchLike) -> list[list[list[int]]]:
    """The canonical arch vector (the original's stored representative of each block)."""
    return [[list(BLOCKS[b].cell[0]), list(BLOCKS[b].cell[1])] for b in to_blocks(arch)]


def to_name(arch: ArchLike) -> str:
    """Readable name, e.g. ``"conv>mbconv+inp+res | mbconv>mbconv | conv>conv+inp"``."""
    return " | ".join(BLOCKS[b].name for b in to_blocks(arch))


# ---------------------------------------------------------------------------------------
# vectorised forms
# ---------------------------------------------------------------------------------------
def indices_to_blocks(indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """``(N,)`` model indices -> ``(N, 3)`` block ids (int64).

    Raises:
        IndexOutOfRangeError: an index is outside 0..91,124.
    """
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= NUM_MODELS):
        bad = idx[(idx < 0) | (idx >= NUM_MODELS)].ravel()[0]
        _check_index(int(bad))
    return np.stack([idx % NUM_BLOCKS, (idx // NUM_BLOCKS) % NUM_BLOCKS, idx // NUM_BLOCKS**2], axis=-1)


def blocks_to_indices(block_ids: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
    """``(N, 3)`` block ids -> ``(N,)`` model indices (int64).

    Raises:
        BlockIdError: a block id is outside 0..44.
        ArchShapeError: the last axis is not 3.
    """
    arr = np.asarray(block_ids, dtype=np.int64)
    if arr.ndim == 0 or arr.shape[-1] != NUM_STAGES:
        raise ArchShapeError(f"block ids need a last axis of length {NUM_STAGES}, got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= NUM_BLOCKS):
        _check_block_id(int(arr[(arr < 0) | (arr >= NUM_BLOCKS)].ravel()[0]))
    return arr[..., 0] + NUM_BLOCKS * arr[..., 1] + NUM_BLOCKS**2 * arr[..., 2]
