"""Registries filled through entry-point groups, built-ins exactly like plugins (napari's model).

An entry point names `module:attr` and is imported only when first used, so a broken plugin
affects only itself and costs nothing at start.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Any, Generic, Iterator, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

GROUPS = {
    "operations": "sketchforge.operations",
    "importers": "sketchforge.importers",
    "exporters": "sketchforge.exporters",
    "backends": "sketchforge.backends",
    "templates": "sketchforge.templates",
}


class RegistryError(LookupError):
    """A name nobody registered, or a plugin that failed to load."""


class Registry(Generic[T]):
    """Named objects of one kind (operations, importers, exporters, back ends)."""

    def __init__(self, what: str, group: str | None = None) -> None:
        self.what = what
        self.group = group
        self._items: dict[str, T] = {}
        self._lazy: dict[str, Any] = {}
        self.revision = 0  # grows with every registration and removal (for caches of what is registered)
        if group:
            for ep in entry_points(group=group):
                self._lazy.setdefault(ep.name, ep)

    def register(self, name: str, obj: T, replace: bool = False) -> None:
        """Add `obj` under `name` (a plugin's way in at run time)."""
        if not replace and (name in self._items or name in self._lazy):
            raise RegistryError(f"a {self.what} called {name!r} is registered already")
        self._lazy.pop(name, None)
        self._items[name] = obj
        self.revision += 1

    def unregister(self, name: str) -> None:
        self._items.pop(name, None)
        self._lazy.pop(name, None)
        self.revision += 1

    def get(self, name: str) -> T:
        if name in self._items:
            return self._items[name]
        ep = self._lazy.get(name)
        if ep is None:
            known = ", ".join(sorted(self.names())) or "none"
            raise RegistryError(f"no {self.what} called {name!r} (known: {known})")
        try:
            obj = ep.load()
        except Exception as exc:
            raise RegistryError(f"the {self.what} {name!r} from {ep.value} failed to load: {exc}") from None
        self._items[name] = obj
        del self._lazy[name]
        return obj

    def names(self) -> list[str]:
        return sorted(set(self._items) | set(self._lazy))

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())
