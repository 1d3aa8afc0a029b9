"""The `points` mode as a user meets it: the console, the command line and the contract's answers,
with small networks made here (what the shipped ones score is measured by bench_points.py).

A tiny untrained pair of networks still goes through every step a user's sketch goes through
(frame, both samplings, placement, the document, the files), so what is asserted here is what the
contract promises whatever the weights: where the cloud stands, how many points it has, that a
re-color moves nothing, what bad input is told, and that a cancel changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.contract import Cancelled
from sketchforge.modeling.operations import OperationError
from sketchforge.modeling.session import Session
from sketchforge.modeling.sketch import Sketch, Stroke
from sketchforge.neural.text import encoder_available

pytest.importorskip("diffusers", reason="diffusers is not installed (pip install diffusers==0.42.1)")
pytestmark = pytest.mark.skipif(not encoder_available(), reason="the text encoder's package is not installed")

TINY = dict(width=32, point_width=32, blocks=2, latents=8, heads=2, capsules=4, stem=8, fourier=4)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    from sketchforge.neural.points.net import PointsConfig, PointsNet, save_net
    from sketchforge.neural.points.objects import PART_NAMES
    root = tmp_path_factory.mktemp("points-weights")
    torch.manual_seed(0)
    for stage in ("shape", "color"):
        net = PointsNet(PointsConfig(stage, parts=len(PART_NAMES) if stage == "color" else 0, **TINY)).eval()
        for p in net.out.parameters():  # an untrained net predicts no noise at all; give it some output
            torch.nn.init.normal_(p, std=0.05)
        save_net(net, root / f"{stage}.safetensors")
    return root


@pytest.fixture()
def session(weights):
    from sketchforge.neural.points.backend import PointsBackend
    s = Session()
    s.register_backend(PointsBackend(shape=weights / "shape.safetensors", color=weights / "color.safetensors",
                                     quality=12), replace=True)
    return s


def chair_sketch(prompt: str | None = "a wooden chair with a red seat") -> Sketch:
    """A chair's outline drawn by a person would look more like a chair; the contract only needs
    strokes over a box of the canvas."""
    cam = Camera.looking_at((0, 0, 450), 2500.0, 30.0, 20.0, fov_y_deg=35.0)
    boxes = [(80, 40, 176, 150), (80, 150, 176, 170), (85, 170, 95, 230), (160, 170, 170, 230)]
    strokes = []
    for u0, v0, u1, v1 in boxes:
        loop = np.array([(u0, v0), (u1, v0), (u1, v1), (u0, v1), (u0, v0)], float)
        pts = np.concatenate([np.linspace(loop[i], loop[i + 1], 10) for i in range(4)])
        strokes.append(Stroke(np.column_stack([pts, np.full(len(pts), 0.5), 8.0 * np.arange(len(pts))])))
    return Sketch(cam, 256, 256, tuple(strokes), "points", prompt)


def _drawn_box(sketch: Sketch) -> np.ndarray:
    uv = np.concatenate([s.uv for s in sketch.strokes])
    return np.r_[uv.min(0), uv.max(0)]


def test_a_sketch_and_a_prompt_give_an_upright_cloud_where_it_was_drawn(session):
    sketch = chair_sketch()
    op = session.points(sketch)
    cloud = session.bodies[op.body]
    assert op.id == "points" and op.params()["category"] == "chair" and op.params()["points"] >= 2048
    assert len(cloud.points) >= 2048 and cloud.colors.shape == (len(cloud.points), 3)
    uv = sketch.camera.project(cloud.points, sketch.width, sketch.height)
    lo, hi = uv.min(0), uv.max(0)
    box = _drawn_box(sketch)
    # it covers what was drawn: the same centre, and (one scale for both sides, which an untrained
    # network's cloud cannot match exactly) mostly the same box
    assert np.abs(0.5 * (lo + hi) - 0.5 * (box[:2] + box[2:])).max() < 0.06 * (box[2:] - box[:2]).max()
    inter = np.prod(np.clip(np.minimum(hi, box[2:]) - np.maximum(lo, box[:2]), 0, None))
    union = np.prod(hi - lo) + np.prod(box[2:] - box[:2]) - inter
    assert inter / union > 0.5
    depth = sketch.camera.depth(cloud.points.mean(0)[None])[0]
    target = sketch.camera.depth(np.asarray(sketch.camera.target, float)[None])[0]
    assert abs(depth - target) < 0.25 * np.ptp(cloud.points, axis=0).max()  # at the target's depth
    session.undo()
    assert op.body not in session.bodies


def test_a_new_prompt_recolors_without_moving_a_point_and_named_parts_only(session):
    op = session.points(chair_sketch())
    before = session.bodies[op.body]
    session.recolor(op.body, "a bright green chair")
    after = session.bodies[op.body]
    assert np.array_equal(after.points, before.points) and after.points.tobytes() == before.points.tobytes()
    assert session.history[-1].id == "recolor"
    some = sorted({before.part_names[i] for i in np.unique(before.parts) if i >= 0})[:1]
    session.recolor(op.body, "a black chair", parts=some)
    again = session.bodies[op.body]
    others = ~again.part_mask(some)
    assert np.array_equal(again.colors[others], after.colors[others])
    with pytest.raises(OperationError, match="no part 'wheel'"):
        session.recolor(op.body, "a red chair", parts=["wheel"])


def test_resampling_replaces_the_cloud_in_one_undoable_step_and_survives_a_save(session, weights, tmp_path):
    op = session.points(chair_sketch())
    first = session.bodies[op.body]
    steps = len(session.history)
    again = session.resample(op.body)
    assert again.seed == op.seed + 1 and again.replace and again.body == op.body
    assert session.backend("points").options.seed == 0  # the seed held for that call only
    second = session.bodies[op.body]
    assert len(session.history) == steps + 1 and list(session.bodies) == [op.body]
    assert not np.array_equal(second.points, first.points)
    lo, hi = first.points.min(0), first.points.max(0)  # the same sketch: the same place and size
    assert np.allclose(second.points.min(0), lo, atol=0.15 * np.ptp(first.points, 0).max())
    assert np.allclose(second.points.max(0), hi, atol=0.15 * np.ptp(first.points, 0).max())
    session.undo()
    assert np.array_equal(session.bodies[op.body].points, first.points)
    session.redo()
    path = tmp_path / "clouds.sketchforge"
    session.save(path)
    from sketchforge.neural.points.backend import PointsBackend
    reopened = Session()
    reopened.register_backend(PointsBackend(shape=weights / "shape.safetensors",
                                            color=weights / "color.safetensors", quality=12), replace=True)
    reopened.open(path)
    reopened.resample(op.body, seed=op.seed + 1)
    assert np.array_equal(reopened.bodies[op.body].points, second.points)  # the same seed, the same cloud
    third = reopened.resample(op.body, prompt="a blue chair")
    assert third.prompt == "a blue chair" and third.seed == op.seed + 2
    with pytest.raises(OperationError, match="no body 'nothing'"):
        session.resample("nothing")
    box = session.box()
    with pytest.raises(OperationError, match="works on point clouds"):
        session.resample(box)
    ply = session.export(tmp_path / "plain.ply", bodies=[op.body])
    imported = session.import_file(ply)  # a cloud, but not drawn here: nothing to sample again
    n = len(session.history)
    with pytest.raises(OperationError, match="not drawn in the points mode"):
        session.resample(imported)
    assert len(session.history) == n


@pytest.mark.parametrize("prompt, words", [("", "type what the object is"), ("x" * 10_000, "10,000 characters"),
                                           ("blorp zindle quaxx", "no object or color"),
                                           (None, "type what the object is")])
def test_bad_prompts_get_a_message_and_change_nothing(session, prompt, words):
    n = len(session.history)
    with pytest.raises(OperationError, match=words):
        session.points(chair_sketch(None), prompt)
    assert len(session.history) == n and not session.bodies


def test_a_stroke_with_nan_is_refused_with_what_to_do_and_changes_nothing(session, tmp_path):
    from sketchforge.modeling.sketch import SketchError, Stroke
    good = chair_sketch()
    points = good.strokes[0].points.copy()
    points[2, 0] = np.nan
    bad = Sketch(good.camera, good.width, good.height, (Stroke(points, None), *good.strokes[1:]), "points",
                 good.prompt)
    with pytest.raises(SketchError, match="NaN or infinite coordinates; redraw it"):
        session.points(bad)
    assert not session.history and not session.bodies
    data = good.to_json()
    data["strokes"][0]["points"][2][0] = float("nan")
    path = tmp_path / "nan.sketch.json"
    path.write_text(json.dumps(data))  # NaN as JSON writers spell it
    with pytest.raises(SketchError, match="NaN or infinite number"):
        Sketch.load(path)


def test_a_cancel_stops_the_sampling_and_proposes_nothing(session):
    seen = []

    def progress(done, total):
        seen.append((done, total))
        return done < 3

    session.sketch.load(chair_sketch())
    with pytest.raises(Cancelled):
        session.interpret(progress=progress)
    assert seen and seen[-1][0] == 3 and seen[-1][1] >= 12 and not session.sketch.proposals


def test_the_command_line_writes_ply_and_glb_and_recolors_a_ply(weights, tmp_path):
    env = {"SKETCHFORGE_POINTS_SHAPE": str(weights / "shape.safetensors"),
           "SKETCHFORGE_POINTS_COLOR": str(weights / "color.safetensors")}
    import os
    env = {**os.environ, **env}
    sketch = tmp_path / "chair.sketch.json"
    chair_sketch().save(sketch)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "sketchforge.app.cli", "interpret", *args], capture_output=True,
                              text=True, timeout=600, env=env)

    r = run("--sketch", str(sketch), "--out", str(tmp_path / "chair.ply"), "--report", str(tmp_path / "r.json"))
    assert r.returncode == 0, r.stderr
    head = (tmp_path / "chair.ply").read_bytes().split(b"end_header")[0].decode()
    assert "property float x" in head and "property uchar red" in head and "element vertex" in head
    count = int(head.split("element vertex ")[1].split()[0])
    assert count >= 2048
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["mode"] == "points" and rep["proposals"][0]["operation"] == "points"
    assert rep["proposals"][0]["params"]["category"] == "chair"
    r = run("--sketch", str(sketch), "--out", str(tmp_path / "chair.glb"))
    assert r.returncode == 0, r.stderr
    import shutil
    from pathlib import Path
    validate = Path(__file__).resolve().parents[2] / "packaging" / "node" / "validate.mjs"
    assert shutil.which("node") and validate.is_file(), "the glTF validator is part of the set-up (make setup)"
    check = subprocess.run(["node", str(validate), str(tmp_path / "chair.glb")], capture_output=True, text=True,
                           timeout=60)
    found = json.loads(check.stdout)
    assert found["issues"]["numErrors"] == 0, found["issues"]["messages"][:3]
    assert found["info"]["totalVertexCount"] >= 2048  # one POINTS primitive with its colors
    # re-color: the cloud of a PLY and a sketch with no strokes
    empty = tmp_path / "blue.sketch.json"
    Sketch(chair_sketch().camera, 256, 256, (), "points", "a blue chair").save(empty)
    r = run("--model", str(tmp_path / "chair.ply"), "--sketch", str(empty), "--out", str(tmp_path / "blue.ply"),
            "--report", str(tmp_path / "r2.json"))
    assert r.returncode == 0, r.stderr
    from sketchforge.modeling.exchange import import_mesh
    a, b = (import_mesh((tmp_path / f).read_bytes(), f) for f in ("chair.ply", "blue.ply"))
    assert np.array_equal(a.points, b.points) and not np.array_equal(a.colors, b.colors)
    assert json.loads((tmp_path / "r2.json").read_text())["proposals"][0]["operation"] == "recolor"
    # an empty sketch with no cloud says what to draw, in one line, and writes nothing
    r = run("--sketch", str(empty), "--out", str(tmp_path / "none.ply"))
    assert r.returncode != 0 and "draw the object" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "none.ply").exists()


def test_the_command_line_recolors_parts_samples_again_meshes_and_splits(weights, tmp_path):
    import os
    env = {**os.environ, "SKETCHFORGE_POINTS_SHAPE": str(weights / "shape.safetensors"),
           "SKETCHFORGE_POINTS_COLOR": str(weights / "color.safetensors")}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "sketchforge.app.cli", *args], capture_output=True, text=True,
                              timeout=600, env=env)

    sketch = tmp_path / "chair.sketch.json"
    chair_sketch().save(sketch)
    drawn = tmp_path / "chair.sketchforge"
    r = run("interpret", "--sketch", str(sketch), "--out", str(drawn))
    assert r.returncode == 0, r.stderr
    from sketchforge.modeling.exchange import import_mesh
    first = Session()
    first.open(drawn)
    (body, cloud), = first.bodies.items()
    part = sorted({cloud.part_names[i] for i in np.unique(cloud.parts) if i >= 0})[0]
    # re-color one part of a PLY: every position kept, the other parts' colors too
    ply = first.export(tmp_path / "chair.ply")
    r = run("recolor", str(ply), "--prompt", "a green chair", "--parts", part, "--out", str(tmp_path / "green.ply"))
    assert r.returncode == 0, r.stderr
    a, b = (import_mesh((tmp_path / f).read_bytes(), f) for f in ("chair.ply", "green.ply"))
    mask = b.part_mask((part,))
    assert np.array_equal(a.points, b.points) and np.array_equal(a.colors[~mask], b.colors[~mask])
    r = run("recolor", str(ply), "--prompt", "a green chair", "--parts", "wheel", "--out", str(tmp_path / "x.ply"))
    assert r.returncode == 1 and "no part 'wheel'" in r.stderr and not (tmp_path / "x.ply").exists()
    # sample again from the sketch kept in the session file
    r = run("resample", str(drawn), "--out", str(tmp_path / "again.sketchforge"))
    assert r.returncode == 0, r.stderr
    again = Session()
    again.open(tmp_path / "again.sketchforge")
    assert list(again.bodies) == [body] and not np.array_equal(again.bodies[body].points, cloud.points)
    assert again.history[-1].seed == 1 and again.history[-1].replace
    r = run("resample", str(ply), "--out", str(tmp_path / "y.sketchforge"))
    assert r.returncode == 1 and "not drawn in the points mode" in r.stderr
    # any operation: a mesh from the cloud, the cloud split into its parts
    r = run("apply", str(ply), "mesh_cloud", "depth=6", "--out", str(tmp_path / "mesh.obj"))
    assert r.returncode == 1 and "point cloud" in r.stderr  # OBJ holds no cloud: write the new mesh only
    r = run("apply", str(ply), "mesh_cloud", "depth=6", "--only-new", "--out", str(tmp_path / "mesh.obj"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "mesh.obj").read_text().count("\nf ") > 100
    r = run("apply", str(ply), "split_parts", "--out", str(tmp_path / "parts.sketchforge"))
    assert r.returncode == 0, r.stderr
    split = Session()
    split.open(tmp_path / "parts.sketchforge")
    assert len(split.bodies) > 2
    r = run("apply", str(ply), "mesh_cloud", "depth=12", "--out", str(tmp_path / "bad.obj"))
    assert r.returncode == 1 and "depth must be 5 to 9" in r.stderr and not (tmp_path / "bad.obj").exists()
    r = run("apply", str(ply), "nope", "--out", str(tmp_path / "bad.obj"))
    assert r.returncode == 2 and "apply --list" in r.stderr
