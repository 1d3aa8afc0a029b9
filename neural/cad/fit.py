"""Parameter fitting: from the networks' reading of a sketch to CAD operations with parameters.

The networks say which operation class a sketch shows, which face it attaches to (a heat map) and
the role of every stroke pixel (base, profile, offset). This module turns that into operations
the document can apply (research/sketch2cad.md, "Parameter fitting"; the curves a person draws
per operation are those of `neural.synth.curves`):

1. Strokes: each sketch stroke, scaled to the render size, is resampled and split into runs of
   one role by the role map at its points (a smoothed per-point vote), so a stroke drawn through
   from a base curve into a profile line still reads correctly.
2. Stitching face: the heat map is voted over the face-id render; the faces it covers best are
   the candidates.
3. Base curves are lifted onto the face plane (ray-plane intersection) and fitted there: a polygon
   (corners from the convex hull, sides by total least squares, near-rectangles snapped to right
   angles and to the face frame, near-regular 5/6-gons made regular) or a circle (algebraic fit).
4. Distance, sign, path: profile strokes start on the base curve; where their far end lies fixes
   a first estimate (closest point between the line along the direction of growth and the ray
   through the far end), and a search then minimises the image-space chamfer distance between the
   candidate's projected profile and offset curves and the profile / offset strokes (a grid, then
   a compass search; sweeps try straight and arc paths going out and in). Where the base is half
   hidden, the offset strokes carried back along the first path are fitted with it.
5. Bevel: the two base lines lie on the faces beside an edge; the edge is the one between the
   stitching faces nearest the strokes, and each set-back is the distance of the lifted line
   from the edge (chamfer; equal set-backs and a fillet as alternatives).
6. Every candidate is applied to the current state (failures are dropped) and scored by the class
   probability times a fit quality: its fitting cost, the image chamfer of all strokes against
   the projected edges of the result and the candidate's own curves, and a penalty for the part
   of those curves that would be visible over the result but that no stroke of its role draws.

Numpy in, numpy out; the document is never changed.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from sketchforge.modeling.bodies import SolidBody
from sketchforge.modeling.camera import Camera
from sketchforge.modeling.occ import curves as occ_curves
from sketchforge.modeling.occ.solids import face_normal_at
from sketchforge.modeling.operations import (AddPrism, ArcPath, Bevel, Circle, Extrude, LinePath, Operation,
                                             Polygon, SubtractPrism, Sweep)
from sketchforge.modeling.refs import EdgeRef, FaceRef, from_face_coords, plane_frame, to_face_coords
from sketchforge.modeling.render import ContextRenders, render_context
from sketchforge.modeling.session import Proposal
from sketchforge.modeling.sketch import Sketch

from ..labels import CLASS_NAMES
from ..synth.curves import Curve
from ..synth.visibility import visible_runs

log = logging.getLogger(__name__)

NONE, BASE, PROFILE, OFFSET = 0, 1, 2, 3
_ROLE_IDS = {"base": BASE, "profile": PROFILE, "offset": OFFSET}

REF_SIZE = 128.0  # render size the pixel tolerances below are given for; they scale with the render
TRUNC_PX = 6.0  # a stroke point further than this from a predicted curve counts as this far
SIGMA_PX = 2.0  # fit quality exp(-fit_px / SIGMA_PX)
MIN_CLASS_PROB = 0.05  # classes below this (and below a tenth of the best) are not fitted
# A proposal's score weighs the network's class probability raised to this power against how well
# the fitted operation draws the strokes: below 1 the geometry gets more say where the network is
# confidently wrong (a slanted sweep read as an add). Chosen on the validation set (seed 2).
CLASS_POWER = 0.5
MIN_FACE_HEAT = 0.3  # mean heat over a face's pixels for it to be a stitching candidate
MAX_FACES = 2  # stitching faces tried per class
MAX_APPLY = 10  # candidates applied per sketch (each is a kernel boolean)
MAX_STROKE_POINTS = 4096  # resampled points per stroke (a 10,000-point scribble stays cheap)
MAX_COST_POINTS = 240  # stroke points per role that image costs are computed on
ENDPOINT_WEIGHT = 8.0  # a profile stroke's far end counts as this many stroke points
EXTRA_CORNER_PX = 0.12  # residual (px) a polygon with one more corner must save to be preferred
FULL_BASE = 0.9  # share of a profile's outline drawn by base strokes above which it is not refitted
STRAIGHT_BONUS = 0.1  # px of cost a path straight along the normal is preferred by
TYPICAL_WEIGHT = 0.01  # px per unit of |log(distance / typical)|: settles only what strokes leave open
FILLET_PRIOR = 0.8  # a fillet and a chamfer draw the same set-back lines; chamfers are more common
EQUAL_PRIOR = 0.9  # equal set-backs when the measured ones differ
BEVEL_EDGES = 3  # edges tried for a bevel, best ranked first
COVER_PX = 3.0  # a visible predicted curve further than this from strokes of its role is not drawn
COVER_WEIGHT = 2.0  # px added to the fit distance when none of the visible predicted curves is drawn


# -- inputs -------------------------------------------------------------------------------------
@dataclass
class NetOutputs:
    """What the networks give for one sketch (or ground-truth labels, to test the fitting alone)."""

    class_probs: np.ndarray  # (4,) extrude, add/subtract, bevel, sweep
    stitch: np.ndarray  # (H, W) 0..1 heat map of the face the operation attaches to
    roles: np.ndarray  # (H, W) uint8 on stroke pixels: 0 none, 1 base, 2 profile, 3 offset

    def checked(self, height: int, width: int) -> "NetOutputs":
        """The outputs as float / uint8 arrays of the render size; ValueError naming what is wrong."""
        probs = np.asarray(self.class_probs, float).reshape(-1)
        if probs.shape != (4,) or not np.isfinite(probs).all() or (probs < 0).any() or probs.sum() <= 0:
            raise ValueError("class_probs must be four finite non-negative numbers with a positive sum "
                             f"(extrude, add/subtract, bevel, sweep); got {self.class_probs!r}")
        stitch = np.asarray(self.stitch, float)
        roles = np.asarray(self.roles)
        for name, a in (("stitch", stitch), ("roles", roles)):
            if a.shape != (height, width):
                raise ValueError(f"the {name} map is {a.shape} but the context renders are {(height, width)}; "
                                 "give the network outputs at the render size")
        if not np.isfinite(stitch).all():
            raise ValueError("the stitch heat map holds NaN or infinite values")
        if roles.size and (roles.min() < 0 or roles.max() > 3):
            raise ValueError("roles must be 0 (none), 1 (base), 2 (profile) or 3 (offset)")
        return NetOutputs(probs / probs.sum(), np.clip(stitch, 0.0, 1.0), roles.astype(np.uint8))


def rasterise_sketch(sketch: Sketch, width: int, height: int) -> np.ndarray:
    """The strokes as an (H, W) uint8 ink image at the render size (255 on ink), drawn the way the
    training data is (`neural.synth.raster`: 8-connected, sub-pixel end points, pixel centres at
    +0.5), with a pen of 1 px below 96 px renders and 2 px otherwise."""
    width, height = int(width), int(height)
    if width <= 0 or height <= 0:
        raise ValueError(f"the render size must be positive, got {width}x{height}")
    img = np.zeros((height, width), np.uint8)
    scale = np.array([width / sketch.width, height / sketch.height])
    thickness = 1 if min(width, height) < 96 else 2
    for s in sketch.strokes:
        pts = np.asarray(s.uv, float).reshape(-1, 2) * scale
        if not np.isfinite(pts).all():
            raise ValueError("a stroke holds NaN or infinite coordinates; the sketch cannot be drawn")
        if len(pts) == 0:
            continue
        if len(pts) == 1:
            pts = np.vstack([pts, pts])  # a dot
        pts = np.clip(pts, -4.0 * max(width, height), 5.0 * max(width, height))  # keep fixed-point in range
        fixed = np.round((pts - 0.5) * 16).astype(np.int32)
        cv2.polylines(img, [fixed], False, 255, thickness, cv2.LINE_8, 4)
    return img


# -- the camera, fast ---------------------------------------------------------------------------
class _View:
    """Projection and rays of the render's camera for arrays of any leading shape."""

    def __init__(self, camera: Camera, width: int, height: int) -> None:
        self.camera, self.w, self.h = camera, int(width), int(height)
        r, t, f = camera.basis()
        self.rot = np.stack([r, t, f])
        self.eye = np.asarray(camera.eye, float)
        self.forward = np.asarray(f, float)
        self.s = camera.scale(self.w, self.h)
        self.persp = camera.projection == "perspective"
        self.k = max(self.w, self.h) / REF_SIZE  # pixel tolerances scale with the render

    def project(self, p: np.ndarray) -> np.ndarray:
        """World points (..., 3) to pixels (..., 2); NaN behind a perspective eye."""
        q = (np.asarray(p, float) - self.eye) @ self.rot.T
        if self.persp:
            z = q[..., 2]
            z = np.where(z > 1e-9, z, np.nan)
            return np.stack([self.w / 2.0 + self.s * q[..., 0] / z, self.h / 2.0 - self.s * q[..., 1] / z], -1)
        return np.stack([self.w / 2.0 + self.s * q[..., 0], self.h / 2.0 - self.s * q[..., 1]], -1)

    def rays(self, uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.camera.rays(np.asarray(uv, float).reshape(-1, 2), self.w, self.h)

    def lift_plane(self, uv: np.ndarray, origin, normal) -> np.ndarray:
        """Pixels (N, 2) onto the plane through `origin` with `normal`; NaN rows where the ray
        misses it (parallel, or the plane is behind the eye)."""
        o, d = self.rays(uv)
        n = np.asarray(normal, float)
        den = d @ n
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((np.asarray(origin, float) - o) @ n) / den
        ok = np.abs(den) > 1e-9
        if self.persp:
            ok &= t > 0
        p = o + t[:, None] * d
        p[~ok] = np.nan
        return p

    def lift_depth(self, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Pixels (N, 2) onto the rendered surface, by the depth render at their pixels."""
        uv = np.asarray(uv, float).reshape(-1, 2)
        iu = np.clip(np.floor(uv[:, 0]).astype(int), 0, self.w - 1)
        iv = np.clip(np.floor(uv[:, 1]).astype(int), 0, self.h - 1)
        z = depth[iv, iu].astype(float)
        o, d = self.rays(uv)
        cos = d @ self.forward
        with np.errstate(invalid="ignore"):
            p = o + (z / cos)[:, None] * d if self.persp else o + z[:, None] * d
        p[~np.isfinite(z)] = np.nan
        return p


# -- 2D distances -------------------------------------------------------------------------------
def _segments(polys: list[np.ndarray], closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points (M, D) of the segments of polylines (N_i, D)."""
    a, b = [], []
    for p in polys:
        if len(p) < 2:
            if len(p) == 1:
                a.append(p)
                b.append(p)
            continue
        if closed:
            a.append(p)
            b.append(np.roll(p, -1, axis=0))
        else:
            a.append(p[:-1])
            b.append(p[1:])
    if not a:
        d = polys[0].shape[-1] if polys else 2
        return np.zeros((0, d)), np.zeros((0, d))
    return np.concatenate(a), np.concatenate(b)


def _seg_dist(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from points p (N, D) to the nearest segment a -> b (..., M, D): (..., N).

    Segments with NaN ends (behind the eye) are ignored; no segment at all gives inf. Image-plane
    distances (D = 2, the fitting's inner loop) are computed per coordinate in float32, which is
    several times faster than the general form and exact enough for pixels."""
    if a.shape[-2] == 0:
        return np.full(a.shape[:-2] + (len(p),), np.inf)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        a = np.nan_to_num(a, nan=1e9, posinf=1e9, neginf=-1e9)
        b = np.nan_to_num(b, nan=1e9, posinf=1e9, neginf=-1e9)
    if p.shape[-1] == 2:
        f32 = np.float32
        px, py = p[:, 0].astype(f32)[:, None], p[:, 1].astype(f32)[:, None]  # (N, 1)
        ax, ay = a[..., 0].astype(f32)[..., None, :], a[..., 1].astype(f32)[..., None, :]  # (..., 1, M)
        abx, aby = b[..., 0].astype(f32)[..., None, :] - ax, b[..., 1].astype(f32)[..., None, :] - ay
        inv = 1.0 / np.maximum(abx * abx + aby * aby, f32(1e-18))
        dx, dy = px - ax, py - ay  # (..., N, M)
        t = (dx * abx + dy * aby) * inv
        np.clip(t, 0.0, 1.0, out=t)
        dx -= t * abx
        dy -= t * aby
        dx *= dx
        dy *= dy
        dx += dy
        return np.sqrt(dx.min(-1)).astype(float)
    if a.size * len(p) > 20_000:
        p, a, b = p.astype(np.float32), a.astype(np.float32), b.astype(np.float32)
    ab = b - a
    den = np.maximum(np.einsum("...md,...md->...m", ab, ab), 1e-18)  # (..., M)
    ap = p[..., :, None, :] - a[..., None, :, :]  # (..., N, M, D)
    t = np.einsum("...nmd,...md->...nm", ap, ab) / den[..., None, :]
    np.clip(t, 0.0, 1.0, out=t)
    d = ap - t[..., None] * ab[..., None, :, :]
    return np.sqrt(np.einsum("...nmd,...nmd->...nm", d, d).min(-1)).astype(float)


def _closest_on_segments(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For points p (N, D): the closest point on segments a -> b (M, D) and that segment's index."""
    ab = b - a
    den = np.maximum((ab * ab).sum(-1), 1e-18)
    ap = p[:, None, :] - a[None]
    t = np.clip((ap * ab[None]).sum(-1) / den[None], 0.0, 1.0)
    q = a[None] + t[..., None] * ab[None]
    d = ((p[:, None, :] - q) ** 2).sum(-1)
    k = np.argmin(d, axis=1)
    return q[np.arange(len(p)), k], k


def _robust(d: np.ndarray, trunc: float) -> np.ndarray:
    return np.minimum(np.nan_to_num(d, nan=trunc, posinf=trunc), trunc)


# -- strokes ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Run:
    """A piece of a stroke with one role, in render pixels, resampled about 1 px apart."""

    uv: np.ndarray  # (N, 2)
    role: int

    @property
    def length(self) -> float:
        return float(np.linalg.norm(np.diff(self.uv, axis=0), axis=1).sum()) if len(self.uv) > 1 else 0.0


def _resample(uv: np.ndarray, step: float) -> np.ndarray:
    """A polyline resampled at about `step` px by arc length (at most MAX_STROKE_POINTS points);
    non-finite points are dropped."""
    uv = uv[np.isfinite(uv).all(axis=1)]
    if len(uv) < 2:
        return uv
    seg = np.linalg.norm(np.diff(uv, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= 1e-9:
        return uv[:1]
    n = int(min(MAX_STROKE_POINTS, max(2, math.ceil(s[-1] / step) + 1)))
    t = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(t, s, uv[:, 0]), np.interp(t, s, uv[:, 1])], axis=1)


def _thin(p: np.ndarray, n: int) -> np.ndarray:
    """At most `n` of the points, evenly spread over the array."""
    if len(p) <= n:
        return p
    return p[np.linspace(0, len(p) - 1, n).round().astype(int)]


def _role_votes(roles: np.ndarray) -> np.ndarray:
    """(3, H, W) counts of each role in the 3x3 neighbourhood (centre counted twice)."""
    out = []
    for r in (BASE, PROFILE, OFFSET):
        m = (roles == r).astype(np.float32)
        out.append(cv2.boxFilter(m, -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT) + m)
    return np.stack(out)


def _stroke_runs(sketch: Sketch, roles: np.ndarray, width: int, height: int) -> list[_Run]:
    """The sketch's strokes in render pixels, split into runs of one role by the role map."""
    scale = np.array([width / sketch.width, height / sketch.height])
    return polyline_runs([np.asarray(s.uv, float).reshape(-1, 2) * scale for s in sketch.strokes], roles)


def polyline_runs(strokes: list[np.ndarray], roles: np.ndarray) -> list[_Run]:
    """Strokes (N, 2) in the pixels of the (H, W) role map, split into runs of one role by it."""
    votes = _role_votes(roles)
    height, width = roles.shape
    k = max(width, height) / REF_SIZE
    runs: list[_Run] = []
    for uv in strokes:
        if not np.isfinite(uv).all():
            raise ValueError("a stroke holds NaN or infinite coordinates; the sketch cannot be interpreted")
        uv = _resample(uv, 1.0 * k)
        if len(uv) < 2:
            continue
        iu, iv = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)
        inside = (iu >= 0) & (iu < width) & (iv >= 0) & (iv < height)
        v = np.zeros((len(uv), 3), np.float32)
        v[inside] = votes[:, iv[inside], iu[inside]].T
        # a sliding vote over ~9 px smooths single mislabelled pixels and crossings
        sm = _moving_sum(v, max(1, int(round(4 * k))))
        label = np.where(sm.max(axis=1) > 0, sm.argmax(axis=1) + 1, NONE)
        runs.extend(_split_runs(uv, label, max(6.0 * k, 0.0)))
    return [r for r in runs if r.role != NONE and len(r.uv) >= 2]


def _moving_sum(v: np.ndarray, half: int) -> np.ndarray:
    """Sums of rows i - half .. i + half (clipped at the ends) of v (N, C)."""
    c = np.vstack([np.zeros((1, v.shape[1]), v.dtype), np.cumsum(v, axis=0)])
    i = np.arange(len(v))
    return c[np.minimum(i + half + 1, len(v))] - c[np.maximum(i - half, 0)]


def _split_runs(uv: np.ndarray, label: np.ndarray, min_len: float) -> list[_Run]:
    """Consecutive points with one label as runs; runs shorter than `min_len` px join a neighbour."""
    cuts = np.nonzero(np.diff(label))[0] + 1
    bounds = [0, *cuts.tolist(), len(label)]
    pieces = [[a, b, int(label[a])] for a, b in zip(bounds[:-1], bounds[1:])]
    seg = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(uv, axis=0), axis=1))])

    def length(p):
        return seg[min(p[1], len(seg)) - 1] - seg[p[0]]

    changed = True
    while changed and len(pieces) > 1:
        changed = False
        k = min(range(len(pieces)), key=lambda i: length(pieces[i]))
        if length(pieces[k]) < min_len:
            nb = [j for j in (k - 1, k + 1) if 0 <= j < len(pieces)]
            j = max(nb, key=lambda i: length(pieces[i]))
            pieces[j] = [min(pieces[j][0], pieces[k][0]), max(pieces[j][1], pieces[k][1]), pieces[j][2]]
            del pieces[k]
            merged = [pieces[0]]
            for p in pieces[1:]:
                if p[2] == merged[-1][2]:
                    merged[-1] = [merged[-1][0], p[1], p[2]]
                else:
                    merged.append(p)
            pieces = merged
            changed = True
    return [_Run(uv[a:b], r) for a, b, r in pieces if b - a >= 2]


# -- the shared state of one fit ----------------------------------------------------------------
@dataclass
class _Candidate:
    """An operation to try, the image cost of its curves against the strokes, and the curves a
    person would draw for it (as `neural.synth.curves` draws them) for scoring."""

    op: Operation
    cls: int
    cost_px: float
    face_conf: float
    drawing: list[Curve] = field(default_factory=list)
    target: str = ""  # the face or edge it works on, for the proposal list
    prior: float = 1.0


class _Fit:
    """Everything the fitting of one sketch shares."""

    def __init__(self, session, body: str, context: ContextRenders, runs: list[_Run],
                 outputs: NetOutputs) -> None:
        self.state = session.document.state
        self.body_id = body
        self.body: SolidBody = self.state.solid(body)
        self.context = context
        self.view = _View(context.camera, context.width, context.height)
        self.runs = runs
        self.outputs = outputs
        self.diag = max(self.body.diagonal(), 1e-6)
        self.trunc = TRUNC_PX * self.view.k
        self.by_role = {r: [x for x in runs if x.role == r] for r in (BASE, PROFILE, OFFSET)}
        self.points = {r: _thin(np.concatenate([x.uv for x in v]) if v else np.zeros((0, 2)), MAX_COST_POINTS)
                       for r, v in self.by_role.items()}
        self.all_points = _thin(np.concatenate([x.uv for x in runs]), 2 * MAX_COST_POINTS) if runs \
            else np.zeros((0, 2))
        self.faces = self._stitch_faces()
        self._role_dt: dict[int, np.ndarray] = {}

    def role_distance(self, role: int) -> np.ndarray:
        """Per pixel, the distance (px) to the nearest stroke pixel of `role` (inf when none)."""
        if role not in self._role_dt:
            mask = self.outputs.roles == role
            if mask.any():
                self._role_dt[role] = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
            else:
                self._role_dt[role] = np.full(mask.shape, np.inf, np.float32)
        return self._role_dt[role]

    # -- stitching faces ------------------------------------------------------------------------
    def _stitch_faces(self) -> list[tuple[int, float]]:
        """(face index, mean heat) of the body's faces the heat map covers best."""
        ids = self.context.face_id
        heat = self.outputs.stitch
        on = ids >= 0
        if not on.any():
            return []
        n = len(self.context.faces)
        count = np.bincount(ids[on], minlength=n).astype(float)
        total = np.bincount(ids[on], weights=heat[on], minlength=n)
        mean = np.divide(total, count, out=np.zeros(n), where=count > 0)
        order = np.argsort(-(total * mean))
        out = []
        for g in order:
            body, idx = self.context.faces[g]
            if body != self.body_id or idx < 0 or mean[g] < MIN_FACE_HEAT or total[g] <= 0:
                continue
            out.append((int(idx), float(mean[g])))
        if not out and len(self.points[BASE]):  # fall back on the faces under the base strokes
            out = self._faces_under(self.points[BASE], 0.3)
        return out

    def _faces_under(self, uv: np.ndarray, conf: float) -> list[tuple[int, float]]:
        g = self.face_ids_at(uv)
        g = g[g >= 0]
        if not len(g):
            return []
        vals, counts = np.unique(g, return_counts=True)
        out = []
        for v, c in sorted(zip(vals, counts), key=lambda x: -x[1]):
            body, idx = self.context.faces[v]
            if body == self.body_id and idx >= 0:
                out.append((int(idx), conf * float(c) / len(g)))
        return out

    def face_ids_at(self, uv: np.ndarray) -> np.ndarray:
        iu = np.clip(np.floor(uv[:, 0]).astype(int), 0, self.view.w - 1)
        iv = np.clip(np.floor(uv[:, 1]).astype(int), 0, self.view.h - 1)
        return self.context.face_id[iv, iu]

    def planar_faces(self) -> list[tuple[int, float]]:
        return [(i, c) for i, c in self.faces if self.body.faces[i].planar][:MAX_FACES]

    # -- image costs ----------------------------------------------------------------------------
    def chamfer(self, pts: np.ndarray, polys: list[np.ndarray], closed: bool) -> np.ndarray:
        a, b = _segments(polys, closed)
        return _robust(_seg_dist(pts, a, b), self.trunc)


# -- polygons and circles in a face's plane ---------------------------------------------------------
def _hull(p: np.ndarray) -> np.ndarray:
    """The convex hull of 2D points, counter-clockwise from the lowest-x (then lowest-y) point, as
    the monotone chain gives it (OpenCV finds it; the corners are the input's own points)."""
    pts = np.unique(p, axis=0)
    if len(pts) < 3:
        return pts
    idx = cv2.convexHull(pts.astype(np.float32), clockwise=False, returnPoints=False)[:, 0]
    hull = pts[idx]
    return np.roll(hull, -int(np.lexsort((hull[:, 1], hull[:, 0]))[0]), axis=0)


def _area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _reduce(poly: np.ndarray, k: int) -> np.ndarray:
    """Drop the corners of a convex polygon that cost the least area until `k` are left."""
    poly = poly.copy()
    while len(poly) > k:
        prev, nxt = np.roll(poly, 1, axis=0), np.roll(poly, -1, axis=0)
        tri = 0.5 * np.abs((poly[:, 0] - prev[:, 0]) * (nxt[:, 1] - prev[:, 1])
                           - (nxt[:, 0] - prev[:, 0]) * (poly[:, 1] - prev[:, 1]))
        poly = np.delete(poly, int(np.argmin(tri)), axis=0)
    return poly


def _line_fit(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Total least squares line: a point on it and its unit direction (the principal axis of the
    points' 2x2 scatter, in closed form)."""
    c = p.mean(axis=0)
    d = p - c
    sxx, syy, sxy = float(d[:, 0] @ d[:, 0]), float(d[:, 1] @ d[:, 1]), float(d[:, 0] @ d[:, 1])
    theta = 0.5 * math.atan2(2.0 * sxy, sxx - syy)
    return c, np.array([math.cos(theta), math.sin(theta)])


def _intersect(c1, d1, c2, d2) -> np.ndarray | None:
    m = np.array([[d1[0], -d2[0]], [d1[1], -d2[1]]])
    if abs(np.linalg.det(m)) < 1e-6:
        return None
    t = np.linalg.solve(m, c2 - c1)
    return c1 + t[0] * d1


def _fit_polygon(p: np.ndarray, k: int, iterations: int = 5, hull: np.ndarray | None = None) -> np.ndarray | None:
    """A convex k-gon through 2D points drawn along its sides (overshoot at corners allowed);
    `hull` is their convex hull where the caller has it already."""
    hull = _hull(p) if hull is None else hull
    if len(hull) < k:
        return None
    poly = _reduce(hull, k)
    for _ in range(iterations):
        a, b = poly, np.roll(poly, -1, axis=0)
        _, side = _closest_on_segments(p, a, b)
        lines = []
        for i in range(k):
            q = p[side == i]
            ab = b[i] - a[i]
            ln = float(np.linalg.norm(ab))
            if ln > 1e-12 and len(q) >= 3:
                t = (q - a[i]) @ ab / ln ** 2
                inner = q[(t > 0.12) & (t < 0.88)]
                q = inner if len(inner) >= 3 else q
            if len(q) >= 2 and np.ptp(q, axis=0).max() > 1e-9:
                lines.append(_line_fit(q))
            else:
                lines.append((0.5 * (a[i] + b[i]), ab / max(ln, 1e-12)))
        new = []
        for i in range(k):
            x = _intersect(*lines[i - 1], *lines[i])
            new.append(poly[i] if x is None else x)
        new = np.array(new)
        if not np.isfinite(new).all() or _area(new) <= 0 or not _convex(new):
            break
        poly = new
    return poly


def _convex(poly: np.ndarray) -> bool:
    d1 = np.roll(poly, -1, axis=0) - poly
    d2 = np.roll(d1, -1, axis=0)
    cross = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    return bool((cross > 0).all())


def _snap_polygon(poly: np.ndarray, p: np.ndarray, axes: list[float]) -> np.ndarray:
    """Near-rectangles to rectangles (aligned with a face direction when close to one), and
    near-regular pentagons and hexagons to regular ones."""
    k = len(poly)
    d = np.roll(poly, -1, axis=0) - poly
    ln = np.linalg.norm(d, axis=1)
    ang = np.degrees(np.arctan2(d[:, 1], d[:, 0]))
    turn = (np.diff(np.concatenate([ang, ang[:1]])) + 180.0) % 360.0 - 180.0
    if k == 4 and np.all(np.abs(np.abs(turn) - 90.0) < 12.0):
        w = np.concatenate([ln, ln])
        a4 = np.radians(np.concatenate([ang, ang]) * 4.0)
        theta = math.degrees(math.atan2((w * np.sin(a4)).sum(), (w * np.cos(a4)).sum())) / 4.0
        for ax in axes:
            if abs(((theta - ax) + 45.0) % 90.0 - 45.0) < 6.0:
                theta = ax
                break
        c, s = math.cos(math.radians(theta)), math.sin(math.radians(theta))
        rot = np.array([[c, s], [-s, c]])  # world -> rectangle frame
        q = poly @ rot.T
        lo, hi = q.min(axis=0), q.max(axis=0)
        # the sides: medians of the points nearest each side of the first guess
        pq = p @ rot.T
        xs = [lo[0], hi[0]]
        ys = [lo[1], hi[1]]
        dx = np.minimum(np.abs(pq[:, 0] - lo[0]), np.abs(pq[:, 0] - hi[0]))
        dy = np.minimum(np.abs(pq[:, 1] - lo[1]), np.abs(pq[:, 1] - hi[1]))
        on_x = dx < dy
        for j, edge in enumerate((lo[0], hi[0])):
            sel = on_x & (np.abs(pq[:, 0] - edge) == dx) & (pq[:, 1] > lo[1]) & (pq[:, 1] < hi[1])
            if sel.sum() >= 3:
                xs[j] = float(np.median(pq[sel, 0]))
        for j, edge in enumerate((lo[1], hi[1])):
            sel = ~on_x & (np.abs(pq[:, 1] - edge) == dy) & (pq[:, 0] > lo[0]) & (pq[:, 0] < hi[0])
            if sel.sum() >= 3:
                ys[j] = float(np.median(pq[sel, 1]))
        rect = np.array([[xs[0], ys[0]], [xs[1], ys[0]], [xs[1], ys[1]], [xs[0], ys[1]]])
        if xs[1] - xs[0] > 0 and ys[1] - ys[0] > 0:
            return rect @ rot
        return poly
    if k in (5, 6):
        c = poly.mean(axis=0)
        r = np.linalg.norm(poly - c, axis=1)
        inner = 180.0 - 360.0 / k
        if r.std() < 0.12 * r.mean() and np.all(np.abs(180.0 - np.abs(turn) - inner) < 15.0):
            phi = np.arctan2(poly[:, 1] - c[1], poly[:, 0] - c[0])
            base = phi - 2 * math.pi * np.arange(k) / k
            phase = math.atan2(np.sin(k * base).sum(), np.cos(k * base).sum()) / k
            # pick the branch of the phase nearest the first corner
            cands = phase + 2 * math.pi * np.arange(k) / k
            phase = cands[np.argmin(np.abs(np.angle(np.exp(1j * (cands - phi[0])))))]
            a = phase + 2 * math.pi * np.arange(k) / k
            return c + r.mean() * np.stack([np.cos(a), np.sin(a)], axis=1)
    return poly


def _fit_circle(p: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Algebraic (Kasa) circle fit followed by a few geometric Gauss-Newton steps."""
    if len(p) < 3:
        return None
    a = np.column_stack([p, np.ones(len(p))])
    b = -(p ** 2).sum(axis=1)
    try:
        sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    except np.linalg.LinAlgError:
        return None
    c = -0.5 * sol[:2]
    r2 = float(c @ c - sol[2])
    if not np.isfinite(r2) or r2 <= 0:
        return None
    r = math.sqrt(r2)
    for _ in range(5):
        d = p - c
        dist = np.linalg.norm(d, axis=1)
        ok = dist > 1e-12
        if ok.sum() < 3:
            break
        u = d[ok] / dist[ok, None]
        jac = np.column_stack([-u, -np.ones(ok.sum())])
        res = dist[ok] - r
        try:
            step, *_ = np.linalg.lstsq(jac, -res, rcond=None)
        except np.linalg.LinAlgError:
            break
        c = c + step[:2]
        r = r + step[2]
        if np.abs(step).max() < 1e-9 * max(r, 1.0):
            break
    if not (np.isfinite(c).all() and np.isfinite(r) and r > 0):
        return None
    return c, float(r)


@dataclass
class _Profile:
    """A closed curve fitted on a face: a polygon or a circle, in face coordinates and in 3D."""

    kind: str  # "polygon" | "circle"
    uv: np.ndarray  # polygon corners (K, 2), or circle samples
    world: np.ndarray  # (K, 3) closed polyline (first point not repeated)
    corners: np.ndarray  # (C, 3) where profile lines may start (polygon corners; circle samples)
    residual_px: float
    center: np.ndarray | None = None  # circle centre (2,) in face coordinates
    radius: float = 0.0

    def op_profile(self):
        if self.kind == "circle":
            return Circle((round(float(self.center[0]), 4), round(float(self.center[1]), 4)),
                          round(float(self.radius), 4))
        return Polygon(tuple((round(float(u), 4), round(float(v), 4)) for u, v in self.uv))


def _face_axes(body: SolidBody, index: int) -> list[float]:
    """Directions (degrees, in the face frame) of the straight edges of a planar face, and 0."""
    info = body.faces[index]
    _, x, y, _ = plane_frame(info.normal, info.origin)
    axes = [0.0]
    for e in body.edges:
        if index in e.faces and e.curve == "line":
            d = np.asarray(e.direction, float)
            if abs(d @ x) + abs(d @ y) > 1e-6:
                axes.append(math.degrees(math.atan2(float(d @ y), float(d @ x))))
    return axes


def _lifted(fit: _Fit, pts: np.ndarray, info, motion=None) -> tuple[np.ndarray, np.ndarray]:
    """Stroke pixels lifted onto the face's plane, or onto that plane carried by `motion` (an
    affine map (m, b): p -> m p + b) and carried back: face coordinates (N, 2) and the pixels kept."""
    n = np.asarray(info.normal, float)
    origin = np.asarray(info.origin, float)
    if motion is not None:
        m, b = motion
        world = fit.view.lift_plane(pts, m @ origin + b, m @ n)
        world = (world - b) @ m  # m is a rotation: its inverse is its transpose
    else:
        world = fit.view.lift_plane(pts, origin, n)
    ok = np.isfinite(world).all(axis=1)
    return to_face_coords(info.normal, info.origin, world[ok]), pts[ok]


def _base_profiles(fit: _Fit, face: int, kinds: tuple[str, ...], pts: np.ndarray,
                   offset: np.ndarray | None = None, motion=None) -> list[_Profile]:
    """Polygon and / or circle profiles the strokes `pts` (pixels) draw on `face`, best first.

    With `offset` strokes and the `motion` that carries the profile to them (a first fit of the
    path), the offset strokes are carried back onto the face and fitted together with the base:
    a profile half hidden behind what the operation adds is often whole at the other end."""
    if len(pts) < 6:
        return []
    info = fit.body.faces[face]
    uv, img = _lifted(fit, pts, info)
    if len(uv) < 6 or np.ptp(img, axis=0).max() < 3.0 * fit.view.k:
        return []  # a dot, not a profile
    groups = [(img, None)]
    if offset is not None and motion is not None and len(offset) >= 6:
        uv_off, img_off = _lifted(fit, offset, info, motion)
        if len(uv_off) >= 6:
            uv = np.vstack([uv, uv_off])
            groups.append((img_off, motion))
    fit_uv = _thin(uv, 200)

    def residual(poly_world: np.ndarray) -> float:
        """Symmetric chamfer (px) of each group of strokes with the outline (carried by its
        motion): strokes to outline, and the best 60% of outline samples to strokes (parts of
        the outline may be hidden behind what the operation adds)."""
        out = []
        for img_g, mo in groups:
            w = poly_world if mo is None else poly_world @ mo[0].T + mo[1]
            proj = fit.view.project(w)
            there = float(np.mean(fit.chamfer(img_g, [proj], closed=True)))
            ring = _resample(np.vstack([proj, proj[:1]]), 1.0 * fit.view.k)
            if not len(ring):
                return float("inf")
            back = _robust(np.sqrt(((ring[:, None, :] - img_g[None]) ** 2).sum(-1).min(axis=1)), fit.trunc)
            back = np.sort(back)[:max(1, int(0.6 * len(back)))]
            out.append(0.5 * (there + float(np.mean(back))))
        return float(np.mean(out))

    out: list[_Profile] = []
    if "polygon" in kinds:
        axes = _face_axes(fit.body, face)
        fits = []
        hull = _hull(fit_uv)
        for k in (3, 4, 5, 6):
            poly = _fit_polygon(fit_uv, k, hull=hull)
            if poly is None:
                continue
            poly = _snap_polygon(poly, fit_uv, axes)
            w3 = from_face_coords(info.normal, info.origin, poly)
            fits.append((k, poly, w3, residual(w3)))
        if fits:
            best = min(f[3] for f in fits)
            k, poly, w3, res = next(f for f in fits if f[3] <= best + EXTRA_CORNER_PX * fit.view.k)
            out.append(_Profile("polygon", poly, w3, w3, res))
    if "circle" in kinds:
        circ = _fit_circle(fit_uv)
        if circ is not None:
            c, r = circ
            a = np.linspace(0.0, 2 * math.pi, 48, endpoint=False)
            ring = c + r * np.stack([np.cos(a), np.sin(a)], axis=1)
            w3 = from_face_coords(info.normal, info.origin, ring)
            out.append(_Profile("circle", ring, w3, w3, residual(w3), c, r))
    out.sort(key=lambda p: p.residual_px)
    return out


# -- profile strokes: where they start and end --------------------------------------------------------
@dataclass
class _Rail:
    """A profile stroke: its points, the 3D point on the base curve it starts from, its far end,
    and the reading with its ends swapped when both ends lie on the base curve (a short line
    into a small pocket ends near the outline it started from)."""

    uv: np.ndarray
    start: np.ndarray  # (3,)
    far: np.ndarray  # (2,)
    alt: tuple[np.ndarray, np.ndarray] | None = None  # (start, far) the other way round
    into_opening: bool = False  # the far end lies over the profile: going in, it may vanish in the cut


def _rails(fit: _Fit, base_world: list[np.ndarray], corners: np.ndarray | None, plane,
           opening: bool = False) -> list[_Rail]:
    """Profile strokes with the base-curve point each starts from (a corner when corners are given).
    With `opening` (a profile that a cut goes through), a stroke whose far end lies over the
    profile or on its rim is flagged: going inward, the line may disappear into the cut there."""
    base_img = [fit.view.project(w) for w in base_world]
    a, b = _segments(base_img, closed=True)
    a3, b3 = _segments(base_world, closed=True)
    cimg = np.nan_to_num(fit.view.project(corners), nan=1e9) if corners is not None and len(corners) else None

    def start_of(end: np.ndarray) -> tuple[np.ndarray, float]:
        """The base point a line ending at pixel `end` starts from, and its pixel distance."""
        if cimg is not None:
            dist = np.linalg.norm(cimg - end, axis=1)
            k = int(np.argmin(dist))
            return corners[k], float(dist[k])
        d = float(_seg_dist(end[None], a, b)[0])
        p = fit.view.lift_plane(end[None], *plane)
        if np.isfinite(p).all():
            return _closest_on_segments(p, a3, b3)[0][0], d
        q, seg = _closest_on_segments(end[None], a, b)
        i = int(seg[0])
        t = np.linalg.norm(q[0] - a[i]) / max(np.linalg.norm(b[i] - a[i]), 1e-12)
        return a3[i] + t * (b3[i] - a3[i]), d

    out = []
    for run in fit.by_role[PROFILE]:
        if run.length < 2.0 * fit.view.k:
            continue
        ends = (run.uv[0], run.uv[-1])
        (s0, d0), (s1, d1) = start_of(ends[0]), start_of(ends[1])
        if d1 < d0:
            (s0, d0), (s1, d1), ends = (s1, d1), (s0, d0), ends[::-1]
        alt = (s1, ends[0]) if d1 <= 3.0 * fit.view.k else None
        inside = opening and (_inside(base_img[0], ends[1]) or d1 <= 3.0 * fit.view.k)
        out.append(_Rail(_thin(run.uv, MAX_COST_POINTS // 4), s0, ends[1], alt, inside))
    return out


def _inside(poly: np.ndarray, p: np.ndarray) -> bool:
    """Whether pixel p lies inside the closed pixel polygon (even-odd rule)."""
    poly = poly[np.isfinite(poly).all(axis=1)]
    if len(poly) < 3:
        return False
    x, y = poly[:, 0], poly[:, 1]
    x2, y2 = np.roll(x, -1), np.roll(y, -1)
    cross = (y > p[1]) != (y2 > p[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = x + (p[1] - y) * (x2 - x) / (y2 - y)
    return bool(np.count_nonzero(cross & (p[0] < xs)) % 2)


def _along_line(view: _View, start: np.ndarray, direction: np.ndarray, uv: np.ndarray) -> float | None:
    """The parameter t of the point of the line start + t * direction closest to the ray through uv."""
    o, d = view.rays(uv[None])
    o, d = o[0], d[0]
    u = np.asarray(direction, float)
    w = start - o
    a11, a12, a22 = u @ u, -(u @ d), d @ d
    m = np.array([[a11, a12], [-a12, -a22]])
    rhs = np.array([-(u @ w), -(d @ w)])
    if abs(np.linalg.det(m)) < 1e-12:
        return None
    t, _ = np.linalg.solve(m, rhs)
    return float(t)


def _translation_cost(fit: _Fit, ts: np.ndarray, base_world: list[np.ndarray], direction: np.ndarray,
                      rails: list[_Rail], offset: np.ndarray, typical: float) -> np.ndarray:
    """Image cost (mean px, truncated) of the offset curve (base + t * direction) against the
    offset stroke points and of the profile lines from each rail's start against the profile
    strokes, for every t in `ts` (G,), in chunks of bounded memory; a faint preference for
    distances near `typical` settles what the strokes leave open."""
    size = max(1, len(offset)) * max(1, sum(len(w) for w in base_world))
    chunk = max(1, int(2_000_000 // size))
    cost = np.concatenate([_translation_cost_chunk(fit, ts[i:i + chunk], base_world, direction, rails, offset)
                           for i in range(0, len(ts), chunk)]) if len(ts) else np.zeros(0)
    with np.errstate(divide="ignore"):
        prior = np.abs(np.log(np.maximum(np.abs(ts), 1e-12) / max(typical, 1e-9)))
    return cost + TYPICAL_WEIGHT * fit.view.k * prior


def _translation_cost_chunk(fit: _Fit, ts: np.ndarray, base_world: list[np.ndarray], direction: np.ndarray,
                            rails: list[_Rail], off: np.ndarray) -> np.ndarray:
    v = fit.view
    total = np.zeros(len(ts))
    weight = 0.0
    if len(off):
        shifted = [w[None] + ts[:, None, None] * direction for w in base_world]  # (G, K, 3)
        proj = [v.project(s) for s in shifted]
        a = np.concatenate([p for p in proj], axis=1)
        b = np.concatenate([np.roll(p, -1, axis=1) for p in proj], axis=1)
        total += _robust(_seg_dist(off, a, b), fit.trunc).sum(axis=1)
        weight += len(off)
    for r in rails:
        readings = [(r.start, r.far)] + ([r.alt] if r.alt is not None else [])
        best = np.full(len(ts), np.inf)
        for start, far in readings:
            s0 = v.project(start)
            ends = v.project(start[None] + ts[:, None] * direction)  # (G, 2)
            a = np.broadcast_to(s0, ends.shape)[:, None, :]
            c = _robust(_seg_dist(r.uv, a, ends[:, None, :]), fit.trunc).sum(axis=1)
            end = np.linalg.norm(ends - far, axis=1)
            if r.into_opening:  # going in, the line may vanish into the cut: the end must lie on it
                on = _seg_dist(far[None], a, ends[:, None, :])[:, 0]
                end = np.where(ts < 0, on, end)
            c += ENDPOINT_WEIGHT * _robust(end, fit.trunc)
            best = np.minimum(best, c)
        total += best
        weight += len(r.uv) + ENDPOINT_WEIGHT
    return total / max(weight, 1.0)


def _search_translation(fit: _Fit, base_world: list[np.ndarray], direction: np.ndarray,
                        rails: list[_Rail], offset: np.ndarray, typical: float) -> list[tuple[float, float]]:
    """The best signed distance along `direction` on each side as (t, cost), best first."""
    est = [t for t in (_along_line(fit.view, r.start, direction, r.far) for r in rails if r.alt is None)
           if t is not None]
    est = [t for t in est if 1e-3 < abs(t) < 3.0 * fit.diag]
    mags = np.geomspace(0.005 * fit.diag, 1.2 * fit.diag, 48)
    grid = [mags, -mags, np.array([typical, -typical])]
    if est:
        t0 = float(np.median(est))
        grid.append(t0 * np.linspace(0.5, 1.6, 45))
    ts = np.concatenate(grid)

    def cost(x):
        return _translation_cost(fit, x, base_world, direction, rails, offset, typical)

    costs = cost(ts)
    starts = []
    for sign in (1.0, -1.0):
        sel = np.nonzero(np.sign(ts) == sign)[0]
        if not len(sel):
            continue
        k = sel[int(np.argmin(costs[sel]))]
        starts.append((float(ts[k]), float(costs[k]), ts[sel]))
    out = _refine_1d(cost, starts)
    out.sort(key=lambda x: x[1])
    return out


def _refine_1d(cost, starts: list[tuple[float, float, np.ndarray]],
               rounds: int = 3) -> list[tuple[float, float]]:
    """Refine grid minima (t, cost, the grid it is the minimum of) by local grids of shrinking
    span (same sign as t); the minima are refined side by side, one cost call per round."""
    state = []
    for t, c, grid in starts:
        others = np.sort(np.abs(grid))
        at = abs(t)
        i = int(np.searchsorted(others, at))
        lo = others[max(i - 1, 0)] if i > 0 else at * 0.8
        hi = others[min(i + 1, len(others) - 1)] if i + 1 < len(others) else at * 1.2
        state.append([t, c, at, max(hi - lo, 1e-9)])
    n = 15
    for _ in range(rounds):
        if not state:
            break
        xs = np.concatenate([np.linspace(max(at - span, at * 0.2), at + span, n) * math.copysign(1.0, t)
                             for t, _, at, span in state])
        cs = cost(xs)
        for j, s in enumerate(state):
            x, c = xs[j * n:(j + 1) * n], cs[j * n:(j + 1) * n]
            k = int(np.argmin(c))
            if c[k] <= s[1]:
                s[0], s[1] = float(x[k]), float(c[k])
                s[2] = abs(s[0])
            s[3] /= 4.0
    return [(t, c) for t, c, _, _ in state]


def _translation_drawing(base_world: list[np.ndarray], direction: np.ndarray, t: float,
                         starts: np.ndarray, base: bool) -> list[Curve]:
    """What a person draws for a translation by t * direction: the base (when drawn), a line from
    each start point, and the moved base."""
    vec = t * np.asarray(direction, float)
    out = [Curve(w, "base", True) for w in base_world] if base else []
    out += [Curve(np.stack([c, c + vec]), "profile") for c in starts]
    out += [Curve(w + vec, "offset", True) for w in base_world]
    return out


# -- extrude ------------------------------------------------------------------------------------
def _corner_points(poly: np.ndarray, min_deg: float = 20.0) -> np.ndarray:
    prev = poly - np.roll(poly, 1, axis=0)
    nxt = np.roll(poly, -1, axis=0) - poly
    a, b = np.linalg.norm(prev, axis=1), np.linalg.norm(nxt, axis=1)
    ok = (a > 0) & (b > 0)
    cos = np.ones(len(poly))
    cos[ok] = np.einsum("ij,ij->i", prev[ok], nxt[ok]) / (a[ok] * b[ok])
    return poly[np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))) > min_deg]


def _fit_extrude(fit: _Fit) -> list[_Candidate]:
    if not (fit.by_role[PROFILE] or fit.by_role[OFFSET]):
        return []
    out = []
    for face, conf in fit.planar_faces():
        info = fit.body.faces[face]
        wires = occ_curves.face_outline(fit.body.shape, face)
        if not wires:
            continue
        n = np.asarray(info.normal, float)
        corners = _corner_points(wires[0])
        smooth = len(corners) < 2
        rails = _rails(fit, wires, None if smooth else corners, (info.origin, n))
        starts = np.array([r.start for r in rails]).reshape(-1, 3) if smooth else corners
        for t, cost in _search_translation(fit, wires, n, rails, fit.points[OFFSET], 0.15 * fit.diag)[:2]:
            if abs(t) < 1e-3:
                continue
            op = Extrude(fit.body_id, FaceRef.of(fit.body, face), round(t, 4))
            out.append(_Candidate(op, 0, cost, conf, _translation_drawing(wires, n, t, starts, False),
                                  f"face {face}"))
    return out


# -- add / subtract -------------------------------------------------------------------------------
def _base_and_offset(fit: "_Fit") -> tuple[np.ndarray, np.ndarray]:
    """Base and offset stroke points; in tiny drawings the later offset strokes cover the base in the
    role map, so the offset points then stand for the base."""
    base_pts, offset = fit.points[BASE], fit.points[OFFSET]
    if len(base_pts) < 6:
        return offset, np.zeros((0, 2))
    return base_pts, offset


def _fit_prism(fit: _Fit) -> list[_Candidate]:
    base_pts, offset = _base_and_offset(fit)
    out = []
    for face, conf in fit.planar_faces():
        info = fit.body.faces[face]
        n = np.asarray(info.normal, float)
        found = []
        for prof in _base_profiles(fit, face, ("polygon",), base_pts):
            found.extend(_prisms_of(fit, info, prof, offset))
        if found and len(offset) >= 6 and _drawn_share(fit, found[0][2]) < FULL_BASE:
            # refit the polygon from the base and the offset strokes carried back by the best distance
            t, _, _ = min(found, key=lambda x: x[1])
            for prof in _base_profiles(fit, face, ("polygon",), base_pts, offset, (np.eye(3), t * n)):
                found.extend(_prisms_of(fit, info, prof, offset))
        for t, cost, prof in found:
            cls = AddPrism if t > 0 else SubtractPrism
            op = cls(fit.body_id, FaceRef.of(fit.body, face), prof.op_profile().points, round(abs(t), 4))
            out.append(_Candidate(op, 1, cost, conf, _translation_drawing([prof.world], n, t, prof.corners, True),
                                  f"face {face}"))
    return out


def _prisms_of(fit: _Fit, info, prof: _Profile, offset: np.ndarray) -> list[tuple[float, float, _Profile]]:
    """(signed distance, cost including the polygon's residual, polygon) of the best distance each way."""
    n = np.asarray(info.normal, float)
    rails = _rails(fit, [prof.world], prof.corners, (info.origin, n), opening=True)
    size = math.sqrt(abs(_area(prof.uv)) / math.pi)
    return [(t, cost + 0.5 * prof.residual_px, prof)
            for t, cost in _search_translation(fit, [prof.world], n, rails, offset, size)[:2] if abs(t) >= 1e-3]


# -- bevel --------------------------------------------------------------------------------------------
def _edge_geometry(body: SolidBody, index: int) -> tuple[np.ndarray, bool]:
    poly = occ_curves.edge_polyline(body.shape, index)
    closed = len(poly) > 2 and np.linalg.norm(poly[0] - poly[-1]) <= 1e-6 * max(body.diagonal(), 1.0)
    return poly, closed


def _distance_to_polyline3(p: np.ndarray, poly: np.ndarray, closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Distance of 3D points to a polyline, and whether the nearest point is inside it (not an end)."""
    a, b = poly[:-1], poly[1:]
    q, k = _closest_on_segments(p, a, b)
    d = np.linalg.norm(p - q, axis=1)
    if closed:
        return d, np.ones(len(p), bool)
    span = np.linalg.norm(poly[-1] - poly[0]) + 1e-12
    margin = 0.02 * span
    inner = (np.linalg.norm(q - poly[0], axis=1) > margin) & (np.linalg.norm(q - poly[-1], axis=1) > margin)
    return d, inner


def _fit_bevel(fit: _Fit) -> list[_Candidate]:
    runs = fit.by_role[BASE]
    if not runs:
        return []
    body = fit.body
    pts = fit.points[BASE]
    stitch = {i for i, _ in fit.faces}
    conf_of = dict(fit.faces)
    edges = [e for e in body.edges if e.curve != "degenerate" and len(e.faces) == 2]
    both = [e for e in edges if set(e.faces) <= stitch]
    one = [e for e in edges if set(e.faces) & stitch]
    pool = both or one or edges
    # The body face under each base point: a bevel's set-back lines lie on the two faces beside
    # its edge, one on each side. The image distance alone cannot tell the true edge from one
    # running along either line (half the points at 0, half at twice the set-back: the same mean).
    under = np.array([fit.context.faces[x][1] if x >= 0 and fit.context.faces[x][0] == fit.body_id else -1
                      for x in fit.face_ids_at(pts)])
    scored = []
    for e in pool:
        poly, closed = _edge_geometry(body, e.index)
        if len(poly) < 2:
            continue
        img = fit.view.project(poly)
        d = fit.chamfer(pts, [img], closed=False)
        on = [(under == f).mean() for f in e.faces]
        apart = (1.0 + 2.0 * (1.0 - sum(on))) * (1.0 if min(on) >= 0.1 else 1.5)
        scored.append((float(np.mean(d)) * apart, e, poly, closed))
    scored.sort(key=lambda x: x[0])
    out = []
    for _, e, poly, closed in scored[:BEVEL_EDGES]:
        conf = float(np.mean([conf_of.get(f, 0.3) for f in e.faces]))
        for op, drawing, prior in _bevel_on_edge(fit, e, poly, closed, runs):
            cost = float(np.mean(fit.chamfer(pts, _project_drawing(fit, drawing), closed=False)))
            out.append(_Candidate(op, 2, cost, conf, drawing, f"edge {e.index}", prior))
    return out


def _bevel_on_edge(fit: _Fit, e, poly: np.ndarray, closed: bool, runs: list[_Run]):
    """Chamfer (and fillet) candidates on edge `e` from the base strokes' set-backs."""
    body = fit.body
    f1, f2 = e.faces
    mid = np.asarray(e.midpoint, float)
    setbacks: dict[int, list[float]] = {f1: [], f2: []}
    weights: dict[int, list[float]] = {f1: [], f2: []}
    lifted: dict[int, list[np.ndarray]] = {f1: [], f2: []}
    for run in runs:
        g = fit.face_ids_at(run.uv)
        faces = np.array([fit.context.faces[x][1] if x >= 0 and fit.context.faces[x][0] == fit.body_id else -1
                          for x in g])
        votes = [(faces == f).sum() for f in (f1, f2)]
        if max(votes) < 0.3 * len(faces):
            continue
        f = (f1, f2)[int(np.argmax(votes))]
        sel = faces == f
        info = body.faces[f]
        if info.planar:
            p = fit.view.lift_plane(run.uv[sel], info.origin, info.normal)
        else:
            p = fit.view.lift_depth(run.uv[sel], fit.context.depth)
        p = p[np.isfinite(p).all(axis=1)]
        if len(p) < 3:
            continue
        d, inner = _distance_to_polyline3(p, poly, closed)
        d = d[inner] if inner.sum() >= 3 else d
        setbacks[f].append(float(np.median(d)))
        weights[f].append(float(len(d)))
        lifted[f].append(p)
    got = {f: float(np.average(v, weights=weights[f])) for f, v in setbacks.items() if v}
    if not got:
        return []
    d1 = got.get(f1, got.get(f2))
    d2 = got.get(f2, got.get(f1))
    if abs(d1 - d2) <= 0.08 * max(d1, d2):
        d1 = d2 = 0.5 * (d1 + d2)
    n1 = np.asarray(face_normal_at(body.shape, f1, mid), float)
    n2 = np.asarray(face_normal_at(body.shape, f2, mid), float)
    ref = EdgeRef.of(body, e.index)
    side = tuple(round(float(x), 9) for x in n1)
    refs = {f: np.concatenate(v) for f, v in lifted.items() if v}
    out = [(Bevel(fit.body_id, ref, round(d1, 4), round(d2, 4), "chamfer", side),
            _setback_drawing(fit, poly, closed, {f1: d1, f2: d2}, refs), 1.0)]
    mean = 0.5 * (d1 + d2)
    if d1 != d2:  # equal set-backs: the commonest chamfer, and a fallback when one side is off
        out.append((Bevel(fit.body_id, ref, round(mean, 4), round(mean, 4), "chamfer", side),
                    _setback_drawing(fit, poly, closed, {f1: mean, f2: mean}, refs), EQUAL_PRIOR))
    if abs(d1 - d2) <= 0.15 * max(d1, d2):
        angle = math.acos(float(np.clip(n1 @ n2, -1.0, 1.0)))
        if angle > 1e-3:
            r = mean / math.tan(angle / 2.0)
            out.append((Bevel(fit.body_id, ref, round(r, 4), round(r, 4), "fillet"),
                        _setback_drawing(fit, poly, closed, {f1: mean, f2: mean}, refs), FILLET_PRIOR))
    return out


def _setback_drawing(fit: _Fit, poly: np.ndarray, closed: bool, dist: dict[int, float],
                     lifted: dict[int, np.ndarray]) -> list[Curve]:
    """The lines a set-back draws on each face beside the edge. The side of the edge a face lies
    on comes from the strokes lifted onto it (else from the face's centroid)."""
    body = fit.body
    step = max(1, len(poly) // 24)
    sample = poly[::step]
    if closed:
        sample = sample[:-1] if np.allclose(sample[0], sample[-1]) else sample
    tang = np.gradient(np.vstack([sample[-1:], sample, sample[:1]]) if closed else sample, axis=0)
    tang = tang[1:-1] if closed else tang
    tang /= np.maximum(np.linalg.norm(tang, axis=1, keepdims=True), 1e-12)
    out = []
    for f, d in dist.items():
        info = body.faces[f]
        if info.planar:
            normals = np.broadcast_to(np.asarray(info.normal, float), sample.shape)
        else:
            normals = np.array([face_normal_at(body.shape, f, p) for p in sample])
        w = np.cross(normals, tang)
        w /= np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12)
        ref = lifted.get(f)
        if ref is None or not len(ref):
            ref = np.asarray(info.centroid, float)[None]
        near = np.argmin(((ref[:, None, :] - sample[None]) ** 2).sum(-1), axis=1)
        side = float(np.einsum("ij,ij->i", ref - sample[near], w[near]).sum())
        out.append(Curve(sample + (1.0 if side >= 0 else -1.0) * d * w, "base", closed))
    return out


def _project_drawing(fit: _Fit, drawing: list[Curve]) -> list[np.ndarray]:
    """A drawing's curves projected as open pixel polylines (closed ones repeat their start)."""
    return [fit.view.project(np.vstack([c.points, c.points[:1]]) if c.closed else c.points) for c in drawing]


# -- sweep ------------------------------------------------------------------------------------------
def _rotations(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices (G, S, 3, 3) about unit axes (G, 3) by angles (G, S) (Rodrigues)."""
    k = np.zeros(axis.shape[:1] + (3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k[:, 1, 0], k[:, 2, 0], k[:, 2, 1] = axis[:, 2], -axis[:, 1], axis[:, 0]
    k = k[:, None]
    sn, cs = np.sin(angle)[..., None, None], np.cos(angle)[..., None, None]
    return np.eye(3) + sn * k + (1.0 - cs) * (k @ k)


class _SweepModel:
    """The curves a sweep draws for batches of path parameters (`Sweep._apply`'s geometry) and
    their image cost against the profile and offset strokes."""

    ARC_STEPS = 8
    COST_RING = 24  # profile samples used for image costs

    def __init__(self, fit: _Fit, info, prof: _Profile, rails: list[_Rail]) -> None:
        self.fit = fit
        self.o, self.x, self.y, self.n = plane_frame(info.normal, info.origin)
        self.prof = prof
        self.start = prof.world.mean(axis=0) if prof.kind == "polygon" else \
            from_face_coords(info.normal, info.origin, prof.center)[0]
        self.rails = rails
        self.rail_starts = np.array([r.start for r in rails]).reshape(-1, 3)
        self.rail_points = np.concatenate([_thin(r.uv, 40) for r in rails]) if rails else np.zeros((0, 2))
        self.rail_fars = np.array([r.far for r in rails]).reshape(-1, 2)
        self.opening = np.array([r.into_opening for r in rails], bool)
        ring = prof.world
        if len(ring) > self.COST_RING:
            ring = ring[np.linspace(0, len(ring) - 1, self.COST_RING).round().astype(int)]
        self.cost_ring = ring

    def sides(self, bend_deg: np.ndarray) -> np.ndarray:
        b = np.radians(np.asarray(bend_deg, float))[:, None]
        return np.cos(b) * self.x + np.sin(b) * self.y

    # -- curves for batches of parameters --------------------------------------------------------
    def line(self, vec: np.ndarray, ring: np.ndarray, starts: np.ndarray):
        """Moved ring (G, K, 3) and rails (G, R, 2, 3) for straight paths vec (G, 3)."""
        rails = np.stack([np.broadcast_to(starts, (len(vec),) + starts.shape),
                          starts[None] + vec[:, None]], axis=2)
        return ring[None] + vec[:, None], rails

    def arc(self, s: float, radius: np.ndarray, angle_deg: np.ndarray, bend_deg: np.ndarray,
            ring: np.ndarray, starts: np.ndarray):
        """Moved ring (G, K, 3) and rails (G, R, S, 3) for arc paths."""
        side = self.sides(bend_deg)
        t0 = s * self.n
        center = self.start + radius[:, None] * side
        axis = np.cross(t0, side)
        a = np.radians(angle_deg)
        steps = np.linspace(0.0, 1.0, self.ARC_STEPS + 1)[None] * a[:, None]  # (G, S)
        rot = _rotations(axis, np.concatenate([a[:, None], steps], axis=1))  # (G, 1 + S, 3, 3)
        moved = np.einsum("gij,gkj->gki", rot[:, 0], ring[None] - center[:, None]) + center[:, None]
        rel = starts[None] - center[:, None]  # (G, R, 3)
        rails = np.einsum("gsij,grj->grsi", rot[:, 1:], rel) + center[:, None, None]
        return moved, rails

    def cost(self, ring: np.ndarray, rails: np.ndarray, inward: np.ndarray) -> np.ndarray:
        """Image cost (G,) of moved rings and rails against the offset and profile strokes;
        `inward` (G,) marks paths going into the body."""
        fit, v = self.fit, self.fit.view
        size = max(1, len(fit.points[OFFSET])) * ring.shape[1] + len(self.rail_points) * rails.shape[1] * 8
        chunk = max(1, int(1_500_000 // size))
        if len(ring) > chunk:
            return np.concatenate([self.cost(ring[i:i + chunk], rails[i:i + chunk], inward[i:i + chunk])
                                   for i in range(0, len(ring), chunk)])
        total = np.zeros(len(ring))
        weight = 0.0
        off = fit.points[OFFSET]
        if len(off):
            p = v.project(ring)
            total += _robust(_seg_dist(off, p, np.roll(p, -1, axis=1)), fit.trunc).sum(axis=1)
            weight += len(off)
        if self.rails:
            p = v.project(rails)  # (G, R, S, 2); a profile stroke is scored against all rails
            a = p[:, :, :-1].reshape(len(p), -1, 2)
            b = p[:, :, 1:].reshape(len(p), -1, 2)
            total += _robust(_seg_dist(self.rail_points, a, b), fit.trunc).sum(axis=1)
            ends = np.linalg.norm(p[:, :, -1] - self.rail_fars[None], axis=2)  # (G, R)
            if inward.any() and self.opening.any():  # going in, a rail may vanish into the cut
                for j in np.nonzero(self.opening)[0]:
                    on = _seg_dist(self.rail_fars[j][None], p[:, j, :-1], p[:, j, 1:])[:, 0]
                    ends[:, j] = np.where(inward, on, ends[:, j])
            total += ENDPOINT_WEIGHT * _robust(ends, fit.trunc).sum(axis=1)
            weight += len(self.rail_points) + ENDPOINT_WEIGHT * len(self.rails)
        return total / max(weight, 1.0)

    # -- parameters ------------------------------------------------------------------------------
    def line_cost(self, vec: np.ndarray) -> np.ndarray:
        vec = np.atleast_2d(vec)
        length = np.linalg.norm(vec, axis=1)
        tilt = np.degrees(np.arccos(np.clip(np.abs(vec @ self.n) / np.maximum(length, 1e-12), 0.0, 1.0)))
        k = self.fit.view.k
        prior = k * (0.5 * (np.maximum(tilt - 55.0, 0.0) / 10.0) ** 2 + 0.003 * tilt
                     + 0.5 * (np.maximum(length / self.fit.diag - 0.45, 0.0) / 0.1) ** 2)
        return self.cost(*self.line(vec, self.cost_ring, self.rail_starts), vec @ self.n < 0) + prior

    def arc_cost(self, s: float, radius: np.ndarray, angle_deg: np.ndarray, bend_deg: np.ndarray) -> np.ndarray:
        k = self.fit.view.k
        prior = k * (0.5 * (np.maximum(angle_deg - 125.0, 0.0) / 15.0) ** 2
                     + 0.5 * (np.maximum(radius / self.fit.diag - 0.5, 0.0) / 0.1) ** 2)
        moved = self.arc(s, radius, angle_deg, bend_deg, self.cost_ring, self.rail_starts)
        return self.cost(*moved, np.full(len(radius), s < 0)) + prior

    def line_path(self, vec: np.ndarray) -> tuple[float, LinePath] | None:
        length = float(np.linalg.norm(vec))
        if length < 1e-3:
            return None
        along = float(vec @ self.n)
        s = 1.0 if along >= 0 else -1.0
        tilt = math.degrees(math.acos(min(1.0, abs(along) / length)))
        inplane = vec - along * self.n
        bend = math.degrees(math.atan2(float(inplane @ self.y), float(inplane @ self.x))) % 360.0
        if tilt < 1.0:  # straight up: the bend only places the drawn rails
            tilt, bend = 0.0, self._rail_bend()
        if tilt > 75.0:
            return None
        return s, LinePath(round(length, 4), round(tilt, 2), round(bend, 2))

    def _rail_bend(self) -> float:
        """The bend whose rails (the profile's extremes across it) pass the first drawn rail."""
        if not len(self.rail_starts):
            return 0.0
        across = self.rail_starts[0] - self.start
        across -= (across @ self.n) * self.n
        if np.linalg.norm(across) < 1e-9:
            return 0.0
        side = np.cross(across, self.n)
        return math.degrees(math.atan2(float(side @ self.y), float(side @ self.x))) % 360.0

    def arc_from_chord(self, vec: np.ndarray) -> tuple[float, float, float, float] | None:
        """(s, radius, angle_deg, bend_deg) of the arc leaving along the normal with chord `vec`."""
        along = float(vec @ self.n)
        s = 1.0 if along >= 0 else -1.0
        inplane = vec - along * self.n
        w, h = float(np.linalg.norm(inplane)), abs(along)
        if w < 1e-4 * self.fit.diag or h < 1e-9:
            return None
        a = 2.0 * math.atan2(w, h)
        radius = float(np.linalg.norm(vec)) / (2.0 * math.sin(a / 2.0))
        bend = math.degrees(math.atan2(float(inplane @ self.y), float(inplane @ self.x))) % 360.0
        return s, radius, math.degrees(a), bend

    def motion(self, s: float, path) -> tuple[np.ndarray, np.ndarray]:
        """The rigid map (m, b): p -> m p + b that carries the profile to the end of the path."""
        if isinstance(path, LinePath):
            t = math.radians(path.tilt_deg)
            side = self.sides(np.array([path.bend_deg]))[0]
            return np.eye(3), path.length * (math.cos(t) * s * self.n + math.sin(t) * side)
        side = self.sides(np.array([path.bend_deg]))[0]
        t0 = s * self.n
        center = self.start + path.radius * side
        rot = _rotations(np.cross(t0, side)[None], np.array([[math.radians(path.angle_deg)]]))[0, 0]
        return rot, center - rot @ center

    def drawing(self, s: float, path) -> list[Curve]:
        """The base, the two rails at the profile's extremes across the bend, and the moved profile,
        as `neural.synth.curves` draws them."""
        ring = self.prof.world
        side = self.sides(np.array([path.bend_deg]))[0]
        across = np.cross(self.n, side)
        starts = ring[[int(np.argmax(ring @ across)), int(np.argmin(ring @ across))]]
        if isinstance(path, LinePath):
            t = math.radians(path.tilt_deg)
            vec = path.length * (math.cos(t) * s * self.n + math.sin(t) * side)
            moved, rails = self.line(vec[None], ring, starts)
        else:
            moved, rails = self.arc(s, np.array([path.radius]), np.array([path.angle_deg]),
                                    np.array([path.bend_deg]), ring, starts)
        return [Curve(ring, "base", True), *[Curve(r, "profile") for r in rails[0]], Curve(moved[0], "offset", True)]


def _chord_guesses(fit: _Fit, model: _SweepModel) -> np.ndarray:
    """Path vectors to start from: the profile strokes' far ends (least squares with two or more,
    points along the far end's ray with one) and a coarse grid of directions and lengths."""
    v, n, diag = fit.view, model.n, fit.diag
    out = []
    rails = model.rails
    if len(rails) >= 2:
        a, rhs = np.zeros((3, 3)), np.zeros(3)
        for r in rails:
            o, d = v.rays(r.far[None])
            proj = np.eye(3) - np.outer(d[0], d[0])
            a += proj
            rhs += proj @ (o[0] - r.start)
        a += 1e-9 * np.trace(a) * np.eye(3)
        out.append(np.linalg.solve(a, rhs))
    for r in rails[:3]:
        o, d = v.rays(r.far[None])
        depth0 = float((r.start - o[0]) @ d[0])
        lam = depth0 + np.linspace(-0.8, 0.8, 41) * diag
        if v.persp:
            lam = lam[lam > 0]
        out.extend(o[0] + lam[:, None] * d[0] - r.start)
    side = model.sides(np.arange(0.0, 360.0, 30.0))
    dirs = [n]
    for tilt in (25.0, 50.0):
        t = math.radians(tilt)
        dirs.extend(math.cos(t) * n + math.sin(t) * side)
    dirs = np.array(dirs)
    for length in np.geomspace(0.06, 0.45, 5) * diag:
        out.extend(length * dirs)
        out.extend(length * (dirs - 2.0 * np.outer(dirs @ n, n)))  # the same, going inward
    return np.array(out)


def _pattern_search(cost, x0: np.ndarray, steps: np.ndarray, iterations: int = 16) -> tuple[np.ndarray, float]:
    """Minimise a batched cost (G, D) -> (G,) by compass search: try the moves of one step along
    each axis and to each corner of the step box at once; halve the steps when none improves."""
    d = len(x0)
    corners = np.array(np.meshgrid(*[[-1.0, 1.0]] * d, indexing="ij")).reshape(d, -1).T
    moves = np.vstack([np.eye(d), -np.eye(d), corners]) if d > 1 else np.array([[1.0], [-1.0]])
    x = np.asarray(x0, float)
    c = float(cost(x[None])[0])
    steps = np.asarray(steps, float).copy()
    for _ in range(iterations):
        trial = x + moves * steps
        cs = cost(trial)
        k = int(np.argmin(cs))
        if cs[k] < c - 1e-9:
            x, c = trial[k], float(cs[k])
        else:
            steps *= 0.5
    return x, c


def _sweep_paths(fit: _Fit, model: _SweepModel) -> list[tuple[float, object, float]]:
    """(sign, path, cost) of the best straight and arc paths going out (+1) and in (-1): every
    start is scored on a coarse grid first, and only the kinds and signs that come near the best
    are refined."""
    n, diag, k = model.n, fit.diag, fit.view.k
    chords = _chord_guesses(fit, model)
    costs = model.line_cost(chords)
    grid = np.array([(r, a, b) for r in np.geomspace(0.1, 0.4, 3) * diag for a in (30.0, 60.0, 100.0)
                     for b in np.arange(0.0, 360.0, 45.0)])
    starts = []  # (sign, kind, x0, cost)
    for s in (1.0, -1.0):
        sel = np.nonzero((chords @ n) * s > 1e-6 * diag)[0]
        if not len(sel):
            continue
        order = sel[np.argsort(costs[sel])]
        starts.append((s, "line", chords[order[0]], float(costs[order[0]])))
        inits = [model.arc_from_chord(chords[i]) for i in order[:6]]
        inits = [i[1:] for i in inits if i is not None and i[0] == s]
        params = np.vstack([np.array(inits).reshape(-1, 3), grid])
        params[:, 1] = np.clip(params[:, 1], 1.0, 180.0)
        ac = model.arc_cost(s, params[:, 0], params[:, 1], params[:, 2])
        j = int(np.argmin(ac))
        r0, a0, b0 = params[j]
        starts.append((s, "arc", np.array([math.log(max(r0, 1e-6)), a0, b0]), float(ac[j])))
    if not starts:
        return []
    floor = min(c for *_, c in starts)
    out = []
    for s, kind, x0, c0 in starts:
        if c0 > 1.5 * floor + 0.5 * k:
            continue
        if kind == "line":
            x, c = _pattern_search(lambda x, s=s: model.line_cost(x) + np.where(x @ n * s > 0, 0.0, 1e3),
                                   x0, np.full(3, 0.03 * diag), 10)
            lp = model.line_path(x)
            if lp is not None and lp[0] == s:
                out.append((s, lp[1], c))
            # straight along the normal (a common sweep that a tilted fit can mimic with a
            # slightly wrong profile), with a small preference
            lengths = np.geomspace(0.02, 1.0, 48) * diag
            sc = model.line_cost(s * lengths[:, None] * n)
            j = int(np.argmin(sc))
            x, c = _pattern_search(lambda x, s=s: model.line_cost(s * np.abs(x) * n), lengths[j:j + 1],
                                   np.array([0.1 * lengths[j]]), 10)
            lp = model.line_path(s * abs(float(x[0])) * n)
            if lp is not None:
                out.append((s, lp[1], c - STRAIGHT_BONUS * k))
        else:
            x, c = _pattern_search(lambda x, s=s: model.arc_cost(s, np.exp(x[:, 0]), np.clip(x[:, 1], 1.0, 180.0),
                                                                 x[:, 2]), x0, np.array([0.2, 10.0, 12.0]), 10)
            radius, angle, bend = math.exp(x[0]), float(np.clip(x[1], 1.0, 180.0)), float(x[2]) % 360.0
            out.append((s, ArcPath(round(radius, 4), round(angle, 2), round(bend, 2)), c))
    return out


def _fit_sweep(fit: _Fit) -> list[_Candidate]:
    base_pts, offset = _base_and_offset(fit)
    out = []
    for face, conf in fit.planar_faces():
        info = fit.body.faces[face]
        profiles = _base_profiles(fit, face, ("polygon", "circle"), base_pts)
        if not profiles:
            continue
        best = profiles[0].residual_px
        found = []
        for prof in [p for p in profiles if p.residual_px <= 1.3 * best + 0.2 * fit.view.k][:2]:
            found.extend(_sweeps_of(fit, info, prof))
        if found and len(offset) >= 6 and _drawn_share(fit, profiles[0]) < FULL_BASE:
            # refit the profile from the base and the offset strokes carried back along the best path
            s, path, _, model = min(found, key=lambda x: x[2])
            for prof in _base_profiles(fit, face, (model.prof.kind,), base_pts, offset, model.motion(s, path)):
                found.extend(_sweeps_of(fit, info, prof))
        if not found:
            continue
        floor = min(c for _, _, c, _ in found)
        for s, path, cost, model in sorted(found, key=lambda x: x[2]):
            if cost > 1.6 * floor + 0.5 * fit.view.k:
                continue
            op = Sweep(fit.body_id, FaceRef.of(fit.body, face), model.prof.op_profile(), path,
                       "add" if s > 0 else "subtract")
            out.append(_Candidate(op, 3, cost, conf, model.drawing(s, path), f"face {face}"))
    return out


def _drawn_share(fit: _Fit, prof: _Profile) -> float:
    """The share of the profile's projected outline that base strokes draw (within 2 px)."""
    p = fit.view.project(prof.world)
    ring = _resample(np.vstack([p, p[:1]]), 1.0 * fit.view.k)
    inside = (ring[:, 0] >= 0) & (ring[:, 0] < fit.view.w) & (ring[:, 1] >= 0) & (ring[:, 1] < fit.view.h)
    ring = ring[inside]
    if not len(ring):
        return 0.0
    d = fit.role_distance(BASE)[ring[:, 1].astype(int), ring[:, 0].astype(int)]
    return float(np.mean(d <= 2.0 * fit.view.k))


def _sweeps_of(fit: _Fit, info, prof: _Profile) -> list[tuple[float, object, float, "_SweepModel"]]:
    """(sign, path, cost including the profile's residual, model) of the paths fitted for `prof`."""
    rails = _rails(fit, [prof.world], None, (info.origin, info.normal), opening=True)
    model = _SweepModel(fit, info, prof, rails)
    return [(s, path, cost + 0.5 * prof.residual_px, model) for s, path, cost in _sweep_paths(fit, model)]


_FITTERS = {0: _fit_extrude, 1: _fit_prism, 2: _fit_bevel, 3: _fit_sweep}


# -- scoring ---------------------------------------------------------------------------------------
def _fit_px(fit: _Fit, state, cand: _Candidate) -> float:
    """How far the candidate's result is from the sketch, in px: the mean of its fitting cost (the
    role-aware image distance its parameters were searched by) and the mean distance (truncated)
    from all stroke points to the nearer of the result's projected edges and the candidate's own
    drawn curves (silhouettes included), plus a penalty for the share of those curves that would
    be visible over the result but that no stroke draws."""
    pts = fit.all_points
    result = state.solid(fit.body_id)
    seg = result.edge_segments()
    d = _seg_dist(pts, fit.view.project(seg[:, 0]), fit.view.project(seg[:, 1])) if len(seg) \
        else np.full(len(pts), np.inf)
    if cand.drawing:
        a, b = _segments(_project_drawing(fit, cand.drawing), closed=False)
        d = np.minimum(d, _seg_dist(pts, a, b))
    px = float(np.mean(_robust(d, fit.trunc)))
    return 0.5 * (px + cand.cost_px) + COVER_WEIGHT * fit.view.k * _uncovered(fit, state, cand.drawing)


def _uncovered(fit: _Fit, state, drawing: list[Curve]) -> float:
    """The share (0..1) of the drawing's length visible over `state` that no stroke of the same
    role draws (a visible offset curve nobody drew speaks against the candidate)."""
    if not drawing:
        return 0.0
    v = fit.view
    depth = render_context(state.bodies, v.camera, v.w, v.h, lines=False).depth
    runs = visible_runs(drawing, v.camera, v.w, v.h, depth)
    total = off = 0
    for uv, role, _ in runs:
        iu = np.clip(np.floor(uv[:, 0]).astype(int), 0, v.w - 1)
        iv = np.clip(np.floor(uv[:, 1]).astype(int), 0, v.h - 1)
        total += len(uv)
        off += int((fit.role_distance(_ROLE_IDS[role])[iv, iu] > COVER_PX * v.k).sum())
    return off / total if total else 0.0


def _plausible_classes(probs: np.ndarray) -> list[int]:
    top = float(probs.max())
    return [int(c) for c in np.argsort(-probs) if probs[c] >= MIN_CLASS_PROB and probs[c] >= 0.1 * top]


def fit_proposals(session, body: str, sketch: Sketch, context: ContextRenders, stroke: np.ndarray,
                  outputs: NetOutputs, top_k: int = 3) -> list[Proposal]:
    """The best `top_k` operations the sketch asks for on `body`, each valid on the current state.

    `context` is the render of the current model from the sketch's camera, `stroke` the sketch
    rasterised at the render size (`rasterise_sketch`), `outputs` the networks' reading at that
    size. Returns [] when nothing is recognised (no strokes, strokes off the model, a dot); raises
    ValueError for malformed input (mismatched sizes, NaN). Never changes the document.
    """
    t_start = time.perf_counter()
    h, w = int(context.height), int(context.width)
    stroke = np.asarray(stroke)
    if stroke.shape != (h, w):
        raise ValueError(f"the stroke image is {stroke.shape} but the context renders are {(h, w)}; "
                         "rasterise the sketch at the render size (rasterise_sketch)")
    outputs = outputs.checked(h, w)
    if top_k < 1:
        return []
    bodies = session.document.state.bodies
    if body not in bodies or not isinstance(bodies[body], SolidBody):
        raise ValueError(f"there is no solid body {body!r} to fit the sketch to "
                         f"(bodies: {', '.join(bodies) or 'none'})")
    if not (stroke > 0).any() or not sketch.strokes:
        return []
    runs = _stroke_runs(sketch, outputs.roles, w, h)
    if not runs:
        return []
    ext = np.concatenate([r.uv for r in runs])
    if float(np.ptp(ext, axis=0).max()) < 2.0 * max(w, h) / REF_SIZE:
        return []  # a dot
    fit = _Fit(session, body, context, runs, outputs)
    if not fit.faces:
        return []

    cands: list[_Candidate] = []
    for cls in _plausible_classes(outputs.class_probs):
        try:
            cands.extend(_FITTERS[cls](fit))
        except (ValueError, ArithmeticError, LookupError, RuntimeError) as exc:  # no fit, no proposal
            log.debug("no %s fit: %s", CLASS_NAMES[cls], exc)
    sigma = SIGMA_PX * fit.view.k
    belief = outputs.class_probs ** CLASS_POWER
    cands.sort(key=lambda c: belief[c.cls] * c.face_conf * c.prior * math.exp(-c.cost_px / sigma),
               reverse=True)

    proposals: list[Proposal] = []
    seen: set[str] = set()
    tried = 0
    for c in cands:
        if tried >= MAX_APPLY or len(proposals) >= top_k:
            break
        key = repr(c.op)
        if key in seen:
            continue
        seen.add(key)
        tried += 1
        try:
            new_state = c.op.apply(fit.state)
        except Exception as exc:  # noqa: BLE001 - any candidate the kernel refuses is dropped
            log.debug("candidate %s dropped: %s", c.op.describe(), exc)
            continue
        try:
            px = _fit_px(fit, new_state, c)
        except (ValueError, RuntimeError) as exc:  # the result could not be rendered: score by the fit alone
            log.debug("no result check for %s: %s", c.op.describe(), exc)
            px = c.cost_px + COVER_WEIGHT * fit.view.k
        score = float(belief[c.cls] * c.face_conf * c.prior * math.exp(-px / sigma))
        proposals.append(Proposal(c.op, score, {"class": CLASS_NAMES[c.cls], "fit_px": round(px / fit.view.k, 3),
                                                "target": c.target}, base=fit.state, result=new_state))
    proposals.sort(key=lambda p: p.score, reverse=True)
    log.debug("fitted %d proposals from %d candidates in %.1f ms", len(proposals), len(cands),
              1e3 * (time.perf_counter() - t_start))
    return proposals[:top_k]
