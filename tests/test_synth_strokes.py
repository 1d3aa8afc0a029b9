"""Synthetic sketches: the drawn curves sit on the result, hidden lines go, strokes look hand-made,
and the rasterised labels are exact."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.occ.solids import point_face_distance
from sketchforge.modeling.operations import ArcPath, Circle, LinePath, Polygon
from sketchforge.modeling.render import render_context
from sketchforge.modeling.session import Session
from sketchforge.neural.synth.curves import Curve, operation_curves
from sketchforge.neural.synth.raster import ROLES, rasterise, to_sketch_strokes
from sketchforge.neural.synth.strokes import StrokeStyle, SynthStroke, humanise
from sketchforge.neural.synth.visibility import visible_runs

W = H = 256
SQUARE = [(-5.0, -5.0), (5.0, -5.0), (5.0, 5.0), (-5.0, 5.0)]

# name -> (start body, operation, roles expected among the curves)
CASES = {
    "extrude": (lambda s: s.box((60, 40, 20)), lambda s, b: s.extrude(b, "top", 10.0), {"profile", "offset"}),
    "extrude disc": (lambda s: s.cylinder(10.0, 20.0), lambda s, b: s.extrude(b, "top", 5.0),
                     {"profile", "offset"}),
    "add": (lambda s: s.box((60, 40, 20)), lambda s, b: s.add(b, "top", SQUARE, 8.0),
            {"base", "profile", "offset"}),
    "subtract": (lambda s: s.box((60, 40, 20)),
                 lambda s, b: s.subtract(b, "-y", [(-20, 5), (-10, 5), (-10, 15), (-20, 15)], 6.0),
                 {"base", "profile", "offset"}),
    "chamfer": (lambda s: s.box((60, 40, 20)), lambda s, b: s.bevel(b, (30.0, 20.0, 10.0), 3.0, 5.0), {"base"}),
    "chamfer circle": (lambda s: s.cylinder(10.0, 20.0), lambda s, b: s.bevel(b, (-10.0, 0.0, 20.0), 2.0, 3.0),
                       {"base"}),
    "fillet": (lambda s: s.box((60, 40, 20)),
               lambda s, b: s.bevel(b, (0.0, -20.0, 20.0), 4.0, style="fillet"), {"base"}),
    "sweep line": (lambda s: s.box((60, 40, 20)),
                   lambda s, b: s.sweep(b, (20.0, 0.0, 20.0), Polygon(((15, -5), (25, -5), (25, 5), (15, 5))),
                                        LinePath(8.0, 30.0, 0.0)), {"base", "profile", "offset"}),
    "sweep arc": (lambda s: s.box((60, 40, 20)),
                  lambda s, b: s.sweep(b, "top", Circle((0.0, 0.0), 4.0), ArcPath(12.0, 90.0, 30.0)),
                  {"base", "profile", "offset"}),
    "sweep arc cut": (lambda s: s.box((60, 40, 20)),
                      lambda s, b: s.sweep(b, "+x", Circle((0.0, 10.0), 3.0), ArcPath(12.0, 60.0, 90.0),
                                           mode="subtract"), {"base", "profile", "offset"}),
}


def _apply(case: str):
    make, act, roles = CASES[case]
    s = Session()
    body = make(s)
    op = act(s, body)
    k = len(s.history) - 1
    return op, s.document.state_after(k - 1).solid(body), s.document.state_after(k).solid(body), roles


def _samples(curve: Curve, limit: int = 24) -> np.ndarray:
    """Points along the curve's segments (not only its vertices), at most `limit`."""
    pts = np.vstack([curve.points, curve.points[:1]]) if curve.closed else curve.points
    t = np.linspace(0.0, 1.0, 5)[:, None, None]
    dense = (pts[:-1][None] + t * (pts[1:] - pts[:-1])[None]).transpose(1, 0, 2).reshape(-1, 3)
    return dense[np.linspace(0, len(dense) - 1, min(limit, len(dense))).round().astype(int)]


def _surface_distance(bodies, p) -> float:
    return min(point_face_distance(b.shape, f.index, p) for b in bodies for f in b.faces)


@pytest.mark.parametrize("case", list(CASES))
def test_drawn_curves_lie_on_the_result(case):
    op, before, after, roles = _apply(case)
    curves = operation_curves(op, before, after)
    assert {c.role for c in curves} == roles
    tol = 1e-3 * after.diagonal()
    for c in curves:
        assert c.points.ndim == 2 and c.points.shape[1] == 3 and len(c.points) >= 2
        worst = max(_surface_distance([after], p) for p in _samples(c))
        assert worst <= tol, f"a {c.role} curve of {case} leaves the result by {worst:.3g} mm"


def test_extrude_draws_lines_from_corners_and_the_moved_outline():
    op, before, after, _ = _apply("extrude")
    curves = operation_curves(op, before, after)
    profiles = [c for c in curves if c.role == "profile"]
    offsets = [c for c in curves if c.role == "offset"]
    assert len(profiles) == 4 and len(offsets) == 1 and offsets[0].closed
    for c in profiles:
        assert c.points[0][2] == pytest.approx(20.0) and c.points[-1][2] == pytest.approx(30.0)
    assert np.allclose(offsets[0].points[:, 2], 30.0)


def test_a_pulled_face_is_drawn_on_the_model_it_is_pulled_into():
    """Pulling a whole side in: the lines follow the old edges (on the model before), the outline
    lands on the model after."""
    s = Session()
    b = s.box((60, 40, 20))
    op = s.extrude(b, "+x", -15.0)
    before, after = s.document.state_after(0).solid(b), s.document.state_after(1).solid(b)
    curves = operation_curves(op, before, after)
    tol = 1e-3 * after.diagonal()
    for c in curves:
        worst = max(_surface_distance([before, after], p) for p in _samples(c))
        assert worst <= tol
        if c.role == "offset":
            assert np.allclose(c.points[:, 0], 15.0)


def _box_edges() -> list[Curve]:
    corners = [np.array(p, float) for p in itertools.product((-30, 30), (-20, 20), (0, 20))]
    return [Curve(np.stack([a, b]), "base") for a, b in itertools.combinations(corners, 2)
            if (np.abs(a - b) > 0).sum() == 1]


def _visible_length(runs, index: int) -> float:
    return sum(float(np.linalg.norm(np.diff(r, axis=0), axis=1).sum()) for r, _, k in runs if k == index)


def test_visible_runs_drop_the_hidden_edges_of_a_box():
    s = Session()
    s.box((60, 40, 20))
    cam = Camera.looking_at((0, 0, 10), 200, -60, 30)  # from the front right, above: +x, -y, +z faces show
    depth = render_context(s.bodies, cam, W, H, lines=False).depth
    curves = _box_edges()
    runs = visible_runs(curves, cam, W, H, depth)
    hidden_corner = np.array([-30.0, 20.0, 0.0])  # the back left bottom corner, behind the box
    for i, c in enumerate(curves):
        projected = float(np.linalg.norm(np.diff(cam.project(c.points, W, H), axis=0)))
        if any(np.allclose(p, hidden_corner) for p in c.points):
            assert _visible_length(runs, i) == 0.0, "a back edge shows through the box"
        else:
            assert _visible_length(runs, i) >= 0.97 * projected, "a front edge is missing"
    for poly, role, _ in runs:
        assert role == "base" and poly.shape[1] == 2
        assert (poly >= 0).all() and (poly[:, 0] < W).all() and (poly[:, 1] < H).all()
        assert np.linalg.norm(np.diff(poly, axis=0), axis=1).max() <= 1.01  # ~1 px steps


def test_a_closed_curve_in_full_view_comes_back_as_one_closed_run():
    s = Session()
    s.box((60, 40, 20))
    cam = Camera.looking_at((0, 0, 10), 200, -60, 30)
    depth = render_context(s.bodies, cam, W, H, lines=False).depth
    top = Curve(np.array([[-30, -20, 20], [30, -20, 20], [30, 20, 20], [-30, 20, 20]], float), "offset", True)
    runs = visible_runs([top], cam, W, H, depth)
    assert len(runs) == 1 and np.allclose(runs[0][0][0], runs[0][0][-1])


def _drawing_runs(case: str = "add"):
    op, before, after, _ = _apply(case)
    cam = Camera.looking_at((0, 0, 15), 190, -55, 30)
    depth = render_context({"b": after}, cam, W, H, lines=False).depth
    return visible_runs(operation_curves(op, before, after), cam, W, H, depth)


def _distance_to(points: np.ndarray, polylines: list[np.ndarray]) -> np.ndarray:
    """Distance from each point (K, 2) to the nearest of some polylines."""
    best = np.full(len(points), np.inf)
    for poly in polylines:
        a, b = poly[:-1], poly[1:]
        ab = b - a
        t = np.einsum("kij,ij->ki", points[:, None] - a[None], ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12)
        near = a[None] + np.clip(t, 0, 1)[..., None] * ab[None]
        best = np.minimum(best, np.linalg.norm(points[:, None] - near, axis=2).min(axis=1))
    return best


def _deviations(runs, strokes) -> list[float]:
    return [float(_distance_to(s.points, [r for r, _, k in runs if k == s.curve]).mean()) for s in strokes]


def test_humanised_strokes_stay_near_their_curves_but_are_not_traced():
    runs = _drawing_runs()
    style = StrokeStyle()
    rng = np.random.default_rng(0)
    for _ in range(20):
        strokes = humanise(runs, rng, style)
        assert strokes and all(isinstance(s, SynthStroke) for s in strokes)
        for s in strokes:
            source = [r for r, _, k in runs if k == s.curve]
            assert source and s.role == next(role for _, role, k in runs if k == s.curve)
            length = max(float(np.linalg.norm(np.diff(r, axis=0), axis=1).sum()) for r in source)
            assert _distance_to(s.points, source).max() <= style.deviation_bound(length)
            assert s.pressure.shape == (len(s.points),)
            assert style.width_px[0] * 0.9 <= s.width <= style.width_px[1] * 1.1
        for run, role, k in runs:  # and the other way: every base and offset curve is drawn in full
            mine = [s.points for s in strokes if s.curve == k]
            if role != "profile":  # a profile line may be left out
                length = float(np.linalg.norm(np.diff(run, axis=0), axis=1).sum())
                assert _distance_to(run, mine).max() <= style.deviation_bound(length)
    assert np.mean(_deviations(runs, strokes)) > 0.1  # drawn by hand, not traced


def test_a_messier_style_strays_further():
    runs = _drawing_runs()
    calm = [d for seed in range(15) for d in _deviations(runs, humanise(runs, np.random.default_rng(seed)))]
    messy = [d for seed in range(15)
             for d in _deviations(runs, humanise(runs, np.random.default_rng(seed), StrokeStyle.stronger(3.0)))]
    assert np.mean(messy) > 1.8 * np.mean(calm)
    assert StrokeStyle.stronger(1.0) == StrokeStyle()


def test_humanise_is_reproducible_from_the_seed():
    runs = _drawing_runs("sweep arc")
    a = humanise(runs, np.random.default_rng(7))
    b = humanise(runs, np.random.default_rng(7))
    assert len(a) == len(b) and all(np.array_equal(x.points, y.points) for x, y in zip(a, b))


def test_corners_split_strokes_unless_drawn_through():
    square = np.array([[50, 50], [150, 50], [150, 150], [50, 150], [50, 50]], float)
    runs = [(square, "base", 0)]
    split = humanise(runs, np.random.default_rng(1), StrokeStyle(through_corner=0.0, double_stroke=0.0))
    whole = humanise(runs, np.random.default_rng(1), StrokeStyle(through_corner=1.0, double_stroke=0.0))
    assert len(split) == 4 and len(whole) == 1


def test_raster_labels_are_exact():
    runs = _drawing_runs("sweep arc")
    strokes = humanise(runs, np.random.default_rng(3), StrokeStyle.stronger(2.0))
    stroke, roles = rasterise(strokes, W, H)
    assert stroke.dtype == np.uint8 and roles.dtype == np.uint8 and stroke.shape == roles.shape == (H, W)
    assert np.array_equal(stroke > 0, roles > 0)
    assert set(np.unique(stroke)) == {0, 255}
    assert set(np.unique(roles)) - {0} <= set(ROLES.values()) and len(set(np.unique(roles)) - {0}) >= 2


def test_a_single_role_drawing_is_labelled_with_that_role():
    runs = [(r, "profile", k) for r, _, k in _drawing_runs("add")]
    stroke, roles = rasterise(humanise(runs, np.random.default_rng(5)), W, H)
    assert stroke.any() and set(np.unique(roles[stroke > 0])) == {ROLES["profile"]}


def test_raster_pixel_centres_follow_the_sketch_convention():
    s = SynthStroke(np.array([[10.5, 20.5], [30.5, 20.5]]), "base", 1.0, np.ones(2))
    stroke, _ = rasterise([s], 64, 64)
    assert stroke[20, 10:31].all() and not stroke[19].any() and not stroke[21].any()


def test_sketch_strokes_have_time_and_pressure():
    runs = _drawing_runs("extrude")
    strokes = humanise(runs, np.random.default_rng(11))
    sketch = to_sketch_strokes(strokes, np.random.default_rng(11))
    assert len(sketch) == len(strokes)
    for st, s in zip(sketch, strokes):
        assert st.points.shape == (len(s.points), 4) and st.kind is None
        assert np.array_equal(st.uv, s.points)
        t, p = st.points[:, 3], st.points[:, 2]
        assert t[0] == 0.0 and (np.diff(t) > 0).all()
        assert ((p >= 0) & (p <= 1)).all()
        length = float(np.linalg.norm(np.diff(s.points, axis=0), axis=1).sum())
        speed = length / (t[-1] / 1000.0)  # mean px/s: a minimum-jerk stroke averages 1/1.875 of its peak
        assert 300 / 1.875 * 0.9 <= speed <= 900 / 1.875 * 1.1 or len(s.points) < 4


def test_a_sweep_view_is_only_kept_when_its_path_shows():
    """A sweep differs from a prism only by its path, so a view hiding most of it is no sweep sketch."""
    from sketchforge.neural.synth.item import ItemConfig, path_shows

    op, before, after, _ = _apply("sweep line")
    curves = operation_curves(op, before, after)
    config = ItemConfig(size=W)
    cam = Camera.looking_at((20, 0, 22), 60, -70, 20)  # close to the sweep, its path across the view
    depth = render_context({"b": after}, cam, W, H, lines=False).depth
    runs = visible_runs(curves, cam, W, H, depth)
    assert path_shows(curves, runs, cam, W, config)
    without_path = [r for r in runs if r[1] != "profile"]
    assert not path_shows(curves, without_path, cam, W, config)
    # a quarter of each path run left: under half of the path shows
    cut = [(r[0][: max(2, len(r[0]) // 4)], r[1], r[2]) if r[1] == "profile" else r for r in runs]
    assert not path_shows(curves, cut, cam, W, config)
    # the same view on a canvas far too small for the path to span 15% of it
    small = ItemConfig(size=W, min_path_canvas=0.9)
    assert not path_shows(curves, runs, cam, W, small)
