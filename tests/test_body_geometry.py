"""The geometry a solid body answers for the rest of the house (outlines, polylines, normals,
distances, booleans), without anyone outside `modeling.occ` touching the kernel."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sketchforge.modeling.bodies import SolidBody


def _face(session, body: str, name: str) -> int:
    return session.face_index(body, name)


def test_the_top_face_outline_is_the_boxs_rectangle(session, block):
    body = session.bodies[block]
    wires = body.face_outline(_face(session, block, "top"))
    assert len(wires) == 1
    outer = wires[0]
    assert outer.shape == (4, 3)
    assert np.allclose(outer[:, 2], 20.0)
    assert sorted(map(tuple, np.round(outer[:, :2], 6))) == [(-30, -20), (-30, 20), (30, -20), (30, 20)]


def test_a_pocket_gives_the_face_a_hole(session, block):
    session.subtract(block, "top", [(-5, -5), (5, -5), (5, 5), (-5, 5)], 4.0)
    wires = session.bodies[block].face_outline(_face(session, block, "top"))
    assert len(wires) == 2 and len(wires[1]) == 4


def test_an_edge_polyline_runs_between_its_ends(session, block):
    body = session.bodies[block]
    edge = body.edges[0]
    poly = body.edge_polyline(edge.index)
    assert np.linalg.norm(poly[-1] - poly[0]) == pytest.approx(edge.length)
    name = session.cylinder(5.0, 10.0, origin=(100.0, 0.0, 0.0))
    circle = session.bodies[name]
    rim = next(e for e in circle.edges if e.curve == "circle")
    ring = circle.edge_polyline(rim.index)
    assert np.allclose(ring[0], ring[-1]) and np.allclose(np.linalg.norm(ring[:, :2] - (100.0, 0.0), axis=1), 5.0)


def test_normals_point_out_of_flat_and_curved_faces(session):
    name = session.cylinder(5.0, 10.0)
    body = session.bodies[name]
    side = next(f for f in body.faces if f.surface == "cylinder")
    pts = np.array([[5.0, 0.0, 3.0], [0.0, -5.0, 7.0]])
    assert body.face_normals(side.index, pts) == pytest.approx(np.array([[1.0, 0, 0], [0, -1.0, 0]]), abs=1e-9)
    top = session.face_index(name, "top")
    assert body.face_normals(top, np.array([1.0, 1.0, 10.0])) == pytest.approx([0, 0, 1.0])


def test_distance_containment_and_a_point_inside_a_face(session, block):
    body = session.bodies[block]
    top = _face(session, block, "top")
    assert body.face_distance(top, (0.0, 0.0, 25.0)) == pytest.approx(5.0)
    assert body.face_distance(top, (40.0, 0.0, 20.0)) == pytest.approx(10.0)
    assert body.face_contains(top, (29.0, 19.0, 20.0), 1e-6)
    assert not body.face_contains(top, (31.0, 0.0, 20.0), 1e-6)
    p = body.face_interior_point(top)
    assert p.shape == (3,) and body.face_contains(top, p, 1e-6)


def test_booleans_give_bodies_or_nothing(session, block):
    name = session.box((10.0, 10.0, 10.0), origin=(0.0, 0.0, 15.0))  # half of it stands above the block
    body, small = session.bodies[block], session.bodies[name]
    rest = body.cut(small)
    assert isinstance(rest, SolidBody) and rest.volume == pytest.approx(48000 - 500)
    assert small.cut(small) is None
    assert body.fuse(small).volume == pytest.approx(48000 + 500)
    assert math.isclose(small.cut(body).volume, 500)
