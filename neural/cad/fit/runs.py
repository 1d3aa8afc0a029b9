"""Stroke runs: the sketch's strokes in render pixels, split into runs of one role by the role map."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sketchforge.modeling.sketch import Sketch

from .geometry2d import resample
from .inputs import BASE, NONE, OFFSET, PROFILE
from .tuning import REF_SIZE


@dataclass(frozen=True)
class Run:
    """A piece of a stroke with one role, in render pixels, resampled about 1 px apart."""

    uv: np.ndarray  # (N, 2)
    role: int

    @property
    def length(self) -> float:
        """The run's length in pixels."""
        return float(np.linalg.norm(np.diff(self.uv, axis=0), axis=1).sum()) if len(self.uv) > 1 else 0.0


def _role_votes(roles: np.ndarray) -> np.ndarray:
    """(3, H, W) counts of each role in the 3x3 neighbourhood (centre counted twice)."""
    out = []
    for r in (BASE, PROFILE, OFFSET):
        m = (roles == r).astype(np.float32)
        out.append(cv2.boxFilter(m, -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT) + m)
    return np.stack(out)


def stroke_runs(sketch: Sketch, roles: np.ndarray, width: int, height: int) -> list[Run]:
    """The sketch's strokes in render pixels, split into runs of one role by the role map."""
    scale = np.array([width / sketch.width, height / sketch.height])
    return polyline_runs([np.asarray(s.uv, float).reshape(-1, 2) * scale for s in sketch.strokes], roles)


def polyline_runs(strokes: list[np.ndarray], roles: np.ndarray) -> list[Run]:
    """Strokes (N, 2) in the pixels of the (H, W) role map, split into runs of one role by it."""
    votes = _role_votes(roles)
    height, width = roles.shape
    k = max(width, height) / REF_SIZE
    runs: list[Run] = []
    for uv in strokes:
        if not np.isfinite(uv).all():
            raise ValueError("a stroke holds NaN or infinite coordinates; the sketch cannot be interpreted")
        uv = resample(uv, 1.0 * k)
        if len(uv) < 2:
            continue
        iu, iv = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)
        inside = (iu >= 0) & (iu < width) & (iv >= 0) & (iv < height)
        v = np.zeros((len(uv), 3), np.float32)
        v[inside] = votes[:, iv[inside], iu[inside]].T
        # a sliding vote over ~9 px smooths single mislabelled pixels and crossings
        sm = _moving_sum(v, max(1, int(round(4 * k))))
        label = np.where(sm.max(axis=1) > 0, sm.argmax(axis=1) + 1, NONE)
        runs.extend(_split_runs(uv, label, max(6.0 * k, 0.0)))
    return [r for r in runs if r.role != NONE and len(r.uv) >= 2]


def _moving_sum(v: np.ndarray, half: int) -> np.ndarray:
    """Sums of rows i - half .. i + half (clipped at the ends) of v (N, C)."""
    c = np.vstack([np.zeros((1, v.shape[1]), v.dtype), np.cumsum(v, axis=0)])
    i = np.arange(len(v))
    return c[np.minimum(i + half + 1, len(v))] - c[np.maximum(i - half, 0)]


def _split_runs(uv: np.ndarray, label: np.ndarray, min_len: float) -> list[Run]:
    """Consecutive points with one label as runs; runs shorter than `min_len` px join a neighbour."""
    cuts = np.nonzero(np.diff(label))[0] + 1
    bounds = [0, *cuts.tolist(), len(label)]
    pieces = [[a, b, int(label[a])] for a, b in zip(bounds[:-1], bounds[1:])]
    seg = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(uv, axis=0), axis=1))])

    def length(p):
        return seg[min(p[1], len(seg)) - 1] - seg[p[0]]

    changed = True
    while changed and len(pieces) > 1:
        changed = False
        k = min(range(len(pieces)), key=lambda i: length(pieces[i]))
        if length(pieces[k]) < min_len:
            nb = [j for j in (k - 1, k + 1) if 0 <= j < len(pieces)]
            j = max(nb, key=lambda i: length(pieces[i]))
            pieces[j] = [min(pieces[j][0], pieces[k][0]), max(pieces[j][1], pieces[k][1]), pieces[j][2]]
            del pieces[k]
            merged = [pieces[0]]
            for p in pieces[1:]:
                if p[2] == merged[-1][2]:
                    merged[-1] = [merged[-1][0], p[1], p[2]]
                else:
                    merged.append(p)
            pieces = merged
            changed = True
    return [Run(uv[a:b], r) for a, b, r in pieces if b - a >= 2]
