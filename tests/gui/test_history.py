"""The history panel: the list follows the document; the form edits a step through the Session."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from sketchforge.app.bridge import SessionBridge
from sketchforge.app.history import FieldError, HistoryPanel, parse_numbers, parse_points
from sketchforge.app.workers import JobRunner
from sketchforge.modeling.session import Session

pytestmark = pytest.mark.gui


@pytest.fixture
def panel(qtbot):
    session = Session()
    jobs = JobRunner()
    bridge = SessionBridge(session)
    p = HistoryPanel(session, bridge, jobs)
    qtbot.addWidget(p)
    p.show()
    yield p
    jobs.wait()
    bridge.detach()


def texts(panel: HistoryPanel) -> list[str]:
    return [panel.list.item(k).text() for k in range(panel.list.count())]


def wait_idle(qtbot, panel: HistoryPanel) -> None:
    qtbot.waitUntil(lambda: not panel.jobs.busy, timeout=5000)


def test_list_follows_apply_undo_redo(qtbot, panel):
    s = panel.session
    assert texts(panel) == [] and not panel.undo_button.isEnabled()
    body = s.box((80, 50, 16))
    assert texts(panel) == ["1. Box 80 x 50 x 16"]
    panel.select_step(0)
    s.extrude(body, "top", 5)
    assert texts(panel) == ["1. Box 80 x 50 x 16", "2. Extrude top face +5 mm"]
    assert panel.selected_step() == 0  # a new step keeps the selection
    assert panel.undo_button.isEnabled() and not panel.redo_button.isEnabled()
    assert panel.undo_button.toolTip() == "Undo Extrude top face +5 mm"

    qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
    assert texts(panel) == ["1. Box 80 x 50 x 16"]
    assert panel.redo_button.isEnabled() and panel.redo_button.toolTip() == "Redo Extrude top face +5 mm"
    qtbot.mouseClick(panel.redo_button, Qt.MouseButton.LeftButton)
    assert len(texts(panel)) == 2 and len(s.history) == 2


def test_form_shows_parameters(panel):
    s = panel.session
    body = s.box((80, 50, 16))
    s.add(body, "top", [(0, 0), (10, 0), (10, 10)], 3)
    panel.select_step(1)
    form = panel.form
    assert form.widget("polygon").text() == "(0, 0) (10, 0) (10, 10)"
    assert form.widget("distance").value() == 3.0
    face = form.findChild(QLabel, "ref:face")
    assert face.text().startswith("face facing (0,0,1)")
    assert form.widget("face") is None  # references are shown, not edited
    panel.select_step(0)
    assert panel.form.widget("size").text() == "80, 50, 16"


def test_editing_a_distance_regenerates_the_model(qtbot, panel):
    s = panel.session
    body = s.box((80, 50, 16))
    s.extrude(body, "top", 5)
    s.add(body, "top", [(0, 0), (10, 0), (10, 10)], 3)  # a later step, regenerated on the moved face
    panel.select_step(1)
    panel.form.widget("distance").setValue(12.0)
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    assert not panel.apply_button.isEnabled()  # busy while the worker regenerates
    wait_idle(qtbot, panel)
    qtbot.waitUntil(lambda: s.history[1].distance == 12.0)
    assert panel.message_text() == ""
    assert s.solid(body).bounds()[1][2] == pytest.approx(16 + 12 + 3)
    assert texts(panel)[1] == "2. Extrude top face +12 mm"
    assert panel.selected_step() == 1 and panel.form.widget("distance").value() == 12.0
    assert s.document.undo_text.startswith("Edit Extrude top face")
    s.undo()
    assert s.history[1].distance == 5.0


def test_a_bad_value_shows_an_error_and_leaves_the_model(qtbot, panel):
    s = panel.session
    body = s.box((80, 50, 16))
    s.extrude(body, "top", 5)
    before = s.document.revision
    panel.select_step(1)
    panel.form.widget("distance").setValue(0.0)
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, panel)
    qtbot.waitUntil(lambda: panel.message_text() != "")
    assert "zero" in panel.message_text() and "c62828" in panel.message.styleSheet()
    assert s.document.revision is before and s.history[1].distance == 5.0

    panel.select_step(0)  # text that is not numbers never reaches the model
    panel.form.widget("size").setText("80, wide, 16")
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    assert "size: 'wide' is not a number" in panel.message_text()
    assert not panel.jobs.busy and s.document.revision is before


def test_roll_back_here(qtbot, panel):
    s = panel.session
    body = s.box((80, 50, 16))
    s.extrude(body, "top", 5)
    s.extrude(body, "top", 2)
    panel.select_step(0)
    qtbot.mouseClick(panel.rollback_button, Qt.MouseButton.LeftButton)
    assert texts(panel) == ["1. Box 80 x 50 x 16"] and panel.selected_step() == 0
    assert panel.undo_button.toolTip() == "Undo Roll back to step 1"
    s.undo()
    assert len(texts(panel)) == 3


def test_delete_is_refused_when_a_later_step_depends_on_it(qtbot, panel):
    s = panel.session
    body = s.box((80, 50, 16))
    s.extrude(body, "top", 5)
    panel.select_step(0)
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, panel)
    qtbot.waitUntil(lambda: panel.message_text() != "")
    assert "a later step depends on it" in panel.message_text()
    assert len(s.history) == 2

    panel.select_step(1)
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, panel)
    qtbot.waitUntil(lambda: len(s.history) == 1)
    assert texts(panel) == ["1. Box 80 x 50 x 16"] and panel.selected_step() == 0
    assert panel.message_text() == ""


def test_buttons_wait_while_a_job_runs(qtbot, panel):
    panel.session.box((80, 50, 16))
    panel.select_step(0)
    release = threading.Event()
    panel.jobs.run("something long", lambda progress: release.wait(5))
    assert not any(b.isEnabled() for b in (panel.apply_button, panel.delete_button, panel.rollback_button,
                                             panel.undo_button))
    release.set()
    wait_idle(qtbot, panel)
    assert panel.apply_button.isEnabled() and panel.undo_button.isEnabled()


def test_number_lists_parse_back():
    assert parse_numbers("40, 30 20", "size", 3) == [40.0, 30.0, 20.0]
    assert parse_points("(0,0) (10, 0) (10,10)", "polygon") == [[0, 0], [10, 0], [10, 10]]
    with pytest.raises(FieldError, match="needs 3 numbers"):
        parse_numbers("1, 2", "size", 3)
    with pytest.raises(FieldError, match="one pair of brackets"):
        parse_points("0,0 10,0", "polygon")
