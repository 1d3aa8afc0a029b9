"""The world's grid and the polylines laid on it: rivers, roads and ridges are splines sampled
every half cell, and each shapes the ground through its distance field (for every cell, the
distance to the line and the line's nearest sample).

Grid convention (the `World` maps follow it): metres, origin at the world's centre, +x east,
+y north; cell (row, col) covers the square whose centre is
x = -width / 2 + (col + 0.5) * cell, y = height / 2 - (row + 0.5) * cell, so row 0 is the
north edge and column 0 the west edge, as an image of the map seen from above, north up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["Grid", "along", "arclength", "box_smooth", "catmull_rom", "disc", "edge_point", "line_distance",
           "near_polyline", "normals", "resample", "self_clear", "sharpest_turn", "trim", "upper_hull"]


@dataclass(frozen=True)
class Grid:
    """A rows x cols grid of square cells `cell_m` metres wide, centred on the origin."""

    rows: int
    cols: int
    cell_m: float = 1.0

    @property
    def width_m(self) -> float:
        return self.cols * self.cell_m

    @property
    def height_m(self) -> float:
        return self.rows * self.cell_m

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """The x of every column (cols,) and the y of every row (rows,) of cell centres."""
        x = -0.5 * self.width_m + (np.arange(self.cols) + 0.5) * self.cell_m
        y = 0.5 * self.height_m - (np.arange(self.rows) + 0.5) * self.cell_m
        return x, y

    def rc(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (row, col) of points (N, 2); integer values are cell centres."""
        xy = np.asarray(xy, float).reshape(-1, 2)
        col = (xy[:, 0] + 0.5 * self.width_m) / self.cell_m - 0.5
        row = (0.5 * self.height_m - xy[:, 1]) / self.cell_m - 0.5
        return row, col

    def cell(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (row, col) of the cell holding each point, clamped to the grid."""
        r, c = self.rc(xy)
        return (np.clip(np.floor(r + 0.5), 0, self.rows - 1).astype(np.int64),
                np.clip(np.floor(c + 0.5), 0, self.cols - 1).astype(np.int64))

    def inside(self, xy: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Whether points (N, 2) lie inside the world shrunk by `margin` metres (negative grows it)."""
        xy = np.asarray(xy, float).reshape(-1, 2)
        return ((np.abs(xy[:, 0]) <= 0.5 * self.width_m - margin)
                & (np.abs(xy[:, 1]) <= 0.5 * self.height_m - margin))

    def sample(self, field: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """Bilinear values of a (rows, cols) map at points (N, 2), clamped at the edges."""
        r, c = self.rc(xy)
        r = np.clip(r, 0.0, self.rows - 1.0)
        c = np.clip(c, 0.0, self.cols - 1.0)
        r0 = np.minimum(np.floor(r).astype(np.int64), self.rows - 2) if self.rows > 1 else np.zeros(len(r), np.int64)
        c0 = np.minimum(np.floor(c).astype(np.int64), self.cols - 2) if self.cols > 1 else np.zeros(len(c), np.int64)
        fr, fc = r - r0, c - c0
        r1, c1 = np.minimum(r0 + 1, self.rows - 1), np.minimum(c0 + 1, self.cols - 1)
        f = np.asarray(field, float)
        top = f[r0, c0] * (1 - fc) + f[r0, c1] * fc
        bottom = f[r1, c0] * (1 - fc) + f[r1, c1] * fc
        return top * (1 - fr) + bottom * fr


def edge_point(grid: Grid, rng: np.random.Generator, side: int) -> np.ndarray:
    """A random point on the world's side 0 north, 1 east, 2 south or 3 west, away from the corners."""
    t = float(rng.uniform(-0.4, 0.4))
    w, h = 0.5 * grid.width_m, 0.5 * grid.height_m
    return np.array([(t * 2 * w, h), (w, t * 2 * h), (t * 2 * w, -h), (-w, t * 2 * h)][side])


def disc(radius: float) -> np.ndarray:
    """A round structuring element (bool) of `radius` cells."""
    n = int(np.ceil(radius))
    yy, xx = np.mgrid[-n:n + 1, -n:n + 1]
    return xx * xx + yy * yy <= radius * radius + 1e-9


# -- polylines ---------------------------------------------------------------------------------
def arclength(pts: np.ndarray) -> np.ndarray:
    """Cumulative length along a polyline (N, 2), starting at 0."""
    if len(pts) < 2:
        return np.zeros(len(pts))
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])


def resample(pts: np.ndarray, step: float) -> np.ndarray:
    """The polyline resampled every `step` along its length (both ends kept)."""
    pts = np.asarray(pts, float)
    s = arclength(pts)
    if len(pts) < 2 or s[-1] <= 0:
        return pts.copy()
    n = max(int(np.ceil(s[-1] / step)), 1)
    t = np.linspace(0.0, s[-1], n + 1)
    return np.stack([np.interp(t, s, pts[:, 0]), np.interp(t, s, pts[:, 1])], axis=1)


def catmull_rom(ctrl: np.ndarray, step: float, closed: bool = False) -> np.ndarray:
    """A Catmull-Rom spline through the control points (K, 2), sampled every `step`."""
    p = np.asarray(ctrl, float)
    if closed:
        p = np.vstack([p[-1:], p, p[:2]])
    else:
        p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    out = []
    for i in range(1, len(p) - 2):
        a, b, c, d = p[i - 1], p[i], p[i + 1], p[i + 2]
        n = int(np.clip(np.ceil(4.0 * np.linalg.norm(c - b) / step), 8, 20000))  # a quarter step apart
        t = np.linspace(0.0, 1.0, n, endpoint=False)[:, None]
        t2, t3 = t * t, t * t * t
        out.append(0.5 * (2 * b + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t2 + (-a + 3 * b - 3 * c + d) * t3))
    out.append(p[-2][None, :])
    return resample(np.vstack(out), step)


def normals(pts: np.ndarray, window: int = 1) -> np.ndarray:
    """Unit left normals (the tangent turned anticlockwise) of a polyline (N, 2), the tangents
    averaged over `window` samples (an offset curve then has no kinks where the line has)."""
    t = np.gradient(np.asarray(pts, float), axis=0) if len(pts) > 1 else np.array([[1.0, 0.0]])
    if window > 1 and len(t) > 2:
        t = np.stack([box_smooth(t[:, 0], window), box_smooth(t[:, 1], window)], axis=1)
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
    return np.stack([-t[:, 1], t[:, 0]], axis=1)


def trim(grid: Grid, pts: np.ndarray, margin: float) -> np.ndarray:
    """The longest run of consecutive samples inside the world grown by `margin` metres."""
    ok = grid.inside(pts, -margin)
    if not ok.any():
        return pts[:0]
    edges = np.diff(np.concatenate([[0], ok.astype(np.int8), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    k = int(np.argmax(ends - starts))
    return pts[starts[k]:ends[k]]


def self_clear(pts: np.ndarray, gap: float) -> bool:
    """Whether a polyline keeps `gap` metres from itself everywhere but along its own course (two
    samples closer than `gap` must lie within 1.6 * gap of each other along the line)."""
    from scipy.spatial import cKDTree
    if len(pts) < 3:
        return True
    s = arclength(pts)
    pairs = cKDTree(pts).query_pairs(gap, output_type="ndarray")
    return not len(pairs) or bool(np.all(np.abs(s[pairs[:, 0]] - s[pairs[:, 1]]) <= 1.6 * gap))


def sharpest_turn(pts: np.ndarray, over_m: float) -> float:
    """The largest change of heading (degrees) between two successive stretches `over_m` long: a
    cusp or kink shows as a large turn over a short distance."""
    pts = resample(np.asarray(pts, float), 0.5 * over_m)
    if len(pts) < 3:
        return 0.0
    d = np.diff(pts, axis=0)
    ang = np.arctan2(d[:, 1], d[:, 0])
    turn = np.abs((np.diff(ang) + np.pi) % (2 * np.pi) - np.pi)
    w = np.convolve(turn, np.ones(2), mode="valid") if len(turn) > 1 else turn
    return float(np.degrees(w.max()))


def box_smooth(a: np.ndarray, window: int) -> np.ndarray:
    """Moving average over `window` samples with the ends repeated; a non-increasing sequence
    stays non-increasing."""
    a = np.asarray(a, float)
    window = int(window)
    if window <= 1 or len(a) < 2:
        return a.copy()
    half = window // 2
    padded = np.concatenate([np.full(half, a[0]), a, np.full(half, a[-1])])
    c = np.concatenate([[0.0], np.cumsum(padded)])
    return (c[2 * half + 1:] - c[:-2 * half - 1]) / (2 * half + 1)


def upper_hull(low: np.ndarray, slope: float, step: float) -> np.ndarray:
    """The least function above `low` whose slope stays within `slope` (per metre, samples `step`
    apart): max over j of low[j] - slope * |i - j| * step (two passes)."""
    out = np.asarray(low, float).copy()
    drop = slope * step
    for i in range(1, len(out)):
        out[i] = max(out[i], out[i - 1] - drop)
    for i in range(len(out) - 2, -1, -1):
        out[i] = max(out[i], out[i + 1] - drop)
    return out


def near_polyline(grid: Grid, pts: np.ndarray, reach: float) -> tuple[np.ndarray, np.ndarray]:
    """For every cell, the distance (m) to the polyline and where along it the nearest point lies,
    as a fractional sample index: (d float64 (rows, cols), inf beyond `reach`; f float64, -1 beyond
    `reach`). Values along the line are read at f by `along` (continuous across cells, where a
    nearest whole sample would leave steps). The samples must lie at most half a cell apart; the
    field is computed on the polyline's box grown by `reach`, so samples outside the world count."""
    pts = np.asarray(pts, float)
    d = np.full(grid.shape, np.inf)
    k = np.full(grid.shape, -1.0)
    if len(pts) == 0:
        return d, k
    r, c = grid.rc(pts)
    pad = int(np.ceil(reach / grid.cell_m)) + 1
    r0 = max(int(np.floor(r.min())) - pad, -pad)
    r1 = min(int(np.ceil(r.max())) + pad, grid.rows - 1 + pad)
    c0 = max(int(np.floor(c.min())) - pad, -pad)
    c1 = min(int(np.ceil(c.max())) + pad, grid.cols - 1 + pad)
    if r1 < r0 or c1 < c0:
        return d, k
    label = np.zeros((r1 - r0 + 1, c1 - c0 + 1), np.int64)
    ri = np.floor(r + 0.5).astype(np.int64) - r0
    ci = np.floor(c + 0.5).astype(np.int64) - c0
    ok = (ri >= 0) & (ri < label.shape[0]) & (ci >= 0) & (ci < label.shape[1])
    if not ok.any():
        return d, k
    label[ri[ok], ci[ok]] = np.nonzero(ok)[0] + 1  # the last sample in a cell keeps it
    # the window's part inside the grid
    gr0, gr1 = max(r0, 0), min(r1, grid.rows - 1)
    gc0, gc1 = max(c0, 0), min(c1, grid.cols - 1)
    if gr1 < gr0 or gc1 < gc0:
        return d, k
    rough, idx = ndimage.distance_transform_edt(label == 0, return_distances=True, return_indices=True)
    sub = (slice(gr0 - r0, gr1 - r0 + 1), slice(gc0 - c0, gc1 - c0 + 1))
    rows, cols = np.nonzero(rough[sub] * grid.cell_m <= reach + grid.cell_m)
    if len(rows) == 0:
        return d, k
    nearest = label[idx[0][sub][rows, cols], idx[1][sub][rows, cols]] - 1
    x, y = grid.centres()
    cx, cy = x[gc0 + cols], y[gr0 + rows]
    # the nearest labelled cell is not always the nearest sample: look along the line a little
    # and measure to the segments there, so the distance is exact and continuous
    dist = np.full(len(rows), np.inf)
    best = nearest.astype(float)
    last = len(pts) - 1
    for o in range(-8, 8):
        a = np.clip(nearest + o, 0, last)
        b = np.minimum(a + 1, last)
        ax, ay = pts[a, 0], pts[a, 1]
        ex, ey = pts[b, 0] - ax, pts[b, 1] - ay
        ll = ex * ex + ey * ey
        u = np.clip(((cx - ax) * ex + (cy - ay) * ey) / np.maximum(ll, 1e-12), 0.0, 1.0)
        dd = np.hypot(cx - ax - u * ex, cy - ay - u * ey)
        closer = dd < dist
        dist[closer] = dd[closer]
        best[closer] = a[closer] + np.where(b[closer] > a[closer], u[closer], 0.0)
    within = dist <= reach
    d[gr0 + rows[within], gc0 + cols[within]] = dist[within]
    k[gr0 + rows[within], gc0 + cols[within]] = best[within]
    return d, k


def along(values: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Per-sample `values` (K,) read at fractional sample indices `f` (linear between samples)."""
    values = np.asarray(values, float)
    i = np.clip(np.floor(f).astype(np.int64), 0, len(values) - 1)
    j = np.minimum(i + 1, len(values) - 1)
    t = np.clip(f - i, 0.0, 1.0)
    return values[i] * (1.0 - t) + values[j] * t


def line_distance(grid: Grid, pts: np.ndarray) -> np.ndarray:
    """Distance (m) from every cell to the cells a polyline passes through (within half a cell of
    the exact distance; cheap, for broad shapes such as a valley)."""
    r, c = grid.rc(pts)
    ri, ci = np.floor(r + 0.5).astype(np.int64), np.floor(c + 0.5).astype(np.int64)
    ok = (ri >= 0) & (ri < grid.rows) & (ci >= 0) & (ci < grid.cols)
    if not ok.any():
        return np.full(grid.shape, np.inf)
    free = np.ones(grid.shape, bool)
    free[ri[ok], ci[ok]] = False
    return ndimage.distance_transform_edt(free) * grid.cell_m
