"""Errors of blox-search, all :class:`~blox_space.errors.BloxError` subclasses, so the CLI turns
them into one line and exit code 2."""

from __future__ import annotations

from blox_space.errors import BloxError, ConfigError, StoreError, UnknownNameError

__all__ = [
    "SearchError",
    "UnknownAlgorithmError",
    "UnknownEvaluatorError",
    "NotACandidateError",
    "MissingExtraError",
    "ResumeError",
    "BudgetExhausted",
]


class SearchError(BloxError):
    """Base class of blox-search's errors."""


class UnknownAlgorithmError(SearchError, UnknownNameError):
    """No search algorithm is registered under that name."""


class UnknownEvaluatorError(SearchError, UnknownNameError):
    """No evaluator kind is known under that name."""


class NotACandidateError(SearchError, ValueError):
    """An algorithm asked for a model its evaluator cannot evaluate (not in ``candidates``), or
    for a fidelity it does not offer."""


class MissingExtraError(SearchError, ConfigError):
    """The algorithm needs an optional package that is not installed (the message names the
    ``pip install`` that provides it)."""


class ResumeError(SearchError, StoreError):
    """A search store cannot be resumed: it was written by another search (algorithm,
    parameters, evaluator, budget or seeds differ), or replaying it diverged from what it
    recorded."""


class BudgetExhausted(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by :meth:`blox_search.Problem.evaluate` once the search budget is spent; the
    runner catches it and ends the seed. Algorithms let it propagate."""
