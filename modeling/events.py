"""A minimal signal: model objects emit after they change; views connect and read."""

from __future__ import annotations

import logging
from typing import Any, Callable

log = logging.getLogger(__name__)


class Signal:
    """Callbacks called in order with the emitted arguments; one failing callback does not stop the rest."""

    def __init__(self) -> None:
        self._slots: list[Callable[..., Any]] = []

    def connect(self, slot: Callable[..., Any]) -> Callable[..., Any]:
        if slot not in self._slots:
            self._slots.append(slot)
        return slot

    def disconnect(self, slot: Callable[..., Any]) -> None:
        if slot in self._slots:
            self._slots.remove(slot)

    def emit(self, *args: Any) -> None:
        for slot in list(self._slots):
            try:
                slot(*args)
            except Exception:  # a broken view must not corrupt the model
                log.exception("a listener failed while handling a document event")
