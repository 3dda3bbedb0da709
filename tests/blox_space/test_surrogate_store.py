"""The surrogate store kind: the benchmark schema over all 91,125 models plus is_predicted and
prediction_std; measured rows copied whole from the source, predicted rows holding only the target
metric; open_benchmark reads it and says which values are predicted."""

from __future__ import annotations

import json

import blox_space as bs
import numpy as np
import pytest
import xarray as xr
from blox_space.schema import BENCHMARK, SURROGATE
from blox_space.store import merge_stores, open_store, write_surrogate_store

N = bs.NUM_MODELS
MEASURED = [3, 10, 500, 90000]
PREDICTOR = {"name": "toy", "params": {"alpha": 1.0}, "train": {"n": 3, "metric": "best_val_acc"}}


def _bench(path, models=MEASURED, *, failed=(), seeds=(0, 1)):
    group = bs.create_benchmark_shard(
        path, models, seeds=seeds, epochs=3, recipe_id="r0", recipe={"lr": 0.1}, dataset="digits"
    )
    for m in models:
        for s in seeds:
            if m in failed:
                bs.write_model_result(
                    group, m, s, per_epoch={"val_acc": [5.0]}, test={}, train_seconds=1.0,
                    status=bs.schema.STATUS_FAILED, fail_reason="loss is NaN",
                )  # fmt: skip
                continue
            bs.write_model_result(
                group, m, s, per_epoch={"val_acc": [10.0, 30.0 + m / 1e4 + s, 20.0]},
                test={"test_acc": 25.0 + s}, train_seconds=2.0, env={"device": "cpu"}, params=100 + m,
            )  # fmt: skip
    return path


def _complete(tmp_path, source, *, metric="best_val_acc", measured=MEASURED, **kw):
    is_pred = np.ones(N, dtype=bool)
    is_pred[measured] = False
    values = np.linspace(1.0, 99.0, N)
    std = np.full(N, 0.5)
    return write_surrogate_store(
        tmp_path / "sur.zarr", source, metric=metric, values=values, std=std, is_predicted=is_pred,
        predictor=PREDICTOR, ensemble_size=3, heldout_error={"n": 1, "spearman": None, "kendall": None,
        "mae": 0.1, "rmse": 0.1}, **kw,
    )  # fmt: skip


def test_the_kind_is_the_benchmark_schema_plus_two_arrays():
    assert SURROGATE.coords == BENCHMARK.coords
    assert SURROGATE.arrays[: len(BENCHMARK.arrays)] == BENCHMARK.arrays
    extra = {a.name: a for a in SURROGATE.arrays[len(BENCHMARK.arrays) :]}
    assert set(extra) == {"is_predicted", "prediction_std"}
    assert extra["is_predicted"].dims == extra["prediction_std"].dims == ("model",)
    assert SURROGATE.merge_dim is None and "surrogate" in bs.store.list_store_kinds()


def test_measured_rows_are_copied_and_predicted_rows_marked(tmp_path):
    src = _bench(tmp_path / "b.zarr")
    out = _complete(tmp_path, src)
    bench = bs.open_benchmark(out)
    assert bench.kind == "surrogate" and bench.is_surrogate and len(bench) == N and not bench.is_partial
    measured = bs.open_benchmark(src)
    # measured rows: every array as in the source
    for m in MEASURED:
        assert not bench.is_predicted(m)
        assert bench.val_acc(m, seed=1) == measured.val_acc(m, seed=1)
        assert bench.curve(m, "val_acc", seed=0) == measured.curve(m, "val_acc", seed=0)
        assert bench.test_acc(m, seed="mean") == pytest.approx(25.5)
        assert bench.params(m) == 100 + m and bench.env(m) == {"device": "cpu"}
        assert np.isnan(bench.prediction_std(m))
    # predicted rows: the target metric for every seed, status done, nothing else
    values = np.linspace(1.0, 99.0, N)
    assert bench.is_predicted(7) and bench.prediction_std(7) == 0.5
    assert bench.val_acc(7) == pytest.approx(values[7], abs=1e-4)
    assert bench.val_acc(7, seed=1) == bench.val_acc(7) and bench.status(7) == "done"
    assert bench.val_acc(7, seed="mean") == pytest.approx(values[7], abs=1e-4)
    assert np.isnan(bench.test_acc(7)) and np.isnan(bench.val_acc(7, epoch=3, best=False))
    assert bench.env(7) is None
    flags = bench.is_predicted(np.arange(N))
    assert flags.dtype == bool and flags.sum() == N - len(MEASURED)
    assert bench.is_predicted(np.array(MEASURED)).tolist() == [False] * 4
    # full_info says where the values come from
    info = bench.full_info(7)
    assert info["is_predicted"] and info["source"] == "predicted" and info["prediction_std"] == 0.5
    info = bench.full_info(3)
    assert not info["is_predicted"] and info["source"] == "measured" and info["prediction_std"] is None
    json.dumps(info)
    # and what was predicted and how well
    facts = bench.surrogate
    assert facts["target_metric"] == "best_val_acc" and facts["ensemble_size"] == 3
    assert facts["predictor"] == PREDICTOR and facts["num_measured"] == 4 and facts["num_predicted"] == N - 4
    assert facts["source_store"]["kind"] == "benchmark" and facts["heldout_error"]["mae"] == 0.1
    assert bench.recipe_id == "r0" and bench.dataset == "digits" and bench.epochs == 3


def test_measurement_stores_say_nothing_is_predicted(tmp_path):
    bench = bs.open_benchmark(_bench(tmp_path / "b.zarr"))
    assert not bench.is_surrogate and bench.surrogate is None
    assert bench.is_predicted(3) is False and bench.is_predicted(np.array(MEASURED)).tolist() == [False] * 4
    assert np.isnan(bench.prediction_std(3))
    info = bench.full_info(3)
    assert info["source"] == "measured" and info["prediction_std"] is None
    with pytest.raises(bs.MissingModelError):
        bench.is_predicted(4)


def test_a_per_epoch_target_is_written_at_the_last_epoch(tmp_path):
    out = _complete(tmp_path, _bench(tmp_path / "b.zarr"), metric="val_acc")
    bench = bs.open_benchmark(out)
    assert bench.val_acc(7, epoch=3, best=False) == pytest.approx(np.linspace(1.0, 99.0, N)[7], abs=1e-4)
    assert np.isnan(bench.val_acc(7, epoch=2, best=False)) and bench.surrogate["target_metric"] == "val_acc"


def test_a_finetune_source_is_recorded(tmp_path):
    teacher = {
        "name": "M1", "model": 7, "block_ids": [7, 0, 0], "recipe_id": "r0", "val_acc": 20.0,
        "test_acc": 19.0, "train_seconds": 30.0, "width": 8, "resolution": 16, "num_classes": 10,
    }  # fmt: skip
    group = bs.create_finetune_shard(
        tmp_path / "ft.zarr", [1, 2], epochs=2, recipe_id="r0", recipe={}, dataset="digits",
        teacher=teacher, library_id="lib", distill_epoch=1, alpha=0.9, temperature=1.0,
    )  # fmt: skip
    for m in (1, 2):
        bs.write_model_result(group, m, 0, per_epoch={"val_acc": [10.0, 20.0]}, test={}, train_seconds=1.0)
    out = _complete(tmp_path, tmp_path / "ft.zarr", measured=[1, 2])
    source = bs.open_benchmark(out).surrogate["source_store"]
    assert source["kind"] == "finetune" and source["teacher"]["name"] == "M1" and source["ft_epochs"] == 2


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"metric": "accuracy"}, "unknown target metric 'accuracy'"),
        ({"values": np.full(N, 150.0)}, "outside best_val_acc's valid range"),
        ({"values": np.full(N, np.nan)}, "outside best_val_acc's valid range"),
        ({"values": np.zeros(3)}, r"values must have shape \(91125,\)"),
        ({"measured": [3, 4]}, "model 4 is marked measured but"),
    ],
)
def test_bad_inputs_write_nothing(tmp_path, change, says):
    src = _bench(tmp_path / "b.zarr")
    measured = change.pop("measured", MEASURED)
    is_pred = np.ones(N, dtype=bool)
    is_pred[measured] = False
    args = dict(metric="best_val_acc", values=np.full(N, 50.0), std=np.zeros(N), is_predicted=is_pred)
    args.update(change)
    with pytest.raises(bs.SchemaError, match=says):
        write_surrogate_store(tmp_path / "sur.zarr", src, predictor=PREDICTOR, ensemble_size=1, **args)
    assert not (tmp_path / "sur.zarr").exists()


def test_xarray_reads_it_and_it_does_not_merge(tmp_path):
    out = _complete(tmp_path, _bench(tmp_path / "b.zarr"))
    ds = xr.open_zarr(out)
    assert ds["is_predicted"].dims == ("model",) and ds.sizes["model"] == N
    assert int(ds["is_predicted"].sum()) == N - 4 and ds["prediction_std"].attrs["units"] == "%"
    group = open_store(out, "surrogate")
    assert group.attrs["store_kind"] == "surrogate"
    with pytest.raises(bs.StoreError):
        merge_stores([out], tmp_path / "merged.zarr")


def test_a_damaged_surrogate_is_refused(tmp_path):
    out = _complete(tmp_path, _bench(tmp_path / "b.zarr"))
    group = open_store(out, "surrogate", mode="r+")
    group.attrs["ensemble_size"] = 0
    with pytest.raises(bs.SchemaError, match="ensemble_size must be an int >= 1"):
        bs.open_benchmark(out)
