"""Files in and out: STEP, OBJ, glTF binary and PLY keep what the user made, and bad files fail cleanly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import trimesh

cq = pytest.importorskip("cadquery")

from sketchforge.modeling import exchange  # noqa: E402
from sketchforge.modeling.bodies import MeshBody, PointCloudBody, SolidBody  # noqa: E402
from sketchforge.modeling.exchange import ExchangeError  # noqa: E402
from sketchforge.modeling.occ import step  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VALIDATE = ROOT / "packaging" / "node" / "validate.mjs"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def plate() -> SolidBody:
    """A 30 x 20 x 8 mm block with a 6 mm through hole (a compound holding one solid)."""
    return SolidBody(cq.Workplane().box(30, 20, 8).faces(">Z").workplane().hole(6).val().wrapped)


@pytest.fixture(scope="module")
def pin() -> SolidBody:
    """A cylinder placed away from the origin (its solid carries a location)."""
    return SolidBody(cq.Workplane().cylinder(12, 4).translate((40, 0, 0)).val().wrapped)


@pytest.fixture(scope="module")
def painted_ball() -> MeshBody:
    ball = trimesh.creation.icosphere(subdivisions=2, radius=10.0)
    rng = np.random.default_rng(1)
    return MeshBody(ball.vertices, ball.faces, rng.integers(0, 256, (len(ball.vertices), 3)))


@pytest.fixture(scope="module")
def cloud() -> PointCloudBody:
    rng = np.random.default_rng(2)
    return PointCloudBody(rng.normal(size=(400, 3)) * 7.0, rng.integers(0, 256, (400, 3)))


def _validate_glb(path: Path) -> dict:
    """Run the Khronos glTF validator; a missing validator is a broken set-up, not a skip."""
    node = shutil.which("node")
    if node is None or not VALIDATE.is_file() or not (VALIDATE.parent / "node_modules" / "gltf-validator").is_dir():
        pytest.fail("the Khronos glTF validator is not installed (node, packaging/node/validate.mjs and "
                    "packaging/node/node_modules are needed); run `make setup`")
    run = subprocess.run([node, str(VALIDATE), str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode in (0, 1), f"validator could not read {path.name}: {run.stderr}"
    report = json.loads(run.stdout)
    errors = [m for m in report["issues"]["messages"] if m["severity"] == 0]
    assert report["issues"]["numErrors"] == 0, f"{path.name}: {json.dumps(errors, indent=1)}"
    return report


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --------------------------------------------------------------------------- STEP


def test_step_round_trip_keeps_volume_and_faces(tmp_path, plate, pin):
    out = tmp_path / "part.step"
    exchange.export_step({"plate": plate, "pin": pin}, out)
    back = exchange.import_step(out.read_bytes(), out.name)
    assert back.volume == pytest.approx(plate.volume + pin.volume, rel=1e-6)
    assert len(back.faces) == len(plate.faces) + len(pin.faces)
    assert np.allclose(back.bounds(), np.stack([np.minimum(plate.bounds()[0], pin.bounds()[0]),
                                                np.maximum(plate.bounds()[1], pin.bounds()[1])]), atol=1e-6)

    for body in (plate, pin):
        one = tmp_path / "one.step"
        exchange.export_step({"part": body}, one)
        again = exchange.import_step(one.read_bytes(), one.name)
        assert again.volume == pytest.approx(body.volume, rel=1e-6)
        assert len(again.faces) == len(body.faces)


def test_step_declares_schema_unit_and_one_named_product_per_solid(tmp_path, plate, pin, painted_ball):
    out = tmp_path / "part.stp"
    exchange.export_step({"plate": plate, "pin": pin, "ball": painted_ball}, out)
    text = out.read_text()
    assert "FILE_SCHEMA(('AUTOMOTIVE_DESIGN { 1 0 10303 214 1 1 1 1 }'))" in text  # AP214 IS
    assert "SI_UNIT(.MILLI.,.METRE.)" in text
    assert "SI_UNIT($,.METRE.)" not in text
    products = [line.split("'")[1] for line in text.splitlines() if "= PRODUCT(" in line]
    assert products == ["plate", "pin"]  # the mesh is left out; no wrapper assembly


def test_step_in_metres_imports_in_millimetres(tmp_path, plate):
    out = tmp_path / "part.step"
    exchange.export_step({"plate": plate}, out)
    in_metres = out.read_bytes().replace(b"SI_UNIT(.MILLI.,.METRE.)", b"SI_UNIT($,.METRE.)")
    back = exchange.import_step(in_metres, "metres.step")
    size = back.bounds()[1] - back.bounds()[0]
    assert size == pytest.approx([30000, 20000, 8000], rel=1e-6)


def test_step_of_meshes_only_is_refused_and_writes_nothing(tmp_path, painted_ball, cloud):
    out = tmp_path / "mesh.step"
    with pytest.raises(ExchangeError, match="export OBJ, glTF or PLY instead"):
        exchange.export_step({"ball": painted_ball, "cloud": cloud}, out)
    assert not out.exists() and _leftovers(tmp_path) == []


def test_brep_bytes_round_trip(plate):
    back = SolidBody(step.read_brep(step.write_brep(plate.shape)))
    assert back.volume == pytest.approx(plate.volume, rel=1e-12)
    assert len(back.faces) == len(plate.faces)
    with pytest.raises(ValueError, match="not an OpenCascade BREP"):
        step.read_brep(b"random bytes")


# --------------------------------------------------------------------------- OBJ


def test_obj_reloads_with_the_same_vertices_faces_and_colors(tmp_path, plate, pin, painted_ball):
    bodies = {"plate": plate, "pin": pin, "painted ball": painted_ball}
    meshes = [b.mesh() for b in bodies.values()]
    n_vertices = sum(len(m.vertices) for m in meshes)
    n_faces = sum(len(m.triangles) for m in meshes)
    out = tmp_path / "scene.obj"
    exchange.export_obj(bodies, out)

    text = out.read_text()
    assert [ln for ln in text.splitlines() if ln.startswith("o ")] == ["o plate", "o pin", "o painted ball"]
    assert "mtllib scene.mtl" in text
    mtl = (tmp_path / "scene.mtl").read_text()
    assert mtl.count("newmtl ") == 3 and "newmtl painted_ball" in mtl

    back = exchange.import_mesh(out.read_bytes(), out.name)
    assert (len(back.vertices), len(back.triangles)) == (n_vertices, n_faces)
    ours = np.concatenate([m.vertices for m in meshes])
    assert np.allclose(np.sort(back.vertices, axis=0), np.sort(ours, axis=0), atol=1e-6)
    rows = {tuple(np.round(v, 5)): tuple(c) for v, c in zip(back.vertices, back.colors)}
    for v, c in zip(painted_ball.vertices, painted_ball.colors):
        assert rows[tuple(np.round(v, 5))] == tuple(c)

    loaded = trimesh.load(out, process=False)
    geoms = list(loaded.geometry.values()) if isinstance(loaded, trimesh.Scene) else [loaded]
    assert sum(len(g.vertices) for g in geoms) == n_vertices
    assert sum(len(g.faces) for g in geoms) == n_faces


def test_obj_refuses_point_clouds_and_leaves_existing_files(tmp_path, plate, cloud):
    out = tmp_path / "scene.obj"
    out.write_text("keep me")
    with pytest.raises(ExchangeError, match="point cloud.*PLY or glTF"):
        exchange.export_obj({"plate": plate, "cloud": cloud}, out)
    assert out.read_text() == "keep me"
    assert not (tmp_path / "scene.mtl").exists() and _leftovers(tmp_path) == []


# --------------------------------------------------------------------------- glTF binary


def test_every_glb_passes_the_khronos_validator(tmp_path, plate, pin, painted_ball, cloud):
    cases = {
        "solid": {"plate": plate},
        "colored_mesh": {"ball": painted_ball},
        "point_cloud": {"cloud": cloud},
        "all": {"plate": plate, "pin": pin, "ball": painted_ball, "cloud": cloud},
    }
    for label, bodies in cases.items():
        out = tmp_path / f"{label}.glb"
        exchange.export_glb(bodies, out)
        _validate_glb(out)

    gltf = trimesh.load_scene(tmp_path / "all.glb")
    assert sorted(gltf.graph.nodes_geometry) == ["ball", "cloud", "pin", "plate"]
    points = gltf.geometry["cloud"]
    assert isinstance(points, trimesh.PointCloud)
    assert np.array_equal(points.colors[:, :3], cloud.colors)


def test_glb_is_metres_y_up_and_imports_back_in_millimetres_z_up(tmp_path, plate, cloud):
    out = tmp_path / "plate.glb"
    exchange.export_glb({"plate": plate}, out)
    extents = trimesh.load_scene(out).extents
    assert extents == pytest.approx([0.030, 0.008, 0.020], rel=1e-4)  # 8 mm height is glTF's Y

    back = exchange.import_mesh(out.read_bytes(), out.name)
    assert np.allclose(back.bounds(), plate.bounds(), atol=1e-4)
    assert len(back.triangles) == len(plate.mesh().triangles)

    out = tmp_path / "cloud.glb"
    exchange.export_glb({"cloud": cloud}, out)
    points = exchange.import_mesh(out.read_bytes(), out.name)
    assert isinstance(points, PointCloudBody)
    assert np.allclose(points.points, cloud.points, atol=1e-4)
    assert np.array_equal(points.colors, cloud.colors)


# --------------------------------------------------------------------------- PLY


def test_ply_point_cloud_round_trip_keeps_points_and_colors(tmp_path, cloud):
    out = tmp_path / "cloud.ply"
    exchange.export_ply({"cloud": cloud}, out)
    assert out.read_bytes().startswith(b"ply\nformat binary_little_endian 1.0\n")
    back = exchange.import_mesh(out.read_bytes(), out.name)
    assert isinstance(back, PointCloudBody)
    # clouds are written as float (the points mode's contract): exact to float precision
    np.testing.assert_allclose(back.points, cloud.points, rtol=1e-6, atol=1e-6)
    assert np.array_equal(back.points, cloud.points.astype(np.float32))
    assert np.array_equal(back.colors, cloud.colors)


def test_ply_mesh_round_trip_and_mixed_export_refused(tmp_path, painted_ball, cloud):
    out = tmp_path / "ball.ply"
    exchange.export_ply({"ball": painted_ball}, out)
    back = exchange.import_mesh(out.read_bytes(), out.name)
    assert isinstance(back, MeshBody)
    assert np.array_equal(back.vertices, painted_ball.vertices)
    assert np.array_equal(back.triangles, painted_ball.triangles)
    assert np.array_equal(back.colors, painted_ball.colors)

    mixed = tmp_path / "mixed.ply"
    with pytest.raises(ExchangeError, match="either meshes or a point cloud"):
        exchange.export_ply({"ball": painted_ball, "cloud": cloud}, mixed)
    assert not mixed.exists()


# --------------------------------------------------------------------------- bad input


def test_bad_files_raise_exchange_error(plate, tmp_path):
    good = tmp_path / "good.step"
    exchange.export_step({"plate": plate}, good)
    data = good.read_bytes()
    noise = np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    cases = [
        (data[: len(data) // 2], "truncated.step"),
        (noise, "noise.step"),
        (b"", "empty.step"),
        (b"ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n", "nothing.step"),
    ]
    for blob, name in cases:
        with pytest.raises(ExchangeError, match=name):
            exchange.import_step(blob, name)

    bad_meshes = [
        (noise, "noise.obj"), (noise, "noise.glb"), (noise, "noise.ply"), (noise, "noise.gltf"),
        (b"glTF" + noise[:200], "fake.glb"),
        (b"", "empty.obj"), (b"", "empty.glb"), (b"", "empty.ply"),
        (b"v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "nan.obj"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 7\n", "index.obj"),
        (b"solid x\nendsolid x\n", "part.stl"),
    ]
    for blob, name in bad_meshes:
        with pytest.raises(ExchangeError) as err:
            exchange.import_mesh(blob, name)
        assert name in str(err.value)


def test_failed_export_leaves_no_file_and_keeps_an_existing_one(tmp_path, plate, monkeypatch):
    def broken_writer(shapes, path, names=None):
        Path(path).write_text("ISO-10303-21; half a file")
        raise ValueError("disk full")

    monkeypatch.setattr(step, "write_step", broken_writer)
    fresh = tmp_path / "fresh.step"
    with pytest.raises(ExchangeError, match="disk full"):
        exchange.export_step({"plate": plate}, fresh)
    assert not fresh.exists()

    existing = tmp_path / "existing.step"
    existing.write_text("the previous export")
    with pytest.raises(ExchangeError):
        exchange.export_step({"plate": plate}, existing)
    assert existing.read_text() == "the previous export"
    assert _leftovers(tmp_path) == []

    with pytest.raises(ExchangeError, match="does not exist"):
        exchange.export_ply({"plate": plate}, tmp_path / "no such folder" / "x.ply")


def test_exporting_nothing_is_refused(tmp_path):
    for export in (exchange.export_step, exchange.export_obj, exchange.export_glb, exchange.export_ply):
        out = tmp_path / "nothing.out"
        with pytest.raises(ExchangeError, match="nothing to export"):
            export({}, out)
        assert not out.exists()
    assert os.listdir(tmp_path) == []


def _glb_with(change) -> bytes:
    """A box as GLB with its JSON chunk edited by `change(tree)` (the binary chunk kept)."""
    import struct
    data = trimesh.Scene(trimesh.creation.box((10.0, 8.0, 6.0))).export(file_type="glb")
    (length,) = struct.unpack_from("<I", data, 12)
    tree = json.loads(data[20:20 + length])
    change(tree)
    text = json.dumps(tree).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<I", len(text)) + b"JSON" + text + data[20 + length:]
    return b"glTF" + struct.pack("<II", 2, 12 + len(body)) + body


def _material_without_base_colour(tree):
    tree["materials"] = [{"name": "plain"}]  # glTF's default: no pbrMetallicRoughness, no baseColorFactor
    tree["meshes"][0]["primitives"][0]["material"] = 0


def test_a_gltf_material_without_a_base_colour_imports_the_geometry():
    body = exchange.import_mesh(_glb_with(_material_without_base_colour), "plain.glb")
    assert isinstance(body, MeshBody) and len(body.triangles) == 12


def test_a_gltf_placing_one_mesh_too_many_times_is_refused_before_flattening(monkeypatch):
    def copies(tree):
        tree["nodes"] = [{"mesh": 0, "translation": [20.0 * i, 0.0, 0.0]} for i in range(6)]
        tree["scenes"][0]["nodes"] = list(range(6))

    data = _glb_with(copies)
    assert len(exchange.import_mesh(data, "six.glb").vertices) == 6 * 8
    monkeypatch.setattr(exchange, "MAX_INSTANCES", 5)
    with pytest.raises(ExchangeError, match="six.glb places 6 meshes"):
        exchange.import_mesh(data, "six.glb")
