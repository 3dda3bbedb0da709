"""Shard writing and merging: values survive the merge; gaps, duplicates and mixed recipes are
refused with messages that name the shards; a partial merge is marked."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from blox_space import MergeError, create_benchmark_shard, finished_models, merge_shards, open_benchmark
from blox_space.cli import main
from blox_space.schema import STATUS_FAILED
from blox_space.schema import STATUS_FLAGS as _FLAGS
from blox_space.store import (
    ArraySpec,
    StoreSpec,
    create_store,
    merge_stores,
    register_store_kind,
    write_model_result,
)
from blox_space.store.merge import merged_chunk
from blox_space.store.spec import BLOCK, STAGE

EPOCHS = 4


def _shard(path, models, *, bucket=None, recipe=None, seeds=(0,), finish=True, env=None):
    recipe = recipe or {"lr": 0.01}
    group = create_benchmark_shard(
        path,
        models,
        seeds=seeds,
        epochs=EPOCHS,
        recipe_id=str(sorted(recipe.items())),
        recipe=recipe,
        dataset="digits",
        bucket=bucket,
    )
    if finish:
        for m in models:
            for s in seeds:
                write_model_result(
                    group,
                    m,
                    s,
                    per_epoch={"val_acc": np.arange(EPOCHS) + m / 100},
                    test={"test_acc": 10 + m / 100},
                    train_seconds=float(m),
                    env=env or {"host": f"h{m % 2}"},
                )
    return path


@pytest.fixture()
def shards(tmp_path):
    return [_shard(tmp_path / f"b{i}.zarr", list(range(3 * i, 3 * i + 3)), bucket=(i, 3)) for i in range(3)]


def test_merge_keeps_every_value(shards, tmp_path):
    out = merge_shards(list(reversed(shards)), tmp_path / "m.zarr")
    bench = open_benchmark(out)
    assert list(bench) == list(range(9)) and not bench.is_partial
    np.testing.assert_allclose(bench.test_acc(np.arange(9)), 10 + np.arange(9) / 100, rtol=1e-6)
    np.testing.assert_allclose(
        bench.val_acc(np.arange(9), epoch=2, best=False), 1 + np.arange(9) / 100, rtol=1e-6
    )
    assert bench.attrs["environments"] in ([{"host": "h0"}, {"host": "h1"}], [{"host": "h1"}, {"host": "h0"}])
    assert bench.env(4) == {"host": "h0"} and bench.env(5) == {"host": "h1"}
    assert bench.attrs["provenance"]["merged_from"] == [p.name for p in reversed(shards)]
    assert "consolidated_metadata" in (out / "zarr.json").read_text()
    assert zarr.open_array(str(out / "val_acc")).chunks[0] % 3 == 0  # chunk boundaries are bucket boundaries


def test_missing_bucket_is_a_gap(shards, tmp_path):
    with pytest.raises(MergeError, match=r"1 of 3 buckets are missing \(1\).*--allow-partial"):
        merge_shards([shards[0], shards[2]], tmp_path / "m.zarr")
    assert not (tmp_path / "m.zarr").exists()
    out = merge_shards([shards[0], shards[2]], tmp_path / "m.zarr", allow_partial=True)
    bench = open_benchmark(out)
    assert bench.is_partial and bench.attrs["provenance"]["gaps"]


def test_pending_runs_and_expected_models_are_gaps(tmp_path):
    done = _shard(tmp_path / "a.zarr", [0, 1])
    pending = _shard(tmp_path / "b.zarr", [2, 3], finish=False)
    with pytest.raises(MergeError, match=r"2 run\(s\) are still pending in b.zarr"):
        merge_shards([done, pending], tmp_path / "m.zarr")
    with pytest.raises(MergeError, match=r"1 expected model\(s\) are in no shard \(e.g. \[2\]\)"):
        merge_shards([done], tmp_path / "m.zarr", expected_models=[0, 1, 2])
    bench = open_benchmark(merge_shards([done, pending], tmp_path / "m.zarr", allow_partial=True))
    assert bench.status(2) == "pending" and np.isnan(bench.val_acc(2))


def test_duplicates_are_refused(shards, tmp_path):
    other = _shard(tmp_path / "dup.zarr", [2, 20], bucket=(1, 3))
    with pytest.raises(MergeError, match=r"model 2 in b0.zarr, dup.zarr"):
        merge_shards([shards[0], other], tmp_path / "m.zarr")
    again = _shard(tmp_path / "again.zarr", [30], bucket=(0, 3))
    with pytest.raises(MergeError, match="bucket 0 appears twice"):
        merge_shards([shards[0], again], tmp_path / "m.zarr")
    with pytest.raises(MergeError, match="given twice"):
        merge_shards([shards[0], shards[0]], tmp_path / "m.zarr")


def test_mixed_recipes_are_refused(tmp_path):
    a = _shard(tmp_path / "a.zarr", [0])
    b = _shard(tmp_path / "b.zarr", [1], recipe={"lr": 0.1})
    with pytest.raises(MergeError, match=r"mixed recipe_id: a.zarr has .* but b.zarr has"):
        merge_shards([a, b], tmp_path / "m.zarr")
    c = _shard(tmp_path / "c.zarr", [2], seeds=(0, 1))
    with pytest.raises(MergeError, match="different seeds"):
        merge_shards([a, c], tmp_path / "m.zarr")


def test_failed_runs_are_kept(tmp_path):
    group = create_benchmark_shard(
        tmp_path / "f.zarr", [5, 6], epochs=EPOCHS, recipe_id="r", recipe={}, dataset="digits"
    )
    write_model_result(
        group,
        5,
        0,
        per_epoch={"train_loss": [2.0, np.nan]},
        test={},
        train_seconds=3.0,
        status=STATUS_FAILED,
        fail_reason="training loss became NaN at epoch 2",
    )
    assert finished_models(tmp_path / "f.zarr").tolist() == [5]
    write_model_result(group, 6, 0, per_epoch={}, test={}, train_seconds=1.0)
    bench = open_benchmark(merge_shards([tmp_path / "f.zarr"], tmp_path / "m.zarr"))
    assert bench.status(5) == "failed" and bench.attrs["provenance"]["num_failed"] == 1


def test_writer_checks_its_input(tmp_path):
    group = create_benchmark_shard(tmp_path / "w.zarr", [1], epochs=2, recipe_id="r", recipe={}, dataset="d")
    with pytest.raises(Exception, match="unknown metrics"):
        write_model_result(group, 1, 0, per_epoch={"val_top1": [1]}, test={}, train_seconds=1)
    with pytest.raises(Exception, match="3 epochs"):
        write_model_result(group, 1, 0, per_epoch={"val_acc": [1, 2, 3]}, test={}, train_seconds=1)
    with pytest.raises(Exception, match="not in this shard"):
        write_model_result(group, 2, 0, per_epoch={}, test={}, train_seconds=1)
    with pytest.raises(Exception, match="fail_reason"):
        write_model_result(group, 1, 0, per_epoch={}, test={}, train_seconds=1, status=STATUS_FAILED)


@pytest.mark.parametrize(
    ("sizes", "chunk"),
    [([125] * 4, 2000), ([3, 3], 2025), ([4050, 4050], 2025), ([91125], 2025), ([7, 5], 2025)],
)
def test_merged_chunk_aligns_with_buckets(sizes, chunk):
    assert merged_chunk(sizes) == chunk


def test_cli_merge(shards, tmp_path, capsys):
    assert main(["merge", *map(str, shards), "--out", str(tmp_path / "m.zarr"), "--expect", "0:9"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "m.zarr")
    assert main(["merge", str(shards[0]), "--out", str(tmp_path / "n.zarr")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "buckets are missing" in err[0]


# ---------------------------------------------------------------------------------------
# shards that tile a grid (several merge dimensions), e.g. blockwise stores: stage x block
# ---------------------------------------------------------------------------------------
GRID = register_store_kind(
    StoreSpec(
        kind="test_grid",
        coords=(STAGE, BLOCK),
        arrays=(
            ArraySpec("score", ("stage", "block"), "float64", "1", "a per-entry value"),
            ArraySpec("status", ("stage", "block"), "int8", "1", "entry status", attrs=dict(_FLAGS)),
            ArraySpec("per_stage", ("stage",), "int64", "1", "a per-stage value"),
        ),
        required_attrs=("teacher",),
        merge_dim=("stage", "block"),
        match_attrs=("teacher",),
    )
)


def _grid_shard(path, stages, blocks, teacher=7):
    group = create_store(
        path, GRID, sizes={"stage": len(stages), "block": len(blocks)},
        coords={"stage": np.array(stages), "block": np.array(blocks)}, attrs={"teacher": teacher},
    )  # fmt: skip
    group["score"][:] = np.add.outer(np.array(stages) * 100, np.array(blocks)).astype(float)
    group["status"][:] = 1
    group["per_stage"][:] = np.array(stages) * 10
    return path


def test_shards_tiling_a_grid_merge_into_one_store(tmp_path):
    shards = [
        _grid_shard(tmp_path / "s0.zarr", [0], range(45)),
        _grid_shard(tmp_path / "s1a.zarr", [1], range(0, 20)),
        _grid_shard(tmp_path / "s1b.zarr", [1], range(20, 45)),
    ]
    out = merge_stores(shards[::-1], tmp_path / "m.zarr")
    group = zarr.open_group(str(out), mode="r")
    assert group["stage"][:].tolist() == [0, 1] and group["block"][:].tolist() == list(range(45))
    np.testing.assert_array_equal(group["score"][:], np.add.outer([0, 100], np.arange(45)))
    assert group["per_stage"][:].tolist() == [0, 10] and not group.attrs["is_partial"]


def test_a_grid_with_a_hole_or_an_overlap_is_refused(tmp_path):
    a = _grid_shard(tmp_path / "a.zarr", [0, 1], range(0, 20))
    b = _grid_shard(tmp_path / "b.zarr", [1], range(20, 45))  # stage 0, blocks 20..44 missing
    with pytest.raises(
        MergeError, match=r"25 of 90 \(stage, block\) entries are in no shard \(e.g. \(0, 20\)\)"
    ):
        merge_stores([a, b], tmp_path / "m.zarr")
    partial = merge_stores([a, b], tmp_path / "p.zarr", allow_partial=True)
    assert zarr.open_group(str(partial), mode="r").attrs["is_partial"]
    c = _grid_shard(tmp_path / "c.zarr", [1], range(15, 25))
    with pytest.raises(
        MergeError,
        match=r"\(stage, block\)\(s\) appear in more than one shard, e.g. \(stage, block\) \(1, 15\)",
    ):
        merge_stores([a, b, c], tmp_path / "m.zarr")
    d = _grid_shard(tmp_path / "d.zarr", [0], range(20, 45), teacher=8)
    with pytest.raises(MergeError, match="mixed teacher"):
        merge_stores([a, b, d], tmp_path / "m.zarr")
