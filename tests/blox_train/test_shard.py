"""The shard runner: benchmark-schema shards, failures recorded, skip and resume, merge."""

from __future__ import annotations

import blox_train as bt
import numpy as np
import pytest
import torch
import xarray as xr
from blox_space import merge_shards
from blox_space.schema import STATUS_DONE, STATUS_FAILED, STATUS_PENDING
from blox_train.recipes import RECIPE_ID_VERSION
from blox_train.shard import checkpoint_dir_for
from torch import nn

RECIPE = bt.get_recipe("ci", {"epochs": 2})
DIVERGING = 45


class _Killed(Exception):
    """Stands for the job being killed mid-epoch."""


class Wrapped(nn.Module):
    """NaN logits (``nan_after``) or a kill (``kill_after``) after some training steps."""

    def __init__(
        self, model: nn.Module, *, nan_after: int | None = None, kill_after: int | None = None
    ) -> None:
        super().__init__()
        self.model, self.nan_after, self.kill_after, self.calls = model, nan_after, kill_after, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += self.training
        if self.kill_after is not None and self.calls > self.kill_after:
            raise _Killed
        out = self.model(x)
        return out * float("nan") if self.nan_after is not None and self.calls > self.nan_after else out

    def state_dict(self, *args, **kwargs):  # checkpoints look like the plain model's
        return self.model.state_dict(*args, **kwargs)

    def load_state_dict(self, state, strict=True, assign=False):
        return self.model.load_state_dict(state, strict=strict, assign=assign)


def build_with_one_diverging(arch, **kwargs):
    model = bt.build_model(arch, **kwargs)
    return Wrapped(model, nan_after=3) if model.index == DIVERGING else model


def test_parse_models():
    assert bt.parse_models("0:4").tolist() == [0, 1, 2, 3]
    assert bt.parse_models("9,3,3").tolist() == [3, 9]
    sample = bt.parse_models("sample:200:0")
    assert len(sample) == 200 and np.array_equal(sample, bt.parse_models("sample:200:0"))
    assert len(bt.parse_models("all")) == 91125
    for bad in ("0:x", "sample:0:1", "91125", "-1", "5:5"):
        with pytest.raises(bt.BloxError):  # blox_space.ModelSpecError, exit 2 on the CLI
            bt.parse_models(bad)


def test_shard_with_a_diverging_model_completes_the_others(tmp_path):
    out = tmp_path / "bucket-0.zarr"
    summary = bt.run_shard([0, DIVERGING, 2025], RECIPE, out, bucket=(0, 2), build=build_with_one_diverging)
    assert (summary.num_runs, summary.num_trained, summary.num_failed, summary.num_skipped) == (3, 3, 1, 0)
    ds = xr.open_zarr(out, consolidated=False)
    assert (
        ds.attrs["recipe_id"] == RECIPE.id
        and ds.attrs["dataset"] == "digits"
        and ds.attrs["producer"] == "blox-train"
    )
    assert ds.attrs["recipe"]["epochs"] == 2 and ds.attrs["epochs"] == 2
    status = ds.status.sel(seed=0).values
    assert status.tolist() == [STATUS_DONE, STATUS_FAILED, STATUS_DONE]
    assert "loss became nan in epoch 1" in str(ds.fail_reason.sel(model=DIVERGING, seed=0).values)
    done = ds.sel(model=[0, 2025], seed=0)
    assert np.isfinite(done.val_acc.values).all() and np.isfinite(done.test_acc.values).all()
    assert (
        ds.params.sel(model=[0, 2025]).values
        == [bt.count_params(bt.build_model(m, num_classes=10, width=4, resolution=8)) for m in (0, 2025)]
    ).all()
    assert ds.epoch.values.tolist() == [1, 2]
    assert not checkpoint_dir_for(out).exists()
    again = bt.run_shard([0, DIVERGING, 2025], RECIPE, out, bucket=(0, 2))
    assert (again.num_trained, again.num_skipped) == (0, 3)


def test_rerun_resumes_the_interrupted_model_to_the_same_result(tmp_path):
    models = [1, 2]
    reference = tmp_path / "reference.zarr"
    bt.run_shard(models, RECIPE, reference)

    def build_killing_model_2(arch, **kwargs):
        model = bt.build_model(arch, **kwargs)
        return (
            Wrapped(model, kill_after=20) if model.index == 2 else model
        )  # 17 steps per epoch: dies in epoch 2

    out = tmp_path / "shard.zarr"
    with pytest.raises(_Killed):
        bt.run_shard(models, RECIPE, out, build=build_killing_model_2)
    assert xr.open_zarr(out, consolidated=False).status.values[:, 0].tolist() == [STATUS_DONE, STATUS_PENDING]
    assert (checkpoint_dir_for(out) / "model-2-seed-0.pt").exists()
    summary = bt.run_shard(models, RECIPE, out)
    assert (summary.num_trained, summary.num_skipped) == (1, 1)
    got, want = xr.open_zarr(out, consolidated=False), xr.open_zarr(reference, consolidated=False)
    for name in (
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "val_top5",
        "test_acc",
        "test_loss",
        "best_epoch",
    ):
        np.testing.assert_array_equal(got[name].values, want[name].values, err_msg=name)


def test_existing_shard_of_another_recipe_is_refused(tmp_path):
    out = tmp_path / "shard.zarr"
    bt.run_shard([3], bt.get_recipe("ci", {"epochs": 1}), out)
    with pytest.raises(bt.ConfigError, match="recipe id"):
        bt.run_shard([3], RECIPE, out)
    with pytest.raises(bt.ConfigError, match="other models"):
        bt.run_shard([4], bt.get_recipe("ci", {"epochs": 1}), out)


def test_shards_merge_with_blox_space(tmp_path):
    recipe = bt.get_recipe("ci", {"epochs": 1})
    shards = [tmp_path / "bucket-0.zarr", tmp_path / "bucket-1.zarr"]
    bt.run_shard([0, 1], recipe, shards[0], bucket=(0, 2))
    bt.run_shard([2], recipe, shards[1], bucket=(1, 2))
    merged = merge_shards(shards, tmp_path / "benchmark.zarr")
    ds = xr.open_zarr(merged)
    assert ds.model.values.tolist() == [0, 1, 2]
    assert (ds.status.values == STATUS_DONE).all() and ds.attrs["recipe_id"] == recipe.id


def test_shard_records_the_recipe_id_version(tmp_path):
    out = tmp_path / "shard.zarr"
    bt.run_shard([3], bt.get_recipe("ci", {"epochs": 1}), out)
    ds = xr.open_zarr(out, consolidated=False)
    assert ds.attrs["recipe_id_version"] == RECIPE_ID_VERSION == 2


def test_rerun_with_other_seeds_of_the_same_recipe_id_is_refused(tmp_path):
    out = tmp_path / "shard.zarr"
    recipe = bt.get_recipe("ci", {"epochs": 1})
    bt.run_shard([3], recipe, out)
    more = recipe.replace(seeds=(0, 1))
    assert more.id == recipe.id  # seeds are the store's coordinate, not part of the recipe id
    with pytest.raises(bt.ConfigError, match=r"holds seeds \[0\], not \[0, 1\]"):
        bt.run_shard([3], more, out)
    again = bt.run_shard([3], recipe, out)
    assert (again.num_trained, again.num_skipped) == (0, 1)
    other = tmp_path / "seeds-1-0.zarr"
    bt.run_shard([3], recipe.replace(seeds=(1, 0)), other)
    assert xr.open_zarr(other, consolidated=False).seed.values.tolist() == [0, 1]
    assert bt.run_shard([3], recipe.replace(seeds=(0, 1)), other).num_skipped == 2  # order does not matter
