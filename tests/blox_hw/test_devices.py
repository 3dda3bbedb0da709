from __future__ import annotations

import re

import blox_hw as bh
import pytest
import torch
from blox_hw.devices import slugify
from torch import nn


@pytest.mark.parametrize("kind", bh.list_devices())
def test_every_device_names_itself_and_runs_or_says_why(kind, tiny_protocol):
    device = bh.get_device(kind, threads=1)
    assert device.kind == kind
    assert re.fullmatch(rf"{kind}-[a-z0-9-]+-fp32", device.name)
    reason = device.unavailable_reason()
    if reason is not None:
        with pytest.raises(bh.DeviceUnavailableError, match=kind):
            device.check_available()
        pytest.skip(f"device {kind} not available here: {reason}")
    module = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
    m = bh.measure_module(module, (3, 8, 8), device=device, protocol=tiny_protocol)
    assert m.timings_s.shape == (2, 2) and m.latency_s > 0
    env = device.environment()
    assert env["threads"] == 1 and env["torch_version"] == torch.__version__ and env["cpu_model"]


def test_slugify():
    assert slugify("Intel(R) Core(TM) i7-7820X CPU @ 3.60GHz") == "intel-core-i7-7820x"
    assert slugify("AMD EPYC 7B13 64-Core Processor") == "amd-epyc-7b13"
    assert slugify("NVIDIA GeForce GTX 1080 Ti") == "nvidia-geforce-gtx-1080-ti"
    assert slugify("(R)") == "unknown"


def test_name_override_precision_and_index():
    assert bh.get_device("cpu", name="my-laptop-fp32").name == "my-laptop-fp32"
    assert bh.get_device("cpu", precision="bf16").name.endswith("-bf16")
    assert bh.get_device("cuda:1").index == 1
    with pytest.raises(bh.DeviceSettingError, match="fp32, bf16"):
        bh.get_device("cpu", precision="fp16")
    with pytest.raises(bh.DeviceSettingError, match="threads"):
        bh.get_device("cpu", threads=0)
    with pytest.raises(bh.UnknownDeviceError, match="did you mean cuda"):
        bh.get_device("cdua")
    with pytest.raises(bh.UnknownDeviceError, match="index"):
        bh.get_device("cuda:x")


def test_session_pins_and_restores_threads():
    before = torch.get_num_threads()
    device = bh.get_device("cpu", threads=2)
    with device.session():
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before


def test_bf16_cpu_runs(tiny_protocol):
    m = bh.measure_module(
        nn.Conv2d(3, 4, 3),
        (3, 8, 8),
        device=bh.get_device("cpu", precision="bf16", threads=1),
        protocol=tiny_protocol,
    )
    assert m.latency_s > 0


def test_thread_clock_needs_one_cpu_thread(tiny_protocol):
    protocol = tiny_protocol.replace(clock="thread")
    m = bh.measure_module(
        nn.Conv2d(3, 4, 3), (3, 8, 8), device=bh.get_device("cpu", threads=1), protocol=protocol
    )
    assert m.latency_s > 0
    with pytest.raises(bh.DeviceSettingError, match="threads=1"):
        bh.measure_module(
            nn.Conv2d(3, 4, 3), (3, 8, 8), device=bh.get_device("cpu", threads=2), protocol=protocol
        )
    with pytest.raises(bh.DeviceSettingError, match="CUDA events"):
        bh.get_device("cuda").check_clock("thread")
