"""Exact stroke and role images of synthetic strokes, and their conversion to sketch strokes.

The images are training labels, so no anti-aliasing: a pixel is ink or not, and every ink pixel
has exactly one role. Both images are drawn with the same OpenCV calls (same points, thickness,
line type and sub-pixel shift), so they cover exactly the same pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from sketchforge.modeling.sketch import Stroke

from .strokes import SynthStroke

ROLES = {"base": 1, "profile": 2, "offset": 3}
_SHIFT = 4  # fixed-point fraction bits: sub-pixel accurate lines
SPEED_PX_S = (300.0, 900.0)  # peak drawing speed of a stroke


def rasterise(strokes: list[SynthStroke], width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """`stroke` (H, W) uint8, 255 on ink and 0 elsewhere, and `roles` (H, W) uint8, the `ROLES` id
    of the stroke drawn last at each pixel (strokes are drawn in list order, so where strokes of
    different roles cross, the later one labels the crossing) and 0 where there is no ink."""
    stroke = np.zeros((height, width), np.uint8)
    roles = np.zeros((height, width), np.uint8)
    for s in strokes:
        role = ROLES.get(s.role)
        if role is None:
            raise ValueError(f"unknown stroke role {s.role!r}; expected one of {', '.join(ROLES)}")
        pts = np.asarray(s.points, float).reshape(-1, 2)
        pts = pts[np.isfinite(pts).all(axis=1)]
        if len(pts) == 0:
            continue
        if len(pts) == 1:
            pts = np.vstack([pts, pts])  # a dot
        fixed = [np.round((pts - 0.5) * (1 << _SHIFT)).astype(np.int32)]
        thickness = max(1, int(round(float(s.width))))
        cv2.polylines(stroke, fixed, False, 255, thickness, cv2.LINE_8, _SHIFT)
        cv2.polylines(roles, fixed, False, role, thickness, cv2.LINE_8, _SHIFT)
    return stroke, roles


def to_sketch_strokes(strokes: list[SynthStroke], rng: np.random.Generator) -> list[Stroke]:
    """Sketch strokes with points [u, v, pressure, t_ms], in the same order.

    Time follows a minimum-jerk movement along the stroke (the bell-shaped speed profile of a
    reaching hand: slow start, fast middle, slow end) with a peak speed drawn from `SPEED_PX_S`
    per stroke; t restarts at 0 for each stroke and strictly increases along it.
    """
    out = []
    for s in strokes:
        pts = np.asarray(s.points, float).reshape(-1, 2)
        seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        arc = np.concatenate([[0.0], np.cumsum(seg)])
        length = float(arc[-1])
        peak = float(rng.uniform(*SPEED_PX_S))
        duration_ms = 1000.0 * 1.875 * length / peak  # minimum jerk: peak speed = 1.875 L / T
        t = duration_ms * _min_jerk_time(arc / length) if length > 0 else np.zeros(len(pts))
        t = _strictly_increasing(t - t[0])
        pressure = np.clip(np.asarray(s.pressure, float).reshape(-1), 0.0, 1.0)
        out.append(Stroke(np.column_stack([pts, pressure, t]), None))
    return out


_TAU = np.linspace(0.0, 1.0, 513)
_POS = 10 * _TAU**3 - 15 * _TAU**4 + 6 * _TAU**5  # minimum-jerk position for normalised time


def _min_jerk_time(fraction: np.ndarray) -> np.ndarray:
    """Normalised time at which a minimum-jerk movement has covered `fraction` of its path."""
    return np.interp(np.clip(fraction, 0.0, 1.0), _POS, _TAU)


def _strictly_increasing(t: np.ndarray, step_ms: float = 0.5) -> np.ndarray:
    """Times with each at least `step_ms` after the one before (a digitiser never repeats one)."""
    out = t.astype(float).copy()
    for k in range(1, len(out)):
        if out[k] < out[k - 1] + step_ms:
            out[k] = out[k - 1] + step_ms
    return out

