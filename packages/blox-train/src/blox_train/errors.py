"""Typed errors of blox-train. All derive from :class:`blox_space.BloxError`, so the command
line maps every user mistake to exit status 2 in one place."""

from __future__ import annotations

from blox_space.errors import BloxError

__all__ = [
    "BloxError",
    "BloxTrainError",
    "ConfigError",
    "UnknownRecipeError",
    "UnknownDatasetError",
    "DatasetNotFoundError",
    "DivergenceError",
    "CheckpointError",
]


class BloxTrainError(BloxError):
    """Base class of blox-train's user-facing errors."""


class ConfigError(BloxTrainError, ValueError):
    """A setting (width, resolution, recipe override, model spec ...) that is not allowed."""


class UnknownRecipeError(ConfigError, KeyError):
    """A recipe name that is not registered; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownDatasetError(ConfigError, KeyError):
    """A dataset name that is not registered; the message lists the known names."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class DatasetNotFoundError(BloxTrainError, FileNotFoundError):
    """A dataset whose local copy is missing or corrupt; the message says how to get it."""


class DivergenceError(BloxTrainError, ArithmeticError):
    """Training produced a non-finite or exploding loss. The shard runner records it as failed."""


class CheckpointError(BloxTrainError):
    """A checkpoint that cannot be read or belongs to another model, seed or recipe."""
