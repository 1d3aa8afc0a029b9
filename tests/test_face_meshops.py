"""Mesh operators and metrics in plain torch (neural/face/meshops.py), each against a brute-force
numpy / trimesh reference on small meshes and point sets: edges, uniform and cotangent Laplacians,
smoothing, normals, the pytorch3d-style losses, area-uniform sampling, Chamfer distance, F-score,
gradients (gradcheck in double precision) and bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import trimesh

from sketchforge.neural.face import meshops as M

# ----------------------------------------------------------------------------------------------
# meshes and references

def _random_mesh(seed: int, nv: int = 30, nf: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Random soup (non-manifold edges likely); the last vertex is used by no face."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(nv, 3))
    f = np.array([rng.choice(nv - 1, size=3, replace=False) for _ in range(nf)], dtype=np.int64)
    return v, f


def _sphere(seed: int = 0, subdivisions: int = 2, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    s = trimesh.creation.icosphere(subdivisions=subdivisions)
    v = np.array(s.vertices, dtype=np.float64)
    if noise:
        v = v + np.random.default_rng(seed).normal(scale=noise, size=v.shape)
    return v, np.array(s.faces, dtype=np.int64)


def _neighbours(nv: int, f: np.ndarray) -> list[set[int]]:
    nb: list[set[int]] = [set() for _ in range(nv)]
    for tri in f:
        for a, b in itertools.permutations(tri.tolist(), 2):
            if a != b:
                nb[a].add(b)
    return nb


def _uniform_ref(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Dense L by a loop over each vertex's neighbours."""
    nb = _neighbours(len(v), f)
    lap = np.zeros((len(v), len(v)))
    for i, ns in enumerate(nb):
        if ns:
            lap[i, i] = -1.0
            for j in ns:
                lap[i, j] = 1.0 / len(ns)
    return lap


def _cot_ref(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Dense normalised cotangent L by a loop over triangles and their corners."""
    w = np.zeros((len(v), len(v)))
    for tri in f:
        for c in range(3):
            i, j, k = tri[c], tri[(c + 1) % 3], tri[(c + 2) % 3]
            e1, e2 = v[j] - v[i], v[k] - v[i]
            cot = np.dot(e1, e2) / np.linalg.norm(np.cross(e1, e2))
            w[j, k] += cot
            w[k, j] += cot
    lap = np.zeros_like(w)
    for i in range(len(v)):
        s = w[i].sum()
        if s > 0:
            lap[i] = w[i] / s
            lap[i, i] = -1.0
    return lap


def _area_normals_ref(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    n = np.zeros_like(v)
    for tri in f:
        c = np.cross(v[tri[1]] - v[tri[0]], v[tri[2]] - v[tri[0]])   # |c| = 2 * area
        for i in tri:
            n[i] += c
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.where(length > 0, n / np.where(length > 0, length, 1.0), 0.0)


def _consistency_ref(v: np.ndarray, f: np.ndarray) -> float:
    """pytorch3d's definition by a loop: all pairs of faces on each edge."""
    on_edge: dict[tuple[int, int], list[int]] = {}
    for tri in f.tolist():
        for k in range(3):
            a, b, opp = tri[k], tri[(k + 1) % 3], tri[(k + 2) % 3]
            on_edge.setdefault((min(a, b), max(a, b)), []).append(opp)
    losses = []
    for (a, b), opps in on_edge.items():
        for o0, o1 in itertools.combinations(opps, 2):
            e = v[b] - v[a]
            n0 = np.cross(e, v[o0] - v[a])
            n1 = -np.cross(e, v[o1] - v[a])
            losses.append(1.0 - np.dot(n0, n1) / (np.linalg.norm(n0) * np.linalg.norm(n1)))
    return float(np.mean(losses))


def _t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x)


# ----------------------------------------------------------------------------------------------
# connectivity and Laplacians

def test_edges_are_the_unique_undirected_edges():
    v, f = _random_mesh(1)
    ref = sorted({(min(a, b), max(a, b)) for tri in f.tolist() for a, b in itertools.combinations(tri, 2)})
    e = M.edges(_t(f))
    assert e.dtype == torch.int64 and e.shape == (len(ref), 2)
    assert [tuple(r) for r in e.tolist()] == ref
    assert M.edges(f).tolist() == e.tolist()          # numpy accepted


def test_uniform_laplacian_matches_a_loop_over_neighbours():
    v, f = _random_mesh(2)
    lap = M.laplacian(_t(v), _t(f))
    assert lap.is_sparse and lap.shape == (len(v), len(v))
    ref = _uniform_ref(v, f)
    np.testing.assert_allclose(lap.to_dense().numpy(), ref, atol=1e-12)
    np.testing.assert_allclose(torch.sparse.mm(lap, _t(v)).numpy(), ref @ v, atol=1e-12)
    assert not lap.to_dense()[-1].any()               # the unused vertex has a zero row


def test_cotangent_laplacian_matches_a_loop_over_triangles():
    v, f = _sphere(3, noise=0.03)
    lap = M.laplacian(_t(v), _t(f), kind="cotangent")
    ref = _cot_ref(v, f)
    np.testing.assert_allclose(lap.to_dense().numpy(), ref, atol=1e-9)
    # on the unit sphere the cotangent Laplacian points (roughly) inwards along the normal
    v0, f0 = _sphere()
    lv = torch.sparse.mm(M.laplacian(_t(v0), _t(f0), kind="cotangent"), _t(v0)).numpy()
    cos = (lv * -v0).sum(1) / np.linalg.norm(lv, axis=1)
    assert cos.min() > 0.99


def test_laplacian_smooth_steps_and_shrinks_roughness():
    v, f = _sphere(4, noise=0.05)
    vt, ft = _t(v), _t(f)
    ft_before = ft.clone()
    one = M.laplacian_smooth(vt, ft, lam=0.3, iterations=1)
    np.testing.assert_allclose(one.numpy(), v + 0.3 * _uniform_ref(v, f) @ v, atol=1e-12)
    np.testing.assert_allclose(M.laplacian_smooth(vt, ft, lam=0.3, iterations=1, kind="cotangent").numpy(),
                               v + 0.3 * _cot_ref(v, f) @ v, atol=1e-9)
    for kind in ("uniform", "cotangent"):
        out = M.laplacian_smooth(vt, ft, lam=0.5, iterations=5, kind=kind)
        assert out.shape == vt.shape and out.dtype == vt.dtype
        # (a clean sphere keeps a curvature floor: the noise part is what goes)
        assert float(M.laplacian_loss(out, ft)) < 0.85 * float(M.laplacian_loss(vt, ft))
        assert float(M.normal_consistency(out, ft)) < float(M.normal_consistency(vt, ft))
    assert torch.equal(ft, ft_before) and torch.equal(vt, _t(v))      # inputs untouched
    zero = M.laplacian_smooth(vt, ft, iterations=0)
    assert torch.equal(zero, vt) and zero is not vt
    x = vt.clone().requires_grad_(True)
    M.laplacian_smooth(x, ft, iterations=2, kind="cotangent").sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


# ----------------------------------------------------------------------------------------------
# normals

def test_face_and_vertex_normals_match_references():
    from sketchforge.neural.face.heads import mesh_head, sample_head

    v, f = mesh_head(sample_head(np.random.default_rng(0), "human"), 48)
    tm = trimesh.Trimesh(v, f, process=False)
    fn = M.face_normals(_t(v), _t(f)).numpy()
    np.testing.assert_allclose(fn, tm.face_normals, atol=1e-9)
    vn = M.vertex_normals(_t(v), _t(f)).numpy()
    np.testing.assert_allclose(vn, _area_normals_ref(v, f), atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(vn, axis=1), 1.0, atol=1e-9)
    # trimesh weights by angle, not area: close on a fine, well-shaped mesh
    cos = (vn * tm.vertex_normals).sum(1)
    assert np.median(cos) > 0.999 and np.quantile(cos, 0.01) > 0.95 and cos.min() > 0.5
    # outward: normals point away from the centre on average
    assert ((v - v.mean(0)) * vn).sum(1).mean() > 0


def test_vertex_normals_unused_vertex_and_float32():
    v, f = _random_mesh(5)
    vn = M.vertex_normals(torch.tensor(v, dtype=torch.float32), _t(f))
    assert vn.dtype == torch.float32
    assert not vn[-1].any()
    np.testing.assert_allclose(vn.numpy(), _area_normals_ref(v, f), atol=1e-5)


def test_smoothed_normals_match_a_loop():
    v, f = _sphere(6, noise=0.05)
    nb = _neighbours(len(v), f)
    ref = _area_normals_ref(v, f)
    for _ in range(3):
        ref = np.array([ref[i] + sum(ref[j] for j in nb[i]) for i in range(len(v))])
        ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(M.smoothed_normals(_t(v), _t(f), 3).numpy(), ref, atol=1e-10)
    assert torch.equal(M.smoothed_normals(_t(v), _t(f), 0), M.vertex_normals(_t(v), _t(f)))
    # smoothing pulls the noisy normals towards the sphere's radial direction
    radial = v / np.linalg.norm(v, axis=1, keepdims=True)
    err = lambda n: np.arccos(np.clip((n * radial).sum(1), -1, 1)).mean()   # noqa: E731
    assert err(M.smoothed_normals(_t(v), _t(f), 3).numpy()) < err(_area_normals_ref(v, f))


# ----------------------------------------------------------------------------------------------
# regularisers

def test_laplacian_loss_matches_reference():
    v, f = _sphere(7, noise=0.05)
    lv = _uniform_ref(v, f) @ v
    assert float(M.laplacian_loss(_t(v), _t(f))) == pytest.approx(np.linalg.norm(lv, axis=1).mean(), rel=1e-12)
    assert float(M.laplacian_loss(_t(v), _t(f), squared=True)) == pytest.approx((lv ** 2).sum(1).mean(), rel=1e-12)


def test_normal_consistency():
    # flat, subdivided and jittered in the plane: 0
    n = 6
    xs, ys = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n), indexing="ij")
    v = np.stack([xs.ravel(), ys.ravel(), np.zeros(n * n)], 1)
    v[:, :2] += np.random.default_rng(0).uniform(-0.02, 0.02, size=(n * n, 2))
    quads = [(i * n + j, (i + 1) * n + j, (i + 1) * n + j + 1, i * n + j + 1)
             for i in range(n - 1) for j in range(n - 1)]
    f = np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))], dtype=np.int64)
    assert abs(float(M.normal_consistency(_t(v), _t(f)))) < 1e-12
    # a cube: 12 creases at 90 degrees (1 each), 6 flat diagonals (0 each)
    box = trimesh.creation.box()
    nc = float(M.normal_consistency(_t(np.array(box.vertices)), _t(np.array(box.faces, dtype=np.int64))))
    assert nc == pytest.approx(2 / 3, abs=1e-12)
    # flipping a face's winding changes nothing (the normals are built from the shared edge)
    bf = np.array(box.faces, dtype=np.int64)
    bf[0] = bf[0, ::-1]
    assert float(M.normal_consistency(_t(np.array(box.vertices)), _t(bf))) == pytest.approx(2 / 3, abs=1e-12)
    # against the loop: a noisy sphere, and a fin (three faces on one edge)
    v, f = _sphere(8, noise=0.05)
    assert float(M.normal_consistency(_t(v), _t(f))) == pytest.approx(_consistency_ref(v, f), rel=1e-10)
    fin_v = np.array([[0, 0, 0], [0, 0, 1], [1, 0, 0.3], [-1, 0.2, 0.5], [0, 1, 0.5], [1, 1, 1]], dtype=float)
    fin_f = np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4], [1, 2, 5]], dtype=np.int64)
    assert float(M.normal_consistency(_t(fin_v), _t(fin_f))) == pytest.approx(_consistency_ref(fin_v, fin_f), rel=1e-10)
    # no shared edges: 0
    assert float(M.normal_consistency(_t(fin_v), _t(fin_f[:1]))) == 0.0


def test_gradcheck_losses_and_normals():
    v, f = _sphere(9, subdivisions=0, noise=0.05)        # icosahedron: 12 vertices, 20 faces
    x = _t(v).clone().requires_grad_(True)
    ft = _t(f)
    assert torch.autograd.gradcheck(lambda p: M.laplacian_loss(p, ft), (x,))
    assert torch.autograd.gradcheck(lambda p: M.laplacian_loss(p, ft, squared=True), (x,))
    assert torch.autograd.gradcheck(lambda p: M.normal_consistency(p, ft), (x,))
    assert torch.autograd.gradcheck(lambda p: M.vertex_normals(p, ft), (x,))
    fixed = _t(v).clone()                               # only the weights vary (not what they multiply)
    assert torch.autograd.gradcheck(lambda p: torch.sparse.mm(M.laplacian(p, ft, "cotangent"), fixed), (x,))


# ----------------------------------------------------------------------------------------------
# sampling

def _point_triangle_distance(points: np.ndarray, v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """(n, F) distances from each point to each triangle (trimesh's exact closest point, no rtree)."""
    tris = v[f]
    n, nf = len(points), len(f)
    closest = trimesh.triangles.closest_point(np.repeat(tris[None], n, 0).reshape(-1, 3, 3),
                                              np.repeat(points, nf, 0))
    return np.linalg.norm(closest - np.repeat(points, nf, 0), axis=1).reshape(n, nf)


def test_sample_points_lie_on_the_mesh_with_their_face_normals():
    v, f = _sphere(10, subdivisions=1, noise=0.05)
    pts, nrm = M.sample_points(_t(v), _t(f), 300, generator=torch.Generator().manual_seed(0))
    assert pts.shape == nrm.shape == (300, 3) and pts.dtype == torch.float64
    d = _point_triangle_distance(pts.numpy(), v, f)
    assert d.min(axis=1).max() < 1e-12
    owner = d.argmin(axis=1)
    np.testing.assert_allclose(nrm.numpy(), M.face_normals(_t(v), _t(f)).numpy()[owner], atol=1e-12)
    again, _ = M.sample_points(_t(v), _t(f), 300, generator=torch.Generator().manual_seed(0))
    assert torch.equal(pts, again)


def test_sample_points_follow_area_and_are_uniform_inside_a_face():
    # separate triangles of very different sizes, 10 apart along x: x tells a point's face
    rng = np.random.default_rng(11)
    scales = np.array([0.2, 0.5, 1.0, 2.0, 3.0])
    tris = [rng.uniform(0, 1, size=(3, 3)) * s + [10.0 * k, 0, 0] for k, s in enumerate(scales)]
    v = np.concatenate(tris)
    f = np.arange(len(v), dtype=np.int64).reshape(-1, 3)
    area = trimesh.triangles.area(v[f])
    n = 40000
    pts, _ = M.sample_points(torch.tensor(v, dtype=torch.float32), _t(f), n, generator=torch.Generator().manual_seed(1))
    assert pts.dtype == torch.float32
    face = np.rint(pts[:, 0].numpy() / 10.0).astype(int)
    assert face.min() >= 0 and face.max() <= 4
    counts = np.bincount(face, minlength=5)
    p = area / area.sum()
    assert np.all(np.abs(counts - n * p) < 5 * np.sqrt(n * p * (1 - p)) + 1)
    # inside the biggest face the mean point is the centroid (uniform density)
    big = pts.numpy()[face == 4].astype(np.float64)
    spread = np.abs(v[f[4]] - v[f[4]].mean(0)).max()
    assert np.abs(big.mean(0) - v[f[4]].mean(0)).max() < 0.02 * spread + 5 * spread / np.sqrt(len(big))


def test_sample_points_are_differentiable():
    v, f = _sphere(12, subdivisions=1)
    x = _t(v).clone().requires_grad_(True)
    pts, nrm = M.sample_points(x, _t(f), 500, generator=torch.Generator().manual_seed(2))
    pts.sum().backward()
    # each point is a convex combination of its face's corners: the weights sum to one per point
    np.testing.assert_allclose(x.grad.sum(0).numpy(), [500.0] * 3, atol=1e-9)
    x.grad = None
    nrm.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert M.sample_points(x, _t(f), 0)[0].shape == (0, 3)


# ----------------------------------------------------------------------------------------------
# point-cloud metrics

def _chamfer_ref(a, b, na=None, nb=None) -> dict[str, float]:
    d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    ia, ib = d2.argmin(1), d2.argmin(0)
    sa, sb = d2.min(1), d2.min(0)
    out = {"l2_a_to_b": sa.mean(), "l2_b_to_a": sb.mean(), "a_to_b": np.sqrt(sa).mean(), "b_to_a": np.sqrt(sb).mean()}
    out["l2"] = out["l2_a_to_b"] + out["l2_b_to_a"]
    out["l1"] = out["a_to_b"] + out["b_to_a"]
    if na is not None:
        cos = lambda x, y: (x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))  # noqa: E731
        out["normal_a_to_b"] = (1 - np.abs(cos(na, nb[ia]))).mean()
        out["normal_b_to_a"] = (1 - np.abs(cos(nb, na[ib]))).mean()
        out["normal"] = out["normal_a_to_b"] + out["normal_b_to_a"]
    return out


@pytest.mark.parametrize("method,chunk", [("kdtree", 4096), ("brute", 7), ("brute", 4096), ("auto", 4096)])
def test_chamfer_matches_the_full_distance_matrix(method, chunk):
    rng = np.random.default_rng(13)
    a, b = rng.normal(size=(53, 3)), rng.normal(size=(71, 3)) + 0.3
    na, nb = rng.normal(size=(53, 3)), rng.normal(size=(71, 3))
    ref = _chamfer_ref(a, b, na, nb)
    got = M.chamfer(_t(a), _t(b), _t(na), _t(nb), chunk=chunk, method=method)
    assert set(got) == set(ref)
    for k, val in ref.items():
        assert float(got[k]) == pytest.approx(val, rel=1e-10), k
    plain = M.chamfer(torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32), chunk=chunk,
                      method=method)
    assert "normal" not in plain and plain["l2"].dtype == torch.float32
    assert float(plain["l2"]) == pytest.approx(ref["l2"], rel=1e-5)


def test_chamfer_of_a_set_with_itself_is_zero_and_gradcheck():
    rng = np.random.default_rng(14)
    a = _t(rng.normal(size=(40, 3)))
    got = M.chamfer(a, a.clone())
    assert float(got["l2"]) == 0.0 and float(got["l1"]) == 0.0
    pa = _t(rng.normal(size=(7, 3))).requires_grad_(True)
    pb = _t(rng.normal(size=(5, 3))).requires_grad_(True)
    for method in ("kdtree", "brute"):
        assert torch.autograd.gradcheck(lambda x, y, method=method: M.chamfer(x, y, method=method)["l2"], (pa, pb))
        assert torch.autograd.gradcheck(lambda x, y, method=method: M.chamfer(x, y, method=method)["l1"], (pa, pb))
    # chamfer of points sampled from a tiny mesh, w.r.t. the mesh's vertices (fixed face choice)
    v, f = _sphere(15, subdivisions=0, noise=0.05)
    target = _t(rng.normal(size=(30, 3)))
    x = _t(v).clone().requires_grad_(True)
    pts, _ = M.sample_points(x, _t(f), 40, generator=torch.Generator().manual_seed(3))
    M.chamfer(pts, target)["l2"].backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_fscore():
    rng = np.random.default_rng(16)
    a, b = rng.uniform(size=(200, 3)), rng.uniform(size=(150, 3))
    f, p, r = M.fscore(_t(a), _t(a), 1e-3)
    assert (float(f), float(p), float(r)) == (1.0, 1.0, 1.0)
    f, p, r = M.fscore(_t(a), _t(a + 100.0), 1.0)
    assert (float(f), float(p), float(r)) == (0.0, 0.0, 0.0)
    d = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
    for method in ("kdtree", "brute"):
        f, p, r = M.fscore(_t(a), _t(b), 0.1, chunk=16, method=method)
        pr, rr = (d.min(1) < 0.1).mean(), (d.min(0) < 0.1).mean()
        assert float(p) == pytest.approx(pr) and float(r) == pytest.approx(rr)
        assert float(f) == pytest.approx(2 * pr * rr / (pr + rr))


# ----------------------------------------------------------------------------------------------
# bad input

_V, _F = _sphere(subdivisions=0)


@pytest.mark.parametrize("call,match", [
    (lambda: M.laplacian(_t(_V), _t(np.array([[0, 1, 12]]))), "only 12 vertices"),
    (lambda: M.vertex_normals(_t(_V), _t(np.array([[0, -1, 2]]))), "negative"),
    (lambda: M.face_normals(_t(_V), _t(np.zeros((3, 4), dtype=np.int64))), r"shape \(F, 3\)"),
    (lambda: M.edges(_t(np.zeros(6, dtype=np.int64))), r"shape \(F, 3\)"),
    (lambda: M.laplacian(_t(_V), _t(_F.astype(float))), "integers"),
    (lambda: M.laplacian(_t(_V[:, :2]), _t(_F)), r"vertices must have shape \(N, 3\)"),
    (lambda: M.laplacian(_t(_V).to(torch.int64), _t(_F)), "floating point"),
    (lambda: M.laplacian(_t(_V * np.nan), _t(_F)), "NaN"),
    (lambda: M.laplacian(_V.tolist(), _F), "torch tensor or numpy array"),
    (lambda: M.laplacian(_V, _F, kind="mean"), "kind"),
    (lambda: M.laplacian_smooth(_V, _F, iterations=-1), "iterations"),
    (lambda: M.laplacian_smooth(_V, _F, lam=float("nan")), "lam"),
    (lambda: M.smoothed_normals(_V, _F, iterations=1.5), "iterations"),
    (lambda: M.sample_points(_V, _F, -1), "n must"),
    (lambda: M.sample_points(np.zeros((3, 3)), np.array([[0, 1, 2]]), 5), "zero surface area"),
    (lambda: M.sample_points(_V, np.zeros((0, 3), dtype=np.int64), 5), "no faces"),
    (lambda: M.chamfer(_t(_V[:, :2]), _t(_V)), r"a must have shape \(N, 3\)"),
    (lambda: M.chamfer(_t(_V), _t(_V[:0])), "non-empty"),
    (lambda: M.chamfer(_t(_V), _t(_V), a_normals=_t(_V)), "both"),
    (lambda: M.chamfer(_t(_V), _t(_V), _t(_V[:5]), _t(_V)), "match"),
    (lambda: M.chamfer(_t(_V), _t(_V), chunk=0), "chunk"),
    (lambda: M.chamfer(_t(_V), _t(_V), method="fast"), "method"),
    (lambda: M.fscore(_t(_V), _t(_V), 0.0), "threshold"),
])
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
