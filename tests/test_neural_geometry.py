"""Differentiable geometry in torch agrees with brute-force numpy and with hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sketchforge.neural.geometry import (
    chamfer_distance,
    knn_points,
    mesh_laplacian_smoothing,
    mesh_normal_consistency,
    sample_points_from_mesh,
    soft_silhouette,
)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# -- numpy references --------------------------------------------------------------------------
def _knn_ref(x: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    d = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, idx, axis=1), idx


def _chamfer_ref(x: np.ndarray, y: np.ndarray) -> float:
    d = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    return float(d.min(axis=1).mean() + d.min(axis=0).mean())


def _cot_laplacian_loss_ref(verts: np.ndarray, faces: np.ndarray) -> float:
    n = len(verts)
    w = np.zeros((n, n))
    for f in faces:
        for corner in range(3):
            o, i, j = f[corner], f[(corner + 1) % 3], f[(corner + 2) % 3]
            u, v = verts[i] - verts[o], verts[j] - verts[o]
            angle = math.acos(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))
            w[i, j] += 1.0 / math.tan(angle)
            w[j, i] += 1.0 / math.tan(angle)
    norms = [np.linalg.norm(w[i] @ verts / w[i].sum() - verts[i]) for i in range(n) if w[i].sum() > 0]
    return float(np.mean(norms))


def _normal_consistency_ref(verts: np.ndarray, faces: np.ndarray) -> float:
    """Pairs of faces sharing an edge, normals oriented as if both faces were wound consistently."""
    terms = []
    for a in range(len(faces)):
        for b in range(a + 1, len(faces)):
            shared = sorted(set(faces[a]) & set(faces[b]))
            if len(shared) != 2:
                continue
            p, q = verts[shared[0]], verts[shared[1]]
            ra = verts[[v for v in faces[a] if v not in shared][0]]
            rb = verts[[v for v in faces[b] if v not in shared][0]]
            na, nb = np.cross(q - p, ra - p), np.cross(q - p, rb - p)
            # Consistent winding puts the two opposite corners on either side of the edge,
            # so their normals relative to the edge point opposite ways.
            cos = -np.dot(na, nb) / (np.linalg.norm(na) * np.linalg.norm(nb))
            terms.append(1.0 - cos)
    return float(np.mean(terms))


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


# -- knn and chamfer ---------------------------------------------------------------------------
def test_knn_matches_brute_force_and_respects_lengths():
    rng = _rng(1)
    x = torch.tensor(rng.normal(size=(3, 37, 3)))
    y = torch.tensor(rng.normal(size=(3, 29, 3)))
    x_len, y_len = torch.tensor([37, 20, 5]), torch.tensor([29, 11, 6])
    # A tiny block size forces many row blocks through the chunked search.
    dists, idx = knn_points(x, y, 4, x_len, y_len, max_chunk_elements=50)
    assert dists.shape == idx.shape == (3, 37, 4)
    for b in range(3):
        nx, ny = int(x_len[b]), int(y_len[b])
        ref_d, ref_i = _knn_ref(x[b, :nx].numpy(), y[b, :ny].numpy(), 4)
        np.testing.assert_array_equal(idx[b, :nx].numpy(), ref_i)
        np.testing.assert_allclose(dists[b, :nx].numpy(), ref_d, rtol=1e-10, atol=1e-12)
        assert (idx[b, nx:] == -1).all() and (dists[b, nx:] == 0).all()


def test_knn_pads_neighbours_beyond_a_short_cloud():
    rng = _rng(2)
    x = torch.tensor(rng.normal(size=(1, 6, 3)), dtype=torch.float32)
    y = torch.tensor(rng.normal(size=(1, 8, 3)), dtype=torch.float32)
    dists, idx = knn_points(x, y, 5, y_lengths=torch.tensor([3]))
    assert (idx[0, :, :3] >= 0).all() and (idx[0, :, :3] < 3).all()
    assert (idx[0, :, 3:] == -1).all() and (dists[0, :, 3:] == 0).all()


def test_knn_float32_far_from_origin_finds_true_neighbours():
    rng = _rng(3)
    offset = np.array([5000.0, -3000.0, 800.0])
    x = rng.uniform(0, 10, size=(200, 3)) + offset
    y = rng.uniform(0, 10, size=(300, 3)) + offset
    _, idx = knn_points(torch.tensor(x[None], dtype=torch.float32),
                        torch.tensor(y[None], dtype=torch.float32), 1)
    _, ref = _knn_ref(x, y, 1)
    assert (idx[0, :, 0].numpy() == ref[:, 0]).mean() > 0.99


def test_chamfer_matches_brute_force_with_padded_batches():
    rng = _rng(4)
    x = torch.tensor(rng.normal(size=(3, 40, 3)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(3, 30, 3)))
    x_len, y_len = torch.tensor([40, 17, 3]), torch.tensor([9, 30, 30])
    loss, per_cloud = chamfer_distance(x, y, x_len, y_len)
    ref = [_chamfer_ref(x[b, :x_len[b]].detach().numpy(), y[b, :y_len[b]].numpy()) for b in range(3)]
    np.testing.assert_allclose(per_cloud.detach().numpy(), ref, rtol=1e-10)
    assert float(loss.detach()) == pytest.approx(np.mean(ref), rel=1e-10)
    total, _ = chamfer_distance(x, y, x_len, y_len, reduction="sum")
    assert float(total.detach()) == pytest.approx(np.sum(ref), rel=1e-10)
    # Padded points must not move the loss, so they get no gradient.
    loss.backward()
    assert (x.grad[1, 17:] == 0).all() and (x.grad[2, 3:] == 0).all()
    assert (x.grad[1, :17].abs().sum(-1) > 0).any()


def test_chamfer_is_zero_for_identical_clouds_and_has_analytic_gradients():
    rng = _rng(5)
    x = torch.tensor(rng.normal(size=(1, 12, 3)))
    assert float(chamfer_distance(x, x.clone())[0]) == 0.0
    y = torch.tensor(rng.normal(size=(1, 9, 3)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: chamfer_distance(a, b)[0],
                                    (x.clone().requires_grad_(True), y))


# -- laplacian ---------------------------------------------------------------------------------
def test_uniform_laplacian_of_a_tiny_mesh_matches_hand_computation():
    # A unit square split along the diagonal 0-2, with corner 2 lifted to z = 1.
    verts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [1, 1, 1], [0, 1, 0]], dtype=torch.float64)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    # Neighbour means minus vertex, vertex by vertex:
    # 0: mean(1, 2, 3) - 0 = (2/3, 2/3, 1/3);  1: mean(0, 2) - 1 = (-1/2, 1/2, 1/2)
    # 2: mean(0, 1, 3) - 2 = (-2/3, -2/3, -1); 3: mean(0, 2) - 3 = (1/2, -1/2, 1/2)
    expected = (math.sqrt(4 / 9 + 4 / 9 + 1 / 9) + math.sqrt(3 / 4)
                + math.sqrt(4 / 9 + 4 / 9 + 1) + math.sqrt(3 / 4)) / 4
    assert float(mesh_laplacian_smoothing(verts, faces)) == pytest.approx(expected, rel=1e-12)


def test_cotangent_laplacian_matches_brute_force_and_vanishes_inside_a_flat_patch():
    rng = _rng(6)
    # A 3 x 3 vertex grid, jittered, triangulated; the centre vertex is the only interior one.
    g = np.array([[i, j, 0.0] for j in range(3) for i in range(3)])
    g[:, :2] += rng.uniform(-0.2, 0.2, size=(9, 2))
    faces = np.array([[0, 1, 4], [0, 4, 3], [1, 2, 5], [1, 5, 4],
                      [3, 4, 7], [3, 7, 6], [4, 5, 8], [4, 8, 7]])
    bumpy = g.copy()
    bumpy[:, 2] = rng.normal(scale=0.3, size=9)
    loss = mesh_laplacian_smoothing(torch.tensor(bumpy), torch.tensor(faces), "cotangent")
    assert float(loss) == pytest.approx(_cot_laplacian_loss_ref(bumpy, faces), rel=1e-9)

    # Flat patch: the reference agrees too, and lifting the centre out of the plane costs more.
    flat = torch.tensor(g)
    lifted = flat.clone()
    lifted[4, 2] = 0.5
    base = mesh_laplacian_smoothing(flat, torch.tensor(faces), "cotangent")
    assert float(base) == pytest.approx(_cot_laplacian_loss_ref(g, faces), rel=1e-9)
    assert float(mesh_laplacian_smoothing(lifted, torch.tensor(faces), "cotangent")) > float(base)


def test_laplacian_gradient_pulls_a_spike_back_into_the_surface():
    verts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]])
    verts[0, 2] = 0.8  # a spike at the hub of a four-triangle fan
    verts.requires_grad_(True)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3], [0, 3, 4], [0, 4, 1]])
    for method in ("uniform", "cotangent"):
        verts.grad = None
        mesh_laplacian_smoothing(verts, faces, method).backward()
        assert torch.isfinite(verts.grad).all()
        assert float(verts.grad[0, 2]) > 0  # descending the loss lowers the spike


# -- normal consistency ------------------------------------------------------------------------
def _strip(fold_deg: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Two unit squares side by side, two triangles each, the second folded up about x = 1."""
    t = math.radians(fold_deg)
    verts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [1 + math.cos(t), 0, math.sin(t)],
                          [0, 1, 0], [1, 1, 0], [1 + math.cos(t), 1, math.sin(t)]],
                         dtype=torch.float64)
    faces = torch.tensor([[0, 1, 4], [0, 4, 3], [1, 2, 5], [1, 5, 4]])
    return verts, faces


def test_normal_consistency_is_zero_flat_and_one_minus_cos_at_a_fold():
    verts, faces = _strip(0.0)
    assert float(mesh_normal_consistency(verts, faces)) == pytest.approx(0.0, abs=1e-12)
    verts, faces = _strip(60.0)
    # Three interior edges: two diagonals (flat) and the fold (1 - cos 60 deg).
    assert float(mesh_normal_consistency(verts, faces)) == pytest.approx(0.5 / 3, rel=1e-12)
    flipped = faces.clone()
    flipped[2] = flipped[2].flip(0)  # winding does not change the loss
    assert float(mesh_normal_consistency(verts, flipped)) == pytest.approx(0.5 / 3, rel=1e-12)


def test_normal_consistency_matches_brute_force_on_a_random_closed_mesh():
    rng = _rng(7)
    # An octahedron with jittered vertices: closed, every edge interior.
    verts = np.array([[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
    verts += rng.normal(scale=0.2, size=verts.shape)
    faces = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4],
                      [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])
    value = mesh_normal_consistency(torch.tensor(verts), torch.tensor(faces))
    assert float(value) == pytest.approx(_normal_consistency_ref(verts, faces), rel=1e-10)
    assert float(value) > 0.1


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


# -- sampling ----------------------------------------------------------------------------------
def test_sampled_points_lie_on_their_faces_in_proportion_to_area():
    # Two triangles of areas 1 and 3 in different planes.
    verts = torch.tensor([[0.0, 0, 0], [2, 0, 0], [0, 1, 0],
                          [0, 0, 1], [0, 3, 1], [0, 0, 3]], dtype=torch.float64)
    faces = torch.tensor([[0, 1, 2], [3, 4, 5]])
    gen = torch.Generator().manual_seed(0)
    pts, fid = sample_points_from_mesh(verts, faces, 20000, generator=gen)
    assert pts.shape == (20000, 3) and fid.shape == (20000,)
    p, tri = pts.numpy(), verts[faces].numpy()[fid.numpy()]
    # Barycentric coordinates of each point in its face, from a least-squares solve.
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    m = np.stack([e1, e2], axis=2)
    lam = np.stack([np.linalg.lstsq(m[i], p[i] - tri[i, 0], rcond=None)[0] for i in range(0, 20000, 97)])
    back = tri[::97, 0] + lam[:, :1] * e1[::97] + lam[:, 1:] * e2[::97]
    np.testing.assert_allclose(back, p[::97], atol=1e-12)  # on the face's plane
    assert (lam >= -1e-12).all() and (lam.sum(1) <= 1 + 1e-12).all()  # inside the face
    share = float((fid == 1).double().mean())
    assert share == pytest.approx(0.75, abs=0.015)
    # Uniform over each face: the mean of its samples is the centroid.
    for f in (0, 1):
        np.testing.assert_allclose(p[fid.numpy() == f].mean(0), tri[fid.numpy() == f][0].mean(0),
                                   atol=0.03)


def test_sampling_is_reproducible_and_differentiable():
    verts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 1]], requires_grad=True)
    faces = torch.tensor([[0, 1, 2], [1, 3, 2]])
    a, fa = sample_points_from_mesh(verts, faces, 500, torch.Generator().manual_seed(3))
    b, fb = sample_points_from_mesh(verts, faces, 500, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and torch.equal(fa, fb)
    a[:, 2].sum().backward()
    # d(sum of z)/d(z of vertex 3) is the sum of its barycentric weights: a third of a face's
    # samples on average.
    assert float(verts.grad[3, 2]) == pytest.approx(float((fa == 1).sum()) / 3, rel=0.1)
    with pytest.raises(ValueError, match="no surface"):
        sample_points_from_mesh(torch.zeros(3, 3), torch.tensor([[0, 1, 2]]), 10)
