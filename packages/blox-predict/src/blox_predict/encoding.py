"""Graph encodings of many models at once: the BRP-NAS dense form and one torch-geometric ``Batch``.

Both equal :func:`blox_space.brp_encoding` model by model (12 nodes: node 0 is the global node,
then the 11 vertices of :func:`blox_space.model_graph`; 15 one-hot features; self-loops on every
node; ``A[src, dst] = 1``). They are built without a Python loop over models: in the fixed
11-vertex layout the out-edges of the stage input, node 0 and node 1 of stage ``s`` and the labels
of its two op nodes depend only on that stage's block, so each ``(stage, block)`` contributes a
precomputed piece, and a model is the fixed part (global row, self-loops, last reduction -> output,
input / reduction / output labels) plus one gathered piece per stage.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from blox_space import NUM_BLOCKS, NUM_STAGES
from blox_space.arch import indices_to_blocks
from blox_space.graph import BRP_NUM_FEATURES, BRP_NUM_NODES, brp_encoding

__all__ = ["dense_encoding", "graph_batch", "NUM_NODES", "NUM_FEATURES"]

NUM_NODES = BRP_NUM_NODES  # 12
NUM_FEATURES = BRP_NUM_FEATURES  # 15


def _stage_rows(stage: int) -> list[int]:
    """BRP node indices (global = 0) whose out-edges belong to ``stage``: its input, node 0, node 1."""
    return [1 + 3 * stage, 2 + 3 * stage, 3 + 3 * stage]


@lru_cache(maxsize=1)
def _pieces() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(base_adj (12,12), base_feat (12,15), adj_piece (S,45,12,12), feat_piece (S,45,12,15))``."""
    adj_piece = np.zeros((NUM_STAGES, NUM_BLOCKS, NUM_NODES, NUM_NODES), dtype=np.float32)
    feat_piece = np.zeros((NUM_STAGES, NUM_BLOCKS, NUM_NODES, NUM_FEATURES), dtype=np.float32)
    ref_adj, ref_feat = brp_encoding((0,) * NUM_STAGES)
    base_adj, base_feat = ref_adj.copy(), ref_feat.copy()
    for stage in range(NUM_STAGES):
        rows = _stage_rows(stage)
        base_adj[rows] = 0.0
        base_feat[rows[1:]] = 0.0  # the stage's two op nodes
    base_adj[np.arange(NUM_NODES), np.arange(NUM_NODES)] = 1.0
    for stage in range(NUM_STAGES):
        rows = _stage_rows(stage)
        for block in range(NUM_BLOCKS):
            ids = [0] * NUM_STAGES
            ids[stage] = block
            adj, feat = brp_encoding(tuple(ids))
            adj_piece[stage, block, rows] = adj[rows]
            feat_piece[stage, block, rows[1:]] = feat[rows[1:]]
        adj_piece[stage, :, rows, rows] = 0.0  # self-loops live in the base
    return base_adj, base_feat, adj_piece, feat_piece


def _blocks(models: np.ndarray) -> np.ndarray:
    models = np.asarray(models, dtype=np.int64).reshape(-1)
    return np.asarray(indices_to_blocks(models), dtype=np.int64).reshape(-1, NUM_STAGES)


def dense_encoding(models: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BRP-NAS encodings of many models at once.

    Args:
        models: ``(N,)`` model indices (use :func:`blox_predict.to_indices` for other forms).

    Returns:
        ``(adj, feats)``: ``(N, 12, 12)`` float32 adjacency (``adj[n, src, dst] = 1``, self-loops,
        global node 0 -> every node) and ``(N, 12, 15)`` float32 one-hot features, each equal to
        :func:`blox_space.brp_encoding` of the model.
    """
    blocks = _blocks(models)
    base_adj, _, adj_piece, _ = _pieces()
    adj = np.broadcast_to(base_adj, (len(blocks), NUM_NODES, NUM_NODES)).copy()
    for stage in range(NUM_STAGES):
        adj += adj_piece[stage, blocks[:, stage]]
    return adj, _features(blocks)


def _features(blocks: np.ndarray) -> np.ndarray:
    _, base_feat, _, feat_piece = _pieces()
    feats = np.broadcast_to(base_feat, (len(blocks), NUM_NODES, NUM_FEATURES)).copy()
    for stage in range(NUM_STAGES):
        feats += feat_piece[stage, blocks[:, stage]]
    return feats


@lru_cache(maxsize=1)
def _edge_pieces() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fixed edges ``(2, F)`` and per-(stage, block) padded edges ``src, dst (S, 45, K)``, ``mask``,
    plus the per-node feature index ``(S, 45, 12)`` (-1 = not set by the stage)."""
    base_adj, _, adj_piece, _ = _pieces()
    fixed = np.stack(np.nonzero(base_adj)).astype(np.int64)
    counts = (adj_piece != 0).sum(axis=(2, 3))
    k = int(counts.max())
    src = np.zeros((NUM_STAGES, NUM_BLOCKS, k), dtype=np.int64)
    dst = np.zeros_like(src)
    mask = np.zeros((NUM_STAGES, NUM_BLOCKS, k), dtype=bool)
    for stage in range(NUM_STAGES):
        for block in range(NUM_BLOCKS):
            s, d = np.nonzero(adj_piece[stage, block])
            src[stage, block, : len(s)], dst[stage, block, : len(s)] = s, d
            mask[stage, block, : len(s)] = True
    return fixed, src, dst, mask, counts


def graph_batch(models: np.ndarray):
    """The BRP-NAS graphs of many models as one :class:`torch_geometric.data.Batch`.

    Args:
        models: ``(N,)`` model indices.

    Returns:
        A ``Batch`` of ``N`` graphs with 12 nodes each (node ``12 n`` is graph ``n``'s global node):
        ``x`` ``(12 N, 15)`` float32 one-hot features, ``edge_index`` ``(2, E)`` int64 in the
        original direction (row 0 = source, row 1 = destination, i.e. ``A[src, dst] = 1``; a
        graph conv that reproduces ``A @ (X W)`` must aggregate at the *source*, PyG's
        ``flow="target_to_source"``), ``batch`` ``(12 N,)`` and ``ptr`` ``(N + 1,)``. Edges are
        grouped by graph.
    """
    import torch
    from torch_geometric.data import Batch

    blocks = _blocks(models)
    n = len(blocks)
    feats = _features(blocks)
    fixed, src, dst, mask, _ = _edge_pieces()
    all_src = [np.broadcast_to(fixed[0], (n, fixed.shape[1]))]
    all_dst = [np.broadcast_to(fixed[1], (n, fixed.shape[1]))]
    all_mask = [np.ones((n, fixed.shape[1]), dtype=bool)]
    for stage in range(NUM_STAGES):
        all_src.append(src[stage, blocks[:, stage]])
        all_dst.append(dst[stage, blocks[:, stage]])
        all_mask.append(mask[stage, blocks[:, stage]])
    offset = (np.arange(n, dtype=np.int64) * NUM_NODES)[:, None]
    keep = np.concatenate(all_mask, axis=1)
    e_src = (np.concatenate(all_src, axis=1) + offset)[keep]
    e_dst = (np.concatenate(all_dst, axis=1) + offset)[keep]
    edge_index = torch.from_numpy(np.stack([e_src, e_dst]))
    x = torch.from_numpy(np.ascontiguousarray(feats.reshape(n * NUM_NODES, NUM_FEATURES)))
    batch = torch.arange(n, dtype=torch.long).repeat_interleave(NUM_NODES)
    ptr = torch.arange(n + 1, dtype=torch.long) * NUM_NODES
    out = Batch(x=x, edge_index=edge_index, batch=batch, ptr=ptr)
    out._num_graphs = n
    return out
