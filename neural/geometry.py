"""Differentiable geometry in plain torch: nearest neighbours, Chamfer, mesh regularisers,
a soft silhouette rasteriser and surface sampling (the parts of pytorch3d the project uses).

Tensors in, tensors out; float32 or float64. Conversion from and to numpy happens at the
neural <-> modeling boundary, not here.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

__all__ = [
    "knn_points",
    "chamfer_distance",
    "mesh_laplacian_smoothing",
    "mesh_normal_consistency",
    "soft_silhouette",
    "sample_points_from_mesh",
]

# About 32 MiB of float32 per distance block: 20k x 20k clouds go through in ~50 blocks.
_KNN_CHUNK_ELEMENTS = 2**23
# Pixels x triangles per silhouette block; each block keeps ~20 such temporaries alive.
_SILHOUETTE_CHUNK_ELEMENTS = 2**21
# d^2 / sigma past which a triangle's coverage, sigmoid(-50) ~ 2e-22, is left out.
_SILHOUETTE_FAR = 50.0
# Pixel-triangle pairs below which a block is not split further for efficiency.
_SILHOUETTE_SMALL_BLOCK = 2**16


# -- checks ------------------------------------------------------------------------------------
def _check_clouds(x: torch.Tensor, y: torch.Tensor) -> None:
    """Raise unless x and y are batched point clouds (B, N, 3) and (B, M, 3) of one dtype."""
    for name, t in (("x", x), ("y", y)):
        if t.dim() != 3 or t.shape[-1] != 3:
            raise ValueError(f"{name} must have shape (B, N, 3); got {tuple(t.shape)} "
                             "(add a batch dimension with .unsqueeze(0) for a single cloud)")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same batch size; got {x.shape[0]} and {y.shape[0]}")
    if x.dtype != y.dtype:
        raise ValueError(f"x and y must have the same dtype; got {x.dtype} and {y.dtype}")


def _lengths(lengths: torch.Tensor | None, batch: int, size: int, device: torch.device,
             name: str) -> torch.Tensor:
    """Valid point counts per cloud as a long tensor (B,); full clouds when lengths is None."""
    if lengths is None:
        return torch.full((batch,), size, dtype=torch.long, device=device)
    lengths = torch.as_tensor(lengths, device=device).long()
    if lengths.shape != (batch,):
        raise ValueError(f"{name} must have shape ({batch},); got {tuple(lengths.shape)}")
    if bool((lengths < 0).any()) or bool((lengths > size).any()):
        raise ValueError(f"{name} must lie between 0 and {size}; got {lengths.tolist()}")
    return lengths


def _check_mesh(verts: torch.Tensor, faces: torch.Tensor, min_dims: int = 3) -> torch.Tensor:
    """Raise unless verts is (V, >=min_dims) and faces (F, 3) indexes into it; faces as long."""
    if verts.dim() != 2 or verts.shape[1] < min_dims:
        raise ValueError(f"verts must have shape (V, {min_dims if min_dims == 3 else '2+'}); "
                         f"got {tuple(verts.shape)}")
    if faces.dim() != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must have shape (F, 3); got {tuple(faces.shape)}")
    if faces.dtype.is_floating_point:
        raise ValueError("faces must hold integer vertex indices; got a floating-point tensor")
    faces = faces.long()
    if faces.numel() and (int(faces.min()) < 0 or int(faces.max()) >= verts.shape[0]):
        raise ValueError(f"faces index vertices 0..{verts.shape[0] - 1}; "
                         f"got indices {int(faces.min())}..{int(faces.max())}")
    return faces


# -- point clouds ------------------------------------------------------------------------------
def knn_points(x: torch.Tensor, y: torch.Tensor, k: int = 1,
               x_lengths: torch.Tensor | None = None, y_lengths: torch.Tensor | None = None,
               max_chunk_elements: int = _KNN_CHUNK_ELEMENTS) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distances and indices (B, N, k) of the k nearest y for each x, nearest first.

    The search runs without autograd on blocks of rows of the distance matrix (at most
    `max_chunk_elements` entries at a time); the returned distances are then recomputed from
    the chosen pairs, so they are exact and differentiable with respect to both clouds.
    Padded entries (x rows past `x_lengths`, neighbours past `y_lengths`) get index -1 and
    distance 0.
    """
    _check_clouds(x, y)
    b, n, m = x.shape[0], x.shape[1], y.shape[1]
    if not 1 <= k <= m:
        raise ValueError(f"k must be between 1 and the number of y points ({m}); got {k}")
    xl = _lengths(x_lengths, b, n, x.device, "x_lengths")
    yl = _lengths(y_lengths, b, m, x.device, "y_lengths")
    y_pad = torch.arange(m, device=x.device)[None, :] >= yl[:, None]  # (B, M)

    rows = max(1, max_chunk_elements // max(1, b * m))
    blocks = []
    with torch.no_grad():
        # Centring on y's mean keeps the |x|^2 - 2xy + |y|^2 expansion from cancelling badly.
        centre = y.detach().mean(dim=1, keepdim=True)
        xd, yd = x.detach() - centre, y.detach() - centre
        y_sq = (yd * yd).sum(-1)[:, None, :]
        yt = yd.transpose(1, 2)
        for start in range(0, n, rows):
            xc = xd[:, start:start + rows]
            d = torch.baddbmm(y_sq, xc, yt, alpha=-2.0).add_((xc * xc).sum(-1, keepdim=True))
            d.masked_fill_(y_pad[:, None, :], float("inf"))
            blocks.append(d.topk(k, dim=-1, largest=False, sorted=True).indices)
    idx = torch.cat(blocks, dim=1) if blocks else torch.zeros(b, 0, k, dtype=torch.long,
                                                               device=x.device)

    batch = torch.arange(b, device=x.device)[:, None, None]
    dists = (x[:, :, None, :] - y[batch, idx]).pow(2).sum(-1)
    # Padded neighbours came last from the search; they stay last when the exact distances
    # settle the order of near-ties the block search may have swapped.
    has_neighbour = torch.arange(k, device=x.device)[None, None, :] < yl[:, None, None]
    order = dists.detach().masked_fill(~has_neighbour, float("inf")).argsort(dim=-1, stable=True)
    dists, idx = dists.gather(-1, order), idx.gather(-1, order)

    valid = (torch.arange(n, device=x.device)[None, :, None] < xl[:, None, None]) & has_neighbour
    dists = torch.where(valid, dists, torch.zeros((), dtype=dists.dtype, device=x.device))
    idx = torch.where(valid, idx, torch.full((), -1, dtype=idx.dtype, device=x.device))
    return dists, idx


def chamfer_distance(x: torch.Tensor, y: torch.Tensor,
                     x_lengths: torch.Tensor | None = None, y_lengths: torch.Tensor | None = None,
                     reduction: Literal["mean", "sum", "none"] = "mean"
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Chamfer distance between clouds (B, N, 3) and (B, M, 3): (loss, per-cloud values (B,)).

    Per cloud: mean squared distance from each x to its nearest y plus the same from y to x,
    counting only the first `x_lengths` / `y_lengths` points (pytorch3d's point_reduction="mean").
    `reduction` combines the per-cloud values over the batch ("none" returns them again).
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none'; got {reduction!r}")
    _check_clouds(x, y)
    b = x.shape[0]
    xl = _lengths(x_lengths, b, x.shape[1], x.device, "x_lengths")
    yl = _lengths(y_lengths, b, y.shape[1], x.device, "y_lengths")
    if bool((xl == 0).any()) or bool((yl == 0).any()):
        raise ValueError("every cloud needs at least one point: the nearest point of an "
                         "empty cloud is undefined")
    dx, _ = knn_points(x, y, 1, xl, yl)
    dy, _ = knn_points(y, x, 1, yl, xl)
    per_cloud = dx[..., 0].sum(1) / xl.to(dx.dtype) + dy[..., 0].sum(1) / yl.to(dy.dtype)
    if reduction == "mean":
        return per_cloud.mean(), per_cloud
    if reduction == "sum":
        return per_cloud.sum(), per_cloud
    return per_cloud, per_cloud


# -- mesh regularisers -------------------------------------------------------------------------
def _cotangents(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Cotangent of each face corner (F, 3), corner i opposite the edge of the other two."""
    p = verts[faces]  # (F, 3, 3)
    u = p[:, [1, 2, 0]] - p  # to the next corner
    v = p[:, [2, 0, 1]] - p  # to the previous corner
    dot = (u * v).sum(-1)
    sin_area = torch.linalg.vector_norm(torch.cross(u, v, dim=-1), dim=-1)
    return dot / sin_area.clamp_min(torch.finfo(verts.dtype).eps)


def mesh_laplacian_smoothing(verts: torch.Tensor, faces: torch.Tensor,
                             method: Literal["uniform", "cotangent"] = "uniform") -> torch.Tensor:
    """Mean over vertices of |weighted mean of neighbours - vertex|, a smoothness loss.

    "uniform" weighs every edge neighbour equally; "cotangent" weighs edge (i, j) by the
    cotangents of the two angles opposite it, with the weights held constant under autograd as
    pytorch3d does (otherwise the loss can shrink by collapsing triangles). Vertices with no
    neighbours, or a non-positive total cotangent weight, are left out of the mean.
    """
    faces = _check_mesh(verts, faces)
    nv = verts.shape[0]
    f = faces
    if method == "uniform":
        e = torch.cat([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]).sort(dim=1).values
        e = e[e[:, 0] != e[:, 1]].unique(dim=0)
        i = torch.cat([e[:, 0], e[:, 1]])
        j = torch.cat([e[:, 1], e[:, 0]])
        w = torch.ones(i.shape[0], dtype=verts.dtype, device=verts.device)
    elif method == "cotangent":
        with torch.no_grad():
            cot = _cotangents(verts, f)
        # Corner a of face (a, b, c) is opposite edge (b, c), and so on round the face.
        i = torch.cat([f[:, 1], f[:, 2], f[:, 2], f[:, 0], f[:, 0], f[:, 1]])
        j = torch.cat([f[:, 2], f[:, 1], f[:, 0], f[:, 2], f[:, 1], f[:, 0]])
        w = torch.cat([cot[:, 0], cot[:, 0], cot[:, 1], cot[:, 1], cot[:, 2], cot[:, 2]])
    else:
        raise ValueError(f"method must be 'uniform' or 'cotangent'; got {method!r}")

    nb = torch.zeros_like(verts).index_add(0, i, w[:, None] * verts[j])
    total = torch.zeros(nv, dtype=verts.dtype, device=verts.device).index_add(0, i, w)
    keep = total > 0
    if not bool(keep.any()):
        return verts.sum() * 0.0
    lap = nb[keep] / total[keep, None] - verts[keep]
    return torch.linalg.vector_norm(lap, dim=1).mean()


def mesh_normal_consistency(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Mean over interior edges of 1 - cos(angle between the normals of the faces beside it).

    As in pytorch3d each pair of faces is compared as if both were wound consistently, so
    the loss does not depend on face winding. An edge shared by more than two faces counts
    once, with the mean over its face pairs. A mesh with no interior edge gives 0.
    """
    faces = _check_mesh(verts, faces)
    nv = verts.shape[0]
    a = faces.reshape(-1)
    b = faces[:, [1, 2, 0]].reshape(-1)
    c = faces[:, [2, 0, 1]].reshape(-1)  # the corner opposite half-edge (a, b)
    real = a != b
    a, b, c = a[real], b[real], c[real]
    lo, hi = torch.minimum(a, b), torch.maximum(a, b)
    key, order = (lo * nv + hi).sort(stable=True)
    lo, hi, c = lo[order], hi[order], c[order]
    _, edge_id, counts = torch.unique_consecutive(key, return_inverse=True, return_counts=True)
    interior = counts >= 2
    if not bool(interior.any()):
        return verts.sum() * 0.0

    v0, v1, vc = verts[lo], verts[hi], verts[c]
    edge = v1 - v0
    n_left = torch.cross(edge, vc - v0, dim=-1)   # normal of a face that runs lo -> hi
    n_right = torch.cross(vc - v0, edge, dim=-1)  # normal of a face that runs hi -> lo
    loss = torch.zeros(counts.shape[0], dtype=verts.dtype, device=verts.device)
    pairs = torch.zeros_like(loss)
    for offset in range(1, int(counts.max())):
        first = torch.arange(key.shape[0] - offset, device=key.device)
        second = first + offset
        same = key[first] == key[second]
        first, second = first[same], second[same]
        cos = F.cosine_similarity(n_left[first], n_right[second], dim=-1)
        loss = loss.index_add(0, edge_id[first], 1.0 - cos)
        pairs = pairs.index_add(0, edge_id[first], torch.ones_like(cos))
    return (loss[interior] / pairs[interior]).mean()


# -- soft silhouette ---------------------------------------------------------------------------
def _edge_terms(px: torch.Tensor, py: torch.Tensor, ax: torch.Tensor, ay: torch.Tensor,
                bx: torch.Tensor, by: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distance from pixels to segment a-b and the edge function (b - a) x (p - a).

    Pixels come as columns (P, 1), segment ends as rows (1, T); components are kept apart
    because reductions over a trailing dimension of size 2 are slow on the CPU.
    """
    abx, aby = bx - ax, by - ay
    apx, apy = px - ax, py - ay
    length_sq = (abx * abx + aby * aby).clamp_min(torch.finfo(px.dtype).tiny)
    t = ((apx * abx + apy * aby) / length_sq).clamp(0.0, 1.0)
    dx, dy = apx - t * abx, apy - t * aby
    return dx * dx + dy * dy, abx * apy - aby * apx


def _log_uncovered(pixels: torch.Tensor, tri: torch.Tensor, scale: float,
                   sigma: float) -> torch.Tensor:
    """Sum over triangles (T, 3, 2) of log(1 - D) for each pixel centre (P, 2): shape (P,)."""
    px, py = pixels[:, 0:1], pixels[:, 1:2]
    ax, ay = tri[None, :, 0, 0], tri[None, :, 0, 1]
    bx, by = tri[None, :, 1, 0], tri[None, :, 1, 1]
    cx, cy = tri[None, :, 2, 0], tri[None, :, 2, 1]
    d0, e0 = _edge_terms(px, py, ax, ay, bx, by)
    d1, e1 = _edge_terms(px, py, bx, by, cx, cy)
    d2, e2 = _edge_terms(px, py, cx, cy, ax, ay)
    d_sq = torch.minimum(torch.minimum(d0, d1), d2) * (scale * scale)
    inside = ((e0 >= 0) & (e1 >= 0) & (e2 >= 0)) | ((e0 <= 0) & (e1 <= 0) & (e2 <= 0))
    inside = inside & ((bx - ax) * (cy - ay) - (by - ay) * (cx - ax) != 0)
    signed = torch.where(inside, d_sq, -d_sq) / sigma
    # log(1 - sigmoid(s)) = logsigmoid(-s): stable both deep inside and far outside.
    return F.logsigmoid(-signed).sum(dim=1)


class _RecomputedLogUncovered(torch.autograd.Function):
    """_log_uncovered that keeps only its inputs and recomputes the block in the backward pass.

    Written out rather than using torch.utils.checkpoint, whose first call imports torch._dynamo
    (over a second on the CPU).
    """

    @staticmethod
    def forward(ctx, pixels: torch.Tensor, tri: torch.Tensor, scale: float,
                sigma: float) -> torch.Tensor:
        ctx.save_for_backward(pixels, tri)
        ctx.scale, ctx.sigma = scale, sigma
        return _log_uncovered(pixels, tri, scale, sigma)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor, None, None]:
        pixels, tri = ctx.saved_tensors
        with torch.enable_grad():
            tri = tri.detach().requires_grad_(True)
            out = _log_uncovered(pixels, tri, ctx.scale, ctx.sigma)
        (grad_tri,) = torch.autograd.grad(out, tri, grad)
        return None, grad_tri, None, None


def soft_silhouette(verts: torch.Tensor, faces: torch.Tensor, height: int, width: int,
                    sigma: float = 1e-4,
                    max_chunk_elements: int = _SILHOUETTE_CHUNK_ELEMENTS) -> torch.Tensor:
    """SoftRas-style soft silhouette (height, width) in [0, 1] of projected triangles.

    `verts` (V, 2+) are pixel coordinates (u right, v down; pixel (row i, column j) has its
    centre at u = j + 0.5, v = i + 0.5); columns past the second (depth) are ignored, since a
    silhouette does not depend on depth. Each triangle covers a pixel with probability
    D = sigmoid(+-d^2 / sigma), d the distance from the pixel centre to the triangle (+ inside,
    - outside), and coverage aggregates as 1 - prod_j (1 - D_j). As in SoftRas, d is measured
    in normalised device units (pixels * 2 / max(height, width)), so sigma = 1e-4 gives a soft
    edge about 0.01 * max(height, width) / 2 pixels wide.

    Pixels where a triangle's D is below sigmoid(-50) (about 2e-22) are skipped. Triangles go in
    spatially sorted blocks of at most `max_chunk_elements` pixel-triangle pairs over the block's
    bounding box (a single triangle may exceed it by up to the image size); the backward pass
    recomputes each block instead of keeping its intermediates, so memory stays bounded whatever
    the triangle count. Differentiable once with respect to verts.
    """
    faces = _check_mesh(verts, faces, min_dims=2)
    if int(height) < 1 or int(width) < 1:
        raise ValueError(f"height and width must be at least 1 pixel; got {height} x {width}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive; got {sigma}")
    height, width = int(height), int(width)
    dtype, device = verts.dtype, verts.device
    scale = 2.0 / max(height, width)
    tri = verts[:, :2][faces]  # (T, 3, 2)
    if not bool(torch.isfinite(tri).all()):
        raise ValueError("soft_silhouette needs finite pixel coordinates for every face vertex; "
                         "drop faces with points behind the camera (NaN) before rasterising")

    blocks, order = _silhouette_blocks(tri.detach(), height, width,
                                       math.sqrt(_SILHOUETTE_FAR * sigma) / scale,
                                       max_chunk_elements)
    tri = tri[order]
    recompute = torch.is_grad_enabled() and tri.requires_grad
    log_uncovered = torch.zeros(height, width, dtype=dtype, device=device)
    for first, last, r0, r1, c0, c1 in blocks:
        vv, uu = torch.meshgrid(torch.arange(r0, r1, dtype=dtype, device=device) + 0.5,
                                torch.arange(c0, c1, dtype=dtype, device=device) + 0.5,
                                indexing="ij")
        pixels = torch.stack([uu.reshape(-1), vv.reshape(-1)], dim=-1)
        block = tri[first:last]
        if recompute:
            term = _RecomputedLogUncovered.apply(pixels, block, scale, float(sigma))
        else:
            term = _log_uncovered(pixels, block, scale, float(sigma))
        log_uncovered[r0:r1, c0:c1] += term.reshape(r1 - r0, c1 - c0)
    return -torch.expm1(log_uncovered)


def _silhouette_blocks(tri: torch.Tensor, height: int, width: int, reach: float,
                       max_elements: int) -> tuple[list[tuple[int, ...]], torch.Tensor]:
    """Blocks (first, last, row0, row1, col0, col1) over triangles re-ordered by `order`.

    Each triangle's pixel box is its bounding box grown by `reach` pixels; triangles whose box
    misses the image are dropped, the rest sorted by 16-pixel tile so neighbours share a block.
    """
    lo = tri.min(dim=1).values - reach
    hi = tri.max(dim=1).values + reach
    # Pixel centres j + 0.5 inside [lo, hi] are j = ceil(lo - 0.5) .. floor(hi - 0.5).
    first_px = torch.ceil(lo - 0.5).clamp(min=0)
    last_px = torch.floor(hi - 0.5) + 1
    c0 = first_px[:, 0].clamp(max=width).long()
    c1 = last_px[:, 0].clamp(min=0, max=width).long()
    r0 = first_px[:, 1].clamp(max=height).long()
    r1 = last_px[:, 1].clamp(min=0, max=height).long()
    seen = torch.nonzero((c1 > c0) & (r1 > r0)).squeeze(1)
    centre = tri[seen].mean(dim=1).clamp(min=0)
    tiles_across = width // 16 + 1
    tile = ((centre[:, 1] // 16).clamp(max=height // 16) * tiles_across
            + (centre[:, 0] // 16).clamp(max=width // 16))
    order = seen[torch.argsort(tile, stable=True)]
    boxes = torch.stack([r0[order], r1[order], c0[order], c1[order]], dim=1).tolist()

    # A block grows while it fits the budget and, past a small size where per-block overhead
    # dominates, while at least a quarter of its pixel-triangle pairs lie in the triangles' own boxes.
    blocks = []
    i = 0
    while i < len(boxes):
        br0, br1, bc0, bc1 = boxes[i]
        own = (br1 - br0) * (bc1 - bc0)
        j = i + 1
        while j < len(boxes):
            r0_, r1_, c0_, c1_ = boxes[j]
            nr0, nr1, nc0, nc1 = min(br0, r0_), max(br1, r1_), min(bc0, c0_), max(bc1, c1_)
            pairs = (nr1 - nr0) * (nc1 - nc0) * (j - i + 1)
            n_own = own + (r1_ - r0_) * (c1_ - c0_)
            if pairs > max_elements or (pairs > _SILHOUETTE_SMALL_BLOCK and pairs > 4 * n_own):
                break
            br0, br1, bc0, bc1, own = nr0, nr1, nc0, nc1, n_own
            j += 1
        blocks.append((i, j, br0, br1, bc0, bc1))
        i = j
    return blocks, order


# -- sampling ----------------------------------------------------------------------------------
def sample_points_from_mesh(verts: torch.Tensor, faces: torch.Tensor, n: int,
                            generator: torch.Generator | None = None
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """n points (n, 3) uniformly over the surface (faces picked by area) and their face indices.

    The points are differentiable with respect to verts (the face choice is not).
    """
    faces = _check_mesh(verts, faces)
    if n < 0:
        raise ValueError(f"n must be non-negative; got {n}")
    tri = verts[faces]  # (F, 3, 3)
    with torch.no_grad():
        areas = 0.5 * torch.linalg.vector_norm(
            torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1), dim=-1)
    if faces.shape[0] == 0 or not bool(torch.isfinite(areas).all()) or not float(areas.sum()) > 0:
        raise ValueError("the mesh has no surface to sample: give it at least one face of "
                         "positive, finite area")
    if n == 0:
        return verts.new_zeros((0, 3)), torch.zeros(0, dtype=torch.long, device=verts.device)
    face_idx = torch.multinomial(areas, n, replacement=True, generator=generator)
    r = torch.rand(n, 2, dtype=verts.dtype, device=verts.device, generator=generator)
    s = r[:, 0].sqrt()  # the square root makes the density uniform over each triangle
    w = torch.stack([1.0 - s, s * (1.0 - r[:, 1]), s * r[:, 1]], dim=1)
    points = (w[:, :, None] * tri[face_idx]).sum(dim=1)
    return points, face_idx
