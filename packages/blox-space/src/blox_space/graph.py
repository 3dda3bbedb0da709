"""Graph forms of a model: the original's 11-vertex DAG, the BRP-NAS encoding and edge lists.

Vertex layout of the full graph (facts §1.3), kept fixed so that dead vertices keep their
position: ``0 = input``, then per stage ``s`` the vertices ``1+3s`` (node 0), ``2+3s``
(node 1) and ``3+3s`` (reduction), and ``10 = output``.

Edges point from source to destination (``adj[src, dst] = 1``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .blocks import BLOCKS, NUM_STAGES, OPS

__all__ = [
    "NUM_VERTICES",
    "BRP_NUM_NODES",
    "BRP_NUM_FEATURES",
    "ModelGraph",
    "model_graph",
    "brp_encoding",
    "edge_list",
]

NUM_VERTICES = 2 + 3 * NUM_STAGES  # 11
BRP_NUM_NODES = NUM_VERTICES + 1  # 12: a global node is prepended
BRP_NUM_FEATURES = 3 + 4 * NUM_STAGES  # 15: global, input, 4 per stage, output
_INPUT, _OUTPUT = 0, NUM_VERTICES - 1


@dataclass(frozen=True)
class ModelGraph:
    """The minimised graph of one model, in the fixed 11-vertex layout.

    Attributes:
        labels: per vertex ``("input", None)``, ``(op_name, stage)``, ``("reduction", stage)``,
            ``("output", None)``, or ``None`` for a dead vertex.
        adjacency: ``(11, 11)`` uint8 matrix, ``adjacency[src, dst] = 1``.
    """

    labels: tuple[tuple[str, int | None] | None, ...]
    adjacency: np.ndarray

    @property
    def alive(self) -> np.ndarray:
        return np.array([label is not None for label in self.labels])


def _stage_vertices(stage: int) -> tuple[int, int, int]:
    return 1 + 3 * stage, 2 + 3 * stage, 3 + 3 * stage


def model_graph(block_ids: tuple[int, int, int]) -> ModelGraph:
    """Build the minimised graph of a model given by its canonical block-id triple.

    Each block is laid out as its canonical cell (facts §1.6): a single op lives in node 1
    (node 0 is a dead placeholder), a parallel pair puts the larger op in node 0.
    """
    labels: list[tuple[str, int | None] | None] = [None] * NUM_VERTICES
    adj = np.zeros((NUM_VERTICES, NUM_VERTICES), dtype=np.uint8)
    labels[_INPUT] = ("input", None)
    labels[_OUTPUT] = ("output", None)
    current = [_INPUT]
    for stage, block_id in enumerate(block_ids):
        block = BLOCKS[block_id]
        v0, v1, vred = _stage_vertices(stage)
        stage_in = current
        if block.scheme == "single":
            labels[v1] = (OPS[block.ops[0]], stage)
            adj[stage_in, v1] = 1
            current = [v1]
        else:
            _, prev, inp, sc = block.cell[1]
            labels[v0] = (OPS[block.ops[0]], stage)
            labels[v1] = (OPS[block.ops[1]], stage)
            adj[stage_in, v0] = 1
            if prev:
                adj[v0, v1] = 1
            if inp:
                adj[stage_in, v1] = 1
            current = [v1, v0] if sc else [v1]
        labels[vred] = ("reduction", stage)
        adj[current, vred] = 1
        current = [vred]
    adj[current, _OUTPUT] = 1
    return ModelGraph(labels=tuple(labels), adjacency=adj)


def _brp_feature_index(label: tuple[str, int | None]) -> int:
    kind, stage = label
    if kind == "input":
        return 1
    if kind == "output":
        return BRP_NUM_FEATURES - 1
    # Per-stage order of the original BRP encoding: mbconv, bconv, conv, reduction.
    offset = {"mbconv": 0, "bconv": 1, "conv": 2, "reduction": 3}[kind]
    return 2 + 4 * stage + offset


def brp_encoding(block_ids: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """BRP-NAS graph encoding of a model (facts §3.1).

    Returns:
        ``(adjacency, features)``: a ``(12, 12)`` float32 adjacency with a global node at
        index 0 (edges from it to every vertex, dead ones included), self-loops on every
        vertex, ``A[src, dst] = 1``; and a ``(12, 15)`` float32 one-hot feature matrix
        (global = feature 0, dead vertices all zero).
    """
    graph = model_graph(block_ids)
    adj = np.zeros((BRP_NUM_NODES, BRP_NUM_NODES), dtype=np.float32)
    adj[1:, 1:] = graph.adjacency
    adj[0, 1:] = 1.0
    np.fill_diagonal(adj, 1.0)
    feats = np.zeros((BRP_NUM_NODES, BRP_NUM_FEATURES), dtype=np.float32)
    feats[0, 0] = 1.0
    for vertex, label in enumerate(graph.labels):
        if label is not None:
            feats[vertex + 1, _brp_feature_index(label)] = 1.0
    return adj, feats


def edge_list(block_ids: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The BRP encoding as a torch-geometric style edge list.

    Returns:
        ``(edge_index, features)``: ``edge_index`` is a ``(2, E)`` int64 array of
        ``(source, target)`` pairs of the 12-node BRP adjacency (self-loops and global
        edges included), ``features`` the ``(12, 15)`` one-hot matrix.
    """
    adj, feats = brp_encoding(block_ids)
    src, dst = np.nonzero(adj)
    return np.stack([src, dst]).astype(np.int64), feats
