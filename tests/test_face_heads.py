"""The procedural head generator: determinism, variety, an exactly symmetric field, closed
outward meshes inside the documented box that agree with the field, front maps, JSON, bad input."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import trimesh

from sketchforge.neural.face import heads as H
from sketchforge.neural.face.heads import (
    BOX_MAX,
    BOX_MIN,
    CAMERA_Z,
    EXTENT,
    NECK_BOTTOM,
    VARIANTS,
    HeadParams,
    front_maps,
    head_sdf,
    mesh_head,
    sample_head,
)

SEEDS = range(10)


def _head(seed: int, variant: str | None) -> HeadParams:
    return sample_head(np.random.default_rng(seed), variant)


@pytest.fixture(scope="module")
def meshes() -> dict[tuple[int, str], tuple[HeadParams, np.ndarray, np.ndarray]]:
    """Ten heads of every variant, meshed at the default resolution."""
    out = {}
    for variant in VARIANTS:
        for seed in SEEDS:
            p = _head(seed, variant)
            out[seed, variant] = (p, *mesh_head(p))
    return out


def _winding_number(verts: np.ndarray, faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Generalised winding number of a closed mesh at points: ~1 inside, ~0 outside."""
    out = np.empty(len(points))
    for i, q in enumerate(points):
        a, b, c = (verts[faces[:, k]] - q for k in range(3))
        la, lb, lc = (np.linalg.norm(v, axis=1) for v in (a, b, c))
        det = np.einsum("ij,ij->i", a, np.cross(b, c))
        div = la * lb * lc + np.einsum("ij,ij->i", a, b) * lc + np.einsum("ij,ij->i", b, c) * la \
            + np.einsum("ij,ij->i", c, a) * lb
        out[i] = np.sum(np.arctan2(det, div)) / (2.0 * np.pi)
    return out


# -- parameters ------------------------------------------------------------------------------------
def test_same_seed_gives_identical_params_and_mesh():
    a, b = _head(11, None), _head(11, None)
    assert a == b
    va, fa = mesh_head(a, 48)
    vb, fb = mesh_head(b, 48)
    assert np.array_equal(va, vb) and np.array_equal(fa, fb)
    assert va.dtype == np.float64 and fa.dtype == np.int64 and va.shape[1] == 3 and fa.shape[1] == 3


def test_random_variant_covers_all_and_shares_the_base_draws():
    assert {_head(seed, None).variant for seed in range(40)} == set(VARIANTS)
    human, animal = _head(3, "human"), _head(3, "animal")
    # the shared shape comes first, in the same order for every variant
    assert human.cranium_y == animal.cranium_y and human.jaw_y == animal.jaw_y
    assert human.eye_x == animal.eye_x and human.wrinkles == animal.wrinkles
    assert animal.snout and animal.pointed_ears and not human.snout and not human.horns
    horned = [_head(seed, "horned") for seed in range(20)]
    assert all(p.horns for p in horned) and {p.style for p in horned} == {"human", "cartoon"}


def test_some_heads_have_no_wrinkles_and_wrinkles_groove_the_forehead():
    amounts = [_head(seed, "human").wrinkles for seed in range(40)]
    assert any(a == 0.0 for a in amounts) and any(a > 0.0 for a in amounts)
    p = next(_head(seed, "human") for seed in range(40) if _head(seed, "human").wrinkles > 0.5)
    smooth = dataclasses.replace(p, wrinkles=0.0)
    maps, plain = front_maps(p, 128), front_maps(smooth, 128)
    changed = np.abs(maps["normal"] - plain["normal"]).max(axis=2) > 0.05
    assert changed.sum() > 20
    rows = np.nonzero(changed)[0]
    eye_row = (EXTENT - p.eye_y) / (2 * EXTENT) * 127
    assert rows.min() < eye_row  # lines across the forehead, above the eyes


# -- variety ---------------------------------------------------------------------------------------
def test_different_seeds_and_variants_give_different_heads(meshes):
    def signature(v: np.ndarray, f: np.ndarray) -> np.ndarray:
        return np.concatenate([v.min(0), v.max(0), [trimesh.Trimesh(v, f, process=False).volume]])

    for variant in VARIANTS:
        sig = [signature(*meshes[seed, variant][1:]) for seed in SEEDS]
        for i in range(len(sig)):
            for j in range(i):
                assert np.abs(sig[i] - sig[j]).max() > 0.01, (variant, i, j)
    for seed in SEEDS:
        human, cartoon = meshes[seed, "human"], meshes[seed, "cartoon"]
        v_h = trimesh.Trimesh(*human[1:], process=False).volume
        v_c = trimesh.Trimesh(*cartoon[1:], process=False).volume
        assert v_c > 1.1 * v_h  # the cartoon cranium is bigger


def test_animal_snout_protrudes_further_than_human_nose(meshes):
    for seed in SEEDS:
        assert meshes[seed, "animal"][1][:, 2].max() > meshes[seed, "human"][1][:, 2].max() + 0.15


def test_horns_reach_higher_than_the_same_head_without(meshes):
    for seed in SEEDS:
        p, v, _ = meshes[seed, "horned"]
        bare, _ = mesh_head(dataclasses.replace(p, horns=False), 64)
        assert v[:, 1].max() > bare[:, 1].max() + 0.08


# -- the field -------------------------------------------------------------------------------------
def test_sdf_is_mirror_symmetric():
    rng = np.random.default_rng(0)
    pts = rng.uniform(BOX_MIN, BOX_MAX, (5000, 3))
    mirrored = pts * np.array([-1.0, 1.0, 1.0])
    for variant in VARIANTS:
        p = _head(7, variant)
        d = head_sdf(p, pts)
        assert d.shape == (5000,) and d.dtype == np.float64
        assert np.abs(d - head_sdf(p, mirrored)).max() <= 1e-9
        assert (d < 0).any() and (d > 0).any()


def test_coarse_to_fine_grid_matches_the_full_grid():
    for seed, variant in enumerate(VARIANTS):
        p = _head(seed, variant)
        fast, full = H._grid(p, 40), H._grid_full(p, 40)
        assert np.array_equal(np.sign(fast), np.sign(full))
        near = np.abs(full) < 0.2
        assert np.array_equal(fast[near], full[near])


def test_sdf_sign_agrees_with_the_mesh(meshes):
    rng = np.random.default_rng(1)
    for variant in VARIANTS:
        p, v, f = meshes[2, variant]
        near = v[rng.choice(len(v), 120, replace=False)] + rng.normal(scale=0.06, size=(120, 3))
        pts = np.concatenate([rng.uniform(BOX_MIN, BOX_MAX, (120, 3)), near])
        d = head_sdf(p, pts)
        pts, d = pts[np.abs(d) > 0.03], d[np.abs(d) > 0.03]
        assert (d < 0).sum() > 30 and (d > 0).sum() > 30
        inside = _winding_number(v, f, pts) > 0.5
        assert np.array_equal(inside, d < 0), variant


# -- meshes ----------------------------------------------------------------------------------------
def test_meshes_are_closed_single_outward_and_inside_the_box(meshes):
    lo, hi = np.array(BOX_MIN), np.array(BOX_MAX)
    for (seed, variant), (_, v, f) in meshes.items():
        mesh = trimesh.Trimesh(v, f, process=False)
        assert mesh.is_watertight and mesh.is_winding_consistent, (seed, variant)
        assert mesh.body_count == 1, (seed, variant)
        assert mesh.volume > 1.0, (seed, variant)  # positive: the triangles face outwards
        assert (v.min(0) > lo + 0.05).all() and (v.max(0) < hi - 0.05).all(), (seed, variant)
        assert abs(v[:, 1].min() - NECK_BOTTOM) < 0.02  # the neck stump is cut flat
        assert v[:, 0].max() == pytest.approx(-v[:, 0].min(), abs=1e-6)  # mirror-symmetric


def test_head_outside_the_box_is_refused():
    p = dataclasses.replace(_head(0, "human"), cranium_width=1.6)
    with pytest.raises(ValueError, match="box"):
        mesh_head(p, 32)


# -- front maps ------------------------------------------------------------------------------------
def test_front_maps(meshes):
    size = 128
    for variant in VARIANTS:
        p, v, _ = meshes[4, variant]
        maps = front_maps(p, size)
        depth, normal, mask = maps["depth"], maps["normal"], maps["mask"]
        assert depth.shape == mask.shape == (size, size) and normal.shape == (size, size, 3)
        assert depth.dtype == normal.dtype == np.float32 and mask.dtype == bool
        assert np.array_equal(np.isfinite(depth), mask)
        assert (mask == mask[:, ::-1]).mean() >= 0.99
        assert not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())
        n = normal[mask]
        assert np.allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-4)
        assert (n[:, 2] > 0).mean() > 0.9
        assert not normal[~mask].any()
        # the hits lie on the surface
        rows, cols = np.nonzero(mask)
        axis = H._pixel_axis(size)
        hits = np.stack([axis[cols], -axis[rows], CAMERA_Z - depth[mask].astype(np.float64)], axis=1)
        assert np.abs(head_sdf(p, hits)).max() < 0.02
        # image axes: column 0 is x = -EXTENT, row 0 is y = +EXTENT (the neck at the bottom)
        pixel = 2 * EXTENT / (size - 1)
        assert abs(-axis[cols.min()] - (-v[:, 0].min())) < 2 * pixel
        assert abs(axis[rows.max()] - (-v[:, 1].min())) < 2 * pixel
        assert abs(-axis[rows.min()] - v[:, 1].max()) < 2 * pixel
        # the nearest point of the face is in front (small depth), the neck further back
        assert depth[mask].min() == pytest.approx(CAMERA_Z - v[:, 2].max(), abs=0.05)


# -- JSON and bad input ----------------------------------------------------------------------------
def test_params_round_trip_through_json():
    for seed, variant in enumerate(VARIANTS):
        p = _head(seed, variant)
        data = p.to_json()
        assert all(type(x) in (float, str, bool) for x in data.values())
        assert HeadParams.from_json(json.loads(json.dumps(data))) == p
    data = _head(0, "human").to_json()
    with pytest.raises(ValueError, match="fields"):
        HeadParams.from_json({k: x for k, x in data.items() if k != "eye_x"})
    with pytest.raises(ValueError, match="eye_x"):
        HeadParams.from_json({**data, "eye_x": "wide"})


def test_bad_input_is_refused_with_what_to_pass():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="pass one of human, cartoon, animal, horned"):
        sample_head(rng, "robot")
    with pytest.raises(ValueError, match="numpy.random.Generator"):
        sample_head(3, "human")  # type: ignore[arg-type]
    p = _head(0, "human")
    for bad in (np.zeros((5, 2)), np.zeros(3), np.zeros((2, 3, 3))):
        with pytest.raises(ValueError, match=r"\(N, 3\)"):
            head_sdf(p, bad)
    for res in (8, 15):
        with pytest.raises(ValueError, match="at least 16"):
            mesh_head(p, res)
    with pytest.raises(ValueError, match="at least 2"):
        front_maps(p, 1)


def test_the_lips_stand_out_of_the_blended_face_for_every_human_head():
    # a thick cranium-jaw blend bulges the face forward; lips placed on the bare ellipsoids were buried
    for seed in range(40):
        p = _head(seed, "human")
        lay = H._layout(p)
        (centre, radii) = lay.lips[0]
        face = H._blended_front(lay.cranium, lay.jaw, lay.chin, lay.cheek, p.blend, centre[1])
        assert centre[2] + radii[2] > face + 0.01, f"seed {seed}: the upper lip is buried in the face"
