"""What a new user meets: the start page, templates, Help, a status bar that is never stale, the
console drawing in the window, and actions that wait their turn instead of being dropped."""

from __future__ import annotations

import pytest
from PySide6.QtTest import QTest

from sketchforge.modeling.session import Session


def test_the_first_launch_shows_the_start_page_and_a_template_starts_a_model(make_window, qtbot):
    w = make_window(Session())
    assert w.stack.currentWidget() is w.start_page  # an empty model: the start page, not a blank canvas
    titles = [a.text() for a in w.menus["menu_templates"].actions()]
    assert {"Box", "Plate", "Cylinder"} <= {t.split(" (")[0] for t in titles}
    w.start_page.template_chosen.emit("plate")
    qtbot.waitUntil(lambda: bool(w.session.bodies) and not w.jobs.busy, timeout=20000)
    assert w.stack.currentWidget() is w.viewport
    body = next(iter(w.session.bodies.values()))
    lo, hi = body.bounds()
    assert sorted(hi - lo) == pytest.approx([6, 60, 80])
    assert w.session.undo() and not w.session.bodies  # a normal, undoable step
    # File > Start page brings it back; Start sketching dismisses it
    w.act_start_page.trigger()
    assert w.stack.currentWidget() is w.start_page
    w.start_page.dismissed.emit()
    assert w.stack.currentWidget() is w.viewport


def test_the_face_template_is_a_head_with_its_strokes_ready_to_refine(make_window, qtbot):
    from sketchforge.neural.face.reconstruct import ASSETS
    if not (ASSETS / "maps.safetensors").is_file():
        pytest.skip("the face networks are not in assets/face")
    w = make_window(Session())
    w.new_from_template("face")
    qtbot.waitUntil(lambda: "head" in w.session.bodies and not w.jobs.busy, timeout=60000)
    assert w.mode == "face" and len(w.viewport.strokes()) > 10
    assert "refine" in w.status_label.text()


def test_help_lists_the_shortcuts_and_every_mode_has_a_guide(make_window, monkeypatch):
    from PySide6.QtWidgets import QDialog
    w = make_window(Session(), start_page=False)
    shown = []
    monkeypatch.setattr(QDialog, "exec", lambda self: shown.append(self) or 0)
    w.act_shortcuts.trigger()
    w.act_guide.trigger()
    w.act_about.trigger()
    assert len(shown) == 3
    from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItemIterator
    texts = " ".join(lbl.text() for d in shown for lbl in d.findChildren(QLabel))
    it = QTreeWidgetItemIterator(shown[0].findChildren(QTreeWidget)[0])
    while it.value():
        texts += f" {it.value().text(0)} {it.value().text(1)}"
        it += 1
    assert "Interpret sketch" in texts and "Space" in texts
    assert "Character faces" in texts and "CAD operations" in texts


def test_the_console_draws_and_reads_in_the_window_and_the_status_follows(make_window, qtbot):
    w = make_window(Session(), start_page=False)
    s = w.session
    assert w.console.execute("session.box((60, 40, 20))")
    qtbot.waitUntil(lambda: "Box 60 x 40 x 20" in w.status_label.text())  # said, not stale
    w.viewport.set_view("iso")
    w.viewport.fit_all()
    vw, vh = w.viewport.width(), w.viewport.height()
    assert w.console.execute(f"session.sketch.add_stroke([[{vw / 2}, {vh / 2}], [{vw / 2 + 40}, {vh / 2 - 30}]])")
    assert len(w.viewport.strokes()) == 1  # drawn from the console, shown at once
    assert "1 stroke" in w.status_label.text()
    w.clear_strokes()
    assert "Strokes cleared" in w.status_label.text() and not w.viewport.strokes()
    w.clear_strokes()
    assert "no strokes to clear" in w.status_label.text()
    # undo from the window says what it undid
    QTest.keySequence(w, "Ctrl+Z")
    assert "Undo Box" in w.status_label.text() and not s.bodies


def test_an_export_asked_for_during_an_open_waits_its_turn(make_window, qtbot, tmp_path):
    s = Session()
    s.box((10, 10, 10))
    path = s.save(tmp_path / "m.sketchforge")
    w = make_window(Session(), start_page=False)
    w.session.box((20, 20, 20))
    out = tmp_path / "m.glb"
    assert w.open_path(path, confirmed=True)
    assert not w.export_path(out)  # not dropped: queued, and the user is told
    assert "starts when it is done" in w.status_label.text()
    qtbot.waitUntil(lambda: out.is_file() and not w.jobs.busy, timeout=20000)
    assert w.session.bodies["body1"].volume == pytest.approx(1000)


def test_a_name_typed_without_an_extension_takes_the_chosen_filter(make_window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from sketchforge.app.window import with_filter_suffix
    assert with_filter_suffix("/tmp/part", "GLB (*.glb)") == "/tmp/part.glb"
    assert with_filter_suffix("/tmp/part.step", "GLB (*.glb)") == "/tmp/part.step"
    w = make_window(Session(), start_page=False)
    w.session.box((10, 10, 10))
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(tmp_path / "part"), "OBJ (*.obj)")))
    w.export_dialog()
    qtbot.waitUntil(lambda: (tmp_path / "part.obj").is_file() and not w.jobs.busy, timeout=20000)
