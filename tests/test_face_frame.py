"""The face sketch frame: any view, any size -> the same network input; and back to the world."""

import numpy as np
import pytest

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.sketch import Sketch, Stroke
from sketchforge.neural.face.frame import SIZE, SPAN, FaceFrame, FrameError, head_units_frame, plane_strokes
from sketchforge.neural.face.heads import sample_head
from sketchforge.neural.face.sketches import front_camera, head_sketch


def _circle(cx, cy, r, n=60):
    t = np.linspace(0, 2 * np.pi, n)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t), np.full(n, 0.5), np.arange(n) * 10.0], 1)


def _sketch(camera, width, height, strokes):
    return Sketch(camera=camera, width=width, height=height, strokes=tuple(strokes), mode="face")


def test_the_strokes_box_fills_the_frame_whatever_the_canvas():
    cam = Camera(eye=(0, -500, 0), target=(0, 0, 0), projection="orthographic", height=400)
    small = _sketch(cam, 300, 300, [Stroke(_circle(150, 150, 60)), Stroke(_circle(130, 140, 8), "ridge")])
    big = _sketch(Camera(eye=(0, -500, 0), target=(0, 0, 0), projection="orthographic", height=400), 900, 600,
                  [Stroke(_circle(450, 300, 120)), Stroke(_circle(410, 280, 16), "ridge")])
    ink_a = FaceFrame.of_sketch(small)[0].ink(FaceFrame.of_sketch(small)[1])
    ink_b = FaceFrame.of_sketch(big)[0].ink(FaceFrame.of_sketch(big)[1])
    assert ink_a.shape == (3, SIZE, SIZE)
    ys, xs = np.nonzero(ink_a[0])
    assert abs((xs.max() - xs.min()) - SPAN) <= 3 and abs((xs.min() + xs.max()) / 2 - SIZE / 2) <= 2
    assert ink_a[1].any() and not ink_a[2].any()   # the ridge stroke lands in the ridge channel
    # the same drawing, larger and elsewhere on another canvas, reads the same
    overlap = (ink_a > 0) & (ink_b > 0)
    assert overlap.sum() >= 0.7 * min((ink_a > 0).sum(), (ink_b > 0).sum())


def test_a_perspective_front_view_reads_like_an_orthographic_one():
    ortho = Camera(eye=(0, -500, 0), target=(0, 0, 0), projection="orthographic", height=400)
    persp = Camera(eye=(0, -500, 0), target=(0, 0, 0), projection="perspective", fov_y_deg=30)
    strokes = [Stroke(_circle(200, 200, 80)), Stroke(_circle(170, 180, 10))]
    a = FaceFrame.of_sketch(_sketch(ortho, 400, 400, strokes))
    b = FaceFrame.of_sketch(_sketch(persp, 400, 400, strokes))
    ia, ib = a[0].ink(a[1]), b[0].ink(b[1])
    assert ((ia > 0) & (ib > 0)).sum() >= 0.8 * (ia > 0).sum()


def test_network_frame_goes_back_to_the_world_facing_the_camera():
    cam = Camera(eye=(0, -500, 0), target=(10, 0, 20), projection="orthographic", height=400)
    sk = _sketch(cam, 400, 400, [Stroke(_circle(200, 200, 100))])
    frame, strokes = FaceFrame.of_sketch(sk)
    pts = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    w = frame.to_world(pts)
    assert np.allclose(w[0], [10, 0, 20], atol=0.5)  # the strokes' centre is the target here
    assert w[1, 0] > w[0, 0]          # network x: the camera's right (+X in a front view)
    assert w[2, 2] > w[0, 2]          # network y: up
    assert w[3, 1] < w[0, 1]          # network z: towards the camera (on -Y)
    # a network point seen by the camera and drawn there comes back to itself
    n = np.array([[0.5, -0.25, 0.0]])
    uv = cam.project(frame.to_world(n), 400, 400)
    drawn = plane_strokes(_sketch(cam, 400, 400, [Stroke(np.hstack([uv, [[0.5, 0.0]]]))]))
    assert np.allclose(frame.to_network(drawn[0][0]), n[:, :2], atol=1e-6)


def test_training_items_and_user_sketches_share_the_frame():
    params = sample_head(np.random.default_rng(3), "human")
    fs = head_sketch(params, np.random.default_rng(4), 128)
    frame, strokes = FaceFrame.of_sketch(fs.sketch)
    s, c = head_units_frame(frame)
    # head-frame point -> network frame by s * (p - c) equals the frame's own mapping of its mm
    p = np.array([[0.3, -0.2, 0.0]])
    mm = p[:, :2] * 100.0
    assert np.allclose(s * (p[:, :2] - c[:2]), frame.to_network(mm))
    assert fs.sketch.camera == front_camera()


@pytest.mark.parametrize("strokes, words", [
    ([], "empty"),
    ([Stroke(np.array([[100.0, 100.0, 0.5, 0.0]]))], "dot"),
    ([Stroke(np.array([[100.0, 100.0, 0.5, 0.0], [101.0, 100.5, 0.5, 10.0]]))], "dot"),
])
def test_nothing_to_read_says_what_to_draw(strokes, words):
    cam = Camera(eye=(0, -500, 0), target=(0, 0, 0), projection="orthographic", height=400)
    with pytest.raises(FrameError, match=words):
        FaceFrame.of_sketch(_sketch(cam, 400, 400, strokes))


def test_nan_points_are_a_clear_error():
    cam = Camera(eye=(0, -500, 0), target=(0, 0, 0), projection="orthographic", height=400)
    bad = _circle(200, 200, 50)
    bad[5, 0] = np.nan
    with pytest.raises(FrameError, match="NaN"):
        FaceFrame.of_sketch(_sketch(cam, 400, 400, [Stroke(bad)]))
