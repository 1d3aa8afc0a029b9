"""A playable scene from a layout, by rules that hold whatever reader made the layout (the network,
the rules alone, or a world's own maps):

    assemble(layout, seed=0, progress=None) -> Scene
    scene.body() -> SceneBody                     the document's body of it (`modeling.scenes`)

Everything happens on a lattice of points over the layout's ground rectangle, about a metre apart
(`lattice_step`): the lattice's corners are the rectangle's corners, row 0 is the north edge, and
the terrain is the lattice's heights, two triangles per square (`modeling.scenes.ground_height`
reads them). In order:

- water: road cells that close a gap in the water are water under a bridge; water wider than
  `LAKE_RADIUS_M` either side of every point, or a compact pool, is a lake, the rest rivers. A lake
  is flat: one level, below the lowest tenth of its banks, whose low spots are raised into a rim.
  A river's level is set along its skeleton (the centre line of its cells) as a graph: the outlet
  is its lowest end (an end at the edge of the map or at a lake preferred), and walking from any
  source to the outlet the level never rises (every skeleton point keeps the least of the bank
  ground less `BANK_M` upstream of it, plus a millimetre per metre of fall). Beds are carved below
  the level across the river, and the ground beside all water is raised to `BANK_M` above it.
- roads: the road cells' skeleton is a graph too, its staircase of lattice points smoothed into
  the line it stands for; heights on it are the mean of the least and the greatest functions of
  grade `GRADE` (along the graph) above and below the smoothed ground, so cut and fill balance,
  raised where the road must pass `CLEARANCE_M` over water or keep above a bank (a bridge, with
  ramps at the same grade). Its branches between ends and junctions are the roads' centre lines;
  the terrain under a road is level across at the height of the nearest point of the nearest
  centre line, and a shoulder blends it into the ground (never below the banks). A ribbon is laid
  along each centre line, and a deck with parapets where it is over water.
- buildings: one per building blob (several for a large one), moved to the nearest spot clear of
  water, roads and other buildings, on ground that falls at most `MAX_PAD_FALL_M` across its pad,
  near a road when one is close (left out when no such spot lies within 35 m); the pad is levelled
  (the footprint is flat) and blended into the ground; the front faces the nearest road's centre
  line.
- trees by Poisson-disk sampling in the forest, off water, roads and pads; a few rocks (steeper
  ground first) and bushes on open ground.
- colors from the splat, with roads, pads, beds and banks painted over and rock on steep slopes.

`progress(done, total)` is called between the stages; returning False stops the work with
`Cancelled` (the layout is never changed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
import scipy.sparse as sparse
from scipy import ndimage
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree
from skimage.morphology import skeletonize

from sketchforge.modeling.contract import Cancelled
from sketchforge.modeling.scenes import SceneBody, ScenePart, ground_height, terrain_triangles

from .assets import asset, building_size, choose
from .layout import Layout
from .lines import Grid, along, arclength, near_polyline, normals, resample
from .noise import fbm
from .places import plant_trees
from .redraw import Keep
from .water import smoothstep
from .world import BUILDING, CATEGORIES, FOREST, GROUND, MATERIALS, ROAD, WATER

__all__ = ["BANK_M", "CLEARANCE_M", "GRADE", "MAX_BUILDING_SLOPE_DEG", "RiverCourse", "RoadLine", "Scene",
           "assemble", "lattice_step"]

BANK_M = 0.6
"""The least height of the ground beside water above the water (m)."""
CLEARANCE_M = 2.5
"""The least height of a bridge deck above the water under it (m)."""
GRADE = 0.12
"""The steepest a road is laid (rise over run), under the playable limit of 15%."""
MAX_BUILDING_SLOPE_DEG = 10.0
"""The steepest ground a building may stand on after its pad is levelled (degrees)."""
MAX_PAD_FALL_M = 6.0
"""The most the ground may fall across a building's pad before it is levelled (m)."""
BANK_REACH_M = 2.5
"""How far from the water the banks keep their full height (m)."""
LAKE_RADIUS_M = 10.5
"""Water wider than twice this everywhere around a point is a lake, not a river."""
SHOULDER_M = 5.0
"""Width of the cut-and-fill shoulder beside a road (m)."""
ROAD_LIFT_M = 0.06
"""How far a road's ribbon floats over the graded ground under it (m), so the two never fight."""
MAX_OBJECTS = 9000
"""The most objects a scene places (a glTF reader may refuse far more nodes)."""
STAGES = ("lattice", "water", "roads", "buildings", "trees", "colors", "meshes")

_KIND_ORDER = {"building": 0, "tree": 1, "rock": 2, "bush": 3}
_WATER_RGB = {"river": (68, 118, 162), "lake": (54, 100, 148)}
_ROAD_RGB = {None: (138, 118, 92), "desert": (178, 152, 112), "snowy": (150, 144, 138)}
_BRIDGE_RGB = (150, 144, 134)
_PALETTE = np.array([(92, 138, 58), (128, 122, 114), (206, 190, 142), (240, 242, 246), (126, 98, 68)], float)
_GRASS = {"autumn": (150, 138, 62), "desert": (178, 162, 98), "snowy": (112, 132, 96), "green hills": (84, 148, 56)}


@dataclass(frozen=True)
class RiverCourse:
    """A river's course from a source to its outlet: points (K, 2) m a lattice step apart, the water
    level (K,) (never rising) and the bed under the centre (K,) m."""

    points: np.ndarray
    level: np.ndarray
    bed: np.ndarray


@dataclass(frozen=True)
class RoadLine:
    """A road's branch: centre line (K, 2) m, surface height (K,) m, width (m), and which samples
    are on a bridge deck (K,) bool."""

    points: np.ndarray
    surface: np.ndarray
    width_m: float
    bridge: np.ndarray


@dataclass(frozen=True)
class Scene:
    """An assembled scene (module notes). Lattice maps are (R + 1, C + 1), row 0 the north edge:
    terrain `heights` (m) with RGB `colors`, the `category` of each point (`world.CATEGORIES`; water
    under a bridge is WATER), the `water_level` (NaN where dry), `lake` (the lake number, -1 none)
    and the `lake_levels`. Meshes are `modeling.scenes.ScenePart`s in metres. Objects: `objects`
    (N, 5) x, y, z, yaw, scale of the variant meshes `variants[variant]`; `footprints` (M, 5) x, y,
    yaw, depth, width of the buildings' walls (m, radians)."""

    extent: tuple[float, float, float, float]
    heights: np.ndarray
    colors: np.ndarray
    category: np.ndarray
    water_level: np.ndarray
    lake: np.ndarray
    lake_levels: np.ndarray
    water: tuple[ScenePart, ...]
    roads: tuple[ScenePart, ...]
    variants: tuple[ScenePart, ...]
    objects: np.ndarray
    variant: np.ndarray
    footprints: np.ndarray
    rivers: tuple[RiverCourse, ...]
    road_lines: tuple[RoadLine, ...]
    style: str | None = None

    def height_at(self, xy: np.ndarray) -> np.ndarray:
        """Terrain height (N,) m under points (N, 2) m (the triangles drawn)."""
        return ground_height(self.heights, self.extent, xy)

    def kinds(self) -> np.ndarray:
        """The kind of every object (N,)."""
        names = np.array([v.category for v in self.variants] or [""], dtype=np.str_)
        return names[self.variant] if len(self.variant) else np.zeros(0, np.str_)

    def body(self, source: str = "scene", sketch: str = "") -> SceneBody:
        """The scene as a document body; `sketch` the key of the blob of the sketch it was drawn as."""
        return SceneBody(self.extent, self.heights, self.colors, self.water + self.roads, self.variants,
                         self.objects, self.variant, self.style or "", source=source, sketch=sketch)


def lattice_step(extent: tuple[float, float, float, float]) -> float:
    """The lattice spacing (m) the scene over `extent` is assembled on: a metre, coarser for scenes
    over 300 m across."""
    w, s, e, n = extent
    return max(1.0, max(e - w, n - s) / 300.0)


# -- the lattice ---------------------------------------------------------------------------------------
class _Lattice:
    """The lattice over the ground rectangle and its metric."""

    def __init__(self, extent: tuple[float, float, float, float]):
        w, s, e, n = extent
        step = lattice_step(extent)
        self.extent = extent
        self.rows = max(2, int(round((n - s) / step)))
        self.cols = max(2, int(round((e - w) / step)))
        self.dx, self.dy = (e - w) / self.cols, (n - s) / self.rows
        self.step = 0.5 * (self.dx + self.dy)
        self.shape = (self.rows + 1, self.cols + 1)
        self.x = w + np.arange(self.cols + 1) * self.dx
        self.y = n - np.arange(self.rows + 1) * self.dy

    def xy(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Points (N, 2) m of fractional lattice rows and columns."""
        w, s, e, n = self.extent
        return np.stack([w + np.asarray(c, float) * self.dx, n - np.asarray(r, float) * self.dy], 1)

    def rc(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (row, col) of points (N, 2) m."""
        w, s, e, n = self.extent
        p = np.asarray(xy, float).reshape(-1, 2)
        return (n - p[:, 1]) / self.dy, (p[:, 0] - w) / self.dx

    def nearest(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r, c = self.rc(xy)
        return (np.clip(np.rint(r), 0, self.rows).astype(np.int64), np.clip(np.rint(c), 0, self.cols).astype(np.int64))

    def distance(self, mask: np.ndarray, indices: bool = False):
        """Distance (m) from every point to the nearest point of `mask` (large where it is empty),
        with the (rows, cols) of that point when `indices`."""
        if not mask.any():
            big = np.full(self.shape, 1e6)
            return (big, np.zeros(self.shape, np.int64), np.zeros(self.shape, np.int64)) if indices else big
        if indices:
            d, idx = ndimage.distance_transform_edt(~mask, sampling=(self.dy, self.dx), return_indices=True)
            return d, idx[0], idx[1]
        return ndimage.distance_transform_edt(~mask, sampling=(self.dy, self.dx))

    def disc(self, radius_m: float) -> np.ndarray:
        n = max(int(math.ceil(radius_m / self.step)), 1)
        yy, xx = np.mgrid[-n:n + 1, -n:n + 1]
        return ((xx * self.dx) ** 2 + (yy * self.dy) ** 2 <= radius_m ** 2 + 1e-9).astype(np.uint8)

    def blur(self, a: np.ndarray, sigma_m: float) -> np.ndarray:
        return cv2.GaussianBlur(np.asarray(a, np.float32), (0, 0), sigma_m / self.step,
                                borderType=cv2.BORDER_REPLICATE).astype(np.float64)


def _resample(layout: Layout, lat: _Lattice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Category, height and splat of the layout at the lattice points (linear between cell centres;
    categories by a vote weighted towards the thin ones, so a narrow road stays connected)."""
    w, s, e, n = layout.extent
    rows, cols = layout.shape
    mc = ((lat.x - w) / (e - w) * cols - 0.5).astype(np.float32)
    mr = ((n - lat.y) / (n - s) * rows - 0.5).astype(np.float32)
    map_x = np.broadcast_to(mc[None, :], lat.shape).copy()
    map_y = np.broadcast_to(mr[:, None], lat.shape).copy()

    def remap(a: np.ndarray) -> np.ndarray:
        return cv2.remap(np.ascontiguousarray(a, np.float32), map_x, map_y, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)

    height = remap(layout.height).astype(np.float64)
    weight = np.array([1.0, 1.3, 1.6, 1.0, 1.5])
    votes = np.stack([remap((layout.category == k).astype(np.float32)) * weight[k] for k in range(len(CATEGORIES))], -1)
    category = np.argmax(votes, -1).astype(np.uint8)
    splat = np.stack([remap(layout.splat[..., k]) for k in range(len(MATERIALS))], -1).astype(np.float64)
    splat = np.maximum(splat, 0.0)
    splat /= np.maximum(splat.sum(-1, keepdims=True), 1e-9)
    return category, height, splat


# -- skeletons as graphs ----------------------------------------------------------------------------
class _Skeleton:
    """The points of a one-point-wide skeleton and their 8-neighbour graph (edge lengths in m)."""

    def __init__(self, mask: np.ndarray, lat: _Lattice):
        self.rc = np.argwhere(mask)
        n = len(self.rc)
        index = np.full(mask.shape, -1, np.int64)
        index[self.rc[:, 0], self.rc[:, 1]] = np.arange(n)
        self.index = index
        a_list, b_list, w_list = [], [], []
        for dr, dc in ((0, 1), (1, -1), (1, 0), (1, 1)):
            r2, c2 = self.rc[:, 0] + dr, self.rc[:, 1] + dc
            ok = (r2 >= 0) & (r2 < mask.shape[0]) & (c2 >= 0) & (c2 < mask.shape[1])
            a = np.nonzero(ok)[0]
            b = index[r2[ok], c2[ok]]
            keep = b >= 0
            a, b = a[keep], b[keep]
            length = math.hypot(dr * lat.dy, dc * lat.dx)
            a_list += [a, b]
            b_list += [b, a]
            w_list += [np.full(2 * len(a), length)]
        a = np.concatenate(a_list) if a_list else np.zeros(0, np.int64)
        b = np.concatenate(b_list) if b_list else np.zeros(0, np.int64)
        wt = np.concatenate(w_list) if w_list else np.zeros(0)
        self.graph = sparse.csr_matrix((wt, (a, b)), shape=(n, n))
        self.degree = np.diff(self.graph.indptr)
        self.xy = lat.xy(self.rc[:, 0], self.rc[:, 1])

    def __len__(self) -> int:
        return len(self.rc)

    def smooth(self, rounds: int) -> None:
        """Move the points of every branch (not its ends and junctions) halfway to their neighbours'
        mean, `rounds` times, and measure the edges anew: a staircase of lattice points becomes the
        line it stands for, and lengths along the graph become lengths along that line."""
        adj = self.graph.copy()
        adj.data[:] = 1.0
        free = self.degree == 2
        pos = self.xy.copy()
        for _ in range(rounds):
            mean = (adj @ pos) / np.maximum(self.degree, 1)[:, None]
            pos[free] = 0.5 * pos[free] + 0.5 * mean[free]
        g = self.graph.tocoo()
        length = np.linalg.norm(pos[g.row] - pos[g.col], axis=1)
        self.graph = sparse.csr_matrix((np.maximum(length, 1e-6), (g.row, g.col)), shape=g.shape)
        self.xy = pos

    def neighbours(self, p: int) -> np.ndarray:
        return self.graph.indices[self.graph.indptr[p]:self.graph.indptr[p + 1]]

    def envelope(self, values: np.ndarray, slope: float, above: bool) -> np.ndarray:
        """The least function of slope at most `slope` (per metre along the graph) above `values`
        (`above`), or the greatest below them: max_j (v_j - slope d_ij), or min_j (v_j + slope d_ij)."""
        n = len(values)
        if n == 0:
            return values.copy()
        v = np.asarray(values, float)
        cost = (v.max() - v) if above else (v - v.min())
        g = self.graph.tocoo()
        rows = np.concatenate([g.row, np.full(n, n)])
        cols = np.concatenate([g.col, np.arange(n)])
        data = np.concatenate([g.data * slope, cost])
        aug = sparse.csr_matrix((data, (rows, cols)), shape=(n + 1, n + 1))
        d = dijkstra(aug, directed=True, indices=n)[:n]
        return v.max() - d if above else v.min() + d

    def paths(self, lat: _Lattice, min_spur_m: float) -> list[np.ndarray]:
        """The branches between ends and junctions as lists of point indices, without spurs shorter
        than `min_spur_m` and without the short links inside a junction."""
        deg = self.degree
        node = deg != 2
        seen: set[tuple[int, int]] = set()
        out: list[np.ndarray] = []
        for start in np.nonzero(node)[0].tolist() + np.nonzero(~node)[0].tolist():
            for nb in self.neighbours(start).tolist():
                if (start, nb) in seen:
                    continue
                path = [start, nb]
                seen.add((start, nb))
                seen.add((nb, start))
                prev, cur = start, nb
                while not node[cur] and cur != start:
                    nxt = [q for q in self.neighbours(cur).tolist() if q != prev and (cur, q) not in seen]
                    if not nxt:
                        break
                    prev, cur = cur, nxt[0]
                    seen.add((prev, cur))
                    seen.add((cur, prev))
                    path.append(cur)
                out.append(np.array(path))
        kept = []
        for p in out:
            length = float(arclength(self.xy[p])[-1])
            ends = deg[p[0]], deg[p[-1]]
            if len(out) > 1 and min(ends) == 1 and max(ends) >= 3 and length < min_spur_m:
                continue  # a spur off a road
            if min(ends) >= 3 and length < 2.5 * lat.step:
                continue  # a link inside a junction
            kept.append(p)
        return kept


# -- the assembly ------------------------------------------------------------------------------------
class _Assembly:
    """The state of one assembly, stage by stage (see the module notes)."""

    def __init__(self, layout: Layout, seed: int, keep: Keep | None = None):
        self.layout = layout
        self.keep = keep
        self.style = layout.style
        self.rng = np.random.default_rng([int(seed), 2024])
        self.lat = _Lattice(layout.extent)
        self.category, self.h, self.splat = _resample(layout, self.lat)
        self.water = np.zeros(self.lat.shape, bool)
        self.level = np.full(self.lat.shape, np.nan)
        self.lake = np.full(self.lat.shape, -1, np.int64)
        self.lake_levels: list[float] = []
        self.bank_floor = np.full(self.lat.shape, -np.inf)
        self.water_d = np.full(self.lat.shape, 1e6)
        self.rivers: list[RiverCourse] = []
        self.road = np.zeros(self.lat.shape, bool)
        self.road_surface = np.zeros(self.lat.shape, bool)
        self.road_d = np.full(self.lat.shape, 1e6)
        self.road_lines: list[RoadLine] = []
        self.road_parts: list[ScenePart] = []
        self.pads = np.zeros(self.lat.shape, bool)
        self.footprints: list[tuple[float, float, float, float, float]] = []
        self.objects: list[tuple[str, float, float, float, float]] = []  # variant, x, y, yaw, scale
        # a regional remake: the lattice points made again, and the old objects standing outside them
        self.region = np.ones(self.lat.shape, bool)
        self.kept: list[tuple[str, float, float, float, float]] = []
        if keep is not None:
            gx, gy = np.meshgrid(self.lat.x, self.lat.y)
            self.region = keep.inside(np.stack([gx, gy], -1))
            self.kept = keep.kept_objects()

    # -- water ---------------------------------------------------------------------------------------
    def lay_water(self) -> None:
        lat = self.lat
        water = self.category == WATER
        road = self.category == ROAD
        if water.any() and road.any():
            closed = cv2.morphologyEx(water.astype(np.uint8), cv2.MORPH_CLOSE, lat.disc(6.0)).astype(bool)
            water |= road & closed  # water under a bridge
        labels, count = ndimage.label(water, np.ones((3, 3)))
        if count:
            size = np.bincount(labels.ravel(), minlength=count + 1)
            small = size * lat.dx * lat.dy < 12.0
            small[0] = False
            water &= ~small[labels]
        self.water = water
        if not water.any():
            return
        # what the ground beside the water is, carried under it (the nearest dry point's height)
        _, ir, ic = lat.distance(~water, indices=True)
        bank_ground = lat.blur(self.h[ir, ic], 3.0)
        lakes = self._lakes(water)
        rivers = water & (lakes < 0)
        self._set_lakes(lakes)
        if rivers.any():
            self._set_rivers(rivers, bank_ground)
        self._raise_banks()

    def _lakes(self, water: np.ndarray) -> np.ndarray:
        """Lake number of every point (-1: not a lake)."""
        lat = self.lat
        wide = cv2.morphologyEx(water.astype(np.uint8), cv2.MORPH_OPEN, lat.disc(LAKE_RADIUS_M)).astype(bool)
        half = ndimage.distance_transform_edt(water, sampling=(lat.dy, lat.dx))
        labels, count = ndimage.label(water, np.ones((3, 3)))
        lake_mask = np.zeros_like(water)
        for k, sl in enumerate(ndimage.find_objects(labels), start=1):
            if sl is None:
                continue
            comp = labels[sl] == k
            area = comp.sum() * lat.dx * lat.dy
            widest = 2.0 * float(half[sl][comp].max())
            if area <= 4.0 * widest ** 2:  # compact: a pool, however small
                lake_mask[sl] |= comp
            else:
                lake_mask[sl] |= comp & wide[sl]
        # slivers the opening leaves along a lake's shore belong to the lake
        rest = water & ~lake_mask
        rl, rn = ndimage.label(rest, np.ones((3, 3)))
        if rn and lake_mask.any():
            near = cv2.dilate(lake_mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            size = np.bincount(rl.ravel(), minlength=rn + 1) * lat.dx * lat.dy
            touching = np.zeros(rn + 1, bool)
            touching[np.unique(rl[near & rest])] = True
            sliver = touching & (size < 150.0)
            sliver[0] = False
            lake_mask |= sliver[rl]
        out = np.full(water.shape, -1, np.int64)
        ll, ln = ndimage.label(lake_mask, np.ones((3, 3)))
        out[ll > 0] = ll[ll > 0] - 1
        return out

    def _set_lakes(self, lakes: np.ndarray) -> None:
        lat = self.lat
        count = int(lakes.max()) + 1 if lakes.size else 0
        for k in range(count):
            inside = lakes == k
            d_out = lat.distance(inside)
            ring = (d_out > 0) & (d_out <= 3.0 + lat.step) & ~self.water
            around = self.h[ring] if ring.any() else self.h[inside]
            level = float(np.quantile(around, 0.1)) - 0.3
            d_in = ndimage.distance_transform_edt(inside, sampling=(lat.dy, lat.dx))
            area = inside.sum() * lat.dx * lat.dy
            depth = float(np.clip(0.12 * math.sqrt(area), 1.5, 5.0))
            self.h[inside] = level - np.minimum(depth, 0.4 + 0.3 * d_in[inside])
            self.level[inside] = level
            self.lake[inside] = k
            self.lake_levels.append(level)

    def _set_rivers(self, rivers: np.ndarray, bank_ground: np.ndarray) -> None:
        lat = self.lat
        skel = _skeleton(rivers)
        labels, count = ndimage.label(rivers, np.ones((3, 3)))
        # a river too small to thin keeps its deepest point as its skeleton
        has = np.zeros(count + 1, bool)
        has[np.unique(labels[skel])] = True
        half = ndimage.distance_transform_edt(self.water, sampling=(lat.dy, lat.dx))
        for k in np.nonzero(~has[1:])[0] + 1:
            comp = labels == k
            r, c = np.unravel_index(int(np.argmax(np.where(comp, half, -1.0))), comp.shape)
            skel[r, c] = True
        g = _Skeleton(skel, lat)
        target = bank_ground[g.rc[:, 0], g.rc[:, 1]] - BANK_M - 0.1
        hw = np.maximum(half[g.rc[:, 0], g.rc[:, 1]], 0.5 * lat.step)
        at_lake = np.full(len(g), -1, np.int64)  # the lake a skeleton point reaches, if any
        if (self.lake >= 0).any():
            dl, ir, ic = lat.distance(self.lake >= 0, indices=True)
            r, c = g.rc[:, 0], g.rc[:, 1]
            at_lake = np.where(dl[r, c] <= hw + 2.0 * lat.step, self.lake[ir[r, c], ic[r, c]], -1)
        border = np.minimum.reduce([g.rc[:, 0], g.rc[:, 1], lat.rows - g.rc[:, 0], lat.cols - g.rc[:, 1]]) * lat.step
        at_edge = border <= hw + 2.0 * lat.step
        n_comp, comp = connected_components(g.graph, directed=False)
        level = np.zeros(len(g))
        depths = np.zeros(n_comp)
        for k in range(n_comp):
            idx = np.nonzero(comp == k)[0]
            ends = idx[(g.degree[idx] <= 1) | at_edge[idx] | (at_lake[idx] >= 0)]
            if not len(ends):
                ends = idx
            score = target[ends] - 3.0 * (at_edge[ends] | (at_lake[ends] >= 0))
            outlet = int(ends[int(np.argmin(score))])
            t = target.copy()
            for lk in set(at_lake[idx].tolist()) - {-1, int(at_lake[outlet])}:  # lakes upstream
                near = idx[at_lake[idx] == lk]
                t[near] = np.minimum(t[near], self.lake_levels[lk])
            d, pred = dijkstra(g.graph, directed=False, indices=outlet, return_predecessors=True)
            d = np.where(np.isfinite(d), d, 0.0)
            lv = t.copy()
            for p in idx[np.argsort(-d[idx], kind="stable")].tolist():  # sources first: the least upstream
                q = int(pred[p])
                if q >= 0 and lv[p] < lv[q]:
                    lv[q] = lv[p]
            lv[idx] += 0.001 * d[idx]
            if at_lake[outlet] >= 0:  # it runs into a lake: never below the lake
                lv[idx] = np.maximum(lv[idx], self.lake_levels[int(at_lake[outlet])])
            level[idx] = lv[idx]
            width = 2.0 * float(np.median(hw[idx]))
            depths[k] = float(np.clip(0.8 + 0.1 * width, 1.0, 3.0))
            self._record_courses(g, idx, pred, d, lv, depths[k], width)
        d_sk, ir, ic = lat.distance(skel, indices=True)
        p = g.index[ir, ic]
        inside = rivers & (p >= 0)
        pi = p[inside]
        t = np.clip(d_sk[inside] / hw[pi], 0.0, 1.0)
        self.level[inside] = level[pi]
        self.h[inside] = level[pi] - np.maximum(depths[comp[pi]] * (1.0 - t * t), 0.15)

    def _record_courses(self, g: _Skeleton, idx: np.ndarray, pred: np.ndarray, d: np.ndarray, lv: np.ndarray,
                        depth: float, width: float) -> None:
        """The river's main stem (from its farthest source) and its longer branches as courses."""
        taken = np.zeros(len(g), bool)
        sources = idx[g.degree[idx] <= 1]
        sources = sources[np.argsort(-d[sources], kind="stable")] if len(sources) else idx[[int(np.argmax(d[idx]))]]
        for s in sources.tolist():
            path = [s]
            while pred[path[-1]] >= 0 and not taken[path[-1]]:
                path.append(int(pred[path[-1]]))
            taken[path[:-1] if len(path) > 1 else path] = True
            pts = g.xy[path]
            if len(path) < 2 or arclength(pts)[-1] < max(2.0 * width, 4.0 * self.lat.step):
                continue
            self.rivers.append(RiverCourse(pts, lv[path], lv[path] - depth))

    def _raise_banks(self) -> None:
        """Raise the ground beside the water to `BANK_M` above the highest water within a step or
        two (a bank between two reaches of a falling river holds the upper one), falling away at
        one in two beyond `BANK_REACH_M`."""
        lat = self.lat
        d, ir, ic = lat.distance(self.water, indices=True)
        near = self.level[ir, ic]
        wet = np.where(self.water, self.level, -1e9).astype(np.float32)
        highest = cv2.dilate(wet, lat.disc(1.5 + lat.step)).astype(float)
        near = np.where(highest > -1e8, np.maximum(near, highest), near)
        dry = ~self.water & (d < BANK_REACH_M + 2.0 * BANK_M / 0.5)
        self.bank_floor[dry] = near[dry] + BANK_M - np.maximum(d[dry] - BANK_REACH_M, 0.0) * 0.5
        self.keep_banks()
        self.water_d = d

    def keep_banks(self, spare: np.ndarray | None = None) -> None:
        """Raise what later stages lowered beside the water back to the banks (but not `spare`)."""
        lift = np.isfinite(self.bank_floor) if spare is None else np.isfinite(self.bank_floor) & ~spare
        self.h[lift] = np.maximum(self.h[lift], self.bank_floor[lift])

    # -- roads ---------------------------------------------------------------------------------------
    def lay_roads(self) -> None:
        lat = self.lat
        road = self.category == ROAD
        labels, count = ndimage.label(road, np.ones((3, 3)))
        if count:
            size = np.bincount(labels.ravel(), minlength=count + 1) * lat.dx * lat.dy
            small = size < 16.0
            small[0] = False
            road &= ~small[labels]
        self.road = road
        if not road.any():
            return
        g = _Skeleton(_skeleton(road), lat)
        if not len(g):
            return
        g.smooth(8)
        half = ndimage.distance_transform_edt(np.pad(road, 1, mode="edge"), sampling=(lat.dy, lat.dx))[1:-1, 1:-1]
        hw = np.clip(half[g.rc[:, 0], g.rc[:, 1]], 2.0, 4.0)
        # the ground along the road: under water, the banks' height carried over
        if self.water.any():
            _, ir, ic = lat.distance(~self.water, indices=True)
            ground = lat.blur(self.h[ir, ic], 3.0)
        else:
            ground = lat.blur(self.h, 3.0)
        target = ground[g.rc[:, 0], g.rc[:, 1]]
        up = g.envelope(target, GRADE, above=True)
        down = g.envelope(target, GRADE, above=False)
        z = 0.5 * (up + down)
        if self.water.any():  # over the water by the clearance, and never below the banks
            clear = np.where(self.water, self.level + CLEARANCE_M, np.maximum(self.bank_floor, -1e6)).astype(np.float32)
            need = cv2.dilate(clear, lat.disc(float(hw.max()) + 1.0))[g.rc[:, 0], g.rc[:, 1]].astype(float)
            if (need > -1e5).any():
                z = np.maximum(z, g.envelope(np.maximum(need, target.min() - 100.0), GRADE, above=True))
        over_water = cv2.dilate(self.water.astype(np.uint8), lat.disc(1.0 + lat.step)).astype(bool)
        for path in g.paths(lat, min_spur_m=3.0 * float(np.median(hw))):
            pts, zz = g.xy[path], z[path]
            s = arclength(pts)
            if len(pts) < 2 or s[-1] < 0.5 * lat.step:
                continue
            dense = resample(pts, 0.45 * min(lat.dx, lat.dy))
            sd = arclength(dense)
            zd = np.interp(sd / max(sd[-1], 1e-9) * s[-1], s, zz)
            r, c = lat.nearest(dense)
            self.road_lines.append(RoadLine(dense, zd, 2.0 * float(np.median(hw[path])), over_water[r, c]))
        self._grade()
        self._ribbons()

    def _grade(self) -> None:
        """Lay the terrain under the roads: level across, at the height of the nearest point of the
        nearest centre line, and a shoulder blending it into the ground."""
        lat = self.lat
        grid = Grid(lat.rows + 1, lat.cols + 1, lat.step)
        d_all = np.full(lat.shape, np.inf)
        z_all = np.zeros(lat.shape)
        hw_all = np.zeros(lat.shape)
        for line in self.road_lines:
            hw = 0.5 * line.width_m
            r, c = lat.rc(line.points)  # into the frame of `grid`, whose cells are the lattice points
            local = np.stack([(c + 0.5) * lat.step - 0.5 * grid.width_m, 0.5 * grid.height_m - (r + 0.5) * lat.step], 1)
            d, k = near_polyline(grid, local, hw + SHOULDER_M + 1.0)
            closer = d < d_all
            d_all[closer] = d[closer]
            z_all[closer] = along(line.surface, k[closer])
            hw_all[closer] = hw
        near = np.isfinite(d_all)
        surface = near & (d_all <= hw_all + 0.3)
        side = near & ~surface & (d_all < hw_all + SHOULDER_M)
        dry = ~self.water
        self.h[surface & dry] = z_all[surface & dry] - 0.04
        t = smoothstep((d_all[side & dry] - hw_all[side & dry] - 0.3) / (SHOULDER_M - 0.3))
        self.h[side & dry] = (z_all[side & dry] - 0.04) * (1.0 - t) + self.h[side & dry] * t
        self.road_surface = surface
        self.road_d = np.where(near, d_all - hw_all, 1e6)
        self.keep_banks()

    def _ribbons(self) -> None:
        rgb = _ROAD_RGB.get(self.style, _ROAD_RGB[None])
        bridges = 0
        for k, line in enumerate(self.road_lines):
            self.road_parts.append(_ribbon(f"road_{k}", line.points, line.surface + ROAD_LIFT_M, 0.5 * line.width_m,
                                           rgb))
            if not line.bridge.any():
                continue
            spacing = max(float(arclength(line.points)[-1]) / max(len(line.points) - 1, 1), 1e-6)
            pad = int(math.ceil(1.5 / spacing))  # the abutments: a metre and a half onto the banks
            span = ndimage.binary_dilation(line.bridge, np.ones(2 * pad + 1, bool))
            edges = np.diff(np.concatenate([[0], span.astype(np.int8), [0]]))
            for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
                if b - a >= 2:
                    self.road_parts.append(_deck(f"road_bridge_{bridges}", line.points[a:b], line.surface[a:b],
                                                 0.5 * line.width_m))
                    bridges += 1

    # -- buildings -----------------------------------------------------------------------------------
    def place_buildings(self) -> None:
        lat = self.lat
        marks = self.category == BUILDING
        labels, count = ndimage.label(marks, np.ones((3, 3)))
        if not count:
            return
        water_d = self.water_d if self.water.any() else np.full(lat.shape, 1e6)
        road_edge = np.minimum(self.road_d, lat.distance(self.road)) if self.road.any() else np.full(lat.shape, 1e6)
        road_points = cKDTree(np.vstack([line.points for line in self.road_lines])) if self.road_lines else None
        cell = lat.dx * lat.dy
        for name, x, y, yaw, scale in self.kept:  # a regional remake: the buildings outside stay, in order
            if name.startswith("building/"):
                depth, width = building_size(name)
                self._settle(np.array([x, y]), name, depth * scale, width * scale, scale, water_d, road_edge,
                             road_points, yaw)
        for k, sl in enumerate(ndimage.find_objects(labels), start=1):
            if sl is None:
                continue
            rr, ccs = np.nonzero(labels[sl] == k)
            rr, ccs = rr + sl[0].start, ccs + sl[1].start
            made = self.region[rr, ccs]  # only the part of a village in the region is built again
            if not made.any():
                continue
            rr, ccs = rr[made], ccs[made]
            area = len(rr) * cell
            pts = lat.xy(rr, ccs)
            n = 1 if area < 260.0 else int(min(8, round(area / 170.0)))
            centres = _cluster_centres(pts, n, self.rng)
            names = choose("building", self.style, self.rng, n)
            for p0, name in zip(centres, names):
                depth, width = building_size(name)
                want = math.sqrt(area) if n == 1 else float(self.rng.uniform(8.0, 12.0))
                scale = float(np.clip(want / max(depth, width), 0.75, 1.3))
                self._place(p0, name, depth * scale, width * scale, scale, water_d, road_edge, road_points)

    def _place(self, p0: np.ndarray, name: str, depth: float, width: float, scale: float, water_d: np.ndarray,
               road_edge: np.ndarray, road_points: cKDTree | None) -> None:
        lat = self.lat
        w, s, e, n = lat.extent
        reach = 0.5 * math.hypot(depth, width)
        pad = reach + 1.5
        rings = np.arange(0.0, 36.0, 2.0)
        ang = np.linspace(0.0, 2 * math.pi, 16, endpoint=False)
        cand = np.vstack([p0[None]] + [p0 + r * np.stack([np.cos(ang), np.sin(ang)], 1) for r in rings[1:]])
        ok = ((cand[:, 0] >= w + pad + 1.0) & (cand[:, 0] <= e - pad - 1.0)
              & (cand[:, 1] >= s + pad + 1.0) & (cand[:, 1] <= n - pad - 1.0))
        r, c = lat.nearest(cand)
        ok &= (water_d[r, c] >= pad + 3.0) & (road_edge[r, c] >= pad + 0.5)
        for (fx, fy, _, fd, fw) in self.footprints:
            ok &= np.hypot(cand[:, 0] - fx, cand[:, 1] - fy) >= pad + 0.5 * math.hypot(fd, fw) + 3.0
        if not ok.any():
            return
        cost = np.linalg.norm(cand - p0, axis=1)
        r0, c0 = lat.nearest(p0[None])
        if road_edge[r0[0], c0[0]] < 40.0:  # a road is near: keep close to it
            cost = cost + 0.7 * np.maximum(road_edge[r, c] - (pad + 6.0), 0.0)
        for i in np.argsort(np.where(ok, cost, np.inf), kind="stable")[:40]:
            if not ok[i]:
                break
            if self._settle(cand[i], name, depth, width, scale, water_d, road_edge, road_points):
                return

    def _settle(self, p: np.ndarray, name: str, depth: float, width: float, scale: float, water_d: np.ndarray,
                road_edge: np.ndarray, road_points: cKDTree | None, yaw: float | None = None) -> bool:
        """Build at `p` on a pad levelled into the ground, facing the nearest road (or turned by `yaw`,
        a kept building's); False where it cannot stand (on another pad, a slope too steep, or, for
        a kept one, water or a road now too near)."""
        reach = 0.5 * math.hypot(depth, width)
        pad = reach + 1.5
        if yaw is not None:
            r, c = self.lat.nearest(p[None])
            if water_d[r[0], c[0]] < pad + 3.0 or road_edge[r[0], c[0]] < pad + 0.5:
                return False
        rs, cs, disc_ = self._window(p, pad + 5.0)
        inner = disc_ <= pad
        if (self.pads[rs, cs] & inner).any():
            return False
        win = self.h[rs, cs]
        if np.ptp(win[inner]) > MAX_PAD_FALL_M:
            return False
        level = float(np.median(win[inner]))
        ring = ((disc_ > pad) & (water_d[rs, cs] > 3.0) & ~self.road_surface[rs, cs] & ~self.pads[rs, cs])
        t = smoothstep((disc_[ring] - pad) / 5.0)
        win[ring] = level * (1.0 - t) + win[ring] * t
        win[inner] = level
        self.pads[rs, cs] |= inner
        x, y = float(p[0]), float(p[1])
        if yaw is None:
            if road_points is not None:  # the front faces the nearest road's centre line
                toward = road_points.data[road_points.query(p)[1]]
                yaw = math.atan2(toward[1] - y, toward[0] - x)
            else:
                yaw = float(self.rng.uniform(-math.pi, math.pi))
        self.footprints.append((x, y, yaw, depth, width))
        self.objects.append((name, x, y, yaw, scale))
        return True

    def _window(self, p: np.ndarray, radius: float) -> tuple[slice, slice, np.ndarray]:
        lat = self.lat
        r, c = lat.rc(p[None])
        nr, nc = int(math.ceil(radius / lat.dy)) + 1, int(math.ceil(radius / lat.dx)) + 1
        rs = slice(max(int(r[0]) - nr, 0), min(int(r[0]) + nr + 1, lat.rows + 1))
        cs = slice(max(int(c[0]) - nc, 0), min(int(c[0]) + nc + 1, lat.cols + 1))
        d = np.hypot(lat.x[cs][None, :] - p[0], lat.y[rs][:, None] - p[1])
        return rs, cs, d

    # -- trees, rocks, bushes ------------------------------------------------------------------------
    def plant(self) -> None:
        lat = self.lat
        slope = _slope_deg(self.h, lat)
        water_d = self.water_d if self.water.any() else np.full(lat.shape, 1e6)
        pad_d = lat.distance(self.pads)
        clear = (water_d > 2.0) & (self.road_d > 1.5) & (pad_d > 2.0) & ~self.water
        forest = (self.category == FOREST) & clear & (slope < 38.0)
        open_ok = (water_d > 3.0) & (self.road_d > 3.0) & (pad_d > 3.0) & ~self.water
        # a regional remake: the old trees, rocks and bushes outside the region stay where they still may
        kept_trees = self._kept("tree", forest, 1.0)
        kept_small = self._kept("rock", open_ok, 2.5) + self._kept("bush", open_ok, 2.5)
        trees = np.zeros((0, 2))
        if forest.any():
            spacing = 5.0
            if self.layout.trees is not None:
                # as dense as the reader says (dart throwing fills about 0.7 / spacing^2 of the ground)
                forest_m2 = float((self.layout.category == FOREST).mean()) * float(np.prod(self.layout_size()))
                count = float(self.layout.trees[self.layout.category == FOREST].sum())
                if forest_m2 > 0 and count > 0:
                    spacing = float(np.clip(math.sqrt(0.7 * forest_m2 / count), 3.0, 10.0))
            trees = self._poisson(forest & self.region, spacing) if (forest & self.region).any() else trees
            trees = trees[self._off_roads(trees, 1.0)]
            if kept_trees and len(trees):  # new trees at the region's edge keep their distance to the old
                old = np.array([[o[1], o[2]] for o in kept_trees])
                trees = trees[cKDTree(old).query(trees)[0] >= spacing]
        self.objects.extend(kept_trees)
        names = choose("tree", self.style, self.rng, len(trees))
        for (x, y), name in zip(trees, names):
            self.objects.append((name, float(x), float(y), float(self.rng.uniform(-math.pi, math.pi)),
                                 float(self.rng.uniform(0.75, 1.2))))
        standing = np.vstack([trees.reshape(-1, 2)] + [np.array([[o[1], o[2]] for o in kept_trees]).reshape(-1, 2)])
        tree_d = np.full(lat.shape, 1e6)
        if len(standing):
            mark = np.zeros(lat.shape, bool)
            r, c = lat.nearest(standing)
            mark[r, c] = True
            tree_d = lat.distance(mark)
        open_ground = (self.category == GROUND) & open_ok & (tree_d > 3.0) & self.region
        area = open_ground.sum() * lat.dx * lat.dy
        share = float(self.region.mean())
        spots = self._poisson(open_ground, 9.0) if open_ground.any() else np.zeros((0, 2))
        spots = spots[self._off_roads(spots, 2.5)]
        if kept_small and len(spots):
            spots = spots[cKDTree(np.array([[o[1], o[2]] for o in kept_small])).query(spots)[0] >= 9.0]
        self.objects.extend(kept_small)
        if len(spots):
            r, c = lat.nearest(spots)
            steep = slope[r, c]
            n_rock = int(min(len(spots) // 2, math.ceil(40 * share), round(area / 2500.0)))
            weight = 0.2 + smoothstep((steep - 8.0) / 20.0)
            rocks = self.rng.choice(len(spots), size=n_rock, replace=False, p=weight / weight.sum()) if n_rock else []
            rest = np.setdiff1d(np.arange(len(spots)), rocks)
            n_bush = int(min(len(rest), math.ceil(80 * share), round(area / 1200.0)))
            near_forest = lat.distance(self.category == FOREST)[r[rest], c[rest]]
            wb = 0.3 + smoothstep((25.0 - near_forest) / 20.0)
            bushes = rest[self.rng.choice(len(rest), size=n_bush, replace=False, p=wb / wb.sum())] if n_bush else []
            for kind, pick, lo, hi in (("rock", rocks, 0.5, 1.6), ("bush", bushes, 0.7, 1.3)):
                for name, i in zip(choose(kind, self.style, self.rng, len(pick)), pick):
                    self.objects.append((name, float(spots[i, 0]), float(spots[i, 1]),
                                         float(self.rng.uniform(-math.pi, math.pi)), float(self.rng.uniform(lo, hi))))
        if len(self.objects) > MAX_OBJECTS:  # buildings and what a regional remake keeps come first
            kept = {id(o) for o in kept_trees + kept_small}
            first = [o for o in self.objects if o[0].startswith("building/") or id(o) in kept]
            others = [i for i, o in enumerate(self.objects) if not (o[0].startswith("building/") or id(o) in kept)]
            pick = np.sort(self.rng.choice(len(others), min(len(others), max(MAX_OBJECTS - len(first), 0)),
                                           replace=False))
            self.objects = first + [self.objects[others[i]] for i in pick.tolist()]

    def _kept(self, kind: str, allowed: np.ndarray, road_margin: float) -> list[tuple[str, float, float, float, float]]:
        """The kept objects of `kind` (`Keep`) whose ground still allows them (`allowed`, off roads)."""
        mine = [o for o in self.kept if o[0].split("/", 1)[0] == kind]
        if not mine:
            return []
        xy = np.array([[o[1], o[2]] for o in mine])
        r, c = self.lat.nearest(xy)
        ok = allowed[r, c] & ~self.region[r, c] & self._off_roads(xy, road_margin)
        return [o for o, good in zip(mine, ok) if good]

    def _off_roads(self, xy: np.ndarray, margin: float) -> np.ndarray:
        """Which points (N, 2) stand more than `margin` m beyond the edge of every road's ribbon."""
        ok = np.ones(len(xy), bool)
        for line in self.road_lines:
            if len(xy):
                ok &= cKDTree(line.points).query(xy)[0] > 0.5 * line.width_m + margin
        return ok

    def layout_size(self) -> tuple[float, float]:
        w, s, e, n = self.layout.extent
        return (e - w, n - s)

    def _poisson(self, mask: np.ndarray, spacing: float) -> np.ndarray:
        """Points (N, 2) m at least `spacing` apart on the lattice points of `mask`."""
        lat = self.lat
        grid = Grid(lat.rows + 1, lat.cols + 1, lat.dy)
        pts = plant_trees(grid, mask, self.rng, spacing * lat.dy / lat.step)
        if not len(pts):
            return pts
        r, c = grid.rc(pts)
        inside = (r >= 0) & (r <= lat.rows) & (c >= 0) & (c <= lat.cols)
        xy = lat.xy(r[inside], c[inside])
        rn, cn = lat.nearest(xy)
        return xy[mask[rn, cn]]

    # -- colors ------------------------------------------------------------------------------------------
    def paint(self) -> np.ndarray:
        lat = self.lat
        w = self.splat.copy()
        slope = _slope_deg(self.h, lat)
        rock = smoothstep((slope - 28.0) / 12.0)
        w = w * (1.0 - rock[..., None])
        w[..., 1] += rock
        if self.water.any():
            bank = smoothstep((3.0 - self.water_d) / 3.0)
            w = w * (1.0 - 0.6 * bank[..., None])
            w[..., 2] += 0.6 * bank
        if self.road.any():
            dirt = 1.0 - smoothstep(self.road_d / 3.0)
            w = w * (1.0 - 0.85 * dirt[..., None])
            w[..., 4] += 0.85 * dirt
        if self.pads.any():
            w[self.pads] = 0.2 * w[self.pads]
            w[self.pads, 4] += 0.8
        palette = _PALETTE.copy()
        if self.style in _GRASS:
            palette[0] = _GRASS[self.style]
        rgb = w @ palette
        shade = fbm(np.random.default_rng([7, self.lat.rows, self.lat.cols]), lat.rows + 1, lat.cols + 1,
                    25.0 / lat.step, octaves=3)
        rgb *= (0.92 + 0.16 * shade)[..., None]
        return np.clip(np.round(rgb), 0, 255).astype(np.uint8)

    # -- meshes ------------------------------------------------------------------------------------------
    def water_parts(self) -> list[ScenePart]:
        lat = self.lat
        if not self.water.any():
            return []
        _, ir, ic = lat.distance(self.water, indices=True)
        surface = self.level[ir, ic]  # the nearest water's level, carried onto the banks
        labels, count = ndimage.label(self.water, np.ones((3, 3)))
        near_label = labels[ir, ic]
        parts = []
        tris_all = terrain_triangles(lat.rows, lat.cols)
        corner = np.stack([labels[:-1, :-1], labels[:-1, 1:], labels[1:, :-1], labels[1:, 1:]], -1).max(-1).ravel()
        xy = np.stack(np.meshgrid(lat.x, lat.y), -1).reshape(-1, 2)
        for k in range(1, count + 1):
            quads = np.nonzero(corner == k)[0]
            if not len(quads):
                continue
            tris = np.concatenate([tris_all[quads], tris_all[quads + lat.rows * lat.cols]])
            used, inverse = np.unique(tris.ravel(), return_inverse=True)
            lv = surface.ravel()[used]
            own = near_label.ravel()[used] == k
            if not own.all():  # a bank point nearer another water: this water's own level
                fill = float(np.nanmedian(lv[own])) if own.any() else float(np.nanmedian(lv))
                lv = np.where(own, lv, fill)
            is_lake = bool((self.lake[labels == k] >= 0).mean() > 0.5)
            rgb = _WATER_RGB["lake" if is_lake else "river"]
            verts = np.column_stack([xy[used], lv])
            colors = np.tile(np.array([*rgb, 255], np.uint8), (len(used), 1))
            parts.append(ScenePart(f"water_{len(parts)}", verts, inverse.reshape(-1, 3), colors))
        return parts


# -- meshes along lines --------------------------------------------------------------------------------
def _ribbon(name: str, pts: np.ndarray, z: np.ndarray, half: float, rgb: tuple[int, int, int]) -> ScenePart:
    """A flat strip `half` m either side of a centre line at heights `z`."""
    nrm = normals(pts, 5)
    left, right = pts + half * nrm, pts - half * nrm
    k = len(pts)
    verts = np.concatenate([np.column_stack([left, z]), np.column_stack([right, z])])
    i = np.arange(k - 1)
    tris = np.concatenate([np.stack([i, k + i, i + 1], 1), np.stack([i + 1, k + i, k + i + 1], 1)])
    colors = np.tile(np.array([*rgb, 255], np.uint8), (2 * k, 1))
    return ScenePart(name, verts, tris, colors)


def _tube(pts: np.ndarray, z: np.ndarray, across: tuple[float, float], up: tuple[float, float]) -> np.ndarray:
    """Triangles (K, 3, 3) of a box section [across] x [up] (m, left of the line and above z) swept
    along a line, its ends closed."""
    nrm = normals(pts, 3)
    a0, a1 = across
    b0, b1 = up
    corners = [(a0, b0), (a1, b0), (a1, b1), (a0, b1)]  # anticlockwise seen along the line
    ring = np.stack([np.column_stack([pts + a * nrm, z + b]) for a, b in corners], 1)  # (K, 4, 3)
    tris = []
    for j in range(4):
        p0, p1 = ring[:-1, j], ring[:-1, (j + 1) % 4]
        q0, q1 = ring[1:, j], ring[1:, (j + 1) % 4]
        tris += [np.stack([p0, q0, q1], 1), np.stack([p0, q1, p1], 1)]
    start, end = ring[0], ring[-1]
    tris += [np.stack([start[[0, 2, 1]], start[[0, 3, 2]]]), np.stack([end[[0, 1, 2]], end[[0, 2, 3]]])]
    return np.concatenate([t.reshape(-1, 3, 3) for t in tris])


def _deck(name: str, pts: np.ndarray, z: np.ndarray, half: float) -> ScenePart:
    """A bridge deck under a road's ribbon, with a parapet on either side."""
    w = half + 0.4
    tris = np.concatenate([_tube(pts, z, (-w, w), (-0.8, 0.03)), _tube(pts, z, (-w, -w + 0.3), (0.03, 0.9)),
                           _tube(pts, z, (w - 0.3, w), (0.03, 0.9))])
    n = len(tris)
    colors = np.tile(np.array([*_BRIDGE_RGB, 255], np.uint8), (3 * n, 1))
    return ScenePart(name, tris.reshape(-1, 3), np.arange(3 * n).reshape(n, 3), colors)


def _skeleton(mask: np.ndarray, pad: int = 12) -> np.ndarray:
    """The skeleton of `mask`, running on to the map's edge where the mask meets it (thinned with
    the edge rows repeated beyond it, so the edge is not taken for the shape's end)."""
    out = skeletonize(np.pad(mask, pad, mode="edge"))[pad:-pad, pad:-pad]
    return out & mask


def _cluster_centres(pts: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` centres spread over the points (N, 2): farthest-point seeds and a few k-means rounds."""
    if n <= 1 or len(pts) <= n:
        return pts.mean(0, keepdims=True) if n <= 1 else pts[:n].copy()
    centres = [pts[int(np.argmin(np.linalg.norm(pts - pts.mean(0), axis=1)))]]
    for _ in range(n - 1):
        d = np.min(np.linalg.norm(pts[:, None] - np.array(centres)[None], axis=2), axis=1)
        centres.append(pts[int(np.argmax(d))])
    c = np.array(centres)
    for _ in range(4):
        which = np.argmin(np.linalg.norm(pts[:, None] - c[None], axis=2), axis=1)
        c = np.array([pts[which == k].mean(0) if (which == k).any() else c[k] for k in range(n)])
    return c


def _slope_deg(h: np.ndarray, lat: _Lattice) -> np.ndarray:
    gy, gx = np.gradient(h, lat.dy, lat.dx)
    return np.degrees(np.arctan(np.hypot(gx, gy)))


# -- the entry point -------------------------------------------------------------------------------------
def assemble(layout: Layout, seed: int = 0, progress: Callable[[int, int], bool] | None = None,
             keep: Keep | None = None) -> Scene:
    """The playable scene of `layout` (module notes); `seed` draws the variants, sizes and turns of
    the objects and where trees stand. With `keep` (a redrawn map, `redraw.Redraw.keep`) the objects
    of the old scene outside the region stay and new ones are placed inside it only. Raises
    `Cancelled` when `progress` returns False."""
    w, s, e, n = layout.extent
    if not (20.0 <= e - w <= 4000.0 and 20.0 <= n - s <= 4000.0):
        raise ValueError(f"a scene is 20 m to 4 km on a side; this layout covers {e - w:.0f} m x {n - s:.0f} m")
    total = len(STAGES)

    def stage(k: int) -> None:
        if progress is not None and progress(k, total) is False:
            raise Cancelled("the scene was cancelled; nothing was made")

    stage(0)
    a = _Assembly(layout, seed, keep)
    stage(1)
    a.lay_water()
    stage(2)
    a.lay_roads()
    stage(3)
    a.place_buildings()
    a.keep_banks(spare=a.pads)
    stage(4)
    a.plant()
    stage(5)
    colors = a.paint()
    stage(6)
    water_parts = a.water_parts()
    heights = a.h.astype(np.float32)
    names = sorted({o[0] for o in a.objects}, key=lambda v: (_KIND_ORDER.get(v.split("/")[0], 9), v))
    lookup = {v: i for i, v in enumerate(names)}
    order = sorted(range(len(a.objects)), key=lambda i: _KIND_ORDER.get(a.objects[i][0].split("/")[0], 9))
    objs = [a.objects[i] for i in order]
    xy = np.array([[o[1], o[2]] for o in objs]).reshape(-1, 2)
    z = ground_height(heights, a.lat.extent, xy)
    objects = np.column_stack([xy, z, [o[3] for o in objs], [o[4] for o in objs]]).reshape(-1, 5)
    category = a.category.copy()
    category[a.road & ~a.water] = ROAD
    category[a.water] = WATER
    category[(category == WATER) & ~a.water] = GROUND
    category[(category == BUILDING)] = GROUND
    for x, y, _, dd, ww in a.footprints:
        rs, cs, d = a._window(np.array([x, y]), 0.5 * math.hypot(dd, ww))
        category[rs, cs][d <= 0.5 * math.hypot(dd, ww)] = BUILDING
    stage(total)
    return Scene(a.lat.extent, heights, colors, category, a.level.astype(np.float32), a.lake,
                 np.array(a.lake_levels, float), tuple(water_parts), tuple(a.road_parts),
                 tuple(asset(v) for v in names), objects, np.array([lookup[o[0]] for o in objs], np.int32),
                 np.array(a.footprints, float).reshape(-1, 5), tuple(a.rivers), tuple(a.road_lines), layout.style)

