"""What stands on the ground: villages of buildings along the roads, forests, and their trees.

Buildings line a stretch of road on both sides (sometimes a second row behind), with a few
farmhouses on their own; each faces the road (its yaw points from the building to the road's
nearest point), stands clear of the road, of water and of the other buildings, and on a pad
flattened into the ground where the ground was gentle already (the pad's fall is at most
`MAX_PAD_FALL_M` before flattening; after it, the footprint is level).

Forests are areas of a smooth noise field above a threshold chosen for the world's forest share,
kept away from water, roads, buildings and cliffs, without specks. Trees stand in them by
Poisson-disk sampling: no two closer than the forest's spacing, and none outside a forest cell.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from .lines import Grid, disc, normals
from .noise import fbm
from .roads import Road, RoadField
from .water import Water, smoothstep

__all__ = ["PAD_RING_M", "footprint", "forest_areas", "make_villages", "plant_trees", "slope_deg"]

PAD_RING_M = 5.0
"""Width of the ring over which a building's pad blends into the ground (m)."""
MAX_PAD_FALL_M = 5.0
"""The most the ground may fall across a building's pad before it is flattened (m): a terrace cut
into a gentle hillside, not into a steep one."""


def slope_deg(grid: Grid, h: np.ndarray) -> np.ndarray:
    """The ground's slope at every cell (degrees), from central differences."""
    gy, gx = np.gradient(h, grid.cell_m)
    return np.degrees(np.arctan(np.hypot(gx, gy)))


def footprint(x: float, y: float, yaw: float, size: float) -> np.ndarray:
    """The corners (4, 2) of a square footprint `size` metres wide turned by `yaw` (anticlockwise)."""
    c, s = math.cos(yaw), math.sin(yaw)
    half = 0.5 * size
    local = np.array([[half, half], [-half, half], [-half, -half], [half, -half]])
    return np.array([x, y]) + local @ np.array([[c, s], [-s, c]])


def pad_radius(size: float) -> float:
    """Radius of a building's flattened pad (m): the footprint's half diagonal and a margin."""
    return 0.72 * size + 1.5


def make_villages(grid: Grid, h: np.ndarray, rng: np.random.Generator, roads: list[Road], field: RoadField,
                  water: Water) -> tuple[np.ndarray, np.ndarray]:
    """Place villages and farmhouses along `roads`, flattening their pads into `h` (in place).
    Returns the buildings (M, 4) as x, y, yaw, size (m, radians) and the pad cells (bool)."""
    pads = np.zeros(grid.shape, bool)
    placed: list[tuple[float, float, float, float]] = []
    if not roads:
        return np.zeros((0, 4)), pads
    step = 0.5 * grid.cell_m
    water_d = water.distance(grid)
    x, y = grid.centres()
    protected = water.wet | np.isfinite(water.bank_floor) | (field.edge <= 0.5)
    roadside_points = cKDTree(np.vstack([r.points for r in roads]))

    def place(p: np.ndarray, size: float) -> bool:
        r_pad = pad_radius(size)
        if not grid.inside(p[None], r_pad + 2.0)[0]:
            return False
        if grid.sample(water_d, p[None])[0] < r_pad + 6.0 or grid.sample(field.edge, p[None])[0] < r_pad + 0.5:
            return False
        for qx, qy, _, qs in placed:
            if math.hypot(p[0] - qx, p[1] - qy) < 0.72 * (size + qs) + 4.0:
                return False
        reach = r_pad + PAD_RING_M
        r0, c0 = grid.cell(p[None])
        n = int(math.ceil(reach / grid.cell_m)) + 1
        rs = slice(max(int(r0[0]) - n, 0), min(int(r0[0]) + n + 1, grid.rows))
        cs = slice(max(int(c0[0]) - n, 0), min(int(c0[0]) + n + 1, grid.cols))
        d = np.hypot(x[cs][None, :] - p[0], y[rs][:, None] - p[1])
        win = h[rs, cs]
        pad = d <= r_pad
        if np.ptp(win[pad]) > MAX_PAD_FALL_M or (protected[rs, cs] & pad).any() or (pads[rs, cs] & pad).any():
            return False
        level = float(np.median(win[pad]))
        ring = (d > r_pad) & (d <= reach) & ~protected[rs, cs] & ~pads[rs, cs]
        t = smoothstep((d[ring] - r_pad) / PAD_RING_M)
        win[ring] = level * (1.0 - t) + win[ring] * t
        win[pad] = level
        pads[rs, cs] |= pad
        toward = roadside_points.data[roadside_points.query(p)[1]]  # the nearest road, which it faces
        yaw = math.atan2(toward[1] - p[1], toward[0] - p[0])
        placed.append((float(p[0]), float(p[1]), yaw, size))
        return True

    def roadside(road: Road, k: int, side: float, setback: float, size: float, rows: int) -> None:
        k = int(np.clip(k, 0, len(road.points) - 1))
        normal = normals(road.points[max(k - 4, 0):k + 5])[min(k, 4)]
        base = road.points[k]
        offset = 0.5 * road.width_m + setback + pad_radius(size)
        for row in range(rows):
            p = base + side * offset * normal
            if not place(p, size) and row == 0:
                return
            offset += pad_radius(size)
            size = float(rng.uniform(6.0, 14.0))
            offset += pad_radius(size) + float(rng.uniform(2.0, 6.0))

    lengths = np.array([grid.inside(r.points, 25.0).sum() for r in roads], float)
    if lengths.sum() == 0:
        return np.zeros((0, 4)), pads
    for _ in range(int(rng.choice([0, 1, 1, 2]))):
        road = roads[int(rng.choice(len(roads), p=lengths / lengths.sum()))]
        inner = np.nonzero(grid.inside(road.points, 25.0))[0]
        if len(inner) == 0:
            continue
        centre = int(inner[int(rng.integers(len(inner)))])
        span = float(rng.uniform(40.0, 140.0))
        spacing = float(rng.uniform(13.0, 22.0))
        second = float(rng.uniform(0.0, 0.5))
        for s in np.arange(-0.5 * span, 0.5 * span + 1e-9, spacing):
            for side in (-1.0, 1.0):
                if rng.random() < 0.8:
                    k = centre + int(round((s + rng.uniform(-0.15, 0.15) * spacing) / step))
                    rows = 2 if rng.random() < second else 1
                    roadside(road, k, side, float(rng.uniform(1.0, 5.0)), float(rng.uniform(6.0, 14.0)), rows)
    for _ in range(int(rng.integers(0, 4))):
        road = roads[int(rng.integers(len(roads)))]
        inner = np.nonzero(grid.inside(road.points, 25.0))[0]
        if len(inner):
            k = int(inner[int(rng.integers(len(inner)))])
            roadside(road, k, float(rng.choice([-1.0, 1.0])), float(rng.uniform(3.0, 15.0)),
                     float(rng.uniform(8.0, 14.0)), 1)
    return (np.array(placed, float).reshape(-1, 4), pads)


def forest_areas(grid: Grid, h: np.ndarray, rng: np.random.Generator, share: float, water: Water,
                 field: RoadField, pads: np.ndarray) -> np.ndarray:
    """The forest cells (bool): about `share` of the ground where trees may grow."""
    forest = np.zeros(grid.shape, bool)
    if share <= 0:
        return forest
    period = float(rng.uniform(40.0, 120.0)) / grid.cell_m
    n = fbm(rng, grid.rows, grid.cols, period, octaves=4)
    near_pad = ndimage.distance_transform_edt(~pads) * grid.cell_m <= 3.0 if pads.any() else pads
    allowed = ((water.distance(grid) > 5.0) & (field.edge > 3.0) & ~near_pad & ~np.isfinite(water.bank_floor)
               & (slope_deg(grid, h) < 35.0))
    if not allowed.any():
        return forest
    threshold = float(np.quantile(n[allowed], 1.0 - min(share, 0.95)))
    forest = allowed & (n > threshold)
    forest = ndimage.binary_opening(forest, structure=disc(2.5 / grid.cell_m)) & allowed
    labels, count = ndimage.label(forest)
    if count:
        area = np.bincount(labels.ravel(), minlength=count + 1) * grid.cell_m ** 2
        small = area < 300.0
        small[0] = False
        forest &= ~small[labels]
    return forest


def plant_trees(grid: Grid, forest: np.ndarray, rng: np.random.Generator, spacing: float,
                tries: int = 12) -> np.ndarray:
    """Tree positions (N, 2) m in the forest cells, no two closer than `spacing` (Poisson-disk).

    Dart throwing on a background grid of spacing / sqrt(2) cells (at most one tree each), the
    cells taken in nine interleaved phases: cells of one phase lie three apart, further than
    `spacing`, so each phase is drawn at once, every cell trying up to `tries` darts against the
    trees already standing within two cells. Two passes fill most gaps."""
    if not forest.any():
        return np.zeros((0, 2))
    c = spacing / math.sqrt(2.0)
    nx = int(math.ceil(grid.width_m / c))
    ny = int(math.ceil(grid.height_m / c))
    x0, y0 = -0.5 * grid.width_m, -0.5 * grid.height_m
    far = 1e9  # an empty background cell: a tree too far away to matter
    px = np.full((ny + 4, nx + 4), far)
    py = np.full((ny + 4, nx + 4), far)
    jj, ii = np.mgrid[0:ny, 0:nx]
    centres = np.stack([x0 + (ii.ravel() + 0.5) * c, y0 + (jj.ravel() + 0.5) * c], axis=1)
    grown = ndimage.distance_transform_edt(~forest) <= c / grid.cell_m + 1.0
    r, cc = grid.cell(centres)
    active = grown[r, cc].reshape(ny, nx)
    offsets = [(dj, di) for dj in range(-2, 3) for di in range(-2, 3)]
    limit = spacing * spacing
    for _ in range(2):
        for pj in range(3):
            for pi in range(3):
                cj, ci = np.nonzero(active & (jj % 3 == pj) & (ii % 3 == pi) & (px[2:-2, 2:-2] == far))
                if len(cj) == 0:
                    continue
                dx = x0 + (ci[:, None] + rng.random((len(cj), tries))) * c
                dy = y0 + (cj[:, None] + rng.random((len(cj), tries))) * c
                flat = np.stack([dx.ravel(), dy.ravel()], axis=1)
                rr, rc = grid.cell(flat)
                ok = (forest[rr, rc] & grid.inside(flat)).reshape(len(cj), tries)
                nearest = np.full(dx.shape, np.inf)
                for dj, di in offsets:
                    qx = px[cj + 2 + dj, ci + 2 + di][:, None]
                    qy = py[cj + 2 + dj, ci + 2 + di][:, None]
                    np.minimum(nearest, (dx - qx) ** 2 + (dy - qy) ** 2, out=nearest)
                ok &= nearest >= limit
                has = ok.any(axis=1)
                first = np.argmax(ok, axis=1)
                rows = np.arange(len(cj))
                px[cj[has] + 2, ci[has] + 2] = dx[rows, first][has]
                py[cj[has] + 2, ci[has] + 2] = dy[rows, first][has]
    keep = px[2:-2, 2:-2] != far
    return np.stack([px[2:-2, 2:-2][keep], py[2:-2, 2:-2][keep]], axis=1)
