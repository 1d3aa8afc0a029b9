"""The four sketch operations and the start bodies, as a user of the Session sees them."""

from __future__ import annotations

import math

import pytest

from sketchforge.modeling.operations import ArcPath, Circle, LinePath, OperationError, Polygon

SQUARE = [(-5.0, -5.0), (5.0, -5.0), (5.0, 5.0), (-5.0, 5.0)]


def volume(session, body="body1"):
    return session.bodies[body].volume


def test_box_and_cylinder_have_their_volumes(session):
    b = session.box((10, 20, 30), origin=(5, 5, 0))
    c = session.cylinder(4.0, 10.0, origin=(100, 0, 0))
    assert session.bodies[b].volume == pytest.approx(6000.0)
    assert session.bodies[c].volume == pytest.approx(math.pi * 16 * 10, rel=1e-9)
    lo, hi = session.bodies[b].bounds()
    assert lo == pytest.approx([0, -5, 0], abs=1e-6) and hi == pytest.approx([10, 15, 30], abs=1e-6)


def test_extrude_pushes_and_pulls_a_face(session, block):
    session.extrude(block, "top", 10.0)
    assert volume(session) == pytest.approx(60 * 40 * 30)
    session.extrude(block, "+x", -15.0)
    assert volume(session) == pytest.approx(45 * 40 * 30)
    assert len(session.bodies[block].faces) == 6  # coplanar faces merged: still a box


def test_add_grows_outward_and_subtract_cuts_inward(session, block):
    session.add(block, "top", SQUARE, 8.0)
    assert volume(session) == pytest.approx(48000 + 800)
    assert session.bodies[block].bounds()[1][2] == pytest.approx(28.0)
    session.subtract(block, "-y", [(-20, 5), (-10, 5), (-10, 15), (-20, 15)], 6.0)
    assert volume(session) == pytest.approx(48800 - 600)


def test_polygon_coordinates_are_in_the_face_frame(session, block):
    frame = session.face_frame(block, "+x")
    assert frame["normal"] == pytest.approx([1, 0, 0])
    session.add(block, "+x", [(0, 2), (4, 2), (4, 6), (0, 6)], 3.0)
    lo, hi = session.bodies[block].bounds()
    assert hi[0] == pytest.approx(33.0)
    # the square spans frame-x 0..4 (world y) and frame-y 2..6 (world z) on the x = 30 face
    oy = frame["y"]
    assert abs(oy[2]) == pytest.approx(1.0)


def test_chamfer_with_two_setbacks_removes_the_expected_wedge(session, block):
    session.bevel(block, (30.0, 20.0, 10.0), 3.0, 5.0)  # the vertical edge at x=30, y=20
    assert volume(session) == pytest.approx(48000 - 0.5 * 3 * 5 * 20)


def test_chamfer_side_picks_which_face_gets_the_first_setback(session, block):
    edge = session.edge_ref(block, (0.0, 20.0, 20.0))  # top edge along x at y=20
    session.apply("bevel", body=block, edge=edge, distance1=2.0, distance2=6.0, side=[0, 0, 1])
    lo, hi = session.bodies[block].bounds()
    top = [f for f in session.bodies[block].faces if f.normal and f.normal[2] > 0.99][0]
    # the 2 mm set-back is measured on the top face, so the top face shrinks by 2 mm in y
    assert top.area == pytest.approx(60 * 38)


def test_fillet_rounds_an_edge(session, block):
    session.bevel(block, (30.0, 20.0, 10.0), 4.0, style="fillet")
    assert volume(session) == pytest.approx(48000 - (16 - math.pi * 4) * 20, rel=1e-6)
    assert any(f.surface == "cylinder" for f in session.bodies[block].faces)


def test_sweep_line_and_arc_add_and_subtract(session, block):
    v0 = volume(session)
    session.sweep(block, "top", Circle((0.0, 0.0), 4.0), LinePath(10.0))
    assert volume(session) == pytest.approx(v0 + math.pi * 16 * 10, rel=1e-6)
    v1 = volume(session)
    session.sweep(block, (20.0, 0.0, 20.0), Polygon(((15, -5), (25, -5), (25, 5), (15, 5))), LinePath(8.0, 30.0, 0.0),
                  mode="subtract")
    assert volume(session) == pytest.approx(v1 - 100 * 8 * math.cos(math.radians(30)), rel=1e-6)
    v2 = volume(session)
    session.sweep(block, "-y", Circle((-20.0, 10.0), 3.0), ArcPath(15.0, 90.0))
    # Pappus: the tube's volume is the profile area times the arc length of its centre
    assert volume(session) - v2 == pytest.approx(math.pi * 9 * 15 * math.pi / 2, rel=1e-3)


@pytest.mark.parametrize("call, message", [
    (lambda s, b: s.extrude(b, "top", 0.0), "zero"),
    (lambda s, b: s.extrude(b, "top", 1e7), "absurd"),
    (lambda s, b: s.extrude(b, "top", -20.0), "whole body"),
    (lambda s, b: s.subtract(b, "top", [(100, 100), (110, 100), (110, 110)], 5.0), "removes nothing"),
    (lambda s, b: s.add(b, "top", [(0, 0), (10, 10), (10, 0), (0, 10)], 5.0), "crosses itself"),
    (lambda s, b: s.add(b, "top", [(0, 0), (10, 0)], 5.0), "at least 3"),
    (lambda s, b: s.add(b, "top", [(100, 100), (110, 100), (110, 110)], 5.0), "pieces"),
    (lambda s, b: s.bevel(b, (30.0, 20.0, 10.0), 45.0, 45.0), "does not fit"),
    (lambda s, b: s.subtract(b, "top", [(-5, -30), (5, -30), (5, 30), (-5, 30)], 25.0), "pieces"),
    (lambda s, b: s.apply("extrude", body="nope", face={"kind": "face", "normal": [0, 0, 1],
                                                          "point": [0, 0, 20]}, distance=3), "no body"),
    (lambda s, b: s.apply("extrude", body=b, face={"kind": "face", "normal": [0.6, 0.8, 0],
                                                     "point": [0, 0, 20]}, distance=3), "no flat face"),
])
def test_rejected_operations_leave_the_document_unchanged(session, block, call, message):
    before = (session.history, session.bodies[block], session.document.undo_text)
    with pytest.raises((OperationError, LookupError)) as err:
        call(session, block)
    assert message in str(err.value)
    assert (session.history, session.bodies[block], session.document.undo_text) == before
