"""Framing: any canvas becomes the square view the networks were trained on, strokes carried exactly."""

from __future__ import annotations

import numpy as np
import pytest

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.render import render_context
from sketchforge.modeling.session import Session
from sketchforge.modeling.sketch import Sketch, Stroke
from sketchforge.neural.framing import frame_sketch

CORNERS = np.array([[30, 20, 20.0], [30, -20, 20.0], [-30, -20, 20.0]])


def sketch_of(cam, w, h, points):
    uv = cam.project(points, w, h)
    return Sketch(cam, w, h, (Stroke(np.column_stack([uv, np.ones(len(uv)), np.arange(len(uv)) * 10.0])),))


@pytest.mark.parametrize("cam, w, h", [
    (Camera.looking_at((40, 10, 10), 220, -60, 25), 900, 400),     # part off-centre on a wide canvas
    (Camera.looking_at((0, 0, 10), 180, 30, 40), 300, 700),        # tall canvas
    (Camera((100, -150, 90), (0, 0, 10), (0, 0, 1), "orthographic", height=120.0), 640, 480),
])
def test_strokes_land_where_the_model_points_project_in_the_square_view(cam, w, h):
    s = Session()
    s.box((60, 40, 20))
    framed = frame_sketch(sketch_of(cam, w, h, CORNERS), s.bodies, 128)
    assert (framed.sketch.width, framed.sketch.height) == (128, 128)
    expect = framed.camera.project(CORNERS, 128, 128)
    assert framed.sketch.strokes[0].uv == pytest.approx(expect, abs=1e-6)
    assert framed.sketch.strokes[0].points[:, 3].tolist() == [0.0, 10.0, 20.0]  # timing kept
    mask = render_context(s.bodies, framed.camera, 128, 128, lines=False).mask
    vv, uu = np.nonzero(mask)
    # the whole part is in view, with a margin, and fills a good share of it like the training views
    assert uu.min() > 2 and vv.min() > 2 and uu.max() < 125 and vv.max() < 125
    assert max(uu.max() - uu.min(), vv.max() - vv.min()) > 80


def test_strokes_beyond_the_model_widen_the_view():
    s = Session()
    s.box((60, 40, 20))
    cam = Camera.looking_at((0, 0, 10), 200, -60, 25)
    tall = np.array([[30, -20, 20.0], [30, -20, 80.0]])  # a profile line drawn far above the part
    framed = frame_sketch(sketch_of(cam, 640, 480, tall), s.bodies, 128)
    uv = framed.sketch.strokes[0].uv
    assert (uv >= 0).all() and (uv <= 128).all()


def test_a_small_sketch_is_seen_up_close_with_the_model_around_it():
    s = Session()
    s.box((60, 40, 20))
    cam = Camera.looking_at((0, 0, 10), 200, -60, 25)
    pocket = np.array([[-3, -3, 20.0], [3, -3, 20.0], [3, 3, 20.0], [-3, 3, 20.0], [-3, -3, 20.0]])
    sk = sketch_of(cam, 640, 480, pocket)
    framed = frame_sketch(sk, s.bodies, 128)
    uv = framed.sketch.strokes[0].uv
    assert uv == pytest.approx(framed.camera.project(pocket, 128, 128), abs=1e-6)  # carried exactly
    span = np.ptp(uv, axis=0).max()
    assert 50 < span <= 66  # about half of the view (FOCUS = 2), not a few pixels as on the canvas
    assert np.ptp(sk.strokes[0].uv, axis=0).max() < 0.2 * span * 640 / 128
    assert np.abs(uv.mean(axis=0) - 64).max() < 8  # centred on the strokes
    r = render_context(s.bodies, framed.camera, 128, 128, lines=False)
    assert r.mask.mean() > 0.7  # mostly the top face around the pocket
    # a tiny scribble is not blown up without end
    dot = np.array([[0, 0, 20.0], [0.05, 0.05, 20.0]])
    tiny = frame_sketch(sketch_of(cam, 640, 480, dot), s.bodies, 128)
    assert np.ptp(tiny.sketch.strokes[0].uv, axis=0).max() < 10
