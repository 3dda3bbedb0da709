"""The GCN: message passing equals the original's dense A (X W) + b, the fast inference path equals
the plain one, the regressor learns a graph-dependent target, bad input gives Blox errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from blox_predict import GCNPredictor, get_predictor, load_predictor
from blox_predict.encoding import NUM_FEATURES, dense_encoding, graph_batch
from blox_predict.gcn import BRPGraphConv, GCNEncoder, GCNRegressor
from blox_space import BLOCKS, NUM_MODELS
from blox_space.errors import ConfigError, InvalidArchitectureError
from scipy.stats import spearmanr


@pytest.fixture(autouse=True)
def one_thread():
    """Small graphs and a busy shared machine: one intra-op thread is several times faster."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _block_features() -> np.ndarray:
    rows = []
    for block in BLOCKS:
        ops = np.bincount(block.ops, minlength=3)
        flags = block.cell[1][1:] if block.scheme != "single" else (0, 0, 0)
        rows.append([*ops, *flags])
    return np.asarray(rows, dtype=float)


def smooth_target(models: np.ndarray, *, seed: int = 0, noise: float = 0.05) -> np.ndarray:
    """A graph-dependent target: a linear function of each stage's block features (op counts,
    prev / input / skip flags), an interaction of stages 0 and 2, and Gaussian noise."""
    feats = _block_features()
    w = np.random.default_rng(seed).normal(size=(3, feats.shape[1]))
    blocks = np.stack([models % 45, (models // 45) % 45, models // 2025], axis=1)
    parts = np.stack([feats[blocks[:, s]] @ w[s] for s in range(3)], axis=1)
    y = parts.sum(axis=1) + 0.5 * np.tanh(parts[:, 0] * parts[:, 2])
    return y + noise * np.random.default_rng(seed + 1).normal(size=len(models))


def split(n_train: int = 200, n_test: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    models = np.random.default_rng(seed).choice(NUM_MODELS, size=n_train + n_test, replace=False)
    return models[:n_train], models[n_train:]


def _dense_reference(encoder: GCNEncoder, models: np.ndarray) -> np.ndarray:
    """The original formulation in float64 numpy: per layer A (X W) + b over all nodes, LayerNorm,
    ReLU; readout node 0."""
    adj, x = (a.astype(np.float64) for a in dense_encoding(models))
    for conv, norm in zip(encoder.convs, encoder.norms):
        x = adj @ (x @ conv.weight.detach().double().numpy()) + conv.bias.detach().double().numpy()
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        x = (x - mu) / np.sqrt(var + norm.eps) * norm.weight.detach().double().numpy()
        x = np.maximum(x + norm.bias.detach().double().numpy(), 0.0)
    return x[:, 0]


def test_conv_equals_dense_a_x_w():
    torch.manual_seed(0)
    conv = BRPGraphConv(NUM_FEATURES, 7)
    models = np.random.default_rng(1).choice(NUM_MODELS, size=50, replace=False)
    batch = graph_batch(models)
    with torch.no_grad():
        out = conv(batch.x, batch.edge_index).numpy().reshape(50, 12, 7)
        glob = conv(batch.x, batch.edge_index, rows=batch.ptr[:-1]).numpy()
    adj, x = dense_encoding(models)
    w, b = conv.weight.detach().double().numpy(), conv.bias.detach().double().numpy()
    ref = adj.astype(np.float64) @ (x.astype(np.float64) @ w) + b
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(glob, ref[:, 0], rtol=1e-5, atol=1e-6)


def test_thomas_init_bounds():
    conv = BRPGraphConv(15, 100)
    conv.reset_parameters(torch.Generator().manual_seed(0))
    assert conv.weight.abs().max() <= 0.1 and conv.bias.abs().max() <= 0.1
    assert conv.weight.abs().max() > 0.09  # uses the whole range


def test_encoder_and_fast_inference_equal_the_dense_original():
    torch.manual_seed(0)
    encoder = GCNEncoder(NUM_FEATURES, 48, 4, 0.2).eval()
    models = np.random.default_rng(2).choice(NUM_MODELS, size=600, replace=False)
    batch = graph_batch(models)
    args = batch.x, batch.edge_index, batch.ptr[:-1]
    with torch.no_grad():
        plain = encoder(*args).numpy()
        fast = encoder.infer(*args).numpy()
    ref = _dense_reference(encoder, models)
    np.testing.assert_allclose(plain, ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fast, ref, rtol=1e-4, atol=1e-5)


def test_fast_inference_falls_back_on_other_graphs():
    torch.manual_seed(0)
    encoder = GCNEncoder(NUM_FEATURES, 16, 3, 0.0).eval()
    batch = graph_batch(np.arange(20))
    glob = batch.ptr[:-1]
    x = batch.x * 0.5  # not 0/1 features
    with torch.no_grad():
        np.testing.assert_array_equal(
            encoder.infer(x, batch.edge_index, glob), encoder(x, batch.edge_index, glob)
        )
    with pytest.raises(RuntimeError, match="eval"):
        encoder.train().infer(batch.x, batch.edge_index, glob)


def test_module_validation():
    with pytest.raises(ValueError, match="GCNEncoder"):
        GCNEncoder(15, 0, 2, 0.1)
    with pytest.raises(ValueError, match="GCNEncoder"):
        GCNEncoder(15, 8, 2, 1.0)
    with pytest.raises(ValueError, match="BRPGraphConv"):
        BRPGraphConv(0, 3)
    assert "hidden=8" in repr(GCNRegressor(15, 8, 2, 0.0))


FAST = {"num_layers": 3, "hidden": 64, "epochs": 60, "batch_size": 32, "lr": 2e-3, "dropout": 0.0}


def test_gcn_learns_a_graph_dependent_target():
    train, test = split()
    est = GCNPredictor(random_state=0, **FAST).fit(train, smooth_target(train))
    rho = spearmanr(est.predict(test), smooth_target(test))[0]
    assert rho >= 0.8, rho


def test_defaults_match_the_original_config():
    params = GCNPredictor().get_params()
    assert params == {
        "num_layers": 4,
        "hidden": 600,
        "dropout": 0.2,
        "lr": 3.5e-4,
        "weight_decay": 5e-4,
        "epochs": 250,
        "batch_size": 64,
        "normalize_targets": True,
        "device": "cpu",
        "random_state": None,
    }
    assert type(get_predictor("gcn")) is GCNPredictor


def test_fit_leaves_global_rng_alone_and_is_deterministic():
    train, test = split(40, 20)
    y = smooth_target(train)
    before = torch.random.get_rng_state()
    a = GCNPredictor(num_layers=2, hidden=16, epochs=3, dropout=0.3, random_state=3).fit(train, y)
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(123)  # another global state does not change the result
    b = GCNPredictor(num_layers=2, hidden=16, epochs=3, dropout=0.3, random_state=3).fit(train, y)
    np.testing.assert_array_equal(a.predict(test), b.predict(test))
    c = GCNPredictor(num_layers=2, hidden=16, epochs=3, dropout=0.3, random_state=4).fit(train, y)
    assert not np.array_equal(a.predict(test), c.predict(test))


def test_predictions_in_target_units_and_save_load(tmp_path):
    train, test = split(60, 30)
    y = 70 + 5 * smooth_target(train)
    est = GCNPredictor(num_layers=2, hidden=32, epochs=20, lr=3e-3, random_state=0).fit(train, y)
    pred = est.predict(test)
    assert pred.dtype == np.float64 and abs(pred.mean() - y.mean()) < y.std()
    est.save(tmp_path / "p")
    doc = json.loads((tmp_path / "p" / "predictor.json").read_text())
    assert doc["predictor"] == "gcn" and doc["train"] == {"n": 60}
    assert doc["state"]["y_mean"] == pytest.approx(y.mean())
    loaded = load_predictor(tmp_path / "p")
    np.testing.assert_array_equal(loaded.predict(test), pred)


@pytest.mark.parametrize(
    "params",
    [
        {"hidden": 0},
        {"num_layers": 1.5},
        {"dropout": 1.0},
        {"lr": 0},
        {"epochs": -1},
        {"batch_size": True},
        {"weight_decay": float("nan")},
        {"device": "no-such-device"},
        {"random_state": "seed"},
    ],
)
def test_bad_hyperparameters_raise_config_error(params):
    with pytest.raises(ConfigError):
        GCNPredictor(**{"epochs": 1, "hidden": 8, **params}).fit([0, 1, 2], [1.0, 2.0, 3.0])


def test_bad_input_raises_blox_errors():
    est = GCNPredictor(num_layers=1, hidden=8, epochs=1, random_state=0)
    with pytest.raises(InvalidArchitectureError):
        est.fit([0, NUM_MODELS], [1.0, 2.0])
    with pytest.raises(ConfigError):
        est.fit([], [])
    with pytest.raises(ConfigError):
        est.fit([0, 1], [1.0, float("inf")])
    est.fit([0, 1], [1.0, 2.0])
    with pytest.raises(InvalidArchitectureError):
        est.predict(["no-such-arch"])
    assert est.predict([]).shape == (0,)
