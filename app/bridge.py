"""Session events into Qt signals, delivered on the GUI thread whichever thread changed the model."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from sketchforge.modeling.session import Session


class SessionBridge(QObject):
    """Re-emits `session.changed` as a Qt signal; Qt queues it to the GUI thread when needed."""

    changed = Signal(str)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        session.changed.connect(self._forward)

    def _forward(self, what: str) -> None:
        self.changed.emit(what)

    def detach(self) -> None:
        self.session.changed.disconnect(self._forward)
