"""A game scene as one body: a terrain heightfield, water and road meshes, and objects placed by
instancing one mesh per asset variant (the `scene` mode's result), with the operations that put one
in the document.

Units and axes: a scene's own arrays are in metres, x east, y north, z up, as it was assembled
(`neural.scene.assemble`); the document is in millimetres, so `mesh()`, `bounds()`, `nodes()`,
`meshes()` and `height_at()` speak millimetres (`MM_PER_M`).

The terrain is a lattice of heights (R + 1, C + 1) over the ground rectangle `extent` (west,
south, east, north): row 0 is the north edge, column 0 the west edge, so the lattice's corners are
the rectangle's corners. Each lattice square is two triangles split along its south-west to
north-east diagonal (`terrain_triangles`); `ground_height` reads exactly that surface, so an object
placed at `ground_height(x, y)` stands on the triangles a viewer or a game engine draws.

Objects are placements (x, y, z, yaw, scale) of variants: `variants` holds one mesh per variant
named `kind/variant` ("tree/conifer"), in metres, its foot at the origin and its front along +x;
yaw turns it anticlockwise about z. In exports every placement is a node named after its kind and
number ("tree_12") that shares its variant's mesh; terrain, water and road meshes are nodes named
"terrain", "water_0", "road_3", "road_bridge_0".
"""

from __future__ import annotations

import io
import math
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from .bodies import Body, Mesh
from .operations import KeepsSketch, _PutData

__all__ = ["CATEGORIES", "MM_PER_M", "PutScene", "SceneBody", "SceneNode", "ScenePart", "SketchScene",
           "ground_height", "read_scene_blob", "scene_blob", "terrain_triangles"]

MM_PER_M = 1000.0
CATEGORIES = ("terrain", "water", "road", "tree", "building", "rock", "bush")
"""What every node of an exported scene is named after (its name begins with one of these)."""
FORMAT = "sketchforge.scene/1"
MAX_LATTICE = 4097
"""The most lattice points a scene's terrain has along one side."""


# -- the terrain surface ---------------------------------------------------------------------------
def terrain_triangles(rows: int, cols: int) -> np.ndarray:
    """Triangles (2 * rows * cols, 3) of a lattice of (rows + 1) x (cols + 1) points numbered row by
    row from the north-west corner: each square split along its south-west to north-east diagonal,
    anticlockwise seen from above."""
    i, j = np.mgrid[0:rows, 0:cols]
    v00 = (i * (cols + 1) + j).ravel()
    v01, v10 = v00 + 1, v00 + cols + 1
    v11 = v10 + 1
    return np.concatenate([np.stack([v00, v10, v01], 1), np.stack([v01, v10, v11], 1)]).astype(np.int64)


def ground_height(heights: np.ndarray, extent: tuple[float, float, float, float], xy: np.ndarray) -> np.ndarray:
    """Height (N,) of the terrain's triangles under points (N, 2), in the units of `heights` and
    `extent`; points outside the rectangle read its border."""
    w, s, e, n = extent
    rows, cols = heights.shape[0] - 1, heights.shape[1] - 1
    p = np.asarray(xy, np.float64).reshape(-1, 2)
    r = np.clip((n - p[:, 1]) / (n - s) * rows, 0.0, rows)
    c = np.clip((p[:, 0] - w) / (e - w) * cols, 0.0, cols)
    i = np.minimum(np.floor(r).astype(np.int64), rows - 1)
    j = np.minimum(np.floor(c).astype(np.int64), cols - 1)
    fr, fc = r - i, c - j
    h = np.asarray(heights, np.float64)
    h00, h01, h10, h11 = h[i, j], h[i, j + 1], h[i + 1, j], h[i + 1, j + 1]
    first = fr + fc <= 1.0
    return np.where(first, h00 + fr * (h10 - h00) + fc * (h01 - h00),
                    h11 + (1.0 - fr) * (h01 - h11) + (1.0 - fc) * (h10 - h11))


# -- the body --------------------------------------------------------------------------------------
OBSTACLE_HEIGHTS_M = (0.3, 0.9, 1.5)
"""Heights above an object's foot where a walker meets it (`SceneBody.obstacles_m`)."""


def _section_radius(vertices: np.ndarray, triangles: np.ndarray) -> float:
    """The farthest (from the vertical axis through the foot) a mesh reaches at the heights of
    `OBSTACLE_HEIGHTS_M`: where its triangles' edges cross those planes. 0 where none do."""
    v = np.asarray(vertices, np.float64)
    t = np.asarray(triangles, np.int64).reshape(-1, 3)
    if not len(t):
        return 0.0
    edges = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
    a, b = v[edges[:, 0]], v[edges[:, 1]]
    best = 0.0
    for z in OBSTACLE_HEIGHTS_M:
        cross = (a[:, 2] - z) * (b[:, 2] - z) <= 0.0
        dz = b[cross, 2] - a[cross, 2]
        safe = np.where(np.abs(dz) > 1e-12, dz, 1.0)
        f = np.where(np.abs(dz) > 1e-12, (z - a[cross, 2]) / safe, 0.0)
        q = a[cross, :2] + f[:, None] * (b[cross, :2] - a[cross, :2])
        if len(q):
            best = max(best, float(np.hypot(q[:, 0], q[:, 1]).max()))
    return best


@dataclass(frozen=True, eq=False)
class ScenePart:
    """A named mesh of a scene in metres: vertices (N, 3) float32, triangles (M, 3) int32 and one
    RGBA color per vertex (N, 4) uint8."""

    name: str
    vertices: np.ndarray
    triangles: np.ndarray
    colors: np.ndarray

    def __post_init__(self) -> None:
        v = np.ascontiguousarray(self.vertices, np.float32).reshape(-1, 3)
        t = np.ascontiguousarray(self.triangles, np.int32).reshape(-1, 3)
        c = np.ascontiguousarray(self.colors, np.uint8)
        if c.ndim == 2 and c.shape[1] == 3:
            c = np.concatenate([c, np.full((len(c), 1), 255, np.uint8)], 1)
        if not self.name or not isinstance(self.name, str):
            raise ValueError("a scene part needs a name")
        if not np.isfinite(v).all():
            raise ValueError(f"scene part {self.name!r} holds NaN or infinite coordinates")
        if len(t) and (t.min() < 0 or t.max() >= len(v)):
            raise ValueError(f"scene part {self.name!r} has triangles referring to vertices that do not exist")
        if c.shape != (len(v), 4):
            raise ValueError(f"scene part {self.name!r} needs one RGBA color per vertex, got {c.shape}")
        object.__setattr__(self, "vertices", v)
        object.__setattr__(self, "triangles", t)
        object.__setattr__(self, "colors", c)

    @property
    def category(self) -> str:
        """What the part is: the name up to its first '/' or '_' ("tree/conifer" is a tree)."""
        return self.name.replace("/", "_").split("_")[0]


@dataclass(frozen=True)
class SceneNode:
    """One node of an exported scene: its name (beginning with its category), the key of the mesh
    it shows in `SceneBody.meshes()` and its placement (4, 4) in document millimetres."""

    name: str
    category: str
    mesh: str
    matrix: np.ndarray


def _empty_placements() -> np.ndarray:
    return np.zeros((0, 5))


def _empty_index() -> np.ndarray:
    return np.zeros(0, np.int32)


@dataclass(frozen=True, eq=False)
class SceneBody(Body):
    """A scene: the terrain lattice `heights` (R + 1, C + 1) m over `extent` (west, south, east,
    north) m with RGB `colors` per lattice point, the water and road meshes `parts` (in place), one
    mesh per asset variant, and the objects as `placements` (N, 5) x, y, z, yaw, scale (m, radians)
    of the variants `variant` (N,) indexes. See the module notes for units and names."""

    extent: tuple[float, float, float, float]
    heights: np.ndarray
    colors: np.ndarray
    parts: tuple[ScenePart, ...] = ()
    variants: tuple[ScenePart, ...] = ()
    placements: np.ndarray = field(default_factory=_empty_placements)
    variant: np.ndarray = field(default_factory=_empty_index)
    style: str = ""
    source: str = field(default="", compare=False)
    sketch: str = ""  # the key of the blob of the sketch it was drawn as ("" when not kept): a redrawn map reads it
    kind: str = field(default="scene", init=False)

    def __post_init__(self) -> None:
        ext = tuple(float(v) for v in self.extent)
        if len(ext) != 4 or not all(math.isfinite(v) for v in ext) or not (ext[2] > ext[0] and ext[3] > ext[1]):
            raise ValueError(f"a scene's extent is west, south, east, north with west < east and south < north, "
                             f"got {self.extent}")
        h = np.ascontiguousarray(self.heights, np.float32)
        if h.ndim != 2 or min(h.shape) < 2 or max(h.shape) > MAX_LATTICE:
            raise ValueError(f"a scene's terrain is a lattice of 2 to {MAX_LATTICE} points a side, got {h.shape}")
        if not np.isfinite(h).all():
            raise ValueError("the scene's terrain holds NaN or infinite heights")
        c = np.ascontiguousarray(self.colors, np.uint8)
        if c.shape != (*h.shape, 3):
            raise ValueError(f"the terrain needs one RGB color per lattice point {h.shape}, got {c.shape}")
        p = np.ascontiguousarray(self.placements, np.float64).reshape(-1, 5)
        k = np.ascontiguousarray(self.variant, np.int32).reshape(-1)
        if len(k) != len(p):
            raise ValueError(f"{len(p)} placements but {len(k)} variant numbers")
        if not np.isfinite(p).all() or (len(p) and (p[:, 4] <= 0).any()):
            raise ValueError("object placements must be finite with positive scales")
        if len(k) and (k.min() < 0 or k.max() >= len(self.variants)):
            raise ValueError(f"object variants must index the {len(self.variants)} variant meshes")
        names = [q.name for q in self.parts] + [q.name for q in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("scene parts and variants need distinct names")
        bad = [q.name for q in self.parts + self.variants if q.category not in CATEGORIES]
        if bad:
            raise ValueError(f"scene part names begin with one of {', '.join(CATEGORIES)}; got {', '.join(bad)}")
        object.__setattr__(self, "extent", ext)
        object.__setattr__(self, "heights", h)
        object.__setattr__(self, "colors", c)
        object.__setattr__(self, "placements", p)
        object.__setattr__(self, "variant", k)
        object.__setattr__(self, "parts", tuple(self.parts))
        object.__setattr__(self, "variants", tuple(self.variants))

    # -- reading --------------------------------------------------------------------------------
    @property
    def size_m(self) -> tuple[float, float]:
        """(east-west, north-south) extent in metres."""
        w, s, e, n = self.extent
        return (e - w, n - s)

    def kinds(self) -> np.ndarray:
        """The kind of every object (N,) ("tree", "building", ...)."""
        names = np.array([v.category for v in self.variants] or [""], dtype=np.str_)
        return names[self.variant] if len(self.variant) else np.zeros(0, np.str_)

    def counts(self) -> dict[str, int]:
        """How many objects of each kind stand in the scene."""
        kinds = self.kinds()
        return {k: int(np.count_nonzero(kinds == k)) for k in CATEGORIES[3:]}

    def ground_height_m(self, xy: np.ndarray) -> np.ndarray:
        """Terrain height (N,) in metres under points (N, 2) in metres."""
        return ground_height(self.heights, self.extent, xy)

    def height_at(self, xy: np.ndarray) -> np.ndarray:
        """Terrain height (N,) in document millimetres under document points (N, 2) mm (to walk on)."""
        return self.ground_height_m(np.asarray(xy, np.float64).reshape(-1, 2) / MM_PER_M) * MM_PER_M

    def obstacles_m(self) -> np.ndarray:
        """What a walker bumps into: one circle (N, 3) x, y, radius in metres per object, the widest
        cut through its variant between knee and eye height (`OBSTACLE_HEIGHTS_M`; a tree's trunk, not
        its crown; a house's walls), scaled; objects with nothing at those heights are left out."""
        radii = np.array([_section_radius(v.vertices, v.triangles) for v in self.variants] or [0.0])
        if not len(self.placements):
            return np.zeros((0, 3))
        p = self.placements
        r = radii[self.variant] * p[:, 4]
        keep = r > 0.0
        return np.column_stack([p[keep, 0], p[keep, 1], r[keep]])

    def terrain_vertices_m(self) -> np.ndarray:
        """The lattice points as vertices ((R + 1) * (C + 1), 3) in metres, row by row from the north-west."""
        w, s, e, n = self.extent
        rows, cols = self.heights.shape
        x = np.linspace(w, e, cols)
        y = np.linspace(n, s, rows)
        xx, yy = np.meshgrid(x, y)
        return np.stack([xx.ravel(), yy.ravel(), self.heights.ravel().astype(np.float64)], 1)

    def placement_matrices(self) -> np.ndarray:
        """The placements as matrices (N, 4, 4) in document millimetres (scale, then yaw about z, then
        the move to the object's foot)."""
        p = self.placements
        c, s, k = np.cos(p[:, 3]), np.sin(p[:, 3]), p[:, 4]
        m = np.zeros((len(p), 4, 4))
        m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c * k, -s * k, s * k, c * k
        m[:, 2, 2] = k
        m[:, :3, 3] = p[:, :3] * MM_PER_M
        m[:, 3, 3] = 1.0
        return m

    def meshes(self) -> dict[str, Mesh]:
        """Every mesh of the scene by key, in document millimetres: "terrain", the parts in place,
        and the variants about their own foot (placed by the nodes' matrices)."""
        out = {"terrain": self._terrain}
        for q in self.parts + self.variants:
            out[q.name] = Mesh(q.vertices.astype(np.float64) * MM_PER_M, q.triangles.astype(np.int64), None,
                               q.colors)
        return out

    def nodes(self) -> list[SceneNode]:
        """The nodes of an export: the terrain, each water and road part, and one node per object,
        numbered per kind in placement order ("tree_0", "tree_1", ..., "building_0", ...)."""
        eye = np.eye(4)
        out = [SceneNode("terrain", "terrain", "terrain", eye)]
        out += [SceneNode(q.name, q.category, q.name, eye) for q in self.parts]
        seen: dict[str, int] = {}
        for k, m in zip(self.variant.tolist(), self.placement_matrices()):
            v = self.variants[k]
            number = seen.get(v.category, 0)
            seen[v.category] = number + 1
            out.append(SceneNode(f"{v.category}_{number}", v.category, v.name, m))
        return out

    @cached_property
    def _terrain(self) -> Mesh:
        rows, cols = self.heights.shape
        return Mesh(self.terrain_vertices_m() * MM_PER_M, terrain_triangles(rows - 1, cols - 1), None,
                    np.concatenate([self.colors.reshape(-1, 3), np.full((rows * cols, 1), 255, np.uint8)], 1))

    @cached_property
    def _merged(self) -> Mesh:
        rows, cols_ = self.heights.shape
        terrain_rgba = np.concatenate([self.colors.reshape(-1, 3), np.full((rows * cols_, 1), 255, np.uint8)], 1)
        verts, tris = [self._terrain.vertices], [self._terrain.triangles]
        cols: list[np.ndarray] = [terrain_rgba]
        offset = len(verts[0])
        for q in self.parts:
            verts.append(q.vertices.astype(np.float64) * MM_PER_M)
            tris.append(q.triangles.astype(np.int64) + offset)
            cols.append(q.colors)
            offset += len(q.vertices)
        matrices = self.placement_matrices()
        for k, v in enumerate(self.variants):
            which = np.nonzero(self.variant == k)[0]
            if not len(which) or not len(v.triangles):
                continue
            m = matrices[which]
            local = v.vertices.astype(np.float64) * MM_PER_M
            placed = np.einsum("nij,vj->nvi", m[:, :3, :3], local) + m[:, None, :3, 3]
            verts.append(placed.reshape(-1, 3))
            n = len(local)
            tris.append((v.triangles[None].astype(np.int64) + offset + n * np.arange(len(which))[:, None, None])
                        .reshape(-1, 3))
            cols.append(np.tile(v.colors, (len(which), 1)))
            offset += n * len(which)
        return Mesh(np.concatenate(verts), np.concatenate(tris), None, np.concatenate(cols))

    def mesh(self) -> Mesh:
        """Everything merged into one colored mesh in document millimetres (for display)."""
        return self._merged

    def bounds(self) -> np.ndarray:
        v = self._merged.vertices
        return np.stack([v.min(0), v.max(0)])

    def triangle_count(self) -> int:
        """Triangles drawn: the terrain, the parts and every object's variant mesh."""
        per = np.array([len(v.triangles) for v in self.variants] or [0])
        placed = int(per[self.variant].sum()) if len(self.variant) else 0
        return int(self._terrain.triangles.shape[0] + sum(len(q.triangles) for q in self.parts) + placed)

    def draw_calls(self) -> int:
        """Draw calls with instancing: one for the terrain, one per part, one per variant in use."""
        return 1 + len(self.parts) + len(np.unique(self.variant))

    def summary(self) -> dict[str, Any]:
        counts = self.counts()
        return {"kind": self.kind, "size_m": [round(v, 2) for v in self.size_m], "trees": counts["tree"],
                "buildings": counts["building"], "rocks": counts["rock"], "bushes": counts["bush"],
                "triangles": self.triangle_count(), "draw_calls": self.draw_calls()}


# -- the data in the document ----------------------------------------------------------------------
def _pack(prefix: str, parts: tuple[ScenePart, ...], out: dict[str, np.ndarray]) -> None:
    out[f"{prefix}_names"] = np.array([q.name for q in parts], dtype=np.str_).reshape(-1)
    out[f"{prefix}_vstart"] = np.cumsum([0] + [len(q.vertices) for q in parts]).astype(np.int64)
    out[f"{prefix}_tstart"] = np.cumsum([0] + [len(q.triangles) for q in parts]).astype(np.int64)
    out[f"{prefix}_vertices"] = np.concatenate([q.vertices for q in parts] or [np.zeros((0, 3), np.float32)])
    out[f"{prefix}_triangles"] = np.concatenate([q.triangles for q in parts] or [np.zeros((0, 3), np.int32)])
    out[f"{prefix}_colors"] = np.concatenate([q.colors for q in parts] or [np.zeros((0, 4), np.uint8)])


def _unpack(prefix: str, z: Any) -> tuple[ScenePart, ...]:
    names = [str(n) for n in z[f"{prefix}_names"]]
    vs, ts = z[f"{prefix}_vstart"].astype(np.int64), z[f"{prefix}_tstart"].astype(np.int64)
    v, t, c = z[f"{prefix}_vertices"], z[f"{prefix}_triangles"], z[f"{prefix}_colors"]
    if (len(vs) != len(names) + 1 or len(ts) != len(names) + 1 or vs[0] != 0 or ts[0] != 0
            or (np.diff(vs) < 0).any() or (np.diff(ts) < 0).any() or vs[-1] != len(v) or ts[-1] != len(t)
            or len(c) != len(v)):
        raise ValueError(f"the {prefix} meshes are not laid out as their offsets say")
    if v.ndim != 2 or v.shape[1] != 3 or t.ndim != 2 or t.shape[1] != 3 or c.ndim != 2 or c.shape[1] != 4:
        raise ValueError(f"the {prefix} meshes have arrays of the wrong shape")
    return tuple(ScenePart(names[k], v[vs[k]:vs[k + 1]], t[ts[k]:ts[k + 1]], c[vs[k]:vs[k + 1]])
                 for k in range(len(names)))


def scene_blob(body: SceneBody) -> bytes:
    """The bytes `PutScene` reads: an uncompressed .npz of the scene's arrays (no pickle)."""
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT), "extent": np.asarray(body.extent, np.float64), "heights": body.heights,
        "colors": body.colors, "placements": body.placements, "variant": body.variant,
        "style": np.array(body.style, dtype=np.str_), "sketch": np.array(body.sketch, dtype=np.str_),
    }
    _pack("parts", body.parts, arrays)
    _pack("variants", body.variants, arrays)
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def read_scene_blob(data: bytes, source: str = "") -> SceneBody:
    """The scene of a `scene_blob`; ValueError saying what is wrong when it is not one."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"not a scene archive ({exc})") from None
    missing = [k for k in _KEYS if k not in arrays]
    if missing:
        raise ValueError(f"not a scene archive (it lacks {', '.join(missing)})")
    if str(arrays["format"]) != FORMAT:
        raise ValueError(f"a scene archive of format {str(arrays['format'])!r}; this Sketchforge reads {FORMAT!r}")
    extent = tuple(float(v) for v in np.asarray(arrays["extent"], np.float64).reshape(-1))
    return SceneBody(extent, arrays["heights"], arrays["colors"], _unpack("parts", arrays),  # type: ignore[arg-type]
                     _unpack("variants", arrays), arrays["placements"], arrays["variant"], str(arrays["style"]),
                     source=source, sketch=str(arrays.get("sketch", "")))  # older archives kept no sketch key


_KEYS = ("format", "extent", "heights", "colors", "placements", "variant", "style") + tuple(
    f"{p}_{k}" for p in ("parts", "variants") for k in ("names", "vstart", "tstart", "vertices", "triangles", "colors"))


@dataclass(frozen=True)
class PutScene(_PutData):
    """A game scene made by a back end: a `scene_blob` in the document (terrain, water, roads and
    objects), read without pickle."""

    id: ClassVar[str] = "put_scene"
    title: ClassVar[str] = "Scene"
    body_kind: ClassVar[str] = "scene"
    data_name: ClassVar[str] = "scene"

    def _read(self, data: bytes) -> Body:
        return read_scene_blob(data, self.source)

    def describe(self) -> str:
        return f"{self.source.capitalize()} scene {self.body}" + (" (redone)" if self.replace else "")


@dataclass(frozen=True)
class SketchScene(KeepsSketch, PutScene):
    """A scene drawn as a top-down sketch (the `scene` back end's result): its data as `PutScene`
    reads it, with what it holds (`trees`, `buildings`), the style word it was made in and
    `sketch`, the key of the blob holding the sketch file it was drawn as (empty when not kept)."""

    id: ClassVar[str] = "scene"
    title: ClassVar[str] = "Sketched scene"
    source: str = "scene"
    trees: int = 0
    buildings: int = 0
    style: str = ""
    sketch: str = ""
    remade: float = 1.0  # the share of the map made again (below 1: a redrawn region, the rest kept)

    def describe(self) -> str:
        what = f"Scene {self.body}: {self.trees} trees, {self.buildings} buildings"
        again = ""
        if self.replace:
            again = f" (redrawn: {self.remade:.0%} of the map remade)" if self.remade < 1.0 else " (again)"
        return what + (f' ("{self.style}")' if self.style else "") + again
