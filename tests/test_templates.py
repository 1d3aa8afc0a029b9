"""Templates as a new user meets them: each starts a new document with the right bodies in
ordinary undoable steps, the face template hands over a sketch that the face back end reads as a
head, a wrong name says which ones exist, and a plugin's template is a template like the rest."""

from __future__ import annotations

import numpy as np
import pytest

from sketchforge.modeling.operations import OperationError
from sketchforge.modeling.session import Session
from sketchforge.modeling.templates import (
    FACE,
    Template,
    TemplateError,
    apply_template,
    get_template,
    registry,
    template_folder,
    templates,
)


def _size(session: Session, body: str) -> np.ndarray:
    lo, hi = session.bodies[body].bounds()
    return np.asarray(hi) - np.asarray(lo)


@pytest.mark.parametrize("name, body, size, steps", [
    ("box", "box", (40.0, 30.0, 20.0), 1),
    ("plate", "plate", (80.0, 60.0, 6.0), 1),
    ("cylinder", "cylinder", (30.0, 30.0, 40.0), 1),
])
def test_a_simple_template_replaces_the_document_with_one_undoable_body(session, block, name, body, size, steps):
    template = apply_template(session, name)
    assert template.name == name and template.mode == "cad"
    assert set(session.bodies) == {body}                       # the block that was there is gone
    assert np.allclose(_size(session, body), size, atol=0.01)
    assert len(session.history) == steps and session.path is None
    assert session.undo() and not session.bodies                # undo goes back to the empty document
    assert not session.undo()                                   # ... and no further: the old one is not in it
    assert session.redo() and set(session.bodies) == {body}


def test_the_demo_template_is_the_demo_bracket_step_by_step(session):
    from sketchforge.modeling.demo import build_demo
    apply_template(session, "demo")
    reference = Session()
    name = build_demo(reference)
    assert [op.describe() for op in session.history] == [op.describe() for op in reference.history]
    assert len(session.history) == 8 and set(session.bodies) == {name}
    assert session.solid(name).volume == pytest.approx(reference.solid(name).volume, rel=1e-9)
    for _ in range(8):
        assert session.undo()
    assert not session.bodies


def test_a_wrong_name_lists_the_templates_and_changes_nothing(session, block):
    with pytest.raises(TemplateError, match="choose one of box, plate, cylinder, demo, face"):
        apply_template(session, "gearbox")
    assert set(session.bodies) == {block} and len(session.history) == 1


def test_the_built_ins_arrive_through_the_entry_point_group_in_start_page_order():
    assert list(templates())[:5] == ["box", "plate", "cylinder", "demo", "face"]
    assert all(t.title and t.description and t.name == name for name, t in templates().items())
    assert {"box", "plate", "cylinder", "demo", "face"} <= set(registry().names())


def test_a_plugin_template_registers_builds_and_sorts_after_the_built_ins(session):
    def build(s: Session) -> None:
        s.box((10.0, 10.0, 10.0), name="cube")
        s.extrude("cube", "top", 5.0)

    tower = Template("tower", "Tower", "A cube pulled up", build=build)
    session.templates.register("tower", tower)  # the session's registry: nothing global changes
    assert list(templates(session.templates))[-1] == "tower" and "tower" not in templates()
    assert get_template("tower", session.templates) is tower
    apply_template(session, "tower")
    assert np.allclose(_size(session, "cube"), (10.0, 10.0, 15.0))
    assert len(session.history) == 2


def test_a_template_whose_steps_fail_leaves_an_empty_document_and_says_so(session, block):
    def build(s: Session) -> None:
        s.box((10.0, 10.0, 10.0), name="cube")
        raise OperationError("the kernel refused the second step")

    with pytest.raises(TemplateError, match="'broken' could not be built: the kernel refused"):
        apply_template(session, Template("broken", "Broken", "Fails halfway", build=build))
    assert not session.bodies and not session.history


def test_a_template_is_either_built_or_drawn():
    with pytest.raises(TemplateError, match="either a build function or a sketch file"):
        Template("none", "None", "Neither")
    with pytest.raises(TemplateError, match="either a build function or a sketch file"):
        Template("both", "Both", "Both", build=lambda s: None, sketch="face.sketch.json")
    with pytest.raises(TemplateError, match="built, not drawn"):
        get_template("box").load_sketch()


def test_a_missing_sketch_file_is_a_clear_error_that_changes_nothing(session, block, tmp_path):
    gone = Template("gone", "Gone", "Its file is missing", mode="face", sketch=str(tmp_path / "nowhere.sketch.json"))
    with pytest.raises(TemplateError, match="'gone': cannot read sketch file .*nowhere"):
        apply_template(session, gone)
    assert set(session.bodies) == {block}


def test_the_face_template_loads_a_front_view_face_sketch_for_the_caller_to_interpret(session, block):
    assert FACE.sketch_path == template_folder() / "face.sketch.json" and FACE.sketch_path.is_file()
    sketch = FACE.load_sketch()
    assert sketch.mode == "face" and sketch.camera.projection == "orthographic"
    assert np.allclose(np.asarray(sketch.camera.target) - np.asarray(sketch.camera.eye), (0.0, 200.0, 0.0))
    assert {s.kind for s in sketch.strokes} == {None, "ridge", "valley"}   # outline, features and detail
    pts = np.vstack([s.uv for s in sketch.strokes])
    assert pts.min() >= 0 and pts[:, 0].max() <= sketch.width and pts[:, 1].max() <= sketch.height

    template = apply_template(session, "face")
    assert template is FACE
    assert not session.bodies and not session.history      # the caller interprets the sketch


@pytest.mark.slow
def test_the_face_back_end_turns_the_face_template_into_a_head(session):
    from sketchforge.neural.assets import asset_root
    if not (asset_root() / "face" / "maps.safetensors").is_file():
        pytest.skip("the face networks are not in assets/face")
    template = apply_template(session, "face")
    sketch = template.load_sketch()
    vertices, _, _ = session.backend("face").head(sketch)
    size = np.ptp(vertices, axis=0)
    # a head facing the front view: taller than wide, and with depth (not a flat cut-out)
    assert 180 < size[2] < 300 and 100 < size[0] < size[2] and size[1] > 0.5 * size[0]
    interpretation = session.interpret(sketch)
    assert len(interpretation.proposals) == 1
    session.accept(interpretation.proposals[0])
    assert set(session.bodies) == {"head"} and session.bodies["head"].kind == "mesh"
    assert len(session.history) == 1 and session.undo() and not session.bodies
