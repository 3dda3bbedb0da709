"""LanaPredictor: the sum of the three blocks' LANA signatures, optionally mapped affinely."""

from __future__ import annotations

import blox_space as bs
import numpy as np
import pytest
from blox_predict import LanaPredictor, TooFewPointsError, load_predictor
from blox_space.arch import indices_to_blocks
from blox_space.errors import ConfigError

from .test_donna import blockwise_store, store_lana, store_models


@pytest.fixture(scope="module")
def table():
    return np.random.default_rng(5).normal(size=(3, 45))


def _sums(table, models):
    blocks = indices_to_blocks(models)
    return table[0, blocks[:, 0]] + table[1, blocks[:, 1]] + table[2, blocks[:, 2]]


def test_prediction_is_the_sum_of_the_signatures(table):
    models = np.array([0, 17, 4000, 91124])
    est = LanaPredictor(signatures=table).fit(models, np.zeros(4))
    np.testing.assert_array_equal(est.predict(models), _sums(table, models))
    assert est.slope_ == 1.0 and est.intercept_ == 0.0


def test_affine_is_the_least_squares_line_of_the_targets(table):
    models = np.random.default_rng(0).choice(91125, 50, replace=False)
    y = 3.0 * _sums(table, models) + 70.0
    est = LanaPredictor(signatures=table, affine=True).fit(models, y)
    assert est.slope_ == pytest.approx(3.0) and est.intercept_ == pytest.approx(70.0)
    np.testing.assert_allclose(est.predict(models), y)
    flat = LanaPredictor(signatures=np.zeros((3, 45)), affine=True).fit(models[:5], np.arange(5.0))
    assert flat.slope_ == 0.0 and flat.predict([1]).tolist() == [2.0]
    with pytest.raises(TooFewPointsError, match="at least 2"):
        LanaPredictor(signatures=table, affine=True).fit(models[:1], [1.0])


def test_errors_say_what_is_missing(table):
    with pytest.raises(ConfigError, match="LANA signatures: pass signatures="):
        LanaPredictor().fit([0, 1], [1.0, 2.0])
    holes = table.copy()
    holes[2, 44] = np.nan
    with pytest.raises(ConfigError, match="no LANA signature for stage 2 block 44"):
        LanaPredictor(signatures=holes).fit([91124], [1.0])
    with pytest.raises(ConfigError, match="affine must be True or False"):
        LanaPredictor(signatures=table, affine="yes").fit([0], [1.0])


def test_signatures_from_a_blockwise_store_at_a_snapshot(tmp_path):
    path = blockwise_store(tmp_path / "M1.zarr")
    models = store_models()
    for snapshot in (1, 2):
        est = LanaPredictor(signatures=path, snapshot=snapshot).fit(models, np.zeros(len(models)))
        blocks = indices_to_blocks(models)
        expected = sum(store_lana(s, blocks[:, s], snapshot) for s in range(3))
        np.testing.assert_allclose(est.predict(models), expected)
    with pytest.raises(bs.QueryError, match="snapshot 3 is not in this blockwise store"):
        LanaPredictor(signatures=path, snapshot=3).fit(models, np.zeros(len(models)))
    est.save(tmp_path / "saved")
    loaded = load_predictor(tmp_path / "saved")
    assert loaded.get_params() == {"signatures": path, "snapshot": 2, "affine": False}
    np.testing.assert_array_equal(loaded.predict(models), est.predict(models))
