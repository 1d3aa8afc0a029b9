"""The real picture: the window under Xvfb + Mesa shows the model where the camera says it is.

Runs with the model tests (no Qt in this process): an X server is started here and the window
runs in `python -m sketchforge.app.screenshot`; this test reads the PNG it writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.demo import build_demo
from sketchforge.modeling.session import Session

SIZE = (1280, 800)


@pytest.fixture(scope="module")
def x_display():
    """A private Xvfb for this module."""
    from sketchforge.app.xvfb import XvfbError, private_display
    try:
        with private_display() as display:
            yield display
    except XvfbError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def shot(x_display, tmp_path_factory):
    """The screenshot (as an RGB array) and the facts written beside it."""
    import cv2

    out = tmp_path_factory.mktemp("shot")
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb",
           "SKETCHFORGE_HOME": str(out / "home"), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    run = subprocess.run([sys.executable, "-m", "sketchforge.app.screenshot", "--out", str(out / "shot.png"),
                          "--size", f"{SIZE[0]}x{SIZE[1]}", "--check", str(out / "shot.json")],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"screenshot failed:\n{run.stdout}\n{run.stderr}"
    image = cv2.imread(str(out / "shot.png"), cv2.IMREAD_COLOR)
    assert image is not None, "the screenshot is not a readable PNG"
    return image[:, :, ::-1].astype(int), json.loads((out / "shot.json").read_text())


@pytest.fixture(scope="module")
def demo_mesh():
    session = Session()
    name = build_demo(session)
    return session.bodies[name].mesh()


def _camera(facts) -> Camera:
    c = facts["camera"]
    return Camera(tuple(c["eye"]), tuple(c["target"]), tuple(c["up"]), c["projection"],
                  c.get("fov_y_deg", 35.0), c.get("height", 100.0))


def _to_image(facts, uv: np.ndarray) -> np.ndarray:
    """Canvas pixels (u, v) to integer (column, row) of the window picture."""
    off = np.asarray(facts["viewport_offset"], float)
    return np.floor((np.asarray(uv, float).reshape(-1, 2) + off) * facts["device_pixel_ratio"]).astype(int)


def _is_background(rgb, facts) -> np.ndarray:
    return (np.abs(np.asarray(rgb) - facts["background_color"]) <= 6).all(axis=-1)


def _viewport(image, facts) -> np.ndarray:
    (x0, y0), = _to_image(facts, [[0.0, 0.0]])
    (x1, y1), = _to_image(facts, [[facts["canvas"]["width"], facts["canvas"]["height"]]])
    return image[y0:y1, x0:x1]


def test_the_picture_is_the_window_with_a_rendered_view(shot):
    image, facts = shot
    assert image.shape[:2] == (SIZE[1], SIZE[0])
    view = _viewport(image, facts)
    assert view.shape[0] > 200 and view.shape[1] > 300, "the viewport is hardly visible in the window"
    colors = np.unique(view.reshape(-1, 3), axis=0)
    assert len(colors) > 200, f"the view looks blank: {len(colors)} distinct colours"
    assert _is_background(view, facts).mean() > 0.3, "the view's background colour is not where expected"


def test_model_points_land_on_the_model(shot):
    image, facts = shot
    cam = _camera(facts)
    w, h = facts["canvas"]["width"], facts["canvas"]["height"]
    assert facts["model_points"], "the screenshot recorded no model points"
    for point in facts["model_points"]:
        uv = cam.project(np.asarray(point["world"]), w, h)
        np.testing.assert_allclose(uv[0], point["pixel"], atol=1e-6)
        (x, y), = _to_image(facts, uv)
        rgb = image[y, x]
        assert not _is_background(rgb, facts), f"{point['name']} at {(x, y)} shows background {rgb}"
        box = facts.get("ghost_box")
        under_ghost = box is not None and box[0] <= uv[0][0] <= box[2] and box[1] <= uv[0][1] <= box[3]
        if not under_ghost:  # the proposal's ghost tints the model where it lies over it
            assert rgb.max() - rgb.min() <= 24, f"{point['name']} at {(x, y)} is not grey model colour: {rgb}"


def test_the_whole_model_is_where_the_camera_projects_it(shot, demo_mesh):
    """Every triangle centre of the demo part falls on drawn pixels; a margin around it is background."""
    image, facts = shot
    cam = _camera(facts)
    w, h = facts["canvas"]["width"], facts["canvas"]["height"]
    centres = demo_mesh.vertices[demo_mesh.triangles].mean(axis=1)
    xy = _to_image(facts, cam.project(centres, w, h))
    drawn = ~_is_background(image, facts)
    on_model = drawn[xy[:, 1], xy[:, 0]]
    assert on_model.mean() > 0.95, f"only {on_model.mean():.1%} of the model's triangles land on drawn pixels"
    # The rest are slivers on the outline, a pixel from it at most (where the rasteriser rounds).
    near = np.zeros(len(xy), bool)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            near |= drawn[xy[:, 1] + dy, xy[:, 0] + dx]
    assert near.all(), f"{(~near).sum()} triangle centres are more than a pixel off the drawn model"

    uv = np.concatenate([cam.project(demo_mesh.vertices, w, h)]
                        + [np.asarray(s["points"], float) for s in facts["strokes"]])
    lo, hi = uv.min(0) - 6, uv.max(0) + 6
    if facts.get("ghost_box"):
        lo = np.minimum(lo, np.asarray(facts["ghost_box"][:2]) - 6)
        hi = np.maximum(hi, np.asarray(facts["ghost_box"][2:]) + 6)
    vv, uu = np.mgrid[2:h - 2:3, 2:w - 2:3].astype(float)
    outside = ((uu < lo[0]) | (uu > hi[0]) | (vv < lo[1]) | (vv > hi[1]))
    outside &= ~((uu < 100) & (vv > h - 100))  # the axis triad
    if facts.get("ghost_label"):
        outside &= ~((uu < w / 2) & (vv < 80))  # the proposal's label
    pts = _to_image(facts, np.stack([uu[outside], vv[outside]], 1))
    bg = _is_background(image[pts[:, 1], pts[:, 0]], facts)
    assert outside.sum() > 1000 and bg.mean() > 0.995, (
        f"{(~bg).sum()} pixels outside the model's outline are not background")
    for point in facts["background_points"]:
        (x, y), = _to_image(facts, [point["pixel"]])
        assert _is_background(image[y, x], facts), f"{point['name']} at {(x, y)} is {image[y, x]}"


def test_strokes_are_drawn_over_the_view(shot):
    image, facts = shot
    assert len(facts["strokes"]) >= 3, "the screenshot drew no sketch"
    for stroke in facts["strokes"]:
        pts = np.asarray(stroke["points"], float)
        middle = (pts[len(pts) // 2 - 1] + pts[len(pts) // 2]) / 2.0
        (x, y), = _to_image(facts, [middle])
        patch = image[y - 2:y + 3, x - 2:x + 3].reshape(-1, 3)
        near = np.abs(patch - stroke["color"]).sum(axis=1).min()
        assert near < 60, f"stroke at {(x, y)} not visible: nearest colour differs by {near}"


def test_axis_triad_is_visible(shot):
    image, facts = shot
    h = facts["canvas"]["height"]
    corner = _viewport(image, facts)[h - 90:h, 0:90].reshape(-1, 3)
    for name, want in (("X", (230, 60, 60)), ("Y", (70, 200, 70)), ("Z", (80, 130, 255))):
        assert (np.abs(corner - want).sum(axis=1) < 60).sum() >= 5, f"the {name} axis is not in the triad"
