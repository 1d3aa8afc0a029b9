"""A scene assembled from a layout is playable whatever read the layout: on the worlds' own maps and
on what the rules alone read from their sketches, rivers never rise along their course and stay
below their banks, lakes are flat, roads keep their grade off the bridges and the bridges clear the
water, trees stand in forests off water, roads and buildings, buildings stand level and face a
road, every object stands on the ground; a cancel stops it and changes nothing. The rules reader
widens lines into beds, fills lakes and forests, and refuses what is not a map."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial import cKDTree

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.contract import Cancelled
from sketchforge.modeling.sketch import Sketch, Stroke
from sketchforge.neural.scene.assemble import BANK_M, CLEARANCE_M, Scene, assemble
from sketchforge.neural.scene.assets import VARIANTS, asset
from sketchforge.neural.scene.layout import Layout
from sketchforge.neural.scene.lines import arclength
from sketchforge.neural.scene.rules import rules_layout
from sketchforge.neural.scene.sketching import sketch_world
from sketchforge.neural.scene.world import BUILDING, FOREST, ROAD, WATER, make_world

SEEDS = (1, 6, 11, 22, 25)  # rivers, a tributary, lakes, bridges, villages and forests among them
MAX_GRADE = 0.15


@pytest.fixture(scope="module")
def scenes() -> list[tuple[str, Scene]]:
    out = []
    for seed in SEEDS:
        world = make_world(seed, size_m=160.0)
        out.append((f"world {seed}", assemble(Layout.of_world(world), seed=seed)))
        sketch = sketch_world(world, np.random.default_rng(seed))
        out.append((f"rules {seed}", assemble(rules_layout(sketch), seed=seed)))
    return out


def _lattice_index(scene: Scene, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w, s, e, n = scene.extent
    rows, cols = scene.heights.shape
    r = np.clip(np.rint((n - xy[:, 1]) / (n - s) * (rows - 1)), 0, rows - 1).astype(int)
    c = np.clip(np.rint((xy[:, 0] - w) / (e - w) * (cols - 1)), 0, cols - 1).astype(int)
    return r, c


def test_the_scenes_hold_every_feature(scenes):
    total = {"rivers": 0, "lakes": 0, "bridges": 0, "buildings": 0, "trees": 0}
    for _, sc in scenes:
        kinds = sc.kinds()
        total["rivers"] += len(sc.rivers)
        total["lakes"] += len(sc.lake_levels)
        total["bridges"] += sum(int(line.bridge.any()) for line in sc.road_lines)
        total["buildings"] += int((kinds == "building").sum())
        total["trees"] += int((kinds == "tree").sum())
    assert all(v > 0 for v in total.values()), total
    rules = [sc for name, sc in scenes if name.startswith("rules")]
    assert sum(len(sc.rivers) for sc in rules) and sum(int((sc.kinds() == "building").sum()) for sc in rules)


def test_rivers_run_downhill_below_their_banks(scenes):
    for name, sc in scenes:
        for river in sc.rivers:
            assert np.diff(river.level).max(initial=0.0) <= 1e-9, name  # the water never rises downstream
            bed = sc.height_at(river.points)
            assert np.diff(bed).max(initial=0.0) <= 1e-3, name  # nor does the bed under its centre
            assert (bed < river.level).all(), name
        # every dry point beside water stands above it (a bridge's water included)
        water = sc.category == WATER
        level = np.where(water, sc.water_level, -np.inf)
        for shift in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            beside = np.roll(level, shift, axis=(0, 1))
            dry = ~water & np.isfinite(beside)
            dry[[0, -1], :] = dry[:, [0, -1]] = False  # rolled round the edge
            assert (sc.heights[dry] >= beside[dry] + 0.5 * BANK_M).all(), name


def test_lakes_are_flat_below_their_banks(scenes):
    for name, sc in scenes:
        for k, level in enumerate(sc.lake_levels):
            lake = sc.lake == k
            assert lake.any() and np.all(sc.water_level[lake] == np.float32(level)), name
            assert (sc.heights[lake] < level).all(), name


def test_roads_keep_their_grade_and_bridges_clear_the_water(scenes):
    for name, sc in scenes:
        for line in sc.road_lines:
            assert 4.0 <= line.width_m <= 8.0, name
            run = np.linalg.norm(np.diff(line.points, axis=0), axis=1)
            assert (np.abs(np.diff(line.surface)) <= MAX_GRADE * run + 1e-9).all(), name
            # the ground under the road, read every 2 m, off the bridges
            s = arclength(line.points)
            t = np.arange(0.0, s[-1], 2.0)
            if len(t) < 2:
                continue
            p = np.stack([np.interp(t, s, line.points[:, 0]), np.interp(t, s, line.points[:, 1])], 1)
            on_deck = np.interp(t, s, line.bridge.astype(float)) > 0
            rise = np.abs(np.diff(sc.height_at(p))) / 2.0
            off = ~(on_deck[1:] | on_deck[:-1])
            assert (rise[off] <= MAX_GRADE).all(), (name, rise[off].max())
            if line.bridge.any():  # the deck passes over the water with room to spare
                r, c = _lattice_index(sc, line.points[line.bridge])
                under = sc.water_level[r, c]
                wet = np.isfinite(under)
                assert wet.any() and (line.surface[line.bridge][wet] >= under[wet] + 0.8 * CLEARANCE_M).all(), name
    assert any(p.name.startswith("road_bridge") for _, sc in scenes for p in sc.roads)


def test_trees_stand_in_forests_off_water_roads_and_buildings(scenes):
    for name, sc in scenes:
        trees = sc.objects[sc.kinds() == "tree"]
        if not len(trees):
            continue
        r, c = _lattice_index(sc, trees[:, :2])
        assert (sc.category[r, c] == FOREST).all(), name
        assert not np.isin(sc.category[r, c], (WATER, ROAD, BUILDING)).any(), name
        for line in sc.road_lines:
            assert (cKDTree(line.points).query(trees[:, :2])[0] > 0.5 * line.width_m).all(), name
        for x, y, _, depth, width in sc.footprints:
            assert (np.hypot(trees[:, 0] - x, trees[:, 1] - y) > 0.5 * max(depth, width)).all(), name


def test_buildings_stand_level_and_face_a_road(scenes):
    tan10 = math.tan(math.radians(10.0))
    for name, sc in scenes:
        roads = np.vstack([line.points for line in sc.road_lines]) if sc.road_lines else None
        for x, y, yaw, depth, width in sc.footprints:
            u = np.linspace(-0.5, 0.5, 7)
            a, b = (g.ravel() for g in np.meshgrid(u * depth, u * width))
            pts = np.stack([x + a * math.cos(yaw) - b * math.sin(yaw), y + a * math.sin(yaw) + b * math.cos(yaw)], 1)
            assert np.ptp(sc.height_at(pts)) <= tan10 * min(depth, width), name  # slope <= 10 degrees
            r, c = _lattice_index(sc, pts)
            assert not np.isin(sc.category[r, c], (WATER, ROAD)).any(), name
            if roads is not None:
                q = roads[cKDTree(roads).query([x, y])[1]]
                off = (math.atan2(q[1] - y, q[0] - x) - yaw + math.pi) % (2 * math.pi) - math.pi
                assert abs(math.degrees(off)) < 20.0, name
        assert len(sc.footprints) == int((sc.kinds() == "building").sum())


def test_every_object_stands_on_the_ground(scenes):
    for name, sc in scenes:
        assert np.allclose(sc.objects[:, 2], sc.height_at(sc.objects[:, :2]), atol=1e-4), name
        w, s, e, n = sc.extent
        assert ((sc.objects[:, 0] >= w) & (sc.objects[:, 0] <= e) & (sc.objects[:, 1] >= s)
                & (sc.objects[:, 1] <= n)).all(), name
        body = sc.body()
        assert body.summary()["draw_calls"] == 1 + len(sc.water) + len(sc.roads) + len(set(sc.variant.tolist()))


def test_a_cancel_stops_the_assembly_and_changes_nothing():
    world = make_world(1, size_m=120.0)
    layout = Layout.of_world(world)
    before = [a.copy() for a in (layout.category, layout.height, layout.splat)]
    calls: list[tuple[int, int]] = []

    def stop_at_roads(done: int, total: int) -> bool:
        calls.append((done, total))
        return done < 2

    with pytest.raises(Cancelled):
        assemble(layout, progress=stop_at_roads)
    assert calls == [(0, 7), (1, 7), (2, 7)]
    assert all(np.array_equal(a, b) for a, b in zip(before, (layout.category, layout.height, layout.splat)))
    seen: list[int] = []
    a = assemble(layout, seed=3, progress=lambda d, t: seen.append(d) or True)
    b = assemble(layout, seed=3)
    assert seen == list(range(8)) and np.array_equal(a.objects, b.objects) and np.array_equal(a.heights, b.heights)


# -- the rules reader --------------------------------------------------------------------------------
def _map_sketch(strokes: list[tuple[str | None, list[tuple[float, float]]]], size: int = 400, ground_m: float = 200.0,
                centre: tuple[float, float] = (5000.0, -3000.0)) -> Sketch:
    """A sketch on a top-down map `ground_m` metres across, centred at `centre` (m)."""
    cx, cy = 1000.0 * centre[0], 1000.0 * centre[1]
    cam = Camera((cx, cy, 150_000.0), (cx, cy, 0.0), (0.0, 1.0, 0.0), "orthographic", height=1000.0 * ground_m)
    made = tuple(Stroke(np.array([[u, v, 1.0, 10.0 * i] for i, (u, v) in enumerate(pts)], float), kind)
                 for kind, pts in strokes)
    return Sketch(cam, size, size, made, "scene", "autumn")


def test_the_rules_widen_lines_into_beds_and_fill_areas():
    circle = [(300 + 40 * math.cos(t), 100 + 40 * math.sin(t)) for t in np.linspace(0, 2 * math.pi * 1.05, 60)]
    scribble = [(40 + 6 * k, 260 + (40 if k % 2 else 0)) for k in range(16)]
    sketch = _map_sketch([("water", [(0, 200), (400, 200)]), ("road", [(200, 0), (200, 400)]),
                          ("water", circle), ("forest", scribble), ("building", [(260, 300), (268, 300)]),
                          ("mountain", [(60, 60), (160, 60)]), (None, [(0, 0), (400, 400)])])
    layout = rules_layout(sketch)
    assert layout.extent == pytest.approx((4900.0, -3100.0, 5100.0, -2900.0))
    assert layout.style == "autumn"
    w, s, e, n = layout.extent
    rows, cols = layout.shape
    cw, ch = (e - w) / cols, (n - s) / rows

    def at(u: float, v: float) -> int:  # the category under a canvas point
        return int(layout.category[min(int(v / 400 * rows), rows - 1), min(int(u / 400 * cols), cols - 1)])

    river_width = (layout.category[:, int(0.1 * cols)] == WATER).sum() * ch
    assert 8.0 <= river_width <= 13.0
    road_width = (layout.category[int(0.85 * rows), :] == ROAD).sum() * cw
    assert 4.5 <= road_width <= 8.0
    assert at(200, 200) == ROAD  # the road crosses the river: a bridge, seen from above
    assert at(300, 100) == WATER and at(335, 100) == WATER  # the closed loop is a filled lake
    assert at(70, 280) == FOREST  # the zigzag is an area, not a line
    assert at(264, 300) == BUILDING
    ridge = layout.height[int(60 / 400 * rows), int(110 / 400 * cols)]
    assert ridge > layout.height[int(330 / 400 * rows), int(110 / 400 * cols)] + 10.0
    assert np.allclose(layout.splat.sum(-1), 1.0, atol=1e-5)
    sc = assemble(layout)
    assert any(line.bridge.any() for line in sc.road_lines) and len(sc.lake_levels) == 1


def test_the_rules_refuse_what_is_not_a_map():
    good = _map_sketch([("road", [(0, 10), (400, 10)])])
    with pytest.raises(ValueError, match="no water, road, forest, building or mountain strokes"):
        rules_layout(Sketch(good.camera, 400, 400, (Stroke(good.strokes[0].points, None),), "scene"))
    persp = Camera((0.0, -100.0, 100.0), (0.0, 0.0, 0.0), projection="perspective")
    with pytest.raises(ValueError, match="orthographic"):
        rules_layout(Sketch(persp, 400, 400, good.strokes, "scene"))
    tilted = Camera((0.0, -50_000.0, 100_000.0), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), "orthographic", height=2e5)
    with pytest.raises(ValueError, match="straight down"):
        rules_layout(Sketch(tilted, 400, 400, good.strokes, "scene"))
    with pytest.raises(ValueError, match="a scene is 20 m to 4 km"):
        rules_layout(_map_sketch([("road", [(0, 10), (400, 10)])], ground_m=90_000.0))


def test_assets_are_colored_low_poly_meshes_standing_on_their_foot():
    for kind, names in VARIANTS.items():
        for v in names:
            part = asset(f"{kind}/{v}")
            assert part.category == kind and 10 <= len(part.triangles) <= 400
            lo, hi = part.vertices.min(0), part.vertices.max(0)
            assert lo[2] < 0.0 < hi[2] and abs(0.5 * (lo[0] + hi[0])) < 1.0 and abs(0.5 * (lo[1] + hi[1])) < 1.0
            assert part.colors.shape == (len(part.vertices), 4) and len(np.unique(part.colors[:, :3], axis=0)) > 1
    assert asset("tree/conifer") is asset("tree/conifer")
    with pytest.raises(ValueError, match="there is no asset 'tree/palm'"):
        asset("tree/palm")
