"""History, regeneration, references across edits, undo and redo."""

from __future__ import annotations

import pytest

from sketchforge.modeling.demo import build_demo
from sketchforge.modeling.operations import OperationError


def fingerprint(bodies):
    return {k: (round(b.volume, 6), len(b.faces), len(b.edges)) for k, b in bodies.items()}


def test_regeneration_reproduces_the_model_exactly(session):
    build_demo(session)
    states = session.document.regenerate()
    assert fingerprint(states[-1].bodies) == fingerprint(session.bodies)
    assert len(session.history) == 8


def test_editing_an_earlier_step_regenerates_the_rest_and_keeps_references(session, block):
    session.extrude(block, "top", 10.0)
    session.subtract(block, "top", [(-5, -5), (5, -5), (5, 5), (-5, 5)], 4.0)
    session.bevel(block, (30.0, 20.0, 15.0), 2.0)
    v = session.bodies[block].volume
    session.edit(1, distance=15.0)  # the face the pocket sits on moves up by 5 mm
    assert session.bodies[block].volume == pytest.approx(v + 60 * 40 * 5 - 0.5 * 2 * 2 * 5)
    assert session.bodies[block].bounds()[1][2] == pytest.approx(35.0)
    # the pocket followed the moved face: it is still 4 mm deep below the new top
    hit = [f for f in session.bodies[block].faces if f.normal and f.normal[2] > 0.99]
    assert sorted(round(f.centroid[2], 6) for f in hit) == [31.0, 35.0]


def test_a_reference_that_no_longer_resolves_is_a_clear_error(session, block):
    session.extrude(block, "+x", 10.0)
    session.extrude(block, "+x", 5.0)  # refers to the face moved by step 2
    with pytest.raises(OperationError, match="step 2 .* is gone"):
        session.edit(0, size=[60.0, 40.0, 20.0], origin=[500.0, 0.0, 0.0])
    assert session.bodies[block].bounds()[1][0] == pytest.approx(45.0)


def test_undo_redo_walk_the_history(session, block):
    session.extrude(block, "top", 5.0)
    session.extrude(block, "top", 5.0)
    volumes = [48000.0, 60 * 40 * 25, 60 * 40 * 30]
    assert session.bodies[block].volume == pytest.approx(volumes[2])
    assert session.undo() and session.bodies[block].volume == pytest.approx(volumes[1])
    assert session.undo() and session.bodies[block].volume == pytest.approx(volumes[0])
    assert session.redo() and session.bodies[block].volume == pytest.approx(volumes[1])
    session.extrude(block, "top", 1.0)  # a new step drops the redo branch
    assert not session.document.can_redo
    while session.undo():
        pass
    assert session.bodies == {} and session.history == ()


def test_undo_of_an_edit_restores_the_old_parameters(session, block):
    session.extrude(block, "top", 5.0)
    session.edit(1, distance=8.0)
    assert session.bodies[block].volume == pytest.approx(60 * 40 * 28)
    session.undo()
    assert session.history[1].distance == 5.0
    assert session.bodies[block].volume == pytest.approx(60 * 40 * 25)


def test_delete_refuses_when_a_later_step_depends_on_it(session, block):
    session.extrude(block, "+x", 10.0)
    session.extrude(block, "+x", 5.0)
    with pytest.raises(OperationError, match="depends on it"):
        session.document.delete(0)
    session.document.delete(2)
    assert len(session.history) == 2
    session.document.roll_back(0)
    assert len(session.history) == 1 and session.bodies[block].volume == pytest.approx(48000)
    session.undo()
    assert len(session.history) == 2


def test_document_events_fire_after_each_change(session):
    seen = []
    session.changed.connect(seen.append)
    b = session.box((10, 10, 10))
    session.extrude(b, "top", 2.0)
    session.undo()
    assert seen == ["Box 10 x 10 x 10", "Extrude top face +2 mm", "Undo Extrude top face +2 mm"]


def test_a_cancelled_regeneration_leaves_the_document_as_it_was(session, block):
    from sketchforge.modeling.document import Cancelled
    for _ in range(4):
        session.extrude(block, "top", 2.0)
    before = (session.history, session.bodies[block], session.document.undo_text)
    calls = []

    def progress(done, total):
        calls.append((done, total))
        return done < 2

    with pytest.raises(Cancelled):
        session.edit(1, progress=progress, distance=3.0)
    assert calls[:3] == [(0, 4), (1, 4), (2, 4)]
    assert (session.history, session.bodies[block], session.document.undo_text) == before
