"""A second hand for `scene` sketches, written apart from the data generator (`neural/scene/sketching.py`)
and sharing none of its code or stroke model, so a benchmark can report figures on sketches that
were not drawn the way the training data is. For evaluation only: never train on it.

    other_hand(count, seed) -> [{"world": World, "sketch": Sketch}, ...]   worlds of make_item(item_seed(seed, i))
    .venv/bin/python benchmarks/scene_other_hand.py [--count 8] [--seed 3] [--sheet PATH]

What this hand does differently: canvases 500-700 px on the short side (the world's aspect, the world
framed exactly, never moved off the origin); rivers as their two banks, each in 1-3 overlapping pieces;
lakes as a closed shore, sometimes in two overlapping strokes (the first closing on itself); roads as
2-4 overlapping dashes along the centre line, sometimes overshooting; forests as a simplified outline
or scattered tree loops, chosen per area; buildings as their rotated footprint squares or, one in
five, an 'x'; ridges as zigzags along the crest. Its pen: each stroke off by up to `MISS_M` as a whole,
resampled every 2-3 px, a smooth drift of 1-3 px, 0.3 px jitter, pressure ramps, constant-plus-noise
speed. About a tenth of the small things
(single buildings, small forests) is left out; drawing order water, roads, forests, buildings,
mountains.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.sketch import Sketch, Stroke
from sketchforge.neural.scene.cli import item_seed
from sketchforge.neural.scene.data import make_item
from sketchforge.neural.scene.world import FOREST, World

__all__ = ["draw_other_hand", "other_hand"]

KINDS = ("water", "road", "forest", "building", "mountain")
HAND_SEED = 7717
"""Mixed into each item's seed: this hand's own random stream."""
MISS_M = 4.0
"""Each stroke lands up to this far (m) from where it aims, in any direction: a person aims at the river."""
MIN_FOREST_M2 = 150.0
"""Forest areas smaller than this are not drawn."""
SMALL_FOREST_M2 = 1500.0
"""Forest areas below this count as small things, which may be left out."""
LEAVE_OUT = 0.1
"""The share of small things (single buildings, small forests) left out."""


def other_hand(count: int, seed: int) -> list[dict]:
    """`count` items: the world of `make_item(item_seed(seed, i))` and this hand's sketch of it
    (deterministic given seed and i)."""
    out = []
    for i in range(count):
        s = item_seed(seed, i)
        world = make_item(s).world
        out.append({"world": world, "sketch": draw_other_hand(world, np.random.default_rng([s, HAND_SEED]))})
    return out


def draw_other_hand(world: World, rng: np.random.Generator, leave_out: float = LEAVE_OUT) -> Sketch:
    """This hand's sketch of `world` (module notes); the prompt is the world's style word."""
    width, height = _canvas(world, rng)
    cam = Camera(eye=(0.0, 0.0, 1000.0 * (float(world.height.max()) + 150.0)), target=(0.0, 0.0, 0.0),
                 up=(0.0, 1.0, 0.0), projection="orthographic", height=1000.0 * world.grid.height_m)
    m = _Map(world, width, height, rng, leave_out)
    m.water()
    m.roads()
    m.forests()
    m.buildings()
    m.mountains()
    if not m.strokes and leave_out > 0:
        return draw_other_hand(world, rng, 0.0)
    return Sketch(cam, width, height, tuple(m.strokes), "scene", world.style)


def _canvas(world: World, rng: np.random.Generator) -> tuple[int, int]:
    """(width, height) of the world's aspect, 500-700 px on the short side."""
    g = math.gcd(world.grid.cols, world.grid.rows)
    aw, ah = world.grid.cols // g, world.grid.rows // g
    if aw == ah:
        side = int(rng.choice([500, 560, 600, 600, 640, 700]))
        return side, side
    unit = min(aw, ah)
    options = [s for s in range(500, 701) if s % (5 * unit) == 0] or [s for s in range(500, 701) if s % unit == 0]
    short = int(rng.choice(options)) if options else 600
    long = int(round(short * max(aw, ah) / unit))
    return (long, short) if aw > ah else (short, long)


# -- polylines ---------------------------------------------------------------------------------------
def _length(p: np.ndarray) -> np.ndarray:
    """Cumulative length along a polyline (N, 2)."""
    if len(p) < 2:
        return np.zeros(len(p))
    return np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])


def _at(p: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Points at arc positions `s` along the polyline (clamped to its ends)."""
    c = _length(p)
    return np.stack([np.interp(s, c, p[:, 0]), np.interp(s, c, p[:, 1])], 1)


def _even(p: np.ndarray, step: float) -> np.ndarray:
    """The polyline sampled every `step` (about) along its length, both ends kept."""
    total = _length(p)[-1] if len(p) > 1 else 0.0
    if total <= 0:
        return p[:1].copy()
    return _at(p, np.linspace(0.0, total, max(int(math.ceil(total / step)), 1) + 1))


def _part(p: np.ndarray, s0: float, s1: float, step: float = 1.0) -> np.ndarray:
    """The piece of the polyline between arc positions s0 < s1."""
    return _at(p, np.linspace(s0, s1, max(int(math.ceil((s1 - s0) / step)), 1) + 1))


def _side(p: np.ndarray) -> np.ndarray:
    """Unit normals (tangent turned a quarter anticlockwise) of a polyline (N, 2)."""
    t = np.gradient(p, axis=0) if len(p) > 1 else np.array([[1.0, 0.0]])
    t = t / np.maximum(np.hypot(t[:, 0], t[:, 1])[:, None], 1e-12)
    return np.stack([-t[:, 1], t[:, 0]], 1)


def _closes(uv: np.ndarray) -> bool:
    """Ends nearer than a tenth of the stroke's length (the contract's closed stroke)."""
    return len(uv) >= 3 and float(np.hypot(*(uv[-1] - uv[0]))) < 0.1 * float(_length(uv)[-1])


def _dashes(total: float, count: int, overlap: tuple[float, float], rng: np.random.Generator) -> list[tuple]:
    """`count` arc intervals covering [0, total], neighbours overlapping by a share of a piece."""
    cuts = np.sort(rng.uniform(0.25, 0.75, count - 1) / count + np.arange(1, count) / count) * total
    edges = np.concatenate([[0.0], cuts, [total]])
    out = []
    for k in range(count):
        a, b = edges[k], edges[k + 1]
        extra = rng.uniform(*overlap) * (b - a)
        out.append((max(0.0, a - (0.5 * extra if k else 0.0)), min(total, b + (0.5 * extra if k < count - 1 else 0.0))))
    return out


# -- the map -----------------------------------------------------------------------------------------
class _Map:
    """The strokes of one sketch, kind by kind, through this hand's pen."""

    def __init__(self, world: World, width: int, height: int, rng: np.random.Generator, leave_out: float):
        self.world, self.width, self.height, self.rng, self.leave_out = world, width, height, rng, leave_out
        self.s = height / world.grid.height_m  # pixels per metre
        self.strokes: list[Stroke] = []

    def px(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, float).reshape(-1, 2)
        return np.stack([0.5 * self.width + self.s * xy[:, 0], 0.5 * self.height - self.s * xy[:, 1]], 1)

    # the pen
    def draw(self, uv: np.ndarray, kind: str, closed: bool = False) -> None:
        """One pen-down of this hand along the pixel polyline; open lines are cut to the canvas first."""
        runs = [uv] if closed else self._inside(uv)
        for run in runs:
            pts = self._hand(run, closed)
            if pts is not None:
                self.strokes.append(Stroke(pts, kind))

    def _inside(self, uv: np.ndarray, margin: float = 2.0) -> list[np.ndarray]:
        ok = (uv[:, 0] >= -margin) & (uv[:, 0] <= self.width + margin) & \
             (uv[:, 1] >= -margin) & (uv[:, 1] <= self.height + margin)
        runs, start = [], None
        for k, inside in enumerate(np.append(ok, False)):
            if inside and start is None:
                start = k
            elif not inside and start is not None:
                if k - start >= 2:
                    runs.append(uv[start:k])
                start = None
        return runs

    def _hand(self, uv: np.ndarray, closed: bool) -> np.ndarray | None:
        rng = self.rng
        p = _even(np.asarray(uv, float), rng.uniform(2.0, 3.0))
        n = len(p)
        if n < 2:
            return None
        total = float(_length(p)[-1])
        # drift: a random walk, smoothed to low frequency, scaled to 1-3 px (less on short strokes)
        walk = np.cumsum(rng.normal(0.0, 1.0, (n, 2)), axis=0)
        if n > 3:
            walk = gaussian_filter1d(walk, sigma=max(1.0, n / 8.0), axis=0, mode="nearest")
        walk -= walk.mean(0)
        if closed:  # the pen comes back to where it set out
            walk -= np.linspace(0.0, 1.0, n)[:, None] * (walk[-1] - walk[0])
        peak = float(np.abs(walk).max())
        amp = rng.uniform(1.0, 3.0) * min(1.0, total / 150.0)
        aim = rng.uniform(0.0, 2.0 * math.pi)
        miss = rng.uniform(0.0, MISS_M) * self.s * np.array([math.cos(aim), math.sin(aim)])
        p = p + miss + (walk / peak * amp if peak > 1e-9 else 0.0) + rng.normal(0.0, 0.3, (n, 2))
        p = np.clip(p, [0.0, 0.0], [float(self.width), float(self.height)])
        if closed and not _closes(p):
            p = np.vstack([p, p[:1]])
            n += 1
        # pressure: 0.3 rising to about 0.7 over the first points, falling at the end
        k_in, k_out = int(rng.integers(3, 7)), int(rng.integers(2, 6))
        top = rng.uniform(0.6, 0.8)
        idx = np.arange(n)
        ramp = np.minimum(np.minimum(1.0, idx / k_in), np.minimum(1.0, (n - 1 - idx) / k_out))
        pressure = 0.3 + (top - 0.3) * ramp + gaussian_filter1d(rng.normal(0.0, 0.04, n), 2.0, mode="nearest")
        pressure = np.clip(pressure, 0.05, 1.0)
        # time: a constant speed with noise, strictly increasing by at least 1 ms
        speed = rng.uniform(300.0, 900.0) * np.exp(gaussian_filter1d(rng.normal(0.0, 0.25, n - 1), 3.0,
                                                                     mode="nearest"))
        dt = np.maximum(np.hypot(*np.diff(p, axis=0).T) / speed * 1000.0, 1.0)
        t = np.concatenate([[0.0], np.cumsum(dt)])
        pts = np.column_stack([np.round(p, 2), np.round(pressure, 3), np.round(t, 1)])
        return pts + 0.0

    # the kinds
    def water(self) -> None:
        rng = self.rng
        for river in self.world.rivers:
            centre = _even(np.asarray(river.points, float), 1.0)
            if len(centre) < 2:
                continue
            if len(centre) > 5:
                centre = gaussian_filter1d(centre, 2.0, axis=0, mode="nearest")
            side = _side(centre)
            for sign in (1.0, -1.0):
                bank = self.px(centre + sign * 0.5 * river.width_m * side)
                if rng.random() < 0.3:
                    bank = bank[::-1]
                total = float(_length(bank)[-1])
                pieces = int(rng.integers(1, 4)) if total > 60.0 else 1
                for a, b in _dashes(total, pieces, (0.05, 0.15), rng):
                    self.draw(_part(bank, a, b), "water")
        for lake in self.world.lakes:
            shore = self.px(lake.shore)
            shore = np.roll(shore, -int(rng.integers(len(shore))), axis=0)
            if rng.random() < 0.4:
                shore = shore[::-1]
            loop = np.vstack([shore, shore, shore[:1]])  # twice round, so pieces may run past the start
            perimeter = float(_length(np.vstack([shore, shore[:1]]))[-1])
            if rng.random() < 0.35:  # two overlapping halves: the first nearly all round (it closes)
                end = rng.uniform(0.92, 0.96)
                self.draw(_part(loop, 0.0, end * perimeter), "water", closed=True)
                self.draw(_part(loop, rng.uniform(0.45, 0.6) * perimeter, (1.0 + rng.uniform(0.03, 0.08)) * perimeter),
                          "water")
            else:
                self.draw(_part(loop, 0.0, (1.0 + rng.uniform(0.0, 0.08)) * perimeter), "water", closed=True)

    def roads(self) -> None:
        rng = self.rng
        for road in self.world.roads:
            line = np.asarray(road.points, float)
            if len(line) < 2 or _length(line)[-1] < 2.0:
                continue
            if rng.random() < 0.5:
                line = line[::-1]
            for end in (0, -1):
                if rng.random() < 0.25:  # a short overshoot at this end
                    other = line[1] if end == 0 else line[-2]
                    d = line[end] - other
                    tip = line[end] + d / max(float(np.hypot(*d)), 1e-9) * rng.uniform(3.0, 8.0)
                    line = np.vstack([tip[None], line]) if end == 0 else np.vstack([line, tip[None]])
            uv = self.px(line)
            total = float(_length(uv)[-1])
            dashes = min(int(rng.integers(2, 5)), max(1, int(total // 25.0)))
            for a, b in _dashes(total, dashes, (0.05, 0.15), rng):
                self.draw(_part(uv, a, b), "road")

    def forests(self) -> None:
        rng, g = self.rng, self.world.grid
        mask = (self.world.category == FOREST).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for k in rng.permutation(np.arange(1, count)):
            area = float(stats[k, cv2.CC_STAT_AREA]) * g.cell_m ** 2
            if area < MIN_FOREST_M2 or (area < SMALL_FOREST_M2 and rng.random() < self.leave_out):
                continue
            comp = (labels == k).astype(np.uint8)
            if rng.random() < 0.5:
                self._outline(comp, area)
            else:
                self._tree_loops(comp, area)

    def _cells_to_world(self, rc: np.ndarray) -> np.ndarray:
        """(row, col) cell coordinates (N, 2) to world metres."""
        g = self.world.grid
        x = -0.5 * g.width_m + (rc[:, 1] + 0.5) * g.cell_m
        return np.stack([x, 0.5 * g.height_m - (rc[:, 0] + 0.5) * g.cell_m], 1)

    def _outline(self, comp: np.ndarray, area: float) -> None:
        rng, g = self.rng, self.world.grid
        contours, _ = cv2.findContours(comp, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        if not contours:
            return
        cnt = max(contours, key=cv2.contourArea)
        poly = cv2.approxPolyDP(cnt, rng.uniform(1.5, 3.0) / g.cell_m, True)[:, 0, :].astype(float)  # (col, row)
        if len(poly) < 3:
            return
        rows, cols = g.rows, g.cols
        edge = np.stack([poly[:, 0] <= 1, poly[:, 0] >= cols - 2, poly[:, 1] <= 1, poly[:, 1] >= rows - 2], 1)
        on_edge = (edge & np.roll(edge, -1, axis=0)).any(1)  # segment i -> i + 1 runs along one map edge
        uv = self.px(self._cells_to_world(poly[:, ::-1]))
        if on_edge.any() and not on_edge.all() and area < 0.25 * g.width_m * g.height_m and rng.random() < 0.6:
            # left open where it meets the map's edge: the inside runs of the outline
            start = int(np.argmax(on_edge)) + 1
            order = np.roll(np.arange(len(uv)), -start)
            cut = on_edge[order]
            run = [uv[order[0]]]
            for j in range(len(order)):
                nxt = uv[order[(j + 1) % len(order)]]
                if cut[j]:
                    if len(run) >= 2:
                        self.draw(np.array(run), "forest")
                    run = [nxt]
                else:
                    run.append(nxt)
            if len(run) >= 2:
                self.draw(np.array(run), "forest")
            return
        uv = np.roll(uv, -int(rng.integers(len(uv))), axis=0)
        ring = np.vstack([uv, uv, uv[:1]])
        perimeter = float(_length(np.vstack([uv, uv[:1]]))[-1])
        self.draw(_part(ring, 0.0, (1.0 + rng.uniform(0.0, 0.06)) * perimeter), "forest", closed=True)

    def _tree_loops(self, comp: np.ndarray, area: float) -> None:
        rng, g = self.rng, self.world.grid
        want = int(np.clip(math.ceil(area / rng.uniform(300.0, 600.0)), 1, 25))
        radius = rng.uniform(2.0, 4.0, want)  # 4-8 m across
        inner = cv2.erode(comp, np.ones((5, 5), np.uint8))
        cells = np.argwhere(inner if inner.any() else comp).astype(float)
        if len(cells) > 4000:
            cells = cells[rng.choice(len(cells), 4000, replace=False)]
        cells = cells[rng.permutation(len(cells))]
        spacing = 0.8 * math.sqrt(area / want) / g.cell_m
        chosen: list[np.ndarray] = []
        while len(chosen) < want and spacing > 0.5:
            for c in cells:
                if len(chosen) >= want:
                    break
                if all(float(np.hypot(*(c - o))) >= spacing for o in chosen):
                    chosen.append(c)
            spacing *= 0.5
        centres = self._cells_to_world(np.array(chosen))
        for (x, y), r in zip(centres, radius):
            turns = 1.0 + rng.uniform(0.05, 0.2)
            a = rng.uniform(0, 2 * np.pi) + np.linspace(0.0, 2 * np.pi * turns, 28) * rng.choice([-1.0, 1.0])
            wobble = 1.0 + 0.12 * np.sin(2 * a + rng.uniform(0, 2 * np.pi)) + rng.normal(0.0, 0.03, len(a))
            ring = np.stack([x + r * wobble * np.cos(a), y + r * wobble * np.sin(a)], 1)
            self.draw(self.px(ring), "forest", closed=True)

    def buildings(self) -> None:
        rng = self.rng
        rows = np.asarray(self.world.buildings, float).reshape(-1, 4)
        if not len(rows):
            return
        # from a random one, each time the nearest one not yet drawn
        left, order = list(range(len(rows))), []
        here = rows[int(rng.integers(len(rows))), :2]
        while left:
            j = min(left, key=lambda i: float(np.hypot(*(rows[i, :2] - here))))
            order.append(j)
            left.remove(j)
            here = rows[j, :2]
        for j in order:
            if rng.random() < self.leave_out:
                continue
            x, y, yaw, size = rows[j, :4]
            c, s = math.cos(yaw), math.sin(yaw)
            local = 0.5 * size * np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], float)
            corners = np.stack([x + c * local[:, 0] - s * local[:, 1], y + s * local[:, 0] + c * local[:, 1]], 1)
            uv = self.px(corners)
            if rng.random() < 0.2:  # an 'x' over the footprint
                shrink = rng.uniform(0.7, 1.0)
                mid = uv.mean(0)
                for a, b in ((0, 2), (1, 3)):
                    self.draw(mid + shrink * (uv[[a, b]] - mid), "building")
                continue
            uv = np.roll(uv, -int(rng.integers(4)), axis=0)
            if rng.random() < 0.5:
                uv = uv[::-1]
            ring = np.vstack([uv, uv[:1], uv[1:2]])
            side = float(np.hypot(*(uv[1] - uv[0])))
            self.draw(_part(ring, 0.0, (4.0 + rng.uniform(0.0, 0.15)) * side), "building", closed=True)

    def mountains(self) -> None:
        rng = self.rng
        for crest in self.world.ridges:
            crest = np.asarray(crest, float)
            if len(crest) < 2:
                continue
            wavelength, amp = rng.uniform(10.0, 20.0), rng.uniform(3.0, 6.0)
            smooth = _even(crest, 1.0)
            if len(smooth) > 9:
                smooth = gaussian_filter1d(smooth, 4.0, axis=0, mode="nearest")
            total = float(_length(smooth)[-1])
            if total < wavelength:
                self.draw(self.px(smooth), "mountain")
                continue
            s = np.linspace(0.0, total, int(round(2 * total / wavelength)) + 1)
            pts = _at(smooth, s)
            c, nrm = _length(smooth), _side(smooth)
            side = np.stack([np.interp(s, c, nrm[:, 0]), np.interp(s, c, nrm[:, 1])], 1)
            side /= np.maximum(np.hypot(side[:, 0], side[:, 1])[:, None], 1e-12)
            sign = np.where(np.arange(len(s)) % 2 == 0, 1.0, -1.0) * (1.0 if rng.random() < 0.5 else -1.0)
            sign[[0, -1]] = 0.0
            self.draw(self.px(pts + side * (amp * sign)[:, None]), "mountain")


# -- the contact sheet -------------------------------------------------------------------------------
KIND_BGR = {"water": (220, 110, 40), "road": (60, 60, 60), "forest": (50, 140, 30), "building": (40, 40, 210),
            "mountain": (30, 90, 150)}
CATEGORY_BGR = np.array([[215, 232, 225], [230, 170, 120], [150, 150, 150], [130, 190, 130], [120, 120, 230]],
                        np.uint8)
TILE = 320


def _panel(sketch: Sketch) -> np.ndarray:
    s = TILE / max(sketch.width, sketch.height)
    w, h = int(round(s * sketch.width)), int(round(s * sketch.height))
    x0, y0 = (TILE - w) // 2, (TILE - h) // 2
    img = np.full((TILE, TILE, 3), 255, np.uint8)
    cv2.rectangle(img, (x0, y0), (x0 + w - 1, y0 + h - 1), (190, 190, 190), 1)
    for st in sketch.strokes:
        uv = st.uv * s + (x0, y0)
        cv2.polylines(img, [np.round(uv * 16).astype(np.int32)], False, KIND_BGR.get(st.kind or "", (0, 0, 0)), 1,
                      cv2.LINE_AA, 4)
    return img


def _truth(world: World) -> np.ndarray:
    cat = CATEGORY_BGR[world.category]
    s = TILE / max(cat.shape[:2])
    h, w = int(round(s * cat.shape[0])), int(round(s * cat.shape[1]))
    img = np.full((TILE, TILE, 3), 255, np.uint8)
    y0, x0 = (TILE - h) // 2, (TILE - w) // 2
    img[y0:y0 + h, x0:x0 + w] = cv2.resize(cat, (w, h), interpolation=cv2.INTER_NEAREST)
    return img


def contact_sheet(items: list[dict], path: Path) -> None:
    """Per item the sketch (strokes coloured by kind, on white) beside the world's category map."""
    tiles = []
    for i, it in enumerate(items):
        sk = it["sketch"]
        pair = np.hstack([_panel(sk), np.full((TILE, 6, 3), 255, np.uint8), _truth(it["world"])])
        label = f"#{i} {sk.width}x{sk.height} {it['world'].grid.width_m:.0f}x{it['world'].grid.height_m:.0f} m " \
                f"{sk.prompt or ''}"
        cv2.putText(pair, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.pad(pair, ((6, 6), (6, 6), (0, 0)), constant_values=235))
    while len(tiles) % 2:
        tiles.append(np.full_like(tiles[0], 235))
    rows = [np.hstack(tiles[k:k + 2]) for k in range(0, len(tiles), 2)]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.vstack(rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--sheet", type=Path, default=None, help="write a contact sheet PNG here")
    args = ap.parse_args()
    items = other_hand(args.count, args.seed)
    totals = dict.fromkeys(KINDS, 0)
    for i, it in enumerate(items):
        counts = dict.fromkeys(KINDS, 0)
        for st in it["sketch"].strokes:
            counts[st.kind] += 1
        for k in KINDS:
            totals[k] += counts[k]
        w = it["world"]
        print(f"item {i}: canvas {it['sketch'].width}x{it['sketch'].height}, strokes "
              + ", ".join(f"{k} {counts[k]}" for k in KINDS) + f"; world {w.counts()}")
    print("strokes per kind: " + ", ".join(f"{k} {totals[k]}" for k in KINDS))
    if args.sheet is not None:
        contact_sheet(items, args.sheet)
        print(f"wrote {args.sheet}")


if __name__ == "__main__":
    main()
