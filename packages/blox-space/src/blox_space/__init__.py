"""blox-space: the Blox search space, its encodings, analytic cost and stores (no torch)."""

from __future__ import annotations

from . import schema
from ._typing import ArchLike
from .analysis import latency_by_device, model_table, pareto_front
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
from .benchmark import Benchmark, MissingModelError, open_benchmark
from .blocks import BLOCKS, NUM_BLOCKS, NUM_MODELS, NUM_STAGES, OPS, SCHEMES, Block
from .cost import block_costs, fixed_costs, model_depth, model_macs, model_params, space_costs
from .describe import describe
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .graph import brp_encoding, edge_list, model_graph
from .latency import additive_latency, open_latency
from .legacy import export_csv, import_legacy
from .merge import merge_shards
from .selection import ModelSpecError, parse_models
from .shard import create_benchmark_shard, finished_models, write_model_result

__version__ = "0.1.0"

__all__ = [
    "ArchLike",
    "BLOCKS",
    "Block",
    "NUM_BLOCKS",
    "NUM_MODELS",
    "NUM_STAGES",
    "OPS",
    "SCHEMES",
    "all_hashes",
    "latency_by_device",
    "model_table",
    "pareto_front",
    "block_costs",
    "brp_encoding",
    "describe",
    "open_benchmark",
    "open_latency",
    "additive_latency",
    "Benchmark",
    "MissingModelError",
    "merge_shards",
    "import_legacy",
    "ModelSpecError",
    "parse_models",
    "export_csv",
    "create_benchmark_shard",
    "write_model_result",
    "finished_models",
    "edge_list",
    "fixed_costs",
    "model_depth",
    "model_graph",
    "model_macs",
    "model_params",
    "schema",
    "space_costs",
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
