"""BRP: the ranker learns a graph-dependent order, its scores are the stated aggregation of the
pair head, it saves and loads, and bad input gives Blox errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from blox_predict import BRPPredictor, TooFewPointsError, get_predictor, load_predictor
from blox_predict.gcn import embed
from blox_space import NUM_MODELS
from blox_space.errors import ConfigError, InvalidArchitectureError
from scipy.stats import spearmanr

from .test_gcn import one_thread, smooth_target, split  # noqa: F401 - the fixture

SMALL = {"num_layers": 2, "hidden": 16, "epochs": 2, "batch_size": 64, "random_state": 0}


def test_brp_learns_a_graph_dependent_ranking():
    train, test = split()
    params = {"num_layers": 3, "hidden": 64, "epochs": 4, "batch_size": 256, "lr": 2e-3, "dropout": 0.0}
    est = BRPPredictor(random_state=0, **params).fit(train, smooth_target(train))
    rho = spearmanr(est.predict(test), smooth_target(test))[0]
    assert rho >= 0.8, rho


def test_scores_are_mean_win_probability_over_both_orders():
    train, test = split(30, 12)
    est = BRPPredictor(reference_size=10, **SMALL).fit(train, smooth_target(train))
    assert est.reference_.shape == (10, 16)
    net = est.module_
    emb = embed(net.encoder, test, torch.device("cpu"))
    ref = est.reference_
    with torch.no_grad():
        expect = []
        for m in range(len(test)):
            wins = []
            for r in range(len(ref)):
                both = torch.stack([emb[m], ref[r]])
                first = net.pair_logp(both, torch.tensor([0]), torch.tensor([1])).exp()[0, 0]
                second = net.pair_logp(both, torch.tensor([1]), torch.tensor([0])).exp()[0, 1]
                wins.append(0.5 * (first + second))
            expect.append(torch.stack(wins).mean())
    np.testing.assert_allclose(est.predict(test), torch.stack(expect).numpy(), rtol=1e-5, atol=1e-6)


def test_reference_is_all_training_models_when_few():
    train, _ = split(20, 0)
    est = BRPPredictor(**SMALL).fit(train, smooth_target(train))
    assert est.reference_.shape[0] == 20
    assert est.train_ == {"n": 20}


def test_pairs_per_epoch_caps_the_work_and_stays_deterministic():
    train, test = split(40, 10)
    y = smooth_target(train)
    a = BRPPredictor(pairs_per_epoch=100, **SMALL).fit(train, y).predict(test)
    b = BRPPredictor(pairs_per_epoch=100, **SMALL).fit(train, y).predict(test)
    np.testing.assert_array_equal(a, b)
    c = BRPPredictor(**SMALL).fit(train, y).predict(test)
    assert not np.array_equal(a, c)


def test_save_load_predicts_identically(tmp_path):
    train, test = split(25, 15)
    est = BRPPredictor(reference_size=7, **SMALL).fit(train, smooth_target(train))
    est.save(tmp_path / "brp")
    loaded = load_predictor(tmp_path / "brp")
    assert isinstance(loaded, BRPPredictor) and loaded.reference_size == 7
    np.testing.assert_array_equal(loaded.predict(test), est.predict(test))


def test_defaults_and_registry():
    est = get_predictor("brp")
    assert type(est) is BRPPredictor
    p = est.get_params()
    assert (p["num_layers"], p["hidden"], p["dropout"], p["lr"], p["weight_decay"]) == (
        4,
        600,
        0.2,
        3.5e-4,
        5e-4,
    )
    assert (p["epochs"], p["batch_size"], p["pairs_per_epoch"]) == (250, 64, None)


def test_errors():
    with pytest.raises(TooFewPointsError):
        BRPPredictor(**SMALL).fit([3], [1.0])
    with pytest.raises(ConfigError):
        BRPPredictor(**SMALL).fit([1, 2], [1.0])
    for bad in (
        {"reference_size": 0},
        {"pairs_per_epoch": 0},
        {"hidden": -1},
        {"device": 3},
        {"device": "cuda:7"},
    ):
        with pytest.raises(ConfigError):
            BRPPredictor(**{**SMALL, **bad}).fit([1, 2, 3], [1.0, 2.0, 3.0])
    with pytest.raises(InvalidArchitectureError):
        BRPPredictor(**SMALL).fit([1, NUM_MODELS + 3], [1.0, 2.0])
    est = BRPPredictor(**SMALL).fit([1, 2], [1.0, 1.0])  # equal targets: a constant 0.5 target
    assert np.isfinite(est.predict([5, 6])).all()
