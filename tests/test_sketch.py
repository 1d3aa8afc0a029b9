"""The sketch file contract (`specs/sketch-file.md`) and the camera projection it defines."""

from __future__ import annotations

import copy
import json
import math
import re

import numpy as np
import pytest

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.sketch import Sketch, SketchError

SPEC_EXAMPLE = {
    "format": "sketchforge.sketch", "version": 1, "canvas": {"width": 512, "height": 512},
    "camera": {"eye": [120.0, -150.0, 110.0], "target": [0.0, 0.0, 10.0], "up": [0.0, 0.0, 1.0],
               "projection": "perspective", "fov_y_deg": 35.0},
    "mode": "cad",
    "strokes": [{"points": [[201.5, 188.0], [240.2, 187.1], [282.0, 186.4]]},
                {"points": [[150.0, 300.0, 0.62, 0], [152.0, 310.0, 0.70, 16]], "kind": "ridge"}],
}


def test_the_spec_example_reads_and_round_trips(tmp_path):
    s = Sketch.from_json(SPEC_EXAMPLE)
    assert (s.width, s.height, s.mode, len(s.strokes)) == (512, 512, "cad", 2)
    assert s.strokes[0].points[0].tolist() == [201.5, 188.0, 1.0, 0.0]
    assert s.strokes[1].kind == "ridge" and s.strokes[1].points[1, 2] == pytest.approx(0.70)
    s.save(tmp_path / "a.sketch.json")
    again = Sketch.load(tmp_path / "a.sketch.json")
    assert again.camera == s.camera and [x.points.tolist() for x in again.strokes] == \
        [x.points.tolist() for x in s.strokes]


def test_extra_keys_are_ignored_and_mode_defaults_to_cad():
    d = copy.deepcopy(SPEC_EXAMPLE)
    d["app_version"] = "x"
    d["strokes"][0]["colour"] = "red"
    del d["mode"]
    assert Sketch.from_json(d).mode == "cad"


@pytest.mark.parametrize("mutate, key", [
    (lambda d: d.pop("canvas"), "canvas"),
    (lambda d: d["canvas"].update(width=0), "canvas.width"),
    (lambda d: d["camera"].pop("fov_y_deg"), "camera.fov_y_deg"),
    (lambda d: d["camera"].update(projection="fisheye"), "camera.projection"),
    (lambda d: d["camera"].update(eye=[1, 2]), "camera.eye"),
    (lambda d: d["strokes"][0]["points"].append([1.0, float("nan")]), "strokes[0].points[3]"),
    (lambda d: d["strokes"][1]["points"][0].__setitem__(2, 3.0), "strokes[1].points[0]"),
    (lambda d: d.update(strokes={}), "strokes"),
    (lambda d: d.update(format="svg"), "format"),
    (lambda d: d.update(version=2), "newer"),
])
def test_malformed_sketches_name_the_key(mutate, key):
    d = copy.deepcopy(SPEC_EXAMPLE)
    mutate(d)
    with pytest.raises(SketchError) as err:
        Sketch.from_json(d)
    assert key in str(err.value)


def test_orthographic_camera_needs_height():
    d = copy.deepcopy(SPEC_EXAMPLE)
    d["camera"] = {"eye": [0, -100, 0], "target": [0, 0, 0], "up": [0, 0, 1], "projection": "orthographic",
                   "height": 80.0}
    s = Sketch.from_json(d)
    assert s.camera.project(np.array([[0.0, 0.0, 40.0]]), 512, 512)[0] == pytest.approx([256.0, 0.0])


def test_perspective_projection_follows_the_spec_formula():
    cam = Camera((120.0, -150.0, 110.0), (0.0, 0.0, 10.0), (0, 0, 1), "perspective", 35.0)
    p = np.array([[10.0, 20.0, 30.0]])
    f = np.array([-120.0, 150.0, -100.0]) / np.linalg.norm([-120.0, 150.0, -100.0])
    r = np.cross(f, [0, 0, 1])
    r /= np.linalg.norm(r)
    t = np.cross(r, f)
    d = p[0] - [120.0, -150.0, 110.0]
    s = 256 / math.tan(math.radians(17.5))
    expect = [320 + s * d @ r / (d @ f), 256 - s * d @ t / (d @ f)]
    assert cam.project(p, 640, 512)[0] == pytest.approx(expect)
    # the target is at the canvas centre, and a ray through a pixel comes back to it
    assert cam.project(np.array([[0.0, 0.0, 10.0]]), 640, 512)[0] == pytest.approx([320, 256])
    o, dirs = cam.rays(np.array(expect)[None], 640, 512)
    back = o[0] + dirs[0] * np.linalg.norm(d)
    assert back == pytest.approx(p[0], abs=1e-9)


def test_unreadable_or_non_json_files_say_so(tmp_path):
    bad = tmp_path / "x.sketch.json"
    bad.write_text("{not json")
    with pytest.raises(SketchError, match="not valid JSON"):
        Sketch.load(bad)
    with pytest.raises(SketchError, match="cannot read"):
        Sketch.load(tmp_path / "missing.json")
    bad.write_text(json.dumps([1, 2]))
    with pytest.raises(SketchError, match="JSON object"):
        Sketch.load(bad)


BIG = 10**400  # JSON allows it; no float holds it


@pytest.mark.parametrize("mutate, key", [
    (lambda d: d["canvas"].update(width=float("nan")), "canvas.width"),
    (lambda d: d["canvas"].update(width=float("inf")), "canvas.width"),
    (lambda d: d["canvas"].update(height=BIG), "canvas.height"),
    (lambda d: d["strokes"][0]["points"][1].__setitem__(0, BIG), "strokes[0].points[1]"),
    (lambda d: d["strokes"][1]["points"][0].__setitem__(3, -BIG), "strokes[1].points[0]"),
    (lambda d: d["strokes"][1]["points"][0].__setitem__(2, BIG), "strokes[1].points[0]"),
    (lambda d: d["camera"].update(fov_y_deg=BIG), "camera.fov_y_deg"),
    (lambda d: d["camera"]["eye"].__setitem__(0, BIG), "camera.eye"),
    (lambda d: d["camera"]["up"].__setitem__(2, 1e300), "camera.up"),  # finite, but the camera overflows
    (lambda d: d["camera"].update(target=[0.0, float("-inf"), 0.0]), "camera.target"),
    (lambda d: d.update(version=BIG), "newer"),
    (lambda d: d.update(format=[[[["x" * 10_000]]]]), "format"),
])
def test_numbers_no_float_holds_are_errors_naming_the_key_in_one_short_line(mutate, key):
    d = copy.deepcopy(SPEC_EXAMPLE)
    mutate(d)
    with pytest.raises(SketchError) as err:
        Sketch.from_json(d)
    message = str(err.value)
    assert key in message and "\n" not in message and len(message) < 300


@pytest.mark.parametrize("old, new, key", [
    ('"width": 512', '"width": NaN', "canvas.width"),
    ('"width": 512', '"width": Infinity', "canvas.width"),
    ('"width": 512', '"width": 1e400', "canvas.width"),
    ('"fov_y_deg": 35.0', '"fov_y_deg": ' + "9" * 400, "camera.fov_y_deg"),
    ('"eye": [120.0', '"eye": [' + "1" * 400, "camera.eye"),
    ('[201.5, 188.0]', "[201.5, " + "7" * 400 + "]", "strokes[0].points[0]"),
    ('"version": 1', '"version": ' + "1" * 5000, "cannot be read"),  # longer than Python converts
])
def test_the_same_numbers_written_in_a_file_fail_as_sketch_errors(tmp_path, old, new, key):
    text = json.dumps(SPEC_EXAMPLE)
    assert old in text
    path = tmp_path / "x.sketch.json"
    path.write_text(text.replace(old, new))
    with pytest.raises(SketchError, match=re.escape(key)):
        Sketch.load(path)


def test_deeply_nested_json_is_a_sketch_error_not_a_recursion_error(tmp_path):
    path = tmp_path / "deep.sketch.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SketchError, match="nests"):
        Sketch.load(path)
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text(json.dumps(SPEC_EXAMPLE)[:-1] + f', "notes": {deep}}}')  # inside an ignored extra key
    with pytest.raises(SketchError, match="nests"):
        Sketch.load(path)
