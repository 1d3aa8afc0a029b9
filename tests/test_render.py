"""Context renders: depth, normal, face-id and line images agree with the camera of the spec."""

from __future__ import annotations

import math

import cadquery as cq
import numpy as np
import pytest

from sketchforge.modeling.bodies import MeshBody, PointCloudBody, SolidBody
from sketchforge.modeling.camera import Camera
from sketchforge.modeling.render import render_context

EYE = (120.0, -150.0, 110.0)
HALF = np.array([20.0, 15.0, 10.0])  # the test box spans -HALF..HALF
CAMERAS = {
    "perspective": Camera(EYE, (0.0, 0.0, 0.0), fov_y_deg=35.0),
    "orthographic": Camera(EYE, (0.0, 0.0, 0.0), projection="orthographic", height=80.0),
}
SIZES = [(256, 256), (320, 200)]
VIEWS = [(name, size) for name in CAMERAS for size in SIZES]


def _box() -> SolidBody:
    return SolidBody(cq.Workplane().box(*(2 * HALF)).val().wrapped)


def _boss() -> SolidBody:
    """A 60 x 40 x 10 plate (top at z = 10) with a cylinder boss of radius 10 up to z = 40."""
    plate = cq.Workplane().box(60, 40, 10).translate((0, 0, 5))
    boss = cq.Workplane().circle(10).extrude(30).translate((0, 0, 10))
    return SolidBody(plate.union(boss).val().wrapped)


_BOX = _box()
_BOSS = _boss()


def _corners() -> np.ndarray:
    return np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float) * HALF


def _facing(camera: Camera, normal: np.ndarray, point: np.ndarray) -> bool:
    """Whether the side of a plane with this outward normal faces the camera."""
    if camera.projection == "orthographic":
        return float(normal @ camera.basis()[2]) < 0
    return float(normal @ (np.asarray(camera.eye) - point)) > 0


def _box_faces(body: SolidBody) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(face index, outward normal, 4 corners in order) for each face of the test box."""
    out = []
    for info in body.faces:
        n = np.asarray(info.normal)
        axis = int(np.argmax(np.abs(n)))
        a, b = [k for k in range(3) if k != axis]
        quad = []
        for sa, sb in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            p = np.zeros(3)
            p[axis] = np.sign(n[axis]) * HALF[axis]
            p[a], p[b] = sa * HALF[a], sb * HALF[b]
            quad.append(p)
        out.append((info.index, n, np.array(quad)))
    return out


def _polygon_distance(poly: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Signed distance bound of points to a convex polygon: > 0 inside (exact), < 0 outside."""
    c = poly.mean(0)
    d = np.full(len(uv), np.inf)
    for p, q in zip(poly, np.roll(poly, -1, axis=0)):
        e = q - p
        n = np.array([-e[1], e[0]]) / np.linalg.norm(e)
        if (c - p) @ n < 0:
            n = -n
        d = np.minimum(d, (uv - p) @ n)
    return d


def _pixel_centres(width: int, height: int) -> np.ndarray:
    vv, uu = np.mgrid[0:height, 0:width]
    return np.stack([uu.ravel() + 0.5, vv.ravel() + 0.5], axis=1)


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((points - a) @ ab) / (ab @ ab), 0, 1)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)


def _polyline_distance(point: np.ndarray, line: np.ndarray) -> float:
    return min(float(_segment_distance(point[None], a, b)[0]) for a, b in zip(line, line[1:]))


def _near_line(img: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """The brightest line value in the 3x3 pixels around each pixel coordinate."""
    h, w = img.shape
    i = np.clip(np.floor(uv[:, 1]).astype(int), 1, h - 2)
    j = np.clip(np.floor(uv[:, 0]).astype(int), 1, w - 2)
    return np.max([img[i + di, j + dj] for di in (-1, 0, 1) for dj in (-1, 0, 1)], axis=0)


@pytest.mark.parametrize("name,size", VIEWS)
def test_line_end_points_are_the_projected_visible_corners(name, size):
    camera, (w, h) = CAMERAS[name], size
    r = render_context({"box": _BOX}, camera, w, h)
    ends = np.concatenate([p[[0, -1]] for p in r.polylines])
    corners = camera.project(_corners(), w, h)
    gap = np.linalg.norm(ends[:, None] - corners[None], axis=2)
    assert gap.min(axis=1).max() < 0.5  # every end point is a projected corner
    drawn = set(np.flatnonzero(gap.min(axis=0) < 0.5))
    hidden = int(np.flatnonzero((np.sign(_corners()) == -np.sign(EYE)).all(axis=1))[0])
    assert drawn == set(range(8)) - {hidden}


@pytest.mark.parametrize("name,size", VIEWS)
def test_regions_follow_the_projected_faces(name, size):
    """Face ids, depth and normals inside each projected visible face; background outside."""
    camera, (w, h) = CAMERAS[name], size
    r = render_context({"box": _BOX}, camera, w, h)
    uv = _pixel_centres(w, h)
    fid, depth, normal = r.face_id.ravel(), r.depth.ravel(), r.normal.reshape(-1, 3)
    origins, dirs = camera.rays(uv, w, h)
    forward = camera.basis()[2]
    outside = np.ones(len(uv), bool)
    for index, n, quad in _box_faces(_BOX):
        if not _facing(camera, n, quad[0]):
            continue
        dist = _polygon_distance(camera.project(quad, w, h), uv)
        inside = dist > 0.1
        outside &= dist < -0.1
        assert inside.sum() > 50
        assert (fid[inside] == index).all()
        assert r.faces[index] == ("box", index)
        t = ((quad[0] - origins[inside]) @ n) / (dirs[inside] @ n)
        expected = (origins[inside] + t[:, None] * dirs[inside] - np.asarray(camera.eye)) @ forward
        np.testing.assert_allclose(depth[inside], expected, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(normal[inside], np.broadcast_to(n, (inside.sum(), 3)), atol=1e-5)
    assert outside.sum() > 100
    assert (fid[outside] == -1).all()
    assert np.isinf(depth[outside]).all()
    assert (normal[outside] == 0).all()
    assert not r.mask.ravel()[outside].any()
    assert r.mask.sum() == np.isfinite(r.depth).sum() == (r.face_id >= 0).sum()


def _nearest_face(shape, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """The B-rep face each ray meets first, by exact curve-surface intersection (-1 for none)."""
    from OCP.gp import gp_Dir, gp_Lin, gp_Pnt
    from OCP.IntCurvesFace import IntCurvesFace_ShapeIntersector

    from sketchforge.modeling.occ.topology import faces

    kernel_faces = faces(shape)
    inter = IntCurvesFace_ShapeIntersector()
    inter.Load(shape, 1e-7)
    out = np.full(len(origins), -1)
    for k, (o, d) in enumerate(zip(origins, dirs)):
        inter.Perform(gp_Lin(gp_Pnt(*o), gp_Dir(*d)), -1e-9, 1e9)
        if inter.NbPnt() == 0:
            continue
        first = min(range(1, inter.NbPnt() + 1), key=inter.WParameter)
        out[k] = next(i for i, f in enumerate(kernel_faces) if f.IsSame(inter.Face(first)))
    return out


@pytest.mark.parametrize("name", list(CAMERAS))
def test_face_id_names_the_face_a_ray_meets_first(name):
    camera, (w, h) = CAMERAS[name], (160, 120)
    camera = Camera(camera.eye, (0.0, 0.0, 18.0), projection=camera.projection, height=90.0)
    r = render_context({"part": _BOSS}, camera, w, h)
    f = r.face_id
    block = np.stack([f[1 + di:h - 1 + di, 1 + dj:w - 1 + dj] for di in (-1, 0, 1) for dj in (-1, 0, 1)])
    interior = (block == block[0]).all(axis=0)  # away from face borders and silhouettes
    rng = np.random.default_rng(7)
    hits = np.argwhere(interior & (block[0] >= 0))
    misses = np.argwhere(interior & (block[0] < 0))
    assert len(hits) > 1000 and len(np.unique(block[0][interior])) >= 6
    picked = np.concatenate([hits[rng.choice(len(hits), 300, replace=False)],
                             misses[rng.choice(len(misses), 30, replace=False)]]) + 1
    i, j = picked[:, 0], picked[:, 1]
    origins, dirs = camera.rays(np.stack([j + 0.5, i + 0.5], axis=1), w, h)
    expected = _nearest_face(_BOSS.shape, origins, dirs)
    np.testing.assert_array_equal(r.face_id[i, j], expected)


@pytest.mark.parametrize("name", list(CAMERAS))
def test_normals_face_the_camera(name):
    camera = CAMERAS[name]
    r = render_context({"part": _BOSS}, camera, 128, 96)
    _, dirs = camera.pixel_rays(128, 96)
    n = r.normal.reshape(-1, 3)[r.mask.ravel()]
    assert (np.einsum("ij,ij->i", n, dirs[r.mask.ravel()]) <= 1e-6).all()
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name,size", VIEWS)
def test_hidden_edges_are_not_drawn_and_visible_ones_are(name, size):
    camera, (w, h) = CAMERAS[name], size
    r = render_context({"box": _BOX}, camera, w, h)
    corners = _corners()
    px = camera.project(corners, w, h)
    edges = [(a, b) for a in range(8) for b in range(a + 1, 8)
             if np.count_nonzero(corners[a] != corners[b]) == 1]
    hidden = int(np.flatnonzero((np.sign(corners) == -np.sign(EYE)).all(axis=1))[0])
    visible = [e for e in edges if hidden not in e]
    s = np.linspace(0.2, 0.8, 25)[:, None]
    for a, b in edges:
        samples = px[a] + s * (px[b] - px[a])
        if hidden in (a, b):
            clear = np.min([_segment_distance(samples, px[c], px[d]) for c, d in visible], axis=0) > 3.5
            assert clear.sum() > 5 and (_near_line(r.lines, samples[clear]) == 0).all()
        else:
            assert (_near_line(r.lines, samples) >= 128).all()
    assert r.lines.dtype == np.uint8 and set(r.line_kinds) == {"sharp"}


@pytest.mark.parametrize("name", list(CAMERAS))
def test_cylinder_silhouette_is_drawn(name):
    camera = Camera(CAMERAS[name].eye, (0.0, 0.0, 18.0), projection=CAMERAS[name].projection,
                    height=90.0)
    w, h = 240, 200
    r = render_context({"part": _BOSS}, camera, w, h)
    r_, _, f = camera.basis()
    if camera.projection == "orthographic":
        side = r_[:2] / np.linalg.norm(r_[:2])
        tangents = [10 * side, -10 * side]
    else:
        e = np.asarray(camera.eye[:2])
        base, off = math.atan2(e[1], e[0]), math.acos(10 / np.linalg.norm(e))
        tangents = [10 * np.array([math.cos(base + k * off), math.sin(base + k * off)]) for k in (-1, 1)]
    outlines = [p for p, k in zip(r.polylines, r.line_kinds) if k == "outline"]
    assert len(outlines) >= 2
    for p in tangents:
        a, b = camera.project(np.array([[*p, 12.0], [*p, 38.0]]), w, h)
        samples = a + np.linspace(0, 1, 20)[:, None] * (b - a)
        assert (_near_line(r.lines, samples) >= 128).all()
        mid = 0.5 * (a + b)
        assert min(_polyline_distance(mid, q) for q in outlines) < 0.5


def test_orthographic_views_see_behind_the_eye_plane():
    """An orthographic view projects every point, so geometry behind its eye still renders."""
    camera = Camera((0.0, 0.0, 5.0), (0.0, 0.0, -10.0), up=(0.0, 1.0, 0.0), projection="orthographic",
                    height=60.0)
    r = render_context({"box": _BOX}, camera, 60, 60)
    top = next(i.index for i in _BOX.faces if i.normal[2] > 0.5)
    assert r.face_id[30, 30] == top and r.depth[30, 30] == pytest.approx(-5.0, abs=1e-4)
    assert r.mask.sum() == pytest.approx(40 * 30, abs=2 * (40 + 30))


def test_bodies_of_every_kind_share_one_face_numbering():
    tri = MeshBody(np.array([[-100.0, -100, -30], [100, -100, -30], [0, 100, -30]]), np.array([[0, 1, 2]]))
    cloud = PointCloudBody(np.zeros((3, 3)))
    camera = CAMERAS["perspective"]
    r = render_context({"cloud": cloud, "box": _BOX, "floor": tri}, camera, 64, 48, lines=False)
    assert r.faces == tuple(("box", i) for i in range(6)) + (("floor", -1),)
    assert set(np.unique(r.face_id)) <= set(range(-1, 7)) and (r.face_id == 6).any()
    assert not r.lines.any() and r.polylines == [] and r.line_kinds == ()
    assert r.depth.dtype == np.float32 and r.normal.shape == (48, 64, 3) and r.face_id.dtype == np.int32


def test_an_empty_model_renders_background():
    r = render_context({}, CAMERAS["orthographic"], 32, 24)
    assert (r.face_id == -1).all() and np.isinf(r.depth).all() and not r.lines.any()
    assert r.faces == () and r.width == 32 and r.height == 24


def test_lines_are_rasterised_on_pixel_centres():
    from sketchforge.modeling.render import rasterise

    on_centres = rasterise([np.array([[5.5, 10.5], [50.5, 10.5]], np.float32)], 64, 32)
    column = on_centres[:, 20].astype(int)
    assert column.argmax() == 10 and column[10] > 200
    assert column[9] < 64 and column[11] < 64 and abs(column[9] - column[11]) <= 8
    between = rasterise([np.array([[20.0, 5.5], [20.0, 25.5]], np.float32)], 64, 32)
    row = between[15].astype(int)
    assert row[19] > 128 and row[20] > 128 and abs(row[19] - row[20]) <= 16
    assert row[18] < 16 and row[21] < 16
