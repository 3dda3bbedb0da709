"""Typed errors of blox-hw. Each is a :class:`blox_space.BloxError`, so command lines map
them to exit status 2 with one line saying what was wrong and what is allowed."""

from __future__ import annotations

from blox_space import BloxError, ConfigError, UnknownNameError

__all__ = [
    "HwError",
    "UnknownDeviceError",
    "DeviceUnavailableError",
    "UnknownProtocolError",
    "ProtocolError",
    "DeviceSettingError",
]


class HwError(BloxError):
    """Base class of blox-hw user errors."""


class UnknownDeviceError(HwError, UnknownNameError):
    """A device kind that is not registered (the message lists the known ones)."""


class DeviceUnavailableError(HwError, RuntimeError):
    """A registered device whose hardware or runtime is not present on this machine."""


class UnknownProtocolError(HwError, UnknownNameError):
    """A measurement protocol name that is not registered."""


class ProtocolError(HwError, ConfigError):
    """A measurement protocol with an out-of-range setting."""


class DeviceSettingError(HwError, ConfigError):
    """A device setting (precision, threads) the device does not support."""
