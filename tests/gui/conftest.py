"""Widget tests: offscreen Qt, isolated settings, patched modal dialogs, one window factory."""

from __future__ import annotations

import os
from collections import deque

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")

from PySide6.QtCore import QCoreApplication, Qt  # noqa: E402

# as the app does: GL views share contexts (set before pytest-qt creates the QApplication)
QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


@pytest.fixture(autouse=True)
def app_home(tmp_path, monkeypatch):
    """Each test gets its own settings and recovery folder."""
    home = tmp_path / "home"
    monkeypatch.setenv("SKETCHFORGE_HOME", str(home))
    return home


class Dialogs:
    """Answers for modal dialogs, queued by the test; an unexpected dialog fails the test."""

    def __init__(self) -> None:
        self.answers: dict[str, deque] = {}
        self.seen: list[tuple[str, str]] = []

    def queue(self, kind: str, *answers) -> None:
        self.answers.setdefault(kind, deque()).extend(answers)

    def take(self, kind: str, text: str):
        self.seen.append((kind, text))
        q = self.answers.get(kind)
        if not q:
            raise AssertionError(f"unexpected {kind} dialog: {text}")
        return q.popleft()


@pytest.fixture(autouse=True)
def dialogs(monkeypatch):
    """Patch QMessageBox and QFileDialog so no modal dialog ever blocks a test."""
    from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox
    d = Dialogs()
    for name in ("question", "warning", "critical", "information"):
        def box(parent, title, text, *args, _kind=name, **kwargs):
            if _kind in ("warning", "critical", "information") and not d.answers.get(_kind):
                d.seen.append((_kind, text))
                return QMessageBox.StandardButton.Ok
            return d.take(_kind, text)
        monkeypatch.setattr(QMessageBox, name, staticmethod(box))
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(d.take("open", str(a[1:2]))), "")))
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(d.take("save", str(a[1:2]))), "")))
    monkeypatch.setattr(QInputDialog, "getText",
                        staticmethod(lambda *a, **k: (d.take("text", str(a[1:2])), True)))
    return d


@pytest.fixture
def make_window(qtbot, dialogs):
    """Build main windows; at the end close them (discarding changes) and check none leaked."""
    from PySide6.QtWidgets import QApplication

    from sketchforge.app.window import MainWindow
    made = []

    def make(session=None, **kwargs):
        w = MainWindow(session, **kwargs)  # closed below, after unsaved-work prompts are switched off
        w.show()
        qtbot.waitExposed(w)
        made.append(w)
        return w

    yield make
    for w in made:
        w.jobs.wait()
        w.confirm_discard = lambda: True
        w.close()
        w.deleteLater()
    QApplication.processEvents()
    leaked = [w for w in QApplication.topLevelWidgets() if w.isVisible() and w.objectName() != "qtbot"]
    assert not leaked, f"windows left open: {leaked}"
