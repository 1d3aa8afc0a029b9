"""Registries: built-ins arrive through the entry-point groups, and a plugin registers the same way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from sketchforge.modeling.archive import SessionFileError
from sketchforge.modeling.bodies import MeshBody
from sketchforge.modeling.operations import ModelState, Operation, OperationError
from sketchforge.modeling.registry import RegistryError
from sketchforge.modeling.session import Session


@dataclass(frozen=True)
class Tetra(Operation):
    """A plugin's start body: a tetrahedron mesh of a given size."""

    id: ClassVar[str] = "tetra"
    title: ClassVar[str] = "Tetrahedron"
    creates: ClassVar[bool] = True
    body: str
    size: float

    def _check(self, state: ModelState) -> None:
        if self.size <= 0:
            raise OperationError("the size must be positive")

    def _apply(self, state: ModelState) -> ModelState:
        self._check(state)
        s = self.size
        v = [[0, 0, 0], [s, 0, 0], [0, s, 0], [0, 0, s]]
        return state.with_body(self.body, MeshBody(v, [[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]]))


def test_built_ins_come_through_the_entry_point_groups():
    s = Session()
    assert {"box", "cylinder", "import", "extrude", "add", "subtract", "bevel", "sweep"} <= set(s.operations)
    assert {"step", "obj", "glb", "ply"} <= set(s.exporters)
    assert {"step", "stp", "obj", "ply", "gltf", "glb"} <= set(s.importers)


def test_poll_tells_whether_and_why_an_operation_applies(session, block):
    op = session.operations.get("extrude").from_params(
        {"body": block, "face": session.face_ref(block, "top"), "distance": 5.0})
    assert op.poll(session.document.state) is None
    bad = session.operations.get("extrude").from_params(
        {"body": block, "face": session.face_ref(block, "top"), "distance": 0.0})
    assert "zero" in bad.poll(session.document.state)
    assert "no body" in op.poll(ModelState())


def test_a_plugin_operation_is_a_first_class_citizen(tmp_path):
    s = Session()
    s.operations.register("tetra", Tetra)
    s.apply("tetra", body="t1", size=3.0)
    s.box((5, 5, 5), origin=(10, 0, 0))
    assert s.bodies["t1"].summary() == {"kind": "mesh", "vertices": 4, "triangles": 4}
    s.undo()
    s.redo()
    path = s.save(tmp_path / "plug.sketchforge")
    s.export(tmp_path / "plug.glb")

    with_plugin = Session()
    with_plugin.operations.register("tetra", Tetra)
    with_plugin.open(path)
    assert [op.id for op in with_plugin.history] == ["tetra", "box"]

    without = Session()
    with pytest.raises(SessionFileError, match="'tetra'.*install the plugin"):
        without.open(path)


def test_unknown_names_and_duplicates_are_clear_errors():
    s = Session()
    with pytest.raises(RegistryError, match="no operation called 'warp'"):
        s.apply("warp", body="x")
    with pytest.raises(RegistryError, match="registered already"):
        s.operations.register("box", Tetra)


@pytest.mark.parametrize("ext", ["obj", "ply", "glb", "step"])
def test_imported_files_start_a_model_and_survive_save_and_open(tmp_path, ext):
    src = Session()
    src.box((20, 10, 8))
    src.export(tmp_path / f"part.{ext}")
    s = Session()
    name = s.import_file(tmp_path / f"part.{ext}")
    body = s.bodies[name]
    assert body.kind == ("solid" if ext == "step" else "mesh")
    lo, hi = body.bounds()
    assert (hi - lo) == pytest.approx([20, 10, 8], abs=1e-4)
    path = s.save(tmp_path / "imp.sketchforge")
    t = Session()
    t.open(path)
    assert t.bodies[name].bounds() == pytest.approx(body.bounds(), abs=1e-6)


def test_a_bad_import_changes_nothing(tmp_path, session, block):
    bad = tmp_path / "broken.obj"
    bad.write_bytes(b"this is not an obj file \x00\x01")
    before = (session.history, dict(session.bodies))
    with pytest.raises(ValueError):
        session.import_file(bad)
    with pytest.raises(ValueError, match="cannot import .xyz"):
        session.import_file(tmp_path / "a.xyz")
    assert (session.history, dict(session.bodies)) == before
