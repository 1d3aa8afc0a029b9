"""The casual top-down sketch a level designer draws of a world in a minute, in the `scene` contract.

    sketch_world(world, rng, style=None) -> Sketch
    draw_world(world, rng, style=None) -> MapDrawing    the sketch and what was left out of it

The view (`specs/modes.md`, section `scene`): orthographic, looking straight down, eye
(cx, cy, h), target (cx, cy, 0), up (0, 1, 0), camera height the world's north-south extent in
millimetres, so the canvas shows exactly the world (its aspect is the world's). The world may sit
anywhere: half the sketches move it off the origin by up to 2 km. World metres become sketch
millimetres here and nowhere else.

What a person draws, with the stroke kinds of the contract:
- `water`: each river as its centre line or as its two banks, in one or a few strokes; each lake
  as one closed loop that runs on past its start (its ends nearer than a tenth of its length).
  Narrow streams are sometimes left out where other water is drawn.
- `road`: each road's centre line, sometimes its two edges, sometimes broken in pieces.
- `forest`: each forest area as an outline, a zigzag hatch (sparse or dense), or little tree
  loops scattered inside it; sometimes an outline and a hatch; small patches sometimes left out.
- `building`: a small mark where a building stands: a short tick along the road, a dot-like
  scribble or a small square; one mark may stand for a cluster; some buildings left out.
- `mountain`: each ridge's crest line, sometimes as a row of peaks (a zigzag along it).
The hand is `synth.strokes.humanise` (wander, tremor, overshoot, pen lifts at corners, double
strokes), plus misses of a few metres per stroke; `SketchStyle` makes the drawing neater or
messier and says how much is left out.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.sketch import Sketch, Stroke

from ..synth import raster
from ..synth.strokes import StrokeStyle, SynthStroke, humanise
from .lines import arclength, normals, resample
from .places import plant_trees
from .world import World

__all__ = ["KINDS", "MapDrawing", "SketchStyle", "canvas_for", "closes", "draw_world", "sketch_world",
           "world_to_canvas"]

KINDS = ("water", "road", "forest", "building", "mountain")
"""The stroke kinds of the `scene` contract, in the order of the training channels."""
TYPICAL_ORDER = ("water", "road", "mountain", "forest", "building")
"""The order most people draw a map in: what shapes the land first, what stands on it last."""


@dataclass(frozen=True)
class SketchStyle:
    """How carefully a person sketches a map and how much they leave out (distances in metres
    are on the ground, in pixels on the canvas)."""

    messiness: float = 1.0
    """Scales the hand's wander, tremor and overshoot and the misses: 0.5 is a neat hand, 2 a
    hasty one."""
    miss_m: float = 3.0
    """Largest sideways miss of a whole stroke on the ground (m), times `messiness`: a person
    aims at the river, not at its exact centre."""
    leave_out: float = 0.15
    """Probability of leaving out one small thing: a building, a narrow stream, a small forest
    patch, a short ridge."""
    cluster: float = 0.4
    """Probability that a sketch marks clusters of buildings with one mark each."""
    cluster_m: float = 25.0
    """Buildings closer than this may share one mark."""

    def scaled(self, factor: float) -> "SketchStyle":
        """The same person, `factor` times as messy (more left out too)."""
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"the style factor must be a positive number, got {factor}")
        return dataclasses.replace(self, messiness=self.messiness * factor,
                                   leave_out=min(0.6, self.leave_out * factor))

    def hand(self, variant: str = "line") -> StrokeStyle:
        """The pen model for one kind of mark: long lines, closed loops, hatching or tiny marks."""
        m = self.messiness
        base = StrokeStyle(overshoot=(-0.03 * m, 0.06 * m), wobble_px=1.5 * m, wobble_wavelength_px=(60.0, 220.0),
                           bow=0.01 * m, tremor_px=0.2 * m, corner_deg=35.0, through_corner=0.5, reverse=0.3,
                           double_stroke=0.05, skip_profile=0.0, width_px=(1.5, 3.0))
        if variant == "loop":
            return dataclasses.replace(base, overshoot=(0.01, 0.03 + 0.05 * m), corner_deg=179.0, through_corner=1.0,
                                       double_stroke=0.02)
        if variant == "hatch":
            return dataclasses.replace(base, overshoot=(-0.02, 0.03), corner_deg=179.0, through_corner=1.0,
                                       wobble_px=0.8 * m, bow=0.0, double_stroke=0.0)
        if variant == "small":
            return dataclasses.replace(base, overshoot=(0.0, 0.1), corner_deg=179.0, through_corner=1.0,
                                       wobble_px=0.15 * m, wobble_wavelength_px=(20.0, 40.0), bow=0.0,
                                       tremor_px=0.08 * m, double_stroke=0.0, spacing_px=(0.8, 1.6))
        if variant == "mark":
            return dataclasses.replace(base, overshoot=(-0.05, 0.15 * m), wobble_px=0.3 * m, bow=0.02,
                                       double_stroke=0.0, spacing_px=(1.0, 2.0))
        return base


@dataclass
class MapDrawing:
    """A sketch of a world, with what was left out of it and how each part was drawn."""

    sketch: Sketch
    left_out: dict[str, int] = field(default_factory=dict)
    manner: dict[str, str] = field(default_factory=dict)


def canvas_for(aspect: tuple[int, int], rng: np.random.Generator) -> tuple[int, int]:
    """A canvas (width, height) in pixels of the given aspect, 384-640 px on its short side (exactly
    the aspect where its terms are small, as those `data.make_item` draws are)."""
    aw, ah = aspect
    if aw == ah:
        side = int(rng.choice([400, 448, 480, 512, 512, 512, 576, 640]))
        return side, side
    short = int(rng.choice([384, 420, 450, 480]))
    unit = min(aw, ah)
    if unit <= 16:
        short -= short % unit
    long = int(round(short * max(aw, ah) / unit))
    return (long, short) if aw > ah else (short, long)


def world_to_canvas(world: World, width: int, height: int, xy: np.ndarray) -> np.ndarray:
    """World points (N, 2) m to canvas pixels (N, 2): the view of `sketch_world` with the same canvas."""
    s = height / world.grid.height_m
    xy = np.asarray(xy, float).reshape(-1, 2)
    return np.stack([0.5 * width + s * xy[:, 0], 0.5 * height - s * xy[:, 1]], axis=1)


def closes(points: np.ndarray) -> bool:
    """Whether a stroke closes on itself in the contract's sense: its ends nearer than a tenth of
    its length."""
    uv = np.asarray(points, float)[:, :2]
    if len(uv) < 3:
        return False
    return float(np.linalg.norm(uv[-1] - uv[0])) < 0.1 * float(arclength(uv)[-1])


def sketch_world(world: World, rng: np.random.Generator, style: SketchStyle | None = None) -> Sketch:
    """The sketch a person draws of `world` (see the module notes); the prompt is the world's style."""
    return draw_world(world, rng, style).sketch


def draw_world(world: World, rng: np.random.Generator, style: SketchStyle | None = None) -> MapDrawing:
    """The sketch of `world` and what was left out of it."""
    style = style or SketchStyle()
    width, height = canvas_for(_aspect(world), rng)
    if rng.random() < 0.5:
        offset = np.zeros(2)
    else:
        offset = rng.integers(-2000, 2001, 2).astype(float)
    cam = Camera(eye=(1000.0 * offset[0], 1000.0 * offset[1], 1000.0 * (float(world.height.max()) + 100.0)),
                 target=(1000.0 * offset[0], 1000.0 * offset[1], 0.0), up=(0.0, 1.0, 0.0),
                 projection="orthographic", height=1000.0 * world.grid.height_m)
    pen = _Pen(world, width, height, style, rng)
    groups = {"water": pen.water, "road": pen.roads, "forest": pen.forests, "building": pen.buildings,
              "mountain": pen.ridges}
    order = list(TYPICAL_ORDER) if rng.random() < 0.5 else [TYPICAL_ORDER[i] for i in rng.permutation(len(KINDS))]
    synth: list[tuple[SynthStroke, str]] = []
    for kind in order:
        for runs, variant in groups[kind]():
            for s in humanise([(r, kind, i) for i, r in enumerate(runs)], rng, style.hand(variant)):
                pts, pressure = np.clip(s.points, 0.0, [width, height]), s.pressure
                if variant == "loop" and not closes(pts):  # the pen comes back to where it began
                    pts, pressure = np.vstack([pts, pts[:1]]), np.concatenate([pressure, pressure[-1:]])
                synth.append((dataclasses.replace(s, points=pts, pressure=pressure), kind))
    if not synth and style.leave_out > 0:  # everything there was, left out: draw it all after all
        return draw_world(world, rng, dataclasses.replace(style, leave_out=0.0))
    drawn = raster.to_sketch_strokes([s for s, _ in synth], rng)
    strokes = tuple(Stroke(_rounded(d.points), kind) for d, (_, kind) in zip(drawn, synth))
    sketch = Sketch(cam, width, height, strokes, "scene", world.style)
    return MapDrawing(sketch, pen.left_out, pen.manner)


def _aspect(world: World) -> tuple[int, int]:
    """The world's (width, height) ratio in lowest terms."""
    g = math.gcd(world.grid.cols, world.grid.rows)
    return world.grid.cols // g, world.grid.rows // g


def _rounded(points: np.ndarray) -> np.ndarray:
    """Stroke points [u, v, pressure, t_ms] to 0.01 px, 0.001 and 0.1 ms."""
    scale = np.array([100.0, 100.0, 1000.0, 10.0])
    return np.round(points * scale) / scale + 0.0


class _Pen:
    """The runs (pixel polylines) a person draws for each kind, before the hand perturbs them."""

    def __init__(self, world: World, width: int, height: int, style: SketchStyle, rng: np.random.Generator):
        self.world, self.w, self.h, self.style, self.rng = world, width, height, style, rng
        self.s = height / world.grid.height_m  # pixels per metre
        self.left_out: dict[str, int] = {}
        self.manner: dict[str, str] = {}

    # -- helpers ---------------------------------------------------------------------------
    def px(self, xy: np.ndarray) -> np.ndarray:
        return world_to_canvas(self.world, self.w, self.h, xy)

    def skip(self, what: str, p: float) -> bool:
        if self.rng.random() < p:
            self.left_out[what] = self.left_out.get(what, 0) + 1
            return True
        return False

    def clip(self, poly: np.ndarray, margin: float = 1.0) -> list[np.ndarray]:
        """The parts of a pixel polyline on the canvas (shrunk by `margin`), each at least 4 px long."""
        if len(poly) < 2:
            return []
        dense = resample(poly, 1.0)
        ok = ((dense[:, 0] >= margin) & (dense[:, 0] <= self.w - margin)
              & (dense[:, 1] >= margin) & (dense[:, 1] <= self.h - margin))
        edges = np.diff(np.concatenate([[0], ok.astype(np.int8), [0]]))
        out = []
        for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
            part = dense[a:b]
            if len(part) >= 2 and arclength(part)[-1] >= 4.0:
                out.append(resample(part, 2.0))
        return out

    def miss(self, poly: np.ndarray) -> np.ndarray:
        """The line a person draws when aiming at `poly`: shifted sideways by up to the style's miss,
        the shift drifting slowly along the stroke."""
        amp = self.style.miss_m * self.style.messiness * self.s
        if len(poly) < 2 or amp <= 0:
            return poly
        s = arclength(poly)
        shift = float(self.rng.uniform(-1.0, 1.0)) * amp
        wave = float(self.rng.uniform(150.0, 400.0))
        drift = 0.5 * amp * np.sin(2 * math.pi * s / wave + self.rng.uniform(0.0, 2 * math.pi))
        return poly + (shift + drift)[:, None] * _normals(poly)

    def broken(self, poly: np.ndarray, p: float) -> list[np.ndarray]:
        """With probability p, the polyline in two or three pieces with small gaps (pen lifts)."""
        s = arclength(poly)
        if len(poly) < 8 or s[-1] < 60.0 or self.rng.random() >= p:
            return [poly]
        n = int(self.rng.integers(2, 4))
        cuts = np.sort(self.rng.uniform(0.2, 0.8, n - 1)) * s[-1]
        gap = float(self.rng.uniform(2.0, 8.0))
        bounds = [0.0, *cuts, s[-1]]
        out = []
        for k in range(n):
            a = bounds[k] + (gap / 2 if k else 0.0)
            b = bounds[k + 1] - (gap / 2 if k < n - 1 else 0.0)
            keep = (s >= a) & (s <= b)
            if keep.sum() >= 2:
                out.append(poly[keep])
        return out or [poly]

    # -- water ------------------------------------------------------------------------------
    def water(self) -> list[tuple[list[np.ndarray], str]]:
        world, rng = self.world, self.rng
        out: list[tuple[list[np.ndarray], str]] = []
        several = len(world.rivers) + len(world.lakes) > 1
        banks_style = rng.random() < 0.3
        if world.rivers:
            self.manner["rivers"] = "banks" if banks_style else "centre"
        for river in world.rivers:
            if several and river.width_m < 9.0 and self.skip("streams", 2.0 * self.style.leave_out):
                continue
            centre = self.px(river.points)
            half = 0.5 * river.width_m * self.s
            runs: list[np.ndarray] = []
            if banks_style and half >= 3.0:
                for side in (-1.0, 1.0):
                    edge = centre + side * half * _normals(centre)
                    for part in self.clip(self.miss(edge)):
                        runs += self.broken(part, 0.25)
            else:
                for part in self.clip(self.miss(centre)):
                    runs += self.broken(part, 0.25)
            out.append(([r for r in runs if not closes(r)], "line"))
        for lake in world.lakes:
            shore = self.px(lake.shore)
            middle = shore.mean(axis=0)
            loop = middle + (shore - middle) * float(rng.uniform(0.92, 1.08))
            loop = self.miss(np.vstack([loop, loop[:1]]))
            start = int(rng.integers(len(loop) - 1))
            ring = np.roll(loop[:-1], -start, axis=0)
            ring = np.vstack([ring, ring[:1]])
            ring[:, 0] = np.clip(ring[:, 0], 1.0, self.w - 1.0)
            ring[:, 1] = np.clip(ring[:, 1], 1.0, self.h - 1.0)
            out.append(([ring], "loop"))
        return out

    # -- roads --------------------------------------------------------------------------------
    def roads(self) -> list[tuple[list[np.ndarray], str]]:
        out = []
        edges_style = self.rng.random() < 0.15
        if self.world.roads:
            self.manner["roads"] = "edges" if edges_style else "centre"
        for road in self.world.roads:
            centre = self.px(road.points)
            half = 0.5 * road.width_m * self.s
            lines = ([centre + side * half * _normals(centre) for side in (-1.0, 1.0)]
                     if edges_style and half >= 2.5 else [centre])
            runs: list[np.ndarray] = []
            for line in lines:
                for part in self.clip(self.miss(line)):
                    runs += self.broken(part, 0.25)
            out.append((runs, "line"))
        return out

    # -- ridges -------------------------------------------------------------------------------
    def ridges(self) -> list[tuple[list[np.ndarray], str]]:
        out = []
        peaks_style = self.rng.random() < 0.3
        if self.world.ridges:
            self.manner["ridges"] = "peaks" if peaks_style else "line"
        for crest in self.world.ridges:
            line = self.px(crest)
            if arclength(line)[-1] < 0.2 * min(self.w, self.h) and self.skip("ridges", self.style.leave_out):
                continue
            for part in self.clip(self.miss(line)):
                if peaks_style:
                    out.append(([self._peaks(part)], "hatch"))
                else:
                    out.append((self.broken(part, 0.2), "line"))
        return out

    def _peaks(self, line: np.ndarray) -> np.ndarray:
        """A row of peaks along a line: a zigzag whose points alternate on the line and beside it."""
        period = float(self.rng.uniform(10.0, 20.0))
        tall = float(self.rng.uniform(5.0, 10.0))
        pts = resample(line, 0.5 * period)
        side = _normals(pts)
        lift = np.where(np.arange(len(pts)) % 2 == 1, tall, 0.0)
        return pts + lift[:, None] * side

    # -- forests ------------------------------------------------------------------------------
    def forests(self) -> list[tuple[list[np.ndarray], str]]:
        world, rng = self.world, self.rng
        labels, count = ndimage.label(world.forest)
        if count == 0:
            return []
        area = np.bincount(labels.ravel(), minlength=count + 1)[1:] * world.grid.cell_m ** 2
        habit = str(rng.choice(["outline", "hatch", "trees"], p=[0.4, 0.35, 0.25]))
        dense = rng.random() < 0.5
        self.manner["forests"] = habit + (" dense" if dense else " sparse")
        small = 0.02 * world.grid.width_m * world.grid.height_m
        out: list[tuple[list[np.ndarray], str]] = []
        for k in np.argsort(-area, kind="stable"):
            if area[k] < small and self.skip("forests", 2.0 * self.style.leave_out):
                continue
            mask = labels == k + 1
            manner = habit if rng.random() < 0.8 else str(rng.choice(["outline", "hatch", "trees"]))
            if manner in ("outline",) or rng.random() < 0.12:
                out.append((self._outline(mask), "line"))
            if manner == "hatch":
                out.append((self._hatch(mask, dense), "hatch"))
            elif manner == "trees":
                out.append((self._tree_marks(mask, dense), "small"))
        return out

    def _outline(self, mask: np.ndarray) -> list[np.ndarray]:
        """The area's outline in pixels, smoothed, without the stretches along the world's edge."""
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        out: list[np.ndarray] = []
        g = self.world.grid
        x, y = g.centres()
        for c in contours:
            c = c[:, 0, :]
            if len(c) < 8:
                continue
            xy = np.stack([x[c[:, 0]], y[c[:, 1]]], axis=1)
            poly = _chaikin(np.vstack([xy, xy[:1]]), 2)
            inner = g.inside(poly, 1.5 * g.cell_m)
            edges = np.diff(np.concatenate([[0], inner.astype(np.int8), [0]]))
            for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
                for part in self.clip(self.miss(self.px(poly[a:b]))):
                    out += self.broken(part, 0.3)
        return out

    def _hatch(self, mask: np.ndarray, dense: bool) -> list[np.ndarray]:
        """Zigzag scribbles filling the area: scan lines at an angle, their runs inside the area
        chained line to line, the pen crossing from one end of a run to the other end of the next."""
        rng, g = self.rng, self.world.grid
        gap_px = float(rng.uniform(5.0, 10.0) if dense else rng.uniform(12.0, 24.0))
        gap = gap_px / self.s
        theta = float(rng.uniform(0.0, math.pi))
        u = np.array([math.cos(theta), math.sin(theta)])
        v = np.array([-u[1], u[0]])
        rr, cc = np.nonzero(mask)
        x, y = g.centres()
        pts = np.stack([x[cc], y[rr]], axis=1)
        a, b = pts @ u, pts @ v
        step = 0.5 * g.cell_m
        lines = np.arange(b.min() + 0.5 * gap * rng.uniform(0.5, 1.5), b.max(), 0.5 * gap)
        along = np.arange(a.min() - g.cell_m, a.max() + g.cell_m, step)
        chains: list[list[tuple[float, float, float]]] = []
        open_chains: list[int] = []
        for bi in lines:
            xy = along[:, None] * u + bi * v
            r_, c_ = g.cell(xy)
            inside = mask[r_, c_] & g.inside(xy)
            edges = np.diff(np.concatenate([[0], inside.astype(np.int8), [0]]))
            runs = [(along[s0], along[s1 - 1]) for s0, s1 in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0])
                    if along[s1 - 1] - along[s0] >= 2.0 / self.s]
            still: list[int] = []
            for lo, hi in runs:
                for ci in open_chains:
                    plo, phi, _ = chains[ci][-1]
                    if ci not in still and lo <= phi and hi >= plo:
                        chains[ci].append((lo, hi, bi))
                        still.append(ci)
                        break
                else:
                    chains.append([(lo, hi, bi)])
                    still.append(len(chains) - 1)
            open_chains = still
        out: list[np.ndarray] = []
        for chain in chains:
            zig = []
            for i, (lo, hi, bi) in enumerate(chain):
                inset = float(rng.uniform(0.0, 0.15)) * (hi - lo)
                end = hi - inset if i % 2 == 0 else lo + inset
                zig.append(end * u + bi * v)
            if len(zig) < 2:
                continue
            poly = self.px(np.array(zig))
            limit = int(rng.integers(8, 20))
            for k in range(0, len(poly) - 1, limit):
                part = poly[k:k + limit + 1]
                if len(part) >= 2:
                    out += self.clip(self.miss(part))
        return out

    def _tree_marks(self, mask: np.ndarray, dense: bool) -> list[np.ndarray]:
        """Little loops (tree symbols) scattered over the area."""
        rng = self.rng
        radius = float(rng.uniform(2.5, 5.0))
        spacing_px = radius * float(rng.uniform(2.5, 3.5) if dense else rng.uniform(4.0, 7.0))
        spots = plant_trees(self.world.grid, mask, rng, spacing_px / self.s, tries=6)
        if len(spots) > 40:
            spots = spots[np.sort(rng.choice(len(spots), 40, replace=False))]
        out = []
        for p in self.px(spots):
            n = int(rng.integers(9, 14))
            t = np.linspace(0.0, 2 * math.pi, n + 1) + rng.uniform(0, 2 * math.pi)
            r = radius * (1.0 + 0.15 * rng.standard_normal(n + 1))
            out.append(p + np.stack([r * np.cos(t), r * np.sin(t)], axis=1))
        return out

    # -- buildings ------------------------------------------------------------------------------
    def buildings(self) -> list[tuple[list[np.ndarray], str]]:
        world, rng = self.world, self.rng
        if len(world.buildings) == 0:
            return []
        habit = str(rng.choice(["tick", "dot", "square"], p=[0.35, 0.3, 0.35]))
        clusters = rng.random() < self.style.cluster
        self.manner["buildings"] = habit + (" clusters" if clusters else "")
        groups: list[list[int]] = []
        where = world.buildings[:, :2]
        for i in rng.permutation(len(world.buildings)):
            for grp in groups:
                if clusters and np.linalg.norm(where[grp[0]] - where[i]) < self.style.cluster_m:
                    grp.append(int(i))
                    break
            else:
                groups.append([int(i)])
        keep = [grp for grp in groups if not self.skip("buildings", self.style.leave_out)]
        if not keep:
            keep = groups[:1]
            self.left_out["buildings"] -= 1
        lines, smalls = [], []
        for grp in keep:
            b = world.buildings[grp]
            centre = b[:, :2].mean(axis=0) + rng.normal(0.0, 0.3 * self.style.miss_m * self.style.messiness, 2)
            yaw = float(b[0, 2])
            size = float(b[:, 3].max()) + (float(np.ptp(b[:, :2], axis=0).max()) if len(grp) > 1 else 0.0)
            mark = habit if rng.random() < 0.7 else str(rng.choice(["tick", "dot", "square"]))
            p = self.px(centre[None])[0]
            side = max(size * self.s, 5.0)
            if mark == "tick":
                along = np.array([-math.sin(yaw), -math.cos(yaw)])  # across yaw, in pixel axes (v down)
                lines.append(np.stack([p - 0.5 * side * along, p + 0.5 * side * along]))
            elif mark == "square":
                c, s = math.cos(yaw), math.sin(yaw)
                corners = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1], [1, 1]], float) * 0.5 * side
                rot = corners @ np.array([[c, -s], [s, c]])
                lines.append(p + rot * np.array([1.0, -1.0]))
            else:
                r = max(1.5, 0.2 * side)
                t = np.linspace(0.0, 2 * math.pi * rng.uniform(1.2, 2.0), 16)
                rad = r * np.linspace(1.0, 0.4, len(t))
                smalls.append(p + np.stack([rad * np.cos(t), rad * np.sin(t)], axis=1))
        out = []
        if lines:
            out.append((lines, "mark"))
        if smalls:
            out.append((smalls, "small"))
        return out


def _normals(poly: np.ndarray) -> np.ndarray:
    """Normals of a pixel polyline with tangents averaged over about 6 px (no kinks in offsets)."""
    if len(poly) < 3:
        return normals(poly)
    spacing = max(float(arclength(poly)[-1]) / (len(poly) - 1), 1e-6)
    return normals(poly, max(1, int(round(6.0 / spacing))))


def _chaikin(poly: np.ndarray, rounds: int) -> np.ndarray:
    """Corner cutting of a closed polyline (first point repeated at the end), `rounds` times."""
    p = poly[:-1]
    for _ in range(rounds):
        q = np.roll(p, -1, axis=0)
        p = np.stack([0.75 * p + 0.25 * q, 0.25 * p + 0.75 * q], axis=1).reshape(-1, 2)
    return np.vstack([p, p[:1]])
