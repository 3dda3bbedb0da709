"""Typed errors of blox-space. Every user mistake raises a :class:`BloxError` subclass whose
message says what was wrong and what is allowed; command lines map them to exit status 2."""

from __future__ import annotations

__all__ = [
    "BloxError",
    "InvalidArchitectureError",
    "ArchShapeError",
    "OpOutOfRangeError",
    "FlagError",
    "InvalidCellError",
    "IndexOutOfRangeError",
    "BlockIdError",
    "UnknownHashError",
    "NameParseError",
    "StoreError",
    "SchemaError",
    "MergeError",
    "LegacyFormatError",
]


class BloxError(Exception):
    """Base class of every error a Blox user can cause."""


class InvalidArchitectureError(BloxError, ValueError):
    """An architecture, in any form, that is not one of the 91,125 models."""


class ArchShapeError(InvalidArchitectureError):
    """An arch vector with the wrong nesting or length."""


class OpOutOfRangeError(InvalidArchitectureError):
    """An op index outside 0=conv, 1=mbconv, 2=bconv."""


class FlagError(InvalidArchitectureError):
    """A connectivity flag (prev, input, sc) that is not 0 or 1."""


class InvalidCellError(InvalidArchitectureError):
    """A cell whose node 1 has flags (0, 0, 0): nothing reaches the cell output."""


class IndexOutOfRangeError(InvalidArchitectureError, IndexError):
    """A model index outside 0..91,124."""


class BlockIdError(InvalidArchitectureError, IndexError):
    """A block id outside 0..44."""


class UnknownHashError(InvalidArchitectureError, KeyError):
    """A 32-hex model hash that names none of the 91,125 models."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class NameParseError(InvalidArchitectureError):
    """A readable name (or any architecture string) that cannot be parsed."""


class StoreError(BloxError):
    """A Zarr store that is missing, unreadable or of the wrong kind."""


class SchemaError(StoreError):
    """A store whose arrays, shapes or schema version do not match the schema module."""


class MergeError(StoreError):
    """Shard stores that cannot be merged (gaps, duplicates, mixed recipes)."""


class LegacyFormatError(BloxError, ValueError):
    """A released Blox file that is malformed or not of a known family."""
