"""Conventional NAS algorithms (SPEC §7): each module registers one algorithm."""

from __future__ import annotations

from .random import RandomSearch

__all__ = ["RandomSearch"]
