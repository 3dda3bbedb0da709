"""Blockwise NAS (SPEC §7): LANA's integer program, DONNA's predictor search, the two-phase
FT-short -> FT-long search and the iterative teacher, all against a
:class:`~blox_search.BlockwiseEvaluator` (importing this package registers them)."""

from __future__ import annotations

from .donna import DonnaEvolution, DonnaSearch, donna_evolution, donna_exhaustive, predicted_front
from .lana import LanaSearch, brute_force_select, lana_select
from .phases import IterativeTeacherSearch, TwoPhaseSearch

__all__ = [
    "DonnaEvolution",
    "DonnaSearch",
    "IterativeTeacherSearch",
    "LanaSearch",
    "TwoPhaseSearch",
    "brute_force_select",
    "donna_evolution",
    "donna_exhaustive",
    "lana_select",
    "predicted_front",
]
