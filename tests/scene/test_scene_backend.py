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
