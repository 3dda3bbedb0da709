"""Errors of blox-predict, all :class:`~blox_space.errors.BloxError` subclasses, so the CLI turns
them into one line and exit code 2."""

from __future__ import annotations

from blox_space.errors import BloxError, ConfigError, UnknownNameError

__all__ = [
    "PredictError",
    "NotFittedError",
    "UnknownPredictorError",
    "TooFewPointsError",
    "PredictorFileError",
]


class PredictError(BloxError):
    """Base class of blox-predict's errors."""


class NotFittedError(PredictError, ValueError):
    """``predict`` (or ``save``) was called before ``fit``."""


class UnknownPredictorError(PredictError, UnknownNameError):
    """No predictor is registered under that name."""


class TooFewPointsError(PredictError, ConfigError):
    """The predictor cannot be fitted on so few training points (e.g. second-order DONNA below 10)."""


class PredictorFileError(PredictError, ValueError):
    """A saved predictor is missing, damaged or of another format version."""
