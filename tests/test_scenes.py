"""A scene in the document: put through the session with its data as a blob, saved and reopened
exactly, undone like any step, and exported to a glb the Khronos validator passes (nodes named by
category, one per tree and building standing at its foot on the terrain, sharing their variant's
mesh) and to OBJ (a group per node, a material per category); both open in Blender."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sketchforge.modeling.operations import OperationError, blob_key
from sketchforge.modeling.scenes import CATEGORIES, PutScene, SceneBody, SketchScene, read_scene_blob, scene_blob
from sketchforge.modeling.session import Session
from sketchforge.neural.scene.assemble import assemble
from sketchforge.neural.scene.layout import Layout
from sketchforge.neural.scene.world import make_world

ROOT = Path(__file__).resolve().parents[1]
VALIDATE = ROOT / "packaging" / "node" / "validate.mjs"


@pytest.fixture(scope="module")
def scene() -> SceneBody:
    return assemble(Layout.of_world(make_world(22, size_m=120.0)), seed=1).body()


def _same(a: SceneBody, b: SceneBody) -> bool:
    parts = all(p.name == q.name and np.array_equal(p.vertices, q.vertices) and np.array_equal(p.triangles, q.triangles)
                and np.array_equal(p.colors, q.colors)
                for p, q in zip(a.parts + a.variants, b.parts + b.variants))
    return (parts and len(a.parts) == len(b.parts) and len(a.variants) == len(b.variants) and a.extent == b.extent
            and np.array_equal(a.heights, b.heights) and np.array_equal(a.colors, b.colors)
            and np.array_equal(a.placements, b.placements) and np.array_equal(a.variant, b.variant)
            and a.style == b.style)


def _glb_json(path: Path) -> dict:
    data = path.read_bytes()
    length = struct.unpack("<I", data[12:16])[0]
    return json.loads(data[20:20 + length])


def test_a_scene_goes_through_the_session_saves_reopens_and_undoes(scene, tmp_path):
    s = Session()
    data = scene_blob(scene)
    key = s.document.add_blob(data)
    s.apply("put_scene", body="scene1", blob=key)
    body = s.bodies["scene1"]
    assert isinstance(body, SceneBody) and _same(body, scene)
    summary = body.summary()
    assert summary["kind"] == "scene" and summary["trees"] > 20 and summary["buildings"] >= 1
    assert summary["triangles"] > 2 * (scene.heights.shape[0] - 1) * (scene.heights.shape[1] - 1)
    assert 3 <= summary["draw_calls"] < 40
    mesh = body.mesh()  # what the viewport draws: everything, colored, in millimetres
    assert len(mesh.triangles) == summary["triangles"] and mesh.colors is not None
    assert np.allclose(body.bounds()[:, :2] / 1000.0, [scene.extent[:2], scene.extent[2:]], atol=3.0)
    xy = scene.placements[:5, :2]
    assert np.allclose(body.height_at(xy * 1000.0), scene.placements[:5, 2] * 1000.0, atol=1e-3)

    path = tmp_path / "scene.sketchforge"
    s.save(path)
    again = Session()
    again.open(path)
    assert _same(again.bodies["scene1"], scene)
    assert again.history[-1].describe() == "Sketch scene scene1"

    s.undo()
    assert "scene1" not in s.bodies
    s.redo()
    assert _same(s.bodies["scene1"], scene)


def test_a_sketched_scene_keeps_its_sketch_and_bad_data_changes_nothing(scene):
    s = Session()
    data, sketch = scene_blob(scene), b'{"format": "sketchforge.sketch"}'
    counts = scene.counts()
    op = SketchScene("scene1", blob_key(data), trees=counts["tree"], buildings=counts["building"], style="autumn",
                     sketch=blob_key(sketch))
    s.document.apply(op, None, {blob_key(data): data, blob_key(sketch): sketch})
    assert op.blob_keys() == (blob_key(data), blob_key(sketch))
    words = f'Scene scene1: {counts["tree"]} trees, {counts["building"]} buildings ("autumn")'
    assert s.history[-1].describe() == words
    assert type(op).from_params(op.params()) == op
    n = len(s.history)
    junk = b"not a scene"
    with pytest.raises(OperationError, match="scene data of 'scene2' is damaged"):
        s.document.apply(PutScene("scene2", blob_key(junk)), None, {blob_key(junk): junk})
    with pytest.raises(OperationError, match="is missing from the document"):
        s.apply("put_scene", body="scene3", blob="0" * 64)
    with pytest.raises(OperationError, match="there is a body called 'scene1' already"):
        s.document.apply(PutScene("scene1", blob_key(data)), None, {blob_key(data): data})
    assert len(s.history) == n and "scene2" not in s.bodies
    with pytest.raises(ValueError, match="not a scene archive"):
        read_scene_blob(junk)


def _validate(path: Path) -> dict:
    node = shutil.which("node")
    if node is None or not VALIDATE.is_file() or not (VALIDATE.parent / "node_modules" / "gltf-validator").is_dir():
        pytest.fail("the Khronos glTF validator is not installed (node, packaging/node/validate.mjs and "
                    "packaging/node/node_modules are needed); run `make setup`")
    run = subprocess.run([node, str(VALIDATE), str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode in (0, 1), run.stderr
    report = json.loads(run.stdout)
    assert report["issues"]["numErrors"] == 0, [m for m in report["issues"]["messages"] if m["severity"] == 0][:3]
    return report


def _terrain_height(vertices: np.ndarray, triangles: np.ndarray, xz: np.ndarray) -> np.ndarray:
    """Height (glTF +y) of the triangles under points given as glTF (x, z), by barycentric weights."""
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    out = np.full(len(xz), np.nan)
    for i, (x, z) in enumerate(xz):
        near = np.nonzero((np.minimum.reduce([a[:, 0], b[:, 0], c[:, 0]]) <= x + 1e-9)
                          & (np.maximum.reduce([a[:, 0], b[:, 0], c[:, 0]]) >= x - 1e-9)
                          & (np.minimum.reduce([a[:, 2], b[:, 2], c[:, 2]]) <= z + 1e-9)
                          & (np.maximum.reduce([a[:, 2], b[:, 2], c[:, 2]]) >= z - 1e-9))[0]
        for t in near:
            p0, p1, p2 = a[t][[0, 2]], b[t][[0, 2]], c[t][[0, 2]]
            m = np.array([p1 - p0, p2 - p0]).T
            if abs(np.linalg.det(m)) < 1e-12:
                continue
            u, v = np.linalg.solve(m, np.array([x, z]) - p0)
            if u >= -1e-7 and v >= -1e-7 and u + v <= 1 + 1e-7:
                out[i] = a[t][1] + u * (b[t][1] - a[t][1]) + v * (c[t][1] - a[t][1])
                break
    return out


def test_a_scene_exports_to_a_valid_glb_with_a_node_per_object_at_its_foot(scene, tmp_path):
    s = Session()
    key = s.document.add_blob(scene_blob(scene))
    s.apply("put_scene", body="scene1", blob=key)
    out = tmp_path / "scene.glb"
    s.export(out)
    _validate(out)
    tree = _glb_json(out)
    names = [n["name"] for n in tree["nodes"]]
    assert all(name.split("_")[0] in CATEGORIES for name in names) and len(set(names)) == len(names)
    counts = scene.counts()
    trees = [n for n in tree["nodes"] if n["name"].startswith("tree")]
    houses = [n for n in tree["nodes"] if n["name"].startswith("building")]
    assert len(trees) == counts["tree"] and len(houses) == counts["building"]
    assert names.count("terrain") == 1 and any(n.startswith("water") for n in names) and any(
        n.startswith("road") for n in names)
    assert len(tree["meshes"]) < len(tree["nodes"])  # objects share their variant's mesh
    assert len({n["mesh"] for n in trees}) <= len([v for v in scene.variants if v.category == "tree"])
    # every tree and building stands with its translation on the terrain mesh of the file (glTF: m, y up)
    import trimesh
    loaded = trimesh.load(out, force="scene", process=False)
    ground = loaded.geometry[loaded.graph["terrain"][1]]
    feet = np.array([n["translation"] for n in trees + houses])
    under = _terrain_height(np.asarray(ground.vertices), np.asarray(ground.faces), feet[:, [0, 2]])
    assert np.isfinite(under).all() and np.abs(feet[:, 1] - under).max() <= 0.05
    for n in trees + houses:
        assert "matrix" not in n and np.isclose(np.linalg.norm(n["rotation"]), 1.0)


def test_a_scene_exports_to_obj_with_a_group_per_node(scene, tmp_path):
    s = Session()
    key = s.document.add_blob(scene_blob(scene))
    s.apply("put_scene", body="scene1", blob=key)
    out = tmp_path / "scene.obj"
    s.export(out)
    text = out.read_text()
    groups = [line[2:] for line in text.splitlines() if line.startswith("g ")]
    counts = scene.counts()
    assert groups[0] == "terrain" and "tree_0" in groups and f"tree_{counts['tree'] - 1}" in groups
    assert len(groups) == 1 + len(scene.parts) + len(scene.placements)
    mtl = out.with_suffix(".mtl").read_text()
    for category in ("terrain", "water", "road", "tree", "building"):
        assert f"newmtl {category}\n" in mtl and f"usemtl {category}\n" in text
    vertices = sum(1 for line in text.splitlines() if line.startswith("v "))
    assert vertices == len(s.bodies["scene1"].mesh().vertices)


def _blender_import(path: Path) -> dict:
    blender = shutil.which("blender")
    assert blender, "Blender is part of the set-up (make setup) to check that exported scenes open there"
    r = subprocess.run([blender, "-b", "--factory-startup", "-noaudio", "--python",
                        str(ROOT / "packaging" / "blender" / "import_check.py"), "--", str(path)],
                       capture_output=True, text=True, timeout=300)
    line = next((x for x in r.stdout.splitlines() if x.startswith("IMPORTED ")), None)
    assert r.returncode == 0 and line, (r.stdout + r.stderr)[-2000:]
    return json.loads(line[len("IMPORTED "):])


def test_a_scene_opens_in_blender_from_glb_as_instances_and_from_obj(scene, tmp_path):
    s = Session()
    key = s.document.add_blob(scene_blob(scene))
    s.apply("put_scene", body="scene1", blob=key)
    s.export(tmp_path / "scene.glb")
    got = _blender_import(tmp_path / "scene.glb")
    counts = scene.counts()
    assert got["objects"] == 1 + len(scene.parts) + len(scene.placements)  # the terrain, each part, each object
    assert got["meshes"] <= 1 + len(scene.parts) + len(scene.variants)      # objects share their variant's mesh
    assert sum(n.startswith("tree") for n in got["names"]) == counts["tree"] and got["color_layers"] >= 1
    s.export(tmp_path / "scene.obj")
    got = _blender_import(tmp_path / "scene.obj")
    assert got["objects"] >= 1 and got["faces"] == scene.triangle_count()
