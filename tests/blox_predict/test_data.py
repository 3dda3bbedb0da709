"""Training data from stores: the finished models of a benchmark or finetune store and one metric,
seeds averaged over done runs or one seed, clear errors for an unknown metric or an empty store."""

from __future__ import annotations

import blox_space as bs
import numpy as np
import pytest
from blox_predict.data import TARGET_METRICS, training_data
from blox_space.errors import ConfigError

from .test_surrogate import MODELS, accuracy, make_store


def test_best_val_acc_of_the_finished_models(tmp_path):
    store = make_store(tmp_path / "b.zarr", failed=(47,), seeds=(0, 1))
    models, y = training_data(store)
    assert models.dtype == np.int64 and y.dtype == np.float64
    assert models.tolist() == [m for m in MODELS.tolist() if m != 47]
    np.testing.assert_allclose(y, accuracy(models) + 0.5, rtol=1e-6)  # mean of seeds 0 and 1


def test_one_seed_metrics_and_epochs(tmp_path):
    store = make_store(tmp_path / "b.zarr", seeds=(0, 1))
    models, y = training_data(store, seeds=1)
    np.testing.assert_allclose(y, accuracy(models) + 1.0, rtol=1e-6)
    _, test = training_data(store, metric="test_acc")
    np.testing.assert_allclose(test, accuracy(models) - 1.0, rtol=1e-6)
    _, last = training_data(store, metric="val_acc", seeds=0)  # the value after the last epoch
    np.testing.assert_allclose(last, accuracy(models), rtol=1e-6)
    assert "best_epoch" not in TARGET_METRICS and "best_val_acc" in TARGET_METRICS


def test_a_finetune_store_reads_the_same(tmp_path):
    models, y = training_data(make_store(tmp_path / "ft.zarr", kind="finetune"))
    assert models.tolist() == MODELS.tolist()


def test_mistakes_say_what_is_allowed(tmp_path):
    store = make_store(tmp_path / "b.zarr")
    with pytest.raises(ConfigError, match="unknown metric 'acc'; metrics are .*best_val_acc"):
        training_data(store, metric="acc")
    with pytest.raises(ConfigError, match="seeds must be 'mean' or a seed"):
        training_data(store, seeds=4)
    with pytest.raises(bs.StoreError, match="no store at"):
        training_data(tmp_path / "missing.zarr")
    empty = bs.create_benchmark_shard(
        tmp_path / "e.zarr", [1, 2], epochs=1, recipe_id="r", recipe={}, dataset="d"
    )
    with pytest.raises(bs.StoreError, match="holds no finished measurement of best_val_acc"):
        training_data(empty.store.root)
