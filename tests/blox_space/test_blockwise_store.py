"""The blockwise store kind: shards written block by block, merged over the (stage, block) grid
with the one merge (stage shards or block chunks), refused when they overlap or leave gaps,
values checked against the schema, damage reported as damage, and the query helper's (3, 45)
DONNA / LANA signatures."""

from __future__ import annotations

import shutil
import warnings

import blox_space as bs
import numpy as np
import pytest
from blox_space.cli import main
from blox_space.schema import BLOCKWISE, STATUS_DONE, STATUS_FAILED, STATUS_PENDING, TEACHER_SECONDS_SPLIT
from blox_space.store import hash_distill, merge_stores, open_store

EPOCHS, SNAPSHOTS = 3, (1, 3)
TEACHER = {
    "name": "M1", "model": 24519, "block_ids": [39, 4, 12], "recipe_id": "r0", "val_acc": 60.0,
    "test_acc": 59.5, "train_seconds": 120.0, "width": 8, "resolution": 16, "num_classes": 10,
}  # fmt: skip
DISTILL = {"epochs": EPOCHS, "snapshots": list(SNAPSHOTS), "recipe_id": "r0", "lr": 0.01, "seed": 0,
           "dead_channel_ratio": 1e-6}  # fmt: skip


def _values(stage: int, block: int) -> dict:
    """Distinct values per (stage, block), so a misplaced block is noticed."""
    base = stage + block / 100
    return dict(
        train_nsr=[1.0 + base, 0.8 + base, 0.7 + base],
        val_nsr=[1.1 + base, 0.9 + base, 0.75 + base],
        lana_val_acc=[40.0 + base, 50.0 + base],
        lana_delta_acc=[-20.0 + base, -10.0 + base],
        distill_seconds=2.0 + base,
        signature_seconds=0.5,
        dead_channels=stage,
        library_file=[f"stage{stage}/block{block:02d}/epoch{e:03d}.pt" for e in SNAPSHOTS],
        library_sha256=[f"{stage}{block:02d}".ljust(64, "a")] * len(SNAPSHOTS),
    )


def _shard(path, stages, blocks, *, teacher=None, distill=None, write=True, **kwargs):
    group = bs.create_blockwise_shard(
        path, stages=stages, blocks=blocks, epochs=EPOCHS, snapshots=list(SNAPSHOTS),
        teacher=teacher or TEACHER, distill=distill or DISTILL, dataset="digits", library="lib/M1", **kwargs,
    )  # fmt: skip
    if write:
        for s in stages:
            for b in blocks:
                bs.write_block_result(group, s, b, status=STATUS_DONE, **_values(s, b))
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Shards written once per module (each block write is a dozen small Zarr writes): one per
    stage, and the same grid as 9 block chunks. Tests only read them (a merge never writes
    its inputs); a test that damages a store copies it first."""
    root = tmp_path_factory.mktemp("blockwise")
    stages = [_shard(root / f"stage-{s}.zarr", [s], range(45)) for s in range(3)]
    chunks = [
        _shard(root / f"c{s}-{lo}.zarr", [s], range(lo, hi))
        for s in range(3)
        for lo, hi in ((0, 10), (10, 30), (30, 45))
    ]
    return {"stages": stages, "chunks": chunks, "merged": merge_stores(stages, root / "M1.zarr")}


@pytest.fixture()
def stage_shards(built):
    return built["stages"]


def test_a_shard_round_trips_through_the_query_helper(tmp_path):
    path = _shard(tmp_path / "s.zarr", [1], [0, 7, 44])
    results = bs.open_blockwise(path)
    assert results.teacher == TEACHER and results.distill == DISTILL
    assert (
        results.distill_id == hash_distill(DISTILL)
        and results.attrs["teacher_seconds_split"] == TEACHER_SECONDS_SPLIT
    )
    assert results.epochs == [1, 2, 3] and results.snapshots == [1, 3] and results.dataset == "digits"
    assert results.library == "lib/M1" and results.is_partial
    donna = results.donna()
    assert donna.shape == (3, 45) and donna.dtype == np.float64
    assert donna[1, 7] == pytest.approx(0.75 + 1.07) and results.donna(epoch=1)[1, 44] == pytest.approx(
        1.1 + 1.44
    )
    assert results.nsr(2, split="train")[1, 0] == pytest.approx(1.8)
    assert np.isnan(donna[0]).all() and np.isnan(donna[1, 1]) and np.isfinite(donna).sum() == 3
    assert results.lana()[1, 7] == pytest.approx(-10 + 1.07) and results.lana(1)[1, 7] == pytest.approx(
        -20 + 1.07
    )
    assert results.lana_val_acc(3)[1, 0] == pytest.approx(51.0)
    status = results.status
    assert status.dtype == np.int8 and (status == STATUS_DONE).sum() == 3 and status[0, 0] == STATUS_PENDING
    assert results.seconds()[1, 7] == pytest.approx(2.0 + 1.07 + 0.5)
    assert results.seconds("signature")[1, 7] == 0.5 and np.isnan(results.seconds("distill")[0, 0])
    assert results.dead_channels().tolist() == [-1, 1, -1]
    assert results.library_file(1, 7) == ("stage1/block07/epoch003.pt", "107".ljust(64, "a"))
    assert results.library_file(1, 7, snapshot=1)[0] == "stage1/block07/epoch001.pt"
    assert "done=3 of 135" in repr(results)


def test_bad_epochs_and_snapshots_are_query_errors_listing_the_allowed_ones(tmp_path):
    results = bs.open_blockwise(_shard(tmp_path / "s.zarr", [0], [3]))
    with pytest.raises(bs.QueryError, match=r"epochs are 1\.\.3"):
        results.donna(epoch=4)
    with pytest.raises(bs.QueryError, match="snapshots are 1, 3"):
        results.lana(snapshot=2)
    for bad in ("3", 1.0, True):
        with pytest.raises(bs.QueryError, match="must be an int"):
            results.donna(epoch=bad)
    with pytest.raises(bs.QueryError, match="total, distill, signature"):
        results.seconds("teacher")
    with pytest.raises(bs.QueryError, match="'val' or 'train'"):
        results.nsr(split="test")
    with pytest.raises(bs.QueryError, match="pending"):
        results.library_file(0, 4)
    with pytest.raises(bs.QueryError, match="0..44"):
        results.library_file(0, 45)


def test_three_stage_shards_merge_into_the_full_grid(stage_shards, tmp_path):
    out = merge_stores(list(reversed(stage_shards)), tmp_path / "M1.zarr")
    group = open_store(out, "blockwise")
    assert group.attrs["is_partial"] is False and group.attrs["teacher"] == TEACHER
    assert group["stage"][:].tolist() == [0, 1, 2] and group["block"][:].tolist() == list(range(45))
    results = bs.open_blockwise(out)
    assert (results.status == STATUS_DONE).all()
    expected = np.array([[0.75 + s + b / 100 for b in range(45)] for s in range(3)])
    np.testing.assert_allclose(results.donna(), expected)
    assert results.dead_channels().tolist() == [0, 1, 2]
    assert results.library_file(2, 44) == ("stage2/block44/epoch003.pt", "244".ljust(64, "a"))
    for shard in stage_shards:  # the inputs are untouched and still open as shards
        assert open_store(shard).attrs["is_partial"] is True


def test_block_chunks_merge_like_stage_shards(built, tmp_path):
    whole = bs.open_blockwise(built["merged"])
    merged = bs.open_blockwise(merge_stores(built["chunks"][::-1], tmp_path / "chunks.zarr"))
    for epoch in (1, 2, 3):
        np.testing.assert_array_equal(merged.donna(epoch), whole.donna(epoch))
    np.testing.assert_array_equal(merged.lana(1), whole.lana(1))
    np.testing.assert_array_equal(merged.seconds(), whole.seconds())
    assert not merged.is_partial


def test_gaps_are_refused_unless_a_partial_store_is_asked_for(built, stage_shards, tmp_path):
    with pytest.raises(bs.MergeError, match=r"45 of 135 \(stage, block\) entries are in no shard"):
        merge_stores(stage_shards[:2], tmp_path / "m.zarr")
    a = built["chunks"][6]  # stage 2, blocks 0..9
    with pytest.raises(bs.MergeError, match=r"35 of 135 .* \(e\.g\. \(2, 10\)\)"):
        merge_stores([*stage_shards[:2], a], tmp_path / "m.zarr")
    out = merge_stores([*stage_shards[:2], a], tmp_path / "m.zarr", allow_partial=True)
    results = bs.open_blockwise(out)
    assert results.is_partial and "35 of 135" in results.attrs["provenance"]["gaps"][0]
    assert (results.status[2, 10:] == STATUS_PENDING).all() and np.isnan(results.donna()[2, 10:]).all()
    assert results.summary()["blocks"] == {"pending": 35, "done": 100, "failed": 0}


def test_pending_blocks_are_gaps(tmp_path, stage_shards):
    half = _shard(tmp_path / "half.zarr", [2], range(45), write=False)  # nothing written: all pending
    with pytest.raises(bs.MergeError, match="45 run\\(s\\) are still pending in half.zarr"):
        merge_stores([*stage_shards[:2], half], tmp_path / "m.zarr")


def test_overlaps_mixed_teachers_and_own_inputs_are_refused(built, stage_shards, tmp_path):
    extra = built["chunks"][2]  # stage 0, blocks 30..44
    with pytest.raises(
        bs.MergeError, match=r"appear in more than one shard, e\.g\. \(stage, block\) \(0, 30\)"
    ):
        merge_stores([*stage_shards, extra], tmp_path / "m.zarr")
    other = _shard(tmp_path / "other.zarr", [2], [0], teacher={**TEACHER, "model": 7, "block_ids": [7, 0, 0]})
    with pytest.raises(bs.MergeError, match="mixed teacher"):
        merge_stores([*stage_shards[:2], other], tmp_path / "m.zarr")
    odd = _shard(tmp_path / "odd.zarr", [2], [0], distill={**DISTILL, "lr": 0.1})
    with pytest.raises(bs.MergeError, match="mixed distill"):
        merge_stores([*stage_shards[:2], odd], tmp_path / "m.zarr")
    with pytest.raises(bs.MergeError, match="is one of the shards"):
        merge_stores(stage_shards, stage_shards[0], overwrite=True)
    with pytest.raises(bs.MergeError, match="expected models apply to stores merged along model"):
        merge_stores(stage_shards, tmp_path / "m.zarr", expected_models=[0])
    with pytest.raises(bs.MergeError, match="different kinds"):
        bench = bs.create_benchmark_shard(
            tmp_path / "b.zarr", [0], epochs=1, recipe_id="r", recipe={}, dataset="d"
        )
        merge_stores([stage_shards[0], bench.store.root], tmp_path / "m.zarr")


def test_a_failed_block_keeps_its_reason_and_reads_as_nan(tmp_path):
    path = _shard(tmp_path / "s.zarr", [0], [1, 2], write=False)
    group = open_store(path, mode="r+")
    bs.write_block_result(group, 0, 1, status=STATUS_DONE, **_values(0, 1))
    bs.write_block_result(
        group, 0, 2, train_nsr=[0.9, float("inf")], val_nsr=[0.8, float("nan")], lana_val_acc=[],
        lana_delta_acc=[], distill_seconds=1.0, signature_seconds=0.0, dead_channels=0, library_file=[],
        library_sha256=[], status=STATUS_FAILED, fail_reason="NSR diverged at epoch 2",
    )  # fmt: skip
    assert np.isnan(group["train_nsr"][0, 1, 1:]).all() and group["train_nsr"][0, 1, 0] == 0.9
    results = bs.open_blockwise(path)
    assert results.fail_reasons() == {(0, 2): "NSR diverged at epoch 2"}
    assert np.isnan(results.donna(1)[0, 2]) and results.seconds()[0, 2] == 1.0  # a failure still cost time
    assert results.status[0, 2] == STATUS_FAILED


GOOD = _values(0, 0)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"train_nsr": [1.0, -0.1, 0.5]}, "train_nsr = -0.1 is not allowed"),
        ({"val_nsr": [1.0, float("inf"), 0.5]}, "val_nsr = inf"),
        ({"val_nsr": [1.0, float("nan"), 0.5]}, "NaN; a done block has every value"),
        ({"val_nsr": [1.0, 0.5]}, "val_nsr has 2 values; this shard holds 3 epochs"),
        ({"val_nsr": [1.0, 0.5, 0.4, 0.3]}, "holds 3 epochs"),
        ({"val_nsr": 0.5}, "must be a sequence"),
        ({"lana_val_acc": [50.0, 150.0]}, "lana_val_acc = 150.0 is not allowed"),
        ({"lana_delta_acc": [-200.0, 1.0]}, "in -100..100 pp"),
        ({"distill_seconds": -1.0}, "distill_seconds = -1.0"),
        ({"signature_seconds": float("nan")}, "signature_seconds has NaN"),
        ({"dead_channels": -1}, "dead_channels must be a count"),
        ({"dead_channels": 2.5}, "dead_channels must be a count"),
        ({"library_sha256": ["xyz", "a" * 64]}, "is not a sha256 hex digest"),
        ({"library_sha256": ["A" * 64, "a" * 64]}, "is not a sha256 hex digest"),
        ({"library_file": ["/abs/x.pt", "y.pt"]}, "relative to the library folder"),
        ({"library_file": ["../x.pt", "y.pt"]}, "relative to the library folder"),
        ({"library_file": ["x.pt", ""]}, "library file and sha256 at every snapshot"),
        ({"library_file": ["x" * 200, "y"]}, "longer than 96 characters"),
        ({"status": 0}, "status must be done"),
        ({"status": True}, "status must be done"),
        ({"status": STATUS_FAILED}, "needs a fail_reason"),
    ],
    ids=lambda v: str(v)[:40] if isinstance(v, dict) else None,
)
def test_values_the_schema_does_not_allow_are_refused(tmp_path, change, says):
    path = _shard(tmp_path / "s.zarr", [0], [0], write=False)
    group = open_store(path, mode="r+")
    kwargs = {**GOOD, "status": STATUS_DONE, **change}
    with pytest.raises(
        bs.SchemaError, match=says.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        bs.write_block_result(group, 0, 0, **kwargs)
    assert group["status"][0, 0] == STATUS_PENDING and np.isnan(group["val_nsr"][0, 0, 0])


def test_dead_channels_are_one_count_per_stage_and_blocks_must_be_in_the_shard(tmp_path):
    path = _shard(tmp_path / "s.zarr", [0], [0, 1], write=False)
    group = open_store(path, mode="r+")
    bs.write_block_result(group, 0, 0, status=STATUS_DONE, **{**GOOD, "dead_channels": 3})
    with pytest.raises(bs.SchemaError, match="differs from the 3 recorded for another block"):
        bs.write_block_result(group, 0, 1, status=STATUS_DONE, **{**GOOD, "dead_channels": 2})
    bs.write_block_result(
        group, 0, 0, status=STATUS_DONE, **{**GOOD, "dead_channels": 3}
    )  # a rewrite is fine
    with pytest.raises(bs.StoreError, match=r"block 5 is not in this shard; it holds blocks \[0, 1\]"):
        bs.write_block_result(group, 0, 5, status=STATUS_DONE, **GOOD)
    with pytest.raises(bs.StoreError, match="stage 2 is not in this shard"):
        bs.write_block_result(group, 2, 0, status=STATUS_DONE, **GOOD)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"stages": []}, "at least one stage"),
        ({"stages": [3]}, "stages must be in 0..2"),
        ({"stages": [0, 0]}, "must be unique"),
        ({"blocks": [45]}, "blocks must be in 0..44"),
        ({"blocks": ["a"]}, "must be integers"),
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"epochs": 2.0}, "epochs must be an integer >= 1"),
        ({"snapshots": [0, 3]}, "counted from 1"),
        ({"snapshots": [4]}, "snapshots must be in 0..3"),
        ({"snapshots": [1, 2]}, "the shard is created with epochs 3, snapshots \\[1, 2\\]"),
        ({"teacher": {"model": 1}}, "teacher lacks"),
        ({"teacher": {**TEACHER, "model": 91125}}, "0..91124"),
        ({"teacher": "M1"}, "teacher must be a mapping"),
        ({"distill": {"epochs": 3}}, "distill settings lack"),
        ({"dataset": " "}, "dataset name"),
    ],
)
def test_shard_creation_refuses_bad_settings(tmp_path, change, says):
    kwargs = dict(
        stages=[0], blocks=[0], epochs=EPOCHS, snapshots=list(SNAPSHOTS), teacher=TEACHER, distill=DISTILL,
        dataset="digits", library="lib",
    )  # fmt: skip
    with pytest.raises(bs.SchemaError, match=says):
        bs.create_blockwise_shard(tmp_path / "s.zarr", **{**kwargs, **change})
    assert not (tmp_path / "s.zarr").exists()


def test_an_existing_shard_is_not_replaced_unless_asked(tmp_path):
    path = _shard(tmp_path / "s.zarr", [0], [0])
    with pytest.raises(bs.StoreError, match="already exists"):
        _shard(path, [0], [0], write=False)
    _shard(path, [0], [1], write=False, overwrite=True)
    assert bs.open_blockwise(path).status[0, 1] == STATUS_PENDING


def test_damage_is_reported_as_damage(built, tmp_path, capsys):
    out = shutil.copytree(built["merged"], tmp_path / "M1.zarr")
    chunk = next(p for p in sorted((out / "val_nsr" / "c").rglob("*")) if p.is_file())
    chunk.write_bytes(chunk.read_bytes()[:3])
    results = bs.open_blockwise(out)
    with pytest.raises(bs.DamagedStoreError, match="'val_nsr'"):
        results.donna()
    assert main(["info", str(out), "--verify"]) == 2
    assert "damaged" in capsys.readouterr().err
    shutil.rmtree(out / "lana_delta_acc")
    with pytest.raises(bs.DamagedStoreError, match="'lana_delta_acc' is gone"):
        bs.open_blockwise(out)


def test_the_store_opens_with_xarray(built):
    xr = pytest.importorskip("xarray")
    out = built["merged"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xr.open_zarr(out)
    assert dict(ds.sizes) == {"stage": 3, "block": 45, "epoch": 3, "snapshot": 2}
    assert ds["val_nsr"].dims == ("stage", "block", "epoch") and ds["lana_delta_acc"].attrs["units"] == "pp"
    assert ds["val_nsr"].sel(stage=2, block=44, epoch=3).item() == pytest.approx(0.75 + 2.44)
    assert ds.attrs["teacher"]["name"] == "M1"
    lazy = bs.open_blockwise(out).to_xarray()
    assert set(lazy.data_vars) == {a.name for a in BLOCKWISE.arrays}


def test_the_cli_merges_and_describes_blockwise_shards(stage_shards, tmp_path, capsys):
    out = tmp_path / "M1.zarr"
    assert main(["merge", *map(str, stage_shards), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert (
        "blockwise" in text and "135 done, 0 failed, 0 pending of 135" in text and "M1: model 24519" in text
    )
    assert main(["info", str(out), "--json"]) == 0
    import json

    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "blockwise" and info["dead_channels"] == [0, 1, 2] and info["epochs"] == EPOCHS
    assert main(["merge", *map(str, stage_shards[:2]), "--out", str(tmp_path / "p.zarr")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "--allow-partial" in err[0]
    assert main(["merge", *map(str, stage_shards), "--out", str(tmp_path / "e.zarr"), "--expect", "0:3"]) == 2
    assert "merged along model" in capsys.readouterr().err
    with pytest.raises(bs.SchemaError, match="expected a 'benchmark' or 'finetune' store"):
        bs.open_benchmark(out)


def test_the_distill_id_is_the_hash_of_the_canonical_settings():
    assert hash_distill(DISTILL) == hash_distill(dict(reversed(list(DISTILL.items()))))
    assert hash_distill(DISTILL) != hash_distill({**DISTILL, "seed": 1})
    assert len(hash_distill(DISTILL)) == 32
