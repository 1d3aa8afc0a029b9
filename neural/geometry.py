"""A differentiable SoftRas-style soft silhouette rasteriser in plain torch (what pytorch3d's
soft silhouette shading gives), for triangles already projected to pixel coordinates.

The mesh operators and metrics the project uses (Laplacians, normals, smoothing, surface
sampling, Chamfer distance, normal consistency, F-score) live in `neural/face/meshops.py`, the
one implementation of each.

Tensors in, tensors out; float32 or float64. Conversion from and to numpy happens at the
neural <-> modeling boundary, not here.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

__all__ = ["soft_silhouette"]

# Pixels x triangles per silhouette block; each block keeps ~20 such temporaries alive.
_SILHOUETTE_CHUNK_ELEMENTS = 2**21
# d^2 / sigma past which a triangle's coverage, sigmoid(-50) ~ 2e-22, is left out.
_SILHOUETTE_FAR = 50.0
# Pixel-triangle pairs below which a block is not split further for efficiency.
_SILHOUETTE_SMALL_BLOCK = 2**16


# -- checks ------------------------------------------------------------------------------------
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
