"""Ensembles and the surrogate-completed benchmark: fit K members on a store (the same training
split for all, member i seeded seed + i), save and load them, predict with their mean and spread,
and complete all 91,125 models into a surrogate store whose held-out error is exact.

The predictor here is a tiny test-only ridge over one-hot blocks (``toy``), registered only while
a test runs, so these tests do not depend on the real predictors' speed."""

from __future__ import annotations

import json

import blox_space as bs
import numpy as np
import pytest
from blox_predict import BasePredictor, check_is_fitted, to_indices
from blox_predict.base import PREDICTORS, check_targets
from blox_predict.surrogate import (
    complete_benchmark,
    fit_ensemble,
    heldout_error,
    load_ensemble,
    split_training,
)
from blox_space.errors import ConfigError

MODELS = np.array([3, 10, 47, 500, 2100, 4000, 9000, 20000, 45000, 60000, 77000, 91000])


class ToyPredictor(BasePredictor):
    """Ridge regression on the one-hot blocks of the three stages (135 features), plus noise of
    scale ``noise`` drawn from ``random_state`` on the weights (so members differ)."""

    def __init__(self, *, alpha: float = 1.0, noise: float = 0.0, random_state: int | None = None) -> None:
        self.alpha, self.noise, self.random_state = alpha, noise, random_state

    @staticmethod
    def _features(models: np.ndarray) -> np.ndarray:
        blocks = bs.indices_to_blocks(models).reshape(-1, 3)
        x = np.zeros((len(models), 135))
        for stage in range(3):
            x[np.arange(len(models)), 45 * stage + blocks[:, stage]] = 1.0
        return x

    def fit(self, archs, y):
        models = to_indices(archs)
        y = check_targets(y, len(models))
        x = self._features(models)
        self.intercept_ = float(y.mean())
        self.coef_ = np.linalg.solve(x.T @ x + self.alpha * np.eye(135), x.T @ (y - self.intercept_))
        rng = np.random.default_rng(self.random_state)
        self.coef_ = self.coef_ + self.noise * rng.standard_normal(135)
        self.train_ = {"n": len(models)}
        self.is_fitted_ = True
        return self

    def predict(self, archs):
        check_is_fitted(self)
        return self._features(to_indices(archs)) @ self.coef_ + self.intercept_

    def _get_state(self):
        return {"intercept": self.intercept_}, {"coef": self.coef_}

    def _set_state(self, meta, tensors):
        self.intercept_ = float(meta["intercept"])
        self.coef_ = np.asarray(tensors["coef"], dtype=np.float64)


@pytest.fixture
def toy(monkeypatch):
    """``toy`` in the predictor registry for the duration of one test."""
    monkeypatch.setitem(PREDICTORS._entries, "toy", ToyPredictor)
    ToyPredictor.name = "toy"
    return ToyPredictor


def accuracy(models: np.ndarray) -> np.ndarray:
    """A target linear in the blocks (what the toy can learn), in 20..80 %."""
    blocks = bs.indices_to_blocks(models).reshape(-1, 3)
    return 20.0 + blocks @ np.array([0.5, 0.4, 0.3])


def make_store(path, models=MODELS, *, failed=(), seeds=(0,), kind="benchmark"):
    common = dict(seeds=seeds, epochs=2, recipe_id="r0", recipe={"lr": 0.1}, dataset="digits")
    if kind == "benchmark":
        group = bs.create_benchmark_shard(path, models, **common)
    else:
        teacher = {
            "name": "M1", "model": 3, "block_ids": [3, 0, 0], "recipe_id": "r0", "val_acc": 60.0,
            "test_acc": 59.0, "train_seconds": 3.0, "width": 8, "resolution": 16, "num_classes": 10,
        }  # fmt: skip
        group = bs.create_finetune_shard(
            path, models, **common, teacher=teacher, library_id="lib", distill_epoch=1, alpha=0.9,
            temperature=1.0,
        )  # fmt: skip
    acc = accuracy(np.asarray(models))
    for m, a in zip(models, acc, strict=True):
        for s in seeds:
            if m in failed:
                bs.write_model_result(
                    group, m, s, per_epoch={"val_acc": [1.0]}, test={}, train_seconds=1.0,
                    status=bs.schema.STATUS_FAILED, fail_reason="diverged",
                )  # fmt: skip
            else:
                bs.write_model_result(
                    group, m, s, per_epoch={"val_acc": [a - 5.0, a + s]}, test={"test_acc": a - 1.0},
                    train_seconds=2.0,
                )  # fmt: skip
    return path


def test_split_is_seeded_and_disjoint():
    train, held = split_training(MODELS, 8, seed=3)
    again, _ = split_training(MODELS, 8, seed=3)
    assert train.tolist() == again.tolist() and len(held) == 4
    assert sorted(train.tolist() + held.tolist()) == MODELS.tolist()
    assert split_training(MODELS, None, 0)[1].size == 0
    with pytest.raises(ConfigError, match="larger than the 12 measured models"):
        split_training(MODELS, 13, 0)


def test_heldout_error_is_exact():
    err = heldout_error(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 4.0]))
    assert err["n"] == 3 and err["spearman"] == pytest.approx(1.0) and err["kendall"] == pytest.approx(1.0)
    assert err["mae"] == pytest.approx(0.5) and err["rmse"] == pytest.approx(np.sqrt(1.25 / 3))
    assert heldout_error(np.array([1.0]), np.array([2.0]))["spearman"] is None


def test_fit_saves_members_and_loads_them_back(toy, tmp_path):
    store = make_store(tmp_path / "b.zarr")
    ens = fit_ensemble(
        store, predictor="toy", params={"noise": 0.1}, ensemble=3, train_size=8, seed=5, out=tmp_path / "ens"
    )
    meta = json.loads((tmp_path / "ens/ensemble.json").read_text())
    assert meta["members"] == ["member-0", "member-1", "member-2"] and meta["ensemble_size"] == 3
    assert len(meta["train_models"]) == 8 and len(meta["heldout_models"]) == 4
    assert meta["train_models"] == split_training(MODELS, 8, 5)[0].tolist()
    states = [m.random_state for m in ens.members]
    assert states == [5, 6, 7]  # member i seeded seed + i
    loaded = load_ensemble(tmp_path / "ens")
    assert [m.random_state for m in loaded.members] == states
    mean, std = ens.predict(MODELS)
    again_mean, again_std = loaded.predict(MODELS)
    np.testing.assert_array_equal(mean, again_mean)
    np.testing.assert_array_equal(std, again_std)
    assert (std > 0).all()  # members differ by their seeds
    member = json.loads((tmp_path / "ens/member-1/predictor.json").read_text())
    assert member["train"]["member"] == 1 and member["train"]["n"] == 8 and member["params"]["noise"] == 0.1
    with pytest.raises(bs.StoreError, match="already exists"):
        fit_ensemble(store, predictor="toy", out=tmp_path / "ens")


def test_bootstrap_gives_deterministic_predictors_a_spread(toy, tmp_path):
    store = make_store(tmp_path / "b.zarr")
    plain = fit_ensemble(store, predictor="toy", ensemble=2, out=tmp_path / "a")
    boot = fit_ensemble(store, predictor="toy", ensemble=2, bootstrap=True, out=tmp_path / "b")
    assert (plain.predict(MODELS)[1] == 0).all()
    assert (boot.predict(MODELS)[1] > 0).any()


def test_complete_keeps_measured_values_and_reports_the_heldout_error(toy, tmp_path):
    store = make_store(tmp_path / "b.zarr", failed=(91000,))
    ens = fit_ensemble(store, predictor="toy", params={"alpha": 0.01, "noise": 0.01}, ensemble=2,
                       train_size=7, seed=1, out=tmp_path / "ens")  # fmt: skip
    out = complete_benchmark(tmp_path / "ens", out=tmp_path / "sur.zarr")
    bench = bs.open_benchmark(out)
    measured = bs.open_benchmark(store)
    assert bench.kind == "surrogate" and len(bench) == bs.NUM_MODELS
    for m in MODELS[:-1]:  # measured rows are the measured values
        assert not bench.is_predicted(int(m))
        assert bench.val_acc(int(m)) == measured.val_acc(int(m))
    assert bench.is_predicted(91000)  # a failed run is predicted, not copied
    flags = bench.is_predicted(np.arange(bs.NUM_MODELS))
    assert flags.sum() == bs.NUM_MODELS - 11
    mean, std = ens.predict(np.array([5, 91000]))
    assert bench.val_acc(5) == pytest.approx(mean[0], abs=1e-3)
    assert bench.prediction_std(5) == pytest.approx(std[0], abs=1e-4)
    facts = bench.surrogate
    assert facts["target_metric"] == "best_val_acc" and facts["ensemble_size"] == 2
    assert facts["predictor"]["name"] == "toy" and facts["predictor"]["params"]["alpha"] == 0.01
    # the held-out error: exactly the ensemble mean against the measured held-out models
    held = np.array([m for m in ens.meta["heldout_models"] if m != 91000])
    expected = heldout_error(measured.val_acc(held), ens.predict(held)[0])
    assert facts["heldout_error"] == pytest.approx(expected)
    assert facts["heldout_error"]["n"] == len(held)


def test_complete_from_a_finetune_store_and_a_test_metric(toy, tmp_path):
    store = make_store(tmp_path / "ft.zarr", kind="finetune")
    fit_ensemble(store, predictor="toy", metric="test_acc", out=tmp_path / "ens")
    bench = bs.open_benchmark(complete_benchmark(tmp_path / "ens", out=tmp_path / "sur.zarr"))
    assert bench.surrogate["source_store"]["kind"] == "finetune"
    assert bench.surrogate["heldout_error"] is None  # every measured model was trained on
    assert np.isfinite(bench.test_acc(5)) and np.isnan(bench.val_acc(5))


def test_predictions_outside_the_valid_range_are_clipped_and_counted(toy, tmp_path, monkeypatch):
    store = make_store(tmp_path / "b.zarr")
    ens = fit_ensemble(store, predictor="toy", out=tmp_path / "ens")
    monkeypatch.setattr(ToyPredictor, "predict", lambda self, archs: np.full(len(to_indices(archs)), 120.0))
    bench = bs.open_benchmark(complete_benchmark(ens, out=tmp_path / "sur.zarr"))
    assert bench.val_acc(5) == 100.0
    assert bench.surrogate["predictor"]["clipped_predictions"] == bs.NUM_MODELS - len(MODELS)


def test_a_surrogate_is_not_training_data(toy, tmp_path):
    store = make_store(tmp_path / "b.zarr")
    fit_ensemble(store, predictor="toy", out=tmp_path / "ens")
    complete_benchmark(tmp_path / "ens", out=tmp_path / "sur.zarr")
    with pytest.raises(bs.StoreError, match="predictors learn from measurements"):
        fit_ensemble(tmp_path / "sur.zarr", predictor="toy", out=tmp_path / "ens2")


def test_all_models_are_completed_quickly(toy, tmp_path):
    """The whole space in one call: the store write is a few seconds, not minutes."""
    import time

    store = make_store(tmp_path / "b.zarr")
    fit_ensemble(store, predictor="toy", ensemble=2, out=tmp_path / "ens")
    start = time.perf_counter()
    complete_benchmark(tmp_path / "ens", out=tmp_path / "sur.zarr")
    assert time.perf_counter() - start < 60
