"""What the fitting reads: the networks' outputs for one sketch, and the sketch drawn as ink."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sketchforge.modeling.sketch import Sketch

# the role of a stroke pixel in the role map, and the role names of `neural.synth.curves`
NONE, BASE, PROFILE, OFFSET = 0, 1, 2, 3
ROLE_IDS = {"base": BASE, "profile": PROFILE, "offset": OFFSET}


@dataclass
class NetOutputs:
    """What the networks give for one sketch (or ground-truth labels, to test the fitting alone)."""

    class_probs: np.ndarray  # (4,) extrude, add/subtract, bevel, sweep
    stitch: np.ndarray  # (H, W) 0..1 heat map of the face the operation attaches to
    roles: np.ndarray  # (H, W) uint8 on stroke pixels: 0 none, 1 base, 2 profile, 3 offset

    def checked(self, height: int, width: int) -> "NetOutputs":
        """The outputs as float / uint8 arrays of the render size; ValueError naming what is wrong."""
        probs = np.asarray(self.class_probs, float).reshape(-1)
        if probs.shape != (4,) or not np.isfinite(probs).all() or (probs < 0).any() or probs.sum() <= 0:
            raise ValueError("class_probs must be four finite non-negative numbers with a positive sum "
                             f"(extrude, add/subtract, bevel, sweep); got {self.class_probs!r}")
        stitch = np.asarray(self.stitch, float)
        roles = np.asarray(self.roles)
        for name, a in (("stitch", stitch), ("roles", roles)):
            if a.shape != (height, width):
                raise ValueError(f"the {name} map is {a.shape} but the context renders are {(height, width)}; "
                                 "give the network outputs at the render size")
        if not np.isfinite(stitch).all():
            raise ValueError("the stitch heat map holds NaN or infinite values")
        if roles.size and (roles.min() < 0 or roles.max() > 3):
            raise ValueError("roles must be 0 (none), 1 (base), 2 (profile) or 3 (offset)")
        return NetOutputs(probs / probs.sum(), np.clip(stitch, 0.0, 1.0), roles.astype(np.uint8))


def rasterise_sketch(sketch: Sketch, width: int, height: int) -> np.ndarray:
    """The strokes as an (H, W) uint8 ink image at the render size (255 on ink), drawn the way the
    training data is (`neural.synth.raster`: 8-connected, sub-pixel end points, pixel centres at
    +0.5), with a pen of 1 px below 96 px renders and 2 px otherwise."""
    width, height = int(width), int(height)
    if width <= 0 or height <= 0:
        raise ValueError(f"the render size must be positive, got {width}x{height}")
    img = np.zeros((height, width), np.uint8)
    scale = np.array([width / sketch.width, height / sketch.height])
    thickness = 1 if min(width, height) < 96 else 2
    for s in sketch.strokes:
        pts = np.asarray(s.uv, float).reshape(-1, 2) * scale
        if not np.isfinite(pts).all():
            raise ValueError("a stroke holds NaN or infinite coordinates; the sketch cannot be drawn")
        if len(pts) == 0:
            continue
        if len(pts) == 1:
            pts = np.vstack([pts, pts])  # a dot
        pts = np.clip(pts, -4.0 * max(width, height), 5.0 * max(width, height))  # keep fixed-point in range
        fixed = np.round((pts - 0.5) * 16).astype(np.int32)
        cv2.polylines(img, [fixed], False, 255, thickness, cv2.LINE_8, 4)
    return img
