"""The reconstruction steps, checked with the true field and maps standing in for the networks:
marching cubes gives the head, the front view matches the true maps, IDGMM's steps move a
rough mesh towards the truth and keep its topology."""

import numpy as np
import pytest
import torch

from sketchforge.neural.face import reconstruct as R
from sketchforge.neural.face.frame import SIZE, FaceFrame, head_units_frame
from sketchforge.neural.face.heads import head_sdf, mesh_head, sample_head
from sketchforge.neural.face.meshops import chamfer, sample_points
from sketchforge.neural.face.net import ImplicitConfig, ImplicitNet, MapConfig, MapNet
from sketchforge.neural.face.sketches import head_sketch
from sketchforge.neural.face.train import resample_maps


@pytest.fixture(scope="module")
def head():
    params = sample_head(np.random.default_rng(11), "human")
    fs = head_sketch(params, np.random.default_rng(12), 128)
    frame, strokes = FaceFrame.of_sketch(fs.sketch)
    s, c = head_units_frame(frame)
    from sketchforge.neural.face.heads import front_maps
    fm = front_maps(params, 128)
    maps = resample_maps(fm["normal"], np.where(fm["mask"], fm["depth"], 0.0), fm["mask"], s, c)[None]
    return params, s, c, maps


def _oracle(params, s, c, symmetric_offset=0.0):
    def fn(points):
        return np.clip(head_sdf(params, points / s + c) * s + symmetric_offset, -0.15, 0.15).astype(np.float32)
    return fn


def _model(fn, grid=48):
    m = R.FaceModel(MapNet(MapConfig((4, 8))), ImplicitNet(ImplicitConfig((4, 8), 0, 8)), grid=grid)
    m._sdf_fn = lambda maps, symmetric: fn
    return m


def _chamfer_to_truth(v, f, params, s, c):
    tv, tf = mesh_head(params, 64)
    pa, _ = sample_points(torch.from_numpy(v / s + c), torch.from_numpy(f), 4000, torch.Generator().manual_seed(0))
    pb, _ = sample_points(torch.from_numpy(tv), torch.from_numpy(tf), 4000, torch.Generator().manual_seed(1))
    return float(chamfer(pa, pb)["l2"])


def test_marching_cubes_of_the_field_is_the_closed_head(head):
    params, s, c, maps = head
    v, f = _model(_oracle(params, s, c)).implicit_mesh(maps)
    # closed: every edge has exactly two triangles
    e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, counts = np.unique(e, axis=0, return_counts=True)
    assert (counts == 2).all()
    # outward: the signed volume is positive
    vol = np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6
    assert vol > 0
    assert _chamfer_to_truth(v, f, params, s, c) < 2e-3


def test_the_front_view_of_the_mesh_matches_the_true_maps(head):
    params, s, c, maps = head
    v, f = _model(_oracle(params, s, c), grid=64).implicit_mesh(maps)
    z, mask = R.front_view(v, f, SIZE)
    true_mask = maps[0, 4].numpy() > 0.5
    iou = (mask & true_mask).sum() / (mask | true_mask).sum()
    assert iou > 0.95
    both = mask & true_mask
    assert np.median(np.abs(z - maps[0, 3].numpy())[both]) < 0.03


def test_no_surface_is_a_clear_error(head):
    params, s, c, maps = head
    with pytest.raises(R.ReconstructionError, match="outline"):
        _model(lambda p: np.full(len(p), 0.15, np.float32)).implicit_mesh(maps)


def test_implicit_update_pulls_a_grown_mesh_onto_the_surface_and_keeps_topology(head):
    params, s, c, maps = head
    true_fn = _oracle(params, s, c)
    grown = _model(_oracle(params, s, c, symmetric_offset=-0.06))  # surface 0.06 outside the truth
    v, f = grown.implicit_mesh(maps)
    before = np.abs(true_fn(v)).mean()
    after_v = _model(true_fn).implicit_update(R.HeadMesh(v, f), maps)
    after = np.abs(true_fn(after_v)).mean()
    assert after_v.shape == v.shape
    assert after < 0.5 * before


def test_depth_update_takes_the_refined_detail_not_its_offset(head):
    params, s, c, maps = head
    m = _model(_oracle(params, s, c), grid=64)
    v, f = m.implicit_mesh(maps)
    # a refined height that is only higher everywhere carries no more detail: the same result
    base = m.depth_update(v, f, maps)
    shifted = maps.clone()
    shifted[0, 3] = shifted[0, 3] + 0.05 * shifted[0, 4]
    assert np.abs(m.depth_update(v, f, shifted) - base).max() < 1e-3
    # a small bump on the cheek (a few pixels across) is detail: the front vertices under it rise, the rest stay
    size = maps.shape[-1]
    axis = np.linspace(-R.EXTENT, R.EXTENT, size)
    cx, cy = 0.35, -0.1
    gx, gy = np.meshgrid(axis, -axis)
    bump = 0.1 * np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / (2 * (2.5 * (axis[1] - axis[0])) ** 2))
    bumped = maps.clone()
    bumped[0, 3] = bumped[0, 3] + torch.from_numpy(bump.astype(np.float32)) * bumped[0, 4]
    moved = m.depth_update(v, f, bumped)
    dz = moved[:, 2] - base[:, 2]
    n = R.vertex_normals(torch.from_numpy(v), torch.from_numpy(f)).numpy()
    r = np.hypot(v[:, 0] - cx, v[:, 1] - cy)
    front = n[:, 2] > 0.5
    near, far = front & (r < 0.08), front & (r > 0.4)
    assert near.any() and np.median(dz[near]) > 0.01
    assert np.abs(dz[far]).max() < 1e-3
    assert np.abs(dz[n[:, 2] < -0.3]).max() < 1e-3        # the back stays
    assert np.allclose(moved[:, :2], v[:, :2])
