"""On a full 91,125-model store, `Benchmark.query` takes a scalar fast path for a plain int model
index; its values must equal the general path (numpy scalars, arrays) and the stored truth."""

from __future__ import annotations

import zlib

import blox_space as bs
import numpy as np
import pytest
from blox_space.schema import BENCHMARK, METRICS, STATUS_DONE, STATUS_FAILED
from blox_space.store import best_epochs, consolidate, create_store

N, EPOCHS, SEEDS = bs.NUM_MODELS, 4, (0, 5)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """A full store (every model, two seeds, four epochs) and the arrays written into it."""
    path = tmp_path_factory.mktemp("full") / "bench.zarr"
    rng = np.random.default_rng(7)
    group = create_store(
        path,
        BENCHMARK,
        sizes={"model": N, "seed": len(SEEDS), "epoch": EPOCHS},
        coords={"model": np.arange(N), "seed": np.array(SEEDS), "epoch": np.arange(1, EPOCHS + 1)},
        attrs={
            "recipe_id": "synthetic", "recipe": {"name": "synthetic"}, "dataset": "digits", "epochs": EPOCHS,
            "is_partial": False, "environments": [],
        },
    )  # fmt: skip
    truth: dict[str, np.ndarray] = {}
    shape = (N, len(SEEDS), EPOCHS)
    for name, metric in METRICS.items():
        if metric.per_epoch:
            values = (rng.integers(0, 10000, shape) / 100).astype(np.float32)
            values[rng.random(shape) < 0.01] = np.nan  # epochs never reached
            truth[name] = values
    truth["best_epoch"] = best_epochs(truth["val_acc"], truth["val_loss"])
    truth["best_val_acc"] = np.where(
        truth["best_epoch"] > 0,
        np.take_along_axis(truth["val_acc"], np.maximum(truth["best_epoch"] - 1, 0)[..., None], -1)[..., 0],
        np.nan,
    ).astype(np.float32)
    for name in ("test_loss", "test_acc", "test_top5"):
        truth[name] = (rng.integers(0, 10000, shape[:2]) / 100).astype(np.float32)
    truth["train_seconds"] = rng.uniform(10, 1000, shape[:2])
    status = np.full(shape[:2], STATUS_DONE, np.int8)
    status[rng.random(shape[:2]) < 0.02] = STATUS_FAILED
    for name, values in truth.items():
        group[name][:] = values
    group["status"][:] = status
    consolidate(path)
    return bs.open_benchmark(path), truth


CASES = [
    ({}, "defaults"),
    ({"epoch": 2}, "best up to epoch 2"),
    ({"epoch": 3, "best": False}, "at epoch 3"),
    ({"epoch": EPOCHS, "best": True}, "best over all"),
    ({"seed": 5}, "second seed"),
    ({"seed": 0, "epoch": 1, "best": False}, "first epoch, explicit seed"),
]


@pytest.mark.parametrize("metric", list(METRICS))
@pytest.mark.parametrize(("kwargs", "label"), CASES, ids=[label for _, label in CASES])
def test_scalar_fast_path_equals_the_general_path(full, metric, kwargs, label):
    bench, _ = full
    if not METRICS[metric].per_epoch:
        kwargs = {k: v for k, v in kwargs.items() if k == "seed"}
    models = np.random.default_rng(zlib.crc32(label.encode())).choice(N, 300, replace=False)
    fast = [bench.query(int(m), metric, **kwargs) for m in models]
    scalar = [bench.query(np.int64(m), metric, **kwargs) for m in models]
    vector = np.asarray(bench.query(models, metric, **kwargs))
    assert [type(v) for v in fast] == [type(v) for v in scalar]
    np.testing.assert_array_equal(np.array(fast, dtype=np.float64), np.array(scalar, dtype=np.float64))
    # scalars are Python values (a float32 as its shortest decimal); arrays keep the stored dtype
    np.testing.assert_array_equal(np.array(fast).astype(vector.dtype), vector)


def test_fast_path_equals_the_stored_truth_for_every_model(full):
    bench, truth = full
    every = np.array([bench.val_acc(i) for i in range(N)], dtype=np.float32)  # the fast path
    np.testing.assert_array_equal(every, truth["best_val_acc"][:, 0])
    at2 = np.array([bench.val_acc(i, epoch=2, best=False, seed=5) for i in range(0, N, 7)], dtype=np.float32)
    np.testing.assert_array_equal(at2, truth["val_acc"][::7, 1, 1])
    losses = np.array([bench.train_loss(i, epoch=3, best=True) for i in range(0, N, 11)], dtype=np.float32)
    np.testing.assert_array_equal(losses, np.fmin.reduce(truth["train_loss"][::11, 0, :3], axis=1))
    np.testing.assert_array_equal(bench.test_acc(np.arange(N), seed=5), truth["test_acc"][:, 1])


def test_fast_path_errors_equal_the_general_path(full):
    bench, _ = full
    for kwargs in ({"epoch": 0}, {"epoch": EPOCHS + 1}, {"seed": 1}, {"epoch": "2"}):
        with pytest.raises(bs.QueryError) as fast:
            bench.query(3, "val_acc", **kwargs)
        with pytest.raises(bs.QueryError) as general:
            bench.query(np.array([3]), "val_acc", **kwargs)
        assert str(fast.value) == str(general.value)
    with pytest.raises(bs.QueryError, match="measured once per run"):
        bench.query(3, "test_acc", epoch=2)
