"""Figures the evaluation reports: changed-region IoU and parameter errors against the truth."""

from __future__ import annotations

import math

import pytest

from sketchforge.modeling.session import Session
from sketchforge.neural.cad.metrics import changed_iou, distance_error, sign_of, volume_iou


def _extruded(distance: float):
    s = Session()
    s.box((60.0, 40.0, 20.0))
    before = s.solid("body1")
    op = s.operations.get("extrude").from_params({"body": "body1", "face": s.face_ref("body1", "top"),
                                                  "distance": distance})
    return before, op, op.apply(s.document.state).solid("body1")


def test_changed_region_iou_sees_what_whole_part_iou_forgives():
    before, op4, four = _extruded(4.0)
    _, op2, two = _extruded(2.0)
    _, op_in, pulled = _extruded(-2.0)
    assert changed_iou(before, four, four) == 1.0
    assert changed_iou(before, four, two) == pytest.approx(0.5, abs=0.02)  # 2 mm of the 4 mm slab
    assert changed_iou(before, four, pulled) == pytest.approx(0.0, abs=0.01)  # removed instead of added
    assert volume_iou(four, two) > 0.9  # the whole part barely notices
    assert distance_error(op2, op4, before) == pytest.approx(0.5)
    assert sign_of(op4) == 1 and sign_of(op_in) == -1


def test_sizes_of_different_kinds_are_not_compared():
    s = Session()
    s.box((60.0, 40.0, 20.0))
    before = s.solid("body1")
    ext = s.operations.get("extrude").from_params({"body": "body1", "face": s.face_ref("body1", "top"),
                                                   "distance": 3.0})
    add = s.operations.get("add").from_params({"body": "body1", "face": s.face_ref("body1", "top"),
                                               "polygon": [[-5, -5], [5, -5], [5, 5], [-5, 5]], "distance": 3.0})
    sub = s.operations.get("subtract").from_params({**add.params(), "distance": 6.0})
    assert math.isnan(distance_error(ext, add, before))
    assert distance_error(sub, add, before) == pytest.approx(1.0)  # add vs subtract: only the sign differs
    assert sign_of(add) == 1 and sign_of(sub) == -1
