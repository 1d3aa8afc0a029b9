"""The frame the point networks work in, from a sketch, and the way back to the world.

A sketch of an object is drawn from any azimuth, at any size, anywhere on the canvas; the shape
network reads it in one frame that depends on the sketch alone, so inference can invert it with
no ground truth:

* upright and facing the viewer: the world turned about Z so that the camera's right vector is
  +X (the azimuth removed); Z stays up, so the object stays upright, and the camera looks along
  +Y and down by its elevation (an input of the network);
* centred and scaled by the strokes: every stroke point goes onto the plane through the camera's
  target square to the view (along its ray); the centre of the strokes' box there is the frame's
  origin and half the box's longer side its unit (`half`, mm), so the drawn object's projection
  spans [-1, 1] along its longer side ("box units"). Depth scales the same way.

The ink raster (`SIZE` square, the network's input) is drawn in the same framing: box unit -1..1
maps to the pixels `MARGIN`..`SIZE - MARGIN` (x right, y up). `camera_vector` carries the
exact projection of frame points into box units (perspective included), so a network can read
the raster where each point lands.

`place(points, sketch)` is the way back (the contract of specs/modes.md, `points`): the frame's
inverse, then a fit of one scale and a shift (across the view) so that the cloud's projected box
matches the drawn box, with the cloud's centre at the depth of the camera's target; the cloud
stays upright (+Z up).

The colour network reads positions in their own frame (`unit_cloud`: box centre at the origin,
longer half side 1, Z up), so a cloud with no sketch can be re-coloured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.sketch import Sketch

__all__ = ["SIZE", "MARGIN", "PEN_PX", "CAMERA_VECTOR", "FrameError", "ViewFrame", "place", "unit_cloud",
           "mirror_camera_vector", "projected_box"]

SIZE = 128          # pixels: the ink raster's side
MARGIN = 12         # pixels between the strokes' box (its longer side) and the raster's edge
PEN_PX = 2          # the pen's width in the raster
CAMERA_VECTOR = 13  # right, true-up, forward, eye (frame units, 3 each) and 1 for perspective
MIN_EXTENT_PX = 4.0  # strokes smaller than this on their own canvas are a dot, not an object
_SHIFT = 4          # fixed-point fraction bits for sub-pixel lines


class FrameError(ValueError):
    """A sketch that gives no frame: nothing drawn, a dot, a stroke with NaN coordinates."""


def _rot_z(theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _stroke_uv(sketch: Sketch) -> np.ndarray:
    pts = [np.asarray(s.uv, float).reshape(-1, 2) for s in sketch.strokes if len(s.points)]
    if not pts:
        raise FrameError("the sketch has no strokes; draw the object's outline first")
    uv = np.concatenate(pts)
    if not np.isfinite(uv).all():
        raise FrameError("a stroke holds NaN or infinite coordinates; redraw it or remove it from the file")
    return uv


@dataclass(frozen=True)
class ViewFrame:
    """world -> frame: q = R (p - origin) / half, R the turn about Z by `turn` radians."""

    camera: Camera
    width: int
    height: int
    turn: float          # radians about +Z that carry the camera's right vector to +X
    elevation: float     # radians: how far the camera looks down (0 level, pi/2 straight down)
    origin: tuple[float, float, float]  # world mm: the strokes' box centre on the target plane
    box_centre: tuple[float, float]     # mm along the camera's right / true-up on the target plane
    half: float          # mm: half the longer side of the strokes' box on the target plane

    @staticmethod
    def of_sketch(sketch: Sketch) -> "ViewFrame":
        """The frame of a sketch's strokes (FrameError when there are none or they are a dot)."""
        uv = _stroke_uv(sketch)
        lo_px, hi_px = uv.min(0), uv.max(0)
        if float((hi_px - lo_px).max()) < MIN_EXTENT_PX:
            raise FrameError("the strokes are a dot or a tick; draw the object's outline")
        cam = sketch.camera
        ab = _to_plane(cam, uv, sketch.width, sketch.height)
        lo, hi = ab.min(0), ab.max(0)
        centre = 0.5 * (lo + hi)
        half = 0.5 * float((hi - lo).max())
        r, t, f = cam.basis()
        origin = np.asarray(cam.target, float) + centre[0] * r + centre[1] * t
        turn = -math.atan2(r[1], r[0]) if abs(r[0]) + abs(r[1]) > 1e-9 else 0.0
        elevation = math.asin(float(np.clip(-f[2], -1.0, 1.0)))
        return ViewFrame(cam, sketch.width, sketch.height, turn, elevation, tuple(float(x) for x in origin),
                         (float(centre[0]), float(centre[1])), half)

    # -- the frame -----------------------------------------------------------------------------
    @property
    def rotation(self) -> np.ndarray:
        return _rot_z(self.turn)

    def to_view(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) mm -> frame points (N, 3) float32."""
        p = np.asarray(points, float).reshape(-1, 3) - np.asarray(self.origin)
        return ((p @ self.rotation.T) / self.half).astype(np.float32)

    def to_world(self, points: np.ndarray) -> np.ndarray:
        """Frame points (N, 3) -> world points (N, 3) mm (the plain inverse of `to_view`)."""
        q = np.asarray(points, float).reshape(-1, 3) * self.half
        return q @ self.rotation + np.asarray(self.origin)

    def conditioning(self) -> np.ndarray:
        """What the network reads about the view: sin and cos of the elevation, and the perspective
        strength (the box's half side over the target distance; 0 for an orthographic camera)."""
        persp = 0.0
        if self.camera.projection == "perspective":
            persp = self.half / float(np.linalg.norm(np.subtract(self.camera.target, self.camera.eye)))
        return np.array([math.sin(self.elevation), math.cos(self.elevation), persp], np.float32)

    def camera_vector(self) -> np.ndarray:
        """(CAMERA_VECTOR,) float32: the camera's right, true-up and forward vectors and its eye in
        frame units, and 1 for perspective (0 orthographic): `project` in the network reads it."""
        r, t, f = self.camera.basis()
        rot = self.rotation
        eye = self.to_view(np.asarray(self.camera.eye)[None])[0]
        persp = 1.0 if self.camera.projection == "perspective" else 0.0
        return np.concatenate([rot @ r, rot @ t, rot @ f, eye, [persp]]).astype(np.float32)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Frame points (N, 3) -> box units (N, 2) (x right, y up; the strokes' box spans [-1, 1]
        along its longer side), exactly as the camera sees them."""
        return project_box(np.asarray(points, float), self.camera_vector())

    # -- the sketch in the frame ---------------------------------------------------------------
    def strokes(self, sketch: Sketch) -> list[np.ndarray]:
        """Each non-empty stroke in box units (M, 2)."""
        out = []
        for s in sketch.strokes:
            uv = np.asarray(s.uv, float).reshape(-1, 2)
            if len(uv):
                ab = _to_plane(sketch.camera, uv, sketch.width, sketch.height)
                out.append((ab - np.asarray(self.box_centre)) / self.half)
        return out

    def raster(self, sketch: Sketch, size: int = SIZE) -> np.ndarray:
        """(size, size) uint8 ink raster (1 on ink) of the sketch's strokes in the frame."""
        img = np.zeros((size, size), np.uint8)
        for box in self.strokes(sketch):
            px = box_to_pixels(box, size)
            if len(px) == 1:
                px = np.vstack([px, px])
            px = np.clip(px, -4.0 * size, 5.0 * size)
            fixed = np.round((px - 0.5) * (1 << _SHIFT)).astype(np.int32)
            cv2.polylines(img, [fixed], False, 1, max(1, round(PEN_PX * size / SIZE)), cv2.LINE_8, _SHIFT)
        return img


def box_to_pixels(box: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Box units (M, 2) -> raster pixel coordinates (u right, v down, centres at +0.5)."""
    k = size / 2.0 - MARGIN * size / SIZE
    return np.stack([size / 2.0 + box[:, 0] * k, size / 2.0 - box[:, 1] * k], 1)


def project_box(points: np.ndarray, camera: np.ndarray) -> np.ndarray:
    """Frame points (N, 3) seen through a `camera_vector` -> box units (N, 2)."""
    r, t, f, eye, persp = camera[0:3], camera[3:6], camera[6:9], camera[9:12], camera[12]
    q = np.asarray(points, float)
    if persp > 0.5:
        rel = q - eye
        depth = np.maximum(rel @ f, 1e-9)
        q = eye + rel * ((-eye @ f) / depth)[:, None]
    return np.stack([q @ r, q @ t], 1)


def mirror_camera_vector(camera: np.ndarray) -> np.ndarray:
    """The camera vector of the scene mirrored across the frame's x = 0 plane (x -> -x): the raster
    flips left-right and `project` keeps agreeing with it."""
    m = np.array([-1.0, 1.0, 1.0], np.float32)
    c = np.asarray(camera, np.float32).copy()
    c[0:3] = -c[0:3] * m
    for k in (3, 6, 9):
        c[k:k + 3] *= m
    return c


def _to_plane(cam: Camera, uv: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixels (M, 2) -> mm (M, 2) along the camera's right and true-up on the plane through its
    target square to the view (along each pixel's ray)."""
    r, t, f = cam.basis()
    target = np.asarray(cam.target, float)
    o, d = cam.rays(uv, width, height)
    hit = o + d * (((target - o) @ f) / (d @ f))[:, None]
    rel = hit - target
    return np.stack([rel @ r, rel @ t], 1)


def projected_box(points: np.ndarray, camera: Camera, width: int, height: int, trim: float = 0.0) -> np.ndarray:
    """Pixel box (u0, v0, u1, v1) of world points seen through `camera` on a width x height canvas;
    `trim` leaves that share of the points out on each side (stray points)."""
    uv = camera.project(np.asarray(points, float), width, height)
    uv = uv[np.isfinite(uv).all(1)]
    if not len(uv):
        return np.full(4, np.nan)
    return np.concatenate(_box(uv, trim))


def _box(x: np.ndarray, trim: float) -> tuple[np.ndarray, np.ndarray]:
    if trim <= 0.0:
        return x.min(0), x.max(0)
    return np.quantile(x, trim, axis=0), np.quantile(x, 1.0 - trim, axis=0)


# -- back to the world ---------------------------------------------------------------------------------
def place(points: np.ndarray, sketch: Sketch, frame: ViewFrame | None = None, trim: float = 0.0,
          iterations: int = 8) -> np.ndarray:
    """Frame points (N, 3) from the network -> world points (N, 3) mm: upright, the centre of its box
    at the depth of the camera's target, scaled and shifted across the view so that its projected
    box matches the strokes' box (one scale for both sides, least squares; the centres agree).
    `trim` leaves that share of the points out of the boxes on each side, so a few stray points
    of a sampled cloud do not shrink it."""
    frame = frame or ViewFrame.of_sketch(sketch)
    cam = sketch.camera
    w, h = sketch.width, sketch.height
    uv = _stroke_uv(sketch)
    goal = np.concatenate([uv.min(0), uv.max(0)])
    p = frame.to_world(points)
    r, t, f = cam.basis()
    target_depth = float((np.asarray(cam.target) - np.asarray(cam.eye)) @ f)
    px_per = cam.scale(w, h)
    for _ in range(iterations):
        centre = 0.5 * np.add(*_box(p, trim))
        depth = float((centre - np.asarray(cam.eye)) @ f)
        p = p + (target_depth - depth) * f  # the centre at the target's depth
        box = projected_box(p, cam, w, h, trim)
        size = box[2:] - box[:2]
        want = goal[2:] - goal[:2]
        if not np.isfinite(box).all() or float(size @ size) < 1e-12:
            break
        s = float(size @ want) / float(size @ size)
        centre = 0.5 * np.add(*_box(p, trim))
        p = centre + (p - centre) * s
        box = projected_box(p, cam, w, h, trim)
        shift = 0.5 * (goal[:2] + goal[2:]) - 0.5 * (box[:2] + box[2:])  # pixels (u right, v down)
        mm = (target_depth if cam.projection == "perspective" else 1.0) / px_per
        p = p + (shift[0] * mm) * r - (shift[1] * mm) * t
        if abs(s - 1.0) < 1e-6 and float(np.abs(shift).max()) < 1e-4:
            break
    return p


def unit_cloud(points: np.ndarray) -> np.ndarray:
    """Points (N, 3) in their own frame: the centre of their box at the origin and the box's longer
    half side 1 (axes kept, so Z stays up), float32. The colour network reads positions so."""
    p = np.asarray(points, float).reshape(-1, 3)
    lo, hi = p.min(0), p.max(0)
    half = max(0.5 * float((hi - lo).max()), 1e-9)
    return ((p - 0.5 * (lo + hi)) / half).astype(np.float32)
