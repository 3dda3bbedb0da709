"""A small name -> factory registry shared by the device and protocol registries (STYLE §3)."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Named factories filled by decorators at import and never changed afterwards.

    Args:
        what: what the entries are, for messages ("device", "protocol").
        error: the error raised for an unknown name (a :class:`blox_space.BloxError`).
    """

    def __init__(self, what: str, error: type[Exception]) -> None:
        self.what, self.error = what, error
        self._entries: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.what} {name!r} is already registered")
            self._entries[name] = factory
            return factory

        return decorator

    def get(self, name: str) -> Callable[..., T]:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self._entries)
            close = difflib.get_close_matches(name, list(self._entries), n=2)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise self.error(f"unknown {self.what} {name!r}{hint}; known {self.what}s: {known}") from None

    def names(self, pattern: str = "*") -> list[str]:
        return [name for name in self._entries if fnmatch.fnmatchcase(name, pattern)]
