"""Conventional NAS algorithms (SPEC §7): each module registers one algorithm."""

from __future__ import annotations

from .evolution import RegularizedEvolution
from .hyperband import Hyperband, SuccessiveHalving
from .local import LocalSearch
from .random import RandomSearch
from .reinforce import Reinforce

__all__ = [
    "Hyperband",
    "LocalSearch",
    "RandomSearch",
    "RegularizedEvolution",
    "Reinforce",
    "SuccessiveHalving",
]
