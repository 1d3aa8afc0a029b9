"""The face back end as a user meets it: the session, the document, undo, export, the command line."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.operations import OperationError, PutMesh, mesh_blob, read_mesh_blob
from sketchforge.modeling.session import Session
from sketchforge.modeling.sketch import Sketch, Stroke
from sketchforge.neural.face.backend import FaceBackend
from sketchforge.neural.face.heads import sample_head
from sketchforge.neural.face.reconstruct import ASSETS
from sketchforge.neural.face.sketches import head_sketch

ROOT = Path(__file__).resolve().parents[1]
needs_weights = pytest.mark.skipif(not (ASSETS / "maps.safetensors").is_file(),
                                   reason="the face networks are not in assets/face")


@pytest.fixture(scope="module")
def sketch():
    return head_sketch(sample_head(np.random.default_rng(21), "human"), np.random.default_rng(22), 256).sketch


@pytest.fixture(scope="module")
def backend():
    return FaceBackend()


def _session(backend):
    s = Session()
    s.backends.register("face", backend, replace=True)
    return s


def test_put_mesh_round_trips_and_refuses_bad_data():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    t = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    v2, t2 = read_mesh_blob(mesh_blob(v, t))
    assert np.array_equal(v, v2) and np.array_equal(t, t2)
    s = Session()
    key = s.document.add_blob(mesh_blob(v, t))
    s.apply(PutMesh(body="head", blob=key, source="face"))
    assert s.bodies["head"].kind == "mesh" and s.bodies["head"].source == "face"
    bad = s.document.add_blob(b"not a mesh")
    with pytest.raises(OperationError, match="damaged"):
        s.apply(PutMesh(body="head", blob=bad, source="face", replace=True))
    assert len(s.history) == 1  # the failed operation left the document as it was
    # data handed with an operation is stored only when it applies
    from sketchforge.modeling.operations import blob_key
    junk = b"also not a mesh"
    with pytest.raises(OperationError, match="damaged"):
        s.document.apply(PutMesh(body="head", blob=blob_key(junk), source="face", replace=True),
                         blobs={blob_key(junk): junk})
    assert blob_key(junk) not in s.document.blobs and len(s.history) == 1


@needs_weights
def test_a_sketch_becomes_a_head_in_the_document_refined_and_undoable(sketch, backend, tmp_path):
    s = _session(backend)
    result = s.interpret(sketch)
    props = result.proposals
    assert len(props) == 1 and not s.bodies          # proposing changes nothing
    assert not s.document.blobs                      # not even the blob store: the mesh travels in the proposal
    assert props[0].title.startswith("New head")
    s.accept(props[0])
    head = s.bodies["head"]
    assert props[0].operation.blob in s.document.blobs  # stored on accepting
    b = head.bounds()
    size = b[1] - b[0]
    # the head faces the camera it was drawn in (front view: towards -Y), about as tall as drawn
    assert size[2] > 100 and size[2] > size[0]
    assert result.report.total < 10
    t = result.report.seconds  # the stages add up to the total
    assert sum(v for k, v in t.items() if k != "total") == pytest.approx(t["total"], abs=1e-3)
    # reading the same sketch again reuses the coarse mesh
    assert s.interpret(sketch).report.details["coarse_reused"]
    # a ridge stroke refines the same body (a new coarse reading, as it tells the relief); undo goes back
    ridge = Stroke(np.array([[120.0, 90.0, 0.5, 0.0], [128.0, 88.0, 0.5, 20.0], [136.0, 90.0, 0.5, 40.0]]), "ridge")
    more = Sketch(sketch.camera, sketch.width, sketch.height, sketch.strokes + (ridge,), "face")
    again = s.interpret(more)
    p2 = again.proposals[0]
    assert p2.operation.replace and not again.report.details["coarse_reused"] and p2.title.startswith("Refine head")
    assert again.report.seconds["coarse"] + again.report.seconds["refine"] < 10
    s.accept(p2)
    assert set(s.bodies) == {"head"} and len(s.history) == 2
    s.undo()
    assert s.bodies["head"] is head
    # asked for, the next head is a body of its own (once: the one after refines it again)
    backend.configure(new_head=True)
    s.sketch.load(sketch)
    third = s.interpret()
    assert third.proposals[0].operation.body == "head2" and not third.proposals[0].operation.replace
    s.accept()
    assert set(s.bodies) == {"head", "head2"} and not backend.options.new_head
    assert s.sketch.strokes  # face strokes stay to refine the head
    assert s.interpret().proposals[0].operation.body == "head2"
    s.undo()
    # the head exports as a closed OBJ mesh that reads back
    import trimesh
    s.export(tmp_path / "head.obj")
    back = trimesh.load(tmp_path / "head.obj", force="mesh")
    assert back.is_watertight and len(back.faces) == len(head.triangles)


@needs_weights
def test_the_head_is_symmetric_unless_switched_off(sketch, backend):
    v, t, _ = backend.head(sketch)
    centre = 0.5 * (v[:, 0].min() + v[:, 0].max())   # the drawing's middle: the mirror plane
    mirrored = v * np.array([-1, 1, 1]) + np.array([2 * centre, 0, 0])
    from scipy.spatial import cKDTree
    d, _ = cKDTree(v).query(mirrored)
    assert np.percentile(d, 95) < 1.0   # mm
    backend.configure(symmetric=False)
    try:
        v2, _, _ = backend.head(sketch)
    finally:
        backend.configure(symmetric=True)
    assert v2.shape != v.shape or not np.allclose(v2, v)


@pytest.mark.parametrize("strokes, words", [
    ((), "empty"),
    ((Stroke(np.array([[100.0, 100.0, 0.5, 0.0]])),), "dot"),
    ((Stroke(np.array([[5000.0, 5000.0, 0.5, 0.0], [5100.0, 5100.0, 0.5, 9.0]])),), "outside the canvas"),
    ((Stroke(np.array([[10.0, 10.0, 0.5, 0.0], [200.0, 200.0, 0.5, 9.0]]), "ridge"),), "outline"),
])
def test_bad_sketches_get_a_clear_message_and_change_nothing(strokes, words, backend):
    cam = Camera(eye=(0, -500, 0), target=(0, 0, 0), projection="orthographic", height=400)
    s = _session(backend)
    result = s.interpret(Sketch(cam, 256, 256, strokes, "face"))
    assert not result.proposals and words in result.hint
    assert not s.bodies and not s.history


@needs_weights
def test_interpret_writes_a_head_glb_from_the_command_line(sketch, tmp_path):
    path = tmp_path / "head.sketch.json"
    sketch.save(path)
    out, report = tmp_path / "head.glb", tmp_path / "report.json"
    r = subprocess.run([sys.executable, "-m", "sketchforge.app.cli", "interpret", "--sketch", str(path),
                        "--out", str(out), "--report", str(report)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    from test_exchange import _validate_glb
    report_glb = _validate_glb(out)
    assert report_glb["info"]["totalTriangleCount"] > 1000
    rep = json.loads(report.read_text())
    assert rep["mode"] == "face" and rep["proposals"][0]["operation"] == "put_mesh"
    # a scribble-free empty face sketch fails with one line and writes nothing
    empty = tmp_path / "empty.sketch.json"
    Sketch(sketch.camera, 256, 256, (), "face").save(empty)
    r = subprocess.run([sys.executable, "-m", "sketchforge.app.cli", "interpret", "--sketch", str(empty),
                        "--out", str(tmp_path / "x.glb")], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "Traceback" not in r.stderr and "head" in r.stderr
    assert not (tmp_path / "x.glb").exists()


@needs_weights
@pytest.mark.parametrize("kind", ["tangle", "shading"])
def test_a_scribble_is_refused_with_what_to_draw(kind, sketch, backend):
    from sketchforge.neural.face.scribble import scribble_sketch
    rng = np.random.default_rng({"tangle": 3, "shading": 5}[kind])
    s = _session(backend)
    refused = 0
    for _ in range(4):
        result = s.interpret(scribble_sketch(kind, rng, sketch))
        if not result.proposals:
            assert "scribble" in result.hint and "outline" in result.hint
            refused += 1
    assert refused >= 3 and not s.bodies and not s.history


@needs_weights
def test_interpret_refuses_a_scribble_file_in_one_line_and_writes_nothing(sketch, tmp_path):
    from sketchforge.neural.face.scribble import scribble_sketch
    path = tmp_path / "tangle.sketch.json"
    scribble_sketch("tangle", np.random.default_rng(3), sketch).save(path)
    r = subprocess.run([sys.executable, "-m", "sketchforge.app.cli", "interpret", "--sketch", str(path),
                        "--out", str(tmp_path / "x.glb")], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "scribble" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "x.glb").exists()


@needs_weights
def test_heads_drawn_messily_with_hair_shaded_or_in_part_are_not_taken_for_scribbles(backend):
    from sketchforge.neural.face.refusal import HEAD_KINDS, head_variants, reason, signs_of
    refusal = backend.refusal()
    assert refusal is not None, "assets/face/refusal.json ships with the face networks"
    rng = np.random.default_rng(31)
    for kind in HEAD_KINDS:
        for name, drawn in head_variants(rng, kind).items():
            assert reason(refusal, signs_of(backend.model, drawn)) is None, (kind, name)


@needs_weights
def test_the_refusal_can_be_switched_off_and_says_which_sign_weighed_most(sketch, backend):
    from sketchforge.neural.face.scribble import scribble_sketch
    s = _session(backend)
    tangle = scribble_sketch("tangle", np.random.default_rng(3), sketch)
    hint = s.interpret(tangle).hint
    assert "scribble" in hint and "(" in hint and "outline" in hint
    backend.configure(refuse=False)
    try:
        assert s.interpret(tangle).proposals  # the user asked for a head whatever is drawn
    finally:
        backend.configure(refuse=True)


@needs_weights
def test_preparing_the_back_end_changes_nothing_a_sketch_is_read_from(sketch):
    """The window prepares a mode's back end in the background (networks loaded, one-off costs
    paid on a small built-in head): the user's sketch must come out exactly as without it."""
    fresh, prepared = FaceBackend(), FaceBackend()
    prepared.prepare()
    assert prepared.prepared and prepared._coarse_key is None  # nothing of it is kept as a reading
    a, b = fresh.head(sketch), prepared.head(sketch)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not b[2]["coarse_reused"]
