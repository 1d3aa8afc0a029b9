"""A level designer's map sketch becomes a scene through the session and the command line; bad
maps get a message that says what to draw, and nothing changes."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.contract import Cancelled
from sketchforge.modeling.operations import OperationError
from sketchforge.modeling.session import Session
from sketchforge.modeling.sketch import Sketch, Stroke
from sketchforge.neural.scene.backend import SceneBackend
from sketchforge.neural.scene.data import make_item

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def session():
    s = Session()
    s.register_backend(SceneBackend(reader="rules"), replace=True)
    return s


def map_sketch(seed: int = 5) -> Sketch:
    item = make_item(seed)
    return item.sketch


def test_a_map_sketch_becomes_one_scene_step_with_trees_on_the_ground(session):
    sketch = map_sketch()
    op = session.scene(sketch)
    body = session.bodies[op.body]
    assert len(session.history) == 1 and body.kind == "scene" and op.id == "scene"
    counts = body.counts()
    assert op.trees == counts["tree"] and op.buildings == counts["building"]
    w, s, e, n = body.extent
    cam = sketch.camera
    assert np.isclose(n - s, cam.height / 1000.0) and np.isclose(0.5 * (w + e), cam.target[0] / 1000.0)
    session.undo()
    assert not session.bodies


def test_a_redrawn_map_remakes_the_scene_in_place_unless_a_new_one_is_asked_for(session):
    first = session.scene(map_sketch(5))
    again = session.scene(map_sketch(6))
    assert again.replace and again.body == first.body and list(session.bodies) == [first.body]
    assert len(session.history) == 2
    session.undo()
    assert session.bodies[first.body].counts() == session.document.state_after(0).bodies[first.body].counts()
    session.redo()
    session.backend("scene").configure(new_scene=True)
    other = session.scene(map_sketch(7))
    assert not other.replace and other.body != first.body and len(session.bodies) == 2


@pytest.mark.parametrize("change, words", [
    ("perspective", "orthographic"), ("plain", "no water, road, forest, building or mountain strokes"),
    ("huge", "a scene is 20 m to 4 km"), ("empty", "draw the map first")])
def test_bad_maps_are_refused_with_what_to_do(session, change, words):
    sketch = map_sketch()
    if change == "perspective":
        cam = Camera.looking_at((0, 0, 0), 300_000.0, 0.0, 60.0, fov_y_deg=40.0)
        sketch = dataclasses.replace(sketch, camera=cam)
    elif change == "plain":
        sketch = dataclasses.replace(sketch, strokes=tuple(Stroke(s.points, None) for s in sketch.strokes))
    elif change == "huge":
        sketch = dataclasses.replace(sketch, camera=dataclasses.replace(sketch.camera, height=9.0e7))
    else:
        sketch = dataclasses.replace(sketch, strokes=())
    with pytest.raises(OperationError, match=words):
        session.scene(sketch)
    assert not session.history and not session.bodies


def test_a_cancel_during_assembly_changes_nothing(session):
    with pytest.raises(Cancelled):
        session.scene(map_sketch(), progress=lambda done, total: done < 2)
    assert not session.history


def test_the_command_line_writes_a_valid_glb_per_the_contract(tmp_path):
    sketch = tmp_path / "map.sketch.json"
    map_sketch(6).save(sketch)
    env = {**os.environ, "SKETCHFORGE_SCENE_LAYOUT": str(tmp_path / "none.safetensors")}  # the rules read it
    r = subprocess.run([sys.executable, "-m", "sketchforge.app.cli", "interpret", "--sketch", str(sketch), "--out",
                        str(tmp_path / "scene.glb"), "--report", str(tmp_path / "r.json")], capture_output=True,
                       text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "r.json").read_text())
    best = rep["proposals"][0]
    assert rep["mode"] == "scene" and best["operation"] == "scene"
    assert best["params"]["trees"] >= 0 and "buildings" in best["params"]
    validate = ROOT / "packaging" / "node" / "validate.mjs"
    assert shutil.which("node") and validate.is_file(), "the glTF validator is part of the set-up (make setup)"
    check = subprocess.run(["node", str(validate), str(tmp_path / "scene.glb")], capture_output=True, text=True,
                           timeout=120)
    found = json.loads(check.stdout)
    assert found["issues"]["numErrors"] == 0, found["issues"]["messages"][:3]
    from tests.test_scenes import _glb_json
    names = [n.get("name", "") for n in _glb_json(tmp_path / "scene.glb")["nodes"]]
    assert any(n.startswith("terrain") for n in names)
    known = ("terrain", "water", "road", "tree", "building", "rock", "bush", "scene")
    assert all(n.startswith(known) for n in names), names
    assert sum(n.startswith("tree") for n in names) == best["params"]["trees"]


def _objects(body) -> set[tuple[str, float, float]]:
    names = [body.variants[k].name for k in body.variant]
    return {(n, round(float(p[0]), 3), round(float(p[1]), 3)) for n, p in zip(names, body.placements)}


def _far(xy: np.ndarray, lines: list[np.ndarray], metres: float) -> np.ndarray:
    from scipy.spatial import cKDTree
    pts = np.vstack([np.asarray(line, float) for line in lines])
    return cKDTree(pts).query(np.asarray(xy, float).reshape(-1, 2))[0] > metres


def test_redrawing_part_of_the_map_remakes_that_region_and_keeps_the_rest(session):
    from sketchforge.neural.scene.redraw import changed_lines
    sketch = map_sketch(6)
    first = session.scene(sketch)
    before = session.bodies[first.body]
    w_px, h_px = sketch.width, sketch.height
    square = np.array([[0.86, 0.12], [0.92, 0.12], [0.92, 0.18], [0.86, 0.18], [0.86, 0.12]]) * [w_px, h_px]
    house = Stroke(np.column_stack([square, np.ones(5), 10.0 * np.arange(5)]), "building")
    forests = [i for i, s in enumerate(sketch.strokes) if s.kind == "forest"]
    redrawn = dataclasses.replace(sketch, strokes=tuple(s for i, s in enumerate(sketch.strokes) if i != forests[-1])
                                  + (house,))
    again = session.scene(redrawn)
    after = session.bodies[again.body]
    assert again.replace and len(session.history) == 2 and 0 < again.remade < 0.3
    assert "of the map remade" in again.describe()
    lines = [line.xy for line in changed_lines(sketch, redrawn)]
    assert len(lines) == 2  # the house drawn and the forest scribble erased
    old, new = _objects(before), _objects(after)
    far_old = {o for o in old if _far(np.array([o[1:]]), lines, 60.0)[0]}
    far_new = {o for o in new if _far(np.array([o[1:]]), lines, 60.0)[0]}
    assert far_old and far_old == far_new  # every tree, rock and house away from the change stands where it stood
    near_house = [o for o in new - old
                  if o[0].startswith("building/") and not _far(np.array([o[1:]]), lines[:1], 30.0)[0]]
    assert near_house, "the house drawn is built"
    gx, gy = np.meshgrid(np.linspace(after.extent[0], after.extent[2], after.heights.shape[1]),
                         np.linspace(after.extent[3], after.extent[1], after.heights.shape[0]))
    far = _far(np.stack([gx, gy], -1).reshape(-1, 2), lines, 60.0).reshape(gx.shape)
    assert np.abs(after.heights - before.heights)[far].max() < 1e-3  # the ground away from it is unchanged
    session.undo()
    assert _objects(session.bodies[first.body]) == old


def test_the_whole_scene_is_remade_when_asked_and_a_reopened_scene_still_remakes_by_region(session, tmp_path):
    sketch = map_sketch(6)
    session.scene(sketch)
    session.backend("scene").configure(regional=False, seed=3)
    one = dataclasses.replace(sketch, strokes=sketch.strokes[:-1])
    op = session.scene(one)
    whole = session.bodies[op.body]
    session.undo()
    session.backend("scene").configure(regional=True)
    op = session.scene(one)
    regional = session.bodies[op.body]
    assert _objects(regional) != _objects(whole)  # the regional remake kept the seed-0 objects, the whole one not
    path = tmp_path / "map.sketchforge"  # the sketch a scene was drawn as survives save and reopen
    session.save(path)
    again = Session()
    again.open(path)
    again.register_backend(SceneBackend(reader="rules"), replace=True)
    assert again.bodies[op.body].sketch == session.bodies[op.body].sketch != ""
    redone = again.scene(dataclasses.replace(one, strokes=one.strokes[:-1]))
    assert len(_objects(again.bodies[redone.body]) & _objects(regional)) > 0.5 * len(_objects(regional))


def test_the_command_line_remakes_only_the_redrawn_region_of_a_saved_scene(tmp_path):
    sketch = map_sketch(6)
    sketch.save(tmp_path / "map.sketch.json")
    gone = [i for i, s in enumerate(sketch.strokes) if s.kind == "building"][-1]  # a lone house
    dataclasses.replace(sketch, strokes=tuple(s for i, s in enumerate(sketch.strokes) if i != gone)).save(
        tmp_path / "less.sketch.json")
    env = {**os.environ, "SKETCHFORGE_SCENE_LAYOUT": str(tmp_path / "none.safetensors")}  # the rules read it
    cli = [sys.executable, "-m", "sketchforge.app.cli", "interpret"]
    for args in (["--sketch", str(tmp_path / "map.sketch.json"), "--out", str(tmp_path / "one.sketchforge")],
                 ["--model", str(tmp_path / "one.sketchforge"), "--sketch", str(tmp_path / "less.sketch.json"),
                  "--out", str(tmp_path / "two.sketchforge"), "--report", str(tmp_path / "r.json")]):
        r = subprocess.run(cli + args, capture_output=True, text=True, timeout=300, env=env)
        assert r.returncode == 0, r.stderr
    best = json.loads((tmp_path / "r.json").read_text())["proposals"][0]
    assert best["params"]["replace"] and 0 < best["params"]["remade"] < 0.3
    one, two = Session(), Session()
    one.open(tmp_path / "one.sketchforge")
    two.open(tmp_path / "two.sketchforge")
    (a,), (b,) = one.bodies.values(), two.bodies.values()
    assert list(two.bodies) == list(one.bodies) and len(_objects(a) & _objects(b)) >= 0.8 * len(_objects(a))
    assert b.counts()["building"] < a.counts()["building"]  # the house erased from the map is gone
