"""DonnaPredictor: ridge on block signatures recovers targets built from them; clear errors."""

from __future__ import annotations

import json

import blox_space as bs
import numpy as np
import pytest
from blox_predict import DonnaPredictor, TooFewPointsError, get_predictor, load_predictor
from blox_space.arch import blocks_to_indices, indices_to_blocks
from blox_space.errors import ConfigError
from blox_space.schema import STATUS_DONE
from scipy.stats import spearmanr

#: Blocks a small blockwise store holds at every stage (so its models are 5**3 = 125).
STORE_BLOCKS = range(5)
TEACHER = {
    "name": "M1", "model": 24519, "block_ids": [39, 4, 12], "recipe_id": "r0", "val_acc": 60.0,
    "test_acc": 59.5, "train_seconds": 120.0, "width": 8, "resolution": 16, "num_classes": 10,
}  # fmt: skip
DISTILL = {
    "epochs": 2,
    "snapshots": [1, 2],
    "recipe_id": "r0",
    "lr": 0.01,
    "seed": 0,
    "dead_channel_ratio": 1e-6,
}


def store_nsr(stage: int, block: int, epoch: int) -> float:
    return 1.0 / epoch + stage + block / 10


def store_lana(stage: int, block: int, snapshot: int) -> float:
    return -10.0 / snapshot + stage - block / 10


def blockwise_store(path) -> str:
    """A blockwise shard holding blocks 0..4 of every stage, NSR / LANA from store_nsr / store_lana."""
    group = bs.create_blockwise_shard(
        path, stages=[0, 1, 2], blocks=STORE_BLOCKS, epochs=2, snapshots=[1, 2], teacher=TEACHER,
        distill=DISTILL, dataset="digits", library="lib",
    )  # fmt: skip
    for s in range(3):
        for b in STORE_BLOCKS:
            nsr = [store_nsr(s, b, e) for e in (1, 2)]
            lana = [store_lana(s, b, e) for e in (1, 2)]
            bs.write_block_result(
                group, s, b, train_nsr=nsr, val_nsr=nsr, lana_val_acc=[60.0 + v for v in lana],
                lana_delta_acc=lana, distill_seconds=1.0, signature_seconds=0.1, dead_channels=0,
                library_file=[f"s{s}/b{b}/e{e}.pt" for e in (1, 2)], library_sha256=["a" * 64] * 2,
                status=STATUS_DONE,
            )  # fmt: skip
    return str(path)


def store_models() -> np.ndarray:
    grid = np.array(np.meshgrid(STORE_BLOCKS, STORE_BLOCKS, STORE_BLOCKS, indexing="ij")).reshape(3, -1).T
    return blocks_to_indices(grid)


def _signature_values(table, models):
    blocks = indices_to_blocks(models)
    return np.stack([table[s, blocks[:, s]] for s in range(3)], axis=1)


@pytest.fixture(scope="module")
def table():
    return np.random.default_rng(3).random((3, 45)) + 0.1


@pytest.fixture(scope="module")
def models():
    return np.random.default_rng(4).choice(91125, size=300, replace=False)


def test_a_target_linear_in_the_signatures_is_recovered(table, models):
    s = _signature_values(table, models)
    y = 2.0 * s[:, 0] - 3.0 * s[:, 1] + 0.5 * s[:, 2]  # exactly linear
    est = DonnaPredictor(order=1, alpha=1e-6, signatures=table).fit(models[:40], y[:40])
    assert spearmanr(est.predict(models[40:]), y[40:]).statistic >= 0.99
    np.testing.assert_allclose(est.predict(models[40:]), y[40:], atol=1e-4)
    # NSR is a loss: a target that falls with it is learned with the sign, higher = better
    worse = DonnaPredictor(signatures=table).fit(models[:40], -s[:40].sum(axis=1))
    assert spearmanr(worse.predict(models[40:]), -s[40:].sum(axis=1)).statistic >= 0.99


def test_second_order_fits_a_quadratic_target_first_order_does_not(table, models):
    s = _signature_values(table, models)
    y = s[:, 0] * s[:, 1] - 2.0 * s[:, 2] ** 2 + s[:, 0] ** 2
    second = DonnaPredictor(order=2, alpha=1e-6, signatures=table).fit(models[:60], y[:60])
    first = DonnaPredictor(order=1, alpha=1e-6, signatures=table).fit(models[:60], y[:60])
    rho2 = spearmanr(second.predict(models[60:]), y[60:]).statistic
    rho1 = spearmanr(first.predict(models[60:]), y[60:]).statistic
    assert rho2 >= 0.99 and rho1 < rho2
    assert second.coef_.shape == (9,) and first.coef_.shape == (3,)


def test_ridge_is_the_closed_form_on_standardised_features(table, models):
    s = _signature_values(table, models[:30])
    y = np.random.default_rng(0).normal(size=30)
    est = DonnaPredictor(alpha=2.5, signatures=table).fit(models[:30], y)
    z = (s - s.mean(axis=0)) / s.std(axis=0)
    w = np.linalg.solve(z.T @ z + 2.5 * np.eye(3), z.T @ (y - y.mean()))
    np.testing.assert_allclose(est.coef_, w, rtol=1e-10)
    assert est.intercept_ == pytest.approx(y.mean())


def test_without_signatures_the_error_says_how_to_give_them(models):
    with pytest.raises(ConfigError, match=r"signatures=<a \(3, 45\) array.*blockwise store"):
        DonnaPredictor().fit(models[:20], np.arange(20.0))
    with pytest.raises(ConfigError, match=r"shape \(3, 45\)"):
        DonnaPredictor(signatures=np.ones((3, 44))).fit(models[:20], np.arange(20.0))
    with pytest.raises(ConfigError, match="order must be 1 or 2"):
        DonnaPredictor(order=3, signatures=np.ones((3, 45))).fit(models[:20], np.arange(20.0))
    with pytest.raises(ConfigError, match="alpha"):
        DonnaPredictor(alpha=0, signatures=np.ones((3, 45))).fit(models[:20], np.arange(20.0))


def test_a_model_without_a_signature_names_its_stage_and_block(table):
    holes = table.copy()
    holes[1, 7] = np.nan
    models = np.array([bs.to_index((0, 7, 0)), bs.to_index((3, 7, 2))] + list(range(10)))
    with pytest.raises(ConfigError, match=r"model \d+ has no DONNA signature for stage 1 block 7.*2 of 12"):
        DonnaPredictor(signatures=holes).fit(models, np.arange(12.0))
    fitted = DonnaPredictor(signatures=holes).fit(np.arange(10), np.arange(10.0))
    with pytest.raises(ConfigError, match="stage 1 block 7"):
        fitted.predict([bs.to_index((0, 7, 0))])


@pytest.mark.parametrize(("order", "enough"), [(1, 4), (2, 10)])
def test_too_few_points_is_its_own_error(table, models, order, enough):
    est = DonnaPredictor(order=order, signatures=table)
    with pytest.raises(TooFewPointsError, match=f"at least {enough} training models"):
        est.fit(models[: enough - 1], np.arange(enough - 1.0))
    est.fit(models[:enough], np.arange(float(enough)))
    assert est.train_ == {"n": enough, "features": 3 if order == 1 else 9}


def test_signatures_from_a_blockwise_store_at_an_epoch(tmp_path):
    path = blockwise_store(tmp_path / "M1.zarr")
    models = store_models()
    y = np.random.default_rng(1).normal(size=len(models))
    for epoch in (1, 2, None):
        from_store = DonnaPredictor(order=2, signatures=path, epoch=epoch).fit(models, y)
        table = bs.open_blockwise(path).donna(epoch)
        from_array = DonnaPredictor(order=2, signatures=table).fit(models, y)
        np.testing.assert_array_equal(from_store.predict(models), from_array.predict(models))
    assert from_store.signatures_[0, 3] == pytest.approx(store_nsr(0, 3, 2))
    with pytest.raises(ConfigError, match="no DONNA signature for stage 0 block 5"):
        DonnaPredictor(signatures=path).fit([5, 0, 1, 2], np.arange(4.0))
    with pytest.raises(bs.QueryError, match="epoch 3 is not in this blockwise store"):
        DonnaPredictor(signatures=path, epoch=3).fit(models, y)
    with pytest.raises(ConfigError, match="applies to a blockwise store path"):
        DonnaPredictor(signatures=np.ones((3, 45)), epoch=1).fit(models, y)


def test_save_and_load_keep_the_store_path_and_the_signatures(tmp_path):
    path = blockwise_store(tmp_path / "M1.zarr")
    models = store_models()
    y = np.random.default_rng(2).normal(size=len(models))
    est = get_predictor("donna", order=2, signatures=path, epoch=1).fit(models, y)
    est.save(tmp_path / "saved")
    doc = json.loads((tmp_path / "saved" / "predictor.json").read_text())
    assert doc["params"]["signatures"] == path and doc["params"]["epoch"] == 1
    import shutil

    shutil.rmtree(path)  # the saved state holds the signatures: no store needed to predict
    loaded = load_predictor(tmp_path / "saved")
    np.testing.assert_array_equal(loaded.predict(models), est.predict(models))
    assert loaded.get_params()["signatures"] == path
