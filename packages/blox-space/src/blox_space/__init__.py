"""blox-space: the Blox search space, its encodings, analytic cost and stores (no torch)."""
from __future__ import annotations

from .arch import (
    all_hashes,
    block_name,
    blocks_to_indices,
    hashes_to_indices,
    indices_to_blocks,
    parse_arch,
    parse_name,
    to_arch_vec,
    to_blocks,
    to_hash,
    to_index,
    to_name,
)
from .blocks import BLOCKS, NUM_BLOCKS, NUM_MODELS, NUM_STAGES, OPS, SCHEMES, Block
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all

__version__ = "0.1.0"

__all__ = [
    "BLOCKS",
    "Block",
    "NUM_BLOCKS",
    "NUM_MODELS",
    "NUM_STAGES",
    "OPS",
    "SCHEMES",
    "all_hashes",
    "block_name",
    "blocks_to_indices",
    "hashes_to_indices",
    "indices_to_blocks",
    "parse_arch",
    "parse_name",
    "to_arch_vec",
    "to_blocks",
    "to_hash",
    "to_index",
    "to_name",
    *_errors_all,
]
