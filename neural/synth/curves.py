"""The 3D curves a person draws to ask for an operation, on the model the operation produces.

Our reading of Sketch2CAD (Li et al. 2020; `research/sketch2cad.md`) names three roles of curve:

* base - a curve on the existing model where the operation starts (the polygon or profile on a
  face, the set-back lines of a bevel);
* profile - lines leaving the model along the direction of growth (from the corners of the
  face or polygon along the normal, the sweep path);
* offset - the base moved to where the operation ends (the face outline at its new position,
  the polygon at the top of the prism, the profile at the end of the path).

What is drawn per operation, and why:

* extrude: the face's own outline is already an edge of the model, so a person draws no base;
  they draw straight profile lines from the corners of the face along its normal by the
  distance, and the outline at its new place (offset, closed). A corner is a vertex of the outer
  wire where the outline turns by more than `CORNER_DEG`; a smooth outline (a disc, a slot) has
  none, so four points evenly spread around it stand in for corners, as one would draw the
  sides of a cylinder. A negative distance draws the same going inward; where the face is pulled
  into convex surroundings (a whole side of a box), the lines follow edges that the operation
  removes, so they lie on the model before the operation and the outline on the model after.
* add / subtract: the polygon on the face (base, closed), a line from each corner along the
  outward (add) or inward (subtract) normal (profile), and the moved polygon (offset, closed).
* bevel: two lines parallel to the edge, one on each adjacent face, where the bevel meets it
  (base). They are taken from the result when it has an edge there (exact ends, also where the
  edge meets a slanted face); otherwise the edge is offset into each face by its set-back along
  the in-face direction perpendicular to the edge. No profile or offset.
* sweep: the profile on the face (base, closed; a circle as `CIRCLE_POINTS` points), the path
  (profile) and the profile carried to the path end (offset, closed; turned with the arc's
  tangent for an arc path), following `Sweep._apply`'s geometry exactly. The path is drawn from
  the two points of the profile furthest apart across the bend, parallel to the path through
  the profile's centre: those paths run on the swept surface where a viewer sees them, whereas
  the centre path runs inside the new material (always hidden by `visible_runs` for an add) or
  floats inside the cut for a subtract, so it is left out.

Apart from the pulled-face case above, every curve lies on the surface of the model after the
operation (tests check this), so hidden lines can be removed against a render of that model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sketchforge.modeling.bodies import SolidBody
from sketchforge.modeling.operations import (
    AddPrism,
    ArcPath,
    Bevel,
    Circle,
    Extrude,
    LinePath,
    Operation,
    Polygon,
    SubtractPrism,
    Sweep,
)
from sketchforge.modeling.refs import from_face_coords, plane_frame

CORNER_DEG = 20.0  # an outline vertex turning more than this is a corner a person starts a line from
CIRCLE_POINTS = 48  # samples of a circular sweep profile
ARC_STEP_DEG = 3.0  # sampling of arc paths and their carried profiles


@dataclass(frozen=True)
class Curve:
    """A 3D polyline a person draws, with its role; `closed` joins the last point to the first."""

    points: np.ndarray  # (N, 3) world polyline
    role: str  # "base" | "profile" | "offset"
    closed: bool = False


def operation_curves(op: Operation, before: SolidBody, after: SolidBody) -> list[Curve]:
    """The curves a person draws to ask for `op`, which turned `before` into `after`."""
    if isinstance(op, Extrude):
        return _extrude(op, before)
    if isinstance(op, (AddPrism, SubtractPrism)):
        return _prism(op, before)
    if isinstance(op, Bevel):
        return _bevel(op, before, after)
    if isinstance(op, Sweep):
        return _sweep(op, before)
    raise ValueError(f"no drawing is defined for a {op.id!r} operation; "
                     "synthesise sketches of extrude, add, subtract, bevel or sweep")


# -- helpers ------------------------------------------------------------------------------------
def _face(op, body: SolidBody):
    idx = op.face.resolve(body)
    info = body.faces[idx]
    if not info.planar:
        raise ValueError(f"face {idx} is not flat; the operation cannot have started on it")
    return idx, info


def _face_polygon(info, points) -> np.ndarray:
    """A polygon in face coordinates as world points, without a repeated closing point."""
    pts = np.asarray(points, float).reshape(-1, 2)
    if len(pts) >= 2 and np.allclose(pts[0], pts[-1]):
        pts = pts[:-1]
    return from_face_coords(info.normal, info.origin, pts)


def _corners(poly: np.ndarray, closed: bool = True, min_deg: float = CORNER_DEG) -> np.ndarray:
    """Indices of the vertices of a closed polyline where it turns by more than `min_deg`."""
    prev = poly - np.roll(poly, 1, axis=0)
    nxt = np.roll(poly, -1, axis=0) - poly
    a = np.linalg.norm(prev, axis=1)
    b = np.linalg.norm(nxt, axis=1)
    ok = (a > 0) & (b > 0)
    cos = np.ones(len(poly))
    cos[ok] = np.einsum("ij,ij->i", prev[ok], nxt[ok]) / (a[ok] * b[ok])
    turn = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    idx = np.nonzero(turn > min_deg)[0]
    if not closed:
        idx = idx[(idx > 0) & (idx < len(poly) - 1)]
    return idx


def _spread_points(poly: np.ndarray, x_axis: np.ndarray, count: int = 4) -> np.ndarray:
    """`count` points evenly spread by arc length around a closed polyline, the first at its
    extreme along `x_axis` (stand-ins for corners on a smooth outline)."""
    ring = np.vstack([poly, poly[:1]])
    seg = np.linalg.norm(np.diff(ring, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    total = s[-1]
    start = s[int(np.argmax(poly @ x_axis))]
    targets = (start + total * np.arange(count) / count) % total
    return np.stack([np.interp(targets, s, ring[:, k]) for k in range(3)], axis=1)


def _lines(starts: np.ndarray, vec: np.ndarray, role: str = "profile") -> list[Curve]:
    return [Curve(np.stack([p, p + vec]), role) for p in starts]


def _rotate(points: np.ndarray, center: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotate points about the line through `center` along the unit `axis` (Rodrigues)."""
    v = np.asarray(points, float) - center
    c, s = math.cos(angle), math.sin(angle)
    return center + v * c + np.cross(axis, v) * s + np.outer(v @ axis, axis) * (1 - c)


# -- extrude ------------------------------------------------------------------------------------
def _extrude(op: Extrude, before: SolidBody) -> list[Curve]:
    idx, info = _face(op, before)
    _, x, _, n = plane_frame(info.normal, info.origin)
    vec = n * op.distance
    wires = before.face_outline(idx)
    outer = wires[0]
    corner_idx = _corners(outer)
    starts = outer[corner_idx] if len(corner_idx) >= 2 else _spread_points(outer, x)
    curves = _lines(starts, vec)
    curves += [Curve(w + vec, "offset", closed=True) for w in wires]
    return curves


# -- add / subtract -----------------------------------------------------------------------------
def _prism(op: AddPrism | SubtractPrism, before: SolidBody) -> list[Curve]:
    _, info = _face(op, before)
    n = np.asarray(info.normal, float)
    vec = n * op.distance * (1.0 if op.outward else -1.0)
    poly = _face_polygon(info, op.polygon)
    corner_idx = _corners(poly)
    starts = poly[corner_idx] if len(corner_idx) >= 3 else poly
    return [Curve(poly, "base", closed=True), *_lines(starts, vec), Curve(poly + vec, "offset", closed=True)]


# -- bevel --------------------------------------------------------------------------------------
def _bevel(op: Bevel, before: SolidBody, after: SolidBody) -> list[Curve]:
    # The operation's own choice of which adjacent face takes distance1 (it honours `side`).
    edge_idx, face1 = op.resolve(before)
    face2 = next(f for f in before.edges[edge_idx].faces if f != face1)
    poly = before.edge_polyline(edge_idx)
    closed = len(poly) > 2 and np.linalg.norm(poly[0] - poly[-1]) <= 1e-6 * max(before.diagonal(), 1.0)
    if closed:
        poly = poly[:-1]
    tangent = _tangents(poly, closed)
    mid = len(poly) // 2
    normals = {f: before.face_normals(f, poly) for f in (face1, face2)}
    out = []
    for face, other, dist in ((face1, face2, op.distance1), (face2, face1, op.distance2)):
        if op.style == "fillet":
            cos = np.clip(np.einsum("ij,ij->i", normals[face], normals[other]), -1.0, 1.0)
            setback = op.distance1 * np.tan(np.arccos(cos) / 2.0)
        else:
            setback = np.full(len(poly), float(dist))
        d = np.cross(normals[face], tangent)
        d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
        d *= _into_face_sign(before, face, poly[mid], d[mid])
        guess = poly + setback[:, None] * d
        exact = _matching_edge(after, guess, closed, float(setback.max()))
        out.append(Curve(exact if exact is not None else guess, "base", closed))
    return out


def _tangents(poly: np.ndarray, closed: bool) -> np.ndarray:
    if closed:
        t = np.roll(poly, -1, axis=0) - np.roll(poly, 1, axis=0)
    else:
        t = np.gradient(poly, axis=0)
    return t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)


def _into_face_sign(body: SolidBody, face: int, p: np.ndarray, d: np.ndarray) -> float:
    """+1 when stepping from edge point `p` along `d` goes into `face`, else -1."""
    eps = 1e-3 * max(body.diagonal(), 1.0)
    ahead = body.face_distance(face, p + eps * d)
    behind = body.face_distance(face, p - eps * d)
    return 1.0 if ahead <= behind else -1.0


def _matching_edge(after: SolidBody, guess: np.ndarray, closed: bool, setback: float) -> np.ndarray | None:
    """The edge of `after` that the set-back polyline `guess` runs along, as a polyline, if any."""
    tol = 1e-3 * max(after.diagonal(), 1.0) + 0.02 * setback
    seg = np.linalg.norm(np.diff(guess, axis=0), axis=1)
    length = float(seg.sum()) + (float(np.linalg.norm(guess[0] - guess[-1])) if closed else 0.0)
    centre = guess[len(guess) // 2]
    probe = guess[np.linspace(0, len(guess) - 1, min(len(guess), 9)).round().astype(int)]
    best, best_err = None, math.inf
    for e in after.edges:
        if e.curve == "degenerate":
            continue
        if np.linalg.norm(np.asarray(e.midpoint) - centre) > 0.5 * e.length + length + tol:
            continue
        pts = after.edge_polyline(e.index)
        err = float(np.median(_distance_to_polyline(probe, pts)))
        if err < best_err:
            best, best_err = pts, err
    if best is None or best_err > tol:
        return None
    if closed and len(best) > 2 and np.linalg.norm(best[0] - best[-1]) <= tol:
        best = best[:-1]
    return best


def _distance_to_polyline(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Distance from each point (K, 3) to an open polyline (N, 3)."""
    if len(poly) == 1:
        return np.linalg.norm(points - poly[0], axis=1)
    a, b = poly[:-1], poly[1:]
    ab = b - a
    denom = np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-30)
    t = np.clip(np.einsum("kij,ij->ki", points[:, None, :] - a[None], ab) / denom, 0.0, 1.0)
    closest = a[None] + t[..., None] * ab[None]
    return np.linalg.norm(points[:, None, :] - closest, axis=2).min(axis=1)


# -- sweep --------------------------------------------------------------------------------------
def _sweep(op: Sweep, before: SolidBody) -> list[Curve]:
    _, info = _face(op, before)
    _, x, y, n = plane_frame(info.normal, info.origin)
    if isinstance(op.profile, Polygon):
        profile = _face_polygon(info, op.profile.points)
        start = profile.mean(axis=0)
    elif isinstance(op.profile, Circle):
        start = from_face_coords(info.normal, info.origin, np.asarray(op.profile.center))[0]
        a = np.linspace(0.0, 2 * math.pi, CIRCLE_POINTS, endpoint=False)
        profile = start + op.profile.radius * (np.cos(a)[:, None] * x + np.sin(a)[:, None] * y)
    else:
        raise ValueError(f"unknown sweep profile {op.profile!r}")
    s = 1.0 if op.mode == "add" else -1.0
    bend = math.radians(op.path.bend_deg)
    side = math.cos(bend) * x + math.sin(bend) * y
    across = np.cross(n, side)  # in the face, perpendicular to the bend
    rails = profile[[int(np.argmax(profile @ across)), int(np.argmin(profile @ across))]]
    curves = [Curve(profile, "base", closed=True)]
    if isinstance(op.path, LinePath):
        tilt = math.radians(op.path.tilt_deg)
        vec = op.path.length * (math.cos(tilt) * s * n + math.sin(tilt) * side)
        curves += _lines(rails, vec)
        curves.append(Curve(profile + vec, "offset", closed=True))
    elif isinstance(op.path, ArcPath):
        r, angle = op.path.radius, math.radians(op.path.angle_deg)
        t0 = s * n
        center = start + r * side
        axis = np.cross(t0, side)  # turns -side towards t0: start -> end as in Sweep._apply
        steps = max(8, math.ceil(op.path.angle_deg / ARC_STEP_DEG))
        thetas = np.linspace(0.0, angle, steps + 1)
        for p in rails:
            curves.append(Curve(np.array([_rotate(p[None], center, axis, t)[0] for t in thetas]), "profile"))
        curves.append(Curve(_rotate(profile, center, axis, angle), "offset", closed=True))
    else:
        raise ValueError(f"unknown sweep path {op.path!r}")
    return curves
