"""blox-space: the Blox search space, its encodings, analytic cost and stores (no torch).

Layout (one responsibility per module):

* the space itself: :mod:`~blox_space.blocks` (THE block table), :mod:`~blox_space.arch`
  (architecture forms and conversions), :mod:`~blox_space.graph`, :mod:`~blox_space.geometry`,
  :mod:`~blox_space.cost`, :mod:`~blox_space.selection` (model specs), :mod:`~blox_space.space`
  (all models at once), :mod:`~blox_space.describe`;
* the shared core of every Blox package: :mod:`~blox_space.errors`, :mod:`~blox_space.registry`,
  :mod:`blox_space.cli.runner` and :mod:`blox_space.cli.options`;
* :mod:`blox_space.store`: the schema of every store kind (gathered in :mod:`blox_space.schema`),
  create / open / validate, shard writing and the one merge;
* :mod:`blox_space.bench`: the query API (:func:`open_benchmark`), latency joins, table views;
* :mod:`blox_space.legacy`: the released files' import and export;
* :mod:`blox_space.cli`: the ``blox-space`` command.
"""

from __future__ import annotations

from . import schema
from ._typing import ArchLike
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
from .bench import Benchmark, additive_latency, open_benchmark, open_latency
from .bench.analysis import latency_by_device, model_table, pareto_front
from .bench.blockwise import BlockwiseResults, open_blockwise
from .bench.select import PAPER_TEACHERS, parse_selector, select_model, select_models
from .blocks import BLOCKS, NUM_BLOCKS, NUM_MODELS, NUM_STAGES, OPS, SCHEMES, Block
from .cost import block_costs, fixed_costs, model_depth, model_macs, model_params, space_costs
from .describe import describe
from .errors import *  # noqa: F403
from .errors import __all__ as _errors_all
from .geometry import Geometry
from .graph import brp_encoding, edge_list, model_graph
from .legacy import export_csv, import_legacy
from .registry import Registry
from .selection import parse_models
from .store import (
    ArraySpec,
    Metric,
    Status,
    StoreSpec,
    atomic_store,
    create_benchmark_shard,
    create_blockwise_shard,
    create_finetune_shard,
    create_store,
    finished_models,
    merge_shards,
    merge_stores,
    open_store,
    register_store_kind,
    write_block_result,
    write_model_result,
)

__version__ = "0.1.0"

__all__ = [
    "ArchLike",
    "ArraySpec",
    "BLOCKS",
    "Benchmark",
    "Block",
    "BlockwiseResults",
    "Geometry",
    "Metric",
    "NUM_BLOCKS",
    "NUM_MODELS",
    "NUM_STAGES",
    "OPS",
    "PAPER_TEACHERS",
    "Registry",
    "SCHEMES",
    "Status",
    "StoreSpec",
    "latency_by_device",
    "model_table",
    "pareto_front",
    "additive_latency",
    "all_hashes",
    "atomic_store",
    "block_costs",
    "block_name",
    "blocks_to_indices",
    "brp_encoding",
    "create_benchmark_shard",
    "create_blockwise_shard",
    "create_finetune_shard",
    "create_store",
    "describe",
    "edge_list",
    "export_csv",
    "finished_models",
    "fixed_costs",
    "hashes_to_indices",
    "import_legacy",
    "indices_to_blocks",
    "merge_shards",
    "merge_stores",
    "model_depth",
    "model_graph",
    "model_macs",
    "model_params",
    "open_benchmark",
    "open_blockwise",
    "open_latency",
    "open_store",
    "parse_arch",
    "parse_models",
    "parse_name",
    "parse_selector",
    "register_store_kind",
    "schema",
    "select_model",
    "select_models",
    "space_costs",
    "to_arch_vec",
    "to_blocks",
    "to_hash",
    "to_index",
    "to_name",
    "write_block_result",
    "write_model_result",
    *_errors_all,
]
