"""Where a module runs and how it is timed: the device registry.

A device is a registered *kind* (``cpu``, ``cuda``, and the optional CPU runtimes
``torchscript`` and ``onnxruntime``) at one *precision*. Its name is
``{kind}-{model}-{precision}``, derived from the hardware (``cpu-amd-epyc-fp32``,
``cuda-nvidia-h100-80gb-hbm3-bf16``, ``onnxruntime-amd-epyc-fp32``) unless given explicitly.

* CPU kinds pin the intra-op thread count (default: the cores this process may use) while
  measuring and record it; wall-clock timing with :func:`time.perf_counter_ns`, or the
  measuring thread's CPU time (:func:`time.thread_time_ns`) under a ``clock="thread"``
  protocol with one thread.
* ``cuda`` times every repetition with CUDA events and synchronises at the end of each run.
* ``torchscript`` traces and freezes the module; ``onnxruntime`` exports it to ONNX and runs
  an ``InferenceSession``. Both raise :class:`DeviceUnavailableError` when absent, so callers
  can skip them with a clear message.

Example:
    >>> dev = get_device("cpu")
    >>> dev.name.startswith("cpu-") and dev.name.endswith("-fp32")
    True
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import re
import time
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from blox_space import Registry
from blox_space.machine import available_cpus

from .errors import DeviceSettingError, DeviceUnavailableError, UnknownDeviceError

if TYPE_CHECKING:  # torch is imported where a device measures, so listing devices stays light
    import torch
    from torch import nn

__all__ = [
    "Device",
    "CPUDevice",
    "CUDADevice",
    "TorchScriptDevice",
    "ONNXRuntimeDevice",
    "register_device",
    "get_device",
    "list_devices",
    "cpu_model_name",
    "default_threads",
    "slugify",
]

#: torch dtype attribute of each precision.
_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def slugify(text: str) -> str:
    """Lower-case hardware name with vendor marks, clock and filler words removed, dashes between.

    Example:
        >>> slugify("Intel(R) Core(TM) i7-7820X CPU @ 3.60GHz")
        'intel-core-i7-7820x'
    """
    text = re.sub(r"\((r|tm|c)\)", " ", text, flags=re.IGNORECASE)
    text = re.sub(r"@.*$", " ", text)
    text = re.sub(r"\b(cpu|processor|\d+-core)\b", " ", text, flags=re.IGNORECASE)
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "unknown"


def cpu_model_name() -> str:
    """The CPU model as the operating system reports it (``/proc/cpuinfo`` on Linux)."""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def default_threads() -> int:
    """Cores this process may run on (its CPU affinity), the default and largest thread count."""
    return available_cpus()


class Device:
    """A place to run and time modules; subclasses override the hooks below.

    Args:
        precision: one of the kind's :attr:`precisions` (``fp32`` by default).
        name: the device name; derived as ``{kind}-{model}-{precision}`` when None.
        threads: CPU intra-op threads while measuring (default :func:`default_threads`).
        index: accelerator index (``cuda:1``); ignored by CPU kinds.

    Raises:
        DeviceSettingError: a precision the kind does not run.
    """

    kind: str = ""
    precisions: tuple[str, ...] = ("fp32",)
    torch_device: str = "cpu"

    def __init__(
        self, *, precision: str = "fp32", name: str | None = None, threads: int | None = None, index: int = 0
    ) -> None:
        if precision not in self.precisions:
            raise DeviceSettingError(
                f"device {self.kind} runs precisions {', '.join(self.precisions)}, not {precision!r}"
            )
        cpus = default_threads()
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= cpus
        ):
            raise DeviceSettingError(
                f"threads must be an integer in 1..{cpus} (the CPUs this process may use), got {threads!r}"
            )
        if name is not None and not str(name).strip():
            raise DeviceSettingError(
                "a device name must not be empty; leave it out to derive {kind}-{model}-{precision}"
            )
        self.precision = precision
        self.threads = threads if threads is not None else default_threads()
        self.index = index
        self._name = name

    # -- identity ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        """``{kind}-{model}-{precision}`` unless overridden at construction."""
        return self._name or f"{self.kind}-{self.model_slug()}-{self.precision}"

    def model_slug(self) -> str:
        """The hardware model part of the name."""
        return slugify(cpu_model_name())

    @property
    def dtype(self) -> torch.dtype:
        import torch

        return getattr(torch, _DTYPES[self.precision])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, threads={self.threads})"

    # -- availability -----------------------------------------------------------------
    def unavailable_reason(self) -> str | None:
        """Why this device cannot run here, or None when it can."""
        return None

    def check_available(self) -> None:
        """Raise :class:`DeviceUnavailableError` (with the reason) when the device is absent."""
        reason = self.unavailable_reason()
        if reason is not None:
            raise DeviceUnavailableError(f"device {self.kind} is not available here: {reason}")

    # -- measuring hooks ----------------------------------------------------------------
    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Pin the CPU thread count while measuring; restore it afterwards."""
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    def prepare(self, module: nn.Module, example: torch.Tensor) -> Callable[[Any], Any]:
        """The callable to time: ``module`` in eval mode on this device at this precision."""
        return module.eval().to(device=self.torch_device, dtype=self.dtype)

    def make_input(self, shape: tuple[int, ...], generator: torch.Generator) -> Any:
        """A random input batch, placed and cast outside the timed region."""
        import torch

        return torch.randn(shape, generator=generator).to(device=self.torch_device, dtype=self.dtype)

    def synchronize(self) -> None:
        """Wait for queued work (no-op on CPU)."""

    def check_clock(self, clock: str) -> None:
        """Raise :class:`DeviceSettingError` for a clock this device cannot time with."""
        if clock == "thread" and self.threads != 1:
            raise DeviceSettingError(
                f"clock 'thread' times one thread's CPU time; run device {self.kind} with threads=1 "
                f"(got {self.threads}) or use clock 'wall'"
            )

    def time_run(self, fn: Callable[[Any], Any], x: Any, num_reps: int, *, clock: str = "wall") -> np.ndarray:
        """Seconds of each of ``num_reps`` calls ``fn(x)`` on the protocol's clock."""
        out = np.empty(num_reps, dtype=np.float64)
        clock_ns = time.thread_time_ns if clock == "thread" else time.perf_counter_ns
        for rep in range(num_reps):
            start = clock_ns()
            fn(x)
            out[rep] = clock_ns() - start
        return out * 1e-9

    def environment(self) -> dict[str, Any]:
        """Facts about the machine and software that the numbers depend on."""
        import torch

        return {
            "cpu_model": cpu_model_name(),
            "cpu_count": os.cpu_count(),
            "available_cores": default_threads(),
            "threads": self.threads,
            "torch_version": torch.__version__,
            "torch_cpu_capability": _cpu_capability(),
            "numpy_version": np.__version__,
            "python_version": platform.python_version(),
            "platform": platform.platform(),
        }


def _cpu_capability() -> str:
    import torch

    with contextlib.suppress(Exception):
        return str(torch.backends.cpu.get_cpu_capability())
    return "unknown"


_DEVICES: Registry[Device] = Registry("device", UnknownDeviceError)


def register_device(name: str) -> Callable[[type[Device]], type[Device]]:
    """Register a :class:`Device` subclass under ``name`` (its ``kind``)."""

    def decorator(cls: type[Device]) -> type[Device]:
        cls.kind = name
        _DEVICES.register(name)(cls)
        return cls

    return decorator


def get_device(
    device: str | Device, *, precision: str | None = None, name: str | None = None, threads: int | None = None
) -> Device:
    """A device by kind, optionally with an accelerator index (``cuda:1``).

    Args:
        device: registry name (see :func:`list_devices`), ``kind:index``, or a :class:`Device`
            (returned as is).
        precision: ``fp32`` (default), ``fp16`` or ``bf16`` where the kind supports it.
        name: override the derived ``{kind}-{model}-{precision}`` name.
        threads: CPU intra-op threads while measuring.

    Raises:
        UnknownDeviceError: not a registered kind (the message lists the known ones).
        DeviceSettingError: a precision the kind does not run.
    """
    if isinstance(device, Device):
        return device
    kind, _, index = str(device).partition(":")
    if index and not index.isdigit():
        raise UnknownDeviceError(f"device {device!r}: the index after ':' must be an integer, e.g. cuda:1")
    cls = _DEVICES.get(kind)
    return cls(precision=precision or "fp32", name=name, threads=threads, index=int(index or 0))


def list_devices(pattern: str = "*") -> list[str]:
    """Registered device kinds matching a shell pattern (available here or not)."""
    return _DEVICES.list(pattern)


@register_device("cpu")
class CPUDevice(Device):
    """PyTorch eager on the CPU."""

    precisions = ("fp32", "bf16")


@register_device("cuda")
class CUDADevice(Device):
    """PyTorch eager on an NVIDIA GPU, timed with CUDA events."""

    precisions = ("fp32", "fp16", "bf16")

    @property
    def torch_device(self) -> str:  # type: ignore[override]
        return f"cuda:{self.index}"

    def model_slug(self) -> str:
        import torch

        if self.unavailable_reason() is not None:
            return "unknown"
        return slugify(torch.cuda.get_device_name(self.index))

    def unavailable_reason(self) -> str | None:
        import torch

        if not torch.cuda.is_available():
            return "torch reports no CUDA GPU (CPU-only build or no driver)"
        if self.index >= torch.cuda.device_count():
            return f"GPU index {self.index} requested, {torch.cuda.device_count()} present"
        return None

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        import torch

        with super().session(), torch.cuda.device(self.index):
            yield

    def synchronize(self) -> None:
        import torch

        torch.cuda.synchronize(self.index)

    def check_clock(self, clock: str) -> None:
        if clock != "wall":
            raise DeviceSettingError(
                f"device {self.kind} times with CUDA events; use clock 'wall', not {clock!r}"
            )

    def time_run(self, fn: Callable[[Any], Any], x: Any, num_reps: int, *, clock: str = "wall") -> np.ndarray:
        import torch

        events = [
            (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
            for _ in range(num_reps)
        ]
        torch.cuda.synchronize(self.index)  # nothing queued before the run leaks into it
        for start, end in events:
            start.record()
            fn(x)
            end.record()
        torch.cuda.synchronize(self.index)
        return np.array([start.elapsed_time(end) for start, end in events], dtype=np.float64) * 1e-3

    def environment(self) -> dict[str, Any]:
        import torch

        env = super().environment()
        if self.unavailable_reason() is None:
            props = torch.cuda.get_device_properties(self.index)
            env.update(
                gpu_model=torch.cuda.get_device_name(self.index),
                gpu_memory_mb=int(props.total_memory // 2**20),
                gpu_capability=f"{props.major}.{props.minor}",
                cuda_version=torch.version.cuda,
                cudnn_version=torch.backends.cudnn.version(),
                allow_tf32=bool(torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32),
                cudnn_benchmark=bool(torch.backends.cudnn.benchmark),
            )
        return env


@register_device("torchscript")
class TorchScriptDevice(Device):
    """The module traced and frozen with TorchScript, on the CPU."""

    def unavailable_reason(self) -> str | None:
        import torch

        if not hasattr(torch, "jit") or not hasattr(torch.jit, "trace"):
            return "this torch build has no torch.jit"
        return None

    def prepare(self, module: nn.Module, example: torch.Tensor) -> Callable[[Any], Any]:
        import torch

        module = super().prepare(module, example)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # TorchScript's deprecation notes
            traced = torch.jit.trace(module, example.to(self.dtype), check_trace=False)
            return torch.jit.freeze(traced)


@register_device("onnxruntime")
class ONNXRuntimeDevice(Device):
    """The module exported to ONNX and run by ONNX Runtime's CPU execution provider."""

    def unavailable_reason(self) -> str | None:
        import importlib.util

        missing = [pkg for pkg in ("onnxruntime", "onnx") if importlib.util.find_spec(pkg) is None]
        if missing:
            return f"{' and '.join(missing)} not installed (pip install onnxruntime onnx)"
        return None

    def prepare(self, module: nn.Module, example: Any) -> Callable[[Any], Any]:
        import onnxruntime as ort
        import torch

        example = torch.as_tensor(example)  # make_input gives numpy arrays here
        module = super().prepare(module, example)
        buffer = io.BytesIO()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (example,), buffer, input_names=["x"], output_names=["y"], dynamo=False)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])

        def run(x: np.ndarray) -> Any:
            return session.run(None, {"x": x})

        return run

    def make_input(self, shape: tuple[int, ...], generator: torch.Generator) -> Any:
        import torch

        return torch.randn(shape, generator=generator).numpy()

    def environment(self) -> dict[str, Any]:
        env = super().environment()
        if self.unavailable_reason() is None:
            import onnxruntime as ort

            env["onnxruntime_version"] = ort.__version__
        return env
