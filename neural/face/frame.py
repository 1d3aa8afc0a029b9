"""From a face sketch, drawn in any view at any size, to the square frame the networks read.

A person draws a head from the front of whatever view they have, as large as they like. The
networks read it in one normalised frame, so a sketch is carried there by a similarity that
depends on the strokes alone:

* every stroke point goes onto the plane through the camera's target square to the view
  (orthographic: straight; perspective: along its ray), in millimetres along the camera's right
  and true-up axes (a, b);
* the strokes' bounding box is centred on the canvas and its longer side scaled to `SPAN`
  pixels of the `SIZE` canvas (network units: x, y from -EXTENT to +EXTENT across the canvas,
  as `heads.front_maps`; z towards the viewer);
* the head the networks make in that frame goes back to the world by the inverse: x along the
  camera's right, y along its up, z towards the camera, from the target.

The training data passes through the same function (`FaceFrame.of_strokes` on the sketch file of
each item), so the networks see every sketch the way they will see a user's. The pen is
`PEN_PX` pixels wide, as the CAD back end's at this size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.sketch import Sketch

from .heads import EXTENT
from .sketches import HEAD_MM

__all__ = ["SIZE", "SPAN", "PEN_PX", "KIND_CHANNELS", "FaceFrame", "FrameError", "plane_strokes"]

SIZE = 128
SPAN = 100.0        # pixels: the longer side of the strokes' bounding box in the frame
PEN_PX = 2
KIND_CHANNELS = {None: 0, "contour": 0, "ridge": 1, "valley": 2}  # stroke kind -> ink channel
_PX = 2.0 * EXTENT / (SIZE - 1)  # network units per pixel (pixel centres span -EXTENT .. EXTENT)
MIN_EXTENT_PX = 8.0  # a sketch smaller than this on its own canvas is a dot or a tick


class FrameError(ValueError):
    """A sketch that cannot be a head: nothing drawn, a dot, a view that sees nothing."""


def plane_strokes(sketch: Sketch) -> list[tuple[np.ndarray, str | None]]:
    """Each stroke's points on the plane through the target square to the view, (M, 2) mm along
    the camera's right and up, with its kind; empty strokes are left out."""
    cam = sketch.camera
    r, t, f = cam.basis()
    target = np.asarray(cam.target, float)
    out = []
    for s in sketch.strokes:
        uv = np.asarray(s.uv, float).reshape(-1, 2)
        if len(uv) == 0:
            continue
        if not np.isfinite(uv).all():
            raise FrameError("a stroke holds NaN or infinite coordinates; redraw it or remove it from the file")
        o, d = cam.rays(uv, sketch.width, sketch.height)
        denom = d @ f
        hit = o + d * ((target - o) @ f / denom)[:, None]
        rel = hit - target
        out.append((np.stack([rel @ r, rel @ t], 1), s.kind))
    return out


@dataclass(frozen=True)
class FaceFrame:
    """The similarity between a sketch's plane (mm, camera right / up) and the network frame:
    network = (plane - centre) * scale, in network units; depth scales the same way."""

    centre: tuple[float, float]   # mm on the plane
    scale: float                  # network units per mm
    camera: Camera

    @staticmethod
    def of_strokes(strokes: list[tuple[np.ndarray, str | None]], camera: Camera,
                   canvas_px: float | None = None) -> "FaceFrame":
        """The frame that centres the strokes' box and scales its longer side to SPAN pixels.
        `canvas_px` (mm per canvas pixel) lets a dot be told from a drawing."""
        if not strokes:
            raise FrameError("the sketch is empty; draw the outline of a head (from the front) first")
        pts = np.concatenate([p for p, _ in strokes])
        lo, hi = pts.min(0), pts.max(0)
        side = float((hi - lo).max())
        if not np.isfinite(side) or side <= 0 or (canvas_px is not None and side < MIN_EXTENT_PX * canvas_px):
            raise FrameError("the sketch is a dot or a tick; draw the outline of a head (from the front) first")
        centre = 0.5 * (lo + hi)
        return FaceFrame((float(centre[0]), float(centre[1])), SPAN * _PX / side, camera)

    @staticmethod
    def of_sketch(sketch: Sketch) -> tuple["FaceFrame", list[tuple[np.ndarray, str | None]]]:
        strokes = plane_strokes(sketch)
        cam = sketch.camera
        mm_per_px = 1.0 / cam.scale(sketch.width, sketch.height)
        if cam.projection == "perspective":  # at the target's distance
            mm_per_px *= float(np.linalg.norm(np.subtract(cam.target, cam.eye)))
        return FaceFrame.of_strokes(strokes, cam, mm_per_px), strokes

    # -- the network frame ---------------------------------------------------------------------
    def to_network(self, plane: np.ndarray) -> np.ndarray:
        """Plane points (M, 2) mm -> network units (M, 2) (x right, y up)."""
        return (np.asarray(plane, float) - np.asarray(self.centre)) * self.scale

    def to_pixels(self, plane: np.ndarray) -> np.ndarray:
        """Plane points (M, 2) mm -> frame pixel coordinates (u right, v down, centres at +0.5)."""
        n = self.to_network(plane)
        return np.stack([(n[:, 0] + EXTENT) / _PX + 0.5, (EXTENT - n[:, 1]) / _PX + 0.5], 1)

    def to_world(self, points: np.ndarray) -> np.ndarray:
        """Network-frame points (N, 3) -> world millimetres: x along the camera's right, y along
        its up, z towards the camera, from the target."""
        r, t, f = self.camera.basis()
        p = np.asarray(points, float) / self.scale
        a = p[:, 0] + self.centre[0]
        b = p[:, 1] + self.centre[1]
        return np.asarray(self.camera.target) + a[:, None] * r + b[:, None] * t - p[:, 2:3] * f

    def ink(self, strokes: list[tuple[np.ndarray, str | None]], size: int = SIZE) -> np.ndarray:
        """(3, size, size) float32 ink channels (contour, ridge, valley) of the strokes in the frame."""
        img = np.zeros((3, size, size), np.uint8)
        span = 4.0 * size
        for pts, kind in strokes:
            ch = KIND_CHANNELS.get(kind, 0)
            px = self.to_pixels(pts) * (size / SIZE)
            if len(px) == 1:
                px = np.vstack([px, px])
            px = np.clip(px, -span, span)
            fixed = np.round((px - 0.5) * 16).astype(np.int32)
            cv2.polylines(img[ch], [fixed], False, 1, PEN_PX, cv2.LINE_8, 4)
        return img.astype(np.float32)


def head_units_frame(frame: FaceFrame) -> tuple[float, np.ndarray]:
    """For a training item drawn with `sketches.front_camera`: (s, c) with network = s * (head - c),
    head-frame units, c = (cx, cy, 0)."""
    s = frame.scale * HEAD_MM
    c = np.array([frame.centre[0] / HEAD_MM, frame.centre[1] / HEAD_MM, 0.0])
    return s, c
