"""The vectorised BRP encodings equal blox_space's single-model ones."""

from __future__ import annotations

import numpy as np
import pytest
from blox_predict.encoding import NUM_FEATURES, NUM_NODES, dense_encoding, graph_batch
from blox_space import NUM_MODELS, brp_encoding, edge_list, to_blocks
from hypothesis import given, settings
from hypothesis import strategies as st

models_st = st.lists(st.integers(0, NUM_MODELS - 1), min_size=1, max_size=8)


def _edges_of(batch, graph: int) -> set[tuple[int, int]]:
    ei = batch.edge_index.numpy()
    sel = ei[0] // NUM_NODES == graph
    return set(map(tuple, (ei[:, sel] - NUM_NODES * graph).T.tolist()))


@settings(max_examples=60, deadline=None)
@given(models_st)
def test_dense_encoding_equals_brp_encoding(models):
    adj, feats = dense_encoding(np.array(models))
    assert adj.dtype == feats.dtype == np.float32
    for n, m in enumerate(models):
        ref_adj, ref_feats = brp_encoding(to_blocks(m))
        np.testing.assert_array_equal(adj[n], ref_adj)
        np.testing.assert_array_equal(feats[n], ref_feats)


@settings(max_examples=60, deadline=None)
@given(models_st)
def test_graph_batch_equals_edge_list(models):
    batch = graph_batch(np.array(models))
    assert batch.num_graphs == len(models)
    for n, m in enumerate(models):
        ref_edges, ref_feats = edge_list(to_blocks(m))
        assert _edges_of(batch, n) == set(map(tuple, ref_edges.T.tolist()))
        np.testing.assert_array_equal(batch.x[n * NUM_NODES : (n + 1) * NUM_NODES].numpy(), ref_feats)


def test_a_few_hundred_models_exhaustively():
    models = np.random.default_rng(0).choice(NUM_MODELS, size=400, replace=False)
    models = np.concatenate([models, [0, NUM_MODELS - 1, 0]])  # ends of the space and a repeat
    adj, feats = dense_encoding(models)
    batch = graph_batch(models)
    for n, m in enumerate(models):
        ref_adj, ref_feats = brp_encoding(to_blocks(int(m)))
        np.testing.assert_array_equal(adj[n], ref_adj)
        np.testing.assert_array_equal(feats[n], ref_feats)
        src, dst = np.nonzero(ref_adj)
        assert _edges_of(batch, n) == set(zip(src.tolist(), dst.tolist()))


def test_batch_layout():
    models = np.array([5, 17, 91124])
    batch = graph_batch(models)
    assert batch.x.shape == (3 * NUM_NODES, NUM_FEATURES)
    assert batch.batch.tolist() == sum(([g] * NUM_NODES for g in range(3)), [])
    assert batch.ptr.tolist() == [0, 12, 24, 36]
    assert batch.edge_index.dtype.is_floating_point is False
    # edges grouped by graph, node 0 of each graph is the global node (feature 0, edges to all)
    graph_of_edge = batch.edge_index[0] // NUM_NODES
    assert (graph_of_edge.diff() >= 0).all()
    assert (batch.edge_index[1] // NUM_NODES == graph_of_edge).all()
    for g in range(3):
        assert batch.x[g * NUM_NODES, 0] == 1
        assert {d for s, d in _edges_of(batch, g) if s == 0} == set(range(NUM_NODES))


def test_empty():
    adj, feats = dense_encoding(np.zeros(0, dtype=np.int64))
    assert adj.shape == (0, NUM_NODES, NUM_NODES) and feats.shape == (0, NUM_NODES, NUM_FEATURES)
    batch = graph_batch(np.zeros(0, dtype=np.int64))
    assert batch.num_graphs == 0 and batch.edge_index.shape == (2, 0)


def test_all_models_dense_and_batch_agree():
    models = np.arange(NUM_MODELS)
    adj, feats = dense_encoding(models)
    batch = graph_batch(models)
    assert adj.shape == (NUM_MODELS, NUM_NODES, NUM_NODES)
    assert batch.num_graphs == NUM_MODELS and batch.x.shape == (NUM_MODELS * NUM_NODES, NUM_FEATURES)
    np.testing.assert_array_equal(batch.x.numpy(), feats.reshape(-1, NUM_FEATURES))
    per_graph = np.bincount(batch.edge_index[0].numpy() // NUM_NODES, minlength=NUM_MODELS)
    np.testing.assert_array_equal(per_graph, adj.sum(axis=(1, 2)).astype(np.int64))
    # the diagonal and the global row are set for every model, dead vertices included
    assert (adj[:, np.arange(NUM_NODES), np.arange(NUM_NODES)] == 1).all()
    assert (adj[:, 0, :] == 1).all() and (adj[:, 1:, 0] == 0).all()


@pytest.mark.parametrize("bad", [np.array([NUM_MODELS]), np.array([-1])])
def test_bad_models_raise_the_space_error(bad):
    from blox_space.errors import InvalidArchitectureError

    with pytest.raises(InvalidArchitectureError):
        dense_encoding(bad)
    with pytest.raises(InvalidArchitectureError):
        graph_batch(bad)
