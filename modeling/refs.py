"""References to faces and edges that survive regeneration.

A reference is a geometric signature (a point on the element, its direction, its size), not a bare
index: it is resolved against the regenerated shape, so a history still replays after an earlier
step's parameters change. Resolution first looks for an element that contains the recorded point
exactly; failing that (the element moved because an earlier step changed), it takes the nearest
element facing the same way, provided the choice is clear. Otherwise it raises `ReferenceError`
naming what was lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .bodies import SolidBody

_ANGLE_TOL = math.cos(math.radians(0.5))


class ReferenceError(LookupError):
    """A face or edge a step refers to cannot be found in the regenerated model."""


def _fmt(v) -> str:
    return "(" + ", ".join(f"{x:.4g}" for x in v) + ")"


@dataclass(frozen=True)
class FaceRef:
    """A planar face: its outward normal, a point on it, and its area (to break ties)."""

    kind = "face"
    normal: tuple[float, float, float]
    point: tuple[float, float, float]
    area: float = 0.0

    @staticmethod
    def of(body: SolidBody, index: int) -> "FaceRef":
        """The reference to face `index` of `body` (a planar face)."""
        if not 0 <= index < len(body.faces):
            raise ReferenceError(f"face {index} does not exist; the body has faces 0..{len(body.faces) - 1}")
        info = body.faces[index]
        if not info.planar:
            raise ReferenceError(f"face {index} is {info.surface}, not planar; sketch operations start on flat faces")
        point = tuple(float(x) for x in body.face_interior_point(index))
        return FaceRef(tuple(round(x, 12) for x in info.normal), point, round(info.area, 9))

    def resolve(self, body: SolidBody) -> int:
        """The index of the face this reference names in `body`."""
        n = np.asarray(self.normal, float)
        cands = [f for f in body.faces if f.planar and float(np.dot(f.normal, n)) > _ANGLE_TOL]
        if not cands:
            raise ReferenceError(f"no flat face facing {_fmt(self.normal)} is left on the body; "
                                 "edit or delete the step that refers to it")
        tol = 1e-6 * max(body.diagonal(), 1.0)
        p = np.asarray(self.point, float)
        on_plane = [f for f in cands if abs(float(np.dot(p - np.asarray(f.origin), f.normal))) <= tol]
        inside = [f for f in on_plane if body.face_contains(f.index, p, tol)]
        if len(inside) == 1:  # the usual case, decided without distance computations
            return inside[0].index
        dists = [body.face_distance(f.index, self.point) for f in cands]
        return cands[_nearest(dists, tol, body, f"the face facing {_fmt(self.normal)} near {_fmt(self.point)}")].index


@dataclass(frozen=True)
class EdgeRef:
    """An edge: its midpoint, its direction there, its length."""

    kind = "edge"
    point: tuple[float, float, float]
    direction: tuple[float, float, float]
    length: float = 0.0

    @staticmethod
    def of(body: SolidBody, index: int) -> "EdgeRef":
        if not 0 <= index < len(body.edges):
            raise ReferenceError(f"edge {index} does not exist; the body has edges 0..{len(body.edges) - 1}")
        e = body.edges[index]
        if e.curve == "degenerate":
            raise ReferenceError(f"edge {index} is degenerate (a seam point); pick a visible edge")
        return EdgeRef(tuple(round(x, 12) for x in e.midpoint), tuple(round(x, 12) for x in e.direction),
                       round(e.length, 9))

    def resolve(self, body: SolidBody) -> int:
        d = np.asarray(self.direction, float)
        p = np.asarray(self.point, float)
        cands = [e for e in body.edges if e.curve != "degenerate" and abs(float(np.dot(e.direction, d))) > _ANGLE_TOL]
        if not cands:
            raise ReferenceError(f"no edge running along {_fmt(self.direction)} is left on the body; "
                                 "edit or delete the step that refers to it")
        dists = [float(np.linalg.norm(np.asarray(e.midpoint) - p)) for e in cands]
        tol = 1e-6 * max(body.diagonal(), 1.0)
        return cands[_nearest(dists, tol, body, f"the edge along {_fmt(self.direction)} near {_fmt(self.point)}")].index


def _nearest(dists: list[float], tol: float, body: SolidBody, what: str) -> int:
    """The candidate a reference names: an exact match, or else the nearest one when the element moved
    (an earlier step changed) and that choice stands out clearly from the next candidate."""
    order = np.argsort(dists)
    best = int(order[0])
    if dists[best] <= tol:
        return best
    if dists[best] > 0.5 * body.diagonal():
        raise ReferenceError(f"{what} is gone; edit or delete the step that refers to it")
    if len(order) > 1 and dists[order[1]] - dists[best] < 0.25 * dists[best]:
        raise ReferenceError(f"{what} moved and two candidates now match it; edit the step to pick it again")
    return best


def plane_frame(normal, point) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The canonical 2D frame of a plane: origin, x axis, y axis, normal.

    The origin is the world origin projected onto the plane and the x axis follows world X (or
    world Y for planes facing along X), so polygon coordinates stay put in the world when an
    earlier step moves the face along its normal.
    """
    n = np.asarray(normal, float)
    n = n / np.linalg.norm(n)
    o = n * float(np.dot(np.asarray(point, float), n))
    ref = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = ref - np.dot(ref, n) * n
    x /= np.linalg.norm(x)
    y = np.cross(n, x)
    return o, x, y, n


def to_face_coords(normal, point, world: np.ndarray) -> np.ndarray:
    """World points (N, 3) to 2D coordinates in the canonical frame of the plane."""
    o, x, y, _ = plane_frame(normal, point)
    w = np.asarray(world, float).reshape(-1, 3) - o
    return np.stack([w @ x, w @ y], axis=1)


def from_face_coords(normal, point, uv: np.ndarray) -> np.ndarray:
    """2D coordinates in the canonical frame of the plane to world points (N, 3)."""
    o, x, y, _ = plane_frame(normal, point)
    uv = np.asarray(uv, float).reshape(-1, 2)
    return o + uv[:, :1] * x + uv[:, 1:2] * y
