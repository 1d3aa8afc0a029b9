"""A user drives the real window: console, strokes, a back end's proposals, undo, files."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from sketchforge.modeling.contract import Interpretation, ModeSpec, Proposal, Report
from sketchforge.modeling.refs import FaceRef
from sketchforge.modeling.session import Session


@dataclass
class ExtrudeTopBackend:
    """A test back end: proposes pushing the top face up by 10 mm, or by 5 mm."""

    name: str = "cad"
    modes: tuple = (ModeSpec("cad", "test extrusions", guide=("Draw anything.",)),)
    options: object = None
    seen: list = field(default_factory=list)

    def configure(self, **changes):
        raise ValueError("no options")

    def prepare(self):
        pass

    def propose(self, sketch, context, top_k=3):
        self.seen.append(sketch)
        body = next(iter(context.bodies))
        solid = context.state.solid(body)
        top = max((f for f in solid.faces if f.planar and f.normal[2] > 0.99), key=lambda f: f.centroid[2])
        face = FaceRef.of(solid, top.index)
        from sketchforge.modeling.operations import Extrude
        ops = [Extrude(body=body, face=face, distance=d) for d in (10.0, 5.0)]
        report = Report({"view": 0.012, "net": 0.004, "fit": 0.03, "total": 0.046})
        return Interpretation((Proposal(ops[0], 0.9), Proposal(ops[1], 0.6))[:top_k], report)


def draw(viewport, points, button=Qt.MouseButton.LeftButton):
    QTest.mousePress(viewport, button, Qt.KeyboardModifier.NoModifier, QPoint(*points[0]))
    for p in points[1:]:
        QTest.mouseMove(viewport, QPoint(*p))
    QTest.mouseRelease(viewport, button, Qt.KeyboardModifier.NoModifier, QPoint(*points[-1]))


def test_a_user_builds_sketches_accepts_undoes_saves_and_exports(make_window, qtbot, dialogs, tmp_path):
    w = make_window(Session())
    s = w.session
    # 1. a model made through the console appears in the document and the history
    w.console.execute("b = session.box((60, 40, 20))")
    qtbot.waitUntil(lambda: len(s.history) == 1)
    assert s.bodies["body1"].volume == pytest.approx(48000)
    assert w.history_panel.findChildren(object)  # the panel exists and was refreshed
    w.viewport.fit_all()

    # 2. no back end for the mode: the user is told so
    s.backends.unregister("cad")
    w.refresh_modes()
    w.set_tool("pen")
    draw(w.viewport, [(100, 100), (140, 110), (180, 120)])
    w.act_interpret.trigger()
    assert "No back end is registered" in w.status_label.text()

    # 3. a back end registers; strokes are recorded with their pixels and the camera
    backend = ExtrudeTopBackend()
    s.backends.register("cad", backend)
    w.refresh_modes()
    draw(w.viewport, [(120, 200), (122, 150), (124, 100)])
    sketch = w.viewport.sketch(w.mode)
    assert len(sketch.strokes) == 2
    assert sketch.strokes[1].uv[0] == pytest.approx([120, 200], abs=1.0)
    assert sketch.strokes[1].uv[-1] == pytest.approx([124, 100], abs=1.0)
    assert sketch.camera == w.viewport.camera()
    assert (sketch.width, sketch.height) == w.viewport.canvas_size()

    # 4. interpret on demand: the best proposal is previewed, Tab cycles, Enter accepts
    w.viewport.setFocus()
    w.act_interpret.trigger()
    qtbot.waitUntil(lambda: len(w.proposals) == 2, timeout=10000)
    seen = backend.seen[-1]
    assert seen.camera == sketch.camera and len(seen.strokes) == 2
    assert np.allclose(seen.strokes[1].uv, sketch.strokes[1].uv)
    assert w.proposal_index == 0
    # the status bar says how long the interpretation took, stage by stage
    assert "46 ms (view 12, network 4, fitting 30)" in w.status_label.text()
    # the ghost shows only the change, labelled as a person reads it, with its confidence
    assert w.viewport.ghost_label.startswith("1/2  Extrude top face +10 mm")
    assert w.viewport.ghost_confidence == pytest.approx(0.9)
    added = w.viewport.ghost_bodies()
    assert len(added) == 1 and added[0].volume == pytest.approx(60 * 40 * 10) and not w.viewport.ghost_removed()
    assert s.sketch.current is w.proposals[0]  # the console sees the same proposals
    QTest.keyClick(w.viewport, Qt.Key.Key_Tab)
    assert w.proposal_index == 1
    QTest.keyClick(w.viewport, Qt.Key.Key_Tab)
    assert w.proposal_index == 0
    QTest.keyClick(w.viewport, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(s.history) == 2 and not w.jobs.busy, timeout=10000)
    assert s.bodies["body1"].volume == pytest.approx(60 * 40 * 30)
    assert w.viewport.strokes() == [] and w.proposals == []

    # 5. undo and redo with the usual shortcuts, consistent with the history panel
    QTest.keySequence(w, "Ctrl+Z")
    assert len(s.history) == 1 and s.bodies["body1"].volume == pytest.approx(48000)
    QTest.keySequence(w, "Ctrl+Shift+Z")
    assert len(s.history) == 2
    assert w.isWindowModified()

    # 6. save, reopen, export
    path = tmp_path / "part.sketchforge"
    dialogs.queue("save", path)
    w.act_save_as.trigger()
    assert path.is_file() and not w.isWindowModified()
    assert "part.sketchforge" in w.windowTitle()
    w.new_document()
    assert s.history == ()
    assert w.open_path(path)
    qtbot.waitUntil(lambda: len(s.history) == 2 and not w.jobs.busy, timeout=10000)
    assert s.bodies["body1"].volume == pytest.approx(72000)
    out = tmp_path / "part.glb"
    dialogs.queue("save", out)
    w.act_export.trigger()
    qtbot.waitUntil(lambda: out.is_file(), timeout=10000)
    import trimesh
    assert trimesh.load(out, force="mesh").bounds is not None


def test_escape_dismisses_and_the_model_stays(make_window, qtbot):
    s = Session()
    s.box((60, 40, 20))
    s.backends.register("cad", ExtrudeTopBackend(), replace=True)
    w = make_window(s)
    w.set_tool("pen")
    draw(w.viewport, [(100, 100), (100, 60)])
    w.act_interpret.trigger()
    qtbot.waitUntil(lambda: len(w.proposals) == 2, timeout=10000)
    QTest.keyClick(w.viewport, Qt.Key.Key_Escape)
    assert w.proposals == [] and len(s.history) == 1
    assert len(w.viewport.strokes()) == 1


def test_live_interpretation_proposes_after_a_pause(make_window, qtbot):
    s = Session()
    s.box((60, 40, 20))
    s.backends.register("cad", ExtrudeTopBackend(), replace=True)
    w = make_window(s)
    w.act_live.setChecked(True)
    w.set_tool("pen")
    draw(w.viewport, [(100, 100), (100, 60)])
    qtbot.waitUntil(lambda: len(w.proposals) == 2, timeout=10000)


def test_closing_with_unsaved_work_asks_first(make_window, qtbot, dialogs):
    from PySide6.QtWidgets import QMessageBox
    w = make_window(Session())
    w.session.box((10, 10, 10))
    assert w.isWindowModified()
    dialogs.queue("question", QMessageBox.StandardButton.Cancel)
    assert not w.close() and w.isVisible()
    dialogs.queue("question", QMessageBox.StandardButton.Discard)
    w.new_document()
    assert w.session.history == ()


def test_a_damaged_file_leaves_the_open_model_alone(make_window, qtbot, tmp_path):
    w = make_window(Session())
    w.session.box((10, 10, 10))
    bad = tmp_path / "bad.sketchforge"
    bad.write_bytes(b"garbage")
    w.open_path(bad, confirmed=True)
    qtbot.waitUntil(lambda: not w.jobs.busy)
    assert "Could not open" in w.status_label.text()
    assert len(w.session.history) == 1


def test_window_layout_and_preferences_persist(make_window, qtbot):
    w = make_window(Session())
    w.act_live.setChecked(True)
    w.set_mode("face")
    assert [w.kind_box.itemData(i) for i in range(w.kind_box.count())] == [None, "ridge", "valley"]
    w.kind_box.setCurrentIndex(2)
    w.resize(760, 560)
    w.close()
    again = make_window(Session())
    assert again.act_live.isChecked() and again.mode == "face"
    assert again.kind_box.currentData() == "valley" and again.viewport.stroke_kind == "valley"
    assert (again.size().width(), again.size().height()) == (760, 560)


def test_the_cad_network_is_an_option_drawn_from_its_declaration_and_kept(make_window, qtbot):
    w = make_window(Session())
    entries = w._option_entries["network"]
    assert set(entries) == {"light", "standard", "reference"} and entries["light"].isChecked()
    assert w.menu_options.isEnabled() and "canvas selection" in entries["light"].text()
    assert w._option_entries["stroke_stage"].isChecked()
    entries["standard"].trigger()
    backend = w.session.backend("cad")
    assert backend.network == "standard" and entries["standard"].isChecked() and not entries["light"].isChecked()
    assert "standard network" in w.status_label.text()
    w.close()
    again = make_window(Session())  # the choice is kept for the next start
    assert again.session.backend("cad").network == "standard"
    assert again._option_entries["network"]["standard"].isChecked()


def _ellipse(cx, cy, rx, ry, n=40):
    t = np.linspace(0, 2 * np.pi, n)
    return [(int(cx + rx * np.cos(a)), int(cy + ry * np.sin(a))) for a in t]


def test_face_mode_draws_a_head_from_the_front_and_refines_it_stroke_by_stroke(make_window, qtbot):
    from sketchforge.neural.face.reconstruct import ASSETS
    if not (ASSETS / "maps.safetensors").is_file():
        pytest.skip("the face networks are not in assets/face")
    w = make_window(Session())
    s = w.session
    w.mode_box.setCurrentIndex(w.mode_box.findData("face"))
    assert w.mode == "face" and "Character faces: Draw the head from the front" in w.status_label.text()
    mirror = w._option_entries["symmetric"]
    assert mirror.isChecked() and s.backend("face").options.symmetric
    # the back end gets ready in the background (networks loaded, one-off costs paid) while the user
    # starts drawing: the window is not kept busy by it
    assert w._preparing is not None and w._preparing.name == "prepare-face" and not w.jobs.busy
    w.set_tool("pen")
    vw, vh = w.viewport.width(), w.viewport.height()
    cx, cy, r = vw // 2, vh // 2, min(vw, vh) // 3
    draw(w.viewport, _ellipse(cx, cy, 0.75 * r, r))                       # the outline
    for ex in (-0.3, 0.3):                                                # the eyes
        draw(w.viewport, _ellipse(cx + ex * r, cy - 0.15 * r, 0.12 * r, 0.06 * r, 16))
    draw(w.viewport, [(int(cx), int(cy - 0.05 * r)), (int(cx - 0.06 * r), int(cy + 0.25 * r)),
                      (int(cx + 0.06 * r), int(cy + 0.27 * r))])          # the nose
    draw(w.viewport, [(int(cx - 0.25 * r), int(cy + 0.5 * r)), (int(cx), int(cy + 0.55 * r)),
                      (int(cx + 0.25 * r), int(cy + 0.5 * r))])           # the mouth
    w.act_interpret.trigger()
    qtbot.waitUntil(lambda: not w.jobs.busy and len(w.proposals) == 1, timeout=60000)
    assert w.viewport.ghost_bodies()                                      # the head is previewed
    QTest.keyClick(w.viewport, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "head" in s.bodies, timeout=30000)
    assert len(w.viewport.strokes()) == 5                                 # the sketch stays to refine
    b = s.bodies["head"].bounds()
    assert b[1][2] - b[0][2] > b[1][0] - b[0][0]                          # taller than wide: a head
    # a valley stroke refines the same head; undo brings the first one back
    w.kind_box.setCurrentIndex(w.kind_box.findData("valley"))
    draw(w.viewport, [(int(cx - 0.2 * r), int(cy - 0.5 * r)), (int(cx), int(cy - 0.52 * r)),
                      (int(cx + 0.2 * r), int(cy - 0.5 * r))])
    w.act_interpret.trigger()
    qtbot.waitUntil(lambda: not w.jobs.busy and len(w.proposals) == 1, timeout=60000)
    assert w.proposals[0].operation.replace
    first = s.bodies["head"]
    w.accept_proposal()
    qtbot.waitUntil(lambda: len(s.history) == 2, timeout=30000)
    assert set(s.bodies) == {"head"} and s.bodies["head"] is not first
    s.undo()
    assert s.bodies["head"] is first
    # the mirror switch reaches the back end
    mirror.setChecked(False)
    assert not s.backend("face").options.symmetric
    w._preparing.join(60)
    assert s.backend("face").prepared
    # orbiting away puts the strokes aside; Home brings them and their view back
    camera = w.viewport.camera()
    w.viewport.set_view("iso")
    assert not w.viewport.strokes() and s.sketch.parked and w.act_return_to_sketch.isEnabled()
    w.act_return_to_sketch.trigger()
    assert len(w.viewport.strokes()) == 6 and w.viewport.camera() == camera


def test_a_scribble_in_face_mode_is_refused_in_the_status_bar_and_nothing_changes(make_window, qtbot):
    from sketchforge.neural.face.reconstruct import ASSETS
    if not (ASSETS / "maps.safetensors").is_file():
        pytest.skip("the face networks are not in assets/face")
    w = make_window(Session())
    w.mode_box.setCurrentIndex(w.mode_box.findData("face"))
    w.set_tool("pen")
    vw, vh = w.viewport.width(), w.viewport.height()
    rng = np.random.default_rng(5)
    p, a, tangle = np.array([vw / 2, vh / 2]), 0.0, []
    for _ in range(300):                                  # a tangle drawn in one go
        a += rng.normal(0, 0.8)
        p = np.clip(p + 6 * np.array([np.cos(a), np.sin(a)]), [0.3 * vw, 0.3 * vh], [0.7 * vw, 0.7 * vh])
        tangle.append((int(p[0]), int(p[1])))
    draw(w.viewport, tangle)
    w.act_interpret.trigger()
    qtbot.waitUntil(lambda: not w.jobs.busy and "scribble" in w.status_label.text(), timeout=60000)
    assert "outline" in w.status_label.text() and not w.proposals
    assert not w.session.bodies and not w.session.history
    assert len(w.viewport.strokes()) == 1                 # the drawing is kept, to undo or clear


def test_asking_while_a_job_runs_says_so_and_reads_the_sketch_when_it_is_done(make_window, qtbot):
    import time
    w = make_window(Session())
    w.set_tool("pen")
    draw(w.viewport, [(100, 100), (160, 110), (220, 100)])
    w.jobs.run("Waiting", lambda progress: time.sleep(0.5), lambda result: None, lambda message: None)
    assert w.jobs.busy
    w.act_interpret.trigger()
    assert "Still working" in w.status_label.text()
    qtbot.waitUntil(lambda: not w.jobs.busy and "Nothing recognised" in w.status_label.text(), timeout=30000)


def test_part_suggestions_offer_library_strokes_and_one_click_takes_one(make_window, qtbot):
    from sketchforge.neural.face.reconstruct import ASSETS
    if not (ASSETS / "suggest.safetensors").is_file():
        pytest.skip("the stroke-suggestion files are not in assets/face")
    w = make_window(Session())
    w.act_suggest.trigger()
    assert "face mode" in w.status_label.text()
    w.mode_box.setCurrentIndex(w.mode_box.findData("face"))
    w.set_tool("pen")
    vw, vh = w.viewport.width(), w.viewport.height()
    cx, cy, r = vw // 2, vh // 2, min(vw, vh) // 3
    draw(w.viewport, _ellipse(cx, cy, 0.75 * r, r))
    draw(w.viewport, _ellipse(cx + 0.3 * r, cy - 0.1 * r, 0.14 * r, 0.07 * r, 20))   # a right eye
    w.suggestion_panel.part_box.setCurrentIndex(w.suggestion_panel.part_box.findData("eye"))
    w.act_suggest.trigger()
    qtbot.waitUntil(lambda: w.suggestion_panel.result is not None, timeout=30000)
    result = w.suggestion_panel.result
    assert result.part == "eye" and result.side == "right" and len(result.candidates) == 5
    assert w.suggestion_panel.list.count() == 5 and w.viewport.ghost_strokes()   # the best one is shown dashed
    # the ghost sits where the eye was drawn
    ghost = np.concatenate(w.viewport.ghost_strokes())
    assert abs(ghost[:, 0].mean() - (cx + 0.3 * r)) < 0.15 * r and abs(ghost[:, 1].mean() - (cy - 0.1 * r)) < 0.15 * r
    w.suggestion_panel.list.setCurrentRow(2)
    assert np.allclose(np.concatenate(w.viewport.ghost_strokes()), np.concatenate(result.candidates[2][1]))
    item = w.suggestion_panel.list.item(2)
    rect = w.suggestion_panel.list.visualItemRect(item)
    QTest.mouseClick(w.suggestion_panel.list.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     rect.center())
    strokes = w.viewport.strokes()
    assert len(strokes) == 1 + len(result.candidates[2][1])      # the outline stays, the eye is replaced
    assert not w.viewport.ghost_strokes() and w.suggestion_panel.result is None


def test_points_mode_makes_a_colored_cloud_from_strokes_and_a_prompt_and_recolors_it(make_window, qtbot):
    from sketchforge.neural.points.backend import ASSETS
    from sketchforge.neural.text import encoder_available
    if not (ASSETS / "shape.safetensors").is_file() or not encoder_available():
        pytest.skip("the points networks or the text encoder are not installed")
    w = make_window(Session())
    s = w.session
    s.backend("points").configure(quality=12)
    w.mode_box.setCurrentIndex(w.mode_box.findData("points"))
    assert w.mode == "points" and w.prompt_action.isVisible()
    w.set_tool("pen")
    vw, vh = w.viewport.width(), w.viewport.height()
    x0, x1, y0, y1 = int(0.35 * vw), int(0.65 * vw), int(0.25 * vh), int(0.75 * vh)
    ym = (y0 + y1) // 2
    draw(w.viewport, [(x0, y0), (x1, y0), (x1, ym), (x0, ym), (x0, y0)])      # the back
    draw(w.viewport, [(x0, ym), (x1, ym + 10), (x1, ym + 25), (x0, ym + 15)])  # the seat
    for x in (x0 + 5, x1 - 5):
        draw(w.viewport, [(x, ym + 15), (x, y1)])                              # two legs
    QTest.keyClicks(w.prompt_edit, "a wooden chair with a red seat")
    assert s.sketch.prompt == "a wooden chair with a red seat"
    w.act_interpret.trigger()
    assert w.progress.isVisible() and w.cancel_button.isVisible()             # sampling shows progress
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=180000)
    assert len(w.proposals) == 1, w.status_label.text()
    assert w.viewport.ghost_bodies()
    w.accept_proposal()
    qtbot.waitUntil(lambda: "cloud1" in s.bodies, timeout=30000)
    cloud = s.bodies["cloud1"]
    assert len(cloud.points) >= 2048 and cloud.colors is not None
    assert not w.viewport.strokes()                                            # the sketch is used up
    # a new prompt and no strokes: the cloud is re-colored, not a point moves
    w.prompt_edit.clear()
    QTest.keyClicks(w.prompt_edit, "a bright blue chair")
    w.act_interpret.trigger()
    qtbot.waitUntil(lambda: not w.jobs.busy and len(w.proposals) == 1, timeout=180000)
    assert w.proposals[0].operation.id == "recolor"
    w.accept_proposal()
    qtbot.waitUntil(lambda: len(s.history) == 2, timeout=30000)
    assert s.bodies["cloud1"].points.tobytes() == cloud.points.tobytes()
    # Cancel stops a sampling and changes nothing
    w.act_interpret.trigger()
    w.cancel_button.click()
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=180000)
    assert len(s.history) == 2 and "Cancelled" in w.status_label.text()
