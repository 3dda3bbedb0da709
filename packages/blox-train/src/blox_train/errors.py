"""Typed errors of blox-train. All derive from :class:`blox_space.BloxError`, so the command
line maps every user mistake to exit status 2 in one place. ``ConfigError`` (a setting that is
not allowed) and ``InvalidGeometryError`` are blox-space's shared errors, re-exported here."""

from __future__ import annotations

from blox_space.errors import BloxError, ConfigError, InvalidGeometryError, UnknownNameError

__all__ = [
    "BloxError",
    "BloxTrainError",
    "ConfigError",
    "InvalidGeometryError",
    "UnknownRecipeError",
    "UnknownDatasetError",
    "UnknownAugmentationError",
    "DeviceError",
    "DatasetNotFoundError",
    "DivergenceError",
    "CheckpointError",
    "LibraryError",
]


class BloxTrainError(BloxError):
    """Base class of blox-train's user-facing errors."""


class UnknownRecipeError(BloxTrainError, UnknownNameError):
    """A recipe name that is not registered; the message lists the known names."""


class UnknownDatasetError(BloxTrainError, UnknownNameError):
    """A dataset name that is not registered; the message lists the known names."""


class UnknownAugmentationError(BloxTrainError, UnknownNameError):
    """An augmentation name that is not registered; the message lists the known names."""


class DeviceError(BloxTrainError, ConfigError):
    """A torch device that is malformed or not present on this machine."""


class DatasetNotFoundError(BloxTrainError, FileNotFoundError):
    """A dataset whose local copy is missing or corrupt; the message says how to get it."""


class DivergenceError(BloxTrainError, ArithmeticError):
    """Training produced a non-finite or exploding loss. The shard runner records it as failed."""


class CheckpointError(BloxTrainError):
    """A checkpoint that cannot be read or belongs to another model, seed or recipe."""


class LibraryError(BloxTrainError, ConfigError):
    """A block-library file that is missing, damaged (its sha256 differs from its record) or
    not a block library; the message names the file."""
