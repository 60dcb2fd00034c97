"""One small registry type behind every name -> entry table of the package.

Datasets, model specs, toy-model trainers, synthetic-release writers and report sections are
each a :class:`Registry`: entries are added with :meth:`Registry.register` (a second entry of
the same name is refused unless ``overwrite``), looked up with :meth:`Registry.get` (an unknown
name lists the known ones) and listed with :meth:`Registry.names`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind.

    Parameters
    ----------
    what : str
        What an entry is, for messages (``"dataset"``, ``"model"``...).
    name_of : callable
        The entry's name (e.g. ``lambda spec: spec.name``).
    error : type
        Exception raised for an unknown name (``ValueError`` or ``KeyError``).
    """

    def __init__(
        self, what: str, name_of: Callable[[T], str], error: type[Exception] = ValueError
    ) -> None:
        self.what = what
        self._name_of = name_of
        self._error = error
        self._entries: dict[str, T] = {}

    def register(self, entry: T, *, overwrite: bool = False) -> T:
        name = self._name_of(entry)
        if name in self._entries and not overwrite:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise self._error(
                f"unknown {self.what} {name!r}; registered: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._entries.values()))
