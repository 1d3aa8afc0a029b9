"""Fitters whose result is a prism: extrude a face, and add or subtract a prism on it. Both move a
base curve along the face normal; the distance is searched by image cost."""

from __future__ import annotations

import math

import numpy as np

from sketchforge.modeling.operations import AddPrism, Extrude, SubtractPrism
from sketchforge.modeling.refs import FaceRef

from ...synth.curves import Curve
from .geometry2d import polygon_area, robust, seg_dist
from .inputs import OFFSET, PROFILE
from .profiles import Profile, base_and_offset, base_profiles, drawn_share
from .rails import Rail, profile_rails
from .state import Candidate, Fit
from .tuning import ENDPOINT_WEIGHT, FULL_BASE, TYPICAL_WEIGHT
from .view import View


# -- the distance along a direction ---------------------------------------------------------------
def _along_line(view: View, start: np.ndarray, direction: np.ndarray, uv: np.ndarray) -> float | None:
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


def _translation_cost(fit: Fit, ts: np.ndarray, base_world: list[np.ndarray], direction: np.ndarray,
                      rails: list[Rail], offset: np.ndarray, typical: float) -> np.ndarray:
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


def _translation_cost_chunk(fit: Fit, ts: np.ndarray, base_world: list[np.ndarray], direction: np.ndarray,
                            rails: list[Rail], off: np.ndarray) -> np.ndarray:
    v = fit.view
    total = np.zeros(len(ts))
    weight = 0.0
    if len(off):
        shifted = [w[None] + ts[:, None, None] * direction for w in base_world]  # (G, K, 3)
        proj = [v.project(s) for s in shifted]
        a = np.concatenate([p for p in proj], axis=1)
        b = np.concatenate([np.roll(p, -1, axis=1) for p in proj], axis=1)
        total += robust(seg_dist(off, a, b), fit.trunc).sum(axis=1)
        weight += len(off)
    for r in rails:
        readings = [(r.start, r.far)] + ([r.alt] if r.alt is not None else [])
        best = np.full(len(ts), np.inf)
        for start, far in readings:
            s0 = v.project(start)
            ends = v.project(start[None] + ts[:, None] * direction)  # (G, 2)
            a = np.broadcast_to(s0, ends.shape)[:, None, :]
            c = robust(seg_dist(r.uv, a, ends[:, None, :]), fit.trunc).sum(axis=1)
            end = np.linalg.norm(ends - far, axis=1)
            if r.into_opening:  # going in, the line may vanish into the cut: the end must lie on it
                on = seg_dist(far[None], a, ends[:, None, :])[:, 0]
                end = np.where(ts < 0, on, end)
            c += ENDPOINT_WEIGHT * robust(end, fit.trunc)
            best = np.minimum(best, c)
        total += best
        weight += len(r.uv) + ENDPOINT_WEIGHT
    return total / max(weight, 1.0)


def _search_translation(fit: Fit, base_world: list[np.ndarray], direction: np.ndarray,
                        rails: list[Rail], offset: np.ndarray, typical: float) -> list[tuple[float, float]]:
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


def fit_extrude(fit: Fit) -> list[Candidate]:
    """Extrude candidates: each flat stitching face moved along its normal by the best distance each way."""
    if not (fit.by_role[PROFILE] or fit.by_role[OFFSET]):
        return []
    out = []
    for face, conf in fit.planar_faces():
        info = fit.body.faces[face]
        wires = fit.body.face_outline(face)
        if not wires:
            continue
        n = np.asarray(info.normal, float)
        corners = _corner_points(wires[0])
        smooth = len(corners) < 2
        rails = profile_rails(fit, wires, None if smooth else corners, (info.origin, n))
        starts = np.array([r.start for r in rails]).reshape(-1, 3) if smooth else corners
        for t, cost in _search_translation(fit, wires, n, rails, fit.points[OFFSET], 0.15 * fit.diag)[:2]:
            if abs(t) < 1e-3:
                continue
            op = Extrude(fit.body_id, FaceRef.of(fit.body, face), round(t, 4))
            out.append(Candidate(op, 0, cost, conf, _translation_drawing(wires, n, t, starts, False),
                                  f"face {face}"))
    return out


# -- add / subtract -------------------------------------------------------------------------------
def fit_prism(fit: Fit) -> list[Candidate]:
    """Add / subtract candidates: the polygon the base strokes draw on a flat face, grown out or cut in."""
    base_pts, offset = base_and_offset(fit)
    out = []
    for face, conf in fit.planar_faces():
        info = fit.body.faces[face]
        n = np.asarray(info.normal, float)
        found = []
        for prof in base_profiles(fit, face, ("polygon",), base_pts):
            found.extend(_prisms_of(fit, info, prof, offset))
        if found and len(offset) >= 6 and drawn_share(fit, found[0][2]) < FULL_BASE:
            # refit the polygon from the base and the offset strokes carried back by the best distance
            t, _, _ = min(found, key=lambda x: x[1])
            for prof in base_profiles(fit, face, ("polygon",), base_pts, offset, (np.eye(3), t * n)):
                found.extend(_prisms_of(fit, info, prof, offset))
        for t, cost, prof in found:
            cls = AddPrism if t > 0 else SubtractPrism
            op = cls(fit.body_id, FaceRef.of(fit.body, face), prof.op_profile().points, round(abs(t), 4))
            out.append(Candidate(op, 1, cost, conf, _translation_drawing([prof.world], n, t, prof.corners, True),
                                  f"face {face}"))
    return out


def _prisms_of(fit: Fit, info, prof: Profile, offset: np.ndarray) -> list[tuple[float, float, Profile]]:
    """(signed distance, cost including the polygon's residual, polygon) of the best distance each way."""
    n = np.asarray(info.normal, float)
    rails = profile_rails(fit, [prof.world], prof.corners, (info.origin, n), opening=True)
    size = math.sqrt(abs(polygon_area(prof.uv)) / math.pi)
    return [(t, cost + 0.5 * prof.residual_px, prof)
            for t, cost in _search_translation(fit, [prof.world], n, rails, offset, size)[:2] if abs(t) >= 1e-3]
