"""THE store schema, gathered in one namespace: every Zarr store kind Blox writes, its arrays
(as :class:`ArraySpec` constants such as :data:`VAL_ACC`), the queryable :data:`METRICS` and the
status vocabulary.

Each kind is defined once, in its own module of :mod:`blox_space.store` (``spec`` for the
building blocks and conventions, ``space``, ``benchmark``, ``latency``); this module imports
them so ``blox_space.schema.VAL_ACC`` and ``from blox_space.schema import BENCHMARK`` work the
same everywhere. Writers and readers take these specs, never raw array names; see
:mod:`blox_space.store` for creating, opening, validating and merging stores.

Example:
    >>> from blox_space import schema
    >>> schema.VAL_ACC.dims, schema.VAL_ACC.units
    (('model', 'seed', 'epoch'), '%')
    >>> schema.METRICS["val_acc"].higher_is_better
    True
"""

from __future__ import annotations

from .store.benchmark import *  # noqa: F403
from .store.benchmark import __all__ as _benchmark_all
from .store.latency import *  # noqa: F403
from .store.latency import __all__ as _latency_all
from .store.space import *  # noqa: F403
from .store.space import __all__ as _space_all
from .store.spec import *  # noqa: F403
from .store.spec import __all__ as _spec_all

__all__ = [*_spec_all, *_space_all, *_benchmark_all, *_latency_all]
