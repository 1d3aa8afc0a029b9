"""From a face sketch to a head mesh: the coarse stage and IDGMM refinement (SketchMetaFace).

All of it works in the network frame (`frame.FaceFrame`: x right, y up, z towards the viewer;
the canvas spans -EXTENT .. EXTENT). `FaceModel` holds the two networks (`net.MapNet`,
`net.ImplicitNet`) and runs:

coarse(ink)
    sketch -> front maps (MapNet without a current head) -> signed distance from the implicit
    network over a grid -> marching cubes (scikit-image) -> the largest connected part: a closed,
    outward-wound triangle mesh. With `symmetric` (the default) the field is the mean of its
    values at (x, y, z) and (-x, y, z), so the mesh is mirror symmetric about x = 0.

refine(ink, mesh), IDGMM
    1. the mesh's front view (height and mask, ray cast by Open3D) and the sketch -> refined maps
       (MapNet with the current head); mirrored and averaged when symmetric;
    2. implicit-guided update: the implicit network reads the refined maps and every vertex moves
       along its Laplacian-smoothed normal, V <- V - step * SDF(V) * n, for the steps
       `IMPLICIT_STEPS` (one full step; the reference takes one or two, 0.8 then 0.6), then one
       Taubin pair of Laplacian smoothing steps, `SMOOTH_LAMBDA` then `SMOOTH_MU` (a plain
       Laplacian step shrinks the head: it smooths the normals but costs Chamfer); the topology is
       kept (no marching cubes);
    3. depth-guided update: vertices that face the viewer (normal z above `FRONT_NZ`, blended in
       up to `FRONT_FULL_NZ`) and are visible in the mesh's front view take the refined height's
       detail at their (x, y): the refined height minus its blur (`DETAIL_SIGMA_PX`) in place of
       the mesh's own front height minus its blur, plus `LOW_SHARE` of the blurred difference
       (the reference replaces the height outright; the maps network's height is less accurate
       than the mesh over broad areas and as good in the detail); the change is averaged over
       each vertex's neighbours `DEPTH_SMOOTH` times (the reference's k-NN averaging).

The benchmark's other two variants are `implicit_only` (the implicit network on the refined maps,
meshed by marching cubes: what PIFu-style refinement gives) and `depth_only` (the coarse mesh with
step 3 alone: depth back-projection).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..assets import asset_root
from .frame import SIZE
from .heads import EXTENT, _largest_component
from .meshops import edges, laplacian_smooth, smoothed_normals, vertex_normals
from .net import ImplicitNet, MapNet, blur, load_net, maps_tensor

__all__ = ["ASSETS", "GRID", "BOX_LO", "BOX_HI", "HeadMesh", "FaceModel", "front_view", "cast_front",
           "raycasting_scene", "ReconstructionError"]

ASSETS = asset_root() / "face"  # the shipped face networks (package data, `neural.assets`)
GRID = 65                       # marching-cubes grid points along x and y (odd: symmetric)
BOX_LO = (-EXTENT, -EXTENT, -2.6)
BOX_HI = (EXTENT, EXTENT, 2.6)
# IMPLICIT_STEPS and the smoothing were chosen on 256 tuning heads (seed 5, `data/faces-tune2`), as the
# setting whose lead over depth back-projection alone was surest on both Chamfer-L2 and normal
# consistency among those that smooth (paired t 2.3 and 19; three steps and one plain smoothing step
# of 0.3, the previous setting, had t 0.5 on Chamfer)
IMPLICIT_STEPS = (1.0,)
SMOOTH_LAMBDA = 0.3
SMOOTH_MU = -0.31               # Taubin's shrink-free pair: a step of SMOOTH_LAMBDA, then one of SMOOTH_MU
FRONT_NZ = 0.2
FRONT_FULL_NZ = 0.5
VISIBLE_TOL = 0.08              # network units between a vertex and the front view's surface
DEPTH_SMOOTH = 2
DETAIL_SIGMA_PX = 2.0           # the refined height's detail: itself minus its blur by this many pixels
LOW_SHARE = 0.0                 # how much of the blurred height difference the depth step takes
_CHUNK = 65536
NEAR_SHARE = 0.6                # of a coarse cell's diagonal: see _field_on_grid


class ReconstructionError(ValueError):
    """The networks found no head in the sketch."""


@dataclass
class HeadMesh:
    """A closed triangle mesh in the network frame, and how long each stage took (seconds)."""

    vertices: np.ndarray          # (V, 3) float64
    triangles: np.ndarray         # (F, 3) int64
    seconds: dict[str, float] = field(default_factory=dict)
    mask: np.ndarray | None = None  # (H, W) the maps network's head probability it was made from


# -- front view of a mesh ------------------------------------------------------------------------
def raycasting_scene(vertices: np.ndarray, triangles: np.ndarray):
    """An Open3D ray-casting scene of one triangle mesh."""
    import open3d as o3d
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.ascontiguousarray(vertices, np.float32)),
                        o3d.core.Tensor(np.ascontiguousarray(triangles, np.uint32)))
    return scene


def cast_front(vertices: np.ndarray, triangles: np.ndarray, gx: np.ndarray, gy: np.ndarray,
               top: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Rays along -z from z = `top` through the points (gx, gy): (hit distance, inf where the ray
    misses; the hit triangle's unit normal), each shaped like gx."""
    import open3d as o3d
    rays = np.zeros((gx.size, 6), np.float32)
    rays[:, 0], rays[:, 1], rays[:, 2], rays[:, 5] = gx.ravel(), gy.ravel(), top, -1.0
    hit = raycasting_scene(vertices, triangles).cast_rays(o3d.core.Tensor(rays))
    return hit["t_hit"].numpy().reshape(gx.shape), hit["primitive_normals"].numpy().reshape(*gx.shape, 3)


def front_view(vertices: np.ndarray, triangles: np.ndarray, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Orthographic front view of a mesh in the network frame: height z (size, size) float32 (0 off
    the mesh) and mask (bool), pixel centres as the maps (Open3D ray casting)."""
    axis = np.linspace(-EXTENT, EXTENT, size, dtype=np.float32)
    gx, gy = np.meshgrid(axis, -axis)
    top = 10.0
    t, _ = cast_front(vertices, triangles, gx, gy, top)
    mask = np.isfinite(t)
    z = np.where(mask, top - t, 0.0).astype(np.float32)
    return z, mask


# -- the field on a grid ---------------------------------------------------------------------------
def _grid_axes(res: int) -> list[np.ndarray]:
    """Grid axes over the box: `res` points (made odd, so the grid and its every-other-point
    coarse grid are both symmetric about x = 0) across x and y, as spaced along z."""
    res = int(res) | 1
    lo, hi = np.array(BOX_LO), np.array(BOX_HI)
    nz = int(round((res - 1) * (hi[2] - lo[2]) / (hi[0] - lo[0]))) | 1
    return [np.linspace(lo[0], hi[0], res), np.linspace(lo[1], hi[1], res), np.linspace(lo[2], hi[2], nz)]


def _field_on_grid(fn, res: int, mirror: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
    """`fn` (points (N, 3) -> values) on the grid, coarse to fine: a grid half as fine first, then
    the fine points of the coarse cells beside a corner near the surface; elsewhere the coarse
    corner's value, which has the right sign. A cell the surface crosses has a corner within half
    its diagonal of it, so "near" is |value| under `NEAR_SHARE` of the coarse cell's diagonal
    (a margin for the network's distances), and every cell touching a near corner is refined.
    The threshold must stay under the network's truncation (`net.TRUNCATION`): with 0.9 of the
    diagonal (0.196 at the 65-point grid, above the truncation of 0.15) every fine point was
    refined, and the coarse pass saved nothing. With `mirror`, the
    values are averaged with their mirror images about x = 0 (a symmetric field at the cost of
    one evaluation per point)."""
    axes = _grid_axes(res)
    coarse_axes = [a[::2] for a in axes]
    cg = np.stack(np.meshgrid(*coarse_axes, indexing="ij"), -1).reshape(-1, 3)
    cv = fn(cg).reshape([len(a) for a in coarse_axes])
    if mirror:
        cv = 0.5 * (cv + cv[::-1])
    h = np.array([a[1] - a[0] for a in axes]) * 2
    near = np.abs(cv) < NEAR_SHARE * float(np.linalg.norm(h))
    # a fine point is refined when any coarse corner of a cell it belongs to is near
    grow = near.copy()
    for ax in range(3):
        g = np.moveaxis(grow, ax, 0)
        g2 = g.copy()
        g2[1:] |= g[:-1]
        g2[:-1] |= g[1:]
        grow = np.moveaxis(g2, 0, ax)
    fine = cv
    for ax in range(3):
        fine = np.repeat(fine, 2, axis=ax)
    shape = [len(a) for a in axes]
    fine = np.ascontiguousarray(fine[: shape[0], : shape[1], : shape[2]])
    refine = grow
    for ax in range(3):
        refine = np.repeat(refine, 2, axis=ax)
    refine = refine[: shape[0], : shape[1], : shape[2]]
    idx = np.nonzero(refine)
    pts = np.stack([axes[0][idx[0]], axes[1][idx[1]], axes[2][idx[2]]], 1)
    fine[idx] = fn(pts)
    if mirror:
        fine = 0.5 * (fine + fine[::-1])
    return fine, axes


def marching_cubes(values: np.ndarray, axes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The zero level set of grid `values` (negative inside) as an outward-wound mesh."""
    from skimage.measure import marching_cubes as mc
    if not (values.min() < 0 < values.max()):
        raise ReconstructionError("the networks found no head in this sketch; draw the head's outline "
                                  "from the front, with the eyes, nose and mouth inside it")
    spacing = tuple(float(a[1] - a[0]) for a in axes)
    verts, faces, _, _ = mc(values, level=0.0, spacing=spacing, allow_degenerate=False)
    verts = verts + np.array([a[0] for a in axes])
    verts, faces = _largest_component(verts.astype(np.float64), faces.astype(np.int64))
    vol = np.einsum("ij,ij->i", verts[faces[:, 0]], np.cross(verts[faces[:, 1]], verts[faces[:, 2]])).sum()
    if vol < 0:  # wind outwards
        faces = np.ascontiguousarray(faces[:, ::-1])
    return verts, faces


# -- the model -------------------------------------------------------------------------------------
class FaceModel:
    """The sketch-to-head networks and the reconstruction steps (module docstring)."""

    def __init__(self, maps_net: MapNet, implicit_net: ImplicitNet, grid: int = GRID) -> None:
        self.maps_net = maps_net.eval()
        self.implicit_net = implicit_net.eval()
        self.grid = grid

    @classmethod
    def load(cls, maps: str | Path | None = None, implicit: str | Path | None = None, grid: int = GRID) -> "FaceModel":
        maps = Path(maps) if maps else ASSETS / "maps.safetensors"
        implicit = Path(implicit) if implicit else ASSETS / "implicit.safetensors"
        for p in (maps, implicit):
            if not p.is_file():
                raise FileNotFoundError(f"the face network weights are missing ({p}); train them with "
                                        "sketchforge-train-face (see assets/face/MODEL_CARD.md)")
        m, _ = load_net(maps, "maps")
        i, _ = load_net(implicit, "implicit")
        return cls(m, i, grid)

    # -- networks ------------------------------------------------------------------------------
    @torch.no_grad()
    def maps(self, ink: np.ndarray, current: tuple[np.ndarray, np.ndarray] | None = None,
             symmetric: bool = True) -> torch.Tensor:
        """(1, 5, H, W) front maps from the (3, H, W) ink channels and the current head's front view."""
        x = torch.zeros(1, 5, *ink.shape[-2:])
        x[0, :3] = torch.from_numpy(np.asarray(ink, np.float32))
        if current is not None:
            z, mask = current
            x[0, 3] = torch.from_numpy(np.where(mask, z, 0.0).astype(np.float32))
            x[0, 4] = torch.from_numpy(mask.astype(np.float32))
        if symmetric:  # read the sketch and its mirror image, and average
            xm = x.flip(-1)
            out = self.maps_net(torch.cat([x, xm]))
            flip = torch.tensor([-1.0, 1.0, 1.0]).view(1, 3, 1, 1)
            normal = F.normalize(out["normal"][:1] + out["normal"][1:].flip(-1) * flip, dim=1, eps=1e-6)
            out = {"normal": normal, "z": 0.5 * (out["z"][:1] + out["z"][1:].flip(-1)),
                   "mask_logit": 0.5 * (out["mask_logit"][:1] + out["mask_logit"][1:].flip(-1))}
        else:
            out = self.maps_net(x)
        return maps_tensor(out)

    def _sdf_fn(self, maps: torch.Tensor, symmetric: bool):
        with torch.no_grad():
            feats = self.implicit_net.features(maps)

        @torch.no_grad()
        def fn(points: np.ndarray) -> np.ndarray:
            out = np.empty(len(points), np.float32)
            for s in range(0, len(points), _CHUNK):
                p = torch.from_numpy(np.asarray(points[s:s + _CHUNK], np.float32)).unsqueeze(0)
                v = self.implicit_net.query(feats, p)
                if symmetric:
                    v = 0.5 * (v + self.implicit_net.query(feats, p * torch.tensor([-1.0, 1.0, 1.0])))
                out[s:s + len(p[0])] = v[0].numpy()
            return out
        return fn

    def implicit_mesh(self, maps: torch.Tensor, symmetric: bool = True) -> tuple[np.ndarray, np.ndarray]:
        values, axes = _field_on_grid(self._sdf_fn(maps, False), self.grid, mirror=symmetric)
        return marching_cubes(values, axes)

    # -- the stages ------------------------------------------------------------------------------
    def coarse(self, ink: np.ndarray, symmetric: bool = True) -> HeadMesh:
        t0 = time.perf_counter()
        maps = self.maps(ink, None, symmetric)
        t1 = time.perf_counter()
        v, f = self.implicit_mesh(maps, symmetric)
        t2 = time.perf_counter()
        return HeadMesh(v, f, {"maps": t1 - t0, "implicit_mc": t2 - t1, "total": t2 - t0},
                        mask=maps[0, 4].numpy().copy())

    def refined_maps(self, ink: np.ndarray, mesh: HeadMesh, symmetric: bool = True) -> torch.Tensor:
        current = front_view(mesh.vertices, mesh.triangles, ink.shape[-1])
        return self.maps(ink, current, symmetric)

    def implicit_update(self, mesh: HeadMesh, maps: torch.Tensor, symmetric: bool = True) -> np.ndarray:
        """IDGMM step 2: vertices moved along smoothed normals by the implicit network's SDF."""
        fn = self._sdf_fn(maps, symmetric)
        v = mesh.vertices.copy()
        f = torch.from_numpy(mesh.triangles)
        for step in IMPLICIT_STEPS:
            n = smoothed_normals(torch.from_numpy(v), f, iterations=2).numpy()
            v = v - step * fn(v)[:, None].astype(np.float64) * n
        v = laplacian_smooth(torch.from_numpy(v), f, lam=SMOOTH_LAMBDA, iterations=1)
        return laplacian_smooth(v, f, lam=SMOOTH_MU, iterations=1).numpy()

    def depth_update(self, vertices: np.ndarray, triangles: np.ndarray, maps: torch.Tensor) -> np.ndarray:
        """IDGMM step 3: front-facing visible vertices take the refined height at their (x, y)."""
        v = vertices.copy()
        size = maps.shape[-1]
        z_view, seen = front_view(v, triangles, size)
        n = vertex_normals(torch.from_numpy(v), torch.from_numpy(triangles)).numpy()
        grid = torch.from_numpy(np.stack([v[:, 0] / EXTENT, -v[:, 1] / EXTENT], 1).astype(np.float32)).view(1, 1, -1, 2)

        def sample(img: torch.Tensor) -> np.ndarray:
            return F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=True)[0, :, 0].numpy()

        zv = sample(torch.from_numpy(np.where(seen, z_view, -1e3).astype(np.float32))[None, None])[0]
        # the change: the refined maps' detail (height minus its blur) for the mesh's own detail, and
        # LOW_SHARE of the difference of the blurred heights
        pred_z, pred_m = maps[:, 3:4], (maps[:, 4:5] > 0.5).float()
        view_z = torch.from_numpy(z_view)[None, None]
        view_m = torch.from_numpy(seen.astype(np.float32))[None, None]
        low_pred, low_view = _masked_blur(pred_z, pred_m), _masked_blur(view_z, view_m)
        change = (pred_z - low_pred) - (view_z - low_view) + LOW_SHARE * (low_pred - low_view)
        both = pred_m * view_m
        dz, m_new = sample(torch.cat([change * both, both], 1))
        visible = np.abs(v[:, 2] - zv) < VISIBLE_TOL
        w = np.clip((n[:, 2] - FRONT_NZ) / (FRONT_FULL_NZ - FRONT_NZ), 0.0, 1.0) * visible * (m_new > 0.99)
        d = w * dz
        e = edges(torch.from_numpy(triangles)).numpy()
        d = _average(d, e, len(v), DEPTH_SMOOTH)
        v[:, 2] += d
        return v

    def refine(self, ink: np.ndarray, mesh: HeadMesh, symmetric: bool = True, implicit: bool = True,
               depth: bool = True) -> HeadMesh:
        """IDGMM (steps 1-3; `implicit` / `depth` switch steps 2 / 3 off for the comparisons)."""
        t0 = time.perf_counter()
        maps = self.refined_maps(ink, mesh, symmetric)
        t1 = time.perf_counter()
        v = self.implicit_update(mesh, maps, symmetric) if implicit else mesh.vertices
        t2 = time.perf_counter()
        if depth:
            v = self.depth_update(v, mesh.triangles, maps)
        t3 = time.perf_counter()
        return HeadMesh(v, mesh.triangles.copy(), {"maps": t1 - t0, "implicit": t2 - t1, "depth": t3 - t2,
                                                   "total": t3 - t0})

    def implicit_only(self, ink: np.ndarray, mesh: HeadMesh, symmetric: bool = True) -> HeadMesh:
        """The comparison without IDGMM: the implicit network on the refined maps, marching cubes."""
        t0 = time.perf_counter()
        maps = self.refined_maps(ink, mesh, symmetric)
        v, f = self.implicit_mesh(maps, symmetric)
        return HeadMesh(v, f, {"total": time.perf_counter() - t0})


def _masked_blur(z: torch.Tensor, mask: torch.Tensor, sigma: float = DETAIL_SIGMA_PX) -> torch.Tensor:
    """Gaussian blur of z over its mask only (normalised convolution); (1, 1, H, W)."""
    return blur(z * mask, sigma) / blur(mask, sigma).clamp_min(1e-6) * mask


def _average(values: np.ndarray, e: np.ndarray, n: int, iterations: int) -> np.ndarray:
    """Each value replaced by the mean of itself and its edge neighbours, `iterations` times."""
    deg = np.bincount(e.ravel(), minlength=n).astype(np.float64) + 1.0
    for _ in range(iterations):
        s = values.copy()
        np.add.at(s, e[:, 0], values[e[:, 1]])
        np.add.at(s, e[:, 1], values[e[:, 0]])
        values = s / deg
    return values
