"""Benchmark store targets (issue 3) on a generated full-size store (91,125 models x 200 epochs):
open + 91,125 scalar ``val_acc`` lookups <= 1 s, a vectorised lookup of all models <= 50 ms,
resident memory after opening <= 200 MB; plus the time to import a full-size legacy ``.csv`` set."""

from __future__ import annotations

import subprocess
import sys
import time

import blox_space as bs
import numpy as np
import pytest
from blox_space.schema import BENCHMARK, STATUS_DONE
from blox_space.store import best_epochs, consolidate, create_store

EPOCHS = 200
N = bs.NUM_MODELS


@pytest.fixture(scope="module")
def full_store(tmp_path_factory):
    return generate_full_store(tmp_path_factory.mktemp("full") / "bench.zarr")


def generate_full_store(path):
    """A complete 1-seed, 200-epoch benchmark store with realistic value grids (accuracies are
    multiples of 100/N_examples, losses 6-decimal), written the way the merge writes."""
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    group = create_store(
        path,
        BENCHMARK,
        sizes={"model": N, "seed": 1, "epoch": EPOCHS},
        coords={"model": np.arange(N), "seed": np.array([0]), "epoch": np.arange(1, EPOCHS + 1)},
        attrs={
            "recipe_id": "synthetic",
            "recipe": {"name": "synthetic"},
            "dataset": "cifar100",
            "epochs": EPOCHS,
            "is_partial": False,
            "environments": [{"device": "synthetic"}],
        },
    )
    ramp = np.linspace(0.2, 1.0, EPOCHS)
    grids = {"train_acc": 45000, "train_top5": 45000, "val_acc": 5000, "val_top5": 5000}
    curves = {}
    for name, examples in grids.items():
        final = rng.integers(examples // 4, examples * 3 // 4, (N, 1, 1))
        correct = np.clip(final * ramp + rng.integers(-50, 50, (N, 1, EPOCHS)), 0, examples)
        curves[name] = (np.round(correct) * (100 / examples)).round(3).astype(np.float32)
    for name in ("train_loss", "val_loss"):
        curves[name] = (
            (4.6 * (1.05 - ramp) + rng.uniform(0, 0.05, (N, 1, EPOCHS))).round(6).astype(np.float32)
        )
    curves["epoch_seconds"] = np.full((N, 1, EPOCHS), np.nan, np.float32)  # like the release: totals only
    for name, values in curves.items():
        group[name][:] = values
    best = best_epochs(curves["val_acc"], curves["val_loss"])
    group["best_epoch"][:] = best
    group["best_val_acc"][:] = np.take_along_axis(curves["val_acc"], (best - 1)[..., None], -1)[..., 0]
    group["test_acc"][:] = (rng.integers(2000, 8000, (N, 1)) / 100).astype(np.float32)
    group["test_top5"][:] = (rng.integers(5000, 9500, (N, 1)) / 100).astype(np.float32)
    group["test_loss"][:] = rng.uniform(1, 3, (N, 1)).round(6).astype(np.float32)
    group["train_seconds"][:] = rng.integers(3000, 20000, (N, 1)).astype(np.float64)
    group["status"][:] = STATUS_DONE
    group["env_id"][:] = 0
    costs = bs.space_costs()
    group["params"][:] = costs["params"]
    group["macs"][:] = costs["macs"]
    consolidate(path)
    print(f"generated full-size store in {time.perf_counter() - start:.1f} s")
    return path


def test_open_and_scalar_lookups(full_store, record):
    start = time.perf_counter()
    bench = bs.open_benchmark(full_store)
    opened = time.perf_counter() - start
    values = [bench.val_acc(i) for i in range(N)]
    total = time.perf_counter() - start
    record("benchmark_open", seconds=round(opened, 4), target_s=1.0)
    record("benchmark_open_plus_scalar_val_acc", seconds=round(total, 3), target_s=1.0, lookups=N)
    assert len(values) == N and opened < 1.0 and total <= 1.0

    start = time.perf_counter()
    bench = bs.open_benchmark(full_store)
    for i in range(N):
        bench.val_acc(i, epoch=100)
    epoch_total = time.perf_counter() - start
    # reported, not asserted: the first touch of each model chunk decompresses the whole
    # 200-epoch curve array (73 MB), which alone takes 0.1-0.4 s on a busy 2-core machine
    record(
        "benchmark_open_plus_scalar_val_acc_epoch100", seconds=round(epoch_total, 3), target_s=1.0, lookups=N
    )


@pytest.mark.parametrize(
    ("label", "kwargs"),
    [("default", {}), ("epoch100_best", {"epoch": 100}), ("epoch100_at", {"epoch": 100, "best": False})],
)
def test_vectorised_lookup_of_all_models(full_store, record, label, kwargs):
    models = np.arange(N)
    bench = bs.open_benchmark(full_store)
    start = time.perf_counter()
    values = bench.val_acc(models, **kwargs)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    bench.val_acc(models, **kwargs)
    warm = time.perf_counter() - start
    assert values.shape == (N,) and not np.isnan(values).any()
    record(
        f"benchmark_vectorised_val_acc_{label}",
        cold_ms=round(cold * 1e3, 1),
        warm_ms=round(warm * 1e3, 1),
        target_ms=50,
    )
    # the default (best over all epochs) reads the (model, seed) summary: cold within target;
    # an epoch-limited query reads the curves once (cold) and is within target afterwards
    assert (cold if label == "default" else warm) <= 0.050


def test_resident_memory_after_open(full_store, record):
    code = (
        "import blox_space as bs, sys\n"
        "def rss():\n"
        "    return int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0]) / 1024\n"
        "before = rss()\n"
        f"bench = bs.open_benchmark({str(full_store)!r})\n"
        "after_open = rss()\n"
        "bench.val_acc(0); bench.test_acc(1)\n"
        "print(before, after_open, rss())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    before, after_open, after_query = (float(v) for v in out)
    record(
        "benchmark_rss_after_open",
        import_mb=round(before, 1),
        open_mb=round(after_open, 1),
        after_two_queries_mb=round(after_query, 1),
        target_mb=200,
    )
    assert after_open <= 200


def test_legacy_csv_import_full_size(full_store, tmp_path, record):
    start = time.perf_counter()
    bs.export_csv(full_store, tmp_path / "release")
    exported = time.perf_counter() - start
    size_mb = sum(p.stat().st_size for p in (tmp_path / "release").iterdir()) / 2**20
    start = time.perf_counter()
    out = bs.import_legacy(tmp_path / "release", tmp_path / "imported.zarr", preferred_ext="csv")
    imported = time.perf_counter() - start
    record("legacy_csv_export_full_size", seconds=round(exported, 1), mb=round(size_mb, 1))
    record("legacy_csv_import_full_size", seconds=round(imported, 1), mb=round(size_mb, 1), models=N)
    bench = bs.open_benchmark(out)
    ref = bs.open_benchmark(full_store)
    sample = np.arange(0, N, 97)
    np.testing.assert_array_equal(
        bench.val_acc(sample, epoch=50, best=False), ref.val_acc(sample, epoch=50, best=False)
    )
    np.testing.assert_array_equal(bench.test_acc(sample), ref.test_acc(sample))


def _blox_file(path, header_text, columns):
    """Write a .blox file from columns [(name, type, (N, w) uint8 bytes)] (facts §5.3)."""
    import zlib

    import yaml

    n = columns[0][2].shape[0]
    table = np.concatenate([block for _, _, block in columns], axis=1)
    body = n.to_bytes(4, "little") + table.tobytes()
    header = {**header_text, "column_types": {name: t for name, t, _ in columns}}
    text = yaml.dump(header, explicit_start=True, sort_keys=False) + "---\n"
    raw = (8 * len(body)).to_bytes(8, "little") + body
    path.write_bytes(text.encode() + zlib.compress(raw))


def _packed(values, bits, with_length):
    """(N, L) non-negative ints -> (N, bytes) LSB-first bit-packed rows, with a u8 length."""
    n, length = values.shape
    bitmat = ((values[..., None].astype(np.uint32) >> np.arange(bits, dtype=np.uint32)) & 1).astype(np.uint8)
    bitmat = bitmat.reshape(n, length * bits)
    pad = (-bitmat.shape[1]) % 8
    packed = np.packbits(np.pad(bitmat, ((0, 0), (0, pad))), axis=1, bitorder="little")
    return np.concatenate([np.full((n, 1), length, np.uint8), packed], axis=1) if with_length else packed


def test_legacy_blox_import_full_size(full_store, tmp_path, record):
    import zarr

    group = zarr.open_group(str(full_store), mode="r")
    hashes = bs.all_hashes()
    hash_bytes = np.frombuffer(bytes.fromhex("".join(hashes.tolist())), np.uint8).reshape(N, 16)[:, ::-1]
    folder = tmp_path / "blox"
    folder.mkdir()
    stage = [1, 4]
    base_header = {
        "version": 1,
        "search_space": {"shape": [stage] * 3, "nodes": 2, "stages": 3, "ops": ["conv", "mbconv", "bconv"]},
        "dataset_type": "training",
    }

    def quant(name, column, examples):
        # facts §5.3 quantise the raw accuracy, round(acc * N) // 100; the store holds the
        # 3-decimal rounded value, from which the count is recovered by rounding to nearest
        correct = np.round(group[name][:, 0].astype(np.float64) * examples / 100)
        correct = correct.astype(np.int64)
        lo, hi = int(correct.min()), int(correct.max())
        bits = max(1, (hi - lo).bit_length())
        if correct.ndim == 1:
            bits = -(-bits // 8) * 8
            return (column, f"b_{lo}_{hi}_{bits}", _packed(correct[:, None] - lo, bits, False))
        return (column, f"list[b_{lo}_{hi}_{bits}]", _packed(correct - lo, bits, True))

    def floats(name, column):
        v = np.round(group[name][:, 0].astype(np.float64) * 1e6).astype(np.int64)
        b = np.stack([(v >> 8 * k) & 0xFF for k in range(3)], axis=-1).astype(np.uint8)
        if v.ndim == 1:
            return (column, "float", b)
        return (
            column,
            "list[float]",
            np.concatenate([np.full((N, 1), v.shape[1], np.uint8), b.reshape(N, -1)], 1),
        )

    seconds = group["train_seconds"][:, 0].astype(np.uint32).view(np.uint8).reshape(N, 4)
    extras = {"seed": 0, "epochs": EPOCHS, "dataset": "cifar100"}
    start = time.perf_counter()
    _blox_file(
        folder / "blox-base-0.blox",
        {
            **base_header,
            "columns": ["model_hash", "val_top1", "test_top1", "train_time_s"],
            **extras,
            "part": "base",
            "format": "custom",
        },
        [
            ("model_hash", "hash", hash_bytes),
            quant("val_acc", "val_top1", 5000),
            quant("test_acc", "test_top1", 10000),
            ("train_time_s", "int", seconds),
        ],
    )
    _blox_file(
        folder / "blox-ext-0.blox",
        {
            **base_header,
            "columns": [
                "model_hash",
                "train_top1",
                "train_loss",
                "train_top5",
                "val_loss",
                "val_top5",
                "test_loss",
                "test_top5",
            ],
            **extras,
            "part": "ext",
            "format": "custom",
        },
        [
            ("model_hash", "hash", hash_bytes),
            quant("train_acc", "train_top1", 45000),
            floats("train_loss", "train_loss"),
            quant("train_top5", "train_top5", 45000),
            floats("val_loss", "val_loss"),
            quant("val_top5", "val_top5", 5000),
            floats("test_loss", "test_loss"),
            quant("test_top5", "test_top5", 10000),
        ],
    )
    written = time.perf_counter() - start
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    start = time.perf_counter()
    out = bs.import_legacy(folder, tmp_path / "imported.zarr")
    imported = time.perf_counter() - start
    record(
        "legacy_blox_import_full_size",
        seconds=round(imported, 1),
        mb=round(size_mb, 1),
        models=N,
        write_seconds=round(written, 1),
    )
    bench, ref = bs.open_benchmark(out), bs.open_benchmark(full_store)
    sample = np.arange(0, N, 97)
    for metric in ("val_acc", "train_acc", "train_loss", "val_top5"):
        np.testing.assert_array_equal(
            bench.query(sample, metric, epoch=50, best=False), ref.query(sample, metric, epoch=50, best=False)
        )
    np.testing.assert_array_equal(bench.test_acc(sample), ref.test_acc(sample))
