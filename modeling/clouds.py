"""Operations on colored point clouds: re-color (all or named parts), paint parts one color,
split a cloud into its parts, and turn a cloud into a colored mesh.

Every point keeps its position and its place in the order through a re-color: only the colors
change (the `points` back end computes them; they travel in the document as a blob, as a
proposal's data does). Meshing is Open3D's screened Poisson reconstruction (or ball pivoting)
on normals estimated from the points, its vertices colored by their nearest points.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from .bodies import MeshBody, PointCloudBody
from .operations import KeepsSketch, ModelState, Operation, OperationError, PutPoints, _new_body_id, read_colors_blob

__all__ = ["SketchPoints", "Recolor", "PaintParts", "SplitParts", "MeshCloud", "cloud_of"]


def cloud_of(state: ModelState, body_id: str) -> PointCloudBody:
    """The point cloud `body_id` of `state` (OperationError saying what there is otherwise)."""
    return state.body_of(body_id, PointCloudBody, "point clouds")


@dataclass(frozen=True)
class SketchPoints(KeepsSketch, PutPoints):
    """A colored cloud drawn as a sketch with a prompt (the `points` back end's result): its data
    as `PutPoints` reads it, with what it was made from: the object's category, the prompt, the
    number of points, the seed of the sampling (another seed, another cloud) and `sketch`, the key
    of the blob holding the sketch file it was drawn as (empty when not kept), from which
    `Session.resample` samples it again."""

    id: ClassVar[str] = "points"
    title: ClassVar[str] = "Sketched point cloud"
    source: str = "points"
    category: str = ""
    prompt: str = ""
    points: int = 0
    seed: int = 0
    sketch: str = ""

    def describe(self) -> str:
        what = f"{self.category.capitalize() or 'Point cloud'} {self.body}"
        return what + (f': "{self.prompt}"' if self.prompt else "") + (" (again)" if self.replace else "")


def _part_mask(cloud: PointCloudBody, parts: tuple[str, ...]) -> np.ndarray:
    if not parts:
        return np.ones(len(cloud.points), bool)
    try:
        return cloud.part_mask(parts)
    except ValueError as exc:
        raise OperationError(str(exc)) from None


def _recolored(state: ModelState, body_id: str, cloud: PointCloudBody, mask: np.ndarray, colors: np.ndarray):
    new = (cloud.colors.copy() if cloud.colors is not None
           else np.full((len(cloud.points), 3), 200, np.uint8))
    new[mask] = colors[mask]
    return state.with_body(body_id, dataclasses.replace(cloud, colors=new))


@dataclass(frozen=True)
class Recolor(Operation):
    """New colors for the points of a cloud (all, or those of the named `parts`), every position
    and the order kept exactly: the colors of all points travel as a blob (`colors_blob`), with
    the prompt they came from."""

    id: ClassVar[str] = "recolor"
    title: ClassVar[str] = "Re-color"
    body: str
    blob: str
    prompt: str = ""
    parts: tuple[str, ...] = ()

    def _check(self, state: ModelState) -> None:
        cloud = cloud_of(state, self.body)
        _part_mask(cloud, self.parts)
        if self.blob not in state.blobs:
            raise OperationError(f"the color data of {self.body!r} is missing from the document")

    def _apply(self, state: ModelState) -> ModelState:
        self._check(state)
        cloud = cloud_of(state, self.body)
        try:
            colors = read_colors_blob(state.blobs[self.blob])
        except ValueError as exc:
            raise OperationError(f"the color data of {self.body!r} is damaged: {exc}") from None
        if len(colors) != len(cloud.points):
            raise OperationError(f"the colors are for {len(colors)} points but {self.body!r} has "
                                 f"{len(cloud.points)}; re-color it again")
        return _recolored(state, self.body, cloud, _part_mask(cloud, self.parts), colors)

    def describe(self) -> str:
        what = f"Re-color {self.body}" + (f" ({', '.join(self.parts)})" if self.parts else "")
        return what + (f': "{self.prompt}"' if self.prompt else "")


@dataclass(frozen=True)
class PaintParts(Operation):
    """Paint the points of a cloud (all, or those of the named `parts`) one RGB color."""

    id: ClassVar[str] = "paint_parts"
    title: ClassVar[str] = "Paint"
    body: str
    color: tuple[int, int, int]
    parts: tuple[str, ...] = ()

    def _check(self, state: ModelState) -> None:
        if not all(0 <= c <= 255 for c in self.color):
            raise OperationError(f"a color is three numbers from 0 to 255, got {self.color}")
        _part_mask(cloud_of(state, self.body), self.parts)

    def _apply(self, state: ModelState) -> ModelState:
        self._check(state)
        cloud = cloud_of(state, self.body)
        colors = np.tile(np.asarray(self.color, np.uint8), (len(cloud.points), 1))
        return _recolored(state, self.body, cloud, _part_mask(cloud, self.parts), colors)

    def describe(self) -> str:
        hexa = "#%02x%02x%02x" % tuple(self.color)
        return f"Paint {self.body}" + (f" ({', '.join(self.parts)})" if self.parts else "") + f" {hexa}"


@dataclass(frozen=True)
class SplitParts(Operation):
    """Segment a cloud: one cloud body per part (named `<body>-<part>`), in place of the whole."""

    id: ClassVar[str] = "split_parts"
    title: ClassVar[str] = "Split into parts"
    body: str

    def _names(self, cloud: PointCloudBody) -> list[tuple[str, int]]:
        if cloud.parts is None:
            raise OperationError(f"the parts of {self.body!r} are not known, so it cannot be split")
        return [(f"{self.body}-{cloud.part_names[i]}", int(i)) for i in np.unique(cloud.parts) if i >= 0]

    def _check(self, state: ModelState) -> None:
        cloud = cloud_of(state, self.body)
        names = self._names(cloud)
        if len(names) < 2:
            raise OperationError(f"{self.body!r} has only one part; there is nothing to split")
        rest = dict(state.bodies)
        rest.pop(self.body)
        for name, _ in names:
            _new_body_id(dataclasses.replace(state, bodies=rest), name)

    def _apply(self, state: ModelState) -> ModelState:
        self._check(state)
        cloud = cloud_of(state, self.body)
        bodies = {k: v for k, v in state.bodies.items() if k != self.body}
        for name, label in self._names(cloud):
            m = np.asarray(cloud.parts) == label
            bodies[name] = PointCloudBody(cloud.points[m], None if cloud.colors is None else cloud.colors[m],
                                          source=cloud.source, parts=np.zeros(int(m.sum()), np.int16),
                                          part_names=(cloud.part_names[label],))
        from types import MappingProxyType
        return dataclasses.replace(state, bodies=MappingProxyType(bodies))

    def describe(self) -> str:
        return f"Split {self.body} into its parts"


@dataclass(frozen=True)
class MeshCloud(Operation):
    """A colored triangle mesh made from a cloud (kept beside it) as body `target`: screened
    Poisson reconstruction of `depth` (5-9; finer with more points) trimmed to where the points
    are dense, or ball pivoting at radii from the points' spacing."""

    id: ClassVar[str] = "mesh_cloud"
    title: ClassVar[str] = "Mesh from points"
    creates: ClassVar[bool] = True
    body: str
    target: str = ""
    method: Literal["poisson", "ball_pivoting"] = "poisson"
    depth: int = 7

    @property
    def made(self) -> str:
        return self.target or f"{self.body}-mesh"

    def _check(self, state: ModelState) -> None:
        cloud = cloud_of(state, self.body)
        if len(cloud.points) < 100:
            raise OperationError(f"{self.body!r} has {len(cloud.points)} points; a mesh needs at least 100")
        if not 5 <= self.depth <= 9:
            raise OperationError(f"the depth must be 5 to 9, got {self.depth}")
        _new_body_id(state, self.made)

    def _apply(self, state: ModelState) -> ModelState:
        self._check(state)
        cloud = cloud_of(state, self.body)
        vertices, triangles = mesh_points(cloud.points, self.method, self.depth)
        colors = None
        if cloud.colors is not None:
            from scipy.spatial import cKDTree
            _, nearest = cKDTree(cloud.points).query(vertices, k=1)
            colors = np.column_stack([cloud.colors[nearest], np.full(len(vertices), 255, np.uint8)])
        return state.with_body(self.made, MeshBody(vertices, triangles, colors, source="points"))

    def describe(self) -> str:
        how = "Poisson" if self.method == "poisson" else "ball pivoting"
        return f"Mesh {self.body} ({how}) as {self.made}"


def mesh_points(points: np.ndarray, method: str = "poisson", depth: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """(vertices, triangles) of a surface through `points` (N, 3): normals from 16 neighbours,
    oriented consistently and outwards; OperationError when no surface comes out."""
    import open3d as o3d

    pts = np.asarray(points, np.float64)
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    spacing = float(np.mean(np.asarray(pcd.compute_nearest_neighbor_distance())))
    if not math.isfinite(spacing) or spacing <= 0:
        raise OperationError("the points all lie on top of each other; there is no surface to mesh")
    pcd.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(16))
    pcd.orient_normals_consistent_tangent_plane(12)
    normals = np.asarray(pcd.normals)
    if np.mean(np.sum((pts - pts.mean(0)) * normals, axis=1)) < 0:  # most normals point inwards
        pcd.normals = o3d.utility.Vector3dVector(-normals)
    if method == "poisson":
        mesh, found = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(pcd, depth=depth, linear_fit=True)
        density = np.asarray(found)
        if len(density):
            mesh.remove_vertices_by_mask(density < np.quantile(density, 0.08))
        box = o3d.geometry.AxisAlignedBoundingBox(pts.min(0) - 2 * spacing, pts.max(0) + 2 * spacing)
        mesh = mesh.crop(box)
    elif method == "ball_pivoting":
        radii = o3d.utility.DoubleVector([1.5 * spacing, 3.0 * spacing, 6.0 * spacing])
        mesh = o3d.geometry.TriangleMesh.create_from_point_cloud_ball_pivoting(pcd, radii)
    else:
        raise OperationError(f"meshing is 'poisson' or 'ball_pivoting', not {method!r}")
    mesh.remove_degenerate_triangles()
    mesh.remove_unreferenced_vertices()
    v, t = np.asarray(mesh.vertices, np.float64), np.asarray(mesh.triangles, np.int64)
    if not len(t) or not np.isfinite(v).all():
        raise OperationError("no surface came out of the points; try the other method or more points")
    return v, t
