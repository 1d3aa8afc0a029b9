"""The viewport as a sketch canvas: strokes in widget pixels, the camera they belong to, the tools;
the strokes live in a SketchState the viewport draws and feeds; the real picture under Xvfb."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from sketchforge.app.viewport import HOLD_MESSAGE, PARK_MESSAGE, Viewport
from sketchforge.modeling.bodies import MeshBody, PointCloudBody
from sketchforge.modeling.camera import Camera
from sketchforge.modeling.contract import StrokeKind
from sketchforge.modeling.sketch import Sketch, Stroke
from sketchforge.modeling.sketchstate import SketchState

NONE = Qt.KeyboardModifier.NoModifier
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def make_viewport(qtbot):
    def make(width=640, height=480, sketch=None):
        v = Viewport(sketch=sketch)
        qtbot.addWidget(v)
        v.resize(width, height)
        v.show()
        qtbot.waitExposed(v)
        return v
    return make


@pytest.fixture
def viewport(make_viewport):
    return make_viewport()


def drag(qtbot, widget, points, button=LEFT, modifier=NONE):
    qtbot.mousePress(widget, button, modifier, QPoint(*points[0]))
    for p in points[1:]:
        qtbot.mouseMove(widget, QPoint(*p))
    qtbot.mouseRelease(widget, button, modifier, QPoint(*points[-1]))


def wheel(widget, angle=0, pixels=0):
    ev = QWheelEvent(QPointF(100, 100), QPointF(widget.mapToGlobal(QPoint(100, 100))), QPoint(0, pixels),
                     QPoint(0, angle), Qt.MouseButton.NoButton, NONE, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, ev)


def cameras_equal(a: Camera, b: Camera, w=640, h=480) -> bool:
    pts = np.random.default_rng(0).uniform(-40, 40, (20, 3))
    return np.allclose(a.project(pts, w, h), b.project(pts, w, h), atol=1e-6)


PATH = [(100, 120), (130, 140), (170, 150), (220, 151), (260, 170)]


def test_a_pen_stroke_lands_in_the_sketch_at_the_pixels_drawn(qtbot, viewport):
    viewport.set_tool("pen")
    with qtbot.waitSignal(viewport.stroke_finished), qtbot.waitSignal(viewport.strokes_changed):
        drag(qtbot, viewport, PATH)
    sketch = viewport.sketch()
    assert (sketch.width, sketch.height) == (640, 480) == viewport.canvas_size()
    assert sketch.camera == viewport.camera()
    assert len(sketch.strokes) == 1
    pts = sketch.strokes[0].points
    assert pts.shape == (len(PATH), 4)
    np.testing.assert_allclose(pts[:, :2], PATH, atol=1.0)
    assert (pts[:, 2] == 1.0).all(), "a mouse stroke has full pressure"
    assert pts[0, 3] == 0.0 and (np.diff(pts[:, 3]) >= 0).all(), "times run from the stroke's start"
    assert sketch.strokes[0].kind is None
    assert sketch.mode == "cad" and viewport.sketch("face", "a smile").prompt == "a smile"


def test_stroke_kinds_are_recorded(qtbot, viewport):
    viewport.set_tool("pen")
    viewport.stroke_kind = "ridge"
    drag(qtbot, viewport, PATH)
    viewport.stroke_kind = None
    drag(qtbot, viewport, [(300, 300), (350, 320)])
    viewport.stroke_kind = "water"
    drag(qtbot, viewport, [(400, 100), (420, 200)])
    assert [s.kind for s in viewport.strokes()] == ["ridge", None, "water"]
    data = viewport.sketch("scene").to_json()
    assert data["strokes"][0]["kind"] == "ridge" and "kind" not in data["strokes"][1]


def test_a_click_without_a_drag_draws_nothing(qtbot, viewport):
    viewport.set_tool("pen")
    qtbot.mouseClick(viewport, LEFT, NONE, QPoint(50, 50))
    assert viewport.strokes() == []


def test_the_eraser_removes_the_whole_stroke_under_the_cursor(qtbot, viewport):
    viewport.set_tool("pen")
    drag(qtbot, viewport, PATH)
    drag(qtbot, viewport, [(100, 400), (300, 400)])
    viewport.set_tool("eraser")
    qtbot.mouseClick(viewport, LEFT, NONE, QPoint(500, 50))  # empty space
    assert len(viewport.strokes()) == 2
    with qtbot.waitSignal(viewport.strokes_changed):
        qtbot.mouseClick(viewport, LEFT, NONE, QPoint(200, 152))  # 2 px off the first stroke's segment
    (left,) = viewport.strokes()
    np.testing.assert_allclose(left.uv[[0, -1]], [(100, 400), (300, 400)])
    drag(qtbot, viewport, [(150, 380), (150, 420)])  # dragging across erases too
    assert viewport.strokes() == []


def test_undo_and_clear_strokes(qtbot, viewport):
    viewport.set_tool("pen")
    drag(qtbot, viewport, PATH)
    drag(qtbot, viewport, [(100, 400), (300, 400)])
    assert viewport.undo_stroke() is True
    assert len(viewport.strokes()) == 1 and viewport.strokes()[0].uv[0].tolist() == [100, 120]
    drag(qtbot, viewport, [(100, 400), (300, 400)])
    with qtbot.waitSignal(viewport.strokes_changed):
        viewport.clear_strokes()
    assert viewport.strokes() == [] and viewport.undo_stroke() is False


def test_the_camera_holds_still_while_strokes_are_on_the_canvas(qtbot, viewport):
    viewport.set_tool("pen")
    drag(qtbot, viewport, PATH)
    viewport.set_tool("navigate")
    before = viewport.camera()
    with qtbot.waitSignal(viewport.message) as said:
        drag(qtbot, viewport, [(300, 200), (360, 230), (400, 260)])  # orbit
    assert said.args == [HOLD_MESSAGE]
    drag(qtbot, viewport, [(300, 200), (360, 230)], Qt.MouseButton.MiddleButton)  # pan
    drag(qtbot, viewport, [(300, 200), (360, 230)], LEFT, Qt.KeyboardModifier.ShiftModifier)
    wheel(viewport, angle=240)
    wheel(viewport, pixels=-40)
    assert viewport.set_view("top") is False and viewport.fit_all() is False
    assert viewport.set_camera(Camera.looking_at((0, 0, 0), 300, 10, 20)) is False
    assert viewport.camera() == before

    viewport.clear_strokes()
    drag(qtbot, viewport, [(300, 200), (360, 230), (400, 260)])
    orbited = viewport.camera()
    assert orbited != before and orbited.target == before.target
    wheel(viewport, angle=240)
    zoomed = viewport.camera()
    assert np.linalg.norm(np.subtract(zoomed.eye, zoomed.target)) < np.linalg.norm(
        np.subtract(orbited.eye, orbited.target))
    wheel(viewport, pixels=-40)  # a trackpad scrolls by pixels
    assert viewport.camera() != zoomed
    assert viewport.set_view("front") is True


def test_panning_keeps_the_point_under_the_cursor(qtbot, viewport):
    cam = viewport.camera()
    target = np.asarray(cam.target)
    np.testing.assert_allclose(cam.project(target, 640, 480)[0], (320, 240), atol=1e-9)
    drag(qtbot, viewport, [(320, 240), (340, 250), (350, 260)], Qt.MouseButton.MiddleButton)
    np.testing.assert_allclose(viewport.camera().project(target, 640, 480)[0], (350, 260), atol=1e-6)
    drag(qtbot, viewport, [(350, 260), (330, 250)], LEFT, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_allclose(viewport.camera().project(target, 640, 480)[0], (330, 250), atol=1e-6)


def test_sketch_json_round_trips_into_another_viewport(qtbot, viewport, make_viewport):
    viewport.set_tool("pen")
    viewport.stroke_kind = "valley"
    drag(qtbot, viewport, PATH)
    viewport.stroke_kind = None
    drag(qtbot, viewport, [(100, 400), (300, 400), (310, 300)])
    sketch = viewport.sketch("face", "a frown")
    again = Sketch.from_json(sketch.to_json())
    other = make_viewport()
    other.set_view("top")
    with qtbot.waitSignal(other.strokes_changed):
        other.load_sketch(again)
    assert cameras_equal(other.camera(), sketch.camera)
    loaded = other.sketch("face", "a frown")
    assert [s.kind for s in loaded.strokes] == ["valley", None]
    for a, b in zip(loaded.strokes, sketch.strokes):
        np.testing.assert_allclose(a.points, b.points, atol=1e-9)
    assert loaded.to_json()["strokes"] == sketch.to_json()["strokes"]


def test_a_sketch_from_another_canvas_size_stays_on_its_model_points(make_viewport):
    cam = Camera((120.0, -150.0, 110.0), (0.0, 0.0, 10.0), (0.0, 0.0, 1.0), "perspective", 35.0)
    world = np.array([[0, 0, 10], [20, -10, 30], [-25, 15, 0], [30, 30, 5]], float)
    uv = cam.project(world, 512, 512)
    sketch = Sketch(cam, 512, 512, (Stroke(np.c_[uv, np.ones(4), np.arange(4.0)]),))
    v = make_viewport(640, 400)
    v.load_sketch(sketch)
    w, h = v.canvas_size()
    np.testing.assert_allclose(v.strokes()[0].uv, v.camera().project(world, w, h), atol=1e-6)


def test_strokes_follow_the_model_when_the_view_is_resized(qtbot, viewport):
    world = np.array([[0, 0, 0], [20, -10, 30], [-25, 15, 0]], float)
    cam = viewport.camera()
    uv = cam.project(world, 640, 480)
    viewport.load_sketch(Sketch(cam, 640, 480, (Stroke(np.c_[uv, np.ones(3), np.zeros(3)]),)))
    viewport.resize(800, 420)
    qtbot.waitUntil(lambda: viewport.canvas_size() == (800, 420))
    np.testing.assert_allclose(viewport.strokes()[0].uv, viewport.camera().project(world, 800, 420), atol=1e-6)


def test_set_camera_reproduces_the_view(viewport):
    for cam in (Camera.looking_at((5, -3, 12), 240.0, -30.0, 25.0, 40.0),
                Camera((0, 0, 300), (0, 0, 0), (0, 1, 0), "perspective", 30.0),      # straight down
                Camera((0, 0, -300), (0, 0, 0), (1, 0, 0), "perspective", 30.0)):    # straight up
        assert viewport.set_camera(cam)
        assert cameras_equal(viewport.camera(), cam)
    ortho = Camera((100, -100, 100), (0, 0, 0), (0, 0, 1), "orthographic", height=80.0)
    viewport.set_camera(ortho)
    # Shown in perspective: the scale at the target matches.
    near_target = np.array([[0, 0, 0], [1, 1, 0]], float)
    a, b = viewport.camera().project(near_target, 640, 480), ortho.project(near_target, 640, 480)
    np.testing.assert_allclose(np.diff(a, axis=0), np.diff(b, axis=0), rtol=0.02)


def test_standard_views(viewport):
    for name in ("front", "back", "top", "right", "left", "iso"):
        assert viewport.set_view(name)
    viewport.set_view("front")
    r, t, f = viewport.camera().basis()
    np.testing.assert_allclose(f, (0, 1, 0), atol=1e-9)
    np.testing.assert_allclose(t, (0, 0, 1), atol=1e-9)
    viewport.set_view("top")
    r, t, f = viewport.camera().basis()
    np.testing.assert_allclose(f, (0, 0, -1), atol=1e-9)
    np.testing.assert_allclose(t, (0, 1, 0), atol=1e-9)
    np.testing.assert_allclose(r, (1, 0, 0), atol=1e-9)
    viewport.set_view("right")
    np.testing.assert_allclose(viewport.camera().basis()[2], (-1, 0, 0), atol=1e-9)
    with pytest.raises(ValueError, match="iso"):
        viewport.set_view("diagonal")
    with pytest.raises(ValueError, match="pen"):
        viewport.set_tool("brush")


def _mesh(offset=0.0, n=10):
    x, y = np.meshgrid(np.linspace(-30, 30, n), np.linspace(-20, 20, n))
    v = np.c_[x.ravel() + offset, y.ravel(), 5 * np.sin(x.ravel() / 7)]
    q = (np.arange(n - 1)[:, None] * n + np.arange(n - 1)[None, :]).ravel()
    t = np.r_[np.c_[q, q + 1, q + n], np.c_[q + 1, q + n + 1, q + n]]
    return MeshBody(v, t, colors=np.full((len(v), 3), 200, np.uint8))


def test_bodies_are_shown_and_items_of_unchanged_bodies_are_kept(viewport):
    from sketchforge.modeling.session import Session
    session = Session()
    name = session.box((60.0, 40.0, 20.0))
    solid = session.bodies[name]
    mesh, cloud = _mesh(80.0), PointCloudBody(np.random.default_rng(1).normal(size=(50, 3)) * 10,
                                               np.full((50, 3), 90, np.uint8))
    viewport.set_bodies({"solid": solid, "mesh": mesh, "cloud": cloud})
    first = list(viewport.items)
    assert len(first) == 4  # solid faces + edges, mesh, points
    mesh2 = _mesh(90.0)
    viewport.set_bodies({"solid": solid, "mesh": mesh2, "cloud": cloud})
    kept = [it for it in viewport.items if it in first]
    assert len(kept) == 3 and len(viewport.items) == 4
    # fit_all frames everything
    assert viewport.fit_all()
    w, h = viewport.canvas_size()
    uv = viewport.camera().project(np.r_[mesh2.vertices, cloud.points, solid.mesh().vertices], w, h)
    assert (uv >= 0).all() and (uv[:, 0] <= w).all() and (uv[:, 1] <= h).all()

    ghost = _mesh(0.0)
    viewport.set_ghost({"solid": ghost}, "extrude 10 mm")  # the old call: the bodies are added material
    assert viewport.ghost_label == "extrude 10 mm" and len(viewport.items) == 6  # faces + outline
    assert viewport.ghost_bodies() == [ghost] and viewport.ghost_removed() == []
    viewport.set_ghost(None)
    assert viewport.ghost_label == "" and len(viewport.items) == 4
    viewport.set_bodies({})
    assert viewport.items == []


def test_a_tablet_pen_records_pressure(qtbot, viewport):
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QInputDevice, QPointingDevice, QTabletEvent
    pen = QPointingDevice("test pen", 77, QInputDevice.DeviceType.Stylus, QPointingDevice.PointerType.Pen,
                          QInputDevice.Capability.Position | QInputDevice.Capability.Pressure, 1, 3)
    viewport.set_tool("pen")

    def send(kind, x, y, pressure):
        pos = QPointF(x, y)
        ev = QTabletEvent(kind, pen, pos, QPointF(viewport.mapToGlobal(pos)), pressure, 0.0, 0.0, 0.0, 0.0,
                          0.0, NONE, LEFT, LEFT if kind != QEvent.Type.TabletRelease else Qt.MouseButton.NoButton)
        QApplication.sendEvent(viewport, ev)

    send(QEvent.Type.TabletPress, 10.25, 20.5, 0.2)
    send(QEvent.Type.TabletMove, 40.75, 30.0, 0.6)
    send(QEvent.Type.TabletMove, 80.0, 50.0, 0.9)
    send(QEvent.Type.TabletRelease, 80.0, 50.0, 0.0)
    (stroke,) = viewport.strokes()
    np.testing.assert_allclose(stroke.points[:, :3], [[10.25, 20.5, 0.2], [40.75, 30.0, 0.6], [80.0, 50.0, 0.9]])


# -- the sketch state ---------------------------------------------------------------------------------

def test_a_stroke_drawn_with_the_mouse_lands_in_the_sketch_state(qtbot, make_viewport):
    state = SketchState()
    viewport = make_viewport(sketch=state)
    assert viewport.sketch_state is state
    seen = []
    state.changed.connect(seen.append)
    viewport.set_tool("pen")
    viewport.stroke_kind = "ridge"
    drag(qtbot, viewport, PATH)
    (stroke,) = state.strokes
    assert stroke.kind == "ridge" and "strokes" in seen
    np.testing.assert_allclose(stroke.uv, PATH, atol=1.0)
    drawn = state.to_sketch()
    assert drawn.camera == viewport.camera() and (drawn.width, drawn.height) == viewport.canvas_size()
    assert viewport.strokes() == list(state.strokes)


def test_the_state_knows_the_view_the_strokes_are_drawn_in(qtbot, viewport):
    state = viewport.sketch_state
    assert state.view.camera == viewport.camera()
    drag(qtbot, viewport, [(300, 200), (360, 230), (400, 260)])  # orbit
    assert state.view.camera == viewport.camera()
    drag(qtbot, viewport, [(300, 200), (340, 210)], Qt.MouseButton.MiddleButton)  # pan
    wheel(viewport, angle=120)
    assert viewport.set_view("front")
    assert state.view.camera == viewport.camera()
    viewport.resize(500, 400)
    qtbot.waitUntil(lambda: viewport.canvas_size() == (500, 400))
    assert (state.view.width, state.view.height) == (500, 400) and state.view.camera == viewport.camera()


def test_strokes_added_from_code_are_shown_and_the_eraser_takes_them_out_of_the_state(qtbot, viewport):
    state = viewport.sketch_state
    with qtbot.waitSignal(viewport.strokes_changed):
        state.add_stroke([[100, 400], [300, 400]])  # as the console would
    state.add_stroke([[100, 100], [300, 100]], "water")
    assert [s.kind for s in viewport.strokes()] == [None, "water"] and viewport.has_strokes()
    viewport.set_tool("eraser")
    with qtbot.waitSignal(viewport.strokes_changed):
        qtbot.mouseClick(viewport, LEFT, NONE, QPoint(200, 402))
    assert [s.kind for s in state.strokes] == ["water"]
    drag(qtbot, viewport, [(150, 80), (150, 120)])
    assert state.strokes == ()


def test_orbiting_parks_the_strokes_and_return_to_brings_them_back_with_the_view(qtbot, viewport):
    state = viewport.sketch_state
    viewport.park_on_orbit = True
    viewport.set_tool("pen")
    drag(qtbot, viewport, PATH)
    viewport.set_tool("navigate")
    drawn_in, strokes = viewport.camera(), viewport.strokes()
    with qtbot.waitSignal(viewport.message) as said:
        drag(qtbot, viewport, [(300, 200), (360, 230), (400, 260)])
    assert said.args == [PARK_MESSAGE]
    assert viewport.strokes() == [] and not cameras_equal(viewport.camera(), drawn_in)
    assert [v.camera for v in state.parked] == [drawn_in]
    with qtbot.waitSignal(viewport.strokes_changed):
        assert viewport.return_to() is True
    assert cameras_equal(viewport.camera(), drawn_in)
    for a, b in zip(viewport.strokes(), strokes, strict=True):
        np.testing.assert_allclose(a.points, b.points)
    assert state.parked == [] and viewport.return_to() is False
    viewport.set_tool("pen")
    drag(qtbot, viewport, [(100, 400), (300, 400)])
    assert viewport.set_view("top") is True and viewport.strokes() == []  # picking a view parks too
    assert len(state.parked) == 1 and viewport.return_to(state.parked[0])
    assert len(viewport.strokes()) == 2


def test_a_sketch_loaded_into_the_state_from_code_is_shown_in_its_view(qtbot, make_viewport):
    viewport = make_viewport(640, 400)
    cam = Camera((120.0, -150.0, 110.0), (0.0, 0.0, 10.0), (0.0, 0.0, 1.0), "perspective", 35.0)
    world = np.array([[0, 0, 10], [20, -10, 30], [-25, 15, 0]], float)
    uv = cam.project(world, 512, 512)
    viewport.sketch_state.load(Sketch(cam, 512, 512, (Stroke(np.c_[uv, np.ones(3), np.zeros(3)]),)))
    qtbot.waitUntil(lambda: viewport.sketch_state.view.width == 640)
    w, h = viewport.canvas_size()
    np.testing.assert_allclose(viewport.strokes()[0].uv, viewport.camera().project(world, w, h), atol=1e-6)
    assert viewport.sketch().camera == viewport.camera()


def test_a_state_outlives_its_viewport_without_complaint(qtbot, caplog):
    state = SketchState()
    viewport = Viewport(sketch=state)
    viewport.deleteLater()
    with qtbot.waitSignal(viewport.destroyed):
        pass
    with caplog.at_level("ERROR"):
        state.add_stroke([[0, 0], [10, 10]])  # the console draws on after the window closed
    assert not caplog.records and len(state) == 1


def test_stroke_colors_come_from_the_declared_kinds(viewport):
    viewport.set_stroke_kinds([StrokeKind(None, "Plain", (10, 20, 30)), StrokeKind("ridge", "Ridge", (200, 0, 0))])
    assert viewport.stroke_color("ridge").getRgb()[:3] == (200, 0, 0)
    assert viewport.stroke_color("lava").getRgb()[:3] == (10, 20, 30), "an unknown kind is drawn as a plain line"
    viewport.set_stroke_kinds([StrokeKind("ridge", "Ridge", (200, 0, 0))])
    assert viewport.stroke_color(None).getRgb()[:3] == (255, 140, 26)
    with pytest.raises(ValueError, match="0..255"):
        viewport.set_stroke_kinds([StrokeKind("ridge", "Ridge", (300, 0, 0))])


def test_the_ghost_holds_added_and_removed_material_and_a_confidence(viewport):
    added, removed = _mesh(0.0), _mesh(40.0)
    viewport.set_ghost({"a": added}, "boss", removed=[removed], confidence=0.3)
    assert viewport.ghost_bodies() == [added] and viewport.ghost_removed() == [removed]
    assert viewport.ghost_label == "boss" and viewport.ghost_confidence == 0.3
    assert len(viewport.items) == 4  # faces and outline of each
    viewport.set_ghost(None, removed=[removed])  # only a cut
    assert viewport.ghost_bodies() == [] and viewport.ghost_removed() == [removed]
    assert viewport.ghost_confidence is None
    viewport.set_ghost(None, "extrude — does not apply", confidence=0.8)  # nothing to show but why
    assert viewport.items == [] and viewport.ghost_label == "extrude — does not apply"
    assert viewport.ghost_confidence == 0.8
    viewport.set_ghost(None)
    assert viewport.items == [] and viewport.ghost_label == "" and viewport.ghost_removed() == []


# -- the real picture (Xvfb + Mesa; tests/gui/viewport_scenes.py draws it) -------------------------------

@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """The framebuffers of the scenes (RGB arrays by name) and the facts written beside them."""
    import cv2

    from sketchforge.app.xvfb import XvfbError, private_display
    out = tmp_path_factory.mktemp("scenes")
    script = Path(__file__).with_name("viewport_scenes.py")
    try:
        with private_display() as display:
            env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
                   "SKETCHFORGE_HOME": str(out / "home"), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
            run = subprocess.run([sys.executable, str(script), str(out)], env=env, capture_output=True, text=True,
                                 timeout=120)
    except XvfbError as exc:
        pytest.fail(str(exc))
    assert run.returncode == 0, f"the scenes failed:\n{run.stdout}\n{run.stderr}"
    facts = json.loads((out / "scenes.json").read_text())
    images = {p.stem: cv2.imread(str(p), cv2.IMREAD_COLOR)[:, :, ::-1].astype(int) for p in out.glob("*.png")}
    return images, facts


def _near(pixels: np.ndarray, rgb, tol: int = 60) -> np.ndarray:
    return np.abs(pixels - np.asarray(rgb)).sum(axis=-1) < tol


def _row_band(image: np.ndarray, row: int, cols) -> np.ndarray:
    return image[row - 2:row + 3, cols[0] + 10:cols[1] - 10].reshape(-1, 3)


def test_strokes_put_in_the_state_from_code_are_painted_in_their_kinds_colors(scenes):
    images, facts = scenes
    image, where = images["code_strokes"], facts["code_strokes"]
    ridge = _near(_row_band(image, where["ridge_row"], where["cols"]), facts["ridge"])
    lava = _near(_row_band(image, where["lava_row"], where["cols"]), facts["plain"])
    assert ridge.sum() >= 200, "the ridge stroke is not painted in its declared color"
    assert lava.sum() >= 200, "a stroke of an undeclared kind is not painted in the plain color"


def test_parked_strokes_vanish_on_orbit_and_come_back_with_return_to(scenes):
    images, facts = scenes
    assert facts["parked"] == {"strokes": 0, "parked_views": 1}
    assert facts["returned"] == {"ok": True, "strokes": 2}
    for color in (facts["ridge"], facts["plain"]):
        assert _near(images["parked"], color).sum() < 5, "parked strokes are still painted"
        assert _near(images["returned"], color).sum() >= 200, "returned strokes are not painted"
    moved = (images["returned"] != images["code_strokes"]).any(axis=-1).mean()
    assert moved < 1e-3, f"the view did not come back as it was: {moved:.2%} of the pixels differ"


def test_a_ghost_paints_added_material_in_one_color_and_removed_in_another(scenes):
    images, facts = scenes
    image = images["ghost_sure"]

    def at(key):
        u, v = facts["ghost"][key]
        return image[int(v) - 3:int(v) + 4, int(u) - 3:int(u) + 4].reshape(-1, 3).mean(axis=0)

    r, g, b = at("added_px")
    assert g > r + 40 and b > r + 40, f"added material is not blue-green: {(r, g, b)}"
    r, g, b = at("removed_px")
    assert r > g + 40 and r > b + 40, f"removed material is not red: {(r, g, b)}"
    r, g, b = at("model_px")
    assert max(r, g, b) - min(r, g, b) < 20, f"the untouched model is tinted: {(r, g, b)}"


def test_a_weak_proposal_is_marked_unsure_by_its_label(scenes):
    images, _ = scenes
    amber = (255, 176, 32)
    unsure, sure = (images[name][0:60, 0:320].reshape(-1, 3) for name in ("ghost_unsure", "ghost_sure"))
    assert _near(unsure, amber).sum() >= 80, "a weak proposal's label is not marked"
    assert _near(sure, amber).sum() < 5, "a confident proposal's label is marked unsure"
