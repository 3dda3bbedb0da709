"""Datasets, the paper split and augmentation, and reproducible loading."""

from __future__ import annotations

import hashlib

import blox_train as bt
import numpy as np
import pytest
import torch
from blox_train.augment import Cutout, ToFloatTensor, eval_transform, train_transform
from blox_train.data import CIFAR100_MEAN, CIFAR100_STD, paper_split
from blox_train.loader import EpochSampler, make_loader
from PIL import Image
from torchvision import transforms as T


def test_paper_split_matches_facts():
    train, val = paper_split()
    assert len(train) == 45_000 and len(val) == 5_000
    assert train[:5].tolist() == [11841, 19602, 45519, 25747, 42642]
    assert val[:5].tolist() == [43726, 16118, 49381, 35715, 14489]
    assert hashlib.md5(str(sorted(val.tolist())).encode()).hexdigest() == "9cb97e8944eff44207e62b1ae9975e80"
    assert len(np.union1d(train, val)) == 50_000


def test_paper_augmentation_is_the_papers_in_order():
    pipeline = train_transform(
        "paper", resolution=32, native_resolution=32, mean=CIFAR100_MEAN, std=CIFAR100_STD
    )
    steps = pipeline.transforms
    assert [type(t) for t in steps] == [
        T.RandAugment,
        T.RandomHorizontalFlip,
        T.RandomCrop,
        ToFloatTensor,
        T.Normalize,
        Cutout,
    ]
    rand_aug, flip, crop, _, norm, cutout = steps
    assert (rand_aug.num_ops, rand_aug.magnitude, rand_aug.num_magnitude_bins) == (2, 14, 31)
    assert rand_aug.interpolation == T.InterpolationMode.NEAREST
    assert flip.p == 0.5
    assert crop.size == (32, 32) and crop.padding == 4 and crop.fill == 0
    assert tuple(norm.mean) == CIFAR100_MEAN and tuple(norm.std) == CIFAR100_STD
    assert cutout.length == 16
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    assert pipeline(image).shape == (3, 32, 32)
    assert [
        type(t)
        for t in eval_transform(
            resolution=32, native_resolution=32, mean=CIFAR100_MEAN, std=CIFAR100_STD
        ).transforms
    ] == [ToFloatTensor, T.Normalize]


def test_unknown_augmentation_lists_known_ones():
    with pytest.raises(bt.ConfigError, match="known augmentations: paper"):
        train_transform("mixup", resolution=8, native_resolution=8, mean=(0, 0, 0), std=(1, 1, 1))


def test_cutout_zeroes_a_clipped_square():
    torch.manual_seed(0)
    holes = [(Cutout(16)(torch.ones(3, 32, 32)) == 0).all(0).sum().item() for _ in range(50)]
    assert max(holes) == 256 and min(holes) >= 64  # full 16x16 inside, at least 8x8 at a corner


def test_to_float_tensor_equals_to_tensor_for_pil():
    array = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    torch.testing.assert_close(ToFloatTensor()(Image.fromarray(array)), T.ToTensor()(Image.fromarray(array)))
    torch.testing.assert_close(ToFloatTensor()(torch.from_numpy(array).permute(2, 0, 1)), T.ToTensor()(array))


def test_digits_split_is_stratified_seeded_and_3_channel():
    splits = bt.load_dataset("digits", resolution=16)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (1077, 360, 360)
    image, label = splits.train[0]
    assert image.shape == (3, 16, 16) and image.dtype == torch.uint8 and 0 <= int(label) < 10
    assert splits.num_classes == 10 and splits.native_resolution == 16
    counts = np.bincount(splits.val.tensors[1].numpy(), minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified
    again = bt.load_dataset("digits", resolution=16)
    assert torch.equal(splits.train.tensors[0], again.train.tensors[0])
    other = bt.load_dataset("digits", resolution=16, split_seed=1)
    assert not torch.equal(splits.val.tensors[1], other.val.tensors[1])


def test_cifar_missing_says_how_to_get_it(tmp_path):
    for name in ("cifar100", "cifar10"):
        with pytest.raises(bt.DatasetNotFoundError, match=r"cs\.toronto\.edu.*--download"):
            bt.load_dataset(name, root=tmp_path)


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(bt.UnknownDatasetError, match="known datasets: cifar10, cifar100, digits"):
        bt.load_dataset("mnist")
    assert bt.list_datasets("cifar*") == ["cifar10", "cifar100"]


def test_imagefolder(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(10):
            Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(
                tmp_path / cls / f"{i}.png"
            )
    splits = bt.load_dataset("imagefolder", root=tmp_path, resolution=8)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (16, 2, 2)
    assert splits.num_classes == 2
    pipeline = eval_transform(
        resolution=8, native_resolution=splits.native_resolution, mean=splits.mean, std=splits.std
    )
    assert pipeline(splits.train[0][0]).shape == (3, 8, 8)
    with pytest.raises(bt.DatasetNotFoundError):
        bt.load_dataset("imagefolder", root=tmp_path / "missing")


def test_sampler_depends_on_seed_and_epoch_only():
    a = list(EpochSampler(20, seed=0, epoch=1, shuffle=True))
    assert a == list(EpochSampler(20, seed=0, epoch=1, shuffle=True))
    assert a != list(EpochSampler(20, seed=0, epoch=2, shuffle=True))
    assert sorted(i for i, _ in a) == list(range(20))
    assert [i for i, _ in EpochSampler(5, seed=0, epoch=1, shuffle=False)] == list(range(5))


def test_batches_do_not_depend_on_workers():
    splits = bt.load_dataset("synthetic", resolution=8)
    pipeline = train_transform(
        "crop-flip", resolution=8, native_resolution=8, mean=splits.mean, std=splits.std
    )
    kwargs = dict(batch_size=32, seed=0, epoch=3, shuffle=True)
    serial = list(make_loader(splits.train, pipeline, num_workers=0, **kwargs))
    parallel = list(make_loader(splits.train, pipeline, num_workers=2, **kwargs))
    assert len(serial) == len(parallel)
    for (xa, ya), (xb, yb) in zip(serial, parallel, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
