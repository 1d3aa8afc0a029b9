"""Differentiable geometry in torch agrees with brute-force numpy and with hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sketchforge.neural.geometry import soft_silhouette


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# -- numpy references --------------------------------------------------------------------------
def _point_triangle_sq_distance(p: np.ndarray, tri: np.ndarray) -> tuple[float, bool]:
    best = np.inf
    for i in range(3):
        a, b = tri[i], tri[(i + 1) % 3]
        t = np.clip(np.dot(p - a, b - a) / np.dot(b - a, b - a), 0.0, 1.0)
        best = min(best, float(np.sum((p - (a + t * (b - a))) ** 2)))
    # Barycentric coordinates decide inside/outside independently of the winding.
    m = np.array([tri[1] - tri[0], tri[2] - tri[0]]).T
    l1, l2 = np.linalg.solve(m, p - tri[0])
    return best, bool(l1 >= 0 and l2 >= 0 and l1 + l2 <= 1)


def _silhouette_ref(uv: np.ndarray, faces: np.ndarray, h: int, w: int, sigma: float) -> np.ndarray:
    scale = 2.0 / max(h, w)
    out = np.zeros((h, w))
    for row in range(h):
        for col in range(w):
            p = np.array([col + 0.5, row + 0.5])
            keep = 1.0
            for f in faces:
                d_sq, inside = _point_triangle_sq_distance(p, uv[f])
                s = (1 if inside else -1) * d_sq * scale**2 / sigma
                keep *= 1.0 / (1.0 + math.exp(min(s, 700.0)))  # 1 - sigmoid(s)
            out[row, col] = 1.0 - keep
    return out


# -- soft silhouette ---------------------------------------------------------------------------
_BIG = torch.tensor([[8.0, 6.0, 1.0], [58.0, 12.0, 2.0], [20.0, 58.0, 3.0]], dtype=torch.float64)
_ONE = torch.tensor([[0, 1, 2]])


def _area(tri: np.ndarray) -> float:
    (x0, y0), (x1, y1), (x2, y2) = tri[:, :2]
    return abs((x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)) / 2


def _scattered_triangles(seed: int, count: int, w: int, h: int, size: float) -> tuple[np.ndarray, np.ndarray]:
    """`count` separate triangles of about `size` pixels, some hanging over the image border."""
    rng = _rng(seed)
    centres = np.column_stack([rng.uniform(-2, w + 2, count), rng.uniform(-2, h + 2, count)])
    uv = (centres[:, None, :] + rng.uniform(-size, size, size=(count, 3, 2))).reshape(-1, 2)
    return uv, np.arange(3 * count).reshape(count, 3)


@pytest.mark.parametrize("scene, h, w, sigma", [
    ("overlapping", 8, 12, 3e-2),  # soft: most pixels strictly between 0 and 1
    ("scattered", 16, 20, 1e-3),   # small triangles: most are skipped by most pixels
])
def test_soft_silhouette_matches_brute_force(scene, h, w, sigma):
    if scene == "overlapping":
        rng = _rng(8)
        uv = np.column_stack([rng.uniform(-2, 14, 7), rng.uniform(-2, 9, 7)])
        faces = np.array([[0, 1, 2], [2, 3, 4], [4, 6, 5], [1, 3, 6]])
    else:
        uv, faces = _scattered_triangles(9, 24, w, h, 2.5)
    ref = _silhouette_ref(uv, faces, h, w, sigma)
    for block in (1, 10**6):  # one triangle per block, and everything at once
        sil = soft_silhouette(torch.tensor(uv), torch.tensor(faces), h, w, sigma,
                              max_chunk_elements=block)
        assert sil.shape == (h, w)
        np.testing.assert_allclose(sil.numpy(), ref, rtol=1e-9, atol=1e-12)
    assert ((ref > 0.05) & (ref < 0.95)).mean() > 0.1


def test_soft_silhouette_gradient_matches_finite_differences():
    uv, faces = _scattered_triangles(10, 6, 10, 8, 3.0)
    uv = torch.tensor(uv, requires_grad=True)
    weights = torch.tensor(_rng(11).uniform(size=(8, 10)))  # a generic image loss
    assert torch.autograd.gradcheck(
        lambda v: (soft_silhouette(v, torch.tensor(faces), 8, 10, 3e-2, max_chunk_elements=40)
                   * weights).sum(), (uv,))


def test_soft_silhouette_is_one_inside_zero_outside_and_sums_to_the_area():
    sil = soft_silhouette(_BIG, _ONE, 64, 64)
    centroid = _BIG[:, :2].mean(0)
    col, row = int(centroid[0]), int(centroid[1])
    assert float(sil[row, col]) > 0.999
    assert float(sil[60, 60]) < 1e-6 and float(sil[1, 40]) < 1e-6
    # Row index follows v (down), column index follows u (right).
    assert float(sil[52, 21]) > 0.99 and float(sil[21, 52]) < 0.01
    area = _area(_BIG.numpy())
    assert float(sil.sum()) == pytest.approx(area, rel=0.02)


def test_soft_silhouette_gradient_grows_coverage_outward():
    verts = _BIG.clone().requires_grad_(True)
    coverage = soft_silhouette(verts, _ONE, 64, 64).sum()
    coverage.backward()
    grad = verts.grad
    assert torch.isfinite(grad).all()
    assert (grad[:, 2] == 0).all()  # depth does not change a silhouette
    outward = (_BIG[:, :2] - _BIG[:, :2].mean(0))
    outward = outward / outward.norm(dim=1, keepdim=True)
    along = (grad[:, :2] * outward).sum(1)
    assert (along > 0).all()
    # And really moving a vertex outward covers more pixels.
    moved = _BIG.clone()
    moved[1, :2] += 3.0 * outward[1]
    assert float(soft_silhouette(moved, _ONE, 64, 64).sum()) > float(coverage.detach()) + 10
