"""Tiny name -> object registries (recipes, datasets, architectures, metrics, extractors)."""
from __future__ import annotations

import difflib
from typing import Callable, Generic, TypeVar

from ganforge.errors import GanforgeError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._options: dict[str, object] = {}

    def register(self, name: str, options=None) -> Callable[[T], T]:
        """Decorator. ``options``: the entry's typed options (see ``ganforge.options``)."""
        def decorator(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            if options is not None:
                self._options[name] = options
            return obj

        return decorator

    def options(self, name: str):
        """The typed options an entry declared (its ``Options`` attribute, or those given to register)."""
        return self._options.get(name, getattr(self._items.get(name), "Options", None))

    def unregister(self, name: str) -> None:
        """Remove an entry (tests and notebooks that define a recipe twice)."""
        self._items.pop(name, None)
        self._options.pop(name, None)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._items, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise GanforgeError(
                f"unknown {self.kind} {name!r}.{hint} Choose one of: {', '.join(self.names())}."
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items
