"""Named entries chosen from config or the command line (STYLE §3): one :class:`Registry` per
kind (recipes, datasets, devices, protocols, store kinds, predictors, algorithms ...), living in
the module that owns the kind and filled by decorators at import.

Example:
    >>> from blox_space.errors import UnknownNameError
    >>> colours = Registry("colour", UnknownNameError)
    >>> @colours.register("red")
    ... def red() -> str:
    ...     return "#f00"
    >>> colours.get("red")()
    '#f00'
    >>> colours.list("r*")
    ['red']
    >>> colours.get("rde")
    Traceback (most recent call last):
    ...
    blox_space.errors.UnknownNameError: unknown colour 'rde' (did you mean red?); known colours: red
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import UnknownNameError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name, registered once and never changed afterwards.

    Args:
        what: what an entry is, for messages (``"recipe"``, ``"device"``).
        error: the owner's typed error for an unknown name (a subclass of
            :class:`~blox_space.errors.UnknownNameError`).
        plural: the plural of ``what`` in messages (default ``what + "s"``).
    """

    def __init__(
        self, what: str, error: type[UnknownNameError] = UnknownNameError, *, plural: str | None = None
    ) -> None:
        self.what, self.error = what, error
        self.plural = plural or f"{what}s"
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering its argument under ``name``.

        Raises:
            ValueError: ``name`` is registered already (a programming error, not a user's).
        """

        def decorate(entry: T) -> T:
            self.add(name, entry)
            return entry

        return decorate

    def add(self, name: str, entry: T) -> None:
        """Register ``entry`` under ``name`` (what :meth:`register` does).

        Raises:
            ValueError: ``name`` is registered already.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.what} name must be a non-empty string, got {name!r}")
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._entries[name] = entry

    def get(self, name: str) -> T:
        """The entry registered as ``name``.

        Raises:
            UnknownNameError: (the owner's subclass) the name is not registered; the message
                lists the known names and close matches.
        """
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise self.error(self.unknown_message(name)) from None

    def unknown_message(self, name: object) -> str:
        """The message of the error :meth:`get` raises for ``name``."""
        shown = name if isinstance(name, str) and len(name) <= 80 else f"{str(name)[:80]}..."
        close = difflib.get_close_matches(name, list(self._entries), n=3) if isinstance(name, str) else []
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        return f"unknown {self.what} {shown!r}{hint}; known {self.plural}: {', '.join(self.list()) or 'none'}"

    def list(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style ``pattern``, sorted."""
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {len(self)} entries)"
