"""The finetune store kind: the benchmark schema plus the teacher and fine-tuning attributes;
shards made with create_finetune_shard, rows written with write_model_result, merged along model
like benchmarks, read by open_benchmark like any benchmark."""

from __future__ import annotations

import json
import shutil

import blox_space as bs
import numpy as np
import pytest
from blox_space.cli import main
from blox_space.schema import BENCHMARK, FINETUNE, STATUS_FAILED
from blox_space.store import finished_models, merge_stores, open_store

TEACHER = {
    "name": "M5", "model": 7, "block_ids": [7, 0, 0], "recipe_id": "r0", "val_acc": 20.0,
    "test_acc": 19.0, "train_seconds": 30.0, "width": 8, "resolution": 16, "num_classes": 10,
}  # fmt: skip
FT = dict(
    epochs=3, recipe_id="r0", recipe={"lr": 0.01}, dataset="digits", teacher=TEACHER, library_id="abc123",
    distill_epoch=5, alpha=0.9, temperature=1.0,
)  # fmt: skip


def _shard(path, models, *, bucket=None, finish=True, **change):
    group = bs.create_finetune_shard(path, models, bucket=bucket, **{**FT, **change})
    if finish:
        for m in models:
            bs.write_model_result(
                group, m, 0, per_epoch={"val_acc": [10.0, 20.0 + m / 10, 15.0], "val_loss": [3.0, 2.0, 2.5]},
                test={"test_acc": 18.0 + m / 10}, train_seconds=4.5, env={"device": "cpu"},
            )  # fmt: skip
    return path


def test_the_finetune_kind_is_the_benchmark_schema_plus_attributes():
    assert FINETUNE.arrays == BENCHMARK.arrays and FINETUNE.coords == BENCHMARK.coords
    assert set(FINETUNE.required_attrs) == set(BENCHMARK.required_attrs) | {
        "teacher", "library_id", "distill_epoch", "ft_epochs", "alpha", "temperature",
    }  # fmt: skip
    assert set(BENCHMARK.match_attrs) < set(FINETUNE.match_attrs) and FINETUNE.merge_dim == "model"


def test_shards_merge_and_read_like_a_benchmark(tmp_path):
    shards = [
        _shard(tmp_path / f"b{i}.zarr", models, bucket=(i, 2)) for i, models in enumerate(([0, 5], [9]))
    ]
    assert finished_models(shards[0]).tolist() == [0, 5]
    out = merge_stores(shards, tmp_path / "ft.zarr")
    bench = bs.open_benchmark(out)
    assert bench.kind == "finetune" and bench.models.tolist() == [0, 5, 9] and not bench.is_partial
    assert bench.val_acc(5) == pytest.approx(20.5) and bench.test_acc(9) == pytest.approx(18.9)
    attrs = bench.attrs
    assert attrs["teacher"] == TEACHER and attrs["library_id"] == "abc123" and attrs["distill_epoch"] == 5
    assert attrs["ft_epochs"] == 3 == bench.epochs and attrs["alpha"] == 0.9 and attrs["temperature"] == 1.0
    assert attrs["environments"] == [{"device": "cpu"}]
    assert bs.open_benchmark(shards[1]).kind == "finetune"
    assert bs.select_model(bench, "rank:1") == 9  # the selection reads finetune stores too


def test_a_benchmark_reports_its_kind(tmp_path):
    group = bs.create_benchmark_shard(
        tmp_path / "b.zarr", [0], epochs=1, recipe_id="r", recipe={}, dataset="d"
    )
    assert bs.open_benchmark(group.store.root).kind == "benchmark"


def test_unfinished_and_failed_rows_behave_like_benchmark_rows(tmp_path):
    path = _shard(tmp_path / "b.zarr", [0, 5], finish=False)
    group = open_store(path, mode="r+")
    bs.write_model_result(
        group, 0, 0, per_epoch={"val_acc": [10.0]}, test={}, train_seconds=1.0, status=STATUS_FAILED,
        fail_reason="loss is NaN",
    )  # fmt: skip
    assert finished_models(path).tolist() == [0]
    with pytest.raises(bs.MergeError, match="still pending"):
        merge_stores([path], tmp_path / "ft.zarr")
    with pytest.raises(bs.SchemaError, match="val_acc = 250.0 is not allowed"):
        bs.write_model_result(group, 5, 0, per_epoch={"val_acc": [250.0]}, test={}, train_seconds=1.0)


@pytest.mark.parametrize(
    ("key", "value"),
    [("alpha", 0.5), ("temperature", 2.0), ("distill_epoch", 10), ("library_id", "other"), ("epochs", 4)],
)
def test_shards_of_different_fine_tuning_runs_do_not_merge(tmp_path, key, value):
    a = _shard(tmp_path / "a.zarr", [0], bucket=(0, 2))
    b = _shard(tmp_path / "b.zarr", [5], bucket=(1, 2), **{key: value})
    with pytest.raises(bs.MergeError, match="mixed|different"):
        merge_stores([a, b], tmp_path / "ft.zarr")


def test_a_teacher_change_does_not_merge_and_kinds_do_not_mix(tmp_path):
    a = _shard(tmp_path / "a.zarr", [0], bucket=(0, 2))
    b = _shard(tmp_path / "b.zarr", [5], bucket=(1, 2), teacher={**TEACHER, "name": "M1"})
    with pytest.raises(bs.MergeError, match="mixed teacher"):
        merge_stores([a, b], tmp_path / "ft.zarr")
    bench = bs.create_benchmark_shard(
        tmp_path / "bench.zarr",
        [5],
        epochs=3,
        recipe_id="r0",
        recipe={"lr": 0.01},
        dataset="digits",
        bucket=(1, 2),
    )
    with pytest.raises(bs.MergeError, match="different kinds"):
        merge_stores([a, bench.store.root], tmp_path / "ft.zarr")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"alpha": 1.5}, "alpha must be in 0..1"),
        ({"alpha": "0.9"}, "alpha must be a number"),
        ({"temperature": 0.0}, "temperature must be > 0"),
        ({"temperature": float("inf")}, "temperature must be > 0"),
        ({"distill_epoch": 0}, "distill_epoch must be a library snapshot epoch >= 1"),
        ({"distill_epoch": 2.0}, "distill_epoch must be"),
        ({"library_id": " "}, "non-empty library_id"),
        ({"teacher": {"model": 7}}, "teacher lacks"),
        ({"epochs": 0}, "epochs must be >= 1"),
    ],
)
def test_bad_fine_tuning_settings_are_refused(tmp_path, change, says):
    with pytest.raises(bs.SchemaError, match=says):
        bs.create_finetune_shard(tmp_path / "ft.zarr", [0], **{**FT, **change})
    assert not (tmp_path / "ft.zarr").exists()


def test_damage_and_info(tmp_path, capsys):
    out = merge_stores([_shard(tmp_path / "a.zarr", [0, 5])], tmp_path / "ft.zarr")
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "finetune" in text and "library_id" in text and "abc123" in text and "distill_epoch  5" in text
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["finetune"]["alpha"] == 0.9 and info["finetune"]["teacher"]["name"] == "M5"
    shutil.rmtree(out / "test_acc")
    with pytest.raises(bs.DamagedStoreError, match="'test_acc' is gone"):
        bs.open_benchmark(out)
    assert main(["info", str(out)]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_a_store_of_another_kind_is_not_a_benchmark(tmp_path):
    spec = bs.schema.LATENCY
    attrs = {k: {} for k in spec.required_attrs}
    bs.create_store(tmp_path / "lat.zarr", spec, sizes={"model": 1}, attrs=attrs)
    with pytest.raises(
        bs.SchemaError, match="is a 'latency' store, expected a 'benchmark' or 'finetune' store"
    ):
        bs.open_benchmark(tmp_path / "lat.zarr")
    assert np.asarray(finished_models(_shard(tmp_path / "a.zarr", [3]))).tolist() == [3]
