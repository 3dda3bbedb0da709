from __future__ import annotations

import blox_hw as bh
import numpy as np
import pytest
import torch
from blox_hw._models import parse_models
from blox_space import BloxError
from blox_space.schema import STATUS_DONE, STATUS_FAILED
from torch import nn

from .conftest import TINY


class _Probe(nn.Module):
    """Records the mode it was called in and the inputs it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.seen: list[tuple[bool, bool, tuple[int, ...], float]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((self.training, torch.is_grad_enabled(), tuple(x.shape), float(x.sum())))
        return self.conv(x)


def test_measure_module_follows_the_protocol(cpu):
    protocol = bh.get_protocol("quick", batch_size=3, warmup_runs=2, num_runs=4, num_reps=3, pause_s=0.0)
    probe = _Probe().train()
    m = bh.measure_module(probe, (3, 5, 5), device=cpu, protocol=protocol, seed=1)
    assert m.timings_s.shape == (4, 3) and np.all(m.timings_s > 0)
    assert len(probe.seen) == protocol.num_calls
    assert all(not training and not grad and shape == (3, 3, 5, 5) for training, grad, shape, _ in probe.seen)
    timed = [s for *_, s in probe.seen[2:]]
    assert len(set(timed[::3])) == 4  # a fresh random input per run ...
    assert timed[0] == timed[1] == timed[2]  # ... repeated within the run
    again = _Probe()
    bh.measure_module(again, (3, 5, 5), device=cpu, protocol=protocol, seed=1)
    assert [s for *_, s in again.seen] == [s for *_, s in probe.seen]  # seeded inputs


def test_measure_latency_leaves_global_rng_alone(cpu, tiny_protocol):
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    m = bh.measure_latency("conv>conv | bconv | mbconv", device=cpu, protocol=tiny_protocol, **TINY)
    assert torch.rand(1) == expected
    assert m.latency_s > 0 and np.isfinite(m.spread)


def test_measure_models_marks_failures(cpu, tiny_protocol, monkeypatch):
    import blox_hw.measure as measure

    real = measure.build_seeded

    def flaky(arch, **kw):
        if arch == 5:
            raise RuntimeError("out of memory")
        return real(arch, **kw)

    monkeypatch.setattr(measure, "build_seeded", flaky)
    res = bh.measure_models([7, 5, 91124], device=cpu, protocol=tiny_protocol, **TINY)
    assert res.models.tolist() == [7, 5, 91124]
    assert res.status.tolist() == [STATUS_DONE, STATUS_FAILED, STATUS_DONE]
    assert np.isnan(res.latency_s[1]) and np.all(np.isfinite(res.latency_s[[0, 2]]))
    assert res.device == cpu.name and res.attrs["protocol"]["num_runs"] == 2
    assert res.attrs["environment"]["threads"] == 1 and res.attrs["width"] == TINY["width"]


def test_parse_models():
    assert parse_models("all").shape == (91125,)
    assert parse_models("3:6").tolist() == [3, 4, 5]
    assert parse_models("9,2,2").tolist() == [2, 9]
    sample = parse_models("sample:200:0")
    assert sample.shape == (200,) and np.all(np.diff(sample) > 0)
    assert np.array_equal(sample, parse_models("sample:200:0"))
    assert not np.array_equal(sample, parse_models("sample:200:1"))
    for bad in ("", "x", "5:2", "0:91126", "sample:0:1", "sample:3", "-1", "91125"):
        with pytest.raises(BloxError):
            parse_models(bad)


def test_measure_modules_interleaves_runs_across_modules():
    calls = []

    class Recorder(torch.nn.Module):
        def __init__(self, name):
            super().__init__()
            self.name = name

        def forward(self, x):
            calls.append(self.name)
            return x

    protocol = bh.get_protocol("quick", warmup_runs=1, num_runs=3, num_reps=2, pause_s=0)
    results = bh.measure_modules([(Recorder("a"), (3, 4, 4)), (Recorder("b"), (2, 2))], protocol=protocol)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] * 3  # warm-up, then a round robin per run
    assert len(results) == 2 and all(r.timings_s.shape == (3, 2) and r.latency_s > 0 for r in results)


def test_measure_modules_marks_a_failing_module_and_goes_on():
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("out of memory")

    protocol = bh.get_protocol("quick", warmup_runs=0, num_runs=2, num_reps=1, pause_s=0)
    ok, broken = bh.measure_modules([(torch.nn.Identity(), (1,)), (Broken(), (1,))], protocol=protocol)
    assert ok is not None and broken is None
