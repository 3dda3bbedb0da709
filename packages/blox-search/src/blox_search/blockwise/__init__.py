"""Blockwise NAS (SPEC §7): LANA's integer program, DONNA's predictor search, the two-phase
FT-short -> FT-long search and the iterative teacher, all against a
:class:`~blox_search.BlockwiseEvaluator` (importing this package registers them)."""

from __future__ import annotations

from .phases import IterativeTeacherSearch, TwoPhaseSearch

__all__ = ["IterativeTeacherSearch", "TwoPhaseSearch"]
