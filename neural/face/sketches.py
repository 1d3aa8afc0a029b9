"""The lines a person draws over a head's front view, and human-like sketches of them.

`head_curves` finds the exact curves of a procedural head (`heads.HeadParams`) in its front view
(`heads.front_maps`, the same framing); `head_sketch` draws them with the shared imperfect hand
(`synth.strokes.humanise`) and returns a sketch file (`Sketch`, mode "face") with its exact
ink and kind images, the training pair of the sketch-to-head back end.

What counts as what
    Everything is read off the front maps (depth, normals, mask), so it is exactly what the view
    shows; nothing relies on the primitives' layout.

    * contour, silhouette: the outline of the mask (head, ears, horns, neck), traced by OpenCV
      `findContours` (every outer outline and hole, the longest first); `FaceCurve.silhouette`
      marks these.
    * contour, feature: the lines a person outlines inside the face: occluding contours (the
      nearer pixel of a 4-neighbour pair whose depths differ by more than `JUMP_PX` pixel widths:
      a jump, not a slope, since the surface steeper than 76 degrees is nowhere but at folds)
      and creases (4-neighbour normals more than `CREASE_DEG` apart: a smooth surface turns by
      at most ~20 degrees a pixel at 256 px even on the 0.045-radius nose bridge, while the
      eyeball-in-socket rim, the line between the lips, the nostrils and the ear's inner edge
      turn by far more) where the normals `CREASE_SPAN_PX` pixels to either side also differ
      by that much (a step in orientation; a narrow groove such as a wrinkle turns back within
      a few pixels and is left to the valleys). The edge pixels within `SILHOUETTE_BAND_PX` of the background are left
      to the silhouette; the rest are closed by one pixel, thinned (scikit-image `skeletonize`)
      and traced into polylines.
    * ridge / valley: curvature lines of the surface seen from the front. The principal
      curvatures come from the normal map: n_x, n_y (smoothed by a Gaussian of `SMOOTH` head
      units, normalised inside the mask) differentiated over the image plane give the shape
      operator (exact where the surface faces the viewer, and a sphere of radius R gives 1/R
      both ways); its eigenvalues k1 >= k2 are the principal curvatures (head units^-1,
      positive convex). Ridge where k1 > `RIDGE_CURVATURE` and k1 >= -k2, valley where
      k2 < -`VALLEY_CURVATURE` and -k2 > k1. Both thresholds are 8 per head unit, a radius of
      curvature under 0.125 (about a sixteenth of the head's height): the cranium (R ~ 0.8),
      the jaw and the broad cheeks stay below it, while the nose bridge (R ~ 0.05), the brow
      ridge and lip edges (R ~ 0.03), the wrinkle grooves (R ~ 0.01-0.03), the blend fillets
      beside the nose (nasolabial folds) and the eye-socket creases exceed it. The regions are
      kept only where the surface faces the viewer (n_z > `MIN_NZ`, where the projection
      distorts little), at least `RIDGE_BAND_PX` from the background and `CONTOUR_GAP_PX` from
      the feature contours (a crease is an infinitely curved line and is drawn once, as a
      contour), then thinned and traced like the contours.

    Polylines shorter than `MIN_LENGTH_PX` (contours) or `MIN_CURVATURE_LENGTH_PX`
    (ridges / valleys) pixels at 256 px (scaled with the size) are dropped; the traced pixel
    chains are smoothed by two passes of a (1, 2, 1) / 4 filter (ends kept). Curves are a pure
    function of the parameters and the size.

Pixels and frames
    Curves are in sketch-file pixel coordinates (u right, v down, pixel centres at +0.5) on a
    size x size canvas. The front maps put pixel centres from x = -EXTENT to +EXTENT, while the
    sketch's orthographic camera shows exactly 2 * EXTENT across the canvas; map index (row,
    col) therefore goes to u = size / 2 + (col - (size - 1) / 2) * size / (size - 1) (and v
    from row alike): within half a pixel of col + 0.5, and exactly where the camera projects
    the point.

    World frame (sketch files: millimetres, Z up): world = (x, -z, y) * `HEAD_MM`
    (`head_to_world`), so the face looks towards -Y, the head's up is +Z and 1 head unit
    (half the crown-to-chin height) is 100 mm. `front_camera` is orthographic, its eye at
    Y = -CAMERA_Z * HEAD_MM on the -Y side looking at the origin, up +Z, height 2 * EXTENT *
    HEAD_MM; its depth of a point equals the front maps' depth times HEAD_MM.

Drawing (`head_sketch`)
    One `humanise` call with the shared `StrokeStyle` (overshoot, wobble, bow, tremor, speed,
    corner lifts, double strokes, pressure), silhouette first, then the feature contours, then
    the ridges and valleys (each block in random order): the style's `order_shuffle` and
    `skip_profile` are turned off, as nobody draws the wrinkles before the outline of the head.
    Sketch strokes carry kind "ridge" / "valley" for curvature strokes and no kind for
    contours; points are [u, v, pressure, t_ms] from `raster.to_sketch_strokes`. The `stroke`
    and `kinds` images are drawn by `raster.rasterise` (same pixels; the later stroke labels a
    crossing); `kinds` holds `KINDS` ids (0 none, 1 contour, 2 ridge, 3 valley).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.sketch import Sketch, Stroke

from ..synth.raster import ROLES, rasterise, to_sketch_strokes
from ..synth.strokes import StrokeStyle, SynthStroke, humanise
from .heads import CAMERA_Z, EXTENT, HeadParams, front_maps

__all__ = [
    "HEAD_MM",
    "KINDS",
    "MIN_SIZE",
    "FaceCurve",
    "FaceSketch",
    "head_to_world",
    "front_camera",
    "head_curves",
    "head_sketch",
]

HEAD_MM = 100.0          # millimetres per head unit
KINDS = {"contour": 1, "ridge": 2, "valley": 3}
MIN_SIZE = 32

# feature contours
JUMP_PX = 4.0            # depth jump (in pixel widths) that makes an occluding contour
CREASE_DEG = 30.0        # normal turn between 4-neighbours that makes a crease
CREASE_SPAN_PX = 3       # ... and between the pixels this far to either side
SILHOUETTE_BAND_PX = 2.5  # interior edges this near the background belong to the silhouette
# curvature lines
SMOOTH = 0.02            # Gaussian sigma on the normals, head units (1.3 px at 256)
RIDGE_CURVATURE = 8.0    # head units^-1
VALLEY_CURVATURE = 8.0
MIN_NZ = 0.35
RIDGE_BAND_PX = 4.0
CONTOUR_GAP_PX = 2.0
# fragments
MIN_LENGTH_PX = 4.0
MIN_CURVATURE_LENGTH_PX = 6.0

# `humanise` roles used for the drawing order (its blocks: base, profile, offset), and the
# `rasterise` roles whose ids give the kinds image.
_ORDER_ROLE = {"silhouette": "base", "contour": "profile", "ridge": "offset", "valley": "offset"}
_RASTER_ROLE = {"contour": "base", "ridge": "profile", "valley": "offset"}


@dataclass(frozen=True)
class FaceCurve:
    """One exact curve: pixel polyline (M, 2) (u, v), its kind (`KINDS`), whether it is a loop
    (then the last point repeats the first) and whether it is a silhouette outline."""

    points: np.ndarray
    kind: str
    closed: bool
    silhouette: bool = False


@dataclass(frozen=True)
class FaceSketch:
    """A humanised sketch of a head: the sketch file, its ink (255) and kind (`KINDS` ids)
    images (size x size uint8), the exact curves it draws and the synthetic strokes."""

    sketch: Sketch
    stroke: np.ndarray
    kinds: np.ndarray
    curves: tuple[FaceCurve, ...]
    strokes: tuple[SynthStroke, ...]


# -- frames ----------------------------------------------------------------------------------------
def head_to_world(points: np.ndarray) -> np.ndarray:
    """Head-frame points (N, 3) (x right, y up, z to the viewer) to world millimetres, Z up:
    (x, -z, y) * HEAD_MM."""
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"pass head-frame points as an (N, 3) array, got shape {p.shape}")
    return np.stack([p[:, 0], -p[:, 2], p[:, 1]], axis=1) * HEAD_MM


def front_camera() -> Camera:
    """The orthographic sketch camera of the front view (any canvas size: it is square)."""
    return Camera(eye=(0.0, -CAMERA_Z * HEAD_MM, 0.0), target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0),
                  projection="orthographic", height=2.0 * EXTENT * HEAD_MM)


def _to_canvas(rc: np.ndarray, size: int) -> np.ndarray:
    """Map indices (row, col) (M, 2) to canvas pixel coordinates (u, v)."""
    k = size / (size - 1)
    c = (size - 1) / 2.0
    return np.stack([size / 2.0 + (rc[:, 1] - c) * k, size / 2.0 + (rc[:, 0] - c) * k], axis=1)


# -- input -------------------------------------------------------------------------------------------
def _check(params: object, size: object) -> int:
    if not isinstance(params, HeadParams):
        raise ValueError(f"pass a HeadParams (from heads.sample_head), not {type(params).__name__}")
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < MIN_SIZE:
        raise ValueError(f"pass an integer canvas size of at least {MIN_SIZE} pixels, got {size!r}")
    return int(size)


# -- curves ------------------------------------------------------------------------------------------
def head_curves(params: HeadParams, size: int = 256) -> list[FaceCurve]:
    """The exact curves of the head's front view, silhouette first, then feature contours, ridges
    and valleys (see the module docstring); fresh arrays each call."""
    size = _check(params, size)
    return [dataclasses.replace(c, points=c.points.copy()) for c in _curves(params, size)]


@lru_cache(maxsize=16)
def _curves(params: HeadParams, size: int) -> tuple[FaceCurve, ...]:
    maps = front_maps(params, size)
    mask = maps["mask"]
    scale = size / 256.0
    out = _silhouette(mask, size, max(MIN_LENGTH_PX * scale, 3.0))
    interior = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    edges = _feature_edges(maps, size) & (interior > SILHOUETTE_BAND_PX)
    closed_edges = cv2.morphologyEx(edges.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) > 0
    closed_edges &= interior > SILHOUETTE_BAND_PX - 1.0
    out += _trace_kind(closed_edges, "contour", size, max(MIN_LENGTH_PX * scale, 3.0))
    ridge, valley = _curvature_regions(maps, size)
    near = cv2.dilate(edges.astype(np.uint8), _disk(CONTOUR_GAP_PX)) > 0
    keep = (interior > RIDGE_BAND_PX) & ~near
    min_len = max(MIN_CURVATURE_LENGTH_PX * scale, 3.0)
    out += _trace_kind(ridge & keep, "ridge", size, min_len)
    out += _trace_kind(valley & keep, "valley", size, min_len)
    for c in out:
        c.points.setflags(write=False)
    return tuple(out)


def _disk(r: float) -> np.ndarray:
    k = int(math.ceil(r))
    yy, xx = np.mgrid[-k:k + 1, -k:k + 1]
    return (xx * xx + yy * yy <= r * r + 1e-9).astype(np.uint8)


def _silhouette(mask: np.ndarray, size: int, min_len: float) -> list[FaceCurve]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    found = []
    for c in contours:
        xy = c.reshape(-1, 2).astype(np.float64)  # (col, row)
        if len(xy) < 3:
            continue
        rc = _smooth(xy[:, ::-1], closed=True)
        pts = _to_canvas(rc, size)
        pts = np.vstack([pts, pts[:1]])
        length = _length(pts)
        if length >= min_len:
            found.append((length, tuple(np.round(pts[0], 9)), pts))
    found.sort(key=lambda f: (-f[0], f[1]))
    return [FaceCurve(p, "contour", True, True) for _, _, p in found]


def _feature_edges(maps: dict[str, np.ndarray], size: int) -> np.ndarray:
    """Occluding-contour and crease pixels inside the mask."""
    mask = maps["mask"]
    depth = np.where(mask, maps["depth"].astype(np.float64), np.nan)
    normal = maps["normal"].astype(np.float64)
    px = 2.0 * EXTENT / (size - 1)
    cos_crease = math.cos(math.radians(CREASE_DEG))
    edges = np.zeros_like(mask)
    for axis in (0, 1):
        a = [slice(None), slice(None)]
        b = [slice(None), slice(None)]
        a[axis], b[axis] = slice(0, -1), slice(1, None)
        sa, sb = tuple(a), tuple(b)
        both = mask[sa] & mask[sb]
        da, db = depth[sa], depth[sb]
        with np.errstate(invalid="ignore"):
            jump = both & (np.abs(da - db) > JUMP_PX * px)
            crease = both & (np.sum(normal[sa] * normal[sb], axis=-1) < cos_crease)
        # a crease is a step in orientation: the normals CREASE_SPAN_PX to either side differ
        # too (a narrow groove, a wrinkle, turns back and is left to the valleys)
        k = CREASE_SPAN_PX
        step = np.zeros_like(mask)
        lo = [slice(None), slice(None)]
        hi = [slice(None), slice(None)]
        mid = [slice(None), slice(None)]
        lo[axis], mid[axis], hi[axis] = slice(0, -2 * k), slice(k, -k), slice(2 * k, None)
        lo_, mid_, hi_ = tuple(lo), tuple(mid), tuple(hi)
        step[mid_] = (mask[lo_] & mask[hi_] & (np.sum(normal[lo_] * normal[hi_], axis=-1) < cos_crease))
        crease_a, crease_b = crease & step[sa], crease & step[sb]
        edges[sa] |= (jump & (da < db)) | crease_a
        edges[sb] |= (jump & (db < da)) | crease_b
    return edges


def _curvature_regions(maps: dict[str, np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of strong convex (ridge) and concave (valley) principal curvature, where the
    surface faces the viewer."""
    mask = maps["mask"]
    normal = maps["normal"].astype(np.float64)
    px = 2.0 * EXTENT / (size - 1)
    sigma = max(SMOOTH / px, 0.5)
    m = mask.astype(np.float64)
    weight = cv2.GaussianBlur(m, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    safe = np.maximum(weight, 1e-6)
    nx = cv2.GaussianBlur(normal[..., 0] * m, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT) / safe
    ny = cv2.GaussianBlur(normal[..., 1] * m, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT) / safe
    # image axes: columns go +x, rows go -y
    dnx_dx = np.gradient(nx, axis=1) / px
    dnx_dy = -np.gradient(nx, axis=0) / px
    dny_dx = np.gradient(ny, axis=1) / px
    dny_dy = -np.gradient(ny, axis=0) / px
    a, d, b = dnx_dx, dny_dy, 0.5 * (dnx_dy + dny_dx)
    mean = 0.5 * (a + d)
    root = np.sqrt(0.25 * (a - d) ** 2 + b * b)
    k1, k2 = mean + root, mean - root
    valid = mask & (normal[..., 2] > MIN_NZ)
    ridge = valid & (k1 > RIDGE_CURVATURE) & (k1 >= -k2)
    valley = valid & (k2 < -VALLEY_CURVATURE) & (-k2 > k1)
    return ridge, valley


def _trace_kind(region: np.ndarray, kind: str, size: int, min_len: float) -> list[FaceCurve]:
    from skimage.morphology import skeletonize

    if not region.any():
        return []
    skel = skeletonize(region)
    out = []
    for rc, closed in _trace(skel):
        rc = _smooth(rc[:-1] if closed else rc, closed)
        pts = _to_canvas(rc, size)
        if closed:
            pts = np.vstack([pts, pts[:1]])
        if _length(pts) >= min_len:
            out.append(FaceCurve(pts, kind, closed))
    return out


_NEIGHBOURS = ((0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1))  # 4-neighbours first


def _trace(skel: np.ndarray) -> list[tuple[np.ndarray, bool]]:
    """Polylines (row, col) of a one-pixel-wide skeleton: chains between end / junction pixels,
    then the remaining loops (closed: the last point repeats the first). Deterministic: pixels
    are visited in raster order."""
    pixels = set(zip(*(int_arr.tolist() for int_arr in np.nonzero(skel))))

    def nbrs(p):
        return [(p[0] + dr, p[1] + dc) for dr, dc in _NEIGHBOURS if (p[0] + dr, p[1] + dc) in pixels]

    degree = {p: len(nbrs(p)) for p in pixels}
    nodes = sorted(p for p, k in degree.items() if k != 2)
    node_set = set(nodes)
    used_edges: set[tuple] = set()
    visited: set = set()
    out = []

    def walk(start, first):
        chain = [start, first]
        used_edges.add((start, first))
        used_edges.add((first, start))
        prev, cur = start, first
        while cur not in node_set:
            visited.add(cur)
            nxt = [q for q in nbrs(cur) if q != prev and q not in visited and (cur, q) not in used_edges
                   and not (q in node_set and q == start and len(chain) < 3)]
            if not nxt:
                break
            q = nxt[0]
            used_edges.add((cur, q))
            used_edges.add((q, cur))
            chain.append(q)
            prev, cur = cur, q
            if cur == start:
                break
        return chain

    for n in nodes:
        if degree[n] == 0:
            continue
        for q in nbrs(n):
            if (n, q) in used_edges or q in visited:
                continue
            chain = walk(n, q)
            out.append((np.asarray(chain, dtype=np.float64), False))
    for p in sorted(pixels):
        if p in visited or p in node_set:
            continue
        q = nbrs(p)[0]
        visited.add(p)
        chain = walk(p, q)
        if chain[-1] != p and p in nbrs(chain[-1]):
            chain.append(p)
        closed = len(chain) > 3 and chain[-1] == p
        out.append((np.asarray(chain, dtype=np.float64), closed))
    return out


def _smooth(pts: np.ndarray, closed: bool, passes: int = 2) -> np.ndarray:
    p = np.asarray(pts, dtype=np.float64)
    if len(p) < 3:
        return p.copy()
    for _ in range(passes):
        if closed:
            p = 0.25 * np.roll(p, 1, axis=0) + 0.5 * p + 0.25 * np.roll(p, -1, axis=0)
        else:
            q = p.copy()
            q[1:-1] = 0.25 * p[:-2] + 0.5 * p[1:-1] + 0.25 * p[2:]
            p = q
    return p


def _length(pts: np.ndarray) -> float:
    return float(np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=1))) if len(pts) > 1 else 0.0


# -- sketch ------------------------------------------------------------------------------------------
def head_sketch(params: HeadParams, rng: np.random.Generator, size: int = 256,
                style: StrokeStyle | None = None) -> FaceSketch:
    """A humanised front-view sketch of the head (see the module docstring), from `rng` only."""
    size = _check(params, size)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"pass a numpy.random.Generator (numpy.random.default_rng(seed)), not {type(rng).__name__}")
    if style is None:
        style = StrokeStyle()
    elif not isinstance(style, StrokeStyle):
        raise ValueError(f"pass a synth.strokes.StrokeStyle or None, not {type(style).__name__}")
    style = dataclasses.replace(style, order_shuffle=0.0, skip_profile=0.0)
    curves = head_curves(params, size)
    runs = [(c.points, _ORDER_ROLE["silhouette" if c.silhouette else c.kind], i) for i, c in enumerate(curves)]
    drawn = humanise(runs, rng, style)
    synth = [dataclasses.replace(s, role=_RASTER_ROLE[curves[s.curve].kind]) for s in drawn]
    stroke, roles = rasterise(synth, size, size)
    lut = np.zeros(256, np.uint8)
    for kind, role in _RASTER_ROLE.items():
        lut[ROLES[role]] = KINDS[kind]
    kinds = lut[roles]
    sketch_strokes = []
    for s, st in zip(synth, to_sketch_strokes(synth, rng)):
        kind = curves[s.curve].kind
        sketch_strokes.append(Stroke(st.points, None if kind == "contour" else kind))
    sketch = Sketch(camera=front_camera(), width=size, height=size, strokes=tuple(sketch_strokes), mode="face")
    return FaceSketch(sketch, stroke, kinds, tuple(curves), tuple(synth))
