"""Conventional NAS algorithms (SPEC §7): each module registers one algorithm."""

from __future__ import annotations

from .brp import BRPNAS
from .evolution import RegularizedEvolution
from .hyperband import Hyperband, SuccessiveHalving
from .local import LocalSearch
from .pareto import ParetoEvolution
from .random import RandomSearch
from .reinforce import Reinforce

__all__ = [
    "BRPNAS",
    "Hyperband",
    "LocalSearch",
    "ParetoEvolution",
    "RandomSearch",
    "RegularizedEvolution",
    "Reinforce",
    "SuccessiveHalving",
]
