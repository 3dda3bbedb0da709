"""Zarr stores: the schema of every kind, creating / opening / validating stores, writing
benchmark shards, and the one merge of shards into a store (STYLE §9, SPEC §8).

The public API every package uses (blox-train writes shards, blox-hw writes and merges latency
stores, the coming packages their own kinds)::

    create_store(path, spec, sizes=..., attrs=...)   open_store(path, kind)
    atomic_store(path)       consolidate(path)        read_array(group, name)
    merge_stores(shards, out, kind=...)               register_store_kind(spec)
    create_blockwise_shard(path, ...)  write_block_result(group, stage, block, ...)
    create_finetune_shard(path, models, ...)          (rows: write_model_result)
    write_proxies_shard(path, models, values, ...)
    write_surrogate_store(path, source, metric=..., values=..., ...)

The specs themselves are gathered in :mod:`blox_space.schema`.
"""

from __future__ import annotations

from . import search as _search  # noqa: F401 - registers the search store kind
from .blockwise import create_blockwise_shard, hash_distill, write_block_result
from .environments import Environments, canonical_json
from .finetune import create_finetune_shard
from .group import (
    atomic_store,
    check_output_path,
    consolidate,
    create_store,
    open_store,
    producer_attrs,
    read_array,
    remove_stale_tmp,
    store_path,
    verify_store,
)
from .merge import merge_shards, merge_stores, merged_chunk
from .proxies import write_proxies_shard
from .shard import best_epoch, best_epochs, create_benchmark_shard, finished_models, write_model_result
from .spec import ArraySpec, Metric, Status, StoreSpec, get_store_spec, list_store_kinds, register_store_kind
from .surrogate import write_surrogate_store

__all__ = [
    "ArraySpec",
    "Environments",
    "Metric",
    "Status",
    "StoreSpec",
    "atomic_store",
    "best_epoch",
    "best_epochs",
    "canonical_json",
    "check_output_path",
    "consolidate",
    "create_benchmark_shard",
    "create_blockwise_shard",
    "create_finetune_shard",
    "create_store",
    "finished_models",
    "get_store_spec",
    "hash_distill",
    "list_store_kinds",
    "merge_shards",
    "merge_stores",
    "merged_chunk",
    "open_store",
    "producer_attrs",
    "read_array",
    "register_store_kind",
    "remove_stale_tmp",
    "store_path",
    "verify_store",
    "write_block_result",
    "write_model_result",
    "write_proxies_shard",
    "write_surrogate_store",
]
