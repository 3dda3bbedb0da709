"""Environment records (device, library versions ...) kept once per store in its
``environments`` attribute and indexed per run by ``env_id``; and the canonical JSON form that
recipes and environments are compared and de-duplicated in."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["canonical_json", "Environments"]


def canonical_json(value: Any) -> str:
    """Sorted-key compact JSON, the form recipes and environments are compared in."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class Environments:
    """A list of distinct environment dicts, each stored once, with stable ids (positions).

    Args:
        known: environments already recorded (e.g. a store's ``environments`` attribute).

    Example:
        >>> envs = Environments([{"device": "cpu"}])
        >>> envs.add({"device": "cuda"}), envs.add({"device": "cpu"})
        (1, 0)
        >>> envs.remap([{"device": "cuda"}, {"device": "tpu"}]).tolist()  # ids of another list, -1 kept
        [1, 2, -1]
    """

    def __init__(self, known: Iterable[Mapping[str, Any]] = ()) -> None:
        self._records: list[Any] = []
        self._ids: dict[str, int] = {}
        for env in known:
            self.add(env)

    def add(self, env: Mapping[str, Any] | None) -> int:
        """The id of ``env``, adding it when new; -1 for None (no environment recorded)."""
        if env is None:
            return -1
        key = canonical_json(dict(env))
        if key not in self._ids:
            self._ids[key] = len(self._records)
            self._records.append(json.loads(key))
        return self._ids[key]

    def remap(self, others: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """Ids here of another store's environment list, as a lookup table ``table[old_id]``
        with one extra last entry so that ``table[-1] == -1`` (none recorded stays none)."""
        return np.array([self.add(env) for env in others] + [-1], dtype=np.int32)

    @property
    def records(self) -> list[Any]:
        """The distinct environments, by id (JSON-ready)."""
        return list(self._records)

    def __len__(self) -> int:
        return len(self._records)
