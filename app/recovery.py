"""Crash recovery: autosave copies of unsaved work, and an offer to restore them at the next start.

As in FreeCAD's DocumentRecovery, each running app owns two files in `recovery_dir()`, named by its
process id: `running-<pid>.json` (a marker that exists while it runs) and `autosave-<pid>.sketchforge`
(the latest unsaved state). A clean exit removes both; files whose process is gone are what a crash
left behind. Saving takes a consistent snapshot of the document on the GUI thread (references only)
and writes the file in a plain thread, so a model with large imported meshes does not stall the UI.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from sketchforge.modeling.archive import SUFFIX, save_document
from sketchforge.modeling.files import atomic_write_bytes
from sketchforge.modeling.session import Session

from .bridge import SessionBridge
from .paths import recovery_dir

log = logging.getLogger(__name__)

AUTOSAVE_PREFIX = "autosave-"
MARKER_PREFIX = "running-"
DEBOUNCE_MS = 200


@dataclass(frozen=True)
class _DocumentSnapshot:
    """What `save_document` reads, taken from one state of the document."""

    history: tuple
    blobs: Mapping[str, bytes]
    bodies: Mapping[str, Any]


def _snapshot(session: Session) -> _DocumentSnapshot | None:
    """A consistent copy of the references a save needs; None if the document changed meanwhile."""
    doc = session.document
    revision = doc.revision
    snap = _DocumentSnapshot(doc.history, dict(doc.blobs), doc.bodies)
    return snap if doc.revision is revision and session.document is doc else None


def _pid_of(path: Path, prefix: str) -> int | None:
    stem = path.name[len(prefix):].split(".", 1)[0]
    return int(stem) if path.name.startswith(prefix) and stem.isdigit() else None


def _process_started(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch), where /proc tells; else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        btime = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                     if line.startswith("btime "))
        return btime + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _running(pid: int, since: float | None = None) -> bool:
    """Whether process `pid` runs and, when `since` is known, is the one that started by then."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        pass
    except OSError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):  # exited, waiting to be reaped
            return False
    except (OSError, IndexError):
        pass
    if since is not None:
        started = _process_started(pid)
        if started is not None and started > since + 5.0:  # the number was given to a newer process
            return False
    return True


def _read_marker(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


class Recovery(QObject):
    """Keeps a recovery copy of unsaved work while the app runs (see the module docstring)."""

    saved = Signal(str)  # the autosave file, after each write

    def __init__(self, session: Session, bridge: SessionBridge, parent: QObject | None = None,
                 interval_ms: int = 60000) -> None:
        super().__init__(parent)
        self.session = session
        self.folder = recovery_dir()
        pid = os.getpid()
        self.autosave_path = self.folder / f"{AUTOSAVE_PREFIX}{pid}{SUFFIX}"
        self.marker_path = self.folder / f"{MARKER_PREFIX}{pid}.json"
        self._started = time.time()
        self._marked_path: object = ...
        self._saved_revision: object = None   # the document state the recovery copy holds; None: no copy
        self._lock = threading.Lock()
        self._pending: Callable[[], None] | None = None
        self._writer: threading.Thread | None = None
        self._closed = False
        self._write_marker()

        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self.autosave)
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.autosave)
        self._timer.start()
        bridge.changed.connect(self._on_changed)

    # -- while running -------------------------------------------------------------------------
    def _on_changed(self, _what: str) -> None:
        if self._closed:
            return
        if self.session.path != self._marked_path:
            self._write_marker()
        self._debounce.start()  # restarts: a burst of changes saves once

    def _write_marker(self) -> None:
        path = self.session.path
        data = {"pid": os.getpid(), "started": self._started,
                "started_text": datetime.fromtimestamp(self._started).isoformat(timespec="seconds"),
                "path": str(path) if path is not None else None}
        try:
            atomic_write_bytes(self.marker_path, json.dumps(data, indent=1).encode())
            self._marked_path = path
        except OSError as exc:
            log.warning("cannot write the recovery marker %s: %s", self.marker_path, exc)

    def autosave(self) -> bool:
        """Write the recovery copy if there is unsaved, non-empty work not written yet; True if started."""
        if self._closed:
            return False
        session = self.session
        if not session.dirty or not session.history:  # nothing to lose: drop an outdated copy
            if self._saved_revision is not None:
                self._saved_revision = None
                self._submit(self._remove_autosave)
            return False
        revision = session.document.revision
        if revision is self._saved_revision:
            return False
        snap = _snapshot(session)
        if snap is None:  # changed while copying (a worker is regenerating): the next event retries
            self._debounce.start()
            return False
        self._saved_revision = revision
        target = self.autosave_path

        def write() -> None:
            t0 = time.perf_counter()
            save_document(snap, target)  # type: ignore[arg-type]  # reads history, blobs, bodies only
            log.debug("autosaved %d steps in %.1f ms", len(snap.history), 1000 * (time.perf_counter() - t0))
            self.saved.emit(str(target))
        self._submit(write)
        return True

    def _remove_autosave(self) -> None:
        self.autosave_path.unlink(missing_ok=True)

    def _submit(self, task: Callable[[], None]) -> None:
        """Run `task` in the writer thread; a newer task replaces one that has not started yet."""
        with self._lock:
            self._pending = task
            if self._writer is not None:
                return
            self._writer = threading.Thread(target=self._drain, name="sketchforge-autosave", daemon=True)
            self._writer.start()

    def _drain(self) -> None:
        while True:
            with self._lock:
                task, self._pending = self._pending, None
                if task is None:
                    self._writer = None
                    return
            try:
                task()
            except Exception as exc:  # a failed autosave must not disturb the work; say so in the log
                log.warning("autosave to %s failed: %s", self.autosave_path, exc)

    def wait(self, timeout: float = 10.0) -> None:
        """Block until the writer thread is idle (closing, tests)."""
        with self._lock:
            writer = self._writer
        if writer is not None:
            writer.join(timeout)

    def close_cleanly(self) -> None:
        """Stop autosaving and remove this run's marker and recovery copy (on a normal exit)."""
        self._closed = True
        self._debounce.stop()
        self._timer.stop()
        with self._lock:
            self._pending = None
        self.wait()
        self.autosave_path.unlink(missing_ok=True)
        self.marker_path.unlink(missing_ok=True)

    # -- at start ------------------------------------------------------------------------------
    @staticmethod
    def find_unclean() -> list[Path]:
        """Recovery copies whose app is no longer running (left by a crash), newest first."""
        folder = recovery_dir()
        found = []
        for path in folder.glob(f"{AUTOSAVE_PREFIX}*{SUFFIX}"):
            pid = _pid_of(path, AUTOSAVE_PREFIX)
            if pid is None:
                continue
            since = _read_marker(folder / f"{MARKER_PREFIX}{pid}.json").get("started")
            if not _running(pid, since if isinstance(since, (int, float)) else None):
                found.append(path)
        return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)

    @staticmethod
    def offer_recovery(window: QWidget | None, session: Session) -> bool:
        """Ask whether to restore what a crash left behind; True when it was opened into `session`.

        The newest copy is offered; every leftover of dead processes is removed afterwards.
        """
        leftovers = Recovery.find_unclean()
        recovered = False
        if leftovers:
            newest = leftovers[0]
            when = datetime.fromtimestamp(newest.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            pid = _pid_of(newest, AUTOSAVE_PREFIX)
            source = _read_marker(newest.parent / f"{MARKER_PREFIX}{pid}.json").get("path")
            of = f" on {Path(source).name}" if source else ""
            answer = QMessageBox.question(
                window, "Recover unsaved work",
                f"Sketchforge was not closed cleanly. Recover the unsaved work{of} from {when}?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
            if answer == QMessageBox.StandardButton.Yes:
                recovered = Recovery._open(window, session, newest, when)
                if not recovered:
                    leftovers = leftovers[1:]  # keep the copy that failed to open, for a closer look
        for path in leftovers:
            path.unlink(missing_ok=True)
        Recovery._remove_dead_leftovers()
        return recovered

    @staticmethod
    def _open(window: QWidget | None, session: Session, path: Path, when: str) -> bool:
        try:
            session.open(path)
        except Exception as exc:  # a damaged copy: say so, keep the current (empty) document
            QMessageBox.warning(window, "Recovery failed",
                                f"The recovery copy could not be opened: {exc}\nIt is kept as {path}.")
            kept = path.with_name(f"unrecoverable-{path.name}")
            path.replace(kept)
            return False
        # Unsaved work again: it has no file, and closing must ask before dropping it.
        session.path = None
        session.mark_modified()
        session.changed.emit(f"Recovered unsaved work from {when}")
        return True

    @staticmethod
    def _remove_dead_leftovers() -> None:
        """Markers and half-written temp files of processes that are gone."""
        folder = recovery_dir()
        for marker in folder.glob(f"{MARKER_PREFIX}*.json"):
            pid = _pid_of(marker, MARKER_PREFIX)
            since = _read_marker(marker).get("started")
            if pid is not None and not _running(pid, since if isinstance(since, (int, float)) else None):
                marker.unlink(missing_ok=True)
                for tmp in folder.glob(f".{AUTOSAVE_PREFIX}{pid}{SUFFIX}.*.tmp"):
                    tmp.unlink(missing_ok=True)


find_unclean = Recovery.find_unclean
offer_recovery = Recovery.offer_recovery
