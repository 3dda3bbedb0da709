"""The device-resident fast path: batched augmentation, determinism, CIFAR-style inputs."""

from __future__ import annotations

import blox_train as bt
import numpy as np
import torch
from blox_train.resident import BATCH_AUGMENTATIONS, resident_batches, to_resident
from torch.utils.data import Subset

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def split(n: int = 20, side: int = 8):
    images = torch.arange(n * 3 * side * side, dtype=torch.int64).reshape(n, 3, side, side) % 251
    return to_resident(
        torch.utils.data.TensorDataset(images.to(torch.uint8), torch.arange(n) % 10),
        resolution=side,
        device=torch.device("cpu"),
    )


def batches(s, augment, *, epoch=1, shuffle=True, batch_size=8):
    return list(
        resident_batches(
            s,
            batch_size=batch_size,
            seed=0,
            epoch=epoch,
            shuffle=shuffle,
            augment=augment,
            mean=MEAN,
            std=STD,
        )
    )


def test_no_augmentation_is_normalisation_in_order():
    s = split()
    (x, y), *_ = batches(s, None, shuffle=False)
    torch.testing.assert_close(x, (s.images[:8].float() / 255 - 0.5) / 0.25)
    assert y.tolist() == list(range(8))
    assert sum(len(b[1]) for b in batches(s, None)) == 20


def test_batches_depend_on_seed_and_epoch_only():
    s = split()
    for augment in BATCH_AUGMENTATIONS:
        a, b = batches(s, augment), batches(s, augment)
        assert all(
            torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b, strict=True)
        )
    big = split(side=32)  # at 8x8 a 16-pixel Cutout blanks every image
    first, second = (
        batches(big, "batch-flip-crop-cutout", epoch=1),
        batches(big, "batch-flip-crop-cutout", epoch=2),
    )
    assert not torch.equal(first[0][0], second[0][0])


def test_crop_is_a_shifted_window_of_the_zero_padded_image():
    s = split(n=1, side=16)
    ((x, _),) = batches(s, "batch-crop", shuffle=False, batch_size=1)
    raw = (x[0] * 0.25 + 0.5) * 255  # back to pixel values; padding pixels are 0
    padded = torch.nn.functional.pad(s.images[0].float(), (2, 2, 2, 2))
    windows = [padded[:, i : i + 16, j : j + 16] for i in range(5) for j in range(5)]
    assert any(torch.allclose(raw, w, atol=1e-3) for w in windows)


def test_cutout_zeroes_at_most_a_16_square():
    s = split(n=64, side=32)
    x = torch.cat([b[0] for b in batches(s, "batch-flip-crop-cutout")])
    zeros = (x == 0).all(1).flatten(1).sum(1)
    assert zeros.max() <= 256 and zeros.min() >= 64


def test_cifar_like_subset_and_resize():
    class FakeCifar(torch.utils.data.Dataset):
        data = np.random.default_rng(0).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
        targets = list(range(10))

    s = to_resident(Subset(FakeCifar(), [3, 1]), resolution=16, device=torch.device("cpu"))
    assert s.images.shape == (2, 3, 16, 16) and s.images.dtype == torch.uint8 and s.labels.tolist() == [3, 1]


def test_training_on_the_fast_path_is_deterministic():
    data = bt.load_dataset("digits", resolution=8)
    recipe = bt.get_recipe("ci", {"augment": "batch-crop", "epochs": 2})
    a, b = bt.train(2, recipe, data=data), bt.train(2, recipe, data=data)
    assert a.is_done and np.array_equal(a.metrics["train_loss"], b.metrics["train_loss"]) and a.test == b.test


def test_paper_gpu_is_a_separate_recipe():
    paper, fast = bt.get_recipe("paper"), bt.get_recipe("paper-gpu")
    assert fast.id != paper.id and fast.augment in BATCH_AUGMENTATIONS
    assert (fast.precision, fast.channels_last) == ("bf16", True)
    assert (fast.lr, fast.epochs, fast.batch_size, fast.dataset) == (
        paper.lr,
        paper.epochs,
        paper.batch_size,
        paper.dataset,
    )
