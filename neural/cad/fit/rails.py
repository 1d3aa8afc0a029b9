"""Profile strokes ("rails"): where each starts on the base curve and where it ends."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry2d import closest_on_segments, in_polygon, seg_dist, segments, thin
from .inputs import PROFILE
from .state import Fit
from .tuning import MAX_COST_POINTS


@dataclass
class Rail:
    """A profile stroke: its points, the 3D point on the base curve it starts from, its far end,
    and the reading with its ends swapped when both ends lie on the base curve (a short line
    into a small pocket ends near the outline it started from)."""

    uv: np.ndarray
    start: np.ndarray  # (3,)
    far: np.ndarray  # (2,)
    alt: tuple[np.ndarray, np.ndarray] | None = None  # (start, far) the other way round
    into_opening: bool = False  # the far end lies over the profile: going in, it may vanish in the cut


def profile_rails(fit: Fit, base_world: list[np.ndarray], corners: np.ndarray | None, plane,
           opening: bool = False) -> list[Rail]:
    """Profile strokes with the base-curve point each starts from (a corner when corners are given).
    With `opening` (a profile that a cut goes through), a stroke whose far end lies over the
    profile or on its rim is flagged: going inward, the line may disappear into the cut there."""
    base_img = [fit.view.project(w) for w in base_world]
    a, b = segments(base_img, closed=True)
    a3, b3 = segments(base_world, closed=True)
    cimg = np.nan_to_num(fit.view.project(corners), nan=1e9) if corners is not None and len(corners) else None

    def start_of(end: np.ndarray) -> tuple[np.ndarray, float]:
        """The base point a line ending at pixel `end` starts from, and its pixel distance."""
        if cimg is not None:
            dist = np.linalg.norm(cimg - end, axis=1)
            k = int(np.argmin(dist))
            return corners[k], float(dist[k])
        d = float(seg_dist(end[None], a, b)[0])
        p = fit.view.lift_plane(end[None], *plane)
        if np.isfinite(p).all():
            return closest_on_segments(p, a3, b3)[0][0], d
        q, seg = closest_on_segments(end[None], a, b)
        i = int(seg[0])
        t = np.linalg.norm(q[0] - a[i]) / max(np.linalg.norm(b[i] - a[i]), 1e-12)
        return a3[i] + t * (b3[i] - a3[i]), d

    out = []
    for run in fit.by_role[PROFILE]:
        if run.length < 2.0 * fit.view.k:
            continue
        ends = (run.uv[0], run.uv[-1])
        (s0, d0), (s1, d1) = start_of(ends[0]), start_of(ends[1])
        if d1 < d0:
            (s0, d0), (s1, d1), ends = (s1, d1), (s0, d0), ends[::-1]
        alt = (s1, ends[0]) if d1 <= 3.0 * fit.view.k else None
        inside = opening and (in_polygon(base_img[0], ends[1]) or d1 <= 3.0 * fit.view.k)
        out.append(Rail(thin(run.uv, MAX_COST_POINTS // 4), s0, ends[1], alt, inside))
    return out
