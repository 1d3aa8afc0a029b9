"""The sketch state out of the widgets: what the console and scripts see and drive of a drawing."""

from __future__ import annotations

import numpy as np
import pytest

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.session import Session
from sketchforge.modeling.sketch import Sketch, SketchError
from sketchforge.modeling.sketchstate import SketchState


def test_strokes_are_drawn_taken_back_and_replaced_with_events():
    state = SketchState()
    seen = []
    state.changed.connect(seen.append)
    s1 = state.add_stroke([[0, 0], [10, 0], [10, 10]])
    state.add_stroke([[5, 5], [6, 9]], kind="ridge")
    assert len(state) == 2 and state.strokes[0] is s1 and state.strokes[1].kind == "ridge"
    assert s1.points.shape == (3, 4) and np.allclose(s1.points[:, 2], 1.0)  # pressure 1 when not given
    assert seen == ["strokes", "strokes"]
    revision = state.revision
    assert state.undo_stroke() and len(state) == 1 and state.revision > revision
    state.add_stroke([[1, 1], [2, 2]])
    state.replace_strokes([0], [[[0, 0], [3, 3]], [[4, 4], [5, 5]]])
    assert [len(s.points) for s in state.strokes] == [2, 2, 2]
    state.remove_stroke(1)
    assert len(state) == 2
    with pytest.raises(IndexError, match="the sketch has 2"):
        state.remove_stroke(5)
    with pytest.raises(SketchError, match="NaN"):
        state.add_stroke([[0, 0], [np.nan, 1]])
    with pytest.raises(SketchError, match="points"):
        state.add_stroke([1, 2, 3])
    assert len(state) == 2  # refused strokes change nothing
    state.clear()
    assert len(state) == 0 and not state.undo_stroke()


def test_the_sketch_is_what_was_drawn_in_the_view_it_was_drawn_in(tmp_path):
    state = SketchState()
    cam = Camera(eye=(0, -300, 0), target=(0, 0, 0), up=(0, 0, 1))
    state.set_view(cam, 640, 480)
    state.mode = "face"
    state.prompt = "  a smiling troll  "
    state.add_stroke([[100, 100, 0.5, 0], [200, 120, 0.7, 16]])
    sketch = state.to_sketch()
    assert (sketch.camera, sketch.width, sketch.height, sketch.mode) == (cam, 640, 480, "face")
    assert sketch.prompt == "a smiling troll" and len(sketch.strokes) == 1
    path = tmp_path / "s.sketch.json"
    sketch.save(path)
    other = SketchState()
    other.load(Sketch.load(path))
    assert other.to_sketch().to_json() == sketch.to_json()


def test_strokes_wait_in_their_view_while_the_user_looks_around():
    state = SketchState()
    front = Camera(eye=(0, -300, 0), target=(0, 0, 0), up=(0, 0, 1))
    side = Camera(eye=(300, 0, 0), target=(0, 0, 0), up=(0, 0, 1))
    state.set_view(front, 400, 400)
    state.add_stroke([[10, 10], [50, 50]])
    assert state.park() and not state.strokes and state.parked[0].camera == front
    state.set_view(side, 400, 400)
    assert not state.park()  # nothing drawn in this view
    assert state.restore() and len(state.strokes) == 1 and state.view.camera == front
    assert not state.parked


def test_the_console_drives_a_drawing_through_the_session():
    s = Session()
    s.box((60, 40, 20))
    s.sketch.set_view(Camera.looking_at((0, 0, 10), 200, -60, 30), 640, 480)
    s.sketch.add_stroke([[5.0, 5.0], [60.0, 8.0]])  # in the sky: nothing there
    result = s.interpret()
    assert not result.proposals and result.hint
    assert s.sketch.current is None
    with pytest.raises(Exception, match="no proposal to accept"):
        s.accept()
    assert len(s.history) == 1
    # a new mode drops the proposals read in the old one
    s.sketch.offer(result)
    s.sketch.mode = "face"
    assert s.sketch.interpretation is None
