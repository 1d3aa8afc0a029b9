"""Roads along splines, graded into the ground under a slope limit, with bridges over water.

The first road crosses the world from edge to edge; the others branch off a road there is (a
T junction) or cross the world on their own, never meeting another road elsewhere and never
touching a lake. Of a few candidate courses the one with the least climbing beyond the grade
limit, and the fewest water crossings, is kept.

The surface profile along the centre line: the smoothed ground, raised where it must clear
water (the banks, and a bridge's clearance over the water, widened to the road's half width and
spread along the road at the grade limit so the approach ramps start in time), then held to the
grade limit by following it forwards and backwards from the ends and averaging (a branch
follows it forwards only, from the height of the road it leaves). Across the road the surface is
level; beyond its edges a shoulder blends cut and fill into the ground. Where the road is over
water the cells are left alone: that stretch is a bridge, recorded with its span and deck.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from .lines import (
    Grid,
    along,
    arclength,
    box_smooth,
    catmull_rom,
    disc,
    edge_point,
    near_polyline,
    self_clear,
    sharpest_turn,
    trim,
    upper_hull,
)
from .water import Water, smoothstep

__all__ = ["Bridge", "Road", "RoadField", "make_roads"]

SHOULDER_M = 7.0
"""Width of the cut-and-fill shoulder beyond a road's edge (m)."""


@dataclass(frozen=True)
class Road:
    """A road: centre line (K, 2) m, samples half a cell apart; width (m); surface height along the
    centre line (K,) m; the road it branches off (-1: none) and the sample of that road it starts at."""

    points: np.ndarray
    width_m: float
    profile: np.ndarray
    parent: int = -1
    at: int = -1

    def grades(self) -> np.ndarray:
        """Rise over run between consecutive samples (K - 1,)."""
        ds = np.linalg.norm(np.diff(self.points, axis=0), axis=1)
        return np.abs(np.diff(self.profile)) / np.maximum(ds, 1e-9)

    @property
    def length_m(self) -> float:
        return float(arclength(self.points)[-1])


@dataclass(frozen=True)
class Bridge:
    """Where road `road` crosses water: from `s[0]` to `s[1]` metres along it, between the two ends
    (2, 2) m, with the deck's height at each end (m)."""

    road: int
    s: tuple[float, float]
    ends: np.ndarray
    deck: tuple[float, float]

    @property
    def span_m(self) -> float:
        return float(self.s[1] - self.s[0])


@dataclass
class RoadField:
    """For every cell: the distance (m) from the nearest road's edge (negative on it, large where
    no road is near), that road's index and its nearest sample (-1 where none)."""

    edge: np.ndarray
    road: np.ndarray
    sample: np.ndarray

    @property
    def surface(self) -> np.ndarray:
        return self.edge <= 0.0


def _extended(grid: Grid, pts: np.ndarray, by: float) -> np.ndarray:
    """The polyline with both ends run on straight by `by` metres, trimmed to the world plus `by`."""
    out = [pts]
    for end, nxt, front in ((pts[0], pts[min(4, len(pts) - 1)], True), (pts[-1], pts[max(-5, -len(pts))], False)):
        d = end - nxt
        d /= max(np.linalg.norm(d), 1e-9)
        extra = end + d * np.arange(0.5, by + 1e-9, 0.5)[:, None]
        if front:
            out.insert(0, extra[::-1])
        else:
            out.append(extra)
    return trim(grid, np.vstack(out), by)


class _Planner:
    """Candidate courses and their profiles against the ground, water and roads there are."""

    def __init__(self, grid: Grid, h: np.ndarray, water: Water, grade: float):
        self.grid, self.h, self.water, self.grade = grid, h, water, grade
        self.step = 0.5 * grid.cell_m
        self.size = max(grid.width_m, grid.height_m)
        self.ground = ndimage.uniform_filter(h, size=7, mode="nearest")
        self.lake_d = (ndimage.distance_transform_edt(~water.lake) * grid.cell_m if water.lake.any()
                       else np.full(grid.shape, 1e6))
        self.guard = np.where(np.isfinite(water.guard()), water.guard(), -1e6).astype(np.float32)

    def course(self, rng: np.random.Generator, roads: list[Road], width: float) -> tuple[np.ndarray, int, int] | None:
        """A candidate centre line with the road it branches off and the sample it starts at (-1, -1
        for a road from edge to edge); None when the draw gives no usable course."""
        grid, step = self.grid, self.step
        if roads and rng.random() < 0.7:
            p = int(rng.integers(len(roads)))
            parent = roads[p]
            inner = np.nonzero(grid.inside(parent.points, 0.12 * self.size))[0]
            if len(inner) < 20:
                return None
            j = int(inner[int(rng.integers(len(inner)))])
            start = parent.points[j]
            t = parent.points[min(j + 2, len(parent.points) - 1)] - parent.points[max(j - 2, 0)]
            turn = float(rng.uniform(math.radians(60), math.radians(120)))
            heading = math.atan2(t[1], t[0]) + float(rng.choice([-1.0, 1.0])) * turn
            u = np.array([math.cos(heading), math.sin(heading)])
            length = float(rng.uniform(0.3, 0.75)) * self.size
            v = np.array([-u[1], u[0]])
            ts = np.array([0.0, 0.2, 0.45, 0.7, 1.0])
            lateral = rng.normal(0.0, 0.07, len(ts)) * length
            lateral[:2] = 0.0
            ctrl = start + ts[:, None] * length * u + lateral[:, None] * v
            pts = trim(grid, catmull_rom(ctrl, step), 15.0)
            if len(pts) < 4 or not np.allclose(pts[0], start):
                return None
            return pts, p, j
        a = int(rng.integers(4))
        b = (a + 2) % 4 if rng.random() < 0.7 else (a + int(rng.choice([1, 3]))) % 4
        start, end = edge_point(grid, rng, a), edge_point(grid, rng, b)
        chord = end - start
        length = float(np.linalg.norm(chord))
        if length < 0.4 * self.size:
            return None
        n = int(rng.integers(4, 7))
        ts = np.linspace(0.0, 1.0, n)
        side = np.array([-chord[1], chord[0]]) / length
        lateral = rng.normal(0.0, 0.08, n) * length
        lateral[0] = lateral[-1] = 0.0
        ctrl = start + ts[:, None] * chord + lateral[:, None] * side
        return _extended(grid, catmull_rom(ctrl, step), 15.0), -1, -1

    def cost(self, pts: np.ndarray, width: float, roads: list[Road], parent: int) -> float:
        """How bad a course is (inf: not allowed)."""
        grid, step = self.grid, self.step
        if len(pts) < 4 or grid.inside(pts, 0.0).sum() * step < 0.25 * self.size:
            return math.inf
        if (grid.sample(self.lake_d, pts).min() < 0.5 * width + 6.0 or not self_clear(pts, width + 2 * SHOULDER_M)
                or sharpest_turn(pts, width + 2.0) > 50.0):
            return math.inf
        skip = int((0.5 * width + 25.0) / step) if parent >= 0 else 0
        for r in roads:
            test = pts[skip:]
            if len(test) and cKDTree(r.points).query(test)[0].min() < 0.5 * (width + r.width_m) + 12.0:
                return math.inf
        ground = box_smooth(grid.sample(self.ground, pts), int(20 / step))
        climb = np.maximum(np.abs(np.diff(ground)) / step - self.grade, 0.0).sum() * step
        r, c = grid.cell(pts)
        wet = self.water.wet[r, c] & grid.inside(pts, 0.0)
        crossings = int(np.count_nonzero(np.diff(wet.astype(np.int8)) == 1)) + int(wet[0])
        return climb + 25.0 * crossings + wet.sum() * step

    def profile(self, pts: np.ndarray, width: float, start: float | None) -> tuple[np.ndarray, np.ndarray] | None:
        """The graded surface (K,) and which samples are over water (K,) bool; None when a branch
        cannot start at `start` and clear the water near its start."""
        grid, step, g = self.grid, self.step, self.grade
        hw = 0.5 * width
        kernel = disc((hw + 1.0) / grid.cell_m).astype(np.uint8)
        low = cv2.dilate(self.guard, kernel)
        wet = cv2.dilate(self.water.wet.astype(np.uint8), kernel).astype(bool)
        r, c = grid.cell(pts)
        inside = grid.inside(pts, -2.0)
        need = np.where(inside, low[r, c].astype(float), -1e6)
        over = wet[r, c] & inside
        need = upper_hull(need, g, step)
        target = np.maximum(box_smooth(grid.sample(self.h, pts), int(16 / step)), need)
        if start is not None and start < need[0] - 1e-6:
            return None
        forward = _follow(target, g * step, target[0] if start is None else start)
        if start is not None:
            return forward, _spans(over, int(2.0 / step))
        backward = _follow(target[::-1], g * step, target[-1])[::-1]
        return 0.5 * (forward + backward), _spans(over, int(2.0 / step))


def _follow(target: np.ndarray, drop: float, first: float) -> np.ndarray:
    """Track `target` as closely as steps of at most `drop` allow, from `first`."""
    out = np.empty_like(target)
    z = first
    for i, t in enumerate(target):
        if i:
            z = min(max(t, z - drop), z + drop)
        out[i] = z
    return out


def _spans(over: np.ndarray, pad: int) -> np.ndarray:
    """`over` grown by `pad` samples at both ends of every run (the abutments)."""
    if not over.any():
        return over
    return ndimage.binary_dilation(over, structure=np.ones(2 * pad + 1, bool))


def make_roads(grid: Grid, h: np.ndarray, rng: np.random.Generator, count: int, water: Water,
               grade: float) -> tuple[list[Road], list[Bridge], RoadField]:
    """Lay `count` roads (0-3) into `h` (in place) with surfaces of at most `grade` rise over run."""
    planner = _Planner(grid, h, water, grade)
    roads: list[Road] = []
    bridges: list[Bridge] = []
    edge = np.full(grid.shape, 1e6)
    which = np.full(grid.shape, -1, np.int64)
    sample = np.full(grid.shape, -1, np.int64)
    for _ in range(count):
        width = float(rng.uniform(4.0, 8.0))
        best, best_cost = None, math.inf
        for _ in range(8):
            cand = planner.course(rng, roads, width)
            if cand is None:
                continue
            cost = planner.cost(cand[0], width, roads, cand[1])
            if cost < best_cost:
                best, best_cost = cand, cost
        if best is None:
            continue
        pts, parent, at = best
        start = float(roads[parent].profile[at]) if parent >= 0 else None
        graded = planner.profile(pts, width, start)
        if graded is None:
            continue
        profile, over = graded
        index = len(roads)
        roads.append(Road(pts, width, profile, parent, at))
        bridges += _bridges(index, pts, profile, over)
        hw = 0.5 * width
        d, k = near_polyline(grid, pts, hw + SHOULDER_M + 1.0)
        near = k >= 0
        on_bridge = np.zeros(grid.shape, bool)
        on_bridge[near] = over[np.rint(k[near]).astype(np.int64)]
        keep = water.wet | on_bridge | (edge <= 0.5)  # water, bridges and the roads laid before
        surface = near & (d <= hw + 0.5) & ~keep
        h[surface] = along(profile, k[surface])
        side = near & (d > hw + 0.5) & (d < hw + SHOULDER_M) & ~keep
        t = smoothstep((d[side] - hw) / SHOULDER_M)
        h[side] = along(profile, k[side]) * (1.0 - t) + h[side] * t
        closer = near & (d - hw < edge)
        edge[closer] = d[closer] - hw
        which[closer] = index
        sample[closer] = np.rint(k[closer]).astype(np.int64)
    dry = ~water.wet
    h[dry] = np.maximum(h[dry], water.bank_floor[dry])
    return roads, bridges, RoadField(edge, which, sample)


def _bridges(index: int, pts: np.ndarray, profile: np.ndarray, over: np.ndarray) -> list[Bridge]:
    out = []
    if not over.any():
        return out
    s = arclength(pts)
    edges = np.diff(np.concatenate([[0], over.astype(np.int8), [0]]))
    for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0] - 1):
        out.append(Bridge(index, (float(s[a]), float(s[b])), np.stack([pts[a], pts[b]]),
                          (float(profile[a]), float(profile[b]))))
    return out
