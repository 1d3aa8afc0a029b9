"""The scene training data: worlds whose rivers run downhill below their banks, whose lakes are flat,
whose roads keep their grade and bridge the water, whose trees and buildings stand where they may;
top-down sketches in the contract's form; deterministic items and shards that resume."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

from sketchforge.modeling.sketch import Sketch
from sketchforge.neural.scene.cli import GenerateConfig, generate
from sketchforge.neural.scene.cli import main as data_main
from sketchforge.neural.scene.data import ARRAYS, RES, DataError, make_item, read_scene_shard
from sketchforge.neural.scene.places import footprint, slope_deg
from sketchforge.neural.scene.sketching import KINDS, SketchStyle, closes, draw_world, world_to_canvas
from sketchforge.neural.scene.water import CLEARANCE_M, polygon_mask
from sketchforge.neural.scene.world import BUILDING, CATEGORIES, FOREST, ROAD, STYLES, WATER, World, make_world

SEEDS = range(16)


@pytest.fixture(scope="module")
def items():
    return [make_item(seed) for seed in SEEDS]


@pytest.fixture(scope="module")
def worlds(items):
    return [it.world for it in items]


def test_the_set_holds_every_feature(worlds):
    total = {k: sum(w.counts()[k] for w in worlds) for k in ("rivers", "lakes", "roads", "bridges", "ridges",
                                                              "trees", "buildings")}
    assert all(v > 0 for v in total.values()), total
    assert any(r.joins >= 0 for w in worlds for r in w.rivers), "a tributary"
    assert any(r.parent >= 0 for w in worlds for r in w.roads), "a branch road"
    assert any(w.grid.rows != w.grid.cols for w in worlds) and any(w.style for w in worlds)
    for w in worlds:
        assert 120 <= w.grid.height_m <= 400 and w.grid.cell_m == 1.0
        assert w.height.dtype == np.float32 and w.height.shape == w.grid.shape and np.isfinite(w.height).all()
        assert w.category.dtype == np.uint8 and int(w.category.max()) < len(CATEGORIES)
        assert w.splat.shape == (*w.grid.shape, 5) and np.allclose(w.splat.sum(-1), 1.0, atol=1e-5)
        assert (w.splat >= 0).all()


def test_every_world_has_something_to_draw():
    for seed in range(8):
        w = make_world(seed, size_m=150.0, style="desert")  # the emptiest kind
        assert w.rivers or w.lakes or w.roads or w.ridges


def _river_course(w: World, river) -> np.ndarray:
    """The centre-line samples inside the world, a tributary's up to the river it joins."""
    keep = w.grid.inside(river.points, 1.5)
    if river.joins >= 0:
        main = w.rivers[river.joins]
        keep &= cKDTree(main.points).query(river.points)[0] > 0.5 * main.width_m + 1.0
    return river.points[keep]


def test_rivers_run_downhill_below_their_banks(worlds):
    seen = 0
    for w in worlds:
        for river in w.rivers:
            seen += 1
            assert 5.0 <= river.width_m <= 20.0
            assert np.all(np.diff(river.bed) <= 1e-9), "the recorded bed never rises"
            bed = w.grid.sample(w.height, _river_course(w, river))
            assert len(bed) > 20 and np.diff(bed).max() <= 0.15, "the carved bed never rises on the map"
        wet = ~np.isnan(w.water_level)
        assert ((w.category == WATER) <= wet).all() and set(np.unique(w.category[wet])) <= {WATER, ROAD}
        assert (w.height[wet] < w.water_level[wet]).all(), "the bed lies below the water"
        # every dry cell beside water stands above that water: the banks hold it
        level = np.where(wet, w.water_level, -np.inf)
        for axis in (0, 1):
            for shift in (1, -1):
                nb = np.roll(level, shift, axis=axis)
                edge = ~wet & np.isfinite(nb)
                if axis == 0:
                    edge[0 if shift == 1 else -1, :] = False
                else:
                    edge[:, 0 if shift == 1 else -1] = False
                assert (w.height[edge] >= nb[edge] - 1e-3).all()
    assert seen


def test_tributaries_join_above_the_water_they_meet():
    w = make_world(6)
    tribs = [r for r in w.rivers if r.joins >= 0]
    assert tribs
    for t in tribs:
        main = w.rivers[t.joins]
        d, j = cKDTree(main.points).query(t.points[-1])
        assert d <= 0.5 * main.width_m + 0.5
        assert t.bed[-1] >= main.level[j] - 1e-6


def test_lakes_are_flat_water_in_basins(worlds):
    seen = 0
    for w in worlds:
        for lake in w.lakes:
            seen += 1
            inside = polygon_mask(w.grid, lake.shore)
            assert inside.sum() * w.grid.cell_m ** 2 > 300
            assert np.all(w.water_level[inside] == np.float32(lake.level_m)), "one flat level"
            assert (w.height[inside] < lake.level_m).all(), "the bed lies below it"
            rim = ndimage.binary_dilation(inside, iterations=2) & ~inside
            assert (w.height[rim] >= lake.level_m).all(), "the rim holds the water"
            assert (w.category[inside] == WATER).all()
    assert seen


def test_roads_keep_their_grade_and_bridge_water(worlds):
    for w in worlds:
        g = w.grid
        for i, road in enumerate(w.roads):
            assert 4.0 <= road.width_m <= 8.0
            assert road.grades().max() <= 0.15
            s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(road.points, axis=0), axis=1))])
            spans = [b for b in w.bridges if b.road == i]
            on_bridge = np.zeros(len(s), bool)
            for b in spans:
                on_bridge |= (s >= b.s[0] - 3.0) & (s <= b.s[1] + 3.0)
                assert b.span_m > 0 and np.allclose(road.profile[np.searchsorted(s, b.s)], b.deck)
            r, c = g.cell(road.points)
            over_water = g.inside(road.points, 1.0) & ~np.isnan(w.water_level[r, c])
            assert on_bridge[over_water].all(), "every water crossing is a bridge"
            clear = road.profile[over_water] - w.water_level[r, c][over_water]
            assert (clear >= CLEARANCE_M - 1e-6).all(), "the deck clears the water"
            keep = g.inside(road.points, 3.0) & ~on_bridge
            if road.parent >= 0:
                keep &= s > road.width_m + w.roads[road.parent].width_m
            z = g.sample(w.height, road.points)
            n = 20  # samples: 10 m
            grade = np.abs(z[n:] - z[:-n]) / (s[n:] - s[:-n])
            ok = keep[n:] & keep[:-n]
            assert not ok.any() or grade[ok].max() <= 0.15, "the graded surface on the map"
            assert (w.category[r, c][g.inside(road.points, 1.0)] == ROAD).all()


def test_trees_stand_in_forests_and_buildings_on_level_ground(worlds):
    for w in worlds:
        g = w.grid
        if len(w.trees):
            r, c = g.cell(w.trees)
            assert (w.category[r, c] == FOREST).all(), "no tree in water, on a road or off the forest"
            assert np.isnan(w.water_level[r, c]).all()
            gap = cKDTree(w.trees).query(w.trees, k=2)[0][:, 1]
            assert gap.min() >= w.info["tree_spacing_m"] - 1e-3  # the recorded spacing is rounded
        slope = slope_deg(g, w.height.astype(float))
        x, y = g.centres()
        road_pts = np.vstack([rd.points for rd in w.roads]) if w.roads else np.zeros((0, 2))
        for bx, by, yaw, size in w.buildings:
            assert 6.0 <= size <= 14.0
            cells = np.hypot(x[None, :] - bx, y[:, None] - by) <= 0.5 * size
            assert slope[cells].max() <= 10.0
            assert not (np.isin(w.category[cells], (WATER, ROAD))).any()
            assert not (w.forest & cells).any()
            # it faces the nearest road: yaw points towards it
            q = road_pts[cKDTree(road_pts).query([bx, by])[1]]
            to_road = math.atan2(q[1] - by, q[0] - bx)
            assert math.cos(to_road - yaw) > 0.7
            corners = footprint(bx, by, yaw, size)
            assert g.inside(corners).all()
        if len(w.buildings):
            assert (w.category == BUILDING).any()


def test_sketches_follow_the_scene_contract(items):
    for it in items:
        w, sk = it.world, it.sketch
        cam = sk.camera
        assert sk.mode == "scene" and sk.prompt == w.style and (w.style is None or w.style in STYLES)
        assert cam.projection == "orthographic" and cam.up == (0.0, 1.0, 0.0)
        assert cam.eye[:2] == cam.target[:2] and cam.target[2] == 0.0 and cam.eye[2] > 1000.0 * w.height.max()
        assert cam.height == pytest.approx(1000.0 * w.grid.height_m)
        assert sk.width * w.grid.rows == sk.height * w.grid.cols, "the canvas shows exactly the world"
        assert 384 <= min(sk.width, sk.height) and max(sk.width, sk.height) <= 640
        assert sk.strokes and {s.kind for s in sk.strokes} <= set(KINDS)
        for s in sk.strokes:
            assert len(s.points) >= 2 and (s.uv >= 0).all() and (s.uv <= [sk.width, sk.height]).all()
            assert (np.diff(s.points[:, 3]) > 0).all() and ((s.points[:, 2] >= 0) & (s.points[:, 2] <= 1)).all()
        again = Sketch.from_json(json.loads(json.dumps(sk.to_json())))
        assert again.camera == cam and len(again.strokes) == len(sk.strokes)
        # the camera maps the world (metres, its centre at the camera's target) onto the canvas
        origin = np.array(cam.target[:2])
        probe = np.array([[10.0, 20.0], [-0.4 * w.grid.width_m, 0.3 * w.grid.height_m]])
        mm = np.column_stack([origin + 1000.0 * probe, np.zeros(2)])
        assert np.allclose(cam.project(mm, sk.width, sk.height), world_to_canvas(w, sk.width, sk.height, probe))


def test_lakes_are_drawn_as_closed_loops_and_rivers_as_open_lines(items):
    lakes = 0
    for it in items:
        w, sk = it.world, it.sketch
        water = [s for s in sk.strokes if s.kind == "water"]
        loops = [s.uv for s in water if closes(s.uv)]
        for lake in w.lakes:
            lakes += 1
            centre = world_to_canvas(w, sk.width, sk.height, lake.shore.mean(axis=0)[None])[0]
            radius = np.sqrt(lake.area_m2 / math.pi) * sk.height / w.grid.height_m
            assert any(np.linalg.norm(loop.mean(axis=0) - centre) < 0.5 * radius for loop in loops), "a loop per lake"
        assert len(loops) <= 2 * len(w.lakes), "no river stroke closes on itself"
        drawn = len(w.rivers) - it.drawing.left_out.get("streams", 0)
        assert (len(water) - len(loops) > 0) == (drawn > 0)
    assert lakes


def test_every_kind_is_drawn_where_its_truth_lies(items):
    for it in items:
        ink, cat = it.arrays["sketch"], it.arrays["category"]
        cell = (it.world.grid.height_m / RES, it.world.grid.width_m / RES)
        for kind, code in (("road", ROAD), ("water", WATER)):
            on = ink[KINDS.index(kind)] > 64
            if not on.any():
                continue
            # within a road's half width plus a messy hand's miss of the line (metres)
            near = ndimage.distance_transform_edt(cat != code, sampling=cell) <= 12.0
            assert near[on].mean() >= 0.8, (it.seed, kind, near[on].mean())
        n = {k: sum(s.kind == k for s in it.sketch.strokes) for k in KINDS}
        assert (n["road"] > 0) == bool(it.world.roads)
        assert (n["building"] > 0) == (len(it.world.buildings) > 0)
        assert (n["mountain"] > 0) <= bool(it.world.ridges)


def test_a_messier_hand_strays_further():
    w = make_world(9)
    neat = draw_world(w, np.random.default_rng(1), SketchStyle().scaled(0.3)).sketch
    messy = draw_world(w, np.random.default_rng(1), SketchStyle().scaled(3.0)).sketch
    truth = np.zeros((neat.height, neat.width), np.uint8)
    for road in w.roads:
        uv = world_to_canvas(w, neat.width, neat.height, road.points)
        cv2.polylines(truth, [np.round(uv * 16).astype(np.int32)], False, 1, 1, cv2.LINE_8, 4)
    far = ndimage.distance_transform_edt(truth == 0)

    def stray(sk):
        uv = np.vstack([s.uv for s in sk.strokes if s.kind == "road"])
        return float(np.mean(far[np.clip(uv[:, 1].astype(int), 0, sk.height - 1),
                                 np.clip(uv[:, 0].astype(int), 0, sk.width - 1)]))

    assert stray(messy) > stray(neat)
    with pytest.raises(ValueError, match="positive"):
        SketchStyle().scaled(0.0)


def test_the_same_seed_gives_the_same_item(items):
    a, b, c = items[5], make_item(5), make_item(6)
    for name in ARRAYS:
        if name != "item":
            assert a.arrays[name].tobytes() == b.arrays[name].tobytes()
            assert a.arrays[name].dtype == np.dtype(ARRAYS[name][0]) and a.arrays[name].shape == ARRAYS[name][1]
    assert a.world.height.tobytes() == b.world.height.tobytes() and np.array_equal(a.world.trees, b.world.trees)
    assert json.dumps(a.record(0)) == json.dumps(b.record(0))
    assert a.arrays["height"].tobytes() != c.arrays["height"].tobytes()
    assert (a.arrays["splat"].astype(int).sum(axis=0) == 255).all()
    lo, hi = a.arrays["height_range"]
    assert lo == pytest.approx(a.world.height.min(), abs=2.0) and hi <= a.world.height.max() + 1e-3
    with pytest.raises(ValueError):
        make_world(-1)
    with pytest.raises(ValueError, match="style"):
        make_world(1, style="lunar")
    w = make_world(3, size_m=200.0, aspect=(4, 3))
    assert w.size_m[0] * 3 == w.size_m[1] * 4 and abs(w.size_m[1] - 200.0) <= 1.5


def test_shards_resume_and_do_not_depend_on_the_workers(tmp_path, capsys):
    config = GenerateConfig(count=3, seed=7, shard_size=2)
    one = tmp_path / "one"
    m = generate(one, config, workers=1)
    assert m["complete"] and m["counts"]["items"] == 3 and len(m["shards"]) == 2 and m["resolution"] == RES
    arrays, records = read_scene_shard(one / m["shards"][0]["arrays"])
    assert arrays["sketch"].shape == (2, len(KINDS), RES, RES) and arrays["category"].dtype == np.uint8
    for i, rec in enumerate(records):
        again = make_item(rec["seed"])
        assert np.array_equal(again.arrays["category"], arrays["category"][i])
        assert Sketch.from_json(rec["sketch"]).mode == "scene"
    before = {p.name: p.read_bytes() for p in one.glob("shard-*")}
    stamp = (one / "shard-00000.safetensors").stat().st_mtime_ns
    (one / "shard-00001.safetensors").unlink()  # as if interrupted while writing shard 1
    generate(one, config, workers=1)
    assert (one / "shard-00000.safetensors").stat().st_mtime_ns == stamp, "finished shards are kept"
    assert {p.name: p.read_bytes() for p in one.glob("shard-*")} == before
    two = tmp_path / "two"
    generate(two, config, workers=2)
    assert {p.name: p.read_bytes() for p in two.glob("shard-*")} == before, "the worker count changes nothing"
    assert (two / "manifest.json").read_bytes() == (one / "manifest.json").read_bytes()
    with pytest.raises(DataError, match="other settings"):
        generate(one, GenerateConfig(count=3, seed=8, shard_size=2))
    png = tmp_path / "sheet.png"
    assert data_main(["sheet", "--data", str(one), "--out", str(png), "--n", "3"]) == 0
    img = cv2.imread(str(png))
    assert img is not None and img.shape[0] > 200 and img.shape[1] > 600
    shard = one / "shard-00000.safetensors"
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(DataError, match="not a readable safetensors shard"):
        read_scene_shard(shard)
    capsys.readouterr()
    assert data_main(["sheet", "--data", str(tmp_path / "nothing"), "--out", str(png)]) == 2
    assert data_main(["generate", "--out", str(tmp_path / "x"), "--count", "0", "--seed", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(e.startswith("sketchforge-scene-data: error:") for e in err)
