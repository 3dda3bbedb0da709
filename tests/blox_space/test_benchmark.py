"""open_benchmark: query results equal the values written, for every method, best / non-best,
epoch limits, seeds, scalar and vectorised, every architecture form; exports; the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import blox_space
import numpy as np
import pytest
from blox_space import (
    MissingModelError,
    QueryError,
    StoreError,
    create_benchmark_shard,
    merge_shards,
    open_benchmark,
    write_model_result,
)
from blox_space.cli import main
from blox_space.schema import LATENCY, LATENCY_LUT, SPACE, STATUS_FAILED
from blox_space.store import consolidate, create_store

EPOCHS = 6
SEEDS = (0, 3)
MODELS = np.array([0, 1, 2, 7, 44, 2025, 24519, 91124])
CURVES = ("train_loss", "train_acc", "train_top5", "val_loss", "val_acc", "val_top5", "epoch_seconds")
FAILED = (7, 3)  # (model, seed) that diverged after 2 epochs


def _run(model: int, seed: int) -> dict:
    rng = np.random.default_rng(1000 * model + seed)
    per_epoch = {name: rng.integers(1, 5000, EPOCHS) / 50.0 for name in CURVES}
    per_epoch["val_acc"][2] = per_epoch["val_acc"].max()  # a tie: the later epoch wins
    test = {
        "test_loss": float(rng.uniform(0.5, 4)),
        "test_acc": rng.integers(0, 10000) / 100,
        "test_top5": 91.5,
    }
    return {"per_epoch": per_epoch, "test": test, "train_seconds": float(rng.uniform(100, 900))}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    shards = []
    for b, models in enumerate(np.array_split(MODELS, 2)):
        path = root / f"bucket-{b}.zarr"
        group = create_benchmark_shard(
            path,
            models,
            seeds=SEEDS,
            epochs=EPOCHS,
            recipe_id="r-1",
            recipe={"lr": 0.01},
            dataset="digits",
            bucket=(b, 2),
        )
        for m in models.tolist():
            for s in SEEDS:
                run = _run(m, s)
                if (m, s) == FAILED:
                    write_model_result(
                        group,
                        m,
                        s,
                        per_epoch={k: v[:2] for k, v in run["per_epoch"].items()},
                        test={},
                        train_seconds=1.0,
                        status=STATUS_FAILED,
                        fail_reason="loss is NaN",
                        env={"device": "cpu"},
                    )
                else:
                    write_model_result(
                        group,
                        m,
                        s,
                        **run,
                        env={"device": f"cpu-{s}"},
                        params=1000 + m,
                        macs=None if m == 44 else 5000 + m,
                    )
        shards.append(path)
    return merge_shards(shards, root / "merged.zarr")


@pytest.fixture(scope="module")
def bench(store):
    return open_benchmark(store)


def _expected_curve(model, seed, name):
    if (model, seed) == FAILED:
        curve = np.full(EPOCHS, np.nan, np.float32)
        curve[:2] = _run(model, seed)["per_epoch"][name][:2]
        return curve
    return _run(model, seed)["per_epoch"][name].astype(np.float32)


BEST_IS_MAX = {
    "train_loss": False,
    "train_acc": True,
    "train_top5": True,
    "val_loss": False,
    "val_acc": True,
    "val_top5": True,
}


@pytest.mark.parametrize("name", list(BEST_IS_MAX))
def test_curve_queries_equal_what_was_written(bench, name):
    method = getattr(bench, name)
    for m in MODELS.tolist():
        for s in SEEDS:
            curve = _expected_curve(m, s, name)
            reduce = np.fmax.reduce if BEST_IS_MAX[name] else np.fmin.reduce
            for epoch in (1, 3, EPOCHS, None):
                stop = epoch or EPOCHS
                got_best, got_at = (
                    method(m, epoch=epoch, best=True, seed=s),
                    method(m, epoch=epoch, best=False, seed=s),
                )
                want_best, want_at = reduce(curve[:stop]), curve[stop - 1]
                assert got_best == pytest.approx(float(want_best), nan_ok=True, rel=1e-7)
                assert got_at == pytest.approx(float(want_at), nan_ok=True, rel=1e-7)
            # vectorised == scalar loop
            vec = method(MODELS, epoch=3, best=True, seed=s)
            loop = [method(int(x), epoch=3, best=True, seed=s) for x in MODELS]
            np.testing.assert_allclose(vec, loop, rtol=1e-7)


def test_defaults_follow_the_original(bench):
    m = 24519
    curve = _expected_curve(m, 0, "val_acc")
    assert bench.val_acc(m) == pytest.approx(float(curve.max()))  # best over all epochs, lowest seed
    assert bench.val_loss(m) == pytest.approx(float(_expected_curve(m, 0, "val_loss")[-1]))  # last, not best
    assert bench.val_acc(m, seed="mean") == pytest.approx(
        np.mean([float(_expected_curve(m, s, "val_acc").max()) for s in SEEDS]), rel=1e-6
    )
    assert bench.val_acc(7, seed="mean") == pytest.approx(
        float(_expected_curve(7, 0, "val_acc").max())
    )  # failed seed out


def test_run_metrics_and_times(bench):
    for m in MODELS.tolist():
        for s in SEEDS:
            run = _run(m, s)
            if (m, s) == FAILED:
                assert math.isnan(bench.test_acc(m, seed=s))
                assert bench.status(m, seed=s) == "failed"
                assert bench.full_info(m, seed=s)["fail_reason"] == "loss is NaN"
                continue
            assert bench.test_acc(m, seed=s) == pytest.approx(run["test"]["test_acc"], rel=1e-7)
            assert bench.test_loss(m, seed=s) == pytest.approx(run["test"]["test_loss"], rel=1e-6)
            assert bench.test_top5(m, seed=s) == 91.5
            assert bench.train_time(m, seed=s) == run["train_seconds"]
            epoch_s = run["per_epoch"]["epoch_seconds"].astype(np.float32).astype(np.float64)
            assert bench.train_time(m, epoch=4, seed=s) == pytest.approx(epoch_s[:4].sum())
            assert bench.status(m, seed=s) == "done"
    np.testing.assert_allclose(
        bench.test_acc(MODELS, seed=0), [_run(m, 0)["test"]["test_acc"] for m in MODELS], rtol=1e-7
    )


def test_scalar_floats_are_the_written_decimals(bench):
    value = bench.test_acc(0)
    assert isinstance(value, float) and value == _run(0, 0)["test"]["test_acc"]


def test_every_arch_form_is_a_key(bench):
    m = 24519
    forms = [
        m,
        np.int64(m),
        blox_space.to_hash(m),
        blox_space.to_name(m),
        blox_space.to_blocks(m),
        list(blox_space.to_blocks(m)),
        blox_space.to_arch_vec(m),
        str(m),
    ]
    values = {bench.val_acc(f, epoch=2, best=False) for f in forms}
    assert len(values) == 1
    hashes = np.array([blox_space.to_hash(int(x)) for x in MODELS])
    np.testing.assert_array_equal(bench.test_acc(hashes), bench.test_acc(MODELS))
    np.testing.assert_array_equal(bench.test_acc([blox_space.to_arch_vec(0), 1]), bench.test_acc(MODELS[:2]))
    assert bench.val_acc(MODELS.reshape(2, 4)).shape == (2, 4)


def test_container_protocol(bench):
    assert len(bench) == len(MODELS) and list(bench) == MODELS.tolist()
    assert 24519 in bench and blox_space.to_name(44) in bench and 3 not in bench and "nonsense" not in bench
    assert bench.seeds == list(SEEDS) and bench.epochs == EPOCHS and bench.dataset == "digits"
    assert bench.recipe == {"lr": 0.01} and bench.recipe_id == "r-1" and not bench.is_partial


def test_errors_say_what_is_allowed(bench):
    with pytest.raises(MissingModelError, match="model 3 is not in this benchmark store"):
        bench.val_acc(3)
    with pytest.raises(MissingModelError):
        bench.val_acc(np.array([0, 3]))
    with pytest.raises(QueryError, match=r"epochs 1\.\.6"):  # a query mistake, not a damaged store
        bench.val_acc(0, epoch=0)
    with pytest.raises(QueryError, match="must be an int"):  # a query mistake, not a damaged store
        bench.val_acc(0, epoch="5")
    with pytest.raises(QueryError, match=r"seeds are \[0, 3\]"):  # a query mistake, not a damaged store
        bench.val_acc(0, seed=1)
    with pytest.raises(QueryError, match="unknown metric"):  # a query mistake, not a damaged store
        bench.query(0, "accuracy")
    with pytest.raises(blox_space.InvalidArchitectureError):
        bench.val_acc(91125)
    with pytest.raises(StoreError, match="space=PATH"):
        bench.flops(44)
    with pytest.raises(StoreError, match="no latency store"):
        bench.latency(0, "cpu-x")


def test_static_info_and_space_fallback(store, tmp_path):
    bench = open_benchmark(store)
    assert bench.params(2025) == 3025 and bench.flops(2025) == 7025
    np.testing.assert_array_equal(bench.params(MODELS), 1000 + MODELS)
    assert bench.arch_vec(24519) == blox_space.to_arch_vec(24519)
    space = tmp_path / "space.zarr"
    group = create_store(
        space,
        SPACE,
        sizes={"model": 91125, "stage": 3, "block": 45, "cell_field": 5},
        attrs={"width": 32, "resolution": 32, "num_classes": 100, "fixed_params": {}, "fixed_macs": {}},
    )
    group["macs"][44] = blox_space.model_macs(44)
    with_space = open_benchmark(store, space=space)
    assert with_space.flops(44) == blox_space.model_macs(44)
    assert with_space.full_info(44)["flops"] == blox_space.model_macs(44)


def test_latency_stores(store, tmp_path):
    paths = []
    for device, scale in (("cpu-test-fp32", 1e-3), ("cuda-test-fp16", 1e-4)):
        path = tmp_path / f"{device}.zarr"
        attrs = {
            "device": device,
            "device_kind": "cpu",
            "precision": "fp32",
            "protocol": {},
            "environment": {},
            "width": 32,
            "resolution": 32,
            "num_classes": 100,
        }
        group = create_store(
            path, LATENCY, sizes={"model": 3}, coords={"model": np.array([0, 2, 24519])}, attrs=attrs
        )
        group["latency_s"][:] = np.array([1.0, 2.0, 3.0]) * scale
        consolidate(path)
        paths.append(path)
    bench = open_benchmark(store, latency=paths)
    assert bench.devices == ["cpu-test-fp32", "cuda-test-fp16"]
    assert bench.latency(24519, "cpu-test-fp32") == pytest.approx(3e-3)
    assert bench.latency(2) == {"cpu-test-fp32": pytest.approx(2e-3), "cuda-test-fp16": pytest.approx(2e-4)}
    vec = bench.latency(MODELS, "cuda-test-fp16")
    assert vec[0] == pytest.approx(1e-4) and math.isnan(vec[1])  # model 1 not measured
    assert "latency_cpu-test-fp32" in bench.to_dataframe().columns


def _latency_attrs(device: str) -> dict:
    return {
        "device": device, "device_kind": "cpu", "precision": "fp32", "protocol": {}, "environment": {},
        "width": 32, "resolution": 32, "num_classes": 100,
    }  # fmt: skip


def _lut_store(path, device: str, table: np.ndarray, fixed: np.ndarray):
    group = create_store(
        path, LATENCY_LUT, sizes={"stage": 3, "block": 45, "part": len(fixed)},
        coords={"part": np.array(["stem", "head", "glue"][: len(fixed)])}, attrs=_latency_attrs(device),
    )  # fmt: skip
    group["block_latency_s"][:] = table
    group["fixed_latency_s"][:] = fixed
    consolidate(path)
    return path


def test_additive_latency_is_fixed_plus_stage_blocks():
    rng = np.random.default_rng(0)
    table, fixed = rng.uniform(1, 2, (3, 45)), np.array([0.5, 0.25, -0.125])
    blocks = blox_space.indices_to_blocks(np.arange(0, 91125, 97))
    expected = [fixed.sum() + sum(table[s, b[s]] for s in range(3)) for b in blocks]
    np.testing.assert_allclose(blox_space.additive_latency(table, fixed, blocks), expected)
    with pytest.raises(ValueError, match=r"\(3, 45\)"):
        blox_space.additive_latency(table[:2], fixed, blocks)


def test_lookup_table_stores_predict_every_model(store, tmp_path):
    """A lookup-table store answers latency() for any model with the additive prediction; a
    measured store of the same device takes precedence, and predicted_latency() keeps the table."""
    table = np.arange(135, dtype=float).reshape(3, 45) * 1e-4
    fixed = np.array([1e-3, 2e-3, 5e-4])
    lut = _lut_store(tmp_path / "lut.zarr", "cpu-test-fp32", table, fixed)
    bench = open_benchmark(store, latency=[lut])
    assert bench.devices == ["cpu-test-fp32"] and bench.latency_sources == {"cpu-test-fp32": "lut"}
    blocks = blox_space.to_blocks(24519)
    expected = fixed.sum() + sum(table[s, b] for s, b in enumerate(blocks))
    assert bench.latency(24519, "cpu-test-fp32") == pytest.approx(expected)
    np.testing.assert_allclose(
        bench.latency(MODELS, "cpu-test-fp32"),
        blox_space.additive_latency(table, fixed, blox_space.indices_to_blocks(MODELS)),
    )
    assert np.isfinite(bench.to_dataframe()["latency_cpu-test-fp32"]).all()

    measured = tmp_path / "measured.zarr"
    group = create_store(measured, LATENCY, sizes={"model": 1}, coords={"model": np.array([2])},
                         attrs=_latency_attrs("cpu-test-fp32"))  # fmt: skip
    group["latency_s"][:] = [0.5]
    consolidate(measured)
    both = open_benchmark(store, latency=[lut, measured])
    assert both.latency_sources == {"cpu-test-fp32": "measured"}
    assert both.latency(2, "cpu-test-fp32") == 0.5 and math.isnan(both.latency(0, "cpu-test-fp32"))
    assert both.predicted_latency(0, "cpu-test-fp32") == pytest.approx(fixed.sum() + table[:, 0].sum())
    assert (
        blox_space.open_latency(lut).source == "lut"
        and blox_space.open_latency(measured).source == "measured"
    )
    with pytest.raises(StoreError, match="no lookup-table store"):
        open_benchmark(store, latency=[measured]).predicted_latency(0, "cpu-test-fp32")
    with pytest.raises(StoreError, match="two lut latency stores"):
        open_benchmark(store, latency=[lut, lut])
    with pytest.raises(blox_space.SchemaError, match="expected one of"):
        blox_space.open_latency(store)


def test_full_info_is_plain_and_complete(bench):
    info = bench.full_info("conv>mbconv+inp+res | mbconv>mbconv | conv>conv+inp", seed=3)
    assert info["model"] == 24519 and info["seed"] == 3 and info["status"] == "done"
    assert info["hash"] == blox_space.to_hash(24519) and info["env"] == {"device": "cpu-3"}
    assert len(info["val_acc"]) == EPOCHS and info["best_epoch"] >= 3
    json.dumps(info)  # plain values only


def test_best_epoch_ties_go_to_the_later_epoch(bench):
    m = 2
    curve, loss = _expected_curve(m, 0, "val_acc"), _expected_curve(m, 0, "val_loss")
    tied = np.flatnonzero(curve == curve.max()) + 1
    assert bench.query(m, "best_epoch") in tied
    assert bench.query(m, "best_val_acc") == pytest.approx(float(curve.max()))
    if loss[2] <= loss[tied[0] - 1]:
        assert bench.query(m, "best_epoch") >= 3


def test_exports(bench):
    frame = bench.to_dataframe(epoch=3)
    assert frame.index.name == "model" and frame.index.tolist() == MODELS.tolist()
    np.testing.assert_array_equal(frame["val_acc"].to_numpy(), bench.val_acc(MODELS, epoch=3))
    assert frame.loc[24519, "hash"] == blox_space.to_hash(24519)
    ds = bench.to_xarray()
    assert dict(ds.sizes) == {"model": len(MODELS), "seed": 2, "epoch": EPOCHS}
    assert ds["val_acc"].attrs["units"] == "%"
    np.testing.assert_array_equal(
        ds["val_acc"].sel(model=24519, seed=0).values, _expected_curve(24519, 0, "val_acc")
    )


def test_open_is_lazy(store):
    bench = open_benchmark(store)
    assert bench._arrays == {}  # nothing read but coordinates
    bench.val_acc(0, epoch=2)
    assert list(bench._arrays) == ["val_acc"]


def test_import_does_not_pull_torch():
    code = "import sys, blox_space; blox_space.open_benchmark; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------
def test_cli_query_and_info(store, capsys):
    assert (
        main(["query", str(store), "24519", "--metric", "val_acc", "--epoch", "2", "--at-epoch", "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out == {"model": 24519, "val_acc": _run(24519, 0)["per_epoch"]["val_acc"][1]}
    assert main(["info", str(store), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["num_models"] == len(MODELS) and info["seeds"] == list(SEEDS)
    assert info["runs"]["3"]["failed"] == 1
    assert main(["info", str(store)]) == 0
    assert "recipe_id" in capsys.readouterr().out


def test_cli_errors_are_one_line(store, capsys, tmp_path):
    assert main(["query", str(store), "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("blox-space: error: model 3 is not in")
    assert main(["info", str(tmp_path / "nope.zarr")]) == 2
    assert capsys.readouterr().err.startswith("blox-space: error: no store at")


def test_epoch_chunked_reads_fill_only_what_is_asked(tmp_path):
    epochs = 60  # 3 epoch chunks of 25 in the merged store
    rng = np.random.default_rng(7)
    curves = rng.integers(0, 5000, (4, epochs)) / 50.0
    shard = create_benchmark_shard(
        tmp_path / "s.zarr", [0, 1, 2, 3], epochs=epochs, recipe_id="r", recipe={}, dataset="d"
    )
    for m in range(4):
        write_model_result(
            shard,
            m,
            0,
            per_epoch={"val_acc": curves[m], "train_loss": curves[m] / 10},
            test={},
            train_seconds=1.0,
        )
    bench = open_benchmark(merge_shards([tmp_path / "s.zarr"], tmp_path / "m.zarr"))
    models = np.arange(4)
    np.testing.assert_array_equal(
        bench.val_acc(models, epoch=30, best=False), curves[:, 29].astype(np.float32)
    )
    assert bench._arrays["val_acc"].loaded.tolist() == [[False, True, False]]
    np.testing.assert_array_equal(
        bench.val_acc(models, epoch=55), curves[:, :55].max(axis=1).astype(np.float32)
    )
    np.testing.assert_array_equal(
        bench.train_loss(models, epoch=26, best=True), (curves[:, :26] / 10).min(axis=1).astype(np.float32)
    )
    for m in range(4):  # scalar reads after partial vectorised reads
        assert bench.val_acc(m, epoch=60, best=False) == curves[m, 59]
        assert bench.train_loss(m, epoch=3, best=False) == pytest.approx(curves[m, 2] / 10)
