"""Context renders: what the model looks like from a sketch's camera.

Depth, normal and face-id images plus a line drawing of the visible edges, for any `Camera` and
canvas size. The interpreter reads a sketch against these and the training data is made of them,
so both go through `render_context`.

Depth, normals and face ids come from ray casting every pixel centre (`Camera.pixel_rays`) against
the bodies' tessellations with Open3D's `RaycastingScene`; point clouds have no surface and are
left out. The line drawing is OpenCascade hidden-line removal of the solid bodies (mesh bodies
neither draw lines nor hide them), rasterised anti-aliased with OpenCV.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np
import open3d as o3d

from .bodies import Body, SolidBody
from .camera import Camera

_SHIFT = 4  # fixed-point fraction bits for sub-pixel line rasterisation
_SCENES = 4  # ray-casting scenes kept (one per recent model state)
_RAYS = 8  # pixel-ray bundles kept (one per recent camera and canvas)


@dataclass(frozen=True)
class ContextRenders:
    """Per-pixel renders of the model from one camera; arrays are (height, width, ...)."""

    depth: np.ndarray  # float32, depth along the camera's forward axis, inf where nothing is hit
    normal: np.ndarray  # float32 (H, W, 3), world unit normals facing the camera, 0 where nothing
    face_id: np.ndarray  # int32, global face number (see `faces`), -1 for background
    faces: tuple[tuple[str, int], ...]  # global id g -> (body id, face index; -1 for a mesh body)
    lines: np.ndarray  # uint8 anti-aliased visible edges: 0 background, ~230-255 on a line
    polylines: list[np.ndarray]  # float32 (N, 2) pixel polylines of the visible edges
    line_kinds: tuple[str, ...]  # role of each polyline: "sharp" or "outline"
    camera: Camera
    width: int
    height: int

    @property
    def mask(self) -> np.ndarray:
        """Where the model covers the canvas."""
        return np.isfinite(self.depth)


@dataclass(frozen=True, eq=False)
class _Scene:
    """A ray-casting scene for one model state, with the lookup from triangle to global face."""

    scene: o3d.t.geometry.RaycastingScene | None
    triangle_face: np.ndarray  # (M + 1,) int32 global face id per triangle, then -1 for a miss
    faces: tuple[tuple[str, int], ...]
    bounds: np.ndarray  # (8, 3) corners of the meshes' bounding box
    bodies: tuple[Body, ...]  # held so the ids in the cache key stay valid


_lock = threading.Lock()
_scene_cache: OrderedDict[tuple, _Scene] = OrderedDict()
_ray_cache: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()


def render_context(bodies: Mapping[str, Body], camera: Camera, width: int, height: int,
                   lines: bool = True) -> ContextRenders:
    """Depth, normal, face-id and line renders of `bodies` seen through `camera`."""
    width, height = int(width), int(height)
    if width <= 0 or height <= 0:
        raise ValueError(f"canvas size must be positive, got {width}x{height}")
    scene = _scene_for(bodies)
    depth, normal, face_id = _raycast(scene, camera, width, height)
    polylines: list[np.ndarray] = []
    kinds: tuple[str, ...] = ()
    if lines:
        polylines, kinds = _visible_edges(bodies, camera, width, height)
    return ContextRenders(depth, normal, face_id, scene.faces, rasterise(polylines, width, height),
                          polylines, kinds, camera, width, height)


def rasterise(polylines: list[np.ndarray], width: int, height: int) -> np.ndarray:
    """Anti-aliased one-pixel lines through pixel-coordinate polylines (centres at +0.5)."""
    img = np.zeros((height, width), np.uint8)
    pts = [np.round((p - 0.5) * (1 << _SHIFT)).astype(np.int32) for p in polylines if len(p) >= 2]
    if pts:
        cv2.polylines(img, pts, False, 255, 1, cv2.LINE_AA, _SHIFT)
    return img


def _visible_edges(bodies: Mapping[str, Body], camera: Camera, width: int,
                   height: int) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """Visible sharp edges and outlines of the solid bodies."""
    shapes = [b.shape for b in bodies.values() if isinstance(b, SolidBody)]
    if not shapes:
        return [], ()
    from .occ import hlr
    edges = hlr.visible_edges(shapes, camera, width, height)
    return [p for p, _ in edges], tuple(k for _, k in edges)


def _raycast(scene: _Scene, camera: Camera, width: int,
             height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth, camera-facing normal and face-id images by casting a ray through each pixel centre."""
    if scene.scene is None:
        return (np.full((height, width), np.inf, np.float32), np.zeros((height, width, 3), np.float32),
                np.full((height, width), -1, np.int32))
    rays, cos_fwd = _pixel_rays(camera, width, height)
    back = _ortho_setback(scene, camera)
    if back:
        rays = rays.copy()
        rays[:, :3] -= np.float32(back) * rays[:, 3:]
    hit = scene.scene.cast_rays(o3d.core.Tensor.from_numpy(rays))
    depth = hit["t_hit"].numpy() * cos_fwd - np.float32(back)  # misses stay inf
    normal = hit["primitive_normals"].numpy()  # zero for misses
    facing = np.einsum("ij,ij->i", normal, rays[:, 3:]) > 0
    normal = np.where(facing[:, None], -normal, normal)
    prim = hit["primitive_ids"].numpy().astype(np.int64)
    face_id = scene.triangle_face[np.minimum(prim, len(scene.triangle_face) - 1)]
    return (depth.reshape(height, width), normal.reshape(height, width, 3),
            face_id.reshape(height, width))


def _ortho_setback(scene: _Scene, camera: Camera) -> float:
    """How far to start orthographic rays behind the eye so geometry behind its plane still shows.

    An orthographic projection has no eye point: the spec projects every point, and the line
    drawing does too, so the depth render must not clip at the eye's plane either.
    """
    if camera.projection != "orthographic":
        return 0.0
    zmin = float(camera.to_view(scene.bounds)[:, 2].min())
    return 1.0 - zmin if zmin < 0 else 0.0


def _pixel_rays(camera: Camera, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 (origin, direction) rows through every pixel centre and each direction's forward
    component, cached per camera and canvas size (callers must not modify them)."""
    key = (camera, width, height)
    with _lock:
        if key in _ray_cache:
            _ray_cache.move_to_end(key)
            return _ray_cache[key]
    o, d = camera.pixel_rays(width, height)
    rays = np.ascontiguousarray(np.concatenate([o, d], axis=1), dtype=np.float32)
    cos_fwd = (d @ camera.basis()[2]).astype(np.float32)
    rays.flags.writeable = False
    cos_fwd.flags.writeable = False
    with _lock:
        _ray_cache[key] = (rays, cos_fwd)
        while len(_ray_cache) > _RAYS:
            _ray_cache.popitem(last=False)
    return rays, cos_fwd


def _scene_for(bodies: Mapping[str, Body]) -> _Scene:
    """The ray-casting scene of these bodies, built once per set of body values."""
    key = tuple((name, id(b)) for name, b in bodies.items())
    with _lock:
        if key in _scene_cache:
            _scene_cache.move_to_end(key)
            return _scene_cache[key]
    scene = _build_scene(bodies)
    with _lock:
        _scene_cache[key] = scene
        while len(_scene_cache) > _SCENES:
            _scene_cache.popitem(last=False)
    return scene


def _build_scene(bodies: Mapping[str, Body]) -> _Scene:
    """Join the bodies' tessellations into one scene, numbering faces body after body."""
    verts, tris, tri_face, faces = [], [], [], []
    offset = 0
    for name, body in bodies.items():
        mesh = body.mesh()
        if mesh is None or not len(mesh.triangles):
            continue  # point clouds have no surface to hit
        if mesh.face_ids is not None:
            count = int(mesh.face_ids.max()) + 1
            tri_face.append(mesh.face_ids.astype(np.int32) + len(faces))
            faces += [(name, i) for i in range(count)]
        else:
            tri_face.append(np.full(len(mesh.triangles), len(faces), np.int32))
            faces.append((name, -1))
        verts.append(mesh.vertices)
        tris.append(mesh.triangles + offset)
        offset += len(mesh.vertices)
    held = tuple(bodies.values())
    if not verts:
        return _Scene(None, np.zeros(0, np.int32), (), np.zeros((8, 3)), held)
    v = np.concatenate(verts)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(v.astype(np.float32)),
                        o3d.core.Tensor(np.concatenate(tris).astype(np.uint32)))
    lo, hi = v.min(0), v.max(0)
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    lookup = np.concatenate(tri_face + [np.array([-1], np.int32)])  # last entry: a miss
    return _Scene(scene, lookup, tuple(faces), corners, held)
