"""A tiny name -> object registry, so a new task, model or probe is one small file."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Generic, TypeVar

from .errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to registered objects; unknown names get a one-line error with a suggestion."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        if name not in self._items:
            raise UserError(f"unknown {self.kind} {name!r}{suggest(name, self._items)}")
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())

    def __contains__(self, name: str) -> bool:
        return name in self._items


def suggest(name: str, choices: object) -> str:
    """'; did you mean X?' for the closest choice, or the list of choices."""
    options = sorted(str(c) for c in choices)  # type: ignore[union-attr]
    close = difflib.get_close_matches(str(name), options, n=1, cutoff=0.5)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" (choose from: {', '.join(options)})" if len(options) <= 12 else ""
