"""A procedural piece of game world with exact ground truth: terrain, rivers, lakes, roads with
bridges, forests with their trees, villages; the maps a scene is made from and the objects on them.

    make_world(seed, size_m=None, aspect=(1, 1), style=None) -> World   a pure function of its arguments

Conventions (every map and object list of a `World`):
- metres; origin at the world's centre; +x east, +y north; heights in metres (z up), 0 at the
  lowest point of the bare ground before water was dug into it (beds may lie below 0);
- maps are (rows, cols) arrays over `grid` (square cells of `grid.cell_m` metres): row 0 is the
  north edge, column 0 the west edge (see `lines.Grid`);
- `category` codes: GROUND 0, WATER 1, ROAD 2 (bridge decks included: the map is seen from
  above), FOREST 3, BUILDING 4 (footprints); `CATEGORIES` names them in that order;
- `splat`: weights of the ground materials `MATERIALS` (grass, rock, sand, snow, dirt), summing
  to 1 in every cell: rock on steep slopes, snow high up in mountains (low down for "snowy",
  never for "green hills" or "desert"), sand beside and under water (everywhere for "desert"),
  dirt on roads, pads and forest floors (more for "autumn");
- `water_level`: the water surface over river and lake cells, NaN on dry ground; it is set under
  bridge decks too, where `category` says ROAD;
- `buildings` rows are x, y, yaw, size: the footprint is a square `size` metres wide turned by yaw
  (radians, anticlockwise from east), and yaw points from the building to the nearest road,
  which it faces.

The sketch contract is in millimetres; `sketching.sketch_world` converts at that boundary.
The world is built in stages (terrain, ridges, rivers, lakes, roads, villages, forests, trees),
each drawing from its own generator seeded with (seed, stage), and each respecting what the
stages before it laid: roads bridge the rivers and avoid lakes, buildings keep off roads and water,
forests keep off all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .lines import Grid
from .places import footprint, forest_areas, make_villages, plant_trees, slope_deg
from .roads import Bridge, Road, RoadField, make_roads
from .terrain import RELIEFS, bare_ground, raise_ridges
from .water import Lake, River, Water, make_lakes, make_rivers, smoothstep

__all__ = ["BUILDING", "CATEGORIES", "FOREST", "GROUND", "MATERIALS", "ROAD", "SIZE_RANGE_M", "STYLES",
           "WATER", "World", "make_world"]

GROUND, WATER, ROAD, FOREST, BUILDING = 0, 1, 2, 3, 4
CATEGORIES = ("ground", "water", "road", "forest", "building")
MATERIALS = ("grass", "rock", "sand", "snow", "dirt")
STYLES = ("snowy", "autumn", "desert", "green hills")
"""The style words a world can be made in (the sketch's optional prompt)."""
SIZE_RANGE_M = (120.0, 400.0)
"""The range of a world's north-south extent drawn when none is given."""
MAX_GRADE = 0.15
"""The steepest a road may rise or fall (rise over run)."""


@dataclass(frozen=True)
class World:
    """A world and its ground truth (conventions in the module notes)."""

    seed: int
    grid: Grid
    height: np.ndarray  # (rows, cols) float32 m
    category: np.ndarray  # (rows, cols) uint8, CATEGORIES codes
    splat: np.ndarray  # (rows, cols, 5) float32, MATERIALS weights summing to 1
    water_level: np.ndarray  # (rows, cols) float32 water surface height, NaN where dry
    trees: np.ndarray  # (N, 2) m
    buildings: np.ndarray  # (M, 4) x, y, yaw, size
    rivers: tuple[River, ...] = ()
    lakes: tuple[Lake, ...] = ()
    roads: tuple[Road, ...] = ()
    bridges: tuple[Bridge, ...] = ()
    ridges: tuple[np.ndarray, ...] = ()  # crest lines (K, 2) m
    style: str | None = None
    relief: str = "hills"
    info: dict = field(default_factory=dict, compare=False)  # the drawn parameters

    @property
    def size_m(self) -> tuple[float, float]:
        """(east-west, north-south) extent in metres."""
        return (self.grid.width_m, self.grid.height_m)

    @property
    def forest(self) -> np.ndarray:
        return self.category == FOREST

    def counts(self) -> dict[str, int]:
        return {"rivers": len(self.rivers), "lakes": len(self.lakes), "roads": len(self.roads),
                "bridges": len(self.bridges), "ridges": len(self.ridges), "trees": len(self.trees),
                "buildings": len(self.buildings)}

    def summary(self) -> dict:
        """The world described in JSON types (for a dataset record)."""
        share = np.bincount(self.category.ravel(), minlength=len(CATEGORIES)) / self.category.size

        def r(v: float, n: int = 2) -> float:
            return round(float(v), n)

        return {
            "size_m": [r(v) for v in self.size_m], "cell_m": r(self.grid.cell_m, 4),
            "grid": [self.grid.rows, self.grid.cols], "style": self.style, "relief": self.relief,
            "height_range_m": [r(self.height.min()), r(self.height.max())],
            "counts": self.counts(), "category_share": {c: r(s, 4) for c, s in zip(CATEGORIES, share)},
            "rivers": [{"width_m": r(v.width_m), "depth_m": r(v.depth_m), "length_m": r(v.length_m, 1),
                        "joins": v.joins} for v in self.rivers],
            "lakes": [{"area_m2": r(v.area_m2, 1), "level_m": r(v.level_m), "depth_m": r(v.depth_m)}
                      for v in self.lakes],
            "roads": [{"width_m": r(v.width_m), "length_m": r(v.length_m, 1), "parent": v.parent,
                       "max_grade": r(v.grades().max() if len(v.points) > 1 else 0.0, 4)} for v in self.roads],
            "bridges": [{"road": b.road, "span_m": r(b.span_m, 1), "deck_m": [r(b.deck[0]), r(b.deck[1])]}
                        for b in self.bridges],
            "buildings": [[r(x, 2), r(y, 2), r(a, 4), r(s, 2)] for x, y, a, s in self.buildings],
            "params": self.info,
        }


def _pick(rng: np.random.Generator, weights: dict) -> object:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def make_world(seed: int, size_m: float | None = None, aspect: tuple[int, int] = (1, 1),
               style: str | None = None, cell_m: float = 1.0) -> World:
    """The world of `seed`: `size_m` metres north to south (drawn from `SIZE_RANGE_M` when None),
    east-west by the `aspect` (width, height) ratio, in cells of `cell_m` metres, in the style
    word `style` (one of `STYLES`, or None)."""
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"a world seed must be non-negative, got {seed}")
    if style is not None and style not in STYLES:
        raise ValueError(f"unknown style {style!r}; use one of {', '.join(STYLES)} or none")
    aw, ah = (int(a) for a in aspect)
    if aw < 1 or ah < 1:
        raise ValueError(f"the aspect must be two positive whole numbers, got {aspect!r}")
    plan = np.random.default_rng([seed, 0])
    if size_m is None:
        size_m = float(plan.uniform(*SIZE_RANGE_M))
    if not 40.0 <= float(size_m) <= 2000.0:
        raise ValueError(f"a world is 40 to 2000 m across, got {size_m}")
    rows = max(ah, int(round(float(size_m) / cell_m / ah)) * ah)
    grid = Grid(rows, rows * aw // ah, cell_m)

    relief = str(_pick(plan, {"flat": 0.3, "hills": 0.45, "mountains": 0.25} if style is None else
                          {"snowy": {"hills": 0.4, "mountains": 0.6}, "autumn": {"flat": 0.3, "hills": 0.5,
                           "mountains": 0.2}, "desert": {"flat": 0.5, "hills": 0.5},
                           "green hills": {"hills": 1.0}}[style]))
    relief_m = float(plan.uniform(*RELIEFS[relief]))
    n_ridges = int(_pick(plan, {0: 0.35, 1: 0.45, 2: 0.2} if relief != "mountains" else {1: 0.6, 2: 0.4}))
    n_rivers = int(_pick(plan, {0: 0.3, 1: 0.5, 2: 0.2} if style != "desert" else {0: 0.6, 1: 0.4}))
    n_lakes = int(_pick(plan, {0: 0.5, 1: 0.35, 2: 0.15} if style != "desert" else {0: 0.8, 1: 0.2}))
    n_roads = int(_pick(plan, {0: 0.1, 1: 0.4, 2: 0.35, 3: 0.15}))
    share = 0.0 if plan.random() < 0.15 else float(plan.uniform(0.08, 0.45))
    if style == "desert":
        share *= 0.1
    if n_ridges + n_rivers + n_lakes + n_roads == 0:
        n_roads = 1  # something to draw besides forest (which may come to nothing): empty ground says nothing
    spacing = float(plan.uniform(3.5, 6.5))
    grade = float(plan.uniform(0.08, 0.11))

    h = bare_ground(grid, np.random.default_rng([seed, 1]), relief_m)
    ridges = raise_ridges(grid, h, np.random.default_rng([seed, 2]), n_ridges, relief_m)
    rivers, water = make_rivers(grid, h, np.random.default_rng([seed, 3]), n_rivers)
    lakes = make_lakes(grid, h, np.random.default_rng([seed, 4]), n_lakes, water)
    roads, bridges, roadfield = make_roads(grid, h, np.random.default_rng([seed, 5]), n_roads, water, grade)
    buildings, pads = make_villages(grid, h, np.random.default_rng([seed, 6]), roads, roadfield, water)
    forest = forest_areas(grid, h, np.random.default_rng([seed, 7]), share, water, roadfield, pads)
    trees = plant_trees(grid, forest, np.random.default_rng([seed, 8]), spacing)

    category = np.full(grid.shape, GROUND, np.uint8)
    category[forest] = FOREST
    category[water.wet] = WATER
    category[roadfield.surface] = ROAD
    category[_footprints(grid, buildings)] = BUILDING
    splat = _splat(grid, h, water, roadfield, pads, forest, style, np.random.default_rng([seed, 9]))
    info = {"relief_m": round(relief_m, 2), "forest_share": round(share, 4), "tree_spacing_m": round(spacing, 3),
            "road_grade": round(grade, 4)}
    return World(seed, grid, h.astype(np.float32), category, splat, water.level.astype(np.float32), trees,
                 buildings, tuple(rivers), tuple(lakes), tuple(roads), tuple(bridges), tuple(ridges), style,
                 relief, info)


def _footprints(grid: Grid, buildings: np.ndarray) -> np.ndarray:
    img = np.zeros(grid.shape, np.uint8)
    for x, y, yaw, size in buildings:
        r, c = grid.rc(footprint(x, y, yaw, size))
        cv2.fillPoly(img, [np.round(np.stack([c, r], 1) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return img.astype(bool)


def _splat(grid: Grid, h: np.ndarray, water: Water, roads: RoadField, pads: np.ndarray, forest: np.ndarray,
           style: str | None, rng: np.random.Generator) -> np.ndarray:
    """Material weights (rows, cols, 5) by slope, height, water, roads and style (module notes)."""
    from .noise import fbm
    slope = slope_deg(grid, h)
    lo, hi = float(h.min()), float(h.max())
    span = max(hi - lo, 1e-6)
    rock = smoothstep((slope - 25.0) / 15.0)
    line = lo + (0.2 if style == "snowy" else 0.85) * span
    snow = smoothstep((h - line) / 6.0) * (1.0 - smoothstep((slope - 35.0) / 15.0))
    if (style != "snowy" and span < 60.0) or style in ("green hills", "desert"):
        snow[:] = 0.0
    wet = water.wet
    sand = smoothstep((6.0 - water.distance(grid)) / 6.0)
    sand[wet] = 0.8
    if style == "desert":
        sand = np.maximum(sand, 0.85)
    patches = fbm(rng, grid.rows, grid.cols, 30.0 / grid.cell_m, octaves=3)
    dirt = 0.25 * smoothstep((patches - 0.55) / 0.2)
    dirt = np.maximum(dirt, np.where(forest, 0.6 if style == "autumn" else 0.3, 0.0))
    dirt = np.maximum(dirt, 0.5 * (1.0 - smoothstep(roads.edge / 7.0)))
    dirt[roads.surface | pads] = 0.9
    if style == "autumn":
        dirt = np.maximum(dirt, 0.35)
    rock_w = rock
    snow_w = snow * (1.0 - rock_w)
    rest = 1.0 - rock_w - snow_w
    sand_w = rest * sand
    dirt_w = rest * (1.0 - sand) * dirt
    grass_w = rest * (1.0 - sand) * (1.0 - dirt)
    w = np.stack([grass_w, rock_w, sand_w, snow_w, dirt_w], axis=-1).astype(np.float32)
    return w / w.sum(axis=-1, keepdims=True)
