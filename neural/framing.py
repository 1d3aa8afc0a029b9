"""The square view a sketch network reads: around the strokes, with the model as context.

A user's canvas is any size, and the part may sit anywhere on it; an operation may be drawn over
the whole part or as a small pocket on one face. The networks read a square view of fixed size
(128 x 128) in which the strokes are large enough to tell their curve roles apart, so the view is
chosen from the sketch itself:

* the region of the model's silhouette and the strokes (square, with a margin `MARGIN`), when
  the strokes span at least half of it (`FOCUS`): the whole part is in view;
* otherwise a region centred on the strokes, `FOCUS` times their extent (at least `MIN_FOCUS`
  of the canvas, so a scribble is not blown up without end): the strokes fill about half of the
  view and the model around them gives the context.

The camera is turned about its eye (a pure rotation: the image changes by an exact homography,
and what is hidden stays hidden) to look at the region's centre, the field of view narrowed to
the region, and every stroke point carried into the new view through its ray. Orthographic
cameras are shifted and zoomed instead. The training data is framed by this same function
(`neural.synth.item`), so the networks see sketches the way the interpreter shows them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from sketchforge.modeling.bodies import Body
from sketchforge.modeling.camera import Camera
from sketchforge.modeling.render import render_context
from sketchforge.modeling.sketch import Sketch, Stroke

MARGIN = 0.12  # of the region's size on each side, when the whole part is in view
FOCUS = 2.0  # a focused view spans this many times the strokes' extent
MIN_FOCUS = 0.08  # a focused view spans at least this share of the canvas's longer side
PROBE = 160    # pixels along the longer canvas side for finding the model's silhouette


@dataclass(frozen=True)
class Framed:
    """The square view the networks see and the sketch carried into it."""

    camera: Camera
    size: int
    sketch: Sketch  # the same strokes in the square canvas's pixels


def frame_sketch(sketch: Sketch, bodies: Mapping[str, Body], size: int = 128) -> Framed:
    """A square `size` view around the model's silhouette and the strokes, and the strokes in it."""
    pts = np.concatenate([s.uv for s in sketch.strokes if len(s.points)]) if sketch.strokes else np.zeros((0, 2))
    lo, hi = _region(sketch, bodies, pts)
    centre = (lo + hi) / 2.0
    half = max(hi[0] - lo[0], hi[1] - lo[1]) / 2.0 * (1.0 + 2.0 * MARGIN)
    half = max(half, 8.0)
    if len(pts):
        s_lo, s_hi = pts.min(0), pts.max(0)
        focus = max(float((s_hi - s_lo).max()) / 2.0 * FOCUS, MIN_FOCUS * max(sketch.width, sketch.height) / 2.0)
        if focus < half:  # the strokes are small in the whole view: look at them
            centre, half = (s_lo + s_hi) / 2.0, focus
    cam = sketch.camera
    if cam.projection == "perspective":
        new = _turned(cam, centre, half, sketch.width, sketch.height)
    else:
        new = _shifted(cam, centre, half, sketch.width, sketch.height)
    strokes = tuple(Stroke(np.column_stack([carry(cam, new, s.uv, sketch.width, sketch.height, size),
                                            s.points[:, 2:]]), s.kind) for s in sketch.strokes)
    framed = Sketch(new, size, size, strokes, sketch.mode, sketch.prompt)
    return Framed(new, size, framed)


def _region(sketch: Sketch, bodies: Mapping[str, Body], pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel bounds (lo, hi) of the model's silhouette and the stroke points on the sketch canvas."""
    boxes = []
    if len(pts):
        boxes.append((pts.min(0), pts.max(0)))
    # Probe the silhouette over a canvas twice as large (same centre and pixel scale), so a part
    # that runs off the user's canvas is still framed whole.
    k = PROBE / (2 * max(sketch.width, sketch.height))
    w, h = max(int(round(2 * sketch.width * k)), 8), max(int(round(2 * sketch.height * k)), 8)
    probe = _widened(sketch.camera, 2.0)
    mask = render_context(bodies, probe, w, h, lines=False).mask if bodies else np.zeros((h, w), bool)
    if mask.any():
        vv, uu = np.nonzero(mask)
        sx, sy = 2 * sketch.width / w, 2 * sketch.height / h
        x0, y0 = -sketch.width / 2.0, -sketch.height / 2.0
        boxes.append((np.array([x0 + uu.min() * sx, y0 + vv.min() * sy]),
                      np.array([x0 + (uu.max() + 1) * sx, y0 + (vv.max() + 1) * sy])))
    if not boxes:
        return np.zeros(2), np.array([float(sketch.width), float(sketch.height)])
    lo = np.min([b[0] for b in boxes], axis=0)
    hi = np.max([b[1] for b in boxes], axis=0)
    return lo, hi


def _widened(cam: Camera, factor: float) -> Camera:
    """The same camera seeing `factor` times more around the same centre."""
    if cam.projection == "perspective":
        half = math.atan(factor * math.tan(math.radians(cam.fov_y_deg) / 2.0))
        return Camera(cam.eye, cam.target, cam.up, "perspective", float(min(math.degrees(2 * half), 178.0)))
    return Camera(cam.eye, cam.target, cam.up, "orthographic", height=cam.height * factor)


def _turned(cam: Camera, centre: np.ndarray, half: float, width: int, height: int) -> Camera:
    """Turn a perspective camera about its eye towards pixel `centre`, with a fov spanning 2*half px."""
    _, d = cam.rays(centre[None], width, height)
    d = d[0]
    eye = np.asarray(cam.eye)
    dist = float(np.linalg.norm(np.subtract(cam.target, cam.eye)))
    s = cam.scale(width, height)
    # half-angle subtended by `half` pixels around the centre ray (measured on the image plane)
    r, t, f = cam.basis()
    x0 = (centre[0] - width / 2.0) / s
    y0 = -(centre[1] - height / 2.0) / s
    ang = []
    for dx, dy in ((half, 0.0), (-half, 0.0), (0.0, half), (0.0, -half)):
        p = f + (x0 + dx / s) * r + (y0 + dy / s) * t
        ang.append(math.acos(float(np.clip(np.dot(p / np.linalg.norm(p), d), -1.0, 1.0))))
    fov = math.degrees(2.0 * max(ang))
    fov = float(np.clip(fov, 1.0, 170.0))
    up = cam.up if abs(float(np.dot(np.asarray(cam.up) / np.linalg.norm(cam.up), d))) < 0.999 else tuple(t)
    return Camera(tuple(eye), tuple(eye + d * dist), tuple(up), "perspective", fov)


def _shifted(cam: Camera, centre: np.ndarray, half: float, width: int, height: int) -> Camera:
    s = cam.scale(width, height)
    r, t, _ = cam.basis()
    dx = (centre[0] - width / 2.0) / s
    dy = -(centre[1] - height / 2.0) / s
    shift = dx * r + dy * t
    return Camera(tuple(np.add(cam.eye, shift)), tuple(np.add(cam.target, shift)), cam.up, "orthographic",
                  height=2.0 * half / s)


def carry(old: Camera, new: Camera, uv: np.ndarray, width: int, height: int, size: int) -> np.ndarray:
    """Stroke pixels on the old canvas to pixels of the new square view, through their rays."""
    if not len(uv):
        return np.zeros((0, 2))
    o, d = old.rays(uv, width, height)
    # any point along the ray projects to the same pixel of a camera sharing the eye (perspective);
    # for orthographic views the ray origin itself is the point
    p = o + d * (1.0 if old.projection == "perspective" else 0.0)
    return new.project(p, size, size)
