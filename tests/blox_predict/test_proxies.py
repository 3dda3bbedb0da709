"""Zero-cost proxies: each definition on a network small enough to check by hand, the shard a few
real Blox models give at the ci geometry, the merge, and ProxyPredictor."""

from __future__ import annotations

import importlib.util
import sys

import blox_space as bs
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from blox_predict import PredictError, ProxyPredictor, TooFewPointsError, compute_proxies, open_proxies
from blox_predict.proxies import PROXY_NAMES, model_proxies
from blox_space.errors import ConfigError, MergeError
from blox_space.store import merge_stores

from .conftest import synthetic_proxies_store

#: Computing proxies of real Blox models needs blox-train; blox-predict installs without it.
needs_blox_train = pytest.mark.skipif(
    importlib.util.find_spec("blox_train") is None,
    reason="computing proxies needs blox-train (not installed)",
)


@pytest.fixture()
def tiny():
    """A linear classifier on 2x2 images (12 inputs, 3 classes) and a minibatch of 4."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    images = torch.randn(4, 3, 2, 2)
    labels = torch.tensor([0, 1, 2, 1])
    return net, images, labels


def test_each_proxy_follows_its_definition(tiny):
    net, images, labels = tiny
    before = {k: v.clone() for k, v in net.state_dict().items()}
    got = model_proxies(net, images, labels)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # weights restored
    w = net[1].weight.detach()
    bias = net[1].bias.detach()

    def loss_of(weight):
        return F.cross_entropy(images.flatten(1) @ weight.T + bias, labels)

    g = torch.autograd.functional.jacobian(loss_of, w)
    assert got["grad_norm"] == pytest.approx(g.norm().item(), rel=1e-5)
    assert got["snip"] == pytest.approx((g * w).abs().sum().item(), rel=1e-5)
    hessian = torch.autograd.functional.hessian(loss_of, w).reshape(w.numel(), w.numel())
    hg = (hessian @ g.reshape(-1)).reshape(w.shape)
    assert got["grasp"] == pytest.approx((-w * hg).sum().item(), rel=1e-4, abs=1e-7)
    # synflow of one linear layer: R = sum |W| @ ones + |b|, so sum W * dR/dW = sum |W|
    assert got["synflow"] == pytest.approx(w.double().abs().sum().item(), rel=1e-12)
    # a linear net has the same input Jacobian for every image: the correlation matrix is all
    # ones, eigenvalues (4, 0, 0, 0)
    k = 1e-5
    eig = np.array([4.0, 0, 0, 0])
    assert got["jacob_cov"] == pytest.approx(-np.sum(np.log(eig + k) + 1 / (eig + k)), rel=1e-4)


def test_synflow_does_not_use_batch_statistics_and_survives_depth():
    torch.manual_seed(0)
    layers = []
    for _ in range(30):
        layers += [nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()]
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), *layers, nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    got = model_proxies(net, torch.randn(8, 3, 4, 4), torch.arange(8))
    assert np.isfinite(got["synflow"]) and got["synflow"] > 0  # all-ones input, BN in eval mode


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """Three real Blox models at the ci geometry, as two buckets, and one of them alone."""
    if importlib.util.find_spec("blox_train") is None:
        pytest.skip("computing proxies needs blox-train (not installed)")
    root = tmp_path_factory.mktemp("proxies")
    common = dict(recipe="ci", seed=0, batch_size=8, progress=False)
    a = compute_proxies([91124, 0], out=root / "bucket-0.zarr", bucket=(0, 2), **common)
    b = compute_proxies([2000], out=root / "bucket-1.zarr", bucket=(1, 2), **common)
    alone = compute_proxies([0], out=root / "alone.zarr", **common)
    return {"a": a, "b": b, "alone": alone, "root": root}


def test_a_shard_holds_every_proxy_of_every_model(shards):
    frame = open_proxies(shards["a"])
    assert frame.index.tolist() == [0, 91124] and frame.index.name == "model"
    assert list(frame.columns) == list(PROXY_NAMES)
    assert np.isfinite(frame.to_numpy()).all()
    assert (frame[["grad_norm", "snip", "synflow", "params", "macs"]] > 0).all().all()
    geometry = frame.attrs["geometry"]
    assert geometry == {"width": 4, "resolution": 8, "num_classes": 10}
    assert frame.attrs["dataset"] == "digits" and frame.attrs["batch_size"] == 8 and frame.attrs["seed"] == 0
    for model in (0, 91124):
        assert frame.loc[model, "params"] == bs.model_params(model, **geometry)
        assert frame.loc[model, "macs"] == bs.model_macs(model, **geometry)
    group = bs.store.open_store(shards["a"], "proxies")
    assert (group["status"][:] == 1).all() and (group["seconds"][:] > 0).all()


def test_a_models_proxies_do_not_depend_on_its_shard(shards):
    together = open_proxies(shards["a"]).loc[0]
    alone = open_proxies(shards["alone"]).loc[0]
    np.testing.assert_array_equal(together.to_numpy(), alone.to_numpy())


def test_buckets_merge_with_the_shared_merge_and_the_cli(shards, capsys):
    from blox_space.cli import main

    merged = merge_stores([shards["b"], shards["a"]], shards["root"] / "merged.zarr")
    frame = open_proxies(merged)
    assert frame.index.tolist() == [0, 2000, 91124]
    np.testing.assert_array_equal(frame.loc[[0, 91124]].to_numpy(), open_proxies(shards["a"]).to_numpy())
    out = shards["root"] / "cli.zarr"
    assert main(["merge", str(shards["a"]), str(shards["b"]), "--out", str(out)]) == 0
    assert open_proxies(out).equals(frame)
    with pytest.raises(MergeError, match="buckets are missing"):
        merge_stores([shards["a"]], shards["root"] / "part.zarr")
    with pytest.raises(MergeError, match="bucket label"):
        merge_stores([shards["a"], shards["alone"]], shards["root"] / "x.zarr")


def test_without_blox_train_the_error_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "blox_train", None)  # import blox_train -> ImportError
    with pytest.raises(PredictError, match=r"needs blox-train: pip install packages/blox-train"):
        compute_proxies([0], out=tmp_path / "p.zarr", progress=False)
    assert not (tmp_path / "p.zarr").exists()


@needs_blox_train
def test_bad_inputs_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="duplicates"):
        compute_proxies([0, 0], recipe="ci", out=tmp_path / "p.zarr", progress=False)
    with pytest.raises(ConfigError, match="batch_size"):
        compute_proxies([0], recipe="ci", out=tmp_path / "p.zarr", batch_size=1, progress=False)
    with pytest.raises(bs.UnknownNameError):
        compute_proxies([0], recipe="no-such-recipe", out=tmp_path / "p.zarr", progress=False)


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    models = np.random.default_rng(0).choice(91125, size=80, replace=False)
    path = synthetic_proxies_store(tmp_path_factory.mktemp("px") / "p.zarr", models)
    return path, np.sort(models)


def test_one_proxy_ranks_by_its_raw_value(small_store):
    path, models = small_store
    frame = open_proxies(path)
    for name in PROXY_NAMES:
        est = ProxyPredictor(proxies=path, proxy=name).fit(models[:5], np.zeros(5))
        np.testing.assert_array_equal(est.predict(models[::-1]), frame.loc[models[::-1], name].to_numpy())


def test_ridge_on_all_proxies_learns_a_target_made_of_them(small_store):
    path, models = small_store
    frame = open_proxies(path)
    # the features the ridge sees: log1p of the heavy-tailed proxies, jacob_cov as it is
    y = np.log1p(frame.loc[models, "synflow"].to_numpy()) - 2 * frame.loc[models, "jacob_cov"].to_numpy()
    est = ProxyPredictor(proxies=path, proxy=None, alpha=1e-6).fit(models[:40], y[:40])
    np.testing.assert_allclose(est.predict(models[40:]), y[40:], atol=1e-3)
    with pytest.raises(TooFewPointsError, match="at least 8"):
        ProxyPredictor(proxies=path, proxy=None).fit(models[:7], y[:7])


def test_models_without_values_are_clear_errors(small_store, tmp_path):
    path, models = small_store
    outside = int(np.setdiff1d(np.arange(91125), models)[0])
    with pytest.raises(ConfigError, match=f"not in the proxies store.*model {outside}"):
        ProxyPredictor(proxies=path).fit([outside, *models[:3]], np.zeros(4))
    fitted = ProxyPredictor(proxies=path).fit(models[:3], np.zeros(3))
    with pytest.raises(ConfigError, match="not in the proxies store"):
        fitted.predict([outside])
    failed = tmp_path / "failed.zarr"
    bs.store.write_proxies_shard(
        failed, [1, 2], {"synflow": [1.0, 2.0]}, seconds=[0, 0], recipe_id="r", recipe={}, dataset="d",
        seed=0, batch_size=8, geometry={"width": 4, "resolution": 8, "num_classes": 10}, status=[1, 2],
        fail_reason=["", "RuntimeError: boom"],
    )  # fmt: skip
    with pytest.raises(ConfigError, match="model 2 has no synflow value"):
        ProxyPredictor(proxies=str(failed)).fit([1, 2], [0.0, 1.0])
    with pytest.raises(ConfigError, match="needs a proxies store.*compute_proxies"):
        ProxyPredictor().fit([1, 2], [0.0, 1.0])
    with pytest.raises(ConfigError, match="unknown proxy 'flops'"):
        ProxyPredictor(proxies=path, proxy="flops").fit([1, 2], [0.0, 1.0])
