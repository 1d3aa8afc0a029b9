"""Sketches of an object as a person draws it: a chosen view, the visible outline and part edges,
drawn by a human hand.

The view: azimuth all around the object but mostly three-quarter views of its front, some near
front, side and back views; elevation 5-45 degrees (most near 20; from 15 for mugs and vases,
whose opening a person shows); perspective with a vertical
field of view of 25-50 degrees, or orthographic (`ortho_share`); aimed at the centre of the
object's bounding box, at the distance (or orthographic height) that makes the object's
projection fill `fill` (50-85%) of the canvas's width or height, whichever it reaches first.

The lines: for every part, the edges of its mesh where the surface turns from facing the eye to
facing away (the silhouette), sharp creases (`crease_deg`, a table top's edges, a box's corners)
and open rims (a lamp shade's edges), chained into 3D polylines. Hidden parts are removed
against a depth render of the object (`modeling.render.render_context`, one mesh body per part)
by `synth.visibility.visible_runs`, so a chair's back legs disappear behind its seat. Pieces
that meet end to end are joined (a person draws a silhouette in one go, not facet by facet);
outline pieces (next to the background) are drawn first, then the inner part edges; the hand is
`synth.strokes.humanise` (overshoot, wobble, pen lifts at corners, double strokes). Stroke points
are kept to 0.01 px, pressure to 0.001 and time to 0.1 ms (the sketch file stays small).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import cKDTree

from sketchforge.modeling.bodies import MeshBody
from sketchforge.modeling.camera import Camera
from sketchforge.modeling.render import render_context
from sketchforge.modeling.sketch import Sketch, Stroke

from ..synth import raster
from ..synth.curves import Curve
from ..synth.strokes import StrokeStyle, SynthStroke, humanise
from ..synth.visibility import visible_runs
from .shapes import PointsObject

CANVASES: tuple[tuple[tuple[int, int], float], ...] = (
    ((256, 256), 0.7), ((384, 384), 0.08), ((512, 512), 0.07), ((320, 240), 0.05), ((256, 192), 0.04),
    ((384, 256), 0.03), ((240, 320), 0.03),
)
"""Canvas sizes (width, height) with their shares."""


@dataclass(frozen=True)
class DrawConfig:
    """The view prior and the drawing's thresholds (see the module docstring)."""

    fill: tuple[float, float] = (0.5, 0.85)
    fov_deg: tuple[float, float] = (25.0, 50.0)
    ortho_share: float = 0.15
    elevation_deg: tuple[float, float] = (5.0, 45.0)
    look_into: tuple[str, ...] = ("mug", "vase")
    """Open vessels a person draws from above their rim (elevation from `look_into_deg`), so the
    opening shows; from lower the rim is a straight line and a mug reads as a box."""
    look_into_deg: float = 15.0
    crease_deg: float = 35.0
    join_px: float = 2.0  # pieces whose ends are this close (and run on in the same direction) are joined
    min_run_px: float = 4.0  # at 256 px; shorter pieces are not drawn
    style: StrokeStyle = StrokeStyle(bow=0.005)
    """The hand; half the CAD strokes' bow, as an object's outline is often one long curve (a
    mug's side and bottom in one go), which a bow proportional to its length would shift whole."""


@dataclass
class Drawing:
    """A sketch with what it was made of: the view's depth render and the visible pieces drawn."""

    sketch: Sketch
    depth: np.ndarray  # (H, W) float32 depth along the view axis, inf on the background
    part_index: np.ndarray  # (H, W) int32 index into obj.parts seen at each pixel, -1 background
    runs: list[tuple[np.ndarray, str, int]]  # visible pieces: pixel polyline, "base" (outline) or "offset", curve
    strokes: list[SynthStroke]


def choose_canvas(rng: np.random.Generator) -> tuple[int, int]:
    sizes = [c for c, _ in CANVASES]
    w = np.array([p for _, p in CANVASES])
    return sizes[int(rng.choice(len(sizes), p=w / w.sum()))]


def relative_azimuth(rng: np.random.Generator) -> float:
    """Degrees from the front (0: looking at the front, 90: at the object's right side)."""
    side = float(rng.choice([-1.0, 1.0]))
    kind = rng.random()
    if kind < 0.45:
        return side * float(rng.uniform(25, 65))
    if kind < 0.57:
        return float(rng.uniform(-12, 12))
    if kind < 0.67:
        return side * float(rng.uniform(78, 102))
    if kind < 0.75:
        return side * float(rng.uniform(115, 160))
    return float(rng.uniform(-180, 180))


def object_vertices(obj: PointsObject) -> np.ndarray:
    return np.concatenate([p.mesh.vertices for p in obj.parts])


def choose_view(obj: PointsObject, rng: np.random.Generator, width: int, height: int,
                config: DrawConfig = DrawConfig()) -> Camera:
    """A camera from the prior aimed at the object's centre, framing it to the drawn fill."""
    lo, hi = obj.bounds()
    center = 0.5 * (lo + hi)
    radius = 0.5 * float(np.linalg.norm(hi - lo))
    az = math.radians(-90.0 + relative_azimuth(rng))
    lo_el, hi_el = config.elevation_deg
    if obj.category in config.look_into:
        lo_el = max(lo_el, config.look_into_deg)
    el = math.radians(lo_el + (hi_el - lo_el) * float(rng.beta(2.0, 2.4)))
    fill = float(rng.uniform(*config.fill))
    direction = np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    pts = object_vertices(obj)
    pts = pts[:: max(1, len(pts) // 3000)]
    if rng.random() < config.ortho_share:
        eye = center + 3.0 * radius * direction
        cam = Camera(tuple(eye), tuple(center), (0.0, 0.0, 1.0), "orthographic", height=2.0 * radius)
        share = _share(cam, pts, width, height)
        return Camera(tuple(eye), tuple(center), (0.0, 0.0, 1.0), "orthographic", height=2.0 * radius * share / fill)
    fov = float(rng.uniform(*config.fov_deg))

    def at(dist: float) -> Camera:
        return Camera(tuple(center + dist * direction), tuple(center), (0.0, 0.0, 1.0), "perspective", fov)

    near, far = 1.1 * radius, 1.1 * radius / math.tan(math.radians(fov) / 2) / config.fill[0] + radius
    for _ in range(20):  # the share falls as the eye moves back: bisect (in log distance) for the fill
        mid = math.sqrt(near * far)
        near, far = (mid, far) if _share(at(mid), pts, width, height) > fill else (near, mid)
    return at(math.sqrt(near * far))


def _share(cam: Camera, pts: np.ndarray, width: int, height: int) -> float:
    """The larger share of the canvas's width or height the points' projection spans."""
    uv = cam.project(pts, width, height)
    span = np.nanmax(uv, 0) - np.nanmin(uv, 0)
    return float(max(span[0] / width, span[1] / height))


def part_bodies(obj: PointsObject) -> dict[str, MeshBody]:
    """One mesh body per part (the render's face id of a pixel is then the part's index)."""
    return {f"{k}:{p.name}": MeshBody(p.mesh.vertices, p.mesh.faces) for k, p in enumerate(obj.parts)}


def feature_curves(obj: PointsObject, camera: Camera, crease_deg: float = 35.0) -> list[Curve]:
    """Silhouette, crease and rim polylines of every part as seen from `camera` (hidden ones
    included: `visible_runs` removes them)."""
    verts, faces, offset = [], [], 0
    for p in obj.parts:
        verts.append(p.mesh.vertices)
        faces.append(p.mesh.faces + offset)
        offset += len(p.mesh.vertices)
    v, f = np.concatenate(verts), np.concatenate(faces)
    tri = v[f]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area2 = np.linalg.norm(normal, axis=1)
    normal /= np.maximum(area2, 1e-12)[:, None]
    if camera.projection == "perspective":
        facing = np.einsum("ij,ij->i", normal, np.asarray(camera.eye) - tri.mean(1)) > 0
    else:
        facing = normal @ camera.basis()[2] < 0
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    owner = np.tile(np.arange(len(f)), 3)
    key = edges[:, 0] * (len(v) + 1) + edges[:, 1]
    order = np.argsort(key, kind="stable")
    key, edges, owner = key[order], edges[order], owner[order]
    first = np.r_[True, key[1:] != key[:-1]]
    start = np.nonzero(first)[0]
    count = np.diff(np.r_[start, len(key)])
    pair = start[count == 2]
    a, b = owner[pair], owner[pair + 1]
    cos = np.einsum("ij,ij->i", normal[a], normal[b])
    sil = facing[a] != facing[b]
    solid = (area2[a] > 1e-9) & (area2[b] > 1e-9)
    crease = (cos < math.cos(math.radians(crease_deg))) & (facing[a] | facing[b]) & solid
    chosen = np.concatenate([edges[pair[sil | crease]], edges[start[count == 1]]])
    return [Curve(v[c], "base", closed) for c, closed in chain_edges(chosen)]


def chain_edges(edges: np.ndarray) -> list[tuple[np.ndarray, bool]]:
    """Edges (E, 2) of vertex ids joined into vertex chains (ids, closed), broken where more or
    fewer than two edges meet."""
    adj: dict[int, list[int]] = {}
    for i, j in edges.tolist():
        adj.setdefault(i, []).append(j)
        adj.setdefault(j, []).append(i)
    used: set[tuple[int, int]] = set()
    out = []

    def walk(s: int, n: int) -> list[int]:
        chain = [s, n]
        used.add((min(s, n), max(s, n)))
        while len(adj[n]) == 2:
            nxt = [m for m in adj[n] if (min(n, m), max(n, m)) not in used]
            if not nxt:
                break
            used.add((min(n, nxt[0]), max(n, nxt[0])))
            n = nxt[0]
            chain.append(n)
        return chain

    for s in sorted(adj, key=lambda k: len(adj[k]) == 2):
        for n in adj[s]:
            if (min(s, n), max(s, n)) in used:
                continue
            chain = walk(s, n)
            closed = len(adj[s]) == 2 and chain[-1] == s
            out.append((np.asarray(chain[:-1] if closed else chain), closed))
    return out


def join_runs(runs: list[np.ndarray], tol: float, max_turn_deg: float = 60.0) -> list[np.ndarray]:
    """Polylines whose ends lie within `tol` px of each other and continue in a similar
    direction, joined into one."""
    runs = [r for r in runs if len(r) >= 2]
    changed = True
    while changed and len(runs) > 1:
        changed = False
        ends = np.array([r[0] for r in runs] + [r[-1] for r in runs])
        tree = cKDTree(ends)
        n = len(runs)
        for i, j in sorted(tree.query_pairs(tol), key=lambda p: float(np.linalg.norm(ends[p[0]] - ends[p[1]]))):
            a, b = i % n, j % n
            if a == b:
                continue
            ra = runs[a] if i >= n else runs[a][::-1]  # ra ends at the joint
            rb = runs[b] if j < n else runs[b][::-1]  # rb starts at the joint
            da, db = _direction(ra[::-1]), _direction(rb)
            if float(np.dot(-da, db)) < math.cos(math.radians(max_turn_deg)):
                continue
            joined = np.vstack([ra, rb[1:]])
            runs = [r for k, r in enumerate(runs) if k not in (a, b)] + [joined]
            changed = True
            break
    return runs


def _direction(poly: np.ndarray, reach: float = 6.0) -> np.ndarray:
    """Unit direction leaving the polyline's first point, over its first few pixels."""
    d = np.linalg.norm(np.diff(poly, axis=0), axis=1)
    k = int(np.searchsorted(np.cumsum(d), reach))
    v = poly[min(k + 1, len(poly) - 1)] - poly[0]
    return v / max(float(np.linalg.norm(v)), 1e-9)


def _smooth(poly: np.ndarray) -> np.ndarray:
    """A [1, 2, 1] average of inner points: the pixel stair of mesh facets, not the shape."""
    if len(poly) < 3:
        return poly
    out = poly.copy()
    out[1:-1] = 0.25 * poly[:-2] + 0.5 * poly[1:-1] + 0.25 * poly[2:]
    return out


def draw(obj: PointsObject, rng: np.random.Generator, prompt: str | None = None, config: DrawConfig = DrawConfig(),
         canvas: tuple[int, int] | None = None, camera: Camera | None = None) -> Drawing:
    """A person's sketch of `obj` in mode "points" with `prompt`, from a random view (or `camera`)."""
    width, height = canvas if canvas is not None else choose_canvas(rng)
    cam = camera if camera is not None else choose_view(obj, rng, width, height, config)
    renders = render_context(part_bodies(obj), cam, width, height, lines=False)
    curves = feature_curves(obj, cam, config.crease_deg)
    raw = visible_runs(curves, cam, width, height, renders.depth, step_px=1.0)
    scale = max(width, height) / 256.0
    pieces = join_runs([p for p, _, _ in raw], config.join_px * scale)
    near_bg = cv2.dilate((~renders.mask).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    runs = []
    for k, poly in enumerate(pieces):
        if _length(poly) < config.min_run_px * scale:
            continue
        px = np.clip(np.floor(poly).astype(int), 0, [width - 1, height - 1])
        role = "base" if near_bg[px[:, 1], px[:, 0]].mean() > 0.5 else "offset"
        runs.append((_smooth(poly), role, k))
    strokes = humanise(runs, rng, config.style)
    drawn = tuple(Stroke(_rounded(s.points)) for s in raster.to_sketch_strokes(strokes, rng))
    sketch = Sketch(cam, width, height, drawn, "points", prompt)
    return Drawing(sketch, renders.depth, renders.face_id, runs, strokes)


def _rounded(points: np.ndarray) -> np.ndarray:
    """Stroke points [u, v, pressure, t_ms] to 0.01 px, 0.001 and 0.1 ms."""
    scale = np.array([100.0, 100.0, 1000.0, 10.0])
    return np.round(points * scale) / scale + 0.0


def _length(poly: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(poly, axis=0), axis=1).sum()) if len(poly) > 1 else 0.0


def sketch_image(sketch: Sketch, thickness: float = 1.5) -> np.ndarray:
    """The sketch's strokes as ink (H, W) uint8 (255 ink), anti-aliased, `thickness` px."""
    img = np.zeros((sketch.height, sketch.width), np.uint8)
    lines = [np.round((s.uv - 0.5) * 16).astype(np.int32) for s in sketch.strokes if len(s.points) >= 2]
    if lines:
        cv2.polylines(img, lines, False, 255, max(1, int(round(thickness))), cv2.LINE_AA, 4)
    return img
