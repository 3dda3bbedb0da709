"""Blockwise NAS (SPEC §7): LANA's integer program, DONNA's predictor search, the two-phase
FT-short -> FT-long search and the iterative teacher, all against a
:class:`~blox_search.BlockwiseEvaluator`."""
