"""Long work off the GUI thread: one job at a time, with progress, cancel and a result callback.

Jobs get a `progress(done, total) -> bool` callable; it reports to the status bar and returns False
once the user pressed cancel, which the job honours between steps (the kernel cannot be stopped
in the middle of one boolean).
"""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal

log = logging.getLogger(__name__)

Job = Callable[[Callable[[int, int], bool]], Any]


class _Thread(QThread):
    progressed = Signal(int, int)
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, job: Job, cancel: threading.Event) -> None:
        super().__init__()
        self._job = job
        self._cancel = cancel

    def _progress(self, done: int, total: int) -> bool:
        self.progressed.emit(int(done), int(total))
        return not self._cancel.is_set()

    def run(self) -> None:
        try:
            result = self._job(self._progress)
        except Exception as exc:  # shown to the user; the model stays as it was
            log.debug("job failed:\n%s", traceback.format_exc())
            self.failed.emit(str(exc) or type(exc).__name__)
        else:
            self.done.emit(result)


class JobRunner(QObject):
    """Runs one job at a time in a worker thread; the window shows `started` .. `ended`."""

    started = Signal(str)          # title
    progressed = Signal(int, int)  # done, total (total 0: unknown)
    ended = Signal(str, bool)      # title, succeeded
    failed = Signal(str, str)      # title, message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: _Thread | None = None
        self._cancel = threading.Event()
        self._title = ""

    @property
    def busy(self) -> bool:
        return self._thread is not None

    @property
    def title(self) -> str:
        """The running job's title ('' when none runs)."""
        return self._title if self._thread is not None else ""

    def run(self, title: str, job: Job, on_done: Callable[[Any], None] | None = None,
            on_failed: Callable[[str], None] | None = None) -> bool:
        """Start `job(progress)`; False (and nothing started) when another job is running."""
        if self._thread is not None:
            return False
        self._cancel = threading.Event()
        self._title = title
        t = _Thread(job, self._cancel)
        t.progressed.connect(self.progressed)
        t.done.connect(lambda result: self._finish(True, on_done, result))
        t.failed.connect(lambda message: self._fail(message, on_failed))
        self._thread = t
        self.started.emit(title)
        t.start()
        return True

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, ms: int = 60000) -> bool:
        """Block until the running job ends (tests and closing the window)."""
        t = self._thread
        return True if t is None else t.wait(ms)

    def _fail(self, message: str, on_failed: Callable[[str], None] | None) -> None:
        title = self._title
        self.failed.emit(title, message)
        self._finish(False, on_failed, message)

    def _finish(self, ok: bool, callback: Callable[[Any], None] | None, value: Any) -> None:
        t, self._thread = self._thread, None
        if t is not None:
            t.wait()
            t.deleteLater()
        self.ended.emit(self._title, ok)
        if callback is not None:
            callback(value)
