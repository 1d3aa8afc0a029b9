"""Colored point clouds in the document: re-color keeps every point, parts can be painted and split,
a cloud becomes a colored mesh, and PLY files carry colors and parts both ways."""

import numpy as np
import pytest

from sketchforge.modeling.bodies import PointCloudBody
from sketchforge.modeling.clouds import Recolor, SketchPoints
from sketchforge.modeling.exchange import export_ply, import_mesh
from sketchforge.modeling.operations import OperationError, blob_key, colors_blob, points_blob
from sketchforge.modeling.session import Session

NAMES = ("seat", "leg", "back")


def _chair_cloud(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A seat slab, four legs and a back, as points on their surfaces (mm), colored by part."""
    rng = np.random.default_rng(seed)
    boxes = [((-200, -200, 400), (200, 200, 440), 0), ((-200, 160, 440), (200, 200, 850), 2)]
    boxes += [((x, y, 0), (x + 30, y + 30, 400), 1) for x in (-200, 170) for y in (-200, 170)]
    pts, labels = [], []
    for lo, hi, label in boxes:
        lo, hi = np.array(lo, float), np.array(hi, float)
        k = n // len(boxes)
        p = lo + rng.random((k, 3)) * (hi - lo)
        axis = rng.integers(0, 3, k)
        side = rng.integers(0, 2, k)
        p[np.arange(k), axis] = np.where(side, hi[axis], lo[axis])
        pts.append(p)
        labels.append(np.full(k, label))
    parts = np.concatenate(labels)
    colors = np.array([[200, 30, 30], [20, 20, 20], [150, 100, 50]], np.uint8)[parts]
    return np.concatenate(pts), colors, parts


def _session_with_cloud() -> tuple[Session, np.ndarray]:
    pts, colors, parts = _chair_cloud()
    s = Session()
    data = points_blob(pts, colors, parts, NAMES)
    op = SketchPoints("cloud1", blob_key(data), category="chair", prompt="a red chair", points=len(pts))
    s.document.apply(op, None, {blob_key(data): data})
    return s, pts


def test_a_recolor_changes_colors_only_and_named_parts_only():
    s, pts = _session_with_cloud()
    before = s.bodies["cloud1"]
    assert before.summary()["parts"] == ["back", "leg", "seat"]
    blue = colors_blob(np.tile(np.array([0, 0, 255], np.uint8), (len(pts), 1)))
    s.document.apply(Recolor("cloud1", blob_key(blue), "blue legs", ("leg",)), None, {blob_key(blue): blue})
    after = s.bodies["cloud1"]
    assert np.array_equal(after.points, before.points)  # every point where it was, in its order
    legs = after.part_mask("leg")
    assert (after.colors[legs] == [0, 0, 255]).all()
    assert np.array_equal(after.colors[~legs], before.colors[~legs])
    assert s.history[-1].describe() == 'Re-color cloud1 (leg): "blue legs"'
    s.undo()
    assert np.array_equal(s.bodies["cloud1"].colors, before.colors)


def test_bad_cloud_edits_are_refused_in_words_and_change_nothing():
    s, pts = _session_with_cloud()
    n = len(s.history)
    with pytest.raises(OperationError, match="no part 'wheel'; its parts are back, leg, seat"):
        s.apply("paint_parts", body="cloud1", color=[255, 0, 0], parts=["wheel"])
    short = colors_blob(np.zeros((10, 3), np.uint8))
    with pytest.raises(OperationError, match="colors are for 10 points"):
        s.document.apply(Recolor("cloud1", blob_key(short)), None, {blob_key(short): short})
    with pytest.raises(OperationError, match="three numbers from 0 to 255"):
        s.apply("paint_parts", body="cloud1", color=[300, 0, 0])
    s.box((10.0, 10.0, 10.0))
    with pytest.raises(OperationError, match="works on point clouds"):
        s.apply("paint_parts", body="body1", color=[1, 2, 3])
    assert len(s.history) == n + 1 and np.array_equal(s.bodies["cloud1"].points, pts)


def test_a_cloud_splits_into_its_parts_and_meshes_into_a_colored_surface():
    s, pts = _session_with_cloud()
    s.apply("mesh_cloud", body="cloud1", depth=6)
    mesh = s.bodies["cloud1-mesh"]
    assert len(mesh.triangles) > 500
    lo, hi = mesh.bounds()
    assert np.all(lo > pts.min(0) - 60) and np.all(hi < pts.max(0) + 60)  # the surface stays on the object
    red = (mesh.colors[:, 0] > 150) & (mesh.colors[:, 1] < 80)
    assert red.any() and (~red).any()  # colors come from the nearest points
    s.apply("split_parts", body="cloud1")
    assert {"cloud1-seat", "cloud1-leg", "cloud1-back"} <= set(s.bodies) and "cloud1" not in s.bodies
    assert sum(len(s.bodies[f"cloud1-{n}"].points) for n in NAMES) == len(pts)


def test_ply_clouds_carry_float_coordinates_colors_and_named_parts_both_ways(tmp_path):
    pts, colors, parts = _chair_cloud(600)
    body = PointCloudBody(pts, colors, parts=parts, part_names=NAMES)
    path = tmp_path / "chair.ply"
    export_ply({"chair": body}, path)
    head = path.read_bytes().split(b"end_header")[0].decode()
    for line in ("property float x", "property uchar red", "property int part", "comment part 0 seat"):
        assert line in head
    back = import_mesh(path.read_bytes(), "chair.ply")
    assert isinstance(back, PointCloudBody)
    np.testing.assert_allclose(back.points, pts, atol=1e-3)
    assert np.array_equal(back.colors, colors) and np.array_equal(back.part_mask("leg"), parts == 1)


def test_the_points_operation_reports_what_the_cloud_was_made_from_and_survives_a_save(tmp_path):
    s, pts = _session_with_cloud()
    op = s.history[-1]
    params = op.params()
    assert op.id == "points" and params["category"] == "chair" and params["points"] == 3000
    assert op.describe() == 'Chair cloud1: "a red chair"'
    again = Session()
    again.open(s.save(tmp_path / "chair.SKETCHFORGE"))  # the suffix in any case is the session suffix
    assert (tmp_path / "chair.SKETCHFORGE").is_file()
    cloud = again.bodies["cloud1"]
    assert np.array_equal(cloud.points, pts) and cloud.part_names == NAMES
