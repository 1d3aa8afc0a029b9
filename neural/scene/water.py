"""Rivers that run downhill in beds carved below their banks, and lakes of flat water in basins.

A river is a meandering spline from a source (an edge or high ground inside the world) to an
edge, or into another river (a tributary). Of a few candidate courses the one that needs the
least digging is kept. Its valley is lowered a little, then its bed is set along the whole
course: the smoothed ground under it, never allowed to rise downstream (a running minimum,
averaged, which keeps it falling), less the river's depth. Across the river the bed is a
parabola up to the water's edge, the banks stand above the water (`BANK_M`) and blend into the
ground beyond (and every cell beside the water stands above it, where a tight bend brings two
stretches of one river close). A tributary's bed ends above the water of the river it joins.

A lake is a rounded blob placed where the ground is flat and low, away from rivers; its water
level is the lowest ground on a ring just outside its rim, so the rim holds the water on every
side; inside, the bed deepens from the shore.
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
    edge_point,
    line_distance,
    near_polyline,
    normals,
    resample,
    self_clear,
    sharpest_turn,
    trim,
)

__all__ = ["BANK_M", "CLEARANCE_M", "Lake", "River", "Water", "make_lakes", "make_rivers", "smoothstep"]

BANK_M = 0.6
"""Height of a river's banks above its water (m), at least."""
MAX_FALL = 0.3
"""The steepest a river's bed may fall inside the world (drop over run); gentler courses are
preferred."""
CLEARANCE_M = 2.5
"""Height of a bridge deck above the water it crosses (m), at least."""


def smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class River:
    """A river: centre line from source to mouth (K, 2) m, samples half a cell apart (it may run a
    few metres past the world's edge, so that its bed meets the edge cleanly); width and depth
    (m); bed height under the centre line (K,), never rising downstream; `joins`: the index of
    the river it flows into, or -1."""

    points: np.ndarray
    width_m: float
    depth_m: float
    bed: np.ndarray
    joins: int = -1

    @property
    def level(self) -> np.ndarray:
        """The water surface along the centre line (K,) m."""
        return self.bed + self.depth_m

    @property
    def length_m(self) -> float:
        return float(arclength(self.points)[-1])


@dataclass(frozen=True)
class Lake:
    """A lake: its shore (K, 2) m, anticlockwise; the flat water level and the deepest bed (m)."""

    shore: np.ndarray
    level_m: float
    depth_m: float

    @property
    def area_m2(self) -> float:
        x, y = self.shore[:, 0], self.shore[:, 1]
        return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


@dataclass
class Water:
    """What water leaves on the grid: the surface height where there is water (NaN elsewhere), the
    river and lake cells, and the least height the ground beside the water must keep (the banks
    and rims; -inf elsewhere)."""

    level: np.ndarray
    channel: np.ndarray
    lake: np.ndarray
    bank_floor: np.ndarray

    @staticmethod
    def empty(grid: Grid) -> "Water":
        return Water(np.full(grid.shape, np.nan), np.zeros(grid.shape, bool), np.zeros(grid.shape, bool),
                     np.full(grid.shape, -np.inf))

    @property
    def wet(self) -> np.ndarray:
        return self.channel | self.lake

    def distance(self, grid: Grid) -> np.ndarray:
        """Distance (m) from every cell to the nearest water cell (0 in water; large when none)."""
        wet = self.wet
        if not wet.any():
            return np.full(grid.shape, 1e6)
        return ndimage.distance_transform_edt(~wet) * grid.cell_m

    def guard(self) -> np.ndarray:
        """The least height a road may have over each cell: above the banks, and a bridge's
        clearance above the water."""
        g = self.bank_floor.copy()
        wet = self.wet
        g[wet] = np.maximum(g[wet], self.level[wet] + CLEARANCE_M)
        return g


# -- rivers ------------------------------------------------------------------------------------
def _extend(pts: np.ndarray, grid: Grid, by: float) -> np.ndarray:
    """Run the ends that reach the world's edge on by `by` metres along their direction."""
    out = [pts]
    for end, nxt, front in ((pts[0], pts[min(3, len(pts) - 1)], True), (pts[-1], pts[max(-4, -len(pts))], False)):
        if grid.inside(end[None], 1.0)[0]:
            continue
        d = end - nxt
        d /= max(np.linalg.norm(d), 1e-9)
        extra = end + d * np.linspace(0.0, by, int(by / 0.5) + 1)[1:, None]  # half-metre samples
        if front:
            out.insert(0, extra[::-1])
        else:
            out.append(extra)
    return np.vstack(out)


def _meander(pts: np.ndarray, width: float, rng: np.random.Generator, step: float) -> np.ndarray:
    """Add a sideways meander of half a width to one and a half, fading out over 20 m at both ends."""
    s = arclength(pts)
    if s[-1] < 60.0:
        return pts
    amp = float(rng.uniform(0.5, 1.5)) * width
    wave = float(rng.uniform(9.0, 15.0)) * width
    phase = float(rng.uniform(0.0, 2 * math.pi))
    fade = np.minimum(smoothstep(s / 20.0), smoothstep((s[-1] - s) / 20.0))
    off = amp * np.sin(2 * math.pi * s / wave + phase) * fade
    return resample(pts + off[:, None] * normals(pts, int(4.0 / step)), step)


def _course(grid: Grid, rng: np.random.Generator, start: np.ndarray, end: np.ndarray, width: float,
            step: float) -> np.ndarray:
    """A gently curving spline from start to end with a meander."""
    n = int(rng.integers(4, 7))
    t = np.linspace(0.0, 1.0, n)
    chord = end - start
    length = float(np.linalg.norm(chord))
    side = np.array([-chord[1], chord[0]]) / max(length, 1e-9)
    lateral = rng.normal(0.0, 0.1, n) * length
    lateral[0] = lateral[-1] = 0.0
    ctrl = start + t[:, None] * chord + lateral[:, None] * side
    return _meander(catmull_rom(ctrl, step), width, rng, step)


def _digging(profile: np.ndarray) -> float:
    """How much a bed that never rises must cut below the ground along `profile` (mean metres)."""
    return float(np.mean(profile - np.minimum.accumulate(profile)))


def _candidate(grid: Grid, ground: np.ndarray, rng: np.random.Generator, width: float, step: float,
               main: River | None) -> tuple[np.ndarray, int] | None:
    """A course (source to mouth) and the sample of `main` it joins (-1: it leaves the world)."""
    size = max(grid.width_m, grid.height_m)
    high = np.argwhere(ground >= np.quantile(ground, 0.75))
    x, y = grid.centres()
    if main is not None:
        inner = np.nonzero(grid.inside(main.points, 0.15 * size))[0]
        if len(inner) < 10:
            return None
        j = int(inner[int(rng.integers(len(inner) // 5, 4 * len(inner) // 5 + 1))])
        end = main.points[j]
        if rng.random() < 0.5 and len(high):
            r, c = high[int(rng.integers(len(high)))]
            start = np.array([x[c], y[r]])
        else:
            start = edge_point(grid, rng, int(rng.integers(4)))
        if np.linalg.norm(start - end) < 0.3 * size:
            return None
        pts = trim(grid, _extend(_course(grid, rng, start, end, width, step), grid, 20.0), 20.0)
        if len(pts) < 4 or not np.allclose(pts[-1], end):
            return None
        # the tributary ends where it first reaches the main river's water
        dist, near = cKDTree(main.points).query(pts)
        first = int(np.argmax(dist < 0.5 * main.width_m))
        return pts[:first + 1], int(near[first])
    a = int(rng.integers(4))
    b = (a + 2) % 4 if rng.random() < 0.6 else (a + int(rng.choice([1, 3]))) % 4
    end = edge_point(grid, rng, b)
    spring = rng.random() < 0.25 and len(high) > 0
    if spring:
        r, c = high[int(rng.integers(len(high)))]
        start = np.array([x[c], y[r]])
    else:
        start = edge_point(grid, rng, a)
    if np.linalg.norm(start - end) < 0.4 * size:
        return None
    pts = trim(grid, _extend(_course(grid, rng, start, end, width, step), grid, 20.0), 20.0)
    if len(pts) < 2:
        return None
    if not spring:  # from edge to edge: the source is the higher end
        prof = grid.sample(ground, pts)
        if prof[0] < prof[-1]:
            pts = pts[::-1].copy()
    return pts, -1


def make_rivers(grid: Grid, h: np.ndarray, rng: np.random.Generator, count: int) -> tuple[list[River], Water]:
    """Lay `count` rivers (0-2) into `h` (in place): the courses, valleys, banks and beds."""
    step = 0.5 * grid.cell_m
    size = max(grid.width_m, grid.height_m)
    water = Water.empty(grid)
    ground = ndimage.uniform_filter(h, size=9, mode="nearest")
    specs: list[tuple[np.ndarray, float, float, int, int]] = []  # points, width, depth, joins, at
    rivers: list[River] = []
    for _ in range(count):
        top = min(20.0, 5.0 + 0.05 * size)
        width = float(rng.uniform(5.0, top))
        if rivers:
            width = min(width, float(rng.uniform(5.0, max(5.0, rivers[0].width_m))))
        best, best_cost = None, math.inf
        for _ in range(8):
            main = rivers[0] if (rivers and rng.random() < 0.6) else None
            cand = _candidate(grid, ground, rng, width, step, main)
            if cand is None or len(cand[0]) < 4:
                continue
            pts, j = cand
            inside = grid.inside(pts, 0.0)
            if inside.sum() * step < 0.35 * size:
                continue
            if rivers and not _apart(pts, rivers, width, j, step):
                continue
            if not self_clear(pts, 2.0 * width + 6.0) or sharpest_turn(pts, 0.5 * width + 2.0) > 80.0:
                continue  # a course that loops back on itself or kinks
            line = box_smooth(grid.sample(ground, pts), int(12 / step))
            bed = box_smooth(np.minimum.accumulate(line), int(20 / step))
            fall = float(np.max(-np.diff(bed)[inside[1:]], initial=0.0)) / step
            if fall > MAX_FALL:
                continue  # a cascade down a mountainside: no river of this width runs there
            cost = _digging(line) + 20.0 * max(fall - 0.08, 0.0)
            if cost < best_cost:
                best, best_cost = (pts, 0 if j >= 0 else -1, j), cost
        if best is None:
            continue
        pts, joins, at = best
        depth = float(0.8 + 0.1 * width + rng.uniform(0.0, 0.6))
        specs.append((pts, width, depth, joins, at))
        # the bed is set after every valley is lowered; a placeholder keeps the later courses apart
        rivers.append(River(pts, width, depth, np.zeros(len(pts)), joins))
    if not specs:
        return [], water
    fields = []
    for pts, width, _, _, _ in specs:
        hw = 0.5 * width
        flood = float(rng.uniform(4.0, 12.0)) + 0.5 * width
        valley_w = float(rng.uniform(3.0, 6.0)) * width
        d, k = near_polyline(grid, pts, hw + flood + 1.0)
        fields.append((d, k, hw, flood, valley_w))
        drop = float(rng.uniform(1.0, 4.0)) + 0.1 * width
        h -= drop * np.exp(-(line_distance(grid, pts) / valley_w) ** 2)
    rivers = []
    for (pts, width, depth, joins, at) in specs:
        ground_line = box_smooth(grid.sample(h, pts), int(12 / step))
        bed = box_smooth(np.minimum.accumulate(ground_line) - depth, int(20 / step))
        bed = bed - 0.002 * arclength(pts)
        if joins >= 0:
            bed = np.maximum(bed, rivers[joins].level[at] + 0.2)
        rivers.append(River(pts, width, depth, bed, joins))
    _carve(h, rivers, fields, water)
    return rivers, water


def _apart(pts: np.ndarray, rivers: list[River], width: float, joins_at: int, step: float) -> bool:
    """Whether a new course keeps clear of the rivers there are (a tributary except near its mouth)."""
    for r in rivers:
        gap = 0.5 * (r.width_m + width) + (15.0 if joins_at >= 0 else 40.0)
        test = pts
        if joins_at >= 0:
            test = pts[np.linalg.norm(pts - pts[-1], axis=1) > gap + 25.0]
        if len(test) and cKDTree(r.points).query(test)[0].min() < gap:
            return False
    return True


def _carve(h: np.ndarray, rivers: list[River], fields: list, water: Water) -> None:
    """Floodplains, banks and channels of all rivers, in that order (see the module notes)."""
    for river, (d, k, hw, flood, _) in reversed(list(zip(rivers, fields))):
        band = (k >= 0) & (d < hw + flood)
        target = along(river.level, k[band]) + BANK_M
        t = smoothstep((d[band] - hw) / flood)
        h[band] = target * (1.0 - t) + h[band] * t
    best = np.full(h.shape, np.inf)
    level = np.full(h.shape, np.nan)
    for river, (d, k, hw, _, _) in zip(rivers, fields):
        inside = (k >= 0) & (d < hw)
        c = along(river.bed, k[inside]) + river.depth_m * (d[inside] / hw) ** 2
        lower = c < best[inside]
        idx = tuple(a[lower] for a in np.nonzero(inside))
        best[idx] = c[lower]
        level[idx] = along(river.level, k[inside][lower])
        bank_w = max(3.0, 0.3 * river.width_m)
        bank = (k >= 0) & (d >= hw) & (d < hw + bank_w)
        water.bank_floor[bank] = np.maximum(water.bank_floor[bank], along(river.level, k[bank]) + BANK_M)
    channel = np.isfinite(best)
    water.channel |= channel
    water.level[channel] = level[channel]
    # a bank cell beside two stretches of a bending river holds the higher water too
    beside = cv2.dilate(np.where(channel, level, -1e9).astype(np.float32), np.ones((3, 3), np.uint8))
    rim = ~channel & (beside > -1e8)
    water.bank_floor[rim] = np.maximum(water.bank_floor[rim], beside[rim] + 0.3)
    dry = ~channel
    h[dry] = np.maximum(h[dry], water.bank_floor[dry])
    h[channel] = best[channel]


# -- lakes -------------------------------------------------------------------------------------
def _shore(centre: np.ndarray, radius: float, rng: np.random.Generator) -> np.ndarray:
    """A rounded blob: a radius varying with a few low harmonics (96 vertices, anticlockwise)."""
    theta = np.linspace(0.0, 2 * math.pi, 96, endpoint=False)
    r = np.ones_like(theta)
    for m in (2, 3, 4):
        r += float(rng.uniform(0.0, 0.3 / m)) * np.cos(m * theta + rng.uniform(0, 2 * math.pi))
    r *= radius
    return centre + np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def polygon_mask(grid: Grid, poly: np.ndarray) -> np.ndarray:
    """The cells whose centres lie inside a polygon (K, 2) m (bool, rows x cols)."""
    r, c = grid.rc(poly)
    pts = np.round(np.stack([c, r], axis=1) * 16).astype(np.int32)
    img = np.zeros(grid.shape, np.uint8)
    cv2.fillPoly(img, [pts], 1, cv2.LINE_8, 4)
    return img.astype(bool)


def make_lakes(grid: Grid, h: np.ndarray, rng: np.random.Generator, count: int, water: Water) -> list[Lake]:
    """Dig `count` lakes (0-2) into `h` (in place), away from the rivers; record them in `water`."""
    lakes: list[Lake] = []
    if count <= 0:
        return lakes
    x, y = grid.centres()
    short = min(grid.width_m, grid.height_m)
    taken = water.wet | np.isfinite(water.bank_floor)
    clear = ndimage.distance_transform_edt(~taken) * grid.cell_m if taken.any() else np.full(grid.shape, 1e6)
    ground = ndimage.uniform_filter(h, size=9, mode="nearest")
    for _ in range(count):
        radius = float(np.clip(rng.uniform(0.06, 0.13) * short, 12.0, 45.0))
        rim = float(rng.uniform(4.0, 8.0))
        need = 1.35 * radius + rim
        ok = clear >= need + 15.0
        m = int(np.ceil((need + 8.0) / grid.cell_m))
        ok[:m] = ok[-m:] = False
        ok[:, :m] = ok[:, -m:] = False
        spots = np.argwhere(ok)
        if len(spots) == 0:
            break
        best, best_score = None, math.inf
        for _ in range(12):
            r0, c0 = spots[int(rng.integers(len(spots)))]
            ring = np.linspace(0, 2 * math.pi, 16, endpoint=False)
            probe = np.array([x[c0], y[r0]]) + need * np.stack([np.cos(ring), np.sin(ring)], 1)
            around = grid.sample(ground, probe)
            score = float(np.ptp(around)) + 0.3 * float(ground[r0, c0] - ground.min())
            if score < best_score:
                best, best_score = (r0, c0), score
        assert best is not None
        centre = np.array([x[best[1]], y[best[0]]])
        shore = _shore(centre, radius, rng)
        inside = polygon_mask(grid, shore)
        if not inside.any():
            continue
        d_in = ndimage.distance_transform_edt(inside) * grid.cell_m
        d_out = ndimage.distance_transform_edt(~inside) * grid.cell_m
        outer = (d_out > rim) & (d_out <= rim + 3.0)
        level = float(h[outer].min())
        depth = float(rng.uniform(2.0, 6.0))
        h[inside] = level - np.minimum(depth, 0.4 + 0.3 * d_in[inside])
        ringm = ~inside & (d_out <= rim)
        t = smoothstep(d_out[ringm] / rim)
        h[ringm] = np.maximum(level + 0.3, (level + 0.3) * (1 - t) + h[ringm] * t)
        water.lake |= inside
        water.level[inside] = level
        water.bank_floor[ringm] = np.maximum(water.bank_floor[ringm], level + 0.3)
        lakes.append(Lake(shore, level, depth))
        grown = ndimage.distance_transform_edt(~inside) * grid.cell_m
        clear = np.minimum(clear, grown)
    return lakes
