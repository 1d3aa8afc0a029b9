"""Property-based: random operation sequences apply or fail cleanly, and every save reloads equal."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sketchforge.modeling.operations import ArcPath, Circle, LinePath, OperationError, Polygon
from sketchforge.modeling.refs import ReferenceError
from sketchforge.modeling.session import Session

DIRS = ["+x", "-x", "+y", "-y", "+z", "-z"]
coord = st.floats(-30, 30)
dist = st.floats(-40, 40).filter(lambda d: abs(d) > 0.01)


@st.composite
def polygons(draw):
    cx, cy = draw(coord), draw(coord)
    w, h = draw(st.floats(0.5, 25)), draw(st.floats(0.5, 25))
    if draw(st.booleans()):
        return [(cx, cy), (cx + w, cy), (cx + w, cy + h), (cx, cy + h)]
    return [(cx, cy), (cx + w, cy), (cx + w / 2, cy + h)]


@st.composite
def steps(draw):
    kind = draw(st.sampled_from(["extrude", "add", "subtract", "bevel", "sweep"]))
    face = draw(st.sampled_from(DIRS))
    if kind == "extrude":
        return ("extrude", face, draw(dist))
    if kind in ("add", "subtract"):
        return (kind, face, draw(polygons()), draw(st.floats(0.5, 30)))
    if kind == "bevel":
        return ("bevel", (draw(coord), draw(coord), draw(st.floats(0, 30))), draw(st.floats(0.2, 8)),
                draw(st.floats(0.2, 8)), draw(st.sampled_from(["chamfer", "fillet"])))
    profile = Circle((draw(coord), draw(coord)), draw(st.floats(0.5, 8))) if draw(st.booleans()) \
        else Polygon(tuple(draw(polygons())))
    path = LinePath(draw(st.floats(1, 30)), draw(st.floats(0, 60)), draw(st.floats(0, 360))) \
        if draw(st.booleans()) else ArcPath(draw(st.floats(3, 40)), draw(st.floats(10, 180)), draw(st.floats(0, 360)))
    return ("sweep", face, profile, path, draw(st.sampled_from(["add", "subtract"])))


def run_step(s: Session, step) -> None:
    kind = step[0]
    if kind == "extrude":
        s.extrude("body1", step[1], step[2])
    elif kind in ("add", "subtract"):
        getattr(s, kind)("body1", step[1], step[2], step[3])
    elif kind == "bevel":
        d2 = step[2] if step[4] == "fillet" else step[3]
        s.bevel("body1", step[1], step[2], d2, style=step[4])
    else:
        s.sweep("body1", step[1], step[2], step[3], mode=step[4])


def state_of(s: Session):
    return (s.history, dict(s.bodies), s.document.undo_text)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps(), min_size=1, max_size=6))
def test_random_sequences_apply_or_leave_the_document_unchanged(sequence):
    s = Session()
    s.box((60.0, 40.0, 20.0))
    for step in sequence:
        before = state_of(s)
        try:
            run_step(s, step)
        except (OperationError, ReferenceError) as exc:
            assert str(exc)  # a reason the user can read
            assert state_of(s) == before
        else:
            body = s.bodies["body1"]
            assert body.volume > 0 and len(s.history) == len(before[0]) + 1
    with tempfile.TemporaryDirectory() as tmp:
        path = s.save(Path(tmp) / "prop.sketchforge")
        t = Session()
        t.open(path)
    assert [op.to_json() for op in t.history] == [op.to_json() for op in s.history]
    for name, body in s.bodies.items():
        again = t.bodies[name]
        assert abs(again.volume - body.volume) <= 1e-6 * body.volume
        assert len(again.faces) == len(body.faces)
