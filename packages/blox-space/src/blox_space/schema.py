"""THE store schema, gathered in one namespace: every Zarr store kind Blox writes, its arrays
(as :class:`ArraySpec` constants such as :data:`VAL_ACC`), the queryable :data:`METRICS` and the
status vocabulary.

Each kind is defined once, in its own module of :mod:`blox_space.store` (``spec`` for the
building blocks and conventions, ``space``, ``benchmark``, ``latency``, ``blockwise``,
``finetune``, ``surrogate``, ``proxies``, ``search``); this module imports
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
from .store.blockwise import (
    BLOCK_FAIL_REASON,
    BLOCK_STATUS,
    BLOCKWISE,
    BLOCKWISE_ATTRS,
    DEAD_CHANNELS,
    DISTILL_EPOCH,
    DISTILL_KEYS,
    DISTILL_SECONDS,
    LANA_DELTA_ACC,
    LANA_VAL_ACC,
    LIBRARY_FILE,
    LIBRARY_SHA256,
    SIGNATURE_SECONDS,
    SNAPSHOT,
    TEACHER_KEYS,
    TEACHER_SECONDS_SPLIT,
    TRAIN_NSR,
    VAL_NSR,
)
from .store.finetune import FINETUNE, FINETUNE_ATTRS
from .store.latency import *  # noqa: F403
from .store.latency import __all__ as _latency_all
from .store.proxies import PROXIES, PROXIES_ATTRS, PROXY_ARRAYS, PROXY_NAMES
from .store.search import SEARCH, SEARCH_ATTRS, STOP_REASONS
from .store.space import *  # noqa: F403
from .store.space import __all__ as _space_all
from .store.spec import *  # noqa: F403
from .store.spec import __all__ as _spec_all
from .store.surrogate import IS_PREDICTED, PREDICTION_STD, SURROGATE, SURROGATE_ATTRS

__all__ = [
    *_spec_all,
    *_space_all,
    *_benchmark_all,
    *_latency_all,
    "BLOCKWISE", "BLOCKWISE_ATTRS", "DISTILL_KEYS", "TEACHER_KEYS", "TEACHER_SECONDS_SPLIT", "DISTILL_EPOCH",
    "SNAPSHOT", "TRAIN_NSR", "VAL_NSR", "LANA_VAL_ACC", "LANA_DELTA_ACC", "DISTILL_SECONDS", "SIGNATURE_SECONDS",
    "BLOCK_STATUS", "BLOCK_FAIL_REASON", "DEAD_CHANNELS", "LIBRARY_FILE", "LIBRARY_SHA256",
    "FINETUNE", "FINETUNE_ATTRS",
    "PROXIES", "PROXIES_ATTRS", "PROXY_ARRAYS", "PROXY_NAMES",
    "SURROGATE", "SURROGATE_ATTRS", "IS_PREDICTED", "PREDICTION_STD",
    "SEARCH", "SEARCH_ATTRS", "STOP_REASONS",
]  # fmt: skip
