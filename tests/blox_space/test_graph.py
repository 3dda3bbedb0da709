"""Graph encodings, checked against a slow, literal re-reading of facts §1.3–§1.5 and §3.1."""

from __future__ import annotations

import hashlib

import blox_space as bs
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

OPS = ["conv", "mbconv", "bconv"]


def reference_graph(arch, keep_dims=False):
    """Facts §1.3 builder + §1.4 minimisation, from a raw (possibly non-canonical) arch vector."""
    labels = [("input", None)]
    edges = set()
    current = {0}
    for stage, (node0, node1) in enumerate(arch):
        stage_in = set(current)
        nodes = [[node0[0], 1, 0, 0], node1]
        prev_out = None
        for op, prev, inp, sc in nodes:
            v = len(labels)
            labels.append((OPS[op], stage))
            if prev:
                edges |= {(u, v) for u in current}
            if inp:
                edges |= {(u, v) for u in stage_in}
            new = {v}
            if sc:
                new |= prev_out
            prev_out = {v}
            current = new
        red = len(labels)
        labels.append(("reduction", stage))
        edges |= {(u, red) for u in current}
        current = {red}
    out = len(labels)
    labels.append(("output", None))
    edges |= {(u, out) for u in current}
    n = len(labels)
    mat = np.zeros((n, n))
    for s, d in edges:
        mat[s, d] = 1.0
    fwd, frontier = {0}, [0]
    while frontier:
        v = frontier.pop()
        for w in np.nonzero(mat[v])[0]:
            if w not in fwd:
                fwd.add(int(w))
                frontier.append(int(w))
    bwd, frontier = {n - 1}, [n - 1]
    while frontier:
        v = frontier.pop()
        for w in np.nonzero(mat[:, v])[0]:
            if w not in bwd:
                bwd.add(int(w))
                frontier.append(int(w))
    alive = sorted(fwd & bwd)
    if n - 1 not in alive or 0 not in alive:
        return None, []
    if keep_dims:
        dead = [v for v in range(n) if v not in alive]
        mat[dead, :] = 0
        mat[:, dead] = 0
        return mat, [labels[v] if v in alive else None for v in range(n)]
    return mat[np.ix_(alive, alive)], [labels[v] for v in alive]


def reference_hash(arch):
    mat, labels = reference_graph(arch)
    if mat is None:
        return None

    def int_label(lab):
        kind, stage = lab
        if kind == "input":
            return -1
        if kind == "output":
            return -2
        if kind == "reduction":
            return 3 + 4 * stage
        return OPS.index(kind) + 4 * stage

    out_deg, in_deg = mat.sum(axis=1), mat.sum(axis=0)
    hashes = [
        hashlib.md5(str((float(out_deg[v]), float(in_deg[v]), int_label(lab))).encode()).hexdigest()
        for v, lab in enumerate(labels)
    ]
    for _ in range(len(labels)):
        new = []
        for v in range(len(labels)):
            ins = "".join(sorted(hashes[u] for u in np.nonzero(mat[:, v])[0]))
            outs = "".join(sorted(hashes[w] for w in np.nonzero(mat[v])[0]))
            new.append(hashlib.md5((ins + "|" + outs + "|" + hashes[v]).encode()).hexdigest())
        hashes = new
    return hashlib.md5(str(sorted(hashes)).encode()).hexdigest()


cell_st = st.tuples(
    st.integers(0, 2), st.integers(0, 2), st.integers(0, 1), st.integers(0, 1), st.integers(0, 1)
)
arch_st = st.tuples(cell_st, cell_st, cell_st).map(lambda cs: [[[c[0]], list(c[1:])] for c in cs])


@settings(max_examples=150, deadline=None)
@given(arch_st)
def test_hash_equals_the_literal_reference_on_raw_configurations(arch):
    expected = reference_hash(arch)
    if expected is None:
        try:
            bs.to_hash(arch)
        except bs.InvalidCellError:
            return
        raise AssertionError("an invalid configuration was accepted")
    assert bs.to_hash(arch) == expected


def test_one_stage_reference_vector():
    # facts §1.7: the one-stage graph [[[0],[0,1,0,0]]] hashes to a6cc...; our reference agrees
    assert reference_hash([[[0], [0, 1, 0, 0]]]) == "a6ccbe5e3e24612c043a0e7998fa485f"


@settings(max_examples=60, deadline=None)
@given(st.integers(0, bs.NUM_MODELS - 1))
def test_model_graph_is_the_minimised_keep_dims_graph(index):
    mat, labels = reference_graph(bs.to_arch_vec(index), keep_dims=True)
    graph = bs.model_graph(bs.to_blocks(index))
    assert graph.labels == tuple(labels)
    assert (graph.adjacency == mat).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(0, bs.NUM_MODELS - 1))
def test_brp_encoding(index):
    blocks = bs.to_blocks(index)
    adj, feats = bs.brp_encoding(blocks)
    assert adj.shape == (12, 12) and feats.shape == (12, 15)
    assert (adj[0] == 1).all() and (adj[1:, 0] == 0).all()
    assert (np.diag(adj) == 1).all()
    graph = bs.model_graph(blocks)
    off_diag = adj[1:, 1:] - np.eye(11)
    assert (off_diag == graph.adjacency).all()
    assert feats[0, 0] == 1 and feats[1, 1] == 1 and feats[11, 14] == 1
    assert feats.sum() == 1 + sum(label is not None for label in graph.labels)
    for vertex, label in enumerate(graph.labels):
        row = feats[vertex + 1]
        if label is None:
            assert row.sum() == 0
        elif label[0] in ("mbconv", "bconv", "conv", "reduction"):
            offset = ["mbconv", "bconv", "conv", "reduction"].index(label[0])
            assert row[2 + 4 * label[1] + offset] == 1


def test_edge_list_matches_adjacency():
    edge_index, feats = bs.edge_list((39, 4, 12))
    adj, feats2 = bs.brp_encoding((39, 4, 12))
    rebuilt = np.zeros_like(adj)
    rebuilt[edge_index[0], edge_index[1]] = 1
    assert (rebuilt == adj).all() and (feats == feats2).all()
    assert edge_index.dtype == np.int64 and edge_index.shape[0] == 2
