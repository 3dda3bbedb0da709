"""One-shot NAS (SPEC §7b): algorithms that pay for one supernet instead of many evaluations."""

from __future__ import annotations

from .darts_pt import DartsPT

__all__ = ["DartsPT"]
