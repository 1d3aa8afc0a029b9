"""Bodies are immutable values: a B-rep solid, a plain triangle mesh, or a colored point cloud.

Only `SolidBody` holds a kernel shape, and only `modeling.occ` looks inside it; everything else
reads our own `FaceInfo` / `EdgeInfo` records and numpy arrays, and asks a solid's methods for the
geometry it needs (a face's outline, an edge's polyline, normals, distances, booleans). The kernel
layer never imports this module: it returns plain values that the methods here wrap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from .occ.errors import KernelError

__all__ = ["Body", "EdgeInfo", "FaceInfo", "KernelError", "Mesh", "MeshBody", "PointCloudBody", "SolidBody"]


@dataclass(frozen=True)
class FaceInfo:
    """What the rest of the house knows of one B-rep face."""

    index: int
    planar: bool
    normal: tuple[float, float, float] | None  # outward unit normal of a planar face
    origin: tuple[float, float, float] | None  # a point of the plane
    area: float
    centroid: tuple[float, float, float]
    surface: str  # "plane", "cylinder", "cone", "sphere", "torus", "bspline", "other"


@dataclass(frozen=True)
class EdgeInfo:
    """What the rest of the house knows of one B-rep edge."""

    index: int
    curve: str  # "line", "circle", "other"
    midpoint: tuple[float, float, float]
    direction: tuple[float, float, float]  # unit tangent at the midpoint
    length: float
    faces: tuple[int, ...]  # indices of the adjacent faces, in kernel order


@dataclass(frozen=True)
class Mesh:
    """Triangles with a per-triangle face id (for B-rep tessellations) and optional vertex colors."""

    vertices: np.ndarray  # (N, 3) float64
    triangles: np.ndarray  # (M, 3) int64
    face_ids: np.ndarray | None = None  # (M,) int32, B-rep face index per triangle
    colors: np.ndarray | None = None  # (N, 3) or (N, 4) uint8


class Body:
    """Base class: a named, immutable piece of the model."""

    kind: str = "body"

    def bounds(self) -> np.ndarray:
        """Axis-aligned bounds (2, 3): min corner, max corner."""
        raise NotImplementedError

    def mesh(self) -> Mesh | None:
        """A triangle mesh for display, rendering and mesh exports (None for point clouds)."""
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind}


@dataclass(frozen=True, eq=False)
class SolidBody(Body):
    """A closed B-rep solid. `shape` is an opaque kernel handle; use the methods, not the handle."""

    shape: Any
    kind: str = field(default="solid", init=False)

    @cached_property
    def _faces(self) -> list[FaceInfo]:
        from .occ import topology
        return [FaceInfo(i, **facts) for i, facts in enumerate(topology.faces_facts(self.shape))]

    @cached_property
    def _edges(self) -> list[EdgeInfo]:
        from .occ import topology
        return [EdgeInfo(i, **facts) for i, facts in enumerate(topology.edges_facts(self.shape))]

    @cached_property
    def _props(self) -> tuple[float, float]:
        from .occ import topology
        return topology.volume_and_area(self.shape)

    @cached_property
    def _mesh(self) -> Mesh:
        from .occ import tessellate
        return Mesh(*tessellate.tessellate(self.shape))

    @cached_property
    def _edge_segments(self) -> np.ndarray:
        from .occ import tessellate
        return tessellate.edge_segments(self.shape)

    def edge_segments(self) -> np.ndarray:
        """The B-rep edges as line segments (K, 2, 3) for display."""
        return self._edge_segments

    @cached_property
    def _bounds(self) -> np.ndarray:
        from .occ import topology
        return topology.bounds(self.shape)

    @property
    def faces(self) -> list[FaceInfo]:
        return self._faces

    @property
    def edges(self) -> list[EdgeInfo]:
        return self._edges

    @property
    def volume(self) -> float:
        return self._props[0]

    @property
    def area(self) -> float:
        return self._props[1]

    def bounds(self) -> np.ndarray:
        return self._bounds

    def mesh(self) -> Mesh:
        return self._mesh

    # -- the geometry of faces and edges: numpy in, numpy out --------------------------------------
    def face_outline(self, face: int, deflection: float | None = None) -> list[np.ndarray]:
        """The wires of face `face` as closed (N, 3) polylines in order around it, the outer wire
        first, then the holes: what a person traces over the face. Straight edges give their end
        points, curved ones chord-error samples (`deflection`, default 1e-4 of the diagonal)."""
        from .occ import curves
        return curves.face_outline(self.shape, face, deflection)

    def edge_polyline(self, edge: int, deflection: float | None = None) -> np.ndarray:
        """Edge `edge` as an (N, 3) polyline in its parameter direction (a closed edge repeats its
        first point at the end; a degenerate edge gives no points)."""
        from .occ import curves
        return curves.edge_polyline(self.shape, edge, deflection)

    def face_normals(self, face: int, points: np.ndarray) -> np.ndarray:
        """Outward unit normals of face `face` at the surface points nearest `points`: (3,) gives
        (3,), (N, 3) gives (N, 3); zero where the kernel finds no normal. Also for curved faces."""
        from .occ import solids
        p = np.asarray(points, float)
        rows = [solids.face_normal_at(self.shape, face, q) for q in p.reshape(-1, 3)]
        return np.array(rows, float).reshape(p.shape)

    def face_distance(self, face: int, point: np.ndarray) -> float:
        """The distance from a 3D point to face `face` (inf when the kernel cannot measure it)."""
        from .occ import solids
        return solids.point_face_distance(self.shape, face, np.asarray(point, float).reshape(3))

    def face_contains(self, face: int, point: np.ndarray, tol: float) -> bool:
        """Whether a point on the plane of face `face` lies inside the face or on its boundary."""
        from .occ import solids
        return solids.point_in_face(self.shape, face, np.asarray(point, float).reshape(3), tol)

    def face_interior_point(self, face: int) -> np.ndarray:
        """A point (3,) inside face `face`, to refer to the face by: its centroid when that lies on
        the face, else the middle of its largest display triangle."""
        from .occ import solids
        return np.array(solids.face_interior_point(self.shape, face), float)

    # -- booleans ---------------------------------------------------------------------------------
    def cut(self, other: SolidBody) -> SolidBody | None:
        """The material of this solid that `other` does not hold, or None when nothing is left.
        Raises KernelError when the kernel cannot cut the two."""
        from .occ import solids, topology
        shape = solids.cut(self.shape, other.shape)
        return SolidBody(shape) if topology.solid_count(shape) else None

    def fuse(self, other: SolidBody) -> SolidBody | None:
        """The material either solid holds, or None when the kernel's result holds no solid.
        Raises KernelError when the kernel cannot join the two."""
        from .occ import solids, topology
        shape = solids.fuse(self.shape, other.shape)
        return SolidBody(shape) if topology.solid_count(shape) else None

    def diagonal(self) -> float:
        b = self.bounds()
        return float(np.linalg.norm(b[1] - b[0]))

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "volume": round(self.volume, 6), "faces": len(self.faces),
                "edges": len(self.edges)}


@dataclass(frozen=True, eq=False)
class MeshBody(Body):
    """A plain triangle mesh (imported, or made by a neural back end), optionally vertex-colored."""

    vertices: np.ndarray
    triangles: np.ndarray
    colors: np.ndarray | None = None
    source: str = field(default="", compare=False)  # what made it ("face" for a sketched head), "" if unknown
    kind: str = field(default="mesh", init=False)

    def __post_init__(self) -> None:
        v = np.ascontiguousarray(self.vertices, dtype=np.float64).reshape(-1, 3)
        t = np.ascontiguousarray(self.triangles, dtype=np.int64).reshape(-1, 3)
        if len(t) and (t.min() < 0 or t.max() >= len(v)):
            raise ValueError("mesh triangles refer to vertices that do not exist")
        if not np.isfinite(v).all():
            raise ValueError("mesh vertices hold NaN or infinite coordinates")
        object.__setattr__(self, "vertices", v)
        object.__setattr__(self, "triangles", t)
        if self.colors is not None:
            c = np.ascontiguousarray(self.colors, dtype=np.uint8)
            if c.shape[0] != len(v) or c.shape[1] not in (3, 4):
                raise ValueError("mesh colors must be one RGB or RGBA row per vertex")
            object.__setattr__(self, "colors", c)

    def bounds(self) -> np.ndarray:
        if not len(self.vertices):
            return np.zeros((2, 3))
        return np.stack([self.vertices.min(0), self.vertices.max(0)])

    def mesh(self) -> Mesh:
        return Mesh(self.vertices, self.triangles, None, self.colors)

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "vertices": len(self.vertices), "triangles": len(self.triangles)}


@dataclass(frozen=True, eq=False)
class PointCloudBody(Body):
    """Colored points (the point-cloud back end's result), colors as uint8 RGB; `parts` labels each
    point with an index into `part_names` (-1: no part), when the cloud's parts are known."""

    points: np.ndarray
    colors: np.ndarray | None = None
    source: str = field(default="", compare=False)  # what made it ("points" for a sketched cloud), "" if unknown
    parts: np.ndarray | None = None
    part_names: tuple[str, ...] = ()
    kind: str = field(default="points", init=False)

    def __post_init__(self) -> None:
        p = np.ascontiguousarray(self.points, dtype=np.float64).reshape(-1, 3)
        if not np.isfinite(p).all():
            raise ValueError("point cloud holds NaN or infinite coordinates")
        object.__setattr__(self, "points", p)
        if self.colors is not None:
            c = np.ascontiguousarray(self.colors, dtype=np.uint8)
            if c.shape != (len(p), 3):
                raise ValueError("point colors must be one RGB row per point")
            object.__setattr__(self, "colors", c)
        if self.parts is not None:
            labels = np.asarray(self.parts)
            if labels.shape != (len(p),) or labels.dtype.kind not in "iu":
                raise ValueError("point parts must be one whole number per point")
            if len(labels) and (labels.min() < -1 or labels.max() >= len(self.part_names)):
                raise ValueError(f"point parts must index the {len(self.part_names)} part names (or be -1)")
            object.__setattr__(self, "parts", np.ascontiguousarray(labels, dtype=np.int16))
        object.__setattr__(self, "part_names", tuple(str(n) for n in self.part_names))

    def part_mask(self, names) -> np.ndarray:
        """The points of the parts called `names` (ValueError naming the parts there are when one
        is not in this cloud)."""
        wanted = [names] if isinstance(names, str) else list(names)
        if self.parts is None:
            raise ValueError("this cloud's parts are not known; re-color all of it")
        unknown = [n for n in wanted if n not in self.part_names]
        if unknown:
            have = sorted({self.part_names[i] for i in np.unique(self.parts) if i >= 0})
            raise ValueError(f"this cloud has no part {', '.join(map(repr, unknown))}; its parts are "
                             f"{', '.join(have) or 'none'}")
        ids = [self.part_names.index(n) for n in wanted]
        return np.isin(self.parts, ids)

    def bounds(self) -> np.ndarray:
        if not len(self.points):
            return np.zeros((2, 3))
        return np.stack([self.points.min(0), self.points.max(0)])

    def mesh(self) -> None:
        return None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "points": len(self.points)}
        if self.parts is not None:
            out["parts"] = sorted({self.part_names[i] for i in np.unique(self.parts) if i >= 0})
        return out
