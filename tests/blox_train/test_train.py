"""Normal training: determinism, exact resume after a kill mid-epoch, divergence recorded."""

from __future__ import annotations

import importlib
import math
import signal
import subprocess
import sys
import time

import blox_train as bt
import numpy as np
import pytest
import torch
from torch import nn

batches_module = importlib.import_module("blox_train.batches")  # where training gets its DataLoaders

RECIPE = bt.get_recipe("ci", {"epochs": 3})
COMPARED = [m for m in bt.METRICS if m != "epoch_seconds"]  # wall clock differs run to run


@pytest.fixture(scope="module")
def digits():
    return bt.load_dataset("digits", resolution=RECIPE.resolution)


def assert_same_result(a: bt.TrainResult, b: bt.TrainResult) -> None:
    for name in COMPARED:
        np.testing.assert_array_equal(a.metrics[name], b.metrics[name], err_msg=name)
    assert a.test == b.test
    assert a.best_epoch == b.best_epoch


def test_record_shape_and_units(digits):
    result = bt.train(24519, RECIPE, data=digits)
    assert result.is_done and result.reason == ""
    assert set(result.metrics) == set(bt.METRICS)
    assert all(v.shape == (RECIPE.epochs,) and np.isfinite(v).all() for v in result.metrics.values())
    assert set(result.test) == set(bt.TEST_METRICS)
    for name in ("train_acc", "val_acc", "val_top5"):
        assert ((result.metrics[name] >= 0) & (result.metrics[name] <= 100)).all()
    assert (result.metrics["val_top5"] >= result.metrics["val_acc"]).all()
    assert 1 <= result.best_epoch <= RECIPE.epochs
    assert result.metrics["val_acc"][result.best_epoch - 1] == result.metrics["val_acc"].max()
    assert result.train_seconds == pytest.approx(result.metrics["epoch_seconds"].sum())
    assert result.params == bt.count_params(bt.build_model(24519, num_classes=10, width=4, resolution=8))
    assert {"device", "torch", "python", "blox_train"} <= set(result.env)


def test_epoch_one_validation_is_its_own(digits):
    """Not the original's aliasing bug (facts §4.6): epoch 1 holds epoch 1's metrics."""
    result = bt.train(0, bt.get_recipe("ci", {"epochs": 4, "lr": 0.1}), data=digits)
    val = result.metrics["val_acc"]
    assert result.best_epoch == 1 or val[0] < val.max()


def test_same_seed_gives_identical_metrics(digits):
    a = bt.train(3, RECIPE, data=digits)
    b = bt.train(3, RECIPE, data=digits)
    assert_same_result(a, b)
    c = bt.train(3, RECIPE, data=digits, seed=1)
    assert not np.array_equal(a.metrics["train_loss"], c.metrics["train_loss"])


def test_training_leaves_the_global_rng_alone(digits):
    torch.manual_seed(123)
    want = torch.rand(3)
    torch.manual_seed(123)
    bt.train(3, bt.get_recipe("ci", {"epochs": 1}), data=digits)
    torch.testing.assert_close(torch.rand(3), want)


class _Killed(Exception):
    """Stands for SIGKILL in the middle of an epoch."""


def test_resume_after_kill_mid_epoch_gives_the_same_result(digits, tmp_path, monkeypatch):
    reference = bt.train(7, RECIPE, data=digits)
    ckpt = tmp_path / "run.pt"
    real_make_loader = batches_module.make_loader

    def dying_loader(*args, **kwargs):
        loader = real_make_loader(*args, **kwargs)
        if kwargs["epoch"] != 2 or not kwargs["shuffle"]:
            return loader

        def batches():
            for i, batch in enumerate(loader):
                if i == 3:
                    raise _Killed
                yield batch

        return batches()

    monkeypatch.setattr(batches_module, "make_loader", dying_loader)
    with pytest.raises(_Killed):
        bt.train(7, RECIPE, data=digits, checkpoint=ckpt)
    monkeypatch.setattr(batches_module, "make_loader", real_make_loader)
    assert ckpt.exists()
    resumed = bt.train(7, RECIPE, data=digits, checkpoint=ckpt)
    assert_same_result(resumed, reference)


def test_checkpoint_of_another_run_is_refused(digits, tmp_path):
    ckpt = tmp_path / "run.pt"
    bt.train(7, bt.get_recipe("ci", {"epochs": 1}), data=digits, checkpoint=ckpt)
    with pytest.raises(bt.CheckpointError, match="not"):
        bt.train(8, bt.get_recipe("ci", {"epochs": 1}), data=digits, checkpoint=ckpt)


class NaNAfter(nn.Module):
    """Wraps a model so that its logits become NaN after a few training steps."""

    def __init__(self, model: nn.Module, steps: int) -> None:
        super().__init__()
        self.model, self.steps, self.calls = model, steps, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.calls += 1
        out = self.model(x)
        return out * float("nan") if self.calls > self.steps else out


def diverging_build(arch, **kwargs):
    return NaNAfter(bt.build_model(arch, **kwargs), steps=20)  # 17 steps per epoch: NaN in epoch 2


def test_divergence_is_recorded_not_raised(digits):
    result = bt.train(0, RECIPE, data=digits, build=diverging_build)
    assert result.status == "failed"
    assert "loss became nan in epoch 2" in result.reason
    assert np.isfinite(result.metrics["train_loss"][0]) and math.isnan(result.metrics["train_loss"][1])
    assert np.isnan(result.metrics["train_loss"][2])
    assert result.best_epoch == 1 and np.isfinite(result.test["test_acc"])


def test_exploding_loss_counts_as_divergence(digits):
    result = bt.train(0, bt.get_recipe("ci", {"epochs": 1, "max_loss": 1e-3}), data=digits)
    assert result.status == "failed" and "max_loss" in result.reason


@pytest.mark.parametrize("overrides", [{"precision": "bf16"}, {"channels_last": True}])
def test_fast_path_options_train_on_cpu(digits, overrides):
    result = bt.train(1, bt.get_recipe("ci", {"epochs": 1, **overrides}), data=digits)
    assert result.is_done and np.isfinite(result.metrics["train_loss"]).all()


@pytest.mark.slow
def test_sigkilled_cli_run_resumes_to_the_same_result(digits, tmp_path):
    """A real kill (SIGKILL after the first checkpoint), then resume in-process."""
    recipe = bt.get_recipe("ci", {"epochs": 5})
    ckpt = tmp_path / "run.pt"
    cmd = [
        sys.executable,
        "-m",
        "blox_train.cli",
        "-q",
        "train",
        "11",
        "--recipe",
        "ci",
        "--set",
        "epochs=5",
        "--threads",
        "1",
        "--no-progress",
        "--checkpoint",
        str(ckpt),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # into the next epoch
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert ckpt.exists()
    assert torch.load(ckpt, weights_only=True)["epoch"] < recipe.epochs  # killed before the end
    torch.set_num_threads(1)
    resumed = bt.train(11, recipe, data=digits, checkpoint=ckpt)
    assert_same_result(resumed, bt.train(11, recipe, data=digits))
