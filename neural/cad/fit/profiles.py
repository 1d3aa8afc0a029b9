"""Base curves: the closed profile (a polygon or a circle) that base strokes draw on a face."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sketchforge.modeling.bodies import SolidBody
from sketchforge.modeling.operations import Circle, Polygon
from sketchforge.modeling.refs import from_face_coords, plane_frame, to_face_coords

from .geometry2d import convex_hull, fit_circle, fit_polygon, resample, robust, snap_polygon, thin
from .inputs import BASE, OFFSET
from .state import Fit
from .tuning import EXTRA_CORNER_PX


@dataclass
class Profile:
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


def _lifted(fit: Fit, pts: np.ndarray, info, motion=None) -> tuple[np.ndarray, np.ndarray]:
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


def base_profiles(fit: Fit, face: int, kinds: tuple[str, ...], pts: np.ndarray,
                   offset: np.ndarray | None = None, motion=None) -> list[Profile]:
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
    fit_uv = thin(uv, 200)

    def residual(poly_world: np.ndarray) -> float:
        """Symmetric chamfer (px) of each group of strokes with the outline (carried by its
        motion): strokes to outline, and the best 60% of outline samples to strokes (parts of
        the outline may be hidden behind what the operation adds)."""
        out = []
        for img_g, mo in groups:
            w = poly_world if mo is None else poly_world @ mo[0].T + mo[1]
            proj = fit.view.project(w)
            there = float(np.mean(fit.chamfer(img_g, [proj], closed=True)))
            ring = resample(np.vstack([proj, proj[:1]]), 1.0 * fit.view.k)
            if not len(ring):
                return float("inf")
            back = robust(np.sqrt(((ring[:, None, :] - img_g[None]) ** 2).sum(-1).min(axis=1)), fit.trunc)
            back = np.sort(back)[:max(1, int(0.6 * len(back)))]
            out.append(0.5 * (there + float(np.mean(back))))
        return float(np.mean(out))

    out: list[Profile] = []
    if "polygon" in kinds:
        axes = _face_axes(fit.body, face)
        fits = []
        hull = convex_hull(fit_uv)
        for k in (3, 4, 5, 6):
            poly = fit_polygon(fit_uv, k, hull=hull)
            if poly is None:
                continue
            poly = snap_polygon(poly, fit_uv, axes)
            w3 = from_face_coords(info.normal, info.origin, poly)
            fits.append((k, poly, w3, residual(w3)))
        if fits:
            best = min(f[3] for f in fits)
            k, poly, w3, res = next(f for f in fits if f[3] <= best + EXTRA_CORNER_PX * fit.view.k)
            out.append(Profile("polygon", poly, w3, w3, res))
    if "circle" in kinds:
        circ = fit_circle(fit_uv)
        if circ is not None:
            c, r = circ
            a = np.linspace(0.0, 2 * math.pi, 48, endpoint=False)
            ring = c + r * np.stack([np.cos(a), np.sin(a)], axis=1)
            w3 = from_face_coords(info.normal, info.origin, ring)
            out.append(Profile("circle", ring, w3, w3, residual(w3), c, r))
    out.sort(key=lambda p: p.residual_px)
    return out


def base_and_offset(fit: Fit) -> tuple[np.ndarray, np.ndarray]:
    """Base and offset stroke points; in tiny drawings the later offset strokes cover the base in the
    role map, so the offset points then stand for the base."""
    base_pts, offset = fit.points[BASE], fit.points[OFFSET]
    if len(base_pts) < 6:
        return offset, np.zeros((0, 2))
    return base_pts, offset


def drawn_share(fit: Fit, prof: Profile) -> float:
    """The share of the profile's projected outline that base strokes draw (within 2 px)."""
    p = fit.view.project(prof.world)
    ring = resample(np.vstack([p, p[:1]]), 1.0 * fit.view.k)
    inside = (ring[:, 0] >= 0) & (ring[:, 0] < fit.view.w) & (ring[:, 1] >= 0) & (ring[:, 1] < fit.view.h)
    ring = ring[inside]
    if not len(ring):
        return 0.0
    d = fit.role_distance(BASE)[ring[:, 1].astype(int), ring[:, 0].astype(int)]
    return float(np.mean(d <= 2.0 * fit.view.k))
