"""The sweep fitter: a profile on a face carried along a straight or arc path, out of or into the body."""

from __future__ import annotations

import math

import numpy as np

from sketchforge.modeling.operations import ArcPath, LinePath, Sweep
from sketchforge.modeling.refs import FaceRef, from_face_coords, plane_frame

from ...synth.curves import Curve
from .geometry2d import robust, seg_dist, thin
from .inputs import OFFSET
from .profiles import Profile, base_and_offset, base_profiles, drawn_share
from .rails import Rail, profile_rails
from .state import Candidate, Fit
from .tuning import ENDPOINT_WEIGHT, FULL_BASE, STRAIGHT_BONUS


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

    def __init__(self, fit: Fit, info, prof: Profile, rails: list[Rail]) -> None:
        self.fit = fit
        self.o, self.x, self.y, self.n = plane_frame(info.normal, info.origin)
        self.prof = prof
        self.start = prof.world.mean(axis=0) if prof.kind == "polygon" else \
            from_face_coords(info.normal, info.origin, prof.center)[0]
        self.rails = rails
        self.rail_starts = np.array([r.start for r in rails]).reshape(-1, 3)
        self.rail_points = np.concatenate([thin(r.uv, 40) for r in rails]) if rails else np.zeros((0, 2))
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
            total += robust(seg_dist(off, p, np.roll(p, -1, axis=1)), fit.trunc).sum(axis=1)
            weight += len(off)
        if self.rails:
            p = v.project(rails)  # (G, R, S, 2); a profile stroke is scored against all rails
            a = p[:, :, :-1].reshape(len(p), -1, 2)
            b = p[:, :, 1:].reshape(len(p), -1, 2)
            total += robust(seg_dist(self.rail_points, a, b), fit.trunc).sum(axis=1)
            ends = np.linalg.norm(p[:, :, -1] - self.rail_fars[None], axis=2)  # (G, R)
            if inward.any() and self.opening.any():  # going in, a rail may vanish into the cut
                for j in np.nonzero(self.opening)[0]:
                    on = seg_dist(self.rail_fars[j][None], p[:, j, :-1], p[:, j, 1:])[:, 0]
                    ends[:, j] = np.where(inward, on, ends[:, j])
            total += ENDPOINT_WEIGHT * robust(ends, fit.trunc).sum(axis=1)
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


def _chord_guesses(fit: Fit, model: _SweepModel) -> np.ndarray:
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


def _sweep_paths(fit: Fit, model: _SweepModel) -> list[tuple[float, object, float]]:
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


def fit_sweep(fit: Fit) -> list[Candidate]:
    """Sweep candidates: the profiles the base strokes draw on a flat face, each with its best paths."""
    base_pts, offset = base_and_offset(fit)
    out = []
    for face, conf in fit.planar_faces():
        info = fit.body.faces[face]
        profiles = base_profiles(fit, face, ("polygon", "circle"), base_pts)
        if not profiles:
            continue
        best = profiles[0].residual_px
        found = []
        for prof in [p for p in profiles if p.residual_px <= 1.3 * best + 0.2 * fit.view.k][:2]:
            found.extend(_sweeps_of(fit, info, prof))
        if found and len(offset) >= 6 and drawn_share(fit, profiles[0]) < FULL_BASE:
            # refit the profile from the base and the offset strokes carried back along the best path
            s, path, _, model = min(found, key=lambda x: x[2])
            for prof in base_profiles(fit, face, (model.prof.kind,), base_pts, offset, model.motion(s, path)):
                found.extend(_sweeps_of(fit, info, prof))
        if not found:
            continue
        floor = min(c for _, _, c, _ in found)
        for s, path, cost, model in sorted(found, key=lambda x: x[2]):
            if cost > 1.6 * floor + 0.5 * fit.view.k:
                continue
            op = Sweep(fit.body_id, FaceRef.of(fit.body, face), model.prof.op_profile(), path,
                       "add" if s > 0 else "subtract")
            out.append(Candidate(op, 3, cost, conf, model.drawing(s, path), f"face {face}"))
    return out


def _sweeps_of(fit: Fit, info, prof: Profile) -> list[tuple[float, object, float, "_SweepModel"]]:
    """(sign, path, cost including the profile's residual, model) of the paths fitted for `prof`."""
    rails = profile_rails(fit, [prof.world], None, (info.origin, info.normal), opening=True)
    model = _SweepModel(fit, info, prof, rails)
    return [(s, path, cost + 0.5 * prof.residual_px, model) for s, path, cost in _sweep_paths(fit, model)]
