"""The sample model: a bracket built through the Session with all four sketch operations."""

from __future__ import annotations

from .operations import ArcPath, Circle, LinePath, Polygon
from .session import Session


def build_demo(session: Session) -> str:
    """Build the demo bracket in `session`; returns the body's name."""
    b = session.box((80.0, 50.0, 16.0))
    session.extrude(b, "top", 6.0)                                                  # face extrusion
    session.add(b, "top", [(-34, -19), (-10, -19), (-10, 19), (-34, 19)], 20.0)     # add a block
    session.subtract(b, (20.0, 0.0, 22.0), [(8, -12), (30, -12), (30, 12), (8, 12)], 12.0)      # cut a pocket
    session.bevel(b, (-10.0, 0.0, 42.0), 4.0, 4.0)                                  # chamfer the block's edge
    session.bevel(b, (40.0, 25.0, 11.0), 6.0, style="fillet")                       # round a corner
    session.sweep(b, "-y", Circle((-22, 11), 5.0), ArcPath(18.0, 90.0, 0.0))         # a curved handle
    session.sweep(b, "+x", Polygon(((-6, 4), (6, 4), (6, 12), (-6, 12))),           # a slanted slot
                  LinePath(10.0, 20.0, 90.0), mode="subtract")
    return b
