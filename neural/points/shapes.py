"""Mesh primitives the procedural objects are assembled from, the named part and the object.

Every primitive is a loft: rings of points joined by quads, optionally closed by a fan at either
end. Rings wind anticlockwise about the direction they advance in (about +Z for a lathe), which
gives outward normals, so silhouettes can be found by the sign of each face's facing. Sizes are
millimetres, Z up; primitives are built in place (no transform step), so an object is the
concatenation of its parts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import trimesh

PART_NAMES: tuple[str, ...] = (
    "seat", "back", "leg", "arm", "top", "base", "stem", "shade", "body", "handle", "neck", "cap",
    "label", "cushion", "stretcher", "shelf", "frame", "apron",
)
"""The one vocabulary of part names; a part's label is its index here (stable: append only)."""

PART_LABELS: dict[str, int] = {name: k for k, name in enumerate(PART_NAMES)}


@dataclass(frozen=True, eq=False)
class Part:
    """One named piece of an object: a triangle mesh in millimetres with its vocabulary name."""

    name: str
    mesh: trimesh.Trimesh

    def __post_init__(self) -> None:
        if self.name not in PART_LABELS:
            raise ValueError(f"unknown part name {self.name!r}; add it to PART_NAMES")

    @property
    def label(self) -> int:
        return PART_LABELS[self.name]


@dataclass(frozen=True, eq=False)
class PointsObject:
    """An object as parts, standing on z = 0 and centred in XY (millimetres, front towards -Y),
    with what a person may call it and the variant choices it was built with."""

    category: str
    parts: tuple[Part, ...]
    style: dict[str, str]
    nouns: tuple[str, ...]
    adjectives: tuple[str, ...] = ()

    def bounds(self) -> np.ndarray:
        """Axis-aligned bounds (2, 3): min corner, max corner."""
        v = np.concatenate([p.mesh.vertices for p in self.parts])
        return np.stack([v.min(0), v.max(0)])

    def part_names(self) -> tuple[str, ...]:
        """The names of the parts present, in vocabulary order."""
        present = {p.name for p in self.parts}
        return tuple(n for n in PART_NAMES if n in present)

    def counts(self) -> dict[str, int]:
        """How many pieces each part name has (4 legs, 1 seat)."""
        out: dict[str, int] = {}
        for p in self.parts:
            out[p.name] = out.get(p.name, 0) + 1
        return out

    def moved(self, offset) -> "PointsObject":
        """The object translated by `offset` (3,)."""
        off = np.asarray(offset, float)
        parts = tuple(Part(p.name, _mesh(p.mesh.vertices + off, p.mesh.faces)) for p in self.parts)
        return PointsObject(self.category, parts, self.style, self.nouns, self.adjectives)


def _mesh(vertices: np.ndarray, faces: np.ndarray) -> trimesh.Trimesh:
    return trimesh.Trimesh(np.asarray(vertices, float), np.asarray(faces, np.int64), process=False)


def loft(rings: list[np.ndarray] | np.ndarray, cap_start: bool = True, cap_end: bool = True) -> trimesh.Trimesh:
    """Rings (R, S, 3) of S points each joined in order; the ends closed by fans about their
    centroids when asked. Each ring must wind anticlockwise about the direction of advance."""
    rings = np.asarray(rings, float)
    r, s = rings.shape[:2]
    idx = np.arange(r * s).reshape(r, s)
    a, b = idx[:-1], np.roll(idx[:-1], -1, axis=1)
    c, d = np.roll(idx[1:], -1, axis=1), idx[1:]
    faces = [np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)]
    verts = [rings.reshape(-1, 3)]
    n = r * s
    if cap_start:
        ring = idx[0]
        faces.append(np.stack([np.full(s, n), np.roll(ring, -1), ring], -1))
        verts.append(rings[0].mean(0, keepdims=True))
        n += 1
    if cap_end:
        ring = idx[-1]
        faces.append(np.stack([np.full(s, n), ring, np.roll(ring, -1)], -1))
        verts.append(rings[-1].mean(0, keepdims=True))
    return _mesh(np.concatenate(verts), np.concatenate(faces))


def circle(radius: float, sections: int, phase: float = 0.0) -> np.ndarray:
    """(sections, 2) points anticlockwise on a circle."""
    t = phase + np.linspace(0.0, 2 * math.pi, sections, endpoint=False)
    return radius * np.stack([np.cos(t), np.sin(t)], 1)


def rounded_rect(width: float, depth: float, radius: float, per_corner: int = 6) -> np.ndarray:
    """Anticlockwise outline (K, 2) of a rectangle centred at 0 with rounded corners."""
    radius = float(np.clip(radius, 0.0, 0.5 * min(width, depth)))
    if radius < 1e-6:
        w, d = width / 2, depth / 2
        return np.array([[w, -d], [w, d], [-w, d], [-w, -d]], float)
    out = []
    for k, (sx, sy) in enumerate(((1, -1), (1, 1), (-1, 1), (-1, -1))):
        cx, cy = sx * (width / 2 - radius), sy * (depth / 2 - radius)
        t = np.linspace(-math.pi / 2 + k * math.pi / 2, k * math.pi / 2, per_corner)
        out.append(np.stack([cx + radius * np.cos(t), cy + radius * np.sin(t)], 1))
    return np.concatenate(out)


def slab(outline: np.ndarray, z0: float, z1: float, center=(0.0, 0.0)) -> trimesh.Trimesh:
    """A prism of a star-shaped anticlockwise outline (K, 2) between heights z0 < z1."""
    xy = np.asarray(outline, float) + np.asarray(center, float)
    rings = [np.column_stack([xy, np.full(len(xy), z)]) for z in (z0, z1)]
    return loft(rings)


def box(center, size) -> trimesh.Trimesh:
    """An axis-aligned box."""
    c, (sx, sy, sz) = np.asarray(center, float), size
    return slab(rounded_rect(sx, sy, 0.0), c[2] - sz / 2, c[2] + sz / 2, c[:2])


def lathe(profile, sections: int = 32, cap_start: bool = True, cap_end: bool = True,
          center=(0.0, 0.0, 0.0)) -> trimesh.Trimesh:
    """A surface of revolution about the vertical axis through `center` of a profile (K, 2) of
    (radius, height) rows; radii must be positive (close an end with a cap instead)."""
    prof = np.asarray(profile, float)
    ring = circle(1.0, sections)
    c = np.asarray(center, float)
    rings = [np.column_stack([r * ring + c[:2], np.full(sections, z + c[2])]) for r, z in prof]
    return loft(rings, cap_start, cap_end)


def _frames(path: np.ndarray, hint=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tangents and parallel-transported normals / binormals along a polyline (N, 3)."""
    d = np.gradient(path, axis=0)
    t = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    ref = np.asarray(hint if hint is not None else (0.0, 0.0, 1.0), float)
    if abs(float(np.dot(ref, t[0]))) > 0.95 * np.linalg.norm(ref):
        ref = np.array([1.0, 0.0, 0.0]) if abs(t[0][0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    n = np.cross(ref, t[0])
    n /= np.linalg.norm(n)
    normals = [n]
    for k in range(1, len(path)):
        n = n - np.dot(n, t[k]) * t[k]
        n /= max(np.linalg.norm(n), 1e-12)
        normals.append(n)
    nn = np.asarray(normals)
    return t, nn, np.cross(t, nn)


def sweep(path, section: np.ndarray, caps: bool = True, hint=None) -> trimesh.Trimesh:
    """A cross-section (S, 2), anticlockwise, carried along a polyline path (N, 3)."""
    p = np.asarray(path, float)
    t, n, b = _frames(p, hint)
    sec = np.asarray(section, float)
    rings = p[:, None, :] + sec[None, :, 0:1] * n[:, None, :] + sec[None, :, 1:2] * b[:, None, :]
    return loft(rings, caps, caps)


def rod(p0, p1, r0: float, r1: float | None = None, sections: int = 20, caps: bool = True) -> trimesh.Trimesh:
    """A round rod (a tapered one when r1 differs) from p0 to p1."""
    r1 = r0 if r1 is None else r1
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    t, n, b = _frames(np.stack([p0, p1]))
    ring = circle(1.0, sections)
    rings = [p + r * (ring[:, 0:1] * n[0] + ring[:, 1:2] * b[0]) for p, r in ((p0, r0), (p1, r1))]
    return loft(rings, caps, caps)


def beam(p0, p1, across, width: float, thickness: float, taper: float = 1.0, caps: bool = True) -> trimesh.Trimesh:
    """A rectangular bar from p0 to p1, `width` along the world direction `across` (made square
    to the bar) and `thickness` across both; `taper` scales the section at p1."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    axis = (p1 - p0) / max(float(np.linalg.norm(p1 - p0)), 1e-12)
    n = np.asarray(across, float) - np.dot(across, axis) * axis
    n /= max(float(np.linalg.norm(n)), 1e-12)
    b = np.cross(axis, n)
    sq = np.array([[1, -1], [1, 1], [-1, 1], [-1, -1]], float) * 0.5 * np.array([width, thickness])
    rings = [p + s * (sq[:, 0:1] * n + sq[:, 1:2] * b) for p, s in ((p0, 1.0), (p1, taper))]
    return loft(rings, caps, caps)


def panel(outline: np.ndarray, y0: float, y1: float, center=(0.0, 0.0)) -> trimesh.Trimesh:
    """A flat panel standing upright: an anticlockwise outline (K, 2) in the (x, z) plane around
    `center`, between y0 < y1 (a chair back, a bench end)."""
    m = slab(outline, y0, y1, center)
    v = m.vertices[:, [0, 2, 1]]
    return _mesh(v, m.faces[:, ::-1])


def spline(points, n: int = 24) -> np.ndarray:
    """A Catmull-Rom curve (n, D) through the control points (K, D), ends included."""
    p = np.asarray(points, float)
    ext = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    seg = len(p) - 1
    s = np.linspace(0.0, seg, n)
    k = np.minimum(s.astype(int), seg - 1)
    u = (s - k)[:, None]
    p0, p1, p2, p3 = ext[k], ext[k + 1], ext[k + 2], ext[k + 3]
    return 0.5 * ((2 * p1) + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u ** 2
                  + (-p0 + 3 * p1 - 3 * p2 + p3) * u ** 3)


def arc(center, radius: float, a0: float, a1: float, n: int, plane: str = "xz") -> np.ndarray:
    """Points (n, 3) on a circular arc from angle a0 to a1 (radians) in an axis plane."""
    t = np.linspace(a0, a1, n)
    c = np.asarray(center, float)
    u, v = radius * np.cos(t), radius * np.sin(t)
    zero = np.zeros(n)
    cols = {"xz": (u, zero, v), "yz": (zero, u, v), "xy": (u, v, zero)}[plane]
    return c + np.stack(cols, 1)
