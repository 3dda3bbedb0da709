"""Typed errors of blox-space, and the bases every Blox package derives from.

Every user mistake raises a :class:`BloxError` subclass whose message says what was wrong and
what is allowed; command lines map them to exit status 2 with one line on stderr (see
:mod:`blox_space.cli.runner`). The hierarchy::

    BloxError
    ├── InvalidArchitectureError (ValueError)   an architecture that is not one of the models
    │   ├── ArchShapeError, OpOutOfRangeError, FlagError, InvalidCellError, NameParseError
    │   ├── IndexOutOfRangeError (IndexError), BlockIdError (IndexError)
    │   └── UnknownHashError (KeyError)
    ├── ConfigError (ValueError)                 a setting that is not allowed
    │   ├── InvalidGeometryError                 width, resolution, class count
    │   ├── ModelSpecError                       a model selection spec
    │   ├── UnknownNameError (KeyError)          a name no registry holds (UnknownStoreKindError ...)
    │   └── UsageError                           a command-line usage mistake
    ├── QueryError (ValueError)                  a benchmark query the store cannot answer
    │   └── MissingModelError (KeyError)         a model the store does not hold
    ├── StoreError                               a store that is missing, unreadable, of another kind
    │   ├── SchemaError                          arrays/attributes that do not match the schema
    │   ├── DamagedStoreError                    an array or chunk that is gone or corrupt
    │   └── MergeError                           shards that cannot be merged
    └── LegacyFormatError (ValueError)           a malformed released file

Other packages subclass these (``blox_train.UnknownRecipeError`` is an ``UnknownNameError``).
"""

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
    "ConfigError",
    "InvalidGeometryError",
    "ModelSpecError",
    "UnknownNameError",
    "UnknownStoreKindError",
    "UsageError",
    "QueryError",
    "MissingModelError",
    "StoreError",
    "SchemaError",
    "DamagedStoreError",
    "MergeError",
    "LegacyFormatError",
]


class BloxError(Exception):
    """Base class of every error a Blox user can cause."""


class _PlainKeyError(KeyError):
    """A KeyError whose message is printed as is (KeyError would quote it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# ---------------------------------------------------------------------------------------
# architectures
# ---------------------------------------------------------------------------------------
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


class UnknownHashError(InvalidArchitectureError, _PlainKeyError):
    """A 32-hex model hash that names none of the 91,125 models."""


class NameParseError(InvalidArchitectureError):
    """A readable name (or any architecture string) that cannot be parsed."""


# ---------------------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------------------
class ConfigError(BloxError, ValueError):
    """A setting (width, recipe override, device, thread count, output path ...) that is not
    allowed; the message says which values are."""


class InvalidGeometryError(ConfigError):
    """A width, resolution or class count the network cannot be built with."""


class ModelSpecError(ConfigError):
    """A model selection spec that is malformed or selects nothing valid."""


class UnknownNameError(ConfigError, _PlainKeyError):
    """A name that a registry does not hold; the message lists the known names and close
    matches. Each registry raises its owner's subclass (``UnknownRecipeError`` ...)."""


class UnknownStoreKindError(UnknownNameError):
    """A store kind that is not registered."""


class UsageError(ConfigError):
    """A command-line usage mistake: an unknown flag, a missing argument or command."""


# ---------------------------------------------------------------------------------------
# queries
# ---------------------------------------------------------------------------------------
class QueryError(BloxError, ValueError):
    """A benchmark query the store cannot answer as asked: an unknown metric, a seed or epoch
    the store does not have, options a metric does not take. The message says what is allowed."""


class MissingModelError(QueryError, _PlainKeyError):
    """A model that the benchmark store does not hold."""


# ---------------------------------------------------------------------------------------
# stores
# ---------------------------------------------------------------------------------------
class StoreError(BloxError):
    """A Zarr store that is missing, unreadable or of the wrong kind."""


class SchemaError(StoreError):
    """A store whose arrays, shapes or schema version do not match the schema module."""


class DamagedStoreError(StoreError):
    """A store whose data is gone or corrupt (a deleted array, a truncated chunk): reported
    as damage, never read as missing measurements."""


class MergeError(StoreError):
    """Shard stores that cannot be merged (gaps, duplicates, mixed recipes)."""


class LegacyFormatError(BloxError, ValueError):
    """A released Blox file that is malformed or not of a known family."""
