"""Search algorithms by name (STYLE §3): the :class:`Algorithm` base every algorithm derives
from, and its registry (:func:`register_algorithm`, :func:`get_algorithm`,
:func:`list_algorithms`).

An algorithm is a small class whose hyperparameters are keyword-only ``__init__`` arguments
with documented defaults, stored under the same names (like an estimator, STYLE §7), and whose
one hook :meth:`Algorithm.search` runs one search seed against a
:class:`~blox_search.problem.Problem` until the problem raises
:class:`~blox_search.errors.BudgetExhausted` (or the algorithm has nothing left to do). All
randomness comes from the generator it is given, so a seed's trajectory is a pure function of
(algorithm, parameters, seed, evaluator) -- which is what resuming relies on.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import numpy as np
from blox_space.errors import ConfigError
from blox_space.registry import Registry

from .errors import MissingExtraError, UnknownAlgorithmError
from .problem import Problem

__all__ = ["Algorithm", "ALGORITHMS", "register_algorithm", "get_algorithm", "list_algorithms"]

A = TypeVar("A", bound="type[Algorithm]")


class Algorithm:
    """Base class of the search algorithms.

    Subclasses set :attr:`name` (by :func:`register_algorithm`), may list the import names
    they need beyond blox-search in :attr:`requires` (with the pip extra in
    :attr:`extra`), say whether they use lower fidelities (:attr:`multi_fidelity`) and
    implement :meth:`search`; :meth:`check_params` validates hyperparameters.
    """

    name: ClassVar[str] = ""
    #: Import names the algorithm needs (e.g. ``("blox_predict",)``).
    requires: ClassVar[tuple[str, ...]] = ()
    #: What to install for :attr:`requires`.
    extra: ClassVar[str] = ""
    #: Whether it evaluates below the full fidelity.
    multi_fidelity: ClassVar[bool] = False
    #: Whether it needs ``latency_s`` from the evaluator (multi-objective algorithms).
    needs_latency: ClassVar[bool] = False
    #: Whether it needs a blockwise evaluator (teachers, normal training, block libraries).
    needs_blockwise: ClassVar[bool] = False
    #: Whether it needs a live evaluator (it trains on the evaluator's recipe and data).
    needs_live: ClassVar[bool] = False
    #: Whether its search cost is one-shot, charged outside the budget
    #: (:meth:`~blox_search.Problem.charge_one_shot`; DARTS-PT, Table 2's †).
    one_shot: ClassVar[bool] = False

    # ---------------------------------------------------------------- parameters
    @classmethod
    def param_names(cls) -> list[str]:
        """The hyperparameters: the keyword-only arguments of ``__init__``."""
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]

    def get_params(self) -> dict[str, Any]:
        """Every hyperparameter by name (JSON-ready values)."""
        return {name: _plain(getattr(self, name)) for name in self.param_names()}

    def set_params(self, **params: Any) -> Algorithm:
        """Set hyperparameters by name; returns self.

        Raises:
            ConfigError: an unknown name (the message lists the algorithm's parameters).
        """
        known = self.param_names()
        for key, value in params.items():
            if key not in known:
                raise ConfigError(
                    f"unknown parameter {key!r} for algorithm {self.name!r}; its parameters are "
                    f"{', '.join(known) or 'none'}"
                )
            setattr(self, key, value)
        return self

    def check_params(self) -> None:
        """Raise :class:`ConfigError` for a bad hyperparameter value (subclasses extend)."""

    def check_available(self) -> None:
        """Raise :class:`MissingExtraError` when a package in :attr:`requires` is missing."""
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            raise MissingExtraError(
                f"algorithm {self.name!r} needs {', '.join(missing)}; install it with {self.extra or 'pip install ' + missing[0]}"
            )

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ---------------------------------------------------------------- the hook
    def search(self, problem: Problem, rng: np.random.Generator) -> None:
        """Run one search seed: evaluate through ``problem`` until it raises
        :class:`~blox_search.errors.BudgetExhausted` (let it propagate) or there is nothing
        left to evaluate (then return)."""
        raise NotImplementedError


#: Every algorithm by name.
ALGORITHMS: Registry[type[Algorithm]] = Registry("algorithm", UnknownAlgorithmError)


def register_algorithm(name: str) -> Callable[[A], A]:
    """Class decorator registering an :class:`Algorithm` under ``name`` (sets its ``name``)."""

    def decorate(cls: A) -> A:
        cls.name = name
        ALGORITHMS.add(name, cls)
        return cls

    return decorate


def get_algorithm(name: str, **params: Any) -> Algorithm:
    """A new instance of the algorithm registered as ``name`` with ``params`` set and checked.

    A hyphen may stand for an underscore (``darts-pt`` is ``darts_pt``).

    Raises:
        UnknownAlgorithmError: unknown name (lists the known ones and close matches).
        ConfigError: an unknown parameter or a bad value.

    Example:
        >>> get_algorithm("random").name
        'random'
    """
    if isinstance(name, str) and name not in ALGORITHMS and name.replace("-", "_") in ALGORITHMS:
        name = name.replace("-", "_")  # darts-pt spells darts_pt, two-phase two_phase
    algorithm = ALGORITHMS.get(name)()
    algorithm.set_params(**params)
    algorithm.check_params()
    return algorithm


def list_algorithms(pattern: str = "*") -> list[str]:
    """Registered algorithm names matching a shell-style pattern, sorted."""
    return ALGORITHMS.list(pattern)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def check_int(name: str, value: Any, low: int = 1) -> None:
    """ConfigError unless ``value`` is an int >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name} must be an int >= {low}, got {value!r}")


def check_float(name: str, value: Any, low: float, high: float, *, low_open: bool = False) -> None:
    """ConfigError unless ``value`` is a number in [low, high] ((low, high] when ``low_open``)."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.floating, np.integer))
    if ok:
        v = float(value)
        ok = (v > low if low_open else v >= low) and v <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ConfigError(f"{name} must be a number in {bracket}{low}, {high}], got {value!r}")
