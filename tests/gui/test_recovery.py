"""Crash recovery: autosave after changes, offer what a crashed run left, clean up on a clean exit."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from PySide6.QtWidgets import QMessageBox

from sketchforge.app.bridge import SessionBridge
from sketchforge.app.paths import recovery_dir
from sketchforge.app.recovery import Recovery
from sketchforge.modeling.archive import load_document, save_document
from sketchforge.modeling.session import Session

pytestmark = pytest.mark.gui

Yes, No = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No


@pytest.fixture
def running(qtbot):
    """A session with its Recovery, closed cleanly at the end."""
    session = Session()
    bridge = SessionBridge(session)
    rec = Recovery(session, bridge)
    yield session, rec
    rec.close_cleanly()
    bridge.detach()


def model(session: Session) -> None:
    body = session.box((80, 50, 16))
    session.extrude(body, "top", 5)
    session.add(body, "top", [(0, 0), (10, 0), (10, 10)], 3)


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def leftover(session: Session, path: str | None = None) -> tuple[int, object]:
    """The files a crashed run with `session`'s document would have left behind."""
    pid = dead_pid()
    autosave = recovery_dir() / f"autosave-{pid}.sketchforge"
    save_document(session.document, autosave)
    marker = recovery_dir() / f"running-{pid}.json"
    marker.write_text(json.dumps({"pid": pid, "started": 0.0, "path": path}))
    return pid, autosave


def history_json(session_or_doc) -> list:
    return [op.to_json() for op in session_or_doc.history]


def test_autosave_follows_changes_once_per_burst(qtbot, running):
    session, rec = running
    marker = json.loads(rec.marker_path.read_text())
    assert marker["pid"] == os.getpid() and marker["path"] is None
    saves = []
    rec.saved.connect(saves.append)
    with qtbot.waitSignal(rec.saved, timeout=5000):
        model(session)  # three changes in a burst
    qtbot.wait(300)
    assert saves == [str(rec.autosave_path)]
    doc = load_document(rec.autosave_path, session.operations.get)
    assert history_json(doc) == history_json(session)
    assert Recovery.find_unclean() == []  # this run is alive: its copy is not a leftover


def test_saving_the_document_drops_the_outdated_copy(qtbot, running, tmp_path):
    session, rec = running
    with qtbot.waitSignal(rec.saved, timeout=5000):
        model(session)
    session.save(tmp_path / "part.sketchforge")
    qtbot.waitUntil(lambda: not rec.autosave_path.exists(), timeout=3000)
    assert json.loads(rec.marker_path.read_text())["path"] == str(tmp_path / "part.sketchforge")
    with qtbot.waitSignal(rec.saved, timeout=5000):
        session.undo()  # unsaved again
    assert len(load_document(rec.autosave_path, session.operations.get).history) == 2


def test_close_cleanly_removes_the_files(qtbot, running):
    session, rec = running
    with qtbot.waitSignal(rec.saved, timeout=5000):
        session.box()
    assert rec.autosave_path.exists() and rec.marker_path.exists()
    rec.close_cleanly()
    assert not rec.autosave_path.exists() and not rec.marker_path.exists()
    session.box()  # no autosave after closing
    qtbot.wait(300)
    assert not rec.autosave_path.exists()


def test_a_crash_leftover_is_offered_and_recovered(qtbot, dialogs):
    crashed = Session()
    model(crashed)
    pid, autosave = leftover(crashed, path="/somewhere/bracket.sketchforge")
    assert Recovery.find_unclean() == [autosave]

    dialogs.queue("question", Yes)
    session = Session()
    assert Recovery.offer_recovery(None, session) is True
    kind, text = dialogs.seen[-1]
    assert kind == "question" and "not closed cleanly" in text and "bracket.sketchforge" in text
    assert history_json(session) == history_json(crashed)
    assert session.dirty and session.path is None
    assert session.solid("body1").volume == pytest.approx(crashed.solid("body1").volume)
    assert list(recovery_dir().iterdir()) == []  # the leftovers are gone
    assert Recovery.find_unclean() == []


def test_declining_deletes_the_leftover(qtbot, dialogs):
    crashed = Session()
    model(crashed)
    _, autosave = leftover(crashed)
    dialogs.queue("question", No)
    session = Session()
    assert Recovery.offer_recovery(None, session) is False
    assert session.history == () and not autosave.exists()
    assert list(recovery_dir().iterdir()) == []


def test_nothing_is_asked_without_leftovers(qtbot, dialogs, running):
    session, _ = running
    assert Recovery.offer_recovery(None, session) is False  # an unexpected dialog would fail the test
    assert dialogs.seen == []
