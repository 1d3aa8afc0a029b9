"""A level designer meets the scene mode in the window: a top-down map to draw on with the category
brushes, a scene that appears with progress and is remade in one step, and a walk over it."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QVector3D
from PySide6.QtTest import QTest

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.session import Session
from sketchforge.modeling.sketch import Sketch, Stroke
from sketchforge.neural.scene.backend import SceneBackend
from sketchforge.neural.scene.data import make_item

NONE = Qt.KeyboardModifier.NoModifier
LEFT = Qt.MouseButton.LeftButton
KINDS = ["water", "road", "forest", "building", "mountain"]


@pytest.fixture
def scene_window(make_window, qtbot):
    """A window over a session whose scene back end reads by the rules alone (no network weights),
    active, so that its shortcuts answer keys."""
    def make(session: Session | None = None):
        s = session or Session()
        s.register_backend(SceneBackend(reader="rules"), replace=True)
        w = make_window(s)
        w.hide_start_page()
        w.activateWindow()
        qtbot.waitUntil(w.isActiveWindow)
        return w
    return make


def draw(viewport, points, button=LEFT, modifier=NONE):
    QTest.mousePress(viewport, button, modifier, QPoint(*points[0]))
    for p in points[1:]:
        QTest.mouseMove(viewport, QPoint(*p))
    QTest.mouseRelease(viewport, button, modifier, QPoint(*points[-1]))


def brush(w, kind):
    w.kind_box.setCurrentIndex(w.kind_box.findData(kind))
    assert w.viewport.stroke_kind == kind


def line(vw, vh, a, b, n=12):
    """Canvas points from (a) to (b), both given as shares of the canvas's width and height."""
    return [(int(vw * (a[0] + (b[0] - a[0]) * t)), int(vh * (a[1] + (b[1] - a[1]) * t))) for t in np.linspace(0, 1, n)]


def assert_map_camera(cam: Camera) -> None:
    """The `scene` contract's camera: orthographic, straight down, north up, target on the ground."""
    assert cam.projection == "orthographic"
    assert cam.target[2] == 0.0 and cam.eye[:2] == cam.target[:2] and cam.eye[2] > 0
    r, t, f = cam.basis()
    np.testing.assert_allclose(f, (0, 0, -1), atol=1e-12)
    np.testing.assert_allclose(t, (0, 1, 0), atol=1e-12)
    np.testing.assert_allclose(cam.up, (0, 1, 0), atol=1e-12)


def gl_pixels(viewport, points):
    """Where the GL picture puts world points: pyqtgraph's view matrix and the viewport's projection."""
    w, h = viewport.canvas_size()
    m = viewport.projectionMatrix((0, 0, w, h), (0, 0, w, h)) * viewport.viewMatrix()
    out = []
    for p in points:
        q = m.map(QVector3D(*(float(c) for c in p)))
        out.append(((q.x() + 1.0) / 2.0 * w, (1.0 - q.y()) / 2.0 * h))
    return np.array(out)


def test_the_scene_mode_draws_on_a_top_down_map_that_pans_and_zooms_but_never_turns(scene_window):
    w = scene_window()
    v = w.viewport
    assert not v.map_view and v.camera().projection == "perspective"
    w.mode_box.setCurrentIndex(w.mode_box.findData("scene"))
    assert w.mode == "scene" and v.map_view
    # the stroke-role picker offers the map's brushes, and forests get the area brush
    assert [w.kind_box.itemData(i) for i in range(w.kind_box.count())] == KINDS
    assert w.act_area_brush.isVisible() and w.act_area_brush.isChecked() and not w.act_area_brush.isEnabled()
    brush(w, "forest")
    assert w.act_area_brush.isEnabled()
    # a new document's map: 200 m x 200 m of ground (at least) centred on the origin, the contract's camera
    vw, vh = v.canvas_size()
    cam = w.sketch.to_sketch().camera
    assert_map_camera(cam)
    assert cam.target == (0.0, 0.0, 0.0)
    assert min(cam.height, cam.height * vw / vh) == pytest.approx(200_000.0)
    assert cam.height == pytest.approx(200_000.0 * max(1.0, vh / vw))
    # the picture is a true orthographic projection: GL puts ground and hill tops where the camera says
    world = np.array([[0, 0, 0], [60_000, -40_000, 0], [-90_000, 80_000, 35_000], [10_000, 5_000, -2_000]], float)
    np.testing.assert_allclose(gl_pixels(v, world), v.camera().project(world, vw, vh), atol=0.05)

    # strokes lie on the ground: a drag pans the map (no orbit) and the stroke stays over its ground point
    w.set_tool("pen")
    brush(w, "road")
    draw(v, line(vw, vh, (0.3, 0.5), (0.7, 0.5)))
    ground = v.camera().rays(w.sketch.strokes[0].uv, vw, vh)[0][:, :2]
    w.set_tool("navigate")
    draw(v, [(vw // 2, vh // 2), (vw // 2 + 20, vh // 2 + 10), (vw // 2 + 40, vh // 2 + 30)])
    cam = v.camera()
    assert v.map_view and len(w.sketch.strokes) == 1 and not w.sketch.parked
    assert cam.target[:2] != (0.0, 0.0)
    np.testing.assert_allclose(cam.rays(w.sketch.strokes[0].uv, vw, vh)[0][:, :2], ground, atol=1e-6)
    np.testing.assert_allclose(w.sketch.strokes[0].uv[0] - line(vw, vh, (0.3, 0.5), (0.7, 0.5))[0], (40, 30),
                               atol=1e-6)
    # the wheel zooms: more ground, the same camera contract, the stroke still on its ground
    v.zoom(1.5)
    cam = v.camera()
    assert_map_camera(cam)
    np.testing.assert_allclose(cam.rays(w.sketch.strokes[0].uv, vw, vh)[0][:, :2], ground, atol=1e-6)
    assert cam.height == pytest.approx(1.5 * 200_000.0 * max(1.0, vh / vw))
    for key in (Qt.Key.Key_Left, Qt.Key.Key_Up):   # the arrow keys do not turn a map
        QTest.keyClick(v, key)
    assert v.map_view and w.sketch.to_sketch().camera == cam

    # Iso leaves the map for a perspective view (the strokes wait in their map), Home brings both back
    w.act_iso.trigger()
    assert not v.map_view and v.camera().projection == "perspective" and not w.sketch.strokes
    w.act_return_to_sketch.trigger()
    assert v.map_view and v.camera() == cam and len(w.sketch.strokes) == 1
    # leaving the mode leaves the map
    w.sketch.clear()
    w.mode_box.setCurrentIndex(w.mode_box.findData("cad"))
    assert not v.map_view and v.camera().projection == "perspective"


def test_a_window_that_starts_in_the_scene_mode_shows_the_whole_default_map(scene_window):
    w = scene_window()
    w.mode_box.setCurrentIndex(w.mode_box.findData("scene"))
    w.close()
    again = scene_window()   # the kept mode's map is set before the window has its size, and fits it after
    assert again.mode == "scene" and again.viewport.map_view
    vw, vh = again.viewport.canvas_size()
    cam = again.sketch.to_sketch().camera
    assert_map_camera(cam)
    assert cam.target == (0.0, 0.0, 0.0) and cam.height == pytest.approx(200_000.0 * max(1.0, vh / vw))


def _draw_map(w):
    """Water, a road, a forest with the area brush, two houses and a ridge, each with its brush."""
    v = w.viewport
    vw, vh = v.canvas_size()
    w.set_tool("pen")
    brush(w, "water")
    draw(v, line(vw, vh, (0.05, 0.30), (0.95, 0.36), 16))
    brush(w, "road")
    draw(v, line(vw, vh, (0.50, 0.05), (0.52, 0.95), 16))
    brush(w, "forest")
    draw(v, line(vw, vh, (0.12, 0.62), (0.40, 0.70), 12))
    brush(w, "building")
    for x in (0.58, 0.62):
        draw(v, line(vw, vh, (x, 0.55), (x + 0.02, 0.56), 3))
    brush(w, "mountain")
    draw(v, line(vw, vh, (0.65, 0.85), (0.95, 0.78), 12))


def test_a_map_drawn_with_the_brushes_becomes_a_scene_and_space_remakes_it_in_one_step(scene_window, qtbot):
    w = scene_window()
    s, v = w.session, w.viewport
    w.mode_box.setCurrentIndex(w.mode_box.findData("scene"))
    _draw_map(w)
    strokes = w.sketch.strokes
    assert [st.kind for st in strokes] == ["water", "road", "forest", "building", "building", "mountain"]
    forest = strokes[2].uv   # the area brush: saved as the closed outline of a band, still a forest stroke
    assert np.linalg.norm(forest[0] - forest[-1]) < 1e-9 and np.ptp(forest[:, 1]) > 30
    assert not w.act_walk.isEnabled()

    # Space: the scene is made in the worker with a progress bar and Cancel, then previewed
    QTest.keyClick(v, Qt.Key.Key_Space)
    assert w.jobs.busy and w.progress.isVisible() and w.cancel_button.isVisible()
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=30000)
    assert len(w.proposals) == 1, w.status_label.text()
    op = w.proposals[0].operation
    assert op.id == "scene" and not op.replace and op.trees > 0 and op.buildings >= 1
    ghost = v.ghost_bodies()
    assert len(ghost) == 1 and ghost[0].kind == "scene"
    w_, s_, e_, n_ = ghost[0].extent                                    # exactly the ground the map shows
    cam = w.sketch.to_sketch().camera
    assert n_ - s_ == pytest.approx(cam.height / 1000.0) and (w_ + e_) / 2 == pytest.approx(cam.target[0] / 1000.0)

    # Enter keeps it: one step; the strokes stay to refine it
    QTest.keyClick(v, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(s.history) == 1 and not w.jobs.busy, timeout=30000)
    first = s.bodies["scene1"]
    assert list(s.bodies) == ["scene1"] and first.kind == "scene"
    assert len(w.sketch.strokes) == 6 and not w.proposals and w.act_walk.isEnabled()

    # one more house and Space: the region around it is remade in the first scene's place, in one step
    w.set_tool("pen")
    brush(w, "building")
    vw, vh = v.canvas_size()
    draw(v, line(vw, vh, (0.40, 0.45), (0.42, 0.46), 3))
    w.act_interpret.trigger()
    qtbot.waitUntil(lambda: not w.jobs.busy and len(w.proposals) == 1, timeout=30000)
    op = w.proposals[0].operation
    assert op.body == "scene1" and op.replace and op.remade < 0.5 and "of the map remade" in w.viewport.ghost_label
    w.accept_proposal()
    qtbot.waitUntil(lambda: len(s.history) == 2 and not w.jobs.busy, timeout=30000)
    assert list(s.bodies) == ["scene1"] and s.bodies["scene1"] is not first
    placed = {tuple(np.round(p[:2], 3)) for p in first.placements}
    kept = {tuple(np.round(p[:2], 3)) for p in s.bodies["scene1"].placements} & placed
    assert len(kept) >= 0.5 * len(placed)  # the rest of the scene stands as it stood
    assert s.history[-1].buildings > s.history[0].buildings
    QTest.keySequence(w, "Ctrl+Z")
    assert s.bodies["scene1"] is first and len(s.history) == 1


def test_cancel_stops_a_scene_being_made_and_nothing_changes(scene_window, qtbot):
    w = scene_window()
    w.mode_box.setCurrentIndex(w.mode_box.findData("scene"))
    _draw_map(w)
    w.act_interpret.trigger()
    assert w.cancel_button.isVisible()
    w.cancel_button.click()
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=30000)
    assert "Cancelled" in w.status_label.text()
    assert not w.proposals and not w.session.history and len(w.sketch.strokes) == 6


def _map_sketch(width=400, height=400, size_m=120.0) -> Sketch:
    """A map drawn from code: a mountain ridge across the middle and a river in the south."""
    cam = Camera((0.0, 0.0, 1000.0 * size_m), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), "orthographic",
                 height=1000.0 * size_m)
    u = np.linspace(40, 360, 24)
    ridge = np.column_stack([u, 200 + 8 * np.sin(u / 30), np.ones(24), 8.0 * np.arange(24)])
    river = np.column_stack([u, np.full(24, 340.0), np.ones(24), 8.0 * np.arange(24)])
    return Sketch(cam, width, height, (Stroke(ridge, "mountain"), Stroke(river, "water")), "scene")


def _window_on_scene(scene_window, sketch: Sketch):
    """A session holding the scene of `sketch` (read by the rules) and a window on it in the scene mode."""
    s = Session()
    s.register_backend(SceneBackend(reader="rules"), replace=True)
    s.scene(sketch)
    w = scene_window(s)
    w.mode_box.setCurrentIndex(w.mode_box.findData("scene"))
    return s, w


def test_walk_mode_holds_the_eye_above_the_ground_moves_with_wasd_and_esc_gives_the_map_back(scene_window, qtbot):
    s, w = _window_on_scene(scene_window, _map_sketch())
    v = w.viewport
    scene = s.bodies["scene1"]
    map_camera = v.camera()
    assert v.map_view and map_camera.target[:2] == pytest.approx((0.0, 0.0))   # the map shows the scene
    assert w.act_walk.isEnabled() and not w.act_walk.isChecked()

    def above_ground() -> float:
        eye = np.asarray(v.camera().eye)
        return float(eye[2] - scene.height_at(eye[None, :2])[0])

    QTest.keyClick(v, Qt.Key.Key_W)                        # W walks: on the map's centre, at eye height
    assert v.walking and w.act_walk.isChecked() and "Walking" in w.status_label.text()
    eye0 = np.asarray(v.camera().eye)
    assert eye0[:2] == pytest.approx((0.0, 0.0), abs=1e-3)
    assert scene.height_at(eye0[None, :2])[0] > 100.0        # standing on the ridge, not at sea level
    assert above_ground() == pytest.approx(1700.0, abs=1.0)
    np.testing.assert_allclose(v.camera().basis()[2], (0, 1, 0), atol=1e-6)   # facing north, level
    assert v.camera().projection == "perspective"

    QTest.keyPress(v, Qt.Key.Key_W)                        # W held: forward (north), down the ridge's side
    qtbot.wait(300)
    QTest.keyRelease(v, Qt.Key.Key_W)
    eye1 = np.asarray(v.camera().eye)
    assert eye1[1] - eye0[1] > 500.0 and abs(eye1[0] - eye0[0]) < 1.0
    assert above_ground() == pytest.approx(1700.0, abs=1.0)
    assert v.walking and len(s.history) == 1              # the walk keys are the walk's, not shortcuts

    draw(v, [(200, 200), (240, 200), (280, 200)])          # a drag to the right turns right (east)
    f = v.camera().basis()[2]
    assert f[0] > 0.3 and abs(f[2]) < 1e-6 and not w.sketch.strokes
    QTest.keyPress(v, Qt.Key.Key_D)                        # D steps to the right (south now)
    qtbot.wait(200)
    QTest.keyRelease(v, Qt.Key.Key_D)
    assert v.camera().eye[1] < eye1[1] - 200.0 and above_ground() == pytest.approx(1700.0, abs=1.0)

    QTest.keyClick(v, Qt.Key.Key_F)                        # F flies: Space rises
    assert v.flying
    QTest.keyPress(v, Qt.Key.Key_Space)
    qtbot.wait(200)
    QTest.keyRelease(v, Qt.Key.Key_Space)
    assert above_ground() > 2500.0 and not w.proposals
    QTest.keyClick(v, Qt.Key.Key_F)                        # and walking again drops to the ground
    assert not v.flying and above_ground() == pytest.approx(1700.0, abs=1.0)

    QTest.keyClick(v, Qt.Key.Key_Escape)                   # Esc: back to the map, exactly as it was
    assert not v.walking and not w.act_walk.isChecked() and v.map_view
    assert v.camera() == map_camera and w.sketch.to_sketch().camera == map_camera
    # the walk ends by itself when the scene goes
    w.act_walk.trigger()
    assert v.walking
    w.undo()
    assert not v.walking and not w.act_walk.isEnabled() and v.camera() == map_camera


def test_only_plain_strokes_are_refused_with_the_back_ends_message_and_nothing_changes(scene_window, qtbot):
    w = scene_window()
    v = w.viewport
    w.mode_box.setCurrentIndex(w.mode_box.findData("scene"))
    w.set_tool("pen")
    v.stroke_kind = None   # a plain line, as a sketch from another mode has
    vw, vh = v.canvas_size()
    draw(v, line(vw, vh, (0.2, 0.2), (0.8, 0.7)))
    w.act_interpret.trigger()
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=30000)
    assert "no water, road, forest, building or mountain strokes" in w.status_label.text()
    assert not w.proposals and not w.session.history and not w.session.bodies
    assert len(w.sketch.strokes) == 1 and v.map_view


def test_a_turned_view_is_refused_as_not_a_map(scene_window, qtbot):
    w = scene_window()
    w.mode_box.setCurrentIndex(w.mode_box.findData("scene"))
    cam = Camera.looking_at((0, 0, 0), 300_000.0, -60.0, 50.0, 40.0)
    w.viewport.load_sketch(Sketch(cam, 400, 300, (Stroke(np.array([[50, 50, 1, 0], [350, 250, 1, 8.0]]),
                                                          "road"),), "scene"))
    w.act_interpret.trigger()
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=30000)
    assert "orthographic" in w.status_label.text() and not w.session.history


def test_a_walk_starts_where_the_map_looks_when_that_is_over_the_scene(scene_window):
    s, w = _window_on_scene(scene_window, _map_sketch())
    v = w.viewport
    v.pan_pixels(-80, 0)                                   # the map moves east
    x = v.camera().target[0]
    assert x > 10_000
    w.set_walk(True)
    assert v.camera().eye[0] == pytest.approx(x, abs=1.0)
    v.stop_walk()
    v.show_map((500_000.0, 0.0), (100_000.0, 100_000.0))  # a map off the scene: the walk starts on it
    w.set_walk(True)
    assert v.camera().eye[:2] == pytest.approx((0.0, 0.0), abs=1.0)
    assert math.isfinite(v.camera().eye[2])
    v.stop_walk()


def test_closed_forest_strokes_are_painted_as_areas(scene_window):
    from PySide6.QtGui import QImage, QPainter
    w = scene_window()
    v = w.viewport
    w.mode_box.setCurrentIndex(w.mode_box.findData("scene"))
    ring = [[100 + 60 * math.cos(a), 100 + 60 * math.sin(a)] for a in np.linspace(0, 2 * math.pi, 40)]
    w.sketch.add_stroke(ring, "forest")
    w.sketch.add_stroke([[p[0] + 200, p[1]] for p in ring], "water")
    image = QImage(400, 220, QImage.Format.Format_RGB32)
    image.fill(0)
    painter = QPainter(image)
    v._paint_strokes(painter)
    painter.end()
    forest, water = (QPointF(100, 100), QPointF(300, 100))
    assert image.pixelColor(forest.toPoint()).green() > 20      # filled inside
    assert image.pixelColor(water.toPoint()).blue() == 0        # a lake's outline is a line


# -- the real picture (Xvfb + Mesa): this module, run as a script, draws it --------------------------------

def test_the_map_is_drawn_orthographically_and_the_walk_from_eye_height(tmp_path):
    """A tower on flat ground: from the map only its footprint shows, where the camera puts it; walking,
    the horizon lies across the middle of the picture."""
    import json
    import os
    import subprocess

    import cv2

    from sketchforge.app.xvfb import XvfbError, private_display
    try:
        with private_display() as display:
            env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
                   "SKETCHFORGE_HOME": str(tmp_path / "home"), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
            run = subprocess.run([sys.executable, __file__, str(tmp_path)], env=env, capture_output=True, text=True,
                                 timeout=120)
    except XvfbError as exc:
        pytest.fail(str(exc))
    assert run.returncode == 0, f"the pictures failed:\n{run.stdout}\n{run.stderr}"
    facts = json.loads((tmp_path / "facts.json").read_text())
    shot = {name: cv2.imread(str(tmp_path / f"{name}.png"), cv2.IMREAD_COLOR)[:, :, ::-1].astype(int)
            for name in ("map", "walk")}
    red = (np.abs(shot["map"] - TOWER).sum(-1) < 60)
    rows, cols = np.nonzero(red)
    (u0, v1), (u1, v0) = facts["footprint"]
    assert red.sum() > 0.8 * (u1 - u0) * (v1 - v0)
    assert abs(cols.min() - u0) <= 1 and abs(cols.max() + 1 - u1) <= 1      # the top of the tower, no walls
    assert abs(rows.min() - v0) <= 1 and abs(rows.max() + 1 - v1) <= 1
    walk = shot["walk"]
    green = (walk[..., 1] > walk[..., 0] + 40) & (walk[..., 1] > walk[..., 2] + 40)   # grass, lit or in shade
    half = walk.shape[0] // 2
    assert green[half + 4].mean() > 0.5 and green[half - 4].mean() < 0.05           # a level horizon at eye height


GRASS, TOWER = (40, 160, 40), (220, 30, 30)


def _pictures(out) -> int:
    """Draw the pictures the test above judges (run under an X server)."""
    import json
    import time
    from pathlib import Path

    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    from sketchforge.app.viewport import Viewport
    from sketchforge.modeling.bodies import MeshBody
    from sketchforge.modeling.sketchstate import SketchState

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication.instance() or QApplication(["scene-pictures"])
    out = Path(out)

    def settle(seconds=0.3):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def box(lo, hi, rgb):
        (x0, y0, z0), (x1, y1, z1) = lo, hi
        v = np.array([[x0, y0, z0], [x1, y0, z0], [x1, y1, z0], [x0, y1, z0],
                      [x0, y0, z1], [x1, y0, z1], [x1, y1, z1], [x0, y1, z1]], float)
        t = np.array([[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
                      [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]])
        return MeshBody(v, t, np.tile(np.array(rgb, np.uint8), (8, 1)))

    view = Viewport(sketch=SketchState())
    view.resize(400, 300)
    view.show()
    if not QTest.qWaitForWindowExposed(view, 10000):
        print("the viewport never appeared on the display", file=sys.stderr)
        return 1
    settle()
    view.set_bodies({"ground": box((-100_000, -100_000, -1000), (100_000, 100_000, 0), GRASS),
                     "tower": box((30_000, 20_000, 0), (50_000, 40_000, 100_000), TOWER)})
    view.show_map((0.0, 0.0), (200_000.0, 200_000.0))
    settle()
    view.grabFramebuffer().save(str(out / "map.png"), "PNG")
    w, h = view.canvas_size()
    foot = view.camera().project(np.array([[30_000, 20_000, 100_000], [50_000, 40_000, 100_000]], float), w, h)
    view.start_walk(lambda xy: np.zeros(len(xy)), (0.0, -50_000.0))
    settle()
    view.grabFramebuffer().save(str(out / "walk.png"), "PNG")
    (out / "facts.json").write_text(json.dumps({"footprint": foot.tolist()}), encoding="utf-8")
    view.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(_pictures(sys.argv[1]))


def test_walking_does_not_pass_through_houses_and_trees_but_flying_passes_over():
    from sketchforge.app.viewport.walk import BODY_RADIUS, Walk
    house = np.array([[0.0, 10000.0, 6000.0]])               # a house 10 m north, 6 m round
    walk = Walk.start(lambda xy: np.zeros(len(xy)), (0.0, 0.0), obstacles=house)
    for _ in range(40):                                      # 4 s of walking north: 16 m, into the house
        walk.step({"forward"}, 0.1)
    assert walk.eye[1] == pytest.approx(10000.0 - 6000.0 - BODY_RADIUS, abs=5.0)
    for _ in range(40):                                      # walking north-east slides along its wall
        walk.step({"forward", "right"}, 0.1)
    d = np.hypot(walk.eye[0] - 0.0, walk.eye[1] - 10000.0)
    assert walk.eye[0] > 3000.0 and d >= 6000.0 + BODY_RADIUS - 1.0
    flyer = Walk.start(lambda xy: np.zeros(len(xy)), (0.0, 0.0), obstacles=house)
    flyer.set_flying(True)
    for _ in range(40):
        flyer.step({"forward"}, 0.1)
    assert flyer.eye[1] > 16000.0                            # flying passes over it
    inside = Walk.start(lambda xy: np.zeros(len(xy)), (0.0, 10000.0), obstacles=house)
    assert np.hypot(*(inside.eye[:2] - (0.0, 10000.0))) >= 6000.0   # a walk never starts inside a house


def test_the_window_walks_around_the_scenes_objects(scene_window):
    s, w = _window_on_scene(scene_window, make_item(6).sketch)
    w.act_walk.trigger()
    walker = w.viewport.walker
    scene = s.bodies["scene1"]
    assert walker is not None and walker.obstacles is not None
    assert len(walker.obstacles) == len(scene.obstacles_m()) > 0.9 * len(scene.placements)
    houses = scene.placements[scene.kinds() == "building"]
    assert len(houses) and (walker.obstacles[:, 2] > 3000.0).sum() >= len(houses)   # houses are metres round
