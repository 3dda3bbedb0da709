"""Latency measurement (issue 5) on this machine, with the full-width network at batch 1:

* spread: one model measured repeatedly with the quick protocol -- IQR / median of the
  repeated results, and the median within-measurement spread (IQR / median of run means);
* the block table with the default quick protocol: wall-clock seconds (target < 180 s);
* the additive predictor against end-to-end latency over ``sample:200:0`` (quick protocol):
  Spearman rho, Kendall tau and MAPE (targets: MAPE <= 10 %, rho >= 0.9).

Nothing here asserts a threshold: the numbers depend on the machine and on what else runs on
it, so each is recorded (with the load average before and after) for the notes.
``BLOX_HW_BENCH_THREADS`` sets the CPU thread count (default: the cores available);
``BLOX_HW_BENCH_MODELS`` the validation sample (default ``sample:200:0``);
``BLOX_HW_BENCH_CLOCK=thread`` times the measuring thread's CPU time (with threads 1), which
stays stable while other jobs share the CPU.
"""

from __future__ import annotations

import json
import os
import time

import blox_hw as bh
import numpy as np
import pytest
from blox_hw._models import parse_models

THREADS = int(os.environ.get("BLOX_HW_BENCH_THREADS", "0")) or None
MODELS = os.environ.get("BLOX_HW_BENCH_MODELS", "sample:200:0")
CLOCK = os.environ.get("BLOX_HW_BENCH_CLOCK", "wall")
PROTOCOL = bh.get_protocol("quick", clock=CLOCK)
REPEATS = 10


def _load() -> float:
    return round(os.getloadavg()[0], 2)


@pytest.fixture(scope="module")
def device() -> bh.Device:
    return bh.get_device("cpu", threads=THREADS)


@pytest.fixture(scope="module")
def lut_run(device, tmp_path_factory) -> tuple[bh.LatencyTable, float, float, float]:
    load = _load()
    start = time.perf_counter()
    table = bh.build_lut(device=device, protocol=PROTOCOL, progress=True)
    seconds = time.perf_counter() - start
    bh.write_lut(tmp_path_factory.mktemp("hw") / "lut.zarr", table)
    return table, seconds, load, _load()


def test_block_table_time(lut_run, device, record):
    table, seconds, load_before, load_after = lut_run
    record(
        "hw_block_table_quick", seconds=round(seconds, 1), device=device.name, threads=device.threads, clock=CLOCK,
        entries=int(np.isfinite(table.block_latency_s).sum()), fixed_ms=(table.fixed_latency_s * 1e3).round(4).tolist(),
        median_block_spread=round(float(np.nanmedian(table.block_spread)), 4),
        load_before=load_before, load_after=load_after,
    )  # fmt: skip


@pytest.mark.parametrize("arch", [0, 91124])
def test_spread_of_repeated_measurements(arch, device, record):
    load = _load()
    results = [bh.measure_latency(arch, device=device, protocol=PROTOCOL, seed=k) for k in range(REPEATS)]
    lat = np.array([m.latency_s for m in results])
    q25, q50, q75 = np.percentile(lat, [25, 50, 75])
    record(
        "hw_spread_quick", model=arch, device=device.name, threads=device.threads, clock=CLOCK, repeats=REPEATS,
        median_ms=round(q50 * 1e3, 4), iqr_over_median=round((q75 - q25) / q50, 4),
        max_over_min=round(lat.max() / lat.min(), 4),
        median_within_spread=round(float(np.median([m.spread for m in results])), 4),
        load_before=load, load_after=_load(),
    )  # fmt: skip


def test_additive_predictor_accuracy(lut_run, device, record):
    table = lut_run[0]
    models = parse_models(MODELS)
    load = _load()
    start = time.perf_counter()
    v = bh.validate_lut(table, models, device=device, protocol=PROTOCOL, progress=True)
    out = os.environ.get("BLOX_HW_BENCH_VALIDATION_JSON")
    if out:
        with open(out, "w") as fh:
            json.dump(v.to_dict(), fh)
    record(
        "hw_validate_quick", models=MODELS, n=v.n, device=device.name, threads=device.threads, clock=CLOCK,
        spearman=round(v.spearman, 4), kendall=round(v.kendall, 4), mape=round(v.mape, 2),
        mean_signed_pct=round(float(np.mean((v.predicted_s - v.measured_s) / v.measured_s) * 100), 2),
        median_measured_ms=round(float(np.median(v.measured_s)) * 1e3, 3),
        seconds=round(time.perf_counter() - start, 1), load_before=load, load_after=_load(),
    )  # fmt: skip
