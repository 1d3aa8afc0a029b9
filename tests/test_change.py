"""What a proposal changes, as the ghost preview shows it: the material added and the material removed."""

from __future__ import annotations

import numpy as np
import pytest

from sketchforge.modeling.bodies import MeshBody, PointCloudBody
from sketchforge.modeling.change import Change, change_between, changes
from sketchforge.modeling.operations import ModelState

POCKET = [(-20.0, -10.0), (0.0, -10.0), (0.0, 10.0), (-20.0, 10.0)]  # 20 x 20 on the top face


def _state_after(session, step) -> ModelState:
    """The document state after `step(session)`, with the document put back as it was."""
    step(session)
    state = session.document.state
    session.undo()
    return state


def test_extruding_a_face_outward_adds_the_slab_and_removes_nothing(session, block):
    before = session.document.state
    after = _state_after(session, lambda s: s.extrude(block, "top", 10.0))
    change = change_between(before.bodies[block], after.bodies[block])
    assert change.removed is None
    assert change.added.volume == pytest.approx(60 * 40 * 10)
    lo, hi = change.added.bounds()
    assert lo[2] == pytest.approx(20.0, abs=1e-6) and hi[2] == pytest.approx(30.0, abs=1e-6)


def test_pulling_a_face_in_removes_a_slab_and_adds_nothing(session, block):
    before = session.document.state
    after = _state_after(session, lambda s: s.extrude(block, "+x", -15.0))
    change = change_between(before.bodies[block], after.bodies[block])
    assert change.added is None
    assert change.removed.volume == pytest.approx(15 * 40 * 20)
    assert change.removed.bounds()[0][0] == pytest.approx(15.0, abs=1e-6)


def test_a_subtract_removes_exactly_the_pocket(session, block):
    before = session.document.state
    after = _state_after(session, lambda s: s.subtract(block, "top", POCKET, 8.0))
    change = change_between(before.bodies[block], after.bodies[block])
    assert change.added is None
    assert change.removed.volume == pytest.approx(20 * 20 * 8)
    lo, hi = change.removed.bounds()
    assert lo[2] == pytest.approx(12.0, abs=1e-6) and hi[2] == pytest.approx(20.0, abs=1e-6)


def test_a_prism_added_beside_a_pocket_shows_only_the_prism(session, block):
    session.subtract(block, "top", POCKET, 8.0)
    before = session.document.state
    after = _state_after(session, lambda s: s.add(block, "top", [(5, -5), (15, -5), (15, 5), (5, 5)], 6.0))
    change = change_between(before.bodies[block], after.bodies[block])
    assert change.removed is None and change.added.volume == pytest.approx(10 * 10 * 6)


def test_a_new_body_is_all_added_and_unchanged_bodies_are_left_out(session, block):
    before = session.document.state
    other = session.box((10.0, 10.0, 10.0), origin=(100.0, 0.0, 0.0))
    after = session.document.state
    found = changes(before.bodies, after.bodies)
    assert list(found) == [other]
    assert found[other].added is after.bodies[other] and found[other].removed is None
    assert changes(after.bodies, after.bodies) == {}


def test_a_deleted_body_is_all_removed(session, block):
    body = session.bodies[block]
    assert changes({block: body}, {}) == {block: Change(None, body)}


def test_meshes_and_point_clouds_change_as_whole_bodies():
    tri = np.array([[0, 1, 2]])
    old = MeshBody(np.eye(3), tri)
    new = MeshBody(np.eye(3) * 2.0, tri)
    assert change_between(old, new) == Change(new, old)
    assert change_between(old, old).empty
    cloud = PointCloudBody(np.zeros((4, 3)))
    assert change_between(None, cloud) == Change(cloud, None)
