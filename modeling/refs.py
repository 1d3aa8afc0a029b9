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
from .occ import solids as kernel

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
        point = kernel.face_interior_point(body.shape, index)
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
        inside = [f for f in on_plane if kernel.point_in_face(body.shape, f.index, p, tol)]
        if len(inside) == 1:  # the usual case, decided without distance computations
            return inside[0].index
        dists = np.array([kernel.point_face_distance(body.shape, f.index, self.point) for f in cands])
        order = np.argsort(dists)
        best = order[0]
        if dists[best] <= tol:
            return cands[best].index
        # The face moved (an earlier step changed): accept the nearest one facing the same way when
        # it stands out clearly from the next candidate.
        limit = 0.5 * body.diagonal()
        if dists[best] > limit:
            raise ReferenceError(f"the face facing {_fmt(self.normal)} near {_fmt(self.point)} is gone; "
                                 "edit or delete the step that refers to it")
        if len(order) > 1 and dists[order[1]] - dists[best] < 0.25 * dists[best]:
            raise ReferenceError(f"the face facing {_fmt(self.normal)} near {_fmt(self.point)} moved and two faces "
                                 "now match it; edit the step to pick the face again")
        return cands[best].index


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
        dists = np.array([np.linalg.norm(np.asarray(e.midpoint) - p) for e in cands])
        order = np.argsort(dists)
        best = order[0]
        tol = 1e-6 * max(body.diagonal(), 1.0)
        if dists[best] <= tol:
            return cands[best].index
        if dists[best] > 0.5 * body.diagonal():
            raise ReferenceError(f"the edge along {_fmt(self.direction)} near {_fmt(self.point)} is gone; "
                                 "edit or delete the step that refers to it")
        if len(order) > 1 and dists[order[1]] - dists[best] < 0.25 * dists[best]:
            raise ReferenceError(f"the edge near {_fmt(self.point)} moved and two edges now match it; "
                                 "edit the step to pick the edge again")
        return cands[best].index


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
