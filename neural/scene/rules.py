"""The baseline reader of a scene sketch, with no network: the rules alone on the raw strokes.

    rules_layout(sketch) -> Layout
    ground_rectangle(sketch) -> (west, south, east, north)   the ground the canvas shows (m)

The strokes are laid on a grid over the ground the canvas shows (the `scene` contract's top-down
orthographic view: centred on the camera's target, `camera.height` millimetres of ground along
the canvas's height, the width by the canvas's aspect), kind by kind:

- `water`: a stroke that closes on itself (`sketching.closes`) is a lake, filled; any other is a
  river bed `RIVER_M` wide; strokes that run close beside each other (a river drawn as its two
  banks) are closed into one bed.
- `road`: the ink is closed across small gaps (pen lifts, a road drawn as its two edges), thinned
  to its centre line and widened to `ROAD_M`.
- `forest`: scribbles and outlines are closed into areas over gaps of about `FOREST_GAP_PX` on the
  canvas (how far apart people hatch), and closed outlines are filled; an outline left open at the
  map's edge is filled on its smaller side.
- `building`: each mark becomes a small footprint, its convex hull and at least `BUILDING_M` wide.
- `mountain`: a smooth ridge raised along the stroke, higher for bigger maps; gentle noise and a
  shallow valley along the water elsewhere.
Categories overlap in this order of precedence: building, road, water, forest, ground (a road over
water is a bridge: the map is seen from above). The splat follows simple rules: rock on steep
slopes, snow high up (or low down for "snowy"), sand beside water (everywhere for "desert"), dirt
on roads, under buildings and on forest floors, grass elsewhere.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import ndimage
from skimage.morphology import skeletonize

from sketchforge.modeling.sketch import Sketch

from .layout import Layout, ground_rectangle
from .lines import Grid, arclength, resample
from .noise import fbm
from .sketching import KINDS, closes
from .terrain import _line_bump
from .water import smoothstep
from .world import BUILDING, FOREST, GROUND, ROAD, STYLES, WATER

__all__ = ["BUILDING_M", "FOREST_GAP_PX", "RIVER_M", "ROAD_M", "ground_rectangle", "rules_layout", "style_of"]

RIVER_M = 10.0
"""Width of a river bed drawn as one line (m)."""
ROAD_M = 6.0
"""Width of a road (m)."""
BUILDING_M = 7.0
"""The least width of a building's footprint (m)."""
FOREST_GAP_PX = 22.0
"""Gaps between forest strokes up to about twice this (canvas pixels) are closed into one area."""
def style_of(prompt: str | None) -> str | None:
    """The style word (`world.STYLES`) a prompt names, or None."""
    text = (prompt or "").lower()
    return next((s for s in STYLES if s in text), None)


class _Raster:
    """A grid of cells over the ground rectangle, row 0 the north edge."""

    def __init__(self, sketch: Sketch, extent: tuple[float, float, float, float]):
        w, s, e, n = extent
        cell = max(1.0, max(e - w, n - s) / 400.0)
        self.sketch, self.extent = sketch, extent
        self.rows, self.cols = max(8, int(round((n - s) / cell))), max(8, int(round((e - w) / cell)))
        self.cw, self.ch = (e - w) / self.cols, (n - s) / self.rows
        self.cell = 0.5 * (self.cw + self.ch)
        self.shape = (self.rows, self.cols)
        self.px_m = (n - s) / sketch.height  # metres per canvas pixel

    def ground(self, uv: np.ndarray) -> np.ndarray:
        """Canvas points (N, 2) to ground points (N, 2) m."""
        o, _ = self.sketch.camera.rays(uv, self.sketch.width, self.sketch.height)
        return o[:, :2] / 1000.0

    def cells(self, xy: np.ndarray) -> np.ndarray:
        """Ground points (N, 2) m to fractional (col, row) image coordinates, cell centres at integers."""
        w, s, e, n = self.extent
        return np.stack([(xy[:, 0] - w) / self.cw - 0.5, (n - xy[:, 1]) / self.ch - 0.5], 1)

    def ink(self, lines: list[np.ndarray], closed: bool = False) -> np.ndarray:
        """The cells the polylines (ground points) pass through (bool)."""
        img = np.zeros(self.shape, np.uint8)
        for xy in lines:
            pts = np.round(self.cells(xy) * 16).astype(np.int32)
            if len(pts) == 1:
                pts = np.vstack([pts, pts])
            cv2.polylines(img, [pts], closed, 1, 1, cv2.LINE_8, 4)
        return img.astype(bool)

    def fill(self, polygons: list[np.ndarray]) -> np.ndarray:
        img = np.zeros(self.shape, np.uint8)
        for xy in polygons:
            if len(xy) >= 3:
                cv2.fillPoly(img, [np.round(self.cells(xy) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        return img.astype(bool)

    def distance(self, mask: np.ndarray) -> np.ndarray:
        if not mask.any():
            return np.full(self.shape, 1e6)
        return ndimage.distance_transform_edt(~mask, sampling=(self.ch, self.cw))

    def disc(self, radius_m: float) -> np.ndarray:
        n = max(int(math.ceil(radius_m / self.cell)), 1)
        yy, xx = np.mgrid[-n:n + 1, -n:n + 1]
        return ((xx * self.cw) ** 2 + (yy * self.ch) ** 2 <= radius_m ** 2 + 1e-9).astype(np.uint8)

    def close(self, mask: np.ndarray, radius_m: float) -> np.ndarray:
        """Morphological closing by a disc, the map padded so that nothing sticks to its edges."""
        k = self.disc(radius_m)
        pad = k.shape[0]
        padded = cv2.copyMakeBorder(mask.astype(np.uint8), pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        out = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, k)
        return out[pad:-pad, pad:-pad].astype(bool)


def rules_layout(sketch: Sketch) -> Layout:
    """The layout the rules read from a scene sketch (see the module notes); ValueError saying what
    to draw when the sketch holds no stroke of a scene kind or its view is not a map's."""
    extent = ground_rectangle(sketch)
    ras = _Raster(sketch, extent)
    strokes: dict[str, list[np.ndarray]] = {k: [] for k in KINDS}
    closed_water: list[np.ndarray] = []
    for s in sketch.strokes:
        if s.kind not in strokes or not len(s.points):
            continue
        xy = ras.ground(s.uv)
        if s.kind == "water" and closes(s.uv):
            closed_water.append(xy)
        else:
            strokes[s.kind].append(xy)
    if not closed_water and not any(strokes.values()):
        raise ValueError("the sketch has no water, road, forest, building or mountain strokes; draw the map with "
                         "those brushes (plain strokes are not read)")

    water = _water(ras, strokes["water"], closed_water)
    road = _roads(ras, strokes["road"])
    forest = _forest(ras, strokes["forest"])
    building = ras.fill([_hull(xy) for xy in strokes["building"]])
    if strokes["building"]:
        centres = ras.ink([xy.mean(0, keepdims=True) for xy in strokes["building"]])
        building |= ras.distance(centres) <= 0.5 * BUILDING_M
    category = np.full(ras.shape, GROUND, np.uint8)
    category[forest] = FOREST
    category[water] = WATER
    category[road] = ROAD
    category[building & ~road & ~water] = BUILDING
    style = style_of(sketch.prompt)
    height = _height(ras, strokes["mountain"], water)
    splat = _splat(ras, height, category, water, road, style)
    return Layout(category, height.astype(np.float32), splat, extent, style=style)


def _hull(xy: np.ndarray) -> np.ndarray:
    if len(xy) < 3:
        return xy
    hull = cv2.convexHull(np.asarray(xy, np.float32))
    return hull[:, 0, :].astype(float)


def _water(ras: _Raster, rivers: list[np.ndarray], lakes: list[np.ndarray]) -> np.ndarray:
    water = ras.fill(lakes) | (ras.distance(ras.ink(lakes, closed=True)) <= 1.5)
    if rivers:
        band = ras.distance(ras.ink(rivers)) <= 0.5 * RIVER_M
        water |= ras.close(band, 6.0)
    return water


def _roads(ras: _Raster, roads: list[np.ndarray]) -> np.ndarray:
    if not roads:
        return np.zeros(ras.shape, bool)
    ink = ras.distance(ras.ink(roads)) <= max(1.0, ras.cell)
    merged = ras.close(ink, 5.0)
    centre = skeletonize(merged)
    return ras.distance(centre) <= 0.5 * ROAD_M


def _forest(ras: _Raster, forests: list[np.ndarray]) -> np.ndarray:
    if not forests:
        return np.zeros(ras.shape, bool)
    ink = ras.distance(ras.ink(forests)) <= max(1.0, ras.cell)
    closed = ras.close(ink, max(6.0, FOREST_GAP_PX * ras.px_m))
    area = ndimage.binary_fill_holes(closed)
    # outlines open at the map's edge: the smaller side of the edge and the ink
    framed = closed.copy()
    framed[[0, -1], :] = True
    framed[:, [0, -1]] = True
    labels, count = ndimage.label(~framed)
    if count > 1:
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        sizes[0] = 0
        largest = int(np.argmax(sizes))
        small = (sizes < 0.3 * labels.size) & (np.arange(count + 1) != largest)
        small[0] = False
        inner = small[labels]
        # the regions stop a cell short of the edge, which the frame took: give them that cell
        inner[0, :] |= inner[1, :]
        inner[-1, :] |= inner[-2, :]
        inner[:, 0] |= inner[:, 1]
        inner[:, -1] |= inner[:, -2]
        area |= inner
    return area


def _height(ras: _Raster, ridges: list[np.ndarray], water: np.ndarray) -> np.ndarray:
    size = max(ras.rows * ras.ch, ras.cols * ras.cw)
    rng = np.random.default_rng(len(ridges) * 7919 + ras.rows * 31 + ras.cols)
    h = 3.0 * fbm(rng, ras.rows, ras.cols, 0.4 * size / ras.cell, octaves=4)
    h += 2.0 * fbm(rng, ras.rows, ras.cols, 0.1 * size / ras.cell, octaves=2)
    if ridges:
        grid = Grid(ras.rows, ras.cols, ras.ch)
        w, s, e, n = ras.extent
        centre = np.array([0.5 * (w + e), 0.5 * (s + n)])
        amp = float(np.clip(0.12 * size + 10.0, 15.0, 70.0))
        width = 0.18 * size + 20.0  # flanks of about 35 degrees at the steepest
        bumps = np.zeros(ras.shape)
        for xy in ridges:
            line = resample(xy - centre, 0.5 * ras.cell)
            if len(line) < 2:
                continue
            s_ = arclength(line)
            taper = 0.35 + 0.65 * smoothstep(np.minimum(s_, s_[-1] - s_) / max(0.15 * s_[-1], 1e-6))
            np.maximum(bumps, _line_bump(grid, line, amp * taper, width), out=bumps)
        h += np.minimum(bumps, 1.2 * amp)
    if water.any():
        h -= 2.5 * np.exp(-(ras.distance(water) / 25.0) ** 2)
    return h - h.min()


def _splat(ras: _Raster, h: np.ndarray, category: np.ndarray, water: np.ndarray, road: np.ndarray,
           style: str | None) -> np.ndarray:
    gy, gx = np.gradient(h, ras.ch, ras.cw)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    lo, hi = float(h.min()), float(h.max())
    span = max(hi - lo, 1e-6)
    rock = smoothstep((slope - 25.0) / 15.0)
    line = lo + (0.2 if style == "snowy" else 0.85) * span
    snow = smoothstep((h - line) / 6.0) * (1.0 - smoothstep((slope - 35.0) / 15.0))
    if (style != "snowy" and span < 60.0) or style in ("green hills", "desert"):
        snow[:] = 0.0
    sand = smoothstep((6.0 - ras.distance(water)) / 6.0)
    if style == "desert":
        sand = np.maximum(sand, 0.85)
    dirt = np.where(category == FOREST, 0.6 if style == "autumn" else 0.3, 0.0)
    dirt = np.maximum(dirt, 0.5 * (1.0 - smoothstep(ras.distance(road) / 7.0)))
    dirt[road | (category == BUILDING)] = 0.9
    snow_w = snow * (1.0 - rock)
    rest = 1.0 - rock - snow_w
    sand_w = rest * sand
    dirt_w = rest * (1.0 - sand) * dirt
    grass_w = rest * (1.0 - sand) * (1.0 - dirt)
    w = np.stack([grass_w, rock, sand_w, snow_w, dirt_w], -1).astype(np.float32)
    return w / np.maximum(w.sum(-1, keepdims=True), 1e-9)

