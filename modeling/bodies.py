"""Bodies are immutable values: a B-rep solid, a plain triangle mesh, or a colored point cloud.

Only `SolidBody` holds a kernel shape, and only `modeling.occ` looks inside it; everything else
reads our own `FaceInfo` / `EdgeInfo` records and numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np


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
        return topology.face_infos(self.shape)

    @cached_property
    def _edges(self) -> list[EdgeInfo]:
        from .occ import topology
        return topology.edge_infos(self.shape)

    @cached_property
    def _props(self) -> tuple[float, float]:
        from .occ import topology
        return topology.volume_and_area(self.shape)

    @cached_property
    def _mesh(self) -> Mesh:
        from .occ import tessellate
        return tessellate.tessellate(self.shape)

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
    """Colored points (the point-cloud back end's result), colors as uint8 RGB."""

    points: np.ndarray
    colors: np.ndarray | None = None
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

    def bounds(self) -> np.ndarray:
        if not len(self.points):
            return np.zeros((2, 3))
        return np.stack([self.points.min(0), self.points.max(0)])

    def mesh(self) -> None:
        return None

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "points": len(self.points)}
