"""Random but sensible CAD sequences, built through the same operation objects the app applies.

A sequence is a start body followed by 1..`max_ops` random operations of the four Sketch2CAD
classes. Every parameter is drawn relative to the part (its bounding-box diagonal `D`) or to the
face / edge it acts on, so parts of any size get operations of sensible proportions:

Start bodies (chosen uniformly; `L` ~ U(30, 120) mm is the part's length):
    box       L x L*U(0.35, 1) x L*U(0.25, 1)
    plate     L x L*U(0.5, 1) x L*U(0.06, 0.18)
    cylinder  radius L*U(0.2, 0.5), height L*U(0.3, 1.2)
    L-block   a box L x L*U(0.4, 1) x L*U(0.15, 0.4) with an `add` prism over U(0.25, 0.5) of its
              top along x, as tall as U(0.8, 2.0) times the base
Faces an operation starts on: flat, at least 1% of the body's area, not facing down (normal z
> -0.7: people rarely sketch on the underside and the views look from above), chosen with
probability proportional to area. `s` below is the size of a profile: U(0.2, 0.55) times the
face's equivalent radius sqrt(area / pi), shrunk until the profile (inflated by 12%) lies inside
the face.
    0 extrude    push (70%): U(0.06, 0.3) D; pull (30%): U(0.15, 0.6) of the body's thickness
                 along the face normal
    1 add        rectangle (45%, axis-aligned 70%), triangle, 5/6-gon or convex quad of size s;
                 height U(0.5, 1.5) s, within [0.06, 0.35] D (lower prisms shrink to a few pixels)
      subtract   the same profiles; depth U(0.5, 1.5) s within [0.06, 0.35] D, at most 0.85 of the
                 thickness
                 (50% add, 50% subtract)
    2 bevel      a convex edge (line or circle, length >= 0.08 D) between two faces; chamfer (85%)
                 with set-back U(0.08, 0.3) of the narrower adjacent face width (at most 0.15 D),
                 the second set-back equal (50%) or U(0.5, 2.0) times the first within 0.35 of its
                 face; fillet (15%) with the first set-back as radius
    3 sweep      circle (50%, radius s*U(0.5, 1)) or polygon profile; add (60%) or subtract;
                 line path (50%) of length U(0.1, 0.35) D (subtract: at most 0.85 of the thickness)
                 tilted U(15, 50) degrees (a circle may also go straight up, 40%: a straight polygon
                 sweep would be an add prism, class 1) towards a random bend; or an arc path of
                 radius U(0.1, 0.4) D over U(30, 120) degrees (subtract: U(20, 70)).
Parameters the kernel rejects (the operation raises `OperationError`) are discarded and counted;
the generator tries new parameters (then another class) instead. Class choice keeps a running
balance: the next operation's class is the one furthest below its configured share of the items
made so far (ties broken at random), so each shard comes out balanced.

Everything is drawn from the numpy Generator given, and the kernel is deterministic, so a
sequence is a pure function of the generator's state.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from sketchforge.modeling.bodies import SolidBody
from sketchforge.modeling.operations import (
    AddPrism,
    ArcPath,
    Bevel,
    Box,
    Circle,
    Cylinder,
    Extrude,
    LinePath,
    ModelState,
    Operation,
    OperationError,
    Polygon,
    SubtractPrism,
    Sweep,
)
from sketchforge.modeling.params import ParamError
from sketchforge.modeling.refs import EdgeRef, FaceRef, ReferenceError, from_face_coords, to_face_coords

from ..labels import CLASS_NAMES, OP_CLASS, OP_IDS  # noqa: F401 - re-exported for the data modules

BODY = "body1"
START_KINDS = ("box", "plate", "cylinder", "lblock")


@dataclass(frozen=True)
class SequenceConfig:
    """How sequences are drawn; see the module docstring for the parameter ranges."""

    max_ops: int = 4  # operations after the start body: 1..max_ops, uniformly
    attempts: int = 4  # parameter draws per class before trying the next class
    balance: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)  # share of items per class

    def __post_init__(self) -> None:
        if self.max_ops < 1:
            raise ValueError("max_ops must be at least 1")
        if len(self.balance) != 4 or any(not math.isfinite(w) or w < 0 for w in self.balance) \
                or sum(self.balance) <= 0:
            raise ValueError("balance needs four non-negative class weights with a positive sum")


@dataclass(frozen=True)
class Step:
    """One applied random operation with the model before and after it."""

    op: Operation
    op_class: int
    index: int  # position among the random operations of the sequence (0-based)
    history: tuple[Operation, ...]  # everything applied before `op`, start body included
    before: ModelState
    after: ModelState
    targets: tuple[int, ...]  # face indices in `before` the op attaches to (bevel: the edge's two faces)
    anchor: tuple[float, float, float]  # a world point at the op's location, for framing views
    normals: tuple[tuple[float, float, float], ...]  # outward normals of the target faces at the anchor

    @property
    def op_id(self) -> int:
        return OP_IDS.index(self.op.id)

    @property
    def before_body(self) -> SolidBody:
        return self.before.solid(BODY)

    @property
    def after_body(self) -> SolidBody:
        return self.after.solid(BODY)


@dataclass
class OpStats:
    """Counts of random operations: kernel attempts, clean applications, rejections per class."""

    attempted: Counter = field(default_factory=Counter)
    applied: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    no_candidate: Counter = field(default_factory=Counter)  # nothing on the body to apply it to
    reasons: Counter = field(default_factory=Counter)  # rejection messages, shortened

    def merge(self, other: "OpStats") -> None:
        for name in ("attempted", "applied", "rejected", "no_candidate", "reasons"):
            getattr(self, name).update(getattr(other, name))

    def to_json(self) -> dict:
        def per_class(c: Counter) -> list[int]:
            return [int(c.get(k, 0)) for k in range(4)]
        att, app = sum(self.attempted.values()), sum(self.applied.values())
        return {"attempted": per_class(self.attempted), "applied": per_class(self.applied),
                "rejected": per_class(self.rejected), "no_candidate": per_class(self.no_candidate),
                "clean_share": round(app / att, 4) if att else None,
                "reasons": dict(self.reasons.most_common(12))}

    @staticmethod
    def from_json(d: dict) -> "OpStats":
        s = OpStats()
        for name in ("attempted", "applied", "rejected", "no_candidate"):
            getattr(s, name).update({k: v for k, v in enumerate(d.get(name, [])) if v})
        s.reasons.update(d.get("reasons", {}))
        return s


class ClassBalancer:
    """Chooses the class furthest below its share of the items made so far."""

    def __init__(self, weights: Sequence[float]) -> None:
        w = np.asarray(weights, float)
        self.share = w / w.sum()
        self.counts = np.zeros(4, np.int64)

    def order(self, rng: np.random.Generator) -> list[int]:
        """Classes with a positive share, most wanted first (ties broken at random)."""
        total = self.counts.sum() + 1
        deficit = self.share * total - self.counts
        jitter = rng.random(4) * 1e-6
        return [int(c) for c in np.argsort(-(deficit + jitter)) if self.share[c] > 0]

    def record(self, op_class: int, items: int) -> None:
        self.counts[op_class] += items


# -- faces as 2D regions (from the display tessellation, no kernel calls) -------------------------
@dataclass(frozen=True)
class FaceRegion:
    """A flat face as triangles in its canonical 2D frame (the frame polygons are given in)."""

    index: int
    normal: np.ndarray
    origin: np.ndarray
    tris: np.ndarray  # (T, 3, 2)
    areas: np.ndarray  # (T,)
    area: float

    @staticmethod
    def of(body: SolidBody, index: int) -> "FaceRegion | None":
        info = body.faces[index]
        mesh = body.mesh()
        sel = mesh.face_ids == index
        if not info.planar or not sel.any():
            return None
        tri3 = mesh.vertices[mesh.triangles[sel]]
        uv = to_face_coords(info.normal, info.origin, tri3.reshape(-1, 3)).reshape(-1, 3, 2)
        a = 0.5 * np.abs((uv[:, 1, 0] - uv[:, 0, 0]) * (uv[:, 2, 1] - uv[:, 0, 1])
                         - (uv[:, 1, 1] - uv[:, 0, 1]) * (uv[:, 2, 0] - uv[:, 0, 0]))
        return FaceRegion(index, np.asarray(info.normal), np.asarray(info.origin), uv, a, float(info.area))

    def sample_point(self, rng: np.random.Generator) -> np.ndarray:
        t = int(rng.choice(len(self.areas), p=self.areas / self.areas.sum()))
        r1, r2 = rng.random(2)
        if r1 + r2 > 1:
            r1, r2 = 1 - r1, 1 - r2
        a, b, c = self.tris[t]
        return a + r1 * (b - a) + r2 * (c - a)

    def contains(self, pts: np.ndarray, eps: float = 1e-9) -> np.ndarray:
        """Which 2D points (N, 2) lie inside the face (on a triangle, boundary included)."""
        p = np.asarray(pts, float).reshape(-1, 1, 2)
        a, b, c = self.tris[None, :, 0], self.tris[None, :, 1], self.tris[None, :, 2]
        v0, v1, v2 = c - a, b - a, p - a
        d00 = (v0 * v0).sum(-1)
        d01 = (v0 * v1).sum(-1)
        d11 = (v1 * v1).sum(-1)
        d20 = (v2 * v0).sum(-1)
        d21 = (v2 * v1).sum(-1)
        den = d00 * d11 - d01 * d01
        ok = np.abs(den) > 1e-18
        den = np.where(ok, den, 1.0)
        u = (d11 * d20 - d01 * d21) / den
        v = (d00 * d21 - d01 * d20) / den
        inside = ok & (u >= -eps) & (v >= -eps) & (u + v <= 1 + eps)
        return inside.any(axis=1)

    def to_world(self, uv: np.ndarray) -> np.ndarray:
        return from_face_coords(self.normal, self.origin, uv)


def _outline_probe(poly: np.ndarray, inflate: float = 1.12, per_edge: int = 4) -> np.ndarray:
    """Points along a polygon inflated about its centroid: all must lie in the face."""
    c = poly.mean(axis=0)
    big = c + inflate * (poly - c)
    t = np.linspace(0.0, 1.0, per_edge, endpoint=False)[:, None]
    segs = [big[i] + t * (big[(i + 1) % len(big)] - big[i]) for i in range(len(big))]
    return np.concatenate(segs)


def _random_polygon(rng: np.random.Generator, center: np.ndarray, s: float) -> np.ndarray:
    kind = rng.choice(4, p=[0.45, 0.15, 0.2, 0.2])
    if kind == 0:  # rectangle, mostly aligned with the face frame
        a, b = s * rng.uniform(0.6, 1.0), s * rng.uniform(0.4, 1.0)
        rot = 0.0 if rng.random() < 0.7 else rng.uniform(0, math.pi)
        local = np.array([[-a, -b], [a, -b], [a, b], [-a, b]])
    elif kind == 1:  # triangle
        ang = rng.uniform(0, 2 * math.pi) + np.radians([0, 120, 240]) + rng.uniform(-20, 20, 3) * math.pi / 180
        rad = s * rng.uniform(0.7, 1.0, 3)
        local = np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=1)
        rot = 0.0
    elif kind == 2:  # regular pentagon or hexagon
        n = int(rng.choice([5, 6]))
        ang = np.arange(n) * 2 * math.pi / n
        local = s * np.stack([np.cos(ang), np.sin(ang)], axis=1)
        rot = rng.uniform(0, math.pi)
    else:  # irregular convex quad: four angles at least 50 degrees apart
        gaps = rng.uniform(50, 130, 4)
        ang = np.radians(np.cumsum(gaps) / gaps.sum() * 360.0)
        rad = s * rng.uniform(0.6, 1.0, 4)
        local = np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=1)
        rot = rng.uniform(0, 2 * math.pi)
    c, sn = math.cos(rot), math.sin(rot)
    return center + local @ np.array([[c, sn], [-sn, c]])


def _fit_profile(rng: np.random.Generator, region: FaceRegion, diag: float,
                 circle: bool) -> tuple[np.ndarray, float] | None:
    """A polygon (or a circle as (centre, radius)) inside the face, or None when none fits."""
    rho = math.sqrt(region.area / math.pi)
    s = rho * rng.uniform(0.2, 0.55)
    for _ in range(12):
        if s < 0.02 * diag:
            return None
        center = region.sample_point(rng)
        if circle:
            r = s * rng.uniform(0.5, 1.0)
            ang = np.linspace(0, 2 * math.pi, 24, endpoint=False)
            probe = center + 1.12 * r * np.stack([np.cos(ang), np.sin(ang)], axis=1)
            if region.contains(probe).all():
                return center, r
        else:
            poly = _random_polygon(rng, center, s)
            if region.contains(_outline_probe(poly)).all():
                return poly, s
        s *= 0.85
    return None


# -- the body ------------------------------------------------------------------------------------
def _thickness(body: SolidBody, n: np.ndarray) -> float:
    v = body.mesh().vertices @ n
    return float(v.max() - v.min())


def _faces_for_sketching(body: SolidBody) -> list[FaceRegion]:
    total = body.area
    out = []
    for f in body.faces:
        if f.planar and f.area >= 0.01 * total and f.normal[2] > -0.7:
            r = FaceRegion.of(body, f.index)
            if r is not None:
                out.append(r)
    return out


def _pick_face(rng: np.random.Generator, faces: list[FaceRegion]) -> FaceRegion:
    a = np.array([f.area for f in faces])
    return faces[int(rng.choice(len(faces), p=a / a.sum()))]


def start_ops(rng: np.random.Generator) -> tuple[str, list[Operation]]:
    """The operations that build a random start body (named `BODY`)."""
    kind = START_KINDS[int(rng.integers(len(START_KINDS)))]
    L = float(rng.uniform(30.0, 120.0))
    r3 = lambda v: round(float(v), 3)  # noqa: E731 - readable sizes in the params JSON
    if kind == "box":
        return kind, [Box(BODY, (r3(L), r3(L * rng.uniform(0.35, 1.0)), r3(L * rng.uniform(0.25, 1.0))))]
    if kind == "plate":
        return kind, [Box(BODY, (r3(L), r3(L * rng.uniform(0.5, 1.0)), r3(L * rng.uniform(0.06, 0.18))))]
    if kind == "cylinder":
        return kind, [Cylinder(BODY, r3(L * rng.uniform(0.2, 0.5)), r3(L * rng.uniform(0.3, 1.2)))]
    sx, sy, sz = L, L * rng.uniform(0.4, 1.0), L * rng.uniform(0.15, 0.4)
    wx = sx * rng.uniform(0.25, 0.5)
    x0, y0 = -sx / 2, -sy / 2
    poly = ((r3(x0), r3(y0)), (r3(x0 + wx), r3(y0)), (r3(x0 + wx), r3(-y0)), (r3(x0), r3(-y0)))
    top = FaceRef((0.0, 0.0, 1.0), (0.0, 0.0, r3(sz)), 0.0)
    return kind, [Box(BODY, (r3(sx), r3(sy), r3(sz))), AddPrism(BODY, top, poly, r3(sz * rng.uniform(0.8, 2.0)))]


def _extrude(rng, body: SolidBody, diag: float):
    faces = _faces_for_sketching(body)
    if not faces:
        return None
    f = _pick_face(rng, faces)
    if rng.random() < 0.7:
        d = diag * rng.uniform(0.06, 0.3)
    else:
        d = -_thickness(body, f.normal) * rng.uniform(0.15, 0.6)
    return Extrude(BODY, FaceRef.of(body, f.index), round(float(d), 4)), (f.index,), _anchor(f), (_n(f.normal),)


def _n(v) -> tuple[float, float, float]:
    return tuple(float(x) for x in v)


def _anchor(region: FaceRegion, uv: np.ndarray | None = None) -> tuple[float, float, float]:
    if uv is None:
        w = region.areas / region.areas.sum()
        uv = (region.tris.mean(axis=1) * w[:, None]).sum(axis=0)
    return tuple(float(x) for x in region.to_world(np.asarray(uv).reshape(1, 2))[0])


def _round_poly(poly: np.ndarray) -> tuple[tuple[float, float], ...]:
    return tuple((round(float(u), 4), round(float(v), 4)) for u, v in poly)


def _prism(rng, body: SolidBody, diag: float):
    faces = _faces_for_sketching(body)
    if not faces:
        return None
    f = _pick_face(rng, faces)
    fit = _fit_profile(rng, f, diag, circle=False)
    if fit is None:
        return None
    poly, s = fit
    h = float(np.clip(s * rng.uniform(0.5, 1.5), 0.06 * diag, 0.35 * diag))
    ref = FaceRef.of(body, f.index)
    if rng.random() < 0.5:
        op = AddPrism(BODY, ref, _round_poly(poly), round(h, 4))
    else:
        h = min(h, 0.85 * _thickness(body, f.normal))
        op = SubtractPrism(BODY, ref, _round_poly(poly), round(h, 4))
    return op, (f.index,), _anchor(f, poly.mean(axis=0)), (_n(f.normal),)


def _sweep(rng, body: SolidBody, diag: float):
    faces = _faces_for_sketching(body)
    if not faces:
        return None
    f = _pick_face(rng, faces)
    circle = rng.random() < 0.5
    fit = _fit_profile(rng, f, diag, circle=circle)
    if fit is None:
        return None
    subtract = rng.random() < 0.4
    if circle:
        center, r = fit
        profile = Circle((round(float(center[0]), 4), round(float(center[1]), 4)), round(float(r), 4))
    else:
        poly, _ = fit
        center = poly.mean(axis=0)
        profile = Polygon(_round_poly(poly))
    bend = round(float(rng.uniform(0, 360)), 2)
    if rng.random() < 0.5:
        length = diag * rng.uniform(0.1, 0.35)
        if subtract:
            length = min(length, 0.85 * _thickness(body, f.normal))
        tilt = 0.0 if circle and rng.random() < 0.4 else float(rng.uniform(15, 50))
        path = LinePath(round(float(length), 4), round(tilt, 2), bend)
    else:
        angle = rng.uniform(20, 70) if subtract else rng.uniform(30, 120)
        path = ArcPath(round(float(diag * rng.uniform(0.1, 0.4)), 4), round(float(angle), 2), bend)
    op = Sweep(BODY, FaceRef.of(body, f.index), profile, path, "subtract" if subtract else "add")
    return op, (f.index,), _anchor(f, center), (_n(f.normal),)


def _face_normal_near(body: SolidBody, face: int, p: np.ndarray) -> np.ndarray | None:
    info = body.faces[face]
    if info.planar:
        return np.asarray(info.normal)
    mesh = body.mesh()
    sel = np.nonzero(mesh.face_ids == face)[0]
    if not len(sel):
        return None
    tri = mesh.vertices[mesh.triangles[sel]]
    k = int(np.argmin(np.linalg.norm(tri.mean(axis=1) - p, axis=1)))
    n = np.cross(tri[k, 1] - tri[k, 0], tri[k, 2] - tri[k, 0])
    ln = np.linalg.norm(n)
    return n / ln if ln > 0 else None


def _into_face(body: SolidBody, face: int, p: np.ndarray, d: np.ndarray, n: np.ndarray,
               diag: float) -> tuple[np.ndarray, float] | None:
    """The unit direction from the edge point `p` into the face (perpendicular to the edge) and the
    face's width that way, from its tessellation."""
    w = np.cross(d, n)
    w /= np.linalg.norm(w)
    mesh = body.mesh()
    verts = mesh.vertices[np.unique(mesh.triangles[mesh.face_ids == face])]
    if not len(verts):
        return None
    reach = (verts - p) @ w
    if reach.max() < -reach.min():
        w, reach = -w, -reach
    width = float(reach.max())
    if width < 1e-3 * diag:
        return None
    return w, width


def _bevel(rng, body: SolidBody, diag: float):
    cands = []
    for e in body.edges:
        if e.curve not in ("line", "circle") or len(e.faces) != 2 or e.length < 0.08 * diag:
            continue
        a, b = e.faces
        if not (body.faces[a].planar or body.faces[b].planar):
            continue
        cands.append(e)
    order = rng.permutation(len(cands))
    for k in order[:8]:
        e = cands[int(k)]
        p, d = np.asarray(e.midpoint), np.asarray(e.direction)
        a, b = e.faces
        na, nb = _face_normal_near(body, a, p), _face_normal_near(body, b, p)
        if na is None or nb is None or abs(float(np.dot(na, nb))) > 0.985 or min(na[2], nb[2]) < -0.7:
            continue  # tangent faces, or a face seen from below only
        ia, ib = _into_face(body, a, p, d, na, diag), _into_face(body, b, p, d, nb, diag)
        if ia is None or ib is None:
            continue
        (wa, width_a), (wb, width_b) = ia, ib
        if np.dot(na, wb) > -0.05 or np.dot(nb, wa) > -0.05:
            continue  # concave edge: a bevel there would add material
        if rng.random() < 0.5:  # the first set-back goes on either face
            a, b, na, nb, width_a, width_b = b, a, nb, na, width_b, width_a
        d1 = min(min(width_a, width_b) * rng.uniform(0.08, 0.3), 0.15 * diag)
        if rng.random() < 0.15:
            op = Bevel(BODY, EdgeRef.of(body, e.index), round(d1, 4), round(d1, 4), "fillet")
        else:
            d2 = d1 if rng.random() < 0.5 else min(d1 * rng.uniform(0.5, 2.0), 0.35 * width_b)
            d1 = min(d1, 0.35 * width_a)
            side = tuple(round(float(x), 9) for x in na)
            op = Bevel(BODY, EdgeRef.of(body, e.index), round(float(d1), 4), round(float(d2), 4), "chamfer", side)
        return op, (a, b), tuple(float(x) for x in p), (_n(na), _n(nb))
    return None


_MAKERS: dict[int, Callable] = {0: _extrude, 1: _prism, 2: _bevel, 3: _sweep}


def random_sequence(rng: np.random.Generator, config: SequenceConfig, balancer: ClassBalancer,
                    stats: OpStats) -> Iterator[Step]:
    """Yield the applied random operations of one new sequence, one `Step` at a time.

    The caller records the items each step gave in `balancer` before asking for the next step, so
    the class choice follows what was actually made.
    """
    _, ops = start_ops(rng)
    state = ModelState()
    for op in ops:
        state = op.apply(state)  # start bodies are valid by construction
    history = tuple(ops)
    n_ops = int(rng.integers(1, config.max_ops + 1))
    for index in range(n_ops):
        body = state.solid(BODY)
        diag = body.diagonal()
        made = None
        for cls in balancer.order(rng):
            for _ in range(config.attempts):
                drawn = _MAKERS[cls](rng, body, diag)
                if drawn is None:
                    stats.no_candidate[cls] += 1
                    break
                op, targets, anchor, normals = drawn
                stats.attempted[cls] += 1
                try:
                    after = op.apply(state)
                except (OperationError, ReferenceError, ParamError) as exc:
                    stats.rejected[cls] += 1
                    stats.reasons[f"{op.id}: {str(exc)[:70]}"] += 1
                    continue
                stats.applied[cls] += 1
                made = Step(op, cls, index, history, state, after, targets, anchor, normals)
                break
            if made is not None:
                break
        if made is None:
            return
        yield made
        history = history + (made.op,)
        state = made.after
